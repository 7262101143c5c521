//! A session's transcript: the chat lines and, between them, what happened
//! in the session — joined, screen sharing and control asked, allowed,
//! declined and stopped, nudges, notices, files, the customer's
//! connection, the end. The core records each happening as a [`Note`] with
//! the time it learnt of it; [`merge`] puts chat and notes in time order,
//! and the window words them in the technician's language.
//!
//! No IO, no egui: plain data the core keeps and the window copies.

use lotse_protocol::{ChatLine, ConsentTopic};

/// Who ended a screen share or control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Customer,
    Technician,
}

/// Something that happened in a session, shown between the chat lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// This technician took the session.
    Joined,
    /// The session came back after this console's connection was cut.
    Resumed,
    /// An answer of the customer that has no note of its own (agreement,
    /// recording, …), also the answers given before this technician joined.
    Consent {
        topic: ConsentTopic,
        granted: bool,
    },
    ShareAsked,
    ShareAllowed {
        width: u32,
        height: u32,
    },
    ShareDeclined,
    ShareStopped {
        by: By,
    },
    /// The customer paused (or resumed) the share and control.
    SharePaused {
        paused: bool,
    },
    ControlAsked,
    ControlAllowed,
    ControlDeclined,
    ControlStopped {
        by: By,
    },
    Nudged,
    NoticeSent {
        text: String,
    },
    FileOffered {
        name: String,
        size: u64,
    },
    FileAccepted {
        name: String,
    },
    FileDeclined {
        name: String,
    },
    FileReceived {
        name: String,
        ok: bool,
    },
    FileCancelled {
        name: String,
        reason: String,
    },
    /// The customer's connection dropped; the relay waits this long.
    PeerAway {
        grace_secs: u32,
    },
    PeerBack,
    ElevateAsked,
    Elevated,
    /// The session ended for this console (`reason` as in `Event::Ended`).
    Ended {
        reason: String,
    },
}

/// A note and when it happened (milliseconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteLine {
    pub at_ms: i64,
    pub note: Note,
}

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Chat(ChatLine),
    Note(NoteLine),
}

impl Entry {
    pub fn at_ms(&self) -> i64 {
        match self {
            Entry::Chat(c) => c.at_ms,
            Entry::Note(n) => n.at_ms,
        }
    }
}

/// Chat lines and notes in time order. Lines with the same time keep the
/// order they have in their list, chat before notes.
pub fn merge(chat: &[ChatLine], notes: &[NoteLine]) -> Vec<Entry> {
    let mut out: Vec<Entry> = chat
        .iter()
        .cloned()
        .map(Entry::Chat)
        .chain(notes.iter().cloned().map(Entry::Note))
        .collect();
    // Stable: equal times stay in arrival order.
    out.sort_by_key(Entry::at_ms);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lotse_protocol::Role;

    fn chat(text: &str, at_ms: i64) -> ChatLine {
        ChatLine {
            from: "Anna".into(),
            role: Role::Customer,
            text: text.into(),
            at_ms,
        }
    }

    fn note(note: Note, at_ms: i64) -> NoteLine {
        NoteLine { at_ms, note }
    }

    #[test]
    fn notes_fall_between_the_chat_lines_by_time() {
        let lines = merge(
            &[chat("hello", 10), chat("it works", 30), chat("bye", 30)],
            &[
                note(Note::Joined, 5),
                note(Note::ShareAsked, 20),
                note(Note::Nudged, 30),
            ],
        );
        let order: Vec<String> = lines
            .iter()
            .map(|e| match e {
                Entry::Chat(c) => c.text.clone(),
                Entry::Note(n) => format!("{:?}", n.note),
            })
            .collect();
        assert_eq!(
            order,
            ["Joined", "hello", "ShareAsked", "it works", "bye", "Nudged"]
        );
    }
}
