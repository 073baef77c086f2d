//! What invoice-status and credit-alerts both compute from Intacct: from the batch's AR
//! invoice, payment and customer changes to the customers they concern, then one batched
//! [`IntacctPort::read_accounts`] for those customers, then per customer its receivables
//! summary (open and overdue balance, last payment, the state of each invoice, lifetime
//! paid, credit limit and hold).
//!
//! Per batch: one Intacct request finds the customer of every changed invoice and payment
//! (a batch of customer changes needs none), one more reads the customers with their
//! invoices and payments.
//!
//! Amounts are in the documents' transaction currency (`TRX_` amounts): a customer whose
//! documents mix currencies has no single balance, and says so instead of adding them up.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use lf_domain::port::{
    AccountFields, IntacctPort, IntacctRecord, LinkKind, QueryFilter, RecordQuery, RecordRead,
    SalesforcePort, XrefLink, XrefStore,
};
use lf_domain::port::{AuditAction, AuditEntry, AuditLog, IdempotencyStore};
use lf_domain::{
    Classify, CorrelationId, Deadline, ErrorClass, Flow, IntacctKey, IntacctRef, PortError,
    RecordRef, SalesforceId, System,
};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::batch::Outcome;
use crate::items::{self, IntacctRecords};
use crate::ports::Ports;
use crate::records::{self, intacct_tree};

/// The Intacct objects whose changes name a customer's receivables.
pub(crate) const OBJECTS: [&str; 3] = ["ARINVOICE", "ARPYMT", "CUSTOMER"];

/// The state of one AR invoice as the flows report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvoiceState {
    Draft,
    Open,
    PartiallyPaid,
    Paid,
    Overdue,
}

impl InvoiceState {
    /// The `Intacct_Invoice_Status__c` picklist value.
    pub fn label(self) -> &'static str {
        match self {
            InvoiceState::Draft => "Draft",
            InvoiceState::Open => "Open",
            InvoiceState::PartiallyPaid => "Partially Paid",
            InvoiceState::Paid => "Paid",
            InvoiceState::Overdue => "Overdue",
        }
    }
}

/// One AR invoice of a customer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Invoice {
    pub record_no: String,
    pub record_id: String,
    /// The Opportunity it was made from (`SFDC_OPPORTUNITY_ID`).
    pub opportunity: Option<String>,
    pub state: InvoiceState,
    pub created: Option<NaiveDate>,
    pub due_on: Option<NaiveDate>,
    pub total: Decimal,
    pub due: Decimal,
}

/// A customer's receivables as of one day.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArSummary {
    pub customer_id: String,
    pub name: String,
    /// The customer record as a tree (for the Account it names, its email).
    pub customer: Value,
    /// The one currency of its documents (the customer's own when it has none), or why
    /// there is none.
    pub currency: Result<Option<String>, String>,
    pub total_due: Decimal,
    pub overdue: Decimal,
    /// The overdue invoice due first.
    pub oldest_overdue: Option<Invoice>,
    pub last_payment: Option<(NaiveDate, Decimal)>,
    pub lifetime_paid: Decimal,
    pub credit_limit: Decimal,
    pub on_hold: bool,
    /// Every invoice, the latest (by creation date, then record number) last.
    pub invoices: Vec<Invoice>,
}

impl ArSummary {
    /// The latest invoice.
    pub fn latest(&self) -> Option<&Invoice> {
        self.invoices.last()
    }

    /// The Salesforce Account id the customer record names.
    pub fn account_link(&self) -> Option<&str> {
        records::text(&self.customer, "SFDC_ACCOUNT_ID")
    }

    /// The customer's email (its display contact's).
    pub fn email(&self) -> Option<&str> {
        records::text(&self.customer, "DISPLAYCONTACT.EMAIL1")
    }

