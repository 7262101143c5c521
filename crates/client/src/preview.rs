//! What the technician sees, small: the share worker puts a thumbnail of
//! each picture that left the machine (after masking) into a one-place
//! mailbox, at most a few times a second; the chat window shows the
//! newest one. Scaling happens on the share thread, never on the UI
//! thread; the UI only takes the finished thumbnail.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::net::Waker;

/// The largest thumbnail, in pixels.
pub const MAX_WIDTH: u32 = 256;
pub const MAX_HEIGHT: u32 = 160;
/// How often the thumbnail follows the picture at most.
pub const EVERY: Duration = Duration::from_millis(400);

/// A scaled-down picture, RGBA.
#[derive(Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl std::fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Thumbnail")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Inner {
    /// The newest thumbnail and its number, which counts every change
    /// (a new thumbnail, or none any more).
    newest: Mutex<(u64, Option<Thumbnail>)>,
    wake: Mutex<Option<Waker>>,
}

/// The mailbox between the share worker and the chat window (cloned to
/// both).
#[derive(Clone, Default)]
pub struct Preview(Arc<Inner>);

impl std::fmt::Debug for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preview").finish_non_exhaustive()
    }
}

impl Preview {
    /// Wake the window when a new thumbnail arrives.
    pub fn set_waker(&self, wake: Waker) {
        *self.0.wake.lock().unwrap_or_else(PoisonError::into_inner) = Some(wake);
    }

    /// Scale `bgra` (`width`×`height`, `stride` bytes a row) down and
    /// make it the newest thumbnail.
    pub fn put(&self, width: u32, height: u32, stride: usize, bgra: &[u8]) {
        let Some(thumb) = scale_down(width, height, stride, bgra) else {
            return;
        };
        self.set(Some(thumb));
    }

    /// Nothing is shared any more: no thumbnail.
    pub fn clear(&self) {
        if self.lock().1.is_some() {
            self.set(None);
        }
    }

    /// The newest thumbnail and its number, unless its number is `seen`
    /// (`None` inside: the thumbnail went away since).
    pub fn newer_than(&self, seen: u64) -> Option<(u64, Option<Thumbnail>)> {
        let newest = self.lock();
        (newest.0 != seen).then(|| newest.clone())
    }

    fn set(&self, thumb: Option<Thumbnail>) {
        {
            let mut newest = self.lock();
            newest.0 += 1;
            newest.1 = thumb;
        }
        self.wake();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, Option<Thumbnail>)> {
        self.0.newest.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self) {
        let wake = self
            .0
            .wake
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(w) = wake {
            w();
        }
    }
}

/// Box-filter `bgra` down to fit `MAX_WIDTH`×`MAX_HEIGHT` (aspect kept,
/// never scaled up), as RGBA. `None` for an empty or short picture.
pub fn scale_down(width: u32, height: u32, stride: usize, bgra: &[u8]) -> Option<Thumbnail> {
    if width == 0 || height == 0 || stride < width as usize * 4 {
        return None;
    }
    if bgra.len() < stride * (height as usize - 1) + width as usize * 4 {
        return None;
    }
    let scale = (f64::from(MAX_WIDTH) / f64::from(width))
        .min(f64::from(MAX_HEIGHT) / f64::from(height))
        .min(1.0);
    let tw = ((f64::from(width) * scale).round() as u32).max(1);
    let th = ((f64::from(height) * scale).round() as u32).max(1);
    let mut rgba = Vec::with_capacity((tw * th * 4) as usize);
    for ty in 0..th {
        let y0 = (ty as u64 * height as u64 / th as u64) as usize;
        let y1 = (((ty + 1) as u64 * height as u64 / th as u64) as usize).max(y0 + 1);
        for tx in 0..tw {
            let x0 = (tx as u64 * width as u64 / tw as u64) as usize;
            let x1 = (((tx + 1) as u64 * width as u64 / tw as u64) as usize).max(x0 + 1);
            let mut sum = [0u32; 3];
            for y in y0..y1 {
                let row = &bgra[y * stride + x0 * 4..y * stride + x1 * 4];
                for px in row.chunks_exact(4) {
                    sum[0] += u32::from(px[2]);
                    sum[1] += u32::from(px[1]);
                    sum[2] += u32::from(px[0]);
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as u32;
            rgba.extend_from_slice(&[
                ((sum[0] + n / 2) / n) as u8,
                ((sum[1] + n / 2) / n) as u8,
                ((sum[2] + n / 2) / n) as u8,
                255,
            ]);
        }
    }
    Some(Thumbnail {
        width: tw,
        height: th,
        rgba,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_to_fit_and_keeps_colours_and_halves() {
        // 1280×800, left half red, right half blue (BGRA).
        let (w, h) = (1280u32, 800u32);
        let mut bgra = Vec::with_capacity((w * h * 4) as usize);
        for _ in 0..h {
            for x in 0..w {
                bgra.extend_from_slice(if x < w / 2 {
                    &[0, 0, 255, 255]
                } else {
                    &[255, 0, 0, 255]
                });
            }
        }
        let t = scale_down(w, h, w as usize * 4, &bgra).expect("a thumbnail");
        assert_eq!((t.width, t.height), (256, 160));
        assert_eq!(&t.rgba[..4], &[255, 0, 0, 255], "red on the left");
        let last = t.rgba.len() - 4;
        assert_eq!(&t.rgba[last..], &[0, 0, 255, 255], "blue on the right");
    }

    #[test]
    fn small_pictures_stay_and_bad_ones_are_refused() {
        let t = scale_down(2, 1, 8, &[1, 2, 3, 255, 4, 5, 6, 255]).expect("thumb");
        assert_eq!((t.width, t.height), (2, 1));
        assert_eq!(t.rgba, vec![3, 2, 1, 255, 6, 5, 4, 255]);
        assert!(scale_down(0, 5, 0, &[]).is_none());
        assert!(scale_down(4, 4, 16, &[0; 20]).is_none(), "short buffer");
    }

    #[test]
    fn the_mailbox_keeps_the_newest_and_says_when_it_is_gone() {
        let p = Preview::default();
        assert_eq!(p.newer_than(0), None);
        p.put(1, 1, 4, &[0, 0, 255, 255]);
        p.put(1, 1, 4, &[255, 0, 0, 255]);
        let (seen, newest) = p.newer_than(0).expect("news");
        assert_eq!(newest.expect("a thumbnail").rgba, vec![0, 0, 255, 255]);
        assert_eq!(p.newer_than(seen), None);
        p.clear();
        assert_eq!(p.newer_than(seen), Some((seen + 1, None)));
    }
}
