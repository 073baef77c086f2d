//! [`AuditLog`] contract.

use lf_domain::port::{AuditAction, AuditEntry, AuditLog};
use lf_domain::{CorrelationId, Flow, RecordRef, System};

use crate::{Harness, epoch};

fn record(id: &str) -> RecordRef {
    RecordRef {
        system: System::Intacct,
        object: "CUSTOMER".into(),
        id: id.into(),
    }
}

fn entry(id: &str, secs: i64, action: AuditAction, detail: &str) -> AuditEntry {
    AuditEntry {
        record: record(id),
        at: epoch() + chrono::Duration::seconds(secs),
        flow: Flow::AccountSync,
        action,
        correlation_id: CorrelationId::parse("corr-1").unwrap(),
        counterpart: Some(RecordRef {
            system: System::Salesforce,
            object: "Account".into(),
            id: "001000000000001AAA".into(),
        }),
        detail: detail.into(),
    }
}

pub async fn history_is_newest_first_and_limited<H: Harness>(h: &H) {
    let log = h.audit().await;
    let entries = [
        entry("US/C-1", 1, AuditAction::Created, "created from Account"),
        entry("US/C-1", 3, AuditAction::SkippedEcho, "our own write"),
        entry("US/C-1", 2, AuditAction::Updated, "PHONE1 changed"),
        entry("US/C-2", 4, AuditAction::Parked, "no routing rule matched"),
    ];
    for e in &entries {
        log.append(e).await.unwrap();
    }
    let all = log.history(&record("US/C-1"), 10).await.unwrap();
    assert_eq!(
        all,
        vec![entries[1].clone(), entries[2].clone(), entries[0].clone()]
    );
    let newest = log.history(&record("US/C-1"), 2).await.unwrap();
    assert_eq!(newest, vec![entries[1].clone(), entries[2].clone()]);
    assert_eq!(
        log.history(&record("US/C-2"), 10).await.unwrap(),
        vec![entries[3].clone()]
    );
    assert!(log.history(&record("US/C-3"), 10).await.unwrap().is_empty());
    // A limit of zero asks for nothing, and is not an error.
    assert!(log.history(&record("US/C-1"), 0).await.unwrap().is_empty());
}

pub async fn entries_with_equal_timestamps_are_all_kept<H: Harness>(h: &H) {
    let log = h.audit().await;
    for i in 0..5 {
        log.append(&entry(
            "C-9",
            7,
            AuditAction::Updated,
            &format!("change {i}"),
        ))
        .await
        .unwrap();
    }
    let got = log.history(&record("C-9"), 100).await.unwrap();
    assert_eq!(got.len(), 5);
    let mut details: Vec<String> = got.into_iter().map(|e| e.detail).collect();
    details.sort();
    assert_eq!(
        details,
        (0..5).map(|i| format!("change {i}")).collect::<Vec<_>>()
    );
}
