//! The injector a capture comes with: XTEST through enigo on X11 and
//! Windows; on Wayland what the desktop allows (see `wayland`).

use lotse_protocol::InputEvent;

use crate::DesktopError;
use crate::input::{EnigoInjector, Injector};

/// Real input for a running share; always used behind a `GuardedInjector`.
#[derive(Debug)]
pub enum DesktopInjector {
    Enigo(EnigoInjector),
}

impl DesktopInjector {
    /// The injector for a Wayland capture.
    #[cfg(target_os = "linux")]
    pub(crate) fn wayland(
        _capture: &mut crate::wayland::capture::WaylandCapture,
    ) -> Result<DesktopInjector, DesktopError> {
        Err(DesktopError::Unsupported(
            "input on Wayland is not available in this build",
        ))
    }
}

impl Injector for DesktopInjector {
    fn apply(&mut self, ev: &InputEvent) -> Result<(), DesktopError> {
        match self {
            DesktopInjector::Enigo(i) => i.apply(ev),
        }
    }

    fn pointer(&mut self) -> Result<(i32, i32), DesktopError> {
        match self {
            DesktopInjector::Enigo(i) => i.pointer(),
        }
    }
}