    /// The summary as the record the mappings read (`CUSTOMER_AR_SUMMARY`,
    /// `CUSTOMER_CREDIT_SUMMARY`): money as text, dates `MM/DD/YYYY`.
    pub fn record(&self, as_of: NaiveDate) -> Value {
        let date = |d: NaiveDate| d.format("%m/%d/%Y").to_string();
        let money = |d: Decimal| d.round_dp(2).normalize().to_string();
        let oldest = self.oldest_overdue.as_ref();
        json!({
            "CUSTOMERID": self.customer_id,
            "NAME": self.name,
            "SFDC_ACCOUNT_ID": self.account_link(),
            "CURRENCY": self.currency.clone().ok().flatten(),
            "TOTALDUE": money(self.total_due),
            "OVERDUE": money(self.overdue),
            "LASTPAYMENTDATE": self.last_payment.map(|(d, _)| date(d)),
            "LASTPAYMENTAMOUNT": self.last_payment.map(|(_, a)| money(a)),
            "INVOICESTATE": self.latest().map(|i| i.state.label()),
            "LATESTINVOICE": self.latest().map(|i| i.record_id.clone()),
            "LIFETIMEPAID": money(self.lifetime_paid),
            "CREDITLIMIT": money(self.credit_limit),
            "ONHOLD": self.on_hold,
            "OLDESTOVERDUE": oldest.map(|i| i.record_id.clone()),
            "OLDESTOVERDUEDUE": oldest.and_then(|i| i.due_on).map(date),
            "OLDESTOVERDUEAMOUNT": oldest.map(|i| money(i.due)),
            "AS_OF": date(as_of),
        })
    }
}

/// The fields read per customer, invoice and payment.
pub(crate) fn account_fields() -> AccountFields {
    let mut fields = AccountFields::default();
    let add = |list: &mut Vec<String>, extra: &[&str]| {
        for f in extra {
            if !list.iter().any(|x| x == f) {
                list.push((*f).to_owned());
            }
        }
    };
    add(
        &mut fields.customer,
        &[
            "WHENMODIFIED",
            "CURRENCY",
            "MEGAENTITYID",
            "DISPLAYCONTACT.EMAIL1",
        ],
    );
    add(
        &mut fields.invoice,
        &[
            "WHENMODIFIED",
            "TOTALPAID",
            "TRX_TOTALENTERED",
            "TRX_TOTALPAID",
            "TRX_TOTALDUE",
            "SFDC_OPPORTUNITY_ID",
        ],
    );
    add(
        &mut fields.payment,
        &["WHENMODIFIED", "STATE", "TRX_TOTALENTERED"],
    );
    fields
}

/// One changed record traced to its customer (`CUSTOMERID`) with the record's stamp, or its
/// outcome (not found, not readable).
pub(crate) type Traced = Result<(String, Option<DateTime<Utc>>), Outcome>;

/// A batch's changes traced to their customers and read.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    /// Per record of the batch: the customer it concerns and the record's stamp, or its
    /// outcome (not found, not readable).
    pub records: Vec<Traced>,
    /// The customers found, in first-named order.
    pub summaries: Vec<ArSummary>,
}

impl Captured {
    /// The summary of customer `id`.
    pub fn summary(&self, id: &str) -> Option<&ArSummary> {
        self.summaries.iter().find(|s| s.customer_id == id)
    }
}

