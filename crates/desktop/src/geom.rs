//! Rectangles and rectangle-list regions in root-window (screen) pixels.

/// An axis-aligned rectangle. `x`/`y` may be negative (windows partly off
/// screen); an empty rectangle has zero width or height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    pub fn new(x: i32, y: i32, width: u32, height: u32) -> Self {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    /// One past the right edge.
    pub fn right(&self) -> i64 {
        i64::from(self.x) + i64::from(self.width)
    }

    /// One past the bottom edge.
    pub fn bottom(&self) -> i64 {
        i64::from(self.y) + i64::from(self.height)
    }

    pub fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    pub fn contains(&self, x: i32, y: i32) -> bool {
        x >= self.x && y >= self.y && i64::from(x) < self.right() && i64::from(y) < self.bottom()
    }

    /// The overlap of two rectangles, `None` when they do not overlap.
    pub fn intersect(&self, o: &Rect) -> Option<Rect> {
        let x0 = self.x.max(o.x);
        let y0 = self.y.max(o.y);
        let x1 = self.right().min(o.right());
        let y1 = self.bottom().min(o.bottom());
        if i64::from(x0) >= x1 || i64::from(y0) >= y1 {
            return None;
        }
        Some(Rect::from_edges(i64::from(x0), i64::from(y0), x1, y1))
    }

    fn from_edges(x0: i64, y0: i64, x1: i64, y1: i64) -> Rect {
        let clamp = |v: i64| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        let x = clamp(x0);
        let y = clamp(y0);
        let w = (x1 - i64::from(x)).clamp(0, i64::from(u32::MAX)) as u32;
        let h = (y1 - i64::from(y)).clamp(0, i64::from(u32::MAX)) as u32;
        Rect::new(x, y, w, h)
    }

    /// `self` minus `o`: up to four disjoint pieces.
    pub fn subtract(&self, o: &Rect) -> Vec<Rect> {
        let Some(cut) = self.intersect(o) else {
            return vec![*self];
        };
        let mut out = Vec::with_capacity(4);
        let (sx0, sy0, sx1, sy1) = (
            i64::from(self.x),
            i64::from(self.y),
            self.right(),
            self.bottom(),
        );
        let (cx0, cy0, cx1, cy1) = (
            i64::from(cut.x),
            i64::from(cut.y),
            cut.right(),
            cut.bottom(),
        );
        if cy0 > sy0 {
            out.push(Rect::from_edges(sx0, sy0, sx1, cy0));
        }
        if cy1 < sy1 {
            out.push(Rect::from_edges(sx0, cy1, sx1, sy1));
        }
        if cx0 > sx0 {
            out.push(Rect::from_edges(sx0, cy0, cx0, cy1));
        }
        if cx1 < sx1 {
            out.push(Rect::from_edges(cx1, cy0, sx1, cy1));
        }
        out
    }

    /// The same rectangle moved by (`dx`, `dy`).
    pub fn translate(&self, dx: i32, dy: i32) -> Rect {
        Rect::new(
            self.x.saturating_add(dx),
            self.y.saturating_add(dy),
            self.width,
            self.height,
        )
    }
}

/// A set of pixels, kept as disjoint rectangles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Region {
    rects: Vec<Rect>,
}

impl Region {
    pub fn new() -> Self {
        Region::default()
    }

    pub fn from_rect(r: Rect) -> Self {
        let mut g = Region::new();
        g.add(r);
        g
    }

    /// The disjoint rectangles making up the region.
    pub fn rects(&self) -> &[Rect] {
        &self.rects
    }

    pub fn is_empty(&self) -> bool {
        self.rects.is_empty()
    }

    /// Number of pixels in the region.
    pub fn area(&self) -> u64 {
        self.rects
            .iter()
            .map(|r| u64::from(r.width) * u64::from(r.height))
            .sum()
    }

    /// Union with a rectangle.
    pub fn add(&mut self, r: Rect) {
        if r.is_empty() {
            return;
        }
        self.subtract(r);
        self.rects.push(r);
    }

    /// Removes a rectangle.
    pub fn subtract(&mut self, r: Rect) {
        if r.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(self.rects.len() + 4);
        for a in &self.rects {
            out.extend(a.subtract(&r));
        }
        self.rects = out;
    }

    /// Keeps only what is also in `other`.
    pub fn intersect(&self, other: &Region) -> Region {
        let mut rects = Vec::new();
        for a in &self.rects {
            for b in &other.rects {
                if let Some(c) = a.intersect(b) {
                    rects.push(c);
                }
            }
        }
        Region { rects }
    }

    /// Keeps only what lies inside `r`.
    pub fn clip(&self, r: &Rect) -> Region {
        Region {
            rects: self.rects.iter().filter_map(|a| a.intersect(r)).collect(),
        }
    }

    pub fn contains(&self, x: i32, y: i32) -> bool {
        self.rects.iter().any(|r| r.contains(x, y))
    }

    /// The region moved by (`dx`, `dy`).
    pub fn translate(&self, dx: i32, dy: i32) -> Region {
        Region {
            rects: self.rects.iter().map(|r| r.translate(dx, dy)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtract_leaves_a_frame() {
        let mut g = Region::from_rect(Rect::new(0, 0, 10, 10));
        g.subtract(Rect::new(2, 2, 4, 4));
        assert_eq!(g.area(), 100 - 16);
        assert!(!g.contains(3, 3));
        assert!(g.contains(0, 0));
        assert!(g.contains(9, 9));
        assert!(g.contains(6, 3));
    }

    #[test]
    fn union_stays_disjoint() {
        let mut g = Region::new();
        g.add(Rect::new(0, 0, 10, 10));
        g.add(Rect::new(5, 5, 10, 10));
        assert_eq!(g.area(), 100 + 100 - 25);
    }

    #[test]
    fn intersect_and_clip() {
        let a = Region::from_rect(Rect::new(0, 0, 10, 10));
        let b = Region::from_rect(Rect::new(5, -5, 10, 10));
        assert_eq!(a.intersect(&b).area(), 25);
        assert_eq!(a.clip(&Rect::new(-3, -3, 5, 5)).area(), 4);
    }

    #[test]
    fn huge_rects_do_not_overflow() {
        let r = Rect::new(i32::MAX - 1, i32::MAX - 1, u32::MAX, u32::MAX);
        let s = Rect::new(i32::MIN, i32::MIN, u32::MAX, u32::MAX);
        let _ = r.subtract(&s);
        let _ = s.subtract(&r);
        assert!(r.contains(i32::MAX - 1, i32::MAX - 1));
    }
}
