use super::*;
use lotse_protocol::{FLAG_LAST, MouseButton};
use sha2::{Digest, Sha256};

fn entry(session: u64, name: &str) -> QueueEntry {
    QueueEntry {
        session,
        name: name.into(),
        problem: Some("printer".into()),
        waiting_secs: 12,
        role: Role::Customer,
    }
}

fn relay(core: &mut Core, seq: &mut u64, session: Option<u64>, msg: Message) {
    let mut env = Envelope::new(msg);
    env.session = session;
    if env.msg.is_reliable() {
        *seq += 1;
        env.seq = Some(*seq);
    }
    core.receive_text(env);
}

/// A core serving customer "Anna" in session 7.
fn serving() -> (Core, u64) {
    let mut core = Core::new("Tom", false);
    let mut seq = 0;
    relay(
        &mut core,
        &mut seq,
        None,
        Message::Queue {
            entries: vec![entry(7, "Anna")],
            notices: vec![NoticeInfo {
                id: "outage".into(),
                text: "Mail is down".into(),
            }],
            not_listed: 0,
        },
    );
    core.command(Command::Accept { session: 7 }).unwrap();
    let mut started = anna_started();
    if let Message::SessionStarted {
        problem, consents, ..
    } = &mut started
    {
        *problem = Some("printer".into());
        consents.push(ConsentRecord {
            topic: ConsentTopic::Agreement,
            granted: true,
            at_ms: 1,
        });
    }
    relay(&mut core, &mut seq, None, started);
    // The relay acknowledged the accept.
    core.receive_text(Envelope::new(Message::Ack { seq: 1 }));
    core.take_outgoing();
    core.take_events();
    (core, seq)
}

/// The relay's `session_started` for Anna in session 7 (no history).
fn anna_started() -> Message {
    Message::SessionStarted {
        session: 7,
        customer_name: "Anna".into(),
        problem: None,
        role: Role::Customer,
        history: vec![],
        consents: vec![],
    }
}

fn sent(core: &mut Core) -> Vec<Message> {
    core.take_outgoing().into_iter().map(|e| e.msg).collect()
}

#[test]
fn queue_then_accept_then_session() {
    let mut core = Core::new("Tom", false);
    assert_eq!(
        core.command(Command::Accept { session: 7 }),
        Err(CommandError::NotQueued(7))
    );
    let mut seq = 0;
    relay(
        &mut core,
        &mut seq,
        None,
        Message::Queue {
            entries: vec![entry(7, "Anna")],
            notices: vec![],
            not_listed: 0,
        },
    );
    let events = core.take_events();
    assert!(matches!(&events[1], Event::Queue { entries, .. } if entries[0].name == "Anna"));
    core.command(Command::Accept { session: 7 }).unwrap();
    let out = core.take_outgoing();
    assert_eq!(out[0].msg, Message::Accept { session: 7 });
    assert_eq!(out[0].seq, Some(1), "accept is reliable");
    let (core, _) = serving();
    let s = &core.sessions[&7];
    assert_eq!(s.customer_name, "Anna");
    assert_eq!(s.current_grants().get("agreement"), Some(&true));
}

#[test]
fn chat_both_ways_with_acks_and_duplicates_dropped() {
    let (mut core, _) = serving();
    core.command(Command::Say {
        session: 7,
        text: " Hello Anna ".into(),
    })
    .unwrap();
    let out = core.take_outgoing();
    assert_eq!(out[0].session, Some(7));
    assert_eq!(
        out[0].msg,
        Message::Chat {
            text: "Hello Anna".into(),
            from: None,
            at_ms: None
        }
    );
    assert_eq!(core.unacked(), 1);
    let my_seq = out[0].seq.unwrap();
    core.receive_text(Envelope::new(Message::Ack { seq: my_seq }));
    assert_eq!(core.unacked(), 0);

    let incoming = Envelope::new(Message::Chat {
        text: "Hi Tom".into(),
        from: Some("Anna".into()),
        at_ms: Some(5),
    })
    .with_session(7)
    .with_seq(10);
    // The relay numbers from 1 on this link; seq 1 and 2 were used in serving().
    let mut incoming = incoming;
    incoming.seq = Some(2);
    core.take_events();
    core.receive_text(incoming.clone());
    core.receive_text(incoming);
    let events = core.take_events();
    assert_eq!(events.len(), 1, "duplicate dropped: {events:?}");
    assert!(
        matches!(&events[0], Event::Chat { from, text, mine: false, .. } if from == "Anna" && text == "Hi Tom")
    );
    assert_eq!(
        sent(&mut core),
        vec![Message::Ack { seq: 2 }, Message::Ack { seq: 2 }]
    );
    assert_eq!(core.sessions[&7].chat.len(), 2);
    assert!(
        core.command(Command::Say {
            session: 7,
            text: "  ".into()
        })
        .is_err()
    );
}

