//! The local moto server the adapter tests run against: its endpoint and an SDK configuration
//! for it, shared by the contract and spec-source tests.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use lf_aws::{AwsSettings, load_sdk_config};

pub const ENDPOINT_VAR: &str = "LEDGERFORCE_MOTO_ENDPOINT";

/// The moto endpoint; panics with how to start one when it is not configured.
pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{ENDPOINT_VAR} is not set. The AWS adapter tests run against a local moto server: \
             run `tests/run` (it installs and starts moto), or start `moto_server -H 127.0.0.1 \
             -p PORT` yourself and export {ENDPOINT_VAR}=http://127.0.0.1:PORT"
        ),
    }
}

/// The SDK configuration for moto, after checking that it answers.
pub async fn sdk_config() -> SdkConfig {
    let endpoint = endpoint();
    let config = load_sdk_config(&AwsSettings::local(endpoint.clone())).await;
    let probe = aws_sdk_dynamodb::Client::new(&config);
    if let Err(e) = probe.list_tables().limit(1).send().await {
        panic!(
            "moto is not reachable at {endpoint} ({ENDPOINT_VAR}): {}. Run `tests/run`, which \
             starts it.",
            DisplayErrorContext(e)
        );
    }
    config
}
