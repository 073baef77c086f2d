//! A work queue with SQS semantics.

use std::future::Future;
use std::time::Duration;

use crate::error::PortError;

/// The largest message body accepted, in bytes (256 KiB, the SQS limit that moto and every
/// region accept). Adapters refuse larger bodies with [`PortError::Invalid`] before sending any
/// message of the batch.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

/// The longest delay a message may have (SQS: 15 minutes).
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// The longest visibility timeout (SQS: 12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

/// Refuses what SQS would refuse — an empty or oversized body, a character SQS does not accept,
/// a delay over [`MAX_DELAY`] — so adapters can check a whole batch before sending any of it.
pub fn check_batch(messages: &[OutgoingMessage]) -> Result<(), PortError> {
    for (i, m) in messages.iter().enumerate() {
        let bad = |why: String| Err(PortError::invalid(format!("message {i}: {why}")));
        if m.body.is_empty() {
            return bad("the body is empty".into());
        }
        if m.body.len() > MAX_MESSAGE_BYTES {
            return bad(format!(
                "the body has {} bytes, over the {MAX_MESSAGE_BYTES}-byte limit",
                m.body.len()
            ));
        }
        if let Some(c) = m.body.chars().find(|c| !sqs_allows(*c)) {
            return bad(format!(
                "the body contains {c:?}, which SQS does not accept"
            ));
        }
        if m.delay > MAX_DELAY {
            return bad(format!(
                "a delay of {:?} is over the 15-minute limit",
                m.delay
            ));
        }
    }
    Ok(())
}

/// The most messages one send batch or one receive handles (SQS: 10).
pub const MAX_BATCH: u32 = 10;

/// Refuses a receive SQS would refuse: `max` outside `1..=`[`MAX_BATCH`], or a visibility
/// timeout over [`MAX_VISIBILITY`].
pub fn check_receive(max: u32, visibility: Duration) -> Result<(), PortError> {
    if !(1..=MAX_BATCH).contains(&max) {
        return Err(PortError::invalid(format!(
            "receive asks for {max} messages; it must be 1 to {MAX_BATCH}"
        )));
    }
    check_visibility(visibility)
}

/// Refuses a visibility timeout over [`MAX_VISIBILITY`].
pub fn check_visibility(visibility: Duration) -> Result<(), PortError> {
    if visibility > MAX_VISIBILITY {
        return Err(PortError::invalid(format!(
            "a visibility timeout of {visibility:?} is over the 12-hour limit"
        )));
    }
    Ok(())
}

/// SQS accepts #x9, #xA, #xD, #x20–#xD7FF, #xE000–#xFFFD and #x10000–#x10FFFF.
fn sqs_allows(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub body: String,
    /// Delay before the message becomes visible (at most 15 minutes, as in SQS).
    pub delay: Duration,
}

impl OutgoingMessage {
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
}

/// Proof of one receipt of a message, needed to delete it or change its visibility.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReceiptHandle(pub String);

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub body: String,
    pub receipt: ReceiptHandle,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
}

/// Approximate message counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepth {
    /// Waiting to be received.
    pub visible: u64,
    /// Received and not yet deleted or returned.
    pub in_flight: u64,
}

/// A queue with SQS semantics.
///
/// Guarantees:
/// - At-least-once: a message `send_batch` accepted is delivered until deleted; consumers must
///   tolerate duplicates and reordering.
/// - A received message is invisible for the visibility timeout, then delivered again with a
///   higher `receive_count`, unless deleted or its visibility changed.
/// - A queue configured with a dead-letter queue and `max_receives` moves a message there
///   instead of delivering it a `max_receives + 1`-th time.
pub trait Queue: Send + Sync {
    /// Sends messages (any number; adapters split into batches of 10). `Ok` means every message
    /// is durably queued; on `Err` some may have been queued, and resending is safe. A body
    /// over [`MAX_MESSAGE_BYTES`] fails the call before anything is sent.
    fn send_batch(
        &self,
        messages: &[OutgoingMessage],
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Receives up to `max` (1..=10) messages, hiding them for `visibility`. Waits up to `wait`
    /// for at least one (long polling; `Duration::ZERO` returns at once).
    fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<ReceivedMessage>, PortError>> + Send;

    /// Deletes a received message. Deleting twice with the same receipt is harmless, and so is
    /// deleting with a receipt that no longer holds its message (received again since, or moved
    /// to the dead-letter queue): the call succeeds, and whether a superseded receipt still
    /// deletes is up to the queue (SQS: it may not).
    fn delete(&self, receipt: &ReceiptHandle)
    -> impl Future<Output = Result<(), PortError>> + Send;

    /// Sets a received message's remaining invisibility to `visibility` from now (zero makes
    /// it visible at once). Long work calls this to keep its message. Fails with
    /// [`PortError::Conflict`] when the receipt no longer holds its message because it was
    /// deleted or moved to the dead-letter queue.
    fn change_visibility(
        &self,
        receipt: &ReceiptHandle,
        visibility: Duration,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Approximate counts, for status and alarms.
    fn depth(&self) -> impl Future<Output = Result<QueueDepth, PortError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_checked_whole() {
        let ok = OutgoingMessage::new("{\"a\":1}");
        assert!(check_batch(std::slice::from_ref(&ok)).is_ok());
        let cases = [
            OutgoingMessage::new(""),
            OutgoingMessage::new("x".repeat(MAX_MESSAGE_BYTES + 1)),
            OutgoingMessage::new("bell \u{7}"),
            OutgoingMessage::new("nul \u{0} inside"),
            OutgoingMessage::new("\u{FFFF}"),
            OutgoingMessage {
                body: "late".into(),
                delay: MAX_DELAY + Duration::from_secs(1),
            },
        ];
        for bad in cases {
            let err = check_batch(&[ok.clone(), bad]).unwrap_err();
            assert!(
                matches!(&err, PortError::Invalid { message } if message.starts_with("message 1:")),
                "{err:?}"
            );
        }
        assert!(check_batch(&[OutgoingMessage::new("y".repeat(MAX_MESSAGE_BYTES))]).is_ok());
        assert!(check_batch(&[OutgoingMessage::new("tab\tnewline\n crab 🦀 ü")]).is_ok());
        assert!(check_visibility(MAX_VISIBILITY).is_ok());
        assert!(check_receive(10, MAX_VISIBILITY).is_ok());
        assert!(check_receive(0, Duration::ZERO).is_err());
        assert!(check_receive(11, Duration::ZERO).is_err());
        assert!(check_visibility(MAX_VISIBILITY + Duration::from_secs(1)).is_err());
    }
}
