//! The configured systems: secrets resolved from their references, the two connectors, the
//! mapping specs and the store, for the operator commands.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lf_aws::{AwsSettings, Secrets};
use lf_domain::port::{ConcurrencyLimiter, IdempotencyConfig};
use lf_domain::{Clock, SystemClock};
use lf_flows::FlowPorts;
use lf_intacct::{IntacctClient, IntacctConfig};
use lf_mapping::{SpecBundle, SpecSet};
use lf_runtime::{ColdStart, SalesforceAuth};
use lf_salesforce::{SalesforceClient, SalesforceConfig};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OnceCell;

use super::config::{Config, SecretRef, StoreConfig, Text};
use crate::CliError;

/// Resolves references, building the Secrets Manager client on first use.
#[derive(Debug)]
pub(crate) struct Resolver {
    aws: Option<AwsSettings>,
    secrets: OnceCell<Secrets>,
}

impl Resolver {
    /// `aws`: the store's AWS settings (its endpoint serves Secrets Manager too), if any.
    pub(crate) fn new(config: &Config) -> Self {
        let aws = match &config.store {
            StoreConfig::Aws(r) => Some(r.aws.clone()),
            StoreConfig::Embedded { .. } => None,
        };
        Self {
            aws,
            secrets: OnceCell::new(),
        }
    }

    /// The secret `reference` names; errors name `key` and the reference, never a value.
    pub(crate) async fn secret(
        &self,
        key: &str,
        reference: &SecretRef,
    ) -> Result<SecretString, String> {
        match reference {
            SecretRef::Env(var) => std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(SecretString::from)
                .ok_or_else(|| format!("{key}: environment variable {var} is not set")),
            SecretRef::File(path) => match std::fs::read_to_string(path) {
                Ok(text) if !text.trim().is_empty() => Ok(SecretString::from(
                    text.trim_end_matches(['\r', '\n']).to_owned(),
                )),
                Ok(_) => Err(format!("{key}: {} is empty", path.display())),
                Err(e) => Err(format!("{key}: cannot read {}: {e}", path.display())),
            },
            SecretRef::SecretsManager { arn, key: field } => {
                let secrets = self
                    .secrets
                    .get_or_init(|| async {
                        let mut settings = self.aws.clone().unwrap_or_default();
                        if settings.region.is_none() {
                            settings.region = reference.region().map(str::to_owned);
                        }
                        let sdk = lf_aws::load_sdk_config(&settings).await;
                        Secrets::new(aws_sdk_secretsmanager::Client::new(&sdk))
                    })
                    .await;
                let got = match field {
                    Some(f) => secrets.field(arn, f).await,
                    None => secrets.text(arn).await,
                };
                got.map_err(|e| {
                    let mut m = format!("{key}: {e}");
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        m.push_str(&format!(": {s}"));
                        source = s.source();
                    }
                    m
                })
            }
        }
    }

    /// A text setting, plain or referenced.
    pub(crate) async fn text(&self, key: &str, text: &Text) -> Result<String, String> {
        match text {
            Text::Plain(s) => Ok(s.clone()),
            Text::Ref(r) => Ok(self.secret(key, r).await?.expose_secret().to_owned()),
        }
    }
}

/// The Salesforce connector configuration: URLs and version from the config, credentials
/// resolved.
pub(crate) async fn salesforce_config(
    config: &Config,
    resolver: &Resolver,
) -> Result<SalesforceConfig, String> {
    let s = &config.salesforce;
    let consumer_key = resolver
        .text("salesforce.consumer_key", &s.consumer_key)
        .await?;
    let credentials = match s.auth {
        SalesforceAuth::JwtBearer => {
            let (Some(username), Some(key)) = (&s.username, &s.private_key) else {
                return Err("salesforce: auth = \"jwt\" needs username and private_key".into());
            };
            lf_salesforce::Credentials::JwtBearer {
                consumer_key,
                username: resolver.text("salesforce.username", username).await?,
                private_key_pem: resolver.secret("salesforce.private_key", key).await?,
                audience: None,
            }
        }
        SalesforceAuth::ClientCredentials => {
            let Some(secret) = &s.consumer_secret else {
                return Err(
                    "salesforce: auth = \"client_credentials\" needs consumer_secret".into(),
                );
            };
            lf_salesforce::Credentials::ClientCredentials {
                consumer_key,
                consumer_secret: resolver
                    .secret("salesforce.consumer_secret", secret)
                    .await?,
            }
        }
    };
    let mut out = SalesforceConfig::new(s.login_url.clone(), credentials);
    out.instance_url = s.instance_url.clone();
    out.api_version = s.api_version;
    out.validate().map_err(|e| format!("salesforce: {e}"))?;
    Ok(out)
}

