//! Input injection for remote control, and its enforcement on the
//! customer's machine.
//!
//! [`EnigoInjector`] does what an [`InputEvent`] says (XTEST through enigo's
//! x11rb backend). [`GuardedInjector`] wraps any [`Injector`] and applies an
//! event only while control is granted and — with app-selective sharing —
//! only mouse input inside the [`Mask`] and only key input while a chosen
//! application has the focus; everything else is dropped and counted.
//! With app-selective sharing it also drops the key combinations the
//! desktop handles globally ([`crate::shortcuts`]), judged with the
//! modifiers the technician holds down (tracked across events, whether they
//! were applied or not), and pointer buttons with Alt or the logo key held.
//! This holds whatever the relay forwards.
//!
//! Coordinates in events are pixels of the shared area (the captured
//! monitor); the guard adds the monitor's origin.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use enigo::{Axis, Button, Coordinate, Direction, Enigo, Key, Keyboard, Mouse, Settings};
use lotse_protocol::{InputEvent, MouseButton};

use crate::DesktopError;
use crate::geom::Region;
use crate::monitor::MonitorInfo;
use crate::shortcuts::{self, Modifiers};

/// What the guard asks of the applications the customer chose to share:
/// each platform's `Mask` is one. Asked at every event, so the answer is
/// the desktop as it is now.
pub trait ChosenApps: Send + Sync {
    /// The part of the desktop the chosen applications show now (desktop
    /// pixels, covered parts left out).
    fn visible_now(&self) -> Result<Region, DesktopError>;
    /// Whether one of the chosen applications has the keyboard focus.
    fn chosen_app_has_focus(&self) -> Result<bool, DesktopError>;
}

/// Something that can apply input events to the desktop. Coordinates are
/// root-window pixels here (the guard translates).
pub trait Injector {
    fn apply(&mut self, ev: &InputEvent) -> Result<(), DesktopError>;
    /// The pointer position in root-window pixels.
    fn pointer(&mut self) -> Result<(i32, i32), DesktopError>;
}

/// Real input through enigo (XTEST on X11).
pub struct EnigoInjector {
    enigo: Enigo,
}

impl std::fmt::Debug for EnigoInjector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnigoInjector").finish_non_exhaustive()
    }
}

impl EnigoInjector {
    pub fn new() -> Result<EnigoInjector, DesktopError> {
        let settings = Settings {
            // enigo's default waits 12 ms after each event; XTEST needs none.
            linux_delay: 0,
            ..Settings::default()
        };
        let enigo = Enigo::new(&settings).map_err(|e| DesktopError::Input(e.to_string()))?;
        Ok(EnigoInjector { enigo })
    }
}

fn input_err(e: enigo::InputError) -> DesktopError {
    DesktopError::Input(e.to_string())
}

fn direction(down: bool) -> Direction {
    if down {
        Direction::Press
    } else {
        Direction::Release
    }
}

impl Injector for EnigoInjector {
    fn apply(&mut self, ev: &InputEvent) -> Result<(), DesktopError> {
        match ev {
            InputEvent::MouseMove { x, y } => self
                .enigo
                .move_mouse(*x, *y, Coordinate::Abs)
                .map_err(input_err),
            InputEvent::MouseButton { button, down } => {
                let b = match button {
                    MouseButton::Left => Button::Left,
                    MouseButton::Middle => Button::Middle,
                    MouseButton::Right => Button::Right,
                };
                self.enigo.button(b, direction(*down)).map_err(input_err)
            }
            InputEvent::Wheel { dx, dy } => {
                if *dy != 0 {
                    self.enigo.scroll(*dy, Axis::Vertical).map_err(input_err)?;
                }
                if *dx != 0 {
                    self.enigo
                        .scroll(*dx, Axis::Horizontal)
                        .map_err(input_err)?;
                }
                Ok(())
            }
            InputEvent::Key { key, down } => {
                let k = key_from_name(key)?;
                self.enigo.key(k, direction(*down)).map_err(input_err)
            }
            InputEvent::Text { text } => {
                if text.is_empty() {
                    return Ok(());
                }
                self.enigo.text(text).map_err(input_err)
            }
        }
    }

