//! Forwarding latency the relay adds, under load.
//!
//! 500 paired sessions at once over TLS WebSockets: each customer sends a
//! 2 KB chat message 10 times a second, each technician a 16-byte one 10
//! times a second; every numbered message is acknowledged, as real peers
//! do. The same load generator then runs against a trivial TLS WebSocket
//! forwarder (this binary started again with `forwarder`: it pairs two
//! links and copies frames between them, no relay logic). Both servers run
//! in their own process; their CPU time comes from `/proc/<pid>/stat`.
//!
//! ```text
//! cargo bench -p lotse-relay --bench forwarding            # 500 sessions, 20 s each
//! LOTSE_BENCH_SESSIONS=100 LOTSE_BENCH_SECS=5 cargo bench -p lotse-relay --bench forwarding
//! ```
//! Needs about 4 file descriptors per session (`ulimit -n`).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use lotse_link::tungstenite::Message as Ws;
use lotse_link::{Pin, WsStream};
use lotse_protocol::{Envelope, Lang, Message, PROTOCOL_VERSION, Role, decode_text, encode_text};
use tokio::sync::watch;

const RELAY: &str = env!("CARGO_BIN_EXE_lotse-relay");

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if args.get(1).map(String::as_str) == Some("forwarder") {
        runtime.block_on(forwarder());
        return;
    }
    if args.iter().any(|a| a == "--list") {
        println!("forwarding: benchmark");
        return;
    }
    runtime.block_on(bench());
}

// ---- the trivial forwarder (baseline) ------------------------------------------

// tungstenite's handshake callback returns its (large) ErrorResponse by value.
#[allow(clippy::result_large_err)]
async fn forwarder() {
    lotse_link::install_crypto_provider();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let der = cert.cert.der().clone();
    let key =
        rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).expect("key");
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![der.clone()], key)
    .expect("tls");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    println!(
        "listening on https://{}",
        listener.local_addr().expect("addr")
    );
    println!("certificate sha256 {}", Pin::of_cert(der.as_ref()).to_hex());
    type Slot = Arc<Mutex<HashMap<String, tokio::sync::mpsc::Sender<Ws>>>>;
    let slots: Slot = Arc::default();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let slots = slots.clone();
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let mut path = String::new();
            let callback = |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                            resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
                path = req.uri().path().to_owned();
                Ok(resp)
            };
            let Ok(ws) = tokio_tungstenite::accept_hdr_async_with_config(
                tls,
                callback,
                Some(lotse_link::ws_config()),
            )
            .await
            else {
                return;
            };
            // "/c/7" pairs with "/t/7".
            let other = if let Some(n) = path.strip_prefix("/c/") {
                format!("/t/{n}")
            } else {
                path.replacen("/t/", "/c/", 1)
            };
            let (mut sink, mut stream) = ws.split();
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Ws>(1024);
            slots.lock().expect("slots").insert(path.clone(), tx);
            tokio::spawn(async move {
                while let Some(m) = rx.recv().await {
                    if sink.send(m).await.is_err() {
                        break;
                    }
                }
            });
            let mut peer: Option<tokio::sync::mpsc::Sender<Ws>> = None;
            while let Some(Ok(m)) = stream.next().await {
                if !(m.is_text() || m.is_binary()) {
                    continue;
                }
                if peer.is_none() {
                    peer = slots.lock().expect("slots").get(&other).cloned();
                }
                if let Some(p) = &peer {
                    let _ = p.send(m).await;
                }
            }
        });
    }
}

// ---- the load generator ----------------------------------------------------------

