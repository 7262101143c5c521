//! DXGI Desktop Duplication of one monitor: the fast path of
//! `super::capture` on real Windows.
//!
//! The DXGI output whose desktop rectangle equals the monitor's (as
//! `EnumDisplayMonitors` gives it, physical pixels) is duplicated on a
//! Direct3D 11 device of its own adapter. Each desktop image Windows
//! presents is copied on the GPU into a staging texture, and only what its
//! dirty rectangles and the destinations of its move rectangles cover is
//! read back into the frame buffer (monitor-relative, row by row, honouring
//! the texture's row pitch). A frame that only moved the pointer is no
//! change (frames never contain the pointer).
//!
//! Duplication is refused in places GDI still works — remote sessions of
//! some kinds, a rotated monitor, Wine (where `DuplicateOutput` is a stub):
//! [`Duplication::open`] then says why, and capture uses GDI. While it
//! runs, Windows may take it away (a desktop switch such as a UAC prompt
//! or the lock screen, a mode change, a full-screen program):
//! [`Stop::AccessLost`] asks the caller to open a new one.

use std::time::Duration;

use windows::Win32::Foundation::{HMODULE, RECT};
use windows::Win32::Graphics::Direct3D::D3D_DRIVER_TYPE_UNKNOWN;
use windows::Win32::Graphics::Direct3D11::{
    D3D11_CPU_ACCESS_READ, D3D11_CREATE_DEVICE_FLAG, D3D11_MAP_READ, D3D11_MAPPED_SUBRESOURCE,
    D3D11_SDK_VERSION, D3D11_TEXTURE2D_DESC, D3D11_USAGE_STAGING, D3D11CreateDevice, ID3D11Device,
    ID3D11DeviceContext, ID3D11Texture2D,
};
use windows::Win32::Graphics::Dxgi::Common::{
    DXGI_FORMAT_B8G8R8A8_UNORM, DXGI_MODE_ROTATION_IDENTITY, DXGI_MODE_ROTATION_UNSPECIFIED,
    DXGI_SAMPLE_DESC,
};
use windows::Win32::Graphics::Dxgi::{
    CreateDXGIFactory1, DXGI_ERROR_ACCESS_LOST, DXGI_ERROR_WAIT_TIMEOUT, DXGI_OUTDUPL_FRAME_INFO,
    DXGI_OUTDUPL_MOVE_RECT, IDXGIAdapter1, IDXGIFactory1, IDXGIOutput, IDXGIOutput1,
    IDXGIOutputDuplication, IDXGIResource,
};
use windows::core::Interface;

use crate::geom::Rect;
use crate::monitor::MonitorInfo;

/// Why a duplication cannot go on.
#[derive(Debug)]
pub(super) enum Stop {
    /// Windows took it away (`DXGI_ERROR_ACCESS_LOST`): open a new one.
    AccessLost,
    /// Anything else, with what failed: use GDI.
    Failed(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::AccessLost => f.write_str("DXGI took the duplication away (access lost)"),
            Stop::Failed(why) => f.write_str(why),
        }
    }
}

fn stop(what: &str, e: windows::core::Error) -> Stop {
    if e.code() == DXGI_ERROR_ACCESS_LOST {
        Stop::AccessLost
    } else {
        Stop::Failed(format!("{what} failed: {e}"))
    }
}

/// A running duplication of one monitor.
pub(super) struct Duplication {
    monitor: MonitorInfo,
    device: ID3D11Device,
    context: ID3D11DeviceContext,
    duplication: IDXGIOutputDuplication,
    /// CPU-readable copy of the desktop image, made with the first one.
    staging: Option<ID3D11Texture2D>,
    /// No desktop image was read yet: the first is read (and damaged) whole.
    fresh: bool,
    dirty: Vec<RECT>,
    moves: Vec<DXGI_OUTDUPL_MOVE_RECT>,
}

impl Duplication {
    /// Duplicates the output showing `monitor`; the error says why that is
    /// not possible.
    pub(super) fn open(monitor: &MonitorInfo) -> Result<Duplication, String> {
        // SAFETY: COM calls with valid arguments; every interface is
        // reference-counted by the `windows` crate.
        unsafe {
            let factory: IDXGIFactory1 =
                CreateDXGIFactory1().map_err(|e| format!("CreateDXGIFactory1 failed: {e}"))?;
            let (adapter, output) = find_output(&factory, monitor)?;
            let mut device = None;
            let mut context = None;
            D3D11CreateDevice(
                &adapter,
                D3D_DRIVER_TYPE_UNKNOWN,
                HMODULE::default(),
                D3D11_CREATE_DEVICE_FLAG(0),
                None,
                D3D11_SDK_VERSION,
                Some(&mut device),
                None,
                Some(&mut context),
            )
            .map_err(|e| format!("D3D11CreateDevice failed: {e}"))?;
            let (Some(device), Some(context)) = (device, context) else {
                return Err("D3D11CreateDevice gave no device".into());
            };
            let output: IDXGIOutput1 = output
                .cast()
                .map_err(|e| format!("no IDXGIOutput1 (before Windows 8): {e}"))?;
            let duplication = output
                .DuplicateOutput(&device)
                .map_err(|e| format!("DuplicateOutput failed: {e}"))?;
            let desc = duplication.GetDesc();
            if desc.Rotation != DXGI_MODE_ROTATION_IDENTITY
                && desc.Rotation != DXGI_MODE_ROTATION_UNSPECIFIED
            {
                return Err(format!("the monitor is rotated ({})", desc.Rotation.0));
            }
            if (desc.ModeDesc.Width, desc.ModeDesc.Height) != (monitor.width, monitor.height) {
                return Err(format!(
                    "the duplicated mode is {}×{}, the monitor {}×{}",
                    desc.ModeDesc.Width, desc.ModeDesc.Height, monitor.width, monitor.height
                ));
            }
            Ok(Duplication {
                monitor: *monitor,
                device,
                context,
                duplication,
                staging: None,
                fresh: true,
                dirty: Vec::new(),
                moves: Vec::new(),
            })
        }
    }

