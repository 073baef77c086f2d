//! [`ParkedFailures`] on SQLite.

use std::collections::BTreeMap;

use lf_domain::port::{ParkRequest, ParkedFailure, ParkedFailures};
use lf_domain::{Flow, PortError, RecordRef, System};
use rusqlite::{Row, params};

use crate::database::Database;
use crate::error::OrPortError;
use crate::timestamp::{from_nanos, to_nanos_saturating};

/// Parked failures, one row per (flow, record).
///
/// `park` is one upsert statement (`ON CONFLICT … DO UPDATE`), so concurrent parks of one key,
/// in this process or another, each add their attempt. Durable once a method returned `Ok`
/// (see [`Database`]).
#[derive(Debug, Clone)]
pub struct SqliteParkedFailures {
    db: Database,
}

impl SqliteParkedFailures {
    pub(crate) fn new(db: Database) -> Self {
        Self { db }
    }
}

const COLUMNS: &str = "flow, system, object, record_id, reason, error_class, first_seen, \
                       last_seen, attempts, payload";

/// A row as stored, decoded into the domain type (or [`PortError::Corrupt`]) outside SQLite's
/// row callback, where a domain error has nowhere to go.
struct StoredFailure {
    flow: String,
    system: String,
    object: String,
    record_id: String,
    reason: String,
    error_class: String,
    first_seen: i64,
    last_seen: i64,
    attempts: i64,
    payload: String,
}

impl StoredFailure {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            flow: row.get(0)?,
            system: row.get(1)?,
            object: row.get(2)?,
            record_id: row.get(3)?,
            reason: row.get(4)?,
            error_class: row.get(5)?,
            first_seen: row.get(6)?,
            last_seen: row.get(7)?,
            attempts: row.get(8)?,
            payload: row.get(9)?,
        })
    }

    fn decode(self) -> Result<ParkedFailure, PortError> {
        let name = format!(
            "{}/{}/{} ({})",
            self.system, self.object, self.record_id, self.flow
        );
        let corrupt = |what: &str| PortError::corrupt(format!("parked failure {name}: {what}"));
        let system = match self.system.as_str() {
            "salesforce" => System::Salesforce,
            "intacct" => System::Intacct,
            _ => return Err(corrupt("unknown system")),
        };
        Ok(ParkedFailure {
            record: RecordRef {
                system,
                object: self.object,
                id: self.record_id,
            },
            flow: Flow::parse(&self.flow).ok_or_else(|| corrupt("unknown flow"))?,
            reason: self.reason,
            error_class: self.error_class,
            first_seen: from_nanos(self.first_seen),
            last_seen: from_nanos(self.last_seen),
            attempts: u32::try_from(self.attempts).map_err(|_| corrupt("attempts out of range"))?,
            payload: serde_json::from_str(&self.payload)
                .map_err(|e| corrupt(&format!("payload is not JSON: {e}")))?,
        })
    }
}

fn read_rows(
    stmt: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
    what: &str,
) -> Result<Vec<ParkedFailure>, PortError> {
    let rows = stmt
        .query_map(params, StoredFailure::from_row)
        .or_port(what)?;
    rows.map(|row| row.or_port(what)?.decode()).collect()
}

impl ParkedFailures for SqliteParkedFailures {
    async fn park(&self, request: &ParkRequest) -> Result<ParkedFailure, PortError> {
        let payload = request.encoded_payload()?;
        let reason = request.stored_reason().into_owned();
        let request = request.clone();
        self.db
            .run("park failure", move |conn, now| {
                let at = to_nanos_saturating(now);
                let record = &request.record;
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "INSERT INTO parked_failure ({COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 1, ?8) \
                         ON CONFLICT (flow, system, object, record_id) DO UPDATE SET \
                         reason = excluded.reason, error_class = excluded.error_class, \
                         last_seen = excluded.last_seen, attempts = attempts + 1, \
                         payload = excluded.payload \
                         RETURNING {COLUMNS}"
                    ))
                    .or_port("park failure")?;
                let stored = stmt
                    .query_row(
                        params![
                            request.flow.as_str(),
                            record.system.as_str(),
                            record.object,
                            record.id,
                            reason,
                            request.error_class,
                            at,
                            payload
                        ],
                        StoredFailure::from_row,
                    )
                    .or_port("park failure")?;
                stored.decode()
            })
            .await
    }

    async fn get(
        &self,
        record: &RecordRef,
        flow: Flow,
    ) -> Result<Option<ParkedFailure>, PortError> {
        let record = record.clone();
        self.db
            .run("read parked failure", move |conn, _| {
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM parked_failure \
                         WHERE flow = ?1 AND system = ?2 AND object = ?3 AND record_id = ?4"
                    ))
                    .or_port("read parked failure")?;
                let found = read_rows(
                    &mut stmt,
                    params![
                        flow.as_str(),
                        record.system.as_str(),
                        record.object,
                        record.id
                    ],
                    "read parked failure",
                )?;
                Ok(found.into_iter().next())
            })
            .await
    }

    async fn list(
        &self,
        flow: Option<Flow>,
        limit: usize,
    ) -> Result<Vec<ParkedFailure>, PortError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .run("list parked failures", move |conn, _| {
                // `?1 IS NULL` lets one cached statement serve both "all flows" and one flow.
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM parked_failure WHERE ?1 IS NULL OR flow = ?1 \
                         ORDER BY last_seen DESC, flow, system, object, record_id LIMIT ?2"
                    ))
                    .or_port("list parked failures")?;
                read_rows(
                    &mut stmt,
                    params![flow.map(|f| f.as_str()), limit],
                    "list parked failures",
                )
            })
            .await
    }

    async fn count_by_flow(&self) -> Result<BTreeMap<Flow, u64>, PortError> {
        self.db
            .run("count parked failures", move |conn, _| {
                let mut stmt = conn
                    .prepare_cached("SELECT flow, COUNT(*) FROM parked_failure GROUP BY flow")
                    .or_port("count parked failures")?;
                let rows = stmt
                    .query_map([], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                    })
                    .or_port("count parked failures")?;
                rows.map(|row| {
                    let (name, count) = row.or_port("count parked failures")?;
                    let flow = Flow::parse(&name).ok_or_else(|| {
                        PortError::corrupt(format!("parked failures under unknown flow {name:?}"))
                    })?;
                    Ok((flow, u64::try_from(count).unwrap_or(0)))
                })
                .collect()
            })
            .await
    }

    async fn remove(&self, record: &RecordRef, flow: Flow) -> Result<bool, PortError> {
        let record = record.clone();
        self.db
            .run("remove parked failure", move |conn, _| {
                let removed = conn
                    .prepare_cached(
                        "DELETE FROM parked_failure \
                         WHERE flow = ?1 AND system = ?2 AND object = ?3 AND record_id = ?4",
                    )
                    .and_then(|mut stmt| {
                        stmt.execute(params![
                            flow.as_str(),
                            record.system.as_str(),
                            record.object,
                            record.id
                        ])
                    })
                    .or_port("remove parked failure")?;
                Ok(removed == 1)
            })
            .await
    }
}
