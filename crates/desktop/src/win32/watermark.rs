//! The watermark on Windows: per monitor a topmost, layered, click-through
//! window that never takes the focus and is left out of screen capture
//! (`WDA_EXCLUDEFROMCAPTURE`, Windows 10 2004+), so the customer sees it
//! over everything while the technician sees the customer's applications
//! without it. The windows live on their own thread `lotse-watermark`.

use std::sync::mpsc;
use std::thread::JoinHandle;

use windows::Win32::Foundation::{HWND, LPARAM, POINT, SIZE, WPARAM};
use windows::Win32::Graphics::Gdi::{
    AC_SRC_ALPHA, AC_SRC_OVER, BLENDFUNCTION, CreateCompatibleDC, CreateDIBSection, DIB_RGB_COLORS,
    DeleteDC, DeleteObject, GetDC, ReleaseDC, SelectObject,
};
use windows::Win32::System::LibraryLoader::GetModuleHandleW;
use windows::Win32::System::Threading::GetCurrentThreadId;
use windows::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DefWindowProcW, DestroyWindow, DispatchMessageW, GetMessageW, MSG,
    PostThreadMessageW, RegisterClassW, SW_SHOWNOACTIVATE, SetWindowDisplayAffinity, ShowWindow,
    ULW_ALPHA, UpdateLayeredWindow, WDA_EXCLUDEFROMCAPTURE, WM_QUIT, WNDCLASSW, WS_EX_LAYERED,
    WS_EX_NOACTIVATE, WS_EX_TOOLWINDOW, WS_EX_TOPMOST, WS_EX_TRANSPARENT, WS_POPUP,
};
use windows::core::w;

use super::capture::monitors;
use crate::DesktopError;
use crate::monitor::MonitorInfo;
use crate::watermark_text::{ALPHA, Alpha, GREY, render_line, tile};

/// A shown watermark; dropping it removes it from the screen.
pub struct Watermark {
    thread: Option<JoinHandle<()>>,
    thread_id: u32,
    windows: Vec<isize>,
}

impl std::fmt::Debug for Watermark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watermark")
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

