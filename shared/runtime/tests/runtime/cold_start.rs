//! The cold start against moto (Secrets Manager, DynamoDB, SQS, S3) and both sandboxes: the
//! secrets become connector configurations that sign in, the stores and queues are the
//! deployment's, and a spec set with errors is refused whole.

use std::sync::Arc;

use lf_aws::SpecSource;
use lf_domain::Flow;
use lf_domain::port::{ParkedFailures, Queue};
use lf_flows::{OpportunityWon, OpportunityWonOptions};
use lf_runtime::config::{INTACCT_SECRET_VAR, SALESFORCE_LOGIN_URL_VAR, WEBHOOK_SECRET_VAR};
use lf_runtime::{BootstrapError, Endpoint};
use lf_sandbox_intacct as ia;
use lf_sandbox_salesforce as sf;
use lf_testkit::deployment::{Deployment, sandboxes_with, wired};
use secrecy::ExposeSecret;

async fn sandboxes() -> (sf::Sandbox, ia::Sandbox) {
    sandboxes_with(sf::DataSet::Empty).await
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
