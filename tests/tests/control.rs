//! End-to-end: remote control and the nudge with the real customer client.
//!
//! A real relay, the real client (downloaded from it, run under a private
//! Xvfb with openbox, driven with xdotool like a person) and a scripted
//! technician speaking the protocol through the relay harness ([`Peer`]).
//!
//! * Control: the customer allows sharing (the primary monitor of two, so
//!   the client's mapping from the shared picture to the screen is not the
//!   identity) and control; the technician types "Grüße, 123 €" into a real
//!   xterm, which writes exactly that to a file, and clicks another xterm
//!   at a position of the shared picture: the pointer lands on the right
//!   screen pixel and that xterm gets the focus. Input before the grant,
//!   outside the shared monitor and after STOP SCREEN SHARING changes
//!   nothing, and the client counts it in its log (`dropped=N`).
//! * App sharing: with one application shared, pointer input over another
//!   window and keys while another window has the focus are dropped.
//! * Nudge: the client window comes to the front, shakes and returns
//!   exactly to its place, writes the chat line, and plays the alarm into an
//!   ALSA file device; without any sound device it does all but the sound.
//!   A second nudge within 3 s does nothing.
//!
//! Screenshots land in `target/tmp/control-e2e-*.png` (not committed).
//!
//! Needs: `cargo build -p lotse-relay -p lotse-client` first; Debian
//! packages xvfb, openbox, xdotool, x11-utils, x11-xserver-utils (xrandr),
//! xterm, imagemagick, python3-xlib.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use lotse_e2e::customer::{Customer, CustomerOptions, Sandbox, download};
use lotse_e2e::display::Display;
use lotse_e2e::relay::{Incoming, Peer, Relay};
use lotse_e2e::wait_for;
use lotse_protocol::{EndReason, Envelope, InputEvent, Message, MouseButton, ShareScope};

const CONFIG: &str = lotse_e2e::relay::STRAIGHT_TO_NAME;

const PASSWORD: &str = "geheim-passwort-1";
const LONG: Duration = Duration::from_secs(60);

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("control-e2e-{name}.png"))
}

/// A helper program on the display, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An xterm that writes what is typed into it to a file.
struct Term {
    window: String,
    file: PathBuf,
    _proc: Proc,
}

impl Term {
    fn text(&self) -> String {
        std::fs::read_to_string(&self.file).unwrap_or_default()
    }

    /// Wait until the file holds `lines` complete lines; returns it.
    fn wait_lines(&self, lines: usize) -> String {
        wait_for(
            &format!("{lines} line(s) in {}", self.file.display()),
            LONG,
            || {
                let t = self.text();
                (t.ends_with('\n') && t.lines().count() >= lines).then_some(t)
            },
        )
    }
}

/// Window geometry as `xdotool getwindowgeometry` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    x: i32,
    y: i32,
    width: i32,
    height: i32,
}

impl Geometry {
    fn centre(self) -> (i32, i32) {
        (self.x + self.width / 2, self.y + self.height / 2)
    }
}

/// The screen: a real relay, X server, client and technician.
struct Stage {
    // Dropped in this order: the client and helpers before the X server.
    customer: Customer,
    tech: Peer,
    sid: u64,
    display: Display,
    relay: Relay,
    rt: tokio::runtime::Runtime,
    scratch: tempfile::TempDir,
}

impl Stage {
    /// Relay, technician, X server (`prepare` runs on it before the
    /// client starts), the client with `sandbox` (prepared by the test),
    /// joined and accepted.
    fn start(prepare: impl FnOnce(&Display), sandbox: Sandbox) -> Stage {
        Self::start_with(CONFIG, prepare, sandbox)
    }

    /// Like [`Stage::start`], the relay configured by `config`.
    fn start_with(config: &str, prepare: impl FnOnce(&Display), sandbox: Sandbox) -> Stage {
        let display = Display::start().expect("Xvfb + openbox");
        Self::start_on(display, config, prepare, sandbox)
    }

