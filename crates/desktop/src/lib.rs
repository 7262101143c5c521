//! Lotse's access to the customer's desktop — everything the customer
//! client does to the screen, keyboard, mouse and speakers except drawing
//! its own window. A platform-independent core and one backend per
//! platform (`src/win32`; on Linux `src/x11` or `src/wayland`, chosen at
//! run time by `src/linux.rs`; macOS later behind the same API, see
//! ARCHITECTURE.md for the contract each keeps), whose modules appear under
//! the same names here. On Wayland, [`Capture::start`] shows the desktop's
//! own sharing dialog and blocks until the customer answered it, and
//! [`Capture::injector`] hands out the input the desktop granted. It knows nothing about
//! the network or the UI and depends only on `lotse-protocol` (for
//! [`lotse_protocol::InputEvent`]). Nothing here blocks for long except
//! where a name says so; none of it belongs on an egui UI thread except
//! [`Capture::try_recv`].
//!
//! **Architecture invariant:** with a [`Mask`], no frame leaves the capture
//! thread with a pixel outside the chosen applications' visible region
//! that is not black.
//!
//! # Modules and API
//!
//! * [`capture`] — one monitor, on the dedicated thread `lotse-capture`.
//!   - [`monitors()`]` -> Result<Vec<MonitorInfo>>`;
//!     `MonitorInfo { index, x, y, width, height, primary }` (root pixels).
//!   - [`Capture::start`]`(CaptureConfig { monitor, max_fps /* 30, ≤ 60 */,
//!     mask: Option<Arc<Mask>>, notify: Option<Arc<dyn Fn() + Send + Sync>> })
//!     -> Result<Capture>`; `CaptureConfig::default()` = monitor 0, 30 fps.
//!   - `capture.recv_timeout(Duration) -> Result<Option<Frame>>` (`Ok(None)`
//!     = nothing new yet, `Err` = stopped or failed), `try_recv()`,
//!     `monitor()`, `frames_produced()`, `stop()` (also on drop): when it
//!     returns, no further frame is produced or delivered.
//!   - [`Frame`]` { number, width, height, stride, origin, data /* BGRA */,
//!     damage: Vec<Rect> }`: a one-slot mailbox, a newer frame replaces one
//!     not taken yet and inherits its damage. Frames only come when the
//!     screen changed (X11: X DAMAGE; Windows: DXGI Desktop Duplication's
//!     dirty and move rectangles, or GDI grabs compared in tiles where
//!     duplication is unavailable), none at all while idle; `notify` is
//!     called on the capture thread after each frame (keep it cheap).
//! * [`cursor`] — the pointer, which captured frames do not contain:
//!   [`CursorTracker::new`]`()`, `position() -> (x, y)` (root pixels),
//!   `image() -> CursorImage { serial, width, height, hot_x, hot_y, rgba }`
//!   (send the image again only when `serial` changes).
//! * [`windows`] — [`list_apps()`]` -> Result<Vec<AppGroup>>`:
//!   `AppGroup { id /* WM_CLASS class */, name, windows: Vec<WindowInfo>,
//!   icon: Option<Icon /* 32×32 RGBA */> }`, top-most application first;
//!   `WindowInfo { id, app_id, title, x, y, width, height, stacking, icon }`.
//! * [`mask`] — [`Mask::new`]`(["XTerm", …]) -> Result<Mask>` (wrap it in
//!   an `Arc` for [`CaptureConfig::mask`] and [`GuardedInjector::new`]);
//!   `region()`, `refresh()`, `contains(x, y)` (root pixels),
//!   `chosen_app_has_focus() -> Result<bool>`, `apps()`. To change the
//!   chosen apps, stop the capture and start a new one with a new mask.
//! * [`input`] — trait [`Injector`]` { apply(&mut self, &InputEvent),
//!   pointer(&mut self) }`; [`EnigoInjector::new`]`()`;
//!   [`GuardedInjector::new`]`(inner, monitor: MonitorInfo, mask:
//!   Option<Arc<dyn ChosenApps>>)` (the platform's [`Mask`] is a
//!   [`ChosenApps`]) with `grant()`, `revoke()` (releases held keys and
//!   buttons), `switch() -> ControlSwitch` (clonable grant/revoke handle
//!   for other threads), `apply(&ev) -> Result<bool>` (`false` = dropped),
//!   `dropped() -> u64`. Event coordinates are pixels of the shared
//!   monitor. Key names: see [`input::key_from_name`]. With a mask the
//!   guard also drops desktop-wide shortcuts (reason
//!   [`input::DROP_SHORTCUT`]).
//! * [`shortcuts`] — [`shortcuts::is_global_shortcut`]`(Modifiers, Key) ->
//!   bool` (Super, Alt+Tab, Ctrl+Alt+T, Alt+F2, Ctrl+Alt+Del, Print …),
//!   [`shortcuts::is_global_pointer`]`(Modifiers)`: the table the guard
//!   applies while only chosen applications are shared.
//! * [`watermark`] — [`Watermark::show`]`(text) -> Result<Watermark>`;
//!   dropping it removes the overlay. `window_id()`, `is_translucent()`.
//! * [`sound`] — [`play_alarm()`]` -> Result<()>` (returns once the device
//!   is open, plays on the thread `lotse-alarm`;
//!   [`DesktopError::NoAudioDevice`] without a device) and
//!   [`play_alarm_blocking()`].
//! * [`geom`] — [`Rect`], [`Region`] (disjoint rectangle lists).
//!
//! All errors are [`DesktopError`]. The display is the one `$DISPLAY`
//! names.

