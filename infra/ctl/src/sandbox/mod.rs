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
    stop_signal().await;
}

/// Registers the SIGTERM handler now and returns the wait for Ctrl-C or SIGTERM. Call it before
/// printing that the process is ready: a script that stops the process as soon as it read that
/// line must not meet the default action (death with a signal status) instead.
pub(crate) fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
