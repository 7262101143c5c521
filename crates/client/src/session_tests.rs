//! Every step of the session state machine, and every bad input.

use super::*;
use lotse_protocol::{EndReason, Message, SiteInfo};

fn clock() -> i64 {
    1_700_000_000_000
}

fn site() -> SiteInfo {
    SiteInfo {
        name: "Beispiel GmbH".into(),
        agreement: Some("Terms".into()),
        recording_prompt: Some("May we record?".into()),
        greeting: Some("You are number {position}".into()),
        survey: Some("How was it?".into()),
        hold_interval_secs: 30,
        watermark: false,
    }
}

fn bare_site() -> SiteInfo {
    SiteInfo {
        name: "Plain".into(),
        ..SiteInfo::default()
    }
}

fn online(s: &mut Session, site: SiteInfo) -> Vec<Effect> {
    s.on_event(NetEvent::Online {
        resumed: false,
        site,
    })
}

fn msg(s: &mut Session, m: Message) -> Vec<Effect> {
    s.on_event(NetEvent::Message(m))
}

fn sends(effects: &[Effect]) -> Vec<Message> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// A session in the queue (site without pre-session texts).
fn waiting(site: SiteInfo) -> Session {
    let mut s = Session::new("anna", clock);
    online(&mut s, site);
    if matches!(s.phase, Phase::Agreement(_)) {
        s.on_command(Command::AcceptAgreement);
    }
    if matches!(s.phase, Phase::RecordingPrompt(_)) {
        s.on_command(Command::Recording(true));
    }
    s.on_command(Command::Join {
        name: "Anna".into(),
        problem: String::new(),
    });
    assert_eq!(s.phase, Phase::Waiting);
    s
}

