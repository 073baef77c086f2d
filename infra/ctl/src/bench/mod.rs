//! `ledgerforce bench`: API efficiency, throughput and latency of the flows against both
//! sandboxes with a per-call latency and Intacct's concurrency cap, next to the floor and to a
//! naive one-record-per-call integration measured in the same run, and the AWS cost per
//! 100,000 events those measurements imply. Every figure comes from the sandboxes' own
//! counters and the clock; nothing is assumed but the list prices and the DynamoDB writes
//! per record (see [`cost`]).

mod cost;
mod rig;
mod stages;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rig::{Calls, Platform};
use stages::{Batching, Run};

use crate::CliError;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Accounts in the backfill.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    accounts: usize,
    /// Closed Won deals through the Outbound Message path.
    #[arg(long, default_value_t = 10_000, value_name = "M")]
    deals: usize,
    /// Records the naive integration is measured on (at most N, M); its calls are scaled to
    /// the full size.
    #[arg(long, default_value_t = 500, value_name = "K")]
    naive_sample: usize,
    /// Deals synced one at a time per latency setting, for the percentiles.
    #[arg(long, default_value_t = 100, value_name = "K")]
    latency_samples: usize,
    /// Delay of every Salesforce API call.
    #[arg(long, default_value_t = 80, value_name = "MS")]
    sf_latency_ms: u64,
    /// Delay of every Intacct request.
    #[arg(long, default_value_t = 250, value_name = "MS")]
    intacct_latency_ms: u64,
    /// Intacct requests allowed at once (the company's cap; 429 GW-0010 above it).
    #[arg(long, default_value_t = 2, value_name = "N")]
    intacct_cap: usize,
    /// Accounts per backfill page (one flow batch).
    #[arg(long, default_value_t = 200, value_name = "N")]
    batch: usize,
    /// Flow instances running at once (pages in flight, deal consumers).
    #[arg(long, default_value_t = 4, value_name = "N")]
    workers: usize,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// Events the cost table is computed for.
const COST_EVENTS: u64 = 100_000;

/// One workload: our run, the naive one, the floor.
#[derive(Debug, serde::Serialize)]
struct Efficiency {
    records: u64,
    ours: Run,
    naive: Run,
    /// Records the naive integration ran on.
    naive_sample: u64,
    /// The naive calls scaled to `records`.
    naive_calls_scaled: f64,
    /// Batch size the floor is computed at.
    batch: u64,
    floor: Calls,
    /// Our calls / the floor's.
    ratio_to_floor: f64,
    /// Naive calls / ours, per record.
    fewer_than_naive: f64,
    /// Records per Intacct request, ours.
    records_per_intacct_request: f64,
    records_per_sec: f64,
    /// The cap's bound: cap × records per Intacct request / Intacct latency (none at zero
    /// latency).
    bound_records_per_sec: Option<f64>,
}

