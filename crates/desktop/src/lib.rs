//! Lotse's access to the customer's desktop — everything the customer
//! client does to the screen, keyboard, mouse and speakers except drawing
//! its own window. X11 only for now (Windows and macOS later behind the
//! same API).
//!
//! * [`capture`] — screen capture of one monitor on its own thread,
//!   `Capture::start(CaptureConfig) -> Capture`, frames only when the X
//!   DAMAGE extension reports a change, newest frame wins; [`monitors()`].
//! * [`windows`] — open windows grouped by application with title,
//!   geometry, stacking and icon: [`list_apps()`].
//! * [`mask`] — app-selective sharing: the region of the chosen apps'
//!   windows minus everything above them; the capture thread blacks out
//!   every other pixel before a frame leaves it. Also answers "is this
//!   point shared" and "does a chosen app have the focus" for input.
//! * [`input`] — input injection: the [`Injector`] trait, [`EnigoInjector`]
//!   (XTEST through enigo) and [`GuardedInjector`], which enforces the
//!   control grant and the mask on the customer's side.
//! * [`watermark`] — the always-on-top, click-through "support session in
//!   progress" overlay, with or without a compositor.
//! * [`sound`] — the nudge alarm, [`play_alarm()`].
//!
//! This crate knows nothing about the network or the UI; it depends only
//! on `lotse-protocol` (for [`lotse_protocol::InputEvent`]).
//! Architecture invariant: no frame leaves [`capture`] with a pixel outside
//! the mask that is not black.

pub mod capture;
mod error;
pub mod geom;
pub mod input;
pub mod mask;
pub mod sound;
pub mod watermark;
pub mod windows;
mod xutil;

pub use capture::{Capture, CaptureConfig, Frame, MonitorInfo, monitors};
pub use error::DesktopError;
pub use geom::{Rect, Region};
pub use input::{ControlSwitch, EnigoInjector, GuardedInjector, Injector};
pub use mask::Mask;
pub use sound::{play_alarm, play_alarm_blocking};
pub use watermark::Watermark;
pub use windows::{AppGroup, Icon, WindowInfo, list_apps};
