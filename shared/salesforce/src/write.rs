//! Writing many records over the cheapest lane: sObject Collections (200 per call) up to the
//! configured threshold, a Bulk API 2.0 ingest job above it. Both report one outcome per
//! record so callers handle them the same way.

use std::collections::BTreeMap;

use lf_domain::SalesforceId;
use serde_json::Value;

use crate::bulk::{BulkIngestResult, BulkOperation};
use crate::client::SalesforceClient;
use crate::collections::SaveResult;
use crate::error::{ApiError, SalesforceError};
use crate::sobject::Fields;

/// What to do with each record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    Insert,
    /// Every record carries its `Id`.
    Update,
    /// Every record carries the external id field.
    Upsert {
        external_id_field: String,
    },
    /// Every record carries its `Id`; other fields are ignored.
    Delete,
}

/// Which lane to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LaneChoice {
    /// Collections up to `bulk_threshold` records, Bulk above (unless `all_or_none` is asked
    /// for, which only collections can honour).
    #[default]
    Auto,
    Collections,
    Bulk,
}

/// The lane a write went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Collections,
    Bulk,
}

/// Options of a many-record write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteOptions {
    pub lane: LaneChoice,
    /// Collections only: roll back each call of 200 if any of its records fails. Bulk jobs
    /// have no such mode; asking for it with [`LaneChoice::Bulk`] is an error.
    pub all_or_none: bool,
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordResult {
    Saved {
        id: Option<SalesforceId>,
        /// Upserts (and Bulk inserts) say whether a record was created.
        created: Option<bool>,
    },
    Failed(ApiError),
    /// The job never reached the row.
    Unprocessed,
}

/// One record's outcome, with the record as the lane reported it: the input fields for
/// collections (same order as the input), the CSV row's columns for Bulk.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordOutcome {
    pub record: Fields,
    pub result: RecordResult,
}

/// The outcome of a many-record write.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteReport {
    pub lane: Lane,
    pub outcomes: Vec<RecordOutcome>,
}

impl WriteReport {
    pub fn saved(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.result, RecordResult::Saved { .. }))
            .count()
    }

    pub fn failures(&self) -> impl Iterator<Item = (&Fields, &ApiError)> {
        self.outcomes.iter().filter_map(|o| match &o.result {
            RecordResult::Failed(e) => Some((&o.record, e)),
            _ => None,
        })
    }
}

pub(crate) fn from_save(record: Fields, r: SaveResult) -> RecordOutcome {
    let result = if r.success {
        RecordResult::Saved {
            id: r.record_id(),
            created: r.created,
        }
    } else {
        RecordResult::Failed(
            r.errors
                .into_iter()
                .next()
                .unwrap_or_else(|| ApiError::new("UNKNOWN_FAILURE", "no error given")),
        )
    };
    RecordOutcome { record, result }
}

fn strings(row: BTreeMap<String, String>) -> Fields {
    row.into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

fn from_bulk(result: BulkIngestResult) -> Vec<RecordOutcome> {
    let mut out = Vec::new();
    for s in result.successful {
        out.push(RecordOutcome {
            record: strings(s.fields),
            result: RecordResult::Saved {
                id: s.id,
                created: Some(s.created),
            },
        });
    }
    for f in result.failed {
        out.push(RecordOutcome {
            record: strings(f.fields),
            result: RecordResult::Failed(f.error),
        });
    }
    for u in result.unprocessed {
        out.push(RecordOutcome {
            record: strings(u),
            result: RecordResult::Unprocessed,
        });
    }
    out
}

fn ids_of(records: &[Fields]) -> Result<Vec<SalesforceId>, SalesforceError> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.get("Id")
                .and_then(Value::as_str)
                .and_then(|s| SalesforceId::parse(s).ok())
                .ok_or_else(|| {
                    SalesforceError::InvalidInput(format!("record {i} has no valid Id to delete"))
                })
        })
        .collect()
}

