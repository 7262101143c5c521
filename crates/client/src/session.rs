//! The customer's session as a plain state machine: no egui, no IO.
//!
//! Inputs are [`NetEvent`]s (what the relay said, link up/down, file
//! progress) and [`Command`]s (what the customer clicked). Each input
//! returns the [`Effect`]s to carry out: messages to send, a URL to open,
//! a notification, file work, closing the window. The UI (`app.rs`) draws
//! from the public fields; the network side (`net.rs`) carries out effects.
//!
//! The phases follow the wire flow in the team notes:
//! `Connecting → Agreement? → Recording? → NameEntry → Waiting ⇄ Chatting
//! → Survey? → Ending → Ended`, with `Failed` for anything that stops the
//! client before a session exists.
//!
//! Screen sharing and remote control are consent prompts ([`ShareState`],
//! [`ControlState`]): a technician's request only shows Allow/Decline;
//! capture starts ([`Effect::StartShare`]) only after the customer's Allow
//! *and* their pick of screen or applications, and control is granted
//! ([`Effect::GrantControl`]) only after the customer's Allow while a share
//! runs. Stopping the share (either side), the technician leaving, the end
//! or a failure revoke everything at once.

use std::path::PathBuf;

use lotse_protocol::limits::{self, truncate_chars};
use lotse_protocol::{ConsentTopic, EndReason, ErrorCode, Message, SiteInfo};

use crate::nudge::NudgeLimiter;
pub use crate::share::ShareChoice;

/// Why the client cannot run a session at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The stamp is missing, altered, expired or unusable.
    Stamp(StampFault),
    /// This program's own file cannot be read.
    OwnFile(String),
    /// The relay showed a certificate other than the stamped one.
    WrongCertificate,
    /// The relay refused the ticket (forged, expired, used up).
    BadTicket,
    /// The relay refused the key of a `lotse://` link (that web chat is
    /// over, or the link was used already).
    BadLink,
    /// The relay speaks another protocol version.
    VersionMismatch,
    /// The session could not be resumed after a cut (grace period over).
    SessionLost,
    /// The relay closed the session with an error the customer cannot fix.
    Relay(String),
}

/// What is wrong with the stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StampFault {
    Missing,
    Altered,
    Expired,
    /// Intact but unusable (bad pin, not `wss://`).
    Invalid,
}

/// What the technician may ask for that needs the customer's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    ScreenShare,
    Control,
}

/// A line in the chat that the client writes itself (translated by the UI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemNote {
    TechnicianJoined(String),
    ReturnedToQueue,
    Nudged,
    /// The technician asked (the prompt is shown).
    Asked(Request),
    /// The customer allowed it.
    Allowed(Request),
    /// The customer declined it.
    Declined(Request),
    /// Screen sharing (and with it any control) ended.
    ShareStopped,
    /// Remote control ended; sharing goes on.
    ControlStopped,
    /// The customer paused the share and control.
    Paused,
    /// The customer resumed them.
    Resumed,
    /// Sharing could not start (the reason from the desktop).
    ShareFailed(String),
    /// Control was asked for while nothing is shared; declined.
    ControlNeedsShare,
    /// The desktop shows its own sign while the screen is shared (no
    /// watermark possible there).
    DesktopIndicator,
    PeerAway,
    PeerBack,
    Ended(EndReason),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Speaker {
    /// The customer (this window).
    Me,
    /// The technician, by name.
    Technician(String),
    System(SystemNote),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatEntry {
    pub speaker: Speaker,
    pub text: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
}

/// Live queue place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePlace {
    pub position: u32,
    pub wait_secs: u64,
    pub technicians_online: u32,
}

/// A notice shown above the chat with a Leave button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownNotice {
    /// Local number, for dismissing.
    pub key: u32,
    pub text: String,
}

/// Decoded technician avatar, RGBA8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avatar {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Technician {
    pub name: String,
    /// `None`: show the default avatar.
    pub avatar: Option<Avatar>,
}

/// Why a file transfer stopped without arriving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    /// The file was removed or changed while it was being sent.
    Vanished,
    /// The file could not be read (message from the OS).
    Unreadable(String),
    /// The technician's side is gone (or the session ended).
    PeerGone,
    /// The link dropped during the transfer.
    Interrupted,
    /// The technician's copy did not match.
    Corrupted,
    /// The technician's side stopped it (their reason, e.g. disk full).
    Stopped(String),
    /// The relay refused the offer (its reason).
    Refused(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferState {
    /// Reading the file for its SHA-256.
    Preparing,
    /// Offered; waiting for the technician to accept.
    Offered,
    Sending,
    /// Every chunk is out; waiting for the technician's check.
    Checking,
    Done,
    Declined,
    Cancelled,
    Failed(FileProblem),
}

impl TransferState {
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            Self::Preparing | Self::Offered | Self::Sending | Self::Checking
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: u32,
    pub name: String,
    pub size: u64,
    pub sent: u64,
    pub state: TransferState,
}

impl Transfer {
    /// 0.0 ..= 1.0
    pub fn progress(&self) -> f32 {
        if self.size == 0 {
            return if self.state == TransferState::Done {
                1.0
            } else {
                0.0
            };
        }
        (self.sent as f64 / self.size as f64).clamp(0.0, 1.0) as f32
    }
}

/// Something the customer asked for that the relay refused or did not
/// answer in time. Shown with a way forward; never a silent spinner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trouble {
    /// The join was refused: the name entry shows again (fields kept)
    /// with the relay's reason.
    JoinRefused { code: ErrorCode, message: String },
    /// A chat line was refused; its text is back in the input box.
    ChatRefused { code: ErrorCode, message: String },
    /// Something else was refused (a file offer, the survey answer...).
    Refused { code: ErrorCode, message: String },
    /// No answer to the join within [`JOIN_DEADLINE_MS`]: keep waiting or end.
    JoinUnanswered,
    /// No connection within [`CONNECT_DEADLINE_MS`]: still trying; the
    /// customer may close.
    ConnectUnanswered,
}

/// The last action the relay may refuse (a non-fatal `error` answers the
/// most recent one: the relay handles a link's messages in order).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sent {
    Join,
    Chat(String),
    FileOffer(u32),
    Other,
}

/// How long "Connecting…" may spin before the customer is told.
pub const CONNECT_DEADLINE_MS: i64 = 30_000;
/// How long "Joining the queue…" may spin before the customer is told.
pub const JOIN_DEADLINE_MS: i64 = 20_000;

