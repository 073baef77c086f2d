//! Errors: [`EmbeddedError`] for opening a database and configuring queues, and the mapping of
//! SQLite failures onto [`PortError`] for the port methods.

use std::path::PathBuf;

use lf_domain::{Classify, ErrorClass, PortError};
use rusqlite::ErrorCode;

/// Why a [`crate::Database`] could not be opened or a queue could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("cannot open the database file {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot prepare the database {path}: {step}")]
    Setup {
        path: PathBuf,
        step: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// WAL is what makes a committed write survive a crash without blocking readers; a file
    /// system that cannot hold it (some network mounts) is refused rather than run unsafely.
    #[error("the database {path} cannot use WAL journaling (journal mode is {mode:?})")]
    NoWal { path: PathBuf, mode: String },
    #[error(
        "the database {path} has schema version {found}, newer than this build knows ({supported}); \
         use a newer ledgerforce"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("invalid queue configuration for {queue:?}: {reason}")]
    QueueConfig { queue: String, reason: String },
}

impl Classify for EmbeddedError {
    fn class(&self) -> ErrorClass {
        match self {
            EmbeddedError::Open { source, .. } | EmbeddedError::Setup { source, .. }
                if is_busy(source) =>
            {
                ErrorClass::Transient
            }
            _ => ErrorClass::Permanent,
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Maps a SQLite failure during `what` onto the port error a flow can act on.
///
/// `Conflict` and `Corrupt` carry only a message in [`PortError`], so the SQLite error is
/// rendered into it; `Unavailable` keeps it as the source.
pub(crate) fn port_error(what: &str, e: rusqlite::Error) -> PortError {
    use rusqlite::Error as E;
    match &e {
        E::SqliteFailure(failure, _) => match failure.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                PortError::unavailable(format!("{what}: the database is busy"), e)
            }
            ErrorCode::ConstraintViolation => PortError::conflict(format!("{what}: {e}")),
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                PortError::corrupt(format!("{what}: {e}"))
            }
            ErrorCode::TooBig => PortError::invalid(format!("{what}: {e}")),
            _ => PortError::unavailable(format!("{what}: database failure"), e),
        },
        E::FromSqlConversionFailure(..)
        | E::InvalidColumnType(..)
        | E::IntegralValueOutOfRange(..)
        | E::Utf8Error(..) => PortError::corrupt(format!("{what}: {e}")),
        _ => PortError::unavailable(format!("{what}: database failure"), e),
    }
}

/// `result.or_port("what")?` in place of a `map_err` at every SQL call.
pub(crate) trait OrPortError<T> {
    fn or_port(self, what: &str) -> Result<T, PortError>;
}

impl<T> OrPortError<T> for Result<T, rusqlite::Error> {
    fn or_port(self, what: &str) -> Result<T, PortError> {
        self.map_err(|e| port_error(what, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::ffi;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some("detail".into()))
    }

    #[test]
    fn sqlite_failures_map_onto_port_errors() {
        for busy in [
            ffi::SQLITE_BUSY,
            ffi::SQLITE_LOCKED,
            ffi::SQLITE_BUSY_SNAPSHOT,
        ] {
            let e = port_error("link", failure(busy));
            assert!(matches!(e, PortError::Unavailable { .. }), "{e:?}");
            assert_eq!(e.class(), ErrorClass::Transient);
            assert!(std::error::Error::source(&e).is_some(), "source is kept");
        }
        assert!(matches!(
            port_error("link", failure(ffi::SQLITE_CONSTRAINT_UNIQUE)),
            PortError::Conflict { .. }
        ));
        assert!(matches!(
            port_error("read", failure(ffi::SQLITE_CORRUPT)),
            PortError::Corrupt { .. }
        ));
        assert!(matches!(
            port_error("read", failure(ffi::SQLITE_NOTADB)),
            PortError::Corrupt { .. }
        ));
        assert!(matches!(
            port_error("write", failure(ffi::SQLITE_IOERR)),
            PortError::Unavailable { .. }
        ));
        let undecodable =
            rusqlite::Error::InvalidColumnType(0, "linked_at".into(), rusqlite::types::Type::Text);
        let e = port_error("read", undecodable);
        assert!(matches!(e, PortError::Corrupt { .. }), "{e:?}");
        assert!(e.to_string().contains("linked_at"), "{e}");
    }

    #[test]
    fn busy_open_is_transient_and_the_rest_permanent() {
        let busy = EmbeddedError::Setup {
            path: "x.db".into(),
            step: "journal mode",
            source: failure(ffi::SQLITE_BUSY),
        };
        assert_eq!(busy.class(), ErrorClass::Transient);
        let newer = EmbeddedError::NewerSchema {
            path: "x.db".into(),
            found: 9,
            supported: 1,
        };
        assert_eq!(newer.class(), ErrorClass::Permanent);
    }
}
