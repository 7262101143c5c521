//! The waiting queue's arithmetic: estimated waits from recent real waits
//! and the hold text with its placeholders filled in.

use std::collections::VecDeque;

/// The last few real waits (seconds from join to accept).
#[derive(Debug, Clone)]
pub struct WaitHistory {
    waits: VecDeque<u64>,
    initial: u64,
}

impl WaitHistory {
    const KEEP: usize = 20;

    /// `recent` newest first (as the store returns them).
    pub fn new(recent: Vec<u64>, initial: u64) -> Self {
        let mut waits: VecDeque<u64> = recent.into_iter().take(Self::KEEP).collect();
        waits.make_contiguous().reverse();
        Self { waits, initial }
    }

    pub fn record(&mut self, wait_secs: u64) {
        if self.waits.len() == Self::KEEP {
            self.waits.pop_front();
        }
        self.waits.push_back(wait_secs);
    }

    /// Mean of the recent waits, or the configured initial estimate.
    pub fn mean(&self) -> u64 {
        if self.waits.is_empty() {
            return self.initial;
        }
        self.waits.iter().sum::<u64>() / self.waits.len() as u64
    }

    /// Expected wait for the customer at `position` (1 = next) with
    /// `technicians` online: each technician works through the queue at the
    /// recently observed pace.
    pub fn estimate(&self, position: u32, technicians: u32) -> u64 {
        self.mean() * u64::from(position) / u64::from(technicians.max(1))
    }
}

/// Fill `{position}` and `{wait}` (whole minutes, at least 1).
pub fn fill(text: &str, position: u32, wait_secs: u64) -> String {
    let minutes = wait_secs.div_ceil(60).max(1);
    text.replace("{position}", &position.to_string())
        .replace("{wait}", &minutes.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_follow_real_waits() {
        let mut h = WaitHistory::new(vec![], 120);
        assert_eq!(h.estimate(1, 0), 120);
        h.record(60);
        h.record(180);
        assert_eq!(h.mean(), 120);
        assert_eq!(h.estimate(3, 2), 180);
        assert_eq!(fill("#{position}, {wait} min", 2, 61), "#2, 2 min");
    }
}
