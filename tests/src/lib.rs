//! Shared helpers for the end-to-end tests in `tests/tests/`: start the
//! real relay binary, an X server, clients; connect as a scripted peer.

pub mod customer;
pub mod display;
pub mod relay;
