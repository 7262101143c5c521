//! Integration tests under a real Xvfb (each test starts its own).

mod support;

mod capture;
mod mask;
mod windows;
