//! The measured runs: the Account backfill through account-onboarding, Closed Won deals
//! through the Outbound Message path into opportunity-won, each next to the same flow fed
//! one record per batch (the naive integration: per record one Salesforce read, one Intacct
//! lookup, the creates, one Salesforce write-back), and one deal at a time for latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use lf_domain::Flow;
use lf_embedded::SqliteQueue;
use lf_flows::{AccountOnboarding, Consumer, ConsumerOptions, OpportunityWon, Outcome, WorkItem};
use lf_mapping::SpecSet;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::rig::{BatchLog, Calls, Platform, PostLog, Rig, Timed};
use crate::CliError;
use crate::ops::backfill::{self, pages::Source};

/// How long a deal run may go without one more deal synced before it is called stuck.
const STALL: Duration = Duration::from_secs(120);

/// What one run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(super) struct Run {
    /// Records handed to the flow.
    pub records: u64,
    /// Records that ended synced (an Account with its customer id, a deal with its document
    /// id, written back in Salesforce).
    pub synced: u64,
    /// Records parked or still failing after the retries.
    pub failed: u64,
    /// API calls as the sandboxes counted them.
    pub calls: Calls,
    /// The same, as the clients counted what they sent.
    pub client_calls: Calls,
    /// Flow batches handled.
    pub batches: u64,
    pub elapsed_secs: f64,
}

impl Run {
    pub(super) fn per_record(&self) -> f64 {
        self.calls.total() as f64 / self.records.max(1) as f64
    }

    pub(super) fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.elapsed_secs.max(f64::EPSILON)
    }
}

fn failed(outcomes: &[(WorkItem, Outcome)]) -> u64 {
    outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Parked { .. } | Outcome::Retry { .. }))
        .count() as u64
}

/// Seeds `n` qualifying Accounts in a fresh rig.
async fn accounts_rig(platform: Platform, n: usize) -> Result<Rig, CliError> {
    let rig = Rig::start(platform, false).await?;
    for i in 0..n {
        rig.new_account(i)?;
    }
    // Salesforce stamps whole seconds and a read by watermark stops before the current one:
    // the Accounts are readable once it has passed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    Ok(rig)
}

/// The backfill of `n` Accounts, as `ledgerforce backfill accounts` runs it: pages read
/// through its page source and handed to account-onboarding `batch` at a time, up to
/// `workers` batches in flight (as that many function instances would run), the Intacct
/// client holding to the company's cap.
pub(super) async fn backfill(
    platform: Platform,
    specs: Arc<SpecSet>,
    n: usize,
    batch: usize,
    workers: usize,
) -> Result<Run, CliError> {
    onboard(platform, specs, n, batch, workers).await
}

/// The naive integration on `n` Accounts: the same, each Account its own batch of one.
pub(super) async fn naive_accounts(
    platform: Platform,
    specs: Arc<SpecSet>,
    n: usize,
    workers: usize,
) -> Result<Run, CliError> {
    onboard(platform, specs, n, 1, workers).await
}

