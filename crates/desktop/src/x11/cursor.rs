//! The mouse pointer, which screen capture does not include (the X server
//! draws it as a sprite on top): its position and its current image, so
//! the technician's view can draw it (shape once per change, then only
//! positions).
//!
//! With app-selective sharing, show the pointer only where
//! [`crate::Mask::contains`] says so.

use x11rb::connection::RequestConnection;
use x11rb::protocol::xfixes::{self, ConnectionExt as _};
use x11rb::protocol::xproto::ConnectionExt as _;

use crate::DesktopError;
use crate::xutil::Xconn;

pub use crate::pointer::CursorImage;

/// Where the pointer is and what it looks like; one X connection.
pub struct CursorTracker {
    x: Xconn,
}

impl std::fmt::Debug for CursorTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CursorTracker").finish_non_exhaustive()
    }
}

impl CursorTracker {
    pub fn new() -> Result<CursorTracker, DesktopError> {
        let x = Xconn::connect()?;
        if x.conn
            .extension_information(xfixes::X11_EXTENSION_NAME)?
            .is_none()
        {
            return Err(DesktopError::MissingExtension("XFIXES"));
        }
        x.conn.xfixes_query_version(4, 0)?.reply()?;
        Ok(CursorTracker { x })
    }

    /// The pointer position in root-window pixels.
    pub fn position(&self) -> Result<(i32, i32), DesktopError> {
        let p = self.x.conn.query_pointer(self.x.root)?.reply()?;
        Ok((i32::from(p.root_x), i32::from(p.root_y)))
    }

    /// The pointer's current image.
    pub fn image(&self) -> Result<CursorImage, DesktopError> {
        let r = self.x.conn.xfixes_get_cursor_image()?.reply()?;
        let (w, h) = (u32::from(r.width), u32::from(r.height));
        let n = (w as usize) * (h as usize);
        if r.cursor_image.len() < n {
            return Err(DesktopError::X11("short cursor image".into()));
        }
        let mut rgba = Vec::with_capacity(n * 4);
        for &p in &r.cursor_image[..n] {
            let a = p >> 24;
            // Undo the premultiplication.
            let un = |c: u32| {
                (c * 255 + a / 2)
                    .checked_div(a)
                    .map_or(0, |v| v.min(255) as u8)
            };
            rgba.extend_from_slice(&[
                un((p >> 16) & 0xff),
                un((p >> 8) & 0xff),
                un(p & 0xff),
                a as u8,
            ]);
        }
        Ok(CursorImage {
            serial: r.cursor_serial,
            width: w,
            height: h,
            hot_x: u32::from(r.xhot),
            hot_y: u32::from(r.yhot),
            rgba,
        })
    }
}
