//! JSON control messages. Field names are `snake_case`; the variant name
//! (snake_case) is the `"type"` field.

use serde::{Deserialize, Serialize};

/// Every JSON text frame.
///
/// * `seq` — per-sender sequence number on messages that must not be lost
///   (chat, notices, consent, grants, input, files). The receiver
///   acknowledges with [`Message::Ack`] and drops a `seq` it has already
///   seen; the sender keeps unacknowledged messages and sends them again
///   after a reconnect. Absent on everything else.
/// * `session` — on technician links only: which session (the relay's
///   session id) the message belongs to. A technician may serve several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
    #[serde(flatten)]
    pub msg: Message,
}

impl Envelope {
    pub fn new(msg: Message) -> Self {
        Self {
            seq: None,
            session: None,
            msg,
        }
    }
    pub fn with_seq(mut self, seq: u64) -> Self {
        self.seq = Some(seq);
        self
    }
    pub fn with_session(mut self, session: u64) -> Self {
        self.session = Some(session);
        self
    }
}

impl From<Message> for Envelope {
    fn from(msg: Message) -> Self {
        Self::new(msg)
    }
}

/// Who is on the other end of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The downloaded customer client.
    Customer,
    /// The browser web chat (Click-to-Chat).
    WebCustomer,
    /// A technician console.
    Technician,
}

/// Languages with UI translations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    De,
    #[default]
    En,
}

/// A customer's yes/no answer, recorded with a timestamp by the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentTopic {
    /// The site's customer agreement (declining ends the session).
    Agreement,
    /// Web chat: the prompt to chat with a technician.
    ChatPrompt,
    /// Whether the session may be recorded.
    Recording,
    /// Screen sharing (answer to [`Message::ShareRequest`]).
    ScreenShare,
    /// Remote control (answer to [`Message::ControlRequest`]).
    Control,
    /// Moving from the web chat to the full client.
    Elevation,
    /// Desktop notifications in the web chat.
    Notifications,
}

/// What a customer chose to share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ShareScope {
    /// A whole monitor (index into the customer's monitor list).
    Screen { monitor: u32 },
    /// Only these applications' windows; everything else is blacked out.
    Apps { apps: Vec<String> },
    /// The browser's own picker chose (web chat).
    Browser,
}

/// Why a session or a link ended. Recorded in the session record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The customer closed the window or pressed End session.
    EndedByCustomer,
    /// The customer left through a customer notice (no exit survey).
    LeftOnNotice,
    /// The customer declined the agreement.
    DeclinedAgreement,
    /// The technician ended the session.
    EndedByTechnician,
    /// The customer's link was gone longer than the grace period.
    CustomerGone,
    /// The session moved from the web chat to the full client.
    Elevated,
    /// The relay is shutting down.
    RelayShutdown,
}

/// Machine-readable error codes of [`Message::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The peer speaks another protocol version; the link closes.
    VersionMismatch,
    /// Not valid JSON, or not a known message.
    Malformed,
    /// Larger than the limit (the link closes with 1009).
    TooLarge,
    /// The first message was not `hello`, or a message came out of order.
    BadState,
    /// This role may not send this message.
    NotAllowed,
    /// No such session, customer or transfer.
    NotFound,
    /// Wrong user name or password.
    LoginFailed,
    /// Too many failed attempts; try again after `retry_after_secs`.
    LockedOut,
    /// Too many messages; the link closes with 1008.
    RateLimited,
    /// The session key is unknown or expired.
    BadKey,
    /// A count limit was reached (waiting-room chat lines, waiting sessions
    /// from one address); the message was not processed.
    TooMany,
    /// Something failed inside the relay; nothing was lost.
    Internal,
}

/// Texts and settings the customer sees before and during a session.
/// Every text is optional: absent means the step is skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SiteInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_prompt: Option<String>,
    /// May contain `{position}` and `{wait}` placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    /// Exit survey question; absent = no survey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survey: Option<String>,
    pub hold_interval_secs: u32,
    pub watermark: bool,
}

