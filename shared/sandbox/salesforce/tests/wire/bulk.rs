//! Bulk API 2.0: ingest job lifecycle and results, query jobs with locators.

use lf_sandbox_salesforce::DataSet;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Org, start};

async fn put_csv(org: &Org, path: &str, csv: &str) -> StatusCode {
    org.http
        .put(org.url(path))
        .bearer_auth(&org.token)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn ingest_job_lifecycle_with_results() {
    let org = start(DataSet::Empty).await;
    let job = org
        .post("/jobs/ingest", json!({"object": "Account", "operation": "insert", "contentType": "CSV", "lineEnding": "LF"}))
        .await
        .json();
    assert_eq!(job["state"], "Open");
    assert_eq!(job["jobType"], "V2Ingest");
    assert_eq!(job["object"], "Account");
    let id = job["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("750"));

    let csv = "Name,CurrencyIsoCode,Intacct_Customer_ID__c\nBulk One,EUR,B-1\n,USD,B-2\n\"Bulk, Three\",GBP,B-3\n";
    assert_eq!(
        put_csv(&org, &format!("/jobs/ingest/{id}/batches"), csv).await,
        StatusCode::CREATED
    );
    // One upload per job: a second one (a client replaying a lost response) is refused, so
    // its rows are not inserted twice.
    assert_eq!(
        put_csv(&org, &format!("/jobs/ingest/{id}/batches"), csv).await,
        StatusCode::CONFLICT
    );
    let r = org
        .patch(
            &format!("/jobs/ingest/{id}"),
            json!({"state": "UploadComplete"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let info = org.get(&format!("/jobs/ingest/{id}")).await.json();
    assert_eq!(info["state"], "JobComplete");
    assert_eq!(info["numberRecordsProcessed"], 3);
    assert_eq!(info["numberRecordsFailed"], 1);

    let ok = org
        .get(&format!("/jobs/ingest/{id}/successfulResults"))
        .await;
    assert_eq!(ok.header("content-type").unwrap(), "text/csv");
    let lines: Vec<&str> = ok.text.lines().collect();
    assert_eq!(
        lines[0],
        "\"sf__Id\",\"sf__Created\",\"Name\",\"CurrencyIsoCode\",\"Intacct_Customer_ID__c\""
    );
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with("\"001") && lines[1].contains("\"true\",\"Bulk One\""));
    assert!(lines[2].contains("\"Bulk, Three\""));
    let failed = org.get(&format!("/jobs/ingest/{id}/failedResults")).await;
    let lines: Vec<&str> = failed.text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[1].contains("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:Name --"),
        "{}",
        lines[1]
    );
    assert_eq!(org.sandbox.records("Account").len(), 2);

    // Terminal jobs can be deleted; an upload after completion is refused.
    assert_eq!(
        put_csv(&org, &format!("/jobs/ingest/{id}/batches"), csv).await,
        StatusCode::CONFLICT
    );
    assert_eq!(
        org.send(Method::DELETE, &format!("/jobs/ingest/{id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        org.get(&format!("/jobs/ingest/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn upsert_and_delete_jobs() {
    let org = start(DataSet::Empty).await;
    let existing = org
        .sandbox
        .insert(
            "Account",
            json!({"Name": "Old", "Intacct_Customer_ID__c": "U-1"}),
        )
        .unwrap();
    let bad = org
        .post(
            "/jobs/ingest",
            json!({"object": "Account", "operation": "upsert"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let job = org
        .post("/jobs/ingest", json!({"object": "Account", "operation": "upsert", "externalIdFieldName": "Intacct_Customer_ID__c", "columnDelimiter": "SEMICOLON"}))
        .await
        .json();
    let id = job["id"].as_str().unwrap().to_owned();
    put_csv(
        &org,
        &format!("/jobs/ingest/{id}/batches"),
        "Intacct_Customer_ID__c;Name\nU-1;Renamed\nU-2;Brand new\n",
    )
    .await;
    org.patch(
        &format!("/jobs/ingest/{id}"),
        json!({"state": "UploadComplete"}),
    )
    .await;
    let ok = org
        .get(&format!("/jobs/ingest/{id}/successfulResults"))
        .await
        .text;
    assert!(ok.contains(&format!("\"{existing}\",\"false\"")), "{ok}");
    assert!(ok.contains("\"true\",\"U-2\""), "{ok}");
    assert_eq!(org.sandbox.record(&existing).unwrap()["Name"], "Renamed");

    let job = org
        .post(
            "/jobs/ingest",
            json!({"object": "Account", "operation": "delete"}),
        )
        .await
        .json();
    let id = job["id"].as_str().unwrap().to_owned();
    put_csv(
        &org,
        &format!("/jobs/ingest/{id}/batches"),
        &format!("Id\n{existing}\n"),
    )
    .await;
    org.patch(
        &format!("/jobs/ingest/{id}"),
        json!({"state": "UploadComplete"}),
    )
    .await;
    assert_eq!(
        org.get(&format!("/jobs/ingest/{id}")).await.json()["numberRecordsFailed"],
        0
    );
    assert!(org.sandbox.record(&existing).is_none());

    let job = org
        .post(
            "/jobs/ingest",
            json!({"object": "Account", "operation": "insert"}),
        )
        .await
        .json();
    let id = job["id"].as_str().unwrap().to_owned();
    put_csv(&org, &format!("/jobs/ingest/{id}/batches"), "Name\nNever\n").await;
    let aborted = org
        .patch(&format!("/jobs/ingest/{id}"), json!({"state": "Aborted"}))
        .await
        .json();
    assert_eq!(aborted["state"], "Aborted");
    let unprocessed = org
        .get(&format!("/jobs/ingest/{id}/unprocessedrecords"))
        .await
        .text;
    assert_eq!(unprocessed.lines().count(), 2);
}

#[tokio::test]
async fn query_job_pages_with_a_locator() {
    let org = start(DataSet::Demo).await;
    let job = org
        .post("/jobs/query", json!({"operation": "query", "query": "SELECT Id, Name, Account.Name FROM Contact ORDER BY LastName"}))
        .await
        .json();
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(
        org.get(&format!("/jobs/query/{id}")).await.json()["state"],
        "JobComplete"
    );
    let first = org
        .get(&format!("/jobs/query/{id}/results?maxRecords=10"))
        .await;
    assert_eq!(first.header("sforce-numberofrecords").unwrap(), "10");
    let locator = first.header("sforce-locator").unwrap();
    assert_ne!(locator, "null");
    assert!(first.text.starts_with("Id,Name,Account.Name\n"));
    let second = org
        .get(&format!(
            "/jobs/query/{id}/results?maxRecords=10&locator={locator}"
        ))
        .await;
    assert_eq!(second.header("sforce-locator").unwrap(), "null");
    assert_eq!(second.header("sforce-numberofrecords").unwrap(), "5");
}

#[tokio::test]
async fn uploads_larger_than_a_web_form_are_accepted() {
    // Bulk API 2.0 takes up to 150 MB per upload; clients send tens of MB (the connector
    // splits at 100 MB by default), far past a web framework's usual 2 MB body cap.
    let org = start(DataSet::Empty).await;
    let job = org
        .post(
            "/jobs/ingest",
            json!({"object": "Account", "operation": "insert"}),
        )
        .await
        .json();
    let id = job["id"].as_str().unwrap().to_owned();
    let mut csv = String::from("Name,Description\n");
    let filler = "x".repeat(1_000);
    for i in 0..3_000 {
        csv.push_str(&format!("Big {i},{filler}\n"));
    }
    assert!(csv.len() > 3_000_000);
    assert_eq!(
        put_csv(&org, &format!("/jobs/ingest/{id}/batches"), &csv).await,
        StatusCode::CREATED
    );
    let r = org
        .patch(
            &format!("/jobs/ingest/{id}"),
            json!({"state": "UploadComplete"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let info = org.get(&format!("/jobs/ingest/{id}")).await.json();
    assert_eq!(info["numberRecordsProcessed"], 3_000);
    assert_eq!(info["numberRecordsFailed"], 0);
}
