//! The salesforce-webhook binary under the Lambda Runtime API (the emulator of `lf-testkit`),
//! with its queue on moto: an Outbound Message in an API Gateway HTTP API event is
//! acknowledged and queued; one with the wrong token is refused and queues nothing.
//!
//! Needs `LEDGERFORCE_MOTO_ENDPOINT` (`tests/run` starts moto).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use lf_domain::port::Queue;
use lf_domain::{ChangeEnvelope, Flow};
use lf_runtime::config::WEBHOOK_SECRET_VAR;
use lf_sandbox_salesforce as sf;
use lf_testkit::deployment::{sandboxes_with, wired};
use lf_testkit::lambda::{Answer, events, run_function};
use serde_json::json;

const TOKEN: &str = "runtime-outbound-token";

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_message_is_acknowledged_and_queued_and_a_wrong_token_refused() {
    let (salesforce, intacct) = sandboxes_with(sf::DataSet::Empty).await;
    let mut d = wired(&salesforce, &intacct).await;
    d.secret(
        WEBHOOK_SECRET_VAR,
        json!({"outbound_token": TOKEN, "callout_key": "runtime-hmac-key"}),
    )
    .await;
    let org = salesforce.credentials().org_id.clone();
    let opportunity = "006Hs00001AbCdEIAV";
    let body = outbound_message(&org, opportunity);
    let headers = [
        ("content-type", "text/xml; charset=utf-8"),
        ("soapaction", "\"\""),
        ("user-agent", "Salesforce"),
    ];
    let good = events::http_api("POST", &format!("/salesforce/{TOKEN}"), &headers, &body);
    let wrong = events::http_api("POST", "/salesforce/not-the-token", &headers, &body);

    let run = run_function(
        env!("CARGO_BIN_EXE_salesforce-webhook"),
        "salesforce-webhook",
        d.process_env(),
        vec![good, wrong],
    )
    .await;

    let Answer::Response(ack) = &run.answers[0] else {
        panic!("expected a response, got {:?}", run.answers[0]);
    };
    assert_eq!(ack["statusCode"], 200, "{ack}");
    assert!(
        ack["headers"]["content-type"]
            .as_str()
            .unwrap()
            .starts_with("text/xml"),
        "{ack}"
    );
    assert!(
        ack["body"].as_str().unwrap().contains("<Ack>true</Ack>"),
        "{ack}"
    );
    let Answer::Response(refused) = &run.answers[1] else {
        panic!("expected a response, got {:?}", run.answers[1]);
    };
    let status = refused["statusCode"].as_i64().unwrap();
    assert!((400..500).contains(&status), "{refused}");

    // Exactly the accepted notification is on the queue.
    let queue = d.cold_start().await.queue(Flow::OpportunityWon).unwrap();
    let received = queue
        .receive(10, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(received.len(), 1, "{received:?}");
    let envelope: ChangeEnvelope = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(envelope.flow, Flow::OpportunityWon);
    assert_eq!(envelope.record.object, "Opportunity");
    assert_eq!(envelope.record.id, opportunity);

    // One EMF document per request, no failures (a refusal is the sender's fault).
    let docs: Vec<_> = run
        .emf_documents()
        .into_iter()
        .filter(|d| d["Flow"] == "salesforce-webhook")
        .collect();
    assert_eq!(docs.len(), 2, "{}", run.stdout);
    assert!(
        docs.iter()
            .all(|d| d["Failed"] == 0 && d["LatencyMs"].is_number())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_without_its_configuration_exits_naming_the_variable() {
    use lf_testkit::lambda::{FunctionProcess, RuntimeApi, lambda_env};
    let api = RuntimeApi::start("salesforce-webhook").await.unwrap();
    // Only the Lambda service's variables: no table prefix, no secrets.
    let env = lambda_env(&api, "salesforce-webhook", 256);
    let mut process =
        FunctionProcess::spawn(env!("CARGO_BIN_EXE_salesforce-webhook"), &env).unwrap();
    let ready = process
        .wait_ready(&api, std::time::Duration::from_secs(60))
        .await;
    assert_eq!(
        ready, None,
        "a function that cannot start asks for no event"
    );
    assert!(
        process
            .exited_within(std::time::Duration::from_secs(30))
            .await,
        "it exits (the service reports Runtime.ExitError)"
    );
    assert_eq!(api.next_calls(), 0);
    let stderr = process.stderr();
    process.stop().await;
    assert!(stderr.contains("LEDGERFORCE_TABLE_PREFIX"), "{stderr}");
}
