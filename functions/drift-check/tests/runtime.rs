//! The drift-check binary under the Lambda Runtime API (the emulator of `lf-testkit`),
//! against its tables and report bucket on moto and both Demo sandboxes: a linked customer
//! renamed by hand in Intacct (Salesforce owns the name) is found and, asked to repair, given
//! its Account's name back, with the report in S3; a malformed request is an invocation error.
//!
//! Needs `LEDGERFORCE_MOTO_ENDPOINT` (`tests/run` starts moto).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lf_domain::port::{IntacctObject, IntacctPort, LinkKind, RecordUpdate, XrefLink, XrefStore};
use lf_domain::{IntacctKey, IntacctRef, SalesforceId};
use lf_runtime::config::REPORT_BUCKET_VAR;
use lf_sandbox_salesforce as sf;
use lf_testkit::deployment::{sandboxes_with, wired};
use lf_testkit::lambda::{Answer, events, run_function};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_customer_is_found_and_repaired_with_the_report_in_s3() {
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

    // Demo Account 1 and its top-level customer, linked; the customer renamed by hand.
    let account = lf_sandbox_intacct::demo_account_id(1);
    let name = salesforce.record(&account).unwrap()["Name"]
        .as_str()
        .unwrap()
        .to_owned();
    let cold = d.cold_start().await;
    cold.xref()
        .link(&XrefLink {
            kind: LinkKind::AccountCustomer,
            salesforce: SalesforceId::parse(&account).unwrap(),
            intacct: IntacctRef::new(None, IntacctKey::parse("C-0001").unwrap()),
            linked_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let renamed = cold
        .intacct()
        .await
        .unwrap()
        .update(
            None,
            &[RecordUpdate {
                object: IntacctObject::Customer,
                key: "C-0001".into(),
                fields: json!({"NAME": "Northwind (renamed by hand)"})
                    .as_object()
                    .unwrap()
                    .clone(),
            }],
        )
        .await
        .unwrap();
    assert!(renamed.iter().all(Result::is_ok), "{renamed:?}");
    let customer_name = || {
        intacct.find("CUSTOMER", "CUSTOMERID", "C-0001")[0]
            .get("NAME")
            .cloned()
            .unwrap()
    };

    let run = run_function(
        env!("CARGO_BIN_EXE_drift-check"),
        "drift-check",
        d.process_env(),
        vec![
            json!({"repair": "yes"}),
            events::scheduled("2026-12-07T03:00:00Z", "ledgerforce-drift-check"),
            json!({"repair": true, "objects": ["Account"]}),
        ],
    )
    .await;

    let Answer::Error { body, .. } = &run.answers[0] else {
        panic!("expected an error, got {:?}", run.answers[0]);
    };
    assert_eq!(body["errorType"], "InvalidRequest", "{body}");

    // (The events ran in turn before these checks.) The schedule's run only reported: the
    // deployment default is not to repair.
    let Answer::Response(found) = &run.answers[1] else {
        panic!(
            "expected a response, got {:?}\n{}",
            run.answers[1], run.stdout
        );
    };
    assert_eq!(
        (found["checked"].as_u64(), found["drifted"].as_u64()),
        (Some(1), Some(1)),
        "{found}"
    );
    assert_eq!(found["repaired"], 0, "{found}");

    // On demand with repair: the owner's value written back.
    let Answer::Response(fixed) = &run.answers[2] else {
        panic!(
            "expected a response, got {:?}\n{}",
            run.answers[2], run.stdout
        );
    };
    assert_eq!(fixed["repaired"], 1, "{fixed}");
    assert_eq!(customer_name(), name);

    let text_uri = fixed["report"]["text"].as_str().unwrap();
    let key = text_uri
        .strip_prefix(&format!("s3://{bucket}/"))
        .unwrap_or_else(|| panic!("the report is in the bucket: {text_uri}"));
    let text = s3
        .get_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let text = text.body.collect().await.unwrap().into_bytes();
    let text = String::from_utf8(text.to_vec()).unwrap();
    assert!(text.contains("NAME") && text.contains("repaired"), "{text}");

    let failed = run
        .emf("drift-check", "Failed", None, 0)
        .expect("the bad request's EMF");
    assert_eq!(failed["Failed"], 1);
    let repaired = run
        .emf("drift-check", "RecordsSynced", None, 2)
        .expect("the repair's EMF");
    assert_eq!(repaired["RecordsSynced"], 1);
}
