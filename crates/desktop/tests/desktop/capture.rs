//! Screen capture under Xvfb.

use lotse_desktop::{Capture, CaptureConfig, Rect, monitors};

use crate::support::{Xvfb, frame_where, px};

const RED: u32 = 0xff0000;
const BLUE: u32 = 0x0000ff;
const GREY: u32 = 0x808080;

#[test]
fn monitors_lists_the_screen() {
    let _x = Xvfb::start(640, 480);
    let m = monitors().expect("monitors");
    assert_eq!(m.len(), 1);
    assert_eq!((m[0].x, m[0].y, m[0].width, m[0].height), (0, 0, 640, 480));
    assert!(m[0].primary);
}

#[test]
fn capture_shows_a_window_pixel_exactly() {
    let x = Xvfb::start(640, 480);
    x.set_root_colour(GREY);
    x.window("Red", 100, 50, 200, 150, RED);
    let cap = Capture::start(CaptureConfig::default()).expect("capture starts");
    assert_eq!(cap.monitor().width, 640);
    let f = frame_where(
        &cap,
        "the red window shows",
        |_| {},
        |f| px(f, 150, 100) == RED,
    );
    assert_eq!((f.width, f.height), (640, 480));
    assert!(f.stride >= 640 * 4);
    for y in 0..480 {
        for x in 0..640 {
            let inside = (100..300).contains(&x) && (50..200).contains(&y);
            assert_eq!(
                px(&f, x, y),
                if inside { RED } else { GREY },
                "pixel {x},{y}"
            );
        }
    }
}

#[test]
fn damage_reports_what_changed_and_numbers_increase() {
    let x = Xvfb::start(640, 480);
    x.set_root_colour(GREY);
    let cap = Capture::start(CaptureConfig::default()).expect("capture starts");
    let first = frame_where(&cap, "the grey screen", |_| {}, |f| px(f, 10, 10) == GREY);
    assert!(first.damage.contains(&Rect::new(0, 0, 640, 480)));
    x.window("Blue", 400, 300, 40, 30, BLUE);
    let f = frame_where(&cap, "the blue window", |_| {}, |f| px(f, 410, 310) == BLUE);
    assert!(f.number > first.number);
    let covered = |x: i32, y: i32| f.damage.iter().any(|r| r.contains(x, y));
    assert!(
        covered(400, 300) && covered(439, 329),
        "damage {:?}",
        f.damage
    );
    // Only the window changed, not the whole screen.
    let area: u64 = f
        .damage
        .iter()
        .map(|r| u64::from(r.width) * u64::from(r.height))
        .sum();
    assert!(area < 640 * 480 / 4, "damage {:?}", f.damage);
}

#[test]
fn no_frame_after_stop() {
    let x = Xvfb::start(320, 240);
    let mut cap = Capture::start(CaptureConfig::default()).expect("capture starts");
    frame_where(&cap, "any frame", |_| {}, |_| true);
    // A change is pending that would produce the next frame.
    x.window("Red", 10, 10, 50, 50, RED);
    cap.stop();
    let produced = cap.frames_produced();
    assert!(cap.try_recv().is_err(), "a frame came after stop()");
    // More changes after stop: nothing is produced any more.
    x.window("Blue", 100, 100, 50, 50, BLUE);
    x.sync();
    assert!(cap.try_recv().is_err());
    assert_eq!(cap.frames_produced(), produced);
}

#[test]
fn bad_monitor_is_a_clean_error() {
    let _x = Xvfb::start(320, 240);
    let e = Capture::start(CaptureConfig {
        monitor: 3,
        ..CaptureConfig::default()
    })
    .expect_err("no monitor 3");
    assert!(e.to_string().contains("monitor"), "{e}");
}

#[test]
fn without_damage_extension_capture_polls_and_still_sees_changes() {
    let x = Xvfb::start_with(320, 240, &["-extension", "DAMAGE"]);
    x.set_root_colour(GREY);
    let cap = Capture::start(CaptureConfig::default()).expect("capture starts");
    let first = frame_where(&cap, "the grey screen", |_| {}, |f| px(f, 10, 10) == GREY);
    x.window("Red", 100, 100, 20, 10, RED);
    let f = frame_where(&cap, "the red window", |_| {}, |f| px(f, 105, 105) == RED);
    assert!(f.number > first.number);
    // The damage found by comparing frames covers exactly the window.
    assert_eq!(f.damage, vec![Rect::new(100, 100, 20, 10)]);
}

#[test]
fn cursor_position_and_image() {
    let x = Xvfb::start(320, 240);
    let t = lotse_desktop::CursorTracker::new().expect("cursor");
    let st = std::process::Command::new("xdotool")
        .env("DISPLAY", &x.display)
        .args(["mousemove", "123", "45"])
        .status()
        .expect("xdotool");
    assert!(st.success());
    assert_eq!(t.position().expect("position"), (123, 45));
    let img = t.image().expect("image");
    assert!(img.width > 0 && img.height > 0);
    assert_eq!(img.rgba.len(), (img.width * img.height * 4) as usize);
    assert!(img.hot_x < img.width && img.hot_y < img.height);
    // Something of it is opaque.
    assert!(img.rgba.chunks(4).any(|p| p[3] == 255));
}
