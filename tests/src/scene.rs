//! The customer's desktop in the end-to-end tests, seen and used like a
//! person would: windows of one colour, an xterm that records what is
//! typed into it, where windows are, screenshots compared pixel for pixel
//! with the technician console's picture, and the client's chat field,
//! share prompt, picker and STOP button used with mouse and keyboard.
//! Used by `tests/share.rs` (Linux client) and `tests/windows_client.rs`
//! (the Windows client under Wine).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::console::Console;
use crate::customer::{Customer, LONG};
use crate::display::Display;

/// The technician account the scenes log in with.
pub const TECH: (&str, &str) = ("tom", "right horse battery");

/// What the client logs once the share picker is drawn with the Share
/// button focused (keys typed before that would go elsewhere).
pub const PICKER_READY: &str = "share picker: ready, Share has the keyboard focus";

/// The secret window's colour in the app-sharing scenes: nowhere else on
/// the screen, so any pixel of it in the technician's picture is a leak.
pub const SECRET_RGB: [u8; 3] = [0xff, 0x00, 0xff];
pub const SECRET_HEX: &str = "ff00ff";

/// Where a test's screenshots go: `CARGO_TARGET_TMPDIR/{prefix}-{name}.png`
/// (set by the test, whose crate has `CARGO_TARGET_TMPDIR`).
#[derive(Debug, Clone, Copy)]
pub struct Artifacts {
    pub dir: &'static str,
    pub prefix: &'static str,
}

impl Artifacts {
    /// A log file beside the pictures.
    pub fn log(&self, name: &str) -> PathBuf {
        PathBuf::from(self.dir).join(format!("{}-{name}.log", self.prefix))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        PathBuf::from(self.dir).join(format!("{}-{name}.png", self.prefix))
    }
}

/// Log in as the technician and accept the customer `name`.
pub async fn serve(console: &mut Console, name: &str) -> u64 {
    console.cmd(&format!("login {} {}", TECH.0, TECH.1));
    console.event("connected").await;
    accept(console, name).await
}

/// The logged-in technician accepts the customer `name`.
pub async fn accept(console: &mut Console, name: &str) -> u64 {
    console.cmd(&format!("wait-customer {name}"));
    let waiting = console.event("customer_waiting").await;
    let session = waiting["session"].as_u64().expect("session id");
    console.cmd(&format!("accept {session}"));
    let started = console.event("session_started").await;
    assert_eq!(started["customer_name"], name);
    session
}

/// Save the console's picture of the current session as a PNG.
pub async fn save_screen(console: &mut Console, path: &Path) -> image::RgbImage {
    console.cmd(&format!("save-screen {}", path.display()));
    let saved = console.event("saved").await;
    assert_eq!(saved["path"], path.display().to_string());
    image::open(path).expect("the console's PNG").into_rgb8()
}

/// Programs started on the test display, killed at the end.
#[derive(Default)]
pub struct Scene {
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
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
}

impl Rect {
    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.w && y < self.y + self.h
    }
}

impl Scene {
    /// Kill `child` with the scene.
    pub fn adopt(&mut self, child: Child) {
        self.children.push(child);
    }

