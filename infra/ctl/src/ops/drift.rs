//! `ledgerforce drift [--object NAME]... [--repair] [--json]`: every linked Account ⇄ CUSTOMER
//! and Contact ⇄ CONTACT pair compared through the mapping, against the configured systems and
//! store — what the weekly drift-check function does in AWS, on demand.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use lf_flows::{AccountSync, DriftOptions, DriftReport, Ports};
use lf_mapping::SpecSet;

use super::config::{Config, StoreConfig};
use super::systems::{self, Resolver, StorePorts};
use crate::CliError;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only the pairs of this object (Account, Contact, CUSTOMER or CONTACT; either side's
    /// name); repeat for several. Default: all.
    #[arg(long = "object", value_name = "NAME")]
    objects: Vec<String>,
    /// Write the owner's value (the field's system of record, else the side modified last)
    /// where a pair disagrees.
    #[arg(long)]
    repair: bool,
    /// Links read, and pairs compared, per batch.
    #[arg(long, default_value_t = 200, value_name = "N")]
    page_size: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the check. Exits 0 when every pair checked agrees (or was repaired), 1 when drift is
/// left or a pair could not be checked, so a script can gate on it.
pub(crate) async fn run(config: &Config, args: Args) -> Result<ExitCode, CliError> {
    crate::init_logging("warn");
    let resolver = Resolver::new(config);
    let specs = Arc::new(systems::specs(config)?);
    let options = DriftOptions {
        objects: args.objects.clone(),
        repair: args.repair,
        page_size: args.page_size.max(1),
    };
    let report = match systems::store_ports(config, &resolver).await? {
        StorePorts::Embedded(ports) => check(ports, specs, &options).await?,
        StorePorts::Aws(ports) => check(ports, specs, &options).await?,
    };
    if let StoreConfig::Embedded { data_dir } = &config.store {
        record(data_dir, &report)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn check<P: Ports>(
    ports: P,
    specs: Arc<SpecSet>,
    options: &DriftOptions,
) -> Result<DriftReport, CliError> {
    let sync = AccountSync::new(ports, specs, Default::default())?;
    // A spinner with the pairs checked on a terminal; nothing on a pipe.
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("  {spinner} {pos} linked pairs checked, {per_sec} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    });
    let report = sync
        .check_drift(options, |checked| {
            if let Some(bar) = &bar {
                bar.set_position(checked);
            }
        })
        .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(report?)
}

/// Where the last drift check over the data folder `data_dir` left its report, which the
/// console shows.
pub(crate) fn latest_report_path(data_dir: &Path) -> PathBuf {
    data_dir.join("reports").join("drift").join("latest.json")
}

/// Keeps `report` as the data folder's last drift check (JSON), beside its text.
pub(crate) fn record(data_dir: &Path, report: &DriftReport) -> Result<(), CliError> {
    let json = latest_report_path(data_dir);
    let folder = json.parent().unwrap_or(data_dir);
    std::fs::create_dir_all(folder)
        .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    std::fs::write(&json, serde_json::to_vec_pretty(report)?)
        .map_err(|e| format!("cannot write {}: {e}", json.display()))?;
    let text = json.with_extension("txt");
    std::fs::write(&text, report.render())
        .map_err(|e| format!("cannot write {}: {e}", text.display()))?;
    Ok(())
}

/// The data folder's last drift check and when it was written, if one was.
pub(crate) fn latest(data_dir: &Path) -> Option<(std::time::SystemTime, DriftReport)> {
    let path = latest_report_path(data_dir);
    let at = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    let report = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    Some((at, report))
}
