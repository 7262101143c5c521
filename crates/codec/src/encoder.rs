//! The encoder: finds what changed since the last frame and writes the ops
//! that turn the decoder's framebuffer into the new frame.
//!
//! It keeps a model of the decoder's framebuffer (`prev`, BGRA) and applies
//! every op it emits to the model exactly as the decoder will, so the two
//! never drift apart: every decision (scroll copies, cache references) is
//! checked against real pixels before it is sent.

use std::collections::HashMap;

use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::compress::{Compression, StreamEncoder, oneshot};
use crate::format::{
    FLAG_KEY, MAGIC, MAX_CURSOR_DIM, MAX_DIM, MAX_PIXELS, MAX_SLOT_PIXELS, MAX_SLOTS,
    OP_CACHE_LOAD, OP_CACHE_STORE, OP_COPY, OP_CURSOR_POS, OP_CURSOR_SHAPE, OP_FILL, OP_PIXELS,
    OP_SIZE, PIX_PALETTE, PIX_RAW, Put, packed_row_len, palette_bits,
};
use crate::{Frame, Rect};

/// Encoder settings. The defaults are the measured best for desktop and
/// terminal content (see docs/BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderConfig {
    /// Tile edge in pixels (8..=64): the unit of change detection and caching.
    pub tile: u32,
    /// Body compression.
    pub compression: Compression,
    /// Tile cache slots (0 turns the cache off; at most 1024).
    pub cache_slots: u16,
    /// Look for vertically scrolled content and send it as copies.
    pub scroll_detection: bool,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self {
            tile: 64,
            compression: Compression::Zstd(1),
            cache_slots: MAX_SLOTS,
            scroll_detection: true,
        }
    }
}

/// Counters for measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncoderStats {
    /// Updates returned by `encode`/`encode_damaged` (not cursor updates).
    pub updates: u64,
    pub keyframes: u64,
    /// Bytes of those updates.
    pub bytes: u64,
    /// `COPY` ops and the rows they moved.
    pub copies: u64,
    pub copied_rows: u64,
    /// Tiles sent as cache references, and tiles stored into the cache.
    pub cache_hits: u64,
    pub cache_stores: u64,
    /// Pixel rectangles sent (fill, palette or raw).
    pub rects: u64,
}

/// Tile cache bookkeeping on the encoder side: which slot holds which
/// content (by 128-bit hash), least recently used slot evicted first.
struct TileCache {
    slots: Vec<Option<u128>>,
    used: Vec<u64>,
    map: HashMap<u128, u16>,
    clock: u64,
}

impl TileCache {
    fn new(n: u16) -> Self {
        Self {
            slots: vec![None; usize::from(n)],
            used: vec![0; usize::from(n)],
            map: HashMap::new(),
            clock: 0,
        }
    }

    fn enabled(&self) -> bool {
        !self.slots.is_empty()
    }

    fn clear(&mut self) {
        self.slots.iter_mut().for_each(|s| *s = None);
        self.used.iter_mut().for_each(|u| *u = 0);
        self.map.clear();
        self.clock = 0;
    }

    fn lookup(&mut self, h: u128) -> Option<u16> {
        let slot = *self.map.get(&h)?;
        self.clock += 1;
        self.used[usize::from(slot)] = self.clock;
        Some(slot)
    }

    fn insert(&mut self, h: u128) -> u16 {
        self.clock += 1;
        let victim = self
            .slots
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                let mut best = 0;
                for (i, &u) in self.used.iter().enumerate() {
                    if u < self.used[best] {
                        best = i;
                    }
                }
                best
            });
        if let Some(old) = self.slots[victim].take() {
            self.map.remove(&old);
        }
        self.slots[victim] = Some(h);
        self.used[victim] = self.clock;
        // Slot count is at most MAX_SLOTS (1024), so this fits.
        let slot = victim as u16;
        self.map.insert(h, slot);
        slot
    }
}

/// Turns captured frames into updates. See the crate docs.
pub struct Encoder {
    cfg: EncoderConfig,
    width: u32,
    height: u32,
    /// The decoder's framebuffer as the encoder knows it, BGRA, packed rows.
    prev: Vec<u8>,
    need_key: bool,
    stream: StreamEncoder,
    cache: TileCache,
    /// The current pointer shape op, replayed in every keyframe.
    cursor_op: Option<Vec<u8>>,
    cursor_pos: Option<(i32, i32)>,
    stats: EncoderStats,
    body: Vec<u8>,
    dirty: Vec<bool>,
}

