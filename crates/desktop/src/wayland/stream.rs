//! The frames of a portal screen cast, read from PipeWire on the thread
//! `lotse-capture` and handed over the shared one-slot mailbox.
//!
//! * **Format:** 32-bit BGRx/BGRA (RGBx/RGBA are swapped into BGRA), in
//!   shared memory (MemFd/MemPtr): there is no GPU to read a DMA-BUF with,
//!   and the frame is copied once anyway.
//! * **Damage:** PipeWire's `VideoDamage` metadata says what changed; a
//!   frame without it counts as changed everywhere. The producer sends a
//!   buffer only when the screen changed, so an idle screen costs nothing.
//! * **Pointer:** with the portal's metadata cursor mode, the pointer's
//!   position and image come as `Cursor` metadata (see [`PointerState`]).
//! * **Stop:** a message over a PipeWire channel quits the loop; when the
//!   stream breaks or the desktop ends the session, the mailbox fails with
//!   the reason.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pipewire as pw;
use pw::spa;
use spa::param::ParamType;
use spa::param::format::{FormatProperties, MediaSubtype, MediaType};
use spa::param::video::{VideoFormat, VideoInfoRaw};
use spa::pod::{ChoiceValue, Object, Pod, Property, Value};
use spa::utils::{Choice, ChoiceEnum, ChoiceFlags, Fraction, Id, Rectangle, SpaTypes};

use crate::DesktopError;
use crate::frame::{Frame, FrameNotify, MAX_DAMAGE_RECTS, Slot, bounding_box, simplify_damage};
use crate::geom::Rect;
use crate::pointer::CursorImage;

/// How long the stream may take to agree on a format.
const NEGOTIATE_TIMEOUT: Duration = Duration::from_secs(15);
/// Damage rectangles asked for per buffer.
const DAMAGE_RECTS: i32 = 16;
/// The largest pointer image taken from metadata.
const MAX_CURSOR: u32 = 256;

/// The pointer as the cursor metadata last described it.
#[derive(Debug, Default, Clone)]
pub struct PointerState {
    /// Position in stream pixels; `None` before the first report.
    pub position: Option<(i32, i32)>,
    /// The newest image (its serial changes with it).
    pub image: Option<CursorImage>,
}

/// A running PipeWire stream.
pub struct PipeWireStream {
    slot: Arc<Slot>,
    stop: Option<pw::channel::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    produced: Arc<AtomicU64>,
    pointer: Arc<Mutex<PointerState>>,
    size: (u32, u32),
}

