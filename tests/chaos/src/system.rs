//! The coordinator's half of the system, in one process: both sandboxes (seeded faults, the
//! webhook deliveries duplicated, reordered and dropped), the webhook intake on the flow
//! queues, and the change poller. The consumers run in worker processes ([`crate::worker`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lf_domain::{Clock, CorrelationId, Flow, SalesforceId, SystemClock};
use lf_embedded::{Database, SqliteQueue, SqliteSyncState};
use lf_intacct::{IntacctClient, SmartEventVerifier};
use lf_intake::{
    ChangePoller, FlowQueues, Intake, IntakeConfig, PollStream, PollerConfig, RoutingTable,
    SalesforceWebhookConfig,
};
use lf_salesforce::SalesforceClient;
use lf_sandbox_core::PushConfig;
use lf_sandbox_intacct as intacct_sandbox;
use lf_sandbox_salesforce as salesforce_sandbox;
use secrecy::SecretString;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Error;
use crate::wiring::{self, Endpoints, FLOWS};

/// How the webhook deliveries misbehave.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryFaults {
    /// Probability that an acknowledged delivery is posted twice more (arrives ×3).
    pub triple: f64,
    /// Probability that a delivery is never attempted.
    pub drop: f64,
    /// Deliveries wait up to this before their first attempt, so they arrive out of order.
    pub reorder: Duration,
}

/// One flow's queue and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct FlowQueue {
    pub flow: Flow,
    pub queue: SqliteQueue,
    pub dead_letter: SqliteQueue,
}

type Poller = ChangePoller<SalesforceClient, IntacctClient, SqliteSyncState, SqliteQueue>;

/// The running coordinator side.
#[derive(Debug)]
pub struct System {
    pub dir: PathBuf,
    pub database: Database,
    pub queues: Vec<FlowQueue>,
    pub salesforce: Arc<salesforce_sandbox::Sandbox>,
    pub intacct: Arc<intacct_sandbox::Sandbox>,
    /// What the workers are given.
    pub endpoints_file: PathBuf,
    /// The accountant's client: the workload's own Intacct edits.
    pub accountant: IntacctClient,
    poller: Arc<Poller>,
    /// Poll runs made and changes they queued.
    pub polls: Arc<AtomicU64>,
    pub polled: Arc<AtomicU64>,
    /// Poll streams the Salesforce client held back because the daily allowance ran low.
    pub held_back: Arc<AtomicU64>,
    daily_limit: u64,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn new_token() -> String {
    CorrelationId::new_random().to_string().replace('-', "")
}

fn push_config(url: String, faults: DeliveryFaults, seed: u64) -> PushConfig {
    PushConfig {
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        duplicate_probability: faults.triple,
        duplicate_copies: 2,
        drop_probability: faults.drop,
        reorder_window: faults.reorder,
        seed,
        ..PushConfig::new(url)
    }
}

/// Writes the JWT key readable by its owner only.
fn write_key(path: &Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(pem.as_bytes())
}

impl System {
    /// Starts the sandboxes (no fault rates yet: [`crate::run`] sets them once the workers
    /// are up), the intake and the poller, over a new database in `dir`.
    pub async fn start(dir: &Path, seed: u64, delivery: DeliveryFaults) -> Result<Self, Error> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let db_path = dir.join("ledgerforce.db");
        if db_path.exists() {
            return Err(format!("{} holds a store already", dir.display()).into());
        }
        let path = db_path.clone();
        let database =
            tokio::task::spawn_blocking(move || Database::open(path, Arc::new(SystemClock)))
                .await??;
        let queues = FLOWS
            .iter()
            .map(|&flow| {
                Ok(FlowQueue {
                    flow,
                    queue: wiring::flow_queue(&database, flow)?,
                    dead_letter: database.queue(&wiring::dead_letter_name(flow))?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let webhook = listener.local_addr()?;
        let outbound_token = new_token();
        let smart_event_token = new_token();
        let salesforce = Arc::new(
            salesforce_sandbox::Sandbox::start(salesforce_sandbox::SandboxConfig {
                seed: salesforce_sandbox::DataSet::Demo,
                fault_seed: seed,
                latency: Duration::from_millis(100),
                slow_response: wiring::REQUEST_TIMEOUT * 2,
                outbound: Some(push_config(
                    format!("http://{webhook}/salesforce/{outbound_token}"),
                    delivery,
                    seed ^ 0x5f,
                )),
                ..Default::default()
            })
            .await?,
        );
        let intacct = Arc::new(
            intacct_sandbox::Sandbox::start(intacct_sandbox::SandboxConfig {
                seed: intacct_sandbox::DataSet::Demo,
                fault_seed: seed.wrapping_add(1),
                latency: Duration::from_millis(100),
                smart_events: Some(intacct_sandbox::SmartEventConfig {
                    delivery: push_config(
                        format!("http://{webhook}/intacct"),
                        delivery,
                        seed ^ 0x1a,
                    ),
                    ..intacct_sandbox::SmartEventConfig::new("", smart_event_token.clone())
                }),
                ..Default::default()
            })
            .await?,
        );

        let key_file = dir.join("salesforce-jwt-key.pem");
        write_key(&key_file, &salesforce.credentials().private_key_pem)
            .map_err(|e| format!("cannot write {}: {e}", key_file.display()))?;
        let sf = salesforce.credentials();
        let ia = intacct.credentials();
        let endpoints = Endpoints {
            database: db_path,
            salesforce_url: salesforce.base_url(),
            consumer_key: sf.consumer_key.clone(),
            username: sf.username.clone(),
            key_file,
            intacct_url: intacct.endpoint_url(),
            sender_id: ia.sender_id.clone(),
            sender_password: ia.sender_password.clone(),
            company_id: ia.company_id.clone(),
            user_id: ia.user_id.clone(),
            user_password: ia.user_password.clone(),
        };
        let endpoints_file = dir.join("endpoints.json");
        std::fs::write(&endpoints_file, serde_json::to_vec_pretty(&endpoints)?)?;

        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let routes = RoutingTable::standard().only(&FLOWS);
        let mut flow_queues = FlowQueues::new();
        for q in &queues {
            flow_queues = flow_queues.with(q.flow, q.queue.clone());
        }
        let org = SalesforceId::parse(&sf.org_id)?;
        let intake = Intake::new(
            IntakeConfig {
                routes: routes.clone(),
                salesforce: Some(SalesforceWebhookConfig::new(
                    vec![org],
                    SecretString::from(outbound_token),
                )),
                intacct: Some(SmartEventVerifier::new(SecretString::from(
                    smart_event_token,
                ))?),
            },
            flow_queues.clone(),
            clock.clone(),
        )?;
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut stop_serving = stopped.clone();
        let app = lf_intake::router(intake);
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_serving.wait_for(|s| *s).await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the webhook server stopped");
            }
        }));

