//! Integration tests of lf-intacct: the response parser on our own fixtures, the client
//! against a scripted gateway, and the client against the Intacct sandbox over loopback HTTP.

// Helpers outside #[test] functions are test code too: a broken fixture or fake must stop the
// test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod contract;
mod limiter;
mod loopback;
mod parser;
mod rates;
mod scripted;
