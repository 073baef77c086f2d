//! Connector tests against the Salesforce sandbox over loopback HTTP: every request goes
//! through a real socket to `lf-sandbox-salesforce`, which speaks the documented wire formats.

// clippy.toml allows these in #[test] functions; the helpers of this test binary are test code
// too, and a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod bulk;
mod contract;
mod limits;
mod multiple_choices;
mod outbound;
mod port;
mod query;
mod rest;
mod scripted;
mod support;
mod writes;
