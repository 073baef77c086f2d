//! sObject Collections: create, update, upsert, delete, retrieve, allOrNone.

use lf_sandbox_salesforce::DataSet;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::start;

#[tokio::test]
async fn create_reports_per_record_results_in_order() {
    let org = start(DataSet::Empty).await;
    let r = org
        .post(
            "/composite/sobjects",
            json!({"allOrNone": false, "records": [
                {"attributes": {"type": "Account"}, "Name": "One"},
                {"attributes": {"type": "Account"}, "Phone": "no name"},
                {"attributes": {"type": "Contact"}, "LastName": "Three"}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let b = r.json();
    assert_eq!(b[0]["success"], true);
    assert!(b[0]["id"].as_str().unwrap().starts_with("001"));
    assert_eq!(b[1]["success"], false);
    assert_eq!(b[1]["errors"][0]["statusCode"], "REQUIRED_FIELD_MISSING");
    assert_eq!(b[1]["errors"][0]["fields"], json!(["Name"]));
    assert!(b[1]["errors"][0].get("errorCode").is_none());
    assert!(b[2]["id"].as_str().unwrap().starts_with("003"));
    assert_eq!(org.sandbox.records("Account").len(), 1);
}

#[tokio::test]
async fn all_or_none_rolls_everything_back() {
    let org = start(DataSet::Empty).await;
    let r = org
        .post(
            "/composite/sobjects",
            json!({"allOrNone": true, "records": [
                {"attributes": {"type": "Account"}, "Name": "Kept?"},
                {"attributes": {"type": "Contact"}, "LastName": "Bad", "AccountId": "001xx000003DGb2999"}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let b = r.json();
    assert_eq!(b[0]["success"], false);
    assert_eq!(
        b[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(
        b[0]["errors"][0]["message"],
        "Record rolled back because not all records were valid and the request was using AllOrNone header"
    );
    assert_eq!(b[1]["success"], false);
    assert_eq!(b[1]["errors"][0]["statusCode"], "MALFORMED_ID");
    assert!(
        org.sandbox.records("Account").is_empty(),
        "the valid record was rolled back"
    );
    assert!(org.sandbox.records("Contact").is_empty());
}

#[tokio::test]
async fn update_upsert_delete_and_retrieve() {
    let org = start(DataSet::Empty).await;
    let a = org
        .sandbox
        .insert(
            "Account",
            json!({"Name": "A", "Intacct_Customer_ID__c": "C-1"}),
        )
        .unwrap();
    let b = org.sandbox.insert("Account", json!({"Name": "B"})).unwrap();
    let r = org
        .send(
            Method::PATCH,
            "/composite/sobjects",
            Some(json!({"records": [
                {"attributes": {"type": "Account"}, "id": a, "Phone": "1"},
                {"attributes": {"type": "Account"}, "id": b, "Name": null}
            ]})),
        )
        .await;
    let body = r.json();
    assert_eq!(body[0], json!({"id": a, "success": true, "errors": []}));
    assert_eq!(body[1]["errors"][0]["statusCode"], "REQUIRED_FIELD_MISSING");

    let r = org
        .send(
            Method::PATCH,
            "/composite/sobjects/Account/Intacct_Customer_ID__c",
            Some(json!({"allOrNone": false, "records": [
                {"attributes": {"type": "Account"}, "Intacct_Customer_ID__c": "C-1", "Name": "A2"},
                {"attributes": {"type": "Account"}, "Intacct_Customer_ID__c": "C-2", "Name": "New"}
            ]})),
        )
        .await;
    let body = r.json();
    assert_eq!(
        body[0],
        json!({"id": a, "success": true, "errors": [], "created": false})
    );
    assert_eq!(body[1]["created"], true);
    assert_eq!(org.sandbox.record(&a).unwrap()["Name"], "A2");

    let r = org
        .get(&format!(
            "/composite/sobjects/Account?ids={a},{b},001000000000000AAA&fields=Name"
        ))
        .await;
    let body = r.json();
    assert_eq!(body[0]["Name"], "A2");
    assert_eq!(body[2], Value::Null);

    let r = org
        .send(
            Method::DELETE,
            &format!("/composite/sobjects?ids={a},{b}&allOrNone=false"),
            None,
        )
        .await;
    let body = r.json();
    assert_eq!(body[0]["success"], true);
    assert_eq!(body[1]["success"], true);
    assert_eq!(org.sandbox.records("Account").len(), 1);
}

#[tokio::test]
async fn more_than_200_records_is_a_400() {
    let org = start(DataSet::Empty).await;
    let records: Vec<Value> = (0..201)
        .map(|i| json!({"attributes": {"type": "Account"}, "Name": format!("N{i}")}))
        .collect();
    let r = org
        .post("/composite/sobjects", json!({"records": records}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(org.sandbox.records("Account").is_empty());
}

#[tokio::test]
async fn all_or_none_delete_keeps_every_record_when_one_fails() {
    let org = start(DataSet::Empty).await;
    let a = org.sandbox.insert("Account", json!({"Name": "A"})).unwrap();
    let gone = org
        .sandbox
        .insert("Account", json!({"Name": "Gone"}))
        .unwrap();
    let r = org
        .send(
            Method::DELETE,
            &format!("/composite/sobjects?ids={gone}"),
            None,
        )
        .await;
    assert_eq!(r.json()[0]["success"], true);

    let r = org
        .send(
            Method::DELETE,
            &format!("/composite/sobjects?ids={a},{gone}&allOrNone=true"),
            None,
        )
        .await;
    let body = r.json();
    assert_eq!(
        body[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(body[1]["errors"][0]["statusCode"], "ENTITY_IS_DELETED");
    assert!(
        org.sandbox.record(&a).is_some(),
        "the delete was rolled back"
    );
}