        // The poller: changes two seconds old are settled (both sides stamp whole seconds).
        let poller = Arc::new(ChangePoller::new(
            endpoints.salesforce(Duration::from_secs(2))?,
            endpoints.intacct(Some(&database))?,
            database.sync_state(),
            flow_queues,
            PollStream::from_routes(&routes),
            PollerConfig {
                intacct_settle: Duration::from_secs(2),
                ..PollerConfig::default()
            },
            clock,
        )?);
        let polls = Arc::new(AtomicU64::new(0));
        let polled = Arc::new(AtomicU64::new(0));
        let held_back = Arc::new(AtomicU64::new(0));
        {
            let (poller, polls, polled, held) = (
                poller.clone(),
                polls.clone(),
                polled.clone(),
                held_back.clone(),
            );
            let mut stop_polling = stopped;
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop_polling.wait_for(|s| *s) => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    let report = poller.poll_once().await;
                    let refused = report
                        .streams
                        .iter()
                        .filter(|s| s.error.as_deref().is_some_and(|e| e.contains("allowance")))
                        .count();
                    held.fetch_add(refused as u64, Ordering::Relaxed);
                    polls.fetch_add(1, Ordering::Relaxed);
                    polled.fetch_add(report.queued() as u64, Ordering::Relaxed);
                }
            }));
        }
        let accountant = endpoints.intacct(None)?;
        Ok(System {
            dir: dir.to_owned(),
            database,
            queues,
            salesforce,
            intacct,
            endpoints_file,
            accountant,
            poller,
            polls,
            polled,
            held_back,
            daily_limit: salesforce_sandbox::SandboxConfig::default().daily_limit,
            stop,
            tasks,
        })
    }

    /// Messages waiting or in flight on every flow queue, and dead letters.
    pub async fn backlog(&self) -> Result<(u64, u64), Error> {
        use lf_domain::port::Queue;
        let (mut live, mut dead) = (0, 0);
        for q in &self.queues {
            let d = q.queue.depth().await?;
            live += d.visible + d.in_flight;
            let d = q.dead_letter.depth().await?;
            dead += d.visible + d.in_flight;
        }
        Ok((live, dead))
    }

    /// Webhook deliveries the sandboxes still have to make.
    pub fn undelivered(&self) -> u64 {
        self.salesforce.outbound_stats().pending()
            + self.intacct.smart_event_stats().map_or(0, |s| s.pending())
    }

    /// The Salesforce org's daily API allowance.
    pub fn salesforce_daily_limit(&self) -> u64 {
        self.daily_limit
    }

    /// Polls runs completed so far.
    pub fn poll_runs(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }

    /// One poll run now, besides the schedule; how many changes it queued.
    pub async fn poll_now(&self) -> usize {
        self.poller.poll_once().await.queued()
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        drop(self.poller);
        if let Ok(sandbox) = Arc::try_unwrap(self.salesforce) {
            sandbox.shutdown().await;
        }
        if let Ok(sandbox) = Arc::try_unwrap(self.intacct) {
            sandbox.shutdown().await;
        }
    }
}
