//! The whole system in one process: both sandboxes, the webhook endpoints, the flow consumers
//! on the durable embedded queues and store, and the change poller. `ledgerforce local` runs it
//! until stopped; `ledgerforce demo` runs it, drives it and checks what it did.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lf_domain::{Flow, SystemClock};
use lf_embedded::{Database, DeadLetter, SqliteQueue};
use lf_sandbox_intacct as intacct_sandbox;
use lf_sandbox_salesforce as salesforce_sandbox;

use crate::CliError;
use crate::sandbox::salesforce::write_key;

/// The flows `ledgerforce local` runs, each on its own queue (as each has its own SQS queue and
/// function in AWS).
pub(crate) const FLOWS: [Flow; 2] = [Flow::OpportunityWon, Flow::AccountOnboarding];

/// Receives before a message moves to its flow's dead-letter queue (the SAM template's
/// `maxReceiveCount`).
const MAX_RECEIVES: u32 = 5;

/// How to start the system.
#[derive(Debug, Clone)]
pub(crate) struct StackOptions {
    /// 0 = any free port, for each of the three.
    pub(crate) salesforce_port: u16,
    pub(crate) intacct_port: u16,
    #[expect(
        dead_code,
        reason = "read once the webhook router (lf-intake) is wired; the flag is accepted now"
    )]
    pub(crate) webhook_port: u16,
    /// Where the store and the queues live (created if missing).
    pub(crate) data_dir: PathBuf,
    /// How often the change poller runs.
    #[expect(
        dead_code,
        reason = "read once the change poller (lf-intake) is wired; the flag is accepted now"
    )]
    pub(crate) poll_interval: Duration,
}

/// The running system. [`Stack::shutdown`] stops it in order: intake first, then the workers,
/// then the sandboxes.
#[derive(Debug)]
pub(crate) struct Stack {
    pub(crate) salesforce: salesforce_sandbox::Sandbox,
    pub(crate) intacct: intacct_sandbox::Sandbox,
    pub(crate) database: Database,
    /// The flow queues, in the order of [`FLOWS`].
    pub(crate) queues: Vec<(Flow, SqliteQueue)>,
    /// Where the Salesforce sandbox's JWT signing key was written (removed at shutdown).
    pub(crate) key_file: PathBuf,
    pub(crate) data_dir: PathBuf,
    daily_limit: u64,
    /// Where the Salesforce sandbox sends Outbound Messages and the Intacct sandbox Smart Events.
    outbound_url: Option<String>,
    smart_event_url: Option<String>,
}

/// The file of the embedded store and queues inside the data folder.
pub(crate) fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("ledgerforce.db")
}

/// The name of a flow's dead-letter queue.
fn dead_letter_name(flow: Flow) -> String {
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

        let salesforce_config = salesforce_sandbox::SandboxConfig {
            port: options.salesforce_port,
            seed: salesforce_sandbox::DataSet::Demo,
            ..Default::default()
        };
        let salesforce_config_limit = salesforce_config.daily_limit;
        let salesforce = salesforce_sandbox::Sandbox::start(salesforce_config).await?;
        let key_file = options.data_dir.join("salesforce-jwt-key.pem");
        write_key(&key_file, &salesforce.credentials().private_key_pem)
            .map_err(|e| format!("cannot write the JWT key to {}: {e}", key_file.display()))?;

        let intacct = intacct_sandbox::Sandbox::start(intacct_sandbox::SandboxConfig {
            port: options.intacct_port,
            seed: intacct_sandbox::DataSet::Demo,
            ..Default::default()
        })
        .await?;

        Ok(Stack {
            daily_limit: salesforce_config_limit,
            salesforce,
            intacct,
            database,
            queues,
            key_file,
            data_dir: options.data_dir.clone(),
            outbound_url: None,
            smart_event_url: None,
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

    /// Stops the workers, then the sandboxes, and removes the key file.
    pub(crate) async fn shutdown(self) {
        self.salesforce.shutdown().await;
        self.intacct.shutdown().await;
        let _ = std::fs::remove_file(&self.key_file);
    }
}
