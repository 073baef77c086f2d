//! The Lambda side of ledgerforce, once for every function: JSON tracing, typed configuration
//! read once, the SQS partial-batch handler over [`lf_flows::run_batch`], and the conversion
//! of API Gateway HTTP API (v2) events to the webhooks' neutral request type.

pub mod config;
pub mod http_api;
pub mod sqs;
pub mod tracing_setup;

pub use config::{ConfigError, RuntimeConfig};
pub use http_api::{WebhookRequest, WebhookResponse, from_api_gateway, to_api_gateway};
pub use sqs::{run_sqs_function, sqs_batch};
pub use tracing_setup::init_tracing;
