//! Remote-control key latency: technician key → keystroke seen by the X
//! server on the customer's machine, through the real relay on loopback.
//!
//! technician link (pinned TLS WebSocket, `input` messages) → the release
//! relay → customer link → `lotse_desktop::GuardedInjector` over
//! `EnigoInjector` (XTEST), the same guard and injector the client's
//! control module uses, applied on the customer's network thread as the
//! client's `net.rs` does. The customer grants sharing and control in the
//! protocol (`share_grant`, `control_grant`) exactly as the client does
//! after the customer's clicks; the bench does not drive the egui window.
//!
//! The key is "applied" when an X client sees its `KeyPress`: a test
//! window of this process has the input focus, and a thread blocked in
//! `wait_for_event` stamps each key event the moment it arrives. All times
//! are one monotonic clock (one process).
//!
//! usage: `key_bench [KEYS] [RATE]` (default 300 keys at 10 keys/s)
//! Environment: `DISPLAY` (else a private Xvfb is started),
//! `LOTSE_RELAY_BIN` (default: `lotse-relay` next to this binary).
//! Prints one JSON line: p50/p90/p99/max in ms for three points on the
//! way: the customer received the `input`, XTEST returned, the X server
//! delivered the KeyPress.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use lotse_e2e::relay::{Peer, Relay};
use lotse_link::tungstenite::Message as Ws;
use lotse_link::{Inbox, Outbox};
use lotse_protocol::{
    ConsentTopic, Envelope, InputEvent, Lang, Message, PROTOCOL_VERSION, Role, ShareScope,
    decode_text, encode_text,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use x11rb::connection::Connection as _;
use x11rb::protocol::Event as XEvent;
use x11rb::protocol::xproto::{self, ConnectionExt as _};

const WAIT: Duration = Duration::from_secs(30);
const USER: &str = "bench";
const PASSWORD: &str = "bench-password-123";
/// Keys typed, round robin (unshifted, so one XTEST press each).
const KEYS: &[&str] = &["a", "s", "d", "f", "j", "k", "l", "e", "r", "u", "i"];

/// A WebSocket to the relay with per-sender numbering and automatic acks.
struct Link<S> {
    ws: WebSocketStream<S>,
    outbox: Outbox,
    inbox: Inbox,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Link<S> {
    fn new(ws: WebSocketStream<S>) -> Self {
        Self {
            ws,
            outbox: Outbox::default(),
            inbox: Inbox::default(),
        }
    }

    async fn send(&mut self, session: Option<u64>, msg: Message) -> anyhow::Result<()> {
        let mut env = Envelope::new(msg);
        if let Some(s) = session {
            env = env.with_session(s);
        }
        let env = self.outbox.stamp(env);
        self.ws.send(Ws::text(encode_text(&env))).await?;
        Ok(())
    }

    /// The next new message (acks answered and consumed, duplicates dropped).
    async fn next(&mut self) -> anyhow::Result<Option<Envelope>> {
        loop {
            match self.ws.next().await {
                None | Some(Err(_)) | Some(Ok(Ws::Close(_))) => return Ok(None),
                Some(Ok(Ws::Text(text))) => {
                    let env = decode_text(text.as_str())?;
                    if env.msg.is_reliable() && env.seq.is_some() {
                        let fresh = self.inbox.accept(&env);
                        let ack = Envelope::new(Message::Ack {
                            seq: self.inbox.last(),
                        });
                        self.ws.send(Ws::text(encode_text(&ack))).await?;
                        if !fresh {
                            continue;
                        }
                    }
                    if let Message::Ack { seq } = env.msg {
                        self.outbox.ack(seq);
                        continue;
                    }
                    return Ok(Some(env));
                }
                Some(Ok(_)) => {}
            }
        }
    }

    async fn wait_for(
        &mut self,
        what: &str,
        pred: impl Fn(&Message) -> bool,
    ) -> anyhow::Result<Envelope> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let got = tokio::time::timeout_at(deadline, self.next())
                .await
                .map_err(|_| anyhow!("timed out waiting for {what}"))??;
            match got {
                Some(env) if pred(&env.msg) => return Ok(env),
                Some(env) => {
                    if let Message::Error { .. } = env.msg {
                        bail!("relay error while waiting for {what}: {:?}", env.msg);
                    }
                }
                None => bail!("link closed while waiting for {what}"),
            }
        }
    }
}

fn hello(role: Role) -> Message {
    Message::Hello {
        version: PROTOCOL_VERSION,
        role,
        agent: "lotse-key-bench".into(),
        lang: Lang::En,
        resume: None,
    }
}

/// What the customer side reports per applied key-down.
struct Applied {
    received: Instant,
    injected: Instant,
}

