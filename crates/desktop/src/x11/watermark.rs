//! The "support session in progress" overlay: repeated text over the whole
//! screen, always on top, never taking clicks or focus.
//!
//! An override-redirect window (the window manager never manages or
//! focuses it) covering the root window, with an empty XShape *input*
//! shape, so every click goes to the window beneath. How the text is shown
//! depends on whether a compositor runs (`_NET_WM_CM_S0` has an owner):
//!
//! * with a compositor: a 32-bit ARGB window whose background is the
//!   rendered text with partial alpha — translucent text, the desktop fully
//!   visible around and through it;
//! * without one (ARGB would be opaque black): a normal-depth window whose
//!   *bounding* shape is exactly the text's pixels, so only the glyphs
//!   cover the desktop.
//!
//! The text is rendered here with `ab_glyph` from the font egui already
//! embeds (Ubuntu Light, via `epaint_default_fonts`). A thread with the
//! overlay's X connection keeps it on top when other windows are raised,
//! and keeps this program's own windows (the chat window: `_NET_WM_PID`
//! is ours) cut out of the overlay's shape wherever they move, so the
//! consent prompts and "take control back" are never written over.

use std::sync::Arc;
use std::thread::JoinHandle;

use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::Event;
use x11rb::protocol::shape::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{
    Atom, AtomEnum, ChangeWindowAttributesAux, ClipOrdering, ColormapAlloc, ConfigureWindowAux,
    ConnectionExt as _, CreateGCAux, CreateWindowAux, Drawable, EventMask, ImageFormat, ImageOrder,
    MapState, Pixmap, PropMode, Rectangle, StackMode, VisualClass, Window, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

use crate::DesktopError;
use crate::watermark_text::{GREY, premultiplied_bgra, render_line, tile};
use crate::xutil::{WATERMARK_CLASS, Xconn};

/// A shown watermark; dropping it removes it from the screen.
pub struct Watermark {
    conn: Arc<RustConnection>,
    window: Window,
    translucent: bool,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Watermark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watermark")
            .field("window", &self.window)
            .field("translucent", &self.translucent)
            .finish_non_exhaustive()
    }
}

