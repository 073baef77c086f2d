//! The pages a backfill reads, by modification watermark: Salesforce records through the
//! connector's exact `(SystemModstamp, Id)` change reader, Intacct records through one
//! `query` per page ordered by `(WHENMODIFIED, RECORDNO)` and starting strictly after the
//! cursor, so a page's last record is a checkpoint a later run resumes from.
//!
//! Each source stops at the moment the run started (`bound`): what changes later is the
//! poller's, the run's own write-backs among them.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use lf_domain::datetime::{format_intacct_datetime, parse_datetime};
use lf_domain::port::{RecordRead, SalesforcePort, SfRecord, Watermark};
use lf_domain::{RecordRef, SalesforceId, System};
use lf_intacct::{Direction, Filter, Function, IntacctClient, Query};
use lf_salesforce::{Aggregate, QueryScope, SalesforceClient, Select};

use crate::CliError;

/// One page read.
#[derive(Debug, Default)]
pub(crate) struct Page {
    /// The records to hand to the flow, with their modification time.
    pub records: Vec<(RecordRef, DateTime<Utc>)>,
    /// Each handed record's place in the stream (one per record of `records`): the
    /// checkpoint once it and those before it are handled.
    pub marks: Vec<Watermark>,
    /// Records read (handed over or not).
    pub read: u64,
    /// Records read and not handed over (deleted, out of scope).
    pub skipped: u64,
    /// The checkpoint after this page: its last record.
    pub last: Option<Watermark>,
    /// Where the next page starts; `None` when this was the last.
    pub next: Option<Watermark>,
}

/// Records one page read asks for: a SOQL query answers up to 2,000 records per call and an
/// Intacct `query` takes a `pagesize` of up to 2,000. The flow is handed them `--batch` at a
/// time, so reading costs one call per 2,000 records, not one per batch.
pub(crate) const READ_PAGE: usize = 2000;

/// A side's records of one object, page by page.
pub(crate) trait Source {
    /// The records' name for the progress bar (`Accounts`).
    fn noun(&self) -> &'static str;
    /// The sync-state stream the checkpoint is stored under.
    fn stream(&self) -> &'static str;
    /// How many records lie after `from`, when the side can say cheaply.
    async fn total(&self, from: Option<&Watermark>) -> Option<u64>;
    /// At most `max` records after `after`.
    async fn page(&mut self, after: Option<&Watermark>, max: usize) -> Result<Page, CliError>;
}

/// Salesforce records of one object by `SystemModstamp`.
pub(crate) struct SalesforcePages<'a> {
    client: &'a SalesforceClient,
    noun: &'static str,
    stream: &'static str,
    read: RecordRead,
    bound: DateTime<Utc>,
    /// Whether a record read is handed to the flow (else it is counted as skipped).
    in_scope: fn(&SfRecord) -> bool,
}

/// Every Account.
pub(crate) fn salesforce_accounts(
    client: &SalesforceClient,
    bound: DateTime<Utc>,
) -> SalesforcePages<'_> {
    SalesforcePages {
        client,
        noun: "Accounts",
        stream: "backfill/salesforce/Account",
        read: RecordRead::new("Account", &["SystemModstamp", "IsDeleted"]),
        bound,
        in_scope: |_| true,
    }
}

/// The Contacts of Accounts linked to a customer (`Account.Intacct_Customer_ID__c` set);
/// the others are read and skipped.
pub(super) fn salesforce_contacts(
    client: &SalesforceClient,
    bound: DateTime<Utc>,
) -> SalesforcePages<'_> {
    SalesforcePages {
        client,
        noun: "Contacts",
        stream: "backfill/salesforce/Contact",
        read: RecordRead::new(
            "Contact",
            &[
                "SystemModstamp",
                "IsDeleted",
                "Account.Intacct_Customer_ID__c",
            ],
        ),
        bound,
        in_scope: |r| {
            r.get("Account")
                .and_then(|a| a.get("Intacct_Customer_ID__c"))
                .and_then(|v| v.as_str())
                .is_some_and(|v| !v.trim().is_empty())
        },
    }
}

