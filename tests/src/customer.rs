//! The real customer client, as a customer gets it: downloaded from the
//! relay over pinned HTTPS into an empty directory, made executable, run
//! under a private X server with its own HOME and TMPDIR, and driven with
//! the keyboard (xdotool) and the window's close button.
//!
//! ```no_run
//! # async fn demo(relay: &lotse_e2e::relay::Relay, display: &lotse_e2e::display::Display) {
//! use lotse_e2e::customer::{Customer, CustomerOptions};
//! let mut c = Customer::start(relay, display, CustomerOptions::default()).await;
//! c.join("Erika");
//! c.close();
//! assert!(c.wait_exit(std::time::Duration::from_secs(60)).success());
//! # }
//! ```

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::display::{Display, Screen};
use crate::relay::Relay;

/// How long the client gets to show its window, connect, react.
pub const LONG: Duration = Duration::from_secs(60);

/// How the client is started.
#[derive(Debug, Clone)]
pub struct CustomerOptions {
    /// The login name the client proposes as the customer's name.
    pub user: String,
    /// `LANG` of the client process.
    pub lang: String,
    /// `RUST_LOG` of the client process.
    pub log: String,
    /// The relay path to download from (`/download/linux?key=…` for an
    /// elevated web chat).
    pub download: String,
    /// Arguments after the program name (e.g. a `lotse://` link).
    pub args: Vec<String>,
    /// More environment variables (`LOTSE_DEBUG_SEND_FILE`, ALSA, …).
    pub env: Vec<(String, String)>,
    /// Run the Windows download (`/download/windows`, `lotse.exe`) under
    /// Wine with this prefix instead of the Linux one; the program is
    /// saved on the prefix's drive C:.
    pub wine: Option<PathBuf>,
}

impl Default for CustomerOptions {
    fn default() -> Self {
        Self {
            user: "Erika".into(),
            lang: "en_US.UTF-8".into(),
            log: "info".into(),
            download: "/download/linux".into(),
            args: Vec::new(),
            env: Vec::new(),
            wine: None,
        }
    }
}

/// Directories the client may write to, all empty at the start.
#[derive(Debug)]
pub struct Sandbox {
    root: tempfile::TempDir,
    /// Where the program was downloaded to (its working directory).
    pub downloads: PathBuf,
    /// `HOME` of the client.
    pub home: PathBuf,
    /// `TMPDIR` of the client.
    pub tmp: PathBuf,
    log: PathBuf,
}

impl Sandbox {
    pub fn new() -> Self {
        Self::with_root(tempfile::tempdir().expect("temp dir"))
    }

    /// The directories under a new folder in `parent` (a Wine drive).
    pub fn new_in(parent: &Path) -> Self {
        Self::with_root(
            tempfile::Builder::new()
                .prefix("lotse-e2e-")
                .tempdir_in(parent)
                .expect("temp dir"),
        )
    }

    fn with_root(root: tempfile::TempDir) -> Self {
        let make = |name: &str| {
            let p = root.path().join(name);
            std::fs::create_dir(&p).expect("mkdir");
            p
        };
        Self {
            downloads: make("Downloads"),
            home: make("home"),
            tmp: make("tmp"),
            log: root.path().join("client.stderr"),
            root,
        }
    }

    /// A scratch directory outside the client's own ones.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The names in `dir` (empty if it is gone).
    pub fn entries(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

/// `GET path` (a download) over pinned HTTPS, saved as `dir/lotse`
/// (`dir/lotse.exe` for `/download/windows`), chmod +x.
pub async fn download(relay: &Relay, path: &str, dir: &Path) -> PathBuf {
    let name = if path.starts_with("/download/windows") {
        "lotse.exe"
    } else {
        "lotse"
    };
    let (status, head, body) = relay.http_get(path).await;
    assert_eq!(status, 200, "download of {path} failed: {head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("filename=\"{name}\"")),
        "{head}"
    );
    let exe = dir.join(name);
    std::fs::write(&exe, &body).expect("save the download");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod +x");
    exe
}

