//! Screen sharing, remote control and the nudge in the session state
//! machine: nothing is captured or injected before the customer's click,
//! and every way out revokes everything.

use super::*;
use lotse_protocol::{InputEvent, Message, ShareScope, SiteInfo};

static NOW: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1_700_000_000_000);

fn clock() -> i64 {
    NOW.load(std::sync::atomic::Ordering::SeqCst)
}

fn site(watermark: bool) -> SiteInfo {
    SiteInfo {
        name: "Beispiel GmbH".into(),
        watermark,
        ..SiteInfo::default()
    }
}

fn msg(s: &mut Session, m: Message) -> Vec<Effect> {
    s.on_event(NetEvent::Message(m))
}

fn chatting(watermark: bool) -> (Session, Vec<Effect>) {
    let mut s = Session::new("anna", clock);
    s.on_event(NetEvent::Online {
        resumed: false,
        site: site(watermark),
    });
    s.on_command(Command::Join {
        name: "Anna".into(),
        problem: String::new(),
    });
    let effects = msg(
        &mut s,
        Message::TechnicianJoined {
            name: "Tom".into(),
            avatar: None,
        },
    );
    assert_eq!(s.phase, Phase::Chatting);
    (s, effects)
}

/// Does any effect start capture or grant control?
fn touches_desktop(effects: &[Effect]) -> bool {
    effects
        .iter()
        .any(|e| matches!(e, Effect::StartShare(_) | Effect::GrantControl))
}

fn screen() -> ShareChoice {
    ShareChoice::Screen { monitor: 0 }
}

/// Asked, allowed, whole screen chosen.
fn sharing() -> Session {
    let (mut s, _) = chatting(false);
    msg(&mut s, Message::ShareRequest);
    s.on_command(Command::ShareAnswer(true));
    let e = s.on_command(Command::ShareChosen(screen()));
    assert_eq!(e, vec![Effect::StartShare(screen())]);
    s
}

fn controlled() -> Session {
    let mut s = sharing();
    assert!(msg(&mut s, Message::ControlRequest).is_empty());
    assert_eq!(s.control, ControlState::Asked);
    let e = s.on_command(Command::ControlAnswer(true));
    assert_eq!(
        e,
        vec![Effect::GrantControl, Effect::Send(Message::ControlGrant)]
    );
    assert_eq!(s.control, ControlState::On);
    s
}

#[test]
fn a_share_request_only_asks() {
    let (mut s, _) = chatting(false);
    let e = msg(&mut s, Message::ShareRequest);
    assert!(e.is_empty(), "{e:?}");
    assert_eq!(s.share, ShareState::Asked);
    assert!(matches!(
        s.chat.last().map(|c| &c.speaker),
        Some(Speaker::System(SystemNote::Asked(Request::ScreenShare)))
    ));
    // Asking again changes nothing.
    assert!(msg(&mut s, Message::ShareRequest).is_empty());
}

#[test]
fn allow_opens_the_picker_and_only_the_choice_starts_capture() {
    let (mut s, _) = chatting(false);
    msg(&mut s, Message::ShareRequest);
    let e = s.on_command(Command::ShareAnswer(true));
    assert!(!touches_desktop(&e), "{e:?}");
    assert!(e.is_empty());
    assert_eq!(s.share, ShareState::Picking);
    let apps = ShareChoice::Apps {
        apps: vec!["XTerm".into()],
    };
    let e = s.on_command(Command::ShareChosen(apps.clone()));
    assert_eq!(e, vec![Effect::StartShare(apps.clone())]);
    assert_eq!(s.share, ShareState::Active(apps));
}

#[test]
fn decline_and_closing_the_picker_send_share_decline_and_capture_nothing() {
    let (mut s, _) = chatting(false);
    msg(&mut s, Message::ShareRequest);
    let e = s.on_command(Command::ShareAnswer(false));
    assert_eq!(e, vec![Effect::Send(Message::ShareDecline)]);
    assert_eq!(s.share, ShareState::Off);

    msg(&mut s, Message::ShareRequest);
    s.on_command(Command::ShareAnswer(true));
    let e = s.on_command(Command::SharePickerClosed);
    assert_eq!(e, vec![Effect::Send(Message::ShareDecline)]);
    assert_eq!(s.share, ShareState::Off);
}

