//! UI tests without a GPU: widgets are found by their AccessKit label.
//! The network task is replaced by a channel the test reads, so each test
//! checks exactly what the window asked for.

use std::sync::{Arc, Mutex};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use lotse_protocol::{Envelope, Message, MouseButton, NoticeInfo, QueueEntry};

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
    let (app, requests, _updates) = serving_anna(vec![]);
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
    h.get_by_label_contains("Anna: My printer is broken");
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
    let (app, requests, _updates) = sharing(4, 2);
    relay_says(&app, Some(7), Message::ControlGrant);
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
    // The screen has the keyboard now: Tab and arrows are the customer's
    // keys (they do not move the focus), text goes as text.
    commands(&mut h);
    h.key_press(Key::Tab);
    h.run();
    h.key_press(Key::ArrowDown);
    h.run();
    h.event(egui::Event::Text("Grüße".into()));
    h.run();
    let keys: Vec<InputEvent> = commands(&mut h)
        .into_iter()
        .filter_map(|c| match c {
            Command::Input { event, .. } if !matches!(event, InputEvent::MouseMove { .. }) => {
                Some(event)
            }
            _ => None,
        })
        .collect();
    let key = |k: &str, down| InputEvent::Key {
        key: k.into(),
        down,
    };
    assert_eq!(
        keys,
        vec![
            key("Tab", true),
            key("Tab", false),
            key("Down", true),
            key("Down", false),
            InputEvent::Text {
                text: "Grüße".into()
            },
        ]
    );
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

fn harness_sized(
    app: ConsoleApp,
    requests: mpsc::Receiver<Request>,
    size: [f32; 2],
) -> Harness<'static, Ui> {
    Harness::builder().with_size(size).build_ui_state(
        |ui, state: &mut Ui| state.app.draw(ui),
        Ui { app, requests },
    )
}

/// A console serving Anna in session 7 (started `started` with the
/// customer's earlier consents), logged in.
fn serving_anna(
    consents: Vec<lotse_protocol::ConsentRecord>,
) -> (ConsoleApp, mpsc::Receiver<Request>, mpsc::Sender<Update>) {
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
            consents,
        },
    );
    updates.try_send(Update::Event(started)).unwrap();
    (app, requests, updates)
}

/// Anna shares a `w`×`h` screen, all one grey.
fn sharing(w: u32, h: u32) -> (ConsoleApp, mpsc::Receiver<Request>, mpsc::Sender<Update>) {
    let (app, requests, updates) = serving_anna(vec![]);
    relay_says(
        &app,
        Some(7),
        Message::ShareGrant {
            scope: lotse_protocol::ShareScope::Screen { monitor: 0 },
            width: w,
            height: h,
        },
    );
    app.engine
        .core()
        .sessions
        .get_mut(&7)
        .unwrap()
        .screen
        .set_rgba(w, h, vec![200; (w * h * 4) as usize]);
    updates
        .try_send(Update::Patch(ScreenPatch {
            session: 7,
            width: w,
            height: h,
            rects: vec![],
            cursor: None,
        }))
        .unwrap();
    (app, requests, updates)
}

/// A 1400 × 900 window serving Anna, who shares a `w`×`h` screen.
fn window_sharing(w: u32, h: u32) -> Harness<'static, Ui> {
    let (app, requests, _updates) = sharing(w, h);
    let mut h = harness_sized(app, requests, [1400.0, 900.0]);
    h.run();
    h
}

fn screen_rect(h: &Harness<'_, Ui>) -> egui::Rect {
    h.get_by_label("Customer screen").rect()
}

fn wheel(h: &Harness<'_, Ui>, delta: egui::Vec2) {
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Point,
        delta,
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
        modifiers: egui::Modifiers::NONE,
    });
}

fn click_at(h: &Harness<'_, Ui>, pos: egui::Pos2) {
    h.hover_at(pos);
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
    }
}

