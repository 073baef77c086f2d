//! Replay: parked failures and dead-lettered messages go back onto their flow's queue once a
//! person fixed the cause (a missing product code added, a credit limit corrected), over the
//! ports only, so `ledgerforce replay` and the console do the same on the embedded store and on
//! DynamoDB/SQS.
//!
//! Nothing is lost on the way: a parked failure is removed only after its change is durably
//! queued again, and a dead-lettered message is deleted from the dead-letter queue only after
//! its copy is. A failed enqueue leaves the failure parked (or the message dead-lettered) and
//! says why. A replayed change is new work for its flow: parking does not record the change as
//! done in the idempotency store (see `items::finish`), so the re-run re-reads the record and
//! tries again.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lf_domain::port::{
    OutgoingMessage, ParkedFailure, ParkedFailures, Queue, ReceiptHandle, ReceivedMessage,
};
use lf_domain::{ChangeEnvelope, Flow, PortError, RecordRef};
use serde::Serialize;
use serde_json::Value;

/// One flow's queue and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct FlowQueue<Q> {
    pub flow: Flow,
    pub queue: Q,
    pub dead_letter: Q,
}

/// Which parked failures and dead letters to replay: those of one flow, of one record, both, or
/// (neither set) all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayFilter {
    pub flow: Option<Flow>,
    /// A record id (`006…`, `C-1001`) or a whole reference (`salesforce/Opportunity/006…`).
    pub record_id: Option<String>,
}

impl ReplayFilter {
    /// Everything.
    pub fn all() -> Self {
        Self::default()
    }

    fn takes_flow(&self, flow: Flow) -> bool {
        self.flow.is_none_or(|f| f == flow)
    }

    fn takes_record(&self, record: Option<&RecordRef>) -> bool {
        match (&self.record_id, record) {
            (None, _) => true,
            (Some(id), Some(r)) => record_matches(id, r),
            (Some(_), None) => false,
        }
    }
}

/// Whether `id` names `record`: its id, or its whole reference (`system/object/id`).
pub fn record_matches(id: &str, record: &RecordRef) -> bool {
    let id = id.trim();
    record.id == id || record.to_string() == id
}

/// Where a replayed item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplaySource {
    Parked,
    DeadLetter,
}

/// What happened to one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum ReplayResult {
    /// Queued again on its flow's queue (and removed from where it was).
    Requeued,
    /// Queued again, but removing it from where it was failed: it is listed still, and a
    /// second replay would queue it once more (harmless: flows are idempotent).
    RequeuedNotRemoved { error: String },
    /// Left where it was: the enqueue failed.
    Failed { error: String },
    /// Left where it was: it cannot be replayed (why).
    Skipped { why: String },
}

/// One parked failure or dead letter and what replay did with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Replayed {
    pub source: ReplaySource,
    pub flow: Flow,
    /// `None` for a dead letter whose body names no record.
    pub record: Option<RecordRef>,
    /// The error it last failed with, for a person: what to check before replaying again.
    pub last_error: String,
    /// Parked: how often it was parked; dead letter: how often the dead-letter queue handed it
    /// out (this replay included).
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub result: ReplayResult,
}

/// Everything one replay did, parked failures first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    pub items: Vec<Replayed>,
}

impl ReplayReport {
    /// How many went back onto their queue.
    pub fn requeued(&self) -> usize {
        self.items
            .iter()
            .filter(|i| {
                matches!(
                    i.result,
                    ReplayResult::Requeued | ReplayResult::RequeuedNotRemoved { .. }
                )
            })
            .count()
    }

    /// How many could not be queued again (failed or skipped).
    pub fn left(&self) -> usize {
        self.items.len() - self.requeued()
    }
}

/// How a replay queues its items.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The delay of each re-queued message. A parked failure is removed right after its message
    /// is queued; the delay keeps a running consumer from working (and perhaps parking again)
    /// the change before that removal, which would then remove the new failure. Default 1 s.
    pub delay: Duration,
    /// The most items one replay takes from each source (parked, each dead-letter queue).
    /// Default 10,000; run it again for more.
    pub limit: usize,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            delay: Duration::from_secs(1),
            limit: 10_000,
        }
    }
}

