//! Harness for tests against the real relay binary.
//!
//! * [`Relay::start`] / [`Relay::start_with_config`] run
//!   `target/<profile>/lotse-relay` on `127.0.0.1:0` with a temporary data
//!   directory and read the address and certificate fingerprint it prints.
//!   The harness builds nothing: run `cargo build -p lotse-relay` first
//!   (or set `LOTSE_RELAY_BIN`).
//! * [`Peer`] is a scripted WebSocket peer over [`lotse_link::connect`]
//!   (pinned TLS) that numbers its reliable messages and acknowledges the
//!   relay's automatically.
//!
//! Everything waits for events with timeouts; nothing sleeps.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lotse_link::tungstenite::Message as Ws;
use lotse_link::{Inbox, Outbox, Pin, WsStream};
use lotse_protocol::{Envelope, Lang, Message, PROTOCOL_VERSION, Role, decode_text, encode_text};

/// A relay configuration whose site skips its agreement, recording prompt
/// and survey: the customer goes straight to the name entry (those steps
/// have their own UI tests). For the window tests and their stress script.
pub const STRAIGHT_TO_NAME: &str = r#"
site_name = "Beispiel Support"
[texts.en]
agreement = ""
recording_prompt = ""
survey = ""
"#;

/// Default time to wait for an expected event.
pub const WAIT: Duration = Duration::from_secs(15);

/// A running relay process with its own data directory.
pub struct Relay {
    /// `https://127.0.0.1:PORT`
    pub url: String,
    /// `wss://127.0.0.1:PORT`
    pub ws: String,
    pub addr: std::net::SocketAddr,
    /// What the harness names in its requests' `Host` header: the relay's
    /// public address (`public_url`), by default `addr`.
    pub host: String,
    /// The certificate pin the relay printed.
    pub pin: Pin,
    pub pin_hex: String,
    pub data_dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
    child: Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

/// Find a binary of the workspace in the target directory of the running
/// test (`target/<profile>/NAME`).
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test> → target/<profile>/
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    dir.join(name)
}

/// The relay binary (`LOTSE_RELAY_BIN` or `target/<profile>/lotse-relay`).
pub fn relay_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("LOTSE_RELAY_BIN") {
        return PathBuf::from(p);
    }
    let path = workspace_binary("lotse-relay");
    assert!(
        path.exists(),
        "{} does not exist: run `cargo build -p lotse-relay -p lotse-client` before the end-to-end tests",
        path.display()
    );
    path
}

impl Relay {
    /// A relay with the default configuration.
    pub fn start() -> Self {
        Self::start_with_config("")
    }

    /// A relay whose `relay.toml` is `toml` (missing keys take defaults).
    pub fn start_with_config(toml: &str) -> Self {
        match Self::try_start_with_config(toml) {
            Ok(relay) => relay,
            Err(stderr) => panic!("the relay did not start:\n{stderr}"),
        }
    }

