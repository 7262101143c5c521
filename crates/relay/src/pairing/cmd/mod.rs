//! One handler per message kind, as mini-redis's `src/cmd/`: this file
//! numbers and acknowledges what arrives, checks who may send it and
//! hands it to its handler; each handler decides under the locks it needs
//! and leaves records and queue updates for after them
//! ([`super::After`]).
//!
//! | file | messages |
//! | --- | --- |
//! | `hello` | a customer's `hello` (new, resumed, elevated), a technician's |
//! | `join` | `join` |
//! | `chat` | `chat` both ways |
//! | `consent` | `consent` |
//! | `answer` | the customer's share, control and file messages |
//! | `end` | `end`, `survey_answer`, a customer's link lost, the grace period |
//! | `accept` | `accept`, `hand_back`, a technician's link lost |
//! | `profile` | `profile` |
//! | `forward` | the technician's requests, input, files and notices |

mod accept;
mod answer;
mod chat;
mod consent;
mod end;
mod forward;
mod hello;
mod join;
mod profile;

use lotse_link::Inbox;
use lotse_protocol::{Envelope, ErrorCode, Message};

use super::{Handled, Hub, Incoming, Link, err, lock, too_large, wire};

/// Whether `seq` is the next one from the sender (then it is used up).
fn take_seq(inbox: &mut Inbox, seq: u64) -> bool {
    inbox.accept(&Envelope::new(Message::Nudge).with_seq(seq))
}

/// What a customer may send (besides `hello`).
fn customer_may_send(msg: &Message) -> bool {
    matches!(
        msg,
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
    )
}

/// What a technician may send on its work link (besides `hello`, `logout`).
fn tech_may_send(msg: &Message) -> bool {
    matches!(
        msg,
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
    )
}

impl Hub {
    /// A text frame from a customer link that did not decode: its `seq`
    /// is used up and acknowledged (docs/PROTOCOL.md §5; the error naming
    /// it went out already).
    pub fn customer_refused(&self, sid: u64, link_id: u64, text: &str) {
        let Some(sref) = self.session(sid) else {
            return;
        };
        let mut s = lock(&sref);
        if let Some(link) = s.customer.clone().filter(|l| l.id == link_id)
            && s.c_in.refuse(text).is_some()
        {
            link.send(wire::ack(s.c_in.last()));
        }
    }

    /// One text message from a customer link.
    pub fn customer_message(&self, sid: u64, link_id: u64, msg: Incoming) -> Handled {
        let Some(sref) = self.session(sid) else {
            return Handled::Close;
        };
        let mut s = lock(&sref);
        let Some(link) = s.customer.clone().filter(|l| l.id == link_id) else {
            return Handled::Close;
        };
        // Numbered messages take their place in the sequence even when
        // refused below, so the sender's later messages are not held up.
        if let Some(seq) = msg.seq() {
            let fresh = take_seq(&mut s.c_in, seq);
            link.send(wire::ack(s.c_in.last()));
            if !fresh {
                return Handled::Ok;
            }
        }
        let env = match msg {
            Incoming::Ack { seq, .. } => {
                s.c_out.ack(seq);
                return Handled::Ok;
            }
            Incoming::Chat { seq, text, .. } => {
                return self.customer_chat(sid, s, &link, seq, text);
            }
            Incoming::Input { .. } => {
                link.send_env(&not_allowed("a customer"));
                return Handled::Strike;
            }
            Incoming::Full(env) => env,
        };
        if let Err(strike) = admit(&link, &env, customer_may_send, "a customer") {
            return strike;
        }
        match env.msg {
            Message::Ack { seq } => {
                s.c_out.ack(seq);
                Handled::Ok
            }
            Message::Chat { text, .. } => self.customer_chat(sid, s, &link, env.seq, text),
            Message::Consent { topic, granted } => self.consent(sid, s, topic, granted),
            Message::Join { name, problem } => self.join(sid, s, &link, name, problem),
            Message::End { reason } => self.customer_end(sid, s, &link, reason),
            Message::SurveyAnswer { rating, comment } => {
                self.survey(sid, s, &link, rating, comment)
            }
            other => self.answer(sid, s, &link, other),
        }
    }

