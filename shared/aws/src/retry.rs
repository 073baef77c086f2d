//! Short retries inside an adapter, for the cases only the adapter can see: SQS batch entries
//! that failed while the rest succeeded, and DynamoDB transactions cancelled by a concurrent
//! transaction on the same items. Longer waits belong to the caller's retry policy. Both run on
//! the one retry executor, [`lf_domain::retry::run`].

use std::fmt;
use std::future::Future;
use std::time::Duration;

use lf_domain::{ErrorClass, PortError, RetryPolicy, retry};

/// A few quick attempts: the conflicts and partial failures this covers clear in milliseconds.
pub(crate) const QUICK: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(25),
    cap: Duration::from_millis(400),
    max_attempts: 4,
};

/// How one attempt of a quickly retried operation failed.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// Worth another quick attempt (contention, a partial batch failure).
    Again,
    /// Final: return this error at once.
    Stop(PortError),
}

impl From<PortError> for Attempt {
    fn from(e: PortError) -> Self {
        Attempt::Stop(e)
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attempt::Again => f.write_str("contended or partly failed; trying again"),
            Attempt::Stop(e) => e.fmt(f),
        }
    }
}

/// Runs `op` (given the 1-based attempt number) under [`QUICK`]: again after
/// [`Attempt::Again`] with jittered backoff, at most `QUICK.max_attempts` times. Returns
/// `Err(Attempt::Again)` when the attempts ran out, for the caller to describe.
pub(crate) async fn quickly<T, Op, Fut>(what: &str, op: Op) -> Result<T, Attempt>
where
    Op: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Attempt>>,
{
    retry::run(
        &QUICK,
        None,
        what,
        |e: &Attempt, _| matches!(e, Attempt::Again).then_some(ErrorClass::Transient),
        op,
    )
    .await
}
