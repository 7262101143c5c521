//! The network side: one tokio task that logs in, keeps the technician's
//! work link to the relay up (reconnecting with jittered backoff), feeds
//! what arrives into the [`Core`] and sends what the core wants sent.
//! The UI and the headless driver talk to it through bounded channels.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lotse_link::tungstenite::Message as WsMessage;
use lotse_link::{LinkError, Pin, WsStream};
use lotse_protocol::{
    Envelope, ErrorCode, Lang, Message, PROTOCOL_VERSION, Role, decode_text, encode_text, paths,
};
use rand::Rng;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::core::{Command, Core, Event, ScreenPatch};

/// How long to wait for the relay's answer during login and handshakes.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest pause between reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What the UI or the headless driver asks the network task to do.
#[derive(Debug)]
pub enum Request {
    /// Connect once and report the relay's certificate hash (trust on first use).
    FetchCertificate {
        url: String,
    },
    /// Log in; `pin: None` trusts the certificate presented now (and reports it).
    Login {
        url: String,
        pin: Option<Pin>,
        user: String,
        password: String,
    },
    Command(Command),
    /// Read an avatar image file and send the profile.
    ProfileWithAvatar {
        display_name: String,
        path: PathBuf,
    },
    /// Write a session's screen as PNG.
    SaveScreen {
        session: u64,
        path: PathBuf,
    },
    /// Count this colour (RGB) in every screen update (`None`: stop).
    WatchColour(Option<[u8; 3]>),
    Logout,
}

/// What the network task reports back.
#[derive(Debug)]
pub enum Update {
    Event(Event),
    /// Changed screen pixels (only when the engine was started for a UI).
    Patch(ScreenPatch),
}

/// The console's end of the network task.
#[derive(Clone)]
pub struct EngineHandle {
    pub requests: mpsc::Sender<Request>,
    /// The shared core; lock only briefly (the network task holds it only
    /// while applying one message).
    pub core: Arc<Mutex<Core>>,
}

impl EngineHandle {
    pub fn core(&self) -> MutexGuard<'_, Core> {
        lock(&self.core)
    }
    /// Queue a request without waiting (UI thread). False when the queue is full.
    pub fn try_send(&self, request: Request) -> bool {
        self.requests.try_send(request).is_ok()
    }
}

fn lock(core: &Mutex<Core>) -> MutexGuard<'_, Core> {
    core.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Called after updates were queued, e.g. to wake the UI for a repaint.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// Start the network task on `runtime`.
pub fn spawn(
    runtime: &tokio::runtime::Handle,
    want_patches: bool,
    wake: Wake,
) -> (EngineHandle, mpsc::Receiver<Update>) {
    lotse_link::install_crypto_provider();
    let (req_tx, req_rx) = mpsc::channel(64);
    let (up_tx, up_rx) = mpsc::channel(256);
    let core = Arc::new(Mutex::new(Core::new("", want_patches)));
    let engine = Engine {
        core: core.clone(),
        updates: up_tx,
        wake,
        creds: None,
        link: None,
        failures: 0,
        retry_at: None,
        want_patches,
    };
    runtime.spawn(engine.run(req_rx));
    (
        EngineHandle {
            requests: req_tx,
            core,
        },
        up_rx,
    )
}

/// `wss://host:port` from what a user typed (`https://…`, `wss://…` or `host:port`).
pub fn relay_base(url: &str) -> Result<String, LinkError> {
    let url = url.trim();
    let rest = url
        .strip_prefix("wss://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    if rest.contains("://") || rest.is_empty() {
        return Err(LinkError::NotTls(url.to_owned()));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(LinkError::NotTls(url.to_owned()));
    }
    Ok(format!("wss://{authority}"))
}

struct Creds {
    base: String,
    pin: Pin,
    token: String,
}

struct Engine {
    core: Arc<Mutex<Core>>,
    updates: mpsc::Sender<Update>,
    wake: Wake,
    creds: Option<Creds>,
    link: Option<WsStream>,
    failures: u32,
    retry_at: Option<Instant>,
    want_patches: bool,
}

enum Step {
    Request(Option<Request>),
    Frame(Option<Result<WsMessage, lotse_link::tungstenite::Error>>),
    Retry,
}