impl Source for SalesforcePages<'_> {
    fn noun(&self) -> &'static str {
        self.noun
    }

    fn stream(&self) -> &'static str {
        self.stream
    }

    async fn total(&self, from: Option<&Watermark>) -> Option<u64> {
        let mut select =
            Select::new::<&str>(&[], &self.read.object).aggregate(Aggregate::Count, None, None);
        if let Some(w) = from {
            select = select.filter(lf_salesforce::port::after_watermark(w));
        }
        let soql = select.build().ok()?;
        self.client
            .query_page(&soql, QueryScope::IncludeDeleted)
            .await
            .ok()
            .map(|p| p.total_size)
    }

    async fn page(&mut self, after: Option<&Watermark>, max: usize) -> Result<Page, CliError> {
        let object = &self.read.object;
        let batch = self.client.changes_since(&self.read, after, max).await?;
        let mut page = Page::default();
        let mut past_bound = false;
        for r in &batch.records {
            let id = r
                .get("Id")
                .and_then(|v| v.as_str())
                .and_then(|s| SalesforceId::parse(s).ok())
                .ok_or_else(|| format!("a changed {object} has no valid Id"))?;
            let at = r
                .get("SystemModstamp")
                .and_then(|v| v.as_str())
                .and_then(|s| parse_datetime(s).ok())
                .map(|t| t.to_utc())
                .ok_or_else(|| format!("{object} {id} has no readable SystemModstamp"))?;
            if at > self.bound {
                past_bound = true;
                break;
            }
            let mark = Watermark {
                modified_at: at,
                last_id: id.as_str().to_owned(),
            };
            page.last = Some(mark.clone());
            page.read += 1;
            if r.get("IsDeleted").and_then(|v| v.as_bool()) == Some(true) || !(self.in_scope)(r) {
                page.skipped += 1;
                continue;
            }
            page.records.push((RecordRef::salesforce(object, &id), at));
            page.marks.push(mark);
        }
        page.next = match (batch.more, batch.watermark) {
            (true, Some(next)) if !past_bound => Some(next),
            _ => None,
        };
        Ok(page)
    }
}

/// Intacct records of one object by `WHENMODIFIED`, read at the top level (records of every
/// entity).
pub(super) struct IntacctPages<'a> {
    client: &'a IntacctClient,
    noun: &'static str,
    stream: &'static str,
    object: &'static str,
    /// The key the flows name a record of the object by (as the poller and Smart Events do).
    key_field: &'static str,
    bound: DateTime<Utc>,
    /// RECORDNOs handed over in this run: a record the run itself changed within the
    /// bound's second comes round again, and is not handed over twice.
    seen: HashSet<String>,
}

/// Every customer, by `CUSTOMERID`.
pub(super) fn intacct_customers(client: &IntacctClient, bound: DateTime<Utc>) -> IntacctPages<'_> {
    IntacctPages::new(
        client,
        "customers",
        "backfill/intacct/CUSTOMER",
        "CUSTOMER",
        "CUSTOMERID",
        bound,
    )
}

/// Every AR invoice, by `RECORDNO` (the key invoice-status names invoices by).
pub(super) fn intacct_invoices(client: &IntacctClient, bound: DateTime<Utc>) -> IntacctPages<'_> {
    IntacctPages::new(
        client,
        "invoices",
        "backfill/intacct/ARINVOICE",
        "ARINVOICE",
        "RECORDNO",
        bound,
    )
}

impl<'a> IntacctPages<'a> {
    fn new(
        client: &'a IntacctClient,
        noun: &'static str,
        stream: &'static str,
        object: &'static str,
        key_field: &'static str,
        bound: DateTime<Utc>,
    ) -> Self {
        Self {
            client,
            noun,
            stream,
            object,
            key_field,
            bound,
            seen: HashSet::new(),
        }
    }

