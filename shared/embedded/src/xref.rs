//! [`XrefStore`] on SQLite.

use chrono::{DateTime, Utc};
use lf_domain::port::{LinkKind, LinkOutcome, XrefLink, XrefPage, XrefStore};
use lf_domain::{EntityId, IntacctKey, IntacctRef, PortError, SalesforceId};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use crate::database::Database;
use crate::error::OrPortError;
use crate::timestamp::{from_nanos, to_nanos};

/// Links between Salesforce ids and Intacct records.
///
/// A link is one row carrying both directions, with a unique key per direction: writing it is
/// one statement in one transaction, so a reader (or a reopen after a crash) can never see one
/// direction without the other, and a second counterpart for either side is refused with
/// [`PortError::Conflict`] without changing anything. The Intacct side is unique by kind and key
/// alone; the entity column only says where the record lives. Durable once `link`/`unlink` returned
/// `Ok` (see [`Database`]).
#[derive(Debug, Clone)]
pub struct SqliteXrefStore {
    db: Database,
}

impl SqliteXrefStore {
    pub(crate) fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The stored form of an Intacct record's entity: '' at the top level.
fn entity_column(record: &IntacctRef) -> String {
    record
        .entity
        .as_ref()
        .map(|e| e.as_str().to_owned())
        .unwrap_or_default()
}

struct StoredLink {
    salesforce: String,
    entity: String,
    key: String,
    linked_at: i64,
}

impl StoredLink {
    const COLUMNS: &'static str = "salesforce_id, intacct_entity, intacct_key, linked_at";

    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            salesforce: row.get(0)?,
            entity: row.get(1)?,
            key: row.get(2)?,
            linked_at: row.get(3)?,
        })
    }

    /// The same pair: the entity is an attribute of the link, not part of the Intacct identity.
    fn is_pair(&self, salesforce: &SalesforceId, key: &str) -> bool {
        self.salesforce == salesforce.as_str() && self.key == key
    }

    fn intacct_display(&self) -> String {
        if self.entity.is_empty() {
            self.key.clone()
        } else {
            format!("{}/{}", self.entity, self.key)
        }
    }

    fn into_link(self, kind: LinkKind) -> Result<XrefLink, PortError> {
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            PortError::corrupt(format!("xref {} link: stored {what}: {e}", kind.as_str()))
        };
        let salesforce =
            SalesforceId::parse(&self.salesforce).map_err(|e| corrupt("Salesforce id", &e))?;
        let entity = match self.entity.as_str() {
            "" => None,
            e => Some(EntityId::parse(e).map_err(|e| corrupt("entity", &e))?),
        };
        let key = IntacctKey::parse(&self.key).map_err(|e| corrupt("Intacct key", &e))?;
        Ok(XrefLink {
            kind,
            salesforce,
            intacct: IntacctRef::new(entity, key),
            linked_at: from_nanos(self.linked_at),
        })
    }
}

