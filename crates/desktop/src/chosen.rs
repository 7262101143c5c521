//! What every backend's `Mask` keeps: the chosen application ids and the
//! region their windows showed at the last look. The backends differ only
//! in how they look (the window stack, the focus).

use std::sync::{PoisonError, RwLock};

use crate::frame::{Frame, black_out_outside};
use crate::geom::Region;

pub(crate) struct Chosen {
    apps: Vec<String>,
    visible: RwLock<Region>,
}

impl Chosen {
    pub(crate) fn new<I, S>(apps: I) -> Chosen
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Chosen {
            apps: apps.into_iter().map(Into::into).collect(),
            visible: RwLock::new(Region::new()),
        }
    }

    pub(crate) fn apps(&self) -> &[String] {
        &self.apps
    }

    pub(crate) fn is_chosen(&self, app: &str) -> bool {
        self.apps.iter().any(|a| a == app)
    }

    pub(crate) fn region(&self) -> Region {
        self.visible
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_region(&self, r: Region) {
        *self.visible.write().unwrap_or_else(PoisonError::into_inner) = r;
    }

    pub(crate) fn contains(&self, x: i32, y: i32) -> bool {
        self.visible
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(x, y)
    }

    pub(crate) fn apply(&self, frame: &mut Frame) {
        black_out_outside(frame, &self.region());
    }
}

impl std::fmt::Debug for Chosen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mask")
            .field("apps", &self.apps)
            .field("visible", &self.region())
            .finish()
    }
}
