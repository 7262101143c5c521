//! Wire constants and the byte reader/writer shared by encoder and decoder.
//! The layout is described in `crates/codec/FORMAT.md`.

use crate::DecodeError;

/// First byte of every update.
pub const MAGIC: u8 = 0xC5;
/// Longest header: magic, mode, body length as a 5-byte LEB128 varint.
pub const MAX_HEADER_LEN: usize = 7;

/// Mode bits 0-1: the compression (`COMP_*`).
pub const MODE_COMP: u8 = 0b0000_0011;
/// Mode bit 2: keyframe. Resets the compression stream, colour table and
/// tile cache; the body starts with a `SIZE` op.
pub const MODE_KEY: u8 = 0b0000_0100;

/// Body stored as is (independent of every other update).
pub const COMP_STORED: u8 = 0;
/// Body is the next piece of one zstd stream that started at the last keyframe.
pub const COMP_ZSTD_STREAM: u8 = 1;
/// Body is LZ4 block data using the previous 64 KiB of bodies as dictionary.
pub const COMP_LZ4_STREAM: u8 = 2;
/// Body is one complete zstd frame (independent of every other update).
pub const COMP_ZSTD_ONESHOT: u8 = 3;

pub const OP_SIZE: u8 = 0x01;
pub const OP_COPY: u8 = 0x02;
pub const OP_FILL: u8 = 0x03;
pub const OP_PIXELS: u8 = 0x04;
pub const OP_CACHE_STORE: u8 = 0x05;
pub const OP_CACHE_LOAD: u8 = 0x06;
pub const OP_CURSOR_SHAPE: u8 = 0x07;
pub const OP_CURSOR_POS: u8 = 0x08;
/// Store a small rectangle of the screen into the tile cache (see FORMAT.md).
pub const OP_CACHE_RECT: u8 = 0x09;

/// `PIXELS` encoding: packed RGB, 3 bytes per pixel.
pub const PIX_RAW: u8 = 0;
/// `PIXELS` encoding: indices into the colour table kept between keyframes.
pub const PIX_TABLE: u8 = 1;
/// `TABLE` flag: empty the colour table before adding this op's colours.
pub const TABLE_CLEAR: u8 = 0b01;
/// `TABLE` flag: indices are written column by column (else row by row).
pub const TABLE_COLUMNS: u8 = 0b10;
/// Colour table capacity.
pub const TABLE_SIZE: usize = 256;

/// Largest width or height of a screen.
pub const MAX_DIM: u32 = 16_384;
/// Largest number of pixels of a screen (an 8K screen fits).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Largest (uncompressed) body of one update.
pub const MAX_BODY: usize = 160 * 1024 * 1024;
/// Number of tile cache slots a decoder keeps at most.
pub const MAX_SLOTS: u16 = 1024;
/// Smallest and largest tile edge (the tile is the cache's unit).
pub const MIN_TILE: u32 = 8;
pub const MAX_TILE: u32 = 64;
/// Largest cursor width or height.
pub const MAX_CURSOR_DIM: u32 = 256;
/// Size of the LZ4 dictionary window (the last bytes of previous bodies).
pub const LZ4_WINDOW: usize = 64 * 1024;
/// zstd window (log2): how far back a match may reach, and the decoder's cap.
pub const ZSTD_WINDOW_LOG: u32 = 23;

/// Write an update header.
pub fn put_header(out: &mut Vec<u8>, key: bool, comp: u8, body_len: usize) {
    out.push(MAGIC);
    out.push((comp & MODE_COMP) | if key { MODE_KEY } else { 0 });
    let mut v = body_len;
    loop {
        let byte = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
}

/// A parsed update header.
pub struct Header {
    pub key: bool,
    pub comp: u8,
    pub body_len: usize,
    /// Where the payload starts.
    pub len: usize,
}

/// Read an update header (magic, mode, varint body length).
pub fn parse_header(update: &[u8]) -> Result<Header, DecodeError> {
    let mut r = Reader::new(update);
    if r.u8()? != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let mode = r.u8()?;
    if mode & !(MODE_COMP | MODE_KEY) != 0 {
        return Err(DecodeError::BadMagic);
    }
    let mut body_len = 0usize;
    for i in 0..5 {
        let b = r.u8()?;
        body_len |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            if body_len > MAX_BODY {
                return Err(DecodeError::TooLarge);
            }
            return Ok(Header {
                key: mode & MODE_KEY != 0,
                comp: mode & MODE_COMP,
                body_len,
                len: 2 + i + 1,
            });
        }
    }
    Err(DecodeError::TooLarge)
}

/// The `COPY` op on a packed 4-byte-per-pixel buffer `width` pixels wide:
/// `src` goes to `(dst_x, dst_y)` as if through a temporary buffer. Both
/// rectangles must lie inside the buffer (the caller checks). Encoder and
/// decoder share this so their framebuffers stay identical.
pub fn copy_rect(buf: &mut [u8], width: usize, src: crate::Rect, dst_x: u32, dst_y: u32) {
    let stride = width * 4;
    let row_bytes = src.w as usize * 4;
    let mut row = |i: u32| {
        let s = (src.y + i) as usize * stride + src.x as usize * 4;
        let d = (dst_y + i) as usize * stride + dst_x as usize * 4;
        buf.copy_within(s..s + row_bytes, d);
    };
    if dst_y > src.y {
        (0..src.h).rev().for_each(&mut row);
    } else {
        (0..src.h).for_each(&mut row);
    }
}

/// Little-endian writer helpers on a `Vec<u8>`.
pub trait Put {
    fn u8(&mut self, v: u8);
    fn u16(&mut self, v: u16);
    fn i32(&mut self, v: i32);
}

impl Put for Vec<u8> {
    fn u8(&mut self, v: u8) {
        self.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
}

/// Bounds-checked little-endian reader.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        let b = self.bytes(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A rectangle: x, y, w, h as u16 each.
    pub fn rect(&mut self) -> Result<crate::Rect, DecodeError> {
        Ok(crate::Rect {
            x: u32::from(self.u16()?),
            y: u32::from(self.u16()?),
            w: u32::from(self.u16()?),
            h: u32::from(self.u16()?),
        })
    }
}