/// One waiting customer as the technicians' queue shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// The session id the customer will have once accepted.
    pub session: u64,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    pub waiting_secs: u64,
    /// `customer` (full client) or `web_customer` (Click-to-Chat).
    pub role: Role,
}

/// A notice the site offers (for the technician's list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeInfo {
    pub id: String,
    pub text: String,
}

/// One line of a session's history, as a technician or an elevated client
/// sees it when joining.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    pub from: String,
    pub role: Role,
    pub text: String,
    /// Milliseconds since the Unix epoch, stamped by the relay.
    pub at_ms: i64,
}

/// One input event from the technician, in customer screen pixels of the
/// shared area (the client maps them to its monitors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputEvent {
    MouseMove {
        x: i32,
        y: i32,
    },
    MouseButton {
        button: MouseButton,
        down: bool,
    },
    Wheel {
        dx: i32,
        dy: i32,
    },
    /// A named key (`"Return"`, `"a"`, `"F5"`, `"Control"`…) pressed or released.
    Key {
        key: String,
        down: bool,
    },
    /// Literal text to type (any Unicode).
    Text {
        text: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MouseButton {
    Left,
    Middle,
    Right,
}

/// Every control message. `"type"` is the snake_case variant name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    // ---- handshake -------------------------------------------------------
    /// First message of every link, from the connecting peer.
    Hello {
        version: u32,
        role: Role,
        /// Free text: program and version, e.g. `"lotse-client 0.1.0"`.
        #[serde(default)]
        agent: String,
        #[serde(default)]
        lang: Lang,
        /// Set when reconnecting to a session kept during the grace period.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Resume>,
    },
    /// The relay's answer to `hello`.
    Welcome {
        version: u32,
        /// Customers: their session id. Technicians: absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<u64>,
        /// Customers: secret to resume this session after a cut.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_token: Option<String>,
        /// Customers: the site's texts. Technicians: site name only.
        site: SiteInfo,
        /// Highest `seq` the relay has received from this peer (on resume).
        #[serde(default)]
        last_seq: u64,
    },

    // ---- technician login (path /ws/login) --------------------------------
    Login {
        user: String,
        password: String,
    },
    LoginOk {
        token: String,
        display_name: String,
    },
    /// Technician → relay on `/ws/technician`: end this login. The relay
    /// revokes the token and closes every link opened with it.
    Logout,

    // ---- customer before the session --------------------------------------
    /// Customer → relay: enter the queue (after the texts were answered).
    Join {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<String>,
    },
    /// Customer → relay: an answer to a prompt. Technician ← relay: the same,
    /// forwarded, so the console shows what the customer granted.
    Consent {
        topic: ConsentTopic,
        granted: bool,
    },
    /// Relay → customer: place in the queue, on every change and at the hold interval.
    QueueStatus {
        position: u32,
        estimated_wait_secs: u64,
        technicians_online: u32,
    },
    /// Relay → customer: the repeating hold message.
    Hold {
        text: String,
    },
    /// Relay → customer: no technician is logged in.
    NoTechnician {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    /// A customer notice (relay or technician → customer). Offers to leave.
    Notice {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        text: String,
    },
    /// Technician → relay: send the site's notice `id` or a custom `text`.
    SendNotice {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },

    // ---- technician queue --------------------------------------------------
    /// Relay → technician: the whole waiting queue, on every change.
    Queue {
        entries: Vec<QueueEntry>,
        /// Notices the site offers.
        #[serde(default)]
        notices: Vec<NoticeInfo>,
        /// Waiting customers left out of `entries` because the whole queue
        /// does not fit in one message (the shortest waiting ones).
        #[serde(default, skip_serializing_if = "is_zero")]
        not_listed: u32,
    },
    /// Technician → relay: take this customer (session id from the queue).
    Accept {
        session: u64,
    },
    /// Relay → technician: you now serve `session` (also sent on resume).
    SessionStarted {
        session: u64,
        customer_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<String>,
        role: Role,
        #[serde(default)]
        history: Vec<ChatLine>,
        #[serde(default)]
        consents: Vec<ConsentRecord>,
    },
    /// Relay → customer: a technician took the session.
    TechnicianJoined {
        name: String,
        /// Avatar image (PNG or JPEG), base64, at most 40 KiB raw.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        avatar: Option<String>,
    },
    /// Technician → relay: the technician's display name and avatar.
    Profile {
        display_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        avatar: Option<String>,
    },
    /// Technician → relay: put the session back into the queue.
    HandBack,
    /// Relay → customer: back in the queue, waiting for another technician.
    ReturnedToQueue,

    // ---- chat and nudge ----------------------------------------------------
    /// Chat text. Senders leave `from`/`at_ms` out; the relay fills them in.
    Chat {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_ms: Option<i64>,
    },
    /// Acknowledges every message up to and including `seq` from the peer.
    Ack {
        seq: u64,
    },
    /// Technician → customer: bring the window forward, shake, sound.
    Nudge,
    /// Relay → technician: the customer's link dropped; kept for `grace_secs`.
    PeerAway {
        grace_secs: u32,
    },
    /// Relay → technician/customer: the other side is back.
    PeerBack,

    // ---- screen sharing ----------------------------------------------------
    ShareRequest,
    /// Customer → technician: sharing started with this scope and size.
    ShareGrant {
        scope: ShareScope,
        width: u32,
        height: u32,
    },
    ShareDecline,
    /// Either side: sharing ended. From the customer it also revokes control.
    ShareStop,
    /// Customer → technician: the customer paused (`true`) or resumed the
    /// share and control; while paused no frame and no input passes.
    SharePause {
        paused: bool,
    },
    /// Technician → customer: the technician applied screen frame `frame`
    /// (pacing: at most one unacknowledged frame in flight).
    FrameAck {
        frame: u64,
    },
    /// Technician → customer: the technician's decoder lost the update
    /// stream (a decode error, or updates missed across a reconnect); the
    /// next screen update must be a keyframe.
    KeyframeRequest,

    // ---- remote control ----------------------------------------------------
    ControlRequest,
    ControlGrant,
    ControlDecline,
    /// Either side: control ended.
    ControlRevoke,
    /// Technician → customer: one input event; applied only under a grant.
    Input {
        event: InputEvent,
    },

    // ---- files (customer → technician) -------------------------------------
    FileOffer {
        id: u32,
        name: String,
        size: u64,
        /// Lowercase hex SHA-256 of the whole file.
        sha256: String,
    },
    FileAccept {
        id: u32,
    },
    FileDecline {
        id: u32,
    },
    /// Either side: the transfer stopped; nothing is kept.
    FileCancel {
        id: u32,
        reason: String,
    },
    /// Technician → customer: the file arrived; `ok` = hash matched.
    FileDone {
        id: u32,
        ok: bool,
        sha256: String,
    },

    // ---- elevation (web chat → full client) --------------------------------
    ElevateRequest,
    /// Relay → web customer (after consent): fetch the client from `download`
    /// or open `url` (the `lotse://` scheme) to continue this session.
    ElevateReady {
        url: String,
        download: String,
    },
    /// Relay → web customer: the session continues in the full client.
    Elevated,
    /// Relay → the full client that took a web chat session over (right
    /// after `welcome`), and relay → technician (right after
    /// `session_started`): earlier lines of the conversation, in pages that
    /// each fit in [`crate::MAX_TEXT_BYTES`]. Each page holds lines older
    /// than everything shown so far: the receiver puts them in front. A
    /// full client that took a web chat session over goes straight to the
    /// chat (the prompts were answered in the web chat).
    ChatHistory {
        lines: Vec<ChatLine>,
    },

    // ---- end ---------------------------------------------------------------
    /// Customer → relay: the survey answer (rating 1..=5 and a comment).
    SurveyAnswer {
        rating: u8,
        #[serde(default)]
        comment: String,
    },
    /// Ends the session (customer or technician → relay), or tells a peer
    /// it ended (relay → both).
    End {
        reason: EndReason,
    },

    /// Something was wrong with the last message. `fatal` means the link closes.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default)]
        fatal: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
        /// The `seq` of the refused reliable message this error answers
        /// (docs/PROTOCOL.md §5): that `seq` is used up and acknowledged,
        /// the sender must not send it again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refused_seq: Option<u64>,
    },
}

