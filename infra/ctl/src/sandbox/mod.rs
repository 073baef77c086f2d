//! `ledgerforce sandbox salesforce|intacct`.

use std::process::ExitCode;

use clap::Subcommand;

use crate::CliError;

pub(crate) mod intacct;
pub(crate) mod salesforce;

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

/// Returns on Ctrl-C, or on SIGTERM from a script that started the sandbox, so both emulators
/// shut down cleanly (and print their counters) however they are stopped.
pub(crate) async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
