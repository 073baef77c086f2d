//! The platform setup shipped in infra/ against the real webhook over loopback: the documented
//! example of the Apex callout class (infra/salesforce/callout-example.json) verifies and is
//! queued per flow, and the Contact Smart Event templates of infra/intacct reach account-sync.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use lf_domain::{EventOrigin, Flow, ManualClock, SalesforceId, System};
use lf_intacct::SmartEventVerifier;
use lf_intake::{
    Intake, IntakeConfig, RoutingTable, SIGNATURE_HEADER, SalesforceWebhookConfig, TIMESTAMP_HEADER,
};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::support::{IA_TOKEN, Store, SwitchQueue, serve};

fn infra(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../infra")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(infra(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The example's values: signing key, timestamp, body, signature header.
struct Example {
    key: String,
    timestamp: String,
    body: String,
    signature: String,
}

fn example() -> Example {
    let doc: Value = serde_json::from_str(&read("salesforce/callout-example.json")).unwrap();
    let field = |k: &str| doc[k].as_str().unwrap().to_owned();
    Example {
        key: field("signing_key"),
        timestamp: field("timestamp"),
        body: field("body"),
        signature: field("signature"),
    }
}

/// The intake with the example's key, accepting its org, at the time `now`.
fn intake_at(store: &Store, ex: &Example, now: DateTime<Utc>) -> Intake<SwitchQueue> {
    let org: Value = serde_json::from_str(&ex.body).unwrap();
    let mut sf = SalesforceWebhookConfig::new(
        vec![SalesforceId::parse(org["org_id"].as_str().unwrap()).unwrap()],
        SecretString::from("outbound-token-of-this-test"),
    );
    sf.callout_key = Some(SecretString::from(ex.key.clone()));
    let config = IntakeConfig {
        routes: RoutingTable::standard(),
        salesforce: Some(sf),
        intacct: Some(SmartEventVerifier::new(SecretString::from(IA_TOKEN)).unwrap()),
    };
    Intake::new(config, store.flow_queues(), Arc::new(ManualClock::new(now))).unwrap()
}

fn signed_at(ex: &Example) -> DateTime<Utc> {
    Utc.timestamp_opt(ex.timestamp.parse().unwrap(), 0).unwrap()
}

async fn post_callout(base: &str, ex: &Example, signature: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/salesforce"))
        .header("content-type", "application/json")
        .header(TIMESTAMP_HEADER, &ex.timestamp)
        .header(SIGNATURE_HEADER, signature)
        .body(ex.body.clone())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[test]
fn the_apex_class_and_its_test_carry_the_documented_example() {
    let ex = example();
    let class = read("salesforce/force-app/main/default/classes/LedgerforceCallout.cls");
    let test = read("salesforce/force-app/main/default/classes/LedgerforceCalloutTest.cls");
    for (what, value) in [
        ("key", &ex.key),
        ("timestamp", &ex.timestamp),
        ("body", &ex.body),
        ("signature", &ex.signature),
    ] {
        assert!(
            class.contains(value.as_str()),
            "the class comment lacks the {what}"
        );
        // The Apex test asserts these exact values as string literals.
        assert!(
            test.contains(&format!("'{value}'")),
            "LedgerforceCalloutTest lacks the {what}"
        );
    }
    // The class sends the headers the webhook reads (HTTP header names are case-insensitive).
    for header in [TIMESTAMP_HEADER, SIGNATURE_HEADER] {
        assert!(
            class.to_ascii_lowercase().contains(&format!("'{header}'")),
            "{header}"
        );
    }
    assert!(class.contains("Crypto.generateMac('hmacSHA256'"));
    assert!(ex.signature.starts_with("sha256="));
}

#[tokio::test]
async fn the_documented_callout_verifies_and_is_queued_per_flow() {
    let ex = example();
    let store = Store::new();
    // Delivered 30 s after it was signed, well inside the replay window.
    let at = signed_at(&ex) + chrono::Duration::seconds(30);
    let base = serve(intake_at(&store, &ex, at)).await;

    let (status, answer) = post_callout(&base, &ex, &ex.signature).await;
    assert_eq!(status, 200, "{answer}");
    // Opportunity → opportunity-won; Account → account-onboarding and account-sync;
    // Contact → account-sync.
    assert_eq!(answer, json!({"queued": 4}));

    let events: Vec<Value> = serde_json::from_str::<Value>(&ex.body).unwrap()["events"]
        .as_array()
        .unwrap()
        .clone();
    let expect = |flow: Flow, objects: &[&str]| {
        events
            .iter()
            .filter(|e| objects.contains(&e["object"].as_str().unwrap()))
            .map(|e| {
                (
                    flow,
                    e["object"].as_str().unwrap().to_owned(),
                    e["id"].as_str().unwrap().to_owned(),
                    e["event_id"].as_str().unwrap().to_owned(),
                    e["modified_at"].as_str().unwrap().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    for (flow, objects) in [
        (Flow::OpportunityWon, &["Opportunity"][..]),
        (Flow::AccountOnboarding, &["Account"][..]),
        (Flow::AccountSync, &["Account", "Contact"][..]),
    ] {
        let got: Vec<_> = store
            .take(flow)
            .await
            .into_iter()
            .map(|e| {
                assert_eq!(e.record.system, System::Salesforce);
                assert_eq!(e.received_at, at);
                let event_id = match e.origin {
                    EventOrigin::FlowCallout { event_id } => event_id,
                    other => panic!("{other:?}"),
                };
                let modified = e.modified_at.unwrap();
                (
                    e.flow,
                    e.record.object,
                    e.record.id,
                    event_id,
                    modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                )
            })
            .collect();
        assert_eq!(got, expect(flow, objects), "{flow}");
    }
    assert_eq!(store.total_depth().await, 0);
}

/// The `MAX_EVENTS` of the Apex class: how many events it puts in one post.
fn apex_max_events() -> usize {
    let class = read("salesforce/force-app/main/default/classes/LedgerforceCallout.cls");
    let (_, rest) = class.split_once("Integer MAX_EVENTS = ").unwrap();
    rest.split(';').next().unwrap().trim().parse().unwrap()
}

#[tokio::test]
async fn the_apex_batch_size_is_what_the_webhook_accepts_in_one_post() {
    use lf_intake::{CALLOUT_VERSION, sign_callout};
    let ex = example();
    let store = Store::new();
    let base = serve(intake_at(&store, &ex, signed_at(&ex))).await;
    let org: Value = serde_json::from_str(&ex.body).unwrap();
    let body = |n: usize| {
        let events: Vec<Value> = (0..n)
            .map(|i| {
                let id = SalesforceId::parse(&format!("001{i:012}")).unwrap();
                json!({"event_id": format!("{}@1767225595000", id.as_str()), "object": "Account", "id": id.as_str()})
            })
            .collect();
        json!({"v": CALLOUT_VERSION, "org_id": org["org_id"], "events": events}).to_string()
    };
    let max = apex_max_events();
    for (n, status) in [(max, 200), (max + 1, 400)] {
        let payload = body(n);
        let signature = sign_callout(
            &SecretString::from(ex.key.clone()),
            &ex.timestamp,
            payload.as_bytes(),
        );
        let one = Example {
            body: payload,
            signature: format!("sha256={signature}"),
            ..example()
        };
        let (got, answer) = post_callout(&base, &one, &one.signature).await;
        assert_eq!(got, status, "{n} events: {answer}");
        if status == 400 {
            assert!(answer.to_string().contains("more than"), "{answer}");
        }
    }
    // The class writes the version the webhook reads.
    assert!(ex.body.starts_with(&format!("{{\"v\":{CALLOUT_VERSION},")));
}

#[tokio::test]
async fn the_documented_callout_is_refused_with_another_key_or_outside_the_window() {
    let ex = example();
    let store = Store::new();

    // Signed with another key: the signature does not match.
    let other = Example {
        key: "another-key".into(),
        ..example()
    };
    let base = serve(intake_at(&store, &other, signed_at(&ex))).await;
    let (status, answer) = post_callout(&base, &ex, &ex.signature).await;
    assert_eq!(status, 401, "{answer}");

    // The right key, replayed six minutes later.
    let late = signed_at(&ex) + chrono::Duration::seconds(360);
    let base = serve(intake_at(&store, &ex, late)).await;
    let (status, answer) = post_callout(&base, &ex, &ex.signature).await;
    assert_eq!(status, 401, "{answer}");
    assert!(answer.to_string().contains("replay window"), "{answer}");
    assert_eq!(store.total_depth().await, 0);
}

#[tokio::test]
async fn the_contact_smart_events_reach_account_sync() {
    let store = Store::new();
    let base = serve(crate::support::intake(&store, "00D000000000001EAA")).await;
    let http = reqwest::Client::new();
    let mut posted = Vec::new();
    for (file, name) in [
        ("contact-added.yaml", "Ada Lovelace"),
        ("contact-changed.yaml", "Grace Hopper"),
    ] {
        let text = read(&format!("intacct/smart-events/{file}"));
        let template = text
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("body:"))
            .nth(1)
            .unwrap()
            .trim();
        // Filled in as Intacct fills the injections; the token as the installer does.
        let body = template
            .replace("{!CONTACT.CONTACTNAME!}", name)
            .replace("{!CONTACT.RECORDNO!}", "77")
            .replace("{!CONTACT.MEGAENTITYID!}", "UK")
            .replace("{!CONTACT.WHENMODIFIED!}", "03/14/2026 10:00:00")
            .replace("${LEDGERFORCE_SMART_EVENT_TOKEN}", IA_TOKEN);
        assert!(
            !body.contains("{!") && !body.contains("${"),
            "{file}: {body}"
        );
        let resp = http
            .post(format!("{base}/intacct"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{file}");
        posted.push(name);
    }
    let got = store.take(Flow::AccountSync).await;
    let records: Vec<(&str, &str)> = got
        .iter()
        .map(|e| (e.record.object.as_str(), e.record.id.as_str()))
        .collect();
    assert_eq!(
        records,
        posted.iter().map(|n| ("CONTACT", *n)).collect::<Vec<_>>()
    );
    for e in &got {
        assert_eq!(e.record.system, System::Intacct);
        assert!(e.modified_at.is_some(), "WHENMODIFIED was read");
    }
    // CONTACT routes to account-sync only.
    assert_eq!(store.total_depth().await, 0);
}
