//! `join`: the customer's name and problem; the session enters the queue.

use std::sync::MutexGuard;

use lotse_protocol::limits::{NAME_CHARS, PROBLEM_CHARS, check_chars};
use lotse_protocol::{ErrorCode, Message};
use tokio::time::Instant;

use crate::compose;
use crate::pairing::state::{Session, State, Waiting};
use crate::pairing::{After, Handled, Hub, Link, err, lock};
use crate::store::{Job, now_ms};

impl Hub {
    pub(super) fn join(
        &self,
        sid: u64,
        mut s: MutexGuard<'_, Session>,
        link: &Link,
        name: String,
        problem: Option<String>,
    ) -> Handled {
        if s.state != State::Prejoin {
            link.send_env(&err(ErrorCode::BadState, "already joined"));
            return Handled::Strike;
        }
        let name = name.trim().to_owned();
        if name.is_empty() || check_chars(&name, NAME_CHARS).is_err() {
            link.send_env(&err(
                ErrorCode::Malformed,
                "the name must have 1 to 80 characters",
            ));
            return Handled::Strike;
        }
        let problem = problem
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty());
        if problem
            .as_ref()
            .is_some_and(|p| check_chars(p, PROBLEM_CHARS).is_err())
        {
            link.send_env(&err(
                ErrorCode::Malformed,
                "the problem description is longer than 4000 characters",
            ));
            return Handled::Strike;
        }
        let since = Instant::now();
        s.name.clone_from(&name);
        s.problem.clone_from(&problem);
        self.set_state(&mut s, State::Waiting { since });
        let lang = s.lang;
        for notice in self.config.notices.iter().filter(|n| n.auto_show) {
            s.send_to_customer(compose::notice(
                Some(notice.id.clone()),
                notice.text.get(lang),
            ));
        }
        if self.techs_online() == 0 {
            s.send_to_customer(Message::NoTechnician {
                text: self.config.texts(lang).no_technician.clone(),
                url: self.config.no_technician_url(),
            });
        }
        lock(&self.queue).order.push(Waiting {
            sid,
            since,
            name: name.clone(),
            problem: problem.clone(),
            role: s.role,
        });
        drop(s);
        let mut after = After::default();
        after.record(Job::Joined {
            id: sid,
            at_ms: now_ms(),
            name,
            problem,
        });
        after.queue_changed = true;
        self.finish(after);
        Handled::Ok
    }
}