    /// Like [`Relay::start_with_config`], but returns the relay's stderr
    /// when it exits instead of starting (e.g. a bad config).
    pub fn try_start_with_config(toml: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("relay.toml"), toml).expect("write relay.toml");
        let data_dir = dir.path().to_owned();
        Self::spawn(data_dir, Some(dir))
    }

    /// Start on an existing data directory (e.g. to restart a relay).
    pub fn start_in(data_dir: &Path) -> Result<Self, String> {
        Self::spawn(data_dir.to_owned(), None)
    }

    fn spawn(data_dir: PathBuf, dir: Option<tempfile::TempDir>) -> Result<Self, String> {
        let mut child = Command::new(relay_binary())
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lotse-relay");
        let stderr_text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr_thread = {
            let mut err = child.stderr.take().expect("stderr");
            let text = stderr_text.clone();
            std::thread::Builder::new()
                .name("relay-stderr".into())
                .spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = err.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        if let Ok(mut t) = text.lock() {
                            t.push_str(&String::from_utf8_lossy(&buf[..n]));
                        }
                    }
                })
                .expect("thread")
        };
        let (tx, rx) = mpsc::channel::<String>();
        let out = child.stdout.take().expect("stdout");
        std::thread::Builder::new()
            .name("relay-stdout".into())
            .spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .expect("thread");
        let mut url = None;
        let mut pin = None;
        while url.is_none() || pin.is_none() {
            match rx.recv_timeout(WAIT) {
                Ok(line) => {
                    if let Some(u) = line.strip_prefix("listening on ") {
                        url = Some(u.to_owned());
                    } else if let Some(p) = line.strip_prefix("certificate sha256 ") {
                        pin = Some(p.to_owned());
                    }
                }
                Err(_) => {
                    // Exited (bad config) or hung: wait for it to end, report stderr.
                    let _ = child.kill();
                    let _ = child.wait();
                    // The process is gone: its stderr reaches EOF.
                    let _ = stderr_thread.join();
                    let text = stderr_text.lock().map(|t| t.clone()).unwrap_or_default();
                    return Err(text);
                }
            }
        }
        let url = url.unwrap_or_default();
        let pin_hex = pin.unwrap_or_default();
        let addr = url
            .trim_start_matches("https://")
            .parse()
            .expect("relay address");
        Ok(Self {
            ws: url.replacen("https://", "wss://", 1),
            url,
            addr,
            host: addr.to_string(),
            pin: Pin::from_hex(&pin_hex).expect("pin"),
            pin_hex,
            data_dir,
            _dir: dir,
            child,
            stderr: stderr_text,
        })
    }

    /// Run `lotse-relay --data-dir DIR ARGS...`; returns stdout, panics on failure.
    pub fn cli(&self, args: &[&str]) -> String {
        self.cli_with_stdin(args, "")
    }

    /// Like [`Relay::cli`], but a failing command gives its stderr: e.g.
    /// `sessions show N` before the relay's writer has recorded session N
    /// (polling loops wait through that).
    pub fn try_cli(&self, args: &[&str]) -> Result<String, String> {
        let out = self.run_cli(args, "");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// The session's record (`sessions show SID`) once it holds every one
    /// of `needles`: the relay writes records on a thread of its own, so
    /// what just happened may not be in yet. Panics after [`WAIT`].
    pub fn wait_record(&self, sid: u64, needles: &[&str]) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let record = self
                .try_cli(&["sessions", "show", &sid.to_string()])
                .unwrap_or_default();
            if needles.iter().all(|n| record.contains(n)) {
                return record;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the record of session {sid} lacks one of {needles:?}:\n{record}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Like [`Relay::cli`] with `input` on stdin.
    pub fn cli_with_stdin(&self, args: &[&str], input: &str) -> String {
        let out = self.run_cli(args, input);
        assert!(
            out.status.success(),
            "lotse-relay {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn run_cli(&self, args: &[&str], input: &str) -> std::process::Output {
        let mut child = Command::new(relay_binary())
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run lotse-relay");
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(input.as_bytes());
        }
        child.wait_with_output().expect("lotse-relay output")
    }

    /// Add a technician account.
    pub fn add_user(&self, name: &str, password: &str) {
        self.cli_with_stdin(&["user", "add", name], &format!("{password}\n"));
    }

    /// `wss://…` + `path`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("{}{path}", self.ws)
    }

    /// What the relay logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Process id (for CPU measurements).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// One HTTPS GET over pinned TLS: (status, headers, body).
    pub async fn http_get(&self, path: &str) -> (u16, String, Vec<u8>) {
        self.http_get_with(path, &[]).await
    }

    /// Like [`Relay::http_get`] with extra request headers
    /// (e.g. `("Authorization", "Bearer TOKEN")`).
    pub async fn http_get_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, String, Vec<u8>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        lotse_link::install_crypto_provider();
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        let connector = tokio_rustls::TlsConnector::from(lotse_link::pinned_tls_config(self.pin));
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut tls = connector.connect(name, tcp).await.expect("TLS");
        let extra: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{extra}\r\n",
            self.host
        );
        tls.write_all(request.as_bytes()).await.expect("write");
        let mut response = Vec::new();
        let _ = tokio::time::timeout(WAIT, tls.read_to_end(&mut response)).await;
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("HTTP response head");
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head, response[split + 4..].to_vec())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a peer received.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Text(Envelope),
    Binary(Vec<u8>),
    /// The relay closed the link (close code if any).
    Closed(Option<u16>),
}

