//! The port over the client, where the sandbox shows what the generic contract cannot: Bulk
//! results matched back to their input records, aggregates, the settle bound of the change
//! reader, and errors that keep their class.

use std::sync::Arc;
use std::time::Duration;

use lf_domain::port::{RecordRead, SalesforcePort, WriteResult};
use lf_domain::{Classify, ErrorClass, ManualClock};
use lf_salesforce::{Aggregate, Condition, Select};
use lf_sandbox_salesforce::SandboxConfig;
use serde_json::json;

use crate::support::{client_with, fields, org, org_with};

#[tokio::test]
async fn bulk_lane_results_come_back_in_input_order() {
    let org = org().await;
    // A low threshold sends 30 records through a Bulk API 2.0 job.
    let sf = client_with(&org, |c| c.bulk_threshold = 10);
    let mut records: Vec<_> = (0..30)
        .map(|i| fields(json!({"Name": format!("Bulk {i:02}"), "Intacct_Customer_ID__c": format!("B-{i:02}")})))
        .collect();
    // One bad row in the middle: a Name longer than the field allows.
    records[13] = fields(json!({"Name": "x".repeat(300), "Intacct_Customer_ID__c": "B-13"}));
    // The client's own single-record `upsert` shadows the port method on the concrete type.
    let results = SalesforcePort::upsert(&sf, "Account", "Intacct_Customer_ID__c", records)
        .await
        .unwrap();
    assert_eq!(results.len(), 30);
    let stored = org.records("Account");
    for (i, r) in results.iter().enumerate() {
        if i == 13 {
            match r {
                WriteResult::Failed(f) => assert_eq!(f.class, ErrorClass::Permanent, "{f:?}"),
                other => panic!("{other:?}"),
            }
            continue;
        }
        let id = r.id().unwrap_or_else(|| panic!("{i}: {r:?}"));
        let rec = stored
            .iter()
            .find(|s| s["Id"] == json!(id.as_str()))
            .expect("saved record is stored");
        assert_eq!(rec["Intacct_Customer_ID__c"], json!(format!("B-{i:02}")));
    }
    assert_eq!(stored.len(), 29);
}

#[tokio::test]
async fn aggregates_group_booked_amounts_by_account() {
    let org = org().await;
    let sf = client_with(&org, |_| {});
    let a = org.insert("Account", json!({"Name": "A"})).unwrap();
    let b = org.insert("Account", json!({"Name": "B"})).unwrap();
    for (account, amount, close) in [
        (&a, 100, "2026-01-10"),
        (&a, 50, "2026-01-20"),
        (&a, 7, "2026-02-01"),
        (&b, 30, "2026-01-05"),
    ] {
        org.insert(
            "Opportunity",
            json!({"Name": "Deal", "AccountId": account, "StageName": "Closed Won",
                   "CloseDate": close, "Amount": amount}),
        )
        .unwrap();
    }
    // Grouping by CALENDAR_MONTH(CloseDate) as well is what reconciliation wants; the
    // builder renders it (unit-tested), the sandbox's SOQL does not know date functions yet.
    let q = Select::new(&["AccountId"], "Opportunity")
        .aggregate(Aggregate::Sum, Some("Amount"), Some("booked"))
        .aggregate(Aggregate::Count, Some("Id"), None)
        .filter(Condition::eq("IsWon", true))
        .filter(Condition::ge(
            "CloseDate",
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        ))
        .group_by("AccountId")
        .build()
        .unwrap();
    let rows = sf.query(&q).await.unwrap();
    let mut got: Vec<(String, f64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.text("AccountId").unwrap(),
                r.get("booked").and_then(|v| v.as_f64()).unwrap(),
                // Unaliased aggregates are named expr0, expr1… in order.
                r.get("expr0").and_then(|v| v.as_i64()).unwrap(),
            )
        })
        .collect();
    got.sort_by(|x, y| x.0.cmp(&y.0));
    let mut want = vec![(a.clone(), 157.0, 3), (b.clone(), 30.0, 1)];
    want.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(got, want);
}

#[tokio::test]
async fn an_unknown_object_is_a_permanent_port_error() {
    let org = org().await;
    let sf = client_with(&org, |_| {});
    let err = sf
        .changes_since(&RecordRead::new("NoSuchObject__c", &["Name"]), None, 10)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent, "{err}");
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn changes_younger_than_the_settle_time_wait_for_the_next_poll() {
    let now = chrono::Utc::now();
    let clock = Arc::new(ManualClock::new(now - chrono::Duration::minutes(2)));
    let org = org_with(SandboxConfig {
        clock: clock.clone(),
        ..SandboxConfig::default()
    })
    .await;
    let sf = client_with(&org, |c| c.change_settle = Duration::from_secs(30));
    let settled = org
        .insert("Account", json!({"Name": "Two minutes old"}))
        .unwrap();
    clock.set(now);
    org.insert("Account", json!({"Name": "Just now"})).unwrap();

    let read = RecordRead::new("Account", &["Name"]);
    let batch = sf.changes_since(&read, None, 100).await.unwrap();
    let names: Vec<&str> = batch
        .records
        .iter()
        .filter_map(|r| r.get("Name").and_then(|v| v.as_str()))
        .collect();
    // The record of the still-open window is left for a later poll, and the watermark stops
    // before it, so that poll will take it.
    assert_eq!(names, vec!["Two minutes old"]);
    assert!(!batch.more);
    let mark = batch.watermark.unwrap();
    assert_eq!(mark.last_id, settled);
    assert!(mark.modified_at < now);
}
