//! The customer's screen as GPU textures. A screen may be larger than the
//! largest texture the graphics driver takes (`max_texture_side`: 2048 on
//! some drivers, the codec allows 16384), so it is cut into tiles no larger
//! than that; changed rectangles are uploaded into the tiles they touch.

use egui::{Color32, ColorImage, Pos2, Rect, TextureHandle, TextureOptions, Vec2};

/// One part of the screen and its texture.
struct Tile {
    /// In screen pixels: x, y, width, height.
    x: usize,
    y: usize,
    w: usize,
    h: usize,
    texture: TextureHandle,
}

pub(super) struct Picture {
    width: usize,
    height: usize,
    tiles: Vec<Tile>,
}

impl Picture {
    /// Upload a whole `width`×`height` RGBA picture.
    pub(super) fn upload(ctx: &egui::Context, name: &str, size: [usize; 2], rgba: &[u8]) -> Self {
        let [width, height] = size;
        let side = ctx.input(|i| i.max_texture_side).max(64);
        let mut tiles = Vec::new();
        for y in (0..height).step_by(side) {
            for x in (0..width).step_by(side) {
                let (w, h) = (side.min(width - x), side.min(height - y));
                let image =
                    ColorImage::from_rgba_unmultiplied([w, h], &cut(rgba, width, x, y, w, h));
                let texture =
                    ctx.load_texture(format!("{name}-{x}-{y}"), image, TextureOptions::LINEAR);
                tiles.push(Tile {
                    x,
                    y,
                    w,
                    h,
                    texture,
                });
            }
        }
        Self {
            width,
            height,
            tiles,
        }
    }

    pub(super) fn size(&self) -> [usize; 2] {
        [self.width, self.height]
    }

    /// New pixels for the rectangle at `(x, y)`, `w`×`h`, row by row.
    pub(super) fn update(&mut self, (x, y, w, h): (usize, usize, usize, usize), rgba: &[u8]) {
        for t in &mut self.tiles {
            let (x0, y0) = (x.max(t.x), y.max(t.y));
            let (x1, y1) = ((x + w).min(t.x + t.w), (y + h).min(t.y + t.h));
            if x0 >= x1 || y0 >= y1 {
                continue;
            }
            let part = cut(rgba, w, x0 - x, y0 - y, x1 - x0, y1 - y0);
            let image = ColorImage::from_rgba_unmultiplied([x1 - x0, y1 - y0], &part);
            t.texture
                .set_partial([x0 - t.x, y0 - t.y], image, TextureOptions::LINEAR);
        }
    }

    /// Draw the picture into `rect` (any size: it is scaled).
    pub(super) fn paint(&self, painter: &egui::Painter, rect: Rect) {
        let scale = Vec2::new(
            rect.width() / self.width as f32,
            rect.height() / self.height as f32,
        );
        let uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
        for t in &self.tiles {
            let min = rect.min + Vec2::new(t.x as f32, t.y as f32) * scale;
            let size = Vec2::new(t.w as f32, t.h as f32) * scale;
            painter.image(
                t.texture.id(),
                Rect::from_min_size(min, size),
                uv,
                Color32::WHITE,
            );
        }
    }

    /// How many textures hold the picture.
    #[cfg(test)]
    pub(super) fn tiles(&self) -> usize {
        self.tiles.len()
    }
}

/// The `w`×`h` pixels at `(x, y)` of an RGBA picture `stride_px` wide.
fn cut(rgba: &[u8], stride_px: usize, x: usize, y: usize, w: usize, h: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(w * h * 4);
    for row in y..y + h {
        let start = (row * stride_px + x) * 4;
        if let Some(line) = rgba.get(start..start + w * 4) {
            out.extend_from_slice(line);
        }
    }
    out
}
