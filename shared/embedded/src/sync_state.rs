//! [`SyncState`] on SQLite: forward-only watermarks and last-written fingerprints per record and
//! flow.

use lf_domain::port::{SyncState, Watermark};
use lf_domain::{Fingerprint, Flow, PortError, RecordRef};
use rusqlite::{OptionalExtension, params};

use crate::database::Database;
use crate::error::OrPortError;
use crate::timestamp::{from_nanos, to_nanos, to_nanos_saturating};

/// Watermarks and fingerprints.
///
/// A watermark moves with one conditional upsert (`… DO UPDATE … WHERE new > stored`), so
/// racing pollers, in this process or another, always leave the maximum. Durable once a method
/// returned `Ok` (see [`Database`]).
#[derive(Debug, Clone)]
pub struct SqliteSyncState {
    db: Database,
}

impl SqliteSyncState {
    pub(crate) fn new(db: Database) -> Self {
        Self { db }
    }
}

impl SyncState for SqliteSyncState {
    async fn watermark(&self, stream: &str) -> Result<Option<Watermark>, PortError> {
        let stream = stream.to_owned();
        self.db
            .run("read watermark", move |conn, _| {
                let stored: Option<(i64, String)> = conn
                    .prepare_cached("SELECT modified_at, last_id FROM watermark WHERE stream = ?1")
                    .and_then(|mut stmt| {
                        stmt.query_row([&stream], |row| Ok((row.get(0)?, row.get(1)?)))
                            .optional()
                    })
                    .or_port("read watermark")?;
                Ok(stored.map(|(at, last_id)| Watermark {
                    modified_at: from_nanos(at),
                    last_id,
                }))
            })
            .await
    }

    async fn advance_watermark(&self, stream: &str, to: &Watermark) -> Result<bool, PortError> {
        let stream = stream.to_owned();
        let at = to_nanos("watermark", to.modified_at)?;
        let last_id = to.last_id.clone();
        self.db
            .run("advance watermark", move |conn, _| {
                // Row-value comparison orders exactly as `Watermark`'s derived Ord: time first,
                // then the id by bytes (SQLite's BINARY collation, Rust's `str` order).
                let changed = conn
                    .prepare_cached(
                        "INSERT INTO watermark (stream, modified_at, last_id) VALUES (?1, ?2, ?3) \
                         ON CONFLICT (stream) DO UPDATE \
                         SET modified_at = excluded.modified_at, last_id = excluded.last_id \
                         WHERE (excluded.modified_at, excluded.last_id) > (modified_at, last_id)",
                    )
                    .and_then(|mut stmt| stmt.execute(params![stream, at, last_id]))
                    .or_port("advance watermark")?;
                Ok(changed == 1)
            })
            .await
    }

    async fn fingerprint(
        &self,
        record: &RecordRef,
        flow: Flow,
    ) -> Result<Option<Fingerprint>, PortError> {
        let record = record.clone();
        self.db
            .run("read fingerprint", move |conn, _| {
                let stored: Option<String> = conn
                    .prepare_cached(
                        "SELECT fingerprint FROM fingerprint \
                         WHERE system = ?1 AND object = ?2 AND record_id = ?3 AND flow = ?4",
                    )
                    .and_then(|mut stmt| {
                        stmt.query_row(
                            params![
                                record.system.as_str(),
                                record.object,
                                record.id,
                                flow.as_str()
                            ],
                            |row| row.get(0),
                        )
                        .optional()
                    })
                    .or_port("read fingerprint")?;
                stored
                    .map(|hex| {
                        Fingerprint::from_hex(&hex).ok_or_else(|| {
                            PortError::corrupt(format!(
                                "fingerprint of {record} ({flow}): {hex:?} is not a SHA-256 hex digest"
                            ))
                        })
                    })
                    .transpose()
            })
            .await
    }

    async fn record_fingerprint(
        &self,
        record: &RecordRef,
        flow: Flow,
        fingerprint: &Fingerprint,
    ) -> Result<(), PortError> {
        let record = record.clone();
        let fingerprint = fingerprint.as_hex().to_owned();
        self.db
            .run("record fingerprint", move |conn, now| {
                let recorded_at = to_nanos_saturating(now);
                conn.prepare_cached(
                    "INSERT INTO fingerprint \
                     (system, object, record_id, flow, fingerprint, recorded_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (system, object, record_id, flow) DO UPDATE \
                     SET fingerprint = excluded.fingerprint, recorded_at = excluded.recorded_at",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        record.system.as_str(),
                        record.object,
                        record.id,
                        flow.as_str(),
                        fingerprint,
                        recorded_at
                    ])
                })
                .or_port("record fingerprint")?;
                Ok(())
            })
            .await
    }
}