struct Server {
    child: std::process::Child,
    ws: String,
    pin: Pin,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_banner(child: &mut std::process::Child) -> (String, Pin) {
    use std::io::BufRead;
    let out = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(out).lines();
    let mut url = String::new();
    let mut pin = None;
    while url.is_empty() || pin.is_none() {
        let line = lines.next().expect("server banner").expect("line");
        if let Some(u) = line.strip_prefix("listening on https://") {
            url = format!("wss://{u}");
        } else if let Some(p) = line.strip_prefix("certificate sha256 ") {
            pin = Some(Pin::from_hex(p).expect("pin"));
        }
    }
    std::thread::Builder::new()
        .name("drain".into())
        .spawn(move || for _ in lines {})
        .expect("thread");
    (url, pin.expect("pin"))
}

fn start_relay() -> Server {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("relay.toml"),
        "hold_interval_secs = 3600\n[limits]\nmax_connections = 5000\nmax_unauthenticated_per_address = 5000\n",
    )
    .expect("config");
    let mut add = Command::new(RELAY)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["user", "add", "bench"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("relay user add");
    {
        use std::io::Write;
        add.stdin
            .take()
            .expect("stdin")
            .write_all(b"bench-password\n")
            .expect("password");
    }
    assert!(add.wait().expect("wait").success());
    let mut child = Command::new(RELAY)
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start relay");
    let (ws, pin) = read_banner(&mut child);
    Server {
        child,
        ws,
        pin,
        _dir: Some(dir),
    }
}

fn start_forwarder() -> Server {
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .arg("forwarder")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start forwarder");
    let (ws, pin) = read_banner(&mut child);
    Server {
        child,
        ws,
        pin,
        _dir: None,
    }
}

/// user + system CPU seconds of `pid` so far.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"))
        .unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // fields[0] is state (field 3); utime is field 14, stime field 15.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident memory of `pid` in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn hello(role: Role) -> String {
    encode_text(&Envelope::new(Message::Hello {
        version: PROTOCOL_VERSION,
        role,
        agent: "lotse-bench".into(),
        lang: Lang::En,
        resume: None,
    }))
}

async fn recv_until(ws: &mut WsStream, mut pred: impl FnMut(&Message) -> bool) -> Message {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await
            .expect("setup timed out")
            .expect("link closed during setup")
            .expect("link error during setup");
        if let Ws::Text(t) = m
            && let Ok(env) = decode_text(t.as_str())
            && pred(&env.msg)
        {
            return env.msg;
        }
    }
}

/// Open one customer + technician pair; returns the two links and the session id.
async fn pair(
    server: &Server,
    relay_mode: bool,
    token: &str,
    i: usize,
) -> (WsStream, WsStream, u64) {
    if !relay_mode {
        let c = lotse_link::connect(&format!("{}/c/{i}", server.ws), server.pin, None)
            .await
            .expect("connect");
        let t = lotse_link::connect(&format!("{}/t/{i}", server.ws), server.pin, None)
            .await
            .expect("connect");
        return (c, t, i as u64);
    }
    let mut c = lotse_link::connect(&format!("{}/ws/customer", server.ws), server.pin, None)
        .await
        .expect("connect");
    c.send(Ws::text(hello(Role::Customer))).await.expect("send");
    let Message::Welcome {
        session: Some(sid), ..
    } = recv_until(&mut c, |m| matches!(m, Message::Welcome { .. })).await
    else {
        panic!("no session");
    };
    c.send(Ws::text(encode_text(&Envelope::new(Message::Join {
        name: format!("customer {i}"),
        problem: None,
    }))))
    .await
    .expect("join");
    let mut t = lotse_link::connect(
        &format!("{}/ws/technician", server.ws),
        server.pin,
        Some(token),
    )
    .await
    .expect("tech");
    t.send(Ws::text(hello(Role::Technician)))
        .await
        .expect("send");
    recv_until(
        &mut t,
        |m| matches!(m, Message::Queue { entries, .. } if entries.iter().any(|e| e.session == sid)),
    )
    .await;
    t.send(Ws::text(encode_text(&Envelope::new(Message::Accept {
        session: sid,
    }))))
    .await
    .expect("accept");
    recv_until(&mut t, |m| matches!(m, Message::SessionStarted { .. })).await;
    recv_until(&mut c, |m| matches!(m, Message::TechnicianJoined { .. })).await;
    (c, t, sid)
}

async fn login(server: &Server) -> String {
    let mut l = lotse_link::connect(&format!("{}/ws/login", server.ws), server.pin, None)
        .await
        .expect("login link");
    l.send(Ws::text(hello(Role::Technician)))
        .await
        .expect("hello");
    l.send(Ws::text(encode_text(&Envelope::new(Message::Login {
        user: "bench".into(),
        password: "bench-password".into(),
    }))))
    .await
    .expect("login");
    match recv_until(&mut l, |m| {
        matches!(m, Message::LoginOk { .. } | Message::Error { .. })
    })
    .await
    {
        Message::LoginOk { token, .. } => token,
        other => panic!("login failed: {other:?}"),
    }
}

