//! The relay binary end to end: real TLS WebSocket peers against
//! `lotse-relay` on an ephemeral port with a temporary data directory.
//! Run `cargo build -p lotse-relay` first.

use lotse_e2e::relay::{Peer, Relay, WAIT, hello};
use lotse_protocol::{
    BinaryHeader, BinaryKind, ConsentTopic, EndReason, Envelope, ErrorCode, Message, Role, paths,
    stamp,
};

fn is_status(e: &Envelope) -> Option<u32> {
    match e.msg {
        Message::QueueStatus { position, .. } => Some(position),
        _ => None,
    }
}

fn error_code(e: &Envelope) -> Option<ErrorCode> {
    match &e.msg {
        Message::Error { code, .. } => Some(*code),
        _ => None,
    }
}

/// Chat from a to b arrives with the sender's name.
async fn chat_reaches(
    from: &mut Peer,
    to: &mut Peer,
    session: Option<u64>,
    text: &str,
) -> Envelope {
    let msg = Message::Chat {
        text: text.into(),
        from: None,
        at_ms: None,
    };
    match session {
        Some(s) => from.send_for(s, msg).await,
        None => from.send(msg).await,
    }
    to.recv_until(
        |e| matches!(&e.msg, Message::Chat { text: t, .. } if t == text),
        WAIT,
    )
    .await
}

#[tokio::test]
async fn queue_positions_move_and_technician_accepts() {
    let relay = Relay::start();
    relay.add_user("tina", "geheim-123");
    let mut c1 = Peer::customer(&relay, "Anna").await;
    c1.recv_until(|e| is_status(e) == Some(1), WAIT).await;
    let mut c2 = Peer::customer(&relay, "Bert").await;
    c2.recv_until(|e| is_status(e) == Some(2), WAIT).await;
    let mut c3 = Peer::customer(&relay, "Cleo").await;
    c3.recv_until(|e| is_status(e) == Some(3), WAIT).await;

    let mut tech = Peer::technician(&relay, "tina", "geheim-123").await;
    let queue = tech
        .recv_until(
            |e| matches!(&e.msg, Message::Queue { entries, .. } if entries.len() == 3),
            WAIT,
        )
        .await;
    let Message::Queue { entries, .. } = queue.msg else {
        unreachable!()
    };
    let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Anna", "Bert", "Cleo"]);
    assert_eq!(Some(entries[0].session), c1.session);

    // A technician online shows in the customers' status.
    c3.recv_until(
        |e| {
            matches!(
                e.msg,
                Message::QueueStatus {
                    position: 3,
                    technicians_online: 1,
                    ..
                }
            )
        },
        WAIT,
    )
    .await;

    tech.send(Message::Accept {
        session: entries[0].session,
    })
    .await;
    let started = tech
        .recv_until(|e| matches!(e.msg, Message::SessionStarted { .. }), WAIT)
        .await;
    assert_eq!(started.session, c1.session);
    let Message::SessionStarted {
        customer_name,
        role,
        ..
    } = started.msg
    else {
        unreachable!()
    };
    assert_eq!((customer_name.as_str(), role), ("Anna", Role::Customer));
    let joined = c1
        .recv_until(|e| matches!(e.msg, Message::TechnicianJoined { .. }), WAIT)
        .await;
    assert!(matches!(joined.msg, Message::TechnicianJoined { ref name, .. } if name == "tina"));
    c2.recv_until(|e| is_status(e) == Some(1), WAIT).await;
    c3.recv_until(|e| is_status(e) == Some(2), WAIT).await;
    tech.recv_until(
        |e| matches!(&e.msg, Message::Queue { entries, .. } if entries.len() == 2),
        WAIT,
    )
    .await;

    // Chat both ways, with names filled in by the relay.
    let sid = c1.session.expect("session");
    let got = chat_reaches(&mut c1, &mut tech, None, "Mein Drucker druckt nicht").await;
    assert_eq!(got.session, Some(sid));
    assert!(
        matches!(got.msg, Message::Chat { from: Some(ref f), at_ms: Some(_), .. } if f == "Anna")
    );
    let got = chat_reaches(&mut tech, &mut c1, Some(sid), "Ich schaue es mir an").await;
    assert!(matches!(got.msg, Message::Chat { from: Some(ref f), .. } if f == "tina"));

    // Binary frames: customer sends session 0, technician sees the session id.
    let header = BinaryHeader {
        kind: BinaryKind::ScreenUpdate,
        flags: 1,
        id: 1,
        session: 0,
        seq: 7,
    };
    c1.send_binary(header.frame(b"pixels")).await;
    let frame = tech.recv_binary(WAIT).await;
    let (h, payload) = BinaryHeader::parse(&frame).expect("header");
    assert_eq!((h.session, h.seq, payload), (sid, 7, &b"pixels"[..]));

    // Hand back: the customer is first in line again.
    tech.send_for(sid, Message::HandBack).await;
    c1.recv_until(|e| matches!(e.msg, Message::ReturnedToQueue), WAIT)
        .await;
    c1.recv_until(|e| is_status(e) == Some(1), WAIT).await;
    c2.recv_until(|e| is_status(e) == Some(2), WAIT).await;
}

