//! The customer's open windows grouped by application, as every backend
//! lists them for the "share these applications" picker.

/// Side length of [`Icon`]s.
pub const ICON_SIZE: u32 = 32;

/// A 32×32 RGBA (non-premultiplied) application icon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icon {
    pub width: u32,
    pub height: u32,
    /// `width * height * 4` bytes: red, green, blue, alpha.
    pub rgba: Vec<u8>,
}

/// One top-level window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowInfo {
    /// The window's id: X11 the client window (not the window manager's
    /// frame), Windows the HWND.
    pub id: u32,
    /// Application id: X11 the WM_CLASS class name (e.g. `"XTerm"`),
    /// Windows the program's file name without `.exe` (e.g. `"notepad"`).
    pub app_id: String,
    pub title: String,
    /// Position in desktop pixels (X11: the client area in root-window
    /// pixels; Windows: the window rectangle).
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    /// 0 = bottom-most; higher is nearer the top.
    pub stacking: usize,
    pub icon: Option<Icon>,
}

/// All windows of one application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppGroup {
    /// What the platform's `Mask::new` takes ([`WindowInfo::app_id`]).
    pub id: String,
    /// A name to show: the title of its top-most window, else the id.
    pub name: String,
    /// Top-most first.
    pub windows: Vec<WindowInfo>,
    /// The icon of the first window that has one.
    pub icon: Option<Icon>,
}
