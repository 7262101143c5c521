//! Screen sharing benchmark: Lotse's whole path on a real X screen, measured
//! the way `shared/bench/rfbmeter.py` measures a VNC server.
//!
//! customer thread: X DAMAGE capture (`lotse_desktop`) → `lotse_codec`
//! encoder → binary ScreenUpdate frames over a pinned TLS customer link →
//! the real relay (release build) → technician link (its TCP stream wrapped
//! in a byte counter *below* TLS) → `lotse_codec` decoder, which answers
//! every update with `frame_ack` (one update in flight at most).
//!
//! usage: `screen_bench MODE SECONDS [RATE] [SCENARIO]`
//!   MODE: idle | type (RATE keys/s via XTEST, default 10) | watch
//! Environment: `DISPLAY` (the screen to share), `LOTSE_RELAY_BIN`
//! (default: `lotse-relay` next to this binary), `BENCH_MAX_FPS` (30).
//! Prints one JSON line with rfbmeter.py's fields plus Lotse's own.
//!
//! Every decoded update is also compared with the captured frame it came
//! from, pixel for pixel (`lossless`, `mismatched_updates`).

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use lotse_e2e::relay::{Peer, Relay};
use lotse_link::tungstenite::Message as Ws;
use lotse_link::tungstenite::client::IntoClientRequest;
use lotse_link::{Inbox, Outbox};
use lotse_protocol::{
    BinaryHeader, BinaryKind, ConsentTopic, Envelope, FLAG_LAST, Lang, Message, PROTOCOL_VERSION,
    Role, ShareScope, decode_text, encode_text,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;

const WAIT: Duration = Duration::from_secs(20);
const TEXT: &str = "the quick brown fox jumps over the lazy dog 0123456789 ";
const USER: &str = "bench";
const PASSWORD: &str = "bench-password-123";

// ---------------------------------------------------------------- counting

/// Counts the bytes that cross a stream (used under TLS: wire bytes).
struct Counting<S> {
    inner: S,
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let n = buf.filled().len() - before;
            this.read.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counting<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

// ---------------------------------------------------------------- links

/// What a link received, after acks and duplicates were dealt with.
enum In {
    Text(Envelope),
    Binary(Vec<u8>),
    Closed,
    Nothing,
}

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

    /// Handles one raw WebSocket item (acks, duplicates).
    async fn handle(
        &mut self,
        item: Option<Result<Ws, lotse_link::tungstenite::Error>>,
    ) -> anyhow::Result<In> {
        match item {
            None | Some(Err(_)) | Some(Ok(Ws::Close(_))) => Ok(In::Closed),
            Some(Ok(Ws::Text(text))) => {
                let env = decode_text(text.as_str())?;
                if env.msg.is_reliable() && env.seq.is_some() {
                    let fresh = self.inbox.accept(&env);
                    let ack = Envelope::new(Message::Ack {
                        seq: self.inbox.last(),
                    });
                    self.ws.send(Ws::text(encode_text(&ack))).await?;
                    if !fresh {
                        return Ok(In::Nothing);
                    }
                }
                if let Message::Ack { seq } = env.msg {
                    self.outbox.ack(seq);
                    return Ok(In::Nothing);
                }
                Ok(In::Text(env))
            }
            Some(Ok(Ws::Binary(data))) => Ok(In::Binary(data.into())),
            Some(Ok(_)) => Ok(In::Nothing),
        }
    }

    async fn next(&mut self) -> anyhow::Result<In> {
        let item = self.ws.next().await;
        self.handle(item).await
    }

    /// Waits for a text message matching `pred`.
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
                In::Text(env) if pred(&env.msg) => return Ok(env),
                In::Text(env) => {
                    if let Message::Error { .. } = env.msg {
                        bail!("relay error while waiting for {what}: {:?}", env.msg);
                    }
                }
                In::Closed => bail!("link closed while waiting for {what}"),
                In::Binary(_) | In::Nothing => {}
            }
        }
    }
}

fn hello(role: Role) -> Message {
    Message::Hello {
        version: PROTOCOL_VERSION,
        role,
        agent: "lotse-screen-bench".into(),
        lang: Lang::En,
        resume: None,
    }
}

