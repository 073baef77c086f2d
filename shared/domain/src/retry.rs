//! The one retry rule: exponential backoff with full jitter, Retry-After honoured, bounded by the
//! attempts allowed and the time left before the caller's deadline (a Lambda's remaining time).
//! Pure: the caller supplies the random draw and does the sleeping.

use std::time::Duration;

use crate::error::ErrorClass;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Sleep this long, then try again.
    RetryAfter(Duration),
    /// Stop and report the error.
    GiveUp,
}

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First backoff ceiling.
    pub base: Duration,
    /// Largest backoff ceiling.
    pub cap: Duration,
    /// Attempts in total, the first included.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(20),
            max_attempts: 6,
        }
    }
}

impl RetryPolicy {
    /// Decides after attempt number `attempt` (1-based) failed with `class`.
    ///
    /// `remaining` is the time left before the caller must give up (`None` = unbounded);
    /// `unit_random` is a uniform draw from `[0, 1)` used for full jitter.
    /// Auth expiry is not retried here: the connector refreshes its session once and replays
    /// the request itself, then reports the error if it fails again.
    pub fn decide(
        &self,
        class: ErrorClass,
        attempt: u32,
        remaining: Option<Duration>,
        unit_random: f64,
    ) -> RetryDecision {
        if attempt >= self.max_attempts {
            return RetryDecision::GiveUp;
        }
        let ceiling = self.ceiling(attempt);
        let jittered = ceiling.mul_f64(unit_random.clamp(0.0, 1.0));
        let delay = match class {
            ErrorClass::Permanent | ErrorClass::AuthExpired => return RetryDecision::GiveUp,
            ErrorClass::Transient | ErrorClass::Throttled { retry_after: None } => jittered,
            // The server said how long; add jitter on top so callers do not retry in step.
            ErrorClass::Throttled {
                retry_after: Some(after),
            } => after + jittered / 4,
        };
        match remaining {
            Some(left) if delay >= left => RetryDecision::GiveUp,
            _ => RetryDecision::RetryAfter(delay),
        }
    }

    fn ceiling(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << exp).min(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            max_attempts: 10,
        };
        let at = |n| match p.decide(ErrorClass::Transient, n, None, 0.999_999) {
            RetryDecision::RetryAfter(d) => d,
            RetryDecision::GiveUp => panic!("gave up at {n}"),
        };
        assert!(at(1) < Duration::from_millis(101));
        assert!(at(3) > Duration::from_millis(390) && at(3) < Duration::from_millis(401));
        assert!(at(9) <= Duration::from_secs(1));
        assert_eq!(
            p.decide(ErrorClass::Transient, 2, None, 0.0),
            RetryDecision::RetryAfter(Duration::ZERO)
        );
    }

    #[test]
    fn gives_up_on_permanent_auth_attempts_and_deadline() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.decide(ErrorClass::Permanent, 1, None, 0.5),
            RetryDecision::GiveUp
        );
        assert_eq!(
            p.decide(ErrorClass::AuthExpired, 1, None, 0.5),
            RetryDecision::GiveUp
        );
        assert_eq!(
            p.decide(ErrorClass::Transient, p.max_attempts, None, 0.5),
            RetryDecision::GiveUp
        );
        assert_eq!(
            p.decide(
                ErrorClass::Throttled {
                    retry_after: Some(Duration::from_secs(30))
                },
                1,
                Some(Duration::from_secs(10)),
                0.5
            ),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn honours_retry_after() {
        let p = RetryPolicy::default();
        match p.decide(
            ErrorClass::Throttled {
                retry_after: Some(Duration::from_secs(3)),
            },
            1,
            None,
            0.0,
        ) {
            RetryDecision::RetryAfter(d) => assert_eq!(d, Duration::from_secs(3)),
            RetryDecision::GiveUp => panic!("should retry"),
        }
    }
}
