//! The cold start against moto (Secrets Manager, DynamoDB, SQS, S3) and both sandboxes: the
//! secrets become connector configurations that sign in, the stores and queues are the
//! deployment's, and a spec set with errors is refused whole.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lf_aws::{SpecSource, TableNames};
use lf_domain::Flow;
use lf_domain::port::{ParkedFailures, Queue};
use lf_flows::{OpportunityWon, OpportunityWonOptions};
use lf_runtime::config::{
    INTACCT_ENDPOINT_URL_VAR, INTACCT_SECRET_VAR, SALESFORCE_AUTH_VAR, SALESFORCE_LOGIN_URL_VAR,
    SALESFORCE_ORG_IDS_VAR, SALESFORCE_SECRET_VAR, TABLE_PREFIX_VAR, WEBHOOK_SECRET_VAR,
    queue_url_var,
};
use lf_runtime::{BootstrapError, ColdStart, Endpoint, RuntimeConfig};
use lf_sandbox_intacct as ia;
use lf_sandbox_salesforce as sf;
use secrecy::ExposeSecret;

use crate::moto;

/// One deployment's AWS side in moto: its tables, queue and secrets, and the environment its
/// functions would see.
pub struct Deployment {
    prefix: String,
    sdk: aws_config::SdkConfig,
    secrets: aws_sdk_secretsmanager::Client,
    pub env: BTreeMap<String, String>,
}

