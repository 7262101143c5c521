//! Desktop-wide shortcuts: key combinations the desktop itself (window
//! manager, shell, X server, kernel) acts on, whichever window has the
//! focus. While the customer shares only chosen applications, the input
//! guard drops them ([`crate::GuardedInjector`]): through them a technician
//! allowed into one application could reach the rest of the desktop — open
//! a terminal (Ctrl+Alt+T), run a command (Alt+F2), switch windows (Alt+Tab),
//! open the launcher (Super), lock, log out or switch to a text console
//! (Ctrl+Alt+Del, Ctrl+Alt+F1…F12), take a screenshot of everything (Print).
//!
//! The rule is wide on purpose, since desktops bind more than their
//! defaults and users add their own:
//!
//! * the logo key (Super/Windows) alone and with anything;
//! * Print, with or without modifiers;
//! * Ctrl+Alt with any key;
//! * Alt with Tab, Escape, Space, a function key (F1…F20) or \`, and
//!   Alt+Shift with an arrow (openbox: send the window to another desktop);
//! * Ctrl with Escape or a function key (start menu, task manager,
//!   workspace switching in KDE and Xfce).
//!
//! Alt+F4 is dropped too, although it closes only the focused window (a
//! shared one, since keys only pass while one has the focus): the window
//! manager handles it, not the application, and where no window has the
//! focus (the focus can move between the guard's check and the key) some
//! desktops open their shut-down dialog on it. The application's own way
//! to quit (its menu, Ctrl+Q) stays available.
//!
//! Shortcuts an application handles itself (Ctrl+C, Ctrl+Q, Alt+letter for
//! its menus, F1…F12 alone) pass.

use enigo::Key;

/// The modifier keys the technician holds down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Modifiers {
    pub ctrl: bool,
    pub alt: bool,
    pub shift: bool,
    /// Super / Windows / Meta.
    pub logo: bool,
}

impl Modifiers {
    /// The modifiers among `keys` (keys held down).
    pub fn of<'a>(keys: impl IntoIterator<Item = &'a Key>) -> Modifiers {
        let mut m = Modifiers::default();
        for k in keys {
            match k {
                Key::Control | Key::LControl | Key::RControl => m.ctrl = true,
                Key::Alt => m.alt = true,
                Key::Shift | Key::LShift | Key::RShift => m.shift = true,
                Key::Meta => m.logo = true,
                _ => {}
            }
        }
        m
    }
}

/// Whether `key` is a modifier key (Ctrl, Alt, Shift, logo).
pub fn is_modifier(key: Key) -> bool {
    Modifiers::of([&key]) != Modifiers::default()
}

/// Whether pressing `key` while `mods` are held is a shortcut the desktop
/// handles globally (see the module documentation). `key` is what
/// [`crate::input::key_from_name`] gives for the event's key name (or for
/// each character of a text event). Pressing a modifier other than the logo
/// key is never a shortcut by itself.
pub fn is_global_shortcut(mods: Modifiers, key: Key) -> bool {
    if matches!(key, Key::Meta | Key::PrintScr) || mods.logo {
        return true;
    }
    if is_modifier(key) {
        return false;
    }
    let function_key = is_function_key(key);
    let arrow = matches!(
        key,
        Key::LeftArrow | Key::RightArrow | Key::UpArrow | Key::DownArrow
    );
    (mods.ctrl && mods.alt)
        || (mods.alt
            && (function_key
                || (arrow && mods.shift)
                || matches!(key, Key::Tab | Key::Escape | Key::Space | Key::Unicode('`'))))
        || (mods.ctrl && (function_key || key == Key::Escape))
}

/// Whether a mouse button or wheel with `mods` held is the window
/// manager's (Alt+drag moves and resizes windows, Alt+click opens window
/// menus; logo+drag likewise).
pub fn is_global_pointer(mods: Modifiers) -> bool {
    mods.alt || mods.logo
}

