//! Input through the portal's ConnectToEIS (GNOME 46+): the libei
//! protocol, spoken by `reis`, as a *sender* client.
//!
//! A reader thread owns the protocol state: it answers the server's pings,
//! follows devices being added, resumed, paused and removed, and the
//! keyboard's active layout, and records all of that in [`Shared`]. The
//! injector itself only writes requests through the devices' handles (the
//! connection serialises writes internally).
//!
//! Each `apply` is one batch: a device starts emulating at its first
//! event, every event is followed by a `frame` (as a physical device
//! reports each change), and at the end of the batch a device stops
//! emulating unless one of its keys or buttons is still held.
//!
//! Text is typed with the keymap the EIS keyboard announces (the
//! customer's layout, see `keymap`): Shift or AltGr are pressed around a
//! key that needs them; a character the layout cannot type is an error and
//! nothing of that text is typed.

use std::collections::HashSet;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lotse_protocol::{InputEvent, MouseButton};
use reis::ei;
use reis::event::{DeviceCapability, EiEvent, EiEventConverter};
use reis::handshake::EiHandshaker;

use crate::DesktopError;
use crate::input::Injector;
use crate::wayland::keymap::{Keymap, Stroke};

// Evdev button codes.
const BTN_LEFT: u32 = 0x110;
const BTN_RIGHT: u32 = 0x111;
const BTN_MIDDLE: u32 = 0x112;

/// How long the handshake and the devices' arrival may take. Mutter
/// answers in milliseconds; a stuck server must not hang the session.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the reader thread learned, for the injector.
#[derive(Default)]
struct Shared {
    devices: Vec<Dev>,
    /// The connection after the handshake (serials, flushing).
    connection: Option<reis::event::Connection>,
    /// The server answered our sync after binding: every device it
    /// created for the bind has been announced.
    synced: bool,
    /// The keyboard's active layout (group).
    group: u32,
    /// Why the connection ended, when it did.
    ended: Option<String>,
}

struct Dev {
    dev: reis::event::Device,
    resumed: bool,
}

impl Shared {
    /// A resumed device with `cap`, preferring one that also has `also`.
    fn device(
        &self,
        cap: DeviceCapability,
        also: Option<DeviceCapability>,
    ) -> Option<reis::event::Device> {
        let ok = self
            .devices
            .iter()
            .filter(|d| d.resumed && d.dev.has_capability(cap));
        also.and_then(|a| ok.clone().find(|d| d.dev.has_capability(a)))
            .or_else(|| ok.clone().next())
            .map(|d| d.dev.clone())
    }

    fn ready(&self) -> bool {
        self.synced && !self.devices.is_empty() && self.devices.iter().all(|d| d.resumed)
    }
}

type SharedRef = Arc<(Mutex<Shared>, Condvar)>;

fn lock(shared: &SharedRef) -> MutexGuard<'_, Shared> {
    // A panic in the reader cannot leave the state half-updated in a
    // harmful way: take it as it is.
    shared.0.lock().unwrap_or_else(|p| p.into_inner())
}

fn input_err(what: impl std::fmt::Display) -> DesktopError {
    DesktopError::Input(format!("EIS: {what}"))
}

/// Input through an EIS connection (the portal's ConnectToEIS).
pub struct EisInjector {
    shared: SharedRef,
    connection: reis::event::Connection,
    /// Dropping this end stops the reader thread.
    stop: Option<UnixStream>,
    reader: Option<JoinHandle<()>>,
    /// The keymap of the keyboard device it came from, read at its first
    /// key (a new keyboard device, e.g. after a layout change, brings a
    /// new keymap).
    keymap: Option<(reis::event::Device, Keymap)>,
    /// Devices between start_emulating and stop_emulating.
    emulating: HashSet<reis::event::Device>,
    sequence: u32,
    keys_down: HashSet<u32>,
    buttons_down: HashSet<u32>,
    pos: (i32, i32),
}

