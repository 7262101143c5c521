//! The injector a capture comes with: XTEST through enigo on X11 and
//! Windows; on Wayland what the desktop allows (see `wayland`).

use lotse_protocol::InputEvent;

use crate::DesktopError;
use crate::input::{EnigoInjector, Injector};

/// Real input for a running share; always used behind a `GuardedInjector`.
#[derive(Debug)]
pub enum DesktopInjector {
    Enigo(Box<EnigoInjector>),
    /// Wayland with a RemoteDesktop portal (GNOME 46+, KDE): libei.
    #[cfg(target_os = "linux")]
    Eis(crate::wayland::eis::EisInjector),
    /// A RemoteDesktop portal without libei: its `Notify*` methods.
    #[cfg(target_os = "linux")]
    Notify(crate::wayland::notify::NotifyInjector),
    /// wlroots (sway): virtual keyboard and pointer.
    #[cfg(target_os = "linux")]
    Wlr(crate::wayland::wlr::WlrInjector),
}

impl DesktopInjector {
    /// The injector for a Wayland capture.
    #[cfg(target_os = "linux")]
    pub(crate) fn wayland(
        capture: &mut crate::wayland::capture::WaylandCapture,
    ) -> Result<DesktopInjector, DesktopError> {
        use crate::wayland::{eis::EisInjector, notify::NotifyInjector, wlr::WlrInjector};
        if let Some(fd) = capture.take_eis() {
            let eis = EisInjector::new(fd)?;
            tracing::info!("input through libei: {}", eis.describe());
            return Ok(DesktopInjector::Eis(eis));
        }
        if let Some(tx) = capture.take_notify() {
            // Granted in the dialog, but the portal has no ConnectToEIS.
            tracing::info!("input through the portal's Notify methods");
            return NotifyInjector::new(tx).map(DesktopInjector::Notify);
        }
        if WlrInjector::available() {
            tracing::info!("input through wlroots' virtual keyboard and pointer");
            return WlrInjector::connect().map(DesktopInjector::Wlr);
        }
        Err(DesktopError::Unsupported(
            "this desktop has not granted keyboard and pointer",
        ))
    }
}

impl Injector for DesktopInjector {
    fn apply(&mut self, ev: &InputEvent) -> Result<(), DesktopError> {
        match self {
            DesktopInjector::Enigo(i) => i.apply(ev),
            #[cfg(target_os = "linux")]
            DesktopInjector::Eis(i) => i.apply(ev),
            #[cfg(target_os = "linux")]
            DesktopInjector::Notify(i) => i.apply(ev),
            #[cfg(target_os = "linux")]
            DesktopInjector::Wlr(i) => i.apply(ev),
        }
    }

    fn pointer(&mut self) -> Result<(i32, i32), DesktopError> {
        match self {
            DesktopInjector::Enigo(i) => i.pointer(),
            #[cfg(target_os = "linux")]
            DesktopInjector::Eis(i) => i.pointer(),
            #[cfg(target_os = "linux")]
            DesktopInjector::Notify(i) => i.pointer(),
            #[cfg(target_os = "linux")]
            DesktopInjector::Wlr(i) => i.pointer(),
        }
    }
}

impl DesktopInjector {
    /// XTEST (X11) or SendInput (Windows) through enigo.
    pub fn enigo() -> Result<DesktopInjector, DesktopError> {
        EnigoInjector::new().map(|e| DesktopInjector::Enigo(Box::new(e)))
    }
}
