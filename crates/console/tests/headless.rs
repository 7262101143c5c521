//! The real `lotse-console --headless` binary against a scripted stand-in
//! relay on a pinned TLS WebSocket: the test plays the relay's part message
//! by message, so every frame the console sends is checked exactly.
//! (The end-to-end test with the real relay is `tests/tests/console.rs`.)

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use lotse_link::tungstenite::Message as WsMessage;
use lotse_protocol::{
    BinaryHeader, BinaryKind, ConsentRecord, ConsentTopic, EndReason, Envelope, ErrorCode,
    FLAG_LAST, InputEvent, Message, MouseButton, NoticeInfo, QueueEntry, Role, ShareScope,
    SiteInfo, decode_text, encode_text,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

const WAIT: Duration = Duration::from_secs(20);

/// What the test tells the stand-in relay to do on the technician link.
enum Out {
    Msg(Option<u64>, Message),
    Binary(Vec<u8>),
    /// Cut the connection (the console must reconnect).
    Cut,
}

struct FakeRelay {
    port: u16,
    pin: String,
    to_console: mpsc::Sender<Out>,
    from_console: mpsc::Receiver<Envelope>,
}

impl FakeRelay {
    async fn start() -> Self {
        lotse_link::install_crypto_provider();
        let key = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap();
        let der = key.cert.der().to_vec();
        let pin = hex::encode(Sha256::digest(&der));
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![der.into()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into()),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (to_console, out_rx) = mpsc::channel(64);
        let (seen_tx, from_console) = mpsc::channel(256);
        let out_rx = Arc::new(Mutex::new(out_rx));
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let out_rx = out_rx.clone();
                let seen_tx = seen_tx.clone();
                tokio::spawn(async move {
                    // A TOFU probe closes right after the handshake.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    serve(tls, out_rx, seen_tx).await;
                });
            }
        });
        Self {
            port,
            pin,
            to_console,
            from_console,
        }
    }

    fn url(&self) -> String {
        format!("wss://127.0.0.1:{}", self.port)
    }

    async fn send(&self, session: Option<u64>, msg: Message) {
        self.to_console.send(Out::Msg(session, msg)).await.unwrap();
    }

    /// The next message from the console matching `pred` (others skipped).
    async fn expect(&mut self, what: &str, pred: impl Fn(&Envelope) -> bool) -> Envelope {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let env = tokio::time::timeout_at(deadline, self.from_console.recv())
                .await
                .unwrap_or_else(|_| panic!("the relay never got {what}"))
                .expect("relay task alive");
            if pred(&env) {
                return env;
            }
        }
    }
}

