//! Session recordings: the customer's encoded screen stream and the chat,
//! written only for sessions whose customer granted
//! `consent{topic:"recording"}` (see `RECORDING.md` for the file format).
//!
//! The forwarding path never touches the disk: the hub hands records to
//! [`Recorder`], which puts them into one bounded channel read by a
//! dedicated writer thread. Screen frames are dropped (and the gap noted in
//! the file) when more than [`FRAME_BUDGET`] bytes wait to be written, so a
//! slow disk costs recording quality, never forwarding speed. A write error
//! (e.g. a full disk) stops that one recording, logs why and notes it in the
//! session record; forwarding goes on.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Instant;

use crate::store::{Job, Store, now_ms};

/// The first 8 bytes of every recording file.
pub const MAGIC: &[u8; 8] = b"LOTSEREC";
/// Format version (byte 8).
pub const VERSION: u8 = 1;
/// File header: magic, version, session id (u64 BE), start (Unix ms, i64 BE).
pub const FILE_HEADER_LEN: usize = 8 + 1 + 8 + 8;
/// Record header: kind (u8), time since the start in ms (u64 BE), body length (u32 BE).
pub const RECORD_HEADER_LEN: usize = 1 + 8 + 4;

/// Record kinds.
pub const KIND_SCREEN: u8 = 1;
pub const KIND_CHAT: u8 = 2;
pub const KIND_GAP: u8 = 3;
pub const KIND_STOP: u8 = 4;

/// Screen bytes allowed to wait for the writer; beyond that frames are dropped.
pub const FRAME_BUDGET: usize = 32 * 1024 * 1024;
/// Channel slots; screen frames may use all but [`CONTROL_RESERVE`] of them,
/// so chat lines and start/stop always find room.
const CHANNEL_SLOTS: usize = 8192;
const CONTROL_RESERVE: usize = 1024;

/// Folder below the data directory.
pub const DIR_NAME: &str = "recordings";

/// The file of `session`'s recording in `dir` (`DATA_DIR/recordings`).
pub fn file_path(dir: &Path, session: u64) -> PathBuf {
    dir.join(format!("session-{session}.lrec"))
}

/// The session id a recording file name stands for.
pub fn session_of(name: &str) -> Option<u64> {
    name.strip_prefix("session-")?
        .strip_suffix(".lrec")?
        .parse()
        .ok()
}

/// Highest session id that has a recording file (new session ids continue
/// above it, so a restart never reuses an id that owns a recording).
pub fn max_session_id(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| session_of(&e.file_name().to_string_lossy()))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// Per-session state shared between the hub and [`Recorder`].
#[derive(Debug, Default)]
pub struct Tape {
    /// Screen frames dropped since the last one that was queued.
    lost: AtomicU32,
}

/// One job for the writer thread.
#[derive(Debug)]
enum RecJob {
    Start {
        session: u64,
        at: Instant,
    },
    Screen {
        session: u64,
        at: Instant,
        frame: Vec<u8>,
        lost_before: u32,
    },
    Chat {
        session: u64,
        at: Instant,
        body: Vec<u8>,
    },
    /// Close the file; `last` = the session is over (else consent was withdrawn).
    Stop {
        session: u64,
        at: Instant,
        reason: String,
        last: bool,
    },
    /// Everything queued before is written and flushed.
    Sync {
        reply: tokio::sync::oneshot::Sender<()>,
    },
}

/// The hub's handle on the writer thread.
#[derive(Debug)]
pub struct Recorder {
    tx: SyncSender<RecJob>,
    /// The session record (for [`Recorder::owner_may_fetch`]).
    db: SyncSender<Job>,
    /// Screen bytes and frames waiting for the writer.
    queued_bytes: Arc<AtomicUsize>,
    queued_frames: Arc<AtomicUsize>,
    dir: PathBuf,
}

/// How the writer opens a new recording file (tests swap it for one that fails).
pub type Opener = Box<dyn Fn(&Path) -> io::Result<File> + Send>;

fn open_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    // Never overwrite: an existing file is an earlier recording.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

impl Recorder {
    /// Start the writer thread for `dir` (created when missing); it notes
    /// recording starts, ends and failures in the session record via `db`.
    pub fn spawn(dir: PathBuf, db: SyncSender<Job>) -> io::Result<Self> {
        Self::spawn_with(dir, db, Box::new(open_new))
    }

