//! The Windows backend: capture falls back to GDI where DXGI Desktop
//! Duplication is unavailable (Wine) and shows a window of a known colour
//! pixel for pixel and reports its closing as damage; the application list
//! shows another program (Wine's notepad) with its icon and never our own
//! windows; the app mask shows that program and blacks out everything
//! else, our own window over it included. Runs under Wine in CI
//! (scripts/windows.sh test).

use std::process::{Child, Command};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use lotse_desktop::{
    Capture, CaptureConfig, CursorTracker, Frame, Icon, Mask, Watermark, list_apps, monitors,
};
use windows::Win32::Foundation::RECT;
use windows::Win32::Foundation::{COLORREF, HWND, LPARAM, LRESULT, WPARAM};
use windows::Win32::Graphics::Gdi::CreateSolidBrush;
use windows::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
use windows::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DefWindowProcW, DestroyWindow, DispatchMessageW, FindWindowW, GWL_EXSTYLE,
    GetMessageW, GetWindowLongW, GetWindowRect, IDC_ARROW, LoadCursorW, MSG, PostMessageW,
    PostQuitMessage, RegisterClassW, SetCursorPos, WM_CLOSE, WM_DESTROY, WNDCLASSW, WS_EX_LAYERED,
    WS_EX_NOACTIVATE, WS_EX_TOPMOST, WS_EX_TRANSPARENT, WS_POPUP, WS_VISIBLE,
};
use windows::core::{s, w};

const LONG: Duration = Duration::from_secs(60);
/// The test window: where, how big, which colour.
const AT: (i32, i32) = (200, 150);
const SIZE: (i32, i32) = (240, 160);
const BLUE: (u8, u8, u8) = (0x33, 0x66, 0xcc);

unsafe extern "system" fn window_proc(
    hwnd: HWND,
    msg: u32,
    wparam: WPARAM,
    lparam: LPARAM,
) -> LRESULT {
    // SAFETY: the standard handling of a window we created.
    unsafe {
        match msg {
            WM_CLOSE => {
                let _ = DestroyWindow(hwnd);
                LRESULT(0)
            }
            WM_DESTROY => {
                PostQuitMessage(0);
                LRESULT(0)
            }
            _ => DefWindowProcW(hwnd, msg, wparam, lparam),
        }
    }
}

/// Whether this runs under Wine (its ntdll exports `wine_get_version`).
fn under_wine() -> bool {
    // SAFETY: looks up an export of a module every process has loaded.
    unsafe {
        GetModuleHandleW(w!("ntdll.dll"))
            .is_ok_and(|ntdll| GetProcAddress(ntdll, s!("wine_get_version")).is_some())
    }
}

/// The tests share one desktop: one at a time.
static DESKTOP: Mutex<()> = Mutex::new(());

/// A borderless topmost window filled with `BLUE` (its class brush) at
/// `at`, with its own message loop on its own thread; sends its handle.
fn blue_window(at: (i32, i32), created: mpsc::Sender<isize>) {
    // SAFETY: plain window creation; the loop runs until WM_DESTROY.
    unsafe {
        let instance = GetModuleHandleW(None).expect("module handle");
        let class = WNDCLASSW {
            lpfnWndProc: Some(window_proc),
            hInstance: instance.into(),
            lpszClassName: w!("LotseBlue"),
            hCursor: LoadCursorW(None, IDC_ARROW).expect("the arrow"),
            hbrBackground: CreateSolidBrush(COLORREF(
                u32::from(BLUE.0) | u32::from(BLUE.1) << 8 | u32::from(BLUE.2) << 16,
            )),
            ..Default::default()
        };
        // Registered once per process; a second test finds it there.
        RegisterClassW(&class);
        let hwnd = CreateWindowExW(
            WS_EX_TOPMOST,
            w!("LotseBlue"),
            w!("Lotse test window"),
            WS_POPUP | WS_VISIBLE,
            at.0,
            at.1,
            SIZE.0,
            SIZE.1,
            None,
            None,
            Some(instance.into()),
            None,
        )
        .expect("CreateWindowExW");
        created.send(hwnd.0 as isize).expect("send the handle");
        let mut msg = MSG::default();
        while GetMessageW(&mut msg, None, 0, 0).as_bool() {
            DispatchMessageW(&msg);
        }
    }
}

/// Frames until one satisfies `done` (frames come only when the screen
/// changes).
fn frame_where(capture: &Capture, what: &str, done: impl Fn(&Frame) -> bool) -> Frame {
    let deadline = Instant::now() + LONG;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no frame with {what}");
        if let Some(frame) = capture.recv_timeout(left).expect("capture runs")
            && done(&frame)
        {
            return frame;
        }
    }
}

/// Start the blue window at `at`; its handle and thread.
fn show_blue(at: (i32, i32)) -> (HWND, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("blue-window".into())
        .spawn(move || blue_window(at, tx))
        .expect("window thread");
    (HWND(rx.recv().expect("the window") as *mut _), thread)
}

