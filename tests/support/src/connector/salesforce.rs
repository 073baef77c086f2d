//! The Salesforce connector contract: cases generic over the Salesforce port, run against the
//! real client talking to the Salesforce sandbox over loopback.
//!
//! A family implements [`SalesforceHarness`] and expands [`salesforce_contract_tests!`]; each
//! case then runs by name against a fresh org. Call counts come from the service's own counter
//! ([`SalesforceHarness::api_calls`]), so batching is measured where it costs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lf_domain::port::sync_state::Watermark;
use lf_domain::port::{RecordRead, SalesforcePort, SfRecord, TASK_KEY_FIELD, WriteResult};
use lf_domain::{Classify, ErrorClass, RetryPolicy, SalesforceId, retry};
use serde_json::{Value, json};

use crate::fault::ConnectorFault;
use crate::fault::salesforce::FaultySalesforce;

/// What a Salesforce connector family provides to the contract suite.
pub trait SalesforceHarness: Sized {
    type Port: SalesforcePort + Clone;

    /// A fresh org holding only what every org has (users, the standard price book).
    async fn new() -> Self;
    /// A port on that org (clones share one session).
    fn port(&self) -> Self::Port;
    /// API calls the org has answered so far.
    fn api_calls(&self) -> u64;
    /// The port's request-URI budget (path plus encoded query) for one query call.
    fn max_uri_bytes(&self) -> usize;
    /// Creates a record directly in the org (not through the port, not counted as a call).
    fn seed(&self, object: &str, fields: Value) -> SalesforceId;
    /// Live records of `object`, read directly from the org.
    fn stored(&self, object: &str) -> Vec<SfRecord>;
    /// Lets `by` pass on the org's clock (by moving it, or by waiting), so records written
    /// next carry a later `SystemModstamp` than those written before.
    async fn let_time_pass(&self, by: Duration);
}

/// Expands to one `#[tokio::test]` per Salesforce contract case for the harness type, named
/// `salesforce_contract::<case>`.
#[macro_export]
macro_rules! salesforce_contract_tests {
    ($harness:ty) => {
        mod salesforce_contract {
            #[allow(unused_imports)]
            use super::*;
            $crate::salesforce_contract_tests!(@cases $harness, [
                reads_by_id_are_keyed_deduplicated_and_batched,
                reads_by_field_are_keyed_by_the_requested_value,
                parent_fields_and_child_subqueries_come_with_the_record,
                changes_page_by_watermark_without_loss_or_repeat,
                upserts_go_in_collections_and_replay_creates_nothing,
                updates_report_per_record_in_input_order,
                tasks_are_never_created_twice,
                faults_through_the_wrapper_converge,
            ]);
        }
    };
    (@cases $harness:ty, [$($case:ident),* $(,)?]) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let h = <$harness as $crate::connector::salesforce::SalesforceHarness>::new().await;
                $crate::connector::salesforce::$case(&h).await;
            }
        )*
    };
}

fn object(v: Value) -> SfRecord {
    match v {
        Value::Object(m) => m,
        other => panic!("expected an object, got {other}"),
    }
}

fn text<'a>(r: &'a SfRecord, path: &str) -> Option<&'a str> {
    let mut parts = path.split('.');
    let first = r.get(parts.next()?)?;
    parts
        .try_fold(first, |v, p| v.as_object()?.get(p))?
        .as_str()
}

fn id_of(r: &SfRecord) -> SalesforceId {
    SalesforceId::parse(text(r, "Id").expect("record has an Id")).expect("valid Id")
}

fn accounts(n: usize, prefix: &str) -> Vec<SfRecord> {
    (0..n)
        .map(|i| {
            object(json!({
                "Name": format!("{prefix} {i:04}"),
                "Intacct_Customer_ID__c": format!("{prefix}-{i:04}"),
            }))
        })
        .collect()
}

fn saved_ids(results: &[WriteResult]) -> Vec<SalesforceId> {
    results
        .iter()
        .map(|r| {
            r.id()
                .cloned()
                .unwrap_or_else(|| panic!("not saved: {r:?}"))
        })
        .collect()
}

/// How the flows call a port: retry what the error's class allows, as an SQS redrive would.
async fn with_retries<T, Fut>(
    op: impl FnMut(u32) -> Fut,
) -> Result<T, lf_domain::port::SalesforcePortError>
where
    Fut: std::future::Future<Output = Result<T, lf_domain::port::SalesforcePortError>>,
{
    let policy = RetryPolicy {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(10),
        max_attempts: 50,
    };
    retry::run(
        &policy,
        None,
        "contract call",
        |e: &lf_domain::port::SalesforcePortError, _| Some(e.class()).filter(|c| c.is_retryable()),
        op,
    )
    .await
}

