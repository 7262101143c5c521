//! End to end: screen sharing and remote control between the REAL customer
//! client (downloaded from the relay, run under a private Xvfb with
//! openbox, driven with xdotool like a person) and the REAL technician
//! console (`lotse-console --headless`, a process talking to a real relay).
//!
//! * whole screen: Allow → the console's decoded picture equals the X
//!   screen pixel for pixel; control: the console clicks into an xterm and
//!   types `Grüße, 123 €`, which the xterm receives exactly; STOP SCREEN
//!   SHARING: the console is told, control ends, no frame follows;
//! * app-selective: only the chosen xterm reaches the console (everything
//!   else black, pixel-exactly), and a secret window of a distinctive
//!   colour never shows in any decoded update, also when it is moved over
//!   the shared xterm;
//! * decline: not one screen frame, nothing captured; with the same
//!   session: chat both ways, nudge, notice, a file from the customer.
//!
//! Screenshots (X screen and the console's picture) land in
//! `CARGO_TARGET_TMPDIR/share-e2e-*.png` (not committed).
//!
//! Needs: `cargo build -p lotse-relay -p lotse-client -p lotse-console`
//! first; Debian packages xvfb, openbox, xdotool, x11-utils, xterm,
//! imagemagick, python3-xlib.

use std::process::Stdio;
use std::time::{Duration, Instant};