/// The customer: hello, join, grant sharing and control when asked, then
/// apply every `input` through the guarded enigo injector.
async fn customer(
    relay_ws: String,
    pin: lotse_link::Pin,
    applied: mpsc::Sender<Applied>,
) -> anyhow::Result<u64> {
    let ws = lotse_link::connect(
        &format!("{relay_ws}{}", lotse_protocol::paths::CUSTOMER),
        pin,
        None,
    )
    .await?;
    let mut link = Link::new(ws);
    link.send(None, hello(Role::Customer)).await?;
    let welcome = link
        .wait_for("welcome", |m| matches!(m, Message::Welcome { .. }))
        .await?;
    if let Message::Welcome { site, .. } = &welcome.msg {
        if site.agreement.is_some() {
            let m = Message::Consent {
                topic: ConsentTopic::Agreement,
                granted: true,
            };
            link.send(None, m).await?;
        }
        if site.recording_prompt.is_some() {
            let m = Message::Consent {
                topic: ConsentTopic::Recording,
                granted: false,
            };
            link.send(None, m).await?;
        }
    }
    link.send(
        None,
        Message::Join {
            name: "Bench Customer".into(),
            problem: None,
        },
    )
    .await?;
    link.wait_for("share_request", |m| matches!(m, Message::ShareRequest))
        .await?;
    let monitors = lotse_desktop::monitors()?;
    let monitor = *monitors
        .iter()
        .find(|m| m.primary)
        .or(monitors.first())
        .ok_or_else(|| anyhow!("no monitor"))?;
    link.send(
        None,
        Message::ShareGrant {
            scope: ShareScope::Screen { monitor: 0 },
            width: monitor.width,
            height: monitor.height,
        },
    )
    .await?;
    link.wait_for("control_request", |m| matches!(m, Message::ControlRequest))
        .await?;
    let mut guard =
        lotse_desktop::GuardedInjector::new(lotse_desktop::EnigoInjector::new()?, monitor, None);
    guard.grant();
    link.send(None, Message::ControlGrant).await?;
    let mut dropped = 0u64;
    while let Some(env) = link.next().await? {
        match env.msg {
            Message::Input { event } => {
                let received = Instant::now();
                let down = matches!(event, InputEvent::Key { down: true, .. });
                if !guard.apply(&event)? {
                    dropped += 1;
                    continue;
                }
                if down {
                    let injected = Instant::now();
                    let _ = applied.send(Applied { received, injected });
                }
            }
            Message::End { .. } => break,
            _ => {}
        }
    }
    Ok(dropped)
}

/// A focused test window; a thread stamps each KeyPress as it arrives.
fn key_window() -> anyhow::Result<mpsc::Receiver<(Instant, u8)>> {
    let (conn, screen) = x11rb::connect(None).context("X display")?;
    let root = conn.setup().roots[screen].root;
    let win = conn.generate_id()?;
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        win,
        root,
        0,
        0,
        400,
        300,
        0,
        xproto::WindowClass::INPUT_OUTPUT,
        x11rb::COPY_FROM_PARENT,
        &xproto::CreateWindowAux::new()
            .event_mask(xproto::EventMask::KEY_PRESS | xproto::EventMask::STRUCTURE_NOTIFY)
            .background_pixel(0x00_30_60_90),
    )?;
    conn.map_window(win)?;
    conn.flush()?;
    // Wait until it is mapped, then give it the focus (no window manager).
    loop {
        if let XEvent::MapNotify(_) = conn.wait_for_event()? {
            break;
        }
    }
    conn.set_input_focus(xproto::InputFocus::PARENT, win, x11rb::CURRENT_TIME)?
        .check()?;
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("bench-xkeys".into())
        .spawn(move || {
            while let Ok(ev) = conn.wait_for_event() {
                if let XEvent::KeyPress(k) = ev
                    && tx.send((Instant::now(), k.detail)).is_err()
                {
                    break;
                }
            }
        })?;
    Ok(rx)
}

fn pct(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((p / 100.0 * v.len() as f64) as usize).min(v.len() - 1);
    Some((v[i] * 1000.0).round() / 1000.0)
}

fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(-1.0)
}

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let keys: usize = a.first().map(|v| v.parse()).transpose()?.unwrap_or(300);
    let rate: f64 = a.get(1).map(|v| v.parse()).transpose()?.unwrap_or(10.0);
    if std::env::var_os("LOTSE_RELAY_BIN").is_none() {
        let exe = std::env::current_exe()?;
        let relay = exe
            .parent()
            .ok_or_else(|| anyhow!("no directory"))?
            .join("lotse-relay");
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("LOTSE_RELAY_BIN", relay) };
    }
    let _display = if std::env::var_os("DISPLAY").is_none() {
        let d = lotse_e2e::display::Display::start_bare()?;
        // SAFETY: only Xvfb's reader thread exists, and it reads no env.
        unsafe { std::env::set_var("DISPLAY", d.name()) };
        Some(d)
    } else {
        None
    };
    lotse_link::install_crypto_provider();
    let relay = Relay::start();
    relay.add_user(USER, PASSWORD);
    let xkeys = key_window()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(&relay, xkeys, keys, rate))
}

