//! **account-sync** (DESIGN.md §1, §4): Account ⇄ CUSTOMER and Contact ⇄ CONTACT, both ways,
//! with field ownership, last-modified conflicts and loop prevention.
//!
//! An item names a changed record on either side (a Salesforce Account or Contact, an Intacct
//! CUSTOMER or CONTACT; one batch may mix them). It is a hint: the record is re-read.
//!
//! - **Echo.** The record's values, mapped towards the other side, are hashed and compared
//!   with the fingerprint the last sync of that record left (what it wrote to it, or what it
//!   saw on it). Equal: our own write coming back, or a change already synced — dropped with
//!   an `echo` outcome and counted (`skipped_echo` in the trace), without reading the other
//!   side. A sync writes nothing back to the record it came from, so the echo of a write is
//!   the last thing that happens.
//! - **Counterpart.** The stored link, then the link field (`Intacct_Customer_ID__c` /
//!   `Intacct_Contact_Name__c` on the Salesforce record, `SFDC_ACCOUNT_ID` / `SFDC_CONTACT_ID`
//!   on the Intacct one, either way round), then for an Account the customer matching rules
//!   ([`crate::customer`]), for a Contact the contact rules (normalized email); an ambiguous or
//!   fuzzy match, or a match already linked to another record, is parked for review with its
//!   candidates, never linked. With no counterpart: an Account is left alone
//!   (account-onboarding creates the customers of qualifying Accounts; account-sync only
//!   links), a CUSTOMER gets its Account by an upsert on `Intacct_Customer_ID__c` (a retry
//!   finds the one it made) and the new id is written to `SFDC_ACCOUNT_ID`; a Contact or a
//!   CONTACT is left alone (Intacct CONTACTs are also customers' address records, not people
//!   to copy into the CRM; a Contact gets its CONTACT linked by hand, by a link field or by
//!   email) — unless [`AccountSyncOptions::create_contacts`] is on (the initial load), when a
//!   Contact of a linked Account gets a CONTACT made. A first link is written to both
//!   records' link fields.
//! - **Plan** ([`plan_pair`], pure). If only the changed side differs from the last sync, it
//!   wins: its mapping's fields go to the other side, except fields the other side owns. If
//!   both changed (or the other side was never synced and was modified later), that is a
//!   conflict: each field's system of record keeps it, and the side modified last wins the
//!   rest (a tie goes to Salesforce, so every run and every delivery order settles alike).
//!   Only fields whose value differs from the target's are written.
//! - **Apply.** Intacct updates in one request per owning entity, Salesforce updates in one
//!   call; then the fingerprints of both records (as they are after the writes), new links,
//!   and one audit entry per written record naming every field, old → new, and why.
//!
//! Per batch, at most: Salesforce — one read per object of the changed records, one read of
//! their counterparts, one by link field, one update call, one upsert call; Intacct — one
//! request reading the changed records, one reading counterparts, one per pairing with match
//! candidates, one create request for new CONTACTs (with `create_contacts`), one update
//! request per owning entity (an entity's records are written in its session). An echo costs
//! one read of its own side.
//!
//! There is no idempotency gate: both systems stamp modifications in whole seconds, so two
//! edits within a second would share a key and the second would be lost. Replays are safe
//! without one: a replayed change finds the fingerprint its first run left and is an echo.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::join_all;
use lf_domain::port::{
    AuditAction, AuditEntry, AuditLog, IdempotentWrite, IntacctObject, IntacctPort, LinkKind,
    QueryFilter, RecordQuery, RecordRead, RecordUpdate, SalesforcePort, SfRecord, SyncState,
    WriteResult, XrefLink, XrefStore,
};
use lf_domain::{
    Classify, CorrelationId, EntityId, ErrorClass, Fingerprint, Flow, IdempotencyKey, IntacctKey,
    IntacctRef, PortError, RecordRef, SalesforceId, System,
};
use lf_mapping::{MapContext, Mapped, MappingPlan, MatchDecision, Owner, SpecSet, Winner};
use serde_json::{Map, Value};

use crate::batch::{BatchContext, FlowHandler, Outcome, WorkItem};
use crate::customer;
use crate::drift::{DriftField, DriftOptions, DriftReport, DriftedPair, Repair};
use crate::ports::Ports;
use crate::records::{intacct_tree, merge, text};
use crate::setup::{self, SetupError};

const FLOW: Flow = Flow::AccountSync;

/// One kind of record pair the flow keeps in sync.
#[derive(Debug)]
struct Pairing {
    salesforce: &'static str,
    intacct: IntacctObject,
    /// The mapping Salesforce → Intacct, and back.
    to_intacct: &'static str,
    to_salesforce: &'static str,
    /// The Salesforce field holding the Intacct key.
    salesforce_link: &'static str,
    link: LinkKind,
    /// Whether a record of the Intacct side with no counterpart gets one created in
    /// Salesforce.
    creates_salesforce: bool,
}

const PAIRINGS: [Pairing; 2] = [
    Pairing {
        salesforce: "Account",
        intacct: IntacctObject::Customer,
        to_intacct: "account_to_customer",
        to_salesforce: "customer_to_account",
        salesforce_link: "Intacct_Customer_ID__c",
        link: LinkKind::AccountCustomer,
        creates_salesforce: true,
    },
    Pairing {
        salesforce: "Contact",
        intacct: IntacctObject::Contact,
        to_intacct: "contact_to_intacct",
        to_salesforce: "contact_to_salesforce",
        salesforce_link: "Intacct_Contact_Name__c",
        link: LinkKind::ContactContact,
        creates_salesforce: false,
    },
];

/// Fields read of every Intacct record beyond the mappings'.
const INTACCT_FIELDS: [&str; 2] = ["RECORDNO", "MEGAENTITYID"];
/// Fields read of every Salesforce record beyond the mappings'.
const SALESFORCE_FIELDS: [&str; 2] = ["SystemModstamp", "LastModifiedDate"];

/// How the flow is set up.
#[derive(Debug, Clone)]
pub struct AccountSyncOptions {
    /// A CUSTOMER no Account is linked to gets one (upserted on `Intacct_Customer_ID__c`).
    /// Off: it is left alone until someone links it.
    pub create_accounts: bool,
    /// A Contact whose Account is linked to a customer, and that no CONTACT is linked to or
    /// matches, gets a CONTACT made from `contact_to_intacct` (keyed by the Contact's id, so
    /// a retry finds the one it made) and its name written back. Off, as the flow runs on
    /// changes: a Contact is then only linked (Intacct CONTACTs are also customers' address
    /// records, not every person belongs there); the initial load (`backfill contacts`)
    /// turns it on.
    pub create_contacts: bool,
}

impl Default for AccountSyncOptions {
    fn default() -> Self {
        Self {
            create_accounts: true,
            create_contacts: false,
        }
    }
}

/// The field of a Contact that says its Account is linked to a customer: a CONTACT is made
/// only for the Contacts of linked Accounts.
const CONTACT_ACCOUNT_LINK: &str = "Account.Intacct_Customer_ID__c";

/// The namespace of the idempotency keys of CONTACT creates (their Intacct `controlid`s).
const CONTACT_KEY_NAMESPACE: &str = "contact-for-contact";

/// How a done outcome names a link the batch made: `new link (<how>): …`, where `<how>` is
/// `created` for a counterpart the flow made. Read back by [`new_link`].
const NEW_LINK: &str = "new link (";

/// The link a done outcome of this flow says it made — `created` when the flow made the
/// counterpart, else how it was found (`by SFDC_ACCOUNT_ID`, `matched by email`) — or `None`
/// when the record was linked already (or not linked).
pub fn new_link(outcome: &Outcome) -> Option<&str> {
    match outcome {
        Outcome::Done { detail } => detail
            .strip_prefix(NEW_LINK)
            .and_then(|rest| rest.split_once("): ").map(|(how, _)| how)),
        _ => None,
    }
}

/// How a done outcome goes on when the flow wrote fields: `…; updated <record>: <fields>`.
const UPDATED: &str = "; updated ";

/// Whether a done outcome of this flow wrote fields to either record of the pair.
pub fn wrote_fields(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Done { detail } if detail.contains(UPDATED))
}

/// What [`AccountSync::preview`] found the flow would do with one changed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncPreview {
    /// Linked already (stored link) to `counterpart`.
    Linked { counterpart: String },
    /// Would be linked to the existing `counterpart`, found `how`.
    Link { counterpart: String, how: String },
    /// Would get its counterpart created.
    Create,
    /// Nothing to do (deleted, nothing to pair with and nothing to create).
    Skip { reason: String },
    /// Would be parked (or could not be decided now), with the reason.
    Leave { reason: String },
}

/// The account-sync flow handler.
#[derive(Debug)]
pub struct AccountSync<P> {
    ports: P,
    specs: Arc<SpecSet>,
    options: AccountSyncOptions,
    /// Per pairing: what is read of the Salesforce and of the Intacct record.
    reads: Vec<(RecordRead, Vec<String>)>,
}

impl<P: Ports> AccountSync<P> {
    /// Checks that `specs` has the flow's four mappings and derives the reads from them.
    pub fn new(
        ports: P,
        specs: Arc<SpecSet>,
        options: AccountSyncOptions,
    ) -> Result<Self, SetupError> {
        let mut reads = Vec::new();
        for p in &PAIRINGS {
            let (to_i, to_s) = plans(&specs, p)?;
            let mut sf = to_i.reads().paths();
            sf.extend(to_s.target_reads().paths());
            sf.extend(SALESFORCE_FIELDS.iter().map(|f| (*f).to_owned()));
            sf.push(p.salesforce_link.to_owned());
            if p.link == LinkKind::ContactContact {
                sf.push(CONTACT_ACCOUNT_LINK.to_owned());
            }
            let mut ia: Vec<String> = INTACCT_FIELDS.iter().map(|f| (*f).to_owned()).collect();
            ia.push(p.intacct.id_field().to_owned());
            ia.push(p.intacct.link_field().to_owned());
            ia.extend(to_s.reads().paths());
            ia.extend(to_i.target_reads().paths());
            let mut unique = Vec::new();
            for f in ia {
                if !unique.contains(&f) {
                    unique.push(f);
                }
            }
            reads.push((RecordRead::from_paths(p.salesforce, &sf, &[]), unique));
        }
        Ok(Self {
            ports,
            specs,
            options,
            reads,
        })
    }
}

fn plans<'a>(
    specs: &'a SpecSet,
    p: &Pairing,
) -> Result<(&'a MappingPlan, &'a MappingPlan), SetupError> {
    let name = p.intacct.name();
    Ok((
        setup::mapping(specs, FLOW, p.to_intacct, p.salesforce, name)?,
        setup::mapping(specs, FLOW, p.to_salesforce, name, p.salesforce)?,
    ))
}

