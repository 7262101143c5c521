//! The decoder: applies updates to an RGBA framebuffer. Every read of the
//! input and every write into the framebuffer is bounds-checked; hostile
//! input ends in a [`DecodeError`], never a panic.

use std::sync::Arc;

use crate::compress::StreamDecoder;
use crate::format::{
    MAX_CURSOR_DIM, MAX_DIM, MAX_PIXELS, MAX_SLOTS, MAX_TILE, MIN_TILE, OP_CACHE_LOAD,
    OP_CACHE_RECT, OP_CACHE_STORE, OP_COPY, OP_CURSOR_POS, OP_CURSOR_SHAPE, OP_FILL, OP_PIXELS,
    OP_SIZE, PIX_RAW, PIX_TABLE, Reader, TABLE_CLEAR, TABLE_COLUMNS, TABLE_SIZE, copy_rect,
    parse_header,
};
use crate::{DecodeError, Rect};

/// When one update touches more rectangles than this, [`Decoder::apply`]
/// returns their bounding box instead.
const MAX_RECTS: usize = 256;

/// The pointer as the console should draw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorState {
    /// Pointer position (the hot spot) in framebuffer pixels; may lie outside.
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub hot_x: u32,
    pub hot_y: u32,
    /// RGBA8, `width * height * 4` bytes, straight (not premultiplied) alpha.
    pub rgba: Arc<[u8]>,
    /// Changes whenever a new shape arrives (re-upload the texture then).
    pub shape_serial: u64,
}

struct Slot {
    w: u32,
    h: u32,
    rgba: Vec<u8>,
}

