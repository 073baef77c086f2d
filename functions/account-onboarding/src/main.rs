//! account-onboarding: qualifying Accounts from its SQS queue matched to or created as Intacct
//! customers. Wiring only; the work is in `lf_flows` and `lf_runtime`.

use lf_flows::{AccountOnboarding, AccountOnboardingOptions};
use lf_runtime::{ColdStart, RuntimeConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lf_runtime::init_tracing();
    let start = ColdStart::new(RuntimeConfig::from_env()?).await;
    let handler = AccountOnboarding::new(
        start.flow_ports().await?,
        start.specs().await?,
        AccountOnboardingOptions::default(),
    )?;
    lf_runtime::run_sqs_function(&handler, &start.parked()).await
}
