//! Shares the screen once through the backend the session calls for (on
//! Wayland: the desktop portal and its dialog) and writes the first frame
//! as a binary PPM: `portal_capture OUT.ppm [--input] [--windows]`.
//! A tool for trying the backend by hand in a test session.

use std::io::Write;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .get(1)
        .ok_or("usage: portal_capture OUT.ppm [--input] [--windows]")?;
    let input = args.iter().any(|a| a == "--input");
    let windows = args.iter().any(|a| a == "--windows");
    let mut capture = lotse_desktop::Capture::start(lotse_desktop::CaptureConfig {
        input,
        windows,
        ..Default::default()
    })?;
    let m = *capture.monitor();
    eprintln!("sharing {}x{} at ({}, {})", m.width, m.height, m.x, m.y);
    let frame = loop {
        if let Some(f) = capture.recv_timeout(Duration::from_secs(10))? {
            break f;
        }
        eprintln!("no frame for 10 s; still waiting");
    };
    let mut ppm = format!("P6\n{} {}\n255\n", frame.width, frame.height).into_bytes();
    for y in 0..frame.height {
        for x in 0..frame.width {
            let (r, g, b) = frame.rgb(x, y).ok_or("pixel outside the frame")?;
            ppm.extend_from_slice(&[r, g, b]);
        }
    }
    std::fs::File::create(out)?.write_all(&ppm)?;
    eprintln!("frame {} written, damage {:?}", frame.number, frame.damage);
    capture.stop();
    Ok(())
}
