//! `ledgerforce reconcile --period YYYY-MM [--report FILE] [--json]`: the month-end revenue
//! reconciliation on demand, against the configured systems and store, with its report (HTML,
//! and the CSV beside it) written to files. `ledgerforce local` writes its reports through the
//! same [`write_reports`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use lf_domain::port::Month;
use lf_flows::report::report_names;
use lf_flows::{Ports, Reconciliation, RevenueReconciliation};
use serde_json::Value;

use super::config::{Config, StoreConfig};
use super::systems::{self, Resolver, StorePorts};
use crate::CliError;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The month to reconcile (YYYY-MM).
    #[arg(long, value_parser = parse_period)]
    period: Month,
    /// Where to write the HTML report; the CSV goes beside it (same name, `.csv`). Default:
    /// `<store.data_dir>/reports/revenue-reconciliation/<period>/report.html` for the embedded
    /// store, `reports/revenue-reconciliation/<period>/report.html` here otherwise.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

fn parse_period(text: &str) -> Result<Month, String> {
    Month::parse(text).ok_or_else(|| format!("`{text}` is not a month (YYYY-MM)"))
}

/// The report files of a run: `report` and the CSV beside it, or the default place.
fn report_paths(config: &Config, period: Month, report: Option<&Path>) -> (PathBuf, PathBuf) {
    match report {
        Some(html) => (html.to_path_buf(), html.with_extension("csv")),
        None => {
            let root = match &config.store {
                StoreConfig::Embedded { data_dir } => data_dir.join("reports"),
                StoreConfig::Aws(_) => PathBuf::from("reports"),
            };
            let (html, csv) = report_names(period);
            (root.join(html), root.join(csv))
        }
    }
}

/// Writes a reconciliation's HTML and CSV reports, logs the run and returns its summary.
pub(crate) fn write_reports(
    period: Month,
    rec: &Reconciliation,
    html: &Path,
    csv: &Path,
) -> Result<Value, String> {
    let html = write_file(html, rec.to_html())?;
    let csv = write_file(csv, rec.to_csv())?;
    tracing::info!(
        %period,
        accounts = rec.rows.len(),
        unmatched_revenue = rec.unmatched_revenue.len(),
        unmatched_bookings = rec.unmatched_bookings.len(),
        report = %html,
        "revenue reconciled"
    );
    for failure in &rec.failures {
        tracing::warn!(%period, %failure, "a reconciliation write failed");
    }
    Ok(rec.summary(&html, &csv))
}

fn write_file(path: &Path, body: String) -> Result<String, String> {
    let failed = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(failed)?;
    }
    std::fs::write(path, body).map_err(failed)?;
    Ok(path.display().to_string())
}

async fn run_on<P: Ports>(
    ports: P,
    config: &Config,
    period: Month,
    html: &Path,
    csv: &Path,
) -> Result<(Value, usize), CliError> {
    let specs = Arc::new(systems::specs(config)?);
    let flow = RevenueReconciliation::new(ports, specs, config.reconciliation.clone())?;
    let rec = flow.run(period).await?;
    let failures = rec.failures.len();
    Ok((write_reports(period, &rec, html, csv)?, failures))
}

pub(crate) async fn run(config: &Config, args: Args) -> Result<ExitCode, CliError> {
    crate::init_logging("warn");
    let (html, csv) = report_paths(config, args.period, args.report.as_deref());
    let resolver = Resolver::new(config);
    let (summary, failures) = match systems::store_ports(config, &resolver).await? {
        StorePorts::Embedded(ports) => run_on(ports, config, args.period, &html, &csv).await?,
        StorePorts::Aws(ports) => run_on(ports, config, args.period, &html, &csv).await?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary);
    }
    // A run whose write-back to Salesforce partly failed reports it and exits non-zero.
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The summary as lines: each number the run reports, then the report files.
fn print_summary(summary: &Value) {
    let Some(map) = summary.as_object() else {
        println!("{summary}");
        return;
    };
    println!(
        "revenue reconciliation {}",
        map.get("period").and_then(Value::as_str).unwrap_or("")
    );
    for (key, value) in map {
        if key == "period" {
            continue;
        }
        let shown = match value {
            Value::String(s) => s.clone(),
            Value::Array(items) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; "),
            // `written` and `report`: their parts on one line.
            Value::Object(parts) => parts
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => format!("{k} {s}"),
                    other => format!("{k} {other}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        println!("  {key:<22} {shown}");
    }
}
