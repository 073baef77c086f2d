//! The ledgerforce domain: validated identifiers, money, the records the flows pass around,
//! the port traits every adapter implements, and the one error classification.
//!
//! This crate does no I/O. Adapters (DynamoDB/SQS in `lf-aws`, SQLite and an in-process queue in
//! `lf-embedded`) implement the ports in [`port`]; one contract test suite (in `lf-testkit`) runs
//! against every adapter family.

pub mod clock;
pub mod datetime;
pub mod deadline;
pub mod error;
pub mod id;
pub mod money;
pub mod port;
pub mod record;
pub mod retry;

pub use clock::{Clock, ManualClock, SystemClock};
pub use deadline::Deadline;
pub use error::{Classify, ErrorClass, PortError};
pub use id::{
    CorrelationId, EntityId, IdError, IdempotencyKey, IntacctKey, IntacctRef, SalesforceId,
};
pub use money::{CurrencyCode, Money, MoneyError};
pub use record::{ChangeEnvelope, EventOrigin, Fingerprint, Flow, RecordRef, System};
pub use retry::{RetryDecision, RetryPolicy, retry_after};
