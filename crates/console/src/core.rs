//! The console's session core: a plain state machine shared by the egui UI
//! and the headless driver. It knows the queue, every session the
//! technician serves, chat, grants, consent history, screens and file
//! transfers. It never touches the network or egui: the caller feeds it
//! what arrived ([`Core::receive_text`], [`Core::receive_binary`]) and what
//! the technician wants ([`Core::command`]), then takes the frames to send
//! ([`Core::take_outgoing`]) and the events to show ([`Core::take_events`]).
//!
//! Architecture invariant: this module does no network IO and knows no UI.
//! The only IO is writing received files into the chosen folder.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine as _;
use lotse_link::{Inbox, Outbox};
use lotse_protocol::{
    BinaryHeader, BinaryKind, ChatLine, ConsentRecord, ConsentTopic, EndReason, Envelope,
    ErrorCode, InputEvent, MAX_AVATAR_BYTES, Message, NoticeInfo, QueueEntry, Role, ShareScope,
};
use serde::Serialize;

use crate::files::Incoming;
use crate::screen::{Rect, Screen, ScreenError};
use crate::transcript::{By, Entry, Note, NoteLine};

/// Milliseconds since the Unix epoch (for locally stamped history lines).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What the technician asks for. Session commands name their session.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Accept {
        session: u64,
    },
    Say {
        session: u64,
        text: String,
    },
    Nudge {
        session: u64,
    },
    /// A site notice by id, or a custom text.
    Notice {
        session: u64,
        notice: NoticeChoice,
    },
    RequestShare {
        session: u64,
    },
    StopShare {
        session: u64,
    },
    RequestControl {
        session: u64,
    },
    ReleaseControl {
        session: u64,
    },
    Input {
        session: u64,
        event: InputEvent,
    },
    AcceptFile {
        session: u64,
        id: u32,
        dir: PathBuf,
    },
    DeclineFile {
        session: u64,
        id: u32,
    },
    Elevate {
        session: u64,
    },
    HandBack {
        session: u64,
    },
    End {
        session: u64,
    },
    /// Forget an ended session (close its tab).
    Close {
        session: u64,
    },
    /// Display name and avatar image bytes (PNG or JPEG, ≤ 40 KiB).
    Profile {
        display_name: String,
        avatar: Option<Vec<u8>>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeChoice {
    Id(String),
    Text(String),
}

/// Something the technician should see. Serialised as one JSON object per
/// line in headless mode (`{"event":"chat",...}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The relay presented this certificate (trust on first use).
    Certificate {
        sha256: String,
    },
    LoggedIn {
        display_name: String,
    },
    /// The work link is up (first time or after a cut).
    Connected {
        reconnect: bool,
    },
    /// The work link dropped; the console tries again by itself.
    Disconnected {
        message: String,
    },
    LoggedOut,
    Queue {
        entries: Vec<QueueEntry>,
        notices: Vec<NoticeInfo>,
        /// Waiting customers the relay could not list (see the protocol).
        not_listed: u32,
    },
    SessionStarted {
        session: u64,
        customer_name: String,
        problem: Option<String>,
        role: Role,
        history: Vec<ChatLine>,
        consents: Vec<ConsentRecord>,
    },
    Chat {
        session: u64,
        from: String,
        text: String,
        at_ms: i64,
        mine: bool,
    },
    /// Earlier lines of the conversation (in front of those shown).
    ChatHistory {
        session: u64,
        lines: Vec<ChatLine>,
    },
    Consent {
        session: u64,
        topic: ConsentTopic,
        granted: bool,
    },
    ShareGranted {
        session: u64,
        scope: ShareScope,
        width: u32,
        height: u32,
    },
    ShareDeclined {
        session: u64,
    },
    ShareStopped {
        session: u64,
    },
    /// The customer paused (or resumed) the share and control.
    SharePaused {
        session: u64,
        paused: bool,
    },
    /// A complete screen update was applied.
    Screen {
        session: u64,
        frame: u64,
        width: u32,
        height: u32,
        rects: Vec<Rect>,
        /// With a watched colour ([`Core::watch_colour`]): how many pixels
        /// of this colour the changed rectangles hold after the update.
        #[serde(skip_serializing_if = "Option::is_none")]
        watched: Option<u64>,
    },
    ControlGranted {
        session: u64,
    },
    ControlDeclined {
        session: u64,
    },
    ControlRevoked {
        session: u64,
    },
    FileOffer {
        session: u64,
        id: u32,
        name: String,
        size: u64,
        sha256: String,
    },
    FileProgress {
        session: u64,
        id: u32,
        received: u64,
        size: u64,
    },
    FileReceived {
        session: u64,
        id: u32,
        path: Option<PathBuf>,
        sha256: String,
        ok: bool,
    },
    FileCancelled {
        session: u64,
        id: u32,
        reason: String,
    },
    PeerAway {
        session: u64,
        grace_secs: u32,
    },
    PeerBack {
        session: u64,
    },
    /// The web customer moved to the full client.
    Elevated {
        session: u64,
    },
    /// The session is over for this console (ended, handed back).
    Ended {
        session: u64,
        reason: String,
    },
    /// A PNG of the screen was written (headless `save-screen`).
    Saved {
        session: u64,
        path: PathBuf,
        width: u32,
        height: u32,
    },
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        session: Option<u64>,
        code: String,
        message: String,
    },
}

