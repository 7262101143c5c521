//! The watermark on compositors with wlr-layer-shell (sway, KDE): on each
//! output a surface on the OVERLAY layer (above fullscreen windows), anchored to
//! all edges of the output, ignoring other surfaces' exclusive zones, no
//! keyboard focus and an empty input region, so every click goes to the
//! window beneath. It is drawn once into a shared-memory buffer with the
//! same tiled text as on X11 (`watermark_text`), and drawn again only when
//! the compositor resizes it.
//!
//! A thread dispatches the surface's Wayland queue (configure, close) for
//! its whole life; dropping the [`LayerWatermark`] wakes it, it destroys
//! the surface and waits for the compositor to have processed that.

use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;

use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::wl_buffer::WlBuffer;
use wayland_client::protocol::wl_compositor::WlCompositor;
use wayland_client::protocol::wl_output::WlOutput;
use wayland_client::protocol::wl_region::WlRegion;
use wayland_client::protocol::wl_registry::WlRegistry;
use wayland_client::protocol::wl_shm::{Format, WlShm};
use wayland_client::protocol::wl_shm_pool::WlShmPool;
use wayland_client::protocol::wl_surface::WlSurface;
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle, delegate_noop};
use wayland_protocols_wlr::layer_shell::v1::client::zwlr_layer_shell_v1::{
    Layer, ZwlrLayerShellV1,
};
use wayland_protocols_wlr::layer_shell::v1::client::zwlr_layer_surface_v1::{
    self, Anchor, KeyboardInteractivity, ZwlrLayerSurfaceV1,
};

use crate::DesktopError;
use crate::watermark_text::{Alpha, premultiplied_bgra, render_line, tile};
use crate::wayland::wlr::memfd;

/// The `namespace` of our layer surface (compositors show it in their
/// lists; tests find the overlay by it).
pub const NAMESPACE: &str = "lotse-watermark";

fn err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> DesktopError + '_ {
    move |e| DesktopError::Render(format!("{what}: {e}"))
}

/// One overlay surface, on one output.
struct Overlay {
    surface: WlSurface,
    layer: ZwlrLayerSurfaceV1,
    /// The buffer on screen and its pool.
    buffer: Option<(WlShmPool, WlBuffer)>,
    size: (u32, u32),
    configured: bool,
    closed: bool,
}

impl Overlay {
    fn destroy(&mut self) {
        if !self.closed {
            self.layer.destroy();
            self.surface.destroy();
            self.closed = true;
        }
        if let Some((pool, buffer)) = self.buffer.take() {
            buffer.destroy();
            pool.destroy();
        }
    }
}

struct State {
    line: Alpha,
    shm: WlShm,
    overlays: Vec<Overlay>,
    error: Option<String>,
}

impl State {
    /// Draws the tiled text at `w`×`h` on overlay `i` and shows it.
    fn draw(
        &mut self,
        i: usize,
        w: u32,
        h: u32,
        qh: &QueueHandle<State>,
    ) -> Result<(), DesktopError> {
        let (wu, hu) = (w as usize, h as usize);
        let pixels = premultiplied_bgra(&tile(&self.line, wu, hu));
        let stride = i32::try_from(wu * 4).map_err(|_| DesktopError::Render("too wide".into()))?;
        let len =
            i32::try_from(pixels.len()).map_err(|_| DesktopError::Render("too large".into()))?;
        let mut file = std::fs::File::from(memfd("lotse-watermark")?);
        file.write_all(&pixels)
            .map_err(|e| DesktopError::Render(format!("shm buffer: {e}")))?;
        let Some(o) = self.overlays.get_mut(i) else {
            return Ok(());
        };
        let pool = self.shm.create_pool(file.as_fd(), len, qh, ());
        let buffer = pool.create_buffer(0, w as i32, h as i32, stride, Format::Argb8888, qh, ());
        o.surface.attach(Some(&buffer), 0, 0);
        o.surface.damage_buffer(0, 0, w as i32, h as i32);
        o.surface.commit();
        if let Some((old_pool, old_buffer)) = o.buffer.replace((pool, buffer)) {
            old_buffer.destroy();
            old_pool.destroy();
        }
        o.size = (w, h);
        Ok(())
    }