/// Reconnect ticket in `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    pub session: u64,
    pub token: String,
    /// Highest `seq` this peer has received from the relay.
    pub last_seq: u64,
}

/// A consent answer or grant with its time, for the console's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub topic: ConsentTopic,
    pub granted: bool,
    pub at_ms: i64,
}

impl Message {
    /// Whether this message must reach the far side exactly once and in
    /// order, so it carries a `seq` and waits for an `ack`.
    pub fn is_reliable(&self) -> bool {
        !matches!(
            self,
            Message::Hello { .. }
                | Message::Welcome { .. }
                | Message::Login { .. }
                | Message::LoginOk { .. }
                | Message::Logout
                | Message::Ack { .. }
                | Message::QueueStatus { .. }
                | Message::Queue { .. }
                | Message::Hold { .. }
                | Message::FrameAck { .. }
                | Message::PeerAway { .. }
                | Message::PeerBack
                | Message::Error { .. }
        )
    }

    /// Messages only a technician may send.
    pub fn technician_only(&self) -> bool {
        matches!(
            self,
            Message::Accept { .. }
                | Message::SendNotice { .. }
                | Message::Profile { .. }
                | Message::HandBack
                | Message::Nudge
                | Message::ShareRequest
                | Message::FrameAck { .. }
                | Message::KeyframeRequest
                | Message::ControlRequest
                | Message::Input { .. }
                | Message::FileAccept { .. }
                | Message::FileDecline { .. }
                | Message::FileDone { .. }
                | Message::ElevateRequest
                | Message::Logout
        )
    }

