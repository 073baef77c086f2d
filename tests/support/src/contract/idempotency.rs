//! [`IdempotencyStore`] contract. Times are on the harness's manual clock.

use std::time::Duration;

use futures::future::join_all;
use lf_domain::port::{BeginOutcome, IdempotencyConfig, IdempotencyStore, PayloadHash};
use lf_domain::{IdempotencyKey, PortError};
use serde_json::json;

use crate::{Harness, epoch};

fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey::parse(s).unwrap()
}

fn payload(s: &str) -> PayloadHash {
    PayloadHash::of_bytes(s.as_bytes())
}

fn config() -> IdempotencyConfig {
    IdempotencyConfig {
        expires_after: Duration::from_secs(3600),
        max_in_progress: Duration::from_secs(900),
    }
}

pub async fn first_begin_starts_and_second_sees_in_progress<H: Harness>(h: &H) {
    let store = h.idempotency(config()).await;
    let deadline = epoch() + chrono::Duration::seconds(60);
    assert_eq!(
        store
            .begin(&key("k1"), &payload("p"), Some(deadline))
            .await
            .unwrap(),
        BeginOutcome::Started
    );
    match store
        .begin(&key("k1"), &payload("p"), Some(deadline))
        .await
        .unwrap()
    {
        BeginOutcome::InProgress { until } => assert_eq!(until, deadline),
        other => panic!("expected InProgress, got {other:?}"),
    }
    // Another key is independent.
    assert_eq!(
        store.begin(&key("k2"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Started
    );
}

pub async fn completed_key_returns_stored_result<H: Harness>(h: &H) {
    let store = h.idempotency(config()).await;
    let result = json!({"customer": "C-100", "invoice": {"id": "INV-7", "lines": [1, 2.5, null]}, "note": "résumé ✓"});
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Started
    );
    store
        .complete(&key("k"), &payload("p"), &result)
        .await
        .unwrap();
    h.advance(Duration::from_secs(3599));
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Completed(result)
    );
}

pub async fn release_lets_the_work_run_again<H: Harness>(h: &H) {
    let store = h.idempotency(config()).await;
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Started
    );
    store.release(&key("k")).await.unwrap();
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Started
    );
    // Releasing a key that has no record is not an error.
    store.release(&key("never-begun")).await.unwrap();
}

pub async fn completed_record_expires<H: Harness>(h: &H) {
    let store = h.idempotency(config()).await;
    store.begin(&key("k"), &payload("p"), None).await.unwrap();
    h.advance(Duration::from_secs(60));
    store
        .complete(&key("k"), &payload("p"), &json!(1))
        .await
        .unwrap();
    // Expiry counts from completion.
    h.advance(Duration::from_secs(3599));
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Completed(json!(1))
    );
    h.advance(Duration::from_secs(2));
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Started
    );
}

pub async fn in_progress_expires_at_the_deadline<H: Harness>(h: &H) {
    let store = h.idempotency(config()).await;
    let deadline = epoch() + chrono::Duration::seconds(30);
    store
        .begin(&key("k"), &payload("p"), Some(deadline))
        .await
        .unwrap();
    h.advance(Duration::from_secs(29));
    assert!(matches!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::InProgress { .. }
    ));
    h.advance(Duration::from_secs(2));
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Started,
        "the owner's deadline passed, so a retry takes over"
    );
}

pub async fn killed_without_deadline_is_bounded_by_max_in_progress<H: Harness>(h: &H) {
    // A function killed at its timeout never releases its key and told us no deadline.
    let store = h.idempotency(config()).await;
    store.begin(&key("k"), &payload("p"), None).await.unwrap();
    h.advance(Duration::from_secs(899));
    match store.begin(&key("k"), &payload("p"), None).await.unwrap() {
        BeginOutcome::InProgress { until } => {
            assert_eq!(until, epoch() + chrono::Duration::seconds(900));
        }
        other => panic!("expected InProgress, got {other:?}"),
    }
    h.advance(Duration::from_secs(2));
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Started
    );
}

pub async fn deadline_is_capped_by_max_in_progress<H: Harness>(h: &H) {
    let store = h.idempotency(config()).await;
    let far = epoch() + chrono::Duration::hours(2);
    store
        .begin(&key("k"), &payload("p"), Some(far))
        .await
        .unwrap();
    h.advance(Duration::from_secs(901));
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Started
    );
}

pub async fn different_payload_for_same_key_is_refused<H: Harness>(h: &H) {
    let store = h.idempotency(config()).await;
    store.begin(&key("k"), &payload("a"), None).await.unwrap();
    let err = store
        .begin(&key("k"), &payload("b"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::PayloadMismatch { .. }), "{err:?}");
    store
        .complete(&key("k"), &payload("a"), &json!("done"))
        .await
        .unwrap();
    let err = store
        .begin(&key("k"), &payload("b"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::PayloadMismatch { .. }), "{err:?}");
    assert_eq!(
        store.begin(&key("k"), &payload("a"), None).await.unwrap(),
        BeginOutcome::Completed(json!("done"))
    );
}

pub async fn concurrent_begins_have_one_winner<H: Harness>(h: &H) {
    let store = h.idempotency(config()).await;
    let k = key("race");
    let p = payload("p");
    let outcomes = join_all((0..8).map(|_| store.begin(&k, &p, None))).await;
    let started = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(BeginOutcome::Started)))
        .count();
    assert_eq!(started, 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            Ok(BeginOutcome::Started | BeginOutcome::InProgress { .. })
        )),
        "{outcomes:?}"
    );
}

pub async fn a_late_complete_still_records_the_result<H: Harness>(h: &H) {
    // The owner finishes after its in-progress expiry and after the record itself expired:
    // the work is done, so its result is recorded and returned from then on.
    let store = h.idempotency(config()).await;
    let deadline = epoch() + chrono::Duration::seconds(30);
    store
        .begin(&key("k"), &payload("p"), Some(deadline))
        .await
        .unwrap();
    h.advance(Duration::from_secs(2 * 3600));
    store
        .complete(&key("k"), &payload("p"), &json!({"late": true}))
        .await
        .unwrap();
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Completed(json!({"late": true}))
    );
    // Completing a key that was never begun (or was released) records the result too.
    store
        .complete(&key("fresh"), &payload("p"), &json!(2))
        .await
        .unwrap();
    assert_eq!(
        store
            .begin(&key("fresh"), &payload("p"), None)
            .await
            .unwrap(),
        BeginOutcome::Completed(json!(2))
    );
}

pub async fn a_late_release_keeps_a_completed_result<H: Harness>(h: &H) {
    // The first owner stalls past its deadline; a retry takes the key over and completes it;
    // then the first owner fails and releases. The completed result must survive, or the work
    // would run a second time.
    let store = h.idempotency(config()).await;
    let deadline = epoch() + chrono::Duration::seconds(30);
    store
        .begin(&key("k"), &payload("p"), Some(deadline))
        .await
        .unwrap();
    h.advance(Duration::from_secs(31));
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Started
    );
    store
        .complete(&key("k"), &payload("p"), &json!({"invoice": "INV-9"}))
        .await
        .unwrap();
    store.release(&key("k")).await.unwrap();
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Completed(json!({"invoice": "INV-9"}))
    );
}
