//! Input on wlroots compositors (sway), which have no RemoteDesktop portal:
//! one `zwp_virtual_keyboard_v1` and one `zwlr_virtual_pointer_v1`, kept
//! for the injector's whole life (a headless seat has no keyboard or
//! pointer until a device exists, and short-lived devices lose events).
//!
//! The keyboard's keymap is our own, wtype-style: every keysym we need
//! sits alone on its own key at level 1, and a character not seen before
//! is added and the keymap uploaded again. So any Unicode text can be
//! typed whatever the customer's layout, without Shift or AltGr (which
//! apps could read as shortcuts). Letters and Latin-1 keep their classic
//! keysyms, so Ctrl+c is still `Control` + `c` for applications.
//! Modifiers are sent explicitly with `modifiers()`: wlroots derives no
//! modifier state from a virtual keyboard's keys.

use std::collections::HashSet;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use lotse_protocol::{InputEvent, MouseButton};
use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::wl_output::{self, WlOutput};
use wayland_client::protocol::wl_pointer::{Axis, AxisSource, ButtonState};
use wayland_client::protocol::wl_registry::WlRegistry;
use wayland_client::protocol::wl_seat::WlSeat;
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle, WEnum, delegate_noop};
use wayland_protocols::xdg::xdg_output::zv1::client::zxdg_output_manager_v1::ZxdgOutputManagerV1;
use wayland_protocols::xdg::xdg_output::zv1::client::zxdg_output_v1::{self, ZxdgOutputV1};
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1;
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1;
use wayland_protocols_wlr::virtual_pointer::v1::client::zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1;
use wayland_protocols_wlr::virtual_pointer::v1::client::zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1;

use crate::DesktopError;
use crate::input::{Injector, key_from_name};
use crate::wayland::keymap::{keysym_name, keysym_of_char, keysym_of_key};

// Evdev button codes.
const BTN_LEFT: u32 = 0x110;
const BTN_RIGHT: u32 = 0x111;
const BTN_MIDDLE: u32 = 0x112;
/// `wl_pointer` axis units per wheel detent (libinput's 15°).
const AXIS_PER_DETENT: f64 = 15.0;

// Real modifier bits of every xkb keymap (Shift, Lock, Control, Mod1…Mod5).
const MOD_SHIFT: u32 = 1 << 0;
const MOD_CONTROL: u32 = 1 << 2;
const MOD_ALT: u32 = 1 << 3;
const MOD_LOGO: u32 = 1 << 6;

/// Keysyms always in the keymap: the modifiers and the named keys. Typed
/// characters are appended after them.
const BASE_KEYS: &[&str] = &[
    "Shift_L",
    "Shift_R",
    "Control_L",
    "Control_R",
    "Alt_L",
    "Super_L",
    "Return",
    "BackSpace",
    "Tab",
    "Escape",
    "space",
    "Delete",
    "Insert",
    "Home",
    "End",
    "Prior",
    "Next",
    "Left",
    "Right",
    "Up",
    "Down",
    "Caps_Lock",
    "Num_Lock",
    "Print",
    "F1",
    "F2",
    "F3",
    "F4",
    "F5",
    "F6",
    "F7",
    "F8",
    "F9",
    "F10",
    "F11",
    "F12",
    "F13",
    "F14",
    "F15",
    "F16",
    "F17",
    "F18",
    "F19",
    "F20",
];

/// X clients (XWayland) see keycodes up to 255 only: 247 keys from 9.
const MAX_KEYS: usize = 247;

/// Our keymap: key `i` (evdev code `i + 1`, xkb keycode `i + 9`) has the
/// single keysym `syms[i]`.
#[derive(Debug, Clone)]
pub(crate) struct GeneratedKeymap {
    syms: Vec<u32>,
    base: usize,
}

impl GeneratedKeymap {
    pub(crate) fn new() -> Result<GeneratedKeymap, DesktopError> {
        let syms = BASE_KEYS
            .iter()
            .map(|n| {
                crate::wayland::keymap::keysym_from_name(n)
                    .ok_or_else(|| DesktopError::Input(format!("libxkbcommon does not know {n}")))
            })
            .collect::<Result<Vec<u32>, _>>()?;
        Ok(GeneratedKeymap {
            base: syms.len(),
            syms,
        })
    }