    fn pointer(&mut self) -> Result<(i32, i32), DesktopError> {
        self.enigo.location().map_err(input_err)
    }
}

/// Maps a key name to an enigo key. Accepts X keysym style names
/// (`"Return"`, `"BackSpace"`, `"Control_L"`, `"Left"`, `"Prior"`), the
/// names egui uses (`"Enter"`, `"Backspace"`, `"ArrowLeft"`, `"PageUp"`),
/// `"F1"`…`"F20"`, and any single character (`"a"`, `"ß"`, `"€"`).
/// Case does not matter for named keys.
pub fn key_from_name(name: &str) -> Result<Key, DesktopError> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.clone().next()) {
        return Ok(key_of_char(c));
    }
    let lower = name.to_ascii_lowercase();
    if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
        let f = [
            Key::F1,
            Key::F2,
            Key::F3,
            Key::F4,
            Key::F5,
            Key::F6,
            Key::F7,
            Key::F8,
            Key::F9,
            Key::F10,
            Key::F11,
            Key::F12,
            Key::F13,
            Key::F14,
            Key::F15,
            Key::F16,
            Key::F17,
            Key::F18,
            Key::F19,
            Key::F20,
        ];
        if let Some(k) = usize::from(n).checked_sub(1).and_then(|i| f.get(i)) {
            return Ok(*k);
        }
    }
    Ok(match lower.as_str() {
        "return" | "enter" | "kp_enter" => Key::Return,
        "backspace" => Key::Backspace,
        "tab" | "iso_left_tab" => Key::Tab,
        "escape" | "esc" => Key::Escape,
        "space" => Key::Space,
        "delete" | "del" => Key::Delete,
        "insert" => Key::Insert,
        "home" => Key::Home,
        "end" => Key::End,
        "pageup" | "page_up" | "prior" => Key::PageUp,
        "pagedown" | "page_down" | "next" => Key::PageDown,
        "left" | "arrowleft" => Key::LeftArrow,
        "right" | "arrowright" => Key::RightArrow,
        "up" | "arrowup" => Key::UpArrow,
        "down" | "arrowdown" => Key::DownArrow,
        "shift" | "shift_l" => Key::Shift,
        "shift_r" => Key::RShift,
        "control" | "ctrl" | "control_l" => Key::Control,
        "control_r" => Key::RControl,
        "alt" | "alt_l" => Key::Alt,
        "meta" | "super" | "super_l" | "meta_l" | "command" | "windows" => Key::Meta,
        "capslock" | "caps_lock" => Key::CapsLock,
        "numlock" | "num_lock" => Key::Numlock,
        "print" | "printscreen" => Key::PrintScr,
        _ => return Err(DesktopError::UnknownKey(name.chars().take(32).collect())),
    })
}

/// The key that types `c` (what a text event presses for it).
pub fn key_of_char(c: char) -> Key {
    match c {
        ' ' => Key::Space,
        '\n' | '\r' => Key::Return,
        '\t' => Key::Tab,
        c => Key::Unicode(c),
    }
}

/// Why a desktop-wide shortcut was dropped (logged and shown in counts).
pub const DROP_SHORTCUT: &str = "a desktop-wide shortcut while sharing applications";

/// A shared on/off switch for the control permission. Cloning gives
/// another handle to the same switch; [`ControlSwitch::revoke`] from any
/// thread takes effect for the very next event.
#[derive(Debug, Clone, Default)]
pub struct ControlSwitch(Arc<AtomicBool>);

