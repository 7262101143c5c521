//! UI tests without a GPU: widgets are found by their AccessKit label.
//! The network task is replaced by a channel the test reads, so each test
//! checks exactly what the window asked for.

use std::sync::{Arc, Mutex};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use lotse_protocol::{Envelope, Message, NoticeInfo, QueueEntry};

use super::*;
use crate::core::Core;

struct Ui {
    app: ConsoleApp,
    requests: mpsc::Receiver<Request>,
}

fn console() -> (ConsoleApp, mpsc::Receiver<Request>, mpsc::Sender<Update>) {
    let (req_tx, req_rx) = mpsc::channel(64);
    let (up_tx, up_rx) = mpsc::channel(64);
    let engine = EngineHandle {
        requests: req_tx,
        core: Arc::new(Mutex::new(Core::new("Tom", true))),
    };
    let app = ConsoleApp::new(
        engine,
        up_rx,
        Strings::new(Language::En),
        Some("wss://relay.test:4433".into()),
        None,
    );
    (app, req_rx, up_tx)
}

fn harness(app: ConsoleApp, requests: mpsc::Receiver<Request>) -> Harness<'static, Ui> {
    Harness::builder()
        .with_size([1400.0, 1600.0])
        .build_ui_state(
            |ui, state: &mut Ui| state.app.draw(ui),
            Ui { app, requests },
        )
}

fn commands(h: &mut Harness<'_, Ui>) -> Vec<Command> {
    let mut out = Vec::new();
    while let Ok(r) = h.state_mut().requests.try_recv() {
        if let Request::Command(c) = r {
            out.push(c);
        }
    }
    out
}

fn logged_in(app: &mut ConsoleApp, updates: &mpsc::Sender<Update>) {
    updates
        .try_send(Update::Event(Event::LoggedIn {
            display_name: "Tom".into(),
        }))
        .unwrap();
    let _ = app;
}

fn relay_says(app: &ConsoleApp, session: Option<u64>, msg: Message) -> Event {
    let mut env = Envelope::new(msg);
    env.session = session;
    let mut core = app.engine.core();
    core.receive_text(env);
    core.take_outgoing();
    core.take_events()
        .into_iter()
        .last()
        .expect("the core reports an event")
}

#[test]
fn login_form_sends_login_and_shows_a_wrong_password() {
    let (app, requests, updates) = console();
    let mut h = harness(app, requests);
    h.run();
    h.get_by_label("User name").focus();
    h.run();
    h.get_by_label("User name").type_text("tom");
    h.get_by_label("Password").focus();
    h.run();
    h.get_by_label("Password").type_text("secret");
    h.run();
    h.get_by_label("Log in").click();
    h.run();
    let request = h.state_mut().requests.try_recv().unwrap();
    match request {
        Request::Login {
            url,
            pin,
            user,
            password,
        } => {
            assert_eq!(url, "wss://relay.test:4433");
            assert_eq!(pin, None, "empty fingerprint = trust on first use");
            assert_eq!(user, "tom");
            assert_eq!(password, "secret");
        }
        other => panic!("expected a login request, got {other:?}"),
    }
    updates
        .try_send(Update::Event(Event::Certificate {
            sha256: "ab".repeat(32),
        }))
        .unwrap();
    updates
        .try_send(Update::Event(Event::error(None, "login_failed", "no")))
        .unwrap();
    h.run();
    h.get_by_label("Wrong user name or password.");
    h.get_by_label_contains(&"ab".repeat(32));

    // A malformed fingerprint is refused before anything is sent.
    h.get_by_label("Certificate SHA-256").focus();
    h.run();
    h.get_by_label("Certificate SHA-256").type_text("zz");
    h.run();
    h.get_by_label("Log in").click();
    h.run();
    h.get_by_label_contains("64 hex digits");
    assert!(h.state_mut().requests.try_recv().is_err());
}

#[test]
fn queue_lists_customers_and_accepts() {
    let (mut app, requests, updates) = console();
    logged_in(&mut app, &updates);
    let event = relay_says(
        &app,
        None,
        Message::Queue {
            entries: vec![QueueEntry {
                session: 7,
                name: "Anna".into(),
                problem: Some("Printer prints blank pages".into()),
                waiting_secs: 75,
                role: Role::WebCustomer,
            }],
            notices: vec![],
            not_listed: 12,
        },
    );
    updates.try_send(Update::Event(event)).unwrap();
    let mut h = harness(app, requests);
    h.run();
    h.get_by_label("Waiting customers");
    h.get_by_label("Anna");
    h.get_by_label_contains("12 more waiting, not listed");
    h.get_by_label("Printer prints blank pages");
    h.get_by_label_contains("web chat");
    h.get_by_label_contains("1:15");
    h.get_by_label("Accept Anna").click();
    h.run();
    assert_eq!(commands(&mut h), vec![Command::Accept { session: 7 }]);
}

