//! `chaos run`: the coordinator. Starts the system ([`System`]) and K worker processes,
//! turns the faults on, drives the workload while killing and restarting workers, waits for
//! everything to drain, turns the faults off and replays what was parked or dead-lettered,
//! checks that nothing writes once nothing changes (echo writes), compares both sandboxes
//! ([`check::compare`]), prints the figures and exits non-zero on any violation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lf_domain::SystemClock;
use lf_domain::port::{IdempotencyConfig, Month, ParkedFailures};
use lf_flows::replay::{self, FlowQueue as ReplayQueue, ReplayFilter, ReplayOptions};
use lf_flows::{FlowPorts, RevenueReconciliation};
use lf_mapping::SpecBundle;
use lf_sandbox_intacct::IntacctFault;
use lf_sandbox_salesforce::SalesforceFault;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use crate::Error;
use crate::check;
use crate::system::{DeliveryFaults, System};
use crate::workload::{self, Driver};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seeds the workload, the fault draws, the deliveries' misbehaviour and the kills.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Changes the workload makes (about; it creates whole accounts). Default 300, or
    /// 10,000 with --full.
    #[arg(long)]
    events: Option<usize>,
    /// Consumer processes running at once. Default 3, or 4 with --full.
    #[arg(long)]
    workers: Option<usize>,
    /// Times a worker is killed (SIGKILL) and started again. Default 2, or 8 with --full.
    #[arg(long)]
    kills: Option<usize>,
    /// The full size: 10,000 events, 4 workers, 8 kills (each overridable).
    #[arg(long)]
    full: bool,
    /// Keep the run's files (database, worker counters) here; must not hold a store yet.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Fault rates per request. Every kind is drawn from the seed; the rarer ones stay rare so a
/// run makes progress, but at CI size each still occurs.
const SALESFORCE_FAULTS: [(SalesforceFault, f64); 7] = [
    (SalesforceFault::Latency, 0.02),
    (SalesforceFault::Unavailable, 0.03),
    (SalesforceFault::LockRow, 0.03),
    (SalesforceFault::ValidationRule, 0.004),
    (SalesforceFault::ExpireSessions, 0.01),
    (SalesforceFault::LimitExceeded, 0.01),
    (SalesforceFault::SlowResponse, 0.008),
];
const INTACCT_FAULTS: [(IntacctFault, f64); 5] = [
    (IntacctFault::Latency, 0.02),
    (IntacctFault::ServerError, 0.03),
    (IntacctFault::RateLimited, 0.03),
    (IntacctFault::SessionExpired, 0.015),
    (IntacctFault::LostResponse, 0.01),
];
const DELIVERY_FAULTS: DeliveryFaults = DeliveryFaults {
    triple: 0.25,
    drop: 0.05,
    reorder: Duration::from_millis(400),
};

/// The worker processes, each slot restarted after a kill with a new counter file.
#[derive(Debug)]
struct Workers {
    exe: PathBuf,
    endpoints: PathBuf,
    dir: PathBuf,
    slots: Vec<Option<Child>>,
    started: usize,
    killed: usize,
}

impl Workers {
    fn spawn(&mut self, slot: usize) -> Result<(), Error> {
        self.started += 1;
        let metrics = self
            .dir
            .join(format!("worker-{slot}-{}.json", self.started));
        let child = Command::new(&self.exe)
            .arg("worker")
            .arg("--endpoints")
            .arg(&self.endpoints)
            .arg("--metrics")
            .arg(metrics)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start a worker: {e}"))?;
        self.slots[slot] = Some(child);
        Ok(())
    }

    /// SIGKILL: the worker gets no chance to finish or settle anything.
    async fn kill(&mut self, slot: usize) {
        if let Some(mut child) = self.slots[slot].take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
            self.killed += 1;
        }
    }

    /// Closes each worker's standard input (it finishes its batches and exits), then waits.
    async fn stop(&mut self) {
        for child in self.slots.iter_mut().flatten() {
            drop(child.stdin.take());
        }
        for slot in &mut self.slots {
            if let Some(mut child) = slot.take()
                && tokio::time::timeout(Duration::from_secs(30), child.wait())
                    .await
                    .is_err()
            {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
    }

    /// Any worker that exited by itself (a crash is a failure of the run).
    fn crashed(&mut self) -> Vec<String> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, c)| {
                let status = c.as_mut()?.try_wait().ok()??;
                Some(format!("worker {i} exited by itself: {status}"))
            })
            .collect()
    }
}

