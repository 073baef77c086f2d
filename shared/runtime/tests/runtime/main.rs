//! lf-runtime's integration tests: Lambda event shapes, the webhook function over the real
//! intake, the poller function, and the cold start against moto and both sandboxes.
//!
//! Needs `LEDGERFORCE_MOTO_ENDPOINT` for the cold-start tests (`tests/run` starts moto); without
//! it they fail on purpose rather than skip.

// Harness code lives outside `#[test]` functions, where clippy.toml's test allowance does not
// reach; a harness that cannot set up must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cold_start;
mod deployed;
mod events;
mod poller;
mod reconcile;
mod webhook;
