//! credit-alerts: Intacct customer, invoice and payment changes from its SQS queue turned into
//! the Account's credit status and one Task per credit episode. Wiring only; the work is in
//! `lf_flows` and `lf_runtime`.

use lf_flows::{CreditAlerts, CreditAlertsOptions};
use lf_runtime::{ColdStart, RuntimeConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lf_runtime::init_tracing();
    let start = ColdStart::new(RuntimeConfig::from_env()?).await;
    let handler = CreditAlerts::new(
        start.flow_ports().await?,
        start.specs().await?,
        CreditAlertsOptions::default(),
    )?;
    lf_runtime::run_sqs_function(&handler, &start.parked()).await
}
