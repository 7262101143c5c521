//! The hub's handle on one connection, and what a handler tells the
//! connection to do next.

use std::net::IpAddr;
use std::sync::Arc;

use lotse_protocol::{Envelope, encode_text};
use tokio::sync::{Notify, mpsc};

/// What a connection's writer sends.
#[derive(Debug)]
pub enum Out {
    Text(String),
    Binary(Vec<u8>),
    /// Send a close frame and stop.
    Close(u16, String),
}

/// The hub's handle on one connection: two bounded channels to its writer
/// task (control text first, bulk binary second).
#[derive(Debug, Clone)]
pub struct Link {
    pub id: u64,
    /// The peer's address (per-address limits of the waiting room).
    pub ip: IpAddr,
    pub ctrl: mpsc::Sender<Out>,
    pub bulk: mpsc::Sender<Out>,
    /// Tells the connection to close (too slow, replaced by a resume).
    pub kill: Arc<Notify>,
}

impl Link {
    /// Hand an encoded text frame to the writer without waiting. A peer
    /// whose control channel is full is too slow: its link is told to
    /// close (a customer's session keeps its outbox for a resume).
    pub fn send(&self, text: String) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.ctrl.try_send(Out::Text(text)) {
            tracing::warn!(
                link = self.id,
                "peer too slow for control messages; closing its link"
            );
            self.kill.notify_one();
        }
    }

    /// An unnumbered envelope (acks, errors, queue updates).
    pub fn send_env(&self, env: &Envelope) {
        self.send(encode_text(env));
    }
}

/// What the connection should do after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Ok,
    /// The peer got an error; count it as misbehaviour.
    Strike,
    /// Close the link (normal end).
    Close,
}
