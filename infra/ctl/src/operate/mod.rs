//! The operator commands over a deployment's state: `status`, `audit RECORD_ID`, `replay` and
//! `console`. Each reads the store `ledgerforce local` keeps in `--data-dir`, or the store the
//! configuration names (`--config`: a data folder, or a deployment's DynamoDB tables and SQS
//! queues; see [`Store`]), and prints for a person, or with `--json` for a script.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lf_domain::Flow;
use lf_flows::overview::{Overview, RecordHistory};
use lf_flows::replay::{ReplayFilter, ReplayReport, ReplayResult, ReplaySource};

use crate::CliError;
use crate::ops::config::StoreConfig;

pub(crate) mod console;
mod store;

pub(crate) use store::Store;

/// Where the state is.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StoreArgs {
    /// The data folder `ledgerforce local` uses (its store and queues); default .ledgerforce,
    /// unless a configuration (`--config`, or ./ledgerforce.toml) names the store.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl StoreArgs {
    /// `--data-dir`; else the store of the configuration (`config`, or ./ledgerforce.toml if
    /// it exists); else the default data folder.
    async fn open(&self, config: Option<&Path>) -> Result<Store, CliError> {
        match (&self.data_dir, config) {
            (Some(_), Some(file)) => Err(format!(
                "give either --data-dir or --config ({}), not both: the configuration's \
                 [store] already says where the state is",
                file.display()
            )
            .into()),
            (Some(dir), None) => Store::open(dir).await,
            (None, Some(_)) => open_configured(config).await,
            (None, None) if Path::new(crate::ops::config::DEFAULT_FILE).is_file() => {
                open_configured(None).await
            }
            (None, None) => Store::open(Path::new(crate::local::DEFAULT_DATA_DIR)).await,
        }
    }
}

/// The store the configuration's `[store]` names (the rest of the file is not needed here).
async fn open_configured(config: Option<&Path>) -> Result<Store, CliError> {
    match crate::ops::load_store_config(config)? {
        StoreConfig::Embedded { data_dir } => Store::open(&data_dir).await,
        StoreConfig::Aws(runtime) => Store::open_deployment(&runtime).await,
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {
    /// A Salesforce id (001…, 006…), an Intacct key (CUSTOMERID, CONTACTNAME, document
    /// RECORDNO), or a whole reference such as salesforce/Account/001….
    record_id: String,
    #[command(flatten)]
    store: StoreArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["flow", "id", "all"])))]
pub(crate) struct ReplayArgs {
    /// Replay only this flow's parked failures and dead letters (opportunity-won,
    /// account-onboarding, account-sync, invoice-status, credit-alerts).
    #[arg(long, value_parser = parse_flow)]
    flow: Option<Flow>,
    /// Replay only this record's (an id or a whole reference, as for `audit`).
    #[arg(long)]
    id: Option<String>,
    /// Replay everything parked or dead-lettered.
    #[arg(long, conflicts_with_all = ["flow", "id"])]
    all: bool,
    #[command(flatten)]
    store: StoreArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ConsoleArgs {
    /// Loopback port of the console (0 = any free port; the URL is printed).
    #[arg(long, default_value_t = console::DEFAULT_PORT)]
    port: u16,
    #[command(flatten)]
    store: StoreArgs,
}

fn parse_flow(name: &str) -> Result<Flow, String> {
    Flow::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Flow::ALL.iter().map(Flow::as_str).collect();
        format!(
            "no flow is called {name:?}; the flows are {}",
            names.join(", ")
        )
    })
}

fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `ledgerforce status`.
pub(crate) async fn status(config: Option<&Path>, args: StatusArgs) -> Result<ExitCode, CliError> {
    let overview = args.store.open(config).await?.overview().await;
    if args.json {
        print_json(&overview)?;
    } else {
        print_overview(&overview);
    }
    Ok(if overview.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn count(n: Option<u64>) -> String {
    n.map_or_else(|| "?".to_owned(), |n| n.to_string())
}

fn print_overview(o: &Overview) {
    println!(
        "{:<20} {:>7} {:>9} {:>12} {:>7}  audit",
        "flow", "queued", "in flight", "dead letters", "parked"
    );
    for f in &o.flows {
        let audit: Vec<String> = f.audit.iter().map(|(a, n)| format!("{a} {n}")).collect();
        println!(
            "{:<20} {:>7} {:>9} {:>12} {:>7}  {}",
            f.flow.as_str(),
            count(f.queued),
            count(f.in_flight),
            count(f.dead_letters),
            f.parked,
            if audit.is_empty() {
                "-".to_owned()
            } else {
                audit.join(", ")
            }
        );
    }
    println!();
    if o.parked.is_empty() {
        println!("nothing parked");
    } else {
        println!("parked ({}):", o.parked_total());
        for p in &o.parked {
            println!(
                "  {} {} — {} (x{}, last {})",
                p.flow,
                p.record,
                p.reason,
                p.attempts,
                p.last_seen.format("%Y-%m-%d %H:%M:%S UTC")
            );
        }
    }
    println!();
    println!("watermarks:");
    for w in &o.watermarks {
        match w.modified_at {
            Some(at) => println!("  {:<28} {}", w.stream, at.to_rfc3339()),
            None => println!("  {:<28} not read yet", w.stream),
        }
    }
    if !o.usage.is_empty() {
        println!();
        println!("API usage:");
        for u in &o.usage {
            println!("  {} {}: {}", u.side, u.name, u.value);
        }
    }
    if !o.notes.is_empty() {
        println!();
        println!("not shown:");
        for n in &o.notes {
            println!("  {n}");
        }
    }
    for e in &o.errors {
        println!("error: {e}");
    }
}

/// `ledgerforce audit RECORD_ID`.
pub(crate) async fn audit(config: Option<&Path>, args: AuditArgs) -> Result<ExitCode, CliError> {
    let history = args
        .store
        .open(config)
        .await?
        .history(&args.record_id)
        .await?;
    if args.json {
        print_json(&history)?;
    } else {
        print_history(&history);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_history(h: &RecordHistory) {
    if h.links.is_empty() {
        println!("{}: no links", h.query);
    }
    for l in &h.links {
        println!(
            "link {}: salesforce {} ⇄ intacct {} (since {})",
            l.kind.as_str(),
            l.salesforce,
            l.intacct,
            l.linked_at.to_rfc3339()
        );
    }
    if h.entries.is_empty() {
        println!("no audit entries for {}", h.query);
        return;
    }
    for e in &h.entries {
        let counterpart = e
            .counterpart
            .as_ref()
            .map(|c| format!(" ⇄ {c}"))
            .unwrap_or_default();
        println!(
            "{}  {:<18} {:<14} {}{}  {}",
            e.at.format("%Y-%m-%d %H:%M:%S"),
            e.flow.as_str(),
            lf_flows::overview::action_name(e.action),
            e.record,
            counterpart,
            e.detail
        );
    }
}

/// `ledgerforce replay`.
pub(crate) async fn replay(config: Option<&Path>, args: ReplayArgs) -> Result<ExitCode, CliError> {
    let filter = if args.all {
        ReplayFilter::all()
    } else {
        ReplayFilter {
            flow: args.flow,
            record_id: args.id.clone(),
        }
    };
    let report = args.store.open(config).await?.replay(&filter).await?;
    if args.json {
        print_json(&report)?;
    } else {
        print_replay(&report);
    }
    Ok(if report.left() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One line per item, its last error first (what to check), then what replay did.
pub(crate) fn replay_lines(report: &ReplayReport) -> Vec<String> {
    report
        .items
        .iter()
        .map(|i| {
            let record = i
                .record
                .as_ref()
                .map_or_else(|| "(no record)".to_owned(), ToString::to_string);
            let source = match i.source {
                ReplaySource::Parked => "parked",
                ReplaySource::DeadLetter => "dead letter",
            };
            let result = match &i.result {
                ReplayResult::Requeued => "queued again".to_owned(),
                ReplayResult::RequeuedNotRemoved { error } => {
                    format!("queued again, but still listed: {error}")
                }
                ReplayResult::Failed { error } => format!("NOT queued: {error}"),
                ReplayResult::Skipped { why } => format!("skipped: {why}"),
            };
            format!(
                "last error: {} | {} {} {} (x{}) → {}",
                i.last_error, source, i.flow, record, i.attempts, result
            )
        })
        .collect()
}

fn print_replay(report: &ReplayReport) {
    for line in replay_lines(report) {
        println!("{line}");
    }
    println!(
        "replayed {} of {} ({} left where they were)",
        report.requeued(),
        report.items.len(),
        report.left()
    );
}

/// `ledgerforce console`.
pub(crate) async fn console(
    config: Option<&Path>,
    args: ConsoleArgs,
) -> Result<ExitCode, CliError> {
    crate::init_logging("info");
    let store = args.store.open(config).await?;
    let stopped = crate::sandbox::stop_signal();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    println!("console: http://{}/", listener.local_addr()?);
    println!("Press Ctrl-C to stop.");
    let app = console::router(console::ConsoleState::new(store, None));
    axum::serve(listener, app)
        .with_graceful_shutdown(stopped)
        .await?;
    Ok(ExitCode::SUCCESS)
}
