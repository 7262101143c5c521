//! End-to-end: the real customer client, stopped by the system (issue 11
//! §8.10). SIGTERM (logout, shutdown) and SIGHUP (the terminal went away)
//! end the session on the relay and remove the downloaded program and the
//! client's temporary directory with its log, as a normal close does.
//!
//! Needs: `cargo build -p lotse-relay -p lotse-client` first; Debian
//! packages xvfb, openbox, xdotool, x11-utils.

use std::time::Duration;

use lotse_e2e::customer::{Customer, CustomerOptions, Sandbox};
use lotse_e2e::display::Display;
use lotse_e2e::relay::{Peer, Relay};
use lotse_protocol::{EndReason, Message};

const CONFIG: &str = r#"
site_name = "Beispiel Support"
[texts.en]
agreement = ""
recording_prompt = ""
survey = "How satisfied were you?"
"#;

const PASSWORD: &str = "geheim-passwort-1";
const LONG: Duration = Duration::from_secs(60);

fn stopped_by(signal: i32, name: &str) {
    let rt = lotse_e2e::runtime();
    let relay = Relay::start_with_config(CONFIG);
    relay.add_user("tom", PASSWORD);
    let mut tech = rt.block_on(Peer::technician(&relay, "tom", PASSWORD));
    let display = Display::start().expect("Xvfb + openbox");
    let mut client = rt.block_on(Customer::start(
        &relay,
        &display,
        CustomerOptions::default(),
    ));
    client.join("Erika");
    let sid = rt.block_on(async {
        let env = tech
            .recv_until(
                |e| {
                    matches!(&e.msg, Message::Queue { entries, .. }
                        if entries.iter().any(|q| q.name == "Erika"))
                },
                LONG,
            )
            .await;
        let Message::Queue { entries, .. } = env.msg else {
            unreachable!()
        };
        let sid = entries
            .iter()
            .find(|q| q.name == "Erika")
            .map(|q| q.session)
            .expect("queued");
        tech.accept(sid, LONG).await;
        sid
    });
    client.wait_log("TechnicianJoined", LONG);
    // The client's own directory with its log exists while it runs.
    let owned = Sandbox::entries(&client.sandbox.tmp);
    assert_eq!(owned.len(), 1, "{owned:?}");
    assert!(owned[0].starts_with("lotse-"), "{owned:?}");
    assert!(
        client
            .sandbox
            .tmp
            .join(&owned[0])
            .join("client.log")
            .exists(),
        "the log file"
    );
    let exe = client.exe.clone();
    assert!(exe.exists());

    let pid = i32::try_from(client.pid()).expect("pid");
    // SAFETY: kill(2) with a valid signal number on our own child.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "kill -{name}");

    // The technician hears the end (no survey is asked first).
    let end = rt.block_on(tech.recv_until(|e| matches!(e.msg, Message::End { .. }), LONG));
    assert_eq!(end.session, Some(sid));
    assert_eq!(
        end.msg,
        Message::End {
            reason: EndReason::EndedByCustomer
        }
    );
    client.wait_exit(LONG);
    let log = client.log();
    assert!(
        log.contains(&format!("{name}: ending the session")),
        "{log}"
    );
    assert!(!exe.exists(), "the program removed itself; log:\n{log}");
    assert_eq!(
        Sandbox::entries(&client.sandbox.downloads),
        Vec::<String>::new(),
        "nothing left where it was downloaded"
    );
    assert_eq!(
        Sandbox::entries(&client.sandbox.tmp),
        Vec::<String>::new(),
        "the client's directory and its log are gone; log:\n{log}"
    );
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let record = relay
            .try_cli(&["sessions", "show", &sid.to_string()])
            .unwrap_or_default();
        if record.contains("(ended_by_customer)") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the relay never recorded the end:\n{record}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigterm_ends_the_session_and_removes_the_program_and_its_log() {
    stopped_by(libc::SIGTERM, "SIGTERM");
}

#[test]
fn sighup_ends_the_session_and_removes_the_program_and_its_log() {
    stopped_by(libc::SIGHUP, "SIGHUP");
}
