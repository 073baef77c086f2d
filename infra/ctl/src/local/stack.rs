//! The whole system in one process: both sandboxes, the webhook endpoints, the flow consumers
//! on the durable embedded queues and store, and the change poller. `ledgerforce local` runs it
//! until stopped; `ledgerforce demo` runs it, drives it and checks what it did.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lf_domain::port::IdempotencyConfig;
use lf_domain::{Clock, CorrelationId, Flow, RetryPolicy, SalesforceId, SystemClock};
use lf_embedded::{
    Database, DeadLetter, SqliteAuditLog, SqliteIdempotencyStore, SqliteParkedFailures,
    SqliteQueue, SqliteSyncState, SqliteXrefStore,
};
use lf_flows::{
    AccountOnboarding, AccountSync, Consumer, ConsumerOptions, CreditAlerts, FlowHandler,
    FlowPorts, InvoiceStatus, Metrics, OpportunityWon,
};
use lf_intacct::{IntacctClient, IntacctConfig, SmartEventVerifier};
use lf_intake::{
    ChangePoller, FlowQueues, Intake, IntakeConfig, PollStream, PollerConfig, RoutingTable,
    SalesforceWebhookConfig,
};
use lf_mapping::{SpecBundle, SpecSet};
use lf_salesforce::{Credentials, SalesforceClient, SalesforceConfig};
use lf_sandbox_intacct as intacct_sandbox;
use lf_sandbox_salesforce as salesforce_sandbox;
use secrecy::SecretString;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::reconcile::{self, LocalReconciler};
use super::status::{self, StatusSources};
use crate::CliError;
use crate::operate::Store;
use crate::sandbox::salesforce::write_key;

/// The ports every local flow handler shares: the real clients on the sandboxes, the
/// embedded store.
pub(crate) type LocalPorts = FlowPorts<
    SalesforceClient,
    IntacctClient,
    SqliteXrefStore,
    SqliteIdempotencyStore,
    SqliteSyncState,
    SqliteAuditLog,
>;

/// The flows `ledgerforce local` runs, each on its own queue (as each has its own SQS queue and
/// function in AWS).
pub(crate) const FLOWS: [Flow; 5] = [
    Flow::OpportunityWon,
    Flow::AccountOnboarding,
    Flow::AccountSync,
    Flow::InvoiceStatus,
    Flow::CreditAlerts,
];

/// Receives before a message moves to its flow's dead-letter queue (the SAM template's
/// `maxReceiveCount`).
pub(crate) const MAX_RECEIVES: u32 = 5;

/// How to start the system.
#[derive(Debug, Clone)]
pub(crate) struct StackOptions {
    /// 0 = any free port, for each of the three.
    pub(crate) salesforce_port: u16,
    pub(crate) intacct_port: u16,
    pub(crate) webhook_port: u16,
    /// Where the store and the queues live (created if missing).
    pub(crate) data_dir: PathBuf,
    /// How often the change poller runs.
    pub(crate) poll_interval: Duration,
    /// Mapping specs to use instead of the shipped ones.
    pub(crate) mappings: Option<PathBuf>,
}

/// The running system. [`Stack::shutdown`] stops it in order: intake first, then the workers,
/// then the sandboxes.
#[derive(Debug)]
pub(crate) struct Stack {
    /// Shared with the status page; [`Stack::shutdown`] stops them last.
    pub(crate) salesforce: Arc<salesforce_sandbox::Sandbox>,
    pub(crate) intacct: Arc<intacct_sandbox::Sandbox>,
    pub(crate) database: Database,
    /// The flow queues, in the order of [`FLOWS`].
    pub(crate) queues: Vec<(Flow, SqliteQueue)>,
    /// Where the Salesforce sandbox's JWT signing key was written (removed at shutdown).
    pub(crate) key_file: PathBuf,
    pub(crate) data_dir: PathBuf,
    daily_limit: u64,
    /// Where the Salesforce sandbox sends Outbound Messages and the Intacct sandbox Smart Events
    /// (the shared tokens shown as `<token>`).
    outbound_url: Option<String>,
    smart_event_url: Option<String>,
    /// The webhook endpoints' address.
    pub(crate) webhook_addr: SocketAddr,
    /// What the flow consumers did, per flow.
    pub(crate) metrics: Metrics,
    /// The flows' ports (the demo reads and checks through the same clients).
    pub(crate) ports: Arc<LocalPorts>,
    pub(crate) parked: SqliteParkedFailures,
    /// The month-end revenue reconciliation (the schedule's and the demo's).
    pub(crate) reconciler: Arc<LocalReconciler>,
    /// The compiled mapping specs the flows run on.
    pub(crate) specs: Arc<SpecSet>,
    /// What the status page and the operator console show.
    pub(crate) status: Arc<StatusSources>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Retries of the local clients: quick, since the sandboxes are on loopback.
const LOCAL_RETRY: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(50),
    cap: Duration::from_secs(2),
    max_attempts: 6,
};