#[tokio::test]
async fn session_record_holds_transcript_consents_and_end() {
    let relay = Relay::start_with_config("site_name = \"Beispiel GmbH\"\n");
    relay.add_user("tom", "passwort-1");
    let mut c = Peer::connect(&relay, paths::CUSTOMER, None)
        .await
        .expect("connect");
    let welcome = c.hello(Role::Customer).await;
    let Message::Welcome { site, .. } = welcome else {
        unreachable!()
    };
    assert_eq!(site.name, "Beispiel GmbH");
    assert!(site.agreement.is_some() && site.survey.is_some());
    c.send(Message::Consent {
        topic: ConsentTopic::Agreement,
        granted: true,
    })
    .await;
    c.send(Message::Consent {
        topic: ConsentTopic::Recording,
        granted: false,
    })
    .await;
    c.send(Message::Join {
        name: "Dora".into(),
        problem: Some("VPN".into()),
    })
    .await;
    c.recv_until(|e| is_status(e) == Some(1), WAIT).await;
    let sid = c.session.expect("session");

    let mut tech = Peer::technician(&relay, "tom", "passwort-1").await;
    tech.send(Message::Accept { session: sid }).await;
    let started = tech
        .recv_until(|e| matches!(e.msg, Message::SessionStarted { .. }), WAIT)
        .await;
    let Message::SessionStarted {
        consents, problem, ..
    } = started.msg
    else {
        unreachable!()
    };
    assert_eq!(problem.as_deref(), Some("VPN"));
    let answers: Vec<_> = consents.iter().map(|c| (c.topic, c.granted)).collect();
    assert_eq!(
        answers,
        [
            (ConsentTopic::Agreement, true),
            (ConsentTopic::Recording, false)
        ]
    );

    chat_reaches(&mut c, &mut tech, None, "Hallo, das VPN geht nicht").await;
    chat_reaches(&mut tech, &mut c, Some(sid), "Bitte einmal neu verbinden").await;
    // A grant is forwarded and recorded.
    tech.send_for(sid, Message::ShareRequest).await;
    c.recv_until(|e| matches!(e.msg, Message::ShareRequest), WAIT)
        .await;
    c.send(Message::ShareDecline).await;
    tech.recv_until(|e| matches!(e.msg, Message::ShareDecline), WAIT)
        .await;

    tech.send_for(
        sid,
        Message::End {
            reason: EndReason::EndedByTechnician,
        },
    )
    .await;
    c.recv_until(
        |e| {
            matches!(
                e.msg,
                Message::End {
                    reason: EndReason::EndedByTechnician
                }
            )
        },
        WAIT,
    )
    .await;
    tech.recv_until(|e| matches!(e.msg, Message::End { .. }), WAIT)
        .await;
    c.send(Message::SurveyAnswer {
        rating: 5,
        comment: "schnell".into(),
    })
    .await;
    c.close().await;

    // Each link's entries reach the record writer after that link's
    // lock is released: wait for all of them, not for one taken as last.
    let needles = [
        "customer:   Dora",
        "technician: tom",
        "ended_by_technician",
        "Dora (customer): Hallo, das VPN geht nicht",
        "tom (technician): Bitte einmal neu verbinden",
        "consent agreement granted",
        "consent recording declined",
        "share_request",
        "share_decline",
        "rating 5/5: schnell",
    ];
    let report = wait_for_report(&relay, sid, &needles).await;
    for needle in needles {
        assert!(report.contains(needle), "missing {needle:?} in:\n{report}");
    }
    let list = relay.cli(&["sessions", "list"]);
    assert!(
        list.contains("Dora") && list.contains("ended_by_technician"),
        "{list}"
    );
}

