//! **invoice-status** (DESIGN.md §1): an AR invoice or payment added or changed in Intacct
//! updates the customer's Salesforce Account — open and overdue balance, last payment, the
//! state of the latest invoice, lifetime paid — and the Opportunity each invoice came from
//! gets that invoice's state. Optionally (mapping `overdue_task`) an invoice that becomes
//! overdue gives the Account owner one Task, upserted by its key and asked for once.
//!
//! Amounts are in the documents' currency. An Account whose `CurrencyIsoCode` differs from
//! it is parked with the reason rather than converted: the balance belongs to the currency
//! the customer is billed in, and a converted figure would drift with every rate change.
//!
//! Per batch, at most: Intacct — two requests (the changed documents' customers, then their
//! receivables); Salesforce — one Account read (their Opportunities with it), one read of
//! Contacts when a customer is found by email, one write of every changed field, one Task
//! upsert. An unchanged state writes nothing.

use std::sync::Arc;

use chrono::NaiveDate;
use lf_domain::port::{RecordRead, SalesforcePort, SfRecord, SyncState, WriteResult};
use lf_domain::{Classify, CorrelationId, Fingerprint, Flow, RecordRef, SalesforceId, System};
use lf_mapping::{MapContext, Mapped, MappingPlan, SpecSet};
use serde_json::{Map, Value, json};

use crate::ar_summary::{self, ArSummary, InvoiceState, Work};
use crate::batch::{BatchContext, FlowHandler, Outcome, WorkItem};
use crate::items::IntacctRecords;
use crate::ports::Ports;
use crate::records;
use crate::setup::{self, SetupError};
use crate::writeback::WriteBack;

const FLOW: Flow = Flow::InvoiceStatus;
const BALANCE: &str = "account_balance";
const OVERDUE_TASK: &str = "overdue_task";
const SOURCE: &str = "CUSTOMER_AR_SUMMARY";
const TASK_SOURCE: &str = "AR_INVOICE_OVERDUE";
/// Where the Account says why its summary could not be written (cleared once it is).
const SYNC_ERROR: &str = "Intacct_Sync_Error__c";
/// The Opportunity field that shows its invoice's state.
const OPPORTUNITY_STATUS: &str = "Intacct_Invoice_Status__c";

/// How a done outcome says the customer's Account (or an Opportunity) was written.
const SUMMARY_WRITTEN: &str = "summary written";

/// Whether a done outcome of this flow wrote the Account or its Opportunities (now: the
/// stored result of a change done before does not count).
pub fn wrote(outcome: &Outcome) -> bool {
    !crate::idempotency::replayed(outcome)
        && matches!(outcome, Outcome::Done { detail } if detail.ends_with(SUMMARY_WRITTEN))
}

/// What [`InvoiceStatus::preview`] found one changed record would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusPreview {
    /// The customer's Account would get these fields (`Opportunity <id>.<field>` for an
    /// Opportunity's invoice state, `Task for invoice <no>` for an overdue Task).
    Update {
        account: String,
        fields: Vec<String>,
    },
    /// The Account shows the customer's receivables already.
    Unchanged { account: String },
    /// Nothing to do (deleted, not visible).
    Skip { reason: String },
    /// Would be parked, or could not be decided now, with the reason.
    Leave { reason: String },
}

impl StatusPreview {
    fn of(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Done { detail } | Outcome::Echo { detail } => StatusPreview::Skip {
                reason: detail.clone(),
            },
            Outcome::Parked { reason } => StatusPreview::Leave {
                reason: reason.clone(),
            },
            Outcome::Retry { reason, .. } => StatusPreview::Leave {
                reason: format!("could not be decided now: {reason}"),
            },
        }
    }
}

/// How the flow is set up. What it writes is in its mappings; the type keeps the handlers'
/// constructors alike.
#[derive(Debug, Clone, Default)]
pub struct InvoiceStatusOptions {}

/// The invoice-status flow handler.
#[derive(Debug)]
pub struct InvoiceStatus<P> {
    ports: P,
    specs: Arc<SpecSet>,
    read: RecordRead,
}