/// A client's log file (its stderr), read as it grows.
#[derive(Debug, Clone)]
pub struct ClientLog(pub PathBuf);

impl ClientLog {
    /// Everything so far.
    pub fn read(&self) -> String {
        std::fs::read_to_string(&self.0).unwrap_or_default()
    }

    /// Wait until the log contains `text`.
    pub fn wait(&self, text: &str, timeout: Duration) {
        assert!(
            self.try_wait(text, timeout),
            "the client never logged {text:?}; log:\n{}",
            self.read()
        );
    }

    /// Whether the log comes to contain `text` within `timeout`.
    pub fn try_wait(&self, text: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.read().contains(text) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Where the log ends now, for [`ClientLog::wait_since`].
    pub fn mark(&self) -> usize {
        self.read().len()
    }

    /// Wait until the log shows `text` after `mark` (what it logs next,
    /// not what it logged for an earlier, same step).
    pub fn wait_since(&self, mark: usize, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.read();
            if log.get(mark..).is_some_and(|new| new.contains(text)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the client never logged {text:?} after byte {mark}; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until the log shows `text` after the last line containing
    /// `anchor`.
    pub fn wait_after(&self, anchor: &str, text: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.read();
            if let Some(at) = log.rfind(anchor)
                && log[at..].contains(text)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the client never logged {text:?} after {anchor:?}; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A running customer client.
#[derive(Debug)]
pub struct Customer {
    pub sandbox: Sandbox,
    /// The downloaded program.
    pub exe: PathBuf,
    child: Child,
    screen: Screen,
    window: Option<String>,
    /// Under Wine (its prefix): the window is found by its class, as the
    /// program runs in a process of its own.
    wine: Option<PathBuf>,
}

impl Customer {
    /// Download the client from `relay` and start it on `display`.
    pub async fn start(relay: &Relay, display: &Display, opts: CustomerOptions) -> Self {
        let sandbox = match &opts.wine {
            Some(prefix) => Sandbox::new_in(&prefix.join("drive_c")),
            None => Sandbox::new(),
        };
        let exe = download(relay, &opts.download, &sandbox.downloads).await;
        Self::run(sandbox, exe, display, &opts)
    }

    /// Start the program `exe` (already in `sandbox.downloads` or anywhere).
    pub fn run(sandbox: Sandbox, exe: PathBuf, display: &Display, opts: &CustomerOptions) -> Self {
        let mut cmd = match &opts.wine {
            // HOME and TMPDIR stay: Wine finds its server (one per prefix)
            // under TMPDIR, and a program with another one would run on
            // a desktop of its own; its Windows folders are in the prefix.
            Some(prefix) => {
                let mut cmd = Command::new("wine");
                cmd.arg(&exe)
                    .env("WINEPREFIX", prefix)
                    .env("WINEDEBUG", "-all")
                    .env("WINEDLLOVERRIDES", "mscoree,mshtml=");
                cmd
            }
            None => {
                let mut cmd = Command::new(&exe);
                cmd.env("HOME", &sandbox.home).env("TMPDIR", &sandbox.tmp);
                cmd
            }
        };
        display.apply(&mut cmd);
        cmd.args(&opts.args)
            .current_dir(&sandbox.downloads)
            .env("USER", &opts.user)
            .env("LANG", &opts.lang)
            .env(
                "RUST_LOG",
                // A debugging aid: more of the client's log, e.g. winit=trace.
                std::env::var("LOTSE_E2E_CLIENT_LOG").unwrap_or_else(|_| opts.log.clone()),
            )
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&sandbox.log).expect("log file"));
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start the downloaded client");
        Self {
            sandbox,
            exe,
            child,
            screen: (**display).clone(),
            window: None,
            wine: opts.wine.clone(),
        }
    }

    /// The display the client runs on.
    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// The client's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The client's stderr so far.
    pub fn log(&self) -> String {
        self.log_file().read()
    }

    /// The client's stderr, to wait on.
    pub fn log_file(&self) -> ClientLog {
        ClientLog(self.sandbox.log.clone())
    }

    /// Wait until the client's log contains `text`.
    pub fn wait_log(&self, text: &str, timeout: Duration) {
        self.log_file().wait(text, timeout);
    }

    /// Whether the client's log comes to contain `text` within `timeout`.
    pub fn try_wait_log(&self, text: &str, timeout: Duration) -> bool {
        self.log_file().try_wait(text, timeout)
    }

    /// The client's main window (X window id), waiting for it to appear.
    pub fn window(&mut self) -> String {
        if let Some(w) = &self.window {
            return w.clone();
        }
        let found = match &self.wine {
            Some(_) => self.screen.wait_for_class("^lotse\\.exe$", LONG),
            None => self.screen.wait_for_window(self.child.id(), LONG),
        };
        let w = found
            .unwrap_or_else(|e| {
                panic!(
                    "the client window never appeared ({e}); log:\n{}",
                    self.log()
                )
            })
            .remove(0);
        self.window = Some(w.clone());
        w
    }

    /// Run xdotool on the client's display; panics if it fails.
    pub fn xdotool(&self, args: &[&str]) {
        let status = self
            .screen
            .command("xdotool")
            .args(args)
            .status()
            .expect("xdotool");
        assert!(status.success(), "xdotool {args:?} failed");
    }

    /// Give the client window the keyboard focus, as a click on it would.
    /// Under Wine the display has no window manager: Wine makes the window
    /// that gets the X focus the active one (`UseTakeFocus` = N, set by
    /// scripts/windows.sh), as a click on it would on Windows. Another
    /// program Wine made active may have left the X focus here: it goes
    /// to the root window first, so the window sees it come in.
    pub fn focus(&mut self) {
        let w = self.window();
        if self.wine.is_some() {
            let root = self.screen.root_window().expect("the root window");
            self.xdotool(&["windowfocus", &root]);
            self.xdotool(&["windowfocus", &w]);
        } else {
            self.xdotool(&["windowactivate", "--sync", &w]);
            self.xdotool(&["windowfocus", "--sync", &w]);
        }
    }

    /// Press keys (xdotool key names, space separated) in the client window.
    pub fn type_keys(&mut self, keys: &str) {
        self.focus();
        let mut args = vec!["key", "--delay", "30"];
        args.extend(keys.split_whitespace());
        self.xdotool(&args);
    }

    /// Type `text` into the client window.
    pub fn type_text(&mut self, text: &str) {
        self.focus();
        self.xdotool(&["type", "--delay", "20", text]);
    }

    /// Enter `name` (replacing the proposed one) and press Enter, once the
    /// name field has the keyboard focus in the focused window (the client
    /// logs `keyboard ready: name`), and wait until the client asks to join.
    pub fn join(&mut self, name: &str) {
        self.wait_log("connected to the relay", LONG);
        self.focus();
        self.wait_log("keyboard ready: name", LONG);
        self.type_keys("ctrl+a");
        self.type_text(name);
        self.type_keys("Return");
        self.wait_log("asking to join the queue", LONG);
    }

    /// Wait until the log shows `text` after the last line containing
    /// `anchor` (e.g. the prompt's focus after `Asked(Control)`).
    pub fn wait_log_after(&self, anchor: &str, text: &str, timeout: Duration) {
        self.log_file().wait_after(anchor, text, timeout);
    }

    /// Focus the window (as a customer's click would) and wait until the
    /// client logged `keyboard ready: {what}` after the last `anchor`:
    /// keys typed from then on reach that control.
    pub fn wait_ready(&mut self, anchor: &str, what: &str) {
        self.focus();
        self.wait_log_after(anchor, &format!("keyboard ready: {what}"), LONG);
    }

    /// Close the window like a user (`WM_DELETE_WINDOW`).
    pub fn close(&mut self) {
        let w = self.window();
        self.screen.close_window(&w).expect("close the window");
    }

    /// Wait for the process to end; kills it and panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(status) = self.try_wait_exit(timeout) {
            return status;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!(
            "the client did not exit within {timeout:?}; log:\n{}",
            self.log()
        );
    }

    /// The exit status once the process ends, or `None` if it still runs
    /// after `timeout` (it is left running).
    pub fn try_wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Customer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
