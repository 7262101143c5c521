//! App-selective sharing: which pixels of the screen belong to the
//! applications the customer chose, and nothing else.
//!
//! The visible region is computed from the real stacking order of the root
//! window's children (window-manager frames, override-redirect menus and
//! tooltips included): walking bottom to top, a chosen application's window
//! adds its rectangle, every other window removes its rectangle. What
//! remains is what the customer sees of the chosen applications — and the
//! only part of a frame that survives [`Mask::apply`]. Our own watermark
//! overlay is ignored (it is click-through text, not a covering window).
//!
//! The capture thread recomputes the region for every frame it grabs and
//! checks afterwards that no window changed meanwhile (see
//! [`crate::capture`]); [`Mask::refresh`] does the same on demand for input
//! filtering.

use std::sync::{Mutex, PoisonError};

use x11rb::protocol::xproto::{ConnectionExt as _, InputFocus};

use crate::DesktopError;
use crate::capture::Frame;
use crate::chosen::Chosen;
pub use crate::frame::black_out_outside;
use crate::geom::Region;
use crate::xutil::{AppCache, StackEntry, WATERMARK_CLASS, Xconn};

/// The chosen applications and the screen region they currently show.
pub struct Mask {
    chosen: Chosen,
    x: Mutex<(Xconn, AppCache)>,
}

impl std::fmt::Debug for Mask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.chosen.fmt(f)
    }
}

impl Mask {
    /// A mask for these application ids (`AppGroup::id`, the WM_CLASS
    /// class names). Connects to the display and computes the region once.
    pub fn new<I, S>(apps: I) -> Result<Mask, DesktopError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let x = Xconn::connect()?;
        let mask = Mask {
            chosen: Chosen::new(apps),
            x: Mutex::new((x, AppCache::default())),
        };
        mask.refresh()?;
        Ok(mask)
    }

    /// The chosen application ids.
    pub fn apps(&self) -> &[String] {
        self.chosen.apps()
    }

    /// Whether `app` is one of the chosen applications.
    pub fn is_chosen(&self, app: &str) -> bool {
        self.chosen.is_chosen(app)
    }

    /// Recomputes the visible region from the current window stack, stores
    /// and returns it (root-window coordinates).
    pub fn refresh(&self) -> Result<Region, DesktopError> {
        let mut g = self.x.lock().unwrap_or_else(PoisonError::into_inner);
        let (x, cache) = &mut *g;
        let stack = cache.stack(x)?;
        let region = visible_region(&stack, self.chosen.apps());
        self.chosen.set_region(region.clone());
        Ok(region)
    }

    /// The last computed visible region (root-window coordinates).
    pub fn region(&self) -> Region {
        self.chosen.region()
    }

    pub(crate) fn set_region(&self, r: Region) {
        self.chosen.set_region(r);
    }

    /// Whether the root-window pixel (`x`, `y`) shows a chosen application,
    /// as of the last computation (every captured frame, or
    /// [`Mask::refresh`]).
    pub fn contains(&self, x: i32, y: i32) -> bool {
        self.chosen.contains(x, y)
    }

    /// Whether the window that has the keyboard focus belongs to one of the
    /// chosen applications (focus window walked up to its top-level; with
    /// focus "pointer root" the top-level under the pointer).
    pub fn chosen_app_has_focus(&self) -> Result<bool, DesktopError> {
        let mut g = self.x.lock().unwrap_or_else(PoisonError::into_inner);
        let (x, cache) = &mut *g;
        let focus = x.conn.get_input_focus()?.reply()?.focus;
        let top = if focus == u32::from(InputFocus::POINTER_ROOT) {
            let child = x.conn.query_pointer(x.root)?.reply()?.child;
            if child == x11rb::NONE {
                None
            } else {
                Some(child)
            }
        } else {
            x.toplevel_of(focus)?
        };
        let Some(top) = top else {
            return Ok(false);
        };
        let app = cache.app_of(x, top)?;
        Ok(app.is_some_and(|a| self.is_chosen(&a)))
    }

    /// Blacks out every pixel of `frame` outside the last computed region.
    pub fn apply(&self, frame: &mut Frame) {
        self.chosen.apply(frame);
    }
}

/// The region of the chosen applications' windows minus every window
/// stacked above them. `stack` is bottom to top.
pub fn visible_region(stack: &[StackEntry], apps: &[String]) -> Region {
    let mut region = Region::new();
    for e in stack {
        match e.app.as_deref() {
            Some(WATERMARK_CLASS) => {}
            Some(a) if apps.iter().any(|c| c == a) => region.add(e.rect),
            _ => region.subtract(e.rect),
        }
    }
    region
}

impl crate::input::ChosenApps for Mask {
    fn visible_now(&self) -> Result<Region, DesktopError> {
        self.refresh()
    }
    fn chosen_app_has_focus(&self) -> Result<bool, DesktopError> {
        Mask::chosen_app_has_focus(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::Rect;

    fn entry(app: &str, r: Rect) -> StackEntry {
        StackEntry {
            window: 0,
            rect: r,
            app: Some(app.to_owned()),
        }
    }

    #[test]
    fn window_above_is_cut_out_and_below_is_not() {
        let stack = vec![
            entry("Below", Rect::new(0, 0, 100, 100)),
            entry("Shared", Rect::new(10, 10, 50, 50)),
            entry("Secret", Rect::new(40, 40, 50, 50)),
            entry(WATERMARK_CLASS, Rect::new(0, 0, 1000, 1000)),
        ];
        let r = visible_region(&stack, &["Shared".to_owned()]);
        assert!(r.contains(10, 10));
        assert!(r.contains(39, 59));
        assert!(!r.contains(40, 40));
        assert!(!r.contains(5, 5));
        assert_eq!(r.area(), 2500 - 400);
    }

    #[test]
    fn black_out_keeps_only_region() {
        let mut f = Frame {
            number: 1,
            width: 4,
            height: 2,
            stride: 20,
            origin: (100, 50),
            data: vec![7; 40],
            damage: vec![],
        };
        black_out_outside(&mut f, &Region::from_rect(Rect::new(101, 51, 2, 5)));
        for y in 0..2 {
            for x in 0..4 {
                let px = &f.data[y * 20 + x * 4..y * 20 + x * 4 + 4];
                let inside = y == 1 && (1..3).contains(&x);
                assert_eq!(px, if inside { [7; 4] } else { [0; 4] }, "{x},{y}");
            }
        }
        // Padding beyond the row is left alone.
        assert_eq!(f.data[16], 7);
    }
}
