//! Small X11 helpers shared by the modules: connecting, atoms, reading
//! window properties, finding the application a top-level window belongs to.

use std::collections::HashMap;

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, MapState, Window, WindowClass};
use x11rb::rust_connection::RustConnection;

use crate::DesktopError;
use crate::geom::Rect;

x11rb::atom_manager! {
    /// The atoms this crate uses.
    pub Atoms: AtomsCookie {
        UTF8_STRING,
        WM_STATE,
        _NET_CLIENT_LIST_STACKING,
        _NET_ACTIVE_WINDOW,
        _NET_WM_NAME,
        _NET_WM_ICON,
        _NET_WM_WINDOW_TYPE,
        _NET_WM_WINDOW_TYPE_DESKTOP,
        _NET_WM_WINDOW_TYPE_DOCK,
        _NET_WM_CM_S0,
        _NET_WM_PID,
    }
}

/// WM_CLASS of our own watermark overlay: the mask treats it as transparent
/// (it is click-through text on top of everything, not a window that hides
/// the shared application).
pub const WATERMARK_CLASS: &str = "lotse-watermark";

/// One connection to the default display plus what every module needs.
pub struct Xconn {
    pub conn: RustConnection,
    pub root: Window,
    pub screen: usize,
    pub atoms: Atoms,
}

impl Xconn {
    pub fn connect() -> Result<Xconn, DesktopError> {
        let (conn, screen) = x11rb::connect(None)?;
        let root = conn
            .setup()
            .roots
            .get(screen)
            .ok_or_else(|| DesktopError::Connect(format!("screen {screen} does not exist")))?
            .root;
        let atoms = Atoms::new(&conn)?.reply()?;
        Ok(Xconn {
            conn,
            root,
            screen,
            atoms,
        })
    }

    /// Size of the root window.
    pub fn root_size(&self) -> (u16, u16) {
        let s = &self.conn.setup().roots[self.screen];
        (s.width_in_pixels, s.height_in_pixels)
    }

    /// A property as raw bytes (format 8), at most `max_len` 32-bit units.
    pub fn prop_bytes(
        &self,
        w: Window,
        prop: u32,
        max_len: u32,
    ) -> Result<Option<Vec<u8>>, DesktopError> {
        let r = self
            .conn
            .get_property(false, w, prop, AtomEnum::ANY, 0, max_len)?
            .reply()?;
        if r.type_ == x11rb::NONE || r.format != 8 {
            return Ok(None);
        }
        Ok(Some(r.value))
    }

    /// A property as 32-bit values.
    pub fn prop_u32(
        &self,
        w: Window,
        prop: u32,
        max_len: u32,
    ) -> Result<Option<Vec<u32>>, DesktopError> {
        let r = self
            .conn
            .get_property(false, w, prop, AtomEnum::ANY, 0, max_len)?
            .reply()?;
        Ok(r.value32().map(|v| v.collect()))
    }

    /// WM_CLASS as (instance, class).
    pub fn wm_class(&self, w: Window) -> Result<Option<(String, String)>, DesktopError> {
        let Some(bytes) = self.prop_bytes(w, AtomEnum::WM_CLASS.into(), 256)? else {
            return Ok(None);
        };
        let mut parts = bytes
            .split(|b| *b == 0)
            .map(|p| String::from_utf8_lossy(p).into_owned());
        let instance = parts.next().unwrap_or_default();
        let class = parts.next().unwrap_or_default();
        if instance.is_empty() && class.is_empty() {
            return Ok(None);
        }
        Ok(Some((instance, class)))
    }

    /// The window title: `_NET_WM_NAME` (UTF-8), else `WM_NAME`.
    pub fn title(&self, w: Window) -> Result<String, DesktopError> {
        if let Some(b) = self.prop_bytes(w, self.atoms._NET_WM_NAME, 1024)?
            && !b.is_empty()
        {
            return Ok(String::from_utf8_lossy(&b).into_owned());
        }
        if let Some(b) = self.prop_bytes(w, AtomEnum::WM_NAME.into(), 1024)? {
            // STRING is Latin-1; many clients put UTF-8 there anyway.
            return Ok(match String::from_utf8(b.clone()) {
                Ok(s) => s,
                Err(_) => b.iter().map(|&c| char::from(c)).collect(),
            });
        }
        Ok(String::new())
    }

    /// Whether some client owns the compositing manager selection.
    pub fn compositor_running(&self) -> Result<bool, DesktopError> {
        let owner = self
            .conn
            .get_selection_owner(self.atoms._NET_WM_CM_S0)?
            .reply()?
            .owner;
        Ok(owner != x11rb::NONE)
    }