fn close_blue((hwnd, thread): (HWND, std::thread::JoinHandle<()>)) {
    // SAFETY: posting to a window of this process.
    unsafe { PostMessageW(Some(hwnd), WM_CLOSE, WPARAM(0), LPARAM(0)) }.expect("WM_CLOSE");
    thread.join().expect("window thread");
}

#[test]
fn gdi_capture_shows_a_window_pixel_for_pixel_and_reports_its_closing() {
    let _one = DESKTOP.lock().unwrap_or_else(PoisonError::into_inner);
    let all = monitors().expect("monitors");
    assert_eq!(all.len(), 1, "{all:?}");
    let monitor = all[0];
    assert!(monitor.primary);
    assert!(monitor.width >= 640 && monitor.height >= 480, "{monitor:?}");

    let mut capture = Capture::start(CaptureConfig::default()).expect("start");
    // Wine has no Desktop Duplication (`DuplicateOutput` is a stub): the
    // capture fell back to GDI, as its log line says. On Windows it is
    // DXGI where the session has it, and the checks below hold for it.
    if under_wine() {
        assert_eq!(capture.method(), "gdi");
    }
    let first = capture
        .recv_timeout(LONG)
        .expect("capture")
        .expect("a first frame");
    assert_eq!((first.width, first.height), (monitor.width, monitor.height));
    assert_eq!(first.damage.len(), 1, "the first frame is damaged whole");

    let blue = show_blue(AT);

    // Every pixel of the window is blue in a frame, and nothing around it.
    let inside = |f: &Frame| {
        (AT.1..AT.1 + SIZE.1)
            .all(|y| (AT.0..AT.0 + SIZE.0).all(|x| f.rgb(x as u32, y as u32) == Some(BLUE)))
    };
    let shown = frame_where(&capture, "the blue window", inside);
    assert_ne!(shown.rgb(AT.0 as u32 - 1, AT.1 as u32), Some(BLUE));
    assert_ne!(shown.rgb(AT.0 as u32, (AT.1 + SIZE.1) as u32), Some(BLUE));
    assert!(
        shown.damage.iter().any(|r| r.contains(AT.0, AT.1)),
        "the window's area is damage: {:?}",
        shown.damage
    );

    // Closed: a later frame has its area damaged and no blue there.
    close_blue(blue);
    let gone = frame_where(&capture, "the window gone", |f| {
        f.rgb((AT.0 + 10) as u32, (AT.1 + 10) as u32) != Some(BLUE)
    });
    assert!(
        gone.damage.iter().any(|r| r.contains(AT.0 + 10, AT.1 + 10)),
        "{:?}",
        gone.damage
    );

    capture.stop();
    assert!(capture.try_recv().is_err(), "nothing after stop");
}

/// Wine's notepad, killed on drop.
struct Notepad(Child);

