//! The Windows customer client (`lotse.exe`, cross-built by
//! `scripts/windows.sh build`) under Wine, end to end with the real relay
//! (Linux) and the real headless technician console: the relay stamps and
//! hands out `/download/windows`; the downloaded program, saved on the
//! Wine drive, shows the site's agreement, joins the queue, chats both
//! ways, is nudged, sends a file (SHA-256 checked), shares the whole screen (the
//! console's picture equals the screen pixel for pixel), is controlled (the technician types `Grüße, 123 €`
//! into a Windows edit field, read back from the program's file), stops
//! sharing with its red button, shares only a chosen program (everything
//! else black, a secret window's colour never reaches the console, also
//! when it covers the shared program), and when the customer closes the
//! window it ends and removes itself and its folder from the Wine drive.
//!
//! The desktop is Wine's on Xvfb + openbox; Wine draws the window frames
//! itself (scripts/windows.sh sets `Decorated` = N), so a window's Windows
//! rectangle is its X window and the X screen is what Windows shows.
//! Screenshots: `CARGO_TARGET_TMPDIR/windows-e2e-*.png` (not committed).
//!
//! Built only with the feature `windows-e2e` (it needs the Windows build
//! and a Wine prefix): `scripts/windows.sh e2e` runs it with
//! `LOTSE_WINDOWS_CLIENT` (the .exe), `LOTSE_WINDOWS_TESTWIN` (the test
//! window program, tests/windows/testwin.c) and `WINEPREFIX` set.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lotse_e2e::console::Console;
use lotse_e2e::customer::{Customer, CustomerOptions, LONG, download};
use lotse_e2e::display::Display;
use lotse_e2e::relay::{Peer, Relay, STRAIGHT_TO_NAME};
use lotse_e2e::scene::{
    Artifacts, PICKER_READY, SECRET_HEX, SECRET_RGB, Scene, TECH, choose_application, click_at,
    client_rect, masked, move_window, request_share_and_allow, say, serve, stop_screen_sharing,
    wait_console_shows, x_screen,
};
use lotse_e2e::wait_for;
use lotse_e2e::web::{continues_in_the_client, elevated_web_chat};
use lotse_protocol::Message;
use serde_json::Value;
use sha2::{Digest, Sha256};

const SHOTS: Artifacts = Artifacts {
    dir: env!("CARGO_TARGET_TMPDIR"),
    prefix: "windows-e2e",
};

/// The site's agreement is on (the customer accepts it first); the
/// watermark stays on, as on a real site.
const CONFIG: &str = r#"
site_name = "Beispiel Support"
[texts.en]
agreement = "A technician may see what you share and may, with your permission, use your mouse and keyboard."
recording_prompt = ""
survey = ""
"#;

/// `C:\a\b` in the Wine prefix `prefix` as a path of this machine.
fn on_wine_drive(prefix: &Path, windows_path: &str) -> PathBuf {
    let rest = windows_path
        .strip_prefix("C:\\")
        .or_else(|| windows_path.strip_prefix("c:\\"))
        .unwrap_or_else(|| panic!("not on drive C: {windows_path}"));
    rest.split('\\')
        .fold(prefix.join("drive_c"), |p, part| p.join(part))
}

/// This machine's path `path` (inside the prefix's drive C:) as Windows
/// sees it.
fn windows_path(prefix: &Path, path: &Path) -> String {
    let rest = path
        .strip_prefix(prefix.join("drive_c"))
        .unwrap_or_else(|_| panic!("{path:?} is not on the Wine drive"));
    let parts: Vec<String> = rest
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    format!("C:\\{}", parts.join("\\"))
}

