//! The batch runner: one queue batch in, one decision per message out.
//!
//! [`run_batch`] is the one place where queue messages meet a flow, for every consumer: the
//! Lambda SQS handler (`lf-runtime`), the local consumer ([`crate::consumer`]), the demo and the
//! tests. It
//! - decodes each body as a [`ChangeEnvelope`]; a body that is not one (not JSON, an unknown
//!   envelope version, another flow's change) is parked with the reason and its raw body and
//!   acknowledged: it can never succeed, so redelivering it would only fill the dead-letter
//!   queue, and parking keeps it for a person to read and replay;
//! - calls the flow **once** with every decoded item, so the flow can read and write as a batch;
//! - parks what the flow parked (the envelope is the replay payload) and acknowledges it;
//! - reports what the flow wants retried, and anything whose parking failed, for redrive.
//!
//! Nothing is lost: a message is acknowledged only once it is done or durably parked.

use futures::future::join_all;
use lf_domain::port::{ParkRequest, ParkedFailures, ReceivedMessage};
use lf_domain::{ChangeEnvelope, Classify, ErrorClass, Flow, RecordRef, System};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::batch::{BatchContext, FlowHandler, Outcome, WorkItem};

/// The object named in the parked record of a message whose body names no readable record:
/// the record is then `salesforce/QueueMessage/<message id>`, so each such message is parked
/// on its own and can be found by its queue message id.
pub const UNREADABLE_MESSAGE_OBJECT: &str = "QueueMessage";

/// The longest raw body kept in the parked payload of an unreadable message. A change envelope
/// is well under 1 KB; anything near the queue's 256 KB limit is not one, and keeping all of it
/// would exceed what a parked failure holds (and then parking would fail and the message would
/// be redelivered until the dead-letter queue took it).
pub const MAX_REJECTED_BODY_BYTES: usize = 16 * 1024;

/// The error class recorded for a parked item.
const PARKED_CLASS: &str = "permanent";

/// One message to redeliver.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryRequest {
    /// The queue's id of the message (what SQS `batchItemFailures` names).
    pub message_id: String,
    /// Why: transient, or throttled with the delay the other side asked for.
    pub class: ErrorClass,
    /// For a person reading the log.
    pub reason: String,
}

/// How many messages of a batch ended each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchCounts {
    /// Done and acknowledged; includes `echoes`.
    pub done: usize,
    /// Of the done: echoes of our own writes, dropped.
    pub echoes: usize,
    /// Reported for redrive.
    pub retried: usize,
    /// Parked and acknowledged; includes `rejected`.
    pub parked: usize,
    /// Of the parked: messages that were not a change envelope for this flow.
    pub rejected: usize,
}

/// What became of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchReport {
    /// The flow that handled it.
    pub flow: Flow,
    /// Message ids to delete from the queue (done or parked), in the batch's order.
    pub acknowledge: Vec<String>,
    /// Messages to redeliver, in the batch's order.
    pub retry: Vec<RetryRequest>,
    pub counts: BatchCounts,
}

impl BatchReport {
    /// The ids of the messages to redeliver: SQS `batchItemFailures[].itemIdentifier`.
    pub fn retry_ids(&self) -> impl Iterator<Item = &str> {
        self.retry.iter().map(|r| r.message_id.as_str())
    }

    /// How many messages the batch had.
    pub fn processed(&self) -> usize {
        self.counts.done + self.counts.retried + self.counts.parked
    }
}

/// What the runner decided for one message, before parking.
enum Decision {
    Done {
        detail: String,
        echo: bool,
    },
    Retry {
        class: ErrorClass,
        reason: String,
    },
    Park {
        request: ParkRequest,
        rejected: bool,
    },
}

/// Runs one batch through `handler`; see the [module docs](self).
///
/// `messages` are as received (any number, typically up to 10). The handler is called once,
/// with every message that decodes, and not at all when none does. A handler that breaks its
/// contract by returning the wrong number of outcomes gets every item retried and an error
/// logged: which outcome belongs to which item is then unknown, and retrying is safe because
/// items are idempotent.
pub async fn run_batch(
    handler: &impl FlowHandler,
    parked: &impl ParkedFailures,
    messages: &[ReceivedMessage],
    context: &BatchContext,
) -> BatchReport {
    let flow = handler.flow();
    let span = tracing::info_span!("batch", flow = %flow, messages = messages.len());
    run(handler, parked, messages, context, flow)
        .instrument(span)
        .await
}