#[test]
fn hiding_the_chat_and_the_queue_gives_the_screen_their_width() {
    // A wide screen: its width limits how large it can be drawn.
    let mut h = window_sharing(2000, 500);
    let with_chat = screen_rect(&h);
    h.get_by_label("Send");
    h.get_by_label("Hide chat and tools").click();
    h.run();
    let without_chat = screen_rect(&h);
    assert!(
        without_chat.width() > with_chat.width() + 250.0,
        "{with_chat:?} → {without_chat:?}"
    );
    assert!(h.query_by_label("Send").is_none(), "the chat is hidden");
    h.get_by_label("Hide queue").click();
    h.run();
    let alone = screen_rect(&h);
    assert!(
        alone.width() > without_chat.width() + 150.0,
        "{without_chat:?} → {alone:?}"
    );
    assert!(h.query_by_label("Waiting customers").is_none());
    // Whole and in proportion, whatever the space.
    for r in [with_chat, without_chat, alone] {
        assert!((r.width() / r.height() - 4.0).abs() < 0.02, "{r:?}");
    }

    // Anna writes while the chat is hidden: its switch says so.
    relay_says(
        &h.state().app,
        Some(7),
        Message::Chat {
            text: "Are you there?".into(),
            from: Some("Anna".into()),
            at_ms: Some(crate::core::now_ms()),
        },
    );
    h.run();
    h.get_by_label("Show chat and tools (1 new)").click();
    h.run();
    h.get_by_label_contains("Anna: Are you there?");
    h.get_by_label("Send");
    h.get_by_label("Hide chat and tools");
    assert!((screen_rect(&h).width() - alone.width()).abs() > 250.0);
}

#[test]
fn actual_size_draws_one_customer_pixel_per_display_pixel() {
    let mut h = window_sharing(2000, 1500);
    let fit = screen_rect(&h);
    assert!(fit.width() < 1000.0 && fit.height() < 800.0, "{fit:?}");
    assert!(
        (fit.width() / fit.height() - 4.0 / 3.0).abs() < 0.01,
        "{fit:?}"
    );
    let percent = (fit.width() / 2000.0 * 100.0).round();
    h.get_by_label(&format!("Zoom {percent} %"));

    h.get_by_label("Actual size (1:1)").click();
    h.run();
    assert_eq!(screen_rect(&h).size(), egui::vec2(2000.0, 1500.0));
    h.get_by_label("Zoom 100 %");

    // A display with two pixels per point: 1:1 is still one customer
    // pixel per display pixel, 1000 × 750 points.
    h.set_pixels_per_point(2.0);
    h.run();
    assert_eq!(screen_rect(&h).size(), egui::vec2(1000.0, 750.0));
    h.get_by_label("Zoom 100 %");

    h.get_by_label("Fit to window").click();
    h.run();
    assert!(screen_rect(&h).width() < 1000.0);
}

#[test]
fn a_click_in_actual_size_after_scrolling_reaches_the_pixel_under_the_pointer() {
    let mut h = window_sharing(2000, 1500);
    h.get_by_label("Actual size (1:1)").click();
    h.run();
    // Unscrolled, the screen's corner is the view's corner.
    let corner = screen_rect(&h).min;

    // Without control the wheel moves the view: 700 right, 500 down.
    h.hover_at(corner + egui::vec2(200.0, 200.0));
    wheel(&h, egui::vec2(-700.0, -500.0));
    h.run();
    assert_eq!(screen_rect(&h).min, corner - egui::vec2(700.0, 500.0));
    assert!(
        commands(&mut h).is_empty(),
        "nothing reaches the customer without control"
    );

    relay_says(&h.state().app, Some(7), Message::ControlGrant);
    h.run();
    // In control, the pointer still resting there is at (200+700, 200+500).
    assert_eq!(
        commands(&mut h),
        vec![Command::Input {
            session: 7,
            event: InputEvent::MouseMove { x: 900, y: 700 }
        }]
    );
    // 50.5 and 60.5 points into the view lie on customer pixel (750, 560).
    click_at(&h, corner + egui::vec2(50.5, 60.5));
    h.run();
    let input: Vec<InputEvent> = commands(&mut h)
        .into_iter()
        .filter_map(|c| match c {
            Command::Input { session: 7, event } => Some(event),
            _ => None,
        })
        .collect();
    assert_eq!(
        input,
        vec![
            InputEvent::MouseMove { x: 750, y: 560 },
            InputEvent::MouseButton {
                button: MouseButton::Left,
                down: true
            },
            InputEvent::MouseButton {
                button: MouseButton::Left,
                down: false
            },
        ]
    );

    // In control the wheel belongs to the customer; the view stays.
    wheel(&h, egui::vec2(0.0, -120.0));
    h.run();
    assert!(commands(&mut h).contains(&Command::Input {
        session: 7,
        event: InputEvent::Wheel { dx: 0, dy: -120 }
    }));
    assert_eq!(screen_rect(&h).min, corner - egui::vec2(700.0, 500.0));

    // Fitted, the same spot of the window is another customer pixel:
    // the screen is scaled down.
    h.get_by_label("Fit to window").click();
    h.run();
    let fit = screen_rect(&h);
    let scale = 2000.0 / fit.width();
    click_at(&h, fit.min + egui::vec2(100.5, 80.5));
    h.run();
    let moved = commands(&mut h).into_iter().find_map(|c| match c {
        Command::Input {
            event: InputEvent::MouseMove { x, y },
            ..
        } => Some((x, y)),
        _ => None,
    });
    assert_eq!(
        moved,
        Some((
            (100.5 * scale).floor() as i32,
            (80.5 * 1500.0 / fit.height()).floor() as i32
        ))
    );
}

