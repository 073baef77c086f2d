//! Fault-injecting wrappers around the connector ports, in one place for every test that needs
//! a misbehaving Salesforce or Intacct: each wrapper holds a real client (talking to its sandbox
//! over loopback) and, before or after delegating a call, injects the fault its [`FaultPlan`]
//! draws. The same seed and the same calls give the same faults.

use std::time::Duration;

pub mod intacct;
pub mod salesforce;

pub use lf_sandbox_core::FaultPlan;

/// What a wrapper can do to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorFault {
    /// The call reaches the service and commits, but the caller sees a transient failure
    /// whose outcome is unknown (a timeout after the write was applied).
    LostAfterCommit,
    /// Refused before reaching the service with a throttling error (429 / GW-0010).
    Throttle,
    /// Refused before reaching the service with a transient error (5xx, connection reset).
    Transient,
    /// Refused with a permanent error (validation).
    Permanent,
    /// Delayed by this long, then delegated normally.
    Slow(Duration),
}

/// A plan of connector faults from `seed`.
pub fn plan(seed: u64) -> FaultPlan<ConnectorFault> {
    FaultPlan::new(seed)
}
