//! Desktop-wide shortcuts under app-selective sharing: openbox (the real
//! window manager) binds Ctrl+Alt+T and Super+E to a marker command; the
//! technician's keys go through the guard the client uses, with enigo's real
//! XTEST injection, while a shared xterm has the focus. The bindings never
//! fire, the keys are counted as dropped, and no modifier stays down. The
//! same bindings do fire when pressed with xdotool, or through the same
//! guard with the whole screen shared (so the test can fail).

use std::process::Command;
use std::sync::Arc;

use lotse_desktop::{EnigoInjector, GuardedInjector, Mask, list_apps, monitors};
use lotse_protocol::{InputEvent, MouseButton};
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _};

use crate::support::{Xvfb, key, wait_for, xterm_cat};

/// The marker bindings; `DIR` is the test's directory. Each binding also
/// changes the focused window's state at once (`_NET_WM_STATE`), which the
/// test can read in order with the fence below: openbox handles key events
/// one after another, so once the fence's state shows, an earlier binding's
/// state would show too.
const RC_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<openbox_config xmlns="http://openbox.org/3.4/rc">
  <keyboard>
    <keybind key="C-A-t">
      <action name="SendToLayer"><layer>top</layer></action>
      <action name="Execute"><command>touch DIR/fired-ctrl-alt-t</command></action>
    </keybind>
    <keybind key="W-e">
      <action name="Maximize"><direction>vertical</direction></action>
      <action name="Execute"><command>touch DIR/fired-super-e</command></action>
    </keybind>
    <keybind key="C-S-F12">
      <action name="Maximize"><direction>horizontal</direction></action>
    </keybind>
  </keyboard>
</openbox_config>
"#;

fn xdotool_key(x: &Xvfb, combo: &str) {
    let status = Command::new("xdotool")
        .env("DISPLAY", &x.display)
        .args(["key", combo])
        .status()
        .expect("xdotool runs");
    assert!(status.success(), "xdotool key {combo}");
}

/// The window openbox says has the focus.
fn active_window(x: &Xvfb) -> Option<u32> {
    let r = x
        .conn
        .get_property(
            false,
            x.root,
            x.atom("_NET_ACTIVE_WINDOW"),
            AtomEnum::WINDOW,
            0,
            1,
        )
        .ok()?
        .reply()
        .ok()?;
    r.value32()?.next().filter(|w| *w != 0)
}

/// Names of the `_NET_WM_STATE` atoms of `window`.
fn wm_state(x: &Xvfb, window: u32) -> Vec<String> {
    let r = x
        .conn
        .get_property(
            false,
            window,
            x.atom("_NET_WM_STATE"),
            AtomEnum::ATOM,
            0,
            32,
        )
        .expect("get state")
        .reply()
        .expect("state");
    r.value32()
        .into_iter()
        .flatten()
        .map(|a| {
            let name = x
                .conn
                .get_atom_name(a)
                .expect("name")
                .reply()
                .expect("name");
            String::from_utf8_lossy(&name.name).into_owned()
        })
        .collect()
}

/// Modifier keys (Shift, Ctrl, Alt, Super …) that are down on the server.
fn modifiers_down(x: &Xvfb) -> Vec<u8> {
    let map = x
        .conn
        .get_modifier_mapping()
        .expect("modifier mapping")
        .reply()
        .expect("modifier mapping");
    let keys = x
        .conn
        .query_keymap()
        .expect("keymap")
        .reply()
        .expect("keymap")
        .keys;
    let mut down: Vec<u8> = map
        .keycodes
        .iter()
        .copied()
        .filter(|&k| k != 0 && keys[usize::from(k / 8)] & (1 << (k % 8)) != 0)
        .collect();
    down.dedup();
    down
}

fn text(t: &str) -> InputEvent {
    InputEvent::Text { text: t.into() }
}

/// Ctrl+Alt+T as a console sends it (one event per key), then Super+E,
/// then the same with the letters as text events.
fn attempts() -> Vec<InputEvent> {
    vec![
        key("Control", true),
        key("Alt", true),
        key("t", true),
        key("t", false),
        key("Alt", false),
        key("Control", false),
        key("Super", true),
        key("e", true),
        key("e", false),
        key("Super", false),
        key("Super_L", true),
        text("e"),
        key("Super_L", false),
        key("ctrl", true),
        key("alt", true),
        text("t"),
        key("alt", false),
        key("ctrl", false),
    ]
}

