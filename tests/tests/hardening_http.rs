//! Hostile input against the relay's HTTP side (issue 11, section 8):
//! stalled downloads, one address taking every slot, recordings of other
//! technicians' sessions, framing and HSTS headers, forged Host headers.
//! The real relay binary over real TLS; run `cargo build -p lotse-relay`
//! first.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use lotse_e2e::relay::{Peer, Relay, WAIT, connect_tcp_from};
use lotse_protocol::{ConsentTopic, Message, Role, paths, stamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::client::TlsStream;

/// The attacker's address and a technician's other address (Linux
/// loopback answers on all of 127.0.0.0/8).
const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const ELSEWHERE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// A pinned TLS connection to the relay from `from`.
async fn tls_from(
    relay: &Relay,
    from: IpAddr,
) -> std::io::Result<TlsStream<tokio::net::TcpStream>> {
    lotse_link::install_crypto_provider();
    let tcp = connect_tcp_from(relay, from).await?;
    let connector = tokio_rustls::TlsConnector::from(lotse_link::pinned_tls_config(relay.pin));
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    connector.connect(name, tcp).await
}

/// A GET for `path` with `host` as its Host header and `extra` header lines.
fn request(path: &str, host: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")
}

/// A WebSocket upgrade request for `path` with `host` as its Host header.
fn upgrade(path: &str, host: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// Send `raw` (a whole request head); returns the stream after the
/// response head, and the head.
async fn send_raw(relay: &Relay, raw: &str) -> (TlsStream<tokio::net::TcpStream>, String) {
    let mut tls = tls_from(relay, ATTACKER).await.expect("TLS");
    tls.write_all(raw.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(WAIT, tls.read(&mut byte))
            .await
            .expect("the response head in time")
            .expect("read");
        assert_eq!(n, 1, "the relay closed before the response head: {head:?}");
        head.push(byte[0]);
    }
    (tls, String::from_utf8_lossy(&head).into_owned())
}

/// The status of the answer to `raw`.
async fn status_for(relay: &Relay, raw: &str) -> (u16, String) {
    let (_, head) = send_raw(relay, raw).await;
    (status_of(&head), head)
}

fn status_of(head: &str) -> u16 {
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn content_length(head: &str) -> u64 {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .expect("Content-Length")
}

/// Read until the relay ends the stream (EOF or a cut); the bytes read.
async fn read_rest(tls: &mut TlsStream<tokio::net::TcpStream>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match tokio::time::timeout(WAIT, tls.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the stream stayed open after {} bytes", out.len()),
        }
    }
}

/// A whole GET with `host` as the Host header: (status, head, body).
async fn get(relay: &Relay, path: &str, host: &str, extra: &str) -> (u16, String, Vec<u8>) {
    let (mut tls, head) = send_raw(relay, &request(path, host, extra)).await;
    let body = read_rest(&mut tls).await;
    (status_of(&head), head, body)
}

fn host_of(relay: &Relay) -> String {
    relay.addr.to_string()
}

/// The relay's resident memory in bytes (`VmRSS` of /proc/PID/status).
fn rss(relay: &Relay) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", relay.pid())).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// Wait until the relay has logged `needle` `count` times.
async fn logged(relay: &Relay, needle: &str, count: usize, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let seen = relay.stderr().matches(needle).count();
        if seen >= count {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay logged {needle:?} {seen} times, not {count}:\n{}",
            relay.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Deterministic bytes that do not compress (xorshift).
fn program_bytes(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

// ---- 8.1 downloads stream from disk, with a write deadline ----------------

#[tokio::test]
async fn stalled_downloads_hold_no_copy_of_the_program_and_are_dropped() {
    const SIZE: usize = 64 * 1024 * 1024;
    const STALLED: usize = 6;
    let dir = tempfile::tempdir().expect("dir");
    let exe = dir.path().join("lotse-big");
    // A large program that already carries an old stamp (the relay strips it).
    let program = program_bytes(SIZE);
    let mut file = program.clone();
    stamp::append(
        &mut file,
        &stamp::Stamp {
            relay_url: "wss://old.example".into(),
            cert_sha256: "00".repeat(32),
            ticket: "x.1.00".into(),
            site_name: "old".into(),
            lang: lotse_protocol::Lang::En,
            expires_at: u64::MAX,
        },
    );
    std::fs::write(&exe, &file).expect("write program");
    drop(file);
    let relay = Relay::start_with_config(&format!(
        "[limits]\nhttp_write_timeout_secs = 2\n[downloads]\nlinux = \"{}\"\n",
        exe.display()
    ));
    let host = host_of(&relay);
    let (status, _, _) = get(&relay, "/api/site", &host, "").await;
    assert_eq!(status, 200);
    let before = rss(&relay);

    // Downloads whose receivers read the head and then nothing.
    let mut stalled = Vec::new();
    for _ in 0..STALLED {
        let (tls, head) = send_raw(&relay, &request("/download/linux", &host, "")).await;
        assert_eq!(status_of(&head), 200, "{head}");
        stalled.push((tls, content_length(&head)));
    }
    let grown = rss(&relay).saturating_sub(before);
    assert!(
        grown < SIZE as u64,
        "{STALLED} stalled downloads of a {} MiB program grew the relay by {} MiB",
        SIZE >> 20,
        grown >> 20
    );

    // The relay gives up on each receiver that stopped reading ...
    logged(&relay, "download not delivered", STALLED, WAIT * 2).await;
    // ... and the receivers see their download cut short.
    for (mut tls, len) in stalled {
        let got = read_rest(&mut tls).await.len() as u64;
        assert!(got < len, "a stalled download still got all {len} bytes");
    }

    // A reader that keeps reading gets the program with a fresh stamp.
    let (status, head, body) = get(&relay, "/download/linux?key=k1", &host, "").await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(body.len() as u64, content_length(&head));
    assert_eq!(stamp::unstamped_len(&body), SIZE);
    assert!(body[..SIZE] == program[..], "the program bytes changed");
    let st = stamp::read(&body, 0).expect("stamp");
    assert_eq!(st.relay_url, relay.ws);
    assert_eq!(st.cert_sha256, relay.pin_hex);
    assert!(st.ticket.starts_with("k1."), "{}", st.ticket);
}

// ---- 8.2 per-address caps ----------------------------------------------------

#[tokio::test]
async fn one_address_cannot_lock_technicians_out() {
    const CAP: usize = 6;
    let relay = Relay::start_with_config(&format!(
        "[limits]\nmax_connections = {}\nmax_unauthenticated_per_address = {CAP}\n",
        2 * CAP
    ));
    relay.add_user("tina", "geheim-123");

    // One address opens login links (and never logs in) until refused.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..2 * CAP {
        let link = tokio::time::timeout(
            WAIT,
            Peer::connect_from(&relay, ATTACKER, paths::LOGIN, None),
        )
        .await
        .expect("a login link is answered at once, accepted or refused");
        match link {
            Ok(mut peer) => {
                peer.hello(Role::Technician).await;
                held.push(peer);
            }
            Err(_) => refused += 1,
        }
    }
    assert_eq!(held.len(), CAP, "links one address may hold");
    assert_eq!(refused, CAP);

    // A technician from another address still logs in and works.
    let tech = tokio::time::timeout(
        WAIT,
        Peer::technician_from(&relay, "tina", "geheim-123", ELSEWHERE),
    )
    .await
    .expect("the technician got in while one address held its links");
    drop(tech);
    drop(held);
}

#[tokio::test]
async fn one_address_cannot_hold_every_tls_handshake() {
    let relay = Relay::start_with_config(
        "[limits]\nmax_handshakes_per_address = 3\nhandshake_timeout_secs = 120\n",
    );
    // Three connections that never send a ClientHello.
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(connect_tcp_from(&relay, ATTACKER).await.expect("tcp"));
    }
    // A fourth handshake from that address is closed at once ...
    let fourth = tokio::time::timeout(WAIT, tls_from(&relay, ATTACKER))
        .await
        .expect("the fourth handshake is answered at once");
    assert!(
        fourth.is_err(),
        "a fourth handshake from one address went through"
    );
    // ... while another address is served.
    let mut tls = tls_from(&relay, ELSEWHERE)
        .await
        .expect("TLS from elsewhere");
    let request = format!(
        "GET /api/site HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        relay.addr
    );
    tls.write_all(request.as_bytes()).await.expect("write");
    let body = read_rest(&mut tls).await;
    assert!(
        body.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    drop(silent);
}

// ---- 8.6 recordings belong to the session's technician -----------------------

#[tokio::test]
async fn a_technician_cannot_fetch_another_technicians_recording() {
    let relay = Relay::start();
    relay.add_user("tina", "geheim-123");
    relay.add_user("bert", "geheim-456");
    let token_b = Peer::login(&relay, "bert", "geheim-456")
        .await
        .expect("bert logs in");
    let token_a = Peer::login(&relay, "tina", "geheim-123")
        .await
        .expect("tina logs in");
    let mut tina = Peer::connect(&relay, paths::TECHNICIAN, Some(&token_a))
        .await
        .expect("tina connects");
    tina.hello(Role::Technician).await;

    let mut c = Peer::connect(&relay, paths::CUSTOMER, None)
        .await
        .expect("customer");
    c.hello(Role::Customer).await;
    let sid = c.session.expect("session");
    c.send(Message::Consent {
        topic: ConsentTopic::Recording,
        granted: true,
    })
    .await;
    c.send(Message::Join {
        name: "Erika".into(),
        problem: None,
    })
    .await;
    tina.recv_until(
        |e| matches!(&e.msg, Message::Queue { entries, .. } if entries.iter().any(|q| q.session == sid)),
        WAIT,
    )
    .await;
    tina.send(Message::Accept { session: sid }).await;
    tina.recv_until(
        |e| matches!(e.msg, Message::SessionStarted { session, .. } if session == sid),
        WAIT,
    )
    .await;

    let host = host_of(&relay);
    let path = format!("/api/recordings/{sid}");
    let bearer = |t: &str| format!("Authorization: Bearer {t}\r\n");
    // While the session runs: the other technician is refused, tina is not.
    let (status, _, body) = get(&relay, &path, &host, &bearer(&token_b)).await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert!(!body.starts_with(b"LOTSEREC"));
    let (status, _, body) = get(&relay, &path, &host, &bearer(&token_a)).await;
    assert_eq!(status, 200);
    assert!(body.starts_with(b"LOTSEREC"));

    // After the end too.
    tina.send_for(
        sid,
        Message::End {
            reason: lotse_protocol::EndReason::EndedByTechnician,
        },
    )
    .await;
    c.recv_until(|e| matches!(e.msg, Message::End { .. }), WAIT)
        .await;
    let (status, _, _) = get(&relay, &path, &host, &bearer(&token_b)).await;
    assert_eq!(status, 403);
    let (status, _, body) = get(&relay, &path, &host, &bearer(&token_a)).await;
    assert_eq!(status, 200);
    assert!(body.starts_with(b"LOTSEREC"));
}

// ---- 8.13 no framing, HTTPS only ---------------------------------------------

fn assert_protective_headers(what: &str, head: &str) {
    let lower = head.to_ascii_lowercase();
    for needle in [
        "content-security-policy: default-src 'self'; frame-ancestors 'none'",
        "x-frame-options: deny",
        "strict-transport-security: max-age=31536000",
        "x-content-type-options: nosniff",
    ] {
        assert!(lower.contains(needle), "{what}: no `{needle}` in\n{head}");
    }
}

#[tokio::test]
async fn every_answer_forbids_framing_and_insists_on_https() {
    let dir = tempfile::tempdir().expect("dir");
    let exe = dir.path().join("fake-lotse");
    std::fs::write(&exe, b"\x7fELF fake client").expect("write");
    let relay = Relay::start_with_config(&format!("[downloads]\nlinux = \"{}\"\n", exe.display()));
    let host = host_of(&relay);
    for (what, path, status) in [
        ("portal", "/", 200),
        ("web chat page", "/web/chat.html", 200),
        ("download", "/download/linux", 200),
        ("site API", "/api/site", 200),
        ("recordings API", "/api/recordings/1", 401),
        ("not found", "/nothing-here", 404),
    ] {
        let (got, head, _) = get(&relay, path, &host, "").await;
        assert_eq!(got, status, "{what}: {head}");
        assert_protective_headers(what, &head);
    }
    // WebSocket upgrades: the 101 and a refusal.
    let (status, head) = status_for(&relay, &upgrade(paths::LOGIN, &host, "")).await;
    assert_eq!(status, 101, "{head}");
    assert_protective_headers("101", &head);
    let (status, head) = status_for(&relay, &upgrade("/ws/nowhere", &host, "")).await;
    assert_eq!(status, 404, "{head}");
    assert_protective_headers("refused upgrade", &head);
}

// ---- 8.14 the Host header ------------------------------------------------------

#[tokio::test]
async fn requests_for_another_host_are_refused_and_stamps_carry_the_public_url() {
    let dir = tempfile::tempdir().expect("dir");
    let exe = dir.path().join("fake-lotse");
    std::fs::write(&exe, b"\x7fELF fake client").expect("write");
    let downloads = format!("[downloads]\nlinux = \"{}\"\n", exe.display());

    // Default: the listen address.
    let relay = Relay::start_with_config(&downloads);
    let (status, head, body) = get(&relay, "/download/linux", "evil.example", "").await;
    assert_eq!(status, 421, "{head}");
    assert!(
        !body.starts_with(b"\x7fELF"),
        "a program went out for evil.example"
    );
    let (status, _, _) = get(&relay, "/", "evil.example", "").await;
    assert_eq!(status, 421);
    let (status, _) = status_for(
        &relay,
        "GET /download/linux HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 421, "a request without a Host header");
    let (status, head) = status_for(&relay, &upgrade(paths::LOGIN, "evil.example", "")).await;
    assert_eq!(status, 421, "{head}");

    let (status, _, body) = get(&relay, "/download/linux", &host_of(&relay), "").await;
    assert_eq!(status, 200);
    let st = stamp::read(&body, 0).expect("stamp");
    assert_eq!(st.relay_url, relay.ws);
    drop(relay);

    // A configured public URL: only its host is served, and stamps carry it.
    let relay = Relay::start_with_config(&format!(
        "public_url = \"https://Support.Example.com\"\n{downloads}"
    ));
    let (status, head, body) = get(&relay, "/download/linux", "support.example.com", "").await;
    assert_eq!(status, 200, "{head}");
    let st = stamp::read(&body, 0).expect("stamp");
    assert_eq!(st.relay_url, "wss://support.example.com");
    let (status, _, _) = get(&relay, "/download/linux", "support.example.com:443", "").await;
    assert_eq!(status, 200);
    let (status, _, _) = get(&relay, "/download/linux", &host_of(&relay), "").await;
    assert_eq!(status, 421);
    // The web chat's own origin is the public one.
    let origin = "Origin: https://support.example.com\r\n";
    let (status, head) =
        status_for(&relay, &upgrade(paths::WEB, "support.example.com", origin)).await;
    assert_eq!(status, 101, "{head}");
}
