//! `ledgerforce`: the operator CLI. Wiring only; each subcommand lives in its own module.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod demo;
mod local;
mod mapping;
mod operate;
mod ops;
mod sandbox;

/// Errors a subcommand reports before exiting non-zero.
pub(crate) type CliError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Parser)]
#[command(
    name = "ledgerforce",
    version,
    about = "Salesforce ⇄ Sage Intacct sync: operator CLI"
)]
struct Cli {
    /// The configuration file (default: ./ledgerforce.toml if it exists) of `doctor`,
    /// `reconcile`, `drift`, `backfill`, and of `status`, `audit`, `replay` and `console` when
    /// no --data-dir is given; LEDGERFORCE_* variables override its keys (see the README).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a protocol-faithful emulator of Salesforce or Intacct on a loopback port.
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
    /// Check or test mapping specs.
    #[command(subcommand)]
    Mapping(mapping::MappingCommand),
    /// Run the whole system in one process: both sandboxes, the webhooks, the flows, the poller.
    Local(local::Args),
    /// Run the flows end to end on the embedded sandboxes with seeded data, and check them.
    Demo(demo::Args),
    /// Show queue depths, dead letters, parked records with reasons, watermarks and counts.
    Status(operate::StatusArgs),
    /// Show the history of one record across both systems: its links and audit entries.
    Audit(operate::AuditArgs),
    /// Put parked and dead-lettered changes back on their flow's queue, last error shown first.
    Replay(operate::ReplayArgs),
    /// Serve the operator console: a web page over the same state, with replay buttons.
    Console(operate::ConsoleArgs),
    /// Check the configuration, both logins, permissions, the mapped fields and the webhooks.
    Doctor(ops::doctor::Args),
    /// Run the revenue reconciliation of a month on demand and write its report.
    Reconcile(ops::reconcile::Args),
    /// Compare every linked record pair through the mapping; --repair writes the owners' values.
    Drift(ops::drift::Args),
    /// Initial load with match-first dedup, resumable: existing records linked, the rest created.
    #[command(subcommand)]
    Backfill(ops::backfill::Command),
    /// Measure API calls, throughput, latency and cost against the sandboxes with latency.
    Bench(bench::Args),
}

/// Logs to stderr, filtered by `RUST_LOG` (else `default`): what `local` and `demo` show of
/// each sync as it happens.
pub(crate) fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Sandbox(cmd) => sandbox::run(cmd).await,
            Command::Mapping(cmd) => mapping::run(cmd).await,
            Command::Local(args) => local::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Status(args) => operate::status(cli.config.as_deref(), args).await,
            Command::Audit(args) => operate::audit(cli.config.as_deref(), args).await,
            Command::Replay(args) => operate::replay(cli.config.as_deref(), args).await,
            Command::Console(args) => operate::console(cli.config.as_deref(), args).await,
            Command::Doctor(args) => ops::doctor::run(cli.config.as_deref(), args).await,
            Command::Reconcile(args) => match ops::load_config(cli.config.as_deref()) {
                Ok(config) => ops::reconcile::run(&config, args).await,
                Err(e) => Err(e.into()),
            },
            Command::Drift(args) => match ops::load_config(cli.config.as_deref()) {
                Ok(config) => ops::drift::run(&config, args).await,
                Err(e) => Err(e.into()),
            },
            Command::Backfill(cmd) => match ops::load_config(cli.config.as_deref()) {
                Ok(config) => ops::backfill::run(&config, cmd).await,
                Err(e) => Err(e.into()),
            },
            Command::Bench(args) => bench::run(args).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}
