//! Every message the relay composes from what peers sent, sized so that it
//! fits the receiver's limit ([`MAX_TEXT_BYTES`]) with room for the
//! envelope fields the relay adds (`seq`, `session`):
//!
//! * what arrives is held to the text limits of [`lotse_protocol::limits`]
//!   ([`check_arrival`], `too_large` naming the field);
//! * what can grow is split or shortened: the chat history goes in pages
//!   (`session_started` carries the newest lines that fit, `chat_history`
//!   pages the older ones, newest page first), a `queue` entry carries a
//!   preview of the problem and the queue lists the longest-waiting
//!   customers that fit, the consents in `session_started` are the latest
//!   [`MAX_CONSENTS`];
//! * anything forwarded unchanged is checked with [`fits`] before it is
//!   numbered.
//!
//! The property test below drives these functions with the worst inputs
//! the limits allow.

use std::io::Write;

use lotse_protocol::limits::{
    self, CHAT_CHARS, FILE_NAME_CHARS, NAME_CHARS, NOTICE_CHARS, PROBLEM_CHARS,
    QUEUE_PROBLEM_CHARS, SURVEY_COMMENT_CHARS,
};
use lotse_protocol::{
    ChatLine, ConsentRecord, MAX_TEXT_BYTES, Message, NoticeInfo, QueueEntry, Role,
};

/// Room for the envelope fields the relay adds to a composed message:
/// `seq` and `session` at their longest.
const ENVELOPE_ROOM: usize = r#","seq":18446744073709551615,"session":18446744073709551615"#.len();

/// How many consent records a `session_started` carries (the latest).
pub const MAX_CONSENTS: usize = 32;
/// How many consent records a session keeps (the oldest go first); every
/// answer is also in the session record.
const KEEP_CONSENTS: usize = 4 * MAX_CONSENTS;

