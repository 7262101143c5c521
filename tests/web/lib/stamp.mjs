// Reads the stamp the relay appends to a client download
// (crates/protocol/src/stamp.rs):
// [payload JSON][len u32 LE][sha256(payload) 32 bytes][MAGIC 16 bytes]
import crypto from 'node:crypto';

const MAGIC = Buffer.from('LOTSE-STAMP-v1\0\0', 'latin1');

export function readStamp(file) {
  const trailer = 4 + 32 + MAGIC.length;
  if (file.length < trailer) throw new Error('file too short for a stamp');
  const magic = file.subarray(file.length - MAGIC.length);
  if (!magic.equals(MAGIC)) throw new Error('no stamp magic at the end of the file');
  const digest = file.subarray(file.length - MAGIC.length - 32, file.length - MAGIC.length);
  const len = file.readUInt32LE(file.length - trailer);
  const start = file.length - trailer - len;
  if (start < 0) throw new Error('stamp length larger than the file');
  const payload = file.subarray(start, start + len);
  if (!crypto.createHash('sha256').update(payload).digest().equals(digest)) {
    throw new Error('stamp digest does not match its payload');
  }
  return { program: file.subarray(0, start), stamp: JSON.parse(payload.toString('utf8')) };
}
