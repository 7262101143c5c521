//! Application icons for the window list: a window's icon as a 32×32 RGBA
//! [`Icon`].
//!
//! Where it comes from, first that draws: the window's own big icon
//! (`WM_GETICON ICON_BIG`), its class icon (`GCLP_HICON`), the first icon
//! of its program file, the small icons (`ICON_SMALL2`, `ICON_SMALL`,
//! `GCLP_HICONSM`). `WM_GETICON` is sent with `SendMessageTimeoutW`: a
//! hung window answers nothing (`SMTO_ABORTIFHUNG`), a busy one gets
//! [`ASK_TIMEOUT_MS`] and is not asked again, and once a listing spent
//! [`ASK_BUDGET`] on asking, no window is asked any more (class and file
//! icons need no answer). A program file's icon also stands in where a
//! window's icon cannot be drawn by another process (Wine).
//!
//! Each icon is drawn with `DrawIconEx` at 32×32 twice, once on black and
//! once on white; where the two differ the icon is (partly) transparent.
//! That gives the alpha of icons with an alpha channel and of old icons
//! with only an AND mask alike.

use std::time::{Duration, Instant};

use windows::Win32::Foundation::{HWND, LPARAM, WPARAM};
use windows::Win32::Graphics::Gdi::{CreateDIBSection, DIB_RGB_COLORS, GdiFlush};
use windows::Win32::UI::WindowsAndMessaging::{
    DI_NORMAL, DestroyIcon, DrawIconEx, GCLP_HICON, GCLP_HICONSM, GET_CLASS_LONG_INDEX,
    GetClassLongPtrW, HICON, ICON_BIG, ICON_SMALL, ICON_SMALL2, PrivateExtractIconsW,
    SMTO_ABORTIFHUNG, SendMessageTimeoutW, WM_GETICON,
};

use super::MemoryBitmap;
use crate::apps::{ICON_SIZE, Icon};

/// How long one window may take to answer `WM_GETICON`.
pub(crate) const ASK_TIMEOUT_MS: u32 = 100;
/// How long one listing may spend waiting for answers in total.
pub(crate) const ASK_BUDGET: Duration = Duration::from_millis(500);

const PIXELS: usize = (ICON_SIZE * ICON_SIZE) as usize;

/// Reads icons for one listing: a 32×32 drawing surface and the time
/// left for asking windows.
pub(crate) struct IconReader {
    surface: MemoryBitmap,
    /// The DIB section's pixels: `PIXELS` BGRA pixels, top row first.
    bits: *mut u8,
    asking_until: Instant,
}

impl IconReader {
    /// A drawing surface, `None` when GDI has none to give.
    pub(crate) fn new() -> Option<IconReader> {
        let size = ICON_SIZE as i32;
        let info = super::top_down_bgra(size, size);
        let mut bits = std::ptr::null_mut();
        let surface = MemoryBitmap::new(None, |dc| {
            // SAFETY: `info` describes the section; `bits` receives where
            // its pixels are.
            unsafe { CreateDIBSection(Some(dc), &info, DIB_RGB_COLORS, &mut bits, None, 0) }.ok()
        })?;
        (!bits.is_null()).then(|| IconReader {
            surface,
            bits: bits.cast(),
            asking_until: Instant::now() + ASK_BUDGET,
        })
    }

    /// The icon of window `hwnd`, whose program file is `program` (if
    /// known), or `None` when nothing gives one that draws.
    pub(crate) fn window_icon(&mut self, hwnd: isize, program: Option<&str>) -> Option<Icon> {
        let hwnd = HWND(hwnd as *mut _);
        let mut answers = true;
        self.asked(hwnd, ICON_BIG, &mut answers)
            .or_else(|| self.class_icon(hwnd, GCLP_HICON))
            .or_else(|| program.and_then(|p| self.file_icon(p)))
            .or_else(|| self.asked(hwnd, ICON_SMALL2, &mut answers))
            .or_else(|| self.asked(hwnd, ICON_SMALL, &mut answers))
            .or_else(|| self.class_icon(hwnd, GCLP_HICONSM))
    }

