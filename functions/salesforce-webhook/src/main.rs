//! salesforce-webhook: Outbound Messages and Flow HTTP callouts through API Gateway onto the
//! flow queues. Wiring only; the work is in `lf_intake` and `lf_runtime`.

use lf_runtime::{ColdStart, Endpoint, RuntimeConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lf_runtime::init_tracing();
    let start = ColdStart::new(RuntimeConfig::from_env()?).await;
    let intake = start.intake(Endpoint::Salesforce).await?;
    lf_runtime::run_http_function(&intake).await
}