/// The writer thread records asynchronously: poll the CLI until every
/// needle shows.
async fn wait_for_report(relay: &Relay, sid: u64, needles: &[&str]) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let report = relay
            .try_cli(&["sessions", "show", &sid.to_string()])
            .unwrap_or_default();
        if needles.iter().all(|n| report.contains(n)) || tokio::time::Instant::now() > deadline {
            return report;
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn hold_messages_arrive_at_the_interval_and_no_technician_is_announced() {
    let relay = Relay::start_with_config(
        "hold_interval_secs = 1\nno_technician_url = \"https://help.example.com/faq\"\n[texts.en]\nhold = \"Please hold, you are number {position}.\"\n",
    );
    let mut c = Peer::customer(&relay, "Emil").await;
    let none = c
        .recv_until(|e| matches!(e.msg, Message::NoTechnician { .. }), WAIT)
        .await;
    let Message::NoTechnician { text, url } = none.msg else {
        unreachable!()
    };
    assert!(!text.is_empty());
    assert_eq!(url.as_deref(), Some("https://help.example.com/faq"));
    for _ in 0..2 {
        let hold = c
            .recv_until(|e| matches!(e.msg, Message::Hold { .. }), WAIT)
            .await;
        assert!(
            matches!(hold.msg, Message::Hold { ref text } if text == "Please hold, you are number 1.")
        );
    }
}

#[tokio::test]
async fn disconnects_are_handled_and_recorded() {
    let relay = Relay::start_with_config("[limits]\ngrace_secs = 4\n");
    relay.add_user("uwe", "passwort-2");
    let mut tech = Peer::technician(&relay, "uwe", "passwort-2").await;

    // Technician leaves: the customer goes back to the queue.
    let mut c = Peer::customer(&relay, "Fritz").await;
    let sid = c.session.expect("session");
    tech.recv_until(
        |e| matches!(&e.msg, Message::Queue { entries, .. } if entries.len() == 1),
        WAIT,
    )
    .await;
    tech.send(Message::Accept { session: sid }).await;
    c.recv_until(|e| matches!(e.msg, Message::TechnicianJoined { .. }), WAIT)
        .await;
    tech.cut();
    c.recv_until(|e| matches!(e.msg, Message::ReturnedToQueue), WAIT)
        .await;
    c.recv_until(|e| matches!(e.msg, Message::NoTechnician { .. }), WAIT)
        .await;

    // A new technician takes it; the customer's link drops; resume works
    // within the grace period; after a second cut the session ends.
    let mut tech = Peer::technician(&relay, "uwe", "passwort-2").await;
    tech.send(Message::Accept { session: sid }).await;
    tech.recv_until(|e| matches!(e.msg, Message::SessionStarted { .. }), WAIT)
        .await;
    c.recv_until(|e| matches!(e.msg, Message::TechnicianJoined { .. }), WAIT)
        .await;
    let token = c.resume_token.clone().expect("token");
    let last = c.last_seq();
    c.cut();
    tech.recv_until(|e| matches!(e.msg, Message::PeerAway { .. }), WAIT)
        .await;
    let mut back = Peer::resume(&relay, sid, &token, last).await;
    assert_eq!(back.session, Some(sid));
    tech.recv_until(|e| matches!(e.msg, Message::PeerBack), WAIT)
        .await;
    chat_reaches(&mut tech, &mut back, Some(sid), "noch da?").await;
    back.cut();
    tech.recv_until(|e| matches!(e.msg, Message::PeerAway { .. }), WAIT)
        .await;
    tech.recv_until(
        |e| {
            matches!(
                e.msg,
                Message::End {
                    reason: EndReason::CustomerGone
                }
            )
        },
        WAIT,
    )
    .await;

    // The session's end, "(customer_gone)", is recorded last: an event
    // line that merely names the reason can come before it.
    let report = wait_for_report(&relay, sid, &["(customer_gone)"]).await;
    for needle in [
        "technician_gone",
        "customer_away",
        "customer_back",
        "(customer_gone)",
    ] {
        assert!(report.contains(needle), "missing {needle:?} in:\n{report}");
    }
}

#[tokio::test]
async fn wrong_password_is_refused() {
    let relay = Relay::start();
    relay.add_user("vera", "richtig-123");
    let refused = Peer::login(&relay, "vera", "falsch-123").await;
    assert!(
        matches!(
            refused,
            Err(Message::Error {
                code: ErrorCode::LoginFailed,
                ..
            })
        ),
        "{refused:?}"
    );
    let unknown = Peer::login(&relay, "nobody", "falsch-123").await;
    assert!(matches!(
        unknown,
        Err(Message::Error {
            code: ErrorCode::LoginFailed,
            ..
        })
    ));
    // Without a token the technician path refuses the upgrade.
    let no_token = Peer::connect(&relay, paths::TECHNICIAN, Some("forged")).await;
    assert!(
        matches!(no_token, Err(lotse_link::LinkError::Refused(401))),
        "{:?}",
        no_token.err()
    );
    assert!(Peer::login(&relay, "vera", "richtig-123").await.is_ok());
    assert!(
        !relay.stderr().contains("falsch-123"),
        "password in the log"
    );
}

/// A customer and technician in a session, to check others keep working.
async fn paired(relay: &Relay, user: &str, pw: &str) -> (Peer, Peer, u64) {
    let mut tech = Peer::technician(relay, user, pw).await;
    let mut c = Peer::customer(relay, "Gina").await;
    let sid = c.session.expect("session");
    tech.recv_until(|e| matches!(&e.msg, Message::Queue { entries, .. } if entries.iter().any(|q| q.session == sid)), WAIT)
        .await;
    tech.send(Message::Accept { session: sid }).await;
    c.recv_until(|e| matches!(e.msg, Message::TechnicianJoined { .. }), WAIT)
        .await;
    (c, tech, sid)
}

#[tokio::test]
async fn bad_messages_get_errors_and_others_keep_working() {
    let relay = Relay::start();
    relay.add_user("walt", "passwort-3");
    let (mut c, mut tech, sid) = paired(&relay, "walt", "passwort-3").await;

    // Oversized: 64 KiB + 1 byte of chat → error and close 1009.
    let mut big = Peer::customer(&relay, "Hans").await;
    let filler = "x".repeat(lotse_protocol::MAX_TEXT_BYTES + 1);
    big.send_text(filler).await;
    let err = big.recv_until(|e| error_code(e).is_some(), WAIT).await;
    assert_eq!(error_code(&err), Some(ErrorCode::TooLarge));
    assert_eq!(big.expect_close(WAIT).await, Some(1009));

    // Malformed: an error, and the link stays usable.
    let mut bad = Peer::customer(&relay, "Ida").await;
    bad.send_text("{not json".into()).await;
    let err = bad.recv_until(|e| error_code(e).is_some(), WAIT).await;
    assert_eq!(error_code(&err), Some(ErrorCode::Malformed));
    bad.send_text(r#"{"type":"teleport"}"#.into()).await;
    let err = bad.recv_until(|e| error_code(e).is_some(), WAIT).await;
    assert_eq!(error_code(&err), Some(ErrorCode::Malformed));
    bad.send(Message::Chat {
        text: "still here".into(),
        from: None,
        at_ms: None,
    })
    .await;
    bad.recv_until(|e| matches!(e.msg, Message::Ack { .. }), WAIT)
        .await;

    // Wrong version: a fatal version_mismatch and the link closes.
    let mut old = Peer::connect(&relay, paths::CUSTOMER, None)
        .await
        .expect("connect");
    old.send_text(r#"{"type":"hello","version":99,"role":"customer"}"#.into())
        .await;
    let err = old.recv_until(|e| error_code(e).is_some(), WAIT).await;
    assert!(matches!(
        err.msg,
        Message::Error {
            code: ErrorCode::VersionMismatch,
            fatal: true,
            ..
        }
    ));
    assert!(old.expect_close(WAIT).await.is_some());

    // A customer may never send technician-only messages.
    c.send(Message::Nudge).await;
    let err = c.recv_until(|e| error_code(e).is_some(), WAIT).await;
    assert_eq!(error_code(&err), Some(ErrorCode::NotAllowed));
    c.send(Message::Accept { session: sid }).await;
    let err = c.recv_until(|e| error_code(e).is_some(), WAIT).await;
    assert_eq!(error_code(&err), Some(ErrorCode::NotAllowed));
    // ... and a technician never customer-only ones.
    tech.send_for(sid, Message::ControlGrant).await;
    let err = tech.recv_until(|e| error_code(e).is_some(), WAIT).await;
    assert_eq!(error_code(&err), Some(ErrorCode::NotAllowed));

    // The session in progress is unaffected.
    chat_reaches(&mut c, &mut tech, None, "alles gut").await;
    chat_reaches(&mut tech, &mut c, Some(sid), "ja").await;
}

#[tokio::test]
async fn a_peer_that_keeps_misbehaving_is_disconnected() {
    let relay = Relay::start_with_config("[limits]\nmax_strikes = 3\n");
    let mut c = Peer::customer(&relay, "Jan").await;
    for _ in 0..3 {
        c.send(Message::Nudge).await;
    }
    assert_eq!(c.expect_close(WAIT).await, Some(1008));
}

#[tokio::test]
async fn message_flood_is_closed_with_1008() {
    let relay = Relay::start_with_config("[limits]\nmessages_per_sec = 5\nmessage_burst = 5\n");
    let mut c = Peer::customer(&relay, "Kai").await;
    for i in 0..50 {
        c.send(Message::Chat {
            text: format!("spam {i}"),
            from: None,
            at_ms: None,
        })
        .await;
    }
    assert_eq!(c.expect_close(WAIT).await, Some(1008));
}

#[test]
fn bad_config_stops_the_relay_naming_the_key() {
    let err = Relay::try_start_with_config("[limits]\ngrace_secs = \"lang\"\n")
        .err()
        .expect("the relay must refuse this config");
    assert!(err.contains("limits.grace_secs"), "{err}");
    let err = Relay::try_start_with_config("hold_intervall_secs = 5\n")
        .err()
        .expect("the relay must refuse an unknown key");
    assert!(err.contains("hold_intervall_secs"), "{err}");
}

#[tokio::test]
async fn plaintext_and_tls_1_1_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let relay = Relay::start();

    // Plain HTTP on the TLS port: no HTTP answer.
    let mut tcp = tokio::net::TcpStream::connect(relay.addr)
        .await
        .expect("tcp");
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut got = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut got)).await;
    assert!(
        !got.starts_with(b"HTTP/"),
        "plaintext HTTP answered: {:?}",
        String::from_utf8_lossy(&got)
    );

    // A plaintext WebSocket upgrade gets no 101.
    let mut tcp = tokio::net::TcpStream::connect(relay.addr)
        .await
        .expect("tcp");
    tcp.write_all(
        b"GET /ws/customer HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .expect("write");
    let mut got = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut got)).await;
    assert!(!got.starts_with(b"HTTP/"), "plaintext upgrade answered");
    assert!(
        lotse_link::connect(&format!("ws://{}/ws/customer", relay.addr), relay.pin, None)
            .await
            .is_err()
    );

    // A TLS 1.1-only ClientHello gets an alert, never a ServerHello.
    let mut tcp = tokio::net::TcpStream::connect(relay.addr)
        .await
        .expect("tcp");
    tcp.write_all(&tls11_client_hello()).await.expect("write");
    let mut got = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut got)).await;
    assert!(
        got.is_empty() || got[0] == 0x15,
        "expected a TLS alert or nothing, got record type {:#x}",
        got[0]
    );

    // The relay still serves TLS 1.2+ clients.
    let (status, _, _) = relay.http_get("/").await;
    assert_eq!(status, 200);
}

