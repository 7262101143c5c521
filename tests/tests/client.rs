//! End-to-end: the real customer client, as a customer gets it.
//!
//! A real relay stamps the client it finds next to itself
//! (`target/<profile>/lotse` beside `lotse-relay`); the test downloads it
//! over pinned HTTPS into a temporary directory, makes it executable and
//! runs it under a private Xvfb with openbox. A scripted technician
//! (protocol crate over the relay harness) accepts, chats, sends an avatar
//! and receives a file. The customer's side is driven like a person would:
//! the keyboard (xdotool) and the window's close button (`WM_DELETE_WINDOW`).
//!
//! The file the client sends comes from `LOTSE_DEBUG_SEND_FILE`, which only
//! debug builds honour (a desktop portal's file dialog cannot be scripted
//! here; the in-window chooser is covered by the client's egui_kittest
//! tests).
//!
//! Screenshots land in `target/tmp/client-e2e-*.png` (not committed).
//!
//! Needs: `cargo build -p lotse-relay -p lotse-client` first; Debian
//! packages xvfb, openbox, xdotool, x11-utils, imagemagick, python3-xlib.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use lotse_e2e::customer::{Customer, CustomerOptions, Sandbox, download};
use lotse_e2e::display::Display;
use lotse_e2e::proxy::Proxy;
use lotse_e2e::relay::{Peer, Relay};
use lotse_protocol::stamp;
use lotse_protocol::{BinaryHeader, BinaryKind, EndReason, Envelope, Message};
use sha2::{Digest, Sha256};

const CONFIG: &str = lotse_e2e::relay::STRAIGHT_TO_NAME;

const LONG: Duration = Duration::from_secs(60);

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("client-e2e-{name}.png"))
}

/// Wait for a queue entry named `name`, pressing Enter in the client
/// (by `Customer::join`) first. Never cancels `Peer::next` midway: a
/// cancelled read can lose the message it was acknowledging.
async fn joined(tech: &mut Peer, name: &str) -> u64 {
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tech.next(left).await {
            Some(lotse_e2e::relay::Incoming::Text(env)) => {
                if let Message::Queue { entries, .. } = &env.msg
                    && let Some(e) = entries.iter().find(|e| e.name == name)
                {
                    return e.session;
                }
            }
            Some(_) => {}
            None => panic!(
                "{name} never showed up in the queue; technician got {:#?}",
                tech.log
            ),
        }
    }
}

fn session_of(env: &Envelope) -> u64 {
    env.session.expect("technician messages carry the session")
}

