//! Time, injected wherever expiry is decided so that tests can move it.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};

/// A source of the current time. Every instant it returns is truncated to
/// microseconds, the precision both SQLite (as we store it) and PostgreSQL keep,
/// so a value read back from the database equals the value written.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// Truncates an instant to whole microseconds.
pub fn to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        to_micros(Utc::now())
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(to_micros(start))),
        }
    }

    /// Sets the current time.
    pub fn set(&self, t: DateTime<Utc>) {
        let mut guard = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *guard = to_micros(t);
    }

    /// Moves the current time forward (or backward, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut guard = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *guard = to_micros(*guard + by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_time() {
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single();
        let Some(start) = start else {
            unreachable!("valid date")
        };
        let clock = ManualClock::new(start);
        let other = clock.clone();
        assert_eq!(clock.now(), start);
        other.advance(Duration::seconds(90));
        assert_eq!(clock.now(), start + Duration::seconds(90));
    }

    #[test]
    fn instants_are_truncated_to_microseconds() {
        let t = Utc.timestamp_nanos(1_700_000_000_123_456_789);
        assert_eq!(to_micros(t).timestamp_subsec_nanos(), 123_456_000);
        let clock = ManualClock::new(t);
        assert_eq!(clock.now().timestamp_subsec_nanos(), 123_456_000);
    }
}
