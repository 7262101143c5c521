//! The Wayland backend. On Wayland no program may read the screen or
//! inject input by itself: it asks the xdg-desktop-portal, and the desktop
//! shows its own dialog, which becomes part of the customer's consent.
//!
//! * `portal` — one portal session (ScreenCast, with RemoteDesktop when
//!   control is wanted), `persist_mode` 1 and the newest restore token kept
//!   in memory only, so a reconnect never asks again and nothing is written.
//! * `stream` — the PipeWire frames of the portal's stream, with PipeWire's damage.
//! * `eis` — input through the portal's ConnectToEIS (libei protocol).
//! * `notify` — input through the portal's `Notify*` methods, where it
//!   has no ConnectToEIS (GNOME before 46).
//! * `wlr` — input through wlroots' virtual keyboard and pointer (sway),
//!   where there is no RemoteDesktop portal.
//! * `layer` — the watermark as a wlr-layer-shell overlay (sway, KDE);
//!   GNOME has no such layer for ordinary programs.
//! * `keymap` — which key (and level) of an XKB keymap types a character.
//!
//! Chosen at run time by [`is_wayland_session`]; XWayland is not a way
//! around the portal.

pub mod capture;
pub mod eis;
pub mod keymap;
pub mod layer;
pub mod notify;
pub mod portal;
pub mod stream;
pub mod wlr;

/// True when the client runs in a Wayland session (`WAYLAND_DISPLAY` or
/// `XDG_SESSION_TYPE=wayland`): then the portal is the only way to the
/// screen and to input.
pub fn is_wayland_session() -> bool {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    set("WAYLAND_DISPLAY")
        || std::env::var("XDG_SESSION_TYPE").is_ok_and(|t| t.eq_ignore_ascii_case("wayland"))
}
