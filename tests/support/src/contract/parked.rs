//! [`ParkedFailures`] contract. Times are on the harness's manual clock.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::join_all;
use lf_domain::port::{MAX_PARKED_PAYLOAD_BYTES, ParkRequest, ParkedFailures};
use lf_domain::{Flow, PortError, RecordRef, System};
use serde_json::{Value, json};

use crate::{Harness, epoch};

fn account(n: u32) -> RecordRef {
    RecordRef {
        system: System::Salesforce,
        object: "Account".into(),
        id: format!("001Aa{n:010}AAA"),
    }
}

fn request(record: RecordRef, flow: Flow, reason: &str, payload: Value) -> ParkRequest {
    ParkRequest {
        record,
        flow,
        reason: reason.into(),
        error_class: "permanent".into(),
        payload,
    }
}

pub async fn park_upserts_and_keeps_first_seen<H: Harness>(h: &H) {
    let p = h.parked().await;
    let flow = Flow::AccountOnboarding;
    let first = p
        .park(&request(
            account(1),
            flow,
            "no entity matches region EMEA",
            json!({"v": 1}),
        ))
        .await
        .unwrap();
    assert_eq!(first.first_seen, epoch());
    assert_eq!(first.last_seen, epoch());
    assert_eq!(first.attempts, 1);
    h.advance(Duration::from_secs(60));
    let mut again = request(
        account(1),
        flow,
        "Intacct refused: TAXID is invalid",
        json!({"v": 2}),
    );
    again.error_class = "intacct/BL01001973".into();
    let second = p.park(&again).await.unwrap();
    assert_eq!(second.first_seen, epoch(), "first_seen is kept");
    assert_eq!(second.last_seen, epoch() + chrono::Duration::seconds(60));
    assert_eq!(second.attempts, 2);
    assert_eq!(second.reason, "Intacct refused: TAXID is invalid");
    assert_eq!(second.error_class, "intacct/BL01001973");
    assert_eq!(
        second.payload,
        json!({"v": 2}),
        "the latest payload is the one to replay"
    );
    assert_eq!(second.record, account(1));
    assert_eq!(second.flow, flow);
    assert_eq!(p.get(&account(1), flow).await.unwrap(), Some(second));
    // The same record parked by another flow is another failure.
    assert_eq!(p.get(&account(1), Flow::AccountSync).await.unwrap(), None);
    let other = p
        .park(&request(account(1), Flow::AccountSync, "r", json!(null)))
        .await
        .unwrap();
    assert_eq!(other.attempts, 1);
    assert_eq!(p.get(&account(1), flow).await.unwrap().unwrap().attempts, 2);
}

pub async fn list_is_newest_first_and_counts_are_per_flow<H: Harness>(h: &H) {
    let p = h.parked().await;
    let (won, sync) = (Flow::OpportunityWon, Flow::AccountSync);
    let p = &p;
    let park = |n: u32, flow: Flow| {
        let r = request(account(n), flow, "r", json!({ "n": n }));
        async move { p.park(&r).await }
    };
    park(1, won).await.unwrap();
    h.advance(Duration::from_secs(1));
    park(2, sync).await.unwrap();
    h.advance(Duration::from_secs(1));
    park(3, won).await.unwrap();
    let ids = |list: Vec<lf_domain::port::ParkedFailure>| {
        list.into_iter()
            .map(|f| (f.record, f.flow))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(p.list(None, 10).await.unwrap()),
        vec![(account(3), won), (account(2), sync), (account(1), won)]
    );
    assert_eq!(
        ids(p.list(Some(won), 10).await.unwrap()),
        vec![(account(3), won), (account(1), won)]
    );
    assert_eq!(
        ids(p.list(None, 2).await.unwrap()),
        vec![(account(3), won), (account(2), sync)]
    );
    assert!(
        p.list(Some(Flow::CreditAlerts), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        p.count_by_flow().await.unwrap(),
        BTreeMap::from([(won, 2), (sync, 1)])
    );
    // Parking account 1 again makes it the newest.
    h.advance(Duration::from_secs(1));
    park(1, won).await.unwrap();
    assert_eq!(
        ids(p.list(Some(won), 1).await.unwrap()),
        vec![(account(1), won)]
    );

    assert!(p.remove(&account(1), won).await.unwrap());
    assert!(
        !p.remove(&account(1), won).await.unwrap(),
        "already removed"
    );
    assert_eq!(p.get(&account(1), won).await.unwrap(), None);
    assert_eq!(
        p.count_by_flow().await.unwrap(),
        BTreeMap::from([(won, 1), (sync, 1)])
    );
    // Removed and parked again: a fresh failure.
    let fresh = park(1, won).await.unwrap();
    assert_eq!(fresh.attempts, 1);
    assert_eq!(fresh.first_seen, epoch() + chrono::Duration::seconds(3));
}

pub async fn oversized_payload_is_refused_and_nothing_changes<H: Harness>(h: &H) {
    let p = h.parked().await;
    let flow = Flow::InvoiceStatus;
    let huge = json!({ "body": "x".repeat(MAX_PARKED_PAYLOAD_BYTES) });
    let err = p
        .park(&request(account(1), flow, "r", huge.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("bytes"), "{err}");
    assert_eq!(p.get(&account(1), flow).await.unwrap(), None);
    // An earlier parking of the record is kept as it was.
    let kept = p
        .park(&request(account(1), flow, "first", json!({"small": true})))
        .await
        .unwrap();
    p.park(&request(account(1), flow, "second", huge))
        .await
        .unwrap_err();
    assert_eq!(p.get(&account(1), flow).await.unwrap(), Some(kept));
    // A payload just under the cap (with its JSON quotes) is accepted whole.
    let fits = json!("y".repeat(MAX_PARKED_PAYLOAD_BYTES - 2));
    let stored = p
        .park(&request(account(2), flow, "r", fits.clone()))
        .await
        .unwrap();
    assert_eq!(stored.payload, fits);
}

pub async fn concurrent_parks_lose_no_attempt<H: Harness>(h: &H) {
    let p = h.parked().await;
    let flow = Flow::CreditAlerts;
    let requests: Vec<ParkRequest> = (0..8)
        .map(|i| request(account(7), flow, &format!("attempt {i}"), json!(i)))
        .collect();
    for r in join_all(requests.iter().map(|r| p.park(r))).await {
        r.unwrap();
    }
    let stored = p.get(&account(7), flow).await.unwrap().unwrap();
    assert_eq!(stored.attempts, 8);
    assert_eq!(stored.first_seen, epoch());
    assert_eq!(
        p.count_by_flow().await.unwrap(),
        BTreeMap::from([(flow, 1)])
    );
}
