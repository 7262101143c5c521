//! The customer's open windows on Windows, grouped by program, for the
//! "share these applications" picker, and the top-level window stack the
//! mask is computed from.
//!
//! A window counts when it is visible, not minimized, has a title, no
//! owner and is not a tool window (what the task bar shows). Our own
//! process's windows (the chat window, the watermark) are never listed.
//! Each window's icon is read as `super::icon` says, without waiting
//! long for any program.

use windows::Win32::Foundation::{CloseHandle, HWND, LPARAM, RECT};
use windows::Win32::System::Threading::{
    GetCurrentProcessId, OpenProcess, PROCESS_NAME_WIN32, PROCESS_QUERY_LIMITED_INFORMATION,
    QueryFullProcessImageNameW,
};
use windows::Win32::UI::WindowsAndMessaging::{
    EnumWindows, GW_OWNER, GWL_EXSTYLE, GetWindow, GetWindowLongW, GetWindowRect,
    GetWindowTextLengthW, GetWindowTextW, GetWindowThreadProcessId, IsIconic, IsWindowVisible,
    WS_EX_LAYERED, WS_EX_TOOLWINDOW, WS_EX_TRANSPARENT,
};
use windows::core::{BOOL, PWSTR};

use super::icon::IconReader;
use crate::DesktopError;
pub use crate::apps::{AppGroup, ICON_SIZE, Icon, WindowInfo};
use crate::geom::Rect;

/// One visible top-level window of the desktop, any process.
#[derive(Debug, Clone)]
pub(crate) struct TopLevel {
    pub hwnd: isize,
    pub pid: u32,
    pub rect: Rect,
    /// Whether the task bar would show it (see the module docs).
    pub listed: bool,
    /// A layered click-through overlay (like our watermark): it shows
    /// over windows without taking their input.
    pub overlay: bool,
}

/// The visible, not minimized top-level windows, top-most first.
pub(crate) fn stack() -> Result<Vec<TopLevel>, DesktopError> {
    unsafe extern "system" fn each(hwnd: HWND, data: LPARAM) -> BOOL {
        // SAFETY: `data` is the `&mut Vec` passed below, alive for the call.
        let found = unsafe { &mut *(data.0 as *mut Vec<TopLevel>) };
        // SAFETY: queries of a window handle Windows just gave us; a window
        // that vanished meanwhile only makes them fail.
        unsafe {
            if !IsWindowVisible(hwnd).as_bool() || IsIconic(hwnd).as_bool() {
                return BOOL(1);
            }
            let mut r = RECT::default();
            if GetWindowRect(hwnd, &mut r).is_err() || r.right <= r.left || r.bottom <= r.top {
                return BOOL(1);
            }
            let mut pid = 0u32;
            GetWindowThreadProcessId(hwnd, Some(&mut pid));
            let ex = GetWindowLongW(hwnd, GWL_EXSTYLE) as u32;
            let tool = ex & WS_EX_TOOLWINDOW.0 != 0;
            let click_through = WS_EX_LAYERED.0 | WS_EX_TRANSPARENT.0;
            let owned = GetWindow(hwnd, GW_OWNER).is_ok_and(|o| !o.is_invalid());
            let titled = GetWindowTextLengthW(hwnd) > 0;
            found.push(TopLevel {
                hwnd: hwnd.0 as isize,
                pid,
                rect: super::rect(r),
                listed: titled && !tool && !owned,
                overlay: ex & click_through == click_through,
            });
        }
        BOOL(1)
    }
    let mut found: Vec<TopLevel> = Vec::new();
    // SAFETY: the callback only touches `found` through the pointer, and
    // EnumWindows returns before `found` goes away.
    unsafe {
        EnumWindows(
            Some(each),
            LPARAM(&mut found as *mut Vec<TopLevel> as isize),
        )
    }
    .map_err(|e| DesktopError::Capture(format!("EnumWindows failed: {e}")))?;
    Ok(found)
}

/// The full path of process `pid`'s program file (`None` when the
/// process cannot be asked, e.g. it ended).
fn program(pid: u32) -> Option<String> {
    // SAFETY: the handle is closed below; the buffer outlives the call.
    unsafe {
        let process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, false, pid).ok()?;
        let mut buf = [0u16; 1024];
        let mut len = buf.len() as u32;
        let named = QueryFullProcessImageNameW(
            process,
            PROCESS_NAME_WIN32,
            PWSTR(buf.as_mut_ptr()),
            &mut len,
        );
        let _ = CloseHandle(process);
        named.ok()?;
        Some(String::from_utf16_lossy(&buf[..len as usize]))
    }
}

/// The application id of a program file: its file name without `.exe`.
fn app_of(path: &str) -> String {
    let file = path.rsplit(['\\', '/']).next().unwrap_or(path);
    file.strip_suffix(".exe")
        .or_else(|| file.strip_suffix(".EXE"))
        .unwrap_or(file)
        .to_owned()
}

/// The application id of process `pid` (`None` when the process cannot
/// be asked, e.g. it ended).
pub(crate) fn app_id(pid: u32) -> Option<String> {
    program(pid).as_deref().map(app_of)
}

/// The id of this process (whose windows are never listed or shared).
pub(crate) fn own_pid() -> u32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { GetCurrentProcessId() }
}

fn title(hwnd: isize) -> String {
    let mut buf = [0u16; 512];
    // SAFETY: `buf` outlives the call; the length is the slice's.
    let n = unsafe { GetWindowTextW(HWND(hwnd as *mut _), &mut buf) };
    String::from_utf16_lossy(&buf[..n.max(0) as usize])
}

/// Lists the open top-level windows grouped by application, the
/// application with the top-most window first (our own never).
pub fn list_apps() -> Result<Vec<AppGroup>, DesktopError> {
    let own = own_pid();
    let stack = stack()?;
    let count = stack.len();
    let mut icons = IconReader::new();
    let mut groups: Vec<AppGroup> = Vec::new();
    for (i, w) in stack.into_iter().enumerate() {
        if !w.listed || w.pid == own {
            continue;
        }
        let Some(path) = program(w.pid) else { continue };
        let app = app_of(&path);
        let icon = icons
            .as_mut()
            .and_then(|r| r.window_icon(w.hwnd, Some(&path)));
        let info = WindowInfo {
            id: w.hwnd as u32,
            app_id: app.clone(),
            title: title(w.hwnd),
            x: w.rect.x,
            y: w.rect.y,
            width: w.rect.width,
            height: w.rect.height,
            stacking: count - 1 - i,
            icon,
        };
        match groups.iter_mut().find(|g| g.id == app) {
            Some(g) => {
                if g.icon.is_none() {
                    g.icon = info.icon.clone();
                }
                g.windows.push(info);
            }
            None => groups.push(AppGroup {
                id: app.clone(),
                name: if info.title.is_empty() {
                    app
                } else {
                    info.title.clone()
                },
                icon: info.icon.clone(),
                windows: vec![info],
            }),
        }
    }
    Ok(groups)
}
