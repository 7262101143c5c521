//! The pointer on Windows: its position (`GetCursorPos`) and its image
//! (`GetCursorInfo` + `GetIconInfo`, the colour bitmap with its alpha, or
//! the AND/XOR masks of a monochrome cursor).

use windows::Win32::Foundation::POINT;
use windows::Win32::Graphics::Gdi::{
    BITMAP, CreateCompatibleDC, DIB_RGB_COLORS, DeleteDC, DeleteObject, GetDIBits, GetObjectW,
    HBITMAP,
};
use windows::Win32::UI::WindowsAndMessaging::{
    CURSORINFO, GetCursorInfo, GetCursorPos, GetIconInfo, HICON, ICONINFO,
};

use crate::DesktopError;
pub use crate::pointer::CursorImage;

/// Where the pointer is and what it looks like.
#[derive(Debug, Default)]
pub struct CursorTracker(());

impl CursorTracker {
    pub fn new() -> Result<CursorTracker, DesktopError> {
        Ok(CursorTracker(()))
    }

    /// The pointer position in desktop pixels.
    pub fn position(&self) -> Result<(i32, i32), DesktopError> {
        let mut p = POINT::default();
        // SAFETY: `p` is a valid POINT for the call.
        unsafe { GetCursorPos(&mut p) }
            .map_err(|e| DesktopError::Capture(format!("GetCursorPos failed: {e}")))?;
        Ok((p.x, p.y))
    }

    /// The pointer's current image (`serial` is the cursor's handle: it
    /// changes with the shape).
    pub fn image(&self) -> Result<CursorImage, DesktopError> {
        let fail = |what: &str| DesktopError::Capture(format!("pointer image: {what}"));
        let mut info = CURSORINFO {
            cbSize: std::mem::size_of::<CURSORINFO>() as u32,
            ..Default::default()
        };
        // SAFETY: `info` has its size set; the icon's bitmaps are deleted
        // below.
        unsafe {
            GetCursorInfo(&mut info).map_err(|e| fail(&e.to_string()))?;
            if info.hCursor.is_invalid() {
                return Err(fail("no pointer is shown"));
            }
            let mut icon = ICONINFO::default();
            GetIconInfo(HICON(info.hCursor.0), &mut icon).map_err(|e| fail(&e.to_string()))?;
            let image = if icon.hbmColor.is_invalid() {
                monochrome(icon.hbmMask)
            } else {
                coloured(icon.hbmColor, icon.hbmMask)
            };
            if !icon.hbmColor.is_invalid() {
                let _ = DeleteObject(icon.hbmColor.into());
            }
            let _ = DeleteObject(icon.hbmMask.into());
            let (width, height, rgba) = image.ok_or_else(|| fail("unreadable bitmap"))?;
            Ok(CursorImage {
                serial: info.hCursor.0 as usize as u32,
                width,
                height,
                hot_x: icon.xHotspot.min(width.saturating_sub(1)),
                hot_y: icon.yHotspot.min(height.saturating_sub(1)),
                rgba,
            })
        }
    }
}

/// A bitmap's pixels as 32-bit BGRA rows, top row first.
///
/// # Safety
/// `bitmap` must be a valid bitmap handle.
unsafe fn pixels(bitmap: HBITMAP) -> Option<(u32, u32, Vec<u8>)> {
    let mut bm = BITMAP::default();
    // SAFETY: `bm` is a BITMAP of the size given.
    let got = unsafe {
        GetObjectW(
            bitmap.into(),
            std::mem::size_of::<BITMAP>() as i32,
            Some((&mut bm as *mut BITMAP).cast()),
        )
    };
    if got == 0 || bm.bmWidth <= 0 || bm.bmHeight <= 0 || bm.bmWidth > 256 || bm.bmHeight > 512 {
        return None;
    }
    let (w, h) = (bm.bmWidth, bm.bmHeight);
    let mut data = vec![0u8; w as usize * h as usize * 4];
    let mut info = super::top_down_bgra(w, h);
    // SAFETY: a memory DC for the call; `data` holds `h` rows of `w`
    // 32-bit pixels, as `info` says.
    let lines = unsafe {
        let dc = CreateCompatibleDC(None);
        let lines = GetDIBits(
            dc,
            bitmap,
            0,
            h as u32,
            Some(data.as_mut_ptr().cast()),
            &mut info,
            DIB_RGB_COLORS,
        );
        let _ = DeleteDC(dc);
        lines
    };
    (lines == h).then_some((w as u32, h as u32, data))
}

/// A colour cursor: its colour bitmap, with the AND mask as alpha when
/// the bitmap carries none.
///
/// # Safety
/// Both handles must be valid bitmaps.
unsafe fn coloured(color: HBITMAP, mask: HBITMAP) -> Option<(u32, u32, Vec<u8>)> {
    // SAFETY: as the caller promises.
    let (w, h, bgra) = unsafe { pixels(color) }?;
    let has_alpha = bgra.chunks_exact(4).any(|p| p[3] != 0);
    // SAFETY: as the caller promises.
    let and = if has_alpha {
        None
    } else {
        unsafe { pixels(mask) }
    };
    let mut rgba = Vec::with_capacity(bgra.len());
    for (i, p) in bgra.chunks_exact(4).enumerate() {
        let alpha = match &and {
            None => p[3],
            // AND mask: white (1) = transparent.
            Some((_, _, m)) => m.get(i * 4).map_or(255, |&b| if b == 0 { 255 } else { 0 }),
        };
        rgba.extend_from_slice(&[p[2], p[1], p[0], alpha]);
    }
    Some((w, h, rgba))
}

/// A monochrome cursor: the mask bitmap holds the AND mask over the XOR
/// mask (twice the height). Inverting pixels show as black.
///
/// # Safety
/// `mask` must be a valid bitmap.
unsafe fn monochrome(mask: HBITMAP) -> Option<(u32, u32, Vec<u8>)> {
    // SAFETY: as the caller promises.
    let (w, h2, m) = unsafe { pixels(mask) }?;
    let h = h2 / 2;
    let half = w as usize * h as usize * 4;
    let mut rgba = Vec::with_capacity(half);
    for i in (0..half).step_by(4) {
        let and = m[i] != 0;
        let xor = m[half + i] != 0;
        rgba.extend_from_slice(&match (and, xor) {
            (true, false) => [0, 0, 0, 0],
            (false, false) => [0, 0, 0, 255],
            (false, true) => [255, 255, 255, 255],
            (true, true) => [0, 0, 0, 255],
        });
    }
    Some((w, h, rgba))
}
