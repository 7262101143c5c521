//! X11 screen capture: one monitor, frames only when the screen changed.
//!
//! Pixels come from `scrap` (MIT-SHM GetImage, well under a millisecond
//! for a 1280×800 screen). `scrap`'s capturer is not `Send`, so it lives on
//! a dedicated thread, `lotse-capture`, which also owns an x11rb connection
//! for the X DAMAGE extension: the thread sleeps in `poll(2)` until the
//! screen is damaged (no work at all while the screen is idle), grabs, and
//! hands the frame over a one-slot mailbox where a newer frame replaces an
//! older one that was not taken yet (its damage is merged in), so a slow
//! consumer gets fresher frames, never a queue. Without DAMAGE the thread
//! polls at `max_fps` and compares frames itself.
//!
//! With a [`Mask`] (app-selective sharing) every grab goes like this:
//! compute the visible region from the window stack, grab, then make one
//! round trip on the connection that receives the root window's
//! SubstructureNotify events. Every window change the X server processed
//! before the grab has by then arrived as an event. If only other
//! applications' windows moved, every rectangle they occupied (each event
//! carries the geometry) is cut out of the region for this frame; if a
//! chosen window itself changed, the frame is thrown away and grabbed
//! again. So the region never claims a pixel that might show something
//! else, and everything outside it is set to black before the frame leaves
//! the thread. When a compositor runs (it repaints the screen a little
//! after windows change), every region and every other-window rectangle of
//! the last 300 ms is cut out as well.
//!
//! `scrap` pipelines its requests (each `frame()` returns the image asked
//! for by the call before), so the thread calls it twice per grab and keeps
//! the second, fresh image.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::Event;
use x11rb::protocol::damage::{self, ConnectionExt as _};
use x11rb::protocol::randr::ConnectionExt as _;
use x11rb::protocol::xfixes::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{
    ChangeWindowAttributesAux, ConnectionExt as _, EventMask, MapNotifyEvent as Ev,
    ReparentNotifyEvent as ReparentEv,
};

use crate::DesktopError;
pub use crate::capture_config::{CaptureConfig, MAX_FPS};
pub use crate::frame::Frame;
use crate::frame::{MAX_DAMAGE_RECTS, Slot, bounding_box, simplify_damage};
use crate::geom::{Rect, Region};
use crate::mask::{black_out_outside, visible_region};
use crate::xutil::{AppCache, WATERMARK_CLASS, Xconn};

/// How long window changes are distrusted while a compositor runs.
const COMPOSITOR_SETTLE: Duration = Duration::from_millis(300);
/// Give up on one grab after this many window changes in a row.
const MAX_REGRABS: u32 = 5;

pub use crate::monitor::MonitorInfo;

/// The monitors of the default display (RandR 1.5 monitors; the whole root
/// window as one monitor when RandR has none).
pub fn monitors() -> Result<Vec<MonitorInfo>, DesktopError> {
    let x = Xconn::connect()?;
    monitors_on(&x)
}

pub(crate) fn monitors_on(x: &Xconn) -> Result<Vec<MonitorInfo>, DesktopError> {
    let mut out = Vec::new();
    if x.conn
        .extension_information(x11rb::protocol::randr::X11_EXTENSION_NAME)?
        .is_some()
        && let Ok(c) = x.conn.randr_get_monitors(x.root, true)
        && let Ok(r) = c.reply()
    {
        for m in r.monitors {
            if m.width == 0 || m.height == 0 {
                continue;
            }
            out.push(MonitorInfo {
                index: out.len(),
                x: i32::from(m.x),
                y: i32::from(m.y),
                width: u32::from(m.width),
                height: u32::from(m.height),
                primary: m.primary,
            });
        }
    }
    if out.is_empty() {
        let (w, h) = x.root_size();
        out.push(MonitorInfo {
            index: 0,
            x: 0,
            y: 0,
            width: u32::from(w),
            height: u32::from(h),
            primary: true,
        });
    }
    if !out.iter().any(|m| m.primary) {
        out[0].primary = true;
    }
    Ok(out)
}

