//! The Intacct connector port: what the flows need from Sage Intacct, in domain terms.
//!
//! Records travel as field trees (the shape the mapping engine produces and reads): upper-case
//! Intacct field names for the generic objects (`CUSTOMER`, `CONTACT`), the legacy element
//! names for documents (`create_invoice`, `create_sotransaction` bodies), nested objects for
//! nested elements. Every call names the entity whose session it runs in (`None` = the top
//! level); [`IntacctObject::default_entity`] is the rule the flows follow by default.

use std::future::Future;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::error::Classify;
use crate::id::{EntityId, IdempotencyKey, SalesforceId};

/// A record's fields as a tree of names and values.
pub type FieldTree = Map<String, Value>;

/// The objects the flows create and link to Salesforce.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IntacctObject {
    /// CUSTOMER, linked to an Account by `SFDC_ACCOUNT_ID`.
    Customer,
    /// CONTACT, linked to a Contact by `SFDC_CONTACT_ID`.
    Contact,
    /// ARINVOICE, linked to an Opportunity by `SFDC_OPPORTUNITY_ID`.
    ArInvoice,
    /// SODOCUMENT of one transaction definition (`Sales Order`, `Sales Invoice`), linked to an
    /// Opportunity by `SFDC_OPPORTUNITY_ID`.
    SalesDocument { transaction_type: String },
}

impl IntacctObject {
    /// The object name in queries.
    pub fn name(&self) -> &'static str {
        match self {
            IntacctObject::Customer => "CUSTOMER",
            IntacctObject::Contact => "CONTACT",
            IntacctObject::ArInvoice => "ARINVOICE",
            IntacctObject::SalesDocument { .. } => "SODOCUMENT",
        }
    }

    /// The custom field holding the linked Salesforce id.
    pub fn link_field(&self) -> &'static str {
        match self {
            IntacctObject::Customer => "SFDC_ACCOUNT_ID",
            IntacctObject::Contact => "SFDC_CONTACT_ID",
            IntacctObject::ArInvoice | IntacctObject::SalesDocument { .. } => "SFDC_OPPORTUNITY_ID",
        }
    }

    /// The company-unique id field people see (`CUSTOMERID`, `CONTACTNAME`, `RECORDID`,
    /// `DOCID`).
    pub fn id_field(&self) -> &'static str {
        match self {
            IntacctObject::Customer => "CUSTOMERID",
            IntacctObject::Contact => "CONTACTNAME",
            IntacctObject::ArInvoice => "RECORDID",
            IntacctObject::SalesDocument { .. } => "DOCID",
        }
    }

    /// The Order Entry transaction definition, for documents.
    pub fn transaction_type(&self) -> Option<&str> {
        match self {
            IntacctObject::SalesDocument { transaction_type } => Some(transaction_type),
            _ => None,
        }
    }

    /// The entity a record of this object is written in by default: customers and contacts
    /// at the top level (visible to every entity), documents in the routed entity. A mapping
    /// that wants per-entity customers passes the routed entity instead.
    pub fn default_entity(&self, routed: Option<&EntityId>) -> Option<EntityId> {
        match self {
            IntacctObject::Customer | IntacctObject::Contact => None,
            IntacctObject::ArInvoice | IntacctObject::SalesDocument { .. } => routed.cloned(),
        }
    }
}

/// A record read from Intacct.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IntacctRecord {
    /// `RECORDNO`, when read.
    pub record_no: Option<String>,
    /// The object's id field ([`IntacctObject::id_field`]), when read.
    pub id: Option<String>,
    /// Every field returned, names as Intacct wrote them.
    pub fields: FieldTree,
}

impl IntacctRecord {
    /// A top-level text field, its name compared case-insensitively.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }
}

/// One create that must happen at most once.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotentWrite {
    /// Becomes the function `controlid` (sent with `uniqueid=true`), so the gateway refuses a
    /// replay of a create that already ran.
    pub key: IdempotencyKey,
    pub object: IntacctObject,
    /// The Salesforce record this one is linked to; written to [`IntacctObject::link_field`]
    /// and used to find the record again.
    pub link: SalesforceId,
    /// The record to create.
    pub fields: FieldTree,
}

