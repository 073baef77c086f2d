//! From a batch of queue items to the distinct records they name, and back: a record named by
//! several items of one batch (a duplicated or repeated notification) is read, planned and
//! written once, and every item naming it gets its outcome. The idempotency gate is taken per
//! record and modification stamp, after the re-read.

use chrono::{DateTime, Utc};
use lf_domain::port::{IdempotencyStore, IntacctRecord, OwnerToken};
use lf_domain::{CorrelationId, Deadline, Flow, RecordRef, SalesforceId, System};
use serde_json::Value;

use crate::batch::{Outcome, WorkItem};
use crate::idempotency::{Gate, Idempotency, ItemKey};

/// The distinct Salesforce records of one object a batch names, in first-seen order.
#[derive(Debug)]
pub(crate) struct SalesforceRecords {
    pub ids: Vec<SalesforceId>,
    /// Per record, the correlation id of the first item naming it (for audit entries).
    pub correlations: Vec<CorrelationId>,
    /// Per item: the index of its record in `ids`, or why it cannot be handled.
    items: Vec<Result<usize, Outcome>>,
}

impl SalesforceRecords {
    /// Groups `items`; one naming another system or object, or an id that is not a Salesforce
    /// id, is parked (it can never succeed in this flow).
    pub fn of(items: &[WorkItem], object: &str, flow: Flow) -> Self {
        let (ids, correlations, items) = distinct(items, |r| {
            if r.system != System::Salesforce || r.object != object {
                return Err(Outcome::parked(format!(
                    "the {flow} flow handles Salesforce {object} changes, not {r}"
                )));
            }
            SalesforceId::parse(&r.id)
                .map_err(|e| Outcome::parked(format!("{r}: not a Salesforce id: {e}")))
        });
        Self {
            ids,
            correlations,
            items,
        }
    }

    /// One outcome per item from one outcome per record.
    pub fn outcomes(self, per_record: &[Outcome]) -> Vec<Outcome> {
        per_item(self.items, per_record)
    }
}

/// The distinct Intacct records a batch names (any of the flow's objects), in first-seen
/// order: the Intacct counterpart of [`SalesforceRecords`].
#[derive(Debug)]
pub(crate) struct IntacctRecords {
    /// The records, named as the webhook and the poller name them (object and key).
    pub refs: Vec<RecordRef>,
    /// Per record, the correlation id of the first item naming it.
    pub correlations: Vec<CorrelationId>,
    items: Vec<Result<usize, Outcome>>,
}

impl IntacctRecords {
    /// Groups `items`; one naming another system or an object not in `objects` is parked.
    pub fn of(items: &[WorkItem], objects: &[&str], flow: Flow) -> Self {
        let (refs, correlations, items) = distinct(items, |r| {
            let known = objects.iter().any(|o| o.eq_ignore_ascii_case(&r.object));
            if r.system != System::Intacct || !known || r.id.trim().is_empty() {
                return Err(Outcome::parked(format!(
                    "the {flow} flow handles Intacct {} changes, not {r}",
                    objects.join(" / ")
                )));
            }
            Ok(RecordRef {
                system: System::Intacct,
                object: r.object.to_ascii_uppercase(),
                id: r.id.trim().to_owned(),
            })
        });
        Self {
            refs,
            correlations,
            items,
        }
    }

    /// One outcome per item from one outcome per record.
    pub fn outcomes(self, per_record: &[Outcome]) -> Vec<Outcome> {
        per_item(self.items, per_record)
    }

    /// One answer per item from one per record (a dry run's); an item that names no record
    /// of the flow gets `rejected` of the outcome it would have.
    pub fn answers<T: Clone>(&self, per_record: &[T], rejected: impl Fn(&Outcome) -> T) -> Vec<T> {
        self.items
            .iter()
            .map(|r| match r {
                Ok(at) => per_record[*at].clone(),
                Err(outcome) => rejected(outcome),
            })
            .collect()
    }
}

