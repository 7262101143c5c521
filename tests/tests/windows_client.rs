//! The Windows customer client (`lotse.exe`, cross-built by
//! `scripts/windows.sh build`) under Wine: the relay (Linux) stamps and
//! hands out `/download/windows`; the downloaded program, saved on the
//! Wine drive, opens its window, reaches the relay over pinned TLS, and
//! when the customer closes the window it ends and removes itself and its
//! folder from the Wine drive.
//!
//! Built only with the feature `windows-e2e` (it needs the Windows build
//! and a Wine prefix): `scripts/windows.sh e2e` runs it with
//! `LOTSE_WINDOWS_CLIENT` (the .exe) and `WINEPREFIX` set.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use lotse_e2e::display::Display;
use lotse_e2e::relay::{Relay, STRAIGHT_TO_NAME};
use lotse_e2e::wait_for;

const LONG: Duration = Duration::from_secs(60);

/// `C:\a\b` in the Wine prefix `prefix` as a path of this machine.
fn on_wine_drive(prefix: &Path, windows_path: &str) -> PathBuf {
    let rest = windows_path
        .strip_prefix("C:\\")
        .or_else(|| windows_path.strip_prefix("c:\\"))
        .unwrap_or_else(|| panic!("not on drive C: {windows_path}"));
    rest.split('\\')
        .fold(prefix.join("drive_c"), |p, part| p.join(part))
}

#[test]
fn the_stamped_windows_download_connects_under_wine_and_removes_itself_on_close() {
    let exe = std::env::var("LOTSE_WINDOWS_CLIENT")
        .expect("LOTSE_WINDOWS_CLIENT names lotse.exe (scripts/windows.sh e2e sets it)");
    let prefix = PathBuf::from(std::env::var("WINEPREFIX").expect("WINEPREFIX"));
    let relay = Relay::start_with_config(&format!(
        "{STRAIGHT_TO_NAME}\n[downloads]\nwindows = \"{exe}\"\n"
    ));
    let rt = lotse_e2e::runtime();

    // The portal's Windows download: the program, stamped for this relay.
    let (status, head, body) = rt.block_on(relay.http_get("/download/windows"));
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("filename=\"lotse.exe\""), "{head}");
    let original = std::fs::read(&exe).expect("read lotse.exe");
    assert!(body.len() > original.len(), "the download carries a stamp");
    assert_eq!(&body[..2], b"MZ", "a Windows program");

    // Saved in a Downloads folder on the Wine drive, double-clicked.
    let downloads = tempfile::Builder::new()
        .prefix("lotse-e2e-")
        .tempdir_in(prefix.join("drive_c"))
        .expect("a folder on the Wine drive");
    let saved = downloads.path().join("lotse.exe");
    std::fs::write(&saved, &body).expect("save the download");
    let display = Display::start().expect("Xvfb + openbox");
    let log_path = downloads.path().join("client.stderr");
    let mut child = display
        .command("wine")
        .arg(&saved)
        .current_dir(downloads.path())
        .env("WINEDEBUG", "-all")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log file"))
        .spawn()
        .expect("start wine");
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // Its own folder on the Wine drive, and the relay reached over TLS.
    let own = wait_for("the client's folder", LONG, || {
        log().lines().find_map(|l| {
            l.split_once("client files in ")
                .map(|(_, p)| on_wine_drive(&prefix, p.trim()))
        })
    });
    assert!(own.is_dir(), "{own:?}");
    wait_for("the connection to the relay", LONG, || {
        log().contains("connected to the relay").then_some(())
    });
    let window = wait_for("the client window", LONG, || {
        let out = display
            .command("xdotool")
            .args(["search", "--onlyvisible", "--name", "remote support"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .map(str::to_owned)
    });
    display
        .screenshot(
            &PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("windows-client-under-wine.png"),
        )
        .expect("screenshot");

    // The customer closes the window: the program ends and is gone, with
    // its folder.
    display.close_window(&window).expect("close the window");
    let status = wait_for("the program to end", LONG, || {
        child.try_wait().expect("try_wait")
    });
    assert!(status.success(), "{status:?}; log:\n{}", log());
    wait_for("lotse.exe removed", LONG, || {
        (!saved.exists()).then_some(())
    });
    assert!(!own.exists(), "its folder stayed: {own:?}; log:\n{}", log());
    let _ = Command::new("wineserver").arg("-k").status();
}
