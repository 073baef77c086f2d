//! The state the operator commands read and act on, opened once: the embedded store and queues
//! of a data folder (what `ledgerforce local` writes). Opening lives in [`Store::open`] alone so
//! another source (DynamoDB/SQS named by a config file) slots in there.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lf_domain::port::AuditAction;
use lf_domain::{Flow, PortError, SystemClock};
use lf_embedded::{
    Database, DeadLetter, SqliteAuditLog, SqliteParkedFailures, SqliteQueue, SqliteSyncState,
    SqliteXrefStore,
};
use lf_flows::Metrics;
use lf_flows::overview::{Overview, OverviewSources, RecordHistory};
use lf_flows::replay::{FlowQueue, ReplayFilter, ReplayOptions, ReplayReport, replay};
use lf_intake::{PollStream, RoutingTable};

use crate::CliError;
use crate::local::stack::{FLOWS, MAX_RECEIVES, database_path, dead_letter_name};

/// The most parked failures an overview lists.
const PARKED_SHOWN: usize = 200;

/// The most audit entries read per record for a history.
const HISTORY_LIMIT: usize = 200;

/// The stores and queues of one deployment (here: one data folder), and the counters of the
/// consumers when they run in this process.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub(crate) queues: Vec<FlowQueue<SqliteQueue>>,
    pub(crate) parked: SqliteParkedFailures,
    state: SqliteSyncState,
    audit: SqliteAuditLog,
    xref: SqliteXrefStore,
    /// The change streams of the poller, for their watermarks.
    streams: Vec<String>,
    metrics: Option<Metrics>,
    /// The data folder (its reports: the last drift check's).
    pub(crate) data_dir: PathBuf,
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
        let streams = PollStream::from_routes(&RoutingTable::standard().only(&FLOWS))
            .iter()
            .map(PollStream::name)
            .collect();
        Ok(Store {
            queues,
            parked: database.parked_failures(),
            state: database.sync_state(),
            audit: database.audit_log(),
            xref: database.xref_store(),
            streams,
            metrics,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// The overview (API usage left to the caller, who knows the endpoints).
    pub(crate) async fn overview(&self) -> Overview {
        let tally: Option<Vec<(Flow, AuditAction, u64)>> = self.audit.tally().await.ok();
        Overview::read(OverviewSources {
            queues: &self.queues,
            parked: &self.parked,
            state: &self.state,
            streams: &self.streams,
            metrics: self.metrics.as_ref(),
            audit_tally: tally.as_deref(),
            parked_limit: PARKED_SHOWN,
        })
        .await
    }

    /// The history of one record across both systems.
    pub(crate) async fn history(&self, id: &str) -> Result<RecordHistory, PortError> {
        RecordHistory::read(&self.audit, &self.xref, id, HISTORY_LIMIT).await
    }

    /// Replays what `filter` selects onto the flow queues.
    pub(crate) async fn replay(&self, filter: &ReplayFilter) -> Result<ReplayReport, PortError> {
        replay(
            &self.parked,
            &self.queues,
            filter,
            &ReplayOptions::default(),
        )
        .await
    }
}
