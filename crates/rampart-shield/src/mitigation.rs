//! The mitigation mode: how hard the shield leans on anonymous traffic right now.
//!
//! One [`Mitigation`] per process, shared by the flood detector (which moves it), the
//! challenge stage and the proxy's admission (which read it), and the admin API (where an
//! operator can pin it). It survives reloads: a reload in the middle of an attack must not
//! stand the defence down.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

/// The three steps of the defence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// Business as usual: only the configured limits apply.
    Normal,
    /// Something departs from the baseline: traffic matching the attack's fingerprints is
    /// challenged, heavy hitters are banned.
    Elevated,
    /// A flood: everyone without priority or clearance is challenged, matching fingerprints
    /// are dropped before they cost anything.
    UnderAttack,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Elevated => "elevated",
            Mode::UnderAttack => "under_attack",
        }
    }

    /// Parse the names [`Mode::as_str`] prints (and `under-attack`).
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "normal" => Some(Mode::Normal),
            "elevated" => Some(Mode::Elevated),
            "under_attack" | "under-attack" => Some(Mode::UnderAttack),
            _ => None,
        }
    }

    fn from_u8(v: u8) -> Mode {
        match v {
            1 => Mode::Elevated,
            2 => Mode::UnderAttack,
            _ => Mode::Normal,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Mode::Normal => 0,
            Mode::Elevated => 1,
            Mode::UnderAttack => 2,
        }
    }
}

/// An operator's pin: the mode is held at `mode` until `until` (or until released).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    pub mode: Mode,
    pub until: Option<Instant>,
}

/// The mode in force: the detector's, unless an operator pinned another.
#[derive(Debug, Default)]
pub struct Mitigation {
    /// The detector's mode (what the traffic says).
    detected: AtomicU8,
    /// The mode in force (the pin's, or the detector's): read on every request.
    effective: AtomicU8,
    pin: Mutex<Option<Pin>>,
}

impl Mitigation {
    pub fn new() -> Mitigation {
        Mitigation::default()
    }

    /// The mode in force, for a request arriving at `now`.
    pub fn mode(&self) -> Mode {
        Mode::from_u8(self.effective.load(Ordering::Relaxed))
    }

    /// The detector's own view, whatever the pin says.
    pub fn detected(&self) -> Mode {
        Mode::from_u8(self.detected.load(Ordering::Relaxed))
    }

    /// The operator's pin, if any.
    pub fn pin(&self) -> Option<Pin> {
        *self.pin.lock()
    }

    /// Record the detector's verdict; returns the mode in force afterwards.
    pub fn set_detected(&self, mode: Mode, now: Instant) -> Mode {
        self.detected.store(mode.to_u8(), Ordering::Relaxed);
        self.refresh(now)
    }

    /// Pin the mode (an operator's decision), or release the pin with `None`.
    pub fn set_pin(&self, pin: Option<Pin>, now: Instant) -> Mode {
        *self.pin.lock() = pin;
        self.refresh(now)
    }

    /// Recompute the mode in force: an expired pin is released.
    pub fn refresh(&self, now: Instant) -> Mode {
        let mut pin = self.pin.lock();
        if pin.is_some_and(|p| p.until.is_some_and(|u| u <= now)) {
            *pin = None;
        }
        let mode = pin.map(|p| p.mode).unwrap_or_else(|| self.detected());
        self.effective.store(mode.to_u8(), Ordering::Relaxed);
        mode
    }
}

impl rampart_core::Pressure for Mitigation {
    fn under_pressure(&self) -> bool {
        self.mode() != Mode::Normal
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_pin_overrides_the_detector_until_it_expires() {
        let m = Mitigation::new();
        let now = Instant::now();
        assert_eq!(m.set_detected(Mode::Elevated, now), Mode::Elevated);
        let pin = Pin { mode: Mode::UnderAttack, until: Some(now + Duration::from_secs(10)) };
        assert_eq!(m.set_pin(Some(pin), now), Mode::UnderAttack);
        assert_eq!(m.set_detected(Mode::Normal, now), Mode::UnderAttack);
        assert_eq!(m.refresh(now + Duration::from_secs(11)), Mode::Normal);
        assert_eq!(m.pin(), None);
    }

    #[test]
    fn modes_round_trip_through_their_names() {
        for m in [Mode::Normal, Mode::Elevated, Mode::UnderAttack] {
            assert_eq!(Mode::parse(m.as_str()), Some(m));
        }
        assert_eq!(Mode::parse("panic"), None);
    }
}