    /// `WM_GETICON` of kind `which`, drawn; `answers` turns false once the
    /// window did not answer in time.
    fn asked(&mut self, hwnd: HWND, which: u32, answers: &mut bool) -> Option<Icon> {
        if !*answers || Instant::now() >= self.asking_until {
            return None;
        }
        let mut icon = 0usize;
        // SAFETY: a message without pointers; `icon` outlives the call.
        let sent = unsafe {
            SendMessageTimeoutW(
                hwnd,
                WM_GETICON,
                WPARAM(which as usize),
                LPARAM(0),
                SMTO_ABORTIFHUNG,
                ASK_TIMEOUT_MS,
                Some(&mut icon),
            )
        };
        if sent.0 == 0 {
            *answers = false;
            return None;
        }
        // The icon belongs to the window: drawn, never destroyed.
        self.draw(HICON(icon as *mut _))
    }

    fn class_icon(&mut self, hwnd: HWND, which: GET_CLASS_LONG_INDEX) -> Option<Icon> {
        // SAFETY: a query of a window handle; a vanished window gives 0.
        let icon = unsafe { GetClassLongPtrW(hwnd, which) };
        self.draw(HICON(icon as *mut _))
    }

    /// The first icon of a program file, loaded at 32×32.
    fn file_icon(&mut self, program: &str) -> Option<Icon> {
        let mut path = [0u16; 260];
        let wide: Vec<u16> = program.encode_utf16().collect();
        if wide.len() >= path.len() {
            return None;
        }
        path[..wide.len()].copy_from_slice(&wide);
        let mut icon = [HICON::default()];
        let size = ICON_SIZE as i32;
        // SAFETY: `path` is NUL-terminated; one icon handle is written,
        // and destroyed below.
        let loaded =
            unsafe { PrivateExtractIconsW(&path, 0, size, size, Some(&mut icon), None, 0) };
        if loaded == 0 || loaded == u32::MAX || icon[0].is_invalid() {
            return None;
        }
        let drawn = self.draw(icon[0]);
        // SAFETY: the icon was loaded above for this process alone.
        let _ = unsafe { DestroyIcon(icon[0]) };
        drawn
    }

    /// `icon` drawn at 32×32; `None` when it does not draw or is fully
    /// transparent.
    fn draw(&mut self, icon: HICON) -> Option<Icon> {
        if icon.is_invalid() {
            return None;
        }
        let on_black = self.draw_on(icon, 0x00)?;
        let on_white = self.draw_on(icon, 0xff)?;
        let rgba = unblend(&on_black, &on_white);
        rgba.chunks_exact(4).any(|p| p[3] != 0).then_some(Icon {
            width: ICON_SIZE,
            height: ICON_SIZE,
            rgba,
        })
    }

    /// `icon` drawn over a surface of grey level `background`: BGRA.
    fn draw_on(&mut self, icon: HICON, background: u8) -> Option<Vec<u8>> {
        let size = ICON_SIZE as i32;
        // SAFETY: `bits` is the DIB section's memory of PIXELS 32-bit
        // pixels, selected into `dc`; GDI is flushed before it is read.
        unsafe {
            let bits = std::slice::from_raw_parts_mut(self.bits, PIXELS * 4);
            bits.fill(background);
            DrawIconEx(self.surface.dc, 0, 0, icon, size, size, 0, None, DI_NORMAL).ok()?;
            let _ = GdiFlush();
            Some(bits.to_vec())
        }
    }
}

/// RGBA (not premultiplied) from the same picture blended over black and
/// over white (both BGRA): over black a pixel is `alpha × colour`, over
/// white that plus `(1 − alpha) × 255`.
pub(crate) fn unblend(on_black: &[u8], on_white: &[u8]) -> Vec<u8> {
    let mut rgba = Vec::with_capacity(on_black.len());
    for (b, w) in on_black.chunks_exact(4).zip(on_white.chunks_exact(4)) {
        let through: u32 = (0..3)
            .map(|c| u32::from(w[c].saturating_sub(b[c])))
            .sum::<u32>()
            / 3;
        let alpha = 255 - through;
        if alpha == 0 {
            rgba.extend_from_slice(&[0, 0, 0, 0]);
            continue;
        }
        let colour = |c: usize| ((u32::from(b[c]) * 255 + alpha / 2) / alpha).min(255) as u8;
        rgba.extend_from_slice(&[colour(2), colour(1), colour(0), alpha as u8]);
    }
    rgba
}

#[cfg(test)]
mod tests {
    use windows::Win32::Graphics::Gdi::{
        CreateBitmap, CreateDIBSection, DIB_RGB_COLORS, DeleteObject,
    };
    use windows::Win32::UI::WindowsAndMessaging::{CreateIconIndirect, DestroyIcon, ICONINFO};

