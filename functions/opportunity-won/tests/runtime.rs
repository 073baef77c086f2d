//! The opportunity-won binary under the Lambda Runtime API (the emulator of `lf-testkit`),
//! against DynamoDB and SQS on moto and both Demo sandboxes: an SQS batch of 10 with deals to
//! invoice, a deal another delivery is working on, and a body that is no change envelope.
//!
//! Needs `LEDGERFORCE_MOTO_ENDPOINT` (`tests/run` starts moto).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lf_domain::{Flow, RecordRef, SalesforceId};
use lf_sandbox_salesforce as sf;
use lf_testkit::deployment::{sandboxes_with, stamp, wired};
use lf_testkit::lambda::{FLOW_BATCH, run_idempotent_flow_batch};
use serde_json::{Map, Value, json};

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
    // The rest of the batch: won deals on new Accounts, one USD product line each.
    let entry = salesforce
        .records("PricebookEntry")
        .into_iter()
        .find(|e| text(e, "CurrencyIsoCode") == "USD")
        .expect("a USD price book entry in the Demo org");
    let more: Vec<String> = (0..FLOW_BATCH - 3)
        .map(|n| {
            let account = salesforce
                .insert(
                    "Account",
                    json!({"Name": format!("Runtime Batch {n} Inc"), "Type": "Customer - Direct",
                           "BillingCountry": "United States", "BillingCity": "Springfield",
                           "BillingPostalCode": "10001", "CurrencyIsoCode": "USD"}),
                )
                .unwrap();
            let deal = salesforce
                .insert(
                    "Opportunity",
                    json!({"Name": format!("Runtime batch deal {n}"), "AccountId": account,
                           "StageName": "Closed Won", "CloseDate": "2026-03-31",
                           "CurrencyIsoCode": "USD", "Pricebook2Id": entry["Pricebook2Id"]}),
                )
                .unwrap();
            salesforce
                .insert(
                    "OpportunityLineItem",
                    json!({"OpportunityId": deal, "PricebookEntryId": entry["Id"],
                           "Quantity": 1.0, "UnitPrice": entry["UnitPrice"]}),
                )
                .unwrap();
            deal
        })
        .collect();

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
        std::iter::once(&invoiced)
            .chain(&more)
            .map(|id| opportunity(id))
            .collect(),
        opportunity(&busy),
    )
    .await;
    assert_eq!(documents(&invoiced), 1);
    for deal in &more {
        assert_eq!(documents(deal), 1, "{deal}");
    }
    assert_eq!(documents(&busy), 0, "left to the delivery holding it");
    let after = salesforce.record(&invoiced).unwrap();
    assert!(
        !text(&after, "Intacct_Invoice_ID__c").is_empty()
            || !text(&after, "Intacct_Sales_Order_ID__c").is_empty(),
        "{after:?}"
    );
}