/// Applies encoded updates; holds the framebuffer, the tile cache and the
/// compression history.
pub struct Decoder {
    width: u32,
    height: u32,
    fb: Vec<u8>,
    slots: Vec<Option<Slot>>,
    stream: StreamDecoder,
    /// Latest pointer shape (position fields unused here).
    cursor_shape: Option<CursorState>,
    cursor_pos: (i32, i32),
    shape_serial: u64,
    /// Tile edge and next cache slot (ring order), from the keyframe.
    tile: u32,
    next_slot: usize,
    /// Colour table for `TABLE` pixels (RGBA).
    table: Vec<[u8; 4]>,
    /// The framebuffer matches the encoder's (a keyframe arrived, no error since).
    synced: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    pub fn new() -> Self {
        Self {
            width: 0,
            height: 0,
            fb: Vec::new(),
            slots: Vec::new(),
            stream: StreamDecoder::new(),
            cursor_shape: None,
            cursor_pos: (0, 0),
            shape_serial: 0,
            synced: false,
            table: Vec::new(),
            tile: MAX_TILE,
            next_slot: 0,
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// RGBA8 framebuffer, `width * height * 4` bytes, alpha always 255.
    pub fn rgba(&self) -> &[u8] {
        &self.fb
    }

    /// The pointer, once its shape has arrived.
    pub fn cursor(&self) -> Option<CursorState> {
        let mut c = self.cursor_shape.clone()?;
        (c.x, c.y) = self.cursor_pos;
        c.shape_serial = self.shape_serial;
        Some(c)
    }

    /// Whether the decoder has a keyframe to build on (after an error it
    /// has not, until the next keyframe arrives).
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Forget the stream, the tile cache and the sync, as after a decode
    /// error: the caller knows updates were lost (a gap in the frame
    /// numbers). Streamed updates then fail with
    /// [`DecodeError::NeedKeyframe`] until the next keyframe; the
    /// framebuffer stays as it is.
    pub fn invalidate(&mut self) {
        self.stream.desync();
        self.synced = false;
        self.slots.clear();
    }

    /// Apply one complete update (all its pieces concatenated, see
    /// [`crate::split`]). Returns the rectangles whose pixels changed.
    ///
    /// After an error the framebuffer content is unspecified and streamed
    /// updates fail with [`DecodeError::NeedKeyframe`] until a keyframe
    /// arrives; cursor updates still apply.
    pub fn apply(&mut self, update: &[u8]) -> Result<Vec<Rect>, DecodeError> {
        let result = self.apply_inner(update);
        if let Err(e) = &result
            && !matches!(e, DecodeError::NeedKeyframe)
        {
            self.stream.desync();
            self.synced = false;
            // Keep the framebuffer (it is still memory-safe to show) but
            // require a keyframe for anything that builds on it.
            self.slots.clear();
        }
        result
    }

    fn apply_inner(&mut self, update: &[u8]) -> Result<Vec<Rect>, DecodeError> {
        let head = parse_header(update)?;
        let key = head.key;
        let payload = update.get(head.len..).ok_or(DecodeError::Truncated)?;
        let body = self
            .stream
            .decompress(head.comp, key, payload, head.body_len)?;
        let mut ops = Reader::new(&body);
        let mut rects = Vec::new();
        if key {
            if ops.u8()? != OP_SIZE {
                return Err(DecodeError::MissingSize);
            }
            let w = u32::from(ops.u16()?);
            let h = u32::from(ops.u16()?);
            let tile = u32::from(ops.u8()?);
            let slots = ops.u16()?;
            if !(MIN_TILE..=MAX_TILE).contains(&tile) || slots > MAX_SLOTS {
                return Err(DecodeError::BadSize);
            }
            self.resize(w, h)?;
            self.tile = tile;
            self.slots.resize_with(usize::from(slots), || None);
            self.next_slot = 0;
            self.synced = true;
            rects.push(Rect { x: 0, y: 0, w, h });
        }
        while !ops.is_empty() {
            let op = ops.u8()?;
            let draws = !matches!(op, OP_CURSOR_SHAPE | OP_CURSOR_POS);
            if draws && !self.synced {
                return Err(DecodeError::NeedKeyframe);
            }
            match op {
                OP_COPY => {
                    let src = ops.rect()?;
                    let dx = u32::from(ops.u16()?);
                    let dy = u32::from(ops.u16()?);
                    let dst = Rect {
                        x: dx,
                        y: dy,
                        w: src.w,
                        h: src.h,
                    };
                    self.check(src)?;
                    self.check(dst)?;
                    copy_rect(&mut self.fb, self.width as usize, src, dx, dy);
                    rects.push(dst);
                }
                OP_FILL => {
                    let rect = ops.rect()?;
                    let rgb = ops.bytes(3)?;
                    self.check(rect)?;
                    let px = [rgb[0], rgb[1], rgb[2], 255];
                    for y in rect.y..rect.y + rect.h {
                        let row = self.row_mut(y, rect.x, rect.w);
                        for p in row.chunks_exact_mut(4) {
                            p.copy_from_slice(&px);
                        }
                    }
                    rects.push(rect);
                }
                OP_PIXELS => {
                    let rect = ops.rect()?;
                    self.check(rect)?;
                    self.pixels(rect, &mut ops)?;
                    rects.push(rect);
                }
                OP_CACHE_STORE => {
                    let tx = u32::from(ops.u16()?);
                    let ty = u32::from(ops.u16()?);
                    let count = u32::from(ops.u16()?);
                    if self.slots.is_empty() {
                        return Err(DecodeError::BadSlot);
                    }
                    for k in 0..count {
                        let ts = self.tile;
                        let (x, y) = ((tx + k) * ts, ty * ts);
                        if x >= self.width || y >= self.height {
                            return Err(DecodeError::OutOfBounds);
                        }
                        let rect = Rect {
                            x,
                            y,
                            w: ts.min(self.width - x),
                            h: ts.min(self.height - y),
                        };
                        let mut rgba = Vec::with_capacity((rect.w * rect.h * 4) as usize);
                        for y in rect.y..rect.y + rect.h {
                            rgba.extend_from_slice(self.row(y, rect.x, rect.w));
                        }
                        let n = self.slots.len();
                        self.slots[self.next_slot] = Some(Slot {
                            w: rect.w,
                            h: rect.h,
                            rgba,
                        });
                        self.next_slot = (self.next_slot + 1) % n;
                    }
                }
                OP_CACHE_RECT => {
                    let rect = ops.rect()?;
                    if self.slots.is_empty() {
                        return Err(DecodeError::BadSlot);
                    }
                    if rect.w == 0 || rect.h == 0 || rect.w > MAX_TILE || rect.h > MAX_TILE {
                        return Err(DecodeError::BadSlot);
                    }
                    self.check(rect)?;
                    let mut rgba = Vec::with_capacity((rect.w * rect.h * 4) as usize);
                    for y in rect.y..rect.y + rect.h {
                        rgba.extend_from_slice(self.row(y, rect.x, rect.w));
                    }
                    let n = self.slots.len();
                    self.slots[self.next_slot] = Some(Slot {
                        w: rect.w,
                        h: rect.h,
                        rgba,
                    });
                    self.next_slot = (self.next_slot + 1) % n;
                }
                OP_CACHE_LOAD => {
                    let slot = usize::from(ops.u16()?);
                    let x = u32::from(ops.u16()?);
                    let y = u32::from(ops.u16()?);
                    let Some(Some(s)) = self.slots.get(slot) else {
                        return Err(DecodeError::BadSlot);
                    };
                    let rect = Rect {
                        x,
                        y,
                        w: s.w,
                        h: s.h,
                    };
                    self.check(rect)?;
                    let Some(Some(s)) = self.slots.get(slot) else {
                        return Err(DecodeError::BadSlot);
                    };
                    let row_bytes = (rect.w * 4) as usize;
                    let stride = self.width as usize * 4;
                    for (i, src) in s.rgba.chunks_exact(row_bytes.max(1)).enumerate() {
                        let at = (rect.y as usize + i) * stride + rect.x as usize * 4;
                        self.fb[at..at + row_bytes].copy_from_slice(src);
                    }
                    rects.push(rect);
                }
                OP_CURSOR_SHAPE => {
                    let w = u32::from(ops.u16()?);
                    let h = u32::from(ops.u16()?);
                    let hx = u32::from(ops.u16()?);
                    let hy = u32::from(ops.u16()?);
                    if w > MAX_CURSOR_DIM || h > MAX_CURSOR_DIM {
                        return Err(DecodeError::TooLarge);
                    }
                    let rgba = ops.bytes((w * h * 4) as usize)?;
                    self.cursor_shape = Some(CursorState {
                        x: 0,
                        y: 0,
                        width: w,
                        height: h,
                        hot_x: hx,
                        hot_y: hy,
                        rgba: Arc::from(rgba),
                        shape_serial: 0,
                    });
                    self.shape_serial += 1;
                }
                OP_CURSOR_POS => {
                    self.cursor_pos = (ops.i32()?, ops.i32()?);
                }
                other => return Err(DecodeError::UnknownOp(other)),
            }
        }
        if key {
            rects.truncate(1);
        } else if rects.len() > MAX_RECTS {
            let bb = bounding_box(&rects);
            rects.clear();
            rects.push(bb);
        }
        Ok(rects)
    }

    fn resize(&mut self, w: u32, h: u32) -> Result<(), DecodeError> {
        if w == 0
            || h == 0
            || w > MAX_DIM
            || h > MAX_DIM
            || u64::from(w) * u64::from(h) > MAX_PIXELS
        {
            return Err(DecodeError::BadSize);
        }
        self.width = w;
        self.height = h;
        self.fb = [0u8, 0, 0, 255].repeat(w as usize * h as usize);
        self.slots.clear();
        self.table.clear();
        Ok(())
    }

    fn check(&self, r: Rect) -> Result<(), DecodeError> {
        // Coordinates come from u16 fields, so these sums cannot overflow.
        if r.x + r.w > self.width || r.y + r.h > self.height {
            return Err(DecodeError::OutOfBounds);
        }
        Ok(())
    }

    fn row(&self, y: u32, x: u32, w: u32) -> &[u8] {
        let at = (y as usize * self.width as usize + x as usize) * 4;
        &self.fb[at..at + w as usize * 4]
    }

    fn row_mut(&mut self, y: u32, x: u32, w: u32) -> &mut [u8] {
        let at = (y as usize * self.width as usize + x as usize) * 4;
        &mut self.fb[at..at + w as usize * 4]
    }

    fn pixels(&mut self, rect: Rect, ops: &mut Reader<'_>) -> Result<(), DecodeError> {
        let enc = ops.u8()?;
        match enc {
            PIX_RAW => {
                let data = ops.bytes(rect.w as usize * rect.h as usize * 3)?;
                let row_len = rect.w as usize * 3;
                for (i, src) in data.chunks_exact(row_len.max(1)).enumerate() {
                    let row = self.row_mut(rect.y + i as u32, rect.x, rect.w);
                    for (d, s) in row.chunks_exact_mut(4).zip(src.chunks_exact(3)) {
                        d.copy_from_slice(&[s[0], s[1], s[2], 255]);
                    }
                }
                Ok(())
            }
            PIX_TABLE => {
                let flags = ops.u8()?;
                if flags & TABLE_CLEAR != 0 {
                    self.table.clear();
                }
                let n_new = usize::from(ops.u16()?);
                if self.table.len() + n_new > TABLE_SIZE {
                    return Err(DecodeError::BadPalette);
                }
                let new = ops.bytes(n_new * 3)?;
                self.table
                    .extend(new.chunks_exact(3).map(|c| [c[0], c[1], c[2], 255]));
                let (w, h) = (rect.w as usize, rect.h as usize);
                let data = ops.bytes(w * h)?;
                let n = self.table.len();
                if data.iter().any(|&i| usize::from(i) >= n) {
                    return Err(DecodeError::BadPalette);
                }
                let stride = self.width as usize * 4;
                let base = rect.y as usize * stride + rect.x as usize * 4;
                if flags & TABLE_COLUMNS != 0 {
                    for (x, col) in data.chunks_exact(h.max(1)).enumerate() {
                        for (y, &i) in col.iter().enumerate() {
                            let at = base + y * stride + x * 4;
                            self.fb[at..at + 4].copy_from_slice(&self.table[usize::from(i)]);
                        }
                    }
                } else {
                    for (y, row) in data.chunks_exact(w.max(1)).enumerate() {
                        let at = base + y * stride;
                        for (d, &i) in self.fb[at..at + w * 4].chunks_exact_mut(4).zip(row) {
                            d.copy_from_slice(&self.table[usize::from(i)]);
                        }
                    }
                }
                Ok(())
            }
            other => Err(DecodeError::UnknownPixelEncoding(other)),
        }
    }
}

fn bounding_box(rects: &[Rect]) -> Rect {
    let x0 = rects.iter().map(|r| r.x).min().unwrap_or(0);
    let y0 = rects.iter().map(|r| r.y).min().unwrap_or(0);
    let x1 = rects.iter().map(|r| r.x + r.w).max().unwrap_or(0);
    let y1 = rects.iter().map(|r| r.y + r.h).max().unwrap_or(0);
    Rect {
        x: x0,
        y: y0,
        w: x1 - x0,
        h: y1 - y0,
    }
}
