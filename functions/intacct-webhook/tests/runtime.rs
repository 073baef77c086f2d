//! The intacct-webhook binary under the Lambda Runtime API (the emulator of `lf-testkit`),
//! with its queues on moto: a Smart Event post in an API Gateway HTTP API event is accepted
//! and queued for the flows that take its object; a post with the wrong token is refused and
//! queues nothing.
//!
//! Needs `LEDGERFORCE_MOTO_ENDPOINT` (`tests/run` starts moto).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use lf_domain::port::Queue;
use lf_domain::{ChangeEnvelope, Flow, System};
use lf_runtime::config::WEBHOOK_SECRET_VAR;
use lf_sandbox_salesforce as sf;
use lf_testkit::deployment::{sandboxes_with, wired};
use lf_testkit::lambda::{Answer, events, run_function};
use serde_json::json;

const TOKEN: &str = "runtime-smart-event-token-5c1d";

fn smart_event(token: &str) -> String {
    json!({
        "v": 1, "topic": "arinvoice.changed", "object": "ARINVOICE", "event": "set",
        "key": "1042", "recordno": "1042", "entity": "US",
        "WHENMODIFIED": "12/03/2026 09:15:02", "token": token
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_smart_event_is_queued_for_its_flows_and_a_wrong_token_refused() {
    let (salesforce, intacct) = sandboxes_with(sf::DataSet::Empty).await;
    let mut d = wired(&salesforce, &intacct).await;
    d.queue(Flow::InvoiceStatus).await;
    d.secret(WEBHOOK_SECRET_VAR, json!({"smart_event_token": TOKEN}))
        .await;
    let headers = [("content-type", "application/json")];
    let good = events::http_api("POST", "/intacct", &headers, &smart_event(TOKEN));
    let wrong = events::http_api("POST", "/intacct", &headers, &smart_event("not-the-token"));

    let run = run_function(
        env!("CARGO_BIN_EXE_intacct-webhook"),
        "intacct-webhook",
        d.process_env(),
        vec![good, wrong],
    )
    .await;

    let Answer::Response(accepted) = &run.answers[0] else {
        panic!("expected a response, got {:?}", run.answers[0]);
    };
    assert_eq!(accepted["statusCode"], 200, "{accepted}");
    let Answer::Response(refused) = &run.answers[1] else {
        panic!("expected a response, got {:?}", run.answers[1]);
    };
    let status = refused["statusCode"].as_i64().unwrap();
    assert!((400..500).contains(&status), "{refused}");
    assert!(
        !refused.to_string().contains(TOKEN) && !run.stdout.contains(TOKEN),
        "the token is never echoed or logged"
    );

    // The invoice change is on invoice-status's queue, once; opportunity-won's has nothing.
    let start = d.cold_start().await;
    let invoices = start.queue(Flow::InvoiceStatus).unwrap();
    let received = invoices
        .receive(10, Duration::from_secs(30), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(received.len(), 1, "{received:?}");
    let envelope: ChangeEnvelope = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(envelope.flow, Flow::InvoiceStatus);
    assert_eq!(envelope.record.system, System::Intacct);
    assert_eq!(envelope.record.object, "ARINVOICE");
    let deals = start.queue(Flow::OpportunityWon).unwrap();
    assert_eq!(deals.depth().await.unwrap().visible, 0);

    let docs: Vec<_> = run
        .emf_documents()
        .into_iter()
        .filter(|d| d["Flow"] == "intacct-webhook")
        .collect();
    assert_eq!(docs.len(), 2, "{}", run.stdout);
    assert!(docs.iter().all(|d| d["Failed"] == 0));
}