    /// The monitor duplicated.
    pub(super) fn monitor(&self) -> MonitorInfo {
        self.monitor
    }

    /// Waits up to `wait` for a new desktop image and brings `pixels` (the
    /// monitor's BGRA pixels, top row first, no padding) up to date: the
    /// damage, empty when nothing changed (also on a timeout).
    pub(super) fn next(&mut self, pixels: &mut [u8], wait: Duration) -> Result<Vec<Rect>, Stop> {
        let mut info = DXGI_OUTDUPL_FRAME_INFO::default();
        let mut resource: Option<IDXGIResource> = None;
        let millis = wait.as_millis().min(u128::from(u32::MAX)) as u32;
        // SAFETY: `info` and `resource` outlive the call.
        match unsafe {
            self.duplication
                .AcquireNextFrame(millis, &mut info, &mut resource)
        } {
            Ok(()) => {}
            Err(e) if e.code() == DXGI_ERROR_WAIT_TIMEOUT => return Ok(Vec::new()),
            Err(e) => return Err(stop("AcquireNextFrame", e)),
        }
        let read = self.read(&info, resource, pixels);
        // SAFETY: a frame was acquired above and is released once.
        let released = unsafe { self.duplication.ReleaseFrame() };
        let damage = read?;
        released.map_err(|e| stop("ReleaseFrame", e))?;
        Ok(damage)
    }

    /// Reads the acquired frame's changes into `pixels`.
    fn read(
        &mut self,
        info: &DXGI_OUTDUPL_FRAME_INFO,
        resource: Option<IDXGIResource>,
        pixels: &mut [u8],
    ) -> Result<Vec<Rect>, Stop> {
        if info.LastPresentTime == 0 {
            // Only the pointer moved or changed shape.
            return Ok(Vec::new());
        }
        let texture: ID3D11Texture2D = resource
            .ok_or_else(|| Stop::Failed("AcquireNextFrame gave no desktop image".into()))?
            .cast()
            .map_err(|e| stop("the desktop image as a texture", e))?;
        let whole = Rect::new(0, 0, self.monitor.width, self.monitor.height);
        let damage = if self.fresh {
            vec![whole]
        } else {
            match self.changes(info) {
                Ok(changed) => changed.iter().filter_map(|r| r.intersect(&whole)).collect(),
                Err(Stop::AccessLost) => return Err(Stop::AccessLost),
                // Without the rectangles, all of it may have changed.
                Err(Stop::Failed(_)) => vec![whole],
            }
        };
        if damage.is_empty() {
            return Ok(damage);
        }
        let staging = self.staging(&texture)?;
        // SAFETY: both textures have the monitor's size and format (checked
        // in `staging`), so the mapping holds `height` rows of `RowPitch`
        // (at least `width × 4`) bytes; it is read only within them and
        // unmapped before it goes.
        unsafe {
            self.context.CopyResource(&staging, &texture);
            let mut mapped = D3D11_MAPPED_SUBRESOURCE::default();
            self.context
                .Map(&staging, 0, D3D11_MAP_READ, 0, Some(&mut mapped))
                .map_err(|e| stop("Map of the staging texture", e))?;
            let pitch = mapped.RowPitch as usize;
            let stride = self.monitor.width as usize * 4;
            if mapped.pData.is_null() || pitch < stride {
                self.context.Unmap(&staging, 0);
                return Err(Stop::Failed(format!(
                    "the mapped desktop image has rows of {pitch} bytes, not {stride}"
                )));
            }
            let image = std::slice::from_raw_parts(
                mapped.pData.cast::<u8>(),
                pitch * (self.monitor.height as usize - 1) + stride,
            );
            for r in &damage {
                let (x, bytes) = (r.x as usize * 4, r.width as usize * 4);
                for y in r.y as usize..r.bottom() as usize {
                    pixels[y * stride + x..][..bytes]
                        .copy_from_slice(&image[y * pitch + x..][..bytes]);
                }
            }
            self.context.Unmap(&staging, 0);
        }
        self.fresh = false;
        Ok(damage)
    }

