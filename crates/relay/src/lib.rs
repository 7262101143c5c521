//! `lotse-relay`: the Lotse relay server and its admin commands, as a
//! library so tests can run the hub and the server in-process (the
//! binary, `main.rs`, only calls [`cli::main`]).
//!
//! * `lotse-relay --data-dir DIR --listen ADDR:PORT` serves HTTPS + WSS on
//!   one port (see `server`), printing `listening on https://HOST:PORT` and
//!   `certificate sha256 HEX` on stdout.
//! * `user add|list|remove`, `sessions list|show` work on the data
//!   directory's database, also while the relay runs; `recordings
//!   list|export` on its recordings (see `recording`, `RECORDING.md`).
//!
//! Layout (mini-redis style): `server` (accept, TLS) → `http` (portal,
//! downloads, upgrade checks) → `conn` (one task per WebSocket) → `pairing`
//! (sessions, queue, forwarding; one handler per message kind in
//! `pairing/cmd/`) with `queue` (estimates), `auth` (passwords, tokens,
//! brute-force limits), `store` (SQLite), `config`.
//!
//! Depends on `lotse-protocol` and `lotse-link` only; nothing here touches
//! a desktop.

pub mod auth;
pub mod cli;
pub mod compose;
pub mod config;
pub mod conn;
pub mod http;
pub mod pairing;
pub mod printable;
pub mod queue;
pub mod recording;
pub mod server;
pub mod store;
