//! The operator commands as an operator runs them: the real binary on a data folder seeded
//! through the embedded store (what `ledgerforce local` writes), and the console in headless
//! Chromium.

// clippy.toml allows these in #[test] functions; the helpers here are test code too, and a
// failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use lf_domain::port::{
    AuditAction, AuditEntry, AuditLog, LinkKind, OutgoingMessage, ParkRequest, ParkedFailures,
    Queue, XrefLink, XrefStore,
};
use lf_domain::{
    ChangeEnvelope, CorrelationId, EventOrigin, Flow, IntacctKey, IntacctRef, RecordRef,
    SalesforceId, SystemClock,
};
use lf_embedded::{Database, DeadLetter, SqliteQueue};
use serde_json::Value;

const DEAL: &str = "006000000000001AAA";
const OTHER_DEAL: &str = "006000000000002AAA";
const ACCOUNT: &str = "001000000000001AAA";
/// A reason with markup in it: the console must show it as text.
const REASON: &str = "Intacct refused the invoice: unknown item <ADDED-LATER> & co";

fn envelope(flow: Flow, object: &str, id: &str) -> ChangeEnvelope {
    ChangeEnvelope {
        v: ChangeEnvelope::VERSION,
        flow,
        record: RecordRef::salesforce(object, &SalesforceId::parse(id).unwrap()),
        origin: EventOrigin::Poller,
        modified_at: None,
        correlation_id: CorrelationId::new_random(),
        received_at: Utc::now(),
    }
}

fn open(data: &Path) -> Database {
    std::fs::create_dir_all(data).unwrap();
    Database::open(data.join("ledgerforce.db"), Arc::new(SystemClock)).unwrap()
}

/// The opportunity-won queue as `ledgerforce local` opens it.
fn won_queue(db: &Database) -> SqliteQueue {
    db.queue_with_dead_letter(
        "opportunity-won",
        DeadLetter {
            queue: "opportunity-won-dlq".into(),
            max_receives: 5,
        },
    )
    .unwrap()
}

/// Two parked deals, one dead-lettered change, and a linked account with audit history.
async fn seed(data: &Path) -> Database {
    let db = open(data);
    let parked = db.parked_failures();
    for id in [DEAL, OTHER_DEAL] {
        let change = envelope(Flow::OpportunityWon, "Opportunity", id);
        parked
            .park(&ParkRequest {
                record: change.record.clone(),
                flow: Flow::OpportunityWon,
                reason: REASON.into(),
                error_class: "parked".into(),
                payload: serde_json::to_value(&change).unwrap(),
            })
            .await
            .unwrap();
    }
    let dead = envelope(Flow::AccountSync, "Account", ACCOUNT);
    db.queue("account-sync-dlq")
        .unwrap()
        .send_batch(&[OutgoingMessage::new(serde_json::to_string(&dead).unwrap())])
        .await
        .unwrap();

    let account = SalesforceId::parse(ACCOUNT).unwrap();
    let customer = IntacctRef::top_level(IntacctKey::parse("C-1001").unwrap());
    db.xref_store()
        .link(&XrefLink {
            kind: LinkKind::AccountCustomer,
            salesforce: account.clone(),
            intacct: customer.clone(),
            linked_at: Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
        })
        .await
        .unwrap();
    let audit = db.audit_log();
    for (record, minute, action, detail) in [
        (
            RecordRef::salesforce("Account", &account),
            1,
            AuditAction::Created,
            "customer C-1001 created in Intacct",
        ),
        (
            RecordRef::intacct("CUSTOMER", &customer),
            7,
            AuditAction::Updated,
            "BillingCity from Intacct",
        ),
    ] {
        audit
            .append(&AuditEntry {
                record,
                at: Utc.with_ymd_and_hms(2026, 3, 1, 9, minute, 0).unwrap(),
                flow: Flow::AccountSync,
                action,
                correlation_id: CorrelationId::new_random(),
                counterpart: None,
                detail: detail.into(),
            })
            .await
            .unwrap();
    }
    db
}