    /// Walks up from `w` to its top-level window (the child of the root).
    pub fn toplevel_of(&self, mut w: Window) -> Result<Option<Window>, DesktopError> {
        for _ in 0..64 {
            if w == x11rb::NONE || w == self.root {
                return Ok(None);
            }
            let t = self.conn.query_tree(w)?.reply()?;
            if t.parent == self.root || t.parent == x11rb::NONE {
                return Ok(Some(w));
            }
            w = t.parent;
        }
        Ok(None)
    }
}

/// One visible top-level window in stacking order, as the mask needs it.
#[derive(Debug, Clone)]
pub struct StackEntry {
    pub window: Window,
    /// Outer rectangle (border included) in root coordinates.
    pub rect: Rect,
    /// Application id (WM_CLASS class) of the client inside, if any.
    pub app: Option<String>,
}

/// Remembers which application each top-level window belongs to (asking the
/// X server costs round trips; WM_CLASS does not change in practice).
#[derive(Default)]
pub struct AppCache {
    apps: HashMap<Window, Option<String>>,
    /// Last known outer rectangle of each top-level window.
    rects: HashMap<Window, Rect>,
}

impl AppCache {
    pub fn forget(&mut self, w: Window) {
        self.apps.remove(&w);
    }

    /// Last known rectangle of a top-level window (no X requests).
    pub fn rect_of(&self, w: Window) -> Option<Rect> {
        self.rects.get(&w).copied()
    }

    pub fn set_rect(&mut self, w: Window, r: Rect) {
        self.rects.insert(w, r);
    }

    /// The application of `w` if it was looked up before (no X requests).
    pub fn cached(&self, w: Window) -> Option<&Option<String>> {
        self.apps.get(&w)
    }

    /// Application id of a top-level window: its own WM_CLASS, or that of
    /// the client window a window manager put inside it (searched a few
    /// levels deep, preferring windows with WM_STATE).
    pub fn app_of(&mut self, x: &Xconn, top: Window) -> Result<Option<String>, DesktopError> {
        if let Some(a) = self.apps.get(&top) {
            return Ok(a.clone());
        }
        let app = find_app(x, top, 0)?;
        self.apps.insert(top, app.clone());
        Ok(app)
    }

    /// The visible top-level windows, bottom to top (query-tree order of the
    /// root's children: that is the real stacking order, override-redirect
    /// menus and window-manager frames included).
    pub fn stack(&mut self, x: &Xconn) -> Result<Vec<StackEntry>, DesktopError> {
        let tree = x.conn.query_tree(x.root)?.reply()?;
        // Pipeline the requests: send all, then collect.
        let mut cookies = Vec::with_capacity(tree.children.len());
        for &w in &tree.children {
            cookies.push((w, x.conn.get_window_attributes(w)?, x.conn.get_geometry(w)?));
        }
        let live: std::collections::HashSet<Window> = tree.children.iter().copied().collect();
        self.apps.retain(|w, _| live.contains(w));
        self.rects.retain(|w, _| live.contains(w));
        let mut out = Vec::new();
        for (w, ac, gc) in cookies {
            // A window can vanish between the requests: skip it.
            let (Ok(a), Ok(g)) = (ac.reply(), gc.reply()) else {
                continue;
            };
            if a.map_state != MapState::VIEWABLE || a.class == WindowClass::INPUT_ONLY {
                continue;
            }
            let bw = u32::from(g.border_width) * 2;
            let rect = Rect::new(
                i32::from(g.x),
                i32::from(g.y),
                u32::from(g.width) + bw,
                u32::from(g.height) + bw,
            );
            self.rects.insert(w, rect);
            let app = match self.app_of(x, w) {
                Ok(a) => a,
                Err(_) => continue, // destroyed meanwhile
            };
            out.push(StackEntry {
                window: w,
                rect,
                app,
            });
        }
        Ok(out)
    }
}

fn find_app(x: &Xconn, w: Window, depth: u32) -> Result<Option<String>, DesktopError> {
    if let Some((instance, class)) = x.wm_class(w)? {
        return Ok(Some(if class.is_empty() { instance } else { class }));
    }
    if depth >= 3 {
        return Ok(None);
    }
    let tree = x.conn.query_tree(w)?.reply()?;
    // Topmost child first: a frame's client is usually its only child.
    for &c in tree.children.iter().rev() {
        if let Some(a) = find_app(x, c, depth + 1)? {
            return Ok(Some(a));
        }
    }
    Ok(None)
}