impl<P: Ports> InvoiceStatus<P> {
    /// Checks that `specs` has the flow's mappings and derives the Account read from them.
    pub fn new(
        ports: P,
        specs: Arc<SpecSet>,
        _options: InvoiceStatusOptions,
    ) -> Result<Self, SetupError> {
        let plan = setup::mapping(&specs, FLOW, BALANCE, SOURCE, "Account")?;
        if specs.mapping(FLOW, OVERDUE_TASK).is_ok() {
            setup::mapping(&specs, FLOW, OVERDUE_TASK, TASK_SOURCE, "Task")?;
        }
        let mut paths = plan.target_reads().paths();
        for f in ["CurrencyIsoCode", "OwnerId", SYNC_ERROR] {
            if !paths.iter().any(|p| p == f) {
                paths.push(f.to_owned());
            }
        }
        let read = RecordRead::from_paths("Account", &paths, &[])
            .with_child("Opportunities", &["Id", OPPORTUNITY_STATUS]);
        Ok(Self { ports, specs, read })
    }
}

impl<P: Ports> InvoiceStatus<P> {
    /// What the flow would write for the records `items` name, decided as
    /// [`FlowHandler::handle_batch`] decides (the same reads: the changed documents, their
    /// customers' receivables, the Accounts; the same plan) with no write and no idempotency
    /// hold: for `backfill --dry-run`. One answer per item, in order.
    pub async fn preview(&self, items: &[WorkItem]) -> Vec<StatusPreview> {
        let records = IntacctRecords::of(items, &ar_summary::OBJECTS, FLOW);
        let leave_all = |reason: String| -> Vec<StatusPreview> {
            let all = vec![StatusPreview::Leave { reason }; records.refs.len()];
            records.answers(&all, StatusPreview::of)
        };
        let balance = match setup::mapping(&self.specs, FLOW, BALANCE, SOURCE, "Account") {
            Ok(plan) => plan,
            Err(e) => return leave_all(e.to_string()),
        };
        let task_plan = setup::mapping(&self.specs, FLOW, OVERDUE_TASK, TASK_SOURCE, "Task").ok();
        let ports = &self.ports;
        let today = ports.clock().now().date_naive();
        let captured = match ar_summary::capture(ports.intacct(), &records.refs, today).await {
            Ok(c) => c,
            Err((_, reason)) => return leave_all(format!("could not be decided now: {reason}")),
        };
        let mut customers: Vec<&ArSummary> = Vec::new();
        let mut customer_of: Vec<Result<usize, Outcome>> = Vec::new();
        for r in &captured.records {
            customer_of.push(match r {
                Err(o) => Err(o.clone()),
                Ok((c, _)) => match captured.summary(c) {
                    None => Err(Outcome::done("the customer is not visible; nothing to do")),
                    Some(s) => Ok(match customers.iter().position(|k| k.customer_id == *c) {
                        Some(at) => at,
                        None => {
                            customers.push(s);
                            customers.len() - 1
                        }
                    }),
                },
            });
        }
        let accounts = match ar_summary::accounts(ports, &customers, &self.read, false).await {
            Ok(a) => a,
            Err((_, reason)) => return leave_all(format!("could not be decided now: {reason}")),
        };
        let mut per_customer = Vec::with_capacity(customers.len());
        for (summary, account) in customers.iter().zip(accounts) {
            let (id, account) = match account {
                Ok(a) => a,
                Err(o) => {
                    per_customer.push(StatusPreview::of(&o));
                    continue;
                }
            };
            let d = match plan(summary, &id, &account, balance, task_plan, today) {
                Ok(d) => d,
                Err(reason) => {
                    per_customer.push(StatusPreview::Leave { reason });
                    continue;
                }
            };
            let mut fields: Vec<String> = d.account.iter().map(|(k, _)| k.clone()).collect();
            for (opp, _, _) in &d.opportunities {
                fields.push(format!("Opportunity {opp}.{OPPORTUNITY_STATUS}"));
            }
            for t in &d.tasks {
                let invoice = RecordRef {
                    system: System::Intacct,
                    object: "ARINVOICE".into(),
                    id: t.invoice.clone(),
                };
                let asked = matches!(ports.state().fingerprint(&invoice, FLOW).await,
                    Ok(Some(f)) if f == task_fingerprint(&t.task));
                if !asked {
                    fields.push(format!("Task for invoice {}", t.invoice));
                }
            }
            let account = id.as_str().to_owned();
            per_customer.push(if fields.is_empty() {
                StatusPreview::Unchanged { account }
            } else {
                StatusPreview::Update { account, fields }
            });
        }
        let per_record: Vec<StatusPreview> = customer_of
            .iter()
            .map(|c| match c {
                Ok(at) => per_customer[*at].clone(),
                Err(o) => StatusPreview::of(o),
            })
            .collect();
        records.answers(&per_record, StatusPreview::of)
    }
}

