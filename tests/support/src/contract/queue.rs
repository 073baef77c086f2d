//! [`Queue`] contract. Visibility and delays are whole seconds, as SQS counts them.

use std::collections::BTreeSet;
use std::time::Duration;

use lf_domain::PortError;
use lf_domain::port::queue::MAX_MESSAGE_BYTES;
use lf_domain::port::{OutgoingMessage, Queue, QueueDepth, ReceivedMessage};

use crate::Harness;

const VIS: Duration = Duration::from_secs(1);
const LONG: Duration = Duration::from_secs(30);

/// Receives until `want` messages arrived or a few rounds found nothing more.
async fn receive_n<Q: Queue>(q: &Q, want: usize, visibility: Duration) -> Vec<ReceivedMessage> {
    let mut got = Vec::new();
    let mut idle_rounds = 0;
    while got.len() < want && idle_rounds < 20 {
        let batch = q.receive(10, visibility, Duration::ZERO).await.unwrap();
        if batch.is_empty() {
            idle_rounds += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        got.extend(batch);
    }
    got
}

async fn nothing_visible<Q: Queue>(q: &Q) {
    let got = q.receive(10, VIS, Duration::ZERO).await.unwrap();
    assert!(got.is_empty(), "expected no visible message, got {got:?}");
}

pub async fn sent_messages_are_received_and_deleted<H: Harness>(h: &H) {
    let q = h.queue().await;
    let bodies = [
        "{\"n\":1}",
        "{\"n\":2}",
        "ünïcode ✓ <xml attr=\"1\"/> & more",
    ];
    q.send_batch(&bodies.map(OutgoingMessage::new))
        .await
        .unwrap();
    assert_eq!(
        q.depth().await.unwrap(),
        QueueDepth {
            visible: 3,
            in_flight: 0
        }
    );

    let got = receive_n(&q, 3, LONG).await;
    assert_eq!(got.len(), 3, "{got:?}");
    let received: BTreeSet<&str> = got.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(received, bodies.iter().copied().collect());
    assert!(got.iter().all(|m| m.receive_count == 1));
    assert_eq!(
        q.depth().await.unwrap(),
        QueueDepth {
            visible: 0,
            in_flight: 3
        }
    );

    for m in &got {
        q.delete(&m.receipt).await.unwrap();
    }
    // Deleting twice with the same receipt is harmless.
    q.delete(&got[0].receipt).await.unwrap();
    assert_eq!(q.depth().await.unwrap(), QueueDepth::default());
    nothing_visible(&q).await;
}

pub async fn large_batches_are_split_and_all_delivered<H: Harness>(h: &H) {
    let q = h.queue().await;
    let msgs: Vec<OutgoingMessage> = (0..25)
        .map(|i| OutgoingMessage::new(format!("m{i}")))
        .collect();
    q.send_batch(&msgs).await.unwrap();
    let got = receive_n(&q, 25, LONG).await;
    let bodies: BTreeSet<String> = got.iter().map(|m| m.body.clone()).collect();
    assert_eq!(bodies, (0..25).map(|i| format!("m{i}")).collect());
    assert_eq!(
        got.len(),
        25,
        "each message exactly once within its visibility timeout"
    );
}

pub async fn oversized_message_is_refused<H: Harness>(h: &H) {
    let q = h.queue().await;
    let big = "x".repeat(MAX_MESSAGE_BYTES + 1);
    let err = q
        .send_batch(&[OutgoingMessage::new("small"), OutgoingMessage::new(big)])
        .await
        .unwrap_err();
    assert!(matches!(err, PortError::Invalid { .. }), "{err:?}");
    assert_eq!(
        q.depth().await.unwrap(),
        QueueDepth::default(),
        "nothing is half-sent"
    );
    // Exactly at the limit is fine.
    q.send_batch(&[OutgoingMessage::new("y".repeat(MAX_MESSAGE_BYTES))])
        .await
        .unwrap();
    assert_eq!(
        receive_n(&q, 1, LONG).await[0].body.len(),
        MAX_MESSAGE_BYTES
    );
}

pub async fn unacknowledged_message_is_redelivered_after_visibility_timeout<H: Harness>(h: &H) {
    let q = h.queue().await;
    q.send_batch(&[OutgoingMessage::new("work")]).await.unwrap();
    let first = receive_n(&q, 1, VIS).await;
    assert_eq!(first.len(), 1);
    nothing_visible(&q).await;

    h.let_queue_time_pass(Duration::from_millis(1500)).await;
    let again = receive_n(&q, 1, LONG).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id, first[0].message_id);
    assert_eq!(again[0].body, "work");
    assert_eq!(again[0].receive_count, 2);
    q.delete(&again[0].receipt).await.unwrap();
    assert_eq!(q.depth().await.unwrap(), QueueDepth::default());
}

