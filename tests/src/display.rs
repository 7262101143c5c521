//! A private X server for window tests: Xvfb on a free display (it picks
//! one itself through `-displayfd`), `-noreset` so it survives its last
//! client, optionally openbox as window manager (needed for focus, typing
//! and closing windows like a user). Everything is killed on drop.
//!
//! ```no_run
//! let display = lotse_e2e::display::Display::start().expect("Xvfb");
//! let mut cmd = std::process::Command::new("xterm");
//! display.apply(&mut cmd); // sets DISPLAY
//! ```

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's Python, which has python3-xlib (a `python3` earlier on PATH,
/// e.g. from pyenv, may not).
const PYTHON: &str = "/usr/bin/python3";

/// How long Xvfb and openbox get to come up.
const START_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug)]
pub struct Display {
    screen: Screen,
    xvfb: Child,
    wm: Option<Child>,
}

/// What runs on a display, by its name: commands, windows, screenshots.
/// [`Display`] derefs to it; a `Screen` can be cloned and kept apart from
/// the server's lifetime.
#[derive(Debug, Clone)]
pub struct Screen {
    /// `:N`
    name: String,
}

impl std::ops::Deref for Display {
    type Target = Screen;
    fn deref(&self) -> &Screen {
        &self.screen
    }
}

impl Display {
    /// Xvfb 1280×800×24 with openbox running.
    pub fn start() -> std::io::Result<Self> {
        let mut display = Self::start_bare()?;
        display.start_openbox(None)?;
        Ok(display)
    }

    /// Like [`Display::start`], openbox reading its configuration from
    /// the file `rc_xml` (e.g. with key bindings a test needs).
    pub fn start_with_openbox_config(rc_xml: &Path) -> std::io::Result<Self> {
        let mut display = Self::start_bare()?;
        display.start_openbox(Some(rc_xml))?;
        Ok(display)
    }

    /// Xvfb without a window manager.
    pub fn start_bare() -> std::io::Result<Self> {
        let mut xvfb = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-noreset",
                "-nolisten",
                "tcp",
                "-screen",
                "0",
                "1280x800x24",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = xvfb.stdout.take().ok_or_else(|| other("no Xvfb stdout"))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("xvfb-displayfd".into())
            .spawn(move || {
                let mut line = String::new();
                let _ = BufReader::new(stdout).read_line(&mut line);
                let _ = tx.send(line);
            })?;
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let _ = xvfb.kill();
                let _ = xvfb.wait();
                return Err(other("Xvfb did not report a display number"));
            }
        };
        let number: u32 = match line.trim().parse() {
            Ok(n) => n,
            Err(_) => {
                let _ = xvfb.kill();
                let _ = xvfb.wait();
                return Err(other(&format!("Xvfb said {line:?}, not a display number")));
            }
        };
        Ok(Self {
            screen: Screen {
                name: format!(":{number}"),
            },
            xvfb,
            wm: None,
        })
    }

    fn start_openbox(&mut self, rc_xml: Option<&Path>) -> std::io::Result<()> {
        let mut cmd = Command::new("openbox");
        if let Some(rc) = rc_xml {
            cmd.arg("--config-file").arg(rc);
        }
        cmd.arg("--sm-disable")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.apply(&mut cmd);
        self.wm = Some(cmd.spawn()?);
        // Ready once it announces itself on the root window.
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            let out = self
                .command("xprop")
                .args(["-root", "_NET_SUPPORTING_WM_CHECK"])
                .output()?;
            if String::from_utf8_lossy(&out.stdout).contains("window id") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(other("openbox did not start"))
    }
}

