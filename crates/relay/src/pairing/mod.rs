//! The hub: every customer session, the waiting queue and the technicians
//! online.
//!
//! **Locks.** Each session and each technician link has its own mutex;
//! the hub's maps (`sessions`, `techs`) only find them, and `queue` holds
//! the order of the waiting room and the wait history. Sessions therefore
//! do not contend with each other: a chat line takes its own session's
//! lock and then, for the forward, the lock of the one technician serving
//! it. The order is fixed — a session's lock may be held while taking a
//! technician's, the queue's, the waiting room's or a map's; a
//! technician's lock never while taking a session's; the queue, rooms and
//! maps are leaves (nothing is locked while they are held) — so there is
//! no deadlock. No IO and no `.await` under any of them.
//!
//! **Decide under the lock, act after.** One handler per message kind
//! (`cmd/`, as mini-redis's `src/cmd/`) decides under the locks it needs
//! and returns; records (SQLite, through [`records::Records`], never
//! waited on), log lines and queue updates happen after the locks are
//! released. Sending a numbered frame is a non-blocking `try_send` of an
//! already encoded text and stays under the lock of the outbox that
//! numbered it, so frames leave in `seq` order; a link whose control
//! channel is full is too slow and is told to close (its session keeps the
//! outbox for a resume). Binary frames are returned to the caller, which
//! awaits channel space outside every lock: back-pressure instead of
//! unbounded queues, and nothing dropped.
//!
//! Reliability is hop by hop: each customer session has an `Inbox` and an
//! outbox that survive reconnects; each technician link has its own.
//! Chat lines and input events are read and forwarded without decoding
//! and re-encoding them whole (`wire`).

mod binary;
mod cmd;
mod link;
mod outbox;
mod records;
mod state;
mod updates;
pub mod wire;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lotse_protocol::{ConsentTopic, Envelope, ErrorCode, Message};
use tokio::sync::{Notify, mpsc};

pub use link::{Handled, Link, Out};
pub use records::Records;
pub use wire::Incoming;

use crate::config::Config;
use crate::queue::WaitHistory;
use crate::recording::Recorder;
use crate::store::{Job, now_ms};
use state::{Session, State, Tech, Waiting};

pub(crate) const MAX_HISTORY: usize = 1000;
/// Waiting-room chat lines kept at once for all unserved sessions from one
/// address (each session has `limits::WAITING_CHAT_LINES`).
const WAITING_LINES_PER_ADDRESS: usize = 200;
/// Unserved sessions (joining or waiting) from one address at once.
const WAITING_SESSIONS_PER_ADDRESS: usize = 10;
const MAX_OUTBOX: usize = 10_000;
/// Why a message is not forwarded: with the fields the relay adds it would
/// be over the receiver's limit.
const FORWARD_TOO_LARGE: &str =
    "too large to forward: with `session` and `seq` it would exceed 64 KiB";

type SessionRef = Arc<Mutex<Session>>;
type TechRef = Arc<Mutex<Tech>>;

/// The waiting room's order and the waits that estimate it.
#[derive(Debug)]
struct Queue {
    order: Vec<Waiting>,
    waits: WaitHistory,
}

/// Unserved sessions from one address and their waiting-room chat lines
/// (the per-address caps), kept as sessions enter and leave the room.
#[derive(Debug, Default)]
struct Room {
    sessions: usize,
    lines: usize,
}

/// Shared relay state.
#[derive(Debug)]
pub struct Hub {
    config: Arc<Config>,
    records: Records,
    recorder: Recorder,
    next_session: AtomicU64,
    next_link: AtomicU64,
    sessions: Mutex<HashMap<u64, SessionRef>>,
    techs: Mutex<HashMap<u64, TechRef>>,
    queue: Mutex<Queue>,
    rooms: Mutex<HashMap<IpAddr, Room>>,
    /// Queue updates: set when the queue changed, taken by whoever sends
    /// the updates (`updates::queue_changed`).
    queue_dirty: AtomicBool,
    queue_updating: AtomicBool,
}

/// Lock a mutex; a panic while holding it would poison it, but the state
/// is still consistent enough to keep serving, so take it anyway.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn label<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// `screen_share granted`, `control declined`: a consent in the record.
fn consent_detail(topic: ConsentTopic, granted: bool) -> String {
    format!(
        "{} {}",
        label(&topic),
        if granted { "granted" } else { "declined" }
    )
}

fn err(code: ErrorCode, text: &str) -> Envelope {
    Envelope::new(Message::error(code, text))
}

/// `too_large` for the reliable message `seq` (its `seq` is used up).
fn too_large(why: String, seq: Option<u64>) -> Envelope {
    Envelope::new(Message::refusal(ErrorCode::TooLarge, why, seq))
}

/// Record jobs and log lines a handler collected under its locks.
#[derive(Debug, Default)]
#[must_use]
pub(crate) struct After {
    jobs: Vec<Job>,
    queue_changed: bool,
}

impl After {
    fn event(&mut self, session: u64, who: &str, kind: &str, detail: String) {
        self.jobs.push(Job::Event {
            session,
            at_ms: now_ms(),
            who: who.to_owned(),
            kind: kind.to_owned(),
            detail,
        });
    }