/// The Intacct connector configuration, credentials resolved.
pub(crate) async fn intacct_config(
    config: &Config,
    resolver: &Resolver,
) -> Result<IntacctConfig, String> {
    let i = &config.intacct;
    let credentials = lf_intacct::Credentials {
        sender_id: resolver.text("intacct.sender_id", &i.sender_id).await?,
        sender_password: resolver
            .secret("intacct.sender_password", &i.sender_password)
            .await?,
        company_id: resolver.text("intacct.company_id", &i.company_id).await?,
        user_id: resolver.text("intacct.user_id", &i.user_id).await?,
        user_password: resolver
            .secret("intacct.user_password", &i.user_password)
            .await?,
    };
    let mut out = IntacctConfig::new(i.endpoint_url.as_str(), credentials);
    out.max_concurrent_requests = i.concurrency as usize;
    Ok(out)
}

/// The mapping specs of the config (`mappings.dir`, else the shipped ones), uncompiled.
pub(crate) fn spec_bundle(config: &Config) -> Result<SpecBundle, CliError> {
    match &config.mappings {
        Some(dir) => {
            let bundle = SpecBundle::from_dir(dir)?;
            if bundle.is_empty() {
                return Err(
                    format!("mappings.dir: no *.yaml spec files in {}", dir.display()).into(),
                );
            }
            Ok(bundle)
        }
        None => Ok(SpecBundle::shipped()),
    }
}

/// The compiled specs.
pub(crate) fn specs(config: &Config) -> Result<SpecSet, CliError> {
    Ok(spec_bundle(config)?.compile()?)
}

/// The embedded store's file in `data_dir`, which must exist already (the operator commands
/// work on a store that `ledgerforce local` or a deployment made).
pub(crate) fn embedded_database(data_dir: &Path) -> Result<PathBuf, CliError> {
    let path = crate::local::stack::database_path(data_dir);
    if !path.is_file() {
        return Err(format!(
            "store.data_dir: no embedded store at {} (run `ledgerforce local --data-dir {}` first, or fix the key)",
            path.display(),
            data_dir.display()
        )
        .into());
    }
    Ok(path)
}

/// The parked failures of the configured store: where work that cannot go on waits for
/// `replay`.
pub(crate) enum ParkedStore {
    Embedded(lf_embedded::SqliteParkedFailures),
    Aws(lf_aws::DynamoParkedFailures),
}

impl std::fmt::Debug for ParkedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ParkedStore::Embedded(_) => "ParkedStore::Embedded",
            ParkedStore::Aws(_) => "ParkedStore::Aws",
        })
    }
}

/// Opens the configured store's parked failures.
pub(crate) async fn parked_store(config: &Config) -> Result<ParkedStore, CliError> {
    match &config.store {
        StoreConfig::Embedded { data_dir } => {
            let path = embedded_database(data_dir)?;
            let database = tokio::task::spawn_blocking(move || {
                lf_embedded::Database::open(path, Arc::new(SystemClock))
            })
            .await??;
            Ok(ParkedStore::Embedded(database.parked_failures()))
        }
        StoreConfig::Aws(runtime) => {
            let cold = ColdStart::new((**runtime).clone()).await;
            Ok(ParkedStore::Aws(cold.parked()))
        }
    }
}

/// The ports of a flow over the embedded store.
pub(crate) type EmbeddedPorts = crate::local::stack::LocalPorts;

/// The flow ports over the configured store, with both connectors.
pub(crate) enum StorePorts {
    Embedded(Arc<EmbeddedPorts>),
    Aws(Arc<lf_runtime::AwsFlowPorts>),
}

impl std::fmt::Debug for StorePorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StorePorts::Embedded(_) => "StorePorts::Embedded",
            StorePorts::Aws(_) => "StorePorts::Aws",
        })
    }
}

/// Opens the store and builds the ports. Against a deployment, the Intacct connector takes
/// its share of the company-wide concurrency limit, as the functions do.
pub(crate) async fn store_ports(
    config: &Config,
    resolver: &Resolver,
) -> Result<StorePorts, CliError> {
    let salesforce = SalesforceClient::new(salesforce_config(config, resolver).await?)?;
    let mut intacct = intacct_config(config, resolver).await?;
    match &config.store {
        StoreConfig::Embedded { data_dir } => {
            let path = embedded_database(data_dir)?;
            let database = tokio::task::spawn_blocking(move || {
                lf_embedded::Database::open(path, Arc::new(SystemClock))
            })
            .await??;
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            Ok(StorePorts::Embedded(Arc::new(FlowPorts {
                salesforce,
                intacct: IntacctClient::new(intacct)?,
                xref: database.xref_store(),
                idempotency: database.idempotency_store(IdempotencyConfig::default()),
                state: database.sync_state(),
                audit: database.audit_log(),
                clock,
            })))
        }
        StoreConfig::Aws(runtime) => {
            let cold = ColdStart::new((**runtime).clone()).await;
            let limiter = cold.intacct_limiter(&intacct.credentials.company_id)?;
            intacct.limiter = Some(Arc::new(limiter) as Arc<dyn ConcurrencyLimiter>);
            Ok(StorePorts::Aws(Arc::new(FlowPorts {
                salesforce,
                intacct: IntacctClient::new(intacct)?,
                xref: cold.xref(),
                idempotency: cold.idempotency(),
                state: cold.sync_state(),
                audit: cold.audit(),
                clock: cold.clock(),
            })))
        }
    }
}
