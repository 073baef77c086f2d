//! `ledgerforce local` as a user runs it: the real binary on free loopback ports.

// clippy.toml allows these in #[test] functions; the helpers here are test code too, and a
// failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use chrono::Datelike;

/// A started `ledgerforce local` and the lines it printed up to "Press Ctrl-C".
struct Local {
    child: Child,
    banner: Vec<String>,
    /// Kept open so the lines printed at stop have somewhere to go.
    stdout: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

fn start(data_dir: &Path) -> Local {
    start_with(data_dir, &[])
}

/// `ledgerforce local` on free ports with `data_dir` and further `args`.
fn start_with(data_dir: &Path, args: &[&str]) -> Local {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledgerforce"))
        .args(["local", "--salesforce-port", "0", "--intacct-port", "0"])
        .args(["--webhook-port", "0", "--console-port", "0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("ledgerforce starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut banner = Vec::new();
    let mut lines = BufReader::new(stdout).lines();
    // Reading blocks until the line comes or the process ends (then the loop ends): no timing.
    for line in lines.by_ref() {
        let line = line.expect("stdout is text");
        let done = line.starts_with("Press Ctrl-C");
        banner.push(line);
        if done {
            break;
        }
    }
    Local {
        child,
        banner,
        stdout: lines,
    }
}

/// A test that fails stops its `ledgerforce local` too (a `Child` is not killed on drop).
impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Local {
    /// The value of the first line starting with `label`.
    fn value(&self, label: &str) -> String {
        self.banner
            .iter()
            .find_map(|l| l.trim_start().strip_prefix(label))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {label:?} line in {:#?}", self.banner))
    }

    /// SIGTERM, as a script or a service manager stops it; returns whether it exited 0 and
    /// what it printed after the banner.
    fn stop(mut self) -> (bool, Vec<String>) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let rest: Vec<String> = self.stdout.by_ref().map_while(Result::ok).collect();
        (self.child.wait().is_ok_and(|s| s.success()), rest)
    }
}

#[tokio::test]
async fn local_serves_both_sandboxes_and_keeps_its_store_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let local = start(&data);
    let instance = local.value("instance URL:");
    let key = local.value("consumer key:");
    let secret = local.value("consumer secret:");
    let intacct = local.value("endpoint:");
    assert!(intacct.starts_with("http://127.0.0.1:"), "{intacct}");
    assert!(
        local
            .value("JWT private key:")
            .starts_with(data.to_str().unwrap())
    );

    // The printed credentials open the printed org, as they would for curl or jsforce.
    let http = reqwest::Client::new();
    let token = http
        .post(format!("{instance}/services/oauth2/token"))
        .basic_auth(&key, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    let token: serde_json::Value = token.json().await.unwrap();
    let accounts: serde_json::Value = http
        .get(format!("{instance}/services/data/v62.0/query"))
        .query(&[("q", "SELECT Id FROM Account")])
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(accounts["totalSize"], 12, "the demo org: {accounts}");

    // The operator console, on its own port.
    let console = local.value("console:");
    let console = console.split_whitespace().next().unwrap().to_owned();
    let page = http.get(&console).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("ledgerforce console"), "{page}");
    assert!(
        page.contains("account-onboarding"),
        "the flows table: {page}"
    );
    assert!(page.contains("Nothing is parked."), "{page}");

    let (ok, rest) = local.stop();
    assert!(ok, "a SIGTERM stop exits 0: {rest:?}");
    assert!(
        rest.iter().any(|l| l.starts_with("stopped: Salesforce ")),
        "the counters are printed at stop: {rest:?}"
    );
    assert!(data.join("ledgerforce.db").exists(), "the store stays");
    assert!(
        !data.join("salesforce-jwt-key.pem").exists(),
        "the key goes"
    );

    // The same folder opens again (schema already there, queues kept).
    let again = start(&data);
    assert!(again.value("store and queues:").ends_with("ledgerforce.db"));
    assert!(again.stop().0);
}

/// A session on the printed org with the printed client credentials.
async fn session(local: &Local) -> (reqwest::Client, String, String) {
    let instance = local.value("instance URL:");
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{instance}/services/oauth2/token"))
        .basic_auth(
            local.value("consumer key:"),
            Some(local.value("consumer secret:")),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap().to_owned();
    (http, instance, bearer)
}

async fn soql(
    (http, instance, bearer): &(reqwest::Client, String, String),
    q: &str,
) -> serde_json::Value {
    http.get(format!("{instance}/services/data/v62.0/query"))
        .query(&[("q", q)])
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// PATCHes fields of Opportunity `id` as a user's client would; returns the HTTP status.
async fn patch_opportunity(
    (http, instance, bearer): &(reqwest::Client, String, String),
    id: &str,
    fields: serde_json::Value,
) -> u16 {
    http.patch(format!(
        "{instance}/services/data/v62.0/sobjects/Opportunity/{id}"
    ))
    .bearer_auth(bearer)
    .json(&fields)
    .send()
    .await
    .unwrap()
    .status()
    .as_u16()
}

/// Polls `q` until its first record's `field` is set, at most a minute (a failure bound, not
/// a timing assertion).
async fn wait_for_field(s: &(reqwest::Client, String, String), q: &str, field: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        let r = soql(s, q).await;
        if let Some(v) = r["records"][0][field].as_str().filter(|v| !v.is_empty()) {
            return v.to_owned();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "{field} not set within a minute: {r}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn closing_a_deal_in_the_local_org_creates_its_invoice_once() {
    let dir = tempfile::tempdir().unwrap();
    let local = start(&dir.path().join("data"));
    let s = session(&local).await;
    // An open demo deal with products, for a customer Intacct already has.
    let open = soql(
        &s,
        "SELECT Id, Name FROM Opportunity WHERE Name = 'Northwind - Analytics expansion'",
    )
    .await;
    let id = open["records"][0]["Id"].as_str().unwrap().to_owned();
    let closed = patch_opportunity(&s, &id, serde_json::json!({"StageName": "Closed Won"})).await;
    assert_eq!(closed, 204);
    let q = format!(
        "SELECT Id, Intacct_Invoice_ID__c, Intacct_Sync_Status__c FROM Opportunity WHERE Id = '{id}'"
    );
    let invoice = wait_for_field(&s, &q, "Intacct_Invoice_ID__c").await;
    assert!(!invoice.is_empty());
    let status = soql(&s, &q).await;
    assert_eq!(status["records"][0]["Intacct_Sync_Status__c"], "Synced");

    // Editing the deal again creates nothing new: the document id stays the same.
    let edited = patch_opportunity(
        &s,
        &id,
        serde_json::json!({"Description": "edited after closing", "StageName": "Closed Won"}),
    )
    .await;
    assert_eq!(edited, 204);
    let after = soql(&s, &q).await;
    assert_eq!(
        after["records"][0]["Intacct_Invoice_ID__c"],
        invoice.as_str()
    );
    // A second deal closed after the edit: once its invoice is written back, every change
    // queued before it has been handled, and the first deal still has exactly one invoice in
    // the Intacct company (read with a client on the printed endpoint and credentials).
    let marker = soql(
        &s,
        "SELECT Id FROM Opportunity WHERE Name = 'Acme - Seat expansion'",
    )
    .await["records"][0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let marked =
        patch_opportunity(&s, &marker, serde_json::json!({"StageName": "Closed Won"})).await;
    assert_eq!(marked, 204);
    wait_for_field(
        &s,
        &format!("SELECT Intacct_Invoice_ID__c FROM Opportunity WHERE Id = '{marker}'"),
        "Intacct_Invoice_ID__c",
    )
    .await;
    let intacct = intacct_client(&local);
    let linked = lf_domain::port::IntacctPort::find_linked(
        &intacct,
        None,
        &lf_domain::port::IntacctObject::ArInvoice,
        &[lf_domain::SalesforceId::parse(&id).unwrap()],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(linked.len(), 1, "one invoice for the deal: {linked:?}");

    let (ok, rest) = local.stop();
    assert!(ok, "{rest:?}");
    // The stop line counts what the Intacct sandbox was asked: one document for the deal.
    assert!(rest.iter().any(|l| l.starts_with("stopped: ")), "{rest:?}");
}

/// `GET /local/status`, as a script watching `ledgerforce local` reads it.
async fn status(local: &Local) -> serde_json::Value {
    let webhooks = local.value("status:");
    let url = webhooks.split_whitespace().next().unwrap().to_owned();
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// Waits until the status page says idle on two reads a poll interval apart (a change the
/// poller finds between them shows as queued), at most a minute.
async fn wait_idle(local: &Local) -> serde_json::Value {
    let start = std::time::Instant::now();
    loop {
        let first = status(local).await;
        if first["idle"] == true {
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            let second = status(local).await;
            if second["idle"] == true {
                return second;
            }
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "not idle within a minute: {first}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The printed Intacct company, through the real client.
fn intacct_client(local: &Local) -> lf_intacct::IntacctClient {
    lf_intacct::IntacctClient::new(lf_intacct::IntacctConfig::new(
        local.value("endpoint:"),
        lf_intacct::Credentials {
            sender_id: local.value("sender id:"),
            sender_password: secrecy::SecretString::from(local.value("sender password:")),
            company_id: local.value("company id:"),
            user_id: local.value("user id:"),
            user_password: secrecy::SecretString::from(local.value("user password:")),
        },
    ))
    .unwrap()
}

#[tokio::test]
async fn a_phone_changed_in_salesforce_reaches_intacct_and_is_not_written_back() {
    let dir = tempfile::tempdir().unwrap();
    let local = start_with(&dir.path().join("data"), &["--poll-interval", "1"]);
    let s = session(&local).await;
    let q = "SELECT Id, Phone, Intacct_Customer_ID__c, Intacct_Entity__c, SystemModstamp \
             FROM Account WHERE Intacct_Customer_ID__c = 'C-1001'";
    let id = soql(&s, q).await["records"][0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let patch = |fields: serde_json::Value| {
        let (http, instance, bearer) = &s;
        http.patch(format!(
            "{instance}/services/data/v62.0/sobjects/Account/{id}"
        ))
        .bearer_auth(bearer)
        .json(&fields)
        .send()
    };
    // The seeded Account's first change lets account-onboarding write the entity it routes
    // to (a first link, written once): done and settled before the change under test.
    let warm = patch(serde_json::json!({"Description": "key account"})).await;
    assert_eq!(warm.unwrap().status(), 204);
    let before = wait_idle(&local).await;
    let account = soql(&s, q).await["records"][0].clone();
    assert!(account["Intacct_Entity__c"].is_string(), "{account}");

    let patched = patch(serde_json::json!({"Phone": "+1 415 555 0123"})).await;
    assert_eq!(patched.unwrap().status(), 204);
    let stamped = soql(&s, q).await["records"][0]["SystemModstamp"].clone();
    assert_ne!(stamped, account["SystemModstamp"]);

    // The customer has the new phone within seconds (a minute is the failure bound).
    let intacct = intacct_client(&local);
    let query =
        lf_domain::port::RecordQuery::new("CUSTOMER", ["CUSTOMERID", "DISPLAYCONTACT.PHONE1"])
            .filter(lf_domain::port::QueryFilter::Equals(
                "CUSTOMERID".into(),
                "C-1001".into(),
            ));
    let started = std::time::Instant::now();
    loop {
        let rows = lf_domain::port::IntacctPort::query(&intacct, None, &query)
            .await
            .unwrap();
        if rows[0].field("DISPLAYCONTACT.PHONE1") == Some("+1 415 555 0123") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the phone did not reach Intacct within a minute: {rows:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Once everything has settled (the customer's own change event handled, the poller run),
    // the Account was not written again: its SystemModstamp is the one our PATCH gave it.
    let after = wait_idle(&local).await;
    let now = soql(&s, q).await["records"][0].clone();
    assert_eq!(now["SystemModstamp"], stamped, "{now}");
    assert_eq!(now["Phone"], "+1 415 555 0123");
    let synced = |v: &serde_json::Value, n: &str| v["flows"]["account-sync"][n].as_u64().unwrap();
    assert!(synced(&after, "done") > synced(&before, "done"), "{after}");
    // The customer's change event came back and was counted as our own echo.
    assert!(
        synced(&after, "echoes") > synced(&before, "echoes"),
        "{after}"
    );
    assert_eq!(after["parked"], before["parked"], "{after}");
    let (ok, rest) = local.stop();
    assert!(ok, "{rest:?}");
}

#[tokio::test]
async fn a_reconciliation_run_on_demand_writes_its_report_and_a_rerun_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let local = start(&data);
    let line = local.value("reconcile:");
    let url = line.split_whitespace().nth(1).unwrap().to_owned();
    let base = url.split('?').next().unwrap().to_owned();
    let http = reqwest::Client::new();
    let run = |period: &str| http.post(&base).query(&[("period", period)]).send();
    let bad = run("2026-13").await.unwrap();
    assert_eq!(bad.status(), 400);

    // Last month holds posted revenue schedule entries in the demo company.
    let period = {
        let today = chrono::Utc::now().date_naive();
        let first = today.with_day(1).unwrap();
        (first - chrono::Duration::days(1))
            .format("%Y-%m")
            .to_string()
    };
    let first = run(&period).await.unwrap();
    assert_eq!(first.status(), 200);
    let first: serde_json::Value = first.json().await.unwrap();
    assert_eq!(first["period"], period.as_str());
    let accounts = first["accounts"].as_u64().unwrap();
    assert!(accounts > 0, "{first}");
    assert_eq!(first["written"]["reconciliations"].as_u64(), Some(accounts));
    let html = std::fs::read_to_string(first["report"]["html"].as_str().unwrap()).unwrap();
    assert!(html.contains("<svg") && html.contains(&period), "{html}");
    assert!(
        first["report"]["html"]
            .as_str()
            .unwrap()
            .starts_with(data.to_str().unwrap())
    );
    let csv = std::fs::read_to_string(first["report"]["csv"].as_str().unwrap()).unwrap();
    assert_eq!(csv.lines().count() as u64, accounts + 1, "{csv}");

    let again: serde_json::Value = run(&period).await.unwrap().json().await.unwrap();
    assert_eq!(again["written"]["reconciliations"], 0, "{again}");
    assert_eq!(again["written"]["opportunities"], 0, "{again}");
    assert_eq!(again["recognized"], first["recognized"]);
    assert!(local.stop().0);
}
