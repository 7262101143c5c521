//! The Windows backend's GDI capture: a window of a known colour on the
//! desktop is in the captured frame, pixel for pixel, and its closing is
//! reported as damage. Runs under Wine in CI (scripts/windows.sh test).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use lotse_desktop::{Capture, CaptureConfig, Frame, monitors};
use windows::Win32::Foundation::{COLORREF, HWND, LPARAM, LRESULT, WPARAM};
use windows::Win32::Graphics::Gdi::CreateSolidBrush;
use windows::Win32::System::LibraryLoader::GetModuleHandleW;
use windows::Win32::UI::WindowsAndMessaging::{
    CreateWindowExW, DefWindowProcW, DestroyWindow, DispatchMessageW, GetMessageW, MSG,
    PostMessageW, PostQuitMessage, RegisterClassW, WM_CLOSE, WM_DESTROY, WNDCLASSW, WS_EX_TOPMOST,
    WS_POPUP, WS_VISIBLE,
};
use windows::core::w;

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

/// A borderless topmost window filled with `BLUE` (its class brush), with
/// its own message loop on its own thread; sends its handle.
fn blue_window(created: mpsc::Sender<isize>) {
    // SAFETY: plain window creation; the loop runs until WM_DESTROY.
    unsafe {
        let instance = GetModuleHandleW(None).expect("module handle");
        let class = WNDCLASSW {
            lpfnWndProc: Some(window_proc),
            hInstance: instance.into(),
            lpszClassName: w!("LotseBlue"),
            hbrBackground: CreateSolidBrush(COLORREF(
                u32::from(BLUE.0) | u32::from(BLUE.1) << 8 | u32::from(BLUE.2) << 16,
            )),
            ..Default::default()
        };
        assert_ne!(RegisterClassW(&class), 0, "RegisterClassW");
        let hwnd = CreateWindowExW(
            WS_EX_TOPMOST,
            w!("LotseBlue"),
            w!("Lotse test window"),
            WS_POPUP | WS_VISIBLE,
            AT.0,
            AT.1,
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

#[test]
fn gdi_capture_shows_a_window_pixel_for_pixel_and_reports_its_closing() {
    let all = monitors().expect("monitors");
    assert_eq!(all.len(), 1, "{all:?}");
    let monitor = all[0];
    assert!(monitor.primary);
    assert!(monitor.width >= 640 && monitor.height >= 480, "{monitor:?}");

    let mut capture = Capture::start(CaptureConfig::default()).expect("start");
    let first = capture
        .recv_timeout(LONG)
        .expect("capture")
        .expect("a first frame");
    assert_eq!((first.width, first.height), (monitor.width, monitor.height));
    assert_eq!(first.damage.len(), 1, "the first frame is damaged whole");

    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("blue-window".into())
        .spawn(move || blue_window(tx))
        .expect("window thread");
    let hwnd = HWND(rx.recv().expect("the window") as *mut _);

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
    // SAFETY: posting to a window of this process.
    unsafe { PostMessageW(Some(hwnd), WM_CLOSE, WPARAM(0), LPARAM(0)) }.expect("WM_CLOSE");
    thread.join().expect("window thread");
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