/// Traces `refs` (as [`crate::items::IntacctRecords`] gives them) to their customers and
/// reads those: the `Err` is a failure of the whole read.
pub(crate) async fn capture<I: IntacctPort>(
    intacct: &I,
    refs: &[RecordRef],
    today: NaiveDate,
) -> Result<Captured, (ErrorClass, String)> {
    let mut records: Vec<Option<Traced>> = refs.iter().map(|_| None).collect();
    // Invoices and payments: which customer, and their stamp. One request for both.
    let mut queries = Vec::new();
    let mut asked = Vec::new();
    for object in ["ARINVOICE", "ARPYMT"] {
        let keys: Vec<String> = refs
            .iter()
            .filter(|r| r.object == object)
            .map(|r| r.id.clone())
            .collect();
        if !keys.is_empty() {
            queries.push(
                RecordQuery::new(object, ["RECORDNO", "CUSTOMERID", "WHENMODIFIED"])
                    .filter(QueryFilter::In("RECORDNO".into(), keys)),
            );
            asked.push(object);
        }
    }
    if !queries.is_empty() {
        let answers = intacct
            .query_many(None, &queries)
            .await
            .map_err(|e| (e.class(), format!("reading the changed AR documents: {e}")))?;
        for (object, answer) in asked.into_iter().zip(answers) {
            let rows = match answer {
                Ok(rows) => rows,
                Err(e) => {
                    let reason = format!("reading the changed {object} records: {e}");
                    for (i, r) in refs.iter().enumerate() {
                        if r.object == object {
                            records[i] = Some(Err(Outcome::failed(e.class(), reason.clone())));
                        }
                    }
                    continue;
                }
            };
            for (i, r) in refs.iter().enumerate().filter(|(_, r)| r.object == object) {
                let row = rows.iter().find(|row| {
                    row.record_no.as_deref().or_else(|| row.field("RECORDNO")) == Some(&r.id)
                });
                records[i] = Some(
                    match row.and_then(|row| row.field("CUSTOMERID").map(|c| (c, row))) {
                        Some((customer, row)) => {
                            Ok((customer.to_owned(), items::intacct_stamp(row)))
                        }
                        None => Err(Outcome::done(format!(
                            "{r} is deleted or not visible; nothing to do"
                        ))),
                    },
                );
            }
        }
    }
    let mut customers: Vec<String> = Vec::new();
    let mut name = |c: &str| {
        if !customers.iter().any(|k| k == c) {
            customers.push(c.to_owned());
        }
    };
    for (i, r) in refs.iter().enumerate() {
        match &records[i] {
            Some(Ok((c, _))) => name(c),
            None if r.object == "CUSTOMER" => name(&r.id),
            _ => {}
        }
    }
    let accounts = intacct
        .read_accounts(None, &customers, &account_fields())
        .await
        .map_err(|e| {
            (
                e.class(),
                format!("reading the customers' receivables: {e}"),
            )
        })?;
    let mut summaries = Vec::new();
    for id in &customers {
        let Some(customer) = accounts
            .customers
            .iter()
            .find(|c| c.field("CUSTOMERID") == Some(id.as_str()))
        else {
            continue;
        };
        let of = |list: &[IntacctRecord]| -> Vec<IntacctRecord> {
            list.iter()
                .filter(|r| r.field("CUSTOMERID") == Some(id.as_str()))
                .cloned()
                .collect()
        };
        summaries.push(summarize(
            customer,
            &of(&accounts.invoices),
            &of(&accounts.payments),
            today,
        ));
    }
    let records = refs
        .iter()
        .zip(records)
        .map(|(r, known)| {
            let found = known.unwrap_or_else(|| Ok((r.id.clone(), None)))?;
            let Some(summary) = summaries.iter().find(|s| s.customer_id == found.0) else {
                return Err(Outcome::done(format!(
                    "customer {} is deleted or not visible; nothing to do",
                    found.0
                )));
            };
            // A customer change is stamped by the customer record itself.
            let stamp = if r.object == "CUSTOMER" {
                records::text(&summary.customer, "WHENMODIFIED")
                    .and_then(|s| lf_domain::datetime::parse_datetime(s).ok())
                    .map(|t| t.with_timezone(&Utc))
            } else {
                found.1
            };
            Ok((found.0, stamp))
        })
        .collect();
    Ok(Captured { records, summaries })
}

/// A customer's Salesforce Account as found and read, or why it cannot be written.
pub(crate) type FoundAccount = Result<(SalesforceId, Value), Outcome>;

/// The batch's records traced, past the idempotency gate, and grouped by the customer they
/// concern: the part of a batch both receivables flows share.
#[derive(Debug)]
pub(crate) struct Work {
    /// Per record, its outcome when already decided (not found, done before, in progress).
    outcomes: Vec<Option<Outcome>>,
    holds: Vec<Option<items::Hold>>,
    /// Per record, the index of its customer in `customers`.
    customer_of: Vec<Option<usize>>,
    /// The customers to work, once each, with the correlation id of the first record naming
    /// them.
    pub customers: Vec<(ArSummary, CorrelationId)>,
}

