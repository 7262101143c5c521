//! Session records and technician accounts in SQLite (`relay.sqlite`).
//!
//! The async relay never touches SQLite on its own threads: writes are
//! [`Job`]s sent over a bounded channel to one dedicated writer thread
//! ([`Store::spawn_writer`]); reads for logins run in `spawn_blocking` with
//! their own connection. The audit tables (`events`, `chat`, `files`) are
//! append-only: triggers refuse UPDATE and DELETE.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{SyncSender, sync_channel};

use rusqlite::{Connection, OptionalExtension, params};

use crate::printable::printable;

const SCHEMA: &str = r"
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    role TEXT NOT NULL,
    lang TEXT NOT NULL,
    session_key TEXT,
    customer_name TEXT,
    problem TEXT,
    joined_ms INTEGER,
    accepted_ms INTEGER,
    wait_secs INTEGER,
    technician TEXT,
    ended_ms INTEGER,
    end_reason TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    who TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chat (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    from_name TEXT NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    file_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS survey (
    session INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    rating INTEGER NOT NULL,
    comment TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit record is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit record is append-only'); END;
CREATE TRIGGER IF NOT EXISTS chat_no_update BEFORE UPDATE ON chat
    BEGIN SELECT RAISE(ABORT, 'the transcript is append-only'); END;
CREATE TRIGGER IF NOT EXISTS chat_no_delete BEFORE DELETE ON chat
    BEGIN SELECT RAISE(ABORT, 'the transcript is append-only'); END;
CREATE TRIGGER IF NOT EXISTS files_no_update BEFORE UPDATE ON files
    BEGIN SELECT RAISE(ABORT, 'the file record is append-only'); END;
CREATE TRIGGER IF NOT EXISTS files_no_delete BEFORE DELETE ON files
    BEGIN SELECT RAISE(ABORT, 'the file record is append-only'); END;
";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Entries waiting for the writer at most; what does not fit is dropped
/// and noted (`pairing::Records`). At 500 busy sessions (10,000 entries/s)
/// this is 0.8 s of records.
const CHANNEL_SLOTS: usize = 8192;
/// How long the writer gathers entries into one transaction.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(20);

/// One write to the session record.
#[derive(Debug)]
pub enum Job {
    SessionCreated {
        id: u64,
        at_ms: i64,
        role: &'static str,
        lang: &'static str,
        key: Option<String>,
    },
    Joined {
        id: u64,
        at_ms: i64,
        name: String,
        problem: Option<String>,
    },
    Accepted {
        id: u64,
        at_ms: i64,
        wait_secs: u64,
        technician: String,
    },
    Event {
        session: u64,
        at_ms: i64,
        who: String,
        kind: String,
        detail: String,
    },
    Chat {
        session: u64,
        at_ms: i64,
        from: String,
        role: &'static str,
        text: String,
    },
    File {
        session: u64,
        at_ms: i64,
        file_id: u32,
        name: String,
        size: u64,
        sha256: String,
        status: String,
    },
    /// A later step of a transfer offered before (`accepted`, `declined`,
    /// `cancelled`, `done`, `damaged`): a new row with the offer's file data.
    FileStatus {
        session: u64,
        at_ms: i64,
        file_id: u32,
        status: &'static str,
    },
    Survey {
        session: u64,
        at_ms: i64,
        rating: u8,
        comment: String,
    },
    Ended {
        id: u64,
        at_ms: i64,
        reason: String,
    },
    /// Answered once every job sent before it is committed.
    Barrier(tokio::sync::oneshot::Sender<()>),
}

/// Handle to the database file.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
}

/// A technician account (without its hash).
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub display_name: String,
    pub created_ms: i64,
}

/// A technician account with its password hash (logins only).
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub display_name: String,
    pub hash: String,
    pub created_ms: i64,
}

