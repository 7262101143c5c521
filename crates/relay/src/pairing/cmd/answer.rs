//! The customer's answers and files while a technician serves the
//! session: `share_grant`/`share_decline`/`share_stop`/`share_pause`,
//! `control_grant`/`control_decline`/`control_revoke` (the relay's own
//! view of the grants follows them), `file_offer`, `file_cancel`.

use std::sync::MutexGuard;

use lotse_protocol::{Envelope, ErrorCode, Message};

use crate::compose;
use crate::pairing::state::Session;
use crate::pairing::{
    After, FORWARD_TOO_LARGE, Handled, Hub, Link, MAX_OUTBOX, consent_detail, err, lock, too_large,
};
use crate::store::{Job, now_ms};

impl Hub {
    pub(super) fn answer(
        &self,
        sid: u64,
        mut s: MutexGuard<'_, Session>,
        link: &Link,
        msg: Message,
    ) -> Handled {
        if s.state.tech().is_none() {
            link.send_env(&err(
                ErrorCode::BadState,
                "no technician serves this session yet",
            ));
            return Handled::Strike;
        }
        let now = now_ms();
        let who = s.who();
        let mut after = After::default();
        let kind = match &msg {
            Message::ShareGrant {
                scope,
                width,
                height,
            } => Some((
                "share_grant",
                format!(
                    "{} {width}x{height}",
                    serde_json::to_string(scope).unwrap_or_default()
                ),
            )),
            Message::ShareDecline => Some(("share_decline", String::new())),
            Message::ShareStop => Some(("share_stop", String::new())),
            Message::SharePause { paused } => Some((
                "share_pause",
                if *paused { "paused" } else { "resumed" }.to_owned(),
            )),
            Message::ControlGrant => Some(("control_grant", String::new())),
            Message::ControlDecline => Some(("control_decline", String::new())),
            Message::ControlRevoke => Some(("control_revoke", String::new())),
            Message::FileCancel { id, reason } => Some(("file_cancel", format!("#{id} {reason}"))),
            Message::FileOffer {
                id,
                name,
                size,
                sha256,
            } => {
                after.record(Job::File {
                    session: sid,
                    at_ms: now,
                    file_id: *id,
                    name: name.clone(),
                    size: *size,
                    sha256: sha256.clone(),
                    status: "offered".into(),
                });
                Some(("file_offer", format!("#{id} {name} {size} bytes")))
            }
            _ => None,
        };
        if let Some((kind, detail)) = kind {
            after.event(sid, &who, kind, detail);
        }
        for (topic, granted) in s.customer_grant(&msg, now) {
            after.event(sid, &who, "consent", consent_detail(topic, granted));
        }
        match &msg {
            Message::FileCancel { id, .. } => after.file_status(sid, *id, "cancelled"),
            Message::ControlGrant | Message::SharePause { paused: false } => {
                Self::flush_dropped_input(&mut s, sid, &mut after)
            }
            _ => {}
        }
        let handled = self.to_serving_tech(sid, &s, msg);
        drop(s);
        self.finish(after);
        handled
    }

    /// Forward a customer's message to the technician serving the session
    /// (none: dropped, as before a technician joins). Called with the
    /// session's lock held: session, then technician (the lock order).
    pub(super) fn to_serving_tech(&self, sid: u64, s: &Session, msg: Message) -> Handled {
        let Some(tech) = s.state.tech() else {
            return Handled::Ok;
        };
        if !compose::fits(&msg) {
            if let Some(link) = &s.customer {
                link.send_env(&too_large(FORWARD_TOO_LARGE.into(), None));
            }
            return Handled::Strike;
        }
        if let Some(tref) = self.tech(tech) {
            let mut t = lock(&tref);
            t.send(Envelope::new(msg).with_session(sid));
            if t.t_out.pending_len() > MAX_OUTBOX {
                t.link.kill.notify_one();
            }
        }
        Handled::Ok
    }
}
