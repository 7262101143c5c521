//! One task per WebSocket: a reader (this task) and a writer task joined by
//! bounded channels. The reader enforces the limits — hello within the
//! handshake timeout, text at most 64 KiB (else close 1009), a message rate
//! (else close 1008), a strike count for bad messages, an idle timeout —
//! and hands each message to the hub. The writer pings at the configured
//! interval and sends control text before bulk binary.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lotse_protocol::{
    Envelope, ErrorCode, MAX_TEXT_BYTES, Message, PROTOCOL_VERSION, ProtocolError, Role, SiteInfo,
    decode_text, encode_text,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::auth::TokenInfo;
use crate::pairing::{Handled, Incoming, Link, Out};
use crate::server::Shared;

/// Who the upgrade admitted, decided before the 101 response.
#[derive(Debug, Clone)]
pub enum Admission {
    /// Full client; `key` from a ticket (None: public queue or empty key).
    Customer { key: Option<String> },
    /// Full client started by a `lotse://join?key=KEY` link: only takes
    /// the web chat session with that elevation key over (or resumes).
    Elevate { key: String },
    /// Browser web chat.
    Web,
    /// Technician login link.
    Login,
    /// Technician work link with a valid token.
    Technician(TokenInfo),
}

/// Token bucket for the per-connection message rate.
struct Rate {
    tokens: f64,
    per_sec: f64,
    burst: f64,
    last: Instant,
}

