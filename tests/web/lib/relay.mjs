// Start the real relay binary for a test run: temp data dir, a site
// config, a technician account, listening on 127.0.0.1:0. Reads the two
// lines it prints (`listening on https://HOST:PORT`,
// `certificate sha256 HEX`).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fetchPinnedCert } from './pin.mjs';

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..');

export function relayBinary() {
  if (process.env.LOTSE_RELAY_BIN) return process.env.LOTSE_RELAY_BIN;
  const target = process.env.CARGO_TARGET_DIR
    ? path.resolve(REPO, process.env.CARGO_TARGET_DIR) : path.join(REPO, 'target');
  return path.join(target, 'debug', 'lotse-relay');
}

export const TECH_USER = 'anna';
export const TECH_PASSWORD = 'correct horse battery staple';

// Site texts the tests expect to see (hostile markup on purpose: it must
// show as text).
export const SITE = {
  name: 'Beispiel <b>GmbH</b>',
  recordingPrompt: 'May we record this session for quality purposes?',
  greeting: 'You are number {position} in the queue, about {wait} minutes to wait.',
  hold: 'Thank you for waiting <i>patiently</i>.',
  survey: 'How satisfied were you with the help you got?',
  notice: { id: 'outage', text: 'Our <script>e-mail</script> service is down; we are working on it.' },
  noTechnician: 'No technician is available right now. <a href="https://evil.example">Click</a>',
  noTechnicianUrl: 'https://support.example/kb',
};

const q = (s) => JSON.stringify(s);

// DIR/relay.toml as crates/relay/src/config.rs reads it.
// The program /download/<os> hands out (a stand-in for the client: the
// relay stamps whatever file it is given).
export const FAKE_CLIENT = Buffer.from('#!/bin/sh\necho "stand-in for the lotse client"\n');

function writeConfig(dir, clickToChat) {
  const client = path.join(dir, 'lotse-linux');
  fs.writeFileSync(client, FAKE_CLIENT, { mode: 0o755 });
  const toml = [
    `site_name = ${q(SITE.name)}`,
    `click_to_chat = ${clickToChat}`,
    'hold_interval_secs = 2',
    'watermark = false',
    `web_dir = ${q(path.join(REPO, 'assets', 'web'))}`,
    `no_technician_url = ${q(SITE.noTechnicianUrl)}`,
    '',
    '[texts.en]',
    'agreement = ""',
    `recording_prompt = ${q(SITE.recordingPrompt)}`,
    `greeting = ${q(SITE.greeting)}`,
    `hold = ${q(SITE.hold)}`,
    `survey = ${q(SITE.survey)}`,
    `no_technician = ${q(SITE.noTechnician)}`,
    '',
    '[[notices]]',
    `id = ${q(SITE.notice.id)}`,
    `text = { en = ${q(SITE.notice.text)} }`,
    '',
    '[downloads]',
    `linux = ${q(client)}`,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'relay.toml'), toml);
}

function addUser(bin, dir) {
  const r = spawnSync(bin, ['--data-dir', dir, 'user', 'add', TECH_USER], {
    input: TECH_PASSWORD + '\n',
    encoding: 'utf8',
    timeout: 30000,
  });
  if (r.status !== 0) throw new Error(`user add failed (${r.status}): ${r.stderr}`);
}

export async function startRelay({ clickToChat = true } = {}) {
  if (process.env.LOTSE_WEB_BASE) {
    // A relay someone already started (debugging): plain base URL, no pin.
    return { base: process.env.LOTSE_WEB_BASE, cert: null, stop: async () => {} };
  }
  const bin = relayBinary();
  if (!fs.existsSync(bin)) throw new Error(`${bin} not found: run cargo build -p lotse-relay first`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lotse-web-relay-'));
  writeConfig(dir, clickToChat);
  addUser(bin, dir);
  const child = spawn(bin, ['--data-dir', dir, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d.toString()).slice(-8000); });
  const { base, pin } = await new Promise((resolve, reject) => {
    let out = '';
    let base = null;
    let pin = null;
    const timer = setTimeout(() => reject(new Error(`relay did not start in time; stderr: ${stderr}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d.toString();
      const l = out.match(/listening on (https:\/\/\S+)/);
      const c = out.match(/certificate sha256 ([0-9a-fA-F]{64})/);
      if (l) base = l[1];
      if (c) pin = c[1];
      if (base && pin) { clearTimeout(timer); resolve({ base, pin }); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`relay exited with ${code}; stderr: ${stderr}`)); });
  });
  const u = new URL(base);
  const cert = await fetchPinnedCert(u.hostname, Number(u.port), pin);
  return {
    base,
    cert,
    dir,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
