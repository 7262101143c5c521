//! The Windows backend (Win32): monitors and GDI screen capture, the
//! application list and the app mask. DXGI Desktop Duplication (the fast
//! path on real Windows), the cursor and the watermark follow (issue 12);
//! until then the client does not build for Windows.

pub mod capture;
pub mod mask;
pub mod windows;
