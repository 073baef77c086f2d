//! [`IdempotencyStore`] on SQLite: the Powertools algorithm, with the in-progress expiry always
//! bounded.

use chrono::{DateTime, Utc};
use lf_domain::port::{BeginOutcome, IdempotencyConfig, IdempotencyStore, OwnerToken, PayloadHash};
use lf_domain::{IdempotencyKey, PortError};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde_json::Value;

use crate::database::Database;
use crate::error::OrPortError;
use crate::timestamp::{from_nanos, to_nanos_saturating};

const IN_PROGRESS: &str = "INPROGRESS";
const COMPLETED: &str = "COMPLETED";

/// Idempotency records.
///
/// `begin` reads and takes the key in one `IMMEDIATE` transaction (SQLite's write lock), so of
/// any number of concurrent callers, in this process or another, exactly one gets
/// [`BeginOutcome::Started`]. Expiries are computed on the [`Database`]'s clock. Durable once a
/// method returned `Ok` (see [`Database`]).
#[derive(Debug, Clone)]
pub struct SqliteIdempotencyStore {
    db: Database,
    config: IdempotencyConfig,
}

impl SqliteIdempotencyStore {
    pub(crate) fn new(db: Database, config: IdempotencyConfig) -> Self {
        Self { db, config }
    }
}

struct StoredRecord {
    status: String,
    payload_hash: String,
    expiry: i64,
    in_progress_expiry: Option<i64>,
    result: Option<String>,
}

/// What `begin` decides about a stored record, as of `now`.
#[derive(Debug, PartialEq)]
enum Decision {
    /// No live claim on the key: take it.
    Take,
    Refuse(BeginOutcome),
}

/// The Powertools condition, inverted: a stored record blocks the key unless it has expired,
/// or it is INPROGRESS and its in-progress expiry has passed. A blocking record with another
/// payload is refused outright, before its status is looked at.
fn decide(
    key: &IdempotencyKey,
    record: Option<StoredRecord>,
    payload: &PayloadHash,
    now: i64,
) -> Result<Decision, PortError> {
    let Some(record) = record else {
        return Ok(Decision::Take);
    };
    if record.expiry < now {
        return Ok(Decision::Take);
    }
    let in_progress_expiry = match (record.status.as_str(), record.in_progress_expiry) {
        (IN_PROGRESS, Some(until)) if until < now => return Ok(Decision::Take),
        (IN_PROGRESS, Some(until)) => Some(until),
        (COMPLETED, _) => None,
        (status, _) => {
            return Err(PortError::corrupt(format!(
                "idempotency record {key}: status {status:?} without a valid expiry"
            )));
        }
    };
    if record.payload_hash != payload.as_str() {
        return Err(PortError::PayloadMismatch {
            key: key.to_string(),
        });
    }
    match in_progress_expiry {
        Some(until) => Ok(Decision::Refuse(BeginOutcome::InProgress {
            until: from_nanos(until),
        })),
        None => {
            let text = record.result.ok_or_else(|| {
                PortError::corrupt(format!(
                    "idempotency record {key}: completed without result"
                ))
            })?;
            let value = serde_json::from_str(&text).map_err(|e| {
                PortError::corrupt(format!("idempotency record {key}: stored result: {e}"))
            })?;
            Ok(Decision::Refuse(BeginOutcome::Completed(value)))
        }
    }
}

