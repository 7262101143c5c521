//! The site configuration: one TOML file (`relay.toml` in the data
//! directory). Every key is optional; a missing key takes the default
//! documented here and in [`DEFAULT_TOML`], which the relay writes on its
//! first start. Unknown keys are errors, so a typo never goes unnoticed.
//!
//! A bad file stops the relay with a message naming the key and the reason
//! ([`Config::parse`]).

use std::path::PathBuf;

use lotse_protocol::{Lang, Message, NoticeInfo, SiteInfo};
use serde::Deserialize;

/// The default configuration, written to `relay.toml` on first start. It is
/// also the reference: each key with its meaning and default.
pub const DEFAULT_TOML: &str = r#"# Lotse relay configuration. Every key is optional: a missing key takes the
# default shown here. Unknown keys are refused (so typos are caught).
# Restart the relay after changing this file.

# Name of the support site, shown in the portal, the client and the console.
site_name = "Lotse Support"

# The address customers and technicians reach this relay at, e.g.
# "https://support.example.com" or "https://support.example.com:8443".
# Downloads are stamped with it, and requests naming another host (the
# HTTP Host header) are refused with 421. Empty: the listen address as the
# relay prints it (`listening on https://HOST:PORT`); a relay listening on
# all addresses (0.0.0.0 or [::]) needs this key.
public_url = ""

# Seconds between hold messages (and queue position updates) while a
# customer waits. At least 1.
hold_interval_secs = 60

# Show a watermark on the customer's screen while a session runs.
watermark = true

# Offer the browser web chat (Click-to-Chat) on the portal and accept /ws/web.
click_to_chat = true

# Let customers without a stamped ticket (e.g. `lotse --relay ... --pin ...`
# in development) join the public queue.
public_queue = true

# Estimated wait in seconds before any real waits have been recorded.
initial_wait_estimate_secs = 120

# How long a download's ticket stays valid, in seconds (default one day).
ticket_ttl_secs = 86400

# Directory with the web chat files served under /web/ (absolute, or
# relative to the data directory). Empty: assets/web of the source tree or
# `web` next to the relay executable, whichever exists.
web_dir = ""

# Extra origins allowed to open the web chat WebSocket (the relay's own
# https origin is always allowed), e.g. ["https://support.example.com"].
allowed_origins = []

# Optional page the customer's browser opens when no technician is logged
# in (knowledge base, contact form). Empty: none.
no_technician_url = ""

# Texts the customer sees, per language (`en` and `de`). An empty text
# skips that step (no agreement, no recording prompt, no survey, ...).
# `greeting` and `hold` may contain {position} and {wait} (minutes).
[texts.en]
agreement = "Before we start: the technician can only see your screen or use your mouse and keyboard after you allow it, and you can stop that at any time. Do you agree to continue?"
recording_prompt = "May this session be recorded for quality assurance?"
greeting = "Welcome! You are number {position} in line; the expected wait is about {wait} minutes."
hold = "Thank you for waiting. You are number {position} in line (about {wait} minutes)."
survey = "How satisfied were you with the help you got?"
no_technician = "No technician is available right now. Please try again later."

[texts.de]
agreement = "Bevor es losgeht: Der Techniker sieht Ihren Bildschirm oder bedient Maus und Tastatur nur, wenn Sie es erlauben, und Sie können das jederzeit beenden. Möchten Sie fortfahren?"
recording_prompt = "Darf diese Sitzung zur Qualitätssicherung aufgezeichnet werden?"
greeting = "Willkommen! Sie sind an Position {position}; die Wartezeit beträgt etwa {wait} Minuten."
hold = "Danke für Ihre Geduld. Sie sind an Position {position} (etwa {wait} Minuten)."
survey = "Wie zufrieden waren Sie mit der Hilfe?"
no_technician = "Gerade ist kein Techniker erreichbar. Bitte versuchen Sie es später noch einmal."

# Customer notices: known problems a technician can send, or that show
# automatically right after a customer joins (auto_show = true).
# [[notices]]
# id = "outage"
# auto_show = false
# text = { en = "Our mail service is down; we are working on it.", de = "Unser Mail-Dienst ist gestört; wir arbeiten daran." }