    /// Like [`Stage::start_with`], on `display`.
    fn start_on(
        display: Display,
        config: &str,
        prepare: impl FnOnce(&Display),
        sandbox: Sandbox,
    ) -> Stage {
        let rt = lotse_e2e::runtime();
        let relay = Relay::start_with_config(config);
        relay.add_user("tom", PASSWORD);
        let mut tech = rt.block_on(Peer::technician(&relay, "tom", PASSWORD));
        rt.block_on(tech.send(Message::Profile {
            display_name: "Tom Technik".into(),
            avatar: None,
        }));
        wait_until_openbox_manages_windows(&display);
        prepare(&display);
        let exe = rt.block_on(download(&relay, "/download/linux", &sandbox.downloads));
        let opts = CustomerOptions {
            log: "info,lotse=debug".into(),
            ..CustomerOptions::default()
        };
        let mut customer = Customer::run(sandbox, exe, &display, &opts);
        // Like a person, click into the name field first (the white field
        // at the top of the name entry), then type the name.
        customer.wait_log("connected to the relay", LONG);
        click_colour_of(
            &display,
            &mut customer,
            [0xff, 0xff, 0xff],
            "the name field",
        );
        let joined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            customer.join("Erika");
        }));
        if let Err(e) = joined {
            // What the customer saw, for the report.
            let _ = display.screenshot(&screenshot_path("join-failed"));
            let w = customer.window();
            let mut info = Vec::new();
            for (prog, args) in [
                ("xprop", vec!["-id", w.as_str()]),
                ("xwininfo", vec!["-id", w.as_str(), "-all"]),
                ("xwininfo", vec!["-root", "-tree"]),
            ] {
                if let Ok(out) = display.command(prog).args(&args).output() {
                    info.extend_from_slice(&out.stdout);
                }
            }
            let _ = std::fs::write(
                screenshot_path("join-failed").with_extension("x11.txt"),
                info,
            );
            if let Ok(out) = std::process::Command::new("gdb")
                .args(["-p", &customer.pid().to_string(), "-batch"])
                .args(["-ex", "thread apply all bt 30"])
                .output()
            {
                let _ = std::fs::write(
                    screenshot_path("join-failed").with_extension("stacks.txt"),
                    out.stdout,
                );
            }
            std::panic::resume_unwind(e);
        }
        let sid = rt.block_on(async {
            let env = tech
                .recv_until(
                    |e| {
                        matches!(&e.msg, Message::Queue { entries, .. }
                            if entries.iter().any(|q| q.name.starts_with("Erika")))
                    },
                    LONG,
                )
                .await;
            let Message::Queue { entries, .. } = env.msg else {
                unreachable!()
            };
            let sid = entries
                .iter()
                .find(|q| q.name.starts_with("Erika"))
                .map(|q| q.session)
                .expect("queued");
            tech.accept(sid, LONG).await;
            sid
        });
        customer.wait_log("TechnicianJoined", LONG);
        Stage {
            customer,
            tech,
            sid,
            display,
            relay,
            rt,
            scratch: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn send(&mut self, msg: Message) {
        let sid = self.sid;
        self.rt.block_on(self.tech.send_for(sid, msg));
    }

    fn input(&mut self, events: &[InputEvent]) {
        for ev in events {
            self.send(Message::Input { event: ev.clone() });
        }
    }

    /// Wait for what `pred` matches; on a timeout, fail with the client's log.
    fn expect(&mut self, what: &str, mut pred: impl FnMut(&Envelope) -> bool) -> Envelope {
        let deadline = Instant::now() + LONG;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rt.block_on(self.tech.next(left)) {
                Some(Incoming::Text(env)) if pred(&env) => {
                    assert_eq!(env.session, Some(self.sid), "{what} for this session");
                    return env;
                }
                Some(Incoming::Closed(code)) => panic!("the relay closed the link ({code:?})"),
                Some(_) => {}
                None => panic!(
                    "the technician never got {what}; client log:\n{}",
                    self.customer.log()
                ),
            }
        }
    }

    /// The customer presses Return on the prompt for `request`
    /// (`ScreenShare` or `Control`) once its Allow has the keyboard focus.
    fn allow_with_return(&mut self, request: &str) {
        self.customer.wait_ready(
            &format!("Asked({request})"),
            &format!("Allow for {request}"),
        );
        self.customer.type_keys("Return");
    }

    /// The customer allows the control the technician asks for now.
    fn grant_control(&mut self) {
        self.send(Message::ControlRequest);
        self.customer.wait_log("Asked(Control)", LONG);
        self.allow_with_return("Control");
        let answer = self.expect("control_grant", |e| {
            matches!(e.msg, Message::ControlGrant | Message::ControlDecline)
        });
        assert_eq!(answer.msg, Message::ControlGrant);
    }

    /// The technician asks to share; the customer allows and, in the
    /// picker, ticks the last application (back from Share to its
    /// checkbox) and presses Share. Returns what the technician was told.
    fn share_last_application(&mut self) -> Message {
        self.send(Message::ShareRequest);
        self.customer.wait_log("Asked(ScreenShare)", LONG);
        self.allow_with_return("ScreenShare");
        self.wait_picker_ready();
        self.wait_still("the share picker");
        self.screenshot("apps-picker");
        self.customer.type_keys("shift+Tab space");
        self.screenshot("apps-picked");
        self.customer.type_keys("Tab Return");
        self.expect("share_grant", |e| {
            matches!(e.msg, Message::ShareGrant { .. } | Message::ShareDecline)
        })
        .msg
    }

    /// Wait until the share picker, opened by the Allow, has its list and
    /// its Share button the keyboard focus.
    fn wait_picker_ready(&mut self) {
        self.customer.focus();
        self.customer.wait_log_after(
            "Allowed(ScreenShare)",
            "share picker: ready, Share has the keyboard focus",
            LONG,
        );
    }

    fn xdotool(&self, args: &[&str]) -> String {
        let out = self
            .display
            .command("xdotool")
            .args(args)
            .output()
            .expect("xdotool");
        assert!(out.status.success(), "xdotool {args:?} failed");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn pointer(&self) -> (i32, i32) {
        let s = self.xdotool(&["getmouselocation"]);
        let num = |key: &str| -> i32 {
            s.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("xdotool said {s:?}"))
        };
        (num("x:"), num("y:"))
    }

    fn active_window(&self) -> String {
        let out = self
            .display
            .command("xdotool")
            .arg("getactivewindow")
            .output()
            .expect("xdotool");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn geometry(&self, window: &str) -> Geometry {
        let s = self.xdotool(&["getwindowgeometry", window]);
        let pair = |key: &str, sep: char| -> (i32, i32) {
            let rest = s
                .split(key)
                .nth(1)
                .unwrap_or_else(|| panic!("xdotool said {s:?}"));
            let word = rest.split_whitespace().next().unwrap_or_default();
            let (a, b) = word.split_once(sep).unwrap_or(("", ""));
            (
                a.parse().unwrap_or_else(|_| panic!("xdotool said {s:?}")),
                b.parse().unwrap_or_else(|_| panic!("xdotool said {s:?}")),
            )
        };
        let (x, y) = pair("Position:", ',');
        let (width, height) = pair("Geometry:", 'x');
        Geometry {
            x,
            y,
            width,
            height,
        }
    }

    /// Make `window` the active one, as a customer clicking on it would.
    fn activate(&self, window: &str) {
        wait_for(&format!("window {window} to be active"), LONG, || {
            self.xdotool(&["windowactivate", "--sync", window]);
            (self.active_window() == window).then_some(())
        });
    }

    /// Start an xterm at `+x+y` that writes what is typed to a file; waits until it runs and has the focus.
    fn xterm(&mut self, name: &str, x: i32, y: i32) -> Term {
        self.xterm_of_class("XTerm", name, "30x5", x, y)
    }

    /// Like [`Stage::xterm`], `size` in character cells (`COLSxROWS`).
    fn xterm_sized(&mut self, name: &str, size: &str, x: i32, y: i32) -> Term {
        self.xterm_of_class("XTerm", name, size, x, y)
    }

    /// Like [`Stage::xterm`], with its own WM_CLASS class (an application
    /// of its own for the share picker and the app mask).
    fn xterm_of_class(&mut self, class: &str, name: &str, size: &str, x: i32, y: i32) -> Term {
        let file = self.scratch.path().join(format!("{name}.txt"));
        let child = self
            .display
            .command("xterm")
            .env("LC_ALL", "C.UTF-8")
            .args(["-u8", "-class", class, "-T", name, "-geometry"])
            .arg(format!("{size}+{x}+{y}"))
            .args(["-e", "sh", "-c"])
            .arg(format!("stty -echo; cat > '{}'", file.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xterm runs");
        let proc = Proc(child);
        let window = self
            .display
            .wait_for_window(proc.0.id(), LONG)
            .expect("the xterm window")
            .remove(0);
        wait_for("the xterm's cat to run", LONG, || {
            file.exists().then_some(())
        });
        let term = Term {
            window,
            file,
            _proc: proc,
        };
        self.activate(&term.window);
        term
    }

    /// Highest `dropped=N` the client logged (dropped technician input).
    fn dropped(&self) -> u64 {
        self.customer
            .log()
            .lines()
            .filter(|l| l.contains("input dropped:"))
            .filter_map(|l| l.rsplit("dropped=").next()?.trim().parse().ok())
            .max()
            .unwrap_or(0)
    }

    /// Wait until the client logged `n` dropped input events in total.
    fn wait_dropped(&self, n: u64) {
        wait_for(&format!("{n} dropped input events"), LONG, || {
            (self.dropped() >= n).then_some(())
        });
        assert_eq!(self.dropped(), n, "log:\n{}", self.customer.log());
    }

    fn screenshot(&self, name: &str) {
        self.display
            .screenshot(&screenshot_path(name))
            .expect("screenshot");
    }

    /// The client window as RGB pixels (`import -window`, PPM).
    fn window_pixels(&mut self) -> (usize, usize, Vec<u8>) {
        window_pixels(&self.display, &mut self.customer)
    }

    /// Wait until the client window stops changing (two grabs in a row
    /// are equal): e.g. the share picker's spinner gave way to the list.
    fn wait_still(&mut self, what: &str) {
        let mut last = self.window_pixels();
        let deadline = Instant::now() + LONG;
        loop {
            let now = self.window_pixels();
            if now == last {
                return;
            }
            assert!(Instant::now() < deadline, "{what} never settled");
            last = now;
        }
    }

    /// Click, like the customer, the first wide run of `rgb` pixels in
    /// the client window (a filled button or field).
    fn click_colour(&mut self, rgb: [u8; 3], what: &str) {
        click_colour_of(&self.display, &mut self.customer, rgb, what);
    }
}

/// The client window as RGB pixels (`import -window`, PPM).
fn window_pixels(display: &Display, customer: &mut Customer) -> (usize, usize, Vec<u8>) {
    let w = customer.window();
    let out = display
        .command("import")
        .args(["-window", &w, "-depth", "8", "ppm:-"])
        .stderr(Stdio::null())
        .output()
        .expect("import");
    assert!(out.status.success(), "import failed");
    parse_ppm(&out.stdout)
}

/// Where the first run of at least 40 `rgb` pixels is in the client
/// window, searching rows from the top: the middle of the run, a few rows
/// lower (inside the button or field, not on its edge).
fn find_colour(display: &Display, customer: &mut Customer, rgb: [u8; 3]) -> Option<(usize, usize)> {
    let (width, height, px) = window_pixels(display, customer);
    for y in 0..height {
        let mut run = 0;
        for x in 0..=width {
            let i = (y * width + x) * 3;
            if x < width && px[i..i + 3] == rgb {
                run += 1;
                continue;
            }
            if run >= 40 {
                return Some((x - run / 2, y + 6));
            }
            run = 0;
        }
    }
    None
}

/// Click, like the customer, what [`find_colour`] finds (waiting for it).
fn click_colour_of(display: &Display, customer: &mut Customer, rgb: [u8; 3], what: &str) {
    let (x, y) = wait_for(what, LONG, || find_colour(display, customer, rgb));
    let w = customer.window();
    customer.xdotool(&["mousemove", "--window", &w, &x.to_string(), &y.to_string()]);
    customer.xdotool(&["click", "1"]);
}

/// Openbox announces itself a moment before it manages new windows; a
/// window mapped in between is reparented late and can be left marked as
/// fully obscured, and eframe then runs no UI pass for it (no typing).
/// So map a probe window until openbox lists it.
fn wait_until_openbox_manages_windows(display: &Display) {
    let probe = Proc(
        display
            .command("xterm")
            .args(["-T", "probe", "-geometry", "10x2+0+0", "-e", "cat"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xterm runs"),
    );
    let window: u64 = display
        .wait_for_window(probe.0.id(), LONG)
        .expect("the probe window")
        .remove(0)
        .parse()
        .expect("window id");
    wait_for("openbox to manage windows", LONG, || {
        let out = display
            .command("xprop")
            .args(["-root", "_NET_CLIENT_LIST"])
            .output()
            .ok()?;
        let list = String::from_utf8_lossy(&out.stdout).into_owned();
        list.split(['#', ',', ' '])
            .filter_map(|w| u64::from_str_radix(w.trim().trim_start_matches("0x"), 16).ok())
            .any(|w| w == window)
            .then_some(())
    });
}

/// `P6` PPM → (width, height, RGB bytes).
fn parse_ppm(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..i]).into_owned());
    }
    assert_eq!(fields[0], "P6", "a binary PPM");
    let width: usize = fields[1].parse().expect("width");
    let height: usize = fields[2].parse().expect("height");
    assert_eq!(fields[3], "255", "8-bit PPM");
    let data = bytes[i + 1..].to_vec();
    assert!(data.len() >= width * height * 3, "short PPM");
    (width, height, data)
}