impl<P: Ports> FlowHandler for AccountSync<P> {
    fn flow(&self) -> Flow {
        FLOW
    }

    async fn handle_batch(&self, items: &[WorkItem], _context: &BatchContext) -> Vec<Outcome> {
        let (mut records, per_item) = group(items);
        self.run(&mut records).await;
        per_item
            .into_iter()
            .map(|r| match r {
                Ok(i) => records[i].outcome.clone().unwrap_or_else(|| {
                    Outcome::retry(ErrorClass::Transient, "no outcome was decided")
                }),
                Err(outcome) => outcome,
            })
            .collect()
    }
}

/// The side a record lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Salesforce,
    Intacct,
}

impl Side {
    fn system(self) -> System {
        match self {
            Side::Salesforce => System::Salesforce,
            Side::Intacct => System::Intacct,
        }
    }
}

/// One changed record of the batch on its way.
#[derive(Debug)]
struct Change {
    pairing: usize,
    side: Side,
    /// The Salesforce id or the Intacct key.
    id: String,
    correlation: CorrelationId,
    /// The changed record as re-read (an Intacct record as its tree).
    record: Option<Value>,
    /// The counterpart: its id or key, and the record.
    counterpart: Option<String>,
    other: Option<Value>,
    /// Whether the link is new (found by a link field or matching, or just created).
    new_link: Option<String>,
    outcome: Option<Outcome>,
}

impl Change {
    fn reference(&self) -> RecordRef {
        reference(&PAIRINGS[self.pairing], self.side, &self.id)
    }

    fn open(&self) -> bool {
        self.outcome.is_none()
    }
}

fn reference(p: &Pairing, side: Side, id: &str) -> RecordRef {
    RecordRef {
        system: side.system(),
        object: match side {
            Side::Salesforce => p.salesforce.to_owned(),
            Side::Intacct => p.intacct.name().to_owned(),
        },
        id: id.to_owned(),
    }
}

/// The distinct records a batch names, and per item its record or why it cannot be handled.
fn group(items: &[WorkItem]) -> (Vec<Change>, Vec<Result<usize, Outcome>>) {
    let mut records: Vec<Change> = Vec::new();
    let per_item = items
        .iter()
        .map(|item| {
            let r = &item.envelope.record;
            let found = PAIRINGS.iter().enumerate().find_map(|(i, p)| {
                match r.system {
                    System::Salesforce if r.object.eq_ignore_ascii_case(p.salesforce) => {
                        Some((i, Side::Salesforce))
                    }
                    System::Intacct if r.object.eq_ignore_ascii_case(p.intacct.name()) => {
                        Some((i, Side::Intacct))
                    }
                    _ => None,
                }
            });
            let Some((pairing, side)) = found else {
                return Err(Outcome::parked(format!(
                    "the {FLOW} flow handles Account, Contact, CUSTOMER and CONTACT changes, not {r}"
                )));
            };
            let id = match side {
                Side::Salesforce => SalesforceId::parse(&r.id)
                    .map(|id| id.as_str().to_owned())
                    .map_err(|e| Outcome::parked(format!("{r}: not a Salesforce id: {e}")))?,
                Side::Intacct => IntacctKey::parse(&r.id)
                    .map(|k| k.as_str().to_owned())
                    .map_err(|e| Outcome::parked(format!("{r}: not an Intacct key: {e}")))?,
            };
            Ok(
                match records
                    .iter()
                    .position(|c| c.pairing == pairing && c.side == side && c.id == id)
                {
                    Some(at) => at,
                    None => {
                        records.push(Change {
                            pairing,
                            side,
                            id,
                            correlation: item.envelope.correlation_id.clone(),
                            record: None,
                            counterpart: None,
                            other: None,
                            new_link: None,
                            outcome: None,
                        });
                        records.len() - 1
                    }
                },
            )
        })
        .collect();
    (records, per_item)
}

/// What [`plan_pair`] decided for one linked pair.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PairPlan {
    /// Fields to write to the Intacct record (a tree) and to the Salesforce record.
    pub to_intacct: Map<String, Value>,
    pub to_salesforce: Map<String, Value>,
    /// The side whose values won the fields both may write.
    pub winner: Side,
    /// Both sides changed since the last sync.
    pub conflict: bool,
    /// The fingerprints of both records as they are after the writes.
    pub salesforce_fingerprint: Fingerprint,
    pub intacct_fingerprint: Fingerprint,
}

/// The fields a mapping makes of `record`.
fn mapped(plan: &MappingPlan, record: &Value) -> Result<Map<String, Value>, String> {
    match plan.map(record, &MapContext::default()) {
        Ok(Mapped::Record(r)) => Ok(r.fields),
        Ok(Mapped::Skipped) => Err(format!("the mapping `{}` skips this record", plan.name())),
        Err(e) => Err(e.to_string()),
    }
}

/// The fingerprint of `record` as the sync sees it: its values mapped towards the other side.
pub(crate) fn fingerprint(plan: &MappingPlan, record: &Value) -> Result<Fingerprint, String> {
    mapped(plan, record).map(|m| Fingerprint::of_fields(&m))
}

/// Whether the change is our own echo (or a change already synced): its fingerprint is the
/// one the last sync of the record left. Pure.
pub(crate) fn is_echo(
    plan: &MappingPlan,
    record: &Value,
    stored: Option<&Fingerprint>,
) -> Result<bool, String> {
    match stored {
        Some(s) => Ok(*s == fingerprint(plan, record)?),
        None => Ok(false),
    }
}

/// Plans one linked pair after a change on `source`. `to_intacct` and `to_salesforce` are the
/// pairing's two mappings; `stored_*` the fingerprints the last sync left on each record. Pure.
pub(crate) fn plan_pair(
    to_intacct: &MappingPlan,
    to_salesforce: &MappingPlan,
    source: Side,
    salesforce: &Value,
    intacct: &Value,
    stored_salesforce: Option<&Fingerprint>,
    stored_intacct: Option<&Fingerprint>,
) -> Result<PairPlan, String> {
    let sf_mapped = mapped(to_intacct, salesforce)?;
    let ia_mapped = mapped(to_salesforce, intacct)?;
    let sf_stamp = to_intacct.source_modified(salesforce);
    let ia_stamp = to_salesforce.source_modified(intacct);
    let (other_stored, other_now, other_stamp, source_stamp) = match source {
        Side::Salesforce => (
            stored_intacct,
            Fingerprint::of_fields(&ia_mapped),
            ia_stamp,
            sf_stamp,
        ),
        Side::Intacct => (
            stored_salesforce,
            Fingerprint::of_fields(&sf_mapped),
            sf_stamp,
            ia_stamp,
        ),
    };
    let other_changed = match other_stored {
        Some(f) => *f != other_now,
        // Never synced: the other side counts as changed if it was modified later.
        None => matches!((other_stamp, source_stamp), (Some(o), Some(s)) if o > s),
    };
    let winner = if other_changed {
        later(sf_stamp, ia_stamp)
    } else {
        source
    };
    settle(
        to_intacct,
        to_salesforce,
        salesforce,
        intacct,
        (&sf_mapped, &ia_mapped),
        winner,
        other_changed,
    )
}

/// Plans a linked pair as a drift check sees it: nothing is known of what changed, so every
/// field goes to its owner — its system of record, else the side modified last (a tie to
/// Salesforce), as in a conflict. Nothing to write: the pair agrees. Pure.
pub(crate) fn plan_drift(
    to_intacct: &MappingPlan,
    to_salesforce: &MappingPlan,
    salesforce: &Value,
    intacct: &Value,
) -> Result<PairPlan, String> {
    let sf_mapped = mapped(to_intacct, salesforce)?;
    let ia_mapped = mapped(to_salesforce, intacct)?;
    let winner = later(
        to_intacct.source_modified(salesforce),
        to_salesforce.source_modified(intacct),
    );
    settle(
        to_intacct,
        to_salesforce,
        salesforce,
        intacct,
        (&sf_mapped, &ia_mapped),
        winner,
        true,
    )
}

/// The writes that settle a pair for `winner` (the side whose values win the last-modified
/// fields), and the fingerprints after them. Without a conflict only the winner's side is
/// written from; with one, each side also gets the fields its counterpart owns.
fn settle(
    to_intacct: &MappingPlan,
    to_salesforce: &MappingPlan,
    salesforce: &Value,
    intacct: &Value,
    (sf_mapped, ia_mapped): (&Map<String, Value>, &Map<String, Value>),
    winner: Side,
    other_changed: bool,
) -> Result<PairPlan, String> {
    let (to_intacct_fields, to_salesforce_fields) = match winner {
        Side::Salesforce => (
            to_intacct.fields_to_write_as(sf_mapped, intacct, Winner::Source),
            if other_changed {
                to_salesforce.fields_to_write_as(ia_mapped, salesforce, Winner::Target)
            } else {
                Map::new()
            },
        ),
        Side::Intacct => (
            if other_changed {
                to_intacct.fields_to_write_as(sf_mapped, intacct, Winner::Target)
            } else {
                Map::new()
            },
            to_salesforce.fields_to_write_as(ia_mapped, salesforce, Winner::Source),
        ),
    };
    let sf_after = applied(salesforce, &to_salesforce_fields);
    let ia_after = applied(intacct, &to_intacct_fields);
    Ok(PairPlan {
        salesforce_fingerprint: fingerprint(to_intacct, &sf_after)?,
        intacct_fingerprint: fingerprint(to_salesforce, &ia_after)?,
        to_intacct: to_intacct_fields,
        to_salesforce: to_salesforce_fields,
        winner,
        conflict: other_changed,
    })
}

/// The side modified last; a tie (or an unknown time) goes to Salesforce, so the decision
/// never depends on which side's event came first.
fn later(salesforce: Option<DateTime<Utc>>, intacct: Option<DateTime<Utc>>) -> Side {
    match (salesforce, intacct) {
        (Some(s), Some(i)) if i > s => Side::Intacct,
        (None, Some(_)) => Side::Intacct,
        _ => Side::Salesforce,
    }
}

/// `record` with `writes` applied (nested objects merge).
fn applied(record: &Value, writes: &Map<String, Value>) -> Value {
    let mut out = record.clone();
    merge(&mut out, Value::Object(writes.clone()));
    out
}

/// The leaves of a nested write, as dotted paths.
fn leaves<'a>(map: &'a Map<String, Value>, prefix: &str, out: &mut Vec<(String, &'a Value)>) {
    for (k, v) in map {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(inner) => leaves(inner, &path, out),
            other => out.push((path, other)),
        }
    }
}

