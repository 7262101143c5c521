//! Reading a peer's text frame, and encoding what the relay forwards,
//! without decoding and re-encoding the hot messages whole.
//!
//! `lotse_protocol::decode_text` builds a `serde_json::Value` and then the
//! internally tagged `Message` from it (serde buffers such an enum once
//! more to find its tag): three passes over a 2 KB chat line. Here one
//! small borrowed struct reads the members every message kind shares
//! (`type`, `seq`, `session`) together with a chat line's own members, in
//! one pass. `ack`, `chat` and `input` are taken from that pass; every
//! other kind (rare: joins, consents, requests, files) is decoded whole as
//! before, so its checks stay where they were.
//!
//! Forwarding encodes only what the relay sends on: a chat line's `text`
//! plus the `from` and `at_ms` the relay sets, an input's `event` exactly
//! as it came (checked to be an input event, never re-encoded); `seq` and
//! `session` are spliced in front when the frame is numbered
//! ([`super::outbox::splice`]).

use std::borrow::Cow;

use lotse_protocol::{Envelope, InputEvent, ProtocolError, decode_text};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One text frame from a peer.
#[derive(Debug)]
pub enum Incoming {
    /// `ack{seq}` (never numbered itself).
    Ack { seq: u64, session: Option<u64> },
    /// `chat{text}`.
    Chat {
        seq: Option<u64>,
        session: Option<u64>,
        text: String,
    },
    /// `input{event}`: the event's JSON exactly as it came (checked).
    Input {
        seq: Option<u64>,
        session: Option<u64>,
        event: Box<RawValue>,
    },
    /// Every other message, decoded whole.
    Full(Envelope),
}

impl Incoming {
    /// `seq` and whether the message is reliable (numbered messages take
    /// their place in the sender's sequence even when refused).
    pub fn seq(&self) -> Option<u64> {
        match self {
            Incoming::Ack { .. } => None,
            Incoming::Chat { seq, .. } | Incoming::Input { seq, .. } => *seq,
            Incoming::Full(env) => env.seq.filter(|_| env.msg.is_reliable()),
        }
    }

    pub fn session(&self) -> Option<u64> {
        match self {
            Incoming::Ack { session, .. }
            | Incoming::Chat { session, .. }
            | Incoming::Input { session, .. } => *session,
            Incoming::Full(env) => env.session,
        }
    }
}

/// The members the fast path reads, in one pass; any other member is
/// skipped unread. A frame this does not fit (a member of another type,
/// a duplicate key, a string with escapes in `type`) goes to
/// `decode_text`, which decides.
#[derive(Deserialize)]
struct Top<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    session: Option<u64>,
    #[serde(default)]
    text: Option<String>,
    // Read only to refuse what the full decoder refuses (a chat's `from`
    // and `at_ms` of the wrong type); the relay sets its own.
    #[serde(default, borrow)]
    #[allow(dead_code)]
    from: Option<Cow<'a, str>>,
    #[serde(default)]
    #[allow(dead_code)]
    at_ms: Option<i64>,
    #[serde(default, borrow)]
    event: Option<&'a RawValue>,
}

/// Read one text frame (at most 64 KiB: the connection refused larger
/// ones already).
pub fn parse(text: &str) -> Result<Incoming, ProtocolError> {
    if let Ok(top) = serde_json::from_str::<Top<'_>>(text) {
        match (top.kind.as_ref(), top.seq, top.text, top.event) {
            ("ack", Some(seq), _, _) => {
                return Ok(Incoming::Ack {
                    seq,
                    session: top.session,
                });
            }
            ("chat", seq, Some(text), _) => {
                return Ok(Incoming::Chat {
                    seq,
                    session: top.session,
                    text,
                });
            }
            ("input", seq, _, Some(event))
                if serde_json::from_str::<InputEvent>(event.get()).is_ok() =>
            {
                return Ok(Incoming::Input {
                    seq,
                    session: top.session,
                    event: event.to_owned(),
                });
            }
            _ => {}
        }
    }
    decode_text(text).map(Incoming::Full)
}

#[derive(Serialize)]
struct ChatOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
    from: &'a str,
    at_ms: i64,
}

/// A forwarded chat line without `seq` and `session`: what
/// `compose::forwarded_chat` encodes to.
pub fn chat_body(text: &str, from: &str, at_ms: i64) -> String {
    serde_json::to_string(&ChatOut {
        kind: "chat",
        text,
        from,
        at_ms,
    })
    .unwrap_or_default()
}