/// Screen update frames for session 7, numbered from 1.
fn update_frame(seq: u64, update: &[u8]) -> Vec<u8> {
    lotse_protocol::BinaryHeader {
        kind: lotse_protocol::BinaryKind::ScreenUpdate,
        flags: lotse_protocol::FLAG_LAST,
        id: 1,
        session: 7,
        seq,
    }
    .frame(update)
}

/// Where the customer's pointer is painted, if anywhere visible.
fn painted_pointer(h: &Harness<'_, Ui>) -> Option<egui::Rect> {
    let tab = &h.state().app.tabs[&7];
    let id = tab.screen.cursor.as_ref()?.texture.id();
    h.output()
        .shapes
        .iter()
        .find_map(|clipped| match &clipped.shape {
            egui::Shape::Mesh(mesh) if mesh.texture_id == id => {
                let drawn = mesh.calc_bounds();
                clipped.clip_rect.intersects(drawn).then_some(drawn)
            }
            _ => None,
        })
}

#[test]
fn the_customer_pointer_is_drawn_where_the_customer_has_it() {
    let (app, requests, updates) = serving_anna(vec![]);
    relay_says(
        &app,
        Some(7),
        Message::ShareGrant {
            scope: lotse_protocol::ShareScope::Screen { monitor: 0 },
            width: 400,
            height: 300,
        },
    );
    // What the customer's client sends: a picture, the pointer's shape
    // (12 × 20, hot spot at 1, 2), then its position.
    let mut enc = lotse_codec::Encoder::new(lotse_codec::EncoderConfig::default());
    let bgra = vec![90u8; 400 * 300 * 4];
    let picture = enc
        .encode(&lotse_codec::Frame {
            width: 400,
            height: 300,
            stride: 400 * 4,
            bgra: &bgra,
        })
        .expect("a keyframe");
    let arrow = vec![255u8; 12 * 20 * 4];
    let pointer = [
        picture,
        enc.cursor_shape(12, 20, 1, 2, &arrow),
        enc.cursor_position(100, 50),
    ];
    for (seq, update) in (1..).zip(&pointer) {
        let mut core = app.engine.core();
        core.receive_binary(&update_frame(seq, update));
        for patch in core.take_patches() {
            updates.try_send(Update::Patch(patch)).unwrap();
        }
    }
    let mut h = harness_sized(app, requests, [1400.0, 900.0]);
    h.run();

    // Fitted: at the customer's position on the scaled picture.
    let screen = screen_rect(&h);
    let scale = screen.width() / 400.0;
    assert!(scale > 1.0, "a small screen is enlarged to fit: {screen:?}");
    let drawn = painted_pointer(&h).expect("the pointer is drawn");
    let want = egui::Rect::from_min_size(
        screen.min + egui::vec2(99.0, 48.0) * scale,
        egui::vec2(12.0, 20.0) * scale,
    );
    assert!(
        (drawn.min - want.min).length() < 0.01 && (drawn.size() - want.size()).length() < 0.01,
        "{drawn:?} != {want:?}"
    );

    // 1:1: the pointer's own size, hot spot on pixel (100, 50).
    h.get_by_label("Actual size (1:1)").click();
    h.run();
    let screen = screen_rect(&h);
    assert_eq!(
        painted_pointer(&h),
        Some(egui::Rect::from_min_size(
            screen.min + egui::vec2(99.0, 48.0),
            egui::vec2(12.0, 20.0)
        ))
    );

    // The customer's pointer leaves the shared screen: none is drawn.
    let patches = {
        let mut core = h.state().app.engine.core();
        core.receive_binary(&update_frame(4, &enc.cursor_position(-32768, -32768)));
        core.take_patches()
    };
    for patch in patches {
        updates.try_send(Update::Patch(patch)).unwrap();
    }
    h.run();
    assert_eq!(painted_pointer(&h), None);
}

/// What the last frame put on the clipboard.
fn copied_text(h: &Harness<'_, Ui>) -> Option<String> {
    h.output()
        .platform_output
        .commands
        .iter()
        .find_map(|c| match c {
            egui::OutputCommand::CopyText(text) => Some(text.clone()),
            _ => None,
        })
}