impl IdempotencyStore for SqliteIdempotencyStore {
    async fn begin(
        &self,
        key: &IdempotencyKey,
        payload: &PayloadHash,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<BeginOutcome, PortError> {
        let key = key.clone();
        let payload = payload.clone();
        let config = self.config;
        self.db
            .run("idempotency begin", move |conn, now| {
                let now_ns = to_nanos_saturating(now);
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .or_port("idempotency begin")?;
                let stored = tx
                    .prepare_cached(
                        "SELECT status, payload_hash, expiry, in_progress_expiry, result \
                         FROM idempotency_record WHERE key = ?1",
                    )
                    .and_then(|mut stmt| {
                        stmt.query_row([key.as_str()], |row| {
                            Ok(StoredRecord {
                                status: row.get(0)?,
                                payload_hash: row.get(1)?,
                                expiry: row.get(2)?,
                                in_progress_expiry: row.get(3)?,
                                result: row.get(4)?,
                            })
                        })
                        .optional()
                    })
                    .or_port("idempotency begin")?;
                if let Decision::Refuse(outcome) = decide(&key, stored, &payload, now_ns)? {
                    return Ok(outcome);
                }
                let in_progress_expiry =
                    to_nanos_saturating(config.in_progress_until(now, deadline));
                let expiry = to_nanos_saturating(config.expires_at(now));
                let owner = OwnerToken::new_random();
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO idempotency_record \
                     (key, status, payload_hash, expiry, in_progress_expiry, result, owner) \
                     VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        key.as_str(),
                        IN_PROGRESS,
                        payload.as_str(),
                        expiry,
                        in_progress_expiry,
                        owner.as_str()
                    ])
                })
                .or_port("idempotency begin")?;
                tx.commit().or_port("idempotency begin")?;
                Ok(BeginOutcome::Started { owner })
            })
            .await
    }

    /// Stores the result as COMPLETED, expiring `expires_after` from now, when the record is
    /// still `owner`'s or is gone (released, or expired and removed). A record held by another
    /// owner is left alone: [`PortError::PayloadMismatch`] when it is for another payload, else
    /// [`PortError::Conflict`].
    async fn complete(
        &self,
        key: &IdempotencyKey,
        owner: &OwnerToken,
        payload: &PayloadHash,
        result: &Value,
    ) -> Result<(), PortError> {
        let key = key.clone();
        let owner = owner.clone();
        let payload = payload.clone();
        let result = result.to_string();
        let config = self.config;
        self.db
            .run("idempotency complete", move |conn, now| {
                let expiry = to_nanos_saturating(config.expires_at(now));
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .or_port("idempotency complete")?;
                let held: Option<(String, Option<String>)> = tx
                    .prepare_cached(
                        "SELECT payload_hash, owner FROM idempotency_record WHERE key = ?1",
                    )
                    .and_then(|mut stmt| {
                        stmt.query_row([key.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
                            .optional()
                    })
                    .or_port("idempotency complete")?;
                if let Some((held_for, held_by)) = held {
                    if held_for != payload.as_str() {
                        return Err(PortError::PayloadMismatch {
                            key: key.to_string(),
                        });
                    }
                    if held_by.as_deref() != Some(owner.as_str()) {
                        return Err(OwnerToken::stale(&key));
                    }
                }
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO idempotency_record \
                     (key, status, payload_hash, expiry, in_progress_expiry, result, owner) \
                     VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6)",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        key.as_str(),
                        COMPLETED,
                        payload.as_str(),
                        expiry,
                        result,
                        owner.as_str()
                    ])
                })
                .or_port("idempotency complete")?;
                tx.commit().or_port("idempotency complete")
            })
            .await
    }

    async fn release(&self, key: &IdempotencyKey, owner: &OwnerToken) -> Result<bool, PortError> {
        let key = key.clone();
        let owner = owner.clone();
        self.db
            .run("idempotency release", move |conn, _| {
                let deleted = conn
                    .prepare_cached(
                        "DELETE FROM idempotency_record \
                         WHERE key = ?1 AND status = ?2 AND owner = ?3",
                    )
                    .and_then(|mut stmt| stmt.execute([key.as_str(), IN_PROGRESS, owner.as_str()]))
                    .or_port("idempotency release")?;
                Ok(deleted == 1)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> IdempotencyKey {
        IdempotencyKey::parse("k").unwrap()
    }

    fn record(status: &str, hash: &PayloadHash, expiry: i64, ipe: Option<i64>) -> StoredRecord {
        StoredRecord {
            status: status.into(),
            payload_hash: hash.as_str().into(),
            expiry,
            in_progress_expiry: ipe,
            result: (status == COMPLETED).then(|| json!({"ok": true}).to_string()),
        }
    }

    #[test]
    fn take_over_rules_follow_powertools() {
        let p = PayloadHash::of_bytes(b"p");
        let other = PayloadHash::of_bytes(b"q");
        let k = key();
        assert_eq!(decide(&k, None, &p, 10).unwrap(), Decision::Take);
        // Expired, whatever its status or payload.
        assert_eq!(
            decide(&k, Some(record(COMPLETED, &other, 9, None)), &p, 10).unwrap(),
            Decision::Take
        );
        // In progress past its in-progress expiry, even though the record itself lives on.
        assert_eq!(
            decide(&k, Some(record(IN_PROGRESS, &p, 100, Some(9))), &p, 10).unwrap(),
            Decision::Take
        );
        // Boundaries: "expiry < now", so a record is still live at its expiry instant.
        assert_eq!(
            decide(&k, Some(record(IN_PROGRESS, &p, 100, Some(10))), &p, 10).unwrap(),
            Decision::Refuse(BeginOutcome::InProgress {
                until: from_nanos(10)
            })
        );
        assert_eq!(
            decide(&k, Some(record(COMPLETED, &p, 10, None)), &p, 10).unwrap(),
            Decision::Refuse(BeginOutcome::Completed(json!({"ok": true})))
        );
        // A live record for another payload is refused before its status matters.
        for status in [IN_PROGRESS, COMPLETED] {
            let err = decide(&k, Some(record(status, &other, 100, Some(50))), &p, 10).unwrap_err();
            assert!(matches!(err, PortError::PayloadMismatch { .. }), "{err:?}");
        }
    }

    #[test]
    fn undecodable_records_are_corrupt() {
        let p = PayloadHash::of_bytes(b"p");
        let k = key();
        let mut bad_result = record(COMPLETED, &p, 100, None);
        bad_result.result = Some("{not json".into());
        let missing_result = StoredRecord {
            result: None,
            ..record(COMPLETED, &p, 100, None)
        };
        let unknown_status = record("DONE", &p, 100, None);
        let in_progress_without_expiry = record(IN_PROGRESS, &p, 100, None);
        for r in [
            bad_result,
            missing_result,
            unknown_status,
            in_progress_without_expiry,
        ] {
            let err = decide(&k, Some(r), &p, 10).unwrap_err();
            assert!(matches!(err, PortError::Corrupt { .. }), "{err:?}");
        }
    }
}
