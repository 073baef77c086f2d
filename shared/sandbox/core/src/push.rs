//! At-least-once webhook delivery, the way Salesforce sends Outbound Messages and Intacct sends
//! Smart Event HTTP posts: retried with exponential backoff until the receiver acknowledges or
//! the message is too old, and, when asked, duplicated and delivered out of order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

/// Decides from the HTTP status and body whether the receiver acknowledged a delivery
/// (Salesforce wants 200 with `<Ack>true</Ack>`; a plain 2xx is enough for Intacct).
pub type AckCheck = fn(status: u16, body: &str) -> bool;

/// How deliveries are retried.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// Where to post.
    pub url: String,
    /// Wait before the first retry; doubles per failed attempt.
    pub initial_backoff: Duration,
    /// Longest wait between attempts (Salesforce: 2 hours).
    pub max_backoff: Duration,
    /// A delivery not acknowledged this long after its first attempt is dropped
    /// (Salesforce: 24 hours).
    pub give_up_after: Duration,
    /// Per-attempt HTTP timeout (Salesforce: 60 seconds).
    pub request_timeout: Duration,
    /// Probability that an acknowledged delivery is sent again, [`PushConfig::duplicate_copies`]
    /// more times.
    pub duplicate_probability: f64,
    /// How many extra posts a duplicated delivery gets (1: it arrives twice; 2: three times).
    pub duplicate_copies: u32,
    /// Probability that a delivery is lost before its first attempt (counted in
    /// [`PushStats::lost`]), as when the platform gives up during an outage: only a poller
    /// catches the change it carried.
    pub drop_probability: f64,
    /// Each new delivery waits a random time up to this before its first attempt, so
    /// deliveries queued close together arrive out of order. Zero keeps order.
    pub reorder_window: Duration,
    /// Seeds duplicates, reordering and drops.
    pub seed: u64,
}

impl PushConfig {
    /// Defaults compressed for local use: retries from 1 s up to 1 minute, for an hour.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            give_up_after: Duration::from_secs(3600),
            request_timeout: Duration::from_secs(60),
            duplicate_probability: 0.0,
            duplicate_copies: 1,
            drop_probability: 0.0,
            reorder_window: Duration::ZERO,
            seed: 0,
        }
    }
}

/// One HTTP post to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Counters, readable by tests and printed by the CLI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushStats {
    /// Deliveries handed to the pusher.
    pub queued: u64,
    /// HTTP posts made, retries and duplicates included.
    pub attempts: u64,
    /// Deliveries acknowledged.
    pub delivered: u64,
    /// Extra posts of already acknowledged deliveries (each copy counts).
    pub duplicates: u64,
    /// Attempts not acknowledged (error status, no Ack, timeout, refused).
    pub failed_attempts: u64,
    /// Deliveries given up on after `give_up_after`.
    pub dropped: u64,
    /// Deliveries whose first attempt came after that of a delivery queued later than them.
    pub reordered: u64,
    /// Deliveries discarded before their first attempt by [`Pusher::lose_next`] or
    /// [`PushConfig::drop_probability`]: the webhook never heard of them, as when the platform
    /// gave up during an outage.
    pub lost: u64,
}

impl PushStats {
    /// Deliveries neither acknowledged nor dropped yet.
    pub fn pending(&self) -> u64 {
        self.queued
            .saturating_sub(self.delivered + self.dropped + self.lost)
    }
}

/// Sends deliveries from a background task. Dropping the pusher stops it once the channel
/// is closed; pending retries are then abandoned.
#[derive(Debug, Clone)]
pub struct Pusher {
    tx: mpsc::UnboundedSender<Delivery>,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    stats: Mutex<PushStats>,
    changed: Notify,
    /// Deliveries still to lose (see [`Pusher::lose_next`]).
    lose: Mutex<u64>,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut PushStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|p| p.into_inner()));
        self.changed.notify_waiters();
    }

    fn stats(&self) -> PushStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Item {
    delivery: Delivery,
    /// Order in which the pusher received it.
    seq: u64,
    first_attempt: Option<Instant>,
    failures: u32,
    next_at: Instant,
}

impl Pusher {
    /// Starts the delivery task on the current tokio runtime.
    pub fn start(config: PushConfig, acked: AckCheck) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        tokio::spawn(run(config, acked, rx, Arc::clone(&shared)));
        Self { tx, shared }
    }

    /// Queues a delivery.
    pub fn push(&self, delivery: Delivery) {
        self.shared.update(|s| s.queued += 1);
        {
            let mut lose = self.shared.lose.lock().unwrap_or_else(|p| p.into_inner());
            if *lose > 0 {
                *lose -= 1;
                drop(lose);
                self.shared.update(|s| s.lost += 1);
                return;
            }
        }
        if self.tx.send(delivery).is_err() {
            // The task ended (runtime shutting down): count it as dropped rather than lose it
            // silently.
            self.shared.update(|s| s.dropped += 1);
        }
    }

    pub fn stats(&self) -> PushStats {
        self.shared.stats()
    }

    /// Loses the next `n` deliveries without a single attempt: the webhook misses them, and
    /// only a poller catches the changes they carried.
    pub fn lose_next(&self, n: u64) {
        *self.shared.lose.lock().unwrap_or_else(|p| p.into_inner()) += n;
    }

    /// Waits until nothing is pending, or `max` has passed. Returns whether it became idle.
    pub async fn wait_idle(&self, max: Duration) -> bool {
        let deadline = Instant::now() + max;
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            // Register before checking, so a change in between is not missed.
            changed.as_mut().enable();
            if self.stats().pending() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.stats().pending() == 0;
            }
        }
    }
}

