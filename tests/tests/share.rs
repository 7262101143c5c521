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

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use lotse_e2e::console::Console;
use lotse_e2e::customer::{Customer, CustomerOptions, LONG};
use lotse_e2e::display::Display;
use lotse_e2e::relay::Relay;
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

const TECH: (&str, &str) = ("tom", "right horse battery");

/// What the client logs once the share picker is drawn with the Share
/// button focused (keys typed before that would go elsewhere).
const PICKER_READY: &str = "share picker: ready, Share has the keyboard focus";

/// The secret window's colour: nowhere else on the screen.
const SECRET_RGB: [u8; 3] = [0xff, 0x00, 0xff];
const SECRET_HEX: &str = "ff00ff";

fn artifact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("share-e2e-{name}.png"))
}

/// Log in as the technician and accept the customer `name`.
async fn serve(console: &mut Console, name: &str) -> u64 {
    console.cmd(&format!("login {} {}", TECH.0, TECH.1));
    console.event("connected").await;
    console.cmd(&format!("wait-customer {name}"));
    let waiting = console.event("customer_waiting").await;
    let session = waiting["session"].as_u64().expect("session id");
    console.cmd(&format!("accept {session}"));
    let started = console.event("session_started").await;
    assert_eq!(started["customer_name"], name);
    session
}

/// Save the console's picture of the current session as a PNG.
async fn save_screen(console: &mut Console, path: &Path) -> image::RgbImage {
    console.cmd(&format!("save-screen {}", path.display()));
    let saved = console.event("saved").await;
    assert_eq!(saved["path"], path.display().to_string());
    image::open(path).expect("the console's PNG").into_rgb8()
}

// ---- the customer's desktop ---------------------------------------------

/// Programs started on the test display, killed at the end.
#[derive(Default)]
struct Scene {
    children: Vec<Child>,
}

impl Drop for Scene {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A plain window of one colour with its own WM_CLASS (python3-xlib);
/// prints its id.
const COLOUR_WINDOW: &str = r#"
import sys
from Xlib import display, X, Xutil
d = display.Display()
s = d.screen()
cls, title, rgb, x, y, w, h = sys.argv[1:8]
x, y, w, h = int(x), int(y), int(w), int(h)
win = s.root.create_window(x, y, w, h, 0, s.root_depth, X.InputOutput, X.CopyFromParent,
    background_pixel=int(rgb, 16), event_mask=X.ExposureMask | X.StructureNotifyMask)
win.set_wm_class(cls.lower(), cls)
win.set_wm_name(title)
win.set_wm_normal_hints(flags=Xutil.USPosition | Xutil.USSize, x=x, y=y, width=w, height=h)
win.map()
d.sync()
print(hex(win.id), flush=True)
while True:
    d.next_event()
"#;

/// A window's client area in root pixels, and its frame (with the window
/// manager's decoration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    x: i32,
    y: i32,
    w: i32,
    h: i32,
}

impl Rect {
    fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.w && y < self.y + self.h
    }
}

impl Scene {
    /// Start a one-colour window of class `class` at (`x`, `y`).
    fn colour_window(
        &mut self,
        display: &Display,
        class: &str,
        rgb: &str,
        (x, y, w, h): (i32, i32, i32, i32),
    ) -> String {
        let mut child = display
            .command("/usr/bin/python3")
            .args(["-c", COLOUR_WINDOW, class, class, rgb])
            .args([x, y, w, h].map(|n| n.to_string()))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 colour window");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("window id");
        self.children.push(child);
        let id = line.trim().to_owned();
        assert!(id.starts_with("0x"), "no window id: {line:?}");
        wait_mapped(display, &id);
        id
    }

    /// An xterm whose shell writes everything typed into it (line by line)
    /// to `file`.
    fn xterm(&mut self, display: &Display, geometry: &str, file: &Path) -> String {
        let title = "lotse-share-xterm";
        let script = format!("exec cat > '{}'", file.display());
        let child = display
            .command("xterm")
            .args(["-u8", "-T", title, "-geometry", geometry])
            .args(["-bg", "white", "-fg", "black", "+cm"])
            .args(["-e", "sh", "-c", &script])
            .env("LC_ALL", "C.UTF-8")
            .env("LANG", "C.UTF-8")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xterm");
        let pid = child.id();
        self.children.push(child);
        let id = display
            .wait_for_window(pid, LONG)
            .expect("the xterm window")
            .remove(0);
        wait_mapped(display, &id);
        id
    }
}