/// A scripted WebSocket peer.
pub struct Peer {
    ws: WsStream,
    outbox: Outbox,
    inbox: Inbox,
    /// Customers: the session id from `welcome`.
    pub session: Option<u64>,
    /// Customers: the resume token from `welcome`.
    pub resume_token: Option<String>,
    /// The `welcome` message.
    pub welcome: Option<Message>,
    /// Everything received so far (text messages), oldest first.
    pub log: Vec<Envelope>,
    /// Whether to acknowledge reliable messages automatically (default on).
    pub auto_ack: bool,
}

impl Peer {
    /// Open a link to `path` (e.g. `/ws/customer`), optionally with a bearer token.
    pub async fn connect(
        relay: &Relay,
        path: &str,
        bearer: Option<&str>,
    ) -> Result<Self, lotse_link::LinkError> {
        lotse_link::install_crypto_provider();
        if relay.host != relay.addr.to_string() {
            // The relay's public address is not where it listens (a proxy
            // in front of it): name the public one.
            return Self::connect_from(relay, relay.addr.ip(), path, bearer).await;
        }
        let ws = lotse_link::connect(&relay.ws_url(path), relay.pin, bearer).await?;
        Ok(Self {
            ws,
            outbox: Outbox::default(),
            inbox: Inbox::default(),
            session: None,
            resume_token: None,
            welcome: None,
            log: Vec::new(),
            auto_ack: true,
        })
    }

    /// Like [`Peer::connect`], but from the local address `source` (any
    /// 127.x.y.z works on Linux loopback): a second "computer" for tests
    /// of per-address limits.
    pub async fn connect_from(
        relay: &Relay,
        source: std::net::IpAddr,
        path: &str,
        bearer: Option<&str>,
    ) -> Result<Self, lotse_link::LinkError> {
        use lotse_link::tungstenite::client::IntoClientRequest;
        lotse_link::install_crypto_provider();
        let failed = |e: String| lotse_link::LinkError::Connect(e);
        let socket = tokio::net::TcpSocket::new_v4().map_err(|e| failed(e.to_string()))?;
        socket
            .bind(std::net::SocketAddr::new(source, 0))
            .map_err(|e| failed(format!("bind {source}: {e}")))?;
        let tcp = socket
            .connect(relay.addr)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let mut request = relay
            .ws_url(path)
            .into_client_request()
            .map_err(|e| failed(e.to_string()))?;
        request.headers_mut().insert(
            "host",
            relay.host.parse().map_err(|_| failed("bad host".into()))?,
        );
        if let Some(token) = bearer {
            request.headers_mut().insert(
                "authorization",
                format!("Bearer {token}")
                    .parse()
                    .map_err(|_| failed("bad token".into()))?,
            );
        }
        let connector =
            tokio_tungstenite::Connector::Rustls(lotse_link::pinned_tls_config(relay.pin));
        let ws = match tokio_tungstenite::client_async_tls_with_config(
            request,
            tcp,
            Some(lotse_link::ws_config()),
            Some(connector),
        )
        .await
        {
            Ok((ws, _)) => ws,
            Err(lotse_link::tungstenite::Error::Http(r)) => {
                return Err(lotse_link::LinkError::Refused(r.status().as_u16()));
            }
            Err(e) => return Err(failed(e.to_string())),
        };
        Ok(Self::over(ws))
    }

    fn over(ws: WsStream) -> Self {
        Self {
            ws,
            outbox: Outbox::default(),
            inbox: Inbox::default(),
            session: None,
            resume_token: None,
            welcome: None,
            log: Vec::new(),
            auto_ack: true,
        }
    }

