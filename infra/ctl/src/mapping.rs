//! `ledgerforce mapping check|test`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::CliError;

#[derive(Debug, Subcommand)]
pub(crate) enum MappingCommand {
    /// Compile every spec in DIR and report all errors.
    Check {
        #[arg(default_value = "infra/mappings")]
        dir: PathBuf,
    },
    /// Run the test cases inside every spec in DIR.
    Test {
        #[arg(default_value = "infra/mappings")]
        dir: PathBuf,
    },
}

pub(crate) async fn run(cmd: MappingCommand) -> Result<ExitCode, CliError> {
    let dir = match cmd {
        MappingCommand::Check { dir } | MappingCommand::Test { dir } => dir,
    };
    Err(format!("mapping specs are not built yet ({})", dir.display()).into())
}
