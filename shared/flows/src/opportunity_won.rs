//! **opportunity-won** (DESIGN.md §1): a Closed Won Opportunity becomes, in the entity it
//! routes to, an Intacct customer (the Account's, found or made — [`crate::customer`]) and an
//! AR invoice or Order Entry sales order built from its products, or from the lines of its
//! primary CPQ quote. The ids go back to Salesforce in one call for the batch.
//!
//! Per batch, at most: Salesforce — one read of the Opportunities with their Accounts and
//! products, one read of the primary quotes (only when a deal has one), one write-back;
//! Intacct — one read request (candidate customers and documents already carrying the deals'
//! ids, every entity), one request creating the missing customers, and one per entity
//! creating the missing documents. A change already synced costs one Salesforce read.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::join_all;
use lf_domain::port::{
    AuditAction, AuditEntry, AuditLog, FieldTree, IdempotentWrite, IntacctObject, IntacctPort,
    IntacctRecord, LinkKind, QueryFilter, RecordQuery, RecordRead, SalesforcePort, XrefLink,
    XrefStore,
};
use lf_domain::{
    Classify, CorrelationId, EntityId, ErrorClass, Flow, IdempotencyKey, IntacctKey, IntacctRef,
    RecordRef, SalesforceId,
};
use lf_mapping::{Entity, MapContext, Mapped, MappingPlan, SpecSet};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::batch::{BatchContext, FlowHandler, Outcome, WorkItem};
use crate::customer::{self, AccountNeed, Unresolved};
use crate::items::{self, SalesforceRecords};
use crate::ports::Ports;
use crate::records::{at, decimal, set, text};
use crate::setup::{self, SetupError};
use crate::writeback::WriteBack;

const FLOW: Flow = Flow::OpportunityWon;

/// The document a won deal becomes in an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DocumentKind {
    /// An AR invoice (`create_invoice`), mapping `invoice`.
    #[default]
    Invoice,
    /// An Order Entry transaction (`create_sotransaction`), mapping `sales_order`.
    SalesOrder,
}

/// How the flow is set up.
#[derive(Debug, Clone)]
pub struct OpportunityWonOptions {
    /// The document of entities not listed in `documents`.
    pub default_document: DocumentKind,
    /// The document per entity, where it is not the default.
    pub documents: BTreeMap<EntityId, DocumentKind>,
    /// The Order Entry transaction definition sales orders are created with.
    pub sales_order_type: String,
    /// Build the document from the primary CPQ quote's lines when the deal has one.
    pub cpq: bool,
    /// How far the document's line total may be from the deal's amount (rounding).
    pub amount_tolerance: Decimal,
}

impl Default for OpportunityWonOptions {
    fn default() -> Self {
        Self {
            default_document: DocumentKind::Invoice,
            documents: BTreeMap::new(),
            sales_order_type: "Sales Order".to_owned(),
            cpq: true,
            amount_tolerance: Decimal::new(1, 2),
        }
    }
}

impl OpportunityWonOptions {
    fn document_for(&self, entity: Option<&EntityId>) -> DocumentKind {
        entity
            .and_then(|e| self.documents.get(e))
            .copied()
            .unwrap_or(self.default_document)
    }
}

/// The mapping names this flow uses.
const CUSTOMER: &str = "customer";
const INVOICE: &str = "invoice";
const SALES_ORDER: &str = "sales_order";
const QUOTE_ORDER: &str = "quote_order";

/// Fields the flow itself reads of each Opportunity, beyond what the mappings read.
const OPPORTUNITY_FIELDS: [&str; 13] = [
    "SystemModstamp",
    "IsWon",
    "Amount",
    "AccountId",
    "CurrencyIsoCode",
    "Intacct_Invoice_ID__c",
    "Intacct_Sales_Order_ID__c",
    "Intacct_Sync_Status__c",
    "Intacct_Sync_Error__c",
    "SBQQ__PrimaryQuote__c",
    "Account.Id",
    "Account.Intacct_Customer_ID__c",
    "Account.Intacct_Entity__c",
];

/// The opportunity-won flow handler.
#[derive(Debug)]
pub struct OpportunityWon<P> {
    ports: P,
    specs: Arc<SpecSet>,
    options: OpportunityWonOptions,
    opportunity_read: RecordRead,
    quote_read: RecordRead,
}

