//! The session state machine and the network layer against the real relay
//! (binary, TLS, SQLite; `cargo build -p lotse-relay` first): what the
//! relay refuses unsticks the customer's view.

use std::sync::Arc;
use std::time::Duration;

use lotse_e2e::relay::Relay;
use lotse_protocol::{ErrorCode, Lang, Message};

use super::*;
use crate::session::{Command, Phase, Session, Trouble, system_clock};

const LONG: Duration = Duration::from_secs(30);

/// The session, fed by the real network layer.
struct Live {
    rt: tokio::runtime::Runtime,
    handle: NetHandle,
    session: Session,
}

impl Live {
    fn start(relay: &Relay) -> Self {
        let target = crate::stamp::target_from_args(&relay.ws, &relay.pin_hex).expect("target");
        let handle = start(target, Lang::En, Arc::new(|| {})).expect("net thread");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Self {
            rt,
            handle,
            session: Session::new("anna", system_clock),
        }
    }

    /// Carry out effects: messages go to the relay through the net layer.
    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            self.rt
                .block_on(self.handle.effects.send(effect))
                .expect("net thread runs");
        }
    }

    /// Feed events to the session until `done` holds for it.
    fn until(&mut self, what: &str, done: impl Fn(&Session) -> bool) {
        let deadline = self
            .rt
            .block_on(async { tokio::time::Instant::now() + LONG });
        while !done(&self.session) {
            let events = &mut self.handle.events;
            let event = self
                .rt
                .block_on(async { tokio::time::timeout_at(deadline, events.recv()).await })
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .unwrap_or_else(|| panic!("the net thread ended in {:?}", self.session.phase));
            let effects = self.session.on_event(event);
            self.apply(effects);
        }
    }
}

#[test]
fn a_join_the_relay_refuses_brings_back_the_name_entry_with_the_reason() {
    // Straight to the name entry.
    let relay = Relay::start_with_config(
        "[texts.en]\nagreement = \"\"\nrecording_prompt = \"\"\nsurvey = \"\"\n",
    );
    let mut live = Live::start(&relay);
    live.until("the name entry", |s| s.phase == Phase::NameEntry);

    // The customer's join, carried with a name of 91 characters (what a
    // client without the limit sent; this client's field stops at 80).
    let effects = live.session.on_command(Command::Join {
        name: "Anna".into(),
        problem: String::new(),
    });
    assert_eq!(live.session.phase, Phase::Waiting);
    let effects = effects
        .into_iter()
        .map(|e| match e {
            Effect::Send(Message::Join { problem, .. }) => Effect::Send(Message::Join {
                name: "n".repeat(91),
                problem,
            }),
            other => other,
        })
        .collect();
    live.apply(effects);
    live.until("the refusal", |s| s.phase != Phase::Waiting);
    assert_eq!(
        live.session.phase,
        Phase::NameEntry,
        "not stuck in the queue view"
    );
    let Some(Trouble::JoinRefused { code, message }) = &live.session.trouble else {
        panic!("no refusal shown: {:?}", live.session.trouble)
    };
    assert_eq!(*code, ErrorCode::TooLarge);
    assert!(message.contains("80"), "{message}");

    // The way forward: join again with a name the relay takes.
    let effects = live.session.on_command(Command::Join {
        name: "Anna".into(),
        problem: String::new(),
    });
    live.apply(effects);
    live.until("a queue place", |s| s.queue.is_some());
    assert_eq!(live.session.phase, Phase::Waiting);
    assert_eq!(live.session.trouble, None);
}