// ---------------------------------------------------------------- CPU

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// utime + stime of a /proc stat line, in seconds.
fn stat_cpu(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // fields after the comm: state is field 3, utime 14, stime 15.
    let u: f64 = f.get(11)?.parse().ok()?;
    let s: f64 = f.get(12)?.parse().ok()?;
    Some((u + s) / clk_tck())
}

/// CPU seconds of a whole process.
fn process_cpu(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| stat_cpu(&s))
        .unwrap_or(0.0)
}

/// CPU seconds of this process's threads whose name is in `names`
/// (nanoseconds from schedstat where available).
fn threads_cpu(names: &[&str]) -> f64 {
    let mut total = 0.0;
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    for task in dir.flatten() {
        let p = task.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        if !names.contains(&comm.trim()) {
            continue;
        }
        let ns = std::fs::read_to_string(p.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok());
        total += match ns {
            Some(ns) => ns / 1e9,
            None => std::fs::read_to_string(p.join("stat"))
                .ok()
                .and_then(|s| stat_cpu(&s))
                .unwrap_or(0.0),
        };
    }
    total
}

const CUSTOMER_THREADS: &[&str] = &["bench-customer", "lotse-capture"];

fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(-1.0)
}

// ---------------------------------------------------------------- keys

/// Types keys through XTEST, like a VNC server does for rfbmeter's key events.
struct Keyboard {
    conn: x11rb::rust_connection::RustConnection,
    root: u32,
    map: Vec<(u32, u8)>,
}

impl Keyboard {
    fn open() -> anyhow::Result<Self> {
        use x11rb::connection::Connection as _;
        use x11rb::protocol::xproto::ConnectionExt as _;
        let (conn, screen) = x11rb::connect(None).context("X display")?;
        let root = conn.setup().roots[screen].root;
        let (min, max) = (conn.setup().min_keycode, conn.setup().max_keycode);
        let reply = conn.get_keyboard_mapping(min, max - min + 1)?.reply()?;
        let per = usize::from(reply.keysyms_per_keycode).max(1);
        let mut map = Vec::new();
        for (i, syms) in reply.keysyms.chunks(per).enumerate() {
            // Unshifted keysym only: all of TEXT is typed without Shift.
            if let Some(&sym) = syms.first()
                && sym != 0
            {
                map.push((sym, min + i as u8));
            }
        }
        Ok(Self { conn, root, map })
    }

    fn tap(&self, keysym: u32) -> anyhow::Result<()> {
        use x11rb::connection::Connection as _;
        use x11rb::protocol::xtest::ConnectionExt as _;
        let code = self
            .map
            .iter()
            .find(|(s, _)| *s == keysym)
            .map(|(_, c)| *c)
            .ok_or_else(|| anyhow!("no keycode for keysym {keysym:#x}"))?;
        self.conn.xtest_fake_input(
            x11rb::protocol::xproto::KEY_PRESS_EVENT,
            code,
            0,
            self.root,
            0,
            0,
            0,
        )?;
        self.conn.xtest_fake_input(
            x11rb::protocol::xproto::KEY_RELEASE_EVENT,
            code,
            0,
            self.root,
            0,
            0,
            0,
        )?;
        self.conn.flush()?;
        Ok(())
    }
}

// ---------------------------------------------------------------- customer

/// A captured frame kept for the losslessness check.
struct Sent {
    seq: u64,
    frame: lotse_desktop::Frame,
}

#[derive(Default)]
struct CustomerStats {
    updates: AtomicU64,
    payload_bytes: AtomicU64,
}