impl Rate {
    fn new(per_sec: u32, burst: u32) -> Self {
        Self {
            tokens: f64::from(burst),
            per_sec: f64::from(per_sec),
            burst: f64::from(burst),
            last: Instant::now(),
        }
    }
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn fatal(code: ErrorCode, text: &str) -> Out {
    Out::Text(encode_text(&Envelope::new(Message::Error {
        code,
        message: text.to_owned(),
        fatal: true,
        retry_after_secs: None,
        refused_seq: None,
    })))
}

fn plain(msg: Message) -> Out {
    Out::Text(encode_text(&Envelope::new(msg)))
}

/// What the reader got next.
enum Next {
    Text(String),
    Binary(Vec<u8>),
    /// Link over (closed, error, idle, killed); close frame already queued if any.
    Done,
}

struct Reader<S> {
    stream: futures_util::stream::SplitStream<WebSocketStream<S>>,
    link: Link,
    rate: Rate,
    strikes: u32,
    max_strikes: u32,
    idle: Duration,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Reader<S> {
    async fn next(&mut self) -> Next {
        loop {
            let item = tokio::select! {
                () = self.link.kill.notified() => {
                    let _ = self.link.ctrl.try_send(Out::Close(1008, "closed by the relay".into()));
                    return Next::Done;
                }
                _ = self.shutdown.changed() => {
                    let _ = self.link.ctrl.try_send(Out::Close(1001, "relay shutting down".into()));
                    return Next::Done;
                }
                item = timeout(self.idle, self.stream.next()) => item,
            };
            let msg = match item {
                Err(_) => {
                    let _ = self.link.ctrl.try_send(Out::Close(1001, "idle".into()));
                    return Next::Done;
                }
                Ok(None) => return Next::Done,
                Ok(Some(Err(e))) => {
                    use tokio_tungstenite::tungstenite::Error as E;
                    if let E::Capacity(_) = e {
                        let _ = self
                            .link
                            .ctrl
                            .try_send(fatal(ErrorCode::TooLarge, "frame too large"));
                        let _ = self
                            .link
                            .ctrl
                            .try_send(Out::Close(1009, "too large".into()));
                    }
                    tracing::debug!(error = %e, "link read ended");
                    return Next::Done;
                }
                Ok(Some(Ok(msg))) => msg,
            };
            match msg {
                Ws::Text(text) => {
                    if text.len() > MAX_TEXT_BYTES {
                        let _ = self.link.ctrl.try_send(fatal(
                            ErrorCode::TooLarge,
                            "text messages may be at most 64 KiB",
                        ));
                        let _ = self
                            .link
                            .ctrl
                            .try_send(Out::Close(1009, "message too large".into()));
                        return Next::Done;
                    }
                    if !self.rate.take() {
                        let _ = self.link.ctrl.try_send(fatal(
                            ErrorCode::RateLimited,
                            "too many messages per second",
                        ));
                        let _ = self
                            .link
                            .ctrl
                            .try_send(Out::Close(1008, "message rate exceeded".into()));
                        return Next::Done;
                    }
                    return Next::Text(text.as_str().to_owned());
                }
                Ws::Binary(data) => return Next::Binary(data.into()),
                Ws::Close(_) => return Next::Done,
                Ws::Ping(_) | Ws::Pong(_) | Ws::Frame(_) => {}
            }
        }
    }

    /// Count a bad message; true = too many, the link was told to close.
    fn strike(&mut self) -> bool {
        self.strikes += 1;
        if self.strikes >= self.max_strikes {
            let _ = self.link.ctrl.try_send(fatal(
                ErrorCode::BadState,
                "too many bad messages; closing the link",
            ));
            let _ = self
                .link
                .ctrl
                .try_send(Out::Close(1008, "too many bad messages".into()));
            return true;
        }
        false
    }

    /// Decode; on failure send the error (naming the refused `seq`, which
    /// the caller uses up and acknowledges: docs/PROTOCOL.md §5) and
    /// strike. `Err(true)`: too many strikes, the link was told to close.
    fn decode(&mut self, text: &str) -> Result<Envelope, bool> {
        self.refused(text, decode_text(text))
    }

    /// Like [`Reader::decode`], reading chat lines and input events
    /// without decoding them whole (`pairing::wire`).
    fn parse(&mut self, text: &str) -> Result<Incoming, bool> {
        self.refused(text, crate::pairing::wire::parse(text))
    }

    fn refused<T>(&mut self, text: &str, parsed: Result<T, ProtocolError>) -> Result<T, bool> {
        match parsed {
            Ok(msg) => Ok(msg),
            Err(e) => {
                let seq = lotse_protocol::numbered_seq(text);
                let _ = self.link.ctrl.try_send(plain(Message::refusal(
                    ErrorCode::Malformed,
                    format!("{e}"),
                    seq,
                )));
                Err(self.strike())
            }
        }
    }
}

async fn writer<S: AsyncRead + AsyncWrite + Unpin>(
    mut sink: futures_util::stream::SplitSink<WebSocketStream<S>, Ws>,
    mut ctrl: mpsc::Receiver<Out>,
    mut bulk: mpsc::Receiver<Out>,
    ping_every: Duration,
    stall: Duration,
) {
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    let mut bulk_open = true;
    loop {
        let out = tokio::select! {
            biased;
            o = ctrl.recv() => match o { Some(o) => o, None => break },
            o = bulk.recv(), if bulk_open => match o { Some(o) => o, None => { bulk_open = false; continue } },
            _ = ping.tick() => Out::Binary(Vec::new()),
        };
        let (frame, last) = match out {
            Out::Text(t) => (Ws::text(t), false),
            Out::Binary(b) if b.is_empty() => (Ws::Ping(Vec::new().into()), false),
            Out::Binary(b) => (Ws::binary(b), false),
            Out::Close(code, reason) => (
                Ws::Close(Some(CloseFrame {
                    code: CloseCode::from(code),
                    reason: reason.into(),
                })),
                true,
            ),
        };
        // Feed, and flush only when nothing else is waiting: under load
        // several messages share one TLS record and one system call.
        if !matches!(timeout(stall, sink.feed(frame)).await, Ok(Ok(()))) {
            break;
        }
        if (last || ctrl.is_empty() && (bulk.is_empty() || !bulk_open))
            && !matches!(timeout(stall, sink.flush()).await, Ok(Ok(())))
        {
            break;
        }
        if last {
            break;
        }
    }
    let _ = timeout(Duration::from_secs(2), sink.close()).await;
}

/// Serve one upgraded WebSocket until it ends.
pub async fn serve<S>(
    ws: WebSocketStream<S>,
    admission: Admission,
    shared: Arc<Shared>,
    ip: IpAddr,
    deadline: Instant,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let hub = shared.hub.clone();
    let limits = hub.config().limits.clone();
    let (link, ctrl_rx, bulk_rx) = hub.new_link(ip);
    let (sink, stream) = ws.split();
    let idle = Duration::from_secs(limits.idle_timeout_secs);
    let writer = tokio::spawn(writer(
        sink,
        ctrl_rx,
        bulk_rx,
        Duration::from_secs(limits.ping_interval_secs),
        idle,
    ));
    let mut reader = Reader {
        stream,
        link: link.clone(),
        rate: Rate::new(limits.messages_per_sec, limits.message_burst),
        strikes: 0,
        max_strikes: limits.max_strikes,
        idle,
        shutdown: shared.shutdown.clone(),
    };

    // ---- hello, within the handshake deadline ------------------------------
    let hello = tokio::select! {
        next = reader.next() => next,
        () = tokio::time::sleep_until(deadline) => {
            let _ = link.ctrl.try_send(fatal(ErrorCode::BadState, "no hello in time"));
            let _ = link.ctrl.try_send(Out::Close(1008, "handshake timeout".into()));
            Next::Done
        }
    };
    let hello = match hello {
        Next::Text(text) => match decode_text(&text) {
            Ok(env) => Some(env),
            Err(e) => {
                let _ = link
                    .ctrl
                    .try_send(fatal(ErrorCode::Malformed, &format!("{e}")));
                let _ = link
                    .ctrl
                    .try_send(Out::Close(1002, "malformed hello".into()));
                None
            }
        },
        Next::Binary(_) => {
            let _ = link.ctrl.try_send(fatal(
                ErrorCode::BadState,
                "the first message must be hello",
            ));
            let _ = link.ctrl.try_send(Out::Close(1002, "no hello".into()));
            None
        }
        Next::Done => None,
    };
    if let Some(env) = hello {
        run(&mut reader, env, &admission, &shared, ip).await;
    }
    drop(reader);
    drop(link);
    let _ = timeout(Duration::from_secs(3), writer).await;
}

async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut Reader<S>,
    hello: Envelope,
    admission: &Admission,
    shared: &Arc<Shared>,
    ip: IpAddr,
) {
    let link = reader.link.clone();
    let Message::Hello {
        version,
        role,
        lang,
        resume,
        ..
    } = hello.msg
    else {
        let _ = link.ctrl.try_send(fatal(
            ErrorCode::BadState,
            "the first message must be hello",
        ));
        let _ = link.ctrl.try_send(Out::Close(1002, "no hello".into()));
        return;
    };
    if version != PROTOCOL_VERSION {
        let _ = link.ctrl.try_send(fatal(
            ErrorCode::VersionMismatch,
            &format!(
                "this relay speaks protocol version {PROTOCOL_VERSION}, not {version}; please download the current program"
            ),
        ));
        let _ = link
            .ctrl
            .try_send(Out::Close(1002, "protocol version mismatch".into()));
        return;
    }
    let expected = match admission {
        Admission::Customer { .. } | Admission::Elevate { .. } => Role::Customer,
        Admission::Web => Role::WebCustomer,
        Admission::Login | Admission::Technician(_) => Role::Technician,
    };
    if role != expected {
        let _ = link
            .ctrl
            .try_send(fatal(ErrorCode::NotAllowed, "wrong role for this path"));
        let _ = link.ctrl.try_send(Out::Close(1008, "wrong role".into()));
        return;
    }
    let hub = &shared.hub;
    match admission {
        Admission::Customer { .. } | Admission::Web | Admission::Elevate { .. } => {
            let sid = match admission {
                Admission::Elevate { key } if resume.is_none() => {
                    let sid = hub.elevation_hello(&link, lang, key);
                    if sid.is_none() {
                        shared.keys.fail(&format!("ticket-ip:{ip}"));
                    }
                    sid
                }
                Admission::Customer { key } => {
                    hub.customer_hello(&link, role, lang, key.clone(), resume)
                }
                _ => hub.customer_hello(&link, role, lang, None, resume),
            };
            let Some(sid) = sid else {
                let _ = link.ctrl.try_send(Out::Close(1000, "session over".into()));
                return;
            };
            loop {
                match reader.next().await {
                    Next::Text(text) => {
                        let msg = match reader.parse(&text) {
                            Ok(msg) => msg,
                            Err(closed) => {
                                hub.customer_refused(sid, link.id, &text);
                                if closed {
                                    break;
                                }
                                continue;
                            }
                        };
                        match hub.customer_message(sid, link.id, msg) {
                            Handled::Ok => {}
                            Handled::Strike => {
                                if reader.strike() {
                                    break;
                                }
                            }
                            Handled::Close => break,
                        }
                    }
                    Next::Binary(frame) => {
                        if let Some((tx, out)) = hub.customer_binary(sid, frame) {
                            let _ = tx.send(out).await;
                        }
                    }
                    Next::Done => break,
                }
            }
            // The session waits the grace period for a resume.
            hub.customer_gone(sid, link.id);
        }
        Admission::Technician(info) => {
            // Revoking the token (logout, account removed) closes this link.
            if !shared.tokens.attach(&info.token, &link.kill) {
                let _ = link.ctrl.try_send(Out::Close(1008, "log in again".into()));
                return;
            }
            hub.tech_hello(&link, &info.user, &info.display_name);
            loop {
                match reader.next().await {
                    Next::Text(text) => {
                        let msg = match reader.parse(&text) {
                            Ok(msg) => msg,
                            Err(closed) => {
                                hub.tech_refused(link.id, &text);
                                if closed {
                                    break;
                                }
                                continue;
                            }
                        };
                        if let Incoming::Full(Envelope {
                            msg: Message::Logout,
                            ..
                        }) = msg
                        {
                            tracing::info!(user = info.user, "technician logged out");
                            let _ = link.ctrl.try_send(Out::Close(1000, "logged out".into()));
                            shared.tokens.revoke(&info.token);
                            break;
                        }
                        match hub.tech_message(link.id, msg) {
                            Handled::Ok => {}
                            Handled::Strike => {
                                if reader.strike() {
                                    break;
                                }
                            }
                            Handled::Close => break,
                        }
                    }
                    Next::Binary(frame) => {
                        if let Some((tx, out)) = hub.tech_binary(link.id, frame) {
                            let _ = tx.send(out).await;
                        }
                    }
                    Next::Done => break,
                }
            }
            hub.tech_gone(link.id);
        }
        Admission::Login => login(reader, shared, ip).await,
    }
}

/// `/ws/login`: exchange user + password for a token.
async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    reader: &mut Reader<S>,
    shared: &Arc<Shared>,
    ip: IpAddr,
) {
    let link = reader.link.clone();
    let _ = link.ctrl.try_send(plain(Message::Welcome {
        version: PROTOCOL_VERSION,
        session: None,
        resume_token: None,
        site: SiteInfo {
            name: shared.hub.config().site_name.clone(),
            hold_interval_secs: shared.hub.config().hold_interval_secs,
            watermark: shared.hub.config().watermark,
            ..SiteInfo::default()
        },
        last_seq: 0,
    }));
    loop {
        let text = match reader.next().await {
            Next::Text(text) => text,
            Next::Binary(_) => {
                if reader.strike() {
                    return;
                }
                continue;
            }
            Next::Done => return,
        };
        let env = match reader.decode(&text) {
            Ok(env) => env,
            Err(true) => return,
            Err(false) => continue,
        };
        let Message::Login { user, password } = env.msg else {
            if matches!(env.msg, Message::Ack { .. }) {
                continue;
            }
            let _ = link.ctrl.try_send(plain(Message::error(
                ErrorCode::NotAllowed,
                "only login is allowed here",
            )));
            if reader.strike() {
                return;
            }
            continue;
        };
        // Counted before hashing; at most a few hashes at once (see `auth`).
        let attempt = match shared.logins.begin(&user, ip) {
            Ok(attempt) => attempt,
            Err(wait) => {
                let _ = link.ctrl.try_send(plain(Message::Error {
                    code: ErrorCode::LockedOut,
                    message: "too many failed logins; try again later".into(),
                    fatal: false,
                    retry_after_secs: Some(wait.as_secs().max(1)),
                    refused_seq: None,
                }));
                continue;
            }
        };
        match shared.logins.verify(&shared.store, &user, password).await {
            Some(account) => {
                attempt.succeed();
                let token = shared.tokens.issue(&account);
                tracing::info!(user, %ip, "technician logged in");
                let _ = link.ctrl.try_send(plain(Message::LoginOk {
                    token,
                    display_name: account.display_name,
                }));
            }
            None => {
                tracing::warn!(%ip, "failed login");
                tokio::time::sleep(attempt.delay).await;
                let _ = link.ctrl.try_send(plain(Message::Error {
                    code: ErrorCode::LoginFailed,
                    message: "wrong user name or password".into(),
                    fatal: false,
                    retry_after_secs: None,
                    refused_seq: None,
                }));
            }
        }
    }
}