impl std::fmt::Debug for EisInjector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = lock(&self.shared);
        f.debug_struct("EisInjector")
            .field(
                "devices",
                &s.devices.iter().map(|d| &d.dev).collect::<Vec<_>>(),
            )
            .field("pointer", &self.pos)
            .finish_non_exhaustive()
    }
}

impl EisInjector {
    /// Speaks EI over `fd` (from the portal's `ConnectToEIS`), binds
    /// absolute pointer, buttons, scroll and keyboard, and returns once
    /// the server's devices are resumed (at most [`SETUP_TIMEOUT`]).
    pub fn new(fd: OwnedFd) -> Result<EisInjector, DesktopError> {
        let stream = UnixStream::from(fd);
        let context = ei::Context::new(stream).map_err(input_err)?;
        let shared: SharedRef = Arc::default();
        let (stop, wake) = UnixStream::pair().map_err(|e| DesktopError::Thread(e.to_string()))?;
        let reader = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("lotse-eis".into())
                .spawn(move || {
                    let why = match read_loop(&context, &shared, &wake) {
                        Ok(()) => "closed".to_string(),
                        Err(e) => e,
                    };
                    tracing::info!("EIS connection ended: {why}");
                    lock(&shared).ended = Some(why);
                    shared.1.notify_all();
                })
                .map_err(|e| DesktopError::Thread(e.to_string()))?
        };
        let mut inj = EisInjectorSetup {
            stop: Some(stop),
            reader: Some(reader),
        };
        // Wait, on the reader's notifications, until the devices are ready.
        let deadline = Instant::now() + SETUP_TIMEOUT;
        let connection = {
            let mut s = lock(&shared);
            loop {
                if let Some(why) = &s.ended {
                    return Err(input_err(format!("the server ended the connection: {why}")));
                }
                if s.ready()
                    && let Some(c) = &s.connection
                {
                    break c.clone();
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(input_err(format!(
                        "no resumed devices after {} s (handshake {}, {} devices, {} resumed)",
                        SETUP_TIMEOUT.as_secs(),
                        if s.connection.is_some() {
                            "done"
                        } else {
                            "pending"
                        },
                        s.devices.len(),
                        s.devices.iter().filter(|d| d.resumed).count()
                    )));
                }
                s = shared
                    .1
                    .wait_timeout(s, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        };
        Ok(EisInjector {
            shared,
            connection,
            stop: inj.stop.take(),
            reader: inj.reader.take(),
            keymap: None,
            emulating: HashSet::new(),
            sequence: 0,
            keys_down: HashSet::new(),
            buttons_down: HashSet::new(),
            pos: (0, 0),
        })
    }

    /// The devices the server gave us (name and capabilities), for logs.
    pub fn describe(&self) -> String {
        let s = lock(&self.shared);
        s.devices
            .iter()
            .map(|d| {
                let caps: Vec<&str> = [
                    (DeviceCapability::PointerAbsolute, "abs"),
                    (DeviceCapability::Pointer, "rel"),
                    (DeviceCapability::Button, "button"),
                    (DeviceCapability::Scroll, "scroll"),
                    (DeviceCapability::Keyboard, "keyboard"),
                ]
                .into_iter()
                .filter(|(c, _)| d.dev.has_capability(*c))
                .map(|(_, n)| n)
                .collect();
                let regions: Vec<String> = d
                    .dev
                    .regions()
                    .iter()
                    .map(|r| format!("{}x{}+{}+{}@{}", r.width, r.height, r.x, r.y, r.scale))
                    .collect();
                format!(
                    "{:?} [{}] {}",
                    d.dev.name().unwrap_or("?"),
                    caps.join(","),
                    regions.join(" ")
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A resumed device with `cap` (and `also` if one has it), and the
    /// server's last serial.
    fn device(
        &self,
        cap: DeviceCapability,
        also: Option<DeviceCapability>,
    ) -> Result<(reis::event::Device, u32), DesktopError> {
        let s = lock(&self.shared);
        if let Some(why) = &s.ended {
            return Err(input_err(format!("the connection ended: {why}")));
        }
        let dev = s.device(cap, also).ok_or_else(|| {
            input_err(format!(
                "no resumed device with {cap:?} (the desktop paused input or did not allow it)"
            ))
        })?;
        Ok((dev, self.connection.serial()))
    }

    /// Sends one event on a device and ends it with a frame, after
    /// start_emulating if the device is not emulating yet.
    fn batch(
        &mut self,
        dev: &reis::event::Device,
        serial: u32,
        send: impl FnOnce(&reis::event::Device),
    ) -> Result<(), DesktopError> {
        if !self.emulating.contains(dev) {
            self.sequence = self.sequence.wrapping_add(1);
            dev.device().start_emulating(serial, self.sequence);
            self.emulating.insert(dev.clone());
        }
        send(dev);
        dev.device().frame(serial, now_micros());
        Ok(())
    }

    /// Ends a batch (one `apply`): devices with nothing held stop
    /// emulating; then everything is sent.
    fn finish(&mut self) -> Result<(), DesktopError> {
        let serial = self.connection.serial();
        // A device the server removed or paused meanwhile takes no more
        // requests (a pause ends the emulation by itself).
        {
            let s = lock(&self.shared);
            self.emulating
                .retain(|d| s.devices.iter().any(|x| x.dev == *d && x.resumed));
        }
        let held = |d: &reis::event::Device, s: &Self| {
            (d.has_capability(DeviceCapability::Keyboard) && !s.keys_down.is_empty())
                || (d.has_capability(DeviceCapability::Button) && !s.buttons_down.is_empty())
        };
        let idle: Vec<reis::event::Device> = self
            .emulating
            .iter()
            .filter(|d| !held(d, self))
            .cloned()
            .collect();
        for d in idle {
            d.device().stop_emulating(serial);
            self.emulating.remove(&d);
        }
        self.connection.flush().map_err(input_err)
    }

    /// The keymap of the current keyboard and its active layout.
    fn keyboard(&mut self) -> Result<(reis::event::Device, u32, u32), DesktopError> {
        let (dev, serial) = self.device(DeviceCapability::Keyboard, None)?;
        let stale = self.keymap.as_ref().is_none_or(|(d, _)| *d != dev);
        if stale {
            let km = dev
                .keymap()
                .ok_or_else(|| input_err("the keyboard has no keymap"))?;
            if km.type_ != ei::keyboard::KeymapType::Xkb {
                return Err(input_err("the keyboard's keymap is not an XKB keymap"));
            }
            let fd = km.fd.try_clone().map_err(input_err)?;
            let parsed = Keymap::from_fd(fd, km.size as usize)?;
            self.keymap = Some((dev.clone(), parsed));
        }
        let group = lock(&self.shared).group;
        Ok((dev, serial, group))
    }

    /// Presses or releases one key (frames each, like a real keyboard).
    fn key(
        &mut self,
        dev: &reis::event::Device,
        serial: u32,
        code: u32,
        down: bool,
    ) -> Result<(), DesktopError> {
        if down {
            self.keys_down.insert(code);
        } else {
            self.keys_down.remove(&code);
        }
        let kbd: ei::Keyboard = dev
            .interface()
            .ok_or_else(|| input_err("the keyboard device lost its keyboard"))?;
        let state = if down {
            ei::keyboard::KeyState::Press
        } else {
            ei::keyboard::KeyState::Released
        };
        self.batch(dev, serial, |_| kbd.key(code, state))
    }

    /// Types one stroke: its modifiers down, the key, modifiers up.
    fn stroke(
        &mut self,
        dev: &reis::event::Device,
        serial: u32,
        s: &Stroke,
    ) -> Result<(), DesktopError> {
        // Modifiers the technician already holds stay as they are.
        let extra: Vec<u32> = s
            .mods
            .iter()
            .copied()
            .filter(|m| !self.keys_down.contains(m))
            .collect();
        for m in &extra {
            self.key(dev, serial, *m, true)?;
        }
        self.key(dev, serial, s.key, true)?;
        self.key(dev, serial, s.key, false)?;
        for m in extra.iter().rev() {
            self.key(dev, serial, *m, false)?;
        }
        Ok(())
    }

    /// Maps root pixels to the device's logical coordinates: each region
    /// is a monitor with its logical offset; its physical pixels (what
    /// frames show) start at that offset and are `scale` times as many.
    fn to_logical(dev: &reis::event::Device, x: i32, y: i32) -> Result<(f32, f32), DesktopError> {
        let regions = dev.regions();
        let inside = |r: &reis::event::Region| {
            let s = if r.scale > 0.0 { r.scale } else { 1.0 };
            let (rx, ry) = (r.x as f32, r.y as f32);
            let (fx, fy) = (x as f32, y as f32);
            fx >= rx && fy >= ry && fx < rx + r.width as f32 * s && fy < ry + r.height as f32 * s
        };
        let r = if regions.len() == 1 {
            &regions[0]
        } else {
            regions.iter().find(|r| inside(r)).ok_or_else(|| {
                input_err(format!("({x}, {y}) is on none of the pointer's regions"))
            })?
        };
        let s = if r.scale > 0.0 { r.scale } else { 1.0 };
        let (w, h) = (r.width as f32, r.height as f32);
        // Clamp into the region: the server drops points outside it.
        let lx = (r.x as f32 + (x as f32 - r.x as f32) / s).clamp(r.x as f32, r.x as f32 + w - 1.0);
        let ly = (r.y as f32 + (y as f32 - r.y as f32) / s).clamp(r.y as f32, r.y as f32 + h - 1.0);
        Ok((lx, ly))
    }
}

/// Holds the reader while `new` waits, so an early return stops it.
struct EisInjectorSetup {
    stop: Option<UnixStream>,
    reader: Option<JoinHandle<()>>,
}

impl Drop for EisInjectorSetup {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.reader.take() {
            let _ = t.join();
        }
    }
}

fn now_micros() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1000
}

/// Reads what the server sends: first the handshake, then events, until
/// the connection ends or `wake` says stop.
fn read_loop(context: &ei::Context, shared: &SharedRef, wake: &UnixStream) -> Result<(), String> {
    let fd = context.as_raw_fd();
    let mut handshaker = EiHandshaker::new("lotse", ei::handshake::ContextType::Sender);
    let resp = 'handshake: loop {
        if !super::wait_readable(fd, wake).map_err(|e| format!("poll: {e}"))? {
            return Ok(());
        }
        context.read().map_err(|e| format!("read: {e}"))?;
        while let Some(ev) = context.pending_event() {
            let ev = match ev {
                reis::PendingRequestResult::Request(ev) => ev,
                reis::PendingRequestResult::ParseError(e) => return Err(format!("parse: {e}")),
                reis::PendingRequestResult::InvalidObject(_) => continue,
            };
            if let Some(resp) = handshaker.handle_event(ev).map_err(|e| e.to_string())? {
                break 'handshake resp;
            }
        }
    };
    let mut converter = EiEventConverter::new(context, resp);
    // Ask the server to tell us when it has handled our bind (and so
    // announced the devices it makes for it).
    let synced = Arc::new(std::sync::atomic::AtomicBool::new(false));
    lock(shared).connection = Some(converter.connection().clone());
    loop {
        // Events already read first: the handshake's read may hold more.
        while let Some(ev) = context.pending_event() {
            let ev = match ev {
                reis::PendingRequestResult::Request(ev) => ev,
                reis::PendingRequestResult::ParseError(e) => return Err(format!("parse: {e}")),
                reis::PendingRequestResult::InvalidObject(_) => continue,
            };
            converter.handle_event(ev).map_err(|e| e.to_string())?;
        }
        while let Some(ev) = converter.next_event() {
            if let EiEvent::SeatAdded(seat) = &ev {
                seat.seat.bind_capabilities(
                    DeviceCapability::PointerAbsolute
                        | DeviceCapability::Button
                        | DeviceCapability::Scroll
                        | DeviceCapability::Keyboard,
                );
                let cb = converter.connection().connection().sync(1);
                let flag = synced.clone();
                converter.add_callback_handler(cb, move |_| {
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                });
                let _ = converter.connection().flush();
            }
            if let Some(end) = handle(shared, ev) {
                return Err(end);
            }
        }
        if synced.load(std::sync::atomic::Ordering::SeqCst) {
            let mut s = lock(shared);
            if !s.synced {
                s.synced = true;
                shared.1.notify_all();
            }
        }
        if !super::wait_readable(fd, wake).map_err(|e| format!("poll: {e}"))? {
            return Ok(());
        }
        match context.read() {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

/// Records one event; `Some(reason)` when the connection is over.
fn handle(shared: &SharedRef, ev: EiEvent) -> Option<String> {
    let mut s = lock(shared);
    match ev {
        EiEvent::DeviceAdded(a) => s.devices.push(Dev {
            dev: a.device,
            resumed: false,
        }),
        EiEvent::DeviceResumed(r) => {
            if let Some(d) = s.devices.iter_mut().find(|d| d.dev == r.device) {
                d.resumed = true;
            }
        }
        EiEvent::DevicePaused(p) => {
            if let Some(d) = s.devices.iter_mut().find(|d| d.dev == p.device) {
                d.resumed = false;
            }
        }
        EiEvent::DeviceRemoved(r) => s.devices.retain(|d| d.dev != r.device),
        EiEvent::KeyboardModifiers(m) => s.group = m.group,
        EiEvent::Disconnected(d) => {
            return Some(format!(
                "disconnected by the server ({:?}{})",
                d.reason,
                d.explanation.map(|e| format!(": {e}")).unwrap_or_default()
            ));
        }
        _ => return None,
    }
    shared.1.notify_all();
    None
}

impl Injector for EisInjector {
    fn apply(&mut self, ev: &InputEvent) -> Result<(), DesktopError> {
        let sent = self.send(ev);
        // Also after an error: what was sent is framed and flushed.
        let finished = self.finish();
        sent.and(finished)
    }

    fn pointer(&mut self) -> Result<(i32, i32), DesktopError> {
        Ok(self.pos)
    }
}

impl EisInjector {
    /// The events of one `apply`.
    fn send(&mut self, ev: &InputEvent) -> Result<(), DesktopError> {
        match ev {
            InputEvent::MouseMove { x, y } => {
                let (dev, serial) = self.device(DeviceCapability::PointerAbsolute, None)?;
                let (lx, ly) = Self::to_logical(&dev, *x, *y)?;
                let abs: ei::PointerAbsolute = dev
                    .interface()
                    .ok_or_else(|| input_err("the pointer lost its absolute motion"))?;
                self.batch(&dev, serial, |_| abs.motion_absolute(lx, ly))?;
                self.pos = (*x, *y);
            }
            InputEvent::MouseButton { button, down } => {
                let code = match button {
                    MouseButton::Left => BTN_LEFT,
                    MouseButton::Middle => BTN_MIDDLE,
                    MouseButton::Right => BTN_RIGHT,
                };
                // The absolute pointer's own buttons, where it has them:
                // the click lands where we moved.
                let (dev, serial) = self.device(
                    DeviceCapability::Button,
                    Some(DeviceCapability::PointerAbsolute),
                )?;
                let btn: ei::Button = dev
                    .interface()
                    .ok_or_else(|| input_err("the pointer lost its buttons"))?;
                if *down {
                    self.buttons_down.insert(code);
                } else {
                    self.buttons_down.remove(&code);
                }
                let state = if *down {
                    ei::button::ButtonState::Press
                } else {
                    ei::button::ButtonState::Released
                };
                self.batch(&dev, serial, |_| btn.button(code, state))?;
            }
            InputEvent::Wheel { dx, dy } => {
                let (dev, serial) = self.device(
                    DeviceCapability::Scroll,
                    Some(DeviceCapability::PointerAbsolute),
                )?;
                let scroll: ei::Scroll = dev
                    .interface()
                    .ok_or_else(|| input_err("the pointer lost its scroll wheel"))?;
                // 120 per detent (the protocol's discrete unit).
                let (sx, sy) = (dx.saturating_mul(120), dy.saturating_mul(120));
                self.batch(&dev, serial, |_| scroll.scroll_discrete(sx, sy))?;
            }
            InputEvent::Key { key, down } => {
                let (dev, serial, group) = self.keyboard()?;
                let stroke = self
                    .keymap
                    .as_ref()
                    .map(|(_, k)| k)
                    .ok_or_else(|| input_err("no keymap"))?
                    .for_key_name(key, group)?;
                // A named key is pressed as is; a character's level
                // modifiers are held while it is down.
                if *down {
                    let extra: Vec<u32> = stroke
                        .mods
                        .iter()
                        .copied()
                        .filter(|m| !self.keys_down.contains(m))
                        .collect();
                    for m in extra {
                        self.key(&dev, serial, m, true)?;
                    }
                    self.key(&dev, serial, stroke.key, true)?;
                } else {
                    self.key(&dev, serial, stroke.key, false)?;
                    for m in stroke.mods.iter().rev() {
                        if self.keys_down.contains(m) {
                            self.key(&dev, serial, *m, false)?;
                        }
                    }
                }
            }
            InputEvent::Text { text } => {
                let (dev, serial, group) = self.keyboard()?;
                let km = self
                    .keymap
                    .as_ref()
                    .map(|(_, k)| k)
                    .ok_or_else(|| input_err("no keymap"))?;
                // All or nothing: find every key before typing any.
                let strokes = text
                    .chars()
                    .map(|c| km.for_char(c, group))
                    .collect::<Result<Vec<_>, _>>()?;
                for s in &strokes {
                    self.stroke(&dev, serial, s)?;
                }
            }
        }
        Ok(())
    }
}

impl Drop for EisInjector {
    fn drop(&mut self) {
        // Release what is held, then stop every device still emulating.
        if let Ok((dev, serial)) = self.device(DeviceCapability::Keyboard, None) {
            for code in std::mem::take(&mut self.keys_down) {
                let _ = self.key(&dev, serial, code, false);
            }
        }
        if let Ok((dev, serial)) = self.device(
            DeviceCapability::Button,
            Some(DeviceCapability::PointerAbsolute),
        ) && let Some(btn) = dev.interface::<ei::Button>()
        {
            for code in std::mem::take(&mut self.buttons_down) {
                let _ = self.batch(&dev, serial, |_| {
                    btn.button(code, ei::button::ButtonState::Released)
                });
            }
        }
        let _ = self.finish();
        drop(self.stop.take());
        if let Some(t) = self.reader.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reis::eis;
    use reis::request::{DeviceCapability as Cap, EisRequest, EisRequestConverter};
    use std::sync::mpsc;

    /// A minimal EIS server (what mutter is behind ConnectToEIS): one seat,
    /// a keyboard with the German keymap and an absolute pointer whose
    /// region is a 1280×720 logical monitor at scale 1.5 (1920×1080
    /// physical pixels). It logs what the client sends, one line each,
    /// until the client hangs up.
    fn fake_server(sock: UnixStream, log: mpsc::Sender<String>) -> Result<(), String> {
        let ctx = eis::Context::new(sock).map_err(|e| e.to_string())?;
        let fd = ctx.as_raw_fd();
        let keymap = crate::wayland::keymap::keymap_text_of("de", "").map_err(|e| e.to_string())?;
        let mut bytes = keymap.into_bytes();
        bytes.push(0);
        let mut km_file =
            std::fs::File::from(crate::wayland::wlr::memfd("km").map_err(|e| e.to_string())?);
        std::io::Write::write_all(&mut km_file, &bytes).map_err(|e| e.to_string())?;
        let mut handshaker = reis::handshake::EisHandshaker::new(&ctx, 1);
        let (never, _keep) = UnixStream::pair().map_err(|e| e.to_string())?;
        let mut converter: Option<EisRequestConverter> = None;
        loop {
            if !crate::wayland::wait_readable(fd, &never).map_err(|e| format!("poll: {e}"))? {
                return Ok(());
            }
            match ctx.read() {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return Ok(()), // the client hung up
            }
            while let Some(req) = ctx.pending_request() {
                let reis::PendingRequestResult::Request(req) = req else {
                    return Err("bad request".into());
                };
                let Some(conv) = converter.as_mut() else {
                    if let Some(resp) = handshaker.handle_request(req).map_err(|e| e.to_string())? {
                        let conv = EisRequestConverter::new(&ctx, resp, 1);
                        let _ = conv.handle().add_seat(
                            Some("seat0"),
                            Cap::PointerAbsolute | Cap::Button | Cap::Scroll | Cap::Keyboard,
                        );
                        converter = Some(conv);
                    }
                    continue;
                };
                conv.handle_request(req).map_err(|e| e.to_string())?;
                while let Some(r) = conv.next_request() {
                    let line = match r {
                        EisRequest::Bind(b) => {
                            let kbd = b.seat.add_device(
                                Some("keyboard"),
                                eis::device::DeviceType::Virtual,
                                Cap::Keyboard.into(),
                                |d| {
                                    if let Some(k) = d.interface::<eis::Keyboard>() {
                                        k.keymap(
                                            eis::keyboard::KeymapType::Xkb,
                                            bytes.len() as u32,
                                            km_file.as_fd(),
                                        );
                                    }
                                },
                            );
                            kbd.resumed();
                            let ptr = b.seat.add_device(
                                Some("pointer"),
                                eis::device::DeviceType::Virtual,
                                Cap::PointerAbsolute | Cap::Button | Cap::Scroll,
                                |d| d.device().region(0, 0, 1280, 720, 1.5),
                            );
                            ptr.resumed();
                            format!("bind {:?}", b.capabilities)
                        }
                        EisRequest::DeviceStartEmulating(e) => {
                            format!("start {}", e.device.name().unwrap_or("?"))
                        }
                        EisRequest::DeviceStopEmulating(e) => {
                            format!("stop {}", e.device.name().unwrap_or("?"))
                        }
                        EisRequest::Frame(f) => format!("frame {}", f.device.name().unwrap_or("?")),
                        EisRequest::KeyboardKey(k) => format!("key {} {:?}", k.key, k.state),
                        EisRequest::PointerMotionAbsolute(m) => {
                            format!("abs {} {}", m.dx_absolute, m.dy_absolute)
                        }
                        EisRequest::Button(b) => format!("button {:#x} {:?}", b.button, b.state),
                        EisRequest::ScrollDiscrete(s) => {
                            format!("scroll {} {}", s.discrete_dx, s.discrete_dy)
                        }
                        other => format!("other {other:?}"),
                    };
                    let _ = log.send(line);
                }
                let _ = conv.handle().flush();
            }
            let _ = ctx.flush();
        }
    }

    use std::os::fd::AsFd;

    #[test]
    fn speaks_ei_to_a_server_with_a_german_keyboard() {
        let (client, server) = UnixStream::pair().expect("socketpair");
        let (tx, rx) = mpsc::channel();
        let srv = std::thread::Builder::new()
            .name("fake-eis".into())
            .spawn(move || fake_server(server, tx))
            .expect("thread");
        let mut inj = EisInjector::new(OwnedFd::from(client)).expect("devices resumed");
        let info = inj.describe();
        assert!(
            info.contains("keyboard") && info.contains("1280x720+0+0@1.5"),
            "{info}"
        );
        let ev = |e: InputEvent| e;
        for e in [
            // Physical (960, 540) on a scale 1.5 monitor is logical (640, 360).
            ev(InputEvent::MouseMove { x: 960, y: 540 }),
            ev(InputEvent::MouseButton {
                button: MouseButton::Left,
                down: true,
            }),
            ev(InputEvent::MouseMove { x: 1919, y: 1079 }),
            ev(InputEvent::MouseButton {
                button: MouseButton::Left,
                down: false,
            }),
            ev(InputEvent::Wheel { dx: 0, dy: 2 }),
            ev(InputEvent::Text {
                text: "Grüße, 123 €".into(),
            }),
            ev(InputEvent::Key {
                key: "Return".into(),
                down: true,
            }),
            ev(InputEvent::Key {
                key: "Return".into(),
                down: false,
            }),
        ] {
            inj.apply(&e).unwrap_or_else(|err| panic!("{e:?}: {err}"));
        }
        assert_eq!(inj.pointer().expect("pointer"), (1919, 1079));
        // Not on a German keyboard: a clear error, nothing typed.
        let err = inj
            .apply(&InputEvent::Text {
                text: "añb".into()
            })
            .expect_err("ñ is no key on de");
        assert!(err.to_string().contains("'ñ'"), "{err}");
        drop(inj);
        srv.join().expect("server thread").expect("server");
        let log: Vec<String> = rx.try_iter().collect();
        let pos = |l: &str| {
            log.iter()
                .position(|x| x == l)
                .unwrap_or_else(|| panic!("{l:?} missing in {log:#?}"))
        };
        // The pointer: mapped into the region, emulating while the button
        // is held, a frame after each event.
        // The pointer: mapped into the region, emulating while the button
        // is held, a frame after each event.
        let abs = pos("abs 640 360");
        let pointer = [
            "start pointer",
            "abs 640 360",
            "frame pointer",
            "stop pointer",
            "start pointer",
            "button 0x110 Press",
            "frame pointer",
            "abs 1279 719",
            "frame pointer",
            "button 0x110 Released",
            "frame pointer",
            "stop pointer",
            "start pointer",
            "scroll 0 240",
            "frame pointer",
            "stop pointer",
            "start keyboard",
        ];
        assert_eq!(log[abs - 1..abs - 1 + pointer.len()], pointer, "{log:#?}");
        assert!(log.contains(&"scroll 0 240".to_string()), "{log:#?}");
        // The keys: exactly the German strokes, Shift and AltGr around
        // their keys (evdev: 42 Shift, 100 AltGr, 34 g, 26 ü, 12 ß, 18 e).
        let keys: Vec<&str> = log.iter().filter_map(|l| l.strip_prefix("key ")).collect();
        let p = |k: u32| format!("{k} Press");
        let r = |k: u32| format!("{k} Released");
        let tap = |k: u32| vec![p(k), r(k)];
        let mut want: Vec<String> = vec![p(42), p(34), r(34), r(42)]; // G
        for k in [19, 26, 12, 18, 51, 57, 2, 3, 4, 57] {
            want.extend(tap(k)); // r ü ß e , space 1 2 3 space
        }
        want.extend([p(100), p(18), r(18), r(100)]); // €
        want.extend(tap(28)); // Return
        assert_eq!(keys, want);
        // Every key is framed; the text is one batch; the keyboard stops
        // emulating when no key is held.
        let first = pos("key 42 Press");
        assert_eq!(log[first + 1], "frame keyboard");
        let starts = log.iter().filter(|l| *l == "start keyboard").count();
        let stops = log.iter().filter(|l| *l == "stop keyboard").count();
        assert_eq!((starts, stops), (2, 2), "text, then Return: {log:#?}");
        assert_eq!(log.last().map(String::as_str), Some("stop keyboard"));
    }

    /// The client moves injectors and the overlay between threads.
    #[test]
    fn wayland_handles_are_send() {
        fn send<T: Send>() {}
        send::<super::EisInjector>();
        send::<crate::wayland::wlr::WlrInjector>();
        send::<crate::wayland::layer::LayerWatermark>();
        send::<crate::GuardedInjector<super::EisInjector>>();
    }
}