async fn run(
    config: PushConfig,
    acked: AckCheck,
    mut rx: mpsc::UnboundedReceiver<Delivery>,
    shared: Arc<Shared>,
) {
    let client = match reqwest::Client::builder()
        .timeout(config.request_timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook pusher cannot build its HTTP client");
            return;
        }
    };
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut pending: Vec<Item> = Vec::new();
    let mut open = true;
    let mut received_count = 0u64;
    // The highest `seq` attempted so far: an item first attempted below it was overtaken.
    let mut highest_attempted: Option<u64> = None;
    while open || !pending.is_empty() {
        let next_due = pending.iter().map(|i| i.next_at).min();
        tokio::select! {
            received = rx.recv(), if open => match received {
                Some(_) if config.drop_probability > 0.0
                    && rng.random::<f64>() < config.drop_probability => {
                    shared.update(|s| s.lost += 1);
                }
                Some(delivery) => {
                    let window = config.reorder_window.mul_f64(rng.random::<f64>());
                    received_count += 1;
                    pending.push(Item { delivery, seq: received_count, first_attempt: None, failures: 0, next_at: Instant::now() + window });
                }
                None => open = false,
            },
            _ = sleep_until(next_due) => {}
        }
        let now = Instant::now();
        while let Some(idx) = earliest_due(&pending, now) {
            let mut item = pending.swap_remove(idx);
            if item.first_attempt.is_none() {
                if highest_attempted.is_some_and(|h| h > item.seq) {
                    shared.update(|s| s.reordered += 1);
                }
                highest_attempted = highest_attempted.max(Some(item.seq));
            }
            let first = *item.first_attempt.get_or_insert(now);
            if attempt(&client, &config.url, &item.delivery, acked, &shared).await {
                // The duplicate goes out before the delivery counts as done, so a caller
                // waiting for idle sees it too.
                if config.duplicate_probability > 0.0
                    && rng.random::<f64>() < config.duplicate_probability
                {
                    for _ in 0..config.duplicate_copies.max(1) {
                        attempt(&client, &config.url, &item.delivery, acked, &shared).await;
                        shared.update(|s| s.duplicates += 1);
                    }
                }
                shared.update(|s| s.delivered += 1);
            } else if now.duration_since(first) >= config.give_up_after {
                tracing::warn!(url = %config.url, failures = item.failures + 1, "webhook delivery dropped after retrying");
                shared.update(|s| s.dropped += 1);
            } else {
                item.failures += 1;
                let exp = item.failures.saturating_sub(1).min(20);
                let backoff = config
                    .initial_backoff
                    .saturating_mul(1u32 << exp)
                    .min(config.max_backoff);
                item.next_at = Instant::now() + backoff;
                pending.push(item);
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn earliest_due(pending: &[Item], now: Instant) -> Option<usize> {
    pending
        .iter()
        .enumerate()
        .filter(|(_, i)| i.next_at <= now)
        .min_by_key(|(_, i)| i.next_at)
        .map(|(idx, _)| idx)
}

async fn attempt(
    client: &reqwest::Client,
    url: &str,
    delivery: &Delivery,
    acked: AckCheck,
    shared: &Shared,
) -> bool {
    shared.update(|s| s.attempts += 1);
    let mut req = client
        .post(url)
        .header("Content-Type", &delivery.content_type)
        .body(delivery.body.clone());
    for (name, value) in &delivery.headers {
        req = req.header(name, value);
    }
    let ok = match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            acked(status, &body)
        }
        Err(e) => {
            tracing::debug!(error = %e, url, "webhook attempt failed");
            false
        }
    };
    if !ok {
        shared.update(|s| s.failed_attempts += 1);
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::post;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn plain_ack(status: u16, _body: &str) -> bool {
        (200..300).contains(&status)
    }

    /// A receiver that fails the first `fail_first` posts, then records bodies.
    async fn receiver(fail_first: u32) -> (crate::Server, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let calls = Arc::new(AtomicU32::new(0));
        let s = Arc::clone(&seen);
        let app = Router::new().route(
            "/hook",
            post(move |body: String| {
                let s = Arc::clone(&s);
                let calls = Arc::clone(&calls);
                async move {
                    if calls.fetch_add(1, Ordering::SeqCst) < fail_first {
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    s.lock().unwrap().push(body);
                    StatusCode::OK
                }
            }),
        );
        (crate::serve(app, 0).await.unwrap(), seen)
    }

    fn fast(url: String) -> PushConfig {
        PushConfig {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
            ..PushConfig::new(url)
        }
    }

    fn delivery(body: &str) -> Delivery {
        Delivery {
            content_type: "application/json".into(),
            headers: vec![("X-Test".into(), "1".into())],
            body: body.into(),
        }
    }

    #[tokio::test]
    async fn retries_until_acknowledged() {
        let (server, seen) = receiver(3).await;
        let pusher = Pusher::start(fast(format!("{}/hook", server.base_url())), plain_ack);
        pusher.push(delivery("a"));
        assert!(pusher.wait_idle(Duration::from_secs(30)).await);
        let stats = pusher.stats();
        assert_eq!(stats.delivered, 1);
        assert_eq!(stats.failed_attempts, 3);
        assert_eq!(stats.attempts, 4);
        assert_eq!(stats.reordered, 0);
        assert_eq!(*seen.lock().unwrap(), vec!["a".to_owned()]);
    }

    #[tokio::test]
    async fn lost_deliveries_are_never_attempted() {
        let (server, seen) = receiver(0).await;
        let pusher = Pusher::start(fast(format!("{}/hook", server.base_url())), plain_ack);
        pusher.lose_next(1);
        pusher.push(delivery("lost"));
        pusher.push(delivery("kept"));
        assert!(pusher.wait_idle(Duration::from_secs(30)).await);
        let stats = pusher.stats();
        assert_eq!((stats.queued, stats.lost, stats.delivered), (2, 1, 1));
        assert_eq!(stats.attempts, 1);
        assert_eq!(*seen.lock().unwrap(), vec!["kept".to_owned()]);
    }

    #[tokio::test]
    async fn drops_after_give_up_window() {
        let pusher = Pusher::start(
            PushConfig {
                give_up_after: Duration::from_millis(50),
                // Nothing listens on port 9 of loopback: connection refused.
                ..fast("http://127.0.0.1:9/hook".into())
            },
            plain_ack,
        );
        pusher.push(delivery("lost"));
        assert!(pusher.wait_idle(Duration::from_secs(30)).await);
        let stats = pusher.stats();
        assert_eq!(stats.dropped, 1);
        assert_eq!(stats.delivered, 0);
        assert!(stats.failed_attempts >= 2);
    }

    #[tokio::test]
    async fn duplicates_and_reorders_when_asked() {
        let (server, seen) = receiver(0).await;
        let pusher = Pusher::start(
            PushConfig {
                duplicate_probability: 1.0,
                reorder_window: Duration::from_millis(200),
                seed: 7,
                ..fast(format!("{}/hook", server.base_url()))
            },
            plain_ack,
        );
        let bodies: Vec<String> = (0..8).map(|i| i.to_string()).collect();
        for b in &bodies {
            pusher.push(delivery(b));
        }
        assert!(pusher.wait_idle(Duration::from_secs(30)).await);
        let got = seen.lock().unwrap().clone();
        assert_eq!(got.len(), 16, "every delivery twice: {got:?}");
        let mut firsts: Vec<String> = Vec::new();
        for b in &got {
            if !firsts.contains(b) {
                firsts.push(b.clone());
            }
        }
        assert_ne!(firsts, bodies, "seed 7 reorders eight deliveries");
        assert!(pusher.stats().reordered > 0);
        let mut sorted = firsts.clone();
        sorted.sort();
        assert_eq!(sorted, bodies);
        assert_eq!(pusher.stats().duplicates, 8);
    }

    #[tokio::test]
    async fn triples_and_drops_from_the_seed() {
        let (server, seen) = receiver(0).await;
        let config = PushConfig {
            duplicate_probability: 1.0,
            duplicate_copies: 2,
            drop_probability: 0.5,
            seed: 11,
            ..fast(format!("{}/hook", server.base_url()))
        };
        let pusher = Pusher::start(config, plain_ack);
        for i in 0..20 {
            pusher.push(delivery(&i.to_string()));
        }
        assert!(pusher.wait_idle(Duration::from_secs(30)).await);
        let stats = pusher.stats();
        assert!(stats.lost > 0 && stats.lost < 20, "{stats:?}");
        assert_eq!(stats.lost + stats.delivered, 20);
        assert_eq!(stats.duplicates, 2 * stats.delivered);
        let got = seen.lock().unwrap().clone();
        assert_eq!(
            got.len() as u64,
            3 * stats.delivered,
            "each kept delivery three times"
        );
        let mut distinct = got.clone();
        distinct.sort();
        distinct.dedup();
        for b in &distinct {
            assert_eq!(got.iter().filter(|g| *g == b).count(), 3, "{b}");
        }
        assert_eq!(distinct.len() as u64, stats.delivered);
    }
}
