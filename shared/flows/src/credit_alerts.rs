//! **credit-alerts** (DESIGN.md §1): a customer put on hold, over its credit limit, or with an
//! overdue balance above the configured threshold sets the Account's `Credit_Status__c` (On
//! Hold / Over Limit / Overdue / OK, mapping `credit_status`) and gives the Account owner one
//! high-priority Task (mapping `owner_task`) — one per **episode**, not per event.
//!
//! An episode is a stretch of time the customer is not in good standing. Its start is
//! remembered in [`SyncState`] (stream `credit-alerts/episode/<CUSTOMERID>`) before the
//! Task is upserted, and the Task key names the customer and that start, so every event of
//! the episode — and a retry after a crash between the Task and the status write — finds the
//! same Task. After the Task is saved the episode is marked so later events do not touch it
//! (an owner who completed it keeps it completed). When the condition clears the status
//! returns to OK and the episode closes; the next one gets a new start, so a new Task.
//!
//! Per batch, at most: Intacct — two requests (as invoice-status); Salesforce — one Account
//! read, one Contact read when a customer is found by email, one Task upsert, one write.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use lf_domain::port::{RecordRead, SalesforcePort, SfRecord, SyncState, Watermark, WriteResult};
use lf_domain::{Classify, Flow, SalesforceId};
use lf_mapping::{MapContext, Mapped, MappingPlan, SpecSet};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::ar_summary::{self, ArSummary, Work};
use crate::batch::{BatchContext, FlowHandler, Outcome, WorkItem};
use crate::items::IntacctRecords;
use crate::ports::Ports;
use crate::records;
use crate::setup::{self, SetupError};
use crate::writeback::WriteBack;

const FLOW: Flow = Flow::CreditAlerts;
const STATUS: &str = "credit_status";
const TASK: &str = "owner_task";
const SOURCE: &str = "CUSTOMER_CREDIT_SUMMARY";
const STATUS_FIELD: &str = "Credit_Status__c";
const GOOD_STANDING: &str = "OK";

/// How the flow is set up.
#[derive(Debug, Clone, Default)]
pub struct CreditAlertsOptions {
    /// An overdue balance above this (in the customer's currency) is an alert; zero alerts on
    /// any overdue amount.
    pub overdue_threshold: Decimal,
}

/// The credit-alerts flow handler.
#[derive(Debug)]
pub struct CreditAlerts<P> {
    ports: P,
    specs: Arc<SpecSet>,
    options: CreditAlertsOptions,
    read: RecordRead,
}

impl<P: Ports> CreditAlerts<P> {
    /// Checks that `specs` has the flow's mappings and derives the Account read from them.
    pub fn new(
        ports: P,
        specs: Arc<SpecSet>,
        options: CreditAlertsOptions,
    ) -> Result<Self, SetupError> {
        let status = setup::mapping(&specs, FLOW, STATUS, SOURCE, "Account")?;
        setup::mapping(&specs, FLOW, TASK, SOURCE, "Task")?;
        let mut paths = status.target_reads().paths();
        for f in ["OwnerId", STATUS_FIELD] {
            if !paths.iter().any(|p| p == f) {
                paths.push(f.to_owned());
            }
        }
        let read = RecordRead::from_paths("Account", &paths, &[]);
        Ok(Self {
            ports,
            specs,
            options,
            read,
        })
    }
}

impl<P: Ports> FlowHandler for CreditAlerts<P> {
    fn flow(&self) -> Flow {
        FLOW
    }

    async fn handle_batch(&self, items: &[WorkItem], context: &BatchContext) -> Vec<Outcome> {
        let records = IntacctRecords::of(items, &ar_summary::OBJECTS, FLOW);
        let outcomes = self.run(&records, context).await;
        records.outcomes(&outcomes)
    }
}

/// Where a customer's credit episode stands, as remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Episode {
    /// Begun at this time; its Task may not be saved yet.
    Open(DateTime<Utc>),
    /// Begun at this time; its Task is saved.
    Tasked(DateTime<Utc>),
    /// Closed at this time (or never begun).
    Closed,
}

// Watermark ids of the episode states: ordered so each step moves the watermark forward
// (open → tasked at the same start, then closed and open again at later times).
const OPEN: &str = "open";
const TASKED: &str = "tasked";
const CLOSED: &str = "closed";

impl Episode {
    fn of(mark: Option<&Watermark>) -> Self {
        match mark {
            Some(w) if w.last_id == OPEN => Episode::Open(w.modified_at),
            Some(w) if w.last_id == TASKED => Episode::Tasked(w.modified_at),
            _ => Episode::Closed,
        }
    }
}

fn stream(customer: &str) -> String {
    format!("credit-alerts/episode/{customer}")
}