impl Work {
    /// Captures the batch ([`capture`], as of `now`'s day), then takes the idempotency key of
    /// every traced record (its object, key and `WHENMODIFIED`, when [`items::settled`]
    /// before `now`, but no earlier than the start of `now`'s day: the result depends on the
    /// day too) and groups those to work by customer. `Err` is every record's outcome
    /// when the capture failed.
    pub async fn start<P: Ports>(
        ports: &P,
        flow: Flow,
        records: &IntacctRecords,
        now: DateTime<Utc>,
        deadline: Option<Deadline>,
    ) -> Result<Work, Vec<Outcome>> {
        let n = records.refs.len();
        let captured = capture(ports.intacct(), &records.refs, now.date_naive())
            .await
            .map_err(|(class, reason)| vec![Outcome::failed(class, reason); n])?;
        let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(n);
        let mut open = Vec::new();
        for (i, r) in captured.records.iter().enumerate() {
            match r {
                Ok((_, stamp)) => {
                    outcomes.push(None);
                    // Overdue is "as of today": the day is part of the change, so a
                    // record worked yesterday is worked again today (a sweep of invoices
                    // falling due), while same-day duplicates still dedupe.
                    let day = now.date_naive().and_time(NaiveTime::MIN).and_utc();
                    let stamp = items::settled(*stamp, now).map(|s| s.max(day));
                    open.push((i, (records.refs[i].clone(), stamp)));
                }
                Err(o) => outcomes.push(Some(o.clone())),
            }
        }
        let stamps: Vec<_> = open.iter().map(|(_, s)| s.clone()).collect();
        let gates = items::gate(ports.idempotency(), flow, &stamps, deadline).await;
        let mut holds: Vec<Option<items::Hold>> = (0..n).map(|_| None).collect();
        for ((i, _), gate) in open.iter().zip(gates) {
            match gate {
                Ok(hold) => holds[*i] = hold,
                Err(outcome) => outcomes[*i] = Some(outcome),
            }
        }
        let mut customers: Vec<(ArSummary, CorrelationId)> = Vec::new();
        let mut customer_of: Vec<Option<usize>> = vec![None; n];
        for i in 0..n {
            if outcomes[i].is_some() {
                continue;
            }
            let Some(summary) = captured.records[i]
                .as_ref()
                .ok()
                .and_then(|(c, _)| captured.summary(c))
            else {
                outcomes[i] = Some(Outcome::done("the customer is not visible; nothing to do"));
                continue;
            };
            let at = match customers
                .iter()
                .position(|(k, _)| k.customer_id == summary.customer_id)
            {
                Some(at) => at,
                None => {
                    customers.push((summary.clone(), records.correlations[i].clone()));
                    customers.len() - 1
                }
            };
            customer_of[i] = Some(at);
        }
        Ok(Work {
            outcomes,
            holds,
            customer_of,
            customers,
        })
    }

    /// The Account of each customer ([`accounts`]), in `customers` order. `Err` is every
    /// record's outcome when the lookup failed as a whole.
    pub async fn accounts<P: Ports>(
        self,
        ports: &P,
        read: &RecordRead,
    ) -> Result<(Work, Vec<FoundAccount>), Vec<Outcome>> {
        let summaries: Vec<&ArSummary> = self.customers.iter().map(|(s, _)| s).collect();
        match accounts(ports, &summaries, read, true).await {
            Ok(found) => Ok((self, found)),
            Err((class, reason)) => {
                let failed = vec![Outcome::failed(class, reason); self.customers.len()];
                Err(self.finish(ports.idempotency(), &failed).await)
            }
        }
    }

    /// Each record's outcome (its own, or its customer's from `per_customer`), its hold
    /// ended with it.
    pub async fn finish<S: IdempotencyStore>(
        self,
        store: &S,
        per_customer: &[Outcome],
    ) -> Vec<Outcome> {
        let mut out = Vec::with_capacity(self.outcomes.len());
        for ((own, hold), customer) in self
            .outcomes
            .into_iter()
            .zip(self.holds)
            .zip(self.customer_of)
        {
            let outcome = own
                .or_else(|| customer.and_then(|c| per_customer.get(c).cloned()))
                .unwrap_or_else(|| {
                    Outcome::retry(
                        ErrorClass::Transient,
                        "no outcome was decided for this customer",
                    )
                });
            if let Some(hold) = hold {
                items::finish(store, hold, &outcome).await;
            }
            out.push(outcome);
        }
        out
    }
}