/// The customer: hello, join, wait for the technician's share_request, grant
/// the whole screen, then capture → encode → send, one update in flight.
async fn customer(
    relay_ws: String,
    pin: lotse_link::Pin,
    max_fps: u32,
    verify: mpsc::SyncSender<Sent>,
    stop: Arc<AtomicBool>,
    stop_wake: Arc<tokio::sync::Notify>,
    stats: Arc<CustomerStats>,
) -> anyhow::Result<lotse_codec::EncoderStats> {
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
            let consent = Message::Consent {
                topic: ConsentTopic::Agreement,
                granted: true,
            };
            link.send(None, consent).await?;
        }
        if site.recording_prompt.is_some() {
            let consent = Message::Consent {
                topic: ConsentTopic::Recording,
                granted: false,
            };
            link.send(None, consent).await?;
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
    link.wait_for("technician_joined", |m| {
        matches!(m, Message::TechnicianJoined { .. })
    })
    .await?;
    link.wait_for("share_request", |m| matches!(m, Message::ShareRequest))
        .await?;

    let notify = Arc::new(tokio::sync::Notify::new());
    let wake = notify.clone();
    let capture = lotse_desktop::Capture::start(lotse_desktop::CaptureConfig {
        monitor: 0,
        max_fps,
        mask: None,
        notify: Some(Arc::new(move || wake.notify_one())),
        ..Default::default()
    })?;
    let mon = *capture.monitor();
    link.send(
        None,
        Message::ShareGrant {
            scope: ShareScope::Screen { monitor: 0 },
            width: mon.width,
            height: mon.height,
        },
    )
    .await?;
    let mut encoder = lotse_codec::Encoder::new(lotse_codec::EncoderConfig::default());
    // BENCH_FULL_COMPARE=1: ignore the capture's damage (diagnosis).
    let full_compare = std::env::var_os("BENCH_FULL_COMPARE").is_some();
    let mut seq = 0u64;
    let mut in_flight: Option<u64> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        tokio::select! {
            _ = notify.notified(), if in_flight.is_none() => {
                let Some(frame) = capture.try_recv()? else { continue };
                let damage: Vec<lotse_codec::Rect> = frame
                    .damage
                    .iter()
                    .filter_map(|r| {
                        let x = u32::try_from(r.x.max(0)).ok()?;
                        let y = u32::try_from(r.y.max(0)).ok()?;
                        Some(lotse_codec::Rect::new(x, y, r.width, r.height))
                    })
                    .collect();
                let view = lotse_codec::Frame {
                    width: frame.width,
                    height: frame.height,
                    stride: frame.stride,
                    bgra: &frame.data,
                };
                let encoded = if full_compare {
                    encoder.encode(&view)
                } else {
                    encoder.encode_damaged(&view, &damage)
                };
                let Some(update) = encoded else { continue };
                seq += 1;
                stats.updates.fetch_add(1, Ordering::Relaxed);
                stats.payload_bytes.fetch_add(update.len() as u64, Ordering::Relaxed);
                let pieces: Vec<&[u8]> = lotse_codec::split(&update).collect();
                let n = pieces.len();
                // The frame goes to the checker first (it is there before
                // the update can arrive); a full checker skips it.
                let _ = verify.try_send(Sent { seq, frame });
                for (i, piece) in pieces.into_iter().enumerate() {
                    let header = BinaryHeader {
                        kind: BinaryKind::ScreenUpdate,
                        flags: if i + 1 == n { FLAG_LAST } else { 0 },
                        id: 1,
                        session: 0,
                        seq,
                    };
                    link.ws.send(Ws::binary(header.frame(piece))).await?;
                }
                in_flight = Some(seq);
            }
            item = link.ws.next() => {
                match link.handle(item).await? {
                    In::Text(env) => {
                        if let Message::FrameAck { frame } = env.msg
                            && in_flight == Some(frame)
                        {
                            in_flight = None;
                        }
                    }
                    In::Closed => bail!("customer link closed"),
                    In::Binary(_) | In::Nothing => {}
                }
            }
            _ = stop_wake.notified() => {}
        }
    }
    drop(capture);
    let _ = link.ws.close(None).await;
    Ok(*encoder.stats())
}

// ---------------------------------------------------------------- technician

fn pct(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((p / 100.0 * v.len() as f64) as usize).min(v.len() - 1);
    Some((v[i] * 10000.0).round() / 10.0)
}

struct Args {
    mode: String,
    secs: f64,
    rate: f64,
    scenario: String,
    max_fps: u32,
}