    /// A text frame from a technician link that did not decode: like
    /// [`Hub::customer_refused`].
    pub fn tech_refused(&self, link_id: u64, text: &str) {
        let Some(tref) = self.tech(link_id) else {
            return;
        };
        let mut t = lock(&tref);
        if t.t_in.refuse(text).is_some() {
            t.link.send(wire::ack(t.t_in.last()));
        }
    }

    /// One text message from a technician link.
    pub fn tech_message(&self, link_id: u64, msg: Incoming) -> Handled {
        let Some(tref) = self.tech(link_id) else {
            return Handled::Close;
        };
        let mut t = lock(&tref);
        let link = t.link.clone();
        // Numbered messages take their place in the sequence even when
        // refused below, so the sender's later messages are not held up.
        if let Some(seq) = msg.seq() {
            let fresh = take_seq(&mut t.t_in, seq);
            link.send(wire::ack(t.t_in.last()));
            if !fresh {
                return Handled::Ok;
            }
        }
        let session = msg.session();
        let env = match msg {
            Incoming::Ack { seq, .. } => {
                t.t_out.ack(seq);
                return Handled::Ok;
            }
            Incoming::Chat { seq, text, .. } => {
                if let Err(why) = crate::compose::check_chat(&text) {
                    link.send_env(&too_large(why, seq));
                    return Handled::Strike;
                }
                let Some(sid) = session.filter(|sid| t.sessions.contains(sid)) else {
                    drop(t);
                    return not_served(&link);
                };
                let display_name = t.display_name.clone();
                drop(t);
                return self.tech_chat(link_id, sid, &display_name, &text);
            }
            Incoming::Input { event, .. } => {
                let Some(sid) = session.filter(|sid| t.sessions.contains(sid)) else {
                    drop(t);
                    return not_served(&link);
                };
                drop(t);
                return self.tech_input(link_id, sid, &event);
            }
            Incoming::Full(env) => env,
        };
        if let Err(strike) = admit(&link, &env, tech_may_send, "a technician") {
            return strike;
        }
        match env.msg {
            Message::Ack { seq } => {
                t.t_out.ack(seq);
                Handled::Ok
            }
            Message::Profile {
                display_name,
                avatar,
            } => Self::profile(&mut t, &link, &display_name, avatar),
            Message::Accept { session } => {
                drop(t);
                self.accept(link_id, session)
            }
            msg => {
                let Some(sid) = session.filter(|sid| t.sessions.contains(sid)) else {
                    drop(t);
                    return not_served(&link);
                };
                let who = t.user.clone();
                let display_name = t.display_name.clone();
                drop(t);
                if let Message::Chat { text, .. } = msg {
                    return self.tech_chat(link_id, sid, &display_name, &text);
                }
                self.forward_from_tech(link_id, sid, &who, msg)
            }
        }
    }
}

/// What every decoded message passes: its text limits (`too_large`
/// naming the field) and whether `who` may send it at all.
fn admit(
    link: &Link,
    env: &Envelope,
    may_send: fn(&Message) -> bool,
    who: &str,
) -> Result<(), Handled> {
    if let Err(why) = crate::compose::check_arrival(&env.msg) {
        link.send_env(&too_large(why, env.seq));
        return Err(Handled::Strike);
    }
    if !may_send(&env.msg) {
        link.send_env(&not_allowed(who));
        return Err(Handled::Strike);
    }
    Ok(())
}

fn not_allowed(who: &str) -> Envelope {
    err(
        ErrorCode::NotAllowed,
        &format!("{who} may not send this message"),
    )
}

fn not_served(link: &Link) -> Handled {
    link.send_env(&err(
        ErrorCode::NotFound,
        "set `session` to a session you serve",
    ));
    Handled::Strike
}
