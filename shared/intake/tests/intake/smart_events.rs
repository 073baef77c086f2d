//! Smart Events sent by the Intacct sandbox reach their flows' queues; a wrong token does not.

use std::time::Duration;

use lf_domain::{EntityId, EventOrigin, Flow, RetryPolicy, System};
use lf_intacct::record::{ContactDetails, Customer};
use lf_intacct::{Credentials, Function, IntacctClient, IntacctConfig};
use lf_sandbox_intacct::{Sandbox, SandboxConfig, SmartEventConfig};
use secrecy::SecretString;

use crate::support::{IA_TOKEN, Store, intake, serve};

pub fn ia_client(company: &Sandbox) -> IntacctClient {
    let c = company.credentials();
    let mut config = IntacctConfig::new(
        company.endpoint_url(),
        Credentials {
            sender_id: c.sender_id.clone(),
            sender_password: SecretString::from(c.sender_password.clone()),
            company_id: c.company_id.clone(),
            user_id: c.user_id.clone(),
            user_password: SecretString::from(c.user_password.clone()),
        },
    );
    config.retry = RetryPolicy {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(100),
        max_attempts: 6,
    };
    IntacctClient::new(config).unwrap()
}

pub fn customer(id: &str, name: &str) -> Customer {
    Customer {
        customer_id: Some(id.into()),
        name: Some(name.into()),
        display_contact: Some(ContactDetails {
            print_as: Some(name.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn company_posting_to(url: String, token: &str) -> Sandbox {
    let mut events = SmartEventConfig::new(url, token);
    events.delivery.initial_backoff = Duration::from_millis(20);
    events.delivery.max_backoff = Duration::from_millis(100);
    Sandbox::start(SandboxConfig {
        smart_events: Some(events),
        ..Default::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn sandbox_smart_events_reach_the_customer_flows() {
    let store = Store::new();
    let base = serve(intake(&store, "00D000000000001EAA")).await;
    let company = company_posting_to(format!("{base}/intacct"), IA_TOKEN).await;
    let client = ia_client(&company);
    let uk = EntityId::parse("UK").unwrap();
    client
        .call(
            Some(&uk),
            Function::create([customer("IN-1", "Intake Events Ltd").to_create().unwrap()]),
        )
        .await
        .unwrap();
    assert!(
        company
            .wait_smart_events_idle(Duration::from_secs(10))
            .await
    );
    let stats = company.smart_event_stats().unwrap();
    assert_eq!(stats.delivered, 1, "customer.added only: {stats:?}");
    assert_eq!(stats.failed_attempts, 0, "{stats:?}");

    // CUSTOMER routes to account-sync and credit-alerts.
    for flow in [Flow::AccountSync, Flow::CreditAlerts] {
        let got = store.take(flow).await;
        assert_eq!(got.len(), 1, "{flow}: {got:?}");
        let e = &got[0];
        assert_eq!(e.flow, flow);
        assert_eq!(e.record.system, System::Intacct);
        assert_eq!(e.record.object, "CUSTOMER");
        assert_eq!(e.record.id, "IN-1");
        assert!(e.modified_at.is_some(), "WHENMODIFIED was read");
        match &e.origin {
            EventOrigin::SmartEvent { event } => {
                assert!(event.starts_with("CUSTOMER:add:UK:IN-1@"), "{event}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(store.total_depth().await, 0);
}

#[tokio::test]
async fn smart_events_with_a_wrong_token_are_refused_and_not_queued() {
    let store = Store::new();
    let base = serve(intake(&store, "00D000000000001EAA")).await;
    let company = company_posting_to(format!("{base}/intacct"), "not-the-configured-token").await;
    ia_client(&company)
        .call(
            None,
            Function::create([customer("IN-2", "Wrong Token Ltd").to_create().unwrap()]),
        )
        .await
        .unwrap();
    assert!(
        !company
            .wait_smart_events_idle(Duration::from_millis(300))
            .await,
        "a refused event stays pending"
    );
    let stats = company.smart_event_stats().unwrap();
    assert_eq!(stats.delivered, 0, "{stats:?}");
    assert!(stats.failed_attempts >= 1, "{stats:?}");
    assert_eq!(store.total_depth().await, 0);
}

#[tokio::test]
async fn invoice_and_payment_events_go_to_both_receivable_flows() {
    let store = Store::new();
    let base = serve(intake(&store, "00D000000000001EAA")).await;
    let http = reqwest::Client::new();
    // The payloads of infra/intacct/smart-events, as the sandbox fires them.
    for (object, topic, key) in [
        ("ARINVOICE", "arinvoice.added", "101"),
        ("ARPYMT", "arpymt.added", "202"),
    ] {
        let body = serde_json::json!({
            "v": 1, "topic": topic, "object": object, "event": "add", "key": key,
            "entity": "US", "customer": "C-1", "WHENMODIFIED": "03/14/2026 10:00:00",
            "token": IA_TOKEN,
        });
        let resp = http
            .post(format!("{base}/intacct"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{object}");
    }
    for flow in [Flow::InvoiceStatus, Flow::CreditAlerts] {
        let got = store.take(flow).await;
        let records: Vec<(String, String)> = got
            .iter()
            .map(|e| (e.record.object.clone(), e.record.id.clone()))
            .collect();
        assert_eq!(
            records,
            vec![
                ("ARINVOICE".to_owned(), "101".to_owned()),
                ("ARPYMT".to_owned(), "202".to_owned())
            ],
            "{flow}"
        );
    }
    assert_eq!(store.total_depth().await, 0);
}
