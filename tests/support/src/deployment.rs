//! One deployment's AWS side on a local moto server (tables, queues, secrets) wired to both
//! sandboxes, and the environment its functions see: what the cold-start tests of
//! `lf-runtime` build in-process and what the function binaries' runtime tests start a real
//! process with.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lf_aws::{AwsSettings, TableNames};
use lf_domain::port::{BeginOutcome, IdempotencyStore};
use lf_domain::{ChangeEnvelope, CorrelationId, EventOrigin, Flow, RecordRef};
use lf_flows::ItemKey;
use lf_runtime::config::{
    INTACCT_ENDPOINT_URL_VAR, INTACCT_SECRET_VAR, SALESFORCE_AUTH_VAR, SALESFORCE_LOGIN_URL_VAR,
    SALESFORCE_ORG_IDS_VAR, SALESFORCE_SECRET_VAR, TABLE_PREFIX_VAR, queue_url_var,
};
use lf_runtime::{ColdStart, RuntimeConfig};
use lf_sandbox_intacct as ia;
use lf_sandbox_salesforce as sf;

/// The variable naming the moto server (`tests/run` starts it and exports it).
pub const MOTO_ENDPOINT_VAR: &str = "LEDGERFORCE_MOTO_ENDPOINT";

/// The moto server's URL; panics with how to start one when it is not configured (a test that
/// needs moto fails rather than skips).
pub fn moto_endpoint() -> String {
    match std::env::var(MOTO_ENDPOINT_VAR) {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => panic!(
            "{MOTO_ENDPOINT_VAR} is not set: run `tests/run` (it starts moto), or start \
             `moto_server -H 127.0.0.1 -p PORT` and export {MOTO_ENDPOINT_VAR}=http://127.0.0.1:PORT"
        ),
    }
}

/// SDK settings for moto.
pub fn moto_settings() -> AwsSettings {
    AwsSettings::local(moto_endpoint())
}

