//! What an independent client written from `docs/PROTOCOL.md` found, and
//! the relay's own records of a session: limits answered as documented,
//! consents and file outcomes in the record, the waiting room bounded per
//! session and per address, and input only under the customer's grant.
//! Real relay binary, real TLS, raw protocol peers. Run
//! `cargo build -p lotse-relay` first.

use std::net::{IpAddr, Ipv4Addr};

use lotse_e2e::relay::{Peer, Relay, WAIT};
use lotse_protocol::limits::{AVATAR_BYTES, FILE_CHUNK_BYTES};
use lotse_protocol::{
    BinaryHeader, BinaryKind, ConsentTopic, EndReason, Envelope, ErrorCode, FLAG_LAST, InputEvent,
    Message, Role, ShareScope, paths,
};

fn error_of(e: &Envelope) -> Option<(ErrorCode, bool)> {
    match &e.msg {
        Message::Error { code, fatal, .. } => Some((*code, *fatal)),
        _ => None,
    }
}

/// The error's code as on the wire, and whether it is fatal.
fn error_name(e: &Envelope) -> Option<(String, bool)> {
    error_of(e).map(|(code, fatal)| (label(&code), fatal))
}

/// The limit error of the waiting room (`too_many`).
fn too_many(fatal: bool) -> Option<(String, bool)> {
    Some(("too_many".to_owned(), fatal))
}

/// `docs/PROTOCOL.md` with every run of white space as one space (so a
/// phrase may wrap in the file).
fn protocol_md() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/PROTOCOL.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The lines of `docs/PROTOCOL.md` as they are.
fn protocol_md_lines() -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/PROTOCOL.md");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn label(code: &ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn chat(text: &str) -> Message {
    Message::Chat {
        text: text.into(),
        from: None,
        at_ms: None,
    }
}

/// A technician serving a fresh customer: (customer, technician, session).
async fn paired(relay: &Relay, user: &str) -> (Peer, Peer, u64) {
    let mut tech = Peer::technician(relay, user, "passwort-1").await;
    let mut c = Peer::customer(relay, "Gina").await;
    let sid = tech.serve(&mut c, WAIT).await;
    (c, tech, sid)
}

fn relay_with(users: &[&str]) -> Relay {
    let relay = Relay::start();
    for user in users {
        relay.add_user(user, "passwort-1");
    }
    relay
}

/// The record (`sessions show`) once it contains `needle` (written in the
/// background), or as it is when time runs out.
async fn report(relay: &Relay, sid: u64, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        // Until its first row is written the session is unknown to the CLI.
        let out = std::process::Command::new(lotse_e2e::relay::relay_binary())
            .arg("--data-dir")
            .arg(&relay.data_dir)
            .args(["sessions", "show", &sid.to_string()])
            .output()
            .expect("run lotse-relay sessions show");
        let report = String::from_utf8_lossy(&out.stdout).into_owned();
        if report.contains(needle) || tokio::time::Instant::now() > deadline {
            return report;
        }
        tokio::task::yield_now().await;
    }
}

/// The technician sends a chat marker; everything the customer got up to
/// it (the relay forwards in order) is returned.
async fn customer_got_until_marker(
    tech: &mut Peer,
    c: &mut Peer,
    sid: u64,
    marker: &str,
) -> Vec<Message> {
    let start = c.log.len();
    tech.send_for(sid, chat(marker)).await;
    c.recv_until(
        |e| matches!(&e.msg, Message::Chat { text, .. } if text == marker),
        WAIT,
    )
    .await;
    c.log[start..].iter().map(|e| e.msg.clone()).collect()
}

/// The customer shares the whole screen; the technician hears of it.
async fn share_screen(c: &mut Peer, tech: &mut Peer) {
    c.send(Message::ShareGrant {
        scope: ShareScope::Screen { monitor: 0 },
        width: 640,
        height: 480,
    })
    .await;
    tech.recv_until(|e| matches!(e.msg, Message::ShareGrant { .. }), WAIT)
        .await;
}

