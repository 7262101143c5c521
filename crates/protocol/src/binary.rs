//! The fixed header in front of every binary WebSocket frame.
//!
//! ```text
//! offset size field
//!  0     1    kind      1 = screen update, 2 = file chunk, 3 = browser image frame
//!  1     1    flags     bit 0 = last part (of a screen update / of a file)
//!  2     2    reserved  0
//!  4     4    id        u32 BE: transfer id (files) or stream id (screen)
//!  8     8    session   u64 BE: session id (technician links), 0 on customer links
//! 16     8    seq       u64 BE: frame number (screen) or byte offset (files)
//! 24     ..   payload
//! ```

use crate::ProtocolError;

/// Set on the last part of a multi-part screen update, and on a file's last chunk.
pub const FLAG_LAST: u8 = 0b0000_0001;

/// What a binary frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryKind {
    /// Encoded screen update (see the codec crate), customer → technician.
    ScreenUpdate = 1,
    /// A slice of a file being sent, customer → technician.
    FileChunk = 2,
    /// A whole JPEG/WebP image of a browser screen share, web chat → technician.
    ImageFrame = 3,
}

impl TryFrom<u8> for BinaryKind {
    type Error = ProtocolError;
    fn try_from(v: u8) -> Result<Self, ProtocolError> {
        match v {
            1 => Ok(Self::ScreenUpdate),
            2 => Ok(Self::FileChunk),
            3 => Ok(Self::ImageFrame),
            other => Err(ProtocolError::UnknownKind(other)),
        }
    }
}

/// Header of a binary frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinaryHeader {
    pub kind: BinaryKind,
    pub flags: u8,
    pub id: u32,
    pub session: u64,
    pub seq: u64,
}

impl BinaryHeader {
    /// Header length in bytes.
    pub const LEN: usize = 24;

    /// Write the header followed by `payload` into one frame buffer.
    pub fn frame(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN + payload.len());
        out.push(self.kind as u8);
        out.push(self.flags);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.session.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    /// Split a binary frame into header and payload.
    pub fn parse(frame: &[u8]) -> Result<(Self, &[u8]), ProtocolError> {
        if frame.len() > crate::MAX_BINARY_BYTES {
            return Err(ProtocolError::TooLarge {
                size: frame.len(),
                limit: crate::MAX_BINARY_BYTES,
            });
        }
        let (head, payload) = frame
            .split_at_checked(Self::LEN)
            .ok_or(ProtocolError::ShortBinary(Self::LEN))?;
        let kind = BinaryKind::try_from(head[0])?;
        let u32_at =
            |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let u64_at = |i: usize| (u64::from(u32_at(i)) << 32) | u64::from(u32_at(i + 4));
        Ok((
            Self {
                kind,
                flags: head[1],
                id: u32_at(4),
                session: u64_at(8),
                seq: u64_at(16),
            },
            payload,
        ))
    }

    /// Rewrite the session field of an encoded frame in place (the relay
    /// does this when it forwards a customer's frame to a technician).
    pub fn set_session(frame: &mut [u8], session: u64) -> Result<(), ProtocolError> {
        let field = frame
            .get_mut(8..16)
            .ok_or(ProtocolError::ShortBinary(Self::LEN))?;
        field.copy_from_slice(&session.to_be_bytes());
        Ok(())
    }

    pub fn is_last(&self) -> bool {
        self.flags & FLAG_LAST != 0
    }
}
