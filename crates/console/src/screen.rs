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
    /// Refused before its pixels were allocated.
    #[error("the picture is larger than allowed: {0}")]
    TooLarge(String),
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
    /// Frame number of the last update applied (to notice missed ones).
    last_frame: Option<u64>,
    /// The decoder lost the stream: ask the customer for a keyframe.
    keyframe_due: bool,
    /// A keyframe was asked for and has not arrived yet (ask only once).
    keyframe_asked: bool,
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
    /// The customer's pointer as the last update left it (screen updates
    /// of the full client carry it; whole pictures have none).
    pub fn cursor(&self) -> Option<lotse_codec::CursorState> {
        match &self.pixels {
            Pixels::Codec(d) => d.cursor(),
            _ => None,
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
            self.lost_stream();
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
        let key = lotse_codec::is_keyframe(&update);
        if key {
            // A new start: if it fails too, ask again.
            self.keyframe_asked = false;
        } else if let Some(last) = self.last_frame
            && frame != last.wrapping_add(1)
        {
            // Updates went missing (a cut on the way): this one builds on
            // pixels the decoder never saw.
            decoder.invalidate();
            self.lost_stream();
            return Err(ScreenError::Decode(format!(
                "screen updates {} to {} were missed",
                last.wrapping_add(1),
                frame.wrapping_sub(1)
            )));
        }
        let rects = match decoder.apply(&update) {
            Ok(rects) => rects,
            Err(e) => {
                self.lost_stream();
                return Err(ScreenError::Decode(e.to_string()));
            }
        };
        self.last_frame = Some(frame);
        self.pending.extend(rects.into_iter().map(|r| Rect {
            x: r.x,
            y: r.y,
            w: r.w,
            h: r.h,
        }));
        Ok(true)
    }

    /// The decoder cannot follow the update stream any more; the next
    /// [`Screen::take_keyframe_request`] says so (once until a keyframe).
    fn lost_stream(&mut self) {
        self.last_frame = None;
        if !self.keyframe_asked {
            self.keyframe_due = true;
        }
    }

    /// Whether the customer must be asked for a keyframe now
    /// (`keyframe_request`): true once after a decode error or missed
    /// updates, then false until a keyframe arrived and the stream broke
    /// again. Updates in flight fail until the keyframe comes; they do not
    /// ask again.
    pub fn take_keyframe_request(&mut self) -> bool {
        if std::mem::take(&mut self.keyframe_due) {
            self.keyframe_asked = true;
            return true;
        }
        false
    }

    /// Forget a half-received update (the link was cut).
    pub fn drop_partial(&mut self) {
        self.assembly.clear();
        self.assembling = None;
    }

    /// A whole picture (JPEG, PNG) from a browser share replaces the screen.
    pub fn apply_image(&mut self, bytes: &[u8]) -> Result<(), ScreenError> {
        let img = decode_image(bytes).map_err(|e| match e {
            image::ImageError::Limits(_) => ScreenError::TooLarge(e.to_string()),
            e => ScreenError::Decode(e.to_string()),
        })?;
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

/// Decodes a PNG or JPEG to RGBA within the protocol's limits
/// (`lotse_protocol::limits::IMAGE_MAX_*`): a picture that claims more than
/// `IMAGE_MAX_SIDE` on a side or more than `IMAGE_MAX_PIXELS` pixels is
/// refused with [`image::ImageError::Limits`] after reading its header,
/// before any pixel buffer exists. Every image the console decodes goes
/// through here.
pub fn decode_image(bytes: &[u8]) -> image::ImageResult<image::RgbaImage> {
    use image::ImageDecoder as _;
    use lotse_protocol::limits::{IMAGE_MAX_PIXELS, IMAGE_MAX_SIDE};
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(IMAGE_MAX_SIDE);
    limits.max_image_height = Some(IMAGE_MAX_SIDE);
    limits.max_alloc = Some(IMAGE_MAX_PIXELS * 4);
    reader.limits(limits);
    let decoder = reader.into_decoder()?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > IMAGE_MAX_PIXELS
        || decoder.total_bytes() > IMAGE_MAX_PIXELS * 4
    {
        return Err(image::ImageError::Limits(
            image::error::LimitError::from_kind(image::error::LimitErrorKind::DimensionError),
        ));
    }
    Ok(image::DynamicImage::from_decoder(decoder)?.into_rgba8())
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

/// A real 1×1 PNG (`jpeg`: JPEG) whose header claims `w`×`h` pixels: what
/// a decompression bomb shows a decoder before its pixel data.
#[cfg(test)]
pub(crate) fn claiming(jpeg: bool, w: u16, h: u16) -> Vec<u8> {
    let format = if jpeg {
        image::ImageFormat::Jpeg
    } else {
        image::ImageFormat::Png
    };
    let mut bytes = Vec::new();
    image::RgbImage::new(1, 1)
        .write_to(&mut std::io::Cursor::new(&mut bytes), format)
        .unwrap();
    let (w, h) = (w.to_be_bytes(), h.to_be_bytes());
    if jpeg {
        // SOF0: FF C0, length, precision, height, width.
        let at = bytes.windows(2).position(|m| m == [0xff, 0xc0]).unwrap();
        bytes[at + 5..at + 9].copy_from_slice(&[h[0], h[1], w[0], w[1]]);
    } else {
        // IHDR: width and height (u32) at 16 and 20, then its CRC at 29.
        bytes[18..20].copy_from_slice(&w);
        bytes[22..24].copy_from_slice(&h);
        let crc = bytes[12..29].iter().fold(!0u32, |mut c, &b| {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = (c >> 1) ^ (0xEDB8_8320 & (c & 1).wrapping_neg());
            }
            c
        });
        bytes[29..33].copy_from_slice(&(!crc).to_be_bytes());
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_claiming_a_huge_size_are_refused_before_their_pixels() {
        for (jpeg, w, h) in [
            (false, 16384, 16384),
            (true, 16384, 16384),
            (false, 8193, 1),
            (true, 1, 8193),
            // Sides within the limit, too many pixels.
            (false, 8000, 8000),
            (true, 4097, 4097),
        ] {
            let bytes = claiming(jpeg, w, h);
            let e = decode_image(&bytes).expect_err("refused");
            assert!(
                matches!(e, image::ImageError::Limits(_)),
                "{w}×{h} (jpeg {jpeg}): {e}"
            );
            let mut screen = Screen::default();
            let e = screen.apply_image(&bytes).expect_err("refused");
            assert!(
                e.to_string().contains("larger than allowed"),
                "{w}×{h}: {e}"
            );
            assert_eq!((screen.width(), screen.height()), (0, 0));
        }
        // The header is read right: the same image claiming its real size
        // decodes.
        for jpeg in [false, true] {
            let img = decode_image(&claiming(jpeg, 1, 1)).expect("1×1 decodes");
            assert_eq!(img.dimensions(), (1, 1));
        }
    }

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

    /// A test picture (BGRA) and the encoder that sends it.
    struct Sender {
        w: u32,
        h: u32,
        bgra: Vec<u8>,
        enc: lotse_codec::Encoder,
    }

    impl Sender {
        fn new() -> Self {
            let (w, h) = (160u32, 72u32);
            let mut bgra = vec![0u8; (w * h * 4) as usize];
            for (i, px) in bgra.chunks_mut(4).enumerate() {
                let (x, y) = (i as u32 % w, i as u32 / w);
                px.copy_from_slice(&[(x * 3) as u8, (y * 5) as u8, ((x ^ y) * 7) as u8, 0]);
            }
            let enc = lotse_codec::Encoder::new(lotse_codec::EncoderConfig::default());
            Self { w, h, bgra, enc }
        }
        /// Paint a square and encode what changed.
        fn paint(&mut self, x0: u32, y0: u32, bgr: [u8; 3]) -> Vec<u8> {
            for y in y0..y0 + 12 {
                for x in x0..x0 + 12 {
                    let i = ((y * self.w + x) * 4) as usize;
                    self.bgra[i..i + 3].copy_from_slice(&bgr);
                }
            }
            self.encode().expect("a change gives an update")
        }
        fn encode(&mut self) -> Option<Vec<u8>> {
            self.enc.encode(&lotse_codec::Frame {
                width: self.w,
                height: self.h,
                stride: (self.w * 4) as usize,
                bgra: &self.bgra,
            })
        }
        /// What the technician must see: RGBA, opaque.
        fn rgba(&self) -> Vec<u8> {
            self.bgra
                .chunks(4)
                .flat_map(|p| [p[2], p[1], p[0], 255])
                .collect()
        }
    }

    #[test]
    fn decode_error_asks_once_for_a_keyframe_that_restores_the_screen() {
        let mut cust = Sender::new();
        let mut screen = Screen::default();
        let key = cust.encode().expect("keyframe");
        assert!(screen.apply_update_piece(1, &key, true).unwrap());
        assert!(!screen.take_keyframe_request());
        let delta = cust.paint(10, 10, [1, 2, 3]);
        assert!(screen.apply_update_piece(2, &delta, true).unwrap());
        assert_eq!(screen.rgba(), cust.rgba());
        assert!(!screen.take_keyframe_request(), "nothing went wrong yet");

        // Update 3 arrives damaged: the decoder loses the stream.
        let mut bad = cust.paint(50, 30, [200, 0, 0]);
        bad.truncate(bad.len() - 2);
        assert!(screen.apply_update_piece(3, &bad, true).is_err());
        assert!(screen.take_keyframe_request(), "ask for a keyframe");
        assert!(!screen.take_keyframe_request(), "only once");
        // Updates already on the way fail too, without asking again.
        let late = cust.paint(90, 40, [0, 200, 0]);
        assert!(screen.apply_update_piece(4, &late, true).is_err());
        assert!(!screen.take_keyframe_request());
        assert_ne!(screen.rgba(), cust.rgba());

        // The customer answers keyframe_request: encoder reset, keyframe.
        cust.enc.reset();
        let key = cust.encode().expect("keyframe");
        assert!(lotse_codec::is_keyframe(&key));
        assert!(screen.apply_update_piece(5, &key, true).unwrap());
        assert_eq!(screen.rgba(), cust.rgba(), "the keyframe restores it");
        assert!(!screen.take_keyframe_request());
        // The stream goes on from there.
        let delta = cust.paint(120, 50, [7, 8, 9]);
        assert!(screen.apply_update_piece(6, &delta, true).unwrap());
        assert_eq!(screen.rgba(), cust.rgba());

        // A later failure asks again.
        assert!(screen.apply_update_piece(7, b"garbage", true).is_err());
        assert!(screen.take_keyframe_request());
    }

    #[test]
    fn missed_updates_ask_for_a_keyframe() {
        let mut cust = Sender::new();
        let mut screen = Screen::default();
        let key = cust.encode().expect("keyframe");
        assert!(screen.apply_update_piece(1, &key, true).unwrap());
        // Update 2 is lost on the way (a reconnect); 3 builds on it.
        let _lost = cust.paint(10, 10, [1, 2, 3]);
        let next = cust.paint(30, 10, [4, 5, 6]);
        let err = screen.apply_update_piece(3, &next, true).unwrap_err();
        assert!(err.to_string().contains("missed"), "{err}");
        assert!(screen.take_keyframe_request());
        cust.enc.reset();
        let key = cust.encode().expect("keyframe");
        assert!(screen.apply_update_piece(4, &key, true).unwrap());
        assert_eq!(screen.rgba(), cust.rgba());
        // A fresh view (no keyframe yet) asks as well.
        let mut fresh = Screen::default();
        let delta = cust.paint(60, 20, [9, 9, 9]);
        assert!(fresh.apply_update_piece(5, &delta, true).is_err());
        assert!(fresh.take_keyframe_request());
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
