//! The ports: what the flows need from storage and queues, stated as traits with their
//! guarantees. Each has a production adapter (DynamoDB/SQS, `lf-aws`) and an embedded one
//! (SQLite and an in-process queue, `lf-embedded`); the contract suite in `lf-testkit` holds both
//! to the same rules.
//!
//! Methods return `impl Future + Send` so generic flow code can be spawned on a multi-threaded
//! runtime; implementations may simply write `async fn`.

pub mod audit;
pub mod idempotency;
pub mod intacct;
pub mod limiter;
pub mod parked;
pub mod queue;
pub mod salesforce;
pub mod sync_state;
pub mod xref;

pub use audit::{AuditAction, AuditEntry, AuditLog};
pub use idempotency::{BeginOutcome, IdempotencyConfig, IdempotencyStore, OwnerToken, PayloadHash};
pub use intacct::{
    AccountFields, CreateResult, CustomerAccounts, FieldTree, IdempotentWrite, IntacctObject,
    IntacctPort, IntacctRecord, Month, QueryFilter, RecognizedAmount, RecordQuery, RecordUpdate,
    RevenueBasis, WriteStatus,
};
pub use limiter::{
    BoxFuture, ConcurrencyLimiter, Lease, acquire_by_polling, check_capacity, lease_expiry,
};
pub use parked::{
    MAX_PARKED_PAYLOAD_BYTES, MAX_PARKED_REASON_CHARS, ParkRequest, ParkedFailure, ParkedFailures,
};
pub use queue::{OutgoingMessage, Queue, QueueDepth, ReceiptHandle, ReceivedMessage};
pub use salesforce::{
    Applied, ChangeBatch, ChildRead, DatedRate, RecordFailure, RecordRead, SalesforcePort,
    SalesforcePortError, SfRecord, TASK_KEY_FIELD, WriteResult,
};
pub use sync_state::{SyncState, Watermark};
pub use xref::{LinkKind, LinkOutcome, XrefLink, XrefPage, XrefStore};