impl Watermark {
    /// Shows `text` repeated over every monitor until the returned value
    /// is dropped.
    pub fn show(text: &str) -> Result<Watermark, DesktopError> {
        let line = render_line(text)?;
        let screens = monitors()?;
        let (tx, rx) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("lotse-watermark".into())
            .spawn(move || run(&line, &screens, &tx))
            .map_err(|e| DesktopError::Thread(e.to_string()))?;
        match rx.recv() {
            Ok(Ok((thread_id, windows))) => Ok(Watermark {
                thread: Some(thread),
                thread_id,
                windows,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(DesktopError::Thread("watermark thread died".into()))
            }
        }
    }

    /// The first overlay window (an HWND).
    pub fn window_id(&self) -> u32 {
        self.windows.first().map_or(0, |&w| w as u32)
    }

    /// Always: layered windows blend with what is below them.
    pub fn is_translucent(&self) -> bool {
        true
    }
}

impl Drop for Watermark {
    fn drop(&mut self) {
        // SAFETY: the thread's id came from the thread itself; WM_QUIT ends
        // its loop, which destroys the windows.
        let _ = unsafe { PostThreadMessageW(self.thread_id, WM_QUIT, WPARAM(0), LPARAM(0)) };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Ready = Result<(u32, Vec<isize>), DesktopError>;

/// The watermark thread: make the windows, report, pump messages until
/// WM_QUIT, destroy the windows.
fn run(line: &Alpha, screens: &[MonitorInfo], ready: &mpsc::SyncSender<Ready>) {
    let mut made = Vec::new();
    let result = screens.iter().try_for_each(|m| {
        // SAFETY: a window of this thread, shown with a picture that
        // `overlay` fully owns.
        let hwnd = unsafe { overlay(m, &tile(line, m.width as usize, m.height as usize)) }?;
        made.push(hwnd);
        Ok(())
    });
    // SAFETY: no arguments.
    let thread_id = unsafe { GetCurrentThreadId() };
    let failed = result.is_err();
    let _ = ready.send(result.map(|()| (thread_id, made.iter().map(|w| w.0 as isize).collect())));
    if !failed {
        let mut msg = MSG::default();
        // SAFETY: the standard message loop of this thread.
        unsafe {
            while GetMessageW(&mut msg, None, 0, 0).as_bool() {
                DispatchMessageW(&msg);
            }
        }
    }
    for hwnd in made {
        // SAFETY: windows this thread made.
        let _ = unsafe { DestroyWindow(hwnd) };
    }
}

unsafe extern "system" fn window_proc(
    hwnd: HWND,
    msg: u32,
    wparam: WPARAM,
    lparam: windows::Win32::Foundation::LPARAM,
) -> windows::Win32::Foundation::LRESULT {
    // SAFETY: the default handling of our own window's messages.
    unsafe { DefWindowProcW(hwnd, msg, wparam, lparam) }
}

/// One monitor's overlay window, shown with `alpha` in translucent grey.
///
/// # Safety
/// Must run on the thread that pumps the window's messages.
unsafe fn overlay(m: &MonitorInfo, alpha: &Alpha) -> Result<HWND, DesktopError> {
    let fail = |what: &str, e: String| DesktopError::Render(format!("{what}: {e}"));
    // SAFETY: plain window and GDI calls; every GDI object is released.
    unsafe {
        let instance =
            GetModuleHandleW(None).map_err(|e| fail("GetModuleHandleW", e.to_string()))?;
        let class = WNDCLASSW {
            lpfnWndProc: Some(window_proc),
            hInstance: instance.into(),
            lpszClassName: w!("LotseWatermark"),
            ..Default::default()
        };
        // Fails harmlessly when a second watermark registers it again.
        RegisterClassW(&class);
        let hwnd = CreateWindowExW(
            WS_EX_LAYERED | WS_EX_TRANSPARENT | WS_EX_TOPMOST | WS_EX_NOACTIVATE | WS_EX_TOOLWINDOW,
            w!("LotseWatermark"),
            w!(""),
            WS_POPUP,
            m.x,
            m.y,
            m.width as i32,
            m.height as i32,
            None,
            None,
            Some(instance.into()),
            None,
        )
        .map_err(|e| fail("CreateWindowExW", e.to_string()))?;
        if let Err(e) = SetWindowDisplayAffinity(hwnd, WDA_EXCLUDEFROMCAPTURE) {
            // Before Windows 10 2004 the technician would see it too.
            tracing::warn!("watermark not excluded from capture: {e}");
        }
        // Premultiplied BGRA, top row first.
        let (w, h) = (alpha.width as i32, alpha.height as i32);
        let info = super::top_down_bgra(w, h);
        let screen = GetDC(None);
        let memory = CreateCompatibleDC(Some(screen));
        let mut bits = std::ptr::null_mut();
        let shown = CreateDIBSection(Some(memory), &info, DIB_RGB_COLORS, &mut bits, None, 0)
            .map_err(|e| fail("CreateDIBSection", e.to_string()))
            .and_then(|bitmap| {
                let pixels =
                    std::slice::from_raw_parts_mut(bits.cast::<u8>(), alpha.data.len() * 4);
                for (p, &a) in pixels.chunks_exact_mut(4).zip(&alpha.data) {
                    let a = (f32::from(a) * ALPHA) as u32;
                    let c = (u32::from(GREY) * a / 255) as u8;
                    p.copy_from_slice(&[c, c, c, a as u8]);
                }
                let old = SelectObject(memory, bitmap.into());
                let blend = BLENDFUNCTION {
                    BlendOp: AC_SRC_OVER as u8,
                    BlendFlags: 0,
                    SourceConstantAlpha: 255,
                    AlphaFormat: AC_SRC_ALPHA as u8,
                };
                let r = UpdateLayeredWindow(
                    hwnd,
                    Some(screen),
                    Some(&POINT { x: m.x, y: m.y }),
                    Some(&SIZE { cx: w, cy: h }),
                    Some(memory),
                    Some(&POINT::default()),
                    Default::default(),
                    Some(&blend),
                    ULW_ALPHA,
                )
                .map_err(|e| fail("UpdateLayeredWindow", e.to_string()));
                SelectObject(memory, old);
                let _ = DeleteObject(bitmap.into());
                r
            });
        let _ = DeleteDC(memory);
        ReleaseDC(None, screen);
        if let Err(e) = shown {
            let _ = DestroyWindow(hwnd);
            return Err(e);
        }
        let _ = ShowWindow(hwnd, SW_SHOWNOACTIVATE);
        Ok(hwnd)
    }
}
