//! The intake over loopback HTTP: the real webhook handlers behind the axum router, the
//! embedded (SQLite) queues and sync state, Outbound Messages and Smart Events sent by the
//! sandboxes themselves, and the change poller reading both sandboxes. (The refusals, which
//! capture log output, run in their own binary: see tests/refusals.)

// A failed setup step should stop the test loudly; the helpers are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod platform;
mod poller;
mod smart_events;
mod support;
mod webhooks;

use std::time::Duration;

use lf_domain::RetryPolicy;
use lf_salesforce::{Credentials, SalesforceClient, SalesforceConfig};
use lf_sandbox_salesforce::Sandbox as SfSandbox;
use secrecy::SecretString;

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
