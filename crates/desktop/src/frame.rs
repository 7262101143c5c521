//! A captured frame and the one-slot mailbox that hands frames from a
//! capture thread to the consumer; the same for every backend.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::DesktopError;
use crate::geom::{Rect, Region};

/// More damage rectangles than this are sent as their bounding box.
pub(crate) const MAX_DAMAGE_RECTS: usize = 128;

/// Called (from the capture thread) whenever a new frame is ready — e.g.
/// `egui::Context::request_repaint` or waking a tokio task.
pub type FrameNotify = Arc<dyn Fn() + Send + Sync>;

/// One captured screen image of a monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Increases with every frame the capture produces (frames a slow
    /// consumer never took leave gaps).
    pub number: u64,
    pub width: u32,
    pub height: u32,
    /// Bytes per row of `data` (at least `width * 4`).
    pub stride: usize,
    /// Root-window position of the frame's top-left pixel (the monitor's
    /// origin).
    pub origin: (i32, i32),
    /// Pixels, 4 bytes each: blue, green, red, unused.
    pub data: Vec<u8>,
    /// What changed since the previous frame the consumer took, in frame
    /// coordinates (the whole frame for the first one and whenever the
    /// mask changed).
    pub damage: Vec<Rect>,
}

impl Frame {
    /// The (red, green, blue) of a pixel in frame coordinates.
    pub fn rgb(&self, x: u32, y: u32) -> Option<(u8, u8, u8)> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = y as usize * self.stride + x as usize * 4;
        let p = self.data.get(i..i + 3)?;
        Some((p[2], p[1], p[0]))
    }
}

#[derive(Default)]
pub(crate) struct SlotState {
    frame: Option<Frame>,
    /// Set by `stop()`: nothing is delivered any more.
    pub(crate) stopped: bool,
    /// Why the capture thread ended on its own.
    failed: Option<String>,
}

/// The one-slot mailbox between a capture thread and its consumer: a
/// newer frame replaces one not taken yet and inherits its damage.
#[derive(Default)]
pub(crate) struct Slot {
    state: Mutex<SlotState>,
    cond: Condvar,
}

impl Slot {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts a frame in; false when capture was stopped.
    pub(crate) fn deliver(&self, mut frame: Frame) -> bool {
        let mut s = self.lock();
        if s.stopped {
            return false;
        }
        if let Some(old) = s.frame.take() {
            // The consumer never saw `old`: its changes must not get lost.
            frame.damage.extend(old.damage);
            frame.damage = simplify_damage(std::mem::take(&mut frame.damage));
        }
        s.frame = Some(frame);
        drop(s);
        self.cond.notify_all();
        true
    }

    pub(crate) fn fail(&self, why: String) {
        let mut s = self.lock();
        if s.failed.is_none() {
            s.failed = Some(why);
        }
        drop(s);
        self.cond.notify_all();
    }

    /// Takes the newest frame if there is one; an error once capture
    /// stopped or failed.
    pub(crate) fn take(&self) -> Result<Option<Frame>, DesktopError> {
        self.wait(Duration::ZERO)
    }

    /// Waits up to `timeout` for a frame: `Ok(None)` on timeout.
    pub(crate) fn wait(&self, timeout: Duration) -> Result<Option<Frame>, DesktopError> {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        loop {
            if let Some(f) = s.frame.take() {
                return Ok(Some(f));
            }
            if s.stopped {
                return Err(DesktopError::Capture("capture stopped".into()));
            }
            if let Some(why) = &s.failed {
                return Err(DesktopError::Capture(why.clone()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            s = self
                .cond
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits `pause` unless capture is stopped meanwhile; false once it is.
    #[cfg_attr(not(windows), allow(dead_code))]
    pub(crate) fn sleep(&self, pause: Duration) -> bool {
        let deadline = Instant::now() + pause;
        let mut s = self.lock();
        loop {
            if s.stopped {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            s = self
                .cond
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Nothing is delivered any more; a frame not yet taken is dropped.
    pub(crate) fn stop(&self) {
        let mut s = self.lock();
        s.stopped = true;
        s.frame = None;
        drop(s);
        self.cond.notify_all();
    }
}

/// Merges a damage list: bounding box when it gets long.
pub(crate) fn simplify_damage(mut d: Vec<Rect>) -> Vec<Rect> {
    d.retain(|r| !r.is_empty());
    if d.len() <= MAX_DAMAGE_RECTS {
        return d;
    }
    vec![bounding_box(&d)]
}

pub(crate) fn bounding_box(rects: &[Rect]) -> Rect {
    let x0 = rects.iter().map(|r| r.x).min().unwrap_or(0);
    let y0 = rects.iter().map(|r| r.y).min().unwrap_or(0);
    let x1 = rects.iter().map(Rect::right).max().unwrap_or(0);
    let y1 = rects.iter().map(Rect::bottom).max().unwrap_or(0);
    Rect::new(
        x0,
        y0,
        (x1 - i64::from(x0)).clamp(0, i64::from(u32::MAX)) as u32,
        (y1 - i64::from(y0)).clamp(0, i64::from(u32::MAX)) as u32,
    )
}

/// Sets every pixel of `frame` outside `visible` (desktop coordinates) to
/// black (all four bytes zero).
pub fn black_out_outside(frame: &mut Frame, visible: &Region) {
    let (w, h) = (frame.width, frame.height);
    let local = visible
        .translate(-frame.origin.0, -frame.origin.1)
        .clip(&Rect::new(0, 0, w, h));
    let rects = local.rects();
    let stride = frame.stride;
    let row_bytes = (w as usize) * 4;
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for y in 0..h as usize {
        let Some(row) = frame.data.get_mut(y * stride..y * stride + row_bytes) else {
            break;
        };
        spans.clear();
        for r in rects {
            if (r.y as usize) <= y && y < r.bottom() as usize {
                spans.push((r.x as usize, r.right() as usize));
            }
        }
        spans.sort_unstable();
        let mut x = 0usize;
        for &(a, b) in &spans {
            if a > x {
                row[x * 4..a * 4].fill(0);
            }
            x = x.max(b);
        }
        if x < w as usize {
            row[x * 4..].fill(0);
        }
    }
}
