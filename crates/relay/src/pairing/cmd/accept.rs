//! A technician takes a waiting customer (`accept`), gives one back
//! (`hand_back`), or goes offline (its customers go back to the head of
//! the queue).

use lotse_protocol::{ErrorCode, Message};
use tokio::time::Instant;

use crate::compose;
use crate::pairing::state::{Session, State, Tech, Waiting};
use crate::pairing::{After, Handled, Hub, err, lock};
use crate::store::{Job, now_ms};

/// `session_started` (and the older history in `chat_history` pages) to
/// the technician who serves `s` now.
pub(super) fn send_session_started(t: &mut Tech, sid: u64, s: &Session) {
    let msgs = compose::session_started(
        sid,
        &s.name,
        s.problem.as_deref(),
        s.role,
        &s.history,
        &s.consents,
    );
    for msg in msgs {
        t.send(lotse_protocol::Envelope::new(msg).with_session(sid));
    }
}

impl Hub {
    pub(super) fn accept(&self, link_id: u64, sid: u64) -> Handled {
        let Some(tref) = self.tech(link_id) else {
            return Handled::Close;
        };
        let sref = self.session(sid);
        let mut guard = sref.as_ref().map(|s| lock(s));
        let since = guard.as_ref().and_then(|s| match s.state {
            State::Waiting { since } => Some(since),
            _ => None,
        });
        let (Some(s), Some(since)) = (guard.as_mut(), since) else {
            drop(guard);
            self.to_tech(
                link_id,
                err(ErrorCode::NotFound, "this customer is no longer waiting"),
            );
            return Handled::Ok;
        };
        // Session, then technician: the lock order.
        let mut t = lock(&tref);
        if t.gone {
            return Handled::Close;
        }
        let wait_secs = Instant::now().duration_since(since).as_secs();
        self.set_state(s, State::Served { tech: link_id });
        t.sessions.insert(sid);
        send_session_started(&mut t, sid, s);
        let joined = Message::TechnicianJoined {
            name: t.display_name.clone(),
            avatar: t.avatar.clone(),
        };
        let user = t.user.clone();
        drop(t);
        s.send_to_customer(joined);
        {
            let mut queue = lock(&self.queue);
            queue.order.retain(|w| w.sid != sid);
            queue.waits.record(wait_secs);
        }
        drop(guard);
        let mut after = After::default();
        after.record(Job::Accepted {
            id: sid,
            at_ms: now_ms(),
            wait_secs,
            technician: user.clone(),
        });
        after.event(sid, &user, "accept", format!("after {wait_secs} s"));
        after.queue_changed = true;
        self.finish(after);
        Handled::Ok
    }

    pub(super) fn hand_back(&self, link_id: u64, sid: u64, who: &str) -> Handled {
        if let Some(tref) = self.tech(link_id) {
            lock(&tref).sessions.remove(&sid);
        }
        self.requeue(sid, link_id);
        let mut after = After::default();
        after.event(sid, who, "hand_back", String::new());
        after.queue_changed = true;
        self.finish(after);
        Handled::Ok
    }

    /// Put a session `tech` served back at the head of the queue and tell
    /// the customer.
    fn requeue(&self, sid: u64, tech: u64) {
        let Some(sref) = self.session(sid) else {
            return;
        };
        let mut s = lock(&sref);
        if s.state != (State::Served { tech }) {
            return;
        }
        // The client stops sharing and control; the next technician asks again.
        s.end_grants(true, now_ms());
        let since = Instant::now();
        self.set_state(&mut s, State::Waiting { since });
        s.last_status = None;
        s.send_to_customer(Message::ReturnedToQueue);
        lock(&self.queue).order.insert(
            0,
            Waiting {
                sid,
                since,
                name: s.name.clone(),
                problem: s.problem.clone(),
                role: s.role,
            },
        );
    }

    /// A technician link closed: its customers go back to the queue.
    pub fn tech_gone(&self, link_id: u64) {
        let Some(tref) = lock(&self.techs).remove(&link_id) else {
            return;
        };
        let (user, mut sessions) = {
            let mut t = lock(&tref);
            t.gone = true;
            let sessions: Vec<u64> = t.sessions.drain().collect();
            (t.user.clone(), sessions)
        };
        sessions.sort_unstable();
        for sid in sessions.iter().rev() {
            self.requeue(*sid, link_id);
        }
        if self.techs_online() == 0 {
            let waiting: Vec<u64> = lock(&self.queue).order.iter().map(|w| w.sid).collect();
            for sid in waiting {
                let Some(sref) = self.session(sid) else {
                    continue;
                };
                let mut s = lock(&sref);
                if matches!(s.state, State::Waiting { .. }) {
                    let lang = s.lang;
                    s.send_to_customer(Message::NoTechnician {
                        text: self.config.texts(lang).no_technician.clone(),
                        url: self.config.no_technician_url(),
                    });
                }
            }
        }
        let mut after = After::default();
        for sid in sessions {
            after.event(sid, &user, "technician_gone", "back to the queue".into());
        }
        after.queue_changed = true;
        self.finish(after);
        tracing::info!(user, "technician offline");
    }
}
