//! One read model of the sync's state, over the ports: per flow what is queued, in flight and
//! dead-lettered, what is parked and why, how far each change stream has been read, and what
//! the consumers did. `ledgerforce status`, the operator console and `ledgerforce local`'s
//! `/local/status` all show this, so they never disagree.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lf_domain::port::{
    AuditAction, AuditEntry, AuditLog, LinkKind, ParkedFailures, Queue, SyncState, XrefLink,
    XrefStore,
};
use lf_domain::{Flow, IntacctKey, PortError, RecordRef, SalesforceId, System};
use serde::Serialize;

use crate::metrics::{FlowCounts, Metrics};
use crate::replay::FlowQueue;

/// Where an [`Overview`] is read from.
#[derive(Debug, Clone, Copy)]
pub struct OverviewSources<'a, Q, P, S> {
    /// The flows shown, each with its queue and dead-letter queue.
    pub queues: &'a [FlowQueue<Q>],
    pub parked: &'a P,
    pub state: &'a S,
    /// The change streams whose watermarks are shown (`salesforce/Account`, `intacct/CUSTOMER`).
    pub streams: &'a [String],
    /// The consumers' counters, when they run in this process.
    pub metrics: Option<&'a Metrics>,
    /// Audit entries per flow and action, when the store can count them (the embedded one).
    pub audit_tally: Option<&'a [(Flow, AuditAction, u64)]>,
    /// The most parked failures listed (the counts cover all).
    pub parked_limit: usize,
}

/// The state of the sync (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub flows: Vec<FlowOverview>,
    /// Parked failures, newest first, at most `parked_limit`.
    pub parked: Vec<ParkedEntry>,
    pub watermarks: Vec<WatermarkEntry>,
    /// API usage as the caller knows it (the sandboxes' counters locally); filled by the caller.
    pub usage: Vec<UsageLine>,
    /// What this source does not hold (counts kept elsewhere), one sentence each, so a reader
    /// is told instead of shown zeros; filled by the caller.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What could not be read, one sentence each.
    pub errors: Vec<String>,
}

/// One flow's numbers. A depth is `None` when its queue could not be read (see `errors`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowOverview {
    pub flow: Flow,
    pub queued: Option<u64>,
    pub in_flight: Option<u64>,
    pub dead_letters: Option<u64>,
    /// Parked failures of this flow (all of them, not only those listed).
    pub parked: u64,
    /// The consumers' counters, when they run in this process (`None`: they run elsewhere,
    /// and their counts are not known here).
    pub counts: Option<FlowCounts>,
    /// What the audit log holds for this flow, per action (`created`, `skipped-echo`…; empty
    /// when not countable).
    pub audit: BTreeMap<String, u64>,
}

/// A parked failure as shown (its replay payload left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParkedEntry {
    pub flow: Flow,
    pub record: RecordRef,
    pub reason: String,
    pub error_class: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub attempts: u32,
}

/// How far one change stream has been read (`None`: not yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatermarkEntry {
    pub stream: String,
    pub modified_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last_id: String,
}

/// One API counter: `side` is `salesforce` or `intacct`, `name` what is counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageLine {
    pub side: String,
    pub name: String,
    pub value: u64,
}

/// An audit action's name as the log stores it (`skipped-echo`).
pub fn action_name(action: AuditAction) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{action:?}"))
}

