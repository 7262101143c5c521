//! The hub: every customer session, the waiting queue and the technicians
//! online, behind one mutex with short critical sections (no IO and no
//! `.await` while it is held).
//!
//! Links are represented by [`Link`]: two bounded channels to the
//! connection's writer task (control text first, bulk binary second). Text
//! is handed over with `try_send` under the lock so sequence numbers go out
//! in order; a link whose control channel is full is too slow and is told
//! to close (its session keeps the outbox for a resume). Binary frames are
//! returned to the caller, which awaits channel space outside the lock:
//! back-pressure instead of unbounded queues, and nothing dropped.
//!
//! Reliability is hop by hop: each customer session has an [`Inbox`] and an
//! [`Outbox`] that survive reconnects; each technician link has its own.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard};

use lotse_link::{Inbox, Outbox};
use lotse_protocol::limits;
use lotse_protocol::{
    BinaryHeader, BinaryKind, ChatLine, ConsentRecord, ConsentTopic, EndReason, Envelope,
    ErrorCode, Lang, Message, PROTOCOL_VERSION, QueueEntry, Resume, Role, SiteInfo, encode_text,
};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::auth::{random_token, same_secret};
use crate::compose;
use crate::config::Config;
use crate::queue::{WaitHistory, fill};
use crate::recording::{Recorder, Tape};
use crate::store::{Job, now_ms};

/// What a connection's writer sends.
#[derive(Debug)]
pub enum Out {
    Text(String),
    Binary(Vec<u8>),
    /// Send a close frame and stop.
    Close(u16, String),
}

/// The hub's handle on one connection.
#[derive(Debug, Clone)]
pub struct Link {
    pub id: u64,
    /// The peer's address (per-address limits of the waiting room).
    pub ip: IpAddr,
    pub ctrl: mpsc::Sender<Out>,
    pub bulk: mpsc::Sender<Out>,
    /// Tells the connection to close (too slow, replaced by a resume).
    pub kill: Arc<Notify>,
}

impl Link {
    fn text(&self, env: &Envelope) {
        if let Err(mpsc::error::TrySendError::Full(_)) =
            self.ctrl.try_send(Out::Text(encode_text(env)))
        {
            tracing::warn!(
                link = self.id,
                "peer too slow for control messages; closing its link"
            );
            self.kill.notify_one();
        }
    }
}

/// What the connection should do after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Ok,
    /// The peer got an error; count it as misbehaviour.
    Strike,
    /// Close the link (normal end).
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Answering the texts; not yet in the queue.
    Prejoin,
    Waiting {
        since: Instant,
    },
    Served {
        tech: u64,
        since: Instant,
    },
    Ended,
}

#[derive(Debug)]
struct Session {
    role: Role,
    lang: Lang,
    name: String,
    problem: Option<String>,
    resume_token: String,
    state: State,
    customer: Option<Link>,
    away_gen: u64,
    c_in: Inbox,
    c_out: Outbox,
    history: Vec<ChatLine>,
    consents: Vec<ConsentRecord>,
    surveyed: bool,
    /// Web chat: the key a full client presents to take this session over.
    elevation_key: Option<String>,
    /// Set while the customer allows recording.
    recording: Option<Arc<Tape>>,
    /// The address the session was opened from.
    ip: IpAddr,
    /// Chat lines the customer wrote while no technician served the session.
    waiting_lines: usize,
    /// What the customer allows the technician right now.
    grants: Grants,
}

/// The relay's own view of the customer's grants: a second line behind the
/// client's guard. Input is forwarded only while sharing runs and control
/// is granted.
#[derive(Debug, Default)]
struct Grants {
    share: bool,
    control: bool,
    /// The customer paused the share and control (the grants stay).
    paused: bool,
    /// Input events dropped since the last entry in the record.
    dropped_input: u64,
}

/// What happens to a technician's message about a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    Forward,
    /// Input without the customer's grant: dropped and counted.
    DropInput,
    /// Control asked for while nothing is shared: the relay declines it.
    DeclineControl,
}

impl Session {
    /// Sessions nobody serves yet (the waiting room).
    fn unserved(&self) -> bool {
        matches!(self.state, State::Prejoin | State::Waiting { .. })
    }

    fn consent(&mut self, topic: ConsentTopic, granted: bool, at_ms: i64) {
        self.consents.push(ConsentRecord {
            topic,
            granted,
            at_ms,
        });
    }

    /// A customer's answer to a share or control request: what it now
    /// allows, and the consent to record (`share_stop` also ends control).
    fn customer_grant(&mut self, msg: &Message, at_ms: i64) -> Vec<(ConsentTopic, bool)> {
        let changes = match msg {
            Message::ShareGrant { .. } => vec![(ConsentTopic::ScreenShare, true)],
            Message::ShareDecline | Message::ShareStop if self.grants.control => vec![
                (ConsentTopic::Control, false),
                (ConsentTopic::ScreenShare, false),
            ],
            Message::ShareDecline | Message::ShareStop => vec![(ConsentTopic::ScreenShare, false)],
            Message::ControlGrant => vec![(ConsentTopic::Control, true)],
            Message::ControlDecline | Message::ControlRevoke => {
                vec![(ConsentTopic::Control, false)]
            }
            _ => Vec::new(),
        };
        if let Message::SharePause { paused } = msg {
            self.grants.paused = *paused && self.grants.share;
        }
        for &(topic, granted) in &changes {
            match topic {
                ConsentTopic::ScreenShare => {
                    self.grants.share = granted;
                    self.grants.paused &= granted;
                }
                // Control counts only while sharing runs (PROTOCOL.md 7.6).
                _ => self.grants.control = granted && self.grants.share,
            }
            self.consent(topic, granted, at_ms);
        }
        changes
    }

    /// Sharing and control end without the customer's word (the technician
    /// stopped, or the session went back to the queue): recorded so a
    /// technician who takes the session sees what runs.
    fn end_grants(&mut self, share: bool, at_ms: i64) {
        if self.grants.control {
            self.grants.control = false;
            self.consent(ConsentTopic::Control, false, at_ms);
        }
        if share && self.grants.share {
            self.grants.share = false;
            self.grants.paused = false;
            self.consent(ConsentTopic::ScreenShare, false, at_ms);
        }
    }

