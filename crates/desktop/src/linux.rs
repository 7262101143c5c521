//! Linux has two backends, chosen at run time: X11 (`src/x11`) in an X11
//! session, Wayland (`src/wayland`, through the desktop portal) in a
//! Wayland session ([`is_wayland_session`]). These modules carry the names
//! the client uses on every platform and pick the backend per call.

use crate::wayland::is_wayland_session;

/// What the desktop's own sharing dialog offers, where it has one
/// (Wayland); `None` where the client alone asks (X11).
pub fn desktop_dialog() -> Option<crate::DesktopDialog> {
    if !is_wayland_session() {
        return None;
    }
    match crate::wayland::portal::offer() {
        Ok(o) => Some(crate::DesktopDialog {
            windows: o.windows,
            input: o.remote_desktop,
        }),
        Err(e) => {
            tracing::warn!("the desktop portal cannot be asked: {e}");
            Some(crate::DesktopDialog {
                windows: false,
                input: false,
            })
        }
    }
}

pub mod capture {
    //! Screen capture: X11 grabs, or the portal's PipeWire stream.
    use std::time::Duration;

    use super::is_wayland_session;
    use crate::DesktopError;
    pub use crate::capture_config::{CaptureConfig, MAX_FPS};
    pub use crate::frame::{Frame, FrameNotify};
    use crate::monitor::MonitorInfo;
    use crate::wayland::capture::WaylandCapture;
    use crate::x11::capture as x11;

    /// The monitors to offer. On Wayland the desktop's dialog picks the
    /// monitor: one entry stands for "the screen" (its size is known
    /// once the stream runs).
    pub fn monitors() -> Result<Vec<MonitorInfo>, DesktopError> {
        if is_wayland_session() {
            return Ok(vec![MonitorInfo {
                index: 0,
                x: 0,
                y: 0,
                width: 0,
                height: 0,
                primary: true,
            }]);
        }
        x11::monitors()
    }

    /// A running capture of either backend.
    #[derive(Debug)]
    pub enum Capture {
        X11(x11::Capture),
        Wayland(WaylandCapture),
    }

    impl Capture {
        /// Starts capturing; in a Wayland session this shows the desktop's
        /// dialog first (blocks until the customer answered it).
        pub fn start(config: CaptureConfig) -> Result<Capture, DesktopError> {
            if is_wayland_session() {
                WaylandCapture::start(config).map(Capture::Wayland)
            } else {
                x11::Capture::start(config).map(Capture::X11)
            }
        }

        pub fn monitor(&self) -> &MonitorInfo {
            match self {
                Capture::X11(c) => c.monitor(),
                Capture::Wayland(c) => c.monitor(),
            }
        }

        pub fn frames_produced(&self) -> u64 {
            match self {
                Capture::X11(c) => c.frames_produced(),
                Capture::Wayland(c) => c.frames_produced(),
            }
        }

        pub fn try_recv(&self) -> Result<Option<Frame>, DesktopError> {
            match self {
                Capture::X11(c) => c.try_recv(),
                Capture::Wayland(c) => c.try_recv(),
            }
        }

        pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Frame>, DesktopError> {
            match self {
                Capture::X11(c) => c.recv_timeout(timeout),
                Capture::Wayland(c) => c.recv_timeout(timeout),
            }
        }

        pub fn stop(&mut self) {
            match self {
                Capture::X11(c) => c.stop(),
                Capture::Wayland(c) => c.stop(),
            }
        }

        /// Wayland: the desktop granted input in its dialog. X11: always.
        pub fn input_granted(&self) -> bool {
            match self {
                Capture::X11(_) => true,
                Capture::Wayland(c) => c.input_granted(),
            }
        }

        /// Wayland: this capture has no input yet, and a RemoteDesktop
        /// portal could grant it (in a new session, with its dialog).
        pub fn can_ask_for_input(&self) -> bool {
            match self {
                Capture::X11(_) => false,
                Capture::Wayland(c) => {
                    !c.input_granted()
                        && crate::wayland::portal::offer().is_ok_and(|o| o.remote_desktop)
                }
            }
        }

        /// The pointer of this capture where it comes with the picture
        /// (Wayland's cursor metadata); `None` means ask [`crate::CursorTracker::new`].
        pub fn cursor(&self) -> Option<crate::CursorTracker> {
            match self {
                Capture::X11(_) => None,
                Capture::Wayland(c) => c.pointer().map(crate::CursorTracker::Stream),
            }
        }

