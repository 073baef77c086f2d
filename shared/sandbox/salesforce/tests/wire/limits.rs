//! The daily allowance, Sforce-Limit-Info and /limits.

use lf_sandbox_salesforce::DataSet;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::start;

#[tokio::test]
async fn allowance_runs_out_with_403() {
    let org = start(DataSet::Empty).await;
    org.sandbox.set_daily_limit(3);
    for n in 1..=3 {
        let r = org.get("/limits").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.header("sforce-limit-info").unwrap(),
            format!("api-usage={n}/3")
        );
    }
    let r = org.get("/limits").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.json(),
        json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    );
    assert_eq!(r.header("sforce-limit-info").unwrap(), "api-usage=3/3");
    assert_eq!(org.sandbox.api_calls(), 3);
    org.sandbox.set_api_usage(0);
    let limits = org.get("/limits").await.json();
    assert_eq!(
        limits["DailyApiRequests"],
        json!({"Max": 3, "Remaining": 2})
    );
}

#[tokio::test]
async fn every_response_carries_limit_info() {
    let org = start(DataSet::Empty).await;
    let r = org.get("/sobjects/Account/001000000000000AAA").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("sforce-limit-info").unwrap(), "api-usage=1/100000");
    let resp = org
        .http
        .get(format!("{}/services/data/", org.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["sforce-limit-info"], "api-usage=1/100000");
}
