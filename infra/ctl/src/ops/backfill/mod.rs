//! `ledgerforce backfill accounts|contacts|customers|invoices [--since DATE] [--batch N]
//! [--restart] [--dry-run] [--json]`: the initial load, through the flows themselves, so the
//! match-first dedup of each flow links what exists already and only the rest is created,
//! with the flows' batched writes.
//!
//! One loop serves every object ([`drive`]): a page of up to 2,000 records of the source side
//! is read by its modification watermark ([`pages`]: Salesforce `SystemModstamp`, Intacct
//! `WHENMODIFIED`) and handed to the flow that owns the object `--batch` records at a time, as
//! queue batches would be ([`objects`]); what the flow cannot handle is parked for `replay`,
//! and each batch's last watermark is stored in the sync state (stream
//! `backfill/<side>/<object>`). An interrupted run resumes from there, and a batch handled
//! twice finds the links it made.

mod objects;
pub(crate) mod pages;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use lf_domain::port::{
    AuditLog, IdempotencyStore, ParkedFailures, SyncState, Watermark, XrefStore,
};
use lf_domain::{ChangeEnvelope, CorrelationId, Deadline, EventOrigin, RecordRef};
use lf_flows::runner::park_request;
use lf_flows::{BatchContext, FlowHandler, FlowPorts, Outcome, WorkItem};
use lf_intacct::IntacctClient;
use lf_mapping::SpecSet;
use lf_salesforce::SalesforceClient;
use serde_json::{Value, json};

use self::objects::{Preview, Tally, Target};
use self::pages::{Page, READ_PAGE, Source};
use super::config::Config;
use super::systems::{self, ParkedStore, Resolver, StorePorts};
use crate::CliError;

/// How long one page may hold its records in the idempotency store: a run killed mid-page
/// frees them after this, and the next run handles them.
const PAGE_BUDGET: Duration = Duration::from_secs(30);

/// Attempts per page for records the flow asks to retry (throttling, a record a killed run
/// still holds); the pauses between them (2, 4 … 32 s) outlast [`PAGE_BUDGET`].
const ATTEMPTS: u32 = 6;

/// Parked records named one by one in the text summary.
const NAMED: usize = 50;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Salesforce Accounts → Intacct customers (account-onboarding): existing customers
    /// linked by the matching rules, the rest created.
    Accounts(Args),
    /// Salesforce Contacts of linked Accounts → Intacct CONTACTs (account-sync): existing
    /// CONTACTs linked (link fields, then email), the rest created.
    Contacts(Args),
    /// Intacct customers → Salesforce Accounts (account-sync): Accounts linked by their link
    /// fields, the rest created.
    Customers(Args),
    /// Intacct AR invoices → their customers' Accounts: balance, overdue balance, last
    /// payment, invoice status, lifetime value, each invoice's state on its Opportunity
    /// (invoice-status; only changed fields are written, so a rerun writes nothing).
    Invoices(Args),
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only records modified on or after this day (YYYY-MM-DD) or moment (RFC 3339).
    /// Default: all.
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    since: Option<DateTime<Utc>>,
    /// Records handed to the flow at a time (pages of up to 2,000 are read).
    #[arg(long = "batch", default_value_t = 200, value_name = "N")]
    batch: usize,
    /// Start from --since (or the beginning) instead of the stored checkpoint.
    #[arg(long)]
    restart: bool,
    /// Print what would be linked, created and left, one line per record, and write nothing
    /// (no record, link, write-back or checkpoint).
    #[arg(long)]
    dry_run: bool,
    /// Print the summary as one JSON object on stdout (a dry run's lines as its `records`),
    /// with no progress bar.
    #[arg(long)]
    json: bool,
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
    /// The command's object (`accounts`).
    object: &'static str,
    /// The checkpoint stream.
    stream: &'static str,
    read: u64,
    linked: u64,
    created: u64,
    updated: u64,
    skipped: u64,
    /// Record → why it was parked (or given up on; a dry run: why it would be left).
    parked: BTreeMap<String, String>,
    /// A dry run's lines with `--json`: record, what would happen, the line.
    previews: Vec<(String, &'static str, String)>,
    salesforce_calls: u64,
    intacct_requests: u64,
    resumed_from: Option<Watermark>,
    checkpoint: Option<Watermark>,
    elapsed_secs: f64,
    /// A dry run: the counts say what would happen.
    dry_run: bool,
}