/// The workers' counters summed over every process that ran (a killed one's as of its last
/// write).
fn worker_counts(dir: &Path) -> BTreeMap<String, u64> {
    let mut sum = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return sum;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("worker-") && name.ends_with(".json")) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let Ok(Value::Object(flows)) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        for counts in flows.values() {
            for key in ["processed", "done", "echoes", "retried", "parked"] {
                *sum.entry(key.to_owned()).or_default() +=
                    counts.get(key).and_then(Value::as_u64).unwrap_or(0);
            }
        }
    }
    sum
}

/// The month-end reconciliation as the schedule runs it, on the coordinator's own clients.
fn reconciler(system: &System) -> Result<RevenueReconciliation<Arc<impl lf_flows::Ports>>, Error> {
    let endpoints = crate::wiring::Endpoints::read(&system.endpoints_file)?;
    let database = &system.database;
    let ports = Arc::new(FlowPorts {
        salesforce: endpoints.salesforce(Duration::from_secs(2))?,
        intacct: endpoints.intacct(Some(database))?,
        xref: database.xref_store(),
        idempotency: database.idempotency_store(IdempotencyConfig::default()),
        state: database.sync_state(),
        audit: database.audit_log(),
        clock: Arc::new(SystemClock),
    });
    let specs = Arc::new(SpecBundle::shipped().compile()?);
    Ok(RevenueReconciliation::new(
        ports,
        specs,
        Default::default(),
    )?)
}

/// Runs the reconciliation of `period` until one run has no failed write (as the schedule's
/// retries would), at most ten times; the runs made and the last error.
async fn reconcile<P: lf_flows::Ports>(
    flow: &RevenueReconciliation<P>,
    period: Month,
) -> (u64, Option<String>) {
    let mut last = None;
    for run in 1..=10 {
        match flow.run(period).await {
            Ok(r) if r.failures.is_empty() => return (run, None),
            Ok(r) => last = Some(r.failures.join("; ")),
            Err(e) => last = Some(e.to_string()),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    (10, last)
}

/// Waits until nothing is queued, in flight or undelivered and a poll run finds nothing new,
/// twice in a row; whether it got there within `limit`.
async fn drain(system: &System, limit: Duration) -> Result<bool, Error> {
    let start = Instant::now();
    let mut quiet = 0;
    while start.elapsed() < limit {
        let (live, _) = system.backlog().await?;
        if live == 0 && system.undelivered() == 0 {
            // Changes younger than the poller's settle time are not taken yet.
            tokio::time::sleep(Duration::from_millis(2_500)).await;
            if system.poll_now().await == 0 && system.backlog().await?.0 == 0 {
                quiet += 1;
                if quiet >= 2 {
                    return Ok(true);
                }
                continue;
            }
        }
        quiet = 0;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(false)
}

/// Every Salesforce record the sync touches, by id, with its modification stamp.
fn salesforce_stamps(system: &System) -> BTreeMap<String, String> {
    [
        "Account",
        "Contact",
        "Opportunity",
        "Task",
        "Revenue_Reconciliation__c",
    ]
    .iter()
    .flat_map(|object| system.salesforce.records(object))
    .map(|r| {
        let field = |f: &str| {
            r.get(f)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        (field("Id"), field("SystemModstamp"))
    })
    .collect()
}

pub async fn run(args: Args) -> Result<ExitCode, Error> {
    let events = args.events.unwrap_or(if args.full { 10_000 } else { 300 });
    let worker_count = args.workers.unwrap_or(if args.full { 4 } else { 3 }).max(1);
    let kills = args.kills.unwrap_or(if args.full { 8 } else { 2 });
    // Six changes per account on average (four creations, one or two edits, a payment or a
    // hold).
    let units = events.div_ceil(6).max(4);
    let (dir, temporary) = match &args.data_dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("lf-chaos-{}-{}", std::process::id(), args.seed)),
            true,
        ),
    };
    println!(
        "chaos: seed {}, {units} accounts (about {events} events), {worker_count} workers, {kills} kills",
        args.seed
    );
    let started = Instant::now();
    let system = System::start(&dir, args.seed, DELIVERY_FAULTS).await?;
    let outcome = drive(&system, &args, units, worker_count, kills).await;
    system.shutdown().await;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let (figures, violations) = outcome?;
    let mut figures = figures;
    figures.insert(
        "elapsed_seconds".into(),
        json!((started.elapsed().as_secs_f64() * 10.0).round() / 10.0),
    );
    print_figures(&figures);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&Value::Object(figures))?)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if violations.is_empty() {
        println!("chaos: all held (0 duplicates, 0 lost, 0 echo writes)");
        Ok(ExitCode::SUCCESS)
    } else {
        for v in violations.iter().take(50) {
            println!("VIOLATION: {v}");
        }
        println!("chaos: {} violations", violations.len());
        Ok(ExitCode::FAILURE)
    }
}