fn text(t: &str) -> InputEvent {
    InputEvent::Text { text: t.into() }
}

fn key(k: &str, down: bool) -> InputEvent {
    InputEvent::Key {
        key: k.into(),
        down,
    }
}

fn enter() -> [InputEvent; 2] {
    [key("Return", true), key("Return", false)]
}

fn click(x: i32, y: i32) -> [InputEvent; 3] {
    [
        InputEvent::MouseMove { x, y },
        InputEvent::MouseButton {
            button: MouseButton::Left,
            down: true,
        },
        InputEvent::MouseButton {
            button: MouseButton::Left,
            down: false,
        },
    ]
}

/// Two monitors side by side, the right one primary (preselected in the
/// share picker): the shared picture starts at screen x = 640.
fn two_monitors(display: &Display) {
    for args in [
        ["--setmonitor", "left", "640/170x800/210+0+0", "none"],
        ["--setmonitor", "*right", "640/170x800/210+640+0", "none"],
    ] {
        let status = display
            .command("xrandr")
            .args(args)
            .status()
            .expect("xrandr");
        assert!(status.success(), "xrandr {args:?}");
    }
}

/// The shared monitor's origin on the screen (see [`two_monitors`]).
const SHARED_X: i32 = 640;

#[test]
fn technician_types_and_clicks_only_with_the_customers_grant() {
    let mut s = Stage::start(two_monitors, Sandbox::new());
    // The customer keeps the support window on the other monitor.
    let window = s.customer.window();
    s.xdotool(&["windowmove", "--sync", &window, "20", "40"]);
    let a = s.xterm("xterm-a", SHARED_X + 20, 40);
    let b = s.xterm("xterm-b", SHARED_X + 20, 420);
    let a_centre = s.geometry(&a.window).centre();
    let b_centre = s.geometry(&b.window).centre();
    s.activate(&a.window);
    let home = s.pointer();
    // In the shared picture, xterm B's centre is here.
    let b_in_view = (b_centre.0 - SHARED_X, b_centre.1);

    // 1. Nothing is shared: the relay holds a raw technician's input back
    //    (a second line behind the client's own guard, which
    //    crates/client/src/control.rs tests): the client never gets it.
    let mut attempt = Vec::new();
    attempt.extend(click(b_in_view.0, b_in_view.1));
    attempt.push(text("LEAK"));
    attempt.extend(enter());
    s.input(&attempt);
    assert_eq!(s.pointer(), home, "the pointer did not move");
    assert_eq!(s.active_window(), a.window);

    // 2. The customer allows sharing and picks the (preselected primary)
    //    screen; the technician gets its size. The request went out after
    //    the input: once the client asks, it has had all the relay sent.
    s.send(Message::ShareRequest);
    s.customer.wait_log("Asked(ScreenShare)", LONG);
    assert_eq!(s.dropped(), 0, "input without a grant reached the client");
    s.screenshot("share-prompt");
    s.allow_with_return("ScreenShare");
    s.wait_picker_ready();
    s.customer.type_keys("Return");
    let grant = s.expect("share_grant", |e| {
        matches!(e.msg, Message::ShareGrant { .. } | Message::ShareDecline)
    });
    assert_eq!(
        grant.msg,
        Message::ShareGrant {
            scope: ShareScope::Screen { monitor: 0 },
            width: 640,
            height: 800,
        }
    );

    // 3. Sharing, but control not granted: still nothing (held back by
    //    the relay).
    s.activate(&a.window);
    s.input(&attempt);
    assert_eq!(s.pointer(), home);
    assert_eq!(s.active_window(), a.window);

    // 4. The customer allows control (asked after the input: see 2).
    s.send(Message::ControlRequest);
    s.customer.wait_log("Asked(Control)", LONG);
    assert_eq!(s.dropped(), 0, "input without a grant reached the client");
    s.screenshot("control-prompt");
    s.allow_with_return("Control");
    let answer = s.expect("control_grant", |e| {
        matches!(e.msg, Message::ControlGrant | Message::ControlDecline)
    });
    assert_eq!(answer.msg, Message::ControlGrant);
    s.screenshot("control-active");

    // 5. The technician types into the focused xterm: exactly this text.
    s.activate(&a.window);
    s.input(&[text("Grüße, 123 €")]);
    s.input(&enter());
    assert_eq!(a.wait_lines(1), "Grüße, 123 €\n");

    // 6. A click at xterm B's place in the shared picture lands on B's
    //    screen pixel (the client adds the monitor's origin) and focuses B.
    s.input(&click(b_in_view.0, b_in_view.1));
    wait_for("the pointer on xterm B", LONG, || {
        (s.pointer() == b_centre).then_some(())
    });
    wait_for("xterm B to get the focus", LONG, || {
        (s.active_window() == b.window).then_some(())
    });
    s.input(&[text("B")]);
    s.input(&enter());
    assert_eq!(b.wait_lines(1), "B\n");
    // Onto the other monitor (negative picture x): dropped.
    let before = s.dropped();
    s.input(&[InputEvent::MouseMove {
        x: -SHARED_X / 2,
        y: a_centre.1,
    }]);
    s.wait_dropped(before + 1);
    assert_eq!(s.pointer(), b_centre, "the pointer stayed");
    s.screenshot("after-control");

    // 7. The technician gives control back: what it sends afterwards
    //    changes nothing (sharing goes on).
    s.send(Message::ControlRevoke);
    s.customer.wait_log("remote control revoked", LONG);
    s.activate(&a.window);
    let before = s.dropped();
    let mut attempt = Vec::new();
    attempt.extend(click(a_centre.0 - SHARED_X, a_centre.1));
    attempt.push(text("LEAK"));
    attempt.extend(enter());
    s.input(&attempt);
    // The relay holds the input back; a keyframe request sent after it
    // shows when the client has had everything before.
    s.send(Message::KeyframeRequest);
    s.customer
        .wait_log("the technician asked for a keyframe", LONG);
    assert_eq!(
        s.dropped(),
        before,
        "input after the revoke reached the client"
    );
    assert_eq!(s.pointer(), b_centre, "the pointer stayed");
    assert_eq!(s.active_window(), a.window);

    // 8. The customer presses STOP SCREEN SHARING (the red button): the
    //    technician is told, and input changes nothing any more.
    s.click_colour([0xb0, 0x20, 0x20], "STOP SCREEN SHARING button");
    s.expect("share_stop", |e| matches!(e.msg, Message::ShareStop));
    s.screenshot("stopped");
    s.activate(&b.window);
    let home = s.pointer();
    let before = s.dropped();
    let mut attempt = Vec::new();
    attempt.extend(click(a_centre.0 - SHARED_X, a_centre.1));
    attempt.push(text("LEAK"));
    attempt.extend(enter());
    s.input(&attempt);
    // Held back by the relay; the technician's own stop, sent after it,
    // shows when the client has had everything before.
    s.send(Message::ShareStop);
    s.customer
        .wait_log("the technician stopped screen sharing", LONG);
    assert_eq!(s.dropped(), before, "input after STOP reached the client");
    assert_eq!(s.pointer(), home, "the pointer did not move");
    assert_eq!(s.active_window(), b.window);
    // What the customer types now comes right after "B": nothing leaked.
    s.xdotool(&["type", "--delay", "20", "ok"]);
    s.xdotool(&["key", "Return"]);
    assert_eq!(b.wait_lines(2), "B\nok\n");
    assert_eq!(a.text(), "Grüße, 123 €\n");

    let log = s.customer.log();
    assert!(!log.contains("panicked"), "{log}");
    s.customer.close();
    s.expect("end", |e| matches!(e.msg, Message::End { .. }));
    assert!(s.customer.wait_exit(LONG).success());
}

