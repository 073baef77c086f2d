//! The operator commands as an operator runs them: the real binary on a data folder seeded
//! through the embedded store (what `ledgerforce local` writes) and on a deployment's DynamoDB
//! tables and SQS queues in moto (named by a configuration file), and the console over each in
//! headless Chromium.

// clippy.toml allows these in #[test] functions; the helpers here are test code too, and a
// failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use lf_aws::{
    AwsSettings, DynamoAuditLog, DynamoParkedFailures, DynamoSyncState, DynamoXrefStore, SqsQueue,
    TableNames,
};
use lf_domain::port::{
    AuditAction, AuditEntry, AuditLog, LinkKind, OutgoingMessage, ParkRequest, ParkedFailures,
    Queue, SyncState, Watermark, XrefLink, XrefStore,
};
use lf_domain::{
    ChangeEnvelope, Clock, CorrelationId, EventOrigin, Flow, IntacctKey, IntacctRef, RecordRef,
    SalesforceId, SystemClock,
};
use lf_embedded::{Database, DeadLetter, SqliteQueue};
use serde_json::Value;

const DEAL: &str = "006000000000001AAA";
const OTHER_DEAL: &str = "006000000000002AAA";
const ACCOUNT: &str = "001000000000001AAA";
/// A reason with markup in it: the console must show it as text.
const REASON: &str = "Intacct refused the invoice: unknown item <ADDED-LATER> & co";
/// How far the poller has read Salesforce Accounts.
const WATERMARK: &str = "2026-03-01T09:30:00+00:00";

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

/// Two parked deals, one dead-lettered account-sync change (in `account_dead_letters`), and a
/// linked account with audit history: the same through the ports of either store.
async fn seed_ports(
    parked: &impl ParkedFailures,
    account_dead_letters: &impl Queue,
    xref: &impl XrefStore,
    audit: &impl AuditLog,
) {
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
    account_dead_letters
        .send_batch(&[OutgoingMessage::new(serde_json::to_string(&dead).unwrap())])
        .await
        .unwrap();

    let account = SalesforceId::parse(ACCOUNT).unwrap();
    let customer = IntacctRef::top_level(IntacctKey::parse("C-1001").unwrap());
    xref.link(&XrefLink {
        kind: LinkKind::AccountCustomer,
        salesforce: account.clone(),
        intacct: customer.clone(),
        linked_at: Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
    })
    .await
    .unwrap();
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
}

/// The poller's watermark of `salesforce/Account`, at [`WATERMARK`].
async fn mark(state: &impl SyncState) {
    let at = DateTime::parse_from_rfc3339(WATERMARK).unwrap();
    let moved = state
        .advance_watermark(
            "salesforce/Account",
            &Watermark {
                modified_at: at.with_timezone(&Utc),
                last_id: ACCOUNT.into(),
            },
        )
        .await
        .unwrap();
    assert!(moved);
}

/// The seed of [`seed_ports`] in a data folder's embedded store.
async fn seed(data: &Path) -> Database {
    let db = open(data);
    seed_ports(
        &db.parked_failures(),
        &db.queue("account-sync-dlq").unwrap(),
        &db.xref_store(),
        &db.audit_log(),
    )
    .await;
    mark(&db.sync_state()).await;
    db
}

/// Where the binary finds the state: a data folder, or a configuration naming a store.
#[derive(Debug, Clone, Copy)]
enum Store<'a> {
    DataDir(&'a Path),
    Config(&'a Path),
}

impl Store<'_> {
    fn args(self) -> [&'static str; 1] {
        match self {
            Store::DataDir(_) => ["--data-dir"],
            Store::Config(_) => ["--config"],
        }
    }

    fn path(self) -> PathBuf {
        match self {
            Store::DataDir(p) | Store::Config(p) => p.to_path_buf(),
        }
    }
}