    /// The rectangles the frame changed: its dirty rectangles and where its
    /// move rectangles moved pixels to (monitor-relative).
    fn changes(&mut self, info: &DXGI_OUTDUPL_FRAME_INFO) -> Result<Vec<Rect>, Stop> {
        let bytes = info.TotalMetadataBufferSize;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        // SAFETY: `fill` sizes each buffer to the bytes it passes.
        let (moved, dirty) = unsafe {
            let moved = fill(
                &mut self.moves,
                bytes,
                "GetFrameMoveRects",
                |n, at, written| self.duplication.GetFrameMoveRects(n, at, written),
            )?;
            let dirty = fill(
                &mut self.dirty,
                bytes,
                "GetFrameDirtyRects",
                |n, at, written| self.duplication.GetFrameDirtyRects(n, at, written),
            )?;
            (moved, dirty)
        };
        Ok(moved
            .iter()
            .map(|m| m.DestinationRect)
            .chain(dirty.iter().copied())
            .map(super::rect)
            .collect())
    }

    /// The staging texture, made like the desktop image `texture`.
    fn staging(&mut self, texture: &ID3D11Texture2D) -> Result<ID3D11Texture2D, Stop> {
        if let Some(staging) = &self.staging {
            return Ok(staging.clone());
        }
        let mut desc = D3D11_TEXTURE2D_DESC::default();
        // SAFETY: `desc` outlives the call.
        unsafe { texture.GetDesc(&mut desc) };
        if desc.Format != DXGI_FORMAT_B8G8R8A8_UNORM
            || (desc.Width, desc.Height) != (self.monitor.width, self.monitor.height)
        {
            return Err(Stop::Failed(format!(
                "the desktop image is {}×{} in format {}, not the monitor's {}×{} BGRA",
                desc.Width, desc.Height, desc.Format.0, self.monitor.width, self.monitor.height
            )));
        }
        let desc = D3D11_TEXTURE2D_DESC {
            MipLevels: 1,
            ArraySize: 1,
            SampleDesc: DXGI_SAMPLE_DESC {
                Count: 1,
                Quality: 0,
            },
            Usage: D3D11_USAGE_STAGING,
            BindFlags: 0,
            CPUAccessFlags: D3D11_CPU_ACCESS_READ.0 as u32,
            MiscFlags: 0,
            ..desc
        };
        let mut staging = None;
        // SAFETY: `desc` describes a valid staging texture; no initial data.
        unsafe {
            self.device
                .CreateTexture2D(&desc, None, Some(&mut staging))
                .map_err(|e| stop("CreateTexture2D (staging)", e))?;
        }
        let staging =
            staging.ok_or_else(|| Stop::Failed("CreateTexture2D gave no texture".into()))?;
        self.staging = Some(staging.clone());
        Ok(staging)
    }
}

/// Sizes `buffer` to hold `bytes` and lets `get` (bytes offered, where,
/// bytes written) fill it: the part written.
///
/// # Safety
/// `get` must write at most the bytes offered to where it is told.
unsafe fn fill<'a, T: Clone + Default>(
    buffer: &'a mut Vec<T>,
    bytes: u32,
    what: &str,
    get: impl FnOnce(u32, *mut T, &mut u32) -> windows::core::Result<()>,
) -> Result<&'a [T], Stop> {
    let size = size_of::<T>();
    buffer.resize((bytes as usize).div_ceil(size), T::default());
    let mut written = 0u32;
    get(
        (buffer.len() * size) as u32,
        buffer.as_mut_ptr(),
        &mut written,
    )
    .map_err(|e| stop(what, e))?;
    Ok(&buffer[..(written as usize / size).min(buffer.len())])
}

/// The adapter and output whose desktop rectangle is exactly `monitor`'s.
///
/// # Safety
/// `factory` must be a valid factory.
unsafe fn find_output(
    factory: &IDXGIFactory1,
    monitor: &MonitorInfo,
) -> Result<(IDXGIAdapter1, IDXGIOutput), String> {
    let wanted = Rect::new(monitor.x, monitor.y, monitor.width, monitor.height);
    // SAFETY: enumeration ends at the first index DXGI has nothing for.
    unsafe {
        let mut a = 0;
        while let Ok(adapter) = factory.EnumAdapters1(a) {
            let mut o = 0;
            while let Ok(output) = adapter.EnumOutputs(o) {
                if let Ok(desc) = output.GetDesc()
                    && desc.AttachedToDesktop.as_bool()
                    && super::rect(desc.DesktopCoordinates) == wanted
                {
                    return Ok((adapter, output));
                }
                o += 1;
            }
            a += 1;
        }
    }
    Err(format!(
        "no DXGI output shows the monitor at {},{} ({}×{})",
        monitor.x, monitor.y, monitor.width, monitor.height
    ))
}
