//! Links to the relay, shared by the customer client, the technician
//! console and the end-to-end tests:
//!
//! * [`connect`]: a TLS WebSocket to the relay that trusts exactly one
//!   certificate, given by its SHA-256 ([`Pin`]); there is no fallback to
//!   the system trust store and no plaintext.
//! * [`ws_config`]: the WebSocket limits every Lotse part uses.
//! * [`Outbox`] / [`Inbox`]: per-sender sequence numbers so a message
//!   survives a cut exactly once and in order.
//!
//! Depends on `lotse-protocol` only; no UI, no storage.

use std::collections::VecDeque;
use std::sync::Arc;

use lotse_protocol::{Envelope, MAX_BINARY_BYTES};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

pub use tokio_tungstenite::tungstenite;

/// A client WebSocket to the relay.
pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Install the `ring` crypto provider as the process default (idempotent).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// WebSocket limits for every Lotse link: binary frames up to
/// [`MAX_BINARY_BYTES`], text checked to 64 KiB by the receiver, a bounded
/// write buffer, no compression (tungstenite never negotiates it).
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_BINARY_BYTES))
        .max_frame_size(Some(MAX_BINARY_BYTES))
        .write_buffer_size(128 * 1024)
        .max_write_buffer_size(8 * 1024 * 1024)
}

/// SHA-256 of the one relay certificate (DER) a link trusts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Pin(pub [u8; 32]);

impl Pin {
    /// Parse 64 hex digits (case-insensitive, `:` separators allowed).
    pub fn from_hex(text: &str) -> Result<Self, LinkError> {
        let clean: String = text.chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(clean.trim()).map_err(|_| LinkError::BadPin)?;
        Ok(Self(bytes.try_into().map_err(|_| LinkError::BadPin)?))
    }
    /// The pin of a DER certificate.
    pub fn of_cert(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pin({})", self.to_hex())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("the certificate fingerprint must be 64 hex digits (SHA-256)")]
    BadPin,
    #[error("the relay address must start with wss:// (got {0})")]
    NotTls(String),
    #[error(
        "the relay presented a different certificate than this program trusts ({0}); not connecting"
    )]
    WrongCertificate(String),
    #[error("could not reach the relay: {0}")]
    Connect(String),
    #[error("the relay refused the connection: HTTP {0}")]
    Refused(u16),
}

/// Trusts exactly one certificate by its SHA-256; signatures are still
/// checked with the provider's algorithms, so the peer must hold the key.
#[derive(Debug)]
struct PinVerifier {
    pin: Pin,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let got = Pin::of_cert(end_entity.as_ref());
        if got == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "certificate sha256 {} is not the pinned {}",
                got.to_hex(),
                self.pin.to_hex()
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls client config that trusts only `pin` (TLS 1.2 and 1.3).
pub fn pinned_tls_config(pin: Pin) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("ring supports TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinVerifier { pin, provider }))
        .with_no_client_auth();
    Arc::new(config)
}

/// Open a WebSocket to `url` (`wss://host:port/path?query`) trusting only
/// `pin`. `bearer` adds `Authorization: Bearer …` (technician links).
/// TCP_NODELAY is set.
pub async fn connect(url: &str, pin: Pin, bearer: Option<&str>) -> Result<WsStream, LinkError> {
    if !url.starts_with("wss://") {
        return Err(LinkError::NotTls(url.to_owned()));
    }
    let mut request = url
        .into_client_request()
        .map_err(|e| LinkError::Connect(e.to_string()))?;
    if let Some(token) = bearer {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| LinkError::Connect("token is not a valid header value".into()))?;
        request.headers_mut().insert("authorization", value);
    }
    let connector = Connector::Rustls(pinned_tls_config(pin));
    match tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(ws_config()),
        true,
        Some(connector),
    )
    .await
    {
        Ok((ws, _response)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => {
            Err(LinkError::Refused(response.status().as_u16()))
        }
        Err(e) => {
            let text = e.to_string();
            if text.contains("is not the pinned") {
                Err(LinkError::WrongCertificate(text))
            } else {
                Err(LinkError::Connect(text))
            }
        }
    }
}

/// Sender side of exactly-once delivery: numbers reliable messages and
/// keeps them until the peer acknowledges them.
#[derive(Debug, Default)]
pub struct Outbox {
    next: u64,
    pending: VecDeque<Envelope>,
}