async fn run(
    relay: &Relay,
    xkeys: mpsc::Receiver<(Instant, u8)>,
    keys: usize,
    rate: f64,
) -> anyhow::Result<()> {
    let token = Peer::login(relay, USER, PASSWORD)
        .await
        .map_err(|m| anyhow!("login failed: {m:?}"))?;
    let ws = lotse_link::connect(
        &relay.ws_url(lotse_protocol::paths::TECHNICIAN),
        relay.pin,
        Some(&token),
    )
    .await?;
    let mut tech = Link::new(ws);
    tech.send(None, hello(Role::Technician)).await?;
    tech.wait_for("welcome", |m| matches!(m, Message::Welcome { .. }))
        .await?;

    // The customer runs on its own thread with its own runtime, as the
    // client's network thread does.
    let (applied_tx, applied_rx) = mpsc::channel::<Applied>();
    let customer_thread = {
        let (ws_base, pin) = (relay.ws.clone(), relay.pin);
        std::thread::Builder::new()
            .name("bench-customer".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(customer(ws_base, pin, applied_tx))
            })?
    };

    let queue = tech
        .wait_for(
            "the customer in the queue",
            |m| matches!(m, Message::Queue { entries, .. } if !entries.is_empty()),
        )
        .await?;
    let Message::Queue { entries, .. } = queue.msg else {
        bail!("expected the queue");
    };
    let session = entries
        .first()
        .map(|e| e.session)
        .ok_or_else(|| anyhow!("empty queue"))?;
    tech.send(None, Message::Accept { session }).await?;
    tech.wait_for("session_started", |m| {
        matches!(m, Message::SessionStarted { .. })
    })
    .await?;
    tech.send(Some(session), Message::ShareRequest).await?;
    tech.wait_for("share_grant", |m| matches!(m, Message::ShareGrant { .. }))
        .await?;
    tech.send(Some(session), Message::ControlRequest).await?;
    tech.wait_for("control_grant", |m| matches!(m, Message::ControlGrant))
        .await?;

    let (mut to_received, mut to_injected, mut to_x) = (Vec::new(), Vec::new(), Vec::new());
    let mut lost = 0usize;
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut next = Instant::now() + Duration::from_millis(500);
    let started = Instant::now();
    // Acks and other traffic for the technician are read between keys.
    for i in 0..keys {
        // Drain the technician link until the next key is due.
        while Instant::now() < next {
            let _ = tokio::time::timeout_at(next.into(), tech.next()).await;
        }
        next += period;
        let key = KEYS[i % KEYS.len()].to_owned();
        let sent = Instant::now();
        tech.send(
            Some(session),
            Message::Input {
                event: InputEvent::Key {
                    key: key.clone(),
                    down: true,
                },
            },
        )
        .await?;
        // Blocking waits are fine here: the relay and customer run in
        // their own process and thread.
        let seen = xkeys.recv_timeout(Duration::from_secs(2));
        let applied = applied_rx.recv_timeout(Duration::from_secs(2));
        tech.send(
            Some(session),
            Message::Input {
                event: InputEvent::Key { key, down: false },
            },
        )
        .await?;
        match (seen, applied) {
            (Ok((at, _code)), Ok(a)) => {
                to_received.push(a.received.duration_since(sent).as_secs_f64() * 1000.0);
                to_injected.push(a.injected.duration_since(sent).as_secs_f64() * 1000.0);
                to_x.push(at.duration_since(sent).as_secs_f64() * 1000.0);
            }
            _ => lost += 1,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    tech.send(
        Some(session),
        Message::End {
            reason: lotse_protocol::EndReason::EndedByTechnician,
        },
    )
    .await?;
    let dropped = match customer_thread.join() {
        Ok(r) => r?,
        Err(_) => bail!("customer thread panicked"),
    };
    let stats = |v: &[f64]| {
        serde_json::json!({
            "p50_ms": pct(v, 50.0),
            "p90_ms": pct(v, 90.0),
            "p99_ms": pct(v, 99.0),
            "max_ms": pct(v, 100.0),
        })
    };
    let out = serde_json::json!({
        "bench": "key_latency",
        "keys": keys,
        "rate": rate,
        "secs": (secs * 10.0).round() / 10.0,
        "measured": to_x.len(),
        "lost": lost,
        "dropped_by_guard": dropped,
        "tech_to_customer_received": stats(&to_received),
        "tech_to_xtest_done": stats(&to_injected),
        "tech_to_x_keypress": stats(&to_x),
        "load1": load1(),
    });
    println!("{out}");
    Ok(())
}
