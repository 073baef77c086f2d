//! Outbound Messages delivered by the sandbox over loopback, parsed by our parser and
//! acknowledged with our Ack.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use chrono::Utc;
use lf_domain::{CorrelationId, EventOrigin, Flow, SalesforceId};
use lf_salesforce::outbound::ACK_CONTENT_TYPE;
use lf_salesforce::{OutboundLimits, OutboundMessage, ack_response, parse_outbound_message};
use serde_json::json;
use tokio::sync::mpsc;

use crate::support::{client, fields, org};

#[derive(Clone)]
struct Receiver {
    tx: mpsc::UnboundedSender<OutboundMessage>,
}

async fn receive(State(r): State<Receiver>, body: Bytes) -> impl IntoResponse {
    match parse_outbound_message(&body, &OutboundLimits::default()) {
        Ok(message) => {
            let _ = r.tx.send(message);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, ACK_CONTENT_TYPE)],
                ack_response().to_owned(),
            )
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/plain")],
            e.to_string(),
        ),
    }
}

/// A webhook on a free loopback port; parsed messages arrive on the channel.
async fn webhook() -> (String, mpsc::UnboundedReceiver<OutboundMessage>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/outbound", post(receive))
        .with_state(Receiver { tx });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/outbound", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<OutboundMessage>) -> OutboundMessage {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("an Outbound Message within 20 s")
        .expect("webhook channel open")
}

#[tokio::test]
async fn sandbox_outbound_messages_parse_and_are_acknowledged() {
    let org = org().await;
    let (url, mut rx) = webhook().await;
    org.set_outbound_url(&url);
    let sf = client(&org);

    let id = sf
        .create(
            "Account",
            &fields(json!({"Name": "Outbound & Co <EU>", "Intacct_Customer_ID__c": "C-77"})),
        )
        .await
        .unwrap();
    let message = next(&mut rx).await;
    let org_id = SalesforceId::parse(&org.credentials().org_id).unwrap();
    assert!(message.is_from_org(&org_id));
    assert!(!message.action_id.is_empty());
    assert_eq!(message.notifications.len(), 1);
    let n = &message.notifications[0];
    assert_eq!(n.object_type, "Account");
    assert_eq!(n.record_id, id);
    assert_eq!(n.field("Name"), Some("Outbound & Co <EU>"));
    assert_eq!(n.field("Intacct_Customer_ID__c"), Some("C-77"));
    assert!(n.dedupe_key().starts_with("04l"));
    assert!(n.modified_at().is_some());

    let env = n.to_change_envelope(Flow::AccountSync, CorrelationId::new_random(), Utc::now());
    assert_eq!(env.record.to_string(), format!("salesforce/Account/{id}"));
    assert_eq!(
        env.origin,
        EventOrigin::OutboundMessage {
            notification_id: n.notification_id.clone()
        }
    );

    // Our Ack satisfies the sender: nothing is left to retry.
    assert!(org.outbound_wait_idle(Duration::from_secs(20)).await);
    let stats = org.outbound_stats();
    assert_eq!(stats.delivered, 1);
    assert_eq!(stats.failed_attempts, 0);
}

#[tokio::test]
async fn a_batch_write_arrives_as_one_message_with_many_notifications() {
    let org = org().await;
    let (url, mut rx) = webhook().await;
    org.set_outbound_url(&url);
    let sf = client(&org);
    let records: Vec<_> = (0..30)
        .map(|i| fields(json!({"LastName": format!("Batch {i}")})))
        .collect();
    let results = sf.create_many("Contact", &records, false).await.unwrap();
    // One collections call commits once: its 30 changes go out as one message.
    let m = next(&mut rx).await;
    let mut seen: Vec<_> = m.notifications.into_iter().map(|n| n.record_id).collect();
    assert_eq!(seen.len(), 30);
    seen.sort();
    let mut created: Vec<_> = results.iter().filter_map(|r| r.record_id()).collect();
    created.sort();
    assert_eq!(seen, created);
}