/// What happens once the survey is answered or skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterSurvey {
    /// The customer ended: sharing, control and the session on the relay
    /// ended at the click (before the survey showed); the answer goes out,
    /// then the window closes.
    Close,
    /// The session already ended (by the technician): just show the end.
    ShowEnd(EndReason),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Before the relay's `welcome`.
    Connecting,
    /// Nothing to do but read the reason and close.
    Failed(Failure),
    Agreement(String),
    RecordingPrompt(String),
    /// Asking for the customer's name and problem before `join`.
    NameEntry,
    /// In the queue.
    Waiting,
    /// A technician is serving the session.
    Chatting,
    Survey {
        question: String,
        then: AfterSurvey,
    },
    /// `end` was sent; waiting for it to reach the relay.
    Ending,
    /// Over. `close` says whether the window closes by itself.
    Ended(EndReason),
}

/// Screen sharing as the customer allowed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareState {
    Off,
    /// The technician asked; Allow/Decline is shown.
    Asked,
    /// Allowed; the customer is choosing screen or applications.
    Picking,
    /// Capture runs (or is starting) with this choice.
    Active(ShareChoice),
}

/// Remote control as the customer allowed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlState {
    Off,
    /// The technician asked; Allow/Decline is shown.
    Asked,
    On,
}

/// What the share worker reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareEvent {
    /// Capture runs; `share_grant` went out with this size.
    Started { width: u32, height: u32 },
    /// Capture could not start or stopped by itself.
    Failed(String),
    /// No watermark on this desktop: it shows its own sign while the
    /// screen is shared (GNOME on Wayland).
    DesktopIndicator,
    /// Control was declined in the desktop's own dialog (Wayland); the
    /// screen share starts again without input.
    InputDeclined,
}

/// Link state shown as a status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Online,
    /// Cut; trying again (attempt number, from 1).
    Reconnecting(u32),
}

/// Events from the network side.
#[derive(Debug, Clone, PartialEq)]
pub enum NetEvent {
    /// `welcome` received; `resumed` after a cut.
    Online {
        resumed: bool,
        site: SiteInfo,
    },
    /// A message from the relay (duplicates already dropped).
    Message(Message),
    /// The link is down; the network side retries.
    LinkDown {
        attempt: u32,
    },
    /// Nothing can be done (bad certificate, ticket, version…).
    Failed(Failure),
    /// After [`Effect::Finish`]: everything sent has reached the relay (or
    /// the wait timed out). The link is closed.
    Finished,
    File(FileEvent),
    Share(ShareEvent),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEvent {
    /// Hashed and ready to offer.
    Ready {
        id: u32,
        name: String,
        size: u64,
        sha256: String,
    },
    Progress {
        id: u32,
        sent: u64,
    },
    /// Every chunk has been handed to the link.
    AllSent {
        id: u32,
    },
    Failed {
        id: u32,
        problem: FileProblem,
    },
}

/// What the customer did.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    AcceptAgreement,
    DeclineAgreement,
    Recording(bool),
    Join {
        name: String,
        problem: String,
    },
    SendChat(String),
    DismissNotice(u32),
    LeaveOnNotice,
    /// The End session button or closing the window.
    EndSession,
    SurveyAnswer {
        rating: u8,
        comment: String,
    },
    SkipSurvey,
    SendFile(PathBuf),
    CancelFile(u32),
    /// Allow (true) or Decline the technician's screen sharing request.
    ShareAnswer(bool),
    /// The picker's choice (after Allow, or to change a running share).
    ShareChosen(ShareChoice),
    /// The picker was closed without a choice.
    SharePickerClosed,
    /// STOP SCREEN SHARING (or Stop in the CHANGE SHARING picker).
    StopSharing,
    /// Allow (true) or Decline the technician's control request.
    ControlAnswer(bool),
    /// The customer takes control back (sharing goes on).
    StopControl,
    /// Pause (true) or resume the share and control with one button: no
    /// frame and no input passes while paused; the grants stay.
    PauseSharing(bool),
    /// The customer read the trouble message (✕).
    DismissTrouble,
    /// The program is asked to stop (SIGTERM, SIGHUP, SIGINT: logout,
    /// shutdown): end everything now, no survey, then close.
    Quit,
}

/// What the outside world must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send(Message),
    OpenUrl(String),
    /// A desktop notification (the UI shows it only while unfocused).
    Notify {
        from: String,
        text: String,
    },
    /// Bring the window forward (nudge).
    Attention,
    /// Hash `path` and answer with [`FileEvent::Ready`].
    PrepareFile {
        id: u32,
        path: PathBuf,
    },
    StartUpload {
        id: u32,
    },
    /// Stop reading/sending; nothing more for `id`.
    StopUpload {
        id: u32,
    },
    /// Send what is queued, then close the link; answer [`NetEvent::Finished`].
    Finish,
    /// Close the window now (the customer is done).
    Close,
    /// Start capturing this (only ever after the customer's Allow and
    /// choice); the network side sends `share_grant` once it runs.
    StartShare(ShareChoice),
    /// Stop capturing at once; control ends with it.
    StopShare,
    /// Turn the control switch on (only after the customer's Allow).
    GrantControl,
    /// Turn the control switch off at once.
    RevokeControl,
    /// Pause (true) or resume capture and input at once.
    PauseShare(bool),
    /// Shake the window (nudge).
    Shake,
    /// Play the alarm sound (nudge).
    Alarm,
    /// Show (`Some(site name)`) or remove the session watermark.
    Watermark(Option<String>),
}

/// Largest avatar dimension accepted (pixels).
const MAX_AVATAR_SIDE: u32 = 512;

/// The whole customer-side session.
pub struct Session {
    pub phase: Phase,
    pub link: LinkState,
    pub site: Option<SiteInfo>,
    /// Prefilled name for the name entry (the OS user name).
    pub name_hint: String,
    pub my_name: String,
    pub queue: Option<QueuePlace>,
    pub hold: Option<String>,
    pub no_technician: Option<String>,
    pub notices: Vec<ShownNotice>,
    pub chat: Vec<ChatEntry>,
    pub technician: Option<Technician>,
    pub transfers: Vec<Transfer>,
    /// A technician served this session at some point.
    pub served: bool,
    /// Chat text size in points, changed by the customer.
    pub font_size: f32,
    pub share: ShareState,
    /// The customer paused the active share (and control with it).
    pub paused: bool,
    /// The capture of the active share reported that it runs.
    share_runs: bool,
    pub control: ControlState,
    /// What the relay refused or did not answer (shown until dismissed or
    /// the next try).
    pub trouble: Option<Trouble>,
    /// A refused chat line for the input box (the UI takes it).
    pub returned_draft: Option<String>,
    /// When the client started connecting (for [`CONNECT_DEADLINE_MS`]).
    started_ms: i64,
    /// When `join` went out, until the relay answered it.
    join_sent_ms: Option<i64>,
    last_sent: Option<Sent>,
    watermark: bool,
    nudges: NudgeLimiter,
    url_opened: bool,
    next_notice: u32,
    next_file: u32,
    clock: fn() -> i64,
}

