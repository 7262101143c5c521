//! What the relay tells the waiting room on its own: queue updates when
//! the queue changes, hold messages every hold interval, and the goodbye
//! at shutdown.
//!
//! A queue update is computed from a snapshot of the queue taken under
//! its lock and sent after it is released: the technicians' `queue` is
//! encoded once for all of them; a waiting customer gets `queue_status`
//! only when its position, estimate or the number of technicians changed
//! (the protocol's "on every change"; `queue` itself has no delta form, so
//! technicians get it whole). Updates asked for while one is being sent
//! are merged into one more pass: a burst of joins costs a few passes,
//! not one per join. A technician is not sent a `queue` equal to the
//! last one it got.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lotse_protocol::{EndReason, Envelope, Message, QueueEntry, encode_text};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::state::State;
use super::{Hub, lock};
use crate::compose;
use crate::queue::fill;

/// Marks a pass of queue updates as running; clears the mark when dropped.
struct Updating<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for Updating<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Hub {
    /// The queue changed: send the updates (or leave them to the pass
    /// already running, which will make one more).
    pub fn queue_changed(&self) {
        self.queue_dirty.store(true, Ordering::Release);
        loop {
            if self.queue_updating.swap(true, Ordering::AcqRel) {
                // Whoever is updating sees the flag and makes another pass.
                return;
            }
            {
                // Cleared however the passes end, so updates never stop.
                let _updating = Updating(&self.queue_updating);
                while self.queue_dirty.swap(false, Ordering::AcqRel) {
                    self.push_updates();
                }
            }
            // A change that came after the last pass but before the flag
            // dropped would otherwise wait for the next change.
            if !self.queue_dirty.load(Ordering::Acquire) {
                return;
            }
        }
    }

    /// Queue status to every waiting customer whose status changed, the
    /// queue to every technician.
    fn push_updates(&self) {
        let techs = self.techs_online();
        let techs_n = u32::try_from(techs).unwrap_or(u32::MAX);
        let now = Instant::now();
        let (statuses, entries) = {
            let queue = lock(&self.queue);
            let mut statuses = Vec::with_capacity(queue.order.len());
            let mut entries = Vec::with_capacity(queue.order.len());
            for (i, w) in queue.order.iter().enumerate() {
                let position = u32::try_from(i + 1).unwrap_or(u32::MAX);
                statuses.push((w.sid, position, queue.waits.estimate(position, techs_n)));
                entries.push(QueueEntry {
                    session: w.sid,
                    name: w.name.clone(),
                    problem: w.problem.clone(),
                    waiting_secs: now.duration_since(w.since).as_secs(),
                    role: w.role,
                });
            }
            (statuses, entries)
        };
        for (sid, position, estimate) in statuses {
            let Some(sref) = self.session(sid) else {
                continue;
            };
            let mut s = lock(&sref);
            let status = (position, estimate, techs_n);
            // Checked under the session's lock: a customer just served
            // gets no stale position after `technician_joined`.
            if !matches!(s.state, State::Waiting { .. }) || s.last_status == Some(status) {
                continue;
            }
            if let Some(link) = &s.customer {
                link.send_env(&Envelope::new(Message::QueueStatus {
                    position,
                    estimated_wait_secs: estimate,
                    technicians_online: techs_n,
                }));
                s.last_status = Some(status);
            }
        }
        let queue: Arc<str> = encode_text(&Envelope::new(compose::queue(
            entries,
            &self.config.notice_list(),
        )))
        .into();
        let techs: Vec<_> = lock(&self.techs).values().cloned().collect();
        for tref in techs {
            let mut t = lock(&tref);
            // A technician who has this very queue already gets nothing:
            // while customers are taken as they come, most changes
            // leave the list as it was (empty).
            if t.last_queue.as_deref() != Some(&*queue) {
                t.link.send(queue.to_string());
                t.last_queue = Some(queue.clone());
            }
        }
    }

    /// Every hold interval: position update and hold text to each waiting customer.
    pub fn hold_tick(&self) {
        let techs = u32::try_from(self.techs_online()).unwrap_or(u32::MAX);
        let statuses: Vec<(u64, u32, u64)> = {
            let queue = lock(&self.queue);
            queue
                .order
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let position = u32::try_from(i + 1).unwrap_or(u32::MAX);
                    (w.sid, position, queue.waits.estimate(position, techs))
                })
                .collect()
        };
        for (sid, position, estimate) in statuses {
            let Some(sref) = self.session(sid) else {
                continue;
            };
            let mut s = lock(&sref);
            if !matches!(s.state, State::Waiting { .. }) {
                continue;
            }
            let Some(link) = s.customer.clone() else {
                continue;
            };
            link.send_env(&Envelope::new(Message::QueueStatus {
                position,
                estimated_wait_secs: estimate,
                technicians_online: techs,
            }));
            s.last_status = Some((position, estimate, techs));
            let hold = &self.config.texts(s.lang).hold;
            if !hold.trim().is_empty() {
                link.send_env(&Envelope::new(Message::Hold {
                    text: fill(hold, position, estimate),
                }));
            }
        }
    }

    /// Call [`Hub::hold_tick`] every `hold_interval_secs`, the first time
    /// one interval from now.
    pub fn spawn_hold_ticker(self: &Arc<Self>) -> JoinHandle<()> {
        let hub = self.clone();
        let every = Duration::from_secs(u64::from(self.config.hold_interval_secs));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(Instant::now() + every, every);
            loop {
                tick.tick().await;
                hub.hold_tick();
            }
        })
    }

    /// Relay shutting down: tell everyone.
    pub fn shutdown(&self) {
        let sessions: Vec<_> = lock(&self.sessions)
            .iter()
            .map(|(sid, s)| (*sid, s.clone()))
            .collect();
        for (sid, sref) in sessions {
            let mut s = lock(&sref);
            if s.recording.take().is_some() {
                self.recorder.stop(sid, "relay_shutdown", true);
            }
            if let Some(link) = &s.customer {
                link.send_env(&Envelope::new(Message::End {
                    reason: EndReason::RelayShutdown,
                }));
            }
        }
        let techs: Vec<_> = lock(&self.techs).values().cloned().collect();
        for tref in techs {
            lock(&tref).link.kill.notify_one();
        }
    }
}