fn ledgerforce(args: &[&str], store: Store<'_>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ledgerforce"))
        .args(args)
        .args(store.args())
        .arg(store.path())
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

/// `status`, `audit` and `replay` over the seed, run as an operator runs them against `store`;
/// `won` and `account_sync` are that store's flow queues, `parked` its parked failures. Returns
/// the first `status --json` for the checks particular to a store.
async fn the_commands_work_over_the_seed(
    store: Store<'_>,
    won: &impl Queue,
    account_sync: &impl Queue,
    parked: &impl ParkedFailures,
) -> Value {
    // status: text and JSON.
    let text = ledgerforce(&["status"], store);
    assert!(text.status.success(), "{text:?}");
    let text = stdout(&text);
    assert!(text.contains("parked (2):"), "{text}");
    assert!(text.contains(REASON), "{text}");
    assert!(
        text.contains("salesforce/Account") && text.contains(WATERMARK),
        "the watermarks: {text}"
    );
    let first = json(&ledgerforce(&["status", "--json"], store));
    assert_eq!(flow(&first, "opportunity-won")["parked"], 2, "{first}");
    assert_eq!(flow(&first, "account-sync")["dead_letters"], 1, "{first}");
    assert_eq!(first["parked"][0]["reason"], REASON);

    // audit: from either side of the link, the history of both.
    for query in [ACCOUNT, "C-1001"] {
        let history = json(&ledgerforce(&["audit", query, "--json"], store));
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
    let text = stdout(&ledgerforce(&["audit", ACCOUNT], store));
    assert!(text.contains("link account-customer"), "{text}");
    assert!(text.contains("BillingCity from Intacct"), "{text}");

    // replay: it must be told what; one record; then a flow's dead letters.
    let refused = ledgerforce(&["replay"], store);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--flow"),
        "the usage names the choices"
    );
    let one = json(&ledgerforce(&["replay", "--id", DEAL, "--json"], store));
    let items = one["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{one}");
    assert_eq!(items[0]["result"], "requeued");
    assert_eq!(items[0]["last_error"], REASON);
    let text = stdout(&ledgerforce(&["replay", "--flow", "account-sync"], store));
    assert!(
        text.starts_with("last error: "),
        "the error comes first: {text}"
    );
    assert!(text.contains("replayed 1 of 1"), "{text}");

    let status = json(&ledgerforce(&["status", "--json"], store));
    assert_eq!(flow(&status, "opportunity-won")["parked"], 1, "{status}");
    assert_eq!(status["parked"][0]["record"]["id"], OTHER_DEAL);
    assert_eq!(flow(&status, "account-sync")["dead_letters"], 0, "{status}");
    let left = parked.list(None, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].record.id, OTHER_DEAL);
    // The replayed changes are on their queues (after the replay's short delay).
    let queued = won
        .receive(10, Duration::from_secs(60), Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    let change: ChangeEnvelope = serde_json::from_str(&queued[0].body).unwrap();
    assert_eq!(change.record.id, DEAL);
    let synced = account_sync
        .receive(10, Duration::from_secs(60), Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(synced.len(), 1, "the dead letter is on its flow's queue");
    let change: ChangeEnvelope = serde_json::from_str(&synced[0].body).unwrap();
    assert_eq!(change.record.id, ACCOUNT);
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_audit_and_replay_work_on_a_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = seed(&data).await;
    let store = Store::DataDir(&data);
    let status = the_commands_work_over_the_seed(
        store,
        &won_queue(&db),
        &db.queue("account-sync").unwrap(),
        &db.parked_failures(),
    )
    .await;
    // The embedded store counts its audit log; the consumers' counts live in `local` only.
    assert_eq!(
        flow(&status, "account-sync")["audit"]["created"],
        1,
        "{status}"
    );
    assert!(
        flow(&status, "account-sync")["counts"].is_null(),
        "{status}"
    );
    assert!(
        status["notes"][0]
            .as_str()
            .unwrap()
            .contains("ledgerforce local"),
        "{status}"
    );

    // A folder without a store is refused by name.
    let empty = dir.path().join("nothing-here");
    let out = ledgerforce(&["status"], Store::DataDir(&empty));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no ledgerforce store"));

    // A configuration naming the data folder reaches the same store; with --data-dir as
    // well, the command refuses to guess.
    let config = dir.path().join("embedded.toml");
    std::fs::write(
        &config,
        config_text(&format!(
            "kind = \"embedded\"\ndata_dir = \"{}\"\n",
            data.display()
        )),
    )
    .unwrap();
    let via_config = json(&ledgerforce(&["status", "--json"], Store::Config(&config)));
    assert_eq!(
        flow(&via_config, "opportunity-won")["parked"],
        1,
        "{via_config}"
    );
    let both = Command::new(env!("CARGO_BIN_EXE_ledgerforce"))
        .args(["--config", config.to_str().unwrap(), "status", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!both.status.success());
    assert!(
        String::from_utf8_lossy(&both.stderr).contains("either --data-dir or --config"),
        "{both:?}"
    );
}

/// A configuration file of only a `[store]` table holding `store`: the commands over the
/// sync's state need nothing else (no connector keys, no secrets).
fn config_text(store: &str) -> String {
    format!("[store]\n{store}")
}

/// The moto endpoint `tests/run` starts (`LEDGERFORCE_MOTO_ENDPOINT`).
fn moto() -> String {
    match std::env::var("LEDGERFORCE_MOTO_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
        _ => panic!(
            "LEDGERFORCE_MOTO_ENDPOINT is not set: run `tests/run` (it starts moto), or start \
             `moto_server -H 127.0.0.1 -p PORT` and export LEDGERFORCE_MOTO_ENDPOINT=http://127.0.0.1:PORT"
        ),
    }
}

/// A deployment's AWS side in moto, seeded, and the configuration naming it.
struct Deployment {
    config: PathBuf,
    won: SqsQueue,
    account_sync: SqsQueue,
    account_sync_dead_letters: SqsQueue,
    parked: DynamoParkedFailures,
}

/// Creates the tables and the opportunity-won and account-sync queues (each with its
/// dead-letter queue, as template.yaml has them) of a fresh deployment under `dir`'s name, seeds
/// them through the DynamoDB and SQS adapters, and writes `dir/aws.toml` naming them.
async fn deploy(dir: &Path) -> Deployment {
    let endpoint = moto();
    let sdk = lf_aws::load_sdk_config(&AwsSettings::local(&endpoint)).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let unique = dir.file_name().unwrap().to_str().unwrap();
    let prefix = format!("lf-op-{}", unique.trim_start_matches('.'));
    let names = TableNames::with_prefix(&prefix);
    lf_aws::schema::create_tables(&dynamo, &names)
        .await
        .unwrap();
    let mut urls = Vec::new();
    for flow in [Flow::OpportunityWon, Flow::AccountSync] {
        let name = lf_aws::schema::queue_name(&prefix, flow);
        let created =
            lf_aws::schema::create_queue_with_dead_letter(&sqs, &name, Duration::from_secs(60), 5)
                .await
                .unwrap();
        urls.push(created);
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let parked = DynamoParkedFailures::new(dynamo.clone(), &names.parked, clock.clone());
    let account_sync_dead_letters = SqsQueue::new(sqs.clone(), &urls[1].dead_letter);
    seed_ports(
        &parked,
        &account_sync_dead_letters,
        &DynamoXrefStore::new(dynamo.clone(), &names.xref),
        &DynamoAuditLog::new(dynamo.clone(), &names.audit, clock.clone()),
    )
    .await;
    mark(&DynamoSyncState::new(dynamo, &names.sync_state, clock)).await;
    let config = dir.join("aws.toml");
    std::fs::write(
        &config,
        config_text(&format!(
            "kind = \"aws\"\nregion = \"us-east-1\"\nendpoint_url = \"{endpoint}\"\n\
             table_prefix = \"{prefix}\"\n\n[store.queue_urls]\n\
             opportunity-won = \"{}\"\naccount-sync = \"{}\"\n",
            urls[0].queue, urls[1].queue
        )),
    )
    .unwrap();
    Deployment {
        config,
        won: SqsQueue::new(sqs.clone(), &urls[0].queue),
        account_sync: SqsQueue::new(sqs, &urls[1].queue),
        account_sync_dead_letters,
        parked,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_audit_and_replay_work_on_a_deployments_dynamodb_tables_and_sqs_queues() {
    let dir = tempfile::tempdir().unwrap();
    let d = deploy(dir.path()).await;
    let store = Store::Config(&d.config);
    let status = the_commands_work_over_the_seed(store, &d.won, &d.account_sync, &d.parked).await;
    // The flows shown are those the configuration names a queue for.
    let shown: Vec<&str> = status["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flow"].as_str().unwrap())
        .collect();
    assert_eq!(shown, ["opportunity-won", "account-sync"], "{status}");
    // What DynamoDB and SQS do not hold is said, not shown as zeros.
    let account_sync = flow(&status, "account-sync");
    assert!(account_sync["counts"].is_null(), "{status}");
    assert_eq!(account_sync["audit"], serde_json::json!({}), "{status}");
    let notes = status["notes"].to_string();
    assert!(notes.contains("CloudWatch"), "{status}");
    assert!(notes.contains("scan the whole audit table"), "{status}");
    let text = stdout(&ledgerforce(&["status"], store));
    assert!(text.contains("not shown:"), "{text}");
    assert_eq!(
        d.account_sync_dead_letters.depth().await.unwrap().visible,
        0,
        "the dead letter left its queue"
    );

    // A queue URL that is not a flow queue with a dead-letter queue is named before anything
    // is read.
    let text = std::fs::read_to_string(&d.config).unwrap();
    let broken = text.replace(d.account_sync.url(), d.account_sync_dead_letters.url());
    let broken_config = dir.path().join("broken.toml");
    std::fs::write(&broken_config, broken).unwrap();
    let out = ledgerforce(&["status"], Store::Config(&broken_config));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("account-sync queue") && err.contains("no dead-letter queue"),
        "{err}"
    );
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

fn start_console(store: Store<'_>) -> Console {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledgerforce"))
        .args(["console", "--port", "0"])
        .args(store.args())
        .arg(store.path())
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

/// The console over the seed, in headless Chromium: the parked deals with their reason, a
/// record's history, and the deal's own Replay button submitted by the browser, after which
/// the deal is on `won` and only the other stays in `parked`. Returns the first page.
async fn the_console_replays_a_parked_record(
    store: Store<'_>,
    work: &Path,
    screenshot: &str,
    won: &impl Queue,
    parked: &impl ParkedFailures,
) -> String {
    let console = start_console(store);
    let profile = work.join("chromium-profile");

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
    assert!(dom.contains("opportunity-won"), "the flows table: {dom}");

    let shot = screenshot_dir().join(screenshot);
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
    let submit = work.join("submit.html");
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
    let left = parked.list(None, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].record.id, OTHER_DEAL);
    let queued = won
        .receive(10, Duration::from_secs(60), Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "the replayed deal is on its queue");
    let change: ChangeEnvelope = serde_json::from_str(&queued[0].body).unwrap();
    assert_eq!(change.record.id, DEAL);
    dom
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_parked_records_and_replays_one_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = seed(&data).await;
    let dom = the_console_replays_a_parked_record(
        Store::DataDir(&data),
        dir.path(),
        "console.png",
        &won_queue(&db),
        &db.parked_failures(),
    )
    .await;
    assert!(
        dom.contains("id=\"drift-none\""),
        "the drift section: {dom}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_over_dynamodb_shows_parked_records_and_replays_one_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let d = deploy(dir.path()).await;
    let dom = the_console_replays_a_parked_record(
        Store::Config(&d.config),
        dir.path(),
        "console-aws.png",
        &d.won,
        &d.parked,
    )
    .await;
    // The account-sync dead letter, with its replay button; the counts kept in CloudWatch are
    // said to be elsewhere, not shown as zeros.
    assert!(
        dom.contains("<input type=\"hidden\" name=\"flow\" value=\"account-sync\">"),
        "the dead letter's replay button: {dom}"
    );
    assert!(
        dom.contains("id=\"not-shown\"") && dom.contains("CloudWatch"),
        "{dom}"
    );
    assert!(dom.contains("id=\"drift-elsewhere\""), "{dom}");
}
