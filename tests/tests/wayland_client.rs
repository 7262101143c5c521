//! End to end on Wayland: the REAL downloaded client in a headless GNOME 50
//! session (mutter, gnome-shell, xdg-desktop-portal-gnome, PipeWire; a
//! Debian forky chroot) and a sway session, the REAL relay and the REAL
//! headless console. The customer's answers to the desktop's own sharing
//! dialog are clicked through mutter's D-Bus API (`scripts/wayland/`).
//!
//! * GNOME: our Allow, then the desktop's dialog; the console's picture
//!   equals a grab of the same screen; control asks the desktop once more
//!   (screen and input in one dialog) and the technician's `Grüße, 123 €`
//!   arrives in a terminal through libei; a network cut and resume shows no
//!   dialog (the share goes on: no new portal session at all); STOP
//!   closes the portal session; asked again, the desktop restores the
//!   choice without its dialog (restore token); a declined dialog sends
//!   not one frame and the technician hears "declined"; control declined
//!   in the desktop's dialog takes control back and keeps the screen
//!   shared; "single windows"
//!   taken in our picker by keyboard and the terminal picked in GNOME's
//!   list: the technician sees that window alone, not the chat window
//!   over it.
//! * sway: the whole screen pixel-exactly, input through wlroots' virtual
//!   devices, the layer-shell watermark.
//!
//! Run by `scripts/wayland.sh e2e` (feature `wayland-e2e`), after
//! `scripts/wayland.sh setup` and `cargo build -p lotse-relay -p
//! lotse-client -p lotse-console`. Screenshots land in
//! `CARGO_TARGET_TMPDIR/wayland-e2e-*.png` (not committed).

use std::time::{Duration, Instant};

use lotse_e2e::console::Console;
use lotse_e2e::customer::LONG;
use lotse_e2e::proxy::Proxy;
use lotse_e2e::scene::{Artifacts, PICKER_READY, TECH, accept, find_colour, wait_console_matches};
use lotse_e2e::wayland::{
    Desktop, KEY_ENTER, KEY_LEFTSHIFT, KEY_SPACE, KEY_TAB, Session, WlCustomer,
};
use serde_json::Value;

/// Site texts off, so the customer goes straight to the name entry. The
/// watermark stays on: on GNOME the client says GNOME's own indicator
/// shows instead; on sway it is a layer-shell overlay.
const CONFIG: &str = r#"
site_name = "Beispiel Support"
[texts.en]
agreement = ""
recording_prompt = ""
survey = ""
"#;

const SHOTS: Artifacts = Artifacts {
    dir: env!("CARGO_TARGET_TMPDIR"),
    prefix: "wayland-e2e",
};

/// The terminal the technician types into (scripts/wayland/typed-app).
const TYPED_RGB: [u8; 3] = [0x1e, 0x3c, 0x28];
/// The red of STOP SCREEN SHARING in the client's banner.
const STOP_RGB: [u8; 3] = [0xb0, 0x20, 0x20];

/// The customer joins with the proposed name (Enter), the console accepts.
async fn joined(
    session: &Session,
    console: &mut Console,
    customer: &WlCustomer,
    name: &str,
) -> u64 {
    customer.enter_when_ready(session, "connected to the relay", "name");
    customer.log.wait("asking to join the queue", LONG);
    let id = accept(console, name).await;
    customer.log.wait("TechnicianJoined(", LONG);
    id
}

/// The technician asks to share; the customer allows (Enter) and waits
/// for the picker, each step waiting for what the client logs next.
fn allow(console: &mut Console, customer: &WlCustomer, session: &Session) {
    let asked = customer.log.mark();
    console.cmd("request-share");
    customer
        .log
        .wait_since(asked, "keyboard ready: Allow for ScreenShare", LONG);
    let allowed = customer.log.mark();
    session.keys(&[KEY_ENTER]);
    customer.log.wait_since(allowed, PICKER_READY, LONG);
}

/// [`allow`], then Enter picks the preselected whole screen.
fn allow_and_pick(session: &Session, console: &mut Console, customer: &WlCustomer) {
    allow(console, customer, session);
    session.keys(&[KEY_ENTER]);
}