    /// Whether a technician's message may reach the customer; updates the
    /// grants for the technician's own stops.
    fn tech_gate(&mut self, msg: &Message, at_ms: i64) -> Gate {
        match msg {
            Message::Input { .. }
                if !(self.grants.share && self.grants.control) || self.grants.paused =>
            {
                self.grants.dropped_input += 1;
                Gate::DropInput
            }
            Message::ControlRequest if !self.grants.share => Gate::DeclineControl,
            Message::ShareStop => {
                self.end_grants(true, at_ms);
                Gate::Forward
            }
            Message::ControlRevoke => {
                self.end_grants(false, at_ms);
                Gate::Forward
            }
            _ => Gate::Forward,
        }
    }
}

#[derive(Debug)]
struct Tech {
    link: Link,
    user: String,
    display_name: String,
    avatar: Option<String>,
    t_in: Inbox,
    t_out: Outbox,
    sessions: HashSet<u64>,
}

#[derive(Debug)]
struct Inner {
    sessions: HashMap<u64, Session>,
    queue: Vec<u64>,
    techs: HashMap<u64, Tech>,
    waits: WaitHistory,
}

/// Shared relay state.
#[derive(Debug)]
pub struct Hub {
    config: Arc<Config>,
    db: SyncSender<Job>,
    recorder: Recorder,
    next_session: AtomicU64,
    next_link: AtomicU64,
    inner: Mutex<Inner>,
}