#[test]
fn nothing_starts_without_a_request_and_the_customers_allow() {
    let (mut s, _) = chatting(false);
    // A choice without a request (no prompt was shown) does nothing.
    assert!(s.on_command(Command::ShareChosen(screen())).is_empty());
    // An answer without a request does nothing.
    assert!(s.on_command(Command::ShareAnswer(true)).is_empty());
    assert!(s.on_command(Command::ShareChosen(screen())).is_empty());
    assert_eq!(s.share, ShareState::Off);
    // Asked but not yet allowed: a choice is ignored.
    msg(&mut s, Message::ShareRequest);
    assert!(s.on_command(Command::ShareChosen(screen())).is_empty());
    assert_eq!(s.share, ShareState::Asked);
    // Control answers without a request do nothing.
    assert!(s.on_command(Command::ControlAnswer(true)).is_empty());
    assert_eq!(s.control, ControlState::Off);
}

#[test]
fn requests_before_a_technician_serves_are_declined() {
    let mut s = Session::new("anna", clock);
    s.on_event(NetEvent::Online {
        resumed: false,
        site: site(false),
    });
    s.on_command(Command::Join {
        name: "Anna".into(),
        problem: String::new(),
    });
    assert_eq!(
        msg(&mut s, Message::ShareRequest),
        vec![Effect::Send(Message::ShareDecline)]
    );
    assert_eq!(
        msg(&mut s, Message::ControlRequest),
        vec![Effect::Send(Message::ControlDecline)]
    );
    assert_eq!(s.share, ShareState::Off);
}

#[test]
fn control_needs_an_active_share() {
    let (mut s, _) = chatting(false);
    let e = msg(&mut s, Message::ControlRequest);
    assert_eq!(e, vec![Effect::Send(Message::ControlDecline)]);
    assert_eq!(s.control, ControlState::Off);
    // Still asked about sharing: control is not offered yet.
    msg(&mut s, Message::ShareRequest);
    let e = msg(&mut s, Message::ControlRequest);
    assert_eq!(e, vec![Effect::Send(Message::ControlDecline)]);
}

#[test]
fn control_allow_grants_and_decline_does_not() {
    let mut s = sharing();
    msg(&mut s, Message::ControlRequest);
    let e = s.on_command(Command::ControlAnswer(false));
    assert_eq!(e, vec![Effect::Send(Message::ControlDecline)]);
    assert_eq!(s.control, ControlState::Off);
    let _ = controlled();
}

#[test]
fn input_messages_change_nothing_in_the_session() {
    let mut s = sharing();
    let e = msg(
        &mut s,
        Message::Input {
            event: InputEvent::Text { text: "x".into() },
        },
    );
    assert!(e.is_empty());
    assert!(msg(&mut s, Message::FrameAck { frame: 1 }).is_empty());
    assert_eq!(s.control, ControlState::Off);
}

#[test]
fn stop_sharing_revokes_control_and_stops_capture() {
    let mut s = controlled();
    let e = s.on_command(Command::StopSharing);
    assert_eq!(
        e,
        vec![
            Effect::RevokeControl,
            Effect::Send(Message::ControlRevoke),
            Effect::StopShare,
            Effect::Send(Message::ShareStop)
        ]
    );
    assert_eq!(s.share, ShareState::Off);
    assert_eq!(s.control, ControlState::Off);
    // Stopping again does nothing; control cannot come back without a share.
    assert!(s.on_command(Command::StopSharing).is_empty());
    assert_eq!(
        msg(&mut s, Message::ControlRequest),
        vec![Effect::Send(Message::ControlDecline)]
    );
}

#[test]
fn the_technicians_share_stop_revokes_everything_without_echo() {
    let mut s = controlled();
    let e = msg(&mut s, Message::ShareStop);
    assert_eq!(e, vec![Effect::RevokeControl, Effect::StopShare]);
    assert_eq!(s.share, ShareState::Off);
    assert_eq!(s.control, ControlState::Off);
}

#[test]
fn control_revoke_from_either_side_keeps_sharing() {
    let mut s = controlled();
    let e = msg(&mut s, Message::ControlRevoke);
    assert_eq!(e, vec![Effect::RevokeControl]);
    assert_eq!(s.control, ControlState::Off);
    assert!(matches!(s.share, ShareState::Active(_)));
    let mut s = controlled();
    let e = s.on_command(Command::StopControl);
    assert_eq!(
        e,
        vec![Effect::RevokeControl, Effect::Send(Message::ControlRevoke)]
    );
    assert!(matches!(s.share, ShareState::Active(_)));
}

