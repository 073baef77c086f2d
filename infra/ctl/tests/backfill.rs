//! `ledgerforce backfill accounts|contacts|customers` as an operator runs it: the real binary
//! with a config file, against both sandboxes started in this process, over an embedded
//! store. N Accounts, M of which name a customer that exists in Intacct already: the backfill
//! links those M, creates the other N−M in batches, and never makes a second customer — also
//! when killed mid-run and started again. Contacts and customers alike: the pre-existing
//! matches linked, the rest created, a second run makes nothing, a dry run writes nothing,
//! and the `--json` summary agrees with the sandboxes.
//!
//! `LEDGERFORCE_BACKFILL_N` and `LEDGERFORCE_BACKFILL_M` choose the size (default 400 and
//! 80; the issue's figure is 10000 and 2000).

// clippy.toml allows these in #[test] functions; the helpers here are test code too, and a
// failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lf_domain::ManualClock;
use lf_domain::port::{LinkKind, SyncState, XrefStore};
use lf_sandbox_intacct as intacct;
use lf_sandbox_salesforce as salesforce;
use serde_json::json;

struct Sandboxes {
    salesforce: salesforce::Sandbox,
    intacct: intacct::Sandbox,
}

/// An empty org whose clock stands an hour back (so every record is older than the
/// connector's settle time, as in an org being backfilled), and the demo company.
async fn sandboxes() -> Sandboxes {
    sandboxes_with(intacct::DataSet::Demo).await
}

/// An empty org as [`sandboxes`] has it, and a company seeded with `company`.
async fn sandboxes_with(company: intacct::DataSet) -> Sandboxes {
    seeded(salesforce::DataSet::Empty, company).await
}

/// The org seeded with `org` (its clock an hour back), the company with `company`.
async fn seeded(org: salesforce::DataSet, company: intacct::DataSet) -> Sandboxes {
    let clock = Arc::new(ManualClock::new(
        chrono::Utc::now() - chrono::Duration::hours(1),
    ));
    let salesforce = salesforce::Sandbox::start(salesforce::SandboxConfig {
        seed: org,
        clock,
        ..Default::default()
    })
    .await
    .unwrap();
    let intacct = intacct::Sandbox::start(intacct::SandboxConfig {
        seed: company,
        ..Default::default()
    })
    .await
    .unwrap();
    Sandboxes {
        salesforce,
        intacct,
    }
}

fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `n` customer Accounts; the first `m` carry the id of a customer seeded in Intacct
/// (`Intacct_Customer_ID__c`, the matching's `intacct_id` key). Returns their ids.
fn seed(s: &Sandboxes, n: usize, m: usize) -> Vec<String> {
    let existing = s.intacct.seed_customers(m, None);
    (0..n)
        .map(|i| {
            let mut fields = json!({
                "Name": format!("Backfill Account {i:05}"),
                "AccountNumber": format!("BF-{i:05}"),
                "Type": "Customer - Direct",
                "BillingCountry": "United States",
                "BillingCity": "Springfield",
                "BillingPostalCode": "10001",
            });
            if let Some(customer) = existing.get(i) {
                fields["Intacct_Customer_ID__c"] = json!(customer);
            }
            s.salesforce.insert("Account", fields).unwrap()
        })
        .collect()
}

fn mappings() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../mappings")
}

