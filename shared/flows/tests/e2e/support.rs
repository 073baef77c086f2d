//! One world per test: both sandboxes on loopback with the demo data, the real clients, the
//! embedded store in a temporary folder, the shipped mappings, and the flow handlers.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use lf_domain::port::{IdempotencyConfig, ReceiptHandle, ReceivedMessage};
use lf_domain::{
    ChangeEnvelope, CorrelationId, EventOrigin, Flow, RecordRef, RetryPolicy, SalesforceId,
    SystemClock,
};
use lf_embedded::{
    Database, SqliteAuditLog, SqliteIdempotencyStore, SqliteParkedFailures, SqliteSyncState,
    SqliteXrefStore,
};
use lf_flows::{
    AccountOnboarding, BatchContext, BatchReport, FlowPorts, OpportunityWon, OpportunityWonOptions,
    run_batch,
};
use lf_intacct::{IntacctClient, IntacctConfig};
use lf_mapping::{SpecBundle, SpecSet};
use lf_salesforce::{Credentials, SalesforceClient, SalesforceConfig};
use secrecy::SecretString;
use serde_json::{Value, json};

pub type Ports = FlowPorts<
    SalesforceClient,
    IntacctClient,
    SqliteXrefStore,
    SqliteIdempotencyStore,
    SqliteSyncState,
    SqliteAuditLog,
>;

pub struct World {
    pub org: lf_sandbox_salesforce::Sandbox,
    pub company: lf_sandbox_intacct::Sandbox,
    pub ports: Arc<Ports>,
    pub parked: SqliteParkedFailures,
    pub specs: Arc<SpecSet>,
    /// The embedded store the ports use (its queues and sync state for a poller).
    pub db: Database,
    _dir: tempfile::TempDir,
}

const FAST: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(5),
    cap: Duration::from_millis(100),
    max_attempts: 8,
};

pub fn salesforce_client(org: &lf_sandbox_salesforce::Sandbox) -> SalesforceClient {
    let c = org.credentials();
    let mut config = SalesforceConfig::new(
        url::Url::parse(&org.base_url()).unwrap(),
        Credentials::JwtBearer {
            consumer_key: c.consumer_key.clone(),
            username: c.username.clone(),
            private_key_pem: SecretString::from(c.private_key_pem.clone()),
            audience: None,
        },
    );
    config.retry = FAST;
    config.request_timeout = Duration::from_secs(20);
    // The sandbox commits in-process: a change is final the moment it is stamped, so the
    // poller need not leave the last seconds for the next run.
    config.change_settle = Duration::ZERO;
    SalesforceClient::new(config).unwrap()
}

pub fn intacct_config(company: &lf_sandbox_intacct::Sandbox) -> IntacctConfig {
    let c = company.credentials();
    let mut config = IntacctConfig::new(
        company.endpoint_url(),
        lf_intacct::Credentials {
            sender_id: c.sender_id.clone(),
            sender_password: SecretString::from(c.sender_password.clone()),
            company_id: c.company_id.clone(),
            user_id: c.user_id.clone(),
            user_password: SecretString::from(c.user_password.clone()),
        },
    );
    config.retry = FAST;
    config.request_timeout = Duration::from_secs(30);
    config
}

impl World {
    pub async fn start() -> World {
        Self::start_with(|_| {}).await
    }

    /// A world whose Intacct client is adjusted (cap, limiter).
    pub async fn start_with(adjust: impl FnOnce(&mut IntacctConfig)) -> World {
        Self::start_clocked(adjust, Arc::new(SystemClock)).await
    }

