//! The opportunity-won binary under the Lambda Runtime API (the emulator of `lf-testkit`),
//! against DynamoDB and SQS on moto and both Demo sandboxes: an SQS batch with a deal to
//! invoice, a deal another delivery is working on, and a body that is no change envelope.
//!
//! Needs `LEDGERFORCE_MOTO_ENDPOINT` (`tests/run` starts moto).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lf_domain::{Flow, RecordRef, SalesforceId};
use lf_sandbox_salesforce as sf;
use lf_testkit::deployment::{sandboxes_with, stamp, wired};
use lf_testkit::lambda::run_idempotent_flow_batch;
use serde_json::{Map, Value};

const FLOW: Flow = Flow::OpportunityWon;

fn text(record: &Map<String, Value>, field: &str) -> String {
    record
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn opportunity(id: &str) -> RecordRef {
    RecordRef::salesforce("Opportunity", &SalesforceId::parse(id).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqs_batch_is_answered_with_exactly_the_message_to_redeliver() {
    let (salesforce, intacct) = sandboxes_with(sf::DataSet::Demo).await;
    let d = wired(&salesforce, &intacct).await;
    let won: Vec<Map<String, Value>> = salesforce
        .records("Opportunity")
        .into_iter()
        .filter(|r| {
            text(r, "StageName") == "Closed Won" && text(r, "SBQQ__PrimaryQuote__c").is_empty()
        })
        .take(2)
        .collect();
    assert_eq!(won.len(), 2, "the Demo org has won deals without a quote");
    let (invoiced, busy) = (text(&won[0], "Id"), text(&won[1], "Id"));
    let documents = |id: &str| {
        intacct.count_where("ARINVOICE", "SFDC_OPPORTUNITY_ID", id)
            + intacct.count_where("SODOCUMENT", "SFDC_OPPORTUNITY_ID", id)
    };
    assert_eq!((documents(&invoiced), documents(&busy)), (0, 0));

    // Another delivery of the second deal's change is in progress, so this batch must leave
    // it for redelivery.
    d.hold_change(
        FLOW,
        &opportunity(&busy),
        stamp(&text(&won[1], "SystemModstamp")),
    )
    .await;
    run_idempotent_flow_batch(
        &d,
        env!("CARGO_BIN_EXE_opportunity-won"),
        FLOW,
        opportunity(&invoiced),
        opportunity(&busy),
    )
    .await;
    assert_eq!(documents(&invoiced), 1);
    assert_eq!(documents(&busy), 0, "left to the delivery holding it");
    let after = salesforce.record(&invoiced).unwrap();
    assert!(
        !text(&after, "Intacct_Invoice_ID__c").is_empty()
            || !text(&after, "Intacct_Sales_Order_ID__c").is_empty(),
        "{after:?}"
    );
}