impl Engine {
    async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        loop {
            let retry_at = self.retry_at;
            let step = tokio::select! {
                r = requests.recv() => Step::Request(r),
                f = next_frame(&mut self.link) => Step::Frame(f),
                () = sleep_until(retry_at) => Step::Retry,
            };
            match step {
                Step::Request(None) => break,
                Step::Request(Some(r)) => self.request(r).await,
                Step::Frame(f) => self.frame(f),
                Step::Retry => {
                    self.retry_at = None;
                    self.reconnect().await;
                }
            }
            self.flush().await;
        }
        if let Some(mut ws) = self.link.take() {
            let _ = ws.close(None).await;
        }
    }

    fn emit(&self, event: Event) {
        lock(&self.core).emit(event);
    }

    async fn request(&mut self, request: Request) {
        match request {
            Request::FetchCertificate { url } => match fetch_certificate(&url).await {
                Ok(pin) => self.emit(Event::Certificate {
                    sha256: pin.to_hex(),
                }),
                Err(e) => self.emit(Event::error(None, "connect", e.to_string())),
            },
            Request::Login {
                url,
                pin,
                user,
                password,
            } => self.login(&url, pin, &user, &password).await,
            Request::Command(cmd) => {
                let _ = lock(&self.core).command(cmd);
            }
            Request::ProfileWithAvatar { display_name, path } => {
                match tokio::fs::read(&path).await {
                    Ok(bytes) => {
                        let _ = lock(&self.core).command(Command::Profile {
                            display_name,
                            avatar: Some(bytes),
                        });
                    }
                    Err(e) => self.emit(Event::error(
                        None,
                        "bad_avatar",
                        format!("could not read {}: {e}", path.display()),
                    )),
                }
            }
            Request::WatchColour(rgb) => lock(&self.core).watch_colour(rgb),
            Request::SaveScreen { session, path } => {
                // Copy the pixels under the lock; encode and write without it.
                let pixels = lock(&self.core).sessions.get(&session).map(|s| {
                    (
                        s.screen.width(),
                        s.screen.height(),
                        s.screen.rgba().to_vec(),
                    )
                });
                let result = match pixels {
                    None => Err(format!("there is no session {session}")),
                    Some((width, height, rgba)) => {
                        crate::screen::save_png(width, height, rgba, &path)
                            .map(|()| (width, height))
                            .map_err(|e| e.to_string())
                    }
                };
                match result {
                    Ok((width, height)) => self.emit(Event::Saved {
                        session,
                        path,
                        width,
                        height,
                    }),
                    Err(message) => self.emit(Event::error(Some(session), "screen", message)),
                }
            }
            Request::Logout => {
                self.creds = None;
                self.retry_at = None;
                if let Some(mut ws) = self.link.take() {
                    // The relay revokes the token (best effort: a dead
                    // link's token still ends with its lifetime).
                    let logout = Envelope::new(Message::Logout);
                    let _ =
                        tokio::time::timeout(Duration::from_secs(2), send(&mut ws, &logout)).await;
                    let _ = ws.close(None).await;
                }
                *lock(&self.core) = Core::new("", self.want_patches);
                self.emit(Event::LoggedOut);
            }
        }
    }

    async fn login(&mut self, url: &str, pin: Option<Pin>, user: &str, password: &str) {
        let base = match relay_base(url) {
            Ok(b) => b,
            Err(e) => return self.emit(Event::error(None, "bad_url", e.to_string())),
        };
        let pin = match pin {
            Some(p) => p,
            None => match fetch_certificate(&base).await {
                Ok(p) => {
                    self.emit(Event::Certificate { sha256: p.to_hex() });
                    p
                }
                Err(e) => return self.emit(Event::error(None, "connect", e.to_string())),
            },
        };
        let (token, display_name) = match login_exchange(&base, pin, user, password).await {
            Ok(x) => x,
            Err(LoginError::Relay { code, message }) => {
                return self.emit(Event::error(None, &code, message));
            }
            Err(LoginError::Other(message)) => {
                return self.emit(Event::error(None, "connect", message));
            }
        };
        if let Some(mut ws) = self.link.take() {
            let _ = ws.close(None).await;
        }
        *lock(&self.core) = Core::new(display_name.clone(), self.want_patches);
        self.emit(Event::LoggedIn { display_name });
        self.creds = Some(Creds { base, pin, token });
        self.failures = 0;
        self.reconnect().await;
    }

    /// Open the work link with the token (first time or after a cut).
    async fn reconnect(&mut self) {
        let Some(creds) = &self.creds else { return };
        match work_link(creds).await {
            Ok(ws) => {
                self.link = Some(ws);
                let reconnect = self.failures > 0;
                self.failures = 0;
                let mut core = lock(&self.core);
                core.emit(Event::Connected { reconnect });
                core.link_up(reconnect);
            }
            Err(LoginError::Relay { code, message }) if code == "login_required" => {
                self.creds = None;
                self.emit(Event::error(None, &code, message));
                self.emit(Event::LoggedOut);
            }
            Err(e) => {
                self.failures += 1;
                let message = match e {
                    LoginError::Relay { message, .. } | LoginError::Other(message) => message,
                };
                self.emit(Event::Disconnected { message });
                self.schedule_retry();
            }
        }
    }

    fn schedule_retry(&mut self) {
        // 0.5 s, 1 s, 2 s … capped, times a random factor in 0.5..1.5.
        let exp = self.failures.saturating_sub(1).min(6);
        let base = Duration::from_millis(500 * (1u64 << exp)).min(MAX_BACKOFF);
        let jitter = rand::rng().random_range(0.5..1.5);
        self.retry_at = Some(Instant::now() + base.mul_f64(jitter));
    }

    fn link_lost(&mut self, why: String) {
        self.link = None;
        if self.creds.is_some() {
            self.failures += 1;
            self.emit(Event::Disconnected { message: why });
            self.schedule_retry();
        }
    }

    fn frame(&mut self, frame: Option<Result<WsMessage, lotse_link::tungstenite::Error>>) {
        match frame {
            Some(Ok(WsMessage::Text(text))) => lock(&self.core).receive_frame(text.as_str()),
            Some(Ok(WsMessage::Binary(bytes))) => lock(&self.core).receive_binary(&bytes),
            Some(Ok(WsMessage::Close(_))) | None => {
                self.link_lost("the relay closed the connection".into());
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => self.link_lost(e.to_string()),
        }
    }

    /// Send what the core produced and pass events on.
    async fn flush(&mut self) {
        let (outgoing, events, patches) = {
            let mut core = lock(&self.core);
            (
                core.take_outgoing(),
                core.take_events(),
                core.take_patches(),
            )
        };
        if let Some(ws) = &mut self.link {
            let mut failed = None;
            for env in outgoing {
                if let Err(e) = ws.feed(WsMessage::text(encode_text(&env))).await {
                    failed = Some(e.to_string());
                    break;
                }
            }
            if failed.is_none()
                && let Err(e) = ws.flush().await
            {
                failed = Some(e.to_string());
            }
            if let Some(why) = failed {
                self.link_lost(why);
                // Anything lost here is still in the outbox and goes
                // again after the reconnect.
                let (events_now, patches_now) = {
                    let mut core = lock(&self.core);
                    (core.take_events(), core.take_patches())
                };
                self.deliver(events_now, patches_now).await;
            }
        }
        self.deliver(events, patches).await;
    }

    async fn deliver(&mut self, events: Vec<Event>, patches: Vec<ScreenPatch>) {
        let any = !events.is_empty() || !patches.is_empty();
        for p in patches {
            let _ = self.updates.send(Update::Patch(p)).await;
        }
        for e in events {
            let _ = self.updates.send(Update::Event(e)).await;
        }
        if any {
            (self.wake)();
        }
    }
}

