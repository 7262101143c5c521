//! Issue 11 §4: a customer is never stuck. Every limit of
//! `lotse_protocol::limits` holds before sending, every error the relay
//! returns for a pending action is shown with a way forward, and no spinner
//! runs without a deadline.

use std::sync::atomic::{AtomicI64, Ordering};

use super::*;
use lotse_protocol::limits::{CHAT_CHARS, FILE_NAME_CHARS, NAME_CHARS, PROBLEM_CHARS};
use lotse_protocol::{ErrorCode, Message, SiteInfo};

const START: i64 = 1_700_000_000_000;

thread_local! {
    // Each test runs on its own thread: its own clock.
    static NOW: AtomicI64 = const { AtomicI64::new(START) };
}

fn clock() -> i64 {
    NOW.with(|n| n.load(Ordering::SeqCst))
}

fn advance(ms: i64) {
    NOW.with(|n| n.fetch_add(ms, Ordering::SeqCst));
}

fn online() -> Session {
    let mut s = Session::new("anna", clock);
    s.on_event(NetEvent::Online {
        resumed: false,
        site: SiteInfo {
            name: "Beispiel GmbH".into(),
            ..SiteInfo::default()
        },
    });
    assert_eq!(s.phase, Phase::NameEntry);
    s
}

fn msg(s: &mut Session, m: Message) -> Vec<Effect> {
    s.on_event(NetEvent::Message(m))
}

fn refusal(code: ErrorCode, text: &str) -> Message {
    Message::Error {
        code,
        message: text.into(),
        fatal: false,
        retry_after_secs: None,
        refused_seq: None,
    }
}

fn join(s: &mut Session, name: &str) -> Vec<Effect> {
    s.on_command(Command::Join {
        name: name.into(),
        problem: String::new(),
    })
}

fn chatting() -> Session {
    let mut s = online();
    join(&mut s, "Anna");
    msg(
        &mut s,
        Message::TechnicianJoined {
            name: "Tom".into(),
            avatar: None,
        },
    );
    assert_eq!(s.phase, Phase::Chatting);
    s
}

#[test]
fn a_refused_join_goes_back_to_the_name_entry_with_the_reason() {
    let mut s = online();
    join(&mut s, "Anna");
    assert_eq!(s.phase, Phase::Waiting);
    assert!(s.waits_for_relay(), "the joining spinner is watched");
    msg(
        &mut s,
        refusal(
            ErrorCode::Malformed,
            "the name must have 1 to 80 characters",
        ),
    );
    assert_eq!(s.phase, Phase::NameEntry, "not stuck in the queue view");
    assert_eq!(
        s.trouble,
        Some(Trouble::JoinRefused {
            code: ErrorCode::Malformed,
            message: "the name must have 1 to 80 characters".into()
        })
    );
    // Trying again sends a new join and clears the message.
    let e = join(&mut s, "Anna B.");
    assert!(matches!(&e[..], [Effect::Send(Message::Join { .. })]));
    assert_eq!(s.trouble, None);
    assert_eq!(s.phase, Phase::Waiting);
}

#[test]
fn names_and_problems_never_go_out_over_the_limits() {
    let mut s = online();
    let e = s.on_command(Command::Join {
        name: "n".repeat(91),
        problem: "p".repeat(PROBLEM_CHARS + 5),
    });
    let [Effect::Send(Message::Join { name, problem })] = &e[..] else {
        panic!("{e:?}")
    };
    assert_eq!(name.chars().count(), NAME_CHARS);
    assert_eq!(
        problem.as_deref().map(|p| p.chars().count()),
        Some(PROBLEM_CHARS)
    );
    let mut s = chatting();
    let e = s.on_command(Command::SendChat("ä".repeat(CHAT_CHARS * 2)));
    let [Effect::Send(Message::Chat { text, .. })] = &e[..] else {
        panic!("{e:?}")
    };
    assert_eq!(text.chars().count(), CHAT_CHARS);
}

#[test]
fn an_unanswered_join_is_told_after_the_deadline_and_a_late_answer_clears_it() {
    let mut s = online();
    join(&mut s, "Anna");
    advance(JOIN_DEADLINE_MS - 1);
    s.tick();
    assert_eq!(s.trouble, None);
    advance(1);
    s.tick();
    assert_eq!(s.trouble, Some(Trouble::JoinUnanswered));
    assert!(!s.waits_for_relay());
    // The customer keeps waiting: a new deadline.
    s.on_command(Command::DismissTrouble);
    assert!(s.waits_for_relay());
    advance(JOIN_DEADLINE_MS);
    s.tick();
    assert_eq!(s.trouble, Some(Trouble::JoinUnanswered));
    // The relay answers late: the queue place shows, the message goes.
    msg(
        &mut s,
        Message::QueueStatus {
            position: 1,
            estimated_wait_secs: 60,
            technicians_online: 1,
        },
    );
    assert_eq!(s.trouble, None);
    assert!(!s.waits_for_relay());
    advance(JOIN_DEADLINE_MS * 2);
    s.tick();
    assert_eq!(s.trouble, None);
}

