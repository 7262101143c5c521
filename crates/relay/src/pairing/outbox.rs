//! The relay's sending side of exactly-once delivery, keeping what it
//! numbered **encoded**: a forwarded chat line is encoded once, numbered
//! by splicing `seq` (and `session`) in front of its other members, and
//! resent after a reconnect as the same text. `lotse_link::Outbox` keeps
//! `Envelope`s, which would mean decoding and re-encoding every forwarded
//! message.

use std::collections::VecDeque;

use lotse_protocol::{Envelope, encode_text};

/// Numbered text frames the peer has not acknowledged yet.
#[derive(Debug, Default)]
pub struct TextOutbox {
    next: u64,
    pending: VecDeque<(u64, String)>,
}

impl TextOutbox {
    /// Number a reliable message: `encode` turns its `seq` into the frame.
    /// Returns the frame to send (a copy stays until acknowledged).
    pub fn push(&mut self, encode: impl FnOnce(u64) -> String) -> String {
        self.next += 1;
        let text = encode(self.next);
        self.pending.push_back((self.next, text.clone()));
        text
    }

    /// Encode `env`, numbered when its message is reliable.
    pub fn stamp(&mut self, env: Envelope) -> String {
        if env.msg.is_reliable() {
            self.push(|seq| encode_text(&env.with_seq(seq)))
        } else {
            encode_text(&env)
        }
    }

    /// The peer has everything up to and including `seq`.
    pub fn ack(&mut self, seq: u64) {
        while self.pending.front().is_some_and(|(s, _)| *s <= seq) {
            self.pending.pop_front();
        }
    }

    /// What to send again after a reconnect (oldest first).
    pub fn unacked(&self) -> impl Iterator<Item = &str> {
        self.pending.iter().map(|(_, t)| t.as_str())
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

/// `body` (a JSON object without `seq` and `session`, as
/// [`crate::pairing::wire`] encodes forwarded messages) with `seq` and
/// `session` in front of its members.
pub fn splice(seq: u64, session: Option<u64>, body: &str) -> String {
    let members = body.strip_prefix('{').unwrap_or(body);
    let mut out = String::with_capacity(body.len() + 48);
    out.push_str("{\"seq\":");
    out.push_str(&seq.to_string());
    if let Some(session) = session {
        out.push_str(",\"session\":");
        out.push_str(&session.to_string());
    }
    if members.trim_start().starts_with('}') {
        out.push_str(members);
    } else {
        out.push(',');
        out.push_str(members);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lotse_protocol::{Message, decode_text};

    #[test]
    fn spliced_frames_decode_to_the_numbered_envelope() {
        let body = serde_json::to_string(&Message::Chat {
            text: "hi \"there\"".into(),
            from: Some("Anna".into()),
            at_ms: Some(5),
        })
        .unwrap();
        let text = splice(7, Some(42), &body);
        let env = decode_text(&text).unwrap();
        assert_eq!(env.seq, Some(7));
        assert_eq!(env.session, Some(42));
        assert!(matches!(env.msg, Message::Chat { ref text, .. } if text == "hi \"there\""));
        let bare = splice(1, None, r#"{"type":"nudge"}"#);
        assert_eq!(decode_text(&bare).unwrap().seq, Some(1));
    }

    #[test]
    fn acknowledged_frames_leave_the_outbox() {
        let mut out = TextOutbox::default();
        let first = out.stamp(Envelope::new(Message::Nudge));
        assert_eq!(decode_text(&first).unwrap().seq, Some(1));
        out.push(|seq| splice(seq, None, r#"{"type":"nudge"}"#));
        // Unreliable messages are not numbered and not kept.
        out.stamp(Envelope::new(Message::PeerBack));
        assert_eq!(out.pending_len(), 2);
        out.ack(1);
        let left: Vec<&str> = out.unacked().collect();
        assert_eq!(left, vec![r#"{"seq":2,"type":"nudge"}"#]);
    }
}
