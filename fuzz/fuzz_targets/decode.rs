//! Fuzz the screen decoder: hostile updates give errors, never a panic or
//! an out-of-bounds access.
//!
//! Input, first byte even: a sequence of updates, each a u16 LE length and
//! that many bytes, applied in order to one decoder.
//! First byte odd: frames built from the input are encoded (so the decoder
//! sees deep, valid streams); the clean stream must decode losslessly, then a
//! copy with bytes flipped (positions from the input) is applied.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lotse_codec::{Compression, Decoder, Encoder, EncoderConfig, Frame};

fn check(dec: &Decoder) {
    assert_eq!(
        dec.rgba().len(),
        dec.width() as usize * dec.height() as usize * 4
    );
}

fn raw_updates(data: &[u8]) {
    let mut dec = Decoder::new();
    let mut rest = data;
    while rest.len() >= 2 {
        let n = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        let _ = dec.apply(piece);
        check(&dec);
        rest = tail;
    }
}

fn structured(data: &[u8]) {
    if data.len() < 8 {
        return;
    }
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
    let body = &data[7..];
    let stride = w as usize * 4;
    let mut frame = vec![0u8; stride * h as usize];
    let mut enc = Encoder::new(cfg);
    let mut updates = Vec::new();
    let mut frames = Vec::new();
    // Each chunk of 8 input bytes edits the frame: a rect of one of 4 colours,
    // or a vertical shift; every 2 chunks a frame is encoded.
    for (k, c) in body.chunks(8).enumerate() {
        if c.len() < 8 {
            break;
        }
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
                updates.push(u);
                frames.push(frame.clone());
            }
        }
    }
    // The clean stream decodes losslessly.
    let mut dec = Decoder::new();
    for (u, f) in updates.iter().zip(&frames) {
        dec.apply(u).expect("clean update applies");
        for (d, s) in dec.rgba().chunks_exact(4).zip(f.chunks_exact(4)) {
            assert_eq!(d, [s[2], s[1], s[0], 255]);
        }
    }
    // A damaged copy never panics.
    let mut dec = Decoder::new();
    for (k, mut u) in updates.into_iter().enumerate() {
        let n = u.len();
        let at = usize::from(data[(k * 3) % data.len()]) * 7 + k;
        u[at % n] ^= data[(k * 5 + 1) % data.len()] | 1;
        let _ = dec.apply(&u);
        check(&dec);
    }
}

fuzz_target!(|data: &[u8]| {
    match data.first() {
        Some(b) if b & 1 == 1 => structured(data),
        Some(_) => raw_updates(&data[1..]),
        None => {}
    }
});