/// Start a copy of the test window program (in the Wine prefix's folder
/// `dir`) named `program`.exe (its own application for Lotse), with
/// `title`, colour `rgb` and the frame at `rect`; with `text_file` an edit field whose text lands in that file.
/// Returns the X window.
fn test_window(
    scene: &mut Scene,
    display: &Display,
    (prefix, dir): (&Path, &Path),
    program: &str,
    (title, rgb): (&str, &str),
    rect: (i32, i32, i32, i32),
    text_file: Option<&Path>,
) -> String {
    let testwin = std::env::var("LOTSE_WINDOWS_TESTWIN")
        .expect("LOTSE_WINDOWS_TESTWIN names testwin.exe (scripts/windows.sh e2e sets it)");
    let exe = dir.join(format!("{program}.exe"));
    std::fs::copy(&testwin, &exe).expect("copy the test window program");
    let (x, y, w, h) = rect;
    let mut cmd = display.command("wine");
    cmd.arg(&exe)
        .args([title, rgb])
        .args([x, y, w, h].map(|n| n.to_string()))
        .env("WINEPREFIX", prefix)
        .env("WINEDEBUG", "-all")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(file) = text_file {
        cmd.arg(windows_path(prefix, file));
    }
    let mut child = cmd.spawn().expect("wine testwin");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the program's first line");
    assert!(line.starts_with("window "), "{program}: {line:?}");
    scene.adopt(child);
    let id = display
        .wait_for_class(&format!("^{program}\\.exe$"), LONG)
        .expect("the test window")
        .remove(0);
    wait_viewable(display, &id);
    id
}

/// Wait until X window `id` is viewable (mapped, on the screen).
fn wait_viewable(display: &Display, id: &str) {
    wait_for("the window on the screen", LONG, || {
        let out = display
            .command("xwininfo")
            .args(["-id", id])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .contains("Map State: IsViewable")
            .then_some(())
    });
}

/// Whether Windows shows window `id` as the active one: Wine draws its
/// caption (`Decorated` = N) in the active colour, as a person sees it.
fn is_active(display: &Display, id: &str) -> bool {
    const ACTIVE_CAPTION: [u8; 3] = [0x32, 0x96, 0xfa];
    let r = client_rect(display, id);
    let shot = x_screen(display, SHOTS, "caption");
    shot.get_pixel((r.x + r.w / 2) as u32, (r.y + 6) as u32).0 == ACTIVE_CAPTION
}

/// Click the client's "Send file…" button, found as a person finds it: the
/// right-most button (its light grey) in the bar at the window's bottom.
fn click_send_file(display: &Display, customer: &mut Customer) {
    const BUTTON: [u8; 3] = [0xe6, 0xe6, 0xe6];
    let r = client_rect(display, &customer.window());
    let shot = x_screen(display, SHOTS, "send-file");
    let bar = (r.y + r.h - 60).max(0)..r.y + r.h;
    let (right, _) = bar
        .clone()
        .flat_map(|y| (r.x..r.x + r.w).map(move |x| (x, y)))
        .filter(|&(x, y)| shot.get_pixel(x as u32, y as u32).0 == BUTTON)
        .max_by_key(|&(x, _)| x)
        .expect("a button in the client's bottom bar");
    let rows: Vec<i32> = bar
        .filter(|&y| shot.get_pixel(right as u32, y as u32).0 == BUTTON)
        .collect();
    let y = (rows[0] + rows[rows.len() - 1]) / 2;
    click_at(display, right - 8, y);
}

/// The downloaded program and its folder leave the Wine drive.
fn assert_gone(customer: &Customer, saved: &Path, own: &Path) {
    wait_for("lotse.exe removed", LONG, || {
        (!saved.exists()).then_some(())
    });
    assert!(
        !own.exists(),
        "its folder stayed: {own:?}; log:\n{}",
        customer.log()
    );
}

