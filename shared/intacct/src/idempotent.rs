//! Creates that happen once, whatever the retries.
//!
//! The gateway's `uniqueid=true` refuses a function whose controlid already ran, but what it
//! answers then is not documented, and it cannot help when the process died between "created
//! in Intacct" and "link written". So every idempotent create is built around a lookup by a
//! key stored on the record (an `SFDC_*` custom field or a deterministic id):
//!
//! 1. look the record up; if it is there, it was made before → [`CreateOutcome::AlreadyExisted`];
//! 2. send the create with the idempotency key as function controlid and `uniqueid=true`;
//! 3. if the answer is lost (timeout, reset, 5xx) or the create is refused as a duplicate or a
//!    replay, look again: found → [`CreateOutcome::Recovered`]; not found after a lost answer →
//!    back off and send the same create again (same controlid, so a late first attempt cannot
//!    also apply).

use lf_domain::{Classify, EntityId, IdempotencyKey, RetryDecision};

use crate::client::IntacctClient;
use crate::error::{IntacctError, Reason};
use crate::function::Function;
use crate::metrics::Counters;
use crate::query::{Filter, Query};
use crate::record::{Customer, InvoiceCreate, SalesTransactionCreate};
use crate::response::ResultData;
use crate::xml::XmlElement;

/// How to find the record a create makes: `object` where `field` = `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    object: String,
    field: String,
    value: String,
    docparid: Option<String>,
    select: Vec<String>,
}

impl Lookup {
    /// Finds records of `object` whose `field` equals `value`.
    pub fn new(
        object: impl Into<String>,
        field: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        let field = field.into();
        Self {
            object: object.into(),
            select: vec!["RECORDNO".to_owned(), field.clone()],
            field,
            value: value.into(),
            docparid: None,
        }
    }

    /// The transaction definition for Order Entry documents.
    pub fn docparid(mut self, docparid: impl Into<String>) -> Self {
        self.docparid = Some(docparid.into());
        self
    }

    /// More fields to return with the found record (RECORDNO and the key field always are).
    pub fn also_select<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for f in fields {
            let f = f.into();
            if !self.select.iter().any(|s| s.eq_ignore_ascii_case(&f)) {
                self.select.push(f);
            }
        }
        self
    }

    /// The object searched.
    pub fn object(&self) -> &str {
        &self.object
    }

    fn query(&self) -> Query {
        let mut q = Query::new(self.object.as_str(), self.select.iter().cloned())
            .filter(Filter::eq(self.field.as_str(), self.value.as_str()))
            // From the top level, records owned by entities are private; a create must find
            // its record wherever it was made.
            .show_private(true)
            .page_size(2);
        if let Some(d) = &self.docparid {
            q = q.docparid(d.as_str());
        }
        q
    }
}

/// A create and the lookup that finds what it made.
#[derive(Debug, Clone)]
pub struct IdempotentCreate {
    pub key: IdempotencyKey,
    /// The write: a generic `create` or a legacy `create_*`. Its controlid is replaced by the key.
    pub function: Function,
    pub lookup: Lookup,
}

impl IdempotentCreate {
    /// A CUSTOMER create, found again by `SFDC_ACCOUNT_ID` when the customer carries one,
    /// else by its (deterministic) `CUSTOMERID`.
    pub fn customer(key: IdempotencyKey, customer: &Customer) -> Result<Self, IntacctError> {
        let lookup = match (&customer.sfdc_account_id, &customer.customer_id) {
            (Some(sfdc), _) => Lookup::new("CUSTOMER", "SFDC_ACCOUNT_ID", sfdc.as_str()),
            (None, Some(id)) => Lookup::new("CUSTOMER", "CUSTOMERID", id.as_str()),
            (None, None) => {
                return Err(IntacctError::invalid(
                    "an idempotent CUSTOMER create needs SFDC_ACCOUNT_ID or CUSTOMERID to find it again",
                ));
            }
        };
        Ok(Self {
            key,
            function: Function::create([customer.to_create()?]),
            lookup: lookup.also_select(["CUSTOMERID"]),
        })
    }

    /// A `create_invoice` for an Opportunity, found again by `SFDC_OPPORTUNITY_ID` (added to
    /// the invoice's custom fields when missing).
    pub fn invoice(
        key: IdempotencyKey,
        invoice: &InvoiceCreate,
        opportunity_id: &str,
    ) -> Result<Self, IntacctError> {
        let mut invoice = invoice.clone();
        set_custom_field(
            &mut invoice.custom_fields,
            OPPORTUNITY_FIELD,
            opportunity_id,
        );
        Ok(Self {
            key,
            function: Function::raw(invoice.to_element()?, true),
            lookup: Lookup::new("ARINVOICE", OPPORTUNITY_FIELD, opportunity_id)
                .also_select(["RECORDID", "CUSTOMERID"]),
        })
    }