impl<P: Ports> FlowHandler for InvoiceStatus<P> {
    fn flow(&self) -> Flow {
        FLOW
    }

    async fn handle_batch(&self, items: &[WorkItem], context: &BatchContext) -> Vec<Outcome> {
        let records = IntacctRecords::of(items, &ar_summary::OBJECTS, FLOW);
        let outcomes = self.run(&records, context).await;
        records.outcomes(&outcomes)
    }
}

/// An overdue-invoice Task to upsert.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OverdueTask {
    /// The invoice's `RECORDNO`, what the flow remembers the Task by.
    pub invoice: String,
    pub task: SfRecord,
}

/// What one customer's summary changes in Salesforce (pure result of [`plan`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Decision {
    /// Changed Account fields (without `Id`).
    pub account: Vec<(String, Value)>,
    /// Opportunities whose invoice state changed: (id, the record as read, new state).
    pub opportunities: Vec<(SalesforceId, Value, &'static str)>,
    /// Tasks for invoices now overdue (before the flow filters those already asked for).
    pub tasks: Vec<OverdueTask>,
}

/// Decides what `summary` changes on `account` (as read, with its `Opportunities`): the
/// balance mapping's fields that differ, each linked Opportunity's invoice state, and a
/// Task per overdue invoice when `task_plan` is given. `Err` is the reason to park.
pub(crate) fn plan(
    summary: &ArSummary,
    account_id: &SalesforceId,
    account: &Value,
    balance: &MappingPlan,
    task_plan: Option<&MappingPlan>,
    today: NaiveDate,
) -> Result<Decision, String> {
    let currency = summary.currency.clone()?;
    if let (Some(ours), Some(theirs)) = (&currency, records::text(account, "CurrencyIsoCode"))
        && !ours.eq_ignore_ascii_case(theirs)
    {
        return Err(format!(
            "customer {} is billed in {ours} but Account {account_id} is in {theirs}: \
                 balances are not converted; align the Account's currency",
            summary.customer_id
        ));
    }
    let mut source = summary.record(today);
    source["SFDC_ACCOUNT_ID"] = json!(account_id.as_str());
    let mapped = match balance.map(&source, &MapContext::default()) {
        Ok(Mapped::Record(r)) => r.fields,
        Ok(Mapped::Skipped) => Map::new(),
        Err(e) => return Err(e.to_string()),
    };
    let mut decision = Decision {
        account: balance
            .fields_to_write(&mapped, &source, account)
            .into_iter()
            .filter(|(k, _)| k != "Id")
            .collect(),
        ..Decision::default()
    };
    let children: &[Value] = records::at(account, "Opportunities.records")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    for inv in &summary.invoices {
        let Some(opp) = inv
            .opportunity
            .as_deref()
            .and_then(|o| SalesforceId::parse(o).ok())
        else {
            continue;
        };
        let current = children.iter().find(|c| {
            records::text(c, "Id").and_then(|i| SalesforceId::parse(i).ok()) == Some(opp.clone())
        });
        if let Some(current) = current
            && records::text(current, OPPORTUNITY_STATUS) != Some(inv.state.label())
        {
            decision
                .opportunities
                .push((opp, current.clone(), inv.state.label()));
        }
    }
    if let Some(task_plan) = task_plan {
        for inv in summary
            .invoices
            .iter()
            .filter(|i| i.state == InvoiceState::Overdue)
        {
            let record = json!({
                "RECORDNO": inv.record_no,
                "RECORDID": inv.record_id,
                "CUSTOMERID": summary.customer_id,
                "NAME": summary.name,
                "SFDC_ACCOUNT_ID": account_id.as_str(),
                "SFDC_OWNER_ID": records::text(account, "OwnerId"),
                "TOTALDUE": inv.due.round_dp(2).normalize().to_string(),
                "WHENDUE": inv.due_on.map(|d| d.format("%m/%d/%Y").to_string()),
                "CURRENCY": currency,
                "AS_OF": today.format("%m/%d/%Y").to_string(),
            });
            match task_plan.map(&record, &MapContext::default()) {
                Ok(Mapped::Record(r)) => decision.tasks.push(OverdueTask {
                    invoice: inv.record_no.clone(),
                    task: r.fields,
                }),
                Ok(Mapped::Skipped) => {}
                Err(e) => return Err(format!("the overdue Task of {}: {e}", inv.record_id)),
            }
        }
    }
    Ok(decision)
}

