//! The invoice-status binary under the Lambda Runtime API (the emulator of `lf-testkit`),
//! against DynamoDB and SQS on moto and both Demo sandboxes: an SQS batch of 10 with invoice
//! and payment changes to sum up onto their Accounts, one another delivery is working on, and a body that is
//! no change envelope.
//!
//! Needs `LEDGERFORCE_MOTO_ENDPOINT` (`tests/run` starts moto).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{NaiveTime, Utc};
use lf_domain::{Flow, IntacctKey, IntacctRef, RecordRef};
use lf_sandbox_intacct as ia;
use lf_sandbox_salesforce as sf;
use lf_testkit::deployment::{linked_receivables, sandboxes_with, stamp, wired};
use lf_testkit::lambda::{FLOW_BATCH, run_idempotent_flow_batch};
use serde_json::Value;

const FLOW: Flow = Flow::InvoiceStatus;

/// The RECORDNO and WHENMODIFIED of the Demo invoice `number`.
fn invoice(company: &ia::Sandbox, number: &str) -> (RecordRef, String) {
    let found = company.find("ARINVOICE", "RECORDID", number);
    let record = found.first().expect("a Demo invoice");
    let key = IntacctKey::parse(&record["RECORDNO"]).unwrap();
    (
        RecordRef::intacct("ARINVOICE", &IntacctRef::new(None, key)),
        record["WHENMODIFIED"].clone(),
    )
}

/// The Salesforce Account linked to the Demo customer `id`.
fn account_of(company: &ia::Sandbox, id: &str) -> String {
    company.find("CUSTOMER", "CUSTOMERID", id)[0]["SFDC_ACCOUNT_ID"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqs_batch_is_answered_with_exactly_the_message_to_redeliver() {
    let (salesforce, intacct) = sandboxes_with(sf::DataSet::Demo).await;
    let mut d = wired(&salesforce, &intacct).await;
    d.queue(FLOW).await;
    // C-1002 owes 4,500 on INV-10003 and 4,000 of 6,000 on INV-10004.
    let (summed, _) = invoice(&intacct, "INV-10003");
    let (busy, modified) = invoice(&intacct, "INV-20001");
    let account = account_of(&intacct, "C-1002");
    let busy_account = account_of(&intacct, "C-2001");
    let balance = |id: &str| {
        salesforce
            .record(id)
            .unwrap()
            .get("Intacct_Balance__c")
            .cloned()
            .unwrap_or(Value::Null)
    };
    let busy_before = balance(&busy_account);

    // Another delivery of INV-20001's change is in progress. The flow keys an AR change by
    // its WHENMODIFIED, but no earlier than the start of the day (overdue is as of today).
    let day = Utc::now().date_naive().and_time(NaiveTime::MIN).and_utc();
    d.hold_change(FLOW, &busy, stamp(&modified).max(day)).await;
    // The rest of the batch of 10: the other receivables of linked customers.
    let mut good = linked_receivables(&intacct, &[&summed, &busy], FLOW_BATCH - 3);
    good.insert(0, summed);
    run_idempotent_flow_batch(&d, env!("CARGO_BIN_EXE_invoice-status"), FLOW, good, busy).await;
    assert_eq!(balance(&account).as_f64(), Some(8500.0));
    assert_eq!(
        balance(&busy_account),
        busy_before,
        "left to the delivery holding it"
    );
}
