//! What the flows need from Salesforce, in domain terms: batched reads (by id or by any field,
//! with parent fields and child subqueries), changes since a watermark, batched writes by
//! external id with one result per record, alert Tasks that are never created twice, and the
//! dated conversion rates of a period.
//!
//! The field lists come from the compiled mapping (a flow never writes one by hand); records
//! travel as JSON objects exactly as the REST API returns them (`Account.Name` arrives as
//! `{"Account": {"Name": …}}`, a child subquery as `{"OpportunityLineItems": {"records": […]}}`).

use std::collections::BTreeMap;
use std::future::Future;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::error::{Classify, ErrorClass};
use crate::id::SalesforceId;
use crate::money::CurrencyCode;
use crate::port::sync_state::Watermark;

/// A Salesforce record: field name → value, as the REST API returns it.
pub type SfRecord = Map<String, Value>;

/// The external id field of Task that makes an alert Task an upsert (DESIGN §7).
pub const TASK_KEY_FIELD: &str = "Ledgerforce_Key__c";

/// A child relationship to read with its parent: `(SELECT fields FROM relationship)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildRead {
    /// The child relationship name (`OpportunityLineItems`, `SBQQ__LineItems__r`).
    pub relationship: String,
    /// Field paths on the child (`Quantity`, `PricebookEntry.Product2.ProductCode`).
    pub fields: Vec<String>,
}

/// What to read of one object: field paths (parents included) and child relationships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRead {
    /// The sObject (`Opportunity`).
    pub object: String,
    /// Field paths (`Name`, `Account.Name`). `Id` is always read, listed or not.
    pub fields: Vec<String>,
    /// Child subqueries.
    pub children: Vec<ChildRead>,
}

impl RecordRead {
    /// A read of `fields` of `object`, no children.
    pub fn new<S: AsRef<str>>(object: &str, fields: &[S]) -> Self {
        Self {
            object: object.to_owned(),
            fields: fields.iter().map(|f| f.as_ref().to_owned()).collect(),
            children: Vec::new(),
        }
    }

    /// A read from the flat field paths a compiled mapping lists: a path whose first segment
    /// is one of `relationships` (`OpportunityLineItems.Quantity`) becomes a field of that
    /// child subquery, any other path a field of the record. Duplicates are read once; each
    /// listed relationship is read even when no path names it (its rows then carry `Id`).
    pub fn from_paths<S: AsRef<str>>(object: &str, paths: &[S], relationships: &[&str]) -> Self {
        let mut read = Self::new::<&str>(object, &[]);
        for rel in relationships {
            if !read.children.iter().any(|c| c.relationship == *rel) {
                read = read.with_child::<&str>(rel, &[]);
            }
        }
        for path in paths {
            let path = path.as_ref();
            let child = path.split_once('.').and_then(|(head, rest)| {
                read.children
                    .iter_mut()
                    .find(|c| c.relationship == head)
                    .map(|c| (c, rest))
            });
            let (list, field) = match child {
                Some((c, rest)) => (&mut c.fields, rest),
                None => (&mut read.fields, path),
            };
            if !list.iter().any(|f| f == field) {
                list.push(field.to_owned());
            }
        }
        for child in &mut read.children {
            if child.fields.is_empty() {
                child.fields.push("Id".to_owned());
            }
        }
        read
    }

    /// Adds a child subquery.
    pub fn with_child<S: AsRef<str>>(mut self, relationship: &str, fields: &[S]) -> Self {
        self.children.push(ChildRead {
            relationship: relationship.to_owned(),
            fields: fields.iter().map(|f| f.as_ref().to_owned()).collect(),
        });
        self
    }
}

/// A slice of a change stream read by [`SalesforcePort::changes_since`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeBatch {
    /// Changed records, ordered by `(SystemModstamp, Id)`.
    pub records: Vec<SfRecord>,
    /// Where the next read starts: the `(SystemModstamp, Id)` of the last record, or the
    /// watermark given when nothing changed.
    pub watermark: Option<Watermark>,
    /// Whether the read stopped at its bound with changes possibly left.
    pub more: bool,
}

/// Why one record of a batched write was not saved.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFailure {
    /// Salesforce's status code (`REQUIRED_FIELD_MISSING`, `UNABLE_TO_LOCK_ROW`), or
    /// `UNPROCESSED` for a Bulk row the job never reached.
    pub code: String,
    /// The message, verbatim (a validation rule's own text, for example).
    pub message: String,
    /// The fields involved, when Salesforce names them.
    pub fields: Vec<String>,
    /// What to do about it, from the connector's classification table.
    pub class: ErrorClass,
}

