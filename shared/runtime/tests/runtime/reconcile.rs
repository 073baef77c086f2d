//! The revenue-reconciliation function's invocation over both Demo sandboxes: a scheduled run
//! reconciles the month before its time and writes the HTML and CSV report; a bad period fails
//! before anything is read or written.

use std::sync::{Arc, Mutex};

use chrono::{Datelike, Utc};
use lf_aws::ReportStoreError;
use lf_domain::SystemClock;
use lf_domain::port::IdempotencyConfig;
use lf_embedded::Database;
use lf_flows::{FlowPorts, RevenueReconciliation, RevenueReconciliationOptions};
use lf_intacct::{IntacctClient, IntacctConfig};
use lf_mapping::SpecBundle;
use lf_runtime::{ReconciliationFailed, ReportSink, reconciliation_invocation};
use lf_salesforce::{SalesforceClient, SalesforceConfig};
use lf_sandbox_intacct as ia;
use lf_sandbox_salesforce as sf;
use secrecy::SecretString;
use serde_json::json;

#[derive(Default)]
struct MemorySink {
    objects: Mutex<Vec<(String, Vec<u8>, String)>>,
}

impl ReportSink for MemorySink {
    async fn put(
        &self,
        name: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<String, ReportStoreError> {
        self.objects
            .lock()
            .unwrap()
            .push((name.to_owned(), body, content_type.to_owned()));
        Ok(format!("memory://{name}"))
    }
}

#[tokio::test]
async fn a_scheduled_run_reconciles_last_month_and_writes_the_report() {
    let org = sf::Sandbox::start(sf::SandboxConfig {
        seed: sf::DataSet::Demo,
        ..Default::default()
    })
    .await
    .unwrap();
    let company = ia::Sandbox::start(ia::SandboxConfig {
        seed: ia::DataSet::Demo,
        ..Default::default()
    })
    .await
    .unwrap();
    let c = org.credentials();
    let salesforce = SalesforceClient::new(SalesforceConfig::new(
        url::Url::parse(&org.base_url()).unwrap(),
        lf_salesforce::Credentials::ClientCredentials {
            consumer_key: c.consumer_key.clone(),
            consumer_secret: SecretString::from(c.consumer_secret.clone()),
        },
    ))
    .unwrap();
    let i = company.credentials();
    let intacct = IntacctClient::new(IntacctConfig::new(
        company.endpoint_url(),
        lf_intacct::Credentials {
            sender_id: i.sender_id.clone(),
            sender_password: SecretString::from(i.sender_password.clone()),
            company_id: i.company_id.clone(),
            user_id: i.user_id.clone(),
            user_password: SecretString::from(i.user_password.clone()),
        },
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("state.db"), Arc::new(SystemClock)).unwrap();
    let ports = FlowPorts {
        salesforce,
        intacct,
        xref: db.xref_store(),
        idempotency: db.idempotency_store(IdempotencyConfig::default()),
        state: db.sync_state(),
        audit: db.audit_log(),
        clock: Arc::new(SystemClock),
    };
    let specs = Arc::new(SpecBundle::shipped().compile().unwrap());
    let flow =
        RevenueReconciliation::new(ports, specs, RevenueReconciliationOptions::default()).unwrap();
    let sink = MemorySink::default();

    let bad = reconciliation_invocation(&flow, &sink, &json!({"period": "2026-00"}), Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(bad, ReconciliationFailed::Period(_)), "{bad}");
    assert!(sink.objects.lock().unwrap().is_empty(), "nothing written");

    // The schedule fires at the start of this month: it reconciles the previous one, where the
    // Demo company has recognized revenue in three entities.
    let today = Utc::now().date_naive();
    let first = today.with_day(1).unwrap();
    let last_month = lf_domain::port::Month::of(first).previous().to_string();
    let event = json!({
        "version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": format!("{first}T06:00:00Z"), "region": "eu-west-1",
        "resources": [], "detail": {}
    });
    let summary = reconciliation_invocation(&flow, &sink, &event, Utc::now())
        .await
        .expect("the scheduled run");
    assert_eq!(summary["period"], json!(last_month));
    assert!(summary["accounts"].as_u64().unwrap() >= 3, "{summary}");
    let objects = sink.objects.lock().unwrap();
    assert_eq!(objects.len(), 2);
    let (html_name, html, html_type) = &objects[0];
    assert_eq!(
        html_name,
        &format!("revenue-reconciliation/{last_month}/report.html")
    );
    assert_eq!(html_type, "text/html; charset=utf-8");
    let html = String::from_utf8(html.clone()).unwrap();
    assert!(html.contains(&format!("<span class=\"period\">{last_month}</span>")));
    assert!(html.contains("<svg id=\"chart\""));
    let (csv_name, csv, _) = &objects[1];
    assert!(csv_name.ends_with("/accounts.csv"));
    let csv = String::from_utf8(csv.clone()).unwrap();
    assert_eq!(
        csv.lines().count() as u64,
        summary["accounts"].as_u64().unwrap() + 1,
        "a header and one line per account"
    );
    assert_eq!(
        summary["report"]["html"],
        json!(format!("memory://{html_name}"))
    );
}
