//! Idempotency per item: each change a flow handles is done once, however often it is
//! delivered, over the [`IdempotencyStore`] port (the Powertools algorithm, see its docs).
//!
//! A flow keys each item with an [`ItemKey`] — the flow, then the source system, object, id and
//! modification stamp of the changed record — takes the batch's keys with
//! [`Idempotency::begin_batch`], does the work of the items whose [`Gate`] is `Run`, and then
//! [`Idempotency::complete`]s each with its result (or [`Idempotency::release`]s it after a
//! failure so a retry can run). An item whose key is `AlreadyDone` returns the stored result;
//! a `Busy` one is retried later.
//!
//! The stamp is what makes a newer change of the same record new work while a redelivery of
//! the same change is not. The flow is part of the key because two flows acting on one change
//! (opportunity-won and account-sync both read an Account) each have their own work to do.

use chrono::{DateTime, SecondsFormat, Utc};
use futures::future::join_all;
use lf_domain::port::{BeginOutcome, IdempotencyStore, OwnerToken, PayloadHash};
use lf_domain::{
    ChangeEnvelope, Classify, Deadline, ErrorClass, Flow, IdError, IdempotencyKey, PortError,
    RecordRef,
};
use serde_json::Value;

use crate::batch::Outcome;

/// The idempotency key of one item and the hash of what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemKey {
    key: IdempotencyKey,
    payload: PayloadHash,
}

impl ItemKey {
    /// The key of a change whose event carried the source's modification stamp
    /// (`ChangeEnvelope::modified_at`); `None` when it did not, and the flow keys the item with
    /// [`ItemKey::for_record`] after re-reading the record.
    pub fn for_change(flow: Flow, envelope: &ChangeEnvelope) -> Option<Result<Self, IdError>> {
        envelope
            .modified_at
            .map(|stamp| Self::for_record(flow, &envelope.record, stamp))
    }

    /// The key of the change of `record` last modified at `modified` (the re-read record's
    /// `SystemModstamp` or `WHENMODIFIED`).
    ///
    /// Fails only if the key cannot be formed, which for the fixed flow names cannot happen
    /// (the parts are hashed).
    pub fn for_record(
        flow: Flow,
        record: &RecordRef,
        modified: DateTime<Utc>,
    ) -> Result<Self, IdError> {
        let stamp = modified.to_rfc3339_opts(SecondsFormat::Millis, true);
        let key = IdempotencyKey::derive(
            flow.as_str(),
            &[record.system.as_str(), &record.object, &record.id, &stamp],
        )?;
        // The payload is the record and stamp the key names: a hash collision in the key would
        // then show as a payload mismatch instead of returning another record's result.
        let payload = PayloadHash::of_json(&serde_json::json!({
            "record": record,
            "modified": stamp,
        }));
        Ok(Self { key, payload })
    }

    /// The store's key.
    pub fn key(&self) -> &IdempotencyKey {
        &self.key
    }

    /// The payload hash stored with the key.
    pub fn payload(&self) -> &PayloadHash {
        &self.payload
    }
}

/// How the outcome of a change done before starts: the stored result follows.
const ALREADY_DONE: &str = "already done: ";

/// Whether `outcome` is the stored result of a change done before (answered by the gate,
/// not worked again): what it says was done then, not now.
pub fn replayed(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Done { detail } if detail.starts_with(ALREADY_DONE))
}

/// How long after a hold's end a busy item is retried: room for the clocks of the processes
/// sharing the store to differ.
const BUSY_MARGIN: std::time::Duration = std::time::Duration::from_secs(1);

/// What an item may do, from its key's record.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Do the work, then `complete` or `release` with `owner`.
    Run { owner: OwnerToken },
    /// Done before; this is the result then recorded.
    AlreadyDone(Value),
    /// Another delivery is doing it (or died doing it) until `until`: retry the item later.
    Busy { until: DateTime<Utc> },
    /// The store could not decide (unavailable, throttled), or the key was used for another
    /// payload (permanent).
    Failed { class: ErrorClass, reason: String },
}

impl Gate {
    /// The outcome of an item that must not run now: `None` for [`Gate::Run`].
    ///
    /// `AlreadyDone` is done (with the stored result as its detail), `Busy` and a retryable
    /// failure are retried, a permanent failure is parked.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome_at(Utc::now())
    }

    /// [`Gate::outcome`] as of `now` (what a `Busy` item waits is counted from it).
    pub fn outcome_at(&self, now: DateTime<Utc>) -> Option<Outcome> {
        match self {
            Gate::Run { .. } => None,
            Gate::AlreadyDone(result) => Some(Outcome::done(match result {
                Value::String(s) => format!("{ALREADY_DONE}{s}"),
                other => format!("{ALREADY_DONE}{other}"),
            })),
            // Not before the hold ends: by then the holder has finished (the next delivery
            // is answered from its result) or died (the next delivery takes the key). A
            // consumer that backs off by class waits that long, so a duplicate does not spend
            // its queue's receives while a long batch or a dead one holds the key.
            Gate::Busy { until } => Some(Outcome::retry(
                ErrorClass::Throttled {
                    retry_after: Some((*until - now).to_std().unwrap_or_default() + BUSY_MARGIN),
                },
                format!(
                    "another delivery of this change is in progress (until {})",
                    until.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
            )),
            Gate::Failed { class, reason } if class.is_retryable() => {
                Some(Outcome::retry(*class, reason.clone()))
            }
            Gate::Failed { reason, .. } => Some(Outcome::parked(reason.clone())),
        }
    }
}