/// The distinct keys `key_of` finds in `items` (first-seen order), the correlation id of the
/// first item of each, and per item the index of its key or why it has none.
#[allow(clippy::type_complexity)] // the three parallel lists both groupings keep
fn distinct<K: PartialEq>(
    items: &[WorkItem],
    key_of: impl Fn(&RecordRef) -> Result<K, Outcome>,
) -> (Vec<K>, Vec<CorrelationId>, Vec<Result<usize, Outcome>>) {
    let mut keys: Vec<K> = Vec::new();
    let mut correlations = Vec::new();
    let per_item = items
        .iter()
        .map(|item| {
            let key = key_of(&item.envelope.record)?;
            Ok(match keys.iter().position(|known| *known == key) {
                Some(at) => at,
                None => {
                    keys.push(key);
                    correlations.push(item.envelope.correlation_id.clone());
                    keys.len() - 1
                }
            })
        })
        .collect();
    (keys, correlations, per_item)
}

fn per_item(items: Vec<Result<usize, Outcome>>, per_record: &[Outcome]) -> Vec<Outcome> {
    items
        .into_iter()
        .map(|r| match r {
            Ok(at) => per_record.get(at).cloned().unwrap_or_else(|| {
                Outcome::retry(
                    lf_domain::ErrorClass::Transient,
                    "no outcome was decided for this record",
                )
            }),
            Err(outcome) => outcome,
        })
        .collect()
}