fn args() -> anyhow::Result<Args> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 2 {
        bail!("usage: screen_bench MODE(idle|type|watch) SECONDS [RATE] [SCENARIO]");
    }
    let mode = a[0].clone();
    if !["idle", "type", "watch"].contains(&mode.as_str()) {
        bail!("MODE must be idle, type or watch");
    }
    Ok(Args {
        scenario: a.get(3).cloned().unwrap_or_else(|| mode.clone()),
        mode,
        secs: a[1].parse().context("SECONDS")?,
        rate: a.get(2).map(|r| r.parse()).transpose()?.unwrap_or(10.0),
        max_fps: std::env::var("BENCH_MAX_FPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(30),
    })
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    if std::env::var_os("LOTSE_RELAY_BIN").is_none() {
        let exe = std::env::current_exe()?;
        let relay = exe
            .parent()
            .ok_or_else(|| anyhow!("no directory"))?
            .join("lotse-relay");
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("LOTSE_RELAY_BIN", relay) };
    }
    lotse_link::install_crypto_provider();
    let relay = Relay::start();
    relay.add_user(USER, PASSWORD);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(&relay, &args))
}

async fn run(relay: &Relay, args: &Args) -> anyhow::Result<()> {
    // Technician: login, then the work link over a counted TCP stream.
    let token = Peer::login(relay, USER, PASSWORD)
        .await
        .map_err(|m| anyhow!("login failed: {m:?}"))?;
    let read = Arc::new(AtomicU64::new(0));
    let written = Arc::new(AtomicU64::new(0));
    let tcp = tokio::net::TcpStream::connect(relay.addr).await?;
    tcp.set_nodelay(true)?;
    let counted = Counting {
        inner: tcp,
        read: read.clone(),
        written: written.clone(),
    };
    let tls = tokio_rustls::TlsConnector::from(lotse_link::pinned_tls_config(relay.pin))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost")?,
            counted,
        )
        .await?;
    let mut request = relay
        .ws_url(lotse_protocol::paths::TECHNICIAN)
        .into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(request, tls, Some(lotse_link::ws_config()))
            .await?;
    let mut tech = Link::new(ws);
    tech.send(None, hello(Role::Technician)).await?;
    tech.wait_for("welcome", |m| matches!(m, Message::Welcome { .. }))
        .await?;

    // Customer on its own thread (its CPU is measured by thread name).
    let (verify_tx, verify_rx) = mpsc::sync_channel::<Sent>(8);
    let stop = Arc::new(AtomicBool::new(false));
    let stop_wake = Arc::new(tokio::sync::Notify::new());
    let cstats = Arc::new(CustomerStats::default());
    let customer_thread = {
        let (ws_base, pin) = (relay.ws.clone(), relay.pin);
        let (stop, stop_wake, cstats) = (stop.clone(), stop_wake.clone(), cstats.clone());
        let max_fps = args.max_fps;
        std::thread::Builder::new()
            .name("bench-customer".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(customer(
                    ws_base, pin, max_fps, verify_tx, stop, stop_wake, cstats,
                ))
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
    let requested = Instant::now();
    let bytes_at_request = read.load(Ordering::Relaxed);
    tech.send(Some(session), Message::ShareRequest).await?;

    let keyboard = if args.mode == "type" {
        Some(Keyboard::open()?)
    } else {
        None
    };
    let mut decoder = lotse_codec::Decoder::new();
    let mut shadow: Vec<u8> = Vec::new();
    let mut pieces: Vec<u8> = Vec::new();
    let mut expected: VecDeque<Sent> = VecDeque::new();
    let (mut verified, mut mismatched, mut unverified) = (0u64, 0u64, 0u64);
    let mut first_full: Option<(f64, u64)> = None;
    let (mut w, mut h) = (0u32, 0u32);

    // Phases: until the keyframe, 1 s settle, then SECS measured.
    let mut phase_end: Option<Instant> = None;
    let mut measuring = false;
    let mut start = Instant::now();
    let (mut base_read, mut base_written, mut base_cpu, mut base_relay) = (0, 0, 0.0, 0.0);
    let (mut updates, mut rects, mut pixels) = (0u64, 0u64, 0u64);
    let mut lat: Vec<f64> = Vec::new();
    let mut pending: Option<Instant> = None;
    let mut next_key = Instant::now();
    let mut ki = 0usize;
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let relay_pid = relay.pid();
    let text: Vec<char> = TEXT.chars().collect();
    let give_up = Instant::now() + WAIT;

    loop {
        let now = Instant::now();
        if first_full.is_none() && now > give_up {
            bail!("no keyframe within {WAIT:?}");
        }
        if let Some(end) = phase_end
            && now >= end
        {
            if measuring {
                break;
            }
            // Settled: start measuring.
            measuring = true;
            start = Instant::now();
            phase_end = Some(start + Duration::from_secs_f64(args.secs));
            base_read = read.load(Ordering::Relaxed);
            base_written = written.load(Ordering::Relaxed);
            base_cpu = threads_cpu(CUSTOMER_THREADS);
            base_relay = process_cpu(relay_pid);
            next_key = start;
            continue;
        }
        if measuring && let Some(kb) = &keyboard {
            if now >= next_key && pending.is_none() {
                let ch = text[ki % text.len()];
                ki += 1;
                let sym = if ki.is_multiple_of(60) {
                    0xFF0D
                } else {
                    ch as u32
                };
                pending = Some(Instant::now());
                kb.tap(sym)?;
                next_key += period;
            } else if let Some(p) = pending
                && now.duration_since(p) > Duration::from_secs(2)
            {
                lat.push(2.0);
                pending = None;
            }
        }
        let mut wake = phase_end.unwrap_or(give_up);
        if measuring && keyboard.is_some() {
            wake = wake.min(if pending.is_none() {
                next_key
            } else {
                Instant::now() + Duration::from_millis(50)
            });
        }
        let item = match tokio::time::timeout_at(wake.into(), tech.ws.next()).await {
            Ok(item) => item,
            Err(_) => continue,
        };
        let data = match tech.handle(item).await? {
            In::Binary(data) => data,
            In::Closed => bail!("technician link closed"),
            In::Text(_) | In::Nothing => continue,
        };
        let (head, payload) = BinaryHeader::parse(&data)?;
        if head.kind != BinaryKind::ScreenUpdate {
            continue;
        }
        pieces.extend_from_slice(payload);
        if !head.is_last() {
            continue;
        }
        let changed = decoder.apply(&pieces);
        pieces.clear();
        let changed = changed.map_err(|e| anyhow!("decode: {e}"))?;
        // Pixels really changed? (the latency ends at the first such update)
        let (dw, dh) = (decoder.width(), decoder.height());
        if (dw, dh) != (w, h) {
            (w, h) = (dw, dh);
            shadow = vec![0; decoder.rgba().len()];
        }
        let rgba = decoder.rgba();
        let mut differs = false;
        let mut area = 0u64;
        for r in &changed {
            area += u64::from(r.w) * u64::from(r.h);
            for y in r.y..r.y + r.h {
                let a = (y as usize * w as usize + r.x as usize) * 4;
                let b = a + r.w as usize * 4;
                if shadow[a..b] != rgba[a..b] {
                    differs = true;
                    shadow[a..b].copy_from_slice(&rgba[a..b]);
                }
            }
        }
        let decoded_at = Instant::now();
        tech.send(Some(session), Message::FrameAck { frame: head.seq })
            .await?;
        if first_full.is_none() {
            first_full = Some((
                requested.elapsed().as_secs_f64() * 1000.0,
                read.load(Ordering::Relaxed) - bytes_at_request,
            ));
            phase_end = Some(Instant::now() + Duration::from_secs(1));
        } else if measuring && !changed.is_empty() {
            updates += 1;
            rects += changed.len() as u64;
            pixels += area;
            if differs && let Some(p) = pending.take() {
                lat.push(decoded_at.duration_since(p).as_secs_f64());
            }
        }
        // Lossless: the decoded screen equals the captured frame.
        while let Ok(s) = verify_rx.try_recv() {
            expected.push_back(s);
        }
        while expected.front().is_some_and(|s| s.seq < head.seq) {
            expected.pop_front();
            unverified += 1;
        }
        match expected.front() {
            Some(s) if s.seq == head.seq => {
                let f = &s.frame;
                let mut same = f.width == w && f.height == h;
                if same {
                    // Differing pixels and their bounding box (for the log).
                    let (mut n, mut x0, mut y0, mut x1, mut y1) = (0u64, u32::MAX, u32::MAX, 0, 0);
                    for y in 0..h as usize {
                        let src = &f.data[y * f.stride..y * f.stride + w as usize * 4];
                        let dst = &rgba[y * w as usize * 4..(y + 1) * w as usize * 4];
                        if src.len() == dst.len()
                            && src
                                .chunks_exact(4)
                                .zip(dst.chunks_exact(4))
                                .all(|(p, q)| p[2] == q[0] && p[1] == q[1] && p[0] == q[2])
                        {
                            continue;
                        }
                        for (x, (p, q)) in src.chunks_exact(4).zip(dst.chunks_exact(4)).enumerate()
                        {
                            if p[2] != q[0] || p[1] != q[1] || p[0] != q[2] {
                                n += 1;
                                x0 = x0.min(x as u32);
                                x1 = x1.max(x as u32);
                                y0 = y0.min(y as u32);
                                y1 = y1.max(y as u32);
                            }
                        }
                    }
                    if n > 0 {
                        same = false;
                        eprintln!(
                            "update {}: {n} pixels differ from the captured frame in x {x0}..={x1}, y {y0}..={y1}",
                            head.seq
                        );
                    }
                }
                if same {
                    verified += 1;
                } else {
                    mismatched += 1;
                }
                expected.pop_front();
            }
            _ => unverified += 1,
        }
    }
    let dur = start.elapsed().as_secs_f64();
    let got = read.load(Ordering::Relaxed) - base_read;
    let sent = written.load(Ordering::Relaxed) - base_written;
    let cpu = threads_cpu(CUSTOMER_THREADS) - base_cpu;
    let relay_cpu = process_cpu(relay_pid) - base_relay;

    stop.store(true, Ordering::Relaxed);
    stop_wake.notify_one();
    let enc_stats = match customer_thread.join() {
        Ok(r) => r?,
        Err(_) => bail!("customer thread panicked"),
    };
    let (ff_ms, ff_bytes) = first_full.unwrap_or((0.0, 0));
    let round1 = |v: f64| (v * 10.0).round() / 10.0;
    let mut out = serde_json::json!({
        "server": "lotse",
        "enc": "lotse",
        "mode": args.mode,
        "w": w,
        "h": h,
        "secs": (dur * 100.0).round() / 100.0,
        "first_full_ms": round1(ff_ms),
        "first_full_bytes": ff_bytes,
        "bytes_per_s": (got as f64 / dur).round(),
        "updates_per_s": round1(updates as f64 / dur),
        "rects": rects,
        "changed_px_per_s": (pixels as f64 / dur).round(),
        "bytes_per_update": if updates > 0 { Some((got as f64 / updates as f64).round()) } else { None },
        "server_name": "lotse",
        "scenario": args.scenario,
        "server_cpu_pct": round1(cpu / dur * 100.0),
        "relay_cpu_pct": round1(relay_cpu / dur * 100.0),
        "customer_cpu_ms_per_update": if updates > 0 { Some((cpu * 1000.0 / updates as f64 * 100.0).round() / 100.0) } else { None },
        "tech_up_bytes_per_s": (sent as f64 / dur).round(),
        "lossless": mismatched == 0,
        "verified_updates": verified,
        "mismatched_updates": mismatched,
        "unverified_updates": unverified,
        "encoder_updates": cstats.updates.load(Ordering::Relaxed),
        "encoder_payload_bytes": cstats.payload_bytes.load(Ordering::Relaxed),
        "encoder_copies": enc_stats.copies,
        "encoder_cache_hits": enc_stats.cache_hits,
        "max_fps": args.max_fps,
        "load1": load1(),
    });
    if args.mode == "type" {
        out["keys"] = ki.into();
        out["lat_p50_ms"] = pct(&lat, 50.0).into();
        out["lat_p90_ms"] = pct(&lat, 90.0).into();
        out["lat_p99_ms"] = pct(&lat, 99.0).into();
        out["lat_max_ms"] = pct(&lat, 100.0).into();
    }
    println!("{out}");
    Ok(())
}