/// App-selective sharing with control, the real client: input outside the
/// shared application, into another focused application, and desktop-wide
/// shortcuts (openbox's real Ctrl+Alt+T binding) are dropped and counted;
/// the shared application still gets what is meant for it.
#[test]
fn with_app_sharing_input_outside_the_shared_app_is_dropped() {
    // openbox binds Ctrl+Alt+T (as desktops do, to open a terminal) to a
    // marker command that appends a line to `fired`.
    let marks = tempfile::tempdir().expect("temp dir");
    let fired = marks.path().join("fired");
    let rc = marks.path().join("rc.xml");
    std::fs::write(
        &rc,
        OPENBOX_TERMINAL_BINDING.replace("FIRED", &fired.display().to_string()),
    )
    .expect("write rc.xml");
    let display = Display::start_with_openbox_config(&rc).expect("Xvfb + openbox");
    let mut s = Stage::start_on(display, CONFIG, |_| {}, Sandbox::new());
    let window = s.customer.window();
    s.xdotool(&["windowmove", "--sync", &window, "20", "40"]);
    // Started first, so lowest in the stacking order: the last application
    // in the picker's list.
    let shared = s.xterm_of_class("LotseShared", "shared", "30x5", 700, 40);
    let other = s.xterm_of_class("LotseOther", "other", "30x5", 700, 420);
    let shared_centre = s.geometry(&shared.window).centre();
    let other_centre = s.geometry(&other.window).centre();

    let grant = s.share_last_application();
    let Message::ShareGrant { scope, .. } = grant else {
        panic!("no share: {grant:?}")
    };
    assert_eq!(
        scope,
        ShareScope::Apps {
            apps: vec!["LotseShared".into()]
        }
    );
    s.grant_control();

    // Inside the shared application: pointer and keys work.
    s.activate(&shared.window);
    s.input(&[InputEvent::MouseMove {
        x: shared_centre.0,
        y: shared_centre.1,
    }]);
    wait_for("the pointer on the shared xterm", LONG, || {
        (s.pointer() == shared_centre).then_some(())
    });
    s.input(&[text("drin")]);
    s.input(&enter());
    assert_eq!(shared.wait_lines(1), "drin\n");

    // A desktop-wide shortcut from the technician, while the shared
    // application has the focus, is dropped: the window manager never
    // sees it (no terminal outside the shared app), nothing reaches the
    // xterm, and the keys after it still work.
    let before = s.dropped();
    s.input(&[
        key("Control_L", true),
        key("Alt_L", true),
        key("t", true),
        key("t", false),
        key("Alt_L", false),
        key("Control_L", false),
    ]);
    // The T's press and release; the modifiers alone pass (and are
    // released again).
    s.wait_dropped(before + 2);
    assert!(
        s.customer
            .log()
            .contains("input dropped: a desktop-wide shortcut while sharing applications")
    );
    s.input(&[text("nach")]);
    s.input(&enter());
    assert_eq!(shared.wait_lines(2), "drin\nnach\n");
    assert!(
        !fired.exists(),
        "the technician's Ctrl+Alt+T reached openbox"
    );
    // The binding is live: the customer's own Ctrl+Alt+T fires it, once.
    s.xdotool(&["key", "ctrl+alt+t"]);
    let lines = wait_for("openbox's Ctrl+Alt+T binding", LONG, || {
        std::fs::read_to_string(&fired)
            .ok()
            .filter(|t| !t.is_empty())
    });
    assert_eq!(lines, "fired\n", "the binding fired once, for the customer");
    s.activate(&shared.window);

    // Onto the other application's window: the move is dropped (the
    // clicks land where the pointer is, in the shared xterm).
    let before = s.dropped();
    s.input(&click(other_centre.0, other_centre.1));
    s.wait_dropped(before + 1);
    assert_eq!(s.pointer(), shared_centre, "the pointer stayed");
    assert_eq!(s.active_window(), shared.window);
    assert!(
        s.customer
            .log()
            .contains("input dropped: pointer target outside the shared area")
    );

    // The customer works in the other application: keys are dropped.
    s.activate(&other.window);
    let before = s.dropped();
    s.input(&[text("LEAK")]);
    s.input(&enter());
    s.wait_dropped(before + 3);
    assert!(
        s.customer
            .log()
            .contains("input dropped: no chosen application has the focus")
    );
    s.xdotool(&["type", "--delay", "20", "ok"]);
    s.xdotool(&["key", "Return"]);
    assert_eq!(
        other.wait_lines(1),
        "ok\n",
        "nothing leaked into the other app"
    );
    assert_eq!(shared.text(), "drin\nnach\n");
    s.screenshot("apps-after");

    let log = s.customer.log();
    assert!(!log.contains("panicked"), "{log}");
    s.customer.close();
    s.expect("end", |e| matches!(e.msg, Message::End { .. }));
    assert!(s.customer.wait_exit(LONG).success());
}

