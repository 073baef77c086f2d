//! The Lambda side of ledgerforce, once for every function: JSON tracing, typed configuration
//! read once, the cold start that builds adapters, connectors and specs outside the handler
//! ([`ColdStart`]), and the invocation loops: the SQS partial-batch handler over
//! [`lf_flows::run_batch`], the API Gateway HTTP API webhook handler over
//! [`lf_intake::Intake`], the scheduled change poller, the monthly revenue reconciliation
//! with its report to S3, and the weekly drift check. Every invocation emits its metrics as EMF lines ([`emf`]).

pub mod bootstrap;
pub mod config;
pub mod drift;
pub mod emf;
pub mod http_api;
pub mod poll;
pub mod reconcile;
pub mod sqs;
pub mod tracing_setup;

pub use bootstrap::{AwsChangePoller, AwsFlowPorts, BootstrapError, ColdStart, Endpoint};
pub use config::{ConfigError, RuntimeConfig, SalesforceAuth};
pub use drift::{DriftFailed, drift_invocation, drift_options, run_drift_function};
pub use http_api::{from_api_gateway, http_invocation, run_http_function, to_api_gateway};
pub use poll::{PollFailed, poll_invocation, poll_summary, run_poller_function};
pub use reconcile::{
    ReconciliationFailed, ReportSink, period_of, reconciliation_invocation,
    run_reconciliation_function,
};
pub use sqs::{batch_metrics, run_sqs_function, sqs_batch};
pub use tracing_setup::init_tracing;