/// The technician asks for control and the customer grants it.
async fn grant_control(c: &mut Peer, tech: &mut Peer, sid: u64) {
    tech.send_for(sid, Message::ControlRequest).await;
    c.recv_until(|e| matches!(e.msg, Message::ControlRequest), WAIT)
        .await;
    c.send(Message::ControlGrant).await;
    tech.recv_until(|e| matches!(e.msg, Message::ControlGrant), WAIT)
        .await;
}

fn inputs(msgs: &[Message]) -> usize {
    msgs.iter()
        .filter(|m| matches!(m, Message::Input { .. }))
        .count()
}

fn mouse(x: i32) -> Message {
    Message::Input {
        event: InputEvent::MouseMove { x, y: 1 },
    }
}

// ---- 7a: file chunks over the limit ------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_chunk_over_the_limit_is_refused_with_too_large() {
    let relay = relay_with(&["anna"]);
    let (mut c, mut tech, sid) = paired(&relay, "anna").await;
    c.send(Message::FileOffer {
        id: 1,
        name: "big.bin".into(),
        size: FILE_CHUNK_BYTES as u64 + 4,
        sha256: "0".repeat(64),
    })
    .await;
    tech.recv_until(|e| matches!(e.msg, Message::FileOffer { .. }), WAIT)
        .await;
    tech.send_for(sid, Message::FileAccept { id: 1 }).await;
    c.recv_until(|e| matches!(e.msg, Message::FileAccept { .. }), WAIT)
        .await;

    let chunk = |seq: u64, flags: u8, payload: &[u8]| {
        BinaryHeader {
            kind: BinaryKind::FileChunk,
            flags,
            id: 1,
            session: 0,
            seq,
        }
        .frame(payload)
    };
    c.send_binary(chunk(0, 0, &vec![7u8; FILE_CHUNK_BYTES + 1]))
        .await;
    let refused = c.recv_until(|e| error_of(e).is_some(), WAIT).await;
    assert_eq!(
        error_of(&refused),
        Some((ErrorCode::TooLarge, false)),
        "{refused:?}"
    );
    // A chunk within the limit still goes through, and it is the first
    // (frames are forwarded in order: the big one was not).
    c.send_binary(chunk(0, FLAG_LAST, b"abc")).await;
    let got = tech.recv_binary(WAIT).await;
    let (head, payload) = BinaryHeader::parse(&got).expect("header");
    assert_eq!(
        (head.kind, head.session, payload),
        (BinaryKind::FileChunk, sid, &b"abc"[..])
    );
    // Exactly the limit is allowed.
    c.send_binary(chunk(3, FLAG_LAST, &vec![1u8; FILE_CHUNK_BYTES]))
        .await;
    let got = tech.recv_binary(WAIT).await;
    assert_eq!(got.len(), BinaryHeader::LEN + FILE_CHUNK_BYTES);
}

// ---- 7b: avatars over the limit --------------------------------------------