async fn run(
    handler: &impl FlowHandler,
    parked: &impl ParkedFailures,
    messages: &[ReceivedMessage],
    context: &BatchContext,
    flow: Flow,
) -> BatchReport {
    let mut decisions: Vec<Option<Decision>> = Vec::with_capacity(messages.len());
    let mut items = Vec::new();
    // For each decoded item, the index of its message.
    let mut positions = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        match decode(flow, message) {
            Ok(item) => {
                decisions.push(None);
                positions.push(i);
                items.push(item);
            }
            Err(request) => decisions.push(Some(Decision::Park {
                request: *request,
                rejected: true,
            })),
        }
    }

    if !items.is_empty() {
        let outcomes = handler.handle_batch(&items, context).await;
        if outcomes.len() == items.len() {
            for ((item, outcome), &at) in items.iter().zip(outcomes).zip(&positions) {
                decisions[at] = Some(decide(flow, item, outcome, context.max_receives));
            }
        } else {
            tracing::error!(
                items = items.len(),
                outcomes = outcomes.len(),
                "the flow returned {} outcomes for {} items; every item is retried",
                outcomes.len(),
                items.len()
            );
            let reason = format!(
                "the {flow} flow returned {} outcomes for a batch of {}",
                outcomes.len(),
                items.len()
            );
            for &at in &positions {
                decisions[at] = Some(Decision::Retry {
                    class: ErrorClass::Transient,
                    reason: reason.clone(),
                });
            }
        }
    }

    // Parks run concurrently: each is one conditional write, and they are independent.
    let parks = decisions.iter().map(|d| async move {
        match d {
            Some(Decision::Park { request, .. }) => Some(parked.park(request).await),
            _ => None,
        }
    });
    let parked_results = join_all(parks).await;

    let mut report = BatchReport {
        flow,
        acknowledge: Vec::new(),
        retry: Vec::new(),
        counts: BatchCounts::default(),
    };
    let mut item_of_message: Vec<Option<&WorkItem>> = vec![None; messages.len()];
    for (item, &at) in items.iter().zip(&positions) {
        item_of_message[at] = Some(item);
    }
    let rows = messages
        .iter()
        .zip(item_of_message)
        .zip(decisions)
        .zip(parked_results);
    for (((message, item), decision), park_result) in rows {
        let correlation = item.map(|i| i.envelope.correlation_id.to_string());
        let correlation = correlation.as_deref().unwrap_or("");
        let record = item.map(|i| i.envelope.record.to_string());
        let record = record.as_deref().unwrap_or("");
        let id = message.message_id.as_str();
        match (decision, park_result) {
            (Some(Decision::Done { detail, echo }), _) => {
                tracing::info!(message_id = id, correlation_id = correlation, record, %detail, "done");
                report.counts.done += 1;
                report.counts.echoes += usize::from(echo);
                report.acknowledge.push(message.message_id.clone());
            }
            (Some(Decision::Retry { class, reason }), _) => {
                tracing::info!(message_id = id, correlation_id = correlation, record, class = class.name(), %reason, "retry");
                report.counts.retried += 1;
                report.retry.push(RetryRequest {
                    message_id: message.message_id.clone(),
                    class,
                    reason,
                });
            }
            (Some(Decision::Park { request, rejected }), Some(Ok(stored))) => {
                tracing::warn!(
                    message_id = id,
                    correlation_id = correlation,
                    record = %request.record,
                    attempts = stored.attempts,
                    reason = %request.stored_reason(),
                    "parked"
                );
                report.counts.parked += 1;
                if rejected {
                    report.counts.rejected += 1;
                }
                report.acknowledge.push(message.message_id.clone());
            }
            (Some(Decision::Park { request, .. }), Some(Err(error))) => {
                // Not parked, so not acknowledged: the queue keeps it, and its dead-letter queue
                // takes it if parking keeps failing.
                tracing::error!(
                    message_id = id,
                    correlation_id = correlation,
                    record = %request.record,
                    %error,
                    "parking failed; the message is retried"
                );
                let class = match error.class() {
                    c if c.is_retryable() => c,
                    _ => ErrorClass::Transient,
                };
                report.counts.retried += 1;
                report.retry.push(RetryRequest {
                    message_id: message.message_id.clone(),
                    class,
                    reason: format!("parking failed: {error}"),
                });
            }
            (Some(Decision::Park { .. }), None) | (None, _) => {
                // Every message gets a decision above; this arm only keeps the match total.
                report.counts.retried += 1;
                report.retry.push(RetryRequest {
                    message_id: message.message_id.clone(),
                    class: ErrorClass::Transient,
                    reason: "no outcome was decided".into(),
                });
            }
        }
    }
    report
}