#[test]
fn connecting_forever_is_told_after_the_deadline() {
    let mut s = Session::new("anna", clock);
    assert!(s.waits_for_relay());
    advance(CONNECT_DEADLINE_MS);
    s.tick();
    assert_eq!(s.trouble, Some(Trouble::ConnectUnanswered));
    // The customer can close at any time.
    assert!(s.on_command(Command::EndSession).contains(&Effect::Close));
    // Or the relay comes after all.
    let mut s = Session::new("anna", clock);
    advance(CONNECT_DEADLINE_MS);
    s.tick();
    s.on_event(NetEvent::Online {
        resumed: false,
        site: SiteInfo::default(),
    });
    assert_eq!(s.trouble, None);
    assert_eq!(s.phase, Phase::NameEntry);
}

#[test]
fn a_refused_chat_line_goes_back_into_the_input_box() {
    let mut s = chatting();
    s.on_command(Command::SendChat("hello".into()));
    s.on_command(Command::SendChat("second line".into()));
    msg(&mut s, refusal(ErrorCode::TooLarge, "chat line too long"));
    assert_eq!(s.returned_draft.as_deref(), Some("second line"));
    assert!(
        !s.chat
            .iter()
            .any(|c| c.speaker == Speaker::Me && c.text == "second line"),
        "the refused line is not shown as sent"
    );
    assert!(s.chat.iter().any(|c| c.text == "hello"));
    assert!(matches!(s.trouble, Some(Trouble::ChatRefused { .. })));
    assert_eq!(s.phase, Phase::Chatting);
    // Sending again clears the message.
    s.on_command(Command::SendChat("second".into()));
    assert_eq!(s.trouble, None);
}

#[test]
fn a_refused_file_offer_fails_that_transfer_with_the_reason() {
    let mut s = chatting();
    s.on_command(Command::SendFile("/tmp/bericht.pdf".into()));
    let e = s.on_event(NetEvent::File(FileEvent::Ready {
        id: 1,
        name: format!("{}.pdf", "x".repeat(400)),
        size: 10,
        sha256: "00".into(),
    }));
    let [Effect::Send(Message::FileOffer { name, .. })] = &e[..] else {
        panic!("{e:?}")
    };
    assert_eq!(name.chars().count(), FILE_NAME_CHARS);
    assert!(name.ends_with(".pdf"), "{name}");
    msg(&mut s, refusal(ErrorCode::TooLarge, "file too large"));
    assert_eq!(
        s.transfers[0].state,
        TransferState::Failed(FileProblem::Refused("file too large".into()))
    );
}

#[test]
fn any_other_refusal_is_shown() {
    let mut s = chatting();
    msg(&mut s, refusal(ErrorCode::NotAllowed, "not now"));
    assert_eq!(
        s.trouble,
        Some(Trouble::Refused {
            code: ErrorCode::NotAllowed,
            message: "not now".into()
        })
    );
    s.on_command(Command::DismissTrouble);
    assert_eq!(s.trouble, None);
}

#[test]
fn long_file_names_keep_their_extension() {
    assert_eq!(shorten_file_name("kurz.txt", 10), "kurz.txt");
    assert_eq!(shorten_file_name("abcdefghij.txt", 10), "abcdef.txt");
    assert_eq!(shorten_file_name("ääääääääää.txt", 10), "ääääää.txt");
    // No extension, or one too long to keep: cut like the rest.
    assert_eq!(shorten_file_name("abcdefghijkl", 10), "abcdefghij");
    assert_eq!(shorten_file_name("a.bcdefghijkl", 10), "a.bcdefghi");
    assert_eq!(shorten_file_name(".bashrc-very-long", 10), ".bashrc-ve");
}

#[test]
fn quit_ends_at_once_without_the_survey() {
    let mut s = chatting();
    if let Some(site) = &mut s.site {
        site.survey = Some("How was it?".into());
    }
    let e = s.on_command(Command::Quit);
    assert!(
        e.contains(&Effect::Send(Message::End {
            reason: EndReason::EndedByCustomer
        })),
        "{e:?}"
    );
    assert!(e.contains(&Effect::Finish));
    assert_eq!(s.phase, Phase::Ending);
    assert_eq!(s.on_event(NetEvent::Finished), vec![Effect::Close]);
    // Before any session: just close.
    let mut s = Session::new("anna", clock);
    assert!(s.on_command(Command::Quit).contains(&Effect::Close));
    // During the survey after the customer's own end: no second end.
    let mut s = chatting();
    if let Some(site) = &mut s.site {
        site.survey = Some("How was it?".into());
    }
    s.on_command(Command::EndSession);
    assert_eq!(s.on_command(Command::Quit), vec![Effect::Finish]);
}