/// The outcome of one record of a batched write, in input order.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteResult {
    /// Saved. `created` says whether an upsert made a new record (unknown for updates).
    Saved {
        id: SalesforceId,
        created: Option<bool>,
    },
    /// Refused; the other records of the batch are unaffected.
    Failed(RecordFailure),
}

impl WriteResult {
    /// The saved record's id.
    pub fn id(&self) -> Option<&SalesforceId> {
        match self {
            WriteResult::Saved { id, .. } => Some(id),
            WriteResult::Failed(_) => None,
        }
    }
}

/// One row of `DatedConversionRate`: units of `iso_code` per unit of the corporate currency,
/// valid from `start_date` (inclusive) to `next_start_date` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedRate {
    pub iso_code: CurrencyCode,
    pub rate: Decimal,
    pub start_date: NaiveDate,
    pub next_start_date: NaiveDate,
}

/// Whether a failed call may have changed Salesforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The failure proves nothing was applied (refused before or at admission).
    No,
    /// It may have been applied (a timeout or lost response after the request was sent).
    Unknown,
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failed Salesforce port call: its class, whether it may have been applied, and the
/// connector's error as the source (walk [`std::error::Error::source`] for Salesforce's own
/// code and message; the display names only the operation and class, as the other port
/// errors do).
#[derive(Debug, thiserror::Error)]
#[error("salesforce {operation} failed ({class})", class = .class.name())]
pub struct SalesforcePortError {
    operation: String,
    class: ErrorClass,
    applied: Applied,
    #[source]
    source: Source,
}

impl SalesforcePortError {
    /// Wraps a connector error.
    pub fn new(
        operation: impl Into<String>,
        class: ErrorClass,
        applied: Applied,
        source: impl Into<Source>,
    ) -> Self {
        Self {
            operation: operation.into(),
            class,
            applied,
            source: source.into(),
        }
    }

    /// The operation that failed (`read Account by Id`).
    pub fn operation(&self) -> &str {
        &self.operation
    }

    /// Whether the failed call may have changed Salesforce.
    pub fn applied(&self) -> Applied {
        self.applied
    }
}

impl Classify for SalesforcePortError {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

/// Salesforce as the flows see it.
///
/// Guarantees:
/// - Reads batch: any number of ids or values is read in as few `IN (…)` queries as the
///   request-URI budget allows, every page followed, duplicates in the input read once. Records
///   not found (or not visible) are absent from the result, never an error.
/// - Results are keyed so the caller can match them: by 18-character id, or by the requested
///   value (Salesforce compares text case-insensitively and ids in either length, so a record
///   is filed under every requested value it matches).
/// - `changes_since` is exact and resumable: records come ordered by `(SystemModstamp, Id)`
///   strictly after the watermark, at most `max_records` per call, so feeding each returned
///   watermark back reads every change once even when many share one timestamp. Only changes
///   older than the connector's settle time are read, so a second that can still gain records
///   (Salesforce stamps whole seconds, at transaction start) is never split by the cursor. A
///   record changed again later appears again with its new stamp: callers re-read state
///   anyway, so that is a hint, not a duplicate effect.
/// - Writes batch (sObject Collections, 200 per call; a Bulk API 2.0 job above the configured
///   threshold) and return one [`WriteResult`] per input record, in input order. A record's
///   failure never fails the call; an `Err` means the call as a whole failed and, when
///   [`SalesforcePortError::applied`] is [`Applied::Unknown`], some records may be saved.
/// - Upserts by external id are idempotent: replaying the same batch after an unknown outcome
///   creates nothing twice. Tasks are upserted by [`TASK_KEY_FIELD`], so an alert is never
///   created twice.
/// - Transient and throttled failures are retried inside the call within the client's
///   deadline; an `Err` has exhausted that, and its class says whether a later retry may help.
pub trait SalesforcePort: Send + Sync {
    /// Reads records of `read.object` by id, keyed by id.
    fn read_by_ids(
        &self,
        read: &RecordRead,
        ids: &[SalesforceId],
    ) -> impl Future<Output = Result<BTreeMap<SalesforceId, SfRecord>, SalesforcePortError>> + Send;

