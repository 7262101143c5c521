//! The desktop half of a technician's nudge: the alarm sound, the shake
//! path of the window, and the rate limit.
//!
//! The window itself is moved by the UI (`app.rs`): `ViewportCommand::Focus`
//! first, then `ViewportCommand::OuterPosition(origin + offset)` each frame
//! with the offsets from [`shake_offset`], and finally the origin itself.

use std::time::Duration;

/// How long the window shakes.
pub const SHAKE: Duration = Duration::from_millis(500);
/// Largest sideways offset in pixels.
const AMPLITUDE: f32 = 14.0;
/// Left-right swings during [`SHAKE`].
const SWINGS: f32 = 4.0;
/// At most one nudge this often (milliseconds).
pub const NUDGE_EVERY_MS: i64 = 3000;

/// Sideways offset (pixels, whole numbers) of the shaking window
/// `elapsed` after the nudge; `None` once the shake is over (then put the
/// window back exactly at its origin). Starts and ends at 0.
pub fn shake_offset(elapsed: Duration) -> Option<f32> {
    if elapsed >= SHAKE {
        return None;
    }
    let t = elapsed.as_secs_f32() / SHAKE.as_secs_f32();
    let swing = (t * SWINGS * std::f32::consts::TAU).sin();
    Some((AMPLITUDE * (1.0 - t) * swing).round())
}

/// One nudge per [`NUDGE_EVERY_MS`]; the rest are ignored (and logged).
#[derive(Debug, Clone, Copy, Default)]
pub struct NudgeLimiter {
    last_ms: Option<i64>,
}

impl NudgeLimiter {
    /// Whether a nudge at `now_ms` may go off (and remember it if so).
    pub fn allow(&mut self, now_ms: i64) -> bool {
        if let Some(last) = self.last_ms
            && now_ms.saturating_sub(last) < NUDGE_EVERY_MS
            && now_ms >= last
        {
            tracing::info!("nudge ignored: the last one was less than 3 s ago");
            return false;
        }
        self.last_ms = Some(now_ms);
        true
    }
}

/// Play the alarm on a background thread. Without an audio device this
/// only logs that there was no sound; it never panics or blocks.
pub fn sound_alarm() {
    let spawned = std::thread::Builder::new()
        .name("lotse-nudge-sound".into())
        .spawn(|| match lotse_desktop::play_alarm_blocking() {
            Ok(()) => tracing::info!("nudge alarm played"),
            Err(e) => tracing::info!("nudge without sound: {e}"),
        });
    if let Err(e) = spawned {
        tracing::warn!("nudge without sound (no thread): {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shake_goes_both_ways_and_ends_at_the_origin() {
        let samples: Vec<f32> = (0..=50)
            .map(|ms| shake_offset(Duration::from_millis(ms * 10)))
            .take_while(Option::is_some)
            .flatten()
            .collect();
        assert_eq!(samples.first(), Some(&0.0));
        assert!(samples.iter().any(|&x| x <= -5.0), "never left");
        assert!(samples.iter().any(|&x| x >= 5.0), "never right");
        assert!(samples.iter().all(|x| x.abs() <= AMPLITUDE));
        assert!(samples.iter().all(|x| x.fract() == 0.0), "whole pixels");
        // The last offsets die down; then it is over.
        assert!(shake_offset(SHAKE - Duration::from_millis(1)).is_some_and(|x| x.abs() <= 1.0));
        assert_eq!(shake_offset(SHAKE), None);
        assert_eq!(shake_offset(Duration::from_secs(5)), None);
    }

    #[test]
    fn one_nudge_per_three_seconds() {
        let mut l = NudgeLimiter::default();
        assert!(l.allow(10_000));
        assert!(!l.allow(10_500));
        assert!(!l.allow(12_999));
        assert!(l.allow(13_000));
        assert!(!l.allow(13_001));
        // A clock that jumped back does not lock nudges out.
        assert!(l.allow(1_000));
    }
}
