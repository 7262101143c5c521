//! Where to connect: the stamp the relay appended to this executable, or
//! `--relay URL --pin HEX` for development.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use lotse_link::Pin;
use lotse_protocol::stamp::{self, Stamp, StampError};
use lotse_protocol::{Lang, paths};

/// Everything the client needs to reach its relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `wss://host:port` (no path).
    pub relay_url: String,
    pub pin: Pin,
    /// Signed ticket from the stamp; empty for the public queue.
    pub ticket: String,
    /// Shown in the window title until the relay names the site.
    pub site_name: String,
    pub lang: Option<Lang>,
}

impl Target {
    /// The customer WebSocket URL with the ticket.
    pub fn customer_url(&self) -> String {
        let base = self.relay_url.trim_end_matches('/');
        if self.ticket.is_empty() {
            format!("{base}{}", paths::CUSTOMER)
        } else {
            format!(
                "{base}{}?ticket={}",
                paths::CUSTOMER,
                percent_encode(&self.ticket)
            )
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error(transparent)]
    Stamp(#[from] StampError),
    #[error("the stamped certificate fingerprint is not valid; download the program again")]
    BadPin,
    #[error("the stamped relay address must start with wss://; download the program again")]
    NotTls,
    #[error("cannot read this program's file: {0}")]
    Io(String),
}

/// The last bytes of the executable: enough for any stamp.
pub fn read_tail(path: &Path) -> Result<Vec<u8>, TargetError> {
    let mut file = std::fs::File::open(path).map_err(|e| TargetError::Io(e.to_string()))?;
    let len = file
        .metadata()
        .map_err(|e| TargetError::Io(e.to_string()))?
        .len();
    let want = (stamp::MAX_PAYLOAD + 64) as u64;
    let start = len.saturating_sub(want);
    file.seek(SeekFrom::Start(start))
        .map_err(|e| TargetError::Io(e.to_string()))?;
    let mut tail = Vec::with_capacity(want as usize);
    file.read_to_end(&mut tail)
        .map_err(|e| TargetError::Io(e.to_string()))?;
    Ok(tail)
}

/// Whether the file ends in something that looks like a stamp (valid or
/// not): such a file is a download and is removed at the end.
pub fn looks_stamped(tail: &[u8]) -> bool {
    tail.ends_with(stamp::MAGIC)
}

/// Check a stamp read from the executable's tail at `now` (Unix seconds).
pub fn target_from_tail(tail: &[u8], now: u64) -> Result<Target, TargetError> {
    let stamp: Stamp = stamp::read(tail, now)?;
    let pin = Pin::from_hex(&stamp.cert_sha256).map_err(|_| TargetError::BadPin)?;
    if !stamp.relay_url.starts_with("wss://") {
        return Err(TargetError::NotTls);
    }
    Ok(Target {
        relay_url: stamp.relay_url,
        pin,
        ticket: stamp.ticket,
        site_name: stamp.site_name,
        lang: Some(stamp.lang),
    })
}

/// `--relay URL --pin HEX` (development: the public queue).
pub fn target_from_args(relay: &str, pin: &str) -> Result<Target, TargetError> {
    let pin = Pin::from_hex(pin).map_err(|_| TargetError::BadPin)?;
    if !relay.starts_with("wss://") {
        return Err(TargetError::NotTls);
    }
    Ok(Target {
        relay_url: relay.to_owned(),
        pin,
        ticket: String::new(),
        site_name: String::new(),
        lang: None,
    })
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(expires_at: u64) -> Stamp {
        Stamp {
            relay_url: "wss://127.0.0.1:8443".into(),
            cert_sha256: "ab".repeat(32),
            ticket: "k1.100.m+/=".into(),
            site_name: "Beispiel GmbH".into(),
            lang: Lang::De,
            expires_at,
        }
    }

    #[test]
    fn reads_a_stamp_from_the_tail_of_a_large_file() {
        let mut exe = vec![0x7f; 100_000];
        stamp::append(&mut exe, &sample(1_000));
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("lotse");
        std::fs::write(&path, &exe).expect("write");
        let tail = read_tail(&path).expect("tail");
        assert!(tail.len() < exe.len());
        assert!(looks_stamped(&tail));
        let target = target_from_tail(&tail, 10).expect("valid stamp");
        assert_eq!(target.pin, Pin([0xab; 32]));
        assert_eq!(target.site_name, "Beispiel GmbH");
        assert_eq!(
            target.customer_url(),
            "wss://127.0.0.1:8443/ws/customer?ticket=k1.100.m%2B%2F%3D"
        );
    }

    #[test]
    fn missing_altered_expired_and_bad_pins_are_refused() {
        assert_eq!(
            target_from_tail(b"just a program", 0),
            Err(TargetError::Stamp(StampError::Missing))
        );
        assert!(!looks_stamped(b"just a program"));
        let mut exe = b"program".to_vec();
        stamp::append(&mut exe, &sample(1_000));
        assert_eq!(
            target_from_tail(&exe, 1_000),
            Err(TargetError::Stamp(StampError::Expired))
        );
        let mut altered = exe.clone();
        altered[10] ^= 0x20;
        assert_eq!(
            target_from_tail(&altered, 0),
            Err(TargetError::Stamp(StampError::Altered))
        );
        assert!(looks_stamped(&altered));
        let mut bad_pin = sample(1_000);
        bad_pin.cert_sha256 = "xyz".into();
        let mut exe = b"program".to_vec();
        stamp::append(&mut exe, &bad_pin);
        assert_eq!(target_from_tail(&exe, 0), Err(TargetError::BadPin));
        let mut plain = sample(1_000);
        plain.relay_url = "ws://127.0.0.1:80".into();
        let mut exe = b"program".to_vec();
        stamp::append(&mut exe, &plain);
        assert_eq!(target_from_tail(&exe, 0), Err(TargetError::NotTls));
    }

    #[test]
    fn development_overrides() {
        let t = target_from_args("wss://localhost:9", &"CD".repeat(32)).expect("valid");
        assert_eq!(t.customer_url(), "wss://localhost:9/ws/customer");
        assert_eq!(
            target_from_args("https://x", &"cd".repeat(32)),
            Err(TargetError::NotTls)
        );
        assert_eq!(target_from_args("wss://x", "12"), Err(TargetError::BadPin));
    }
}
