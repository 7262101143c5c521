//! Where to connect: the stamp the relay appended to this executable, or
//! `--relay URL --pin HEX` for development; a `lotse://join?key=KEY` link
//! (from the web chat) adds the key of the session to take over.
//!
//! Also what this executable is: a one-shot download (stamped; removes
//! itself at the end) or an installed client (`installer/linux/install.sh`
//! wrote its path into the install marker; never removes itself).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

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
    /// From a `lotse://join?key=KEY` link: take the web chat session with
    /// this key over (presented instead of the ticket).
    pub elevation_key: Option<String>,
}

impl Target {
    /// The customer WebSocket URL with the ticket.
    pub fn customer_url(&self) -> String {
        let base = self.relay_url.trim_end_matches('/');
        if let Some(key) = &self.elevation_key {
            format!("{base}{}?key={}", paths::CUSTOMER, percent_encode(key))
        } else if self.ticket.is_empty() {
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

/// Why a command-line link is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    #[error("not a Lotse link: {0:?}; expected lotse://join?key=KEY")]
    NotALink(String),
    #[error(
        "the key in this link is not valid (1 to 64 letters, digits, - or _); ask your technician for a new link"
    )]
    BadKey,
}

/// The one link form the client accepts: `lotse://join?key=KEY` with KEY
/// of 1 to 64 ASCII letters, digits, `-` or `_` — nothing more (no other
/// parameters, no fragment), so a link can carry nothing but the key.
pub fn parse_link(link: &str) -> Result<String, LinkError> {
    const PREFIX: &str = "lotse://join?key=";
    let Some(key) = link.strip_prefix(PREFIX) else {
        return Err(LinkError::NotALink(shorten(link)));
    };
    if key.is_empty()
        || key.len() > 64
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(LinkError::BadKey);
    }
    Ok(key.to_owned())
}

/// At most 80 characters of untrusted text, for an error message.
fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(80).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Where `installer/linux/install.sh` records the installed client's
/// path: `$XDG_DATA_HOME/lotse/installed` (default `~/.local/share`).
#[cfg(not(windows))]
pub fn install_marker() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("lotse").join("installed"))
}

/// Where `installer/windows/install.cmd` records the installed client's
/// path: `%LOCALAPPDATA%\Lotse\installed`.
#[cfg(windows)]
pub fn install_marker() -> Option<PathBuf> {
    std::env::var_os("LOCALAPPDATA")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .map(|data| data.join("Lotse").join("installed"))
}

/// Whether `exe` is the installed client: the install marker names
/// exactly this file. A download (anywhere else) never is, so it always
/// removes itself.
pub fn is_installed(exe: &Path, marker: &Path) -> bool {
    let Ok(text) = read_small(marker) else {
        return false;
    };
    let named = Path::new(text.trim());
    if !named.is_absolute() {
        return false;
    }
    match (std::fs::canonicalize(named), std::fs::canonicalize(exe)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn read_small(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(4096)
        .read_to_string(&mut text)?;
    Ok(text)
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
        elevation_key: None,
    })
}

/// Started by a `lotse://join?key=KEY` link: the stamp's relay and
/// certificate (intact, its ticket's expiry does not matter: the key is
/// what the relay checks) with the key instead of the ticket.
pub fn target_for_link(tail: &[u8], key: &str) -> Result<Target, TargetError> {
    let mut target = target_from_tail(tail, 0)?;
    target.ticket.clear();
    target.elevation_key = Some(key.to_owned());
    Ok(target)
}

/// The installed client started without a link once its download ticket
/// expired: the stamp's relay and certificate, the public queue.
pub fn target_public(tail: &[u8]) -> Result<Target, TargetError> {
    let mut target = target_from_tail(tail, 0)?;
    target.ticket.clear();
    Ok(target)
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
        elevation_key: None,
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
    #[test]
    fn only_a_join_link_with_a_plain_key_is_accepted() {
        assert_eq!(
            parse_link("lotse://join?key=e42x0a1B-_z"),
            Ok("e42x0a1B-_z".into())
        );
        for bad in [
            "lotse://evil",
            "lotse://join",
            "lotse://join?ticket=abc",
            "LOTSE://join?key=abc",
            "https://join?key=abc",
            "lotse://join/?key=abc",
            "--relay",
            "",
        ] {
            assert!(
                matches!(parse_link(bad), Err(LinkError::NotALink(_))),
                "{bad}"
            );
        }
        for bad in [
            "lotse://join?key=",
            "lotse://join?key=abc&consent=yes",
            "lotse://join?key=abc#x",
            "lotse://join?key=a%20b",
            "lotse://join?key=a/b",
            "lotse://join?key=ä",
        ] {
            assert_eq!(parse_link(bad), Err(LinkError::BadKey), "{bad}");
        }
        let long = format!("lotse://join?key={}", "k".repeat(65));
        assert_eq!(parse_link(&long), Err(LinkError::BadKey));
        let msg = parse_link(&"x".repeat(500))
            .expect_err("refused")
            .to_string();
        assert!(msg.len() < 200, "{msg}");
    }

    #[test]
    fn a_link_uses_the_stamped_relay_with_its_key_even_after_the_ticket_expired() {
        let mut exe = b"program".to_vec();
        stamp::append(&mut exe, &sample(1_000));
        assert_eq!(
            target_from_tail(&exe, 2_000),
            Err(TargetError::Stamp(StampError::Expired))
        );
        let t = target_for_link(&exe, "e7xabc").expect("relay from the stamp");
        assert_eq!(
            t.customer_url(),
            "wss://127.0.0.1:8443/ws/customer?key=e7xabc"
        );
        assert_eq!(t.pin, Pin([0xab; 32]));
        let p = target_public(&exe).expect("public queue");
        assert_eq!(p.customer_url(), "wss://127.0.0.1:8443/ws/customer");
        let mut altered = exe.clone();
        altered[10] ^= 0x20;
        assert_eq!(
            target_for_link(&altered, "k"),
            Err(TargetError::Stamp(StampError::Altered))
        );
        assert_eq!(
            target_for_link(b"no stamp", "k"),
            Err(TargetError::Stamp(StampError::Missing))
        );
    }

    #[test]
    fn installed_only_when_the_marker_names_this_very_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let installed = dir.path().join("bin-lotse");
        let download = dir.path().join("lotse");
        std::fs::write(&installed, b"x").expect("write");
        std::fs::write(&download, b"x").expect("write");
        let marker = dir.path().join("installed");
        assert!(!is_installed(&installed, &marker), "no marker");
        std::fs::write(&marker, format!("{}\n", installed.display())).expect("marker");
        assert!(is_installed(&installed, &marker));
        assert!(!is_installed(&download, &marker));
        std::fs::write(&marker, "bin-lotse").expect("relative");
        assert!(!is_installed(&installed, &marker));
        std::fs::remove_file(&installed).expect("rm");
        std::fs::write(&marker, installed.display().to_string()).expect("marker");
        assert!(!is_installed(&installed, &marker), "gone");
    }
}