    /// The records after `after`, up to the bound, in `(WHENMODIFIED, RECORDNO)` order.
    fn query(&self, after: Option<&Watermark>, max: usize) -> Query {
        let mut fields = vec!["RECORDNO", "WHENMODIFIED", "MEGAENTITYID"];
        if self.key_field != "RECORDNO" {
            fields.push(self.key_field);
        }
        let upto = Filter::le("WHENMODIFIED", format_intacct_datetime(&self.bound));
        let filter = match after {
            None => upto,
            Some(w) => {
                let at = format_intacct_datetime(&w.modified_at);
                let from = if w.last_id.is_empty() {
                    Filter::ge("WHENMODIFIED", at)
                } else {
                    Filter::or([
                        Filter::gt("WHENMODIFIED", at.clone()),
                        Filter::and([
                            Filter::eq("WHENMODIFIED", at),
                            Filter::gt("RECORDNO", recordno_of(w)),
                        ]),
                    ])
                };
                Filter::and([from, upto])
            }
        };
        Query::new(self.object, fields)
            .filter(filter)
            .order_by("WHENMODIFIED", Direction::Ascending)
            .order_by("RECORDNO", Direction::Ascending)
            .show_private(true)
            .page_size(u32::try_from(max).unwrap_or(u32::MAX))
    }
}

impl Source for IntacctPages<'_> {
    fn noun(&self) -> &'static str {
        self.noun
    }

    fn stream(&self) -> &'static str {
        self.stream
    }

    async fn total(&self, from: Option<&Watermark>) -> Option<u64> {
        let data = self
            .client
            .call(None, Function::query(&self.query(from, 1), 0).ok()?)
            .await
            .ok()?;
        data.total_count
    }

    async fn page(&mut self, after: Option<&Watermark>, max: usize) -> Result<Page, CliError> {
        let object = self.object;
        let data = self
            .client
            .call(None, Function::query(&self.query(after, max), 0)?)
            .await?;
        let mut page = Page::default();
        for row in &data.records {
            let recno = row
                .field("RECORDNO")
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .ok_or_else(|| format!("a {object} read has no RECORDNO"))?
                .to_owned();
            let key = row
                .field(self.key_field)
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| format!("{object} {recno} has no {}", self.key_field))?
                .to_owned();
            let at = row
                .field("WHENMODIFIED")
                .and_then(|t| parse_datetime(t).ok())
                .map(|t| t.to_utc())
                .ok_or_else(|| format!("{object} {recno} has no readable WHENMODIFIED"))?;
            let mark = Watermark {
                modified_at: at,
                last_id: padded_recordno(&recno),
            };
            page.last = Some(mark.clone());
            if !self.seen.insert(recno) {
                continue;
            }
            page.read += 1;
            page.records.push((
                RecordRef {
                    system: System::Intacct,
                    object: object.to_owned(),
                    id: key,
                },
                at,
            ));
            page.marks.push(mark);
        }
        page.next = match (&page.last, data.remaining()) {
            (Some(last), left) if left > 0 => Some(last.clone()),
            _ => None,
        };
        Ok(page)
    }
}

/// A RECORDNO as a checkpoint's `last_id` ([`Watermark::record_number_id`]: ordered by
/// number as the poller's Intacct cursors are).
fn padded_recordno(recno: &str) -> String {
    recno
        .parse()
        .map_or_else(|_| recno.to_owned(), Watermark::record_number_id)
}

/// The RECORDNO a checkpoint names, padded or not (checkpoints stored before the padding).
fn recordno_of(w: &Watermark) -> String {
    w.record_number()
        .map_or_else(|| w.last_id.clone(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordno_cursors_order_by_number_and_read_back() {
        let at = Utc::now();
        let mark = |recno: &str| Watermark {
            modified_at: at,
            last_id: padded_recordno(recno),
        };
        let (a, b) = (mark("9800"), mark("10000"));
        assert!(a < b, "{a:?} < {b:?}");
        assert_eq!(recordno_of(&b), "10000");
        let old = Watermark {
            modified_at: at,
            last_id: "9800".into(),
        };
        assert_eq!(
            recordno_of(&old),
            "9800",
            "an unpadded checkpoint still reads"
        );
        assert_eq!(padded_recordno("X-1"), "X-1");
    }
}
