//! Codec benchmark on real terminal frames (captured from Xvfb + xterm by
//! `benches/capture.py`, stored in `benches/fixtures`).
//!
//! Run: `cargo bench -p lotse-codec` (add `-- --quick` for fewer timing
//! rounds). Prints markdown tables: bytes per typed key and per scrolled
//! line for several encoder settings, and encode/decode time per frame.
//! Every update is also decoded and checked against the captured frame.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lotse_codec::{Compression, Decoder, Encoder, EncoderConfig, Frame};

struct Sequence {
    name: String,
    width: u32,
    height: u32,
    frames: Vec<Vec<u8>>,
}

fn load(name: &str) -> Sequence {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "benches", "fixtures", name]
        .iter()
        .collect();
    let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut dec = zstd::stream::read::Decoder::new(file).expect("zstd");
    dec.window_log_max(27).expect("window");
    let mut raw = Vec::new();
    dec.read_to_end(&mut raw).expect("read fixture");
    assert_eq!(&raw[..8], b"LOTSEFX2", "fixture format");
    let u32_at = |i: usize| u32::from_le_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
    let (width, height, count) = (u32_at(8), u32_at(12), u32_at(16));
    let row = width as usize * 4;
    let mut at = 20;
    let mut cur = vec![0u8; row * height as usize];
    let mut frames = Vec::new();
    for _ in 0..count {
        let (y0, y1) = (u32_at(at) as usize, u32_at(at + 4) as usize);
        at += 8;
        let n = (y1 - y0) * row;
        cur[y0 * row..y1 * row].copy_from_slice(&raw[at..at + n]);
        at += n;
        frames.push(cur.clone());
    }
    Sequence {
        name: name.trim_end_matches(".frames.zst").to_string(),
        width,
        height,
        frames,
    }
}

impl Sequence {
    fn frame(&self, i: usize) -> Frame<'_> {
        Frame {
            width: self.width,
            height: self.height,
            stride: self.width as usize * 4,
            bgra: &self.frames[i],
        }
    }
}

fn check(dec: &Decoder, seq: &Sequence, i: usize) {
    let want = &seq.frames[i];
    let got = dec.rgba();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.chunks_exact(4).zip(want.chunks_exact(4)) {
        if g != [w[2], w[1], w[0], 255] {
            panic!("{}: frame {i} does not decode losslessly", seq.name);
        }
    }
}

struct Bytes {
    keyframe: usize,
    /// Size of each update after the keyframe (0 = no update).
    steps: Vec<usize>,
    copies: u64,
    cache_hits: u64,
}

fn run_bytes(seq: &Sequence, cfg: EncoderConfig) -> Bytes {
    let mut enc = Encoder::new(cfg);
    let mut dec = Decoder::new();
    let key = enc.encode(&seq.frame(0)).expect("keyframe");
    dec.apply(&key).expect("apply keyframe");
    check(&dec, seq, 0);
    let mut steps = Vec::new();
    for i in 1..seq.frames.len() {
        match enc.encode(&seq.frame(i)) {
            Some(u) => {
                dec.apply(&u).expect("apply");
                steps.push(u.len());
            }
            None => steps.push(0),
        }
        check(&dec, seq, i);
    }
    // Idle: the same frame again costs nothing.
    let last = seq.frames.len() - 1;
    assert!(
        enc.encode(&seq.frame(last)).is_none(),
        "idle frame sent bytes"
    );
    Bytes {
        keyframe: key.len(),
        steps,
        copies: enc.stats().copies,
        cache_hits: enc.stats().cache_hits,
    }
}

fn mean(v: &[usize]) -> f64 {
    v.iter().sum::<usize>() as f64 / v.len().max(1) as f64
}

fn median(v: &[usize]) -> usize {
    let mut s = v.to_vec();
    s.sort_unstable();
    s.get(s.len() / 2).copied().unwrap_or(0)
}

