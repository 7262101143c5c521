//! Which key of an XKB keymap types a character or a named key, and which
//! modifier keys must be held for it.
//!
//! On Wayland an input sender sends *key codes*, and the receiver turns
//! them into characters with its own keymap: the EIS keyboard announces
//! that keymap (the customer's layout), and we must find, for each
//! character, the key and level (plain, Shift, AltGr, Shift+AltGr) that
//! produce it there. The keymap is compiled with libxkbcommon, loaded at
//! run time (`xkbcommon-dl`), so the binary has no link-time dependency.
//!
//! The lookup asks an `xkb_state` what each key produces with each
//! modifier combination, fewest modifiers first: exactly what the
//! compositor computes when it receives the keys, including layouts where
//! AltGr is not `Mod5`. Only keycodes X clients can receive are used.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::fd::OwnedFd;
use std::os::raw::c_char;

use enigo::Key;
use xkbcommon_dl::{
    XkbCommon, xkb_context, xkb_context_flags, xkb_key_direction, xkb_keymap,
    xkb_keymap_compile_flags, xkb_keymap_format, xkb_keysym_flags, xkb_rule_names,
    xkb_state_component,
};

use crate::DesktopError;

// Keysyms used here (X11/keysymdef.h).
pub const KEY_RETURN: u32 = 0xff0d;
pub const KEY_TAB: u32 = 0xff09;
pub const KEY_BACKSPACE: u32 = 0xff08;
pub const KEY_SHIFT_L: u32 = 0xffe1;
pub const KEY_ISO_LEVEL3_SHIFT: u32 = 0xfe03;
/// Keysyms of Unicode characters outside Latin-1 are this plus the code
/// point.
const UNICODE_KEYSYM: u32 = 0x0100_0000;

/// xkb keycodes are evdev codes plus 8.
const EVDEV_OFFSET: u32 = 8;
// Evdev codes of the usual modifier keys.
const EV_LEFTSHIFT: u32 = 42;
const EV_RIGHTALT: u32 = 100;
/// The highest keycode X11 (and so XWayland) can carry.
const MAX_X_KEYCODE: u32 = 255;

/// How to type one keysym or character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stroke {
    /// The evdev code of the key (what EIS and the virtual keyboard send).
    pub key: u32,
    /// Evdev codes of the modifier keys to hold around it (Shift, AltGr).
    pub mods: Vec<u32>,
}

/// An XKB keymap reduced to what we need: for each layout, the keys that
/// type each keysym and each character.
#[derive(Debug, Default)]
pub struct Keymap {
    /// (layout, keysym) → stroke.
    syms: HashMap<(u32, u32), Stroke>,
    /// (layout, character) → stroke.
    chars: HashMap<(u32, char), Stroke>,
    layouts: u32,
}

fn xkb() -> Result<&'static XkbCommon, DesktopError> {
    xkbcommon_dl::xkbcommon_option().ok_or_else(|| {
        DesktopError::Input("libxkbcommon (libxkbcommon.so.0) is not installed".into())
    })
}

/// Owns an `xkb_context` and an `xkb_keymap` for the time of indexing.
struct Compiled {
    xkb: &'static XkbCommon,
    ctx: *mut xkb_context,
    keymap: *mut xkb_keymap,
}

impl Drop for Compiled {
    fn drop(&mut self) {
        // SAFETY: both were created by this library and are released once.
        unsafe {
            if !self.keymap.is_null() {
                (self.xkb.xkb_keymap_unref)(self.keymap);
            }
            if !self.ctx.is_null() {
                (self.xkb.xkb_context_unref)(self.ctx);
            }
        }
    }
}

impl Compiled {
    fn context() -> Result<Compiled, DesktopError> {
        let xkb = xkb()?;
        // SAFETY: plain constructor; null is checked.
        let ctx = unsafe { (xkb.xkb_context_new)(xkb_context_flags::XKB_CONTEXT_NO_FLAGS) };
        if ctx.is_null() {
            return Err(DesktopError::Input("cannot create an xkb context".into()));
        }
        Ok(Compiled {
            xkb,
            ctx,
            keymap: std::ptr::null_mut(),
        })
    }

    fn check(self, what: &str) -> Result<Compiled, DesktopError> {
        if self.keymap.is_null() {
            return Err(DesktopError::Input(format!(
                "cannot compile the keymap {what}"
            )));
        }
        Ok(self)
    }
}