    /// The evdev code of the key holding `sym`.
    pub(crate) fn code_of(&self, sym: u32) -> Option<u32> {
        let i = self.syms.iter().position(|&s| s == sym)?;
        u32::try_from(i + 1).ok()
    }

    /// Makes room for `syms`; true when the keymap changed (upload it).
    /// When full, it starts again from the base keys.
    pub(crate) fn add(&mut self, syms: &[u32]) -> Result<bool, DesktopError> {
        let missing: Vec<u32> = {
            let mut seen = HashSet::new();
            syms.iter()
                .copied()
                .filter(|s| !self.syms.contains(s) && seen.insert(*s))
                .collect()
        };
        if missing.is_empty() {
            return Ok(false);
        }
        if self.syms.len() + missing.len() > MAX_KEYS {
            self.syms.truncate(self.base);
            if self.base + missing.len() > MAX_KEYS {
                return Err(DesktopError::Input(format!(
                    "text with more than {} different characters",
                    MAX_KEYS - self.base
                )));
            }
        }
        self.syms.extend(missing);
        Ok(true)
    }

    /// The keymap in XKB text format.
    pub(crate) fn text(&self) -> Result<String, DesktopError> {
        let mut keycodes = String::new();
        let mut symbols = String::new();
        for (i, sym) in self.syms.iter().enumerate() {
            let name = keysym_name(*sym)
                .ok_or_else(|| DesktopError::Input(format!("no name for keysym {sym:#x}")))?;
            keycodes.push_str(&format!("    <K{i}> = {};\n", i + 9));
            symbols.push_str(&format!("    key <K{i}> {{ [ {name} ] }};\n"));
        }
        // Which keys are modifiers: the compat rules ("complete") turn
        // these keysyms into modifier actions.
        let keys_of = |names: &[&str]| {
            names
                .iter()
                .filter_map(|n| crate::wayland::keymap::keysym_from_name(n))
                .filter_map(|s| self.syms.iter().position(|&x| x == s))
                .map(|i| format!("<K{i}>"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for (m, names) in [
            ("Shift", &["Shift_L", "Shift_R"][..]),
            ("Control", &["Control_L", "Control_R"][..]),
            ("Mod1", &["Alt_L"][..]),
            ("Mod4", &["Super_L"][..]),
            ("Lock", &["Caps_Lock"][..]),
            ("Mod2", &["Num_Lock"][..]),
        ] {
            symbols.push_str(&format!("    modifier_map {m} {{ {} }};\n", keys_of(names)));
        }
        Ok(format!(
            "xkb_keymap {{\n\
             xkb_keycodes \"lotse\" {{\n    minimum = 8;\n    maximum = 255;\n{keycodes}}};\n\
             xkb_types \"lotse\" {{ include \"complete\" }};\n\
             xkb_compat \"lotse\" {{ include \"complete\" }};\n\
             xkb_symbols \"lotse\" {{\n{symbols}}};\n\
             }};\n"
        ))
    }
}

/// The modifier bit a key sets, for the named modifier keys.
fn modifier_bit(sym_name: &str) -> u32 {
    match sym_name {
        "Shift_L" | "Shift_R" => MOD_SHIFT,
        "Control_L" | "Control_R" => MOD_CONTROL,
        "Alt_L" => MOD_ALT,
        "Super_L" => MOD_LOGO,
        _ => 0,
    }
}

/// An output as `wl_output` describes it (mode in physical pixels; wlroots
/// always says position 0,0) and, where the compositor has xdg-output, its
/// logical place in the layout.
#[derive(Debug, Default, Clone, Copy)]
struct Output {
    x: i32,
    y: i32,
    width: i32,
    height: i32,
    scale: i32,
    /// Logical position and size (xdg-output).
    logical: Option<(i32, i32, i32, i32)>,
}

impl Output {
    /// Its rectangle in the layout, logical pixels.
    fn rect(&self) -> Option<(i32, i32, i32, i32)> {
        if let Some(r) = self.logical
            && r.2 > 0
            && r.3 > 0
        {
            return Some(r);
        }
        let s = self.scale.max(1);
        (self.width > 0 && self.height > 0).then_some((
            self.x,
            self.y,
            self.width / s,
            self.height / s,
        ))
    }
}

#[derive(Debug, Default)]
struct State {
    outputs: Vec<Output>,
}

impl Dispatch<WlRegistry, GlobalListContents> for State {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: <WlRegistry as wayland_client::Proxy>::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        // Outputs appearing later are not followed: the shared monitor is
        // fixed for the session.
    }
}

impl Dispatch<WlOutput, usize> for State {
    fn event(
        state: &mut Self,
        _: &WlOutput,
        event: wl_output::Event,
        idx: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some(o) = state.outputs.get_mut(*idx) else {
            return;
        };
        match event {
            wl_output::Event::Geometry { x, y, .. } => {
                o.x = x;
                o.y = y;
            }
            wl_output::Event::Mode {
                flags: WEnum::Value(f),
                width,
                height,
                ..
            } if f.contains(wl_output::Mode::Current) => {
                o.width = width;
                o.height = height;
            }
            wl_output::Event::Scale { factor } => o.scale = factor,
            _ => {}
        }
    }
}

impl Dispatch<ZxdgOutputV1, usize> for State {
    fn event(
        state: &mut Self,
        _: &ZxdgOutputV1,
        event: zxdg_output_v1::Event,
        idx: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some(o) = state.outputs.get_mut(*idx) else {
            return;
        };
        let mut r = o.logical.unwrap_or_default();
        match event {
            zxdg_output_v1::Event::LogicalPosition { x, y } => (r.0, r.1) = (x, y),
            zxdg_output_v1::Event::LogicalSize { width, height } => (r.2, r.3) = (width, height),
            _ => return,
        }
        o.logical = Some(r);
    }
}

delegate_noop!(State: ignore WlSeat);
delegate_noop!(State: ZxdgOutputManagerV1);
delegate_noop!(State: ZwpVirtualKeyboardManagerV1);
delegate_noop!(State: ZwpVirtualKeyboardV1);
delegate_noop!(State: ZwlrVirtualPointerManagerV1);
delegate_noop!(State: ZwlrVirtualPointerV1);

fn wl_err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> DesktopError + '_ {
    move |e| DesktopError::Input(format!("{what}: {e}"))
}

/// The globals the injector needs.
const NEEDED: &[&str] = &[
    "zwp_virtual_keyboard_manager_v1",
    "zwlr_virtual_pointer_manager_v1",
    "wl_seat",
];

/// Virtual keyboard and pointer of a wlroots compositor.
pub struct WlrInjector {
    conn: Connection,
    queue: EventQueue<State>,
    state: State,
    keyboard: ZwpVirtualKeyboardV1,
    pointer: ZwlrVirtualPointerV1,
    keymap: GeneratedKeymap,
    /// The keymap's file, kept until the next upload.
    _keymap_fd: OwnedFd,
    /// Modifier bits held by the technician (sent with `modifiers()`).
    mods: u32,
    keys_down: HashSet<u32>,
    buttons_down: HashSet<u32>,
    pos: (i32, i32),
    start: Instant,
}

impl std::fmt::Debug for WlrInjector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WlrInjector")
            .field("outputs", &self.state.outputs)
            .field("pointer", &self.pos)
            .finish_non_exhaustive()
    }
}

