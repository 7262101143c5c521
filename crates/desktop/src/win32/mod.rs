//! The Windows backend (Win32): monitors and GDI screen capture, the
//! pointer, the application list, the app mask and the watermark. DXGI
//! Desktop Duplication (the fast path on real Windows) follows (issue 12).

pub mod capture;
pub mod cursor;
pub mod mask;
pub mod watermark;
pub mod windows;
