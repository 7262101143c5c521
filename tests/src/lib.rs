//! Shared helpers for the end-to-end tests in `tests/tests/`: start the
//! real relay binary, an X server, clients; connect as a scripted peer.

pub mod console;
pub mod customer;
pub mod display;
pub mod relay;

/// A tokio runtime for a test that also drives blocking things (windows,
/// processes) from its own thread.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}
