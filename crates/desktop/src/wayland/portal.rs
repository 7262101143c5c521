//! The desktop portal: one session per share, ScreenCast alone or together
//! with RemoteDesktop (one system dialog for both).
//!
//! * **Consent:** the portal's dialog is the desktop's own question to the
//!   customer, asked only after our own Allow; a declined dialog is
//!   [`DesktopError::Declined`] and nothing is captured.
//! * **No second dialog:** every session asks for `persist_mode` 1 (valid
//!   while this program runs) and passes the newest restore token, which
//!   lives only in this process's memory — nothing is written to disk.
//!   A token is single-use: the one a `Start` returns replaces it.
//! * **One D-Bus runtime:** ashpd keeps one D-Bus connection per process,
//!   whose reader task must outlive every call, so all portal calls run on
//!   one small tokio runtime on the thread `lotse-portal`.
//! * **Closing:** dropping a [`PortalSession`] closes it at once (the
//!   desktop's sharing indicator goes away); when the desktop closes it
//!   (the customer used the system's own "stop sharing"), [`PortalSession::closed`]
//!   turns true.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use ashpd::desktop::remote_desktop::{
    Axis, DeviceType, KeyState, RemoteDesktop, SelectDevicesOptions,
};
use ashpd::desktop::screencast::{
    CursorMode, IsScreencastSession, Screencast, SelectSourcesOptions, SourceType,
};
use ashpd::desktop::{PersistMode, ResponseError, Session};
use futures_util::StreamExt;
use tokio::runtime::Handle;

use crate::DesktopError;

/// Set (to anything) to send input through the portal's `Notify*` methods
/// even where libei is offered: how input works on desktops whose portal
/// has no ConnectToEIS (GNOME before 46). It chooses the way, never
/// whether: input still needs the customer's Allow and the desktop's grant.
pub const FORCE_NOTIFY: &str = "LOTSE_WAYLAND_INPUT_NOTIFY";

/// How long a portal call that shows no dialog may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// What to ask the portal for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortalRequest {
    /// Windows the customer picks in the dialog instead of a monitor.
    pub windows: bool,
    /// Keyboard and pointer too (RemoteDesktop), in the same dialog.
    pub input: bool,
}

/// One stream of a started session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamInfo {
    pub node: u32,
    /// Position in the compositor's logical space (monitors only).
    pub position: Option<(i32, i32)>,
    pub size: Option<(i32, i32)>,
}

/// What the portal offers on this desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    /// The ScreenCast portal can share single windows.
    pub windows: bool,
    /// A RemoteDesktop portal exists (not on wlroots).
    pub remote_desktop: bool,
}

/// One input event for the portal's `Notify*` methods (RemoteDesktop
/// without libei): sent to the portal thread, which owns the session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Notify {
    /// A harmless first event: the portal loses the first events of a
    /// session otherwise.
    Prime,
    /// Absolute, in stream pixels.
    Motion {
        x: f64,
        y: f64,
    },
    /// evdev button code.
    Button {
        code: i32,
        down: bool,
    },
    /// Wheel steps.
    Axis {
        dx: i32,
        dy: i32,
    },
    Keysym {
        sym: i32,
        down: bool,
    },
}

/// A started portal session. Dropping it closes the session.
pub struct PortalSession {
    pub streams: Vec<StreamInfo>,
    /// The PipeWire connection that carries the streams.
    pub pipewire: Option<OwnedFd>,
    /// The libei socket for input (RemoteDesktop v2 and newer).
    pub eis: Option<OwnedFd>,
    /// Input was granted in the dialog (RemoteDesktop sessions).
    pub input_granted: bool,
    /// Input through the portal's `Notify*` methods (RemoteDesktop sessions).
    pub notify: Option<tokio::sync::mpsc::UnboundedSender<Notify>>,
    closed: Arc<AtomicBool>,
    close: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<Mutex<std::sync::mpsc::Receiver<()>>>,
}

impl std::fmt::Debug for PortalSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalSession")
            .field("streams", &self.streams)
            .field("eis", &self.eis.is_some())
            .field("input_granted", &self.input_granted)
            .field("closed", &self.closed())
            .finish()
    }
}

/// The restore tokens of this process: for ScreenCast-only and for
/// RemoteDesktop sessions (a token of one kind does not restore the other).
static TOKENS: Mutex<[Option<String>; 2]> = Mutex::new([None, None]);