/// Counts bytes without keeping them.
struct Count(usize);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bytes of `value` as JSON (what `encode_text` writes for it).
fn json_len<T: serde::Serialize>(value: &T) -> usize {
    let mut count = Count(0);
    // Writing into a counter cannot fail for these plain data types.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Whether an encoded message body (without `seq` and `session`, as
/// `pairing::wire` encodes forwarded ones) fits like [`fits`].
pub fn body_fits(body: &str) -> bool {
    body.len() + ENVELOPE_ROOM <= MAX_TEXT_BYTES
}

/// A chat line's text limit, as [`check_arrival`] checks it.
pub fn check_chat(text: &str) -> Result<(), String> {
    limits::check_chars(text, CHAT_CHARS)
        .map_err(|limit| format!("`text` may have at most {limit} characters"))
}

/// Bytes of `msg` as the relay sends it, envelope fields at their longest.
pub fn sent_len(msg: &Message) -> usize {
    json_len(msg) + ENVELOPE_ROOM
}

/// Whether `msg` reaches the receiver whole (≤ [`MAX_TEXT_BYTES`] with any
/// `seq` and `session`).
pub fn fits(msg: &Message) -> bool {
    sent_len(msg) <= MAX_TEXT_BYTES
}

/// The text limits a message must keep when it arrives: `Err` names the
/// field over its limit (answered with `too_large`).
pub fn check_arrival(msg: &Message) -> Result<(), String> {
    let over = |field: &str, text: &str, limit: usize| {
        limits::check_chars(text, limit)
            .map_err(|limit| format!("`{field}` may have at most {limit} characters"))
    };
    match msg {
        Message::Join { name, problem } => {
            over("name", name.trim(), NAME_CHARS)?;
            problem
                .as_deref()
                .map_or(Ok(()), |p| over("problem", p.trim(), PROBLEM_CHARS))
        }
        Message::Profile { display_name, .. } => {
            over("display_name", display_name.trim(), NAME_CHARS)
        }
        Message::Chat { text, .. } => check_chat(text),
        Message::SendNotice { id, text } => {
            over("id", id.as_deref().unwrap_or_default(), NAME_CHARS)?;
            over("text", text.as_deref().unwrap_or_default(), NOTICE_CHARS)
        }
        Message::FileOffer { name, sha256, .. } => {
            over("name", name, FILE_NAME_CHARS)?;
            over("sha256", sha256, 64)
        }
        Message::SurveyAnswer { comment, .. } => over("comment", comment, SURVEY_COMMENT_CHARS),
        _ => Ok(()),
    }
}

/// A chat line as the relay forwards it: the sender's text with `from`
/// and `at_ms` filled in.
pub fn forwarded_chat(text: String, from: &str, at_ms: i64) -> Message {
    Message::Chat {
        text,
        from: Some(from.to_owned()),
        at_ms: Some(at_ms),
    }
}

/// A notice (from the site's configuration or a technician), its text held
/// to [`NOTICE_CHARS`].
pub fn notice(id: Option<String>, text: &str) -> Message {
    Message::Notice {
        id,
        text: limits::truncate_chars(text, NOTICE_CHARS).to_owned(),
    }
}

/// Keep a consent answer, forgetting the oldest beyond a bound.
pub fn push_consent(consents: &mut Vec<ConsentRecord>, record: ConsentRecord) {
    if consents.len() >= KEEP_CONSENTS {
        consents.remove(0);
    }
    consents.push(record);
}

/// `lines` (oldest first) in pages, **newest page first**, each page in
/// order: the first page has `first_room` bytes for its lines, the others
/// `room`. A line too big for an empty page (impossible within the limits)
/// is left out.
fn pages(lines: &[ChatLine], first_room: usize, room: usize) -> Vec<Vec<ChatLine>> {
    let mut pages: Vec<Vec<ChatLine>> = Vec::new();
    let mut page: Vec<ChatLine> = Vec::new();
    let mut left = first_room;
    for line in lines.iter().rev() {
        // One comma between list items (an upper bound for the first).
        let cost = json_len(line) + 1;
        if cost > left {
            if cost > room {
                tracing::warn!(bytes = cost, "a chat line too long for any page left out");
                continue;
            }
            page.reverse();
            pages.push(std::mem::take(&mut page));
            left = room;
        }
        left -= cost;
        page.push(line.clone());
    }
    page.reverse();
    pages.push(page);
    pages
}

fn history_room() -> usize {
    MAX_TEXT_BYTES.saturating_sub(sent_len(&Message::ChatHistory { lines: Vec::new() }))
}

/// The conversation so far for a full client that took a web chat session
/// over: `chat_history` pages, newest first (at least one, maybe empty).
pub fn chat_history(history: &[ChatLine]) -> Vec<Message> {
    let room = history_room();
    pages(history, room, room)
        .into_iter()
        .map(|lines| Message::ChatHistory { lines })
        .collect()
}

/// What a technician who takes a session gets: `session_started` with the
/// newest lines of the history that fit, then `chat_history` pages with
/// the older ones (newest first), each to be put in front of what the
/// technician already has.
pub fn session_started(
    session: u64,
    customer_name: &str,
    problem: Option<&str>,
    role: Role,
    history: &[ChatLine],
    consents: &[ConsentRecord],
) -> Vec<Message> {
    let consents = consents[consents.len().saturating_sub(MAX_CONSENTS)..].to_vec();
    let mut first = Message::SessionStarted {
        session,
        customer_name: limits::truncate_chars(customer_name, NAME_CHARS).to_owned(),
        problem: problem.map(|p| limits::truncate_chars(p, PROBLEM_CHARS).to_owned()),
        role,
        history: Vec::new(),
        consents,
    };
    let first_room = MAX_TEXT_BYTES.saturating_sub(sent_len(&first));
    let mut pages = pages(history, first_room, history_room()).into_iter();
    if let (Message::SessionStarted { history, .. }, Some(lines)) = (&mut first, pages.next()) {
        *history = lines;
    }
    std::iter::once(first)
        .chain(
            pages
                .filter(|lines| !lines.is_empty())
                .map(|lines| Message::ChatHistory { lines }),
        )
        .collect()
}

/// A problem text as a queue entry shows it.
fn preview(problem: &str) -> String {
    if limits::check_chars(problem, QUEUE_PROBLEM_CHARS).is_ok() {
        problem.to_owned()
    } else {
        format!(
            "{}…",
            limits::truncate_chars(problem, QUEUE_PROBLEM_CHARS - 1)
        )
    }
}

/// The `queue` for technicians: the site's notices and the waiting
/// customers in queue order, with problem previews, as many as fit.
pub fn queue(entries: Vec<QueueEntry>, notices: &[NoticeInfo]) -> Message {
    let room = MAX_TEXT_BYTES.saturating_sub(sent_len(&Message::Queue {
        entries: Vec::new(),
        notices: Vec::new(),
        not_listed: u32::MAX,
    }));
    // The site's notices get at most half, the customers the rest.
    let mut left = room / 2;
    let take = |cost: usize, left: &mut usize| {
        let ok = cost <= *left;
        if ok {
            *left -= cost;
        }
        ok
    };
    let notices: Vec<NoticeInfo> = notices
        .iter()
        .map(|n| NoticeInfo {
            id: limits::truncate_chars(&n.id, NAME_CHARS).to_owned(),
            text: limits::truncate_chars(&n.text, NOTICE_CHARS).to_owned(),
        })
        .take_while(|n| take(json_len(n) + 1, &mut left))
        .collect();
    left += room - room / 2;
    let listed = entries.len();
    let entries: Vec<QueueEntry> = entries
        .into_iter()
        .map(|e| QueueEntry {
            name: limits::truncate_chars(&e.name, NAME_CHARS).to_owned(),
            problem: e.problem.as_deref().map(preview),
            ..e
        })
        .take_while(|e| take(json_len(e) + 1, &mut left))
        .collect();
    let not_listed = u32::try_from(listed - entries.len()).unwrap_or(u32::MAX);
    if not_listed > 0 {
        tracing::debug!(
            shown = entries.len(),
            waiting = listed,
            "queue longer than one message; listing the longest waiting"
        );
    }
    Message::Queue {
        entries,
        notices,
        not_listed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lotse_protocol::{ConsentTopic, Envelope, decode_text, encode_text};
    use proptest::prelude::*;

    /// Characters by how much JSON they cost: `\u001f` is the worst (6
    /// bytes for one character).
    const WORST: &[char] = &['\u{1f}', '"', '\\', 'ü', '😀', 'a', '\u{7f}'];

    fn text(max: usize) -> impl Strategy<Value = String> {
        // Mostly at the limit, of one or two costly characters.
        (
            prop_oneof![3 => Just(max), 1 => 0..=max],
            prop::sample::select(WORST),
            prop::sample::select(WORST),
        )
            .prop_map(|(n, a, b)| {
                let half = n / 2;
                let mut s = a.to_string().repeat(half);
                s.push_str(&b.to_string().repeat(n - half));
                s
            })
    }

    fn role() -> impl Strategy<Value = Role> {
        prop::sample::select(vec![Role::Customer, Role::WebCustomer, Role::Technician])
    }

    fn line() -> impl Strategy<Value = ChatLine> {
        (text(NAME_CHARS), role(), text(CHAT_CHARS), any::<i64>()).prop_map(
            |(from, role, text, at_ms)| ChatLine {
                from,
                role,
                text,
                at_ms,
            },
        )
    }

    fn consent() -> impl Strategy<Value = ConsentRecord> {
        (any::<bool>(), any::<i64>()).prop_map(|(granted, at_ms)| ConsentRecord {
            topic: ConsentTopic::Recording,
            granted,
            at_ms,
        })
    }

    /// Sent as the relay sends it: numbered, with a session; the receiver
    /// takes it (size and decoding).
    fn assert_fits(msg: &Message) {
        let env = Envelope::new(msg.clone())
            .with_seq(u64::MAX)
            .with_session(u64::MAX);
        let text = encode_text(&env);
        assert!(
            text.len() <= MAX_TEXT_BYTES,
            "{} bytes > {MAX_TEXT_BYTES}",
            text.len()
        );
        decode_text(&text).expect("the receiver decodes it");
    }

    /// Pages (newest first) back into one list, oldest first.
    fn joined(pages: &[Vec<ChatLine>]) -> Vec<ChatLine> {
        pages.iter().rev().flatten().cloned().collect()
    }

    fn history_of(msgs: &[Message]) -> Vec<Vec<ChatLine>> {
        msgs.iter()
            .map(|m| match m {
                Message::SessionStarted { history, .. } => history.clone(),
                Message::ChatHistory { lines } => lines.clone(),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

        #[test]
        fn session_started_and_history_pages_fit_and_lose_nothing(
            name in text(NAME_CHARS),
            problem in proptest::option::of(text(PROBLEM_CHARS)),
            history in prop::collection::vec(line(), 0..=crate::pairing::MAX_HISTORY),
            consents in prop::collection::vec(consent(), 0..=KEEP_CONSENTS),
        ) {
            let msgs = session_started(u64::MAX, &name, problem.as_deref(), Role::WebCustomer, &history, &consents);
            msgs.iter().for_each(assert_fits);
            let first_is_started = matches!(msgs[0], Message::SessionStarted { .. });
            prop_assert!(first_is_started);
            prop_assert_eq!(joined(&history_of(&msgs)), history.clone());

            let pages = chat_history(&history);
            pages.iter().for_each(assert_fits);
            prop_assert_eq!(joined(&history_of(&pages)), history);
        }

        #[test]
        fn queue_fits(
            entries in prop::collection::vec(
                (text(NAME_CHARS), proptest::option::of(text(PROBLEM_CHARS)), role()),
                0..300,
            ),
            notices in prop::collection::vec((text(NAME_CHARS), text(NOTICE_CHARS)), 0..20),
        ) {
            let entries: Vec<QueueEntry> = entries
                .into_iter()
                .enumerate()
                .map(|(i, (name, problem, role))| QueueEntry {
                    session: u64::MAX - i as u64,
                    name,
                    problem,
                    waiting_secs: u64::MAX,
                    role,
                })
                .collect();
            let notices: Vec<NoticeInfo> = notices
                .into_iter()
                .map(|(id, text)| NoticeInfo { id, text })
                .collect();
            let first = entries.first().map(|e| e.session);
            let waiting = entries.len();
            let msg = queue(entries, &notices);
            assert_fits(&msg);
            // The longest waiting customer is always listed, and the
            // count says how many more wait.
            let Message::Queue { entries, not_listed, .. } = &msg else { unreachable!() };
            prop_assert_eq!(entries.first().map(|e| e.session), first);
            prop_assert_eq!(entries.len() + *not_listed as usize, waiting);
        }

        #[test]
        fn forwarded_texts_fit(
            text in text(CHAT_CHARS),
            from in text(NAME_CHARS),
            notice_text in text(NOTICE_CHARS),
            id in text(NAME_CHARS),
            file in text(FILE_NAME_CHARS),
        ) {
            for msg in [
                Message::Chat { text: text.clone(), from: None, at_ms: None },
                Message::Join { name: from.clone(), problem: Some(text.clone()) },
                Message::SendNotice { id: Some(id.clone()), text: Some(notice_text.clone()) },
                Message::FileOffer { id: u32::MAX, name: file.clone(), size: u64::MAX, sha256: "f".repeat(64) },
            ] {
                prop_assert!(check_arrival(&msg).is_ok());
            }
            assert_fits(&forwarded_chat(text, &from, i64::MIN));
            assert_fits(&notice(Some(id), &notice_text));
            assert_fits(&Message::FileOffer { id: u32::MAX, name: file, size: u64::MAX, sha256: "f".repeat(64) });
            // The largest avatar the relay takes, with the longest name.
            assert_fits(&Message::TechnicianJoined {
                name: from,
                avatar: Some("A".repeat(lotse_protocol::MAX_AVATAR_BYTES * 4 / 3 + 4)),
            });
        }
    }

    #[test]
    fn arrival_limits_name_the_field() {
        let long = "x".repeat(CHAT_CHARS + 1);
        let chat = Message::Chat {
            text: long.clone(),
            from: None,
            at_ms: None,
        };
        assert!(check_arrival(&chat).unwrap_err().contains("`text`"));
        let join = Message::Join {
            name: "x".repeat(NAME_CHARS + 1),
            problem: None,
        };
        assert!(check_arrival(&join).unwrap_err().contains("`name`"));
        let join = Message::Join {
            name: "Ada".into(),
            problem: Some(long),
        };
        assert!(check_arrival(&join).unwrap_err().contains("`problem`"));
    }

    #[test]
    fn queue_preview_ends_in_an_ellipsis() {
        let long = "y".repeat(PROBLEM_CHARS);
        let p = preview(&long);
        assert_eq!(p.chars().count(), QUEUE_PROBLEM_CHARS);
        assert!(p.ends_with('…'));
        assert_eq!(preview("short"), "short");
    }
}
