//! Loopback HTTP tests of the sandbox: what a real client sees on the wire.

// Test helpers outside `#[test]` functions fail loudly by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth;
mod bulk;
mod collections;
mod composite;
mod faults;
mod limits;
mod metadata;
mod outbound;
mod platform;
mod query;
mod rates;
mod replication;
mod rest;
mod soap_login;
mod support;
