//! Wayland input and watermark, end to end, inside a session of
//! `scripts/wayland.sh` (run it with `wayland.sh exec NAME -- …`):
//!
//! * `wayland_input wlr FILE` (sway): creates the virtual keyboard and
//!   pointer, starts the session's `typed-app FILE` (foot running `cat`),
//!   clicks into it and types `Grüße, 123 €` and Return through the guard;
//!   succeeds when FILE holds exactly that line.
//! * `wayland_input eis FILE` (GNOME): the same through the portal: one
//!   RemoteDesktop session with a ScreenCast source (one dialog, answered
//!   by the session's `mutter.py answer-dialog share-with-control`), then
//!   ConnectToEIS and [`EisInjector`].
//!   With `--watermark` the layer-shell watermark is shown over the app
//!   first (a grab goes next to FILE): it must take neither click nor key.
//! * `wayland_input probe`: which of the wlroots protocols are offered.
//! * `wayland_input click X Y` (sway): a left click at layout pixel (X, Y)
//!   through [`WlrInjector`] (a test then asks sway which output got the
//!   focus).
//! * `wayland_input watermark DIR` (sway): grabs the screen with `grim`
//!   before, while and after a [`LayerWatermark`] is shown, writes the PNGs
//!   to DIR and prints how many pixels changed each time.
//!
//! Exit status 0 only when the check held.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use lotse_desktop::wayland::eis::EisInjector;
use lotse_desktop::wayland::layer::LayerWatermark;
use lotse_desktop::wayland::wlr::WlrInjector;
use lotse_desktop::{GuardedInjector, Injector, MonitorInfo};
use lotse_protocol::{InputEvent, MouseButton};

const TEXT: &str = "Grüße, 123 €";
/// How long the typed text may take to reach the file.
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [mode, file] if mode == "wlr" => wlr(Path::new(file), false),
        [mode, file, flag] if mode == "wlr" && flag == "--watermark" => wlr(Path::new(file), true),
        [mode, x, y] if mode == "click" => click(x, y),
        [mode] if mode == "probe" => {
            println!(
                "WlrInjector::available() = {}, LayerWatermark::available() = {}",
                WlrInjector::available(),
                LayerWatermark::available()
            );
            Ok(())
        }
        [mode, file] if mode == "eis" => eis(Path::new(file)),
        [mode, dir] if mode == "watermark" => watermark(Path::new(dir)),
        _ => Err(
            "usage: wayland_input wlr FILE [--watermark] | eis FILE | watermark DIR | probe | click X Y"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wayland_input: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

type Res = Result<(), String>;

/// The 1280×800 monitor of the test sessions.
fn monitor() -> MonitorInfo {
    MonitorInfo {
        index: 0,
        x: 0,
        y: 0,
        width: 1280,
        height: 800,
        primary: true,
    }
}

fn run(cmd: &mut Command) -> Res {
    let st = cmd.status().map_err(|e| format!("{cmd:?}: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?}: {st}"))
    }
}

/// Clicks into the typed-app window and types the text and Return.
fn click_and_type<I: Injector>(inj: I, file: &Path) -> Res {
    let mut g = GuardedInjector::new(inj, monitor(), None);
    g.grant();
    let t0 = Instant::now();
    for ev in [
        InputEvent::MouseMove { x: 640, y: 400 },
        InputEvent::MouseButton {
            button: MouseButton::Left,
            down: true,
        },
        InputEvent::MouseButton {
            button: MouseButton::Left,
            down: false,
        },
        InputEvent::Text { text: TEXT.into() },
        InputEvent::Key {
            key: "Return".into(),
            down: true,
        },
        InputEvent::Key {
            key: "Return".into(),
            down: false,
        },
    ] {
        if !g.apply(&ev).map_err(|e| format!("{ev:?}: {e}"))? {
            return Err(format!("the guard dropped {ev:?}"));
        }
    }
    println!("events sent in {:?}", t0.elapsed());
    let expected = format!("{TEXT}\n");
    let got = wait_for_content(file, &expected, ARRIVAL_TIMEOUT)?;
    println!(
        "{} holds {:?} ({} bytes) {:?} after the first event",
        file.display(),
        got,
        got.len(),
        t0.elapsed()
    );
    if got == expected {
        println!("OK: exactly the typed text");
        Ok(())
    } else {
        Err(format!("expected {expected:?}, file holds {got:?}"))
    }
}