/// A running screen capture. Dropping it stops it.
pub struct Capture {
    slot: Arc<Slot>,
    wake: UnixStream,
    thread: Option<JoinHandle<()>>,
    monitor: MonitorInfo,
    frames: Arc<AtomicU64>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("monitor", &self.monitor)
            .finish_non_exhaustive()
    }
}

impl Capture {
    /// Starts capturing; returns once the first grab is set up (errors such
    /// as "no display" or "no such monitor" come back here).
    pub fn start(config: CaptureConfig) -> Result<Capture, DesktopError> {
        let slot = Arc::new(Slot::default());
        let (wake, wake_rx) =
            UnixStream::pair().map_err(|e| DesktopError::Thread(format!("wake pipe: {e}")))?;
        wake_rx
            .set_nonblocking(true)
            .map_err(|e| DesktopError::Thread(format!("wake pipe: {e}")))?;
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let frames = Arc::new(AtomicU64::new(0));
        let thread = {
            let slot = slot.clone();
            let frames = frames.clone();
            std::thread::Builder::new()
                .name("lotse-capture".into())
                .spawn(move || {
                    let mut ready = Some(ready_tx);
                    let r = run(config, &slot, wake_rx, &frames, &mut ready);
                    if let Err(e) = r {
                        if let Some(tx) = ready.take() {
                            let _ = tx.send(Err(e));
                        } else {
                            tracing::warn!("screen capture ended: {e}");
                            slot.fail(e.to_string());
                        }
                    } else {
                        slot.fail("capture stopped".into());
                    }
                })
                .map_err(|e| DesktopError::Thread(e.to_string()))?
        };
        match ready_rx.recv() {
            Ok(Ok(monitor)) => Ok(Capture {
                slot,
                wake,
                thread: Some(thread),
                monitor,
                frames,
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(DesktopError::Thread("capture thread died".into()))
            }
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
        let _ = self.wake.write_all(&[1]);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until the X connection or the wake pipe is readable, or timeout.
fn wait_readable(x_fd: i32, wake_fd: i32, timeout: Option<Duration>) {
    let mut fds = [
        libc::pollfd {
            fd: x_fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: wake_fd,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let ms = match timeout {
        None => -1,
        Some(d) => i32::try_from(d.as_millis().max(1)).unwrap_or(i32::MAX),
    };
    // SAFETY: `fds` is a valid array of two pollfd structs for the whole call.
    unsafe {
        libc::poll(fds.as_mut_ptr(), 2, ms);
    }
}

struct Damage {
    damage: damage::Damage,
    region: xfixes::Region,
}

/// A change to a top-level window, as its event reported it.
enum Change {
    /// Moved, resized or restacked; `rect` is where it is now.
    Configure { window: u32, rect: Rect },
    /// Unmapped or destroyed; where it was, if known.
    Gone { window: u32, rect: Option<Rect> },
    /// Mapped or reparented to the root; where it is, if it still exists.
    Mapped { window: u32, rect: Option<Rect> },
    /// Circulated or moved by gravity: no usable geometry.
    Other,
}

/// What the event handling found since the last look.
#[derive(Default)]
struct Pending {
    /// Damaged rectangles in root coordinates.
    damage: Vec<Rect>,
    /// A top-level window changed (moved, mapped, restacked…): the mask
    /// must be computed afresh.
    stack_changed: bool,
    /// The window changes themselves, for checking a grab (only recorded
    /// with a mask).
    changes: Vec<Change>,
    track_changes: bool,
    /// The root window changed size.
    root_resized: bool,
}

impl Pending {
    fn record(&mut self, c: Change) {
        if self.track_changes {
            self.changes.push(c);
        }
    }
}

fn drain_events(
    x: &Xconn,
    dmg: Option<&Damage>,
    cache: &mut AppCache,
    p: &mut Pending,
) -> Result<(), DesktopError> {
    // Reading the damage reply can pull further events into x11rb's
    // buffer, where poll(2) would not see them: loop until none is left.
    loop {
        let mut damaged = false;
        while let Some(ev) = x.conn.poll_for_event()? {
            match ev {
                Event::DamageNotify(_) => damaged = true,
                Event::ConfigureNotify(e) => {
                    if e.window == x.root {
                        p.root_resized = true;
                    } else {
                        let bw = u32::from(e.border_width) * 2;
                        let rect = Rect::new(
                            i32::from(e.x),
                            i32::from(e.y),
                            u32::from(e.width) + bw,
                            u32::from(e.height) + bw,
                        );
                        cache.set_rect(e.window, rect);
                        p.record(Change::Configure {
                            window: e.window,
                            rect,
                        });
                    }
                    p.stack_changed = true;
                }
                Event::UnmapNotify(e) => {
                    let rect = cache.rect_of(e.window);
                    p.record(Change::Gone {
                        window: e.window,
                        rect,
                    });
                    p.stack_changed = true;
                }
                Event::DestroyNotify(e) => {
                    let rect = cache.rect_of(e.window);
                    p.record(Change::Gone {
                        window: e.window,
                        rect,
                    });
                    p.stack_changed = true;
                }
                Event::MapNotify(Ev { window, .. })
                | Event::ReparentNotify(ReparentEv { window, .. }) => {
                    // Not in the event: ask where it is (it may be gone).
                    let rect = x
                        .conn
                        .get_geometry(window)?
                        .reply()
                        .ok()
                        .filter(|g| g.root == x.root)
                        .map(|g| {
                            let bw = u32::from(g.border_width) * 2;
                            Rect::new(
                                i32::from(g.x),
                                i32::from(g.y),
                                u32::from(g.width) + bw,
                                u32::from(g.height) + bw,
                            )
                        });
                    if let Some(r) = rect {
                        cache.set_rect(window, r);
                        // Learn its application now (the watermark must
                        // be recognised as such).
                        let _ = cache.app_of(x, window);
                    }
                    p.record(Change::Mapped { window, rect });
                    p.stack_changed = true;
                }
                Event::CirculateNotify(_) | Event::GravityNotify(_) => {
                    p.record(Change::Other);
                    p.stack_changed = true;
                }
                Event::CreateNotify(e) => cache.forget(e.window),
                Event::PropertyNotify(e) if e.atom == x.atoms._NET_CLIENT_LIST_STACKING => {
                    p.stack_changed = true;
                }
                _ => {}
            }
        }
        if !damaged {
            break;
        }
        if let Some(d) = dmg {
            // Move the accumulated damage into our region (emptying it, so the
            // next change raises a new event) and read it back.
            x.conn.damage_subtract(d.damage, x11rb::NONE, d.region)?;
            let r = x.conn.xfixes_fetch_region(d.region)?.reply()?;
            p.damage.extend(r.rectangles.iter().map(|r| {
                Rect::new(
                    i32::from(r.x),
                    i32::from(r.y),
                    u32::from(r.width),
                    u32::from(r.height),
                )
            }));
            if p.damage.len() > 4 * MAX_DAMAGE_RECTS {
                p.damage = simplify_damage(std::mem::take(&mut p.damage));
            }
        }
    }
    Ok(())
}

/// The part of `pre` (the visible region computed before a grab) that
/// certainly showed a chosen application in the grabbed image, given the
/// window changes reported between that computation and the grab's check.
///
/// Every rectangle another window took meanwhile is removed (each move and
/// restack is reported with its geometry, so every place it was is
/// covered); unmapping another window reveals nothing of the chosen ones'
/// area. If a chosen window itself changed, or a window was mapped (no
/// geometry in that event), there is no safe answer: `None`, grab again.
fn region_despite(
    pre: Region,
    changes: &[Change],
    cache: &AppCache,
    apps: &[String],
) -> Option<Region> {
    let chosen = |w: u32| matches!(cache.cached(w), Some(Some(a)) if apps.contains(a));
    // Where each other window was, per window (a drag reports hundreds of
    // positions: beyond a few, take their bounding box so the region stays
    // a handful of rectangles).
    let mut moved: Vec<(u32, Vec<Rect>)> = Vec::new();
    for c in changes {
        if is_watermark(cache, c) {
            continue;
        }
        match c {
            Change::Configure { window, rect } => {
                if chosen(*window) {
                    return None;
                }
                match moved.iter_mut().find(|(w, _)| w == window) {
                    Some((_, rects)) => rects.push(*rect),
                    None => moved.push((*window, vec![*rect])),
                }
            }
            Change::Gone { window, .. } => {
                if chosen(*window) {
                    return None;
                }
            }
            Change::Mapped { window, rect } => {
                let Some(rect) = rect else {
                    return None;
                };
                match moved.iter_mut().find(|(w, _)| w == window) {
                    Some((_, rects)) => rects.push(*rect),
                    None => moved.push((*window, vec![*rect])),
                }
            }
            Change::Other => return None,
        }
    }
    let mut region = pre;
    for (_, rects) in moved {
        if rects.len() <= 4 {
            for r in rects {
                region.subtract(r);
            }
        } else {
            region.subtract(bounding_box(&rects));
        }
    }
    Some(region)
}

/// Our own watermark overlay is text on top of everything, not a window
/// that hides anything: its changes do not count.
fn is_watermark(cache: &AppCache, c: &Change) -> bool {
    let w = match c {
        Change::Configure { window, .. }
        | Change::Gone { window, .. }
        | Change::Mapped { window, .. } => *window,
        Change::Other => return false,
    };
    matches!(cache.cached(w), Some(Some(a)) if a == WATERMARK_CLASS)
}

/// With a compositor the screen shows what windows looked like a little
/// while ago. So for `COMPOSITOR_SETTLE` after any change, the region is
/// also cut by every region that was valid in that time and by every
/// rectangle another window occupied in it (from the events, so positions
/// between two grabs count too).
#[derive(Default)]
struct Settle {
    /// Visible regions and when they stopped being current (`None`: still is).
    regions: Vec<(Option<Instant>, Region)>,
    /// Where other windows were: (when, window, rect or unknown).
    others: Vec<(Instant, u32, Option<Rect>)>,
}

impl Settle {
    fn note(
        &mut self,
        now: Instant,
        changes: &[Change],
        cache: &AppCache,
        chosen: impl Fn(u32) -> bool,
    ) {
        for c in changes {
            if is_watermark(cache, c) {
                continue;
            }
            match c {
                Change::Configure { window, rect } if !chosen(*window) => {
                    self.others.push((now, *window, Some(*rect)));
                }
                Change::Gone {
                    window,
                    rect: Some(rect),
                } if !chosen(*window) => self.others.push((now, *window, Some(*rect))),
                Change::Mapped { window, rect } if !chosen(*window) => {
                    self.others.push((now, *window, *rect));
                }
                Change::Other => self.others.push((now, 0, None)),
                _ => {}
            }
        }
    }

    /// The region safe to show now, given the current visible region.
    fn apply(&mut self, now: Instant, region: &Region) -> Region {
        let fresh = |t: &Instant| now.duration_since(*t) < COMPOSITOR_SETTLE;
        self.regions
            .retain(|(end, _)| end.as_ref().is_none_or(fresh));
        self.others.retain(|(t, _, _)| fresh(t));
        if self.regions.last().map(|(_, r)| r) != Some(region) {
            if let Some(last) = self.regions.last_mut() {
                last.0 = Some(now);
            }
            self.regions.push((None, region.clone()));
        }
        let mut out = region.clone();
        for (_, r) in &self.regions[..self.regions.len() - 1] {
            out = out.intersect(r);
        }
        let mut per_window: Vec<(u32, Vec<Rect>)> = Vec::new();
        for (_, w, r) in &self.others {
            let Some(r) = r else {
                return Region::new(); // somewhere unknown: show nothing yet
            };
            match per_window.iter_mut().find(|(x, _)| x == w) {
                Some((_, v)) => v.push(*r),
                None => per_window.push((*w, vec![*r])),
            }
        }
        for (_, rects) in per_window {
            if rects.len() <= 4 {
                for r in rects {
                    out.subtract(r);
                }
            } else {
                out.subtract(bounding_box(&rects));
            }
        }
        out
    }

    /// When the oldest remembered change stops mattering (a clean frame
    /// should be grabbed then).
    fn settle_at(&self) -> Option<Instant> {
        let ends = self.regions.iter().filter_map(|(end, _)| *end);
        let others = self.others.iter().map(|(t, _, _)| *t);
        ends.chain(others).max().map(|t| t + COMPOSITOR_SETTLE)
    }
}

fn setup_damage(x: &Xconn) -> Result<Option<Damage>, DesktopError> {
    if x.conn
        .extension_information(damage::X11_EXTENSION_NAME)?
        .is_none()
        || x.conn
            .extension_information(xfixes::X11_EXTENSION_NAME)?
            .is_none()
    {
        return Ok(None);
    }
    x.conn.xfixes_query_version(5, 0)?.reply()?;
    x.conn.damage_query_version(1, 1)?.reply()?;
    let region = x.conn.generate_id()?;
    x.conn.xfixes_create_region(region, &[])?;
    let d = x.conn.generate_id()?;
    x.conn
        .damage_create(d, x.root, damage::ReportLevel::NON_EMPTY)?
        .check()?;
    Ok(Some(Damage { damage: d, region }))
}

/// The bounding box of the rows/columns where two frames differ.
fn diff_box(a: &[u8], b: &[u8], w: u32, h: u32, stride: usize) -> Option<Rect> {
    let row = w as usize * 4;
    let mut y0 = None;
    let mut y1 = 0;
    let (mut x0, mut x1) = (usize::MAX, 0usize);
    for y in 0..h as usize {
        let (Some(ra), Some(rb)) = (
            a.get(y * stride..y * stride + row),
            b.get(y * stride..y * stride + row),
        ) else {
            break;
        };
        if ra == rb {
            continue;
        }
        y0.get_or_insert(y);
        y1 = y;
        let first = ra.iter().zip(rb).position(|(p, q)| p != q).unwrap_or(0) / 4;
        let last = row / 4
            - 1
            - ra.iter()
                .rev()
                .zip(rb.iter().rev())
                .position(|(p, q)| p != q)
                .unwrap_or(0)
                / 4;
        x0 = x0.min(first);
        x1 = x1.max(last);
    }
    let y0 = y0?;
    Some(Rect::new(
        x0 as i32,
        y0 as i32,
        (x1 - x0 + 1) as u32,
        (y1 - y0 + 1) as u32,
    ))
}

fn run(
    config: CaptureConfig,
    slot: &Slot,
    mut wake: UnixStream,
    frames: &AtomicU64,
    ready: &mut Option<mpsc::SyncSender<Result<MonitorInfo, DesktopError>>>,
) -> Result<(), DesktopError> {
    let x = Xconn::connect()?;
    if x.conn
        .extension_information(x11rb::protocol::shm::X11_EXTENSION_NAME)?
        .is_none()
    {
        return Err(DesktopError::MissingExtension("MIT-SHM"));
    }
    let depth = x.conn.setup().roots[x.screen].root_depth;
    if depth != 24 && depth != 32 {
        return Err(DesktopError::Capture(format!(
            "screen depth {depth} is not supported (24 or 32 bits needed)"
        )));
    }
    let mons = monitors_on(&x)?;
    let mon = *mons
        .get(config.monitor)
        .ok_or(DesktopError::NoSuchMonitor {
            index: config.monitor,
            count: mons.len(),
        })?;
    let mon_rect = mon.rect();
    let fps = config.max_fps.clamp(1, MAX_FPS);
    let interval = Duration::from_secs(1) / fps;

    x.conn.change_window_attributes(
        x.root,
        &ChangeWindowAttributesAux::new().event_mask(
            EventMask::SUBSTRUCTURE_NOTIFY
                | EventMask::STRUCTURE_NOTIFY
                | EventMask::PROPERTY_CHANGE,
        ),
    )?;
    let dmg = setup_damage(&x)?;
    if dmg.is_none() {
        tracing::info!("X DAMAGE missing: polling the screen at {fps} fps");
    }
    let compositor = x.compositor_running()?;
    x.conn.flush()?;

    let server = scrap::x11::Server::default()
        .map_err(|e| DesktopError::Capture(format!("scrap cannot connect: {e:?}")))?;
    let rect = scrap::x11::Rect {
        x: i16::try_from(mon.x).map_err(|_| DesktopError::Capture("monitor off range".into()))?,
        y: i16::try_from(mon.y).map_err(|_| DesktopError::Capture("monitor off range".into()))?,
        w: u16::try_from(mon.width).map_err(|_| DesktopError::Capture("monitor too big".into()))?,
        h: u16::try_from(mon.height)
            .map_err(|_| DesktopError::Capture("monitor too big".into()))?,
    };
    // SAFETY: `Display::new` only stores its arguments; `x.root` is the root
    // window of the same display (both connections use $DISPLAY) and `rect`
    // lies inside it (a RandR monitor of that screen).
    let display = unsafe { scrap::x11::Display::new(Rc::new(server), mon.primary, rect, x.root) };
    let mut capturer = scrap::x11::Capturer::new(display)
        .map_err(|e| DesktopError::Capture(format!("MIT-SHM setup failed: {e}")))?;
    let (w, h) = (mon.width, mon.height);
    let stride = w as usize * 4;
    let size = stride * h as usize;

    if let Some(tx) = ready.take() {
        let _ = tx.send(Ok(mon));
    }

    let x_fd = x.conn.stream().as_raw_fd();
    let wake_fd = wake.as_raw_fd();
    let mut cache = AppCache::default();
    let mut pending = Pending {
        stack_changed: true,
        track_changes: config.mask.is_some(),
        ..Pending::default()
    };
    let mut first = true;
    let mut number = 0u64;
    let mut next_at = Instant::now();
    let mut prev: Option<Vec<u8>> = None; // only without DAMAGE
    let mut last_region: Option<Region> = None;
    let mut settle = Settle::default();
    if compositor {
        // What the compositor shows right now may predate every window
        // state we can know of: nothing is shown for the first moments.
        settle.others.push((Instant::now(), 0, None));
    }
    let mut settle_at: Option<Instant> = None;
    let mut regrabs = 0u32;

    loop {
        // Stopped? (`stop()` also writes to the wake pipe.)
        let mut b = [0u8; 16];
        if matches!(wake.read(&mut b), Ok(0)) || slot.lock().stopped {
            return Ok(());
        }
        drain_events(&x, dmg.as_ref(), &mut cache, &mut pending)?;
        if pending.root_resized {
            pending.root_resized = false;
            let g = x.conn.get_geometry(x.root)?.reply()?;
            let root = Rect::new(0, 0, u32::from(g.width), u32::from(g.height));
            if root.intersect(&mon_rect) != Some(mon_rect) {
                return Err(DesktopError::Capture(
                    "the screen layout changed; start sharing again".into(),
                ));
            }
            continue; // the reply may have buffered events: drain again
        }
        let now = Instant::now();
        let settle_due = settle_at.is_some_and(|t| now >= t);
        let due = first
            || !pending.damage.is_empty()
            || (config.mask.is_some() && (pending.stack_changed || settle_due))
            || (dmg.is_none() && now >= next_at);
        if !due {
            let timeout = match (dmg.is_none(), settle_at) {
                (true, _) => Some(next_at.saturating_duration_since(now)),
                (false, Some(t)) => Some(t.saturating_duration_since(now)),
                (false, None) => None,
            };
            x.conn.flush()?;
            wait_readable(x_fd, wake_fd, timeout);
            continue;
        }
        if now < next_at {
            x.conn.flush()?;
            wait_readable(x_fd, wake_fd, Some(next_at - now));
            continue;
        }

        // Region first, then pixels, then check what moved meanwhile.
        let region = match &config.mask {
            Some(m) => {
                pending.stack_changed = false;
                if compositor {
                    let apps = m.apps();
                    let chosen =
                        |w: u32| matches!(cache.cached(w), Some(Some(a)) if apps.contains(a));
                    settle.note(Instant::now(), &pending.changes, &cache, chosen);
                }
                pending.changes.clear();
                let stack = cache.stack(&x)?;
                Some(visible_region(&stack, m.apps()))
            }
            None => None,
        };
        // Damage reported before the grab. What is drawn while the grab
        // runs may be in the image yet reported only afterwards: that part
        // is read below and goes into this frame and the next one.
        let early = std::mem::take(&mut pending.damage);
        let _ = capturer.frame(); // the image asked for last time: stale
        let data = capturer.frame().to_vec();
        if data.len() < size {
            return Err(DesktopError::Capture(
                "short image from the X server".into(),
            ));
        }
        let region = match (region, &config.mask) {
            (Some(pre), Some(m)) => {
                x.conn.get_input_focus()?.reply()?; // round trip: events are in
                drain_events(&x, dmg.as_ref(), &mut cache, &mut pending)?;
                let changes = std::mem::take(&mut pending.changes);
                if compositor {
                    let apps = m.apps();
                    let chosen =
                        |w: u32| matches!(cache.cached(w), Some(Some(a)) if apps.contains(a));
                    settle.note(Instant::now(), &changes, &cache, chosen);
                }
                match region_despite(pre, &changes, &cache, m.apps()) {
                    Some(r) => Some(r),
                    None => {
                        pending.damage.extend(early);
                        regrabs += 1;
                        if regrabs >= MAX_REGRABS {
                            // Windows keep changing: try again next tick.
                            regrabs = 0;
                            next_at = Instant::now() + interval;
                        }
                        continue;
                    }
                }
            }
            _ => None,
        };
        regrabs = 0;
        let taken_at = Instant::now();
        next_at = taken_at + interval;

        if dmg.is_some() && config.mask.is_none() {
            x.conn.get_input_focus()?.reply()?; // round trip: late damage is in
            drain_events(&x, dmg.as_ref(), &mut cache, &mut pending)?;
        }
        // `pending.damage` now holds only the late part; it stays pending so
        // the next frame looks there again.
        let mut damage: Vec<Rect> = early
            .iter()
            .chain(pending.damage.iter())
            .filter_map(|r| r.intersect(&mon_rect))
            .map(|r| r.translate(-mon.x, -mon.y))
            .collect();
        if dmg.is_none() {
            if let Some(p) = prev.as_deref() {
                damage.extend(diff_box(p, &data, w, h, stride));
            }
            prev = Some(data.clone());
        }
        let mut frame = Frame {
            number: 0,
            width: w,
            height: h,
            stride,
            origin: (mon.x, mon.y),
            data,
            damage: Vec::new(),
        };
        let mut effective_changed = false;
        if let (Some(mask), Some(region)) = (&config.mask, region) {
            mask.set_region(region.clone());
            let mut effective = region.clone();
            if compositor {
                effective = settle.apply(taken_at, &region);
                settle_at = settle.settle_at();
            }
            black_out_outside(&mut frame, &effective);
            effective_changed = last_region.as_ref() != Some(&effective);
            last_region = Some(effective);
        }
        if first || effective_changed {
            damage = vec![Rect::new(0, 0, w, h)];
        }
        first = false;
        if damage.is_empty() {
            continue; // nothing visible changed (e.g. polling without DAMAGE)
        }
        number += 1;
        frame.number = number;
        frame.damage = simplify_damage(damage);
        if !slot.deliver(frame) {
            return Ok(());
        }
        frames.fetch_add(1, Ordering::Relaxed);
        if let Some(n) = &config.notify {
            n();
        }
    }
}
