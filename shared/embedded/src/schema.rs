//! The schema, versioned by SQLite's `user_version`. Opening a database applies every migration
//! past its version in one transaction; a database written by a newer build is refused.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::EmbeddedError;

/// `MIGRATIONS[n]` takes a database from version `n` to `n + 1`. Append only: a released
/// migration is never edited, so every file in the field converges on the same schema.
const MIGRATIONS: &[&str] = &[V1];

/// The schema version this build writes.
pub(crate) const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Times are nanoseconds since the Unix epoch (see `timestamp`). Tables are STRICT so a wrong
/// type is refused at write time instead of surfacing as a corrupt read later.
const V1: &str = "
-- One row per link holds both directions; each direction has its own unique key, so a record
-- is linked to at most one counterpart per kind and a lookup from either side is one index probe.
CREATE TABLE xref_link (
    kind           TEXT    NOT NULL,
    salesforce_id  TEXT    NOT NULL,
    intacct_entity TEXT    NOT NULL, -- '' at the top level (NULLs would not collide in UNIQUE)
    intacct_key    TEXT    NOT NULL,
    linked_at      INTEGER NOT NULL,
    PRIMARY KEY (kind, salesforce_id),
    UNIQUE (kind, intacct_entity, intacct_key)
) STRICT;

CREATE TABLE idempotency_record (
    key                TEXT    NOT NULL PRIMARY KEY,
    status             TEXT    NOT NULL CHECK (status IN ('INPROGRESS', 'COMPLETED')),
    payload_hash       TEXT    NOT NULL,
    expiry             INTEGER NOT NULL,
    in_progress_expiry INTEGER,
    result             TEXT
) STRICT;

CREATE TABLE watermark (
    stream      TEXT    NOT NULL PRIMARY KEY,
    modified_at INTEGER NOT NULL,
    last_id     TEXT    NOT NULL
) STRICT;

CREATE TABLE fingerprint (
    system      TEXT    NOT NULL,
    object      TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (system, object, record_id)
) STRICT;

-- AUTOINCREMENT: a sequence number is never reused, so entries with equal timestamps keep a
-- stable order and none can take another's place.
CREATE TABLE audit_entry (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    system    TEXT    NOT NULL,
    object    TEXT    NOT NULL,
    record_id TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    entry     TEXT    NOT NULL -- the AuditEntry as JSON
) STRICT;
CREATE INDEX audit_entry_by_record ON audit_entry (system, object, record_id, at, seq);

-- Every named queue shares this table. `receipt` is the handle of the latest receive (NULL
-- until received, and again after a move to the dead-letter queue).
CREATE TABLE queue_message (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT    NOT NULL,
    message_id    TEXT    NOT NULL UNIQUE,
    body          TEXT    NOT NULL,
    sent_at       INTEGER NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT    UNIQUE
) STRICT;
CREATE INDEX queue_message_by_visibility ON queue_message (queue, visible_at);
";

/// Brings the database to [`CURRENT_VERSION`].
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), EmbeddedError> {
    let setup = |step: &'static str| {
        move |source| EmbeddedError::Setup {
            path: path.to_owned(),
            step,
            source,
        }
    };
    // IMMEDIATE: two processes opening a new file at once must not both create the tables.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(setup("begin migration"))?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(setup("read schema version"))?;
    if found > CURRENT_VERSION {
        return Err(EmbeddedError::NewerSchema {
            path: path.to_owned(),
            found,
            supported: CURRENT_VERSION,
        });
    }
    let start = usize::try_from(found).unwrap_or(0);
    for migration in MIGRATIONS.iter().skip(start) {
        tx.execute_batch(migration)
            .map_err(setup("apply migration"))?;
    }
    if found != CURRENT_VERSION {
        tx.pragma_update(None, "user_version", CURRENT_VERSION)
            .map_err(setup("write schema version"))?;
    }
    tx.commit().map_err(setup("commit migration"))?;
    if found != CURRENT_VERSION {
        tracing::info!(
            path = %path.display(),
            from = found,
            to = CURRENT_VERSION,
            "embedded database schema migrated"
        );
    }
    Ok(())
}