/// Records what became of one customer's Account in the audit log — an update when
/// `wrote`, or its parking — and logs the outcome.
#[allow(clippy::too_many_arguments)] // one audit entry's facts, all plain values
pub(crate) async fn audit<A: AuditLog>(
    log: &A,
    flow: Flow,
    at: DateTime<Utc>,
    account: Option<&SalesforceId>,
    customer: &str,
    correlation: &CorrelationId,
    wrote: bool,
    outcome: &Outcome,
) {
    tracing::info!(flow = %flow, customer = %customer, outcome = ?outcome, "customer");
    let (action, detail) = match outcome {
        Outcome::Done { detail } if wrote => (AuditAction::Updated, detail),
        Outcome::Parked { reason } => (AuditAction::Parked, reason),
        _ => return,
    };
    let Some(account) = account else { return };
    let entry = AuditEntry {
        record: RecordRef::salesforce("Account", account),
        at,
        flow,
        action,
        correlation_id: correlation.clone(),
        counterpart: Some(RecordRef {
            system: System::Intacct,
            object: "CUSTOMER".into(),
            id: customer.to_owned(),
        }),
        detail: detail.clone(),
    };
    if let Err(error) = log.append(&entry).await {
        tracing::warn!(%error, "audit entry not written");
    }
}