impl Overview {
    /// Reads everything; a part that cannot be read is left empty and named in `errors`.
    pub async fn read<Q: Queue, P: ParkedFailures, S: SyncState>(
        sources: OverviewSources<'_, Q, P, S>,
    ) -> Overview {
        let mut errors = Vec::new();
        let parked_counts = match sources.parked.count_by_flow().await {
            Ok(counts) => counts,
            Err(e) => {
                errors.push(format!("parked failures: {e}"));
                BTreeMap::new()
            }
        };
        let mut flows = Vec::with_capacity(sources.queues.len());
        for q in sources.queues {
            let (queued, in_flight) = match q.queue.depth().await {
                Ok(d) => (Some(d.visible), Some(d.in_flight)),
                Err(e) => {
                    errors.push(format!("the {} queue: {e}", q.flow));
                    (None, None)
                }
            };
            let dead_letters = match q.dead_letter.depth().await {
                Ok(d) => Some(d.visible + d.in_flight),
                Err(e) => {
                    errors.push(format!("the {} dead-letter queue: {e}", q.flow));
                    None
                }
            };
            let audit = sources
                .audit_tally
                .unwrap_or_default()
                .iter()
                .filter(|(f, _, _)| *f == q.flow)
                .map(|(_, action, n)| (action_name(*action), *n))
                .collect();
            flows.push(FlowOverview {
                flow: q.flow,
                queued,
                in_flight,
                dead_letters,
                parked: parked_counts.get(&q.flow).copied().unwrap_or(0),
                counts: sources.metrics.map(|m| m.flow(q.flow)),
                audit,
            });
        }
        let parked = match sources.parked.list(None, sources.parked_limit).await {
            Ok(list) => list
                .into_iter()
                .map(|f| ParkedEntry {
                    flow: f.flow,
                    record: f.record,
                    reason: f.reason,
                    error_class: f.error_class,
                    first_seen: f.first_seen,
                    last_seen: f.last_seen,
                    attempts: f.attempts,
                })
                .collect(),
            Err(e) => {
                errors.push(format!("parked failures: {e}"));
                Vec::new()
            }
        };
        let mut watermarks = Vec::with_capacity(sources.streams.len());
        for stream in sources.streams {
            match sources.state.watermark(stream).await {
                Ok(w) => watermarks.push(WatermarkEntry {
                    stream: stream.clone(),
                    modified_at: w.as_ref().map(|w| w.modified_at),
                    last_id: w.map(|w| w.last_id).unwrap_or_default(),
                }),
                Err(e) => errors.push(format!("the watermark of {stream}: {e}")),
            }
        }
        Overview {
            flows,
            parked,
            watermarks,
            usage: Vec::new(),
            notes: Vec::new(),
            errors,
        }
    }

    /// Whether any flow has messages queued or in flight, or a queue could not be read.
    /// Parked failures and dead letters wait for a person: they do not make the sync busy.
    pub fn busy(&self) -> bool {
        self.flows.iter().any(|f| match (f.queued, f.in_flight) {
            (Some(q), Some(i)) => q + i > 0,
            _ => true,
        })
    }

    /// Parked failures of every flow.
    pub fn parked_total(&self) -> u64 {
        self.flows.iter().map(|f| f.parked).sum()
    }
}

/// The Salesforce objects whose audit history an id is looked up in.
const SALESFORCE_OBJECTS: [&str; 5] = [
    "Account",
    "Contact",
    "Opportunity",
    "Task",
    "Revenue_Reconciliation__c",
];

/// The Intacct objects whose audit history a key is looked up in.
const INTACCT_OBJECTS: [&str; 5] = ["CUSTOMER", "CONTACT", "ARINVOICE", "SODOCUMENT", "ARPYMT"];

/// The history of one record across both systems: the links it has, and the audit entries of
/// the record and of each counterpart, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordHistory {
    /// What was asked for.
    pub query: String,
    pub links: Vec<XrefLink>,
    pub entries: Vec<AuditEntry>,
}

