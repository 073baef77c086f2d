//! `ledgerforce demo`: what `ledgerforce local` runs, on a temporary data folder, driven the
//! way users drive the real systems — deals closed and accounts created through the
//! Salesforce sandbox's REST API, so every sync travels the real path (Outbound Message →
//! webhook → durable queue → flow → Intacct → write-back) — then every expected outcome
//! checked against both sandboxes' state. Exits 0 only if all of them held.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use lf_domain::port::{
    AuditAction, IntacctObject, IntacctPort, Month, ParkedFailures, RecordUpdate,
};
use lf_domain::{EntityId, Flow, SalesforceId};
use rust_decimal::Decimal;
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

/// What the demo changes on linked accounts once the deals are synced: the phone a sales user
/// types in Salesforce, the city an accountant types in Intacct.
const NEW_PHONE: &str = "+1 617 555 0142";
const NEW_CITY: &str = "Fort William";
/// The website set in Salesforce while its Outbound Message is lost.
const NEW_WEBSITE: &str = "https://www.example.com/ledgerforce-demo";

/// Words of the names of the `--records` accounts.
const NAME_FIRST: [&str; 25] = [
    "Amber", "Birch", "Cedar", "Delta", "Ember", "Fjord", "Garnet", "Harbor", "Indigo", "Juniper",
    "Kestrel", "Linden", "Maple", "Nimbus", "Onyx", "Pine", "Quartz", "Raven", "Sierra", "Tundra",
    "Violet", "Willow", "Xenon", "Yarrow", "Zephyr",
];
const NAME_LAST: [&str; 24] = [
    "Analytics",
    "Bakery",
    "Clinic",
    "Dairy",
    "Electric",
    "Foundry",
    "Gallery",
    "Hotels",
    "Imports",
    "Joinery",
    "Kitchens",
    "Logistics",
    "Mills",
    "Nurseries",
    "Optics",
    "Printing",
    "Quarries",
    "Robotics",
    "Shipping",
    "Textiles",
    "Upholstery",
    "Vineyards",
    "Woodworks",
    "Yachts",
];

/// The name of the `n`th extra account. Names that differ only by a number ("Customer 1",
/// "Customer 2") are what the matching rules' fuzzy name score sends for review (Jaro-Winkler
/// ≥ 0.92), so a customer made for one would hold up the next: these differ in a word and a
/// scrambled hex token (at most 0.91 between any two of the first 400).
fn extra_account_name(n: usize) -> String {
    let token = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    format!(
        "{} {token:06x} {}",
        NAME_FIRST[n % NAME_FIRST.len()],
        NAME_LAST[(n / NAME_FIRST.len()) % NAME_LAST.len()]
    )
}