impl Screen {
    /// `:N`, the value for `DISPLAY`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Point `cmd` at this display.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env("DISPLAY", &self.name).env_remove("WAYLAND_DISPLAY");
    }

    /// A command that runs on this display.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        self.apply(&mut cmd);
        cmd
    }

    /// Save a PNG of the whole screen (ImageMagick `import`).
    pub fn screenshot(&self, path: &Path) -> std::io::Result<()> {
        let status = self
            .command("import")
            .args(["-window", "root"])
            .arg(path)
            .stderr(Stdio::null())
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(other("import failed"))
        }
    }

    /// Windows (ids) owned by process `pid`, waiting up to `timeout` for
    /// at least one that is mapped.
    pub fn wait_for_window(&self, pid: u32, timeout: Duration) -> std::io::Result<Vec<String>> {
        self.wait_for_search(&["--pid", &pid.to_string(), "--name", ""], timeout)
    }

    /// Mapped windows whose WM_CLASS instance matches `regex` (a Windows
    /// program under Wine: `lotse.exe`), waiting up to `timeout`.
    pub fn wait_for_class(&self, regex: &str, timeout: Duration) -> std::io::Result<Vec<String>> {
        self.wait_for_search(&["--classname", regex], timeout)
    }

    /// `xdotool search --all --onlyvisible {criteria}` until it finds a
    /// window (`criteria` ends with the pattern: `--name ""`).
    fn wait_for_search(
        &self,
        criteria: &[&str],
        timeout: Duration,
    ) -> std::io::Result<Vec<String>> {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self
                .command("xdotool")
                .args(["search", "--all", "--onlyvisible"])
                .args(criteria)
                .output()?;
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            if !ids.is_empty() {
                return Ok(ids);
            }
            if Instant::now() >= deadline {
                return Err(other("no window appeared"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The root window's id (`0x…`).
    pub fn root_window(&self) -> std::io::Result<String> {
        let out = self.command("xwininfo").arg("-root").output()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.split_once("Window id: ").map(|(_, rest)| rest))
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
            .ok_or_else(|| other("xwininfo -root names no window"))
    }

    /// The title of window `id`.
    pub fn window_name(&self, id: &str) -> std::io::Result<String> {
        let out = self
            .command("xdotool")
            .args(["getwindowname", id])
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Ask window `id` to close, as the title bar's close button does
    /// (`WM_DELETE_WINDOW` client message, sent with python3-xlib).
    ///
    /// The sender waits for a round trip (`sync()`) before it hangs up:
    /// Xvfb handles a hang-up it sees before it has read the request as
    /// an error and closes the connection without reading it (xserver's
    /// `ospoll.c`: HUP → `CloseDownClient`), so a request only flushed
    /// and then followed by `close()` is often never delivered on a
    /// loaded machine (the "frozen window"; see docs/RELIABILITY.md).
    pub fn close_window(&self, id: &str) -> std::io::Result<()> {
        self.send_close(id, CloseSend::RoundTrip)
    }

    /// The old, defective close: flush and hang up at once, without a
    /// round trip. Only for `scripts/stress-windows.sh --unsynced`, which
    /// shows what it costs; never use it in a test.
    pub fn close_window_unsynced(&self, id: &str) -> std::io::Result<()> {
        self.send_close(id, CloseSend::FlushOnly)
    }

    fn send_close(&self, id: &str, how: CloseSend) -> std::io::Result<()> {
        // argv[2]: "sync" waits for the server's reply before closing.
        const SCRIPT: &str = r#"
import sys
from Xlib import display, X
from Xlib.protocol import event
d = display.Display()
w = d.create_resource_object('window', int(sys.argv[1], 0))
proto = d.intern_atom('WM_PROTOCOLS')
delete = d.intern_atom('WM_DELETE_WINDOW')
ev = event.ClientMessage(window=w, client_type=proto, data=(32, [delete, X.CurrentTime, 0, 0, 0]))
w.send_event(ev, event_mask=X.NoEventMask)
if sys.argv[2] == 'sync':
    d.sync()
else:
    d.flush()
d.close()
"#;
        let mode = match how {
            CloseSend::RoundTrip => "sync",
            CloseSend::FlushOnly => "flush",
        };
        let status = self
            .command(PYTHON)
            .args(["-c", SCRIPT, id, mode])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(other("sending WM_DELETE_WINDOW failed"))
        }
    }
}

/// How [`Screen::send_close`] hangs up after sending.
#[derive(Debug, Clone, Copy)]
enum CloseSend {
    /// A round trip first: the server has read the request.
    RoundTrip,
    /// Flush and close at once (the old defect).
    FlushOnly,
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(wm) = &mut self.wm {
            let _ = wm.kill();
            let _ = wm.wait();
        }
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}

fn other(text: &str) -> std::io::Error {
    std::io::Error::other(text.to_owned())
}