/// Wait until `done`; fails with the client's log after `LONG`.
fn until(customer: &Customer, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + LONG;
    while !done() {
        if std::time::Instant::now() >= deadline {
            let _ = customer.screen().screenshot(&SHOTS.path("timeout"));
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; client log:\n{}",
            customer.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The Windows client and the Wine prefix `scripts/windows.sh e2e` names.
/// Wine's processes on the prefix end when a test starts (none from an
/// earlier run may hold its desktop on another display) and when it ends,
/// also when it fails.
struct Wine {
    exe: String,
    prefix: PathBuf,
}

impl Wine {
    fn start() -> Wine {
        let exe = std::env::var("LOTSE_WINDOWS_CLIENT")
            .expect("LOTSE_WINDOWS_CLIENT names lotse.exe (scripts/windows.sh e2e sets it)");
        let prefix = PathBuf::from(std::env::var("WINEPREFIX").expect("WINEPREFIX"));
        end_wine(&prefix);
        Wine { exe, prefix }
    }

    /// The relay with `config`, handing out this client as
    /// `/download/windows`.
    fn relay(&self, config: &str) -> Relay {
        Relay::start_with_config(&format!(
            "{config}\n[downloads]\nwindows = \"{}\"\n",
            self.exe
        ))
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        end_wine(&self.prefix);
    }
}

fn end_wine(prefix: &Path) {
    let _ = Command::new("wineserver")
        .arg("-k")
        .env("WINEPREFIX", prefix)
        .status();
}

/// The whole visit, as a Windows customer: download, agree, chat, share,
/// be helped, share one program, close — nothing is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_windows_customer_chats_shares_is_helped_and_leaves_nothing_behind() {
    let wine = Wine::start();
    let prefix = wine.prefix.clone();
    let started = std::time::Instant::now();
    let step = |what: &str| eprintln!("[{:>6.1} s] {what}", started.elapsed().as_secs_f64());
    let relay = wine.relay(CONFIG);
    relay.add_user(TECH.0, TECH.1);

    // The portal's Windows download: the program, stamped for this relay.
    let (status, head, body) = relay.http_get("/download/windows").await;
    assert_eq!(status, 200, "{head}");
    let original = std::fs::read(&wine.exe).expect("read lotse.exe");
    assert!(body.len() > original.len(), "the download carries a stamp");
    assert_eq!(&body[..2], b"MZ", "a Windows program");
    // Its manifest: never a UAC prompt, scaled per monitor by itself.
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains(r#"requestedExecutionLevel level="asInvoker""#));
    assert!(text.contains(">permonitorv2<"), "per-monitor DPI awareness");

    // Downloaded to a folder on the Wine drive and double-clicked.
    let display = Display::start_bare().expect("Xvfb");
    // A German keyboard, as the customer has: xdotool then types umlauts
    // with their own keys (a key it maps on the fly, Wine may not see).
    let status = display
        .command("setxkbmap")
        .args(["-layout", "de"])
        .status()
        .expect("setxkbmap");
    assert!(status.success(), "setxkbmap -layout de");
    let mut console = Console::start(&relay);
    let opts = CustomerOptions {
        download: "/download/windows".into(),
        wine: Some(prefix.clone()),
        // Each input event the client applies, for a failure's log.
        log: "info,lotse::control=debug".into(),
        ..CustomerOptions::default()
    };
    let mut customer = Customer::start(&relay, &display, opts).await;
    let saved = customer.exe.clone();
    let own = wait_for("the client's folder", LONG, || {
        customer.log().lines().find_map(|l| {
            l.split_once("client files in ")
                .map(|(_, p)| on_wine_drive(&prefix, p.trim()))
        })
    });
    assert!(own.is_dir(), "{own:?}");

    step("agreement");
    // The site's agreement first; Accept has the keyboard.
    customer.wait_log("connected to the relay", LONG);
    customer.wait_ready("connected to the relay", "Accept");
    display
        .screenshot(&SHOTS.path("agreement"))
        .expect("screenshot");
    customer.type_keys("Return");
    customer.join("Jürgen Weiß");
    let session = serve(&mut console, "Jürgen Weiß").await;
    customer.wait_log("TechnicianJoined(", LONG);

    // A folder of the customer's on the Wine drive.
    let scratch = tempfile::Builder::new()
        .prefix("lotse-e2e-files-")
        .tempdir_in(prefix.join("drive_c"))
        .expect("a folder on the Wine drive");
    step("chat");
    // Chat both ways, with umlauts.
    console.cmd("say Grüß Gott, Herr Weiß! Wie kann ich helfen?");
    console.event_where("chat", |v| v["mine"] == true).await;
    customer.wait_ready("TechnicianJoined(", "chat");
    say(&display, &mut customer, "Mein Drucker hängt über Nacht");
    display.screenshot(&SHOTS.path("said")).expect("screenshot");
    let line = console.event_where("chat", |v| v["mine"] == false).await;
    assert_eq!(line["text"], "Mein Drucker hängt über Nacht");
    assert_eq!(line["from"], "Jürgen Weiß");
    assert_eq!(line["session"].as_u64(), Some(session));
    display.screenshot(&SHOTS.path("chat")).expect("screenshot");
    // A nudge: the window comes to the front, shakes and is back.
    console.cmd("nudge");
    customer.wait_log("Nudged", LONG);
    customer.wait_log("nudge shake over, window back", LONG);

    // A file from the customer, chosen in the client's chooser by typing
    // its Windows path; the technician accepts it into a folder, intact.
    step("file");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let report = scratch.path().join("bericht.txt");
    std::fs::write(&report, &data).expect("the customer's file");
    let inbox = tempfile::tempdir().expect("temp dir");
    console.cmd(&format!("accept-file {}", inbox.path().display()));
    click_send_file(&display, &mut customer);
    customer.wait_log("keyboard ready: file path", LONG);
    // With `/` (Windows takes both): `\` is AltGr+ß on a German keyboard,
    // and xdotool's AltGr does not always reach Wine in time.
    customer.type_text(&windows_path(&prefix, &report).replace('\\', "/"));
    display
        .screenshot(&SHOTS.path("file-typed"))
        .expect("screenshot");
    customer.type_keys("Return");
    let offer = console.event("file_offer").await;
    assert_eq!(offer["name"], "bericht.txt");
    assert_eq!(offer["size"].as_u64(), Some(data.len() as u64));
    let received = console.event("file_received").await;
    assert_eq!(received["ok"], true, "{received}");
    assert_eq!(received["sha256"], hex::encode(Sha256::digest(&data)));
    let got = std::fs::read(inbox.path().join("bericht.txt")).expect("the received file");
    assert_eq!(got, data);

    // The customer's desktop: an editor (a Windows edit field) and a
    // secret window; the client window out of their way.
    let typed = scratch.path().join("typed.txt");
    let mut scene = Scene::default();
    let editor = test_window(
        &mut scene,
        &display,
        (&prefix, scratch.path()),
        "lotse-editor",
        ("Editor", "3366cc"),
        (40, 60, 460, 300),
        Some(&typed),
    );
    let client = customer.window();
    move_window(&display, &client, 700, 30);

    step("whole screen");
    // Whole screen: the console's picture is the screen.
    request_share_and_allow(&mut console, &mut customer).await;
    customer.wait_log_after("Allowed(ScreenShare)", PICKER_READY, LONG);
    display
        .screenshot(&SHOTS.path("picker"))
        .expect("screenshot");
    customer.type_keys("Return");
    let granted = console.event("share_granted").await;
    assert_eq!(granted["scope"]["kind"], "screen", "{granted}");
    assert_eq!(
        (granted["width"].as_u64(), granted["height"].as_u64()),
        (Some(1280), Some(800))
    );
    console.event("screen").await;
    wait_console_shows(&mut console, &display, SHOTS, "whole", |x| x).await;

    step("control");
    // Control: the technician clicks into the editor and types.
    console.cmd("request-control");
    customer.wait_ready("Asked(Control)", "Allow for Control");
    customer.type_keys("Return");
    console.event("control_granted").await;
    let er = client_rect(&display, &editor);
    console.cmd(&format!("click {} {}", er.x + er.w / 2, er.y + er.h / 2));
    until(&customer, "the click to activate the editor", || {
        is_active(&display, &editor)
    });
    console.cmd("type Grüße, 123 €");
    console.cmd("key Return");
    until(&customer, "the typed text in the editor", || {
        std::fs::read_to_string(&typed).unwrap_or_default() == "Grüße, 123 €\r\n"
    });
    wait_console_shows(&mut console, &display, SHOTS, "typed", |x| x).await;

    step("stop");
    // STOP SCREEN SHARING: control ends first, then sharing.
    stop_screen_sharing(&display, &mut customer, SHOTS);
    console.event("control_revoked").await;
    console.event("share_stopped").await;
    customer.wait_log("screen sharing stopped", LONG);

    step("apps");
    // Only the editor: everything else black; the secret window never
    // reaches the technician, also over the editor.
    let secret = test_window(
        &mut scene,
        &display,
        (&prefix, scratch.path()),
        "lotse-secret",
        ("Secret", SECRET_HEX),
        (560, 480, 300, 200),
        None,
    );
    let shot = x_screen(&display, SHOTS, "apps-before");
    assert!(
        shot.pixels().any(|p| p.0 == SECRET_RGB),
        "the secret window is on the screen"
    );
    let before = console.seen.len();
    console.cmd(&format!("watch-colour {SECRET_HEX}"));
    request_share_and_allow(&mut console, &mut customer).await;
    choose_application(&display, &mut customer, SHOTS, "lotse-editor");
    let granted = console.event("share_granted").await;
    assert_eq!(granted["scope"]["kind"], "apps", "{granted}");
    assert_eq!(
        granted["scope"]["apps"],
        serde_json::json!(["lotse-editor"])
    );
    console.event("screen").await;
    let ef = client_rect(&display, &editor);
    wait_console_shows(&mut console, &display, SHOTS, "apps", |x| {
        masked(x, |px, py| ef.contains(px, py))
    })
    .await;
    move_window(&display, &secret, 200, 160);
    let sf = client_rect(&display, &secret);
    wait_console_shows(&mut console, &display, SHOTS, "apps-covered", |x| {
        masked(x, |px, py| ef.contains(px, py) && !sf.contains(px, py))
    })
    .await;
    console.drain();
    let screens: Vec<&Value> = console.seen_since(before, "screen").collect();
    assert!(screens.len() >= 2, "updates: {}", screens.len());
    for s in &screens {
        assert_eq!(
            s["watched"].as_u64(),
            Some(0),
            "the secret colour reached the technician: {s}"
        );
    }

    step("close");
    // The customer closes the window: the program ends and is gone, with
    // its folder.
    customer.close();
    let status = customer.wait_exit(LONG);
    assert!(status.success(), "{status:?}; log:\n{}", customer.log());
    assert_gone(&customer, &saved, &own);
    step("gone");
}

/// Logoff while the client runs (Wine's `wineboot --end-session` asks
/// every window, as Windows does): the client ends the session and
/// nothing of it stays on the drive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_windows_logoff_ends_the_session_and_leaves_nothing_behind() {
    let wine = Wine::start();
    let prefix = wine.prefix.clone();
    let relay = wine.relay(STRAIGHT_TO_NAME);
    let display = Display::start_bare().expect("Xvfb");
    let opts = CustomerOptions {
        download: "/download/windows".into(),
        wine: Some(prefix.clone()),
        ..CustomerOptions::default()
    };
    let mut customer = Customer::start(&relay, &display, opts).await;
    let saved = customer.exe.clone();
    customer.join("Erika Muster");
    let own = customer
        .log()
        .lines()
        .find_map(|l| {
            l.split_once("client files in ")
                .map(|(_, p)| on_wine_drive(&prefix, p.trim()))
        })
        .expect("the client's folder");
    assert!(own.is_dir(), "{own:?}");

    let status = display
        .command("wineboot")
        .arg("--end-session")
        .env("WINEPREFIX", &prefix)
        .env("WINEDEBUG", "-all")
        .status()
        .expect("wineboot");
    assert!(status.success(), "wineboot --end-session: {status:?}");
    customer.wait_log("Windows ends the session", LONG);
    customer.wait_exit(LONG);
    assert_gone(&customer, &saved, &own);
    // The relay recorded the customer's end, not a lost connection.
    wait_for("the relay's record of the customer's end", LONG, || {
        relay
            .try_cli(&["sessions", "show", "1"])
            .ok()
            .filter(|r| r.contains("(ended_by_customer)"))
    });
}

/// `installer/windows/<name>` as Wine's cmd sees it (drive Z: is `/`).
fn installer_script(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../installer/windows")
        .join(name)
        .canonicalize()
        .expect("the installer script");
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// `wine cmd /c <script> <args>` in the prefix, on `display` (Wine's
/// desktop starts with the first program and stays on its display); its
/// output.
fn run_cmd(display: &Display, prefix: &Path, script: &str, args: &[&str]) -> std::process::Output {
    display
        .command("wine")
        .args(["cmd", "/c", script])
        .args(args)
        .env("WINEPREFIX", prefix)
        .env("WINEDEBUG", "-all")
        .output()
        .expect("wine cmd")
}

/// The `lotse://` handler this user's registry names (`None`: none).
fn lotse_handler(display: &Display, prefix: &Path) -> Option<String> {
    let out = display
        .command("wine")
        .args([
            "reg",
            "query",
            r"HKCU\Software\Classes\lotse\shell\open\command",
            "/ve",
        ])
        .env("WINEPREFIX", prefix)
        .env("WINEDEBUG", "-all")
        .output()
        .expect("wine reg");
    let text = String::from_utf8_lossy(&out.stdout);
    (out.status.success())
        .then(|| {
            text.lines()
                .find(|l| l.contains("REG_SZ"))
                .map(str::to_owned)
        })
        .flatten()
}

/// `installer/windows/install.cmd` installs the downloaded client for this
/// user and registers `lotse://` in HKCU only; the web chat's "continue in
/// the app" link, run through the registered command, starts the
/// installed client, which takes the web chat's session over and stays
/// after it; `uninstall.cmd` removes the program, its marker and the
/// handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_windows_installer_registers_lotse_links_for_this_user_and_the_client_stays() {
    let wine = Wine::start();
    let prefix = wine.prefix.clone();
    let relay = wine.relay(CONFIG);
    relay.add_user(TECH.0, TECH.1);
    let mut tech = Peer::technician(&relay, TECH.0, TECH.1).await;
    let (mut web, sid, url, _) = elevated_web_chat(&relay, &mut tech).await;

    // Downloaded to a folder on the Wine drive, then installed.
    let folder = tempfile::Builder::new()
        .prefix("lotse-e2e-install-")
        .tempdir_in(prefix.join("drive_c"))
        .expect("a folder on the Wine drive");
    let downloaded = download(&relay, "/download/windows", folder.path()).await;
    let display = Display::start_bare().expect("Xvfb");
    let out = run_cmd(
        &display,
        &prefix,
        &installer_script("install.cmd"),
        &[&windows_path(&prefix, &downloaded)],
    );
    assert!(out.status.success(), "install.cmd: {out:?}");
    let handler = lotse_handler(&display, &prefix).expect("a lotse:// handler");
    assert!(
        handler.ends_with(r#"\Programs\Lotse\lotse.exe" "%1""#),
        "{handler}"
    );
    let installed = handler
        .split('"')
        .nth(1)
        .map(|p| on_wine_drive(&prefix, p))
        .expect("the handler's program");
    assert_eq!(
        std::fs::read(&installed).expect("the installed client"),
        std::fs::read(&downloaded).expect("the download")
    );

    // The browser hands the link on and Windows runs the registered
    // command with the link for `%1`. (Wine 8's shell does not look up
    // per-user classes, so the test runs that command itself.)
    let program = handler.split('"').nth(1).expect("the handler's program");
    let mut client = display
        .command("wine")
        .args([program, &url])
        .env("WINEPREFIX", &prefix)
        .env("WINEDEBUG", "-all")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the registered command");
    continues_in_the_client(&mut web, &mut tech, sid).await;
    let window = display
        .wait_for_class("^lotse\\.exe$", LONG)
        .expect("the installed client's window")
        .remove(0);
    display
        .screenshot(&SHOTS.path("installed"))
        .expect("screenshot");
    display.close_window(&window).expect("close the window");
    let end = tech
        .recv_until(|e| matches!(e.msg, Message::End { .. }), LONG)
        .await;
    assert_eq!(end.session, Some(sid));
    wait_for("the installed client to end", LONG, || {
        client.try_wait().expect("try_wait")
    });
    assert!(installed.exists(), "the installed client stays");

    // Uninstalled: program, marker and handler are gone.
    let out = run_cmd(&display, &prefix, &installer_script("uninstall.cmd"), &[]);
    assert!(out.status.success(), "uninstall.cmd: {out:?}");
    assert_eq!(lotse_handler(&display, &prefix), None);
    assert!(!installed.exists(), "{installed:?}");
    let programs = installed.parent().expect("Programs\\Lotse");
    assert!(!programs.exists(), "{programs:?}");
    let marker = programs
        .parent()
        .and_then(Path::parent)
        .expect("AppData\\Local")
        .join("Lotse");
    assert!(!marker.exists(), "{marker:?}");
}
