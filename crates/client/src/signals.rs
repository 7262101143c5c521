//! SIGTERM, SIGHUP and SIGINT (logout, shutdown, Ctrl+C in a terminal) —
//! on Windows the console's Ctrl+C, Ctrl+Break, close, logoff and shutdown
//! events —: the client ends the session on the relay and removes itself,
//! as after a normal close. The watcher thread sets the quit flag the window acts on
//! (end without the survey, wait for the relay's acknowledgement, close;
//! then `main` cleans up). Should the window not get there within
//! [`GRACE`] (no display any more, a hung frame), the watcher removes what
//! the client wrote itself and exits.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::cleanup::{Cleanup, Removal};

/// How long the window gets to end the session and close after a signal:
/// the end's flush ([`crate::net::FLUSH_TIMEOUT`]) and a little more.
pub const GRACE: Duration = Duration::from_secs(8);

/// What a signal and the normal end share: the quit flag, the window's
/// context (to wake it) and the one cleanup.
pub struct Shutdown {
    requested: Arc<AtomicBool>,
    ctx: OnceLock<egui::Context>,
    cleanup: Mutex<Option<Cleanup>>,
    cleaned: AtomicBool,
}

impl Shutdown {
    pub fn new(cleanup: Cleanup) -> Arc<Self> {
        Arc::new(Self {
            requested: Arc::new(AtomicBool::new(false)),
            ctx: OnceLock::new(),
            cleanup: Mutex::new(Some(cleanup)),
            cleaned: AtomicBool::new(false),
        })
    }

    /// The flag the window checks every frame.
    pub fn requested(&self) -> Arc<AtomicBool> {
        self.requested.clone()
    }

    /// The window's context, to wake it when a signal comes.
    pub fn set_context(&self, ctx: egui::Context) {
        let _ = self.ctx.set(ctx);
    }

    /// Remove what the client wrote; only the first call does anything
    /// (later ones: `None`).
    pub fn clean_up(&self) -> Option<Vec<Removal>> {
        let cleanup = self
            .cleanup
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let removed = cleanup.map(|c| c.run());
        if removed.is_some() {
            self.cleaned.store(true, Ordering::SeqCst);
        }
        removed
    }

    /// Whether the cleanup has run to its end.
    #[cfg(windows)]
    pub fn is_cleaned_up(&self) -> bool {
        self.cleaned.load(Ordering::SeqCst)
    }

    /// Ask the window to end the session and close (and wake it).
    pub(crate) fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        if let Some(ctx) = self.ctx.get() {
            ctx.request_repaint();
        }
    }
}

/// Watch the signals on a thread of its own (registered before this returns).
pub fn watch(shutdown: Arc<Shutdown>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stop = runtime.block_on(stop_signals())?;
    std::thread::Builder::new()
        .name("lotse-signals".into())
        .spawn(move || {
            runtime.block_on(async {
                let name = stop.await;
                tracing::info!("{name}: ending the session and removing the program");
                shutdown.request();
                tokio::time::sleep(GRACE).await;
                // `main` would have ended the process by now.
                tracing::warn!("the window did not close after {name}: cleaning up here");
                if shutdown.clean_up().is_some() {
                    std::process::exit(1);
                }
                // Otherwise `main` is cleaning up and ends the process.
            });
        })?;
    Ok(())
}

/// The first of the signals that end the session; its name.
type StopSignal = Pin<Box<dyn Future<Output = &'static str> + Send>>;

/// Registers the signals that end the session (before it returns).
#[cfg(unix)]
async fn stop_signals() -> std::io::Result<StopSignal> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(Box::pin(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = hup.recv() => "SIGHUP",
            _ = int.recv() => "SIGINT",
        }
    }))
}

/// Registers the console events that end the session (before it returns).
/// A program started without a console gets logoff and shutdown as window
/// messages instead: `session_end.rs` answers those.
#[cfg(windows)]
async fn stop_signals() -> std::io::Result<StopSignal> {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close, ctrl_logoff, ctrl_shutdown};
    let mut c = ctrl_c()?;
    let mut brk = ctrl_break()?;
    let mut close = ctrl_close()?;
    let mut logoff = ctrl_logoff()?;
    let mut shutdown = ctrl_shutdown()?;
    Ok(Box::pin(async move {
        tokio::select! {
            _ = c.recv() => "Ctrl+C",
            _ = brk.recv() => "Ctrl+Break",
            _ = close.recv() => "console close",
            _ = logoff.recv() => "logoff",
            _ = shutdown.recv() => "shutdown",
        }
    }))
}
