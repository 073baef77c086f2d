//! Creates that happen once, whatever the retries — one at a time or many in one request.
//!
//! The gateway's `uniqueid=true` refuses a function whose controlid already ran, but what it
//! answers then is not documented, and it cannot help when the process died between "created
//! in Intacct" and "link written". So every idempotent create is built around a lookup by a
//! key stored on the record (an `SFDC_*` custom field or a deterministic id). For a batch of N:
//!
//! 1. one batched lookup request finds what is already there → [`CreateOutcome::AlreadyExisted`];
//! 2. one request carries every missing create, each with its idempotency key as function
//!    controlid and `uniqueid=true`;
//! 3. creates whose answer is lost (timeout, reset, 5xx) or that are refused as a duplicate or
//!    a replay are looked up again, all in one request: found → [`CreateOutcome::Recovered`];
//!    not found after a lost answer → back off (the one retry executor) and send only those
//!    creates again, with the same controlids, so a late first attempt cannot also apply.
//!
//! [`IntacctClient::create_idempotent`] is the batch of one.

use std::sync::Mutex;

use lf_domain::port::IntacctObject;
use lf_domain::{Classify, EntityId, IdempotencyKey};

use crate::batch::Batch;
use crate::client::IntacctClient;
use crate::error::{IntacctError, Reason};
use crate::function::Function;
use crate::lookup::KeyedQuery;
use crate::metrics::Counters;
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

    /// Finds the record of `object` linked to the Salesforce record `link` (by its `SFDC_*`
    /// field), returning its id field too.
    pub fn linked(object: &IntacctObject, link: impl Into<String>) -> Self {
        let lookup =
            Self::new(object.name(), object.link_field(), link).also_select([object.id_field()]);
        match object.transaction_type() {
            Some(t) => lookup.docparid(t),
            None => lookup,
        }
    }
}

