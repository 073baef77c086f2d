//! The Intacct connector contract: cases generic over the Intacct port, run against the real
//! client talking to the Intacct sandbox over loopback.
//!
//! A family implements [`IntacctHarness`] once (the port, and a view of the service's own
//! counters and records, so the cases check what really happened there, not what the port
//! says happened) and expands [`intacct_connector_tests!`](crate::intacct_connector_tests).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lf_domain::port::{
    AccountFields, CreateResult, FieldTree, IdempotentWrite, IntacctObject, IntacctPort, Month,
    QueryFilter, RecordQuery, RecordUpdate, RevenueBasis, WriteStatus,
};
use lf_domain::{Classify, EntityId, ErrorClass, IdempotencyKey, SalesforceId};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::fault::intacct::{FaultError, FaultyIntacct};
use crate::fault::{ConnectorFault, plan};

/// What the service has counted since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServiceUsage {
    /// HTTP requests answered.
    pub requests: u64,
    /// Read functions run (each `query` page is one).
    pub reads: u64,
    /// Records created, updated or deleted.
    pub writes: u64,
}

/// Data of the harness company the document cases need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRefs {
    /// A customer of the routed entity that has AR invoices and payments.
    pub customer_id: String,
    pub gl_account: String,
    pub item_id: String,
    /// The location dimension of the routed entity.
    pub location_id: String,
    /// An Order Entry transaction definition.
    pub transaction_type: String,
}

/// One Intacct company behind the port under test.
pub trait IntacctHarness: Sized {
    type Port: IntacctPort + 'static;

    /// A fresh company, isolated from every other case.
    async fn new() -> Self;
    /// A port on the company (cheap; ports share the company's sessions where they can).
    fn port(&self) -> Self::Port;
    /// The entity documents are routed to.
    fn routed_entity(&self) -> EntityId;
    /// Sessions opened for the top level and the routed entity, so later counts count only
    /// the work of the case.
    async fn warm(&self, port: &Self::Port);
    /// The service's counters now.
    fn usage(&self) -> ServiceUsage;
    /// How many records of `object` carry `link` in their link field, as the service stores
    /// them (every entity included).
    fn count_linked(&self, object: &IntacctObject, link: &SalesforceId) -> usize;
    /// The next `passing` requests are answered; the one after commits and its answer is lost.
    fn lose_answer_after(&self, passing: u32);
    fn document_refs(&self) -> DocumentRefs;
    /// Every posted revenue recognition line as the service stores it: customer, month,
    /// amount. (Call after at least one request, which posts what is due.)
    fn posted_revenue(&self) -> Vec<(String, Month, Decimal)>;
}

/// A valid Salesforce id of `prefix` (`001`, `003`, `006`) numbered `n`.
pub fn sf_id(prefix: &str, n: u32) -> SalesforceId {
    SalesforceId::parse(&format!("{prefix}CT{n:010}")).expect("a valid 15-character id")
}

