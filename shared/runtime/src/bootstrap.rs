//! Cold start: everything a function needs, built once from [`RuntimeConfig`] before the first
//! invocation — the AWS clients, the DynamoDB stores, the SQS queues of the flows, the
//! connectors with their credentials from Secrets Manager, the compiled mapping specs — so an
//! invocation only does its work, and a deployment that cannot work fails its start loudly
//! instead of failing every event.
//!
//! Secrets live in `SecretString` from Secrets Manager to the connector; errors name the
//! variable, the secret and the field, never a value.

use std::sync::Arc;

use aws_config::SdkConfig;
use lf_aws::{
    DynamoAuditLog, DynamoIdempotencyStore, DynamoLimiter, DynamoParkedFailures, DynamoSyncState,
    DynamoXrefStore, S3ReportStore, SecretError, Secrets, SpecClients, SpecLoadError, SqsQueue,
};
use lf_domain::port::{ConcurrencyLimiter, IdempotencyConfig};
use lf_domain::{Clock, Flow, PortError, SalesforceId, SystemClock};
use lf_flows::{AccountSync, AccountSyncOptions, FlowPorts, RevenueReconciliation, SetupError};
use lf_intacct::{IntacctClient, IntacctConfig, IntacctError, SmartEventVerifier};
use lf_intake::{
    ChangePoller, FlowQueues, Intake, IntakeConfig, PollStream, PollerConfig, RoutingTable,
    SalesforceWebhookConfig,
};
use lf_mapping::SpecSet;
use lf_salesforce::{SalesforceClient, SalesforceConfig, SalesforceError};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{
    ConfigError, INTACCT_SECRET_VAR, REPORT_BUCKET_VAR, RuntimeConfig, SALESFORCE_INSTANCE_URL_VAR,
    SALESFORCE_LOGIN_URL_VAR, SALESFORCE_ORG_IDS_VAR, SALESFORCE_SECRET_VAR, SalesforceAuth,
    WEBHOOK_SECRET_VAR,
};

/// Fields of the Salesforce secret (a JSON object) for the JWT bearer flow.
pub const SALESFORCE_JWT_FIELDS: [&str; 3] = ["consumer_key", "username", "private_key"];
/// Fields of the Salesforce secret for the client credentials flow.
pub const SALESFORCE_CLIENT_FIELDS: [&str; 2] = ["consumer_key", "consumer_secret"];
/// Fields of the Intacct secret: the Web Services sender and the company user.
pub const INTACCT_FIELDS: [&str; 5] = [
    "sender_id",
    "sender_password",
    "company_id",
    "user_id",
    "user_password",
];
/// Fields of the webhook secret the salesforce-webhook reads: the Outbound Message token and
/// the HMAC key of Flow HTTP callouts.
pub const SALESFORCE_WEBHOOK_FIELDS: [&str; 2] = ["outbound_token", "callout_key"];
/// The field of the webhook secret the intacct-webhook reads.
pub const INTACCT_WEBHOOK_FIELD: &str = "smart_event_token";

/// The ports bundle of a deployed flow handler.
pub type AwsFlowPorts = FlowPorts<
    SalesforceClient,
    IntacctClient,
    DynamoXrefStore,
    DynamoIdempotencyStore,
    DynamoSyncState,
    DynamoAuditLog,
>;

/// The change poller of a deployment.
pub type AwsChangePoller = ChangePoller<SalesforceClient, IntacctClient, DynamoSyncState, SqsQueue>;

