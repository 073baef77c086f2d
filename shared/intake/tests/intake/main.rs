//! The intake over loopback HTTP: the real webhook handlers behind the axum router, the
//! embedded (SQLite) queues and sync state, Outbound Messages and Smart Events sent by the
//! sandboxes themselves, and the change poller reading both sandboxes.

// A failed setup step should stop the test loudly; the helpers are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod poller;
mod refusals;
mod smart_events;
mod support;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use lf_domain::{RetryPolicy, SalesforceId, SystemClock};
use lf_intacct::SmartEventVerifier;
use lf_intake::{Intake, IntakeConfig, RoutingTable, SalesforceWebhookConfig};
use lf_salesforce::{Credentials, SalesforceClient, SalesforceConfig};
use lf_sandbox_salesforce::Sandbox as SfSandbox;
use secrecy::SecretString;

use support::{Store, SwitchQueue};

/// The Outbound Message token of these tests (a test value, not a secret of any org).
pub const SF_TOKEN: &str = "sf-token-3f9a1c7e55d24b0c";
/// The callout HMAC key of these tests.
pub const CALLOUT_KEY: &str = "callout-key-8d21e6b4a0f94c3a";
/// The Smart Event token of these tests.
pub const IA_TOKEN: &str = "ia-token-5b7e0d9c2a6f4e18";

/// The intake of the standard routes over `store`'s queues, accepting `org_id`.
pub fn intake(store: &Store, org_id: &str) -> Intake<SwitchQueue> {
    let mut sf = SalesforceWebhookConfig::new(
        vec![SalesforceId::parse(org_id).unwrap()],
        SecretString::from(SF_TOKEN),
    );
    sf.callout_key = Some(SecretString::from(CALLOUT_KEY));
    sf.max_body_bytes = 64 * 1024;
    let config = IntakeConfig {
        routes: RoutingTable::standard(),
        salesforce: Some(sf),
        intacct: Some(SmartEventVerifier::new(SecretString::from(IA_TOKEN)).unwrap()),
    };
    Intake::new(config, store.flow_queues(), Arc::new(SystemClock)).unwrap()
}

/// The real connector signed in to `org` by JWT bearer, with short retries.
pub fn sf_client(org: &SfSandbox, change_settle: Duration) -> SalesforceClient {
    let c = org.credentials();
    let mut config = SalesforceConfig::new(
        url::Url::parse(&org.base_url()).unwrap(),
        Credentials::JwtBearer {
            consumer_key: c.consumer_key.clone(),
            username: c.username.clone(),
            private_key_pem: SecretString::from(c.private_key_pem.clone()),
            audience: None,
        },
    );
    config.retry = RetryPolicy {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(50),
        max_attempts: 4,
    };
    config.change_settle = change_settle;
    SalesforceClient::new(config).unwrap()
}