impl ControlSwitch {
    pub fn new() -> Self {
        ControlSwitch::default()
    }
    pub fn grant(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn revoke(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
    pub fn is_granted(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Applies input only as far as the customer allowed it.
pub struct GuardedInjector<I: Injector> {
    inner: I,
    switch: ControlSwitch,
    monitor: MonitorInfo,
    mask: Option<Arc<dyn ChosenApps>>,
    dropped: AtomicU64,
    /// Why the last event was dropped.
    last_drop: Option<&'static str>,
    keys_down: HashSet<String>,
    buttons_down: HashSet<ButtonId>,
    /// Modifier keys the technician holds down, applied or not.
    held_modifiers: HashSet<Key>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ButtonId {
    Left,
    Middle,
    Right,
}

impl From<MouseButton> for ButtonId {
    fn from(b: MouseButton) -> Self {
        match b {
            MouseButton::Left => ButtonId::Left,
            MouseButton::Middle => ButtonId::Middle,
            MouseButton::Right => ButtonId::Right,
        }
    }
}

impl From<ButtonId> for MouseButton {
    fn from(b: ButtonId) -> Self {
        match b {
            ButtonId::Left => MouseButton::Left,
            ButtonId::Middle => MouseButton::Middle,
            ButtonId::Right => MouseButton::Right,
        }
    }
}

impl<I: Injector> std::fmt::Debug for GuardedInjector<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedInjector")
            .field("granted", &self.switch.is_granted())
            .field("monitor", &self.monitor)
            .field("masked", &self.mask.is_some())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl<I: Injector> GuardedInjector<I> {
    /// Control starts revoked. `monitor` is the shared monitor (event
    /// coordinates are relative to it); `mask` is set for app-selective
    /// sharing.
    pub fn new(inner: I, monitor: MonitorInfo, mask: Option<Arc<dyn ChosenApps>>) -> Self {
        GuardedInjector {
            inner,
            switch: ControlSwitch::new(),
            monitor,
            mask,
            dropped: AtomicU64::new(0),
            last_drop: None,
            keys_down: HashSet::new(),
            buttons_down: HashSet::new(),
            held_modifiers: HashSet::new(),
        }
    }

    /// A handle to grant or revoke control from elsewhere.
    pub fn switch(&self) -> ControlSwitch {
        self.switch.clone()
    }

    pub fn grant(&self) {
        self.switch.grant();
    }

    /// Revokes control now and releases keys and buttons the technician
    /// still holds down.
    pub fn revoke(&mut self) {
        self.switch.revoke();
        self.release_held();
    }

    pub fn is_granted(&self) -> bool {
        self.switch.is_granted()
    }

    /// Events dropped so far (no grant, outside the shared area or mask,
    /// chosen apps not focused, desktop-wide shortcuts with app sharing).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Why the most recent dropped event was dropped (for logs).
    pub fn last_drop_reason(&self) -> Option<&'static str> {
        self.last_drop
    }

    /// The wrapped injector.
    pub fn inner(&self) -> &I {
        &self.inner
    }

    fn release_held(&mut self) {
        for k in std::mem::take(&mut self.keys_down) {
            let _ = self.inner.apply(&InputEvent::Key {
                key: k,
                down: false,
            });
        }
        for b in std::mem::take(&mut self.buttons_down) {
            let _ = self.inner.apply(&InputEvent::MouseButton {
                button: b.into(),
                down: false,
            });
        }
    }

    fn drop_event(&mut self, why: &'static str) -> Result<bool, DesktopError> {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        self.last_drop = Some(why);
        tracing::debug!("input dropped: {why}");
        Ok(false)
    }

    /// Whether root pixel (x, y) may receive mouse input.
    fn mouse_allowed(&self, x: i32, y: i32) -> bool {
        if !self.monitor.rect().contains(x, y) {
            return false;
        }
        match &self.mask {
            None => true,
            Some(m) => m.visible_now().map(|r| r.contains(x, y)).unwrap_or(false),
        }
    }

    /// Applies `ev` if allowed. `Ok(true)` = applied, `Ok(false)` = dropped
    /// (and counted).
    pub fn apply(&mut self, ev: &InputEvent) -> Result<bool, DesktopError> {
        self.track_modifiers(ev);
        if !self.switch.is_granted() {
            if !self.keys_down.is_empty() || !self.buttons_down.is_empty() {
                self.release_held();
            }
            return self.drop_event("control not granted");
        }
        match ev {
            InputEvent::MouseMove { x, y } => {
                let rx = x.saturating_add(self.monitor.x);
                let ry = y.saturating_add(self.monitor.y);
                if !self.mouse_allowed(rx, ry) {
                    return self.drop_event("pointer target outside the shared area");
                }
                self.inner.apply(&InputEvent::MouseMove { x: rx, y: ry })?;
            }
            InputEvent::MouseButton { button, down } => {
                let id = ButtonId::from(*button);
                // Releasing what the technician pressed is always allowed.
                if *down || !self.buttons_down.contains(&id) {
                    if self.pointer_shortcut() {
                        return self.drop_event(DROP_SHORTCUT);
                    }
                    let (px, py) = self.inner.pointer()?;
                    if !self.mouse_allowed(px, py) {
                        return self.drop_event("click outside the shared area");
                    }
                }
                self.inner.apply(ev)?;
                if *down {
                    self.buttons_down.insert(id);
                } else {
                    self.buttons_down.remove(&id);
                }
            }
            InputEvent::Wheel { .. } => {
                if self.pointer_shortcut() {
                    return self.drop_event(DROP_SHORTCUT);
                }
                let (px, py) = self.inner.pointer()?;
                if !self.mouse_allowed(px, py) {
                    return self.drop_event("wheel outside the shared area");
                }
                self.inner.apply(ev)?;
            }
            InputEvent::Key { key, down } => {
                let release_of_held = !*down && self.keys_down.contains(key);
                if !release_of_held {
                    if self.mask.is_some()
                        && key_from_name(key)
                            .is_ok_and(|k| shortcuts::is_global_shortcut(self.modifiers(), k))
                    {
                        return self.drop_event(DROP_SHORTCUT);
                    }
                    if !self.keys_allowed() {
                        return self.drop_event("no chosen application has the focus");
                    }
                }
                self.inner.apply(ev)?;
                if *down {
                    self.keys_down.insert(key.clone());
                } else {
                    self.keys_down.remove(key);
                }
            }
            InputEvent::Text { text } => {
                // Typed with the modifiers held: Ctrl+Alt held and "t"
                // typed is Ctrl+Alt+T.
                if self.mask.is_some() {
                    let mods = self.modifiers();
                    if text
                        .chars()
                        .any(|c| shortcuts::is_global_shortcut(mods, key_of_char(c)))
                    {
                        return self.drop_event(DROP_SHORTCUT);
                    }
                }
                if !self.keys_allowed() {
                    return self.drop_event("no chosen application has the focus");
                }
                self.inner.apply(ev)?;
            }
        }
        Ok(true)
    }

    /// Follows the technician's modifier keys, whatever happens to the
    /// events.
    fn track_modifiers(&mut self, ev: &InputEvent) {
        if let InputEvent::Key { key, down } = ev
            && let Ok(k) = key_from_name(key)
            && shortcuts::is_modifier(k)
        {
            if *down {
                self.held_modifiers.insert(k);
            } else {
                self.held_modifiers.remove(&k);
            }
        }
    }

    fn modifiers(&self) -> Modifiers {
        Modifiers::of(&self.held_modifiers)
    }

    /// A pointer button or wheel the window manager would take (app
    /// sharing only).
    fn pointer_shortcut(&self) -> bool {
        self.mask.is_some() && shortcuts::is_global_pointer(self.modifiers())
    }

    fn keys_allowed(&self) -> bool {
        match &self.mask {
            None => true,
            Some(m) => m.chosen_app_has_focus().unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names() {
        assert_eq!(key_from_name("Return").ok(), Some(Key::Return));
        assert_eq!(key_from_name("enter").ok(), Some(Key::Return));
        assert_eq!(key_from_name("F5").ok(), Some(Key::F5));
        assert_eq!(key_from_name("a").ok(), Some(Key::Unicode('a')));
        assert_eq!(key_from_name("€").ok(), Some(Key::Unicode('€')));
        assert_eq!(key_from_name("Control").ok(), Some(Key::Control));
        assert_eq!(key_from_name("ArrowLeft").ok(), Some(Key::LeftArrow));
        assert!(key_from_name("F99").is_err());
        assert!(key_from_name("").is_err());
        assert!(key_from_name("NoSuchKey").is_err());
    }

    /// Records what it was asked to do.
    #[derive(Default)]
    struct Recorder {
        events: Vec<InputEvent>,
        pointer: (i32, i32),
    }

    impl Injector for Recorder {
        fn apply(&mut self, ev: &InputEvent) -> Result<(), DesktopError> {
            if let InputEvent::MouseMove { x, y } = ev {
                self.pointer = (*x, *y);
            }
            self.events.push(ev.clone());
            Ok(())
        }
        fn pointer(&mut self) -> Result<(i32, i32), DesktopError> {
            Ok(self.pointer)
        }
    }

    fn monitor() -> MonitorInfo {
        MonitorInfo {
            index: 1,
            x: 1000,
            y: 0,
            width: 800,
            height: 600,
            primary: false,
        }
    }

    /// Desktop shortcuts are only dropped while chosen applications are
    /// shared (the Xvfb tests cover that): with the whole screen shared the
    /// technician may use the whole desktop.
    #[test]
    fn with_the_whole_screen_shared_shortcuts_pass() {
        let mut g = GuardedInjector::new(Recorder::default(), monitor(), None);
        g.grant();
        let key = |k: &str, down| InputEvent::Key {
            key: k.into(),
            down,
        };
        for ev in [
            key("Super", true),
            key("e", true),
            key("e", false),
            key("Super", false),
            key("Alt", true),
            InputEvent::MouseMove { x: 10, y: 10 },
            InputEvent::MouseButton {
                button: MouseButton::Left,
                down: true,
            },
            key("Tab", true),
            key("Alt", false),
        ] {
            assert!(g.apply(&ev).expect("apply"), "{ev:?}");
        }
        assert_eq!(g.dropped(), 0);
    }

    #[test]
    fn nothing_without_grant_and_revoke_is_immediate() {
        let mut g = GuardedInjector::new(Recorder::default(), monitor(), None);
        let mv = InputEvent::MouseMove { x: 10, y: 20 };
        assert!(!g.apply(&mv).expect("apply"));
        assert_eq!(g.dropped(), 1);
        assert!(g.inner().events.is_empty());
        let sw = g.switch();
        sw.grant();
        assert!(g.apply(&mv).expect("apply"));
        assert_eq!(
            g.inner().events,
            vec![InputEvent::MouseMove { x: 1010, y: 20 }]
        );
        // Outside the shared monitor.
        assert!(
            !g.apply(&InputEvent::MouseMove { x: 900, y: 0 })
                .expect("apply")
        );
        assert!(
            !g.apply(&InputEvent::MouseMove { x: -1, y: 0 })
                .expect("apply")
        );
        // A key held down is released when control is revoked elsewhere.
        let down = InputEvent::Key {
            key: "Shift".into(),
            down: true,
        };
        assert!(g.apply(&down).expect("apply"));
        sw.revoke();
        assert!(
            !g.apply(&InputEvent::Text { text: "x".into() })
                .expect("apply")
        );
        let last = g.inner().events.last().cloned();
        assert_eq!(
            last,
            Some(InputEvent::Key {
                key: "Shift".into(),
                down: false
            })
        );
        assert_eq!(g.dropped(), 4);
    }
}