    fn record(&mut self, job: Job) {
        self.jobs.push(job);
    }

    /// A file transfer's outcome, as a new row of the append-only record.
    fn file_status(&mut self, session: u64, file_id: u32, status: &'static str) {
        self.jobs.push(Job::FileStatus {
            session,
            at_ms: now_ms(),
            file_id,
            status,
        });
    }
}

impl Hub {
    pub fn new(
        config: Arc<Config>,
        db: SyncSender<Job>,
        recorder: Recorder,
        last_session: u64,
        recent_waits: Vec<u64>,
    ) -> Self {
        let waits = WaitHistory::new(recent_waits, config.initial_wait_estimate_secs);
        Self {
            config,
            records: Records::new(db),
            recorder,
            next_session: AtomicU64::new(last_session + 1),
            next_link: AtomicU64::new(1),
            sessions: Mutex::new(HashMap::new()),
            techs: Mutex::new(HashMap::new()),
            queue: Mutex::new(Queue {
                order: Vec::new(),
                waits,
            }),
            rooms: Mutex::new(HashMap::new()),
            queue_dirty: AtomicBool::new(false),
            queue_updating: AtomicBool::new(false),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Record entries dropped because the writer was behind.
    pub fn records_dropped(&self) -> u64 {
        self.records.dropped()
    }

    /// Channels for a new connection: the hub's [`Link`] and the writer's
    /// receiving ends.
    pub fn new_link(&self, ip: IpAddr) -> (Link, mpsc::Receiver<Out>, mpsc::Receiver<Out>) {
        let (ctrl, ctrl_rx) = mpsc::channel(1024);
        let (bulk, bulk_rx) = mpsc::channel(32);
        let link = Link {
            id: self.next_link.fetch_add(1, Ordering::Relaxed),
            ip,
            ctrl,
            bulk,
            kill: Arc::new(Notify::new()),
        };
        (link, ctrl_rx, bulk_rx)
    }

    fn session(&self, sid: u64) -> Option<SessionRef> {
        lock(&self.sessions).get(&sid).cloned()
    }

    fn tech(&self, link_id: u64) -> Option<TechRef> {
        lock(&self.techs).get(&link_id).cloned()
    }

    fn techs_online(&self) -> usize {
        lock(&self.techs).len()
    }

    /// Do what a handler left for after its locks.
    fn finish(&self, after: After) {
        for job in after.jobs {
            self.records.send(job);
        }
        if after.queue_changed {
            self.queue_changed();
        }
    }

    pub fn event(&self, session: u64, who: &str, kind: &str, detail: String) {
        let mut after = After::default();
        after.event(session, who, kind, detail);
        self.finish(after);
    }

    /// A session's state changes: the per-address waiting room follows.
    fn set_state(&self, s: &mut Session, new: State) {
        let (was, now) = (s.state.unserved(), new.unserved());
        s.state = new;
        if was == now {
            return;
        }
        let mut rooms = lock(&self.rooms);
        if now {
            let room = rooms.entry(s.ip).or_default();
            room.sessions += 1;
            room.lines += s.waiting_lines;
        } else if let Some(room) = rooms.get_mut(&s.ip) {
            room.sessions = room.sessions.saturating_sub(1);
            room.lines = room.lines.saturating_sub(s.waiting_lines);
            if room.sessions == 0 {
                rooms.remove(&s.ip);
            }
        }
    }

    /// A waiting customer's chat line: counted, or refused with the reason
    /// when the session's own waiting-room lines, or those of every
    /// waiting session from its address, are used up.
    fn take_waiting_line(&self, s: &mut Session) -> Result<(), String> {
        if s.waiting_lines >= lotse_protocol::limits::WAITING_CHAT_LINES {
            return Err(format!(
                "at most {} lines until a technician joins; please wait for the technician",
                lotse_protocol::limits::WAITING_CHAT_LINES
            ));
        }
        if s.state.unserved() {
            let mut rooms = lock(&self.rooms);
            let room = rooms.entry(s.ip).or_default();
            if room.lines >= WAITING_LINES_PER_ADDRESS {
                return Err(
                    "too many waiting lines from your network; please wait for the technician"
                        .to_owned(),
                );
            }
            room.lines += 1;
        }
        s.waiting_lines += 1;
        Ok(())
    }

    /// Input dropped for want of a grant, as one entry with the count.
    fn flush_dropped_input(s: &mut Session, sid: u64, after: &mut After) {
        let n = std::mem::take(&mut s.grants.dropped_input);
        if n > 0 {
            after.event(
                sid,
                "relay",
                "input_dropped",
                format!("{n} input events without the customer's control grant"),
            );
        }
    }
}

/// Whether a base64 avatar decodes to more than `limits::AVATAR_BYTES`.
fn avatar_too_large(base64: &str) -> bool {
    let text = base64.trim_end_matches('=');
    // Every 4 characters carry 3 bytes; a partial group of n carries n - 1.
    let bytes = text.len() / 4 * 3 + (text.len() % 4).saturating_sub(1);
    bytes > lotse_protocol::limits::AVATAR_BYTES
}
