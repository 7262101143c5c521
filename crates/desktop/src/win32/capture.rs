//! Screen capture on Windows, one monitor on the thread `lotse-capture`,
//! at most `max_fps` frames a second, from one of two sources:
//!
//! * **DXGI Desktop Duplication** (`super::dxgi`), the fast path: Windows
//!   says which rectangles changed (dirty and moved) and only those are
//!   read back; an unchanged screen costs nothing and produces no frame.
//! * **GDI** `BitBlt` of the monitor from the screen DC into a top-down
//!   32-bit DIB, read with `GetDIBits`; GDI reports no damage, so each
//!   grab is compared with the previous one in tiles and only changed
//!   tiles count as damage. It works everywhere, also in remote sessions
//!   and under Wine (where CI runs it).
//!
//! [`Capture::start`] tries DXGI and falls back to GDI when duplication is
//! unavailable, logging one info line with the source and why; while
//! capture runs, a duplication Windows takes away is opened anew, and
//! where that fails capture switches to GDI (logged too).
//! `Capture::method` tells which source runs. Both hand their pixels to
//! the same loop, which applies the mask before a frame leaves the thread.
//!
//! Coordinates are physical pixels: the client's process is per-monitor
//! DPI aware (winit makes it so), so `EnumDisplayMonitors`, DXGI's output
//! rectangles and the window rectangles the mask is made of all speak
//! physical pixels. The DXGI output is chosen by its desktop rectangle
//! being exactly the monitor's, so both sources capture the same rect.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use windows::Win32::Foundation::{LPARAM, RECT};
use windows::Win32::Graphics::Gdi::{
    BitBlt, CAPTUREBLT, CreateCompatibleBitmap, DIB_RGB_COLORS, EnumDisplayMonitors, GetDC,
    GetDIBits, GetMonitorInfoW, HDC, HMONITOR, MONITORINFO, ReleaseDC, SRCCOPY,
};
use windows::core::BOOL;

use super::MemoryBitmap;
use super::dxgi::{Duplication, Stop};
use crate::DesktopError;
pub use crate::capture_config::{CaptureConfig, MAX_FPS};
pub use crate::frame::{Frame, FrameNotify};
use crate::frame::{Slot, black_out_outside, simplify_damage};
use crate::geom::Rect;
pub use crate::monitor::MonitorInfo;

/// Side of the square tiles two grabs are compared in.
const TILE: u32 = 64;
/// `MONITORINFOF_PRIMARY`.
const PRIMARY: u32 = 1;
/// Longest a DXGI capture waits for a change at once (so `stop` is quick
/// also at a low frame rate).
const MAX_WAIT: Duration = Duration::from_millis(100);
/// How long a new duplication may take for its first desktop image.
const FIRST_WAIT: Duration = Duration::from_millis(200);

/// The monitors of the desktop, in the order Windows enumerates them, in
/// virtual-screen pixels.
pub fn monitors() -> Result<Vec<MonitorInfo>, DesktopError> {
    unsafe extern "system" fn each(monitor: HMONITOR, _: HDC, _: *mut RECT, data: LPARAM) -> BOOL {
        // SAFETY: `data` is the `&mut Vec` passed below, alive for the call.
        let found = unsafe { &mut *(data.0 as *mut Vec<MonitorInfo>) };
        let mut info = MONITORINFO {
            cbSize: std::mem::size_of::<MONITORINFO>() as u32,
            ..Default::default()
        };
        // SAFETY: `info` is a MONITORINFO with its size set.
        if unsafe { GetMonitorInfoW(monitor, &mut info) }.as_bool() {
            let r = super::rect(info.rcMonitor);
            found.push(MonitorInfo {
                index: found.len(),
                x: r.x,
                y: r.y,
                width: r.width,
                height: r.height,
                primary: info.dwFlags & PRIMARY != 0,
            });
        }
        BOOL(1)
    }
    let mut found: Vec<MonitorInfo> = Vec::new();
    // SAFETY: the callback only touches `found` through the pointer, and
    // EnumDisplayMonitors returns before `found` goes away.
    let ok = unsafe {
        EnumDisplayMonitors(
            None,
            None,
            Some(each),
            LPARAM(&mut found as *mut Vec<MonitorInfo> as isize),
        )
    };
    if !ok.as_bool() || found.is_empty() {
        return Err(DesktopError::Capture("Windows lists no monitor".into()));
    }
    Ok(found)
}

