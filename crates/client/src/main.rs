//! `lotse`: the customer client. A customer downloads it (stamped by the
//! relay), runs it, chats with a technician, closes the window — and the
//! program removes itself.
//!
//! `lotse lotse://join?key=KEY` (the web chat's link, opened by the
//! browser through the handler `installer/linux/install.sh` registers)
//! continues a web chat session in this client. Only that exact form is
//! accepted; anything else is refused before any window or network work.
//! An installed client (see `stamp::is_installed`) stays; a download
//! never registers anything and always removes itself.
//!
//! Shape: `app` (egui drawing) ⇄ channels ⇄ `net` (tokio thread: link,
//! files, notifications); `session` is the state machine both share;
//! `stamp` says where to connect; `cleanup` removes what we wrote.
//!
//! Architecture invariant: the UI thread never does IO; everything the
//! client writes lives in the one directory it creates at start.

mod app;
mod cleanup;
mod control;
mod files;
mod i18n;
mod net;
mod nudge;
mod picker;
mod preview;
mod session;
#[cfg(windows)]
mod session_end;
mod share;
mod share_picker;
mod signals;
mod stamp;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use lotse_protocol::Lang;
use tracing_subscriber::fmt::writer::MakeWriterExt as _;

use crate::session::{Failure, Session, StampFault};
use crate::stamp::TargetError;
use lotse_protocol::stamp::StampError;

/// Lotse remote support — customer client.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Development: connect to this relay (`wss://host:port`) instead of
    /// the stamped one; joins the public queue.
    #[arg(long, requires = "pin")]
    relay: Option<String>,
    /// Development: SHA-256 (hex) of the relay's certificate.
    #[arg(long, requires = "relay")]
    pin: Option<String>,
    /// UI language (`de` or `en`); default: the system's.
    #[arg(long)]
    lang: Option<String>,
    /// A `lotse://join?key=KEY` link from the web chat: continue that
    /// session here.
    link: Option<String>,
}