impl Encoder {
    pub fn new(config: EncoderConfig) -> Self {
        let mut cfg = config;
        cfg.tile = cfg.tile.clamp(8, 64);
        cfg.cache_slots = cfg.cache_slots.min(MAX_SLOTS);
        Self {
            cfg,
            width: 0,
            height: 0,
            prev: Vec::new(),
            need_key: true,
            stream: StreamEncoder::new(cfg.compression),
            cache: TileCache::new(cfg.cache_slots),
            cursor_op: None,
            cursor_pos: None,
            stats: EncoderStats::default(),
            body: Vec::new(),
            dirty: Vec::new(),
        }
    }

    pub fn config(&self) -> &EncoderConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &EncoderStats {
        &self.stats
    }

    /// The next encode sends a full keyframe (e.g. for a new viewer).
    pub fn reset(&mut self) {
        self.need_key = true;
    }

    /// Encode the changes since the last frame. `None` = nothing changed.
    /// The first call (and the first after [`reset`](Self::reset) or a size
    /// change) returns a keyframe. A frame whose size exceeds 16384 pixels a
    /// side (or 40 million pixels) or whose buffer is shorter than
    /// `stride * height` is not encoded (`None`).
    pub fn encode(&mut self, frame: &Frame<'_>) -> Option<Vec<u8>> {
        self.encode_inner(frame, None)
    }

    /// Like [`encode`](Self::encode), but only the given rectangles (for
    /// example from X DAMAGE) are compared; the rest of the screen is taken
    /// as unchanged.
    pub fn encode_damaged(&mut self, frame: &Frame<'_>, damage: &[Rect]) -> Option<Vec<u8>> {
        self.encode_inner(frame, Some(damage))
    }

    /// An update carrying a new pointer shape (RGBA8, straight alpha,
    /// `w * h * 4` bytes; at most 256×256). An invalid shape is sent as an
    /// empty (invisible) pointer.
    pub fn cursor_shape(&mut self, w: u32, h: u32, hot_x: u32, hot_y: u32, rgba: &[u8]) -> Vec<u8> {
        let n = (w as usize) * (h as usize) * 4;
        let valid = w <= MAX_CURSOR_DIM && h <= MAX_CURSOR_DIM && rgba.len() >= n;
        let (w, h, n) = if valid { (w, h, n) } else { (0, 0, 0) };
        let mut op = Vec::with_capacity(9 + n);
        op.u8(OP_CURSOR_SHAPE);
        op.u16(w as u16);
        op.u16(h as u16);
        op.u16(hot_x.min(u32::from(u16::MAX)) as u16);
        op.u16(hot_y.min(u32::from(u16::MAX)) as u16);
        op.extend_from_slice(&rgba[..n]);
        let mut out = Vec::with_capacity(op.len() / 2 + 16);
        header(&mut out, 0, 0, op.len());
        let comp = oneshot(&op, &mut out);
        out[2] = comp;
        self.cursor_op = Some(op);
        out
    }

    /// An update carrying the pointer position (of the hot spot).
    pub fn cursor_position(&mut self, x: i32, y: i32) -> Vec<u8> {
        self.cursor_pos = Some((x, y));
        let mut out = Vec::with_capacity(16);
        header(&mut out, 0, crate::format::COMP_STORED, 9);
        out.u8(OP_CURSOR_POS);
        out.i32(x);
        out.i32(y);
        out
    }