/// What an idempotent create found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStatus {
    /// Created by this call.
    Created,
    /// The answer to the create was lost or refused as a replay, and the lookup found the
    /// record: this call (or an earlier attempt with the same key) made it.
    Recovered,
    /// The record was already there before this call; nothing was written.
    AlreadyExisted,
}

/// The record behind one [`IdempotentWrite`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateResult {
    pub status: WriteStatus,
    /// The key fields of the record (at least `RECORDNO` or the id field).
    pub record: IntacctRecord,
}

/// A change to fields of an existing record. Only the fields given change; a `null` clears one.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordUpdate {
    pub object: IntacctObject,
    /// `RECORDNO`, or the object's id field value.
    pub key: String,
    pub fields: FieldTree,
}

/// A condition in a [`RecordQuery`]. Values are text as Intacct compares them (dates
/// `MM/DD/YYYY`, datetimes `MM/DD/YYYY HH:MM:SS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryFilter {
    Equals(String, String),
    In(String, Vec<String>),
    GreaterThan(String, String),
    AtLeast(String, String),
    LessThan(String, String),
    Between(String, String, String),
    IsNull(String),
    IsNotNull(String),
    /// `field like pattern`, `%` matching any text (Intacct compares case-insensitively).
    Like(String, String),
    And(Vec<QueryFilter>),
    Or(Vec<QueryFilter>),
}

/// Records of one object, some fields, an optional filter and order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordQuery {
    pub object: String,
    /// Fields to return (at least one).
    pub fields: Vec<String>,
    pub filter: Option<QueryFilter>,
    /// The Order Entry transaction definition, for SODOCUMENT.
    pub transaction_type: Option<String>,
    /// Ascending sort fields. Give one (RECORDNO) when reading many pages, so offsets stay
    /// stable while records are added.
    pub order_by: Vec<String>,
}

impl RecordQuery {
    /// All records of `object` with `fields`.
    pub fn new<I, S>(object: impl Into<String>, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            object: object.into(),
            fields: fields.into_iter().map(Into::into).collect(),
            filter: None,
            transaction_type: None,
            order_by: Vec::new(),
        }
    }

    /// Only records matching `filter`.
    pub fn filter(mut self, filter: QueryFilter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Sorted by `field`, ascending (repeat for secondary orders).
    pub fn order_by(mut self, field: impl Into<String>) -> Self {
        self.order_by.push(field.into());
        self
    }
}

/// The fields read for each part of [`IntacctPort::read_accounts`] (from the mapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountFields {
    pub customer: Vec<String>,
    pub invoice: Vec<String>,
    pub payment: Vec<String>,
}

impl Default for AccountFields {
    fn default() -> Self {
        let v = |f: &[&str]| f.iter().map(|s| (*s).to_owned()).collect();
        Self {
            customer: v(&[
                "RECORDNO",
                "CUSTOMERID",
                "NAME",
                "SFDC_ACCOUNT_ID",
                "TOTALDUE",
                "CREDITLIMIT",
                "ONHOLD",
                "STATUS",
            ]),
            invoice: v(&[
                "RECORDNO",
                "RECORDID",
                "CUSTOMERID",
                "STATE",
                "WHENCREATED",
                "WHENDUE",
                "TOTALENTERED",
                "TOTALDUE",
                "CURRENCY",
            ]),
            payment: v(&[
                "RECORDNO",
                "CUSTOMERID",
                "RECEIPTDATE",
                "TOTALENTERED",
                "CURRENCY",
            ]),
        }
    }
}

/// Customers with their AR invoices and payments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CustomerAccounts {
    pub customers: Vec<IntacctRecord>,
    pub invoices: Vec<IntacctRecord>,
    pub payments: Vec<IntacctRecord>,
}

/// Where recognized revenue is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevenueBasis {
    /// Posted revenue recognition schedule entries.
    ScheduleEntries,
    /// GL detail on these revenue accounts (credits minus debits).
    GlAccounts(Vec<String>),
}

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    /// 1 to 12; the connector refuses anything else.
    pub month: u32,
}

impl Month {
    /// The month containing `date`.
    pub fn of(date: NaiveDate) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    /// Parses `YYYY-MM`; `None` when it is not a month.
    pub fn parse(text: &str) -> Option<Self> {
        let (y, m) = text.trim().split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let month = Self {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
        };
        month.first_day().map(|_| month)
    }