/// Bytes of `s` once form-urlencoded (what a query string holds).
fn encoded_len(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' | b' ' => 1,
            _ => 3,
        })
        .sum()
}

/// How many ids fit one `GET /services/data/vNN.N/query?q=SELECT … WHERE Id IN (…)` within
/// `budget`, worked out here from the wire format rather than from the port's batching code:
/// each quoted 18-character id costs 24 encoded bytes, each comma 3 more.
fn ids_per_query(budget: usize, object: &str, fields: &[&str]) -> usize {
    let statement = format!("SELECT {} FROM {object} WHERE Id IN ()", fields.join(", "));
    let fixed = "/services/data/v62.0/query?q=".len() + encoded_len(&statement);
    1 + (budget - fixed - 24) / 27
}

fn ceil_div(n: usize, d: usize) -> u64 {
    u64::try_from(n.div_ceil(d)).unwrap_or(u64::MAX)
}

pub async fn reads_by_id_are_keyed_deduplicated_and_batched<H: SalesforceHarness>(h: &H) {
    let port = h.port();
    let written = port
        .upsert("Account", "Intacct_Customer_ID__c", accounts(450, "Read"))
        .await
        .unwrap();
    let mut ids = saved_ids(&written);
    assert_eq!(ids.len(), 450);
    // Duplicates (in the other id length too) are read once; an unknown id is simply absent.
    ids.push(SalesforceId::parse(ids[0].to_15()).unwrap());
    ids.push(ids[1].clone());
    let unknown = SalesforceId::parse("001000000009999").unwrap();
    ids.push(unknown.clone());

    let read = RecordRead::new("Account", &["Name", "Intacct_Customer_ID__c"]);
    let before = h.api_calls();
    let got = port.read_by_ids(&read, &ids).await.unwrap();
    let calls = h.api_calls() - before;
    assert_eq!(got.len(), 450);
    assert!(!got.contains_key(&unknown));
    for (i, id) in saved_ids(&written).iter().enumerate() {
        let r = &got[id];
        assert_eq!(id_of(r), *id);
        assert_eq!(text(r, "Name"), Some(format!("Read {i:04}").as_str()));
    }
    // 451 distinct ids (the unknown one too), as many per call as the URI budget holds.
    let per_call = ids_per_query(
        h.max_uri_bytes(),
        "Account",
        &["Id", "Name", "Intacct_Customer_ID__c"],
    );
    assert!(per_call < 451, "the budget must force several calls");
    assert_eq!(
        calls,
        ceil_div(451, per_call),
        "{calls} calls of {per_call} ids"
    );
    assert!(port.read_by_ids(&read, &[]).await.unwrap().is_empty());
}

pub async fn reads_by_field_are_keyed_by_the_requested_value<H: SalesforceHarness>(h: &H) {
    let port = h.port();
    let acme = h.seed("Account", json!({"Name": "Acme"}));
    let other = h.seed("Account", json!({"Name": "Other"}));
    for (last, email, account) in [
        ("Lovelace", "Ada@Example.com", &acme),
        ("Hopper", "grace@example.com", &acme),
        ("Turing", "alan@example.com", &other),
        ("Twin", "grace@example.com", &other),
    ] {
        h.seed(
            "Contact",
            json!({"LastName": last, "Email": email, "AccountId": account.as_str()}),
        );
    }
    let read = RecordRead::new("Contact", &["LastName", "Email", "Account.Name"]);
    let wanted = vec![
        "ada@example.com".to_owned(),
        "grace@example.com".to_owned(),
        "nobody@example.com".to_owned(),
        "x') OR LastName != ('".to_owned(),
    ];
    let got = port.read_by_field(&read, "Email", &wanted).await.unwrap();
    let names = |key: &str| -> BTreeSet<String> {
        got.get(key)
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| text(r, "LastName"))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    // Salesforce compares text case-insensitively; the result is filed under the asked value.
    assert_eq!(
        names("ada@example.com"),
        BTreeSet::from(["Lovelace".to_owned()])
    );
    assert_eq!(
        names("grace@example.com"),
        BTreeSet::from(["Hopper".to_owned(), "Twin".to_owned()])
    );
    assert!(!got.contains_key("nobody@example.com"));
    assert!(
        !got.contains_key("x') OR LastName != ('"),
        "an injection matched"
    );
    assert_eq!(got.len(), 2);

    // By a reference field, asked in the 15-character id form.
    let short = acme.to_15().to_owned();
    let by_account = port
        .read_by_field(&read, "AccountId", std::slice::from_ref(&short))
        .await
        .unwrap();
    let rows = &by_account[&short];
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| text(r, "Account.Name") == Some("Acme")));
}