/// Waits (inotify, bounded) until `file` holds `expected` or something
/// that cannot become it; returns what it holds then.
fn wait_for_content(file: &Path, expected: &str, timeout: Duration) -> Result<String, String> {
    // SAFETY: plain syscall; the descriptor is owned right away.
    let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
    if fd < 0 {
        return Err(format!("inotify: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: fresh descriptor, owned once.
    let ino = unsafe { OwnedFd::from_raw_fd(fd) };
    let cpath = std::ffi::CString::new(file.as_os_str().as_encoded_bytes())
        .map_err(|_| "NUL in the path".to_string())?;
    // SAFETY: valid descriptor and C string.
    if unsafe { libc::inotify_add_watch(ino.as_raw_fd(), cpath.as_ptr(), libc::IN_MODIFY) } < 0 {
        return Err(format!(
            "inotify on {}: {}",
            file.display(),
            std::io::Error::last_os_error()
        ));
    }
    let deadline = Instant::now() + timeout;
    loop {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let got = String::from_utf8_lossy(&bytes).into_owned();
        if got == expected || !expected.as_bytes().starts_with(&bytes) {
            return Ok(got);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(got);
        }
        let mut pfd = libc::pollfd {
            fd: ino.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(60_000) as i32) };
        let mut buf = [0u8; 4096];
        // SAFETY: drains the events into a buffer of the given size.
        unsafe { libc::read(ino.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    }
}

fn click(x: &str, y: &str) -> Res {
    let x: i32 = x.parse().map_err(|_| format!("bad x {x:?}"))?;
    let y: i32 = y.parse().map_err(|_| format!("bad y {y:?}"))?;
    let mut inj = WlrInjector::connect().map_err(|e| e.to_string())?;
    for ev in [
        InputEvent::MouseMove { x, y },
        InputEvent::MouseButton {
            button: MouseButton::Left,
            down: true,
        },
        InputEvent::MouseButton {
            button: MouseButton::Left,
            down: false,
        },
    ] {
        inj.apply(&ev).map_err(|e| format!("{ev:?}: {e}"))?;
    }
    println!("clicked at {:?}", inj.pointer().map_err(|e| e.to_string())?);
    Ok(())
}

fn wlr(file: &Path, with_watermark: bool) -> Res {
    if !WlrInjector::available() {
        return Err("no wlroots virtual keyboard/pointer here".into());
    }
    // The devices first: a headless seat gets its keyboard and pointer
    // from them, and the app must see both when it starts.
    let t0 = Instant::now();
    let inj = WlrInjector::connect().map_err(|e| e.to_string())?;
    println!(
        "virtual keyboard and pointer in {:?}: {inj:?}",
        t0.elapsed()
    );
    run(Command::new("typed-app").arg(file))?;
    // Over the app: the click and the keys must still reach it.
    let wm = if with_watermark {
        let wm = LayerWatermark::show("Lotse · Fernwartung läuft").map_err(|e| e.to_string())?;
        if let Some(dir) = file.parent() {
            run(Command::new("grim").arg(dir.join("typed-under-watermark.png")))?;
        }
        Some(wm)
    } else {
        None
    };
    let r = click_and_type(inj, file);
    drop(wm);
    r
}

fn eis(file: &Path) -> Res {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let (fd, _keep) = rt.block_on(portal_eis())?;
    println!("portal session and EIS fd in {:?}", t0.elapsed());
    let t1 = Instant::now();
    let inj = EisInjector::new(fd).map_err(|e| e.to_string())?;
    println!(
        "EIS devices resumed in {:?}: {}",
        t1.elapsed(),
        inj.describe()
    );
    run(Command::new("typed-app").arg(file))?;
    let r = click_and_type(inj, file);
    drop(rt);
    r
}

/// What keeps the portal session open.
type PortalSession = (
    ashpd::desktop::remote_desktop::RemoteDesktop,
    ashpd::desktop::Session<ashpd::desktop::remote_desktop::RemoteDesktop>,
);

/// One portal session with keyboard, pointer and a monitor (one dialog,
/// answered by the session's tool), then ConnectToEIS.
async fn portal_eis() -> Result<(OwnedFd, PortalSession), String> {
    use ashpd::desktop::remote_desktop::{
        ConnectToEISOptions, DeviceType, RemoteDesktop, SelectDevicesOptions, StartOptions,
    };
    use ashpd::desktop::screencast::{Screencast, SelectSourcesOptions, SourceType};
    use ashpd::desktop::{CreateSessionOptions, PersistMode};
    let e = |what: &'static str| move |err: ashpd::Error| format!("{what}: {err}");
    let rd = RemoteDesktop::new().await.map_err(e("RemoteDesktop"))?;
    let sc = Screencast::new().await.map_err(e("ScreenCast"))?;
    let session = rd
        .create_session(CreateSessionOptions::default())
        .await
        .map_err(e("CreateSession"))?;
    rd.select_devices(
        &session,
        SelectDevicesOptions::default()
            .set_devices(DeviceType::Keyboard | DeviceType::Pointer)
            .set_persist_mode(PersistMode::Application),
    )
    .await
    .map_err(e("SelectDevices"))?;
    sc.select_sources(
        &session,
        SelectSourcesOptions::default()
            .set_sources(Some(SourceType::Monitor.into()))
            .set_multiple(false),
    )
    .await
    .map_err(e("SelectSources"))?;
    // The dialog comes with Start: the session's tool clicks it. If the
    // tool fails, Start would wait for ever: stop waiting then.
    let mut answer = Command::new("mutter.py")
        .args(["answer-dialog", "share-with-control", "--timeout", "30"])
        .spawn()
        .map_err(|err| format!("mutter.py: {err}"))?;
    let (tx, mut answered) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("answer-dialog".into())
        .spawn(move || {
            let _ = tx.send(answer.wait());
        })
        .map_err(|err| err.to_string())?;
    let request = {
        let mut start = std::pin::pin!(rd.start(&session, None, StartOptions::default()));
        tokio::select! {
            r = &mut start => r,
            a = &mut answered => match a {
                Ok(Ok(st)) if st.success() => start.await,
                other => return Err(format!("answer-dialog did not answer: {other:?}")),
            },
        }
    };
    let devices = request
        .map_err(e("Start"))?
        .response()
        .map_err(e("Start response"))?;
    println!("portal granted devices {:?}", devices.devices());
    let fd = rd
        .connect_to_eis(&session, ConnectToEISOptions::default())
        .await
        .map_err(e("ConnectToEIS"))?;
    Ok((fd, (rd, session)))
}

/// A screenshot as RGB bytes (grim's PPM), also saved as PNG for eyes.
fn grab(dir: &Path, name: &str) -> Result<(usize, usize, Vec<u8>), String> {
    let ppm = dir.join(format!("{name}.ppm"));
    run(Command::new("grim").args(["-t", "ppm"]).arg(&ppm))?;
    run(Command::new("grim").arg(dir.join(format!("{name}.png"))))?;
    let data = std::fs::read(&ppm).map_err(|e| e.to_string())?;
    // "P6\n<w> <h>\n255\n" then RGB.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 && i < data.len() {
        while i < data.len() && data[i].is_ascii_whitespace() {
            i += 1;
        }
        let s = i;
        while i < data.len() && !data[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&data[s..i]).into_owned());
    }
    let bad = || format!("{}: not a PPM", ppm.display());
    if fields.first().map(String::as_str) != Some("P6") || fields.len() < 4 {
        return Err(bad());
    }
    let w: usize = fields[1].parse().map_err(|_| bad())?;
    let h: usize = fields[2].parse().map_err(|_| bad())?;
    let px = data.get(i + 1..).ok_or_else(bad)?.to_vec();
    if px.len() != w * h * 3 {
        return Err(bad());
    }
    Ok((w, h, px))
}

fn changed(a: &[u8], b: &[u8]) -> usize {
    a.chunks(3).zip(b.chunks(3)).filter(|(x, y)| x != y).count()
}

fn watermark(dir: &Path) -> Res {
    if !LayerWatermark::available() {
        return Err("no wlr-layer-shell here".into());
    }
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let (w, h, before) = grab(dir, "before")?;
    let t0 = Instant::now();
    let wm = LayerWatermark::show("Lotse · Fernwartung läuft").map_err(|e| e.to_string())?;
    println!(
        "overlay shown in {:?}, sizes {:?}",
        t0.elapsed(),
        wm.sizes()
    );
    let (_, _, during) = grab(dir, "during")?;
    let t1 = Instant::now();
    drop(wm);
    println!("overlay removed in {:?}", t1.elapsed());
    let (_, _, after) = grab(dir, "after")?;
    let (on, off) = (changed(&before, &during), changed(&before, &after));
    let total = w * h;
    println!(
        "{w}x{h}: {on} pixels ({:.1} %) changed with the overlay, {off} after it was dropped",
        100.0 * on as f64 / total as f64
    );
    // The text covers part of the screen, most of it stays visible.
    if on > total / 100 && on < total / 3 && off == 0 {
        println!("OK: the watermark appears and disappears");
        Ok(())
    } else {
        Err(format!("changed pixels: {on} shown, {off} after drop"))
    }
}