/// The per-item idempotency helper the flows use, over any [`IdempotencyStore`].
#[derive(Debug, Clone)]
pub struct Idempotency<S> {
    store: S,
}

impl<S: IdempotencyStore> Idempotency<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Takes every key of a batch (concurrently), one [`Gate`] per key in order. `deadline`
    /// is when the caller will be stopped: a key taken now is freed by then at the latest if
    /// the caller dies without completing or releasing it.
    pub async fn begin_batch(&self, keys: &[ItemKey], deadline: Option<Deadline>) -> Vec<Gate> {
        let now = Utc::now();
        let until = deadline.map(|d| d.to_utc(now));
        let begins = keys.iter().map(|k| async move {
            match self.store.begin(&k.key, &k.payload, until).await {
                Ok(BeginOutcome::Started { owner }) => Gate::Run { owner },
                Ok(BeginOutcome::Completed(result)) => Gate::AlreadyDone(result),
                Ok(BeginOutcome::InProgress { until }) => Gate::Busy { until },
                Err(error) => failed(&k.key, &error),
            }
        });
        join_all(begins).await
    }

    /// Records the item's result; later deliveries of the same change get
    /// [`Gate::AlreadyDone`] with it.
    ///
    /// Fails with [`PortError::Conflict`] when this caller's hold expired and another delivery
    /// took the key over: the work was done twice then, which the remote writes tolerate (they
    /// are idempotent by their own keys), and the other delivery's result stands.
    pub async fn complete(
        &self,
        key: &ItemKey,
        owner: &OwnerToken,
        result: &Value,
    ) -> Result<(), PortError> {
        self.store
            .complete(&key.key, owner, &key.payload, result)
            .await
    }

    /// Frees the key after a failure so the next delivery runs the work again. Returns whether
    /// it was freed (`false`: the hold had expired and another caller took the key).
    pub async fn release(&self, key: &ItemKey, owner: &OwnerToken) -> Result<bool, PortError> {
        self.store.release(&key.key, owner).await
    }
}

