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

/// Waits until `fd` or `wake` is readable: `Ok(false)` when `wake` is
/// (the owner asks the thread to stop), `Ok(true)` when `fd` is.
pub(crate) fn wait_readable(
    fd: std::os::fd::RawFd,
    wake: &std::os::unix::net::UnixStream,
) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    loop {
        let mut fds = [
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfd for the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(fds[1].revents == 0);
    }
}

/// Every interface in `names` is among the compositor's `globals`.
pub(crate) fn has_globals(globals: &wayland_client::globals::GlobalList, names: &[&str]) -> bool {
    globals
        .contents()
        .with_list(|list| names.iter().all(|n| list.iter().any(|g| g.interface == *n)))
}

/// True when the compositor of `$WAYLAND_DISPLAY` offers every interface
/// in `names`.
pub(crate) fn compositor_offers(names: &[&str]) -> bool {
    use wayland_client::globals::{GlobalListContents, registry_queue_init};
    use wayland_client::protocol::wl_registry::{self, WlRegistry};
    /// Only lists the globals.
    struct Probe;
    impl wayland_client::Dispatch<WlRegistry, GlobalListContents> for Probe {
        fn event(
            _: &mut Self,
            _: &WlRegistry,
            _: wl_registry::Event,
            _: &GlobalListContents,
            _: &wayland_client::Connection,
            _: &wayland_client::QueueHandle<Self>,
        ) {
        }
    }
    let Ok(conn) = wayland_client::Connection::connect_to_env() else {
        return false;
    };
    registry_queue_init::<Probe>(&conn).is_ok_and(|(globals, _queue)| has_globals(&globals, names))
}
