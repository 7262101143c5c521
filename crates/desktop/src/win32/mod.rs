//! The Windows backend (Win32): monitors and screen capture (DXGI Desktop
//! Duplication, GDI where that is unavailable), the pointer, the
//! application list with icons, the app mask and the watermark. All
//! coordinates are physical desktop pixels (see `capture`).

pub mod capture;
pub mod cursor;
mod dxgi;
mod icon;
pub mod mask;
pub mod watermark;
pub mod windows;

use ::windows::Win32::Foundation::RECT;
use ::windows::Win32::Graphics::Gdi::{
    BI_RGB, BITMAPINFO, BITMAPINFOHEADER, CreateCompatibleDC, DeleteDC, DeleteObject, HBITMAP, HDC,
    HGDIOBJ, SelectObject,
};

use crate::geom::Rect;

/// A Win32 rectangle (edges) as a [`Rect`] (empty when inverted).
pub(crate) fn rect(r: RECT) -> Rect {
    Rect::new(
        r.left,
        r.top,
        (r.right - r.left).max(0) as u32,
        (r.bottom - r.top).max(0) as u32,
    )
}

/// How a `w`×`h` picture of 32-bit BGRA pixels, top row first, is laid
/// out for GDI (`GetDIBits`, `CreateDIBSection`).
pub(crate) fn top_down_bgra(w: i32, h: i32) -> BITMAPINFO {
    BITMAPINFO {
        bmiHeader: BITMAPINFOHEADER {
            biSize: std::mem::size_of::<BITMAPINFOHEADER>() as u32,
            biWidth: w,
            // Negative: top-down rows.
            biHeight: -h,
            biPlanes: 1,
            biBitCount: 32,
            biCompression: BI_RGB.0,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A memory DC with a bitmap selected into it, both deleted on drop.
pub(crate) struct MemoryBitmap {
    pub dc: HDC,
    pub bitmap: HBITMAP,
    old: HGDIOBJ,
}

impl MemoryBitmap {
    /// A memory DC compatible with `like` (the screen when `None`) and the
    /// bitmap `make` creates for it; `None` when GDI has neither.
    pub(crate) fn new(
        like: Option<HDC>,
        make: impl FnOnce(HDC) -> Option<HBITMAP>,
    ) -> Option<MemoryBitmap> {
        // SAFETY: plain GDI calls; what is made here is deleted in Drop or
        // right here when the bitmap cannot be made.
        unsafe {
            let dc = CreateCompatibleDC(like);
            if dc.is_invalid() {
                return None;
            }
            let Some(bitmap) = make(dc).filter(|b| !b.is_invalid()) else {
                let _ = DeleteDC(dc);
                return None;
            };
            let old = SelectObject(dc, bitmap.into());
            Some(MemoryBitmap { dc, bitmap, old })
        }
    }
}

impl Drop for MemoryBitmap {
    fn drop(&mut self) {
        // SAFETY: made in `new`, deleted once.
        unsafe {
            SelectObject(self.dc, self.old);
            let _ = DeleteObject(self.bitmap.into());
            let _ = DeleteDC(self.dc);
        }
    }
}
