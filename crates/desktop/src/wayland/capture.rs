//! A Wayland screen capture: a portal session and the PipeWire stream of
//! its one source. The portal's dialog is shown (or skipped with this
//! process's restore token) inside [`WaylandCapture::start`].

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::DesktopError;
use crate::capture_config::CaptureConfig;
use crate::frame::Frame;
use crate::monitor::MonitorInfo;

use super::portal::{PortalRequest, PortalSession};
use super::stream::{PipeWireStream, PointerState};

/// A running Wayland capture. Stopping or dropping it ends the stream and
/// closes the portal session.
pub struct WaylandCapture {
    // Field order: the stream ends before the session closes.
    stream: Option<PipeWireStream>,
    session: Option<PortalSession>,
    monitor: MonitorInfo,
    request: PortalRequest,
}

impl std::fmt::Debug for WaylandCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaylandCapture")
            .field("monitor", &self.monitor)
            .field("request", &self.request)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl WaylandCapture {
    /// Asks the portal (the desktop's dialog) and starts the stream.
    pub fn start(config: CaptureConfig) -> Result<WaylandCapture, DesktopError> {
        let request = PortalRequest {
            windows: config.windows,
            input: config.input,
        };
        let mut session = PortalSession::open(request)?;
        let Some(info) = session.streams.first().copied() else {
            return Err(DesktopError::Portal("the portal started no stream".into()));
        };
        let fd = session
            .pipewire
            .take()
            .ok_or_else(|| DesktopError::Portal("no PipeWire connection from the portal".into()))?;
        let origin = if config.windows {
            (0, 0)
        } else {
            info.position.unwrap_or((0, 0))
        };
        let stream = PipeWireStream::start(
            fd,
            info.node,
            origin,
            config.max_fps,
            config.notify.clone(),
            session.closed_flag(),
        )?;
        let (width, height) = stream.size();
        let monitor = MonitorInfo {
            index: 0,
            x: origin.0,
            y: origin.1,
            width,
            height,
            primary: true,
        };
        tracing::info!(
            width,
            height,
            windows = config.windows,
            input = session.input_granted,
            "Wayland screen sharing through the portal"
        );
        Ok(WaylandCapture {
            stream: Some(stream),
            session: Some(session),
            monitor,
            request,
        })
    }

    pub fn monitor(&self) -> &MonitorInfo {
        &self.monitor
    }

    /// True when the desktop granted keyboard and pointer in its dialog.
    pub fn input_granted(&self) -> bool {
        self.session.as_ref().is_some_and(|s| s.input_granted)
    }

    /// The libei socket of the session, once (the injector takes it).
    pub fn take_eis(&mut self) -> Option<OwnedFd> {
        self.session.as_mut()?.eis.take()
    }

    /// The portal's `Notify*` input of the session, once.
    pub fn take_notify(
        &mut self,
    ) -> Option<tokio::sync::mpsc::UnboundedSender<super::portal::Notify>> {
        self.session.as_mut()?.notify.take()
    }

    pub fn frames_produced(&self) -> u64 {
        self.stream
            .as_ref()
            .map_or(0, PipeWireStream::frames_produced)
    }

    pub fn pointer(&self) -> Option<Arc<Mutex<PointerState>>> {
        self.stream.as_ref().map(PipeWireStream::pointer_handle)
    }

    pub fn try_recv(&self) -> Result<Option<Frame>, DesktopError> {
        match &self.stream {
            Some(s) => s.slot().take(),
            None => Err(DesktopError::Capture("capture stopped".into())),
        }
    }

    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Frame>, DesktopError> {
        match &self.stream {
            Some(s) => s.slot().wait(timeout),
            None => Err(DesktopError::Capture("capture stopped".into())),
        }
    }

    /// Ends the stream and closes the portal session (the desktop's
    /// sharing indicator goes away before this returns).
    pub fn stop(&mut self) {
        if let Some(mut s) = self.stream.take() {
            s.stop();
        }
        self.session = None;
    }
}

impl Drop for WaylandCapture {
    fn drop(&mut self) {
        self.stop();
    }
}
