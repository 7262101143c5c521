//! Lossless desktop screen codec: the encoder runs in the customer's client,
//! the decoder in the technician's console.
//!
//! Pure computation: no IO, no X11, no threads. The client's capture hands
//! each screen frame ([`Frame`], BGRA as `scrap` delivers it) to
//! [`Encoder::encode`], which returns an *update* (`Vec<u8>`) or `None` when
//! nothing changed. The console feeds every update, in order, to
//! [`Decoder::apply`] and uploads the returned rectangles of
//! [`Decoder::rgba`] to its texture.
//!
//! # How it saves bytes
//! - Only changed screen areas travel: the frame is compared with the
//!   previous one tile by tile (64×64 by default), and a changed tile sends
//!   only the bounding box of its changed pixels.
//! - Vertical scrolling is found by matching row hashes between the previous
//!   and the new frame, per tile column; scrolled rows travel as `COPY`
//!   operations and only the newly exposed strip as pixels. Moves the caller
//!   knows of (a dragged window, from the window geometry) can be passed to
//!   [`Encoder::encode_hinted`]; they are checked on the pixels and sent as
//!   copies too.
//! - Neighbouring changed tiles of one tile row go as one rectangle (a text
//!   line stays whole). Pixels go as indices into a colour table both ends
//!   keep between keyframes, column by column, when a rectangle has at most
//!   256 colours (text: nearly always); as a fill when it has one; else RGB.
//!   With the table, the same glyph always becomes the same bytes.
//! - A content-addressed cache of recent tiles exists on both ends; the
//!   encoder chooses every slot explicitly, so the decoder needs no eviction
//!   logic of its own and both ends stay identical by construction. A tile
//!   the console already saw (a menu closed again, a window restored) is a
//!   7-byte reference; so is a small change seen before anywhere on the
//!   screen (a letter typed again: glyph plus text cursor), sent without
//!   compression as a 10-byte update.
//! - All update bodies between two keyframes form one zstd stream (level 3,
//!   8 MiB window), flushed after every update, so glyphs and words seen
//!   before compress to a few bytes.
//! - The pointer travels separately: [`Encoder::cursor_shape`] once per
//!   shape, [`Encoder::cursor_position`] on every move. Those updates stand
//!   alone (they do not take part in the stream), so a sender may drop
//!   stale pointer positions freely.
//!
//! # Ordering and transport
//! Screen updates build on each other: deliver all of them, in order, to one
//! decoder. A new viewer, or a viewer whose decoder reported an error, needs a
//! keyframe: call [`Encoder::reset`] on the sending side.
//!
//! An update can be larger than one WebSocket binary frame. [`split`] cuts it
//! into pieces of at most [`MAX_PIECE`] bytes; the receiver concatenates the
//! pieces of one update (the protocol's `FLAG_LAST` marks the last one) and
//! calls [`Decoder::apply`] once on the whole. Receivers should refuse to
//! collect more than [`MAX_UPDATE_BYTES`].
//!
//! The byte format is specified in `crates/codec/FORMAT.md`.
//!
//! **Invariant:** the decoder never panics and never writes out of bounds,
//! whatever bytes it is given. Tests: `cargo test -p lotse-codec` (round
//! trips and hostile bytes with proptest); fuzzing (nightly, cargo-fuzz):
//! `cd fuzz && cargo +nightly fuzz run decode -- -max_total_time=300`.
//! Benchmark on real xterm frames: `cargo bench -p lotse-codec --bench codec`.

mod compress;
mod decoder;
mod encoder;
mod format;

#[cfg(test)]
mod tests;

pub use compress::Compression;
pub use decoder::{CursorState, Decoder};
pub use encoder::{Encoder, EncoderConfig, EncoderStats, Move};

/// Largest piece [`split`] produces: 1.9 MiB, leaving room for the binary
/// frame header under the protocol's 2 MiB frame limit.
pub const MAX_PIECE: usize = 1_992_294;

/// Largest complete update a receiver needs to accept (an 8K keyframe of
/// noise, stored, fits).
pub const MAX_UPDATE_BYTES: usize = format::MAX_BODY + format::MAX_HEADER_LEN;

/// Whether `update` (or its first piece) is a keyframe: one a decoder can
/// start from. Looks at the first two bytes only; false for anything that
/// is not an update.
pub fn is_keyframe(update: &[u8]) -> bool {
    matches!(update, [format::MAGIC, mode, ..] if mode & format::MODE_KEY != 0)
}

/// One captured screen frame: BGRA, 4 bytes per pixel, rows `stride` bytes
/// apart. Decoded pixels have alpha 255 whatever the alpha byte says, but
/// change detection compares whole bytes: the alpha byte must not flicker
/// (X11 captures hold a constant 0 there).
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub bgra: &'a [u8],
}

/// A rectangle in framebuffer pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    pub fn new(x: u32, y: u32, w: u32, h: u32) -> Self {
        Self { x, y, w, h }
    }

    fn intersects(&self, o: &Rect) -> bool {
        self.x < o.x.saturating_add(o.w)
            && o.x < self.x.saturating_add(self.w)
            && self.y < o.y.saturating_add(o.h)
            && o.y < self.y.saturating_add(self.h)
    }
}

/// Why an update could not be applied. After any error the console should
/// ask for a keyframe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("screen update is truncated")]
    Truncated,
    #[error("not a screen update (bad magic byte)")]
    BadMagic,
    #[error("screen update uses unknown compression {0}")]
    UnknownCompression(u8),
    #[error("screen update is larger than allowed")]
    TooLarge,
    #[error("screen update body is corrupt")]
    Corrupt,
    #[error("screen update body has the wrong length")]
    BodyLength,
    #[error("screen update needs a keyframe first")]
    NeedKeyframe,
    #[error("keyframe does not start with the screen size")]
    MissingSize,
    #[error("screen size is invalid")]
    BadSize,
    #[error("screen update draws outside the screen")]
    OutOfBounds,
    #[error("screen update uses an invalid tile cache slot")]
    BadSlot,
    #[error("screen update has a palette index out of range")]
    BadPalette,
    #[error("screen update has unknown operation {0:#04x}")]
    UnknownOp(u8),
    #[error("screen update has unknown pixel encoding {0}")]
    UnknownPixelEncoding(u8),
}

/// Cut an update into wire pieces of at most [`MAX_PIECE`] bytes. The
/// receiver concatenates them in order and applies the whole.
pub fn split(update: &[u8]) -> impl Iterator<Item = &[u8]> {
    update.chunks(MAX_PIECE)
}
