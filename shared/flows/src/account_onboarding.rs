//! **account-onboarding** (DESIGN.md §1): an Account that qualifies (the mapping's `when`,
//! by default a `Type` starting with `Customer`) gets its Intacct CUSTOMER, found or made
//! ([`crate::customer`]), in the entity its billing country or business unit routes to, and
//! the customer id and entity written back. Never a second customer for an Account that has
//! one, in any entity: the stored link, the Account's id on Intacct customers and the
//! matching rules are all tried first.
//!
//! Per batch, at most: Salesforce — one read, one write-back; Intacct — one read request and
//! one create request. An Account already onboarded costs one Salesforce read.

use std::sync::Arc;

use lf_domain::port::{AuditAction, AuditEntry, AuditLog, RecordRead, SalesforcePort};
use lf_domain::{Classify, CorrelationId, Flow, RecordRef, SalesforceId, System};
use lf_mapping::{Entity, MapContext, Mapped, SpecSet};
use serde_json::{Value, json};

use crate::batch::{BatchContext, FlowHandler, Outcome, WorkItem};
use crate::customer::{self, AccountNeed, CustomerPreview, Unresolved};
use crate::items::{self, SalesforceRecords};
use crate::ports::Ports;
use crate::setup::{self, SetupError};
use crate::writeback::WriteBack;

const FLOW: Flow = Flow::AccountOnboarding;
const CUSTOMER: &str = "customer";

/// Fields the flow reads of each Account beyond the mapping's.
const ACCOUNT_FIELDS: [&str; 5] = [
    "SystemModstamp",
    "Intacct_Customer_ID__c",
    "Intacct_Entity__c",
    "Intacct_Sync_Status__c",
    "Intacct_Sync_Error__c",
];

/// How a done outcome says the flow made the Account's customer: `created customer <id>`.
const CREATED: &str = "created customer ";
/// How a done outcome says the flow linked an existing one: `customer <id> already exists; linked`.
const LINKED: &str = " already exists; linked";

/// What a done outcome of this flow says it did with the Account's customer in this handling:
/// `Some(true)` created it, `Some(false)` linked an existing one; `None` for anything else
/// (nothing to do, not done, or the stored result of a change done before).
pub fn customer_made(outcome: &Outcome) -> Option<bool> {
    match outcome {
        _ if crate::idempotency::replayed(outcome) => None,
        Outcome::Done { detail } if detail.starts_with(CREATED) => Some(true),
        Outcome::Done { detail } if detail.ends_with(LINKED) => Some(false),
        _ => None,
    }
}

/// How the flow is set up. Everything it decides is in its mapping today (the qualifying
/// `when`, routing, matching); the type keeps the handlers' constructors alike.
#[derive(Debug, Clone, Default)]
pub struct AccountOnboardingOptions {}

/// The account-onboarding flow handler.
#[derive(Debug)]
pub struct AccountOnboarding<P> {
    ports: P,
    specs: Arc<SpecSet>,
    read: RecordRead,
}

impl<P: Ports> AccountOnboarding<P> {
    /// Checks that `specs` has the flow's mapping and derives the read from it.
    pub fn new(
        ports: P,
        specs: Arc<SpecSet>,
        _options: AccountOnboardingOptions,
    ) -> Result<Self, SetupError> {
        let plan = setup::mapping(&specs, FLOW, CUSTOMER, "Account", "CUSTOMER")?;
        let mut paths = plan.reads().paths();
        for f in ACCOUNT_FIELDS {
            if !paths.iter().any(|p| p == f) {
                paths.push(f.to_owned());
            }
        }
        let read = RecordRead::from_paths("Account", &paths, &[]);
        Ok(Self { ports, specs, read })
    }
}

