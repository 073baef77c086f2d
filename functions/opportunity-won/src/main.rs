//! opportunity-won: Closed Won deals from its SQS queue into Intacct customers and documents.
//! Wiring only; the work is in `lf_flows` and `lf_runtime`.

use lf_flows::{OpportunityWon, OpportunityWonOptions};
use lf_runtime::{ColdStart, RuntimeConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lf_runtime::init_tracing();
    let start = ColdStart::new(RuntimeConfig::from_env()?).await;
    let handler = OpportunityWon::new(
        start.flow_ports().await?,
        start.specs().await?,
        OpportunityWonOptions::default(),
    )?;
    lf_runtime::run_sqs_function(&handler, &start.parked()).await
}