/// The Salesforce Account of each customer, and the Account as read (`read`): the stored
/// link first, then the customer's `SFDC_ACCOUNT_ID`, then its email, which must be the
/// email of Contacts of exactly one Account. A customer without an Account is parked with
/// the reason. Costs one Salesforce read, and one more only when some customer is found by
/// email.
pub(crate) async fn accounts<P: Ports>(
    ports: &P,
    summaries: &[&ArSummary],
    read: &RecordRead,
    store_links: bool,
) -> Result<Vec<FoundAccount>, (ErrorClass, String)> {
    let mut found: Vec<Result<Option<SalesforceId>, Outcome>> = Vec::new();
    let mut stored: Vec<bool> = Vec::new();
    for s in summaries {
        let linked = match IntacctKey::parse(&s.customer_id) {
            Ok(key) => ports
                .xref()
                .find_by_intacct(LinkKind::AccountCustomer, &key)
                .await
                .map_err(|e| (e.class(), format!("reading the customer's link: {e}")))?
                .map(|l| l.salesforce),
            Err(_) => None,
        };
        let named = s.account_link().map(|id| {
            SalesforceId::parse(id).map_err(|e| {
                Outcome::parked(format!(
                    "customer {}: SFDC_ACCOUNT_ID {id} is not a Salesforce id: {e}",
                    s.customer_id
                ))
            })
        });
        stored.push(linked.is_some());
        found.push(match (linked, named) {
            (Some(id), _) => Ok(Some(id)),
            (None, Some(named)) => named.map(Some),
            (None, None) => Ok(None),
        });
    }
    // By email, for the customers neither link names.
    let emails: Vec<String> = summaries
        .iter()
        .zip(&found)
        .filter(|(_, f)| matches!(f, Ok(None)))
        .filter_map(|(s, _)| s.email().map(str::to_owned))
        .collect();
    let by_email = if emails.is_empty() {
        Default::default()
    } else {
        ports
            .salesforce()
            .read_by_field(
                &RecordRead::new("Contact", &["AccountId"]),
                "Email",
                &emails,
            )
            .await
            .map_err(|e| (e.class(), format!("finding Accounts by email: {e}")))?
    };
    let found: Vec<Result<SalesforceId, Outcome>> = summaries
        .iter()
        .zip(found)
        .map(|(s, f)| {
            if let Some(id) = f? {
                return Ok(id);
            }
            let Some(email) = s.email() else {
                return Err(Outcome::parked(format!(
                    "customer {} is linked to no Salesforce Account (no link, no \
                     SFDC_ACCOUNT_ID, no email)",
                    s.customer_id
                )));
            };
            let mut ids: Vec<SalesforceId> = Vec::new();
            let matched = by_email
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(email))
                .flat_map(|(_, v)| v);
            for c in matched {
                if let Some(id) = c
                    .get("AccountId")
                    .and_then(Value::as_str)
                    .and_then(|a| SalesforceId::parse(a).ok())
                    && !ids.contains(&id)
                {
                    ids.push(id);
                }
            }
            match ids.len() {
                1 => Ok(ids.remove(0)),
                0 => Err(Outcome::parked(format!(
                    "customer {} is linked to no Salesforce Account, and no Contact has \
                     its email {email}",
                    s.customer_id
                ))),
                n => Err(Outcome::parked(format!(
                    "customer {} is linked to no Salesforce Account, and its email {email} \
                     is on Contacts of {n} Accounts: link it by hand",
                    s.customer_id
                ))),
            }
        })
        .collect();
    let ids: Vec<SalesforceId> = found.iter().flatten().cloned().collect();
    let read = if ids.is_empty() {
        Default::default()
    } else {
        ports
            .salesforce()
            .read_by_ids(read, &ids)
            .await
            .map_err(|e| (e.class(), format!("reading the Accounts: {e}")))?
    };
    // A customer found by its SFDC_ACCOUNT_ID or email is linked, so the next batch finds
    // it by the link; an Account linked to another customer is not this one's. (A dry run
    // stores nothing: `store_links` false.)
    let mut found = found;
    for ((s, f), had_link) in summaries
        .iter()
        .zip(found.iter_mut())
        .zip(stored)
        .filter(|_| store_links)
    {
        let (Ok(id), false) = (&*f, had_link) else {
            continue;
        };
        if !read.contains_key(id) {
            continue;
        }
        let Ok(key) = IntacctKey::parse(&s.customer_id) else {
            continue;
        };
        let entity = records::text(&s.customer, "MEGAENTITYID")
            .and_then(|e| lf_domain::EntityId::parse(e).ok());
        let link = XrefLink {
            kind: LinkKind::AccountCustomer,
            salesforce: id.clone(),
            intacct: IntacctRef::new(entity, key),
            linked_at: ports.clock().now(),
        };
        match ports.xref().link(&link).await {
            Ok(_) => {}
            Err(PortError::Conflict { message }) => {
                *f = Err(Outcome::parked(format!(
                    "customer {} names Account {id}, which is linked to another customer: \
                     {message}",
                    s.customer_id
                )));
            }
            Err(error) => tracing::warn!(%error, customer = %s.customer_id, "link not stored"),
        }
    }
    Ok(summaries
        .iter()
        .zip(found)
        .map(|(s, f)| {
            let id = f?;
            match read.get(&id) {
                Some(record) => Ok((id, Value::Object(record.clone()))),
                None => Err(Outcome::parked(format!(
                    "customer {}'s Account {id} is deleted or not visible",
                    s.customer_id
                ))),
            }
        })
        .collect())
}

fn amount(record: &Value, trx: &str, base: &str) -> Decimal {
    records::decimal(record, trx)
        .or_else(|| records::decimal(record, base))
        .unwrap_or_default()
}

fn date(record: &Value, field: &str) -> Option<NaiveDate> {
    records::text(record, field)
        .and_then(|s| lf_domain::datetime::parse_datetime(s).ok())
        .map(|t| t.date_naive())
}

