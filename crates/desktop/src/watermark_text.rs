//! The watermark's text, rendered once and tiled over a monitor: the same
//! picture on every platform; each backend only shows it.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};

use crate::DesktopError;

/// Text height in pixels.
const TEXT_PX: f32 = 30.0;
/// Text colour (grey works on light and dark desktops).
pub(crate) const GREY: u8 = 0x90;
/// Opacity of the text with a compositor.
pub(crate) const ALPHA: f32 = 0.35;

/// An 8-bit coverage image.
pub(crate) struct Alpha {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) data: Vec<u8>,
}

/// Renders `text` once, one line, slightly emboldened (1 px dilation: the
/// light font would be too thin to read as a shape).
pub(crate) fn render_line(text: &str) -> Result<Alpha, DesktopError> {
    let font = FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT)
        .map_err(|e| DesktopError::Render(e.to_string()))?;
    let scale = PxScale::from(TEXT_PX);
    let sf = font.as_scaled(scale);
    let ascent = sf.ascent();
    let height = (sf.ascent() - sf.descent()).ceil().max(1.0) as usize + 2;
    let mut glyphs = Vec::new();
    let mut caret = 1.0f32;
    let mut prev = None;
    for c in text.chars().filter(|c| !c.is_control()).take(200) {
        let id = font.glyph_id(c);
        if let Some(p) = prev {
            caret += sf.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(scale, point(caret, ascent + 1.0)));
        caret += sf.h_advance(id);
        prev = Some(id);
    }
    let width = (caret.ceil() as usize + 2).max(1);
    let mut data = vec![0u8; width * height];
    for g in glyphs {
        let Some(outline) = font.outline_glyph(g) else {
            continue;
        };
        let b = outline.px_bounds();
        outline.draw(|x, y, c| {
            let px = b.min.x as i64 + i64::from(x);
            let py = b.min.y as i64 + i64::from(y);
            if px >= 0 && py >= 0 && (px as usize) < width && (py as usize) < height {
                let i = py as usize * width + px as usize;
                data[i] = data[i].max((c.clamp(0.0, 1.0) * 255.0) as u8);
            }
        });
    }
    // Embolden: max with the right and lower neighbour.
    let mut bold = data.clone();
    for y in 0..height {
        for x in 0..width {
            let mut v = data[y * width + x];
            if x > 0 {
                v = v.max(data[y * width + x - 1]);
            }
            if y > 0 {
                v = v.max(data[(y - 1) * width + x]);
            }
            bold[y * width + x] = v;
        }
    }
    Ok(Alpha {
        width,
        height,
        data: bold,
    })
}

/// Repeats the line over a `w`×`h` screen in staggered rows.
pub(crate) fn tile(line: &Alpha, w: usize, h: usize) -> Alpha {
    let mut data = vec![0u8; w * h];
    let step_x = line.width + 160;
    let step_y = line.height * 4;
    let mut row = 0usize;
    let mut y0 = line.height;
    while y0 < h {
        let mut x0 = if row.is_multiple_of(2) {
            40
        } else {
            40 + step_x / 2
        };
        while x0 < w {
            for ly in 0..line.height {
                let y = y0 + ly;
                if y >= h {
                    break;
                }
                for lx in 0..line.width {
                    let x = x0 + lx;
                    if x >= w {
                        break;
                    }
                    let a = line.data[ly * line.width + lx];
                    if a > 0 {
                        data[y * w + x] = a;
                    }
                }
            }
            x0 += step_x;
        }
        y0 += step_y;
        row += 1;
    }
    Alpha {
        width: w,
        height: h,
        data,
    }
}

/// The tiled text as premultiplied ARGB32 pixels in memory order B, G, R,
/// A (X11's 32-bit visual and Wayland's `ARGB8888` shm format alike):
/// grey at [`ALPHA`] opacity where the text is, transparent elsewhere.
pub(crate) fn premultiplied_bgra(alpha: &Alpha) -> Vec<u8> {
    let mut img = Vec::with_capacity(alpha.data.len() * 4);
    for &a in &alpha.data {
        let a = (f32::from(a) * ALPHA) as u32;
        let c = (u32::from(GREY) * a / 255) as u8;
        img.extend_from_slice(&[c, c, c, a as u8]);
    }
    img
}
