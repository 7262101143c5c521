//! Headless Wayland sessions (`scripts/wayland.sh`: GNOME 50 in a Debian
//! forky chroot, sway on the host) and the real downloaded client in them.
//! Tests run as root; a session runs as the unprivileged user of the
//! script, with the session's own D-Bus, PipeWire and desktop portal.
//! `/tmp` is shared with the chroot, so files pass both ways.
//!
//! GNOME tools (`scripts/wayland/mutter.py`, through mutter's own D-Bus
//! API, which needs no consent): `grab`, `answer-dialog`, `keys`, `click`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::customer::{ClientLog, LONG, download};
use crate::relay::Relay;

/// evdev key codes (linux/input-event-codes.h) the tests press.
pub const KEY_ENTER: u32 = 28;
pub const KEY_TAB: u32 = 15;
pub const KEY_LEFTSHIFT: u32 = 42;
pub const KEY_SPACE: u32 = 57;

/// The desktop a session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Desktop {
    Gnome,
    Sway,
}

/// The user sessions run as (`scripts/wayland.sh`).
pub fn session_user() -> String {
    std::env::var("LOTSE_WL_USER").unwrap_or_else(|_| "lotse-wl".into())
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/wayland.sh")
}

/// A running session; dropping it stops every process of it.
#[derive(Debug)]
pub struct Session {
    pub name: String,
    pub desktop: Desktop,
    /// `/tmp/lotse-wl/NAME`: env, log, home, run.
    pub dir: PathBuf,
    /// GNOME: one input session through mutter for the whole test (a new
    /// one takes the keyboard focus from the focused window).
    input: std::sync::Mutex<Option<Input>>,
}

