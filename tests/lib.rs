//! End-to-end tests: real relay binary, real clients.
