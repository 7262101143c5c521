//! A customer written in another language from `docs/PROTOCOL.md` alone
//! (`tests/foreign/client.py`, Python standard library only) talks to the
//! real relay: it refuses a relay whose certificate is not the pinned one
//! before sending anything, then joins the queue, and a scripted technician
//! accepts it and chats with it both ways.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use lotse_e2e::relay::{Peer, Relay, WAIT};
use lotse_protocol::{EndReason, Message};
use serde_json::Value;
use tokio::sync::mpsc;

/// The Python client as a child process; killed if the test fails early.
struct Python {
    child: Child,
    events: mpsc::Receiver<Value>,
}

impl Python {
    fn start(args: &[&str]) -> Self {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("foreign/client.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(args)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3 (Debian package python3)");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, events) = mpsc::channel(256);
        std::thread::Builder::new()
            .name("python-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let event = serde_json::from_str(&line)
                        .unwrap_or_else(|_| Value::String(format!("not JSON: {line}")));
                    if tx.blocking_send(event).is_err() {
                        break;
                    }
                }
            })
            .expect("thread");
        Self { child, events }
    }

    /// Every event until the client exits, and its exit code.
    async fn finish(mut self) -> (Vec<Value>, Option<i32>) {
        let mut all = Vec::new();
        loop {
            match tokio::time::timeout(WAIT * 4, self.events.recv()).await {
                Ok(Some(event)) => all.push(event),
                Ok(None) => break, // stdout closed: the process is ending
                Err(_) => panic!("the Python client did not finish; events so far: {all:#?}"),
            }
        }
        let status = self.child.wait().expect("wait for python3");
        (all, status.code())
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn event<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event"] == name)
        .map(|e| &e["detail"])
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_customer_chats_with_a_technician() {
    let relay = Relay::start();
    relay.add_user("anna", "anna-secret-1");
    let mut tech = Peer::technician(&relay, "anna", "anna-secret-1").await;

    let python = Python::start(&[
        "--relay",
        &relay.ws,
        "--pin",
        &relay.pin_hex,
        "--name",
        "Ada Python",
        "--say",
        "Grüße aus Python",
        "--expect",
        "Hallo aus Rust",
        "--check-wrong-pin",
        "--malformed-first",
        "--timeout",
        "60",
    ]);

    // The technician sees the Python customer in the queue and accepts.
    let queue = tech
        .recv_until(
            |e| match &e.msg {
                Message::Queue { entries, .. } => entries.iter().any(|q| q.name == "Ada Python"),
                _ => false,
            },
            WAIT,
        )
        .await;
    let Message::Queue { entries, .. } = queue.msg else {
        unreachable!()
    };
    let session = entries
        .iter()
        .find(|q| q.name == "Ada Python")
        .map(|q| q.session)
        .expect("queue entry");
    tech.send(Message::Accept { session }).await;

    // Chat from Python to Rust, with the relay's `from` filled in.
    let chat = tech
        .recv_until(|e| matches!(e.msg, Message::Chat { .. }), WAIT)
        .await;
    assert_eq!(chat.session, Some(session));
    let Message::Chat { text, from, at_ms } = chat.msg else {
        unreachable!()
    };
    assert_eq!(text, "Grüße aus Python");
    assert_eq!(from.as_deref(), Some("Ada Python"));
    assert!(at_ms.is_some(), "the relay stamps the time");

    // And back.
    tech.send_for(
        session,
        Message::Chat {
            text: "Hallo aus Rust".into(),
            from: None,
            at_ms: None,
        },
    )
    .await;

    // The Python client ends the session after its chat line arrived.
    let end = tech
        .recv_until(|e| matches!(e.msg, Message::End { .. }), WAIT)
        .await;
    assert_eq!(
        end.msg,
        Message::End {
            reason: EndReason::EndedByCustomer
        }
    );

    let (events, code) = python.finish().await;
    assert_eq!(code, Some(0), "python client failed: {events:#?}");

    // A wrong pin was refused before any byte of HTTP or WebSocket went out.
    let refused = event(&events, "wrong_pin_refused");
    assert_eq!(refused.len(), 1, "{events:#?}");
    assert_eq!(refused[0]["bytes_sent"], 0);

    // A reliable message the relay refused used its seq up (docs/PROTOCOL.md
    // §5): the error named it, and the chat line after it arrived above.
    let malformed = event(&events, "refused");
    assert_eq!(malformed.len(), 1, "{events:#?}");
    assert_eq!(malformed[0]["code"], "malformed");

    // What the Python customer saw: welcome, the technician, the reply.
    let received = event(&events, "recv");
    let welcome = received
        .iter()
        .find(|m| m["type"] == "welcome")
        .expect("welcome");
    assert_eq!(welcome["session"], session);
    assert!(
        received
            .iter()
            .any(|m| m["type"] == "technician_joined" && m["name"] == "anna"),
        "{received:#?}"
    );
    let reply = received
        .iter()
        .find(|m| m["type"] == "chat")
        .expect("chat from the technician");
    assert_eq!(reply["text"], "Hallo aus Rust");
    assert_eq!(reply["from"], "anna");
    assert_eq!(event(&events, "done").len(), 1);

    // The relay's record of the session holds both lines and the end (it
    // is written in the background: ask until it shows or time runs out).
    let deadline = tokio::time::Instant::now() + WAIT;
    let record = loop {
        let record = relay
            .try_cli(&["sessions", "show", &session.to_string()])
            .unwrap_or_default();
        let complete = record.contains("Grüße aus Python")
            && record.contains("Hallo aus Rust")
            && !record.contains("still open");
        if complete || tokio::time::Instant::now() > deadline {
            break record;
        }
        tokio::task::yield_now().await;
    };
    assert!(record.contains("Grüße aus Python"), "{record}");
    assert!(record.contains("Hallo aus Rust"), "{record}");
    assert!(!record.contains("still open"), "{record}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_customer_refuses_a_relay_with_another_certificate() {
    let relay = Relay::start();
    let wrong = "00".repeat(32);
    let python = Python::start(&["--relay", &relay.ws, "--pin", &wrong, "--timeout", "30"]);
    let (events, code) = python.finish().await;
    assert_eq!(code, Some(3), "{events:#?}");
    let mismatch = event(&events, "pin_mismatch");
    assert_eq!(mismatch.len(), 1, "{events:#?}");
    assert_eq!(mismatch[0]["bytes_sent"], 0);
    assert!(
        mismatch[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&relay.pin_hex)),
        "the message names the certificate the relay presented: {events:#?}"
    );
    assert!(event(&events, "recv").is_empty(), "{events:#?}");
}
