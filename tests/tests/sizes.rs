//! Sizes and sequence numbers end to end (issue 11, items 5 and 6): every
//! message the relay composes fits the receiver's 64 KiB, texts over the
//! protocol's limits are refused with `too_large` naming the field, and a
//! refused reliable message uses its `seq` up so the next one arrives.
//! Real relay binary; the peers are raw protocol clients whose receive
//! path refuses (panics on) any text over 64 KiB.
//! Run `cargo build -p lotse-relay` first.

use lotse_e2e::relay::{Peer, Relay, WAIT};
use lotse_protocol::limits::{CHAT_CHARS, PROBLEM_CHARS, QUEUE_PROBLEM_CHARS};
use lotse_protocol::{Envelope, ErrorCode, Message};

/// The costliest character in JSON: six bytes (`\u0001`) for one.
const WORST: &str = "\u{1}";

fn chat(text: &str) -> Message {
    Message::Chat {
        text: text.into(),
        from: None,
        at_ms: None,
    }
}

fn is_chat(e: &Envelope, want: &str) -> bool {
    matches!(&e.msg, Message::Chat { text, .. } if text == want)
}

fn refused(e: &Envelope) -> Option<(ErrorCode, Option<u64>)> {
    match &e.msg {
        Message::Error {
            code, refused_seq, ..
        } => Some((*code, *refused_seq)),
        _ => None,
    }
}