impl Event {
    /// The `"event"` name of this event.
    pub fn name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("event").and_then(|e| e.as_str().map(str::to_owned)))
            .unwrap_or_default()
    }

    pub fn error(session: Option<u64>, code: &str, message: impl Into<String>) -> Self {
        Event::Error {
            session,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Changed screen pixels for the UI's texture (not for headless output).
#[derive(Debug, Clone)]
pub struct ScreenPatch {
    pub session: u64,
    pub width: u32,
    pub height: u32,
    /// Each changed rectangle with its RGBA pixels, row by row.
    pub rects: Vec<(Rect, Vec<u8>)>,
    /// The customer's pointer after this update (full client only; `None`
    /// until its shape arrived).
    pub cursor: Option<lotse_codec::CursorState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Share {
    #[default]
    Off,
    Requested,
    On,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    #[default]
    Off,
    Requested,
    On,
}

/// State of one file transfer in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    Offered,
    Receiving { received: u64 },
    Done { path: Option<PathBuf>, ok: bool },
    Declined,
    Cancelled { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileView {
    pub id: u32,
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub state: FileState,
}

/// One session the technician serves.
#[derive(Debug)]
pub struct Session {
    pub id: u64,
    pub customer_name: String,
    pub problem: Option<String>,
    pub role: Role,
    pub chat: Vec<ChatLine>,
    /// What happened in the session, shown between the chat lines.
    pub notes: Vec<NoteLine>,
    pub consents: Vec<ConsentRecord>,
    pub share: Share,
    /// The customer paused the share and control.
    pub paused: bool,
    pub share_size: Option<(u32, u32)>,
    pub control: Control,
    pub files: Vec<FileView>,
    pub peer_away: bool,
    pub ended: Option<String>,
    pub screen: Screen,
    incoming: BTreeMap<u32, Incoming>,
}

impl Session {
    fn new(id: u64, customer_name: String, problem: Option<String>, role: Role) -> Self {
        Self {
            id,
            customer_name,
            problem,
            role,
            chat: Vec::new(),
            notes: Vec::new(),
            consents: Vec::new(),
            share: Share::Off,
            paused: false,
            share_size: None,
            control: Control::Off,
            files: Vec::new(),
            peer_away: false,
            ended: None,
            screen: Screen::default(),
            incoming: BTreeMap::new(),
        }
    }

    /// The latest answer per topic: what the customer has granted right now.
    pub fn current_grants(&self) -> BTreeMap<String, bool> {
        let mut out = BTreeMap::new();
        for c in &self.consents {
            out.insert(topic_name(c.topic), c.granted);
        }
        out
    }

    fn file_mut(&mut self, id: u32) -> Option<&mut FileView> {
        self.files.iter_mut().find(|f| f.id == id)
    }

    fn file_name(&self, id: u32) -> String {
        self.files
            .iter()
            .find(|f| f.id == id)
            .map_or_else(|| format!("#{id}"), |f| f.name.clone())
    }

    /// Note that `note` happened now.
    fn note(&mut self, note: Note) {
        self.notes.push(NoteLine {
            at_ms: now_ms(),
            note,
        });
    }

    /// Chat lines and notes in time order.
    pub fn transcript(&self) -> Vec<Entry> {
        crate::transcript::merge(&self.chat, &self.notes)
    }

    /// The newest file offer not yet answered.
    pub fn pending_offer(&self) -> Option<u32> {
        self.files
            .iter()
            .rev()
            .find(|f| f.state == FileState::Offered)
            .map(|f| f.id)
    }

    fn record(&mut self, topic: ConsentTopic, granted: bool) {
        self.consents.push(ConsentRecord {
            topic,
            granted,
            at_ms: now_ms(),
        });
    }

    fn stop_everything(&mut self) {
        self.share = Share::Off;
        self.control = Control::Off;
        self.screen.drop_partial();
        for (_, inc) in std::mem::take(&mut self.incoming) {
            inc.abort();
        }
    }
}

/// snake_case name of a consent topic (as on the wire).
pub fn topic_name(topic: ConsentTopic) -> String {
    serde_json::to_value(topic)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Why a command could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("there is no session {0}")]
    NoSession(u64),
    #[error("session {0} has ended")]
    Ended(u64),
    #[error("the customer has not granted control; request control first")]
    NotInControl,
    #[error("there is no customer {0} in the queue")]
    NotQueued(u64),
    #[error("there is no file offer {0} waiting")]
    NoOffer(u32),
    #[error("could not receive the file: {0}")]
    File(String),
    #[error("the avatar must be a PNG or JPEG image of at most 40 KiB")]
    BadAvatar,
    #[error("a chat message or notice must not be empty")]
    Empty,
    #[error("only a web chat customer can be moved to the full client")]
    NotWeb,
}

impl CommandError {
    pub fn code(&self) -> &'static str {
        match self {
            CommandError::NoSession(_) | CommandError::NotQueued(_) => "not_found",
            CommandError::Ended(_) => "ended",
            CommandError::NotInControl => "not_in_control",
            CommandError::NoOffer(_) => "no_offer",
            CommandError::File(_) => "file",
            CommandError::BadAvatar => "bad_avatar",
            CommandError::Empty => "empty",
            CommandError::NotWeb => "not_web",
        }
    }
}

/// The console's state for one login.
#[derive(Debug, Default)]
pub struct Core {
    pub display_name: String,
    pub avatar: Option<String>,
    pub queue: Vec<QueueEntry>,
    /// Waiting customers beyond `queue` (the relay lists as many as fit).
    pub queue_not_listed: u32,
    pub notices: Vec<NoticeInfo>,
    pub sessions: BTreeMap<u64, Session>,
    outbox: Outbox,
    inbox: Inbox,
    outgoing: Vec<Envelope>,
    events: Vec<Event>,
    patches: Vec<ScreenPatch>,
    want_patches: bool,
    transfer_counter: u64,
    /// Unacknowledged messages of sessions on hold after a cut.
    parked: BTreeMap<u64, Vec<Envelope>>,
    /// A colour (RGB) counted in every screen update (headless checks).
    watch: Option<[u8; 3]>,
}

impl Core {
    /// `want_patches`: keep changed screen pixels for a UI texture.
    pub fn new(display_name: impl Into<String>, want_patches: bool) -> Self {
        Self {
            display_name: display_name.into(),
            want_patches,
            ..Self::default()
        }
    }

    /// Frames to send, in order.
    pub fn take_outgoing(&mut self) -> Vec<Envelope> {
        std::mem::take(&mut self.outgoing)
    }
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
    pub fn take_patches(&mut self) -> Vec<ScreenPatch> {
        std::mem::take(&mut self.patches)
    }
    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Count the pixels of colour `rgb` in every screen update from now on
    /// (reported as `watched` of [`Event::Screen`]); `None` stops counting.
    /// Scripts use it to prove a colour never reached the technician.
    pub fn watch_colour(&mut self, rgb: Option<[u8; 3]>) {
        self.watch = rgb;
    }

    /// Messages sent but not yet acknowledged by the relay.
    pub fn unacked(&self) -> usize {
        self.outbox.pending_len()
    }

    /// A new work link is up (after `welcome`). The relay numbers its
    /// messages on the new link from 1 again, and we number ours from 1.
    /// The profile goes first so customers see the name.
    ///
    /// After a cut (`reconnect`), the sessions of the old link are on hold:
    /// the relay re-announces each session it kept for this technician with
    /// `session_started`; then the session's unacknowledged messages go out
    /// again. A session not re-announced was put back into the queue by the
    /// relay and is shown as ended (`connection_lost`).
    pub fn link_up(&mut self, reconnect: bool) {
        self.inbox = Inbox::default();
        let unacked: Vec<Envelope> = self.outbox.unacked().cloned().collect();
        self.outbox = Outbox::default();
        self.push(Envelope::new(self.profile_message()));
        for mut env in unacked {
            if matches!(env.msg, Message::Profile { .. }) {
                continue;
            }
            env.seq = None;
            match env.session {
                Some(sid) if reconnect => self.parked.entry(sid).or_default().push(env),
                _ => self.push(env),
            }
        }
        if !reconnect {
            return;
        }
        let mut ended = Vec::new();
        for s in self.sessions.values_mut() {
            // Binary frames are not resent after a cut: a transfer cut in
            // the middle is cancelled (the customer offers it again).
            for (id, inc) in std::mem::take(&mut s.incoming) {
                inc.abort();
                let reason = "connection lost".to_owned();
                if let Some(f) = s.file_mut(id) {
                    f.state = FileState::Cancelled {
                        reason: reason.clone(),
                    };
                }
                let name = s.file_name(id);
                s.note(Note::FileCancelled {
                    name,
                    reason: reason.clone(),
                });
                self.parked
                    .entry(s.id)
                    .or_default()
                    .push(Envelope::new(Message::FileCancel { id, reason }).with_session(s.id));
                self.events.push(Event::FileCancelled {
                    session: s.id,
                    id,
                    reason: "connection lost".into(),
                });
            }
            if s.ended.is_none() {
                s.stop_everything();
                s.ended = Some("connection_lost".into());
                s.note(Note::Ended {
                    reason: "connection_lost".into(),
                });
                ended.push(s.id);
            }
        }
        for session in ended {
            self.emit(Event::Ended {
                session,
                reason: "connection_lost".into(),
            });
        }
    }

    fn profile_message(&self) -> Message {
        Message::Profile {
            display_name: self.display_name.clone(),
            avatar: self.avatar.clone(),
        }
    }

    fn push(&mut self, env: Envelope) {
        let env = self.outbox.stamp(env);
        self.outgoing.push(env);
    }

    fn send(&mut self, session: u64, msg: Message) {
        self.push(Envelope::new(msg).with_session(session));
    }

    fn live_session(&mut self, session: u64) -> Result<&mut Session, CommandError> {
        let s = self
            .sessions
            .get_mut(&session)
            .ok_or(CommandError::NoSession(session))?;
        if s.ended.is_some() {
            return Err(CommandError::Ended(session));
        }
        Ok(s)
    }

    /// Carry out a technician's command. Errors are also reported as an
    /// [`Event::Error`] so headless scripts see them.
    pub fn command(&mut self, cmd: Command) -> Result<(), CommandError> {
        let session_of = command_session(&cmd);
        let result = self.command_inner(cmd);
        if let Err(e) = &result {
            self.emit(Event::error(session_of, e.code(), e.to_string()));
        }
        result
    }

    fn command_inner(&mut self, cmd: Command) -> Result<(), CommandError> {
        match cmd {
            Command::Accept { session } => {
                if !self.queue.iter().any(|e| e.session == session) {
                    return Err(CommandError::NotQueued(session));
                }
                self.push(Envelope::new(Message::Accept { session }));
            }
            Command::Say { session, text } => {
                let text = text.trim().to_owned();
                if text.is_empty() {
                    return Err(CommandError::Empty);
                }
                let from = self.display_name.clone();
                let at_ms = now_ms();
                let s = self.live_session(session)?;
                s.chat.push(ChatLine {
                    from: from.clone(),
                    role: Role::Technician,
                    text: text.clone(),
                    at_ms,
                });
                self.send(
                    session,
                    Message::Chat {
                        text: text.clone(),
                        from: None,
                        at_ms: None,
                    },
                );
                self.emit(Event::Chat {
                    session,
                    from,
                    text,
                    at_ms,
                    mine: true,
                });
            }
            Command::Nudge { session } => {
                self.live_session(session)?.note(Note::Nudged);
                self.send(session, Message::Nudge);
            }
            Command::Notice { session, notice } => {
                // What the customer reads: the site notice's text.
                let text = match &notice {
                    NoticeChoice::Id(id) => self
                        .notices
                        .iter()
                        .find(|n| n.id == id.trim())
                        .map_or_else(|| id.trim().to_owned(), |n| n.text.clone()),
                    NoticeChoice::Text(text) => text.trim().to_owned(),
                };
                let s = self.live_session(session)?;
                let msg = match notice {
                    NoticeChoice::Id(id) if !id.trim().is_empty() => Message::SendNotice {
                        id: Some(id.trim().to_owned()),
                        text: None,
                    },
                    NoticeChoice::Text(text) if !text.trim().is_empty() => Message::SendNotice {
                        id: None,
                        text: Some(text.trim().to_owned()),
                    },
                    _ => return Err(CommandError::Empty),
                };
                s.note(Note::NoticeSent { text });
                self.send(session, msg);
            }
            Command::RequestShare { session } => {
                let s = self.live_session(session)?;
                if s.share == Share::Off {
                    s.share = Share::Requested;
                }
                s.note(Note::ShareAsked);
                self.send(session, Message::ShareRequest);
            }
            Command::StopShare { session } => {
                let s = self.live_session(session)?;
                if s.control == Control::On {
                    s.note(Note::ControlStopped { by: By::Technician });
                }
                s.note(Note::ShareStopped { by: By::Technician });
                s.share = Share::Off;
                s.control = Control::Off;
                s.screen.drop_partial();
                self.send(session, Message::ShareStop);
            }
            Command::RequestControl { session } => {
                let s = self.live_session(session)?;
                if s.control == Control::Off {
                    s.control = Control::Requested;
                }
                s.note(Note::ControlAsked);
                self.send(session, Message::ControlRequest);
            }
            Command::ReleaseControl { session } => {
                let s = self.live_session(session)?;
                s.control = Control::Off;
                s.note(Note::ControlStopped { by: By::Technician });
                self.send(session, Message::ControlRevoke);
                self.emit(Event::ControlRevoked { session });
            }
            Command::Input { session, event } => {
                let s = self.live_session(session)?;
                if s.control != Control::On {
                    return Err(CommandError::NotInControl);
                }
                self.send(session, Message::Input { event });
            }
            Command::AcceptFile { session, id, dir } => {
                self.transfer_counter += 1;
                let unique = self.transfer_counter;
                let s = self.live_session(session)?;
                let offer = s
                    .files
                    .iter()
                    .find(|f| f.id == id && f.state == FileState::Offered)
                    .cloned()
                    .ok_or(CommandError::NoOffer(id))?;
                let inc = Incoming::create(&dir, &offer.name, offer.size, &offer.sha256, unique)
                    .map_err(|e| CommandError::File(e.to_string()))?;
                s.incoming.insert(id, inc);
                if let Some(f) = s.file_mut(id) {
                    f.state = FileState::Receiving { received: 0 };
                }
                s.note(Note::FileAccepted { name: offer.name });
                self.send(session, Message::FileAccept { id });
                if offer.size == 0 {
                    // Nothing will arrive for an empty file: finish now.
                    self.finish_file(session, id);
                }
            }
            Command::DeclineFile { session, id } => {
                let s = self.live_session(session)?;
                let f = s
                    .file_mut(id)
                    .filter(|f| f.state == FileState::Offered)
                    .ok_or(CommandError::NoOffer(id))?;
                f.state = FileState::Declined;
                let name = f.name.clone();
                s.note(Note::FileDeclined { name });
                self.send(session, Message::FileDecline { id });
            }
            Command::Elevate { session } => {
                let s = self.live_session(session)?;
                if s.role != Role::WebCustomer {
                    return Err(CommandError::NotWeb);
                }
                s.note(Note::ElevateAsked);
                self.send(session, Message::ElevateRequest);
            }
            Command::HandBack { session } => {
                let s = self.live_session(session)?;
                s.stop_everything();
                s.ended = Some("handed_back".into());
                s.note(Note::Ended {
                    reason: "handed_back".into(),
                });
                self.send(session, Message::HandBack);
                self.emit(Event::Ended {
                    session,
                    reason: "handed_back".into(),
                });
            }
            Command::End { session } => {
                let s = self.live_session(session)?;
                s.stop_everything();
                s.ended = Some("ended_by_technician".into());
                s.note(Note::Ended {
                    reason: "ended_by_technician".into(),
                });
                self.send(
                    session,
                    Message::End {
                        reason: EndReason::EndedByTechnician,
                    },
                );
                self.emit(Event::Ended {
                    session,
                    reason: "ended_by_technician".into(),
                });
            }
            Command::Close { session } => {
                if let Some(mut s) = self.sessions.remove(&session)
                    && s.ended.is_none()
                {
                    // Closing a live tab ends the session properly.
                    s.stop_everything();
                    self.send(
                        session,
                        Message::End {
                            reason: EndReason::EndedByTechnician,
                        },
                    );
                }
            }
            Command::Profile {
                display_name,
                avatar,
            } => {
                let avatar = match avatar {
                    Some(bytes) => Some(encode_avatar(&bytes)?),
                    None => self.avatar.clone(),
                };
                let name = display_name.trim();
                if !name.is_empty() {
                    self.display_name = name.to_owned();
                }
                self.avatar = avatar;
                self.push(Envelope::new(self.profile_message()));
            }
        }
        Ok(())
    }

    /// One text frame from the relay. A frame that does not decode (too
    /// large, unknown, damaged) is reported as an error and, if it carries
    /// a `seq`, used up and acknowledged like one taken (the rule of
    /// [`Inbox`], docs/PROTOCOL.md §5): the messages after it still arrive.
    pub fn receive_frame(&mut self, text: &str) {
        match lotse_protocol::decode_text(text) {
            Ok(env) => self.receive_text(env),
            Err(e) => {
                let seq = self.inbox.refuse(text);
                if seq.is_some() {
                    self.outgoing.push(Envelope::new(Message::Ack {
                        seq: self.inbox.last(),
                    }));
                }
                let code = match e {
                    lotse_protocol::ProtocolError::TooLarge { .. } => "too_large",
                    _ => "malformed",
                };
                tracing::warn!(?seq, "refused a message from the relay: {e}");
                self.emit(Event::error(None, code, e.to_string()));
            }
        }
    }

    /// One JSON message from the relay.
    pub fn receive_text(&mut self, env: Envelope) {
        if let Message::Ack { seq } = env.msg {
            self.outbox.ack(seq);
            return;
        }
        if env.seq.is_some() {
            let new = self.inbox.accept(&env);
            self.outgoing.push(Envelope::new(Message::Ack {
                seq: self.inbox.last(),
            }));
            if !new {
                return;
            }
        }
        let session = env.session;
        match env.msg {
            Message::Queue {
                entries,
                notices,
                not_listed,
            } => {
                self.queue = entries.clone();
                self.queue_not_listed = not_listed;
                self.notices = notices.clone();
                self.emit(Event::Queue {
                    entries,
                    notices,
                    not_listed,
                });
            }
            Message::SessionStarted {
                session,
                customer_name,
                problem,
                role,
                history,
                consents,
            } => {
                let s = self.sessions.entry(session).or_insert_with(|| {
                    Session::new(session, customer_name.clone(), problem.clone(), role)
                });
                if s.ended.as_deref() == Some("connection_lost") {
                    s.note(Note::Resumed);
                } else {
                    // The customer's answers so far (once: a session
                    // taken again keeps its notes), then this technician.
                    let fresh = s.notes.is_empty();
                    for c in consents.iter().filter(|_| fresh) {
                        s.notes.push(NoteLine {
                            at_ms: c.at_ms,
                            note: Note::Consent {
                                topic: c.topic,
                                granted: c.granted,
                            },
                        });
                    }
                    s.note(Note::Joined);
                }
                // A fresh start (or a resume after a cut): the relay's
                // history is the truth.
                s.ended = None;
                s.customer_name.clone_from(&customer_name);
                s.role = role;
                s.chat.clone_from(&history);
                s.consents.clone_from(&consents);
                // Resumed after a cut: what the relay did not get goes again.
                for env in self.parked.remove(&session).unwrap_or_default() {
                    self.push(env);
                }
                self.emit(Event::SessionStarted {
                    session,
                    customer_name,
                    problem,
                    role,
                    history,
                    consents,
                });
            }
            Message::Error { code, message, .. } => {
                let code = serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "error".into());
                self.emit(Event::Error {
                    session,
                    code,
                    message,
                });
            }
            msg => match session {
                Some(id) => self.session_message(id, msg),
                None => tracing::debug!("ignoring a message without a session"),
            },
        }
    }

    fn session_message(&mut self, session: u64, msg: Message) {
        let Some(s) = self.sessions.get_mut(&session) else {
            tracing::debug!(session, "message for an unknown session");
            return;
        };
        // A second event after the main one (control ends with the share).
        let mut then = None;
        let event = match msg {
            Message::Chat { text, from, at_ms } => {
                let from = from.unwrap_or_else(|| s.customer_name.clone());
                let at_ms = at_ms.unwrap_or_else(now_ms);
                s.chat.push(ChatLine {
                    from: from.clone(),
                    role: s.role,
                    text: text.clone(),
                    at_ms,
                });
                Event::Chat {
                    session,
                    from,
                    text,
                    at_ms,
                    mine: false,
                }
            }
            Message::Consent { topic, granted } => {
                s.record(topic, granted);
                s.note(Note::Consent { topic, granted });
                Event::Consent {
                    session,
                    topic,
                    granted,
                }
            }
            Message::ShareGrant {
                scope,
                width,
                height,
            } => {
                s.share = Share::On;
                s.share_size = Some((width, height));
                s.record(ConsentTopic::ScreenShare, true);
                s.note(Note::ShareAllowed { width, height });
                Event::ShareGranted {
                    session,
                    scope,
                    width,
                    height,
                }
            }
            Message::ShareDecline => {
                s.share = Share::Off;
                s.record(ConsentTopic::ScreenShare, false);
                s.note(Note::ShareDeclined);
                Event::ShareDeclined { session }
            }
            Message::SharePause { paused } => {
                s.paused = paused;
                s.note(Note::SharePaused { paused });
                Event::SharePaused { session, paused }
            }
            Message::ShareStop => {
                // From the customer this also ends control.
                let had_control = s.control == Control::On;
                s.share = Share::Off;
                s.paused = false;
                s.control = Control::Off;
                s.screen.drop_partial();
                s.record(ConsentTopic::ScreenShare, false);
                s.note(Note::ShareStopped { by: By::Customer });
                if had_control {
                    s.record(ConsentTopic::Control, false);
                    s.note(Note::ControlStopped { by: By::Customer });
                    then = Some(Event::ControlRevoked { session });
                }
                Event::ShareStopped { session }
            }
            Message::ControlGrant => {
                s.control = Control::On;
                s.record(ConsentTopic::Control, true);
                s.note(Note::ControlAllowed);
                Event::ControlGranted { session }
            }
            Message::ControlDecline => {
                s.control = Control::Off;
                s.record(ConsentTopic::Control, false);
                s.note(Note::ControlDeclined);
                Event::ControlDeclined { session }
            }
            Message::ControlRevoke => {
                s.control = Control::Off;
                s.record(ConsentTopic::Control, false);
                s.note(Note::ControlStopped { by: By::Customer });
                Event::ControlRevoked { session }
            }
            Message::FileOffer {
                id,
                name,
                size,
                sha256,
            } => {
                s.files.retain(|f| f.id != id);
                s.files.push(FileView {
                    id,
                    name: name.clone(),
                    size,
                    sha256: sha256.clone(),
                    state: FileState::Offered,
                });
                s.note(Note::FileOffered {
                    name: name.clone(),
                    size,
                });
                Event::FileOffer {
                    session,
                    id,
                    name,
                    size,
                    sha256,
                }
            }
            Message::FileCancel { id, reason } => {
                if let Some(inc) = s.incoming.remove(&id) {
                    inc.abort();
                }
                let name = s.file_name(id);
                s.note(Note::FileCancelled {
                    name,
                    reason: reason.clone(),
                });
                if let Some(f) = s.file_mut(id) {
                    f.state = FileState::Cancelled {
                        reason: reason.clone(),
                    };
                }
                Event::FileCancelled {
                    session,
                    id,
                    reason,
                }
            }
            Message::PeerAway { grace_secs } => {
                s.peer_away = true;
                s.note(Note::PeerAway { grace_secs });
                Event::PeerAway {
                    session,
                    grace_secs,
                }
            }
            Message::PeerBack => {
                s.peer_away = false;
                s.note(Note::PeerBack);
                Event::PeerBack { session }
            }
            Message::Elevated => {
                s.note(Note::Elevated);
                Event::Elevated { session }
            }
            Message::End { reason } => {
                let reason = serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                s.stop_everything();
                s.ended = Some(reason.clone());
                s.note(Note::Ended {
                    reason: reason.clone(),
                });
                Event::Ended { session, reason }
            }
            Message::ChatHistory { lines } => {
                // Earlier lines than everything shown so far (the history
                // comes in pages after `session_started`, newest first).
                s.chat.splice(0..0, lines.iter().cloned());
                Event::ChatHistory { session, lines }
            }
            Message::ReturnedToQueue => {
                s.stop_everything();
                s.ended = Some("returned_to_queue".into());
                s.note(Note::Ended {
                    reason: "returned_to_queue".into(),
                });
                Event::Ended {
                    session,
                    reason: "returned_to_queue".into(),
                }
            }
            other => {
                tracing::debug!(?other, "message the console does not use");
                return;
            }
        };
        self.emit(event);
        if let Some(event) = then {
            self.emit(event);
        }
    }

    /// One binary frame from the relay (screen update, file chunk, image).
    pub fn receive_binary(&mut self, frame: &[u8]) {
        let (head, payload) = match BinaryHeader::parse(frame) {
            Ok(x) => x,
            Err(e) => {
                self.emit(Event::error(None, "malformed", e.to_string()));
                return;
            }
        };
        let session = head.session;
        if self
            .sessions
            .get(&session)
            .is_none_or(|s| s.ended.is_some())
        {
            tracing::debug!(session, "binary frame for no live session");
            return;
        }
        match head.kind {
            BinaryKind::FileChunk => self.file_chunk(session, head, payload),
            BinaryKind::ImageFrame => {
                let result = self
                    .sessions
                    .get_mut(&session)
                    .map(|s| s.screen.apply_image(payload));
                match result {
                    Some(Ok(())) => self.screen_done(session, head.seq),
                    Some(Err(e)) => {
                        let code = match e {
                            ScreenError::TooLarge(_) => "picture_too_large",
                            _ => "screen",
                        };
                        self.emit(Event::error(Some(session), code, e.to_string()));
                    }
                    None => {}
                }
            }
            BinaryKind::ScreenUpdate => self.screen_update(session, head, payload),
        }
    }

    fn screen_update(&mut self, session: u64, head: BinaryHeader, payload: &[u8]) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        match s
            .screen
            .apply_update_piece(head.seq, payload, head.is_last())
        {
            Ok(applied) => {
                if applied {
                    self.screen_done(session, head.seq);
                }
            }
            Err(e) => {
                s.screen.drop_partial();
                let ask = s.screen.take_keyframe_request();
                // Acknowledge anyway: the customer paces on frame_ack and
                // would otherwise stop sending (and never send a keyframe).
                self.send(session, Message::FrameAck { frame: head.seq });
                if ask {
                    self.send(session, Message::KeyframeRequest);
                }
                self.emit(Event::error(Some(session), "screen", e.to_string()));
            }
        }
    }

    /// A complete update is applied: tell the UI and let the customer send
    /// the next one.
    fn screen_done(&mut self, session: u64, frame: u64) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        let rects = s.screen.take_changes();
        let (width, height) = (s.screen.width(), s.screen.height());
        let watched = self
            .watch
            .map(|rgb| count_colour(s.screen.rgba(), width, height, &rects, rgb));
        if self.want_patches {
            let patch = ScreenPatch {
                session,
                width,
                height,
                rects: rects.iter().map(|r| s.screen.patch(*r)).collect(),
                cursor: s.screen.cursor(),
            };
            self.patches.push(patch);
        }
        self.send(session, Message::FrameAck { frame });
        self.emit(Event::Screen {
            session,
            frame,
            width,
            height,
            rects,
            watched,
        });
    }

    fn file_chunk(&mut self, session: u64, head: BinaryHeader, payload: &[u8]) {
        let id = head.id;
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        let Some(inc) = s.incoming.get_mut(&id) else {
            tracing::debug!(session, id, "chunk for a transfer not accepted");
            return;
        };
        if let Err(e) = inc.write_chunk(head.seq, payload) {
            if let Some(inc) = s.incoming.remove(&id) {
                inc.abort();
            }
            let reason = e.to_string();
            if let Some(f) = s.file_mut(id) {
                f.state = FileState::Cancelled {
                    reason: reason.clone(),
                };
            }
            let name = s.file_name(id);
            s.note(Note::FileCancelled {
                name,
                reason: reason.clone(),
            });
            self.send(
                session,
                Message::FileCancel {
                    id,
                    reason: reason.clone(),
                },
            );
            self.emit(Event::FileCancelled {
                session,
                id,
                reason,
            });
            return;
        }
        let (received, size) = (inc.received(), inc.size());
        if let Some(f) = s.file_mut(id) {
            f.state = FileState::Receiving { received };
        }
        self.emit(Event::FileProgress {
            session,
            id,
            received,
            size,
        });
        if head.is_last() {
            self.finish_file(session, id);
        }
    }

    fn finish_file(&mut self, session: u64, id: u32) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        let Some(inc) = s.incoming.remove(&id) else {
            return;
        };
        let done = inc.finish();
        if let Some(f) = s.file_mut(id) {
            f.state = FileState::Done {
                path: done.path.clone(),
                ok: done.ok,
            };
        }
        let name = s.file_name(id);
        s.note(Note::FileReceived { name, ok: done.ok });
        self.send(
            session,
            Message::FileDone {
                id,
                ok: done.ok,
                sha256: done.sha256.clone(),
            },
        );
        self.emit(Event::FileReceived {
            session,
            id,
            path: done.path,
            sha256: done.sha256,
            ok: done.ok,
        });
    }
}

