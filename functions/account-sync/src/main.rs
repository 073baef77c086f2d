//! account-sync: Account, Contact, CUSTOMER and CONTACT changes from its SQS queue synced to
//! the other side, with ownership and loop prevention. Wiring only; the work is in `lf_flows`
//! and `lf_runtime`.

use lf_flows::{AccountSync, AccountSyncOptions};
use lf_runtime::{ColdStart, RuntimeConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lf_runtime::init_tracing();
    let start = ColdStart::new(RuntimeConfig::from_env()?).await;
    let handler = AccountSync::new(
        start.flow_ports().await?,
        start.specs().await?,
        AccountSyncOptions::default(),
    )?;
    lf_runtime::run_sqs_function(&handler, &start.parked()).await
}