impl<P: Ports> OpportunityWon<P> {
    /// Checks that `specs` has the flow's mappings and derives the reads from them.
    pub fn new(
        ports: P,
        specs: Arc<SpecSet>,
        options: OpportunityWonOptions,
    ) -> Result<Self, SetupError> {
        let customer = setup::mapping(&specs, FLOW, CUSTOMER, "Account", "CUSTOMER")?;
        let invoice = setup::mapping(&specs, FLOW, INVOICE, "Opportunity", "ARINVOICE")?;
        let order = setup::mapping(&specs, FLOW, SALES_ORDER, "Opportunity", "SOTRANSACTION")?;
        let quote = setup::mapping(&specs, FLOW, QUOTE_ORDER, "SBQQ__Quote__c", "SOTRANSACTION")?;

        let mut reads = invoice.reads().clone();
        reads.merge(order.reads());
        let mut paths = reads.paths();
        paths.extend(OPPORTUNITY_FIELDS.iter().map(|f| (*f).to_owned()));
        paths.extend(
            customer
                .reads()
                .paths()
                .into_iter()
                .map(|p| format!("Account.{p}")),
        );
        let mut opportunity_read = RecordRead::from_paths("Opportunity", &paths, &[]);
        for (name, lines) in reads.collections() {
            let mut fields = lines.paths();
            fields.extend(["Quantity", "UnitPrice", "TotalPrice", "Discount"].map(String::from));
            dedup(&mut fields);
            opportunity_read = opportunity_read.with_child(name, &fields);
        }
        let mut quote_paths = quote.reads().paths();
        quote_paths.extend(
            [
                "SystemModstamp",
                "SBQQ__NetAmount__c",
                "SBQQ__Account__r.Id",
            ]
            .map(String::from),
        );
        let mut quote_read = RecordRead::from_paths("SBQQ__Quote__c", &quote_paths, &[]);
        for (name, lines) in quote.reads().collections() {
            let mut fields = lines.paths();
            fields.extend(["SBQQ__Quantity__c", "SBQQ__NetPrice__c"].map(String::from));
            dedup(&mut fields);
            quote_read = quote_read.with_child(name, &fields);
        }
        for read in [&mut opportunity_read.fields, &mut quote_read.fields] {
            dedup(read);
        }
        Ok(Self {
            ports,
            specs,
            options,
            opportunity_read,
            quote_read,
        })
    }

    /// What the flow reads of each Opportunity (for `ledgerforce mapping check` and tests).
    pub fn opportunity_read(&self) -> &RecordRead {
        &self.opportunity_read
    }
}

fn dedup(fields: &mut Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    fields.retain(|f| seen.insert(f.clone()));
}

/// The compiled mappings, looked up once per batch (checked at construction).
struct Plans<'a> {
    customer: &'a MappingPlan,
    invoice: &'a MappingPlan,
    order: &'a MappingPlan,
    quote: &'a MappingPlan,
}

/// One deal of the batch on its way.
#[derive(Debug)]
struct Deal {
    id: SalesforceId,
    record: Value,
    correlation: CorrelationId,
    hold: Option<items::Hold>,
    entity: Option<Arc<Entity>>,
    kind: DocumentKind,
    quote: Option<Value>,
    account: Option<SalesforceId>,
    customer: Option<String>,
    /// The document's Intacct key, once known.
    document: Option<String>,
    created_document: bool,
    created_customer: bool,
    outcome: Option<Outcome>,
}

impl Deal {
    fn open(&self) -> bool {
        self.outcome.is_none()
    }

    fn park(&mut self, reason: impl Into<String>) {
        if self.outcome.is_none() {
            self.outcome = Some(Outcome::parked(reason));
        }
    }

    fn fail(&mut self, (class, reason): (ErrorClass, String)) {
        if self.outcome.is_none() {
            self.outcome = Some(Outcome::failed(class, reason));
        }
    }

    fn link_kind(&self) -> LinkKind {
        match self.kind {
            DocumentKind::Invoice => LinkKind::OpportunityInvoice,
            DocumentKind::SalesOrder => LinkKind::OpportunityOrder,
        }
    }

