//! The local consumer: what the SQS event source mapping does for a Lambda, done in-process
//! over any [`Queue`] (the embedded durable queue in `ledgerforce local`, the demo and tests).
//!
//! Each turn receives a batch as the event source mapping assembles one: a first receive (long
//! polling), then, within [`ConsumerOptions::batching_window`], further receives of up to 10
//! messages (SQS's limit per receive) until [`ConsumerOptions::batch_size`] are in hand. It runs
//! them through [`run_batch`], deletes the acknowledged ones and hands the retried ones back
//! to the queue with a visibility timeout that grows with their receive count, so a failing
//! item backs off instead of spinning; after the queue's `max_receives` its dead-letter queue
//! takes it. A consumer that dies mid-batch (process killed, task dropped) has deleted
//! nothing it had not finished: its messages come back when their visibility runs out.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures::future::join_all;
use lf_domain::port::queue::{MAX_BATCH, MAX_VISIBILITY};
use lf_domain::port::{ParkedFailures, Queue, ReceivedMessage};
use lf_domain::{Deadline, ErrorClass, PortError, RetryDecision, RetryPolicy};
use tokio::time::Instant;

use crate::batch::{BatchContext, FlowHandler};
use crate::metrics::Metrics;
use crate::runner::{BatchCounts, BatchReport, run_batch};

/// The batch the flow functions' SQS event source mappings assemble (template.yaml's
/// `BatchSize`; the template test holds them equal), and `ledgerforce local` with them. A batch
/// costs the same few calls whatever its size (one read per object, one write per lane), so
/// calls per record fall as batches grow; 50 keeps every call of a batch within the platforms'
/// limits (the write-back of 50 deals and their Accounts is 100 of sObject Collections' 200,
/// Intacct reads take 100 keys) and its run within seconds.
pub const DEPLOYED_BATCH_SIZE: u32 = 50;

/// How long the mappings gather a batch (`MaximumBatchingWindowInSeconds`, which SQS requires
/// to be at least 1 s above 10 messages): under load batches fill at once; a lone event waits
/// at most this long before its batch runs.
pub const DEPLOYED_BATCHING_WINDOW: Duration = Duration::from_secs(1);