    fn encode_inner(&mut self, f: &Frame<'_>, damage: Option<&[Rect]>) -> Option<Vec<u8>> {
        if !valid_frame(f) {
            return None;
        }
        let key = self.need_key || f.width != self.width || f.height != self.height;
        self.body.clear();
        let ts = self.cfg.tile;
        let cols = f.width.div_ceil(ts) as usize;
        let rows = f.height.div_ceil(ts) as usize;
        if key {
            self.start_keyframe(f);
            self.dirty.clear();
            self.dirty.resize(cols * rows, true);
            for ty in 0..rows {
                for tx in 0..cols {
                    let tile = self.tile_rect(tx, ty);
                    self.encode_tile(f, tile, tile);
                }
            }
            copy_all(f, &mut self.prev);
        } else {
            self.dirty.clear();
            self.dirty.resize(cols * rows, false);
            let candidates = damage.map(|d| self.damage_mask(d, cols, rows));
            let any = self.diff_tiles(f, candidates.as_deref(), 0..cols, 0..rows);
            if !any {
                return None;
            }
            if self.cfg.scroll_detection {
                self.detect_scroll(f, cols, rows);
            }
            for ty in 0..rows {
                for tx in 0..cols {
                    if !self.dirty[ty * cols + tx] {
                        continue;
                    }
                    let tile = self.tile_rect(tx, ty);
                    let Some(bbox) = self.change_bbox(f, tile) else {
                        continue;
                    };
                    self.encode_tile(f, tile, bbox);
                    self.copy_tile_to_prev(f, tile);
                }
            }
            if self.body.is_empty() {
                return None;
            }
        }
        Some(self.finish(key))
    }

    fn start_keyframe(&mut self, f: &Frame<'_>) {
        self.need_key = false;
        self.width = f.width;
        self.height = f.height;
        self.prev.clear();
        self.prev
            .resize(f.width as usize * f.height as usize * 4, 0);
        self.stream.reset();
        self.cache.clear();
        self.body.u8(OP_SIZE);
        self.body.u16(f.width as u16);
        self.body.u16(f.height as u16);
        if let Some(op) = &self.cursor_op {
            self.body.extend_from_slice(op);
        }
        if let Some((x, y)) = self.cursor_pos {
            self.body.u8(OP_CURSOR_POS);
            self.body.i32(x);
            self.body.i32(y);
        }
    }

    fn finish(&mut self, key: bool) -> Vec<u8> {
        let flags = if key { FLAG_KEY } else { 0 };
        let mut out = Vec::with_capacity(self.body.len() / 4 + 64);
        header(&mut out, flags, 0, self.body.len());
        let comp = match self.stream.compress(&self.body, &mut out) {
            Ok(c) => c,
            Err(c) => {
                self.need_key = true;
                c
            }
        };
        out[2] = comp;
        self.stats.updates += 1;
        self.stats.keyframes += u64::from(key);
        self.stats.bytes += out.len() as u64;
        out
    }

    fn tile_rect(&self, tx: usize, ty: usize) -> Rect {
        let ts = self.cfg.tile;
        let x = tx as u32 * ts;
        let y = ty as u32 * ts;
        Rect {
            x,
            y,
            w: ts.min(self.width - x),
            h: ts.min(self.height - y),
        }
    }

    fn damage_mask(&self, damage: &[Rect], cols: usize, rows: usize) -> Vec<bool> {
        let mut mask = vec![false; cols * rows];
        for ty in 0..rows {
            for tx in 0..cols {
                let t = self.tile_rect(tx, ty);
                mask[ty * cols + tx] = damage.iter().any(|d| d.intersects(&t));
            }
        }
        mask
    }

    /// Mark the tiles in the given tile range whose pixels differ from the
    /// model. Returns whether any does.
    fn diff_tiles(
        &mut self,
        f: &Frame<'_>,
        candidates: Option<&[bool]>,
        txs: std::ops::Range<usize>,
        tys: std::ops::Range<usize>,
    ) -> bool {
        let ts = self.cfg.tile as usize;
        let w = self.width as usize;
        let h = self.height as usize;
        let cols = w.div_ceil(ts);
        let x0 = txs.start * ts;
        let x1 = (txs.end * ts).min(w);
        let mut any = false;
        for ty in tys {
            if let Some(c) = candidates
                && !txs.clone().any(|tx| c[ty * cols + tx])
            {
                continue;
            }
            for y in ty * ts..((ty + 1) * ts).min(h) {
                let cur = &f.bgra[y * f.stride + x0 * 4..y * f.stride + x1 * 4];
                let old = &self.prev[(y * w + x0) * 4..(y * w + x1) * 4];
                if cur == old {
                    continue;
                }
                for tx in txs.clone() {
                    let i = ty * cols + tx;
                    if self.dirty[i] || candidates.is_some_and(|c| !c[i]) {
                        continue;
                    }
                    let a = (tx * ts - x0) * 4;
                    let b = (((tx + 1) * ts).min(w) - x0) * 4;
                    if cur[a..b] != old[a..b] {
                        self.dirty[i] = true;
                        any = true;
                    }
                }
            }
        }
        any
    }

