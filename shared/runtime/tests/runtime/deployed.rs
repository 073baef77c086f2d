//! The deployed path of a closed deal, every part as the Lambdas run it: an Outbound Message
//! through the cold-started salesforce-webhook onto the SQS queue (moto), received as the
//! event source mapping would, through the cold-started opportunity-won handler with the
//! DynamoDB stores, into the Intacct sandbox, and the id written back to the Salesforce
//! sandbox.

use std::time::Duration;

use aws_lambda_events::event::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::event::sqs::SqsEvent;
use lf_domain::port::{ParkedFailures, Queue};
use lf_domain::{Deadline, Flow};
use lf_flows::{OpportunityWon, OpportunityWonOptions};
use lf_runtime::config::WEBHOOK_SECRET_VAR;
use lf_runtime::{Endpoint, http_invocation, sqs_batch};
use lf_sandbox_salesforce as sf;
use serde_json::{Value, json};

use lf_testkit::deployment::{sandboxes_with, wired};

const TOKEN: &str = "deployed-outbound-token";

fn outbound_message(org: &str, opportunity: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k5g000000XyZAAA0</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/62.0/x</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/62.0/x</PartnerUrl>
   <Notification>
    <Id>04l5g00000AbCdEAAV</Id>
    <sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>{opportunity}</sf:Id>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#
    )
}

fn text(record: &serde_json::Map<String, Value>, field: &str) -> String {
    record
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_deal_goes_from_webhook_to_invoice_through_the_deployed_parts() {
    let (salesforce, intacct) = sandboxes_with(sf::DataSet::Demo).await;
    let mut d = wired(&salesforce, &intacct).await;
    d.secret(
        WEBHOOK_SECRET_VAR,
        json!({"outbound_token": TOKEN, "callout_key": "deployed-hmac-key"}),
    )
    .await;
    let start = d.cold_start().await;
    let intake = start.intake(Endpoint::Salesforce).await.unwrap();
    let handler = OpportunityWon::new(
        start.flow_ports().await.unwrap(),
        start.specs().await.unwrap(),
        OpportunityWonOptions::default(),
    )
    .unwrap();
    let parked = start.parked();

    let won = salesforce
        .records("Opportunity")
        .into_iter()
        .find(|r| {
            text(r, "StageName") == "Closed Won" && text(r, "SBQQ__PrimaryQuote__c").is_empty()
        })
        .expect("a demo deal won without a quote");
    let opportunity = text(&won, "Id");
    let org = salesforce.credentials().org_id.clone();

    // salesforce-webhook: the Outbound Message, as API Gateway hands it over.
    let mut event: ApiGatewayV2httpRequest =
        serde_json::from_str(include_str!("fixtures/apigw-v2-event.json")).unwrap();
    let path = format!("/salesforce/{TOKEN}");
    event.raw_path = Some(path.clone());
    event.request_context.http.path = Some(path);
    event.headers.remove("content-length");
    event.body = Some(outbound_message(&org, &opportunity));
    event.is_base64_encoded = false;
    let answer = http_invocation(&intake, event).await;
    assert_eq!(answer.status_code, 200, "{:?}", answer.body);

    // The event source mapping: receive from SQS, hand the records over as an SqsEvent.
    let queue = start.queue(Flow::OpportunityWon).unwrap();
    let received = queue
        .receive(10, Duration::from_secs(60), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(received.len(), 1);
    let records: Vec<Value> = received
        .iter()
        .map(|m| {
            json!({"messageId": m.message_id, "receiptHandle": m.receipt.0, "body": m.body,
                   "attributes": {"ApproximateReceiveCount": m.receive_count.to_string()},
                   "eventSource": "aws:sqs"})
        })
        .collect();
    let sqs_event: SqsEvent = serde_json::from_value(json!({ "Records": records })).unwrap();

    let before = (salesforce.api_calls(), intacct.api_transactions());
    let response = sqs_batch(
        &handler,
        &parked,
        sqs_event.clone(),
        Deadline::after(Duration::from_secs(60)),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let documents = intacct.count_where("ARINVOICE", "SFDC_OPPORTUNITY_ID", &opportunity)
        + intacct.count_where("SODOCUMENT", "SFDC_OPPORTUNITY_ID", &opportunity);
    assert_eq!(documents, 1);
    let after = salesforce.record(&opportunity).unwrap();
    let written = [
        text(&after, "Intacct_Invoice_ID__c"),
        text(&after, "Intacct_Sales_Order_ID__c"),
    ];
    assert!(written.iter().any(|id| !id.is_empty()), "{after:?}");
    let calls = (
        salesforce.api_calls() - before.0,
        intacct.api_transactions() - before.1,
    );
    println!(
        "one deal through the deployed handler: {calls:?} (Salesforce calls, Intacct requests)"
    );

    // A redelivery of the same message (SQS is at-least-once) creates nothing new.
    let again = sqs_batch(
        &handler,
        &parked,
        sqs_event,
        Deadline::after(Duration::from_secs(60)),
    )
    .await
    .unwrap();
    assert!(again.batch_item_failures.is_empty(), "{again:?}");
    let documents = intacct.count_where("ARINVOICE", "SFDC_OPPORTUNITY_ID", &opportunity)
        + intacct.count_where("SODOCUMENT", "SFDC_OPPORTUNITY_ID", &opportunity);
    assert_eq!(documents, 1);
    assert!(parked.count_by_flow().await.unwrap().is_empty());
}