    /// Reads records whose `field` (a text, id, picklist or external id field) is one of
    /// `values`, keyed by the requested value; a value that matched nothing is absent.
    fn read_by_field(
        &self,
        read: &RecordRead,
        field: &str,
        values: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, Vec<SfRecord>>, SalesforcePortError>> + Send;

    /// Records of `read.object` changed after `since` (all records when `None`), at most
    /// `max_records` (at least one is read). Deleted records (still in the recycle bin) are
    /// changes too: they come with `IsDeleted: true`, stamped when they were deleted.
    fn changes_since(
        &self,
        read: &RecordRead,
        since: Option<&Watermark>,
        max_records: usize,
    ) -> impl Future<Output = Result<ChangeBatch, SalesforcePortError>> + Send;

    /// Upserts `records` of `object` by `external_id_field` (every record carries it).
    fn upsert(
        &self,
        object: &str,
        external_id_field: &str,
        records: Vec<SfRecord>,
    ) -> impl Future<Output = Result<Vec<WriteResult>, SalesforcePortError>> + Send;

    /// Updates `records` of `object`, each carrying its `Id`.
    fn update(
        &self,
        object: &str,
        records: Vec<SfRecord>,
    ) -> impl Future<Output = Result<Vec<WriteResult>, SalesforcePortError>> + Send;

    /// Updates records of several objects, each given with its object and carrying its `Id`,
    /// one result per record in input order. The connector sends them in as few calls as it
    /// can (sObject Collections take mixed types, 200 records per call), so a flow writes an
    /// Opportunity and its Account back in one call. This default groups by object and calls
    /// [`SalesforcePort::update`] once per object.
    fn update_mixed(
        &self,
        records: Vec<(String, SfRecord)>,
    ) -> impl Future<Output = Result<Vec<WriteResult>, SalesforcePortError>> + Send {
        async move {
            let mut objects: Vec<String> = Vec::new();
            for (object, _) in &records {
                if !objects.contains(object) {
                    objects.push(object.clone());
                }
            }
            let mut out: Vec<Option<WriteResult>> = records.iter().map(|_| None).collect();
            for object in objects {
                let (at, group): (Vec<usize>, Vec<SfRecord>) = records
                    .iter()
                    .enumerate()
                    .filter(|(_, (o, _))| *o == object)
                    .map(|(i, (_, r))| (i, r.clone()))
                    .unzip();
                for (i, result) in at.into_iter().zip(self.update(&object, group).await?) {
                    out[i] = Some(result);
                }
            }
            Ok(out
                .into_iter()
                .map(|r| {
                    r.unwrap_or_else(|| {
                        WriteResult::Failed(RecordFailure {
                            code: "UNPROCESSED".into(),
                            message: "the update gave no result for this record".into(),
                            fields: Vec::new(),
                            class: ErrorClass::Transient,
                        })
                    })
                })
                .collect())
        }
    }

    /// Creates or refreshes Tasks by [`TASK_KEY_FIELD`] (every task carries it).
    fn upsert_tasks(
        &self,
        tasks: Vec<SfRecord>,
    ) -> impl Future<Output = Result<Vec<WriteResult>, SalesforcePortError>> + Send;

    /// The dated conversion rates in force at some point from `from` to `to` (inclusive),
    /// ordered by currency and start date.
    fn conversion_rates(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<DatedRate>, SalesforcePortError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_class_outcome_and_source() {
        let e = SalesforcePortError::new(
            "upsert Account",
            ErrorClass::Transient,
            Applied::Unknown,
            std::io::Error::other("response lost"),
        );
        assert_eq!(e.class(), ErrorClass::Transient);
        assert_eq!(e.applied(), Applied::Unknown);
        assert_eq!(e.operation(), "upsert Account");
        assert_eq!(
            std::error::Error::source(&e).map(|s| s.to_string()),
            Some("response lost".to_owned())
        );
        assert!(e.to_string().contains("transient"), "{e}");
    }

    #[test]
    fn reads_collect_fields_and_children() {
        let r = RecordRead::new("Opportunity", &["Name", "Account.Name"])
            .with_child("OpportunityLineItems", &["Quantity"]);
        assert_eq!(r.fields, vec!["Name", "Account.Name"]);
        assert_eq!(r.children[0].relationship, "OpportunityLineItems");
        assert_eq!(r.children[0].fields, vec!["Quantity"]);
    }

    #[test]
    fn mapping_paths_split_into_fields_and_children() {
        let r = RecordRead::from_paths(
            "Opportunity",
            &[
                "Name",
                "Account.Name",
                "OpportunityLineItems.Quantity",
                "OpportunityLineItems.PricebookEntry.Product2.ProductCode",
                "Name",
                "OpportunityLineItems.Quantity",
            ],
            &["OpportunityLineItems", "SBQQ__Quotes2__r"],
        );
        assert_eq!(r.fields, vec!["Name", "Account.Name"]);
        assert_eq!(r.children.len(), 2);
        assert_eq!(
            r.children[0].fields,
            vec!["Quantity", "PricebookEntry.Product2.ProductCode"]
        );
        assert_eq!(r.children[1].relationship, "SBQQ__Quotes2__r");
        assert_eq!(r.children[1].fields, vec!["Id"]);
    }
}