/// What one customer's standing changes (pure result of [`plan`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Decision {
    /// Changed Account fields (without `Id`).
    pub account: Vec<(String, Value)>,
    /// The episode begins now (remember it before the Task).
    pub begin: Option<DateTime<Utc>>,
    /// The episode's Task, when it is not saved yet.
    pub task: Option<SfRecord>,
    /// The episode's start when the Task is sent (to mark it saved).
    pub episode: Option<DateTime<Utc>>,
    /// The condition cleared: close the episode once the status is written.
    pub close: bool,
}

/// Decides the Account's credit status, whether an episode begins, continues or closes, and
/// the episode's Task. `Err` is the reason to park.
#[allow(clippy::too_many_arguments)] // the plan's inputs, all plain values
pub(crate) fn plan(
    summary: &ArSummary,
    account_id: &SalesforceId,
    account: &Value,
    episode: &Episode,
    now: DateTime<Utc>,
    threshold: Decimal,
    status: &MappingPlan,
    task: &MappingPlan,
) -> Result<Decision, String> {
    let currency = summary.currency.clone()?;
    let today = now.date_naive();
    let mut source = summary.record(today);
    source["SFDC_ACCOUNT_ID"] = json!(account_id.as_str());
    source["SFDC_OWNER_ID"] = json!(records::text(account, "OwnerId"));
    source["CURRENCY"] = json!(currency);
    // Only the overdue amount above the threshold counts.
    let counted = if summary.overdue > threshold {
        summary.overdue
    } else {
        Decimal::ZERO
    };
    source["OVERDUE"] = json!(counted.round_dp(2).normalize().to_string());
    let mapped = match status.map(&source, &MapContext::default()) {
        Ok(Mapped::Record(r)) => r.fields,
        Ok(Mapped::Skipped) => Map::new(),
        Err(e) => return Err(e.to_string()),
    };
    let alerting = mapped
        .get(STATUS_FIELD)
        .and_then(Value::as_str)
        .is_some_and(|s| s != GOOD_STANDING);
    let mut decision = Decision {
        account: status
            .fields_to_write(&mapped, &source, account)
            .into_iter()
            .filter(|(k, _)| k != "Id")
            .collect(),
        ..Decision::default()
    };
    let start = match (alerting, episode) {
        (false, Episode::Closed) => return Ok(decision),
        (false, _) => {
            decision.close = true;
            return Ok(decision);
        }
        (true, Episode::Tasked(_)) => return Ok(decision),
        (true, Episode::Open(start)) => *start,
        (true, Episode::Closed) => {
            decision.begin = Some(now);
            now
        }
    };
    source["EPISODE"] = json!(start.to_rfc3339_opts(SecondsFormat::Millis, true));
    match task.map(&source, &MapContext::default()) {
        Ok(Mapped::Record(r)) => {
            decision.task = Some(r.fields);
            decision.episode = Some(start);
        }
        Ok(Mapped::Skipped) => {}
        Err(e) => return Err(format!("the credit alert Task: {e}")),
    }
    Ok(decision)
}

/// One customer of the batch on its way.
#[derive(Debug)]
struct Customer {
    account: Option<SalesforceId>,
    decision: Decision,
    outcome: Option<Outcome>,
}