fn token_slot(req: PortalRequest) -> usize {
    usize::from(req.input)
}

fn take_token(req: PortalRequest) -> Option<String> {
    TOKENS.lock().unwrap_or_else(PoisonError::into_inner)[token_slot(req)].take()
}

fn keep_token(req: PortalRequest, token: Option<&str>) {
    if let Some(t) = token {
        TOKENS.lock().unwrap_or_else(PoisonError::into_inner)[token_slot(req)] = Some(t.to_owned());
    }
}

/// The runtime all portal calls run on (see the module docs).
fn runtime() -> Result<&'static Handle, DesktopError> {
    static RT: OnceLock<Result<Handle, String>> = OnceLock::new();
    RT.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let handle = rt.handle().clone();
        std::thread::Builder::new()
            .name("lotse-portal".into())
            .spawn(move || rt.block_on(std::future::pending::<()>()))
            .map_err(|e| e.to_string())?;
        Ok(handle)
    })
    .as_ref()
    .map_err(|e| DesktopError::Thread(e.clone()))
}

/// Runs `fut` on the portal runtime and waits for its result.
fn block_on<T: Send + 'static>(
    fut: impl Future<Output = T> + Send + 'static,
) -> Result<T, DesktopError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv()
        .map_err(|_| DesktopError::Thread("the portal thread ended".into()))
}

fn portal_err(e: ashpd::Error) -> DesktopError {
    match e {
        ashpd::Error::Response(ResponseError::Cancelled) => DesktopError::Declined,
        e => DesktopError::Portal(e.to_string()),
    }
}

async fn timed<T>(
    what: &str,
    fut: impl Future<Output = Result<T, ashpd::Error>>,
) -> Result<T, DesktopError> {
    match tokio::time::timeout(CALL_TIMEOUT, fut).await {
        Ok(r) => r.map_err(portal_err),
        Err(_) => Err(DesktopError::Portal(format!(
            "the portal did not answer {what} within {} s",
            CALL_TIMEOUT.as_secs()
        ))),
    }
}

/// What the portal offers here; an error when there is no ScreenCast
/// portal at all.
pub fn offer() -> Result<Offer, DesktopError> {
    block_on(async {
        let sc = timed("ScreenCast", Screencast::new()).await?;
        let types = timed("AvailableSourceTypes", sc.available_source_types()).await?;
        // No RemoteDesktop portal (wlroots): input goes its own way.
        let remote_desktop = match timed("RemoteDesktop", RemoteDesktop::new()).await {
            Ok(rd) => timed("AvailableDeviceTypes", rd.available_device_types())
                .await
                .is_ok(),
            Err(_) => false,
        };
        Ok(Offer {
            windows: types.contains(SourceType::Window),
            remote_desktop,
        })
    })?
}