    fn destroy(&mut self) {
        for o in &mut self.overlays {
            o.destroy();
        }
    }

    fn all_closed(&self) -> bool {
        self.overlays.iter().all(|o| o.closed)
    }
}

impl Dispatch<ZwlrLayerSurfaceV1, usize> for State {
    fn event(
        state: &mut Self,
        layer: &ZwlrLayerSurfaceV1,
        event: zwlr_layer_surface_v1::Event,
        i: &usize,
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        let i = *i;
        let Some(o) = state.overlays.get_mut(i) else {
            return;
        };
        match event {
            zwlr_layer_surface_v1::Event::Configure {
                serial,
                width,
                height,
            } => {
                layer.ack_configure(serial);
                o.configured = true;
                if width == 0 || height == 0 {
                    state.error = Some("the compositor gave the overlay no size".into());
                } else if (width, height) != o.size {
                    if let Err(e) = state.draw(i, width, height, qh) {
                        state.error = Some(e.to_string());
                    }
                } else {
                    o.surface.commit();
                }
            }
            // Its output went away: the others stay.
            zwlr_layer_surface_v1::Event::Closed => o.destroy(),
            _ => {}
        }
    }
}

impl Dispatch<WlRegistry, GlobalListContents> for State {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: <WlRegistry as wayland_client::Proxy>::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

delegate_noop!(State: ignore WlSurface);
delegate_noop!(State: ignore WlShm);
delegate_noop!(State: ignore WlBuffer);
delegate_noop!(State: WlShmPool);
delegate_noop!(State: WlCompositor);
delegate_noop!(State: WlRegion);
delegate_noop!(State: ZwlrLayerShellV1);
delegate_noop!(State: ignore WlOutput);

const LAYER_SHELL: &[&str] = &["zwlr_layer_shell_v1"];

/// A shown layer-shell watermark; dropping it removes it at once.
pub struct LayerWatermark {
    /// Dropping this end wakes the thread.
    stop: Option<UnixStream>,
    thread: Option<JoinHandle<()>>,
    sizes: Vec<(u32, u32)>,
}

impl std::fmt::Debug for LayerWatermark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerWatermark")
            .field("sizes", &self.sizes)
            .finish_non_exhaustive()
    }
}

impl LayerWatermark {
    /// True when the compositor of `$WAYLAND_DISPLAY` offers
    /// `zwlr_layer_shell_v1` (sway, KDE; not GNOME).
    pub fn available() -> bool {
        super::compositor_offers(LAYER_SHELL)
    }