async fn next_frame(
    link: &mut Option<WsStream>,
) -> Option<Result<WsMessage, lotse_link::tungstenite::Error>> {
    match link {
        Some(ws) => ws.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

enum LoginError {
    /// The relay said no (`code` is the wire error code).
    Relay {
        code: String,
        message: String,
    },
    Other(String),
}

impl From<LinkError> for LoginError {
    fn from(e: LinkError) -> Self {
        match e {
            LinkError::Refused(401 | 403) => LoginError::Relay {
                code: "login_required".into(),
                message: "the relay no longer accepts this login; log in again".into(),
            },
            other => LoginError::Other(other.to_string()),
        }
    }
}

fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "error".into())
}

fn hello() -> Envelope {
    Envelope::new(Message::Hello {
        version: PROTOCOL_VERSION,
        role: Role::Technician,
        agent: format!("lotse-console {}", env!("CARGO_PKG_VERSION")),
        lang: Lang::En,
        resume: None,
    })
}

async fn send(ws: &mut WsStream, env: &Envelope) -> Result<(), LoginError> {
    ws.send(WsMessage::text(encode_text(env)))
        .await
        .map_err(|e| LoginError::Other(e.to_string()))
}

/// The next JSON message (skipping pings), or the relay's error.
async fn next_message(ws: &mut WsStream) -> Result<Message, LoginError> {
    tokio::time::timeout(ANSWER_TIMEOUT, read_message(ws))
        .await
        .map_err(|_| LoginError::Other("the relay did not answer in time".into()))?
}