/// A fresh shared token for one run: both ends are configured with it at start.
fn new_token() -> String {
    CorrelationId::new_random().to_string().replace('-', "")
}

fn salesforce_client(org: &salesforce_sandbox::Sandbox) -> Result<SalesforceClient, CliError> {
    Ok(SalesforceClient::new(salesforce_config(org)?)?)
}

/// The configuration of a client of a Salesforce sandbox, as the local stack uses it.
pub(crate) fn salesforce_config(
    org: &salesforce_sandbox::Sandbox,
) -> Result<SalesforceConfig, CliError> {
    let c = org.credentials();
    let mut config = SalesforceConfig::new(
        url::Url::parse(&org.base_url())?,
        Credentials::JwtBearer {
            consumer_key: c.consumer_key.clone(),
            username: c.username.clone(),
            private_key_pem: SecretString::from(c.private_key_pem.clone()),
            audience: None,
        },
    );
    config.retry = LOCAL_RETRY;
    Ok(config)
}

fn intacct_client(company: &intacct_sandbox::Sandbox) -> Result<IntacctClient, CliError> {
    Ok(IntacctClient::new(intacct_config(company))?)
}

/// The configuration of a client of an Intacct sandbox, as the local stack uses it.
pub(crate) fn intacct_config(company: &intacct_sandbox::Sandbox) -> IntacctConfig {
    let c = company.credentials();
    let mut config = IntacctConfig::new(
        company.endpoint_url(),
        lf_intacct::Credentials {
            sender_id: c.sender_id.clone(),
            sender_password: SecretString::from(c.sender_password.clone()),
            company_id: c.company_id.clone(),
            user_id: c.user_id.clone(),
            user_password: SecretString::from(c.user_password.clone()),
        },
    );
    config.retry = LOCAL_RETRY;
    config
}

/// The mapping specs: `dir`, else the shipped ones; refused whole if any does not compile.
pub(crate) fn load_specs(dir: Option<&Path>) -> Result<SpecSet, CliError> {
    let bundle = match dir {
        Some(dir) => SpecBundle::from_dir(dir)?,
        None => SpecBundle::shipped(),
    };
    Ok(bundle.compile()?)
}

/// Runs `consumer` until `stop` turns true (it finishes the batch in hand first).
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
            max_receives: Some(MAX_RECEIVES),
            wait: Duration::from_millis(200),
            backoff: RetryPolicy {
                base: Duration::from_millis(500),
                cap: Duration::from_secs(30),
                max_attempts: u32::MAX,
            },
            metrics: metrics.clone(),
            ..Default::default()
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

/// The file of the embedded store and queues inside the data folder.
pub(crate) fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("ledgerforce.db")
}

/// The name of a flow's dead-letter queue.
pub(crate) fn dead_letter_name(flow: Flow) -> String {
    format!("{flow}-dlq")
}

