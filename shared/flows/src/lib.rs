//! The flows of DESIGN.md §1 as use cases over the ports, and the machinery every flow shares:
//! the batch runner (one queue batch in, one outcome per message out), idempotency per item,
//! parking of permanent failures, and the local consumer loop.
//!
//! A flow never touches HTTP, SQS or DynamoDB directly — only ports — so the same code runs in a
//! Lambda function (through `lf-runtime`), in `ledgerforce local`, in the demo and in tests.
//!
//! Every flow is *capture* (re-read the current source records, batched, selecting the fields
//! the compiled mapping reads), *plan* (a pure function over the whole batch: skip, link, create,
//! update, park), and *apply* (batched writes per lane, then links, fingerprints and audit).

pub mod account_onboarding;
pub mod account_sync;
mod ar_summary;
pub mod batch;
pub mod consumer;
pub mod credit_alerts;
mod customer;
pub mod drift;
pub mod idempotency;
pub mod invoice_status;
mod items;
pub mod metrics;
pub mod opportunity_won;
pub mod overview;
pub mod ports;
mod records;
pub mod replay;
pub mod report;
pub mod revenue_reconciliation;
pub mod runner;
mod setup;
mod writeback;

pub use account_onboarding::{AccountOnboarding, AccountOnboardingOptions};
pub use account_sync::{AccountSync, AccountSyncOptions, SyncPreview};
pub use batch::{BatchContext, FlowHandler, Outcome, WorkItem};
pub use consumer::{Consumer, ConsumerOptions, DEPLOYED_BATCH_SIZE, DEPLOYED_BATCHING_WINDOW};
pub use credit_alerts::{CreditAlerts, CreditAlertsOptions};
pub use customer::CustomerPreview;
pub use drift::{DriftOptions, DriftReport};
pub use idempotency::{Gate, Idempotency, ItemKey};
pub use invoice_status::{InvoiceStatus, InvoiceStatusOptions, StatusPreview};
pub use metrics::{FlowCounts, Metrics};
pub use opportunity_won::{DocumentKind, OpportunityWon, OpportunityWonOptions};
pub use ports::{FlowPorts, Ports};
pub use revenue_reconciliation::{
    Reconciliation, ReconciliationError, RevenueReconciliation, RevenueReconciliationOptions,
};
pub use runner::{BatchCounts, BatchReport, RetryRequest, run_batch};
pub use setup::SetupError;
