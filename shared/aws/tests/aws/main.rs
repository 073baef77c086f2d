//! lf-aws's integration tests, one binary: the port contract suite against DynamoDB and SQS,
//! mapping-spec loading from S3 and SSM, and secrets from Secrets Manager, all against a local
//! moto server.
//!
//! Needs `LEDGERFORCE_MOTO_ENDPOINT` (e.g. `http://127.0.0.1:5000`); `tests/run` starts moto
//! and sets it. Without a reachable moto every test here fails, on purpose: a skipped adapter
//! test would look like a passing one.

// Harness code lives outside `#[test]` functions, where clippy.toml's test allowance does not
// reach; a harness that cannot set up must fail the test loudly.
#![allow(clippy::panic)]

mod contract;
mod moto;
mod report_store;
mod secrets;
mod spec_source;
