//! The account-onboarding binary under the Lambda Runtime API (the emulator of `lf-testkit`),
//! against DynamoDB and SQS on moto and both Demo sandboxes: an SQS batch of 10 with new
//! customer Accounts to onboard, one another delivery is working on, and a body that is no change
//! envelope.
//!
//! Needs `LEDGERFORCE_MOTO_ENDPOINT` (`tests/run` starts moto).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lf_domain::{Flow, RecordRef, SalesforceId};
use lf_sandbox_salesforce as sf;
use lf_testkit::deployment::{sandboxes_with, stamp, wired};
use lf_testkit::lambda::{FLOW_BATCH, run_idempotent_flow_batch};
use serde_json::{Map, Value, json};

const FLOW: Flow = Flow::AccountOnboarding;

fn text(record: &Map<String, Value>, field: &str) -> String {
    record
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn account(id: &str) -> RecordRef {
    RecordRef::salesforce("Account", &SalesforceId::parse(id).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqs_batch_is_answered_with_exactly_the_message_to_redeliver() {
    let (salesforce, intacct) = sandboxes_with(sf::DataSet::Demo).await;
    let mut d = wired(&salesforce, &intacct).await;
    d.queue(FLOW).await;
    let new_account = |name: &str, country: &str| {
        salesforce
            .insert(
                "Account",
                json!({"Name": name, "Type": "Customer - Direct", "BillingCountry": country,
                       "BillingCity": "Springfield", "BillingPostalCode": "12345",
                       "CurrencyIsoCode": "USD"}),
            )
            .unwrap()
    };
    let onboarded = new_account("Thames Analytics Ltd", "United Kingdom");
    let busy = new_account("Lakeshore Foods Inc", "United States");
    // The rest of the batch of 10.
    let more: Vec<String> = (0..FLOW_BATCH - 3)
        .map(|n| new_account(&format!("Runtime Batch {n} Inc"), "United States"))
        .collect();
    let customers = |id: &str| intacct.count_where("CUSTOMER", "SFDC_ACCOUNT_ID", id);

    // Another delivery of the second Account's change is in progress.
    let modstamp = text(&salesforce.record(&busy).unwrap(), "SystemModstamp");
    d.hold_change(FLOW, &account(&busy), stamp(&modstamp)).await;
    run_idempotent_flow_batch(
        &d,
        env!("CARGO_BIN_EXE_account-onboarding"),
        FLOW,
        std::iter::once(&onboarded)
            .chain(&more)
            .map(|id| account(id))
            .collect(),
        account(&busy),
    )
    .await;
    assert_eq!(customers(&onboarded), 1);
    for id in &more {
        assert_eq!(customers(id), 1, "{id}");
    }
    assert_eq!(customers(&busy), 0, "left to the delivery holding it");
    let after = salesforce.record(&onboarded).unwrap();
    assert_eq!(text(&after, "Intacct_Entity__c"), "UK");
    assert!(!text(&after, "Intacct_Customer_ID__c").is_empty());
}
