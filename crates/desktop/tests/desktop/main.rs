//! Integration tests under a real Xvfb (each test starts its own).

mod support;

mod capture;
mod input;
mod mask;
mod shortcuts;
mod sound;
mod watermark;
mod windows;
