//! App-selective sharing: pixel-exact masking under Xvfb.

use std::sync::Arc;

use lotse_desktop::{Capture, CaptureConfig, Frame, Mask};
use x11rb::protocol::xproto::ConnectionExt as _;

use crate::support::{Xvfb, frame_where, has_colour, px};

const GREEN: u32 = 0x00ff00;
const BLUE: u32 = 0x0000ff;
const SECRET: u32 = 0xff00ff;
const YELLOW: u32 = 0xffff00;

fn rect_has(f: &Frame, x0: u32, y0: u32, w: u32, h: u32, rgb: u32) -> bool {
    (y0..y0 + h).all(|y| (x0..x0 + w).all(|x| px(f, x, y) == rgb))
}

/// Every pixel is either `rgb` inside (x0,y0,w,h) minus `hole`, or black.
fn exactly(
    f: &Frame,
    x0: u32,
    y0: u32,
    w: u32,
    h: u32,
    rgb: u32,
    hole: Option<(u32, u32, u32, u32)>,
) -> bool {
    (0..f.height).all(|y| {
        (0..f.width).all(|x| {
            let in_win = (x0..x0 + w).contains(&x) && (y0..y0 + h).contains(&y);
            let in_hole = hole.is_some_and(|(hx, hy, hw, hh)| {
                (hx..hx + hw).contains(&x) && (hy..hy + hh).contains(&y)
            });
            px(f, x, y) == if in_win && !in_hole { rgb } else { 0 }
        })
    })
}

#[test]
fn only_the_chosen_app_is_visible_and_the_secret_never_leaks() {
    let x = Xvfb::start(480, 360);
    x.set_root_colour(YELLOW);
    let shared = x.window("Shared", 40, 40, 200, 150, GREEN);
    x.window("Other", 300, 40, 100, 100, BLUE);
    let mask = Arc::new(Mask::new(["Shared"]).expect("mask"));
    let cap = Capture::start(CaptureConfig {
        mask: Some(mask.clone()),
        ..CaptureConfig::default()
    })
    .expect("capture");
    let never_secret = |f: &Frame| {
        assert!(
            !has_colour(f, SECRET),
            "secret leaked in frame {}",
            f.number
        )
    };
    let f = frame_where(&cap, "the shared window", never_secret, |f| {
        px(f, 50, 50) == GREEN
    });
    assert!(
        exactly(&f, 40, 40, 200, 150, GREEN, None),
        "only the shared window shows"
    );
    assert!(mask.contains(40, 40) && !mask.contains(39, 40) && !mask.contains(310, 50));

    // A secret window appears next to it and then slides over it, step by
    // step: its colour never shows; the covered part turns black.
    let secret = x.window("Secret", 300, 200, 80, 60, SECRET);
    for (sx, sy) in [(260, 170), (200, 120), (120, 80), (60, 60), (30, 30)] {
        x.move_window(secret, sx, sy);
        let hole = (sx as u32, sy as u32, 80, 60);
        let f = frame_where(&cap, "the secret's hole", never_secret, |f| {
            exactly(f, 40, 40, 200, 150, GREEN, Some(hole))
        });
        assert!(!has_colour(&f, SECRET));
        assert!(!mask.contains(sx + 40, sy + 30) || !(40..240).contains(&(sx + 40)));
    }

    // The shared window is raised above the secret: fully visible again.
    x.raise(shared);
    frame_where(&cap, "the raised shared window", never_secret, |f| {
        exactly(f, 40, 40, 200, 150, GREEN, None)
    });

    // The shared window moves: the mask follows.
    x.move_window(shared, 200, 150);
    let f = frame_where(&cap, "the moved shared window", never_secret, |f| {
        rect_has(f, 200, 150, 200, 150, GREEN)
    });
    assert!(!has_colour(&f, BLUE) && !has_colour(&f, YELLOW));
    assert_eq!(px(&f, 50, 50), 0, "old place is black");
}

#[test]
fn masking_works_under_a_window_manager() {
    let x = Xvfb::start(480, 360).with_openbox();
    x.set_root_colour(YELLOW);
    x.window("Shared", 40, 40, 200, 150, GREEN);
    let mask = Arc::new(Mask::new(["Shared"]).expect("mask"));
    let cap = Capture::start(CaptureConfig {
        mask: Some(mask.clone()),
        ..CaptureConfig::default()
    })
    .expect("capture");
    // Every frame: never the secret's colour, never the (yellow) desktop.
    let checked = |f: &Frame| {
        assert!(
            !has_colour(f, SECRET),
            "secret leaked in frame {}",
            f.number
        );
        assert!(
            !has_colour(f, YELLOW),
            "desktop leaked in frame {}",
            f.number
        );
    };
    frame_where(&cap, "the shared window", checked, |f| has_colour(f, GREEN));
    // The secret window goes on top (the window manager gives it the
    // focus) and is moved across the shared one; every move gives a new
    // frame, which still shows part of the shared window.
    let secret = x.window("Secret", 60, 60, 100, 80, SECRET);
    frame_where(&cap, "a frame with the secret mapped", checked, |f| {
        has_colour(f, GREEN)
    });
    for (sx, sy) in [(80, 70), (120, 90), (20, 20)] {
        x.move_window(secret, sx, sy);
        frame_where(&cap, "a frame after the move", checked, |f| {
            has_colour(f, GREEN)
        });
    }
    // The mask agrees with the window manager's idea of where things are.
    let region = mask.refresh().expect("refresh");
    assert!(!region.is_empty());
}

