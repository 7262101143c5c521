//! Session recording end to end: the real relay, scripted customer and
//! technician peers sending real codec-encoded screen frames, and the real
//! console playing the recording back (`--play FILE --export-png OUT`).
//! Run `cargo build -p lotse-relay -p lotse-console` first.

use std::path::{Path, PathBuf};
use std::process::Command;

use lotse_e2e::relay::{Peer, Relay, WAIT, workspace_binary};
use lotse_protocol::{
    BinaryHeader, BinaryKind, ConsentTopic, EndReason, FLAG_LAST, Message, Role, paths,
};

const W: u32 = 160;
const H: u32 = 96;

/// Deterministic noise (xorshift): compresses badly, so the encoded
/// frames are full of distinctive bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A BGRA screen of noise with opaque alpha.
fn screen(seed: u64) -> Vec<u8> {
    let mut px = noise(seed, (W * H * 4) as usize);
    for p in px.chunks_exact_mut(4) {
        p[3] = 255;
    }
    px
}

fn bgra_to_rgba(bgra: &[u8]) -> Vec<u8> {
    bgra.chunks_exact(4)
        .flat_map(|p| [p[2], p[1], p[0], 255])
        .collect()
}

/// The wire frames of two screen updates as the client sends them (a
/// keyframe, then the lower half changed), and the final picture (RGBA).
fn encoded_screens(seed: u64) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut enc = lotse_codec::Encoder::new(lotse_codec::EncoderConfig::default());
    let first = screen(seed);
    let mut second = first.clone();
    let half = (W * H * 2) as usize;
    second[half..].copy_from_slice(&screen(seed ^ 0x5555)[half..]);
    let mut frames = Vec::new();
    for (n, px) in [&first, &second].into_iter().enumerate() {
        let update = enc
            .encode(&lotse_codec::Frame {
                width: W,
                height: H,
                stride: (W * 4) as usize,
                bgra: px,
            })
            .expect("the screen changed");
        let pieces: Vec<&[u8]> = lotse_codec::split(&update).collect();
        let count = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            frames.push(
                BinaryHeader {
                    kind: BinaryKind::ScreenUpdate,
                    flags: if i + 1 == count { FLAG_LAST } else { 0 },
                    id: 1,
                    session: 0,
                    seq: n as u64 + 1,
                }
                .frame(piece),
            );
        }
    }
    (frames, bgra_to_rgba(&second))
}

/// 32 bytes from the middle of a frame's payload: what must never be on
/// disk without consent.
fn fingerprint(frame: &[u8]) -> Vec<u8> {
    let mid = BinaryHeader::LEN + (frame.len() - BinaryHeader::LEN) / 2;
    frame[mid..mid + 32].to_vec()
}

/// Every file below `dir` (the database, its WAL, recordings, config...).
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Files below `dir` that contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    all_files(dir)
        .into_iter()
        .filter(|p| {
            std::fs::read(p)
                .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .collect()
}

fn recording_files(data_dir: &Path) -> Vec<PathBuf> {
    let dir = data_dir.join("recordings");
    if !dir.exists() {
        return Vec::new();
    }
    all_files(&dir)
}

/// HTTPS GET over the pinned certificate, with an optional bearer token.
async fn get(relay: &Relay, path: &str, bearer: Option<&str>) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    lotse_link::install_crypto_provider();
    let tcp = tokio::net::TcpStream::connect(relay.addr)
        .await
        .expect("connect");
    let connector = tokio_rustls::TlsConnector::from(lotse_link::pinned_tls_config(relay.pin));
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut tls = connector.connect(name, tcp).await.expect("TLS");
    let auth = bearer.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
        relay.addr
    );
    tls.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, tls.read_to_end(&mut response))
        .await
        .expect("the response in time")
        .ok();
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
    (status, response[split + 4..].to_vec())
}

/// A technician link plus its token (for the recordings API).
async fn technician(relay: &Relay) -> (Peer, String) {
    let token = Peer::login(relay, "tina", "geheim-123")
        .await
        .expect("login");
    let mut tech = Peer::connect(relay, paths::TECHNICIAN, Some(&token))
        .await
        .expect("technician connect");
    tech.hello(Role::Technician).await;
    (tech, token)
}

/// A customer who answers the recording prompt with `recording`
/// (None: never answers it), joins, and is accepted by `tech`.
async fn served_customer(relay: &Relay, tech: &mut Peer, recording: Option<bool>) -> (Peer, u64) {
    let mut c = Peer::connect(relay, paths::CUSTOMER, None)
        .await
        .expect("customer connect");
    c.hello(Role::Customer).await;
    let sid = c.session.expect("session id");
    if let Some(granted) = recording {
        c.send(Message::Consent {
            topic: ConsentTopic::Recording,
            granted,
        })
        .await;
    }
    c.send(Message::Join {
        name: "Erika Muster".into(),
        problem: None,
    })
    .await;
    tech.recv_until(
        |e| matches!(&e.msg, Message::Queue { entries, .. } if entries.iter().any(|q| q.session == sid)),
        WAIT,
    )
    .await;
    tech.send(Message::Accept { session: sid }).await;
    tech.recv_until(
        |e| matches!(e.msg, Message::SessionStarted { session, .. } if session == sid),
        WAIT,
    )
    .await;
    c.recv_until(|e| matches!(e.msg, Message::TechnicianJoined { .. }), WAIT)
        .await;
    (c, sid)
}