fn xdotool(display: &Display, args: &[&str]) -> String {
    let out = display
        .command("xdotool")
        .args(args)
        .output()
        .expect("xdotool");
    assert!(
        out.status.success(),
        "xdotool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Wait until openbox has framed window `id` (frame extents are set).
fn wait_mapped(display: &Display, id: &str) {
    let deadline = Instant::now() + LONG;
    while frame_extents(display, id).is_none() {
        assert!(Instant::now() < deadline, "window {id} was never framed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `_NET_FRAME_EXTENTS` (left, right, top, bottom) of window `id`.
fn frame_extents(display: &Display, id: &str) -> Option<[i32; 4]> {
    let out = display
        .command("xprop")
        .args(["-id", id, "_NET_FRAME_EXTENTS"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (_, values) = text.split_once('=')?;
    let v: Vec<i32> = values
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    (v.len() == 4).then(|| [v[0], v[1], v[2], v[3]])
}

/// The client area of window `id` in root pixels (`xwininfo`; xdotool's
/// geometry counts the frame twice under openbox).
fn client_rect(display: &Display, id: &str) -> Rect {
    let out = display
        .command("xwininfo")
        .args(["-id", id])
        .output()
        .expect("xwininfo");
    let out = String::from_utf8_lossy(&out.stdout);
    let get = |key: &str| -> i32 {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {out}"))
    };
    Rect {
        x: get("Absolute upper-left X:"),
        y: get("Absolute upper-left Y:"),
        w: get("Width:"),
        h: get("Height:"),
    }
}

/// The window with its decoration (what covers the screen).
fn frame_rect(display: &Display, id: &str) -> Rect {
    let c = client_rect(display, id);
    let [l, r, t, b] = frame_extents(display, id).unwrap_or([0; 4]);
    Rect {
        x: c.x - l,
        y: c.y - t,
        w: c.w + l + r,
        h: c.h + t + b,
    }
}

/// Move window `id` (its client area) so its frame's top left is at (x, y).
fn move_window(display: &Display, id: &str, x: i32, y: i32) {
    xdotool(
        display,
        &["windowmove", "--sync", id, &x.to_string(), &y.to_string()],
    );
    xdotool(display, &["windowraise", id]);
}

fn x_screen(display: &Display, name: &str) -> image::RgbImage {
    let path = artifact(name);
    display.screenshot(&path).expect("import -window root");
    image::open(&path).expect("the screenshot").into_rgb8()
}

/// Where two pictures differ: `None` when equal.
fn differences(a: &image::RgbImage, b: &image::RgbImage) -> Option<String> {
    if a.dimensions() != b.dimensions() {
        return Some(format!(
            "sizes {:?} vs {:?}",
            a.dimensions(),
            b.dimensions()
        ));
    }
    let mut count = 0u64;
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    let mut first = None;
    for (x, y, p) in a.enumerate_pixels() {
        let q = b.get_pixel(x, y);
        if p != q {
            count += 1;
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
            first.get_or_insert((x, y, p.0, q.0));
        }
    }
    (count > 0).then(|| {
        format!("{count} pixels differ within x {x0}..={x1}, y {y0}..={y1}; first {first:?}")
    })
}

/// Wait until the console's picture equals `expected(x_screen)` for the
/// current X screen; returns both pictures.
async fn wait_console_shows(
    console: &mut Console,
    display: &Display,
    name: &str,
    expected: impl Fn(image::RgbImage) -> image::RgbImage,
) -> image::RgbImage {
    let deadline = Instant::now() + LONG;
    let console_png = artifact(&format!("{name}-console"));
    loop {
        let seen = save_screen(console, &console_png).await;
        let want = expected(x_screen(display, &format!("{name}-x")));
        let diff = differences(&seen, &want);
        let Some(diff) = diff else { return seen };
        assert!(
            Instant::now() < deadline,
            "the console's picture ({}) never matched the screen ({}): {diff}",
            console_png.display(),
            artifact(&format!("{name}-x")).display()
        );
        // Wait for the next screen update (or look again after a while:
        // the X screen may have settled without a new update).
        console
            .try_event_where("screen", |_| true, Duration::from_secs(3))
            .await;
    }
}

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

/// Click the middle of window `id`'s title bar.
fn click_title_bar(display: &Display, id: &str) {
    let c = client_rect(display, id);
    let top = frame_extents(display, id).map_or(0, |e| e[2]);
    let (x, y) = (c.x + c.w / 2, c.y - top / 2 - 1);
    xdotool(
        display,
        &["mousemove", "--sync", &x.to_string(), &y.to_string()],
    );
    xdotool(display, &["click", "1"]);
}

/// Click into the chat field at the bottom of the client window, then type
/// `text` and press Enter.
fn say(display: &Display, customer: &mut Customer, text: &str) {
    let window = customer.window();
    let c = client_rect(display, &window);
    let (x, y) = (c.x + 120, c.y + c.h - 40);
    xdotool(
        display,
        &["mousemove", "--sync", &x.to_string(), &y.to_string()],
    );
    xdotool(display, &["click", "1"]);
    customer.type_text(text);
    customer.type_keys("Return");
}

/// The technician asks to share; the customer presses Allow.
async fn request_share_and_allow(console: &mut Console, customer: &mut Customer) {
    console.cmd("request-share");
    customer.wait_ready("Asked(ScreenShare)", "Allow for ScreenShare");
    customer.type_keys("Return");
    customer.wait_log("Allowed(ScreenShare)", LONG);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_screen_share_shows_the_screen_and_control_types_into_the_xterm() {
    let (_relay, display, mut console, mut customer, session) =
        session("Erika Muster", CustomerOptions::default()).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let typed = dir.path().join("typed.txt");
    let mut scene = Scene::default();
    // A stable scene: a blue test window and an xterm with a known size.
    let colour = scene.colour_window(&display, "LotseColour", "3366cc", (430, 260, 220, 160));
    let xterm = scene.xterm(&display, "60x8+40+560", &typed);
    let window = customer.window();
    move_window(&display, &window, 700, 30);

    request_share_and_allow(&mut console, &mut customer).await;
    // The picker: the whole screen is preselected and Share has the focus
    // once the window list is there.
    customer.wait_log_after("Allowed(ScreenShare)", PICKER_READY, LONG);
    display
        .screenshot(&artifact("whole-picker"))
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
    let first = wait_console_shows(&mut console, &display, "whole", |x| x).await;
    assert_eq!(first.dimensions(), (1280, 800));

    // Control: asked, allowed; the technician clicks into the xterm and
    // types.
    console.cmd("request-control");
    customer.wait_ready("Asked(Control)", "Allow for Control");
    customer.type_keys("Return");
    console.event("control_granted").await;
    let xr = client_rect(&display, &xterm);
    console.cmd(&format!("click {} {}", xr.x + xr.w / 2, xr.y + xr.h / 2));
    // The window manager gives the clicked xterm the focus; then type
    // (as a technician would after seeing the click land).
    let deadline = Instant::now() + LONG;
    loop {
        // (Fails while no window is active: then simply look again.)
        let focus = display
            .command("xdotool")
            .arg("getactivewindow")
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        if focus == xterm {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the click never focused the xterm ({xterm}); focus is {focus}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
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
    wait_console_shows(&mut console, &display, "whole-typed", |x| x).await;

    // STOP SCREEN SHARING in the banner above the chat.
    display
        .screenshot(&artifact("whole-banner"))
        .expect("screenshot");
    stop_screen_sharing(&display, &mut customer);
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

/// Click the red STOP SCREEN SHARING button in the banner above the chat:
/// found on the screen by its colour, as a person finds it by eye.
fn stop_screen_sharing(display: &Display, customer: &mut Customer) {
    let window = customer.window();
    let r = client_rect(display, &window);
    let shot = x_screen(display, "whole-banner");
    let (x, y) = find_colour(&shot, r, [0xb0, 0x20, 0x20])
        .expect("a red STOP SCREEN SHARING button in the client window");
    xdotool(
        display,
        &["mousemove", "--sync", &x.to_string(), &y.to_string()],
    );
    xdotool(display, &["click", "1"]);
}

/// The centre of the pixels of colour `rgb` inside `area`.
fn find_colour(shot: &image::RgbImage, area: Rect, rgb: [u8; 3]) -> Option<(i32, i32)> {
    let (mut x0, mut y0, mut x1, mut y1) = (i32::MAX, i32::MAX, i32::MIN, i32::MIN);
    for (x, y, p) in shot.enumerate_pixels() {
        let (x, y) = (x as i32, y as i32);
        if p.0 == rgb && area.contains(x, y) {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    (x0 <= x1).then(|| ((x0 + x1) / 2, (y0 + y1) / 2))
}

/// `shot` with every pixel outside `visible` black: what app-selective
/// sharing must show.
fn masked(mut shot: image::RgbImage, visible: impl Fn(i32, i32) -> bool) -> image::RgbImage {
    for (x, y, p) in shot.enumerate_pixels_mut() {
        if !visible(x as i32, y as i32) {
            p.0 = [0, 0, 0];
        }
    }
    shot
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
    let shot = x_screen(&display, "apps-before");
    assert!(
        shot.pixels().any(|p| p.0 == SECRET_RGB),
        "the secret window is on the screen"
    );

    // Every screen update from now on is checked for the secret colour.
    console.cmd(&format!("watch-colour {SECRET_HEX}"));
    request_share_and_allow(&mut console, &mut customer).await;
    choose_application(&display, &mut customer, "XTerm");
    let granted = console.event("share_granted").await;
    assert_eq!(granted["scope"]["kind"], "apps", "{granted}");
    assert_eq!(granted["scope"]["apps"], serde_json::json!(["XTerm"]));
    console.event("screen").await;

    // Only the xterm (with its frame) is there; the rest is black.
    let xf = frame_rect(&display, &xterm);
    wait_console_shows(&mut console, &display, "apps", |x| {
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
            &format!("apps-covered-{step}"),
            |x| masked(x, |px, py| xf.contains(px, py) && !sf.contains(px, py)),
        )
        .await;
    }
    // Away again: the whole xterm is back.
    move_window(&display, &secret, 760, 520);
    wait_console_shows(&mut console, &display, "apps-uncovered", |x| {
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
        let shot = x_screen(&display, "declined-notice");
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
        .screenshot(&artifact("declined-chat"))
        .expect("screenshot");

    console.cmd("end");
    customer.wait_log("Ended(EndedByTechnician)", LONG);
    console.cmd("quit");
    console.event("logged_out").await;
}

/// In the share picker, tick application `app` and press Share, with the
/// keyboard: the list is read from the client's log (the order it shows),
/// Share has the focus, the check boxes come right before it.
fn choose_application(display: &Display, customer: &mut Customer, app: &str) {
    const LISTED: &str = "share picker: screens and applications listed";
    customer.wait_log_after("Allowed(ScreenShare)", LISTED, LONG);
    let log = customer.log();
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains(LISTED))
        .expect("the listing line");
    // … apps=["lotse", "LotseSecret", "XTerm"] …
    let apps: Vec<&str> = line
        .split_once("apps=[")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list.split(", ").map(|a| a.trim_matches('"')).collect())
        .unwrap_or_default();
    let pos = apps
        .iter()
        .position(|a| *a == app)
        .unwrap_or_else(|| panic!("{app} is not offered: {line}"));
    customer.wait_log_after("Allowed(ScreenShare)", PICKER_READY, LONG);
    let back = apps.len() - pos;
    let mut keys = vec!["shift+Tab"; back];
    keys.push("space");
    keys.extend(vec!["Tab"; back]);
    customer.type_keys(&keys.join(" "));
    display
        .screenshot(&artifact("apps-picker"))
        .expect("screenshot");
    customer.type_keys("Return");
}
