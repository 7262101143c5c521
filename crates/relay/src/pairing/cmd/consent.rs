//! `consent`: the customer's answer to the agreement, the recording
//! prompt or the move to the full client; forwarded to the technician.

use std::sync::MutexGuard;

use lotse_protocol::{ConsentRecord, ConsentTopic, Message, Role};

use crate::auth::random_token;
use crate::compose;
use crate::pairing::state::{Session, State};
use crate::pairing::{After, Handled, Hub, consent_detail};
use crate::store::now_ms;

impl Hub {
    pub(super) fn consent(
        &self,
        sid: u64,
        mut s: MutexGuard<'_, Session>,
        topic: ConsentTopic,
        granted: bool,
    ) -> Handled {
        let now = now_ms();
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
            s.send_to_customer(Message::ElevateReady {
                url: format!("lotse://join?key={key}"),
                download: format!("/download/linux?key={key}"),
            });
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
        let who = s.who();
        let mut after = After::default();
        after.event(sid, &who, "consent", consent_detail(topic, granted));
        let handled = self.to_serving_tech(sid, &s, Message::Consent { topic, granted });
        drop(s);
        self.finish(after);
        handled
    }
}
