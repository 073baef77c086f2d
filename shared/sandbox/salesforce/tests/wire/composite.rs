//! The Composite resource: references, per-subrequest statuses, allOrNone.

use lf_sandbox_salesforce::DataSet;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::start;

#[tokio::test]
async fn references_chain_subrequests_and_count_once() {
    let org = start(DataSet::Empty).await;
    let r = org
        .post(
            "/composite",
            json!({"allOrNone": false, "compositeRequest": [
                {"method": "POST", "url": "/services/data/v62.0/sobjects/Account", "referenceId": "NewAccount", "body": {"Name": "Composite Co"}},
                {"method": "POST", "url": "/services/data/v62.0/sobjects/Contact", "referenceId": "NewContact", "body": {"LastName": "Ref", "AccountId": "@{NewAccount.id}"}},
                {"method": "GET", "url": "/services/data/v62.0/sobjects/Account/@{NewAccount.id}?fields=Name", "referenceId": "ReadBack"},
                {"method": "GET", "url": "/services/data/v62.0/query?q=SELECT+Id,Account.Name+FROM+Contact", "referenceId": "Q"}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let b = r.json();
    let subs = b["compositeResponse"].as_array().unwrap();
    assert_eq!(subs[0]["httpStatusCode"], 201);
    assert_eq!(subs[0]["referenceId"], "NewAccount");
    let account = subs[0]["body"]["id"].as_str().unwrap().to_owned();
    assert!(
        subs[0]["httpHeaders"]["Location"]
            .as_str()
            .unwrap()
            .ends_with(&account)
    );
    assert_eq!(subs[1]["httpStatusCode"], 201);
    assert_eq!(subs[2]["body"]["Name"], "Composite Co");
    assert_eq!(
        subs[3]["body"]["records"][0]["Account"]["Name"],
        "Composite Co"
    );
    let contact = subs[1]["body"]["id"].as_str().unwrap();
    assert_eq!(
        org.sandbox.record(contact).unwrap()["AccountId"],
        json!(account)
    );
    assert_eq!(org.sandbox.api_calls(), 1, "a composite call counts once");
}

#[tokio::test]
async fn all_or_none_failure_rolls_back_and_halts() {
    let org = start(DataSet::Empty).await;
    let r = org
        .post(
            "/composite",
            json!({"allOrNone": true, "compositeRequest": [
                {"method": "POST", "url": "/services/data/v62.0/sobjects/Account", "referenceId": "A", "body": {"Name": "Doomed"}},
                {"method": "POST", "url": "/services/data/v62.0/sobjects/Contact", "referenceId": "C", "body": {"FirstName": "No last name"}},
                {"method": "POST", "url": "/services/data/v62.0/sobjects/Account", "referenceId": "B", "body": {"Name": "Never"}}
            ]}),
        )
        .await;
    let b = r.json();
    let subs = b["compositeResponse"].as_array().unwrap();
    assert_eq!(subs[0]["httpStatusCode"], 400);
    assert_eq!(
        subs[0]["body"][0]["errorCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(subs[1]["httpStatusCode"], 400);
    assert_eq!(subs[1]["body"][0]["errorCode"], "REQUIRED_FIELD_MISSING");
    assert_eq!(subs[2]["body"][0]["errorCode"], "PROCESSING_HALTED");
    assert!(org.sandbox.records("Account").is_empty());
}

#[tokio::test]
async fn without_all_or_none_dependents_of_a_failure_halt() {
    let org = start(DataSet::Empty).await;
    let r = org
        .post(
            "/composite",
            json!({"compositeRequest": [
                {"method": "POST", "url": "/services/data/v62.0/sobjects/Account", "referenceId": "Bad", "body": {"Phone": "1"}},
                {"method": "POST", "url": "/services/data/v62.0/sobjects/Contact", "referenceId": "Dep", "body": {"LastName": "X", "AccountId": "@{Bad.id}"}},
                {"method": "POST", "url": "/services/data/v62.0/sobjects/Account", "referenceId": "Ok", "body": {"Name": "Independent"}}
            ]}),
        )
        .await;
    let b = r.json();
    let subs = b["compositeResponse"].as_array().unwrap();
    assert_eq!(subs[0]["httpStatusCode"], 400);
    assert_eq!(subs[1]["body"][0]["errorCode"], "PROCESSING_HALTED");
    assert_eq!(subs[2]["httpStatusCode"], 201);
    assert_eq!(org.sandbox.records("Account").len(), 1);
}

#[tokio::test]
async fn limits_on_subrequests() {
    let org = start(DataSet::Empty).await;
    let many: Vec<Value> = (0..26)
        .map(|i| json!({"method": "GET", "url": "/services/data/v62.0/limits", "referenceId": format!("r{i}")}))
        .collect();
    let r = org
        .post("/composite", json!({"compositeRequest": many}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let queries: Vec<Value> = (0..6)
        .map(|i| json!({"method": "GET", "url": "/services/data/v62.0/query?q=SELECT+Id+FROM+Account", "referenceId": format!("q{i}")}))
        .collect();
    let r = org
        .post("/composite", json!({"compositeRequest": queries}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}
