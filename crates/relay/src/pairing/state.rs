//! What the hub knows about one session and one technician link, and the
//! decisions that need nothing else (grants, the relay's gate on a
//! technician's requests). No IO here.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use lotse_link::Inbox;
use lotse_protocol::{ChatLine, ConsentRecord, ConsentTopic, Lang, Message, Role};
use tokio::time::Instant;

use super::link::Link;
use super::outbox::TextOutbox;
use crate::recording::Tape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Answering the texts; not yet in the queue.
    Prejoin,
    Waiting {
        since: Instant,
    },
    Served {
        tech: u64,
    },
    Ended,
}

impl State {
    /// Not served yet (the waiting room).
    pub(crate) fn unserved(self) -> bool {
        matches!(self, State::Prejoin | State::Waiting { .. })
    }

    pub(crate) fn tech(self) -> Option<u64> {
        match self {
            State::Served { tech } => Some(tech),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) role: Role,
    pub(crate) lang: Lang,
    pub(crate) name: String,
    pub(crate) problem: Option<String>,
    pub(crate) resume_token: String,
    pub(crate) state: State,
    pub(crate) customer: Option<Link>,
    pub(crate) away_gen: u64,
    pub(crate) c_in: Inbox,
    pub(crate) c_out: TextOutbox,
    pub(crate) history: Vec<ChatLine>,
    pub(crate) consents: Vec<ConsentRecord>,
    pub(crate) surveyed: bool,
    /// Web chat: the key a full client presents to take this session over.
    pub(crate) elevation_key: Option<String>,
    /// Set while the customer allows recording.
    pub(crate) recording: Option<Arc<Tape>>,
    /// The address the session was opened from.
    pub(crate) ip: IpAddr,
    /// Chat lines the customer wrote while no technician served the session.
    pub(crate) waiting_lines: usize,
    /// What the customer allows the technician right now.
    pub(crate) grants: Grants,
    /// The last `queue_status` sent (position, estimate, technicians):
    /// updates go only to customers whose status changed.
    pub(crate) last_status: Option<(u32, u64, u32)>,
}

/// The relay's own view of the customer's grants: a second line behind the
/// client's guard. Input is forwarded only while sharing runs and control
/// is granted.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    pub(crate) share: bool,
    pub(crate) control: bool,
    /// The customer paused the share and control (the grants stay).
    pub(crate) paused: bool,
    /// Input events dropped since the last entry in the record.
    pub(crate) dropped_input: u64,
}

/// What happens to a technician's message about a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    Forward,
    /// Input without the customer's grant: dropped and counted.
    DropInput,
    /// Control asked for while nothing is shared: the relay declines it.
    DeclineControl,
}

impl Session {
    pub(crate) fn new(role: Role, lang: Lang, link: &Link, resume_token: String) -> Self {
        Self {
            role,
            lang,
            name: String::new(),
            problem: None,
            resume_token,
            state: State::Prejoin,
            customer: Some(link.clone()),
            away_gen: 0,
            c_in: Inbox::default(),
            c_out: TextOutbox::default(),
            history: Vec::new(),
            consents: Vec::new(),
            surveyed: false,
            elevation_key: None,
            recording: None,
            ip: link.ip,
            waiting_lines: 0,
            grants: Grants::default(),
            last_status: None,
        }
    }

    /// Who the customer is in the record.
    pub(crate) fn who(&self) -> String {
        if self.name.is_empty() {
            "customer".to_owned()
        } else {
            self.name.clone()
        }
    }

    /// The role's name in the record.
    pub(crate) fn role_label(&self) -> &'static str {
        if self.role == Role::WebCustomer {
            "web_customer"
        } else {
            "customer"
        }
    }

    /// Number `msg` in the customer's outbox and send it if the customer
    /// is connected (otherwise it waits in the outbox for a resume).
    pub(crate) fn send_to_customer(&mut self, msg: Message) {
        let text = self.c_out.stamp(lotse_protocol::Envelope::new(msg));
        if let Some(link) = &self.customer {
            link.send(text);
        }
    }

    pub(crate) fn consent(&mut self, topic: ConsentTopic, granted: bool, at_ms: i64) {
        self.consents.push(ConsentRecord {
            topic,
            granted,
            at_ms,
        });
    }

    /// A customer's answer to a share or control request: what it now
    /// allows, and the consent to record (`share_stop` also ends control).
    pub(crate) fn customer_grant(
        &mut self,
        msg: &Message,
        at_ms: i64,
    ) -> Vec<(ConsentTopic, bool)> {
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
    pub(crate) fn end_grants(&mut self, share: bool, at_ms: i64) {
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

    /// Whether an input event may reach the customer (not while paused).
    pub(crate) fn gate_input(&mut self) -> Gate {
        if self.grants.share && self.grants.control && !self.grants.paused {
            Gate::Forward
        } else {
            self.grants.dropped_input += 1;
            Gate::DropInput
        }
    }

    /// Whether a technician's message may reach the customer; updates the
    /// grants for the technician's own stops.
    pub(crate) fn tech_gate(&mut self, msg: &Message, at_ms: i64) -> Gate {
        match msg {
            Message::Input { .. } => self.gate_input(),
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
pub(crate) struct Tech {
    pub(crate) link: Link,
    pub(crate) user: String,
    pub(crate) display_name: String,
    pub(crate) avatar: Option<String>,
    pub(crate) t_in: Inbox,
    pub(crate) t_out: TextOutbox,
    pub(crate) sessions: HashSet<u64>,
    /// The link closed: sessions it was about to take go back instead.
    pub(crate) gone: bool,
    /// The last `queue` sent: an unchanged queue is not sent again.
    pub(crate) last_queue: Option<Arc<str>>,
}

impl Tech {
    /// Number `text` for this technician (see [`TextOutbox::push`]) and send it.
    pub(crate) fn send_numbered(&mut self, encode: impl FnOnce(u64) -> String) {
        let text = self.t_out.push(encode);
        self.link.send(text);
    }

    /// Number and send a message the relay composed.
    pub(crate) fn send(&mut self, env: lotse_protocol::Envelope) {
        let text = self.t_out.stamp(env);
        self.link.send(text);
    }
}

/// One waiting customer in the queue: what technicians see of it.
#[derive(Debug, Clone)]
pub(crate) struct Waiting {
    pub(crate) sid: u64,
    pub(crate) since: Instant,
    pub(crate) name: String,
    pub(crate) problem: Option<String>,
    pub(crate) role: Role,
}