// The platform-independent core.
pub mod apps;
#[cfg(any(target_os = "linux", windows))]
mod capture_config;
mod chosen;
mod error;
pub mod frame;
pub mod geom;
pub mod input;
pub mod monitor;
pub mod pointer;
pub mod shortcuts;
pub mod sound;
mod watermark_text;

// One backend per platform, chosen at compile time; its modules appear
// under the same names on every platform.
#[cfg(target_os = "linux")]
mod x11;
#[cfg(target_os = "linux")]
use x11::xutil;
mod injector;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub mod wayland;
#[cfg(windows)]
mod win32;
#[cfg(target_os = "linux")]
pub use linux::{capture, cursor, mask, watermark, windows};
#[cfg(windows)]
pub use win32::{capture, cursor, mask, watermark, windows};

pub use error::DesktopError;
#[cfg(target_os = "linux")]
pub use linux::desktop_dialog;

/// The desktop's own sharing dialog (Wayland's portal): after the
/// customer's Allow, the desktop asks once more in its own window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DesktopDialog {
    /// Single windows can be chosen there (else only the whole screen).
    pub windows: bool,
    /// It can grant keyboard and pointer too (RemoteDesktop).
    pub input: bool,
}

/// Windows asks nothing of its own.
#[cfg(not(target_os = "linux"))]
pub fn desktop_dialog() -> Option<DesktopDialog> {
    None
}
pub use frame::{Frame, FrameNotify};
pub use geom::{Rect, Region};
pub use injector::DesktopInjector;
pub use input::{ChosenApps, ControlSwitch, EnigoInjector, GuardedInjector, Injector};
pub use monitor::MonitorInfo;
pub use sound::{play_alarm, play_alarm_blocking};

#[cfg(any(target_os = "linux", windows))]
pub use capture::{Capture, CaptureConfig, monitors};
#[cfg(any(target_os = "linux", windows))]
pub use cursor::{CursorImage, CursorTracker};
#[cfg(any(target_os = "linux", windows))]
pub use mask::Mask;
#[cfg(any(target_os = "linux", windows))]
pub use watermark::Watermark;
#[cfg(any(target_os = "linux", windows))]
pub use windows::{AppGroup, Icon, WindowInfo, list_apps};

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The client moves these between threads.
    #[test]
    fn handles_are_send() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<crate::Capture>();
        send_sync::<crate::Mask>();
        send_sync::<crate::ControlSwitch>();
        send_sync::<crate::Frame>();
        send_sync::<crate::CursorTracker>();
        send::<crate::Watermark>();
        send::<crate::GuardedInjector<crate::EnigoInjector>>();
    }
}