/// `mutter.py serve` (GNOME) or `wl_input` (sway): commands on its stdin,
/// `ok` on its stdout.
#[derive(Debug)]
struct Input {
    child: Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Input {
    fn start(session: &Session) -> Input {
        let tool = match session.desktop {
            Desktop::Gnome => "mutter.py serve".to_owned(),
            Desktop::Sway => {
                // Built beside the test binary (target/debug/wl_input).
                let built = std::env::current_exe()
                    .ok()
                    .and_then(|t| Some(t.parent()?.parent()?.join("wl_input")))
                    .filter(|p| p.exists())
                    .expect("target/debug/wl_input (feature wayland-e2e)");
                let copy = session.user_dir("bin-test").join("wl_input");
                std::fs::copy(&built, &copy).expect("copy wl_input");
                copy.display().to_string()
            }
        };
        let args: Vec<&str> = tool.split(' ').collect();
        let mut child = session
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("mutter.py serve");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut input = Input {
            child,
            stdin,
            stdout,
        };
        assert_eq!(input.line(), "ready", "{tool} did not start");
        input
    }

    fn line(&mut self) -> String {
        use std::io::BufRead as _;
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("mutter.py serve");
        line.trim().to_owned()
    }

    fn send(&mut self, command: &str) {
        use std::io::Write as _;
        writeln!(self.stdin, "{command}").expect("mutter.py serve");
        let answer = self.line();
        assert_eq!(answer, "ok", "mutter.py serve: {command}");
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Session {
    /// Starts a session and returns once it is ready (compositor, PipeWire,
    /// portal).
    pub fn start(desktop: Desktop, name: &str) -> Session {
        let kind = match desktop {
            Desktop::Gnome => "gnome",
            Desktop::Sway => "sway",
        };
        // A run that was killed may have left its session behind.
        let _ = Command::new(script())
            .args(["stop", name])
            .stdin(Stdio::null())
            .output();
        let out = Command::new(script())
            .args(["start", kind, name])
            .stdin(Stdio::null())
            .output()
            .expect("run scripts/wayland.sh");
        assert!(
            out.status.success(),
            "scripts/wayland.sh start {kind} {name} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let session = Session {
            name: name.to_owned(),
            desktop,
            dir: PathBuf::from("/tmp/lotse-wl").join(name),
            input: std::sync::Mutex::new(None),
        };
        if desktop == Desktop::Sway {
            // A headless seat has no keyboard (and sends no focus) until a
            // keyboard device exists: the customer's comes first.
            let input = Input::start(&session);
            *session.input.lock().expect("input") = Some(input);
        }
        session
    }

    /// A command run inside the session as its user.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(script());
        cmd.args(["exec", &self.name, "--"])
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `args` in the session; panics unless it succeeds; its stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self
            .command(args)
            .output()
            .expect("scripts/wayland.sh exec");
        assert!(
            out.status.success(),
            "{args:?} in the session failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The whole screen as the compositor shows it (no pointer), taken
    /// without any consent dialog.
    pub fn grab(&self, path: &Path) -> image::RgbImage {
        // Into the session's directory (the chroot sees only /tmp), then
        // where the test wants it.
        let tmp = self.dir.join("grab.png");
        let t = tmp.display().to_string();
        match self.desktop {
            Desktop::Gnome => self.run(&["mutter.py", "grab", &t]),
            Desktop::Sway => self.run(&["grim", &t]),
        };
        std::fs::copy(&tmp, path).expect("copy the grab");
        image::open(path)
            .unwrap_or_else(|e| panic!("the grab {}: {e}", path.display()))
            .into_rgb8()
    }

    /// GNOME: waits for the desktop's sharing dialog and answers it
    /// (`share`, `share-with-control`, `decline`) as the customer would.
    pub fn answer_dialog(&self, answer: &str) {
        assert_eq!(self.desktop, Desktop::Gnome, "only GNOME shows a dialog");
        self.run(&["mutter.py", "answer-dialog", answer]);
    }

    /// Press and release these keys (evdev codes) on the keyboard.
    pub fn keys(&self, codes: &[u32]) {
        match self.desktop {
            Desktop::Gnome => {
                let codes: Vec<String> = codes.iter().map(u32::to_string).collect();
                self.input(&format!("keys {}", codes.join(" ")));
            }
            Desktop::Sway => {
                for code in codes {
                    let name = match *code {
                        KEY_ENTER => "Return",
                        other => panic!("no key name for evdev code {other}"),
                    };
                    self.input(&format!("key {name}"));
                }
            }
        }
    }

    /// GNOME: these keys held together (pressed in order, released in
    /// reverse), as Shift+Tab.
    pub fn chord(&self, codes: &[u32]) {
        assert_eq!(self.desktop, Desktop::Gnome, "chords through mutter only");
        let codes: Vec<String> = codes.iter().map(u32::to_string).collect();
        self.input(&format!("chord {}", codes.join(" ")));
    }

    /// A left click at screen pixel (`x`, `y`).
    pub fn click(&self, x: i32, y: i32) {
        self.input(&format!("click {x} {y}"));
    }

    fn input(&self, command: &str) {
        let mut input = self.input.lock().expect("input");
        input
            .get_or_insert_with(|| Input::start(self))
            .send(command);
    }

    /// The portal's open sessions (their D-Bus object paths): a share the
    /// client stopped leaves none behind.
    pub fn portal_sessions(&self) -> Vec<String> {
        const LIST: &str = r#"
import dbus, xml.etree.ElementTree as ET
bus = dbus.SessionBus()
def walk(path):
    xml = bus.get_object("org.freedesktop.portal.Desktop", path).Introspect(
        dbus_interface="org.freedesktop.DBus.Introspectable")
    for n in ET.fromstring(xml).findall("node"):
        child = path.rstrip("/") + "/" + n.get("name")
        if child.count("/") >= 7:
            print(child)
        else:
            walk(child)
walk("/org/freedesktop/portal/desktop/session")
"#;
        self.run(&["python3", "-c", LIST])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Does `act` (a key, a click) and waits until the screen below the
    /// top bar changes, as a person looks before the next key: egui takes
    /// one move of the keyboard focus per frame, so keys sent at once
    /// would all land in one frame.
    pub fn act_and_see(&self, what: &str, act: impl FnOnce()) {
        let shot = self.dir.join("act.png");
        let before = self.grab(&shot);
        act();
        let deadline = std::time::Instant::now() + LONG;
        loop {
            let now = self.grab(&shot);
            if now
                .enumerate_pixels()
                .any(|(x, y, p)| y >= 40 && before.get_pixel(x, y) != p)
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the screen did not change after {what}"
            );
        }
    }

    /// Waits until a new window shows on the screen (compared with
    /// `before`, below the top bar) and clicks its top edge, as a person
    /// clicks a window before typing into it. Returns where it clicked.
    pub fn click_new_window(&self, before: &image::RgbImage, shot: &Path) -> (i32, i32) {
        let deadline = std::time::Instant::now() + LONG;
        loop {
            let now = self.grab(shot);
            let (mut x0, mut y0, mut x1) = (u32::MAX, u32::MAX, 0);
            for (x, y, p) in now.enumerate_pixels() {
                if y >= 40 && before.get_pixel_checked(x, y).is_some_and(|b| b != p) {
                    x0 = x0.min(x);
                    y0 = y0.min(y);
                    x1 = x1.max(x);
                }
            }
            if x0 <= x1 {
                let (x, y) = (((x0 + x1) / 2) as i32, y0 as i32 + 8);
                self.click(x, y);
                return (x, y);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no new window appeared on the screen ({})",
                shot.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A directory under the session's one that its user owns.
    pub fn user_dir(&self, name: &str) -> PathBuf {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir).expect("create the directory");
        let status = Command::new("chown")
            .arg(format!("{0}:{0}", session_user()))
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(status.success(), "chown {}", dir.display());
        dir
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.input.lock().map(|mut i| i.take()).ok();
        let _ = Command::new(script())
            .args(["stop", &self.name])
            .stdin(Stdio::null())
            .status();
    }
}

/// The downloaded client running in a session.
#[derive(Debug)]
pub struct WlCustomer {
    /// The downloaded program (removes itself at the end).
    pub exe: PathBuf,
    pub log: ClientLog,
    /// A point on the window's title bar.
    pub title: (i32, i32),
    child: Child,
}

impl WlCustomer {
    /// Downloads the Linux client from `relay` into the session (as its
    /// user) and starts it there; the name it proposes is `user`; its
    /// stderr goes to `log` (kept after the session).
    pub async fn start(relay: &Relay, session: &Session, user: &str, log: &Path) -> WlCustomer {
        Self::start_with(relay, session, user, log, &[]).await
    }

    /// [`WlCustomer::start`] with more `KEY=VALUE` environment variables.
    pub async fn start_with(
        relay: &Relay,
        session: &Session,
        user: &str,
        log: &Path,
        env: &[&str],
    ) -> WlCustomer {
        let dir = session.user_dir("customer");
        let before = session.grab(&dir.join("before.png"));
        let exe = download(relay, "/download/linux", &dir).await;
        let status = Command::new("chown")
            .arg(format!("{0}:{0}", session_user()))
            .arg(&exe)
            .status()
            .expect("chown");
        assert!(status.success());
        let exe_arg = exe.display().to_string();
        let user_env = format!("USER={user}");
        let mut args = vec![
            "env",
            &user_env,
            "LANG=en_US.UTF-8",
            "RUST_LOG=info,lotse::app=debug,lotse::control=debug",
        ];
        args.extend_from_slice(env);
        args.push(&exe_arg);
        let child = session
            .command(&args)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("log file"))
            .spawn()
            .expect("start the client in the session");
        let log = ClientLog(log.to_owned());
        log.wait("connected to the relay", LONG);
        let title = match session.desktop {
            Desktop::Gnome => session.click_new_window(&before, &dir.join("window.png")),
            // sway focuses a new window itself (and `focus` asks it to).
            Desktop::Sway => (0, 0),
        };
        WlCustomer {
            exe,
            log,
            title,
            child,
        }
    }

    /// Once the client logged `keyboard ready: {what}` after `anchor`, press
    /// Enter in its window. The window is clicked first (on its title
    /// bar), as a person would: each of the test's input sessions through
    /// mutter takes the keyboard focus from the window when it ends.
    pub fn enter_when_ready(&self, session: &Session, anchor: &str, what: &str) {
        self.log
            .wait_after(anchor, &format!("keyboard ready: {what}"), LONG);
        self.focus(session);
        session.keys(&[KEY_ENTER]);
    }

    /// Click the title bar (sway: ask sway, as its keyboard shortcuts
    /// would) and wait until the window has the focus.
    pub fn focus(&self, session: &Session) {
        match session.desktop {
            Desktop::Gnome => session.click(self.title.0, self.title.1),
            Desktop::Sway => {
                session.run(&["swaymsg", "[app_id=\"lotse\"] focus"]);
            }
        }
        crate::wait_for("the window to have the focus", LONG, || {
            let log = self.log.read();
            let last = log.rfind("window focus changed")?;
            log[last..]
                .lines()
                .next()
                .filter(|l| l.ends_with("focused=true"))
                .map(|_| ())
        });
    }

    /// Wait for the client to end (the session's `exec` ends with it).
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        crate::wait_for("the client to exit", timeout, || {
            self.child.try_wait().expect("wait")
        })
    }
}

impl Drop for WlCustomer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long a session's dialogs and tools get.
pub const DIALOG: Duration = LONG;