    /// Bounding box of the pixels of `tile` that differ from the model.
    fn change_bbox(&self, f: &Frame<'_>, tile: Rect) -> Option<Rect> {
        let w = self.width as usize;
        let (tx, tw) = (tile.x as usize, tile.w as usize);
        let mut x0 = usize::MAX;
        let mut x1 = 0;
        let mut y0 = usize::MAX;
        let mut y1 = 0;
        for y in tile.y as usize..(tile.y + tile.h) as usize {
            let cur = &f.bgra[y * f.stride + tx * 4..y * f.stride + (tx + tw) * 4];
            let old = &self.prev[(y * w + tx) * 4..(y * w + tx + tw) * 4];
            if cur == old {
                continue;
            }
            let px = |i: usize| cur[i * 4..i * 4 + 4] != old[i * 4..i * 4 + 4];
            let first = (0..tw).find(|&i| px(i)).unwrap_or(0);
            let last = (0..tw).rev().find(|&i| px(i)).unwrap_or(tw - 1);
            x0 = x0.min(first);
            x1 = x1.max(last + 1);
            y0 = y0.min(y);
            y1 = y + 1;
        }
        if y0 == usize::MAX {
            return None;
        }
        Some(Rect {
            x: (tx + x0) as u32,
            y: y0 as u32,
            w: (x1 - x0) as u32,
            h: (y1 - y0) as u32,
        })
    }

    fn copy_tile_to_prev(&mut self, f: &Frame<'_>, tile: Rect) {
        let w = self.width as usize;
        let (tx, tw) = (tile.x as usize, tile.w as usize);
        for y in tile.y as usize..(tile.y + tile.h) as usize {
            let cur = &f.bgra[y * f.stride + tx * 4..y * f.stride + (tx + tw) * 4];
            self.prev[(y * w + tx) * 4..(y * w + tx + tw) * 4].copy_from_slice(cur);
        }
    }

    /// Send one changed tile: a cache reference if the console has this
    /// exact tile, else the changed part's pixels (and remember the tile).
    fn encode_tile(&mut self, f: &Frame<'_>, tile: Rect, bbox: Rect) {
        let caching = self.cache.enabled() && tile.w * tile.h <= MAX_SLOT_PIXELS;
        let hash = if caching { tile_hash(f, tile) } else { 0 };
        if caching && let Some(slot) = self.cache.lookup(hash) {
            self.body.u8(OP_CACHE_LOAD);
            self.body.u16(slot);
            self.body.u16(tile.x as u16);
            self.body.u16(tile.y as u16);
            self.stats.cache_hits += 1;
            return;
        }
        encode_rect(&mut self.body, f, bbox);
        self.stats.rects += 1;
        // Remember tiles that changed a lot (a window, a page, a menu), not
        // those where a glyph or the text cursor changed: those rarely come
        // back as a whole and the stream history covers them anyway.
        let big_change = u64::from(bbox.w) * u64::from(bbox.h) * 4 >= u64::from(tile.w * tile.h);
        if caching && big_change && !is_solid(f, tile) {
            let slot = self.cache.insert(hash);
            self.body.u8(OP_CACHE_STORE);
            self.body.u16(slot);
            put_rect(&mut self.body, tile);
            self.stats.cache_stores += 1;
        }
    }