impl<P: Ports> CreditAlerts<P> {
    #[allow(clippy::too_many_lines)] // capture, plan and apply of one batch, read top-down
    async fn run(&self, records: &IntacctRecords, context: &BatchContext) -> Vec<Outcome> {
        if records.refs.is_empty() {
            return Vec::new();
        }
        let n = records.refs.len();
        let plans = setup::mapping(&self.specs, FLOW, STATUS, SOURCE, "Account")
            .and_then(|s| setup::mapping(&self.specs, FLOW, TASK, SOURCE, "Task").map(|t| (s, t)));
        let (status_plan, task_plan) = match plans {
            Ok(p) => p,
            Err(e) => return vec![Outcome::parked(e.to_string()); n],
        };
        let ports = &self.ports;
        let now = ports.clock().now();
        let work = match Work::start(ports, FLOW, records, now, context.deadline).await {
            Ok(w) => w,
            Err(outcomes) => return outcomes,
        };
        let (work, accounts) = match work.accounts(ports, &self.read).await {
            Ok(found) => found,
            Err(outcomes) => return outcomes,
        };
        let summaries: Vec<&ArSummary> = work.customers.iter().map(|(s, _)| s).collect();

        // Plan each customer against its remembered episode.
        let mut customers: Vec<Customer> = Vec::with_capacity(summaries.len());
        let mut read_accounts: Vec<Value> = Vec::with_capacity(summaries.len());
        for (summary, account) in summaries.iter().zip(accounts) {
            let mut c = Customer {
                account: None,
                decision: Decision::default(),
                outcome: None,
            };
            let (account_id, account) = match account {
                Ok(a) => a,
                Err(o) => {
                    c.outcome = Some(o);
                    customers.push(c);
                    read_accounts.push(Value::Null);
                    continue;
                }
            };
            let episode = match ports.state().watermark(&stream(&summary.customer_id)).await {
                Ok(w) => Episode::of(w.as_ref()),
                Err(e) => {
                    c.outcome = Some(Outcome::failed(
                        e.class(),
                        format!("reading the credit episode: {e}"),
                    ));
                    customers.push(c);
                    read_accounts.push(Value::Null);
                    continue;
                }
            };
            match plan(
                summary,
                &account_id,
                &account,
                &episode,
                now,
                self.options.overdue_threshold,
                status_plan,
                task_plan,
            ) {
                Ok(d) => c.decision = d,
                Err(reason) => c.outcome = Some(Outcome::parked(reason)),
            }
            c.account = Some(account_id);
            customers.push(c);
            read_accounts.push(account);
        }

        // Remember each new episode before its Task exists, so a retry finds the same key.
        for (summary, c) in summaries.iter().zip(&mut customers) {
            let Some(start) = c.decision.begin.filter(|_| c.outcome.is_none()) else {
                continue;
            };
            let key = stream(&summary.customer_id);
            let mark = Watermark {
                modified_at: start,
                last_id: OPEN.into(),
            };
            match ports.state().advance_watermark(&key, &mark).await {
                Ok(true) => {}
                // Another worker began (or moved) the episode first: retry with its state.
                Ok(false) => {
                    c.outcome = Some(Outcome::retry(
                        lf_domain::ErrorClass::Transient,
                        "the credit episode moved meanwhile",
                    ));
                }
                Err(e) => {
                    c.outcome = Some(Outcome::failed(
                        e.class(),
                        format!("remembering the credit episode: {e}"),
                    ));
                }
            }
        }

        // One Task upsert for every episode that needs its Task.
        let asked: Vec<usize> = (0..customers.len())
            .filter(|i| customers[*i].outcome.is_none() && customers[*i].decision.task.is_some())
            .collect();
        if !asked.is_empty() {
            let tasks: Vec<SfRecord> = asked
                .iter()
                .filter_map(|i| customers[*i].decision.task.clone())
                .collect();
            match ports.salesforce().upsert_tasks(tasks).await {
                Ok(results) => {
                    for (i, result) in asked.iter().zip(results) {
                        let c = &mut customers[*i];
                        match result {
                            WriteResult::Saved { .. } => {
                                let Some(start) = c.decision.episode else {
                                    continue;
                                };
                                let mark = Watermark {
                                    modified_at: start,
                                    last_id: TASKED.into(),
                                };
                                let key = stream(&summaries[*i].customer_id);
                                if let Err(error) =
                                    ports.state().advance_watermark(&key, &mark).await
                                {
                                    // The next event upserts the same Task again: no harm.
                                    tracing::warn!(%error, "credit episode not marked tasked");
                                }
                            }
                            WriteResult::Failed(f) => {
                                c.outcome = Some(Outcome::failed(
                                    f.class,
                                    format!("the credit alert Task: {}: {}", f.code, f.message),
                                ));
                            }
                        }
                    }
                }
                Err(e) => {
                    let reason = format!("upserting credit alert Tasks: {e}");
                    for i in &asked {
                        customers[*i].outcome = Some(Outcome::failed(e.class(), reason.clone()));
                    }
                }
            }
        }

        // The status, changed fields only, one call.
        let mut wb = WriteBack::default();
        for (i, c) in customers.iter().enumerate() {
            if let (None, Some(id)) = (&c.outcome, &c.account) {
                let fields: Vec<(&str, Value)> = c
                    .decision
                    .account
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                wb.set("Account", id, &read_accounts[i], i, fields);
            }
        }
        for (i, (class, reason)) in wb.apply(ports.salesforce()).await {
            customers[i]
                .outcome
                .get_or_insert(Outcome::failed(class, reason));
        }

        let mut per_customer = Vec::with_capacity(customers.len());
        for ((summary, correlation), c) in work.customers.iter().zip(&customers) {
            if c.outcome.is_none() && c.decision.close {
                let mark = Watermark {
                    modified_at: now,
                    last_id: CLOSED.into(),
                };
                if let Err(error) = ports
                    .state()
                    .advance_watermark(&stream(&summary.customer_id), &mark)
                    .await
                {
                    tracing::warn!(%error, "credit episode not closed");
                }
            }
            let status = c
                .decision
                .account
                .iter()
                .find(|(k, _)| k == STATUS_FIELD)
                .and_then(|(_, v)| v.as_str());
            let outcome = c.outcome.clone().unwrap_or_else(|| {
                let mut detail = match status {
                    Some(s) => format!("customer {}: credit status {s}", summary.customer_id),
                    None => format!("customer {}: credit status unchanged", summary.customer_id),
                };
                if c.decision.task.is_some() {
                    detail.push_str("; owner Task upserted");
                }
                Outcome::done(detail)
            });
            ar_summary::audit(
                ports.audit(),
                FLOW,
                now,
                c.account.as_ref(),
                &summary.customer_id,
                correlation,
                !c.decision.account.is_empty(),
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
    use chrono::TimeZone;
    use lf_domain::port::IntacctRecord;
    use lf_mapping::SpecBundle;

    use super::*;

    fn summary(on_hold: bool, overdue_due: &str) -> ArSummary {
        let customer = IntacctRecord {
            fields: json!({"CUSTOMERID": "C-1", "NAME": "Acme", "CREDITLIMIT": "5000",
                "ONHOLD": if on_hold { "true" } else { "false" }, "CURRENCY": "USD"})
            .as_object()
            .cloned()
            .unwrap(),
            ..Default::default()
        };
        let invoice = IntacctRecord {
            record_no: Some("7".into()),
            id: Some("INV-7".into()),
            fields: json!({"RECORDNO": "7", "RECORDID": "INV-7", "CUSTOMERID": "C-1",
                "STATE": "Posted", "WHENCREATED": "01/01/2026", "WHENDUE": "01/31/2026",
                "CURRENCY": "USD", "TRX_TOTALENTERED": "1000", "TRX_TOTALDUE": overdue_due})
            .as_object()
            .cloned()
            .unwrap(),
        };
        ar_summary::summarize(&customer, &[invoice], &[], now().date_naive())
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
    }

    fn run(s: &ArSummary, account: &Value, episode: &Episode, threshold: i64) -> Decision {
        let specs = SpecBundle::shipped().compile().unwrap();
        let id = SalesforceId::parse("001000000000001AAA").unwrap();
        plan(
            s,
            &id,
            account,
            episode,
            now(),
            Decimal::from(threshold),
            specs.mapping(FLOW, STATUS).unwrap(),
            specs.mapping(FLOW, TASK).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn an_episode_begins_once_keeps_its_key_and_closes() {
        let ok = json!({"Id": "001000000000001AAA", "Credit_Status__c": "OK", "Intacct_Credit_Limit__c": 5000.0, "OwnerId": "005000000000001AAA"});
        let held = summary(true, "0");
        let first = run(&held, &ok, &Episode::Closed, 0);
        assert_eq!(first.begin, Some(now()));
        let task = first.task.clone().unwrap();
        let key = task.get("Ledgerforce_Key__c").unwrap().as_str().unwrap();
        assert_eq!(key, "credit-alert:C-1:2026-03-01T09:00:00.000Z");
        assert_eq!(task.get("Priority"), Some(&json!("High")));
        assert_eq!(
            first.account,
            vec![(STATUS_FIELD.to_owned(), json!("On Hold"))]
        );

        // A retry before the Task was marked saved: same key, no new episode.
        let retry = run(&held, &ok, &Episode::Open(now()), 0);
        assert_eq!(retry.begin, None);
        assert_eq!(
            retry.task.unwrap().get("Ledgerforce_Key__c").unwrap(),
            &json!(key)
        );

        // Saved: later events of the episode ask for nothing.
        let on_hold = json!({"Id": "001000000000001AAA", "Credit_Status__c": "On Hold", "Intacct_Credit_Limit__c": 5000.0});
        let later = run(&held, &on_hold, &Episode::Tasked(now()), 0);
        assert_eq!(later, Decision::default());

        // Cleared: back to OK and the episode closes.
        let cleared = run(&summary(false, "0"), &on_hold, &Episode::Tasked(now()), 0);
        assert!(cleared.close);
        assert!(cleared.task.is_none());
        assert_eq!(
            cleared.account,
            vec![(STATUS_FIELD.to_owned(), json!("OK"))]
        );
    }

    #[test]
    fn an_overdue_balance_alerts_only_above_the_threshold() {
        let ok = json!({"Id": "001000000000001AAA", "Credit_Status__c": "OK", "Intacct_Credit_Limit__c": 5000.0});
        let small = run(&summary(false, "100"), &ok, &Episode::Closed, 500);
        assert_eq!(small, Decision::default(), "100 overdue is under 500");
        let big = run(&summary(false, "900"), &ok, &Episode::Closed, 500);
        assert_eq!(
            big.account,
            vec![(STATUS_FIELD.to_owned(), json!("Overdue"))]
        );
        let description = big.task.unwrap();
        let text = description.get("Description").unwrap().as_str().unwrap();
        assert!(
            text.contains("INV-7"),
            "names the oldest overdue invoice: {text}"
        );
    }
}