/// The summary of one customer from its records as read (pure).
pub(crate) fn summarize(
    customer: &IntacctRecord,
    invoices: &[IntacctRecord],
    payments: &[IntacctRecord],
    today: NaiveDate,
) -> ArSummary {
    let tree = intacct_tree(customer);
    let mut currencies: Vec<String> = Vec::new();
    let mut note = |record: &Value| {
        if let Some(c) = records::text(record, "CURRENCY")
            && !currencies.iter().any(|k| k == c)
        {
            currencies.push(c.to_owned());
        }
    };
    let mut list: Vec<Invoice> = Vec::new();
    for inv in invoices {
        let r = intacct_tree(inv);
        note(&r);
        let total = amount(&r, "TRX_TOTALENTERED", "TOTALENTERED");
        let due = amount(&r, "TRX_TOTALDUE", "TOTALDUE");
        let paid = amount(&r, "TRX_TOTALPAID", "TOTALPAID");
        let due_on = date(&r, "WHENDUE");
        let draft = records::text(&r, "STATE").is_some_and(|s| s.eq_ignore_ascii_case("draft"));
        let state = if draft {
            InvoiceState::Draft
        } else if due <= Decimal::ZERO {
            InvoiceState::Paid
        } else if due_on.is_some_and(|d| d < today) {
            InvoiceState::Overdue
        } else if paid > Decimal::ZERO {
            InvoiceState::PartiallyPaid
        } else {
            InvoiceState::Open
        };
        list.push(Invoice {
            record_no: inv
                .record_no
                .clone()
                .or_else(|| inv.field("RECORDNO").map(str::to_owned))
                .unwrap_or_default(),
            record_id: inv
                .id
                .clone()
                .or_else(|| inv.field("RECORDID").map(str::to_owned))
                .unwrap_or_default(),
            opportunity: records::text(&r, "SFDC_OPPORTUNITY_ID").map(str::to_owned),
            state,
            created: date(&r, "WHENCREATED"),
            due_on,
            total,
            due,
        });
    }
    let number = |s: &str| s.parse::<u64>().unwrap_or(0);
    list.sort_by_key(|a| (a.created, number(&a.record_no)));
    let open = |i: &&Invoice| i.state != InvoiceState::Draft;
    let total_due = list.iter().filter(open).map(|i| i.due).sum();
    let overdue_list: Vec<&Invoice> = list
        .iter()
        .filter(|i| i.state == InvoiceState::Overdue)
        .collect();
    let overdue = overdue_list.iter().map(|i| i.due).sum();
    let oldest_overdue = overdue_list
        .iter()
        .min_by_key(|i| (i.due_on, number(&i.record_no)))
        .map(|i| (*i).clone());
    let mut last_payment: Option<(NaiveDate, u64, Decimal)> = None;
    let mut lifetime_paid = Decimal::ZERO;
    for p in payments {
        let r = intacct_tree(p);
        let voided = records::text(&r, "STATE")
            .is_some_and(|s| s.eq_ignore_ascii_case("voided") || s.eq_ignore_ascii_case("v"));
        if voided {
            continue;
        }
        note(&r);
        let amt = amount(&r, "TRX_TOTALENTERED", "TOTALENTERED");
        lifetime_paid += amt;
        let no = number(
            p.record_no
                .as_deref()
                .or_else(|| p.field("RECORDNO"))
                .unwrap_or(""),
        );
        if let Some(on) = date(&r, "RECEIPTDATE")
            && last_payment.is_none_or(|(d, n, _)| (on, no) > (d, n))
        {
            last_payment = Some((on, no, amt));
        }
    }
    let currency = match currencies.len() {
        0 => Ok(records::text(&tree, "CURRENCY").map(str::to_owned)),
        1 => Ok(currencies.pop()),
        _ => Err(format!(
            "customer {}'s documents are in several currencies ({}): no single balance",
            customer.field("CUSTOMERID").unwrap_or_default(),
            currencies.join(", ")
        )),
    };
    let on_hold = match tree.get("ONHOLD") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    ArSummary {
        customer_id: customer.field("CUSTOMERID").unwrap_or_default().to_owned(),
        name: customer.field("NAME").unwrap_or_default().to_owned(),
        currency,
        total_due,
        overdue,
        oldest_overdue,
        last_payment: last_payment.map(|(d, _, a)| (d, a)),
        lifetime_paid,
        credit_limit: records::decimal(&tree, "CREDITLIMIT").unwrap_or_default(),
        on_hold,
        invoices: list,
        customer: tree,
    }
}

#[cfg(test)]
mod tests {
    use lf_domain::port::FieldTree;

    use super::*;

