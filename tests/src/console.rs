//! The technician console as a process: `lotse-console --headless`,
//! commands on stdin, one JSON event per line on stdout.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::customer::LONG;
use crate::relay::{Relay, workspace_binary};

pub fn console_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("LOTSE_CONSOLE_BIN") {
        return PathBuf::from(p);
    }
    let path = workspace_binary("lotse-console");
    assert!(
        path.exists(),
        "{} does not exist: run `cargo build -p lotse-relay -p lotse-client -p lotse-console` first",
        path.display()
    );
    path
}

/// A `lotse-console --headless` process: commands in, JSON events out.
pub struct Console {
    child: Child,
    stdin: ChildStdin,
    events: mpsc::Receiver<Value>,
    /// Every event read so far, in order.
    pub seen: Vec<Value>,
}

impl Console {
    pub fn start(relay: &Relay) -> Self {
        Self::start_at(relay, &relay.ws)
    }

    /// A console that reaches `relay` at `url` (e.g. through a proxy).
    pub fn start_at(relay: &Relay, url: &str) -> Self {
        let mut child = Command::new(console_binary())
            .args(["--headless", "--relay", url, "--pin", &relay.pin_hex])
            .env(
                "RUST_LOG",
                std::env::var("LOTSE_E2E_CONSOLE_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start lotse-console");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, events) = mpsc::channel(4096);
        std::thread::Builder::new()
            .name("console-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let v: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                    if tx.blocking_send(v).is_err() {
                        break;
                    }
                }
            })
            .expect("thread");
        Self {
            child,
            stdin,
            events,
            seen: Vec::new(),
        }
    }

    pub fn cmd(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the console");
        self.stdin.flush().expect("flush");
    }

    /// The next event named `name`; panics with the recent events on timeout.
    pub async fn event(&mut self, name: &str) -> Value {
        self.event_where(name, |_| true).await
    }

    pub async fn event_where(&mut self, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        match self.try_event_where(name, pred, LONG).await {
            Some(v) => v,
            None => panic!("no {name} event; the console printed {}", self.recent()),
        }
    }

    /// Like [`Console::event_where`], `None` after `timeout`.
    pub async fn try_event_where(
        &mut self,
        name: &str,
        pred: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let v = match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => return None,
                Ok(Some(v)) => v,
                Ok(None) => panic!("the console exited; it printed {}", self.recent()),
            };
            self.seen.push(v.clone());
            if v["event"] == name && pred(&v) {
                return Some(v);
            }
        }
    }

    /// Read what has arrived so far without waiting.
    pub fn drain(&mut self) {
        while let Ok(v) = self.events.try_recv() {
            self.seen.push(v);
        }
    }

    /// The last events seen (for failure messages; screen events are many).
    pub fn recent(&self) -> String {
        // Every event but the (many) screen updates, then the last 10 of those.
        let others: Vec<String> = self
            .seen
            .iter()
            .filter(|v| v["event"] != "screen")
            .map(Value::to_string)
            .collect();
        let mut screens: Vec<String> = self
            .seen
            .iter()
            .rev()
            .filter(|v| v["event"] == "screen")
            .take(10)
            .map(Value::to_string)
            .collect();
        screens.reverse();
        format!(
            "{}\n… and the last screen updates:\n{}",
            others.join("\n"),
            screens.join("\n")
        )
    }

    /// Events named `name` seen at or after index `from` of [`Console::seen`].
    pub fn seen_since<'a>(&'a self, from: usize, name: &'a str) -> impl Iterator<Item = &'a Value> {
        self.seen[from.min(self.seen.len())..]
            .iter()
            .filter(move |v| v["event"] == name)
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