impl WlrInjector {
    /// True when the compositor of `$WAYLAND_DISPLAY` offers both virtual
    /// device protocols (wlroots compositors like sway).
    pub fn available() -> bool {
        super::compositor_offers(NEEDED)
    }

    /// Connects to `$WAYLAND_DISPLAY` and creates the two virtual devices.
    pub fn connect() -> Result<WlrInjector, DesktopError> {
        let conn = Connection::connect_to_env().map_err(|e| wl_err("no Wayland display")(&e))?;
        let (globals, mut queue) =
            registry_queue_init::<State>(&conn).map_err(|e| wl_err("Wayland registry")(&e))?;
        let qh = queue.handle();
        let seat: WlSeat = globals
            .bind(&qh, 1..=1, ())
            .map_err(|e| wl_err("no wl_seat")(&e))?;
        let kbd_mgr: ZwpVirtualKeyboardManagerV1 = globals
            .bind(&qh, 1..=1, ())
            .map_err(|e| wl_err("no virtual keyboard (zwp_virtual_keyboard_manager_v1)")(&e))?;
        let ptr_mgr: ZwlrVirtualPointerManagerV1 = globals
            .bind(&qh, 1..=1, ())
            .map_err(|e| wl_err("no virtual pointer (zwlr_virtual_pointer_manager_v1)")(&e))?;
        let mut state = State::default();
        let outputs: Vec<(u32, u32)> = globals.contents().with_list(|list| {
            list.iter()
                .filter(|g| g.interface == "wl_output")
                .map(|g| (g.name, g.version))
                .collect()
        });
        // Where outputs sit in the layout: xdg-output knows, wl_output not
        // on wlroots.
        let xdg: Option<ZxdgOutputManagerV1> = globals.bind(&qh, 2..=3, ()).ok();
        for (i, (name, version)) in outputs.into_iter().enumerate() {
            state.outputs.push(Output {
                scale: 1,
                ..Output::default()
            });
            let output: WlOutput = globals.registry().bind(name, version.min(2), &qh, i);
            if let Some(m) = &xdg {
                let _ = m.get_xdg_output(&output, &qh, i);
            }
        }
        let keyboard = kbd_mgr.create_virtual_keyboard(&seat, &qh, ());
        let pointer = ptr_mgr.create_virtual_pointer(Some(&seat), &qh, ());
        let keymap = GeneratedKeymap::new()?;
        // The protocol requires a keymap before the first key.
        let fd = upload_keymap(&keyboard, &keymap)?;
        // Output sizes arrive, and errors (a refused device) show up here.
        queue
            .roundtrip(&mut state)
            .map_err(|e| wl_err("virtual devices refused")(&e))?;
        if state.outputs.iter().all(|o| o.rect().is_none()) {
            return Err(DesktopError::Input(
                "the compositor reports no output".into(),
            ));
        }
        Ok(WlrInjector {
            conn,
            queue,
            state,
            keyboard,
            pointer,
            keymap,
            _keymap_fd: fd,
            mods: 0,
            keys_down: HashSet::new(),
            buttons_down: HashSet::new(),
            pos: (0, 0),
            start: Instant::now(),
        })
    }