pub async fn parent_fields_and_child_subqueries_come_with_the_record<H: SalesforceHarness>(h: &H) {
    let port = h.port();
    let pricebook = h
        .stored("Pricebook2")
        .into_iter()
        .find(|p| p.get("IsStandard") == Some(&json!(true)))
        .map(|p| id_of(&p))
        .expect("every org has a standard price book");
    let account = h.seed("Account", json!({"Name": "Parent Co"}));
    let product = h.seed(
        "Product2",
        json!({"Name": "Widget", "ProductCode": "W-1", "IsActive": true}),
    );
    let entry = h.seed(
        "PricebookEntry",
        json!({"Pricebook2Id": pricebook.as_str(), "Product2Id": product.as_str(),
               "UnitPrice": 100, "IsActive": true, "CurrencyIsoCode": "USD"}),
    );
    let opp = h.seed(
        "Opportunity",
        json!({"Name": "Parent Co - Widgets", "AccountId": account.as_str(), "StageName": "Closed Won",
               "CloseDate": "2026-03-01", "Pricebook2Id": pricebook.as_str(), "CurrencyIsoCode": "USD"}),
    );
    for quantity in [1, 2, 3] {
        h.seed(
            "OpportunityLineItem",
            json!({"OpportunityId": opp.as_str(), "PricebookEntryId": entry.as_str(),
                   "Quantity": quantity, "UnitPrice": 100}),
        );
    }
    let quote = h.seed(
        "SBQQ__Quote__c",
        json!({"SBQQ__Opportunity2__c": opp.as_str(), "SBQQ__Account__c": account.as_str(),
               "SBQQ__Primary__c": true}),
    );
    for quantity in [5, 7] {
        h.seed(
            "SBQQ__QuoteLine__c",
            json!({"SBQQ__Quote__c": quote.as_str(), "SBQQ__Product__c": product.as_str(),
                   "SBQQ__Quantity__c": quantity}),
        );
    }

    let read = RecordRead::new("Opportunity", &["Name", "Account.Name"])
        .with_child(
            "OpportunityLineItems",
            &["Quantity", "PricebookEntry.Product2.ProductCode"],
        )
        .with_child("SBQQ__Quotes2__r", &["SBQQ__Primary__c"]);
    let got = port
        .read_by_ids(&read, std::slice::from_ref(&opp))
        .await
        .unwrap();
    let r = &got[&opp];
    assert_eq!(text(r, "Account.Name"), Some("Parent Co"));
    let lines = r["OpportunityLineItems"]["records"]
        .as_array()
        .expect("line items");
    let mut quantities: Vec<f64> = lines
        .iter()
        .filter_map(|l| l["Quantity"].as_f64())
        .collect();
    quantities.sort_by(f64::total_cmp);
    assert_eq!(quantities, vec![1.0, 2.0, 3.0]);
    assert!(
        lines
            .iter()
            .all(|l| l["PricebookEntry"]["Product2"]["ProductCode"] == json!("W-1"))
    );
    let quotes = r["SBQQ__Quotes2__r"]["records"].as_array().expect("quotes");
    assert_eq!(quotes.len(), 1);

    // Quote lines under their quote, the quote found by its parent account.
    let read = RecordRead::new("SBQQ__Quote__c", &["SBQQ__Account__r.Name"]).with_child(
        "SBQQ__LineItems__r",
        &["SBQQ__Quantity__c", "SBQQ__Product__r.Name"],
    );
    let by_account = port
        .read_by_field(&read, "SBQQ__Account__c", &[account.as_str().to_owned()])
        .await
        .unwrap();
    let q = &by_account[account.as_str()][0];
    assert_eq!(text(q, "SBQQ__Account__r.Name"), Some("Parent Co"));
    let quote_lines = q["SBQQ__LineItems__r"]["records"]
        .as_array()
        .expect("quote lines");
    assert_eq!(quote_lines.len(), 2);
    assert!(
        quote_lines
            .iter()
            .all(|l| l["SBQQ__Product__r"]["Name"] == json!("Widget"))
    );

    // A field the object does not have is a clear, permanent error.
    let bad = RecordRead::new("Opportunity", &["No_Such_Field__c"]);
    let err = port
        .read_by_ids(&bad, std::slice::from_ref(&opp))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent, "{err}");
}