    /// Find content that moved vertically inside the changed area, send it
    /// as `COPY` ops, apply them to the model and recompute the dirty tiles.
    fn detect_scroll(&mut self, f: &Frame<'_>, cols: usize, rows: usize) {
        let ts = self.cfg.tile as usize;
        let (mut tx0, mut tx1, mut ty0, mut ty1) = (usize::MAX, 0, usize::MAX, 0);
        for ty in 0..rows {
            for tx in 0..cols {
                if self.dirty[ty * cols + tx] {
                    tx0 = tx0.min(tx);
                    tx1 = tx1.max(tx + 1);
                    ty0 = ty0.min(ty);
                    ty1 = ty1.max(ty + 1);
                }
            }
        }
        if ty1 < ty0 + 2 {
            return;
        }
        let w = self.width as usize;
        let h = self.height as usize;
        let x0 = tx0 * ts;
        let x1 = (tx1 * ts).min(w);
        let y0 = ty0 * ts;
        let y1 = (ty1 * ts).min(h);
        let cur_row = |y: usize| &f.bgra[y * f.stride + x0 * 4..y * f.stride + x1 * 4];
        let prev = &self.prev;
        let old_row = |y: usize| &prev[(y * w + x0) * 4..(y * w + x1) * 4];
        let hc: Vec<u64> = (y0..y1).map(|y| xxh3_64(cur_row(y))).collect();
        let hp: Vec<u64> = (y0..y1).map(|y| xxh3_64(old_row(y))).collect();
        // Old rows by hash; rows that occur twice (blank lines) say nothing.
        let mut where_old: HashMap<u64, Option<usize>> = HashMap::with_capacity(hp.len());
        for (i, &hv) in hp.iter().enumerate() {
            where_old
                .entry(hv)
                .and_modify(|e| *e = None)
                .or_insert(Some(i));
        }
        let mut votes: HashMap<isize, u32> = HashMap::new();
        for (i, &hv) in hc.iter().enumerate() {
            if hv == hp[i] {
                continue;
            }
            if let Some(Some(j)) = where_old.get(&hv) {
                *votes.entry(i as isize - *j as isize).or_default() += 1;
            }
        }
        let Some((dy, n)) = votes
            .into_iter()
            .max_by_key(|&(dy, n)| (n, std::cmp::Reverse(dy.unsigned_abs()), dy))
        else {
            return;
        };
        if n < 4 {
            return;
        }
        // Runs of rows where new row y equals old row y - dy (checked on bytes).
        let len = y1 - y0;
        let matches: Vec<bool> = (0..len)
            .map(|i| {
                let j = i as isize - dy;
                j >= 0
                    && (j as usize) < len
                    && hc[i] == hp[j as usize]
                    && cur_row(y0 + i) == old_row(y0 + j as usize)
            })
            .collect();
        let mut runs = Vec::new();
        let mut i = 0;
        while i < len {
            if !matches[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i < len && matches[i] {
                i += 1;
            }
            if i - start >= 2 {
                runs.push((start, i - start));
            }
        }
        if runs.is_empty() {
            return;
        }
        if dy > 0 {
            runs.reverse();
        }
        let cw = x1 - x0;
        for (start, n) in runs {
            let dst_y = y0 + start;
            let src_y = (dst_y as isize - dy) as usize;
            self.body.u8(OP_COPY);
            put_rect(
                &mut self.body,
                Rect::new(x0 as u32, src_y as u32, cw as u32, n as u32),
            );
            self.body.u16(x0 as u16);
            self.body.u16(dst_y as u16);
            // Same semantics as the decoder: row by row, away from the overlap.
            let order: Vec<usize> = if dst_y > src_y {
                (0..n).rev().collect()
            } else {
                (0..n).collect()
            };
            for r in order {
                let s = ((src_y + r) * w + x0) * 4;
                let d = ((dst_y + r) * w + x0) * 4;
                self.prev.copy_within(s..s + cw * 4, d);
            }
            self.stats.copies += 1;
            self.stats.copied_rows += n as u64;
        }
        for ty in ty0..ty1 {
            for tx in tx0..tx1 {
                self.dirty[ty * cols + tx] = false;
            }
        }
        self.diff_tiles(f, None, tx0..tx1, ty0..ty1);
    }
}

fn valid_frame(f: &Frame<'_>) -> bool {
    let (w, h) = (f.width, f.height);
    if w == 0 || h == 0 || w > MAX_DIM || h > MAX_DIM || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return false;
    }
    let row = w as usize * 4;
    f.stride >= row && (f.stride as u64) * u64::from(h - 1) + row as u64 <= f.bgra.len() as u64
}

fn header(out: &mut Vec<u8>, flags: u8, comp: u8, body_len: usize) {
    out.u8(MAGIC);
    out.u8(flags);
    out.u8(comp);
    // Bodies are far below 4 GiB (MAX_PIXELS * 3 plus ops).
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
}

fn put_rect(out: &mut Vec<u8>, r: Rect) {
    out.u16(r.x as u16);
    out.u16(r.y as u16);
    out.u16(r.w as u16);
    out.u16(r.h as u16);
}

fn copy_all(f: &Frame<'_>, prev: &mut [u8]) {
    let row = f.width as usize * 4;
    for (y, dst) in prev.chunks_exact_mut(row).enumerate() {
        dst.copy_from_slice(&f.bgra[y * f.stride..y * f.stride + row]);
    }
}

