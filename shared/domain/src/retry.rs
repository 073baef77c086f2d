//! The one retry rule and the one retry executor.
//!
//! [`RetryPolicy::decide`] is the rule: exponential backoff with full jitter, Retry-After
//! honoured, bounded by the attempts allowed and the time left before the caller's deadline (a
//! Lambda's remaining time). It is pure: the caller supplies the random draw.
//!
//! [`run`] is the executor every retrying path uses (Salesforce, Intacct, AWS adapters): it
//! calls an operation, asks the caller's judge whether a failure is worth another attempt, and
//! sleeps as the policy decides. [`retry_after`] reads an HTTP `Retry-After` header in both of
//! its forms.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::deadline::Deadline;
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

/// Runs `op` until it succeeds, the judge refuses a retry, or the policy gives up.
///
/// - `op` gets the 1-based attempt number.
/// - `judge` sees each failure with its attempt number and returns the class to retry it as,
///   or `None` to return the failure at once (a non-idempotent write whose outcome is unknown,
///   an auth error the caller handles, a permanent refusal).
/// - Sleeps happen only when the policy's delay ends before `deadline`; otherwise the last
///   failure is returned.
/// - `what` names the operation in the log line written for each retry.
pub async fn run<T, E, Op, Fut, Judge>(
    policy: &RetryPolicy,
    deadline: Option<Deadline>,
    what: &str,
    mut judge: Judge,
    mut op: Op,
) -> Result<T, E>
where
    Op: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    Judge: FnMut(&E, u32) -> Option<ErrorClass>,
    E: Display,
{
    let mut attempt = 1u32;
    loop {
        let err = match op(attempt).await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let Some(class) = judge(&err, attempt) else {
            return Err(err);
        };
        let remaining = deadline.map(|d| d.remaining());
        match policy.decide(class, attempt, remaining, rand::random::<f64>()) {
            RetryDecision::GiveUp => return Err(err),
            RetryDecision::RetryAfter(delay) => {
                tracing::debug!(
                    what,
                    attempt,
                    class = class.name(),
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error = %err,
                    "retrying"
                );
                tokio::time::sleep(delay).await;
            }
        }
        attempt += 1;
    }
}

/// Reads a `Retry-After` header value: delay-seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`), judged against `now`. A date in the past is zero; an
/// unreadable value is `None` (the caller then backs off by its policy alone).
pub fn retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.to_utc();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicU32, Ordering};

    fn quick() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
            max_attempts: 4,
        }
    }

    #[tokio::test]
    async fn run_retries_what_the_judge_allows_and_stops_at_the_cap() {
        let calls = AtomicU32::new(0);
        let out: Result<u32, String> = run(
            &quick(),
            None,
            "test",
            |_, _| Some(ErrorClass::Transient),
            |n| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 3 {
                        Err(format!("fail {n}"))
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(out, Ok(3));
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        let out: Result<(), String> = run(
            &quick(),
            None,
            "test",
            |_, _| Some(ErrorClass::Transient),
            |n| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move { Err(format!("fail {n}")) }
            },
        )
        .await;
        assert_eq!(out, Err("fail 4".to_owned()));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn run_returns_at_once_when_the_judge_refuses_or_the_deadline_is_past() {
        let calls = AtomicU32::new(0);
        let out: Result<(), String> = run(
            &quick(),
            None,
            "test",
            |_, _| None,
            |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err("permanent".to_owned()) }
            },
        )
        .await;
        assert_eq!(out, Err("permanent".to_owned()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let past = Deadline::after(Duration::ZERO);
        let out: Result<(), String> = run(
            &quick(),
            Some(past),
            "test",
            |_, _| {
                Some(ErrorClass::Throttled {
                    retry_after: Some(Duration::from_secs(5)),
                })
            },
            |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err("throttled".to_owned()) }
            },
        )
        .await;
        assert_eq!(out, Err("throttled".to_owned()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }

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