#[test]
fn nudge_and_notices() {
    let (mut core, _) = serving();
    core.command(Command::Nudge { session: 7 }).unwrap();
    core.command(Command::Notice {
        session: 7,
        notice: NoticeChoice::Id("outage".into()),
    })
    .unwrap();
    core.command(Command::Notice {
        session: 7,
        notice: NoticeChoice::Text("Back in 5 minutes".into()),
    })
    .unwrap();
    assert_eq!(
        sent(&mut core),
        vec![
            Message::Nudge,
            Message::SendNotice {
                id: Some("outage".into()),
                text: None
            },
            Message::SendNotice {
                id: None,
                text: Some("Back in 5 minutes".into())
            },
        ]
    );
    assert_eq!(
        core.command(Command::Nudge { session: 99 }),
        Err(CommandError::NoSession(99))
    );
    assert!(matches!(
        core.take_events().last(),
        Some(Event::Error { code, .. }) if code == "not_found"
    ));
}

#[test]
fn input_only_while_in_control_and_history_records_grants() {
    let (mut core, mut seq) = serving();
    let click = InputEvent::MouseButton {
        button: MouseButton::Left,
        down: true,
    };
    assert_eq!(
        core.command(Command::Input {
            session: 7,
            event: click.clone()
        }),
        Err(CommandError::NotInControl)
    );
    core.command(Command::RequestControl { session: 7 })
        .unwrap();
    assert_eq!(core.sessions[&7].control, Control::Requested);
    relay(&mut core, &mut seq, Some(7), Message::ControlGrant);
    assert_eq!(core.sessions[&7].control, Control::On);
    core.take_outgoing();
    core.command(Command::Input {
        session: 7,
        event: click.clone(),
    })
    .unwrap();
    assert_eq!(sent(&mut core), vec![Message::Input { event: click }]);
    core.take_events();
    // The customer pauses: the technician is told; the grants stay.
    relay(
        &mut core,
        &mut seq,
        Some(7),
        Message::SharePause { paused: true },
    );
    assert_eq!(
        core.take_events(),
        vec![Event::SharePaused {
            session: 7,
            paused: true
        }]
    );
    assert!(core.sessions[&7].paused);
    assert_eq!(core.sessions[&7].control, Control::On);
    relay(
        &mut core,
        &mut seq,
        Some(7),
        Message::SharePause { paused: false },
    );
    assert!(!core.sessions[&7].paused);
    core.take_events();
    relay(&mut core, &mut seq, Some(7), Message::ShareStop);
    assert_eq!(core.sessions[&7].control, Control::Off);
    // The customer's stop ends control too, and the technician is told.
    assert_eq!(
        core.take_events(),
        vec![
            Event::ShareStopped { session: 7 },
            Event::ControlRevoked { session: 7 }
        ]
    );
    let topics: Vec<_> = core.sessions[&7]
        .consents
        .iter()
        .map(|c| (c.topic, c.granted))
        .collect();
    assert_eq!(
        topics,
        vec![
            (ConsentTopic::Agreement, true),
            (ConsentTopic::Control, true),
            (ConsentTopic::ScreenShare, false),
            (ConsentTopic::Control, false),
        ]
    );
}