    /// Open a web chat link (`/ws/web`) with the browser's `Origin` header
    /// (the relay's own origin unless `origin` is given).
    pub async fn connect_web(
        relay: &Relay,
        origin: Option<&str>,
    ) -> Result<Self, lotse_link::LinkError> {
        use lotse_link::tungstenite::client::IntoClientRequest;
        lotse_link::install_crypto_provider();
        let mut request = relay
            .ws_url(lotse_protocol::paths::WEB)
            .into_client_request()
            .map_err(|e| lotse_link::LinkError::Connect(e.to_string()))?;
        let origin = origin.map_or_else(|| relay.url.clone(), str::to_owned);
        request.headers_mut().insert(
            "origin",
            origin
                .parse()
                .map_err(|_| lotse_link::LinkError::Connect("bad origin".into()))?,
        );
        let connector =
            tokio_tungstenite::Connector::Rustls(lotse_link::pinned_tls_config(relay.pin));
        let ws = match tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(lotse_link::ws_config()),
            true,
            Some(connector),
        )
        .await
        {
            Ok((ws, _)) => ws,
            Err(lotse_link::tungstenite::Error::Http(r)) => {
                return Err(lotse_link::LinkError::Refused(r.status().as_u16()));
            }
            Err(e) => return Err(lotse_link::LinkError::Connect(e.to_string())),
        };
        Ok(Self {
            ws,
            outbox: Outbox::default(),
            inbox: Inbox::default(),
            session: None,
            resume_token: None,
            welcome: None,
            log: Vec::new(),
            auto_ack: true,
        })
    }

    /// Send `hello` for `role` and wait for `welcome` (returned). Panics on an error answer.
    pub async fn hello(&mut self, role: Role) -> Message {
        self.send(hello(role)).await;
        let env = self
            .recv_until(
                |e| matches!(e.msg, Message::Welcome { .. } | Message::Error { .. }),
                WAIT,
            )
            .await;
        let Message::Welcome {
            session,
            resume_token,
            ..
        } = &env.msg
        else {
            panic!("hello refused: {:?}", env.msg);
        };
        self.session = *session;
        self.resume_token.clone_from(resume_token);
        self.welcome = Some(env.msg.clone());
        env.msg
    }

    /// A customer on the public queue: hello + join with `name`.
    pub async fn customer(relay: &Relay, name: &str) -> Self {
        let mut peer = Self::connect(relay, lotse_protocol::paths::CUSTOMER, None)
            .await
            .expect("customer connect");
        peer.hello(Role::Customer).await;
        peer.send(Message::Join {
            name: name.into(),
            problem: None,
        })
        .await;
        peer
    }

    /// Reconnect a cut customer: hello with `resume`, continuing the
    /// receive numbering after `last_seq` (what the old link had received).
    pub async fn resume(relay: &Relay, session: u64, token: &str, last_seq: u64) -> Self {
        let mut peer = Self::connect(relay, lotse_protocol::paths::CUSTOMER, None)
            .await
            .expect("customer reconnect");
        for seq in 1..=last_seq {
            peer.inbox
                .accept(&Envelope::new(Message::ShareStop).with_seq(seq));
        }
        peer.send(Message::Hello {
            version: PROTOCOL_VERSION,
            role: Role::Customer,
            agent: "lotse-e2e".into(),
            lang: Lang::En,
            resume: Some(lotse_protocol::Resume {
                session,
                token: token.to_owned(),
                last_seq,
            }),
        })
        .await;
        let env = peer
            .recv_until(
                |e| matches!(e.msg, Message::Welcome { .. } | Message::Error { .. }),
                WAIT,
            )
            .await;
        let Message::Welcome {
            session,
            resume_token,
            ..
        } = &env.msg
        else {
            panic!("resume refused: {:?}", env.msg);
        };
        peer.session = *session;
        peer.resume_token.clone_from(resume_token);
        peer.welcome = Some(env.msg.clone());
        peer
    }

    /// Log in over `/ws/login`; returns the token or the error message.
    pub async fn login(relay: &Relay, user: &str, password: &str) -> Result<String, Message> {
        let peer = Self::connect(relay, lotse_protocol::paths::LOGIN, None)
            .await
            .expect("login connect");
        peer.login_on(user, password).await
    }

    /// Like [`Peer::login`], from the local address `source`.
    pub async fn login_from(
        relay: &Relay,
        source: std::net::IpAddr,
        user: &str,
        password: &str,
    ) -> Result<String, Message> {
        let peer = Self::connect_from(relay, source, lotse_protocol::paths::LOGIN, None)
            .await
            .expect("login connect");
        peer.login_on(user, password).await
    }

    /// hello + `login` on a fresh `/ws/login` link: the token or the error.
    pub async fn login_on(mut self, user: &str, password: &str) -> Result<String, Message> {
        let peer = &mut self;
        peer.hello(Role::Technician).await;
        peer.send(Message::Login {
            user: user.into(),
            password: password.into(),
        })
        .await;
        let env = peer
            .recv_until(
                |e| matches!(e.msg, Message::LoginOk { .. } | Message::Error { .. }),
                WAIT,
            )
            .await;
        match env.msg {
            Message::LoginOk { token, .. } => Ok(token),
            other => Err(other),
        }
    }

    /// A technician: login, connect to `/ws/technician`, hello.
    pub async fn technician(relay: &Relay, user: &str, password: &str) -> Self {
        let token = Self::login(relay, user, password).await.expect("login");
        let mut peer = Self::connect(relay, lotse_protocol::paths::TECHNICIAN, Some(&token))
            .await
            .expect("technician connect");
        peer.hello(Role::Technician).await;
        peer
    }

    /// Send a message (numbered if reliable).
    pub async fn send(&mut self, msg: Message) {
        let env = self.outbox.stamp(Envelope::new(msg));
        self.send_env(env).await;
    }

    /// Send a message for `session` (technicians).
    pub async fn send_for(&mut self, session: u64, msg: Message) {
        let env = self.outbox.stamp(Envelope::new(msg).with_session(session));
        self.send_env(env).await;
    }

    /// Send an envelope as is.
    pub async fn send_env(&mut self, env: Envelope) {
        self.send_text(encode_text(&env)).await;
    }

    /// Send raw text (for malformed input).
    pub async fn send_text(&mut self, text: String) {
        // A link the relay closed shows up on the next receive.
        let _ = self.ws.send(Ws::text(text)).await;
    }

    /// Send a binary frame.
    pub async fn send_binary(&mut self, data: Vec<u8>) {
        let _ = self.ws.send(Ws::binary(data)).await;
    }

    /// The next thing from the relay, or None after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Incoming> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let item = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match item {
                None => return Some(Incoming::Closed(None)),
                Some(Err(_)) => return Some(Incoming::Closed(None)),
                Some(Ok(Ws::Text(text))) => {
                    let env = decode_text(text.as_str()).expect("relay sent a valid envelope");
                    if env.msg.is_reliable() && env.seq.is_some() {
                        let fresh = self.inbox.accept(&env);
                        if self.auto_ack {
                            let ack = encode_text(&Envelope::new(Message::Ack {
                                seq: self.inbox.last(),
                            }));
                            let _ = self.ws.send(Ws::text(ack)).await;
                        }
                        if !fresh {
                            continue;
                        }
                    }
                    if let Message::Ack { seq } = env.msg {
                        self.outbox.ack(seq);
                    }
                    self.log.push(env.clone());
                    return Some(Incoming::Text(env));
                }
                Some(Ok(Ws::Binary(data))) => return Some(Incoming::Binary(data.into())),
                Some(Ok(Ws::Close(frame))) => {
                    return Some(Incoming::Closed(frame.map(|f| u16::from(f.code))));
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Wait for a text message matching `pred` (others are skipped but
    /// kept in `log`). Panics with what arrived if none does in `timeout`.
    pub async fn recv_until(
        &mut self,
        mut pred: impl FnMut(&Envelope) -> bool,
        timeout: Duration,
    ) -> Envelope {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(Incoming::Text(env)) if pred(&env) => return env,
                Some(Incoming::Text(_) | Incoming::Binary(_)) => {}
                Some(Incoming::Closed(code)) => {
                    panic!(
                        "link closed ({code:?}) while waiting; received: {:#?}",
                        self.log
                    )
                }
                None => panic!("timed out waiting; received: {:#?}", self.log),
            }
        }
    }

    /// Technician: take session `sid` from the queue and wait for its
    /// `session_started` (returned).
    pub async fn accept(&mut self, sid: u64, timeout: Duration) -> Envelope {
        self.send(Message::Accept { session: sid }).await;
        self.recv_until(
            |e| matches!(&e.msg, Message::SessionStarted { session, .. } if *session == sid),
            timeout,
        )
        .await
    }

    /// Technician: serve `customer` (a customer link of this relay) once
    /// the queue lists it; returns when both sides know (`session_started`
    /// here, `technician_joined` there). The session id.
    pub async fn serve(&mut self, customer: &mut Peer, timeout: Duration) -> u64 {
        let sid = customer.session.expect("a customer link has a session");
        self.recv_until(
            |e| matches!(&e.msg, Message::Queue { entries, .. } if entries.iter().any(|q| q.session == sid)),
            timeout,
        )
        .await;
        self.accept(sid, timeout).await;
        customer
            .recv_until(
                |e| matches!(e.msg, Message::TechnicianJoined { .. }),
                timeout,
            )
            .await;
        sid
    }

    /// Technician: wait until the queue lists a customer whose name starts
    /// with `name`, take that session and wait for its `session_started`;
    /// its session id.
    pub async fn accept_waiting(&mut self, name: &str, timeout: Duration) -> u64 {
        let env = self
            .recv_until(
                |e| {
                    matches!(&e.msg, Message::Queue { entries, .. }
                        if entries.iter().any(|q| q.name.starts_with(name)))
                },
                timeout,
            )
            .await;
        let Message::Queue { entries, .. } = env.msg else {
            unreachable!("matched a queue")
        };
        let sid = entries
            .iter()
            .find(|q| q.name.starts_with(name))
            .map(|q| q.session)
            .expect("matched an entry");
        self.accept(sid, timeout).await;
        sid
    }

    /// Wait for a binary frame.
    pub async fn recv_binary(&mut self, timeout: Duration) -> Vec<u8> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(Incoming::Binary(data)) => return data,
                Some(Incoming::Text(_)) => {}
                other => panic!("no binary frame: {other:?}"),
            }
        }
    }

    /// Wait until the relay closes the link; returns the close code.
    pub async fn expect_close(&mut self, timeout: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(Incoming::Closed(code)) => return code,
                Some(_) => {}
                None => panic!("the link stayed open; received: {:#?}", self.log),
            }
        }
    }

    /// Close the link from this side.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        // Drain until the relay confirms.
        let _ = tokio::time::timeout(WAIT, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }

    /// Drop the TCP connection without a close handshake (a cut).
    pub fn cut(self) {
        drop(self);
    }

    /// Highest seq received from the relay (for `resume`).
    pub fn last_seq(&self) -> u64 {
        self.inbox.last()
    }

    /// Messages the relay has not acknowledged yet.
    pub fn unacked(&self) -> Vec<Envelope> {
        self.outbox.unacked().cloned().collect()
    }
}

/// `hello` for `role` in English, this protocol version.
pub fn hello(role: Role) -> Message {
    Message::Hello {
        version: PROTOCOL_VERSION,
        role,
        agent: "lotse-e2e".into(),
        lang: Lang::En,
        resume: None,
    }
}

impl Peer {
    /// [`Peer::technician`] from the local address `from`.
    pub async fn technician_from(
        relay: &Relay,
        user: &str,
        password: &str,
        from: std::net::IpAddr,
    ) -> Self {
        let token = match Self::login_from(relay, from, user, password).await {
            Ok(token) => token,
            Err(msg) => panic!("login refused: {msg:?}"),
        };
        let mut peer =
            Self::connect_from(relay, from, lotse_protocol::paths::TECHNICIAN, Some(&token))
                .await
                .expect("technician connect");
        peer.hello(Role::Technician).await;
        peer
    }
}

/// A TCP connection to the relay from the local address `from`.
pub async fn connect_tcp_from(
    relay: &Relay,
    from: std::net::IpAddr,
) -> std::io::Result<tokio::net::TcpStream> {
    let socket = match from {
        std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.bind(std::net::SocketAddr::new(from, 0))?;
    let tcp = socket.connect(relay.addr).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}