/// A config file for `s` in `dir`, and the embedded store `dir/data` as `local` leaves it.
fn write_config(dir: &Path, s: &Sandboxes) -> PathBuf {
    let key = dir.join("jwt-key.pem");
    std::fs::write(&key, &s.salesforce.credentials().private_key_pem).unwrap();
    let sf = s.salesforce.credentials();
    let ia = s.intacct.credentials();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    lf_embedded::Database::open(
        data.join("ledgerforce.db"),
        Arc::new(lf_domain::SystemClock),
    )
    .unwrap();
    let text = format!(
        r#"
[salesforce]
login_url = "{login}"
consumer_key = "{consumer_key}"
username = "{username}"
private_key = "file:{key}"

[intacct]
endpoint_url = "{endpoint}"
sender_id = "{sender_id}"
sender_password = "env:TEST_INTACCT_SENDER_PASSWORD"
company_id = "{company_id}"
user_id = "{user_id}"
user_password = "env:TEST_INTACCT_USER_PASSWORD"

[store]
kind = "embedded"
data_dir = "{data}"

[mappings]
dir = "{mappings}"
"#,
        login = s.salesforce.base_url(),
        consumer_key = sf.consumer_key,
        username = sf.username,
        key = key.display(),
        endpoint = s.intacct.endpoint_url(),
        sender_id = ia.sender_id,
        company_id = ia.company_id,
        user_id = ia.user_id,
        data = data.display(),
        mappings = mappings().display(),
    );
    let path = dir.join("ledgerforce.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn command(s: &Sandboxes, config: &Path, extra: &[&str]) -> Command {
    command_for(s, config, "accounts", extra)
}

fn command_for(s: &Sandboxes, config: &Path, object: &str, extra: &[&str]) -> Command {
    let ia = s.intacct.credentials();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ledgerforce"));
    cmd.args(["--config", config.to_str().unwrap(), "backfill", object])
        .args(extra)
        .env("TEST_INTACCT_SENDER_PASSWORD", ia.sender_password.clone())
        .env("TEST_INTACCT_USER_PASSWORD", ia.user_password.clone())
        .env_remove("RUST_LOG");
    cmd
}

/// Runs the backfill to its end (off the async runtime, so the sandboxes keep serving).
async fn backfill(s: &Sandboxes, config: &Path, extra: &[&str]) -> Output {
    backfill_of(s, config, "accounts", extra).await
}

/// `backfill <object>` run to its end.
async fn backfill_of(s: &Sandboxes, config: &Path, object: &str, extra: &[&str]) -> Output {
    let mut cmd = command_for(s, config, object, extra);
    tokio::task::spawn_blocking(move || cmd.output().expect("ledgerforce runs"))
        .await
        .unwrap()
}

/// The figures of the summary: `label:  value` lines.
fn figures(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.trim().split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn figure(f: &BTreeMap<String, String>, key: &str) -> u64 {
    f.get(key)
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} in {f:#?}"))
}

/// Every Account has exactly one customer carrying its id — the seeded one for the first `m`
/// — and a stored link to it; the company holds no customer beyond those.
async fn assert_end_state(s: &Sandboxes, dir: &Path, ids: &[String], m: usize, before: usize) {
    let db = lf_embedded::Database::open(
        dir.join("data").join("ledgerforce.db"),
        Arc::new(lf_domain::SystemClock),
    )
    .unwrap();
    let xref = db.xref_store();
    // One scan of the company (every customer the flow makes or the seed adds is active).
    let mut by_account: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    for c in s.intacct.find("CUSTOMER", "STATUS", "active") {
        if let Some(a) = c.get("SFDC_ACCOUNT_ID").filter(|a| !a.is_empty()) {
            *by_account.entry(a.clone()).or_default() += 1;
        }
        if let Some(c) = c.get("CUSTOMERID") {
            *by_id.entry(c.clone()).or_default() += 1;
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let account = s.salesforce.record(id).unwrap();
        let customer = account["Intacct_Customer_ID__c"]
            .as_str()
            .unwrap_or_else(|| panic!("Account {i} written back: {account:?}"))
            .to_owned();
        if i < m {
            assert_eq!(customer, format!("BULK-{:05}", i + 1), "Account {i} linked");
        } else {
            assert_eq!(customer, format!("BF-{i:05}"), "Account {i} created");
            assert_eq!(
                by_account.get(id.as_str()),
                Some(&1),
                "one customer for Account {i}"
            );
        }
        assert_eq!(by_id.get(&customer), Some(&1), "customer {customer} once");
        let sf_id = lf_domain::SalesforceId::parse(id).unwrap();
        let link = xref
            .find_by_salesforce(LinkKind::AccountCustomer, &sf_id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("Account {i} has a link"));
        assert_eq!(link.intacct.key.as_str(), customer);
    }
    assert_eq!(
        s.intacct.record_count("CUSTOMER"),
        before + ids.len() - m,
        "no customer beyond one per created Account"
    );
    let checkpoint = db
        .sync_state()
        .watermark("backfill/salesforce/Account")
        .await
        .unwrap();
    assert!(checkpoint.is_some(), "a checkpoint is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_links_the_existing_customers_and_creates_the_rest_in_batches() {
    let (n, m) = (
        size("LEDGERFORCE_BACKFILL_N", 400),
        size("LEDGERFORCE_BACKFILL_M", 80),
    );
    assert!(m <= n);
    let s = sandboxes().await;
    let ids = seed(&s, n, m);
    let before = s.intacct.record_count("CUSTOMER");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s);
    // A dry run says what the backfill will do, and writes nothing.
    let dry = backfill(&s, &config, &["--dry-run"]).await;
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{stdout}");
    let f = figures(&stdout);
    assert_eq!(figure(&f, "would link"), m as u64, "{stdout}");
    assert_eq!(figure(&f, "would create"), (n - m) as u64, "{stdout}");
    assert_eq!(figure(&f, "would leave"), 0, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "would link      Account {} → customer BULK-00001",
            ids[0]
        )),
        "{stdout}"
    );
    assert_eq!(s.intacct.record_count("CUSTOMER"), before);
    let untouched = s.salesforce.record(&ids[n - 1]).unwrap();
    assert!(
        untouched
            .get("Intacct_Customer_ID__c")
            .is_none_or(serde_json::Value::is_null),
        "nothing written back: {untouched:?}"
    );
    {
        let db = lf_embedded::Database::open(
            dir.path().join("data").join("ledgerforce.db"),
            Arc::new(lf_domain::SystemClock),
        )
        .unwrap();
        let checkpoint = db
            .sync_state()
            .watermark("backfill/salesforce/Account")
            .await;
        assert_eq!(checkpoint.unwrap(), None, "a dry run stores no checkpoint");
    }

    let (sf0, ia0) = (s.salesforce.api_calls(), s.intacct.usage().requests);
    let started = Instant::now();
    let out = backfill(&s, &config, &[]).await;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let (sf, ia) = (
        s.salesforce.api_calls() - sf0,
        s.intacct.usage().requests - ia0,
    );
    eprintln!(
        "backfill of {n} Accounts ({m} matching): Salesforce {sf} API calls, Intacct {ia} \
         requests, {:.1}s\n{stdout}",
        elapsed.as_secs_f64()
    );
    let f = figures(&stdout);
    assert_eq!(figure(&f, "records read"), n as u64);
    assert_eq!(figure(&f, "linked"), m as u64);
    assert_eq!(figure(&f, "created"), (n - m) as u64);
    assert_eq!(figure(&f, "parked"), 0);
    // Batched: per page of 200, a handful of calls on each side, never one per record.
    let pages = n.div_ceil(200) as u64;
    assert!(sf <= 4 * pages + 4, "Salesforce calls batched: {sf}");
    assert!(ia <= 4 * pages + 4, "Intacct requests batched: {ia}");
    assert!(sf < n as u64 / 10 && ia < n as u64 / 10);
    assert_end_state(&s, dir.path(), &ids, m, before).await;

    // A second run resumes from the checkpoint: nothing is left to read, nothing is made.
    let again = backfill(&s, &config, &[]).await;
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{stdout}");
    let f = figures(&stdout);
    assert!(f.contains_key("resumed from"), "{stdout}");
    assert_eq!(figure(&f, "created"), 0, "{stdout}");
    // --restart reads everything again, and only links.
    let restart = backfill(&s, &config, &["--restart"]).await;
    let stdout = String::from_utf8_lossy(&restart.stdout);
    assert!(restart.status.success(), "{stdout}");
    let f = figures(&stdout);
    assert_eq!(figure(&f, "records read"), n as u64, "{stdout}");
    assert_eq!(figure(&f, "created"), 0, "{stdout}");
    assert_end_state(&s, dir.path(), &ids, m, before).await;
}

/// Starts `cmd` and kills it (SIGKILL) once it has stored two checkpoints of `stream`.
async fn kill_after_two_checkpoints(mut cmd: Command, db_path: &Path, stream: &str) {
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "checkpoints stored in time");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run is still going when killed"
        );
        let db = lf_embedded::Database::open(db_path, Arc::new(lf_domain::SystemClock)).unwrap();
        if let Some(w) = db.sync_state().watermark(stream).await.unwrap()
            && !seen.contains(&w)
        {
            seen.push(w);
        }
        drop(db);
        if seen.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_killed_after_its_first_checkpoints_ends_the_same_when_run_again() {
    let (n, m) = (600, 120);
    let s = sandboxes().await;
    let ids = seed(&s, n, m);
    let before = s.intacct.record_count("CUSTOMER");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s);
    let db_path = dir.path().join("data").join("ledgerforce.db");

    // Small pages, so the kill lands mid-run: once two checkpoints are stored.
    kill_after_two_checkpoints(
        command(&s, &config, &["--batch", "50"]),
        &db_path,
        "backfill/salesforce/Account",
    )
    .await;
    let made = s.intacct.record_count("CUSTOMER") - before;
    assert!(made < n - m, "killed halfway: {made} customers made");

    let out = backfill(&s, &config, &["--batch", "50"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let f = figures(&stdout);
    assert!(f.contains_key("resumed from"), "{stdout}");
    assert!(
        figure(&f, "records read") < n as u64,
        "resumed, not restarted: {stdout}"
    );
    assert_end_state(&s, dir.path(), &ids, m, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_the_flow_cannot_onboard_is_parked_for_replay_and_the_run_exits_1() {
    use lf_domain::port::ParkedFailures;
    let s = sandboxes().await;
    let ids = seed(&s, 3, 0);
    let stray = s
        .salesforce
        .insert(
            "Account",
            json!({"Name": "Nowhere Ltd", "Type": "Customer - Direct",
                   "BillingCountry": "Atlantis", "BillingCity": "Poseidonia"}),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s);
    let out = backfill(&s, &config, &[]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let f = figures(&stdout);
    assert_eq!(figure(&f, "created"), ids.len() as u64, "{stdout}");
    assert_eq!(figure(&f, "parked"), 1, "{stdout}");
    assert!(
        stdout.contains(&stray),
        "the parked Account is named: {stdout}"
    );
    // Parked where the consumers park, with its change envelope, so `replay` can requeue it.
    let db = lf_embedded::Database::open(
        dir.path().join("data").join("ledgerforce.db"),
        Arc::new(lf_domain::SystemClock),
    )
    .unwrap();
    let parked = db
        .parked_failures()
        .list(Some(lf_domain::Flow::AccountOnboarding), 10)
        .await
        .unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0].record.id, stray);
    assert_eq!(
        parked[0].payload["flow"], "account-onboarding",
        "{:?}",
        parked[0].payload
    );
    assert!(!parked[0].reason.is_empty());
}

/// `backfill <object> --json …` run to its end: how it exited, and the one JSON object it
/// printed on stdout.
async fn backfill_json(
    s: &Sandboxes,
    config: &Path,
    object: &str,
    extra: &[&str],
) -> (Output, serde_json::Value) {
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    let out = backfill_of(s, config, object, &args).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("--json prints one JSON object ({e}): {stdout}\n{stderr}"));
    (out, summary)
}

fn number(summary: &serde_json::Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {summary:#}"))
}

fn open_store(dir: &Path) -> lf_embedded::Database {
    lf_embedded::Database::open(
        dir.join("data").join("ledgerforce.db"),
        Arc::new(lf_domain::SystemClock),
    )
    .unwrap()
}

/// The stored checkpoint of `stream`.
async fn checkpoint(dir: &Path, stream: &str) -> Option<lf_domain::port::Watermark> {
    open_store(dir)
        .sync_state()
        .watermark(stream)
        .await
        .unwrap()
}

/// The company of `s`, through the real client (test setup the way a user would do it).
fn intacct_client(s: &Sandboxes) -> lf_intacct::IntacctClient {
    let ia = s.intacct.credentials();
    lf_intacct::IntacctClient::new(lf_intacct::IntacctConfig::new(
        s.intacct.endpoint_url(),
        lf_intacct::Credentials {
            sender_id: ia.sender_id.clone(),
            sender_password: ia.sender_password.clone().into(),
            company_id: ia.company_id.clone(),
            user_id: ia.user_id.clone(),
            user_password: ia.user_password.clone().into(),
        },
    ))
    .unwrap()
}

/// Every customer has exactly one Account carrying its id — the pre-existing one for those
/// in `named` — which its `SFDC_ACCOUNT_ID` and the stored link name. Returns the Accounts
/// carrying a customer id.
async fn assert_customers_state(
    s: &Sandboxes,
    dir: &Path,
    named: &BTreeMap<String, String>,
) -> usize {
    let xref = open_store(dir).xref_store();
    let mut by_customer: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in s.salesforce.records("Account") {
        if let Some(c) = a.get("Intacct_Customer_ID__c").and_then(|v| v.as_str()) {
            by_customer
                .entry(c.to_owned())
                .or_default()
                .push(a["Id"].as_str().unwrap().to_owned());
        }
    }
    let customers = s.intacct.find("CUSTOMER", "STATUS", "active");
    assert_eq!(customers.len(), s.intacct.record_count("CUSTOMER"));
    for c in &customers {
        let id = &c["CUSTOMERID"];
        let accounts = by_customer.get(id).cloned().unwrap_or_default();
        assert_eq!(
            accounts.len(),
            1,
            "one Account for customer {id}: {accounts:?}"
        );
        if let Some(pre) = named.get(id) {
            assert_eq!(&accounts[0], pre, "customer {id} linked to its Account");
        }
        assert_eq!(
            c["SFDC_ACCOUNT_ID"], accounts[0],
            "customer {id} names its Account"
        );
        let link = xref
            .find_by_intacct(
                LinkKind::AccountCustomer,
                &lf_domain::IntacctKey::parse(id).unwrap(),
            )
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("customer {id} has a link"));
        assert_eq!(link.salesforce.as_str(), accounts[0]);
    }
    by_customer.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_customers_links_the_accounts_that_name_them_and_creates_the_rest() {
    let (n, m) = (
        size("LEDGERFORCE_BACKFILL_N", 300),
        size("LEDGERFORCE_BACKFILL_M", 60),
    );
    let s = sandboxes_with(intacct::DataSet::Empty).await;
    let customers = s.intacct.seed_customers(n, None);
    let total = s.intacct.record_count("CUSTOMER");
    // M Accounts carry their customer's id already; a prospect names none.
    let mut named = BTreeMap::new();
    for (i, c) in customers.iter().take(m).enumerate() {
        let id = s
            .salesforce
            .insert(
                "Account",
                json!({"Name": format!("Named Account {i:03}"), "Type": "Customer - Direct",
                       "Intacct_Customer_ID__c": c}),
            )
            .unwrap();
        named.insert(c.clone(), id);
    }
    let prospect = s
        .salesforce
        .insert(
            "Account",
            json!({"Name": "Prospect Ltd", "Type": "Prospect"}),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s);

    // A dry run says what would happen, one entry per customer, and writes nothing.
    let accounts_before = s.salesforce.records("Account");
    let writes_before = s.intacct.usage().writes;
    let (dry, v) = backfill_json(&s, &config, "customers", &["--dry-run"]).await;
    assert!(dry.status.success(), "{v:#}");
    assert_eq!(v["object"], "customers");
    assert_eq!(v["dry_run"], true);
    assert_eq!(number(&v, "read"), total as u64, "{v:#}");
    assert_eq!(number(&v, "linked"), m as u64, "{v:#}");
    assert_eq!(number(&v, "created"), (total - m) as u64, "{v:#}");
    assert_eq!(v["parked"].as_array().map(Vec::len), Some(0), "{v:#}");
    let records = v["records"].as_array().unwrap();
    assert_eq!(records.len(), total);
    let first = records
        .iter()
        .find(|r| r["id"] == customers[0].as_str())
        .unwrap();
    assert_eq!(first["action"], "would link");
    assert!(
        first["detail"]
            .as_str()
            .unwrap()
            .contains(&named[&customers[0]]),
        "{first}"
    );
    assert_eq!(
        s.salesforce.records("Account"),
        accounts_before,
        "no Account written"
    );
    assert_eq!(s.intacct.usage().writes, writes_before, "no Intacct write");
    assert!(v["checkpoint"].is_null());
    assert_eq!(
        checkpoint(dir.path(), "backfill/intacct/CUSTOMER").await,
        None
    );

    let (sf0, ia0) = (s.salesforce.api_calls(), s.intacct.usage().requests);
    let (out, v) = backfill_json(&s, &config, "customers", &[]).await;
    assert!(out.status.success(), "{v:#}");
    let (sf, ia) = (
        s.salesforce.api_calls() - sf0,
        s.intacct.usage().requests - ia0,
    );
    eprintln!(
        "backfill of {total} customers ({m} named by an Account): Salesforce {sf} API calls, \
         Intacct {ia} requests\n{v:#}"
    );
    assert_eq!(number(&v, "read"), total as u64);
    assert_eq!(number(&v, "linked"), m as u64);
    assert_eq!(number(&v, "created"), (total - m) as u64);
    assert_eq!(v["parked"].as_array().map(Vec::len), Some(0), "{v:#}");
    // The summary's figures are the sandboxes' (the client counts the same requests).
    assert_eq!(v["api_calls"]["intacct"].as_u64(), Some(ia), "{v:#}");
    assert!(
        v["api_calls"]["salesforce"]
            .as_u64()
            .is_some_and(|c| c <= sf)
    );
    // Batched: per page of 200, a handful of calls on each side, never one per record.
    let pages = total.div_ceil(200) as u64;
    assert!(sf <= 4 * pages + 4, "Salesforce calls batched: {sf}");
    assert!(ia <= 4 * pages + 4, "Intacct requests batched: {ia}");
    let carrying = assert_customers_state(&s, dir.path(), &named).await;
    assert_eq!(carrying, total);
    assert_eq!(
        s.salesforce.records("Account").len(),
        m + 1 + (total - m),
        "one Account made per customer no Account named, nothing else"
    );
    let untouched = s.salesforce.record(&prospect).unwrap();
    assert!(
        untouched
            .get("Intacct_Customer_ID__c")
            .is_none_or(serde_json::Value::is_null),
        "{untouched:?}"
    );
    let stored = checkpoint(dir.path(), "backfill/intacct/CUSTOMER")
        .await
        .expect("a checkpoint is stored");
    assert_eq!(v["checkpoint"]["last_id"], stored.last_id.as_str());
    assert_eq!(v["checkpoint"]["stream"], "backfill/intacct/CUSTOMER");

    // Run again: resumed, nothing made (what it reads again is its own write-backs).
    let (again, v) = backfill_json(&s, &config, "customers", &[]).await;
    assert!(again.status.success(), "{v:#}");
    assert!(!v["resumed_from"].is_null(), "{v:#}");
    assert_eq!(number(&v, "created"), 0, "{v:#}");
    assert_eq!(number(&v, "linked"), 0, "{v:#}");
    // --restart reads every customer again and makes nothing.
    let (restart, v) = backfill_json(&s, &config, "customers", &["--restart"]).await;
    assert!(restart.status.success(), "{v:#}");
    assert_eq!(number(&v, "read"), total as u64, "{v:#}");
    assert_eq!(number(&v, "created"), 0, "{v:#}");
    assert_eq!(number(&v, "linked"), 0, "{v:#}");
    assert_eq!(s.salesforce.records("Account").len(), total + 1);
    assert_customers_state(&s, dir.path(), &named).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_contacts_links_the_contacts_intacct_has_and_creates_the_rest() {
    let (n, m) = (
        size("LEDGERFORCE_BACKFILL_N", 250),
        size("LEDGERFORCE_BACKFILL_M", 50),
    );
    let s = sandboxes_with(intacct::DataSet::Empty).await;
    let customers = s.intacct.seed_customers(3, None);
    let accounts: Vec<String> = customers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            s.salesforce
                .insert(
                    "Account",
                    json!({"Name": format!("Linked Account {i}"), "Type": "Customer - Direct",
                           "Intacct_Customer_ID__c": c}),
                )
                .unwrap()
        })
        .collect();
    let prospect = s
        .salesforce
        .insert(
            "Account",
            json!({"Name": "Prospect Ltd", "Type": "Prospect"}),
        )
        .unwrap();
    // M people are in Intacct already, under another name: the email finds them.
    let client = intacct_client(&s);
    for i in 0..m {
        let fields = json!({"CONTACTNAME": format!("Existing Person {i:03}"),
                            "PRINTAS": format!("Existing Person {i:03}"),
                            "FIRSTNAME": "Existing", "LASTNAME": format!("Person {i:03}"),
                            "EMAIL1": format!("person{i:03}@example.com")});
        client
            .call(
                None,
                lf_intacct::Function::create_fields("CONTACT", fields.as_object().unwrap())
                    .unwrap(),
            )
            .await
            .unwrap();
    }
    let contacts: Vec<String> = (0..n)
        .map(|i| {
            s.salesforce
                .insert(
                    "Contact",
                    json!({"FirstName": "Person", "LastName": format!("Number {i:03}"),
                           "Email": format!("Person{i:03}@Example.com"),
                           "AccountId": accounts[i % accounts.len()]}),
                )
                .unwrap()
        })
        .collect();
    // The prospect's people stay out of Intacct.
    let outside: Vec<String> = (0..2)
        .map(|i| {
            s.salesforce
                .insert(
                    "Contact",
                    json!({"LastName": format!("Prospect Person {i}"), "AccountId": prospect}),
                )
                .unwrap()
        })
        .collect();
    let before = s.intacct.record_count("CONTACT");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s);

    // A dry run says what would happen, and writes nothing.
    let contacts_before = s.salesforce.records("Contact");
    let writes_before = s.intacct.usage().writes;
    let (dry, v) = backfill_json(&s, &config, "contacts", &["--dry-run"]).await;
    assert!(dry.status.success(), "{v:#}");
    assert_eq!(number(&v, "read"), (n + 2) as u64, "{v:#}");
    assert_eq!(number(&v, "linked"), m as u64, "{v:#}");
    assert_eq!(number(&v, "created"), (n - m) as u64, "{v:#}");
    assert_eq!(number(&v, "skipped"), 2, "the prospect's Contacts: {v:#}");
    assert_eq!(v["parked"].as_array().map(Vec::len), Some(0), "{v:#}");
    let first = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == contacts[0].as_str())
        .unwrap();
    assert_eq!(first["action"], "would link", "{first}");
    assert!(
        first["detail"]
            .as_str()
            .unwrap()
            .contains("Existing Person 000"),
        "{first}"
    );
    assert_eq!(
        s.salesforce.records("Contact"),
        contacts_before,
        "no Contact written"
    );
    assert_eq!(s.intacct.usage().writes, writes_before, "no Intacct write");
    assert_eq!(
        checkpoint(dir.path(), "backfill/salesforce/Contact").await,
        None
    );

    let (sf0, ia0) = (s.salesforce.api_calls(), s.intacct.usage().requests);
    let out = backfill_of(&s, &config, "contacts", &[]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let (sf, ia) = (
        s.salesforce.api_calls() - sf0,
        s.intacct.usage().requests - ia0,
    );
    eprintln!(
        "backfill of {n} Contacts ({m} matching by email): Salesforce {sf} API calls, Intacct \
         {ia} requests\n{stdout}"
    );
    let f = figures(&stdout);
    assert_eq!(figure(&f, "records read"), (n + 2) as u64, "{stdout}");
    assert_eq!(figure(&f, "linked"), m as u64, "{stdout}");
    assert_eq!(figure(&f, "created"), (n - m) as u64, "{stdout}");
    assert_eq!(figure(&f, "parked"), 0, "{stdout}");
    let pages = (n + 2).div_ceil(200) as u64;
    assert!(sf <= 4 * pages + 4, "Salesforce calls batched: {sf}");
    assert!(ia <= 4 * pages + 4, "Intacct requests batched: {ia}");

    let assert_state = || async {
        let xref = open_store(dir.path()).xref_store();
        for (i, id) in contacts.iter().enumerate() {
            let contact = s.salesforce.record(id).unwrap();
            let name = contact
                .get("Intacct_Contact_Name__c")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_else(|| panic!("Contact {i} written back: {contact:?}"))
                .to_owned();
            if i < m {
                assert_eq!(
                    name,
                    format!("Existing Person {i:03}"),
                    "Contact {i} linked"
                );
            }
            let carrying = s.intacct.find("CONTACT", "SFDC_CONTACT_ID", id);
            assert_eq!(carrying.len(), 1, "one CONTACT for Contact {i}");
            assert_eq!(carrying[0]["CONTACTNAME"], name);
            let link = xref
                .find_by_salesforce(
                    LinkKind::ContactContact,
                    &lf_domain::SalesforceId::parse(id).unwrap(),
                )
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("Contact {i} has a link"));
            assert_eq!(link.intacct.key.as_str(), name);
        }
        for id in &outside {
            assert_eq!(s.intacct.count_where("CONTACT", "SFDC_CONTACT_ID", id), 0);
            let contact = s.salesforce.record(id).unwrap();
            assert!(
                contact
                    .get("Intacct_Contact_Name__c")
                    .is_none_or(serde_json::Value::is_null),
                "{contact:?}"
            );
        }
        assert_eq!(
            s.intacct.record_count("CONTACT"),
            before + n - m,
            "a CONTACT made per Contact no CONTACT matched, nothing else"
        );
    };
    assert_state().await;
    assert!(
        checkpoint(dir.path(), "backfill/salesforce/Contact")
            .await
            .is_some()
    );

    // Run again: nothing made. --restart reads everything again and makes nothing either.
    let again = backfill_of(&s, &config, "contacts", &[]).await;
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{stdout}");
    assert_eq!(figure(&figures(&stdout), "created"), 0, "{stdout}");
    let (restart, v) = backfill_json(&s, &config, "contacts", &["--restart"]).await;
    assert!(restart.status.success(), "{v:#}");
    assert_eq!(number(&v, "read"), (n + 2) as u64, "{v:#}");
    assert_eq!(number(&v, "created"), 0, "{v:#}");
    assert_eq!(number(&v, "linked"), 0, "{v:#}");
    assert_state().await;
}

