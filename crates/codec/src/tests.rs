//! Round-trip, scroll, cache, cursor and hostile-input tests.

use proptest::prelude::*;

use crate::format::{COMP_STORED, MAGIC, MODE_KEY, OP_COPY, parse_header};
use crate::{Compression, DecodeError, Decoder, Encoder, EncoderConfig, Frame, Rect, split};

/// A test screen: BGRA with a stride wider than the rows and garbage alpha,
/// like a capture buffer.
#[derive(Clone)]
struct Screen {
    w: u32,
    h: u32,
    stride: usize,
    buf: Vec<u8>,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u32) -> u32 {
        if n == 0 {
            0
        } else {
            (self.next() % u64::from(n)) as u32
        }
    }
}

impl Screen {
    fn new(w: u32, h: u32, pad: usize) -> Self {
        let stride = w as usize * 4 + pad * 4;
        Self {
            w,
            h,
            stride,
            buf: vec![0x5A; stride * h as usize],
        }
    }

    fn frame(&self) -> Frame<'_> {
        Frame {
            width: self.w,
            height: self.h,
            stride: self.stride,
            bgra: &self.buf,
        }
    }

    fn set(&mut self, x: u32, y: u32, rgb: u32, alpha: u8) {
        let i = y as usize * self.stride + x as usize * 4;
        self.buf[i] = rgb as u8;
        self.buf[i + 1] = (rgb >> 8) as u8;
        self.buf[i + 2] = (rgb >> 16) as u8;
        self.buf[i + 3] = alpha;
    }

    fn get(&self, x: u32, y: u32) -> [u8; 4] {
        let i = y as usize * self.stride + x as usize * 4;
        [self.buf[i + 2], self.buf[i + 1], self.buf[i], 255]
    }

    fn fill(&mut self, r: Rect, rgb: u32) {
        for y in r.y..r.y + r.h {
            for x in r.x..r.x + r.w {
                self.set(x, y, rgb, 0);
            }
        }
    }

    /// Text-like content: a few colours in small glyph-sized blobs.
    fn text(&mut self, r: Rect, rng: &mut Rng) {
        let pal = [0xFF_FFFF, 0x00_0000, 0x80_8080, 0x20_4060, 0xC0_C0C0];
        for y in r.y..r.y + r.h {
            for x in r.x..r.x + r.w {
                let c = if (x / 3 + y / 5) % 3 == 0 {
                    pal[0]
                } else {
                    pal[rng.below(5) as usize]
                };
                self.set(x, y, c, rng.next() as u8);
            }
        }
    }

    fn noise(&mut self, r: Rect, rng: &mut Rng) {
        for y in r.y..r.y + r.h {
            for x in r.x..r.x + r.w {
                self.set(x, y, rng.next() as u32 & 0xFF_FFFF, 0);
            }
        }
    }

    /// Move rows [y0, y1) by `dy` (negative: up), filling exposed rows with text.
    fn scroll(&mut self, x0: u32, x1: u32, y0: u32, y1: u32, dy: i32, rng: &mut Rng) {
        let old = self.clone();
        for y in y0..y1 {
            let sy = y as i64 - i64::from(dy);
            for x in x0..x1 {
                if sy >= i64::from(y0) && sy < i64::from(y1) {
                    let i = sy as usize * old.stride + x as usize * 4;
                    let j = y as usize * self.stride + x as usize * 4;
                    self.buf[j..j + 4].copy_from_slice(&old.buf[i..i + 4]);
                }
            }
        }
        let exposed = dy.unsigned_abs().min(y1 - y0);
        let ey = if dy < 0 { y1 - exposed } else { y0 };
        self.text(Rect::new(x0, ey, x1 - x0, exposed), rng);
    }

    fn expected_rgba(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity((self.w * self.h * 4) as usize);
        for y in 0..self.h {
            for x in 0..self.w {
                out.extend_from_slice(&self.get(x, y));
            }
        }
        out
    }
}

