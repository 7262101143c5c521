//! The customer's hands in a headless sway session (tests/src/wayland.rs):
//! one wlroots virtual keyboard and pointer for the whole test (a headless
//! seat loses the events of short-lived devices), driven by lines on stdin:
//! `key NAME` (press and release, names as the protocol's), `click X Y`
//! (layout pixels). Prints `ready`, then `ok` or `error …` per line.
//! Built only with the feature `wayland-e2e`.

use std::io::BufRead as _;

use lotse_desktop::Injector as _;
use lotse_desktop::wayland::wlr::WlrInjector;
use lotse_protocol::{InputEvent, MouseButton};

fn run(inj: &mut WlrInjector, line: &str) -> Result<(), String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let events = match words.as_slice() {
        ["key", name] => vec![
            InputEvent::Key {
                key: (*name).to_owned(),
                down: true,
            },
            InputEvent::Key {
                key: (*name).to_owned(),
                down: false,
            },
        ],
        ["click", x, y] => {
            let x = x.parse().map_err(|e| format!("{e}"))?;
            let y = y.parse().map_err(|e| format!("{e}"))?;
            vec![
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
        _ => return Err(format!("unknown command: {line}")),
    };
    for ev in &events {
        inj.apply(ev).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn main() {
    let mut inj = match WlrInjector::connect() {
        Ok(i) => i,
        Err(e) => {
            println!("error {e}");
            std::process::exit(1);
        }
    };
    println!("ready");
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        match run(&mut inj, &line) {
            Ok(()) => println!("ok"),
            Err(e) => println!("error {e}"),
        }
    }
}