async fn chat(from: &mut Peer, to: &mut Peer, sid: Option<u64>, text: &str) {
    let msg = Message::Chat {
        text: text.into(),
        from: None,
        at_ms: None,
    };
    match sid {
        Some(s) => from.send_for(s, msg).await,
        None => from.send(msg).await,
    }
    to.recv_until(
        |e| matches!(&e.msg, Message::Chat { text: t, .. } if t == text),
        WAIT,
    )
    .await;
}

/// The customer sends each frame; the technician receives it intact
/// (with its session id) before the next goes out, as with frame pacing.
async fn share(c: &mut Peer, tech: &mut Peer, sid: u64, frames: &[Vec<u8>]) {
    for frame in frames {
        c.send_binary(frame.clone()).await;
        let got = tech.recv_binary(WAIT).await;
        let (head, payload) = BinaryHeader::parse(&got).expect("header");
        assert_eq!(head.session, sid);
        assert_eq!(payload, &frame[BinaryHeader::LEN..]);
    }
}

async fn end_by_customer(mut c: Peer, tech: &mut Peer, sid: u64) {
    c.send(Message::End {
        reason: EndReason::EndedByCustomer,
    })
    .await;
    tech.recv_until(
        |e| matches!(e.msg, Message::End { .. }) && e.session == Some(sid),
        WAIT,
    )
    .await;
    c.close().await;
}

