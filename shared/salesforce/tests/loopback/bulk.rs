//! Bulk API 2.0 ingest: job lifecycle, failed rows, and the default threshold.

use lf_domain::ErrorClass;
use lf_salesforce::bulk::{BulkOperation, JobState};
use lf_salesforce::{Fields, Lane, RecordResult, WriteOp, WriteOptions};
use lf_sandbox_salesforce::SalesforceFault;
use serde_json::json;

use crate::support::{client, fields, org};

fn contacts(n: usize) -> Vec<Fields> {
    (0..n)
        .map(|i| {
            fields(json!({
                "FirstName": format!("First {i}"),
                "LastName": format!("Last, \"{i}\""),
                "Email": format!("c{i}@example.com"),
            }))
        })
        .collect()
}

#[tokio::test]
async fn an_ingest_job_reports_successful_and_failed_rows() {
    let org = org().await;
    let sf = client(&org);
    let mut records = contacts(40);
    // Two rows the org refuses: no LastName.
    records[7].remove("LastName");
    records[21].insert("LastName".into(), serde_json::Value::Null);

    let result = sf
        .bulk_ingest("Contact", &BulkOperation::Insert, &records)
        .await
        .unwrap();
    assert_eq!(result.jobs.len(), 1);
    let job = &result.jobs[0];
    assert_eq!(job.state, JobState::JobComplete);
    assert_eq!(job.number_records_processed, Some(40));
    assert_eq!(job.number_records_failed, Some(2));

    assert_eq!(result.successful.len(), 38);
    assert!(
        result
            .successful
            .iter()
            .all(|s| s.id.is_some() && s.created)
    );
    // Values with commas and quotes survived the CSV round trip.
    let saved = org
        .record(result.successful[0].id.as_ref().unwrap().as_str())
        .unwrap();
    assert!(saved["LastName"].as_str().unwrap().starts_with("Last, \""));

    assert_eq!(result.failed.len(), 2);
    for f in &result.failed {
        assert_eq!(f.error.code, "REQUIRED_FIELD_MISSING", "{:?}", f.error);
        assert_eq!(f.error.message, "Required fields are missing: [LastName]");
        assert_eq!(f.error.fields, vec!["LastName"]);
        assert_eq!(f.error.class(), ErrorClass::Permanent);
        assert!(
            f.fields
                .get("FirstName")
                .is_some_and(|n| n == "First 7" || n == "First 21")
        );
    }
    assert!(result.unprocessed.is_empty());
    assert_eq!(org.records("Contact").len(), 38);
}

#[tokio::test]
async fn a_locked_row_in_a_job_is_a_transient_row_failure() {
    let org = org().await;
    let sf = client(&org);
    sf.connect().await.unwrap();
    // The sandbox draws a write fault on every non-GET call and only the state change that
    // processes the job applies it, so one is queued for each of the job's three writes
    // (create, upload, UploadComplete).
    org.faults().inject_next(SalesforceFault::LockRow, 3);
    let result = sf
        .bulk_ingest("Contact", &BulkOperation::Insert, &contacts(5))
        .await
        .unwrap();
    org.faults().clear();
    assert_eq!(result.failed.len(), 1);
    assert_eq!(result.failed[0].error.code, "UNABLE_TO_LOCK_ROW");
    assert_eq!(result.failed[0].error.class(), ErrorClass::Transient);
    assert_eq!(result.successful.len(), 4);
}

#[tokio::test]
async fn above_the_default_threshold_writes_go_through_bulk() {
    let org = org().await;
    let sf = client(&org);
    assert_eq!(sf.config().bulk_threshold, 2_000);
    let report = sf
        .write(
            "Contact",
            &WriteOp::Insert,
            contacts(2_001),
            WriteOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(report.lane, Lane::Bulk);
    assert_eq!(report.saved(), 2_001);
    assert_eq!(org.records("Contact").len(), 2_001);

    // Deleting them all goes through a Bulk delete job with only the Id column.
    let ids: Vec<Fields> = report
        .outcomes
        .iter()
        .filter_map(|o| match &o.result {
            RecordResult::Saved { id: Some(id), .. } => Some(fields(json!({"Id": id.as_str()}))),
            _ => None,
        })
        .collect();
    let deleted = sf
        .write("Contact", &WriteOp::Delete, ids, WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(deleted.lane, Lane::Bulk);
    assert_eq!(deleted.saved(), 2_001);
    assert!(org.records("Contact").is_empty());
}

#[tokio::test]
async fn large_uploads_are_split_over_several_jobs() {
    let org = org().await;
    let sf = crate::support::client_with(&org, |c| c.bulk_max_upload_bytes = 2_000);
    let result = sf
        .bulk_ingest("Contact", &BulkOperation::Insert, &contacts(100))
        .await
        .unwrap();
    assert!(result.jobs.len() > 1, "{} jobs", result.jobs.len());
    assert_eq!(result.successful.len(), 100);
    assert_eq!(org.records("Contact").len(), 100);
}
