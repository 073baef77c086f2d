//! Event intake: how changes get onto the flow queues (DESIGN.md §2).
//!
//! - **salesforce-webhook** ([`SalesforceWebhook`]): Outbound Messages (SOAP, org id allow-list
//!   plus a shared token) and JSON posts from Flow HTTP callouts (HMAC-SHA256 with a timestamp).
//! - **intacct-webhook** ([`IntacctWebhook`]): Smart Event HTTP posts (shared token).
//! - **change-poller** ([`ChangePoller`]): changes since the stored watermark on both sides, so
//!   a lost webhook delays a change by at most one poll interval and never loses it.
//!
//! The webhooks are served by one [`Intake`] over neutral HTTP types ([`WebhookRequest`],
//! [`WebhookResponse`]), so the same code answers a Lambda behind API Gateway (the runtime
//! converts its events) and `ledgerforce local` (through [`router`]). Every notification
//! becomes a [`lf_domain::ChangeEnvelope`], routed by a [`RoutingTable`] to the queues of its
//! flows; the webhook acknowledges only after every envelope is durably queued, answers 4xx for
//! bad input or authentication with nothing queued, and 5xx only when queueing failed (so the
//! sender retries).

mod callout;
mod exchange;
mod intacct;
mod intake;
mod poller;
mod routing;
mod salesforce;
mod server;

pub use callout::{
    CALLOUT_VERSION, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_callout, signed_payload,
};
pub use exchange::{WebhookRequest, WebhookResponse};
pub use intacct::{IntacctWebhook, smart_event_envelope};
pub use intake::{Intake, IntakeConfig};
pub use poller::{ChangePoller, PollReport, PollStream, PollerConfig, StreamReport};
pub use routing::{ConfigError, FlowQueues, RoutingTable};
pub use salesforce::{SalesforceWebhook, SalesforceWebhookConfig, TOKEN_HEADER};
pub use server::router;