/// Compiles a layout's keymap with the system's xkb data.
fn compile_names(layout: &str, variant: &str) -> Result<Compiled, DesktopError> {
    let bad = |_| DesktopError::Input("NUL in a layout name".into());
    let layout_c = CString::new(layout).map_err(bad)?;
    let variant_c = CString::new(variant).map_err(bad)?;
    let names = xkb_rule_names {
        rules: std::ptr::null(),
        model: std::ptr::null(),
        layout: layout_c.as_ptr(),
        variant: if variant.is_empty() {
            std::ptr::null()
        } else {
            variant_c.as_ptr()
        },
        options: std::ptr::null(),
    };
    let mut c = Compiled::context()?;
    // SAFETY: `names` and its strings outlive the call.
    c.keymap = unsafe {
        (c.xkb.xkb_keymap_new_from_names)(
            c.ctx,
            &names,
            xkb_keymap_compile_flags::XKB_KEYMAP_COMPILE_NO_FLAGS,
        )
    };
    c.check(&format!("{layout}({variant})"))
}

/// The XKB text of a layout's keymap (what a compositor would send).
pub fn keymap_text_of(layout: &str, variant: &str) -> Result<String, DesktopError> {
    let c = compile_names(layout, variant)?;
    // SAFETY: a valid keymap; the returned string is malloc'ed and ours.
    unsafe {
        let p = (c.xkb.xkb_keymap_get_as_string)(
            c.keymap,
            xkb_keymap_format::XKB_KEYMAP_FORMAT_TEXT_V1,
        );
        if p.is_null() {
            return Err(DesktopError::Input("cannot print the keymap".into()));
        }
        let text = CStr::from_ptr(p).to_string_lossy().into_owned();
        libc::free(p as *mut libc::c_void);
        Ok(text)
    }
}

impl Keymap {
    /// Compiles the keymap of an XKB layout and variant from the system's
    /// xkb data (`/usr/share/X11/xkb`, Debian package `xkb-data`).
    pub fn from_names(layout: &str, variant: &str) -> Result<Keymap, DesktopError> {
        Ok(Keymap::index(&compile_names(layout, variant)?))
    }

    /// Compiles a keymap in the XKB text format (what Wayland and EIS send).
    pub fn from_text(text: &[u8]) -> Result<Keymap, DesktopError> {
        // The protocol's keymaps end with a NUL; the parser wants the text.
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        let text = &text[..end];
        let mut c = Compiled::context()?;
        // SAFETY: pointer and length describe `text`, which outlives the call.
        c.keymap = unsafe {
            (c.xkb.xkb_keymap_new_from_buffer)(
                c.ctx,
                text.as_ptr().cast::<c_char>(),
                text.len(),
                xkb_keymap_format::XKB_KEYMAP_FORMAT_TEXT_V1,
                xkb_keymap_compile_flags::XKB_KEYMAP_COMPILE_NO_FLAGS,
            )
        };
        Ok(Keymap::index(&c.check("sent by the compositor")?))
    }

    /// Reads a keymap of `size` bytes from a file descriptor (the EIS
    /// keyboard's and Wayland's way to send it). Read with `pread` from
    /// offset 0: the descriptor shares its file offset with the sender.
    pub fn from_fd(fd: OwnedFd, size: usize) -> Result<Keymap, DesktopError> {
        use std::os::unix::fs::FileExt;
        // A keymap is some 100 KB; refuse absurd sizes instead of allocating.
        if size > 16 << 20 {
            return Err(DesktopError::Input(format!("keymap of {size} bytes")));
        }
        let file = std::fs::File::from(fd);
        let mut buf = vec![0u8; size];
        file.read_exact_at(&mut buf, 0)
            .map_err(|e| DesktopError::Input(format!("cannot read the keymap: {e}")))?;
        Keymap::from_text(&buf)
    }

    /// Number of layouts (groups) in the keymap.
    pub fn layouts(&self) -> u32 {
        self.layouts
    }