    fn id_field(&self) -> &'static str {
        match self.kind {
            DocumentKind::Invoice => "Intacct_Invoice_ID__c",
            DocumentKind::SalesOrder => "Intacct_Sales_Order_ID__c",
        }
    }
}

impl<P: Ports> FlowHandler for OpportunityWon<P> {
    fn flow(&self) -> Flow {
        FLOW
    }

    async fn handle_batch(&self, items: &[WorkItem], context: &BatchContext) -> Vec<Outcome> {
        let records = SalesforceRecords::of(items, "Opportunity", FLOW);
        let outcomes = match self.plans() {
            Ok(plans) => self.run(&plans, &records, context).await,
            Err(error) => vec![Outcome::parked(error.to_string()); records.ids.len()],
        };
        records.outcomes(&outcomes)
    }
}

impl<P: Ports> OpportunityWon<P> {
    fn plans(&self) -> Result<Plans<'_>, SetupError> {
        Ok(Plans {
            customer: setup::mapping(&self.specs, FLOW, CUSTOMER, "Account", "CUSTOMER")?,
            invoice: setup::mapping(&self.specs, FLOW, INVOICE, "Opportunity", "ARINVOICE")?,
            order: setup::mapping(
                &self.specs,
                FLOW,
                SALES_ORDER,
                "Opportunity",
                "SOTRANSACTION",
            )?,
            quote: setup::mapping(
                &self.specs,
                FLOW,
                QUOTE_ORDER,
                "SBQQ__Quote__c",
                "SOTRANSACTION",
            )?,
        })
    }

    fn object_of(&self, kind: DocumentKind) -> IntacctObject {
        match kind {
            DocumentKind::Invoice => IntacctObject::ArInvoice,
            DocumentKind::SalesOrder => IntacctObject::SalesDocument {
                transaction_type: self.options.sales_order_type.clone(),
            },
        }
    }

    async fn run(
        &self,
        plans: &Plans<'_>,
        records: &SalesforceRecords,
        context: &BatchContext,
    ) -> Vec<Outcome> {
        let ports = &self.ports;
        if records.ids.is_empty() {
            return Vec::new();
        }
        // Capture: the deals as they are now.
        let read = match ports
            .salesforce()
            .read_by_ids(&self.opportunity_read, &records.ids)
            .await
        {
            Ok(read) => read,
            Err(e) => {
                let outcome = Outcome::failed(e.class(), format!("reading the Opportunities: {e}"));
                return vec![outcome; records.ids.len()];
            }
        };
        let mut deals: Vec<Deal> = records
            .ids
            .iter()
            .zip(&records.correlations)
            .map(|(id, correlation)| {
                let record = read.get(id).map(|r| Value::Object(r.clone()));
                Deal {
                    id: id.clone(),
                    outcome: record.is_none().then(|| {
                        Outcome::done("the Opportunity is deleted or not visible; nothing to do")
                    }),
                    record: record.unwrap_or(Value::Null),
                    correlation: correlation.clone(),
                    hold: None,
                    entity: None,
                    kind: DocumentKind::Invoice,
                    quote: None,
                    account: None,
                    customer: None,
                    document: None,
                    created_document: false,
                    created_customer: false,
                }
            })
            .collect();

        // Each change once: the key is the record and its modification stamp.
        let open: Vec<usize> = (0..deals.len()).filter(|i| deals[*i].open()).collect();
        let stamps: Vec<_> = open
            .iter()
            .map(|i| items::stamped("Opportunity", &deals[*i].id, &deals[*i].record))
            .collect();
        let gates = items::gate(ports.idempotency(), FLOW, &stamps, context.deadline).await;
        for (i, gate) in open.into_iter().zip(gates) {
            match gate {
                Ok(hold) => deals[i].hold = hold,
                Err(outcome) => deals[i].outcome = Some(outcome),
            }
        }

        // Plan, first pass: what each deal is.
        for d in deals.iter_mut().filter(|d| d.open()) {
            self.classify(plans, d);
        }
        // Deals already linked to their document need no Intacct request.
        self.find_stored_documents(&mut deals).await;

        // Primary quotes, one read for the batch.
        self.read_quotes(&mut deals).await;

        // Customers (and the documents already carrying the deals' ids), one read request.
        let needs: Vec<usize> = (0..deals.len())
            .filter(|i| deals[*i].open() && deals[*i].document.is_none())
            .collect();
        let existing = self.resolve_customers(plans, &mut deals, &needs).await;

        // Apply: documents, per entity.
        self.create_documents(plans, &mut deals, existing).await;
        self.link_documents(&deals).await;

        // Write back, one call.
        self.write_back(&mut deals).await;
        self.audit(&deals).await;

        let mut outcomes = Vec::with_capacity(deals.len());
        for d in &mut deals {
            let outcome = d.outcome.clone().unwrap_or_else(|| {
                Outcome::done(match (&d.document, d.created_document) {
                    (Some(doc), true) => format!(
                        "created {doc} for customer {}",
                        d.customer.as_deref().unwrap_or("?")
                    ),
                    (Some(doc), false) => format!("already synced as {doc}"),
                    (None, _) => "nothing to do".to_owned(),
                })
            });
            if let Some(hold) = d.hold.take() {
                items::finish(ports.idempotency(), hold, &outcome).await;
            }
            tracing::info!(
                flow = %FLOW,
                salesforce_id = %d.id,
                intacct_key = d.document.as_deref().unwrap_or(""),
                outcome = ?outcome,
                "opportunity"
            );
            outcomes.push(outcome);
        }
        outcomes
    }

    /// Whether the deal is won, where it goes, and which document it becomes. Pure.
    fn classify(&self, plans: &Plans<'_>, d: &mut Deal) {
        if at(&d.record, "IsWon") != Some(&Value::Bool(true)) {
            d.outcome = Some(Outcome::done("not Closed Won; nothing to do"));
            return;
        }
        match plans.invoice.route(&d.record) {
            Ok(Some((entity, _rule))) => d.entity = Some(entity),
            Ok(None) => {}
            Err(e) => return d.park(e.to_string()),
        }
        d.kind = self.options.document_for(d.entity.as_ref().map(|e| &e.id));
        if self.options.cpq && text(&d.record, "SBQQ__PrimaryQuote__c").is_some() {
            d.kind = DocumentKind::SalesOrder;
        }
        d.account = text(&d.record, "AccountId").and_then(|a| SalesforceId::parse(a).ok());
        if d.account.is_none() {
            d.park(format!(
                "Opportunity {}: no Account; a document needs a customer",
                d.id
            ));
        }
    }

    async fn find_stored_documents(&self, deals: &mut [Deal]) {
        let xref = self.ports.xref();
        let finds = deals.iter().map(|d| async move {
            if !d.open() {
                return Ok(None);
            }
            xref.find_by_salesforce(d.link_kind(), &d.id).await
        });
        let found = join_all(finds).await;
        for (d, f) in deals.iter_mut().zip(found) {
            match f {
                Ok(Some(link)) => d.document = Some(link.intacct.key.as_str().to_owned()),
                Ok(None) => {}
                Err(e) => d.fail((e.class(), format!("reading the document link: {e}"))),
            }
        }
        // A linked deal still needs its Account's customer written back, when missing: the
        // stored link of the Account gives it without Intacct.
        let accounts = deals
            .iter()
            .filter(|d| d.open() && d.document.is_some())
            .filter_map(|d| d.account.clone())
            .collect::<Vec<_>>();
        let links = customer::stored_links(xref, &accounts).await;
        let mut by_account: BTreeMap<SalesforceId, String> = BTreeMap::new();
        for (a, l) in accounts.into_iter().zip(links) {
            if let Ok(Some(key)) = l {
                by_account.insert(a, key.as_str().to_owned());
            }
        }
        for d in deals
            .iter_mut()
            .filter(|d| d.open() && d.document.is_some())
        {
            d.customer = d.account.as_ref().and_then(|a| by_account.get(a).cloned());
        }
    }

    async fn read_quotes(&self, deals: &mut [Deal]) {
        let ids: Vec<SalesforceId> = deals
            .iter()
            .filter(|d| d.open() && d.document.is_none() && d.kind == DocumentKind::SalesOrder)
            .filter_map(|d| text(&d.record, "SBQQ__PrimaryQuote__c"))
            .filter_map(|q| SalesforceId::parse(q).ok())
            .collect();
        if ids.is_empty() || !self.options.cpq {
            return;
        }
        match self
            .ports
            .salesforce()
            .read_by_ids(&self.quote_read, &ids)
            .await
        {
            Ok(quotes) => {
                for d in deals
                    .iter_mut()
                    .filter(|d| d.open() && d.document.is_none())
                {
                    let Some(q) = text(&d.record, "SBQQ__PrimaryQuote__c")
                        .and_then(|q| SalesforceId::parse(q).ok())
                    else {
                        continue;
                    };
                    match quotes.get(&q) {
                        Some(quote) => d.quote = Some(Value::Object(quote.clone())),
                        None => d.park(format!(
                            "Opportunity {}: its primary quote {q} cannot be read",
                            d.id
                        )),
                    }
                }
            }
            Err(e) => {
                let reason = format!("reading the primary quotes: {e}");
                for d in deals
                    .iter_mut()
                    .filter(|d| d.quote.is_none() && d.kind == DocumentKind::SalesOrder)
                {
                    if text(&d.record, "SBQQ__PrimaryQuote__c").is_some() {
                        d.fail((e.class(), reason.clone()));
                    }
                }
            }
        }
    }

    /// Resolves the customers of `needs` and returns the documents already carrying the
    /// deals' ids (read in the same request), by Opportunity id.
    async fn resolve_customers(
        &self,
        plans: &Plans<'_>,
        deals: &mut [Deal],
        needs: &[usize],
    ) -> BTreeMap<String, String> {
        let mut existing = BTreeMap::new();
        if needs.is_empty() {
            return existing;
        }
        // One Account per customer need, whichever deals share it.
        let mut accounts: Vec<(SalesforceId, usize)> = Vec::new();
        for &i in needs {
            if let Some(a) = &deals[i].account
                && !accounts.iter().any(|(known, _)| known == a)
            {
                accounts.push((a.clone(), i));
            }
        }
        let account_records: Vec<Value> = accounts
            .iter()
            .map(|(_, i)| {
                deals[*i]
                    .record
                    .get("Account")
                    .cloned()
                    .unwrap_or(Value::Null)
            })
            .collect();
        let need_list: Vec<AccountNeed<'_>> = accounts
            .iter()
            .zip(&account_records)
            .map(|((id, i), record)| AccountNeed {
                id: id.clone(),
                record,
                entity: deals[*i].entity.as_deref(),
            })
            .collect();
        let opportunity_ids: Vec<String> = needs
            .iter()
            .map(|i| deals[*i].id.as_str().to_owned())
            .collect();
        let kinds: Vec<DocumentKind> = {
            let mut k: Vec<DocumentKind> = needs.iter().map(|i| deals[*i].kind).collect();
            k.sort_by_key(|k| *k as u8);
            k.dedup();
            k
        };
        let extra: Vec<RecordQuery> = kinds
            .iter()
            .map(|k| document_query(&self.object_of(*k), &opportunity_ids))
            .collect();
        let ports = &self.ports;
        let result = customer::resolve_batch(
            ports.intacct(),
            ports.xref(),
            ports.clock(),
            plans.customer,
            &need_list,
            extra,
        )
        .await;
        drop(need_list);
        let batch = match result {
            Ok(batch) => batch,
            Err(failure) => {
                for &i in needs {
                    deals[i].fail(failure.clone());
                }
                return existing;
            }
        };
        for (kind, answer) in kinds.iter().zip(batch.extra) {
            match answer {
                Ok(records) => {
                    let object = self.object_of(*kind);
                    for r in records {
                        if let (Some(link), Some(key)) =
                            (r.field(object.link_field()), document_key(&object, &r))
                        {
                            existing.insert(link.to_owned(), key);
                        }
                    }
                }
                Err(e) => {
                    let reason = format!("reading existing documents: {e}");
                    for &i in needs {
                        if deals[i].kind == *kind {
                            deals[i].fail((e.class(), reason.clone()));
                        }
                    }
                }
            }
        }
        for ((account, _), resolved) in accounts.iter().zip(batch.customers) {
            for &i in needs {
                let d = &mut deals[i];
                if d.account.as_ref() != Some(account) {
                    continue;
                }
                match &resolved {
                    Ok(r) => {
                        d.customer = Some(r.customer_id.clone());
                        d.created_customer = r.created;
                    }
                    Err(Unresolved::Park(reason)) => d.park(reason.clone()),
                    Err(Unresolved::Retry(class, reason)) => d.fail((*class, reason.clone())),
                }
            }
        }
        existing
    }

    /// Maps and creates the documents still missing, one request per entity.
    async fn create_documents(
        &self,
        plans: &Plans<'_>,
        deals: &mut [Deal],
        existing: BTreeMap<String, String>,
    ) {
        let mut by_entity: BTreeMap<Option<EntityId>, Vec<(usize, IdempotentWrite)>> =
            BTreeMap::new();
        for (i, d) in deals.iter_mut().enumerate() {
            if !d.open() || d.document.is_some() {
                continue;
            }
            if let Some(found) = existing.get(d.id.as_str()) {
                d.document = Some(found.clone());
                continue;
            }
            let Some(customer) = d.customer.clone() else {
                d.park(format!("Opportunity {}: no customer", d.id));
                continue;
            };
            match self.document(plans, d, &customer) {
                Ok(write) => {
                    let object = write.object.clone();
                    let entity = object.default_entity(d.entity.as_ref().map(|e| &e.id));
                    by_entity.entry(entity).or_default().push((i, write));
                }
                Err(reason) => d.park(reason),
            }
        }
        let intacct = self.ports.intacct();
        let requests = by_entity.into_iter().map(|(entity, writes)| async move {
            let batch: Vec<IdempotentWrite> = writes.iter().map(|(_, w)| w.clone()).collect();
            let result = intacct.create_missing(entity.as_ref(), &batch).await;
            (writes, result)
        });
        for (writes, result) in join_all(requests).await {
            match result {
                Ok(results) => {
                    for ((i, w), r) in writes.into_iter().zip(results) {
                        let d = &mut deals[i];
                        match r {
                            Ok(created) => match document_key(&w.object, &created.record) {
                                Some(key) => {
                                    d.created_document = created.status
                                        != lf_domain::port::WriteStatus::AlreadyExisted;
                                    d.document = Some(key);
                                }
                                None => d.fail((
                                    ErrorClass::Transient,
                                    "the document was created without a key in the answer"
                                        .to_owned(),
                                )),
                            },
                            Err(e) => d.fail((
                                e.class(),
                                format!(
                                    "Intacct refused the {} of Opportunity {}: {e}",
                                    w.object.name(),
                                    d.id
                                ),
                            )),
                        }
                    }
                }
                Err(e) => {
                    let reason = format!("creating documents: {e}");
                    for (i, _) in writes {
                        deals[i].fail((e.class(), reason.clone()));
                    }
                }
            }
        }
    }

    /// The document of one deal, mapped. Pure.
    fn document(
        &self,
        plans: &Plans<'_>,
        d: &Deal,
        customer: &str,
    ) -> Result<IdempotentWrite, String> {
        let cx = MapContext {
            entity: d.entity.as_deref(),
            rates: None,
        };
        let (plan, mut source, total_of, expected) = match (&d.quote, d.kind) {
            (Some(quote), _) => {
                let mut q = quote.clone();
                set(
                    &mut q,
                    "SBQQ__Account__r.Intacct_Customer_ID__c",
                    json!(customer),
                );
                let expected = decimal(quote, "SBQQ__NetAmount__c");
                (plans.quote, q, "quote", expected)
            }
            (None, DocumentKind::Invoice) => (
                plans.invoice,
                d.record.clone(),
                "deal",
                decimal(&d.record, "Amount"),
            ),
            (None, DocumentKind::SalesOrder) => (
                plans.order,
                d.record.clone(),
                "deal",
                decimal(&d.record, "Amount"),
            ),
        };
        set(
            &mut source,
            "Account.Intacct_Customer_ID__c",
            json!(customer),
        );
        let fields = match plan.map(&source, &cx).map_err(|e| e.to_string())? {
            Mapped::Record(r) => r.fields,
            Mapped::Skipped => {
                return Err(format!(
                    "Opportunity {}: mapping `{}` skips it",
                    d.id,
                    plan.name()
                ));
            }
        };
        if let Some(expected) = expected {
            let total = document_total(&fields);
            if (total - expected).abs() > self.options.amount_tolerance {
                return Err(format!(
                    "Opportunity {}: the document's lines total {total} but the {total_of} amount is {expected} (difference {}); fix the products or the amount, then replay",
                    d.id,
                    total - expected
                ));
            }
        }
        let key = IdempotencyKey::derive("document-for-opportunity", &[d.id.as_str(), plan.name()])
            .map_err(|e| e.to_string())?;
        Ok(IdempotentWrite {
            key,
            object: self.object_of(d.kind),
            link: d.id.clone(),
            fields,
        })
    }

    async fn link_documents(&self, deals: &[Deal]) {
        let xref = self.ports.xref();
        let now = self.ports.clock().now();
        let links: Vec<XrefLink> = deals
            .iter()
            .filter(|d| d.open())
            .filter_map(|d| {
                let key = IntacctKey::parse(d.document.as_deref()?).ok()?;
                Some(XrefLink {
                    kind: d.link_kind(),
                    salesforce: d.id.clone(),
                    intacct: IntacctRef {
                        entity: d.entity.as_ref().map(|e| e.id.clone()),
                        key,
                    },
                    linked_at: now,
                })
            })
            .collect();
        // A failed link is logged, not raised: the document carries the deal's id, so the
        // next delivery finds it by that and links it then.
        let results = join_all(links.iter().map(|l| xref.link(l))).await;
        for (link, result) in links.iter().zip(results) {
            if let Err(error) = result {
                tracing::warn!(opportunity = %link.salesforce, %error, "document link not stored");
            }
        }
    }

    async fn write_back(&self, deals: &mut [Deal]) {
        let mut wb = WriteBack::default();
        for (i, d) in deals.iter().enumerate() {
            match (&d.outcome, &d.document) {
                (None, Some(doc)) => {
                    wb.synced(
                        "Opportunity",
                        &d.id,
                        &d.record,
                        i,
                        vec![(d.id_field(), json!(doc))],
                    );
                    if let (Some(account), Some(customer)) = (&d.account, &d.customer) {
                        let mut fields = vec![("Intacct_Customer_ID__c", json!(customer))];
                        if let Some(e) = &d.entity {
                            fields.push(("Intacct_Entity__c", json!(e.id.as_str())));
                        }
                        let current = d.record.get("Account").cloned().unwrap_or(Value::Null);
                        wb.set("Account", account, &current, i, fields);
                    }
                }
                (Some(Outcome::Parked { reason }), _)
                    if !d.record.is_null() && d.hold.is_some() =>
                {
                    wb.failed("Opportunity", &d.id, &d.record, i, reason);
                }
                _ => {}
            }
        }
        for (i, failure) in wb.apply(self.ports.salesforce()).await {
            let d = &mut deals[i];
            if d.outcome.is_none() {
                d.fail(failure);
            } else {
                tracing::warn!(opportunity = %d.id, reason = %failure.1, "sync error not written back");
            }
        }
    }

    async fn audit(&self, deals: &[Deal]) {
        let audit = self.ports.audit();
        let now = self.ports.clock().now();
        let mut entries = Vec::new();
        for d in deals {
            let correlation = d.correlation.clone();
            let record = RecordRef::salesforce("Opportunity", &d.id);
            match (&d.outcome, &d.document) {
                (None, Some(doc)) if d.created_document => entries.push(AuditEntry {
                    record: record.clone(),
                    at: now,
                    flow: FLOW,
                    action: AuditAction::Created,
                    correlation_id: correlation,
                    counterpart: Some(RecordRef {
                        system: lf_domain::System::Intacct,
                        object: self.object_of(d.kind).name().to_owned(),
                        id: doc.clone(),
                    }),
                    detail: format!(
                        "{} in {} for customer {}{}",
                        self.object_of(d.kind).name(),
                        d.entity.as_ref().map_or("the top level", |e| e.id.as_str()),
                        d.customer.as_deref().unwrap_or("?"),
                        if d.created_customer {
                            " (customer created)"
                        } else {
                            ""
                        }
                    ),
                }),
                (Some(Outcome::Parked { reason }), _) => entries.push(AuditEntry {
                    record,
                    at: now,
                    flow: FLOW,
                    action: AuditAction::Parked,
                    correlation_id: correlation,
                    counterpart: None,
                    detail: reason.clone(),
                }),
                _ => {}
            }
        }
        for result in join_all(entries.iter().map(|e| audit.append(e))).await {
            if let Err(error) = result {
                tracing::warn!(%error, "audit entry not written");
            }
        }
    }
}

