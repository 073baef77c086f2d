//! Durable local adapters for the ledgerforce ports, on one SQLite file.
//!
//! [`Database`] opens (and creates or migrates) the file; from it come the stores
//! ([`SqliteXrefStore`], [`SqliteIdempotencyStore`], [`SqliteSyncState`], [`SqliteAuditLog`],
//! [`SqliteParkedFailures`]), the company-wide Intacct limiter ([`SqliteLimiter`]; one process
//! may use [`LocalLimiter`] instead) and
//! any number of named queues with SQS semantics ([`SqliteQueue`]), typically one per flow plus
//! its dead-letter queue. `ledgerforce local` and the end-to-end tests run on these; the same
//! contract suite as the DynamoDB/SQS adapters holds them to the rules of
//! [`lf_domain::port`].
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use lf_domain::SystemClock;
//! use lf_domain::port::{OutgoingMessage, Queue};
//! use lf_embedded::{Database, DeadLetter};
//!
//! # let dir = tempfile::tempdir()?;
//! let db = Database::open(dir.path().join("ledgerforce.db"), Arc::new(SystemClock))?;
//! let queue = db.queue_with_dead_letter(
//!     "opportunity-won",
//!     DeadLetter { queue: "opportunity-won-dlq".into(), max_receives: 5 },
//! )?;
//! queue.send_batch(&[OutgoingMessage::new(r#"{"v":1}"#)]).await?;
//! for message in queue.receive(10, Duration::from_secs(30), Duration::from_secs(20)).await? {
//!     // ... do the work, then:
//!     queue.delete(&message.receipt).await?;
//! }
//! # Ok(())
//! # }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
//!
//! # Durability
//!
//! The file runs in WAL mode with `synchronous=FULL`: a transaction's WAL frames are fsynced
//! before its commit returns. Every write method performs its whole effect in one transaction and
//! returns only after that commit, so **once a method returned `Ok`, its write survives a process
//! kill (SIGKILL) and a power loss, and is there when the file is reopened**; a write that was
//! interrupted before returning is either wholly there or wholly absent, never half-applied.
//!
//! # Why one file for stores and queues
//!
//! The queues live in their own table in the same file as the stores. A local installation then
//! has a single file to back up, move or delete, one WAL to recover, and one set of pragmas. SQLite
//! admits one writer at a time per file, but every write here is a short transaction and all
//! handles of one [`Database`] already share one connection, so a second file would not add
//! throughput in-process. A deployment that wants the queues apart can open two [`Database`]s on
//! two paths; nothing ties the tables together.
//!
//! # Time
//!
//! Every expiry (idempotency records, visibility timeouts, message delays) is measured on the
//! [`lf_domain::Clock`] given to [`Database::open`], so tests move a
//! [`lf_domain::ManualClock`] instead of sleeping. Only long polling waits on real time.

mod audit;
mod database;
mod error;
mod idempotency;
mod limiter;
mod parked;
mod queue;
mod schema;
mod sync_state;
mod timestamp;
mod xref;

pub use audit::SqliteAuditLog;
pub use database::Database;
pub use error::EmbeddedError;
pub use idempotency::SqliteIdempotencyStore;
pub use limiter::{LocalLimiter, SqliteLimiter};
pub use parked::SqliteParkedFailures;
pub use queue::{DeadLetter, SqliteQueue};
pub use sync_state::SqliteSyncState;
pub use xref::SqliteXrefStore;