fn tree(v: Value) -> FieldTree {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// A customer create of `CT-<n>` linked to Account `n`.
pub fn customer_write(n: u32) -> IdempotentWrite {
    let link = sf_id("001", n);
    IdempotentWrite {
        key: IdempotencyKey::derive("contract-account", &[link.as_str()]).expect("key"),
        object: IntacctObject::Customer,
        link,
        fields: tree(json!({
            "CUSTOMERID": format!("CT-{n:04}"),
            "NAME": format!("Contract customer {n}"),
            "DISPLAYCONTACT": {"PRINTAS": format!("Contract customer {n}")},
        })),
    }
}

fn customers(range: std::ops::RangeInclusive<u32>) -> Vec<IdempotentWrite> {
    range.map(customer_write).collect()
}

/// Each result is the record of its own write (not of a neighbour's), with the given status.
fn assert_each_maps_back<E: std::fmt::Debug>(
    writes: &[IdempotentWrite],
    results: &[Result<CreateResult, E>],
    status: WriteStatus,
) {
    assert_eq!(results.len(), writes.len());
    for (w, r) in writes.iter().zip(results) {
        let r = r.as_ref().expect("every write succeeds");
        assert_eq!(r.status, status, "{:?}", w.fields["CUSTOMERID"]);
        assert_eq!(
            r.record.id.as_deref(),
            w.fields["CUSTOMERID"].as_str(),
            "result of {} went to its own caller",
            w.link
        );
        assert!(r.record.record_no.is_some(), "{r:?}");
    }
}

fn assert_one_record_each<H: IntacctHarness>(h: &H, writes: &[IdempotentWrite]) {
    for w in writes {
        assert_eq!(h.count_linked(&w.object, &w.link), 1, "{}", w.link);
    }
}

pub async fn hundred_creates_cost_one_lookup_and_one_create_request<H: IntacctHarness>(h: &H) {
    let port = h.port();
    h.warm(&port).await;
    let writes = customers(1..=100);
    let before = h.usage();
    let results = port.create_idempotent(None, &writes).await.expect("batch");
    let after = h.usage();
    assert_eq!(
        after.requests - before.requests,
        2,
        "1 lookup + 1 create request"
    );
    assert_eq!(
        after.reads - before.reads,
        1,
        "one lookup query for 100 ids"
    );
    assert_eq!(after.writes - before.writes, 100);
    assert_each_maps_back(&writes, &results, WriteStatus::Created);
    assert_one_record_each(h, &writes);
}

pub async fn lost_answer_after_commit_still_yields_exactly_one_record_each<H: IntacctHarness>(
    h: &H,
) {
    let port = h.port();
    h.warm(&port).await;
    let writes = customers(1..=100);
    // The lookup passes; the create request commits and its answer never arrives.
    h.lose_answer_after(1);
    let before = h.usage();
    let results = port.create_idempotent(None, &writes).await.expect("batch");
    let after = h.usage();
    assert_eq!(
        after.writes - before.writes,
        100,
        "everything was written once"
    );
    assert_eq!(
        after.requests - before.requests,
        3,
        "lookup, the lost create, one more batched lookup: nothing resent"
    );
    assert_each_maps_back(&writes, &results, WriteStatus::Recovered);
    assert_one_record_each(h, &writes);
}

pub async fn replaying_a_batch_creates_nothing<H: IntacctHarness>(h: &H) {
    let port = h.port();
    h.warm(&port).await;
    let writes = customers(1..=100);
    let first = port.create_idempotent(None, &writes).await.expect("batch");
    let before = h.usage();
    let again = port.create_idempotent(None, &writes).await.expect("replay");
    let after = h.usage();
    assert_eq!(after.writes, before.writes, "a replay writes nothing");
    assert_eq!(after.requests - before.requests, 1, "one lookup request");
    assert_each_maps_back(&writes, &again, WriteStatus::AlreadyExisted);
    for (a, b) in first.iter().zip(&again) {
        assert_eq!(
            a.as_ref().expect("first").record.record_no,
            b.as_ref().expect("replay").record.record_no
        );
    }
    assert_one_record_each(h, &writes);
}

pub async fn a_mixed_batch_gives_each_caller_its_own_outcome<H: IntacctHarness>(h: &H) {
    let port = h.port();
    h.warm(&port).await;
    let existing = customer_write(3);
    port.create_idempotent(None, std::slice::from_ref(&existing))
        .await
        .expect("seed")[0]
        .as_ref()
        .expect("seeded");
    let mut invalid = customer_write(2);
    invalid.fields.remove("NAME");
    let writes = vec![
        customer_write(1),
        invalid.clone(),
        existing.clone(),
        customer_write(4),
    ];
    let before = h.usage();
    let results = port.create_idempotent(None, &writes).await.expect("batch");
    assert_eq!(h.usage().requests - before.requests, 2);
    let status = |i: usize| results[i].as_ref().map(|r| r.status);
    assert_eq!(status(0).ok(), Some(WriteStatus::Created));
    let err = results[1].as_ref().expect_err("NAME is required");
    assert_eq!(err.class(), ErrorClass::Permanent, "{err}");
    assert_eq!(status(2).ok(), Some(WriteStatus::AlreadyExisted));
    assert_eq!(status(3).ok(), Some(WriteStatus::Created));
    assert_eq!(h.count_linked(&invalid.object, &invalid.link), 0);
    for w in [&writes[0], &writes[2], &writes[3]] {
        assert_eq!(h.count_linked(&w.object, &w.link), 1);
    }
}

pub async fn documents_are_created_once_in_the_routed_entity<H: IntacctHarness>(h: &H) {
    let port = h.port();
    h.warm(&port).await;
    let refs = h.document_refs();
    let entity = h.routed_entity();
    let invoice_link = sf_id("006", 1);
    let order_link = sf_id("006", 2);
    let invoice = IdempotentWrite {
        key: IdempotencyKey::derive("contract-invoice", &[invoice_link.as_str()]).expect("key"),
        object: IntacctObject::ArInvoice,
        link: invoice_link.clone(),
        fields: tree(json!({
            "customerid": refs.customer_id,
            "datecreated": {"year": "2025", "month": "03", "day": "01"},
            "termname": "Net 30",
            "invoiceitems": {"lineitem": [{
                "glaccountno": refs.gl_account,
                "amount": "1250.00",
                "locationid": refs.location_id,
            }]},
        })),
    };
    let order_object = IntacctObject::SalesDocument {
        transaction_type: refs.transaction_type.clone(),
    };
    let order = IdempotentWrite {
        key: IdempotencyKey::derive("contract-order", &[order_link.as_str()]).expect("key"),
        object: order_object.clone(),
        link: order_link.clone(),
        fields: tree(json!({
            "datecreated": {"year": "2025", "month": "03", "day": "02"},
            "customerid": refs.customer_id,
            "termname": "Net 30",
            "sotransitems": {"sotransitem": [{
                "itemid": refs.item_id,
                "quantity": "2",
                "price": "100",
                "locationid": refs.location_id,
            }]},
        })),
    };
    let writes = [invoice, order];
    let entity = order_object.default_entity(Some(&entity));
    let first = port
        .create_idempotent(entity.as_ref(), &writes)
        .await
        .expect("batch");
    for r in &first {
        let r = r.as_ref().expect("document created");
        assert_eq!(r.status, WriteStatus::Created);
        assert!(
            r.record.record_no.is_some() || r.record.id.is_some(),
            "{r:?}"
        );
    }
    let again = port
        .create_idempotent(entity.as_ref(), &writes)
        .await
        .expect("replay");
    for r in &again {
        assert_eq!(
            r.as_ref().expect("found").status,
            WriteStatus::AlreadyExisted
        );
    }
    assert_eq!(h.count_linked(&IntacctObject::ArInvoice, &invoice_link), 1);
    assert_eq!(h.count_linked(&order_object, &order_link), 1);
    // Found from the top level too (entity-owned records are private there).
    let found = port
        .find_linked(None, &IntacctObject::ArInvoice, &[invoice_link], &[])
        .await
        .expect("lookup");
    assert_eq!(found.len(), 1);
}

pub async fn linked_records_and_accounts_are_read_in_one_request<H: IntacctHarness>(h: &H) {
    let port = h.port();
    h.warm(&port).await;
    let writes = customers(1..=150);
    port.create_idempotent(None, &writes).await.expect("batch");
    let links: Vec<SalesforceId> = writes.iter().map(|w| w.link.clone()).collect();
    let before = h.usage();
    let found = port
        .find_linked(None, &IntacctObject::Customer, &links, &["NAME".to_owned()])
        .await
        .expect("find");
    assert_eq!(
        h.usage().requests - before.requests,
        1,
        "150 ids, one request"
    );
    assert_eq!(found.len(), 150);
    let names: BTreeSet<&str> = found.iter().filter_map(|r| r.field("NAME")).collect();
    assert_eq!(names.len(), 150);

    let refs = h.document_refs();
    let entity = h.routed_entity();
    let before = h.usage();
    let accounts = port
        .read_accounts(
            Some(&entity),
            std::slice::from_ref(&refs.customer_id),
            &AccountFields::default(),
        )
        .await
        .expect("accounts");
    assert_eq!(
        h.usage().requests - before.requests,
        1,
        "three queries, one request"
    );
    assert_eq!(accounts.customers.len(), 1);
    assert!(
        !accounts.invoices.is_empty() && !accounts.payments.is_empty(),
        "{accounts:?}"
    );
    assert!(
        accounts
            .invoices
            .iter()
            .chain(&accounts.payments)
            .all(|r| r.field("CUSTOMERID") == Some(refs.customer_id.as_str()))
    );
}

pub async fn updates_change_only_the_fields_given<H: IntacctHarness>(h: &H) {
    let port = h.port();
    h.warm(&port).await;
    let w = customer_write(7);
    let created = port
        .create_idempotent(None, std::slice::from_ref(&w))
        .await
        .expect("create")
        .remove(0)
        .expect("created");
    let update = RecordUpdate {
        object: IntacctObject::Customer,
        key: created.record.record_no.clone().expect("RECORDNO"),
        fields: tree(json!({"ONHOLD": true})),
    };
    let document = RecordUpdate {
        object: IntacctObject::ArInvoice,
        key: "1".into(),
        fields: FieldTree::new(),
    };
    let out = port
        .update(None, &[update, document])
        .await
        .expect("update");
    assert!(out[0].is_ok(), "{:?}", out[0]);
    assert_eq!(
        out[1]
            .as_ref()
            .map_err(Classify::class)
            .expect_err("documents refused"),
        ErrorClass::Permanent
    );
    let read = port
        .query(
            None,
            &RecordQuery::new("CUSTOMER", ["CUSTOMERID", "NAME", "ONHOLD"])
                .filter(QueryFilter::Equals("CUSTOMERID".into(), "CT-0007".into())),
        )
        .await
        .expect("query");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].field("ONHOLD"), Some("true"));
    assert_eq!(read[0].field("NAME"), Some("Contract customer 7"), "kept");
}

