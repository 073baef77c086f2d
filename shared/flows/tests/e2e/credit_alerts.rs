//! credit-alerts end to end: holds and invoices made through the Intacct XML API, the flow
//! run through the batch runner, the Account and its Tasks read back from the org.

use lf_domain::Flow;

use crate::support::{World, day, intacct_message, text};

const FLOW: Flow = Flow::CreditAlerts;

fn alerts(w: &World, customer: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    w.tasks_keyed(&format!("credit-alert:{customer}:"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_alerts_once_per_episode() {
    let w = World::start().await;
    let account = w.linked_customer("Risky Retail Inc", "C-9101", "0").await;
    let handler = w.credit_alerts();
    let mut n = 0;
    let mut event = |object: &str, key: &str| {
        n += 1;
        intacct_message(FLOW, object, key, n)
    };

    // In good standing: status OK, no Task.
    let report = w.run(&handler, &[event("CUSTOMER", "C-9101")]).await;
    assert_eq!(report.counts.done, 1, "{report:?}");
    assert_eq!(text(&w.record(&account), "Credit_Status__c"), "OK");
    assert!(alerts(&w, "C-9101").is_empty());

    // On hold: the status and one high-priority Task.
    w.set_on_hold("C-9101", true).await;
    let report = w
        .run(
            &handler,
            &[event("CUSTOMER", "C-9101"), event("CUSTOMER", "C-9101")],
        )
        .await;
    assert_eq!(report.counts.done, 2, "{report:?}");
    assert_eq!(text(&w.record(&account), "Credit_Status__c"), "On Hold");
    let first = alerts(&w, "C-9101");
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(text(&first[0], "Priority"), "High");
    assert_eq!(text(&first[0], "WhatId"), account);

    // More events of the same episode (a new invoice, the customer edited again): no
    // second Task, and the Task is not touched again.
    let inv = w.invoice("C-9101", None, "300.00", day(10)).await;
    w.set_on_hold("C-9101", true).await;
    let calls = w.org.api_calls();
    let report = w
        .run(
            &handler,
            &[event("ARINVOICE", &inv), event("CUSTOMER", "C-9101")],
        )
        .await;
    assert_eq!(report.counts.done, 2, "{report:?}");
    assert_eq!(w.org.api_calls() - calls, 1, "an Account read only");
    assert_eq!(alerts(&w, "C-9101").len(), 1);

    // Cleared: back to OK, the Task stays one.
    w.set_on_hold("C-9101", false).await;
    let report = w.run(&handler, &[event("CUSTOMER", "C-9101")]).await;
    assert_eq!(report.counts.done, 1, "{report:?}");
    assert_eq!(text(&w.record(&account), "Credit_Status__c"), "OK");
    assert_eq!(alerts(&w, "C-9101").len(), 1);

    // A new hold later is a new episode: a second Task.
    w.set_on_hold("C-9101", true).await;
    let report = w.run(&handler, &[event("CUSTOMER", "C-9101")]).await;
    assert_eq!(report.counts.done, 1, "{report:?}");
    assert_eq!(text(&w.record(&account), "Credit_Status__c"), "On Hold");
    let both = alerts(&w, "C-9101");
    assert_eq!(both.len(), 2, "{both:?}");
    assert_ne!(
        text(&both[0], "Ledgerforce_Key__c"),
        text(&both[1], "Ledgerforce_Key__c")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_limit_and_overdue_set_their_status() {
    let w = World::start().await;
    let over = w
        .linked_customer("Big Spender Corp", "C-9201", "1000")
        .await;
    let late = w.linked_customer("Slow Payer Ltd", "C-9202", "0").await;
    let a = w.invoice("C-9201", None, "1500.00", day(20)).await;
    let b = w.invoice("C-9202", None, "200.00", day(-3)).await;
    let handler = w.credit_alerts();
    let calls = w.org.api_calls();
    let requests = w.company.usage().requests;
    let report = w
        .run(
            &handler,
            &[
                intacct_message(FLOW, "ARINVOICE", &a, 0),
                intacct_message(FLOW, "ARINVOICE", &b, 1),
                intacct_message(FLOW, "CUSTOMER", "C-9201", 2),
            ],
        )
        .await;
    assert_eq!(report.counts.done, 3, "{report:?}");
    eprintln!(
        "credit-alerts, 3 messages for 2 customers: {} Salesforce calls, {} Intacct requests",
        w.org.api_calls() - calls,
        w.company.usage().requests - requests
    );
    assert!(w.org.api_calls() - calls <= 3, "read, Task upsert, write");
    assert!(w.company.usage().requests - requests <= 2);
    assert_eq!(text(&w.record(&over), "Credit_Status__c"), "Over Limit");
    assert_eq!(text(&w.record(&late), "Credit_Status__c"), "Overdue");
    assert_eq!(alerts(&w, "C-9201").len(), 1);
    let late_tasks = alerts(&w, "C-9202");
    assert_eq!(late_tasks.len(), 1);
    let description = text(&late_tasks[0], "Description");
    assert!(
        description.contains("INV-"),
        "names the overdue invoice: {description}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_write_is_retried_into_the_same_task() {
    let w = World::start().await;
    let account = w.linked_customer("Locked Row Ltd", "C-9301", "0").await;
    w.set_on_hold("C-9301", true).await;
    let handler = w.credit_alerts();
    // The episode is remembered before the Task is written; the Task write then fails.
    w.org
        .faults()
        .inject_next(lf_sandbox_salesforce::SalesforceFault::LockRow, 1);
    let mut n = 0;
    loop {
        let mut message = intacct_message(FLOW, "CUSTOMER", "C-9301", n);
        message.receive_count = u32::try_from(n + 1).unwrap();
        let report = w.run(&handler, &[message]).await;
        if report.counts.done == 1 {
            break;
        }
        n += 1;
        assert!(n < 4, "never done: {report:?}");
    }
    assert_eq!(w.org.faults().injected(), 1, "the fault hit a write");
    assert_eq!(text(&w.record(&account), "Credit_Status__c"), "On Hold");
    assert_eq!(
        alerts(&w, "C-9301").len(),
        1,
        "one Task for the one episode"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_task_and_the_status_write_makes_no_second_task() {
    use lf_flows::{BatchContext, CreditAlerts, CreditAlertsOptions, run_batch};
    use lf_testkit::fault::ConnectorFault;
    let w = World::start().await;
    let account = w.linked_customer("Crash Test Dummies", "C-9601", "0").await;
    w.set_on_hold("C-9601", true).await;
    let (ports, parked, _dir) = crate::support::faulty_ports(&w, "upsert_tasks").await;
    let handler = CreditAlerts::new(
        ports.clone(),
        w.specs.clone(),
        CreditAlertsOptions::default(),
    )
    .unwrap();
    // The Task is saved, but the answer is lost: the flow stops before the status write, as
    // if it had crashed there.
    ports
        .salesforce
        .plan()
        .inject_next(ConnectorFault::LostAfterCommit, 1);
    let first = run_batch(
        &handler,
        &parked,
        &[intacct_message(FLOW, "CUSTOMER", "C-9601", 0)],
        &BatchContext::default(),
    )
    .await;
    assert_eq!(first.retry_ids().count(), 1, "{first:?}");
    assert_eq!(ports.salesforce.plan().injected(), 1);
    assert_eq!(alerts(&w, "C-9601").len(), 1, "the Task was saved");
    assert_ne!(text(&w.record(&account), "Credit_Status__c"), "On Hold");

    let mut again = intacct_message(FLOW, "CUSTOMER", "C-9601", 0);
    again.receive_count = 2;
    let second = run_batch(&handler, &parked, &[again], &BatchContext::default()).await;
    assert_eq!(second.counts.done, 1, "{second:?}");
    assert_eq!(text(&w.record(&account), "Credit_Status__c"), "On Hold");
    assert_eq!(
        alerts(&w, "C-9601").len(),
        1,
        "the retry found the same Task"
    );
}
