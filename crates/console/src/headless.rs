//! `lotse-console --headless`: the same core and network task as the
//! window, driven by commands on stdin (one per line) and reporting every
//! event as one JSON object per line on stdout. See the crate README for
//! the command list.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lotse_link::Pin;
use lotse_protocol::{InputEvent, MouseButton, NoticeInfo, QueueEntry};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::Instant;

use crate::core::{Command, Event, NoticeChoice};
use crate::net::{self, EngineHandle, Request, Update};

/// How long a waiting command waits unless told otherwise.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// Options from the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub relay: Option<String>,
    /// Hex SHA-256 of the relay certificate; `None` = trust on first use.
    pub pin: Option<String>,
}

/// What a blocking command waits for.
#[derive(Debug, Clone, PartialEq)]
enum Until {
    /// Logged in and the work link is up.
    Connected,
    /// A waiting customer (with this name, if given) in the queue.
    Customer(Option<String>),
    /// The session the technician accepted has started.
    Started(u64),
    /// The next event with this name.
    EventNamed(String),
    /// A file offer in the current session, then accept it into this folder.
    OfferThenAccept(PathBuf),
    /// A file offer in the current session, then decline it.
    OfferThenDecline,
    /// The network task has logged out (quit).
    LoggedOut,
}

struct Wait {
    until: Until,
    deadline: Instant,
    /// Whether an error event ends the wait.
    error_ends: bool,
}

#[derive(Default)]
struct State {
    queue: Vec<QueueEntry>,
    notices: Vec<NoticeInfo>,
    current: Option<u64>,
    /// Unanswered file offers per session (oldest first).
    offers: BTreeMap<u64, Vec<u32>>,
    quitting: bool,
}

fn print(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

fn print_event(event: &Event) {
    match serde_json::to_value(event) {
        Ok(v) => print(&v),
        Err(e) => print(&json!({"event": "error", "code": "internal", "message": e.to_string()})),
    }
}

fn usage_error(message: impl Into<String>) {
    print_event(&Event::error(None, "bad_command", message));
}

/// Run until `quit` or the end of stdin.
pub async fn run(options: Options) -> anyhow::Result<()> {
    let (engine, mut updates) =
        net::spawn(&tokio::runtime::Handle::current(), false, Arc::new(|| {}));
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut state = State::default();
    let mut wait: Option<Wait> = None;
    let mut stdin_open = true;

    loop {
        let deadline = wait.as_ref().map(|w| w.deadline);
        tokio::select! {
            line = lines.next_line(), if wait.is_none() && stdin_open => {
                match line {
                    Ok(Some(line)) => {
                        wait = command(&line, &options, &engine, &mut state).await;
                    }
                    Ok(None) | Err(_) => {
                        stdin_open = false;
                        wait = quit(&engine, &mut state).await;
                    }
                }
            }
            update = updates.recv() => {
                let Some(update) = update else { break };
                let Update::Event(event) = update else { continue };
                print_event(&event);
                observe(&mut state, &event);
                if wait.as_ref().is_some_and(|w| satisfied(w, &event, &mut state)) {
                    wait = None;
                }
            }
            () = sleep_until(deadline) => {
                if let Some(w) = wait.take() {
                    if w.until == Until::LoggedOut {
                        break;
                    }
                    print_event(&Event::error(
                        state.current,
                        "timeout",
                        format!("gave up waiting for {:?}", w.until),
                    ));
                }
            }
        }
        if state.quitting && wait.is_none() {
            break;
        }
        // A wait that is already true (customer already queued…) ends now.
        if let Some(w) = &wait
            && already_true(&w.until, &state)
        {
            match w.until.clone() {
                Until::Customer(name) => {
                    announce_customer(&state, name.as_deref());
                    wait = None;
                }
                Until::OfferThenAccept(dir) => {
                    wait = None;
                    accept_offer(&engine, &mut state, dir).await;
                }
                Until::OfferThenDecline => {
                    wait = None;
                    decline_offer(&engine, &mut state).await;
                }
                _ => wait = None,
            }
        }
    }
    Ok(())
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn observe(state: &mut State, event: &Event) {
    match event {
        Event::Queue {
            entries, notices, ..
        } => {
            state.queue.clone_from(entries);
            state.notices.clone_from(notices);
        }
        Event::SessionStarted { session, .. } if state.current.is_none() => {
            state.current = Some(*session);
        }
        Event::FileOffer { session, id, .. } => {
            state.offers.entry(*session).or_default().push(*id);
        }
        Event::FileCancelled { session, id, .. } => {
            if let Some(list) = state.offers.get_mut(session) {
                list.retain(|x| x != id);
            }
        }
        Event::LoggedOut => {
            state.queue.clear();
            state.current = None;
            state.offers.clear();
        }
        _ => {}
    }
}

fn find_customer<'a>(state: &'a State, name: Option<&str>) -> Option<&'a QueueEntry> {
    state
        .queue
        .iter()
        .find(|e| name.is_none_or(|n| e.name == n))
}