/// One deployment's AWS side in moto and the environment its functions would see.
pub struct Deployment {
    pub prefix: String,
    pub sdk: aws_config::SdkConfig,
    secrets: aws_sdk_secretsmanager::Client,
    pub env: BTreeMap<String, String>,
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Deployment {
    /// A deployment with a fresh name prefix and nothing created yet.
    pub async fn new() -> Self {
        let sdk = lf_aws::load_sdk_config(&moto_settings()).await;
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let prefix = format!("lf-rt-{}", &unique[..10]);
        let mut env = BTreeMap::new();
        env.insert(TABLE_PREFIX_VAR.to_owned(), prefix.clone());
        Self {
            secrets: aws_sdk_secretsmanager::Client::new(&sdk),
            sdk,
            prefix,
            env,
        }
    }

    /// Creates a secret holding `value` and points `var` at its ARN.
    pub async fn secret(&mut self, var: &str, value: serde_json::Value) {
        let created = self
            .secrets
            .create_secret()
            // A variable may be pointed at a new secret; each gets its own name.
            .name(format!("{}/{var}/{}", self.prefix, self.env.len()))
            .secret_string(value.to_string())
            .send()
            .await
            .unwrap();
        self.env
            .insert(var.to_owned(), created.arn().unwrap().to_owned());
    }

    /// Creates the deployment's DynamoDB tables.
    pub async fn tables(&mut self) {
        let dynamo = aws_sdk_dynamodb::Client::new(&self.sdk);
        lf_aws::schema::create_tables(&dynamo, &TableNames::with_prefix(&self.prefix))
            .await
            .unwrap();
    }

    /// Creates `flow`'s queue and sets its variable; returns its URL.
    pub async fn queue(&mut self, flow: Flow) -> String {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let url = lf_aws::schema::create_queue(
            &sqs,
            &format!("{}-{}", self.prefix, flow.as_str()),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        self.env.insert(queue_url_var(flow), url.clone());
        url
    }

    pub fn set(&mut self, var: &str, value: &str) {
        self.env.insert(var.to_owned(), value.to_owned());
    }

    /// The cold start of a function of this deployment, in this process.
    pub async fn cold_start(&self) -> ColdStart {
        let mut config = RuntimeConfig::from_lookup(|v| self.env.get(v).cloned()).unwrap();
        config.aws = moto_settings();
        ColdStart::new(config).await
    }

    /// Takes `flow`'s idempotency key of the change of `record` last modified at `stamp`, as
    /// a concurrent delivery working on the same change would (held for ten minutes): a
    /// batch that meets it must leave that message for redelivery.
    pub async fn hold_change(&self, flow: Flow, record: &RecordRef, stamp: DateTime<Utc>) {
        let key = ItemKey::for_record(flow, record, stamp).unwrap();
        let held = self
            .cold_start()
            .await
            .idempotency()
            .begin(
                key.key(),
                key.payload(),
                Some(Utc::now() + chrono::Duration::minutes(10)),
            )
            .await
            .unwrap();
        assert!(matches!(held, BeginOutcome::Started { .. }), "{held:?}");
    }

    /// The whole environment of a function process of this deployment: its variables, and the
    /// SDK's own pointing at moto with fake credentials (as `tests/run` exports them).
    pub fn process_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, v) in [
            ("AWS_ENDPOINT_URL", moto_endpoint()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ] {
            env.push((k.to_owned(), v));
        }
        env
    }
}

/// Both sandboxes with `seed`, answering at once.
pub async fn sandboxes_with(seed: sf::DataSet) -> (sf::Sandbox, ia::Sandbox) {
    let salesforce = sf::Sandbox::start(sf::SandboxConfig {
        seed,
        ..Default::default()
    })
    .await
    .unwrap();
    let intacct = ia::Sandbox::start(ia::SandboxConfig {
        seed,
        latency: Duration::ZERO,
        ..Default::default()
    })
    .await
    .unwrap();
    (salesforce, intacct)
}

/// A deployment whose secrets and URLs point at the sandboxes, with its tables and the
/// opportunity-won queue.
pub async fn wired(salesforce: &sf::Sandbox, intacct: &ia::Sandbox) -> Deployment {
    let mut d = Deployment::new().await;
    let s = salesforce.credentials();
    d.secret(
        SALESFORCE_SECRET_VAR,
        serde_json::json!({"consumer_key": s.consumer_key, "consumer_secret": s.consumer_secret}),
    )
    .await;
    d.set(SALESFORCE_AUTH_VAR, "client_credentials");
    d.set(SALESFORCE_LOGIN_URL_VAR, &salesforce.base_url());
    d.set(SALESFORCE_ORG_IDS_VAR, &s.org_id);
    let i = intacct.credentials();
    d.secret(
        INTACCT_SECRET_VAR,
        serde_json::json!({
            "sender_id": i.sender_id, "sender_password": i.sender_password,
            "company_id": i.company_id, "user_id": i.user_id, "user_password": i.user_password,
        }),
    )
    .await;
    d.set(INTACCT_ENDPOINT_URL_VAR, &intacct.endpoint_url());
    d.tables().await;
    d.queue(Flow::OpportunityWon).await;
    d
}

/// The queue message body of a change of `record` for `flow`, as a webhook queues it.
pub fn change_body(flow: Flow, record: RecordRef) -> String {
    serde_json::to_string(&ChangeEnvelope {
        v: ChangeEnvelope::VERSION,
        flow,
        origin: EventOrigin::OutboundMessage {
            notification_id: format!("04l-{}", record.id),
        },
        record,
        modified_at: None,
        correlation_id: CorrelationId::new_random(),
        received_at: Utc::now(),
    })
    .unwrap()
}

/// Changes of receivables in `company` whose customer is linked to a Salesforce Account (the
/// invoices, then the payments), `count` of them leaving out `except`: the rest of a flow
/// batch for the flows that sum receivables up onto the Account.
pub fn linked_receivables(
    company: &ia::Sandbox,
    except: &[&RecordRef],
    count: usize,
) -> Vec<RecordRef> {
    let linked = |customer: &str| {
        company
            .find("CUSTOMER", "CUSTOMERID", customer)
            .first()
            .is_some_and(|c| c.get("SFDC_ACCOUNT_ID").is_some_and(|id| !id.is_empty()))
    };
    let found: Vec<RecordRef> = ["ARINVOICE", "ARPYMT"]
        .into_iter()
        .flat_map(|object| {
            company
                .records(object)
                .into_iter()
                .filter(|r| r.get("CUSTOMERID").is_some_and(|c| linked(c)))
                .map(move |r| {
                    let key = lf_domain::IntacctKey::parse(&r["RECORDNO"]).unwrap();
                    RecordRef::intacct(object, &lf_domain::IntacctRef::new(None, key))
                })
        })
        .filter(|r| !except.contains(&r))
        .take(count)
        .collect();
    assert_eq!(found.len(), count, "{count} linked receivables: {found:?}");
    found
}

/// `text` as a time of the sandboxes' formats (`SystemModstamp`, `WHENMODIFIED`).
pub fn stamp(text: &str) -> DateTime<Utc> {
    lf_domain::datetime::parse_datetime(text)
        .unwrap()
        .with_timezone(&Utc)
}
