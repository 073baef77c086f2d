//! revenue-reconciliation: on the monthly EventBridge schedule (the previous month) or on
//! demand (`{"period": "YYYY-MM"}`), Intacct's recognized revenue against Salesforce's Closed
//! Won bookings, written back to Salesforce, with the report in S3. Wiring only; the work is
//! in `lf_flows` and `lf_runtime`.

use lf_runtime::{ColdStart, RuntimeConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lf_runtime::init_tracing();
    let start = ColdStart::new(RuntimeConfig::from_env()?).await;
    let reports = start.report_store()?;
    let flow = start.revenue_reconciliation().await?;
    lf_runtime::run_reconciliation_function(&flow, &reports).await
}
