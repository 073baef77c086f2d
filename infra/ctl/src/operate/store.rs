//! The state the operator commands read and act on, opened once: the embedded store and queues
//! of a data folder (what `ledgerforce local` writes), or a deployment's DynamoDB tables and SQS
//! queues with their dead-letter queues (the config's `[store] kind = "aws"`). Both are the same
//! ports, read by one generic code path ([`Ports`]); [`Store`] only says which ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lf_aws::{DynamoAuditLog, DynamoParkedFailures, DynamoSyncState, DynamoXrefStore, SqsQueue};
use lf_domain::port::{AuditAction, AuditLog, ParkedFailures, Queue, SyncState, XrefStore};
use lf_domain::{Flow, PortError, SystemClock};
use lf_embedded::{
    Database, DeadLetter, SqliteAuditLog, SqliteParkedFailures, SqliteQueue, SqliteSyncState,
    SqliteXrefStore,
};
use lf_flows::Metrics;
use lf_flows::overview::{Overview, OverviewSources, RecordHistory};
use lf_flows::replay::{FlowQueue, ReplayFilter, ReplayOptions, ReplayReport, replay};
use lf_intake::{PollStream, RoutingTable};
use lf_runtime::{ColdStart, RuntimeConfig};

use crate::CliError;
use crate::local::stack::{FLOWS, MAX_RECEIVES, database_path, dead_letter_name};

/// The most parked failures an overview lists.
const PARKED_SHOWN: usize = 200;

/// The most audit entries read per record for a history.
const HISTORY_LIMIT: usize = 200;

/// What a data folder read without its consumers does not hold.
const EMBEDDED_NOTES: &[&str] = &[
    "Messages processed and last runs are counted by the consumers of a running \
     `ledgerforce local` (its console shows them), not kept in the data folder.",
];

/// What a deployment's tables and queues do not hold.
const AWS_NOTES: &[&str] = &[
    "Messages processed, last runs and API usage are not kept in DynamoDB or SQS: the functions \
     emit them as CloudWatch metrics (namespace Ledgerforce), which this command does not read.",
    "Audit entries are not counted per flow here: that would scan the whole audit table; \
     `ledgerforce audit RECORD_ID` reads one record's history.",
];

/// The ports the operator commands use, of one backend.
#[derive(Debug, Clone)]
struct Ports<Q, P, S, A, X> {
    queues: Vec<FlowQueue<Q>>,
    parked: P,
    state: S,
    audit: A,
    xref: X,
}

impl<Q: Queue, P: ParkedFailures, S: SyncState, A: AuditLog, X: XrefStore> Ports<Q, P, S, A, X> {
    async fn overview(
        &self,
        streams: &[String],
        metrics: Option<&Metrics>,
        audit_tally: Option<&[(Flow, AuditAction, u64)]>,
    ) -> Overview {
        Overview::read(OverviewSources {
            queues: &self.queues,
            parked: &self.parked,
            state: &self.state,
            streams,
            metrics,
            audit_tally,
            parked_limit: PARKED_SHOWN,
        })
        .await
    }

    async fn history(&self, id: &str) -> Result<RecordHistory, PortError> {
        RecordHistory::read(&self.audit, &self.xref, id, HISTORY_LIMIT).await
    }

    async fn replay(&self, filter: &ReplayFilter) -> Result<ReplayReport, PortError> {
        replay(
            &self.parked,
            &self.queues,
            filter,
            &ReplayOptions::default(),
        )
        .await
    }
}

type EmbeddedPorts =
    Ports<SqliteQueue, SqliteParkedFailures, SqliteSyncState, SqliteAuditLog, SqliteXrefStore>;
type AwsPorts =
    Ports<SqsQueue, DynamoParkedFailures, DynamoSyncState, DynamoAuditLog, DynamoXrefStore>;

#[derive(Debug, Clone)]
enum Backend {
    Embedded(EmbeddedPorts),
    Aws(AwsPorts),
}

/// The stores and queues of one deployment (a data folder, or a deployment's tables and
/// queues), and the counters of the consumers when they run in this process.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    backend: Backend,
    /// The change streams of the poller, for their watermarks.
    streams: Vec<String>,
    metrics: Option<Metrics>,
    /// The data folder of an embedded store (its reports: the last drift check's).
    pub(crate) data_dir: Option<PathBuf>,
}

impl Store {
    /// Opens the store `ledgerforce local` keeps in `data_dir`. Refuses a folder without one
    /// (a typo would otherwise show an empty, healthy-looking system).
    pub(crate) async fn open(data_dir: &Path) -> Result<Store, CliError> {
        let path = database_path(data_dir);
        if !path.is_file() {
            return Err(format!(
                "no ledgerforce store in {} (expected {}); give the --data-dir that \
                 `ledgerforce local` uses",
                data_dir.display(),
                path.display()
            )
            .into());
        }
        let database =
            tokio::task::spawn_blocking(move || Database::open(path, Arc::new(SystemClock)))
                .await??;
        Store::from_database(&database, None, data_dir)
    }

