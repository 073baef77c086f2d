//! Loopback HTTP tests of the Intacct sandbox.

// Helpers outside #[test] functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod documents;
mod entities;
mod faults;
mod paging;
mod protocol;
mod receivables;
mod seeds;
mod smart_events;
mod support;
mod usage;
