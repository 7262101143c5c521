//! What a technician sends about a session it serves, besides chat:
//! requests (`share_request`, `control_request`, `elevate_request`,
//! `nudge`), stops, `input` (only while the customer grants control;
//! forwarded as it came, `wire`), the file answers, notices, `end` and
//! `hand_back`.

use lotse_protocol::{EndReason, Envelope, ErrorCode, Lang, Message};
use serde_json::value::RawValue;

use crate::compose;
use crate::pairing::outbox::splice;
use crate::pairing::state::{Gate, State};
use crate::pairing::{
    After, FORWARD_TOO_LARGE, Handled, Hub, MAX_OUTBOX, err, lock, too_large, wire,
};
use crate::store::now_ms;

impl Hub {
    /// Number `env` for technician `link_id` and send it.
    pub(in crate::pairing) fn to_tech(&self, link_id: u64, env: Envelope) {
        if let Some(tref) = self.tech(link_id) {
            lock(&tref).send(env);
        }
    }

    pub(super) fn forward_from_tech(
        &self,
        link_id: u64,
        sid: u64,
        who: &str,
        msg: Message,
    ) -> Handled {
        let now = now_ms();
        let mut after = After::default();
        let kind: Option<(&str, String)> = match &msg {
            Message::ShareRequest => Some(("share_request", String::new())),
            Message::ShareStop => Some(("share_stop", String::new())),
            Message::ControlRequest => Some(("control_request", String::new())),
            Message::ControlRevoke => Some(("control_revoke", String::new())),
            Message::Nudge => Some(("nudge", String::new())),
            Message::ElevateRequest => Some(("elevate_request", String::new())),
            Message::FileAccept { id } => Some(("file_accept", format!("#{id}"))),
            Message::FileDecline { id } => Some(("file_decline", format!("#{id}"))),
            Message::FileCancel { id, reason } => Some(("file_cancel", format!("#{id} {reason}"))),
            Message::FileDone { id, ok, sha256 } => Some((
                "file_done",
                format!(
                    "#{id} {} sha256 {sha256}",
                    if *ok { "intact" } else { "damaged" }
                ),
            )),
            Message::SendNotice { id, text } => Some((
                "notice",
                id.clone().or_else(|| text.clone()).unwrap_or_default(),
            )),
            _ => None,
        };
        if let Some((kind, detail)) = kind {
            after.event(sid, who, kind, detail);
        }
        match &msg {
            Message::FileAccept { id } => after.file_status(sid, *id, "accepted"),
            Message::FileDecline { id } => after.file_status(sid, *id, "declined"),
            Message::FileCancel { id, .. } => after.file_status(sid, *id, "cancelled"),
            Message::FileDone { id, ok, .. } => {
                after.file_status(sid, *id, if *ok { "done" } else { "damaged" });
            }
            _ => {}
        }
        match msg {
            Message::End { .. } => {
                self.finish(after);
                self.end_session(sid, EndReason::EndedByTechnician, who, true);
                return Handled::Ok;
            }
            Message::HandBack => {
                self.finish(after);
                return self.hand_back(link_id, sid, who);
            }
            _ => {}
        }
        let Some(sref) = self.session(sid) else {
            self.finish(after);
            return Handled::Ok;
        };
        let mut s = lock(&sref);
        if s.state != (State::Served { tech: link_id }) {
            // Handed back or ended while this message was on its way.
            drop(s);
            self.finish(after);
            return Handled::Ok;
        }
        let handled = match s.tech_gate(&msg, now) {
            Gate::DropInput => Handled::Ok,
            Gate::DeclineControl => {
                // What the client answers too: control needs a share.
                drop(s);
                after.event(
                    sid,
                    who,
                    "control_request_refused",
                    "nothing is shared".into(),
                );
                self.to_tech(
                    link_id,
                    Envelope::new(Message::ControlDecline).with_session(sid),
                );
                self.finish(after);
                return Handled::Ok;
            }
            Gate::Forward => {
                let out = match msg {
                    Message::SendNotice { id, text } => {
                        match notice_text(self, s.lang, id.as_deref(), text) {
                            Some(text) => compose::notice(id, &text),
                            None => {
                                drop(s);
                                self.finish(after);
                                self.to_tech(link_id, err(ErrorCode::NotFound, "no such notice"));
                                return Handled::Strike;
                            }
                        }
                    }
                    other => other,
                };
                if compose::fits(&out) {
                    let text = s.c_out.stamp(Envelope::new(out));
                    if let Some(link) = &s.customer {
                        link.send(text);
                        if s.c_out.pending_len() > MAX_OUTBOX {
                            link.kill.notify_one();
                        }
                    }
                    Handled::Ok
                } else {
                    Handled::Strike
                }
            }
        };
        drop(s);
        self.finish(after);
        if handled == Handled::Strike {
            self.to_tech(link_id, too_large(FORWARD_TOO_LARGE.into(), None));
        }
        handled
    }

    /// `input` from the technician: forwarded as it came while the
    /// customer grants control, otherwise dropped and counted.
    pub(super) fn tech_input(&self, link_id: u64, sid: u64, event: &RawValue) -> Handled {
        let body = wire::input_body(event);
        let Some(sref) = self.session(sid) else {
            return Handled::Ok;
        };
        let mut s = lock(&sref);
        if s.state != (State::Served { tech: link_id }) || s.gate_input() == Gate::DropInput {
            return Handled::Ok;
        }
        if !compose::body_fits(&body) {
            drop(s);
            self.to_tech(link_id, too_large(FORWARD_TOO_LARGE.into(), None));
            return Handled::Strike;
        }
        let text = s.c_out.push(|seq| splice(seq, None, &body));
        if let Some(link) = &s.customer {
            link.send(text);
            if s.c_out.pending_len() > MAX_OUTBOX {
                link.kill.notify_one();
            }
        }
        Handled::Ok
    }
}

/// A notice's text: the site's notice `id`, or the technician's own text.
fn notice_text(hub: &Hub, lang: Lang, id: Option<&str>, text: Option<String>) -> Option<String> {
    match (id, text) {
        (Some(id), _) => hub
            .config
            .notices
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.text.get(lang).to_owned()),
        (None, Some(text)) if !text.trim().is_empty() => Some(text),
        _ => None,
    }
}
