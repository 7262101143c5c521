//! Body compression with history across updates.
//!
//! Screen updates are small and repetitive (the same glyphs, the same words),
//! so both streaming modes keep history from one update to the next, like
//! VNC's ZRLE keeps one zlib stream: zstd as one long stream flushed after
//! every update (8 MiB window), LZ4 with the previous 64 KiB of bodies as
//! dictionary. The history starts afresh at every keyframe.

use std::io;

use zstd::stream::raw::{CParameter, DParameter, InBuffer, Operation, OutBuffer};

use crate::DecodeError;
use crate::format::{
    COMP_LZ4_STREAM, COMP_STORED, COMP_ZSTD_ONESHOT, COMP_ZSTD_STREAM, LZ4_WINDOW, ZSTD_WINDOW_LOG,
};

/// How the encoder compresses update bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// No compression (for tests and measurements).
    None,
    /// One zstd stream per keyframe interval at this level (1 = fastest).
    Zstd(i32),
    /// LZ4 blocks with a 64 KiB dictionary of previous bodies.
    Lz4,
}

/// Encoder side of the body stream.
pub(crate) struct StreamEncoder {
    mode: Compression,
    zstd: Option<zstd::stream::raw::Encoder<'static>>,
    lz4_hist: Vec<u8>,
}

impl StreamEncoder {
    pub fn new(mode: Compression) -> Self {
        Self {
            mode,
            zstd: None,
            lz4_hist: Vec::new(),
        }
    }

    /// Start a new stream (before a keyframe).
    pub fn reset(&mut self) {
        self.zstd = None;
        self.lz4_hist.clear();
    }

    /// Compress `body`, appending to `out`. Returns the compression id written
    /// in the header. On an internal compressor error the body goes stored and
    /// the stream is reset (the caller then sends a keyframe next).
    pub fn compress(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<u8, u8> {
        match self.mode {
            Compression::None => {
                out.extend_from_slice(body);
                Ok(COMP_STORED)
            }
            Compression::Zstd(level) => {
                let start = out.len();
                match self.zstd_stream(level, body, out) {
                    Ok(()) => Ok(COMP_ZSTD_STREAM),
                    Err(_) => {
                        out.truncate(start);
                        out.extend_from_slice(body);
                        self.reset();
                        Err(COMP_STORED)
                    }
                }
            }
            Compression::Lz4 => {
                let packed = lz4_flex::block::compress_with_dict(body, &self.lz4_hist);
                out.extend_from_slice(&packed);
                push_history(&mut self.lz4_hist, body);
                Ok(COMP_LZ4_STREAM)
            }
        }
    }

    fn zstd_stream(&mut self, level: i32, body: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        if self.zstd.is_none() {
            let mut enc = zstd::stream::raw::Encoder::new(level)?;
            enc.set_parameter(CParameter::WindowLog(ZSTD_WINDOW_LOG))?;
            enc.set_parameter(CParameter::ChecksumFlag(false))?;
            enc.set_parameter(CParameter::ContentSizeFlag(false))?;
            self.zstd = Some(enc);
        }
        let Some(enc) = self.zstd.as_mut() else {
            return Err(io::Error::other("no zstd context"));
        };
        let mut input = InBuffer::around(body);
        loop {
            out.reserve(body.len() / 2 + 1024);
            let mut ob = OutBuffer::around_pos(out, out.len());
            enc.run(&mut input, &mut ob)?;
            if input.pos() >= body.len() {
                break;
            }
        }
        loop {
            out.reserve(1024);
            let mut ob = OutBuffer::around_pos(out, out.len());
            let remaining = enc.flush(&mut ob)?;
            if remaining == 0 {
                break;
            }
        }
        Ok(())
    }
}

/// One-shot zstd compression for updates that stand alone (cursor shapes).
pub(crate) fn oneshot(body: &[u8], out: &mut Vec<u8>) -> u8 {
    match zstd::bulk::compress(body, 3) {
        Ok(packed) if packed.len() < body.len() => {
            out.extend_from_slice(&packed);
            COMP_ZSTD_ONESHOT
        }
        _ => {
            out.extend_from_slice(body);
            COMP_STORED
        }
    }
}

fn push_history(hist: &mut Vec<u8>, body: &[u8]) {
    if body.len() >= LZ4_WINDOW {
        hist.clear();
        hist.extend_from_slice(&body[body.len() - LZ4_WINDOW..]);
    } else {
        let excess = (hist.len() + body.len()).saturating_sub(LZ4_WINDOW);
        hist.drain(..excess);
        hist.extend_from_slice(body);
    }
}

/// Decoder side of the body stream.
pub(crate) struct StreamDecoder {
    zstd: Option<zstd::stream::raw::Decoder<'static>>,
    lz4_hist: Vec<u8>,
    /// The streaming mode established by the last keyframe (None: not synced).
    mode: Option<u8>,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self {
            zstd: None,
            lz4_hist: Vec::new(),
            mode: None,
        }
    }