    /// Shows `text` tiled over every output until the returned value is
    /// dropped.
    pub fn show(text: &str) -> Result<LayerWatermark, DesktopError> {
        let line = render_line(text)?;
        let conn = Connection::connect_to_env().map_err(|e| err("no Wayland display")(&e))?;
        let (globals, mut queue) =
            registry_queue_init::<State>(&conn).map_err(|e| err("Wayland registry")(&e))?;
        let qh = queue.handle();
        if !super::has_globals(&globals, LAYER_SHELL) {
            return Err(DesktopError::Render(
                "the compositor has no wlr-layer-shell (GNOME shows its own sharing indicator)"
                    .into(),
            ));
        }
        let compositor: WlCompositor = globals
            .bind(&qh, 4..=4, ())
            .map_err(|e| err("wl_compositor")(&e))?;
        let shm: WlShm = globals
            .bind(&qh, 1..=1, ())
            .map_err(|e| err("wl_shm")(&e))?;
        let shell: ZwlrLayerShellV1 = globals
            .bind(&qh, 1..=4, ())
            .map_err(|e| err("zwlr_layer_shell_v1")(&e))?;
        // One overlay per output, like the X11 one over the whole root
        // window; without outputs listed, the compositor picks one.
        let outputs: Vec<Option<WlOutput>> = {
            let names: Vec<(u32, u32)> = globals.contents().with_list(|l| {
                l.iter()
                    .filter(|g| g.interface == "wl_output")
                    .map(|g| (g.name, g.version))
                    .collect()
            });
            if names.is_empty() {
                vec![None]
            } else {
                names
                    .into_iter()
                    .map(|(n, v)| Some(globals.registry().bind(n, v.min(2), &qh, ())))
                    .collect()
            }
        };
        let mut state = State {
            line,
            shm,
            overlays: Vec::new(),
            error: None,
        };
        for (i, output) in outputs.iter().enumerate() {
            let surface = compositor.create_surface(&qh, ());
            // Click-through: an empty input region.
            let region = compositor.create_region(&qh, ());
            surface.set_input_region(Some(&region));
            region.destroy();
            let layer = shell.get_layer_surface(
                &surface,
                output.as_ref(),
                Layer::Overlay,
                NAMESPACE.into(),
                &qh,
                i,
            );
            layer.set_anchor(Anchor::Top | Anchor::Bottom | Anchor::Left | Anchor::Right);
            layer.set_size(0, 0); // the whole output
            layer.set_exclusive_zone(-1); // over panels too, moving nothing
            layer.set_keyboard_interactivity(KeyboardInteractivity::None);
            surface.commit(); // no buffer yet: asks for the first configure
            state.overlays.push(Overlay {
                surface,
                layer,
                buffer: None,
                size: (0, 0),
                configured: false,
                closed: false,
            });
        }
        // First configures → drawn and committed; the round trip after
        // makes sure the compositor has the buffers when `show` returns.
        while state.overlays.iter().any(|o| !o.configured && !o.closed) && state.error.is_none() {
            queue
                .blocking_dispatch(&mut state)
                .map_err(|e| err("overlay refused")(&e))?;
        }
        queue
            .roundtrip(&mut state)
            .map_err(|e| err("overlay refused")(&e))?;
        if let Some(e) = state.error.take() {
            state.destroy();
            let _ = queue.roundtrip(&mut state);
            return Err(DesktopError::Render(e));
        }
        if state.all_closed() {
            return Err(DesktopError::Render(
                "the compositor closed the overlay".into(),
            ));
        }
        let sizes = state.overlays.iter().map(|o| o.size).collect();
        let (stop, wake) = UnixStream::pair().map_err(|e| DesktopError::Thread(e.to_string()))?;
        let thread = std::thread::Builder::new()
            .name("lotse-watermark".into())
            .spawn(move || run(conn, queue, state, &wake))
            .map_err(|e| DesktopError::Thread(e.to_string()))?;
        Ok(LayerWatermark {
            stop: Some(stop),
            thread: Some(thread),
            sizes,
        })
    }

    /// The overlays' sizes in surface pixels (each output's logical size).
    pub fn sizes(&self) -> &[(u32, u32)] {
        &self.sizes
    }
}

impl Drop for LayerWatermark {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Dispatches the queue until `wake` becomes readable (the other end was
/// dropped) or the compositor closes the surface, then removes it.
fn run(conn: Connection, mut queue: EventQueue<State>, mut state: State, wake: &UnixStream) {
    loop {
        if state.all_closed() {
            tracing::info!("the compositor closed the watermark overlays");
            break;
        }
        if let Err(e) = queue.dispatch_pending(&mut state) {
            tracing::warn!("watermark overlay: {e}");
            return;
        }
        if let Err(e) = conn.flush() {
            tracing::warn!("watermark overlay: {e}");
            return;
        }
        let Some(guard) = queue.prepare_read() else {
            continue;
        };
        match super::wait_readable(guard.connection_fd().as_raw_fd(), wake) {
            Ok(false) => break, // dropped: remove the overlay
            Ok(true) => {
                if let Err(e) = guard.read() {
                    tracing::warn!("watermark overlay: {e}");
                    return;
                }
            }
            Err(e) => {
                tracing::warn!("watermark overlay: poll: {e}");
                return;
            }
        }
    }
    state.destroy();
    // Gone from the screen once the compositor has processed this.
    let _ = queue.roundtrip(&mut state);
}