/// The query of the documents of `object` carrying one of `opportunities` (every entity).
fn document_query(object: &IntacctObject, opportunities: &[String]) -> RecordQuery {
    let mut q = RecordQuery::new(
        object.name(),
        ["RECORDNO", object.id_field(), object.link_field()],
    )
    .filter(QueryFilter::In(
        object.link_field().to_owned(),
        opportunities.to_vec(),
    ));
    q.transaction_type = object.transaction_type().map(str::to_owned);
    q
}

/// The key a document is written back and linked by: its id field (RECORDID, DOCID), else
/// RECORDNO.
fn document_key(object: &IntacctObject, record: &IntacctRecord) -> Option<String> {
    record
        .id
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| record.field(object.id_field()).map(str::to_owned))
        .or_else(|| record.record_no.clone())
        .filter(|s| !s.is_empty())
}

/// The total of a mapped document's lines: invoice line `amount`s, or order lines'
/// `quantity × price × (1 − discount%)`.
fn document_total(fields: &FieldTree) -> Decimal {
    let doc = Value::Object(fields.clone());
    let lines = |path: &str| -> Vec<Value> {
        match at(&doc, path) {
            Some(Value::Array(a)) => a.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            _ => Vec::new(),
        }
    };
    let mut total = Decimal::ZERO;
    for line in lines("invoiceitems.lineitem") {
        total += decimal(&line, "amount").unwrap_or_default();
    }
    for line in lines("sotransitems.sotransitem") {
        let quantity = decimal(&line, "quantity").unwrap_or(Decimal::ONE);
        let price = decimal(&line, "price").unwrap_or_default();
        let discount = decimal(&line, "discountpercent").unwrap_or_default();
        total += (quantity * price * (Decimal::ONE_HUNDRED - discount) / Decimal::ONE_HUNDRED)
            .round_dp(2);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(v: Value) -> FieldTree {
        match v {
            Value::Object(m) => m,
            _ => FieldTree::new(),
        }
    }

    #[test]
    fn document_totals_add_invoice_amounts_and_discounted_order_lines() {
        let invoice = tree(json!({"invoiceitems": {"lineitem": [
            {"amount": "48000.00"}, {"amount": "4501.50"}
        ]}}));
        assert_eq!(document_total(&invoice), Decimal::new(5_250_150, 2));
        let one_line = tree(json!({"invoiceitems": {"lineitem": {"amount": "10.05"}}}));
        assert_eq!(document_total(&one_line), Decimal::new(1005, 2));
        let order = tree(json!({"sotransitems": {"sotransitem": [
            {"quantity": "250.00", "price": "12.50", "discountpercent": "10.00"},
            {"quantity": "2.00", "price": "100.00"}
        ]}}));
        assert_eq!(document_total(&order), Decimal::new(301_250, 2));
    }

    #[test]
    fn a_document_is_keyed_by_its_id_field_else_its_record_number() {
        let object = IntacctObject::ArInvoice;
        let with_id = IntacctRecord {
            record_no: Some("77".into()),
            id: Some("INV-0077".into()),
            fields: FieldTree::new(),
        };
        assert_eq!(document_key(&object, &with_id).as_deref(), Some("INV-0077"));
        let bare = IntacctRecord {
            record_no: Some("77".into()),
            id: Some(String::new()),
            fields: FieldTree::new(),
        };
        assert_eq!(document_key(&object, &bare).as_deref(), Some("77"));
        assert_eq!(document_key(&object, &IntacctRecord::default()), None);
    }

    #[test]
    fn documents_per_entity_follow_the_options() {
        let mut options = OpportunityWonOptions::default();
        let uk = EntityId::parse("UK").unwrap();
        options
            .documents
            .insert(uk.clone(), DocumentKind::SalesOrder);
        assert_eq!(options.document_for(Some(&uk)), DocumentKind::SalesOrder);
        assert_eq!(
            options.document_for(Some(&EntityId::parse("US").unwrap())),
            DocumentKind::Invoice
        );
        assert_eq!(options.document_for(None), DocumentKind::Invoice);
    }
}
