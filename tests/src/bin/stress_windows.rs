//! Does the real client's window answer a close request? Driven by
//! `scripts/stress-windows.sh` (which adds the busy loops); not part of
//! the test run.
//!
//! Starts the downloaded client RUNS times, PARALLEL at a time, each
//! against its own relay under its own Xvfb + openbox (as the window
//! tests do), waits until it is connected, sends `WM_DELETE_WINDOW` and
//! counts the clients whose process ended within 5 s.
//!
//! usage: stress_windows [--unsynced] [RUNS [PARALLEL]]   (30, 3)
//!
//! `--unsynced` sends the close the old way (flush and hang up without a
//! round trip), to show the defect `Screen::close_window` fixed.
//! Needs `LOTSE_RELAY_BIN` (the script sets it).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lotse_e2e::customer::{Customer, CustomerOptions, LONG};
use lotse_e2e::display::Display;
use lotse_e2e::relay::Relay;

/// The window has this long to answer the close request.
const ANSWER: Duration = Duration::from_secs(5);

const CONFIG: &str = lotse_e2e::relay::STRAIGHT_TO_NAME;

/// What became of one start.
enum Outcome {
    Closed(Duration),
    /// Not within `ANSWER`, but later (how long it took).
    Late(Duration),
    /// Not even within `LONG`: the end of the client's log.
    StillOpen(String),
    /// The run failed before the close was sent (no window, no relay…).
    Broken(String),
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let unsynced = if let Some(i) = args.iter().position(|a| a == "--unsynced") {
        args.remove(i);
        true
    } else {
        false
    };
    let number = |i: usize, default: usize| {
        args.get(i).map_or(default, |a| {
            a.parse().unwrap_or_else(|_| {
                panic!("not a number: {a:?}; usage: stress_windows [--unsynced] [RUNS [PARALLEL]]")
            })
        })
    };
    let runs = number(0, 30);
    let parallel = number(1, 3).max(1);
    let method = if unsynced {
        "flush and hang up (old, --unsynced)"
    } else {
        "round trip before hanging up (Screen::close_window)"
    };
    println!("{runs} starts, {parallel} at a time; close: {method}");

    let rt = lotse_e2e::runtime();
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel {
            scope.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= runs {
                        break;
                    }
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        one(&rt, unsynced)
                    }))
                    .unwrap_or_else(|e| {
                        let text = e
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                            .unwrap_or_default();
                        Outcome::Broken(text.lines().next().unwrap_or("").to_owned())
                    });
                    match &outcome {
                        Outcome::Closed(t) => {
                            println!("start {:2}: closed after {:.2} s", n + 1, t.as_secs_f64())
                        }
                        Outcome::Late(t) => {
                            println!(
                                "start {:2}: closed only after {:.2} s",
                                n + 1,
                                t.as_secs_f64()
                            )
                        }
                        Outcome::StillOpen(log) => println!(
                            "start {:2}: still open {} s after the close; log ends:\n{log}",
                            n + 1,
                            (ANSWER + LONG).as_secs()
                        ),
                        Outcome::Broken(why) => {
                            println!("start {:2}: broken before the close: {why}", n + 1)
                        }
                    }
                    outcomes.lock().expect("lock").push(outcome);
                }
            });
        }
    });
    let outcomes = outcomes.into_inner().expect("lock");
    let closed = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Closed(_)))
        .count();
    let broken = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Broken(_)))
        .count();
    let late = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Late(_)))
        .count();
    println!(
        "{late} closed later (within {} s), {} never",
        (ANSWER + LONG).as_secs(),
        outcomes.len() - closed - late - broken
    );
    if broken > 0 {
        println!("({broken} starts broke before the close was sent)");
    }
    println!(
        "{closed} of {} closed within {} s",
        outcomes.len(),
        ANSWER.as_secs()
    );
    if closed < outcomes.len() {
        std::process::exit(1);
    }
}

/// One client: start, wait until connected, close, wait up to `ANSWER`.
fn one(rt: &tokio::runtime::Runtime, unsynced: bool) -> Outcome {
    let relay = Relay::start_with_config(CONFIG);
    let display = match Display::start() {
        Ok(d) => d,
        Err(e) => return Outcome::Broken(format!("Xvfb + openbox: {e}")),
    };
    let mut client = rt.block_on(Customer::start(
        &relay,
        &display,
        CustomerOptions::default(),
    ));
    let window = client.window();
    client.wait_log("connected to the relay", LONG);
    let sent = Instant::now();
    let result = if unsynced {
        display.close_window_unsynced(&window)
    } else {
        display.close_window(&window)
    };
    if let Err(e) = result {
        return Outcome::Broken(format!("sending the close: {e}"));
    }
    if client.try_wait_exit(ANSWER).is_some() {
        return Outcome::Closed(sent.elapsed());
    }
    if client.try_wait_exit(LONG).is_some() {
        return Outcome::Late(sent.elapsed());
    }
    // Diagnosis: is the close stuck inside the client (read from the X
    // connection but never handled)? Any new X event would wake it.
    let poked = display
        .command("xdotool")
        .args(["mousemove", "--window", &window, "5", "5"])
        .status()
        .is_ok_and(|s| s.success())
        && client.try_wait_exit(ANSWER).is_some();
    let log = client.log();
    let tail: Vec<&str> = log.lines().rev().take(8).collect();
    Outcome::StillOpen(format!(
        "{}\n(after a pointer motion into the window: {})",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        if poked { "it closed" } else { "still open" }
    ))
}
