//! The Lambda event shapes: an SQS event fixture to `batchItemFailures`, an HTTP API v2 event
//! fixture to the neutral request and back.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::event::sqs::SqsEvent;
use lf_domain::port::ParkedFailures;
use lf_domain::{Deadline, ErrorClass, Flow, RecordRef, System, SystemClock};
use lf_embedded::Database;
use lf_flows::{BatchContext, FlowHandler, Outcome, WorkItem};
use lf_intake::WebhookResponse;
use lf_runtime::{from_api_gateway, sqs_batch, to_api_gateway};

/// Retries `…Retry…` ids, parks `…Parkd…` ids, does the rest.
struct Handler;

impl FlowHandler for Handler {
    fn flow(&self) -> Flow {
        Flow::OpportunityWon
    }

    async fn handle_batch(&self, items: &[WorkItem], _: &BatchContext) -> Vec<Outcome> {
        items
            .iter()
            .map(|i| {
                let id = &i.envelope.record.id;
                if id.contains("Retry") {
                    Outcome::retry(ErrorClass::Transient, "Intacct 503")
                } else if id.contains("Parkd") {
                    Outcome::parked("unknown product code")
                } else {
                    Outcome::done("invoice created")
                }
            })
            .collect()
    }
}

#[tokio::test]
async fn an_sqs_event_names_exactly_the_retried_messages() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("lf.db"), Arc::new(SystemClock)).unwrap();
    let parked = db.parked_failures();
    let event: SqsEvent = serde_json::from_str(include_str!("fixtures/sqs-event.json")).unwrap();
    let response = sqs_batch(
        &Handler,
        &parked,
        event,
        Deadline::after(Duration::from_secs(30)),
    )
    .await
    .unwrap();
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"batchItemFailures": [
            {"itemIdentifier": "4f8d2b1e-0c3a-4e7f-9b21-6a5d3c2e1f02"}
        ]})
    );
    let opp = RecordRef {
        system: System::Salesforce,
        object: "Opportunity".into(),
        id: "006Hs00001ParkdIAV".into(),
    };
    assert!(
        parked
            .get(&opp, Flow::OpportunityWon)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        parked.count_by_flow().await.unwrap()[&Flow::OpportunityWon],
        2
    );
}

#[tokio::test]
async fn a_retry_on_the_queues_last_receive_is_parked_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("lf.db"), Arc::new(SystemClock)).unwrap();
    let parked = db.parked_failures();
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/sqs-event.json")).unwrap();
    let retried = event["Records"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["body"].as_str().unwrap().contains("Retry"))
        .unwrap();
    // The template's maxReceiveCount: SQS would dead-letter it on the next receive.
    retried["attributes"]["ApproximateReceiveCount"] =
        lf_aws::schema::MAX_RECEIVES.to_string().into();
    let event: SqsEvent = serde_json::from_value(event).unwrap();
    let response = sqs_batch(
        &Handler,
        &parked,
        event,
        Deadline::after(Duration::from_secs(30)),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let failures = parked.list(Some(Flow::OpportunityWon), 10).await.unwrap();
    let gave_up = failures
        .iter()
        .find(|f| f.record.id.contains("Retry"))
        .expect("the retried change parked");
    assert_eq!(
        gave_up.reason,
        format!(
            "still failing after {} deliveries: Intacct 503",
            lf_aws::schema::MAX_RECEIVES
        )
    );
    assert_eq!(gave_up.error_class, "transient");
}

#[tokio::test]
async fn an_sqs_record_without_a_message_id_fails_the_whole_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("lf.db"), Arc::new(SystemClock)).unwrap();
    let event: SqsEvent =
        serde_json::from_str(r#"{"Records":[{"body":"{}","attributes":{}}]}"#).unwrap();
    let err = sqs_batch(
        &Handler,
        &db.parked_failures(),
        event,
        Deadline::after(Duration::from_secs(5)),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("messageId"), "{err}");
}

#[test]
fn an_http_api_event_becomes_the_neutral_request_with_its_body_decoded() {
    let event: ApiGatewayV2httpRequest =
        serde_json::from_str(include_str!("fixtures/apigw-v2-event.json")).unwrap();
    let request = from_api_gateway(event).unwrap();
    assert_eq!(request.method, http::Method::POST);
    assert_eq!(request.path, "/salesforce/t0k3n");
    assert_eq!(request.query.as_deref(), Some("org=00D5g000004ZxYzEAK"));
    assert_eq!(request.headers["content-type"], "text/xml; charset=utf-8");
    assert!(request.body.starts_with(b"<?xml version=\"1.0\""));
    assert!(request.body.ends_with(b"</soapenv:Envelope>"));

    let mut bad: ApiGatewayV2httpRequest =
        serde_json::from_str(include_str!("fixtures/apigw-v2-event.json")).unwrap();
    bad.body = Some("not base64!".into());
    assert!(from_api_gateway(bad).is_err());

    let plain: ApiGatewayV2httpRequest = serde_json::from_str(
        &include_str!("fixtures/apigw-v2-event.json")
            .replace("\"isBase64Encoded\": true", "\"isBase64Encoded\": false"),
    )
    .unwrap();
    let as_text = from_api_gateway(plain).unwrap();
    assert!(!as_text.body.starts_with(b"<?xml"));

    let answer = to_api_gateway(WebhookResponse::refused(401, "wrong secret"));
    let json = serde_json::to_value(&answer).unwrap();
    assert_eq!(json["statusCode"], 401);
    assert_eq!(json["headers"]["content-type"], "application/json");
    assert_eq!(json["body"], r#"{"error":"wrong secret"}"#);
}