impl Stack {
    /// Starts everything; on error, what was started is stopped again (dropping a sandbox
    /// stops it).
    pub(crate) async fn start(options: &StackOptions) -> Result<Stack, CliError> {
        std::fs::create_dir_all(&options.data_dir).map_err(|e| {
            format!(
                "cannot create the data folder {}: {e}",
                options.data_dir.display()
            )
        })?;
        let path = database_path(&options.data_dir);
        let database =
            tokio::task::spawn_blocking(move || Database::open(path, Arc::new(SystemClock)))
                .await??;
        let queues = FLOWS
            .iter()
            .map(|&flow| {
                let queue = database.queue_with_dead_letter(
                    flow.as_str(),
                    DeadLetter {
                        queue: dead_letter_name(flow),
                        max_receives: MAX_RECEIVES,
                    },
                )?;
                Ok((flow, queue))
            })
            .collect::<Result<Vec<_>, lf_embedded::EmbeddedError>>()?;

        // The webhook address first: both sandboxes are configured to deliver to it.
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.webhook_port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", options.webhook_port))?;
        let webhook_addr = listener.local_addr()?;
        let outbound_token = new_token();
        let smart_event_token = new_token();

        let salesforce_config = salesforce_sandbox::SandboxConfig {
            port: options.salesforce_port,
            seed: salesforce_sandbox::DataSet::Demo,
            ..Default::default()
        };
        let salesforce_config_limit = salesforce_config.daily_limit;
        let salesforce = Arc::new(salesforce_sandbox::Sandbox::start(salesforce_config).await?);
        let key_file = options.data_dir.join("salesforce-jwt-key.pem");
        write_key(&key_file, &salesforce.credentials().private_key_pem)
            .map_err(|e| format!("cannot write the JWT key to {}: {e}", key_file.display()))?;
        salesforce.set_outbound_url(&format!(
            "http://{webhook_addr}/salesforce/{outbound_token}"
        ));

        let intacct = Arc::new(
            intacct_sandbox::Sandbox::start(intacct_sandbox::SandboxConfig {
                port: options.intacct_port,
                seed: intacct_sandbox::DataSet::Demo,
                smart_events: Some(intacct_sandbox::SmartEventConfig::new(
                    format!("http://{webhook_addr}/intacct"),
                    smart_event_token.clone(),
                )),
                ..Default::default()
            })
            .await?,
        );

        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let specs = Arc::new(load_specs(options.mappings.as_deref())?);
        let salesforce_port = salesforce_client(&salesforce)?;
        let intacct_port = intacct_client(&intacct)?;
        let ports = Arc::new(FlowPorts {
            salesforce: salesforce_port.clone(),
            intacct: intacct_port.clone(),
            xref: database.xref_store(),
            idempotency: database.idempotency_store(IdempotencyConfig::default()),
            state: database.sync_state(),
            audit: database.audit_log(),
            clock: clock.clone(),
        });
        let parked = database.parked_failures();
        let metrics = Metrics::new();
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();

        // One consumer per flow queue, each with its handler.
        for (flow, queue) in &queues {
            let task = match flow {
                Flow::OpportunityWon => spawn_consumer(
                    queue.clone(),
                    OpportunityWon::new(ports.clone(), specs.clone(), Default::default())?,
                    parked.clone(),
                    &metrics,
                    stopped.clone(),
                ),
                Flow::AccountOnboarding => spawn_consumer(
                    queue.clone(),
                    AccountOnboarding::new(ports.clone(), specs.clone(), Default::default())?,
                    parked.clone(),
                    &metrics,
                    stopped.clone(),
                ),
                Flow::AccountSync => spawn_consumer(
                    queue.clone(),
                    AccountSync::new(ports.clone(), specs.clone(), Default::default())?,
                    parked.clone(),
                    &metrics,
                    stopped.clone(),
                ),
                Flow::InvoiceStatus => spawn_consumer(
                    queue.clone(),
                    InvoiceStatus::new(ports.clone(), specs.clone(), Default::default())?,
                    parked.clone(),
                    &metrics,
                    stopped.clone(),
                ),
                Flow::CreditAlerts => spawn_consumer(
                    queue.clone(),
                    CreditAlerts::new(ports.clone(), specs.clone(), Default::default())?,
                    parked.clone(),
                    &metrics,
                    stopped.clone(),
                ),
                other => return Err(format!("no local handler for the {other} flow").into()),
            };
            tasks.push(task);
        }

        // The webhooks, with the org and tokens an admin would configure.
        let routes = RoutingTable::standard().only(&FLOWS);
        let mut flow_queues = FlowQueues::new();
        for (flow, queue) in &queues {
            flow_queues = flow_queues.with(*flow, queue.clone());
        }
        let org = SalesforceId::parse(&salesforce.credentials().org_id)?;
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
        let status = Arc::new(StatusSources {
            salesforce: salesforce.clone(),
            intacct: intacct.clone(),
            store: Store::from_database(&database, Some(metrics.clone()), &options.data_dir)?,
        });
        let reconciler = Arc::new(LocalReconciler::new(
            ports.clone(),
            specs.clone(),
            &options.data_dir,
        )?);
        tasks.push(tokio::spawn(reconciler.clone().schedule(stopped.clone())));
        let app = status::router(status.clone())
            .merge(reconcile::router(reconciler.clone()))
            .merge(lf_intake::router(intake));
        let mut stop_serving = stopped.clone();
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

        // The poller, on a short interval: a lost webhook is caught within it.
        let poller = ChangePoller::new(
            salesforce_port,
            intacct_port,
            database.sync_state(),
            flow_queues,
            PollStream::from_routes(&routes),
            PollerConfig::default(),
            clock,
        )?;
        let interval = options.poll_interval;
        let mut stop_polling = stopped;
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop_polling.wait_for(|s| *s) => break,
                    _ = tokio::time::sleep(interval) => {}
                }
                let report = poller.poll_once().await;
                if report.failed() {
                    tracing::warn!(
                        queued = report.queued(),
                        "a poll run had failing streams: {report:?}"
                    );
                } else if report.queued() > 0 {
                    tracing::info!(queued = report.queued(), "the poller queued changes");
                }
            }
        }));

        Ok(Stack {
            daily_limit: salesforce_config_limit,
            salesforce,
            intacct,
            database,
            queues,
            key_file,
            data_dir: options.data_dir.clone(),
            outbound_url: Some(format!("http://{webhook_addr}/salesforce/<token>")),
            smart_event_url: Some(format!("http://{webhook_addr}/intacct")),
            webhook_addr,
            metrics,
            ports,
            parked,
            reconciler,
            specs,
            status,
            stop,
            tasks,
        })
    }

    /// The Salesforce sandbox's daily API allowance.
    pub(crate) fn salesforce_daily_limit(&self) -> u64 {
        self.daily_limit
    }

    /// Where the Salesforce sandbox sends Outbound Messages.
    pub(crate) fn outbound_url(&self) -> Option<&str> {
        self.outbound_url.as_deref()
    }

    /// Where the Intacct sandbox posts Smart Events.
    pub(crate) fn smart_event_url(&self) -> Option<&str> {
        self.smart_event_url.as_deref()
    }

    /// What both sandboxes counted so far, in one line.
    pub(crate) fn usage(&self) -> String {
        let outbound = self.salesforce.outbound_stats();
        let usage = self.intacct.usage();
        let events = self.intacct.smart_event_stats().unwrap_or_default();
        format!(
            "Salesforce {} API calls, outbound messages delivered {} (pending {}); \
             Intacct {} requests, {} API transactions, smart events delivered {} (pending {})",
            self.salesforce.api_calls(),
            outbound.delivered,
            outbound.pending(),
            usage.requests,
            usage.billable(),
            events.delivered,
            events.pending(),
        )
    }

    /// Stops the intake and the workers (each finishes what it holds), then the sandboxes,
    /// and removes the key file.
    pub(crate) async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        // The status page held the last other handles; it stopped with the server (and the
        // console, which the caller stops first).
        drop(self.status);
        match Arc::try_unwrap(self.salesforce) {
            Ok(sandbox) => sandbox.shutdown().await,
            Err(_) => tracing::warn!("the Salesforce sandbox is still in use; dropped instead"),
        }
        match Arc::try_unwrap(self.intacct) {
            Ok(sandbox) => sandbox.shutdown().await,
            Err(_) => tracing::warn!("the Intacct sandbox is still in use; dropped instead"),
        }
        let _ = std::fs::remove_file(&self.key_file);
    }
}
