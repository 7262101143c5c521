//! End to end: the real relay, the real `lotse-console --headless` and a
//! scripted customer ([`Peer`]). Build first:
//! `cargo build -p lotse-relay -p lotse-console`.

use std::path::PathBuf;

use lotse_e2e::console::Console;
use lotse_e2e::relay::{Peer, Relay, WAIT};
use lotse_protocol::{
    BinaryHeader, BinaryKind, ConsentTopic, EndReason, FILE_CHUNK_BYTES, FLAG_LAST, Message,
};
use sha2::{Digest, Sha256};

const CONFIG: &str = r#"
[[notices]]
id = "mail"
auto_show = false
text = { en = "Our mail service is down; we are working on it.", de = "Unser Mail-Dienst ist gestört." }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn technician_serves_a_customer_from_the_headless_console() {
    let relay = Relay::start_with_config(CONFIG);
    relay.add_user("tom", "right horse battery");
    let mut c = Console::start(&relay);

    // A wrong password is an error event, and nothing else happens.
    c.cmd("login tom wrong");
    let err = c.event("error").await;
    assert_eq!(err["code"], "login_failed", "{err}");

    c.cmd("login tom right horse battery");
    c.event("logged_in").await;
    c.event("connected").await;

    // A customer joins; the console's queue shows them.
    let mut anna = Peer::customer(&relay, "Anna").await;
    c.cmd("wait-customer Anna");
    let waiting = c.event("customer_waiting").await;
    let session = waiting["session"].as_u64().expect("session id");
    let queue = c
        .seen
        .iter()
        .rev()
        .find(|v| v["event"] == "queue")
        .cloned()
        .expect("a queue event");
    assert_eq!(queue["entries"][0]["name"], "Anna");
    assert_eq!(queue["entries"][0]["role"], "customer");
    assert_eq!(queue["notices"][0]["id"], "mail");

    // Accept: the customer learns who helps.
    c.cmd("accept Anna");
    let started = c.event("session_started").await;
    assert_eq!(started["session"].as_u64(), Some(session));
    assert_eq!(started["customer_name"], "Anna");
    anna.recv_until(|e| matches!(e.msg, Message::TechnicianJoined { .. }), WAIT)
        .await;

    // Consent given now reaches the console.
    anna.send(Message::Consent {
        topic: ConsentTopic::Recording,
        granted: true,
    })
    .await;
    let consent = c.event("consent").await;
    assert_eq!(
        (consent["topic"].as_str(), consent["granted"].as_bool()),
        (Some("recording"), Some(true))
    );

    // Chat both ways.
    c.cmd("say Hello Anna, Grüße aus dem Support €");
    let got = anna
        .recv_until(|e| matches!(e.msg, Message::Chat { .. }), WAIT)
        .await;
    let Message::Chat { text, .. } = got.msg else {
        unreachable!()
    };
    assert_eq!(text, "Hello Anna, Grüße aus dem Support €");
    anna.send(Message::Chat {
        text: "My printer prints blank pages".into(),
        from: None,
        at_ms: None,
    })
    .await;
    let chat = c.event_where("chat", |v| v["mine"] == false).await;
    assert_eq!(chat["text"], "My printer prints blank pages");
    assert_eq!(chat["from"], "Anna");
    assert_eq!(chat["session"].as_u64(), Some(session));

    // Nudge and notices arrive at the customer.
    c.cmd("nudge");
    anna.recv_until(|e| e.msg == Message::Nudge, WAIT).await;
    c.cmd("notice mail");
    let notice = anna
        .recv_until(|e| matches!(e.msg, Message::Notice { .. }), WAIT)
        .await;
    assert_eq!(
        notice.msg,
        Message::Notice {
            id: Some("mail".into()),
            text: "Our mail service is down; we are working on it.".into()
        }
    );
    c.cmd("notice Back in five minutes");
    let notice = anna
        .recv_until(|e| matches!(e.msg, Message::Notice { .. }), WAIT)
        .await;
    assert!(
        matches!(notice.msg, Message::Notice { ref text, .. } if text == "Back in five minutes")
    );

    // The customer sends a file; it lands intact in the chosen folder.
    let dir = tempfile::tempdir().expect("temp dir");
    let data: Vec<u8> = (0..700_000u32).map(|i| (i * 31 % 253) as u8).collect();
    let sha = hex::encode(Sha256::digest(&data));
    c.cmd(&format!("accept-file {}", dir.path().display()));
    anna.send(Message::FileOffer {
        id: 1,
        name: "printer-log.txt".into(),
        size: data.len() as u64,
        sha256: sha.clone(),
    })
    .await;
    anna.recv_until(|e| e.msg == Message::FileAccept { id: 1 }, WAIT)
        .await;
    for (i, part) in data.chunks(FILE_CHUNK_BYTES).enumerate() {
        let last = (i + 1) * FILE_CHUNK_BYTES >= data.len();
        let frame = BinaryHeader {
            kind: BinaryKind::FileChunk,
            flags: if last { FLAG_LAST } else { 0 },
            id: 1,
            session: 0,
            seq: (i * FILE_CHUNK_BYTES) as u64,
        }
        .frame(part);
        anna.send_binary(frame).await;
    }
    let received = c.event("file_received").await;
    assert_eq!(received["ok"], true, "{received}");
    assert_eq!(received["sha256"], sha.as_str());
    let path = PathBuf::from(received["path"].as_str().expect("path"));
    assert_eq!(path, dir.path().join("printer-log.txt"));
    assert_eq!(std::fs::read(&path).expect("file on disk"), data);
    let done = anna
        .recv_until(|e| matches!(e.msg, Message::FileDone { .. }), WAIT)
        .await;
    assert_eq!(
        done.msg,
        Message::FileDone {
            id: 1,
            ok: true,
            sha256: sha
        }
    );

    // The technician ends the session.
    c.cmd("end");
    anna.recv_until(
        |e| {
            e.msg
                == Message::End {
                    reason: EndReason::EndedByTechnician,
                }
        },
        WAIT,
    )
    .await;
    c.cmd("quit");
    c.event("logged_out").await;
}
