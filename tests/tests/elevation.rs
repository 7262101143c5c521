//! End-to-end: elevation. A web chat customer (a protocol peer on
//! `/ws/web`, as the browser page speaks it) chats with a scripted
//! technician, agrees to continue in the app, and the real client takes
//! the session over — downloaded with the key the relay handed out, or
//! started by the `lotse://join?key=…` link through the handler
//! `installer/linux/install.sh` registers (opened with `xdg-open`, as a
//! browser does). Runs under a private Xvfb with openbox.
//!
//! What the tests look at is what the people involved see: the
//! technician keeps the same session (no new one, no queue entry) and
//! gets the conversation again; the web chat gets `elevated`; the client
//! says it shows the earlier lines (its log — the window's text is not
//! readable under Xvfb; a screenshot of it lands in
//! `target/tmp/elevation-*.png`) and its new line reaches the technician.
//!
//! Needs: `cargo build -p lotse-relay -p lotse-client` first; Debian
//! packages xvfb, openbox, xdotool, x11-utils, imagemagick, python3-xlib,
//! xdg-utils.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lotse_e2e::customer::{Customer, CustomerOptions, LONG, Sandbox, download};
use lotse_e2e::display::Display;
use lotse_e2e::relay::{Peer, Relay, hello};
use lotse_e2e::web::{
    APP_LINE, TECH_LINE, WEB_LINE, chat, continues_in_the_client, elevated_web_chat,
};
use lotse_protocol::{EndReason, Envelope, ErrorCode, Message, Role};

/// An agreement the web chat answered: the client must not ask again in
/// the same session (and must not ask for the name either).
const CONFIG: &str = r#"
site_name = "Beispiel Support"
[texts.en]
agreement = "A technician may see what you share."
recording_prompt = ""
survey = ""
"#;

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("elevation-{name}.png"))
}

/// Type `text` + Enter in the client once the chat field has the keyboard
/// (after the history was shown) and wait until the technician gets it.
async fn line_reaches(client: &mut Customer, tech: &mut Peer, sid: u64, text: &str) -> Envelope {
    client.wait_ready("earlier lines shown", "chat");
    client.type_text(text);
    client.type_keys("Return");
    let line = tech
        .recv_until(
            |e| matches!(&e.msg, Message::Chat { text: t, .. } if t == text),
            LONG,
        )
        .await;
    assert_eq!(line.session, Some(sid));
    line
}