/// `HH:MM` of a local time, built from its parts.
fn hh_mm(at_ms: i64) -> String {
    use chrono::{TimeZone as _, Timelike as _};
    let t = chrono::Local.timestamp_millis_opt(at_ms).unwrap();
    format!("{:02}:{:02}", t.hour(), t.minute())
}

#[test]
fn the_transcript_shows_times_and_the_session_events_and_copies_as_text() {
    let now = crate::core::now_ms();
    let (earlier, before) = (now - 3 * 60_000, now - 2 * 60_000);
    let (app, requests, _updates) = serving_anna(vec![lotse_protocol::ConsentRecord {
        topic: lotse_protocol::ConsentTopic::Agreement,
        granted: true,
        at_ms: earlier,
    }]);
    relay_says(
        &app,
        Some(7),
        Message::Chat {
            text: "My printer is broken".into(),
            from: Some("Anna".into()),
            at_ms: Some(before),
        },
    );
    let mut h = harness_sized(app, requests, [1400.0, 900.0]);
    h.run();
    h.get_by_label("Request screen sharing").click();
    h.run();
    h.get_by_label("Nudge").click();
    h.run();
    // The window sends these; here the test is the network task.
    for c in commands(&mut h) {
        h.state().app.engine.core().command(c).unwrap();
    }
    for msg in [
        Message::ShareGrant {
            scope: lotse_protocol::ShareScope::Screen { monitor: 0 },
            width: 1280,
            height: 800,
        },
        Message::FileOffer {
            id: 2,
            name: "log.txt".into(),
            size: 10,
            sha256: "cd".repeat(32),
        },
        Message::ShareStop,
    ] {
        relay_says(&h.state().app, Some(7), msg);
    }
    h.run();
    let later = crate::core::now_ms();

    // Lines the relay stamped show its time; what happened here, the time
    // it happened (the minute may turn during the test).
    h.get_by_label(&format!("{} · Customer agreement: granted", hh_mm(earlier)));
    h.get_by_label(&format!("{} Anna: My printer is broken", hh_mm(before)));
    let event = |h: &Harness<'_, Ui>, text: &str| -> egui::Rect {
        [now, later]
            .iter()
            .find_map(|t| {
                h.query_by_label(&format!("{} · {text}", hh_mm(*t)))
                    .map(|n| n.rect())
            })
            .unwrap_or_else(|| panic!("no line {text:?}"))
    };
    // Anna wrote before this technician joined.
    let lines = [
        h.get_by_label_contains("Anna: My printer is broken").rect(),
        event(&h, "You joined the session with Anna."),
        event(&h, "You asked to see the screen."),
        event(&h, "You nudged Anna."),
        event(&h, "Anna shares the screen (1280×800)."),
        event(&h, "Anna offers log.txt (10 B)."),
        event(&h, "Anna stopped screen sharing."),
    ];
    assert!(
        lines.windows(2).all(|w| w[0].top() < w[1].top()),
        "in the order they happened: {lines:?}"
    );

    // The whole transcript as text.
    h.get_by_label("Copy transcript").click();
    h.step();
    let copied = copied_text(&h).expect("the transcript is copied");
    assert!(
        copied.contains(&format!("{} Anna: My printer is broken\n", hh_mm(before))),
        "{copied}"
    );
    assert!(
        copied.contains(" · You asked to see the screen.\n"),
        "{copied}"
    );
    assert_eq!(copied.lines().count(), 8, "{copied}");

    // One line selected with the mouse and copied.
    let line = h.get_by_label_contains("Anna: My printer is broken").rect();
    h.run();
    h.drag_at(line.left_center() + egui::vec2(1.0, 0.0));
    h.step();
    h.hover_at(line.right_center() - egui::vec2(1.0, 0.0));
    h.step();
    h.drop_at(line.right_center() - egui::vec2(1.0, 0.0));
    h.step();
    h.event(egui::Event::Copy);
    h.step();
    let selected = copied_text(&h);
    assert_eq!(
        selected.as_deref(),
        Some(format!("{} Anna: My printer is broken", hh_mm(before)).as_str())
    );
}

