//! `ledgerforce sandbox salesforce|intacct`.

use std::process::ExitCode;

use clap::Subcommand;

use crate::CliError;

mod intacct;
mod salesforce;

#[derive(Debug, Subcommand)]
pub(crate) enum SandboxCommand {
    /// A Salesforce org in a process (REST, SOQL, collections, composite, Bulk 2.0, OAuth).
    Salesforce(salesforce::Args),
    /// A Sage Intacct company in a process (XML gateway, sessions, entities).
    Intacct(intacct::Args),
}

pub(crate) async fn run(cmd: SandboxCommand) -> Result<ExitCode, CliError> {
    match cmd {
        SandboxCommand::Salesforce(args) => salesforce::run(args).await,
        SandboxCommand::Intacct(args) => intacct::run(args).await,
    }
}
