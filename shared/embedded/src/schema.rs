//! The schema, versioned by SQLite's `user_version`. Opening a database applies every migration
//! past its version in one transaction; a database written by a newer build is refused.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::EmbeddedError;

/// `MIGRATIONS[n]` takes a database from version `n` to `n + 1`. Append only: a released
/// migration is never edited, so every file in the field converges on the same schema.
const MIGRATIONS: &[&str] = &[V1, V2];

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

/// State keyed for many flows, stale idempotency owners, parked failures and the company-wide
/// limiter's leases.
const V2: &str = "
-- The Intacct side of a link is its company-unique key; the entity is an attribute. A file
-- holding one key in two entities cannot be migrated: the migration fails (and changes
-- nothing) rather than pick one of the links.
CREATE TABLE xref_link_v2 (
    kind           TEXT    NOT NULL,
    salesforce_id  TEXT    NOT NULL,
    intacct_entity TEXT    NOT NULL, -- '' at the top level
    intacct_key    TEXT    NOT NULL,
    linked_at      INTEGER NOT NULL,
    PRIMARY KEY (kind, salesforce_id),
    UNIQUE (kind, intacct_key)
) STRICT;
INSERT INTO xref_link_v2 SELECT kind, salesforce_id, intacct_entity, intacct_key, linked_at
    FROM xref_link;
DROP TABLE xref_link;
ALTER TABLE xref_link_v2 RENAME TO xref_link;

-- The token of the caller that took the record; NULL on records written before v2, which
-- only their (unknown) owner's successor can take over.
ALTER TABLE idempotency_record ADD COLUMN owner TEXT;

-- Fingerprints per record and flow. Those written before v2 belong to no flow and are dropped:
-- without one, the next change of such a record is diffed against the target instead of being
-- recognised as an echo, and a diff with nothing to change writes nothing.
DROP TABLE fingerprint;
CREATE TABLE fingerprint (
    system      TEXT    NOT NULL,
    object      TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    flow        TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (system, object, record_id, flow)
) STRICT;

CREATE TABLE parked_failure (
    flow        TEXT    NOT NULL,
    system      TEXT    NOT NULL,
    object      TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    error_class TEXT    NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    attempts    INTEGER NOT NULL,
    payload     TEXT    NOT NULL, -- JSON
    PRIMARY KEY (flow, system, object, record_id)
) STRICT;
CREATE INDEX parked_failure_by_time ON parked_failure (last_seen);

-- One row per taken slot of a named limiter; a row whose expiry passed is a free slot.
CREATE TABLE lease (
    name       TEXT    NOT NULL,
    slot       INTEGER NOT NULL,
    token      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (name, slot)
) STRICT;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A file as version 1 wrote it, with one link per `(entity, key)` given.
    fn v1_file(links: &[(&str, &str, &str)]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        for (sf, entity, key) in links {
            conn.execute(
                "INSERT INTO xref_link VALUES ('account-customer', ?1, ?2, ?3, 7)",
                [sf, entity, key],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO idempotency_record VALUES ('k', 'COMPLETED', 'h', 9, NULL, '1')",
            [],
        )
        .unwrap();
        (dir, path)
    }

    #[test]
    fn a_version_1_file_keeps_its_links_and_records() {
        let (_dir, path) = v1_file(&[("001A", "US", "C-1"), ("001B", "", "C-2")]);
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path).unwrap();
        let links: Vec<(String, String, String)> = conn
            .prepare("SELECT salesforce_id, intacct_entity, intacct_key FROM xref_link ORDER BY 1")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            links,
            vec![
                ("001A".into(), "US".into(), "C-1".into()),
                ("001B".into(), "".into(), "C-2".into())
            ]
        );
        let owner: Option<String> = conn
            .query_row(
                "SELECT owner FROM idempotency_record WHERE key = 'k'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(owner, None);
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, CURRENT_VERSION);
    }

    #[test]
    fn one_key_in_two_entities_stops_the_migration_and_changes_nothing() {
        let (_dir, path) = v1_file(&[("001A", "US", "K-1"), ("001B", "UK", "K-1")]);
        let mut conn = Connection::open(&path).unwrap();
        let err = migrate(&mut conn, &path).unwrap_err();
        assert!(matches!(err, EmbeddedError::Setup { .. }), "{err:?}");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 1, "the file is left at version 1");
        let links: i64 = conn
            .query_row("SELECT COUNT(*) FROM xref_link", [], |r| r.get(0))
            .unwrap();
        assert_eq!(links, 2);
    }
}