pub(crate) const MAX_HISTORY: usize = 1000;
/// Waiting-room chat lines kept at once for all unserved sessions from one
/// address (each session has [`limits::WAITING_CHAT_LINES`]).
const WAITING_LINES_PER_ADDRESS: usize = 200;
/// Unserved sessions (joining or waiting) from one address at once.
const WAITING_SESSIONS_PER_ADDRESS: usize = 10;
const MAX_OUTBOX: usize = 10_000;
/// Why a message is not forwarded: with the fields the relay adds it would
/// be over the receiver's limit.
const FORWARD_TOO_LARGE: &str =
    "too large to forward: with `session` and `seq` it would exceed 64 KiB";

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
            db,
            recorder,
            next_session: AtomicU64::new(last_session + 1),
            next_link: AtomicU64::new(1),
            inner: Mutex::new(Inner {
                sessions: HashMap::new(),
                queue: Vec::new(),
                techs: HashMap::new(),
                waits,
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
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

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock would poison it; the state is still
        // consistent enough to keep serving, so take it anyway.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, job: Job) {
        if self.db.send(job).is_err() {
            tracing::error!("the session record writer stopped");
        }
    }

    pub fn event(&self, session: u64, who: &str, kind: &str, detail: String) {
        self.record(Job::Event {
            session,
            at_ms: now_ms(),
            who: who.to_owned(),
            kind: kind.to_owned(),
            detail,
        });
    }

    /// A file transfer's outcome, as a new row of the append-only record.
    fn file_status(&self, session: u64, file_id: u32, status: &'static str) {
        self.record(Job::FileStatus {
            session,
            at_ms: now_ms(),
            file_id,
            status,
        });
    }

    /// Input dropped for want of a grant, as one entry with the count.
    fn flush_dropped_input(&self, sid: u64) {
        let n = self
            .lock()
            .sessions
            .get_mut(&sid)
            .map_or(0, |s| std::mem::take(&mut s.grants.dropped_input));
        if n > 0 {
            self.event(
                sid,
                "relay",
                "input_dropped",
                format!("{n} input events without the customer's control grant"),
            );
        }
    }

    // ---- customers ----------------------------------------------------------

    /// A customer said hello: a new session, or a resumed one. Sends
    /// `welcome` (or a fatal error). Returns the session id.
    pub fn customer_hello(
        &self,
        link: &Link,
        role: Role,
        lang: Lang,
        key: Option<String>,
        resume: Option<Resume>,
    ) -> Option<u64> {
        if let Some(resume) = resume {
            return self.customer_resume(link, &resume);
        }
        if role == Role::Customer
            && let Some(key) = key.as_deref()
            && let Some(sid) = self.elevate(link, lang, key)
        {
            return Some(sid);
        }
        if self.waiting_from(link.ip) >= WAITING_SESSIONS_PER_ADDRESS {
            tracing::warn!(ip = %link.ip, "too many waiting customers from one address");
            link.text(&Envelope::new(Message::Error {
                code: ErrorCode::TooMany,
                message: "too many customers from your network are waiting already; please try again later".into(),
                fatal: true,
                retry_after_secs: None,
                refused_seq: None,
            }));
            return None;
        }
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let token = random_token();
        let session = Session {
            role,
            lang,
            name: String::new(),
            problem: None,
            resume_token: token.clone(),
            state: State::Prejoin,
            customer: Some(link.clone()),
            away_gen: 0,
            c_in: Inbox::default(),
            c_out: Outbox::default(),
            history: Vec::new(),
            consents: Vec::new(),
            surveyed: false,
            elevation_key: None,
            recording: None,
            ip: link.ip,
            waiting_lines: 0,
            grants: Grants::default(),
        };
        self.record(Job::SessionCreated {
            id,
            at_ms: now_ms(),
            role: if role == Role::WebCustomer {
                "web_customer"
            } else {
                "customer"
            },
            lang: if lang == Lang::De { "de" } else { "en" },
            key,
        });
        let mut inner = self.lock();
        inner.sessions.insert(id, session);
        link.text(&Envelope::new(Message::Welcome {
            version: PROTOCOL_VERSION,
            session: Some(id),
            resume_token: Some(token),
            site: self.config.site_info(lang),
            last_seq: 0,
        }));
        tracing::info!(session = id, ?role, "customer connected");
        Some(id)
    }

    /// Unserved sessions opened from `ip`.
    fn waiting_from(&self, ip: IpAddr) -> usize {
        let inner = self.lock();
        inner
            .sessions
            .values()
            .filter(|s| s.ip == ip && s.unserved())
            .count()
    }

    /// Why a waiting customer's chat line is refused: the session's own
    /// waiting-room lines, or those of every waiting session from its
    /// address, are used up. `None`: keep it.
    fn waiting_room_full(inner: &Inner, sid: u64) -> Option<String> {
        let s = inner.sessions.get(&sid)?;
        if s.waiting_lines >= limits::WAITING_CHAT_LINES {
            return Some(format!(
                "at most {} lines until a technician joins; please wait for the technician",
                limits::WAITING_CHAT_LINES
            ));
        }
        let address: usize = inner
            .sessions
            .values()
            .filter(|o| o.ip == s.ip && o.unserved())
            .map(|o| o.waiting_lines)
            .sum();
        (address >= WAITING_LINES_PER_ADDRESS).then(|| {
            "too many waiting lines from your network; please wait for the technician".to_owned()
        })
    }

    /// A full client started by a `lotse://join?key=KEY` link: it takes
    /// the web session with that key over, or is refused (`bad_key`,
    /// fatal) — such a link never opens a new session.
    pub fn elevation_hello(&self, link: &Link, lang: Lang, key: &str) -> Option<u64> {
        let sid = self.elevate(link, lang, key);
        if sid.is_none() {
            link.text(&Envelope::new(Message::Error {
                code: ErrorCode::BadKey,
                message:
                    "this link is used up or the session is over; ask your technician for a new one"
                        .into(),
                fatal: true,
                retry_after_secs: None,
                refused_seq: None,
            }));
        }
        sid
    }

    /// A full client presenting a web session's elevation key takes that
    /// session over: the web chat gets `elevated`, the technician the
    /// session again with the new role.
    fn elevate(&self, link: &Link, lang: Lang, key: &str) -> Option<u64> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let (&sid, s) = inner.sessions.iter_mut().find(|(_, s)| {
            s.state != State::Ended
                && s.elevation_key
                    .as_deref()
                    .is_some_and(|k| same_secret(k, key))
        })?;
        s.elevation_key = None;
        // The browser's share ends with the web chat.
        s.end_grants(true, now_ms());
        if let Some(old) = s.customer.replace(link.clone()) {
            let env = s.c_out.stamp(Envelope::new(Message::Elevated));
            old.text(&env);
        }
        s.role = Role::Customer;
        s.lang = lang;
        s.c_in = Inbox::default();
        s.c_out = Outbox::default();
        s.away_gen += 1;
        s.resume_token = random_token();
        link.text(&Envelope::new(Message::Welcome {
            version: PROTOCOL_VERSION,
            session: Some(sid),
            resume_token: Some(s.resume_token.clone()),
            site: self.config.site_info(lang),
            last_seq: 0,
        }));
        // The conversation so far, so it shows in the full client.
        for page in compose::chat_history(&s.history) {
            link.text(&s.c_out.stamp(Envelope::new(page)));
        }
        let name = s.name.clone();
        if let State::Served { tech, .. } = s.state
            && let Some(t) = inner.techs.get_mut(&tech)
        {
            send_session_started(t, sid, s);
            let joined = s.c_out.stamp(Envelope::new(Message::TechnicianJoined {
                name: t.display_name.clone(),
                avatar: t.avatar.clone(),
            }));
            link.text(&joined);
        }
        drop(guard);
        self.event(
            sid,
            &name,
            "elevated",
            "continues in the full client".into(),
        );
        tracing::info!(session = sid, "web session elevated to the full client");
        Some(sid)
    }

    fn customer_resume(&self, link: &Link, resume: &Resume) -> Option<u64> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(s) = inner
            .sessions
            .get_mut(&resume.session)
            .filter(|s| s.state != State::Ended && same_secret(&s.resume_token, &resume.token))
        else {
            link.text(&Envelope::new(Message::Error {
                code: ErrorCode::NotFound,
                message: "this session is over or unknown; please start again".into(),
                fatal: true,
                retry_after_secs: None,
                refused_seq: None,
            }));
            return None;
        };
        if let Some(old) = s.customer.replace(link.clone()) {
            old.kill.notify_one();
        }
        s.away_gen += 1;
        s.c_out.ack(resume.last_seq);
        link.text(&Envelope::new(Message::Welcome {
            version: PROTOCOL_VERSION,
            session: Some(resume.session),
            resume_token: Some(s.resume_token.clone()),
            site: self.config.site_info(s.lang),
            last_seq: s.c_in.last(),
        }));
        for env in s.c_out.unacked() {
            link.text(env);
        }
        let state = s.state;
        let name = s.name.clone();
        if let State::Served { tech, .. } = state
            && let Some(t) = inner.techs.get_mut(&tech)
        {
            let env = t
                .t_out
                .stamp(Envelope::new(Message::PeerBack).with_session(resume.session));
            t.link.text(&env);
        }
        drop(guard);
        self.event(resume.session, &name, "customer_back", String::new());
        if matches!(state, State::Waiting { .. }) {
            self.push_updates();
        }
        tracing::info!(session = resume.session, "customer resumed");
        Some(resume.session)
    }

    /// A text frame from a customer link that did not decode: its `seq`
    /// is used up and acknowledged (docs/PROTOCOL.md §5; the error naming
    /// it went out already).
    pub fn customer_refused(&self, sid: u64, link_id: u64, text: &str) {
        let mut inner = self.lock();
        if let Some(s) = inner.sessions.get_mut(&sid)
            && let Some(link) = s.customer.as_ref().filter(|l| l.id == link_id)
            && s.c_in.refuse(text).is_some()
        {
            link.text(&Envelope::new(Message::Ack { seq: s.c_in.last() }));
        }
    }

    /// One text message from a customer link.
    pub fn customer_message(&self, sid: u64, link_id: u64, env: Envelope) -> Handled {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(s) = inner.sessions.get_mut(&sid) else {
            return Handled::Close;
        };
        let Some(link) = s.customer.clone().filter(|l| l.id == link_id) else {
            return Handled::Close;
        };
        // Numbered messages take their place in the sequence even when
        // refused below, so the sender's later messages are not held up.
        if env.msg.is_reliable() && env.seq.is_some() {
            let fresh = s.c_in.accept(&env);
            link.text(&Envelope::new(Message::Ack { seq: s.c_in.last() }));
            if !fresh {
                return Handled::Ok;
            }
        }
        if let Err(why) = compose::check_arrival(&env.msg) {
            link.text(&too_large(why, env.seq));
            return Handled::Strike;
        }
        let allowed = matches!(
            env.msg,
            Message::Ack { .. }
                | Message::Consent { .. }
                | Message::Join { .. }
                | Message::Chat { .. }
                | Message::End { .. }
                | Message::SurveyAnswer { .. }
                | Message::ShareGrant { .. }
                | Message::ShareDecline
                | Message::ShareStop
                | Message::SharePause { .. }
                | Message::ControlGrant
                | Message::ControlDecline
                | Message::ControlRevoke
                | Message::FileOffer { .. }
                | Message::FileCancel { .. }
        );
        if !allowed {
            link.text(&err(
                ErrorCode::NotAllowed,
                "a customer may not send this message",
            ));
            return Handled::Strike;
        }
        if let Message::Ack { seq } = env.msg {
            s.c_out.ack(seq);
            return Handled::Ok;
        }
        let who = if s.name.is_empty() {
            "customer".to_owned()
        } else {
            s.name.clone()
        };
        let tech = match s.state {
            State::Served { tech, .. } => Some(tech),
            _ => None,
        };
        let now = now_ms();
        match env.msg {
            Message::Consent { topic, granted } => {
                compose::push_consent(
                    &mut s.consents,
                    ConsentRecord {
                        topic,
                        granted,
                        at_ms: now,
                    },
                );
                if topic == ConsentTopic::Elevation
                    && granted
                    && s.role == Role::WebCustomer
                    && s.state != State::Ended
                {
                    // The stamped download (or the installed app) presents
                    // this key and takes the session over.
                    let token = random_token();
                    let key = format!("e{sid}x{}", token.get(..24).unwrap_or(&token));
                    s.elevation_key = Some(key.clone());
                    let env = s.c_out.stamp(Envelope::new(Message::ElevateReady {
                        url: format!("lotse://join?key={key}"),
                        download: format!("/download/linux?key={key}"),
                    }));
                    link.text(&env);
                }
                if topic == ConsentTopic::Recording && s.state != State::Ended {
                    match (granted, &s.recording) {
                        (true, None) => s.recording = Some(self.recorder.start(sid)),
                        (false, Some(_)) => {
                            s.recording = None;
                            self.recorder.stop(sid, "consent_withdrawn", false);
                        }
                        _ => {}
                    }
                }
                let forward = Some(Message::Consent { topic, granted });
                let detail = consent_detail(topic, granted);
                drop(guard);
                self.event(sid, &who, "consent", detail);
                self.forward_from_customer(sid, tech, forward)
            }
            Message::Join { name, problem } => {
                if s.state != State::Prejoin {
                    link.text(&err(ErrorCode::BadState, "already joined"));
                    return Handled::Strike;
                }
                let name = name.trim().to_owned();
                if name.is_empty()
                    || lotse_protocol::limits::check_chars(
                        &name,
                        lotse_protocol::limits::NAME_CHARS,
                    )
                    .is_err()
                {
                    link.text(&err(
                        ErrorCode::Malformed,
                        "the name must have 1 to 80 characters",
                    ));
                    return Handled::Strike;
                }
                let problem = problem
                    .map(|p| p.trim().to_owned())
                    .filter(|p| !p.is_empty());
                if problem.as_ref().is_some_and(|p| {
                    lotse_protocol::limits::check_chars(p, lotse_protocol::limits::PROBLEM_CHARS)
                        .is_err()
                }) {
                    link.text(&err(
                        ErrorCode::Malformed,
                        "the problem description is longer than 4000 characters",
                    ));
                    return Handled::Strike;
                }
                s.name.clone_from(&name);
                s.problem.clone_from(&problem);
                s.state = State::Waiting {
                    since: Instant::now(),
                };
                let lang = s.lang;
                for notice in self.config.notices.iter().filter(|n| n.auto_show) {
                    let env = s.c_out.stamp(Envelope::new(compose::notice(
                        Some(notice.id.clone()),
                        notice.text.get(lang),
                    )));
                    link.text(&env);
                }
                if inner.techs.is_empty() {
                    let env = s.c_out.stamp(Envelope::new(Message::NoTechnician {
                        text: self.config.texts(lang).no_technician.clone(),
                        url: self.config.no_technician_url(),
                    }));
                    link.text(&env);
                }
                inner.queue.push(sid);
                drop(guard);
                self.record(Job::Joined {
                    id: sid,
                    at_ms: now,
                    name,
                    problem,
                });
                self.push_updates();
                Handled::Ok
            }
            Message::End { reason } => {
                if !matches!(
                    reason,
                    EndReason::EndedByCustomer
                        | EndReason::LeftOnNotice
                        | EndReason::DeclinedAgreement
                ) {
                    link.text(&err(
                        ErrorCode::NotAllowed,
                        "a customer ends with ended_by_customer, left_on_notice or declined_agreement",
                    ));
                    return Handled::Strike;
                }
                drop(guard);
                self.end_session(sid, reason, &who, false);
                Handled::Ok
            }
            Message::SurveyAnswer { rating, comment } => {
                if !(1..=5).contains(&rating) || s.surveyed {
                    link.text(&err(
                        ErrorCode::Malformed,
                        "one survey answer per session, rating 1 to 5",
                    ));
                    return Handled::Strike;
                }
                s.surveyed = true;
                drop(guard);
                self.record(Job::Survey {
                    session: sid,
                    at_ms: now,
                    rating,
                    comment,
                });
                Handled::Ok
            }
            Message::Chat { text, .. } => {
                if text.trim().is_empty() {
                    return Handled::Ok;
                }
                if tech.is_none()
                    && let Some(why) = Self::waiting_room_full(inner, sid)
                {
                    link.text(&err(ErrorCode::TooMany, &why));
                    return Handled::Ok;
                }
                let Some(s) = inner.sessions.get_mut(&sid) else {
                    return Handled::Close;
                };
                if tech.is_none() {
                    s.waiting_lines += 1;
                }
                if s.history.len() < MAX_HISTORY {
                    s.history.push(ChatLine {
                        from: who.clone(),
                        role: s.role,
                        text: text.clone(),
                        at_ms: now,
                    });
                }
                let role = if s.role == Role::WebCustomer {
                    "web_customer"
                } else {
                    "customer"
                };
                if s.recording.is_some() {
                    self.recorder.chat(sid, &who, role, &text, now);
                }
                drop(guard);
                self.record(Job::Chat {
                    session: sid,
                    at_ms: now,
                    from: who.clone(),
                    role,
                    text: text.clone(),
                });
                self.forward_from_customer(
                    sid,
                    tech,
                    Some(compose::forwarded_chat(text, &who, now)),
                )
            }
            other => {
                if tech.is_none() {
                    link.text(&err(
                        ErrorCode::BadState,
                        "no technician serves this session yet",
                    ));
                    return Handled::Strike;
                }
                let (kind, detail) = match &other {
                    Message::ShareGrant {
                        scope,
                        width,
                        height,
                    } => (
                        "share_grant",
                        format!(
                            "{} {width}x{height}",
                            serde_json::to_string(scope).unwrap_or_default()
                        ),
                    ),
                    Message::ShareDecline => ("share_decline", String::new()),
                    Message::ShareStop => ("share_stop", String::new()),
                    Message::SharePause { paused } => (
                        "share_pause",
                        if *paused { "paused" } else { "resumed" }.to_owned(),
                    ),
                    Message::ControlGrant => ("control_grant", String::new()),
                    Message::ControlDecline => ("control_decline", String::new()),
                    Message::ControlRevoke => ("control_revoke", String::new()),
                    Message::FileCancel { id, reason } => {
                        ("file_cancel", format!("#{id} {reason}"))
                    }
                    Message::FileOffer {
                        id,
                        name,
                        size,
                        sha256,
                    } => {
                        self.record(Job::File {
                            session: sid,
                            at_ms: now,
                            file_id: *id,
                            name: name.clone(),
                            size: *size,
                            sha256: sha256.clone(),
                            status: "offered".into(),
                        });
                        ("file_offer", format!("#{id} {name} {size} bytes"))
                    }
                    _ => ("", String::new()),
                };
                let consents = s.customer_grant(&other, now);
                if !kind.is_empty() {
                    let kind = kind.to_owned();
                    drop(guard);
                    self.event(sid, &who, &kind, detail);
                } else {
                    drop(guard);
                }
                for (topic, granted) in consents {
                    self.event(sid, &who, "consent", consent_detail(topic, granted));
                }
                match &other {
                    Message::FileCancel { id, .. } => self.file_status(sid, *id, "cancelled"),
                    Message::ControlGrant | Message::SharePause { paused: false } => {
                        self.flush_dropped_input(sid)
                    }
                    _ => {}
                }
                self.forward_from_customer(sid, tech, Some(other))
            }
        }
    }

    fn forward_from_customer(&self, sid: u64, tech: Option<u64>, msg: Option<Message>) -> Handled {
        let (Some(tech), Some(msg)) = (tech, msg) else {
            return Handled::Ok;
        };
        let mut inner = self.lock();
        if !compose::fits(&msg) {
            if let Some(link) = inner.sessions.get(&sid).and_then(|s| s.customer.as_ref()) {
                link.text(&too_large(FORWARD_TOO_LARGE.into(), None));
            }
            return Handled::Strike;
        }
        if let Some(t) = inner.techs.get_mut(&tech) {
            let env = t.t_out.stamp(Envelope::new(msg).with_session(sid));
            t.link.text(&env);
            if t.t_out.pending_len() > MAX_OUTBOX {
                t.link.kill.notify_one();
            }
        }
        Handled::Ok
    }

    /// A binary frame from a customer: where to send it (outside the lock).
    pub fn customer_binary(
        &self,
        sid: u64,
        mut frame: Vec<u8>,
    ) -> Option<(mpsc::Sender<Out>, Out)> {
        let (bulk, tape) = {
            let inner = self.lock();
            let s = inner.sessions.get(&sid)?;
            if frame.first() == Some(&(BinaryKind::FileChunk as u8))
                && frame.len() > BinaryHeader::LEN + limits::FILE_CHUNK_BYTES
            {
                if let Some(link) = &s.customer {
                    link.text(&err(
                        ErrorCode::TooLarge,
                        "a file chunk carries at most 256 KiB; the chunk was dropped",
                    ));
                }
                return None;
            }
            let State::Served { tech, .. } = s.state else {
                return None;
            };
            let t = inner.techs.get(&tech)?;
            (t.link.bulk.clone(), s.recording.clone())
        };
        BinaryHeader::set_session(&mut frame, sid).ok()?;
        // Only with the customer's recording consent, off the lock; the
        // recorder never waits.
        if let Some(tape) = tape
            && matches!(
                frame.first().copied(),
                Some(k) if k == BinaryKind::ScreenUpdate as u8 || k == BinaryKind::ImageFrame as u8
            )
        {
            self.recorder.screen(sid, &tape, &frame);
        }
        Some((bulk, Out::Binary(frame)))
    }

    /// The customer's link closed. Returns the grace generation to pass to
    /// [`Hub::grace_over`] after the grace period (None: nothing to wait for).
    pub fn customer_gone(&self, sid: u64, link_id: u64) -> Option<u64> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let s = inner.sessions.get_mut(&sid)?;
        if s.customer.as_ref().map(|l| l.id) != Some(link_id) {
            return None;
        }
        s.customer = None;
        if s.state == State::Ended {
            inner.sessions.remove(&sid);
            return None;
        }
        s.away_gen += 1;
        let generation = s.away_gen;
        let name = s.name.clone();
        let grace = self.config.limits.grace_secs;
        if let State::Served { tech, .. } = s.state
            && let Some(t) = inner.techs.get_mut(&tech)
        {
            let env = t
                .t_out
                .stamp(Envelope::new(Message::PeerAway { grace_secs: grace }).with_session(sid));
            t.link.text(&env);
        }
        drop(guard);
        self.event(sid, &name, "customer_away", format!("grace {grace} s"));
        tracing::info!(
            session = sid,
            "customer link lost; keeping the session for {grace} s"
        );
        Some(generation)
    }

    /// The grace period after a cut ran out.
    pub fn grace_over(&self, sid: u64, generation: u64) {
        let still_away = {
            let inner = self.lock();
            inner
                .sessions
                .get(&sid)
                .is_some_and(|s| s.customer.is_none() && s.away_gen == generation)
        };
        if still_away {
            self.end_session(sid, EndReason::CustomerGone, "relay", true);
        }
    }

    /// End a session: tell the technician (and the customer if `tell_customer`
    /// or the technician ended it), record it, update the queue.
    pub fn end_session(&self, sid: u64, reason: EndReason, who: &str, tell_customer: bool) {
        self.flush_dropped_input(sid);
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(s) = inner.sessions.get_mut(&sid) else {
            return;
        };
        if s.state == State::Ended {
            return;
        }
        let was_waiting = matches!(s.state, State::Waiting { .. } | State::Prejoin);
        let tech = match s.state {
            State::Served { tech, .. } => Some(tech),
            _ => None,
        };
        s.state = State::Ended;
        if s.recording.take().is_some() {
            self.recorder.stop(sid, &label(&reason), true);
        }
        if tell_customer && let Some(link) = s.customer.clone() {
            let env = s.c_out.stamp(Envelope::new(Message::End { reason }));
            link.text(&env);
        }
        if s.customer.is_none() {
            inner.sessions.remove(&sid);
        }
        inner.queue.retain(|q| *q != sid);
        if let Some(t) = tech.and_then(|t| inner.techs.get_mut(&t)) {
            t.sessions.remove(&sid);
            let env = t
                .t_out
                .stamp(Envelope::new(Message::End { reason }).with_session(sid));
            t.link.text(&env);
        }
        drop(guard);
        self.event(sid, who, "end", label(&reason));
        self.record(Job::Ended {
            id: sid,
            at_ms: now_ms(),
            reason: label(&reason),
        });
        tracing::info!(session = sid, reason = %label(&reason), "session ended");
        if was_waiting {
            self.push_updates();
        }
    }

    // ---- technicians --------------------------------------------------------

    /// A technician link said hello (its token was checked at the upgrade).
    pub fn tech_hello(&self, link: &Link, user: &str, display_name: &str) {
        let mut inner = self.lock();
        let mut tech = Tech {
            link: link.clone(),
            user: user.to_owned(),
            display_name: display_name.to_owned(),
            avatar: None,
            t_in: Inbox::default(),
            t_out: Outbox::default(),
            sessions: HashSet::new(),
        };
        let env = tech.t_out.stamp(Envelope::new(Message::Welcome {
            version: PROTOCOL_VERSION,
            session: None,
            resume_token: None,
            site: SiteInfo {
                name: self.config.site_name.clone(),
                hold_interval_secs: self.config.hold_interval_secs,
                watermark: self.config.watermark,
                ..SiteInfo::default()
            },
            last_seq: 0,
        }));
        link.text(&env);
        inner.techs.insert(link.id, tech);
        drop(inner);
        tracing::info!(user, "technician online");
        self.push_updates();
    }

    /// A text frame from a technician link that did not decode: like
    /// [`Hub::customer_refused`].
    pub fn tech_refused(&self, link_id: u64, text: &str) {
        let mut inner = self.lock();
        if let Some(t) = inner.techs.get_mut(&link_id)
            && t.t_in.refuse(text).is_some()
        {
            t.link
                .text(&Envelope::new(Message::Ack { seq: t.t_in.last() }));
        }
    }

    /// One text message from a technician link.
    pub fn tech_message(&self, link_id: u64, env: Envelope) -> Handled {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(t) = inner.techs.get_mut(&link_id) else {
            return Handled::Close;
        };
        let link = t.link.clone();
        // Numbered messages take their place in the sequence even when
        // refused below, so the sender's later messages are not held up.
        if env.msg.is_reliable() && env.seq.is_some() {
            let fresh = t.t_in.accept(&env);
            link.text(&Envelope::new(Message::Ack { seq: t.t_in.last() }));
            if !fresh {
                return Handled::Ok;
            }
        }
        if let Err(why) = compose::check_arrival(&env.msg) {
            link.text(&too_large(why, env.seq));
            return Handled::Strike;
        }
        let allowed = matches!(
            env.msg,
            Message::Ack { .. }
                | Message::Profile { .. }
                | Message::Accept { .. }
                | Message::SendNotice { .. }
                | Message::HandBack
                | Message::End { .. }
                | Message::Chat { .. }
                | Message::Nudge
                | Message::ShareRequest
                | Message::ShareStop
                | Message::FrameAck { .. }
                | Message::KeyframeRequest
                | Message::ControlRequest
                | Message::ControlRevoke
                | Message::Input { .. }
                | Message::FileAccept { .. }
                | Message::FileDecline { .. }
                | Message::FileCancel { .. }
                | Message::FileDone { .. }
                | Message::ElevateRequest
        );
        if !allowed {
            link.text(&err(
                ErrorCode::NotAllowed,
                "a technician may not send this message",
            ));
            return Handled::Strike;
        }
        if let Message::Ack { seq } = env.msg {
            t.t_out.ack(seq);
            return Handled::Ok;
        }
        let who = t.user.clone();
        match env.msg {
            Message::Profile {
                display_name,
                avatar,
            } => {
                let name = display_name.trim();
                if avatar.as_deref().is_some_and(avatar_too_large) {
                    link.text(&err(
                        ErrorCode::TooLarge,
                        "the avatar may have at most 40 KiB",
                    ));
                    return Handled::Strike;
                }
                if name.is_empty()
                    || lotse_protocol::limits::check_chars(name, lotse_protocol::limits::NAME_CHARS)
                        .is_err()
                {
                    link.text(&err(
                        ErrorCode::Malformed,
                        "display name 1 to 80 characters",
                    ));
                    return Handled::Strike;
                }
                t.display_name = name.to_owned();
                t.avatar = avatar;
                Handled::Ok
            }
            Message::Accept { session } => {
                drop(guard);
                self.accept(link_id, session)
            }
            msg => {
                let Some(sid) = env.session.filter(|sid| t.sessions.contains(sid)) else {
                    link.text(&err(
                        ErrorCode::NotFound,
                        "set `session` to a session you serve",
                    ));
                    return Handled::Strike;
                };
                let display_name = t.display_name.clone();
                drop(guard);
                self.forward_from_tech(link_id, sid, &who, &display_name, msg)
            }
        }
    }

    fn accept(&self, link_id: u64, sid: u64) -> Handled {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let waiting = inner.sessions.get(&sid).and_then(|s| match s.state {
            State::Waiting { since } => Some(since),
            _ => None,
        });
        let Some(t) = inner.techs.get_mut(&link_id) else {
            return Handled::Close;
        };
        let Some(since) = waiting else {
            t.link.text(&err(
                ErrorCode::NotFound,
                "this customer is no longer waiting",
            ));
            return Handled::Ok;
        };
        let Some(s) = inner.sessions.get_mut(&sid) else {
            return Handled::Ok;
        };
        let now = Instant::now();
        let wait_secs = now.duration_since(since).as_secs();
        s.state = State::Served {
            tech: link_id,
            since: now,
        };
        t.sessions.insert(sid);
        send_session_started(t, sid, s);
        let joined = s.c_out.stamp(Envelope::new(Message::TechnicianJoined {
            name: t.display_name.clone(),
            avatar: t.avatar.clone(),
        }));
        if let Some(link) = &s.customer {
            link.text(&joined);
        }
        let user = t.user.clone();
        inner.queue.retain(|q| *q != sid);
        inner.waits.record(wait_secs);
        drop(guard);
        self.record(Job::Accepted {
            id: sid,
            at_ms: now_ms(),
            wait_secs,
            technician: user.clone(),
        });
        self.event(sid, &user, "accept", format!("after {wait_secs} s"));
        self.push_updates();
        Handled::Ok
    }

    fn forward_from_tech(
        &self,
        link_id: u64,
        sid: u64,
        who: &str,
        display_name: &str,
        msg: Message,
    ) -> Handled {
        let now = now_ms();
        let (kind, detail): (&str, String) = match &msg {
            Message::ShareRequest => ("share_request", String::new()),
            Message::ShareStop => ("share_stop", String::new()),
            Message::ControlRequest => ("control_request", String::new()),
            Message::ControlRevoke => ("control_revoke", String::new()),
            Message::Nudge => ("nudge", String::new()),
            Message::ElevateRequest => ("elevate_request", String::new()),
            Message::FileAccept { id } => ("file_accept", format!("#{id}")),
            Message::FileDecline { id } => ("file_decline", format!("#{id}")),
            Message::FileCancel { id, reason } => ("file_cancel", format!("#{id} {reason}")),
            Message::FileDone { id, ok, sha256 } => (
                "file_done",
                format!(
                    "#{id} {} sha256 {sha256}",
                    if *ok { "intact" } else { "damaged" }
                ),
            ),
            Message::SendNotice { id, text } => (
                "notice",
                id.clone().or_else(|| text.clone()).unwrap_or_default(),
            ),
            _ => ("", String::new()),
        };
        if !kind.is_empty() {
            self.event(sid, who, kind, detail);
        }
        match &msg {
            Message::FileAccept { id } => self.file_status(sid, *id, "accepted"),
            Message::FileDecline { id } => self.file_status(sid, *id, "declined"),
            Message::FileCancel { id, .. } => self.file_status(sid, *id, "cancelled"),
            Message::FileDone { id, ok, .. } => {
                self.file_status(sid, *id, if *ok { "done" } else { "damaged" });
            }
            _ => {}
        }
        let gate = self
            .lock()
            .sessions
            .get_mut(&sid)
            .map_or(Gate::Forward, |s| s.tech_gate(&msg, now));
        match gate {
            Gate::Forward => {}
            Gate::DropInput => return Handled::Ok,
            Gate::DeclineControl => {
                // What the client answers too: control needs a share.
                self.event(
                    sid,
                    who,
                    "control_request_refused",
                    "nothing is shared".into(),
                );
                self.to_tech(
                    link_id,
                    Envelope::new(Message::ControlDecline).with_session(sid),
                );
                return Handled::Ok;
            }
        }
        let out = match msg {
            Message::End { .. } => {
                self.end_session(sid, EndReason::EndedByTechnician, who, true);
                return Handled::Ok;
            }
            Message::HandBack => return self.hand_back(link_id, sid, who),
            Message::SendNotice { id, text } => {
                let lang = self.lock().sessions.get(&sid).map_or(Lang::En, |s| s.lang);
                let text = match (&id, text) {
                    (Some(id), _) => self
                        .config
                        .notices
                        .iter()
                        .find(|n| &n.id == id)
                        .map(|n| n.text.get(lang).to_owned()),
                    (None, Some(text)) if !text.trim().is_empty() => Some(text),
                    _ => None,
                };
                let Some(text) = text else {
                    self.to_tech(link_id, err(ErrorCode::NotFound, "no such notice"));
                    return Handled::Strike;
                };
                compose::notice(id, &text)
            }
            Message::Chat { text, .. } => {
                if text.trim().is_empty() {
                    return Handled::Ok;
                }
                if let Some(s) = self.lock().sessions.get_mut(&sid) {
                    if s.history.len() < MAX_HISTORY {
                        s.history.push(ChatLine {
                            from: display_name.to_owned(),
                            role: Role::Technician,
                            text: text.clone(),
                            at_ms: now,
                        });
                    }
                    if s.recording.is_some() {
                        self.recorder
                            .chat(sid, display_name, "technician", &text, now);
                    }
                }
                self.record(Job::Chat {
                    session: sid,
                    at_ms: now,
                    from: display_name.to_owned(),
                    role: "technician",
                    text: text.clone(),
                });
                compose::forwarded_chat(text, display_name, now)
            }
            other => other,
        };
        if !compose::fits(&out) {
            self.to_tech(link_id, too_large(FORWARD_TOO_LARGE.into(), None));
            return Handled::Strike;
        }
        let mut inner = self.lock();
        if let Some(s) = inner.sessions.get_mut(&sid) {
            let env = s.c_out.stamp(Envelope::new(out));
            if let Some(link) = &s.customer {
                link.text(&env);
                if s.c_out.pending_len() > MAX_OUTBOX {
                    link.kill.notify_one();
                }
            }
        }
        Handled::Ok
    }

    fn to_tech(&self, link_id: u64, env: Envelope) {
        let mut inner = self.lock();
        if let Some(t) = inner.techs.get_mut(&link_id) {
            let env = t.t_out.stamp(env);
            t.link.text(&env);
        }
    }

    fn hand_back(&self, link_id: u64, sid: u64, who: &str) -> Handled {
        {
            let mut guard = self.lock();
            let inner = &mut *guard;
            if let Some(t) = inner.techs.get_mut(&link_id) {
                t.sessions.remove(&sid);
            }
            requeue(inner, sid);
        }
        self.event(sid, who, "hand_back", String::new());
        self.push_updates();
        Handled::Ok
    }

    /// A binary frame from a technician (rare): to the customer, session 0.
    pub fn tech_binary(
        &self,
        link_id: u64,
        mut frame: Vec<u8>,
    ) -> Option<(mpsc::Sender<Out>, Out)> {
        let inner = self.lock();
        let (header, _) = BinaryHeader::parse(&frame).ok()?;
        let t = inner.techs.get(&link_id)?;
        if !t.sessions.contains(&header.session) {
            return None;
        }
        let s = inner.sessions.get(&header.session)?;
        let link = s.customer.as_ref()?;
        BinaryHeader::set_session(&mut frame, 0).ok()?;
        Some((link.bulk.clone(), Out::Binary(frame)))
    }

    /// A technician link closed: its customers go back to the queue.
    pub fn tech_gone(&self, link_id: u64) {
        let (user, sessions) = {
            let mut guard = self.lock();
            let inner = &mut *guard;
            let Some(t) = inner.techs.remove(&link_id) else {
                return;
            };
            let mut sessions: Vec<u64> = t.sessions.into_iter().collect();
            sessions.sort_unstable();
            for sid in sessions.iter().rev() {
                requeue(inner, *sid);
            }
            if inner.techs.is_empty() {
                let waiting: Vec<u64> = inner.queue.clone();
                for sid in waiting {
                    if let Some(s) = inner.sessions.get_mut(&sid) {
                        let env = s.c_out.stamp(Envelope::new(Message::NoTechnician {
                            text: self.config.texts(s.lang).no_technician.clone(),
                            url: self.config.no_technician_url(),
                        }));
                        if let Some(link) = &s.customer {
                            link.text(&env);
                        }
                    }
                }
            }
            (t.user, sessions)
        };
        for sid in sessions {
            self.event(sid, &user, "technician_gone", "back to the queue".into());
        }
        tracing::info!(user, "technician offline");
        self.push_updates();
    }

    // ---- queue --------------------------------------------------------------

    /// Queue status to every waiting customer, the queue to every technician.
    pub fn push_updates(&self) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let techs = u32::try_from(inner.techs.len()).unwrap_or(u32::MAX);
        let now = Instant::now();
        let mut entries = Vec::with_capacity(inner.queue.len());
        for (i, sid) in inner.queue.iter().enumerate() {
            let Some(s) = inner.sessions.get_mut(sid) else {
                continue;
            };
            let position = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let estimate = inner.waits.estimate(position, techs);
            if let Some(link) = &s.customer {
                link.text(&Envelope::new(Message::QueueStatus {
                    position,
                    estimated_wait_secs: estimate,
                    technicians_online: techs,
                }));
            }
            let since = match s.state {
                State::Waiting { since } => since,
                _ => now,
            };
            entries.push(QueueEntry {
                session: *sid,
                name: s.name.clone(),
                problem: s.problem.clone(),
                waiting_secs: now.duration_since(since).as_secs(),
                role: s.role,
            });
        }
        let queue = Envelope::new(compose::queue(entries, &self.config.notice_list()));
        for t in inner.techs.values() {
            t.link.text(&queue);
        }
    }

    /// Every hold interval: position update and hold text to each waiting customer.
    pub fn hold_tick(&self) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let techs = u32::try_from(inner.techs.len()).unwrap_or(u32::MAX);
        for (i, sid) in inner.queue.iter().enumerate() {
            let Some(s) = inner.sessions.get(sid) else {
                continue;
            };
            let Some(link) = &s.customer else { continue };
            let position = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let estimate = inner.waits.estimate(position, techs);
            link.text(&Envelope::new(Message::QueueStatus {
                position,
                estimated_wait_secs: estimate,
                technicians_online: techs,
            }));
            let hold = &self.config.texts(s.lang).hold;
            if !hold.trim().is_empty() {
                link.text(&Envelope::new(Message::Hold {
                    text: fill(hold, position, estimate),
                }));
            }
        }
    }

    /// Relay shutting down: tell everyone.
    pub fn shutdown(&self) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        for (sid, s) in &mut inner.sessions {
            if s.recording.take().is_some() {
                self.recorder.stop(*sid, "relay_shutdown", true);
            }
            if let Some(link) = &s.customer {
                link.text(&Envelope::new(Message::End {
                    reason: EndReason::RelayShutdown,
                }));
            }
        }
        for t in inner.techs.values() {
            t.link.kill.notify_one();
        }
    }
}

