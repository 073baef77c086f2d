//! `ledgerforce doctor` and `ledgerforce reconcile` as an operator runs them: the real binary
//! with a config file, against both sandboxes started in this process on free loopback ports.

// clippy.toml allows these in #[test] functions; the helpers here are test code too, and a
// failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::Datelike;
use lf_sandbox_intacct as intacct;
use lf_sandbox_salesforce as salesforce;
use serde_json::{Value, json};

/// Both sandboxes with the demo data.
struct Sandboxes {
    salesforce: salesforce::Sandbox,
    intacct: intacct::Sandbox,
}

async fn sandboxes() -> Sandboxes {
    let salesforce = salesforce::Sandbox::start(salesforce::SandboxConfig {
        seed: salesforce::DataSet::Demo,
        ..Default::default()
    })
    .await
    .unwrap();
    let intacct = intacct::Sandbox::start(intacct::SandboxConfig {
        seed: intacct::DataSet::Demo,
        ..Default::default()
    })
    .await
    .unwrap();
    Sandboxes {
        salesforce,
        intacct,
    }
}

/// The shipped mapping specs.
fn mappings() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../mappings")
}

/// A config file for `sandboxes` in `dir`: the JWT key in a file, the Intacct passwords in
/// variables (set by [`ledgerforce`]), the store in `dir/data`.
fn write_config(dir: &Path, s: &Sandboxes, mappings: &Path) -> PathBuf {
    let key = dir.join("jwt-key.pem");
    std::fs::write(&key, &s.salesforce.credentials().private_key_pem).unwrap();
    let sf = s.salesforce.credentials();
    let ia = s.intacct.credentials();
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

[webhooks]
salesforce_url = "https://hooks.example.com/salesforce"
intacct_url = "https://hooks.example.com/intacct"
"#,
        login = s.salesforce.base_url(),
        consumer_key = sf.consumer_key,
        username = sf.username,
        key = key.display(),
        endpoint = s.intacct.endpoint_url(),
        sender_id = ia.sender_id,
        company_id = ia.company_id,
        user_id = ia.user_id,
        data = dir.join("data").display(),
        mappings = mappings.display(),
    );
    let path = dir.join("ledgerforce.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the binary with `args` (off the async runtime, so the sandboxes keep serving).
async fn ledgerforce(s: &Sandboxes, args: Vec<String>) -> Output {
    let ia = s.intacct.credentials();
    let (sender, user) = (ia.sender_password.clone(), ia.user_password.clone());
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_ledgerforce"))
            .args(&args)
            .env("TEST_INTACCT_SENDER_PASSWORD", sender)
            .env("TEST_INTACCT_USER_PASSWORD", user)
            .env_remove("RUST_LOG")
            .output()
            .expect("ledgerforce runs")
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// `doctor --json` and its checklist.
async fn doctor(s: &Sandboxes, config: &Path) -> (Output, Vec<Value>) {
    let out = ledgerforce(
        s,
        args(&["--config", config.to_str().unwrap(), "doctor", "--json"]),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "doctor prints JSON ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(json["ok"], Value::Bool(out.status.success()), "{json}");
    (out, json["checks"].as_array().unwrap().clone())
}

fn check<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("a check named {name:?} in {checks:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_against_the_sandboxes() {
    let s = sandboxes().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s, &mappings());
    let (out, checks) = doctor(&s, &config).await;
    let failed: Vec<&Value> = checks.iter().filter(|c| c["status"] == "fail").collect();
    assert!(failed.is_empty(), "no failure: {failed:#?}");
    assert!(out.status.success());
    for name in [
        "config",
        "mappings",
        "salesforce login",
        "intacct login",
        "salesforce object Account",
        "salesforce object Opportunity",
        "intacct object CUSTOMER",
        "mapped fields",
    ] {
        assert_eq!(check(&checks, name)["status"], "ok", "{name}: {checks:#?}");
    }
    // Every entity the specs route to opened a session.
    let entities: Vec<&Value> = checks
        .iter()
        .filter(|c| c["check"].as_str().unwrap().starts_with("intacct entity "))
        .collect();
    assert!(!entities.is_empty(), "{checks:#?}");
    assert!(
        entities.iter().all(|c| c["status"] == "ok"),
        "{entities:#?}"
    );
    // The sandbox serves no Tooling API, and no Intacct API reads Smart Events: said so,
    // with what to look at instead.
    let outbound = check(&checks, "salesforce outbound messages");
    assert_eq!(outbound["status"], "not_checkable", "{outbound}");
    assert!(
        outbound["fix"]
            .as_str()
            .unwrap()
            .contains("https://hooks.example.com/salesforce"),
        "{outbound}"
    );
    assert_eq!(
        check(&checks, "intacct smart events")["status"],
        "not_checkable"
    );
    // The text checklist says the same.
    let text = ledgerforce(&s, args(&["--config", config.to_str().unwrap(), "doctor"])).await;
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(text.status.success(), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    assert!(!stdout.contains("sandbox-user-pw"), "no secret printed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_flow_path_once_a_ledgerforce_flow_is_active() {
    let s = sandboxes().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s, &mappings());
    let status = |checks: &[Value]| {
        let c = check(checks, "salesforce flow callouts").clone();
        (c["status"].as_str().unwrap().to_owned(), c)
    };

    // Deployed as shipped: the Flows inactive, the Named Credential at its placeholder URL.
    let mut flows = Vec::new();
    for api in [
        "Ledgerforce_Account_Changed",
        "Ledgerforce_Contact_Changed",
        "Ledgerforce_Opportunity_Closed_Won",
    ] {
        flows.push(
            s.salesforce
                .insert(
                    "FlowDefinitionView",
                    json!({"ApiName": api, "Label": api, "IsActive": false,
                           "ProcessType": "AutoLaunchedFlow", "TriggerType": "RecordAfterSave"}),
                )
                .unwrap(),
        );
    }
    let credential = s
        .salesforce
        .insert(
            "NamedCredential",
            json!({"DeveloperName": "Ledgerforce_Webhook", "MasterLabel": "Ledgerforce Webhook",
                   "Endpoint": "https://ledgerforce.example.invalid/salesforce"}),
        )
        .unwrap();
    let (_, checks) = doctor(&s, &config).await;
    let (st, c) = status(&checks);
    assert_eq!(st, "ok", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("no Ledgerforce Flow is active (3 deployed)"),
        "{c}"
    );

    // One Flow activated with the placeholder URL left: fails, naming the stack's URL.
    s.salesforce
        .update(&flows[2], json!({"IsActive": true}))
        .unwrap();
    let (out, checks) = doctor(&s, &config).await;
    assert!(!out.status.success());
    let (st, c) = status(&checks);
    assert_eq!(st, "fail", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("ledgerforce.example.invalid"),
        "{c}"
    );
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .contains("https://hooks.example.com/salesforce"),
        "{c}"
    );

    // The URL set, the key not yet: every callout would be refused.
    s.salesforce
        .update(
            &credential,
            json!({"Endpoint": "https://hooks.example.com/salesforce/"}),
        )
        .unwrap();
    let (_, checks) = doctor(&s, &config).await;
    let (st, c) = status(&checks);
    assert_eq!(st, "fail", "{c}");
    assert!(
        c["detail"].as_str().unwrap().contains("no signing key"),
        "{c}"
    );
    assert!(
        c["fix"].as_str().unwrap().contains("Ledgerforce Settings"),
        "{c}"
    );

    // The key set in the org default: ok, and its value is not in the report.
    let key = "k-3f9a0c5e1d7b";
    s.salesforce
        .insert(
            "Ledgerforce_Settings__c",
            json!({"Name": "default", "Signing_Key__c": key}),
        )
        .unwrap();
    let (out, checks) = doctor(&s, &config).await;
    let (st, c) = status(&checks);
    assert_eq!(st, "ok", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("Ledgerforce_Opportunity_Closed_Won"),
        "{c}"
    );
    assert!(out.status.success(), "{checks:#?}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(key),
        "the key is never printed"
    );

    // The Named Credential gone: says to deploy it.
    s.salesforce.delete(&credential).unwrap();
    let (_, checks) = doctor(&s, &config).await;
    let (st, c) = status(&checks);
    assert_eq!(st, "fail", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("no Named Credential"),
        "{c}"
    );
}

/// Copies a spec folder.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_a_mapped_field_the_org_lacks_with_its_fix() {
    let s = sandboxes().await;
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("mappings");
    copy_dir(&mappings(), &specs);
    let library = specs.join("library/salesforce.yaml");
    let text = std::fs::read_to_string(&library).unwrap();
    let anchor = "      AccountNumber: string(40)\n";
    assert!(text.contains(anchor));
    let edited = text.replacen(
        anchor,
        &format!("{anchor}      Region_Code__c: string(10)\n"),
        1,
    );
    std::fs::write(&library, edited).unwrap();
    let config = write_config(dir.path(), &s, &specs);

    let (out, checks) = doctor(&s, &config).await;
    assert!(!out.status.success(), "a failure exits non-zero");
    let field = check(&checks, "mapped field Account.Region_Code__c");
    assert_eq!(field["status"], "fail", "{field}");
    assert!(
        field["detail"]
            .as_str()
            .unwrap()
            .contains("Account has no field `Region_Code__c`"),
        "{field}"
    );
    let fix = field["fix"].as_str().unwrap();
    assert!(
        fix.starts_with("create the field Region_Code__c on Account in the org")
            && fix.contains("infra/salesforce")
            && fix.contains("library/salesforce.yaml:"),
        "{fix}"
    );
    // Only that one failed; the logins and the other objects still check out.
    let failed: Vec<&Value> = checks.iter().filter(|c| c["status"] == "fail").collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(check(&checks, "salesforce login")["status"], "ok");
}

/// `text` with its first `from` replaced by `to` (which must be there).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} is in the spec");
    text.replacen(from, to, 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_fails_a_mapped_field_of_the_wrong_type_or_too_short_and_lists_live_types() {
    let s = sandboxes().await;
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("mappings");
    copy_dir(&mappings(), &specs);
    // The specs now declare more than the org's Account.AccountNumber (text, 40) holds, a
    // yes/no where the org keeps a date and time, and text where the company keeps a decimal.
    let library = specs.join("library/salesforce.yaml");
    let text = std::fs::read_to_string(&library).unwrap();
    let text = edit(
        &text,
        "      AccountNumber: string(40)\n",
        "      AccountNumber: string(80)\n",
    );
    let text = edit(
        &text,
        "      Intacct_Last_Synced__c: datetime\n",
        "      Intacct_Last_Synced__c: bool\n",
    );
    std::fs::write(&library, text).unwrap();
    let library = specs.join("library/intacct.yaml");
    let text = std::fs::read_to_string(&library).unwrap();
    let text = edit(
        &text,
        "      CREDITLIMIT: decimal\n",
        "      CREDITLIMIT: string(20)\n",
    );
    std::fs::write(&library, text).unwrap();
    let config = write_config(dir.path(), &s, &specs);

    let (out, checks) = doctor(&s, &config).await;
    assert!(!out.status.success(), "a failure exits non-zero");
    let mut failed: Vec<&str> = checks
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    failed.sort_unstable();
    assert_eq!(
        failed,
        [
            "mapped field Account.AccountNumber",
            "mapped field Account.Intacct_Last_Synced__c",
            "mapped field CUSTOMER.CREDITLIMIT",
        ],
        "{checks:#?}"
    );
    let short = check(&checks, "mapped field Account.AccountNumber");
    assert_eq!(
        short["detail"],
        "declared as string(80), but Account.AccountNumber holds at most 40 characters",
        "{short}"
    );
    let synced = check(&checks, "mapped field Account.Intacct_Last_Synced__c");
    assert_eq!(
        synced["detail"],
        "declared as bool, but Account.Intacct_Last_Synced__c is a datetime field",
        "{synced}"
    );
    let fix = synced["fix"].as_str().unwrap();
    assert!(
        fix.contains("with the type the system has (datetime)")
            && fix.contains("library/salesforce.yaml:"),
        "{fix}"
    );
    let limit = check(&checks, "mapped field CUSTOMER.CREDITLIMIT");
    assert_eq!(
        limit["detail"], "declared as string(20), but CUSTOMER.CREDITLIMIT is a DECIMAL field",
        "{limit}"
    );

    // Each object's other mapped fields, with the type and length the systems report.
    let account = check(&checks, "mapped fields of Account");
    assert_eq!(account["status"], "ok", "{account}");
    let listed = account["detail"].as_str().unwrap();
    assert!(
        listed.contains("Name string(255)")
            && listed.contains("NumberOfEmployees int")
            && listed.contains("Intacct_Balance__c currency"),
        "{listed}"
    );
    assert!(
        !listed.contains("AccountNumber"),
        "failed fields are not listed as fine: {listed}"
    );
    let customer = check(&checks, "mapped fields of CUSTOMER");
    let listed = customer["detail"].as_str().unwrap();
    assert!(
        listed.contains("CUSTOMERID TEXT") && listed.contains("ONHOLD BOOLEAN"),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_config_errors_and_bad_credentials() {
    let s = sandboxes().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s, &mappings());

    // An inline secret: refused, named, not shown.
    let text = std::fs::read_to_string(&config).unwrap();
    let inline = dir.path().join("inline.toml");
    std::fs::write(
        &inline,
        text.replace("env:TEST_INTACCT_USER_PASSWORD", "sandbox-user-pw"),
    )
    .unwrap();
    let (out, checks) = doctor(&s, &inline).await;
    assert!(!out.status.success());
    let c = check(&checks, "config intacct.user_password");
    assert_eq!(c["status"], "fail");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("only accepted as a reference")
    );
    let all =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!all.contains("sandbox-user-pw"), "{all}");

    // A wrong password: the Intacct login fails with its fix; Salesforce still checks.
    let wrong = dir.path().join("wrong.toml");
    std::fs::write(
        &wrong,
        text.replace(
            "env:TEST_INTACCT_USER_PASSWORD",
            "env:TEST_INTACCT_SENDER_PASSWORD",
        ),
    )
    .unwrap();
    let (out, checks) = doctor(&s, &wrong).await;
    assert!(!out.status.success());
    let login = check(&checks, "intacct login");
    assert_eq!(login["status"], "fail", "{login}");
    assert!(
        login["fix"]
            .as_str()
            .unwrap()
            .contains("intacct.company_id/user_id/user_password")
    );
    assert_eq!(check(&checks, "salesforce login")["status"], "ok");
    assert_eq!(check(&checks, "salesforce object Account")["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_writes_the_report_and_prints_the_summary() {
    let s = sandboxes().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s, &mappings());
    let config = config.to_str().unwrap().to_owned();

    // No store yet: the error names the key and what to do.
    let out = ledgerforce(
        &s,
        args(&["--config", &config, "reconcile", "--period", "2026-01"]),
    )
    .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("store.data_dir: no embedded store"),
        "{stderr}"
    );
    let out = ledgerforce(
        &s,
        args(&["--config", &config, "reconcile", "--period", "2026-13"]),
    )
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a month"));

    // A store as `ledgerforce local` leaves it.
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("ledgerforce.db");
    lf_embedded::Database::open(db, std::sync::Arc::new(lf_domain::SystemClock)).unwrap();

    // Last month holds posted revenue schedule entries in the demo company.
    let period = {
        let first = chrono::Utc::now().date_naive().with_day(1).unwrap();
        (first - chrono::Duration::days(1))
            .format("%Y-%m")
            .to_string()
    };
    let report = dir.path().join("out/revenue.html");
    let out = ledgerforce(
        &s,
        args(&[
            "--config",
            &config,
            "reconcile",
            "--period",
            &period,
            "--report",
            report.to_str().unwrap(),
            "--json",
        ]),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["period"], period.as_str());
    let accounts = summary["accounts"].as_u64().unwrap();
    assert!(accounts > 0, "{summary}");
    assert_eq!(
        summary["written"]["reconciliations"].as_u64(),
        Some(accounts)
    );
    assert_eq!(summary["report"]["html"], report.to_str().unwrap());
    let csv_path = dir.path().join("out/revenue.csv");
    assert_eq!(summary["report"]["csv"], csv_path.to_str().unwrap());
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<svg") && html.contains(&period), "{html}");
    // The CSV holds a header and one line per account row.
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    assert_eq!(csv.lines().count() as u64, accounts + 1, "{csv}");
    // What was written is in the org: one reconciliation record per account.
    assert_eq!(
        s.salesforce.records("Revenue_Reconciliation__c").len() as u64,
        accounts
    );

    // The text summary, to the default place under the data folder.
    let out = ledgerforce(
        &s,
        args(&["--config", &config, "reconcile", "--period", &period]),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.starts_with(&format!("revenue reconciliation {period}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("accounts               {accounts}")),
        "{stdout}"
    );
    // Nothing changed since the first run, so nothing is written again.
    assert!(
        stdout.contains("  written                reconciliations 0, opportunities 0\n"),
        "{stdout}"
    );
    let default = data.join(format!(
        "reports/revenue-reconciliation/{period}/report.html"
    ));
    assert!(default.is_file(), "{stdout}");
    // Run twice, still one record per account.
    assert_eq!(
        s.salesforce.records("Revenue_Reconciliation__c").len() as u64,
        accounts
    );
}

/// The moto endpoint `tests/run` starts (`LEDGERFORCE_MOTO_ENDPOINT`).
fn moto() -> String {
    match std::env::var("LEDGERFORCE_MOTO_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "LEDGERFORCE_MOTO_ENDPOINT is not set: run `tests/run` (it starts moto), or start \
             `moto_server -H 127.0.0.1 -p PORT` and export LEDGERFORCE_MOTO_ENDPOINT=http://127.0.0.1:PORT"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_manager_references_resolve_by_arn_and_json_key() {
    let endpoint = moto();
    let s = sandboxes().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s, &mappings());

    // The Intacct passwords in one JSON secret, as a deployment keeps them.
    let sdk = lf_aws::load_sdk_config(&lf_aws::AwsSettings::local(&endpoint)).await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let ia = s.intacct.credentials();
    let name = format!("ledgerforce/doctor-{}", std::process::id());
    let created = client
        .create_secret()
        .name(&name)
        .secret_string(
            serde_json::json!({
                "sender_password": ia.sender_password,
                "user_password": ia.user_password,
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap().to_owned();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(
            "env:TEST_INTACCT_SENDER_PASSWORD",
            &format!("{arn}#sender_password"),
        )
        .replace(
            "env:TEST_INTACCT_USER_PASSWORD",
            &format!("{arn}#user_password"),
        );
    // The store is embedded: Secrets Manager is reached through the SDK's own environment.
    fn with_aws(endpoint: &str, path: &Path, text: &str) -> (Output, Vec<Value>) {
        std::fs::write(path, text).unwrap();
        let args = ["--config", path.to_str().unwrap(), "doctor", "--json"];
        let out = Command::new(env!("CARGO_BIN_EXE_ledgerforce"))
            .args(args)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("TEST_INTACCT_SENDER_PASSWORD")
            .env_remove("TEST_INTACCT_USER_PASSWORD")
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out, json["checks"].as_array().unwrap().clone())
    }
    let arn_config = dir.path().join("arn.toml");
    let (out, checks) = {
        let (e, p, t) = (endpoint.clone(), arn_config.clone(), text.clone());
        tokio::task::spawn_blocking(move || with_aws(&e, &p, &t))
            .await
            .unwrap()
    };
    assert_eq!(
        check(&checks, "intacct login")["status"],
        "ok",
        "{checks:#?}"
    );
    assert!(out.status.success(), "{checks:#?}");

    // A key the secret lacks: named with the secret, no value shown.
    let missing = text.replace("#user_password", "#password");
    let (out, checks) = {
        let (e, p) = (endpoint.clone(), dir.path().join("missing.toml"));
        tokio::task::spawn_blocking(move || with_aws(&e, &p, &missing))
            .await
            .unwrap()
    };
    assert!(!out.status.success());
    let login = check(&checks, "intacct login");
    assert_eq!(login["status"], "fail", "{login}");
    let detail = login["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("intacct.user_password: secret arn:aws:secretsmanager:")
            && detail.contains("has no field \"password\""),
        "{detail}"
    );
    let all = String::from_utf8_lossy(&out.stdout);
    assert!(!all.contains(&ia.user_password) && !all.contains(&ia.sender_password));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_reports_a_pair_edited_out_of_band_and_repair_brings_it_back() {
    use lf_domain::port::{LinkKind, XrefLink, XrefStore};
    let s = sandboxes().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &s, &mappings());
    // The store of an earlier `local` run, holding one link: demo Account 1 ⇄ C-0001.
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let account = intacct::demo_account_id(1);
    {
        let db = lf_embedded::Database::open(
            dir.path().join("data").join("ledgerforce.db"),
            std::sync::Arc::new(lf_domain::SystemClock),
        )
        .unwrap();
        db.xref_store()
            .link(&XrefLink {
                kind: LinkKind::AccountCustomer,
                salesforce: lf_domain::SalesforceId::parse(&account).unwrap(),
                intacct: lf_domain::IntacctRef::new(
                    None,
                    lf_domain::IntacctKey::parse("C-0001").unwrap(),
                ),
                linked_at: chrono::Utc::now(),
            })
            .await
            .unwrap();
    }
    let limit = s.intacct.find("CUSTOMER", "CUSTOMERID", "C-0001")[0]["CREDITLIMIT"].clone();
    // Out of band: the credit limit (Intacct owns it) edited on the Account.
    s.salesforce
        .update(
            &account,
            serde_json::json!({"Intacct_Credit_Limit__c": 1.0}),
        )
        .unwrap();
    let config = config.to_str().unwrap();

    let out = ledgerforce(&s, args(&["--config", config, "drift", "--json"])).await;
    assert_eq!(out.status.code(), Some(1), "drift left exits 1: {out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["checked"], 1, "{report}");
    let fields = report["drifted"][0]["fields"].as_array().unwrap();
    let limit_field = fields
        .iter()
        .find(|f| f["field"] == "Intacct_Credit_Limit__c")
        .unwrap_or_else(|| panic!("the credit limit drifted: {report}"));
    assert_eq!(limit_field["owner"], "intacct", "{report}");
    assert_eq!(limit_field["target"], "salesforce", "{report}");

    let out = ledgerforce(&s, args(&["--config", config, "drift", "--repair"])).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{out:?}");
    assert!(text.contains("1 repaired"), "{text}");
    let now = s.salesforce.record(&account).unwrap()["Intacct_Credit_Limit__c"].clone();
    assert_eq!(
        now.as_f64(),
        limit.parse::<f64>().ok(),
        "the Account has Intacct's limit again"
    );

    let out = ledgerforce(&s, args(&["--config", config, "drift"])).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 agree"),
        "{out:?}"
    );

    let out = ledgerforce(
        &s,
        args(&["--config", config, "drift", "--object", "Opportunity"]),
    )
    .await;
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not `Opportunity`"),
        "{out:?}"
    );
}