    /// A world whose flows tell the time by `clock` (the sandboxes and the store keep theirs).
    pub async fn start_clocked(
        adjust: impl FnOnce(&mut IntacctConfig),
        clock: Arc<dyn lf_domain::Clock>,
    ) -> World {
        let org = lf_sandbox_salesforce::Sandbox::start(lf_sandbox_salesforce::SandboxConfig {
            seed: lf_sandbox_salesforce::DataSet::Demo,
            ..Default::default()
        })
        .await
        .expect("the Salesforce sandbox starts");
        let company = lf_sandbox_intacct::Sandbox::start(lf_sandbox_intacct::SandboxConfig {
            seed: lf_sandbox_intacct::DataSet::Demo,
            latency: Duration::ZERO,
            ..Default::default()
        })
        .await
        .expect("the Intacct sandbox starts");
        let salesforce = salesforce_client(&org);
        salesforce.connect().await.unwrap();
        let mut config = intacct_config(&company);
        adjust(&mut config);
        let intacct = IntacctClient::new(config).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path().join("state.db"), Arc::new(SystemClock)).unwrap();
        let ports = Arc::new(FlowPorts {
            salesforce,
            intacct,
            xref: db.xref_store(),
            idempotency: db.idempotency_store(IdempotencyConfig::default()),
            state: db.sync_state(),
            audit: db.audit_log(),
            clock,
        });
        let specs = Arc::new(
            SpecBundle::shipped()
                .compile()
                .expect("shipped specs compile"),
        );
        World {
            org,
            company,
            ports,
            parked: db.parked_failures(),
            specs,
            db,
            _dir: dir,
        }
    }

    pub fn opportunity_won(&self) -> OpportunityWon<Arc<Ports>> {
        OpportunityWon::new(
            self.ports.clone(),
            self.specs.clone(),
            OpportunityWonOptions::default(),
        )
        .unwrap()
    }

    pub fn account_onboarding(&self) -> AccountOnboarding<Arc<Ports>> {
        AccountOnboarding::new(self.ports.clone(), self.specs.clone(), Default::default()).unwrap()
    }

    /// The demo records of `object` whose `field` is `value`.
    pub fn records_where(
        &self,
        object: &str,
        field: &str,
        value: &str,
    ) -> Vec<serde_json::Map<String, Value>> {
        self.org
            .records(object)
            .into_iter()
            .filter(|r| r.get(field).and_then(Value::as_str) == Some(value))
            .collect()
    }

    pub fn record(&self, id: &str) -> serde_json::Map<String, Value> {
        self.org.record(id).unwrap_or_else(|| panic!("record {id}"))
    }

    /// Intacct documents (invoices and sales orders) carrying `opportunity`'s id.
    pub fn documents_of(&self, opportunity: &str) -> usize {
        self.company
            .count_where("ARINVOICE", "SFDC_OPPORTUNITY_ID", opportunity)
            + self
                .company
                .count_where("SODOCUMENT", "SFDC_OPPORTUNITY_ID", opportunity)
    }

    pub fn customers_of(&self, account: &str) -> usize {
        self.company
            .count_where("CUSTOMER", "SFDC_ACCOUNT_ID", account)
    }

    /// Closes `opportunity` as a sales user would.
    pub fn close_won(&self, opportunity: &str) {
        self.org
            .update(opportunity, json!({"StageName": "Closed Won"}))
            .unwrap();
    }

    /// A new Account that qualifies as a customer, in `country`.
    pub fn new_account(&self, name: &str, country: &str) -> String {
        self.org
            .insert(
                "Account",
                json!({"Name": name, "Type": "Customer - Direct", "BillingCountry": country,
                       "BillingCity": "Springfield", "BillingPostalCode": "12345",
                       "CurrencyIsoCode": "USD"}),
            )
            .unwrap()
    }

    /// A new Closed Won deal for `account` with one product line of `quantity` × the product's
    /// USD list price.
    pub fn new_won_deal(&self, account: &str, name: &str, quantity: f64) -> String {
        let entry = self
            .org
            .records("PricebookEntry")
            .into_iter()
            .find(|e| e.get("CurrencyIsoCode").and_then(Value::as_str) == Some("USD"))
            .expect("a USD price book entry");
        let pricebook = entry["Pricebook2Id"].as_str().unwrap().to_owned();
        let price = entry["UnitPrice"].as_f64().unwrap();
        let opp = self
            .org
            .insert(
                "Opportunity",
                json!({"Name": name, "AccountId": account, "StageName": "Prospecting",
                       "CloseDate": "2026-03-31", "CurrencyIsoCode": "USD", "Pricebook2Id": pricebook}),
            )
            .unwrap();
        self.org
            .insert(
                "OpportunityLineItem",
                json!({"OpportunityId": opp, "PricebookEntryId": entry["Id"], "Quantity": quantity,
                       "UnitPrice": price}),
            )
            .unwrap();
        self.close_won(&opp);
        opp
    }

    pub async fn run(
        &self,
        handler: &impl lf_flows::FlowHandler,
        messages: &[ReceivedMessage],
    ) -> BatchReport {
        run_batch(handler, &self.parked, messages, &BatchContext::default()).await
    }
}

