//! change-poller: one poll of every change stream per EventBridge schedule tick. Wiring only;
//! the work is in `lf_intake` and `lf_runtime`.

use lf_runtime::{ColdStart, RuntimeConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lf_runtime::init_tracing();
    let start = ColdStart::new(RuntimeConfig::from_env()?).await;
    let poller = start.poller().await?;
    lf_runtime::run_poller_function(&poller).await
}