    fn rec(fields: Value) -> IntacctRecord {
        let Value::Object(map) = fields else {
            unreachable!()
        };
        let map: FieldTree = map;
        IntacctRecord {
            record_no: map
                .get("RECORDNO")
                .and_then(Value::as_str)
                .map(str::to_owned),
            id: map
                .get("RECORDID")
                .and_then(Value::as_str)
                .map(str::to_owned),
            fields: map,
        }
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn customer() -> IntacctRecord {
        rec(
            json!({"CUSTOMERID": "C-1", "NAME": "Acme", "CREDITLIMIT": "1000", "ONHOLD": "false",
            "SFDC_ACCOUNT_ID": "001000000000001AAA", "DISPLAYCONTACT": {"EMAIL1": "ap@acme.example"}}),
        )
    }

    fn invoice(no: &str, created: &str, due: &str, total: &str, left: &str) -> IntacctRecord {
        rec(
            json!({"RECORDNO": no, "RECORDID": format!("INV-{no}"), "CUSTOMERID": "C-1",
            "STATE": "Posted", "WHENCREATED": created, "WHENDUE": due, "CURRENCY": "USD",
            "TRX_TOTALENTERED": total, "TRX_TOTALDUE": left,
            "TRX_TOTALPAID": (total.parse::<Decimal>().unwrap() - left.parse::<Decimal>().unwrap()).to_string()}),
        )
    }

    #[test]
    fn balances_states_and_payments_are_summed_as_of_a_day() {
        let invoices = [
            invoice("7", "01/01/2026", "01/31/2026", "300", "300"),
            invoice("9", "03/01/2026", "03/31/2026", "500", "200"),
            invoice("8", "02/01/2026", "02/28/2026", "100", "0"),
        ];
        let payments = [
            rec(
                json!({"RECORDNO": "20", "CUSTOMERID": "C-1", "RECEIPTDATE": "02/20/2026", "TRX_TOTALENTERED": "100", "CURRENCY": "USD"}),
            ),
            rec(
                json!({"RECORDNO": "21", "CUSTOMERID": "C-1", "RECEIPTDATE": "03/10/2026", "TRX_TOTALENTERED": "300", "CURRENCY": "USD"}),
            ),
        ];
        let s = summarize(&customer(), &invoices, &payments, day("2026-03-15"));
        assert_eq!(s.total_due, Decimal::from(500));
        assert_eq!(s.overdue, Decimal::from(300), "only INV-7 is past due");
        assert_eq!(s.oldest_overdue.as_ref().unwrap().record_id, "INV-7");
        assert_eq!(s.latest().unwrap().record_id, "INV-9");
        assert_eq!(s.latest().unwrap().state, InvoiceState::PartiallyPaid);
        assert_eq!(s.invoices[1].state, InvoiceState::Paid);
        assert_eq!(
            s.last_payment,
            Some((day("2026-03-10"), Decimal::from(300)))
        );
        assert_eq!(s.lifetime_paid, Decimal::from(400));
        assert_eq!(s.currency, Ok(Some("USD".into())));
        assert_eq!(s.account_link(), Some("001000000000001AAA"));
        assert_eq!(s.email(), Some("ap@acme.example"));
        let r = s.record(day("2026-03-15"));
        assert_eq!(r["TOTALDUE"], "500");
        assert_eq!(r["INVOICESTATE"], "Partially Paid");
        assert_eq!(r["LASTPAYMENTDATE"], "03/10/2026");

        // Later, INV-9 is past due too.
        let later = summarize(&customer(), &invoices, &payments, day("2026-04-01"));
        assert_eq!(later.overdue, Decimal::from(500));
        assert_eq!(later.latest().unwrap().state, InvoiceState::Overdue);
    }

    #[test]
    fn mixed_currencies_have_no_single_balance() {
        let mut eur = invoice("3", "01/01/2026", "01/31/2026", "10", "10");
        eur.fields.insert("CURRENCY".into(), json!("EUR"));
        let s = summarize(
            &customer(),
            &[invoice("2", "01/01/2026", "01/31/2026", "10", "10"), eur],
            &[],
            day("2026-01-02"),
        );
        assert!(s.currency.unwrap_err().contains("EUR"));
    }
}