/// How long the demo waits for the syncs before it reports what did not happen: 90 s, plus
/// 100 ms per expected outcome past the first hundred (a `--records 5000` run checks about
/// 5,000; a debug build onboards some 50 accounts a second on two busy cores).
fn wait_limit(outcomes: usize) -> Duration {
    Duration::from_secs(90)
        + Duration::from_millis(100)
            * u32::try_from(outcomes.saturating_sub(100)).unwrap_or(u32::MAX)
}

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
    let (checks, reports) = outcome?;
    println!();
    println!("{summary}");
    if let Some((html, csv)) = reports {
        let note = if temporary {
            " (removed with the temporary data folder; pass --data-dir to keep them)"
        } else {
            ""
        };
        println!("revenue reconciliation report{note}:");
        println!("  HTML: {}", html.display());
        println!("  CSV:  {}", csv.display());
    }
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
    /// A partial payment of `amount` applied in Intacct to one of `customer`'s invoices.
    Payment {
        account: String,
        name: String,
        customer: String,
        amount: Decimal,
        /// The Account's invoice status after it.
        status: &'static str,
    },
    /// `customer` put on hold in Intacct.
    Hold {
        account: String,
        name: String,
        customer: String,
    },
    /// The Account's phone changed in Salesforce.
    Phone {
        name: String,
        customer: String,
    },
    /// The Account's website changed in Salesforce and its Outbound Message lost: only the
    /// change poller can carry it.
    Website {
        name: String,
        customer: String,
    },
    /// The customer's city changed in Intacct.
    City {
        account: String,
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

/// The demo's checks, and the reconciliation report's paths (HTML, CSV) once it ran.
type Driven = (Vec<Check>, Option<(PathBuf, PathBuf)>);

async fn drive(stack: &Stack, extra: usize) -> Result<Driven, CliError> {
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
    accounts.extend((0..extra).map(|n| (extra_account_name(n), "United States".to_owned())));
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

    let checks = wait(stack, &expected).await;
    if checks.iter().any(|c| !c.held) {
        return Ok((checks, None));
    }

    change_in_intacct_and_salesforce(stack, &mut expected).await?;
    let checks = wait(stack, &expected).await;
    if checks.iter().any(|c| !c.held) {
        return Ok((checks, None));
    }

    // Last, once the flows those changes started have settled: an edit made while another
    // flow is still writing to the same Account is a conflict the Account, modified last, wins.
    change_a_city_in_intacct(stack, &mut expected).await?;
    let mut checks = wait(stack, &expected).await;
    if checks.iter().any(|c| !c.held) {
        return Ok((checks, None));
    }

    checks.extend(repair_drift(stack).await?);

    let period = Month::of(chrono::Utc::now().date_naive()).previous();
    println!("running the month-end revenue reconciliation for {period}");
    let ran = stack.reconciler.run(period).await;
    let (html_name, csv_name) = lf_flows::report::report_names(period);
    let reports = stack.data_dir.join("reports");
    let (html, csv) = (reports.join(html_name), reports.join(csv_name));
    let failures = ran
        .as_ref()
        .ok()
        .and_then(|r| r.get("failures"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    checks.push(Check {
        what: match &ran {
            Ok(r) => format!(
                "the revenue reconciliation for {period} ran without failed writes \
                 ({} accounts, booked {}, recognized {}, {failures} failures)",
                r.get("accounts").cloned().unwrap_or_default(),
                r.get("booked").and_then(Value::as_str).unwrap_or("?"),
                r.get("recognized").and_then(Value::as_str).unwrap_or("?"),
            ),
            Err(e) => format!("the revenue reconciliation for {period} ran (failed: {e})"),
        },
        held: ran.is_ok() && failures == 0,
    });
    if let Ok(r) = &ran {
        println!(
            "  {} accounts reconciled: booked {}, recognized {}, variance {} {}",
            r.get("accounts").cloned().unwrap_or_default(),
            r.get("booked").and_then(Value::as_str).unwrap_or("?"),
            r.get("recognized").and_then(Value::as_str).unwrap_or("?"),
            r.get("variance").and_then(Value::as_str).unwrap_or("?"),
            r.get("reporting_currency")
                .and_then(Value::as_str)
                .unwrap_or(""),
        );
    }
    checks.push(Check {
        what: format!(
            "the reconciliation wrote {} and {}",
            html.display(),
            csv.display()
        ),
        held: html.is_file() && csv.is_file(),
    });
    Ok((checks, Some((html, csv))))
}

/// An out-of-band edit the sync must not follow: the customer of the first demo deal renamed
/// by hand in Intacct, where Salesforce owns the name (account-sync leaves it, and says so).
/// The drift check — weekly in AWS — finds the pair, names the owner, and repairs it with the
/// Account's name.
async fn repair_drift(stack: &Stack) -> Result<Vec<Check>, CliError> {
    let renamed = DEALS_TO_CLOSE[0];
    let (_, account, customer) = linked(stack, renamed)?;
    let name = text(
        &stack.salesforce.record(&account).unwrap_or_default(),
        "Name",
    );
    println!(
        "renaming the customer of {renamed:?} by hand in Intacct (update CUSTOMER; Salesforce owns the name)"
    );
    let results = stack
        .ports
        .intacct
        .update(
            customer_entity(stack, &customer)?.as_ref(),
            &[RecordUpdate {
                object: IntacctObject::Customer,
                key: customer.clone(),
                fields: fields(json!({"NAME": format!("{name} (renamed by hand)")})),
            }],
        )
        .await?;
    if let Some(Err(e)) = results.into_iter().next() {
        return Err(format!("renaming {customer} in Intacct: {e}").into());
    }
    println!("running the drift check with --repair over every linked pair");
    let sync =
        lf_flows::AccountSync::new(stack.ports.clone(), stack.specs.clone(), Default::default())?;
    let report = sync
        .check_drift(
            &lf_flows::DriftOptions {
                repair: true,
                ..Default::default()
            },
            |_| {},
        )
        .await?;
    crate::ops::drift::record(&stack.data_dir, &report)?;
    println!(
        "  {} pairs checked, {} agree, {} drifted, {} repaired",
        report.checked,
        report.agreeing,
        report.drifted.len(),
        report.repaired()
    );
    let pair = report.drifted.iter().find(|d| d.intacct.id == customer);
    let found = pair.is_some_and(|d| {
        d.fields.iter().any(|f| {
            f.field == "NAME"
                && f.owner == lf_domain::System::Salesforce
                && f.owner_value == Value::String(name.clone())
        })
    });
    let restored = stack
        .intacct
        .find("CUSTOMER", "CUSTOMERID", &customer)
        .first()
        .and_then(|c| c.get("NAME").cloned())
        == Some(name.clone());
    Ok(vec![
        Check {
            what: format!(
                "the drift check found {customer}'s NAME renamed by hand, owned by Salesforce"
            ),
            held: found,
        },
        Check {
            what: format!("the drift repair gave {customer} its Account's name {name:?} back"),
            held: restored && pair.is_some_and(|d| d.repair == lf_flows::drift::Repair::Repaired),
        },
    ])
}

/// An accountant's edit in Intacct: the city of the customer of the last demo deal, which
/// the earlier changes left alone.
async fn change_a_city_in_intacct(
    stack: &Stack,
    expected: &mut Vec<Expect>,
) -> Result<(), CliError> {
    let intacct = &stack.ports.intacct;
    let moved = DEALS_TO_CLOSE[DEALS_TO_CLOSE.len() - 1];
    let (_, account, customer) = linked(stack, moved)?;
    println!("changing the city of the customer of {moved:?} in Intacct (update CUSTOMER)");
    let results = intacct
        .update(
            customer_entity(stack, &customer)?.as_ref(),
            &[RecordUpdate {
                object: IntacctObject::Customer,
                key: customer.clone(),
                fields: fields(json!({"DISPLAYCONTACT": {"MAILADDRESS": {"CITY": NEW_CITY}}})),
            }],
        )
        .await?;
    for result in results {
        result.map_err(|e| format!("{moved}: the city edit failed: {e}"))?;
    }
    expected.push(Expect::City {
        account,
        name: moved.to_owned(),
    });
    Ok(())
}

/// Waits until every expectation holds, or [`wait_limit`] passed; the last checks.
async fn wait(stack: &Stack, expected: &[Expect]) -> Vec<Check> {
    let limit = wait_limit(check(stack, expected).len());
    println!("waiting for the syncs (at most {} s)", limit.as_secs());
    let start = Instant::now();
    // A bar on a terminal; on a pipe (CI, a log) a line whenever the count moves.
    let bar = std::io::stderr().is_terminal().then(|| {
        ProgressBar::new(0).with_style(
            ProgressStyle::with_template(
                "  {bar:30} {pos}/{len} expected outcomes hold, {elapsed} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    });
    let mut last = usize::MAX;
    loop {
        let checks = check(stack, expected);
        let open = checks.iter().filter(|c| !c.held).count();
        let held = checks.len() - open;
        match &bar {
            Some(bar) => {
                bar.set_length(checks.len() as u64);
                bar.set_position(held as u64);
                bar.set_message(format!("({} messages synced)", synced(stack)));
            }
            None if open != last => {
                println!("  {held} of {} expected outcomes hold", checks.len());
            }
            None => {}
        }
        last = open;
        if open == 0 || start.elapsed() > limit {
            if let Some(bar) = bar {
                bar.finish();
            }
            return checks;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Messages the flows have handled so far.
fn synced(stack: &Stack) -> u64 {
    stack.metrics.snapshot().values().map(|c| c.processed).sum()
}

/// The synced deal `name`'s Account id and Intacct customer id.
fn linked(stack: &Stack, name: &str) -> Result<(String, String, String), CliError> {
    let deal = find(stack, "Opportunity", name)?;
    let account = stack
        .salesforce
        .record(&text(&deal, "AccountId"))
        .unwrap_or_default();
    let customer = text(&account, "Intacct_Customer_ID__c");
    if customer.is_empty() {
        return Err(format!("{name}: the account has no Intacct customer").into());
    }
    Ok((text(&deal, "Id"), text(&account, "Id"), customer))
}

/// The entity owning `customer` in Intacct, if not the top level.
fn customer_entity(stack: &Stack, customer: &str) -> Result<Option<EntityId>, CliError> {
    let entity = stack
        .intacct
        .find("CUSTOMER", "CUSTOMERID", customer)
        .first()
        .and_then(|c| c.get("MEGAENTITYID").cloned())
        .unwrap_or_default();
    Ok(if entity.is_empty() {
        None
    } else {
        Some(EntityId::parse(&entity)?)
    })
}

/// The second round, once the deals are synced: a payment and a hold in Intacct, a phone
/// edited in Salesforce, a city edited in Intacct, each through the real API.
async fn change_in_intacct_and_salesforce(
    stack: &Stack,
    expected: &mut Vec<Expect>,
) -> Result<(), CliError> {
    let intacct = &stack.ports.intacct;
    let today = chrono::Utc::now().date_naive();

    // The payment goes to a deal whose invoice is its customer's latest, so the Account's
    // invoice status (its latest invoice's) shows the payment: Partially Paid, or Overdue
    // when the invoice fell due before today (a deal closed in the past). A deal whose
    // invoice is not yet due is preferred.
    let due_on = |i: &std::collections::BTreeMap<String, String>| {
        i.get("WHENDUE")
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%m/%d/%Y").ok())
    };
    let mut candidates: Vec<(&str, std::collections::BTreeMap<String, String>)> = DEALS_TO_CLOSE
        .iter()
        .filter_map(|&name| {
            let deal = text(&find(stack, "Opportunity", name).ok()?, "Id");
            let invoice = stack
                .intacct
                .find("ARINVOICE", "SFDC_OPPORTUNITY_ID", &deal)
                .into_iter()
                .next()?;
            let customer = invoice.get("CUSTOMERID")?;
            let latest = stack
                .intacct
                .find("ARINVOICE", "CUSTOMERID", customer)
                .into_iter()
                .max_by_key(|i| {
                    let created = i
                        .get("WHENCREATED")
                        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%m/%d/%Y").ok());
                    let number = i
                        .get("RECORDNO")
                        .and_then(|n| n.parse::<u64>().ok())
                        .unwrap_or_default();
                    (created, number)
                })?;
            (latest.get("RECORDNO") == invoice.get("RECORDNO")).then_some((name, invoice))
        })
        .collect();
    candidates.sort_by_key(|(_, i)| due_on(i).is_none_or(|d| d < today));
    let (paid, invoice) = candidates
        .into_iter()
        .next()
        .ok_or("none of the demo deals' invoices is its customer's latest")?;
    let status = if due_on(&invoice).is_some_and(|d| d >= today) {
        "Partially Paid"
    } else {
        "Overdue"
    };
    let others: Vec<&str> = DEALS_TO_CLOSE.into_iter().filter(|&n| n != paid).collect();
    let (_, account, customer) = linked(stack, paid)?;
    let field = |f: &str| invoice.get(f).cloned().unwrap_or_default();
    let total: Decimal = field("TRX_TOTALENTERED").parse().map_err(|e| {
        format!(
            "{paid}: the invoice total {:?}: {e}",
            field("TRX_TOTALENTERED")
        )
    })?;
    let amount = (total / Decimal::TWO).round_dp(2);
    println!(
        "recording a partial payment of {amount} {} in Intacct for the invoice of {paid:?} (create_arpayment)",
        field("CURRENCY")
    );
    let payment = lf_intacct::record::LegacyArPaymentCreate {
        customer_id: customer.clone(),
        payment_amount: amount,
        bank_account_id: Some("BANK-OPS".into()),
        date_received: Some(today),
        payment_method: "EFT".into(),
        currency: Some(field("CURRENCY")).filter(|c| !c.is_empty()),
        applied: vec![(field("RECORDNO"), amount)],
        ..Default::default()
    };
    let entity = Some(field("MEGAENTITYID"))
        .filter(|e| !e.is_empty())
        .map(|e| EntityId::parse(&e))
        .transpose()?;
    intacct
        .call(
            entity.as_ref(),
            lf_intacct::Function::raw(payment.to_element()?, true),
        )
        .await?;
    expected.push(Expect::Payment {
        account,
        name: paid.to_owned(),
        customer,
        amount,
        status,
    });

    let held = others[0];
    let (_, account, customer) = linked(stack, held)?;
    println!("putting the customer of {held:?} on hold in Intacct (update CUSTOMER ONHOLD)");
    let hold = fields(json!({"CUSTOMERID": customer, "ONHOLD": "true"}));
    intacct
        .call(
            customer_entity(stack, &customer)?.as_ref(),
            lf_intacct::Function::update_fields("CUSTOMER", &hold)?,
        )
        .await?;
    expected.push(Expect::Hold {
        account,
        name: held.to_owned(),
        customer,
    });

    let phoned = others[1];
    let (_, account, customer) = linked(stack, phoned)?;
    println!("changing the phone of the account of {phoned:?} in Salesforce (REST PATCH Phone)");
    stack
        .ports
        .salesforce
        .update(
            "Account",
            &SalesforceId::parse(&account)?,
            &fields(json!({"Phone": NEW_PHONE})),
        )
        .await?;
    expected.push(Expect::Phone {
        name: phoned.to_owned(),
        customer,
    });

    let unheard = others[2];
    let (_, account, customer) = linked(stack, unheard)?;
    println!(
        "changing the website of the account of {unheard:?} in Salesforce with its Outbound Message lost \
         (the webhook never hears of it; the change poller must catch it)"
    );
    stack.salesforce.lose_next_outbound(1);
    stack
        .ports
        .salesforce
        .update(
            "Account",
            &SalesforceId::parse(&account)?,
            &fields(json!({"Website": NEW_WEBSITE})),
        )
        .await?;
    expected.push(Expect::Website {
        name: unheard.to_owned(),
        customer,
    });

    Ok(())
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
            Expect::Payment {
                account,
                name,
                customer,
                amount,
                status,
            } => {
                let a = org.record(account).unwrap_or_default();
                let number = |f: &str| a.get(f).and_then(Value::as_f64);
                let paid = amount.to_string().parse::<f64>().unwrap_or(f64::NAN);
                checks.push(Check {
                    what: format!(
                        "{name}: Intacct_Last_Payment_Amount__c is the payment's {amount} (found {:?})",
                        number("Intacct_Last_Payment_Amount__c")
                    ),
                    held: number("Intacct_Last_Payment_Amount__c")
                        .is_some_and(|n| (n - paid).abs() < 0.005),
                });
                // What the customer still owes in Intacct, over its posted invoices.
                let due: f64 = company
                    .find("ARINVOICE", "CUSTOMERID", customer)
                    .iter()
                    .filter(|i| i.get("STATE").is_some_and(|s| s != "Draft"))
                    .filter_map(|i| i.get("TOTALDUE").and_then(|d| d.parse::<f64>().ok()))
                    .sum();
                checks.push(Check {
                    what: format!(
                        "{name}: Intacct_Balance__c is what {customer} owes, {due} (found {:?})",
                        number("Intacct_Balance__c")
                    ),
                    held: number("Intacct_Balance__c").is_some_and(|n| (n - due).abs() < 0.005),
                });
                checks.push(Check {
                    what: format!(
                        "{name}: Intacct_Invoice_Status__c = {status} (found {:?})",
                        text(&a, "Intacct_Invoice_Status__c")
                    ),
                    held: text(&a, "Intacct_Invoice_Status__c") == *status,
                });
            }
            Expect::Hold {
                account,
                name,
                customer,
            } => {
                let a = org.record(account).unwrap_or_default();
                checks.push(Check {
                    what: format!(
                        "{name}: Credit_Status__c = On Hold (found {:?})",
                        text(&a, "Credit_Status__c")
                    ),
                    held: text(&a, "Credit_Status__c") == "On Hold",
                });
                let tasks = org
                    .records("Task")
                    .into_iter()
                    .filter(|t| {
                        text(t, "Ledgerforce_Key__c").starts_with("credit-alert:")
                            && (text(t, "WhatId") == *account
                                || text(t, "Ledgerforce_Key__c")
                                    .starts_with(&format!("credit-alert:{customer}:")))
                    })
                    .count();
                checks.push(Check {
                    what: format!("{name}: exactly one credit-alert Task (found {tasks})"),
                    held: tasks == 1,
                });
            }
            Expect::Phone { name, customer } => {
                let phone = company
                    .find("CUSTOMER", "CUSTOMERID", customer)
                    .first()
                    .and_then(|c| c.get("DISPLAYCONTACT.PHONE1").cloned())
                    .unwrap_or_default();
                checks.push(Check {
                    what: format!(
                        "{name}: the Intacct customer's DISPLAYCONTACT.PHONE1 is {NEW_PHONE} (found {phone:?})"
                    ),
                    held: phone == NEW_PHONE,
                });
            }
            Expect::Website { name, customer } => {
                let url = company
                    .find("CUSTOMER", "CUSTOMERID", customer)
                    .first()
                    .and_then(|c| c.get("DISPLAYCONTACT.URL1").cloned())
                    .unwrap_or_default();
                let lost = org.outbound_stats().lost;
                checks.push(Check {
                    what: format!(
                        "{name}: its Outbound Message was lost ({lost} lost) and the poller still brought \
                         DISPLAYCONTACT.URL1 = {NEW_WEBSITE} (found {url:?})"
                    ),
                    held: lost >= 1 && url == NEW_WEBSITE,
                });
            }
            Expect::City { account, name } => {
                let city = text(&org.record(account).unwrap_or_default(), "BillingCity");
                checks.push(Check {
                    what: format!(
                        "{name}: the Account's BillingCity is {NEW_CITY} (found {city:?})"
                    ),
                    held: city == NEW_CITY,
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

/// Per flow: messages processed, records created / updated / linked (from the audit log),
/// echoes dropped, retried, parked with reasons.
async fn summary(stack: &Stack) -> String {
    let tally = stack.ports.audit.tally().await.unwrap_or_default();
    let records = |flow: Flow, action: AuditAction| {
        tally
            .iter()
            .filter(|(f, a, _)| *f == flow && *a == action)
            .map(|(_, _, n)| n)
            .sum::<u64>()
    };
    let mut out = String::from("per flow:");
    for (flow, counts) in stack.metrics.snapshot() {
        out.push_str(&format!(
            "\n  {flow}: {} messages processed; records {} created, {} updated, {} linked; \
             {} echoes of our own writes skipped, {} retried, {} parked",
            counts.processed,
            records(flow, AuditAction::Created),
            records(flow, AuditAction::Updated),
            records(flow, AuditAction::Linked),
            counts.echoes,
            counts.retried,
            counts.parked
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
