//! [`IdempotencyStore`] contract. Times are on the harness's manual clock.

use std::time::Duration;

use futures::future::join_all;
use lf_domain::port::{BeginOutcome, IdempotencyConfig, IdempotencyStore, OwnerToken, PayloadHash};
use lf_domain::{IdempotencyKey, PortError};
use serde_json::json;

use crate::{Harness, epoch};

fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey::parse(s).unwrap()
}

fn payload(s: &str) -> PayloadHash {
    PayloadHash::of_bytes(s.as_bytes())
}

/// The owner token of a `begin` that must have started.
fn started(outcome: Result<BeginOutcome, PortError>) -> OwnerToken {
    match outcome {
        Ok(BeginOutcome::Started { owner }) => owner,
        other => panic!("expected Started, got {other:?}"),
    }
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
    started(store.begin(&key("k1"), &payload("p"), Some(deadline)).await);
    match store
        .begin(&key("k1"), &payload("p"), Some(deadline))
        .await
        .unwrap()
    {
        BeginOutcome::InProgress { until } => assert_eq!(until, deadline),
        other => panic!("expected InProgress, got {other:?}"),
    }
    // Another key is independent.
    started(store.begin(&key("k2"), &payload("p"), None).await);
}

pub async fn completed_key_returns_stored_result<H: Harness>(h: &H) {
    let store = h.idempotency(config()).await;
    let result = json!({"customer": "C-100", "invoice": {"id": "INV-7", "lines": [1, 2.5, null]}, "note": "résumé ✓"});
    let owner = started(store.begin(&key("k"), &payload("p"), None).await);
    store
        .complete(&key("k"), &owner, &payload("p"), &result)
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
    let first = started(store.begin(&key("k"), &payload("p"), None).await);
    assert!(store.release(&key("k"), &first).await.unwrap());
    let second = started(store.begin(&key("k"), &payload("p"), None).await);
    assert_ne!(first, second, "every start gets its own owner token");
    // Releasing a key that has no record is not an error, and releases nothing.
    assert!(!store.release(&key("never-begun"), &second).await.unwrap());
}

pub async fn completed_record_expires<H: Harness>(h: &H) {
    let store = h.idempotency(config()).await;
    let owner = started(store.begin(&key("k"), &payload("p"), None).await);
    h.advance(Duration::from_secs(60));
    store
        .complete(&key("k"), &owner, &payload("p"), &json!(1))
        .await
        .unwrap();
    // Expiry counts from completion.
    h.advance(Duration::from_secs(3599));
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Completed(json!(1))
    );
    h.advance(Duration::from_secs(2));
    started(store.begin(&key("k"), &payload("p"), None).await);
}

pub async fn in_progress_expires_at_the_deadline<H: Harness>(h: &H) {
    let store = h.idempotency(config()).await;
    let deadline = epoch() + chrono::Duration::seconds(30);
    started(store.begin(&key("k"), &payload("p"), Some(deadline)).await);
    h.advance(Duration::from_secs(29));
    assert!(matches!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::InProgress { .. }
    ));
    h.advance(Duration::from_secs(2));
    // The owner's deadline passed, so a retry takes over.
    started(store.begin(&key("k"), &payload("p"), None).await);
}

pub async fn killed_without_deadline_is_bounded_by_max_in_progress<H: Harness>(h: &H) {
    // A function killed at its timeout never releases its key and told us no deadline.
    let store = h.idempotency(config()).await;
    started(store.begin(&key("k"), &payload("p"), None).await);
    h.advance(Duration::from_secs(899));
    match store.begin(&key("k"), &payload("p"), None).await.unwrap() {
        BeginOutcome::InProgress { until } => {
            assert_eq!(until, epoch() + chrono::Duration::seconds(900));
        }
        other => panic!("expected InProgress, got {other:?}"),
    }
    h.advance(Duration::from_secs(2));
    started(store.begin(&key("k"), &payload("p"), None).await);
}

