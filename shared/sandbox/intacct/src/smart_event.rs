//! Smart Events: the HTTP Post actions of infra/intacct/smart-events, fired on committed
//! changes and delivered at least once through [`lf_sandbox_core::Pusher`].
//!
//! The body is the version-1 payload of infra/intacct/smart-event-payload.schema.json, with
//! the same field names and order as the installed templates. Unlike Intacct's plain text
//! injection, values are JSON-escaped here, so ids with quotes still make valid JSON.

use lf_sandbox_core::{Delivery, PushConfig};
use serde_json::{Map, Value, json};

use crate::company::{Change, ChangeKind};

/// Every topic ledgerforce defines.
pub const ALL_TOPICS: [&str; 8] = [
    "customer.added",
    "customer.changed",
    "customer.onhold",
    "contact.added",
    "contact.changed",
    "arinvoice.added",
    "arinvoice.changed",
    "arpymt.added",
];

/// Where Smart Events go, with which token, for which topics.
#[derive(Debug, Clone)]
pub struct SmartEventConfig {
    /// URL, retry and duplication settings of the deliveries.
    pub delivery: PushConfig,
    /// The shared token every payload carries.
    pub token: String,
    /// Topics that fire (see [`ALL_TOPICS`]); others are ignored.
    pub topics: Vec<String>,
}

impl SmartEventConfig {
    /// All eight topics to `url`, retried from 1 s up to 1 minute for an hour.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            delivery: PushConfig::new(url),
            token: token.into(),
            topics: ALL_TOPICS.iter().map(|t| (*t).to_owned()).collect(),
        }
    }
}

/// Intacct acknowledges nothing but the HTTP status: any 2xx ends the retries.
pub(crate) fn acknowledged(status: u16, _body: &str) -> bool {
    (200..300).contains(&status)
}

/// The deliveries one committed change fires.
pub(crate) fn deliveries(change: &Change, config: &SmartEventConfig) -> Vec<Delivery> {
    let r = &change.record;
    let on_hold = r.value("ONHOLD") == "true";
    let topics: Vec<&str> = match (change.object, change.kind) {
        ("CUSTOMER", ChangeKind::Add) => vec!["customer.added"],
        ("CUSTOMER", ChangeKind::Set) if on_hold => vec!["customer.changed", "customer.onhold"],
        ("CUSTOMER", ChangeKind::Set) => vec!["customer.changed"],
        ("CONTACT", ChangeKind::Add) => vec!["contact.added"],
        ("CONTACT", ChangeKind::Set) => vec!["contact.changed"],
        ("ARINVOICE", ChangeKind::Add) => vec!["arinvoice.added"],
        ("ARINVOICE", ChangeKind::Set) => vec!["arinvoice.changed"],
        ("ARPYMT", ChangeKind::Add) => vec!["arpymt.added"],
        _ => Vec::new(),
    };
    topics
        .into_iter()
        .filter(|t| config.topics.iter().any(|c| c == t))
        .map(|topic| {
            let mut body = Map::new();
            body.insert("v".into(), json!(1));
            body.insert("topic".into(), json!(topic));
            body.insert("object".into(), json!(change.object));
            body.insert(
                "event".into(),
                json!(match change.kind {
                    ChangeKind::Add => "add",
                    ChangeKind::Set => "set",
                    ChangeKind::Delete => "delete",
                }),
            );
            if let Some(key) = match change.object {
                "CUSTOMER" => Some("CUSTOMERID"),
                "CONTACT" => Some("CONTACTNAME"),
                _ => None,
            } {
                body.insert("key".into(), json!(r.value(key)));
                body.insert("recordno".into(), json!(r.value("RECORDNO")));
                body.insert("entity".into(), json!(r.value("MEGAENTITYID")));
            } else {
                body.insert("key".into(), json!(r.value("RECORDNO")));
                body.insert("entity".into(), json!(r.value("MEGAENTITYID")));
                body.insert("customer".into(), json!(r.value("CUSTOMERID")));
            }
            body.insert("WHENMODIFIED".into(), json!(r.value("WHENMODIFIED")));
            body.insert("token".into(), json!(config.token));
            Delivery {
                content_type: "application/json".into(),
                headers: Vec::new(),
                body: Value::Object(body).to_string(),
            }
        })
        .collect()
}
