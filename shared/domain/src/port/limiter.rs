//! A concurrency cap that holds across every process and instance: Intacct allows a company a
//! fixed number of concurrent requests (2 by default), and every function that talks to it —
//! several Lambda functions, each with several instances — must share that allowance.
//!
//! The trait is object-safe (boxed futures) so a connector can hold an
//! `Arc<dyn ConcurrencyLimiter>` without becoming generic over the storage adapter.
//!
//! Implementations: `lf_aws::DynamoLimiter` (one item per slot, conditional put and delete:
//! two writes per uncontended request), `lf_embedded::SqliteLimiter` (one database file shared
//! by several processes) and `lf_embedded::LocalLimiter` (one process).
//!
//! Adapters implement one non-blocking attempt (take any free or expired slot) and wait with
//! [`acquire_by_polling`], so every limiter waits, backs off and honours the deadline alike.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::deadline::Deadline;
use crate::error::{ErrorClass, PortError};
use crate::retry::{self, RetryPolicy};

/// A boxed, sendable future (what object-safe ports return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One taken slot of a limiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Which slot (0-based, below the limiter's capacity).
    pub slot: u32,
    /// Proof of ownership: a release with another token changes nothing.
    pub token: String,
    /// When the slot frees itself if never released (the holder crashed or was killed).
    pub expires_at: DateTime<Utc>,
}

/// A distributed semaphore of leases with expiry.
///
/// Guarantees:
/// - At most `capacity` unexpired leases exist at any moment, across every process sharing
///   the store.
/// - A lease whose holder dies frees itself at `expires_at`, at most `hold` after `acquire`.
/// - `release` with a stale lease (expired and taken by someone else) changes nothing.
/// - `acquire` waits (polling with jittered backoff) until a slot frees or `deadline` passes;
///   at the deadline it fails with [`PortError::Throttled`]. A deadline already past fails at
///   once, even with a slot free: work that must have stopped should not start a request.
pub trait ConcurrencyLimiter: Send + Sync + std::fmt::Debug {
    /// Takes a slot for at most `hold`.
    fn acquire(
        &self,
        hold: Duration,
        deadline: Option<Deadline>,
    ) -> BoxFuture<'_, Result<Lease, PortError>>;

    /// Gives the slot back early.
    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), PortError>>;

    /// How many slots there are.
    fn capacity(&self) -> u32;
}

/// Refuses a capacity of 0 (every acquire would wait for nothing), naming the limiter.
pub fn check_capacity(name: &str, capacity: u32) -> Result<(), PortError> {
    if capacity == 0 {
        return Err(PortError::invalid(format!(
            "the concurrency limiter {name} has capacity 0: nothing could ever run"
        )));
    }
    Ok(())
}

/// When a lease taken at `now` for `hold` frees itself (saturating far in the future).
pub fn lease_expiry(now: DateTime<Utc>, hold: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(hold)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A shared limiter is a limiter, so `Arc<dyn ConcurrencyLimiter>` and `Arc<SomeLimiter>` can be
/// handed to code generic over one.
impl<L: ConcurrencyLimiter + ?Sized> ConcurrencyLimiter for std::sync::Arc<L> {
    fn acquire(
        &self,
        hold: Duration,
        deadline: Option<Deadline>,
    ) -> BoxFuture<'_, Result<Lease, PortError>> {
        (**self).acquire(hold, deadline)
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), PortError>> {
        (**self).release(lease)
    }

    fn capacity(&self) -> u32 {
        (**self).capacity()
    }
}

/// How a waiting acquirer polls: the first retries come quickly (an Intacct request takes
/// around a second, so a slot often frees within milliseconds), later ones back off to at most
/// a quarter second, which keeps a freed slot idle for little of an Intacct request's time
/// (`examples/limiter_cost.rs` in lf-aws measures it); full jitter keeps the waiters of many
/// instances out of step.
const POLL: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(20),
    cap: Duration::from_millis(250),
    max_attempts: u32::MAX,
};

/// Waits for a slot: calls `try_once` (one attempt to take a free or expired slot, `Ok(None)`
/// when all `capacity` are held) until it returns a lease, fails with an error that is not
/// worth retrying, or `deadline` passes (then [`PortError::Throttled`]). Unbounded without a
/// deadline, which ends anyway because every lease expires. `name` names the limiter in errors.
pub async fn acquire_by_polling<F, Fut>(
    name: &str,
    capacity: u32,
    deadline: Option<Deadline>,
    mut try_once: F,
) -> Result<Lease, PortError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<Lease>, PortError>>,
{
    let busy = || PortError::Throttled {
        message: format!(
            "all {capacity} slot(s) of the concurrency limiter {name} stayed held until the deadline"
        ),
        retry_after: None,
    };
    if deadline.is_some_and(|d| d.is_past()) {
        return Err(busy());
    }
    retry::run(
        &POLL,
        deadline,
        name,
        |err: &PortError, _| match err {
            PortError::Throttled { .. } => Some(ErrorClass::Throttled { retry_after: None }),
            PortError::Unavailable { .. } => Some(ErrorClass::Transient),
            _ => None,
        },
        |_| {
            let attempt = try_once();
            async move { attempt.await?.ok_or_else(busy) }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicU32, Ordering};

    fn lease() -> Lease {
        Lease {
            slot: 0,
            token: "t".into(),
            expires_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn polling_takes_the_slot_once_it_frees() {
        let tries = AtomicU32::new(0);
        let got = acquire_by_polling(
            "test",
            1,
            Some(Deadline::after(Duration::from_secs(30))),
            || {
                let n = tries.fetch_add(1, Ordering::SeqCst);
                async move { Ok((n >= 2).then(lease)) }
            },
        )
        .await
        .unwrap();
        assert_eq!(got, lease());
        assert_eq!(tries.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_past_deadline_or_a_hard_error_stops_at_once() {
        let tries = AtomicU32::new(0);
        let err = acquire_by_polling("test", 2, Some(Deadline::after(Duration::ZERO)), || {
            tries.fetch_add(1, Ordering::SeqCst);
            async { Ok(Some(lease())) }
        })
        .await
        .unwrap_err();
        assert!(matches!(err, PortError::Throttled { .. }), "{err:?}");
        assert!(err.to_string().contains("2 slot(s)"), "{err}");
        assert_eq!(tries.load(Ordering::SeqCst), 0);

        let err = acquire_by_polling("test", 2, None, || {
            tries.fetch_add(1, Ordering::SeqCst);
            async { Err(PortError::corrupt("bad slot item")) }
        })
        .await
        .unwrap_err();
        assert!(matches!(err, PortError::Corrupt { .. }), "{err:?}");
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn capacity_zero_is_refused_and_expiry_saturates() {
        let err = check_capacity("intacct", 0).unwrap_err();
        assert!(matches!(err, PortError::Invalid { .. }), "{err:?}");
        assert!(err.to_string().contains("intacct"), "{err}");
        assert!(check_capacity("intacct", 2).is_ok());
        let now = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(
            lease_expiry(now, Duration::from_secs(5)),
            now + chrono::Duration::seconds(5)
        );
        assert_eq!(lease_expiry(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
    }

    #[tokio::test]
    async fn busy_slots_end_in_throttled_at_the_deadline() {
        let err = acquire_by_polling(
            "test",
            1,
            Some(Deadline::after(Duration::from_millis(50))),
            || async { Ok(None) },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, PortError::Throttled { .. }), "{err:?}");
    }
}
