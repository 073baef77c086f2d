//! The one error classification. Every error that can reach a flow says which of four kinds it
//! is; retry loops, the SQS batch runner and the webhooks decide from the kind alone.

use std::time::Duration;

/// What to do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Worth retrying with backoff: timeouts, 5xx, lock contention, a store that is briefly away.
    Transient,
    /// The other side asked us to slow down; wait at least `retry_after` when it says how long.
    Throttled { retry_after: Option<Duration> },
    /// Credentials or session expired: refresh once, then retry once.
    AuthExpired,
    /// Retrying cannot help (validation, duplicates, missing configuration). Park it with its
    /// reason so a person can see and fix it.
    Permanent,
}

impl ErrorClass {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ErrorClass::Permanent)
    }

    /// A stable lower-case name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Throttled { .. } => "throttled",
            ErrorClass::AuthExpired => "auth_expired",
            ErrorClass::Permanent => "permanent",
        }
    }
}

/// Implemented by every crate's error enum.
pub trait Classify {
    fn class(&self) -> ErrorClass;
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of the storage and queue ports. Adapters map their SDK or database errors onto these.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A conditional write lost: the stored state is not what the caller required. The message
    /// names what is there instead.
    #[error("conflict: {message}")]
    Conflict { message: String },
    /// An idempotency record exists for this key with a different payload: the same key was used
    /// for different work.
    #[error("idempotency key {key} was already used for a different payload")]
    PayloadMismatch { key: String },
    /// The caller passed something the store cannot hold (too large, malformed).
    #[error("invalid input: {message}")]
    Invalid { message: String },
    /// A stored item could not be read back (missing attribute, bad encoding).
    #[error("stored data is corrupt: {message}")]
    Corrupt { message: String },
    /// The store or queue could not be reached or failed internally; retry.
    #[error("unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Source>,
    },
    /// The store throttled the request.
    #[error("throttled: {message}")]
    Throttled {
        message: String,
        retry_after: Option<Duration>,
    },
}

impl PortError {
    pub fn unavailable(message: impl Into<String>, source: impl Into<Source>) -> Self {
        PortError::Unavailable {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub fn corrupt(message: impl Into<String>) -> Self {
        PortError::Corrupt {
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        PortError::Conflict {
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        PortError::Invalid {
            message: message.into(),
        }
    }
}

impl Classify for PortError {
    fn class(&self) -> ErrorClass {
        match self {
            PortError::Unavailable { .. } => ErrorClass::Transient,
            PortError::Throttled { retry_after, .. } => ErrorClass::Throttled {
                retry_after: *retry_after,
            },
            PortError::Conflict { .. }
            | PortError::PayloadMismatch { .. }
            | PortError::Invalid { .. }
            | PortError::Corrupt { .. } => ErrorClass::Permanent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_errors_classify() {
        assert_eq!(
            PortError::unavailable("dynamodb", std::io::Error::other("reset")).class(),
            ErrorClass::Transient
        );
        assert_eq!(PortError::conflict("x").class(), ErrorClass::Permanent);
        assert!(!ErrorClass::Permanent.is_retryable());
        assert!(
            ErrorClass::Throttled {
                retry_after: Some(Duration::from_secs(2))
            }
            .is_retryable()
        );
    }

    #[test]
    fn source_chain_is_kept() {
        let e = PortError::unavailable("sqs send", std::io::Error::other("connection reset"));
        let src = std::error::Error::source(&e).map(|s| s.to_string());
        assert_eq!(src.as_deref(), Some("connection reset"));
    }
}
