//! A web chat customer taken over by the client (the technician's
//! "continue in the app"): the scripted web chat and technician side that
//! `tests/elevation.rs` (Linux) and `tests/windows_client.rs` (the Windows
//! installer's `lotse://` handler) share.

use lotse_protocol::{ConsentTopic, Message, Role};

use crate::customer::LONG;
use crate::relay::{Peer, Relay};

pub const WEB_LINE: &str = "Mein Drucker druckt nicht";
pub const TECH_LINE: &str = "Das schauen wir uns im Programm an";
pub const APP_LINE: &str = "Jetzt bin ich im Programm";

/// A chat line as a peer sends it.
pub fn chat(text: &str) -> Message {
    Message::Chat {
        text: text.into(),
        from: None,
        at_ms: None,
    }
}

/// A web chat customer served by `tech`, a line each way, asked to
/// elevate and agreeing. Returns the web link, the session id and the
/// relay's `elevate_ready` (`url`, `download`).
pub async fn elevated_web_chat(relay: &Relay, tech: &mut Peer) -> (Peer, u64, String, String) {
    let mut web = Peer::connect_web(relay, None).await.expect("web chat link");
    web.hello(Role::WebCustomer).await;
    for topic in [ConsentTopic::ChatPrompt, ConsentTopic::Agreement] {
        web.send(Message::Consent {
            topic,
            granted: true,
        })
        .await;
    }
    web.send(Message::Join {
        name: "Olga Online".into(),
        problem: Some("Drucker".into()),
    })
    .await;
    let sid = web.session.expect("the web chat has a session");
    tech.recv_until(
        |e| matches!(&e.msg, Message::Queue { entries, .. } if entries.iter().any(|q| q.session == sid)),
        LONG,
    )
    .await;
    tech.send(Message::Accept { session: sid }).await;
    tech.recv_until(
        |e| matches!(e.msg, Message::SessionStarted { session, .. } if session == sid),
        LONG,
    )
    .await;
    web.recv_until(|e| matches!(e.msg, Message::TechnicianJoined { .. }), LONG)
        .await;
    web.send(chat(WEB_LINE)).await;
    tech.recv_until(
        |e| matches!(&e.msg, Message::Chat { text, .. } if text == WEB_LINE),
        LONG,
    )
    .await;
    tech.send_for(sid, chat(TECH_LINE)).await;
    web.recv_until(
        |e| matches!(&e.msg, Message::Chat { text, .. } if text == TECH_LINE),
        LONG,
    )
    .await;

    let (url, download) = elevate(&mut web, tech, sid).await;
    (web, sid, url, download)
}

/// The technician asks the web chat `web` of session `sid` to continue in
/// the app and the customer agrees; the relay's `elevate_ready`: (`url`,
/// `download`).
pub async fn elevate(web: &mut Peer, tech: &mut Peer, sid: u64) -> (String, String) {
    tech.send_for(sid, Message::ElevateRequest).await;
    web.recv_until(|e| matches!(e.msg, Message::ElevateRequest), LONG)
        .await;
    web.send(Message::Consent {
        topic: ConsentTopic::Elevation,
        granted: true,
    })
    .await;
    let ready = web
        .recv_until(|e| matches!(e.msg, Message::ElevateReady { .. }), LONG)
        .await;
    let Message::ElevateReady { url, download } = ready.msg else {
        unreachable!()
    };
    (url, download)
}

/// The session continues: the web chat is told, the technician gets the
/// same session again (now the full client) with the whole conversation.
pub async fn continues_in_the_client(web: &mut Peer, tech: &mut Peer, sid: u64) {
    web.recv_until(|e| matches!(e.msg, Message::Elevated), LONG)
        .await;
    let again = tech
        .recv_until(|e| matches!(e.msg, Message::SessionStarted { .. }), LONG)
        .await;
    let Message::SessionStarted {
        session,
        role,
        customer_name,
        history,
        ..
    } = again.msg
    else {
        unreachable!()
    };
    assert_eq!(session, sid, "the technician keeps the same session");
    assert_eq!(role, Role::Customer);
    assert_eq!(customer_name, "Olga Online");
    let texts: Vec<&str> = history.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, [WEB_LINE, TECH_LINE]);
}