impl RecordHistory {
    /// Looks `id` up: a whole reference (`salesforce/Account/001…`), a Salesforce id (found in
    /// any object), or an Intacct key (CUSTOMERID, CONTACTNAME, a document's RECORDNO). The
    /// links of every kind are followed to the other system, and at most `limit` entries are
    /// read per record.
    pub async fn read<A: AuditLog, X: XrefStore>(
        audit: &A,
        xref: &X,
        id: &str,
        limit: usize,
    ) -> Result<RecordHistory, PortError> {
        let id = id.trim();
        if id.is_empty() {
            return Err(PortError::invalid("no record id was given"));
        }
        let mut records: Vec<RecordRef> = Vec::new();
        let mut links: Vec<XrefLink> = Vec::new();
        match parse_reference(id) {
            Some(r) => records.push(r),
            None => {
                // A bare id may be either side's (an Intacct key can look like a Salesforce id).
                let salesforce = SalesforceId::parse(id)
                    .is_ok()
                    .then_some(System::Salesforce);
                for system in salesforce.into_iter().chain([System::Intacct]) {
                    let objects: &[&str] = match system {
                        System::Salesforce => &SALESFORCE_OBJECTS,
                        System::Intacct => &INTACCT_OBJECTS,
                    };
                    records.extend(objects.iter().map(|object| RecordRef {
                        system,
                        object: (*object).to_owned(),
                        id: id.to_owned(),
                    }));
                }
            }
        }
        let systems: Vec<System> = records.iter().map(|r| r.system).collect();
        let bare = records.first().map(|r| r.id.clone()).unwrap_or_default();
        for kind in LinkKind::ALL {
            let (sf_object, intacct_object) = link_objects(kind);
            if systems.contains(&System::Salesforce)
                && let Ok(sf) = SalesforceId::parse(&bare)
                && let Some(link) = xref.find_by_salesforce(kind, &sf).await?
            {
                let other = RecordRef::intacct(intacct_object, &link.intacct);
                if !records.contains(&other) {
                    records.push(other);
                }
                links.push(link);
            }
            if systems.contains(&System::Intacct)
                && let Ok(key) = IntacctKey::parse(&bare)
                && let Some(link) = xref.find_by_intacct(kind, &key).await?
            {
                let other = RecordRef::salesforce(sf_object, &link.salesforce);
                if !records.contains(&other) {
                    records.push(other);
                }
                if !links.contains(&link) {
                    links.push(link);
                }
            }
        }
        let mut entries: Vec<AuditEntry> = Vec::new();
        let mut read = 0;
        while read < records.len() {
            let record = records[read].clone();
            read += 1;
            for entry in audit.history(&record, limit).await? {
                // A counterpart named by the audit log (a link made before the xref existed,
                // a document) is followed too.
                if let Some(other) = &entry.counterpart
                    && !records.contains(other)
                    && records.len() < 32
                {
                    records.push(other.clone());
                }
                if !entries.contains(&entry) {
                    entries.push(entry);
                }
            }
        }
        entries.sort_by_key(|e| std::cmp::Reverse(e.at));
        Ok(RecordHistory {
            query: id.to_owned(),
            links,
            entries,
        })
    }
}

/// `system/object/id`, when `text` is one.
fn parse_reference(text: &str) -> Option<RecordRef> {
    let mut parts = text.splitn(3, '/');
    let system = match parts.next()? {
        "salesforce" => System::Salesforce,
        "intacct" => System::Intacct,
        _ => return None,
    };
    let object = parts.next()?.trim();
    let id = parts.next()?.trim();
    (!object.is_empty() && !id.is_empty()).then(|| RecordRef {
        system,
        object: object.to_owned(),
        id: id.to_owned(),
    })
}