fn tile_hash(f: &Frame<'_>, r: Rect) -> u128 {
    let mut hasher = Xxh3::new();
    hasher.update(&r.w.to_le_bytes());
    hasher.update(&r.h.to_le_bytes());
    for y in r.y as usize..(r.y + r.h) as usize {
        let at = y * f.stride + r.x as usize * 4;
        hasher.update(&f.bgra[at..at + r.w as usize * 4]);
    }
    hasher.digest128()
}

#[inline]
fn rgb_at(f: &Frame<'_>, x: usize, y: usize) -> u32 {
    let i = y * f.stride + x * 4;
    u32::from_le_bytes([f.bgra[i], f.bgra[i + 1], f.bgra[i + 2], 0])
}

fn is_solid(f: &Frame<'_>, r: Rect) -> bool {
    let c = rgb_at(f, r.x as usize, r.y as usize);
    (r.y as usize..(r.y + r.h) as usize)
        .all(|y| (r.x as usize..(r.x + r.w) as usize).all(|x| rgb_at(f, x, y) == c))
}

/// Small open-addressing colour → index table (at most 256 colours).
struct Palette {
    keys: [u32; 1024],
    idx: [u8; 1024],
    colours: Vec<u32>,
}

const EMPTY: u32 = u32::MAX;

impl Palette {
    fn new() -> Self {
        Self {
            keys: [EMPTY; 1024],
            idx: [0; 1024],
            colours: Vec::with_capacity(256),
        }
    }

    /// Index of `c`, adding it; `None` once a 257th colour shows up.
    fn index(&mut self, c: u32) -> Option<u8> {
        let mut h = (c.wrapping_mul(0x9E37_79B1) >> 22) as usize;
        loop {
            if self.keys[h] == c {
                return Some(self.idx[h]);
            }
            if self.keys[h] == EMPTY {
                if self.colours.len() == 256 {
                    return None;
                }
                let i = self.colours.len() as u8;
                self.keys[h] = c;
                self.idx[h] = i;
                self.colours.push(c);
                return Some(i);
            }
            h = (h + 1) & 1023;
        }
    }
}

/// Write the pixels of `r` as a fill, a palette rectangle or raw RGB.
fn encode_rect(body: &mut Vec<u8>, f: &Frame<'_>, r: Rect) {
    let (x0, y0, w, h) = (r.x as usize, r.y as usize, r.w as usize, r.h as usize);
    let mut pal = Palette::new();
    let mut indices = Vec::with_capacity(w * h);
    let mut last = EMPTY;
    let mut last_i = 0u8;
    let mut fits = true;
    'scan: for y in y0..y0 + h {
        for x in x0..x0 + w {
            let c = rgb_at(f, x, y);
            if c != last {
                match pal.index(c) {
                    Some(i) => {
                        last = c;
                        last_i = i;
                    }
                    None => {
                        fits = false;
                        break 'scan;
                    }
                }
            }
            indices.push(last_i);
        }
    }
    let rgb = |c: u32| [(c >> 16) as u8, (c >> 8) as u8, c as u8];
    if fits && pal.colours.len() == 1 {
        body.u8(OP_FILL);
        put_rect(body, r);
        body.extend_from_slice(&rgb(pal.colours[0]));
        return;
    }
    body.u8(OP_PIXELS);
    put_rect(body, r);
    if fits {
        let n = pal.colours.len();
        body.u8(PIX_PALETTE);
        body.u8((n - 1) as u8);
        for &c in &pal.colours {
            body.extend_from_slice(&rgb(c));
        }
        let bits = palette_bits(n);
        let row_len = packed_row_len(r.w, bits);
        let per_byte = (8 / bits) as usize;
        for row in indices.chunks_exact(w) {
            let start = body.len();
            body.resize(start + row_len, 0);
            let out = &mut body[start..];
            for (j, &i) in row.iter().enumerate() {
                let shift = 8 - bits - (j % per_byte) as u32 * bits;
                out[j / per_byte] |= i << shift;
            }
        }
    } else {
        body.u8(PIX_RAW);
        body.reserve(w * h * 3);
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                body.extend_from_slice(&rgb(rgb_at(f, x, y)));
            }
        }
    }
}