    /// A `create_sotransaction` for an Opportunity, found again by `SFDC_OPPORTUNITY_ID` among
    /// the documents of the same transaction definition.
    pub fn sales_transaction(
        key: IdempotencyKey,
        transaction: &SalesTransactionCreate,
        opportunity_id: &str,
    ) -> Result<Self, IntacctError> {
        let mut transaction = transaction.clone();
        set_custom_field(
            &mut transaction.custom_fields,
            OPPORTUNITY_FIELD,
            opportunity_id,
        );
        Ok(Self {
            key,
            function: Function::raw(transaction.to_element()?, true),
            lookup: Lookup::new("SODOCUMENT", OPPORTUNITY_FIELD, opportunity_id)
                .docparid(transaction.transaction_type.as_str())
                .also_select(["DOCID", "CUSTVENDID"]),
        })
    }
}

/// The custom field that links AR invoices and Order Entry documents to their Opportunity.
const OPPORTUNITY_FIELD: &str = "SFDC_OPPORTUNITY_ID";

fn set_custom_field(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    fields.push((name.to_owned(), value.to_owned()));
}

/// What an idempotent create did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// Created now; the data of the create result (key fields of the new record).
    Created(ResultData),
    /// The answer to our create was lost or refused as a replay, and the lookup found the
    /// record: it was created by this call (or by an earlier attempt with the same key).
    Recovered(XmlElement),
    /// The record was already there before this call.
    AlreadyExisted(XmlElement),
}

impl CreateOutcome {
    /// The RECORDNO of the record, when the answer or the lookup gave one.
    pub fn record_no(&self) -> Option<&str> {
        // Legacy creates answer with `<key>`; generic ones with the key fields in `<data>`.
        match self {
            CreateOutcome::Created(data) => data
                .key
                .as_deref()
                .or_else(|| data.records.first().and_then(|r| r.field("RECORDNO"))),
            CreateOutcome::Recovered(r) | CreateOutcome::AlreadyExisted(r) => r.field("RECORDNO"),
        }
    }
}

impl IntacctClient {
    /// The record `lookup` describes, if there is one. Two matches mean the key is not unique,
    /// which would make idempotent creates guess: that is an error.
    pub async fn find(
        &self,
        entity: Option<&EntityId>,
        lookup: &Lookup,
    ) -> Result<Option<XmlElement>, IntacctError> {
        let data = self
            .call(entity, Function::query(&lookup.query(), 0)?)
            .await?;
        let mut records = data.records.into_iter();
        match (records.next(), records.next()) {
            (None, _) => Ok(None),
            (Some(one), None) => Ok(Some(one)),
            (Some(_), Some(_)) => Err(IntacctError::invalid(format!(
                "{} has more than one record with {} = {:?}; the lookup key must be unique",
                lookup.object, lookup.field, lookup.value
            ))),
        }
    }

    /// Creates the record once (see the module documentation).
    pub async fn create_idempotent(
        &self,
        entity: Option<&EntityId>,
        request: IdempotentCreate,
    ) -> Result<CreateOutcome, IntacctError> {
        if !request.function.is_write() {
            return Err(IntacctError::invalid(format!(
                "{} is not a write",
                request.function.name()
            )));
        }
        if let Some(existing) = self.find(entity, &request.lookup).await? {
            return Ok(CreateOutcome::AlreadyExisted(existing));
        }
        let function = request.function.with_idempotency_key(&request.key);
        let policy = self.retry_policy();
        let mut answer_lost = false;
        let mut attempt = 1u32;
        loop {
            let err = match self.call(entity, function.clone()).await {
                Ok(data) => return Ok(CreateOutcome::Created(data)),
                Err(e) => e,
            };
            let lost = err.maybe_applied();
            answer_lost |= lost;
            let refused_as_done = matches!(
                err.reason(),
                Some(Reason::Duplicate | Reason::AlreadyExecuted)
            );
            // After a lost answer, any refusal may be the gateway rejecting our own replay
            // (its wording for that is undocumented), so look before giving up.
            let worth_looking = lost
                || refused_as_done
                || (answer_lost && matches!(err, IntacctError::Function { .. }));
            if worth_looking && let Some(found) = self.find(entity, &request.lookup).await? {
                Counters::bump(&self.counters().writes_recovered);
                tracing::info!(
                    key = %request.key,
                    object = request.lookup.object(),
                    error = %err,
                    "intacct create resolved by lookup"
                );
                return Ok(CreateOutcome::Recovered(found));
            }
            if !lost {
                return Err(err);
            }
            let remaining = self
                .deadline()
                .map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
            match policy.decide(err.class(), attempt, remaining, rand::random::<f64>()) {
                RetryDecision::GiveUp => return Err(err),
                RetryDecision::RetryAfter(wait) => tokio::time::sleep(wait).await,
            }
            attempt += 1;
        }
    }
}
