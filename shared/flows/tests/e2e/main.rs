//! End-to-end: the flow handlers through the batch runner, against both sandboxes over
//! loopback HTTP with the real clients and the embedded store.

// Helpers outside #[test] functions are test code too: a broken fixture must stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod account_onboarding;
mod account_sync;
mod credit_alerts;
mod drift;
mod falls_due;
mod invoice_status;
mod opportunity_won;
mod replay;
mod revenue_reconciliation;
mod support;
