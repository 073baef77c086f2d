//! [`AuditLog`] on SQLite.

use lf_domain::port::{AuditAction, AuditEntry, AuditLog};
use lf_domain::{Flow, PortError, RecordRef};
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

    /// How many entries each flow appended per action, over the whole log: what a local
    /// run did in total (the demo's summary). Not part of the port: a DynamoDB table would
    /// need a scan for it.
    pub async fn tally(&self) -> Result<Vec<(Flow, AuditAction, u64)>, PortError> {
        self.db
            .run("audit tally", move |conn, _| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT json_extract(entry, '$.flow'), json_extract(entry, '$.action'), \
                         COUNT(*) FROM audit_entry GROUP BY 1, 2 ORDER BY 1, 2",
                    )
                    .or_port("audit tally")?;
                let rows = stmt
                    .query_map([], |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, i64>(2)?,
                        ))
                    })
                    .or_port("audit tally")?;
                rows.map(|row| {
                    let (flow, action, n) = row.or_port("audit tally")?;
                    Ok((
                        parse("flow", flow)?,
                        parse("action", action)?,
                        u64::try_from(n).unwrap_or_default(),
                    ))
                })
                .collect()
            })
            .await
    }
}

/// A serde enum from the string an entry's JSON holds for it.
fn parse<T: serde::de::DeserializeOwned>(what: &str, v: String) -> Result<T, PortError> {
    serde_json::from_value(serde_json::Value::String(v.clone()))
        .map_err(|e| PortError::corrupt(format!("audit entry {what} {v:?}: {e}")))
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Utc;
    use lf_domain::port::{AuditAction, AuditEntry, AuditLog};
    use lf_domain::{CorrelationId, Flow, RecordRef, System, SystemClock};

    use crate::Database;

    fn entry(flow: Flow, action: AuditAction, id: &str) -> AuditEntry {
        AuditEntry {
            record: RecordRef {
                system: System::Intacct,
                object: "CUSTOMER".into(),
                id: id.into(),
            },
            at: Utc::now(),
            flow,
            action,
            correlation_id: CorrelationId::new_random(),
            counterpart: None,
            detail: String::new(),
        }
    }

    #[tokio::test]
    async fn tally_counts_entries_per_flow_and_action() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path().join("store.db"), Arc::new(SystemClock)).unwrap();
        let log = db.audit_log();
        for (flow, action, id) in [
            (Flow::AccountSync, AuditAction::Updated, "C1"),
            (Flow::AccountSync, AuditAction::Updated, "C2"),
            (Flow::AccountSync, AuditAction::SkippedEcho, "C1"),
            (Flow::OpportunityWon, AuditAction::Created, "C3"),
        ] {
            log.append(&entry(flow, action, id)).await.unwrap();
        }
        let mut tally = log.tally().await.unwrap();
        tally.sort_by_key(|(f, a, _)| (f.as_str(), format!("{a:?}")));
        assert_eq!(
            tally,
            vec![
                (Flow::AccountSync, AuditAction::SkippedEcho, 1),
                (Flow::AccountSync, AuditAction::Updated, 2),
                (Flow::OpportunityWon, AuditAction::Created, 1),
            ]
        );
    }
}
