//! The Windows backend (Win32): screen capture with GDI for now. DXGI
//! Desktop Duplication (the fast path on real Windows), the application
//! list, the mask, the cursor and the watermark follow (issue 12); until
//! then the client does not build for Windows.

pub mod capture;