/// The idempotency stamp of a re-read Intacct record: its `WHENMODIFIED`.
pub(crate) fn intacct_stamp(record: &IntacctRecord) -> Option<DateTime<Utc>> {
    record
        .field("WHENMODIFIED")
        .and_then(|s| lf_domain::datetime::parse_datetime(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The idempotency name of a re-read Salesforce record: its reference and `SystemModstamp`.
pub(crate) fn stamped(
    object: &str,
    id: &SalesforceId,
    record: &Value,
) -> (RecordRef, Option<DateTime<Utc>>) {
    let stamp = record
        .get("SystemModstamp")
        .and_then(Value::as_str)
        .and_then(|s| lf_domain::datetime::parse_datetime(s).ok())
        .map(|t| t.with_timezone(&Utc));
    (RecordRef::salesforce(object, id), stamp)
}

/// `stamp` when it can name a finished change: whole-second stamps (Intacct's `WHENMODIFIED`)
/// name every change made within that second, so a record re-read before its second is over
/// may miss a later change with the same stamp. Such a read is worked without a hold (its
/// writes are idempotent by their own keys), so a redelivery of that later change is worked
/// again instead of being answered as done.
pub(crate) fn settled(
    stamp: Option<DateTime<Utc>>,
    read_after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    stamp.filter(|s| *s + chrono::Duration::seconds(1) <= read_after)
}

/// A record's idempotency hold while its work runs.
#[derive(Debug)]
pub(crate) struct Hold {
    key: ItemKey,
    owner: OwnerToken,
}

/// Takes the idempotency key of each record that was read: `Ok(Some(hold))` to do the work,
/// `Ok(None)` for a record without a stamp (worked without a hold: its writes are idempotent
/// by their own keys), `Err(outcome)` when the change was already done or is in progress.
pub(crate) async fn gate<S: IdempotencyStore>(
    store: &S,
    flow: Flow,
    records: &[(RecordRef, Option<DateTime<Utc>>)],
    deadline: Option<Deadline>,
) -> Vec<Result<Option<Hold>, Outcome>> {
    let idempotency = Idempotency::new(store);
    let keys: Vec<Option<ItemKey>> = records
        .iter()
        .map(|(r, stamp)| stamp.and_then(|s| ItemKey::for_record(flow, r, s).ok()))
        .collect();
    let taken: Vec<ItemKey> = keys.iter().flatten().cloned().collect();
    let mut gates = idempotency.begin_batch(&taken, deadline).await.into_iter();
    keys.into_iter()
        .map(|key| {
            let Some(key) = key else { return Ok(None) };
            match gates.next() {
                Some(Gate::Run { owner }) => Ok(Some(Hold { key, owner })),
                Some(other) => Err(other
                    .outcome()
                    .unwrap_or_else(|| Outcome::done("already done"))),
                None => Err(Outcome::retry(
                    lf_domain::ErrorClass::Transient,
                    "the idempotency store gave no answer for this change",
                )),
            }
        })
        .collect()
}

/// Ends a hold with the record's outcome: a done change is recorded (a redelivery of the same
/// change is then answered from the record); a retried or parked one is released so the next
/// delivery runs it again. A parked change must not be recorded as done: `replay` sends it
/// again once its cause is fixed (a product code added in Intacct), usually without the record
/// having changed, and the replay would otherwise be answered "already done". A store failure
/// here is logged, not raised: the work is done, and a redelivery finds its results by their
/// keys.
pub(crate) async fn finish<S: IdempotencyStore>(store: &S, hold: Hold, outcome: &Outcome) {
    let idempotency = Idempotency::new(store);
    let result = match outcome {
        Outcome::Done { detail } | Outcome::Echo { detail } => idempotency
            .complete(&hold.key, &hold.owner, &Value::String(detail.clone()))
            .await
            .map(|_| ()),
        Outcome::Parked { .. } | Outcome::Retry { .. } => idempotency
            .release(&hold.key, &hold.owner)
            .await
            .map(|_| ()),
    };
    if let Err(error) = result {
        tracing::warn!(key = %hold.key.key(), %error, "idempotency record not updated");
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn item(system: System, object: &str, id: &str) -> WorkItem {
        WorkItem {
            message_id: format!("m-{id}"),
            receive_count: 1,
            envelope: lf_domain::ChangeEnvelope {
                v: lf_domain::ChangeEnvelope::VERSION,
                flow: Flow::InvoiceStatus,
                record: RecordRef {
                    system,
                    object: object.into(),
                    id: id.into(),
                },
                origin: lf_domain::EventOrigin::SmartEvent { event: id.into() },
                modified_at: None,
                correlation_id: CorrelationId::new_random(),
                received_at: Utc::now(),
            },
        }
    }

    #[test]
    fn intacct_items_group_by_object_and_key_and_foreign_ones_park() {
        let items = [
            item(System::Intacct, "ARINVOICE", "7"),
            item(System::Intacct, "arinvoice", "7"),
            item(System::Intacct, "ARPYMT", "7"),
            item(System::Salesforce, "Account", "001000000000001AAA"),
            item(System::Intacct, "CONTACT", "Ada"),
        ];
        let records = IntacctRecords::of(&items, &["ARINVOICE", "ARPYMT"], Flow::InvoiceStatus);
        assert_eq!(records.refs.len(), 2, "{:?}", records.refs);
        let outcomes = records.outcomes(&[Outcome::done("invoice"), Outcome::done("payment")]);
        assert_eq!(outcomes[0], Outcome::done("invoice"));
        assert_eq!(
            outcomes[1],
            Outcome::done("invoice"),
            "the same record, once"
        );
        assert_eq!(outcomes[2], Outcome::done("payment"));
        assert!(matches!(outcomes[3], Outcome::Parked { .. }));
        assert!(matches!(outcomes[4], Outcome::Parked { .. }));
    }

    #[tokio::test]
    async fn a_parked_change_runs_again_when_it_is_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let db = lf_embedded::Database::open(
            dir.path().join("lf.db"),
            std::sync::Arc::new(lf_domain::SystemClock),
        )
        .unwrap();
        let store = db.idempotency_store(lf_domain::port::IdempotencyConfig::default());
        let stamp = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        let id = SalesforceId::parse("006000000000001AAA").unwrap();
        let records = [(RecordRef::salesforce("Opportunity", &id), Some(stamp))];

        let mut first = gate(&store, Flow::OpportunityWon, &records, None).await;
        let hold = first.remove(0).unwrap().expect("a hold");
        finish(
            &store,
            hold,
            &Outcome::parked("unknown product code GADGET-9"),
        )
        .await;
        // The same change again (a replay after the product code was added): it runs.
        let mut again = gate(&store, Flow::OpportunityWon, &records, None).await;
        let hold = match again.remove(0) {
            Ok(Some(hold)) => hold,
            other => panic!("a replayed parked change must run again, got {other:?}"),
        };
        finish(&store, hold, &Outcome::done("invoice INV-1")).await;
        // Once done, a redelivery is answered from the record.
        let done = gate(&store, Flow::OpportunityWon, &records, None).await;
        assert!(
            matches!(&done[0], Err(Outcome::Done { detail }) if detail.contains("INV-1")),
            "{done:?}"
        );
    }

    #[test]
    fn a_stamp_names_a_finished_change_only_once_its_second_is_over() {
        let stamp = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        let within = stamp + chrono::Duration::milliseconds(900);
        assert_eq!(settled(Some(stamp), within), None);
        assert_eq!(
            settled(Some(stamp), stamp + chrono::Duration::seconds(1)),
            Some(stamp)
        );
        assert_eq!(settled(None, within), None);
    }
}