/// Wait until the terminal got exactly `want`.
fn wait_typed(file: &std::path::Path, want: &str) {
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the terminal got {text:?}, not {want:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// [`allow_and_pick`], then `answer` (`share`, `decline`) in the
/// desktop's own dialog (GNOME).
fn share_through_dialog(
    session: &Session,
    console: &mut Console,
    customer: &WlCustomer,
    answer: &str,
) {
    allow_and_pick(session, console, customer);
    customer
        .log
        .wait("asking the desktop to share the screen", LONG);
    session.answer_dialog(answer);
}

/// Waits until the console's picture equals a grab of the session's
/// screen (both saved as `{name}-console` / `{name}-screen`); the picture.
async fn console_shows_screen(
    console: &mut Console,
    session: &Session,
    name: &str,
) -> image::RgbImage {
    let reference = format!("{name}-screen");
    let grab = SHOTS.path(&reference);
    wait_console_matches(console, SHOTS, name, &reference, || session.grab(&grab)).await
}

/// A relay (with the technician's account) and a session with the
/// terminal the technician types into; the file it writes.
fn with_terminal(
    desktop: Desktop,
    name: &str,
) -> (lotse_e2e::relay::Relay, Session, std::path::PathBuf) {
    let relay = lotse_e2e::relay::Relay::start_with_config(CONFIG);
    relay.add_user(TECH.0, TECH.1);
    let session = Session::start(desktop, name);
    let typed = session.user_dir("typed").join("typed.txt");
    session.run(&["typed-app", &typed.display().to_string()]);
    (relay, session, typed)
}

/// The headless console, logged in.
async fn technician(relay: &lotse_e2e::relay::Relay) -> Console {
    let mut console = Console::start(relay);
    console.cmd(&format!("login {} {}", TECH.0, TECH.1));
    console.event("connected").await;
    console
}

fn count(log: &str, text: &str) -> usize {
    log.matches(text).count()
}

fn has_colour(shot: &image::RgbImage, rgb: [u8; 3]) -> Option<(i32, i32)> {
    let (w, h) = shot.dimensions();
    find_colour(
        shot,
        lotse_e2e::scene::Rect {
            x: 0,
            y: 0,
            w: w as i32,
            h: h as i32,
        },
        rgb,
    )
}

/// What a GNOME test has running once the technician controls the
/// screen: relay (behind a proxy), session, console, customer, the
/// terminal's file.
struct Controlled {
    _relay: lotse_e2e::relay::Relay,
    proxy: Proxy,
    session: Session,
    console: Console,
    customer: WlCustomer,
    customer_links: usize,
    typed: std::path::PathBuf,
}

/// The customer joins, allows sharing (our Allow, then the desktop's
/// dialog: the console's picture equals the screen), allows control (the
/// desktop asks for screen and input in one dialog), and the technician
/// types `Grüße, 123 €` into the terminal. `env`: the client's extra
/// environment.
async fn gnome_controlled(name: &str, env: &[&str]) -> Controlled {
    let (relay, proxy) = Proxy::relay_behind(CONFIG).await;
    relay.add_user(TECH.0, TECH.1);
    let session = Session::start(Desktop::Gnome, name);
    let typed = session.user_dir("typed").join("typed.txt");
    session.run(&["typed-app", &typed.display().to_string()]);
    // The relay checks the Host of every request against its public
    // address, the proxy's: the console goes through it too; a cut cuts
    // only the customer's links.
    let mut console = Console::start_at(&relay, &format!("wss://{}", proxy.addr));
    console.cmd(&format!("login {} {}", TECH.0, TECH.1));
    console.event("connected").await;
    let customer_links = proxy.links_so_far();
    let customer = WlCustomer::start_with(
        &relay,
        &session,
        "Erika",
        &SHOTS.log(&format!("{name}-client")),
        env,
    )
    .await;
    let id = joined(&session, &mut console, &customer, "Erika").await;

    // Our Allow, then the desktop's dialog.
    share_through_dialog(&session, &mut console, &customer, "share");
    let granted = console.event("share_granted").await;
    assert_eq!(granted["session"].as_u64(), Some(id));
    assert_eq!(
        (granted["width"].as_u64(), granted["height"].as_u64()),
        (Some(1280), Some(800)),
        "{granted}"
    );
    console.event("screen").await;
    let portal = session.portal_sessions();
    assert_eq!(portal.len(), 1, "one portal session: {portal:?}");
    console_shows_screen(&mut console, &session, &format!("{name}-whole")).await;

    // Control: our Allow, then the desktop asks for screen and input in
    // one dialog; the share starts again with input.
    console.cmd("request-control");
    customer.enter_when_ready(&session, "Asked(Control)", "Allow for Control");
    customer
        .log
        .wait("asking the desktop to share the screen and input", LONG);
    session.answer_dialog("share-with-control");
    console.event("control_granted").await;
    let regranted = console.event("share_granted").await;
    assert_eq!(regranted["session"].as_u64(), Some(id));
    console.event("screen").await;
    let shot = console_shows_screen(&mut console, &session, &format!("{name}-control")).await;
    // Left of the client window, which stands in the middle.
    let left = lotse_e2e::scene::Rect {
        x: 0,
        y: 100,
        w: 300,
        h: 600,
    };
    let (x, y) = find_colour(&shot, left, TYPED_RGB).expect("the terminal shows");
    console.cmd(&format!("click {x} {y}"));
    console.cmd("type Grüße, 123 €");
    console.cmd("key Return");
    wait_typed(&typed, "Grüße, 123 €\n");
    Controlled {
        _relay: relay,
        proxy,
        session,
        console,
        customer,
        customer_links,
        typed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gnome_share_control_cut_and_stop() {
    let Controlled {
        _relay,
        proxy,
        session,
        mut console,
        customer,
        customer_links,
        typed,
    } = gnome_controlled("e2e-gnome", &[]).await;
    customer.log.wait("input through libei", Duration::ZERO);

    // A network cut: the link comes back and the share goes on, without
    // a dialog (no new portal session at all).
    let dialogs = count(&customer.log.read(), "asking the desktop to share");
    proxy.cut_from(customer_links);
    console.event("peer_away").await;
    customer.log.wait("cannot reach the relay", LONG);
    proxy.restore();
    console.event("peer_back").await;
    customer.log.wait("resumed=true", LONG);
    console.cmd("type x");
    wait_typed(&typed, "Grüße, 123 €\nx");
    assert_eq!(
        count(&customer.log.read(), "asking the desktop to share"),
        dialogs,
        "no new request to the desktop after the cut"
    );

    // STOP SCREEN SHARING: control and sharing end, and the desktop's
    // portal session is closed (GNOME's indicator goes away).
    // The customer closes the full-screen terminal, which covers the
    // chat window since the technician clicked it, and presses STOP.
    let pid = std::fs::read_to_string(typed.with_extension("txt.pid")).expect("the terminal's pid");
    session.run(&["kill", pid.trim()]);
    let shot = session.grab(&SHOTS.path("gnome-banner"));
    let (x, y) = has_colour(&shot, STOP_RGB).expect("the STOP button shows");
    session.click(x, y);
    console.event("control_revoked").await;
    console.event("share_stopped").await;
    customer.log.wait("screen sharing stopped", LONG);
    let left = session.portal_sessions();
    assert!(left.is_empty(), "portal sessions after STOP: {left:?}");

    // Asked again, the customer allows and picks as before; the desktop
    // restores the first share's choice without its dialog (restore token
    // kept in memory): the picture comes without anyone answering.
    allow_and_pick(&session, &mut console, &customer);
    customer.log.wait(
        "asking the desktop to share the screen restore=true windows=false",
        LONG,
    );
    console.event("share_granted").await;
    console_shows_screen(&mut console, &session, "e2e-gnome-again").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gnome_declined_dialog_sends_nothing() {
    let relay = lotse_e2e::relay::Relay::start_with_config(CONFIG);
    relay.add_user(TECH.0, TECH.1);
    let session = Session::start(Desktop::Gnome, "e2e-gnome-no");
    let mut console = technician(&relay).await;
    let customer =
        WlCustomer::start(&relay, &session, "Erika", &SHOTS.log("gnome-no-client")).await;
    let id = joined(&session, &mut console, &customer, "Erika").await;
    share_through_dialog(&session, &mut console, &customer, "decline");
    let declined = console.event("share_declined").await;
    assert_eq!(declined["session"].as_u64(), Some(id));
    customer
        .log
        .wait("the sharing was declined in the system dialog", LONG);
    // The session goes on: the technician can ask again, and the customer
    // sees it. Not one screen update was sent.
    console.cmd("request-share");
    customer
        .log
        .wait_after("ShareFailed(", "chat line note=Asked(ScreenShare)", LONG);
    console.drain();
    let screens: Vec<&Value> = console.seen_since(0, "screen").collect();
    assert!(screens.is_empty(), "screen updates: {screens:?}");
    assert!(console.seen_since(0, "share_granted").next().is_none());
}

/// sway (wlroots): no RemoteDesktop portal and no dialog; the whole screen
/// pixel-exactly, input through wlroots' virtual keyboard and pointer, the
/// layer-shell watermark over every window (click-through).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sway_share_control_and_watermark() {
    let (relay, session, typed) = with_terminal(Desktop::Sway, "e2e-sway");
    // Tiled beside the client, not full screen.
    session.run(&["swaymsg", "fullscreen", "disable"]);
    let mut console = technician(&relay).await;
    let customer = WlCustomer::start(&relay, &session, "Erika", &SHOTS.log("sway-client")).await;
    let before = session.grab(&SHOTS.path("sway-before"));
    let id = joined(&session, &mut console, &customer, "Erika").await;

    // The watermark: a layer-shell overlay over the terminal too.
    let all = lotse_e2e::scene::Rect {
        x: 0,
        y: 0,
        w: 1280,
        h: 800,
    };
    let terminal = terminal_area(&before).expect("the terminal shows");
    let deadline = Instant::now() + LONG;
    loop {
        let now = session.grab(&SHOTS.path("sway-watermark"));
        let changed = changed_pixels(&before, &now, terminal);
        if changed > 1000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no watermark over the terminal ({changed} pixels changed)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    allow_and_pick(&session, &mut console, &customer);
    let granted = console.event("share_granted").await;
    assert_eq!(granted["session"].as_u64(), Some(id));
    assert_eq!(
        (granted["width"].as_u64(), granted["height"].as_u64()),
        (Some(1280), Some(800)),
        "{granted}"
    );
    console.event("screen").await;
    let shot = console_shows_screen(&mut console, &session, "sway-whole").await;

    // Control: no system dialog on wlroots; the virtual devices type.
    console.cmd("request-control");
    customer.enter_when_ready(&session, "Asked(Control)", "Allow for Control");
    console.event("control_granted").await;
    customer
        .log
        .wait("input through wlroots' virtual keyboard and pointer", LONG);
    let (x, y) = find_colour(&shot, all, TYPED_RGB).expect("the terminal shows");
    console.cmd(&format!("click {x} {y}"));
    console.cmd("type Grüße, 123 €");
    console.cmd("key Return");
    wait_typed(&typed, "Grüße, 123 €\n");
}

/// The terminal's area on `shot` (its background colour's bounding box).
fn terminal_area(shot: &image::RgbImage) -> Option<lotse_e2e::scene::Rect> {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in shot.enumerate_pixels() {
        if p.0 == TYPED_RGB {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    (x0 <= x1).then(|| lotse_e2e::scene::Rect {
        x: x0 as i32,
        y: y0 as i32,
        w: (x1 - x0 + 1) as i32,
        h: (y1 - y0 + 1) as i32,
    })
}

fn changed_pixels(a: &image::RgbImage, b: &image::RgbImage, area: lotse_e2e::scene::Rect) -> usize {
    a.enumerate_pixels()
        .filter(|(x, y, p)| {
            area.contains(*x as i32, *y as i32) && b.get_pixel_checked(*x, *y) != Some(*p)
        })
        .count()
}

/// GNOME before 46 has no libei in its portal: input goes through the
/// portal's Notify methods (forced here on GNOME 50 by the client's
/// developer switch, which chooses the way, never whether).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gnome_control_through_the_portals_notify_methods() {
    let c = gnome_controlled("e2e-gnome-notify", &["LOTSE_WAYLAND_INPUT_NOTIFY=1"]).await;
    c.customer
        .log
        .wait("input through the portal's Notify methods", Duration::ZERO);
}

/// Single windows, chosen in GNOME's own dialog: the customer takes
/// "single windows" in our picker by keyboard, picks the terminal in the
/// desktop's list, and the technician sees that window and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gnome_single_window_chosen_in_the_desktops_dialog() {
    let (relay, session, typed) = with_terminal(Desktop::Gnome, "e2e-gnome-win");
    let mut console = technician(&relay).await;
    let customer =
        WlCustomer::start(&relay, &session, "Erika", &SHOTS.log("gnome-win-client")).await;
    let id = joined(&session, &mut console, &customer, "Erika").await;
    allow(&mut console, &customer, &session);
    // From Share back to "single windows", select it, on to Share: one
    // key at a time, each seen on the screen.
    session.act_and_see("Shift+Tab", || session.chord(&[KEY_LEFTSHIFT, KEY_TAB]));
    session.act_and_see("Space", || session.keys(&[KEY_SPACE]));
    session.act_and_see("Tab", || session.keys(&[KEY_TAB]));
    session.keys(&[KEY_ENTER]);
    customer.log.wait(
        "asking the desktop to share the screen restore=false windows=true",
        LONG,
    );
    session.answer_dialog("window");
    let granted = console.event("share_granted").await;
    assert_eq!(granted["session"].as_u64(), Some(id));
    assert_eq!(granted["scope"]["kind"], "apps", "{granted}");
    assert_eq!(
        (granted["width"].as_u64(), granted["height"].as_u64()),
        (Some(1280), Some(800)),
        "the terminal's size (full screen): {granted}"
    );
    // GNOME sends a window's picture when the window draws: the terminal
    // prints a line, as programs do.
    let foot = typed.with_extension("txt.pid");
    session.run(&[
        "sh",
        "-c",
        "printf 'Fenster geteilt' >\"/proc/$(pgrep -P \"$(cat \"$1\")\")/fd/1\"",
        "sh",
        &foot.display().to_string(),
    ]);
    // On the screen the chat window stands over the terminal; the
    // technician sees the terminal alone.
    let (x, y) = customer.title;
    let screen = session.grab(&SHOTS.path("gnome-win-screen"));
    assert_ne!(
        screen.get_pixel(x as u32, y as u32).0,
        TYPED_RGB,
        "the chat window shows at {x},{y} on the screen"
    );
    let shot = SHOTS.path("gnome-win-console");
    console.event("screen").await;
    let deadline = Instant::now() + LONG;
    loop {
        let seen = lotse_e2e::scene::save_screen(&mut console, &shot).await;
        if seen.get_pixel(x as u32, y as u32).0 == TYPED_RGB {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the technician's picture ({}) shows something other than the terminal at {x},{y}",
            shot.display()
        );
        console
            .try_event_where("screen", |_| true, Duration::from_secs(3))
            .await;
    }
}

/// Control allowed in our window but declined in GNOME's dialog: the
/// technician hears that control is taken back, and the screen stays
/// shared (the desktop restores the first choice without asking again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gnome_control_declined_in_the_desktops_dialog_keeps_the_share() {
    let relay = lotse_e2e::relay::Relay::start_with_config(CONFIG);
    relay.add_user(TECH.0, TECH.1);
    let session = Session::start(Desktop::Gnome, "e2e-gnome-noctl");
    let mut console = technician(&relay).await;
    let customer =
        WlCustomer::start(&relay, &session, "Erika", &SHOTS.log("gnome-noctl-client")).await;
    joined(&session, &mut console, &customer, "Erika").await;
    share_through_dialog(&session, &mut console, &customer, "share");
    console.event("share_granted").await;
    console.event("screen").await;

    let asked = customer.log.mark();
    console.cmd("request-control");
    customer
        .log
        .wait_since(asked, "keyboard ready: Allow for Control", LONG);
    session.keys(&[KEY_ENTER]);
    customer.log.wait(
        "asking the desktop to share the screen and input restore=false",
        LONG,
    );
    session.answer_dialog("decline");
    console.event("control_revoked").await;
    customer.log.wait_since(
        asked,
        "asking the desktop to share the screen restore=true",
        LONG,
    );
    let regranted = console.event("share_granted").await;
    assert_eq!(
        (regranted["width"].as_u64(), regranted["height"].as_u64()),
        (Some(1280), Some(800)),
        "{regranted}"
    );
    console.event("screen").await;
    console_shows_screen(&mut console, &session, "gnome-noctl").await;
    assert!(
        console.seen_since(0, "share_declined").next().is_none(),
        "the share was not declined"
    );
}