/// Drive one link: send `size`-byte chats every 100 ms once `go` flips,
/// ack every numbered message, record one-way latencies of received chats.
async fn drive(
    mut ws: WsStream,
    session: Option<u64>,
    size: usize,
    base: Instant,
    mut go: watch::Receiver<bool>,
    phase: Duration,
    latencies: Arc<Mutex<Vec<u32>>>,
) {
    let _ = go.wait_for(|g| *g).await;
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + phase,
        Duration::from_millis(100),
    );
    let mut seq = 0u64;
    let padding = "x".repeat(size);
    let mut mine = Vec::with_capacity(1024);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if !*go.borrow() { break; }
                seq += 1;
                let stamp = base.elapsed().as_micros();
                let mut text = format!("{stamp} ");
                text.push_str(&padding[..size.saturating_sub(text.len())]);
                let mut env = Envelope::new(Message::Chat { text, from: None, at_ms: None }).with_seq(seq);
                env.session = session;
                if ws.send(Ws::text(encode_text(&env))).await.is_err() { break; }
            }
            m = ws.next() => {
                let Some(Ok(m)) = m else { break };
                let Ws::Text(t) = m else { continue };
                let Ok(env) = decode_text(t.as_str()) else { continue };
                if let Message::Chat { text, .. } = &env.msg
                    && let Some(sent) = text.split(' ').next().and_then(|s| s.parse::<u128>().ok())
                {
                    let now = base.elapsed().as_micros();
                    mine.push(u32::try_from(now.saturating_sub(sent)).unwrap_or(u32::MAX));
                }
                if env.msg.is_reliable() && let Some(s) = env.seq {
                    let mut ack = Envelope::new(Message::Ack { seq: s });
                    ack.session = env.session;
                    if ws.send(Ws::text(encode_text(&ack))).await.is_err() { break; }
                }
            }
        }
    }
    latencies.lock().expect("latencies").extend(mine);
    let _ = ws.close(None).await;
}

struct Outcome {
    up: Vec<u32>,
    down: Vec<u32>,
    cpu_percent: f64,
    generator_cpu_percent: f64,
    /// Server CPU time per chat message received, in µs.
    cpu_us_per_msg: f64,
    setup_secs: f64,
    /// Server memory before the sessions opened and once they are all paired (KiB).
    rss_idle_kib: u64,
    rss_paired_kib: u64,
    /// ... and at the end of the measured chat (histories filled).
    rss_end_kib: u64,
    sessions: usize,
}

async fn run(
    server: &Server,
    relay_mode: bool,
    sessions: usize,
    warm: Duration,
    measure: Duration,
) -> Outcome {
    let started = Instant::now();
    let token = if relay_mode {
        login(server).await
    } else {
        String::new()
    };
    let rss_idle_kib = rss_kib(server.child.id());
    let base = Instant::now();
    let (go_tx, go_rx) = watch::channel(false);
    let up = Arc::new(Mutex::new(Vec::new()));
    let down = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..sessions {
        let (c, t, sid) = pair(server, relay_mode, &token, i).await;
        let phase = Duration::from_micros((i as u64 * 7919) % 100_000);
        // Customer: 2 KB; the technician receives them (upstream latency).
        tasks.push(tokio::spawn(drive(
            c,
            None,
            2048,
            base,
            go_rx.clone(),
            phase,
            down.clone(),
        )));
        tasks.push(tokio::spawn(drive(
            t,
            relay_mode.then_some(sid),
            16,
            base,
            go_rx.clone(),
            phase + Duration::from_millis(50),
            up.clone(),
        )));
    }
    let setup_secs = started.elapsed().as_secs_f64();
    let rss_paired_kib = rss_kib(server.child.id());
    let _ = go_tx.send(true);
    tokio::time::sleep(warm).await;
    // Forget what the warm-up recorded.
    for v in [&up, &down] {
        v.lock().expect("lat").clear();
    }
    let cpu0 = cpu_secs(server.child.id());
    let gen0 = cpu_secs(std::process::id());
    let t0 = Instant::now();
    tokio::time::sleep(measure).await;
    let cpu1 = cpu_secs(server.child.id());
    let gen1 = cpu_secs(std::process::id());
    let rss_end_kib = rss_kib(server.child.id());
    let elapsed = t0.elapsed().as_secs_f64();
    let _ = go_tx.send(false);
    for t in tasks {
        let _ = t.await;
    }
    // Each link records what it receives: the technician the customer's
    // 2 KB messages (up), the customer the technician's 16 B ones (down).
    let take = |v: &Arc<Mutex<Vec<u32>>>| std::mem::take(&mut *v.lock().expect("lat"));
    let (up, down) = (take(&up), take(&down));
    let messages = (up.len() + down.len()).max(1) as f64;
    Outcome {
        cpu_us_per_msg: (cpu1 - cpu0) * 1e6 / messages,
        up,
        down,
        cpu_percent: (cpu1 - cpu0) / elapsed * 100.0,
        generator_cpu_percent: (gen1 - gen0) / elapsed * 100.0,
        setup_secs,
        rss_idle_kib,
        rss_paired_kib,
        rss_end_kib,
        sessions,
    }
}