    pub fn spawn_with(dir: PathBuf, db: SyncSender<Job>, opener: Opener) -> io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let (tx, rx) = sync_channel(CHANNEL_SLOTS);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let queued_frames = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            dir: dir.clone(),
            db: db.clone(),
            opener,
            open: HashMap::new(),
            queued_bytes: queued_bytes.clone(),
            queued_frames: queued_frames.clone(),
        };
        std::thread::Builder::new()
            .name("recording-writer".into())
            .spawn(move || writer.run(&rx))?;
        Ok(Self {
            tx,
            db,
            queued_bytes,
            queued_frames,
            dir,
        })
    }

    /// `DATA_DIR/recordings`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn control(&self, job: RecJob) {
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => {
                tracing::error!(
                    ?job,
                    "the recording writer is far behind; a record was lost"
                );
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::error!("the recording writer stopped");
            }
        }
    }

    /// Recording consent given: open the session's file.
    pub fn start(&self, session: u64) -> Arc<Tape> {
        self.control(RecJob::Start {
            session,
            at: Instant::now(),
        });
        Arc::new(Tape::default())
    }

    /// One binary frame as forwarded (screen update or browser image).
    /// Never waits: when the writer is behind, the frame is dropped and the
    /// gap noted before the next one that fits.
    pub fn screen(&self, session: u64, tape: &Tape, frame: &[u8]) {
        let len = frame.len();
        let frames = self.queued_frames.load(Ordering::Relaxed);
        let bytes = self.queued_bytes.load(Ordering::Relaxed);
        if frames >= CHANNEL_SLOTS - CONTROL_RESERVE || bytes + len > FRAME_BUDGET {
            tape.lost.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let lost_before = tape.lost.swap(0, Ordering::Relaxed);
        self.queued_bytes.fetch_add(len, Ordering::Relaxed);
        self.queued_frames.fetch_add(1, Ordering::Relaxed);
        let job = RecJob::Screen {
            session,
            at: Instant::now(),
            frame: frame.to_vec(),
            lost_before,
        };
        if self.tx.try_send(job).is_err() {
            self.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            self.queued_frames.fetch_sub(1, Ordering::Relaxed);
            tape.lost
                .fetch_add(lost_before.saturating_add(1), Ordering::Relaxed);
        }
    }

    /// One chat line as forwarded.
    pub fn chat(&self, session: u64, from: &str, role: &str, text: &str, at_ms: i64) {
        let body = serde_json::json!({
            "from": from,
            "role": role,
            "text": text,
            "at_ms": at_ms,
        })
        .to_string()
        .into_bytes();
        self.control(RecJob::Chat {
            session,
            at: Instant::now(),
            body,
        });
    }

    /// Close the recording: `last` when the session ended, else the
    /// customer withdrew consent (a new grant continues the same file).
    pub fn stop(&self, session: u64, reason: &str, last: bool) {
        self.control(RecJob::Stop {
            session,
            at: Instant::now(),
            reason: reason.to_owned(),
            last,
        });
    }

    /// Wait until everything queued so far is written and flushed.
    pub async fn sync(&self) {
        let (reply, done) = tokio::sync::oneshot::channel();
        if self.tx.try_send(RecJob::Sync { reply }).is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), done).await;
        }
    }
}

/// Whether `user` may fetch `session`'s recording: only a technician who
/// served the session (accepted it, live or in the past) may; there is no
/// role that sees every recording. Waits until the session record holds
/// everything sent to it before (a just-accepted session counts).
pub async fn may_fetch(recorder: &Recorder, store: &Store, session: u64, user: &str) -> bool {
    let (reply, done) = tokio::sync::oneshot::channel();
    if recorder.db.try_send(Job::Barrier(reply)).is_ok() {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), done).await;
    }
    let store = store.clone();
    let user = user.to_owned();
    let Ok(sid) = i64::try_from(session) else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        let conn = store.conn().ok()?;
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND technician = ?2)
                 OR EXISTS (SELECT 1 FROM events WHERE session = ?1 AND kind = 'accept' AND who = ?2)",
            rusqlite::params![sid, user],
            |row| row.get::<_, bool>(0),
        )
        .ok()
    })
    .await
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// An open (or paused) recording.
struct Open {
    file: Option<BufWriter<File>>,
    started: Instant,
    path: PathBuf,
    /// Stopped for good (write error or session over).
    failed: bool,
}

struct Writer {
    dir: PathBuf,
    db: SyncSender<Job>,
    opener: Opener,
    open: HashMap<u64, Open>,
    queued_bytes: Arc<AtomicUsize>,
    queued_frames: Arc<AtomicUsize>,
}