/// One line per written field: `Phone: "a" → "b" (why)`.
fn describe(
    plan: &MappingPlan,
    writes: &Map<String, Value>,
    before: &Value,
    winner: Side,
    conflict: bool,
    new_link: bool,
    drift: bool,
) -> String {
    let mut fields = Vec::new();
    leaves(writes, "", &mut fields);
    fields
        .iter()
        .map(|(path, new)| {
            let old = crate::records::at(before, path)
                .cloned()
                .unwrap_or(Value::Null);
            let why = field_why(plan, path, winner, conflict, new_link, drift);
            format!("{path}: {old} → {new} ({why})")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why the field at `path` of `plan`'s target gets the source's value.
fn field_why(
    plan: &MappingPlan,
    path: &str,
    winner: Side,
    conflict: bool,
    new_link: bool,
    drift: bool,
) -> String {
    let source = plan_dir_side(plan);
    match plan.owner_of(path) {
        Owner::Salesforce => "ownership: Salesforce is its system of record".to_owned(),
        Owner::Intacct => "ownership: Intacct is its system of record".to_owned(),
        Owner::LastModified if new_link => "new link".to_owned(),
        Owner::LastModified if drift => {
            format!("last-modified: {} was modified last", side_name(winner))
        }
        Owner::LastModified if conflict => format!(
            "last-modified: both sides changed, {} was modified last",
            side_name(winner)
        ),
        Owner::LastModified => {
            format!("last-modified: changed only in {}", side_name(source))
        }
    }
}

/// The reason an outcome carries.
fn outcome_reason(o: &Outcome) -> String {
    match o {
        Outcome::Done { detail } | Outcome::Echo { detail } => detail.clone(),
        Outcome::Parked { reason } => reason.clone(),
        Outcome::Retry { reason, .. } => reason.clone(),
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Salesforce => "Salesforce",
        Side::Intacct => "Intacct",
    }
}

/// A failure of a step that concerns several records.
fn fail_all(changes: &mut [Change], which: &[usize], class: ErrorClass, reason: &str) {
    for i in which {
        if changes[*i].open() {
            changes[*i].outcome = Some(Outcome::failed(class, reason.to_owned()));
        }
    }
}

impl<P: Ports> AccountSync<P> {
    async fn run(&self, changes: &mut [Change]) {
        if changes.is_empty() {
            return;
        }
        let mut pair_plans = Vec::new();
        for p in &PAIRINGS {
            match plans(&self.specs, p) {
                Ok(pp) => pair_plans.push(pp),
                Err(e) => {
                    for c in changes.iter_mut() {
                        c.outcome = Some(Outcome::parked(e.to_string()));
                    }
                    return;
                }
            }
        }
        let ports = &self.ports;

        // Capture: the changed records, one read per object on each side.
        self.read_changed(changes).await;

        // Echoes: the stored fingerprints (local reads), before anything of the other side.
        let stored = join_all(
            changes
                .iter()
                .map(|c| async move { ports.state().fingerprint(&c.reference(), FLOW).await }),
        )
        .await;
        let mut stored_own: Vec<Option<Fingerprint>> = Vec::with_capacity(changes.len());
        for (c, s) in changes.iter_mut().zip(stored) {
            match s {
                Ok(f) => stored_own.push(f),
                Err(e) => {
                    stored_own.push(None);
                    if c.open() {
                        c.outcome = Some(Outcome::failed(
                            e.class(),
                            format!("reading the fingerprint of {}: {e}", c.reference()),
                        ));
                    }
                }
            }
        }
        let mut echoes = 0usize;
        for (c, stored) in changes.iter_mut().zip(&stored_own) {
            let (Some(record), true) = (&c.record, c.open()) else {
                continue;
            };
            let (to_i, to_s) = pair_plans[c.pairing];
            let plan = match c.side {
                Side::Salesforce => to_i,
                Side::Intacct => to_s,
            };
            match is_echo(plan, record, stored.as_ref()) {
                Ok(true) => {
                    echoes += 1;
                    tracing::info!(flow = %FLOW, record = %c.reference(), skipped_echo = 1u64,
                        "echo of our own write (or a change already synced); dropped");
                    c.outcome = Some(Outcome::echo(
                        "echo: the record's mapped values equal the fingerprint of the last \
                         sync; nothing written",
                    ));
                }
                Ok(false) => {}
                Err(reason) => c.outcome = Some(Outcome::parked(reason)),
            }
        }

        // Counterparts: links, link fields, matching; then what the options create.
        self.find_counterparts(changes, &pair_plans).await;
        self.create_counterparts(changes, &pair_plans).await;

        // Plan.
        let others = join_all(changes.iter().map(|c| async move {
            match (&c.counterpart, c.open()) {
                (Some(id), true) => {
                    let r = reference(&PAIRINGS[c.pairing], other_side(c.side), id);
                    ports.state().fingerprint(&r, FLOW).await.map(Some)
                }
                _ => Ok(None),
            }
        }))
        .await;
        let mut planned: Vec<Option<PairPlan>> = Vec::with_capacity(changes.len());
        for ((c, own), other) in changes.iter_mut().zip(&stored_own).zip(others) {
            let other = match other {
                Ok(o) => o.flatten(),
                Err(e) => {
                    if c.open() {
                        c.outcome = Some(Outcome::failed(e.class(), e.to_string()));
                    }
                    None
                }
            };
            let (Some(record), Some(counterpart), true) = (&c.record, &c.other, c.open()) else {
                planned.push(None);
                continue;
            };
            let (to_i, to_s) = pair_plans[c.pairing];
            let (sf, ia, sf_fp, ia_fp) = match c.side {
                Side::Salesforce => (record, counterpart, own.as_ref(), other.as_ref()),
                Side::Intacct => (counterpart, record, other.as_ref(), own.as_ref()),
            };
            let mut plan = match plan_pair(to_i, to_s, c.side, sf, ia, sf_fp, ia_fp) {
                Ok(plan) => plan,
                Err(reason) => {
                    c.outcome = Some(Outcome::parked(reason));
                    planned.push(None);
                    continue;
                }
            };
            if c.new_link.is_some() {
                // A first link is written back to both records (DESIGN.md §4: first links
                // are the write-backs a sync makes), whoever owns the field.
                let p = &PAIRINGS[c.pairing];
                let (sf_id, ia_key) = match c.side {
                    Side::Salesforce => (c.id.clone(), c.counterpart.clone().unwrap_or_default()),
                    Side::Intacct => (c.counterpart.clone().unwrap_or_default(), c.id.clone()),
                };
                if text(sf, p.salesforce_link) != Some(ia_key.as_str()) {
                    plan.to_salesforce
                        .insert(p.salesforce_link.to_owned(), Value::String(ia_key));
                }
                if text(ia, p.intacct.link_field()) != Some(sf_id.as_str()) {
                    plan.to_intacct
                        .insert(p.intacct.link_field().to_owned(), Value::String(sf_id));
                }
                let sf_after = applied(sf, &plan.to_salesforce);
                let ia_after = applied(ia, &plan.to_intacct);
                match (fingerprint(to_i, &sf_after), fingerprint(to_s, &ia_after)) {
                    (Ok(a), Ok(b)) => {
                        plan.salesforce_fingerprint = a;
                        plan.intacct_fingerprint = b;
                    }
                    (Err(reason), _) | (_, Err(reason)) => {
                        c.outcome = Some(Outcome::parked(reason));
                        planned.push(None);
                        continue;
                    }
                }
            }
            planned.push(Some(plan));
        }

        // Apply.
        let written = self.apply(changes, &planned).await;

        // Links, fingerprints, audit.
        self.record(changes, &planned, &pair_plans, false).await;
        let now = ports.clock().now();
        tracing::info!(flow = %FLOW, records_written = written as u64, "account-sync batch applied");

        // What is left: records with nothing to pair.
        for c in changes.iter_mut() {
            if c.outcome.is_none() {
                c.outcome = Some(Outcome::done("nothing to do"));
            }
            let noted = match &c.outcome {
                Some(Outcome::Parked { reason }) => Some((AuditAction::Parked, reason.clone())),
                Some(Outcome::Echo { detail }) => Some((AuditAction::SkippedEcho, detail.clone())),
                _ => None,
            };
            if let Some((action, detail)) = noted {
                let entry = AuditEntry {
                    record: c.reference(),
                    at: now,
                    flow: FLOW,
                    action,
                    correlation_id: c.correlation.clone(),
                    counterpart: None,
                    detail,
                };
                if let Err(error) = ports.audit().append(&entry).await {
                    tracing::warn!(%error, "audit entry not written");
                }
            }
            tracing::info!(flow = %FLOW, record = %c.reference(), outcome = ?c.outcome, "account-sync");
        }
        if echoes > 0 {
            tracing::info!(flow = %FLOW, skipped_echoes = echoes as u64, "echoes dropped in batch");
        }
    }

    /// Checks every linked pair of the pairings `options` names for drift, a page of links
    /// at a time, and with `options.repair` writes the owners' values where a pair disagrees
    /// (see [`crate::drift`]). `progress` is told the pairs checked so far after each page.
    /// Fails only when the links cannot be listed; a page that cannot be read is reported
    /// as unchecked and the check goes on.
    ///
    /// Per page of N links: Salesforce — one read of the N records (a collection read per
    /// 2,000 ids), one update call for the repairs; Intacct — one request reading the N
    /// counterparts, one update request per owning entity for the repairs.
    pub async fn check_drift(
        &self,
        options: &DriftOptions,
        mut progress: impl FnMut(u64),
    ) -> Result<DriftReport, PortError> {
        let mut report = DriftReport::default();
        let mut pair_plans = Vec::new();
        for p in &PAIRINGS {
            let pp = plans(&self.specs, p).map_err(|e| PortError::invalid(e.to_string()))?;
            pair_plans.push(pp);
        }
        let wanted = |p: &Pairing| {
            options.objects.is_empty()
                || options.objects.iter().any(|o| {
                    o.eq_ignore_ascii_case(p.salesforce) || o.eq_ignore_ascii_case(p.intacct.name())
                })
        };
        if let Some(unknown) = options.objects.iter().find(|o| {
            !PAIRINGS.iter().any(|p| {
                o.eq_ignore_ascii_case(p.salesforce) || o.eq_ignore_ascii_case(p.intacct.name())
            })
        }) {
            return Err(PortError::invalid(format!(
                "the drift check compares Account ⇄ CUSTOMER and Contact ⇄ CONTACT pairs, not `{unknown}`"
            )));
        }
        for (pi, p) in PAIRINGS.iter().enumerate() {
            if !wanted(p) {
                continue;
            }
            let mut after: Option<String> = None;
            loop {
                let page = self
                    .ports
                    .xref()
                    .list(p.link, after.as_deref(), options.page_size.max(1))
                    .await?;
                if !page.links.is_empty() {
                    self.drift_page(pi, &page.links, &pair_plans, options.repair, &mut report)
                        .await;
                    progress(report.checked);
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        Ok(report)
    }

    /// One page of [`AccountSync::check_drift`]: reads both sides of `links`, compares, repairs.
    async fn drift_page(
        &self,
        pi: usize,
        links: &[XrefLink],
        pair_plans: &[(&MappingPlan, &MappingPlan)],
        repair: bool,
        report: &mut DriftReport,
    ) {
        let p = &PAIRINGS[pi];
        let mut changes: Vec<Change> = links
            .iter()
            .map(|l| Change {
                pairing: pi,
                side: Side::Salesforce,
                id: l.salesforce.as_str().to_owned(),
                correlation: CorrelationId::new_random(),
                record: None,
                counterpart: Some(l.intacct.key.as_str().to_owned()),
                other: None,
                new_link: None,
                outcome: None,
            })
            .collect();
        self.read_changed(&mut changes).await;
        let keys: Vec<String> = changes
            .iter()
            .filter(|c| c.open())
            .filter_map(|c| c.counterpart.clone())
            .collect();
        if !keys.is_empty() {
            let q = self.intacct_query(p, pi, QueryFilter::In(p.intacct.id_field().into(), keys));
            let rows = match self.query(&[(pi, q)]).await {
                Ok(mut answers) => answers
                    .pop()
                    .map(|(_, rows)| rows)
                    .unwrap_or_else(|| Ok(Vec::new())),
                Err(e) => Err(e),
            };
            match rows {
                Ok(rows) => {
                    for c in changes.iter_mut().filter(|c| c.open()) {
                        c.other = rows
                            .iter()
                            .find(|r| key_of(p, r).as_deref() == c.counterpart.as_deref())
                            .cloned();
                    }
                }
                Err((class, reason)) => {
                    for c in changes.iter_mut().filter(|c| c.open()) {
                        c.outcome = Some(Outcome::failed(class, reason.clone()));
                    }
                }
            }
        }
        let (to_i, to_s) = pair_plans[pi];
        let mut planned: Vec<Option<PairPlan>> = Vec::with_capacity(changes.len());
        let mut found: Vec<Option<DriftedPair>> = Vec::with_capacity(changes.len());
        for c in changes.iter_mut() {
            let counterpart = c.counterpart.clone().unwrap_or_default();
            let sf_ref = reference(p, Side::Salesforce, &c.id);
            let ia_ref = reference(p, Side::Intacct, &counterpart);
            planned.push(None);
            found.push(None);
            match (&c.outcome, &c.record, &c.other) {
                (Some(Outcome::Done { .. }), _, _) | (None, None, _) => {
                    report.dangling.push(sf_ref);
                    continue;
                }
                (None, Some(_), None) => {
                    report.dangling.push(ia_ref);
                    c.outcome = Some(Outcome::done("the counterpart is gone"));
                    continue;
                }
                (Some(o), _, _) => {
                    report.unchecked.push((sf_ref, outcome_reason(o)));
                    continue;
                }
                (None, Some(sf), Some(ia)) => {
                    report.checked += 1;
                    let plan = match plan_drift(to_i, to_s, sf, ia) {
                        Ok(plan) => plan,
                        Err(reason) => {
                            report.checked -= 1;
                            report.unchecked.push((sf_ref, reason.clone()));
                            c.outcome = Some(Outcome::parked(reason));
                            continue;
                        }
                    };
                    if plan.to_intacct.is_empty() && plan.to_salesforce.is_empty() {
                        report.agreeing += 1;
                        c.outcome = Some(Outcome::done("in agreement"));
                        continue;
                    }
                    let mut fields = Vec::new();
                    for (target, writes, plan_dir, record) in [
                        (System::Intacct, &plan.to_intacct, to_i, ia),
                        (System::Salesforce, &plan.to_salesforce, to_s, sf),
                    ] {
                        let mut paths = Vec::new();
                        leaves(writes, "", &mut paths);
                        for (path, value) in paths {
                            fields.push(DriftField {
                                target,
                                current: crate::records::at(record, &path)
                                    .cloned()
                                    .unwrap_or(Value::Null),
                                owner_value: value.clone(),
                                owner: plan_dir.source_system(),
                                why: field_why(plan_dir, &path, plan.winner, true, false, true),
                                field: path,
                            });
                        }
                    }
                    if let (Some(f), Some(pl)) = (found.last_mut(), planned.last_mut()) {
                        *f = Some(DriftedPair {
                            salesforce: sf_ref,
                            intacct: ia_ref,
                            fields,
                            repair: Repair::NotAsked,
                        });
                        *pl = Some(plan);
                    }
                }
            }
        }
        if repair {
            let written = self.apply(&mut changes, &planned).await;
            self.record(&mut changes, &planned, pair_plans, true).await;
            tracing::info!(flow = %FLOW, records_written = written as u64, "drift repaired");
        }
        for (c, d) in changes.iter().zip(found) {
            let Some(mut d) = d else { continue };
            if repair {
                d.repair = match &c.outcome {
                    Some(Outcome::Done { .. }) => Repair::Repaired,
                    Some(o) => Repair::Failed(outcome_reason(o)),
                    None => Repair::Failed("no outcome was decided".to_owned()),
                };
            }
            report.drifted.push(d);
        }
    }

    /// After [`AccountSync::apply`]: stores new links and both records' fingerprints, audits
    /// every written record and decides each planned change's outcome. `drift`: the writes
    /// are a drift repair.
    async fn record(
        &self,
        changes: &mut [Change],
        planned: &[Option<PairPlan>],
        pair_plans: &[(&MappingPlan, &MappingPlan)],
        drift: bool,
    ) {
        let ports = &self.ports;
        let now = ports.clock().now();
        for (i, c) in changes.iter_mut().enumerate() {
            let Some(plan) = &planned[i] else { continue };
            if !c.open() {
                continue;
            }
            let p = &PAIRINGS[c.pairing];
            let (to_i, to_s) = pair_plans[c.pairing];
            let Some(counterpart) = c.counterpart.clone() else {
                continue;
            };
            let (sf_id, ia_key) = match c.side {
                Side::Salesforce => (c.id.clone(), counterpart.clone()),
                Side::Intacct => (counterpart.clone(), c.id.clone()),
            };
            if c.new_link.is_some()
                && let Err((class, reason)) =
                    store_link(ports.xref(), p, &sf_id, &ia_key, now).await
            {
                c.outcome = Some(Outcome::failed(class, reason));
                continue;
            }
            let sf_ref = reference(p, Side::Salesforce, &sf_id);
            let ia_ref = reference(p, Side::Intacct, &ia_key);
            let mut failed = None;
            for (r, f) in [
                (&sf_ref, &plan.salesforce_fingerprint),
                (&ia_ref, &plan.intacct_fingerprint),
            ] {
                if let Err(e) = ports.state().record_fingerprint(r, FLOW, f).await {
                    failed = Some(Outcome::failed(
                        e.class(),
                        format!("recording the fingerprint of {r}: {e}"),
                    ));
                }
            }
            if let Some(o) = failed {
                // The writes are done; a redelivery diffs again and writes nothing.
                c.outcome = Some(o);
                continue;
            }
            let (sf, ia) = match c.side {
                Side::Salesforce => (c.record.as_ref(), c.other.as_ref()),
                Side::Intacct => (c.other.as_ref(), c.record.as_ref()),
            };
            let mut details = Vec::new();
            for (target, counter, writes, plan_dir, before) in [
                (&ia_ref, &sf_ref, &plan.to_intacct, to_i, ia),
                (&sf_ref, &ia_ref, &plan.to_salesforce, to_s, sf),
            ] {
                if writes.is_empty() {
                    continue;
                }
                let detail = describe(
                    plan_dir,
                    writes,
                    before.unwrap_or(&Value::Null),
                    plan.winner,
                    plan.conflict,
                    c.new_link.is_some(),
                    drift,
                );
                details.push(format!("{target}: {detail}"));
                let entry = AuditEntry {
                    record: target.clone(),
                    at: now,
                    flow: FLOW,
                    action: if c.new_link.is_some() {
                        AuditAction::Linked
                    } else {
                        AuditAction::Updated
                    },
                    correlation_id: c.correlation.clone(),
                    counterpart: Some(counter.clone()),
                    detail: format!("from {}: {detail}", side_name(plan_dir_side(plan_dir))),
                };
                if let Err(error) = ports.audit().append(&entry).await {
                    tracing::warn!(%error, "audit entry not written");
                }
            }
            let how = if drift {
                format!(
                    "drift repaired: each field from its owner (system of record, else {} as \
                     modified last)",
                    side_name(plan.winner)
                )
            } else if plan.conflict {
                format!(
                    "conflict settled for {} (ownership, else last modified)",
                    side_name(plan.winner)
                )
            } else {
                format!("changed in {}", side_name(c.side))
            };
            let linked = c
                .new_link
                .as_deref()
                .map(|l| format!("{NEW_LINK}{l}): "))
                .unwrap_or_default();
            c.outcome = Some(Outcome::done(if details.is_empty() {
                format!("{linked}{how}; the counterpart already has these values; nothing written")
            } else {
                format!("{linked}{how}{UPDATED}{}", details.join(" | "))
            }));
        }
    }

    /// Re-reads the changed records: one Salesforce read per object, one Intacct request.
    async fn read_changed(&self, changes: &mut [Change]) {
        let ports = &self.ports;
        let sf_reads = PAIRINGS.iter().enumerate().map(|(pi, _)| {
            let ids: Vec<SalesforceId> = changes
                .iter()
                .filter(|c| c.pairing == pi && c.side == Side::Salesforce)
                .filter_map(|c| SalesforceId::parse(&c.id).ok())
                .collect();
            let read = &self.reads[pi].0;
            async move {
                if ids.is_empty() {
                    return Ok(BTreeMap::new());
                }
                ports.salesforce().read_by_ids(read, &ids).await
            }
        });
        let queries: Vec<(usize, RecordQuery)> = PAIRINGS
            .iter()
            .enumerate()
            .filter_map(|(pi, p)| {
                let keys: Vec<String> = changes
                    .iter()
                    .filter(|c| c.pairing == pi && c.side == Side::Intacct)
                    .map(|c| c.id.clone())
                    .collect();
                (!keys.is_empty()).then(|| {
                    (
                        pi,
                        self.intacct_query(
                            p,
                            pi,
                            QueryFilter::In(p.intacct.id_field().into(), keys),
                        ),
                    )
                })
            })
            .collect();
        let (sf, ia) = futures::join!(join_all(sf_reads), self.query(&queries));
        for (pi, result) in sf.into_iter().enumerate() {
            match result {
                Ok(found) => {
                    for c in changes
                        .iter_mut()
                        .filter(|c| c.pairing == pi && c.side == Side::Salesforce)
                    {
                        c.record = SalesforceId::parse(&c.id)
                            .ok()
                            .and_then(|id| found.get(&id))
                            .map(|r| Value::Object(r.clone()));
                    }
                }
                Err(e) => {
                    let which: Vec<usize> = (0..changes.len())
                        .filter(|i| {
                            changes[*i].pairing == pi && changes[*i].side == Side::Salesforce
                        })
                        .collect();
                    let reason = format!("reading the {}s: {e}", PAIRINGS[pi].salesforce);
                    fail_all(changes, &which, e.class(), &reason);
                }
            }
        }
        match ia {
            Ok(answers) => {
                for (pi, rows) in answers {
                    let p = &PAIRINGS[pi];
                    for c in changes
                        .iter_mut()
                        .filter(|c| c.pairing == pi && c.side == Side::Intacct)
                    {
                        match &rows {
                            Ok(rows) => {
                                c.record = rows
                                    .iter()
                                    .find(|r| key_of(p, r).as_deref() == Some(c.id.as_str()))
                                    .cloned();
                            }
                            Err((class, reason)) => {
                                c.outcome = Some(Outcome::failed(*class, reason.clone()));
                            }
                        }
                    }
                }
            }
            Err((class, reason)) => {
                let which: Vec<usize> = (0..changes.len())
                    .filter(|i| changes[*i].side == Side::Intacct)
                    .collect();
                fail_all(changes, &which, class, &reason);
            }
        }
        for c in changes.iter_mut() {
            if c.open() && c.record.is_none() {
                c.outcome = Some(Outcome::done(format!(
                    "{} is deleted or not visible; nothing to do",
                    c.reference()
                )));
            }
        }
    }

    /// A query of `p`'s Intacct object with every field the flow reads.
    fn intacct_query(&self, p: &Pairing, pi: usize, filter: QueryFilter) -> RecordQuery {
        RecordQuery::new(p.intacct.name(), self.reads[pi].1.clone())
            .filter(filter)
            .order_by("RECORDNO")
    }

    /// Runs `queries` in one request at the top level (records of every entity are seen);
    /// the answers as trees, per pairing.
    #[allow(clippy::type_complexity)]
    async fn query(
        &self,
        queries: &[(usize, RecordQuery)],
    ) -> Result<Vec<(usize, Result<Vec<Value>, (ErrorClass, String)>)>, (ErrorClass, String)> {
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        let qs: Vec<RecordQuery> = queries.iter().map(|(_, q)| q.clone()).collect();
        let answers = self
            .ports
            .intacct()
            .query_many(None, &qs)
            .await
            .map_err(|e| (e.class(), format!("reading Intacct records: {e}")))?;
        Ok(queries
            .iter()
            .zip(answers)
            .map(|((pi, q), a)| {
                (
                    *pi,
                    a.map(|rows| rows.iter().map(intacct_tree).collect())
                        .map_err(|e| (e.class(), format!("reading {}: {e}", q.object))),
                )
            })
            .collect())
    }

    /// Finds each open change's counterpart and reads it.
    async fn find_counterparts(
        &self,
        changes: &mut [Change],
        pair_plans: &[(&MappingPlan, &MappingPlan)],
    ) {
        let ports = &self.ports;
        // Stored links (local).
        let links = join_all(changes.iter().map(|c| async move {
            if !c.open() {
                return Ok(None);
            }
            let p = &PAIRINGS[c.pairing];
            match c.side {
                Side::Salesforce => {
                    let Ok(id) = SalesforceId::parse(&c.id) else {
                        return Ok(None);
                    };
                    ports
                        .xref()
                        .find_by_salesforce(p.link, &id)
                        .await
                        .map(|l| l.map(|l| l.intacct.key.as_str().to_owned()))
                }
                Side::Intacct => {
                    let Ok(key) = IntacctKey::parse(&c.id) else {
                        return Ok(None);
                    };
                    ports
                        .xref()
                        .find_by_intacct(p.link, &key)
                        .await
                        .map(|l| l.map(|l| l.salesforce.as_str().to_owned()))
                }
            }
        }))
        .await;
        for (c, l) in changes.iter_mut().zip(links) {
            match l {
                Ok(Some(other)) => c.counterpart = Some(other),
                Ok(None) => {
                    // The link field of the changed record.
                    let Some(record) = &c.record else { continue };
                    let p = &PAIRINGS[c.pairing];
                    let field = match c.side {
                        Side::Salesforce => p.salesforce_link,
                        Side::Intacct => p.intacct.link_field(),
                    };
                    let value = text(record, field).map(|s| s.trim().to_owned());
                    let valid = match c.side {
                        Side::Salesforce => value.filter(|v| IntacctKey::parse(v).is_ok()),
                        Side::Intacct => value
                            .and_then(|v| SalesforceId::parse(&v).ok())
                            .map(|id| id.as_str().to_owned()),
                    };
                    if let Some(v) = valid {
                        c.new_link = Some(format!("by {field}"));
                        c.counterpart = Some(v);
                    }
                }
                Err(e) => {
                    if c.open() {
                        c.outcome = Some(Outcome::failed(
                            e.class(),
                            format!("reading the link of {}: {e}", c.reference()),
                        ));
                    }
                }
            }
        }

        // Read the counterparts: Salesforce records by id (or by the Intacct key they carry),
        // Intacct records by key (or by the Salesforce id they carry).
        let sf_by_id = PAIRINGS.iter().enumerate().map(|(pi, _)| {
            let ids: Vec<SalesforceId> = changes
                .iter()
                .filter(|c| c.open() && c.pairing == pi && c.side == Side::Intacct)
                .filter_map(|c| c.counterpart.as_deref())
                .filter_map(|id| SalesforceId::parse(id).ok())
                .collect();
            let read = &self.reads[pi].0;
            async move {
                if ids.is_empty() {
                    return Ok(BTreeMap::new());
                }
                ports.salesforce().read_by_ids(read, &ids).await
            }
        });
        let sf_by_key = PAIRINGS.iter().enumerate().map(|(pi, p)| {
            let keys: Vec<String> = changes
                .iter()
                .filter(|c| {
                    c.open()
                        && c.pairing == pi
                        && c.side == Side::Intacct
                        && c.counterpart.is_none()
                })
                .map(|c| c.id.clone())
                .collect();
            let read = &self.reads[pi].0;
            async move {
                if keys.is_empty() {
                    return Ok(BTreeMap::new());
                }
                ports
                    .salesforce()
                    .read_by_field(read, p.salesforce_link, &keys)
                    .await
            }
        });
        let queries: Vec<(usize, RecordQuery)> = PAIRINGS
            .iter()
            .enumerate()
            .filter_map(|(pi, p)| {
                let mine = || {
                    changes
                        .iter()
                        .filter(move |c| c.open() && c.pairing == pi && c.side == Side::Salesforce)
                };
                let keys: Vec<String> = mine().filter_map(|c| c.counterpart.clone()).collect();
                let ids: Vec<String> = mine()
                    .filter(|c| c.counterpart.is_none())
                    .map(|c| c.id.clone())
                    .collect();
                let mut any = Vec::new();
                if !keys.is_empty() {
                    any.push(QueryFilter::In(p.intacct.id_field().into(), keys));
                }
                if !ids.is_empty() {
                    any.push(QueryFilter::In(p.intacct.link_field().into(), ids));
                }
                (!any.is_empty()).then(|| (pi, self.intacct_query(p, pi, QueryFilter::Or(any))))
            })
            .collect();
        let (by_id, by_key, ia) = futures::join!(
            join_all(sf_by_id),
            join_all(sf_by_key),
            self.query(&queries)
        );
        for (pi, (by_id, by_key)) in by_id.into_iter().zip(by_key).enumerate() {
            let p = &PAIRINGS[pi];
            for c in changes
                .iter_mut()
                .filter(|c| c.open() && c.pairing == pi && c.side == Side::Intacct)
            {
                match &c.counterpart {
                    Some(id) => match &by_id {
                        Ok(found) => {
                            c.other = SalesforceId::parse(id)
                                .ok()
                                .and_then(|id| found.get(&id))
                                .map(|r| Value::Object(r.clone()));
                            if c.other.is_none() {
                                c.outcome = Some(Outcome::parked(format!(
                                    "{} is linked to {} {id}, which is deleted or not visible; \
                                     relink it, then replay",
                                    c.reference(),
                                    p.salesforce
                                )));
                            }
                        }
                        Err(e) => {
                            c.outcome = Some(Outcome::failed(
                                e.class(),
                                format!("reading the linked {}s: {e}", p.salesforce),
                            ));
                        }
                    },
                    None => match &by_key {
                        Ok(found) => match found.get(&c.id).map(Vec::as_slice) {
                            Some([one]) => {
                                c.counterpart =
                                    one.get("Id").and_then(Value::as_str).map(str::to_owned);
                                c.other = Some(Value::Object(one.clone()));
                                c.new_link = Some(format!("by {}", p.salesforce_link));
                            }
                            Some(many) if many.len() > 1 => {
                                c.outcome = Some(Outcome::parked(format!(
                                    "several {}s carry {} = {}: {}; link one, then replay",
                                    p.salesforce,
                                    p.salesforce_link,
                                    c.id,
                                    ids_of(many).join(", ")
                                )));
                            }
                            _ => {}
                        },
                        Err(e) => {
                            c.outcome = Some(Outcome::failed(
                                e.class(),
                                format!("reading {}s by {}: {e}", p.salesforce, p.salesforce_link),
                            ));
                        }
                    },
                }
            }
        }
        match ia {
            Ok(answers) => {
                for (pi, rows) in answers {
                    let p = &PAIRINGS[pi];
                    for c in changes
                        .iter_mut()
                        .filter(|c| c.open() && c.pairing == pi && c.side == Side::Salesforce)
                    {
                        let rows = match &rows {
                            Ok(rows) => rows,
                            Err((class, reason)) => {
                                c.outcome = Some(Outcome::failed(*class, reason.clone()));
                                continue;
                            }
                        };
                        match &c.counterpart {
                            Some(key) => {
                                c.other = rows
                                    .iter()
                                    .find(|r| text(r, p.intacct.id_field()) == Some(key.as_str()))
                                    .cloned();
                                if c.other.is_none() {
                                    c.outcome = Some(Outcome::parked(format!(
                                        "{} is linked to {} {key}, which is deleted or not \
                                         visible; relink it, then replay",
                                        c.reference(),
                                        p.intacct.name()
                                    )));
                                }
                            }
                            None => {
                                let carrying: Vec<&Value> = rows
                                    .iter()
                                    .filter(|r| {
                                        text(r, p.intacct.link_field()) == Some(c.id.as_str())
                                    })
                                    .collect();
                                match carrying.as_slice() {
                                    [one] => {
                                        c.counterpart =
                                            text(one, p.intacct.id_field()).map(str::to_owned);
                                        c.other = Some((*one).clone());
                                        c.new_link = Some(format!("by {}", p.intacct.link_field()));
                                    }
                                    [] => {}
                                    many => {
                                        let keys: Vec<&str> = many
                                            .iter()
                                            .filter_map(|r| text(r, p.intacct.id_field()))
                                            .collect();
                                        c.outcome = Some(Outcome::parked(format!(
                                            "several Intacct {}s carry {} = {}: {}; keep one, \
                                             then replay",
                                            p.intacct.name(),
                                            p.intacct.link_field(),
                                            c.id,
                                            keys.join(", ")
                                        )));
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Err((class, reason)) => {
                let which: Vec<usize> = (0..changes.len())
                    .filter(|i| changes[*i].open() && changes[*i].side == Side::Salesforce)
                    .collect();
                fail_all(changes, &which, class, &reason);
            }
        }

        self.match_accounts(changes, pair_plans).await;
        self.match_contacts(changes, pair_plans).await;
        self.check_new_links(changes).await;
    }

    /// Counterparts made for what has none, as the options allow: Accounts for CUSTOMERs,
    /// CONTACTs for the Contacts of linked Accounts.
    async fn create_counterparts(
        &self,
        changes: &mut [Change],
        pair_plans: &[(&MappingPlan, &MappingPlan)],
    ) {
        if self.options.create_accounts {
            self.create_accounts(changes, pair_plans).await;
        }
        if self.options.create_contacts {
            self.create_contacts(changes, pair_plans).await;
        }
        for c in changes.iter_mut() {
            if c.open() && c.other.is_none() {
                c.outcome = Some(Outcome::done(unpaired(c)));
            }
        }
    }

    /// Whether the options have the flow create a counterpart for `c`, which has none.
    fn creates_for(&self, c: &Change) -> bool {
        match (c.pairing, c.side) {
            (0, Side::Intacct) => self.options.create_accounts,
            (1, Side::Salesforce) => {
                self.options.create_contacts
                    && c.record
                        .as_ref()
                        .and_then(|r| text(r, CONTACT_ACCOUNT_LINK))
                        .is_some()
            }
            _ => false,
        }
    }

    /// What the flow would do with the records `items` name, decided as
    /// [`FlowHandler::handle_batch`] decides (re-read, stored links, link fields, matching,
    /// the create rules of the options) with the same batched reads and no write: for
    /// `backfill --dry-run`. One answer per item, in order. Echoes are not told apart from
    /// other linked pairs (both are [`SyncPreview::Linked`]).
    pub async fn preview(&self, items: &[WorkItem]) -> Vec<SyncPreview> {
        let (mut changes, per_item) = group(items);
        let mut pair_plans = Vec::new();
        for p in &PAIRINGS {
            match plans(&self.specs, p) {
                Ok(pp) => pair_plans.push(pp),
                Err(e) => {
                    let reason = e.to_string();
                    return items
                        .iter()
                        .map(|_| SyncPreview::Leave {
                            reason: reason.clone(),
                        })
                        .collect();
                }
            }
        }
        if !changes.is_empty() {
            self.read_changed(&mut changes).await;
            self.find_counterparts(&mut changes, &pair_plans).await;
        }
        let decided: Vec<SyncPreview> = changes
            .iter()
            .map(|c| match (&c.outcome, &c.counterpart, &c.new_link) {
                (Some(Outcome::Done { detail } | Outcome::Echo { detail }), _, _) => {
                    SyncPreview::Skip {
                        reason: detail.clone(),
                    }
                }
                (Some(Outcome::Parked { reason }), _, _) => SyncPreview::Leave {
                    reason: reason.clone(),
                },
                (Some(Outcome::Retry { reason, .. }), _, _) => SyncPreview::Leave {
                    reason: format!("could not be decided now: {reason}"),
                },
                (None, Some(counterpart), Some(how)) => SyncPreview::Link {
                    counterpart: counterpart.clone(),
                    how: how.clone(),
                },
                (None, Some(counterpart), None) => SyncPreview::Linked {
                    counterpart: counterpart.clone(),
                },
                (None, None, _) if self.creates_for(c) => SyncPreview::Create,
                (None, None, _) => SyncPreview::Skip {
                    reason: unpaired(c),
                },
            })
            .collect();
        per_item
            .into_iter()
            .map(|r| match r {
                Ok(i) => decided[i].clone(),
                Err(Outcome::Parked { reason }) => SyncPreview::Leave { reason },
                Err(o) => SyncPreview::Skip {
                    reason: outcome_reason(&o),
                },
            })
            .collect()
    }

    /// A counterpart found by a link field or by matching may be linked to another record
    /// already (someone copied an id): that is for a person to sort out, before anything is
    /// written.
    async fn check_new_links(&self, changes: &mut [Change]) {
        let ports = &self.ports;
        let found = join_all(changes.iter().map(|c| async move {
            let (Some(other), Some(_), true) = (&c.counterpart, &c.new_link, c.open()) else {
                return Ok(None);
            };
            let p = &PAIRINGS[c.pairing];
            match c.side {
                Side::Salesforce => match IntacctKey::parse(other) {
                    Ok(key) => ports
                        .xref()
                        .find_by_intacct(p.link, &key)
                        .await
                        .map(|l| l.map(|l| l.salesforce.as_str().to_owned())),
                    Err(_) => Ok(None),
                },
                Side::Intacct => match SalesforceId::parse(other) {
                    Ok(id) => ports
                        .xref()
                        .find_by_salesforce(p.link, &id)
                        .await
                        .map(|l| l.map(|l| l.intacct.key.as_str().to_owned())),
                    Err(_) => Ok(None),
                },
            }
        }))
        .await;
        for (c, f) in changes.iter_mut().zip(found) {
            match f {
                Ok(Some(linked)) if linked != c.id => {
                    let p = &PAIRINGS[c.pairing];
                    let other = reference(
                        p,
                        other_side(c.side),
                        c.counterpart.as_deref().unwrap_or_default(),
                    );
                    c.outcome = Some(Outcome::parked(format!(
                        "for review: {} points at {other} ({}), which is linked to {linked}; \
                         fix the link field or the link, then replay",
                        c.reference(),
                        c.new_link.as_deref().unwrap_or_default()
                    )));
                }
                Ok(_) => {}
                Err(e) => {
                    c.outcome = Some(Outcome::failed(
                        e.class(),
                        format!("reading the links of {}: {e}", c.reference()),
                    ));
                }
            }
        }
    }

    /// Accounts with no customer found by link: the customer matching rules over candidates
    /// sharing an exact key, in one request. A match links; doubt parks with the candidates.
    async fn match_accounts(
        &self,
        changes: &mut [Change],
        pair_plans: &[(&MappingPlan, &MappingPlan)],
    ) {
        let (to_i, _) = pair_plans[0];
        let open: Vec<usize> = (0..changes.len())
            .filter(|i| {
                let c = &changes[*i];
                c.open() && c.pairing == 0 && c.side == Side::Salesforce && c.counterpart.is_none()
            })
            .collect();
        let accounts: Vec<&Value> = open
            .iter()
            .filter_map(|i| changes[*i].record.as_ref())
            .collect();
        let Some(query) = customer::candidate_query(to_i, &accounts) else {
            return;
        };
        let mut query = query;
        for f in &self.reads[0].1 {
            if !query.fields.contains(f) {
                query.fields.push(f.clone());
            }
        }
        let pool = match self.query(&[(0, query)]).await.map(|mut a| a.pop()) {
            Ok(Some((_, Ok(rows)))) => rows,
            Ok(None) => Vec::new(),
            Ok(Some((_, Err((class, reason))))) | Err((class, reason)) => {
                fail_all(changes, &open, class, &reason);
                return;
            }
        };
        for i in open {
            let c = &mut changes[i];
            let Some(account) = &c.record else { continue };
            match customer::resolve(to_i, account, None, &pool) {
                customer::Resolution::Existing { customer_id, how } => {
                    let found = pool
                        .iter()
                        .find(|r| text(r, "CUSTOMERID") == Some(customer_id.as_str()))
                        .cloned();
                    link_matched(c, found, customer_id, how);
                }
                customer::Resolution::Park(reason) => {
                    c.outcome = Some(Outcome::parked(format!("for review: {reason}")));
                }
                customer::Resolution::Create { .. } => {}
            }
        }
    }

    /// Contacts with no CONTACT found by link: the contact matching rules (normalized email)
    /// over the CONTACTs sharing an email, in one request. A match links; doubt parks.
    async fn match_contacts(
        &self,
        changes: &mut [Change],
        pair_plans: &[(&MappingPlan, &MappingPlan)],
    ) {
        let (to_i, _) = pair_plans[1];
        let Some(rules) = to_i.matching() else {
            return;
        };
        let open: Vec<usize> = (0..changes.len())
            .filter(|i| {
                let c = &changes[*i];
                c.open() && c.pairing == 1 && c.side == Side::Salesforce && c.counterpart.is_none()
            })
            .collect();
        let mut emails: Vec<String> = open
            .iter()
            .filter_map(|i| changes[*i].record.as_ref())
            .filter_map(|r| text(r, "Email"))
            .map(|e| e.trim().to_lowercase())
            .collect();
        emails.sort();
        emails.dedup();
        if emails.is_empty() {
            return;
        }
        let p = &PAIRINGS[1];
        // Intacct compares text as stored (the port asks for no case-insensitive query), so an
        // email stored in other capitals is not found here: the Contact is then left unlinked,
        // never linked wrongly.
        let query = self.intacct_query(p, 1, QueryFilter::In("EMAIL1".into(), emails));
        let pool = match self.query(&[(1, query)]).await.map(|mut a| a.pop()) {
            Ok(Some((_, Ok(rows)))) => rows,
            Ok(None) => Vec::new(),
            Ok(Some((_, Err((class, reason))))) | Err((class, reason)) => {
                fail_all(changes, &open, class, &reason);
                return;
            }
        };
        let name_of = |i: &usize| {
            pool.get(*i)
                .and_then(|r| text(r, p.intacct.id_field()))
                .unwrap_or_default()
                .to_owned()
        };
        for i in open {
            let c = &mut changes[i];
            let Some(contact) = &c.record else { continue };
            match rules.decide(contact, &pool) {
                MatchDecision::Linked { candidate, key } => {
                    let name = name_of(&candidate);
                    link_matched(
                        c,
                        pool.get(candidate).cloned(),
                        name,
                        format!("matched by {key}"),
                    );
                }
                MatchDecision::Ambiguous { key, candidates } => {
                    let names: Vec<String> = candidates.iter().map(name_of).collect();
                    c.outcome = Some(Outcome::parked(format!(
                        "for review: {}: several Intacct contacts share its {key} ({}); link one \
                         by setting Intacct_Contact_Name__c, then replay",
                        c.reference(),
                        names.join(", ")
                    )));
                }
                MatchDecision::Review { candidate, score } => {
                    c.outcome = Some(Outcome::parked(format!(
                        "for review: {}: Intacct contact {} is similar (score {score:.2}) but \
                         shares no key; link it by setting Intacct_Contact_Name__c, then replay",
                        c.reference(),
                        name_of(&candidate)
                    )));
                }
                MatchDecision::NoMatch => {}
            }
        }
    }

    /// CUSTOMERs no Account is linked to or carries: an Account upserted on
    /// `Intacct_Customer_ID__c` (one call), so a retry finds the Account it made.
    async fn create_accounts(
        &self,
        changes: &mut [Change],
        pair_plans: &[(&MappingPlan, &MappingPlan)],
    ) {
        let open: Vec<usize> = (0..changes.len())
            .filter(|i| {
                let c = &changes[*i];
                c.open()
                    && c.side == Side::Intacct
                    && c.counterpart.is_none()
                    && PAIRINGS[c.pairing].creates_salesforce
            })
            .collect();
        let mut records = Vec::new();
        let mut sent = Vec::new();
        for i in open {
            let c = &mut changes[i];
            let p = &PAIRINGS[c.pairing];
            let (_, to_s) = pair_plans[c.pairing];
            let Some(record) = &c.record else { continue };
            match mapped(to_s, record) {
                Ok(mut fields) => {
                    fields.remove("Id");
                    fields.insert(p.salesforce_link.to_owned(), Value::String(c.id.clone()));
                    records.push(fields);
                    sent.push(i);
                }
                Err(reason) => c.outcome = Some(Outcome::parked(reason)),
            }
        }
        if records.is_empty() {
            return;
        }
        let p = &PAIRINGS[0];
        match self
            .ports
            .salesforce()
            .upsert(p.salesforce, p.salesforce_link, records.clone())
            .await
        {
            Ok(results) => {
                for ((i, result), fields) in sent.iter().zip(results).zip(records) {
                    let c = &mut changes[*i];
                    match result {
                        WriteResult::Saved { id, .. } => {
                            let mut account = fields;
                            account.insert("Id".to_owned(), Value::String(id.as_str().to_owned()));
                            c.counterpart = Some(id.as_str().to_owned());
                            c.other = Some(Value::Object(account));
                            c.new_link = Some("created".to_owned());
                        }
                        WriteResult::Failed(f) => {
                            c.outcome = Some(Outcome::failed(
                                f.class,
                                format!(
                                    "creating the Account of {}: {} {}",
                                    c.reference(),
                                    f.code,
                                    f.message
                                ),
                            ));
                        }
                    }
                }
            }
            Err(e) => {
                let reason = format!("creating Accounts: {e}");
                fail_all(changes, &sent, e.class(), &reason);
            }
        }
    }

    /// Contacts of linked Accounts that no CONTACT is linked to or matches: a CONTACT each,
    /// made at the top level in one request, keyed by the Contact's id (its `controlid`), so
    /// a retried batch finds the CONTACT an earlier attempt made instead of making another.
    async fn create_contacts(
        &self,
        changes: &mut [Change],
        pair_plans: &[(&MappingPlan, &MappingPlan)],
    ) {
        let p = &PAIRINGS[1];
        let (to_i, _) = pair_plans[1];
        let open: Vec<usize> = (0..changes.len())
            .filter(|i| {
                let c = &changes[*i];
                c.open() && c.pairing == 1 && c.counterpart.is_none() && self.creates_for(c)
            })
            .collect();
        let mut writes = Vec::new();
        let mut sent = Vec::new();
        for i in open {
            let c = &mut changes[i];
            let Some(record) = &c.record else { continue };
            let fields = match mapped(to_i, record) {
                Ok(fields) => fields,
                Err(reason) => {
                    c.outcome = Some(Outcome::parked(reason));
                    continue;
                }
            };
            let (Ok(link), Ok(key)) = (
                SalesforceId::parse(&c.id),
                IdempotencyKey::derive(CONTACT_KEY_NAMESPACE, &[c.id.as_str()]),
            ) else {
                c.outcome = Some(Outcome::parked(format!(
                    "{}: no idempotency key for its CONTACT",
                    c.reference()
                )));
                continue;
            };
            writes.push(IdempotentWrite {
                key,
                object: p.intacct.clone(),
                link,
                fields,
            });
            sent.push(i);
        }
        if writes.is_empty() {
            return;
        }
        let entity = p.intacct.default_entity(None);
        match self
            .ports
            .intacct()
            .create_missing(entity.as_ref(), &writes)
            .await
        {
            Ok(results) => {
                for ((i, result), write) in sent.iter().zip(results).zip(writes) {
                    let c = &mut changes[*i];
                    let sent_name =
                        text(&Value::Object(write.fields.clone()), p.intacct.id_field())
                            .map(str::to_owned);
                    match result {
                        Ok(created) => {
                            let name = created
                                .record
                                .id
                                .clone()
                                .or_else(|| {
                                    created
                                        .record
                                        .field(p.intacct.id_field())
                                        .map(str::to_owned)
                                })
                                .or(sent_name);
                            let Some(name) = name else {
                                c.outcome = Some(Outcome::failed(
                                    ErrorClass::Transient,
                                    format!(
                                        "the CONTACT of {} was created without a {} in the answer",
                                        c.reference(),
                                        p.intacct.id_field()
                                    ),
                                ));
                                continue;
                            };
                            let mut contact = write.fields;
                            contact.insert(
                                p.intacct.link_field().to_owned(),
                                Value::String(c.id.clone()),
                            );
                            c.counterpart = Some(name);
                            c.other = Some(Value::Object(contact));
                            c.new_link = Some("created".to_owned());
                        }
                        Err(e) => {
                            c.outcome = Some(Outcome::failed(
                                e.class(),
                                format!("creating the CONTACT of {}: {e}", c.reference()),
                            ));
                        }
                    }
                }
            }
            Err(e) => {
                let reason = format!("creating CONTACTs: {e}");
                fail_all(changes, &sent, e.class(), &reason);
            }
        }
    }

    /// Writes the planned fields: Intacct updates in one request per owning entity,
    /// Salesforce updates in one call. A failed write decides its change's outcome.
    async fn apply(&self, changes: &mut [Change], planned: &[Option<PairPlan>]) -> usize {
        let ports = &self.ports;
        let mut by_entity: BTreeMap<Option<String>, Vec<(usize, RecordUpdate)>> = BTreeMap::new();
        let mut sf: Vec<(usize, (String, SfRecord))> = Vec::new();
        for (i, c) in changes.iter().enumerate() {
            let (Some(plan), true) = (&planned[i], c.open()) else {
                continue;
            };
            let p = &PAIRINGS[c.pairing];
            let Some(counterpart) = &c.counterpart else {
                continue;
            };
            let (sf_id, ia_key, ia_record) = match c.side {
                Side::Salesforce => (&c.id, counterpart, c.other.as_ref()),
                Side::Intacct => (counterpart, &c.id, c.record.as_ref()),
            };
            if !plan.to_intacct.is_empty() {
                let entity = ia_record
                    .and_then(|r| text(r, "MEGAENTITYID"))
                    .map(str::to_owned);
                by_entity.entry(entity).or_default().push((
                    i,
                    RecordUpdate {
                        object: p.intacct.clone(),
                        key: ia_key.clone(),
                        fields: plan.to_intacct.clone(),
                    },
                ));
            }
            if !plan.to_salesforce.is_empty() {
                let mut record = plan.to_salesforce.clone();
                record.insert("Id".to_owned(), Value::String(sf_id.clone()));
                sf.push((i, (p.salesforce.to_owned(), record)));
            }
        }
        let mut writes = 0;
        for (entity, updates) in by_entity {
            let entity = entity.and_then(|e| EntityId::parse(&e).ok());
            let list: Vec<RecordUpdate> = updates.iter().map(|(_, u)| u.clone()).collect();
            match ports.intacct().update(entity.as_ref(), &list).await {
                Ok(results) => {
                    for ((i, u), r) in updates.iter().zip(results) {
                        match r {
                            Ok(()) => writes += 1,
                            Err(e) => {
                                changes[*i].outcome = Some(Outcome::failed(
                                    e.class(),
                                    format!("updating {} {}: {e}", u.object.name(), u.key),
                                ));
                            }
                        }
                    }
                }
                Err(e) => {
                    let which: Vec<usize> = updates.iter().map(|(i, _)| *i).collect();
                    let reason = format!("updating Intacct records: {e}");
                    fail_all(changes, &which, e.class(), &reason);
                }
            }
        }
        // Salesforce writes only for changes whose Intacct write went through (a retry of
        // the change then redoes both, and the diff leaves out what is already there).
        let sf: Vec<(usize, (String, SfRecord))> =
            sf.into_iter().filter(|(i, _)| changes[*i].open()).collect();
        if !sf.is_empty() {
            let list: Vec<(String, SfRecord)> = sf.iter().map(|(_, r)| r.clone()).collect();
            match ports.salesforce().update_mixed(list).await {
                Ok(results) => {
                    for ((i, (object, _)), r) in sf.iter().zip(results) {
                        match r {
                            WriteResult::Saved { .. } => writes += 1,
                            WriteResult::Failed(f) => {
                                changes[*i].outcome = Some(Outcome::failed(
                                    f.class,
                                    format!("updating the {object}: {} {}", f.code, f.message),
                                ));
                            }
                        }
                    }
                }
                Err(e) => {
                    let which: Vec<usize> = sf.iter().map(|(i, _)| *i).collect();
                    let reason = format!("updating Salesforce records: {e}");
                    fail_all(changes, &which, e.class(), &reason);
                }
            }
        }
        writes
    }
}

/// Why a change with no counterpart is done: nothing to pair it with.
fn unpaired(c: &Change) -> String {
    let p = &PAIRINGS[c.pairing];
    match c.side {
        Side::Salesforce if c.pairing == 0 => format!(
            "{} has no Intacct customer; account-onboarding creates the customers of \
             qualifying Accounts, account-sync only links them",
            c.reference()
        ),
        Side::Salesforce => format!(
            "{} has no linked Intacct {}; nothing to sync",
            c.reference(),
            p.intacct.name()
        ),
        Side::Intacct => format!(
            "{} has no linked {}; nothing to sync",
            c.reference(),
            p.salesforce
        ),
    }
}

/// Links a Salesforce change to the Intacct record matching found, unless that record already
/// carries another Salesforce id (it is someone else's counterpart: a person decides).
fn link_matched(c: &mut Change, found: Option<Value>, key: String, how: String) {
    let p = &PAIRINGS[c.pairing];
    let carried = found
        .as_ref()
        .and_then(|r| text(r, p.intacct.link_field()))
        .map(str::to_owned);
    match carried {
        Some(other) if other != c.id => {
            c.outcome = Some(Outcome::parked(format!(
                "for review: {} matches Intacct {} {key} ({how}), which is linked to {} {other}",
                c.reference(),
                p.intacct.name(),
                p.salesforce
            )));
        }
        _ => {
            c.other = found;
            c.counterpart = Some(key);
            c.new_link = Some(how);
        }
    }
}

fn other_side(side: Side) -> Side {
    match side {
        Side::Salesforce => Side::Intacct,
        Side::Intacct => Side::Salesforce,
    }
}

fn plan_dir_side(plan: &MappingPlan) -> Side {
    match plan.source_system() {
        System::Salesforce => Side::Salesforce,
        System::Intacct => Side::Intacct,
    }
}

fn key_of(p: &Pairing, record: &Value) -> Option<String> {
    text(record, p.intacct.id_field()).map(str::to_owned)
}

fn ids_of(records: &[SfRecord]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| r.get("Id").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

async fn store_link<X: XrefStore>(
    xref: &X,
    p: &Pairing,
    salesforce: &str,
    intacct: &str,
    now: DateTime<Utc>,
) -> Result<(), (ErrorClass, String)> {
    let sf = SalesforceId::parse(salesforce)
        .map_err(|e| (ErrorClass::Permanent, format!("{salesforce}: {e}")))?;
    let key = IntacctKey::parse(intacct)
        .map_err(|e| (ErrorClass::Permanent, format!("{intacct}: {e}")))?;
    let link = XrefLink {
        kind: p.link,
        salesforce: sf,
        intacct: IntacctRef { entity: None, key },
        linked_at: now,
    };
    xref.link(&link).await.map(|_| ()).map_err(|e| {
        (
            e.class(),
            format!(
                "linking {} {salesforce} and {} {intacct}: {e}",
                p.salesforce,
                p.intacct.name()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use lf_mapping::SpecBundle;
    use serde_json::json;

    use super::*;

    const ACCOUNT: &str = "001000000000001AAA";

    fn specs() -> SpecSet {
        SpecBundle::shipped().compile().unwrap()
    }

    fn account(phone: &str, name: &str, modified: &str) -> Value {
        json!({"Id": ACCOUNT, "Name": name, "Type": "Customer - Direct", "Phone": phone,
               "BillingCountry": "United States", "Intacct_Customer_ID__c": "C-1",
               "Intacct_Sync_Status__c": "Synced", "LastModifiedDate": modified})
    }

    fn customer(phone: &str, name: &str, modified: &str) -> Value {
        json!({"CUSTOMERID": "C-1", "NAME": name, "STATUS": "active", "SFDC_ACCOUNT_ID": ACCOUNT,
               "CUSTTYPE": "Direct", "WHENMODIFIED": modified,
               "DISPLAYCONTACT": {"CONTACTNAME": "Acme(C-1)", "PRINTAS": name, "COMPANYNAME": name,
                                  "PHONE1": phone, "MAILADDRESS": {"COUNTRY": "United States", "ISOCOUNTRYCODE": "US"}}})
    }

    const EARLY: &str = "2026-05-01T10:00:00.000+0000";
    const LATE: &str = "2026-05-02T10:00:00.000+0000";
    const EARLY_IA: &str = "05/01/2026 10:00:00";
    const LATE_IA: &str = "05/02/2026 10:00:00";

    #[test]
    fn an_echo_is_a_record_whose_values_match_the_last_fingerprint() {
        let specs = specs();
        let (to_i, _) = plans(&specs, &PAIRINGS[0]).unwrap();
        let a = account("1", "Acme", LATE);
        let f = fingerprint(to_i, &a).unwrap();
        assert!(is_echo(to_i, &a, Some(&f)).unwrap());
        assert!(
            !is_echo(to_i, &a, None).unwrap(),
            "never synced: not an echo"
        );
        // A change outside the mapping (the stamp) is still an echo; a mapped one is not.
        assert!(is_echo(to_i, &account("1", "Acme", EARLY), Some(&f)).unwrap());
        assert!(!is_echo(to_i, &account("2", "Acme", LATE), Some(&f)).unwrap());
    }

    #[test]
    fn the_changed_side_wins_when_the_other_is_as_last_synced() {
        let specs = specs();
        let (to_i, to_s) = plans(&specs, &PAIRINGS[0]).unwrap();
        // The customer was modified later (outside the mapping), but not since the sync.
        let a = account("+1 555 0199", "Acme", EARLY);
        let c = customer("+1 555 0100", "Acme", LATE_IA);
        let stored_c = fingerprint(to_s, &c).unwrap();
        let plan = plan_pair(to_i, to_s, Side::Salesforce, &a, &c, None, Some(&stored_c)).unwrap();
        assert_eq!(plan.winner, Side::Salesforce);
        assert!(!plan.conflict);
        assert_eq!(
            plan.to_intacct,
            json!({"DISPLAYCONTACT": {"PHONE1": "+1 555 0199"}})
                .as_object()
                .unwrap()
                .clone()
        );
        assert!(plan.to_salesforce.is_empty(), "nothing back to the source");
        // What was written comes back as an echo, on both records.
        let c_after = applied(&c, &plan.to_intacct);
        assert!(is_echo(to_s, &c_after, Some(&plan.intacct_fingerprint)).unwrap());
        assert!(is_echo(to_i, &a, Some(&plan.salesforce_fingerprint)).unwrap());
        // Planned again from the echo's side: the values round-trip, nothing to write.
        let again = plan_pair(
            to_i,
            to_s,
            Side::Intacct,
            &a,
            &c_after,
            Some(&plan.salesforce_fingerprint),
            Some(&plan.intacct_fingerprint),
        )
        .unwrap();
        assert!(again.to_intacct.is_empty() && again.to_salesforce.is_empty());
    }

    #[test]
    fn a_conflict_goes_to_the_owner_then_to_the_side_modified_last() {
        let specs = specs();
        let (to_i, to_s) = plans(&specs, &PAIRINGS[0]).unwrap();
        let synced_a = fingerprint(to_i, &account("0", "Acme", EARLY)).unwrap();
        let synced_c = fingerprint(to_s, &customer("0", "Acme", EARLY_IA)).unwrap();
        // Both changed the phone and the name; Intacct was modified last.
        let a = account("sf", "Acme Salesforce", EARLY);
        let c = customer("ia", "Acme Intacct", LATE_IA);
        for source in [Side::Salesforce, Side::Intacct] {
            let plan =
                plan_pair(to_i, to_s, source, &a, &c, Some(&synced_a), Some(&synced_c)).unwrap();
            assert!(plan.conflict);
            assert_eq!(plan.winner, Side::Intacct, "from {source:?}");
            assert_eq!(plan.to_salesforce.get("Phone"), Some(&json!("ia")));
            assert!(
                !plan.to_salesforce.contains_key("Name"),
                "Salesforce owns the name"
            );
            assert_eq!(plan.to_intacct.get("NAME"), Some(&json!("Acme Salesforce")));
            assert!(
                plan.to_intacct
                    .get("DISPLAYCONTACT")
                    .and_then(|d| d.get("PHONE1"))
                    .is_none(),
                "the later phone stays"
            );
        }
    }

    #[test]
    fn a_tie_goes_to_salesforce_whichever_side_reports_it() {
        let specs = specs();
        let (to_i, to_s) = plans(&specs, &PAIRINGS[0]).unwrap();
        let synced_a = fingerprint(to_i, &account("0", "Acme", EARLY)).unwrap();
        let synced_c = fingerprint(to_s, &customer("0", "Acme", EARLY_IA)).unwrap();
        let a = account("sf", "Acme", "2026-05-02T10:00:00.000+0000");
        let c = customer("ia", "Acme", LATE_IA);
        let plans_: Vec<PairPlan> = [Side::Salesforce, Side::Intacct]
            .into_iter()
            .map(|s| plan_pair(to_i, to_s, s, &a, &c, Some(&synced_a), Some(&synced_c)).unwrap())
            .collect();
        assert_eq!(plans_[0], plans_[1], "the same decision from either event");
        assert_eq!(plans_[0].winner, Side::Salesforce);
        assert_eq!(
            plans_[0].to_intacct.get("DISPLAYCONTACT"),
            Some(&json!({"PHONE1": "sf"}))
        );
        assert!(plans_[0].to_salesforce.is_empty());
    }

    #[test]
    fn a_never_synced_counterpart_counts_as_changed_only_when_modified_later() {
        let specs = specs();
        let (to_i, to_s) = plans(&specs, &PAIRINGS[0]).unwrap();
        let a = account("sf", "Acme", LATE);
        let older = customer("ia", "Acme", EARLY_IA);
        let plan = plan_pair(to_i, to_s, Side::Salesforce, &a, &older, None, None).unwrap();
        assert!(!plan.conflict);
        assert_eq!(plan.winner, Side::Salesforce);
        let a = account("sf", "Acme", EARLY);
        let newer = customer("ia", "Acme", LATE_IA);
        let plan = plan_pair(to_i, to_s, Side::Salesforce, &a, &newer, None, None).unwrap();
        assert!(plan.conflict);
        assert_eq!(plan.winner, Side::Intacct);
        assert_eq!(plan.to_salesforce.get("Phone"), Some(&json!("ia")));
    }

    #[test]
    fn items_group_by_record_across_both_systems() {
        let item = |system: System, object: &str, id: &str| WorkItem {
            message_id: format!("{object}-{id}"),
            receive_count: 1,
            envelope: lf_domain::ChangeEnvelope {
                v: 1,
                flow: FLOW,
                record: RecordRef {
                    system,
                    object: object.into(),
                    id: id.into(),
                },
                origin: lf_domain::EventOrigin::Poller,
                modified_at: None,
                correlation_id: CorrelationId::new_random(),
                received_at: Utc::now(),
            },
        };
        let (records, per_item) = group(&[
            item(System::Salesforce, "Account", ACCOUNT),
            item(System::Intacct, "customer", "C-1"),
            item(System::Salesforce, "Account", ACCOUNT),
            item(System::Intacct, "CONTACT", "Ada Moreno"),
            item(System::Salesforce, "Opportunity", "006000000000001AAA"),
        ]);
        assert_eq!(records.len(), 3);
        assert_eq!(per_item[0], per_item[2]);
        assert_eq!(records[1].side, Side::Intacct);
        assert_eq!(records[2].pairing, 1);
        assert!(matches!(per_item[4], Err(Outcome::Parked { .. })));
    }
}
