//! Short retries inside an adapter, for the cases only the adapter can see: SQS batch entries
//! that failed while the rest succeeded, and DynamoDB transactions cancelled by a concurrent
//! transaction on the same items. Longer waits belong to the caller's retry policy.

use std::time::Duration;

use lf_domain::{ErrorClass, RetryDecision, RetryPolicy};

/// A few quick attempts: the conflicts and partial failures this covers clear in milliseconds.
pub(crate) const QUICK: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(25),
    cap: Duration::from_millis(400),
    max_attempts: 4,
};

/// After failed attempt number `attempt` (1-based), sleeps with jittered backoff and returns
/// `true`, or returns `false` when the attempts are used up.
pub(crate) async fn pause(policy: &RetryPolicy, attempt: u32) -> bool {
    match policy.decide(ErrorClass::Transient, attempt, None, rand::random::<f64>()) {
        RetryDecision::RetryAfter(delay) => {
            tokio::time::sleep(delay).await;
            true
        }
        RetryDecision::GiveUp => false,
    }
}