impl<P: Ports> AccountOnboarding<P> {
    /// What a batch of these Accounts would do, decided as [`FlowHandler::handle_batch`]
    /// decides (qualifying, routing, stored links, matching) with the same batched reads and
    /// no write: for `backfill --dry-run`. One outcome per id, in order; `Err` is a read
    /// failing as a whole.
    pub async fn preview(&self, ids: &[SalesforceId]) -> Result<Vec<CustomerPreview>, String> {
        let plan = setup::mapping(&self.specs, FLOW, CUSTOMER, "Account", "CUSTOMER")
            .map_err(|e| e.to_string())?;
        let read = self
            .ports
            .salesforce()
            .read_by_ids(&self.read, ids)
            .await
            .map_err(|e| format!("reading the Accounts: {e}"))?;
        let records: Vec<Option<Value>> = ids
            .iter()
            .map(|id| read.get(id).map(|r| Value::Object(r.clone())))
            .collect();
        let mut out: Vec<Option<CustomerPreview>> = vec![None; ids.len()];
        let mut entities: Vec<Option<Arc<Entity>>> = vec![None; ids.len()];
        for (i, record) in records.iter().enumerate() {
            let leave = |reason: &str| {
                Some(CustomerPreview::Leave {
                    reason: reason.to_owned(),
                })
            };
            let Some(record) = record else {
                out[i] = leave("the Account is deleted or not visible");
                continue;
            };
            match plan.map(record, &MapContext::default()) {
                Ok(Mapped::Skipped) => {
                    out[i] = leave("the Account does not qualify for onboarding")
                }
                Ok(Mapped::Record(_)) | Err(_) => match plan.route(record) {
                    Ok(routed) => entities[i] = routed.map(|(e, _)| e),
                    Err(e) => out[i] = leave(&e.to_string()),
                },
            }
        }
        let open: Vec<usize> = (0..ids.len()).filter(|i| out[*i].is_none()).collect();
        let needs: Vec<AccountNeed<'_>> = open
            .iter()
            .filter_map(|i| {
                Some(AccountNeed {
                    id: ids[*i].clone(),
                    record: records[*i].as_ref()?,
                    entity: entities[*i].as_deref(),
                })
            })
            .collect();
        let decided =
            customer::preview_batch(self.ports.intacct(), self.ports.xref(), plan, &needs)
                .await
                .map_err(|(_, reason)| reason)?;
        for (i, d) in open.iter().zip(decided) {
            out[*i] = Some(d);
        }
        Ok(out
            .into_iter()
            .map(|p| {
                p.unwrap_or_else(|| CustomerPreview::Leave {
                    reason: "not decided".to_owned(),
                })
            })
            .collect())
    }
}

impl<P: Ports> FlowHandler for AccountOnboarding<P> {
    fn flow(&self) -> Flow {
        FLOW
    }

    async fn handle_batch(&self, items: &[WorkItem], context: &BatchContext) -> Vec<Outcome> {
        let records = SalesforceRecords::of(items, "Account", FLOW);
        let outcomes = self.run(&records, context).await;
        records.outcomes(&outcomes)
    }
}

/// One Account of the batch on its way.
#[derive(Debug)]
struct Onboarding {
    id: SalesforceId,
    record: Value,
    correlation: CorrelationId,
    hold: Option<items::Hold>,
    entity: Option<Arc<Entity>>,
    customer: Option<(String, bool)>,
    outcome: Option<Outcome>,
}