fn main() -> ExitCode {
    // Before any thread exists: keep Mesa from writing a shader cache into
    // the customer's home directory (nothing of ours may remain).
    // SAFETY: no other thread runs yet.
    unsafe {
        std::env::set_var("MESA_SHADER_CACHE_DISABLE", "true");
        std::env::set_var("MESA_GLSL_CACHE_DISABLE", "true");
    }
    let args = Args::parse();
    // A link is checked before anything else happens: a bad one changes
    // nothing (no window, no files, no network, no self-removal).
    let key = match args.link.as_deref().map(stamp::parse_link).transpose() {
        Ok(key) => key,
        Err(e) => {
            eprintln!("lotse: {e}");
            return ExitCode::from(2);
        }
    };

    // The one directory this client owns: its log.
    let owned_dir = tempfile::Builder::new()
        .prefix("lotse-")
        .tempdir()
        .map(tempfile::TempDir::keep)
        .ok();
    let log = init_logging(owned_dir.as_deref());
    if let Some(dir) = &owned_dir {
        tracing::info!("client files in {}", dir.display());
    }

    let exe = std::env::current_exe().ok();
    let tail = exe.as_deref().map(stamp::read_tail);
    let stamped = matches!(&tail, Some(Ok(t)) if stamp::looks_stamped(t));
    let installed = exe
        .as_deref()
        .zip(stamp::install_marker())
        .is_some_and(|(exe, marker)| stamp::is_installed(exe, &marker));
    if installed {
        tracing::info!("installed client: it stays after the session");
    }
    let target = match (&args.relay, &args.pin) {
        (Some(relay), Some(pin)) => stamp::target_from_args(relay, pin).map(|mut t| {
            t.elevation_key.clone_from(&key);
            t
        }),
        _ => match tail {
            Some(Ok(tail)) => match &key {
                Some(key) => stamp::target_for_link(&tail, key),
                None => match stamp::target_from_tail(&tail, stamp::now_secs()) {
                    Err(TargetError::Stamp(StampError::Expired)) if installed => {
                        stamp::target_public(&tail)
                    }
                    other => other,
                },
            },
            Some(Err(e)) => Err(e),
            None => Err(TargetError::Io("unknown executable path".into())),
        },
    };
    if key.is_some() && target.is_ok() {
        tracing::info!("started by a lotse:// link: continuing a web chat session");
    }

    let lang = args
        .lang
        .as_deref()
        .map(i18n::lang_of_locale)
        .or_else(i18n::system_lang)
        .or_else(|| target.as_ref().ok().and_then(|t| t.lang))
        .unwrap_or(Lang::En);
    let tr = i18n::Tr::new(lang);

    // A download removes itself; an installed client and a development
    // build do not.
    let cleanup = cleanup::Cleanup {
        exe: exe.filter(|_| stamped && !installed && args.relay.is_none()),
        dir: owned_dir,
        log,
    };
    // SIGTERM/SIGHUP/SIGINT (logout, shutdown, Ctrl+C): the window ends
    // the session and closes as if the customer closed it; the watcher
    // cleans up itself if that does not happen within a short bound.
    let shutdown = signals::Shutdown::new(cleanup);
    if let Err(e) = signals::watch(shutdown.clone()) {
        tracing::warn!("signals are not watched: {e}");
    }
    // Windows: logoff and shutdown come as window messages.
    #[cfg(windows)]
    if let Err(e) = session_end::watch(shutdown.clone()) {
        tracing::warn!("the end of the Windows session is not watched: {e}");
    }

    let result = run_window(target, lang, tr, &shutdown);
    if let Err(e) = &result {
        tracing::error!("the window could not be shown: {e}");
    }
    let removed = shutdown.clean_up().unwrap_or_default();
    tracing::info!(count = removed.len(), "cleanup finished");
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run_window(
    target: Result<stamp::Target, TargetError>,
    lang: Lang,
    tr: i18n::Tr,
    shutdown: &Arc<signals::Shutdown>,
) -> Result<(), String> {
    let shutdown = shutdown.clone();
    let session = match &target {
        Ok(_) => Session::new(os_user_name(), session::system_clock),
        Err(e) => {
            tracing::error!("cannot start a session: {e}");
            Session::failed(failure_of(e))
        }
    };
    let fallback_title = target
        .as_ref()
        .map(|t| t.site_name.clone())
        .unwrap_or_default();
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(tr.t("window-title"))
            .with_app_id("lotse")
            .with_inner_size([480.0, 640.0])
            .with_min_inner_size([360.0, 420.0]),
        ..Default::default()
    };
    eframe::run_native(
        "lotse",
        options,
        Box::new(move |cc| {
            #[cfg(windows)]
            session_end::keep_out_of_capture(cc);
            app::setup_context(&cc.egui_ctx);
            shutdown.set_context(cc.egui_ctx.clone());
            let ctx = cc.egui_ctx.clone();
            let wake: net::Waker = Arc::new(move || ctx.request_repaint());
            let (effects, events, preview) = match target {
                Ok(target) => {
                    let handle = net::start(target, lang, wake)?;
                    (handle.effects, handle.events, Some(handle.preview))
                }
                Err(_) => {
                    // No network: closed channels; the app knows.
                    let (effects, _) = tokio::sync::mpsc::channel(1);
                    let (_, events) = tokio::sync::mpsc::channel(1);
                    (effects, events, None)
                }
            };
            let mut app = app::App::new(session, tr, effects, events, fallback_title)
                .with_quit_flag(shutdown.requested());
            if let Some(preview) = preview {
                app = app.with_preview(preview);
            }
            #[cfg(debug_assertions)]
            let app = app.with_auto_offer(debug_offer());
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| e.to_string())
}

/// Debug builds only: `LOTSE_DEBUG_SEND_FILE=/path` offers that file as
/// soon as a technician serves (the end-to-end test cannot click a
/// desktop portal's file dialog). Release builds ignore it.
#[cfg(debug_assertions)]
fn debug_offer() -> Option<std::path::PathBuf> {
    std::env::var_os("LOTSE_DEBUG_SEND_FILE").map(std::path::PathBuf::from)
}

fn failure_of(e: &TargetError) -> Failure {
    match e {
        TargetError::Stamp(StampError::Missing) => Failure::Stamp(StampFault::Missing),
        TargetError::Stamp(StampError::Altered) => Failure::Stamp(StampFault::Altered),
        TargetError::Stamp(StampError::Expired) => Failure::Stamp(StampFault::Expired),
        TargetError::BadPin | TargetError::NotTls => Failure::Stamp(StampFault::Invalid),
        TargetError::Io(detail) => Failure::OwnFile(detail.clone()),
    }
}

/// The login name, to prefill the name field.
fn os_user_name() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_default()
}

/// Logs to stderr and to `client.log` in the owned directory (returned,
/// so the cleanup can close it).
fn init_logging(dir: Option<&std::path::Path>) -> Option<cleanup::LogFile> {
    // zbus warns about every short-lived portal object whose properties it
    // could not cache (harmless; the portal's answers come as results).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,lotse=debug,zbus=error"));
    let file = dir
        .and_then(|d| std::fs::File::create(d.join("client.log")).ok())
        .map(cleanup::LogFile::new);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false);
    match file.clone() {
        Some(file) => builder
            .with_writer(std::io::stderr.and(move || file.clone()))
            .init(),
        None => builder.with_writer(std::io::stderr).init(),
    }
    file
}