pub const FONT_DEFAULT: f32 = 15.0;
pub const FONT_MIN: f32 = 10.0;
pub const FONT_MAX: f32 = 32.0;
pub const FONT_STEP: f32 = 2.0;

/// Milliseconds since the Unix epoch from the system clock.
pub fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Session {
    pub fn new(name_hint: impl Into<String>, clock: fn() -> i64) -> Self {
        Self {
            phase: Phase::Connecting,
            link: LinkState::Online,
            site: None,
            name_hint: name_hint.into(),
            my_name: String::new(),
            queue: None,
            hold: None,
            no_technician: None,
            notices: Vec::new(),
            chat: Vec::new(),
            technician: None,
            transfers: Vec::new(),
            served: false,
            font_size: FONT_DEFAULT,
            share: ShareState::Off,
            paused: false,
            share_runs: false,
            control: ControlState::Off,
            trouble: None,
            returned_draft: None,
            started_ms: clock(),
            join_sent_ms: None,
            last_sent: None,
            watermark: false,
            nudges: NudgeLimiter::default(),
            url_opened: false,
            next_notice: 1,
            next_file: 1,
            clock,
        }
    }

    /// A session that cannot start (e.g. bad stamp).
    pub fn failed(failure: Failure) -> Self {
        let mut s = Self::new("", system_clock);
        s.phase = Phase::Failed(failure);
        s
    }

    pub fn bigger_font(&mut self) {
        self.font_size = (self.font_size + FONT_STEP).min(FONT_MAX);
    }

    pub fn smaller_font(&mut self) {
        self.font_size = (self.font_size - FONT_STEP).max(FONT_MIN);
    }

    /// Check the deadlines of what is pending (call about once a second
    /// while [`Session::waits_for_relay`]).
    pub fn tick(&mut self) {
        let now = (self.clock)();
        if self.phase == Phase::Connecting
            && self.trouble.is_none()
            && now - self.started_ms >= CONNECT_DEADLINE_MS
        {
            tracing::warn!("no connection to the relay yet; telling the customer");
            self.trouble = Some(Trouble::ConnectUnanswered);
        }
        if let Some(sent) = self.join_sent_ms
            && self.phase == Phase::Waiting
            && self.trouble.is_none()
            && now - sent >= JOIN_DEADLINE_MS
        {
            tracing::warn!("the relay has not answered the join; telling the customer");
            self.trouble = Some(Trouble::JoinUnanswered);
        }
    }

    /// A spinner is shown that [`Session::tick`] must watch.
    pub fn waits_for_relay(&self) -> bool {
        self.trouble.is_none()
            && (self.phase == Phase::Connecting
                || (self.phase == Phase::Waiting && self.join_sent_ms.is_some()))
    }

    /// The relay answered the join (a queue place, a technician, history).
    fn join_answered(&mut self) {
        if self.join_sent_ms.take().is_some() {
            if self.last_sent == Some(Sent::Join) {
                self.last_sent = None;
            }
            if matches!(
                self.trouble,
                Some(Trouble::JoinUnanswered | Trouble::JoinRefused { .. })
            ) {
                self.trouble = None;
            }
        }
    }

    /// A non-fatal error: the relay refused our last action.
    fn refused(&mut self, code: ErrorCode, message: String) -> Vec<Effect> {
        match self.last_sent.take() {
            Some(Sent::Join) if self.phase == Phase::Waiting && self.join_sent_ms.is_some() => {
                tracing::info!("the join was refused: back to the name entry");
                self.join_sent_ms = None;
                self.phase = Phase::NameEntry;
                self.trouble = Some(Trouble::JoinRefused { code, message });
            }
            Some(Sent::Chat(text)) => {
                if let Some(at) = self
                    .chat
                    .iter()
                    .rposition(|c| c.speaker == Speaker::Me && c.text == text)
                {
                    self.chat.remove(at);
                }
                self.returned_draft = Some(text);
                self.trouble = Some(Trouble::ChatRefused { code, message });
            }
            Some(Sent::FileOffer(id)) => {
                self.set_transfer(id, |t| {
                    t.state
                        .is_active()
                        .then(|| TransferState::Failed(FileProblem::Refused(message.clone())))
                });
            }
            _ => self.trouble = Some(Trouble::Refused { code, message }),
        }
        Vec::new()
    }

    /// The session exists on the relay and has not ended.
    fn is_live(&self) -> bool {
        matches!(
            self.phase,
            Phase::Agreement(_)
                | Phase::RecordingPrompt(_)
                | Phase::NameEntry
                | Phase::Waiting
                | Phase::Chatting
        )
    }

    /// Whether files may be offered now.
    pub fn can_send_files(&self) -> bool {
        self.phase == Phase::Chatting && self.technician.is_some()
    }

    /// The survey question, if the site has one.
    fn survey_question(&self) -> Option<String> {
        self.site
            .as_ref()
            .and_then(|s| s.survey.clone())
            .filter(|q| !q.trim().is_empty())
    }

    fn system(&mut self, note: SystemNote) {
        let at_ms = (self.clock)();
        tracing::info!(?note, "chat line");
        self.chat.push(ChatEntry {
            speaker: Speaker::System(note),
            text: String::new(),
            at_ms,
        });
    }

    // ---- network events ---------------------------------------------------

    pub fn on_event(&mut self, event: NetEvent) -> Vec<Effect> {
        match event {
            NetEvent::Online { resumed, site } => self.on_online(resumed, site),
            NetEvent::LinkDown { attempt } => {
                if !matches!(self.phase, Phase::Failed(_) | Phase::Ended(_)) {
                    self.link = LinkState::Reconnecting(attempt.max(1));
                }
                // A binary stream cannot survive a cut: the technician's
                // side drops the partial file.
                let mut effects = Vec::new();
                for t in &mut self.transfers {
                    if t.state == TransferState::Sending {
                        t.state = TransferState::Failed(FileProblem::Interrupted);
                        effects.push(Effect::StopUpload { id: t.id });
                        effects.push(Effect::Send(Message::FileCancel {
                            id: t.id,
                            reason: "interrupted".into(),
                        }));
                    }
                }
                effects
            }
            NetEvent::Failed(failure) => {
                self.link = LinkState::Online;
                match self.phase {
                    // Ending anyway: finish as if flushed.
                    Phase::Ending => self.finish_end(EndReason::EndedByCustomer),
                    Phase::Ended(_) => Vec::new(),
                    _ => {
                        self.phase = Phase::Failed(failure);
                        let mut effects = self.end_desktop(false);
                        effects.extend(self.stop_all_transfers(FileProblem::PeerGone));
                        effects
                    }
                }
            }
            NetEvent::Finished => {
                if self.phase == Phase::Ending {
                    self.finish_end(EndReason::EndedByCustomer)
                } else {
                    Vec::new()
                }
            }
            NetEvent::Message(msg) => self.on_message(msg),
            NetEvent::File(ev) => self.on_file(ev),
            NetEvent::Share(ev) => self.on_share_event(ev),
        }
    }

    fn finish_end(&mut self, reason: EndReason) -> Vec<Effect> {
        self.phase = Phase::Ended(reason);
        vec![Effect::Close]
    }

    fn on_online(&mut self, resumed: bool, site: SiteInfo) -> Vec<Effect> {
        self.link = LinkState::Online;
        if self.trouble == Some(Trouble::ConnectUnanswered) {
            self.trouble = None;
        }
        if resumed || self.phase != Phase::Connecting {
            // Same session after a cut: keep the phase, the relay resends
            // what we missed.
            return Vec::new();
        }
        self.site = Some(site);
        self.advance_from(Step::Agreement)
    }

    /// Show the first configured step at or after `step`.
    fn advance_from(&mut self, step: Step) -> Vec<Effect> {
        let site = self.site.clone().unwrap_or_default();
        let present = |t: &Option<String>| t.as_ref().filter(|t| !t.trim().is_empty()).cloned();
        if step <= Step::Agreement
            && let Some(text) = present(&site.agreement)
        {
            self.phase = Phase::Agreement(text);
            return Vec::new();
        }
        if step <= Step::Recording
            && let Some(text) = present(&site.recording_prompt)
        {
            self.phase = Phase::RecordingPrompt(text);
            return Vec::new();
        }
        self.phase = Phase::NameEntry;
        Vec::new()
    }

    fn on_message(&mut self, msg: Message) -> Vec<Effect> {
        // After the end only the end itself matters.
        if matches!(self.phase, Phase::Failed(_) | Phase::Ended(_)) {
            return Vec::new();
        }
        match msg {
            Message::QueueStatus {
                position,
                estimated_wait_secs,
                technicians_online,
            } => {
                self.join_answered();
                self.queue = Some(QueuePlace {
                    position,
                    wait_secs: estimated_wait_secs,
                    technicians_online,
                });
                if technicians_online > 0 {
                    self.no_technician = None;
                }
                Vec::new()
            }
            Message::Hold { text } => {
                self.hold = Some(text);
                Vec::new()
            }
            Message::NoTechnician { text, url } => {
                self.no_technician = Some(text);
                match url {
                    Some(url) if !self.url_opened && is_web_url(&url) => {
                        self.url_opened = true;
                        vec![Effect::OpenUrl(url)]
                    }
                    _ => Vec::new(),
                }
            }
            Message::Notice { text, .. } => {
                let key = self.next_notice;
                self.next_notice += 1;
                self.notices.push(ShownNotice { key, text });
                Vec::new()
            }
            Message::TechnicianJoined { name, avatar } => {
                let avatar = avatar.as_deref().and_then(|b64| match decode_avatar(b64) {
                    Ok(a) => Some(a),
                    Err(e) => {
                        tracing::warn!("technician avatar not shown: {e}");
                        None
                    }
                });
                self.join_answered();
                self.technician = Some(Technician {
                    name: name.clone(),
                    avatar,
                });
                self.served = true;
                self.no_technician = None;
                self.system(SystemNote::TechnicianJoined(name));
                if matches!(self.phase, Phase::Waiting | Phase::Chatting) {
                    self.phase = Phase::Chatting;
                }
                self.watermark_on()
            }
            Message::ReturnedToQueue => {
                // The next technician must ask again.
                let mut effects = self.stop_desktop(false);
                self.technician = None;
                self.system(SystemNote::ReturnedToQueue);
                if self.phase == Phase::Chatting {
                    self.phase = Phase::Waiting;
                }
                effects.extend(self.stop_all_transfers(FileProblem::PeerGone));
                effects
            }
            Message::Chat { text, from, at_ms } => {
                let name = from
                    .or_else(|| self.technician.as_ref().map(|t| t.name.clone()))
                    .unwrap_or_default();
                let at_ms = at_ms.unwrap_or_else(self.clock);
                self.chat.push(ChatEntry {
                    speaker: Speaker::Technician(name.clone()),
                    text: text.clone(),
                    at_ms,
                });
                vec![Effect::Notify { from: name, text }]
            }
            Message::Nudge => {
                if !self.nudges.allow((self.clock)()) {
                    return Vec::new();
                }
                self.system(SystemNote::Nudged);
                vec![Effect::Attention, Effect::Shake, Effect::Alarm]
            }
            Message::PeerAway { .. } => {
                self.system(SystemNote::PeerAway);
                Vec::new()
            }
            Message::PeerBack => {
                self.system(SystemNote::PeerBack);
                Vec::new()
            }
            Message::ShareRequest => self.share_requested(),
            Message::ShareStop => {
                tracing::info!("the technician stopped screen sharing");
                self.stop_desktop(false)
            }
            Message::ControlRequest => self.control_requested(),
            Message::ControlRevoke => {
                tracing::info!("the technician gave control back");
                self.end_control(false)
            }
            Message::Input { .. } | Message::FrameAck { .. } => {
                // The network side applies these through the share worker
                // and the control guard; here they change nothing.
                tracing::debug!("share traffic reached the session; ignored");
                Vec::new()
            }
            Message::FileAccept { id } => self.file_accepted(id),
            Message::FileDecline { id } => {
                self.set_transfer(id, |t| {
                    (t.state == TransferState::Offered).then_some(TransferState::Declined)
                });
                Vec::new()
            }
            Message::FileCancel { id, reason } => {
                let mut stopped = false;
                self.set_transfer(id, |t| {
                    t.state.is_active().then(|| {
                        stopped = true;
                        TransferState::Failed(FileProblem::Stopped(reason.clone()))
                    })
                });
                if stopped {
                    vec![Effect::StopUpload { id }]
                } else {
                    Vec::new()
                }
            }
            Message::FileDone { id, ok, .. } => {
                self.set_transfer(id, |t| {
                    matches!(t.state, TransferState::Checking | TransferState::Sending).then(|| {
                        if ok {
                            TransferState::Done
                        } else {
                            TransferState::Failed(FileProblem::Corrupted)
                        }
                    })
                });
                if ok && let Some(t) = self.transfers.iter_mut().find(|t| t.id == id) {
                    t.sent = t.size;
                }
                Vec::new()
            }
            // Elevation: this client took a web chat session over; the
            // name and the prompts were answered in the web chat.
            Message::ChatHistory { lines } => {
                tracing::info!(
                    lines = lines.len(),
                    "continuing the web chat: earlier lines shown"
                );
                let earlier: Vec<ChatEntry> = lines
                    .into_iter()
                    .map(|l| ChatEntry {
                        speaker: if l.role == lotse_protocol::Role::Technician {
                            Speaker::Technician(l.from)
                        } else {
                            Speaker::Me
                        },
                        text: l.text,
                        at_ms: l.at_ms,
                    })
                    .collect();
                self.chat.splice(0..0, earlier);
                self.join_answered();
                if matches!(
                    self.phase,
                    Phase::Agreement(_) | Phase::RecordingPrompt(_) | Phase::NameEntry
                ) {
                    self.phase = Phase::Waiting;
                }
                Vec::new()
            }
            Message::End { reason } => self.ended_by_relay(reason),
            Message::Error {
                code,
                message,
                fatal,
                ..
            } => {
                tracing::warn!(?code, fatal, "relay error: {message}");
                if fatal {
                    let failure = match code {
                        ErrorCode::VersionMismatch => Failure::VersionMismatch,
                        ErrorCode::BadKey => Failure::BadTicket,
                        ErrorCode::NotFound => Failure::SessionLost,
                        _ => Failure::Relay(message),
                    };
                    let mut effects = self.end_desktop(false);
                    if self.phase == Phase::Ending {
                        effects.extend(self.finish_end(EndReason::EndedByCustomer));
                        return effects;
                    }
                    self.phase = Phase::Failed(failure);
                    effects.extend(self.stop_all_transfers(FileProblem::PeerGone));
                    return effects;
                }
                self.refused(code, message)
            }
            other => {
                tracing::warn!("ignored unexpected message from the relay: {other:?}");
                Vec::new()
            }
        }
    }

    fn ended_by_relay(&mut self, reason: EndReason) -> Vec<Effect> {
        let mut effects = self.end_desktop(false);
        if matches!(
            self.phase,
            Phase::Survey {
                then: AfterSurvey::Close,
                ..
            }
        ) {
            // We ended already; the survey stays until answered.
            return effects;
        }
        if self.phase == Phase::Ending {
            // Our own end came back: done.
            effects.extend(self.finish_end(reason));
            return effects;
        }
        effects.extend(self.stop_all_transfers(FileProblem::PeerGone));
        self.technician = None;
        self.system(SystemNote::Ended(reason));
        let survey = (self.served && reason == EndReason::EndedByTechnician)
            .then(|| self.survey_question())
            .flatten();
        self.phase = match survey {
            // The survey answer still goes out; the link closes after it.
            Some(question) => Phase::Survey {
                question,
                then: AfterSurvey::ShowEnd(reason),
            },
            None => {
                // The link is of no further use.
                effects.push(Effect::Finish);
                Phase::Ended(reason)
            }
        };
        effects
    }

    // ---- file events -------------------------------------------------------

    fn on_file(&mut self, ev: FileEvent) -> Vec<Effect> {
        match ev {
            FileEvent::Ready {
                id,
                name,
                size,
                sha256,
            } => {
                let can_send = self.can_send_files();
                let Some(t) = self.transfers.iter_mut().find(|t| t.id == id) else {
                    return Vec::new();
                };
                if t.state != TransferState::Preparing {
                    return Vec::new();
                }
                if !can_send {
                    t.state = TransferState::Failed(FileProblem::PeerGone);
                    return Vec::new();
                }
                let name = shorten_file_name(&name, limits::FILE_NAME_CHARS);
                t.name.clone_from(&name);
                t.size = size;
                t.state = TransferState::Offered;
                self.last_sent = Some(Sent::FileOffer(id));
                vec![Effect::Send(Message::FileOffer {
                    id,
                    name,
                    size,
                    sha256,
                })]
            }
            FileEvent::Progress { id, sent } => {
                if let Some(t) = self.transfers.iter_mut().find(|t| t.id == id)
                    && t.state == TransferState::Sending
                {
                    t.sent = sent.min(t.size);
                }
                Vec::new()
            }
            FileEvent::AllSent { id } => {
                self.set_transfer(id, |t| {
                    (t.state == TransferState::Sending).then_some(TransferState::Checking)
                });
                if let Some(t) = self.transfers.iter_mut().find(|t| t.id == id)
                    && t.state == TransferState::Checking
                {
                    t.sent = t.size;
                }
                Vec::new()
            }
            FileEvent::Failed { id, problem } => {
                let mut was_offered = false;
                self.set_transfer(id, |t| {
                    t.state.is_active().then(|| {
                        was_offered = t.state != TransferState::Preparing;
                        TransferState::Failed(problem.clone())
                    })
                });
                if was_offered {
                    vec![Effect::Send(Message::FileCancel {
                        id,
                        reason: file_problem_code(&problem).into(),
                    })]
                } else {
                    Vec::new()
                }
            }
        }
    }

    fn file_accepted(&mut self, id: u32) -> Vec<Effect> {
        let mut start = false;
        self.set_transfer(id, |t| {
            (t.state == TransferState::Offered).then(|| {
                start = true;
                TransferState::Sending
            })
        });
        if start {
            vec![Effect::StartUpload { id }]
        } else {
            Vec::new()
        }
    }

    /// Apply `f` to transfer `id`; `Some(state)` replaces its state.
    fn set_transfer(&mut self, id: u32, mut f: impl FnMut(&Transfer) -> Option<TransferState>) {
        if let Some(t) = self.transfers.iter_mut().find(|t| t.id == id) {
            if let Some(state) = f(t) {
                t.state = state;
            }
        } else {
            tracing::warn!(id, "message for an unknown file transfer ignored");
        }
    }

    fn stop_all_transfers(&mut self, problem: FileProblem) -> Vec<Effect> {
        let mut effects = Vec::new();
        for t in &mut self.transfers {
            if t.state.is_active() {
                effects.push(Effect::StopUpload { id: t.id });
                t.state = TransferState::Failed(problem.clone());
            }
        }
        effects
    }

    // ---- customer commands ------------------------------------------------

    pub fn on_command(&mut self, cmd: Command) -> Vec<Effect> {
        match (cmd, self.phase.clone()) {
            (Command::AcceptAgreement, Phase::Agreement(_)) => {
                let mut effects = vec![Effect::Send(Message::Consent {
                    topic: ConsentTopic::Agreement,
                    granted: true,
                })];
                effects.extend(self.advance_from(Step::Recording));
                effects
            }
            (Command::DeclineAgreement, Phase::Agreement(_)) => {
                self.phase = Phase::Ending;
                vec![
                    Effect::Send(Message::Consent {
                        topic: ConsentTopic::Agreement,
                        granted: false,
                    }),
                    Effect::Send(Message::End {
                        reason: EndReason::DeclinedAgreement,
                    }),
                    Effect::Finish,
                ]
            }
            (Command::Recording(granted), Phase::RecordingPrompt(_)) => {
                let mut effects = vec![Effect::Send(Message::Consent {
                    topic: ConsentTopic::Recording,
                    granted,
                })];
                effects.extend(self.advance_from(Step::Name));
                effects
            }
            (Command::Join { name, problem }, Phase::NameEntry) => {
                // The fields stop at the limits; cut here too, never send
                // what the relay must refuse.
                let name = truncate_chars(name.trim(), limits::NAME_CHARS)
                    .trim()
                    .to_owned();
                if name.is_empty() {
                    return Vec::new();
                }
                let problem = truncate_chars(problem.trim(), limits::PROBLEM_CHARS).trim();
                let problem = (!problem.is_empty()).then(|| problem.to_owned());
                self.my_name.clone_from(&name);
                self.phase = Phase::Waiting;
                self.queue = None;
                self.trouble = None;
                self.join_sent_ms = Some((self.clock)());
                self.last_sent = Some(Sent::Join);
                tracing::info!("asking to join the queue");
                vec![Effect::Send(Message::Join { name, problem })]
            }
            (Command::SendChat(text), Phase::Chatting | Phase::Waiting) => {
                let text = text.trim_end();
                if text.trim().is_empty() || self.technician.is_none() {
                    return Vec::new();
                }
                let text = truncate_chars(text, limits::CHAT_CHARS).to_owned();
                if matches!(self.trouble, Some(Trouble::ChatRefused { .. })) {
                    self.trouble = None;
                }
                self.last_sent = Some(Sent::Chat(text.clone()));
                let at_ms = (self.clock)();
                self.chat.push(ChatEntry {
                    speaker: Speaker::Me,
                    text: text.clone(),
                    at_ms,
                });
                vec![Effect::Send(Message::Chat {
                    text,
                    from: None,
                    at_ms: None,
                })]
            }
            (Command::DismissNotice(key), _) => {
                self.notices.retain(|n| n.key != key);
                Vec::new()
            }
            (Command::LeaveOnNotice, _) if self.is_live() && !self.notices.is_empty() => {
                self.notices.clear();
                self.send_end(EndReason::LeftOnNotice)
            }
            (Command::EndSession, phase) => self.end_requested(phase),
            (Command::Quit, phase) => self.quit(phase),
            (Command::SurveyAnswer { rating, comment }, Phase::Survey { then, .. }) => {
                if !(1..=5).contains(&rating) {
                    return Vec::new();
                }
                self.last_sent = Some(Sent::Other);
                let mut effects = vec![Effect::Send(Message::SurveyAnswer {
                    rating,
                    comment: truncate_chars(comment.trim(), limits::SURVEY_COMMENT_CHARS)
                        .to_owned(),
                })];
                effects.extend(self.after_survey(then));
                effects
            }
            (Command::SkipSurvey, Phase::Survey { then, .. }) => self.after_survey(then),
            (Command::SendFile(path), _) if self.can_send_files() => {
                let id = self.next_file;
                self.next_file += 1;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                self.transfers.push(Transfer {
                    id,
                    name,
                    size: 0,
                    sent: 0,
                    state: TransferState::Preparing,
                });
                vec![Effect::PrepareFile { id, path }]
            }
            (Command::CancelFile(id), _) => {
                let Some(t) = self.transfers.iter_mut().find(|t| t.id == id) else {
                    return Vec::new();
                };
                if !t.state.is_active() {
                    return Vec::new();
                }
                let offered = t.state != TransferState::Preparing;
                t.state = TransferState::Cancelled;
                let mut effects = vec![Effect::StopUpload { id }];
                if offered {
                    effects.push(Effect::Send(Message::FileCancel {
                        id,
                        reason: "cancelled".into(),
                    }));
                }
                effects
            }
            (Command::ShareAnswer(allow), Phase::Chatting) if self.share == ShareState::Asked => {
                if allow {
                    // Nothing is captured yet: the customer picks first.
                    self.share = ShareState::Picking;
                    self.system(SystemNote::Allowed(Request::ScreenShare));
                    Vec::new()
                } else {
                    self.share = ShareState::Off;
                    self.system(SystemNote::Declined(Request::ScreenShare));
                    vec![Effect::Send(Message::ShareDecline)]
                }
            }
            (Command::ShareChosen(choice), Phase::Chatting) => match self.share.clone() {
                ShareState::Picking => {
                    tracing::info!(?choice, "the customer allowed screen sharing");
                    self.share = ShareState::Active(choice.clone());
                    self.share_runs = false;
                    self.paused = false;
                    vec![Effect::StartShare(choice)]
                }
                ShareState::Active(old) if old != choice => {
                    // A new capture with the new choice; control must be
                    // asked for again.
                    tracing::info!(?choice, "the customer changed what is shared");
                    let mut effects = self.end_control(true);
                    self.share = ShareState::Active(choice.clone());
                    self.share_runs = false;
                    self.paused = false;
                    effects.push(Effect::StopShare);
                    effects.push(Effect::Send(Message::ShareStop));
                    effects.push(Effect::StartShare(choice));
                    effects
                }
                _ => {
                    tracing::warn!("a share choice without an allowed request was ignored");
                    Vec::new()
                }
            },
            (Command::SharePickerClosed, _) if self.share == ShareState::Picking => {
                self.share = ShareState::Off;
                self.system(SystemNote::Declined(Request::ScreenShare));
                vec![Effect::Send(Message::ShareDecline)]
            }
            (Command::StopSharing, _) => self.stop_desktop(true),
            (Command::ControlAnswer(allow), Phase::Chatting)
                if self.control == ControlState::Asked =>
            {
                if !allow {
                    self.control = ControlState::Off;
                    self.system(SystemNote::Declined(Request::Control));
                    return vec![Effect::Send(Message::ControlDecline)];
                }
                if !matches!(self.share, ShareState::Active(_)) {
                    // The share ended while the prompt was open.
                    self.control = ControlState::Off;
                    return vec![Effect::Send(Message::ControlDecline)];
                }
                tracing::info!("the customer allowed remote control");
                self.control = ControlState::On;
                self.system(SystemNote::Allowed(Request::Control));
                // The switch is on before the technician hears of it.
                vec![Effect::GrantControl, Effect::Send(Message::ControlGrant)]
            }
            (Command::StopControl, _) => self.end_control(true),
            (Command::PauseSharing(pause), Phase::Chatting)
                if matches!(self.share, ShareState::Active(_)) && self.paused != pause =>
            {
                self.paused = pause;
                tracing::info!(paused = pause, "the customer paused or resumed the share");
                self.system(if pause {
                    SystemNote::Paused
                } else {
                    SystemNote::Resumed
                });
                vec![
                    Effect::PauseShare(pause),
                    Effect::Send(Message::SharePause { paused: pause }),
                ]
            }
            (Command::DismissTrouble, _) => {
                // A connection or join still pending gets a new deadline.
                let now = (self.clock)();
                self.started_ms = now;
                if self.join_sent_ms.is_some() {
                    self.join_sent_ms = Some(now);
                }
                self.trouble = None;
                Vec::new()
            }
            (cmd, phase) => {
                tracing::debug!("command {cmd:?} ignored in phase {phase:?}");
                Vec::new()
            }
        }
    }

    // ---- screen sharing and control -----------------------------------------

    /// The technician asks to see the screen: show Allow/Decline.
    fn share_requested(&mut self) -> Vec<Effect> {
        if self.phase != Phase::Chatting || self.technician.is_none() {
            tracing::warn!("share request outside a served session declined");
            return vec![Effect::Send(Message::ShareDecline)];
        }
        match self.share {
            ShareState::Off => {
                self.share = ShareState::Asked;
                self.system(SystemNote::Asked(Request::ScreenShare));
                Vec::new()
            }
            // Already asking or sharing: the open prompt or share stands.
            _ => Vec::new(),
        }
    }

    /// The technician asks for control: only while sharing.
    fn control_requested(&mut self) -> Vec<Effect> {
        if self.phase != Phase::Chatting || !matches!(self.share, ShareState::Active(_)) {
            tracing::warn!("control request without an active share declined");
            self.system(SystemNote::ControlNeedsShare);
            return vec![Effect::Send(Message::ControlDecline)];
        }
        if self.control == ControlState::Off {
            self.control = ControlState::Asked;
            self.system(SystemNote::Asked(Request::Control));
        }
        Vec::new()
    }

    fn on_share_event(&mut self, ev: ShareEvent) -> Vec<Effect> {
        match ev {
            ShareEvent::Started { width, height } => {
                tracing::info!(width, height, "screen sharing runs");
                self.share_runs = true;
                Vec::new()
            }
            ShareEvent::DesktopIndicator => {
                self.system(SystemNote::DesktopIndicator);
                Vec::new()
            }
            ShareEvent::InputDeclined => {
                // The technician heard "granted" when the customer allowed
                // it here: now it is taken back; the share goes on.
                let was_on = std::mem::replace(&mut self.control, ControlState::Off);
                self.share_runs = false;
                self.system(SystemNote::Declined(Request::Control));
                let msg = if was_on == ControlState::On {
                    Message::ControlRevoke
                } else {
                    Message::ControlDecline
                };
                vec![Effect::Send(msg)]
            }
            ShareEvent::Failed(why) => {
                if !matches!(self.share, ShareState::Active(_)) {
                    return Vec::new();
                }
                tracing::warn!("screen sharing failed: {why}");
                let mut effects = self.end_control(true);
                self.share = ShareState::Off;
                self.paused = false;
                self.system(SystemNote::ShareFailed(why));
                effects.push(Effect::StopShare);
                // Never started (e.g. declined in the desktop's own
                // dialog): to the technician that is a declined request.
                let msg = if std::mem::take(&mut self.share_runs) {
                    Message::ShareStop
                } else {
                    Message::ShareDecline
                };
                effects.push(Effect::Send(msg));
                effects
            }
        }
    }

    /// Control ends (the switch first); `tell` = the customer did it.
    fn end_control(&mut self, tell: bool) -> Vec<Effect> {
        match self.control {
            ControlState::Off => Vec::new(),
            ControlState::Asked => {
                self.control = ControlState::Off;
                if tell {
                    vec![Effect::Send(Message::ControlDecline)]
                } else {
                    Vec::new()
                }
            }
            ControlState::On => {
                self.control = ControlState::Off;
                self.system(SystemNote::ControlStopped);
                let mut effects = vec![Effect::RevokeControl];
                if tell {
                    effects.push(Effect::Send(Message::ControlRevoke));
                }
                effects
            }
        }
    }

    /// Sharing and control end at once; `tell` = the customer did it (the
    /// technician gets `share_stop`, which also ends control there).
    fn stop_desktop(&mut self, tell: bool) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.paused = false;
        if self.control == ControlState::On {
            effects.push(Effect::RevokeControl);
            if tell {
                // `share_stop` ends control too; said explicitly, the
                // relay records the revocation as its own step.
                effects.push(Effect::Send(Message::ControlRevoke));
            }
            self.system(SystemNote::ControlStopped);
        }
        self.control = ControlState::Off;
        match std::mem::replace(&mut self.share, ShareState::Off) {
            ShareState::Off => {}
            ShareState::Asked | ShareState::Picking => {
                if tell {
                    effects.push(Effect::Send(Message::ShareDecline));
                }
            }
            ShareState::Active(_) => {
                tracing::info!("screen sharing stopped");
                self.system(SystemNote::ShareStopped);
                effects.push(Effect::StopShare);
                if tell {
                    effects.push(Effect::Send(Message::ShareStop));
                }
            }
        }
        effects
    }

    /// The session is over: sharing, control and the watermark end.
    fn end_desktop(&mut self, tell: bool) -> Vec<Effect> {
        let mut effects = self.stop_desktop(tell);
        if self.watermark {
            self.watermark = false;
            effects.push(Effect::Watermark(None));
        }
        effects
    }

    /// The site's watermark shows while a technician serves.
    fn watermark_on(&mut self) -> Vec<Effect> {
        let site = self.site.as_ref().filter(|s| s.watermark);
        match site {
            Some(site) if !self.watermark => {
                self.watermark = true;
                vec![Effect::Watermark(Some(site.name.clone()))]
            }
            _ => Vec::new(),
        }
    }

    /// End session button or window close, in any phase.
    fn end_requested(&mut self, phase: Phase) -> Vec<Effect> {
        match phase {
            // No session on the relay (yet): just close.
            Phase::Connecting | Phase::Failed(_) | Phase::Ended(_) => {
                self.phase = match phase {
                    Phase::Failed(_) | Phase::Ended(_) => phase,
                    _ => Phase::Ended(EndReason::EndedByCustomer),
                };
                vec![Effect::Finish, Effect::Close]
            }
            // Closing again during the survey: skip it.
            Phase::Survey { then, .. } => self.after_survey(then),
            Phase::Ending => Vec::new(),
            Phase::Chatting | Phase::Waiting if self.served => match self.survey_question() {
                // Everything ends at the click, the relay's session
                // included; the survey asks afterwards while nothing is
                // shared and the link stays only for its answer.
                Some(question) => {
                    let effects = self.end_now(EndReason::EndedByCustomer);
                    tracing::info!("the session ended; asking the survey");
                    self.phase = Phase::Survey {
                        question,
                        then: AfterSurvey::Close,
                    };
                    effects
                }
                None => self.send_end(EndReason::EndedByCustomer),
            },
            _ => self.send_end(EndReason::EndedByCustomer),
        }
    }

    /// Stop now: like the close button, without the survey; the window
    /// closes once `end` reached the relay (or at once if nothing is left
    /// to say).
    fn quit(&mut self, phase: Phase) -> Vec<Effect> {
        match phase {
            Phase::Survey {
                then: then @ AfterSurvey::ShowEnd(_),
                ..
            } => {
                let mut effects = self.after_survey(then);
                effects.push(Effect::Close);
                effects
            }
            Phase::Survey { then, .. } => self.after_survey(then),
            Phase::Chatting | Phase::Waiting => self.send_end(EndReason::EndedByCustomer),
            other => self.end_requested(other),
        }
    }

    fn after_survey(&mut self, then: AfterSurvey) -> Vec<Effect> {
        match then {
            AfterSurvey::Close => {
                self.phase = Phase::Ending;
                vec![Effect::Finish]
            }
            AfterSurvey::ShowEnd(reason) => {
                self.phase = Phase::Ended(reason);
                vec![Effect::Finish]
            }
        }
    }

    /// End the session now and close the link once `end` reached the relay.
    fn send_end(&mut self, reason: EndReason) -> Vec<Effect> {
        let mut effects = self.end_now(reason);
        self.phase = Phase::Ending;
        effects.push(Effect::Finish);
        effects
    }

    /// Control off, capture stopped, watermark gone, transfers stopped and
    /// `end` sent, in this order (the link stays open).
    fn end_now(&mut self, reason: EndReason) -> Vec<Effect> {
        let mut effects = self.end_desktop(true);
        effects.extend(self.stop_all_transfers(FileProblem::PeerGone));
        for t in &mut self.transfers {
            if t.state == TransferState::Failed(FileProblem::PeerGone) {
                t.state = TransferState::Cancelled;
            }
        }
        self.technician = None;
        effects.push(Effect::Send(Message::End { reason }));
        effects
    }
}

