//! The revenue-reconciliation binary under the Lambda Runtime API (the emulator of
//! `lf-testkit`), against its tables and report bucket on moto and both Demo sandboxes: the
//! monthly scheduled event reconciles the month before its time and writes the HTML and CSV
//! report to S3; a bad on-demand period is an invocation error naming it.
//!
//! Needs `LEDGERFORCE_MOTO_ENDPOINT` (`tests/run` starts moto).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{Datelike, Utc};
use lf_runtime::config::REPORT_BUCKET_VAR;
use lf_sandbox_salesforce as sf;
use lf_testkit::deployment::{sandboxes_with, wired};
use lf_testkit::lambda::{Answer, events, run_function};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monthly_schedule_reconciles_last_month_into_the_report_bucket() {
    let (salesforce, intacct) = sandboxes_with(sf::DataSet::Demo).await;
    let mut d = wired(&salesforce, &intacct).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&d.sdk)
            .force_path_style(true)
            .build(),
    );
    let bucket = format!("{}-reports", d.prefix);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    d.set(REPORT_BUCKET_VAR, &bucket);

    let first = Utc::now().date_naive().with_day(1).unwrap();
    let last_month = lf_domain::port::Month::of(first).previous().to_string();
    let monthly = events::scheduled(
        &format!("{first}T06:00:00Z"),
        "ledgerforce-revenue-reconciliation",
    );
    let run = run_function(
        env!("CARGO_BIN_EXE_revenue-reconciliation"),
        "revenue-reconciliation",
        d.process_env(),
        vec![json!({"period": "2026-13"}), monthly],
    )
    .await;

    let Answer::Error { error_type, body } = &run.answers[0] else {
        panic!("expected an error, got {:?}", run.answers[0]);
    };
    assert_eq!(body["errorType"], "InvalidPeriod", "{error_type:?} {body}");
    assert!(body["errorMessage"].as_str().unwrap().contains("2026-13"));

    let Answer::Response(summary) = &run.answers[1] else {
        panic!(
            "expected a response, got {:?}\n{}",
            run.answers[1], run.stdout
        );
    };
    assert_eq!(summary["period"], json!(last_month), "{summary}");
    assert!(summary["accounts"].as_u64().unwrap() >= 3, "{summary}");
    let html_key = format!("revenue-reconciliation/{last_month}/report.html");
    assert_eq!(
        summary["report"]["html"],
        json!(format!("s3://{bucket}/{html_key}"))
    );
    let html = s3
        .get_object()
        .bucket(&bucket)
        .key(&html_key)
        .send()
        .await
        .unwrap();
    assert_eq!(html.content_type(), Some("text/html; charset=utf-8"));
    let html = html.body.collect().await.unwrap().into_bytes();
    let html = String::from_utf8(html.to_vec()).unwrap();
    assert!(html.contains(&format!("<span class=\"period\">{last_month}</span>")));
    let csv = s3
        .get_object()
        .bucket(&bucket)
        .key(format!("revenue-reconciliation/{last_month}/accounts.csv"))
        .send()
        .await
        .unwrap();
    let csv = csv.body.collect().await.unwrap().into_bytes();
    assert_eq!(
        String::from_utf8(csv.to_vec()).unwrap().lines().count() as u64,
        summary["accounts"].as_u64().unwrap() + 1
    );

    // The bad period failed before anything was read; the scheduled run wrote its records.
    let failed = run
        .emf("revenue-reconciliation", "Failed", None, 0)
        .expect("the failed run's EMF document");
    assert_eq!(failed["Failed"], 1);
    let done = run
        .emf("revenue-reconciliation", "Failed", None, 1)
        .expect("the scheduled run's EMF document");
    assert_eq!(done["Failed"], 0);
    let written = summary["written"]["reconciliations"].as_u64().unwrap()
        + summary["written"]["opportunities"].as_u64().unwrap();
    assert_eq!(done["RecordsSynced"], written);
}