#[test]
fn download_chat_send_a_file_close_and_nothing_remains() {
    let rt = lotse_e2e::runtime();
    let relay = Relay::start_with_config(CONFIG);
    relay.add_user("tom", "geheim-passwort-1");
    let sandbox = Sandbox::new();
    let exe = rt.block_on(download(&relay, "/download/linux", &sandbox.downloads));

    // A file the customer sends: a bit over two chunks.
    let report = sandbox.home.join("bericht.bin");
    let data: Vec<u8> = (0..(lotse_protocol::FILE_CHUNK_BYTES * 2 + 4321))
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    std::fs::write(&report, &data).expect("write the file to send");
    let data_sha = hex::encode(Sha256::digest(&data));

    let mut tech = rt.block_on(Peer::technician(&relay, "tom", "geheim-passwort-1"));
    let avatar = base64::engine::general_purpose::STANDARD
        .encode(include_bytes!("../../assets/avatar/default.png"));
    rt.block_on(tech.send(Message::Profile {
        display_name: "Tom Technik".into(),
        avatar: Some(avatar),
    }));

    let display = Display::start().expect("Xvfb + openbox");
    let opts = CustomerOptions {
        env: vec![("LOTSE_DEBUG_SEND_FILE".into(), report.display().to_string())],
        ..CustomerOptions::default()
    };
    let mut client = Customer::run(sandbox, exe.clone(), &display, &opts);
    let window = client.window();
    assert_eq!(
        display.window_name(&window).expect("title"),
        "Beispiel Support — remote support"
    );

    // Name entry (prefilled with the login name), then Enter.
    client.join("Erika");
    let sid = rt.block_on(joined(&mut tech, "Erika"));

    rt.block_on(async {
        tech.send(Message::Accept { session: sid }).await;
        tech.recv_until(
            |e| matches!(&e.msg, Message::SessionStarted { session, customer_name, .. } if *session == sid && customer_name == "Erika"),
            LONG,
        )
        .await;
        tech.send_for(
            sid,
            Message::Chat {
                text: "Hallo Erika, wie kann ich helfen?".into(),
                from: None,
                at_ms: None,
            },
        )
        .await;

        // The client offers the file as soon as it is served.
        let offer = tech
            .recv_until(|e| matches!(e.msg, Message::FileOffer { .. }), LONG)
            .await;
        assert_eq!(session_of(&offer), sid);
        let Message::FileOffer {
            id,
            name,
            size,
            sha256,
        } = offer.msg
        else {
            unreachable!()
        };
        assert_eq!(name, "bericht.bin");
        assert_eq!(size, data.len() as u64);
        assert_eq!(sha256, data_sha);
        tech.send_for(sid, Message::FileAccept { id }).await;
        let mut received = Vec::new();
        loop {
            let frame = tech.recv_binary(LONG).await;
            let (header, payload) = BinaryHeader::parse(&frame).expect("a valid binary frame");
            assert_eq!(header.kind, BinaryKind::FileChunk);
            assert_eq!(header.id, id);
            assert_eq!(header.session, sid);
            assert_eq!(header.seq, received.len() as u64, "chunks arrive in order");
            received.extend_from_slice(payload);
            if header.is_last() {
                break;
            }
        }
        assert_eq!(hex::encode(Sha256::digest(&received)), data_sha);
        assert_eq!(received, data);
        tech.send_for(
            sid,
            Message::FileDone {
                id,
                ok: true,
                sha256: data_sha.clone(),
            },
        )
        .await;
    });

    // The customer answers; the chat field has the focus once served.
    client.wait_ready("TechnicianJoined(", "chat");
    client.type_text("Danke, mein Drucker streikt");
    client.type_keys("Return");
    rt.block_on(async {
        let line = tech
            .recv_until(
                |e| matches!(&e.msg, Message::Chat { text, .. } if text == "Danke, mein Drucker streikt"),
                LONG,
            )
            .await;
        assert_eq!(session_of(&line), sid);
        let Message::Chat { from, .. } = &line.msg else {
            unreachable!()
        };
        assert_eq!(from.as_deref(), Some("Erika"));
    });
    display
        .screenshot(&screenshot_path("chat"))
        .expect("screenshot");

    // Close the window like a user: the session ends, the program goes.
    client.close();
    rt.block_on(async {
        let end = tech
            .recv_until(|e| matches!(e.msg, Message::End { .. }), LONG)
            .await;
        assert_eq!(session_of(&end), sid);
        assert_eq!(
            end.msg,
            Message::End {
                reason: EndReason::EndedByCustomer
            }
        );
    });
    let status = client.wait_exit(LONG);
    let log = client.log();
    let sandbox = &client.sandbox;
    assert!(status.success(), "client exit {status:?}; log:\n{log}");
    assert!(!exe.exists(), "the program removed itself; log:\n{log}");
    assert!(log.contains(&format!("removed {}", exe.display())), "{log}");
    assert_eq!(
        Sandbox::entries(&sandbox.tmp),
        Vec::<String>::new(),
        "the client's own directory is gone"
    );
    assert_eq!(
        Sandbox::entries(&sandbox.home),
        vec!["bericht.bin".to_owned()],
        "nothing written to the home directory"
    );
    assert_eq!(
        Sandbox::entries(&sandbox.downloads),
        Vec::<String>::new(),
        "nothing left where it was downloaded"
    );
    relay.wait_record(sid, &["ended_by_customer", "Erika"]);
}