/// openbox's configuration for the shortcut check: Ctrl+Alt+T appends a
/// line to the file `FIRED`.
const OPENBOX_TERMINAL_BINDING: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<openbox_config xmlns="http://openbox.org/3.4/rc">
  <keyboard>
    <keybind key="C-A-t">
      <action name="Execute"><command>sh -c 'echo fired &gt;&gt; FIRED'</command></action>
    </keybind>
  </keyboard>
</openbox_config>
"#;

/// What the ALSA file plugin wrote (PCM 16/32 bit or 32-bit float):
/// seconds of audio in the file, seconds of it that are not silent (the
/// device may also have been fed silence around the sound), and the
/// loudest sample (0.0 ..= 1.0).
fn wav_stats(bytes: &[u8]) -> (f64, f64, f64) {
    assert!(bytes.len() > 44 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WAVE");
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at =
        |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let format = u16_at(20);
    let channels = usize::from(u16_at(22));
    let rate = f64::from(u32_at(24));
    let bits = usize::from(u16_at(34));
    let data = bytes
        .windows(4)
        .position(|w| w == b"data")
        .expect("data chunk")
        + 8;
    let samples = &bytes[data..];
    let size = bits / 8;
    let frame = channels * size;
    let secs = samples.len() as f64 / (rate * frame as f64);
    let level = |c: &[u8]| match (format, bits) {
        (1, 16) => f64::from(i16::from_le_bytes([c[0], c[1]])).abs() / 32768.0,
        (1, 32) => f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])).abs() / 2.0e9,
        (3, 32) => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).abs(),
        other => panic!("unexpected WAV format {other:?}"),
    };
    let mut peak = 0.0f64;
    let mut loud_frames = 0usize;
    for f in samples.chunks_exact(frame) {
        let l = f.chunks_exact(size).map(level).fold(0.0, f64::max);
        peak = peak.max(l);
        if l > 0.01 {
            loud_frames += 1;
        }
    }
    (secs, loud_frames as f64 / rate, peak)
}