#[test]
fn changing_what_is_shared_restarts_capture_and_drops_control() {
    let mut s = controlled();
    let apps = ShareChoice::Apps {
        apps: vec!["XTerm".into()],
    };
    let e = s.on_command(Command::ShareChosen(apps.clone()));
    assert_eq!(
        e,
        vec![
            Effect::RevokeControl,
            Effect::Send(Message::ControlRevoke),
            Effect::StopShare,
            Effect::Send(Message::ShareStop),
            Effect::StartShare(apps.clone()),
        ]
    );
    assert_eq!(s.share, ShareState::Active(apps));
    assert_eq!(s.control, ControlState::Off);
}

#[test]
fn a_failed_capture_ends_the_share() {
    let mut s = sharing();
    let e = s.on_event(NetEvent::Share(ShareEvent::Started {
        width: 800,
        height: 600,
    }));
    assert!(e.is_empty());
    let e = s.on_event(NetEvent::Share(ShareEvent::Failed("no display".into())));
    assert_eq!(e, vec![Effect::StopShare, Effect::Send(Message::ShareStop)]);
    assert_eq!(s.share, ShareState::Off);
}

/// Declined in the desktop's own dialog (Wayland), or failed before the
/// first picture: the technician hears "declined", never "stopped".
#[test]
fn a_share_that_never_started_is_declined() {
    let mut s = sharing();
    let e = s.on_event(NetEvent::Share(ShareEvent::Failed(
        "the sharing was declined in the system dialog".into(),
    )));
    assert_eq!(
        e,
        vec![Effect::StopShare, Effect::Send(Message::ShareDecline)]
    );
    assert_eq!(s.share, ShareState::Off);
}

/// One button pauses the share and control; the resume needs no new
/// consent; a stop ends the pause.
#[test]
fn pause_and_resume_without_new_consent() {
    let mut s = controlled();
    let e = s.on_command(Command::PauseSharing(true));
    assert_eq!(
        e,
        vec![
            Effect::PauseShare(true),
            Effect::Send(Message::SharePause { paused: true })
        ]
    );
    assert!(s.paused);
    assert_eq!(s.control, ControlState::On, "the grant stays");
    assert!(s.on_command(Command::PauseSharing(true)).is_empty());
    let e = s.on_command(Command::PauseSharing(false));
    assert_eq!(
        e,
        vec![
            Effect::PauseShare(false),
            Effect::Send(Message::SharePause { paused: false })
        ]
    );
    assert!(!s.paused);
    s.on_command(Command::PauseSharing(true));
    s.on_command(Command::StopSharing);
    assert!(!s.paused);
    assert!(
        s.on_command(Command::PauseSharing(true)).is_empty(),
        "nothing to pause"
    );
}

/// Control allowed here, then declined in the desktop's own dialog
/// (Wayland): control is taken back, the screen stays shared.
#[test]
fn control_declined_by_the_desktop_keeps_the_share() {
    let mut s = controlled();
    let e = s.on_event(NetEvent::Share(ShareEvent::InputDeclined));
    assert_eq!(e, vec![Effect::Send(Message::ControlRevoke)]);
    assert_eq!(s.control, ControlState::Off);
    assert!(matches!(s.share, ShareState::Active(_)));
    assert!(matches!(
        s.chat.last().map(|c| &c.speaker),
        Some(Speaker::System(SystemNote::Declined(Request::Control)))
    ));
}

#[test]
fn the_end_the_hand_back_and_a_failure_stop_everything() {
    let mut s = controlled();
    let e = msg(&mut s, Message::ReturnedToQueue);
    assert!(e.contains(&Effect::RevokeControl) && e.contains(&Effect::StopShare));
    assert_eq!(s.share, ShareState::Off);

    let mut s = controlled();
    let e = msg(
        &mut s,
        Message::End {
            reason: EndReason::EndedByTechnician,
        },
    );
    assert!(e.contains(&Effect::RevokeControl) && e.contains(&Effect::StopShare));

    let mut s = controlled();
    let e = s.on_command(Command::EndSession);
    assert!(e.contains(&Effect::RevokeControl) && e.contains(&Effect::StopShare));
    let stop = e.iter().position(|x| *x == Effect::StopShare);
    let end = e
        .iter()
        .position(|x| matches!(x, Effect::Send(Message::End { .. })));
    assert!(stop < end, "capture stops before the end goes out: {e:?}");

    let mut s = controlled();
    let e = s.on_event(NetEvent::Failed(Failure::SessionLost));
    assert!(e.contains(&Effect::RevokeControl) && e.contains(&Effect::StopShare));
}

