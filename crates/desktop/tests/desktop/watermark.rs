//! The watermark overlay: visible, on top, click-through, with and without
//! a compositor.

use lotse_desktop::{Capture, CaptureConfig, Mask, Watermark};
use x11rb::connection::Connection;
use x11rb::protocol::Event;
use x11rb::protocol::shape::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{ChangeWindowAttributesAux, ConnectionExt as _, EventMask, MapState};

use crate::support::{Xvfb, frame_where, px, wait_for};

const WHITE: u32 = 0xffffff;
const GREY: u32 = 0x909090;

/// Shows the watermark over a white window that listens for clicks, checks
/// everything a user would notice, and returns the colour seen at a point
/// covered by the text.
fn check_watermark(x: &Xvfb, expect_translucent: bool) -> u32 {
    let under = x.window("Under", 0, 0, 640, 480, WHITE);
    x.conn
        .change_window_attributes(
            under,
            &ChangeWindowAttributesAux::new().event_mask(EventMask::BUTTON_PRESS),
        )
        .expect("select clicks");
    x.sync();

    let wm = Watermark::show("Lotse · support session in progress").expect("watermark");
    assert_eq!(wm.is_translucent(), expect_translucent);
    let win = wm.window_id();
    let attrs = x
        .conn
        .get_window_attributes(win)
        .expect("attrs")
        .reply()
        .expect("attrs");
    assert!(attrs.override_redirect, "never managed by a window manager");
    assert_eq!(attrs.map_state, MapState::VIEWABLE);
    // It is on top.
    let tree = x
        .conn
        .query_tree(x.root)
        .expect("tree")
        .reply()
        .expect("tree");
    assert_eq!(tree.children.last(), Some(&win));
    // Click-through: the input shape is empty.
    let input = x
        .conn
        .shape_get_rectangles(win, shape::SK::INPUT)
        .expect("input shape")
        .reply()
        .expect("input shape");
    assert!(
        input.rectangles.is_empty(),
        "input shape {:?}",
        input.rectangles.len()
    );
    // It never has the focus.
    let focus = x
        .conn
        .get_input_focus()
        .expect("focus")
        .reply()
        .expect("focus")
        .focus;
    assert_ne!(focus, win);

    // A point covered by the text: from the bounding shape without a
    // compositor, else found in a captured frame.
    let cap = Capture::start(CaptureConfig::default()).expect("capture");
    let (tx, ty, seen) = if expect_translucent {
        let f = frame_where(
            &cap,
            "translucent text",
            |_| {},
            |f| (0..f.height).any(|y| (0..f.width).any(|x| px(f, x, y) != WHITE)),
        );
        let (tx, ty) = (0..f.height)
            .flat_map(|y| (0..f.width).map(move |x| (x, y)))
            .find(|&(x, y)| px(&f, x, y) != WHITE)
            .expect("a text pixel");
        (tx, ty, px(&f, tx, ty))
    } else {
        let b = x
            .conn
            .shape_get_rectangles(win, shape::SK::BOUNDING)
            .expect("bounding")
            .reply()
            .expect("bounding");
        let area: u64 = b
            .rectangles
            .iter()
            .map(|r| u64::from(r.width) * u64::from(r.height))
            .sum();
        assert!(
            !b.rectangles.is_empty() && area < 640 * 480 / 4,
            "text-shaped, area {area}"
        );
        let r = b.rectangles[b.rectangles.len() / 2];
        let (tx, ty) = (r.x as u32, r.y as u32);
        let f = frame_where(&cap, "the text pixel", |_| {}, |f| px(f, tx, ty) != WHITE);
        (tx, ty, px(&f, tx, ty))
    };
    // Most of the desktop stays visible (a fresh capture: the first frame
    // is the whole screen).
    drop(cap);
    let cap = Capture::start(CaptureConfig::default()).expect("capture");
    let f = frame_where(&cap, "any frame", |_| {}, |_| true);
    drop(cap);
    let white = (0..f.height)
        .flat_map(|y| (0..f.width).map(move |x| (x, y)))
        .filter(|&(x, y)| px(&f, x, y) == WHITE)
        .count();
    assert!(
        white > 640 * 480 * 3 / 4,
        "only {white} desktop pixels visible"
    );

    // A click right on the text reaches the window beneath.
    let st = std::process::Command::new("xdotool")
        .env("DISPLAY", &x.display)
        .args(["mousemove", &tx.to_string(), &ty.to_string(), "click", "1"])
        .status()
        .expect("xdotool");
    assert!(st.success());
    wait_for("the click on the window beneath", || {
        while let Some(ev) = x.conn.poll_for_event().expect("events") {
            if let Event::ButtonPress(e) = ev
                && e.event == under
            {
                return Some(());
            }
        }
        None
    });

    // The app mask ignores the watermark: the window beneath stays shared.
    let mask = Mask::new(["Under"]).expect("mask");
    assert_eq!(mask.region().area(), 640 * 480);

    // Dropping removes it.
    drop(wm);
    x.sync();
    assert!(
        x.conn
            .get_window_attributes(win)
            .expect("send")
            .reply()
            .is_err()
    );
    seen
}

