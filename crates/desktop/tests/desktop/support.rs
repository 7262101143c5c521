//! Test helpers: a private Xvfb per test, a window manager or compositor on
//! demand, plain coloured X windows, and polling with timeouts.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lotse_desktop::{Capture, Frame};
use lotse_protocol::InputEvent;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ChangeWindowAttributesAux, ConfigureWindowAux, ConnectionExt as _, CreateWindowAux,
    PropMode, StackMode, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

/// The tests share the process environment (`DISPLAY`, `HOME`): one at a time.
static DISPLAY_LOCK: Mutex<()> = Mutex::new(());

/// Holds the process environment for one test.
pub fn env_lock() -> MutexGuard<'static, ()> {
    DISPLAY_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Polls `f` until it returns `Some`, panicking with `what` after TIMEOUT.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + TIMEOUT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A child process killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private X server; `DISPLAY` points at it while this lives.
pub struct Xvfb {
    pub display: String,
    pub conn: RustConnection,
    pub root: Window,
    pub extra: Vec<Proc>,
    pub tmp: tempfile::TempDir,
    server: Proc,
    _stdout: ChildStdout,
    _lock: MutexGuard<'static, ()>,
}

impl Xvfb {
    pub fn start(width: u32, height: u32) -> Xvfb {
        Self::start_with(width, height, &[])
    }

