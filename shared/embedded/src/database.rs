//! The database file: opening it safely, and running statements off the async executor.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lf_domain::port::IdempotencyConfig;
use lf_domain::{Clock, PortError};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Notify;

use crate::audit::SqliteAuditLog;
use crate::error::EmbeddedError;
use crate::idempotency::SqliteIdempotencyStore;
use crate::limiter::SqliteLimiter;
use crate::parked::SqliteParkedFailures;
use crate::queue::{DeadLetter, SqliteQueue};
use crate::schema;
use crate::sync_state::SqliteSyncState;
use crate::xref::SqliteXrefStore;

/// How long a statement waits for another process's write lock before failing with a
/// transient [`PortError::Unavailable`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One SQLite database file holding every embedded store and queue.
///
/// Cheap to clone; clones share one connection (statements run one at a time, on tokio's
/// blocking pool, never on the async executor) and the in-process wake-ups of long-polling
/// receivers, so every store and queue of a process should come from the same `Database`.
/// The port methods need a tokio runtime (they use its blocking pool).
/// Several processes may open the same file: SQLite's locking serialises their writes, and a
/// writer waits up to a few seconds for another before reporting the store unavailable.
///
/// Durability: WAL journaling with `synchronous=FULL`; each write method commits one
/// transaction before returning, so a write that returned `Ok` survives SIGKILL, power loss
/// and reopening, and an interrupted one is applied wholly or not at all.
#[derive(Debug, Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
    clock: Arc<dyn Clock>,
    /// Wakes receivers long-polling a queue when a message is sent to it in this process.
    queue_signals: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Database {
    /// Opens the file at `path`, creating it if needed, and brings its schema up to date.
    /// Blocking: call it once at startup. Times are read from `clock`.
    pub fn open(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self, EmbeddedError> {
        let path = path.as_ref().to_owned();
        let mut conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| EmbeddedError::Open {
            path: path.clone(),
            source,
        })?;
        configure(&conn, &path)?;
        schema::migrate(&mut conn, &path)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                conn: Mutex::new(conn),
                clock,
                queue_signals: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The file this database lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn xref_store(&self) -> SqliteXrefStore {
        SqliteXrefStore::new(self.clone())
    }

    pub fn idempotency_store(&self, config: IdempotencyConfig) -> SqliteIdempotencyStore {
        SqliteIdempotencyStore::new(self.clone(), config)
    }

    pub fn sync_state(&self) -> SqliteSyncState {
        SqliteSyncState::new(self.clone())
    }

    pub fn audit_log(&self) -> SqliteAuditLog {
        SqliteAuditLog::new(self.clone())
    }

    pub fn parked_failures(&self) -> SqliteParkedFailures {
        SqliteParkedFailures::new(self.clone())
    }

    /// The limiter called `name` with `capacity` slots, shared with every process that opens
    /// this file and asks for the same name. Fails with [`PortError::Invalid`] for capacity 0.
    pub fn limiter(&self, name: &str, capacity: u32) -> Result<SqliteLimiter, PortError> {
        SqliteLimiter::new(self.clone(), name, capacity)
    }

    /// The queue called `name` (1 to 80 letters, digits, `-` or `_`, as in SQS), without a
    /// dead-letter queue. Queues are created by use; two handles on the same name are the same
    /// queue.
    pub fn queue(&self, name: &str) -> Result<SqliteQueue, EmbeddedError> {
        SqliteQueue::new(self.clone(), name, None)
    }

    /// The queue called `name`, whose messages move to the queue `dead_letter.queue` instead of
    /// being received a `dead_letter.max_receives + 1`-th time.
    pub fn queue_with_dead_letter(
        &self,
        name: &str,
        dead_letter: DeadLetter,
    ) -> Result<SqliteQueue, EmbeddedError> {
        SqliteQueue::new(self.clone(), name, Some(dead_letter))
    }

    /// Runs `work` with the connection and the current time on the blocking pool. The lock is
    /// taken and released inside the blocking task, never held across an `.await`; the time is
    /// read after the lock is taken, so operations see the clock in the order they ran.
    pub(crate) async fn run<T, F>(&self, what: &'static str, work: F) -> Result<T, PortError>
    where
        F: FnOnce(&mut Connection, DateTime<Utc>) -> Result<T, PortError> + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A panic while the lock was held left no transaction open (a dropped rusqlite
            // transaction rolls back), so the connection is still sound.
            let mut conn = inner.conn.lock().unwrap_or_else(PoisonError::into_inner);
            let now = inner.clock.now();
            work(&mut conn, now)
        })
        .await
        .map_err(|e| PortError::unavailable(format!("{what}: the database task failed"), e))?
    }

    /// The wake-up signal of the queue called `name`, shared by every handle on it.
    pub(crate) fn queue_signal(&self, name: &str) -> Arc<Notify> {
        let mut signals = self
            .inner
            .queue_signals
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(signals.entry(name.to_owned()).or_default())
    }
}

fn configure(conn: &Connection, path: &Path) -> Result<(), EmbeddedError> {
    let setup = |step: &'static str| {
        move |source| EmbeddedError::Setup {
            path: path.to_owned(),
            step,
            source,
        }
    };
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(setup("set busy timeout"))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(setup("set journal mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(EmbeddedError::NoWal {
            path: path.to_owned(),
            mode,
        });
    }
    // FULL: the WAL is fsynced at every commit, so a returned write survives power loss too
    // (NORMAL would only survive a process kill).
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(setup("set synchronous"))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(setup("enable foreign keys"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lf_domain::ManualClock;

    fn clock() -> Arc<dyn Clock> {
        Arc::new(ManualClock::new(Utc::now()))
    }

    #[test]
    fn open_sets_durable_pragmas_and_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path().join("lf.db"), clock()).unwrap();
        let conn = db.inner.conn.lock().unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "FULL");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema::CURRENT_VERSION);
        let timeout: i64 = conn
            .pragma_query_value(None, "busy_timeout", |r| r.get(0))
            .unwrap();
        assert_eq!(timeout, 5000);
    }

    #[test]
    fn reopening_keeps_the_schema_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lf.db");
        drop(Database::open(&path, clock()).unwrap());
        // A second open migrates nothing and fails on nothing.
        drop(Database::open(&path, clock()).unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", schema::CURRENT_VERSION + 1)
                .unwrap();
        }
        match Database::open(&path, clock()) {
            Err(EmbeddedError::NewerSchema {
                found, supported, ..
            }) => {
                assert_eq!(found, schema::CURRENT_VERSION + 1);
                assert_eq!(supported, schema::CURRENT_VERSION);
            }
            other => panic!("expected NewerSchema, got {other:?}"),
        }
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lf.db");
        std::fs::write(
            &path,
            b"this is not a sqlite file, just some text padding it out",
        )
        .unwrap();
        let err = Database::open(&path, clock()).unwrap_err();
        assert!(matches!(err, EmbeddedError::Setup { .. }), "{err:?}");
    }
}
