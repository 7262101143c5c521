//! Shared helpers for the end-to-end tests in `tests/tests/`: start the
//! real relay binary, an X server, clients; connect as a scripted peer.

pub mod a11y;
pub mod console;
pub mod customer;
pub mod display;
pub mod proxy;
pub mod relay;
pub mod scene;
pub mod wayland;
pub mod web;

/// A tokio runtime for a test that also drives blocking things (windows,
/// processes) from its own thread.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Poll `f` until it gives `Some` (an event: a file, a window, a log
/// line), failing after `timeout` with `what`.
pub fn wait_for<T>(
    what: &str,
    timeout: std::time::Duration,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
