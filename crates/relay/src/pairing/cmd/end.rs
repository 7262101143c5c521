//! The end of a session: `end` from either side, `survey_answer`, a
//! customer's link lost (the session waits the grace period for a
//! resume) and the grace period running out.

use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use lotse_protocol::{EndReason, Envelope, ErrorCode, Message};

use crate::pairing::state::{Session, State};
use crate::pairing::{After, Handled, Hub, Link, err, label, lock};
use crate::store::{Job, now_ms};

impl Hub {
    pub(super) fn customer_end(
        &self,
        sid: u64,
        s: MutexGuard<'_, Session>,
        link: &Link,
        reason: EndReason,
    ) -> Handled {
        if !matches!(
            reason,
            EndReason::EndedByCustomer | EndReason::LeftOnNotice | EndReason::DeclinedAgreement
        ) {
            link.send_env(&err(
                ErrorCode::NotAllowed,
                "a customer ends with ended_by_customer, left_on_notice or declined_agreement",
            ));
            return Handled::Strike;
        }
        let who = s.who();
        drop(s);
        self.end_session(sid, reason, &who, false);
        Handled::Ok
    }

    pub(super) fn survey(
        &self,
        sid: u64,
        mut s: MutexGuard<'_, Session>,
        link: &Link,
        rating: u8,
        comment: String,
    ) -> Handled {
        if !(1..=5).contains(&rating) || s.surveyed {
            link.send_env(&err(
                ErrorCode::Malformed,
                "one survey answer per session, rating 1 to 5",
            ));
            return Handled::Strike;
        }
        s.surveyed = true;
        drop(s);
        let mut after = After::default();
        after.record(Job::Survey {
            session: sid,
            at_ms: now_ms(),
            rating,
            comment,
        });
        self.finish(after);
        Handled::Ok
    }

    /// End a session: tell the technician (and the customer if `tell_customer`
    /// or the technician ended it), record it, update the queue.
    pub fn end_session(&self, sid: u64, reason: EndReason, who: &str, tell_customer: bool) {
        let Some(sref) = self.session(sid) else {
            return;
        };
        let mut s = lock(&sref);
        if s.state == State::Ended {
            return;
        }
        let mut after = After::default();
        Self::flush_dropped_input(&mut s, sid, &mut after);
        let was_waiting = s.state.unserved();
        let tech = s.state.tech();
        self.set_state(&mut s, State::Ended);
        if s.recording.take().is_some() {
            self.recorder.stop(sid, &label(&reason), true);
        }
        if tell_customer && s.customer.is_some() {
            s.send_to_customer(Message::End { reason });
        }
        if s.customer.is_none() {
            lock(&self.sessions).remove(&sid);
        }
        if was_waiting {
            lock(&self.queue).order.retain(|w| w.sid != sid);
        }
        if let Some(tref) = tech.and_then(|t| self.tech(t)) {
            let mut t = lock(&tref);
            t.sessions.remove(&sid);
            t.send(Envelope::new(Message::End { reason }).with_session(sid));
        }
        drop(s);
        after.event(sid, who, "end", label(&reason));
        after.record(Job::Ended {
            id: sid,
            at_ms: now_ms(),
            reason: label(&reason),
        });
        after.queue_changed = was_waiting;
        self.finish(after);
        tracing::info!(session = sid, reason = %label(&reason), "session ended");
    }

    /// The customer's link closed. The session waits the grace period
    /// (`limits.grace_secs`) for a resume, then ends (`customer_gone`).
    pub fn customer_gone(self: &Arc<Self>, sid: u64, link_id: u64) {
        let Some(sref) = self.session(sid) else {
            return;
        };
        let mut s = lock(&sref);
        if s.customer.as_ref().map(|l| l.id) != Some(link_id) {
            return;
        }
        s.customer = None;
        if s.state == State::Ended {
            lock(&self.sessions).remove(&sid);
            return;
        }
        s.away_gen += 1;
        let generation = s.away_gen;
        let name = s.name.clone();
        let grace = self.config.limits.grace_secs;
        if let Some(tref) = s.state.tech().and_then(|t| self.tech(t)) {
            lock(&tref)
                .send(Envelope::new(Message::PeerAway { grace_secs: grace }).with_session(sid));
        }
        drop(s);
        self.event(sid, &name, "customer_away", format!("grace {grace} s"));
        tracing::info!(
            session = sid,
            "customer link lost; keeping the session for {grace} s"
        );
        let hub = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(u64::from(grace))).await;
            hub.grace_over(sid, generation);
        });
    }

    /// The grace period after a cut ran out.
    fn grace_over(&self, sid: u64, generation: u64) {
        let still_away = self.session(sid).is_some_and(|sref| {
            let s = lock(&sref);
            s.customer.is_none() && s.away_gen == generation
        });
        if still_away {
            self.end_session(sid, EndReason::CustomerGone, "relay", true);
        }
    }
}
