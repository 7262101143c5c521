//! The session record's side of the hub: jobs for the SQLite writer
//! thread, handed over without ever waiting.
//!
//! The writer (`Store::spawn_writer`) drains a bounded channel and
//! commits whatever is waiting in one transaction, so it keeps up with far
//! more than the links produce. Should it fall behind anyway (a disk
//! stalled for seconds), a link must not wait for it: the job that does
//! not fit is dropped, **counted per session and logged as an error**, and
//! as soon as the channel has room again each affected session gets an
//! `records_lost` event with the count, so the gap shows in
//! `sessions show` instead of passing silently.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Mutex, PoisonError};

use crate::store::{Job, now_ms};

#[derive(Debug)]
pub struct Records {
    tx: SyncSender<Job>,
    /// Jobs dropped since the relay started.
    dropped: AtomicU64,
    /// Dropped jobs per session not yet noted in the record.
    unnoted: Mutex<BTreeMap<u64, u64>>,
    /// Whether `unnoted` has entries: the hot path looks at this flag
    /// only, never at the mutex.
    any_unnoted: AtomicBool,
    /// When the last "dropped" line was logged (Unix ms).
    last_logged_ms: AtomicI64,
}

impl Records {
    pub fn new(tx: SyncSender<Job>) -> Self {
        Self {
            tx,
            dropped: AtomicU64::new(0),
            unnoted: Mutex::new(BTreeMap::new()),
            any_unnoted: AtomicBool::new(false),
            last_logged_ms: AtomicI64::new(0),
        }
    }

    /// Jobs dropped so far because the writer was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Hand `job` to the writer without waiting.
    pub fn send(&self, job: Job) {
        match self.tx.try_send(job) {
            Ok(()) => {
                if self.any_unnoted.load(Ordering::Acquire) {
                    self.note_losses();
                }
            }
            Err(TrySendError::Full(job)) => {
                let session = session_of(&job);
                let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                // One line per second at most: a writer that is behind
                // drops thousands of entries a second.
                let now = now_ms();
                let last = self.last_logged_ms.load(Ordering::Relaxed);
                if now - last >= 1000
                    && self
                        .last_logged_ms
                        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    tracing::error!(
                        session,
                        total,
                        "the session record writer is behind; record entries are being dropped (each affected session's record notes how many)"
                    );
                }
                *self
                    .unnoted
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(session)
                    .or_default() += 1;
                self.any_unnoted.store(true, Ordering::Release);
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::error!("the session record writer stopped");
            }
        }
    }

    /// Once the writer has room again: one event per session that lost
    /// entries.
    fn note_losses(&self) {
        let mut unnoted = self.unnoted.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some((&session, &n)) = unnoted.first_key_value() {
            let job = Job::Event {
                session,
                at_ms: now_ms(),
                who: "relay".into(),
                kind: "records_lost".into(),
                detail: format!("{n} record entries dropped: the record writer was behind"),
            };
            if self.tx.try_send(job).is_err() {
                return;
            }
            unnoted.remove(&session);
        }
        self.any_unnoted.store(false, Ordering::Release);
    }
}

fn session_of(job: &Job) -> u64 {
    match job {
        Job::SessionCreated { id, .. }
        | Job::Joined { id, .. }
        | Job::Accepted { id, .. }
        | Job::Ended { id, .. } => *id,
        Job::Event { session, .. }
        | Job::Chat { session, .. }
        | Job::File { session, .. }
        | Job::FileStatus { session, .. }
        | Job::Survey { session, .. } => *session,
        Job::Barrier(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    fn chat(session: u64) -> Job {
        Job::Chat {
            session,
            at_ms: 1,
            from: "x".into(),
            role: "customer",
            text: "hi".into(),
        }
    }

    #[test]
    fn a_full_writer_loses_entries_counted_and_noted_never_waited_for() {
        let (tx, rx) = sync_channel(2);
        let records = Records::new(tx);
        for _ in 0..5 {
            // Never blocks, though nobody reads.
            records.send(chat(7));
        }
        assert_eq!(records.dropped(), 3);
        assert_eq!(rx.try_iter().count(), 2);
        records.send(chat(7));
        let jobs: Vec<Job> = rx.try_iter().collect();
        assert_eq!(jobs.len(), 2, "the entry, then the note");
        assert!(matches!(
            &jobs[1],
            Job::Event { session: 7, kind, detail, .. }
                if kind == "records_lost" && detail.starts_with("3 record entries")
        ));
    }
}
