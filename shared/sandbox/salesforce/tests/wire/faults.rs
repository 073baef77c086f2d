//! Injected faults: determinism and each fault's effect on the wire.

use std::time::Duration;

use lf_sandbox_salesforce::{DataSet, SalesforceFault, SandboxConfig};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{start, start_with};

#[tokio::test]
async fn same_seed_same_faults() {
    let config = || SandboxConfig {
        fault_seed: 42,
        fault_rates: vec![
            (SalesforceFault::Unavailable, 0.3),
            (SalesforceFault::LimitExceeded, 0.2),
        ],
        ..Default::default()
    };
    let a = start_with(config()).await;
    let b = start_with(config()).await;
    let mut sa = Vec::new();
    let mut sb = Vec::new();
    for _ in 0..40 {
        sa.push(a.get("/limits").await.status.as_u16());
        sb.push(b.get("/limits").await.status.as_u16());
    }
    assert_eq!(sa, sb);
    assert!(
        sa.contains(&503) && sa.contains(&403) && sa.contains(&200),
        "{sa:?}"
    );
    assert_eq!(a.sandbox.faults().injected(), b.sandbox.faults().injected());
    let ok = sa.iter().filter(|s| **s == 200).count() as u64;
    assert_eq!(a.sandbox.api_calls(), ok, "refused calls are not counted");
}

#[tokio::test]
async fn lock_row_hits_the_next_write_not_reads() {
    let org = start(DataSet::Empty).await;
    org.sandbox
        .faults()
        .inject_next(SalesforceFault::LockRow, 1);
    assert_eq!(org.get("/limits").await.status, StatusCode::OK);
    let r = org
        .post("/sobjects/Account", json!({"Name": "Locked"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "UNABLE_TO_LOCK_ROW");
    assert!(org.sandbox.records("Account").is_empty());
    assert_eq!(
        org.post("/sobjects/Account", json!({"Name": "Fine"}))
            .await
            .status,
        StatusCode::CREATED
    );

    // In a collection, the first record takes it.
    org.sandbox
        .faults()
        .inject_next(SalesforceFault::ValidationRule, 1);
    let r = org
        .post(
            "/composite/sobjects",
            json!({"records": [
                {"attributes": {"type": "Account"}, "Name": "First"},
                {"attributes": {"type": "Account"}, "Name": "Second"}
            ]}),
        )
        .await
        .json();
    assert_eq!(
        r[0]["errors"][0]["statusCode"],
        "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    );
    assert_eq!(r[1]["success"], true);
}

#[tokio::test]
async fn expire_limit_and_unavailable() {
    let org = start(DataSet::Empty).await;
    let faults = org.sandbox.faults();
    faults.inject_next(SalesforceFault::Unavailable, 1);
    let r = org.get("/limits").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.error_code(), "SERVER_UNAVAILABLE");
    faults.inject_next(SalesforceFault::LimitExceeded, 1);
    assert_eq!(
        org.get("/limits").await.error_code(),
        "REQUEST_LIMIT_EXCEEDED"
    );
    faults.inject_next(SalesforceFault::ExpireSessions, 1);
    assert_eq!(org.get("/limits").await.error_code(), "INVALID_SESSION_ID");
    assert_eq!(
        org.get("/limits").await.status,
        StatusCode::UNAUTHORIZED,
        "the session stays expired"
    );
    assert_eq!(faults.injected(), 3);
    assert_eq!(org.sandbox.api_calls(), 0);
}

#[tokio::test]
async fn slow_response_commits_the_write_past_the_client_timeout() {
    let org = start_with(SandboxConfig {
        slow_response: Duration::from_secs(2),
        latency: Duration::from_millis(1),
        ..Default::default()
    })
    .await;
    org.sandbox
        .faults()
        .inject_next(SalesforceFault::SlowResponse, 1);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = client
        .post(org.url("/sobjects/Account"))
        .bearer_auth(&org.token)
        .json(&json!({"Name": "Committed anyway"}))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let names: Vec<String> = org
        .sandbox
        .records("Account")
        .iter()
        .map(|r| r["Name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, vec!["Committed anyway".to_owned()]);

    org.sandbox
        .faults()
        .inject_next(SalesforceFault::Latency, 1);
    assert_eq!(
        org.get("/limits").await.status,
        StatusCode::OK,
        "latency only delays"
    );
}