fn ledgerforce(args: &[&str], data: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledgerforce"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("ledgerforce runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        stdout(out),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

fn flow<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flow"] == name)
        .unwrap_or_else(|| panic!("no {name} in {status}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_audit_and_replay_work_on_a_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = seed(&data).await;

    // status: text and JSON.
    let text = ledgerforce(&["status"], &data);
    assert!(text.status.success());
    let text = stdout(&text);
    assert!(text.contains("parked (2):"), "{text}");
    assert!(text.contains(REASON), "{text}");
    assert!(
        text.contains("salesforce/Account"),
        "the watermarks: {text}"
    );
    let status = json(&ledgerforce(&["status", "--json"], &data));
    assert_eq!(flow(&status, "opportunity-won")["parked"], 2, "{status}");
    assert_eq!(flow(&status, "account-sync")["dead_letters"], 1, "{status}");
    assert_eq!(
        flow(&status, "account-sync")["audit"]["created"],
        1,
        "{status}"
    );
    assert_eq!(status["parked"][0]["reason"], REASON);

    // audit: from either side of the link, the history of both.
    for query in [ACCOUNT, "C-1001"] {
        let history = json(&ledgerforce(&["audit", query, "--json"], &data));
        let details: Vec<&str> = history["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["detail"].as_str().unwrap())
            .collect();
        assert_eq!(
            details,
            [
                "BillingCity from Intacct",
                "customer C-1001 created in Intacct"
            ],
            "{query}"
        );
        assert_eq!(history["links"][0]["kind"], "account-customer");
    }
    let text = stdout(&ledgerforce(&["audit", ACCOUNT], &data));
    assert!(text.contains("link account-customer"), "{text}");
    assert!(text.contains("BillingCity from Intacct"), "{text}");

    // replay: it must be told what; one record; then a flow's dead letters.
    let refused = ledgerforce(&["replay"], &data);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--flow"),
        "the usage names the choices"
    );
    let one = json(&ledgerforce(&["replay", "--id", DEAL, "--json"], &data));
    let items = one["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{one}");
    assert_eq!(items[0]["result"], "requeued");
    assert_eq!(items[0]["last_error"], REASON);
    let text = stdout(&ledgerforce(&["replay", "--flow", "account-sync"], &data));
    assert!(
        text.starts_with("last error: "),
        "the error comes first: {text}"
    );
    assert!(text.contains("replayed 1 of 1"), "{text}");

    let status = json(&ledgerforce(&["status", "--json"], &data));
    assert_eq!(flow(&status, "opportunity-won")["parked"], 1, "{status}");
    assert_eq!(status["parked"][0]["record"]["id"], OTHER_DEAL);
    assert_eq!(flow(&status, "account-sync")["dead_letters"], 0, "{status}");
    // The replayed changes are on their queues (after the replay's short delay).
    let queued = won_queue(&db)
        .receive(10, Duration::from_secs(60), Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    let change: ChangeEnvelope = serde_json::from_str(&queued[0].body).unwrap();
    assert_eq!(change.record.id, DEAL);
    let synced = db
        .queue("account-sync")
        .unwrap()
        .receive(10, Duration::from_secs(60), Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(synced.len(), 1);

    // A folder without a store is refused by name.
    let empty = dir.path().join("nothing-here");
    let out = ledgerforce(&["status"], &empty);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ledgerforce store"));
}

/// A started `ledgerforce console` and its URL.
struct Console {
    child: Child,
    url: String,
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_console(data: &Path) -> Console {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledgerforce"))
        .args(["console", "--port", "0", "--data-dir"])
        .arg(data)
        .stdout(Stdio::piped())
        .spawn()
        .expect("ledgerforce console starts");
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("console: ").map(str::to_owned))
        .expect("the console prints its URL");
    // Keep reading so the console never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Console { child, url }
}

/// Where the screenshots go: the build's target folder, so they stay after the run.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn dump_dom(profile: &Path, url: &str) -> String {
    let out = lf_testkit::chromium::run(
        profile,
        url,
        &["--dump-dom".into(), "--virtual-time-budget=5000".into()],
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `<form …>…</form>` of the parked row of `record` in `dom`.
fn replay_form_of(dom: &str, record: &str) -> String {
    let row_at = dom
        .find(&format!(">{record}</a>"))
        .unwrap_or_else(|| panic!("no parked row for {record} in {dom}"));
    let start = row_at
        + dom[row_at..]
            .find("<form")
            .expect("a replay form in the row");
    let end = start + dom[start..].find("</form>").unwrap() + "</form>".len();
    dom[start..end].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_parked_records_and_replays_one_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = seed(&data).await;
    let console = start_console(&data);
    let profile = dir.path().join("chromium-profile");

    let dom = dump_dom(&profile, &console.url);
    assert!(dom.contains("ledgerforce console"), "{dom}");
    // The reason is shown as text: escaped in the DOM, never as markup.
    assert!(
        dom.contains("unknown item &lt;ADDED-LATER&gt; &amp; co"),
        "the reason is on the page: {dom}"
    );
    assert!(!dom.contains("<ADDED-LATER>"));
    let deal = format!("salesforce/Opportunity/{DEAL}");
    let other = format!("salesforce/Opportunity/{OTHER_DEAL}");
    assert!(dom.contains(&deal) && dom.contains(&other), "{dom}");
    assert!(
        dom.contains("id=\"drift-none\""),
        "the drift section: {dom}"
    );
    assert!(dom.contains("opportunity-won"), "the flows table: {dom}");

    let shot = screenshot_dir().join("console.png");
    let _ = std::fs::remove_file(&shot);
    lf_testkit::chromium::run(
        &profile,
        &console.url,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,1400".into(),
        ],
    );
    let png = std::fs::read(&shot).expect("the screenshot is written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(png.len() > 10_000, "not a blank page: {} bytes", png.len());

    // The audit search form: the account's history, both sides.
    let history = dump_dom(&profile, &format!("{}?record={ACCOUNT}", console.url));
    assert!(history.contains("BillingCity from Intacct"), "{history}");
    assert!(
        history.contains("customer C-1001 created in Intacct"),
        "{history}"
    );

    // The deal's own replay form, taken from the page as served, submitted by the browser.
    let form = replay_form_of(&dom, &deal);
    let submit = dir.path().join("submit.html");
    std::fs::write(
        &submit,
        format!(
            "<!doctype html><html><head><base href=\"{}\"></head><body>{form}\
             <script>document.forms[0].submit()</script></body></html>",
            console.url
        ),
    )
    .unwrap();
    let after = dump_dom(&profile, &format!("file://{}", submit.display()));
    assert!(
        after.contains("id=\"replay-result\"") && after.contains("replayed 1 of 1"),
        "the browser lands on the console with the replay's result: {after}"
    );

    let page = dump_dom(&profile, &console.url);
    assert!(
        !page.contains(&format!(">{deal}</a>")),
        "the replayed deal left the parked list: {page}"
    );
    assert!(page.contains(&format!(">{other}</a>")), "the other stays");
    let parked = db.parked_failures().list(None, 10).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].record.id, OTHER_DEAL);
    let queued = won_queue(&db)
        .receive(10, Duration::from_secs(60), Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "the replayed deal is on its queue");
}
