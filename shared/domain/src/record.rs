//! The records the flows pass around: which system and record a change is about, the change
//! envelope that travels on the queues, and the fingerprint that recognises our own echoes.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::id::{CorrelationId, IntacctRef, SalesforceId};

/// One of the two systems we keep in sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum System {
    Salesforce,
    Intacct,
}

impl System {
    pub fn as_str(&self) -> &'static str {
        match self {
            System::Salesforce => "salesforce",
            System::Intacct => "intacct",
        }
    }

    pub fn other(&self) -> System {
        match self {
            System::Salesforce => System::Intacct,
            System::Intacct => System::Salesforce,
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The flows of DESIGN.md §1 that consume a queue. (The change poller is a trigger that feeds
/// them, not a flow of its own.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    OpportunityWon,
    InvoiceStatus,
    AccountSync,
    CreditAlerts,
    AccountOnboarding,
    RevenueReconciliation,
}

impl Flow {
    pub const ALL: [Flow; 6] = [
        Flow::OpportunityWon,
        Flow::InvoiceStatus,
        Flow::AccountSync,
        Flow::CreditAlerts,
        Flow::AccountOnboarding,
        Flow::RevenueReconciliation,
    ];

    /// The kebab-case name used for queues, logs, metrics and mapping spec files.
    pub fn as_str(&self) -> &'static str {
        match self {
            Flow::OpportunityWon => "opportunity-won",
            Flow::InvoiceStatus => "invoice-status",
            Flow::AccountSync => "account-sync",
            Flow::CreditAlerts => "credit-alerts",
            Flow::AccountOnboarding => "account-onboarding",
            Flow::RevenueReconciliation => "revenue-reconciliation",
        }
    }

    pub fn parse(name: &str) -> Option<Flow> {
        Flow::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names one record in one system: `salesforce/Account/001...` or `intacct/CUSTOMER/C-100`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordRef {
    pub system: System,
    /// API name of the object type: `Account`, `Opportunity`, `CUSTOMER`, `ARINVOICE`...
    pub object: String,
    /// The record's id in that system; for Intacct, the company-unique key (CUSTOMERID,
    /// CONTACTNAME, RECORDNO…). The entity a record lives in is an attribute of its link, not
    /// part of its name, so fingerprints, audit and parked entries agree across entity contexts.
    pub id: String,
}

impl RecordRef {
    pub fn salesforce(object: &str, id: &SalesforceId) -> Self {
        Self {
            system: System::Salesforce,
            object: object.to_owned(),
            id: id.as_str().to_owned(),
        }
    }

    pub fn intacct(object: &str, record: &IntacctRef) -> Self {
        Self {
            system: System::Intacct,
            object: object.to_owned(),
            id: record.key.as_str().to_owned(),
        }
    }
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.system, self.object, self.id)
    }
}

/// Where an event came from. Kept for audit and for dedupe of webhook retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EventOrigin {
    /// A Salesforce Outbound Message notification; `notification_id` is its dedupe key.
    OutboundMessage { notification_id: String },
    /// A JSON callout from a Salesforce Flow or Apex.
    FlowCallout { event_id: String },
    /// An Intacct Smart Event HTTP post.
    SmartEvent { event: String },
    /// Found by the change poller's watermark scan.
    Poller,
    /// Asked for by an operator (replay, backfill, reconcile on demand).
    Operator { reason: String },
}

/// The message every flow queue carries. It is a hint: the consumer re-reads the record before
/// acting, so duplicates and out-of-order deliveries converge on the latest state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEnvelope {
    /// Envelope format version, so a consumer can refuse what it does not understand.
    pub v: u32,
    pub flow: Flow,
    pub record: RecordRef,
    pub origin: EventOrigin,
    /// The source's modification time when the event said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<DateTime<Utc>>,
    pub correlation_id: CorrelationId,
    pub received_at: DateTime<Utc>,
}

impl ChangeEnvelope {
    pub const VERSION: u32 = 1;
}

