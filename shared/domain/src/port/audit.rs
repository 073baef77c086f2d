//! The append-only audit log: what the sync did to each record, and why.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::PortError;
use crate::id::CorrelationId;
use crate::record::{Flow, RecordRef};

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    Created,
    Updated,
    Linked,
    /// The change was our own write coming back; nothing was written.
    SkippedEcho,
    /// The target already had these values; nothing was written.
    Unchanged,
    /// Both sides changed a field and the policy could not decide; flagged for review.
    Conflict,
    /// A permanent failure: acknowledged and set aside with its reason.
    Parked,
    Deleted,
}

/// One line of the audit log. `detail` is a human-readable sentence; never a payload body or
/// a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub record: RecordRef,
    pub at: DateTime<Utc>,
    pub flow: Flow,
    pub action: AuditAction,
    pub correlation_id: CorrelationId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterpart: Option<RecordRef>,
    pub detail: String,
}

/// The audit log.
///
/// Guarantees:
/// - Append-only: an entry is never overwritten, even when two entries for the same record
///   carry the same timestamp.
/// - `history` returns a record's entries newest first; entries with the same timestamp come
///   in no particular order.
pub trait AuditLog: Send + Sync {
    fn append(&self, entry: &AuditEntry) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Up to `limit` entries for `record`, newest first.
    fn history(
        &self,
        record: &RecordRef,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, PortError>> + Send;
}