/// Encode and decode time of each frame after the keyframe: the best of
/// `rounds` runs (the machine is shared; the minimum is the codec's own cost).
fn run_time(seq: &Sequence, cfg: EncoderConfig, rounds: usize) -> (Vec<Duration>, Vec<Duration>) {
    let n = seq.frames.len() - 1;
    let mut enc_t = vec![Duration::MAX; n];
    let mut dec_t = vec![Duration::ZERO; n];
    for round in 0..rounds {
        let mut enc = Encoder::new(cfg);
        let mut dec = Decoder::new();
        dec.apply(&enc.encode(&seq.frame(0)).expect("keyframe"))
            .expect("apply");
        for i in 1..=n {
            let t = Instant::now();
            let u = enc.encode(&seq.frame(i));
            enc_t[i - 1] = enc_t[i - 1].min(t.elapsed());
            if let Some(u) = u {
                let t = Instant::now();
                dec.apply(&u).expect("apply");
                let d = t.elapsed();
                dec_t[i - 1] = if round == 0 { d } else { dec_t[i - 1].min(d) };
            }
        }
    }
    (enc_t, dec_t)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(v: &mut [Duration], p: usize) -> Duration {
    v.sort_unstable();
    v.get((v.len() * p / 100).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let type_hd = load("type-1280x800.frames.zst");
    let scroll_hd = load("scroll-1280x800.frames.zst");
    let type_fhd = load("type-1920x1080.frames.zst");
    let scroll_fhd = load("scroll-1920x1080.frames.zst");

    let base = EncoderConfig::default();
    let configs: Vec<(&str, EncoderConfig)> = vec![
        ("default: zstd 3, tile 64, cache, scroll", base),
        (
            "zstd 1",
            EncoderConfig {
                compression: Compression::Zstd(1),
                ..base
            },
        ),
        (
            "lz4 (64 KiB history)",
            EncoderConfig {
                compression: Compression::Lz4,
                ..base
            },
        ),
        (
            "no compression",
            EncoderConfig {
                compression: Compression::None,
                ..base
            },
        ),
        ("tile 32", EncoderConfig { tile: 32, ..base }),
        (
            "row-major table indices",
            EncoderConfig {
                column_major: false,
                ..base
            },
        ),
        (
            "no scroll detection",
            EncoderConfig {
                scroll_detection: false,
                ..base
            },
        ),
        (
            "no tile cache",
            EncoderConfig {
                cache_slots: 0,
                ..base
            },
        ),
    ];

    println!("## Bytes (1280×800 xterm, DejaVu Sans Mono 9; codec payload only)\n");
    println!(
        "| encoder | keyframe B | typing: B/key mean (median) | typing B/s @10 keys/s | scroll: B/line mean (median) | scroll20 B/s @20 lines/s |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, cfg) in &configs {
        let t = run_bytes(&type_hd, *cfg);
        let s = run_bytes(&scroll_hd, *cfg);
        println!(
            "| {name} | {} | {:.0} ({}) | {:.0} | {:.0} ({}) | {:.0} |",
            t.keyframe,
            mean(&t.steps),
            median(&t.steps),
            mean(&t.steps) * 10.0,
            mean(&s.steps),
            median(&s.steps),
            mean(&s.steps) * 20.0,
        );
        if *name == configs[0].0 {
            eprintln!(
                "(default: typing {} copies / {} cache hits; scroll {} copies / {} cache hits)",
                t.copies, t.cache_hits, s.copies, s.cache_hits
            );
        }
    }

    if std::env::var_os("CODEC_STEPS").is_some() {
        eprintln!("type steps: {:?}", run_bytes(&type_hd, base).steps);
        eprintln!("scroll steps: {:?}", run_bytes(&scroll_hd, base).steps);
    }
    let rounds = if quick { 2 } else { 8 };
    println!(
        "\n## Time per frame (one core; best of {rounds} runs per frame; keyframe excluded)\n"
    );
    println!(
        "| sequence | frames | encode mean / p50 / max ms | encode fps (mean) | decode mean ms | bytes/update |"
    );
    println!("|---|---|---|---|---|---|");
    for seq in [&type_fhd, &scroll_fhd, &type_hd, &scroll_hd] {
        let b = run_bytes(seq, base);
        let (mut e, d) = run_time(seq, base, rounds);
        let e_mean = e.iter().sum::<Duration>() / e.len().max(1) as u32;
        let decoded: Vec<Duration> = d.into_iter().filter(|d| !d.is_zero()).collect();
        let d_mean = decoded.iter().sum::<Duration>() / decoded.len().max(1) as u32;
        let p50 = pct(&mut e, 50);
        let max = pct(&mut e, 100);
        println!(
            "| {} | {} | {:.2} / {:.2} / {:.2} | {:.0} | {:.2} | {:.0} |",
            seq.name,
            seq.frames.len() - 1,
            ms(e_mean),
            ms(p50),
            ms(max),
            1.0 / e_mean.as_secs_f64(),
            ms(d_mean),
            mean(&b.steps),
        );
    }
    // Keyframe cost (a new viewer), 1920×1080.
    for (name, compression) in [
        ("zstd 3", Compression::Zstd(3)),
        ("zstd 1", Compression::Zstd(1)),
        ("none", Compression::None),
    ] {
        let cfg = EncoderConfig {
            compression,
            ..base
        };
        let mut best = Duration::MAX;
        let mut size = 0;
        for _ in 0..rounds {
            let mut enc = Encoder::new(cfg);
            let t = Instant::now();
            let key = enc.encode(&scroll_fhd.frame(0)).expect("keyframe");
            best = best.min(t.elapsed());
            size = key.len();
        }
        println!(
            "\nKeyframe 1920×1080 terminal, {name}: {size} bytes, {:.1} ms to encode (best of {rounds}).",
            ms(best)
        );
    }
}
