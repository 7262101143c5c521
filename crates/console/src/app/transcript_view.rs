//! The session's transcript in the window: every chat line and every
//! session event (joined, share and control, nudge, notices, files, the
//! customer's connection, the end) with its local time (HH:MM), one
//! selectable line each, so text can be selected and copied out; and the
//! same lines as plain text for *Copy transcript*.

use egui::text::LayoutJob;
use egui::{Color32, RichText};
use lotse_protocol::Role;

use crate::i18n::Strings;
use crate::transcript::{By, Entry, Note};

/// `HH:MM` in the technician's local time.
pub(super) fn local_time(at_ms: i64) -> String {
    use chrono::TimeZone as _;
    chrono::Local
        .timestamp_millis_opt(at_ms)
        .single()
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_default()
}

/// A session's end reason (`Event::Ended`) in words.
pub(super) fn end_reason(t: &Strings, reason: &str) -> String {
    let key = match reason {
        "ended_by_customer" => "reason-ended-by-customer",
        "left_on_notice" => "reason-left-on-notice",
        "declined_agreement" => "reason-declined-agreement",
        "ended_by_technician" => "reason-ended-by-technician",
        "customer_gone" => "reason-customer-gone",
        "elevated" => "reason-elevated",
        "relay_shutdown" => "reason-relay-shutdown",
        "handed_back" => "reason-handed-back",
        "returned_to_queue" => "reason-returned-to-queue",
        "connection_lost" => "reason-connection-lost",
        other => return other.to_owned(),
    };
    t.get(key)
}

/// What a note says, in the technician's language.
pub(super) fn note_text(t: &Strings, customer: &str, note: &Note) -> String {
    let name = ("name", customer);
    match note {
        Note::Joined => t.fmt("note-joined", &[name]),
        Note::Resumed => t.get("note-resumed"),
        Note::Consent { topic, granted } => {
            let topic = super::topic_label(t, &crate::core::topic_name(*topic));
            let state = if *granted {
                t.get("state-granted")
            } else {
                t.get("state-refused")
            };
            t.fmt(
                "note-consent",
                &[name, ("topic", &topic), ("state", &state)],
            )
        }
        Note::ShareAsked => t.get("note-share-asked"),
        Note::ShareAllowed { width, height } => t.fmt(
            "note-share-allowed",
            &[name, ("size", &format!("{width}×{height}"))],
        ),
        Note::ShareDeclined => t.fmt("note-share-declined", &[name]),
        Note::ShareStopped { by: By::Customer } => t.fmt("note-share-stopped-customer", &[name]),
        Note::ShareStopped { by: By::Technician } => t.get("note-share-stopped-me"),
        Note::SharePaused { paused: true } => t.fmt("note-share-paused", &[name]),
        Note::SharePaused { paused: false } => t.fmt("note-share-resumed", &[name]),
        Note::ControlAsked => t.get("note-control-asked"),
        Note::ControlAllowed => t.fmt("note-control-allowed", &[name]),
        Note::ControlDeclined => t.fmt("note-control-declined", &[name]),
        Note::ControlStopped { by: By::Customer } => {
            t.fmt("note-control-stopped-customer", &[name])
        }
        Note::ControlStopped { by: By::Technician } => t.get("note-control-stopped-me"),
        Note::Nudged => t.fmt("note-nudged", &[name]),
        Note::NoticeSent { text } => t.fmt("note-notice", &[("text", text)]),
        Note::FileOffered { name: file, size } => t.fmt(
            "note-file-offered",
            &[name, ("file", file), ("size", &super::format_size(*size))],
        ),
        Note::FileAccepted { name: file } => t.fmt("note-file-accepted", &[("file", file)]),
        Note::FileDeclined { name: file } => t.fmt("note-file-declined", &[("file", file)]),
        Note::FileReceived {
            name: file,
            ok: true,
        } => t.fmt("note-file-received", &[("file", file)]),
        Note::FileReceived {
            name: file,
            ok: false,
        } => t.fmt("note-file-corrupt", &[("file", file)]),
        Note::FileCancelled { name: file, reason } => t.fmt(
            "note-file-cancelled",
            &[("file", file.as_str()), ("reason", reason.as_str())],
        ),
        Note::PeerAway { grace_secs } => {
            t.fmt("note-peer-away", &[name, ("secs", &grace_secs.to_string())])
        }
        Note::PeerBack => t.fmt("note-peer-back", &[name]),
        Note::ElevateAsked => t.fmt("note-elevate-asked", &[name]),
        Note::Elevated => t.fmt("note-elevated", &[name]),
        Note::Ended { reason } => t.fmt("note-ended", &[("reason", &end_reason(t, reason))]),
    }
}

/// One transcript line as plain text: `09:05 Anna: Hello` or
/// `09:06 · You asked to see the screen.`
pub(super) fn plain(t: &Strings, customer: &str, entry: &Entry) -> String {
    let time = local_time(entry.at_ms());
    match entry {
        Entry::Chat(c) => format!("{time} {}: {}", c.from, c.text),
        Entry::Note(n) => format!("{time} · {}", note_text(t, customer, &n.note)),
    }
}

/// The whole transcript as plain text, one line each.
pub(super) fn plain_all(t: &Strings, customer: &str, entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| plain(t, customer, e))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Draw the lines (inside a scroll area the caller owns). Each line is one
/// selectable label: its accessible name is the line as copied.
pub(super) fn show(ui: &mut egui::Ui, t: &Strings, customer: &str, entries: &[Entry]) {
    let style = ui.style().clone();
    let weak = ui.visuals().weak_text_color();
    for entry in entries {
        let mut job = LayoutJob::default();
        let mut add = |text: RichText| {
            text.append_to(
                &mut job,
                &style,
                egui::FontSelection::Default,
                egui::Align::Center,
            );
        };
        add(RichText::new(format!("{} ", local_time(entry.at_ms()))).color(weak));
        match entry {
            Entry::Chat(c) => {
                let who = RichText::new(format!("{}: ", c.from)).strong();
                add(if c.role == Role::Technician {
                    who.color(Color32::from_rgb(40, 110, 200))
                } else {
                    who
                });
                add(RichText::new(&c.text));
            }
            Entry::Note(n) => {
                add(
                    RichText::new(format!("· {}", note_text(t, customer, &n.note)))
                        .italics()
                        .color(weak),
                );
            }
        }
        ui.add(egui::Label::new(job).wrap().selectable(true));
    }
}
