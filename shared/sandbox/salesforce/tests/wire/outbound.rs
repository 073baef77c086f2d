//! Outbound Messages to a local receiver: rules, envelope, retries, duplicates.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode as AxumStatus;
use axum::routing::post;
use lf_sandbox_core::Server;
use lf_sandbox_salesforce::{DataSet, PushConfig, SandboxConfig};
use serde_json::json;

use crate::support::start_with;

const ACK: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#;

/// A receiver that answers 500 to the first `fail_first` posts, then acknowledges and keeps
/// the bodies.
async fn receiver(fail_first: usize) -> (Server, Arc<Mutex<Vec<String>>>, Arc<Mutex<usize>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(Mutex::new(0usize));
    let (s, c) = (Arc::clone(&seen), Arc::clone(&calls));
    let app = Router::new().route(
        "/outbound",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let (s, c) = (Arc::clone(&s), Arc::clone(&c));
            async move {
                assert_eq!(headers["soapaction"], "\"\"");
                assert!(
                    headers["content-type"]
                        .to_str()
                        .unwrap()
                        .starts_with("text/xml")
                );
                let n = {
                    let mut c = c.lock().unwrap();
                    *c += 1;
                    *c
                };
                if n <= fail_first {
                    return (AxumStatus::INTERNAL_SERVER_ERROR, String::new());
                }
                s.lock().unwrap().push(body);
                (AxumStatus::OK, ACK.to_owned())
            }
        }),
    );
    (lf_sandbox_core::serve(app, 0).await.unwrap(), seen, calls)
}

fn fast(url: String) -> PushConfig {
    PushConfig {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..PushConfig::new(url)
    }
}

fn tag<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    xml.match_indices(&open)
        .filter_map(|(i, _)| {
            let start = i + open.len();
            xml[start..]
                .find(&close)
                .map(|end| &xml[start..start + end])
        })
        .collect()
}

#[tokio::test]
async fn closed_won_sends_an_envelope_and_retries_until_acked() {
    let (server, seen, calls) = receiver(2).await;
    let org = start_with(SandboxConfig {
        seed: DataSet::Demo,
        outbound: Some(fast(format!("{}/outbound", server.base_url()))),
        ..Default::default()
    })
    .await;
    let open = org
        .query("SELECT Id FROM Opportunity WHERE IsClosed = false AND Name LIKE 'Northwind%'")
        .await
        .json();
    let opp = open["records"][0]["Id"].as_str().unwrap().to_owned();
    let r = org
        .patch(
            &format!("/sobjects/Opportunity/{opp}"),
            json!({"StageName": "Closed Won"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 204);
    // Editing it again while still won sends nothing more.
    org.patch(
        &format!("/sobjects/Opportunity/{opp}"),
        json!({"NextStep": "Invoice"}),
    )
    .await;
    assert!(
        org.sandbox
            .outbound_wait_idle(Duration::from_secs(20))
            .await
    );

    let stats = org.sandbox.outbound_stats();
    assert_eq!(stats.delivered, 1);
    assert_eq!(stats.failed_attempts, 2);
    assert_eq!(*calls.lock().unwrap(), 3);
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    let xml = &bodies[0];
    assert_eq!(
        tag(xml, "OrganizationId"),
        vec![org.sandbox.credentials().org_id.as_str()]
    );
    assert!(tag(xml, "ActionId")[0].starts_with("04k"));
    assert!(xml.contains("<SessionId xsi:nil=\"true\"/>"));
    assert!(tag(xml, "Id")[0].starts_with("04l"), "notification id");
    assert!(xml.contains(
        "xsi:type=\"sf:Opportunity\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\""
    ));
    assert_eq!(tag(xml, "sf:Id"), vec![opp.as_str()]);
    assert_eq!(tag(xml, "sf:StageName"), vec!["Closed Won"]);
    assert_eq!(tag(xml, "sf:IsWon"), vec!["true"]);
    assert!(tag(xml, "sf:Amount")[0].ends_with(".0"));
    assert!(tag(xml, "sf:SystemModstamp")[0].ends_with("Z"));
}

#[tokio::test]
async fn account_changes_fire_with_duplicates_when_asked() {
    let (server, seen, _) = receiver(0).await;
    let org = start_with(SandboxConfig {
        outbound: Some(PushConfig {
            duplicate_probability: 1.0,
            ..fast(format!("{}/outbound", server.base_url()))
        }),
        ..Default::default()
    })
    .await;
    // One collections call with three accounts: one message with three notifications.
    let r = org
        .post(
            "/composite/sobjects",
            json!({"records": [
                {"attributes": {"type": "Account"}, "Name": "A & B <Partners>"},
                {"attributes": {"type": "Account"}, "Name": "Second"},
                {"attributes": {"type": "Account"}, "Name": "Third"}
            ]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200);
    assert!(
        org.sandbox
            .outbound_wait_idle(Duration::from_secs(20))
            .await
    );
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "the message and its duplicate");
    assert_eq!(
        bodies[0], bodies[1],
        "a duplicate carries the same notification ids"
    );
    assert_eq!(tag(&bodies[0], "Notification").len(), 3);
    assert!(bodies[0].contains("<sf:Name>A &amp; B &lt;Partners&gt;</sf:Name>"));
    assert_eq!(org.sandbox.outbound_stats().duplicates, 1);
}

#[tokio::test]
async fn rolled_back_writes_send_nothing_and_url_can_be_set_later() {
    let (server, seen, _) = receiver(0).await;
    let org = start_with(SandboxConfig::default()).await;
    org.sandbox
        .set_outbound_url(&format!("{}/outbound", server.base_url()));
    let r = org
        .post(
            "/composite/sobjects",
            json!({"allOrNone": true, "records": [
                {"attributes": {"type": "Account"}, "Name": "Rolled back"},
                {"attributes": {"type": "Account"}}
            ]}),
        )
        .await;
    assert_eq!(r.json()[0]["success"], false);
    org.sandbox
        .insert("Contact", json!({"LastName": "Direct"}))
        .unwrap();
    assert!(
        org.sandbox
            .outbound_wait_idle(Duration::from_secs(20))
            .await
    );
    let bodies = seen.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].contains("sf:Contact"));
}