impl std::fmt::Debug for PipeWireStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeWireStream")
            .field("size", &self.size)
            .field("produced", &self.produced.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// What the loop thread shares with its callbacks.
struct Shared {
    slot: Arc<Slot>,
    produced: Arc<AtomicU64>,
    pointer: Arc<Mutex<PointerState>>,
    notify: Option<FrameNotify>,
    origin: (i32, i32),
    format: Option<VideoInfoRaw>,
    /// Reports the negotiated size (once).
    negotiated: Option<std::sync::mpsc::SyncSender<Result<(u32, u32), String>>>,
    /// Set by the portal when the desktop ended the session.
    closed: Arc<AtomicBool>,
    min_interval: Duration,
    last: Option<Instant>,
    /// Damage of frames skipped by the rate cap, merged into the next.
    pending: Vec<Rect>,
    first: bool,
}

impl PipeWireStream {
    /// Connects to `node` over the portal's PipeWire socket `fd` and waits
    /// until a format was agreed. `origin` is the stream's place in the
    /// desktop; `closed` is the portal session's end flag.
    pub fn start(
        fd: OwnedFd,
        node: u32,
        origin: (i32, i32),
        max_fps: u32,
        notify: Option<FrameNotify>,
        closed: Arc<AtomicBool>,
    ) -> Result<PipeWireStream, DesktopError> {
        let max_fps = max_fps.clamp(1, crate::capture_config::MAX_FPS);
        let slot = Arc::new(Slot::default());
        let produced = Arc::new(AtomicU64::new(0));
        let pointer = Arc::new(Mutex::new(PointerState::default()));
        let (stop_tx, stop_rx) = pw::channel::channel::<()>();
        let (neg_tx, neg_rx) = std::sync::mpsc::sync_channel(1);
        let shared = Shared {
            slot: slot.clone(),
            produced: produced.clone(),
            pointer: pointer.clone(),
            notify,
            origin,
            format: None,
            negotiated: Some(neg_tx.clone()),
            closed,
            min_interval: Duration::from_secs(1) / max_fps,
            last: None,
            pending: Vec::new(),
            first: true,
        };
        let fail_slot = slot.clone();
        let thread = std::thread::Builder::new()
            .name("lotse-capture".into())
            .spawn(move || {
                if let Err(e) = run(fd, node, max_fps, shared, stop_rx) {
                    let _ = neg_tx.send(Err(e.clone()));
                    fail_slot.fail(e);
                }
            })
            .map_err(|e| DesktopError::Thread(e.to_string()))?;
        let mut stream = PipeWireStream {
            slot,
            stop: Some(stop_tx),
            thread: Some(thread),
            produced,
            pointer,
            size: (0, 0),
        };
        match neg_rx.recv_timeout(NEGOTIATE_TIMEOUT) {
            Ok(Ok(size)) => {
                stream.size = size;
                Ok(stream)
            }
            Ok(Err(e)) => Err(DesktopError::Capture(e)),
            Err(_) => Err(DesktopError::Capture(format!(
                "PipeWire agreed on no picture format within {} s",
                NEGOTIATE_TIMEOUT.as_secs()
            ))),
        }
    }

    /// The picture's size in pixels.
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    pub(crate) fn slot(&self) -> &Slot {
        &self.slot
    }

    pub fn frames_produced(&self) -> u64 {
        self.produced.load(Ordering::Relaxed)
    }

    /// A handle to the pointer state, for a tracker on another thread.
    pub fn pointer_handle(&self) -> Arc<Mutex<PointerState>> {
        self.pointer.clone()
    }

    /// Stops the stream: when this returns, no frame is delivered any more.
    pub fn stop(&mut self) {
        self.slot.stop();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for PipeWireStream {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The formats we take, best first.
fn enum_format(max_fps: u32) -> Object {
    let formats = [
        Id(VideoFormat::BGRx.as_raw()),
        Id(VideoFormat::BGRx.as_raw()),
        Id(VideoFormat::BGRA.as_raw()),
        Id(VideoFormat::RGBx.as_raw()),
        Id(VideoFormat::RGBA.as_raw()),
    ];
    Object {
        type_: SpaTypes::ObjectParamFormat.as_raw(),
        id: ParamType::EnumFormat.as_raw(),
        properties: vec![
            Property::new(
                FormatProperties::MediaType.as_raw(),
                Value::Id(Id(MediaType::Video.as_raw())),
            ),
            Property::new(
                FormatProperties::MediaSubtype.as_raw(),
                Value::Id(Id(MediaSubtype::Raw.as_raw())),
            ),
            Property::new(
                FormatProperties::VideoFormat.as_raw(),
                Value::Choice(ChoiceValue::Id(Choice(
                    ChoiceFlags::empty(),
                    ChoiceEnum::Enum {
                        default: formats[0],
                        alternatives: formats[1..].to_vec(),
                    },
                ))),
            ),
            Property::new(
                FormatProperties::VideoSize.as_raw(),
                Value::Choice(ChoiceValue::Rectangle(Choice(
                    ChoiceFlags::empty(),
                    ChoiceEnum::Range {
                        default: Rectangle {
                            width: 1280,
                            height: 800,
                        },
                        min: Rectangle {
                            width: 1,
                            height: 1,
                        },
                        max: Rectangle {
                            width: 16384,
                            height: 16384,
                        },
                    },
                ))),
            ),
            Property::new(
                FormatProperties::VideoFramerate.as_raw(),
                Value::Choice(ChoiceValue::Fraction(Choice(
                    ChoiceFlags::empty(),
                    ChoiceEnum::Range {
                        default: Fraction {
                            num: max_fps,
                            denom: 1,
                        },
                        min: Fraction { num: 0, denom: 1 },
                        max: Fraction {
                            num: 1000,
                            denom: 1,
                        },
                    },
                ))),
            ),
        ],
    }
}

fn meta_param(kind: u32, size: i32) -> Object {
    Object {
        type_: SpaTypes::ObjectParamMeta.as_raw(),
        id: ParamType::Meta.as_raw(),
        properties: vec![
            Property::new(spa::sys::SPA_PARAM_META_type, Value::Id(Id(kind))),
            Property::new(spa::sys::SPA_PARAM_META_size, Value::Int(size)),
        ],
    }
}

/// Shared memory only (see the module docs).
fn buffers_param() -> Object {
    let types = (1i32 << spa::sys::SPA_DATA_MemFd) | (1i32 << spa::sys::SPA_DATA_MemPtr);
    Object {
        type_: SpaTypes::ObjectParamBuffers.as_raw(),
        id: ParamType::Buffers.as_raw(),
        properties: vec![Property::new(
            spa::sys::SPA_PARAM_BUFFERS_dataType,
            Value::Choice(ChoiceValue::Int(Choice(
                ChoiceFlags::empty(),
                ChoiceEnum::Flags {
                    default: types,
                    flags: vec![types],
                },
            ))),
        )],
    }
}

fn serialize(obj: Object) -> Result<Vec<u8>, String> {
    spa::pod::serialize::PodSerializer::serialize(
        std::io::Cursor::new(Vec::new()),
        &Value::Object(obj),
    )
    .map(|(c, _)| c.into_inner())
    .map_err(|e| format!("cannot build a PipeWire parameter: {e:?}"))
}

fn run(
    fd: OwnedFd,
    node: u32,
    max_fps: u32,
    shared: Shared,
    stop: pw::channel::Receiver<()>,
) -> Result<(), String> {
    pw::init();
    fn err(what: &'static str) -> impl Fn(pw::Error) -> String {
        move |e| format!("PipeWire {what}: {e}")
    }
    let mainloop = pw::main_loop::MainLoopRc::new(None).map_err(err("main loop"))?;
    let context = pw::context::ContextRc::new(&mainloop, None).map_err(err("context"))?;
    let core = context.connect_fd_rc(fd, None).map_err(err("connect"))?;
    let stream = pw::stream::StreamBox::new(
        &core,
        "lotse-screen",
        pw::properties::properties! {
            *pw::keys::MEDIA_TYPE => "Video",
            *pw::keys::MEDIA_CATEGORY => "Capture",
            *pw::keys::MEDIA_ROLE => "Screen",
        },
    )
    .map_err(err("stream"))?;
    let _listener = stream
        .add_local_listener_with_user_data(shared)
        .state_changed(|_, s, _old, new| {
            use pw::stream::StreamState;
            match new {
                StreamState::Error(e) => {
                    let why = format!("the screen stream failed: {e}");
                    if let Some(tx) = s.negotiated.take() {
                        let _ = tx.send(Err(why.clone()));
                    }
                    s.slot.fail(why);
                }
                StreamState::Unconnected => {
                    let why = if s.closed.load(Ordering::Acquire) {
                        "the desktop ended the screen sharing".to_owned()
                    } else {
                        "the screen stream ended".to_owned()
                    };
                    if let Some(tx) = s.negotiated.take() {
                        let _ = tx.send(Err(why.clone()));
                    }
                    s.slot.fail(why);
                }
                _ => {}
            }
        })
        .param_changed(|stream, s, id, param| {
            let Some(param) = param else { return };
            if id != ParamType::Format.as_raw() {
                return;
            }
            let mut info = VideoInfoRaw::default();
            if info.parse(param).is_err() {
                return;
            }
            let size = info.size();
            tracing::info!(
                format = ?info.format(),
                width = size.width,
                height = size.height,
                "PipeWire screen stream format"
            );
            s.format = Some(info);
            s.first = true;
            // Ask for damage and pointer metadata, and shared memory.
            let cursor_size = 48 + (MAX_CURSOR * MAX_CURSOR * 4) as i32;
            let params = [
                serialize(meta_param(
                    spa::sys::SPA_META_VideoDamage,
                    DAMAGE_RECTS * std::mem::size_of::<spa::sys::spa_meta_region>() as i32,
                )),
                serialize(meta_param(spa::sys::SPA_META_Cursor, cursor_size)),
                serialize(buffers_param()),
            ];
            let bytes: Vec<Vec<u8>> = params.into_iter().filter_map(Result::ok).collect();
            let mut pods: Vec<&Pod> = bytes.iter().filter_map(|b| Pod::from_bytes(b)).collect();
            if let Err(e) = stream.update_params(&mut pods) {
                tracing::warn!("PipeWire refused our buffer parameters: {e}");
            }
            if let Some(tx) = s.negotiated.take() {
                let _ = tx.send(Ok((size.width, size.height)));
            }
        })
        .process(|stream, s| {
            // Take the newest buffer; older queued ones are outdated.
            let mut newest = None;
            while let Some(b) = stream.dequeue_buffer() {
                newest = Some(b);
            }
            if let Some(mut buffer) = newest {
                on_buffer(&mut buffer, s);
            }
        })
        .register()
        .map_err(err("listener"))?;

    let format = serialize(enum_format(max_fps))?;
    let mut params = [Pod::from_bytes(&format).ok_or("bad format parameter")?];
    stream
        .connect(
            spa::utils::Direction::Input,
            Some(node),
            pw::stream::StreamFlags::AUTOCONNECT | pw::stream::StreamFlags::MAP_BUFFERS,
            &mut params,
        )
        .map_err(err("connect stream"))?;

    let weak = mainloop.downgrade();
    let _stop = stop.attach(mainloop.loop_(), move |()| {
        if let Some(l) = weak.upgrade() {
            l.quit();
        }
    });
    mainloop.run();
    let _ = stream.disconnect();
    Ok(())
}

/// Copies one buffer into a frame and delivers it (respecting the rate cap).
fn on_buffer(buffer: &mut pw::buffer::Buffer<'_>, s: &mut Shared) {
    let Some(info) = s.format else { return };
    read_cursor(buffer, s);
    let damage = read_damage(buffer);
    let size = info.size();
    let (w, h) = (size.width, size.height);
    let swap = matches!(info.format(), VideoFormat::RGBx | VideoFormat::RGBA);
    let datas = buffer.datas_mut();
    let Some(data) = datas.first_mut() else {
        return;
    };
    let chunk = data.chunk();
    let (offset, chunk_size) = (chunk.offset() as usize, chunk.size() as usize);
    tracing::debug!(
        "DBGBUF size={chunk_size} off={offset} stride={} type={:?}",
        chunk.stride(),
        data.type_()
    );
    let stride = match usize::try_from(chunk.stride()) {
        Ok(s) if s >= w as usize * 4 => s,
        _ => w as usize * 4,
    };
    if chunk_size == 0 {
        // A buffer with only metadata (the pointer moved).
        return;
    }
    let Some(bytes) = data.data() else { return };
    let row = w as usize * 4;
    let need = offset + stride * (h as usize - 1) + row;
    if h == 0 || bytes.len() < need {
        tracing::debug!(len = bytes.len(), need, "short PipeWire buffer skipped");
        return;
    }
    let mut damage = match damage {
        Some(d) if !s.first => d,
        _ => vec![Rect::new(0, 0, w, h)],
    };
    s.first = false;
    // Rate cap: a frame inside the interval is skipped, its damage kept.
    let now = Instant::now();
    if let Some(last) = s.last
        && now.duration_since(last) < s.min_interval
    {
        s.pending.extend(damage);
        return;
    }
    damage.append(&mut s.pending);
    let mut pixels = vec![0u8; row * h as usize];
    for (y, out) in pixels.chunks_exact_mut(row).enumerate() {
        let start = offset + y * stride;
        out.copy_from_slice(&bytes[start..start + row]);
        if swap {
            for px in out.chunks_exact_mut(4) {
                px.swap(0, 2);
            }
        }
    }
    let mut damage = simplify_damage(damage);
    if damage.len() > MAX_DAMAGE_RECTS {
        damage = vec![bounding_box(&damage)];
    }
    let number = s.produced.fetch_add(1, Ordering::Relaxed) + 1;
    s.last = Some(now);
    let frame = Frame {
        number,
        width: w,
        height: h,
        stride: row,
        origin: s.origin,
        data: pixels,
        damage,
    };
    if s.slot.deliver(frame)
        && let Some(n) = &s.notify
    {
        n();
    }
}

/// The changed rectangles, `None` when the buffer says nothing (then all
/// of it counts as changed).
fn read_damage(buffer: &pw::buffer::Buffer<'_>) -> Option<Vec<Rect>> {
    let meta = buffer.find_meta::<spa::buffer::meta::MetaVideoDamage>()?;
    let mut out = Vec::new();
    for r in meta.iter() {
        if !r.is_valid() {
            break;
        }
        let (p, sz) = (r.position(), r.size());
        out.push(Rect::new(p.x, p.y, sz.width, sz.height));
    }
    // No valid region: the producer does not track damage.
    (!out.is_empty()).then_some(out)
}

fn read_cursor(buffer: &pw::buffer::Buffer<'_>, s: &mut Shared) {
    let Some(cursor) = buffer.find_meta::<spa::buffer::meta::MetaCursor>() else {
        return;
    };
    if !cursor.is_valid() {
        return;
    }
    let mut state = s.pointer.lock().unwrap_or_else(PoisonError::into_inner);
    let pos = cursor.position();
    let hot = cursor.hotspot();
    state.position = Some((pos.x, pos.y));
    let Some(bitmap) = cursor.bitmap() else {
        return;
    };
    let size = bitmap.size();
    let (w, h) = (size.width, size.height);
    if w == 0 || h == 0 || w > MAX_CURSOR || h > MAX_CURSOR {
        return;
    }
    let Some(data) = bitmap.bitmap_data() else {
        return;
    };
    let stride = usize::try_from(bitmap.stride())
        .unwrap_or(0)
        .max(w as usize * 4);
    let swap = matches!(bitmap.format(), VideoFormat::BGRA | VideoFormat::BGRx);
    let mut rgba = Vec::with_capacity((w * h * 4) as usize);
    for y in 0..h as usize {
        let Some(row) = data.get(y * stride..y * stride + w as usize * 4) else {
            return;
        };
        for px in row.chunks_exact(4) {
            if swap {
                rgba.extend_from_slice(&[px[2], px[1], px[0], px[3]]);
            } else {
                rgba.extend_from_slice(px);
            }
        }
    }
    let serial = state.image.as_ref().map_or(1, |i| i.serial.wrapping_add(1));
    state.image = Some(CursorImage {
        serial,
        width: w,
        height: h,
        hot_x: u32::try_from(hot.x).unwrap_or(0),
        hot_y: u32::try_from(hot.y).unwrap_or(0),
        rgba,
    });
}