pub async fn a_lost_update_answer_is_resent_and_reported_applied<H: IntacctHarness>(h: &H) {
    let port = h.port();
    h.warm(&port).await;
    let w = customer_write(8);
    let created = port
        .create_idempotent(None, std::slice::from_ref(&w))
        .await
        .expect("create")
        .remove(0)
        .expect("created");
    let update = RecordUpdate {
        object: IntacctObject::Customer,
        key: created.record.id.clone().expect("CUSTOMERID"),
        fields: tree(json!({"CREDITLIMIT": "2500"})),
    };
    h.lose_answer_after(0);
    let before = h.usage();
    let out = port.update(None, &[update]).await.expect("update");
    assert!(out[0].is_ok(), "{:?}", out[0]);
    let after = h.usage();
    assert_eq!(
        after.requests - before.requests,
        2,
        "the lost update, then its resend"
    );
    assert_eq!(
        after.writes - before.writes,
        1,
        "applied once, replay refused"
    );
    let read = port
        .query(
            None,
            &RecordQuery::new("CUSTOMER", ["CUSTOMERID", "CREDITLIMIT"])
                .filter(QueryFilter::Equals("CUSTOMERID".into(), "CT-0008".into())),
        )
        .await
        .expect("query");
    assert_eq!(
        read[0]
            .field("CREDITLIMIT")
            .map(|v| v.parse::<Decimal>().expect("number")),
        Some(Decimal::new(2500, 0))
    );
}