#[test]
fn file_is_received_checked_and_acknowledged() {
    let (mut core, mut seq) = serving();
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let sha = hex::encode(Sha256::digest(&data));
    relay(
        &mut core,
        &mut seq,
        Some(7),
        Message::FileOffer {
            id: 3,
            name: "log.txt".into(),
            size: data.len() as u64,
            sha256: sha.clone(),
        },
    );
    assert_eq!(core.sessions[&7].pending_offer(), Some(3));
    core.command(Command::AcceptFile {
        session: 7,
        id: 3,
        dir: dir.path().to_owned(),
    })
    .unwrap();
    core.take_outgoing();
    for (i, part) in data.chunks(40_000).enumerate() {
        let last = (i + 1) * 40_000 >= data.len();
        let frame = BinaryHeader {
            kind: BinaryKind::FileChunk,
            flags: if last { FLAG_LAST } else { 0 },
            id: 3,
            session: 7,
            seq: (i * 40_000) as u64,
        }
        .frame(part);
        core.receive_binary(&frame);
    }
    let out = sent(&mut core);
    assert_eq!(
        out,
        vec![Message::FileDone {
            id: 3,
            ok: true,
            sha256: sha.clone()
        }]
    );
    let events = core.take_events();
    let Some(Event::FileReceived { path, ok: true, .. }) = events.last() else {
        panic!("no file_received: {events:?}");
    };
    assert_eq!(std::fs::read(path.as_ref().unwrap()).unwrap(), data);
    assert!(
        core.command(Command::DeclineFile { session: 7, id: 3 })
            .is_err()
    );
}

