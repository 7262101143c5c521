//! The share worker: captures what the customer chose to share, encodes it
//! with the screen codec and hands binary frames to the network side.
//!
//! It runs on its own thread (`lotse-share`), never on the UI thread, and
//! exists only after the customer allowed sharing and picked what to show
//! (the session starts it through an effect; nothing else does).
//!
//! * **Pacing:** at most one update is unacknowledged: after sending update
//!   `n` the worker waits for [`ShareWorker::frame_acked`]`(n)` (the
//!   technician's `frame_ack`) before it takes the next frame, so a slow link
//!   gets fewer, fresher frames (the capture mailbox merges what it missed)
//!   instead of a growing queue. Screen updates come at most `max_fps` times
//!   a second. An update that is never acknowledged (lost on a cut) is given
//!   up after [`ACK_TIMEOUT`] and a keyframe follows.
//! * **Keyframes:** the first update, and the next one after a reconnect
//!   ([`ShareWorker::resync`]) or the technician's `keyframe_request`
//!   ([`ShareWorker::keyframe_requested`]) start a new stream
//!   (`Encoder::reset`), so a decoder that lost its way can start again.
//! * **Frames:** each update is cut into pieces of at most
//!   [`lotse_codec::MAX_PIECE`] bytes, each behind a [`BinaryHeader`]
//!   (kind `ScreenUpdate`, `id` = this share's stream id, `seq` = update
//!   number, `FLAG_LAST` on the last piece).
//! * **Pointer:** shape once per change, then positions, as the codec's own
//!   small updates; with app sharing the pointer is hidden outside the
//!   chosen applications.
//! * **Stop:** [`ShareWorker::stop`] ends capture at once; when it returns
//!   the thread is gone and no further frame is handed out. Frames already
//!   queued in the channel carry this share's stream id, so the owner can
//!   discard them.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lotse_codec::{Encoder, EncoderConfig};
use lotse_desktop::{
    Capture, CaptureConfig, CursorTracker, DesktopError, DesktopInjector, Mask, MonitorInfo,
};
use lotse_protocol::{BinaryHeader, BinaryKind, FLAG_LAST, ShareScope};
use tokio::sync::mpsc;

use crate::preview::{self, Preview};

/// Give up waiting for a `frame_ack` after this long and send a keyframe.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the pointer is looked at while the screen is still.
const CURSOR_POLL: Duration = Duration::from_millis(40);
/// Default frame rate cap.
pub const DEFAULT_FPS: u32 = 30;
/// Where a hidden pointer is put (far off every screen).
const HIDDEN: (i32, i32) = (-32768, -32768);

/// What the customer chose to share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareChoice {
    /// One whole monitor (index into `lotse_desktop::monitors()`).
    Screen { monitor: usize },
    /// Only these applications (`AppGroup::id`s); everything else black.
    Apps { apps: Vec<String> },
    /// Wayland: the windows the customer picks in the desktop's own
    /// dialog (no program may list them there).
    Windows,
}

impl ShareChoice {
    /// The scope as the protocol names it.
    pub fn scope(&self) -> ShareScope {
        match self {
            ShareChoice::Screen { monitor } => ShareScope::Screen {
                monitor: u32::try_from(*monitor).unwrap_or(u32::MAX),
            },
            ShareChoice::Apps { apps } => ShareScope::Apps { apps: apps.clone() },
            // An empty list: picked in the desktop's dialog (docs/PROTOCOL.md).
            ShareChoice::Windows => ShareScope::Apps { apps: Vec::new() },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("no applications were chosen")]
    NoApps,
    #[error(transparent)]
    Desktop(#[from] lotse_desktop::DesktopError),
    #[error("the share thread could not start: {0}")]
    Thread(String),
}

/// One captured picture, owned.
#[derive(Debug, Clone)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    /// BGRA.
    pub data: Vec<u8>,
    /// Changed rectangles in picture pixels (empty = look at everything).
    pub damage: Vec<lotse_codec::Rect>,
}

/// The pointer as the worker samples it, in shared-area pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    /// `None`: hidden (outside the shared applications).
    pub position: Option<(i32, i32)>,
    /// Changes with the pointer's image.
    pub serial: u32,
}