impl Deployment {
    async fn new() -> Self {
        let sdk = lf_aws::load_sdk_config(&moto::settings()).await;
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

    async fn tables_and_queue(&mut self) {
        let dynamo = aws_sdk_dynamodb::Client::new(&self.sdk);
        lf_aws::schema::create_tables(&dynamo, &TableNames::with_prefix(&self.prefix))
            .await
            .unwrap();
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let url = lf_aws::schema::create_queue(
            &sqs,
            &format!("{}-opportunity-won", self.prefix),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        self.env.insert(queue_url_var(Flow::OpportunityWon), url);
    }

    fn set(&mut self, var: &str, value: &str) {
        self.env.insert(var.to_owned(), value.to_owned());
    }

    pub async fn cold_start(&self) -> ColdStart {
        let mut config = RuntimeConfig::from_lookup(|v| self.env.get(v).cloned()).unwrap();
        config.aws = moto::settings();
        ColdStart::new(config).await
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

async fn sandboxes() -> (sf::Sandbox, ia::Sandbox) {
    sandboxes_with(sf::DataSet::Empty).await
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
    d.tables_and_queue().await;
    d
}

#[tokio::test]
async fn secrets_become_connectors_that_sign_in_and_stores_over_the_tables() {
    let (salesforce, intacct) = sandboxes().await;
    let mut d = wired(&salesforce, &intacct).await;
    d.secret(
        WEBHOOK_SECRET_VAR,
        serde_json::json!({"outbound_token": "tok-1", "callout_key": "hmac-key-1"}),
    )
    .await;
    let start = d.cold_start().await;

    let sf_client = start.salesforce().await.unwrap();
    sf_client.connect().await.unwrap();
    assert_eq!(salesforce.tokens_issued(), 1);

    let ia_client = start.intacct().await.unwrap();
    ia_client.session(None).await.unwrap();
    assert_eq!(intacct.session_count(), 1);

    // The stores and queue are the deployment's: a parked record lands in its table, an
    // intake built on the queue map serves the Salesforce endpoint.
    let parked = start.parked();
    assert!(parked.count_by_flow().await.unwrap().is_empty());
    let queue = start.queue(Flow::OpportunityWon).unwrap();
    assert_eq!(queue.depth().await.unwrap().visible, 0);
    start.intake(Endpoint::Salesforce).await.unwrap();

    // The whole flow handler builds on the bundle and the shipped specs.
    let ports = Arc::new(start.flow_ports().await.unwrap());
    let specs = start.specs().await.unwrap();
    OpportunityWon::new(ports, specs, OpportunityWonOptions::default()).unwrap();

    // The poller polls the deployed flows' streams with its watermarks in the sync-state
    // table.
    let poller = start.poller().await.unwrap();
    let summary = lf_runtime::poll_invocation(&poller).await.unwrap();
    assert_eq!(summary["streams"][0]["stream"], "salesforce/Opportunity");
    assert_eq!(summary["streams"].as_array().unwrap().len(), 1);

    // The intacct endpoint needs its own token, which this secret lacks: the error names the
    // secret and field, and shows no value.
    let err = start.intake(Endpoint::Intacct).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("smart_event_token"), "{text}");
    assert!(text.contains(&d.env[WEBHOOK_SECRET_VAR]), "{text}");
    for value in ["tok-1", "hmac-key-1"] {
        assert!(!text.contains(value), "{text}");
    }
}

#[tokio::test]
async fn a_secret_missing_a_field_or_a_variable_is_named_and_nothing_leaks() {
    let (salesforce, intacct) = sandboxes().await;
    let mut d = wired(&salesforce, &intacct).await;
    let password = intacct.credentials().user_password.clone();
    d.secret(
        INTACCT_SECRET_VAR,
        serde_json::json!({"sender_id": "s", "sender_password": "sp-value-9", "user_password": password}),
    )
    .await;
    let start = d.cold_start().await;
    let err = start.intacct().await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, BootstrapError::Secret(_)), "{text}");
    assert!(text.contains("company_id"), "{text}");
    assert!(
        !text.contains("sp-value-9") && !text.contains(&password),
        "{text}"
    );

    // The configuration's Debug (what a careless log line would print) has ARNs, no values.
    let config = start.salesforce_config().await.unwrap();
    let debug = format!("{config:?}");
    assert!(
        !debug.contains(&salesforce.credentials().consumer_secret),
        "{debug}"
    );
    match &config.credentials {
        lf_salesforce::Credentials::ClientCredentials {
            consumer_key,
            consumer_secret,
        } => {
            assert_eq!(consumer_key, &salesforce.credentials().consumer_key);
            assert_eq!(
                consumer_secret.expose_secret(),
                salesforce.credentials().consumer_secret
            );
        }
        other => panic!("expected client credentials, got {other:?}"),
    }

    d.env.remove(SALESFORCE_LOGIN_URL_VAR);
    let start = d.cold_start().await;
    let err = start.salesforce().await.unwrap_err();
    assert!(err.to_string().contains(SALESFORCE_LOGIN_URL_VAR), "{err}");
}

#[tokio::test]
async fn a_spec_set_with_errors_is_refused_whole_with_every_diagnostic() {
    let mut d = Deployment::new().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&d.sdk)
            .force_path_style(true)
            .build(),
    );
    let bucket = d.prefix.clone();
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    // Two files broken in different ways (an unknown key, an unknown transform); the other
    // files compile.
    let mut bundle = lf_mapping::SpecBundle::shipped();
    let entities = bundle
        .files()
        .find(|(n, _)| *n == "library/entities.yaml")
        .map(|(_, t)| t.to_owned())
        .unwrap();
    bundle.insert(
        "library/entities.yaml",
        format!("{entities}\nroutnig: {{}}\n"),
    );
    bundle.insert(
        "opportunity-won.yaml",
        "flow: opportunity-won\nmappings:\n  customer:\n    source: Account\n    target: CUSTOMER\n    fields:\n      - target: NAME\n        transform: no_such_transform\n",
    );
    let names = ["library/entities.yaml", "opportunity-won.yaml"];
    for (name, text) in bundle.files() {
        s3.put_object()
            .bucket(&bucket)
            .key(format!("specs/{name}"))
            .body(text.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    d.set(lf_aws::MAPPING_SOURCE_VAR, &format!("s3://{bucket}/specs/"));
    let start = d.cold_start().await;
    assert!(matches!(start.config().spec_source, SpecSource::S3 { .. }));
    let err = start.specs().await.unwrap_err();
    let BootstrapError::Specs(load) = &err else {
        panic!("expected a spec error, got {err:?}");
    };
    let diagnostics = load.diagnostics().expect("compile diagnostics");
    let files: std::collections::BTreeSet<&str> =
        diagnostics.iter().map(|d| d.file.as_str()).collect();
    assert_eq!(files.len(), 2, "{diagnostics:?}");
    assert_eq!(files, names.into_iter().collect());
}