/// What the flow remembers of an overdue Task it asked for: its key, per invoice.
fn task_fingerprint(task: &SfRecord) -> Fingerprint {
    let mut key = Map::new();
    key.insert(
        "overdue_task".into(),
        task.get(lf_domain::port::TASK_KEY_FIELD)
            .cloned()
            .unwrap_or(Value::Null),
    );
    Fingerprint::of_fields(&key)
}

/// One customer of the batch on its way.
#[derive(Debug)]
struct Customer {
    id: String,
    correlation: CorrelationId,
    account: Option<SalesforceId>,
    outcome: Option<Outcome>,
    written: bool,
}

impl<P: Ports> InvoiceStatus<P> {
    #[allow(clippy::too_many_lines)] // capture, plan and apply of one batch, read top-down
    async fn run(&self, records: &IntacctRecords, context: &BatchContext) -> Vec<Outcome> {
        if records.refs.is_empty() {
            return Vec::new();
        }
        let n = records.refs.len();
        let balance = match setup::mapping(&self.specs, FLOW, BALANCE, SOURCE, "Account") {
            Ok(plan) => plan,
            Err(e) => return vec![Outcome::parked(e.to_string()); n],
        };
        let task_plan = setup::mapping(&self.specs, FLOW, OVERDUE_TASK, TASK_SOURCE, "Task").ok();
        let ports = &self.ports;
        let now = ports.clock().now();
        let today = now.date_naive();
        let work = match Work::start(ports, FLOW, records, now, context.deadline).await {
            Ok(w) => w,
            Err(outcomes) => return outcomes,
        };
        let (work, accounts) = match work.accounts(ports, &self.read).await {
            Ok(found) => found,
            Err(outcomes) => return outcomes,
        };
        let mut customers: Vec<Customer> = work
            .customers
            .iter()
            .map(|(s, correlation)| Customer {
                id: s.customer_id.clone(),
                correlation: correlation.clone(),
                account: None,
                outcome: None,
                written: false,
            })
            .collect();

        // Plan (pure), then one write, one Task upsert.
        let mut wb = WriteBack::default();
        let mut tasks: Vec<(usize, OverdueTask)> = Vec::new();
        for (ci, ((summary, _), account)) in work.customers.iter().zip(accounts).enumerate() {
            let c = &mut customers[ci];
            let (account_id, account) = match account {
                Ok(a) => a,
                Err(o) => {
                    c.outcome = Some(o);
                    continue;
                }
            };
            c.account = Some(account_id.clone());
            match plan(summary, &account_id, &account, balance, task_plan, today) {
                Ok(d) => {
                    let mut fields: Vec<(&str, Value)> = d
                        .account
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.clone()))
                        .collect();
                    c.written = !fields.is_empty() || !d.opportunities.is_empty();
                    fields.push((SYNC_ERROR, Value::Null));
                    wb.set("Account", &account_id, &account, ci, fields);
                    for (opp, current, state) in &d.opportunities {
                        wb.set(
                            "Opportunity",
                            opp,
                            current,
                            ci,
                            vec![(OPPORTUNITY_STATUS, json!(state))],
                        );
                    }
                    for t in d.tasks {
                        tasks.push((ci, t));
                    }
                }
                Err(reason) => {
                    // The Account says why its figures are not Intacct's.
                    wb.failed("Account", &account_id, &account, ci, &reason);
                    c.outcome = Some(Outcome::parked(reason));
                }
            }
        }
        // A Task is asked for once per invoice: after it was saved, later events skip it.
        let mut asked = Vec::new();
        for (ci, t) in tasks {
            let invoice = RecordRef {
                system: System::Intacct,
                object: "ARINVOICE".into(),
                id: t.invoice.clone(),
            };
            let known = ports.state().fingerprint(&invoice, FLOW).await;
            match known {
                Ok(Some(f)) if f == task_fingerprint(&t.task) => {}
                Ok(_) => asked.push((ci, invoice, t)),
                Err(e) => {
                    customers[ci].outcome.get_or_insert(Outcome::failed(
                        e.class(),
                        format!("reading what the flow asked for: {e}"),
                    ));
                }
            }
        }
        if !asked.is_empty() {
            let sent: Vec<SfRecord> = asked.iter().map(|(_, _, t)| t.task.clone()).collect();
            match ports.salesforce().upsert_tasks(sent).await {
                Ok(results) => {
                    for ((ci, invoice, t), result) in asked.iter().zip(results) {
                        match result {
                            WriteResult::Saved { .. } => {
                                let fp = task_fingerprint(&t.task);
                                if let Err(error) =
                                    ports.state().record_fingerprint(invoice, FLOW, &fp).await
                                {
                                    tracing::warn!(%error, "overdue Task not remembered");
                                }
                            }
                            WriteResult::Failed(f) => {
                                customers[*ci].outcome.get_or_insert(Outcome::failed(
                                    f.class,
                                    format!("the overdue Task: {}: {}", f.code, f.message),
                                ));
                            }
                        }
                    }
                }
                Err(e) => {
                    let reason = format!("upserting overdue Tasks: {e}");
                    for (ci, _, _) in &asked {
                        customers[*ci]
                            .outcome
                            .get_or_insert(Outcome::failed(e.class(), reason.clone()));
                    }
                }
            }
        }
        for (ci, (class, reason)) in wb.apply(ports.salesforce()).await {
            customers[ci]
                .outcome
                .get_or_insert(Outcome::failed(class, reason));
        }

        let mut per_customer = Vec::with_capacity(customers.len());
        for c in &customers {
            let outcome = c.outcome.clone().unwrap_or_else(|| {
                if c.written {
                    Outcome::done(format!("customer {} {SUMMARY_WRITTEN}", c.id))
                } else {
                    Outcome::done(format!("customer {} summary unchanged", c.id))
                }
            });
            ar_summary::audit(
                ports.audit(),
                FLOW,
                now,
                c.account.as_ref(),
                &c.id,
                &c.correlation,
                c.written,
                &outcome,
            )
            .await;
            per_customer.push(outcome);
        }
        work.finish(ports.idempotency(), &per_customer).await
    }
}

