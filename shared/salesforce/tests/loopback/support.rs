//! Starting a sandbox org on loopback and pointing a client at it.

use std::time::Duration;

use lf_domain::RetryPolicy;
use lf_salesforce::{BulkPollPolicy, Credentials, Fields, SalesforceClient, SalesforceConfig};
use lf_sandbox_salesforce::{Sandbox, SandboxConfig};
use secrecy::SecretString;
use serde_json::Value;
use url::Url;

/// A fresh, empty org on a free loopback port.
pub async fn org() -> Sandbox {
    org_with(SandboxConfig::default()).await
}

pub async fn org_with(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config)
        .await
        .expect("the Salesforce sandbox must start on loopback")
}

/// Client settings for the sandbox: JWT bearer with the sandbox's generated key, short
/// backoff so retried faults do not slow the suite.
pub fn jwt_config(org: &Sandbox) -> SalesforceConfig {
    let c = org.credentials();
    let mut config = SalesforceConfig::new(
        Url::parse(&org.base_url()).expect("sandbox base URL"),
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
    config.bulk_poll = BulkPollPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
        timeout: Duration::from_secs(60),
    };
    config.request_timeout = Duration::from_secs(20);
    config
}

pub fn client(org: &Sandbox) -> SalesforceClient {
    SalesforceClient::new(jwt_config(org)).expect("client config")
}

pub fn client_with(org: &Sandbox, adjust: impl FnOnce(&mut SalesforceConfig)) -> SalesforceClient {
    let mut config = jwt_config(org);
    adjust(&mut config);
    SalesforceClient::new(config).expect("client config")
}

/// A JSON object literal as field values.
pub fn fields(v: Value) -> Fields {
    match v {
        Value::Object(m) => m,
        other => panic!("expected an object, got {other}"),
    }
}