/// The records of `object` whose fields differ between `before` and `after`, by id.
fn changed(
    before: &[serde_json::Map<String, serde_json::Value>],
    after: &[serde_json::Map<String, serde_json::Value>],
) -> std::collections::BTreeSet<String> {
    let old: BTreeMap<&str, &serde_json::Map<String, serde_json::Value>> = before
        .iter()
        .map(|r| (r["Id"].as_str().unwrap(), r))
        .collect();
    after
        .iter()
        .filter(|r| old.get(r["Id"].as_str().unwrap()) != Some(r))
        .map(|r| r["Id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_invoices_writes_each_accounts_receivables_once() {
    let s = seeded(salesforce::DataSet::Demo, intacct::DataSet::Demo).await;
    let invoices = s.intacct.record_count("ARINVOICE");
    assert!(invoices > 4, "the demo company has invoices: {invoices}");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s);
    let snapshot = || {
        (
            s.salesforce.records("Account"),
            s.salesforce.records("Opportunity"),
            s.salesforce.records("Task"),
        )
    };

    // A dry run, in one page: what each invoice would write, and nothing written.
    let before = snapshot();
    let writes_before = s.intacct.usage().writes;
    let (dry, v) = backfill_json(&s, &config, "invoices", &["--dry-run", "--batch", "1000"]).await;
    assert!(dry.status.success(), "{v:#}");
    assert_eq!(number(&v, "read"), invoices as u64, "{v:#}");
    let records = v["records"].as_array().unwrap();
    assert_eq!(records.len(), invoices);
    // The Accounts whose own fields would change (`invoice N → Account A: f1, f2`).
    let mut would = std::collections::BTreeSet::new();
    for r in records.iter().filter(|r| r["action"] == "would update") {
        let detail = r["detail"].as_str().unwrap();
        let (account, fields) = detail
            .split_once(" → Account ")
            .and_then(|(_, rest)| rest.split_once(": "))
            .unwrap_or_else(|| panic!("{r}"));
        if fields
            .split(", ")
            .any(|f| !f.starts_with("Opportunity ") && !f.starts_with("Task "))
        {
            would.insert(account.to_owned());
        }
    }
    assert!(
        !would.is_empty(),
        "the demo Accounts lack their receivables: {v:#}"
    );
    assert_eq!(snapshot(), before, "a dry run writes nothing to Salesforce");
    assert_eq!(s.intacct.usage().writes, writes_before);
    assert_eq!(
        checkpoint(dir.path(), "backfill/intacct/ARINVOICE").await,
        None
    );
    let would_leave: Vec<serde_json::Value> = v["parked"].as_array().unwrap().clone();

    // The run, in pages of 4: the Accounts the dry run named are the ones written.
    let (sf0, ia0) = (s.salesforce.api_calls(), s.intacct.usage().requests);
    let (out, v) = backfill_json(&s, &config, "invoices", &["--batch", "4"]).await;
    let (sf, ia) = (
        s.salesforce.api_calls() - sf0,
        s.intacct.usage().requests - ia0,
    );
    eprintln!(
        "backfill of {invoices} invoices: Salesforce {sf} API calls, Intacct {ia} requests\n{v:#}"
    );
    assert_eq!(number(&v, "read"), invoices as u64, "{v:#}");
    assert_eq!(v["parked"].as_array().unwrap(), &would_leave, "{v:#}");
    assert_eq!(out.status.success(), would_leave.is_empty(), "{v:#}");
    assert!(number(&v, "updated") >= would.len() as u64, "{v:#}");
    assert_eq!(number(&v, "created"), 0);
    let after = snapshot();
    assert_eq!(changed(&before.0, &after.0), would, "the Accounts written");
    for id in &would {
        let a = s.salesforce.record(id).unwrap();
        assert!(
            a.get("Intacct_Invoice_Status__c")
                .is_some_and(|v| !v.is_null()),
            "Account {id} shows its invoices: {a:?}"
        );
    }
    let pages = invoices.div_ceil(4) as u64;
    assert!(sf <= 4 * pages + 4, "Salesforce calls batched: {sf}");
    assert!(ia <= 4 * pages + 4, "Intacct requests batched: {ia}");
    assert!(
        checkpoint(dir.path(), "backfill/intacct/ARINVOICE")
            .await
            .is_some()
    );

    // Again from the start: every Account shows its receivables, nothing is written.
    let (again, v) = backfill_json(&s, &config, "invoices", &["--restart"]).await;
    assert_eq!(again.status.success(), would_leave.is_empty(), "{v:#}");
    assert_eq!(number(&v, "updated"), 0, "{v:#}");
    assert_eq!(snapshot(), after, "a rerun writes nothing");
    let (dry, v) = backfill_json(&s, &config, "invoices", &["--dry-run", "--restart"]).await;
    assert!(dry.status.success(), "{v:#}");
    assert_eq!(number(&v, "updated"), 0, "nothing left to write: {v:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customers_backfill_killed_mid_run_resumes_from_its_intacct_checkpoint() {
    let (n, m) = (600, 100);
    let s = sandboxes_with(intacct::DataSet::Empty).await;
    let customers = s.intacct.seed_customers(n, None);
    let total = s.intacct.record_count("CUSTOMER");
    let mut named = BTreeMap::new();
    for (i, c) in customers.iter().take(m).enumerate() {
        let id = s
            .salesforce
            .insert(
                "Account",
                json!({"Name": format!("Named Account {i:03}"), "Intacct_Customer_ID__c": c}),
            )
            .unwrap();
        named.insert(c.clone(), id);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s);
    let db_path = dir.path().join("data").join("ledgerforce.db");
    kill_after_two_checkpoints(
        command_for(&s, &config, "customers", &["--batch", "50"]),
        &db_path,
        "backfill/intacct/CUSTOMER",
    )
    .await;
    let made = s.salesforce.records("Account").len() - m;
    assert!(made < total - m, "killed halfway: {made} Accounts made");

    let (out, v) = backfill_json(&s, &config, "customers", &["--batch", "50"]).await;
    assert!(out.status.success(), "{v:#}");
    assert!(!v["resumed_from"].is_null(), "{v:#}");
    // What the killed run made is not made again (the customers it wrote back come round
    // once more, changed since the checkpoint, and are echoes); the rest is.
    assert_eq!(number(&v, "created"), (total - m - made) as u64, "{v:#}");
    assert_customers_state(&s, dir.path(), &named).await;
    assert_eq!(
        s.salesforce.records("Account").len(),
        total,
        "one Account per customer, none twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contacts_backfill_killed_mid_run_makes_no_contact_twice() {
    let n = 600;
    let s = sandboxes_with(intacct::DataSet::Empty).await;
    let customer = s.intacct.seed_customers(1, None).remove(0);
    let account = s
        .salesforce
        .insert(
            "Account",
            json!({"Name": "Linked Account", "Intacct_Customer_ID__c": customer}),
        )
        .unwrap();
    let contacts: Vec<String> = (0..n)
        .map(|i| {
            s.salesforce
                .insert(
                    "Contact",
                    json!({"LastName": format!("Person {i:03}"), "AccountId": account}),
                )
                .unwrap()
        })
        .collect();
    let before = s.intacct.record_count("CONTACT");
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s);
    let db_path = dir.path().join("data").join("ledgerforce.db");
    kill_after_two_checkpoints(
        command_for(&s, &config, "contacts", &["--batch", "50"]),
        &db_path,
        "backfill/salesforce/Contact",
    )
    .await;
    let made = s.intacct.record_count("CONTACT") - before;
    assert!(made < n, "killed halfway: {made} CONTACTs made");

    let (out, v) = backfill_json(&s, &config, "contacts", &["--batch", "50"]).await;
    assert!(out.status.success(), "{v:#}");
    assert!(!v["resumed_from"].is_null(), "{v:#}");
    assert!(
        number(&v, "read") < n as u64,
        "resumed, not restarted: {v:#}"
    );
    for (i, id) in contacts.iter().enumerate() {
        assert_eq!(
            s.intacct.count_where("CONTACT", "SFDC_CONTACT_ID", id),
            1,
            "one CONTACT for Contact {i}"
        );
    }
    assert_eq!(s.intacct.record_count("CONTACT"), before + n);
}
