//! Remote control on the customer's machine: technician input is applied
//! only while the customer has granted control **and** a share is running;
//! with app sharing, only inside the chosen applications (mouse) and only
//! while one of them has the focus (keyboard). Everything else is dropped,
//! counted and logged — whatever the relay forwards.
//!
//! The grant switch is turned on only by the session's effect after the
//! customer's click (see `session.rs`); nothing else calls
//! [`Control::grant`].

use std::sync::Arc;

use lotse_desktop::{
    ChosenApps, DesktopError, DesktopInjector, GuardedInjector, Injector, Mask, MonitorInfo,
};
use lotse_protocol::InputEvent;

/// The control permission and the injector behind it.
pub struct Control<I: Injector = DesktopInjector> {
    /// Present while a share runs.
    guard: Option<GuardedInjector<I>>,
    /// Dropped while no share ran (the guard counts its own).
    dropped_unshared: u64,
    /// Dropped by guards of earlier shares.
    dropped_before: u64,
    applied: u64,
    /// Reason of the latest drop in a run (a new reason is logged louder).
    last_drop: Option<&'static str>,
    /// The customer paused the share; `Some(granted)`: control is off until
    /// the resume, and comes back on if it was (or got) granted.
    paused: Option<bool>,
}

impl<I: Injector> std::fmt::Debug for Control<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("sharing", &self.guard.is_some())
            .field("granted", &self.is_granted())
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl<I: Injector> Default for Control<I> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I: Injector> Control<I> {
    pub fn new() -> Self {
        Self {
            guard: None,
            dropped_unshared: 0,
            dropped_before: 0,
            applied: 0,
            last_drop: None,
            paused: None,
        }
    }

    /// A share of `monitor` (with `mask` for app sharing) started, with
    /// the injector its capture came with. Control starts revoked.
    pub fn share_started(
        &mut self,
        monitor: MonitorInfo,
        mask: Option<Arc<Mask>>,
        inner: Result<I, DesktopError>,
    ) -> Result<(), DesktopError> {
        self.share_stopped();
        let inner = inner?;
        let mask = mask.map(|m| -> Arc<dyn ChosenApps> { m });
        self.guard = Some(GuardedInjector::new(inner, monitor, mask));
        Ok(())
    }

    /// The share ended: control ends with it (held keys are released).
    pub fn share_stopped(&mut self) {
        self.paused = None;
        if let Some(mut g) = self.guard.take() {
            g.revoke();
            self.dropped_before += g.dropped();
        }
    }

    /// The customer granted control. Without a running share there is
    /// nothing to control: returns false and stays revoked.
    pub fn grant(&mut self) -> bool {
        if let (Some(granted), Some(_)) = (&mut self.paused, &self.guard) {
            *granted = true;
            tracing::info!("remote control granted; it starts when the share resumes");
            return true;
        }
        match &self.guard {
            Some(g) => {
                g.grant();
                tracing::info!("remote control granted by the customer");
                true
            }
            None => {
                tracing::warn!("control grant without a share ignored");
                false
            }
        }
    }

    /// Pause (true): input is dropped and what the technician holds is
    /// released; resume: control is back on if it was granted.
    pub fn pause(&mut self, pause: bool) {
        if pause {
            if self.paused.is_none() {
                let granted = self.is_granted();
                self.revoke();
                self.paused = Some(granted);
            }
        } else if let Some(granted) = self.paused.take()
            && granted
        {
            self.grant();
        }
    }

    /// Control ends now; keys and buttons the technician holds are released.
    pub fn revoke(&mut self) {
        if let Some(granted) = &mut self.paused {
            *granted = false;
        }
        if let Some(g) = &mut self.guard {
            if g.is_granted() {
                tracing::info!("remote control revoked");
            }
            g.revoke();
        }
    }

    pub fn is_granted(&self) -> bool {
        self.guard.as_ref().is_some_and(GuardedInjector::is_granted)
    }

    /// Apply one technician event if allowed; true = applied.
    ///
    /// Every dropped event is counted and logged: the first of a run of
    /// drops with the same reason at `info`, the rest at `debug`, each with
    /// the running total (`dropped=N`).
    pub fn apply(&mut self, ev: &InputEvent) -> bool {
        let Some(g) = &mut self.guard else {
            self.dropped_unshared += 1;
            self.log_drop("nothing is shared");
            return false;
        };
        match g.apply(ev) {
            Ok(true) => {
                tracing::debug!(?ev, "input applied");
                self.applied += 1;
                self.last_drop = None;
                true
            }
            Ok(false) => {
                let why = g.last_drop_reason().unwrap_or("not allowed");
                self.log_drop(why);
                false
            }
            Err(e) => {
                tracing::warn!("input could not be applied: {e}");
                false
            }
        }
    }

    fn log_drop(&mut self, why: &'static str) {
        let dropped = self.dropped();
        if self.last_drop == Some(why) {
            tracing::debug!(dropped, "input dropped: {why}");
        } else {
            tracing::info!(dropped, "input dropped: {why}");
            self.last_drop = Some(why);
        }
    }

    /// Events dropped so far (no share, no grant, outside the shared apps).
    pub fn dropped(&self) -> u64 {
        self.dropped_unshared
            + self.dropped_before
            + self.guard.as_ref().map_or(0, GuardedInjector::dropped)
    }

    /// Events applied so far.
    pub fn applied(&self) -> u64 {
        self.applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records every event it is asked to apply (shared with the test).
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<InputEvent>>>);

    impl Injector for Recorder {
        fn apply(&mut self, ev: &InputEvent) -> Result<(), DesktopError> {
            self.0.lock().expect("lock").push(ev.clone());
            Ok(())
        }
        fn pointer(&mut self) -> Result<(i32, i32), DesktopError> {
            Ok((10, 10))
        }
    }

    fn monitor() -> MonitorInfo {
        MonitorInfo {
            index: 0,
            x: 0,
            y: 0,
            width: 800,
            height: 600,
            primary: true,
        }
    }

    fn control() -> (Control<Recorder>, Recorder) {
        (Control::new(), Recorder::default())
    }

    /// A share runs, control is granted, the technician holds Shift.
    fn holding_shift() -> (Control<Recorder>, Recorder) {
        let (mut c, rec) = control();
        c.share_started(monitor(), None, Ok(rec.clone()))
            .expect("share");
        assert!(c.grant());
        let down = InputEvent::Key {
            key: "Shift".into(),
            down: true,
        };
        assert!(c.apply(&down));
        (c, rec)
    }

    fn text() -> InputEvent {
        InputEvent::Text { text: "x".into() }
    }

    #[test]
    fn nothing_before_consent_and_nothing_after_revoke() {
        let (mut c, rec) = control();
        // No share: nothing, and no grant possible.
        assert!(!c.apply(&text()));
        assert!(!c.grant());
        assert!(!c.apply(&text()));
        // Share running, control not granted.
        c.share_started(monitor(), None, Ok(rec.clone()))
            .expect("share");
        assert!(!c.apply(&text()));
        assert!(rec.0.lock().expect("lock").is_empty());
        assert_eq!(c.dropped(), 3);
        // Granted: applied.
        assert!(c.grant());
        assert!(c.apply(&text()));
        assert_eq!(rec.0.lock().expect("lock").len(), 1);
        // Revoked: nothing again.
        c.revoke();
        assert!(!c.apply(&text()));
        assert_eq!(rec.0.lock().expect("lock").len(), 1);
        assert_eq!(c.dropped(), 4);
        assert_eq!(c.applied(), 1);
    }

    #[test]
    fn stopping_the_share_revokes_and_releases_held_keys() {
        let (mut c, rec) = holding_shift();
        c.share_stopped();
        assert!(!c.is_granted());
        assert!(!c.apply(&text()));
        let seen = rec.0.lock().expect("lock").clone();
        assert_eq!(
            seen.last(),
            Some(&InputEvent::Key {
                key: "Shift".into(),
                down: false
            })
        );
        // A new share starts without control.
        c.share_started(monitor(), None, Ok(rec.clone()))
            .expect("share");
        assert!(!c.is_granted());
        assert!(!c.apply(&text()));
        assert_eq!(c.dropped(), 2);
    }

    #[test]
    fn paused_drops_input_and_releases_keys_and_the_resume_needs_no_new_grant() {
        let (mut c, rec) = holding_shift();
        c.pause(true);
        assert!(!c.apply(&text()), "no input while paused");
        assert_eq!(
            rec.0.lock().expect("lock").last(),
            Some(&InputEvent::Key {
                key: "Shift".into(),
                down: false
            }),
            "held keys released at the pause"
        );
        c.pause(false);
        assert!(c.apply(&text()), "control is back with the resume");
        // Revoked while paused: the resume does not bring it back.
        c.pause(true);
        c.revoke();
        c.pause(false);
        assert!(!c.apply(&text()));
        // Granted while paused: on only after the resume.
        c.pause(true);
        assert!(c.grant());
        assert!(!c.apply(&text()));
        c.pause(false);
        assert!(c.apply(&text()));
    }
}
