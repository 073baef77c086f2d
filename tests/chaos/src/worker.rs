//! `chaos worker`: one consumer process, as one concurrent Lambda instance of every flow
//! would be. It opens the shared database file, runs every flow's consumer against the
//! sandboxes over loopback HTTP, and writes its counters to a file every few hundred
//! milliseconds (a SIGKILL loses at most the last interval of them, never any work: messages
//! not deleted come back when their visibility runs out). It stops, finishing the batches in
//! hand, when its standard input closes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lf_domain::port::IdempotencyConfig;
use lf_domain::{Flow, RetryPolicy, SystemClock};
use lf_embedded::{Database, SqliteParkedFailures, SqliteQueue};
use lf_flows::{
    AccountOnboarding, AccountSync, Consumer, ConsumerOptions, CreditAlerts, FlowHandler,
    FlowPorts, InvoiceStatus, Metrics, OpportunityWon,
};
use lf_mapping::SpecBundle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Error;
use crate::wiring::{self, Endpoints, FLOWS};

/// How long received messages stay hidden, and each batch's deadline: a killed worker's
/// messages come back this long after it took them.
pub const VISIBILITY: Duration = Duration::from_secs(15);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The coordinator's endpoints file.
    #[arg(long)]
    endpoints: PathBuf,
    /// Where to write the counters (JSON, replaced atomically).
    #[arg(long)]
    metrics: PathBuf,
}

fn spawn_consumer<H: FlowHandler + 'static>(
    queue: SqliteQueue,
    handler: H,
    parked: SqliteParkedFailures,
    metrics: &Metrics,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let consumer = Consumer::new(
        queue,
        handler,
        parked,
        ConsumerOptions {
            // As the deployed functions' event source mappings batch.
            batch_size: lf_flows::DEPLOYED_BATCH_SIZE,
            batching_window: lf_flows::DEPLOYED_BATCHING_WINDOW,
            max_receives: Some(crate::wiring::MAX_RECEIVES),
            visibility: VISIBILITY,
            wait: Duration::from_millis(200),
            backoff: RetryPolicy {
                base: Duration::from_millis(300),
                cap: Duration::from_secs(5),
                max_attempts: u32::MAX,
            },
            receive_error_pause: Duration::from_millis(200),
            metrics: metrics.clone(),
        },
    );
    tokio::spawn(async move {
        consumer
            .run_until(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
    })
}

fn write_metrics(path: &Path, metrics: &Metrics) {
    let snapshot: serde_json::Map<String, serde_json::Value> = metrics
        .snapshot()
        .into_iter()
        .map(|(flow, counts)| {
            (
                flow.to_string(),
                serde_json::to_value(counts).unwrap_or_default(),
            )
        })
        .collect();
    let tmp = path.with_extension("tmp");
    let written = serde_json::to_vec(&snapshot)
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&tmp, bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(error) = written {
        tracing::warn!(%error, path = %path.display(), "cannot write the worker's counters");
    }
}

pub async fn run(args: Args) -> Result<(), Error> {
    let endpoints = Endpoints::read(&args.endpoints)?;
    let path = endpoints.database.clone();
    let database =
        tokio::task::spawn_blocking(move || Database::open(path, Arc::new(SystemClock))).await??;
    let specs = Arc::new(SpecBundle::shipped().compile()?);
    let ports = Arc::new(FlowPorts {
        salesforce: endpoints.salesforce(Duration::from_secs(2))?,
        intacct: endpoints.intacct(Some(&database))?,
        xref: database.xref_store(),
        idempotency: database.idempotency_store(IdempotencyConfig::default()),
        state: database.sync_state(),
        audit: database.audit_log(),
        clock: Arc::new(SystemClock),
    });
    let parked = database.parked_failures();
    let metrics = Metrics::new();
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    for flow in FLOWS {
        let queue = wiring::flow_queue(&database, flow)?;
        let (p, s, m, r) = (ports.clone(), specs.clone(), &metrics, stopped.clone());
        let task = match flow {
            Flow::OpportunityWon => spawn_consumer(
                queue,
                OpportunityWon::new(p, s, Default::default())?,
                parked.clone(),
                m,
                r,
            ),
            Flow::AccountOnboarding => spawn_consumer(
                queue,
                AccountOnboarding::new(p, s, Default::default())?,
                parked.clone(),
                m,
                r,
            ),
            Flow::AccountSync => spawn_consumer(
                queue,
                AccountSync::new(p, s, Default::default())?,
                parked.clone(),
                m,
                r,
            ),
            Flow::InvoiceStatus => spawn_consumer(
                queue,
                InvoiceStatus::new(p, s, Default::default())?,
                parked.clone(),
                m,
                r,
            ),
            Flow::CreditAlerts => spawn_consumer(
                queue,
                CreditAlerts::new(p, s, Default::default())?,
                parked.clone(),
                m,
                r,
            ),
            other => return Err(format!("no handler for the {other} flow").into()),
        };
        tasks.push(task);
    }
    // Until the coordinator closes our standard input (or goes away): a plain thread blocks
    // on it and says so when it ends.
    let (closed_tx, mut closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = std::io::sink();
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut sink);
        let _ = closed_tx.send(());
    });
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = &mut closed => break,
            _ = tick.tick() => write_metrics(&args.metrics, &metrics),
        }
    }
    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    write_metrics(&args.metrics, &metrics);
    Ok(())
}