/// Seeds `n` Accounts and onboards them `batch` at a time through the backfill's own page
/// source (bounded at the run's start, so the run's write-backs are not read again) and its
/// retrying hand-over.
async fn onboard(
    platform: Platform,
    specs: Arc<SpecSet>,
    n: usize,
    batch: usize,
    workers: usize,
) -> Result<Run, CliError> {
    let rig = accounts_rig(platform, n).await?;
    let handler = Arc::new(AccountOnboarding::new(
        rig.ports.clone(),
        specs,
        Default::default(),
    )?);
    let before = rig.calls();
    let client_before = rig.client_calls();
    let started = Instant::now();
    let mut source = backfill::pages::salesforce_accounts(&rig.ports.salesforce, Utc::now());
    let permits = Arc::new(Semaphore::new(workers.max(1)));
    let mut tasks = JoinSet::new();
    let mut cursor = None;
    let mut records = 0;
    let mut batches = 0;
    // A write-back within the bound's own clock tick can be read again: hand each Account
    // over once.
    let mut handed = std::collections::HashSet::new();
    loop {
        let page = source
            .page(cursor.as_ref(), backfill::pages::READ_PAGE.max(batch))
            .await?;
        let fresh: Vec<_> = page
            .records
            .into_iter()
            .filter(|(r, _)| handed.insert(r.id.clone()))
            .collect();
        for chunk in fresh.chunks(batch.max(1)) {
            let items = backfill::work_items(Flow::AccountOnboarding, chunk);
            records += items.len() as u64;
            batches += 1;
            let permit = permits.clone().acquire_owned().await?;
            let handler = handler.clone();
            tasks.spawn(async move {
                let outcomes = backfill::handle(&*handler, items).await;
                drop(permit);
                outcomes
            });
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut failures = 0;
    while let Some(done) = tasks.join_next().await {
        failures += failed(&done?);
    }
    let run = Run {
        records,
        synced: rig.onboarded() as u64,
        failed: failures,
        calls: rig.calls().since(before),
        client_calls: rig.client_calls().since(client_before),
        batches,
        elapsed_secs: started.elapsed().as_secs_f64(),
    };
    rig.shutdown().await;
    Ok(run)
}

/// What a deal run measured besides its counts: each flow batch's size and time, and each
/// webhook post's arrival and time to answer.
#[derive(Debug, Default)]
pub(super) struct DealTimes {
    pub batches: Vec<(usize, Duration)>,
    pub posts: Vec<(Instant, Duration)>,
}

/// How the consumers assemble their batches: up to `size` messages, gathered for at most
/// `window` after the first (the event source mapping's `BatchSize` and batching window).
#[derive(Debug, Clone, Copy)]
pub(super) struct Batching {
    pub size: u32,
    pub window: Duration,
}

impl Batching {
    /// The template's.
    pub(super) const DEPLOYED: Self = Self {
        size: lf_flows::DEPLOYED_BATCH_SIZE,
        window: lf_flows::DEPLOYED_BATCHING_WINDOW,
    };

    /// One message per batch, at once: the naive integration.
    pub(super) const ONE: Self = Self {
        size: 1,
        window: Duration::ZERO,
    };

    /// Whatever one receive brings, at once: a lone deal's own path.
    pub(super) const UNGATHERED: Self = Self {
        size: 10,
        window: Duration::ZERO,
    };
}

/// Starts `consumers` opportunity-won consumers on `queue`, batching as `batching` says.
fn consumers(
    rig: &Rig,
    specs: &Arc<SpecSet>,
    queue: &SqliteQueue,
    consumers: usize,
    batching: Batching,
    log: &BatchLog,
    stop: &watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<()>>, CliError> {
    let mut tasks = Vec::new();
    for _ in 0..consumers.max(1) {
        let handler = Timed {
            inner: OpportunityWon::new(rig.ports.clone(), specs.clone(), Default::default())?,
            log: log.clone(),
        };
        let consumer = Consumer::new(
            queue.clone(),
            handler,
            rig.parked.clone(),
            ConsumerOptions {
                batch_size: batching.size,
                batching_window: batching.window,
                wait: Duration::from_millis(20),
                visibility: Duration::from_secs(120),
                ..Default::default()
            },
        );
        let mut stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            consumer
                .run_until(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        }));
    }
    Ok(tasks)
}

/// `m` deals on new Accounts closed one after another as sales users would; each Outbound
/// Message goes through the webhook to the queue, `workers` opportunity-won consumers take
/// batches as `batching` assembles them. Done when every deal carries its Intacct document id.
pub(super) async fn deals(
    platform: Platform,
    specs: Arc<SpecSet>,
    m: usize,
    batching: Batching,
    workers: usize,
) -> Result<(Run, DealTimes), CliError> {
    let rig = Rig::start(platform, true).await?;
    let (queue, posts) = rig.webhook().await?;
    let mut deals = Vec::with_capacity(m);
    for i in 0..m {
        let account = rig.new_account(i)?;
        deals.push(rig.new_deal(&account, i)?);
    }
    let log: BatchLog = Arc::default();
    let (stop, stopped) = watch::channel(false);
    let tasks = consumers(&rig, &specs, &queue, workers, batching, &log, &stopped)?;
    let before = rig.calls();
    let client_before = rig.client_calls();
    let started = Instant::now();
    for deal in &deals {
        rig.close(deal)?;
    }
    // Deals are checked in the order they closed, each until it is synced: a pass over
    // every open deal each tick would cost the sandbox's lock as much as the flows' own reads.
    let mut open: std::collections::VecDeque<&String> = deals.iter().collect();
    let mut progress = Instant::now();
    while let Some(first) = open.front() {
        if rig.synced(first) {
            open.pop_front();
            progress = Instant::now();
        } else if progress.elapsed() > STALL {
            // The first open deal is stuck: stop only when no other one moved either.
            let left = open.len();
            open.retain(|d| !rig.synced(d));
            if open.len() == left {
                break;
            }
            progress = Instant::now();
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let elapsed = started.elapsed();
    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    let batches = take(&log);
    let run = Run {
        records: m as u64,
        synced: (m - open.len()) as u64,
        failed: open.len() as u64,
        calls: rig.calls().since(before),
        client_calls: rig.client_calls().since(client_before),
        batches: batches.len() as u64,
        elapsed_secs: elapsed.as_secs_f64(),
    };
    let times = DealTimes {
        batches,
        posts: take_posts(&posts),
    };
    rig.shutdown().await;
    Ok((run, times))
}

fn take(log: &BatchLog) -> Vec<(usize, Duration)> {
    std::mem::take(&mut *log.lock().unwrap_or_else(|p| p.into_inner()))
}

fn take_posts(log: &PostLog) -> Vec<(Instant, Duration)> {
    std::mem::take(&mut *log.lock().unwrap_or_else(|p| p.into_inner()))
}

/// Webhook received → invoice created and its id written back on the Opportunity, one deal
/// at a time, `samples` deals per phase (after one unmeasured deal each, which signs in):
/// at zero sandbox latency and at `platform`'s, each batch run as soon as its message is
/// received (the flow's own path), then at `platform`'s with the template's batching, where a
/// lone deal also waits out the batching window.
pub(super) async fn latency(
    platform: Platform,
    specs: Arc<SpecSet>,
    samples: usize,
) -> Result<[Vec<Duration>; 3], CliError> {
    let rig = Rig::start(platform, true).await?;
    let (queue, posts) = rig.webhook().await?;
    let mut n = 0;
    let mut phases = Vec::new();
    for (phase, batching) in [
        (platform.without_latency(), Batching::UNGATHERED),
        (platform, Batching::UNGATHERED),
        (platform, Batching::DEPLOYED),
    ] {
        rig.set_platform(phase);
        let log: BatchLog = Arc::default();
        let (stop, stopped) = watch::channel(false);
        let tasks = consumers(&rig, &specs, &queue, 1, batching, &log, &stopped)?;
        let mut latencies = Vec::with_capacity(samples);
        for k in 0..=samples {
            let account = rig.new_account(n)?;
            let deal = rig.new_deal(&account, n)?;
            n += 1;
            let seen = posts.lock().unwrap_or_else(|p| p.into_inner()).len();
            let started = Instant::now();
            rig.close(&deal)?;
            while !rig.synced(&deal) {
                if started.elapsed() > STALL {
                    return Err(format!("deal {deal} not synced in {STALL:?}").into());
                }
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
            let synced = Instant::now();
            let received = posts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(seen)
                .map(|(at, _)| *at)
                .ok_or("the deal was synced without its Outbound Message arriving")?;
            if k > 0 {
                latencies.push(synced - received);
            }
        }
        let _ = stop.send(true);
        for task in tasks {
            let _ = task.await;
        }
        phases.push(latencies);
    }
    rig.shutdown().await;
    Ok(phases
        .try_into()
        .map_err(|_| "the latency run lost a phase")?)
}