    /// The output layout's bounding box in logical pixels: absolute motion
    /// without a mapped output spans it.
    fn layout_box(&self) -> (i32, i32, i32, i32) {
        let (mut x0, mut y0, mut x1, mut y1) = (i32::MAX, i32::MAX, i32::MIN, i32::MIN);
        for (x, y, w, h) in self.state.outputs.iter().filter_map(Output::rect) {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x + w);
            y1 = y1.max(y + h);
        }
        (x0, y0, x1, y1)
    }

    fn time(&self) -> u32 {
        // Milliseconds, wrapping like every Wayland timestamp.
        self.start.elapsed().as_millis() as u32
    }

    fn key(&mut self, code: u32, down: bool) {
        let t = self.time();
        self.keyboard.key(t, code, u32::from(down));
    }

    fn send_modifiers(&self) {
        self.keyboard.modifiers(self.mods, 0, 0, 0);
    }

    /// Sends what is buffered and handles what the compositor sent (so its
    /// socket never fills), without blocking.
    fn flush(&mut self) -> Result<(), DesktopError> {
        self.conn
            .flush()
            .map_err(|e| wl_err("the compositor connection broke")(&e))?;
        if let Some(guard) = self.queue.prepare_read() {
            match guard.read() {
                Ok(_) => {}
                Err(wayland_client::backend::WaylandError::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(wl_err("the compositor connection broke")(&e)),
            }
        }
        self.queue
            .dispatch_pending(&mut self.state)
            .map_err(|e| wl_err("the compositor connection broke")(&e))?;
        Ok(())
    }

    /// Adds keysyms to the keymap, uploading it when it changed.
    fn ensure_keys(&mut self, syms: &[u32]) -> Result<(), DesktopError> {
        if self.keymap.add(syms)? {
            self._keymap_fd = upload_keymap(&self.keyboard, &self.keymap)?;
        }
        Ok(())
    }

    fn type_text(&mut self, text: &str) -> Result<(), DesktopError> {
        let syms = text
            .chars()
            .map(|c| {
                keysym_of_char(c).ok_or_else(|| {
                    DesktopError::Input(format!("cannot type the control character {c:?}"))
                })
            })
            .collect::<Result<Vec<u32>, _>>()?;
        for chunk in syms.chunks(MAX_KEYS - self.keymap.base) {
            self.ensure_keys(chunk)?;
            for sym in chunk {
                let code = self
                    .keymap
                    .code_of(*sym)
                    .ok_or_else(|| DesktopError::Input(format!("keysym {sym:#x} missing")))?;
                self.key(code, true);
                self.key(code, false);
            }
        }
        Ok(())
    }

    fn named_key(&mut self, name: &str, down: bool) -> Result<(), DesktopError> {
        let key = key_from_name(name)?;
        let sym = keysym_of_key(key)
            .ok_or_else(|| DesktopError::UnknownKey(name.chars().take(32).collect()))?;
        self.ensure_keys(&[sym])?;
        let code = self
            .keymap
            .code_of(sym)
            .ok_or_else(|| DesktopError::Input(format!("keysym {sym:#x} missing")))?;
        let bit = keysym_name(sym).map_or(0, |n| modifier_bit(&n));
        self.key(code, down);
        if down {
            self.keys_down.insert(code);
        } else {
            self.keys_down.remove(&code);
        }
        if bit != 0 {
            if down {
                self.mods |= bit;
            } else {
                self.mods &= !bit;
            }
            self.send_modifiers();
        }
        Ok(())
    }
}