/// Where the window manager puts a window: the ConfigureNotify events of
/// its frame (the window manager's top-level window holding it, root
/// coordinates), read by python3-xlib; "origin FRAME X Y W" first.
const PLACE_SPY: &str = r#"
import sys
from Xlib import display, X
d = display.Display()
root = d.screen().root
frame = d.create_resource_object("window", int(sys.argv[1], 0))
while True:
    parent = frame.query_tree().parent
    if parent.id == root.id:
        break
    frame = parent
frame.change_attributes(event_mask=X.StructureNotifyMask | X.PropertyChangeMask)
g = frame.get_geometry()
d.sync()
print("origin %s %d %d %d" % (hex(frame.id), g.x, g.y, g.width), flush=True)
while True:
    e = d.next_event()
    if e.type == X.ConfigureNotify and e.window.id == frame.id:
        print("place %d %d %d" % (e.x, e.y, e.width), flush=True)
    elif e.type == X.PropertyNotify:
        print("mark", flush=True)
"#;

struct PlaceSpy {
    child: Child,
    frame: String,
    /// The frame's place when the spy started.
    origin: (i32, i32, i32),
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl PlaceSpy {
    fn start(display: &Display, window: &str) -> PlaceSpy {
        use std::io::BufRead as _;
        let mut child = display
            .command("/usr/bin/python3")
            .args(["-c", PLACE_SPY, window])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 place spy");
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let (frame, origin) = match first.split_whitespace().collect::<Vec<_>>()[..] {
            ["origin", frame, x, y, w] => (
                frame.to_owned(),
                (
                    x.parse().expect("x"),
                    y.parse().expect("y"),
                    w.parse().expect("width"),
                ),
            ),
            _ => panic!("the place spy said {first:?}"),
        };
        PlaceSpy {
            child,
            frame,
            origin,
            lines,
        }
    }

    /// The places seen until now: a property change made now comes after
    /// every earlier event, so its mark ends the list.
    fn places_so_far(&mut self, display: &Display) -> Vec<(i32, i32, i32)> {
        let status = display
            .command("xprop")
            .args([
                "-id",
                &self.frame,
                "-f",
                "_LOTSE_MARK",
                "8s",
                "-set",
                "_LOTSE_MARK",
                "1",
            ])
            .status()
            .expect("xprop");
        assert!(status.success(), "xprop -set");
        let mut places = Vec::new();
        for line in self.lines.by_ref() {
            let line = line.expect("the place spy's output");
            if line == "mark" {
                return places;
            }
            let n: Vec<i32> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|w| w.parse().ok())
                .collect();
            if let [x, y, w] = n[..] {
                places.push((x, y, w));
            }
        }
        panic!("the place spy ended before the mark");
    }
}