/// How a [`Consumer`] receives and backs off.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Messages per batch, as the event source mapping's `BatchSize` (received 10 at a time,
    /// SQS's limit per receive). Default 10.
    pub batch_size: u32,
    /// How long after the first message of a batch further ones are gathered while fewer than
    /// `batch_size` are in hand, as the mapping's `MaximumBatchingWindowInSeconds`. Zero (the
    /// default) runs whatever the first receive brought.
    pub batching_window: Duration,
    /// How long received messages stay hidden while the batch runs; also the batch's
    /// deadline, so remote retries stop before the messages would be handed out again.
    /// Default 60 s.
    pub visibility: Duration,
    /// Long-poll wait of each receive. Default 20 s (SQS's longest).
    pub wait: Duration,
    /// The queue's receives before its dead-letter queue takes a message: a change still
    /// failing on its last delivery is parked with its error instead (see
    /// [`BatchContext::max_receives`]). Default `None`: retried until the queue moves it.
    pub max_receives: Option<u32>,
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
            batch_size: 10,
            batching_window: Duration::ZERO,
            max_receives: None,
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
        let mut messages = self.receive().await?;
        let started = Instant::now();
        self.fill(&mut messages).await;
        Ok(self.settle_batch(&messages, started).await)
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
                Ok(mut messages) => {
                    let started = Instant::now();
                    // Shutdown ends the gathering, not the batch: what is in hand is run.
                    let stopping = tokio::select! {
                        biased;
                        () = &mut shutdown => true,
                        () = self.fill(&mut messages) => false,
                    };
                    self.settle_batch(&messages, started).await;
                    if stopping {
                        return;
                    }
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

    /// The first receive of a batch: up to `batch_size` (at most 10), waiting up to `wait`.
    async fn receive(&self) -> Result<Vec<ReceivedMessage>, PortError> {
        self.queue
            .receive(
                self.options.batch_size.clamp(1, MAX_BATCH),
                self.options.visibility,
                self.options.wait,
            )
            .await
    }

    /// Gathers more into a batch that has begun, while it is short of `batch_size` and the
    /// batching window since now lasts. A failed receive ends the gathering (the batch runs
    /// with what it has; the next turn's receive reports the failure if it persists).
    async fn fill(&self, messages: &mut Vec<ReceivedMessage>) {
        let size = self.options.batch_size.max(1) as usize;
        let window = self.options.batching_window;
        if messages.is_empty() || window.is_zero() {
            return;
        }
        let until = Instant::now() + window;
        while messages.len() < size {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let want = (size - messages.len()).min(MAX_BATCH as usize) as u32;
            match self
                .queue
                .receive(want, self.options.visibility, left)
                .await
            {
                Ok(more) => messages.extend(more),
                Err(error) => {
                    tracing::warn!(flow = %self.handler.flow(), %error,
                        "receive failed while gathering a batch; running the batch in hand");
                    return;
                }
            }
        }
    }

    /// Runs `messages` (the first of them received at `started`) and settles each.
    async fn settle_batch(&self, messages: &[ReceivedMessage], started: Instant) -> BatchReport {
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
            // The first messages' visibility ran while the batch was gathered.
            deadline: Some(Deadline::after(
                self.options.visibility.saturating_sub(started.elapsed()),
            )),
            max_receives: self.options.max_receives,
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
    async fn an_item_still_failing_on_its_last_receive_is_parked_not_dead_lettered() {
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
                    .map(|_| Outcome::retry(ErrorClass::Transient, "Intacct answered 503"))
                    .collect()
            }
        }
        let consumer = Consumer::new(
            s.queue.clone(),
            AlwaysRetry,
            s.parked.clone(),
            ConsumerOptions {
                max_receives: Some(3),
                ..options()
            },
        );
        for _ in 0..2 {
            assert_eq!(consumer.run_once().await.unwrap().retry.len(), 1);
            s.clock.advance(Duration::from_secs(11));
        }
        assert_eq!(consumer.run_once().await.unwrap().counts.parked, 1);
        let stored = s
            .parked
            .get(&record("retry-forever"), Flow::OpportunityWon)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.reason,
            "still failing after 3 deliveries: Intacct answered 503"
        );
        assert_eq!(s.queue.depth().await.unwrap(), QueueDepth::default());
        assert_eq!(s.dead_letter.depth().await.unwrap(), QueueDepth::default());
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

    async fn send_each(queue: &SqliteQueue, ids: &[String]) {
        for chunk in ids.chunks(10) {
            let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
            send(queue, &chunk).await;
        }
    }

    fn ids(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i:03}")).collect()
    }

    #[tokio::test]
    async fn a_batch_is_gathered_ten_at_a_time_up_to_its_size() {
        let s = setup();
        send_each(&s.queue, &ids("006", 57)).await;
        let consumer = Consumer::new(
            s.queue.clone(),
            ScriptedHandler::default(),
            s.parked.clone(),
            ConsumerOptions {
                batch_size: 50,
                batching_window: Duration::from_secs(30),
                ..options()
            },
        );
        // Full at 50 long before the window ends; the rest is the next batch.
        assert_eq!(consumer.run_once().await.unwrap().counts.done, 50);
        assert_eq!(consumer.handler().calls.load(Ordering::SeqCst), 1);
        assert_eq!(s.queue.depth().await.unwrap().visible, 7);

        // Without a window a batch is what one receive brings (10 at most).
        let single = Consumer::new(
            s.queue.clone(),
            ScriptedHandler::default(),
            s.parked.clone(),
            ConsumerOptions {
                batch_size: 50,
                ..options()
            },
        );
        send_each(&s.queue, &ids("007", 10)).await;
        assert_eq!(single.run_once().await.unwrap().counts.done, 10);
        assert_eq!(s.queue.depth().await.unwrap().visible, 7);
    }

    #[tokio::test]
    async fn messages_arriving_within_the_window_join_the_batch() {
        let s = setup();
        send(&s.queue, &["006A", "006B"]).await;
        let consumer = Consumer::new(
            s.queue.clone(),
            ScriptedHandler::default(),
            s.parked.clone(),
            ConsumerOptions {
                batch_size: 5,
                batching_window: Duration::from_secs(60),
                ..options()
            },
        );
        let late = tokio::spawn({
            let queue = s.queue.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                send(&queue, &["006C", "006D", "006E", "006F"]).await;
            }
        });
        let report = consumer.run_once().await.unwrap();
        late.await.unwrap();
        assert_eq!(report.counts.done, 5);
        assert_eq!(consumer.handler().calls.load(Ordering::SeqCst), 1);
        assert_eq!(s.queue.depth().await.unwrap().visible, 1);
    }

    #[tokio::test]
    async fn shutdown_while_gathering_runs_the_batch_in_hand() {
        let s = setup();
        send(&s.queue, &["006A", "006B"]).await;
        let consumer = Consumer::new(
            s.queue.clone(),
            ScriptedHandler::default(),
            s.parked.clone(),
            ConsumerOptions {
                batch_size: 50,
                batching_window: Duration::from_secs(600),
                ..options()
            },
        );
        let metrics = consumer.metrics().clone();
        let stop = Arc::new(Notify::new());
        let running = tokio::spawn({
            let stop = stop.clone();
            async move { consumer.run_until(stop.notified()).await }
        });
        // Received and held while the window lasts.
        for _ in 0..2_000 {
            if s.queue.depth().await.unwrap().in_flight == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(s.queue.depth().await.unwrap().in_flight, 2);
        assert_eq!(metrics.flow(Flow::OpportunityWon).done, 0);
        stop.notify_one();
        running.await.unwrap();
        assert_eq!(metrics.flow(Flow::OpportunityWon).done, 2);
        assert_eq!(s.queue.depth().await.unwrap(), QueueDepth::default());
    }
}
