//! `ledgerforce sandbox intacct`.

use std::process::ExitCode;

use crate::CliError;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Loopback port to listen on.
    #[arg(long, default_value_t = 0)]
    port: u16,
}

pub(crate) async fn run(args: Args) -> Result<ExitCode, CliError> {
    Err(format!(
        "the intacct sandbox is not built yet (asked for port {})",
        args.port
    )
    .into())
}