/// Writes the keymap into a memfd and hands it to the compositor.
fn upload_keymap(
    keyboard: &ZwpVirtualKeyboardV1,
    keymap: &GeneratedKeymap,
) -> Result<OwnedFd, DesktopError> {
    let mut text = keymap.text()?.into_bytes();
    text.push(0);
    let fd = memfd("lotse-keymap")?;
    let mut file = std::fs::File::from(fd);
    file.write_all(&text)
        .map_err(|e| DesktopError::Input(format!("cannot write the keymap: {e}")))?;
    let size =
        u32::try_from(text.len()).map_err(|_| DesktopError::Input("keymap too large".into()))?;
    // 1 = WL_KEYBOARD_KEYMAP_FORMAT_XKB_V1
    keyboard.keymap(1, file.as_fd(), size);
    Ok(OwnedFd::from(file))
}

/// An anonymous in-memory file (for keymaps and shm buffers).
pub(crate) fn memfd(name: &str) -> Result<OwnedFd, DesktopError> {
    use std::os::fd::FromRawFd;
    let cname = std::ffi::CString::new(name)
        .map_err(|_| DesktopError::Input("NUL in a memfd name".into()))?;
    // SAFETY: a valid C string; the result is checked and owned once.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(DesktopError::Input(format!(
            "memfd_create: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Injector for WlrInjector {
    fn apply(&mut self, ev: &InputEvent) -> Result<(), DesktopError> {
        match ev {
            InputEvent::MouseMove { x, y } => {
                let (x0, y0, x1, y1) = self.layout_box();
                let (w, h) = (x1 - x0, y1 - y0);
                if w <= 0 || h <= 0 {
                    return Err(DesktopError::Input(
                        "no output to move the pointer on".into(),
                    ));
                }
                let px = (x - x0).clamp(0, w - 1);
                let py = (y - y0).clamp(0, h - 1);
                let t = self.time();
                // Extents are the layout's size: wlroots maps x/extent over it.
                self.pointer
                    .motion_absolute(t, px as u32, py as u32, w as u32, h as u32);
                self.pointer.frame();
                self.pos = (px + x0, py + y0);
            }
            InputEvent::MouseButton { button, down } => {
                let code = match button {
                    MouseButton::Left => BTN_LEFT,
                    MouseButton::Middle => BTN_MIDDLE,
                    MouseButton::Right => BTN_RIGHT,
                };
                let state = if *down {
                    self.buttons_down.insert(code);
                    ButtonState::Pressed
                } else {
                    self.buttons_down.remove(&code);
                    ButtonState::Released
                };
                let t = self.time();
                self.pointer.button(t, code, state);
                self.pointer.frame();
            }
            InputEvent::Wheel { dx, dy } => {
                let t = self.time();
                self.pointer.axis_source(AxisSource::Wheel);
                for (axis, d) in [(Axis::VerticalScroll, *dy), (Axis::HorizontalScroll, *dx)] {
                    if d != 0 {
                        self.pointer
                            .axis_discrete(t, axis, AXIS_PER_DETENT * f64::from(d), d);
                    }
                }
                self.pointer.frame();
            }
            InputEvent::Key { key, down } => self.named_key(key, *down)?,
            InputEvent::Text { text } => self.type_text(text)?,
        }
        self.flush()
    }

    fn pointer(&mut self) -> Result<(i32, i32), DesktopError> {
        Ok(self.pos)
    }
}