impl Outbox {
    /// Number `env` if its message is reliable (keeping a copy) and return
    /// what to send.
    pub fn stamp(&mut self, mut env: Envelope) -> Envelope {
        if env.msg.is_reliable() {
            self.next += 1;
            env.seq = Some(self.next);
            self.pending.push_back(env.clone());
        }
        env
    }
    /// The peer has everything up to and including `seq`.
    pub fn ack(&mut self, seq: u64) {
        while self
            .pending
            .front()
            .is_some_and(|e| e.seq.is_some_and(|s| s <= seq))
        {
            self.pending.pop_front();
        }
    }
    /// What to send again after a reconnect (oldest first).
    pub fn unacked(&self) -> impl Iterator<Item = &Envelope> {
        self.pending.iter()
    }
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

/// Receiver side: drops what was already seen.
///
/// The rule for what a receiver cannot take (docs/PROTOCOL.md §5): a text
/// frame that does not decode (too large, unknown type, a missing field)
/// but carries a `seq` uses that `seq` up like a message taken — it is
/// acknowledged and reported as an error ([`Inbox::refuse`]) — so the
/// messages after it are not dropped as a gap and the link never wedges.
/// The sender does not send it again. The relay answers with an `error`
/// whose `refused_seq` names it; clients and consoles report it to the
/// person in front of them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Inbox {
    last: u64,
}

impl Inbox {
    /// Whether `env` is new. Messages without `seq` are always new.
    /// A reliable message is accepted only as the next in order.
    pub fn accept(&mut self, env: &Envelope) -> bool {
        env.seq.is_none_or(|seq| self.take(seq))
    }

    /// Whether `seq` is the next in order (then it is used up).
    fn take(&mut self, seq: u64) -> bool {
        if seq == self.last + 1 {
            self.last = seq;
            true
        } else {
            false
        }
    }

    /// A text frame that did not decode: the `seq` it carries (if any)
    /// is used up when it is the next in order, like an accepted message.
    /// Returns that `seq`; the caller acknowledges [`Inbox::last`] and
    /// reports the refusal. None: the frame carried no `seq` (nothing to
    /// acknowledge).
    pub fn refuse(&mut self, text: &str) -> Option<u64> {
        let seq = lotse_protocol::numbered_seq(text)?;
        self.take(seq);
        Some(seq)
    }
    /// Highest sequence number received in order (for `ack` and `resume`).
    pub fn last(&self) -> u64 {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lotse_protocol::Message;

    fn chat(t: &str) -> Envelope {
        Envelope::new(Message::Chat {
            text: t.into(),
            from: None,
            at_ms: None,
        })
    }

    #[test]
    fn outbox_numbers_reliable_messages_and_forgets_acked() {
        let mut out = Outbox::default();
        assert_eq!(out.stamp(chat("a")).seq, Some(1));
        assert_eq!(out.stamp(Envelope::new(Message::Ack { seq: 3 })).seq, None);
        assert_eq!(out.stamp(chat("b")).seq, Some(2));
        out.ack(1);
        let left: Vec<_> = out.unacked().map(|e| e.seq).collect();
        assert_eq!(left, vec![Some(2)]);
    }

    #[test]
    fn inbox_drops_duplicates_and_gaps() {
        let mut inbox = Inbox::default();
        assert!(inbox.accept(&chat("a").with_seq(1)));
        assert!(!inbox.accept(&chat("a").with_seq(1)));
        assert!(!inbox.accept(&chat("c").with_seq(3)));
        assert!(inbox.accept(&chat("b").with_seq(2)));
        assert!(inbox.accept(&Envelope::new(Message::Nudge)));
        assert_eq!(inbox.last(), 2);
    }

    #[test]
    fn a_refused_message_uses_its_seq_up() {
        let mut inbox = Inbox::default();
        assert!(inbox.accept(&chat("a").with_seq(1)));
        // Undecodable (unknown type), too large, or missing a field: the
        // seq is used up so the next message is not a gap.
        assert_eq!(
            inbox.refuse(r#"{"seq":2,"type":"chatt","text":"x"}"#),
            Some(2)
        );
        let big = format!(
            r#"{{"seq":3,"type":"chat","text":"{}"}}"#,
            "x".repeat(lotse_protocol::MAX_TEXT_BYTES)
        );
        assert!(lotse_protocol::decode_text(&big).is_err());
        assert_eq!(inbox.refuse(&big), Some(3));
        assert_eq!(inbox.refuse(r#"{"seq":4,"type":"chat"}"#), Some(4));
        assert_eq!(inbox.last(), 4);
        assert!(inbox.accept(&chat("b").with_seq(5)));
        // A duplicate of a refused message is not taken twice; an ack's
        // seq and frames that are not JSON are no sequence numbers.
        assert_eq!(inbox.refuse(r#"{"seq":3,"type":"chatt"}"#), Some(3));
        assert_eq!(inbox.refuse(r#"{"type":"ack","seq":"x"}"#), None);
        assert_eq!(inbox.refuse("not json"), None);
        assert_eq!(inbox.last(), 5);
    }

    #[test]
    fn pin_parsing() {
        let hex = "AB:".repeat(31) + "AB";
        assert_eq!(Pin::from_hex(&hex).unwrap().0, [0xab; 32]);
        assert!(Pin::from_hex("abcd").is_err());
    }
}