impl Drop for PlaceSpy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Nudge the customer twice in a row; the first shakes, plays and writes
/// the line, the second (within 3 s) does nothing.
fn nudge(sound: bool) {
    let sandbox = Sandbox::new();
    let played = sandbox.root().join("played.wav");
    if sound {
        // The customer's default sound device writes into a WAV file.
        std::fs::write(
            sandbox.home.join(".asoundrc"),
            format!(
                "pcm.!default {{ type file slave.pcm {{ type null }} file \"{}\" format \"wav\" }}\n",
                played.display()
            ),
        )
        .expect("write .asoundrc");
    }
    let mut s = Stage::start(|_| {}, sandbox);
    let window = s.customer.window();
    // Another window has the focus and covers the client completely.
    let origin = s.geometry(&window);
    let cover = s.xterm_sized("cover", "140x70", origin.x - 40, origin.y - 40);
    assert_ne!(s.active_window(), window);
    let origin = s.geometry(&window);

    // Every place the window manager gives the window while it shakes, from
    // the X server's events (samples taken by polling can miss a 0.5 s
    // shake on a busy machine).
    let mut spy = PlaceSpy::start(&s.display, &window);
    s.send(Message::Nudge);
    s.send(Message::Nudge);
    wait_for("the shake to end", LONG, || {
        s.customer.log().contains("nudge shake over").then_some(())
    });
    let places = spy.places_so_far(&s.display);
    let (x0, y0, w0) = spy.origin;
    assert!(
        places
            .iter()
            .any(|&(x, y, w)| x != x0 && y == y0 && w == w0),
        "the window moved sideways; its frame's places (x, y, width): {places:?}, from {:?}",
        spy.origin
    );
    eprintln!("window places while shaking (origin {origin:?}): {places:?}");
    // Back exactly where it was.
    wait_for("the window back at its place", LONG, || {
        (s.geometry(&window) == origin).then_some(())
    });
    // In front, with the focus.
    wait_for("the client window to get the focus", LONG, || {
        (s.active_window() == window).then_some(())
    });
    let stacking = s
        .display
        .command("xprop")
        .args(["-root", "_NET_CLIENT_LIST_STACKING"])
        .output()
        .expect("xprop");
    let stacking = String::from_utf8_lossy(&stacking.stdout).into_owned();
    let top = stacking
        .rsplit([',', ' '])
        .next()
        .and_then(|w| u64::from_str_radix(w.trim().trim_start_matches("0x"), 16).ok());
    assert_eq!(
        top.map(|w| w.to_string()),
        Some(window.clone()),
        "the client is on top: {stacking}"
    );
    s.customer.wait_log("note=Nudged", LONG);
    s.customer.wait_log("nudge ignored", LONG);
    s.screenshot(if sound { "nudge" } else { "nudge-no-sound" });

    if sound {
        wait_for("the alarm in the WAV file", LONG, || {
            let b = std::fs::read(&played).ok()?;
            (b.len() > 44 && wav_stats(&b).1 >= 0.3).then_some(())
        });
        s.customer.wait_log("nudge alarm played", LONG);
        let (secs, loud, peak) = wav_stats(&std::fs::read(&played).expect("played.wav"));
        eprintln!(
            "alarm in the WAV file: {secs:.3} s written, {loud:.3} s not silent, peak {peak:.3}"
        );
        assert!(peak > 0.1, "the alarm is audible: peak {peak}");
        // The alarm is 0.4 s: once, not twice.
        assert!((0.3..0.6).contains(&loud), "one alarm: {loud} s of sound");
    } else {
        s.customer.wait_log("nudge without sound", LONG);
        assert!(!played.exists());
    }
    let log = s.customer.log();
    assert_eq!(log.matches("note=Nudged").count(), 1, "{log}");
    assert_eq!(log.matches("nudge shake over").count(), 1, "{log}");
    assert!(!log.contains("panicked"), "{log}");
    drop(cover);

    s.customer.close();
    s.expect("end", |e| matches!(e.msg, Message::End { .. }));
    assert!(s.customer.wait_exit(LONG).success(), "{}", s.customer.log());
}

#[test]
fn nudge_focuses_shakes_plays_the_alarm_and_writes_the_line() {
    nudge(true);
}

#[test]
fn nudge_without_a_sound_device_still_focuses_shakes_and_writes_the_line() {
    nudge(false);
}

/// Like [`CONFIG`], with the exit survey on.
const CONFIG_SURVEY: &str = r#"
site_name = "Beispiel Support"
[texts.en]
agreement = ""
recording_prompt = ""
survey = "How satisfied were you?"
"#;