#[test]
fn the_share_grant_scope_matches_the_choice() {
    assert_eq!(
        ShareChoice::Apps {
            apps: vec!["XTerm".into()]
        }
        .scope(),
        ShareScope::Apps {
            apps: vec!["XTerm".into()]
        }
    );
}

#[test]
fn nudges_focus_shake_sound_and_write_a_line_at_most_every_three_seconds() {
    let (mut s, _) = chatting(false);
    let before = s.chat.len();
    let e = msg(&mut s, Message::Nudge);
    assert_eq!(e, vec![Effect::Attention, Effect::Shake, Effect::Alarm]);
    assert_eq!(s.chat.len(), before + 1);
    assert!(matches!(
        s.chat.last().map(|c| &c.speaker),
        Some(Speaker::System(SystemNote::Nudged))
    ));
    // Right after: ignored.
    assert!(msg(&mut s, Message::Nudge).is_empty());
    assert_eq!(s.chat.len(), before + 1);
    NOW.fetch_add(3_000, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(msg(&mut s, Message::Nudge).len(), 3);
}

#[test]
fn the_watermark_shows_while_served_and_goes_at_the_end() {
    let (mut s, e) = chatting(true);
    assert_eq!(e, vec![Effect::Watermark(Some("Beispiel GmbH".into()))]);
    let e = msg(
        &mut s,
        Message::End {
            reason: EndReason::EndedByTechnician,
        },
    );
    assert!(e.contains(&Effect::Watermark(None)), "{e:?}");
    let (_, e) = chatting(false);
    assert!(e.is_empty());
}

/// Issue 11 §3: the window's close button (or End session) while an app is
/// shared and controlled ends everything on the spot — control switch off,
/// capture stopped, `share_stop`, `control_revoke`, watermark gone and
/// `end` on the relay — before the survey shows; the survey then shares
/// nothing and its answer is the only thing still sent.
#[test]
fn closing_while_sharing_ends_sharing_control_and_the_session_before_the_survey() {
    let mut s = Session::new("anna", clock);
    let mut site = site(true);
    site.survey = Some("How was it?".into());
    s.on_event(NetEvent::Online {
        resumed: false,
        site,
    });
    s.on_command(Command::Join {
        name: "Anna".into(),
        problem: String::new(),
    });
    let e = msg(
        &mut s,
        Message::TechnicianJoined {
            name: "Tom".into(),
            avatar: None,
        },
    );
    assert_eq!(e, vec![Effect::Watermark(Some("Beispiel GmbH".into()))]);
    let apps = ShareChoice::Apps {
        apps: vec!["XTerm".into()],
    };
    msg(&mut s, Message::ShareRequest);
    s.on_command(Command::ShareAnswer(true));
    s.on_command(Command::ShareChosen(apps));
    msg(&mut s, Message::ControlRequest);
    s.on_command(Command::ControlAnswer(true));
    assert_eq!(s.control, ControlState::On);

    let e = s.on_command(Command::EndSession);
    assert_eq!(
        e,
        vec![
            Effect::RevokeControl,
            Effect::Send(Message::ControlRevoke),
            Effect::StopShare,
            Effect::Send(Message::ShareStop),
            Effect::Watermark(None),
            Effect::Send(Message::End {
                reason: EndReason::EndedByCustomer
            }),
        ],
        "everything ends at the click, the link stays for the survey"
    );
    assert_eq!(s.share, ShareState::Off);
    assert_eq!(s.control, ControlState::Off);
    assert!(matches!(s.phase, Phase::Survey { .. }), "{:?}", s.phase);
    // Nothing the technician sends now starts anything again.
    assert_eq!(
        msg(&mut s, Message::ShareRequest),
        vec![Effect::Send(Message::ShareDecline)]
    );
    assert_eq!(
        msg(&mut s, Message::ControlRequest),
        vec![Effect::Send(Message::ControlDecline)]
    );
    assert_eq!(s.share, ShareState::Off);
    assert!(matches!(s.phase, Phase::Survey { .. }));
    // The answer goes out, then the link closes; no second `end`.
    let e = s.on_command(Command::SurveyAnswer {
        rating: 5,
        comment: String::new(),
    });
    assert_eq!(
        e,
        vec![
            Effect::Send(Message::SurveyAnswer {
                rating: 5,
                comment: String::new()
            }),
            Effect::Finish
        ]
    );
    assert_eq!(s.phase, Phase::Ending);
    assert_eq!(s.on_event(NetEvent::Finished), vec![Effect::Close]);
}
