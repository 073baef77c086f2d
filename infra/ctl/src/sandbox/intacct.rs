//! `ledgerforce sandbox intacct`: an emulated Sage Intacct company in the foreground.

use std::process::ExitCode;
use std::time::Duration;

use lf_sandbox_intacct::{
    DataSet, IntacctFault, Sandbox, SandboxConfig, SmartEventConfig, parse_faults,
};

use crate::CliError;

/// The token Smart Events carry when none is given: a demo value, documented, not a secret.
pub(crate) const DEMO_SMART_EVENT_TOKEN: &str = "demo-smart-event-token-0123456789";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Loopback port to listen on (0 = any free port; the URL is printed).
    #[arg(long, default_value_t = 8082)]
    port: u16,
    /// Data set: `empty` (structure only) or `demo` (customers, invoices, payments, revenue).
    #[arg(long, default_value = "demo")]
    seed: DataSet,
    /// Extra top-level customers BULK-00001… to seed, for paging.
    #[arg(long, default_value_t = 0)]
    bulk_customers: usize,
    /// Seed of the random fault draws: the same seed and requests give the same faults.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Fault rates, e.g. `latency=0.1,5xx=0.05,429=0.05,session=0.02,lost=0.01`.
    #[arg(long, default_value = "")]
    faults: String,
    /// Delay a `latency` fault adds, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    latency_ms: u64,
    /// Concurrent requests allowed before HTTP 429 GW-0010 (0 = no limit).
    #[arg(long, default_value_t = 0)]
    concurrency_limit: usize,
    /// Where Smart Events are posted (all six ledgerforce topics); none when absent.
    #[arg(long)]
    smart_event_url: Option<String>,
    /// The token Smart Events carry.
    #[arg(long, env = "LEDGERFORCE_SMART_EVENT_TOKEN", default_value = DEMO_SMART_EVENT_TOKEN, hide_default_value = true)]
    smart_event_token: String,
    /// Sliding session timeout, in seconds.
    #[arg(long, default_value_t = 3600)]
    session_timeout_secs: u64,
}

/// How a running company was started, for its start-up lines. `ledgerforce local` prints the
/// same lines.
pub(crate) struct Banner<'a> {
    pub(crate) seed: DataSet,
    pub(crate) faults: &'a [(IntacctFault, f64)],
    pub(crate) fault_seed: u64,
    /// 0 = no limit.
    pub(crate) concurrency_limit: usize,
    pub(crate) smart_event_url: Option<&'a str>,
}

/// Prints the labelled lines: the endpoint, the demo credentials and the entities.
pub(crate) fn print_banner(company: &Sandbox, banner: &Banner<'_>) {
    let creds = company.credentials();
    println!("Sage Intacct sandbox ({:?} data), in memory", banner.seed);
    println!("endpoint: {}", company.endpoint_url());
    println!("sender id: {}", creds.sender_id);
    println!("sender password: {}", creds.sender_password);
    println!("company id: {}", creds.company_id);
    println!("user id: {}", creds.user_id);
    println!("user password: {}", creds.user_password);
    let entities: Vec<String> = company
        .entities()
        .iter()
        .map(|e| format!("{} ({}, {})", e.id, e.name, e.currency))
        .collect();
    println!("entities: {}", entities.join(", "));
    if !banner.faults.is_empty() {
        let list: Vec<String> = banner
            .faults
            .iter()
            .map(|(f, p)| format!("{f}={p}"))
            .collect();
        println!("faults: {} (seed {})", list.join(","), banner.fault_seed);
    }
    if banner.concurrency_limit > 0 {
        println!("concurrency limit: {}", banner.concurrency_limit);
    }
    if let Some(url) = banner.smart_event_url {
        println!("smart events: {url}");
    }
}

pub(crate) async fn run(args: Args) -> Result<ExitCode, CliError> {
    let faults = parse_faults(&args.faults)?;
    let config = SandboxConfig {
        port: args.port,
        seed: args.seed,
        bulk_customers: args.bulk_customers,
        fault_seed: args.fault_seed,
        faults: faults.clone(),
        latency: Duration::from_millis(args.latency_ms),
        concurrency_limit: (args.concurrency_limit > 0).then_some(args.concurrency_limit),
        smart_events: args
            .smart_event_url
            .as_ref()
            .map(|url| SmartEventConfig::new(url.clone(), args.smart_event_token.clone())),
        session_timeout: Duration::from_secs(args.session_timeout_secs),
        ..SandboxConfig::default()
    };
    let company = Sandbox::start(config).await?;
    print_banner(
        &company,
        &Banner {
            seed: args.seed,
            faults: &faults,
            fault_seed: args.fault_seed,
            concurrency_limit: args.concurrency_limit,
            smart_event_url: args.smart_event_url.as_deref(),
        },
    );
    println!("Ctrl-C (or SIGTERM) stops it.");
    super::wait_for_stop().await;
    let usage = company.usage();
    company.shutdown().await;
    println!(
        "stopped after {} requests, {} API transactions ({} reads, {} writes, {} smart events)",
        usage.requests,
        usage.billable(),
        usage.reads,
        usage.writes,
        usage.smart_events
    );
    Ok(ExitCode::SUCCESS)
}
