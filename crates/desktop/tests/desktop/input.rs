//! Input injection and its enforcement under Xvfb.

use std::process::Command;
use std::sync::Arc;

use lotse_desktop::{EnigoInjector, GuardedInjector, Injector, Mask, monitors};
use lotse_protocol::{InputEvent, MouseButton};

use crate::support::{Xvfb, key, wait_for, xterm_cat};

fn mouse_location() -> (i32, i32) {
    let out = Command::new("xdotool")
        .arg("getmouselocation")
        .output()
        .expect("xdotool runs");
    let s = String::from_utf8_lossy(&out.stdout);
    let num = |key: &str| -> i32 {
        s.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|v| v.parse().ok())
            .expect("xdotool output")
    };
    (num("x:"), num("y:"))
}

#[test]
fn typing_non_ascii_into_an_xterm_only_with_focus_and_grant() {
    let x = Xvfb::start(800, 600).with_openbox();
    let file = x.path("typed.txt");
    let _term = xterm_cat(&x, &file);
    let xterm_mask = Arc::new(Mask::new(["XTerm"]).expect("mask"));
    wait_for("the xterm to have the focus", || {
        (xterm_mask.chosen_app_has_focus().ok()? && file.exists()).then_some(())
    });
    let monitor = monitors().expect("monitors")[0];

    // Shared app "Other" is not focused: keys are dropped even with grant.
    let mut other = GuardedInjector::new(
        EnigoInjector::new().expect("enigo"),
        monitor,
        Some(Arc::new(Mask::new(["Other"]).expect("mask"))),
    );
    other.grant();
    assert!(
        !other
            .apply(&InputEvent::Text {
                text: "LEAK".into()
            })
            .expect("apply")
    );
    assert!(!other.apply(&key("Return", true)).expect("apply"));
    assert_eq!(other.dropped(), 2);

    // No grant: dropped.
    let mut g = GuardedInjector::new(
        EnigoInjector::new().expect("enigo"),
        monitor,
        Some(xterm_mask),
    );
    assert!(
        !g.apply(&InputEvent::Text {
            text: "NOGRANT".into()
        })
        .expect("apply")
    );
    assert_eq!(g.dropped(), 1);

    // Granted and the xterm has the focus: typed exactly.
    g.grant();
    assert!(
        g.apply(&InputEvent::Text {
            text: "Grüße, 123 €".into()
        })
        .expect("apply")
    );
    assert!(g.apply(&key("Return", true)).expect("apply"));
    assert!(g.apply(&key("Return", false)).expect("apply"));
    let typed = wait_for("the typed line in the file", || {
        let s = std::fs::read_to_string(&file).ok()?;
        s.ends_with('\n').then_some(s)
    });
    assert_eq!(typed, "Grüße, 123 €\n");
    assert_eq!(g.dropped(), 1);

    // Keys with a modifier: Shift + a gives "A".
    for ev in [
        key("Shift", true),
        key("a", true),
        key("a", false),
        key("Shift", false),
        key("Return", true),
        key("Return", false),
    ] {
        assert!(g.apply(&ev).expect("apply"));
    }
    let typed = wait_for("the second line", || {
        let s = std::fs::read_to_string(&file).ok()?;
        (s.lines().count() == 2 && s.ends_with('\n')).then_some(s)
    });
    assert_eq!(typed, "Grüße, 123 €\nA\n");
}

#[test]
fn mouse_lands_on_the_right_pixel_of_the_right_monitor() {
    let x = Xvfb::start(1280, 480);
    // Two monitors side by side (RandR 1.5 monitors, like `xrandr
    // --setmonitor`).
    for (name, mx) in [("left", 0i16), ("right", 640)] {
        use x11rb::protocol::randr::{ConnectionExt as _, MonitorInfo};
        let info = MonitorInfo {
            name: x.atom(name),
            primary: false,
            automatic: false,
            x: mx,
            y: 0,
            width: 640,
            height: 480,
            width_in_millimeters: 170,
            height_in_millimeters: 128,
            outputs: Vec::new(),
        };
        x.conn
            .randr_set_monitor(x.root, info)
            .expect("set monitor")
            .check()
            .expect("monitor accepted");
    }
    let mons = monitors().expect("monitors");
    // (Xvfb keeps its own whole-screen monitor beside the two.)
    let right = *mons
        .iter()
        .find(|m| (m.x, m.y, m.width, m.height) == (640, 0, 640, 480))
        .expect("right monitor");

    let mut g = GuardedInjector::new(EnigoInjector::new().expect("enigo"), right, None);
    assert!(
        !g.apply(&InputEvent::MouseMove { x: 10, y: 20 })
            .expect("apply")
    );
    assert_eq!(g.dropped(), 1);
    g.grant();
    assert!(
        g.apply(&InputEvent::MouseMove { x: 10, y: 20 })
            .expect("apply")
    );
    assert_eq!(mouse_location(), (650, 20));
    assert!(
        g.apply(&InputEvent::MouseMove { x: 639, y: 479 })
            .expect("apply")
    );
    assert_eq!(mouse_location(), (1279, 479));
    // Outside the shared monitor: dropped, the pointer stays.
    assert!(
        !g.apply(&InputEvent::MouseMove { x: 640, y: 0 })
            .expect("apply")
    );
    assert!(
        !g.apply(&InputEvent::MouseMove { x: -5, y: 0 })
            .expect("apply")
    );
    assert_eq!(mouse_location(), (1279, 479));
    assert_eq!(g.dropped(), 3);
    // Revoked: nothing moves any more.
    g.revoke();
    assert!(
        !g.apply(&InputEvent::MouseMove { x: 100, y: 100 })
            .expect("apply")
    );
    assert_eq!(mouse_location(), (1279, 479));
}

#[test]
fn mouse_outside_the_shared_app_is_dropped() {
    let x = Xvfb::start(640, 480);
    x.window("Shared", 40, 40, 200, 150, 0x00ff00);
    x.window("Other", 300, 40, 100, 100, 0x0000ff);
    let mask = Arc::new(Mask::new(["Shared"]).expect("mask"));
    let monitor = monitors().expect("monitors")[0];
    let mut g = GuardedInjector::new(EnigoInjector::new().expect("enigo"), monitor, Some(mask));
    g.grant();
    assert!(
        g.apply(&InputEvent::MouseMove { x: 100, y: 100 })
            .expect("apply")
    );
    assert_eq!(mouse_location(), (100, 100));
    // Onto another app's window, or the desktop: dropped.
    assert!(
        !g.apply(&InputEvent::MouseMove { x: 320, y: 60 })
            .expect("apply")
    );
    assert!(
        !g.apply(&InputEvent::MouseMove { x: 5, y: 5 })
            .expect("apply")
    );
    assert_eq!(mouse_location(), (100, 100));
    // A click where the pointer is (inside) goes through …
    let click = |down| InputEvent::MouseButton {
        button: MouseButton::Left,
        down,
    };
    assert!(g.apply(&click(true)).expect("apply"));
    assert!(g.apply(&click(false)).expect("apply"));
    // … but not once the customer moved the pointer out of the shared app.
    let mut raw = EnigoInjector::new().expect("enigo");
    raw.apply(&InputEvent::MouseMove { x: 320, y: 60 })
        .expect("move");
    assert!(!g.apply(&click(true)).expect("apply"));
    assert!(!g.apply(&InputEvent::Wheel { dx: 0, dy: 1 }).expect("apply"));
    assert_eq!(g.dropped(), 4);
}