#[test]
fn desktop_shortcuts_do_not_fire_from_the_technicians_side_in_app_sharing() {
    let x = Xvfb::start(800, 600);
    let dir = x.tmp.path().to_str().expect("UTF-8 path").to_owned();
    let x = x.with_openbox_config(&RC_XML.replace("DIR", &dir));
    let fired_t = x.path("fired-ctrl-alt-t");
    let fired_e = x.path("fired-super-e");
    let file = x.path("typed.txt");
    let _term = xterm_cat(&x, &file);
    let mask = Arc::new(Mask::new(["XTerm"]).expect("mask"));
    // Focused for the guard (the X input focus) and for openbox (its
    // _NET_ACTIVE_WINDOW, which it sets a moment later and which names the
    // window the fence below reads: before, it may still name a window of
    // openbox's that is gone by then).
    let term = wait_for("the xterm to have the focus", || {
        let xterm = list_apps()
            .ok()?
            .into_iter()
            .find(|a| a.id == "XTerm")?
            .windows
            .first()?
            .id;
        (mask.chosen_app_has_focus().ok()? && file.exists() && active_window(&x) == Some(xterm))
            .then_some(xterm)
    });
    let monitor = monitors().expect("monitors")[0];
    let mut g = GuardedInjector::new(EnigoInjector::new().expect("enigo"), monitor, Some(mask));
    g.grant();

    for ev in attempts() {
        g.apply(&ev).expect("apply");
    }
    // Then ordinary typing through the same guard reaches the xterm: the
    // server has taken every earlier event of this connection.
    g.apply(&text("after")).expect("apply");
    g.apply(&key("Return", true)).expect("apply");
    g.apply(&key("Return", false)).expect("apply");
    let typed = wait_for("the typed line", || {
        let s = std::fs::read_to_string(&file).ok()?;
        s.ends_with('\n').then_some(s)
    });
    // The fence: once openbox shows it, it has handled every earlier key.
    xdotool_key(&x, "ctrl+shift+F12");
    let state = wait_for("openbox to handle the fence", || {
        let s = wm_state(&x, term);
        s.iter()
            .any(|a| a == "_NET_WM_STATE_MAXIMIZED_HORZ")
            .then_some(s)
    });
    assert!(
        !state
            .iter()
            .any(|a| a == "_NET_WM_STATE_ABOVE" || a == "_NET_WM_STATE_MAXIMIZED_VERT"),
        "a desktop binding fired from the technician's keys: {state:?}"
    );
    assert!(
        !fired_t.exists() && !fired_e.exists(),
        "a marker was written"
    );
    assert_eq!(typed, "after\n", "plain typing was not affected");
    assert_eq!(
        modifiers_down(&x),
        Vec::<u8>::new(),
        "no modifier stays down"
    );
    // Dropped and counted: the letters and everything with Super (the
    // other modifiers themselves pass and are released).
    assert_eq!(g.dropped(), 10);
    assert_eq!(
        g.last_drop_reason(),
        Some("a desktop-wide shortcut while sharing applications")
    );

    // Alt+click and Alt+wheel are the window manager's (move, resize,
    // window menu).
    assert!(g.apply(&key("Alt", true)).expect("apply"));
    let click = InputEvent::MouseButton {
        button: MouseButton::Left,
        down: true,
    };
    assert!(!g.apply(&click).expect("apply"));
    assert!(!g.apply(&InputEvent::Wheel { dx: 0, dy: 1 }).expect("apply"));
    assert!(g.apply(&key("Alt", false)).expect("apply"));
    assert_eq!(g.dropped(), 12);
    assert_eq!(
        modifiers_down(&x),
        Vec::<u8>::new(),
        "no modifier stays down"
    );

    // Control: the bindings are live — xdotool fires them …
    xdotool_key(&x, "ctrl+alt+t");
    wait_for("Ctrl+Alt+T from xdotool to fire", || {
        fired_t.exists().then_some(())
    });
    xdotool_key(&x, "super+e");
    wait_for("Super+E from xdotool to fire", || {
        fired_e.exists().then_some(())
    });
    let state = wm_state(&x, term);
    assert!(
        state.iter().any(|a| a == "_NET_WM_STATE_ABOVE"),
        "{state:?}"
    );
    // … and so do the very same events through the guard when the whole
    // screen is shared.
    std::fs::remove_file(&fired_t).expect("remove marker");
    std::fs::remove_file(&fired_e).expect("remove marker");
    let mut whole = GuardedInjector::new(EnigoInjector::new().expect("enigo"), monitor, None);
    whole.grant();
    for ev in attempts() {
        assert!(whole.apply(&ev).expect("apply"), "{ev:?} applied");
    }
    wait_for("Ctrl+Alt+T through the guard to fire", || {
        fired_t.exists().then_some(())
    });
    wait_for("Super+E through the guard to fire", || {
        fired_e.exists().then_some(())
    });
    assert_eq!(whole.dropped(), 0);
}
