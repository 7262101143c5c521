//! A customer's `hello` (a new session, a resumed one, or a web session
//! taken over by the full client) and a technician's.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use lotse_link::Inbox;
use lotse_protocol::{
    Envelope, ErrorCode, Lang, Message, PROTOCOL_VERSION, Resume, Role, SiteInfo,
};

use super::accept::send_session_started;
use crate::auth::{random_token, same_secret};
use crate::compose;
use crate::pairing::outbox::TextOutbox;
use crate::pairing::state::{Session, State, Tech};
use crate::pairing::{After, Hub, Link, WAITING_SESSIONS_PER_ADDRESS, lock};
use crate::store::{Job, now_ms};

fn fatal(code: ErrorCode, message: &str) -> Envelope {
    Envelope::new(Message::Error {
        code,
        message: message.into(),
        fatal: true,
        retry_after_secs: None,
        refused_seq: None,
    })
}

impl Hub {
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
        if !self.enter_room(link.ip) {
            tracing::warn!(ip = %link.ip, "too many waiting customers from one address");
            link.send_env(&fatal(
                ErrorCode::TooMany,
                "too many customers from your network are waiting already; please try again later",
            ));
            return None;
        }
        let id = self
            .next_session
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = random_token();
        let session = Session::new(role, lang, link, token.clone());
        lock(&self.sessions).insert(id, Arc::new(Mutex::new(session)));
        link.send_env(&Envelope::new(Message::Welcome {
            version: PROTOCOL_VERSION,
            session: Some(id),
            resume_token: Some(token),
            site: self.config.site_info(lang),
            last_seq: 0,
        }));
        let mut after = After::default();
        after.record(Job::SessionCreated {
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
        self.finish(after);
        tracing::info!(session = id, ?role, "customer connected");
        Some(id)
    }

    /// A new session from `ip` enters the waiting room, unless the address
    /// has [`WAITING_SESSIONS_PER_ADDRESS`] there already.
    fn enter_room(&self, ip: IpAddr) -> bool {
        let mut rooms = lock(&self.rooms);
        let room = rooms.entry(ip).or_default();
        if room.sessions >= WAITING_SESSIONS_PER_ADDRESS {
            return false;
        }
        room.sessions += 1;
        true
    }

    /// A full client started by a `lotse://join?key=KEY` link: it takes
    /// the web session with that key over, or is refused (`bad_key`,
    /// fatal) — such a link never opens a new session.
    pub fn elevation_hello(&self, link: &Link, lang: Lang, key: &str) -> Option<u64> {
        let sid = self.elevate(link, lang, key);
        if sid.is_none() {
            link.send_env(&fatal(
                ErrorCode::BadKey,
                "this link is used up or the session is over; ask your technician for a new one",
            ));
        }
        sid
    }

    /// A full client presenting a web session's elevation key takes that
    /// session over: the web chat gets `elevated`, the technician the
    /// session again with the new role.
    fn elevate(&self, link: &Link, lang: Lang, key: &str) -> Option<u64> {
        // Rare: every session is looked at (the key is compared in
        // constant time, never used to look a session up).
        let all: Vec<_> = lock(&self.sessions)
            .iter()
            .map(|(sid, s)| (*sid, s.clone()))
            .collect();
        let (sid, sref) = all.into_iter().find(|(_, sref)| {
            let s = lock(sref);
            s.state != State::Ended
                && s.elevation_key
                    .as_deref()
                    .is_some_and(|k| same_secret(k, key))
        })?;
        let mut s = lock(&sref);
        if s.state == State::Ended || s.elevation_key.is_none() {
            // Ended or taken over in the meantime.
            return None;
        }
        s.elevation_key = None;
        // The browser's share ends with the web chat.
        s.end_grants(true, now_ms());
        if let Some(old) = s.customer.replace(link.clone()) {
            let text = s.c_out.stamp(Envelope::new(Message::Elevated));
            old.send(text);
        }
        s.role = Role::Customer;
        s.lang = lang;
        s.c_in = Inbox::default();
        s.c_out = TextOutbox::default();
        s.away_gen += 1;
        s.last_status = None;
        s.resume_token = random_token();
        link.send_env(&Envelope::new(Message::Welcome {
            version: PROTOCOL_VERSION,
            session: Some(sid),
            resume_token: Some(s.resume_token.clone()),
            site: self.config.site_info(lang),
            last_seq: 0,
        }));
        // The conversation so far, so it shows in the full client.
        for page in compose::chat_history(&s.history) {
            s.send_to_customer(page);
        }
        if let Some(entry) = lock(&self.queue).order.iter_mut().find(|w| w.sid == sid) {
            entry.role = Role::Customer;
        }
        if let Some(tech) = s.state.tech()
            && let Some(tref) = self.tech(tech)
        {
            let mut t = lock(&tref);
            send_session_started(&mut t, sid, &s);
            let joined = Message::TechnicianJoined {
                name: t.display_name.clone(),
                avatar: t.avatar.clone(),
            };
            drop(t);
            s.send_to_customer(joined);
        }
        let name = s.name.clone();
        drop(s);
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
        let sref = self.session(resume.session);
        let guard = sref.as_ref().map(|s| lock(s));
        let Some(mut s) = guard
            .filter(|s| s.state != State::Ended && same_secret(&s.resume_token, &resume.token))
        else {
            link.send_env(&fatal(
                ErrorCode::NotFound,
                "this session is over or unknown; please start again",
            ));
            return None;
        };
        if let Some(old) = s.customer.replace(link.clone()) {
            old.kill.notify_one();
        }
        s.away_gen += 1;
        // A new link: the queue status goes to it again.
        s.last_status = None;
        s.c_out.ack(resume.last_seq);
        link.send_env(&Envelope::new(Message::Welcome {
            version: PROTOCOL_VERSION,
            session: Some(resume.session),
            resume_token: Some(s.resume_token.clone()),
            site: self.config.site_info(s.lang),
            last_seq: s.c_in.last(),
        }));
        for text in s.c_out.unacked() {
            link.send(text.to_owned());
        }
        if let Some(tech) = s.state.tech()
            && let Some(tref) = self.tech(tech)
        {
            lock(&tref).send(Envelope::new(Message::PeerBack).with_session(resume.session));
        }
        let waiting = matches!(s.state, State::Waiting { .. });
        let name = s.name.clone();
        drop(s);
        let mut after = After::default();
        after.event(resume.session, &name, "customer_back", String::new());
        after.queue_changed = waiting;
        self.finish(after);
        tracing::info!(session = resume.session, "customer resumed");
        Some(resume.session)
    }

    /// A technician link said hello (its token was checked at the upgrade).
    pub fn tech_hello(&self, link: &Link, user: &str, display_name: &str) {
        let mut tech = Tech {
            link: link.clone(),
            user: user.to_owned(),
            display_name: display_name.to_owned(),
            avatar: None,
            t_in: Inbox::default(),
            t_out: TextOutbox::default(),
            sessions: HashSet::new(),
            gone: false,
            last_queue: None,
        };
        tech.send(Envelope::new(Message::Welcome {
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
        lock(&self.techs).insert(link.id, Arc::new(Mutex::new(tech)));
        tracing::info!(user, "technician online");
        self.queue_changed();
    }
}
