use super::*;
use proptest::prelude::*;

#[test]
fn chat_round_trips_with_seq_and_session() {
    let env = Envelope::new(Message::Chat {
        text: "Grüße €".into(),
        from: None,
        at_ms: None,
    })
    .with_seq(7)
    .with_session(3);
    let text = encode_text(&env);
    assert_eq!(
        text,
        r#"{"seq":7,"session":3,"type":"chat","text":"Grüße €"}"#
    );
    assert_eq!(decode_text(&text).unwrap(), env);
}

#[test]
fn hello_from_plain_json() {
    let env = decode_text(r#"{"type":"hello","version":1,"role":"web_customer"}"#).unwrap();
    assert_eq!(
        env.msg,
        Message::Hello {
            version: 1,
            role: Role::WebCustomer,
            agent: String::new(),
            lang: Lang::En,
            resume: None
        }
    );
}

#[test]
fn unit_and_nested_variants_round_trip() {
    for msg in [
        Message::Nudge,
        Message::ShareGrant {
            scope: ShareScope::Apps {
                apps: vec!["xterm".into()],
            },
            width: 1280,
            height: 800,
        },
        Message::Input {
            event: InputEvent::Key {
                key: "Return".into(),
                down: true,
            },
        },
        Message::End {
            reason: EndReason::LeftOnNotice,
        },
        Message::error(ErrorCode::VersionMismatch, "speak version 1"),
    ] {
        let env = Envelope::new(msg);
        assert_eq!(decode_text(&encode_text(&env)).unwrap(), env);
    }
}

#[test]
fn bad_text_is_an_error() {
    assert!(matches!(decode_text("{"), Err(ProtocolError::Malformed(_))));
    assert!(matches!(
        decode_text(r#"{"type":"no_such_thing"}"#),
        Err(ProtocolError::Malformed(_))
    ));
    let big = format!(
        r#"{{"type":"chat","text":"{}"}}"#,
        "x".repeat(MAX_TEXT_BYTES)
    );
    assert!(matches!(
        decode_text(&big),
        Err(ProtocolError::TooLarge { .. })
    ));
}

#[test]
fn binary_header_round_trip() {
    let h = BinaryHeader {
        kind: BinaryKind::FileChunk,
        flags: FLAG_LAST,
        id: 9,
        session: 0x0102_0304_0506_0708,
        seq: 262_144,
    };
    let mut frame = h.frame(b"abc");
    assert_eq!(frame.len(), BinaryHeader::LEN + 3);
    let (back, payload) = BinaryHeader::parse(&frame).unwrap();
    assert_eq!(back, h);
    assert!(back.is_last());
    assert_eq!(payload, b"abc");
    BinaryHeader::set_session(&mut frame, 42).unwrap();
    assert_eq!(BinaryHeader::parse(&frame).unwrap().0.session, 42);
    assert!(BinaryHeader::parse(&frame[..10]).is_err());
}

proptest! {
    #[test]
    fn binary_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = BinaryHeader::parse(&bytes);
    }

    #[test]
    fn text_decode_never_panics(s in ".{0,200}") {
        let _ = decode_text(&s);
    }
}

#[test]
fn ack_round_trips_despite_the_envelope_seq() {
    let env = Envelope::new(Message::Ack { seq: 5 }).with_session(2);
    let text = encode_text(&env);
    assert_eq!(decode_text(&text).unwrap(), env);
    assert!(decode_text(r#"{"type":"ack"}"#).is_err());
}

#[test]
fn inner_session_fields_survive_decoding() {
    for env in [
        Envelope::new(Message::Welcome {
            version: 1,
            session: Some(9),
            resume_token: Some("t".into()),
            site: SiteInfo::default(),
            last_seq: 4,
        }),
        Envelope::new(Message::Accept { session: 9 }).with_seq(3),
        Envelope::new(Message::SessionStarted {
            session: 9,
            customer_name: "A".into(),
            problem: None,
            role: Role::Customer,
            history: vec![],
            consents: vec![],
        })
        .with_seq(2)
        .with_session(9),
    ] {
        assert_eq!(decode_text(&encode_text(&env)).unwrap(), env);
    }
}

#[test]
fn keyframe_request_is_a_reliable_technician_message() {
    let env = Envelope::new(Message::KeyframeRequest).with_session(42);
    let text = encode_text(&env);
    assert!(text.contains(r#""type":"keyframe_request""#), "{text}");
    assert_eq!(decode_text(&text).unwrap(), env);
    let plain = decode_text(r#"{"session":7,"type":"keyframe_request","seq":3}"#).unwrap();
    assert_eq!(plain.msg, Message::KeyframeRequest);
    assert!(Message::KeyframeRequest.is_reliable());
    assert!(Message::KeyframeRequest.technician_only());
    assert!(!Message::KeyframeRequest.customer_only());
}