/// The relay's record of session `sid` once `pred` holds for it.
fn record_when(relay: &Relay, sid: u64, what: &str, pred: impl Fn(&str) -> bool) -> String {
    wait_for(what, LONG, || {
        let record = relay
            .try_cli(&["sessions", "show", &sid.to_string()])
            .unwrap_or_default();
        pred(&record).then_some(record)
    })
}

/// The lines of the record's section `name` (`events:`, `survey:`...).
fn section<'a>(record: &'a str, name: &str) -> Vec<&'a str> {
    record
        .lines()
        .skip_while(|l| l.trim() != name)
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect()
}

/// Issue 11 §3: with one application shared and controlled, the window's
/// close button ends sharing, control and the session at once; the survey
/// shows afterwards and shares nothing. After the click the technician
/// gets no screen update, and neither what the customer types into the
/// shared xterm nor what the technician types reaches the other side.
#[test]
fn closing_the_window_ends_sharing_and_control_before_the_survey() {
    let mut s = Stage::start_with(CONFIG_SURVEY, |_| {}, Sandbox::new());
    let window = s.customer.window();
    s.xdotool(&["windowmove", "--sync", &window, "20", "40"]);
    let shared = s.xterm_of_class("LotseShared", "shared", "30x5", 700, 40);
    let centre = s.geometry(&shared.window).centre();

    // Share the xterm's application and allow control (as in
    // `with_app_sharing_input_outside_the_shared_app_is_dropped`).
    let grant = s.share_last_application();
    assert!(matches!(grant, Message::ShareGrant { .. }), "{grant:?}");
    s.grant_control();
    // Control works before the close: the technician types a line.
    s.activate(&shared.window);
    s.input(&[InputEvent::MouseMove {
        x: centre.0,
        y: centre.1,
    }]);
    s.input(&[text("vorher")]);
    s.input(&enter());
    assert_eq!(shared.wait_lines(1), "vorher\n");
    // The share streams: a screen update reaches the technician.
    s.rt.block_on(s.tech.recv_binary(LONG));

    // The customer clicks the window's close button.
    s.customer.close();
    // The technician gets control_revoke, share_stop and end, in this
    // order, without the customer answering anything; no screen update
    // comes after share_stop.
    let mut seen = Vec::new();
    let mut frames_after_stop = 0;
    let deadline = Instant::now() + LONG;
    while !seen.contains(&"end") {
        let left = deadline.saturating_duration_since(Instant::now());
        match s.rt.block_on(s.tech.next(left)) {
            Some(Incoming::Text(env)) => match env.msg {
                Message::ControlRevoke => seen.push("control_revoke"),
                Message::ShareStop => seen.push("share_stop"),
                Message::End { reason } => {
                    assert_eq!(reason, EndReason::EndedByCustomer);
                    seen.push("end");
                }
                _ => {}
            },
            Some(Incoming::Binary(_)) if seen.contains(&"share_stop") => frames_after_stop += 1,
            Some(Incoming::Binary(_)) => {}
            Some(Incoming::Closed(code)) => panic!("the relay closed the link ({code:?})"),
            None => panic!(
                "after the close click the technician got only {seen:?}, not share_stop and end; client log:\n{}",
                s.customer.log()
            ),
        }
    }
    assert_eq!(seen, ["control_revoke", "share_stop", "end"]);
    assert_eq!(frames_after_stop, 0, "no screen update after share_stop");
    s.customer
        .wait_log("the session ended; asking the survey", LONG);
    let record = record_when(&s.relay, s.sid, "share_stop and the end recorded", |r| {
        r.contains("share_stop") && r.contains(": end ended_by_customer")
    });
    assert!(
        section(&record, "survey:").is_empty(),
        "recorded before any survey answer:\n{record}"
    );
    let events = section(&record, "events:");
    let at = |kind: &str| {
        events
            .iter()
            .position(|l| l.contains(kind))
            .unwrap_or_else(|| panic!("no {kind} in\n{record}"))
    };
    assert!(at("control_revoke") < at("share_stop") && at("share_stop") < at(": end "));

    // While the survey shows: the customer types into the shared xterm,
    // the technician types too.
    s.activate(&shared.window);
    s.xdotool(&["type", "--delay", "20", "nachher"]);
    s.xdotool(&["key", "Return"]);
    assert_eq!(shared.wait_lines(2), "vorher\nnachher\n");
    s.input(&[text("LEAK")]);
    s.input(&enter());

    // The customer closes the survey too (skipping it) and the client exits.
    s.customer.close();
    let status = s.customer.wait_exit(LONG);
    assert!(status.success(), "{}", s.customer.log());
    // Everything the client injected happened before it exited, so once
    // this line shows, the file holds all the xterm ever got.
    s.activate(&shared.window);
    s.xdotool(&["type", "--delay", "20", "fertig"]);
    s.xdotool(&["key", "Return"]);
    assert_eq!(
        shared.wait_lines(3),
        "vorher\nnachher\nfertig\n",
        "no technician input after the close"
    );
    // Nothing more from the customer's screen reached the technician: an
    // answer to a message sent now comes after anything already forwarded.
    let sid = s.sid;
    s.rt.block_on(s.tech.send_for(
        sid,
        Message::Chat {
            text: "still there?".into(),
            from: None,
            at_ms: None,
        },
    ));
    let deadline = Instant::now() + LONG;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match s.rt.block_on(s.tech.next(left)) {
            Some(Incoming::Binary(_)) => panic!("a screen update after the close"),
            Some(Incoming::Text(env))
                if matches!(env.msg, Message::Error { .. } | Message::Ack { .. }) =>
            {
                break;
            }
            Some(Incoming::Text(_)) => {}
            other => panic!("the relay did not answer: {other:?}"),
        }
    }
}