/// Base64 of `n` zero bytes.
fn zeros_base64(n: usize) -> String {
    let mut out = "AAAA".repeat(n / 3);
    match n % 3 {
        1 => out.push_str("AA=="),
        2 => out.push_str("AAA="),
        _ => {}
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_avatar_over_the_limit_is_too_large_and_one_at_the_limit_is_shown() {
    let relay = relay_with(&["anna"]);
    let mut tech = Peer::technician(&relay, "anna", "passwort-1").await;
    tech.send(Message::Profile {
        display_name: "Anna".into(),
        avatar: Some(zeros_base64(AVATAR_BYTES + 1)),
    })
    .await;
    let refused = tech.recv_until(|e| error_of(e).is_some(), WAIT).await;
    assert_eq!(
        error_of(&refused),
        Some((ErrorCode::TooLarge, false)),
        "{refused:?}"
    );

    let at_limit = zeros_base64(AVATAR_BYTES);
    tech.send(Message::Profile {
        display_name: "Anna".into(),
        avatar: Some(at_limit.clone()),
    })
    .await;
    let mut c = Peer::customer(&relay, "Gina").await;
    let sid = c.session.expect("session");
    tech.recv_until(
        |e| matches!(&e.msg, Message::Queue { entries, .. } if entries.iter().any(|q| q.session == sid)),
        WAIT,
    )
    .await;
    tech.send(Message::Accept { session: sid }).await;
    let joined = c
        .recv_until(|e| matches!(e.msg, Message::TechnicianJoined { .. }), WAIT)
        .await;
    assert!(
        matches!(&joined.msg, Message::TechnicianJoined { avatar: Some(a), .. } if *a == at_limit),
        "the avatar at the limit reaches the customer"
    );
    let errors = tech.log.iter().filter(|e| error_of(e).is_some()).count();
    assert_eq!(
        errors, 1,
        "only the avatar over the limit is refused: {:#?}",
        tech.log
    );
}

// ---- 7c: share and control answers are consents ------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_and_control_answers_are_recorded_as_consents() {
    let relay = relay_with(&["anna"]);
    let (mut c, mut tech, sid) = paired(&relay, "anna").await;
    tech.send_for(sid, Message::ShareRequest).await;
    c.recv_until(|e| matches!(e.msg, Message::ShareRequest), WAIT)
        .await;
    share_screen(&mut c, &mut tech).await;
    grant_control(&mut c, &mut tech, sid).await;
    c.send(Message::ControlRevoke).await;
    tech.recv_until(|e| matches!(e.msg, Message::ControlRevoke), WAIT)
        .await;
    c.send(Message::ShareStop).await;
    tech.recv_until(|e| matches!(e.msg, Message::ShareStop), WAIT)
        .await;

    // A technician who takes the session again sees the answers.
    tech.send_for(sid, Message::HandBack).await;
    tech.recv_until(
        |e| matches!(&e.msg, Message::Queue { entries, .. } if entries.iter().any(|q| q.session == sid)),
        WAIT,
    )
    .await;
    tech.send(Message::Accept { session: sid }).await;
    let started = tech
        .recv_until(|e| matches!(e.msg, Message::SessionStarted { .. }), WAIT)
        .await;
    let Message::SessionStarted { consents, .. } = started.msg else {
        unreachable!()
    };
    let answers: Vec<_> = consents.iter().map(|c| (c.topic, c.granted)).collect();
    assert_eq!(
        answers,
        [
            (ConsentTopic::ScreenShare, true),
            (ConsentTopic::Control, true),
            (ConsentTopic::Control, false),
            (ConsentTopic::ScreenShare, false),
        ]
    );

    let record = report(&relay, sid, "consent screen_share declined").await;
    for needle in [
        "consent screen_share granted",
        "consent control granted",
        "consent control declined",
        "consent screen_share declined",
    ] {
        assert!(record.contains(needle), "missing {needle:?} in:\n{record}");
    }
}

// ---- 7d: the record shows how a transfer ended ---------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_shows_how_each_file_transfer_ended() {
    let relay = relay_with(&["anna"]);
    let (mut c, mut tech, sid) = paired(&relay, "anna").await;
    let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    c.send(Message::FileOffer {
        id: 1,
        name: "log.txt".into(),
        size: 3,
        sha256: sha.into(),
    })
    .await;
    c.send(Message::FileOffer {
        id: 2,
        name: "secret.txt".into(),
        size: 3,
        sha256: sha.into(),
    })
    .await;
    tech.recv_until(|e| matches!(e.msg, Message::FileOffer { id: 2, .. }), WAIT)
        .await;
    tech.send_for(sid, Message::FileAccept { id: 1 }).await;
    tech.send_for(sid, Message::FileDecline { id: 2 }).await;
    c.recv_until(|e| matches!(e.msg, Message::FileDecline { .. }), WAIT)
        .await;
    c.send_binary(
        BinaryHeader {
            kind: BinaryKind::FileChunk,
            flags: FLAG_LAST,
            id: 1,
            session: 0,
            seq: 0,
        }
        .frame(b"abc"),
    )
    .await;
    tech.recv_binary(WAIT).await;
    tech.send_for(
        sid,
        Message::FileDone {
            id: 1,
            ok: true,
            sha256: sha.into(),
        },
    )
    .await;
    c.recv_until(|e| matches!(e.msg, Message::FileDone { .. }), WAIT)
        .await;

    let record = report(&relay, sid, "done").await;
    let files = record.split("\nfiles:\n").nth(1).expect("files section");
    let line = |id: &str| {
        files
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("no line for {id} in:\n{record}"))
            .trim_end()
            .to_owned()
    };
    assert!(line("#1 log.txt").ends_with("done"), "{record}");
    assert!(line("#2 secret.txt").ends_with("declined"), "{record}");
}