/// A running screen capture. Dropping it stops it.
pub struct Capture {
    slot: Arc<Slot>,
    thread: Option<JoinHandle<()>>,
    monitor: MonitorInfo,
    frames: Arc<AtomicU64>,
    /// Whether the source is DXGI (else GDI) right now.
    dxgi: Arc<AtomicBool>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("monitor", &self.monitor)
            .finish_non_exhaustive()
    }
}

impl Capture {
    /// Starts capturing; returns once the first grab worked (errors such
    /// as "no such monitor" or a failing GDI come back here). Uses DXGI
    /// Desktop Duplication where it works, else GDI (see the module docs).
    pub fn start(config: CaptureConfig) -> Result<Capture, DesktopError> {
        let all = monitors()?;
        let monitor = *all.get(config.monitor).ok_or(DesktopError::NoSuchMonitor {
            index: config.monitor,
            count: all.len(),
        })?;
        let (source, first) = Source::open(monitor)?;
        let slot = Arc::new(Slot::default());
        let frames = Arc::new(AtomicU64::new(0));
        let dxgi = Arc::new(AtomicBool::new(source.is_dxgi()));
        let thread = {
            let slot = slot.clone();
            let frames = frames.clone();
            let dxgi = dxgi.clone();
            std::thread::Builder::new()
                .name("lotse-capture".into())
                .spawn(move || {
                    if let Err(e) = run(&config, source, first, &slot, &frames, &dxgi) {
                        tracing::warn!("screen capture ended: {e}");
                        slot.fail(e.to_string());
                    }
                })
                .map_err(|e| DesktopError::Thread(e.to_string()))?
        };
        Ok(Capture {
            slot,
            thread: Some(thread),
            monitor,
            frames,
            dxgi,
        })
    }