impl PortalSession {
    /// Opens a session and starts it: the desktop shows its dialog unless
    /// this process's restore token lets it skip it. Blocks until the
    /// customer answered the dialog.
    pub fn open(req: PortalRequest) -> Result<PortalSession, DesktopError> {
        let closed = Arc::new(AtomicBool::new(false));
        let (close_tx, close_rx) = tokio::sync::oneshot::channel();
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let flag = closed.clone();
        runtime()?.spawn(async move {
            let started = if req.input {
                start_remote_desktop(req).await
            } else {
                start_screencast(req).await
            };
            match started {
                Ok((live, session)) => {
                    let _ = ready_tx.send(Ok(session));
                    live.hold(close_rx, flag).await;
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
            let _ = done_tx.send(());
        });
        let mut session = ready_rx
            .recv()
            .map_err(|_| DesktopError::Thread("the portal thread ended".into()))??;
        session.closed = closed;
        session.close = Some(close_tx);
        session.done = Some(Mutex::new(done_rx));
        Ok(session)
    }

    /// The desktop ended the session (or it was closed).
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// A flag that turns true when the desktop ends the session.
    pub fn closed_flag(&self) -> Arc<AtomicBool> {
        self.closed.clone()
    }
}

impl Drop for PortalSession {
    fn drop(&mut self) {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        // Wait until `Close` went out, so the desktop's indicator is gone
        // when the share counts as stopped.
        if let Some(done) = self.done.take() {
            let done = done.into_inner().unwrap_or_else(PoisonError::into_inner);
            let _ = done.recv_timeout(CALL_TIMEOUT);
        }
    }
}

/// A started session on the portal thread, until closed.
enum Live {
    Cast(Session<Screencast>),
    Remote {
        session: Session<RemoteDesktop>,
        rd: RemoteDesktop,
        /// The stream absolute pointer positions refer to.
        node: u32,
        notify: Option<tokio::sync::mpsc::UnboundedReceiver<Notify>>,
    },
}

impl Live {
    async fn hold(mut self, close: tokio::sync::oneshot::Receiver<()>, closed: Arc<AtomicBool>) {
        let mut inputs = match &mut self {
            Live::Remote { notify, .. } => notify.take(),
            Live::Cast(_) => None,
        };
        let signal = match &self {
            Live::Cast(s) => s.receive_closed().await.map(|s| s.boxed()),
            Live::Remote { session, .. } => session.receive_closed().await.map(|s| s.boxed()),
        };
        let mut close = std::pin::pin!(close);
        match signal {
            Ok(mut signal) => loop {
                tokio::select! {
                    _ = &mut close => break,
                    _ = signal.next() => {
                        tracing::info!("the desktop ended the screen sharing");
                        break;
                    }
                    Some(n) = next_notify(&mut inputs) => self.notify(n).await,
                }
            },
            Err(e) => {
                tracing::warn!("cannot watch the portal session: {e}");
                let _ = close.await;
            }
        }
        closed.store(true, Ordering::Release);
        let result = match &self {
            Live::Cast(s) => s.close().await,
            Live::Remote { session, .. } => session.close().await,
        };
        if let Err(e) = result {
            tracing::debug!("closing the portal session: {e}");
        }
    }
}

async fn next_notify(
    inputs: &mut Option<tokio::sync::mpsc::UnboundedReceiver<Notify>>,
) -> Option<Notify> {
    match inputs {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Live {
    /// One `Notify*` call; a failure is logged (the injector cannot wait
    /// for the portal's answer to every event).
    async fn notify(&self, n: Notify) {
        let Live::Remote {
            session, rd, node, ..
        } = self
        else {
            return;
        };
        let state = |down| {
            if down {
                KeyState::Pressed
            } else {
                KeyState::Released
            }
        };
        let result = match n {
            Notify::Prime => {
                rd.notify_pointer_motion(session, 0.0, 0.0, Default::default())
                    .await
            }
            Notify::Motion { x, y } => {
                rd.notify_pointer_motion_absolute(session, *node, x, y, Default::default())
                    .await
            }
            Notify::Button { code, down } => {
                rd.notify_pointer_button(session, code, state(down), Default::default())
                    .await
            }
            Notify::Axis { dx, dy } => {
                let mut r = Ok(());
                if dy != 0 {
                    r = rd
                        .notify_pointer_axis_discrete(
                            session,
                            Axis::Vertical,
                            dy,
                            Default::default(),
                        )
                        .await;
                }
                if dx != 0 && r.is_ok() {
                    r = rd
                        .notify_pointer_axis_discrete(
                            session,
                            Axis::Horizontal,
                            dx,
                            Default::default(),
                        )
                        .await;
                }
                r
            }
            Notify::Keysym { sym, down } => {
                rd.notify_keyboard_keysym(session, sym, state(down), Default::default())
                    .await
            }
        };
        if let Err(e) = result {
            tracing::warn!("the portal refused input ({n:?}): {e}");
        }
    }
}

fn empty_session(streams: &[ashpd::desktop::screencast::Stream]) -> PortalSession {
    PortalSession {
        streams: streams
            .iter()
            .map(|s| StreamInfo {
                node: s.pipe_wire_node_id(),
                position: s.position(),
                size: s.size(),
            })
            .collect(),
        pipewire: None,
        eis: None,
        input_granted: false,
        notify: None,
        closed: Arc::new(AtomicBool::new(false)),
        close: None,
        done: None,
    }
}

fn sources(req: PortalRequest) -> enumflags2::BitFlags<SourceType> {
    if req.windows {
        SourceType::Window.into()
    } else {
        SourceType::Monitor.into()
    }
}

/// The pointer comes as metadata where the desktop can (the technician
/// sees it drawn by the console, the picture stays exact), else it is
/// left out.
async fn cursor_mode(sc: &Screencast) -> CursorMode {
    match sc.available_cursor_modes().await {
        Ok(m) if m.contains(CursorMode::Metadata) => CursorMode::Metadata,
        _ => CursorMode::Hidden,
    }
}

/// Chooses monitor or window, and the pointer mode. `persist`: the
/// restore token for a ScreenCast-only session (`Some(None)`: none yet);
/// `None` in a RemoteDesktop session, where SelectDevices carries it.
async fn select_sources(
    sc: &Screencast,
    session: &Session<impl IsScreencastSession>,
    req: PortalRequest,
    persist: Option<Option<&str>>,
) -> Result<(), DesktopError> {
    let mut options = SelectSourcesOptions::default()
        .set_cursor_mode(cursor_mode(sc).await)
        .set_sources(sources(req))
        .set_multiple(false);
    if let Some(token) = persist {
        options = options
            .set_persist_mode(PersistMode::Application)
            .set_restore_token(token);
    }
    timed("SelectSources", sc.select_sources(session, options))
        .await?
        .response()
        .map_err(portal_err)
}

async fn open_pipewire(
    sc: &Screencast,
    session: &Session<impl IsScreencastSession>,
) -> Result<OwnedFd, DesktopError> {
    timed(
        "OpenPipeWireRemote",
        sc.open_pipe_wire_remote(session, Default::default()),
    )
    .await
}

async fn start_screencast(req: PortalRequest) -> Result<(Live, PortalSession), DesktopError> {
    let sc = timed("ScreenCast", Screencast::new()).await?;
    let session = timed("CreateSession", sc.create_session(Default::default())).await?;
    let token = take_token(req);
    select_sources(&sc, &session, req, Some(token.as_deref())).await?;
    tracing::info!(
        restore = token.is_some(),
        windows = req.windows,
        "asking the desktop to share the screen"
    );
    // No timeout: the customer answers the desktop's dialog.
    let streams = sc
        .start(&session, None, Default::default())
        .await
        .map_err(portal_err)?
        .response()
        .map_err(portal_err)?;
    keep_token(req, streams.restore_token());
    let mut out = empty_session(streams.streams());
    out.pipewire = Some(open_pipewire(&sc, &session).await?);
    Ok((Live::Cast(session), out))
}

async fn start_remote_desktop(req: PortalRequest) -> Result<(Live, PortalSession), DesktopError> {
    let rd = timed("RemoteDesktop", RemoteDesktop::new()).await?;
    let sc = timed("ScreenCast", Screencast::new()).await?;
    let session = timed("CreateSession", rd.create_session(Default::default())).await?;
    let token = take_token(req);
    timed(
        "SelectDevices",
        rd.select_devices(
            &session,
            SelectDevicesOptions::default()
                .set_devices(DeviceType::Keyboard | DeviceType::Pointer)
                .set_persist_mode(PersistMode::Application)
                .set_restore_token(token.as_deref()),
        ),
    )
    .await?
    .response()
    .map_err(portal_err)?;
    // persist_mode belongs to SelectDevices in a RemoteDesktop session.
    select_sources(&sc, &session, req, None).await?;
    tracing::info!(
        restore = token.is_some(),
        windows = req.windows,
        "asking the desktop to share the screen and input"
    );
    let selected = rd
        .start(&session, None, Default::default())
        .await
        .map_err(portal_err)?
        .response()
        .map_err(portal_err)?;
    keep_token(req, selected.restore_token());
    let mut out = empty_session(selected.streams());
    out.input_granted = selected
        .devices()
        .intersects(DeviceType::Keyboard | DeviceType::Pointer);
    out.pipewire = Some(open_pipewire(&sc, &session).await?);
    if out.input_granted && std::env::var_os(FORCE_NOTIFY).is_none() {
        out.eis = match rd.connect_to_eis(&session, Default::default()).await {
            Ok(fd) => Some(fd),
            Err(e) => {
                tracing::info!("no libei socket from the portal ({e}); input goes through Notify*");
                None
            }
        };
    }
    let (tx, notify) = tokio::sync::mpsc::unbounded_channel();
    out.notify = out.input_granted.then_some(tx);
    let node = out.streams.first().map_or(0, |s| s.node);
    Ok((
        Live::Remote {
            session,
            rd,
            node,
            notify: Some(notify),
        },
        out,
    ))
}