    pub fn start_with(width: u32, height: u32, args: &[&str]) -> Xvfb {
        let lock = env_lock();
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-noreset",
                "-nolisten",
                "tcp",
                "-screen",
                "0",
            ])
            .arg(format!("{width}x{height}x24"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb runs");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .expect("Xvfb prints its display");
        let display = format!(":{}", line.trim());
        assert!(display.len() > 1, "Xvfb gave no display number");
        // SAFETY (edition 2024 `set_var`): the lock above keeps other tests
        // of this process out while the environment changes.
        unsafe { std::env::set_var("DISPLAY", &display) };
        let (conn, screen) = x11rb::connect(Some(&display)).expect("connect");
        let root = conn.setup().roots[screen].root;
        let tmp = tempfile::tempdir().expect("tmp dir");
        Xvfb {
            display,
            conn,
            root,
            extra: Vec::new(),
            tmp,
            server: Proc(child),
            _stdout: reader.into_inner(),
            _lock: lock,
        }
    }

    /// Runs `openbox` and waits until it manages the screen.
    pub fn with_openbox(self) -> Self {
        self.with_openbox_args(&[])
    }

    /// Runs `openbox` with `rc_xml` as its configuration (`--config-file`).
    pub fn with_openbox_config(self, rc_xml: &str) -> Self {
        let path = self.path("rc.xml");
        std::fs::write(&path, rc_xml).expect("write rc.xml");
        let path = path.to_str().expect("UTF-8 temp path").to_owned();
        self.with_openbox_args(&["--config-file", &path])
    }

    fn with_openbox_args(mut self, args: &[&str]) -> Self {
        let net_check = self.atom("_NET_SUPPORTING_WM_CHECK");
        let child = Command::new("openbox")
            .args(args)
            .env("DISPLAY", &self.display)
            .env("HOME", self.tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openbox runs");
        self.extra.push(Proc(child));
        wait_for("openbox", || {
            let r = self
                .conn
                .get_property(false, self.root, net_check, AtomEnum::WINDOW, 0, 1)
                .ok()?
                .reply()
                .ok()?;
            (r.value_len > 0).then_some(())
        });
        // Openbox announces itself a moment before it manages new windows:
        // map a probe window until it shows up in the client list.
        let list = self.atom("_NET_CLIENT_LIST");
        let probe = self.window("Probe", 0, 0, 10, 10, 0);
        let mut tries = 0u32;
        wait_for("openbox to manage windows", || {
            let r = self
                .conn
                .get_property(false, self.root, list, AtomEnum::WINDOW, 0, 64)
                .ok()?
                .reply()
                .ok()?;
            if r.value32().is_some_and(|mut v| v.any(|w| w == probe)) {
                return Some(());
            }
            tries += 1;
            if tries.is_multiple_of(40) {
                let _ = self.conn.unmap_window(probe);
                let _ = self.conn.map_window(probe);
                self.sync();
            }
            None
        });
        self.conn.destroy_window(probe).expect("destroy probe");
        self.sync();
        self
    }

    /// Runs `xcompmgr` and waits until it owns `_NET_WM_CM_S0`.
    pub fn with_compositor(mut self) -> Self {
        let cm = self.atom("_NET_WM_CM_S0");
        let child = Command::new("xcompmgr")
            .env("DISPLAY", &self.display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xcompmgr runs");
        self.extra.push(Proc(child));
        wait_for("xcompmgr", || {
            let o = self.conn.get_selection_owner(cm).ok()?.reply().ok()?.owner;
            (o != x11rb::NONE).then_some(())
        });
        self
    }

    pub fn atom(&self, name: &str) -> u32 {
        self.conn
            .intern_atom(false, name.as_bytes())
            .expect("intern")
            .reply()
            .expect("atom")
            .atom
    }

    /// Paints the root window one colour (0xRRGGBB).
    pub fn set_root_colour(&self, rgb: u32) {
        self.conn
            .change_window_attributes(
                self.root,
                &ChangeWindowAttributesAux::new().background_pixel(rgb),
            )
            .expect("root bg");
        self.conn
            .clear_area(false, self.root, 0, 0, 0, 0)
            .expect("clear");
        self.sync();
    }

    /// A round trip: everything sent so far has been processed.
    pub fn sync(&self) {
        self.conn
            .get_input_focus()
            .expect("sync")
            .reply()
            .expect("sync");
    }

    /// Maps a plain window of one colour with the given WM_CLASS.
    pub fn window(&self, class: &str, x: i16, y: i16, w: u16, h: u16, rgb: u32) -> Window {
        let id = self.conn.generate_id().expect("id");
        self.conn
            .create_window(
                x11rb::COPY_DEPTH_FROM_PARENT,
                id,
                self.root,
                x,
                y,
                w,
                h,
                0,
                WindowClass::INPUT_OUTPUT,
                x11rb::COPY_FROM_PARENT,
                &CreateWindowAux::new().background_pixel(rgb),
            )
            .expect("create window");
        let wm_class = format!("{}\0{class}\0", class.to_lowercase());
        self.conn
            .change_property8(
                PropMode::REPLACE,
                id,
                AtomEnum::WM_CLASS,
                AtomEnum::STRING,
                wm_class.as_bytes(),
            )
            .expect("class");
        self.conn
            .change_property8(
                PropMode::REPLACE,
                id,
                AtomEnum::WM_NAME,
                AtomEnum::STRING,
                class.as_bytes(),
            )
            .expect("name");
        // Ask a window manager (if any) to keep our position: WM_NORMAL_HINTS
        // with USPosition | USSize.
        let mut hints = [0u32; 18];
        hints[0] = 1 | 2;
        self.conn
            .change_property32(
                PropMode::REPLACE,
                id,
                AtomEnum::WM_NORMAL_HINTS,
                AtomEnum::WM_SIZE_HINTS,
                &hints,
            )
            .expect("hints");
        self.conn.map_window(id).expect("map");
        self.sync();
        id
    }

    pub fn move_window(&self, w: Window, x: i32, y: i32) {
        self.conn
            .configure_window(w, &ConfigureWindowAux::new().x(x).y(y))
            .expect("move");
        self.sync();
    }

    pub fn raise(&self, w: Window) {
        self.conn
            .configure_window(w, &ConfigureWindowAux::new().stack_mode(StackMode::ABOVE))
            .expect("raise");
        self.sync();
    }

    /// A file name in this test's private directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        self.extra.clear(); // helpers go first
        let _ = self.server.0.kill();
    }
}

/// An xterm that writes what is typed into `file` (one line at a time).
pub fn xterm_cat(x: &Xvfb, file: &std::path::Path) -> Proc {
    let child = Command::new("xterm")
        .env("DISPLAY", &x.display)
        .env("LC_ALL", "C.UTF-8")
        .args(["-u8", "-geometry", "60x10+0+0", "-e", "sh", "-c"])
        .arg(format!("stty -echo; cat > '{}'", file.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("xterm runs");
    Proc(child)
}

/// A key event (`down` or up) for key name `k`.
pub fn key(k: &str, down: bool) -> InputEvent {
    InputEvent::Key {
        key: k.into(),
        down,
    }
}

/// Takes frames until `pred` holds for one; every frame is also passed to
/// `each` (e.g. to check that a colour never appears).
pub fn frame_where(
    cap: &Capture,
    what: &str,
    mut each: impl FnMut(&Frame),
    mut pred: impl FnMut(&Frame) -> bool,
) -> Frame {
    let end = Instant::now() + TIMEOUT;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "timed out waiting for a frame where {what}"
        );
        if let Some(f) = cap.recv_timeout(left).expect("capture runs") {
            each(&f);
            if pred(&f) {
                return f;
            }
        }
    }
}

/// The colour of a frame pixel as 0xRRGGBB.
pub fn px(f: &Frame, x: u32, y: u32) -> u32 {
    let (r, g, b) = f.rgb(x, y).expect("pixel inside the frame");
    u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b)
}

/// Whether any pixel of the frame has this colour.
pub fn has_colour(f: &Frame, rgb: u32) -> bool {
    (0..f.height).any(|y| (0..f.width).any(|x| px(f, x, y) == rgb))
}
