//! Acknowledged writes survive SIGKILL.
//!
//! The test re-runs its own binary as a child "writer" (selected by an environment variable):
//! the child loops over every kind of write and prints one `ACK ...` line per write *after* the
//! method returned `Ok`. The parent reads acknowledgements, SIGKILLs the child while it is
//! writing, reopens the file and checks that every acknowledged write is there and every
//! acknowledged delete stayed deleted. Several rounds reuse the same file, so each round also
//! recovers from the previous kill.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use lf_domain::port::{
    AuditAction, AuditEntry, AuditLog, BeginOutcome, IdempotencyConfig, IdempotencyStore, LinkKind,
    OutgoingMessage, PayloadHash, Queue, SyncState, Watermark, XrefLink, XrefStore,
};
use lf_domain::{
    CorrelationId, Flow, IdempotencyKey, IntacctKey, IntacctRef, ManualClock, RecordRef,
    SalesforceId, System, SystemClock,
};
use lf_embedded::Database;
use serde_json::json;

/// Set in the child: the database file to write to.
const CHILD_DB: &str = "LF_EMBEDDED_CRASH_CHILD_DB";
/// Set in the child: the round number, which keeps each round's keys apart.
const CHILD_ROUND: &str = "LF_EMBEDDED_CRASH_CHILD_ROUND";
/// This test's name, as the child's test harness filters it.
const TEST_NAME: &str = "crash::acknowledged_writes_survive_sigkill";
const ROUNDS: u32 = 4;
const ACKS_PER_ROUND: usize = 500;
/// The child stops by itself after this many iterations, should the parent never kill it.
const CHILD_ITERATIONS: u32 = 100_000;
const QUEUE: &str = "crash";
/// Long enough that completed records made by the child are still live when the parent reads
/// them on a clock moved months ahead.
const KEEP_RECORDS: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
const HOLD: Duration = Duration::from_secs(3600);

#[test]
fn acknowledged_writes_survive_sigkill() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Ok(path) = std::env::var(CHILD_DB) {
        let round: u32 = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
        runtime.block_on(child_writer(Path::new(&path), round));
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let mut acked = Acks::default();
    for round in 0..ROUNDS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DB, &path)
            .env(CHILD_ROUND, round.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let mut seen = 0;
        while seen < ACKS_PER_ROUND {
            line.clear();
            let read = out.read_line(&mut line).unwrap();
            assert!(
                read > 0,
                "round {round}: the writer stopped after {seen} acknowledgements"
            );
            if acked.take(&line) {
                seen += 1;
            }
        }
        // std's Child::kill sends SIGKILL on unix: no destructor, no flush, no clean close.
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "round {round}: {status:?}");
        // What the child printed before it died acknowledges writes too. A last line cut off
        // without its newline is not an acknowledgement.
        loop {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            acked.take(&line);
        }
        runtime.block_on(verify(&path, round, &acked));
    }
    assert!(acked.deletes.len() > 10, "the rounds deleted messages too");
}

/// Every acknowledgement the child printed, by kind.
#[derive(Default, Debug)]
struct Acks {
    links: Vec<(String, String)>,
    completes: Vec<(String, u32)>,
    audits: Vec<String>,
    watermarks: BTreeMap<String, u32>,
    sends: BTreeSet<String>,
    deletes: BTreeSet<String>,
}

impl Acks {
    /// Records one line if it is a complete acknowledgement.
    fn take(&mut self, line: &str) -> bool {
        let Some(ack) = line.strip_suffix('\n').and_then(|l| l.strip_prefix("ACK ")) else {
            return false;
        };
        let parts: Vec<&str> = ack.split(' ').collect();
        match parts.as_slice() {
            ["link", sf, key] => self.links.push((sf.to_string(), key.to_string())),
            ["complete", key, i] => self.completes.push((key.to_string(), i.parse().unwrap())),
            ["audit", id] => self.audits.push(id.to_string()),
            ["watermark", stream, i] => {
                let i: u32 = i.parse().unwrap();
                let top = self.watermarks.entry(stream.to_string()).or_default();
                *top = (*top).max(i);
            }
            ["send", body] => {
                self.sends.insert(body.to_string());
            }
            ["delete", body] => {
                self.deletes.insert(body.to_string());
            }
            _ => panic!("unexpected acknowledgement {ack:?}"),
        }
        true
    }
}

fn salesforce_id(round: u32, i: u32) -> SalesforceId {
    SalesforceId::parse(&format!("001Cr{round:02}{i:08}")).unwrap()
}

fn audit_record(id: &str) -> RecordRef {
    RecordRef {
        system: System::Intacct,
        object: "CUSTOMER".into(),
        id: id.into(),
    }
}

fn watermark(i: u32) -> Watermark {
    Watermark {
        modified_at: lf_testkit::epoch() + chrono::Duration::seconds(i64::from(i)),
        last_id: format!("R{i:08}"),
    }
}

fn idempotency_config() -> IdempotencyConfig {
    IdempotencyConfig {
        expires_after: KEEP_RECORDS,
        max_in_progress: Duration::from_secs(900),
    }
}

/// Prints an acknowledgement as one line in one write; false once the parent is gone.
fn ack(out: &mut impl Write, line: String) -> bool {
    out.write_all(format!("ACK {line}\n").as_bytes())
        .and_then(|()| out.flush())
        .is_ok()
}

