//! Windows specifics of the client's own window: logoff and shutdown,
//! and keeping the window out of screen capture.
//!
//! Logoff and shutdown on Windows. A program without a console (ours: a
//! double-clicked download) gets no console events then; Windows asks
//! every top-level window instead: `WM_QUERYENDSESSION`, then
//! `WM_ENDSESSION`, after which it ends the process. A hidden top-level
//! window on a thread of its own (message-only windows are not asked)
//! answers: on the query the session is asked to end, as after a signal
//! (see `signals.rs`); on the end it waits — at most [`GRACE`] — until
//! `main` has removed the program and its folder, and removes them itself
//! if that did not happen, so nothing stays behind on the next logon.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use windows::Win32::Foundation::{HWND, LPARAM, LRESULT, WPARAM};
use windows::Win32::System::LibraryLoader::GetModuleHandleW;
use windows::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DefWindowProcW, DispatchMessageW, GetMessageW, MSG, RegisterClassW,
    WINDOW_EX_STYLE, WM_ENDSESSION, WM_QUERYENDSESSION, WNDCLASSW, WS_POPUP,
};
use windows::core::w;

use crate::signals::{GRACE, Shutdown};

/// Our chat window is left out of screen capture (Windows 10 2004+,
/// `WDA_EXCLUDEFROMCAPTURE`, as the watermark): a whole-screen share shows
/// the customer's desktop, not our own window over it.
pub fn keep_out_of_capture(cc: &eframe::CreationContext<'_>) {
    use raw_window_handle::{HasWindowHandle, RawWindowHandle};
    use windows::Win32::UI::WindowsAndMessaging::{
        SetWindowDisplayAffinity, WDA_EXCLUDEFROMCAPTURE,
    };
    let Ok(handle) = cc.window_handle() else {
        return;
    };
    if let RawWindowHandle::Win32(window) = handle.as_raw() {
        let hwnd = HWND(window.hwnd.get() as *mut _);
        // SAFETY: the handle of our own window, alive while eframe runs.
        if let Err(e) = unsafe { SetWindowDisplayAffinity(hwnd, WDA_EXCLUDEFROMCAPTURE) } {
            tracing::warn!("the chat window is not kept out of capture: {e}");
        }
    }
}

/// The one shutdown the window procedure acts on.
static SHUTDOWN: OnceLock<Arc<Shutdown>> = OnceLock::new();

/// Start answering Windows' end of the session (before it returns: the
/// window exists).
pub fn watch(shutdown: Arc<Shutdown>) -> std::io::Result<()> {
    if SHUTDOWN.set(shutdown).is_err() {
        return Ok(());
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("lotse-session-end".into())
        .spawn(move || {
            // SAFETY: a plain hidden window and its message loop, on this
            // thread for the life of the process.
            unsafe {
                let instance = GetModuleHandleW(None).unwrap_or_default();
                let class = WNDCLASSW {
                    lpfnWndProc: Some(window_proc),
                    hInstance: instance.into(),
                    lpszClassName: w!("LotseSessionEnd"),
                    ..Default::default()
                };
                RegisterClassW(&class);
                let created = CreateWindowExW(
                    WINDOW_EX_STYLE(0),
                    w!("LotseSessionEnd"),
                    w!("Lotse"),
                    WS_POPUP,
                    0,
                    0,
                    0,
                    0,
                    None,
                    None,
                    Some(instance.into()),
                    None,
                );
                let _ = tx.send(created.map(|_| ()).map_err(std::io::Error::other));
                let mut msg = MSG::default();
                while GetMessageW(&mut msg, None, 0, 0).as_bool() {
                    DispatchMessageW(&msg);
                }
            }
        })?;
    rx.recv().map_err(std::io::Error::other)?
}

unsafe extern "system" fn window_proc(
    hwnd: HWND,
    msg: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> LRESULT {
    match (msg, SHUTDOWN.get()) {
        (WM_QUERYENDSESSION, Some(shutdown)) => {
            tracing::info!("Windows ends the session: ending ours and removing the program");
            shutdown.request();
            // Yes: nothing of ours may keep Windows from logging off.
            LRESULT(1)
        }
        (WM_ENDSESSION, Some(shutdown)) if wparam.0 != 0 => {
            // Windows ends the process once this returns.
            shutdown.request();
            let deadline = Instant::now() + GRACE;
            while !shutdown.is_cleaned_up() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if shutdown.clean_up().is_some() {
                tracing::warn!("the window did not close before the logoff: cleaned up here");
            }
            LRESULT(0)
        }
        // SAFETY: the default handling of a window we created.
        _ => unsafe { DefWindowProcW(hwnd, msg, wparam, lparam) },
    }
}