/// The batched lookup of many [`Lookup`]s: same object, field and definition share queries.
fn keyed_queries(lookups: &[&Lookup]) -> (Vec<KeyedQuery>, Vec<usize>) {
    let mut queries: Vec<KeyedQuery> = Vec::new();
    let mut group_of = Vec::with_capacity(lookups.len());
    for l in lookups {
        let at = queries.iter().position(|q| {
            q.object == l.object
                && q.field.eq_ignore_ascii_case(&l.field)
                && q.docparid == l.docparid
        });
        let at = match at {
            Some(at) => at,
            None => {
                queries.push(KeyedQuery {
                    object: l.object.clone(),
                    field: l.field.clone(),
                    values: Vec::new(),
                    select: Vec::new(),
                    docparid: l.docparid.clone(),
                });
                queries.len() - 1
            }
        };
        let q = &mut queries[at];
        q.values.push(l.value.clone());
        for f in &l.select {
            if !q.select.iter().any(|s| s.eq_ignore_ascii_case(f)) {
                q.select.push(f.clone());
            }
        }
        group_of.push(at);
    }
    (queries, group_of)
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
            (Some(sfdc), _) => Lookup::linked(&IntacctObject::Customer, sfdc.as_str()),
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
            lookup: Lookup::linked(&IntacctObject::ArInvoice, opportunity_id)
                .also_select(["CUSTOMERID"]),
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
            lookup: Lookup::linked(
                &IntacctObject::SalesDocument {
                    transaction_type: transaction.transaction_type.clone(),
                },
                opportunity_id,
            )
            .also_select(["CUSTVENDID"]),
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
        let mut found = self.find_many(entity, &[lookup]).await?;
        found
            .pop()
            .unwrap_or_else(|| Err(IntacctError::protocol("the lookup gave no outcome")))
    }

    /// Every lookup in one batched request (more only past thousands of keys): for each, the
    /// one record found, none, or the error of its query (or of a key that is not unique).
    pub async fn find_many(
        &self,
        entity: Option<&EntityId>,
        lookups: &[&Lookup],
    ) -> Result<Vec<Result<Option<XmlElement>, IntacctError>>, IntacctError> {
        let (queries, group_of) = keyed_queries(lookups);
        let results = self.read_keyed(entity, &queries).await?;
        Ok(lookups
            .iter()
            .zip(group_of)
            .map(|(l, g)| {
                let records = results[g].as_ref().map_err(IntacctError::replicate)?;
                let mut matching = records
                    .iter()
                    .filter(|r| r.field(&l.field) == Some(l.value.trim()));
                match (matching.next(), matching.next()) {
                    (None, _) => Ok(None),
                    (Some(one), None) => Ok(Some(one.clone())),
                    (Some(_), Some(_)) => Err(IntacctError::invalid(format!(
                        "{} has more than one record with {} = {:?}; the lookup key must be unique",
                        l.object, l.field, l.value
                    ))),
                }
            })
            .collect())
    }

    /// Creates the record once (see the module documentation): the batch of one.
    pub async fn create_idempotent(
        &self,
        entity: Option<&EntityId>,
        request: IdempotentCreate,
    ) -> Result<CreateOutcome, IntacctError> {
        self.create_idempotent_batch(entity, std::slice::from_ref(&request))
            .await?
            .pop()
            .unwrap_or_else(|| Err(IntacctError::protocol("the create gave no outcome")))
    }

    /// Creates each record once, in one lookup request and one create request when nothing
    /// goes wrong (see the module documentation). One outcome per request, in order. The
    /// outer error means the call failed before any create was known to be resolved.
    pub async fn create_idempotent_batch(
        &self,
        entity: Option<&EntityId>,
        requests: &[IdempotentCreate],
    ) -> Result<Vec<Result<CreateOutcome, IntacctError>>, IntacctError> {
        self.create_batch(entity, requests, true).await
    }

    /// [`IntacctClient::create_idempotent_batch`] for creates the caller has just looked up
    /// and not found: the first lookup is skipped (one request when nothing goes wrong); lost
    /// answers and duplicate refusals are still resolved by lookup.
    pub async fn create_looked_up_batch(
        &self,
        entity: Option<&EntityId>,
        requests: &[IdempotentCreate],
    ) -> Result<Vec<Result<CreateOutcome, IntacctError>>, IntacctError> {
        self.create_batch(entity, requests, false).await
    }

    async fn create_batch(
        &self,
        entity: Option<&EntityId>,
        requests: &[IdempotentCreate],
        look_first: bool,
    ) -> Result<Vec<Result<CreateOutcome, IntacctError>>, IntacctError> {
        let mut state = Creates::new(requests.len());
        let mut to_find = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            if !r.function.is_write() {
                state.settle(
                    i,
                    Err(IntacctError::invalid(format!(
                        "{} is not a write",
                        r.function.name()
                    ))),
                );
            } else if requests[..i].iter().any(|o| o.key == r.key) {
                // Two functions with one controlid in a request cannot be told apart.
                state.settle(
                    i,
                    Err(IntacctError::invalid(format!(
                        "idempotency key {} is used twice in one batch",
                        r.key
                    ))),
                );
            } else {
                to_find.push(i);
            }
        }
        if !look_first {
            state.pending = to_find.clone();
            to_find.clear();
        }
        let lookups: Vec<&Lookup> = to_find.iter().map(|&i| &requests[i].lookup).collect();
        let found = if lookups.is_empty() {
            Vec::new()
        } else {
            self.find_many(entity, &lookups).await?
        };
        for (&i, found) in to_find.iter().zip(found) {
            match found {
                Ok(Some(existing)) => state.settle(i, Ok(CreateOutcome::AlreadyExisted(existing))),
                Ok(None) => state.pending.push(i),
                Err(e) => state.settle(i, Err(e)),
            }
        }
        let functions: Vec<Function> = requests
            .iter()
            .map(|r| r.function.clone().with_idempotency_key(&r.key))
            .collect();
        let state = Mutex::new(state);
        let policy = self.retry_policy();
        let rounds = lf_domain::retry::run(
            &policy,
            self.deadline(),
            "intacct idempotent create",
            |f: &RoundFailure, _| f.retry.then(|| f.error.class()),
            |_| self.create_round(entity, requests, &functions, &state),
        )
        .await;
        let mut state = state.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Err(failure) = rounds {
            if state.outcomes.iter().all(Option::is_none) {
                return Err(failure.error);
            }
            for i in std::mem::take(&mut state.pending) {
                state.settle(i, Err(failure.error.replicate()));
            }
        }
        Ok(state
            .outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Err(IntacctError::protocol("create left unresolved"))))
            .collect())
    }

    /// Sends the pending creates once and resolves what it can. Fails with `retry` set when
    /// some answers were lost and their records are not there: those stay pending.
    async fn create_round(
        &self,
        entity: Option<&EntityId>,
        requests: &[IdempotentCreate],
        functions: &[Function],
        state: &Mutex<Creates>,
    ) -> Result<(), RoundFailure> {
        let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
        let pending = lock().pending.clone();
        if pending.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::new();
        for &i in &pending {
            batch.push(functions[i].clone());
        }
        // (request, the error to report if the lookup does not find it; None = answer lost)
        let mut to_find: Vec<(usize, Option<IntacctError>)> = Vec::new();
        let mut lost = None;
        match self.execute(entity, &batch).await {
            Ok(outcome) => {
                let mut s = lock();
                for (&i, result) in pending.iter().zip(outcome.into_results()) {
                    match result {
                        Ok(data) => s.settle(i, Ok(CreateOutcome::Created(data))),
                        Err(e) => {
                            let refused_as_done = matches!(
                                e.reason(),
                                Some(Reason::Duplicate | Reason::AlreadyExecuted)
                            );
                            // After a lost answer, any refusal may be the gateway rejecting
                            // our own replay (its wording for that is undocumented), so look
                            // before giving up.
                            let after_loss =
                                s.answer_lost[i] && matches!(e, IntacctError::Function { .. });
                            if refused_as_done || after_loss {
                                to_find.push((i, Some(e)));
                            } else {
                                s.settle(i, Err(e));
                            }
                        }
                    }
                }
            }
            Err(e) if e.maybe_applied() => {
                let mut s = lock();
                for &i in &pending {
                    s.answer_lost[i] = true;
                    to_find.push((i, None));
                }
                lost = Some(e);
            }
            Err(e) => {
                return Err(RoundFailure {
                    error: e,
                    retry: false,
                });
            }
        }
        if !to_find.is_empty() {
            let lookups: Vec<&Lookup> = to_find.iter().map(|(i, _)| &requests[*i].lookup).collect();
            let found = self
                .find_many(entity, &lookups)
                .await
                .map_err(|error| RoundFailure {
                    error,
                    retry: false,
                })?;
            let mut s = lock();
            for ((i, refusal), found) in to_find.into_iter().zip(found) {
                match (found, refusal) {
                    (Ok(Some(record)), refusal) => {
                        Counters::bump(&self.counters().writes_recovered);
                        tracing::info!(
                            key = %requests[i].key,
                            object = requests[i].lookup.object(),
                            error = ?refusal.as_ref().or(lost.as_ref()).map(ToString::to_string),
                            "intacct create resolved by lookup"
                        );
                        s.settle(i, Ok(CreateOutcome::Recovered(record)));
                    }
                    (Ok(None), Some(refusal)) => s.settle(i, Err(refusal)),
                    // Lost and not there: stays pending for the next round.
                    (Ok(None), None) => {}
                    (Err(e), _) => s.settle(i, Err(e)),
                }
            }
        }
        match lost {
            Some(error) if !lock().pending.is_empty() => Err(RoundFailure { error, retry: true }),
            _ => Ok(()),
        }
    }
}

/// Where a batch of creates stands.
#[derive(Debug)]
struct Creates {
    outcomes: Vec<Option<Result<CreateOutcome, IntacctError>>>,
    /// Requests still to send, in order.
    pending: Vec<usize>,
    /// Whether a request's create was sent and its answer lost at least once.
    answer_lost: Vec<bool>,
}

impl Creates {
    fn new(n: usize) -> Self {
        Self {
            outcomes: (0..n).map(|_| None).collect(),
            pending: Vec::new(),
            answer_lost: vec![false; n],
        }
    }

    fn settle(&mut self, i: usize, outcome: Result<CreateOutcome, IntacctError>) {
        self.pending.retain(|&p| p != i);
        self.outcomes[i] = Some(outcome);
    }
}

/// Why a round of creates stopped: `retry` when only lost answers are left to resend.
#[derive(Debug)]
struct RoundFailure {
    error: IntacctError,
    retry: bool,
}

impl std::fmt::Display for RoundFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}