    /// Start a one-colour window of class `class` at (`x`, `y`).
    pub fn colour_window(
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
    pub fn xterm(&mut self, display: &Display, geometry: &str, file: &Path) -> String {
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

pub fn xdotool(display: &Display, args: &[&str]) -> String {
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
pub fn wait_mapped(display: &Display, id: &str) {
    let deadline = Instant::now() + LONG;
    while frame_extents(display, id).is_none() {
        assert!(Instant::now() < deadline, "window {id} was never framed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `_NET_FRAME_EXTENTS` (left, right, top, bottom) of window `id`.
pub fn frame_extents(display: &Display, id: &str) -> Option<[i32; 4]> {
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
pub fn client_rect(display: &Display, id: &str) -> Rect {
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
pub fn frame_rect(display: &Display, id: &str) -> Rect {
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
pub fn move_window(display: &Display, id: &str, x: i32, y: i32) {
    xdotool(
        display,
        &["windowmove", "--sync", id, &x.to_string(), &y.to_string()],
    );
    xdotool(display, &["windowraise", id]);
}

pub fn x_screen(display: &Display, shots: Artifacts, name: &str) -> image::RgbImage {
    let path = shots.path(name);
    display.screenshot(&path).expect("import -window root");
    image::open(&path).expect("the screenshot").into_rgb8()
}

/// Where two pictures differ: `None` when equal.
pub fn differences(a: &image::RgbImage, b: &image::RgbImage) -> Option<String> {
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
pub async fn wait_console_shows(
    console: &mut Console,
    display: &Display,
    shots: Artifacts,
    name: &str,
    expected: impl Fn(image::RgbImage) -> image::RgbImage,
) -> image::RgbImage {
    let reference = format!("{name}-x");
    wait_console_matches(console, shots, name, &reference, || {
        expected(x_screen(display, shots, &reference))
    })
    .await
}

/// Wait until the console's picture equals what `reference` grabs of the
/// customer's screen now (saved as `reference_name`); returns the
/// console's picture.
pub async fn wait_console_matches(
    console: &mut Console,
    shots: Artifacts,
    name: &str,
    reference_name: &str,
    mut reference: impl FnMut() -> image::RgbImage,
) -> image::RgbImage {
    let deadline = Instant::now() + LONG;
    let console_png = shots.path(&format!("{name}-console"));
    loop {
        let seen = save_screen(console, &console_png).await;
        let want = reference();
        let diff = differences(&seen, &want);
        let Some(diff) = diff else { return seen };
        assert!(
            Instant::now() < deadline,
            "the console's picture ({}) never matched the screen ({}): {diff}",
            console_png.display(),
            shots.path(reference_name).display()
        );
        // Wait for the next screen update (or look again after a while:
        // the screen may have settled without a new update).
        console
            .try_event_where("screen", |_| true, Duration::from_secs(3))
            .await;
    }
}

/// Move the pointer to (`x`, `y`) and click there, in one xdotool run: the
/// X server handles the move before the click. (`mousemove --sync` waits
/// 15 s when the pointer is already there.)
pub fn click_at(display: &Display, x: i32, y: i32) {
    xdotool(
        display,
        &["mousemove", &x.to_string(), &y.to_string(), "click", "1"],
    );
}

/// Click the middle of window `id`'s title bar.
pub fn click_title_bar(display: &Display, id: &str) {
    let c = client_rect(display, id);
    let top = frame_extents(display, id).map_or(0, |e| e[2]);
    let (x, y) = (c.x + c.w / 2, c.y - top / 2 - 1);
    click_at(display, x, y);
}

/// Click into the chat field at the bottom of the client window, then type
/// `text` and press Enter.
pub fn say(display: &Display, customer: &mut Customer, text: &str) {
    let window = customer.window();
    let c = client_rect(display, &window);
    let (x, y) = (c.x + 120, c.y + c.h - 40);
    click_at(display, x, y);
    customer.type_text(text);
    customer.type_keys("Return");
}

/// The technician asks to share; the customer presses Allow.
pub async fn request_share_and_allow(console: &mut Console, customer: &mut Customer) {
    console.cmd("request-share");
    customer.wait_ready("Asked(ScreenShare)", "Allow for ScreenShare");
    customer.type_keys("Return");
    customer.wait_log("Allowed(ScreenShare)", LONG);
}

/// Click the red STOP SCREEN SHARING button in the banner above the chat:
/// found on the screen by its colour, as a person finds it by eye.
pub fn stop_screen_sharing(display: &Display, customer: &mut Customer, shots: Artifacts) {
    let window = customer.window();
    let r = client_rect(display, &window);
    let shot = x_screen(display, shots, "stop-banner");
    let (x, y) = find_colour(&shot, r, [0xb0, 0x20, 0x20])
        .expect("a red STOP SCREEN SHARING button in the client window");
    click_at(display, x, y);
}

/// The centre of the largest patch of colour `rgb` inside `area` (a
/// button, a window): smaller patches of the same colour elsewhere (a
/// thumbnail of the screen, a few pixels of text) do not move it.
pub fn find_colour(shot: &image::RgbImage, area: Rect, rgb: [u8; 3]) -> Option<(i32, i32)> {
    let (w, h) = (shot.width() as i32, shot.height() as i32);
    let matches = |x: i32, y: i32| {
        x >= 0
            && y >= 0
            && x < w
            && y < h
            && area.contains(x, y)
            && shot.get_pixel(x as u32, y as u32).0 == rgb
    };
    let mut seen = vec![false; (w * h) as usize];
    // (pixels, x0, y0, x1, y1) of the largest patch so far.
    let mut best: Option<(usize, i32, i32, i32, i32)> = None;
    for start in 0..(w * h) {
        let (sx, sy) = (start % w, start / w);
        if seen[start as usize] || !matches(sx, sy) {
            continue;
        }
        seen[start as usize] = true;
        let mut stack = vec![(sx, sy)];
        let (mut n, mut x0, mut y0, mut x1, mut y1) = (0usize, sx, sy, sx, sy);
        while let Some((x, y)) = stack.pop() {
            n += 1;
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            for (nx, ny) in [(x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)] {
                if matches(nx, ny) && !seen[(ny * w + nx) as usize] {
                    seen[(ny * w + nx) as usize] = true;
                    stack.push((nx, ny));
                }
            }
        }
        if best.is_none_or(|b| n > b.0) {
            best = Some((n, x0, y0, x1, y1));
        }
    }
    best.map(|(_, x0, y0, x1, y1)| ((x0 + x1) / 2, (y0 + y1) / 2))
}

/// `shot` with every pixel outside `visible` black: what app-selective
/// sharing must show.
pub fn masked(mut shot: image::RgbImage, visible: impl Fn(i32, i32) -> bool) -> image::RgbImage {
    for (x, y, p) in shot.enumerate_pixels_mut() {
        if !visible(x as i32, y as i32) {
            p.0 = [0, 0, 0];
        }
    }
    shot
}

/// In the share picker, tick application `app` and press Share, with the
/// keyboard: the list is read from the client's log (the order it shows),
/// Share has the focus, the check boxes come right before it.
pub fn choose_application(display: &Display, customer: &mut Customer, shots: Artifacts, app: &str) {
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
        .screenshot(&shots.path("apps-picker"))
        .expect("screenshot");
    customer.type_keys("Return");
}