/// A minimal ClientHello offering only TLS 1.1 (0x0302), no extensions.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&[0x03, 0x02]); // client_version TLS 1.1
    body.extend_from_slice(&[7u8; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x04, 0x00, 0x2f, 0x00, 0x35]); // AES128-SHA, AES256-SHA
    body.extend_from_slice(&[0x01, 0x00]); // compression: null
    let mut handshake = vec![0x01];
    let len = body.len() as u32;
    handshake.extend_from_slice(&len.to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x02];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test]
async fn portal_and_stamped_download_with_ticket() {
    let dir = tempfile::tempdir().expect("dir");
    let exe = dir.path().join("fake-lotse");
    std::fs::write(&exe, b"\x7fELF fake client").expect("write");
    let relay = Relay::start_with_config(&format!(
        "site_name = \"Hilfe & Co\"\nweb_dir = \"no-web-files\"\npublic_queue = false\n[downloads]\nlinux = \"{}\"\n",
        exe.display()
    ));
    let (status, head, body) = relay.http_get("/").await;
    assert_eq!(status, 200);
    assert!(
        head.contains("Content-Security-Policy: default-src 'self'"),
        "{head}"
    );
    let page = String::from_utf8_lossy(&body);
    assert!(
        page.contains("Hilfe &amp; Co")
            && page.contains("/download/linux")
            && page.contains("chmod +x")
    );

    let (status, head, body) = relay.http_get("/api/site").await;
    assert_eq!(status, 200);
    assert!(head.contains("application/json"), "{head}");
    let site = String::from_utf8_lossy(&body);
    assert!(
        site.contains(r#""name":"Hilfe & Co""#) && site.contains(r#""click_to_chat":true"#),
        "{site}"
    );

    let (status, _, body) = relay.http_get("/download/windows").await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("no client program"));
    let (status, _, body) = relay.http_get("/web/../relay.toml").await;
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));

    let (status, _, body) = relay.http_get("/download/linux?key=abc123").await;
    assert_eq!(status, 200);
    assert!(body.starts_with(b"\x7fELF fake client"));
    let st = stamp::read(&body, 0).expect("stamp");
    assert_eq!(st.cert_sha256, relay.pin_hex);
    assert_eq!(st.relay_url, relay.ws);
    assert!(st.ticket.starts_with("abc123."));

    // Without a ticket the closed public queue refuses; a forged one too; the real one works.
    let none = Peer::connect(&relay, paths::CUSTOMER, None).await;
    assert!(matches!(none, Err(lotse_link::LinkError::Refused(403))));
    let forged = st.ticket.replace("abc123", "abc124");
    let bad = Peer::connect(
        &relay,
        &format!("{}?ticket={forged}", paths::CUSTOMER),
        None,
    )
    .await;
    assert!(matches!(bad, Err(lotse_link::LinkError::Refused(403))));
    let mut ok = Peer::connect(
        &relay,
        &format!("{}?ticket={}", paths::CUSTOMER, st.ticket),
        None,
    )
    .await
    .expect("ticket accepted");
    ok.hello(Role::Customer).await;

    // The web chat path checks the Origin header before upgrading.
    let web = Peer::connect(&relay, paths::WEB, None).await;
    assert!(matches!(web, Err(lotse_link::LinkError::Refused(403))));

    // The wrong role for a path is refused.
    let mut wrong = Peer::connect(
        &relay,
        &format!("{}?ticket={}", paths::CUSTOMER, st.ticket),
        None,
    )
    .await
    .expect("connect");
    wrong.send(hello(Role::Technician)).await;
    let err = wrong.recv_until(|e| error_code(e).is_some(), WAIT).await;
    assert_eq!(error_code(&err), Some(ErrorCode::NotAllowed));
}

