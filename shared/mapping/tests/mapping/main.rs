//! Integration tests of lf-mapping: the spec engine end to end on the shipped specs and on
//! broken ones (`specs`), and the shipped specs against the Salesforce and Intacct sandboxes
//! over loopback (`sandboxes`), and the completeness of what a mapping says it reads (`reads`).

// Test code: helpers outside #[test] functions unwrap and panic too (a failed fixture must stop
// the test loudly).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod reads;
mod sandboxes;
mod specs;
