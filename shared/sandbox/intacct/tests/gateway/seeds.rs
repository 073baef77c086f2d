//! The data sets: what the demo holds, and that the same clock gives the same company.

use std::sync::Arc;

use chrono::DateTime;
use lf_domain::ManualClock;
use lf_sandbox_intacct::{DataSet, SandboxConfig};

use crate::support::*;

async fn snapshot(seed: DataSet, at: &str) -> Vec<String> {
    let t = DateTime::parse_from_rfc3339(at).unwrap().to_utc();
    let sb = start(SandboxConfig {
        seed,
        clock: Arc::new(ManualClock::new(t)),
        ..Default::default()
    })
    .await;
    let top = Client::new(&sb);
    let mut out = Vec::new();
    for object in [
        "CUSTOMER",
        "ARINVOICE",
        "ARPYMT",
        "SODOCUMENT",
        "REVRECSCHEDULEENTRY",
        "EXCHANGERATEENTRY",
        "ITEM",
        "CONTACT",
    ] {
        let d = top
            .one(&format!("<query><object>{object}</object><select><field>RECORDNO</field><field>WHENMODIFIED</field><field>MEGAENTITYID</field></select><options><showprivate>true</showprivate></options><pagesize>2000</pagesize></query>"))
            .await;
        let mut s = String::new();
        d.write(false, &mut s);
        out.push(s);
    }
    let d = top
        .one("<readByQuery><object>ARINVOICE</object><fields>*</fields></readByQuery>")
        .await;
    let mut s = String::new();
    d.write(false, &mut s);
    out.push(s);
    sb.shutdown().await;
    out
}

#[tokio::test]
async fn the_same_clock_gives_the_same_company() {
    let a = snapshot(DataSet::Demo, "2025-03-14T10:00:00Z").await;
    assert_eq!(a, snapshot(DataSet::Demo, "2025-03-14T10:00:00Z").await);
    assert_ne!(a, snapshot(DataSet::Demo, "2025-04-14T10:00:00Z").await);
    assert_ne!(a, snapshot(DataSet::Empty, "2025-03-14T10:00:00Z").await);
}

#[tokio::test]
async fn the_demo_company_has_what_the_flows_need() {
    let t = DateTime::parse_from_rfc3339("2025-03-14T10:00:00Z")
        .unwrap()
        .to_utc();
    let sb = start(SandboxConfig {
        seed: DataSet::Demo,
        clock: Arc::new(ManualClock::new(t)),
        ..Default::default()
    })
    .await;
    assert_eq!(sb.entities().len(), 4);
    let currencies: std::collections::BTreeSet<String> =
        sb.entities().into_iter().map(|e| e.currency).collect();
    assert!(currencies.len() >= 2);
    assert_eq!(sb.count_where("CUSTOMER", "ONHOLD", "true"), 1);
    assert_eq!(sb.record_count("ARINVOICE"), 10);
    assert_eq!(sb.record_count("ARPYMT"), 3);
    // The whole-table view holds every record, flattened like `find`.
    let customers = sb.records("customer");
    assert_eq!(customers.len(), sb.record_count("CUSTOMER"));
    assert_eq!(
        customers
            .iter()
            .filter(|c| c.get("ONHOLD").map(String::as_str) == Some("true"))
            .count(),
        1
    );
    assert!(customers.iter().any(|c| c["CUSTOMERID"] == "C-1001"));
    assert_eq!(sb.count_where("ARINVOICE", "STATE", "Paid"), 2);
    assert_eq!(sb.count_where("ARINVOICE", "STATE", "Partially Paid"), 1);
    let top = Client::new(&sb);
    let overdue = top
        .one("<query><object>ARINVOICE</object><select><field>RECORDID</field></select><filter><and>\
              <lessthan><field>WHENDUE</field><value>03/14/2025</value></lessthan><greaterthan><field>TOTALDUE</field><value>0</value></greaterthan>\
              </and></filter><options><showprivate>true</showprivate></options></query>")
        .await;
    assert_eq!(
        overdue.attr("count"),
        Some("4"),
        "INV-10003, -10004, -10005, -30002"
    );
    let posted = top
        .one("<query><object>REVRECSCHEDULEENTRY</object><select><field>PERIOD</field><sum>AMOUNT</sum></select>\
              <filter><equalto><field>POSTED</field><value>true</value></equalto></filter>\
              <orderby><order><field>PERIOD</field></order></orderby><options><showprivate>true</showprivate></options></query>")
        .await;
    let periods: Vec<&str> = posted.children.iter().map(|r| r.value("PERIOD")).collect();
    assert_eq!(
        periods,
        vec!["2024-12", "2025-01", "2025-02"],
        "recognized periods before today"
    );
    assert_eq!(flat(&posted.children[0], "SUM.AMOUNT"), "1000.00");
    assert_eq!(
        sb.find("CUSTOMER", "CUSTOMERID", "C-1001")[0]["SFDC_ACCOUNT_ID"],
        lf_sandbox_intacct::demo_account_id(2)
    );
    assert_eq!(
        sb.find("CUSTOMER", "CUSTOMERID", "C-1001")[0]["TOTALDUE"],
        "17000.00"
    );
    sb.shutdown().await;
}