impl Watermark {
    /// Shows `text` repeated over the whole screen until the returned value
    /// is dropped.
    pub fn show(text: &str) -> Result<Watermark, DesktopError> {
        let x = Xconn::connect()?;
        if x.conn
            .extension_information(shape::X11_EXTENSION_NAME)?
            .is_none()
        {
            return Err(DesktopError::MissingExtension("SHAPE"));
        }
        x.conn.shape_query_version()?.reply()?;
        let (sw, sh) = x.root_size();
        let (w, h) = (usize::from(sw), usize::from(sh));
        let alpha = tile(&render_line(text)?, w, h);
        let translucent = x.compositor_running()? && argb_visual(&x).is_some();
        let mut base = Base::Whole(sw, sh);
        let conn = Arc::new(x.conn);
        let window = conn.generate_id()?;
        let (screen, root) = (x.screen, x.root);
        let scr = &conn.setup().roots[screen];
        let common = CreateWindowAux::new()
            .override_redirect(1)
            .border_pixel(0)
            .event_mask(EventMask::STRUCTURE_NOTIFY);

        if translucent {
            let visual = argb_visual_of(&conn, screen)
                .ok_or(DesktopError::MissingExtension("32-bit ARGB visual"))?;
            let colormap = conn.generate_id()?;
            conn.create_colormap(ColormapAlloc::NONE, colormap, root, visual)?;
            let img = premultiplied_bgra(&alpha);
            let pixmap = conn.generate_id()?;
            conn.create_pixmap(32, pixmap, root, sw, sh)?;
            put_image(&conn, pixmap, 32, w, h, &img, w * 4)?;
            conn.create_window(
                32,
                window,
                root,
                0,
                0,
                sw,
                sh,
                0,
                WindowClass::INPUT_OUTPUT,
                visual,
                &common.colormap(colormap).background_pixmap(pixmap),
            )?;
            conn.free_pixmap(pixmap)?;
            conn.free_colormap(colormap)?;
        } else {
            let grey = u32::from(GREY);
            conn.create_window(
                x11rb::COPY_DEPTH_FROM_PARENT,
                window,
                root,
                0,
                0,
                sw,
                sh,
                0,
                WindowClass::INPUT_OUTPUT,
                scr.root_visual,
                &common.background_pixel(grey << 16 | grey << 8 | grey),
            )?;
            // The bounding shape is the text: a 1-bit mask of the glyphs.
            let setup = conn.setup();
            let pad = usize::from(setup.bitmap_format_scanline_pad.max(8)) / 8;
            let stride = (w.div_ceil(8)).div_ceil(pad) * pad;
            let lsb = setup.bitmap_format_bit_order == ImageOrder::LSB_FIRST;
            let mut bits = vec![0u8; stride * h];
            for y in 0..h {
                for xx in 0..w {
                    if alpha.data[y * w + xx] >= 96 {
                        let bit = if lsb { xx % 8 } else { 7 - xx % 8 };
                        bits[y * stride + xx / 8] |= 1 << bit;
                    }
                }
            }
            let mask = conn.generate_id()?;
            conn.create_pixmap(1, mask, root, sw, sh)?;
            put_image(&conn, mask, 1, w, h, &bits, stride)?;
            conn.shape_mask(shape::SO::SET, shape::SK::BOUNDING, window, 0, 0, mask)?;
            base = Base::Text(mask);
        }
        // Click-through: an empty input shape.
        conn.shape_rectangles(
            shape::SO::SET,
            shape::SK::INPUT,
            ClipOrdering::UNSORTED,
            window,
            0,
            0,
            &[],
        )?;
        let class = format!("{WATERMARK_CLASS}\0{WATERMARK_CLASS}\0");
        conn.change_property8(
            PropMode::REPLACE,
            window,
            AtomEnum::WM_CLASS,
            AtomEnum::STRING,
            class.as_bytes(),
        )?;
        conn.change_property8(
            PropMode::REPLACE,
            window,
            AtomEnum::WM_NAME,
            AtomEnum::STRING,
            b"Lotse watermark",
        )?;
        // Follow other windows being raised, to stay on top.
        conn.change_window_attributes(
            root,
            &ChangeWindowAttributesAux::new().event_mask(EventMask::SUBSTRUCTURE_NOTIFY),
        )?;
        conn.map_window(window)?;
        conn.get_input_focus()?.reply()?; // round trip: errors show up here
        let pid_atom = conn.intern_atom(false, b"_NET_WM_PID")?.reply()?.atom;
        let mut own = OwnWindows {
            root,
            overlay: window,
            pid_atom,
            base,
            frames: Vec::new(),
        };
        own.rescan(&conn)?;
        conn.flush()?;
        let thread = {
            let conn = conn.clone();
            std::thread::Builder::new()
                .name("lotse-watermark".into())
                .spawn(move || keep_on_top(&conn, window, own))
                .map_err(|e| DesktopError::Thread(e.to_string()))?
        };
        Ok(Watermark {
            conn,
            window,
            translucent,
            thread: Some(thread),
        })
    }

    /// The overlay's X window id.
    pub fn window_id(&self) -> u32 {
        self.window
    }

    /// True when shown as translucent ARGB text (a compositor runs); false
    /// when shown as a text-shaped window.
    pub fn is_translucent(&self) -> bool {
        self.translucent
    }
}