/// The objects a link kind joins, as the audit log names them.
fn link_objects(kind: LinkKind) -> (&'static str, &'static str) {
    match kind {
        LinkKind::AccountCustomer => ("Account", "CUSTOMER"),
        LinkKind::ContactContact => ("Contact", "CONTACT"),
        LinkKind::OpportunityInvoice => ("Opportunity", "ARINVOICE"),
        LinkKind::OpportunityOrder => ("Opportunity", "SODOCUMENT"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::TimeZone;
    use lf_domain::port::{OutgoingMessage, ParkRequest, Watermark};
    use lf_domain::{ManualClock, System};
    use lf_embedded::{Database, DeadLetter};
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn the_overview_reads_queues_parked_failures_and_watermarks() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap(),
        ));
        let db = Database::open(dir.path().join("lf.db"), clock.clone()).unwrap();
        let queues = vec![FlowQueue {
            flow: Flow::AccountSync,
            queue: db
                .queue_with_dead_letter(
                    "account-sync",
                    DeadLetter {
                        queue: "account-sync-dlq".into(),
                        max_receives: 3,
                    },
                )
                .unwrap(),
            dead_letter: db.queue("account-sync-dlq").unwrap(),
        }];
        let messages = [OutgoingMessage::new("{}"), OutgoingMessage::new("{}")];
        queues[0].queue.send_batch(&messages).await.unwrap();
        queues[0]
            .queue
            .receive(1, Duration::from_secs(30), Duration::ZERO)
            .await
            .unwrap();
        queues[0]
            .dead_letter
            .send_batch(&messages[..1])
            .await
            .unwrap();
        let parked = db.parked_failures();
        parked
            .park(&ParkRequest {
                record: RecordRef {
                    system: System::Salesforce,
                    object: "Account".into(),
                    id: "001000000000001AAA".into(),
                },
                flow: Flow::AccountSync,
                reason: "Intacct refused the customer: <b>bad</b> tax id".into(),
                error_class: "parked".into(),
                payload: json!({}),
            })
            .await
            .unwrap();
        let state = db.sync_state();
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap();
        state
            .advance_watermark(
                "salesforce/Account",
                &Watermark {
                    modified_at: at,
                    last_id: "001A".into(),
                },
            )
            .await
            .unwrap();
        let tally = [
            (Flow::AccountSync, AuditAction::Updated, 4),
            (Flow::OpportunityWon, AuditAction::Created, 9),
        ];
        let streams = [
            "salesforce/Account".to_owned(),
            "intacct/CUSTOMER".to_owned(),
        ];
        let overview = Overview::read(OverviewSources {
            queues: &queues,
            parked: &parked,
            state: &state,
            streams: &streams,
            metrics: None,
            audit_tally: Some(&tally),
            parked_limit: 10,
        })
        .await;

        assert!(overview.errors.is_empty(), "{:?}", overview.errors);
        let flow = &overview.flows[0];
        assert_eq!(
            (flow.queued, flow.in_flight, flow.dead_letters, flow.parked),
            (Some(1), Some(1), Some(1), 1)
        );
        assert_eq!(flow.audit.get("updated"), Some(&4));
        assert_eq!(flow.audit.len(), 1, "only this flow's tally");
        assert!(overview.busy());
        assert_eq!(overview.parked_total(), 1);
        assert_eq!(
            overview.parked[0].reason,
            "Intacct refused the customer: <b>bad</b> tax id"
        );
        assert_eq!(overview.watermarks[0].modified_at, Some(at));
        assert_eq!(overview.watermarks[0].last_id, "001A");
        assert_eq!(overview.watermarks[1].modified_at, None);
    }

    #[tokio::test]
    async fn a_record_history_follows_its_link_to_the_other_system() {
        let dir = tempfile::tempdir().unwrap();
        let db =
            Database::open(dir.path().join("lf.db"), Arc::new(lf_domain::SystemClock)).unwrap();
        let account = SalesforceId::parse("001000000000001AAA").unwrap();
        let key = IntacctKey::parse("C-1001").unwrap();
        let xref = db.xref_store();
        xref.link(&XrefLink {
            kind: LinkKind::AccountCustomer,
            salesforce: account.clone(),
            intacct: lf_domain::IntacctRef::top_level(key.clone()),
            linked_at: Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
        })
        .await
        .unwrap();
        let audit = db.audit_log();
        let entry =
            |record: RecordRef, minute: u32, action: AuditAction, detail: &str| AuditEntry {
                record,
                at: Utc.with_ymd_and_hms(2026, 3, 1, 9, minute, 0).unwrap(),
                flow: Flow::AccountSync,
                action,
                correlation_id: lf_domain::CorrelationId::new_random(),
                counterpart: None,
                detail: detail.into(),
            };
        let sf = RecordRef::salesforce("Account", &account);
        let customer = RecordRef::intacct("CUSTOMER", &lf_domain::IntacctRef::top_level(key));
        audit
            .append(&entry(
                sf.clone(),
                1,
                AuditAction::Created,
                "customer created",
            ))
            .await
            .unwrap();
        audit
            .append(&entry(
                customer.clone(),
                5,
                AuditAction::Updated,
                "city from Intacct",
            ))
            .await
            .unwrap();

        for query in ["001000000000001AAA", "C-1001", "intacct/CUSTOMER/C-1001"] {
            let history = RecordHistory::read(&audit, &xref, query, 50).await.unwrap();
            assert_eq!(history.links.len(), 1, "{query}");
            let details: Vec<&str> = history.entries.iter().map(|e| e.detail.as_str()).collect();
            assert_eq!(
                details,
                ["city from Intacct", "customer created"],
                "{query}"
            );
        }
        let none = RecordHistory::read(&audit, &xref, "001000000000009AAA", 50)
            .await
            .unwrap();
        assert!(none.entries.is_empty() && none.links.is_empty());
        assert!(RecordHistory::read(&audit, &xref, " ", 50).await.is_err());
    }
}
