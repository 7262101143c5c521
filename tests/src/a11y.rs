//! The accessibility tree as a screen reader sees it: a private D-Bus
//! session with the AT-SPI bus (at-spi2-core) switched on, and
//! `tests/a11y/walk.py` (pyatspi) to read a program's tree and to press
//! its controls through AT-SPI actions.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::customer::LONG;

/// One node of the tree.
#[derive(Debug, Clone)]
pub struct Node {
    pub depth: u32,
    pub role: String,
    pub name: String,
    pub states: Vec<String>,
    pub actions: Vec<String>,
    pub attributes: serde_json::Map<String, Value>,
}

impl Node {
    /// A control a user operates (and a screen reader must name).
    pub fn is_control(&self) -> bool {
        matches!(
            self.role.as_str(),
            "push button"
                | "toggle button"
                | "check box"
                | "radio button"
                | "entry"
                | "text"
                | "password text"
                | "combo box"
                | "slider"
                | "spin button"
                | "link"
        )
    }
}

/// A D-Bus session whose AT-SPI bus is on; dropped, both end.
pub struct A11yBus {
    pub address: String,
    daemon: Child,
    launcher: Child,
}

impl A11yBus {
    pub fn start() -> A11yBus {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().expect("stdout"))
            .read_line(&mut address)
            .expect("the bus address");
        let address = address.trim().to_owned();
        assert!(!address.is_empty(), "dbus-daemon printed no address");
        let launcher = Command::new("/usr/libexec/at-spi-bus-launcher")
            .arg("--launch-immediately")
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start at-spi-bus-launcher");
        let bus = A11yBus {
            address,
            daemon,
            launcher,
        };
        crate::wait_for("the AT-SPI bus", LONG, || {
            bus.dbus_send(&["/org/a11y/bus", "org.a11y.Bus.GetAddress"])
                .then_some(())
        });
        // What a screen reader does when it starts: programs see it and
        // publish their tree.
        assert!(
            bus.dbus_send(&[
                "/org/a11y/bus",
                "org.freedesktop.DBus.Properties.Set",
                "string:org.a11y.Status",
                "string:IsEnabled",
                "variant:boolean:true",
            ]),
            "switching the AT-SPI bus on"
        );
        bus
    }

    fn dbus_send(&self, args: &[&str]) -> bool {
        Command::new("dbus-send")
            .args(["--session", "--print-reply", "--dest=org.a11y.Bus"])
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn walk(&self, args: &[&str]) -> std::process::Output {
        Command::new("/usr/bin/python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/a11y/walk.py"))
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdin(Stdio::null())
            .output()
            .expect("run tests/a11y/walk.py")
    }

    /// The tree of the program with process id `pid` (`None` while it has
    /// not published one).
    pub fn tree(&self, pid: u32) -> Option<Vec<Node>> {
        let out = self.walk(&["tree", &pid.to_string()]);
        if !out.status.success() {
            return None;
        }
        let nodes = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|line| {
                let v: Value = serde_json::from_str(line).expect("walk.py prints JSON");
                let strings = |key: &str| -> Vec<String> {
                    v[key]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|s| s.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                Node {
                    depth: v["depth"].as_u64().unwrap_or(0) as u32,
                    role: v["role"].as_str().unwrap_or_default().to_owned(),
                    name: v["name"].as_str().unwrap_or_default().to_owned(),
                    states: strings("states"),
                    actions: strings("actions"),
                    attributes: v["attributes"].as_object().cloned().unwrap_or_default(),
                }
            })
            .collect();
        Some(nodes)
    }

    /// Waits until the tree has a node of `role` whose name contains
    /// `name`; the tree then.
    pub fn wait_for(&self, pid: u32, role: &str, name: &str) -> Vec<Node> {
        crate::wait_for(
            &format!("a {role} named {name:?} in the accessibility tree"),
            LONG,
            || {
                let tree = self.tree(pid)?;
                tree.iter()
                    .any(|n| n.role == role && n.name.contains(name))
                    .then_some(tree)
            },
        )
    }

    /// Operates the control (`role`, exactly `name`) through AT-SPI, as a
    /// screen reader user does.
    pub fn press(&self, pid: u32, role: &str, name: &str) {
        let out = self.walk(&["do", &pid.to_string(), role, name]);
        assert!(
            out.status.success(),
            "pressing the {role} {name:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// What the program announces (`walk.py listen`), as a screen reader
/// hears it.
pub struct Announcements {
    child: Child,
    heard: std::sync::mpsc::Receiver<Value>,
}

impl Announcements {
    /// Listens to the program with process id `pid` from now on.
    pub fn start(bus: &A11yBus, pid: u32) -> Announcements {
        let mut child = Command::new("/usr/bin/python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/a11y/walk.py"))
            .args(["listen", &pid.to_string()])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run tests/a11y/walk.py listen");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        assert_eq!(first, "listening", "walk.py listen");
        let (tx, heard) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("a11y-listen".into())
            .spawn(move || {
                for line in lines.map_while(Result::ok) {
                    let v: Value = serde_json::from_str(&line).expect("walk.py prints JSON");
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            })
            .expect("start the listener's reader");
        Announcements { child, heard }
    }

    /// Waits for an announcement containing `text`.
    pub fn wait(&mut self, text: &str) -> Value {
        let deadline = std::time::Instant::now() + LONG;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.heard.recv_timeout(left) {
                Ok(v) if v["text"].as_str().is_some_and(|t| t.contains(text)) => return v,
                Ok(_) => {}
                Err(_) => panic!("the program never announced {text:?}"),
            }
        }
    }
}

impl Drop for Announcements {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for A11yBus {
    fn drop(&mut self) {
        let _ = self.launcher.kill();
        let _ = self.launcher.wait();
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