impl Drop for Watermark {
    fn drop(&mut self) {
        let _ = self.conn.destroy_window(self.window);
        let _ = self.conn.flush();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Raises the overlay whenever another top-level window is mapped or
/// restacked, and keeps this program's windows cut out of it; ends when the
/// overlay is destroyed or the connection breaks.
fn keep_on_top(conn: &RustConnection, window: Window, mut own: OwnWindows) {
    // Another always-on-top window raising itself too would make the two
    // fight forever: at most this many raises per second.
    const MAX_RAISES_PER_SEC: u32 = 30;
    let mut second = std::time::Instant::now();
    let mut raises = 0u32;
    loop {
        let ev = match conn.wait_for_event() {
            Ok(ev) => ev,
            Err(e) => {
                tracing::debug!("watermark connection ended: {e}");
                return;
            }
        };
        let other_changed = match &ev {
            Event::DestroyNotify(e) if e.window == window => {
                own.free(conn);
                return;
            }
            Event::MapNotify(e) => e.window != window,
            Event::ConfigureNotify(e) => e.window != window && e.above_sibling != window,
            _ => false,
        };
        if let Err(e) = own.follow(conn, &ev) {
            tracing::debug!("watermark cut-out not updated: {e}");
        }
        if other_changed && second.elapsed() >= std::time::Duration::from_secs(1) {
            second = std::time::Instant::now();
            raises = 0;
        }
        if other_changed && raises < MAX_RAISES_PER_SEC {
            raises += 1;
            let _ = conn.configure_window(
                window,
                &ConfigureWindowAux::new().stack_mode(StackMode::ABOVE),
            );
        }
        let _ = conn.flush();
    }
}

/// The overlay's shape before cut-outs.
#[derive(Debug, Clone, Copy)]
enum Base {
    /// The whole screen (translucent text).
    Whole(u16, u16),
    /// The text's pixels (a 1-bit pixmap).
    Text(Pixmap),
}

/// This program's top-level windows, cut out of the overlay.
struct OwnWindows {
    root: Window,
    overlay: Window,
    pid_atom: Atom,
    base: Base,
    /// Top-level windows (window manager frames) holding one of ours, with
    /// their outer rectangles.
    frames: Vec<(Window, Rectangle)>,
}

impl OwnWindows {
    /// Look at the top-level windows again (one was mapped, unmapped,
    /// reparented or destroyed) and shape the overlay.
    fn rescan(&mut self, conn: &RustConnection) -> Result<(), DesktopError> {
        let pid = std::process::id();
        let mut frames = Vec::new();
        for top in conn.query_tree(self.root)?.reply()?.children {
            if top == self.overlay {
                continue;
            }
            let attrs = conn.get_window_attributes(top)?.reply()?;
            if attrs.map_state != MapState::VIEWABLE {
                continue;
            }
            let inner = conn.query_tree(top)?.reply()?.children;
            let mut ours = false;
            for w in std::iter::once(top).chain(inner) {
                let prop = conn
                    .get_property(false, w, self.pid_atom, AtomEnum::CARDINAL, 0, 1)?
                    .reply()?;
                if prop.value32().and_then(|mut v| v.next()) == Some(pid) {
                    ours = true;
                    break;
                }
            }
            if ours {
                let g = conn.get_geometry(top)?.reply()?;
                frames.push((top, outer(g.x, g.y, g.width, g.height, g.border_width)));
            }
        }
        self.frames = frames;
        self.reshape(conn)
    }

    /// Keep the cut-outs where this program's windows are.
    fn follow(&mut self, conn: &RustConnection, ev: &Event) -> Result<(), DesktopError> {
        match ev {
            Event::ConfigureNotify(e) => {
                let Some(f) = self.frames.iter_mut().find(|(w, _)| *w == e.window) else {
                    return Ok(());
                };
                let r = outer(e.x, e.y, e.width, e.height, e.border_width);
                let key = |r: &Rectangle| (r.x, r.y, r.width, r.height);
                if key(&f.1) != key(&r) {
                    f.1 = r;
                    self.reshape(conn)?;
                }
                Ok(())
            }
            Event::MapNotify(e) if e.window != self.overlay => self.rescan(conn),
            Event::UnmapNotify(_) | Event::DestroyNotify(_) | Event::ReparentNotify(_) => {
                self.rescan(conn)
            }
            _ => Ok(()),
        }
    }

    fn reshape(&self, conn: &RustConnection) -> Result<(), DesktopError> {
        let (bounding, window) = (shape::SK::BOUNDING, self.overlay);
        match self.base {
            Base::Whole(w, h) => {
                let all = Rectangle {
                    x: 0,
                    y: 0,
                    width: w,
                    height: h,
                };
                conn.shape_rectangles(
                    shape::SO::SET,
                    bounding,
                    ClipOrdering::UNSORTED,
                    window,
                    0,
                    0,
                    &[all],
                )?;
            }
            Base::Text(mask) => {
                conn.shape_mask(shape::SO::SET, bounding, window, 0, 0, mask)?;
            }
        }
        let cut: Vec<Rectangle> = self.frames.iter().map(|(_, r)| *r).collect();
        if !cut.is_empty() {
            conn.shape_rectangles(
                shape::SO::SUBTRACT,
                bounding,
                ClipOrdering::UNSORTED,
                window,
                0,
                0,
                &cut,
            )?;
        }
        Ok(())
    }

    fn free(&self, conn: &RustConnection) {
        if let Base::Text(mask) = self.base {
            let _ = conn.free_pixmap(mask);
        }
    }
}

/// A window's rectangle on the screen, border included.
fn outer(x: i16, y: i16, width: u16, height: u16, border: u16) -> Rectangle {
    Rectangle {
        x,
        y,
        width: width.saturating_add(2 * border),
        height: height.saturating_add(2 * border),
    }
}

fn argb_visual(x: &Xconn) -> Option<u32> {
    argb_visual_of(&x.conn, x.screen)
}

fn argb_visual_of(conn: &RustConnection, screen: usize) -> Option<u32> {
    conn.setup()
        .roots
        .get(screen)?
        .allowed_depths
        .iter()
        .find_map(|d| {
            if d.depth != 32 {
                return None;
            }
            d.visuals
                .iter()
                .find(|v| v.class == VisualClass::TRUE_COLOR)
                .map(|v| v.visual_id)
        })
}

/// Uploads an image into a pixmap in strips that fit the request size.
fn put_image(
    conn: &RustConnection,
    pixmap: Drawable,
    depth: u8,
    w: usize,
    h: usize,
    data: &[u8],
    stride: usize,
) -> Result<(), DesktopError> {
    let gc = conn.generate_id()?;
    conn.create_gc(gc, pixmap, &CreateGCAux::new())?;
    let max = conn.maximum_request_bytes().saturating_sub(64).max(stride);
    let rows = (max / stride.max(1)).clamp(1, h.max(1));
    let mut y = 0usize;
    while y < h {
        let n = rows.min(h - y);
        let chunk = data
            .get(y * stride..(y + n) * stride)
            .ok_or_else(|| DesktopError::Render("image smaller than its size".into()))?;
        conn.put_image(
            ImageFormat::Z_PIXMAP,
            pixmap,
            gc,
            w as u16,
            n as u16,
            0,
            y as i16,
            0,
            depth,
            chunk,
        )?;
        y += n;
    }
    conn.free_gc(gc)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_renders_to_visible_pixels() {
        let line = render_line("Lotse · Fernwartung läuft").expect("render");
        assert!(line.width > 200 && line.height >= 30);
        let ink = line.data.iter().filter(|&&a| a >= 96).count();
        assert!(ink > 500, "{ink} ink pixels");
        let t = tile(&line, 1280, 800);
        let tiled = t.data.iter().filter(|&&a| a >= 96).count();
        assert!(tiled > ink * 8);
        // Most of the screen stays free.
        assert!(tiled < 1280 * 800 / 5);
    }

    #[test]
    fn empty_and_odd_text_does_not_panic() {
        for t in ["", "\u{0}\n\t", "日本語", "🙂"] {
            let line = render_line(t).expect("render");
            let _ = tile(&line, 10, 10);
        }
    }
}
