//! Lotse technician console: the program a support technician uses all
//! day — queue of waiting customers, chat, screen view, remote control,
//! nudge, notices, received files.
//!
//! * [`core`]: the session state machine (no IO, no egui), shared by
//! * [`app`]: the egui window, and
//! * [`headless`]: the stdin/stdout driver for scripts and tests.
//! * [`net`]: tokio tasks that log in, keep the work link up and feed the core.
//!
//! Depends on `lotse-protocol` and `lotse-link`; nothing depends on it.

pub mod app;
pub mod core;
pub mod files;
pub mod headless;
pub mod i18n;
pub mod net;
pub mod screen;
pub mod transcript;