/// Order of the pre-session steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Agreement,
    Recording,
    Name,
}

/// Short reason code sent in `file_cancel`.
pub fn file_problem_code(problem: &FileProblem) -> &'static str {
    match problem {
        FileProblem::Vanished => "file_vanished",
        FileProblem::Unreadable(_) => "unreadable",
        FileProblem::PeerGone => "peer_gone",
        FileProblem::Interrupted => "interrupted",
        FileProblem::Corrupted => "corrupted",
        FileProblem::Stopped(_) => "stopped",
        FileProblem::Refused(_) => "refused",
    }
}

/// `name` cut to at most `limit` characters, keeping its extension
/// (`a-very-long…name.pdf` → `a-very-lo.pdf`); an extension too long to
/// keep is cut like the rest.
pub fn shorten_file_name(name: &str, limit: usize) -> String {
    if limits::check_chars(name, limit).is_ok() {
        return name.to_owned();
    }
    let ext = name
        .rfind('.')
        .filter(|&dot| dot > 0)
        .map(|dot| &name[dot..])
        .filter(|ext| ext.chars().count() < limit / 2);
    match ext {
        Some(ext) => {
            let keep = limit - ext.chars().count();
            let stem = &name[..name.len() - ext.len()];
            format!("{}{ext}", truncate_chars(stem, keep))
        }
        None => truncate_chars(name, limit).to_owned(),
    }
}

