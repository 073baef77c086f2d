//! Outbound Messages sent by the Salesforce sandbox reach the flow queues before the Ack.

use std::collections::BTreeSet;
use std::time::Duration;

use lf_domain::port::SalesforcePort;
use lf_domain::{ChangeEnvelope, EventOrigin, Flow, System};
use lf_sandbox_salesforce::{PushConfig, Sandbox, SandboxConfig};
use serde_json::json;

use crate::sf_client;
use crate::support::{SF_TOKEN, Store, intake, serve};

fn notification_ids(envelopes: &[ChangeEnvelope]) -> BTreeSet<String> {
    envelopes
        .iter()
        .map(|e| match &e.origin {
            EventOrigin::OutboundMessage { notification_id } => notification_id.clone(),
            other => panic!("not an Outbound Message: {other:?}"),
        })
        .collect()
}

/// Starts an org whose Outbound Messages go to `url`, retried quickly, each acknowledged
/// delivery sent a second time.
async fn org_posting_to(url: String, duplicate_probability: f64) -> Sandbox {
    let mut push = PushConfig::new(url);
    push.initial_backoff = Duration::from_millis(20);
    push.max_backoff = Duration::from_millis(100);
    push.duplicate_probability = duplicate_probability;
    Sandbox::start(SandboxConfig {
        outbound: Some(push),
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn sandbox_outbound_messages_land_on_every_routed_queue_with_one_dedupe_id() {
    let store = Store::new();
    // The org id is only known once the org runs, so the org learns the webhook's URL after.
    let org = org_posting_to("http://127.0.0.1:9/unused".into(), 1.0).await;
    let base = serve(intake(&store, &org.credentials().org_id)).await;
    org.set_outbound_url(&format!("{base}/salesforce/{SF_TOKEN}"));

    let client = sf_client(&org, Duration::from_secs(30));
    let account = org
        .insert("Account", json!({"Name": "Intake Test Ltd"}))
        .unwrap();
    let opp = org
        .insert(
            "Opportunity",
            json!({"Name": "Intake deal", "StageName": "Prospecting", "CloseDate": "2026-03-01",
                   "AccountId": account, "Amount": 1200}),
        )
        .unwrap();
    assert!(org.outbound_wait_idle(Duration::from_secs(10)).await);
    // Drop what the seeding fired; the test is about the REST edits below.
    for f in crate::support::FLOWS {
        store.take(f).await;
    }
    let before = org.outbound_stats();

    // A sales user closes the deal and edits the account, through the REST API.
    let edit = |id: &str, fields: serde_json::Value| {
        let mut m = fields.as_object().unwrap().clone();
        m.insert("Id".into(), json!(id));
        m
    };
    let won = SalesforcePort::update(
        &client,
        "Opportunity",
        vec![edit(&opp, json!({"StageName": "Closed Won"}))],
    )
    .await
    .unwrap();
    assert!(won[0].id().is_some(), "{won:?}");
    let renamed = SalesforcePort::update(
        &client,
        "Account",
        vec![edit(&account, json!({"Name": "Intake Test Group"}))],
    )
    .await
    .unwrap();
    assert!(renamed[0].id().is_some(), "{renamed:?}");
    assert!(org.outbound_wait_idle(Duration::from_secs(10)).await);

    let stats = org.outbound_stats();
    assert_eq!(stats.delivered - before.delivered, 2, "{stats:?}");
    assert_eq!(stats.duplicates - before.duplicates, 2, "{stats:?}");
    assert_eq!(
        stats.failed_attempts, 0,
        "every post was acknowledged: {stats:?}"
    );

    let won = store.take(Flow::OpportunityWon).await;
    // Delivered twice (the duplicate), queued twice, one dedupe id.
    assert_eq!(won.len(), 2, "{won:?}");
    assert_eq!(notification_ids(&won).len(), 1);
    let opp_id = lf_domain::SalesforceId::parse(&opp).unwrap();
    for e in &won {
        assert_eq!(e.v, ChangeEnvelope::VERSION);
        assert_eq!(e.flow, Flow::OpportunityWon);
        assert_eq!(e.record.system, System::Salesforce);
        assert_eq!(e.record.object, "Opportunity");
        assert_eq!(e.record.id, opp_id.as_str());
        assert!(e.modified_at.is_some(), "SystemModstamp was sent");
    }
    let onboarding = store.take(Flow::AccountOnboarding).await;
    let sync = store.take(Flow::AccountSync).await;
    assert_eq!(onboarding.len(), 2);
    assert_eq!(sync.len(), 2);
    assert_eq!(notification_ids(&onboarding), notification_ids(&sync));
    assert_eq!(notification_ids(&onboarding).len(), 1);
    let account_id = lf_domain::SalesforceId::parse(&account).unwrap();
    assert!(
        onboarding
            .iter()
            .chain(&sync)
            .all(|e| e.record.object == "Account" && e.record.id == account_id.as_str())
    );
    assert_ne!(notification_ids(&won), notification_ids(&sync));
    // Nothing went to the Intacct-side flows, and nothing else is left.
    assert!(store.take(Flow::InvoiceStatus).await.is_empty());
    assert!(store.take(Flow::CreditAlerts).await.is_empty());
    assert_eq!(store.total_depth().await, 0);
}

#[tokio::test]
async fn a_failing_queue_answers_503_so_the_org_retries_and_nothing_is_acknowledged() {
    let store = Store::new();
    let org = org_posting_to("http://127.0.0.1:9/unused".into(), 0.0).await;
    let base = serve(intake(&store, &org.credentials().org_id)).await;
    org.set_outbound_url(&format!("{base}/salesforce/{SF_TOKEN}"));

    store.fail_sends();
    let account = org
        .insert("Account", json!({"Name": "Queue Down Ltd"}))
        .unwrap();
    // The org keeps retrying and never counts it delivered while the queue is down.
    let settled = org.outbound_wait_idle(Duration::from_millis(400)).await;
    assert!(!settled, "a refused delivery stays pending");
    let stats = org.outbound_stats();
    assert_eq!(stats.delivered, 0, "{stats:?}");
    assert!(stats.failed_attempts >= 1, "{stats:?}");
    assert_eq!(store.total_depth().await, 0);

    // The queue comes back; the next retry is queued and acknowledged.
    store.heal();
    assert!(org.outbound_wait_idle(Duration::from_secs(10)).await);
    assert_eq!(org.outbound_stats().delivered, 1);
    let queued = store.take(Flow::AccountOnboarding).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0].record.id,
        lf_domain::SalesforceId::parse(&account).unwrap().as_str()
    );
}

#[tokio::test]
async fn signed_callouts_are_queued_per_flow_and_a_resend_keeps_its_event_id() {
    use lf_intake::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_callout};
    let store = Store::new();
    let base = serve(intake(&store, "00D000000000001EAA")).await;
    let body = r#"{"v":1,"org_id":"00D000000000001","events":[
        {"event_id":"ev-a","object":"Account","id":"001000000000001AAA","modified_at":"2026-03-01T09:00:00.000+0000"},
        {"event_id":"ev-o","object":"opportunity","id":"006000000000001AAA"},
        {"event_id":"ev-c","object":"Case","id":"500000000000001AAA"}]}"#;
    let http = reqwest::Client::new();
    for _ in 0..2 {
        let ts = chrono::Utc::now().timestamp().to_string();
        let sig = sign_callout(
            &secrecy::SecretString::from(crate::support::CALLOUT_KEY),
            &ts,
            body.as_bytes(),
        );
        let resp = http
            .post(format!("{base}/salesforce"))
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, ts)
            .header(SIGNATURE_HEADER, sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        // Account → two flows, Opportunity → one, Case → none.
        assert_eq!(
            resp.json::<serde_json::Value>().await.unwrap(),
            json!({"queued": 3})
        );
    }
    let event_ids = |envelopes: &[ChangeEnvelope]| -> Vec<String> {
        envelopes
            .iter()
            .map(|e| match &e.origin {
                EventOrigin::FlowCallout { event_id } => event_id.clone(),
                other => panic!("not a callout: {other:?}"),
            })
            .collect()
    };
    let won = store.take(Flow::OpportunityWon).await;
    assert_eq!(event_ids(&won), vec!["ev-o", "ev-o"]);
    // Sent as `opportunity`, named as the routes (and Outbound Messages) name it.
    assert!(won.iter().all(|e| e.record.object == "Opportunity"
        && e.record.id == "006000000000001AAA"
        && e.modified_at.is_none()));
    for flow in [Flow::AccountOnboarding, Flow::AccountSync] {
        let got = store.take(flow).await;
        assert_eq!(event_ids(&got), vec!["ev-a", "ev-a"], "{flow}");
        assert!(got.iter().all(|e| e.modified_at.is_some()));
    }
    assert_eq!(store.total_depth().await, 0);
}