    /// How to type `c` in `layout`; an error names the character when the
    /// keymap has no key for it.
    pub fn for_char(&self, c: char, layout: u32) -> Result<Stroke, DesktopError> {
        let found = match c {
            '\n' | '\r' => self.for_keysym(KEY_RETURN, layout),
            '\t' => self.for_keysym(KEY_TAB, layout),
            c => self.chars.get(&(layout, c)).cloned(),
        };
        found.ok_or_else(|| {
            DesktopError::Input(format!(
                "the keyboard layout cannot type {c:?} (U+{:04X})",
                u32::from(c)
            ))
        })
    }

    /// How to type a keysym in `layout`.
    pub fn for_keysym(&self, keysym: u32, layout: u32) -> Option<Stroke> {
        self.syms.get(&(layout, keysym)).cloned()
    }

    /// How to press the key a technician named (see
    /// [`crate::input::key_from_name`]: the same names, so the guard's
    /// shortcut table sees every key we can press).
    pub fn for_key_name(&self, name: &str, layout: u32) -> Result<Stroke, DesktopError> {
        let key = crate::input::key_from_name(name)?;
        if let Key::Unicode(c) = key {
            return self.for_char(c, layout);
        }
        let sym = keysym_of_key(key)
            .ok_or_else(|| DesktopError::UnknownKey(name.chars().take(32).collect()))?;
        self.for_keysym(sym, layout)
            .ok_or_else(|| DesktopError::Input(format!("the keyboard layout has no key {name:?}")))
    }

    fn index(c: &Compiled) -> Keymap {
        let (xkb, km) = (c.xkb, c.keymap);
        // SAFETY: `km` is a valid keymap for the whole function; every
        // state created here is released here.
        unsafe {
            let min = (xkb.xkb_keymap_min_keycode)(km).max(EVDEV_OFFSET);
            // Keys above 255 (like the evdev keymap's KEY_EURO, 443) never
            // reach X clients under XWayland: typing through them would be
            // lost there silently, so they are not used.
            let max = (xkb.xkb_keymap_max_keycode)(km).min(MAX_X_KEYCODE);
            let layouts = (xkb.xkb_keymap_num_layouts)(km).max(1);
            // The key with `sym` at its first level in layout 0: finds the
            // modifier keys. The key of a real keyboard first (left Shift,
            // right Alt), not a virtual one like <LVL3>.
            let has_plain = |kc: u32, sym: u32| {
                let mut syms: *const u32 = std::ptr::null();
                let n = (xkb.xkb_keymap_key_get_syms_by_level)(km, kc, 0, 0, &mut syms);
                n == 1 && !syms.is_null() && *syms == sym
            };
            let plain_key_of = |sym: u32, usual: u32| {
                std::iter::once(usual + EVDEV_OFFSET)
                    .chain(min..=max)
                    .find(|&kc| has_plain(kc, sym))
            };
            // The modifier mask a key really sets when pressed.
            let mask_of = |kc: u32| {
                let st = (xkb.xkb_state_new)(km);
                if st.is_null() {
                    return 0;
                }
                (xkb.xkb_state_update_key)(st, kc, xkb_key_direction::XKB_KEY_DOWN);
                let m = (xkb.xkb_state_serialize_mods)(
                    st,
                    xkb_state_component::XKB_STATE_MODS_DEPRESSED,
                );
                (xkb.xkb_state_unref)(st);
                m
            };
            let mut combos: Vec<(u32, Vec<u32>)> = vec![(0, Vec::new())];
            let shift = plain_key_of(KEY_SHIFT_L, EV_LEFTSHIFT).map(|kc| (kc, mask_of(kc)));
            let level3 =
                plain_key_of(KEY_ISO_LEVEL3_SHIFT, EV_RIGHTALT).map(|kc| (kc, mask_of(kc)));
            if let Some((kc, m)) = shift {
                combos.push((m, vec![kc - EVDEV_OFFSET]));
            }
            if let Some((kc, m)) = level3 {
                combos.push((m, vec![kc - EVDEV_OFFSET]));
                if let Some((skc, sm)) = shift {
                    combos.push((m | sm, vec![skc - EVDEV_OFFSET, kc - EVDEV_OFFSET]));
                }
            }
            let mut out = Keymap {
                layouts,
                ..Keymap::default()
            };
            let st = (xkb.xkb_state_new)(km);
            if st.is_null() {
                return out;
            }
            for layout in 0..layouts {
                for (mask, mods) in &combos {
                    (xkb.xkb_state_update_mask)(st, *mask, 0, 0, 0, 0, layout);
                    for kc in min..=max {
                        let sym = (xkb.xkb_state_key_get_one_sym)(st, kc);
                        if sym == 0 {
                            continue;
                        }
                        let stroke = || Stroke {
                            key: kc - EVDEV_OFFSET,
                            mods: mods.clone(),
                        };
                        out.syms.entry((layout, sym)).or_insert_with(stroke);
                        if let Some(ch) = char::from_u32((xkb.xkb_keysym_to_utf32)(sym))
                            && !ch.is_control()
                        {
                            out.chars.entry((layout, ch)).or_insert_with(stroke);
                        }
                    }
                }
            }
            (xkb.xkb_state_unref)(st);
            out
        }
    }
}