pub async fn changes_page_by_watermark_without_loss_or_repeat<H: SalesforceHarness>(h: &H) {
    let port = h.port();
    let written = saved_ids(
        &port
            .upsert("Account", "Intacct_Customer_ID__c", accounts(25, "Change"))
            .await
            .unwrap(),
    );
    let read = RecordRead::new("Account", &["Name"]);
    let mut seen: Vec<SalesforceId> = Vec::new();
    let mut mark: Option<Watermark> = None;
    let before = h.api_calls();
    let mut rounds = 0;
    loop {
        let batch = port.changes_since(&read, mark.as_ref(), 7).await.unwrap();
        assert!(batch.records.len() <= 7);
        if let (Some(old), Some(new)) = (&mark, &batch.watermark)
            && !batch.records.is_empty()
        {
            assert!(new > old, "the watermark moves forward");
        }
        seen.extend(batch.records.iter().map(id_of));
        mark = batch.watermark.clone();
        rounds += 1;
        if !batch.more {
            break;
        }
        assert!(rounds < 10, "paging does not end");
    }
    // 7 + 7 + 7 + 4: four bounded reads, one call each.
    assert_eq!(rounds, 4);
    assert_eq!(h.api_calls() - before, 4);
    let unique: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no record twice");
    assert_eq!(unique, written.iter().cloned().collect::<BTreeSet<_>>());

    // Nothing new: same watermark, nothing returned.
    let idle = port.changes_since(&read, mark.as_ref(), 7).await.unwrap();
    assert!(idle.records.is_empty());
    assert!(!idle.more);
    assert_eq!(idle.watermark, mark);

    // Three updates, a little later, come next, and only they.
    h.let_time_pass(Duration::from_secs(2)).await;
    let touched: Vec<SfRecord> = written[..3]
        .iter()
        .map(|id| object(json!({"Id": id.as_str(), "Phone": "555-0100"})))
        .collect();
    assert!(
        port.update("Account", touched)
            .await
            .unwrap()
            .iter()
            .all(|r| r.id().is_some())
    );
    let next = port.changes_since(&read, mark.as_ref(), 7).await.unwrap();
    let got: BTreeSet<_> = next.records.iter().map(id_of).collect();
    assert_eq!(got, written[..3].iter().cloned().collect::<BTreeSet<_>>());
}

pub async fn upserts_go_in_collections_and_replay_creates_nothing<H: SalesforceHarness>(h: &H) {
    let port = h.port();
    let records = accounts(1_000, "Upsert");
    let before = h.api_calls();
    let first = port
        .upsert("Account", "Intacct_Customer_ID__c", records.clone())
        .await
        .unwrap();
    assert_eq!(
        h.api_calls() - before,
        5,
        "1,000 records = 5 collections calls of 200"
    );
    assert!(first.iter().all(|r| matches!(
        r,
        WriteResult::Saved {
            created: Some(true),
            ..
        }
    )));

    let before = h.api_calls();
    let replay = port
        .upsert("Account", "Intacct_Customer_ID__c", records)
        .await
        .unwrap();
    assert_eq!(h.api_calls() - before, 5);
    assert!(replay.iter().all(|r| matches!(
        r,
        WriteResult::Saved {
            created: Some(false),
            ..
        }
    )));
    assert_eq!(
        saved_ids(&first),
        saved_ids(&replay),
        "the same records, in input order"
    );
    assert_eq!(h.stored("Account").len(), 1_000);
}

