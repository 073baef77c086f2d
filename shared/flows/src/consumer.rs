//! The local consumer: what the SQS event source mapping does for a Lambda, done in-process
//! over any [`Queue`] (the embedded durable queue in `ledgerforce local`, the demo and tests).
//!
//! Each turn receives up to [`ConsumerOptions::max_messages`] messages (long polling), runs
//! them through [`run_batch`], deletes the acknowledged ones and hands the retried ones back
//! to the queue with a visibility timeout that grows with their receive count, so a failing
//! item backs off instead of spinning; after the queue's `max_receives` its dead-letter queue
//! takes it. A consumer that dies mid-batch (process killed, task dropped) has deleted
//! nothing it had not finished: its messages come back when their visibility runs out.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures::future::join_all;
use lf_domain::port::queue::MAX_VISIBILITY;
use lf_domain::port::{ParkedFailures, Queue, ReceivedMessage};
use lf_domain::{Deadline, ErrorClass, PortError, RetryDecision, RetryPolicy};

use crate::batch::{BatchContext, FlowHandler};
use crate::metrics::Metrics;
use crate::runner::{BatchCounts, BatchReport, run_batch};

/// How a [`Consumer`] receives and backs off.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Messages per receive, 1 to 10 (SQS's limit). Default 10.
    pub max_messages: u32,
    /// How long received messages stay hidden while the batch runs; also the batch's
    /// deadline, so remote retries stop before the messages would be handed out again.
    /// Default 60 s.
    pub visibility: Duration,
    /// Long-poll wait of each receive. Default 20 s (SQS's longest).
    pub wait: Duration,
    /// Backoff of retried messages by receive count: the visibility a retried message gets is
    /// the policy's delay for attempt = its receive count (full jitter; a throttled item waits
    /// at least what the other side asked). `max_attempts` is ignored: the queue's dead-letter
    /// queue decides when to stop. Default 2 s doubling up to 5 minutes.
    pub backoff: RetryPolicy,
    /// The pause after a failed receive before the next one. Default 1 s.
    pub receive_error_pause: Duration,
    /// Where the consumer counts what it did; share one [`Metrics`] between consumers to read
    /// every flow's counts in one place. Default: a registry of its own.
    pub metrics: Metrics,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        Self {
            max_messages: 10,
            visibility: Duration::from_secs(60),
            wait: Duration::from_secs(20),
            backoff: RetryPolicy {
                base: Duration::from_secs(2),
                cap: Duration::from_secs(300),
                max_attempts: u32::MAX,
            },
            receive_error_pause: Duration::from_secs(1),
            metrics: Metrics::new(),
        }
    }
}

/// Consumes one flow's queue with one handler; see the [module docs](self).
#[derive(Debug)]
pub struct Consumer<Q, H, P> {
    queue: Q,
    handler: H,
    parked: P,
    options: ConsumerOptions,
}

impl<Q: Queue, H: FlowHandler, P: ParkedFailures> Consumer<Q, H, P> {
    /// A consumer of `queue` running `handler`, parking into `parked`.
    pub fn new(queue: Q, handler: H, parked: P, options: ConsumerOptions) -> Self {
        Self {
            queue,
            handler,
            parked,
            options,
        }
    }

    /// The counters this consumer counts into (readable while it runs).
    pub fn metrics(&self) -> &Metrics {
        &self.options.metrics
    }

    /// The handler (for its own counters in tests and the demo).
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// One turn: receive (waiting up to `wait`), run the batch, settle each message. An empty
    /// receive gives an empty report. Fails only when the receive fails; a failed delete or
    /// visibility change is logged, and the message then simply comes back (items are
    /// idempotent).
    pub async fn run_once(&self) -> Result<BatchReport, PortError> {
        let messages = self.receive().await?;
        Ok(self.settle_batch(&messages).await)
    }

    /// Runs turns until `shutdown` completes. Shutdown is checked while waiting for messages;
    /// a batch already received is finished and settled first. A failed receive is logged and
    /// tried again after `receive_error_pause`.
    pub async fn run_until(&self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = pin!(shutdown);
        let flow = self.handler.flow();
        loop {
            let received = tokio::select! {
                biased;
                () = &mut shutdown => return,
                received = self.receive() => received,
            };
            match received {
                Ok(messages) => {
                    self.settle_batch(&messages).await;
                }
                Err(error) => {
                    tracing::error!(flow = %flow, %error, "receive failed; trying again");
                    tokio::select! {
                        biased;
                        () = &mut shutdown => return,
                        () = tokio::time::sleep(self.options.receive_error_pause) => {}
                    }
                }
            }
        }
    }