async fn read_message(ws: &mut WsStream) -> Result<Message, LoginError> {
    loop {
        match ws.next().await {
            Some(Ok(WsMessage::Text(text))) => {
                let env =
                    decode_text(text.as_str()).map_err(|e| LoginError::Other(e.to_string()))?;
                if let Message::Error {
                    code,
                    message,
                    retry_after_secs,
                    ..
                } = env.msg
                {
                    let message = match retry_after_secs {
                        Some(s) => format!("{message} (try again in {s} s)"),
                        None => message,
                    };
                    return Err(LoginError::Relay {
                        code: code_name(code),
                        message,
                    });
                }
                return Ok(env.msg);
            }
            Some(Ok(WsMessage::Close(_))) | None => {
                return Err(LoginError::Other("the relay closed the connection".into()));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(LoginError::Other(e.to_string())),
        }
    }
}

async fn expect_welcome(ws: &mut WsStream) -> Result<(), LoginError> {
    send(ws, &hello()).await?;
    match next_message(ws).await? {
        Message::Welcome { .. } => Ok(()),
        other => Err(LoginError::Other(format!(
            "the relay answered hello with {other:?}"
        ))),
    }
}

/// `/ws/login`: user and password for a token. The password is not kept.
async fn login_exchange(
    base: &str,
    pin: Pin,
    user: &str,
    password: &str,
) -> Result<(String, String), LoginError> {
    let mut ws = lotse_link::connect(&format!("{base}{}", paths::LOGIN), pin, None).await?;
    expect_welcome(&mut ws).await?;
    send(
        &mut ws,
        &Envelope::new(Message::Login {
            user: user.to_owned(),
            password: password.to_owned(),
        }),
    )
    .await?;
    let answer = next_message(&mut ws).await;
    let _ = ws.close(None).await;
    match answer? {
        Message::LoginOk {
            token,
            display_name,
        } => Ok((token, display_name)),
        other => Err(LoginError::Other(format!(
            "unexpected answer to login: {other:?}"
        ))),
    }
}

async fn work_link(creds: &Creds) -> Result<WsStream, LoginError> {
    let url = format!("{}{}", creds.base, paths::TECHNICIAN);
    let mut ws = lotse_link::connect(&url, creds.pin, Some(&creds.token)).await?;
    expect_welcome(&mut ws).await?;
    Ok(ws)
}

/// Accepts whatever certificate the relay presents (signatures are still
/// verified) so its hash can be shown to the technician. Used for one
/// handshake only; no data is exchanged over that connection.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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

/// Trust on first use: connect once and return the SHA-256 of the
/// certificate the relay presents.
pub async fn fetch_certificate(url: &str) -> Result<Pin, LinkError> {
    let base = relay_base(url)?;
    let authority = base.trim_start_matches("wss://");
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p))
            if !p.is_empty()
                && p.chars().all(|c| c.is_ascii_digit())
                && (!h.contains(':') || h.starts_with('[')) =>
        {
            (h, p.parse::<u16>().unwrap_or(443))
        }
        _ => (authority, 443),
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    tokio::time::timeout(ANSWER_TIMEOUT, presented_certificate(host, port))
        .await
        .map_err(|_| LinkError::Connect("the relay did not answer in time".into()))?
}

async fn presented_certificate(host: String, port: u16) -> Result<Pin, LinkError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| LinkError::Connect(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate { provider }))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from(host.clone()).map_err(|e| LinkError::Connect(e.to_string()))?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| LinkError::Connect(e.to_string()))?;
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| LinkError::Connect(e.to_string()))?;
    let (_, conn) = tls.get_ref();
    conn.peer_certificates()
        .and_then(|c| c.first())
        .map(|c| Pin::of_cert(c.as_ref()))
        .ok_or_else(|| LinkError::Connect("the relay presented no certificate".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_addresses_are_normalised() {
        assert_eq!(
            relay_base("https://127.0.0.1:4433").unwrap(),
            "wss://127.0.0.1:4433"
        );
        assert_eq!(
            relay_base(" wss://relay.example:443/ws/login ").unwrap(),
            "wss://relay.example:443"
        );
        assert_eq!(relay_base("relay.example").unwrap(), "wss://relay.example");
        assert!(relay_base("http://relay.example").is_err());
        assert!(relay_base("").is_err());
    }
}