/// A pointer image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointerShape {
    pub width: u32,
    pub height: u32,
    pub hot_x: u32,
    pub hot_y: u32,
    pub rgba: Vec<u8>,
}

/// Where pictures and the pointer come from (the real desktop, or a test).
pub trait Source: Send + 'static {
    /// The next changed picture, waiting at most `timeout`. `Ok(None)`:
    /// nothing changed; `Err`: the source is finished.
    fn next_picture(&mut self, timeout: Duration) -> Result<Option<Picture>, String>;
    /// The pointer now (`None` when unknown).
    fn pointer(&mut self) -> Option<Pointer>;
    /// The pointer's current image.
    fn pointer_shape(&mut self) -> Option<PointerShape>;
}

/// The real desktop: `lotse_desktop` capture (with a mask for apps), its
/// pointer and its injector.
pub struct DesktopSource {
    capture: Capture,
    cursor: Option<CursorTracker>,
    mask: Option<Arc<Mask>>,
    monitor: MonitorInfo,
    injector: Option<Result<DesktopInjector, DesktopError>>,
    can_ask_for_input: bool,
}

impl DesktopSource {
    /// Starts capturing what `choice` says; `input`: the customer allowed
    /// control, so a desktop that asks for it (Wayland) asks in the same
    /// dialog. On Wayland this waits for the customer's answer to the
    /// desktop's dialog.
    pub fn start(choice: &ShareChoice, max_fps: u32, input: bool) -> Result<Self, ShareError> {
        let (monitor, mask) = match choice {
            ShareChoice::Screen { monitor } => (*monitor, None),
            ShareChoice::Windows => (0, None),
            ShareChoice::Apps { apps } => {
                if apps.is_empty() {
                    return Err(ShareError::NoApps);
                }
                // Applications are shown on the primary monitor's picture.
                let monitors = lotse_desktop::monitors()?;
                let primary = monitors.iter().find(|m| m.primary).map_or(0, |m| m.index);
                (primary, Some(Arc::new(Mask::new(apps.iter().cloned())?)))
            }
        };
        let mut capture = Capture::start(CaptureConfig {
            monitor,
            max_fps,
            mask: mask.clone(),
            notify: None,
            windows: *choice == ShareChoice::Windows,
            input,
        })?;
        let cursor = match capture.cursor().map_or_else(CursorTracker::new, Ok) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::info!("the pointer will not be shown: {e}");
                None
            }
        };
        let monitor = *capture.monitor();
        let can_ask_for_input = capture.can_ask_for_input();
        let injector = Some(capture.injector());
        Ok(Self {
            capture,
            cursor,
            mask,
            monitor,
            injector,
            can_ask_for_input,
        })
    }

    /// The captured monitor.
    pub fn monitor(&self) -> MonitorInfo {
        self.monitor
    }

    /// The app mask (app sharing only).
    pub fn mask(&self) -> Option<Arc<Mask>> {
        self.mask.clone()
    }
}

impl Source for DesktopSource {
    fn next_picture(&mut self, timeout: Duration) -> Result<Option<Picture>, String> {
        let frame = self
            .capture
            .recv_timeout(timeout)
            .map_err(|e| e.to_string())?;
        Ok(frame.map(|f| Picture {
            width: f.width,
            height: f.height,
            stride: f.stride,
            damage: f
                .damage
                .iter()
                .filter_map(|r| {
                    let x = u32::try_from(r.x).ok()?;
                    let y = u32::try_from(r.y).ok()?;
                    Some(lotse_codec::Rect::new(x, y, r.width, r.height))
                })
                .collect(),
            data: f.data,
        }))
    }

    fn pointer(&mut self) -> Option<Pointer> {
        let cursor = self.cursor.as_ref()?;
        let (x, y) = cursor.position().ok()?;
        let visible = self.monitor.rect().contains(x, y)
            && self.mask.as_ref().is_none_or(|m| m.contains(x, y));
        // The serial needs the image; ask only for it (cheap enough at
        // the poll rate, and it is how shape changes are noticed).
        let serial = cursor.image().map(|i| i.serial).unwrap_or(0);
        Some(Pointer {
            position: visible.then(|| (x - self.monitor.x, y - self.monitor.y)),
            serial,
        })
    }