/// The keysym a character has in a keymap we write ourselves: Latin-1 is
/// its own keysym (so `c` is `XK_c` and shortcuts work), everything else
/// the Unicode keysym.
pub fn keysym_of_char(c: char) -> Option<u32> {
    let cp = u32::from(c);
    match c {
        '\n' | '\r' => Some(KEY_RETURN),
        '\t' => Some(KEY_TAB),
        c if c.is_control() => None,
        _ if (0x20..0x7f).contains(&cp) || (0xa0..=0xff).contains(&cp) => Some(cp),
        _ => Some(UNICODE_KEYSYM | cp),
    }
}

/// The keysym of a named key (the names `key_from_name` accepts).
pub fn keysym_of_key(key: Key) -> Option<u32> {
    let name = match key {
        Key::Unicode(c) => return keysym_of_char(c),
        Key::Return => "Return",
        Key::Backspace => "BackSpace",
        Key::Tab => "Tab",
        Key::Escape => "Escape",
        Key::Space => "space",
        Key::Delete => "Delete",
        Key::Insert => "Insert",
        Key::Home => "Home",
        Key::End => "End",
        Key::PageUp => "Prior",
        Key::PageDown => "Next",
        Key::LeftArrow => "Left",
        Key::RightArrow => "Right",
        Key::UpArrow => "Up",
        Key::DownArrow => "Down",
        Key::Shift | Key::LShift => "Shift_L",
        Key::RShift => "Shift_R",
        Key::Control | Key::LControl => "Control_L",
        Key::RControl => "Control_R",
        Key::Alt => "Alt_L",
        Key::Meta => "Super_L",
        Key::CapsLock => "Caps_Lock",
        Key::Numlock => "Num_Lock",
        Key::PrintScr => "Print",
        Key::F1 => "F1",
        Key::F2 => "F2",
        Key::F3 => "F3",
        Key::F4 => "F4",
        Key::F5 => "F5",
        Key::F6 => "F6",
        Key::F7 => "F7",
        Key::F8 => "F8",
        Key::F9 => "F9",
        Key::F10 => "F10",
        Key::F11 => "F11",
        Key::F12 => "F12",
        Key::F13 => "F13",
        Key::F14 => "F14",
        Key::F15 => "F15",
        Key::F16 => "F16",
        Key::F17 => "F17",
        Key::F18 => "F18",
        Key::F19 => "F19",
        Key::F20 => "F20",
        _ => return None,
    };
    keysym_from_name(name)
}

/// `xkb_keysym_from_name` (exact spelling).
pub fn keysym_from_name(name: &str) -> Option<u32> {
    let xkb = xkb().ok()?;
    let c = CString::new(name).ok()?;
    // SAFETY: `c` outlives the call.
    let sym =
        unsafe { (xkb.xkb_keysym_from_name)(c.as_ptr(), xkb_keysym_flags::XKB_KEYSYM_NO_FLAGS) };
    (sym != 0).then_some(sym)
}

