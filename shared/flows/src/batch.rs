//! The contract between a queue batch and a flow: the runner decodes each message into a
//! [`WorkItem`], hands the flow the whole batch at once, and gets back one [`Outcome`] per item.

use std::future::Future;

use lf_domain::{ChangeEnvelope, Deadline, ErrorClass, Flow};

/// One queued change, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkItem {
    /// The queue's id of the message (SQS `messageId`), what a partial-batch failure names.
    pub message_id: String,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
    pub envelope: ChangeEnvelope,
}

/// What became of one item.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Handled (created, updated, linked, or nothing to do): acknowledge the message.
    Done { detail: String },
    /// Our own write coming back (or a change already synced): nothing to do, acknowledged
    /// like `Done` and counted apart, so the loop prevention shows in the metrics.
    Echo { detail: String },
    /// Not handled now, worth another delivery (transient or throttled failure, work in
    /// progress elsewhere): report it for redrive.
    Retry { class: ErrorClass, reason: String },
    /// Retrying cannot help: acknowledge the message and park it with its reason, so a person
    /// can see and fix it and replay it later.
    Parked { reason: String },
}

impl Outcome {
    pub fn done(detail: impl Into<String>) -> Self {
        Outcome::Done {
            detail: detail.into(),
        }
    }

    pub fn echo(detail: impl Into<String>) -> Self {
        Outcome::Echo {
            detail: detail.into(),
        }
    }

    pub fn parked(reason: impl Into<String>) -> Self {
        Outcome::Parked {
            reason: reason.into(),
        }
    }

    pub fn retry(class: ErrorClass, reason: impl Into<String>) -> Self {
        Outcome::Retry {
            class,
            reason: reason.into(),
        }
    }

    /// A failure by its class: retried when another delivery may succeed, parked otherwise.
    pub fn failed(class: ErrorClass, reason: impl Into<String>) -> Self {
        if class.is_retryable() {
            Outcome::retry(class, reason)
        } else {
            Outcome::parked(reason)
        }
    }
}

/// What the runner knows about the batch as a whole.
#[derive(Debug, Clone, Default)]
pub struct BatchContext {
    /// When the caller will be stopped (a Lambda's deadline); remote retries end before it.
    pub deadline: Option<Deadline>,
    /// The queue's `maxReceiveCount`, when the batch came from a queue with a dead-letter
    /// queue: a message on its last delivery whose flow asks for a retry is parked instead,
    /// with its last error, because the queue would otherwise move it to the dead-letter queue
    /// on the next receive with no reason attached.
    pub max_receives: Option<u32>,
}

/// A flow that consumes a queue.
///
/// Guarantees a handler must give:
/// - `handle_batch` returns exactly one outcome per item, in the items' order.
/// - It handles the batch as a batch: one batched read per object, one multi-record write per
///   lane, never a call per item where a batched call exists.
/// - Items are hints: the handler re-reads the current source records, so duplicated and
///   out-of-order deliveries converge on the latest state, and replaying an item after it was
///   done creates nothing new.
pub trait FlowHandler: Send + Sync {
    /// The flow this handler is.
    fn flow(&self) -> Flow;

    /// Handles the batch.
    fn handle_batch(
        &self,
        items: &[WorkItem],
        context: &BatchContext,
    ) -> impl Future<Output = Vec<Outcome>> + Send;
}