#[test]
fn image_frame_is_shown_and_acked() {
    let (mut core, _) = serving();
    let mut png = Vec::new();
    image::RgbaImage::from_pixel(4, 2, image::Rgba([1, 2, 3, 255]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let frame = BinaryHeader {
        kind: BinaryKind::ImageFrame,
        flags: FLAG_LAST,
        id: 0,
        session: 7,
        seq: 42,
    }
    .frame(&png);
    core.receive_binary(&frame);
    assert_eq!(sent(&mut core), vec![Message::FrameAck { frame: 42 }]);
    assert!(matches!(
        core.take_events()[0],
        Event::Screen {
            frame: 42,
            width: 4,
            height: 2,
            ..
        }
    ));
    assert_eq!(&core.sessions[&7].screen.rgba()[..4], &[1, 2, 3, 255]);
    core.receive_binary(b"short");
    assert!(matches!(core.take_events()[0], Event::Error { .. }));
}

#[test]
fn a_picture_bomb_is_refused_and_the_screen_keeps_its_placeholder() {
    let (mut core, _) = serving();
    let frame = |seq, bytes: &[u8]| {
        BinaryHeader {
            kind: BinaryKind::ImageFrame,
            flags: FLAG_LAST,
            id: 0,
            session: 7,
            seq,
        }
        .frame(bytes)
    };
    // PNG and JPEG headers from the browser claiming 16384×16384 (1 GiB of
    // pixels) and 8000×8000 (256 MB: under the image crate's own 512 MiB
    // default, so only our limits refuse it before allocating).
    for (jpeg, side) in [(false, 16384), (true, 16384), (false, 8000), (true, 8000)] {
        core.receive_binary(&frame(1, &crate::screen::claiming(jpeg, side, side)));
        let events = core.take_events();
        assert!(
            matches!(&events[..], [Event::Error { code, .. }] if code == "picture_too_large"),
            "{events:?}"
        );
        assert!(sent(&mut core).is_empty(), "nothing acknowledged");
        let screen = &core.sessions[&7].screen;
        assert_eq!((screen.width(), screen.height()), (0, 0), "no picture");
    }
    // The next good picture is shown.
    let mut png = Vec::new();
    image::RgbaImage::from_pixel(3, 2, image::Rgba([1, 2, 3, 255]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    core.receive_binary(&frame(2, &png));
    assert_eq!(sent(&mut core), vec![Message::FrameAck { frame: 2 }]);
    // An avatar like that is refused before it is sent.
    assert_eq!(
        encode_avatar(&crate::screen::claiming(false, 16384, 16384)),
        Err(CommandError::BadAvatar)
    );
}

#[test]
fn a_watched_colour_is_counted_in_every_update() {
    let (mut core, _) = serving();
    let image = |px: image::RgbaImage| {
        let mut png = Vec::new();
        px.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        BinaryHeader {
            kind: BinaryKind::ImageFrame,
            flags: FLAG_LAST,
            id: 0,
            session: 7,
            seq: 1,
        }
        .frame(&png)
    };
    let mut pic = image::RgbaImage::from_pixel(5, 3, image::Rgba([0, 0, 0, 255]));
    pic.put_pixel(4, 2, image::Rgba([255, 0, 255, 255]));
    pic.put_pixel(0, 1, image::Rgba([255, 0, 255, 0]));
    core.receive_binary(&image(pic.clone()));
    let watched = |core: &mut Core| {
        core.take_events()
            .into_iter()
            .find_map(|e| match e {
                Event::Screen { watched, .. } => Some(watched),
                _ => None,
            })
            .expect("a screen event")
    };
    assert_eq!(watched(&mut core), None, "not watching yet");
    core.watch_colour(Some([255, 0, 255]));
    core.receive_binary(&image(pic));
    assert_eq!(watched(&mut core), Some(2), "alpha does not matter");
    core.receive_binary(&image(image::RgbaImage::from_pixel(
        5,
        3,
        image::Rgba([1, 2, 3, 255]),
    )));
    assert_eq!(watched(&mut core), Some(0));
    core.watch_colour(None);
    core.receive_binary(&image(image::RgbaImage::new(2, 2)));
    assert_eq!(watched(&mut core), None);
    assert_eq!(
        count_colour(
            &[9; 16],
            2,
            2,
            &[Rect {
                x: 1,
                y: 1,
                w: 100,
                h: 100
            }],
            [9, 9, 9]
        ),
        1,
        "rectangles are clipped"
    );
}

#[test]
fn end_hand_back_and_relay_end() {
    let (mut core, mut seq) = serving();
    core.command(Command::HandBack { session: 7 }).unwrap();
    assert_eq!(sent(&mut core), vec![Message::HandBack]);
    assert!(core.command(Command::Nudge { session: 7 }).is_err());
    let (mut core, _) = serving();
    core.command(Command::End { session: 7 }).unwrap();
    assert_eq!(
        sent(&mut core),
        vec![Message::End {
            reason: EndReason::EndedByTechnician
        }]
    );
    let (mut core2, _) = serving();
    relay(
        &mut core2,
        &mut seq,
        Some(7),
        Message::End {
            reason: EndReason::EndedByCustomer,
        },
    );
    assert!(
        core2
            .take_events()
            .iter()
            .any(|e| matches!(e, Event::Ended { reason, .. } if reason == "ended_by_customer"))
    );
}

#[test]
fn reconnect_parks_session_messages_until_the_session_is_resumed() {
    let (mut core, _) = serving();
    core.command(Command::Say {
        session: 7,
        text: "one".into(),
    })
    .unwrap();
    core.take_outgoing();
    core.take_events();
    core.link_up(true);
    let out = core.take_outgoing();
    assert_eq!(out.len(), 1, "only the profile goes at once: {out:?}");
    assert!(matches!(out[0].msg, Message::Profile { .. }));
    assert_eq!(out[0].seq, Some(1));
    assert!(
        core.take_events()
            .iter()
            .any(|e| matches!(e, Event::Ended { reason, .. } if reason == "connection_lost"))
    );
    assert!(core.command(Command::Nudge { session: 7 }).is_err());
    // The relay kept the session: it says so, and the chat goes again.
    relay(&mut core, &mut 0, None, anna_started());
    let out = core.take_outgoing();
    assert!(
        out.iter()
            .any(|e| matches!(&e.msg, Message::Chat { text, .. } if text == "one"))
    );
    assert!(
        !out.iter().any(|e| matches!(e.msg, Message::Accept { .. })),
        "acknowledged messages are not sent again"
    );
    let seqs: Vec<_> = out.iter().filter_map(|e| e.seq).collect();
    assert_eq!(seqs, vec![2], "numbering continues on the new link");
    core.command(Command::Nudge { session: 7 }).unwrap();
}

#[test]
fn avatar_must_be_small_png_or_jpeg() {
    let mut png = Vec::new();
    image::RgbaImage::new(8, 8)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut core = Core::new("Tom", false);
    core.command(Command::Profile {
        display_name: "Tom B.".into(),
        avatar: Some(png),
    })
    .unwrap();
    let out = sent(&mut core);
    assert!(
        matches!(&out[0], Message::Profile { display_name, avatar: Some(a) } if display_name == "Tom B." && !a.is_empty())
    );
    assert_eq!(
        core.command(Command::Profile {
            display_name: "x".into(),
            avatar: Some(b"GIF89a not ok".to_vec())
        }),
        Err(CommandError::BadAvatar)
    );
    assert_eq!(
        encode_avatar(&vec![0u8; 50_000]),
        Err(CommandError::BadAvatar)
    );
}

#[test]
fn broken_screen_update_asks_the_customer_for_a_keyframe() {
    let (mut core, _) = serving();
    let (w, h) = (96u32, 64u32);
    let mut bgra = vec![40u8; (w * h * 4) as usize];
    let mut enc = lotse_codec::Encoder::new(lotse_codec::EncoderConfig::default());
    let encode = |enc: &mut lotse_codec::Encoder, bgra: &[u8]| {
        enc.encode(&lotse_codec::Frame {
            width: w,
            height: h,
            stride: (w * 4) as usize,
            bgra,
        })
        .expect("an update")
    };
    let frame = |seq: u64, update: &[u8]| {
        BinaryHeader {
            kind: BinaryKind::ScreenUpdate,
            flags: FLAG_LAST,
            id: 1,
            session: 7,
            seq,
        }
        .frame(update)
    };
    core.receive_binary(&frame(1, &encode(&mut enc, &bgra)));
    assert_eq!(sent(&mut core), vec![Message::FrameAck { frame: 1 }]);
    // Update 2 arrives damaged.
    bgra[..400].fill(200);
    let mut bad = encode(&mut enc, &bgra);
    bad.truncate(bad.len() - 2);
    core.receive_binary(&frame(2, &bad));
    assert_eq!(
        sent(&mut core),
        vec![Message::FrameAck { frame: 2 }, Message::KeyframeRequest],
        "acknowledged, and a keyframe asked for"
    );
    assert!(
        core.take_events()
            .iter()
            .any(|e| matches!(e, Event::Error { .. }))
    );
    // An update already on the way fails as well; no second request.
    bgra[800..1200].fill(90);
    core.receive_binary(&frame(3, &encode(&mut enc, &bgra)));
    assert_eq!(sent(&mut core), vec![Message::FrameAck { frame: 3 }]);
    // The customer's keyframe puts the technician's view right again.
    enc.reset();
    core.receive_binary(&frame(4, &encode(&mut enc, &bgra)));
    assert_eq!(sent(&mut core), vec![Message::FrameAck { frame: 4 }]);
    let want: Vec<u8> = bgra
        .chunks(4)
        .flat_map(|p| [p[2], p[1], p[0], 255])
        .collect();
    assert_eq!(core.sessions[&7].screen.rgba(), &want[..]);
}

#[test]
fn a_message_the_console_cannot_take_is_reported_acked_and_the_next_arrives() {
    let (mut core, seq) = serving();
    // Over the text limit (e.g. from a relay that composed too much), and
    // one that does not decode: both numbered.
    let big = lotse_protocol::encode_text(
        &Envelope::new(Message::Chat {
            text: "\u{1}".repeat(lotse_protocol::MAX_TEXT_BYTES / 6 + 1),
            from: Some("Anna".into()),
            at_ms: Some(5),
        })
        .with_seq(seq + 1)
        .with_session(7),
    );
    core.receive_frame(&big);
    core.receive_frame(&format!(
        r#"{{"seq":{},"session":7,"type":"teleport"}}"#,
        seq + 2
    ));
    let next = lotse_protocol::encode_text(
        &Envelope::new(Message::Chat {
            text: "still here".into(),
            from: Some("Anna".into()),
            at_ms: Some(6),
        })
        .with_seq(seq + 3)
        .with_session(7),
    );
    core.receive_frame(&next);
    let events = core.take_events();
    let codes: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::Error { code, .. } => Some(code.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(codes, ["too_large", "malformed"], "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Chat { text, .. } if text == "still here")),
        "{events:?}"
    );
    // Every one acknowledged: the relay's outbox empties.
    assert_eq!(sent(&mut core).last(), Some(&Message::Ack { seq: seq + 3 }));
}

#[test]
fn history_pages_go_in_front_of_what_is_shown() {
    let (mut core, mut seq) = serving();
    let line = |text: &str| ChatLine {
        from: "Anna".into(),
        role: Role::Customer,
        text: text.into(),
        at_ms: 1,
    };
    relay(
        &mut core,
        &mut seq,
        Some(7),
        Message::ChatHistory {
            lines: vec![line("3"), line("4")],
        },
    );
    relay(
        &mut core,
        &mut seq,
        Some(7),
        Message::ChatHistory {
            lines: vec![line("1"), line("2")],
        },
    );
    let texts: Vec<&str> = core.sessions[&7]
        .chat
        .iter()
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(texts, ["1", "2", "3", "4"]);
}

#[test]
fn what_happens_in_a_session_is_noted_for_the_transcript() {
    use crate::transcript::{By, Note};
    let (mut core, mut seq) = serving();
    let cmd = |core: &mut Core, c| core.command(c).unwrap();
    cmd(&mut core, Command::RequestShare { session: 7 });
    relay(
        &mut core,
        &mut seq,
        Some(7),
        Message::ShareGrant {
            scope: ShareScope::Screen { monitor: 0 },
            width: 1280,
            height: 800,
        },
    );
    cmd(&mut core, Command::RequestControl { session: 7 });
    relay(&mut core, &mut seq, Some(7), Message::ControlDecline);
    cmd(&mut core, Command::RequestControl { session: 7 });
    relay(&mut core, &mut seq, Some(7), Message::ControlGrant);
    relay(&mut core, &mut seq, Some(7), Message::ControlRevoke);
    cmd(&mut core, Command::Nudge { session: 7 });
    cmd(
        &mut core,
        Command::Notice {
            session: 7,
            notice: NoticeChoice::Id("outage".into()),
        },
    );
    relay(
        &mut core,
        &mut seq,
        Some(7),
        Message::FileOffer {
            id: 3,
            name: "log.txt".into(),
            size: 10,
            sha256: "cd".repeat(32),
        },
    );
    cmd(&mut core, Command::DeclineFile { session: 7, id: 3 });
    relay(
        &mut core,
        &mut seq,
        Some(7),
        Message::Consent {
            topic: ConsentTopic::Recording,
            granted: false,
        },
    );
    relay(&mut core, &mut seq, Some(7), Message::ShareStop);
    relay(
        &mut core,
        &mut seq,
        Some(7),
        Message::PeerAway { grace_secs: 60 },
    );
    relay(&mut core, &mut seq, Some(7), Message::PeerBack);
    // The relay's answer to a cut: the session is back.
    core.link_up(true);
    relay(&mut core, &mut 0, None, anna_started());
    cmd(&mut core, Command::End { session: 7 });

    let s = &core.sessions[&7];
    let notes: Vec<Note> = s.notes.iter().map(|n| n.note.clone()).collect();
    assert_eq!(
        notes,
        vec![
            Note::Consent {
                topic: ConsentTopic::Agreement,
                granted: true
            },
            Note::Joined,
            Note::ShareAsked,
            Note::ShareAllowed {
                width: 1280,
                height: 800
            },
            Note::ControlAsked,
            Note::ControlDeclined,
            Note::ControlAsked,
            Note::ControlAllowed,
            Note::ControlStopped { by: By::Customer },
            Note::Nudged,
            Note::NoticeSent {
                text: "Mail is down".into()
            },
            Note::FileOffered {
                name: "log.txt".into(),
                size: 10
            },
            Note::FileDeclined {
                name: "log.txt".into()
            },
            Note::Consent {
                topic: ConsentTopic::Recording,
                granted: false
            },
            Note::ShareStopped { by: By::Customer },
            Note::PeerAway { grace_secs: 60 },
            Note::PeerBack,
            Note::Ended {
                reason: "connection_lost".into()
            },
            Note::Resumed,
            Note::Ended {
                reason: "ended_by_technician".into()
            },
        ]
    );
    // The relay's consent record keeps its own time, before the rest.
    assert_eq!(s.notes[0].at_ms, 1);
    assert!(s.notes.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    assert_eq!(s.transcript().len(), s.notes.len(), "no chat in this one");
}