/// `session_started` (and the older history in `chat_history` pages) to
/// the technician who serves `s` now.
fn send_session_started(t: &mut Tech, sid: u64, s: &Session) {
    let msgs = compose::session_started(
        sid,
        &s.name,
        s.problem.as_deref(),
        s.role,
        &s.history,
        &s.consents,
    );
    for msg in msgs {
        let env = t.t_out.stamp(Envelope::new(msg).with_session(sid));
        t.link.text(&env);
    }
}

/// Whether a base64 avatar decodes to more than [`limits::AVATAR_BYTES`].
fn avatar_too_large(base64: &str) -> bool {
    let text = base64.trim_end_matches('=');
    // Every 4 characters carry 3 bytes; a partial group of n carries n - 1.
    let bytes = text.len() / 4 * 3 + (text.len() % 4).saturating_sub(1);
    bytes > limits::AVATAR_BYTES
}

/// Put a served session back at the head of the queue and tell the customer.
fn requeue(inner: &mut Inner, sid: u64) {
    let Some(s) = inner.sessions.get_mut(&sid) else {
        return;
    };
    if !matches!(s.state, State::Served { .. }) {
        return;
    }
    // The client stops sharing and control; the next technician asks again.
    s.end_grants(true, now_ms());
    s.state = State::Waiting {
        since: Instant::now(),
    };
    let env = s.c_out.stamp(Envelope::new(Message::ReturnedToQueue));
    if let Some(link) = &s.customer {
        link.text(&env);
    }
    inner.queue.insert(0, sid);
}