#[test]
fn watermark_without_compositor_is_text_shaped_and_click_through() {
    let x = Xvfb::start(640, 480);
    let seen = check_watermark(&x, false);
    assert_eq!(seen, GREY, "solid text where it is");
}

#[test]
fn watermark_with_compositor_is_translucent_and_click_through() {
    let x = Xvfb::start(640, 480).with_compositor();
    let seen = check_watermark(&x, true);
    assert!(seen != WHITE && seen != GREY, "blended text {seen:06x}");
}

#[test]
fn app_sharing_is_not_disturbed_by_the_watermark() {
    use std::sync::Arc;
    let x = Xvfb::start(480, 360);
    x.set_root_colour(0xffff00);
    x.window("Shared", 40, 40, 200, 150, 0x00ff00);
    let wm = Watermark::show("Lotse").expect("watermark");
    let mask = Arc::new(Mask::new(["Shared"]).expect("mask"));
    let cap = Capture::start(CaptureConfig {
        mask: Some(mask),
        ..CaptureConfig::default()
    })
    .expect("capture");
    let green = |f: &lotse_desktop::Frame| {
        (0..f.height)
            .flat_map(|y| (0..f.width).map(move |x| (x, y)))
            .filter(|&(x, y)| px(f, x, y) == 0x00ff00)
            .count()
    };
    // Text covers a little of the window; most of it shows.
    let mostly_green = |f: &lotse_desktop::Frame| {
        assert!(
            green(f) > 200 * 150 / 2,
            "frame {} lost the shared window",
            f.number
        );
    };
    frame_where(
        &cap,
        "the shared window",
        |_| {},
        |f| green(f) > 200 * 150 / 2,
    );
    // Another window appears: the watermark raises itself above it.
    let other = x.window("Other", 300, 200, 50, 50, 0x0000ff);
    wait_for("the watermark back on top", || {
        let t = x.conn.query_tree(x.root).ok()?.reply().ok()?;
        (t.children.last() == Some(&wm.window_id())).then_some(())
    });
    x.move_window(other, 320, 220);
    frame_where(&cap, "a frame after the move", mostly_green, |_| true);
}

/// The bounding rectangles of `win`'s shape.
fn bounding(x: &Xvfb, win: u32) -> Vec<(i32, i32, i32, i32)> {
    x.conn
        .shape_get_rectangles(win, shape::SK::BOUNDING)
        .expect("bounding")
        .reply()
        .expect("bounding")
        .rectangles
        .iter()
        .map(|r| {
            let (x0, y0) = (i32::from(r.x), i32::from(r.y));
            (x0, y0, x0 + i32::from(r.width), y0 + i32::from(r.height))
        })
        .collect()
}

/// Whether any of `shape` covers a pixel of the box `(x0, y0, x1, y1)`.
fn covers(shape: &[(i32, i32, i32, i32)], b: (i32, i32, i32, i32)) -> bool {
    shape
        .iter()
        .any(|r| r.0 < b.2 && b.0 < r.2 && r.1 < b.3 && b.1 < r.3)
}

/// This program's own window (the chat window: `_NET_WM_PID` is ours) is
/// never written over, wherever it moves; other windows are.
#[test]
fn the_programs_own_window_is_cut_out_of_the_watermark() {
    for compositor in [false, true] {
        let x = Xvfb::start(640, 480);
        let x = if compositor { x.with_compositor() } else { x };
        let ours = x.window("Chat", 40, 40, 300, 220, WHITE);
        let pid_atom = x
            .conn
            .intern_atom(false, b"_NET_WM_PID")
            .expect("atom")
            .reply()
            .expect("atom")
            .atom;
        x11rb::wrapper::ConnectionExt::change_property32(
            &x.conn,
            x11rb::protocol::xproto::PropMode::REPLACE,
            ours,
            pid_atom,
            x11rb::protocol::xproto::AtomEnum::CARDINAL,
            &[std::process::id()],
        )
        .expect("pid");
        x.sync();
        let wm = Watermark::show("Lotse · support session in progress").expect("watermark");
        let win = wm.window_id();
        let first = (40, 40, 340, 260);
        let shape = bounding(&x, win);
        assert!(!covers(&shape, first), "the text is over our window");
        assert!(
            covers(&shape, (360, 0, 640, 480)),
            "no text beside our window"
        );
        // The window moves: the cut-out follows, the text comes back
        // where it was.
        x.conn
            .configure_window(
                ours,
                &x11rb::protocol::xproto::ConfigureWindowAux::new()
                    .x(300)
                    .y(200),
            )
            .expect("move");
        x.sync();
        let moved = (300, 200, 600, 420);
        wait_for("the cut-out to follow the window", || {
            let shape = bounding(&x, win);
            (!covers(&shape, moved) && covers(&shape, (40, 40, 290, 190))).then_some(())
        });
        drop(wm);
    }
}