/// Item 6: a reliable message refused as malformed (it does not decode)
/// uses its seq up: the error names it, it is acknowledged, and the next
/// message (seq + 1) is delivered — on customer and technician links.
#[tokio::test]
async fn a_refused_reliable_message_uses_its_seq_up() {
    let relay = Relay::start();
    relay.add_user("rita", "passwort-6");
    let mut tech = Peer::technician(&relay, "rita", "passwort-6").await;
    // The customer's `join` is its seq 1, the technician's `accept` its seq 1.
    let mut c = Peer::customer(&relay, "Gina").await;
    let sid = tech.serve(&mut c, WAIT).await;

    // A chat without its text, seq 2.
    c.send_text(r#"{"seq":2,"type":"chat"}"#.into()).await;
    let err = c.recv_until(|e| refused(e).is_some(), WAIT).await;
    assert_eq!(
        refused(&err),
        Some((ErrorCode::Malformed, Some(2))),
        "{err:?}"
    );
    c.recv_until(|e| matches!(e.msg, Message::Ack { seq: 2 }), WAIT)
        .await;
    c.send_env(Envelope::new(chat("after the refused one")).with_seq(3))
        .await;
    let got = tech
        .recv_until(|e| is_chat(e, "after the refused one"), WAIT)
        .await;
    assert_eq!(got.session, Some(sid));

    // An unknown type from the technician, seq 2.
    tech.send_text(format!(
        r#"{{"seq":2,"session":{sid},"type":"chatt","text":"x"}}"#
    ))
    .await;
    let err = tech.recv_until(|e| refused(e).is_some(), WAIT).await;
    assert_eq!(
        refused(&err),
        Some((ErrorCode::Malformed, Some(2))),
        "{err:?}"
    );
    tech.recv_until(|e| matches!(e.msg, Message::Ack { seq: 2 }), WAIT)
        .await;
    tech.send_env(Envelope::new(chat("Antwort")).with_seq(3).with_session(sid))
        .await;
    c.recv_until(|e| is_chat(e, "Antwort"), WAIT).await;
}

/// Item 5: a chat line over the limit is refused with `too_large` naming
/// the field (and its seq); the longest legal line of the costliest
/// characters reaches the technician whole, `from`/`at_ms` added; and the
/// next line still arrives.
#[tokio::test]
async fn chat_lines_are_held_to_the_limit_and_the_longest_is_forwarded() {
    let relay = Relay::start();
    relay.add_user("rita", "passwort-6");
    let mut tech = Peer::technician(&relay, "rita", "passwort-6").await;
    let mut c = Peer::customer(&relay, &WORST.repeat(80)).await;
    tech.serve(&mut c, WAIT).await;

    let over = "x".repeat(CHAT_CHARS + 1);
    c.send(chat(&over)).await;
    let err = c.recv_until(|e| refused(e).is_some(), WAIT).await;
    assert_eq!(
        refused(&err),
        Some((ErrorCode::TooLarge, Some(2))),
        "{err:?}"
    );
    let Message::Error { message, .. } = &err.msg else {
        unreachable!()
    };
    assert!(message.contains("`text`"), "{message}");

    let longest = WORST.repeat(CHAT_CHARS);
    c.send(chat(&longest)).await;
    c.send(chat("and the next")).await;
    // The technician's peer refuses (panics on) anything over 64 KiB.
    let got = tech.recv_until(|e| is_chat(e, &longest), WAIT).await;
    assert!(matches!(
        &got.msg,
        Message::Chat {
            from: Some(_),
            at_ms: Some(_),
            ..
        }
    ));
    tech.recv_until(|e| is_chat(e, "and the next"), WAIT).await;
}

/// Item 5: long lines typed while waiting reach the technician whole, in
/// `session_started` plus `chat_history` pages that each fit; three
/// customers with the longest problem texts of the costliest characters
/// still show in the `queue` (previews), the whole text comes on accept.
#[tokio::test]
async fn history_and_queue_fit_the_technician() {
    let relay = Relay::start();
    relay.add_user("rita", "passwort-6");
    let mut tech = Peer::technician(&relay, "rita", "passwort-6").await;

    let problem = WORST.repeat(PROBLEM_CHARS);
    let mut customers = Vec::new();
    for name in ["Ada", "Bea", "Cem"] {
        let mut c = Peer::connect(&relay, lotse_protocol::paths::CUSTOMER, None)
            .await
            .expect("connect");
        c.hello(lotse_protocol::Role::Customer).await;
        c.send(Message::Join {
            name: name.into(),
            problem: Some(problem.clone()),
        })
        .await;
        customers.push(c);
    }
    let sids: Vec<u64> = customers.iter().map(|c| c.session.expect("sid")).collect();
    // One queue message listing all three, each with a preview.
    let queue = tech
        .recv_until(
            |e| matches!(&e.msg, Message::Queue { entries, .. } if entries.len() == 3),
            WAIT,
        )
        .await;
    let Message::Queue { entries, .. } = queue.msg else {
        unreachable!()
    };
    assert_eq!(entries.iter().map(|e| e.session).collect::<Vec<_>>(), sids);
    for e in &entries {
        let preview = e.problem.as_deref().expect("problem preview");
        assert_eq!(preview.chars().count(), QUEUE_PROBLEM_CHARS);
        assert!(preview.ends_with('…'));
    }

    // Ada types eight of the longest lines while waiting (≈ 190 KB).
    let ada = &mut customers[0];
    let lines: Vec<String> = (0..8)
        .map(|i| format!("{i}{}", WORST.repeat(CHAT_CHARS - 1)))
        .collect();
    for line in &lines {
        ada.send(chat(line)).await;
    }
    let last = ada.unacked().last().and_then(|e| e.seq).expect("numbered");
    ada.recv_until(
        |e| matches!(e.msg, Message::Ack { seq } if seq == last),
        WAIT,
    )
    .await;

    tech.send(Message::Accept { session: sids[0] }).await;
    let started = tech
        .recv_until(|e| matches!(e.msg, Message::SessionStarted { .. }), WAIT)
        .await;
    let Message::SessionStarted {
        problem: got_problem,
        history,
        ..
    } = started.msg
    else {
        unreachable!()
    };
    assert_eq!(got_problem.as_deref(), Some(problem.as_str()));
    // Pages of older lines follow, newest page first, until all are there.
    let mut shown: Vec<String> = history.into_iter().map(|l| l.text).collect();
    while shown.len() < lines.len() {
        let page = tech
            .recv_until(|e| matches!(e.msg, Message::ChatHistory { .. }), WAIT)
            .await;
        assert_eq!(page.session, Some(sids[0]));
        let Message::ChatHistory { lines: older } = page.msg else {
            unreachable!()
        };
        assert!(!older.is_empty());
        shown.splice(0..0, older.into_iter().map(|l| l.text));
    }
    assert_eq!(shown, lines);
}