impl Store {
    /// Open (creating tables if needed).
    pub fn open(path: &Path) -> Result<Self> {
        let store = Self {
            path: path.to_owned(),
        };
        let conn = store.conn()?;
        conn.execute_batch(SCHEMA).map_err(|e| store.err(e))?;
        Ok(store)
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// A new connection (each blocking caller uses its own).
    pub fn conn(&self) -> Result<Connection> {
        let conn = Connection::open(&self.path).map_err(|e| self.err(e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| self.err(e))?;
        // With WAL, NORMAL keeps the database consistent after a crash and
        // may lose only the last moments before a power cut.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| self.err(e))?;
        Ok(conn)
    }

    /// Highest session id used so far (new sessions continue after it).
    pub fn max_session_id(&self) -> Result<u64> {
        let conn = self.conn()?;
        let max: Option<i64> = conn
            .query_row("SELECT MAX(id) FROM sessions", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(max.map_or(0, |m| u64::try_from(m).unwrap_or(0)))
    }

    /// The most recent real waits (seconds), newest first.
    pub fn recent_waits(&self, n: usize) -> Result<Vec<u64>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare("SELECT wait_secs FROM sessions WHERE wait_secs IS NOT NULL ORDER BY id DESC LIMIT ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([n as i64], |r| r.get::<_, i64>(0))
            .map_err(|e| self.err(e))?;
        Ok(rows
            .filter_map(std::result::Result::ok)
            .map(|w| u64::try_from(w).unwrap_or(0))
            .collect())
    }

    /// Start the writer thread; jobs go through a bounded channel. The
    /// hub never waits for it: what does not fit is dropped, counted,
    /// logged and noted in the session's record (`pairing::Records`).
    pub fn spawn_writer(&self) -> Result<SyncSender<Job>> {
        let conn = self.conn()?;
        let (tx, rx) = sync_channel::<Job>(CHANNEL_SLOTS);
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                // One transaction per batch of whatever is waiting: a
                // commit per chat line would cap the relay at the disk's
                // sync rate.
                //
                // Under a stream of chat lines (one arrives less than
                // BATCH_WINDOW after the last commit) the writer sleeps out
                // the window instead of waiting on the channel: while it
                // is not waiting, handing it an entry wakes nobody, so a
                // chat line costs the link no system call and the writer
                // at most one wake-up and commit per window (measured:
                // with a wake-up and a commit per line the writer took a
                // quarter of the relay's CPU). A lone line and every other
                // entry are written at once.
                let mut conn = conn;
                let mut last_commit: Option<std::time::Instant> = None;
                while let Ok(first) = rx.recv() {
                    if matches!(first, Job::Chat { .. })
                        && let Some(since) = last_commit.map(|t| t.elapsed())
                        && since < BATCH_WINDOW
                    {
                        std::thread::sleep(BATCH_WINDOW - since);
                    }
                    let mut batch = vec![first];
                    while batch.len() < CHANNEL_SLOTS {
                        match rx.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    let result = conn.transaction().and_then(|tx| {
                        for job in &batch {
                            if let Err(e) = write(&tx, job) {
                                tracing::error!(error = %e, "could not write the session record");
                            }
                        }
                        tx.commit()
                    });
                    if let Err(e) = result {
                        tracing::error!(error = %e, "could not commit the session record");
                    }
                    last_commit = Some(std::time::Instant::now());
                    for job in batch {
                        if let Job::Barrier(reply) = job {
                            let _ = reply.send(());
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Invalid(format!("cannot start the writer thread: {e}")))?;
        Ok(tx)
    }

    // ---- users ------------------------------------------------------------

    pub fn add_user(&self, name: &str, display_name: &str, hash: &str) -> Result<()> {
        let conn = self.conn()?;
        let n = conn
            .execute(
                "INSERT OR IGNORE INTO users (name, display_name, hash, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![name, display_name, hash, now_ms()],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(StoreError::Invalid(format!("user {name} exists already")));
        }
        Ok(())
    }

    pub fn remove_user(&self, name: &str) -> Result<bool> {
        let conn = self.conn()?;
        let n = conn
            .execute("DELETE FROM users WHERE name = ?1", [name])
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    pub fn users(&self) -> Result<Vec<User>> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare("SELECT name, display_name, created_ms FROM users ORDER BY name")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(User {
                    name: r.get(0)?,
                    display_name: r.get(1)?,
                    created_ms: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// The account `name` with its password hash (for logins).
    pub fn account(&self, name: &str) -> Result<Option<Account>> {
        let conn = self.conn()?;
        conn.query_row(
            "SELECT name, display_name, hash, created_ms FROM users WHERE name = ?1",
            [name],
            |r| {
                Ok(Account {
                    name: r.get(0)?,
                    display_name: r.get(1)?,
                    hash: r.get(2)?,
                    created_ms: r.get(3)?,
                })
            },
        )
        .optional()
        .map_err(|e| self.err(e))
    }

    // ---- reports ----------------------------------------------------------

    /// One line per session, newest first.
    pub fn session_list(&self, limit: usize) -> Result<String> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(
                "SELECT id, created_ms, role, COALESCE(customer_name, ''), COALESCE(technician, ''),
                        wait_secs, COALESCE(end_reason, '') FROM sessions ORDER BY id DESC LIMIT ?1",
            )
            .map_err(|e| self.err(e))?;
        let mut out = format!(
            "{:>6}  {:<20}  {:<12}  {:<20}  {:<16}  {:>6}  {}\n",
            "ID", "STARTED (UTC)", "ROLE", "CUSTOMER", "TECHNICIAN", "WAIT", "ENDED"
        );
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (id, created, role, customer, tech, wait, end) = row.map_err(|e| self.err(e))?;
            let (customer, tech, end) = (printable(&customer), printable(&tech), printable(&end));
            let wait = wait.map_or_else(|| "-".into(), |w| format!("{w}s"));
            let end = if end.is_empty() { "(open)".into() } else { end };
            out.push_str(&format!(
                "{id:>6}  {:<20}  {role:<12}  {customer:<20}  {tech:<16}  {wait:>6}  {end}\n",
                format_ms(created)
            ));
        }
        Ok(out)
    }

    /// Everything recorded about one session, as text.
    pub fn session_report(&self, id: u64) -> Result<Option<String>> {
        let conn = self.conn()?;
        let id = id as i64;
        type Head = (
            i64,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<String>,
        );
        let head: Option<Head> = conn
            .query_row(
                "SELECT created_ms, role, lang, session_key, customer_name, problem, joined_ms,
                        wait_secs, technician, ended_ms, end_reason FROM sessions WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((created, role, lang, key, name, problem, joined, wait, tech, ended, reason)) =
            head
        else {
            return Ok(None);
        };
        let mut out = String::new();
        let dash = |o: Option<String>| o.map_or_else(|| "-".into(), |s| printable(&s));
        let reason = reason.map(|r| printable(&r));
        out.push_str(&format!("session {id}\n"));
        out.push_str(&format!("started:    {} UTC\n", format_ms(created)));
        out.push_str(&format!("role:       {role} ({lang})\n"));
        if key.is_some() {
            out.push_str("ticket:     with session key\n");
        }
        out.push_str(&format!("customer:   {}\n", dash(name)));
        out.push_str(&format!("problem:    {}\n", dash(problem)));
        out.push_str(&format!(
            "joined:     {}\n",
            joined.map_or_else(|| "-".into(), |t| format!("{} UTC", format_ms(t)))
        ));
        out.push_str(&format!(
            "wait:       {}\n",
            wait.map_or_else(|| "-".into(), |w| format!("{w} s"))
        ));
        out.push_str(&format!("technician: {}\n", dash(tech)));
        out.push_str(&format!(
            "ended:      {} {}\n",
            ended.map_or_else(|| "-".into(), |t| format!("{} UTC", format_ms(t))),
            reason.map_or_else(|| "(still open)".into(), |r| format!("({r})"))
        ));

        out.push_str("\nevents:\n");
        let mut stmt = conn
            .prepare("SELECT at_ms, who, kind, detail FROM events WHERE session = ?1 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (at, who, kind, detail) = row.map_err(|e| self.err(e))?;
            let (who, kind, detail) = (printable(&who), printable(&kind), printable(&detail));
            out.push_str(&format!("  {}  {who}: {kind} {detail}\n", format_ms(at)));
        }

        out.push_str("\ntranscript:\n");
        let mut stmt = conn
            .prepare("SELECT at_ms, from_name, role, text FROM chat WHERE session = ?1 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (at, from, role, text) = row.map_err(|e| self.err(e))?;
            let (from, role, text) = (printable(&from), printable(&role), printable(&text));
            out.push_str(&format!("  {}  {from} ({role}): {text}\n", format_ms(at)));
        }

        out.push_str("\nfiles:\n");
        let mut stmt = conn
            .prepare("SELECT at_ms, file_id, name, size, sha256, status FROM files WHERE session = ?1 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        // One line per transfer: offered, then each later step.
        let mut files: Vec<(i64, String)> = Vec::new();
        for row in rows {
            let (at, fid, name, size, sha, status) = row.map_err(|e| self.err(e))?;
            let (name, sha, status) = (printable(&name), printable(&sha), printable(&status));
            match files.iter_mut().find(|(id, _)| *id == fid) {
                Some((_, line)) => {
                    line.push_str(" → ");
                    line.push_str(&status);
                }
                None => files.push((
                    fid,
                    format!(
                        "  {}  #{fid} {name} {size} bytes sha256 {sha} {status}",
                        format_ms(at)
                    ),
                )),
            }
        }
        for (_, line) in files {
            out.push_str(&line);
            out.push('\n');
        }

        out.push_str("\nsurvey:\n");
        let mut stmt = conn
            .prepare("SELECT at_ms, rating, comment FROM survey WHERE session = ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (at, rating, comment) = row.map_err(|e| self.err(e))?;
            let comment = printable(&comment);
            out.push_str(&format!(
                "  {}  rating {rating}/5: {comment}\n",
                format_ms(at)
            ));
        }
        Ok(Some(out))
    }
}

/// One statement of the writer: prepared once per connection and then
/// reused (the writer runs the same few statements for every entry).
fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

fn write(conn: &Connection, job: &Job) -> rusqlite::Result<()> {
    let id64 = |v: u64| v as i64;
    match job {
        Job::SessionCreated {
            id,
            at_ms,
            role,
            lang,
            key,
        } => exec(
            conn,
            "INSERT OR IGNORE INTO sessions (id, created_ms, role, lang, session_key) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id64(*id), at_ms, role, lang, key],
        ),
        Job::Joined {
            id,
            at_ms,
            name,
            problem,
        } => exec(
            conn,
            "UPDATE sessions SET customer_name = ?2, problem = ?3, joined_ms = ?4 WHERE id = ?1",
            params![id64(*id), name, problem, at_ms],
        ),
        Job::Accepted {
            id,
            at_ms,
            wait_secs,
            technician,
        } => exec(
            conn,
            "UPDATE sessions SET accepted_ms = COALESCE(accepted_ms, ?2),
                 wait_secs = COALESCE(wait_secs, ?3), technician = ?4 WHERE id = ?1",
            params![id64(*id), at_ms, id64(*wait_secs), technician],
        ),
        Job::Event {
            session,
            at_ms,
            who,
            kind,
            detail,
        } => exec(
            conn,
            "INSERT INTO events (session, at_ms, who, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id64(*session), at_ms, who, kind, detail],
        ),
        Job::Chat {
            session,
            at_ms,
            from,
            role,
            text,
        } => exec(
            conn,
            "INSERT INTO chat (session, at_ms, from_name, role, text) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id64(*session), at_ms, from, role, text],
        ),
        Job::File {
            session,
            at_ms,
            file_id,
            name,
            size,
            sha256,
            status,
        } => exec(
            conn,
            "INSERT INTO files (session, at_ms, file_id, name, size, sha256, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id64(*session), at_ms, file_id, name, id64(*size), sha256, status],
        ),
        Job::FileStatus {
            session,
            at_ms,
            file_id,
            status,
        } => exec(
            conn,
            "INSERT INTO files (session, at_ms, file_id, name, size, sha256, status)
                 SELECT session, ?3, file_id, name, size, sha256, ?4 FROM files
                 WHERE session = ?1 AND file_id = ?2 ORDER BY id LIMIT 1",
            params![id64(*session), file_id, at_ms, status],
        ),
        Job::Survey {
            session,
            at_ms,
            rating,
            comment,
        } => exec(
            conn,
            "INSERT INTO survey (session, at_ms, rating, comment) VALUES (?1, ?2, ?3, ?4)",
            params![id64(*session), at_ms, rating, comment],
        ),
        Job::Ended { id, at_ms, reason } => exec(
            conn,
            "UPDATE sessions SET ended_ms = ?2, end_reason = ?3 WHERE id = ?1 AND ended_ms IS NULL",
            params![id64(*id), at_ms, reason],
        ),
        Job::Barrier(_) => Ok(0),
    }
    .map(|_| ())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a Unix time in milliseconds.
pub fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(format_ms(0), "1970-01-01 00:00:00");
        assert_eq!(format_ms(1_709_251_199_000), "2024-02-29 23:59:59");
    }
}