// ---- 7e: every message type and error code is documented ---------------------

/// The names serde lists in "unknown variant `x`, expected one of `a`, `b`".
fn expected_names(error: &str) -> Vec<String> {
    let list = error
        .split("expected one of ")
        .nth(1)
        .unwrap_or_else(|| panic!("no list in {error:?}"));
    list.split(", ")
        .map(|n| {
            n.trim()
                .trim_start_matches('`')
                .split('`')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn every_message_type_and_error_code_is_documented() {
    let doc = protocol_md();
    let err = serde_json::from_str::<Message>(r#"{"type":"no_such_type"}"#)
        .expect_err("unknown type")
        .to_string();
    let types = expected_names(&err);
    assert!(types.len() > 40, "{types:?}");
    let undocumented: Vec<_> = types
        .iter()
        .filter(|t| !doc.contains(&format!("**`{t}`**")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "message types in crates/protocol that docs/PROTOCOL.md section 7 does not describe: {undocumented:?}"
    );

    let err = serde_json::from_str::<ErrorCode>(r#""no_such_code""#)
        .expect_err("unknown code")
        .to_string();
    let codes = expected_names(&err);
    let undocumented: Vec<_> = codes
        .iter()
        .filter(|c| !doc.contains(&format!("| `{c}` |")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "error codes missing from the table in docs/PROTOCOL.md 7.10: {undocumented:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_bad_messages_get_the_documented_error_and_close() {
    let relay = Relay::start_with_config("[limits]\nmax_strikes = 3\n");
    let mut c = Peer::customer(&relay, "Jan").await;
    for _ in 0..3 {
        c.send_text(r#"{"type":"teleport"}"#.into()).await;
    }
    let last = c
        .recv_until(|e| error_of(e).is_some_and(|(_, fatal)| fatal), WAIT)
        .await;
    let (code, _) = error_of(&last).expect("error");
    assert_eq!(c.expect_close(WAIT).await, Some(1008));

    let row = protocol_md_lines()
        .into_iter()
        .find(|l| l.contains("bad messages per link"))
        .expect("the limits table names bad messages");
    let code = label(&code);
    assert!(
        row.contains(&format!("code:\"{code}\"")) && row.contains("1008"),
        "the relay answers too many bad messages with {code} and 1008; the docs say: {row}"
    );
    // The relay has no `survey` message: an unknown type is `malformed`.
    let mut d = Peer::customer(&relay, "Dana").await;
    d.send_text(r#"{"seq":1,"type":"survey","question":"?"}"#.into())
        .await;
    let answer = d.recv_until(|e| error_of(e).is_some(), WAIT).await;
    assert_eq!(error_of(&answer), Some((ErrorCode::Malformed, false)));
}

// ---- 7f: chat while waiting ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_while_waiting_is_kept_for_the_technician_as_documented() {
    let relay = relay_with(&["anna"]);
    let mut c = Peer::customer(&relay, "Gina").await;
    let sid = c.session.expect("session");
    c.send(chat("Hallo? Jemand da?")).await;
    c.recv_until(|e| matches!(e.msg, Message::Ack { seq: 2 }), WAIT)
        .await;
    assert!(!c.log.iter().any(|e| error_of(e).is_some()), "{:#?}", c.log);
    let mut tech = Peer::technician(&relay, "anna", "passwort-1").await;
    tech.send(Message::Accept { session: sid }).await;
    let started = tech
        .recv_until(|e| matches!(e.msg, Message::SessionStarted { .. }), WAIT)
        .await;
    assert!(
        matches!(&started.msg, Message::SessionStarted { history, .. }
            if history.iter().any(|l| l.text == "Hallo? Jemand da?")),
        "{started:?}"
    );

    // The docs agree: no section calls chat while waiting an error.
    let bad_state = protocol_md_lines()
        .into_iter()
        .find(|l| l.starts_with("| `bad_state` |"))
        .expect("bad_state row");
    assert!(
        !bad_state.contains("`chat`"),
        "7.10 must not call chat while waiting a bad_state: {bad_state}"
    );
}

// ---- 7g: stored keyframes, and who gets `end` ----------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_keyframe_reaches_the_technician_and_decodes() {
    let relay = relay_with(&["anna"]);
    let (mut c, mut tech, sid) = paired(&relay, "anna").await;
    // FORMAT.md: SIZE 16×8, tile 8, no cache; FILL the whole screen red.
    let mut body = vec![0x01];
    body.extend_from_slice(&16u16.to_le_bytes());
    body.extend_from_slice(&8u16.to_le_bytes());
    body.push(8);
    body.extend_from_slice(&0u16.to_le_bytes());
    body.push(0x03);
    for v in [0u16, 0, 16, 8] {
        body.extend_from_slice(&v.to_le_bytes());
    }
    body.extend_from_slice(&[255, 0, 0]);
    let mut update = vec![0xC5, 0b100, u8::try_from(body.len()).expect("short")];
    update.extend_from_slice(&body);
    c.send_binary(
        BinaryHeader {
            kind: BinaryKind::ScreenUpdate,
            flags: FLAG_LAST,
            id: 0,
            session: 0,
            seq: 1,
        }
        .frame(&update),
    )
    .await;
    let got = tech.recv_binary(WAIT).await;
    let (head, payload) = BinaryHeader::parse(&got).expect("header");
    assert_eq!(head.session, sid);
    let mut dec = lotse_codec::Decoder::new();
    dec.apply(payload).expect("a stored keyframe decodes");
    assert_eq!(&dec.rgba()[..4], &[255, 0, 0, 255]);
    let doc = protocol_md();
    assert!(
        doc.contains("stored (mode 0)"),
        "PROTOCOL.md says that stored keyframes are legal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_goes_to_the_other_side_and_back_to_a_technician_only() {
    let relay = relay_with(&["anna"]);
    // The technician ends: both get `end`.
    let (mut c, mut tech, sid) = paired(&relay, "anna").await;
    tech.send_for(
        sid,
        Message::End {
            reason: EndReason::EndedByTechnician,
        },
    )
    .await;
    let to_c = c
        .recv_until(|e| matches!(e.msg, Message::End { .. }), WAIT)
        .await;
    assert_eq!(to_c.session, None);
    let back = tech
        .recv_until(|e| matches!(e.msg, Message::End { .. }), WAIT)
        .await;
    assert_eq!(back.session, Some(sid));
    assert!(matches!(
        back.msg,
        Message::End {
            reason: EndReason::EndedByTechnician
        }
    ));

    // The customer ends: the technician gets `end`, the customer only the ack.
    let mut c = Peer::customer(&relay, "Hugo").await;
    let sid = c.session.expect("session");
    tech.recv_until(
        |e| matches!(&e.msg, Message::Queue { entries, .. } if entries.iter().any(|q| q.session == sid)),
        WAIT,
    )
    .await;
    tech.send(Message::Accept { session: sid }).await;
    c.recv_until(|e| matches!(e.msg, Message::TechnicianJoined { .. }), WAIT)
        .await;
    c.send(Message::End {
        reason: EndReason::EndedByCustomer,
    })
    .await;
    let to_t = tech
        .recv_until(|e| matches!(e.msg, Message::End { .. }), WAIT)
        .await;
    assert_eq!(to_t.session, Some(sid));
    // Whatever the relay sends in answer to `end` comes before the answer
    // to this malformed message.
    c.send_text(r#"{"type":"teleport"}"#.into()).await;
    c.recv_until(|e| error_of(e).is_some(), WAIT).await;
    assert!(
        !c.log.iter().any(|e| matches!(e.msg, Message::End { .. })),
        "{:#?}",
        c.log
    );
    let doc = protocol_md();
    assert!(
        doc.contains("The customer who sends `end` gets no `end` back"),
        "PROTOCOL.md 7.9 says who gets `end`"
    );
}

// ---- 8.7: the waiting room is bounded ---------------------------------------------

/// The relay's resident memory in KiB (`VmRSS` in /proc/PID/status).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Bytes of the relay's database (with its write-ahead log).
fn db_bytes(relay: &Relay) -> u64 {
    ["relay.sqlite", "relay.sqlite-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(relay.data_dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

/// Send `n` chat lines and wait until the relay has answered every one;
/// returns (lines accepted, `too_many` errors).
async fn flood(c: &mut Peer, n: usize, line: &str) -> (usize, usize) {
    let start = c.log.len();
    for _ in 0..n {
        c.send(chat(line)).await;
    }
    // The relay acknowledges a line before it answers it: the last line
    // sent once more (a duplicate, only acknowledged) gets a second ack
    // after every answer to the first.
    let last = c.unacked().last().cloned().expect("sent");
    let last_seq = last.seq.expect("numbered");
    c.send_env(last).await;
    let mut acks = 0;
    c.recv_until(
        |e| {
            acks += usize::from(matches!(e.msg, Message::Ack { seq } if seq >= last_seq));
            acks == 2
        },
        WAIT * 4,
    )
    .await;
    let refused = c.log[start..]
        .iter()
        .filter(|e| error_name(e) == too_many(false))
        .count();
    let other: Vec<_> = c.log[start..]
        .iter()
        .filter(|e| error_of(e).is_some() && error_name(e) != too_many(false))
        .collect();
    assert!(other.is_empty(), "{other:#?}");
    (n - refused, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_flooding_the_waiting_room_is_bounded_and_others_still_join() {
    let relay = relay_with(&["anna"]);
    // Lines within the chat limit (4000 characters) but heavy: 16 KB each.
    let line = "\u{1d11e}".repeat(4000);
    let mut c = Peer::customer(&relay, "Flood 0").await;
    let before_rss = rss_kib(relay.pid());

    // One waiting customer: 50 lines, then `too_many`.
    let (kept, refused) = flood(&mut c, 300, &line).await;
    assert_eq!((kept, refused), (50, 250));
    // More waiting customers from the same address share one budget of
    // 200 lines; the queue takes at most 10 of them.
    let mut links = vec![c];
    let mut kept_total = kept;
    for i in 1..8 {
        let mut c = Peer::customer(&relay, &format!("Flood {i}")).await;
        kept_total += flood(&mut c, 300, &line).await.0;
        links.push(c);
    }
    assert_eq!(kept_total, 200);
    for i in 8..10 {
        links.push(Peer::customer(&relay, &format!("Flood {i}")).await);
    }
    let mut eleventh = Peer::connect(&relay, paths::CUSTOMER, None)
        .await
        .expect("connect");
    eleventh.send(lotse_e2e::relay::hello(Role::Customer)).await;
    let refused = eleventh
        .recv_until(
            |e| error_of(e).is_some() || matches!(e.msg, Message::Welcome { .. }),
            WAIT,
        )
        .await;
    assert_eq!(error_name(&refused), too_many(true), "{refused:?}");

    // What this cost the relay stays small (unbounded it was 8 × 300 ×
    // 16 KB = 38 MB in memory and on disk, and more with every link).
    let grown = rss_kib(relay.pid()).saturating_sub(before_rss);
    eprintln!(
        "after the flood: relay grew by {grown} KiB, database {} bytes",
        db_bytes(&relay)
    );
    assert!(grown < 16 * 1024, "the relay grew by {grown} KiB");
    assert!(
        db_bytes(&relay) < 16 << 20,
        "database {} bytes",
        db_bytes(&relay)
    );

    // Another address still joins, chats and is served.
    let mut other = Peer::connect_from(
        &relay,
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        paths::CUSTOMER,
        None,
    )
    .await
    .expect("connect from 127.0.0.2");
    other.hello(Role::Customer).await;
    other
        .send(Message::Join {
            name: "Olga".into(),
            problem: None,
        })
        .await;
    other
        .recv_until(|e| matches!(e.msg, Message::QueueStatus { .. }), WAIT)
        .await;
    assert_eq!(flood(&mut other, 1, "Hallo").await, (1, 0));
    let sid = other.session.expect("session");
    let mut tech = Peer::technician(&relay, "anna", "passwort-1").await;
    tech.send(Message::Accept { session: sid }).await;
    other
        .recv_until(|e| matches!(e.msg, Message::TechnicianJoined { .. }), WAIT)
        .await;
    // Once served, the conversation is not the waiting room's.
    chat_both_ways(&mut other, &mut tech, sid).await;
}

async fn chat_both_ways(c: &mut Peer, tech: &mut Peer, sid: u64) {
    c.send(chat("served now")).await;
    tech.recv_until(
        |e| matches!(&e.msg, Message::Chat { text, .. } if text == "served now"),
        WAIT,
    )
    .await;
    customer_got_until_marker(tech, c, sid, "and back").await;
}

// ---- 8.9: input only under the customer's grant ----------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn technician_input_reaches_the_customer_only_under_a_grant() {
    let relay = relay_with(&["anna"]);
    let (mut c, mut tech, sid) = paired(&relay, "anna").await;

    // Nothing granted: input and a control request stay at the relay; the
    // technician hears that control needs a share first.
    tech.send_for(sid, mouse(1)).await;
    tech.send_for(sid, Message::ControlRequest).await;
    let got = customer_got_until_marker(&mut tech, &mut c, sid, "m1").await;
    assert_eq!(inputs(&got), 0, "{got:#?}");
    assert!(
        !got.iter().any(|m| matches!(m, Message::ControlRequest)),
        "{got:#?}"
    );
    tech.recv_until(|e| matches!(e.msg, Message::ControlDecline), WAIT)
        .await;

    // Sharing alone is not control.
    tech.send_for(sid, Message::ShareRequest).await;
    c.recv_until(|e| matches!(e.msg, Message::ShareRequest), WAIT)
        .await;
    share_screen(&mut c, &mut tech).await;
    tech.send_for(sid, mouse(2)).await;
    let got = customer_got_until_marker(&mut tech, &mut c, sid, "m2").await;
    assert_eq!(inputs(&got), 0, "{got:#?}");

    // Granted: input flows.
    grant_control(&mut c, &mut tech, sid).await;
    tech.send_for(sid, mouse(3)).await;
    let got = customer_got_until_marker(&mut tech, &mut c, sid, "m3").await;
    assert_eq!(inputs(&got), 1, "{got:#?}");

    // Revoked by the customer.
    c.send(Message::ControlRevoke).await;
    tech.recv_until(|e| matches!(e.msg, Message::ControlRevoke), WAIT)
        .await;
    tech.send_for(sid, mouse(4)).await;
    let got = customer_got_until_marker(&mut tech, &mut c, sid, "m4").await;
    assert_eq!(inputs(&got), 0, "{got:#?}");

    // Granted again, then the customer stops sharing (STOP): control ends too.
    grant_control(&mut c, &mut tech, sid).await;
    c.send(Message::ShareStop).await;
    tech.recv_until(|e| matches!(e.msg, Message::ShareStop), WAIT)
        .await;
    tech.send_for(sid, mouse(5)).await;
    let got = customer_got_until_marker(&mut tech, &mut c, sid, "m5").await;
    assert_eq!(inputs(&got), 0, "{got:#?}");

    // Shared and granted again, then the technician gives control back.
    share_screen(&mut c, &mut tech).await;
    grant_control(&mut c, &mut tech, sid).await;
    tech.send_for(sid, mouse(6)).await;
    tech.send_for(sid, Message::ControlRevoke).await;
    tech.send_for(sid, mouse(7)).await;
    let got = customer_got_until_marker(&mut tech, &mut c, sid, "m6").await;
    assert_eq!(inputs(&got), 1, "{got:#?}");

    tech.send_for(
        sid,
        Message::End {
            reason: EndReason::EndedByTechnician,
        },
    )
    .await;
    c.recv_until(|e| matches!(e.msg, Message::End { .. }), WAIT)
        .await;
    let record = report(&relay, sid, "end ended_by_technician").await;
    let dropped: Vec<_> = record
        .lines()
        .filter(|l| l.contains("input_dropped"))
        .collect();
    assert!(!dropped.is_empty(), "{record}");
    // Counted, not one line per event: 5 events dropped in all.
    let total: u64 = dropped
        .iter()
        .filter_map(|l| l.split("input_dropped ").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|n| n.parse::<u64>().ok())
        .sum();
    assert_eq!(total, 5, "{record}");
    assert!(record.contains("control_request_refused"), "{record}");
}