#[test]
fn masking_with_a_compositor_never_leaks() {
    let x = Xvfb::start(480, 360).with_compositor();
    x.set_root_colour(YELLOW);
    x.window("Shared", 40, 40, 200, 150, GREEN);
    let mask = Arc::new(Mask::new(["Shared"]).expect("mask"));
    let cap = Capture::start(CaptureConfig {
        mask: Some(mask),
        ..CaptureConfig::default()
    })
    .expect("capture");
    // Every frame, from the very first: no secret, no desktop (the
    // compositor may not have painted the shared window yet at start).
    let never_secret = |f: &Frame| {
        assert!(
            !has_colour(f, SECRET),
            "secret leaked in frame {}",
            f.number
        );
        assert!(
            !has_colour(f, YELLOW),
            "desktop leaked in frame {}",
            f.number
        );
    };
    frame_where(&cap, "the shared window", never_secret, |f| {
        px(f, 100, 100) == GREEN
    });
    let secret = x.window("Secret", 300, 200, 80, 60, SECRET);
    for (sx, sy) in [(200, 120), (120, 80), (60, 60)] {
        x.move_window(secret, sx, sy);
        let hole = (sx as u32, sy as u32, 80, 60);
        frame_where(&cap, "the secret's hole", never_secret, |f| {
            exactly(f, 40, 40, 200, 150, GREEN, Some(hole))
        });
    }
}

/// The secret window is dragged across the shared one, as fast as the X
/// server takes it, by another client, while frames keep coming (five of
/// them); every frame is checked.
fn secret_dragged_fast(x: &Xvfb) {
    use std::sync::atomic::{AtomicBool, Ordering};
    x.set_root_colour(YELLOW);
    x.window("Shared", 40, 40, 300, 200, GREEN);
    let mask = Arc::new(Mask::new(["Shared"]).expect("mask"));
    let cap = Capture::start(CaptureConfig {
        mask: Some(mask),
        max_fps: 60,
        ..CaptureConfig::default()
    })
    .expect("capture");
    let check = |f: &Frame| {
        assert!(
            !has_colour(f, SECRET),
            "secret leaked in frame {}",
            f.number
        );
        assert!(
            !has_colour(f, YELLOW),
            "desktop leaked in frame {}",
            f.number
        );
    };
    let first = frame_where(&cap, "the shared window", check, |f| {
        px(f, 100, 100) == GREEN
    });
    let secret = x.window("Secret", 400, 300, 60, 60, SECRET);
    let stop = Arc::new(AtomicBool::new(false));
    let mover = {
        let stop = stop.clone();
        let display = x.display.clone();
        std::thread::Builder::new()
            .name("mover".into())
            .spawn(move || {
                let (conn, _) = x11rb::connect(Some(&display)).expect("connect");
                let mut i = 0i32;
                while !stop.load(Ordering::Relaxed) {
                    let t = i % 100;
                    let aux = x11rb::protocol::xproto::ConfigureWindowAux::new()
                        .x(20 + t * 3)
                        .y(20 + (t * 7) % 220);
                    conn.configure_window(secret, &aux).expect("move");
                    // One move per round trip, like a fast mouse drag.
                    conn.get_input_focus().expect("sync").reply().expect("sync");
                    i += 1;
                }
                conn.configure_window(
                    secret,
                    &x11rb::protocol::xproto::ConfigureWindowAux::new()
                        .x(400)
                        .y(300),
                )
                .expect("move away");
                conn.get_input_focus().expect("sync").reply().expect("sync");
                i
            })
            .expect("mover thread")
    };
    // Frames keep coming while the secret window never stops moving.
    let mut seen = 0;
    let last = frame_where(&cap, "five frames during the drag", check, |_| {
        seen += 1;
        seen >= 5
    });
    stop.store(true, Ordering::Relaxed);
    let moves = mover.join().expect("mover");
    assert!(last.number > first.number);
    assert!(moves > 0);
    frame_where(&cap, "the whole shared window again", check, |f| {
        exactly(f, 40, 40, 300, 200, GREEN, None)
    });
}

#[test]
fn fast_moving_secret_never_leaks() {
    secret_dragged_fast(&Xvfb::start(480, 360));
}

#[test]
fn fast_moving_secret_never_leaks_with_a_compositor() {
    secret_dragged_fast(&Xvfb::start(480, 360).with_compositor());
}
