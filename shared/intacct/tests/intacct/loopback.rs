//! The connector against the Intacct sandbox (lf-sandbox-intacct) over loopback HTTP: paging,
//! batches, transactions, sessions, entities, throttling, lost answers, legacy documents,
//! revenue and Smart Events. Assertions look at the sandbox's own state and counters, not only
//! at what the connector says.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use lf_domain::{Classify, EntityId, ErrorClass, IdempotencyKey, RetryPolicy};
use lf_intacct::record::{
    Address, ArInvoice, ArPayment, ContactDetails, Customer, FromRecord, InvoiceCreate,
    InvoiceLineCreate, LegacyArPaymentCreate, RevenuePeriod, RevenueSource, SalesDocument,
    SalesTransactionCreate, SalesTransactionLine,
};
use lf_intacct::smart_event::SmartEventKind;
use lf_intacct::{
    Batch, CreateOutcome, Credentials, Direction, Filter, Function, IdempotentCreate,
    IntacctClient, IntacctConfig, IntacctError, Query, ReadByQuery, Reason, SmartEvent,
    SmartEventVerifier, XmlElement,
};
use lf_sandbox_intacct::{DataSet, IntacctFault, Sandbox, SandboxConfig, SmartEventConfig};
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde_json::json;

pub(crate) async fn sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::start(SandboxConfig {
        // Injected latency is only used to make requests overlap; keep it short.
        latency: Duration::from_millis(150),
        ..config
    })
    .await
    .expect("the Intacct sandbox starts on loopback")
}

/// The demo company (entities US/UK/DE/EDU, customers, invoices, revenue schedules).
async fn demo_company() -> Sandbox {
    sandbox(SandboxConfig {
        seed: DataSet::Demo,
        ..Default::default()
    })
    .await
}

const FAST_RETRY: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(5),
    cap: Duration::from_millis(100),
    max_attempts: 12,
};

/// The configuration of a client signing in to `company` as its API user.
pub(crate) fn config_for(company: &Sandbox) -> IntacctConfig {
    let c = company.credentials();
    IntacctConfig::new(
        company.endpoint_url(),
        Credentials {
            sender_id: c.sender_id.clone(),
            sender_password: SecretString::from(c.sender_password.clone()),
            company_id: c.company_id.clone(),
            user_id: c.user_id.clone(),
            user_password: SecretString::from(c.user_password.clone()),
        },
    )
}

fn connector_with(company: &Sandbox, cap: usize, retry: RetryPolicy) -> IntacctClient {
    let mut config = config_for(company);
    config.max_concurrent_requests = cap;
    config.request_timeout = Duration::from_secs(30);
    config.retry = retry;
    IntacctClient::new(config).unwrap()
}

pub(crate) fn connector(company: &Sandbox) -> IntacctClient {
    connector_with(company, 2, FAST_RETRY)
}

fn entity(id: &str) -> EntityId {
    EntityId::parse(id).unwrap()
}

