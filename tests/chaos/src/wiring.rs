//! What the coordinator and its worker processes share: where the sandboxes are and how to
//! log in to them (the sandboxes' demo credentials, which open nothing else), the database
//! file, and the clients built from that.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lf_domain::{Flow, RetryPolicy};
use lf_embedded::{Database, DeadLetter, SqliteQueue};
use lf_intacct::{IntacctClient, IntacctConfig};
use lf_salesforce::{Credentials, LimitPolicy, SalesforceClient, SalesforceConfig};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The flows the workers consume, each on its own queue (one SQS queue and function each in
/// AWS).
pub const FLOWS: [Flow; 5] = [
    Flow::OpportunityWon,
    Flow::AccountOnboarding,
    Flow::AccountSync,
    Flow::InvoiceStatus,
    Flow::CreditAlerts,
];

/// Receives before a message moves to its flow's dead-letter queue (the SAM template's
/// `maxReceiveCount`).
pub const MAX_RECEIVES: u32 = 5;

/// Retries of the clients: quick, the sandboxes are on loopback.
pub const RETRY: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(50),
    cap: Duration::from_secs(1),
    max_attempts: 6,
};

/// A request held back longer than this is abandoned by the client; the Salesforce sandbox's
/// slow-response fault holds a committed write's answer for twice as long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// Everything a worker process needs, written by the coordinator as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoints {
    pub database: PathBuf,
    pub salesforce_url: String,
    pub consumer_key: String,
    pub username: String,
    /// The JWT signing key of the sandbox's connected app, in a file of its own.
    pub key_file: PathBuf,
    pub intacct_url: String,
    pub sender_id: String,
    pub sender_password: String,
    pub company_id: String,
    pub user_id: String,
    pub user_password: String,
}

impl Endpoints {
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// A Salesforce client; `settle` is how old a change must be before the change reader
    /// takes it.
    pub fn salesforce(&self, settle: Duration) -> Result<SalesforceClient, Error> {
        let key = std::fs::read_to_string(&self.key_file)
            .map_err(|e| format!("cannot read {}: {e}", self.key_file.display()))?;
        let mut config = SalesforceConfig::new(
            url::Url::parse(&self.salesforce_url)?,
            Credentials::JwtBearer {
                consumer_key: self.consumer_key.clone(),
                username: self.username.clone(),
                private_key_pem: SecretString::from(key),
                audience: None,
            },
        );
        config.retry = RETRY;
        config.request_timeout = REQUEST_TIMEOUT;
        config.change_settle = settle;
        // A refused request waits seconds, not the production quarter of an hour: the run
        // turns the allowance back to a new day within that.
        config.limits = LimitPolicy {
            refused_retry_after: Duration::from_secs(2),
            max_pause: Duration::from_millis(200),
            ..LimitPolicy::default()
        };
        Ok(SalesforceClient::new(config)?)
    }

    /// An Intacct client, sharing the company-wide limit through `database` when given.
    pub fn intacct(&self, database: Option<&Database>) -> Result<IntacctClient, Error> {
        let mut config = IntacctConfig::new(
            self.intacct_url.clone(),
            lf_intacct::Credentials {
                sender_id: self.sender_id.clone(),
                sender_password: SecretString::from(self.sender_password.clone()),
                company_id: self.company_id.clone(),
                user_id: self.user_id.clone(),
                user_password: SecretString::from(self.user_password.clone()),
            },
        );
        config.retry = RETRY;
        config.request_timeout = REQUEST_TIMEOUT;
        if let Some(database) = database {
            let limiter = database.limiter(&format!("intacct-{}", self.company_id), 2)?;
            config.limiter = Some(std::sync::Arc::new(limiter));
        }
        Ok(IntacctClient::new(config)?)
    }
}

/// The name of a flow's dead-letter queue.
pub fn dead_letter_name(flow: Flow) -> String {
    format!("{flow}-dlq")
}

/// A flow's queue, whose messages move to its dead-letter queue after [`MAX_RECEIVES`].
pub fn flow_queue(database: &Database, flow: Flow) -> Result<SqliteQueue, Error> {
    Ok(database.queue_with_dead_letter(
        flow.as_str(),
        DeadLetter {
            queue: dead_letter_name(flow),
            max_receives: MAX_RECEIVES,
        },
    )?)
}
