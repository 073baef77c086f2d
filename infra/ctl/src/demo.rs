//! `ledgerforce demo`: what `ledgerforce local` runs, on a temporary data folder, driven the
//! way users drive the real systems — deals closed and accounts created through the
//! Salesforce sandbox's REST API, so every sync travels the real path (Outbound Message →
//! webhook → durable queue → flow → Intacct → write-back) — then every expected outcome
//! checked against both sandboxes' state. Exits 0 only if all of them held.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use lf_domain::SalesforceId;
use lf_domain::port::ParkedFailures;
use serde_json::{Map, Value, json};

use crate::CliError;
use crate::local::{Stack, StackOptions};

/// The open demo deals the demo closes: three entities (US, DE, UK), three currencies.
const DEALS_TO_CLOSE: [&str; 5] = [
    "Northwind - Analytics expansion",
    "Acme - Seat expansion",
    "Globex - Globex renewal",
    "Nordlicht - Grid billing integration",
    "Highland - Distillery operations",
];

/// The won demo deal with a primary CPQ quote: reopened and closed again, so its quote's
/// lines become a sales order.
const QUOTED_DEAL: &str = "Rhein - Köln ERP link";

/// New customer accounts the demo onboards (name, billing country), before `--records` more.
const NEW_ACCOUNTS: [(&str, &str); 2] = [
    ("Harborview Logistics Inc", "United States"),
    ("Thistle & Oak Interiors Ltd", "United Kingdom"),
];

/// How long the demo waits for the syncs before it reports what did not happen.
const WAIT: Duration = Duration::from_secs(90);

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Keep the data here instead of a temporary folder (removed at the end).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Onboard this many more new accounts (each with a won deal) for a bigger run.
    #[arg(long, default_value_t = 0)]
    records: usize,
}

/// One expectation and whether it held.
struct Check {
    what: String,
    held: bool,
}

pub(crate) async fn run(args: Args) -> Result<ExitCode, CliError> {
    crate::init_logging("warn");
    let (data_dir, temporary) = match &args.data_dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("ledgerforce-demo-{}", std::process::id())),
            true,
        ),
    };
    // The sandboxes start from their seed every run while the store keeps what it learnt, so a
    // store from an earlier run would link the fresh records to documents that no longer exist.
    if crate::local::stack::database_path(&data_dir).exists() {
        return Err(format!(
            "the demo needs a fresh data folder: {} already holds a store from an earlier run \
             (the sandboxes do not keep their records between runs); remove it or pass another",
            data_dir.display()
        )
        .into());
    }
    let started = Instant::now();
    let stack = Stack::start(&StackOptions {
        salesforce_port: 0,
        intacct_port: 0,
        webhook_port: 0,
        data_dir: data_dir.clone(),
        poll_interval: Duration::from_secs(2),
        mappings: None,
    })
    .await?;
    println!(
        "ledgerforce demo: both sandboxes, the webhooks, the flows and the poller are running"
    );
    println!("  data folder: {}", data_dir.display());
    let outcome = drive(&stack, args.records).await;
    let calls = (stack.salesforce.api_calls(), stack.intacct.usage().requests);
    let summary = summary(&stack).await;
    stack.shutdown().await;
    if temporary {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    let checks = outcome?;
    println!();
    println!("{summary}");
    println!(
        "API calls used: Salesforce {} (the demo's own actions and checks included), Intacct {} requests",
        calls.0, calls.1
    );
    println!("elapsed: {:.1} s", started.elapsed().as_secs_f64());
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.held).collect();
    println!();
    if failed.is_empty() {
        println!("all {} expected outcomes held", checks.len());
        Ok(ExitCode::SUCCESS)
    } else {
        for c in &failed {
            println!("FAILED: {}", c.what);
        }
        println!(
            "{} of {} expected outcomes failed",
            failed.len(),
            checks.len()
        );
        Ok(ExitCode::FAILURE)
    }
}

/// What a deal or account should end as.
enum Expect {
    Deal {
        id: String,
        name: String,
        quote: bool,
    },
    Account {
        id: String,
        name: String,
    },
}

