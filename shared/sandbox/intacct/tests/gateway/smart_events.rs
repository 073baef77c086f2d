//! Smart Events posted to a local receiver, at least once.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use lf_sandbox_intacct::{DataSet, PushConfig, SandboxConfig, SmartEventConfig};
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn events_reach_the_webhook_at_least_once() {
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    let calls = Arc::new(AtomicU32::new(0));
    let (s, n) = (Arc::clone(&seen), Arc::clone(&calls));
    let app = Router::new().route(
        "/intacct",
        post(move |body: String| {
            let (s, n) = (Arc::clone(&s), Arc::clone(&n));
            async move {
                // The first attempt fails: the sandbox must retry.
                if n.fetch_add(1, Ordering::SeqCst) == 0 {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                s.lock().unwrap().push(serde_json::from_str(&body).unwrap());
                StatusCode::OK
            }
        }),
    );
    let receiver = lf_sandbox_core::serve(app, 0).await.unwrap();
    let config = SmartEventConfig {
        delivery: PushConfig {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            ..PushConfig::new(format!("{}/intacct", receiver.base_url()))
        },
        ..SmartEventConfig::new("unused", "test-token-123")
    };
    let sb = start(SandboxConfig {
        seed: DataSet::Demo,
        smart_events: Some(config),
        ..Default::default()
    })
    .await;
    let us = Client::in_entity(&sb, "US");
    us.one(&customer(
        "E-1",
        "Events",
        "<SFDC_ACCOUNT_ID>001LF0000000042AAA</SFDC_ACCOUNT_ID>",
    ))
    .await;
    us.one(
        "<update><CUSTOMER><CUSTOMERID>E-1</CUSTOMERID><ONHOLD>true</ONHOLD></CUSTOMER></update>",
    )
    .await;
    let key = us
        .call(&[("i", "<create_invoice><customerid>E-1</customerid><datecreated><year>2025</year><month>01</month><day>01</day></datecreated>\
                       <termname>Net 30</termname><invoiceitems><lineitem><glaccountno>4000</glaccountno><amount>50</amount></lineitem></invoiceitems></create_invoice>")])
        .await
        .ok(0)
        .value("key")
        .to_owned();
    us.one(&format!(
        "<create_arpayment><customerid>E-1</customerid><paymentamount>50</paymentamount><datereceived><year>2025</year><month>01</month><day>05</day></datereceived>\
         <paymentmethod>Cash</paymentmethod><arpaymentitem><invoicekey>{key}</invoicekey><amount>50</amount></arpaymentitem></create_arpayment>"
    ))
    .await;
    us.one("<create><CONTACT><CONTACTNAME>Ada Lovelace</CONTACTNAME><PRINTAS>Ada Lovelace</PRINTAS></CONTACT></create>")
        .await;
    us.one("<update><CONTACT><CONTACTNAME>Ada Lovelace</CONTACTNAME><PHONE1>555-0100</PHONE1></CONTACT></update>")
        .await;
    assert!(sb.wait_smart_events_idle(Duration::from_secs(20)).await);
    let stats = sb.smart_event_stats().unwrap();
    assert_eq!(stats.delivered, 8);
    assert!(stats.failed_attempts >= 1, "{stats:?}");
    let got = seen.lock().unwrap().clone();
    let mut topics: Vec<&str> = got.iter().map(|v| v["topic"].as_str().unwrap()).collect();
    topics.sort_unstable();
    assert_eq!(
        topics,
        vec![
            "arinvoice.added",
            "arinvoice.changed",
            "arpymt.added",
            "contact.added",
            "contact.changed",
            "customer.added",
            "customer.changed",
            "customer.onhold"
        ]
    );
    let added = got.iter().find(|v| v["topic"] == "customer.added").unwrap();
    assert_eq!(added["v"], 1);
    assert_eq!(added["object"], "CUSTOMER");
    assert_eq!(added["event"], "add");
    assert_eq!(added["key"], "E-1");
    assert_eq!(added["entity"], "US");
    assert_eq!(added["token"], "test-token-123");
    assert!(added["recordno"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(
        added["WHENMODIFIED"].as_str().unwrap().len(),
        "03/14/2025 16:05:09".len()
    );
    let paid = got
        .iter()
        .find(|v| v["topic"] == "arinvoice.changed")
        .unwrap();
    assert_eq!(paid["key"], key.as_str());
    assert_eq!(paid["customer"], "E-1");
    let changed = got
        .iter()
        .find(|v| v["topic"] == "contact.changed")
        .unwrap();
    assert_eq!(changed["object"], "CONTACT");
    assert_eq!(changed["event"], "set");
    assert_eq!(changed["key"], "Ada Lovelace");
    assert_eq!(changed["entity"], "US");
    assert!(changed["recordno"].as_str().unwrap().parse::<u64>().is_ok());
    assert!(changed.get("customer").is_none(), "{changed}");
    assert_eq!(
        sb.usage().smart_events,
        8,
        "smart events are API transactions"
    );
    sb.shutdown().await;
    receiver.shutdown().await;
}
