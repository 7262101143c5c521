//! The one error type of this crate.

use thiserror::Error;

/// Everything that can go wrong while touching the customer's desktop.
#[derive(Debug, Error)]
pub enum DesktopError {
    /// No X display (no `DISPLAY`, or the server refused us).
    #[error("cannot connect to the X display: {0}")]
    Connect(String),
    /// An X request failed or the connection broke.
    #[error("X server request failed: {0}")]
    X11(String),
    /// The X server lacks an extension we cannot work without.
    #[error("the X server lacks the {0} extension")]
    MissingExtension(&'static str),
    /// The requested monitor does not exist.
    #[error("there is no monitor number {index} (the screen has {count})")]
    NoSuchMonitor { index: usize, count: usize },
    /// Screen capture could not start or stopped working.
    #[error("screen capture failed: {0}")]
    Capture(String),
    /// Input injection failed.
    #[error("input injection failed: {0}")]
    Input(String),
    /// The technician sent a key name we do not know.
    #[error("unknown key name {0:?}")]
    UnknownKey(String),
    /// There is no audio output device (typical on servers and CI).
    #[error("no audio output device: {0}")]
    NoAudioDevice(String),
    /// The audio device exists but playing failed.
    #[error("sound playback failed: {0}")]
    Audio(String),
    /// The watermark text could not be rendered.
    #[error("cannot render the watermark: {0}")]
    Render(String),
    /// The customer declined the desktop's own sharing dialog (Wayland).
    #[error("the sharing was declined in the system dialog")]
    Declined,
    /// The desktop portal failed or is missing (Wayland).
    #[error("the desktop portal failed: {0}")]
    Portal(String),
    /// No watermark here: the desktop shows its own screen-sharing
    /// indicator and lets no program draw over other windows (GNOME on
    /// Wayland).
    #[error("this desktop shows its own screen-sharing indicator instead of a watermark")]
    OwnIndicator,
    /// This desktop does not allow it (e.g. listing windows on Wayland).
    #[error("this desktop does not allow it: {0}")]
    Unsupported(&'static str),
    /// A worker thread could not be started or died.
    #[error("worker thread failed: {0}")]
    Thread(String),
}

#[cfg(target_os = "linux")]
impl From<x11rb::errors::ConnectError> for DesktopError {
    fn from(e: x11rb::errors::ConnectError) -> Self {
        DesktopError::Connect(e.to_string())
    }
}

#[cfg(target_os = "linux")]
impl From<x11rb::errors::ConnectionError> for DesktopError {
    fn from(e: x11rb::errors::ConnectionError) -> Self {
        DesktopError::X11(e.to_string())
    }
}

#[cfg(target_os = "linux")]
impl From<x11rb::errors::ReplyError> for DesktopError {
    fn from(e: x11rb::errors::ReplyError) -> Self {
        DesktopError::X11(e.to_string())
    }
}

#[cfg(target_os = "linux")]
impl From<x11rb::errors::ReplyOrIdError> for DesktopError {
    fn from(e: x11rb::errors::ReplyOrIdError) -> Self {
        DesktopError::X11(e.to_string())
    }
}