fn already_true(until: &Until, state: &State) -> bool {
    match until {
        Until::Customer(name) => find_customer(state, name.as_deref()).is_some(),
        Until::OfferThenAccept(_) | Until::OfferThenDecline => state
            .current
            .and_then(|s| state.offers.get(&s))
            .is_some_and(|l| !l.is_empty()),
        _ => false,
    }
}

fn announce_customer(state: &State, name: Option<&str>) {
    if let Some(e) = find_customer(state, name) {
        print(&json!({
            "event": "customer_waiting",
            "session": e.session,
            "name": e.name,
            "problem": e.problem,
            "role": e.role,
        }));
    }
}

/// Whether `event` ends the wait.
fn satisfied(wait: &Wait, event: &Event, state: &mut State) -> bool {
    if wait.error_ends && matches!(event, Event::Error { .. }) {
        return true;
    }
    let done = match (&wait.until, event) {
        (Until::Connected, Event::Connected { .. } | Event::LoggedOut) => true,
        (Until::Started(s), Event::SessionStarted { session, .. }) => s == session,
        (Until::EventNamed(name), e) => &e.name() == name,
        (Until::LoggedOut, Event::LoggedOut) => true,
        // Queue and offers are checked by `already_true` after `observe`.
        _ => false,
    };
    if done && let Until::Started(s) = &wait.until {
        state.current = Some(*s);
    }
    done
}

fn wait_for(until: Until, error_ends: bool) -> Option<Wait> {
    Some(Wait {
        until,
        deadline: Instant::now() + DEFAULT_WAIT,
        error_ends,
    })
}

async fn send(engine: &EngineHandle, request: Request) {
    if engine.requests.send(request).await.is_err() {
        print_event(&Event::error(None, "internal", "the network task stopped"));
    }
}

async fn session_command(engine: &EngineHandle, state: &State, make: impl FnOnce(u64) -> Command) {
    match state.current {
        Some(session) => send(engine, Request::Command(make(session))).await,
        None => print_event(&Event::error(
            None,
            "no_session",
            "no session yet: accept a customer first",
        )),
    }
}

async fn accept_offer(engine: &EngineHandle, state: &mut State, dir: PathBuf) {
    let Some(session) = state.current else { return };
    let Some(id) = state.offers.get_mut(&session).and_then(|l| l.pop()) else {
        return;
    };
    send(
        engine,
        Request::Command(Command::AcceptFile { session, id, dir }),
    )
    .await;
}

async fn decline_offer(engine: &EngineHandle, state: &mut State) {
    let Some(session) = state.current else { return };
    let Some(id) = state.offers.get_mut(&session).and_then(|l| l.pop()) else {
        return;
    };
    send(
        engine,
        Request::Command(Command::DeclineFile { session, id }),
    )
    .await;
}

async fn quit(engine: &EngineHandle, state: &mut State) -> Option<Wait> {
    state.quitting = true;
    send(engine, Request::Logout).await;
    Some(Wait {
        until: Until::LoggedOut,
        deadline: Instant::now() + Duration::from_secs(5),
        error_ends: false,
    })
}

/// Split off the first word.
fn word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.split_once(char::is_whitespace) {
        Some((w, rest)) => (w, rest.trim_start()),
        None => (text, ""),
    }
}