/// `lotse-console --play FILE --export-png OUT`: (JSON lines, RGBA pixels, (w, h)).
fn play(file: &Path) -> (Vec<serde_json::Value>, Vec<u8>, (u32, u32)) {
    let png = file.with_extension("png");
    let out = Command::new(workspace_binary("lotse-console"))
        .arg("--play")
        .arg(file)
        .arg("--export-png")
        .arg(&png)
        .output()
        .expect("run lotse-console (cargo build -p lotse-console first)");
    assert!(
        out.status.success(),
        "lotse-console --play failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let img = image::open(&png).expect("the exported PNG").into_rgba8();
    let size = img.dimensions();
    (lines, img.into_raw(), size)
}

fn chat_lines(lines: &[serde_json::Value]) -> Vec<(u64, String, String)> {
    lines
        .iter()
        .filter(|l| l["type"] == "chat")
        .map(|l| {
            (
                l["t_ms"].as_u64().expect("t_ms"),
                l["role"].as_str().unwrap_or_default().to_owned(),
                l["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn summary(lines: &[serde_json::Value]) -> &serde_json::Value {
    lines
        .iter()
        .find(|l| l["type"] == "summary")
        .expect("a summary line")
}

#[tokio::test]
async fn with_consent_the_session_is_recorded_and_plays_back_exactly_across_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().to_owned();
    let relay = Relay::start_in(&data).expect("relay");
    relay.add_user("tina", "geheim-123");
    let (mut tech, token) = technician(&relay).await;
    let (mut c, sid) = served_customer(&relay, &mut tech, Some(true)).await;

    chat(&mut c, &mut tech, None, "Guten Tag, der Drucker streikt").await;
    chat(&mut tech, &mut c, Some(sid), "Ich schaue es mir an").await;
    let (frames, picture) = encoded_screens(0x1234_5678);
    share(&mut c, &mut tech, sid, &frames).await;
    chat(&mut c, &mut tech, None, "Danke!").await;
    end_by_customer(c, &mut tech, sid).await;

    // Only technicians get recordings.
    let (status, _) = get(&relay, &format!("/api/recordings/{sid}"), None).await;
    assert_eq!(status, 401);
    let (status, _) = get(&relay, &format!("/api/recordings/{sid}"), Some("wrong")).await;
    assert_eq!(status, 401);
    let (status, bytes) = get(&relay, &format!("/api/recordings/{sid}"), Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(&bytes[..8], b"LOTSEREC");
    // The frames are in it as sent (the search below would find them).
    for frame in &frames {
        assert!(
            bytes
                .windows(32)
                .any(|w| w == fingerprint(frame).as_slice())
        );
    }
    let fetched = data.join("fetched-1.lrec");
    std::fs::write(&fetched, &bytes).expect("write");

    let (lines, rgba, size) = play(&fetched);
    assert_eq!(size, (W, H));
    assert!(
        rgba == picture,
        "the played-back picture differs from the screen"
    );
    let said = chat_lines(&lines);
    let texts: Vec<_> = said
        .iter()
        .map(|(_, r, t)| (r.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        texts,
        [
            ("customer", "Guten Tag, der Drucker streikt"),
            ("technician", "Ich schaue es mir an"),
            ("customer", "Danke!"),
        ]
    );
    assert!(said.windows(2).all(|w| w[0].0 <= w[1].0), "{said:?}");
    let sum = summary(&lines);
    assert_eq!(sum["updates"], 2, "{sum}");
    assert_eq!(sum["errors"], 0, "{sum}");
    assert_eq!(sum["stopped"], "ended_by_customer", "{sum}");
    assert_eq!(sum["truncated"], false, "{sum}");

    // The admin command gives the same file.
    let exported = data.join("exported-1.lrec");
    relay.cli(&[
        "recordings",
        "export",
        &sid.to_string(),
        exported.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(std::fs::read(&exported).expect("exported"), bytes);
    assert!(
        relay
            .cli(&["recordings", "list"])
            .contains(&format!("{sid}\t"))
    );
    // The record writer runs on its own: wait until the entries are in.
    let needles = [
        "recording_started",
        "recording_fetched",
        "consent recording granted",
    ];
    relay.wait_record(sid, &needles);
    tech.close().await;

    // The relay is killed (no goodbye) and started again on the same data:
    // the finished recording stays as it was.
    drop(relay);
    let relay = Relay::start_in(&data).expect("relay again");
    let (mut tech, token) = technician(&relay).await;
    let (mut c, sid2) = served_customer(&relay, &mut tech, Some(true)).await;
    assert!(sid2 > sid, "session ids go on after a restart");
    let (frames2, picture2) = encoded_screens(0x0bad_cafe);
    share(&mut c, &mut tech, sid2, &frames2).await;
    chat(&mut c, &mut tech, None, "Noch eine Frage").await;
    // Everything so far is on disk once the API answers; then the relay is
    // killed in the middle of this session.
    let (status, _) = get(&relay, &format!("/api/recordings/{sid2}"), Some(&token)).await;
    assert_eq!(status, 200);
    drop(c);
    drop(tech);
    drop(relay);

    let relay = Relay::start_in(&data).expect("relay a third time");
    let (_tech, token) = technician(&relay).await;
    let (status, again) = get(&relay, &format!("/api/recordings/{sid}"), Some(&token)).await;
    assert_eq!(status, 200);
    assert!(again == bytes, "the first recording changed after restarts");
    let (status, open) = get(&relay, &format!("/api/recordings/{sid2}"), Some(&token)).await;
    assert_eq!(status, 200);
    let cut = data.join("fetched-2.lrec");
    std::fs::write(&cut, &open).expect("write");
    let (lines, rgba, size) = play(&cut);
    assert_eq!(size, (W, H));
    assert!(
        rgba == picture2,
        "the interrupted recording does not play back"
    );
    assert_eq!(
        chat_lines(&lines)
            .iter()
            .map(|(_, _, t)| t.as_str())
            .collect::<Vec<_>>(),
        ["Noch eine Frage"]
    );
    assert_eq!(summary(&lines)["updates"], 2);
}

#[tokio::test]
async fn without_consent_nothing_of_the_screen_is_written_anywhere() {
    let relay = Relay::start();
    relay.add_user("tina", "geheim-123");
    let (mut tech, token) = technician(&relay).await;
    let mut secrets = Vec::new();
    // Declined, and never asked.
    for (answer, seed) in [(Some(false), 0xdead_beef_u64), (None, 0x00dd_ba11)] {
        let (mut c, sid) = served_customer(&relay, &mut tech, answer).await;
        chat(&mut c, &mut tech, None, "Bitte nicht aufzeichnen").await;
        let (frames, _) = encoded_screens(seed);
        share(&mut c, &mut tech, sid, &frames).await;
        end_by_customer(c, &mut tech, sid).await;
        let (status, _) = get(&relay, &format!("/api/recordings/{sid}"), Some(&token)).await;
        assert_eq!(status, 404, "session {sid} has a recording");
        secrets.extend(frames.iter().map(|f| fingerprint(f)));
        // The session record is complete (the chat is in the database)...
        let report = relay.wait_record(sid, &["Bitte nicht aufzeichnen", "ended_by_customer"]);
        assert!(!report.contains("recording_started"), "{report}");
    }
    tech.close().await;
    // ... and no file and no byte of the screen is anywhere in the data
    // directory: database, its WAL, config, recordings folder.
    assert_eq!(recording_files(&relay.data_dir), Vec::<PathBuf>::new());
    let files = all_files(&relay.data_dir);
    assert!(
        files.iter().any(|p| p.ends_with("relay.sqlite")),
        "{files:?}"
    );
    for secret in &secrets {
        let found = files_containing(&relay.data_dir, secret);
        assert!(found.is_empty(), "screen bytes found in {found:?}");
    }
}