/// `ack{seq}`, as `encode_text` writes it (one for every numbered
/// message received: written directly).
pub fn ack(seq: u64) -> String {
    format!(r#"{{"type":"ack","seq":{seq}}}"#)
}

/// A forwarded input event without `seq` and `session`.
pub fn input_body(event: &RawValue) -> String {
    let mut out = String::with_capacity(event.get().len() + 32);
    out.push_str("{\"type\":\"input\",\"event\":");
    out.push_str(event.get());
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lotse_protocol::{Message, encode_text};

    fn chat(text: &str) -> Envelope {
        Envelope::new(Message::Chat {
            text: text.into(),
            from: None,
            at_ms: None,
        })
    }

    #[test]
    fn hot_messages_take_the_fast_path_with_what_decode_text_reads() {
        let text = encode_text(&chat("grüß \"dich\"\n").with_seq(3).with_session(9));
        match parse(&text).unwrap() {
            Incoming::Chat { seq, session, text } => {
                assert_eq!((seq, session), (Some(3), Some(9)));
                assert_eq!(text, "grüß \"dich\"\n");
            }
            other => panic!("{other:?}"),
        }
        let ack = encode_text(&Envelope::new(Message::Ack { seq: 12 }));
        assert!(matches!(
            parse(&ack).unwrap(),
            Incoming::Ack {
                seq: 12,
                session: None
            }
        ));
        let join = encode_text(&Envelope::new(Message::Join {
            name: "Erika".into(),
            problem: None,
        }));
        assert!(matches!(parse(&join).unwrap(), Incoming::Full(_)));
    }

    #[test]
    fn what_the_fast_path_cannot_read_is_decided_by_decode_text() {
        for bad in [
            r#"{"type":"chat","text":5}"#,
            r#"{"type":"chat","text":"a","from":7}"#,
            r#"{"type":"chat"}"#,
            r#"{"type":"ack"}"#,
            r#"{"type":"input","event":{"kind":"no_such_event"}}"#,
            r#"{"type":"chat","seq":-1,"text":"a"}"#,
            r#"{"type":"chat","text":"a","text":"b"}"#,
            "not json",
            "",
        ] {
            let fast = parse(bad).map(|i| format!("{i:?}"));
            let full = decode_text(bad).map(|e| format!("{:?}", Incoming::Full(e)));
            assert_eq!(fast.is_ok(), full.is_ok(), "{bad}: {fast:?} vs {full:?}");
        }
    }

    #[test]
    fn forwarded_bodies_encode_like_the_messages() {
        for seq in [0, 7, u64::MAX] {
            assert_eq!(ack(seq), encode_text(&Envelope::new(Message::Ack { seq })));
        }
        let body = chat_body("hi", "Anna", 17);
        assert_eq!(
            body,
            serde_json::to_string(&Message::Chat {
                text: "hi".into(),
                from: Some("Anna".into()),
                at_ms: Some(17),
            })
            .unwrap()
        );
        let input =
            r#"{"type":"input","seq":4,"session":2,"event":{"kind":"key","key":"a","down":true}}"#;
        let Incoming::Input {
            seq,
            session,
            event,
        } = parse(input).unwrap()
        else {
            panic!("input takes the fast path");
        };
        assert_eq!((seq, session), (Some(4), Some(2)));
        let spliced = super::super::outbox::splice(1, None, &input_body(&event));
        let env = decode_text(&spliced).unwrap();
        assert_eq!(
            env.msg,
            decode_text(input).unwrap().msg,
            "the event arrives as it was sent"
        );
    }

    use proptest::prelude::*;

    /// A JSON value of the kinds a peer might put in a member.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            Just("1.5".to_owned()),
            ".{0,12}".prop_map(|t| serde_json::to_string(&t).unwrap_or_default()),
            Just(r#"{"kind":"key","key":"a","down":true}"#.to_owned()),
            Just(r#"{"kind":"mouse_move","x":1}"#.to_owned()),
            Just("[1,2]".to_owned()),
        ]
    }

    /// An object with some of the members the fast path reads (and
    /// others), any of them of any kind, keys possibly repeated.
    fn frame() -> impl Strategy<Value = String> {
        let kind = prop_oneof![
            Just("\"chat\""),
            Just("\"ack\""),
            Just("\"input\""),
            Just("\"join\""),
            Just("\"nudge\""),
            Just("5"),
        ];
        let key = prop_oneof![
            Just("seq"),
            Just("session"),
            Just("text"),
            Just("from"),
            Just("at_ms"),
            Just("event"),
            Just("name"),
            Just("other"),
        ];
        (kind, proptest::collection::vec((key, value()), 0..6)).prop_map(|(kind, members)| {
            let mut out = format!("{{\"type\":{kind}");
            for (k, v) in members {
                out.push_str(&format!(",\"{k}\":{v}"));
            }
            out.push('}');
            out
        })
    }

    proptest! {
        /// The fast path accepts exactly what `decode_text` accepts, and
        /// reads the same values from it.
        #[test]
        fn the_fast_path_reads_what_decode_text_reads(text in frame()) {
            let full = decode_text(&text);
            match parse(&text) {
                Err(_) => prop_assert!(full.is_err(), "{text}: only the fast path refused it"),
                Ok(fast) => {
                    let Ok(full) = full else {
                        return Err(TestCaseError::fail(format!("{text}: only decode_text refused it")));
                    };
                    prop_assert_eq!(fast.session(), full.session, "{}", text);
                    match fast {
                        Incoming::Chat { seq, text: line, .. } => {
                            prop_assert_eq!(seq, full.seq);
                            let is_same = matches!(&full.msg, Message::Chat { text, .. } if *text == line);
                            prop_assert!(is_same, "{}", text);
                        }
                        Incoming::Ack { seq, .. } => {
                            prop_assert_eq!(full.msg, Message::Ack { seq });
                        }
                        Incoming::Input { seq, event, .. } => {
                            prop_assert_eq!(seq, full.seq);
                            let body = input_body(&event);
                            let again = decode_text(&body).map(|e| e.msg);
                            prop_assert_eq!(again.ok(), Some(full.msg));
                        }
                        Incoming::Full(env) => prop_assert_eq!(env, full),
                    }
                }
            }
        }
    }
}