#[tokio::test]
async fn web_chat_checks_origin_and_elevates_to_the_full_client() {
    let dir = tempfile::tempdir().expect("dir");
    let exe = dir.path().join("fake-lotse");
    std::fs::write(&exe, b"\x7fELF fake client").expect("write");
    let relay = Relay::start_with_config(&format!("[downloads]\nlinux = \"{}\"\n", exe.display()));
    relay.add_user("xaver", "passwort-4");
    let evil = Peer::connect_web(&relay, Some("https://evil.example")).await;
    assert!(matches!(evil, Err(lotse_link::LinkError::Refused(403))));

    let mut web = Peer::connect_web(&relay, None).await.expect("web chat");
    web.hello(Role::WebCustomer).await;
    web.send(Message::Consent {
        topic: ConsentTopic::ChatPrompt,
        granted: true,
    })
    .await;
    web.send(Message::Join {
        name: "Olga".into(),
        problem: None,
    })
    .await;
    let sid = web.session.expect("session");
    let mut tech = Peer::technician(&relay, "xaver", "passwort-4").await;
    tech.send(Message::Accept { session: sid }).await;
    let started = tech
        .recv_until(|e| matches!(e.msg, Message::SessionStarted { .. }), WAIT)
        .await;
    assert!(matches!(
        started.msg,
        Message::SessionStarted {
            role: Role::WebCustomer,
            ..
        }
    ));
    chat_reaches(&mut web, &mut tech, None, "aus dem Browser").await;

    let (url, download) = lotse_e2e::web::elevate(&mut web, &mut tech, sid).await;
    assert!(url.starts_with("lotse://"));
    let key = download
        .split("key=")
        .nth(1)
        .expect("key in the download address");

    // The download for that key carries the ticket the full client presents.
    let (status, _, body) = relay.http_get(&format!("/download/linux?key={key}")).await;
    assert_eq!(status, 200);
    let ticket = stamp::read(&body, 0).expect("stamp").ticket;
    let mut full = Peer::connect(
        &relay,
        &format!("{}?ticket={ticket}", paths::CUSTOMER),
        None,
    )
    .await
    .expect("full client");
    full.hello(Role::Customer).await;
    assert_eq!(full.session, Some(sid));
    web.recv_until(|e| matches!(e.msg, Message::Elevated), WAIT)
        .await;
    let again = tech
        .recv_until(|e| matches!(e.msg, Message::SessionStarted { .. }), WAIT)
        .await;
    let Message::SessionStarted { role, history, .. } = again.msg else {
        unreachable!()
    };
    assert_eq!(role, Role::Customer);
    assert!(history.iter().any(|l| l.text == "aus dem Browser"));
    full.recv_until(|e| matches!(e.msg, Message::TechnicianJoined { .. }), WAIT)
        .await;
    chat_reaches(&mut tech, &mut full, Some(sid), "willkommen im Programm").await;
}