/// A text field of a record as the sandbox holds it (empty when absent).
pub fn text(record: &serde_json::Map<String, Value>, field: &str) -> String {
    record
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The queue message of a change of `object` `id` for `flow`, as the webhook or the poller
/// would enqueue it.
pub fn message(flow: Flow, object: &str, id: &str, n: usize) -> ReceivedMessage {
    let envelope = ChangeEnvelope {
        v: ChangeEnvelope::VERSION,
        flow,
        record: RecordRef::salesforce(object, &SalesforceId::parse(id).unwrap()),
        origin: EventOrigin::OutboundMessage {
            notification_id: format!("n-{id}-{n}"),
        },
        modified_at: None,
        correlation_id: CorrelationId::new_random(),
        received_at: Utc::now(),
    };
    received(&envelope, format!("m-{n}-{id}"), n)
}

/// `envelope` as the queue hands it to a consumer the first time.
fn received(envelope: &ChangeEnvelope, message_id: String, n: usize) -> ReceivedMessage {
    ReceivedMessage {
        message_id,
        body: serde_json::to_string(envelope).unwrap(),
        receipt: ReceiptHandle(format!("r-{n}")),
        receive_count: 1,
    }
}

pub fn messages(flow: Flow, object: &str, ids: &[String]) -> Vec<ReceivedMessage> {
    ids.iter()
        .enumerate()
        .map(|(n, id)| message(flow, object, id, n))
        .collect()
}

// ---- account-sync ----------------------------------------------------------------------------

impl World {
    pub fn account_sync(&self) -> lf_flows::AccountSync<Arc<Ports>> {
        lf_flows::AccountSync::new(self.ports.clone(), self.specs.clone(), Default::default())
            .unwrap()
    }

    /// `SystemModstamp` of every Account and Contact, by id: what a Salesforce write moves.
    pub fn salesforce_stamps(&self) -> std::collections::BTreeMap<String, String> {
        ["Account", "Contact"]
            .iter()
            .flat_map(|o| self.org.records(o))
            .map(|r| (text(&r, "Id"), text(&r, "SystemModstamp")))
            .collect()
    }

    /// How many Accounts and Contacts were written since `before` (changed stamp or new).
    pub fn salesforce_writes_since(
        &self,
        before: &std::collections::BTreeMap<String, String>,
    ) -> usize {
        self.salesforce_stamps()
            .iter()
            .filter(|(id, stamp)| before.get(*id) != Some(stamp))
            .count()
    }

    /// Intacct records written so far (created, updated, deleted), as the company bills them.
    pub fn intacct_writes(&self) -> u64 {
        self.company.usage().writes
    }

    /// The one Intacct `object` whose `field` is `value`, flattened.
    pub fn intacct_one(
        &self,
        object: &str,
        field: &str,
        value: &str,
    ) -> std::collections::BTreeMap<String, String> {
        let mut found = self.company.find(object, field, value);
        assert_eq!(found.len(), 1, "one {object} with {field} = {value}");
        found.remove(0)
    }
}

// ---- invoice-status and credit-alerts: Intacct receivables driven through the XML API ----

/// The queue message of a change of Intacct `object` `key` for `flow`, as the intacct-webhook
/// or the poller would enqueue it.
pub fn intacct_message(flow: Flow, object: &str, key: &str, n: usize) -> ReceivedMessage {
    let envelope = ChangeEnvelope {
        v: ChangeEnvelope::VERSION,
        flow,
        record: RecordRef::intacct(
            object,
            &lf_domain::IntacctRef::new(None, lf_domain::IntacctKey::parse(key).unwrap()),
        ),
        origin: EventOrigin::SmartEvent {
            event: format!("{object}:{key}:{n}"),
        },
        modified_at: None,
        correlation_id: CorrelationId::new_random(),
        received_at: Utc::now(),
    };
    received(&envelope, format!("m-{n}-{object}-{key}"), n)
}

/// Days from today (negative: in the past).
pub fn day(offset: i64) -> chrono::NaiveDate {
    Utc::now().date_naive() + chrono::Duration::days(offset)
}

impl World {
    pub fn invoice_status(&self) -> lf_flows::InvoiceStatus<Arc<Ports>> {
        lf_flows::InvoiceStatus::new(
            self.ports.clone(),
            self.specs.clone(),
            lf_flows::InvoiceStatusOptions::default(),
        )
        .unwrap()
    }

    pub fn credit_alerts(&self) -> lf_flows::CreditAlerts<Arc<Ports>> {
        lf_flows::CreditAlerts::new(
            self.ports.clone(),
            self.specs.clone(),
            lf_flows::CreditAlertsOptions::default(),
        )
        .unwrap()
    }

    async fn intacct_call(
        &self,
        entity: Option<&str>,
        function: lf_intacct::Function,
    ) -> lf_intacct::ResultData {
        let entity = entity.map(|e| lf_domain::EntityId::parse(e).unwrap());
        self.ports
            .intacct
            .call(entity.as_ref(), function)
            .await
            .unwrap()
    }

    /// A new Salesforce Account and its top-level Intacct customer `id` naming it in
    /// `SFDC_ACCOUNT_ID` (no stored link: the flows find it by that field).
    pub async fn linked_customer(&self, name: &str, id: &str, credit_limit: &str) -> String {
        let account = self.new_account(name, "United States");
        let fields = json!({"CUSTOMERID": id, "NAME": name, "CREDITLIMIT": credit_limit,
            "CURRENCY": "USD", "SFDC_ACCOUNT_ID": account});
        let function =
            lf_intacct::Function::create_fields("CUSTOMER", fields.as_object().unwrap()).unwrap();
        self.intacct_call(None, function).await;
        account
    }

    /// A posted AR invoice of `amount` USD for `customer` in entity US, due on `due`, made
    /// from `opportunity`; returns its RECORDNO.
    pub async fn invoice(
        &self,
        customer: &str,
        opportunity: Option<&str>,
        amount: &str,
        due: chrono::NaiveDate,
    ) -> String {
        let create = lf_intacct::record::InvoiceCreate {
            customer_id: customer.to_owned(),
            date_created: Some(due.min(day(0)) - chrono::Duration::days(30)),
            date_due: Some(due),
            currency: Some("USD".into()),
            custom_fields: opportunity
                .map(|o| vec![("SFDC_OPPORTUNITY_ID".to_owned(), o.to_owned())])
                .unwrap_or_default(),
            lines: vec![lf_intacct::record::InvoiceLineCreate {
                gl_account_no: Some("4000".into()),
                amount: amount.parse().unwrap(),
                location_id: Some("US".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let data = self
            .intacct_call(
                Some("US"),
                lf_intacct::Function::raw(create.to_element().unwrap(), true),
            )
            .await;
        data.key.expect("create_invoice answers with the key")
    }

    /// A payment of `amount` USD received today from `customer`, applied to `invoice`;
    /// returns its RECORDNO.
    pub async fn pay(&self, customer: &str, invoice: &str, amount: &str) -> String {
        let amount: rust_decimal::Decimal = amount.parse().unwrap();
        let create = lf_intacct::record::LegacyArPaymentCreate {
            customer_id: customer.to_owned(),
            payment_amount: amount,
            bank_account_id: Some("BANK-OPS".into()),
            date_received: Some(day(0)),
            payment_method: "EFT".into(),
            applied: vec![(invoice.to_owned(), amount)],
            ..Default::default()
        };
        let data = self
            .intacct_call(
                Some("US"),
                lf_intacct::Function::raw(create.to_element().unwrap(), true),
            )
            .await;
        data.key.expect("create_arpayment answers with the key")
    }

    /// Puts `customer` on hold, or takes it off.
    pub async fn set_on_hold(&self, customer: &str, on_hold: bool) {
        let fields = json!({"CUSTOMERID": customer, "ONHOLD": on_hold.to_string()});
        let function =
            lf_intacct::Function::update_fields("CUSTOMER", fields.as_object().unwrap()).unwrap();
        self.intacct_call(None, function).await;
    }

    /// The Tasks whose `Ledgerforce_Key__c` starts with `prefix`.
    pub fn tasks_keyed(&self, prefix: &str) -> Vec<serde_json::Map<String, Value>> {
        self.org
            .records("Task")
            .into_iter()
            .filter(|t| text(t, "Ledgerforce_Key__c").starts_with(prefix))
            .collect()
    }
}

impl World {
    /// A top-level Intacct customer `id` naming no Account, reached at `email`.
    pub async fn unlinked_customer(&self, id: &str, name: &str, email: &str) {
        let fields = json!({"CUSTOMERID": id, "NAME": name, "CURRENCY": "USD",
            "DISPLAYCONTACT": {"CONTACTNAME": format!("{name} ({id})"), "PRINTAS": name,
                               "EMAIL1": email}});
        let function =
            lf_intacct::Function::create_fields("CUSTOMER", fields.as_object().unwrap()).unwrap();
        self.intacct_call(None, function).await;
    }

    /// A Contact of `account` with `email`.
    pub fn contact(&self, account: &str, email: &str) -> String {
        self.org
            .insert(
                "Contact",
                json!({"LastName": "Payables", "AccountId": account, "Email": email}),
            )
            .unwrap()
    }
}

/// The ports of a world whose Salesforce connector misbehaves as its plan says.
pub type FaultyPorts = FlowPorts<
    lf_testkit::fault::salesforce::FaultySalesforce<SalesforceClient>,
    IntacctClient,
    SqliteXrefStore,
    SqliteIdempotencyStore,
    SqliteSyncState,
    SqliteAuditLog,
>;

/// Flow ports over `w`'s sandboxes whose Salesforce calls of `operation` draw faults from the
/// returned ports' plan, with their own store, and the parked store beside it.
pub async fn faulty_ports(
    w: &World,
    operation: &'static str,
) -> (Arc<FaultyPorts>, SqliteParkedFailures, tempfile::TempDir) {
    let salesforce = salesforce_client(&w.org);
    salesforce.connect().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("state.db"), Arc::new(SystemClock)).unwrap();
    let ports = Arc::new(FlowPorts {
        salesforce: lf_testkit::fault::salesforce::FaultySalesforce::new(salesforce, 11)
            .only(operation),
        intacct: IntacctClient::new(intacct_config(&w.company)).unwrap(),
        xref: db.xref_store(),
        idempotency: db.idempotency_store(IdempotencyConfig::default()),
        state: db.sync_state(),
        audit: db.audit_log(),
        clock: Arc::new(SystemClock),
    });
    (ports, db.parked_failures(), dir)
}
// ---- revenue-reconciliation ----

/// The reconciliation flow over the world's ports, reporting in USD from posted schedules.
impl World {
    pub fn revenue_reconciliation(&self) -> lf_flows::RevenueReconciliation<Arc<Ports>> {
        lf_flows::RevenueReconciliation::new(
            self.ports.clone(),
            self.specs.clone(),
            lf_flows::RevenueReconciliationOptions::default(),
        )
        .unwrap()
    }
}

/// What the reconciliation tests set up for `period`, through the sandboxes' handles and the
/// Intacct API, on top of the Demo seed:
/// - Salesforce: the month's dated rates set to EUR 0.92 and GBP 0.80 per USD; no Demo deal
///   closing in the month; four deals closed won on the 15th: Acme (Demo account 2, C-1001)
///   USD 5000, Rhein (6, C-3001) EUR 2400, Oakwood (5, C-2001) GBP 1000, and a new US account
///   with no Intacct customer USD 700.
/// - Intacct: invoices recognized monthly over twelve months from the month's first day,
///   carrying SFDC_OPPORTUNITY_ID: US C-1001 USD 1200 (Acme's deal, 100 a month), DE C-3001 EUR
///   2400 (Rhein's deal, 200 a month), DE C-3002 EUR 1200 (a customer linked to no account,
///   with an id of no deal of the month: 100 a month, unmatched).
/// - The Demo seed's own schedules recognize in that month (it is the one before the sandbox's
///   start): C-1001 USD 1000 (US), C-2001 GBP 300 (UK), C-3001 EUR 600 (DE).
pub struct ReconciliationSetup {
    pub acme: SalesforceId,
    pub rhein: SalesforceId,
    pub oakwood: SalesforceId,
    pub newco: SalesforceId,
    pub acme_deal: SalesforceId,
    pub rhein_deal: SalesforceId,
    pub oakwood_deal: SalesforceId,
    pub newco_deal: SalesforceId,
}

impl ReconciliationSetup {
    pub async fn new(world: &World, period: lf_domain::port::Month) -> Self {
        use lf_domain::port::{IdempotentWrite, IntacctObject, IntacctPort};

        let first = period.first_day().unwrap();
        let close = (first + chrono::Duration::days(14)).to_string();
        let org = &world.org;
        for o in org.records("Opportunity") {
            let in_period = text(&o, "CloseDate").get(..7) == Some(period.to_string().as_str());
            if in_period && text(&o, "StageName") == "Closed Won" {
                let before = (first - chrono::Duration::days(1)).to_string();
                org.update(&text(&o, "Id"), json!({"CloseDate": before}))
                    .unwrap();
            }
        }
        for (iso, rate) in [("EUR", 0.92), ("GBP", 0.80)] {
            let existing = org
                .records("DatedConversionRate")
                .into_iter()
                .find(|r| text(r, "IsoCode") == iso && text(r, "StartDate") == first.to_string());
            match existing {
                Some(r) => org
                    .update(&text(&r, "Id"), json!({"ConversionRate": rate}))
                    .unwrap(),
                None => {
                    org.insert(
                        "DatedConversionRate",
                        json!({"IsoCode": iso, "ConversionRate": rate, "StartDate": first.to_string()}),
                    )
                    .unwrap();
                }
            }
        }
        let id = |s: &str| SalesforceId::parse(s).unwrap();
        let acme = id(&lf_sandbox_intacct::demo_account_id(2));
        let oakwood = id(&lf_sandbox_intacct::demo_account_id(5));
        let rhein = id(&lf_sandbox_intacct::demo_account_id(6));
        let newco = id(&world.new_account("Newco Analytics", "United States"));
        let deal = |account: &SalesforceId, name: &str, currency: &str, amount: u32| {
            let opp = org
                .insert(
                    "Opportunity",
                    json!({"Name": name, "AccountId": account.as_str(), "StageName": "Prospecting",
                           "CloseDate": close, "CurrencyIsoCode": currency, "Amount": amount}),
                )
                .unwrap();
            org.update(&opp, json!({"StageName": "Closed Won"}))
                .unwrap();
            id(&opp)
        };
        let acme_deal = deal(&acme, "Acme - Analytics add-on", "USD", 5000);
        let rhein_deal = deal(&rhein, "Rhein - Platform", "EUR", 2400);
        let oakwood_deal = deal(&oakwood, "Oakwood - Seats", "GBP", 1000);
        let newco_deal = deal(&newco, "Newco - First order", "USD", 700);

        let parts = |d: chrono::NaiveDate| {
            json!({"year": d.format("%Y").to_string(), "month": d.format("%m").to_string(),
                   "day": d.format("%d").to_string()})
        };
        let end = first
            .checked_add_months(chrono::Months::new(12))
            .and_then(|d| d.pred_opt())
            .unwrap();
        let invoice = |customer: &str, currency: &str, rate_type: &str, amount: &str| {
            json!({
                "customerid": customer, "datecreated": parts(first), "termname": "Net 30",
                "description": "Reconciliation test", "currency": currency, "exchratetype": rate_type,
                "invoiceitems": {"lineitem": [{
                    "glaccountno": "4000", "amount": amount, "itemid": "SUB-PLAT",
                    "revrectemplate": "Monthly straight line",
                    "revrecstartdate": parts(first), "revrecenddate": parts(end)}]}
            })
            .as_object()
            .cloned()
            .unwrap()
        };
        let not_a_deal_of_the_month = id("006LF0000000099");
        for (entity, link, fields) in [
            (
                "US",
                &acme_deal,
                invoice("C-1001", "USD", "Intacct Daily Rate", "1200.00"),
            ),
            (
                "DE",
                &rhein_deal,
                invoice("C-3001", "EUR", "ECB Reference", "2400.00"),
            ),
            (
                "DE",
                &not_a_deal_of_the_month,
                invoice("C-3002", "EUR", "ECB Reference", "1200.00"),
            ),
        ] {
            let write = IdempotentWrite {
                key: lf_domain::IdempotencyKey::derive("reconciliation-test", &[link.as_str()])
                    .unwrap(),
                object: IntacctObject::ArInvoice,
                link: link.clone(),
                fields,
            };
            let entity = lf_domain::EntityId::parse(entity).unwrap();
            let results =
                IntacctPort::create_idempotent(&world.ports.intacct, Some(&entity), &[write])
                    .await
                    .expect("the invoice request");
            results[0].as_ref().expect("the invoice is created");
        }
        ReconciliationSetup {
            acme,
            rhein,
            oakwood,
            newco,
            acme_deal,
            rhein_deal,
            oakwood_deal,
            newco_deal,
        }
    }
}

// ---- falls-due sweep (invoice-status and credit-alerts) ----

/// The change poller of the world's Intacct invoices, queuing to embedded queues of
/// invoice-status and credit-alerts, telling the time by `clock`.
pub type InvoicePoller = lf_intake::ChangePoller<
    SalesforceClient,
    IntacctClient,
    SqliteSyncState,
    lf_embedded::SqliteQueue,
>;

impl World {
    pub fn invoice_poller(&self, clock: Arc<dyn lf_domain::Clock>) -> InvoicePoller {
        let flows = [Flow::InvoiceStatus, Flow::CreditAlerts];
        let queues = flows.iter().fold(lf_intake::FlowQueues::new(), |q, f| {
            q.with(*f, self.db.queue(&f.to_string()).unwrap())
        });
        lf_intake::ChangePoller::new(
            self.ports.salesforce.clone(),
            self.ports.intacct.clone(),
            self.db.sync_state(),
            queues,
            vec![lf_intake::PollStream {
                system: lf_domain::System::Intacct,
                object: "ARINVOICE".into(),
                entity: None,
                flows: flows.to_vec(),
            }],
            lf_intake::PollerConfig::default(),
            clock,
        )
        .unwrap()
    }

    /// Everything queued for `flow` (received and deleted).
    pub async fn drain(&self, flow: Flow) -> Vec<ReceivedMessage> {
        use lf_domain::port::Queue;
        let queue = self.db.queue(&flow.to_string()).unwrap();
        let mut all = Vec::new();
        loop {
            let got = queue
                .receive(10, Duration::from_secs(60), Duration::ZERO)
                .await
                .unwrap();
            if got.is_empty() {
                return all;
            }
            for m in &got {
                queue.delete(&m.receipt).await.unwrap();
            }
            all.extend(got);
        }
    }
}
