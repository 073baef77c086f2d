//! Watermarks for the change poller and fingerprints of what we last wrote, per record and flow.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::PortError;
use crate::record::{Fingerprint, Flow, RecordRef};

/// How far a change stream has been read: the modification time of the last change taken and,
/// for changes sharing that time, the id of the last one (so a page boundary inside one second
/// loses nothing).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Watermark {
    pub modified_at: DateTime<Utc>,
    #[serde(default)]
    pub last_id: String,
}

impl Watermark {
    /// The `last_id` of a cursor at an Intacct record: its RECORDNO zero-padded to 20
    /// digits, because watermarks compare (and the stores compare them) by `last_id`'s
    /// bytes, and 10000 must come after 9999 within one second.
    pub fn record_number_id(recordno: u64) -> String {
        format!("{recordno:020}")
    }

    /// The RECORDNO a cursor at an Intacct record names, padded or not.
    pub fn record_number(&self) -> Option<u64> {
        self.last_id.parse().ok()
    }
}

/// Sync state.
///
/// Guarantees:
/// - Watermarks only move forward: `advance_watermark` to a value at or behind the stored one
///   changes nothing and returns `false`, even when two pollers race.
/// - Fingerprints are keyed by record **and** flow: several flows writing one record (four of
///   them write Accounts) each keep their own, so one flow's write never makes another flow
///   mistake its own echo for a foreign change, or the reverse.
/// - `record_fingerprint` replaces the previous fingerprint of that record for that flow only;
///   reads are strongly consistent with a completed write.
pub trait SyncState: Send + Sync {
    /// The watermark of a stream (e.g. `salesforce/Account`, `intacct/EU/CUSTOMER`).
    fn watermark(
        &self,
        stream: &str,
    ) -> impl Future<Output = Result<Option<Watermark>, PortError>> + Send;

    /// Moves the watermark forward to `to`. Returns whether it moved.
    fn advance_watermark(
        &self,
        stream: &str,
        to: &Watermark,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// The fingerprint of the values `flow` last wrote to `record`.
    fn fingerprint(
        &self,
        record: &RecordRef,
        flow: Flow,
    ) -> impl Future<Output = Result<Option<Fingerprint>, PortError>> + Send;

    /// Records the fingerprint of the values `flow` just wrote to `record`.
    fn record_fingerprint(
        &self,
        record: &RecordRef,
        flow: Flow,
        fingerprint: &Fingerprint,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}