type Figures = serde_json::Map<String, Value>;

fn print_figures(f: &Figures) {
    println!("figures:");
    for (k, v) in f {
        match v {
            Value::Object(inner) => {
                println!("  {k}:");
                for (ik, iv) in inner {
                    println!("    {ik}: {iv}");
                }
            }
            other => println!("  {k}: {other}"),
        }
    }
}

async fn drive(
    system: &System,
    args: &Args,
    units: usize,
    worker_count: usize,
    kills: usize,
) -> Result<(Figures, Vec<String>), Error> {
    let mut violations = Vec::new();
    let workers = Arc::new(Mutex::new(Workers {
        exe: std::env::current_exe()?,
        endpoints: system.endpoints_file.clone(),
        dir: system.dir.clone(),
        slots: (0..worker_count).map(|_| None).collect(),
        started: 0,
        killed: 0,
    }));
    {
        let mut w = workers.lock().await;
        for slot in 0..worker_count {
            w.spawn(slot)?;
        }
    }
    for (fault, rate) in SALESFORCE_FAULTS {
        system.salesforce.faults().set_rate(fault, rate);
    }
    for (fault, rate) in INTACCT_FAULTS {
        system.intacct.faults().set_rate(fault, rate);
    }

    // The killer: M times, at a random point, a random worker is killed and started again.
    // The gaps grow with the size, so the kills fall all along a longer run.
    let longest_gap = 5_000 + 20 * units as u64;
    let killer = {
        let workers = workers.clone();
        let mut rng = StdRng::seed_from_u64(args.seed ^ 0xdead);
        tokio::spawn(async move {
            for _ in 0..kills {
                tokio::time::sleep(Duration::from_millis(rng.random_range(1_500..longest_gap)))
                    .await;
                let mut w = workers.lock().await;
                let slot = rng.random_range(0..w.slots.len());
                w.kill(slot).await;
                drop(w);
                tokio::time::sleep(Duration::from_millis(rng.random_range(100..800))).await;
                if let Err(e) = workers.lock().await.spawn(slot) {
                    tracing::error!(error = %e, "a killed worker could not be started again");
                }
            }
        })
    };

    let mut driver = Driver::new(system, args.seed);
    let per_unit = Duration::from_millis(60);
    let phase_limit =
        |n: usize| Duration::from_secs(90) + per_unit * u32::try_from(n).unwrap_or(u32::MAX);
    println!(
        "phase 1: {units} contacts keyed in Intacct; Accounts with that Contact and an open deal (Salesforce)"
    );
    let mut all = driver.create(units).await?;
    if !workload::wait_for(phase_limit(units), || driver.onboarded(&all)).await {
        violations.push("phase 1: not every Account was onboarded in time".to_owned());
    }
    // Both systems stamp changes in whole seconds, and a tie between an Account and its
    // customer goes to Salesforce: the edits start in a later second than the sync's last
    // write-back, as a person's would.
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    // The Salesforce allowance runs low for a while, then a new day starts.
    let limit = system.salesforce_daily_limit();
    system.salesforce.set_api_usage(limit * 95 / 100);
    let low_since = Instant::now();
    println!(
        "phase 2: deals closed, phones and emails changed (Salesforce), cities and contact \
         phones changed (Intacct); the daily API allowance 95% used"
    );
    driver.edit(&mut all).await?;
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(low_since.elapsed())).await;
    system.salesforce.set_api_usage(0);
    if !workload::wait_for(phase_limit(units), || driver.invoiced(&all)).await {
        violations.push("phase 2: not every closed deal was invoiced in time".to_owned());
    }
    println!("phase 3: payments recorded and customers put on hold (Intacct)");
    driver.settle(&mut all).await?;

    let _ = killer.await;
    println!("draining with the faults still on");
    if !drain(system, phase_limit(units)).await? {
        violations.push("the queues did not drain with the faults on".to_owned());
    }
    violations.extend(workers.lock().await.crashed());

    // The month-end reconciliation of this month, twice at once (an overlapping schedule
    // and a person's on-demand run), with the faults still on.
    let period = Month::of(chrono::Utc::now().date_naive());
    let recon = reconciler(system)?;
    println!("reconciling {period} twice at once, with the faults on");
    let ((runs_a, err_a), (runs_b, err_b)) =
        tokio::join!(reconcile(&recon, period), reconcile(&recon, period));
    let mut reconciliation_runs = runs_a + runs_b;
    for e in [err_a, err_b].into_iter().flatten() {
        violations.push(format!("the reconciliation of {period} kept failing: {e}"));
    }

    // What was parked, with its reasons, then every fault off and all of it replayed.
    let parked_store = system.database.parked_failures();
    let parked = parked_store.list(None, 100_000).await?;
    let unexplained = parked.iter().filter(|p| p.reason.trim().is_empty()).count();
    if unexplained > 0 {
        violations.push(format!("{unexplained} parked records have no reason"));
    }
    let mut parked_reasons: BTreeMap<String, u64> = BTreeMap::new();
    for p in &parked {
        let reason: String = p.reason.chars().take(80).collect();
        *parked_reasons
            .entry(format!("{}: {reason}", p.flow))
            .or_default() += 1;
    }
    let (_, dead_before) = system.backlog().await?;
    system.salesforce.faults().clear();
    system.intacct.faults().clear();
    let replay_queues: Vec<ReplayQueue<_>> = system
        .queues
        .iter()
        .map(|q| ReplayQueue {
            flow: q.flow,
            queue: q.queue.clone(),
            dead_letter: q.dead_letter.clone(),
        })
        .collect();
    let replayed = replay::replay(
        &parked_store,
        &replay_queues,
        &ReplayFilter::all(),
        &ReplayOptions {
            delay: Duration::from_millis(200),
            ..ReplayOptions::default()
        },
    )
    .await?;
    if replayed.left() > 0 {
        violations.push(format!(
            "{} parked or dead-lettered items could not be replayed",
            replayed.left()
        ));
    }
    println!(
        "faults off; replayed {} parked and dead-lettered items",
        replayed.requeued()
    );
    if !drain(system, phase_limit(units)).await? {
        violations.push("the queues did not drain after the replay".to_owned());
    }
    // And once more with everything settled: it updates what it wrote, never duplicates.
    let (runs, error) = reconcile(&recon, period).await;
    reconciliation_runs += runs;
    if let Some(e) = error {
        violations.push(format!("the last reconciliation of {period} failed: {e}"));
    }
    drain(system, phase_limit(units)).await?;
    let parked_after = parked_store.list(None, 100_000).await?;
    let (_, dead_after) = system.backlog().await?;
    if !parked_after.is_empty() {
        violations.push(format!(
            "{} records parked again after the replay, e.g. {}",
            parked_after.len(),
            parked_after[0].reason
        ));
    }
    if dead_after > 0 {
        violations.push(format!("{dead_after} dead letters after the replay"));
    }

    // Nothing changes any more: whatever is written now answers our own writes.
    let sf_before = salesforce_stamps(system);
    let ia_before = system.intacct.usage().writes;
    let polls = system.poll_runs();
    workload::wait_for(Duration::from_secs(30), || system.poll_runs() >= polls + 3).await;
    drain(system, Duration::from_secs(60)).await?;
    let sf_after = salesforce_stamps(system);
    let sf_echo = sf_after
        .iter()
        .filter(|(id, stamp)| sf_before.get(*id) != Some(stamp))
        .count() as u64;
    let ia_echo = system.intacct.usage().writes - ia_before;
    let echo_writes = sf_echo + ia_echo;
    if echo_writes > 0 {
        violations.push(format!(
            "{echo_writes} echo writes once nothing changed ({sf_echo} Salesforce records, {ia_echo} Intacct writes)"
        ));
    }

    workers.lock().await.stop().await;
    let findings = check::compare(system, &all, period);
    for (kind, n) in &findings.duplicates {
        if *n > 0 {
            violations.push(format!("{n} duplicate {kind}"));
        }
    }
    violations.extend(findings.lost.iter().cloned());

    let counts = worker_counts(&system.dir);
    let w = workers.lock().await;
    let mut faults = serde_json::Map::new();
    for (fault, n) in system.salesforce.faults().injected_by_kind() {
        faults.insert(format!("salesforce {fault}"), json!(n));
    }
    for (fault, n) in system.intacct.faults().injected_by_kind() {
        faults.insert(format!("intacct {fault}"), json!(n));
    }
    let outbound = system.salesforce.outbound_stats();
    let smart = system.intacct.smart_event_stats().unwrap_or_default();
    faults.insert(
        "webhook deliveries tripled".into(),
        json!((outbound.duplicates + smart.duplicates) / 2),
    );
    faults.insert(
        "webhook deliveries reordered".into(),
        json!(outbound.reordered + smart.reordered),
    );
    faults.insert(
        "webhook deliveries dropped".into(),
        json!(outbound.lost + smart.lost),
    );
    faults.insert(
        "poll streams held back by the low daily allowance".into(),
        json!(system.held_back.load(std::sync::atomic::Ordering::Relaxed)),
    );
    faults.insert("workers killed (SIGKILL)".into(), json!(w.killed));
    let mut figures = Figures::new();
    figures.insert("seed".into(), json!(args.seed));
    figures.insert("accounts".into(), json!(all.len()));
    figures.insert("events".into(), json!(driver.events));
    figures.insert(
        "deals_won".into(),
        json!({
            "invoiced": all.iter().filter(|u| matches!(u.group, workload::Group::Paid | workload::Group::Held) && !u.quoted).count(),
            "sales_orders (CPQ)": all.iter().filter(|u| u.quoted).count(),
        }),
    );
    figures.insert("workers".into(), json!(worker_count));
    figures.insert("worker_processes_started".into(), json!(w.started));
    figures.insert("faults_injected".into(), Value::Object(faults));
    figures.insert(
        "messages_processed".into(),
        json!(counts.get("processed").copied().unwrap_or(0)),
    );
    figures.insert(
        "retries".into(),
        json!(counts.get("retried").copied().unwrap_or(0)),
    );
    figures.insert(
        "echoes_skipped".into(),
        json!(counts.get("echoes").copied().unwrap_or(0)),
    );
    figures.insert(
        "changes_queued_by_the_poller".into(),
        json!(system.polled.load(std::sync::atomic::Ordering::Relaxed)),
    );
    figures.insert(
        "accountant_retries".into(),
        json!(driver.accountant_retries),
    );
    figures.insert("reconciliation_runs".into(), json!(reconciliation_runs));
    figures.insert("parked".into(), json!(parked.len()));
    figures.insert("parked_reasons".into(), json!(parked_reasons));
    figures.insert("dead_letters_before_replay".into(), json!(dead_before));
    figures.insert("replayed".into(), json!(replayed.requeued()));
    figures.insert("parked_after_replay".into(), json!(parked_after.len()));
    figures.insert("dead_letters_after_replay".into(), json!(dead_after));
    figures.insert("duplicates".into(), json!(findings.duplicate_count()));
    figures.insert("lost".into(), json!(findings.lost.len()));
    figures.insert("echo_writes".into(), json!(echo_writes));
    figures.insert(
        "writes_that_changed_nothing".into(),
        json!({"salesforce": system.salesforce.unchanged_updates(),
               "intacct": system.intacct.unchanged_updates()}),
    );
    figures.insert(
        "api_calls".into(),
        json!({"salesforce": system.salesforce.api_calls(), "intacct_requests": system.intacct.usage().requests}),
    );
    Ok((figures, violations))
}
