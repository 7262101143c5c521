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
    MAX_CURSOR_DIM, MAX_DIM, MAX_HEADER_LEN, MAX_PIXELS, MAX_SLOTS, MAX_TILE, MIN_TILE,
    OP_CACHE_LOAD, OP_CACHE_RECT, OP_CACHE_STORE, OP_COPY, OP_CURSOR_POS, OP_CURSOR_SHAPE, OP_FILL,
    OP_PIXELS, OP_SIZE, PIX_RAW, PIX_TABLE, Put, TABLE_CLEAR, TABLE_COLUMNS, copy_rect, put_header,
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
    /// Write table-indexed pixels column by column (else row by row).
    pub column_major: bool,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self {
            tile: 64,
            compression: Compression::Zstd(3),
            cache_slots: MAX_SLOTS,
            scroll_detection: true,
            column_major: true,
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
/// content (by 128-bit hash). Slots are filled in ring order on both ends
/// (the decoder counts along), so a store names no slot and eviction is
/// identical by construction: the oldest stored tile goes first.
struct TileCache {
    ring: Vec<Option<u128>>,
    next: usize,
    map: HashMap<u128, u16>,
}

impl TileCache {
    fn new(n: u16) -> Self {
        Self {
            ring: vec![None; usize::from(n)],
            next: 0,
            map: HashMap::new(),
        }
    }

    fn enabled(&self) -> bool {
        !self.ring.is_empty()
    }

    fn clear(&mut self) {
        self.ring.iter_mut().for_each(|s| *s = None);
        self.next = 0;
        self.map.clear();
    }

    fn lookup(&self, h: u128) -> Option<u16> {
        self.map.get(&h).copied()
    }

    fn insert(&mut self, h: u128) {
        let slot = self.next;
        // The ring has at most MAX_SLOTS (1024) entries, so this fits.
        let id = slot as u16;
        if let Some(old) = self.ring[slot].take()
            && self.map.get(&old) == Some(&id)
        {
            self.map.remove(&old);
        }
        self.ring[slot] = Some(h);
        self.map.insert(h, id);
        self.next = (slot + 1) % self.ring.len();
    }
}

/// A region the caller knows has moved: `src` (in the previous frame) now
/// lies at `(dst_x, dst_y)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    pub src: Rect,
    pub dst_x: u32,
    pub dst_y: u32,
}

/// A changed tile waiting to be sent with its neighbours.
struct RunTile {
    tile: Rect,
    bbox: Rect,
    hash: u128,
    caching: bool,
}

/// The colour table both ends keep between keyframes (`PIXELS` encoding
/// `TABLE`): the same colour keeps its index, so the same glyph always
/// becomes the same bytes and the stream history finds it again.
struct ColourTable {
    index: HashMap<u32, u8>,
    len: usize,
}

impl ColourTable {
    fn new() -> Self {
        Self {
            index: HashMap::new(),
            len: 0,
        }
    }

    fn clear(&mut self) {
        self.index.clear();
        self.len = 0;
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
    table: ColourTable,
    /// Scratch buffer for the compressed body.
    payload: Vec<u8>,
    /// The vertical shift found last (tried first next time).
    last_shift: Option<isize>,
}

impl Encoder {
    pub fn new(config: EncoderConfig) -> Self {
        let mut cfg = config;
        cfg.tile = cfg.tile.clamp(MIN_TILE, MAX_TILE);
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
            table: ColourTable::new(),
            last_shift: None,
            payload: Vec::new(),
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
        self.encode_inner(frame, None, &[])
    }

    /// Like [`encode`](Self::encode), but only the given rectangles (for
    /// example from X DAMAGE) are compared; the rest of the screen is taken
    /// as unchanged.
    pub fn encode_damaged(&mut self, frame: &Frame<'_>, damage: &[Rect]) -> Option<Vec<u8>> {
        self.encode_inner(frame, Some(damage), &[])
    }

