//! invoice-status: Intacct AR invoice and payment changes from its SQS queue, summed up per
//! customer onto the linked Salesforce Account. Wiring only; the work is in `lf_flows` and
//! `lf_runtime`.

use lf_flows::{InvoiceStatus, InvoiceStatusOptions};
use lf_runtime::{ColdStart, RuntimeConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lf_runtime::init_tracing();
    let start = ColdStart::new(RuntimeConfig::from_env()?).await;
    let handler = InvoiceStatus::new(
        start.flow_ports().await?,
        start.specs().await?,
        InvoiceStatusOptions::default(),
    )?;
    lf_runtime::run_sqs_function(&handler, &start.parked()).await
}