#[cfg(test)]
mod tests {
    use lf_domain::port::IntacctRecord;
    use lf_mapping::SpecBundle;

    use super::*;

    fn summary(today: NaiveDate, due: &str, paid: &str) -> ArSummary {
        let customer = IntacctRecord {
            fields: json!({"CUSTOMERID": "C-1", "NAME": "Acme", "CREDITLIMIT": "0",
                "SFDC_ACCOUNT_ID": "001000000000001AAA"})
            .as_object()
            .cloned()
            .unwrap(),
            ..Default::default()
        };
        let total: rust_decimal::Decimal = "1000".parse().unwrap();
        let left: rust_decimal::Decimal = due.parse().unwrap();
        let invoice = IntacctRecord {
            record_no: Some("7".into()),
            id: Some("INV-7".into()),
            fields: json!({"RECORDNO": "7", "RECORDID": "INV-7", "CUSTOMERID": "C-1",
                "STATE": "Posted", "WHENCREATED": "01/01/2026", "WHENDUE": "01/31/2026",
                "CURRENCY": "USD", "TRX_TOTALENTERED": "1000", "TRX_TOTALDUE": due,
                "TRX_TOTALPAID": (total - left).to_string(),
                "SFDC_OPPORTUNITY_ID": "006000000000001AAA"})
            .as_object()
            .cloned()
            .unwrap(),
        };
        let payments: Vec<IntacctRecord> = if paid == "0" {
            vec![]
        } else {
            vec![IntacctRecord {
                record_no: Some("30".into()),
                fields: json!({"RECORDNO": "30", "CUSTOMERID": "C-1", "RECEIPTDATE": "01/20/2026",
                    "TRX_TOTALENTERED": paid, "CURRENCY": "USD"})
                .as_object()
                .cloned()
                .unwrap(),
                ..Default::default()
            }]
        };
        ar_summary::summarize(&customer, &[invoice], &payments, today)
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn only_changed_fields_and_the_opportunitys_state_are_planned() {
        let specs = SpecBundle::shipped().compile().unwrap();
        let balance = specs.mapping(FLOW, BALANCE).unwrap();
        let tasks = specs.mapping(FLOW, OVERDUE_TASK).unwrap();
        let id = SalesforceId::parse("001000000000001AAA").unwrap();
        let today = day("2026-01-25");
        let s = summary(today, "400", "600");
        let account = json!({"Id": id.as_str(), "CurrencyIsoCode": "USD", "OwnerId": "005000000000001AAA",
            "Intacct_Customer_ID__c": "C-1", "Intacct_Balance__c": 400.0,
            "Intacct_Sync_Status__c": "Synced",
            "Opportunities": {"records": [{"Id": "006000000000001AAA", "Intacct_Invoice_Status__c": "Open"}]}});
        let d = plan(&s, &id, &account, balance, Some(tasks), today).unwrap();
        let names: Vec<&str> = d.account.iter().map(|(k, _)| k.as_str()).collect();
        assert!(
            !names.contains(&"Intacct_Balance__c"),
            "unchanged: {names:?}"
        );
        assert!(names.contains(&"Intacct_Invoice_Status__c"));
        assert!(names.contains(&"Intacct_Last_Payment_Amount__c"));
        assert_eq!(d.opportunities.len(), 1);
        assert_eq!(d.opportunities[0].2, "Partially Paid");
        assert!(d.tasks.is_empty(), "not overdue yet");

        // A week later the invoice is overdue: one Task keyed by the invoice.
        let later = day("2026-02-03");
        let d = plan(
            &summary(later, "400", "600"),
            &id,
            &account,
            balance,
            Some(tasks),
            later,
        )
        .unwrap();
        assert_eq!(d.tasks.len(), 1);
        assert_eq!(
            d.tasks[0].task.get("Ledgerforce_Key__c"),
            Some(&json!("invoice-overdue:INV-7"))
        );
        assert_eq!(d.opportunities[0].2, "Overdue");
    }

    #[test]
    fn an_account_in_another_currency_is_parked() {
        let specs = SpecBundle::shipped().compile().unwrap();
        let balance = specs.mapping(FLOW, BALANCE).unwrap();
        let id = SalesforceId::parse("001000000000001AAA").unwrap();
        let today = day("2026-01-25");
        let account = json!({"Id": id.as_str(), "CurrencyIsoCode": "EUR"});
        let err = plan(
            &summary(today, "1000", "0"),
            &id,
            &account,
            balance,
            None,
            today,
        )
        .unwrap_err();
        assert!(err.contains("USD") && err.contains("EUR"), "{err}");
    }
}
