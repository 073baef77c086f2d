//! [`AuditLog`] on SQLite.

use lf_domain::port::{AuditEntry, AuditLog};
use lf_domain::{PortError, RecordRef};
use rusqlite::params;

use crate::database::Database;
use crate::error::OrPortError;
use crate::timestamp::to_nanos;

/// The append-only audit log.
///
/// Each entry is a new row with a never-reused sequence number, so entries sharing a timestamp
/// never collide; `history` orders by time, then by append order, newest first. There is no
/// update or delete. Durable once `append` returned `Ok` (see [`Database`]).
#[derive(Debug, Clone)]
pub struct SqliteAuditLog {
    db: Database,
}

impl SqliteAuditLog {
    pub(crate) fn new(db: Database) -> Self {
        Self { db }
    }
}

impl AuditLog for SqliteAuditLog {
    async fn append(&self, entry: &AuditEntry) -> Result<(), PortError> {
        let at = to_nanos("audit time", entry.at)?;
        let json = serde_json::to_string(entry)
            .map_err(|e| PortError::invalid(format!("audit entry: {e}")))?;
        let record = entry.record.clone();
        self.db
            .run("audit append", move |conn, _| {
                conn.prepare_cached(
                    "INSERT INTO audit_entry (system, object, record_id, at, entry) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        record.system.as_str(),
                        record.object,
                        record.id,
                        at,
                        json
                    ])
                })
                .or_port("audit append")?;
                Ok(())
            })
            .await
    }

    async fn history(
        &self,
        record: &RecordRef,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, PortError> {
        let record = record.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .run("audit history", move |conn, _| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT entry FROM audit_entry \
                         WHERE system = ?1 AND object = ?2 AND record_id = ?3 \
                         ORDER BY at DESC, seq DESC LIMIT ?4",
                    )
                    .or_port("audit history")?;
                let rows = stmt
                    .query_map(
                        params![record.system.as_str(), record.object, record.id, limit],
                        |row| row.get::<_, String>(0),
                    )
                    .or_port("audit history")?;
                rows.map(|row| {
                    let json = row.or_port("audit history")?;
                    serde_json::from_str(&json)
                        .map_err(|e| PortError::corrupt(format!("audit entry of {record}: {e}")))
                })
                .collect()
            })
            .await
    }
}