    /// Messages only a customer (client or web chat) may send.
    pub fn customer_only(&self) -> bool {
        matches!(
            self,
            Message::Join { .. }
                | Message::Consent { .. }
                | Message::ShareGrant { .. }
                | Message::ShareDecline
                | Message::SharePause { .. }
                | Message::ControlGrant
                | Message::ControlDecline
                | Message::FileOffer { .. }
                | Message::SurveyAnswer { .. }
        )
    }

    /// Messages only the relay sends.
    pub fn relay_only(&self) -> bool {
        matches!(
            self,
            Message::Welcome { .. }
                | Message::LoginOk { .. }
                | Message::QueueStatus { .. }
                | Message::Hold { .. }
                | Message::NoTechnician { .. }
                | Message::Queue { .. }
                | Message::SessionStarted { .. }
                | Message::TechnicianJoined { .. }
                | Message::ReturnedToQueue
                | Message::PeerAway { .. }
                | Message::PeerBack
                | Message::ElevateReady { .. }
                | Message::Elevated
                | Message::ChatHistory { .. }
        )
    }

    /// Convenience: an error message.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Message::Error {
            code,
            message: message.into(),
            fatal: false,
            retry_after_secs: None,
            refused_seq: None,
        }
    }

    /// Convenience: a non-fatal error answering the refused reliable
    /// message `seq` (None: the refused message was not numbered).
    pub fn refusal(code: ErrorCode, message: impl Into<String>, seq: Option<u64>) -> Self {
        Message::Error {
            code,
            message: message.into(),
            fatal: false,
            retry_after_secs: None,
            refused_seq: seq,
        }
    }
}

/// For `skip_serializing_if`: a count of zero is left out.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes a reference
fn is_zero(n: &u32) -> bool {
    *n == 0
}
