//! The *stamp*: what the relay appends to each client download so the
//! client knows, without asking the customer, which relay to reach, which
//! certificate that relay must present, and which session it joins.
//!
//! Layout at the very end of the executable:
//!
//! ```text
//! [payload: UTF-8 JSON of Stamp][len: u32 LE][sha256(payload): 32 bytes][MAGIC: 16 bytes]
//! ```
//!
//! The SHA-256 detects any change to the payload locally. The `ticket`
//! inside is `KEY.EXPIRY.MAC` where MAC is the relay's HMAC-SHA256 over
//! `KEY.EXPIRY` with a secret only the relay knows; the client presents the
//! ticket when it connects (`/ws/customer?ticket=...`) and the relay
//! refuses a forged or expired one before the WebSocket upgrade.

use serde::{Deserialize, Serialize};

use crate::Lang;

/// Marks the end of a stamped executable.
pub const MAGIC: &[u8; 16] = b"LOTSE-STAMP-v1\0\0";
/// Largest stamp payload accepted.
pub const MAX_PAYLOAD: usize = 16 * 1024;
const TRAILER: usize = 4 + 32 + MAGIC.len();

/// What a download knows about its relay and session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// `wss://host:port` of the relay.
    pub relay_url: String,
    /// Lowercase hex SHA-256 of the relay certificate (DER) — the only
    /// certificate the client trusts.
    pub cert_sha256: String,
    /// Signed ticket `KEY.EXPIRY.MAC`; an empty KEY means the public queue.
    pub ticket: String,
    pub site_name: String,
    pub lang: Lang,
    /// Seconds since the Unix epoch after which the stamp is refused.
    pub expires_at: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StampError {
    #[error("this program carries no connection stamp; download it again from the support page")]
    Missing,
    #[error("the connection stamp of this program was altered or damaged; download it again")]
    Altered,
    #[error("this download has expired; download it again from the support page")]
    Expired,
}

/// Append `stamp` to `exe` (the relay does this per download).
pub fn append(exe: &mut Vec<u8>, stamp: &Stamp) {
    let payload = serde_json::to_vec(stamp).unwrap_or_default();
    let digest = sha256(&payload);
    exe.extend_from_slice(&payload);
    exe.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    exe.extend_from_slice(&digest);
    exe.extend_from_slice(MAGIC);
}

/// Read the stamp from the end of `file`, checking integrity and expiry
/// against `now` (seconds since the Unix epoch).
pub fn read(file: &[u8], now: u64) -> Result<Stamp, StampError> {
    let tail_at = file.len().checked_sub(TRAILER).ok_or(StampError::Missing)?;
    let tail = &file[tail_at..];
    if &tail[36..] != MAGIC {
        return Err(StampError::Missing);
    }
    let len = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as usize;
    if len > MAX_PAYLOAD || len > tail_at {
        return Err(StampError::Altered);
    }
    let payload = &file[tail_at - len..tail_at];
    if sha256(payload)[..] != tail[4..36] {
        return Err(StampError::Altered);
    }
    let stamp: Stamp = serde_json::from_slice(payload).map_err(|_| StampError::Altered)?;
    if stamp.expires_at <= now {
        return Err(StampError::Expired);
    }
    Ok(stamp)
}

/// Length of the unstamped program, if `file` is stamped (so a relay can
/// strip an old stamp before adding a new one).
pub fn unstamped_len(file: &[u8]) -> usize {
    let tail = &file[file.len().saturating_sub(TRAILER)..];
    usize::try_from(unstamped_len_from_tail(file.len() as u64, tail)).unwrap_or(file.len())
}

/// Bytes at the very end of a stamped file after the payload (length,
/// digest, magic).
pub const TRAILER_LEN: usize = TRAILER;

/// [`unstamped_len`] of a file of `total` bytes whose last bytes are
/// `tail` (its last [`TRAILER_LEN`], or all of it if shorter): lets a relay
/// stream a large program from disk without reading it whole.
pub fn unstamped_len_from_tail(total: u64, tail: &[u8]) -> u64 {
    let Some(at) = tail.len().checked_sub(TRAILER) else {
        return total;
    };
    let trailer = &tail[at..];
    if &trailer[36..] != MAGIC {
        return total;
    }
    let len = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    total
        .saturating_sub(TRAILER as u64)
        .saturating_sub(u64::from(len))
}

/// The bytes [`append`] adds for `stamp` (sent after a program streamed
/// from disk).
pub fn encode(stamp: &Stamp) -> Vec<u8> {
    let mut out = Vec::new();
    append(&mut out, stamp);
    out
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Stamp {
        Stamp {
            relay_url: "wss://127.0.0.1:8443".into(),
            cert_sha256: "ab".repeat(32),
            ticket: "k.100.mac".into(),
            site_name: "Beispiel GmbH".into(),
            lang: Lang::De,
            expires_at: 1_000,
        }
    }

    #[test]
    fn round_trip_and_restamp() {
        let mut exe = b"\x7fELF program bytes".to_vec();
        append(&mut exe, &sample());
        assert_eq!(read(&exe, 999), Ok(sample()));
        assert_eq!(unstamped_len(&exe), 18);
        let tail = &exe[exe.len() - TRAILER_LEN..];
        assert_eq!(unstamped_len_from_tail(exe.len() as u64, tail), 18);
        assert_eq!(unstamped_len_from_tail(7, b"program"), 7);
        let mut twice = b"\x7fELF program bytes".to_vec();
        twice.extend_from_slice(&encode(&sample()));
        assert_eq!(twice, exe);
        assert_eq!(read(&exe, 1_000), Err(StampError::Expired));
    }

    #[test]
    fn missing_and_altered() {
        assert_eq!(read(b"plain", 0), Err(StampError::Missing));
        let mut exe = b"program".to_vec();
        append(&mut exe, &sample());
        let pos = exe.len() - 60;
        exe[pos] ^= 1;
        assert_eq!(read(&exe, 0), Err(StampError::Altered));
    }
}
