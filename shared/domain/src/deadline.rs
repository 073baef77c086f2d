//! The one deadline type: the moment a caller must have given up by (a Lambda's end, a CLI's
//! timeout). Every retry loop, lease wait and idempotency in-progress expiry reads it.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// A point on the monotonic clock after which work must stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline(Instant);

impl Deadline {
    /// The deadline at `instant`.
    pub fn at(instant: Instant) -> Self {
        Deadline(instant)
    }

    /// The deadline `budget` from now (saturating far in the future).
    pub fn after(budget: Duration) -> Self {
        let now = Instant::now();
        Deadline(
            now.checked_add(budget)
                .unwrap_or(now + Duration::from_secs(86_400 * 365)),
        )
    }

    /// The deadline of a Lambda invocation, from the runtime's `deadline_ms` (Unix epoch
    /// milliseconds), judged against the wall clock now.
    pub fn from_epoch_millis(deadline_ms: u64, now: DateTime<Utc>) -> Self {
        let now_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        Deadline::after(Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
    }

    /// The monotonic instant.
    pub fn instant(&self) -> Instant {
        self.0
    }

    /// Time left; zero once past.
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has passed.
    pub fn is_past(&self) -> bool {
        Instant::now() >= self.0
    }

    /// The earlier of this deadline and `other`.
    pub fn min_with(self, other: Option<Deadline>) -> Deadline {
        other.map_or(self, |o| self.min(o))
    }

    /// The same moment on the wall clock, as seen at `now` (for stored expiries such as an
    /// idempotency record's in-progress expiry).
    pub fn to_utc(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        chrono::Duration::from_std(self.remaining())
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// Time left before an optional deadline (`None` = unbounded).
pub fn remaining(deadline: Option<Deadline>) -> Option<Duration> {
    deadline.map(|d| d.remaining())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_shrinks_to_zero_and_min_picks_the_earlier() {
        let soon = Deadline::after(Duration::from_millis(0));
        assert_eq!(soon.remaining(), Duration::ZERO);
        assert!(soon.is_past());
        let later = Deadline::after(Duration::from_secs(60));
        assert!(!later.is_past());
        assert!(later.remaining() > Duration::from_secs(59));
        assert_eq!(later.min_with(Some(soon)), soon);
        assert_eq!(later.min_with(None), later);
        assert_eq!(remaining(None), None);
    }

    #[test]
    fn lambda_deadline_from_epoch_millis() {
        let now = DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let ms = u64::try_from(now.timestamp_millis()).unwrap() + 30_000;
        let d = Deadline::from_epoch_millis(ms, now);
        assert!(d.remaining() <= Duration::from_secs(30));
        assert!(d.remaining() > Duration::from_secs(29));
        let past = Deadline::from_epoch_millis(1, now);
        assert!(past.is_past());
        let wall = d.to_utc(now);
        assert!(wall > now + chrono::Duration::seconds(29));
        assert!(wall <= now + chrono::Duration::seconds(30));
    }
}