[limits]
# Connections served at once (further ones wait for a free slot).
max_connections = 2000
# Connections from one address (IPv6: one /64) that are not an authenticated
# technician link: TLS handshakes, page and download requests, login links,
# customer and web chat links. More are closed at once.
max_unauthenticated_per_address = 64
# TLS handshakes in progress from one address (more are closed at once),
# and in all (more wait, within handshake_timeout_secs).
max_handshakes_per_address = 8
max_handshakes = 64
# Seconds a page, download or recording may wait for the receiver to take
# more data; a receiver that stalls longer is dropped.
http_write_timeout_secs = 30
# Text messages per second per connection (with a burst allowance);
# more and the link closes with 1008.
messages_per_sec = 200
message_burst = 400
# Bad messages (malformed, not allowed, out of order) before a link is closed.
max_strikes = 10
# Seconds a cut customer link is kept for a reconnect.
grace_secs = 60
# Seconds for TLS + HTTP upgrade + hello.
handshake_timeout_secs = 10
# Ping every this many seconds; a link silent for idle_timeout_secs is dead.
ping_interval_secs = 30
idle_timeout_secs = 90
# Failed logins (per address and per account) before a lockout, and its length.
login_max_failures = 5
login_lockout_secs = 300

[tls]
# PEM certificate chain and private key. Empty: a self-signed certificate
# kept in the data directory (cert.pem / key.pem), created on first start.
cert = ""
key = ""

[downloads]
# The client executable handed out per OS. Empty: `lotse` (linux),
# `lotse.exe` (windows), `lotse-macos` (macos) next to the relay executable.
linux = ""
windows = ""
macos = ""
"#;

/// Per-language customer texts. Empty = step skipped.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Texts {
    pub agreement: String,
    pub recording_prompt: String,
    pub greeting: String,
    pub hold: String,
    pub survey: String,
    pub no_technician: String,
}

impl Texts {
    fn english() -> Self {
        Self {
            agreement: "Before we start: the technician can only see your screen or use your mouse and keyboard after you allow it, and you can stop that at any time. Do you agree to continue?".into(),
            recording_prompt: "May this session be recorded for quality assurance?".into(),
            greeting: "Welcome! You are number {position} in line; the expected wait is about {wait} minutes.".into(),
            hold: "Thank you for waiting. You are number {position} in line (about {wait} minutes).".into(),
            survey: "How satisfied were you with the help you got?".into(),
            no_technician: "No technician is available right now. Please try again later.".into(),
        }
    }
    fn german() -> Self {
        Self {
            agreement: "Bevor es losgeht: Der Techniker sieht Ihren Bildschirm oder bedient Maus und Tastatur nur, wenn Sie es erlauben, und Sie können das jederzeit beenden. Möchten Sie fortfahren?".into(),
            recording_prompt: "Darf diese Sitzung zur Qualitätssicherung aufgezeichnet werden?".into(),
            greeting: "Willkommen! Sie sind an Position {position}; die Wartezeit beträgt etwa {wait} Minuten.".into(),
            hold: "Danke für Ihre Geduld. Sie sind an Position {position} (etwa {wait} Minuten).".into(),
            survey: "Wie zufrieden waren Sie mit der Hilfe?".into(),
            no_technician: "Gerade ist kein Techniker erreichbar. Bitte versuchen Sie es später noch einmal.".into(),
        }
    }
}

impl Default for Texts {
    fn default() -> Self {
        Self::english()
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TextsByLang {
    #[serde(default = "Texts::english")]
    pub en: Texts,
    #[serde(default = "Texts::german")]
    pub de: Texts,
}

impl Default for TextsByLang {
    fn default() -> Self {
        Self {
            en: Texts::english(),
            de: Texts::german(),
        }
    }
}

/// A text in both languages.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    pub en: String,
    #[serde(default)]
    pub de: String,
}

impl Localized {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::De if !self.de.is_empty() => &self.de,
            _ => &self.en,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    pub id: String,
    pub text: Localized,
    #[serde(default)]
    pub auto_show: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_connections: usize,
    pub max_unauthenticated_per_address: usize,
    pub max_handshakes_per_address: usize,
    pub max_handshakes: usize,
    pub http_write_timeout_secs: u64,
    pub messages_per_sec: u32,
    pub message_burst: u32,
    pub max_strikes: u32,
    pub grace_secs: u32,
    pub handshake_timeout_secs: u64,
    pub ping_interval_secs: u64,
    pub idle_timeout_secs: u64,
    pub login_max_failures: u32,
    pub login_lockout_secs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 2000,
            max_unauthenticated_per_address: 64,
            max_handshakes_per_address: 8,
            max_handshakes: 64,
            http_write_timeout_secs: 30,
            messages_per_sec: 200,
            message_burst: 400,
            max_strikes: 10,
            grace_secs: 60,
            handshake_timeout_secs: 10,
            ping_interval_secs: 30,
            idle_timeout_secs: 90,
            login_max_failures: 5,
            login_lockout_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    pub cert: String,
    pub key: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Downloads {
    pub linux: String,
    pub windows: String,
    pub macos: String,
}

/// The whole site configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub site_name: String,
    pub public_url: String,
    pub hold_interval_secs: u32,
    pub watermark: bool,
    pub click_to_chat: bool,
    pub public_queue: bool,
    pub initial_wait_estimate_secs: u64,
    pub ticket_ttl_secs: u64,
    pub web_dir: String,
    pub allowed_origins: Vec<String>,
    pub no_technician_url: String,
    pub texts: TextsByLang,
    pub notices: Vec<Notice>,
    pub limits: Limits,
    pub tls: Tls,
    pub downloads: Downloads,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            site_name: "Lotse Support".into(),
            public_url: String::new(),
            hold_interval_secs: 60,
            watermark: true,
            click_to_chat: true,
            public_queue: true,
            initial_wait_estimate_secs: 120,
            ticket_ttl_secs: 86_400,
            web_dir: String::new(),
            allowed_origins: Vec::new(),
            no_technician_url: String::new(),
            texts: TextsByLang::default(),
            notices: Vec::new(),
            limits: Limits::default(),
            tls: Tls::default(),
            downloads: Downloads::default(),
        }
    }
}

