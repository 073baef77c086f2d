//! The AWS adapters of the ledgerforce ports: DynamoDB for the stores, SQS for the queues.
//!
//! | port | adapter | table / queue |
//! |------|---------|---------------|
//! | [`XrefStore`](lf_domain::port::XrefStore) | [`DynamoXrefStore`] | one item per direction, written in one transaction |
//! | [`IdempotencyStore`](lf_domain::port::IdempotencyStore) | [`DynamoIdempotencyStore`] | the AWS Powertools layout (`id`, `status`, `expiration`, …) |
//! | [`SyncState`](lf_domain::port::SyncState) | [`DynamoSyncState`] | watermarks and fingerprints |
//! | [`AuditLog`](lf_domain::port::AuditLog) | [`DynamoAuditLog`] | record × time-ordered sort key |
//! | [`ParkedFailures`](lf_domain::port::ParkedFailures) | [`DynamoParkedFailures`] | flow × record |
//! | [`ConcurrencyLimiter`](lf_domain::port::ConcurrencyLimiter) | [`DynamoLimiter`] | one item per slot, conditional put / delete |
//! | [`Queue`](lf_domain::port::Queue) | [`SqsQueue`] | one queue; its DLQ is a redrive policy |
//!
//! Every store reads time from an injected [`lf_domain::Clock`] and passes it into its
//! conditions as a value, so expiry is decided by the caller's clock, not DynamoDB's TTL
//! sweeper (which may lag by days). [`schema`] holds the table and queue definitions that
//! `template.yaml` deploys and that tests and local setups create; [`config`] builds the SDK
//! configuration.
//!
//! [`spec_source`] loads the mapping specs at a function's cold start: from an S3 prefix or an
//! SSM Parameter Store path when configured, else the shipped default. [`secrets`] reads
//! credentials from Secrets Manager into `secrecy` types. [`report_store`] writes reports
//! (the revenue reconciliation's HTML and CSV) to S3.

pub mod config;
pub mod report_store;
pub mod schema;
pub mod secrets;
pub mod spec_source;

mod attribute;
mod audit;
mod error;
mod idempotency;
mod key;
mod limiter;
mod parked;
mod queue;
mod retry;
mod sync_state;
mod xref;

pub use audit::DynamoAuditLog;
pub use config::{AwsSettings, load_sdk_config};
pub use idempotency::DynamoIdempotencyStore;
pub use limiter::DynamoLimiter;
pub use parked::DynamoParkedFailures;
pub use queue::SqsQueue;
pub use report_store::{ReportStoreError, S3ReportStore};
pub use schema::{Table, TableNames};
pub use secrets::{SecretError, Secrets};
pub use spec_source::{
    MAPPING_SOURCE_VAR, SpecClients, SpecLoadError, SpecSource, load_specs, load_specs_or_log,
};
pub use sync_state::DynamoSyncState;
pub use xref::DynamoXrefStore;
