//! What a screen capture is asked for; the same on every backend.

use std::sync::Arc;

use crate::Mask;
use crate::frame::FrameNotify;

/// Highest frame rate [`CaptureConfig::max_fps`] accepts.
pub const MAX_FPS: u32 = 60;

/// What to capture.
#[derive(Clone)]
pub struct CaptureConfig {
    /// Index into the backend's `monitors()`.
    pub monitor: usize,
    /// Frame rate cap, 1..=60 (values outside are clamped); default 30.
    pub max_fps: u32,
    /// App-selective sharing: black out everything outside these apps.
    pub mask: Option<Arc<Mask>>,
    /// Called after each new frame was put into the mailbox.
    pub notify: Option<FrameNotify>,
    /// Wayland: the customer picks windows in the desktop's dialog
    /// instead of a monitor (elsewhere a [`Mask`] does this).
    pub windows: bool,
    /// Wayland: ask for keyboard and pointer in the same dialog (the
    /// technician asked for control and the customer allowed it).
    pub input: bool,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            monitor: 0,
            max_fps: 30,
            mask: None,
            notify: None,
            windows: false,
            input: false,
        }
    }
}

impl std::fmt::Debug for CaptureConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureConfig")
            .field("monitor", &self.monitor)
            .field("max_fps", &self.max_fps)
            .field("mask", &self.mask.as_ref().map(|m| m.apps().to_vec()))
            .field("notify", &self.notify.is_some())
            .field("windows", &self.windows)
            .field("input", &self.input)
            .finish()
    }
}