pub async fn updates_report_per_record_in_input_order<H: SalesforceHarness>(h: &H) {
    let port = h.port();
    let ids = saved_ids(
        &port
            .upsert("Account", "Intacct_Customer_ID__c", accounts(3, "Update"))
            .await
            .unwrap(),
    );
    let updates = vec![
        object(json!({"Id": ids[0].as_str(), "Phone": "1"})),
        object(json!({"Id": ids[1].as_str(), "Name": null})),
        object(json!({"Id": ids[2].as_str(), "Phone": "3"})),
    ];
    let results = port.update("Account", updates).await.unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].id(), Some(&ids[0]));
    assert_eq!(results[2].id(), Some(&ids[2]));
    match &results[1] {
        WriteResult::Failed(f) => {
            assert_eq!(f.code, "REQUIRED_FIELD_MISSING");
            assert_eq!(f.class, ErrorClass::Permanent);
        }
        other => panic!("{other:?}"),
    }
    let phones: BTreeMap<String, Option<String>> = h
        .stored("Account")
        .iter()
        .map(|r| {
            (
                text(r, "Id").unwrap_or_default().to_owned(),
                text(r, "Phone").map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(phones[ids[0].as_str()].as_deref(), Some("1"));
    assert_eq!(phones[ids[1].as_str()], None);
    assert_eq!(phones[ids[2].as_str()].as_deref(), Some("3"));
}

pub async fn tasks_are_never_created_twice<H: SalesforceHarness>(h: &H) {
    let port = h.port();
    let account = h.seed("Account", json!({"Name": "On Hold Co"}));
    let task = |key: &str, subject: &str| {
        object(
            json!({TASK_KEY_FIELD: key, "Subject": subject, "WhatId": account.as_str(),
                      "Priority": "High"}),
        )
    };
    let first = port
        .upsert_tasks(vec![
            task("credit-alert/001/hold", "On hold"),
            task("credit-alert/001/overdue", "Overdue"),
        ])
        .await
        .unwrap();
    let again = port
        .upsert_tasks(vec![
            task("credit-alert/001/hold", "On hold (still)"),
            task("credit-alert/001/overdue", "Overdue"),
        ])
        .await
        .unwrap();
    assert_eq!(saved_ids(&first), saved_ids(&again));
    assert!(again.iter().all(|r| matches!(
        r,
        WriteResult::Saved {
            created: Some(false),
            ..
        }
    )));
    let tasks = h.stored("Task");
    assert_eq!(tasks.len(), 2);
    assert!(
        tasks
            .iter()
            .any(|t| text(t, "Subject") == Some("On hold (still)"))
    );

    // A task without its key is refused as a whole, and nothing is written.
    let err = port
        .upsert_tasks(vec![object(json!({"Subject": "keyless"}))])
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(h.stored("Task").len(), 2);
}

pub async fn faults_through_the_wrapper_converge<H: SalesforceHarness>(h: &H) {
    let faulty = FaultySalesforce::new(h.port(), 7);

    // A lost response after commit, then throttling and a transient refusal: the replayed
    // upsert converges on exactly one record per key.
    faulty
        .plan()
        .inject_next(ConnectorFault::LostAfterCommit, 1);
    faulty.plan().inject_next(ConnectorFault::Throttle, 1);
    faulty.plan().inject_next(ConnectorFault::Transient, 1);
    faulty
        .plan()
        .inject_next(ConnectorFault::Slow(Duration::from_millis(20)), 1);
    let batch = accounts(250, "Fault");
    let results =
        with_retries(|_| faulty.upsert("Account", "Intacct_Customer_ID__c", batch.clone()))
            .await
            .unwrap();
    assert_eq!(faulty.plan().injected(), 4);
    assert!(
        results.iter().all(|r| matches!(
            r,
            WriteResult::Saved {
                created: Some(false),
                ..
            }
        )),
        "the replay after the lost response found every record"
    );
    assert_eq!(h.stored("Account").len(), 250);

    // A permanent refusal is not retried and applies nothing.
    faulty.plan().inject_next(ConnectorFault::Permanent, 1);
    let err =
        with_retries(|_| faulty.upsert("Account", "Intacct_Customer_ID__c", accounts(5, "Never")))
            .await
            .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(h.stored("Account").len(), 250);

    // Random faults over many calls: reads and writes still converge.
    faulty.plan().set_rate(ConnectorFault::LostAfterCommit, 0.3);
    faulty.plan().set_rate(ConnectorFault::Transient, 0.2);
    faulty.plan().set_rate(ConnectorFault::Throttle, 0.1);
    let mut all = Vec::new();
    for round in 0..8 {
        let batch = accounts(20, &format!("Chaos{round}"));
        let ids = saved_ids(
            &with_retries(|_| faulty.upsert("Account", "Intacct_Customer_ID__c", batch.clone()))
                .await
                .unwrap(),
        );
        all.extend(ids);
    }
    let read = RecordRead::new("Account", &["Name"]);
    let got = with_retries(|_| faulty.read_by_ids(&read, &all))
        .await
        .unwrap();
    faulty.plan().clear();
    assert_eq!(got.len(), 160);
    assert_eq!(
        h.stored("Account").len(),
        250 + 160,
        "no record created twice"
    );
    assert!(faulty.plan().injected() > 4, "the random faults fired");
}