/// Only http(s) URLs are opened in the browser.
fn is_web_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

#[derive(Debug, thiserror::Error)]
pub enum AvatarError {
    #[error("not base64")]
    Base64,
    #[error("larger than {0} bytes")]
    TooLarge(usize),
    #[error("not a PNG or JPEG image: {0}")]
    Image(String),
}

/// Decode a base64 PNG/JPEG avatar, bounded in bytes and pixels.
pub fn decode_avatar(b64: &str) -> Result<Avatar, AvatarError> {
    use base64::Engine as _;
    if b64.len() > lotse_protocol::MAX_AVATAR_BYTES * 4 / 3 + 8 {
        return Err(AvatarError::TooLarge(lotse_protocol::MAX_AVATAR_BYTES));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| AvatarError::Base64)?;
    if bytes.len() > lotse_protocol::MAX_AVATAR_BYTES {
        return Err(AvatarError::TooLarge(lotse_protocol::MAX_AVATAR_BYTES));
    }
    decode_image(&bytes)
}

/// Decode PNG/JPEG bytes to RGBA within the protocol's image limits
/// (`lotse_protocol::limits::IMAGE_MAX_*`): more than `IMAGE_MAX_SIDE` on a
/// side or `IMAGE_MAX_PIXELS` pixels is refused after reading the header,
/// before any pixel buffer exists. Every image the client decodes goes
/// through here.
pub fn decode_image(bytes: &[u8]) -> Result<Avatar, AvatarError> {
    use image::ImageDecoder as _;
    use lotse_protocol::limits::{IMAGE_MAX_PIXELS, IMAGE_MAX_SIDE};
    let err = |e: image::ImageError| AvatarError::Image(e.to_string());
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| AvatarError::Image(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(IMAGE_MAX_SIDE);
    limits.max_image_height = Some(IMAGE_MAX_SIDE);
    limits.max_alloc = Some(IMAGE_MAX_PIXELS * 4);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(err)?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > IMAGE_MAX_PIXELS
        || decoder.total_bytes() > IMAGE_MAX_PIXELS * 4
    {
        return Err(AvatarError::Image(format!("{w}×{h} pixels is too large")));
    }
    let img = image::DynamicImage::from_decoder(decoder).map_err(err)?;
    let img = if img.width() > MAX_AVATAR_SIDE || img.height() > MAX_AVATAR_SIDE {
        img.thumbnail(MAX_AVATAR_SIDE, MAX_AVATAR_SIDE)
    } else {
        img
    };
    let rgba = img.to_rgba8();
    Ok(Avatar {
        width: rgba.width(),
        height: rgba.height(),
        rgba: rgba.into_raw(),
    })
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "session_share_tests.rs"]
mod share_tests;

#[cfg(test)]
#[path = "session_trouble_tests.rs"]
mod trouble_tests;
