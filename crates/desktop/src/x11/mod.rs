//! The X11 backend: capture (XShm/scrap + DAMAGE), the pointer (XFIXES),
//! the application list and mask (EWMH stacking), the watermark overlay.
//! Selected on Linux; `lib.rs` re-exports its modules under the names the
//! client uses, so the client never names a platform.

pub mod capture;
pub mod cursor;
pub mod mask;
pub mod watermark;
pub mod windows;
pub(crate) mod xutil;