/// A hash of the mapped field values we wrote to (or read from) a record. Equal fingerprints
/// mean equal values: an incoming change whose fingerprint equals the last one we wrote is our
/// own echo.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Hashes a field map. Key order does not matter; nested objects are normalised the same way.
    pub fn of_fields(fields: &Map<String, Value>) -> Self {
        let mut h = Sha256::new();
        hash_object(&mut h, fields);
        Fingerprint(hex::encode(h.finalize()))
    }

    /// Takes a stored fingerprint back (64 lower-case hex digits).
    pub fn from_hex(hex: &str) -> Option<Self> {
        (hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Fingerprint(hex.to_owned()))
    }

    pub fn as_hex(&self) -> &str {
        &self.0
    }
}

fn hash_object(h: &mut Sha256, fields: &Map<String, Value>) {
    let mut keys: Vec<&String> = fields.keys().collect();
    keys.sort();
    h.update(b"{");
    for k in keys {
        hash_str(h, k);
        if let Some(v) = fields.get(k) {
            hash_value(h, v);
        }
    }
    h.update(b"}");
}

/// The canonical hash encoding of a JSON value: object keys sorted, every string and number
/// length-prefixed, so no two different values feed the hasher the same bytes.
pub(crate) fn hash_value(h: &mut Sha256, v: &Value) {
    match v {
        Value::Null => h.update(b"n"),
        Value::Bool(b) => h.update(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            h.update(b"#");
            hash_str(h, &n.to_string());
        }
        Value::String(s) => {
            h.update(b"s");
            hash_str(h, s);
        }
        Value::Array(items) => {
            h.update(b"[");
            for i in items {
                hash_value(h, i);
            }
            h.update(b"]");
        }
        Value::Object(m) => hash_object(h, m),
    }
}

fn hash_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn fingerprint_ignores_key_order_but_not_values() {
        let a = Fingerprint::of_fields(&map(
            json!({"NAME": "Acme", "CITY": "Paris", "X": {"b": 1, "a": 2}}),
        ));
        let b = Fingerprint::of_fields(&map(
            json!({"X": {"a": 2, "b": 1}, "CITY": "Paris", "NAME": "Acme"}),
        ));
        let c = Fingerprint::of_fields(&map(
            json!({"NAME": "Acme", "CITY": "Lyon", "X": {"b": 1, "a": 2}}),
        ));
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Type matters: "1" and 1 are different values.
        assert_ne!(
            Fingerprint::of_fields(&map(json!({"A": "1"}))),
            Fingerprint::of_fields(&map(json!({"A": 1})))
        );
        // Boundaries matter: {"ab":"c"} vs {"a":"bc"}.
        assert_ne!(
            Fingerprint::of_fields(&map(json!({"ab": "c"}))),
            Fingerprint::of_fields(&map(json!({"a": "bc"})))
        );
        assert_eq!(Fingerprint::from_hex(a.as_hex()), Some(a));
        assert_eq!(Fingerprint::from_hex("xyz"), None);
    }

    #[test]
    fn flow_names_round_trip() {
        for f in Flow::ALL {
            assert_eq!(Flow::parse(f.as_str()), Some(f));
            assert_eq!(serde_json::to_value(f).unwrap(), json!(f.as_str()));
        }
        assert_eq!(Flow::parse("nope"), None);
    }

    #[test]
    fn envelope_round_trips_as_json() {
        let env = ChangeEnvelope {
            v: ChangeEnvelope::VERSION,
            flow: Flow::OpportunityWon,
            record: RecordRef::salesforce(
                "Opportunity",
                &SalesforceId::parse("006000000000001").unwrap(),
            ),
            origin: EventOrigin::OutboundMessage {
                notification_id: "04l000000000001AAA".into(),
            },
            modified_at: None,
            correlation_id: CorrelationId::parse("c-1").unwrap(),
            received_at: DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
                .unwrap()
                .to_utc(),
        };
        let json = serde_json::to_string(&env).unwrap();
        assert!(json.contains(r#""origin":{"kind":"outbound-message""#));
        assert_eq!(serde_json::from_str::<ChangeEnvelope>(&json).unwrap(), env);
        assert_eq!(
            env.record.to_string(),
            "salesforce/Opportunity/006000000000001AAA"
        );
    }
}