    /// The store over an open database (the running stack's, with its consumers' `metrics`).
    pub(crate) fn from_database(
        database: &Database,
        metrics: Option<Metrics>,
        data_dir: &Path,
    ) -> Result<Store, CliError> {
        let queues = FLOWS
            .iter()
            .map(|&flow| {
                Ok(FlowQueue {
                    flow,
                    queue: database.queue_with_dead_letter(
                        flow.as_str(),
                        DeadLetter {
                            queue: dead_letter_name(flow),
                            max_receives: MAX_RECEIVES,
                        },
                    )?,
                    dead_letter: database.queue(&dead_letter_name(flow))?,
                })
            })
            .collect::<Result<Vec<_>, lf_embedded::EmbeddedError>>()?;
        Ok(Store {
            backend: Backend::Embedded(Ports {
                queues,
                parked: database.parked_failures(),
                state: database.sync_state(),
                audit: database.audit_log(),
                xref: database.xref_store(),
            }),
            streams: streams(&RoutingTable::standard().only(&FLOWS)),
            metrics,
            data_dir: Some(data_dir.to_path_buf()),
        })
    }

    /// Opens a deployment's tables and the queues of the flows it names, each with the
    /// dead-letter queue its redrive policy points at (found now, so a queue without one is
    /// named before anything is read or replayed).
    pub(crate) async fn open_deployment(config: &RuntimeConfig) -> Result<Store, CliError> {
        let cold = ColdStart::new(config.clone()).await;
        let flows = cold.flows();
        if flows.is_empty() {
            return Err(
                "store.queue_urls names no flow queue: give the queue URL of each \
                        deployed flow ([store.queue_urls] opportunity-won = \"https://sqs…\")"
                    .into(),
            );
        }
        let mut queues = Vec::with_capacity(flows.len());
        for flow in flows {
            let queue = cold.queue(flow)?;
            let dead_letter = queue
                .dead_letter_queue()
                .await
                .map_err(|e| {
                    format!(
                        "the {flow} queue ({}): its dead-letter queue cannot be found: {e}",
                        queue.url()
                    )
                })?
                .ok_or_else(|| {
                    format!(
                        "the {flow} queue ({}) has no dead-letter queue (no RedrivePolicy); \
                         template.yaml gives every flow queue one: is this the right URL?",
                        queue.url()
                    )
                })?;
            queues.push(FlowQueue {
                flow,
                queue,
                dead_letter,
            });
        }
        Ok(Store {
            backend: Backend::Aws(Ports {
                queues,
                parked: cold.parked(),
                state: cold.sync_state(),
                audit: cold.audit(),
                xref: cold.xref(),
            }),
            streams: streams(&cold.routes()),
            metrics: None,
            data_dir: None,
        })
    }

    /// The overview (API usage left to the caller, who knows the endpoints), with notes on
    /// what this store does not hold.
    pub(crate) async fn overview(&self) -> Overview {
        let metrics = self.metrics.as_ref();
        let (mut overview, notes) = match &self.backend {
            Backend::Embedded(ports) => {
                let tally = ports.audit.tally().await.ok();
                let overview = ports
                    .overview(&self.streams, metrics, tally.as_deref())
                    .await;
                (
                    overview,
                    if metrics.is_some() {
                        &[][..]
                    } else {
                        EMBEDDED_NOTES
                    },
                )
            }
            Backend::Aws(ports) => (
                ports.overview(&self.streams, metrics, None).await,
                AWS_NOTES,
            ),
        };
        overview.notes = notes.iter().map(|&n| n.to_owned()).collect();
        overview
    }

    /// The history of one record across both systems.
    pub(crate) async fn history(&self, id: &str) -> Result<RecordHistory, PortError> {
        match &self.backend {
            Backend::Embedded(ports) => ports.history(id).await,
            Backend::Aws(ports) => ports.history(id).await,
        }
    }

    /// Replays what `filter` selects onto the flow queues.
    pub(crate) async fn replay(&self, filter: &ReplayFilter) -> Result<ReplayReport, PortError> {
        match &self.backend {
            Backend::Embedded(ports) => ports.replay(filter).await,
            Backend::Aws(ports) => ports.replay(filter).await,
        }
    }
}

/// The names of the poller's change streams over `routes`, whose watermarks are shown.
fn streams(routes: &RoutingTable) -> Vec<String> {
    PollStream::from_routes(routes)
        .iter()
        .map(PollStream::name)
        .collect()
}
