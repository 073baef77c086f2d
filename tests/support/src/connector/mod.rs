//! Contract suites for the connector ports: each runs against a real client on its sandbox.

pub mod intacct;
pub mod salesforce;