    use super::{ICON_SIZE, IconReader, PIXELS, unblend};

    #[test]
    fn unblending_recovers_colour_and_alpha() {
        // BGRA over black, over white: opaque red, fully transparent,
        // blue with alpha 128 (128 over black, 128 + 127 over white).
        let on_black = [0, 0, 255, 0, 0, 0, 0, 0, 128, 0, 0, 0];
        let on_white = [0, 0, 255, 0, 255, 255, 255, 0, 255, 127, 127, 0];
        assert_eq!(
            unblend(&on_black, &on_white),
            vec![255, 0, 0, 255, 0, 0, 0, 0, 0, 0, 255, 128]
        );
    }

    /// A 32×32 icon of `bgra` pixels (alpha included) and an AND mask
    /// (`true` = transparent), as `CreateIconIndirect` makes it.
    fn icon(
        bgra: impl Fn(usize, usize) -> [u8; 4],
        clear: impl Fn(usize, usize) -> bool,
    ) -> super::HICON {
        let n = ICON_SIZE as usize;
        let mut mask = vec![0u8; n * n / 8];
        for y in 0..n {
            for x in (0..n).filter(|&x| clear(x, y)) {
                mask[y * n / 8 + x / 8] |= 0x80 >> (x % 8);
            }
        }
        let info = super::super::top_down_bgra(n as i32, n as i32);
        let mut bits = std::ptr::null_mut();
        // SAFETY: the DIB section holds PIXELS 32-bit pixels; `mask` holds
        // 32 rows of 32 bits; the bitmaps are deleted once the icon copied
        // them.
        unsafe {
            let color = CreateDIBSection(None, &info, DIB_RGB_COLORS, &mut bits, None, 0)
                .expect("colour bitmap");
            let pixels = std::slice::from_raw_parts_mut(bits.cast::<u8>(), PIXELS * 4);
            for (i, p) in pixels.chunks_exact_mut(4).enumerate() {
                p.copy_from_slice(&bgra(i % n, i / n));
            }
            let and = CreateBitmap(n as i32, n as i32, 1, 1, Some(mask.as_ptr().cast()));
            let icon = CreateIconIndirect(&ICONINFO {
                fIcon: true.into(),
                hbmMask: and,
                hbmColor: color,
                ..Default::default()
            })
            .expect("CreateIconIndirect");
            let _ = DeleteObject(color.into());
            let _ = DeleteObject(and.into());
            icon
        }
    }

    /// The RGBA of pixel (`x`, `y`) of a drawn icon.
    fn at(rgba: &[u8], x: usize, y: usize) -> [u8; 4] {
        let i = (y * ICON_SIZE as usize + x) * 4;
        rgba[i..i + 4].try_into().expect("4 bytes")
    }

    #[test]
    fn icons_with_alpha_and_with_only_a_mask_are_drawn_with_their_transparency() {
        let mut reader = IconReader::new().expect("a drawing surface");

        // Alpha: opaque red left, half-transparent blue, clear right.
        let alpha = icon(
            |x, _| match x {
                0..16 => [0, 0, 255, 255],
                16..24 => [255, 0, 0, 128],
                _ => [0, 0, 0, 0],
            },
            |_, _| false,
        );
        let drawn = reader.draw(alpha).expect("drawn").rgba;
        assert_eq!(at(&drawn, 3, 5), [255, 0, 0, 255]);
        let half = at(&drawn, 20, 5);
        assert!(
            half[..3] == [0, 0, 255] && half[3].abs_diff(128) <= 2,
            "{half:?}"
        );
        assert_eq!(at(&drawn, 30, 5)[3], 0);

        // No alpha: the AND mask says what shows (green top half; black
        // under the mask, as in any such icon).
        let masked = icon(
            |_, y| if y < 16 { [0, 255, 0, 0] } else { [0, 0, 0, 0] },
            |_, y| y >= 16,
        );
        let drawn = reader.draw(masked).expect("drawn").rgba;
        assert_eq!(at(&drawn, 7, 3), [0, 255, 0, 255]);
        assert_eq!(at(&drawn, 7, 20)[3], 0);

        // SAFETY: made above, destroyed once.
        unsafe {
            let _ = DestroyIcon(alpha);
            let _ = DestroyIcon(masked);
        }
    }
}