pub async fn deadline_is_capped_by_max_in_progress<H: Harness>(h: &H) {
    let store = h.idempotency(config()).await;
    let far = epoch() + chrono::Duration::hours(2);
    started(store.begin(&key("k"), &payload("p"), Some(far)).await);
    h.advance(Duration::from_secs(901));
    started(store.begin(&key("k"), &payload("p"), None).await);
}

pub async fn different_payload_for_same_key_is_refused<H: Harness>(h: &H) {
    let store = h.idempotency(config()).await;
    let owner = started(store.begin(&key("k"), &payload("a"), None).await);
    let err = store
        .begin(&key("k"), &payload("b"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::PayloadMismatch { .. }), "{err:?}");
    // Completing with another payload than the key was taken for is refused too.
    let err = store
        .complete(&key("k"), &owner, &payload("b"), &json!("other"))
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::PayloadMismatch { .. }), "{err:?}");
    store
        .complete(&key("k"), &owner, &payload("a"), &json!("done"))
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
        .filter(|o| matches!(o, Ok(BeginOutcome::Started { .. })))
        .count();
    assert_eq!(started, 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(
            o,
            Ok(BeginOutcome::Started { .. } | BeginOutcome::InProgress { .. })
        )),
        "{outcomes:?}"
    );
}

pub async fn a_late_complete_still_records_the_result<H: Harness>(h: &H) {
    // The owner finishes after its in-progress expiry and after the record itself expired,
    // and nobody took the key over: the work is done, so its result is recorded and returned
    // from then on.
    let store = h.idempotency(config()).await;
    let deadline = epoch() + chrono::Duration::seconds(30);
    let owner = started(store.begin(&key("k"), &payload("p"), Some(deadline)).await);
    h.advance(Duration::from_secs(2 * 3600));
    store
        .complete(&key("k"), &owner, &payload("p"), &json!({"late": true}))
        .await
        .unwrap();
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Completed(json!({"late": true}))
    );
    // Completing a key that has no record (never begun, or released) records the result too.
    store
        .complete(&key("fresh"), &owner, &payload("p"), &json!(2))
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
    let first = started(store.begin(&key("k"), &payload("p"), Some(deadline)).await);
    h.advance(Duration::from_secs(31));
    let second = started(store.begin(&key("k"), &payload("p"), None).await);
    store
        .complete(
            &key("k"),
            &second,
            &payload("p"),
            &json!({"invoice": "INV-9"}),
        )
        .await
        .unwrap();
    assert!(!store.release(&key("k"), &first).await.unwrap());
    // Even the completing owner cannot release a completed record.
    assert!(!store.release(&key("k"), &second).await.unwrap());
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Completed(json!({"invoice": "INV-9"}))
    );
}

pub async fn a_stale_owner_changes_nothing<H: Harness>(h: &H) {
    // A stalls past its deadline and B takes the key over. A's late complete and release must
    // neither record A's result nor free the key while B is still working; B finishes normally.
    let store = h.idempotency(config()).await;
    let deadline = epoch() + chrono::Duration::seconds(30);
    let a = started(store.begin(&key("k"), &payload("p"), Some(deadline)).await);
    h.advance(Duration::from_secs(31));
    let b_deadline = epoch() + chrono::Duration::seconds(120);
    let b = started(
        store
            .begin(&key("k"), &payload("p"), Some(b_deadline))
            .await,
    );
    assert_ne!(a, b);

    let err = store
        .complete(&key("k"), &a, &payload("p"), &json!({"by": "A"}))
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Conflict { .. }), "{err:?}");
    assert!(err.to_string().contains("taken over"), "{err}");
    assert!(!store.release(&key("k"), &a).await.unwrap());
    // B still holds the key, with B's in-progress expiry.
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::InProgress { until: b_deadline }
    );

    store
        .complete(&key("k"), &b, &payload("p"), &json!({"by": "B"}))
        .await
        .unwrap();
    // A, later still, cannot overwrite B's result either.
    let err = store
        .complete(&key("k"), &a, &payload("p"), &json!({"by": "A"}))
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Conflict { .. }), "{err:?}");
    assert_eq!(
        store.begin(&key("k"), &payload("p"), None).await.unwrap(),
        BeginOutcome::Completed(json!({"by": "B"}))
    );
}
