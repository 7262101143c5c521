//! Integration tests of the desktop backends: the X11 one under a real
//! Xvfb (each test starts its own), the Windows one under Wine (or
//! Windows) on the display the runner gives it (scripts/windows.sh).

#[cfg(target_os = "linux")]
mod support;

#[cfg(target_os = "linux")]
mod capture;
#[cfg(target_os = "linux")]
mod input;
#[cfg(target_os = "linux")]
mod mask;
#[cfg(target_os = "linux")]
mod shortcuts;
#[cfg(target_os = "linux")]
mod sound;
#[cfg(target_os = "linux")]
mod watermark;
#[cfg(target_os = "linux")]
mod windows;

#[cfg(windows)]
mod win32;