/// Why a function cannot start. Each variant names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("the Salesforce connector configuration is invalid: {0}")]
    Salesforce(#[source] SalesforceError),
    #[error("the Intacct connector configuration is invalid: {0}")]
    Intacct(#[source] IntacctError),
    #[error("the Intacct concurrency limiter cannot be built: {0}")]
    Limiter(#[source] PortError),
    #[error(transparent)]
    Specs(#[from] SpecLoadError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("the intake configuration is invalid: {0}")]
    Intake(#[from] lf_intake::ConfigError),
}

/// Which webhook endpoint a function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /salesforce[/{token}]`: Outbound Messages and Flow HTTP callouts.
    Salesforce,
    /// `POST /intacct`: Smart Events.
    Intacct,
}

/// The shared state of a cold start: configuration, SDK clients and the clock. Building it
/// makes no call; each builder below makes only the calls its part needs.
#[derive(Debug, Clone)]
pub struct ColdStart {
    config: RuntimeConfig,
    sdk: SdkConfig,
    dynamo: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    secrets: Secrets,
    clock: Arc<dyn Clock>,
}

impl ColdStart {
    /// Loads the SDK configuration (`config.aws`) and builds the clients.
    pub async fn new(config: RuntimeConfig) -> Self {
        let sdk = lf_aws::load_sdk_config(&config.aws).await;
        Self {
            dynamo: aws_sdk_dynamodb::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            secrets: Secrets::new(aws_sdk_secretsmanager::Client::new(&sdk)),
            sdk,
            config,
            clock: Arc::new(SystemClock),
        }
    }

    /// The configuration read at start.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// The clock every store and handler reads.
    pub fn clock(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    /// The flows this deployment runs: those whose queue URL is configured.
    pub fn flows(&self) -> Vec<Flow> {
        self.config.queue_urls.keys().copied().collect()
    }

    /// The standard routes narrowed to the deployed flows.
    pub fn routes(&self) -> RoutingTable {
        RoutingTable::standard().only(&self.flows())
    }

    /// The queue of `flow`.
    pub fn queue(&self, flow: Flow) -> Result<SqsQueue, BootstrapError> {
        Ok(SqsQueue::new(
            self.sqs.clone(),
            self.config.queue_url(flow)?,
        ))
    }

    /// The queue of every deployed flow.
    pub fn flow_queues(&self) -> FlowQueues<SqsQueue> {
        self.config
            .queue_urls
            .iter()
            .fold(FlowQueues::new(), |queues, (flow, url)| {
                queues.with(*flow, SqsQueue::new(self.sqs.clone(), url))
            })
    }

    pub fn xref(&self) -> DynamoXrefStore {
        DynamoXrefStore::new(self.dynamo.clone(), &self.config.tables.xref)
    }

    pub fn idempotency(&self) -> DynamoIdempotencyStore {
        DynamoIdempotencyStore::new(
            self.dynamo.clone(),
            &self.config.tables.idempotency,
            self.clock(),
            IdempotencyConfig::default(),
        )
    }

    pub fn sync_state(&self) -> DynamoSyncState {
        DynamoSyncState::new(
            self.dynamo.clone(),
            &self.config.tables.sync_state,
            self.clock(),
        )
    }

    pub fn audit(&self) -> DynamoAuditLog {
        DynamoAuditLog::new(self.dynamo.clone(), &self.config.tables.audit, self.clock())
    }

    pub fn parked(&self) -> DynamoParkedFailures {
        DynamoParkedFailures::new(
            self.dynamo.clone(),
            &self.config.tables.parked,
            self.clock(),
        )
    }

    /// The company-wide Intacct limiter (`intacct_concurrency` slots), named by company so
    /// two companies sharing the table do not share a cap.
    pub fn intacct_limiter(&self, company_id: &str) -> Result<DynamoLimiter, BootstrapError> {
        DynamoLimiter::new(
            self.dynamo.clone(),
            &self.config.tables.leases,
            &format!("intacct/{company_id}"),
            self.config.intacct_concurrency,
            self.clock(),
        )
        .map_err(BootstrapError::Limiter)
    }

    /// The Salesforce connector configuration: URLs from the environment, credentials from
    /// the Salesforce secret (one call).
    pub async fn salesforce_config(&self) -> Result<SalesforceConfig, BootstrapError> {
        let login = required(&self.config.salesforce_login_url, SALESFORCE_LOGIN_URL_VAR)?;
        let login_url = parse_url(login, SALESFORCE_LOGIN_URL_VAR)?;
        let secret = required(&self.config.salesforce_secret, SALESFORCE_SECRET_VAR)?;
        let credentials = match self.config.salesforce_auth {
            SalesforceAuth::JwtBearer => {
                let [key, user, pem] = fields(&self.secrets, secret, SALESFORCE_JWT_FIELDS).await?;
                lf_salesforce::Credentials::JwtBearer {
                    consumer_key: key.expose_secret().to_owned(),
                    username: user.expose_secret().to_owned(),
                    private_key_pem: pem,
                    audience: None,
                }
            }
            SalesforceAuth::ClientCredentials => {
                let [key, secret] = fields(&self.secrets, secret, SALESFORCE_CLIENT_FIELDS).await?;
                lf_salesforce::Credentials::ClientCredentials {
                    consumer_key: key.expose_secret().to_owned(),
                    consumer_secret: secret,
                }
            }
        };
        let mut config = SalesforceConfig::new(login_url, credentials);
        if let Some(url) = &self.config.salesforce_instance_url {
            config.instance_url = Some(parse_url(url, SALESFORCE_INSTANCE_URL_VAR)?);
        }
        config.validate().map_err(BootstrapError::Salesforce)?;
        Ok(config)
    }

    /// The Intacct connector configuration: endpoint from the environment, credentials from
    /// the Intacct secret (one call), the company-wide limiter over the leases table.
    pub async fn intacct_config(&self) -> Result<IntacctConfig, BootstrapError> {
        let secret = required(&self.config.intacct_secret, INTACCT_SECRET_VAR)?;
        let [
            sender_id,
            sender_password,
            company_id,
            user_id,
            user_password,
        ] = fields(&self.secrets, secret, INTACCT_FIELDS).await?;
        let credentials = lf_intacct::Credentials {
            sender_id: sender_id.expose_secret().to_owned(),
            sender_password,
            company_id: company_id.expose_secret().to_owned(),
            user_id: user_id.expose_secret().to_owned(),
            user_password,
        };
        let limiter = self.intacct_limiter(&credentials.company_id)?;
        let mut config = IntacctConfig::new(&self.config.intacct_endpoint_url, credentials);
        config.max_concurrent_requests = self.config.intacct_concurrency as usize;
        config.limiter = Some(Arc::new(limiter) as Arc<dyn ConcurrencyLimiter>);
        Ok(config)
    }

    /// The Salesforce client (no call until it is used); its requests count in the
    /// invocations' `ApiCalls` metric.
    pub async fn salesforce(&self) -> Result<SalesforceClient, BootstrapError> {
        let client = SalesforceClient::new(self.salesforce_config().await?)
            .map_err(BootstrapError::Salesforce)?;
        crate::emf::count_calls_of(&client);
        Ok(client)
    }

    /// The Intacct client (no call until it is used); its requests count in the invocations'
    /// `ApiCalls` metric.
    pub async fn intacct(&self) -> Result<IntacctClient, BootstrapError> {
        let client =
            IntacctClient::new(self.intacct_config().await?).map_err(BootstrapError::Intacct)?;
        crate::emf::count_calls_of(&client);
        Ok(client)
    }

    /// The mapping specs from the configured source, compiled; a set with any error is
    /// refused whole, each problem logged by file, line and field.
    pub async fn specs(&self) -> Result<Arc<SpecSet>, BootstrapError> {
        let clients = SpecClients::new(&self.sdk);
        let specs = lf_aws::load_specs_or_log(&self.config.spec_source, &clients).await?;
        Ok(Arc::new(specs))
    }

    /// The ports of a flow handler: both connectors and the stores.
    pub async fn flow_ports(&self) -> Result<AwsFlowPorts, BootstrapError> {
        Ok(FlowPorts {
            salesforce: self.salesforce().await?,
            intacct: self.intacct().await?,
            xref: self.xref(),
            idempotency: self.idempotency(),
            state: self.sync_state(),
            audit: self.audit(),
            clock: self.clock(),
        })
    }

    /// The revenue reconciliation over the deployment's ports, with the configured currencies
    /// and revenue basis.
    pub async fn revenue_reconciliation(
        &self,
    ) -> Result<RevenueReconciliation<AwsFlowPorts>, BootstrapError> {
        Ok(RevenueReconciliation::new(
            self.flow_ports().await?,
            self.specs().await?,
            self.config.reconciliation.clone(),
        )?)
    }

    /// account-sync over the deployment's ports: the drift check's flow.
    pub async fn account_sync(&self) -> Result<AccountSync<AwsFlowPorts>, BootstrapError> {
        Ok(AccountSync::new(
            self.flow_ports().await?,
            self.specs().await?,
            AccountSyncOptions::default(),
        )?)
    }

    /// Where the reconciliation's reports go (`LEDGERFORCE_REPORT_BUCKET`, required).
    pub fn report_store(&self) -> Result<S3ReportStore, BootstrapError> {
        let bucket = required(&self.config.report_bucket, REPORT_BUCKET_VAR)?;
        Ok(S3ReportStore::new(
            &self.sdk,
            bucket,
            &self.config.report_prefix,
        ))
    }

    /// The webhook intake serving `endpoint`, with its tokens from the webhook secret (one
    /// call) and the routes of the deployed flows.
    pub async fn intake(&self, endpoint: Endpoint) -> Result<Intake<SqsQueue>, BootstrapError> {
        let secret = required(&self.config.webhook_secret, WEBHOOK_SECRET_VAR)?;
        let mut config = IntakeConfig {
            routes: self.routes(),
            salesforce: None,
            intacct: None,
        };
        match endpoint {
            Endpoint::Salesforce => {
                let orgs = self.allowed_orgs()?;
                let [token, callout_key] =
                    fields(&self.secrets, secret, SALESFORCE_WEBHOOK_FIELDS).await?;
                let mut webhook = SalesforceWebhookConfig::new(orgs, token);
                webhook.callout_key = Some(callout_key);
                config.salesforce = Some(webhook);
            }
            Endpoint::Intacct => {
                let token = self.secrets.field(secret, INTACCT_WEBHOOK_FIELD).await?;
                let verifier = SmartEventVerifier::new(token).map_err(|e| {
                    lf_intake::ConfigError::Invalid(format!(
                        "field {INTACCT_WEBHOOK_FIELD:?} of secret {secret}: {e}"
                    ))
                })?;
                config.intacct = Some(verifier);
            }
        }
        Ok(Intake::new(config, self.flow_queues(), self.clock())?)
    }

    /// The change poller over one stream per routed object of the deployed flows.
    pub async fn poller(&self) -> Result<AwsChangePoller, BootstrapError> {
        Ok(ChangePoller::new(
            self.salesforce().await?,
            self.intacct().await?,
            self.sync_state(),
            self.flow_queues(),
            PollStream::from_routes(&self.routes()),
            PollerConfig::default(),
            self.clock(),
        )?)
    }

    fn allowed_orgs(&self) -> Result<Vec<SalesforceId>, ConfigError> {
        if self.config.salesforce_org_ids.is_empty() {
            return Err(ConfigError::Missing {
                var: SALESFORCE_ORG_IDS_VAR.to_owned(),
            });
        }
        self.config
            .salesforce_org_ids
            .iter()
            .map(|id| {
                SalesforceId::parse(id).map_err(|e| ConfigError::Invalid {
                    var: SALESFORCE_ORG_IDS_VAR.to_owned(),
                    reason: format!("`{id}` is not an org id: {e}"),
                })
            })
            .collect()
    }
}

fn required<'a>(value: &'a Option<String>, var: &str) -> Result<&'a str, ConfigError> {
    value.as_deref().ok_or_else(|| ConfigError::Missing {
        var: var.to_owned(),
    })
}

fn parse_url(value: &str, var: &str) -> Result<url::Url, ConfigError> {
    url::Url::parse(value).map_err(|e| ConfigError::Invalid {
        var: var.to_owned(),
        reason: format!("`{value}` is not a URL: {e}"),
    })
}

/// `N` named fields of a JSON secret from one call, as an array to destructure.
async fn fields<const N: usize>(
    secrets: &Secrets,
    secret: &str,
    names: [&str; N],
) -> Result<[SecretString; N], SecretError> {
    let values = secrets.fields(secret, &names).await?;
    values
        .try_into()
        .map_err(|_: Vec<SecretString>| SecretError::MissingField {
            secret: secret.to_owned(),
            field: names.last().copied().unwrap_or_default().to_owned(),
        })
}
