//! The customer's screen as the console knows it: an RGBA picture that
//! screen updates (full client) or whole JPEG images (browser share) change.
//! Each change reports the rectangles it touched so the UI can upload only
//! those parts of its texture.

use std::path::Path;

/// A changed area in screen pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    #[error("the screen image could not be decoded: {0}")]
    Decode(String),
    #[error("there is no screen picture yet")]
    Empty,
    #[error("could not save the screen picture: {0}")]
    Save(String),
}

/// Where the pixels come from.
#[derive(Default)]
enum Pixels {
    #[default]
    None,
    /// Screen updates of the full client, through the codec's decoder.
    Codec(Box<lotse_codec::Decoder>),
    /// Whole pictures (browser share) or raw pixels.
    Image {
        width: u32,
        height: u32,
        rgba: Vec<u8>,
    },
}

/// Pixels of one customer screen.
#[derive(Default)]
pub struct Screen {
    pixels: Pixels,
    /// Pieces of the screen update being received (same frame number).
    assembly: Vec<u8>,
    assembling: Option<u64>,
    /// Rectangles changed since the last [`Screen::take_changes`].
    pending: Vec<Rect>,
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Screen({}x{})", self.width(), self.height())
    }
}

impl Screen {
    pub fn width(&self) -> u32 {
        match &self.pixels {
            Pixels::None => 0,
            Pixels::Codec(d) => d.width(),
            Pixels::Image { width, .. } => *width,
        }
    }
    pub fn height(&self) -> u32 {
        match &self.pixels {
            Pixels::None => 0,
            Pixels::Codec(d) => d.height(),
            Pixels::Image { height, .. } => *height,
        }
    }
    /// RGBA8, `width * height * 4` bytes.
    pub fn rgba(&self) -> &[u8] {
        match &self.pixels {
            Pixels::None => &[],
            Pixels::Codec(d) => d.rgba(),
            Pixels::Image { rgba, .. } => rgba,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.width() == 0 || self.height() == 0
    }

    /// One piece of the encoded screen update number `frame` from the full
    /// client. Pieces are collected until the `last` one, then the whole
    /// update is decoded. Returns whether an update was applied.
    pub fn apply_update_piece(
        &mut self,
        frame: u64,
        piece: &[u8],
        last: bool,
    ) -> Result<bool, ScreenError> {
        if self.assembling != Some(frame) {
            // A new update starts; pieces of an unfinished one are useless.
            self.assembly.clear();
            self.assembling = Some(frame);
        }
        if self.assembly.len() + piece.len() > lotse_codec::MAX_UPDATE_BYTES {
            self.assembly.clear();
            self.assembling = None;
            return Err(ScreenError::Decode("screen update is too large".into()));
        }
        self.assembly.extend_from_slice(piece);
        if !last {
            return Ok(false);
        }
        self.assembling = None;
        let update = std::mem::take(&mut self.assembly);
        if !matches!(self.pixels, Pixels::Codec(_)) {
            self.pixels = Pixels::Codec(Box::default());
        }
        let Pixels::Codec(decoder) = &mut self.pixels else {
            return Ok(false);
        };
        let rects = decoder
            .apply(&update)
            .map_err(|e| ScreenError::Decode(e.to_string()))?;
        self.pending.extend(rects.into_iter().map(|r| Rect {
            x: r.x,
            y: r.y,
            w: r.w,
            h: r.h,
        }));
        Ok(true)
    }

    /// Forget a half-received update (the link was cut).
    pub fn drop_partial(&mut self) {
        self.assembly.clear();
        self.assembling = None;
    }

    /// A whole picture (JPEG, PNG) from a browser share replaces the screen.
    pub fn apply_image(&mut self, bytes: &[u8]) -> Result<(), ScreenError> {
        let img = image::load_from_memory(bytes)
            .map_err(|e| ScreenError::Decode(e.to_string()))?
            .into_rgba8();
        let (width, height) = (img.width(), img.height());
        self.set_rgba(width, height, img.into_raw());
        Ok(())
    }

    /// Replace the whole picture with raw RGBA pixels.
    pub fn set_rgba(&mut self, width: u32, height: u32, rgba: Vec<u8>) {
        self.pixels = Pixels::Image {
            width,
            height,
            rgba,
        };
        self.pending.push(Rect {
            x: 0,
            y: 0,
            w: width,
            h: height,
        });
    }

    /// The rectangles changed since the last call (one complete update).
    pub fn take_changes(&mut self) -> Vec<Rect> {
        std::mem::take(&mut self.pending)
    }

    /// Copy of the pixels inside `r` (clipped to the screen), row by row.
    pub fn patch(&self, r: Rect) -> (Rect, Vec<u8>) {
        let (width, height) = (self.width(), self.height());
        let x = r.x.min(width);
        let y = r.y.min(height);
        let w = r.w.min(width - x);
        let h = r.h.min(height - y);
        let stride = width as usize * 4;
        let rgba = self.rgba();
        let mut out = Vec::with_capacity(w as usize * h as usize * 4);
        for row in y..y + h {
            let start = row as usize * stride + x as usize * 4;
            if let Some(line) = rgba.get(start..start + w as usize * 4) {
                out.extend_from_slice(line);
            }
        }
        (Rect { x, y, w, h }, out)
    }

    /// Write the picture as a PNG file.
    pub fn save_png(&self, path: &Path) -> Result<(), ScreenError> {
        save_png(self.width(), self.height(), self.rgba().to_vec(), path)
    }
}

/// Write RGBA pixels as a PNG file.
pub fn save_png(width: u32, height: u32, rgba: Vec<u8>, path: &Path) -> Result<(), ScreenError> {
    if width == 0 || height == 0 {
        return Err(ScreenError::Empty);
    }
    let img = image::RgbaImage::from_raw(width, height, rgba)
        .ok_or_else(|| ScreenError::Save("pixel buffer has the wrong size".into()))?;
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| ScreenError::Save(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_frame_becomes_the_screen_and_saves_as_png() {
        let mut src = image::RgbImage::new(16, 8);
        for p in src.pixels_mut() {
            *p = image::Rgb([200, 10, 10]);
        }
        let mut jpeg = Vec::new();
        src.write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
        let mut screen = Screen::default();
        screen.apply_image(&jpeg).unwrap();
        assert_eq!((screen.width(), screen.height()), (16, 8));
        assert_eq!(
            screen.take_changes(),
            vec![Rect {
                x: 0,
                y: 0,
                w: 16,
                h: 8
            }]
        );
        let px = &screen.rgba()[..4];
        assert!(px[0] > 180 && px[1] < 40 && px[2] < 40 && px[3] == 255);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.png");
        screen.save_png(&path).unwrap();
        let back = image::open(&path).unwrap().into_rgba8();
        assert_eq!(back.as_raw(), screen.rgba());
        assert!(screen.apply_image(b"not an image").is_err());
    }

    #[test]
    fn codec_updates_in_pieces_are_decoded() {
        let (w, h) = (96u32, 40u32);
        let mut bgra = vec![0u8; (w * h * 4) as usize];
        for (i, px) in bgra.chunks_mut(4).enumerate() {
            px.copy_from_slice(&[(i % 7) as u8 * 30, 90, 200, 255]);
        }
        let mut enc = lotse_codec::Encoder::new(lotse_codec::EncoderConfig::default());
        let update = enc
            .encode(&lotse_codec::Frame {
                width: w,
                height: h,
                stride: (w * 4) as usize,
                bgra: &bgra,
            })
            .expect("a keyframe");
        let mut screen = Screen::default();
        let mid = update.len() / 2;
        assert!(!screen.apply_update_piece(1, &update[..mid], false).unwrap());
        assert!(screen.apply_update_piece(1, &update[mid..], true).unwrap());
        assert_eq!((screen.width(), screen.height()), (w, h));
        // BGRA in, RGBA out.
        assert_eq!(&screen.rgba()[..4], &[200, 90, 0, 255]);
        assert!(!screen.take_changes().is_empty());
        assert!(screen.apply_update_piece(2, b"garbage", true).is_err());
    }

    #[test]
    fn patch_copies_and_clips() {
        let mut screen = Screen::default();
        let rgba: Vec<u8> = (0..4 * 3 * 4).map(|i| i as u8).collect();
        screen.set_rgba(4, 3, rgba);
        let (r, px) = screen.patch(Rect {
            x: 3,
            y: 2,
            w: 5,
            h: 5,
        });
        assert_eq!(
            r,
            Rect {
                x: 3,
                y: 2,
                w: 1,
                h: 1
            }
        );
        assert_eq!(px, vec![44, 45, 46, 47]);
    }
}