/// Session rows in the relay's record once `sid` is recorded as ended
/// with `reason` (records are written in order, so a session created
/// before that end is listed too).
fn recorded_sessions(relay: &Relay, sid: u64, reason: &str) -> usize {
    let deadline = Instant::now() + LONG;
    loop {
        let record = relay
            .try_cli(&["sessions", "show", &sid.to_string()])
            .unwrap_or_default();
        if record.contains(reason) {
            break;
        }
        assert!(Instant::now() < deadline, "{sid} never ended: {record}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let list = relay.cli(&["sessions", "list"]);
    list.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count()
}

/// Close the window like a user and wait for the program to end.
fn close_window(client: &mut Customer) -> std::process::ExitStatus {
    client.close();
    client.wait_exit(LONG)
}

/// The client's window closes like a user's click; the technician is told.
fn close_and_end(client: &mut Customer, tech: &mut Peer, sid: u64, rt: &tokio::runtime::Runtime) {
    let status = close_window(client);
    rt.block_on(async {
        let end = tech
            .recv_until(|e| matches!(e.msg, Message::End { .. }), LONG)
            .await;
        assert_eq!(end.session, Some(sid));
        assert_eq!(
            end.msg,
            Message::End {
                reason: EndReason::EndedByCustomer
            }
        );
    });
    assert!(status.success(), "{status:?}; log:\n{}", client.log());
}

#[test]
fn the_downloaded_client_takes_the_web_chat_over_in_the_same_session() {
    let rt = lotse_e2e::runtime();
    let relay = Relay::start_with_config(CONFIG);
    relay.add_user("tom", "geheim-passwort-1");
    let mut tech = rt.block_on(Peer::technician(&relay, "tom", "geheim-passwort-1"));
    let (mut web, sid, url, download) = rt.block_on(elevated_web_chat(&relay, &mut tech));
    assert!(url.starts_with("lotse://join?key="), "{url}");
    assert!(download.starts_with("/download/linux?key="), "{download}");

    // The customer downloads the offered client and starts it.
    let display = Display::start().expect("Xvfb + openbox");
    let opts = CustomerOptions {
        download,
        ..CustomerOptions::default()
    };
    let mut client = rt.block_on(Customer::start(&relay, &display, opts));
    let exe = client.exe.clone();
    client.window();
    rt.block_on(continues_in_the_client(&mut web, &mut tech, sid));
    client.wait_log("earlier lines shown lines=2", LONG);
    let log = client.log();
    assert!(!log.contains("asking to join the queue"), "{log}");

    // The customer writes on in the app: same session, same name.
    let line = rt.block_on(line_reaches(&mut client, &mut tech, sid, APP_LINE));
    let Message::Chat { from, .. } = &line.msg else {
        unreachable!()
    };
    assert_eq!(from.as_deref(), Some("Olga Online"));
    display
        .screenshot(&screenshot_path("downloaded"))
        .expect("screenshot");
    // No other session ever showed up in the technician's queue.
    assert!(
        tech.log.iter().all(|e| match &e.msg {
            Message::Queue { entries, .. } => entries.iter().all(|q| q.session == sid),
            Message::SessionStarted { session, .. } => *session == sid,
            _ => true,
        }),
        "{:#?}",
        tech.log
    );

    close_and_end(&mut client, &mut tech, sid, &rt);
    assert_eq!(recorded_sessions(&relay, sid, "ended_by_customer"), 1);
    // A one-shot download: gone, and it registered nothing.
    assert!(!exe.exists(), "the download removed itself");
    assert_eq!(
        Sandbox::entries(&client.sandbox.downloads),
        Vec::<String>::new()
    );
    assert_eq!(Sandbox::entries(&client.sandbox.home), Vec::<String>::new());
    assert_eq!(Sandbox::entries(&client.sandbox.tmp), Vec::<String>::new());
}

/// `HOME` = `home`, no inherited XDG or desktop settings (xdg-utils then
/// uses its generic mode: `~/.config/mimeapps.list`, `~/.local/share`).
fn isolated(cmd: &mut Command, home: &Path) {
    cmd.env("HOME", home);
    for var in [
        "XDG_DATA_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_DIRS",
        "XDG_CONFIG_DIRS",
        "XDG_CURRENT_DESKTOP",
        "XDG_SESSION_DESKTOP",
        "DESKTOP_SESSION",
        "KDE_FULL_SESSION",
        "GNOME_DESKTOP_SESSION_ID",
        "DBUS_SESSION_BUS_ADDRESS",
        "BROWSER",
    ] {
        cmd.env_remove(var);
    }
    // Generic mode without asking a session bus (which could start one).
    cmd.env("XDG_CURRENT_DESKTOP", "X-Generic");
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../installer/linux")
        .join(name)
}

/// The client window with this title part on `display` (the client runs
/// under xdg-open here, so its pid is not ours to search by).
fn window_named(display: &Display, title: &str) -> String {
    let deadline = Instant::now() + LONG;
    loop {
        let out = display
            .command("xdotool")
            .args(["search", "--onlyvisible", "--name", title])
            .output()
            .expect("xdotool");
        if let Some(id) = String::from_utf8_lossy(&out.stdout).lines().next() {
            return id.to_owned();
        }
        assert!(Instant::now() < deadline, "no window named {title:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_installed_client_opens_the_lotse_link_and_stays_installed() {
    let rt = lotse_e2e::runtime();
    let relay = Relay::start_with_config(CONFIG);
    relay.add_user("tom", "geheim-passwort-1");
    let sandbox = Sandbox::new();
    let downloaded = rt.block_on(download(&relay, "/download/linux", &sandbox.downloads));

    // Install: a copy in ~/.local/bin, a lotse:// handler, the marker.
    let mut install = Command::new("sh");
    install.arg(script("install.sh")).arg(&downloaded);
    isolated(&mut install, &sandbox.home);
    let out = install.output().expect("run install.sh");
    assert!(out.status.success(), "install.sh: {out:?}");
    let installed = sandbox.home.join(".local/bin/lotse");
    assert!(installed.exists());
    let desktop =
        std::fs::read_to_string(sandbox.home.join(".local/share/applications/lotse.desktop"))
            .expect("lotse.desktop");
    assert!(
        desktop.contains("MimeType=x-scheme-handler/lotse;"),
        "{desktop}"
    );
    assert!(
        desktop.contains(&format!(
            "Exec={} %u",
            installed.canonicalize().expect("path").display()
        )),
        "{desktop}"
    );
    let mut query = Command::new("xdg-mime");
    query.args(["query", "default", "x-scheme-handler/lotse"]);
    isolated(&mut query, &sandbox.home);
    let out = query.output().expect("xdg-mime");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "lotse.desktop");

    let mut tech = rt.block_on(Peer::technician(&relay, "tom", "geheim-passwort-1"));
    let (mut web, sid, url, _) = rt.block_on(elevated_web_chat(&relay, &mut tech));

    // The browser hands the link to xdg-open, which starts the handler.
    let display = Display::start().expect("Xvfb + openbox");
    let log_path = sandbox.root().join("xdg-open.stderr");
    let mut open = display.command("xdg-open");
    open.arg(&url)
        .current_dir(&sandbox.home)
        .env("TMPDIR", &sandbox.tmp)
        .env("LANG", "en_US.UTF-8")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log file"));
    isolated(&mut open, &sandbox.home);
    let mut child = open.spawn().expect("xdg-open");
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    rt.block_on(continues_in_the_client(&mut web, &mut tech, sid));
    let deadline = Instant::now() + LONG;
    while !log().contains("earlier lines shown lines=2") {
        assert!(
            Instant::now() < deadline,
            "no history shown; log:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(log().contains("installed client: it stays"), "{}", log());
    let window = window_named(&display, "Beispiel Support");
    display
        .screenshot(&screenshot_path("installed"))
        .expect("screenshot");

    // The technician ends; the customer closes the window.
    rt.block_on(tech.send_for(
        sid,
        Message::End {
            reason: EndReason::EndedByTechnician,
        },
    ));
    display.close_window(&window).expect("close");
    let deadline = Instant::now() + LONG;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "client did not exit; log:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}; log:\n{}", log());
    assert_eq!(recorded_sessions(&relay, sid, "ended_by_technician"), 1);
    assert!(installed.exists(), "the installed client stays");
    assert_eq!(Sandbox::entries(&sandbox.tmp), Vec::<String>::new());

    // Uninstall removes the program, the handler and the marker.
    let mut uninstall = Command::new("sh");
    uninstall.arg(script("uninstall.sh"));
    isolated(&mut uninstall, &sandbox.home);
    let out = uninstall.output().expect("run uninstall.sh");
    assert!(out.status.success(), "uninstall.sh: {out:?}");
    assert!(!installed.exists());
    assert!(
        !sandbox
            .home
            .join(".local/share/applications/lotse.desktop")
            .exists()
    );
    assert!(!sandbox.home.join(".local/share/lotse").exists());
    let out = query.output().expect("xdg-mime");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "");
}

#[test]
fn links_other_than_join_with_a_key_are_refused_before_any_window() {
    let rt = lotse_e2e::runtime();
    let relay = Relay::start_with_config(CONFIG);
    let sandbox = Sandbox::new();
    let exe = rt.block_on(download(&relay, "/download/linux", &sandbox.downloads));

    for (link, says) in [
        ("lotse://evil", "not a Lotse link"),
        ("lotse://join?ticket=abc", "not a Lotse link"),
        ("https://example.com/", "not a Lotse link"),
        ("lotse://join?key=", "the key in this link is not valid"),
        (
            "lotse://join?key=e1xab&consent=granted",
            "the key in this link is not valid",
        ),
        ("lotse://join?key=a b", "the key in this link is not valid"),
    ] {
        // No display at all: any window work would fail loudly.
        let out = Command::new(&exe)
            .arg(link)
            .current_dir(&sandbox.downloads)
            .env("HOME", &sandbox.home)
            .env("TMPDIR", &sandbox.tmp)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .output()
            .expect("run the client");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{link}: {stderr}");
        assert!(stderr.contains(says), "{link}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
        // Nothing happened: no files, the program untouched.
        assert!(exe.exists());
        assert_eq!(Sandbox::entries(&sandbox.tmp), Vec::<String>::new());
        assert_eq!(Sandbox::entries(&sandbox.home), Vec::<String>::new());
    }
    let list = relay.cli(&["sessions", "list"]);
    assert_eq!(list.lines().skip(1).count(), 0, "{list}");

    // A well-formed key the relay does not know: refused there, and no
    // session is opened for it.
    let display = Display::start().expect("Xvfb + openbox");
    let opts = CustomerOptions {
        args: vec!["lotse://join?key=e1x0123456789abcdef01234567".into()],
        ..CustomerOptions::default()
    };
    let mut client = Customer::run(sandbox, exe.clone(), &display, &opts);
    client.window();
    client.wait_log("relay refused hello", LONG);
    assert!(client.log().contains("BadKey"), "{}", client.log());
    display
        .screenshot(&screenshot_path("unknown-key"))
        .expect("screenshot");
    let status = close_window(&mut client);
    assert!(status.success(), "{status:?}; log:\n{}", client.log());
    assert!(
        !exe.exists(),
        "a download removes itself after a refusal too"
    );
    let list = relay.cli(&["sessions", "list"]);
    assert_eq!(list.lines().skip(1).count(), 0, "{list}");
}

#[test]
fn a_link_key_takes_the_session_over_once_and_its_link_resumes() {
    let rt = lotse_e2e::runtime();
    let relay = Relay::start_with_config(CONFIG);
    relay.add_user("tom", "geheim-passwort-1");
    let sid = rt.block_on(async {
        let mut tech = Peer::technician(&relay, "tom", "geheim-passwort-1").await;
        let (mut web, sid, url, _) = elevated_web_chat(&relay, &mut tech).await;
        let key = url
            .strip_prefix("lotse://join?key=")
            .expect("a join link")
            .to_owned();
        let customer = lotse_protocol::paths::CUSTOMER;

        // Malformed: refused at the upgrade. Unknown: refused at hello.
        let bad = Peer::connect(&relay, &format!("{customer}?key=a.b"), None).await;
        assert!(
            matches!(bad, Err(lotse_link::LinkError::Refused(403))),
            "a malformed key must be refused at the upgrade"
        );
        let refused = |e: &Envelope| {
            matches!(
                e.msg,
                Message::Error {
                    code: ErrorCode::BadKey,
                    fatal: true,
                    ..
                }
            )
        };
        let mut unknown = Peer::connect(&relay, &format!("{customer}?key=e1xnothing"), None)
            .await
            .expect("upgrade");
        unknown.send(hello(Role::Customer)).await;
        unknown.recv_until(refused, LONG).await;

        // The link's key: the same session, the conversation first.
        let path = format!("{customer}?key={key}");
        let mut full = Peer::connect(&relay, &path, None).await.expect("upgrade");
        full.hello(Role::Customer).await;
        assert_eq!(full.session, Some(sid));
        let history = full
            .recv_until(|e| matches!(e.msg, Message::ChatHistory { .. }), LONG)
            .await;
        let Message::ChatHistory { lines } = history.msg else {
            unreachable!()
        };
        let seen: Vec<(&str, Role)> = lines.iter().map(|l| (l.text.as_str(), l.role)).collect();
        assert_eq!(
            seen,
            [(WEB_LINE, Role::WebCustomer), (TECH_LINE, Role::Technician)]
        );
        full.recv_until(|e| matches!(e.msg, Message::TechnicianJoined { .. }), LONG)
            .await;
        continues_in_the_client(&mut web, &mut tech, sid).await;

        // Once only.
        let mut again = Peer::connect(&relay, &path, None).await.expect("upgrade");
        again.send(hello(Role::Customer)).await;
        again.recv_until(refused, LONG).await;

        // A cut: the client comes back on its link's address with its
        // resume token, into the same session.
        let token = full.resume_token.clone().expect("resume token");
        let last_seq = full.last_seq();
        full.cut();
        tech.recv_until(|e| matches!(e.msg, Message::PeerAway { .. }), LONG)
            .await;
        let mut back = Peer::connect(&relay, &path, None).await.expect("upgrade");
        back.send(Message::Hello {
            version: lotse_protocol::PROTOCOL_VERSION,
            role: Role::Customer,
            agent: "lotse-e2e".into(),
            lang: lotse_protocol::Lang::En,
            resume: Some(lotse_protocol::Resume {
                session: sid,
                token,
                last_seq,
            }),
        })
        .await;
        let welcome = back
            .recv_until(
                |e| matches!(e.msg, Message::Welcome { .. } | Message::Error { .. }),
                LONG,
            )
            .await;
        assert!(
            matches!(welcome.msg, Message::Welcome { session: Some(s), .. } if s == sid),
            "{welcome:?}"
        );
        tech.recv_until(|e| matches!(e.msg, Message::PeerBack), LONG)
            .await;
        back.send(chat(APP_LINE)).await;
        let line = tech
            .recv_until(
                |e| matches!(&e.msg, Message::Chat { text, .. } if text == APP_LINE),
                LONG,
            )
            .await;
        assert_eq!(line.session, Some(sid));
        tech.send_for(
            sid,
            Message::End {
                reason: EndReason::EndedByTechnician,
            },
        )
        .await;
        sid
    });
    assert_eq!(recorded_sessions(&relay, sid, "ended_by_technician"), 1);
}