/// How long a dead letter stays hidden while one replay looks at it. Those not taken are made
/// visible again at the end.
const DEAD_LETTER_VISIBILITY: Duration = Duration::from_secs(120);

/// Parked failures read per call.
const PARKED_PAGE: usize = 500;

/// Replays what `filter` selects: parked failures from `parked`, then the dead letters of the
/// selected flows' dead-letter queues, each onto its flow's queue in `queues`. A flow without a
/// queue in `queues` keeps its parked failures (reported as skipped). Fails only when the
/// parked failures or a dead-letter queue cannot be read at all; per-item failures are in the
/// report.
pub async fn replay<P: ParkedFailures, Q: Queue>(
    parked: &P,
    queues: &[FlowQueue<Q>],
    filter: &ReplayFilter,
    options: &ReplayOptions,
) -> Result<ReplayReport, PortError> {
    let mut report = ReplayReport::default();
    replay_parked(parked, queues, filter, options, &mut report).await?;
    for q in queues.iter().filter(|q| filter.takes_flow(q.flow)) {
        replay_dead_letters(q, filter, options, &mut report).await?;
    }
    Ok(report)
}

async fn replay_parked<P: ParkedFailures, Q: Queue>(
    parked: &P,
    queues: &[FlowQueue<Q>],
    filter: &ReplayFilter,
    options: &ReplayOptions,
    report: &mut ReplayReport,
) -> Result<(), PortError> {
    // The port lists newest first without a cursor; a requeued failure leaves the list, so
    // listing again shows the next ones. Those left (failed, skipped) are remembered so a
    // second look at them ends the loop.
    let mut seen: BTreeSet<(String, Flow)> = BTreeSet::new();
    let mut taken = 0;
    loop {
        let page = parked.list(filter.flow, seen.len() + PARKED_PAGE).await?;
        let fresh: Vec<ParkedFailure> = page
            .into_iter()
            .filter(|f| seen.insert((f.record.to_string(), f.flow)))
            .filter(|f| filter.takes_record(Some(&f.record)))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        for failure in fresh {
            if taken >= options.limit {
                return Ok(());
            }
            taken += 1;
            let result = requeue_parked(parked, queues, &failure, options).await;
            report.items.push(Replayed {
                source: ReplaySource::Parked,
                flow: failure.flow,
                record: Some(failure.record),
                last_error: failure.reason,
                attempts: failure.attempts,
                last_seen: Some(failure.last_seen),
                result,
            });
        }
    }
}

async fn requeue_parked<P: ParkedFailures, Q: Queue>(
    parked: &P,
    queues: &[FlowQueue<Q>],
    failure: &ParkedFailure,
    options: &ReplayOptions,
) -> ReplayResult {
    let Some(q) = queues.iter().find(|q| q.flow == failure.flow) else {
        return ReplayResult::Skipped {
            why: format!("no queue of the {} flow is configured here", failure.flow),
        };
    };
    let body = match parked_body(failure) {
        Ok(body) => body,
        Err(why) => return ReplayResult::Skipped { why },
    };
    let message = OutgoingMessage {
        body,
        delay: options.delay,
    };
    if let Err(error) = q.queue.send_batch(std::slice::from_ref(&message)).await {
        return ReplayResult::Failed {
            error: format!("could not queue it on {}: {error}", failure.flow),
        };
    }
    // Queued durably; only now does the failure leave the parked list. If a consumer parked it
    // again meanwhile (its `last_seen` moved), that newer failure is the one to keep.
    match parked.get(&failure.record, failure.flow).await {
        Ok(Some(current)) if current.last_seen != failure.last_seen => ReplayResult::Requeued,
        Ok(None) => ReplayResult::Requeued,
        Ok(Some(_)) => match parked.remove(&failure.record, failure.flow).await {
            Ok(_) => ReplayResult::Requeued,
            Err(error) => ReplayResult::RequeuedNotRemoved {
                error: error.to_string(),
            },
        },
        Err(error) => ReplayResult::RequeuedNotRemoved {
            error: error.to_string(),
        },
    }
}