/// `xkb_keysym_get_name`: the name a keymap text uses for `sym`.
pub fn keysym_name(sym: u32) -> Option<String> {
    let xkb = xkb().ok()?;
    let mut buf = [0 as c_char; 64];
    // SAFETY: the buffer and its length match.
    let n = unsafe { (xkb.xkb_keysym_get_name)(sym, buf.as_mut_ptr(), buf.len()) };
    if n <= 0 {
        return None;
    }
    // SAFETY: xkb wrote a NUL-terminated string into `buf`.
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
    s.to_str().ok().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Evdev codes (linux/input-event-codes.h).
    const KEY_E: u32 = 18;
    const KEY_1: u32 = 2;
    const KEY_LEFTSHIFT: u32 = 42;
    const KEY_RIGHTALT: u32 = 100;
    const KEY_LEFTBRACE: u32 = 26; // de: ü
    const KEY_MINUS: u32 = 12; // de: ß
    const KEY_G: u32 = 34;
    const KEY_COMMA: u32 = 51;
    const KEY_SPACE: u32 = 57;
    const KEY_ENTER: u32 = 28;

    fn plain(key: u32) -> Stroke {
        Stroke { key, mods: vec![] }
    }

    /// Needs libxkbcommon and the xkb data (Debian: `libxkbcommon0`,
    /// `xkb-data`).
    #[test]
    fn german_layout_types_the_test_sentence() {
        let de = Keymap::from_names("de", "").expect("de keymap");
        let strokes: Vec<Stroke> = "Grüße, 123 €\n"
            .chars()
            .map(|c| de.for_char(c, 0).expect("typable on de"))
            .collect();
        let shift = vec![KEY_LEFTSHIFT];
        let altgr = vec![KEY_RIGHTALT];
        assert_eq!(
            strokes[0],
            Stroke {
                key: KEY_G,
                mods: shift
            }
        );
        assert_eq!(strokes[2], plain(KEY_LEFTBRACE), "ü is a plain key on de");
        assert_eq!(strokes[3], plain(KEY_MINUS), "ß is a plain key on de");
        assert_eq!(strokes[4], plain(KEY_E));
        assert_eq!(strokes[5], plain(KEY_COMMA));
        assert_eq!(strokes[6], plain(KEY_SPACE));
        assert_eq!(strokes[7], plain(KEY_1));
        assert_eq!(
            strokes[11],
            Stroke {
                key: KEY_E,
                mods: altgr
            },
            "€ is AltGr+e"
        );
        assert_eq!(strokes[12], plain(KEY_ENTER));
        // Named keys, with the names the guard knows.
        assert_eq!(
            de.for_key_name("Return", 0).expect("Return"),
            plain(KEY_ENTER)
        );
        assert_eq!(
            de.for_key_name("Shift", 0).expect("Shift"),
            plain(KEY_LEFTSHIFT)
        );
        assert_eq!(de.for_key_name("ß", 0).expect("ß"), plain(KEY_MINUS));
        assert!(matches!(
            de.for_key_name("Hyper_L", 0),
            Err(DesktopError::UnknownKey(_))
        ));
    }

    #[test]
    fn us_layout_cannot_type_umlauts_or_euro() {
        let us = Keymap::from_names("us", "").expect("us keymap");
        let failing: String = "Grüße, 123 €"
            .chars()
            .filter(|&c| us.for_char(c, 0).is_err())
            .collect();
        assert_eq!(failing, "üß€");
        let err = us.for_char('€', 0).expect_err("no € on us");
        assert!(err.to_string().contains("U+20AC"), "{err}");
        // `y` and `z` swap places between us and de.
        assert_eq!(us.for_char('z', 0).expect("z").key, 44);
        // Out of range layouts fail cleanly.
        assert!(us.for_char('a', 7).is_err());
    }

    #[test]
    fn second_layout_is_indexed() {
        let km = Keymap::from_names("us,de", "").expect("us,de keymap");
        assert_eq!(km.layouts(), 2);
        assert!(km.for_char('ü', 0).is_err());
        assert_eq!(km.for_char('ü', 1).expect("ü on de"), plain(KEY_LEFTBRACE));
    }

    #[test]
    fn keymap_text_round_trip_and_garbage() {
        assert!(Keymap::from_text(b"no keymap at all").is_err());
        assert!(Keymap::from_text(b"").is_err());
        assert_eq!(keysym_of_char('c'), Some(0x63));
        assert_eq!(keysym_of_char('ü'), Some(0xfc));
        assert_eq!(keysym_of_char('€'), Some(0x0100_20ac));
        assert_eq!(keysym_of_char('\u{7}'), None);
        assert_eq!(keysym_name(0xfc).as_deref(), Some("udiaeresis"));
        assert_eq!(keysym_from_name("Return"), Some(KEY_RETURN));
    }
}