fn pct(v: &mut [u32], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    f64::from(v[i]) / 1000.0
}

fn main_report(name: &str, o: &mut Outcome) -> [f64; 4] {
    let r = [
        pct(&mut o.up, 0.5),
        pct(&mut o.up, 0.99),
        pct(&mut o.down, 0.5),
        pct(&mut o.down, 0.99),
    ];
    println!(
        "{name:>9}: customer→technician 2 KB p50 {:.2} ms p99 {:.2} ms ({} msgs) | technician→customer 16 B p50 {:.2} ms p99 {:.2} ms ({} msgs) | server CPU {:.0}% ({:.1} µs per message) | load generator CPU {:.0}% | setup {:.1} s",
        r[0],
        r[1],
        o.up.len(),
        r[2],
        r[3],
        o.down.len(),
        o.cpu_percent,
        o.cpu_us_per_msg,
        o.generator_cpu_percent,
        o.setup_secs
    );
    println!(
        "{name:>9}: server memory {:.1} MiB before the sessions, {:.1} MiB with them paired ({:.0} KiB per paired session: two TLS WebSocket links), {:.1} MiB after the chat ({:.0} KiB per session)",
        o.rss_idle_kib as f64 / 1024.0,
        o.rss_paired_kib as f64 / 1024.0,
        o.rss_paired_kib.saturating_sub(o.rss_idle_kib) as f64 / o.sessions.max(1) as f64,
        o.rss_end_kib as f64 / 1024.0,
        o.rss_end_kib.saturating_sub(o.rss_idle_kib) as f64 / o.sessions.max(1) as f64
    );
    r
}

async fn bench() {
    lotse_link::install_crypto_provider();
    let sessions = env_or("LOTSE_BENCH_SESSIONS", 500) as usize;
    let secs = env_or("LOTSE_BENCH_SECS", 20);
    let warm = Duration::from_secs(3);
    println!(
        "{sessions} paired sessions, {secs} s measured after {} s warm-up",
        warm.as_secs()
    );

    let forwarder = start_forwarder();
    let mut direct = run(&forwarder, false, sessions, warm, Duration::from_secs(secs)).await;
    drop(forwarder);
    let relay = start_relay();
    let mut relayed = run(&relay, true, sessions, warm, Duration::from_secs(secs)).await;
    drop(relay);

    let d = main_report("direct", &mut direct);
    let r = main_report("relay", &mut relayed);
    println!(
        "added by the relay: customer→technician p50 {:+.2} ms p99 {:+.2} ms | technician→customer p50 {:+.2} ms p99 {:+.2} ms",
        r[0] - d[0],
        r[1] - d[1],
        r[2] - d[2],
        r[3] - d[3]
    );
    println!(
        "relay CPU per message: {:.2}× the forwarder's",
        relayed.cpu_us_per_msg / direct.cpu_us_per_msg
    );
}