/// The message body that runs a parked failure again: its change envelope, or for a message
/// that was rejected as unreadable, the message as it came (it may read now, after an upgrade).
fn parked_body(failure: &ParkedFailure) -> Result<String, String> {
    let payload = &failure.payload;
    if payload.get("v").is_some() {
        let envelope: ChangeEnvelope = serde_json::from_value(payload.clone())
            .map_err(|e| format!("its stored change is not a change envelope: {e}"))?;
        if envelope.flow != failure.flow {
            return Err(format!(
                "its stored change is for the {} flow, not {}",
                envelope.flow, failure.flow
            ));
        }
        return serde_json::to_string(&envelope).map_err(|e| e.to_string());
    }
    if payload.get("body_truncated").and_then(Value::as_bool) == Some(true) {
        return Err("the message was too large to keep whole when it was rejected".into());
    }
    match payload.get("body").and_then(Value::as_str) {
        Some(body) if !body.is_empty() => Ok(body.to_owned()),
        _ => Err("no replayable message is stored with it".into()),
    }
}

async fn replay_dead_letters<Q: Queue>(
    q: &FlowQueue<Q>,
    filter: &ReplayFilter,
    options: &ReplayOptions,
    report: &mut ReplayReport,
) -> Result<(), PortError> {
    // Messages not taken (another record) stay hidden until the end so one pass sees each
    // message once, then are handed back at once.
    let mut held: Vec<ReceiptHandle> = Vec::new();
    let mut taken = 0;
    let outcome = async {
        while taken < options.limit {
            let batch = q
                .dead_letter
                .receive(10, DEAD_LETTER_VISIBILITY, Duration::ZERO)
                .await?;
            if batch.is_empty() {
                break;
            }
            for message in batch {
                let record = record_of(&message);
                if !filter.takes_record(record.as_ref()) || taken >= options.limit {
                    held.push(message.receipt);
                    continue;
                }
                taken += 1;
                let result = requeue_dead_letter(q, &message, options).await;
                if !matches!(
                    result,
                    ReplayResult::Requeued | ReplayResult::RequeuedNotRemoved { .. }
                ) {
                    held.push(message.receipt.clone());
                }
                report.items.push(Replayed {
                    source: ReplaySource::DeadLetter,
                    flow: q.flow,
                    record,
                    // A change still failing on its last delivery is parked with its error;
                    // what reaches the dead-letter queue got no answer on that delivery.
                    last_error: format!(
                        "moved to the {} dead-letter queue: its last delivery got no answer \
                         (the consumer crashed or timed out, or could not park it); that \
                         consumer's log has the error",
                        q.flow
                    ),
                    attempts: message.receive_count,
                    last_seen: None,
                    result,
                });
            }
        }
        Ok::<(), PortError>(())
    }
    .await;
    for receipt in &held {
        if let Err(error) = q
            .dead_letter
            .change_visibility(receipt, Duration::ZERO)
            .await
        {
            tracing::warn!(flow = %q.flow, %error,
                "a dead letter not replayed stays hidden until its visibility timeout ends");
        }
    }
    outcome
}

async fn requeue_dead_letter<Q: Queue>(
    q: &FlowQueue<Q>,
    message: &ReceivedMessage,
    options: &ReplayOptions,
) -> ReplayResult {
    let copy = OutgoingMessage {
        body: message.body.clone(),
        delay: options.delay,
    };
    if let Err(error) = q.queue.send_batch(std::slice::from_ref(&copy)).await {
        return ReplayResult::Failed {
            error: format!("could not queue it on {}: {error}", q.flow),
        };
    }
    match q.dead_letter.delete(&message.receipt).await {
        Ok(()) => ReplayResult::Requeued,
        Err(error) => ReplayResult::RequeuedNotRemoved {
            error: error.to_string(),
        },
    }
}

