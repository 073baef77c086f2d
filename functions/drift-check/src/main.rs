//! drift-check: on the weekly EventBridge schedule (or on demand, `{"repair": true,
//! "objects": ["Account"]}`), every linked Account ⇄ CUSTOMER and Contact ⇄ CONTACT pair
//! compared through the mapping, repaired by the owner's values when configured, with the
//! report in S3. Wiring only; the work is in `lf_flows` and `lf_runtime`.

use lf_runtime::{ColdStart, RuntimeConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lf_runtime::init_tracing();
    let start = ColdStart::new(RuntimeConfig::from_env()?).await;
    let reports = start.report_store()?;
    let flow = start.account_sync().await?;
    let repair = start.config().drift_repair;
    lf_runtime::run_drift_function(&flow, &reports, repair).await
}