impl Summary {
    fn count(&mut self, id: &str, tally: Tally) {
        match tally {
            Tally::Created => self.created += 1,
            Tally::Linked => self.linked += 1,
            Tally::Updated => self.updated += 1,
            Tally::Skipped => self.skipped += 1,
            Tally::Parked(reason) => {
                self.parked.insert(id.to_owned(), reason);
            }
        }
    }

    fn render(&self) -> String {
        let object = self.object;
        let mut out = String::new();
        out.push_str(&if self.dry_run {
            format!("backfill {object} --dry-run (nothing written)\n")
        } else {
            format!("backfill {object}\n")
        });
        if let Some(w) = &self.resumed_from {
            out.push_str(&format!(
                "  resumed from:      {} {}\n",
                w.modified_at.to_rfc3339(),
                w.last_id
            ));
        }
        let line = |label: &str, value: String| format!("  {:<19}{value}\n", format!("{label}:"));
        out.push_str(&line("records read", self.read.to_string()));
        if self.dry_run {
            out.push_str(&line("would link", self.linked.to_string()));
            out.push_str(&line("would create", self.created.to_string()));
            out.push_str(&line("would update", self.updated.to_string()));
            out.push_str(&line("nothing to do", self.skipped.to_string()));
            out.push_str(&line("would leave", self.parked.len().to_string()));
        } else {
            out.push_str(&line("linked", self.linked.to_string()));
            out.push_str(&line("created", self.created.to_string()));
            out.push_str(&line("updated", self.updated.to_string()));
            out.push_str(&line(
                "skipped",
                format!(
                    "{} (not qualifying, deleted, unchanged, or already done)",
                    self.skipped
                ),
            ));
            out.push_str(&line("parked", self.parked.len().to_string()));
        }
        for (id, reason) in self.parked.iter().take(NAMED) {
            out.push_str(&format!("    {id}: {reason}\n"));
        }
        if self.parked.len() > NAMED {
            out.push_str(&format!("    … and {} more\n", self.parked.len() - NAMED));
        }
        out.push_str(&line(
            "API calls",
            format!(
                "Salesforce {}, Intacct {} requests",
                self.salesforce_calls, self.intacct_requests
            ),
        ));
        if let Some(w) = &self.checkpoint {
            out.push_str(&line(
                "checkpoint",
                format!(
                    "{} {} (stream {})",
                    w.modified_at.to_rfc3339(),
                    w.last_id,
                    self.stream
                ),
            ));
        }
        out.push_str(&line("elapsed", format!("{:.1}s", self.elapsed_secs)));
        out
    }

    /// The summary for scripts: every count, the parked records with their reasons, the API
    /// calls per side and the checkpoint.
    fn to_json(&self) -> Value {
        let mark = |w: &Option<Watermark>| {
            w.as_ref().map(|w| {
                json!({"stream": self.stream, "modified_at": w.modified_at.to_rfc3339(),
                       "last_id": w.last_id})
            })
        };
        json!({
            "object": self.object,
            "dry_run": self.dry_run,
            "read": self.read,
            "linked": self.linked,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "parked": self.parked.iter()
                .map(|(id, reason)| json!({"id": id, "reason": reason}))
                .collect::<Vec<_>>(),
            "records": self.previews.iter()
                .map(|(id, action, text)| json!({"id": id, "action": action, "detail": text}))
                .collect::<Vec<_>>(),
            "api_calls": {"salesforce": self.salesforce_calls, "intacct": self.intacct_requests},
            "resumed_from": mark(&self.resumed_from),
            "checkpoint": mark(&self.checkpoint),
            "elapsed_secs": self.elapsed_secs,
        })
    }
}