/// The record a queued message names, if its body is a change envelope (or close to one).
fn record_of(message: &ReceivedMessage) -> Option<RecordRef> {
    let value: Value = serde_json::from_str(&message.body).ok()?;
    serde_json::from_value(value.get("record")?.clone()).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;
    use lf_domain::port::{ParkRequest, QueueDepth};
    use lf_domain::{CorrelationId, EventOrigin, ManualClock, System};
    use lf_embedded::{Database, DeadLetter, SqliteParkedFailures, SqliteQueue};
    use serde_json::json;

    use super::*;

    struct Setup {
        _dir: tempfile::TempDir,
        clock: Arc<ManualClock>,
        queues: Vec<FlowQueue<SqliteQueue>>,
        parked: SqliteParkedFailures,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap(),
        ));
        let db = Database::open(dir.path().join("lf.db"), clock.clone()).unwrap();
        let queues = [Flow::OpportunityWon, Flow::AccountSync]
            .into_iter()
            .map(|flow| FlowQueue {
                flow,
                queue: db
                    .queue_with_dead_letter(
                        flow.as_str(),
                        DeadLetter {
                            queue: format!("{flow}-dlq"),
                            max_receives: 1,
                        },
                    )
                    .unwrap(),
                dead_letter: db.queue(&format!("{flow}-dlq")).unwrap(),
            })
            .collect();
        Setup {
            parked: db.parked_failures(),
            clock,
            queues,
            _dir: dir,
        }
    }

    fn record(id: &str) -> RecordRef {
        RecordRef {
            system: System::Salesforce,
            object: "Opportunity".into(),
            id: id.into(),
        }
    }

    fn envelope(flow: Flow, id: &str) -> ChangeEnvelope {
        ChangeEnvelope {
            v: ChangeEnvelope::VERSION,
            flow,
            record: record(id),
            origin: EventOrigin::Poller,
            modified_at: None,
            correlation_id: CorrelationId::new_random(),
            received_at: Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
        }
    }

    async fn park(s: &Setup, flow: Flow, id: &str, reason: &str) {
        s.parked
            .park(&ParkRequest {
                record: record(id),
                flow,
                reason: reason.into(),
                error_class: "parked".into(),
                payload: serde_json::to_value(envelope(flow, id)).unwrap(),
            })
            .await
            .unwrap();
    }

    /// Sends a change, and receives it twice without deleting it: the second receive moves it
    /// to the dead-letter queue (max_receives 1).
    async fn dead_letter(s: &Setup, q: usize, id: &str) {
        let queue = &s.queues[q].queue;
        let body = serde_json::to_string(&envelope(s.queues[q].flow, id)).unwrap();
        queue
            .send_batch(&[OutgoingMessage::new(body)])
            .await
            .unwrap();
        assert_eq!(
            queue
                .receive(10, Duration::from_secs(1), Duration::ZERO)
                .await
                .unwrap()
                .len(),
            1
        );
        s.clock.advance(Duration::from_secs(2));
        assert!(
            queue
                .receive(10, Duration::from_secs(1), Duration::ZERO)
                .await
                .unwrap()
                .is_empty()
        );
    }

    fn options() -> ReplayOptions {
        ReplayOptions {
            delay: Duration::ZERO,
            ..Default::default()
        }
    }

    async fn bodies(queue: &SqliteQueue) -> Vec<ChangeEnvelope> {
        queue
            .receive(10, Duration::from_secs(30), Duration::ZERO)
            .await
            .unwrap()
            .into_iter()
            .map(|m| serde_json::from_str(&m.body).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn parked_changes_go_back_to_their_flow_queue_with_their_last_error() {
        let s = setup();
        park(
            &s,
            Flow::OpportunityWon,
            "006A",
            "unknown product code GADGET-9",
        )
        .await;
        park(
            &s,
            Flow::AccountSync,
            "006B",
            "the credit limit must be positive",
        )
        .await;

        let report = replay(&s.parked, &s.queues, &ReplayFilter::all(), &options())
            .await
            .unwrap();
        assert_eq!((report.requeued(), report.left()), (2, 0), "{report:?}");
        let won = report
            .items
            .iter()
            .find(|i| i.flow == Flow::OpportunityWon)
            .unwrap();
        assert_eq!(won.last_error, "unknown product code GADGET-9");
        assert_eq!(won.source, ReplaySource::Parked);
        assert!(s.parked.list(None, 10).await.unwrap().is_empty());

        let queued = bodies(&s.queues[0].queue).await;
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].record, record("006A"));
        assert_eq!(bodies(&s.queues[1].queue).await[0].record, record("006B"));
    }

    #[tokio::test]
    async fn the_filters_take_one_flow_or_one_record() {
        let s = setup();
        park(&s, Flow::OpportunityWon, "006A", "a").await;
        park(&s, Flow::OpportunityWon, "006C", "c").await;
        park(&s, Flow::AccountSync, "006B", "b").await;

        let by_flow = ReplayFilter {
            flow: Some(Flow::AccountSync),
            record_id: None,
        };
        let report = replay(&s.parked, &s.queues, &by_flow, &options())
            .await
            .unwrap();
        assert_eq!(report.requeued(), 1);
        assert_eq!(report.items[0].record, Some(record("006B")));

        let by_id = ReplayFilter {
            flow: None,
            record_id: Some("salesforce/Opportunity/006C".into()),
        };
        let report = replay(&s.parked, &s.queues, &by_id, &options())
            .await
            .unwrap();
        assert_eq!(report.requeued(), 1);
        let left = s.parked.list(None, 10).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].record, record("006A"));
    }

    #[tokio::test]
    async fn a_failed_enqueue_keeps_the_failure_parked() {
        let s = setup();
        park(&s, Flow::OpportunityWon, "006A", "unknown product").await;
        // A stored change too large for a queue message cannot be queued.
        s.parked
            .park(&ParkRequest {
                record: record("006Z"),
                flow: Flow::OpportunityWon,
                reason: "rejected".into(),
                error_class: "rejected".into(),
                payload: json!({"message_id": "m1", "body": "\u{7}"}),
            })
            .await
            .unwrap();
        let report = replay(&s.parked, &s.queues, &ReplayFilter::all(), &options())
            .await
            .unwrap();
        assert_eq!(report.requeued(), 1, "{report:?}");
        let failed = report
            .items
            .iter()
            .find(|i| i.record == Some(record("006Z")))
            .unwrap();
        assert!(
            matches!(&failed.result, ReplayResult::Failed { error } if error.contains("SQS")),
            "{failed:?}"
        );
        let left = s.parked.list(None, 10).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].record, record("006Z"));
    }

    #[tokio::test]
    async fn dead_letters_move_back_and_others_stay_visible() {
        let s = setup();
        dead_letter(&s, 0, "006A").await;
        dead_letter(&s, 0, "006B").await;
        assert_eq!(s.queues[0].dead_letter.depth().await.unwrap().visible, 2);

        let one = ReplayFilter {
            flow: Some(Flow::OpportunityWon),
            record_id: Some("006B".into()),
        };
        let report = replay(&s.parked, &s.queues, &one, &options())
            .await
            .unwrap();
        assert_eq!(report.requeued(), 1, "{report:?}");
        assert_eq!(report.items[0].source, ReplaySource::DeadLetter);
        assert_eq!(
            s.queues[0].dead_letter.depth().await.unwrap(),
            QueueDepth {
                visible: 1,
                in_flight: 0
            },
            "the other dead letter is visible again at once"
        );
        let queued = bodies(&s.queues[0].queue).await;
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].record, record("006B"));

        let report = replay(&s.parked, &s.queues, &ReplayFilter::all(), &options())
            .await
            .unwrap();
        assert_eq!(report.requeued(), 1);
        assert_eq!(
            s.queues[0].dead_letter.depth().await.unwrap(),
            QueueDepth::default()
        );
    }
}