impl<P: Ports> AccountOnboarding<P> {
    async fn run(&self, records: &SalesforceRecords, context: &BatchContext) -> Vec<Outcome> {
        if records.ids.is_empty() {
            return Vec::new();
        }
        let plan = match setup::mapping(&self.specs, FLOW, CUSTOMER, "Account", "CUSTOMER") {
            Ok(plan) => plan,
            Err(e) => return vec![Outcome::parked(e.to_string()); records.ids.len()],
        };
        let ports = &self.ports;
        let read = match ports
            .salesforce()
            .read_by_ids(&self.read, &records.ids)
            .await
        {
            Ok(read) => read,
            Err(e) => {
                let reason = format!("reading the Accounts: {e}");
                return vec![Outcome::failed(e.class(), reason); records.ids.len()];
            }
        };
        let mut accounts: Vec<Onboarding> = records
            .ids
            .iter()
            .zip(&records.correlations)
            .map(|(id, correlation)| {
                let record = read.get(id).map(|r| Value::Object(r.clone()));
                Onboarding {
                    id: id.clone(),
                    correlation: correlation.clone(),
                    outcome: record.is_none().then(|| {
                        Outcome::done("the Account is deleted or not visible; nothing to do")
                    }),
                    record: record.unwrap_or(Value::Null),
                    hold: None,
                    entity: None,
                    customer: None,
                }
            })
            .collect();

        // Qualify and route (pure), before taking any hold: a prospect costs nothing more.
        for a in accounts.iter_mut().filter(|a| a.outcome.is_none()) {
            match plan.map(&a.record, &MapContext::default()) {
                Ok(Mapped::Skipped) => {
                    a.outcome = Some(Outcome::done(
                        "the Account does not qualify for onboarding; nothing to do",
                    ));
                }
                Ok(Mapped::Record(_)) | Err(_) => match plan.route(&a.record) {
                    Ok(routed) => a.entity = routed.map(|(e, _)| e),
                    Err(e) => a.outcome = Some(Outcome::parked(e.to_string())),
                },
            }
        }

        let open: Vec<usize> = (0..accounts.len())
            .filter(|i| accounts[*i].outcome.is_none())
            .collect();
        let stamps: Vec<_> = open
            .iter()
            .map(|i| items::stamped("Account", &accounts[*i].id, &accounts[*i].record))
            .collect();
        let gates = items::gate(ports.idempotency(), FLOW, &stamps, context.deadline).await;
        for (i, gate) in open.iter().zip(gates) {
            match gate {
                Ok(hold) => accounts[*i].hold = hold,
                Err(outcome) => accounts[*i].outcome = Some(outcome),
            }
        }

        let open: Vec<usize> = (0..accounts.len())
            .filter(|i| accounts[*i].outcome.is_none())
            .collect();
        let needs: Vec<AccountNeed<'_>> = open
            .iter()
            .map(|i| AccountNeed {
                id: accounts[*i].id.clone(),
                record: &accounts[*i].record,
                entity: accounts[*i].entity.as_deref(),
            })
            .collect();
        let resolved = customer::resolve_batch(
            ports.intacct(),
            ports.xref(),
            ports.clock(),
            plan,
            &needs,
            Vec::new(),
        )
        .await;
        drop(needs);
        match resolved {
            Ok(batch) => {
                for (i, r) in open.iter().zip(batch.customers) {
                    let a = &mut accounts[*i];
                    match r {
                        Ok(r) => a.customer = Some((r.customer_id, r.created)),
                        Err(Unresolved::Park(reason)) => a.outcome = Some(Outcome::parked(reason)),
                        Err(Unresolved::Retry(class, reason)) => {
                            a.outcome = Some(Outcome::retry(class, reason));
                        }
                    }
                }
            }
            Err((class, reason)) => {
                for i in &open {
                    accounts[*i].outcome = Some(Outcome::failed(class, reason.clone()));
                }
            }
        }

        // Write back only what changed, one call.
        let mut wb = WriteBack::default();
        for (i, a) in accounts.iter().enumerate() {
            match (&a.outcome, &a.customer) {
                (None, Some((customer, _))) => {
                    let mut fields = vec![("Intacct_Customer_ID__c", json!(customer))];
                    if let Some(e) = &a.entity {
                        fields.push(("Intacct_Entity__c", json!(e.id.as_str())));
                    }
                    wb.synced("Account", &a.id, &a.record, i, fields);
                }
                (Some(Outcome::Parked { reason }), _) if a.hold.is_some() => {
                    wb.failed("Account", &a.id, &a.record, i, reason);
                }
                _ => {}
            }
        }
        for (i, (class, reason)) in wb.apply(ports.salesforce()).await {
            let a = &mut accounts[i];
            if a.outcome.is_none() {
                a.outcome = Some(Outcome::failed(class, reason));
            }
        }

        let now = ports.clock().now();
        let mut outcomes = Vec::with_capacity(accounts.len());
        for a in &mut accounts {
            let outcome = a.outcome.clone().unwrap_or_else(|| match &a.customer {
                Some((c, true)) => Outcome::done(format!("{CREATED}{c}")),
                Some((c, false)) => Outcome::done(format!("customer {c}{LINKED}")),
                None => Outcome::done("nothing to do"),
            });
            let action = match (&outcome, &a.customer) {
                (Outcome::Done { .. }, Some((_, true))) => Some(AuditAction::Created),
                (Outcome::Parked { .. }, _) => Some(AuditAction::Parked),
                _ => None,
            };
            if let Some(action) = action {
                let entry = AuditEntry {
                    record: RecordRef::salesforce("Account", &a.id),
                    at: now,
                    flow: FLOW,
                    action,
                    correlation_id: a.correlation.clone(),
                    counterpart: a.customer.as_ref().map(|(c, _)| RecordRef {
                        system: System::Intacct,
                        object: "CUSTOMER".to_owned(),
                        id: c.clone(),
                    }),
                    detail: match &outcome {
                        Outcome::Parked { reason } => reason.clone(),
                        _ => format!(
                            "customer for entity {}",
                            a.entity.as_ref().map_or("(top level)", |e| e.id.as_str())
                        ),
                    },
                };
                if let Err(error) = ports.audit().append(&entry).await {
                    tracing::warn!(%error, "audit entry not written");
                }
            }
            if let Some(hold) = a.hold.take() {
                items::finish(ports.idempotency(), hold, &outcome).await;
            }
            tracing::info!(flow = %FLOW, salesforce_id = %a.id, outcome = ?outcome, "account");
            outcomes.push(outcome);
        }
        outcomes
    }
}

#[cfg(test)]
mod tests {
    use lf_domain::ErrorClass;

    use super::*;

    #[test]
    fn the_outcomes_say_what_was_done_with_the_customer() {
        let created = Outcome::done(format!("{CREATED}C-1001"));
        let linked = Outcome::done(format!("customer C-1002{LINKED}"));
        assert_eq!(customer_made(&created), Some(true));
        assert_eq!(customer_made(&linked), Some(false));
        assert_eq!(customer_made(&Outcome::done("nothing to do")), None);
        assert_eq!(customer_made(&Outcome::parked("no routing rule")), None);
        assert_eq!(
            customer_made(&Outcome::retry(ErrorClass::Transient, "503")),
            None
        );
        // A later delivery answered from the stored result did nothing now.
        for earlier in [created, linked] {
            let Outcome::Done { detail } = earlier else {
                unreachable!()
            };
            let replayed = crate::idempotency::Gate::AlreadyDone(Value::String(detail))
                .outcome()
                .unwrap();
            assert_eq!(customer_made(&replayed), None, "{replayed:?}");
        }
    }
}