    /// The source frames come from now: `"dxgi"` or `"gdi"` (what the log
    /// says; for tests).
    #[doc(hidden)]
    pub fn method(&self) -> &'static str {
        if self.dxgi.load(Ordering::Relaxed) {
            "dxgi"
        } else {
            "gdi"
        }
    }

    /// The monitor being captured.
    pub fn monitor(&self) -> &MonitorInfo {
        &self.monitor
    }

    /// How many frames the capture thread produced so far.
    pub fn frames_produced(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Takes the newest frame if there is one.
    pub fn try_recv(&self) -> Result<Option<Frame>, DesktopError> {
        self.slot.take()
    }

    /// Waits up to `timeout` for a frame: `Ok(None)` on timeout, an error
    /// once capture stopped or failed.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Frame>, DesktopError> {
        self.slot.wait(timeout)
    }

    /// Ends capture at once: when this returns, no further frame is
    /// produced or delivered, and a frame not yet taken is discarded.
    pub fn stop(&mut self) {
        self.slot.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Input needs no further permission on Windows.
    pub fn input_granted(&self) -> bool {
        true
    }

    /// Never: Windows asks no system dialog for input.
    pub fn can_ask_for_input(&self) -> bool {
        false
    }

    /// The pointer comes from [`crate::CursorTracker::new`].
    pub fn cursor(&self) -> Option<crate::CursorTracker> {
        None
    }

    /// Input through enigo (SendInput).
    pub fn injector(&mut self) -> Result<crate::DesktopInjector, DesktopError> {
        crate::DesktopInjector::enigo()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The capture loop: deliver what changed (masked), wait, take the
/// source's changes.
fn run(
    config: &CaptureConfig,
    mut source: Source,
    first: Vec<u8>,
    slot: &Slot,
    frames: &AtomicU64,
    dxgi: &AtomicBool,
) -> Result<(), DesktopError> {
    let interval = Duration::from_secs(1) / config.max_fps.clamp(1, MAX_FPS);
    let wait = interval.min(MAX_WAIT);
    let monitor = source.monitor();
    let (width, height) = (monitor.width, monitor.height);
    let whole = Rect::new(0, 0, width, height);
    let mut pixels = first;
    let mut damage = vec![whole];
    let mut shown = None;
    loop {
        let started = Instant::now();
        // The mask follows the windows: where they moved, the frame shows
        // other pixels even if the screen did not change there.
        let region = match &config.mask {
            Some(mask) => Some(mask.refresh()?),
            None => None,
        };
        if region != shown {
            damage = vec![whole];
            shown = region;
        }
        if !damage.is_empty() {
            let number = frames.fetch_add(1, Ordering::Relaxed) + 1;
            let mut frame = Frame {
                number,
                width,
                height,
                stride: width as usize * 4,
                origin: (monitor.x, monitor.y),
                data: pixels.clone(),
                damage: simplify_damage(std::mem::take(&mut damage)),
            };
            if let Some(region) = &shown {
                black_out_outside(&mut frame, region);
            }
            if !slot.deliver(frame) {
                return Ok(());
            }
            if let Some(notify) = &config.notify {
                notify();
            }
        }
        if !slot.sleep(interval.saturating_sub(started.elapsed())) {
            return Ok(());
        }
        damage = source.next(&mut pixels, wait)?;
        dxgi.store(source.is_dxgi(), Ordering::Relaxed);
    }
}

/// Where the pixels come from.
enum Source {
    Dxgi(Duplication),
    Gdi(Grabber),
}

impl Source {
    /// DXGI for `monitor` where it works, else GDI, and the first picture.
    fn open(monitor: MonitorInfo) -> Result<(Source, Vec<u8>), DesktopError> {
        let why = match dxgi_with_picture(&monitor) {
            Ok((duplication, first)) => {
                tracing::info!(
                    "screen capture of monitor {} ({}×{} at {},{}): DXGI Desktop Duplication",
                    monitor.index,
                    monitor.width,
                    monitor.height,
                    monitor.x,
                    monitor.y
                );
                return Ok((Source::Dxgi(duplication), first));
            }
            Err(why) => why,
        };
        tracing::info!(
            "screen capture of monitor {} ({}×{} at {},{}): GDI BitBlt, as DXGI Desktop \
             Duplication is unavailable: {why}",
            monitor.index,
            monitor.width,
            monitor.height,
            monitor.x,
            monitor.y
        );
        let mut grabber = Grabber::new(monitor)?;
        let first = grabber.grab()?;
        Ok((Source::Gdi(grabber), first))
    }

    fn is_dxgi(&self) -> bool {
        matches!(self, Source::Dxgi(_))
    }

    fn monitor(&self) -> MonitorInfo {
        match self {
            Source::Dxgi(d) => d.monitor(),
            Source::Gdi(g) => g.monitor,
        }
    }

    /// Brings `pixels` up to date (DXGI waits up to `wait` for a change,
    /// GDI grabs at once): the damage, empty when nothing changed.
    fn next(&mut self, pixels: &mut Vec<u8>, wait: Duration) -> Result<Vec<Rect>, DesktopError> {
        let monitor = self.monitor();
        let whole = Rect::new(0, 0, monitor.width, monitor.height);
        let why = match self {
            Source::Gdi(grabber) => {
                let now = grabber.grab()?;
                let damage = changed_tiles(pixels, &now, monitor.width, monitor.height);
                *pixels = now;
                return Ok(damage);
            }
            Source::Dxgi(duplication) => match duplication.next(pixels, wait) {
                Ok(damage) => return Ok(damage),
                Err(Stop::AccessLost) => match dxgi_with_picture(&monitor) {
                    Ok((again, picture)) => {
                        tracing::debug!("DXGI access lost; the duplication is open again");
                        *duplication = again;
                        *pixels = picture;
                        return Ok(vec![whole]);
                    }
                    Err(why) => format!("access lost, and {why}"),
                },
                Err(Stop::Failed(why)) => why,
            },
        };
        tracing::info!(
            "screen capture of monitor {}: switching to GDI BitBlt, as DXGI Desktop \
             Duplication failed: {why}",
            monitor.index
        );
        let mut grabber = Grabber::new(monitor)?;
        *pixels = grabber.grab()?;
        *self = Source::Gdi(grabber);
        Ok(vec![whole])
    }
}

/// A new duplication of `monitor` and its first picture. A still screen
/// may give no desktop image for a while: a GDI grab stands in until the
/// first one comes (read whole then).
fn dxgi_with_picture(monitor: &MonitorInfo) -> Result<(Duplication, Vec<u8>), String> {
    let mut duplication = Duplication::open(monitor)?;
    let mut picture = vec![0u8; monitor.width as usize * monitor.height as usize * 4];
    let damage = duplication
        .next(&mut picture, FIRST_WAIT)
        .map_err(|stop| stop.to_string())?;
    if damage.is_empty() {
        picture = Grabber::new(*monitor)
            .and_then(|mut g| g.grab())
            .map_err(|e| format!("no first desktop image, and {e}"))?;
    }
    Ok((duplication, picture))
}

/// The tiles in which two grabs differ, in frame coordinates.
pub(crate) fn changed_tiles(before: &[u8], after: &[u8], width: u32, height: u32) -> Vec<Rect> {
    let stride = width as usize * 4;
    let mut out = Vec::new();
    for ty in (0..height).step_by(TILE as usize) {
        let th = TILE.min(height - ty);
        for tx in (0..width).step_by(TILE as usize) {
            let tw = TILE.min(width - tx);
            let row_bytes = tw as usize * 4;
            let differs = (ty..ty + th).any(|y| {
                let i = y as usize * stride + tx as usize * 4;
                before.get(i..i + row_bytes) != after.get(i..i + row_bytes)
            });
            if differs {
                out.push(Rect::new(tx as i32, ty as i32, tw, th));
            }
        }
    }
    out
}

/// GDI objects for grabbing one monitor, kept between grabs.
struct Grabber {
    monitor: MonitorInfo,
    screen: HDC,
    memory: MemoryBitmap,
}

// SAFETY: the GDI handles are used only by the thread that owns the
// Grabber (it moves to the capture thread once, before any use there).
unsafe impl Send for Grabber {}

impl Grabber {
    fn new(monitor: MonitorInfo) -> Result<Grabber, DesktopError> {
        let fail = |what: &str| DesktopError::Capture(format!("GDI: {what} failed"));
        // SAFETY: plain GDI calls; the screen DC is released in Drop (or
        // right here when the memory bitmap cannot be made).
        unsafe {
            let screen = GetDC(None);
            if screen.is_invalid() {
                return Err(fail("GetDC of the screen"));
            }
            let Some(memory) = MemoryBitmap::new(Some(screen), |_| {
                Some(CreateCompatibleBitmap(
                    screen,
                    monitor.width as i32,
                    monitor.height as i32,
                ))
            }) else {
                ReleaseDC(None, screen);
                return Err(fail("a bitmap compatible with the screen"));
            };
            Ok(Grabber {
                monitor,
                screen,
                memory,
            })
        }
    }

    /// The monitor's pixels now: BGRX, top row first.
    fn grab(&mut self) -> Result<Vec<u8>, DesktopError> {
        let (w, h) = (self.monitor.width as i32, self.monitor.height as i32);
        let mut data = vec![0u8; w as usize * h as usize * 4];
        let mut info = super::top_down_bgra(w, h);
        // SAFETY: the DCs and bitmap are valid (made in `new`); `data` has
        // room for `h` rows of `w` 32-bit pixels, as `info` describes.
        unsafe {
            BitBlt(
                self.memory.dc,
                0,
                0,
                w,
                h,
                Some(self.screen),
                self.monitor.x,
                self.monitor.y,
                SRCCOPY | CAPTUREBLT,
            )
            .map_err(|e| DesktopError::Capture(format!("GDI: BitBlt failed: {e}")))?;
            let lines = GetDIBits(
                self.memory.dc,
                self.memory.bitmap,
                0,
                h as u32,
                Some(data.as_mut_ptr().cast()),
                &mut info,
                DIB_RGB_COLORS,
            );
            if lines != h {
                return Err(DesktopError::Capture(format!(
                    "GDI: GetDIBits gave {lines} of {h} rows"
                )));
            }
        }
        Ok(data)
    }
}

impl Drop for Grabber {
    fn drop(&mut self) {
        // SAFETY: the screen DC was got in `new` and is released once.
        unsafe { ReleaseDC(None, self.screen) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changed_tiles_are_damage() {
        let (w, h) = (150, 70);
        let before = vec![0u8; w * h * 4];
        let mut after = before.clone();
        assert!(changed_tiles(&before, &after, w as u32, h as u32).is_empty());
        // One pixel in the second tile of the second row (x 64..128, y 64..70).
        let i = (66 * w + 100) * 4;
        after[i] = 9;
        assert_eq!(
            changed_tiles(&before, &after, w as u32, h as u32),
            vec![Rect::new(64, 64, 64, 6)]
        );
        // The last, narrow column (x 128..150).
        after[(3 * w + 149) * 4 + 2] = 1;
        assert_eq!(
            changed_tiles(&before, &after, w as u32, h as u32),
            vec![Rect::new(128, 0, 22, 64), Rect::new(64, 64, 64, 6)]
        );
    }
}
