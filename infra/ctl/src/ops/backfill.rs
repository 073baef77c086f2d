//! `ledgerforce backfill accounts [--since DATE] [--batch N] [--restart]`: the initial load of
//! Salesforce Accounts into Intacct customers, through the account-onboarding flow itself — so
//! the match-first dedup links the customers that exist already and creates the rest with the
//! flow's batched writes. Pages are read by `SystemModstamp` watermark; after each page the
//! last watermark is stored in the sync state (stream `backfill/salesforce/Account`), so an
//! interrupted run resumes where it stopped and a page handled twice links what it made.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use lf_domain::port::{
    AuditLog, IdempotencyStore, ParkedFailures, RecordRead, SalesforcePort, SyncState, Watermark,
    XrefStore,
};
use lf_domain::{
    ChangeEnvelope, CorrelationId, Deadline, EventOrigin, Flow, RecordRef, SalesforceId,
};
use lf_flows::runner::park_request;
use lf_flows::{
    AccountOnboarding, BatchContext, CustomerPreview, FlowHandler, FlowPorts, Outcome, WorkItem,
};
use lf_intacct::IntacctClient;
use lf_mapping::SpecSet;
use lf_salesforce::{Aggregate, QueryScope, SalesforceClient, Select};

use super::config::Config;
use super::systems::{self, ParkedStore, Resolver, StorePorts};
use crate::CliError;

/// The checkpoint stream of the Account backfill.
pub(crate) const ACCOUNT_STREAM: &str = "backfill/salesforce/Account";

/// How long one page may hold its records in the idempotency store: a run killed mid-page
/// frees them after this, and the next run handles them.
const PAGE_BUDGET: Duration = Duration::from_secs(30);

/// Attempts per page for records the flow asks to retry (throttling, a record a killed run
/// still holds); the pauses between them (2, 4 … 32 s) outlast [`PAGE_BUDGET`].
const ATTEMPTS: u32 = 6;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Salesforce Accounts → Intacct customers: existing customers linked, the rest created.
    Accounts(Args),
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only Accounts modified on or after this day (YYYY-MM-DD) or moment (RFC 3339).
    /// Default: all.
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    since: Option<DateTime<Utc>>,
    /// Accounts read and handed to the flow per page.
    #[arg(long = "batch", default_value_t = 200, value_name = "N")]
    batch: usize,
    /// Start from --since (or the beginning) instead of the stored checkpoint.
    #[arg(long)]
    restart: bool,
    /// Print what would be linked, created and left, one line per Account, and write nothing
    /// (no customer, link, write-back or checkpoint).
    #[arg(long)]
    dry_run: bool,
}

fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD) or an RFC 3339 moment"))
}

/// What a run did.
#[derive(Debug, Default)]
struct Summary {
    read: u64,
    linked: u64,
    created: u64,
    skipped: u64,
    /// Account id → why it was parked (or given up on).
    parked: BTreeMap<String, String>,
    salesforce_calls: u64,
    intacct_requests: u64,
    resumed_from: Option<Watermark>,
    checkpoint: Option<Watermark>,
    elapsed_secs: f64,
    /// A dry run: the counts say what would happen.
    dry_run: bool,
}

impl Summary {
    fn count(&mut self, id: &SalesforceId, outcome: &Outcome) {
        match outcome {
            Outcome::Done { detail } if detail.starts_with("created customer") => {
                self.created += 1;
            }
            Outcome::Done { detail } if detail.ends_with("already exists; linked") => {
                self.linked += 1;
            }
            Outcome::Done { .. } | Outcome::Echo { .. } => self.skipped += 1,
            Outcome::Parked { reason } => {
                self.parked.insert(id.as_str().to_owned(), reason.clone());
            }
            Outcome::Retry { reason, .. } => {
                self.parked.insert(
                    id.as_str().to_owned(),
                    format!("still failing after {ATTEMPTS} attempts (run again): {reason}"),
                );
            }
        }
    }