async fn serve(
    tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    out_rx: Arc<Mutex<mpsc::Receiver<Out>>>,
    seen: mpsc::Sender<Envelope>,
) {
    let mut path = String::new();
    let mut bearer = None;
    // The error type is the one tungstenite's callback requires.
    #[allow(clippy::result_large_err)]
    let callback = |req: &lotse_link::tungstenite::handshake::server::Request,
                    resp: lotse_link::tungstenite::handshake::server::Response| {
        path = req.uri().path().to_owned();
        bearer = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok::<_, lotse_link::tungstenite::handshake::server::ErrorResponse>(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tls, callback).await else {
        return;
    };
    let next_text = |m: Option<Result<WsMessage, _>>| match m {
        Some(Ok(WsMessage::Text(t))) => decode_text(t.as_str()).ok(),
        _ => None,
    };
    let Some(hello) = next_text(ws.next().await) else {
        return;
    };
    assert!(matches!(
        hello.msg,
        Message::Hello {
            version: 1,
            role: Role::Technician,
            ..
        }
    ));
    let welcome = Message::Welcome {
        version: 1,
        session: None,
        resume_token: None,
        site: SiteInfo::default(),
        last_seq: 0,
    };
    let send = |m: Envelope| WsMessage::text(encode_text(&m));
    ws.send(send(Envelope::new(welcome))).await.unwrap();
    if path == "/ws/login" {
        let Some(login) = next_text(ws.next().await) else {
            return;
        };
        let answer = match login.msg {
            Message::Login { user, password } if user == "tom" && password == "right horse" => {
                Message::LoginOk {
                    token: "t0k3n".into(),
                    display_name: "Tom Tech".into(),
                }
            }
            _ => Message::Error {
                code: ErrorCode::LoginFailed,
                message: "wrong user name or password".into(),
                fatal: true,
                retry_after_secs: None,
                refused_seq: None,
            },
        };
        let _ = ws.send(send(Envelope::new(answer))).await;
        let _ = ws.close(None).await;
        return;
    }
    assert_eq!(path, "/ws/technician");
    assert_eq!(bearer.as_deref(), Some("Bearer t0k3n"));
    let _ = seen.send(hello).await;
    let mut out_rx = out_rx.lock().await;
    let mut seq = 0;
    loop {
        tokio::select! {
            m = ws.next() => {
                match m {
                    Some(Ok(WsMessage::Text(t))) => {
                        let env = decode_text(t.as_str()).expect("console sends valid JSON");
                        if let Some(s) = env.seq {
                            let ack = Envelope::new(Message::Ack { seq: s });
                            let _ = ws.send(send(ack)).await;
                        }
                        let _ = seen.send(env).await;
                    }
                    Some(Ok(_)) => {}
                    _ => return,
                }
            }
            out = out_rx.recv() => {
                match out {
                    Some(Out::Msg(session, msg)) => {
                        let mut env = Envelope::new(msg);
                        env.session = session;
                        if env.msg.is_reliable() {
                            seq += 1;
                            env.seq = Some(seq);
                        }
                        ws.send(send(env)).await.unwrap();
                    }
                    Some(Out::Binary(b)) => ws.send(WsMessage::binary(b)).await.unwrap(),
                    Some(Out::Cut) | None => return,
                }
            }
        }
    }
}

struct Console {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Console {
    fn start() -> Self {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_lotse-console"))
            .arg("--headless")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel(1024);
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                if tx.send(v).await.is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    async fn cmd(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// The next event named `name` (earlier other events are kept in `seen`).
    async fn event(&mut self, name: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = tokio::time::timeout_at(deadline, self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("no {name} event; saw {:#?}", self.seen))
                .expect("console still running");
            self.seen.push(v.clone());
            if v["event"] == name {
                return v;
            }
        }
    }
}

fn is(session: u64, m: &Envelope) -> Option<&Message> {
    (m.session == Some(session)).then_some(&m.msg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_console_serves_a_whole_session() {
    let mut relay = FakeRelay::start().await;
    let mut c = Console::start();
    let dir = tempfile::tempdir().unwrap();

    // Wrong password, certificate trusted on first use.
    c.cmd(&format!("login {} tofu tom wrong", relay.url()))
        .await;
    let cert = c.event("certificate").await;
    assert_eq!(cert["sha256"], relay.pin.as_str());
    let err = c.event("error").await;
    assert_eq!(err["code"], "login_failed");

    // Right password with the pin.
    c.cmd(&format!(
        "login {} {} tom right horse",
        relay.url(),
        relay.pin
    ))
    .await;
    assert_eq!(c.event("logged_in").await["display_name"], "Tom Tech");
    c.event("connected").await;
    relay
        .expect("hello", |e| matches!(e.msg, Message::Hello { .. }))
        .await;
    let profile = relay
        .expect("profile", |e| matches!(e.msg, Message::Profile { .. }))
        .await;
    assert!(
        matches!(profile.msg, Message::Profile { ref display_name, .. } if display_name == "Tom Tech")
    );

    // Queue, wait, accept.
    relay
        .send(
            None,
            Message::Queue {
                entries: vec![QueueEntry {
                    session: 7,
                    name: "Anna".into(),
                    problem: Some("printer".into()),
                    waiting_secs: 3,
                    role: Role::Customer,
                }],
                notices: vec![NoticeInfo {
                    id: "mail".into(),
                    text: "Mail is down".into(),
                }],
                not_listed: 0,
            },
        )
        .await;
    c.cmd("wait-customer Anna").await;
    assert_eq!(c.event("customer_waiting").await["session"], 7);
    c.cmd("accept Anna").await;
    relay
        .expect("accept", |e| e.msg == Message::Accept { session: 7 })
        .await;
    relay
        .send(
            None,
            Message::SessionStarted {
                session: 7,
                customer_name: "Anna".into(),
                problem: Some("printer".into()),
                role: Role::Customer,
                history: vec![],
                consents: vec![ConsentRecord {
                    topic: ConsentTopic::Agreement,
                    granted: true,
                    at_ms: 1,
                }],
            },
        )
        .await;
    assert_eq!(c.event("session_started").await["customer_name"], "Anna");

    // Chat both ways, nudge, notices.
    c.cmd("say Hello Anna, Grüße €").await;
    relay
        .expect("chat", |e| {
            matches!(is(7, e), Some(Message::Chat { text, .. }) if text == "Hello Anna, Grüße €")
        })
        .await;
    relay
        .send(
            Some(7),
            Message::Chat {
                text: "Hi Tom".into(),
                from: Some("Anna".into()),
                at_ms: Some(5),
            },
        )
        .await;
    let chat = loop {
        let v = c.event("chat").await;
        if v["mine"] == false {
            break v;
        }
    };
    assert_eq!(
        (chat["from"].as_str(), chat["text"].as_str()),
        (Some("Anna"), Some("Hi Tom"))
    );
    c.cmd("nudge").await;
    relay
        .expect("nudge", |e| is(7, e) == Some(&Message::Nudge))
        .await;
    c.cmd("notice mail").await;
    relay
        .expect("site notice", |e| {
            is(7, e)
                == Some(&Message::SendNotice {
                    id: Some("mail".into()),
                    text: None,
                })
        })
        .await;
    c.cmd("notice Back in five minutes").await;
    relay
        .expect("custom notice", |e| {
            is(7, e)
                == Some(&Message::SendNotice {
                    id: None,
                    text: Some("Back in five minutes".into()),
                })
        })
        .await;

    // A file, in three chunks.
    let data: Vec<u8> = (0..600_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = hex::encode(Sha256::digest(&data));
    c.cmd(&format!("accept-file {}", dir.path().display()))
        .await;
    relay
        .send(
            Some(7),
            Message::FileOffer {
                id: 4,
                name: "report.bin".into(),
                size: data.len() as u64,
                sha256: sha.clone(),
            },
        )
        .await;
    relay
        .expect("file_accept", |e| {
            is(7, e) == Some(&Message::FileAccept { id: 4 })
        })
        .await;
    let chunk = lotse_protocol::FILE_CHUNK_BYTES;
    for (i, part) in data.chunks(chunk).enumerate() {
        let last = (i + 1) * chunk >= data.len();
        let frame = BinaryHeader {
            kind: BinaryKind::FileChunk,
            flags: if last { FLAG_LAST } else { 0 },
            id: 4,
            session: 7,
            seq: (i * chunk) as u64,
        }
        .frame(part);
        relay.to_console.send(Out::Binary(frame)).await.unwrap();
    }
    let got = c.event("file_received").await;
    assert_eq!(got["ok"], true);
    assert_eq!(got["sha256"], sha.as_str());
    let path = got["path"].as_str().unwrap().to_owned();
    assert_eq!(std::fs::read(&path).unwrap(), data);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp files left"
    );
    relay
        .expect("file_done", |e| {
            is(7, e)
                == Some(&Message::FileDone {
                    id: 4,
                    ok: true,
                    sha256: sha.clone(),
                })
        })
        .await;

    // Screen: a codec keyframe split over two binary frames.
    c.cmd("request-share").await;
    relay
        .expect("share_request", |e| {
            is(7, e) == Some(&Message::ShareRequest)
        })
        .await;
    relay
        .send(
            Some(7),
            Message::ShareGrant {
                scope: ShareScope::Screen { monitor: 0 },
                width: 200,
                height: 120,
            },
        )
        .await;
    c.event("share_granted").await;
    let (w, h) = (200u32, 120u32);
    let bgra: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            [(x * 255 / w) as u8, (y * 2) as u8, 90, 255]
        })
        .collect();
    let update = lotse_codec::Encoder::new(lotse_codec::EncoderConfig::default())
        .encode(&lotse_codec::Frame {
            width: w,
            height: h,
            stride: (w * 4) as usize,
            bgra: &bgra,
        })
        .unwrap();
    let mid = update.len() / 2;
    for (part, flags) in [(&update[..mid], 0), (&update[mid..], FLAG_LAST)] {
        let frame = BinaryHeader {
            kind: BinaryKind::ScreenUpdate,
            flags,
            id: 0,
            session: 7,
            seq: 1,
        }
        .frame(part);
        relay.to_console.send(Out::Binary(frame)).await.unwrap();
    }
    let screen = c.event("screen").await;
    assert_eq!(
        (screen["width"].as_u64(), screen["height"].as_u64()),
        (Some(200), Some(120))
    );
    relay
        .expect("frame_ack", |e| {
            is(7, e) == Some(&Message::FrameAck { frame: 1 })
        })
        .await;
    let png = dir.path().join("screen.png");
    c.cmd(&format!("save-screen {}", png.display())).await;
    c.event("saved").await;
    let img = image::open(&png).unwrap().into_rgba8();
    assert_eq!(img.dimensions(), (w, h));
    for (i, px) in img.pixels().enumerate() {
        let b = &bgra[i * 4..i * 4 + 4];
        assert_eq!(px.0, [b[2], b[1], b[0], 255], "pixel {i}");
    }

    // Control: refused until granted, then forwarded.
    c.cmd("type no").await;
    assert_eq!(c.event("error").await["code"], "not_in_control");
    c.cmd("request-control").await;
    relay
        .expect("control_request", |e| {
            is(7, e) == Some(&Message::ControlRequest)
        })
        .await;
    relay.send(Some(7), Message::ControlGrant).await;
    c.event("control_granted").await;
    c.cmd("type hi there").await;
    relay
        .expect("text input", |e| {
            is(7, e)
                == Some(&Message::Input {
                    event: InputEvent::Text {
                        text: "hi there".into(),
                    },
                })
        })
        .await;
    c.cmd("click 5 6").await;
    relay
        .expect("mouse move", |e| {
            is(7, e)
                == Some(&Message::Input {
                    event: InputEvent::MouseMove { x: 5, y: 6 },
                })
        })
        .await;
    relay
        .expect("button up", |e| {
            is(7, e)
                == Some(&Message::Input {
                    event: InputEvent::MouseButton {
                        button: MouseButton::Left,
                        down: false,
                    },
                })
        })
        .await;
    c.cmd("key Return").await;
    relay
        .expect("key", |e| {
            is(7, e)
                == Some(&Message::Input {
                    event: InputEvent::Key {
                        key: "Return".into(),
                        down: true,
                    },
                })
        })
        .await;

    // The link is cut: the console reconnects by itself and carries on.
    relay.to_console.send(Out::Cut).await.unwrap();
    c.event("disconnected").await;
    assert_eq!(c.event("connected").await["reconnect"], true);
    relay
        .expect("hello again", |e| matches!(e.msg, Message::Hello { .. }))
        .await;
    // Until the relay says the session goes on, it is on hold.
    c.event("ended").await;
    relay
        .send(
            None,
            Message::SessionStarted {
                session: 7,
                customer_name: "Anna".into(),
                problem: Some("printer".into()),
                role: Role::Customer,
                history: vec![],
                consents: vec![],
            },
        )
        .await;
    c.event("session_started").await;
    c.cmd("say still here").await;
    relay
        .expect(
            "chat after the cut",
            |e| matches!(is(7, e), Some(Message::Chat { text, .. }) if text == "still here"),
        )
        .await;

    // End and quit.
    c.cmd("end").await;
    relay
        .expect("end", |e| {
            is(7, e)
                == Some(&Message::End {
                    reason: EndReason::EndedByTechnician,
                })
        })
        .await;
    c.event("ended").await;
    c.cmd("quit").await;
    let status = tokio::time::timeout(WAIT, c.child.wait())
        .await
        .expect("the console exits after quit")
        .unwrap();
    assert!(status.success());
}
