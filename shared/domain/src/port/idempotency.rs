//! Idempotency records: do a unit of work once, however often its trigger is delivered.
//!
//! The algorithm is the AWS Powertools one. `begin` is a conditional put of an INPROGRESS
//! record that succeeds when no record exists, the record has expired, or it is INPROGRESS and
//! its in-progress expiry has passed. A COMPLETED record returns its stored result. A failure
//! deletes the record (`release`) so a retry can run. Unlike Powertools, the in-progress expiry
//! is always bounded (by `max_in_progress` when the caller has no deadline), so a function
//! killed at its timeout, which never gets to `release`, blocks its key only until then.
//!
//! Also unlike Powertools, each taken record carries an [`OwnerToken`]: a caller whose
//! in-progress expiry passed and whose key was taken over by another caller is a *stale owner*,
//! and its late `complete` or `release` changes nothing (see [`IdempotencyStore`]).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::PortError;
use crate::id::IdempotencyKey;
use crate::record::hash_value;

/// Hash of the work's input, stored with the record: the same key with a different payload is
/// refused ([`PortError::PayloadMismatch`]) instead of returning another payload's result.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PayloadHash(String);

impl PayloadHash {
    pub fn of_bytes(bytes: &[u8]) -> Self {
        PayloadHash(hex::encode(Sha256::digest(bytes)))
    }

