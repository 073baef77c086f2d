//! The falls-due sweep end to end: an invoice passes its due date with no change in Intacct;
//! the change poller's daily sweep queues it, and invoice-status and credit-alerts, telling
//! "today" by the ports' clock, now show it overdue.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use lf_domain::{Flow, ManualClock};
use serde_json::Value;

use crate::support::{World, day, intacct_message, text};

fn number(record: &serde_json::Map<String, Value>, field: &str) -> Option<f64> {
    record.get(field).and_then(Value::as_f64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_falling_due_is_swept_and_shown_overdue() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let w = World::start_clocked(|_| {}, clock.clone()).await;
    let account = w.linked_customer("Due Tomorrow Ltd", "C-9301", "0").await;
    // Due the same day but paid in full: never swept. (Made first, so the open invoice is
    // the customer's latest, whose state the Account shows.)
    let paid = w.invoice("C-9301", None, "100.00", day(1)).await;
    w.pay("C-9301", &paid, "100").await;
    let inv = w.invoice("C-9301", None, "750.00", day(1)).await;
    let status = w.invoice_status();
    let alerts = w.credit_alerts();
    let overdue_tasks = |w: &World| {
        w.tasks_keyed("invoice-overdue:")
            .into_iter()
            .filter(|t| text(t, "WhatId") == account)
            .count()
    };

    // Today the invoice is not yet due. A couple of minutes on, so its stamp is settled
    // and the flows record it as done (the key a later same-stamp change meets).
    clock.advance(Duration::from_secs(120));
    let r = w
        .run(
            &status,
            &[intacct_message(Flow::InvoiceStatus, "ARINVOICE", &inv, 0)],
        )
        .await;
    assert_eq!(r.counts.done, 1, "{r:?}");
    let r = w
        .run(
            &alerts,
            &[intacct_message(Flow::CreditAlerts, "ARINVOICE", &inv, 0)],
        )
        .await;
    assert_eq!(r.counts.done, 1, "{r:?}");
    let a = w.record(&account);
    assert_eq!(number(&a, "Intacct_Overdue_Balance__c"), Some(0.0));
    assert_eq!(text(&a, "Intacct_Invoice_Status__c"), "Open");
    assert_eq!(text(&a, "Credit_Status__c"), "OK");
    assert_eq!(overdue_tasks(&w), 0);

    // The poller's first run today (past the change stream's settle window): the new
    // invoice comes by its change stream, and the sweep finds nothing due yet. Its envelopes
    // are the change already handled.
    let poller = w.invoice_poller(clock.clone());
    let first = poller.poll_once().await;
    assert!(!first.failed(), "{first:?}");
    assert_eq!(first.stream("intacct/ARINVOICE").unwrap().changes, 2);
    assert_eq!(first.stream("intacct/ARINVOICE/due").unwrap().changes, 0);
    assert_eq!(w.drain(Flow::InvoiceStatus).await.len(), 2);
    assert_eq!(w.drain(Flow::CreditAlerts).await.len(), 2);

    // Two days on, nothing changed in Intacct, but the open invoice fell due yesterday (the
    // paid one too, and is not queued).
    clock.advance(Duration::from_secs(2 * 24 * 3600));
    let swept = poller.poll_once().await;
    assert!(!swept.failed(), "{swept:?}");
    assert_eq!(swept.stream("intacct/ARINVOICE").unwrap().changes, 0);
    let due = swept.stream("intacct/ARINVOICE/due").unwrap();
    assert_eq!((due.changes, due.queued), (1, 2), "{due:?}");
    let to_status = w.drain(Flow::InvoiceStatus).await;
    let to_alerts = w.drain(Flow::CreditAlerts).await;
    assert_eq!((to_status.len(), to_alerts.len()), (1, 1));
    assert!(
        to_status[0].body.contains(&format!("\"{inv}\"")),
        "{to_status:?}"
    );

    // The same stamp as before, a new day: worked again, not answered "already done".
    let r = w.run(&status, &to_status).await;
    assert_eq!(r.counts.done, 1, "{r:?}");
    let r = w.run(&alerts, &to_alerts).await;
    assert_eq!(r.counts.done, 1, "{r:?}");
    let a = w.record(&account);
    assert_eq!(number(&a, "Intacct_Overdue_Balance__c"), Some(750.0));
    assert_eq!(text(&a, "Intacct_Invoice_Status__c"), "Overdue");
    assert_eq!(text(&a, "Credit_Status__c"), "Overdue");
    assert_eq!(overdue_tasks(&w), 1);

    // A second sweep the same day queues nothing.
    clock.advance(Duration::from_secs(3600));
    let again = poller.poll_once().await;
    assert_eq!(again.queued(), 0, "{again:?}");
    assert!(w.drain(Flow::InvoiceStatus).await.is_empty());

    // A same-day duplicate of the swept change still dedupes: no second Task.
    let r = w
        .run(
            &status,
            &[intacct_message(Flow::InvoiceStatus, "ARINVOICE", &inv, 9)],
        )
        .await;
    assert_eq!(r.counts.done, 1, "{r:?}");
    assert_eq!(overdue_tasks(&w), 1);
}
