//! Times are stored as signed nanoseconds since the Unix epoch: integers compare and index
//! cheaply in SQL, and the round trip is exact (a stored `DateTime<Utc>` reads back equal).
//! The range is 1677-09-21 to 2262-04-11.

use chrono::{DateTime, Utc};
use lf_domain::PortError;

/// The exact stored form of a time given by a caller; refused when outside the stored range.
pub(crate) fn to_nanos(what: &str, t: DateTime<Utc>) -> Result<i64, PortError> {
    t.timestamp_nanos_opt()
        .ok_or_else(|| PortError::invalid(format!("{what} {t} is outside the storable range")))
}

/// The stored form of a computed expiry: past the end of the range means "never", so it
/// saturates instead of failing.
pub(crate) fn to_nanos_saturating(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

pub(crate) fn from_nanos(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

/// `std` durations (as the ports take them) in nanoseconds, saturating.
pub(crate) fn duration_nanos(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact_and_range_is_checked() {
        let t = DateTime::parse_from_rfc3339("2026-03-01T09:00:00.123456789Z")
            .unwrap()
            .to_utc();
        assert_eq!(from_nanos(to_nanos("at", t).unwrap()), t);
        let far = DateTime::parse_from_rfc3339("3000-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        assert!(matches!(
            to_nanos("at", far),
            Err(PortError::Invalid { .. })
        ));
        assert_eq!(to_nanos_saturating(far), i64::MAX);
        assert_eq!(to_nanos_saturating(DateTime::<Utc>::MIN_UTC), i64::MIN);
        assert_eq!(
            duration_nanos(std::time::Duration::from_secs(2)),
            2_000_000_000
        );
        assert_eq!(duration_nanos(std::time::Duration::MAX), i64::MAX);
    }
}
