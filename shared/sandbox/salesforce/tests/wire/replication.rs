//! getUpdated / getDeleted (`sobjects/{type}/updated` and `/deleted`) over HTTP, on a clock
//! the test moves.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lf_domain::ManualClock;
use lf_sandbox_salesforce::{DataSet, SandboxConfig};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Org, start_with, urlencode};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// An org whose clock starts at 10:00:00 and then: Account A created at 10:00:20, B at
/// 10:05:10, A deleted at 10:10:30, and "now" at 10:12:40.
async fn history() -> (Org, String, String) {
    let clock = Arc::new(ManualClock::new(at("2026-06-01T10:00:00Z")));
    let org = start_with(SandboxConfig {
        seed: DataSet::Empty,
        clock: clock.clone(),
        ..Default::default()
    })
    .await;
    clock.set(at("2026-06-01T10:00:20Z"));
    let a = org
        .post("/sobjects/Account", json!({"Name": "A"}))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    clock.set(at("2026-06-01T10:05:10Z"));
    let b = org
        .post("/sobjects/Account", json!({"Name": "B"}))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    clock.set(at("2026-06-01T10:10:30Z"));
    let del = org
        .send(
            reqwest::Method::DELETE,
            &format!("/sobjects/Account/{a}"),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    clock.set(at("2026-06-01T10:12:40Z"));
    (org, a, b)
}

fn window(resource: &str, start: &str, end: &str) -> String {
    format!(
        "/sobjects/Account/{resource}/?start={}&end={}",
        urlencode(start),
        urlencode(end)
    )
}

#[tokio::test]
async fn updated_lists_live_records_changed_in_the_window_by_the_minute() {
    let (org, _a, b) = history().await;
    // simple-salesforce's form; seconds are ignored, so 10:00:59 reads as 10:00.
    let r = org
        .get(&window(
            "updated",
            "2026-06-01T10:00:59+00:00",
            "2026-06-01T10:12:00+00:00",
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"ids": [b], "latestDateCovered": "2026-06-01T10:12:00.000+0000"}),
        "the deleted A is not an update"
    );
    // B's change at 10:05:10 is in [10:05, …) but not in [10:06, …); jsforce's toISOString form.
    let later = org
        .get(&window(
            "updated",
            "2026-06-01T10:06:00.000Z",
            "2026-06-01T10:12:00.000Z",
        ))
        .await;
    assert_eq!(later.json()["ids"], json!([]));
    let edge = org
        .get(&window(
            "updated",
            "2026-06-01T10:05:00.000Z",
            "2026-06-01T10:05:30.000Z",
        ))
        .await;
    assert_eq!(
        edge.status,
        StatusCode::BAD_REQUEST,
        "same minute: {}",
        edge.text
    );
    let to_five = org
        .get(&window(
            "updated",
            "2026-06-01T10:00:00Z",
            "2026-06-01T10:05:00Z",
        ))
        .await;
    assert_eq!(to_five.json()["ids"], json!([]), "the end is exclusive");
    // An end in the future is covered only up to now.
    let future = org
        .get(&window(
            "updated",
            "2026-06-01T10:00:00Z",
            "2026-06-02T00:00:00Z",
        ))
        .await;
    assert_eq!(
        future.json()["latestDateCovered"],
        "2026-06-01T10:12:00.000+0000"
    );
}

#[tokio::test]
async fn deleted_lists_deletions_with_their_times() {
    let (org, a, _b) = history().await;
    let r = org
        .get(&window(
            "deleted",
            "2026-06-01T10:00:00+00:00",
            "2026-06-01T10:12:00+00:00",
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({
            "deletedRecords": [{"id": a, "deletedDate": "2026-06-01T10:10:30.000+0000"}],
            "earliestDateAvailable": "2026-06-01T10:00:00.000+0000",
            "latestDateCovered": "2026-06-01T10:12:00.000+0000",
        })
    );
    let before = org
        .get(&window(
            "deleted",
            "2026-06-01T10:00:00Z",
            "2026-06-01T10:10:00Z",
        ))
        .await;
    assert_eq!(before.json()["deletedRecords"], json!([]));
}

#[tokio::test]
async fn bad_windows_get_the_real_errors() {
    let (org, _, _) = history().await;
    let cases = [
        (
            window("updated", "2026-06-01T10:10:00Z", "2026-06-01T10:00:00Z"),
            "INVALID_REPLICATION_DATE",
            "precede",
        ),
        (
            window("deleted", "2026-05-01T00:00:00Z", "2026-06-01T10:00:00Z"),
            "INVALID_REPLICATION_DATE",
            "30 days",
        ),
        (
            window("updated", "last tuesday", "2026-06-01T10:00:00Z"),
            "INVALID_REPLICATION_DATE",
            "ISO 8601",
        ),
        (
            "/sobjects/Account/updated/?start=2026-06-01T10:00:00Z".to_owned(),
            "MISSING_ARGUMENT",
            "end",
        ),
    ];
    for (path, code, words) in cases {
        let r = org.get(&path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text);
        assert_eq!(r.error_code(), code, "{path}");
        assert!(
            r.json()[0]["message"].as_str().unwrap().contains(words),
            "{path}: {}",
            r.text
        );
    }
    // 30 days back to the minute is still allowed.
    let edge = org
        .get(&window(
            "updated",
            "2026-05-02T10:12:00Z",
            "2026-06-01T10:12:00Z",
        ))
        .await;
    assert_eq!(edge.status, StatusCode::OK, "{}", edge.text);
    let unknown = org
        .get(
            &window("updated", "2026-06-01T10:00:00Z", "2026-06-01T10:12:00Z")
                .replace("Account", "Nope__c"),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
