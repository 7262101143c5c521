//! A monitor of the customer's desktop, as every backend reports it.

use crate::geom::Rect;

/// One monitor, in the desktop's pixels (X11: the root window's, RandR
/// monitors; the whole root window when RandR has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorInfo {
    pub index: usize,
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub primary: bool,
}

impl MonitorInfo {
    pub fn rect(&self) -> Rect {
        Rect::new(self.x, self.y, self.width, self.height)
    }
}
