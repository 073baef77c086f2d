//! The change-poller function's invocation: a run whose streams all poll answers a summary; a
//! run with a failed stream is an error naming it, so the schedule's retry and alarm see it.

use std::sync::Arc;
use std::time::Duration;

use lf_domain::{Flow, RetryPolicy, SystemClock};
use lf_embedded::{Database, SqliteQueue};
use lf_intacct::{IntacctClient, IntacctConfig};
use lf_intake::{ChangePoller, FlowQueues, PollStream, PollerConfig, RoutingTable};
use lf_runtime::poll_invocation;
use lf_salesforce::{SalesforceClient, SalesforceConfig};
use lf_sandbox_intacct as ia;
use lf_sandbox_salesforce as sf;
use secrecy::SecretString;

fn salesforce_client(org: &sf::Sandbox) -> SalesforceClient {
    let c = org.credentials();
    let config = SalesforceConfig::new(
        url::Url::parse(&org.base_url()).unwrap(),
        lf_salesforce::Credentials::ClientCredentials {
            consumer_key: c.consumer_key.clone(),
            consumer_secret: SecretString::from(c.consumer_secret.clone()),
        },
    );
    SalesforceClient::new(config).unwrap()
}

/// A client of `company` whose user password is wrong: every request is refused.
fn refused_intacct_client(company: &ia::Sandbox) -> IntacctClient {
    let c = company.credentials();
    let mut config = IntacctConfig::new(
        company.endpoint_url(),
        lf_intacct::Credentials {
            sender_id: c.sender_id.clone(),
            sender_password: SecretString::from(c.sender_password.clone()),
            company_id: c.company_id.clone(),
            user_id: c.user_id.clone(),
            user_password: SecretString::from("not-the-password"),
        },
    );
    config.retry = RetryPolicy {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
        max_attempts: 2,
    };
    IntacctClient::new(config).unwrap()
}

fn poller(
    db: &Database,
    salesforce: SalesforceClient,
    intacct: IntacctClient,
    flows: &[Flow],
) -> ChangePoller<SalesforceClient, IntacctClient, lf_embedded::SqliteSyncState, SqliteQueue> {
    let queues = flows.iter().fold(FlowQueues::new(), |q, f| {
        q.with(*f, db.queue(f.as_str()).unwrap())
    });
    let routes = RoutingTable::standard().only(flows);
    ChangePoller::new(
        salesforce,
        intacct,
        db.sync_state(),
        queues,
        PollStream::from_routes(&routes),
        PollerConfig::default(),
        Arc::new(SystemClock),
    )
    .unwrap()
}

#[tokio::test]
async fn a_failed_stream_fails_the_invocation_and_names_the_stream() {
    let org = sf::Sandbox::start(sf::SandboxConfig::default())
        .await
        .unwrap();
    let company = ia::Sandbox::start(ia::SandboxConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("lf.db"), Arc::new(SystemClock)).unwrap();

    let healthy = poller(
        &db,
        salesforce_client(&org),
        refused_intacct_client(&company),
        &[Flow::OpportunityWon],
    );
    let summary = poll_invocation(&healthy).await.unwrap();
    assert_eq!(summary["streams"][0]["stream"], "salesforce/Opportunity");
    assert_eq!(summary["streams"][0]["error"], serde_json::Value::Null);
    assert!(org.api_calls() >= 1);

    let failing = poller(
        &db,
        salesforce_client(&org),
        refused_intacct_client(&company),
        &[Flow::OpportunityWon, Flow::InvoiceStatus],
    );
    let err = poll_invocation(&failing).await.unwrap_err();
    // Three change streams and the invoices' falls-due sweep, which reads (and so fails)
    // only when its first run's lookback (an hour) reaches into yesterday.
    let now = chrono::Utc::now();
    let sweep_reads = (now - chrono::Duration::hours(1)).date_naive() < now.date_naive();
    assert_eq!(
        (err.failed, err.total),
        (2 + usize::from(sweep_reads), 4),
        "{err}"
    );
    assert!(err.streams.contains("intacct/"), "{err}");
    assert!(!err.streams.contains("salesforce/"), "{err}");
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "PollFailed");
}