impl XrefStore for SqliteXrefStore {
    async fn link(&self, link: &XrefLink) -> Result<LinkOutcome, PortError> {
        let kind = link.kind;
        let salesforce = link.salesforce.clone();
        let entity = entity_column(&link.intacct);
        let key = link.intacct.key.as_str().to_owned();
        let linked_at = to_nanos("linked_at", link.linked_at)?;
        let given = link.intacct.to_string();
        self.db
            .run("xref link", move |conn, _now: DateTime<Utc>| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .or_port("xref link")?;
                let existing = {
                    let mut stmt = tx
                        .prepare_cached(&format!(
                            "SELECT {} FROM xref_link WHERE kind = ?1 AND \
                             (salesforce_id = ?2 OR intacct_key = ?3)",
                            StoredLink::COLUMNS
                        ))
                        .or_port("xref link")?;
                    let rows = stmt
                        .query_map(
                            params![kind.as_str(), salesforce.as_str(), key],
                            StoredLink::from_row,
                        )
                        .or_port("xref link")?;
                    rows.collect::<Result<Vec<_>, _>>().or_port("xref link")?
                };
                if let Some(same) = existing.iter().find(|s| s.is_pair(&salesforce, &key)) {
                    if same.entity == entity {
                        return Ok(LinkOutcome::AlreadyLinked);
                    }
                    return Err(PortError::conflict(format!(
                        "{} link refused: Salesforce {} is already linked to Intacct {}, \
                         not {given}: one record cannot live in two entities",
                        kind.as_str(),
                        same.salesforce,
                        same.intacct_display()
                    )));
                }
                if let Some(other) = existing.first() {
                    return Err(PortError::conflict(format!(
                        "{} link refused: Salesforce {} is linked to Intacct {}",
                        kind.as_str(),
                        other.salesforce,
                        other.intacct_display()
                    )));
                }
                tx.prepare_cached(
                    "INSERT INTO xref_link \
                     (kind, salesforce_id, intacct_entity, intacct_key, linked_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        kind.as_str(),
                        salesforce.as_str(),
                        entity,
                        key,
                        linked_at
                    ])
                })
                .or_port("xref link")?;
                tx.commit().or_port("xref link")?;
                Ok(LinkOutcome::Created)
            })
            .await
    }

    async fn find_by_salesforce(
        &self,
        kind: LinkKind,
        id: &SalesforceId,
    ) -> Result<Option<XrefLink>, PortError> {
        let id = id.as_str().to_owned();
        self.db
            .run("xref find by Salesforce id", move |conn, _| {
                conn.prepare_cached(&format!(
                    "SELECT {} FROM xref_link WHERE kind = ?1 AND salesforce_id = ?2",
                    StoredLink::COLUMNS
                ))
                .and_then(|mut stmt| {
                    stmt.query_row(params![kind.as_str(), id], StoredLink::from_row)
                        .optional()
                })
                .or_port("xref find by Salesforce id")?
                .map(|s| s.into_link(kind))
                .transpose()
            })
            .await
    }

    async fn find_by_intacct(
        &self,
        kind: LinkKind,
        key: &IntacctKey,
    ) -> Result<Option<XrefLink>, PortError> {
        let key = key.as_str().to_owned();
        self.db
            .run("xref find by Intacct record", move |conn, _| {
                conn.prepare_cached(&format!(
                    "SELECT {} FROM xref_link \
                     WHERE kind = ?1 AND intacct_key = ?2",
                    StoredLink::COLUMNS
                ))
                .and_then(|mut stmt| {
                    stmt.query_row(params![kind.as_str(), key], StoredLink::from_row)
                        .optional()
                })
                .or_port("xref find by Intacct record")?
                .map(|s| s.into_link(kind))
                .transpose()
            })
            .await
    }

    async fn unlink(
        &self,
        kind: LinkKind,
        salesforce: &SalesforceId,
        intacct: &IntacctKey,
    ) -> Result<bool, PortError> {
        let salesforce = salesforce.as_str().to_owned();
        let key = intacct.as_str().to_owned();
        self.db
            .run("xref unlink", move |conn, _| {
                // One row holds both directions: deleting it is the atomic unlink.
                let removed = conn
                    .prepare_cached(
                        "DELETE FROM xref_link WHERE kind = ?1 AND salesforce_id = ?2 \
                         AND intacct_key = ?3",
                    )
                    .and_then(|mut stmt| stmt.execute(params![kind.as_str(), salesforce, key]))
                    .or_port("xref unlink")?;
                Ok(removed == 1)
            })
            .await
    }

    async fn list(
        &self,
        kind: LinkKind,
        after: Option<&str>,
        limit: usize,
    ) -> Result<XrefPage, PortError> {
        // Pages in Salesforce-id order; the cursor is the last id of the page.
        let after = after.unwrap_or("").to_owned();
        let limit = limit.max(1);
        let rows = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .run("xref list", move |conn, _| {
                let stored = conn
                    .prepare_cached(&format!(
                        "SELECT {} FROM xref_link WHERE kind = ?1 AND salesforce_id > ?2 \
                         ORDER BY salesforce_id LIMIT ?3",
                        StoredLink::COLUMNS
                    ))
                    .and_then(|mut stmt| {
                        stmt.query_map(params![kind.as_str(), after, rows], StoredLink::from_row)?
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .or_port("xref list")?;
                let links = stored
                    .into_iter()
                    .map(|s| s.into_link(kind))
                    .collect::<Result<Vec<_>, _>>()?;
                let next = (links.len() == limit)
                    .then(|| links.last().map(|l| l.salesforce.as_str().to_owned()))
                    .flatten();
                Ok(XrefPage { links, next })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lf_domain::ManualClock;
    use std::sync::Arc;

    #[tokio::test]
    async fn an_undecodable_stored_link_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(
            dir.path().join("lf.db"),
            Arc::new(ManualClock::new(Utc::now())),
        )
        .unwrap();
        let sf = SalesforceId::parse("001Aa0000000001").unwrap();
        db.run("plant", move |conn, _| {
            conn.execute(
                "INSERT INTO xref_link VALUES ('account-customer', ?1, '', 'bad\u{7}key', 0)",
                [sf.as_str()],
            )
            .or_port("plant")
        })
        .await
        .unwrap();
        let sf = SalesforceId::parse("001Aa0000000001").unwrap();
        let err = db
            .xref_store()
            .find_by_salesforce(LinkKind::AccountCustomer, &sf)
            .await
            .unwrap_err();
        assert!(matches!(err, PortError::Corrupt { .. }), "{err:?}");
    }
}
