//! App-selective sharing on Windows: the part of the desktop the chosen
//! programs' windows show, from the top-level window stack (`EnumWindows`
//! order). A chosen window counts minus every window above it — any other
//! program's and our own chat window — so a masked frame never shows a
//! pixel of a window that was not chosen. Our own watermark is the one
//! exception: it only lays our text over the apps (and is kept out of
//! capture where Windows can, `WDA_EXCLUDEFROMCAPTURE`), as on X11.

use std::collections::HashMap;

use windows::Win32::UI::WindowsAndMessaging::{GetForegroundWindow, GetWindowThreadProcessId};

use super::windows::{app_id, own_pid, stack};
use crate::DesktopError;
use crate::chosen::Chosen;
use crate::frame::Frame;
pub use crate::frame::black_out_outside;
use crate::geom::Region;

/// The chosen applications and the desktop region they currently show.
pub struct Mask {
    chosen: Chosen,
}

impl std::fmt::Debug for Mask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.chosen.fmt(f)
    }
}

impl Mask {
    /// A mask for these application ids (`AppGroup::id`, the programs'
    /// file names without `.exe`); computes the region once.
    pub fn new<I, S>(apps: I) -> Result<Mask, DesktopError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mask = Mask {
            chosen: Chosen::new(apps),
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

    /// Whether process `pid` runs a chosen program (never our own). Asked
    /// anew at every look: a process id can be reused by another program.
    fn chosen_pid(&self, pid: u32, programs: &mut HashMap<u32, Option<String>>) -> bool {
        pid != own_pid()
            && programs
                .entry(pid)
                .or_insert_with(|| app_id(pid))
                .as_deref()
                .is_some_and(|a| self.is_chosen(a))
    }

    /// Recomputes the visible region from the current window stack, stores
    /// and returns it (desktop coordinates).
    pub fn refresh(&self) -> Result<Region, DesktopError> {
        let mut programs = HashMap::new();
        let mut region = Region::new();
        // Bottom to top: a chosen window adds, any other covers.
        let own = own_pid();
        for w in stack()?.iter().rev() {
            if w.overlay && w.pid == own {
                continue;
            }
            if self.chosen_pid(w.pid, &mut programs) {
                region.add(w.rect);
            } else {
                region.subtract(w.rect);
            }
        }
        self.chosen.set_region(region.clone());
        Ok(region)
    }

    /// The last computed visible region (desktop coordinates).
    pub fn region(&self) -> Region {
        self.chosen.region()
    }

    /// Whether the desktop pixel (`x`, `y`) shows a chosen application, as
    /// of the last computation.
    pub fn contains(&self, x: i32, y: i32) -> bool {
        self.chosen.contains(x, y)
    }

    /// Whether the foreground window belongs to a chosen application.
    pub fn chosen_app_has_focus(&self) -> Result<bool, DesktopError> {
        // SAFETY: plain queries; a null window gives pid 0.
        let pid = unsafe {
            let hwnd = GetForegroundWindow();
            if hwnd.is_invalid() {
                return Ok(false);
            }
            let mut pid = 0u32;
            GetWindowThreadProcessId(hwnd, Some(&mut pid));
            pid
        };
        Ok(pid != 0 && self.chosen_pid(pid, &mut HashMap::new()))
    }

    /// Blacks out every pixel of `frame` outside the last computed region.
    pub fn apply(&self, frame: &mut Frame) {
        self.chosen.apply(frame);
    }
}

impl crate::input::ChosenApps for Mask {
    fn visible_now(&self) -> Result<Region, DesktopError> {
        self.refresh()
    }
    fn chosen_app_has_focus(&self) -> Result<bool, DesktopError> {
        Mask::chosen_app_has_focus(self)
    }
}
