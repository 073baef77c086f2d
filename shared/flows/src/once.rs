//! Each queued item done once: the idempotency record keyed by source system + object + id +
//! the modification stamp the event carried. A small private stand-in for the runtime's
//! idempotency wrapper (`lf_flows::idempotency`, branch w-runtime): swap it when that lands.

use lf_domain::port::{BeginOutcome, IdempotencyStore, OwnerToken, PayloadHash};
use lf_domain::{Deadline, Flow, IdempotencyKey};
use serde_json::{Value, json};

use crate::batch::{Outcome, WorkItem};

/// Where one item stands after `begin`.
#[derive(Debug)]
pub(crate) enum Gate {
    /// This caller owns the item: do the work, then [`finish`].
    Run {
        key: IdempotencyKey,
        owner: OwnerToken,
        payload: PayloadHash,
    },
    /// Decided already (done before, in progress elsewhere, or the store failed).
    Decided(Outcome),
}

fn key_of(flow: Flow, item: &WorkItem) -> Result<IdempotencyKey, String> {
    let r = &item.envelope.record;
    let stamp = item
        .envelope
        .modified_at
        .map_or_else(|| "unstamped".to_owned(), |t| t.to_rfc3339());
    IdempotencyKey::derive(
        flow.as_str(),
        &[r.system.as_str(), &r.object, &r.id, &stamp],
    )
    .map_err(|e| e.to_string())
}

/// Takes the item's key. An item without a modification stamp is keyed by its record alone:
/// a later unstamped event for the same record then finds the earlier result until it
/// expires, which is safe because the flow re-reads and converges anyway.
pub(crate) async fn begin<D: IdempotencyStore>(
    store: &D,
    flow: Flow,
    item: &WorkItem,
    deadline: Option<Deadline>,
    now: chrono::DateTime<chrono::Utc>,
) -> Gate {
    let key = match key_of(flow, item) {
        Ok(k) => k,
        Err(e) => return Gate::Decided(Outcome::parked(format!("cannot key the item: {e}"))),
    };
    let payload = PayloadHash::of_json(&json!({
        "record": item.envelope.record.to_string(),
        "modified_at": item.envelope.modified_at,
    }));
    let until = deadline.map(|d| d.to_utc(now));
    match store.begin(&key, &payload, until).await {
        Ok(BeginOutcome::Started { owner }) => Gate::Run {
            key,
            owner,
            payload,
        },
        Ok(BeginOutcome::Completed(result)) => Gate::Decided(Outcome::done(format!(
            "already done: {}",
            result.get("detail").and_then(Value::as_str).unwrap_or("")
        ))),
        Ok(BeginOutcome::InProgress { until }) => Gate::Decided(Outcome::retry(
            lf_domain::ErrorClass::Transient,
            format!("in progress elsewhere until {until}"),
        )),
        Err(e) => Gate::Decided(Outcome::retry(
            lf_domain::Classify::class(&e),
            format!("idempotency store: {e}"),
        )),
    }
}

/// Records a final outcome (done or parked) or frees the key for a retry.
pub(crate) async fn finish<D: IdempotencyStore>(store: &D, gate: &Gate, outcome: &Outcome) {
    let Gate::Run {
        key,
        owner,
        payload,
    } = gate
    else {
        return;
    };
    let result = match outcome {
        Outcome::Done { detail } => json!({"detail": detail}),
        Outcome::Parked { reason } => json!({"detail": format!("parked: {reason}")}),
        Outcome::Retry { .. } => {
            if let Err(e) = store.release(key, owner).await {
                tracing::warn!(%key, error = %e, "could not release an idempotency key");
            }
            return;
        }
    };
    if let Err(e) = store.complete(key, owner, payload, &result).await {
        // The work is done and its writes are idempotent: a redelivery re-reads and converges.
        tracing::warn!(%key, error = %e, "could not record an idempotency result");
    }
}