fn find(stack: &Stack, object: &str, name: &str) -> Result<Map<String, Value>, CliError> {
    stack
        .salesforce
        .records(object)
        .into_iter()
        .find(|r| r.get("Name").and_then(Value::as_str) == Some(name))
        .ok_or_else(|| format!("the demo {object} {name:?} is not in the seed").into())
}

fn text(record: &Map<String, Value>, field: &str) -> String {
    record
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

async fn drive(stack: &Stack, extra: usize) -> Result<Vec<Check>, CliError> {
    let sf = &stack.ports.salesforce;
    let mut expected = Vec::new();
    println!(
        "closing {} deals as a sales user would (REST PATCH StageName = Closed Won)",
        DEALS_TO_CLOSE.len()
    );
    for name in DEALS_TO_CLOSE {
        let deal = find(stack, "Opportunity", name)?;
        let id = SalesforceId::parse(&text(&deal, "Id"))?;
        sf.update(
            "Opportunity",
            &id,
            &fields(json!({"StageName": "Closed Won"})),
        )
        .await?;
        expected.push(Expect::Deal {
            id: id.as_str().to_owned(),
            name: name.to_owned(),
            quote: false,
        });
    }
    println!("reopening and closing {QUOTED_DEAL:?}, which has a primary CPQ quote");
    let quoted = find(stack, "Opportunity", QUOTED_DEAL)?;
    let quoted_id = SalesforceId::parse(&text(&quoted, "Id"))?;
    sf.update(
        "Opportunity",
        &quoted_id,
        &fields(json!({"StageName": "Negotiation/Review"})),
    )
    .await?;
    sf.update(
        "Opportunity",
        &quoted_id,
        &fields(json!({"StageName": "Closed Won"})),
    )
    .await?;
    expected.push(Expect::Deal {
        id: quoted_id.as_str().to_owned(),
        name: QUOTED_DEAL.to_owned(),
        quote: true,
    });

    let mut accounts: Vec<(String, String)> = NEW_ACCOUNTS
        .iter()
        .map(|(n, c)| ((*n).to_owned(), (*c).to_owned()))
        .collect();
    accounts
        .extend((0..extra).map(|n| (format!("Demo Customer {n:05}"), "United States".to_owned())));
    println!(
        "onboarding {} new customer accounts (REST POST Account)",
        accounts.len()
    );
    for (name, country) in &accounts {
        let id = sf
            .create(
                "Account",
                &fields(
                    json!({"Name": name, "Type": "Customer - Direct", "BillingCountry": country,
                               "BillingCity": "Springfield", "BillingPostalCode": "10001"}),
                ),
            )
            .await?;
        expected.push(Expect::Account {
            id: id.as_str().to_owned(),
            name: name.clone(),
        });
    }

    println!("waiting for the syncs (at most {} s)", WAIT.as_secs());
    let start = Instant::now();
    let mut last = usize::MAX;
    loop {
        let checks = check(stack, &expected);
        let open = checks.iter().filter(|c| !c.held).count();
        if open != last {
            println!(
                "  {} of {} expected outcomes hold",
                checks.len() - open,
                checks.len()
            );
            last = open;
        }
        if open == 0 || start.elapsed() > WAIT {
            return Ok(checks);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every expectation against the sandboxes' current state.
fn check(stack: &Stack, expected: &[Expect]) -> Vec<Check> {
    let org = &stack.salesforce;
    let company = &stack.intacct;
    let mut checks = Vec::new();
    let mut entities = BTreeSet::new();
    let mut currencies = BTreeSet::new();
    for e in expected {
        match e {
            Expect::Deal { id, name, quote } => {
                let deal = org.record(id).unwrap_or_default();
                let invoices = company.find("ARINVOICE", "SFDC_OPPORTUNITY_ID", id);
                let orders = company.find("SODOCUMENT", "SFDC_OPPORTUNITY_ID", id);
                let documents = invoices.len() + orders.len();
                checks.push(Check {
                    what: format!("{name}: exactly one Intacct document (found {documents})"),
                    held: documents == 1,
                });
                checks.push(Check {
                    what: format!("{name}: a sales order when quoted, else an invoice"),
                    held: if *quote {
                        orders.len() == 1
                    } else {
                        invoices.len() == 1
                    },
                });
                // The document's currency, total and entity are the deal's.
                let (document, total_field) = match (invoices.first(), orders.first()) {
                    (Some(d), _) => (Some(d), "TRX_TOTALENTERED"),
                    (None, Some(d)) => (Some(d), "TRX_TOTAL"),
                    _ => (None, ""),
                };
                let field_of =
                    |f: &str| document.and_then(|d| d.get(f)).cloned().unwrap_or_default();
                let currency = text(&deal, "CurrencyIsoCode");
                checks.push(Check {
                    what: format!(
                        "{name}: the document is in {currency} (found {:?})",
                        field_of("CURRENCY")
                    ),
                    held: field_of("CURRENCY") == currency,
                });
                let amount = deal
                    .get("Amount")
                    .and_then(Value::as_f64)
                    .unwrap_or(f64::NAN);
                let total = field_of(total_field).parse::<f64>().unwrap_or(f64::NAN);
                checks.push(Check {
                    what: format!(
                        "{name}: the document totals the deal's {amount} (found {total})"
                    ),
                    held: (total - amount).abs() < 0.005,
                });
                let field = if *quote {
                    "Intacct_Sales_Order_ID__c"
                } else {
                    "Intacct_Invoice_ID__c"
                };
                checks.push(Check {
                    what: format!("{name}: {field} written back and Synced"),
                    held: !text(&deal, field).is_empty()
                        && text(&deal, "Intacct_Sync_Status__c") == "Synced",
                });
                let account = org.record(&text(&deal, "AccountId")).unwrap_or_default();
                let customer = text(&account, "Intacct_Customer_ID__c");
                checks.push(Check {
                    what: format!("{name}: the account carries its Intacct customer"),
                    held: !customer.is_empty()
                        && company.count_where("CUSTOMER", "CUSTOMERID", &customer) == 1,
                });
                let entity = text(&account, "Intacct_Entity__c");
                checks.push(Check {
                    what: format!(
                        "{name}: the document is booked in the account's entity {entity:?} (found {:?})",
                        field_of("MEGAENTITYID")
                    ),
                    held: !entity.is_empty() && field_of("MEGAENTITYID") == entity,
                });
                if !entity.is_empty() {
                    entities.insert(entity);
                }
                currencies.insert(text(&deal, "CurrencyIsoCode"));
            }
            Expect::Account { id, name } => {
                let account = org.record(id).unwrap_or_default();
                let customers = company.count_where("CUSTOMER", "SFDC_ACCOUNT_ID", id);
                checks.push(Check {
                    what: format!("{name}: exactly one Intacct customer (found {customers})"),
                    held: customers == 1 && !text(&account, "Intacct_Customer_ID__c").is_empty(),
                });
            }
        }
    }
    checks.push(Check {
        what: format!("deals in three entities (saw {entities:?})"),
        held: entities.len() >= 3,
    });
    checks.push(Check {
        what: format!("deals in two currencies or more (saw {currencies:?})"),
        held: currencies.len() >= 2,
    });
    checks
}

/// Per flow: processed, done, retried, parked with reasons.
async fn summary(stack: &Stack) -> String {
    let mut out = String::from("per flow:");
    for (flow, counts) in stack.metrics.snapshot() {
        out.push_str(&format!(
            "\n  {flow}: {} processed, {} done, {} retried, {} parked",
            counts.processed, counts.done, counts.retried, counts.parked
        ));
    }
    match stack.parked.list(None, 20).await {
        Ok(parked) => {
            for p in parked {
                out.push_str(&format!(
                    "\n    parked {} ({}): {}",
                    p.record, p.flow, p.reason
                ));
            }
        }
        Err(e) => out.push_str(&format!("\n  (parked failures unreadable: {e})")),
    }
    out
}