fn customer(id: &str, name: &str) -> Customer {
    Customer {
        customer_id: Some(id.into()),
        name: Some(name.into()),
        display_contact: Some(ContactDetails {
            print_as: Some(name.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn ids(records: &[XmlElement], field: &str) -> BTreeSet<String> {
    records
        .iter()
        .filter_map(|r| r.field(field).map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn read_by_query_pages_past_1000_rows_with_read_more() {
    let company = sandbox(SandboxConfig {
        bulk_customers: 2_345,
        ..Default::default()
    })
    .await;
    let client = connector(&company);
    let q = ReadByQuery::new("CUSTOMER", "").fields(["RECORDNO", "CUSTOMERID"]);
    let before = company.usage().reads;
    let all = client.read_by_query_all(None, &q).await.unwrap();
    assert_eq!(all.len(), 2_345);
    assert_eq!(ids(&all, "CUSTOMERID").len(), 2_345, "no row twice");
    assert_eq!(
        company.usage().reads - before,
        3,
        "readByQuery + 2 readMore"
    );
    assert_eq!(company.open_result_sets(), 0, "result set read to the end");
    // The gateway's page cap is enforced before sending.
    assert!(matches!(
        client
            .read_by_query_all(None, &ReadByQuery::new("CUSTOMER", "").page_size(1001))
            .await,
        Err(IntacctError::InvalidRequest { .. })
    ));
}

#[tokio::test]
async fn query_pages_past_2000_rows_by_offset() {
    let company = sandbox(SandboxConfig {
        bulk_customers: 4_321,
        ..Default::default()
    })
    .await;
    let client = connector(&company);
    let q = Query::new("CUSTOMER", ["RECORDNO", "CUSTOMERID"])
        .order_by("RECORDNO", Direction::Ascending);
    let before = company.usage().reads;
    let all = client.query_all(None, &q).await.unwrap();
    assert_eq!(all.len(), 4_321);
    assert_eq!(ids(&all, "RECORDNO").len(), 4_321, "no row twice");
    assert_eq!(company.usage().reads - before, 3, "2000 + 2000 + 321");

    let filtered = Query::new("CUSTOMER", ["CUSTOMERID"])
        .filter(Filter::like("CUSTOMERID", "BULK-0000%"))
        .page_size(3);
    let few = client.query_all(None, &filtered).await.unwrap();
    assert_eq!(few.len(), 9, "BULK-00001..BULK-00009 over three pages");
}

#[tokio::test]
async fn hundred_creates_in_one_request_with_a_failure_in_the_middle() {
    let company = sandbox(SandboxConfig::default()).await;
    let client = connector(&company);
    let mut batch = Batch::new();
    let mut ids = Vec::new();
    for i in 1..=100 {
        let object = if i == 50 {
            // NAME is required: this one fails, the others do not care.
            XmlElement::new("CUSTOMER")
                .child(XmlElement::with_text("CUSTOMERID", "B-050"))
                .child(
                    XmlElement::new("DISPLAYCONTACT").child(XmlElement::with_text("PRINTAS", "x")),
                )
        } else {
            customer(&format!("B-{i:03}"), &format!("Batch customer {i}"))
                .to_create()
                .unwrap()
        };
        ids.push(batch.push(Function::create([object])));
    }
    client.session(None).await.unwrap();
    let requests = company.usage().requests;
    let out = client.execute(None, &batch).await.unwrap();
    assert_eq!(company.usage().requests - requests, 1, "one HTTP request");
    assert_eq!(out.len(), 100);
    assert_eq!(out.succeeded(), 99);
    for (i, (id, outcome)) in out.iter().enumerate() {
        assert_eq!(id, ids[i], "outcomes in push order");
        if i == 49 {
            let err = outcome.as_ref().unwrap_err();
            assert_eq!(err.class(), ErrorClass::Permanent);
            assert!(err.to_string().contains("NAME"), "{err}");
        } else {
            let data = outcome.as_ref().unwrap();
            assert_eq!(
                data.records[0].field("CUSTOMERID").map(str::to_owned),
                Some(format!("B-{:03}", i + 1)),
                "each result goes back to its own create"
            );
        }
    }
    assert_eq!(company.record_count("CUSTOMER"), 99);
    assert_eq!(company.count_where("CUSTOMER", "CUSTOMERID", "B-050"), 0);
}

#[tokio::test]
async fn all_or_nothing_batch_is_aborted_and_rolled_back() {
    let company = sandbox(SandboxConfig::default()).await;
    let client = connector(&company);
    let mut batch = Batch::all_or_nothing();
    for i in 1..=5 {
        // The fourth reuses the first one's CUSTOMERID: a duplicate.
        let id = if i == 4 {
            "T-1".to_owned()
        } else {
            format!("T-{i}")
        };
        batch.push(Function::create([customer(&id, "Tx").to_create().unwrap()]));
    }
    let out = client.execute(None, &batch).await.unwrap();
    assert_eq!(out.succeeded(), 0);
    let reasons: Vec<Option<Reason>> = out
        .iter()
        .map(|(_, r)| r.as_ref().unwrap_err().reason())
        .collect();
    assert_eq!(
        reasons,
        [
            Some(Reason::TransactionRolledBack),
            Some(Reason::TransactionRolledBack),
            Some(Reason::TransactionRolledBack),
            Some(Reason::Duplicate),
            Some(Reason::TransactionRolledBack),
        ]
    );
    let failing = out.iter().nth(3).unwrap().1.as_ref().unwrap_err();
    assert!(matches!(
        failing,
        IntacctError::Function {
            status: lf_intacct::ResultStatus::Failure,
            ..
        }
    ));
    assert_eq!(company.record_count("CUSTOMER"), 0, "nothing committed");
}

#[tokio::test]
async fn session_expiry_mid_run_is_healed_once_per_expiry() {
    let company = sandbox(SandboxConfig {
        bulk_customers: 25,
        ..Default::default()
    })
    .await;
    let client = connector(&company);
    let q = Query::new("CUSTOMER", ["CUSTOMERID"])
        .order_by("RECORDNO", Direction::Ascending)
        .page_size(10);
    let mut pages = client.query_pages(None, &q);
    let mut rows = Vec::new();
    rows.extend(pages.next_page().await.unwrap().unwrap());
    company.expire_sessions();
    rows.extend(pages.next_page().await.unwrap().unwrap());
    // The seeded fault: the next session-authenticated request finds its session gone.
    company
        .faults()
        .inject_next(IntacctFault::SessionExpired, 1);
    rows.extend(pages.next_page().await.unwrap().unwrap());
    assert!(pages.next_page().await.unwrap().is_none());
    assert_eq!(ids(&rows, "CUSTOMERID").len(), 25);
    let stats = client.stats();
    assert_eq!(stats.reauthentications, 2);
    assert_eq!(stats.sessions_opened, 3);
}

#[tokio::test]
async fn entity_sessions_write_and_read_in_their_entity() {
    let company = demo_company().await;
    let client = connector(&company);
    let (uk, de) = (entity("UK"), entity("DE"));
    client
        .call(
            Some(&uk),
            Function::create([customer("E-UK-1", "UK buyer").to_create().unwrap()]),
        )
        .await
        .unwrap();
    client
        .call(
            Some(&de),
            Function::create([customer("E-DE-1", "DE buyer").to_create().unwrap()]),
        )
        .await
        .unwrap();
    assert_eq!(
        company.find("CUSTOMER", "CUSTOMERID", "E-UK-1")[0]["MEGAENTITYID"],
        "UK"
    );
    assert_eq!(
        company.find("CUSTOMER", "CUSTOMERID", "E-DE-1")[0]["MEGAENTITYID"],
        "DE"
    );

    let q = Query::new("CUSTOMER", ["CUSTOMERID", "MEGAENTITYID"]);
    let in_uk = ids(
        &client.query_all(Some(&uk), &q).await.unwrap(),
        "CUSTOMERID",
    );
    assert!(
        in_uk.contains("E-UK-1") && in_uk.contains("C-2001"),
        "{in_uk:?}"
    );
    assert!(
        !in_uk.contains("E-DE-1") && !in_uk.contains("C-3001"),
        "{in_uk:?}"
    );

    let sessions = client.sessions().await;
    let entities: Vec<Option<&str>> = sessions
        .iter()
        .map(|s| s.entity.as_ref().map(EntityId::as_str))
        .collect();
    assert_eq!(entities, [Some("DE"), Some("UK")]);
    assert_eq!(
        client.stats().sessions_opened,
        2,
        "one session per entity, reused"
    );
    assert!(company.session_count() >= 2);
}

#[tokio::test]
async fn injected_429s_are_retried_with_backoff() {
    let company = sandbox(SandboxConfig::default()).await;
    let client = connector(&company);
    client.session(None).await.unwrap();
    company.faults().inject_next(IntacctFault::RateLimited, 3);
    client
        .call(None, Function::lookup("CUSTOMER"))
        .await
        .unwrap();
    let stats = client.stats();
    assert_eq!(stats.throttled, 3);
    assert_eq!(stats.retries, 3);

    company.faults().inject_next(IntacctFault::ServerError, 2);
    client.call(None, Function::lookup("ITEM")).await.unwrap();
    assert_eq!(client.stats().server_errors, 2, "5xx on a read is retried");
}

#[tokio::test]
async fn concurrency_cap_keeps_under_the_company_limit_and_backoff_covers_overshoot() {
    let company = sandbox(SandboxConfig {
        concurrency_limit: Some(2),
        ..Default::default()
    })
    .await;
    // Every request holds its slot a while, so concurrent requests really overlap.
    company.faults().set_rate(IntacctFault::Latency, 1.0);

    let run = |client: IntacctClient| async move {
        client.session(None).await.unwrap();
        let calls: Vec<_> = (0..8)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    client
                        .call(
                            None,
                            Function::lookup(if i % 2 == 0 { "CUSTOMER" } else { "ITEM" }),
                        )
                        .await
                })
            })
            .collect();
        for c in calls {
            c.await.unwrap().unwrap();
        }
        client.stats()
    };

    // Within the limit: the cap (2) alone keeps every request below the gateway's limit.
    let within = run(connector_with(&company, 2, FAST_RETRY)).await;
    assert_eq!(within.throttled, 0, "{within:?}");

    // Over the limit: 4 in flight against 2 allowed; GW-0010 answers are backed off and
    // retried until every call succeeds. The backoff must be able to outlast a request's
    // hold on the gateway (150 ms here), as in production it must outlast a slow call.
    let patient = RetryPolicy {
        base: Duration::from_millis(50),
        cap: Duration::from_secs(2),
        max_attempts: 12,
    };
    let over = run(connector_with(&company, 4, patient)).await;
    assert!(over.throttled > 0, "{over:?}");
    assert_eq!(over.requests, 1 + 8 + over.retries, "{over:?}");
}

#[tokio::test]
async fn lost_answer_to_a_create_is_resolved_without_a_duplicate() {
    let company = sandbox(SandboxConfig::default()).await;
    company.faults().clear();
    let client = connector(&company);
    client.session(None).await.unwrap();
    let sfdc = "001LF0000000099AAA";
    let mut c = customer("C-LOST-1", "Lost Answer Ltd");
    c.sfdc_account_id = Some(sfdc.into());
    let key = IdempotencyKey::derive("account-onboarding", &[sfdc]).unwrap();

    // The first lookup passes untouched (latency only); the create then commits but its
    // answer never arrives.
    company.faults().inject_next(IntacctFault::Latency, 1);
    company.faults().inject_next(IntacctFault::LostResponse, 1);
    let writes_before = company.usage().writes;
    let out = client
        .create_idempotent(None, IdempotentCreate::customer(key.clone(), &c).unwrap())
        .await
        .unwrap();
    assert!(matches!(out, CreateOutcome::Recovered(_)), "{out:?}");
    assert!(out.record_no().is_some());
    assert_eq!(company.count_where("CUSTOMER", "SFDC_ACCOUNT_ID", sfdc), 1);
    assert_eq!(
        company.usage().writes - writes_before,
        1,
        "one record written"
    );
    assert_eq!(client.stats().writes_recovered, 1);

    // Running the whole thing again (a redelivered message) finds it and writes nothing.
    let again = client
        .create_idempotent(None, IdempotentCreate::customer(key.clone(), &c).unwrap())
        .await
        .unwrap();
    assert!(matches!(again, CreateOutcome::AlreadyExisted(_)));
    assert_eq!(again.record_no(), out.record_no());
    assert_eq!(company.usage().writes - writes_before, 1);

    // And the gateway itself refuses a replayed controlid under uniqueid=true.
    let mut batch = Batch::new();
    batch.push(Function::create([c.to_create().unwrap()]).with_idempotency_key(&key));
    let out = client.execute(None, &batch).await.unwrap().into_results();
    let err = out.into_iter().next().unwrap().unwrap_err();
    assert_eq!(err.reason(), Some(Reason::AlreadyExecuted), "{err}");
    assert_eq!(company.count_where("CUSTOMER", "SFDC_ACCOUNT_ID", sfdc), 1);
}

#[tokio::test]
async fn lost_answer_to_a_legacy_invoice_is_resolved_by_opportunity_id() {
    let company = demo_company().await;
    company.faults().clear();
    let client = connector(&company);
    let us = entity("US");
    client.session(Some(&us)).await.unwrap();
    let opportunity = "006LF0000000042AAA";
    let invoice = InvoiceCreate {
        customer_id: "C-1001".into(),
        date_created: NaiveDate::from_ymd_opt(2025, 3, 1),
        term_name: Some("Net 30".into()),
        description: Some("Closed Won: platform renewal".into()),
        lines: vec![InvoiceLineCreate {
            gl_account_no: Some("4000".into()),
            amount: Decimal::new(1_250_000, 2),
            location_id: Some("US".into()),
            item_id: Some("SUB-PLAT".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let key = IdempotencyKey::derive("opportunity-won", &[opportunity]).unwrap();
    let before = company.record_count("ARINVOICE");
    company.faults().inject_next(IntacctFault::Latency, 1);
    company.faults().inject_next(IntacctFault::LostResponse, 1);
    let out = client
        .create_idempotent(
            Some(&us),
            IdempotentCreate::invoice(key, &invoice, opportunity).unwrap(),
        )
        .await
        .unwrap();
    assert!(matches!(out, CreateOutcome::Recovered(_)), "{out:?}");
    assert_eq!(company.record_count("ARINVOICE"), before + 1);
    let stored = company.find("ARINVOICE", "SFDC_OPPORTUNITY_ID", opportunity);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["TOTALENTERED"], "12500.00");
}

#[tokio::test]
async fn legacy_documents_and_typed_reads() {
    let company = demo_company().await;
    let client = connector(&company);
    let us = entity("US");
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);

    // create_invoice → read back as ArInvoice with its line.
    let inv = client
        .call(
            Some(&us),
            Function::raw(
                InvoiceCreate {
                    customer_id: "C-1002".into(),
                    date_created: d(2025, 4, 2),
                    date_due: d(2025, 5, 2),
                    custom_fields: vec![(
                        "SFDC_OPPORTUNITY_ID".into(),
                        "006LF0000000007AAA".into(),
                    )],
                    lines: vec![InvoiceLineCreate {
                        gl_account_no: Some("4100".into()),
                        amount: Decimal::new(99_900, 2),
                        location_id: Some("US".into()),
                        memo: Some("Onboarding <phase 1> & training".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }
                .to_element()
                .unwrap(),
                true,
            ),
        )
        .await
        .unwrap();
    let inv_no = inv.key.clone().expect("create_invoice answers with <key>");
    let read: Vec<ArInvoice> = client.read_records(Some(&us), &[&inv_no]).await.unwrap();
    assert_eq!(read[0].customer_id.as_deref(), Some("C-1002"));
    assert_eq!(read[0].total_entered, Some(Decimal::new(99_900, 2)));
    assert_eq!(read[0].when_due, d(2025, 5, 2));
    assert_eq!(
        read[0].sfdc_opportunity_id.as_deref(),
        Some("006LF0000000007AAA")
    );
    assert_eq!(read[0].lines.len(), 1);
    assert_eq!(
        read[0].lines[0].memo.as_deref(),
        Some("Onboarding <phase 1> & training")
    );

    // create_arpayment against that invoice → the invoice's balance drops.
    client
        .call(
            Some(&us),
            Function::raw(
                LegacyArPaymentCreate {
                    customer_id: "C-1002".into(),
                    payment_amount: Decimal::new(40_000, 2),
                    bank_account_id: Some("BOA".into()),
                    date_received: d(2025, 4, 20),
                    payment_method: "EFT".into(),
                    applied: vec![(inv_no.clone(), Decimal::new(40_000, 2))],
                    ..Default::default()
                }
                .to_element()
                .unwrap(),
                true,
            ),
        )
        .await
        .unwrap();
    let after: Vec<ArInvoice> = client.read_records(Some(&us), &[&inv_no]).await.unwrap();
    assert_eq!(after[0].total_due, Some(Decimal::new(59_900, 2)));
    let payments: Vec<ArPayment> = client
        .query_records(
            Some(&us),
            &Query::new(
                "ARPYMT",
                ["RECORDNO", "CUSTOMERID", "RECEIPTDATE", "TOTALENTERED"],
            )
            .filter(Filter::eq("RECEIPTDATE", "04/20/2025")),
        )
        .await
        .unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].amount, Some(Decimal::new(40_000, 2)));

    // create_sotransaction (Sales Order) with price, discount, service period, dimensions.
    let so = SalesTransactionCreate {
        transaction_type: "Sales Order".into(),
        date_created: d(2025, 4, 3),
        customer_id: "C-1001".into(),
        term_name: Some("Net 30".into()),
        lines: vec![SalesTransactionLine {
            item_id: "SUB-PLAT".into(),
            quantity: Decimal::new(2, 0),
            price: Some(Decimal::new(100_000, 2)),
            discount_percent: Some(Decimal::new(10, 0)),
            location_id: Some("US".into()),
            rev_rec_template: Some("Monthly straight line".into()),
            rev_rec_start: d(2025, 4, 1),
            rev_rec_end: d(2026, 3, 31),
            ..Default::default()
        }],
        ..Default::default()
    };
    client
        .call(Some(&us), Function::raw(so.to_element().unwrap(), true))
        .await
        .unwrap();
    let docs: Vec<SalesDocument> = client
        .query_records(
            Some(&us),
            &Query::new(
                "SODOCUMENT",
                ["RECORDNO", "DOCID", "DOCPARID", "CUSTVENDID", "TOTAL"],
            )
            .docparid("Sales Order")
            .filter(Filter::eq("CUSTVENDID", "C-1001"))
            .order_by("RECORDNO", Direction::Descending),
        )
        .await
        .unwrap();
    assert_eq!(docs[0].doc_par_id.as_deref(), Some("Sales Order"));
    assert_eq!(
        docs[0].total,
        Some(Decimal::new(180_000, 2)),
        "2 × 1000 less 10%"
    );

    // The on-hold demo customer reads as such.
    let held: Vec<Customer> = client
        .query_records(
            Some(&us),
            &Query::new(
                "CUSTOMER",
                ["CUSTOMERID", "ONHOLD", "CREDITLIMIT", "TOTALDUE"],
            )
            .filter(Filter::eq("ONHOLD", "true")),
        )
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].customer_id.as_deref(), Some("C-1003"));
}

#[tokio::test]
async fn field_tree_update_reaches_nested_fields_and_typed_update_clears_nothing_else() {
    let company = sandbox(SandboxConfig::default()).await;
    let client = connector(&company);
    let mut c = customer("FT-1", "Field Tree Inc");
    c.display_contact = Some(ContactDetails {
        print_as: Some("Field Tree".into()),
        email1: Some("old@ft.example".into()),
        mail_address: Some(Address {
            city: Some("Lyon".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    client
        .call(None, Function::create([c.to_create().unwrap()]))
        .await
        .unwrap();
    let fields = json!({
        "CUSTOMERID": "FT-1",
        "DISPLAYCONTACT": {"EMAIL1": "new@ft.example", "MAILADDRESS": {"CITY": "Paris"}},
        "SFDC_ACCOUNT_ID": "001LF0000000077AAA"
    });
    client
        .call(
            None,
            Function::update_fields("CUSTOMER", fields.as_object().unwrap()).unwrap(),
        )
        .await
        .unwrap();
    let stored = &company.find("CUSTOMER", "CUSTOMERID", "FT-1")[0];
    assert_eq!(stored["DISPLAYCONTACT.MAILADDRESS.CITY"], "Paris");
    assert_eq!(stored["DISPLAYCONTACT.EMAIL1"], "new@ft.example");
    assert_eq!(stored["SFDC_ACCOUNT_ID"], "001LF0000000077AAA");
    assert_eq!(stored["NAME"], "Field Tree Inc", "fields not sent are kept");

    let read = client
        .call(
            None,
            Function::read_by_name("CUSTOMER", ["FT-1"], &[]).unwrap(),
        )
        .await
        .unwrap();
    let back = Customer::from_record(&read.records[0]).unwrap();
    assert_eq!(
        back.display_contact
            .and_then(|d| d.mail_address)
            .and_then(|a| a.city)
            .as_deref(),
        Some("Paris")
    );
    let map = lf_intacct::fields::record_to_map(&read.records[0]);
    assert_eq!(map["DISPLAYCONTACT"]["EMAIL1"], "new@ft.example");
}

#[tokio::test]
async fn function_errors_are_classified_with_their_texts() {
    let company = sandbox(SandboxConfig::default()).await;
    let client = connector(&company);
    let err = client
        .read_by_query_all(None, &ReadByQuery::new("NOSUCHOBJECT", ""))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(!err.details().is_empty(), "{err}");
    let lookup = client.lookup(None, "CUSTOMER").await.unwrap();
    let text = lookup
        .iter()
        .map(|r| r.to_xml().unwrap())
        .collect::<String>();
    assert!(
        text.contains("SFDC_ACCOUNT_ID"),
        "lookup lists the custom field"
    );
}

#[tokio::test]
async fn recognized_revenue_per_customer_matches_the_posted_schedule() {
    let company = demo_company().await;
    let client = connector(&company);
    // Any request posts the revenue that is due; then take the posted entries as truth.
    client.session(None).await.unwrap();
    client
        .call(None, Function::lookup("REVRECSCHEDULEENTRY"))
        .await
        .unwrap();
    let posted = company.find("REVRECSCHEDULEENTRY", "POSTED", "true");
    assert!(!posted.is_empty(), "demo data has recognized periods");
    let date = |s: &str| NaiveDate::parse_from_str(s, "%m/%d/%Y").unwrap();
    let period = RevenuePeriod::of(date(&posted[0]["POSTINGDATE"]));
    let mut expected: BTreeMap<String, Decimal> = BTreeMap::new();
    for e in &posted {
        if RevenuePeriod::of(date(&e["POSTINGDATE"])) == period {
            *expected.entry(e["CUSTOMERID"].clone()).or_default() +=
                e["AMOUNT"].parse::<Decimal>().unwrap();
        }
    }
    let got = client
        .recognized_revenue(None, period, &RevenueSource::ScheduleEntries)
        .await
        .unwrap();
    let mut by_customer: BTreeMap<String, Decimal> = BTreeMap::new();
    for r in got {
        assert_eq!(r.period, period);
        assert!(r.document.is_some(), "schedule entries name their invoice");
        *by_customer.entry(r.customer_id).or_default() += r.amount;
    }
    assert_eq!(by_customer, expected);
}

/// A webhook receiver that verifies Smart Event posts the way intacct-webhook will.
async fn smart_event_receiver(token: &str) -> (String, Arc<Mutex<Vec<SmartEvent>>>) {
    let verifier = Arc::new(SmartEventVerifier::new(SecretString::from(token)).unwrap());
    let received: Arc<Mutex<Vec<SmartEvent>>> = Arc::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/intacct",
        axum::routing::post(move |body: axum::body::Bytes| {
            let verifier = verifier.clone();
            let store = store.clone();
            async move {
                match verifier.verify(&body) {
                    Ok(ev) => {
                        store.lock().unwrap().push(ev);
                        axum::http::StatusCode::OK
                    }
                    Err(e) => axum::http::StatusCode::from_u16(e.http_status()).unwrap(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/intacct", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[tokio::test]
async fn smart_events_from_the_sandbox_verify_and_parse() {
    let token = "loopback-smart-event-token-1234";
    let (url, received) = smart_event_receiver(token).await;
    let mut events = SmartEventConfig::new(url, token);
    events.delivery.initial_backoff = Duration::from_millis(10);
    let company = sandbox(SandboxConfig {
        smart_events: Some(events),
        ..Default::default()
    })
    .await;
    let client = connector(&company);
    let uk = entity("UK");
    client
        .call(
            Some(&uk),
            Function::create([customer("SE-1", "Evented Ltd").to_create().unwrap()]),
        )
        .await
        .unwrap();
    let hold = Customer {
        customer_id: Some("SE-1".into()),
        on_hold: Some(true),
        ..Default::default()
    };
    client
        .call(Some(&uk), Function::update([hold.to_update().unwrap()]))
        .await
        .unwrap();
    assert!(
        company
            .wait_smart_events_idle(Duration::from_secs(10))
            .await
    );
    let events = received.lock().unwrap().clone();
    let topics: Vec<(Option<&str>, SmartEventKind)> = events
        .iter()
        .map(|e| (e.topic.as_deref(), e.event))
        .collect();
    assert!(
        topics.contains(&(Some("customer.added"), SmartEventKind::Add)),
        "{topics:?}"
    );
    assert!(
        topics.contains(&(Some("customer.changed"), SmartEventKind::Set)),
        "{topics:?}"
    );
    assert!(
        topics.contains(&(Some("customer.onhold"), SmartEventKind::Set)),
        "{topics:?}"
    );
    for e in &events {
        assert_eq!(e.object, "CUSTOMER");
        assert_eq!(e.key.as_str(), "SE-1");
        assert_eq!(e.entity.as_ref().map(EntityId::as_str), Some("UK"));
        assert!(
            e.when_modified.is_some(),
            "WHENMODIFIED parsed: {:?}",
            e.when_modified_raw
        );
    }
    let stats = company.smart_event_stats().unwrap();
    assert_eq!(stats.delivered as usize, events.len(), "{stats:?}");
}

#[tokio::test]
async fn looked_up_creates_and_many_queries_cost_one_request_each() {
    use lf_domain::port::{IntacctPort, QueryFilter, RecordQuery, WriteStatus};
    use lf_testkit::connector::intacct::{customer_write, sf_id};
    let company = sandbox(SandboxConfig::default()).await;
    let client = connector(&company);
    client.session(None).await.unwrap();
    let writes: Vec<_> = (1..=10).map(customer_write).collect();
    let before = company.usage().requests;
    let made = client.create_missing(None, &writes).await.unwrap();
    assert_eq!(
        company.usage().requests - before,
        1,
        "no lookup first: one create request"
    );
    assert!(
        made.iter()
            .all(|r| r.as_ref().unwrap().status == WriteStatus::Created)
    );
    let links: Vec<String> = (1..=10)
        .map(|n| sf_id("001", n).as_str().to_owned())
        .collect();
    let queries = [
        RecordQuery::new("CUSTOMER", ["CUSTOMERID", "SFDC_ACCOUNT_ID"])
            .filter(QueryFilter::In("SFDC_ACCOUNT_ID".into(), links)),
        RecordQuery::new("CUSTOMER", ["CUSTOMERID", "NAME"]).filter(QueryFilter::Like(
            "NAME".into(),
            "Contract customer 1%".into(),
        )),
        RecordQuery::new("ARINVOICE", ["RECORDNO"]).filter(QueryFilter::Equals(
            "SFDC_OPPORTUNITY_ID".into(),
            "none".into(),
        )),
    ];
    let before = company.usage().requests;
    let found = client.query_many(None, &queries).await.unwrap();
    assert_eq!(
        company.usage().requests - before,
        1,
        "three queries, one request"
    );
    assert_eq!(found[0].as_ref().unwrap().len(), 10);
    assert_eq!(
        found[1].as_ref().unwrap().len(),
        2,
        "customer 1 and customer 10"
    );
    assert!(found[2].as_ref().unwrap().is_empty());
    // Replaying the creates through the looked-up path still makes nothing twice.
    let again = client.create_missing(None, &writes).await.unwrap();
    for w in &writes {
        assert_eq!(
            company.count_where("CUSTOMER", "SFDC_ACCOUNT_ID", w.link.as_str()),
            1
        );
    }
    assert_eq!(again.len(), writes.len());
}
