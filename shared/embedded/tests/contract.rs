//! The embedded adapters against the shared port contract suite, plus the crash test and the
//! limiter across processes.

// Test code: a failed step should stop the test where it failed (clippy.toml's test allowance
// does not reach helper functions of an integration test binary).
#![allow(clippy::unwrap_used, clippy::panic)]

#[path = "contract/crash.rs"]
mod crash;
#[path = "contract/processes.rs"]
mod processes;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lf_domain::ManualClock;
use lf_domain::port::IdempotencyConfig;
use lf_embedded::{
    Database, DeadLetter, LocalLimiter, SqliteAuditLog, SqliteIdempotencyStore, SqliteLimiter,
    SqliteParkedFailures, SqliteQueue, SqliteSyncState, SqliteXrefStore,
};
use lf_testkit::{Harness, epoch};

/// Every store or queue pair a case asks for lives in a new database file of the case's own
/// temporary directory; stores and queues share the harness's manual clock.
struct EmbeddedHarness {
    dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    files: AtomicUsize,
}

impl EmbeddedHarness {
    fn fresh_path(&self) -> PathBuf {
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        self.dir.path().join(format!("case-{n}.db"))
    }

    fn fresh_database(&self) -> Database {
        Database::open(self.fresh_path(), self.clock.clone()).unwrap()
    }
}

impl Harness for EmbeddedHarness {
    type Xref = SqliteXrefStore;
    type Idempotency = SqliteIdempotencyStore;
    type State = SqliteSyncState;
    type Audit = SqliteAuditLog;
    type Queue = SqliteQueue;
    type Parked = SqliteParkedFailures;
    type Limiter = SqliteLimiter;

    async fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            clock: Arc::new(ManualClock::new(epoch())),
            files: AtomicUsize::new(0),
        }
    }

    async fn xref(&self) -> SqliteXrefStore {
        self.fresh_database().xref_store()
    }

    async fn idempotency(&self, config: IdempotencyConfig) -> SqliteIdempotencyStore {
        self.fresh_database().idempotency_store(config)
    }

    async fn sync_state(&self) -> SqliteSyncState {
        self.fresh_database().sync_state()
    }

    async fn audit(&self) -> SqliteAuditLog {
        self.fresh_database().audit_log()
    }

    async fn queue(&self) -> SqliteQueue {
        self.fresh_database().queue("contract").unwrap()
    }

    async fn parked(&self) -> SqliteParkedFailures {
        self.fresh_database().parked_failures()
    }

    /// Each handle opens the file on its own connection, as another process would.
    async fn limiters(&self, capacity: u32, handles: usize) -> Vec<SqliteLimiter> {
        let path = self.fresh_path();
        (0..handles)
            .map(|_| {
                Database::open(&path, self.clock.clone())
                    .unwrap()
                    .limiter("intacct", capacity)
                    .unwrap()
            })
            .collect()
    }

    async fn queue_with_dlq(&self, max_receives: u32) -> (SqliteQueue, SqliteQueue) {
        let db = self.fresh_database();
        let queue = db
            .queue_with_dead_letter(
                "contract",
                DeadLetter {
                    queue: "contract-dlq".into(),
                    max_receives,
                },
            )
            .unwrap();
        (queue, db.queue("contract-dlq").unwrap())
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    async fn let_queue_time_pass(&self, d: Duration) {
        self.clock.advance(d);
    }
}

lf_testkit::port_contract_tests!(EmbeddedHarness);

/// The in-process limiter against the limiter cases; everything else is the embedded family's.
struct LocalHarness(EmbeddedHarness);

impl Harness for LocalHarness {
    type Xref = SqliteXrefStore;
    type Idempotency = SqliteIdempotencyStore;
    type State = SqliteSyncState;
    type Audit = SqliteAuditLog;
    type Queue = SqliteQueue;
    type Parked = SqliteParkedFailures;
    type Limiter = Arc<LocalLimiter>;

    async fn new() -> Self {
        Self(EmbeddedHarness::new().await)
    }
    async fn xref(&self) -> SqliteXrefStore {
        self.0.xref().await
    }
    async fn idempotency(&self, config: IdempotencyConfig) -> SqliteIdempotencyStore {
        self.0.idempotency(config).await
    }
    async fn sync_state(&self) -> SqliteSyncState {
        self.0.sync_state().await
    }
    async fn audit(&self) -> SqliteAuditLog {
        self.0.audit().await
    }
    async fn queue(&self) -> SqliteQueue {
        self.0.queue().await
    }
    async fn queue_with_dlq(&self, max_receives: u32) -> (SqliteQueue, SqliteQueue) {
        self.0.queue_with_dlq(max_receives).await
    }
    async fn parked(&self) -> SqliteParkedFailures {
        self.0.parked().await
    }
    /// One process: every handle is the same limiter.
    async fn limiters(&self, capacity: u32, handles: usize) -> Vec<Arc<LocalLimiter>> {
        let limiter =
            Arc::new(LocalLimiter::new("intacct", capacity, self.0.clock.clone()).unwrap());
        vec![limiter; handles]
    }
    fn advance(&self, by: Duration) {
        self.0.advance(by);
    }
    async fn let_queue_time_pass(&self, d: Duration) {
        self.0.let_queue_time_pass(d).await;
    }
}

mod local {
    use super::*;
    lf_testkit::limiter_contract_tests!(LocalHarness);
}