        /// The injector for this capture: XTEST on X11; on Wayland libei
        /// from the portal session, or wlroots' virtual devices where
        /// there is no RemoteDesktop portal.
        pub fn injector(&mut self) -> Result<crate::DesktopInjector, DesktopError> {
            match self {
                Capture::X11(_) => crate::DesktopInjector::enigo(),
                Capture::Wayland(c) => crate::DesktopInjector::wayland(c),
            }
        }
    }
}

pub mod cursor {
    //! The pointer: XFIXES on X11, the stream's metadata on Wayland.
    use std::sync::{Arc, Mutex, PoisonError};

    use crate::DesktopError;
    use crate::wayland::stream::PointerState;
    pub use crate::x11::cursor::CursorImage;
    use crate::x11::cursor::CursorTracker as X11Tracker;

    #[derive(Debug)]
    pub enum CursorTracker {
        X11(Box<X11Tracker>),
        /// Filled by a Wayland capture (see `Capture::cursor`).
        Stream(Arc<Mutex<PointerState>>),
    }

    impl CursorTracker {
        /// The X11 tracker; on Wayland the pointer comes from the capture.
        pub fn new() -> Result<CursorTracker, DesktopError> {
            if super::is_wayland_session() {
                return Err(DesktopError::Unsupported(
                    "on Wayland the pointer comes with the screen stream",
                ));
            }
            X11Tracker::new().map(|t| CursorTracker::X11(Box::new(t)))
        }

        pub fn position(&self) -> Result<(i32, i32), DesktopError> {
            match self {
                CursorTracker::X11(t) => t.position(),
                CursorTracker::Stream(s) => s
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .position
                    .ok_or(DesktopError::Unsupported(
                        "the pointer is not over the screen",
                    )),
            }
        }

        pub fn image(&self) -> Result<CursorImage, DesktopError> {
            match self {
                CursorTracker::X11(t) => t.image(),
                CursorTracker::Stream(s) => s
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .image
                    .clone()
                    .ok_or(DesktopError::Unsupported("no pointer image yet")),
            }
        }
    }
}

pub mod windows {
    //! The application list: EWMH on X11; on Wayland no program may list
    //! other programs' windows (the desktop's dialog offers them).
    pub use crate::x11::windows::*;

    use crate::DesktopError;

    pub fn list_apps() -> Result<Vec<AppGroup>, DesktopError> {
        if super::is_wayland_session() {
            return Ok(Vec::new());
        }
        crate::x11::windows::list_apps()
    }
}

pub mod mask {
    //! The app mask (X11). On Wayland the portal's window sharing sends
    //! only the chosen window, so no mask is needed or possible.
    pub use crate::x11::mask::*;
}

pub mod watermark {
    //! The watermark: an X11 overlay window, or a wlr-layer-shell overlay
    //! on wlroots (sway) and KDE. GNOME has no layer for it and shows its
    //! own sharing indicator instead.
    use crate::DesktopError;
    use crate::wayland::layer::LayerWatermark;
    use crate::x11::watermark::Watermark as X11Watermark;

    #[derive(Debug)]
    pub enum Watermark {
        X11(X11Watermark),
        Layer(LayerWatermark),
    }

    impl Watermark {
        /// Shows `text` over the whole screen until dropped.
        /// [`DesktopError::OwnIndicator`] on a Wayland desktop without the
        /// layer-shell protocol (GNOME).
        pub fn show(text: &str) -> Result<Watermark, DesktopError> {
            if super::is_wayland_session() {
                if !LayerWatermark::available() {
                    return Err(DesktopError::OwnIndicator);
                }
                return LayerWatermark::show(text).map(Watermark::Layer);
            }
            X11Watermark::show(text).map(Watermark::X11)
        }

        /// The X11 window (0 on Wayland).
        pub fn window_id(&self) -> u32 {
            match self {
                Watermark::X11(w) => w.window_id(),
                Watermark::Layer(_) => 0,
            }
        }

        pub fn is_translucent(&self) -> bool {
            match self {
                Watermark::X11(w) => w.is_translucent(),
                Watermark::Layer(_) => true,
            }
        }
    }
}