    /// Like [`encode_damaged`](Self::encode_damaged) (`damage` `None` = look
    /// at the whole screen), with moves the caller knows of, e.g. a window
    /// that was dragged (from the window geometry). Each move is checked
    /// against the pixels row by row; what holds travels as a `COPY` op.
    pub fn encode_hinted(
        &mut self,
        frame: &Frame<'_>,
        damage: Option<&[Rect]>,
        moves: &[Move],
    ) -> Option<Vec<u8>> {
        self.encode_inner(frame, damage, moves)
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
        let mut payload = Vec::with_capacity(op.len() / 2 + 16);
        let comp = oneshot(&op, &mut payload);
        let mut out = Vec::with_capacity(payload.len() + MAX_HEADER_LEN);
        put_header(&mut out, false, comp, op.len());
        out.extend_from_slice(&payload);
        self.cursor_op = Some(op);
        out
    }

    /// An update carrying the pointer position (of the hot spot).
    pub fn cursor_position(&mut self, x: i32, y: i32) -> Vec<u8> {
        self.cursor_pos = Some((x, y));
        let mut out = Vec::with_capacity(16);
        put_header(&mut out, false, crate::format::COMP_STORED, 9);
        out.u8(OP_CURSOR_POS);
        out.i32(x);
        out.i32(y);
        out
    }