fn decide(flow: Flow, item: &WorkItem, outcome: Outcome, max_receives: Option<u32>) -> Decision {
    match outcome {
        Outcome::Done { detail } => Decision::Done {
            detail,
            echo: false,
        },
        Outcome::Echo { detail } => Decision::Done { detail, echo: true },
        // The last delivery the queue allows: parked with its error, where a person sees it and
        // `replay` shows it, rather than dead-lettered without one.
        Outcome::Retry { class, reason }
            if class.is_retryable() && max_receives.is_some_and(|m| item.receive_count >= m) =>
        {
            let mut request = park_request(
                flow,
                item,
                format!(
                    "still failing after {} deliveries: {reason}",
                    item.receive_count
                ),
            );
            request.error_class = class.name().to_owned();
            Decision::Park {
                request,
                rejected: false,
            }
        }
        Outcome::Retry { class, reason } if class.is_retryable() => {
            Decision::Retry { class, reason }
        }
        // A "retry" of a permanent failure would only be redelivered until the dead-letter
        // queue took it; park it instead, where a person sees it.
        Outcome::Retry { reason, .. } | Outcome::Parked { reason } => Decision::Park {
            request: park_request(flow, item, reason),
            rejected: false,
        },
    }
}

/// How a work item is parked: its record, the flow, the reason, and its change envelope as
/// the payload `replay` puts back on the flow's queue. Also for work run outside a queue
/// (the backfill).
pub fn park_request(flow: Flow, item: &WorkItem, reason: String) -> ParkRequest {
    ParkRequest {
        record: item.envelope.record.clone(),
        flow,
        reason,
        error_class: PARKED_CLASS.to_owned(),
        payload: serde_json::to_value(&item.envelope).unwrap_or(Value::Null),
    }
}