impl SalesforceClient {
    /// Writes `records` of `object` over Collections or Bulk per `options`.
    pub async fn write(
        &self,
        object: &str,
        op: &WriteOp,
        records: Vec<Fields>,
        options: WriteOptions,
    ) -> Result<WriteReport, SalesforceError> {
        let lane = match options.lane {
            LaneChoice::Collections => Lane::Collections,
            LaneChoice::Bulk => Lane::Bulk,
            LaneChoice::Auto
                if records.len() > self.config().bulk_threshold && !options.all_or_none =>
            {
                Lane::Bulk
            }
            LaneChoice::Auto => Lane::Collections,
        };
        if records.is_empty() {
            return Ok(WriteReport {
                lane,
                outcomes: Vec::new(),
            });
        }
        match lane {
            Lane::Collections => {
                let all = options.all_or_none;
                let results = match op {
                    WriteOp::Insert => self.create_many(object, &records, all).await?,
                    WriteOp::Update => self.update_many(object, &records, all).await?,
                    WriteOp::Upsert { external_id_field } => {
                        self.upsert_many(object, external_id_field, &records, all)
                            .await?
                    }
                    WriteOp::Delete => self.delete_many(&ids_of(&records)?, all).await?,
                };
                let outcomes = records
                    .into_iter()
                    .zip(results)
                    .map(|(r, s)| from_save(r, s))
                    .collect();
                Ok(WriteReport { lane, outcomes })
            }
            Lane::Bulk => {
                if options.all_or_none {
                    return Err(SalesforceError::InvalidInput(
                        "Bulk API 2.0 jobs cannot be all-or-none; use the collections lane".into(),
                    ));
                }
                let (operation, records) = match op {
                    WriteOp::Insert => (BulkOperation::Insert, records),
                    WriteOp::Update => (BulkOperation::Update, records),
                    WriteOp::Upsert { external_id_field } => (
                        BulkOperation::Upsert {
                            external_id_field: external_id_field.clone(),
                        },
                        records,
                    ),
                    WriteOp::Delete => {
                        // A delete job takes only the Id column.
                        let only_ids = ids_of(&records)?
                            .into_iter()
                            .map(|id| {
                                let mut f = Fields::new();
                                f.insert("Id".into(), Value::String(id.as_str().to_owned()));
                                f
                            })
                            .collect();
                        (BulkOperation::Delete, only_ids)
                    }
                };
                let result = self.bulk_ingest(object, &operation, &records).await?;
                Ok(WriteReport {
                    lane,
                    outcomes: from_bulk(result),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulk::{BulkFailure, BulkSuccess};
    use serde_json::json;

    #[test]
    fn collection_results_map_onto_their_records() {
        let rec = crate::test_fields;
        let ok = from_save(
            rec(json!({"Name": "a"})),
            serde_json::from_value(
                json!({"id": "001000000000001AAA", "success": true, "errors": []}),
            )
            .unwrap(),
        );
        assert!(matches!(
            ok.result,
            RecordResult::Saved {
                id: Some(_),
                created: None
            }
        ));
        let bad = from_save(
            rec(json!({"Name": "b"})),
            serde_json::from_value(json!({"success": false, "errors": [{"statusCode": "DUPLICATE_VALUE", "message": "duplicate value found", "fields": ["Ext__c"]}]})).unwrap(),
        );
        match bad.result {
            RecordResult::Failed(e) => assert_eq!(e.code, "DUPLICATE_VALUE"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bulk_results_become_outcomes() {
        let result = BulkIngestResult {
            jobs: Vec::new(),
            successful: vec![BulkSuccess {
                id: SalesforceId::parse("003000000000001").ok(),
                created: true,
                fields: BTreeMap::from([("LastName".to_owned(), "A".to_owned())]),
            }],
            failed: vec![BulkFailure {
                id: None,
                error: ApiError::new(
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [LastName]",
                ),
                fields: BTreeMap::from([("LastName".to_owned(), String::new())]),
            }],
            unprocessed: vec![BTreeMap::new()],
        };
        let report = WriteReport {
            lane: Lane::Bulk,
            outcomes: from_bulk(result),
        };
        assert_eq!(report.saved(), 1);
        assert_eq!(report.failures().count(), 1);
        assert_eq!(report.outcomes[2].result, RecordResult::Unprocessed);
        assert_eq!(report.outcomes[0].record["LastName"], json!("A"));
    }

    #[test]
    fn deletes_need_ids() {
        let no_id = vec![Fields::new()];
        assert!(ids_of(&no_id).is_err());
    }
}
