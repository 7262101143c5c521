//! `chat` both ways: kept in the session's history (for a technician who
//! takes the session later), written to the transcript and the recording
//! after the locks, and forwarded as one encoding of `text` with the
//! `from` and `at_ms` the relay adds (`wire::chat_body`), numbered by
//! splicing `seq` and `session` in front.

use std::sync::MutexGuard;

use lotse_protocol::{ChatLine, ErrorCode, Role};

use crate::compose;
use crate::pairing::outbox::splice;
use crate::pairing::state::{Session, State};
use crate::pairing::{
    After, FORWARD_TOO_LARGE, Handled, Hub, Link, MAX_HISTORY, MAX_OUTBOX, err, lock, too_large,
    wire,
};
use crate::store::{Job, now_ms};

impl Hub {
    pub(super) fn customer_chat(
        &self,
        sid: u64,
        mut s: MutexGuard<'_, Session>,
        link: &Link,
        seq: Option<u64>,
        text: String,
    ) -> Handled {
        if let Err(why) = compose::check_chat(&text) {
            link.send_env(&too_large(why, seq));
            return Handled::Strike;
        }
        if text.trim().is_empty() {
            return Handled::Ok;
        }
        let tech = s.state.tech();
        if tech.is_none()
            && let Err(why) = self.take_waiting_line(&mut s)
        {
            link.send_env(&err(ErrorCode::TooMany, &why));
            return Handled::Ok;
        }
        let who = s.who();
        let now = now_ms();
        let role = s.role_label();
        if s.history.len() < MAX_HISTORY {
            let line = ChatLine {
                from: who.clone(),
                role: s.role,
                text: text.clone(),
                at_ms: now,
            };
            s.history.push(line);
        }
        let recording = s.recording.is_some();
        let mut handled = Handled::Ok;
        if let Some(tech) = tech {
            let body = wire::chat_body(&text, &who, now);
            if !compose::body_fits(&body) {
                link.send_env(&too_large(FORWARD_TOO_LARGE.into(), None));
                handled = Handled::Strike;
            } else if let Some(tref) = self.tech(tech) {
                // Session, then technician: the lock order (super::super).
                let mut t = lock(&tref);
                t.send_numbered(|seq| splice(seq, Some(sid), &body));
                if t.t_out.pending_len() > MAX_OUTBOX {
                    t.link.kill.notify_one();
                }
            }
        }
        drop(s);
        if recording {
            self.recorder.chat(sid, &who, role, &text, now);
        }
        let mut after = After::default();
        after.record(Job::Chat {
            session: sid,
            at_ms: now,
            from: who,
            role,
            text,
        });
        self.finish(after);
        handled
    }

    pub(super) fn tech_chat(
        &self,
        link_id: u64,
        sid: u64,
        display_name: &str,
        text: &str,
    ) -> Handled {
        if text.trim().is_empty() {
            return Handled::Ok;
        }
        let now = now_ms();
        // Encoded before any lock is taken.
        let body = wire::chat_body(text, display_name, now);
        let Some(sref) = self.session(sid) else {
            return Handled::Ok;
        };
        let mut s = lock(&sref);
        if s.state != (State::Served { tech: link_id }) {
            // Handed back or ended while this line was on its way.
            return Handled::Ok;
        }
        if s.history.len() < MAX_HISTORY {
            s.history.push(ChatLine {
                from: display_name.to_owned(),
                role: Role::Technician,
                text: text.to_owned(),
                at_ms: now,
            });
        }
        let recording = s.recording.is_some();
        let fits = compose::body_fits(&body);
        if fits {
            let text = s.c_out.push(|seq| splice(seq, None, &body));
            if let Some(link) = &s.customer {
                link.send(text);
                if s.c_out.pending_len() > MAX_OUTBOX {
                    link.kill.notify_one();
                }
            }
        }
        drop(s);
        if recording {
            self.recorder
                .chat(sid, display_name, "technician", text, now);
        }
        let mut after = After::default();
        after.record(Job::Chat {
            session: sid,
            at_ms: now,
            from: display_name.to_owned(),
            role: "technician",
            text: text.to_owned(),
        });
        self.finish(after);
        if fits {
            Handled::Ok
        } else {
            self.to_tech(link_id, too_large(FORWARD_TOO_LARGE.into(), None));
            Handled::Strike
        }
    }
}