    fn pointer_shape(&mut self) -> Option<PointerShape> {
        let img = self.cursor.as_ref()?.image().ok()?;
        Some(PointerShape {
            width: img.width,
            height: img.height,
            hot_x: img.hot_x,
            hot_y: img.hot_y,
            rgba: img.rgba,
        })
    }
}

/// State shared between the worker thread and its handle.
#[derive(Default)]
struct Shared {
    state: Mutex<Pace>,
    cond: Condvar,
}

#[derive(Default)]
struct Pace {
    stopped: bool,
    /// The update waiting for its acknowledgement.
    in_flight: Option<u64>,
    /// Highest update number acknowledged.
    acked: u64,
    /// Send a keyframe next (a new viewer, or after a cut).
    resync: bool,
    /// The customer paused the share: nothing is sent until the resume.
    paused: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pace> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running share. Dropping it stops it.
pub struct ShareWorker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    stream: u32,
    width: u32,
    height: u32,
    monitor: Option<MonitorInfo>,
    mask: Option<Arc<Mask>>,
    sent: Arc<AtomicU64>,
    /// The capture's injector, until control takes it.
    injector: Option<Result<DesktopInjector, DesktopError>>,
    /// The desktop would grant input in a new dialog (Wayland).
    can_ask_for_input: bool,
}

impl std::fmt::Debug for ShareWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareWorker")
            .field("stream", &self.stream)
            .field("size", &(self.width, self.height))
            .finish_non_exhaustive()
    }
}

/// Stream ids for successive shares in this process.
static NEXT_STREAM: AtomicU32 = AtomicU32::new(1);

impl ShareWorker {
    /// Capture what `scope` says and send it to `sender` until stopped;
    /// `input` as for [`DesktopSource::start`] (this may wait for the
    /// desktop's dialog: never call it on the UI or network task).
    pub fn start(
        scope: &ShareChoice,
        sender: mpsc::Sender<Vec<u8>>,
        preview: Preview,
        input: bool,
    ) -> Result<ShareWorker, ShareError> {
        let mut source = DesktopSource::start(scope, DEFAULT_FPS, input)?;
        let monitor = source.monitor();
        let mask = source.mask();
        let injector = source.injector.take();
        let can_ask_for_input = source.can_ask_for_input;
        let mut worker = Self::with_source(
            source,
            monitor.width,
            monitor.height,
            sender,
            preview,
            DEFAULT_FPS,
        )?;
        worker.monitor = Some(monitor);
        worker.mask = mask;
        worker.injector = injector;
        worker.can_ask_for_input = can_ask_for_input;
        Ok(worker)
    }

    /// Run the worker on any picture source (tests use a scripted one).
    pub fn with_source<S: Source>(
        source: S,
        width: u32,
        height: u32,
        sender: mpsc::Sender<Vec<u8>>,
        preview: Preview,
        max_fps: u32,
    ) -> Result<ShareWorker, ShareError> {
        let shared = Arc::new(Shared::default());
        let stream = NEXT_STREAM.fetch_add(1, Ordering::Relaxed);
        let sent = Arc::new(AtomicU64::new(0));
        let thread = {
            let shared = shared.clone();
            let sent = sent.clone();
            std::thread::Builder::new()
                .name("lotse-share".into())
                .spawn(move || {
                    let mut run = Run {
                        source,
                        shared,
                        sender,
                        stream,
                        encoder: Encoder::new(EncoderConfig::default()),
                        next_seq: 1,
                        last: None,
                        min_interval: Duration::from_secs(1) / max_fps.clamp(1, 60),
                        last_update: None,
                        cursor_serial: None,
                        cursor_pos: None,
                        sent,
                        preview,
                        preview_at: None,
                        preview_due: false,
                    };
                    run.run();
                })
                .map_err(|e| ShareError::Thread(e.to_string()))?
        };
        Ok(ShareWorker {
            shared,
            thread: Some(thread),
            stream,
            width,
            height,
            monitor: None,
            mask: None,
            sent,
            injector: None,
            can_ask_for_input: false,
        })
    }

