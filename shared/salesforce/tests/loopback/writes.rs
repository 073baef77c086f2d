//! Many-record writes: sObject Collections (200 per call), all-or-none, Composite with
//! references, and the automatic lane choice.

use lf_domain::{Classify, ErrorClass};
use lf_salesforce::composite::CompositeRequest;
use lf_salesforce::{Fields, Lane, LaneChoice, RecordResult, WriteOp, WriteOptions};
use serde_json::json;

use crate::support::{client, client_with, fields, org};

fn accounts(n: usize, prefix: &str) -> Vec<Fields> {
    (0..n)
        .map(|i| {
            fields(json!({
                "Name": format!("{prefix} {i:04}"),
                "Intacct_Customer_ID__c": format!("{prefix}-{i:04}"),
            }))
        })
        .collect()
}

#[tokio::test]
async fn a_thousand_records_go_in_five_collection_calls() {
    let org = org().await;
    let sf = client(&org);
    sf.connect().await.unwrap();
    let calls = org.api_calls();
    let results = sf
        .create_many("Account", &accounts(1_000, "Bulkless"), false)
        .await
        .unwrap();
    assert_eq!(org.api_calls() - calls, 5);
    assert_eq!(results.len(), 1_000);
    assert!(results.iter().all(|r| r.success && r.record_id().is_some()));
    assert_eq!(org.records("Account").len(), 1_000);
}

#[tokio::test]
async fn upsert_update_and_delete_many_report_per_item() {
    let org = org().await;
    let sf = client(&org);
    let first = sf
        .upsert_many(
            "Account",
            "Intacct_Customer_ID__c",
            &accounts(250, "Up"),
            false,
        )
        .await
        .unwrap();
    assert!(first.iter().all(|r| r.success && r.created == Some(true)));

    let mut again = accounts(260, "Up");
    again[3] = fields(json!({"Intacct_Customer_ID__c": "Up-0003", "Name": null}));
    let second = sf
        .upsert_many("Account", "Intacct_Customer_ID__c", &again, false)
        .await
        .unwrap();
    assert_eq!(
        second
            .iter()
            .filter(|r| r.created == Some(false) && r.success)
            .count(),
        249
    );
    assert_eq!(
        second.iter().filter(|r| r.created == Some(true)).count(),
        10
    );
    let failed = &second[3];
    assert!(!failed.success);
    assert_eq!(failed.error().unwrap().code, "REQUIRED_FIELD_MISSING");
    assert_eq!(failed.error().unwrap().class(), ErrorClass::Permanent);

    let updates: Vec<Fields> = first
        .iter()
        .take(3)
        .map(|r| fields(json!({"Id": r.id, "Phone": "555"})))
        .collect();
    let updated = sf.update_many("Account", &updates, false).await.unwrap();
    assert!(updated.iter().all(|r| r.success));
    assert_eq!(
        org.record(first[0].id.as_deref().unwrap()).unwrap()["Phone"],
        "555"
    );

    let ids: Vec<_> = first.iter().take(5).filter_map(|r| r.record_id()).collect();
    let deleted = sf.delete_many(&ids, false).await.unwrap();
    assert!(deleted.iter().all(|r| r.success));
    assert_eq!(org.records("Account").len(), 255);
}

#[tokio::test]
async fn all_or_none_rolls_back_the_call() {
    let org = org().await;
    let sf = client(&org);
    let mut records = accounts(3, "Atomic");
    records[1].remove("Name");
    let results = sf.create_many("Account", &records, true).await.unwrap();
    assert!(results.iter().all(|r| !r.success));
    assert_eq!(results[1].error().unwrap().code, "REQUIRED_FIELD_MISSING");
    assert_eq!(
        results[0].error().unwrap().code,
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert!(org.records("Account").is_empty());

    // Without allOrNone the valid records are saved.
    let results = sf.create_many("Account", &records, false).await.unwrap();
    assert_eq!(results.iter().filter(|r| r.success).count(), 2);
}

#[tokio::test]
async fn composite_chains_references_in_one_call() {
    let org = org().await;
    let sf = client(&org);
    sf.connect().await.unwrap();
    let mut c = CompositeRequest::new(sf.api_version()).all_or_none(true);
    let account = c
        .create(
            "NewAccount",
            "Account",
            &fields(json!({"Name": "Composite Co"})),
        )
        .unwrap();
    c.create(
        "NewContact",
        "Contact",
        &fields(json!({"LastName": "Lovelace", "AccountId": account.as_str()})),
    )
    .unwrap();
    c.update(
        "Touch",
        "Account",
        account.clone(),
        &fields(json!({"Phone": "42"})),
    )
    .unwrap();
    let calls = org.api_calls();
    let out = sf.composite(&c).await.unwrap();
    assert_eq!(org.api_calls() - calls, 1);
    let account_id = out.get("NewAccount").unwrap().id().unwrap();
    let contact_id = out.get("NewContact").unwrap().id().unwrap();
    assert!(out.get("Touch").unwrap().is_success());
    let contact = org.record(contact_id.as_str()).unwrap();
    assert_eq!(contact["AccountId"], account_id.as_str());
    assert_eq!(org.record(account_id.as_str()).unwrap()["Phone"], "42");

    // All-or-none: one bad subrequest fails and rolls back the others.
    let mut c = CompositeRequest::new(sf.api_version()).all_or_none(true);
    c.create("Good", "Account", &fields(json!({"Name": "Rolled back"})))
        .unwrap();
    c.create(
        "Bad",
        "Contact",
        &fields(json!({"FirstName": "No last name"})),
    )
    .unwrap();
    let out = sf.composite(&c).await.unwrap();
    let bad = out.get("Bad").unwrap();
    assert!(!bad.is_success());
    assert_eq!(bad.errors()[0].code, "REQUIRED_FIELD_MISSING");
    let good = out.get("Good").unwrap();
    assert!(!good.is_success());
    assert!(
        matches!(
            good.errors()[0].code.as_str(),
            "ALL_OR_NONE_OPERATION_ROLLED_BACK" | "PROCESSING_HALTED"
        ),
        "{:?}",
        good.errors()
    );
    assert!(
        org.records("Account")
            .iter()
            .all(|r| r["Name"] != "Rolled back")
    );
}

#[tokio::test]
async fn the_write_lane_is_chosen_by_size() {
    let org = org().await;
    let sf = client_with(&org, |c| c.bulk_threshold = 300);
    let small = sf
        .write(
            "Account",
            &WriteOp::Upsert {
                external_id_field: "Intacct_Customer_ID__c".into(),
            },
            accounts(300, "Small"),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(small.lane, Lane::Collections);
    assert_eq!(small.saved(), 300);

    let big = sf
        .write(
            "Account",
            &WriteOp::Upsert {
                external_id_field: "Intacct_Customer_ID__c".into(),
            },
            accounts(301, "Big"),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(big.lane, Lane::Bulk);
    assert_eq!(big.saved(), 301);
    assert!(big.outcomes.iter().all(|o| matches!(
        o.result,
        RecordResult::Saved {
            id: Some(_),
            created: Some(true)
        }
    )));
    assert_eq!(org.records("Account").len(), 601);

    // all-or-none keeps a big write on collections; forcing Bulk with it is refused.
    let forced = sf
        .write(
            "Account",
            &WriteOp::Insert,
            accounts(2, "Forced"),
            WriteOptions {
                lane: LaneChoice::Bulk,
                all_or_none: true,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(forced.class(), ErrorClass::Permanent);
}