    fn preview(&mut self, id: &SalesforceId, preview: CustomerPreview) {
        match preview {
            CustomerPreview::Linked { .. } => self.skipped += 1,
            CustomerPreview::Link { .. } => self.linked += 1,
            CustomerPreview::Create { .. } => self.created += 1,
            CustomerPreview::Leave { reason } => {
                self.parked.insert(id.as_str().to_owned(), reason);
            }
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(if self.dry_run {
            "backfill accounts --dry-run (nothing written)\n"
        } else {
            "backfill accounts\n"
        });
        if let Some(w) = &self.resumed_from {
            out.push_str(&format!(
                "  resumed from:      {} {}\n",
                w.modified_at.to_rfc3339(),
                w.last_id
            ));
        }
        out.push_str(&format!("  records read:      {}\n", self.read));
        let (linked, created, skipped, parked) = if self.dry_run {
            (
                "would link",
                "would create",
                "linked already",
                "would leave",
            )
        } else {
            ("linked", "created", "skipped", "parked")
        };
        out.push_str(&format!("  {:<19}{}\n", format!("{linked}:"), self.linked));
        out.push_str(&format!(
            "  {:<19}{}\n",
            format!("{created}:"),
            self.created
        ));
        if self.dry_run {
            out.push_str(&format!(
                "  {:<19}{}\n",
                format!("{skipped}:"),
                self.skipped
            ));
        } else {
            out.push_str(&format!(
                "  skipped:           {} (not qualifying, deleted, or already done)\n",
                self.skipped
            ));
        }
        out.push_str(&format!(
            "  {:<19}{}\n",
            format!("{parked}:"),
            self.parked.len()
        ));
        for (id, reason) in self.parked.iter().take(50) {
            out.push_str(&format!("    {id}: {reason}\n"));
        }
        if self.parked.len() > 50 {
            out.push_str(&format!("    … and {} more\n", self.parked.len() - 50));
        }
        out.push_str(&format!(
            "  API calls:         Salesforce {}, Intacct {} requests\n",
            self.salesforce_calls, self.intacct_requests
        ));
        if let Some(w) = &self.checkpoint {
            out.push_str(&format!(
                "  checkpoint:        {} {} (stream {ACCOUNT_STREAM})\n",
                w.modified_at.to_rfc3339(),
                w.last_id
            ));
        }
        out.push_str(&format!("  elapsed:           {:.1}s\n", self.elapsed_secs));
        out
    }
}

/// Runs the backfill. Exits 0 when nothing was parked, 1 otherwise.
pub(crate) async fn run(config: &Config, command: Command) -> Result<ExitCode, CliError> {
    crate::init_logging("warn");
    let Command::Accounts(args) = command;
    let args = &args;
    let resolver = Resolver::new(config);
    let specs = Arc::new(systems::specs(config)?);
    let summary = match (
        systems::store_ports(config, &resolver).await?,
        systems::parked_store(config).await?,
    ) {
        (StorePorts::Embedded(ports), ParkedStore::Embedded(parked)) => {
            accounts(ports, &parked, specs, args).await?
        }
        (StorePorts::Aws(ports), ParkedStore::Aws(parked)) => {
            accounts(ports, &parked, specs, args).await?
        }
        (ports, parked) => {
            return Err(format!(
                "the store opened as {ports:?} but its parked failures as {parked:?}"
            )
            .into());
        }
    };
    print!("{}", summary.render());
    Ok(if summary.parked.is_empty() || args.dry_run {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

type Ports<X, D, T, A> = Arc<FlowPorts<SalesforceClient, IntacctClient, X, D, T, A>>;

async fn accounts<X, D, T, A, K>(
    ports: Ports<X, D, T, A>,
    parked: &K,
    specs: Arc<SpecSet>,
    args: &Args,
) -> Result<Summary, CliError>
where
    K: ParkedFailures,
    X: XrefStore + 'static,
    D: IdempotencyStore + 'static,
    T: SyncState + 'static,
    A: AuditLog + 'static,
{
    let started = Instant::now();
    let sf_before = ports.salesforce.requests_sent();
    let ia_before = ports.intacct.stats().requests;
    let mut summary = Summary {
        dry_run: args.dry_run,
        ..Summary::default()
    };

    // From (DATE, ""): every record stamped DATE or later.
    let since = args.since.map(|t| Watermark {
        modified_at: t,
        last_id: String::new(),
    });
    let stored = if args.restart {
        None
    } else {
        ports.state.watermark(ACCOUNT_STREAM).await?
    };
    summary.resumed_from = stored.clone();
    let mut cursor = match (since, stored) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    // Changes after the start are the poller's, our own write-backs among them.
    let bound = Utc::now();

    let bar = progress(&ports.salesforce, cursor.as_ref()).await;
    let handler = AccountOnboarding::new(ports.clone(), specs, Default::default())?;
    let read = RecordRead::new("Account", &["SystemModstamp", "IsDeleted"]);
    let batch = args.batch.max(1);
    loop {
        let page = ports
            .salesforce
            .changes_since(&read, cursor.as_ref(), batch)
            .await?;
        let mut items = Vec::with_capacity(page.records.len());
        let mut last = None;
        let mut past_bound = false;
        for r in &page.records {
            let id = r
                .get("Id")
                .and_then(|v| v.as_str())
                .and_then(|s| SalesforceId::parse(s).ok())
                .ok_or("a changed Account has no valid Id")?;
            let at = r
                .get("SystemModstamp")
                .and_then(|v| v.as_str())
                .and_then(|s| lf_domain::datetime::parse_datetime(s).ok())
                .map(|t| t.to_utc())
                .ok_or_else(|| format!("Account {id} has no readable SystemModstamp"))?;
            if at > bound {
                past_bound = true;
                break;
            }
            last = Some(Watermark {
                modified_at: at,
                last_id: id.as_str().to_owned(),
            });
            summary.read += 1;
            if r.get("IsDeleted").and_then(|v| v.as_bool()) == Some(true) {
                summary.skipped += 1;
                continue;
            }
            items.push((id, at));
        }
        if !items.is_empty() && args.dry_run {
            let ids: Vec<SalesforceId> = items.iter().map(|(id, _)| id.clone()).collect();
            let previews = handler.preview(&ids).await?;
            if let Some(bar) = &bar {
                bar.suspend(|| print_previews(&ids, &previews));
            } else {
                print_previews(&ids, &previews);
            }
            for (id, p) in ids.iter().zip(previews) {
                summary.preview(id, p);
            }
        } else if !items.is_empty() {
            for (item, outcome) in handle(&handler, &items).await {
                // What cannot go on is parked, as the consumer parks it, for `replay`.
                let reason = match &outcome {
                    Outcome::Parked { reason } => Some(reason.clone()),
                    Outcome::Retry { reason, .. } => Some(format!(
                        "still failing after {ATTEMPTS} backfill attempts: {reason}"
                    )),
                    _ => None,
                };
                if let Some(reason) = reason {
                    parked
                        .park(&park_request(Flow::AccountOnboarding, &item, reason))
                        .await?;
                }
                let id = SalesforceId::parse(&item.envelope.record.id)?;
                summary.count(&id, &outcome);
            }
        }
        if let Some(mark) = last.filter(|_| !args.dry_run) {
            ports.state.advance_watermark(ACCOUNT_STREAM, &mark).await?;
            summary.checkpoint = Some(mark);
        }
        if let Some(bar) = &bar {
            bar.inc(page.records.len() as u64);
        }
        match (page.more, page.watermark) {
            (true, Some(next)) if !past_bound => cursor = Some(next),
            _ => break,
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    summary.salesforce_calls = ports.salesforce.requests_sent() - sf_before;
    summary.intacct_requests = ports.intacct.stats().requests - ia_before;
    summary.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Hands one page to the flow as the consumer would a queue batch, again for the records it
/// asks to retry (with a growing pause), and returns each record's work item and last
/// outcome.
async fn handle<H: FlowHandler>(
    handler: &H,
    page: &[(SalesforceId, DateTime<Utc>)],
) -> Vec<(WorkItem, Outcome)> {
    let correlation = CorrelationId::new_random();
    let now = Utc::now();
    let mut open: Vec<(usize, WorkItem)> = page
        .iter()
        .enumerate()
        .map(|(i, (id, at))| {
            let item = WorkItem {
                message_id: format!("backfill-{id}"),
                receive_count: 1,
                envelope: ChangeEnvelope {
                    v: ChangeEnvelope::VERSION,
                    flow: Flow::AccountOnboarding,
                    record: RecordRef::salesforce("Account", id),
                    origin: EventOrigin::Operator {
                        reason: "backfill".to_owned(),
                    },
                    modified_at: Some(*at),
                    correlation_id: correlation.clone(),
                    received_at: now,
                },
            };
            (i, item)
        })
        .collect();
    let all: Vec<WorkItem> = open.iter().map(|(_, w)| w.clone()).collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; page.len()];
    for attempt in 1..=ATTEMPTS {
        let items: Vec<WorkItem> = open.iter().map(|(_, w)| w.clone()).collect();
        let context = BatchContext {
            deadline: Some(Deadline::after(PAGE_BUDGET)),
        };
        let got = handler.handle_batch(&items, &context).await;
        let mut again = Vec::new();
        for ((i, mut item), outcome) in open.into_iter().zip(got) {
            let retry = matches!(outcome, Outcome::Retry { .. });
            outcomes[i] = Some(outcome);
            if retry {
                item.receive_count += 1;
                again.push((i, item));
            }
        }
        open = again;
        if open.is_empty() || attempt == ATTEMPTS {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
    }
    all.into_iter()
        .zip(outcomes)
        .map(|(item, o)| {
            let outcome = o.unwrap_or_else(|| {
                Outcome::retry(
                    lf_domain::ErrorClass::Transient,
                    "the flow gave no outcome for this record",
                )
            });
            (item, outcome)
        })
        .collect()
}

/// One line per Account of a dry run: what the backfill would do with it.
fn print_previews(ids: &[SalesforceId], previews: &[CustomerPreview]) {
    for (id, p) in ids.iter().zip(previews) {
        match p {
            CustomerPreview::Linked { customer_id } => {
                println!("  linked already  Account {id} ⇄ customer {customer_id}");
            }
            CustomerPreview::Link { customer_id, how } => {
                println!("  would link      Account {id} → customer {customer_id} ({how})");
            }
            CustomerPreview::Create { customer_id } => println!(
                "  would create    Account {id} → new customer {}",
                customer_id.as_deref().unwrap_or("(id given by Intacct)")
            ),
            CustomerPreview::Leave { reason } => {
                println!("  would leave     Account {id}: {reason}");
            }
        }
    }
}

/// A bar with rate and ETA when a `COUNT()` of the Accounts to read (after the watermark the
/// pages start from) answers, a spinner when not; nothing when stderr is not a terminal.
async fn progress(salesforce: &SalesforceClient, from: Option<&Watermark>) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let mut select = Select::new::<&str>(&[], "Account").aggregate(Aggregate::Count, None, None);
    if let Some(w) = from {
        select = select.filter(lf_salesforce::port::after_watermark(w));
    }
    let total = match select.build() {
        Ok(soql) => salesforce
            .query_page(&soql, QueryScope::IncludeDeleted)
            .await
            .ok()
            .map(|p| p.total_size),
        Err(_) => None,
    };
    let bar = match total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "  {bar:40} {pos}/{len} Accounts, {per_sec}, ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("  {spinner} {pos} Accounts, {per_sec} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}
