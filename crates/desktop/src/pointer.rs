//! The pointer's image, as every backend reports it (captured frames do
//! not contain the pointer).

/// A pointer image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorImage {
    /// Changes whenever the pointer's image changes.
    pub serial: u32,
    pub width: u32,
    pub height: u32,
    /// The pixel of the image that sits at the pointer position.
    pub hot_x: u32,
    pub hot_y: u32,
    /// `width * height * 4` bytes: red, green, blue, alpha (not
    /// premultiplied).
    pub rgba: Vec<u8>,
}
