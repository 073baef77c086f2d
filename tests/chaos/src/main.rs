//! `chaos`: every flow under a seeded mixed workload while the sandboxes inject faults and
//! consumer processes are killed, then both systems compared through the mapping. See the
//! README's "Chaos suite" for what it proves and how to run it.
//!
//! - `chaos run [--seed S] [--events N] [--workers K] [--kills M] [--full]`
//!   coordinates a run and exits non-zero on any violation;
//! - `chaos worker` (hidden) is one consumer process the coordinator starts and kills.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check;
mod run;
mod system;
mod wiring;
mod worker;
mod workload;

/// Errors that end a run or a worker.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Parser)]
#[command(
    name = "chaos",
    about = "ledgerforce under faults: no duplicates, nothing lost, no echo writes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the suite.
    Run(run::Args),
    /// One consumer process of every flow (started by `run`).
    #[command(hide = true)]
    Worker(worker::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
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
            Command::Worker(args) => worker::run(args).await.map(|()| ExitCode::SUCCESS),
            Command::Run(args) => run::run(args).await,
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