/// Why a configuration was refused. The message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("bad config key `{key}`: {reason}")]
    Key { key: String, reason: String },
    #[error("bad config: {0}")]
    Syntax(String),
}

impl Config {
    /// Parse and check a configuration file's text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let reason = e.message().to_owned();
            match e.span().and_then(|span| key_at(text, span.start)) {
                Some(key) => ConfigError::Key { key, reason },
                None => ConfigError::Syntax(e.to_string()),
            }
        })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, reason: &str| {
            Err(ConfigError::Key {
                key: key.into(),
                reason: reason.into(),
            })
        };
        if self.site_name.trim().is_empty() {
            return bad("site_name", "must not be empty");
        }
        if self.hold_interval_secs == 0 {
            return bad("hold_interval_secs", "must be at least 1");
        }
        if self.ticket_ttl_secs == 0 {
            return bad("ticket_ttl_secs", "must be at least 1");
        }
        let l = &self.limits;
        if l.max_connections == 0 {
            return bad("limits.max_connections", "must be at least 1");
        }
        for (key, value) in [
            (
                "limits.max_unauthenticated_per_address",
                l.max_unauthenticated_per_address,
            ),
            (
                "limits.max_handshakes_per_address",
                l.max_handshakes_per_address,
            ),
            ("limits.max_handshakes", l.max_handshakes),
        ] {
            if value == 0 {
                return bad(key, "must be at least 1");
            }
        }
        if l.http_write_timeout_secs == 0 {
            return bad("limits.http_write_timeout_secs", "must be at least 1");
        }
        if !self.public_url.is_empty() && self.public_authority().is_none() {
            return bad(
                "public_url",
                "must be https://HOST or https://HOST:PORT (no path), e.g. \"https://support.example.com\"",
            );
        }
        if l.messages_per_sec == 0 {
            return bad("limits.messages_per_sec", "must be at least 1");
        }
        if l.message_burst < l.messages_per_sec {
            return bad(
                "limits.message_burst",
                "must be at least limits.messages_per_sec",
            );
        }
        if l.grace_secs > 3600 {
            return bad("limits.grace_secs", "must be at most 3600");
        }
        if l.handshake_timeout_secs == 0 {
            return bad("limits.handshake_timeout_secs", "must be at least 1");
        }
        if l.ping_interval_secs == 0 {
            return bad("limits.ping_interval_secs", "must be at least 1");
        }
        if l.idle_timeout_secs <= l.ping_interval_secs {
            return bad(
                "limits.idle_timeout_secs",
                "must be longer than limits.ping_interval_secs",
            );
        }
        if l.login_max_failures == 0 {
            return bad("limits.login_max_failures", "must be at least 1");
        }
        let url = &self.no_technician_url;
        if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
            return bad("no_technician_url", "must start with https:// or http://");
        }
        for origin in &self.allowed_origins {
            if !(origin.starts_with("https://") || origin.starts_with("http://")) {
                return bad("allowed_origins", "each origin must start with https://");
            }
        }
        if self.tls.cert.is_empty() != self.tls.key.is_empty() {
            return bad("tls.key", "tls.cert and tls.key must be given together");
        }
        let mut ids = std::collections::HashSet::new();
        for notice in &self.notices {
            if notice.id.is_empty() || !ids.insert(notice.id.as_str()) {
                return bad("notices.id", "each notice needs a unique, non-empty id");
            }
            if notice.text.en.trim().is_empty() {
                return bad("notices.text.en", "must not be empty");
            }
        }
        self.check_text_sizes()
    }

    /// Every text the relay sends to customers and technicians fits in
    /// one message (docs/PROTOCOL.md section 3): a text over its limit, or
    /// a language whose texts together overflow the `welcome`, is refused
    /// here with the key to shorten, not found by a customer whose client
    /// cannot take its first message.
    fn check_text_sizes(&self) -> Result<(), ConfigError> {
        use lotse_protocol::limits::{self, NAME_CHARS, NOTICE_CHARS, SITE_TEXT_CHARS};
        let over = |key: String, text: &str, limit: usize| {
            limits::check_chars(text, limit).map_err(|limit| ConfigError::Key {
                key,
                reason: format!(
                    "has {} characters; at most {limit} fit",
                    text.chars().count()
                ),
            })
        };
        over("site_name".into(), &self.site_name, NAME_CHARS)?;
        for notice in &self.notices {
            over("notices.id".into(), &notice.id, NAME_CHARS)?;
            over("notices.text.en".into(), &notice.text.en, NOTICE_CHARS)?;
            over("notices.text.de".into(), &notice.text.de, NOTICE_CHARS)?;
        }
        for lang in [Lang::En, Lang::De] {
            let code = match lang {
                Lang::En => "en",
                Lang::De => "de",
            };
            let t = self.texts(lang);
            for (name, text) in [
                ("agreement", &t.agreement),
                ("recording_prompt", &t.recording_prompt),
                ("greeting", &t.greeting),
                ("hold", &t.hold),
                ("survey", &t.survey),
                ("no_technician", &t.no_technician),
            ] {
                over(format!("texts.{code}.{name}"), text, SITE_TEXT_CHARS)?;
            }
            let welcome = Message::Welcome {
                version: u32::MAX,
                session: Some(u64::MAX),
                resume_token: Some("x".repeat(64)),
                site: self.site_info(lang),
                last_seq: u64::MAX,
            };
            let size = crate::compose::sent_len(&welcome);
            if size > lotse_protocol::MAX_TEXT_BYTES {
                return Err(ConfigError::Key {
                    key: format!("texts.{code}"),
                    reason: format!(
                        "agreement, recording_prompt, greeting and survey together make a \
                         welcome of {size} bytes, over the {} one message may carry: shorten them",
                        lotse_protocol::MAX_TEXT_BYTES
                    ),
                });
            }
        }
        Ok(())
    }

    pub fn texts(&self, lang: Lang) -> &Texts {
        match lang {
            Lang::De => &self.texts.de,
            Lang::En => &self.texts.en,
        }
    }

    /// What a customer's `welcome` carries, in the customer's language.
    pub fn site_info(&self, lang: Lang) -> SiteInfo {
        let t = self.texts(lang);
        let opt = |s: &str| (!s.trim().is_empty()).then(|| s.to_owned());
        SiteInfo {
            name: self.site_name.clone(),
            agreement: opt(&t.agreement),
            recording_prompt: opt(&t.recording_prompt),
            greeting: opt(&t.greeting),
            survey: opt(&t.survey),
            hold_interval_secs: self.hold_interval_secs,
            watermark: self.watermark,
        }
    }

    /// The notices for the technicians' list (English texts).
    pub fn notice_list(&self) -> Vec<NoticeInfo> {
        self.notices
            .iter()
            .map(|n| NoticeInfo {
                id: n.id.clone(),
                text: n.text.en.clone(),
            })
            .collect()
    }

    pub fn no_technician_url(&self) -> Option<String> {
        (!self.no_technician_url.is_empty()).then(|| self.no_technician_url.clone())
    }

    /// Host (lowercase; IPv6 in brackets) and port of `public_url`; None
    /// when it is empty or not of the form `https://HOST[:PORT][/]`.
    pub fn public_authority(&self) -> Option<(String, u16)> {
        let rest = self.public_url.strip_prefix("https://")?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        split_host_port(authority)
    }

    /// The configured download for `os`, if any.
    pub fn download_path(&self, os: &str) -> Option<PathBuf> {
        let p = match os {
            "linux" => &self.downloads.linux,
            "windows" => &self.downloads.windows,
            "macos" => &self.downloads.macos,
            _ => return None,
        };
        (!p.is_empty()).then(|| PathBuf::from(p))
    }
}