fn is_function_key(key: Key) -> bool {
    matches!(
        key,
        Key::F1
            | Key::F2
            | Key::F3
            | Key::F4
            | Key::F5
            | Key::F6
            | Key::F7
            | Key::F8
            | Key::F9
            | Key::F10
            | Key::F11
            | Key::F12
            | Key::F13
            | Key::F14
            | Key::F15
            | Key::F16
            | Key::F17
            | Key::F18
            | Key::F19
            | Key::F20
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::key_from_name;

    /// "C-A-t" style (openbox's notation: C Ctrl, A Alt, S Shift, W logo).
    fn combo(s: &str) -> (Modifiers, Key) {
        let mut parts: Vec<&str> = s.split('-').collect();
        let key = key_from_name(parts.pop().expect("key")).expect("known key");
        let mut m = Modifiers::default();
        for p in parts {
            match p {
                "C" => m.ctrl = true,
                "A" => m.alt = true,
                "S" => m.shift = true,
                "W" => m.logo = true,
                other => panic!("modifier {other}"),
            }
        }
        (m, key)
    }

    fn global(s: &str) -> bool {
        let (m, k) = combo(s);
        is_global_shortcut(m, k)
    }

    #[test]
    fn desktop_shortcuts_are_global() {
        for s in [
            "Super",
            "W-e",
            "W-d",
            "W-S-Left",
            "W-l",
            "W-Tab",
            "C-A-t",
            "C-A-T",
            "C-A-Delete",
            "C-A-BackSpace",
            "C-A-F1",
            "C-A-F12",
            "C-A-Left",
            "C-A-Tab",
            "C-A-Escape",
            "C-A-l",
            "C-S-A-t",
            "A-Tab",
            "A-S-Tab",
            "A-F1",
            "A-F2",
            "A-F4",
            "A-F10",
            "A-Escape",
            "A-space",
            "A-`",
            "S-A-Left",
            "S-A-Down",
            "Print",
            "A-Print",
            "C-Print",
            "C-Escape",
            "C-S-Escape",
            "C-F1",
            "C-F12",
        ] {
            assert!(global(s), "{s} is global");
        }
    }

    #[test]
    fn application_keys_pass() {
        for s in [
            "a",
            "T",
            "Return",
            "Escape",
            "Tab",
            "F1",
            "F5",
            "F11",
            "C-c",
            "C-v",
            "C-q",
            "C-w",
            "C-Tab",
            "C-S-t",
            "C-Left",
            "A-f",
            "A-Left",
            "A-Return",
            "S-Tab",
            "S-F10",
            "Control",
            "Alt",
            "Shift",
            "C-Alt",
            "A-Control",
            "S-Alt",
        ] {
            assert!(!global(s), "{s} belongs to the application");
        }
    }

    /// Every key binding of openbox's default configuration is dropped.
    #[test]
    fn openbox_default_bindings_are_all_global() {
        let Ok(rc) = std::fs::read_to_string("/etc/xdg/openbox/rc.xml") else {
            eprintln!("skipped: no /etc/xdg/openbox/rc.xml (package openbox)");
            return;
        };
        let bindings: Vec<&str> = rc
            .split("<keybind key=\"")
            .skip(1)
            .filter_map(|part| part.split('"').next())
            .collect();
        assert!(bindings.len() >= 20, "only {bindings:?}");
        for b in bindings {
            assert!(global(b), "{b} is not dropped");
        }
    }

    #[test]
    fn modifiers_from_held_keys() {
        let held = [Key::Control, Key::Alt, Key::Unicode('x')];
        let m = Modifiers::of(&held);
        assert_eq!(
            m,
            Modifiers {
                ctrl: true,
                alt: true,
                shift: false,
                logo: false
            }
        );
        assert!(is_global_shortcut(m, Key::Unicode('t')));
        assert!(Modifiers::of(&[Key::Meta]).logo);
        assert!(is_modifier(Key::RShift) && !is_modifier(Key::Tab));
        assert!(is_global_pointer(Modifiers::of(&[Key::Alt])));
        assert!(!is_global_pointer(Modifiers::of(&[
            Key::Control,
            Key::Shift
        ])));
    }
}
