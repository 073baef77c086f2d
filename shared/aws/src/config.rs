//! The SDK configuration shared by the DynamoDB and SQS clients.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// Where the AWS clients connect and as whom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// The region; `None` takes it from the environment (`AWS_REGION`, profile).
    pub region: Option<String>,
    /// Overrides every service endpoint, e.g. `http://127.0.0.1:5000` for a local moto server.
    pub endpoint_url: Option<String>,
    /// Signs with fixed dummy credentials instead of the default provider chain. For local
    /// emulators (moto), which accept any key; it also keeps the chain from probing the
    /// instance metadata endpoint on a machine that is not in AWS.
    pub local_credentials: bool,
}

impl AwsSettings {
    /// Settings for a local emulator at `endpoint_url` in `us-east-1`.
    pub fn local(endpoint_url: impl Into<String>) -> Self {
        Self {
            region: Some("us-east-1".to_owned()),
            endpoint_url: Some(endpoint_url.into()),
            local_credentials: true,
        }
    }
}

/// Connecting must fail fast so a dead endpoint surfaces as `Unavailable` and the caller's
/// retry policy, not a hung Lambda, decides what happens next.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longer than SQS's longest long poll (20 s), so a receive is never cut short.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Loads the SDK configuration: the default providers (environment, profile, container and
/// instance credentials) unless `settings` override them. Build clients from it with
/// `aws_sdk_dynamodb::Client::new(&config)` and `aws_sdk_sqs::Client::new(&config)`.
pub async fn load_sdk_config(settings: &AwsSettings) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts);
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    if settings.local_credentials {
        loader = loader.credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "ledgerforce-local",
        ));
    }
    loader.load().await
}
