//! invoice-status end to end: invoices and payments made through the Intacct XML API, the
//! flow run through the batch runner, the Account and Opportunity read back from the org.

use lf_domain::Flow;
use serde_json::{Value, json};

use crate::support::{World, day, intacct_message, text};

const FLOW: Flow = Flow::InvoiceStatus;

fn number(record: &serde_json::Map<String, Value>, field: &str) -> Option<f64> {
    record.get(field).and_then(Value::as_f64)
}

/// A Closed Won Opportunity of `account`.
fn deal(w: &World, account: &str) -> String {
    w.org
        .insert(
            "Opportunity",
            json!({"Name": "Harbor renewal", "AccountId": account, "StageName": "Closed Won",
                   "CloseDate": day(0).to_string(), "CurrencyIsoCode": "USD"}),
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_move_an_invoice_from_open_to_partially_paid_to_paid() {
    let w = World::start().await;
    let account = w.linked_customer("Harbor Supply Co", "C-9001", "0").await;
    let opp = deal(&w, &account);
    let inv = w.invoice("C-9001", Some(&opp), "1000.00", day(30)).await;
    let handler = w.invoice_status();

    let report = w
        .run(&handler, &[intacct_message(FLOW, "ARINVOICE", &inv, 0)])
        .await;
    assert_eq!(report.counts.done, 1, "{report:?}");
    let a = w.record(&account);
    assert_eq!(text(&a, "Intacct_Customer_ID__c"), "C-9001");
    assert_eq!(number(&a, "Intacct_Balance__c"), Some(1000.0));
    assert_eq!(number(&a, "Intacct_Overdue_Balance__c"), Some(0.0));
    assert_eq!(text(&a, "Intacct_Invoice_Status__c"), "Open");
    assert!(
        a.get("Intacct_Last_Payment_Date__c")
            .is_none_or(Value::is_null)
    );
    assert_eq!(number(&a, "Intacct_Lifetime_Value__c"), Some(0.0));
    assert_eq!(text(&w.record(&opp), "Intacct_Invoice_Status__c"), "Open");

    // 400 paid: partially paid. The payment and the invoice it touched both notify.
    let p1 = w.pay("C-9001", &inv, "400").await;
    let report = w
        .run(
            &handler,
            &[
                intacct_message(FLOW, "ARPYMT", &p1, 1),
                intacct_message(FLOW, "ARINVOICE", &inv, 2),
            ],
        )
        .await;
    assert_eq!(report.counts.done, 2, "{report:?}");
    let a = w.record(&account);
    assert_eq!(number(&a, "Intacct_Balance__c"), Some(600.0));
    assert_eq!(number(&a, "Intacct_Overdue_Balance__c"), Some(0.0));
    assert_eq!(text(&a, "Intacct_Invoice_Status__c"), "Partially Paid");
    assert_eq!(text(&a, "Intacct_Last_Payment_Date__c"), day(0).to_string());
    assert_eq!(number(&a, "Intacct_Last_Payment_Amount__c"), Some(400.0));
    assert_eq!(number(&a, "Intacct_Lifetime_Value__c"), Some(400.0));
    assert_eq!(
        text(&w.record(&opp), "Intacct_Invoice_Status__c"),
        "Partially Paid"
    );

    // The remaining 600: paid.
    let p2 = w.pay("C-9001", &inv, "600").await;
    let report = w
        .run(
            &handler,
            &[
                intacct_message(FLOW, "ARINVOICE", &inv, 3),
                intacct_message(FLOW, "ARPYMT", &p2, 4),
            ],
        )
        .await;
    assert_eq!(report.counts.done, 2, "{report:?}");
    let a = w.record(&account);
    assert_eq!(number(&a, "Intacct_Balance__c"), Some(0.0));
    assert_eq!(number(&a, "Intacct_Overdue_Balance__c"), Some(0.0));
    assert_eq!(text(&a, "Intacct_Invoice_Status__c"), "Paid");
    assert_eq!(number(&a, "Intacct_Last_Payment_Amount__c"), Some(600.0));
    assert_eq!(number(&a, "Intacct_Lifetime_Value__c"), Some(1000.0));
    assert_eq!(text(&w.record(&opp), "Intacct_Invoice_Status__c"), "Paid");
    assert_eq!(text(&a, "Intacct_Sync_Status__c"), "Synced");

    // A second delivery of the same, unchanged state writes nothing: the same messages are
    // answered by idempotency, and a change event never seen before (the customer's) finds
    // every field already right — one Account read, no write.
    let stamp = text(&w.record(&account), "SystemModstamp");
    let opp_stamp = text(&w.record(&opp), "SystemModstamp");
    let calls = w.org.api_calls();
    let again = w
        .run(
            &handler,
            &[
                intacct_message(FLOW, "ARINVOICE", &inv, 5),
                intacct_message(FLOW, "ARPYMT", &p2, 6),
                intacct_message(FLOW, "CUSTOMER", "C-9001", 7),
            ],
        )
        .await;
    assert_eq!(again.counts.done, 3, "{again:?}");
    assert_eq!(w.org.api_calls() - calls, 1, "one Account read, no write");
    assert_eq!(text(&w.record(&account), "SystemModstamp"), stamp);
    assert_eq!(text(&w.record(&opp), "SystemModstamp"), opp_stamp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_invoice_gives_one_task_however_often_its_event_arrives() {
    let w = World::start().await;
    let account = w.linked_customer("Late Payer LLC", "C-9002", "0").await;
    let inv = w.invoice("C-9002", None, "500.00", day(-5)).await;
    let handler = w.invoice_status();
    let tasks_of = |w: &World| {
        w.tasks_keyed("invoice-overdue:")
            .into_iter()
            .filter(|t| text(t, "WhatId") == account)
            .collect::<Vec<_>>()
    };

    // Three deliveries in one batch.
    let thrice: Vec<_> = (0..3)
        .map(|n| intacct_message(FLOW, "ARINVOICE", &inv, n))
        .collect();
    let report = w.run(&handler, &thrice).await;
    assert_eq!(report.counts.done, 3, "{report:?}");
    assert_eq!(tasks_of(&w).len(), 1);
    let a = w.record(&account);
    assert_eq!(text(&a, "Intacct_Invoice_Status__c"), "Overdue");
    assert_eq!(number(&a, "Intacct_Overdue_Balance__c"), Some(500.0));

    // Three more in separate batches, one with a change to the invoice (a partial payment:
    // still overdue, and a payment event the flow has not seen, so it plans the customer
    // again).
    w.run(&handler, &[intacct_message(FLOW, "ARINVOICE", &inv, 3)])
        .await;
    let pay = w.pay("C-9002", &inv, "100").await;
    let calls = w.org.api_calls();
    let report = w
        .run(
            &handler,
            &[
                intacct_message(FLOW, "ARPYMT", &pay, 4),
                intacct_message(FLOW, "ARINVOICE", &inv, 4),
            ],
        )
        .await;
    assert_eq!(report.counts.done, 2, "{report:?}");
    assert_eq!(
        w.org.api_calls() - calls,
        2,
        "an Account read and the balance write; the Task is not asked for again"
    );
    w.run(&handler, &[intacct_message(FLOW, "ARINVOICE", &inv, 5)])
        .await;
    let tasks = tasks_of(&w);
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert!(text(&tasks[0], "Subject").contains("Late Payer LLC"));
    assert_eq!(
        number(&w.record(&account), "Intacct_Overdue_Balance__c"),
        Some(400.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_changes_costs_a_bounded_number_of_calls() {
    let w = World::start().await;
    let mut messages = Vec::new();
    let mut accounts = Vec::new();
    for i in 0..6 {
        let id = format!("C-95{i:02}");
        let account = w
            .linked_customer(&format!("Batch Customer {i}"), &id, "0")
            .await;
        let inv = w.invoice(&id, None, "250.00", day(20)).await;
        let pay = w.pay(&id, &inv, "50").await;
        messages.push(intacct_message(FLOW, "ARINVOICE", &inv, messages.len()));
        messages.push(intacct_message(FLOW, "ARPYMT", &pay, messages.len()));
        accounts.push(account);
    }
    // A duplicate of each.
    let duplicates: Vec<_> = messages
        .iter()
        .map(|m| lf_domain::port::ReceivedMessage {
            message_id: format!("{}-dup", m.message_id),
            ..m.clone()
        })
        .collect();
    messages.extend(duplicates);
    let handler = w.invoice_status();
    let calls = w.org.api_calls();
    let requests = w.company.usage().requests;
    let report = w.run(&handler, &messages).await;
    assert_eq!(report.counts.done, messages.len(), "{report:?}");
    let sf = w.org.api_calls() - calls;
    let intacct = w.company.usage().requests - requests;
    eprintln!(
        "invoice-status, {} messages for 6 customers: {sf} Salesforce calls, {intacct} Intacct requests",
        messages.len()
    );
    assert!(sf <= 2, "one Account read, one write: {sf}");
    assert!(
        intacct <= 2,
        "one trace query, one receivables read: {intacct}"
    );
    for a in &accounts {
        assert_eq!(number(&w.record(a), "Intacct_Balance__c"), Some(200.0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_invoices_update_their_accounts_or_say_why_not() {
    use lf_domain::port::{IntacctPort, RecordQuery};
    let w = World::start().await;
    let invoices = w
        .ports
        .intacct
        .query(
            None,
            &RecordQuery::new("ARINVOICE", ["RECORDNO", "CUSTOMERID"]),
        )
        .await
        .unwrap();
    assert!(invoices.len() > 3, "the demo has invoices: {invoices:?}");
    let messages: Vec<_> = invoices
        .iter()
        .enumerate()
        .map(|(n, r)| intacct_message(FLOW, "ARINVOICE", r.record_no.as_deref().unwrap(), n))
        .collect();
    let handler = w.invoice_status();
    let report = w.run(&handler, &messages).await;
    assert_eq!(report.retry_ids().count(), 0, "{report:?}");
    assert!(report.counts.done > 0, "{report:?}");
    // Every demo customer that names its Account has its balance on it.
    let accounts = w.org.records("Account");
    let linked = accounts
        .iter()
        .filter(|a| {
            a.get("Intacct_Balance__c")
                .and_then(Value::as_f64)
                .is_some()
        })
        .count();
    assert!(linked >= 3, "{linked} Accounts got a balance: {report:?}");
    use lf_domain::port::ParkedFailures;
    let parked = w.parked.list(Some(FLOW), 100).await.unwrap();
    assert_eq!(parked.len(), report.counts.parked, "{parked:?}");
    for p in &parked {
        eprintln!("parked {}: {}", p.record, p.reason);
        assert!(
            p.reason.contains("no Salesforce Account") || p.reason.contains("currenc"),
            "parked with a reason: {}",
            p.reason
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_naming_no_account_is_found_by_a_unique_email_or_parked() {
    let w = World::start().await;
    let account = w.new_account("Mailbox Partners", "United States");
    w.contact(&account, "ap@mailbox.example");
    w.unlinked_customer("C-9401", "Mailbox Partners", "ap@mailbox.example")
        .await;
    let shared_a = w.new_account("Twin One", "United States");
    let shared_b = w.new_account("Twin Two", "United States");
    w.contact(&shared_a, "ar@twins.example");
    w.contact(&shared_b, "ar@twins.example");
    w.unlinked_customer("C-9402", "Twins", "ar@twins.example")
        .await;
    let found = w.invoice("C-9401", None, "120.00", day(15)).await;
    let ambiguous = w.invoice("C-9402", None, "80.00", day(15)).await;
    let handler = w.invoice_status();
    let report = w
        .run(
            &handler,
            &[
                intacct_message(FLOW, "ARINVOICE", &found, 0),
                intacct_message(FLOW, "ARINVOICE", &ambiguous, 1),
            ],
        )
        .await;
    assert_eq!(
        (report.counts.done, report.counts.parked),
        (1, 1),
        "{report:?}"
    );
    assert_eq!(
        number(&w.record(&account), "Intacct_Balance__c"),
        Some(120.0)
    );
    assert!(
        w.record(&shared_a)
            .get("Intacct_Balance__c")
            .is_none_or(Value::is_null)
    );
    use lf_domain::port::ParkedFailures;
    let parked = w.parked.list(Some(FLOW), 10).await.unwrap();
    assert!(
        parked[0].reason.contains("Contacts of 2 Accounts"),
        "{}",
        parked[0].reason
    );

    // The email match is now a link: the next change needs no Contact lookup.
    let pay = w.pay("C-9401", &found, "20").await;
    let calls = w.org.api_calls();
    let report = w
        .run(&handler, &[intacct_message(FLOW, "ARPYMT", &pay, 2)])
        .await;
    assert_eq!(report.counts.done, 1, "{report:?}");
    assert_eq!(
        w.org.api_calls() - calls,
        2,
        "an Account read and the write"
    );
    assert_eq!(
        number(&w.record(&account), "Intacct_Balance__c"),
        Some(100.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_in_another_currency_is_parked_and_says_why() {
    let w = World::start().await;
    let account = w.linked_customer("Euro Books GmbH", "C-9501", "0").await;
    w.org
        .update(&account, json!({"CurrencyIsoCode": "EUR"}))
        .unwrap();
    let inv = w.invoice("C-9501", None, "700.00", day(30)).await;
    let handler = w.invoice_status();
    let report = w
        .run(&handler, &[intacct_message(FLOW, "ARINVOICE", &inv, 0)])
        .await;
    assert_eq!(report.counts.parked, 1, "{report:?}");
    let a = w.record(&account);
    assert!(
        a.get("Intacct_Balance__c").is_none_or(Value::is_null),
        "no figures in the wrong currency"
    );
    assert_eq!(text(&a, "Intacct_Sync_Status__c"), "Error");
    let error = text(&a, "Intacct_Sync_Error__c");
    assert!(error.contains("USD") && error.contains("EUR"), "{error}");

    // Aligned, the next change writes the figures and clears the error.
    w.org
        .update(&account, json!({"CurrencyIsoCode": "USD"}))
        .unwrap();
    let pay = w.pay("C-9501", &inv, "100").await;
    let report = w
        .run(&handler, &[intacct_message(FLOW, "ARPYMT", &pay, 1)])
        .await;
    assert_eq!(report.counts.done, 1, "{report:?}");
    let a = w.record(&account);
    assert_eq!(number(&a, "Intacct_Balance__c"), Some(600.0));
    assert_eq!(text(&a, "Intacct_Sync_Status__c"), "Synced");
    assert!(a.get("Intacct_Sync_Error__c").is_none_or(Value::is_null));
}