    fn encode_inner(
        &mut self,
        f: &Frame<'_>,
        damage: Option<&[Rect]>,
        moves: &[Move],
    ) -> Option<Vec<u8>> {
        if !valid_frame(f) {
            return None;
        }
        let key = self.need_key || f.width != self.width || f.height != self.height;
        self.body.clear();
        let ts = self.cfg.tile;
        let cols = f.width.div_ceil(ts) as usize;
        let rows = f.height.div_ceil(ts) as usize;
        self.dirty.clear();
        if key {
            self.start_keyframe(f);
            self.dirty.resize(cols * rows, true);
        } else {
            self.dirty.resize(cols * rows, false);
            let candidates = damage.map(|d| self.damage_mask(d, cols, rows));
            let any = self.diff_tiles(f, candidates.as_deref(), 0..cols, 0..rows);
            if !any {
                return None;
            }
            if !moves.is_empty() && self.apply_moves(f, moves) {
                self.dirty.iter_mut().for_each(|d| *d = false);
                self.diff_tiles(f, candidates.as_deref(), 0..cols, 0..rows);
            }
            if self.cfg.scroll_detection {
                self.detect_scroll(f, cols, rows);
            }
        }
        let mut run: Vec<RunTile> = Vec::new();
        for ty in 0..rows {
            for tx in 0..cols {
                if !self.dirty[ty * cols + tx] {
                    self.flush_run(f, &mut run);
                    continue;
                }
                let tile = self.tile_rect(tx, ty);
                let bbox = if key {
                    Some(tile)
                } else {
                    self.change_bbox(f, tile)
                };
                let Some(bbox) = bbox else {
                    self.flush_run(f, &mut run);
                    continue;
                };
                // Only tiles that changed a lot go through the cache (see
                // flush_run); small changes stay in their run.
                let caching = self.cache.enabled() && self.big_change(bbox);
                let hash = if caching { tile_hash(f, tile) } else { 0 };
                if caching && self.cache.lookup(hash).is_some() {
                    // Send the tiles before first: storing them may evict
                    // the very slot this tile would load from.
                    self.flush_run(f, &mut run);
                }
                if caching && let Some(slot) = self.cache.lookup(hash) {
                    self.body.u8(OP_CACHE_LOAD);
                    self.body.u16(slot);
                    self.body.u16(tile.x as u16);
                    self.body.u16(tile.y as u16);
                    self.stats.cache_hits += 1;
                    self.copy_tile_to_prev(f, tile);
                    continue;
                }
                run.push(RunTile {
                    tile,
                    bbox,
                    hash,
                    caching,
                });
            }
            self.flush_run(f, &mut run);
        }
        if self.body.is_empty() {
            return None;
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
        self.table.clear();
        self.body.u8(OP_SIZE);
        self.body.u16(f.width as u16);
        self.body.u16(f.height as u16);
        self.body.u8(self.cfg.tile as u8);
        self.body.u16(self.cfg.cache_slots);
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
        let mut payload = std::mem::take(&mut self.payload);
        payload.clear();
        // A tiny delta (a cache reference, a small fill) costs less stored
        // than as a zstd block, and stays out of the stream (mode 0 updates
        // stand alone; the decoder's stream is not touched either).
        let tiny = !key && self.body.len() <= TINY_BODY;
        let comp = if tiny {
            payload.extend_from_slice(&self.body);
            Ok(crate::format::COMP_STORED)
        } else {
            self.stream.compress(&self.body, &mut payload)
        };
        let comp = match comp {
            Ok(c) => c,
            Err(c) => {
                self.need_key = true;
                c
            }
        };
        let mut out = Vec::with_capacity(payload.len() + MAX_HEADER_LEN);
        put_header(&mut out, key, comp, self.body.len());
        out.extend_from_slice(&payload);
        self.payload = payload;
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

    /// Whether a changed area covers at least a quarter of a (full) tile.
    fn big_change(&self, bbox: Rect) -> bool {
        u64::from(bbox.w) * u64::from(bbox.h) * 4 >= u64::from(self.cfg.tile * self.cfg.tile)
    }

    /// Send a run of horizontally adjacent changed tiles (same tile row) as
    /// one rectangle: the union of their changed areas. One rectangle per
    /// text line keeps words intact for the compressor's history. Falls back
    /// to one rectangle per tile when the union has too many colours.
    fn flush_run(&mut self, f: &Frame<'_>, run: &mut Vec<RunTile>) {
        if run.is_empty() {
            return;
        }
        let x0 = run.iter().map(|t| t.bbox.x).min().unwrap_or(0);
        let x1 = run.iter().map(|t| t.bbox.x + t.bbox.w).max().unwrap_or(0);
        let y0 = run.iter().map(|t| t.bbox.y).min().unwrap_or(0);
        let y1 = run.iter().map(|t| t.bbox.y + t.bbox.h).max().unwrap_or(0);
        let union = Rect::new(x0, y0, x1 - x0, y1 - y0);
        // A small change (a typed glyph with the text cursor next to it, a
        // blinking cursor, a checkbox) is looked up by its content: the
        // same pixels seen before anywhere on the screen travel as a
        // 7-byte reference (CACHE_LOAD), else they are stored after being
        // drawn (CACHE_RECT). Big changes use the whole-tile cache below.
        let small = self.cache.enabled()
            && union.w <= MAX_TILE
            && union.h <= MAX_TILE
            && !run.iter().any(|t| t.caching);
        let small_hash = if small { tile_hash(f, union) } else { 0 };
        if small && let Some(slot) = self.cache.lookup(small_hash) {
            self.body.u8(OP_CACHE_LOAD);
            self.body.u16(slot);
            self.body.u16(union.x as u16);
            self.body.u16(union.y as u16);
            self.stats.cache_hits += 1;
            for t in run.drain(..) {
                self.copy_tile_to_prev(f, t.tile);
            }
            return;
        }
        // Column order pays off for text lines (a repeated word becomes one
        // long match); a glyph-sized rectangle compresses better row by row.
        let column_major = self.cfg.column_major && !small;
        let mut one_rect = true;
        if run.len() == 1
            || !encode_rect(
                &mut self.body,
                f,
                union,
                &mut self.table,
                column_major,
                false,
            )
        {
            one_rect = run.len() == 1;
            for t in run.iter() {
                encode_rect(
                    &mut self.body,
                    f,
                    t.bbox,
                    &mut self.table,
                    column_major,
                    true,
                );
                self.stats.rects += 1;
            }
        } else {
            self.stats.rects += 1;
        }
        if small && one_rect && !is_solid(f, union) {
            self.body.u8(OP_CACHE_RECT);
            put_rect(&mut self.body, union);
            self.cache.insert(small_hash);
            self.stats.cache_stores += 1;
        }
        // Remember tiles that changed a lot (a window, a page, a menu), not
        // those where a glyph or the text cursor changed: those rarely come
        // back as a whole, and the stream history has them. Neighbouring
        // tiles are stored with one op.
        let mut i = 0;
        while i < run.len() {
            let keep = |t: &RunTile| t.caching && !is_solid(f, t.tile);
            if !keep(&run[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < run.len() && keep(&run[i]) {
                self.cache.insert(run[i].hash);
                i += 1;
            }
            let first = run[start].tile;
            let ts = self.cfg.tile;
            self.body.u8(OP_CACHE_STORE);
            self.body.u16((first.x / ts) as u16);
            self.body.u16((first.y / ts) as u16);
            self.body.u16((i - start) as u16);
            self.stats.cache_stores += (i - start) as u64;
        }
        for t in run.drain(..) {
            self.copy_tile_to_prev(f, t.tile);
        }
    }

    /// Write a `COPY` op and apply it to the model.
    fn emit_copy(&mut self, src: Rect, dst_x: u32, dst_y: u32) {
        self.body.u8(OP_COPY);
        put_rect(&mut self.body, src);
        self.body.u16(dst_x as u16);
        self.body.u16(dst_y as u16);
        copy_rect(&mut self.prev, self.width as usize, src, dst_x, dst_y);
        self.stats.copies += 1;
        self.stats.copied_rows += u64::from(src.h);
    }

    /// Send the hinted moves that the new frame confirms (row by row, on
    /// bytes) as `COPY` ops. Returns whether any was sent.
    fn apply_moves(&mut self, f: &Frame<'_>, moves: &[Move]) -> bool {
        let (w, h) = (self.width, self.height);
        let mut any = false;
        for m in moves {
            // Clip to the screen, source and destination alike.
            let (sx, sy, dx, dy) = (m.src.x, m.src.y, m.dst_x, m.dst_y);
            let mw = m.src.w.min(w.saturating_sub(sx)).min(w.saturating_sub(dx));
            let mh = m.src.h.min(h.saturating_sub(sy)).min(h.saturating_sub(dy));
            if mw == 0 || mh == 0 || (sx, sy) == (dx, dy) {
                continue;
            }
            let stride = w as usize * 4;
            let row_bytes = mw as usize * 4;
            let ok: Vec<bool> = (0..mh)
                .map(|r| {
                    let c = (dy + r) as usize * f.stride + dx as usize * 4;
                    let p = (sy + r) as usize * stride + sx as usize * 4;
                    let old = (dy + r) as usize * stride + dx as usize * 4;
                    let cur = &f.bgra[c..c + row_bytes];
                    // Worth it only where the destination really changed.
                    cur == &self.prev[p..p + row_bytes] && cur != &self.prev[old..old + row_bytes]
                })
                .collect();
            let mut runs = runs_of(&ok, 2);
            if dy > sy {
                runs.reverse();
            }
            for (start, n) in runs {
                let start = start as u32;
                self.emit_copy(Rect::new(sx, sy + start, mw, n as u32), dx, dy + start);
                any = true;
            }
        }
        any
    }

    /// Find content that moved vertically inside the changed area, band by
    /// band (a band is one tile column), send it as `COPY` ops, apply them
    /// to the model and recompute the dirty tiles.
    fn detect_scroll(&mut self, f: &Frame<'_>, cols: usize, rows: usize) {
        let ts = self.cfg.tile as usize;
        let (mut tx0, mut tx1, mut ty0, mut ty1) = (usize::MAX, 0, usize::MAX, 0);
        let mut bands = vec![false; cols];
        for ty in 0..rows {
            for (tx, band) in bands.iter_mut().enumerate() {
                if self.dirty[ty * cols + tx] {
                    *band = true;
                    tx0 = tx0.min(tx);
                    tx1 = tx1.max(tx + 1);
                    ty0 = ty0.min(ty);
                    ty1 = ty1.max(ty + 1);
                }
            }
        }
        if tx1 == 0 {
            return;
        }
        let w = self.width as usize;
        let y0 = ty0 * ts;
        let y1 = (ty1 * ts).min(self.height as usize);
        let len = y1 - y0;
        // Per band: the shift found there and which rows it explains.
        let found: Vec<Option<(isize, Vec<bool>)>> = (0..cols)
            .map(|tx| {
                if !bands[tx] {
                    return None;
                }
                let x0 = tx * ts;
                self.band_shift(f, x0, (x0 + ts).min(w), y0, y1)
            })
            .collect();
        // Neighbouring bands with the same shift form a group: rows that
        // match across the whole group go as one wide copy; rows only some
        // bands explain (the rest differs, e.g. the text cursor) go per band.
        // (x0, x1, src_y, dst_y, rows)
        let mut copies: Vec<(usize, usize, usize, usize, usize)> = Vec::new();
        let mut tx = 0;
        while tx < cols {
            let Some((dy, _)) = &found[tx] else {
                tx += 1;
                continue;
            };
            let dy = *dy;
            self.last_shift = Some(dy);
            let ga = tx;
            while tx < cols && found[tx].as_ref().is_some_and(|(d, _)| *d == dy) {
                tx += 1;
            }
            let group = &found[ga..tx];
            let rows_of = |i: usize| group.iter().flatten().all(|(_, m)| m[i]);
            let all: Vec<bool> = (0..len).map(rows_of).collect();
            let mut ops: Vec<(usize, usize, usize, usize, usize)> = Vec::new();
            for (start, n) in runs_of(&all, 2) {
                let dst = y0 + start;
                let src = (dst as isize - dy) as usize;
                ops.push((ga * ts, (tx * ts).min(w), src, dst, n));
            }
            let covered: Vec<bool> = {
                let mut c = vec![false; len];
                for &(_, _, _, dst, n) in &ops {
                    c[dst - y0..dst - y0 + n].iter_mut().for_each(|v| *v = true);
                }
                c
            };
            for (k, (_, m)) in group.iter().flatten().enumerate() {
                let x0 = (ga + k) * ts;
                let x1 = (x0 + ts).min(w);
                let own: Vec<bool> = (0..len).map(|i| m[i] && !covered[i]).collect();
                for (start, n) in runs_of(&own, BAND_RUN_MIN) {
                    let dst = y0 + start;
                    let src = (dst as isize - dy) as usize;
                    match ops
                        .iter_mut()
                        .find(|c| c.1 == x0 && (c.2, c.3, c.4) == (src, dst, n))
                    {
                        Some(c) => c.1 = x1,
                        None => ops.push((x0, x1, src, dst, n)),
                    }
                }
            }
            // Within a band, copy away from the overlap: upward shifts top
            // first, downward shifts bottom first.
            if dy < 0 {
                ops.sort_by_key(|c| c.3);
            } else {
                ops.sort_by_key(|c| std::cmp::Reverse(c.3));
            }
            copies.extend(ops);
        }
        if copies.is_empty() {
            return;
        }
        for (x0, x1, src_y, dst_y, n) in copies {
            self.emit_copy(
                Rect::new(x0 as u32, src_y as u32, (x1 - x0) as u32, n as u32),
                x0 as u32,
                dst_y as u32,
            );
        }
        for ty in ty0..ty1 {
            for tx in tx0..tx1 {
                self.dirty[ty * cols + tx] = false;
            }
        }
        self.diff_tiles(f, None, tx0..tx1, ty0..ty1);
    }

    /// In columns `x0..x1`, rows `y0..y1`: the most common vertical shift
    /// of rows from the model to the new frame, and for each row whether the
    /// new row equals the model's row that far away (checked on bytes).
    fn band_shift(
        &self,
        f: &Frame<'_>,
        x0: usize,
        x1: usize,
        y0: usize,
        y1: usize,
    ) -> Option<(isize, Vec<bool>)> {
        let w = self.width as usize;
        let cur_row = |y: usize| &f.bgra[y * f.stride + x0 * 4..y * f.stride + x1 * 4];
        let old_row = |y: usize| &self.prev[(y * w + x0) * 4..(y * w + x1) * 4];
        let len = y1 - y0;
        // Scrolling usually goes on by the same step (one text line): try the
        // last shift first, by comparing bytes; hashing is the slow path.
        if let Some(dy) = self.last_shift {
            let (mut changed, mut explained) = (0usize, 0usize);
            let mut matches = vec![false; len];
            for (i, m) in matches.iter_mut().enumerate() {
                let j = i as isize - dy;
                *m = j >= 0 && (j as usize) < len && cur_row(y0 + i) == old_row(y0 + j as usize);
                if cur_row(y0 + i) != old_row(y0 + i) {
                    changed += 1;
                    explained += usize::from(*m);
                }
            }
            if explained >= 4 && explained * 2 >= changed {
                return Some((dy, matches));
            }
        }
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
        let (dy, n) = votes
            .into_iter()
            .max_by_key(|&(dy, n)| (n, std::cmp::Reverse(dy.unsigned_abs()), dy))?;
        if n < 4 {
            return None;
        }
        let matches = (0..len)
            .map(|i| {
                let j = i as isize - dy;
                j >= 0
                    && (j as usize) < len
                    && hc[i] == hp[j as usize]
                    && cur_row(y0 + i) == old_row(y0 + j as usize)
            })
            .collect();
        Some((dy, matches))
    }
}

/// Delta bodies up to this size go stored (see `finish`): a zstd block
/// costs at least its 3-byte header plus literal and sequence headers.
const TINY_BODY: usize = 16;

/// Shortest copy for a single band: shorter matches are mostly blank
/// pixel rows that happen to agree and cost more than they save.
const BAND_RUN_MIN: usize = 8;

/// Runs of at least `min` consecutive `true`s: (start, length).
fn runs_of(m: &[bool], min: usize) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < m.len() {
        if !m[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i < m.len() && m[i] {
            i += 1;
        }
        if i - start >= min {
            runs.push((start, i - start));
        }
    }
    runs
}

fn valid_frame(f: &Frame<'_>) -> bool {
    let (w, h) = (f.width, f.height);
    if w == 0 || h == 0 || w > MAX_DIM || h > MAX_DIM || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return false;
    }
    let row = w as usize * 4;
    f.stride >= row && (f.stride as u64) * u64::from(h - 1) + row as u64 <= f.bgra.len() as u64
}

fn put_rect(out: &mut Vec<u8>, r: Rect) {
    out.u16(r.x as u16);
    out.u16(r.y as u16);
    out.u16(r.w as u16);
    out.u16(r.h as u16);
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

/// Write the pixels of `r` as a fill, table-indexed pixels or raw RGB.
/// With `raw_ok` false, a rectangle of more than 256 colours writes nothing
/// and returns false.
fn encode_rect(
    body: &mut Vec<u8>,
    f: &Frame<'_>,
    r: Rect,
    table: &mut ColourTable,
    column_major: bool,
    raw_ok: bool,
) -> bool {
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
    if !fits && !raw_ok {
        return false;
    }
    let rgb = |c: u32| [(c >> 16) as u8, (c >> 8) as u8, c as u8];
    if fits && pal.colours.len() == 1 {
        body.u8(OP_FILL);
        put_rect(body, r);
        body.extend_from_slice(&rgb(pal.colours[0]));
        return true;
    }
    body.u8(OP_PIXELS);
    put_rect(body, r);
    if !fits {
        body.u8(PIX_RAW);
        body.reserve(w * h * 3);
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                body.extend_from_slice(&rgb(rgb_at(f, x, y)));
            }
        }
        return true;
    }
    let missing = pal
        .colours
        .iter()
        .filter(|c| !table.index.contains_key(c))
        .count();
    let mut flags = if column_major { TABLE_COLUMNS } else { 0 };
    if table.len + missing > 256 {
        table.clear();
        flags |= TABLE_CLEAR;
    }
    body.u8(PIX_TABLE);
    body.u8(flags);
    let count_at = body.len();
    body.u16(0);
    let mut new = 0u16;
    let mut global = [0u8; 256];
    for (local, &c) in pal.colours.iter().enumerate() {
        let g = match table.index.get(&c) {
            Some(&g) => g,
            None => {
                // At most 256 entries (checked above), so this fits.
                let g = table.len as u8;
                table.index.insert(c, g);
                table.len += 1;
                body.extend_from_slice(&rgb(c));
                new += 1;
                g
            }
        };
        global[local] = g;
    }
    body[count_at..count_at + 2].copy_from_slice(&new.to_le_bytes());
    if column_major {
        for x in 0..w {
            body.extend((0..h).map(|y| global[usize::from(indices[y * w + x])]));
        }
    } else {
        body.extend(indices.iter().map(|&i| global[usize::from(i)]));
    }
    true
}