/// `HOST[:PORT]` (an HTTP Host header or URL authority) as lowercase host
/// and port (443 when absent). IPv6 hosts keep their brackets. None for
/// anything else (user info, paths, empty host, a bad port).
pub fn split_host_port(authority: &str) -> Option<(String, u16)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        match rest {
            "" => (host, None),
            r => (host, Some(r.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => 443,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse().ok().filter(|p| *p != 0)?
        }
        Some(_) => return None,
    };
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if host.is_empty() || host == "[]" || !host.chars().all(ok) {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

/// The dotted key whose text is at byte `pos` of `text`: the key on that
/// line (before `=`), prefixed with the nearest `[table]` header above.
fn key_at(text: &str, pos: usize) -> Option<String> {
    let before = text.get(..pos)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = &text[line_start..line_end];
    let key = line.split('=').next()?.trim();
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    if key.is_empty() || key.starts_with('#') {
        return table;
    }
    if key.starts_with('[') {
        return Some(key.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    }
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lotse_protocol::limits;

    #[test]
    fn default_file_equals_built_in_defaults() {
        assert_eq!(Config::parse(DEFAULT_TOML).unwrap(), Config::default());
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::parse("[limits]\ngrace_secs = \"soon\"\n").unwrap_err();
        assert!(e.to_string().contains("limits.grace_secs"), "{e}");
        let e = Config::parse("hold_intervall_secs = 5\n").unwrap_err();
        assert!(e.to_string().contains("hold_intervall_secs"), "{e}");
        let e = Config::parse("hold_interval_secs = 0\n").unwrap_err();
        assert!(e.to_string().contains("hold_interval_secs"), "{e}");
        let e = Config::parse("[limits]\nmax_handshakes = 0\n").unwrap_err();
        assert!(e.to_string().contains("limits.max_handshakes"), "{e}");
        for bad in [
            "http://a.example",
            "https://",
            "https://a.example/x",
            "https://a:b@c",
        ] {
            let e = Config::parse(&format!("public_url = \"{bad}\"\n")).unwrap_err();
            assert!(e.to_string().contains("public_url"), "{bad}: {e}");
        }
    }

    #[test]
    fn texts_that_would_not_fit_a_message_are_refused_by_key() {
        let e = Config::parse(&format!(
            "[texts.de]\ngreeting = \"{}\"\n",
            "ä".repeat(limits::SITE_TEXT_CHARS + 1)
        ))
        .unwrap_err();
        assert!(e.to_string().contains("texts.de.greeting"), "{e}");
        assert!(e.to_string().contains("8001 characters"), "{e}");
        // Each text within its limit, but together over one message.
        let long = "\\u001f".repeat(limits::SITE_TEXT_CHARS);
        let e = Config::parse(&format!(
            "[texts.en]\nagreement = \"{long}\"\ngreeting = \"{long}\"\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("`texts.en`"), "{e}");
        assert!(e.to_string().contains("welcome of"), "{e}");
        let e = Config::parse(&format!("site_name = \"{}\"\n", "S".repeat(81))).unwrap_err();
        assert!(e.to_string().contains("site_name"), "{e}");
        let e = Config::parse(&format!(
            "[[notices]]\nid = \"mail\"\ntext = {{ en = \"{}\" }}\n",
            "n".repeat(limits::NOTICE_CHARS + 1)
        ))
        .unwrap_err();
        assert!(e.to_string().contains("notices.text.en"), "{e}");
        // The longest texts that fit are taken.
        let ok = "a".repeat(limits::SITE_TEXT_CHARS);
        let c = Config::parse(&format!(
            "[texts.en]\nagreement = \"{ok}\"\ngreeting = \"{ok}\"\nhold = \"{ok}\"\n"
        ))
        .unwrap();
        assert!(crate::compose::fits(&Message::Welcome {
            version: 1,
            session: Some(1),
            resume_token: Some("t".into()),
            site: c.site_info(Lang::En),
            last_seq: 0,
        }));
    }

    #[test]
    fn public_url_and_host_headers() {
        let c = Config::parse("public_url = \"https://Support.Example.com/\"\n").unwrap();
        assert_eq!(
            c.public_authority(),
            Some(("support.example.com".into(), 443))
        );
        let c = Config::parse("public_url = \"https://[::1]:8443\"\n").unwrap();
        assert_eq!(c.public_authority(), Some(("[::1]".into(), 8443)));
        assert_eq!(
            split_host_port("127.0.0.1:8443"),
            Some(("127.0.0.1".into(), 8443))
        );
        assert_eq!(
            split_host_port("a.example:443"),
            Some(("a.example".into(), 443))
        );
        assert_eq!(split_host_port("a.example:"), None);
        assert_eq!(split_host_port("a.example:99999"), None);
        assert_eq!(split_host_port("evil.example/x"), None);
        assert_eq!(split_host_port(""), None);
    }
}
