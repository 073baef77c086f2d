//! A concurrency cap that holds across every process and instance: Intacct allows a company a
//! fixed number of concurrent requests (2 by default), and every function that talks to it —
//! several Lambda functions, each with several instances — must share that allowance.
//!
//! The trait is object-safe (boxed futures) so a connector can hold an
//! `Arc<dyn ConcurrencyLimiter>` without becoming generic over the storage adapter.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::deadline::Deadline;
use crate::error::PortError;

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
///   at the deadline it fails with [`PortError::Throttled`].
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