#[derive(Debug, serde::Serialize)]
struct Percentiles {
    samples: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

#[derive(Debug, serde::Serialize)]
struct Report {
    salesforce_latency_ms: u64,
    intacct_latency_ms: u64,
    intacct_cap: usize,
    workers: usize,
    accounts: Efficiency,
    deals: Efficiency,
    latency_zero: Percentiles,
    latency_configured: Percentiles,
    /// At the configured latency with the template's batching window, which a lone deal
    /// waits out.
    latency_batched: Percentiles,
    batching_window_secs: u64,
    cost: cost::Cost,
}

fn efficiency(
    ours: Run,
    naive: Run,
    batch: u64,
    floor_intacct_per_batch: u64,
    platform: Platform,
) -> Efficiency {
    let records = ours.records;
    let batches = records.div_ceil(batch.max(1));
    // One read and one sObject Collections write per batch (at most 200 records each).
    let per_sf_call = batch.min(200);
    let floor = Calls {
        salesforce: 2 * records.div_ceil(per_sf_call.max(1)),
        intacct: floor_intacct_per_batch * batches,
    };
    let naive_calls_scaled = naive.per_record() * records as f64;
    let records_per_intacct_request = records as f64 / ours.calls.intacct.max(1) as f64;
    let latency = platform.intacct_latency.as_secs_f64();
    Efficiency {
        records,
        naive_sample: naive.records,
        naive_calls_scaled,
        batch,
        ratio_to_floor: ours.calls.total() as f64 / floor.total().max(1) as f64,
        fewer_than_naive: naive.per_record() / ours.per_record().max(f64::EPSILON),
        records_per_intacct_request,
        records_per_sec: ours.records_per_sec(),
        bound_records_per_sec: (latency > 0.0)
            .then(|| platform.intacct_cap as f64 * records_per_intacct_request / latency),
        floor,
        ours,
        naive,
    }
}

fn percentiles(mut samples: Vec<Duration>) -> Percentiles {
    samples.sort();
    // Nearest rank.
    let at = |q: f64| {
        let rank = ((samples.len() as f64) * q).ceil() as usize;
        samples
            .get(rank.saturating_sub(1))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Percentiles {
        samples: samples.len(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}

/// Runs the stages in order and prints the report; exits 1 when a record was not synced.
pub(crate) async fn run(args: Args) -> Result<ExitCode, CliError> {
    crate::init_logging("error");
    if args.intacct_cap == 0 {
        return Err("--intacct-cap must be at least 1".into());
    }
    if args.accounts == 0 || args.deals == 0 {
        return Err("--accounts and --deals must be at least 1".into());
    }
    let platform = Platform {
        salesforce_latency: Duration::from_millis(args.sf_latency_ms),
        intacct_latency: Duration::from_millis(args.intacct_latency_ms),
        intacct_cap: args.intacct_cap,
    };
    let specs = Arc::new(crate::local::stack::load_specs(None)?);
    let batch = args.batch.clamp(1, 200);
    let say = |what: &str| {
        if !args.json {
            eprintln!("bench: {what}");
        }
    };

    say(&format!("backfill of {} Accounts", args.accounts));
    let ours =
        stages::backfill(platform, specs.clone(), args.accounts, batch, args.workers).await?;
    let sample = args.naive_sample.clamp(1, args.accounts);
    say(&format!("naive integration on {sample} Accounts"));
    let naive = stages::naive_accounts(platform, specs.clone(), sample, args.workers).await?;
    // Per page: one read request (candidates and stored links) and one create request.
    let accounts = efficiency(ours, naive, batch as u64, 2, platform);

    say(&format!("{} Closed Won deals", args.deals));
    let (ours, times) = stages::deals(
        platform,
        specs.clone(),
        args.deals,
        Batching::DEPLOYED,
        args.workers,
    )
    .await?;
    let sample = args.naive_sample.clamp(1, args.deals);
    say(&format!("naive integration on {sample} deals"));
    let (naive, _) =
        stages::deals(platform, specs.clone(), sample, Batching::ONE, args.workers).await?;
    let cost = cost::per_events(COST_EVENTS, &ours, &times);
    // Per batch: one read request, one create of the new customers, one of the invoices.
    let deals = efficiency(ours, naive, u64::from(Batching::DEPLOYED.size), 3, platform);

    say(&format!(
        "latency, {} deals one at a time at zero and at the configured latency, then with the \
         template's batching window",
        args.latency_samples
    ));
    let [zero, configured, batched] =
        stages::latency(platform, specs.clone(), args.latency_samples.max(1)).await?;

    let report = Report {
        salesforce_latency_ms: args.sf_latency_ms,
        intacct_latency_ms: args.intacct_latency_ms,
        intacct_cap: args.intacct_cap,
        workers: args.workers,
        accounts,
        deals,
        latency_zero: percentiles(zero),
        latency_configured: percentiles(configured),
        latency_batched: percentiles(batched),
        batching_window_secs: Batching::DEPLOYED.window.as_secs(),
        cost,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    let complete = [&report.accounts, &report.deals].iter().all(|e| {
        e.ours.synced == e.ours.records
            && e.naive.synced == e.naive.records
            && e.ours.failed == 0
            && e.naive.failed == 0
    });
    Ok(if complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn render(r: &Report) -> String {
    let mut out = format!(
        "ledgerforce bench: Salesforce {} ms, Intacct {} ms per call, Intacct cap {}, {} workers\n\n",
        r.salesforce_latency_ms, r.intacct_latency_ms, r.intacct_cap, r.workers
    );
    out.push_str(
        "| workload | synced | calls (SF + Intacct) | per record | floor | vs floor | naive per record (sample) | fewer than naive | records/s | cap bound |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (name, e) in [
        ("accounts backfill", &r.accounts),
        ("closed-won deals", &r.deals),
    ] {
        out.push_str(&format!(
            "| {name} | {}/{} | {} ({} + {}) | {:.4} | {} ({} + {}) at batch {} | {:.2}× | {:.2} ({}) | {:.1}× | {:.1} | {} |\n",
            e.ours.synced,
            e.records,
            e.ours.calls.total(),
            e.ours.calls.salesforce,
            e.ours.calls.intacct,
            e.ours.per_record(),
            e.floor.total(),
            e.floor.salesforce,
            e.floor.intacct,
            e.batch,
            e.ratio_to_floor,
            e.naive.per_record(),
            e.naive_sample,
            e.fewer_than_naive,
            e.records_per_sec,
            e.bound_records_per_sec
                .map_or("-".to_owned(), |b| format!(
                    "{b:.1} ({:.0}%; {:.1} records/request)",
                    100.0 * e.records_per_sec / b,
                    e.records_per_intacct_request
                )),
        ));
    }
    out.push_str(&format!(
        "\nwebhook received -> invoice created and id written back, one deal at a time:\n\
         | sandbox latency | deals | p50 | p99 | max |\n|---|---|---|---|---|\n\
         | zero | {} | {:.1} ms | {:.1} ms | {:.1} ms |\n\
         | {} ms / {} ms | {} | {:.1} ms | {:.1} ms | {:.1} ms |\n\
         | {} ms / {} ms, batching window {} s | {} | {:.1} ms | {:.1} ms | {:.1} ms |\n",
        r.latency_zero.samples,
        r.latency_zero.p50_ms,
        r.latency_zero.p99_ms,
        r.latency_zero.max_ms,
        r.salesforce_latency_ms,
        r.intacct_latency_ms,
        r.latency_configured.samples,
        r.latency_configured.p50_ms,
        r.latency_configured.p99_ms,
        r.latency_configured.max_ms,
        r.salesforce_latency_ms,
        r.intacct_latency_ms,
        r.batching_window_secs,
        r.latency_batched.samples,
        r.latency_batched.p50_ms,
        r.latency_batched.p99_ms,
        r.latency_batched.max_ms,
    ));
    out.push_str(&format!(
        "\nAWS cost per {} Closed Won events (us-east-1 list prices, free tiers left out):\n\
         | item | quantity | cost |\n|---|---|---|\n",
        r.cost.events
    ));
    for l in &r.cost.lines {
        out.push_str(&format!(
            "| {} | {:.0} {} | ${:.4} |\n",
            l.item, l.quantity, l.unit, l.usd
        ));
    }
    out.push_str(&format!("| total | | ${:.4} |\n", r.cost.total_usd));
    out
}