impl Drop for WlrInjector {
    fn drop(&mut self) {
        for code in std::mem::take(&mut self.keys_down) {
            self.key(code, false);
        }
        for code in std::mem::take(&mut self.buttons_down) {
            let t = self.time();
            self.pointer.button(t, code, ButtonState::Released);
            self.pointer.frame();
        }
        self.mods = 0;
        self.send_modifiers();
        self.pointer.destroy();
        self.keyboard.destroy();
        // Make sure the releases reach the compositor before we go.
        let _ = self.queue.roundtrip(&mut self.state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wayland::keymap::Keymap;

    /// The generated keymap compiles, and each key types its keysym.
    #[test]
    fn generated_keymap_compiles_and_types_any_text() {
        let mut km = GeneratedKeymap::new().expect("base keymap");
        let text = "Grüße, 123 € 日本";
        let syms: Vec<u32> = text.chars().filter_map(keysym_of_char).collect();
        assert!(km.add(&syms).expect("room"));
        assert!(!km.add(&syms).expect("room"), "no change the second time");
        let compiled = Keymap::from_text(km.text().expect("text").as_bytes()).expect("compiles");
        for c in text.chars() {
            let stroke = compiled.for_char(c, 0).expect("typable");
            assert!(stroke.mods.is_empty(), "{c} needs no modifier");
            let sym = keysym_of_char(c).expect("keysym");
            assert_eq!(Some(stroke.key), km.code_of(sym), "{c}");
        }
        // Shift is a real modifier in it.
        let shift = compiled.for_key_name("Shift", 0).expect("Shift");
        assert_eq!(Some(shift.key), km.code_of(0xffe1));
    }

    #[test]
    fn a_full_keymap_starts_again() {
        let mut km = GeneratedKeymap::new().expect("base keymap");
        let many: Vec<u32> = (0x4e00..0x4e00 + 200).map(|cp| 0x0100_0000 | cp).collect();
        assert!(km.add(&many).expect("room"));
        let more: Vec<u32> = (0x5e00..0x5e00 + 100).map(|cp| 0x0100_0000 | cp).collect();
        assert!(km.add(&more).expect("room after reset"));
        assert!(km.code_of(more[0]).is_some());
        assert!(km.code_of(many[0]).is_none());
        assert!(km.syms.len() <= MAX_KEYS);
        let too_many: Vec<u32> = (0x6000..0x6000 + 300).map(|cp| 0x0100_0000 | cp).collect();
        assert!(km.add(&too_many).is_err());
    }
}