fn command_session(cmd: &Command) -> Option<u64> {
    match cmd {
        Command::Accept { session }
        | Command::Say { session, .. }
        | Command::Nudge { session }
        | Command::Notice { session, .. }
        | Command::RequestShare { session }
        | Command::StopShare { session }
        | Command::RequestControl { session }
        | Command::ReleaseControl { session }
        | Command::Input { session, .. }
        | Command::AcceptFile { session, .. }
        | Command::DeclineFile { session, .. }
        | Command::Elevate { session }
        | Command::HandBack { session }
        | Command::End { session }
        | Command::Close { session } => Some(*session),
        Command::Profile { .. } => None,
    }
}

/// Pixels of colour `rgb` inside `rects` (clipped to the picture) of an
/// RGBA picture `width` pixels wide. Overlapping rectangles count twice.
fn count_colour(rgba: &[u8], width: u32, height: u32, rects: &[Rect], rgb: [u8; 3]) -> u64 {
    let stride = width as usize * 4;
    let mut n = 0u64;
    for r in rects {
        let x0 = r.x.min(width) as usize;
        let x1 = r.x.saturating_add(r.w).min(width) as usize;
        let y1 = r.y.saturating_add(r.h).min(height);
        for y in r.y.min(height)..y1 {
            let start = y as usize * stride;
            let Some(row) = rgba.get(start + x0 * 4..start + x1 * 4) else {
                break;
            };
            n += row.chunks_exact(4).filter(|p| p[..3] == rgb).count() as u64;
        }
    }
    n
}

/// Check an avatar image (PNG or JPEG, ≤ 40 KiB) and base64 it.
pub fn encode_avatar(bytes: &[u8]) -> Result<String, CommandError> {
    if bytes.is_empty() || bytes.len() > MAX_AVATAR_BYTES {
        return Err(CommandError::BadAvatar);
    }
    match image::guess_format(bytes) {
        Ok(image::ImageFormat::Png | image::ImageFormat::Jpeg) => {}
        _ => return Err(CommandError::BadAvatar),
    }
    // Whole and within the image limits (the customer's client would
    // refuse it anyway).
    crate::screen::decode_image(bytes).map_err(|_| CommandError::BadAvatar)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Whether an error from the relay means the login itself failed.
pub fn is_login_error(code: ErrorCode) -> bool {
    matches!(code, ErrorCode::LoginFailed | ErrorCode::LockedOut)
}

#[cfg(test)]
mod tests;