fn failed(key: &IdempotencyKey, error: &PortError) -> Gate {
    Gate::Failed {
        class: error.class(),
        reason: format!("idempotency record {key}: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use lf_domain::port::IdempotencyConfig;
    use lf_domain::{CorrelationId, EventOrigin, ManualClock, System};
    use lf_embedded::{Database, SqliteIdempotencyStore};
    use serde_json::json;

    use super::*;

    fn record(id: &str) -> RecordRef {
        RecordRef {
            system: System::Salesforce,
            object: "Opportunity".into(),
            id: id.into(),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn store(dir: &tempfile::TempDir) -> (Idempotency<SqliteIdempotencyStore>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(at("2026-03-01T10:00:00Z")));
        let db = Database::open(dir.path().join("lf.db"), clock.clone()).unwrap();
        let config = IdempotencyConfig {
            expires_after: Duration::from_secs(3600),
            max_in_progress: Duration::from_secs(60),
        };
        (Idempotency::new(db.idempotency_store(config)), clock)
    }

    fn envelope(id: &str, modified_at: Option<DateTime<Utc>>) -> ChangeEnvelope {
        ChangeEnvelope {
            v: ChangeEnvelope::VERSION,
            flow: Flow::OpportunityWon,
            record: record(id),
            origin: EventOrigin::Poller,
            modified_at,
            correlation_id: CorrelationId::new_random(),
            received_at: at("2026-03-01T10:00:01Z"),
        }
    }

    #[test]
    fn keys_differ_by_flow_record_and_stamp_only() {
        let t = at("2026-03-01T09:00:00Z");
        let a = ItemKey::for_record(Flow::OpportunityWon, &record("006A"), t).unwrap();
        assert_eq!(
            a,
            ItemKey::for_record(Flow::OpportunityWon, &record("006A"), t).unwrap()
        );
        let other_stamp = ItemKey::for_record(
            Flow::OpportunityWon,
            &record("006A"),
            t + chrono::Duration::milliseconds(1),
        )
        .unwrap();
        let other_record = ItemKey::for_record(Flow::OpportunityWon, &record("006B"), t).unwrap();
        let other_flow = ItemKey::for_record(Flow::AccountSync, &record("006A"), t).unwrap();
        for other in [&other_stamp, &other_record, &other_flow] {
            assert_ne!(a.key(), other.key());
        }
        assert!(a.key().as_str().starts_with("opportunity-won:"));
        // The envelope's stamp, when present, gives the same key as the re-read one.
        let from_event = ItemKey::for_change(Flow::OpportunityWon, &envelope("006A", Some(t)))
            .unwrap()
            .unwrap();
        assert_eq!(from_event, a);
        assert!(ItemKey::for_change(Flow::OpportunityWon, &envelope("006A", None)).is_none());
        for flow in Flow::ALL {
            assert!(ItemKey::for_record(flow, &record("006A"), t).is_ok());
        }
    }

    #[tokio::test]
    async fn a_batch_runs_new_items_returns_done_ones_and_holds_busy_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (idem, _clock) = store(&dir);
        let t = at("2026-03-01T09:00:00Z");
        let keys: Vec<ItemKey> = ["006A", "006B", "006C"]
            .iter()
            .map(|id| ItemKey::for_record(Flow::OpportunityWon, &record(id), t).unwrap())
            .collect();

        let first = idem.begin_batch(&keys, None).await;
        assert!(
            first.iter().all(|g| matches!(g, Gate::Run { .. })),
            "{first:?}"
        );
        let owner = |g: &Gate| match g {
            Gate::Run { owner } => owner.clone(),
            other => panic!("{other:?}"),
        };
        idem.complete(&keys[0], &owner(&first[0]), &json!("invoice INV-1"))
            .await
            .unwrap();
        assert!(idem.release(&keys[1], &owner(&first[1])).await.unwrap());
        // keys[2] stays in progress: its delivery is still working (or died).

        let second = idem.begin_batch(&keys, None).await;
        assert_eq!(second[0], Gate::AlreadyDone(json!("invoice INV-1")));
        assert!(matches!(second[1], Gate::Run { .. }), "{:?}", second[1]);
        assert!(matches!(second[2], Gate::Busy { .. }), "{:?}", second[2]);

        assert_eq!(
            second[0].outcome(),
            Some(Outcome::done("already done: invoice INV-1"))
        );
        assert!(second[1].outcome().is_none());
        assert!(matches!(
            second[2].outcome(),
            Some(Outcome::Retry {
                class: ErrorClass::Throttled {
                    retry_after: Some(_)
                },
                ..
            })
        ));
    }

    #[test]
    fn a_busy_item_is_retried_no_sooner_than_its_hold_ends() {
        let now = at("2026-03-01T09:00:00Z");
        let until = at("2026-03-01T09:00:40Z");
        let Some(Outcome::Retry {
            class: ErrorClass::Throttled {
                retry_after: Some(after),
            },
            reason,
        }) = (Gate::Busy { until }).outcome_at(now)
        else {
            panic!("a busy item is retried after a wait");
        };
        assert_eq!(after, Duration::from_secs(40) + BUSY_MARGIN);
        assert_eq!(
            reason,
            "another delivery of this change is in progress (until 2026-03-01T09:00:40Z)"
        );
        // A hold already over: the margin only.
        assert!(matches!(
            (Gate::Busy { until }).outcome_at(at("2026-03-01T09:00:45Z")),
            Some(Outcome::Retry {
                class: ErrorClass::Throttled { retry_after: Some(d) },
                ..
            }) if d == BUSY_MARGIN
        ));
    }

    #[tokio::test]
    async fn a_held_key_frees_itself_once_its_hold_expires() {
        let dir = tempfile::tempdir().unwrap();
        let (idem, clock) = store(&dir);
        let key = ItemKey::for_record(
            Flow::OpportunityWon,
            &record("006A"),
            at("2026-03-01T09:00:00Z"),
        )
        .unwrap();
        let stale = match &idem.begin_batch(std::slice::from_ref(&key), None).await[0] {
            Gate::Run { owner } => owner.clone(),
            other => panic!("{other:?}"),
        };
        assert!(matches!(
            idem.begin_batch(std::slice::from_ref(&key), None).await[0],
            Gate::Busy { .. }
        ));
        clock.advance(Duration::from_secs(61));
        let fresh = match &idem.begin_batch(std::slice::from_ref(&key), None).await[0] {
            Gate::Run { owner } => owner.clone(),
            other => panic!("{other:?}"),
        };
        // The first delivery woke up late: its completion does not overwrite the new owner's.
        let late = idem
            .complete(&key, &stale, &json!("late"))
            .await
            .unwrap_err();
        assert!(matches!(late, PortError::Conflict { .. }), "{late:?}");
        assert!(!idem.release(&key, &stale).await.unwrap());
        idem.complete(&key, &fresh, &json!("fresh")).await.unwrap();
        assert_eq!(
            idem.begin_batch(std::slice::from_ref(&key), None).await[0],
            Gate::AlreadyDone(json!("fresh"))
        );
    }

    #[test]
    fn a_permanent_store_failure_parks_and_a_transient_one_retries() {
        let permanent = Gate::Failed {
            class: ErrorClass::Permanent,
            reason: "payload mismatch".into(),
        };
        assert_eq!(
            permanent.outcome(),
            Some(Outcome::parked("payload mismatch"))
        );
        let transient = Gate::Failed {
            class: ErrorClass::Transient,
            reason: "store away".into(),
        };
        assert_eq!(
            transient.outcome(),
            Some(Outcome::retry(ErrorClass::Transient, "store away"))
        );
    }
}
