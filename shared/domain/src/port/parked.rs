//! Parked failures: work that failed permanently, acknowledged on its queue and set aside with
//! its reason and the payload needed to replay it, so `ledgerforce status` can count them and
//! `ledgerforce replay` can run them again once a person fixed the cause.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::PortError;
use crate::record::{Flow, RecordRef};

/// The largest replay payload a parked failure holds, as JSON text: far below DynamoDB's
/// 400 KB item limit, and far above a change envelope with its re-read record.
pub const MAX_PARKED_PAYLOAD_BYTES: usize = 64 * 1024;

/// The longest reason kept; a longer one is cut there (ending in `…`). A reason is a sentence
/// for a person; cutting it must not make parking itself fail.
pub const MAX_PARKED_REASON_CHARS: usize = 2_000;

/// What a flow parks.
#[derive(Debug, Clone, PartialEq)]
pub struct ParkRequest {
    pub record: RecordRef,
    pub flow: Flow,
    /// Why, for a person: "Intacct refused the customer: the credit limit must be positive".
    /// Never a payload body or a secret.
    pub reason: String,
    /// The failure's class or kind, for grouping (`permanent`, `intacct/BL01001973`…).
    pub error_class: String,
    /// What `replay` needs to run the work again (typically the change envelope).
    pub payload: Value,
}

impl ParkRequest {
    /// The payload as stored, or [`PortError::Invalid`] naming the record, the flow and the
    /// size when it exceeds [`MAX_PARKED_PAYLOAD_BYTES`]. Nothing is stored in that case.
    pub fn encoded_payload(&self) -> Result<String, PortError> {
        let text = self.payload.to_string();
        if text.len() > MAX_PARKED_PAYLOAD_BYTES {
            return Err(PortError::invalid(format!(
                "the replay payload of {} ({}) is {} bytes of JSON; at most {MAX_PARKED_PAYLOAD_BYTES} \
                 can be parked",
                self.record,
                self.flow,
                text.len()
            )));
        }
        Ok(text)
    }

    /// The reason as stored: cut at [`MAX_PARKED_REASON_CHARS`].
    pub fn stored_reason(&self) -> Cow<'_, str> {
        match self.reason.char_indices().nth(MAX_PARKED_REASON_CHARS - 1) {
            Some((at, _)) if self.reason.chars().count() > MAX_PARKED_REASON_CHARS => {
                Cow::Owned(format!("{}…", &self.reason[..at]))
            }
            _ => Cow::Borrowed(&self.reason),
        }
    }
}

/// One parked failure: the latest attempt's reason, class and payload, and when it was first
/// and last parked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParkedFailure {
    pub record: RecordRef,
    pub flow: Flow,
    pub reason: String,
    pub error_class: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// How many times this record was parked by this flow since it was last removed.
    pub attempts: u32,
    pub payload: Value,
}

/// The parked failures, one per record and flow.
///
/// Guarantees:
/// - `park` is an atomic upsert keyed by (record, flow): the first park sets `first_seen`; each
///   later one keeps it, sets `last_seen` to now (the adapter's [`crate::Clock`]), adds one to
///   `attempts`, and replaces reason, class and payload with the latest. Concurrent parks of one
///   key lose no attempt.
/// - A payload over [`MAX_PARKED_PAYLOAD_BYTES`] is refused with [`PortError::Invalid`] and
///   nothing is stored.
/// - `list` returns newest `last_seen` first (failures with the same `last_seen` in no
///   particular order); `count_by_flow` counts every parked failure.
/// - Reads are strongly consistent with a completed `park` or `remove`.
pub trait ParkedFailures: Send + Sync {
    /// Parks (or parks again) and returns the stored failure.
    fn park(
        &self,
        request: &ParkRequest,
    ) -> impl Future<Output = Result<ParkedFailure, PortError>> + Send;

    /// The failure parked for `record` by `flow`.
    fn get(
        &self,
        record: &RecordRef,
        flow: Flow,
    ) -> impl Future<Output = Result<Option<ParkedFailure>, PortError>> + Send;

    /// Up to `limit` failures, of one flow or of all, newest `last_seen` first.
    fn list(
        &self,
        flow: Option<Flow>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ParkedFailure>, PortError>> + Send;

    /// How many failures each flow has parked; flows with none are absent.
    fn count_by_flow(&self) -> impl Future<Output = Result<BTreeMap<Flow, u64>, PortError>> + Send;

    /// Removes the failure (after a successful replay). Returns whether there was one.
    fn remove(
        &self,
        record: &RecordRef,
        flow: Flow,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::System;
    use serde_json::json;

    fn request(reason: &str, payload: Value) -> ParkRequest {
        ParkRequest {
            record: RecordRef {
                system: System::Salesforce,
                object: "Account".into(),
                id: "001000000000001AAA".into(),
            },
            flow: Flow::AccountSync,
            reason: reason.into(),
            error_class: "permanent".into(),
            payload,
        }
    }

    #[test]
    fn payloads_over_the_cap_are_refused_by_name() {
        let ok = request("r", json!({"a": "x".repeat(1000)}));
        assert!(ok.encoded_payload().unwrap().len() > 1000);
        let big = request("r", json!("x".repeat(MAX_PARKED_PAYLOAD_BYTES)));
        let err = big.encoded_payload().unwrap_err();
        assert!(matches!(err, PortError::Invalid { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("salesforce/Account/001000000000001AAA"),
            "{text}"
        );
        assert!(text.contains("account-sync"), "{text}");
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        assert_eq!(request("short", json!(1)).stored_reason(), "short");
        let exact = "é".repeat(MAX_PARKED_REASON_CHARS);
        assert_eq!(request(&exact, json!(1)).stored_reason(), exact.as_str());
        let long = "é".repeat(MAX_PARKED_REASON_CHARS + 5);
        let cut = request(&long, json!(1)).stored_reason().into_owned();
        assert_eq!(cut.chars().count(), MAX_PARKED_REASON_CHARS);
        assert!(cut.ends_with('…'));
    }
}