use lotse_e2e::a11y::A11yBus;
use lotse_e2e::console::Console;
use lotse_e2e::customer::{Customer, CustomerOptions, LONG};
use lotse_e2e::display::Display;
use lotse_e2e::relay::Relay;
use lotse_e2e::scene::{
    Artifacts, PICKER_READY, SECRET_HEX, SECRET_RGB, Scene, TECH, choose_application,
    click_title_bar, client_rect, find_colour, frame_rect, masked, move_window,
    request_share_and_allow, say, serve, stop_screen_sharing, wait_console_shows, wait_mapped,
    x_screen,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Site texts off, so the customer goes straight to the name entry; one
/// site notice. The watermark stays on (as on a real site): it is part of
/// the customer's screen and of what the technician sees.
const CONFIG: &str = r#"
site_name = "Beispiel Support"
[texts.en]
agreement = ""
recording_prompt = ""
survey = ""
[[notices]]
id = "mail"
auto_show = false
text = { en = "Our mail service is down; we are working on it.", de = "Unser Mail-Dienst ist gestört." }
"#;

const SHOTS: Artifacts = Artifacts {
    dir: env!("CARGO_TARGET_TMPDIR"),
    prefix: "share-e2e",
};

/// Start the relay with the technician account, the display and the
/// console; the customer joins as `name` and the console accepts.
async fn session(name: &str, opts: CustomerOptions) -> (Relay, Display, Console, Customer, u64) {
    let relay = Relay::start_with_config(CONFIG);
    relay.add_user(TECH.0, TECH.1);
    let display = Display::start().expect("Xvfb + openbox");
    let mut console = Console::start(&relay);
    let mut customer = Customer::start(&relay, &display, opts).await;
    // Like a person: click the window's title bar before typing.
    let window = customer.window();
    wait_mapped(&display, &window);
    click_title_bar(&display, &window);
    customer.join(name);
    let session = serve(&mut console, name).await;
    customer.wait_log("TechnicianJoined(", LONG);
    (relay, display, console, customer, session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_screen_share_shows_the_screen_and_control_types_into_the_xterm() {
    let (_relay, display, mut console, mut customer, session) =
        session("Erika Muster", CustomerOptions::default()).await;
    let (_dir, typed, _scene, colour, xterm) = whole_scene(&display, &mut customer);

    request_share_and_allow(&mut console, &mut customer).await;
    // The picker: the whole screen is preselected and Share has the focus
    // once the window list is there.
    customer.wait_log_after("Allowed(ScreenShare)", PICKER_READY, LONG);
    display
        .screenshot(&SHOTS.path("whole-picker"))
        .expect("screenshot");
    customer.type_keys("Return");
    let granted = console.event("share_granted").await;
    assert_eq!(granted["session"].as_u64(), Some(session));
    assert_eq!(granted["scope"]["kind"], "screen", "{granted}");
    assert_eq!(
        (granted["width"].as_u64(), granted["height"].as_u64()),
        (Some(1280), Some(800))
    );
    console.event("screen").await;
    let first = wait_console_shows(&mut console, &display, SHOTS, "whole", |x| x).await;
    assert_eq!(first.dimensions(), (1280, 800));

    // Control: asked, allowed; the technician clicks into the xterm and
    // types.
    control_into(&mut console, &mut customer, &display, &xterm).await;
    console.cmd("type Grüße, 123 €");
    console.cmd("key Return");
    let deadline = Instant::now() + LONG;
    loop {
        let text = std::fs::read_to_string(&typed).unwrap_or_default();
        if text == "Grüße, 123 €\n" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the xterm got {text:?}; client log:\n{}",
            customer.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The typed line shows on the technician's side too.
    wait_console_shows(&mut console, &display, SHOTS, "whole-typed", |x| x).await;

    // STOP SCREEN SHARING in the banner above the chat, and a thumbnail of
    // what the technician sees: the blue window shows in it, small.
    display
        .screenshot(&SHOTS.path("whole-banner"))
        .expect("screenshot");
    let banner = image::open(SHOTS.path("whole-banner"))
        .expect("the screenshot")
        .into_rgb8();
    let client = client_rect(&display, &customer.window());
    find_colour(&banner, client, [0x33, 0x66, 0xcc])
        .expect("the thumbnail in the chat window shows the blue window");
    stop_screen_sharing(&display, &mut customer, SHOTS);
    // STOP ends control first, then sharing (input stops before capture).
    let revoked = console.event("control_revoked").await;
    assert_eq!(revoked["session"].as_u64(), Some(session));
    console.event("share_stopped").await;
    let after_stop = console.seen.len();
    customer.wait_log("screen sharing stopped", LONG);
    // The screen changes; nothing of it reaches the technician.
    move_window(&display, &colour, 100, 100);
    console.cmd("type nope");
    let refused = console.event("error").await;
    assert_eq!(refused["code"], "not_in_control", "{refused}");
    say(&display, &mut customer, "fertig");
    console.event_where("chat", |v| v["text"] == "fertig").await;
    console.drain();
    let late: Vec<&Value> = console.seen_since(after_stop, "screen").collect();
    assert!(late.is_empty(), "screen updates after the stop: {late:?}");
    assert_eq!(
        std::fs::read_to_string(&typed).unwrap_or_default(),
        "Grüße, 123 €\n",
        "nothing more was typed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_sharing_shows_only_the_chosen_app_and_never_the_secret_window() {
    let (_relay, display, mut console, mut customer, _session) =
        session("Erika Muster", CustomerOptions::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut scene = Scene::default();
    let xterm = scene.xterm(&display, "70x16+30+80", &dir.path().join("typed.txt"));
    let secret = scene.colour_window(&display, "LotseSecret", SECRET_HEX, (760, 520, 320, 200));
    let window = customer.window();
    move_window(&display, &window, 700, 30);
    let shot = x_screen(&display, SHOTS, "apps-before");
    assert!(
        shot.pixels().any(|p| p.0 == SECRET_RGB),
        "the secret window is on the screen"
    );

    // Every screen update from now on is checked for the secret colour.
    console.cmd(&format!("watch-colour {SECRET_HEX}"));
    request_share_and_allow(&mut console, &mut customer).await;
    choose_application(&display, &mut customer, SHOTS, "XTerm");
    let granted = console.event("share_granted").await;
    assert_eq!(granted["scope"]["kind"], "apps", "{granted}");
    assert_eq!(granted["scope"]["apps"], serde_json::json!(["XTerm"]));
    console.event("screen").await;

    // Only the xterm (with its frame) is there; the rest is black.
    let xf = frame_rect(&display, &xterm);
    wait_console_shows(&mut console, &display, SHOTS, "apps", |x| {
        masked(x, |px, py| xf.contains(px, py))
    })
    .await;

    // The secret window moves over the shared xterm, then half off it:
    // it is cut out of the picture wherever it covers the xterm.
    for (step, (sx, sy)) in [(120, 140), (380, 260), (20, 60)].into_iter().enumerate() {
        move_window(&display, &secret, sx, sy);
        let sf = frame_rect(&display, &secret);
        wait_console_shows(
            &mut console,
            &display,
            SHOTS,
            &format!("apps-covered-{step}"),
            |x| masked(x, |px, py| xf.contains(px, py) && !sf.contains(px, py)),
        )
        .await;
    }
    // Away again: the whole xterm is back.
    move_window(&display, &secret, 760, 520);
    wait_console_shows(&mut console, &display, SHOTS, "apps-uncovered", |x| {
        masked(x, |px, py| xf.contains(px, py))
    })
    .await;

    console.drain();
    let screens: Vec<&Value> = console.seen_since(0, "screen").collect();
    assert!(screens.len() >= 5, "updates: {}", screens.len());
    for s in &screens {
        assert_eq!(
            s["watched"].as_u64(),
            Some(0),
            "the secret colour reached the technician: {s}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_share_sends_nothing_and_the_console_serves_the_real_client() {
    // The client offers this file as soon as it is served (debug builds
    // honour LOTSE_DEBUG_SEND_FILE: a file dialog cannot be scripted here).
    let outside = tempfile::tempdir().expect("temp dir");
    let report = outside.path().join("bericht.txt");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&report, &data).expect("write the file to send");
    let sha = hex::encode(Sha256::digest(&data));
    let mut opts = CustomerOptions::default();
    opts.env
        .push(("LOTSE_DEBUG_SEND_FILE".into(), report.display().to_string()));
    let (_relay, display, mut console, mut customer, session) = session("Erika Muster", opts).await;

    // The file from the customer: accepted into a folder, intact.
    let inbox = tempfile::tempdir().expect("temp dir");
    console.cmd(&format!("accept-file {}", inbox.path().display()));
    let offer = console.event("file_offer").await;
    assert_eq!(offer["name"], "bericht.txt");
    assert_eq!(offer["size"].as_u64(), Some(data.len() as u64));
    let received = console.event("file_received").await;
    assert_eq!(received["ok"], true, "{received}");
    assert_eq!(received["sha256"], sha.as_str());
    let path = inbox.path().join("bericht.txt");
    assert_eq!(received["path"], path.display().to_string());
    assert_eq!(std::fs::read(&path).expect("the received file"), data);

    // Chat both ways.
    console.cmd("say Hallo Erika, wie kann ich helfen?");
    console.event_where("chat", |v| v["mine"] == true).await;
    say(&display, &mut customer, "Mein Drucker streikt");
    let line = console.event_where("chat", |v| v["mine"] == false).await;
    assert_eq!(line["text"], "Mein Drucker streikt");
    assert_eq!(line["from"], "Erika Muster");
    assert_eq!(line["session"].as_u64(), Some(session));

    // Nudge and a notice reach the customer's window.
    console.cmd("nudge");
    customer.wait_log("Nudged", LONG);
    customer.wait_log("nudge shake over", LONG);
    console.cmd("notice mail");
    // The notice shows above the chat (its pale yellow box).
    let window = customer.window();
    let deadline = Instant::now() + LONG;
    loop {
        let area = client_rect(&display, &window);
        let shot = x_screen(&display, SHOTS, "declined-notice");
        if find_colour(&shot, area, [0xff, 0xf4, 0xd6]).is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the notice never showed");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Screen sharing asked, declined: nothing captured, nothing sent.
    let before = console.seen.len();
    console.cmd("request-share");
    customer.wait_ready("Asked(ScreenShare)", "Allow for ScreenShare");
    customer.type_keys("Tab Return");
    let declined = console.event("share_declined").await;
    assert_eq!(declined["session"].as_u64(), Some(session));
    customer.wait_log("Declined(ScreenShare)", LONG);
    // Something the customer does after the decline reaches the console
    // behind anything the client might have sent before it.
    say(&display, &mut customer, "nein danke");
    console
        .event_where("chat", |v| v["text"] == "nein danke")
        .await;
    console.drain();
    let screens: Vec<&Value> = console.seen_since(before, "screen").collect();
    assert!(
        screens.is_empty(),
        "screen updates after a decline: {screens:?}"
    );
    let log = customer.log();
    assert!(!log.contains("screen sharing started"), "{log}");
    assert!(!log.contains("screen sharing runs"), "{log}");
    // Control without a share is refused by the client.
    console.cmd("request-control");
    console.event("control_declined").await;
    display
        .screenshot(&SHOTS.path("declined-chat"))
        .expect("screenshot");

    console.cmd("end");
    customer.wait_log("Ended(EndedByTechnician)", LONG);
    console.cmd("quit");
    console.event("logged_out").await;
}

/// Pause (e.g. while the customer types a password): one button stops the
/// picture and the technician's input at once; the technician is told;
/// the resume needs no new consent and starts with the screen as it is.
/// The buttons are pressed through AT-SPI, as a screen reader user does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_lets_no_picture_and_no_input_through_until_resumed() {
    let bus = A11yBus::start();
    let opts = CustomerOptions {
        env: vec![("DBUS_SESSION_BUS_ADDRESS".into(), bus.address.clone())],
        ..CustomerOptions::default()
    };
    let (_relay, display, mut console, mut customer, _session) =
        session("Erika Muster", opts).await;
    let (_dir, typed, _scene, colour, xterm) = whole_scene(&display, &mut customer);
    request_share_and_allow(&mut console, &mut customer).await;
    customer.wait_log_after("Allowed(ScreenShare)", PICKER_READY, LONG);
    customer.type_keys("Return");
    console.event("share_granted").await;
    control_into(&mut console, &mut customer, &display, &xterm).await;
    console.cmd("type vorher");
    console.cmd("key Return");
    lotse_e2e::wait_for("the technician's text in the xterm", LONG, || {
        (std::fs::read_to_string(&typed).unwrap_or_default() == "vorher\n").then_some(())
    });

    // Pause (e.g. to type a password): the technician is told, and no
    // picture and no input passes until the resume, which needs no new
    // consent.
    bus.press(customer.pid(), "push button", "Pause");
    let paused = console.event("share_paused").await;
    assert_eq!(paused["paused"], true, "{paused}");
    let since = console.seen.len();
    move_window(&display, &colour, 60, 60);
    console.cmd("type nope");
    console.cmd("key Return");
    say(&display, &mut customer, "Passwort eingegeben");
    console
        .event_where("chat", |v| v["text"] == "Passwort eingegeben")
        .await;
    console.drain();
    let late: Vec<&Value> = console.seen_since(since, "screen").collect();
    assert!(late.is_empty(), "screen updates while paused: {late:?}");
    assert_eq!(
        std::fs::read_to_string(&typed).unwrap_or_default(),
        "vorher\n",
        "input while paused"
    );
    bus.press(customer.pid(), "push button", "Resume");
    console
        .event_where("share_paused", |v| v["paused"] == false)
        .await;
    // The picture comes back (a keyframe of the screen as it is now).
    wait_console_shows(&mut console, &display, SHOTS, "whole-resumed", |x| x).await;
}

/// Control is asked and allowed; the technician clicks into the xterm,
/// and the window manager gives it the focus (the technician types once
/// the click landed, as a person would after seeing it).
async fn control_into(
    console: &mut Console,
    customer: &mut Customer,
    display: &Display,
    xterm: &str,
) {
    console.cmd("request-control");
    customer.wait_ready("Asked(Control)", "Allow for Control");
    customer.type_keys("Return");
    console.event("control_granted").await;
    let xr = client_rect(display, xterm);
    console.cmd(&format!("click {} {}", xr.x + xr.w / 2, xr.y + xr.h / 2));
    lotse_e2e::wait_for("the click to focus the xterm", LONG, || {
        // (Fails while no window is active: then simply look again.)
        let focus = display
            .command("xdotool")
            .arg("getactivewindow")
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        (focus == xterm).then_some(())
    });
}

/// A stable scene: a blue test window and an xterm with a known size (and
/// the file it writes what it gets), the client window moved aside.
fn whole_scene(
    display: &Display,
    customer: &mut Customer,
) -> (tempfile::TempDir, std::path::PathBuf, Scene, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let typed = dir.path().join("typed.txt");
    let mut scene = Scene::default();
    let colour = scene.colour_window(display, "LotseColour", "3366cc", (430, 260, 220, 160));
    let xterm = scene.xterm(display, "60x8+40+560", &typed);
    let window = customer.window();
    move_window(display, &window, 700, 30);
    (dir, typed, scene, colour, xterm)
}
