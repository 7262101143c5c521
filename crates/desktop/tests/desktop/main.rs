//! Integration tests of the X11 backend under a real Xvfb (each test
//! starts its own); Linux only.
#![cfg(target_os = "linux")]

mod support;

mod capture;
mod input;
mod mask;
mod shortcuts;
mod sound;
mod watermark;
mod windows;
