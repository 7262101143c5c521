//! The Lotse wire protocol: every message exchanged between a customer
//! (full client or web chat), the relay and a technician console.
//!
//! * Control messages are JSON objects in WebSocket **text** frames, shaped
//!   as an [`Envelope`]: `{"type": "...", "seq": 7, "session": 3, ...}`.
//!   The browser web chat speaks them with plain JavaScript.
//! * Bulk data (screen updates, file chunks, browser frames) travels in
//!   WebSocket **binary** frames: a fixed [`BinaryHeader`] of
//!   [`BinaryHeader::LEN`] bytes followed by the payload.
//!
//! The first text frame on every link is [`Message::Hello`]; a peer whose
//! `version` differs from [`PROTOCOL_VERSION`] gets an
//! [`ErrorCode::VersionMismatch`] error and the link closes.
//!
//! This crate depends on no other Lotse crate; every other crate depends on
//! it. `docs/PROTOCOL.md` documents each message with an example and must be
//! kept in step with this file.

mod binary;
pub mod limits;
mod message;
pub mod stamp;

pub use binary::{BinaryHeader, BinaryKind, FLAG_LAST};
pub use message::*;
use serde::Deserialize as _;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest JSON text frame anyone may send (64 KiB). Larger → close 1009.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Largest binary frame (header + payload) anyone may send.
pub const MAX_BINARY_BYTES: usize = 2 * 1024 * 1024;
/// File chunks are at most this big (payload only).
pub const FILE_CHUNK_BYTES: usize = limits::FILE_CHUNK_BYTES;
/// Largest technician avatar image (raw bytes before base64).
pub const MAX_AVATAR_BYTES: usize = limits::AVATAR_BYTES;

/// WebSocket paths the relay serves.
pub mod paths {
    /// Full customer client. Query `?key=SESSIONKEY` or nothing (public queue).
    pub const CUSTOMER: &str = "/ws/customer";
    /// Browser web chat (Click-to-Chat). `Origin` must be the relay's own.
    pub const WEB: &str = "/ws/web";
    /// Technician login: exchanges user + password for a token.
    pub const LOGIN: &str = "/ws/login";
    /// Technician work link. Header `Authorization: Bearer TOKEN`.
    pub const TECHNICIAN: &str = "/ws/technician";
}

/// Errors decoding anything received from the wire.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("message is {size} bytes, more than the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("binary frame shorter than its {0}-byte header")]
    ShortBinary(usize),
    #[error("unknown binary frame kind {0}")]
    UnknownKind(u8),
}

/// Decode one JSON text frame, enforcing [`MAX_TEXT_BYTES`].
pub fn decode_text(text: &str) -> Result<Envelope, ProtocolError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(ProtocolError::TooLarge {
            size: text.len(),
            limit: MAX_TEXT_BYTES,
        });
    }
    // Decoded in two steps because three messages have fields named like
    // the envelope's own: `ack.seq`, `welcome.session`, `accept.session`
    // (and `session_started.session`, which equals the envelope's). With a
    // flattened envelope serde would hand those keys to the envelope only.
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    let msg = Message::deserialize(&value).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    let top = |key: &str| value.get(key).and_then(serde_json::Value::as_u64);
    let seq = match msg {
        Message::Ack { .. } => None,
        _ => top("seq"),
    };
    let session = match msg {
        Message::Welcome { .. } | Message::Accept { .. } => None,
        _ => top("session"),
    };
    Ok(Envelope { seq, session, msg })
}

/// The `seq` of a text frame that [`decode_text`] refused (too large, not a
/// known message, a missing field): its top-level integer `seq`, unless it
/// is an `ack` (whose `seq` is its own field). A receiver uses up and
/// acknowledges this `seq` like a message it took, and reports the refusal
/// (docs/PROTOCOL.md §5), so one bad message never holds up the ones after
/// it. None when the frame is not JSON or carries no `seq`.
pub fn numbered_seq(text: &str) -> Option<u64> {
    // Only the top level is needed; a frame over the limit is still parsed
    // (the WebSocket layer bounds it to MAX_BINARY_BYTES).
    #[derive(serde::Deserialize)]
    struct Top {
        #[serde(rename = "type")]
        kind: Option<serde_json::Value>,
        seq: Option<serde_json::Value>,
    }
    let top: Top = serde_json::from_str(text).ok()?;
    if top.kind.as_ref().and_then(serde_json::Value::as_str) == Some("ack") {
        return None;
    }
    top.seq.as_ref().and_then(serde_json::Value::as_u64)
}

/// Encode one envelope as a JSON text frame.
pub fn encode_text(envelope: &Envelope) -> String {
    // Serialising these plain data types cannot fail (no maps with
    // non-string keys, no custom serialisers that error).
    serde_json::to_string(envelope).unwrap_or_else(|e| {
        format!(r#"{{"type":"error","code":"internal","message":"encode failed: {e}"}}"#)
    })
}

#[cfg(test)]
mod tests;