pub async fn recognized_revenue_matches_the_posted_schedule<H: IntacctHarness>(h: &H) {
    let port = h.port();
    h.warm(&port).await;
    let posted = h.posted_revenue();
    let month = posted
        .first()
        .expect("the company has recognized revenue")
        .1;
    let mut expected: BTreeMap<String, Decimal> = BTreeMap::new();
    for (customer, m, amount) in &posted {
        if *m == month {
            *expected.entry(customer.clone()).or_default() += *amount;
        }
    }
    let got = port
        .recognized_revenue(None, month, &RevenueBasis::ScheduleEntries)
        .await
        .expect("revenue");
    let mut by_customer: BTreeMap<String, Decimal> = BTreeMap::new();
    for r in got {
        assert_eq!(r.month, month);
        *by_customer.entry(r.customer_id).or_default() += r.amount;
    }
    assert_eq!(by_customer, expected);
    let bad = port
        .recognized_revenue(
            None,
            Month {
                year: 2025,
                month: 13,
            },
            &RevenueBasis::ScheduleEntries,
        )
        .await
        .expect_err("no 13th month");
    assert_eq!(bad.class(), ErrorClass::Permanent);
}

/// The fault wrapper over the port: every fault classifies as it should and none loses or
/// duplicates a record once the caller retries the way a flow does (the whole batch again).
pub async fn injected_faults_classify_and_lose_nothing<H: IntacctHarness>(h: &H) {
    let port = h.port();
    h.warm(&port).await;
    let faulty = FaultyIntacct::new(port, plan(7));
    let writes = customers(1..=20);

    faulty.plan().inject_next(ConnectorFault::Throttle, 1);
    faulty.plan().inject_next(ConnectorFault::Transient, 1);
    faulty.plan().inject_next(ConnectorFault::Permanent, 1);
    let before = h.usage();
    let mut seen = Vec::new();
    for _ in 0..3 {
        match faulty.create_idempotent(None, &writes).await {
            Err(e @ FaultError::Injected(_)) => seen.push(e.class()),
            other => panic!("expected an injected refusal, got {other:?}"),
        }
    }
    assert!(matches!(
        seen[0],
        ErrorClass::Throttled {
            retry_after: Some(_)
        }
    ));
    assert_eq!(seen[1], ErrorClass::Transient);
    assert_eq!(seen[2], ErrorClass::Permanent);
    assert_eq!(h.usage(), before, "refused calls never reach Intacct");

    faulty
        .plan()
        .inject_next(ConnectorFault::LostAfterCommit, 1);
    let lost = faulty
        .create_idempotent(None, &writes)
        .await
        .expect_err("answer lost");
    assert_eq!(lost.class(), ErrorClass::Transient);
    assert_one_record_each(h, &writes);

    // The redelivery: the same batch finds everything and writes nothing.
    faulty
        .plan()
        .inject_next(ConnectorFault::Slow(Duration::from_millis(20)), 1);
    let writes_before = h.usage().writes;
    let again = faulty
        .create_idempotent(None, &writes)
        .await
        .expect("redelivery");
    assert_each_maps_back(&writes, &again, WriteStatus::AlreadyExisted);
    assert_eq!(h.usage().writes, writes_before);
    assert_one_record_each(h, &writes);
}

/// Expands to one `#[tokio::test]` per Intacct connector case, run against `$harness`.
#[macro_export]
macro_rules! intacct_connector_tests {
    ($harness:ty) => {
        $crate::intacct_connector_tests!(@cases $harness, [
            hundred_creates_cost_one_lookup_and_one_create_request,
            lost_answer_after_commit_still_yields_exactly_one_record_each,
            replaying_a_batch_creates_nothing,
            a_mixed_batch_gives_each_caller_its_own_outcome,
            documents_are_created_once_in_the_routed_entity,
            linked_records_and_accounts_are_read_in_one_request,
            updates_change_only_the_fields_given,
            a_lost_update_answer_is_resent_and_reported_applied,
            recognized_revenue_matches_the_posted_schedule,
            injected_faults_classify_and_lose_nothing,
        ]);
    };
    (@cases $harness:ty, [$($case:ident),* $(,)?]) => {
        mod intacct_connector {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let h = <$harness as $crate::connector::intacct::IntacctHarness>::new().await;
                    $crate::connector::intacct::$case(&h).await;
                }
            )*
        }
    };
}