fn parse_pin(text: &str) -> Result<Option<Pin>, String> {
    if text.eq_ignore_ascii_case("tofu") || text == "-" {
        Ok(None)
    } else {
        Pin::from_hex(text).map(Some).map_err(|e| e.to_string())
    }
}

/// `RRGGBB` (an optional leading `#`) as red, green, blue.
fn parse_rgb(text: &str) -> Option<[u8; 3]> {
    let hex = text.strip_prefix('#').unwrap_or(text);
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

/// Carry out one command line; returns what to wait for before the next.
async fn command(
    line: &str,
    options: &Options,
    engine: &EngineHandle,
    state: &mut State,
) -> Option<Wait> {
    let (verb, rest) = word(line);
    match verb {
        "" => None,
        "login" => {
            let (url, pin, user, password) = match &options.relay {
                Some(url) => {
                    let (user, password) = word(rest);
                    (url.clone(), options.pin.clone(), user, password)
                }
                None => {
                    let (url, rest) = word(rest);
                    let (pin, rest) = word(rest);
                    let (user, password) = word(rest);
                    (url.to_owned(), Some(pin.to_owned()), user, password)
                }
            };
            if url.is_empty() || user.is_empty() || password.is_empty() {
                usage_error(
                    "usage: login URL PIN USER PASSWORD (or login USER PASSWORD with --relay)",
                );
                return None;
            }
            let pin = match pin.as_deref().map(parse_pin).transpose() {
                Ok(p) => p.flatten(),
                Err(e) => {
                    usage_error(e);
                    return None;
                }
            };
            send(
                engine,
                Request::Login {
                    url,
                    pin,
                    user: user.to_owned(),
                    password: password.to_owned(),
                },
            )
            .await;
            wait_for(Until::Connected, true)
        }
        "wait-customer" => {
            let name = rest.trim();
            wait_for(
                Until::Customer((!name.is_empty()).then(|| name.to_owned())),
                false,
            )
        }
        "wait" => {
            let (name, secs) = word(rest);
            if name.is_empty() {
                usage_error("usage: wait EVENT [SECONDS]");
                return None;
            }
            let timeout = secs
                .trim()
                .parse::<u64>()
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_WAIT);
            Some(Wait {
                until: Until::EventNamed(name.to_owned()),
                deadline: Instant::now() + timeout,
                error_ends: false,
            })
        }
        "accept" => {
            let arg = rest.trim();
            let entry = if arg.is_empty() {
                state.queue.first()
            } else {
                state
                    .queue
                    .iter()
                    .find(|e| arg.parse::<u64>().is_ok_and(|n| n == e.session))
                    .or_else(|| state.queue.iter().find(|e| e.name == arg))
            };
            let Some(session) = entry.map(|e| e.session) else {
                print_event(&Event::error(
                    None,
                    "not_found",
                    format!("no waiting customer {arg:?} in the queue"),
                ));
                return None;
            };
            send(engine, Request::Command(Command::Accept { session })).await;
            wait_for(Until::Started(session), true)
        }
        "session" => {
            match rest.trim().parse::<u64>() {
                Ok(n) => state.current = Some(n),
                Err(_) => usage_error("usage: session ID"),
            }
            None
        }
        "say" => {
            let text = rest.to_owned();
            session_command(engine, state, |session| Command::Say { session, text }).await;
            None
        }
        "nudge" => {
            session_command(engine, state, |session| Command::Nudge { session }).await;
            None
        }
        "notice" => {
            let arg = rest.trim().to_owned();
            let notice = if state.notices.iter().any(|n| n.id == arg) {
                NoticeChoice::Id(arg)
            } else {
                NoticeChoice::Text(arg)
            };
            session_command(engine, state, |session| Command::Notice { session, notice }).await;
            None
        }
        "request-share" => {
            session_command(engine, state, |session| Command::RequestShare { session }).await;
            None
        }
        "stop-share" => {
            session_command(engine, state, |session| Command::StopShare { session }).await;
            None
        }
        "request-control" => {
            session_command(engine, state, |session| Command::RequestControl { session }).await;
            None
        }
        "release-control" => {
            session_command(engine, state, |session| Command::ReleaseControl { session }).await;
            None
        }
        "type" => {
            let text = rest.to_owned();
            session_command(engine, state, |session| Command::Input {
                session,
                event: InputEvent::Text { text },
            })
            .await;
            None
        }
        "key" => {
            let key = rest.trim().to_owned();
            if key.is_empty() {
                usage_error("usage: key NAME");
                return None;
            }
            for down in [true, false] {
                let key = key.clone();
                session_command(engine, state, |session| Command::Input {
                    session,
                    event: InputEvent::Key { key, down },
                })
                .await;
            }
            None
        }
        "move" | "click" => {
            let mut it = rest.split_whitespace().map(str::parse::<i32>);
            let (Some(Ok(x)), Some(Ok(y))) = (it.next(), it.next()) else {
                usage_error(format!("usage: {verb} X Y"));
                return None;
            };
            let mut events = vec![InputEvent::MouseMove { x, y }];
            if verb == "click" {
                for down in [true, false] {
                    events.push(InputEvent::MouseButton {
                        button: MouseButton::Left,
                        down,
                    });
                }
            }
            for event in events {
                session_command(engine, state, |session| Command::Input { session, event }).await;
            }
            None
        }
        "accept-file" => {
            let dir = rest.trim();
            if dir.is_empty() {
                usage_error("usage: accept-file DIR");
                return None;
            }
            wait_for(Until::OfferThenAccept(PathBuf::from(dir)), false)
        }
        "decline-file" => wait_for(Until::OfferThenDecline, false),
        "elevate" => {
            session_command(engine, state, |session| Command::Elevate { session }).await;
            None
        }
        "hand-back" => {
            session_command(engine, state, |session| Command::HandBack { session }).await;
            state.current = None;
            None
        }
        "end" => {
            session_command(engine, state, |session| Command::End { session }).await;
            state.current = None;
            None
        }
        "profile" => {
            let (name, avatar) = word(rest);
            if name.is_empty() {
                usage_error("usage: profile NAME [AVATAR_FILE]");
                return None;
            }
            let request = if avatar.is_empty() {
                Request::Command(Command::Profile {
                    display_name: name.to_owned(),
                    avatar: None,
                })
            } else {
                Request::ProfileWithAvatar {
                    display_name: name.to_owned(),
                    path: PathBuf::from(avatar.trim()),
                }
            };
            send(engine, request).await;
            None
        }
        "save-screen" => {
            let path = rest.trim();
            match (state.current, path.is_empty()) {
                (_, true) => usage_error("usage: save-screen PATH"),
                (None, _) => print_event(&Event::error(None, "no_session", "no session yet")),
                (Some(session), false) => {
                    send(
                        engine,
                        Request::SaveScreen {
                            session,
                            path: PathBuf::from(path),
                        },
                    )
                    .await;
                    return wait_for(Until::EventNamed("saved".into()), true);
                }
            }
            None
        }
        "watch-colour" | "watch-color" => {
            let arg = rest.trim();
            let rgb = if arg == "off" {
                None
            } else {
                match parse_rgb(arg) {
                    Some(rgb) => Some(rgb),
                    None => {
                        usage_error("usage: watch-colour RRGGBB|off");
                        return None;
                    }
                }
            };
            send(engine, Request::WatchColour(rgb)).await;
            None
        }
        "quit" => quit(engine, state).await,
        other => {
            usage_error(format!("unknown command {other:?}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_pins() {
        assert_eq!(word("  say hello  world"), ("say", "hello  world"));
        assert_eq!(word("nudge"), ("nudge", ""));
        assert_eq!(parse_pin("tofu"), Ok(None));
        assert!(parse_pin(&"ab".repeat(32)).unwrap().is_some());
        assert!(parse_pin("xyz").is_err());
        assert_eq!(parse_rgb("#ff00Fe"), Some([255, 0, 254]));
        assert_eq!(parse_rgb("123456"), Some([0x12, 0x34, 0x56]));
        assert_eq!(parse_rgb("12345"), None);
        assert_eq!(parse_rgb("gg0000"), None);
        assert_eq!(parse_rgb("ü1234"), None);
    }
}