fn record(out: &mut impl Write, kind: u8, t_ms: u64, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record too large"))?;
    let mut head = [0u8; RECORD_HEADER_LEN];
    head[0] = kind;
    head[1..9].copy_from_slice(&t_ms.to_be_bytes());
    head[9..13].copy_from_slice(&len.to_be_bytes());
    out.write_all(&head)?;
    out.write_all(body)
}

fn millis(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.saturating_duration_since(from).as_millis()).unwrap_or(u64::MAX)
}

impl Writer {
    fn run(mut self, rx: &Receiver<RecJob>) {
        while let Ok(first) = rx.recv() {
            let mut job = Some(first);
            // Work through what is waiting, then flush once.
            while let Some(j) = job.take() {
                self.handle(j);
                job = rx.try_recv().ok();
            }
            self.flush_all();
        }
        self.flush_all();
    }

    fn note(&self, session: u64, kind: &str, detail: String) {
        let _ = self.db.send(Job::Event {
            session,
            at_ms: now_ms(),
            who: "relay".into(),
            kind: kind.into(),
            detail,
        });
    }

    fn flush_all(&mut self) {
        let mut failed = Vec::new();
        for (sid, open) in &mut self.open {
            if let Some(file) = open.file.as_mut()
                && let Err(e) = file.flush()
            {
                failed.push((*sid, e));
            }
        }
        for (sid, e) in failed {
            self.fail(sid, &e);
        }
    }

    /// A write failed: stop this recording for good, say so.
    fn fail(&mut self, session: u64, e: &io::Error) {
        let Some(open) = self.open.get_mut(&session) else {
            return;
        };
        // Dropping the BufWriter would try to flush again; take the file out.
        if let Some(file) = open.file.take() {
            let (_file, _unwritten) = file.into_parts();
        }
        open.failed = true;
        tracing::error!(
            session,
            path = %open.path.display(),
            error = %e,
            "cannot write the session recording (disk full?); recording of this session stopped, the session goes on"
        );
        self.note(
            session,
            "recording_failed",
            format!("write error: {e}; recording stopped"),
        );
    }

    fn handle(&mut self, job: RecJob) {
        match job {
            RecJob::Start { session, at } => self.start(session, at),
            RecJob::Screen {
                session,
                at,
                frame,
                lost_before,
            } => {
                self.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
                self.queued_frames.fetch_sub(1, Ordering::Relaxed);
                if lost_before > 0 {
                    let body = serde_json::json!({ "lost": lost_before }).to_string();
                    self.write(session, KIND_GAP, at, body.as_bytes());
                }
                self.write(session, KIND_SCREEN, at, &frame);
            }
            RecJob::Chat { session, at, body } => self.write(session, KIND_CHAT, at, &body),
            RecJob::Stop {
                session,
                at,
                reason,
                last,
            } => {
                let body = serde_json::json!({ "reason": reason, "final": last }).to_string();
                self.write(session, KIND_STOP, at, body.as_bytes());
                let result = self.open.get_mut(&session).and_then(|open| {
                    let file = open.file.take()?;
                    Some(
                        file.into_inner()
                            .map_err(io::IntoInnerError::into_error)
                            .and_then(|f| f.sync_all()),
                    )
                });
                match result {
                    Some(Err(e)) => self.fail(session, &e),
                    Some(Ok(())) => {
                        let size = self
                            .open
                            .get(&session)
                            .and_then(|o| std::fs::metadata(&o.path).ok())
                            .map_or(0, |m| m.len());
                        tracing::info!(session, size, reason, "recording closed");
                        if last {
                            self.note(session, "recording_saved", format!("{size} bytes"));
                        }
                    }
                    None => {}
                }
                if last {
                    self.open.remove(&session);
                }
            }
            RecJob::Sync { reply } => {
                self.flush_all();
                let _ = reply.send(());
            }
        }
    }