pub async fn visibility_can_be_extended_and_cleared<H: Harness>(h: &H) {
    let q = h.queue().await;
    q.send_batch(&[OutgoingMessage::new("long job")])
        .await
        .unwrap();
    let m = receive_n(&q, 1, VIS).await.remove(0);
    q.change_visibility(&m.receipt, Duration::from_secs(60))
        .await
        .unwrap();
    h.let_queue_time_pass(Duration::from_millis(1500)).await;
    nothing_visible(&q).await;
    // Handing it back makes it visible at once.
    q.change_visibility(&m.receipt, Duration::ZERO)
        .await
        .unwrap();
    let back = receive_n(&q, 1, LONG).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].message_id, m.message_id);
    assert_eq!(back[0].receive_count, 2);
}

pub async fn message_moves_to_dead_letter_queue_after_max_receives<H: Harness>(h: &H) {
    let (q, dlq) = h.queue_with_dlq(2).await;
    q.send_batch(&[OutgoingMessage::new("poison")])
        .await
        .unwrap();
    for round in 1..=2u32 {
        let got = receive_n(&q, 1, VIS).await;
        assert_eq!(got.len(), 1, "round {round}");
        assert_eq!(got[0].receive_count, round);
        h.let_queue_time_pass(Duration::from_millis(1500)).await;
    }
    // A third receive would exceed max_receives: the message goes to the DLQ instead.
    nothing_visible(&q).await;
    let dead = receive_n(&dlq, 1, LONG).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "poison");
    assert_eq!(q.depth().await.unwrap(), QueueDepth::default());
}

pub async fn delayed_message_is_hidden_until_its_delay_passes<H: Harness>(h: &H) {
    let q = h.queue().await;
    let mut m = OutgoingMessage::new("later");
    m.delay = Duration::from_secs(1);
    q.send_batch(&[m, OutgoingMessage::new("now")])
        .await
        .unwrap();
    let first = receive_n(&q, 1, LONG).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].body, "now");
    nothing_visible(&q).await;
    h.let_queue_time_pass(Duration::from_millis(1500)).await;
    let later = receive_n(&q, 1, LONG).await;
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].body, "later");
}

pub async fn a_receipt_that_no_longer_holds_its_message_deletes_harmlessly<H: Harness>(h: &H) {
    // Superseded: the message was received again after its visibility ran out. The late
    // delete succeeds; whether it still deletes is the queue's business (SQS: it may).
    let q = h.queue().await;
    q.send_batch(&[OutgoingMessage::new("slow")]).await.unwrap();
    let first = receive_n(&q, 1, VIS).await.remove(0);
    h.let_queue_time_pass(Duration::from_millis(1500)).await;
    let second = receive_n(&q, 1, LONG).await.remove(0);
    assert_eq!(second.message_id, first.message_id);
    q.delete(&first.receipt).await.unwrap();
    q.delete(&second.receipt).await.unwrap();
    assert_eq!(q.depth().await.unwrap(), QueueDepth::default());
    let err = q
        .change_visibility(&second.receipt, LONG)
        .await
        .unwrap_err();
    assert!(
        matches!(err, PortError::Conflict { .. }),
        "deleted: {err:?}"
    );

    // Moved to the dead-letter queue: the old receipt deletes nothing there and cannot extend.
    let (q, dlq) = h.queue_with_dlq(1).await;
    q.send_batch(&[OutgoingMessage::new("poison")])
        .await
        .unwrap();
    let held = receive_n(&q, 1, VIS).await.remove(0);
    h.let_queue_time_pass(Duration::from_millis(1500)).await;
    nothing_visible(&q).await;
    q.delete(&held.receipt).await.unwrap();
    let err = q.change_visibility(&held.receipt, LONG).await.unwrap_err();
    assert!(matches!(err, PortError::Conflict { .. }), "moved: {err:?}");
    let dead = receive_n(&dlq, 1, LONG).await;
    assert_eq!(dead.len(), 1, "the dead letter is still there");
    assert_eq!(dead[0].body, "poison");
}