    /// The first day, `None` when `month` is not 1 to 12.
    pub fn first_day(&self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }

    /// The last day, `None` when `month` is not 1 to 12.
    pub fn last_day(&self) -> Option<NaiveDate> {
        self.next().first_day()?.pred_opt()
    }

    /// The month before.
    pub fn previous(&self) -> Self {
        if self.month <= 1 {
            Self {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Self {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The month after.
    pub fn next(&self) -> Self {
        if self.month >= 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Whether `date` falls in this month.
    pub fn contains(&self, date: NaiveDate) -> bool {
        Self::of(date) == *self
    }
}

/// `YYYY-MM`.
impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Revenue recognized for one customer in one month and currency, from one source document
/// when the line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecognizedAmount {
    pub customer_id: String,
    pub month: Month,
    /// `None` when the line carried none (the entity's base currency).
    pub currency: Option<String>,
    pub amount: Decimal,
    /// The source document's number (the AR invoice's `RECORDID`), when the line names one.
    pub document: Option<String>,
    /// The document's `SFDC_OPPORTUNITY_ID`, when it carries one.
    pub opportunity_id: Option<String>,
}

/// What the flows need from one Intacct company.
///
/// Guarantees:
/// - **Reads page to the end.** `query`, `find_linked` and `read_accounts` return every
///   matching row however many pages that takes; each page is one API transaction.
/// - **Batched lookups.** `find_linked` and `read_accounts` split their id sets to the gateway's
///   query size limits and send all the resulting queries in as few requests as the request
///   size allows (one for up to thousands of ids), not one request per id.
/// - **Idempotent batched creates.** `create_idempotent` of N writes costs one batched lookup
///   request (what already exists is not created again) plus one request carrying every
///   missing create. Each create carries its [`IdempotencyKey`] as function `controlid` with
///   `uniqueid=true`. When the answer is lost after the gateway may have committed, one more
///   batched lookup finds what was made, and only what is really missing is sent again (same
///   controlids, so a late first attempt cannot also apply). Replaying the same writes later
///   creates nothing. At most one record exists per link value afterwards, unless something
///   outside this port created one concurrently.
/// - **Per-item results.** Batched writes return one result per input, in input order. The
///   outer `Err` means the whole call failed with nothing applied, or nothing known to be
///   applied that a retry of the same call would not find.
/// - **Errors classify** ([`Classify`]): throttling and transient failures have already been
///   retried within the caller's deadline; what comes back is for the caller to park or redrive.
pub trait IntacctPort: Send + Sync {
    /// The connector's error.
    type Error: std::error::Error + Classify + Send + Sync + 'static;

    /// Every record matching `query`, read in `entity`.
    fn query(
        &self,
        entity: Option<&EntityId>,
        query: &RecordQuery,
    ) -> impl Future<Output = Result<Vec<IntacctRecord>, Self::Error>> + Send;

    /// The records of `object` linked to any of `links` (by [`IntacctObject::link_field`]),
    /// with `fields` (RECORDNO, the id field and the link field are always returned). Records
    /// owned by entities are included when read from the top level.
    fn find_linked(
        &self,
        entity: Option<&EntityId>,
        object: &IntacctObject,
        links: &[SalesforceId],
        fields: &[String],
    ) -> impl Future<Output = Result<Vec<IntacctRecord>, Self::Error>> + Send;

    /// Every record matching each of `queries`, all read in `entity` in one request (the
    /// first page of every query; further pages follow query by query). One result per query,
    /// in order; the outer `Err` means the request as a whole failed. A flow reads what it
    /// needs of several objects at once this way (the customers and the documents linked to
    /// a batch, the matching candidates). This default runs [`IntacctPort::query`] per query.
    #[allow(clippy::type_complexity)] // one result per query inside the request's result
    fn query_many(
        &self,
        entity: Option<&EntityId>,
        queries: &[RecordQuery],
    ) -> impl Future<Output = Result<Vec<Result<Vec<IntacctRecord>, Self::Error>>, Self::Error>> + Send
    {
        async move {
            let mut out = Vec::with_capacity(queries.len());
            for q in queries {
                out.push(self.query(entity, q).await);
            }
            Ok(out)
        }
    }

    /// Creates `writes` whose links the caller has just looked up and not found (with
    /// [`IntacctPort::query_many`] or [`IntacctPort::find_linked`]), so the lookup that
    /// [`IntacctPort::create_idempotent`] starts with is skipped: one request for N creates.
    /// Everything else holds as for `create_idempotent`: each create carries its key as
    /// `controlid` with `uniqueid=true`, a lost answer is resolved by a lookup and only what
    /// is really missing is resent. What the caller's lookup could not see (a create racing
    /// it) is refused by Intacct as a duplicate and then reported found. This default calls
    /// `create_idempotent`.
    fn create_missing(
        &self,
        entity: Option<&EntityId>,
        writes: &[IdempotentWrite],
    ) -> impl Future<Output = Result<Vec<Result<CreateResult, Self::Error>>, Self::Error>> + Send
    {
        self.create_idempotent(entity, writes)
    }

    /// Creates what is missing among `writes`, at most once each (see the trait guarantees).
    fn create_idempotent(
        &self,
        entity: Option<&EntityId>,
        writes: &[IdempotentWrite],
    ) -> impl Future<Output = Result<Vec<Result<CreateResult, Self::Error>>, Self::Error>> + Send;

    /// Applies `updates` in one request, one result per update in input order. Updates are
    /// idempotent by nature (they set values), so a lost answer is resent.
    fn update(
        &self,
        entity: Option<&EntityId>,
        updates: &[RecordUpdate],
    ) -> impl Future<Output = Result<Vec<Result<(), Self::Error>>, Self::Error>> + Send;

    /// The customers with these `CUSTOMERID`s, their AR invoices and their AR payments.
    fn read_accounts(
        &self,
        entity: Option<&EntityId>,
        customer_ids: &[String],
        fields: &AccountFields,
    ) -> impl Future<Output = Result<CustomerAccounts, Self::Error>> + Send;

    /// Revenue recognized in `month` per customer, currency and source document (with the
    /// document's Salesforce opportunity id), sorted by customer.
    fn recognized_revenue(
        &self,
        entity: Option<&EntityId>,
        month: Month,
        basis: &RevenueBasis,
    ) -> impl Future<Output = Result<Vec<RecognizedAmount>, Self::Error>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_name_their_link_and_default_entity() {
        let us = EntityId::parse("US").unwrap();
        let so = IntacctObject::SalesDocument {
            transaction_type: "Sales Order".into(),
        };
        assert_eq!(so.name(), "SODOCUMENT");
        assert_eq!(so.link_field(), "SFDC_OPPORTUNITY_ID");
        assert_eq!(so.transaction_type(), Some("Sales Order"));
        assert_eq!(so.default_entity(Some(&us)), Some(us.clone()));
        assert_eq!(IntacctObject::Customer.default_entity(Some(&us)), None);
        assert_eq!(IntacctObject::Contact.link_field(), "SFDC_CONTACT_ID");
        assert_eq!(IntacctObject::ArInvoice.id_field(), "RECORDID");
    }

    #[test]
    fn months_parse_bound_and_step() {
        let feb = Month::parse("2024-02").unwrap();
        assert_eq!(feb.to_string(), "2024-02");
        assert_eq!(feb.last_day(), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(
            Month::parse("2025-01").unwrap().previous().to_string(),
            "2024-12"
        );
        assert_eq!(
            Month::parse("2025-12").unwrap().next().to_string(),
            "2026-01"
        );
        assert!(Month::parse("2025-13").is_none());
        assert!(Month::parse("202501").is_none());
        assert!(feb.contains(NaiveDate::from_ymd_opt(2024, 2, 1).unwrap()));
        assert!(!feb.contains(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()));
    }

    #[test]
    fn record_fields_are_found_case_insensitively() {
        let mut fields = FieldTree::new();
        fields.insert("CustomerId".into(), Value::String("C-1".into()));
        fields.insert("NESTED".into(), serde_json::json!({"A": "b"}));
        let r = IntacctRecord {
            fields,
            ..Default::default()
        };
        assert_eq!(r.field("CUSTOMERID"), Some("C-1"));
        assert_eq!(r.field("nested"), None, "only text fields");
        assert_eq!(r.field("MISSING"), None);
    }
}