    /// This share's stream id (the `id` field of its binary frames).
    pub fn stream(&self) -> u32 {
        self.stream
    }

    /// Size of the shared picture.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The shared monitor (real desktop only).
    pub fn monitor(&self) -> Option<MonitorInfo> {
        self.monitor
    }

    /// The app mask (app sharing only).
    pub fn mask(&self) -> Option<Arc<Mask>> {
        self.mask.clone()
    }

    /// The injector that came with the capture (once).
    pub fn take_injector(&mut self) -> Option<Result<DesktopInjector, DesktopError>> {
        self.injector.take()
    }

    /// Input needs a new share with the desktop's dialog (Wayland's
    /// RemoteDesktop portal, asked only once the customer allowed control).
    pub fn can_ask_for_input(&self) -> bool {
        self.can_ask_for_input
    }

    /// Updates started so far (screen and pointer).
    pub fn updates_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// The technician applied update `frame` (`frame_ack`).
    pub fn frame_acked(&self, frame: u64) {
        let mut p = self.shared.lock();
        p.acked = p.acked.max(frame);
        if p.in_flight.is_some_and(|n| n <= frame) {
            p.in_flight = None;
        }
        drop(p);
        self.shared.cond.notify_all();
    }

    /// The viewer lost updates (a cut) or is new: forget the update in
    /// flight and send a keyframe next.
    pub fn resync(&self) {
        let mut p = self.shared.lock();
        p.in_flight = None;
        p.resync = true;
        drop(p);
        self.shared.cond.notify_all();
    }

    /// The technician's decoder lost the stream (`keyframe_request`: a
    /// decode error, or updates missed across a reconnect). The next screen
    /// update is a keyframe of the current picture (the encoder is reset,
    /// as FORMAT.md asks). The console acknowledges the update that failed,
    /// but an update still in flight is not waited for: the technician
    /// cannot use it anyway.
    pub fn keyframe_requested(&self) {
        tracing::debug!(stream = self.stream, "the technician asked for a keyframe");
        self.resync();
    }

    /// Ends capture at once. When this returns the worker thread is gone:
    /// no further frame is produced.
    pub fn stop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.cond.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Pause (true) or resume sending: while paused nothing is sent; the
    /// resume starts with a keyframe (what was in flight may be lost).
    pub fn pause(&self, paused: bool) {
        let mut p = self.shared.lock();
        p.paused = paused;
        if !paused {
            p.in_flight = None;
            p.resync = true;
        }
        self.shared.cond.notify_all();
    }

    /// Whether the worker still runs (false after stop or a capture failure).
    #[cfg(test)]
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for ShareWorker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The worker thread's state.
struct Run<S: Source> {
    source: S,
    shared: Arc<Shared>,
    sender: mpsc::Sender<Vec<u8>>,
    stream: u32,
    encoder: Encoder,
    next_seq: u64,
    /// The last picture (for keyframes while the screen is still).
    last: Option<Picture>,
    min_interval: Duration,
    last_update: Option<Instant>,
    cursor_serial: Option<u32>,
    cursor_pos: Option<Option<(i32, i32)>>,
    sent: Arc<AtomicU64>,
    /// The customer's thumbnail of what left (`last`), and when it was
    /// last made.
    preview: Preview,
    preview_at: Option<Instant>,
    preview_due: bool,
}

enum Wait {
    Go,
    Stop,
}

impl<S: Source> Run<S> {
    fn run(&mut self) {
        loop {
            let resync = match self.wait_turn() {
                Wait::Stop => break,
                Wait::Go => std::mem::take(&mut self.shared.lock().resync),
            };
            if resync {
                self.encoder.reset();
                if let Some(pic) = self.last.take() {
                    if !self.send_picture(&pic, true) {
                        break;
                    }
                    self.last = Some(pic);
                    continue;
                }
            }
            // The pointer first (small, and what the technician follows),
            // once the first picture is out.
            match self.pointer_update() {
                Some(true) => continue,
                Some(false) => {}
                None => break,
            }
            if let Some(at) = self.last_update {
                let next = at + self.min_interval;
                let now = Instant::now();
                if now < next && !self.sleep_until(next) {
                    break;
                }
            }
            let wait = if self.last.is_none() {
                // Nothing sent yet: the first picture is due at once.
                Duration::from_millis(200)
            } else {
                CURSOR_POLL
            };
            match self.source.next_picture(wait) {
                Ok(Some(pic)) => {
                    let full = self.last.is_none();
                    if !self.send_picture(&pic, full) {
                        break;
                    }
                    self.last = Some(pic);
                    self.preview_due = true;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!("screen sharing stopped: {e}");
                    break;
                }
            }
            self.update_preview();
        }
        tracing::debug!(stream = self.stream, "share worker ended");
    }