    fn start(&mut self, session: u64, at: Instant) {
        if let Some(open) = self.open.get_mut(&session) {
            if open.failed || open.file.is_some() {
                return;
            }
            // Consent given again after it was withdrawn: continue the file.
            match OpenOptions::new().append(true).open(&open.path) {
                Ok(f) => open.file = Some(BufWriter::new(f)),
                Err(e) => self.fail(session, &e),
            }
            return;
        }
        let path = file_path(&self.dir, session);
        let result = (self.opener)(&path).and_then(|f| {
            let mut w = BufWriter::with_capacity(256 * 1024, f);
            let mut header = [0u8; FILE_HEADER_LEN];
            header[..8].copy_from_slice(MAGIC);
            header[8] = VERSION;
            header[9..17].copy_from_slice(&session.to_be_bytes());
            header[17..25].copy_from_slice(&now_ms().to_be_bytes());
            w.write_all(&header)?;
            w.flush()?;
            Ok(w)
        });
        match result {
            Ok(w) => {
                self.open.insert(
                    session,
                    Open {
                        file: Some(w),
                        started: at,
                        path: path.clone(),
                        failed: false,
                    },
                );
                tracing::info!(session, path = %path.display(), "recording started");
                self.note(session, "recording_started", format!("{}", path.display()));
            }
            Err(e) => {
                self.open.insert(
                    session,
                    Open {
                        file: None,
                        started: at,
                        path,
                        failed: true,
                    },
                );
                self.fail(session, &e);
            }
        }
    }

    fn write(&mut self, session: u64, kind: u8, at: Instant, body: &[u8]) {
        let Some(open) = self.open.get_mut(&session) else {
            return;
        };
        let t_ms = millis(open.started, at);
        let Some(file) = open.file.as_mut() else {
            return;
        };
        if let Err(e) = record(file, kind, t_ms, body) {
            self.fail(session, &e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (SyncSender<Job>, Receiver<Job>) {
        sync_channel(64)
    }

    fn events(rx: &Receiver<Job>, until: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while let Ok(job) = rx.recv_timeout(std::time::Duration::from_secs(30)) {
            if let Job::Event { kind, detail, .. } = job {
                let done = kind == until;
                out.push((kind, detail));
                if done {
                    break;
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn records_frames_and_chat_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = db();
        let rec = Recorder::spawn(dir.path().join(DIR_NAME), tx).unwrap();
        let tape = rec.start(7);
        rec.screen(7, &tape, b"frame-one");
        rec.chat(7, "Erika", "customer", "hallo", 5);
        rec.stop(7, "ended_by_customer", true);
        rec.sync().await;
        let bytes = std::fs::read(file_path(rec.dir(), 7)).unwrap();
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(bytes[8], VERSION);
        assert_eq!(u64::from_be_bytes(bytes[9..17].try_into().unwrap()), 7);
        let mut at = FILE_HEADER_LEN;
        let mut kinds = Vec::new();
        while at < bytes.len() {
            let kind = bytes[at];
            let len = u32::from_be_bytes(bytes[at + 9..at + 13].try_into().unwrap()) as usize;
            let body = &bytes[at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + len];
            if kind == KIND_SCREEN {
                assert_eq!(body, b"frame-one");
            }
            kinds.push(kind);
            at += RECORD_HEADER_LEN + len;
        }
        assert_eq!(kinds, [KIND_SCREEN, KIND_CHAT, KIND_STOP]);
        let seen = events(&rx, "recording_saved");
        assert_eq!(
            seen.first().map(|e| e.0.as_str()),
            Some("recording_started")
        );
        assert_eq!(seen.last().map(|e| e.0.as_str()), Some("recording_saved"));
        assert_eq!(max_session_id(rec.dir()), 7);
    }

    #[tokio::test]
    async fn a_full_disk_stops_only_that_recording_and_is_noted() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = db();
        // /dev/full accepts the open and fails every write with ENOSPC.
        let rec = Recorder::spawn_with(
            dir.path().join(DIR_NAME),
            tx,
            Box::new(|_path: &Path| OpenOptions::new().write(true).open("/dev/full")),
        )
        .unwrap();
        let tape = rec.start(3);
        rec.screen(3, &tape, &[0xAB; 4096]);
        rec.stop(3, "ended_by_customer", true);
        rec.sync().await;
        let seen = events(&rx, "recording_failed");
        let (kind, detail) = seen.last().cloned().unwrap();
        assert_eq!(kind, "recording_failed");
        assert!(detail.contains("recording stopped"), "{detail}");
        // The writer is still alive for the next sessions.
        rec.sync().await;
        assert_eq!(rec.queued_bytes.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn existing_recordings_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_path(dir.path(), 1);
        std::fs::write(&path, b"earlier").unwrap();
        assert!(open_new(&path).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"earlier");
        assert_eq!(session_of("session-12.lrec"), Some(12));
        assert_eq!(session_of("session-x.lrec"), None);
    }
}