#[test]
fn full_screen_is_the_screen_and_a_small_toolbar() {
    let mut h = window_sharing(1600, 1000);
    relay_says(&h.state().app, Some(7), Message::ControlGrant);
    h.run();
    let windowed = screen_rect(&h);
    h.get_by_label("Full screen").click();
    h.step();
    let asked: Vec<_> = h.output().viewport_output[&egui::ViewportId::ROOT]
        .commands
        .clone();
    assert!(
        asked.contains(&egui::ViewportCommand::Fullscreen(true)),
        "{asked:?}"
    );
    h.run();
    // Nothing but the screen and the toolbar.
    for gone in ["Waiting customers", "Send", "Log out", "Nudge"] {
        assert!(h.query_by_label(gone).is_none(), "{gone} is hidden");
    }
    let full = screen_rect(&h);
    assert!(
        full.height() > 850.0 && full.height() > windowed.height() + 100.0,
        "{windowed:?} → {full:?}"
    );
    h.get_by_label("IN CONTROL — F12 releases");

    h.get_by_label("Chat").click();
    h.run();
    h.get_by_label("Send");
    assert!(screen_rect(&h).width() < full.width());
    h.get_by_label("Hide chat").click();
    h.run();
    assert!(h.query_by_label("Send").is_none());

    h.get_by_label("Release control (F12)").click();
    h.run();
    h.get_by_label("Stop screen sharing").click();
    h.run();
    let asked: Vec<Command> = commands(&mut h)
        .into_iter()
        .filter(|c| !matches!(c, Command::Input { .. }))
        .collect();
    assert_eq!(
        asked,
        vec![
            Command::ReleaseControl { session: 7 },
            Command::StopShare { session: 7 }
        ]
    );
    h.get_by_label("Exit full screen").click();
    h.step();
    assert!(
        h.output().viewport_output[&egui::ViewportId::ROOT]
            .commands
            .contains(&egui::ViewportCommand::Fullscreen(false))
    );
    h.run();
    h.get_by_label("Waiting customers");
    h.get_by_label("Send");
}

#[test]
fn the_new_screen_and_transcript_texts_are_german_too() {
    let (mut app, requests, _updates) = sharing(800, 600);
    app.t = Strings::new(Language::De);
    let mut h = harness_sized(app, requests, [1400.0, 900.0]);
    h.run();
    for label in [
        "An Fenster anpassen",
        "Originalgröße (1:1)",
        "Vollbild",
        "Chat und Werkzeuge ausblenden",
        "Warteschlange ausblenden",
        "Verlauf kopieren",
    ] {
        h.get_by_label(label);
    }
    h.get_by_label_contains("Sie haben die Sitzung mit Anna übernommen.");
    h.get_by_label_contains("Anna gibt den Bildschirm frei (800×600).");
}

#[test]
fn a_screen_wider_than_the_largest_texture_is_drawn_whole_in_tiles() {
    // Wider than the 2048 pixels this renderer takes per texture.
    let mut h = window_sharing(3000, 1000);
    assert_eq!(
        h.state().app.tabs[&7]
            .screen
            .picture
            .as_ref()
            .map(|p| p.tiles()),
        Some(2)
    );
    h.get_by_label("Actual size (1:1)").click();
    h.run();
    let screen = screen_rect(&h);
    assert_eq!(screen.size(), egui::vec2(3000.0, 1000.0));
    // Both tiles are painted side by side over the whole screen.
    let ids: Vec<egui::TextureId> = h
        .output()
        .shapes
        .iter()
        .filter_map(|c| match &c.shape {
            egui::Shape::Mesh(mesh) if mesh.calc_bounds().height() == 1000.0 => {
                Some(mesh.texture_id)
            }
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    // A change across the tiles' border is uploaded into both.
    let ctx = h.ctx.clone();
    ctx.tex_manager().write().take_delta().clear();
    let (w, h_px) = (100u32, 10u32);
    h.state_mut().app.apply(
        &ctx,
        Update::Patch(ScreenPatch {
            session: 7,
            width: 3000,
            height: 1000,
            rects: vec![(
                crate::screen::Rect {
                    x: 2000,
                    y: 0,
                    w,
                    h: h_px,
                },
                vec![7; (w * h_px * 4) as usize],
            )],
            cursor: None,
        }),
    );
    let mut delta = ctx.tex_manager().write().take_delta();
    let uploads: Vec<(egui::TextureId, Option<[usize; 2]>, [usize; 2])> = delta
        .set
        .iter()
        .flat_map(|(id, deltas)| deltas.iter().map(|d| (*id, d.pos, d.image.size())))
        .collect();
    delta.clear();
    assert_eq!(
        uploads,
        vec![
            (ids[0], Some([2000, 0]), [48, 10]),
            (ids[1], Some([0, 0]), [52, 10])
        ]
    );
}