fn chatting(site: SiteInfo) -> Session {
    let mut s = waiting(site);
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
fn starts_connecting_and_shows_the_agreement_first() {
    let mut s = Session::new("anna", clock);
    assert_eq!(s.phase, Phase::Connecting);
    assert!(online(&mut s, site()).is_empty());
    assert_eq!(s.phase, Phase::Agreement("Terms".into()));
}

#[test]
fn accepting_the_agreement_and_recording_leads_to_the_name() {
    let mut s = Session::new("anna", clock);
    online(&mut s, site());
    let e = s.on_command(Command::AcceptAgreement);
    assert_eq!(
        sends(&e),
        vec![Message::Consent {
            topic: ConsentTopic::Agreement,
            granted: true
        }]
    );
    assert_eq!(s.phase, Phase::RecordingPrompt("May we record?".into()));
    let e = s.on_command(Command::Recording(false));
    assert_eq!(
        sends(&e),
        vec![Message::Consent {
            topic: ConsentTopic::Recording,
            granted: false
        }]
    );
    assert_eq!(s.phase, Phase::NameEntry);
}

#[test]
fn declining_the_agreement_ends_and_closes() {
    let mut s = Session::new("anna", clock);
    online(&mut s, site());
    let e = s.on_command(Command::DeclineAgreement);
    assert_eq!(
        sends(&e),
        vec![
            Message::Consent {
                topic: ConsentTopic::Agreement,
                granted: false
            },
            Message::End {
                reason: EndReason::DeclinedAgreement
            }
        ]
    );
    assert!(e.contains(&Effect::Finish));
    assert_eq!(s.phase, Phase::Ending);
    assert_eq!(s.on_event(NetEvent::Finished), vec![Effect::Close]);
    assert!(matches!(s.phase, Phase::Ended(_)));
}

#[test]
fn unconfigured_texts_are_skipped() {
    let mut s = Session::new("anna", clock);
    online(&mut s, bare_site());
    assert_eq!(s.phase, Phase::NameEntry);
    // Only a recording prompt.
    let mut s = Session::new("anna", clock);
    online(
        &mut s,
        SiteInfo {
            recording_prompt: Some("rec".into()),
            agreement: Some("   ".into()),
            ..bare_site()
        },
    );
    assert_eq!(s.phase, Phase::RecordingPrompt("rec".into()));
}

#[test]
fn join_needs_a_name_and_trims_the_problem() {
    let mut s = Session::new("anna", clock);
    online(&mut s, bare_site());
    assert!(
        s.on_command(Command::Join {
            name: "   ".into(),
            problem: "x".into()
        })
        .is_empty()
    );
    assert_eq!(s.phase, Phase::NameEntry);
    // Over the limit: cut to it (the name field stops there anyway).
    let e = s.on_command(Command::Join {
        name: "x".repeat(201),
        problem: String::new(),
    });
    assert_eq!(
        sends(&e),
        vec![Message::Join {
            name: "x".repeat(lotse_protocol::limits::NAME_CHARS),
            problem: None
        }]
    );
    let mut s = Session::new("anna", clock);
    online(&mut s, bare_site());
    let e = s.on_command(Command::Join {
        name: " Anna ".into(),
        problem: "  ".into(),
    });
    assert_eq!(
        sends(&e),
        vec![Message::Join {
            name: "Anna".into(),
            problem: None
        }]
    );
    assert_eq!(s.phase, Phase::Waiting);
    assert_eq!(s.my_name, "Anna");
}

#[test]
fn commands_out_of_order_do_nothing() {
    let mut s = Session::new("anna", clock);
    // Before welcome nothing but ending is possible.
    for cmd in [
        Command::AcceptAgreement,
        Command::DeclineAgreement,
        Command::Recording(true),
        Command::Join {
            name: "A".into(),
            problem: String::new(),
        },
        Command::SendChat("hi".into()),
        Command::LeaveOnNotice,
        Command::SurveyAnswer {
            rating: 5,
            comment: String::new(),
        },
        Command::SkipSurvey,
        Command::SendFile("/etc/hostname".into()),
        Command::CancelFile(1),
        Command::DismissNotice(9),
    ] {
        assert!(s.on_command(cmd.clone()).is_empty(), "{cmd:?}");
        assert_eq!(s.phase, Phase::Connecting);
    }
    online(&mut s, site());
    // Recording answer while the agreement shows.
    assert!(s.on_command(Command::Recording(true)).is_empty());
    assert!(matches!(s.phase, Phase::Agreement(_)));
}

#[test]
fn a_second_welcome_after_a_cut_keeps_the_phase() {
    let mut s = chatting(site());
    s.on_event(NetEvent::LinkDown { attempt: 2 });
    assert_eq!(s.link, LinkState::Reconnecting(2));
    assert_eq!(s.phase, Phase::Chatting);
    let e = s.on_event(NetEvent::Online {
        resumed: true,
        site: bare_site(),
    });
    assert!(e.is_empty());
    assert_eq!(s.link, LinkState::Online);
    assert_eq!(s.phase, Phase::Chatting);
    assert_eq!(
        s.site.as_ref().map(|s| s.name.as_str()),
        Some("Beispiel GmbH")
    );
}

#[test]
fn queue_status_hold_and_no_technician() {
    let mut s = waiting(bare_site());
    msg(
        &mut s,
        Message::QueueStatus {
            position: 3,
            estimated_wait_secs: 240,
            technicians_online: 0,
        },
    );
    assert_eq!(
        s.queue,
        Some(QueuePlace {
            position: 3,
            wait_secs: 240,
            technicians_online: 0
        })
    );
    msg(
        &mut s,
        Message::Hold {
            text: "Please hold".into(),
        },
    );
    assert_eq!(s.hold.as_deref(), Some("Please hold"));
    let e = msg(
        &mut s,
        Message::NoTechnician {
            text: "Nobody here".into(),
            url: Some("https://example.com/help".into()),
        },
    );
    assert_eq!(e, vec![Effect::OpenUrl("https://example.com/help".into())]);
    assert_eq!(s.no_technician.as_deref(), Some("Nobody here"));
    // The URL opens once only.
    let e = msg(
        &mut s,
        Message::NoTechnician {
            text: "Nobody here".into(),
            url: Some("https://example.com/help".into()),
        },
    );
    assert!(e.is_empty());
    // A technician logging in clears the message.
    msg(
        &mut s,
        Message::QueueStatus {
            position: 1,
            estimated_wait_secs: 10,
            technicians_online: 1,
        },
    );
    assert_eq!(s.no_technician, None);
}

#[test]
fn only_web_urls_are_opened() {
    let mut s = waiting(bare_site());
    for url in ["file:///etc/passwd", "javascript:alert(1)", "lotse://x"] {
        let e = msg(
            &mut s,
            Message::NoTechnician {
                text: "x".into(),
                url: Some(url.into()),
            },
        );
        assert!(e.is_empty(), "{url} must not open");
    }
}

#[test]
fn technician_joins_chats_and_notifies() {
    let mut s = chatting(bare_site());
    assert!(s.served);
    assert_eq!(
        s.chat.last().map(|c| &c.speaker),
        Some(&Speaker::System(SystemNote::TechnicianJoined("Tom".into())))
    );
    let e = msg(
        &mut s,
        Message::Chat {
            text: "Hello Anna".into(),
            from: Some("Tom".into()),
            at_ms: Some(42),
        },
    );
    assert_eq!(
        e,
        vec![Effect::Notify {
            from: "Tom".into(),
            text: "Hello Anna".into()
        }]
    );
    let last = s.chat.last().cloned().expect("a line");
    assert_eq!(last.speaker, Speaker::Technician("Tom".into()));
    assert_eq!(last.at_ms, 42);
    // Without `from`, the technician's name; without time, the clock.
    msg(
        &mut s,
        Message::Chat {
            text: "x".into(),
            from: None,
            at_ms: None,
        },
    );
    let last = s.chat.last().cloned().expect("a line");
    assert_eq!(last.speaker, Speaker::Technician("Tom".into()));
    assert_eq!(last.at_ms, clock());
}

#[test]
fn customer_chat_is_sent_trimmed_and_bounded() {
    let mut s = chatting(bare_site());
    assert!(s.on_command(Command::SendChat("   \n".into())).is_empty());
    let e = s.on_command(Command::SendChat("Hi there\n".into()));
    assert_eq!(
        sends(&e),
        vec![Message::Chat {
            text: "Hi there".into(),
            from: None,
            at_ms: None
        }]
    );
    assert_eq!(s.chat.last().map(|c| &c.speaker), Some(&Speaker::Me));
    let limit = lotse_protocol::limits::CHAT_CHARS;
    let e = s.on_command(Command::SendChat("ü".repeat(limit + 1)));
    match &sends(&e)[0] {
        Message::Chat { text, .. } => assert_eq!(text.chars().count(), limit),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn no_chat_while_nobody_serves() {
    let mut s = waiting(bare_site());
    assert!(s.on_command(Command::SendChat("anyone?".into())).is_empty());
    assert!(s.chat.is_empty());
}

/// A real 1×1 JPEG whose frame header claims `w`×`h` pixels (a
/// decompression bomb's header).
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::RgbImage::new(1, 1)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )
        .expect("jpeg");
    // SOF0: FF C0, length, precision, height, width.
    let at = bytes
        .windows(2)
        .position(|m| m == [0xff, 0xc0])
        .expect("SOF0");
    bytes[at + 5..at + 7].copy_from_slice(&h.to_be_bytes());
    bytes[at + 7..at + 9].copy_from_slice(&w.to_be_bytes());
    bytes
}

#[test]
fn images_claiming_a_huge_size_are_refused_before_their_pixels() {
    for (w, h) in [(16384, 16384), (8193, 1), (8000, 8000)] {
        let e = decode_image(&jpeg_claiming(w, h)).expect_err("refused");
        assert!(
            matches!(&e, AvatarError::Image(m) if m.contains("limit") || m.contains("too large")),
            "{w}×{h}: {e}"
        );
    }
    let ok = decode_image(&jpeg_claiming(1, 1)).expect("the real size decodes");
    assert_eq!((ok.width, ok.height), (1, 1));
}

#[test]
fn avatars_decode_or_fall_back_to_the_default() {
    use base64::Engine as _;
    let png = {
        let img = image::RgbaImage::from_pixel(8, 6, image::Rgba([10, 20, 30, 255]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png)
            .expect("png");
        out.into_inner()
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let mut s = waiting(bare_site());
    msg(
        &mut s,
        Message::TechnicianJoined {
            name: "Tom".into(),
            avatar: Some(b64),
        },
    );
    let avatar = s
        .technician
        .as_ref()
        .and_then(|t| t.avatar.clone())
        .expect("decoded");
    assert_eq!((avatar.width, avatar.height), (8, 6));
    assert_eq!(&avatar.rgba[..4], &[10, 20, 30, 255]);

    for bad in [
        "not base64 at all!".to_owned(),
        base64::engine::general_purpose::STANDARD.encode(b"GIF89a not an image"),
        "A".repeat(lotse_protocol::MAX_AVATAR_BYTES * 2),
        base64::engine::general_purpose::STANDARD.encode(jpeg_claiming(16384, 16384)),
        base64::engine::general_purpose::STANDARD.encode(jpeg_claiming(8000, 8000)),
    ] {
        let mut s = waiting(bare_site());
        msg(
            &mut s,
            Message::TechnicianJoined {
                name: "Tom".into(),
                avatar: Some(bad),
            },
        );
        assert_eq!(s.phase, Phase::Chatting);
        assert_eq!(
            s.technician.as_ref().map(|t| t.avatar.is_none()),
            Some(true)
        );
    }
}

#[test]
fn hand_back_returns_to_waiting() {
    let mut s = chatting(bare_site());
    msg(&mut s, Message::ReturnedToQueue);
    assert_eq!(s.phase, Phase::Waiting);
    assert!(s.technician.is_none());
    assert!(s.served, "still counts as served for the survey");
    assert!(!s.can_send_files());
}

#[test]
fn notices_show_and_leave_ends_without_survey() {
    let mut s = chatting(site());
    msg(
        &mut s,
        Message::Notice {
            id: Some("outage".into()),
            text: "Mail is down".into(),
        },
    );
    assert_eq!(s.notices.len(), 1);
    let e = s.on_command(Command::LeaveOnNotice);
    assert_eq!(
        sends(&e),
        vec![Message::End {
            reason: EndReason::LeftOnNotice
        }]
    );
    assert_eq!(
        s.phase,
        Phase::Ending,
        "no survey after leaving on a notice"
    );
    assert_eq!(s.on_event(NetEvent::Finished), vec![Effect::Close]);
}

#[test]
fn notices_can_be_dismissed_and_leave_needs_a_notice() {
    let mut s = waiting(bare_site());
    assert!(s.on_command(Command::LeaveOnNotice).is_empty());
    msg(
        &mut s,
        Message::Notice {
            id: None,
            text: "a".into(),
        },
    );
    msg(
        &mut s,
        Message::Notice {
            id: None,
            text: "b".into(),
        },
    );
    let key = s.notices[0].key;
    s.on_command(Command::DismissNotice(key));
    assert_eq!(s.notices.len(), 1);
    assert_eq!(s.notices[0].text, "b");
    assert_eq!(s.phase, Phase::Waiting);
}

#[test]
fn ending_a_served_session_ends_it_then_asks_the_survey() {
    let mut s = chatting(site());
    let e = s.on_command(Command::EndSession);
    assert_eq!(
        sends(&e),
        vec![Message::End {
            reason: EndReason::EndedByCustomer
        }],
        "the session ends on the relay at the click"
    );
    assert!(
        !e.contains(&Effect::Finish),
        "the link stays for the answer"
    );
    assert_eq!(
        s.phase,
        Phase::Survey {
            question: "How was it?".into(),
            then: AfterSurvey::Close
        }
    );
    // A rating outside 1..=5 is refused.
    assert!(
        s.on_command(Command::SurveyAnswer {
            rating: 9,
            comment: String::new()
        })
        .is_empty()
    );
    let e = s.on_command(Command::SurveyAnswer {
        rating: 4,
        comment: " good ".into(),
    });
    assert_eq!(
        sends(&e),
        vec![Message::SurveyAnswer {
            rating: 4,
            comment: "good".into()
        }]
    );
    assert!(e.contains(&Effect::Finish));
    assert_eq!(s.phase, Phase::Ending);
    assert_eq!(s.on_event(NetEvent::Finished), vec![Effect::Close]);
    assert_eq!(s.phase, Phase::Ended(EndReason::EndedByCustomer));
}

#[test]
fn closing_again_during_the_survey_skips_it() {
    let mut s = chatting(site());
    s.on_command(Command::EndSession);
    let e = s.on_command(Command::EndSession);
    assert_eq!(e, vec![Effect::Finish], "no second end");
    assert_eq!(s.phase, Phase::Ending);
}

#[test]
fn no_survey_when_not_served_or_not_configured() {
    let mut s = waiting(site());
    let e = s.on_command(Command::EndSession);
    assert_eq!(s.phase, Phase::Ending);
    assert!(e.contains(&Effect::Finish));
    let mut s = chatting(bare_site());
    s.on_command(Command::EndSession);
    assert_eq!(s.phase, Phase::Ending);
}

#[test]
fn ending_at_every_pre_session_step_sends_end() {
    for steps in 0..3 {
        let mut s = Session::new("anna", clock);
        online(&mut s, site());
        if steps > 0 {
            s.on_command(Command::AcceptAgreement);
        }
        if steps > 1 {
            s.on_command(Command::Recording(true));
        }
        let e = s.on_command(Command::EndSession);
        assert_eq!(
            sends(&e),
            vec![Message::End {
                reason: EndReason::EndedByCustomer
            }],
            "step {steps}"
        );
        assert_eq!(s.phase, Phase::Ending);
    }
}

#[test]
fn closing_before_any_session_or_after_failure_just_closes() {
    let mut s = Session::new("anna", clock);
    let e = s.on_command(Command::EndSession);
    assert!(sends(&e).is_empty());
    assert!(e.contains(&Effect::Close));
    let mut s = Session::failed(Failure::WrongCertificate);
    let e = s.on_command(Command::EndSession);
    assert!(e.contains(&Effect::Close));
    assert_eq!(s.phase, Phase::Failed(Failure::WrongCertificate));
}

#[test]
fn technician_ending_shows_survey_then_the_end() {
    let mut s = chatting(site());
    let e = msg(
        &mut s,
        Message::End {
            reason: EndReason::EndedByTechnician,
        },
    );
    assert!(
        !e.contains(&Effect::Finish),
        "the survey answer still goes out"
    );
    assert!(matches!(
        s.phase,
        Phase::Survey {
            then: AfterSurvey::ShowEnd(EndReason::EndedByTechnician),
            ..
        }
    ));
    let e = s.on_command(Command::SkipSurvey);
    assert_eq!(e, vec![Effect::Finish]);
    assert_eq!(s.phase, Phase::Ended(EndReason::EndedByTechnician));
    // The window stays until the customer closes it.
    assert_eq!(
        s.on_command(Command::EndSession),
        vec![Effect::Finish, Effect::Close]
    );
}

#[test]
fn relay_ending_without_service_goes_straight_to_the_end() {
    let mut s = waiting(site());
    let e = msg(
        &mut s,
        Message::End {
            reason: EndReason::CustomerGone,
        },
    );
    assert!(e.contains(&Effect::Finish));
    assert_eq!(s.phase, Phase::Ended(EndReason::CustomerGone));
    // Messages after the end are ignored.
    assert!(
        msg(
            &mut s,
            Message::Chat {
                text: "late".into(),
                from: None,
                at_ms: None
            }
        )
        .is_empty()
    );
}

#[test]
fn fatal_errors_and_failures() {
    let mut s = Session::new("anna", clock);
    s.on_event(NetEvent::Failed(Failure::WrongCertificate));
    assert_eq!(s.phase, Phase::Failed(Failure::WrongCertificate));
    // Nothing brings a failed session back.
    online(&mut s, site());
    assert_eq!(s.phase, Phase::Failed(Failure::WrongCertificate));

    let mut s = waiting(bare_site());
    msg(
        &mut s,
        Message::QueueStatus {
            position: 1,
            estimated_wait_secs: 60,
            technicians_online: 1,
        },
    );
    msg(&mut s, Message::error(ErrorCode::Malformed, "oops"));
    assert_eq!(s.phase, Phase::Waiting, "a non-fatal error ends nothing");
    assert_eq!(
        s.trouble,
        Some(Trouble::Refused {
            code: ErrorCode::Malformed,
            message: "oops".into()
        }),
        "but it is shown"
    );
    msg(
        &mut s,
        Message::Error {
            code: ErrorCode::BadKey,
            message: "bad".into(),
            fatal: true,
            retry_after_secs: None,
            refused_seq: None,
        },
    );
    assert_eq!(s.phase, Phase::Failed(Failure::BadTicket));
}

#[test]
fn a_failure_while_ending_still_closes() {
    let mut s = waiting(bare_site());
    s.on_command(Command::EndSession);
    let e = s.on_event(NetEvent::Failed(Failure::SessionLost));
    assert_eq!(e, vec![Effect::Close]);
}

#[test]
fn unexpected_messages_are_ignored() {
    let mut s = chatting(bare_site());
    let before = s.chat.len();
    for m in [
        Message::Login {
            user: "x".into(),
            password: "y".into(),
        },
        Message::Accept { session: 1 },
        Message::HandBack,
        Message::FileAccept { id: 99 },
        Message::FileDone {
            id: 99,
            ok: true,
            sha256: String::new(),
        },
        Message::Input {
            event: lotse_protocol::InputEvent::Text { text: "x".into() },
        },
    ] {
        assert!(msg(&mut s, m).is_empty());
    }
    assert_eq!(s.phase, Phase::Chatting);
    assert_eq!(s.chat.len(), before);
}

#[test]
fn requests_only_prompt_and_control_without_share_is_declined() {
    // (More in session_share_tests.rs.)
    let mut s = chatting(bare_site());
    assert!(msg(&mut s, Message::ShareRequest).is_empty());
    assert_eq!(s.share, ShareState::Asked);
    s.on_command(Command::ShareAnswer(false));
    assert_eq!(
        sends(&msg(&mut s, Message::ControlRequest)),
        vec![Message::ControlDecline]
    );
    assert_eq!(
        msg(&mut s, Message::Nudge),
        vec![Effect::Attention, Effect::Shake, Effect::Alarm]
    );
}

#[test]
fn font_size_is_bounded() {
    let mut s = Session::new("", clock);
    for _ in 0..50 {
        s.bigger_font();
    }
    assert_eq!(s.font_size, FONT_MAX);
    for _ in 0..50 {
        s.smaller_font();
    }
    assert_eq!(s.font_size, FONT_MIN);
}

// ---- files -----------------------------------------------------------------

fn offered(s: &mut Session) -> u32 {
    let e = s.on_command(Command::SendFile("/tmp/report.pdf".into()));
    let Some(Effect::PrepareFile { id, path }) = e.first().cloned() else {
        panic!("expected PrepareFile, got {e:?}");
    };
    assert_eq!(path, std::path::PathBuf::from("/tmp/report.pdf"));
    assert_eq!(
        s.transfers.last().map(|t| t.state.clone()),
        Some(TransferState::Preparing)
    );
    let e = s.on_event(NetEvent::File(FileEvent::Ready {
        id,
        name: "report.pdf".into(),
        size: 1000,
        sha256: "ab".repeat(32),
    }));
    assert_eq!(
        sends(&e),
        vec![Message::FileOffer {
            id,
            name: "report.pdf".into(),
            size: 1000,
            sha256: "ab".repeat(32)
        }]
    );
    id
}

#[test]
fn a_file_goes_offer_accept_send_check_done() {
    let mut s = chatting(bare_site());
    let id = offered(&mut s);
    assert_eq!(s.transfers[0].state, TransferState::Offered);
    assert_eq!(
        msg(&mut s, Message::FileAccept { id }),
        vec![Effect::StartUpload { id }]
    );
    // A second accept does not start a second upload.
    assert!(msg(&mut s, Message::FileAccept { id }).is_empty());
    s.on_event(NetEvent::File(FileEvent::Progress { id, sent: 500 }));
    assert!((s.transfers[0].progress() - 0.5).abs() < 1e-6);
    s.on_event(NetEvent::File(FileEvent::AllSent { id }));
    assert_eq!(s.transfers[0].state, TransferState::Checking);
    msg(
        &mut s,
        Message::FileDone {
            id,
            ok: true,
            sha256: "ab".repeat(32),
        },
    );
    assert_eq!(s.transfers[0].state, TransferState::Done);
    assert!((s.transfers[0].progress() - 1.0).abs() < 1e-6);
}

#[test]
fn declined_cancelled_and_corrupted_files() {
    let mut s = chatting(bare_site());
    let id = offered(&mut s);
    msg(&mut s, Message::FileDecline { id });
    assert_eq!(s.transfers[0].state, TransferState::Declined);
    assert!(
        msg(&mut s, Message::FileAccept { id }).is_empty(),
        "too late"
    );

    let id = offered(&mut s);
    msg(&mut s, Message::FileAccept { id });
    let e = s.on_command(Command::CancelFile(id));
    assert_eq!(
        e,
        vec![
            Effect::StopUpload { id },
            Effect::Send(Message::FileCancel {
                id,
                reason: "cancelled".into()
            })
        ]
    );
    assert!(s.on_command(Command::CancelFile(id)).is_empty());

    let id = offered(&mut s);
    msg(&mut s, Message::FileAccept { id });
    s.on_event(NetEvent::File(FileEvent::AllSent { id }));
    msg(
        &mut s,
        Message::FileDone {
            id,
            ok: false,
            sha256: "00".into(),
        },
    );
    assert_eq!(
        s.transfers.last().map(|t| t.state.clone()),
        Some(TransferState::Failed(FileProblem::Corrupted))
    );

    let id = offered(&mut s);
    msg(&mut s, Message::FileAccept { id });
    let e = msg(
        &mut s,
        Message::FileCancel {
            id,
            reason: "disk full".into(),
        },
    );
    assert_eq!(e, vec![Effect::StopUpload { id }]);
    assert_eq!(
        s.transfers.last().map(|t| t.state.clone()),
        Some(TransferState::Failed(FileProblem::Stopped(
            "disk full".into()
        )))
    );
}

#[test]
fn a_vanished_file_tells_the_technician() {
    let mut s = chatting(bare_site());
    // Vanished before the offer: nothing to tell.
    s.on_command(Command::SendFile("/gone".into()));
    let e = s.on_event(NetEvent::File(FileEvent::Failed {
        id: 1,
        problem: FileProblem::Vanished,
    }));
    assert!(e.is_empty());
    assert_eq!(
        s.transfers[0].state,
        TransferState::Failed(FileProblem::Vanished)
    );
    // Vanished while sending: cancel on the far side.
    let id = offered(&mut s);
    msg(&mut s, Message::FileAccept { id });
    let e = s.on_event(NetEvent::File(FileEvent::Failed {
        id,
        problem: FileProblem::Vanished,
    }));
    assert_eq!(
        sends(&e),
        vec![Message::FileCancel {
            id,
            reason: "file_vanished".into()
        }]
    );
}

#[test]
fn files_need_a_technician_and_stop_when_they_go() {
    let mut s = waiting(bare_site());
    assert!(s.on_command(Command::SendFile("/x".into())).is_empty());
    let mut s = chatting(bare_site());
    let id = offered(&mut s);
    msg(&mut s, Message::FileAccept { id });
    let e = msg(&mut s, Message::ReturnedToQueue);
    assert_eq!(e, vec![Effect::StopUpload { id }]);
    assert_eq!(
        s.transfers[0].state,
        TransferState::Failed(FileProblem::PeerGone)
    );
    // A hash finishing after the technician left is not offered.
    let mut s = chatting(bare_site());
    s.on_command(Command::SendFile("/x".into()));
    msg(&mut s, Message::ReturnedToQueue);
    let e = s.on_event(NetEvent::File(FileEvent::Ready {
        id: 1,
        name: "x".into(),
        size: 1,
        sha256: "00".into(),
    }));
    assert!(e.is_empty());
}

#[test]
fn a_cut_interrupts_a_running_upload() {
    let mut s = chatting(bare_site());
    let id = offered(&mut s);
    msg(&mut s, Message::FileAccept { id });
    let e = s.on_event(NetEvent::LinkDown { attempt: 1 });
    assert!(e.contains(&Effect::StopUpload { id }));
    assert_eq!(
        s.transfers[0].state,
        TransferState::Failed(FileProblem::Interrupted)
    );
}

#[test]
fn ending_cancels_running_transfers() {
    let mut s = chatting(bare_site());
    let id = offered(&mut s);
    let e = s.on_command(Command::EndSession);
    assert!(e.contains(&Effect::StopUpload { id }));
    assert_eq!(s.transfers[0].state, TransferState::Cancelled);
}