/// Runs the backfill. Exits 0 when nothing was parked, 1 otherwise.
pub(crate) async fn run(config: &Config, command: Command) -> Result<ExitCode, CliError> {
    crate::init_logging("warn");
    let resolver = Resolver::new(config);
    let specs = Arc::new(systems::specs(config)?);
    let summary = match (
        systems::store_ports(config, &resolver).await?,
        systems::parked_store(config).await?,
    ) {
        (StorePorts::Embedded(ports), ParkedStore::Embedded(parked)) => {
            dispatch(ports, &parked, specs, &command).await?
        }
        (StorePorts::Aws(ports), ParkedStore::Aws(parked)) => {
            dispatch(ports, &parked, specs, &command).await?
        }
        (ports, parked) => {
            return Err(format!(
                "the store opened as {ports:?} but its parked failures as {parked:?}"
            )
            .into());
        }
    };
    let args = args_of(&command);
    if args.json {
        println!("{}", summary.to_json());
    } else {
        print!("{}", summary.render());
    }
    Ok(if summary.parked.is_empty() || args.dry_run {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn args_of(command: &Command) -> &Args {
    match command {
        Command::Accounts(a)
        | Command::Contacts(a)
        | Command::Customers(a)
        | Command::Invoices(a) => a,
    }
}

type Ports<X, D, T, A> = Arc<FlowPorts<SalesforceClient, IntacctClient, X, D, T, A>>;

async fn dispatch<X, D, T, A, K>(
    ports: Ports<X, D, T, A>,
    parked: &K,
    specs: Arc<SpecSet>,
    command: &Command,
) -> Result<Summary, CliError>
where
    K: ParkedFailures,
    X: XrefStore + 'static,
    D: IdempotencyStore + 'static,
    T: SyncState + 'static,
    A: AuditLog + 'static,
{
    let args = args_of(command);
    // Changes after the start are the poller's, our own write-backs among them.
    let bound = Utc::now();
    match command {
        Command::Accounts(_) => {
            let target = objects::Accounts::new(ports.clone(), specs)?;
            let source = pages::salesforce_accounts(&ports.salesforce, bound);
            drive(&ports, parked, &target, source, args).await
        }
        Command::Contacts(_) => {
            let target = objects::Pairs::contacts(ports.clone(), specs)?;
            let source = pages::salesforce_contacts(&ports.salesforce, bound);
            drive(&ports, parked, &target, source, args).await
        }
        Command::Customers(_) => {
            let target = objects::Pairs::customers(ports.clone(), specs)?;
            let source = pages::intacct_customers(&ports.intacct, bound);
            drive(&ports, parked, &target, source, args).await
        }
        Command::Invoices(_) => {
            let target = objects::Invoices::new(ports.clone(), specs)?;
            let source = pages::intacct_invoices(&ports.intacct, bound);
            drive(&ports, parked, &target, source, args).await
        }
    }
}

/// The loop every backfill runs: page, hand to the flow (or preview), park, checkpoint.
async fn drive<X, D, T, A, K, G, S>(
    ports: &Ports<X, D, T, A>,
    parked: &K,
    target: &G,
    mut source: S,
    args: &Args,
) -> Result<Summary, CliError>
where
    K: ParkedFailures,
    X: XrefStore + 'static,
    D: IdempotencyStore + 'static,
    T: SyncState + 'static,
    A: AuditLog + 'static,
    G: Target,
    S: Source,
{
    let started = Instant::now();
    let sf_before = ports.salesforce.requests_sent();
    let ia_before = ports.intacct.stats().requests;
    let stream = source.stream();
    let mut summary = Summary {
        object: target.object(),
        stream,
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
        ports.state.watermark(stream).await?
    };
    summary.resumed_from = stored.clone();
    let mut cursor = match (since, stored) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };

    let bar = if args.json || !std::io::stderr().is_terminal() {
        None
    } else {
        Some(progress(source.noun(), source.total(cursor.as_ref()).await))
    };
    let batch = args.batch.max(1);
    loop {
        let page: Page = source.page(cursor.as_ref(), READ_PAGE.max(batch)).await?;
        summary.read += page.read;
        summary.skipped += page.skipped;
        // The page goes to the flow a batch at a time, each batch's last record the checkpoint.
        for (records, marks) in page.records.chunks(batch).zip(page.marks.chunks(batch)) {
            let items = work_items(target.flow(), records);
            if args.dry_run {
                let previews = target.preview(&items).await?;
                for (item, p) in items.iter().zip(previews) {
                    let Preview {
                        tally,
                        action,
                        text,
                    } = p;
                    let id = item.envelope.record.id.clone();
                    if !args.json {
                        let line = format!("  {action:<15} {text}");
                        match &bar {
                            Some(bar) => bar.println(line),
                            None => println!("{line}"),
                        }
                    } else {
                        summary.previews.push((id.clone(), action, text));
                    }
                    summary.count(&id, tally);
                }
            } else {
                for (item, outcome) in handle(target.handler(), items).await {
                    // What cannot go on is parked, as the consumer parks it, for `replay`.
                    let reason = match &outcome {
                        Outcome::Parked { reason } => Some(reason.clone()),
                        Outcome::Retry { reason, .. } => Some(format!(
                            "still failing after {ATTEMPTS} backfill attempts (run again): \
                             {reason}"
                        )),
                        _ => None,
                    };
                    let id = item.envelope.record.id.clone();
                    match reason {
                        Some(reason) => {
                            parked
                                .park(&park_request(target.flow(), &item, reason.clone()))
                                .await?;
                            summary.count(&id, Tally::Parked(reason));
                        }
                        None => summary.count(&id, target.tally(&outcome)),
                    }
                }
                if let Some(mark) = marks.last() {
                    ports.state.advance_watermark(stream, mark).await?;
                    summary.checkpoint = Some(mark.clone());
                }
            }
            if let Some(bar) = &bar {
                bar.inc(records.len() as u64);
            }
        }
        // The records read and not handed over after the last batch (none when the last
        // batch ended the page: its checkpoint is stored already).
        if let Some(mark) = page
            .last
            .filter(|m| !args.dry_run && summary.checkpoint.as_ref() != Some(m))
        {
            ports.state.advance_watermark(stream, &mark).await?;
            summary.checkpoint = Some(mark);
        }
        if let Some(bar) = &bar {
            bar.inc(page.skipped);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
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

/// A page's records as the work items of one queue batch of `flow`.
pub(crate) fn work_items(
    flow: lf_domain::Flow,
    records: &[(RecordRef, DateTime<Utc>)],
) -> Vec<WorkItem> {
    let correlation = CorrelationId::new_random();
    let now = Utc::now();
    records
        .iter()
        .map(|(record, at)| WorkItem {
            message_id: format!("backfill-{}", record.id),
            receive_count: 1,
            envelope: ChangeEnvelope {
                v: ChangeEnvelope::VERSION,
                flow,
                record: record.clone(),
                origin: EventOrigin::Operator {
                    reason: "backfill".to_owned(),
                },
                modified_at: Some(*at),
                correlation_id: correlation.clone(),
                received_at: now,
            },
        })
        .collect()
}

/// Hands one page to the flow as the consumer would a queue batch, again for the records it
/// asks to retry (with a growing pause), and returns each record's work item and last
/// outcome.
pub(crate) async fn handle<H: FlowHandler>(
    handler: &H,
    items: Vec<WorkItem>,
) -> Vec<(WorkItem, Outcome)> {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; items.len()];
    let mut open: Vec<(usize, WorkItem)> = items.iter().cloned().enumerate().collect();
    for attempt in 1..=ATTEMPTS {
        let batch: Vec<WorkItem> = open.iter().map(|(_, w)| w.clone()).collect();
        let context = BatchContext {
            deadline: Some(Deadline::after(PAGE_BUDGET)),
            max_receives: None,
        };
        let got = handler.handle_batch(&batch, &context).await;
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
    items
        .into_iter()
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

/// A bar with rate and ETA when the source could count the records to read, a spinner when
/// not.
fn progress(noun: &str, total: Option<u64>) -> ProgressBar {
    let bar = match total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template(&format!(
                "  {{bar:40}} {{pos}}/{{len}} {noun}, {{per_sec}}, ETA {{eta}} {{msg}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template(&format!(
                "  {{spinner}} {{pos}} {noun}, {{per_sec}} {{msg}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
