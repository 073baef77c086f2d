//! [`SyncState`] contract.

use futures::future::join_all;
use lf_domain::port::{SyncState, Watermark};
use lf_domain::{Fingerprint, Flow, RecordRef, System};
use serde_json::json;

use crate::{Harness, epoch};

fn wm(secs: i64, id: &str) -> Watermark {
    Watermark {
        modified_at: epoch() + chrono::Duration::seconds(secs),
        last_id: id.to_owned(),
    }
}

pub async fn watermark_moves_only_forward<H: Harness>(h: &H) {
    let s = h.sync_state().await;
    let stream = "salesforce/Account";
    assert_eq!(s.watermark(stream).await.unwrap(), None);
    assert!(s.advance_watermark(stream, &wm(10, "001B")).await.unwrap());
    assert_eq!(s.watermark(stream).await.unwrap(), Some(wm(10, "001B")));
    // Behind, or equal: refused.
    assert!(!s.advance_watermark(stream, &wm(9, "001Z")).await.unwrap());
    assert!(!s.advance_watermark(stream, &wm(10, "001A")).await.unwrap());
    assert!(!s.advance_watermark(stream, &wm(10, "001B")).await.unwrap());
    assert_eq!(s.watermark(stream).await.unwrap(), Some(wm(10, "001B")));
    // Same second, later id: forward.
    assert!(s.advance_watermark(stream, &wm(10, "001C")).await.unwrap());
    assert!(s.advance_watermark(stream, &wm(11, "")).await.unwrap());
    assert_eq!(s.watermark(stream).await.unwrap(), Some(wm(11, "")));
    // Streams are independent.
    assert_eq!(s.watermark("intacct/US/CUSTOMER").await.unwrap(), None);
}

pub async fn racing_watermark_advances_keep_the_maximum<H: Harness>(h: &H) {
    let s = h.sync_state().await;
    let stream = "intacct/US/ARINVOICE";
    let marks: Vec<Watermark> = [5, 40, 12, 33, 40, 7, 21, 1]
        .iter()
        .enumerate()
        .map(|(i, secs)| wm(*secs, &format!("R{i}")))
        .collect();
    join_all(marks.iter().map(|m| s.advance_watermark(stream, m)))
        .await
        .into_iter()
        .for_each(|r| {
            r.unwrap();
        });
    assert_eq!(
        s.watermark(stream).await.unwrap(),
        marks.iter().max().cloned()
    );
}

fn account() -> RecordRef {
    RecordRef {
        system: System::Salesforce,
        object: "Account".into(),
        id: "001000000000001AAA".into(),
    }
}

fn fp(name: &str) -> Fingerprint {
    Fingerprint::of_fields(json!({ "Name": name }).as_object().unwrap())
}

pub async fn fingerprints_are_per_record_and_replaced<H: Harness>(h: &H) {
    let s = h.sync_state().await;
    let flow = Flow::AccountSync;
    // Same id text on the other system is another record.
    let customer = RecordRef {
        system: System::Intacct,
        ..account()
    };
    assert_eq!(s.fingerprint(&account(), flow).await.unwrap(), None);
    s.record_fingerprint(&account(), flow, &fp("Acme"))
        .await
        .unwrap();
    assert_eq!(
        s.fingerprint(&account(), flow).await.unwrap(),
        Some(fp("Acme"))
    );
    assert_eq!(s.fingerprint(&customer, flow).await.unwrap(), None);
    s.record_fingerprint(&account(), flow, &fp("Acme Ltd"))
        .await
        .unwrap();
    assert_eq!(
        s.fingerprint(&account(), flow).await.unwrap(),
        Some(fp("Acme Ltd"))
    );
}

pub async fn fingerprints_are_kept_per_flow<H: Harness>(h: &H) {
    // Two flows write one Account: each must recognise its own echo, so neither's fingerprint
    // may replace the other's.
    let s = h.sync_state().await;
    let (sync, credit) = (Flow::AccountSync, Flow::CreditAlerts);
    s.record_fingerprint(&account(), sync, &fp("by account-sync"))
        .await
        .unwrap();
    assert_eq!(s.fingerprint(&account(), credit).await.unwrap(), None);
    s.record_fingerprint(&account(), credit, &fp("by credit-alerts"))
        .await
        .unwrap();
    assert_eq!(
        s.fingerprint(&account(), sync).await.unwrap(),
        Some(fp("by account-sync"))
    );
    assert_eq!(
        s.fingerprint(&account(), credit).await.unwrap(),
        Some(fp("by credit-alerts"))
    );
    // One flow's next write replaces only its own.
    s.record_fingerprint(&account(), sync, &fp("again"))
        .await
        .unwrap();
    assert_eq!(
        s.fingerprint(&account(), sync).await.unwrap(),
        Some(fp("again"))
    );
    assert_eq!(
        s.fingerprint(&account(), credit).await.unwrap(),
        Some(fp("by credit-alerts"))
    );
    assert_eq!(
        s.fingerprint(&account(), Flow::AccountOnboarding)
            .await
            .unwrap(),
        None
    );
}
