//! Input through the portal's `Notify*` methods: for a RemoteDesktop
//! portal without ConnectToEIS (GNOME before 46). Keys go as keysyms (the
//! desktop finds the key and level in its own layout), the pointer as
//! absolute positions on the shared stream. The session's first events
//! would be lost, so a harmless one goes first. Calls are sent to the
//! portal thread and not waited for; a refused one is logged there.

use lotse_protocol::{InputEvent, MouseButton};
use tokio::sync::mpsc::UnboundedSender;

use super::keymap::keysym_of_key;
use super::portal::Notify;
use crate::DesktopError;
use crate::input::{Injector, key_from_name};

/// evdev codes of the buttons.
const BTN_LEFT: i32 = 0x110;
const BTN_RIGHT: i32 = 0x111;
const BTN_MIDDLE: i32 = 0x112;

#[derive(Debug)]
pub struct NotifyInjector {
    tx: UnboundedSender<Notify>,
    pointer: (i32, i32),
    /// Keysyms and buttons held now (released on drop).
    held_keys: Vec<i32>,
    held_buttons: Vec<i32>,
}

impl NotifyInjector {
    pub fn new(tx: UnboundedSender<Notify>) -> Result<NotifyInjector, DesktopError> {
        let mut inj = NotifyInjector {
            tx,
            pointer: (0, 0),
            held_keys: Vec::new(),
            held_buttons: Vec::new(),
        };
        inj.send(Notify::Prime)?;
        Ok(inj)
    }

    fn send(&mut self, n: Notify) -> Result<(), DesktopError> {
        self.tx
            .send(n)
            .map_err(|_| DesktopError::Input("the portal session has ended".into()))
    }

    fn key(&mut self, sym: i32, down: bool) -> Result<(), DesktopError> {
        if down {
            self.held_keys.push(sym);
        } else {
            self.held_keys.retain(|k| *k != sym);
        }
        self.send(Notify::Keysym { sym, down })
    }
}

/// The keysym that types `c` (legacy keysyms where X has them, e.g.
/// EuroSign for €, as layouts use them).
fn keysym_of_char(c: char) -> Option<i32> {
    let sym = match c {
        '\n' | '\r' => xkeysym::Keysym::Return,
        '\t' => xkeysym::Keysym::Tab,
        c if c.is_control() => return None,
        c => xkeysym::Keysym::from_char(c),
    };
    i32::try_from(sym.raw()).ok()
}

impl Injector for NotifyInjector {
    fn apply(&mut self, ev: &InputEvent) -> Result<(), DesktopError> {
        match ev {
            InputEvent::MouseMove { x, y } => {
                self.pointer = (*x, *y);
                self.send(Notify::Motion {
                    x: f64::from(*x),
                    y: f64::from(*y),
                })
            }
            InputEvent::MouseButton { button, down } => {
                let code = match button {
                    MouseButton::Left => BTN_LEFT,
                    MouseButton::Right => BTN_RIGHT,
                    MouseButton::Middle => BTN_MIDDLE,
                };
                if *down {
                    self.held_buttons.push(code);
                } else {
                    self.held_buttons.retain(|b| *b != code);
                }
                self.send(Notify::Button { code, down: *down })
            }
            InputEvent::Wheel { dx, dy } => self.send(Notify::Axis { dx: *dx, dy: *dy }),
            InputEvent::Key { key, down } => {
                let sym = keysym_of_key(key_from_name(key)?)
                    .and_then(|s| i32::try_from(s).ok())
                    .ok_or_else(|| DesktopError::UnknownKey(key.clone()))?;
                self.key(sym, *down)
            }
            InputEvent::Text { text } => {
                // All or nothing: check every character first.
                let syms = text
                    .chars()
                    .map(|c| {
                        keysym_of_char(c).ok_or_else(|| {
                            DesktopError::Input(format!(
                                "cannot type {c:?} (U+{:04X})",
                                u32::from(c)
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                for sym in syms {
                    self.send(Notify::Keysym { sym, down: true })?;
                    self.send(Notify::Keysym { sym, down: false })?;
                }
                Ok(())
            }
        }
    }

    fn pointer(&mut self) -> Result<(i32, i32), DesktopError> {
        Ok(self.pointer)
    }
}

impl Drop for NotifyInjector {
    fn drop(&mut self) {
        for sym in std::mem::take(&mut self.held_keys) {
            let _ = self.send(Notify::Keysym { sym, down: false });
        }
        for code in std::mem::take(&mut self.held_buttons) {
            let _ = self.send(Notify::Button { code, down: false });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a German layout needs: Latin-1 letters are their own keysyms,
    /// € is EuroSign (not the Unicode keysym no layout carries).
    #[test]
    fn characters_become_the_keysyms_layouts_use() {
        assert_eq!(keysym_of_char('ü'), Some(0xfc));
        assert_eq!(keysym_of_char('ß'), Some(0xdf));
        assert_eq!(keysym_of_char('€'), Some(0x20ac));
        assert_eq!(keysym_of_char('1'), Some(0x31));
        assert_eq!(keysym_of_char('\n'), Some(0xff0d));
        assert_eq!(keysym_of_char('\u{7}'), None);
    }

    /// Everything goes to the portal thread in order, primed first; held
    /// keys and buttons are released when control ends.
    #[test]
    fn events_go_in_order_after_the_prime_and_held_ones_are_released() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut inj = NotifyInjector::new(tx).expect("injector");
        inj.apply(&InputEvent::MouseMove { x: 10, y: 20 })
            .expect("move");
        inj.apply(&InputEvent::MouseButton {
            button: MouseButton::Left,
            down: true,
        })
        .expect("press");
        inj.apply(&InputEvent::Text { text: "ü".into() })
            .expect("text");
        assert!(
            inj.apply(&InputEvent::Text {
                text: "a\u{7}".into()
            })
            .is_err()
        );
        drop(inj);
        let mut got = Vec::new();
        while let Ok(n) = rx.try_recv() {
            got.push(n);
        }
        assert_eq!(
            got,
            vec![
                Notify::Prime,
                Notify::Motion { x: 10.0, y: 20.0 },
                Notify::Button {
                    code: BTN_LEFT,
                    down: true
                },
                Notify::Keysym {
                    sym: 0xfc,
                    down: true
                },
                Notify::Keysym {
                    sym: 0xfc,
                    down: false
                },
                Notify::Button {
                    code: BTN_LEFT,
                    down: false
                },
            ]
        );
    }
}