impl Drop for Notepad {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether any pixel of `frame` has the colour `rgb`.
fn has_colour(frame: &Frame, rgb: (u8, u8, u8)) -> bool {
    (0..frame.height).any(|y| (0..frame.width).any(|x| frame.rgb(x, y) == Some(rgb)))
}

#[test]
fn another_program_is_listed_and_masked_and_our_own_window_never_shows() {
    let _one = DESKTOP.lock().unwrap_or_else(PoisonError::into_inner);
    let _notepad = Notepad(Command::new("notepad.exe").spawn().expect("start notepad"));
    let deadline = Instant::now() + LONG;
    let notepad = loop {
        let apps = list_apps().expect("list_apps");
        if let Some(app) = apps
            .into_iter()
            .find(|a| a.id.eq_ignore_ascii_case("notepad"))
        {
            break app;
        }
        assert!(Instant::now() < deadline, "notepad never listed");
        std::thread::sleep(Duration::from_millis(100));
    };
    let w = &notepad.windows[0];
    assert!(w.title.contains("Notepad"), "{w:?}");
    assert_is_a_picture(notepad.icon.as_ref().expect("notepad has an icon"));
    let centre = (w.x + w.width as i32 / 2, w.y + w.height as i32 / 2);
    // Inside notepad's text area (its frame is not drawn under Wine
    // without a window manager: black there is right).
    let probe = (w.x + 30, w.y + 60);

    // Our own window, over the middle of notepad: never listed.
    let blue = show_blue((centre.0 - SIZE.0 / 2, centre.1 - SIZE.1 / 2));
    let own = std::env::current_exe().expect("own exe");
    let own = own
        .file_stem()
        .expect("stem")
        .to_string_lossy()
        .into_owned();
    assert!(
        list_apps()
            .expect("list_apps")
            .iter()
            .all(|a| a.id != own && a.windows.iter().all(|w| w.title != "Lotse test window")),
        "our own window is listed"
    );

    // Masked to notepad: its window shows (not black), everything else —
    // the desktop around it and our blue window over it — is black.
    let mask = Arc::new(Mask::new(["notepad"]).expect("mask"));
    assert!(mask.contains(probe.0, probe.1), "{:?}", mask.region());
    assert!(
        !mask.contains(centre.0, centre.1),
        "our window covers the centre"
    );
    let mut capture = Capture::start(CaptureConfig {
        mask: Some(mask.clone()),
        ..CaptureConfig::default()
    })
    .expect("start");
    let frame = frame_where(&capture, "notepad around our window", |f| {
        f.rgb(centre.0 as u32, centre.1 as u32) == Some((0, 0, 0))
            && f.rgb(probe.0 as u32, probe.1 as u32) != Some((0, 0, 0))
    });
    assert!(
        !has_colour(&frame, BLUE),
        "our window shows in a masked frame"
    );
    let outside = (0..frame.height)
        .flat_map(|y| (0..frame.width).map(move |x| (x, y)))
        .filter(|&(x, y)| !mask.contains(x as i32, y as i32))
        .find(|&(x, y)| frame.rgb(x, y) != Some((0, 0, 0)));
    assert_eq!(outside, None, "a pixel outside notepad is not black");

    // Our window goes: notepad's middle shows.
    close_blue(blue);
    frame_where(&capture, "notepad's middle", |f| {
        f.rgb(centre.0 as u32, centre.1 as u32) != Some((0, 0, 0))
    });
    capture.stop();

    // Our watermark lies over the whole screen but covers nothing: it only
    // lays our text over the chosen app (as on X11).
    let watermark = Watermark::show("support session in progress").expect("watermark");
    assert!(
        mask.refresh()
            .expect("refresh")
            .contains(centre.0, centre.1),
        "the watermark blacked out notepad: {:?}",
        mask.region()
    );
    drop(watermark);
}

/// A 32×32 RGBA icon that shows something: some pixels opaque, not all in
/// one colour.
fn assert_is_a_picture(icon: &Icon) {
    assert_eq!((icon.width, icon.height), (32, 32));
    assert_eq!(icon.rgba.len(), 32 * 32 * 4);
    let opaque: Vec<&[u8]> = icon.rgba.chunks_exact(4).filter(|p| p[3] > 0).collect();
    assert!(opaque.len() > 32, "{} opaque pixels", opaque.len());
    assert!(
        opaque.iter().any(|p| p[..3] != opaque[0][..3]),
        "one flat colour: {:?}",
        opaque[0]
    );
}

#[test]
fn the_pointer_is_where_it_was_put_and_has_an_image() {
    let _one = DESKTOP.lock().unwrap_or_else(PoisonError::into_inner);
    let blue = show_blue(AT);
    let tracker = CursorTracker::new().expect("tracker");
    let at = (AT.0 + 40, AT.1 + 30);
    // SAFETY: moves the pointer; no memory involved.
    unsafe { SetCursorPos(at.0, at.1) }.expect("SetCursorPos");
    assert_eq!(tracker.position().expect("position"), at);
    // Over our window, whose class cursor is the arrow.
    let deadline = Instant::now() + LONG;
    let image = loop {
        match tracker.image() {
            Ok(image) => break image,
            Err(e) => assert!(Instant::now() < deadline, "no pointer image: {e}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        image.width >= 8 && image.height >= 8,
        "{}x{}",
        image.width,
        image.height
    );
    assert!(image.hot_x < image.width && image.hot_y < image.height);
    assert_eq!(image.rgba.len(), (image.width * image.height * 4) as usize);
    let opaque = image.rgba.chunks_exact(4).filter(|p| p[3] > 0).count();
    let clear = image.rgba.chunks_exact(4).filter(|p| p[3] == 0).count();
    assert!(
        opaque > 10 && clear > 10,
        "an arrow has shape: {opaque} opaque, {clear} clear"
    );
    close_blue(blue);
}

#[test]
fn the_watermark_covers_the_monitor_click_through_and_goes_when_dropped() {
    let _one = DESKTOP.lock().unwrap_or_else(PoisonError::into_inner);
    let find = || {
        // SAFETY: a lookup by class name.
        unsafe { FindWindowW(w!("LotseWatermark"), None) }
            .ok()
            .filter(|h| !h.is_invalid())
    };
    assert!(find().is_none());
    let mark = Watermark::show("Fernwartung läuft").expect("show");
    let hwnd = find().expect("the watermark window");
    assert_eq!(mark.window_id(), hwnd.0 as usize as u32);
    // SAFETY: queries of a window of this process.
    let (style, rect) = unsafe {
        let mut r = RECT::default();
        GetWindowRect(hwnd, &mut r).expect("rect");
        (GetWindowLongW(hwnd, GWL_EXSTYLE) as u32, r)
    };
    for (flag, name) in [
        (WS_EX_LAYERED, "layered"),
        (WS_EX_TRANSPARENT, "click-through"),
        (WS_EX_TOPMOST, "topmost"),
        (WS_EX_NOACTIVATE, "never focused"),
    ] {
        assert_ne!(style & flag.0, 0, "not {name}: {style:#x}");
    }
    let m = monitors().expect("monitors")[0];
    assert_eq!(
        (
            rect.left,
            rect.top,
            rect.right - rect.left,
            rect.bottom - rect.top
        ),
        (m.x, m.y, m.width as i32, m.height as i32)
    );
    drop(mark);
    assert!(find().is_none(), "the watermark stayed");
}
