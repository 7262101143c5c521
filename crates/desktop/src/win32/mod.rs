//! The Windows backend (Win32): monitors and GDI screen capture, the
//! pointer, the application list, the app mask and the watermark. DXGI
//! Desktop Duplication (the fast path on real Windows) follows (issue 12).

pub mod capture;
pub mod cursor;
pub mod mask;
pub mod watermark;
pub mod windows;

use ::windows::Win32::Graphics::Gdi::{BI_RGB, BITMAPINFO, BITMAPINFOHEADER};

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