    /// The customer's thumbnail follows what left, a few times a second.
    fn update_preview(&mut self) {
        if !self.preview_due
            || self
                .preview_at
                .is_some_and(|at| at.elapsed() < preview::EVERY)
        {
            return;
        }
        if let Some(pic) = &self.last {
            self.preview
                .put(pic.width, pic.height, pic.stride, &pic.data);
            self.preview_at = Some(Instant::now());
            self.preview_due = false;
        }
    }

    /// Wait until no update is in flight (or it timed out). Stop wins.
    fn wait_turn(&mut self) -> Wait {
        let mut p = self.shared.lock();
        let mut deadline: Option<Instant> = None;
        loop {
            if p.stopped {
                return Wait::Stop;
            }
            if p.paused {
                p = self
                    .shared
                    .cond
                    .wait(p)
                    .unwrap_or_else(PoisonError::into_inner);
                deadline = None;
                continue;
            }
            if p.in_flight.is_none() {
                return Wait::Go;
            }
            let now = Instant::now();
            let until = *deadline.get_or_insert(now + ACK_TIMEOUT);
            if now >= until {
                tracing::info!(
                    frame = p.in_flight,
                    "no frame_ack in time; sending a keyframe"
                );
                p.in_flight = None;
                p.resync = true;
                return Wait::Go;
            }
            p = self
                .shared
                .cond
                .wait_timeout(p, until - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Sleep until `t` unless stopped; false = stopped.
    fn sleep_until(&self, t: Instant) -> bool {
        let mut p = self.shared.lock();
        loop {
            if p.stopped {
                return false;
            }
            let now = Instant::now();
            if now >= t {
                return true;
            }
            p = self
                .shared
                .cond
                .wait_timeout(p, t - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Send a pointer update if the pointer changed. `Some(true)` = sent
    /// one, `Some(false)` = nothing to send, `None` = stopped.
    fn pointer_update(&mut self) -> Option<bool> {
        if self.last.is_none() {
            return Some(false);
        }
        let Some(p) = self.source.pointer() else {
            return Some(false);
        };
        if self.cursor_serial != Some(p.serial)
            && let Some(shape) = self.source.pointer_shape()
        {
            self.cursor_serial = Some(p.serial);
            let update = self.encoder.cursor_shape(
                shape.width,
                shape.height,
                shape.hot_x,
                shape.hot_y,
                &shape.rgba,
            );
            // The position follows in the next turn.
            self.cursor_pos = None;
            return self.send_update(&update).then_some(true);
        }
        if self.cursor_pos != Some(p.position) {
            self.cursor_pos = Some(p.position);
            let (x, y) = p.position.unwrap_or(HIDDEN);
            let update = self.encoder.cursor_position(x, y);
            return self.send_update(&update).then_some(true);
        }
        Some(false)
    }

    /// Encode and send a picture; false = stopped.
    fn send_picture(&mut self, pic: &Picture, full: bool) -> bool {
        let frame = lotse_codec::Frame {
            width: pic.width,
            height: pic.height,
            stride: pic.stride,
            bgra: &pic.data,
        };
        let update = if full || pic.damage.is_empty() {
            self.encoder.encode(&frame)
        } else {
            self.encoder.encode_damaged(&frame, &pic.damage)
        };
        match update {
            Some(update) => {
                self.last_update = Some(Instant::now());
                self.send_update(&update)
            }
            None => true,
        }
    }

    /// Send one update in pieces and mark it in flight; false = stopped.
    fn send_update(&mut self, update: &[u8]) -> bool {
        let seq = self.next_seq;
        self.next_seq += 1;
        {
            let mut p = self.shared.lock();
            if p.stopped {
                return false;
            }
            p.in_flight = Some(seq);
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        let pieces: Vec<&[u8]> = lotse_codec::split(update).collect();
        let count = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            let head = BinaryHeader {
                kind: BinaryKind::ScreenUpdate,
                flags: if i + 1 == count { FLAG_LAST } else { 0 },
                id: self.stream,
                session: 0,
                seq,
            };
            if !self.hand_over(head.frame(piece)) {
                return false;
            }
        }
        true
    }

    /// Put a frame into the bounded channel, waiting while it is full;
    /// false = stopped (or the receiver is gone).
    fn hand_over(&self, mut frame: Vec<u8>) -> bool {
        loop {
            if self.shared.lock().stopped {
                return false;
            }
            match self.sender.try_send(frame) {
                Ok(()) => return true,
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.shared.lock().stopped = true;
                    return false;
                }
                Err(mpsc::error::TrySendError::Full(back)) => {
                    frame = back;
                    if !self.sleep_until(Instant::now() + Duration::from_millis(2)) {
                        return false;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc as std_mpsc;

    /// Pictures and pointer samples a test pushes in.
    struct Script {
        pictures: std_mpsc::Receiver<Picture>,
        pointer: Arc<Mutex<Option<Pointer>>>,
    }

    impl Source for Script {
        fn next_picture(&mut self, timeout: Duration) -> Result<Option<Picture>, String> {
            match self.pictures.recv_timeout(timeout) {
                Ok(p) => Ok(Some(p)),
                Err(std_mpsc::RecvTimeoutError::Timeout) => Ok(None),
                Err(std_mpsc::RecvTimeoutError::Disconnected) => Err("script over".into()),
            }
        }
        fn pointer(&mut self) -> Option<Pointer> {
            self.pointer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }
        fn pointer_shape(&mut self) -> Option<PointerShape> {
            Some(PointerShape {
                width: 2,
                height: 2,
                hot_x: 0,
                hot_y: 0,
                rgba: vec![255; 16],
            })
        }
    }

    const W: u32 = 64;
    const H: u32 = 48;

    fn picture(colour: u8) -> Picture {
        Picture {
            width: W,
            height: H,
            stride: W as usize * 4,
            data: vec![colour; (W * H * 4) as usize],
            damage: Vec::new(),
        }
    }

    type Pictures = std_mpsc::SyncSender<Picture>;

    /// A running worker, its picture feed, its pointer and its frames.
    type Started = (
        ShareWorker,
        Pictures,
        Arc<Mutex<Option<Pointer>>>,
        mpsc::Receiver<Vec<u8>>,
    );

    fn worker() -> Started {
        worker_with(Preview::default())
    }

    fn worker_with(preview: Preview) -> Started {
        let (pic_tx, pic_rx) = std_mpsc::sync_channel(16);
        let pointer = Arc::new(Mutex::new(None));
        let (tx, rx) = mpsc::channel(8);
        let w = ShareWorker::with_source(
            Script {
                pictures: pic_rx,
                pointer: pointer.clone(),
            },
            W,
            H,
            tx,
            preview,
            60,
        )
        .expect("start");
        (w, pic_tx, pointer, rx)
    }

    /// The next whole update from the channel (pieces joined).
    fn next_update(rx: &mut mpsc::Receiver<Vec<u8>>) -> (BinaryHeader, Vec<u8>) {
        let mut whole = Vec::new();
        loop {
            let frame = rx.blocking_recv().expect("a frame");
            let (head, payload) = BinaryHeader::parse(&frame).expect("header");
            whole.extend_from_slice(payload);
            if head.is_last() {
                return (head, whole);
            }
        }
    }

    #[test]
    fn one_update_in_flight_until_acked_and_decodes() {
        let (w, pics, _pointer, mut rx) = worker();
        pics.send(picture(10)).expect("send");
        let (head, update) = next_update(&mut rx);
        assert_eq!(head.kind, BinaryKind::ScreenUpdate);
        assert_eq!(head.seq, 1);
        assert_eq!(head.id, w.stream());
        let mut dec = lotse_codec::Decoder::new();
        dec.apply(&update).expect("keyframe decodes");
        assert_eq!((dec.width(), dec.height()), (W, H));
        assert_eq!(&dec.rgba()[..4], &[10, 10, 10, 255]);

        // More pictures arrive, but nothing goes out before the ack.
        pics.send(picture(20)).expect("send");
        pics.send(picture(30)).expect("send");
        assert!(
            rx.try_recv().is_err(),
            "a second update went out without an ack"
        );
        assert_eq!(w.updates_sent(), 1);
        // A stale ack changes nothing.
        w.frame_acked(0);
        assert!(rx.try_recv().is_err());
        w.frame_acked(1);
        let (head, update) = next_update(&mut rx);
        assert_eq!(head.seq, 2);
        dec.apply(&update).expect("delta decodes");
        assert_eq!(&dec.rgba()[..4], &[20, 20, 20, 255]);
        assert!(rx.try_recv().is_err());
        w.frame_acked(2);
        let (head, update) = next_update(&mut rx);
        assert_eq!(head.seq, 3);
        dec.apply(&update).expect("delta decodes");
        assert_eq!(&dec.rgba()[..4], &[30, 30, 30, 255]);
    }

    /// Paused, nothing goes out; the resume starts with a keyframe of the
    /// newest picture.
    #[test]
    fn paused_sends_nothing_and_the_resume_sends_a_keyframe() {
        let (w, pics, _pointer, mut rx) = worker();
        pics.send(picture(10)).expect("send");
        next_update(&mut rx);
        w.pause(true);
        w.frame_acked(1);
        pics.send(picture(20)).expect("send");
        pics.send(picture(30)).expect("send");
        // Parked, the worker takes no picture: had it sent 20 as a delta
        // of 10, the fresh decoder below could not decode update 2.
        w.pause(false);
        let (head, update) = next_update(&mut rx);
        let mut dec = lotse_codec::Decoder::new();
        dec.apply(&update).expect("a keyframe decodes alone");
        assert_eq!(head.seq, 2);
        assert_eq!(
            &dec.rgba()[..4],
            &[10, 10, 10, 255],
            "the last picture again"
        );
    }

    /// The customer's thumbnail shows each picture that went out.
    #[test]
    fn the_thumbnail_follows_what_left() {
        let preview = Preview::default();
        let (woke_tx, woke) = std_mpsc::channel();
        preview.set_waker(Arc::new(move || {
            let _ = woke_tx.send(());
        }));
        let (w, pics, _pointer, mut rx) = worker_with(preview.clone());
        let shows = |colour: u8| {
            loop {
                woke.recv_timeout(Duration::from_secs(10))
                    .expect("a new thumbnail");
                let thumb = preview
                    .newer_than(0)
                    .and_then(|(_, t)| t)
                    .expect("a thumbnail");
                assert_eq!((thumb.width, thumb.height), (W, H), "small pictures stay");
                if thumb.rgba[..4] == [colour, colour, colour, 255] {
                    return;
                }
            }
        };
        pics.send(picture(10)).expect("send");
        next_update(&mut rx);
        shows(10);
        w.frame_acked(1);
        pics.send(picture(20)).expect("send");
        next_update(&mut rx);
        w.frame_acked(2);
        shows(20);
    }

    #[test]
    fn stop_ends_everything_at_once() {
        let (mut w, pics, _pointer, mut rx) = worker();
        pics.send(picture(1)).expect("send");
        let _ = next_update(&mut rx);
        w.frame_acked(1);
        pics.send(picture(2)).expect("send");
        w.stop();
        assert!(!w.is_running());
        // The thread (the only sender) is gone: whatever is still queued
        // is all there will ever be.
        let mut after = 0;
        while rx.blocking_recv().is_some() {
            after += 1;
        }
        assert!(after <= 1, "{after} frames after stop");
        // Pictures after the stop go nowhere.
        assert!(pics.send(picture(3)).is_err());
    }

    #[test]
    fn stop_while_waiting_for_ack_returns() {
        let (mut w, pics, _pointer, mut rx) = worker();
        pics.send(picture(1)).expect("send");
        let _ = next_update(&mut rx);
        // In flight, never acknowledged: stop must not hang.
        w.stop();
        assert!(rx.blocking_recv().is_none());
    }

    #[test]
    fn resync_sends_a_keyframe_of_the_still_screen() {
        let (w, pics, _pointer, mut rx) = worker();
        pics.send(picture(7)).expect("send");
        let _ = next_update(&mut rx);
        // The viewer lost it (a cut): without an ack, resync.
        w.resync();
        let (head, update) = next_update(&mut rx);
        assert_eq!(head.seq, 2);
        // A fresh decoder can start from it.
        let mut dec = lotse_codec::Decoder::new();
        dec.apply(&update).expect("keyframe");
        assert_eq!(&dec.rgba()[..4], &[7, 7, 7, 255]);
    }

    #[test]
    fn keyframe_request_restarts_the_stream_for_a_lost_decoder() {
        let (w, pics, _pointer, mut rx) = worker();
        let mut dec = lotse_codec::Decoder::new();
        pics.send(picture(3)).expect("send");
        let (h, key) = next_update(&mut rx);
        assert!(lotse_codec::is_keyframe(&key));
        dec.apply(&key).expect("keyframe");
        w.frame_acked(h.seq);
        pics.send(picture(4)).expect("send");
        let (h, delta) = next_update(&mut rx);
        assert!(!lotse_codec::is_keyframe(&delta));
        // The technician's decoder breaks on it (here: damaged bytes), acks
        // it and asks for a keyframe.
        assert!(dec.apply(&delta[..delta.len() - 1]).is_err());
        w.frame_acked(h.seq);
        w.keyframe_requested();
        let (h2, key) = next_update(&mut rx);
        assert_eq!(h2.seq, h.seq + 1);
        assert!(lotse_codec::is_keyframe(&key), "the answer is a keyframe");
        dec.apply(&key).expect("the lost decoder starts again");
        assert_eq!(&dec.rgba()[..4], &[4, 4, 4, 255], "the current picture");
        // And deltas follow from it.
        w.frame_acked(h2.seq);
        pics.send(picture(5)).expect("send");
        let (_, delta) = next_update(&mut rx);
        assert!(!lotse_codec::is_keyframe(&delta));
        dec.apply(&delta).expect("delta after the keyframe");
        assert!(dec.rgba().chunks(4).all(|p| p == [5, 5, 5, 255]));
    }

    #[test]
    fn pointer_shape_once_then_positions_and_hidden() {
        let (w, pics, pointer, mut rx) = worker();
        pics.send(picture(5)).expect("send");
        let (_, key) = next_update(&mut rx);
        let mut dec = lotse_codec::Decoder::new();
        dec.apply(&key).expect("keyframe");
        *pointer.lock().expect("lock") = Some(Pointer {
            position: Some((3, 4)),
            serial: 9,
        });
        w.frame_acked(1);
        let (h, shape) = next_update(&mut rx);
        dec.apply(&shape).expect("shape");
        w.frame_acked(h.seq);
        let (h, pos) = next_update(&mut rx);
        dec.apply(&pos).expect("position");
        let c = dec.cursor().expect("cursor");
        assert_eq!((c.x, c.y, c.width, c.height), (3, 4, 2, 2));
        // Same pointer: nothing more.
        w.frame_acked(h.seq);
        assert!(rx.try_recv().is_err());
        // Leaves the shared area: hidden far away, no new shape.
        *pointer.lock().expect("lock") = Some(Pointer {
            position: None,
            serial: 9,
        });
        let (_, hidden) = next_update(&mut rx);
        dec.apply(&hidden).expect("position");
        let c = dec.cursor().expect("cursor");
        assert_eq!((c.x, c.y), HIDDEN);
    }

    #[test]
    fn scope_names() {
        assert_eq!(
            ShareChoice::Screen { monitor: 1 }.scope(),
            ShareScope::Screen { monitor: 1 }
        );
        assert_eq!(
            ShareChoice::Apps {
                apps: vec!["XTerm".into()]
            }
            .scope(),
            ShareScope::Apps {
                apps: vec!["XTerm".into()]
            }
        );
    }
}
