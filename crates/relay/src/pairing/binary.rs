//! Binary frames (screen updates, file chunks): the relay rewrites the
//! header's session field and hands the frame back to the connection,
//! which awaits room in the receiver's bulk channel outside every lock.

use lotse_protocol::{BinaryHeader, BinaryKind, ErrorCode, limits};
use tokio::sync::mpsc;

use super::state::State;
use super::{Hub, Out, err, lock};

impl Hub {
    /// A binary frame from a customer: where to send it (outside the lock).
    pub fn customer_binary(
        &self,
        sid: u64,
        mut frame: Vec<u8>,
    ) -> Option<(mpsc::Sender<Out>, Out)> {
        let (bulk, tape) = {
            let sref = self.session(sid)?;
            let s = lock(&sref);
            if frame.first() == Some(&(BinaryKind::FileChunk as u8))
                && frame.len() > BinaryHeader::LEN + limits::FILE_CHUNK_BYTES
            {
                if let Some(link) = &s.customer {
                    link.send_env(&err(
                        ErrorCode::TooLarge,
                        "a file chunk carries at most 256 KiB; the chunk was dropped",
                    ));
                }
                return None;
            }
            let tech = s.state.tech()?;
            let tref = self.tech(tech)?;
            let bulk = lock(&tref).link.bulk.clone();
            (bulk, s.recording.clone())
        };
        BinaryHeader::set_session(&mut frame, sid).ok()?;
        // Only with the customer's recording consent, off the lock; the
        // recorder never waits.
        if let Some(tape) = tape
            && matches!(
                frame.first().copied(),
                Some(k) if k == BinaryKind::ScreenUpdate as u8 || k == BinaryKind::ImageFrame as u8
            )
        {
            self.recorder.screen(sid, &tape, &frame);
        }
        Some((bulk, Out::Binary(frame)))
    }

    /// A binary frame from a technician (rare): to the customer, session 0.
    pub fn tech_binary(
        &self,
        link_id: u64,
        mut frame: Vec<u8>,
    ) -> Option<(mpsc::Sender<Out>, Out)> {
        let (header, _) = BinaryHeader::parse(&frame).ok()?;
        let tref = self.tech(link_id)?;
        let serves = lock(&tref).sessions.contains(&header.session);
        if !serves {
            return None;
        }
        let sref = self.session(header.session)?;
        let bulk = {
            let s = lock(&sref);
            if s.state != (State::Served { tech: link_id }) {
                return None;
            }
            s.customer.as_ref()?.bulk.clone()
        };
        BinaryHeader::set_session(&mut frame, 0).ok()?;
        Some((bulk, Out::Binary(frame)))
    }
}