#[test]
fn session_tab_chats_nudges_sends_notices_and_answers_files() {
    let (mut app, requests, updates) = console();
    logged_in(&mut app, &updates);
    relay_says(
        &app,
        None,
        Message::Queue {
            entries: vec![],
            notices: vec![NoticeInfo {
                id: "mail".into(),
                text: "Mail is down".into(),
            }],
            not_listed: 0,
        },
    );
    let started = relay_says(
        &app,
        None,
        Message::SessionStarted {
            session: 7,
            customer_name: "Anna".into(),
            problem: None,
            role: Role::Customer,
            history: vec![],
            consents: vec![],
        },
    );
    updates.try_send(Update::Event(started)).unwrap();
    relay_says(
        &app,
        Some(7),
        Message::Chat {
            text: "My printer is broken".into(),
            from: Some("Anna".into()),
            at_ms: Some(1),
        },
    );
    relay_says(
        &app,
        Some(7),
        Message::FileOffer {
            id: 2,
            name: "log.txt".into(),
            size: 10,
            sha256: "cd".repeat(32),
        },
    );
    let mut h = harness(app, requests);
    h.run();
    h.get_by_label("My printer is broken");
    h.get_by_label("Message").focus();
    h.run();
    h.get_by_label("Message").type_text("Let me look");
    h.run();
    h.get_by_label("Send").click();
    h.run();
    h.get_by_label("Nudge").click();
    h.run();
    h.get_by_label("Custom notice").focus();
    h.run();
    h.get_by_label("Custom notice").type_text("Back soon");
    h.run();
    h.get_by_label("Send custom notice").click();
    h.run();
    h.get_by_label("Request screen sharing").click();
    h.run();
    h.get_by_label("Decline log.txt").click();
    h.run();
    h.get_by_label("End session").click();
    h.run();
    assert_eq!(
        commands(&mut h),
        vec![
            Command::Say {
                session: 7,
                text: "Let me look".into()
            },
            Command::Nudge { session: 7 },
            Command::Notice {
                session: 7,
                notice: NoticeChoice::Text("Back soon".into())
            },
            Command::RequestShare { session: 7 },
            Command::DeclineFile { session: 7, id: 2 },
            Command::End { session: 7 },
        ]
    );
}

#[test]
fn in_control_state_is_shown_and_f12_releases() {
    let (mut app, requests, updates) = console();
    logged_in(&mut app, &updates);
    let started = relay_says(
        &app,
        None,
        Message::SessionStarted {
            session: 7,
            customer_name: "Anna".into(),
            problem: None,
            role: Role::Customer,
            history: vec![],
            consents: vec![],
        },
    );
    updates.try_send(Update::Event(started)).unwrap();
    relay_says(
        &app,
        Some(7),
        Message::ShareGrant {
            scope: lotse_protocol::ShareScope::Screen { monitor: 0 },
            width: 4,
            height: 2,
        },
    );
    relay_says(&app, Some(7), Message::ControlGrant);
    {
        let mut core = app.engine.core();
        let s = core.sessions.get_mut(&7).unwrap();
        s.screen.set_rgba(4, 2, vec![255; 32]);
    }
    updates
        .try_send(Update::Patch(ScreenPatch {
            session: 7,
            width: 4,
            height: 2,
            rects: vec![],
        }))
        .unwrap();
    let mut h = harness(app, requests);
    h.run();
    h.get_by_label("IN CONTROL — F12 releases");
    h.get_by_label("Release control (F12)");
    // A click on the screen view is a click on the customer's screen.
    h.get_by_label("Customer screen").click();
    h.run();
    let sent = commands(&mut h);
    assert!(
        sent.iter()
            .any(|c| matches!(c, Command::Input { session: 7, event: InputEvent::MouseMove { x, y } } if (0..4).contains(x) && (0..2).contains(y))),
        "pointer position in customer pixels: {sent:?}"
    );
    for down in [true, false] {
        assert!(
            sent.contains(&Command::Input {
                session: 7,
                event: InputEvent::MouseButton {
                    button: MouseButton::Left,
                    down
                }
            }),
            "{sent:?}"
        );
    }
    h.key_press(Key::F12);
    h.run();
    assert!(
        commands(&mut h).contains(&Command::ReleaseControl { session: 7 }),
        "F12 releases control"
    );
}

#[test]
fn forwarded_keys_carry_their_modifiers_and_names_the_customer_knows() {
    let ctrl = egui::Modifiers::CTRL;
    let none = egui::Modifiers::NONE;
    assert_eq!(
        key_name(Key::A, &none),
        None,
        "plain letters travel as text"
    );
    assert_eq!(key_name(Key::A, &ctrl).as_deref(), Some("a"));
    assert_eq!(key_name(Key::Minus, &ctrl).as_deref(), Some("-"));
    assert_eq!(key_name(Key::PageUp, &none).as_deref(), Some("Page_Up"));
    let key = |k: &str, down| InputEvent::Key {
        key: k.into(),
        down,
    };
    assert_eq!(
        key_events("c".into(), true, &ctrl),
        vec![key("Control_L", true), key("c", true)]
    );
    assert_eq!(
        key_events("c".into(), false, &ctrl),
        vec![key("c", false), key("Control_L", false)]
    );
    let shift_alt = egui::Modifiers {
        alt: true,
        shift: true,
        ..Default::default()
    };
    assert_eq!(
        key_events("Tab".into(), false, &shift_alt),
        vec![
            key("Tab", false),
            key("Shift_L", false),
            key("Alt_L", false)
        ]
    );
    assert_eq!(
        key_events("Return".into(), true, &none),
        vec![key("Return", true)]
    );
    // Every name the console sends is one the customer's side maps.
    for k in [
        Key::Enter,
        Key::PageDown,
        Key::ArrowLeft,
        Key::F11,
        Key::Comma,
    ] {
        let name = key_name(k, &ctrl).expect("forwarded");
        assert!(
            lotse_desktop_key_known(&name),
            "{name} is not a key the client knows"
        );
    }
}

/// The key names `lotse_desktop::input::key_from_name` accepts (X keysym
/// style, egui style, F-keys, one character) — kept here without the
/// desktop crate.
fn lotse_desktop_key_known(name: &str) -> bool {
    name.chars().count() == 1
        || name.starts_with('F') && name[1..].parse::<u8>().is_ok()
        || [
            "Return",
            "BackSpace",
            "Tab",
            "Escape",
            "Delete",
            "Insert",
            "Home",
            "End",
            "Page_Up",
            "Page_Down",
            "Up",
            "Down",
            "Left",
            "Right",
        ]
        .contains(&name)
}
