//! Test support shared by every crate's tests.
//!
//! [`contract`] holds one suite per port. An adapter family implements [`Harness`] once and
//! expands [`port_contract_tests!`] in its own `tests/contract.rs`; every case then runs, by
//! name, against that family. The embedded adapters and the DynamoDB/SQS adapters (against
//! moto) run the same cases, so they cannot drift apart.
#![allow(async_fn_in_trait)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod chromium;
pub mod connector;
pub mod contract;
#[cfg(feature = "lambda")]
pub mod deployment;
pub mod fault;
#[cfg(feature = "lambda")]
pub mod lambda;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use lf_domain::port::{
    AuditLog, ConcurrencyLimiter, IdempotencyConfig, IdempotencyStore, ParkedFailures, Queue,
    SyncState, XrefStore,
};

/// The fixed instant every harness clock starts at.
pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
        .single()
        .expect("valid fixed date")
}

/// What an adapter family provides to the contract suite. Every method returns a *fresh,
/// isolated* instance (new table, new queue, new file), so cases can run in parallel.
///
/// Stores read time from a [`lf_domain::ManualClock`] the harness owns; [`Harness::advance`]
/// moves it. Queues may run on real time (SQS does); [`Harness::let_queue_time_pass`] makes
/// `d` of queue time pass, by moving a clock or by sleeping.
pub trait Harness: Sized {
    type Xref: XrefStore;
    type Idempotency: IdempotencyStore;
    type State: SyncState;
    type Audit: AuditLog;
    type Queue: Queue;
    type Parked: ParkedFailures;
    type Limiter: ConcurrencyLimiter + 'static;

    /// A harness whose stores' clock starts at [`epoch`].
    async fn new() -> Self;
    async fn xref(&self) -> Self::Xref;
    async fn idempotency(&self, config: IdempotencyConfig) -> Self::Idempotency;
    async fn sync_state(&self) -> Self::State;
    async fn audit(&self) -> Self::Audit;
    async fn parked(&self) -> Self::Parked;
    /// `handles` handles on one fresh limiter of `capacity` slots, each as a separate process
    /// would hold it (its own connection or client), so the cases check the cap across them.
    async fn limiters(&self, capacity: u32, handles: usize) -> Vec<Self::Limiter>;
    /// A queue without a dead-letter queue.
    async fn queue(&self) -> Self::Queue;
    /// A queue whose messages move to the returned dead-letter queue instead of being received
    /// a `max_receives + 1`-th time.
    async fn queue_with_dlq(&self, max_receives: u32) -> (Self::Queue, Self::Queue);
    /// Moves the stores' clock forward.
    fn advance(&self, by: Duration);
    /// Lets `d` of queue time pass.
    async fn let_queue_time_pass(&self, d: Duration);
}