fn assert_same(dec: &Decoder, s: &Screen) {
    assert_eq!((dec.width(), dec.height()), (s.w, s.h));
    let want = s.expected_rgba();
    if dec.rgba() != want.as_slice() {
        let i = dec
            .rgba()
            .iter()
            .zip(&want)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        let px = (i / 4) as u32;
        panic!(
            "pixel ({}, {}) differs: got {:?}, want {:?}",
            px % s.w,
            px / s.w,
            &dec.rgba()[i / 4 * 4..i / 4 * 4 + 4],
            &want[i / 4 * 4..i / 4 * 4 + 4]
        );
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Fill(u32, u32, u32, u32, u32),
    Text(u32, u32, u32, u32),
    Noise(u32, u32, u32, u32),
    Scroll(i32, u32),
    /// Go back to the screen as it was `n` edits ago (repeated tiles).
    Restore(u32),
    Resize(u32, u32),
    /// Move a region (a dragged window), told to the encoder as a hint;
    /// the last field makes the hint wrong on purpose.
    Move(u32, u32, u32, u32, i32, i32, bool),
    Nothing,
}

fn edit() -> impl Strategy<Value = Edit> {
    let r = || (any::<u32>(), any::<u32>(), 1u32..120, 1u32..90);
    prop_oneof![
        (r(), any::<u32>()).prop_map(|((x, y, w, h), c)| Edit::Fill(x, y, w, h, c)),
        r().prop_map(|(x, y, w, h)| Edit::Text(x, y, w, h)),
        r().prop_map(|(x, y, w, h)| Edit::Noise(x, y, w, h)),
        (-40i32..40, any::<u32>()).prop_map(|(dy, s)| Edit::Scroll(dy, s)),
        (1u32..6).prop_map(Edit::Restore),
        (1u32..200, 1u32..150).prop_map(|(w, h)| Edit::Resize(w, h)),
        (r(), -50i32..50, -50i32..50, any::<bool>())
            .prop_map(|((x, y, w, h), dx, dy, wrong)| Edit::Move(x, y, w, h, dx, dy, wrong)),
        Just(Edit::Nothing),
    ]
}

fn config() -> impl Strategy<Value = EncoderConfig> {
    (
        prop_oneof![Just(64u32), Just(32), Just(16), Just(13)],
        prop_oneof![
            Just(Compression::Zstd(1)),
            Just(Compression::Lz4),
            Just(Compression::None)
        ],
        prop_oneof![Just(1024u16), Just(3), Just(2), Just(1), Just(0)],
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(tile, compression, cache_slots, scroll_detection, column_major)| EncoderConfig {
                tile,
                compression,
                cache_slots,
                scroll_detection,
                column_major,
            },
        )
}

fn clip(s: &Screen, x: u32, y: u32, w: u32, h: u32) -> Rect {
    let x = x % s.w;
    let y = y % s.h;
    Rect::new(x, y, w.min(s.w - x), h.min(s.h - y))
}

fn apply_edit(s: &mut Screen, e: &Edit, history: &[Screen], rng: &mut Rng) {
    match *e {
        Edit::Fill(x, y, w, h, c) => {
            let r = clip(s, x, y, w, h);
            s.fill(r, c & 0xFF_FFFF);
        }
        Edit::Text(x, y, w, h) => {
            let r = clip(s, x, y, w, h);
            s.text(r, rng);
        }
        Edit::Noise(x, y, w, h) => {
            let r = clip(s, x, y, w, h);
            s.noise(r, rng);
        }
        Edit::Scroll(dy, seed) => {
            let x0 = seed % s.w;
            let x1 = s.w - (seed >> 8) % (s.w - x0);
            let y0 = (seed >> 16) % s.h / 4;
            let y1 = s.h - (seed >> 24) % (s.h - y0) / 4;
            s.scroll(x0, x1.max(x0 + 1), y0, y1.max(y0 + 1), dy, rng);
        }
        Edit::Restore(n) => {
            if let Some(old) = history.iter().rev().nth(n as usize) {
                *s = old.clone();
            }
        }
        Edit::Resize(w, h) => {
            *s = Screen::new(w, h, (w % 3) as usize);
            s.text(Rect::new(0, 0, w, h), rng);
        }
        Edit::Move(x, y, w, h, dx, dy, _) => {
            let r = clip(s, x, y, w, h);
            if let Some((src, dx, dy)) = move_target(s, r, dx, dy) {
                let old = s.clone();
                s.text(src, rng);
                for yy in 0..src.h {
                    for xx in 0..src.w {
                        let i = (src.y + yy) as usize * old.stride + (src.x + xx) as usize * 4;
                        let j = (dy + yy) as usize * s.stride + (dx + xx) as usize * 4;
                        s.buf[j..j + 4].copy_from_slice(&old.buf[i..i + 4]);
                    }
                }
            }
        }
        Edit::Nothing => {}
    }
}

/// Where a moved region lands, if it stays on the screen.
fn move_target(s: &Screen, r: Rect, dx: i32, dy: i32) -> Option<(Rect, u32, u32)> {
    let nx = i64::from(r.x) + i64::from(dx);
    let ny = i64::from(r.y) + i64::from(dy);
    if nx < 0
        || ny < 0
        || nx + i64::from(r.w) > i64::from(s.w)
        || ny + i64::from(r.h) > i64::from(s.h)
    {
        return None;
    }
    Some((r, nx as u32, ny as u32))
}

/// The move hint an edit gives the encoder.
fn hint(s: &Screen, e: &Edit) -> Vec<crate::Move> {
    let Edit::Move(x, y, w, h, dx, dy, wrong) = *e else {
        return Vec::new();
    };
    let r = clip(s, x, y, w, h);
    move_target(s, r, dx, dy)
        .map(|(src, x, y)| crate::Move {
            src,
            dst_x: if wrong { x / 2 } else { x },
            dst_y: y,
        })
        .into_iter()
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    /// Whatever the frames and edits, the decoder ends with exactly the
    /// last frame's pixels; unchanged frames produce no update.
    #[test]
    fn round_trip(
        cfg in config(),
        w in 1u32..180,
        h in 1u32..140,
        seed in any::<u64>(),
        edits in proptest::collection::vec(edit(), 1..14),
        use_damage in any::<bool>(),
    ) {
        let mut rng = Rng(seed);
        let mut s = Screen::new(w, h, 2);
        s.text(Rect::new(0, 0, w, h), &mut rng);
        let mut enc = Encoder::new(cfg);
        let mut dec = Decoder::new();
        let first = enc.encode(&s.frame());
        prop_assert!(first.is_some());
        dec.apply(&first.unwrap_or_default()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        assert_same(&dec, &s);
        let mut history = vec![s.clone()];
        for e in &edits {
            let before = s.clone();
            apply_edit(&mut s, e, &history, &mut rng);
            let changed = before.w != s.w || before.h != s.h
                || before.expected_rgba() != s.expected_rgba();
            let moves = hint(&before, e);
            let up = if !moves.is_empty() {
                enc.encode_hinted(&s.frame(), None, &moves)
            } else if use_damage && before.w == s.w && before.h == s.h {
                // The whole screen as damage: same result, other code path.
                enc.encode_damaged(&s.frame(), &[Rect::new(0, 0, s.w, s.h)])
            } else {
                enc.encode(&s.frame())
            };
            match up {
                Some(u) => {
                    for piece in split(&u) {
                        prop_assert!(piece.len() <= crate::MAX_PIECE);
                    }
                    dec.apply(&u).map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
                None => prop_assert!(!changed, "changed frame produced no update"),
            }
            assert_same(&dec, &s);
            history.push(s.clone());
        }
        // Nothing changed: nothing sent.
        prop_assert!(enc.encode(&s.frame()).is_none());
        // A reset gives a keyframe a fresh decoder can start from.
        enc.reset();
        let key = enc.encode(&s.frame()).unwrap_or_default();
        let mut fresh = Decoder::new();
        fresh.apply(&key).map_err(|e| TestCaseError::fail(e.to_string()))?;
        assert_same(&fresh, &s);
    }

    /// Random bytes never panic the decoder.
    #[test]
    fn hostile_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut dec = Decoder::new();
        let _ = dec.apply(&bytes);
        let mut with_magic = bytes.clone();
        if with_magic.len() > 3 {
            with_magic[0] = MAGIC;
            with_magic[1] &= 0b111;
        }
        let _ = dec.apply(&with_magic);
        if dec.width() > 0 {
            prop_assert_eq!(dec.rgba().len(), (dec.width() * dec.height() * 4) as usize);
        }
    }

    /// Valid streams with a few bytes changed give errors or frames, never
    /// a panic or a framebuffer of the wrong size.
    #[test]
    fn hostile_mutations(
        seed in any::<u64>(),
        compression in prop_oneof![Just(Compression::Zstd(1)), Just(Compression::Lz4), Just(Compression::None)],
        flips in proptest::collection::vec((any::<u32>(), any::<u8>()), 1..6),
        truncate in any::<Option<u16>>(),
    ) {
        let mut rng = Rng(seed);
        let mut s = Screen::new(97, 61, 0);
        s.text(Rect::new(0, 0, 97, 61), &mut rng);
        let mut enc = Encoder::new(EncoderConfig { compression, tile: 16, ..EncoderConfig::default() });
        let mut updates = vec![enc.encode(&s.frame()).unwrap_or_default()];
        updates.push(enc.cursor_shape(4, 4, 1, 1, &[200; 64]));
        s.scroll(0, 97, 0, 61, -7, &mut rng);
        updates.extend(enc.encode(&s.frame()));
        s.fill(Rect::new(10, 10, 30, 20), 0x12_3456);
        updates.extend(enc.encode(&s.frame()));
        let mut dec = Decoder::new();
        for (k, mut u) in updates.into_iter().enumerate() {
            if k % 2 == (seed % 2) as usize {
                for &(at, v) in &flips {
                    let n = u.len();
                    u[at as usize % n] ^= v | 1;
                }
            }
            if let Some(t) = truncate {
                let n = u.len();
                u.truncate(usize::from(t) % (n + 1));
            }
            let _ = dec.apply(&u);
            if dec.width() > 0 {
                prop_assert_eq!(dec.rgba().len(), (dec.width() * dec.height() * 4) as usize);
            }
        }
    }
}

fn terminal_screen(w: u32, h: u32, lines: &[u64]) -> Screen {
    // White background, 15-pixel "text lines" with glyph-like pixels that
    // depend on the line's seed.
    let mut s = Screen::new(w, h, 0);
    s.fill(Rect::new(0, 0, w, h), 0xFF_FFFF);
    for (row, &seed) in lines.iter().enumerate() {
        let mut rng = Rng(seed);
        let y0 = row as u32 * 15;
        if y0 + 15 > h {
            break;
        }
        for cell in 0..w / 7 {
            if rng.below(4) == 0 {
                continue; // a space
            }
            let glyph = rng.next();
            for gy in 2..13 {
                for gx in 0..6 {
                    if (glyph >> ((gy * 6 + gx) % 64)) & 1 == 1 {
                        let shade = [0x00_0000, 0x55_5555, 0xAA_AAAA][(gx + gy) as usize % 3];
                        s.set(cell * 7 + gx, y0 + gy, shade, 255);
                    }
                }
            }
        }
    }
    s
}

#[test]
fn scroll_by_one_line_travels_as_a_copy_plus_the_new_line() {
    let (w, h) = (640u32, 480u32);
    let lines: Vec<u64> = (0..40).collect();
    let before = terminal_screen(w, h, &lines[..32]);
    let after = terminal_screen(w, h, &lines[1..33]);
    let mut enc = Encoder::new(EncoderConfig {
        compression: Compression::None,
        ..EncoderConfig::default()
    });
    let mut dec = Decoder::new();
    dec.apply(&enc.encode(&before.frame()).unwrap_or_default())
        .expect("keyframe");
    let update = enc.encode(&after.frame()).expect("a change");
    // Uncompressed body: the COPY op is there, and the update is about the
    // size of one new text line, far below the 640×480 screen.
    let head = parse_header(&update).expect("header");
    assert_eq!(head.comp, COMP_STORED);
    let body = &update[head.len..];
    assert_eq!(body[0], OP_COPY, "update starts with a copy");
    let copy_src_y = u16::from_le_bytes([body[3], body[4]]);
    let copy_dst_y = u16::from_le_bytes([body[11], body[12]]);
    assert_eq!(i32::from(copy_src_y) - i32::from(copy_dst_y), 15);
    assert!(enc.stats().copied_rows >= 400, "{:?}", enc.stats());
    let one_line_raw = (w * 15 * 3) as usize;
    assert!(
        update.len() < one_line_raw,
        "update {} bytes, one raw line {one_line_raw}",
        update.len()
    );
    let rects = dec.apply(&update).expect("apply");
    assert_same(&dec, &after);
    assert!(rects.iter().any(|r| r.h >= 400), "{rects:?}");
}

#[test]
fn scroll_down_and_partial_width_scroll_are_copies_too() {
    let (w, h) = (512u32, 300u32);
    let lines: Vec<u64> = (100..130).collect();
    let mut before = terminal_screen(w, h, &lines[3..23]);
    let mut after = terminal_screen(w, h, &lines[0..20]);
    // A static side panel: only the left 384 columns scroll (down by 3 lines).
    let mut rng = Rng(7);
    let panel = Rect::new(384, 0, 128, h);
    before.text(panel, &mut rng);
    for y in 0..h as usize {
        let row = y * before.stride;
        after.buf[row + 384 * 4..row + w as usize * 4]
            .copy_from_slice(&before.buf[row + 384 * 4..row + w as usize * 4]);
    }
    let mut enc = Encoder::new(EncoderConfig::default());
    let mut dec = Decoder::new();
    dec.apply(&enc.encode(&before.frame()).unwrap_or_default())
        .expect("keyframe");
    let key_bytes = enc.stats().bytes;
    let update = enc.encode(&after.frame()).expect("a change");
    dec.apply(&update).expect("apply");
    assert_same(&dec, &after);
    assert!(enc.stats().copies >= 1, "{:?}", enc.stats());
    assert!((update.len() as u64) * 3 < key_bytes);
}

#[test]
fn dragged_window_travels_as_a_copy_when_hinted() {
    let mut rng = Rng(21);
    let lines: Vec<u64> = (0..40).collect();
    let mut before = terminal_screen(800, 600, &lines);
    let window = Rect::new(100, 120, 300, 200);
    before.noise(window, &mut rng);
    let mut after = terminal_screen(800, 600, &lines);
    let (dx, dy) = (237u32, 91u32);
    for y in 0..window.h as usize {
        let i = (window.y as usize + y) * before.stride + window.x as usize * 4;
        let j = (dy as usize + y) * after.stride + dx as usize * 4;
        let n = window.w as usize * 4;
        after.buf[j..j + n].copy_from_slice(&before.buf[i..i + n]);
    }
    let mut plain = Encoder::new(EncoderConfig::default());
    let mut hinted = Encoder::new(EncoderConfig::default());
    let mut dec = Decoder::new();
    dec.apply(&hinted.encode(&before.frame()).unwrap_or_default())
        .expect("keyframe");
    plain.encode(&before.frame());
    let without = plain.encode(&after.frame()).expect("update");
    let moves = [crate::Move {
        src: window,
        dst_x: dx,
        dst_y: dy,
    }];
    let with = hinted
        .encode_hinted(&after.frame(), None, &moves)
        .expect("update");
    dec.apply(&with).expect("apply");
    assert_same(&dec, &after);
    assert!(hinted.stats().copies >= 1);
    // 300×200 pixels of noise: 180 KB as raw pixels; the stream history
    // still finds most rows (~16 KB). With the copy only the uncovered text
    // travels.
    assert!(
        2 * with.len() < without.len(),
        "{} vs {}",
        with.len(),
        without.len()
    );
}

#[test]
fn repeated_tile_travels_as_a_cache_reference() {
    let mut rng = Rng(3);
    let mut a = Screen::new(256, 192, 0);
    a.text(Rect::new(0, 0, 256, 192), &mut rng);
    let mut b = a.clone();
    b.noise(Rect::new(64, 64, 64, 64), &mut rng);
    let mut enc = Encoder::new(EncoderConfig::default());
    let mut dec = Decoder::new();
    for s in [&a, &b] {
        dec.apply(&enc.encode(&s.frame()).unwrap_or_default())
            .expect("apply");
    }
    let hits = enc.stats().cache_hits;
    // The noise disappears again: the old tile comes from the cache.
    let back = enc.encode(&a.frame()).expect("a change");
    dec.apply(&back).expect("apply");
    assert_same(&dec, &a);
    assert_eq!(enc.stats().cache_hits, hits + 1);
    assert!(
        back.len() < 40,
        "cache reference update is {} bytes",
        back.len()
    );
}

#[test]
fn cursor_shape_once_then_positions() {
    let mut enc = Encoder::new(EncoderConfig::default());
    let mut dec = Decoder::new();
    assert!(dec.cursor().is_none());
    let shape: Vec<u8> = (0..16 * 16 * 4).map(|i| i as u8).collect();
    dec.apply(&enc.cursor_shape(16, 16, 3, 4, &shape))
        .expect("shape");
    let pos = enc.cursor_position(-5, 700);
    assert!(pos.len() <= 16);
    dec.apply(&pos).expect("pos");
    let c = dec.cursor().expect("cursor");
    assert_eq!(
        (c.x, c.y, c.width, c.height, c.hot_x, c.hot_y),
        (-5, 700, 16, 16, 3, 4)
    );
    assert_eq!(&c.rgba[..], &shape[..]);
    // A new viewer gets the shape and position inside the keyframe.
    let s = Screen::new(32, 32, 0);
    let key = enc.encode(&s.frame()).expect("keyframe");
    let mut fresh = Decoder::new();
    fresh.apply(&key).expect("keyframe");
    assert_eq!(fresh.cursor().map(|c| (c.x, c.y)), Some((-5, 700)));
}

#[test]
fn damage_limits_what_is_compared() {
    let mut rng = Rng(11);
    let mut s = Screen::new(200, 100, 0);
    s.text(Rect::new(0, 0, 200, 100), &mut rng);
    let mut enc = Encoder::new(EncoderConfig::default());
    let mut dec = Decoder::new();
    dec.apply(&enc.encode(&s.frame()).unwrap_or_default())
        .expect("keyframe");
    s.fill(Rect::new(150, 10, 20, 20), 0x00_FF00);
    // Damage elsewhere: the change is not looked at.
    assert!(
        enc.encode_damaged(&s.frame(), &[Rect::new(0, 0, 10, 10)])
            .is_none()
    );
    let u = enc
        .encode_damaged(&s.frame(), &[Rect::new(155, 15, 2, 2)])
        .expect("damaged tile");
    let rects = dec.apply(&u).expect("apply");
    assert_same(&dec, &s);
    assert_eq!(rects, vec![Rect::new(150, 10, 20, 20)]);
}

#[test]
fn invalid_frames_are_not_encoded() {
    let mut enc = Encoder::new(EncoderConfig::default());
    let short = vec![0u8; 10];
    let f = Frame {
        width: 10,
        height: 10,
        stride: 40,
        bgra: &short,
    };
    assert!(enc.encode(&f).is_none());
    let f = Frame {
        width: 10,
        height: 1,
        stride: 8,
        bgra: &short,
    };
    assert!(enc.encode(&f).is_none());
    let f = Frame {
        width: 0,
        height: 1,
        stride: 0,
        bgra: &short,
    };
    assert!(enc.encode(&f).is_none());
}

#[test]
fn errors_require_a_keyframe() {
    let mut rng = Rng(5);
    let mut s = Screen::new(64, 64, 0);
    s.text(Rect::new(0, 0, 64, 64), &mut rng);
    let mut enc = Encoder::new(EncoderConfig::default());
    let mut dec = Decoder::new();
    let mut skipped = Decoder::new();
    dec.apply(&enc.encode(&s.frame()).unwrap_or_default())
        .expect("keyframe");
    s.fill(Rect::new(0, 0, 5, 5), 0x11_2233);
    let delta = enc.encode(&s.frame()).expect("delta");
    // A decoder that missed the keyframe refuses the delta.
    assert_eq!(skipped.apply(&delta), Err(DecodeError::NeedKeyframe));
    let mut broken = delta.clone();
    broken.truncate(broken.len() - 1);
    assert!(dec.apply(&broken).is_err());
    assert!(!dec.is_synced());
    assert_eq!(dec.apply(&delta), Err(DecodeError::NeedKeyframe));
    enc.reset();
    dec.apply(&enc.encode(&s.frame()).unwrap_or_default())
        .expect("keyframe");
    assert_same(&dec, &s);
    // Garbage: not a screen update.
    assert_eq!(
        dec.apply(&[1, 2, 3, 4, 5, 6, 7, 8]),
        Err(DecodeError::BadMagic)
    );
    assert_eq!(dec.apply(&[MAGIC]), Err(DecodeError::Truncated));
    let huge = [MAGIC, MODE_KEY | COMP_STORED, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F];
    assert_eq!(dec.apply(&huge), Err(DecodeError::TooLarge));
    let endless = [MAGIC, COMP_STORED, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
    assert_eq!(dec.apply(&endless), Err(DecodeError::TooLarge));
}

#[test]
fn split_pieces_concatenate_to_the_update() {
    let mut rng = Rng(9);
    let mut s = Screen::new(1200, 700, 0);
    s.noise(Rect::new(0, 0, 1200, 700), &mut rng);
    let mut enc = Encoder::new(EncoderConfig {
        compression: Compression::None,
        ..EncoderConfig::default()
    });
    let u = enc.encode(&s.frame()).expect("keyframe");
    let pieces: Vec<&[u8]> = split(&u).collect();
    assert!(pieces.len() >= 2);
    assert!(pieces.iter().all(|p| p.len() <= crate::MAX_PIECE));
    let joined: Vec<u8> = pieces.concat();
    let mut dec = Decoder::new();
    dec.apply(&joined).expect("apply");
    assert_same(&dec, &s);
}

/// The fuzz target's structured mode (fuzz/fuzz_targets/decode.rs), for
/// regression inputs found by the fuzzer.
fn fuzz_structured(data: &[u8]) {
    let w = u32::from(data[1] % 70) + 1;
    let h = u32::from(data[2] % 50) + 1;
    let cfg = EncoderConfig {
        tile: [8, 16, 32, 64][usize::from(data[3] % 4)],
        compression: [Compression::Zstd(1), Compression::Lz4, Compression::None]
            [usize::from(data[4] % 3)],
        cache_slots: [0, 2, 64][usize::from(data[5] % 3)],
        scroll_detection: data[6] & 1 == 1,
        column_major: data[6] & 2 == 2,
    };
    let stride = w as usize * 4;
    let mut frame = vec![0u8; stride * h as usize];
    let mut enc = Encoder::new(cfg);
    let mut dec = Decoder::new();
    for (k, c) in data[7..].chunks_exact(8).enumerate() {
        let x0 = u32::from(c[0]) % w;
        let y0 = u32::from(c[1]) % h;
        let x1 = (x0 + u32::from(c[2]) % 40 + 1).min(w);
        let y1 = (y0 + u32::from(c[3]) % 40 + 1).min(h);
        if c[4] % 5 == 0 {
            let dy = (i32::from(c[5]) % 9) - 4;
            let old = frame.clone();
            for y in y0..y1 {
                let sy = y as i32 - dy;
                if sy >= 0 && (sy as u32) < h {
                    let d = y as usize * stride;
                    let s = sy as usize * stride;
                    frame[d..d + stride].copy_from_slice(&old[s..s + stride]);
                }
            }
        } else {
            let colour = [c[5], c[6], c[7] & 0xC0, 0];
            for y in y0..y1 {
                for x in x0..x1 {
                    let i = y as usize * stride + x as usize * 4;
                    frame[i..i + 4].copy_from_slice(&colour);
                }
            }
        }
        if k % 2 == 1 {
            let f = Frame {
                width: w,
                height: h,
                stride,
                bgra: &frame,
            };
            if let Some(u) = enc.encode(&f) {
                dec.apply(&u).expect("clean update applies");
                for (i, (d, s)) in dec
                    .rgba()
                    .chunks_exact(4)
                    .zip(frame.chunks_exact(4))
                    .enumerate()
                {
                    assert_eq!(d, [s[2], s[1], s[0], 255], "frame {k} pixel {i}");
                }
            }
        }
    }
}

#[test]
fn fuzz_regressions() {
    fuzz_structured(&[
        11, 126, 226, 0, 0, 226, 226, 226, 39, 39, 0, 36, 138, 142, 142, 142, 113, 216, 112, 113,
        113, 39, 39, 142, 142,
    ]);
}

#[test]
fn encoder_and_decoder_can_move_to_worker_threads() {
    fn send<T: Send>() {}
    send::<Encoder>();
    send::<Decoder>();
}

#[test]
fn a_small_change_seen_before_travels_as_a_reference() {
    // A terminal: white, a "glyph plus text cursor" patch typed at one
    // place, then the same patch at another (the same letter typed again).
    let mut s = Screen::new(320, 200, 0);
    s.fill(Rect::new(0, 0, 320, 200), 0xFF_FFFF);
    let glyph = |s: &mut Screen, x0: u32, y0: u32| {
        for y in 0..15 {
            for x in 0..7 {
                let ink = (x * 3 + y * 5) % 7 < 3;
                s.set(x0 + x, y0 + y, if ink { 0x10_2030 } else { 0xFF_FFFF }, 0);
            }
            for x in 7..14 {
                s.set(x0 + x, y0 + y, 0x00_0000, 0); // the block cursor
            }
        }
    };
    let mut enc = Encoder::new(EncoderConfig::default());
    let mut dec = Decoder::new();
    dec.apply(&enc.encode(&s.frame()).expect("keyframe"))
        .expect("keyframe");
    glyph(&mut s, 20, 30);
    let first = enc.encode(&s.frame()).expect("typed");
    dec.apply(&first).expect("apply");
    assert_same(&dec, &s);
    // Somewhere else (crossing a tile border, too): a 7-byte reference,
    // stored, 10 bytes with the header.
    let hits = enc.stats().cache_hits;
    glyph(&mut s, 60, 90);
    let again = enc.encode(&s.frame()).expect("typed again");
    dec.apply(&again).expect("apply");
    assert_same(&dec, &s);
    assert_eq!(enc.stats().cache_hits, hits + 1);
    assert!(again.len() <= 10, "{} bytes", again.len());
    assert!(again.len() < first.len());
    // The stream goes on normally after a stored update.
    s.fill(Rect::new(100, 100, 30, 20), 0x33_6699);
    s.set(105, 105, 0x00_FF00, 0);
    let next = enc.encode(&s.frame()).expect("more");
    dec.apply(&next).expect("apply");
    assert_same(&dec, &s);
}

#[test]
fn cache_rect_is_checked() {
    // CACHE_RECT outside the screen, too large, or without slots is an
    // error, never a panic.
    let key = |slots: u16| {
        let mut body = vec![0x01];
        body.extend_from_slice(&64u16.to_le_bytes());
        body.extend_from_slice(&32u16.to_le_bytes());
        body.push(64);
        body.extend_from_slice(&slots.to_le_bytes());
        body
    };
    let stored = |key: bool, body: &[u8]| {
        let mut u = vec![0xC5, if key { 0b100 } else { 0 }, body.len() as u8];
        u.extend_from_slice(body);
        u
    };
    let op = |x: u16, y: u16, w: u16, h: u16| {
        let mut b = vec![0x09];
        for v in [x, y, w, h] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    };
    for (slots, rect, ok) in [
        (4, op(0, 0, 8, 8), true),
        (0, op(0, 0, 8, 8), false),
        (4, op(60, 0, 8, 8), false),
        (4, op(0, 0, 0, 8), false),
        (4, op(0, 0, 64, 33), false),
    ] {
        let mut dec = Decoder::new();
        let mut body = key(slots);
        body.extend_from_slice(&rect);
        // Then load slot 0 somewhere.
        body.extend_from_slice(&[0x06, 0, 0, 10, 0, 10, 0]);
        assert_eq!(dec.apply(&stored(true, &body)).is_ok(), ok, "{rect:?}");
    }
}
