//! The faults the org can inject, drawn per API call from a seeded [`lf_sandbox_core::FaultPlan`].

use std::fmt;

/// One kind of injected failure. Each authenticated `/services/data` call draws at most one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SalesforceFault {
    /// The call waits `SandboxConfig::latency` and then proceeds normally.
    Latency,
    /// `503 SERVER_UNAVAILABLE`; nothing happens.
    Unavailable,
    /// A write fails with `UNABLE_TO_LOCK_ROW` (the whole call for a single-record write, the
    /// first record for collections, Bulk and composite). Reads are not affected: the fault
    /// waits for the next write.
    LockRow,
    /// A write fails with `FIELD_CUSTOM_VALIDATION_EXCEPTION`, like a validation rule; placed
    /// like [`SalesforceFault::LockRow`].
    ValidationRule,
    /// Every session expires now; the call gets `401 INVALID_SESSION_ID`.
    ExpireSessions,
    /// The call gets `403 REQUEST_LIMIT_EXCEEDED` without changing the usage counter.
    LimitExceeded,
    /// The call is carried out (a write commits) and the response is then held back for
    /// `SandboxConfig::slow_response`, past a client's timeout.
    SlowResponse,
}

impl SalesforceFault {
    /// Every fault with the name `--faults` uses for it.
    pub const ALL: [(SalesforceFault, &'static str); 7] = [
        (SalesforceFault::Latency, "latency"),
        (SalesforceFault::Unavailable, "503"),
        (SalesforceFault::LockRow, "lock"),
        (SalesforceFault::ValidationRule, "validation"),
        (SalesforceFault::ExpireSessions, "expire"),
        (SalesforceFault::LimitExceeded, "limit"),
        (SalesforceFault::SlowResponse, "slow"),
    ];

    /// The fault a `--faults` name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(f, _)| *f)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("unknown", |(_, n)| n)
    }

    /// Faults that hit writes only.
    pub(crate) fn write_fault(self) -> Option<WriteFault> {
        match self {
            SalesforceFault::LockRow => Some(WriteFault::LockRow),
            SalesforceFault::ValidationRule => Some(WriteFault::ValidationRule),
            _ => None,
        }
    }
}

impl fmt::Display for SalesforceFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fault that makes one record write fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteFault {
    LockRow,
    ValidationRule,
}

impl WriteFault {
    pub fn error(self) -> crate::value::FieldError {
        match self {
            WriteFault::LockRow => crate::value::FieldError::new(
                "UNABLE_TO_LOCK_ROW",
                "unable to obtain exclusive access to this record",
                &[],
            ),
            WriteFault::ValidationRule => crate::value::FieldError::new(
                "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "Sandbox validation rule: the record was refused (injected fault)",
                &[],
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (fault, name) in SalesforceFault::ALL {
            assert_eq!(SalesforceFault::from_name(name), Some(fault));
            assert_eq!(fault.to_string(), name);
        }
        assert_eq!(
            SalesforceFault::from_name("LOCK"),
            Some(SalesforceFault::LockRow)
        );
        assert_eq!(SalesforceFault::from_name("nope"), None);
    }
}