async fn child_writer(path: &Path, round: u32) {
    let db = Database::open(path, Arc::new(SystemClock)).unwrap();
    let xref = db.xref_store();
    let idempotency = db.idempotency_store(idempotency_config());
    let audit = db.audit_log();
    let state = db.sync_state();
    let queue = db.queue(QUEUE).unwrap();
    let stream = format!("crash/round-{round}");
    let mut out = std::io::stdout().lock();
    for i in 0..CHILD_ITERATIONS {
        let sf = salesforce_id(round, i);
        let key = format!("C-{round}-{i}");
        xref.link(&XrefLink {
            kind: LinkKind::AccountCustomer,
            salesforce: sf.clone(),
            intacct: IntacctRef::top_level(IntacctKey::parse(&key).unwrap()),
            linked_at: Utc::now(),
        })
        .await
        .unwrap();
        if !ack(&mut out, format!("link {sf} {key}")) {
            return;
        }

        let work = IdempotencyKey::parse(&format!("crash-{round}-{i}")).unwrap();
        let payload = PayloadHash::of_bytes(work.as_str().as_bytes());
        let BeginOutcome::Started { owner } =
            idempotency.begin(&work, &payload, None).await.unwrap()
        else {
            panic!("{work} was not startable");
        };
        idempotency
            .complete(&work, &owner, &payload, &json!({ "i": i }))
            .await
            .unwrap();
        if !ack(&mut out, format!("complete {work} {i}")) {
            return;
        }

        audit
            .append(&AuditEntry {
                record: audit_record(&key),
                at: Utc::now(),
                flow: Flow::AccountSync,
                action: AuditAction::Created,
                correlation_id: CorrelationId::parse(&format!("crash-{round}-{i}")).unwrap(),
                counterpart: None,
                detail: format!("crash round {round} write {i}"),
            })
            .await
            .unwrap();
        if !ack(&mut out, format!("audit {key}")) {
            return;
        }

        assert!(
            state
                .advance_watermark(&stream, &watermark(i))
                .await
                .unwrap()
        );
        if !ack(&mut out, format!("watermark {stream} {i}")) {
            return;
        }

        let body = format!("m-{round}-{i}");
        queue
            .send_batch(&[OutgoingMessage::new(body.clone())])
            .await
            .unwrap();
        if !ack(&mut out, format!("send {body}")) {
            return;
        }

        if i % 3 == 2 {
            for m in queue.receive(1, HOLD, Duration::ZERO).await.unwrap() {
                queue.delete(&m.receipt).await.unwrap();
                if !ack(&mut out, format!("delete {}", m.body)) {
                    return;
                }
            }
        }
    }
}

async fn verify(path: &Path, round: u32, acked: &Acks) {
    // Months ahead, further each round: every message is visible again, whoever held it
    // (the child, or the previous round's check), so "not received" means "not there".
    let ahead = chrono::Duration::days(60 * (i64::from(round) + 1));
    let db = Database::open(path, Arc::new(ManualClock::new(Utc::now() + ahead))).unwrap();

    let xref = db.xref_store();
    for (sf, key) in &acked.links {
        let sf = SalesforceId::parse(sf).unwrap();
        let intacct = IntacctRef::top_level(IntacctKey::parse(key).unwrap());
        let found = xref
            .find_by_salesforce(LinkKind::AccountCustomer, &sf)
            .await
            .unwrap();
        assert_eq!(found.map(|l| l.intacct), Some(intacct.clone()), "{sf}");
        let back = xref
            .find_by_intacct(LinkKind::AccountCustomer, &intacct.key)
            .await
            .unwrap();
        assert_eq!(back.map(|l| l.salesforce), Some(sf), "{key}");
    }

    let idempotency = db.idempotency_store(idempotency_config());
    for (key, i) in &acked.completes {
        let work = IdempotencyKey::parse(key).unwrap();
        let payload = PayloadHash::of_bytes(key.as_bytes());
        assert_eq!(
            idempotency.begin(&work, &payload, None).await.unwrap(),
            BeginOutcome::Completed(json!({ "i": i })),
            "{key}"
        );
    }

    let audit = db.audit_log();
    for id in &acked.audits {
        let history = audit.history(&audit_record(id), 10).await.unwrap();
        assert_eq!(history.len(), 1, "{id}: {history:?}");
    }

    let state = db.sync_state();
    for (stream, i) in &acked.watermarks {
        let stored = state.watermark(stream).await.unwrap().unwrap();
        assert!(
            stored >= watermark(*i),
            "{stream}: {stored:?} is behind {i}"
        );
    }

    let queue = db.queue(QUEUE).unwrap();
    let mut present = BTreeSet::new();
    loop {
        let batch = queue.receive(10, HOLD, Duration::ZERO).await.unwrap();
        if batch.is_empty() {
            break;
        }
        for m in batch {
            assert!(present.insert(m.body.clone()), "{} twice", m.body);
        }
    }
    let came_back: Vec<&String> = present.intersection(&acked.deletes).collect();
    assert!(
        came_back.is_empty(),
        "deleted messages came back: {came_back:?}"
    );
    let lost: Vec<&String> = acked
        .sends
        .difference(&acked.deletes)
        .filter(|body| !present.contains(*body))
        .collect();
    assert!(
        lost.is_empty(),
        "round {round}: sent messages lost: {lost:?}"
    );
}