    /// Hashes a JSON payload. Key order does not matter (the workspace's `serde_json` keeps
    /// insertion order, so the text of one payload can differ between deliveries); the
    /// encoding is the one [`crate::Fingerprint`] uses.
    pub fn of_json(value: &Value) -> Self {
        let mut h = Sha256::new();
        hash_value(&mut h, value);
        PayloadHash(hex::encode(h.finalize()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Proof of who took an idempotency key: returned by [`IdempotencyStore::begin`] and required
/// by `complete` and `release`. Opaque (a random UUID); a new one for every successful `begin`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OwnerToken(String);

impl OwnerToken {
    /// A fresh random token.
    pub fn new_random() -> Self {
        OwnerToken(uuid::Uuid::new_v4().to_string())
    }

    /// A token as an adapter stored it.
    pub fn from_stored(text: impl Into<String>) -> Self {
        OwnerToken(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The [`PortError::Conflict`] a stale owner's `complete` fails with (one wording for every
    /// adapter).
    pub fn stale(key: &IdempotencyKey) -> PortError {
        PortError::conflict(format!(
            "idempotency key {key} was taken over by another caller after this caller's \
             in-progress expiry passed; this caller's result is not recorded"
        ))
    }
}

/// Lifetimes of idempotency records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyConfig {
    /// How long a record (completed or not) is kept; after that the work may run again.
    /// Powertools' default is one hour.
    pub expires_after: Duration,
    /// The longest a record may stay INPROGRESS without being completed or released. Used as the
    /// in-progress expiry when the caller gives no deadline, and as its upper bound otherwise.
    /// Default 15 minutes, the longest a Lambda function can run.
    pub max_in_progress: Duration,
}

impl IdempotencyConfig {
    /// The in-progress expiry of a record taken at `now`: the caller's deadline, never later
    /// than `max_in_progress` from now. The bound frees a key whose owner was killed without a
    /// deadline (saturates instead of overflowing on absurd settings).
    pub fn in_progress_until(
        &self,
        now: DateTime<Utc>,
        deadline: Option<DateTime<Utc>>,
    ) -> DateTime<Utc> {
        let bound = add_saturating(now, self.max_in_progress);
        deadline.map_or(bound, |d| d.min(bound))
    }

    /// When a record written at `now` expires.
    pub fn expires_at(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        add_saturating(now, self.expires_after)
    }
}

fn add_saturating(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            expires_after: Duration::from_secs(3600),
            max_in_progress: Duration::from_secs(900),
        }
    }
}

/// What [`IdempotencyStore::begin`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum BeginOutcome {
    /// The caller owns the key now: do the work, then `complete` or `release` with `owner`.
    Started { owner: OwnerToken },
    /// The work was already done; here is its stored result.
    Completed(Value),
    /// Someone else is doing it (or died doing it) and may still finish before `until`.
    /// Retry later; do not do the work now.
    InProgress { until: DateTime<Utc> },
}

/// Idempotency records.
///
/// Guarantees:
/// - At most one caller at a time gets [`BeginOutcome::Started`] for a key (the put is
///   conditional and atomic).
/// - A completed key returns the same stored result until it expires.
/// - A key left INPROGRESS (crash, timeout, kill) becomes startable again once its in-progress
///   expiry passes, which is never later than `max_in_progress` after `begin`.
/// - Times are taken from the adapter's [`crate::Clock`].
/// - Only the current owner changes a taken record. An owner whose record was taken over (its
///   in-progress expiry passed and another `begin` got a new [`OwnerToken`]) is stale: its
///   `complete` fails with [`PortError::Conflict`] and its `release` returns `Ok(false)`, and
///   neither touches the record, so the new owner's run is neither cut short nor overwritten.
pub trait IdempotencyStore: Send + Sync {
    /// Tries to take the key. `deadline` is when the caller will be killed (a Lambda's deadline);
    /// the in-progress expiry is the earlier of it and `now + max_in_progress`.
    fn begin(
        &self,
        key: &IdempotencyKey,
        payload: &PayloadHash,
        deadline: Option<DateTime<Utc>>,
    ) -> impl Future<Output = Result<BeginOutcome, PortError>> + Send;

    /// Marks the key COMPLETED with its result; the record now expires `expires_after` from now.
    ///
    /// Records it when the record is still `owner`'s, even if it expired meanwhile, and when
    /// there is no record at all (it was swept): the work is done, and recording that is what
    /// stops it running again. When another owner holds the record (INPROGRESS or COMPLETED)
    /// nothing changes and the call fails with [`PortError::Conflict`] — or with
    /// [`PortError::PayloadMismatch`] when that record is for another payload.
    fn complete(
        &self,
        key: &IdempotencyKey,
        owner: &OwnerToken,
        payload: &PayloadHash,
        result: &Value,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Deletes the record after a failure so the work can be retried. Only an INPROGRESS record
    /// still held by `owner` is deleted: a late failure must not wipe a result that is already
    /// COMPLETED, nor free a key another caller took over. Returns whether it deleted.
    fn release(
        &self,
        key: &IdempotencyKey,
        owner: &OwnerToken,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
}

/// A borrowed store is a store: a flow holding its ports by reference wraps them without
/// cloning (`Idempotency::new(ports.idempotency())`).
impl<T: IdempotencyStore + ?Sized> IdempotencyStore for &T {
    fn begin(
        &self,
        key: &IdempotencyKey,
        payload: &PayloadHash,
        deadline: Option<DateTime<Utc>>,
    ) -> impl Future<Output = Result<BeginOutcome, PortError>> + Send {
        (**self).begin(key, payload, deadline)
    }

    fn complete(
        &self,
        key: &IdempotencyKey,
        owner: &OwnerToken,
        payload: &PayloadHash,
        result: &Value,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        (**self).complete(key, owner, payload, result)
    }

    fn release(
        &self,
        key: &IdempotencyKey,
        owner: &OwnerToken,
    ) -> impl Future<Output = Result<bool, PortError>> + Send {
        (**self).release(key, owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_payloads_hash_regardless_of_key_order() {
        let a: Value =
            serde_json::from_str(r#"{"id":"001","amount":{"value":5,"ccy":"EUR"}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"amount":{"ccy":"EUR","value":5},"id":"001"}"#).unwrap();
        assert_eq!(PayloadHash::of_json(&a), PayloadHash::of_json(&b));
        let c: Value =
            serde_json::from_str(r#"{"id":"001","amount":{"value":6,"ccy":"EUR"}}"#).unwrap();
        assert_ne!(PayloadHash::of_json(&a), PayloadHash::of_json(&c));
    }

    #[test]
    fn in_progress_expiry_is_the_deadline_capped() {
        let c = IdempotencyConfig::default();
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let cap = now + chrono::Duration::seconds(900);
        assert_eq!(c.in_progress_until(now, None), cap);
        let soon = now + chrono::Duration::seconds(30);
        assert_eq!(c.in_progress_until(now, Some(soon)), soon);
        assert_eq!(
            c.in_progress_until(now, Some(cap + chrono::Duration::seconds(1))),
            cap
        );
        let huge = IdempotencyConfig {
            max_in_progress: Duration::MAX,
            ..c
        };
        assert_eq!(huge.in_progress_until(now, None), DateTime::<Utc>::MAX_UTC);
        assert_eq!(c.expires_at(now), now + chrono::Duration::seconds(3600));
    }
}