    async fn receive(&self) -> Result<Vec<ReceivedMessage>, PortError> {
        self.queue
            .receive(
                self.options.max_messages,
                self.options.visibility,
                self.options.wait,
            )
            .await
    }

    async fn settle_batch(&self, messages: &[ReceivedMessage]) -> BatchReport {
        let flow = self.handler.flow();
        if messages.is_empty() {
            return BatchReport {
                flow,
                acknowledge: Vec::new(),
                retry: Vec::new(),
                counts: BatchCounts::default(),
            };
        }
        let context = BatchContext {
            deadline: Some(Deadline::after(self.options.visibility)),
        };
        let report = run_batch(&self.handler, &self.parked, messages, &context).await;

        let receipt_of = |id: &str| messages.iter().find(|m| m.message_id == id);
        let deletes = report
            .acknowledge
            .iter()
            .filter_map(|id| receipt_of(id))
            .map(|m| async move {
                if let Err(error) = self.queue.delete(&m.receipt).await {
                    tracing::warn!(flow = %flow, message_id = %m.message_id, %error,
                    "delete failed; the message will be delivered again");
                }
            });
        let returns = report.retry.iter().filter_map(|r| receipt_of(&r.message_id).map(|m| (m, r.class))).map(
            |(m, class)| async move {
                let delay = self.backoff(class, m.receive_count);
                if let Err(error) = self.queue.change_visibility(&m.receipt, delay).await {
                    tracing::warn!(flow = %flow, message_id = %m.message_id, %error,
                        "could not set the retry delay; the message returns after its visibility timeout");
                }
            },
        );
        join_all(deletes).await;
        join_all(returns).await;
        self.options.metrics.record(&report);
        report
    }