    /// Forget the stream: the next streamed update must be a keyframe.
    pub fn desync(&mut self) {
        self.mode = None;
        self.zstd = None;
        self.lz4_hist.clear();
    }

    /// Decompress one body of exactly `body_len` bytes.
    pub fn decompress(
        &mut self,
        comp: u8,
        key: bool,
        payload: &[u8],
        body_len: usize,
    ) -> Result<Vec<u8>, DecodeError> {
        match comp {
            COMP_STORED => {
                if payload.len() != body_len {
                    return Err(DecodeError::BodyLength);
                }
                Ok(payload.to_vec())
            }
            COMP_ZSTD_ONESHOT => {
                let mut dec =
                    zstd::stream::raw::Decoder::new().map_err(|_| DecodeError::Corrupt)?;
                dec.set_parameter(DParameter::WindowLogMax(ZSTD_WINDOW_LOG))
                    .map_err(|_| DecodeError::Corrupt)?;
                zstd_run(&mut dec, payload, body_len)
            }
            COMP_ZSTD_STREAM | COMP_LZ4_STREAM => {
                if key {
                    self.desync();
                    self.mode = Some(comp);
                } else if self.mode != Some(comp) {
                    return Err(DecodeError::NeedKeyframe);
                }
                if comp == COMP_ZSTD_STREAM {
                    if self.zstd.is_none() {
                        let mut dec =
                            zstd::stream::raw::Decoder::new().map_err(|_| DecodeError::Corrupt)?;
                        dec.set_parameter(DParameter::WindowLogMax(ZSTD_WINDOW_LOG))
                            .map_err(|_| DecodeError::Corrupt)?;
                        self.zstd = Some(dec);
                    }
                    let dec = self.zstd.as_mut().ok_or(DecodeError::Corrupt)?;
                    zstd_run(dec, payload, body_len)
                } else {
                    // LZ4 expands at most ~255:1; refuse lengths no payload
                    // this size could produce before allocating for them.
                    if body_len > payload.len().saturating_mul(255) + 64 {
                        return Err(DecodeError::BodyLength);
                    }
                    let mut body = vec![0u8; body_len];
                    let n = lz4_flex::block::decompress_into_with_dict(
                        payload,
                        &mut body,
                        &self.lz4_hist,
                    )
                    .map_err(|_| DecodeError::Corrupt)?;
                    if n != body_len {
                        return Err(DecodeError::BodyLength);
                    }
                    push_history(&mut self.lz4_hist, &body);
                    Ok(body)
                }
            }
            other => Err(DecodeError::UnknownCompression(other)),
        }
    }
}

fn zstd_run(
    dec: &mut zstd::stream::raw::Decoder<'static>,
    payload: &[u8],
    body_len: usize,
) -> Result<Vec<u8>, DecodeError> {
    // Grow the output as data arrives, so a lying length costs little; zstd
    // never writes past the capacity it is given.
    let mut body: Vec<u8> = Vec::with_capacity(body_len.min(1 << 20));
    let mut input = InBuffer::around(payload);
    loop {
        if body.len() == body.capacity() {
            if body.len() >= body_len {
                break;
            }
            let grow = (body_len - body.len()).min(body.capacity().max(1 << 20));
            body.reserve_exact(grow);
        }
        let (before_in, before_out) = (input.pos(), body.len());
        {
            let mut ob = OutBuffer::around_pos(&mut body, before_out);
            dec.run(&mut input, &mut ob)
                .map_err(|_| DecodeError::Corrupt)?;
        }
        let done_in = input.pos() >= payload.len();
        if done_in && body.len() < body.capacity() {
            break;
        }
        if input.pos() == before_in && body.len() == before_out {
            break;
        }
    }
    if body.len() != body_len || input.pos() != payload.len() {
        return Err(DecodeError::BodyLength);
    }
    Ok(body)
}