#[test]
fn a_client_stamped_for_another_certificate_refuses_to_connect() {
    let rt = lotse_e2e::runtime();
    let relay = Relay::start_with_config(CONFIG);
    let other = Relay::start_with_config(CONFIG);
    assert_ne!(relay.pin_hex, other.pin_hex);
    let sandbox = Sandbox::new();
    let exe = rt.block_on(download(&relay, "/download/linux", &sandbox.downloads));

    // Same relay address, but the stamp trusts the other relay's certificate.
    let mut bytes = std::fs::read(&exe).expect("read the download");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut st = stamp::read(&bytes, now).expect("the download carries a valid stamp");
    st.cert_sha256.clone_from(&other.pin_hex);
    bytes.truncate(stamp::unstamped_len(&bytes));
    stamp::append(&mut bytes, &st);
    std::fs::write(&exe, &bytes).expect("restamp");

    let display = Display::start().expect("Xvfb + openbox");
    let mut client = Customer::run(sandbox, exe.clone(), &display, &CustomerOptions::default());
    client.window();
    client.wait_log("refusing the relay", LONG);
    display
        .screenshot(&screenshot_path("wrong-certificate"))
        .expect("screenshot");
    assert!(!client.log().contains("connected to the relay"));
    // No session was created on the relay.
    let list = relay.cli(&["sessions", "list"]);
    assert!(!list.contains("customer"), "{list}");

    client.close();
    let status = client.wait_exit(LONG);
    assert!(status.success(), "{status:?}\n{}", client.log());
    assert!(!exe.exists(), "a stamped download removes itself");
    assert_eq!(Sandbox::entries(&client.sandbox.tmp), Vec::<String>::new());
}

/// Customer chat lines the technician received for `sid`, in order.
fn customer_lines(tech: &Peer, sid: u64) -> Vec<String> {
    tech.log
        .iter()
        .filter(|e| e.session == Some(sid))
        .filter_map(|e| match &e.msg {
            Message::Chat { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_network_cut_resumes_the_session_without_losing_or_repeating_chat() {
    let rt = lotse_e2e::runtime();
    // Everything reaches the relay through the proxy, whose address is the
    // relay's public one (in the stamp and in every request's Host).
    let (relay, proxy) = rt.block_on(Proxy::relay_behind(CONFIG));
    relay.add_user("tom", "geheim-passwort-1");
    let sandbox = Sandbox::new();
    let exe = rt.block_on(download(&relay, "/download/linux", &sandbox.downloads));

    let mut tech = rt.block_on(Peer::technician(&relay, "tom", "geheim-passwort-1"));
    let display = Display::start().expect("Xvfb + openbox");
    let mut client = Customer::run(sandbox, exe.clone(), &display, &CustomerOptions::default());
    client.join("Erika");
    let sid = rt.block_on(joined(&mut tech, "Erika"));
    rt.block_on(async {
        tech.accept(sid, LONG).await;
    });
    client.wait_ready("TechnicianJoined(", "chat");
    let say = |client: &mut Customer, text: &str| {
        client.type_text(text);
        client.type_keys("Return");
    };
    say(&mut client, "eins");
    rt.block_on(tech.recv_until(
        |e| matches!(&e.msg, Message::Chat { text, .. } if text == "eins"),
        LONG,
    ));

    // Outage: the relay notices, the client shows it and keeps what the
    // customer types.
    proxy.cut();
    rt.block_on(tech.recv_until(|e| matches!(e.msg, Message::PeerAway { .. }), LONG));
    rt.block_on(tech.send_for(
        sid,
        Message::Chat {
            text: "Sind Sie noch da?".into(),
            from: None,
            at_ms: None,
        },
    ));
    say(&mut client, "zwei");
    client.wait_log("cannot reach the relay", LONG);
    display
        .screenshot(&screenshot_path("reconnecting"))
        .expect("screenshot");

    proxy.restore();
    rt.block_on(async {
        tech.recv_until(|e| matches!(e.msg, Message::PeerBack), LONG)
            .await;
        tech.recv_until(
            |e| matches!(&e.msg, Message::Chat { text, .. } if text == "zwei"),
            LONG,
        )
        .await;
    });
    client.wait_log("resumed=true", LONG);
    say(&mut client, "drei");
    rt.block_on(tech.recv_until(
        |e| matches!(&e.msg, Message::Chat { text, .. } if text == "drei"),
        LONG,
    ));
    assert_eq!(
        customer_lines(&tech, sid),
        vec!["eins", "zwei", "drei"],
        "each line exactly once, in order"
    );

    client.close();
    rt.block_on(tech.recv_until(|e| matches!(e.msg, Message::End { .. }), LONG));
    let status = client.wait_exit(LONG);
    assert!(status.success(), "{status:?}\n{}", client.log());
    assert!(!exe.exists());
    relay.wait_record(sid, &["ended_by_customer"]);
}