    /// The visibility a retried message gets after its `receive_count`-th receive.
    fn backoff(&self, class: ErrorClass, receive_count: u32) -> Duration {
        let policy = RetryPolicy {
            max_attempts: u32::MAX,
            ..self.options.backoff
        };
        // Auth and permanent classes never reach here as retries from a well-behaved flow;
        // should one, it waits the base delay like a first transient failure.
        let class = if class.is_retryable() && class != ErrorClass::AuthExpired {
            class
        } else {
            ErrorClass::Transient
        };
        match policy.decide(class, receive_count.max(1), None, rand::random::<f64>()) {
            RetryDecision::RetryAfter(delay) => delay.min(MAX_VISIBILITY),
            RetryDecision::GiveUp => policy.base,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use chrono::{DateTime, Utc};
    use lf_domain::port::{OutgoingMessage, QueueDepth};
    use lf_domain::{
        ChangeEnvelope, CorrelationId, EventOrigin, Flow, ManualClock, RecordRef, System,
    };
    use lf_embedded::{Database, DeadLetter, SqliteParkedFailures, SqliteQueue};
    use tokio::sync::Notify;

    use super::*;
    use crate::batch::{Outcome, WorkItem};

    /// Decides by record id: `retry…` is retried on its first receive and done after, `bad…`
    /// is parked, anything else is done. Counts its calls and what it saw.
    #[derive(Debug, Default)]
    struct ScriptedHandler {
        calls: AtomicUsize,
        seen: Mutex<Vec<(String, u32)>>,
    }

    impl FlowHandler for ScriptedHandler {
        fn flow(&self) -> Flow {
            Flow::OpportunityWon
        }

        async fn handle_batch(&self, items: &[WorkItem], _: &BatchContext) -> Vec<Outcome> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            items
                .iter()
                .map(|item| {
                    let id = item.envelope.record.id.clone();
                    self.seen
                        .lock()
                        .unwrap()
                        .push((id.clone(), item.receive_count));
                    if id.starts_with("retry") && item.receive_count == 1 {
                        Outcome::retry(ErrorClass::Transient, "Intacct answered 503")
                    } else if id.starts_with("bad") {
                        Outcome::parked("unknown product code GADGET-9")
                    } else {
                        Outcome::done(format!("invoice for {id}"))
                    }
                })
                .collect()
        }
    }

    /// Signals that it started, then never finishes: a consumer stuck (or killed) mid-batch.
    #[derive(Debug, Default)]
    struct StuckHandler {
        started: Notify,
    }

    impl FlowHandler for StuckHandler {
        fn flow(&self) -> Flow {
            Flow::OpportunityWon
        }

        async fn handle_batch(&self, _: &[WorkItem], _: &BatchContext) -> Vec<Outcome> {
            self.started.notify_one();
            std::future::pending().await
        }
    }

    struct Setup {
        _dir: tempfile::TempDir,
        clock: Arc<ManualClock>,
        queue: SqliteQueue,
        dead_letter: SqliteQueue,
        parked: SqliteParkedFailures,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let start = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let clock = Arc::new(ManualClock::new(start));
        let db = Database::open(dir.path().join("lf.db"), clock.clone()).unwrap();
        let queue = db
            .queue_with_dead_letter(
                "opportunity-won",
                DeadLetter {
                    queue: "opportunity-won-dlq".into(),
                    max_receives: 3,
                },
            )
            .unwrap();
        let dead_letter = db.queue("opportunity-won-dlq").unwrap();
        Setup {
            clock,
            queue,
            dead_letter,
            parked: db.parked_failures(),
            _dir: dir,
        }
    }

    fn options() -> ConsumerOptions {
        ConsumerOptions {
            visibility: Duration::from_secs(30),
            wait: Duration::ZERO,
            backoff: RetryPolicy {
                base: Duration::from_secs(2),
                cap: Duration::from_secs(10),
                max_attempts: 1,
            },
            ..ConsumerOptions::default()
        }
    }

    fn record(id: &str) -> RecordRef {
        RecordRef {
            system: System::Salesforce,
            object: "Opportunity".into(),
            id: id.into(),
        }
    }

    fn envelope(id: &str) -> String {
        serde_json::to_string(&ChangeEnvelope {
            v: ChangeEnvelope::VERSION,
            flow: Flow::OpportunityWon,
            record: record(id),
            origin: EventOrigin::Poller,
            modified_at: None,
            correlation_id: CorrelationId::new_random(),
            received_at: DateTime::<Utc>::UNIX_EPOCH,
        })
        .unwrap()
    }

    async fn send(queue: &SqliteQueue, ids: &[&str]) {
        let messages: Vec<OutgoingMessage> = ids
            .iter()
            .map(|id| OutgoingMessage::new(envelope(id)))
            .collect();
        queue.send_batch(&messages).await.unwrap();
    }

    #[tokio::test]
    async fn a_retried_item_comes_back_later_and_succeeds() {
        let s = setup();
        send(&s.queue, &["006A", "retry-006B", "006C"]).await;
        let consumer = Consumer::new(
            s.queue.clone(),
            ScriptedHandler::default(),
            s.parked.clone(),
            options(),
        );

        let first = consumer.run_once().await.unwrap();
        assert_eq!(first.counts.done, 2);
        assert_eq!(first.retry.len(), 1);
        assert_eq!(
            consumer.handler().calls.load(Ordering::SeqCst),
            1,
            "one call per batch"
        );
        // Backing off: not visible again at once.
        assert!(consumer.run_once().await.unwrap().acknowledge.is_empty());
        assert_eq!(
            s.queue.depth().await.unwrap(),
            QueueDepth {
                visible: 0,
                in_flight: 1
            }
        );

        s.clock.advance(Duration::from_secs(11));
        let second = consumer.run_once().await.unwrap();
        assert_eq!(second.counts.done, 1);
        assert!(second.retry.is_empty());
        let seen = consumer.handler().seen.lock().unwrap().clone();
        assert_eq!(seen.last(), Some(&("retry-006B".to_owned(), 2)));
        assert_eq!(s.queue.depth().await.unwrap(), QueueDepth::default());

        let counts = consumer.metrics().flow(Flow::OpportunityWon);
        assert_eq!((counts.processed, counts.done, counts.retried), (4, 3, 1));
    }

    #[tokio::test]
    async fn a_parked_item_is_in_the_parked_port_and_gone_from_the_queue() {
        let s = setup();
        send(&s.queue, &["bad-006A", "006B"]).await;
        s.queue
            .send_batch(&[OutgoingMessage::new("{not json")])
            .await
            .unwrap();
        let consumer = Consumer::new(
            s.queue.clone(),
            ScriptedHandler::default(),
            s.parked.clone(),
            options(),
        );
        let report = consumer.run_once().await.unwrap();
        assert_eq!(report.counts.parked, 2);
        assert_eq!(report.counts.rejected, 1);
        assert_eq!(report.counts.done, 1);
        assert!(report.retry.is_empty());

        s.clock.advance(Duration::from_secs(3600));
        assert_eq!(s.queue.depth().await.unwrap(), QueueDepth::default());
        assert_eq!(s.dead_letter.depth().await.unwrap(), QueueDepth::default());
        let parked = s
            .parked
            .get(&record("bad-006A"), Flow::OpportunityWon)
            .await
            .unwrap()
            .expect("parked");
        assert_eq!(parked.reason, "unknown product code GADGET-9");
        assert_eq!(parked.attempts, 1);
        let replay: ChangeEnvelope = serde_json::from_value(parked.payload).unwrap();
        assert_eq!(replay.record, record("bad-006A"));
        let counts: BTreeMap<Flow, u64> = s.parked.count_by_flow().await.unwrap();
        assert_eq!(counts[&Flow::OpportunityWon], 2);
        assert_eq!(consumer.metrics().flow(Flow::OpportunityWon).parked, 2);
    }

    #[tokio::test]
    async fn a_consumer_dropped_mid_batch_loses_nothing() {
        let s = setup();
        send(&s.queue, &["006A", "006B"]).await;
        let stuck = Arc::new(Consumer::new(
            s.queue.clone(),
            StuckHandler::default(),
            s.parked.clone(),
            options(),
        ));
        let running = tokio::spawn({
            let stuck = stuck.clone();
            async move { stuck.run_once().await }
        });
        stuck.handler().started.notified().await;
        running.abort();
        assert!(running.await.unwrap_err().is_cancelled());
        drop(stuck);

        // Hidden while the dead consumer's visibility lasts, then delivered again.
        let fresh = Consumer::new(
            s.queue.clone(),
            ScriptedHandler::default(),
            s.parked.clone(),
            options(),
        );
        assert_eq!(fresh.run_once().await.unwrap().processed(), 0);
        s.clock.advance(Duration::from_secs(31));
        let report = fresh.run_once().await.unwrap();
        assert_eq!(report.counts.done, 2);
        let seen = fresh.handler().seen.lock().unwrap().clone();
        assert!(seen.iter().all(|(_, count)| *count == 2), "{seen:?}");
        assert_eq!(s.queue.depth().await.unwrap(), QueueDepth::default());
    }

    #[tokio::test]
    async fn an_item_retried_past_max_receives_goes_to_the_dead_letter_queue() {
        let s = setup();
        send(&s.queue, &["retry-forever"]).await;
        #[derive(Debug)]
        struct AlwaysRetry;
        impl FlowHandler for AlwaysRetry {
            fn flow(&self) -> Flow {
                Flow::OpportunityWon
            }
            async fn handle_batch(&self, items: &[WorkItem], _: &BatchContext) -> Vec<Outcome> {
                items
                    .iter()
                    .map(|_| Outcome::retry(ErrorClass::Transient, "still down"))
                    .collect()
            }
        }
        let consumer = Consumer::new(s.queue.clone(), AlwaysRetry, s.parked.clone(), options());
        for _ in 0..3 {
            assert_eq!(consumer.run_once().await.unwrap().retry.len(), 1);
            s.clock.advance(Duration::from_secs(11));
        }
        assert_eq!(consumer.run_once().await.unwrap().processed(), 0);
        assert_eq!(s.dead_letter.depth().await.unwrap().visible, 1);
    }

    #[tokio::test]
    async fn run_until_stops_on_shutdown_after_consuming() {
        let s = setup();
        send(&s.queue, &["006A"]).await;
        let consumer = Consumer::new(
            s.queue.clone(),
            ScriptedHandler::default(),
            s.parked.clone(),
            ConsumerOptions {
                wait: Duration::from_millis(50),
                ..options()
            },
        );
        let metrics = consumer.metrics().clone();
        let stop = Arc::new(Notify::new());
        let running = tokio::spawn({
            let stop = stop.clone();
            async move { consumer.run_until(stop.notified()).await }
        });
        // The counters are readable while the consumer runs.
        for _ in 0..2_000 {
            if metrics.flow(Flow::OpportunityWon).done > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(metrics.flow(Flow::OpportunityWon).done, 1);
        stop.notify_one();
        running.await.unwrap();
        assert_eq!(s.queue.depth().await.unwrap(), QueueDepth::default());
    }
}