/// Decodes a message, or says why it cannot be one of this flow's changes (as the request that
/// parks it).
fn decode(flow: Flow, message: &ReceivedMessage) -> Result<WorkItem, Box<ParkRequest>> {
    let id = &message.message_id;
    let value: Value = match serde_json::from_str(&message.body) {
        Ok(v) => v,
        // The position only: serde's message can quote the body.
        Err(e) => {
            return Err(Box::new(rejection(
                flow,
                message,
                None,
                format!(
                    "message {id} on the {flow} queue is not JSON (syntax error at line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )));
        }
    };
    let record = value
        .get("record")
        .and_then(|r| serde_json::from_value::<RecordRef>(r.clone()).ok());
    let reject = |reason: String| Err(Box::new(rejection(flow, message, record.clone(), reason)));
    match value.get("v").and_then(Value::as_u64) {
        Some(v) if v == u64::from(ChangeEnvelope::VERSION) => {}
        Some(v) => {
            return reject(format!(
                "message {id} on the {flow} queue is a version {v} change envelope; this \
                 consumer reads version {}",
                ChangeEnvelope::VERSION
            ));
        }
        None => {
            return reject(format!(
                "message {id} on the {flow} queue is not a change envelope (no version `v`)"
            ));
        }
    }
    let envelope: ChangeEnvelope = match serde_json::from_value(value) {
        Ok(e) => e,
        Err(e) => {
            return reject(format!(
                "message {id} on the {flow} queue is not a valid change envelope: {e}"
            ));
        }
    };
    if envelope.flow != flow {
        return reject(format!(
            "message {id} is a change for the {} flow but arrived on the {flow} queue",
            envelope.flow
        ));
    }
    Ok(WorkItem {
        message_id: message.message_id.clone(),
        receive_count: message.receive_count,
        envelope,
    })
}

fn rejection(
    flow: Flow,
    message: &ReceivedMessage,
    record: Option<RecordRef>,
    reason: String,
) -> ParkRequest {
    let record = record.unwrap_or_else(|| RecordRef {
        system: System::Salesforce,
        object: UNREADABLE_MESSAGE_OBJECT.to_owned(),
        id: message.message_id.clone(),
    });
    let body = &message.body;
    let mut payload = json!({ "message_id": message.message_id });
    if body.len() > MAX_REJECTED_BODY_BYTES {
        let mut cut = MAX_REJECTED_BODY_BYTES;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        payload["body"] = Value::String(body[..cut].to_owned());
        payload["body_bytes"] = json!(body.len());
        payload["body_truncated"] = Value::Bool(true);
    } else {
        payload["body"] = Value::String(body.clone());
    }
    ParkRequest {
        record,
        flow,
        reason,
        error_class: "rejected".to_owned(),
        payload,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use chrono::{DateTime, Utc};
    use lf_domain::port::{ParkedFailure, ReceiptHandle};
    use lf_domain::{CorrelationId, EventOrigin, PortError, SystemClock};
    use lf_embedded::{Database, SqliteParkedFailures};

    use super::*;

    /// Answers per record id (`park…` parked, `retry…` retried, `fatal…` a permanent "retry",
    /// else done), or `extra` outcomes too many when set.
    #[derive(Debug, Default)]
    struct Scripted {
        calls: AtomicUsize,
        batch_sizes: std::sync::Mutex<Vec<usize>>,
        extra: usize,
    }

    impl FlowHandler for Scripted {
        fn flow(&self) -> Flow {
            Flow::OpportunityWon
        }

        async fn handle_batch(&self, items: &[WorkItem], _: &BatchContext) -> Vec<Outcome> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.batch_sizes.lock().unwrap().push(items.len());
            let mut outcomes: Vec<Outcome> = items
                .iter()
                .map(|i| {
                    let id = i.envelope.record.id.as_str();
                    if id.starts_with("park") {
                        Outcome::parked(format!(
                            "lines total 90.00 but the amount is 100.00 ({id})"
                        ))
                    } else if id.starts_with("retry") {
                        Outcome::retry(
                            ErrorClass::Throttled {
                                retry_after: Some(std::time::Duration::from_secs(5)),
                            },
                            "429",
                        )
                    } else if id.starts_with("fatal") {
                        Outcome::retry(ErrorClass::Permanent, "customer is inactive")
                    } else {
                        Outcome::done("created")
                    }
                })
                .collect();
            outcomes.extend((0..self.extra).map(|_| Outcome::done("surplus")));
            outcomes
        }
    }

    /// The embedded parked store, failing every park while `down` is set.
    #[derive(Debug)]
    struct Flaky {
        inner: SqliteParkedFailures,
        down: AtomicBool,
    }

    impl ParkedFailures for Flaky {
        async fn park(&self, request: &ParkRequest) -> Result<ParkedFailure, PortError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(PortError::unavailable(
                    "parked table",
                    std::io::Error::other("connection reset"),
                ));
            }
            self.inner.park(request).await
        }
        async fn get(&self, r: &RecordRef, f: Flow) -> Result<Option<ParkedFailure>, PortError> {
            self.inner.get(r, f).await
        }
        async fn list(&self, f: Option<Flow>, n: usize) -> Result<Vec<ParkedFailure>, PortError> {
            self.inner.list(f, n).await
        }
        async fn count_by_flow(&self) -> Result<BTreeMap<Flow, u64>, PortError> {
            self.inner.count_by_flow().await
        }
        async fn remove(&self, r: &RecordRef, f: Flow) -> Result<bool, PortError> {
            self.inner.remove(r, f).await
        }
    }

    fn parked_store(dir: &tempfile::TempDir) -> Flaky {
        let db = Database::open(dir.path().join("lf.db"), Arc::new(SystemClock)).unwrap();
        Flaky {
            inner: db.parked_failures(),
            down: AtomicBool::new(false),
        }
    }

    fn record(id: &str) -> RecordRef {
        RecordRef {
            system: System::Salesforce,
            object: "Opportunity".into(),
            id: id.into(),
        }
    }

    fn envelope_json(flow: Flow, id: &str) -> String {
        serde_json::to_string(&ChangeEnvelope {
            v: ChangeEnvelope::VERSION,
            flow,
            record: record(id),
            origin: EventOrigin::OutboundMessage {
                notification_id: "04l000000000001".into(),
            },
            modified_at: None,
            correlation_id: CorrelationId::new_random(),
            received_at: DateTime::<Utc>::UNIX_EPOCH,
        })
        .unwrap()
    }

    fn message(id: &str, body: String) -> ReceivedMessage {
        ReceivedMessage {
            message_id: id.into(),
            body,
            receipt: ReceiptHandle(format!("receipt-{id}")),
            receive_count: 1,
        }
    }

    fn ids(report: &BatchReport) -> (Vec<&str>, Vec<&str>) {
        (
            report.acknowledge.iter().map(String::as_str).collect(),
            report.retry_ids().collect(),
        )
    }

    #[tokio::test]
    async fn unreadable_messages_are_parked_with_their_body_and_the_rest_run_as_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        let parked = parked_store(&dir);
        let v2 = envelope_json(Flow::OpportunityWon, "006V").replace("\"v\":1", "\"v\":2");
        let messages = vec![
            message("m1", envelope_json(Flow::OpportunityWon, "006A")),
            message("m2", "{\"v\":1, oops".into()),
            message("m3", v2),
            message("m4", envelope_json(Flow::AccountSync, "006W")),
            message("m5", envelope_json(Flow::OpportunityWon, "park-006B")),
            message("m6", envelope_json(Flow::OpportunityWon, "retry-006C")),
            message("m7", envelope_json(Flow::OpportunityWon, "fatal-006D")),
        ];
        let handler = Scripted::default();
        let report = run_batch(&handler, &parked, &messages, &BatchContext::default()).await;

        assert_eq!(handler.calls.load(Ordering::SeqCst), 1);
        assert_eq!(*handler.batch_sizes.lock().unwrap(), vec![4]);
        assert_eq!(
            ids(&report),
            (vec!["m1", "m2", "m3", "m4", "m5", "m7"], vec!["m6"])
        );
        assert_eq!(
            report.counts,
            BatchCounts {
                done: 1,
                echoes: 0,
                retried: 1,
                parked: 5,
                rejected: 3
            }
        );
        assert_eq!(
            report.retry[0].class,
            ErrorClass::Throttled {
                retry_after: Some(std::time::Duration::from_secs(5))
            }
        );

        let not_json = record_of_message("m2");
        let stored = parked
            .get(&not_json, Flow::OpportunityWon)
            .await
            .unwrap()
            .unwrap();
        assert!(stored.reason.contains("is not JSON"), "{}", stored.reason);
        assert_eq!(stored.payload["body"], "{\"v\":1, oops");
        assert_eq!(stored.payload["message_id"], "m2");

        let v2 = parked
            .get(&record("006V"), Flow::OpportunityWon)
            .await
            .unwrap()
            .unwrap();
        assert!(v2.reason.contains("version 2"), "{}", v2.reason);
        let wrong_flow = parked
            .get(&record("006W"), Flow::OpportunityWon)
            .await
            .unwrap()
            .unwrap();
        assert!(
            wrong_flow.reason.contains("account-sync flow"),
            "{}",
            wrong_flow.reason
        );

        let by_flow = parked
            .get(&record("park-006B"), Flow::OpportunityWon)
            .await
            .unwrap()
            .unwrap();
        assert!(by_flow.reason.starts_with("lines total 90.00"));
        let replay: ChangeEnvelope = serde_json::from_value(by_flow.payload).unwrap();
        assert_eq!(replay.record, record("park-006B"));
        let fatal = parked
            .get(&record("fatal-006D"), Flow::OpportunityWon)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fatal.reason, "customer is inactive");
    }

    #[tokio::test]
    async fn a_retry_on_the_last_delivery_is_parked_with_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let parked = parked_store(&dir);
        let at = |id: &str, receive_count: u32| ReceivedMessage {
            receive_count,
            ..message(id, envelope_json(Flow::OpportunityWon, id))
        };
        let messages = vec![at("retry-006A", 4), at("retry-006B", 5), at("006C", 5)];
        let context = BatchContext {
            max_receives: Some(5),
            ..BatchContext::default()
        };
        let report = run_batch(&Scripted::default(), &parked, &messages, &context).await;
        // The fourth delivery may still succeed; the fifth is the queue's last.
        assert_eq!(
            ids(&report),
            (vec!["retry-006B", "006C"], vec!["retry-006A"])
        );
        assert_eq!((report.counts.parked, report.counts.retried), (1, 1));
        let stored = parked
            .get(&record("retry-006B"), Flow::OpportunityWon)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.reason, "still failing after 5 deliveries: 429");
        assert_eq!(stored.error_class, "throttled");
        let replay: ChangeEnvelope = serde_json::from_value(stored.payload).unwrap();
        assert_eq!(replay.record, record("retry-006B"));
        assert!(
            parked
                .get(&record("retry-006A"), Flow::OpportunityWon)
                .await
                .unwrap()
                .is_none()
        );

        // Without a known limit the queue decides: retried whatever the count.
        let report = run_batch(
            &Scripted::default(),
            &parked,
            &[at("retry-006D", 50)],
            &BatchContext::default(),
        )
        .await;
        assert_eq!(ids(&report), (vec![], vec!["retry-006D"]));
    }

    fn record_of_message(id: &str) -> RecordRef {
        RecordRef {
            system: System::Salesforce,
            object: UNREADABLE_MESSAGE_OBJECT.into(),
            id: id.into(),
        }
    }

    #[tokio::test]
    async fn a_handler_with_the_wrong_number_of_outcomes_gets_every_item_retried() {
        let dir = tempfile::tempdir().unwrap();
        let parked = parked_store(&dir);
        let messages = vec![
            message("m1", envelope_json(Flow::OpportunityWon, "006A")),
            message("m2", envelope_json(Flow::OpportunityWon, "park-006B")),
            message("m3", "[]".into()),
        ];
        let handler = Scripted {
            extra: 1,
            ..Scripted::default()
        };
        let report = run_batch(&handler, &parked, &messages, &BatchContext::default()).await;
        // The unreadable message never reached the handler, so its parking stands.
        assert_eq!(ids(&report), (vec!["m3"], vec!["m1", "m2"]));
        assert!(
            report.retry[0]
                .reason
                .contains("3 outcomes for a batch of 2")
        );
        assert!(
            parked
                .get(&record("park-006B"), Flow::OpportunityWon)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn an_item_whose_parking_fails_is_retried_not_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let parked = parked_store(&dir);
        parked.down.store(true, Ordering::SeqCst);
        let messages = vec![
            message("m1", envelope_json(Flow::OpportunityWon, "park-006B")),
            message("m2", "not json".into()),
            message("m3", envelope_json(Flow::OpportunityWon, "006A")),
        ];
        let handler = Scripted::default();
        let report = run_batch(&handler, &parked, &messages, &BatchContext::default()).await;
        assert_eq!(ids(&report), (vec!["m3"], vec!["m1", "m2"]));
        assert_eq!(report.retry[0].class, ErrorClass::Transient);
        assert!(report.retry[0].reason.starts_with("parking failed"));

        parked.down.store(false, Ordering::SeqCst);
        let again = run_batch(&handler, &parked, &messages[..1], &BatchContext::default()).await;
        assert_eq!(ids(&again), (vec!["m1"], vec![]));
    }

    #[tokio::test]
    async fn a_huge_unreadable_body_is_parked_cut() {
        let dir = tempfile::tempdir().unwrap();
        let parked = parked_store(&dir);
        let body = format!("é{}", "x".repeat(200_000));
        let report = run_batch(
            &Scripted::default(),
            &parked,
            &[message("m1", body.clone())],
            &BatchContext::default(),
        )
        .await;
        assert_eq!(ids(&report), (vec!["m1"], vec![]));
        let stored = parked
            .get(&record_of_message("m1"), Flow::OpportunityWon)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.payload["body_truncated"], true);
        assert_eq!(stored.payload["body_bytes"], body.len());
        let kept = stored.payload["body"].as_str().unwrap();
        assert!(body.starts_with(kept) && kept.len() <= MAX_REJECTED_BODY_BYTES);
    }
}
