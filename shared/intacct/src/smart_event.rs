//! Smart Event HTTP posts: the JSON body our Smart Event definitions send
//! (`infra/intacct/smart-event-payload.schema.json`, version 1), checked and parsed.
//!
//! ```json
//! {"v":1,"topic":"customer.changed","object":"CUSTOMER","event":"set","key":"C-1001",
//!  "recordno":"42","entity":"US","WHENMODIFIED":"03/14/2025 16:05:09","token":"<shared token>"}
//! ```
//!
//! The token is compared in constant time before any other field is read, and never logged.
//! An event is a hint: the consumer re-reads the record by `key` before acting.

use chrono::{DateTime, Utc};
use lf_domain::{Classify, EntityId, ErrorClass, IntacctKey};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use lf_domain::datetime::parse_datetime;

/// Largest body accepted; ours are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The payload version this code reads.
pub const PAYLOAD_VERSION: u64 = 1;

/// What happened to the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmartEventKind {
    Add,
    Set,
    Delete,
}

impl SmartEventKind {
    /// The lower-case name used in payloads.
    pub fn as_str(&self) -> &'static str {
        match self {
            SmartEventKind::Add => "add",
            SmartEventKind::Set => "set",
            SmartEventKind::Delete => "delete",
        }
    }
}

/// A verified Smart Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmartEvent {
    /// Which definition fired (`customer.changed`…), when the template says.
    pub topic: Option<String>,
    /// Owner object, upper case.
    pub object: String,
    pub event: SmartEventKind,
    /// The key to re-read the record by (CUSTOMERID, RECORDNO…).
    pub key: IntacctKey,
    pub record_no: Option<String>,
    /// The owning entity; `None` at the top level.
    pub entity: Option<EntityId>,
    /// CUSTOMERID of an invoice or payment.
    pub customer: Option<IntacctKey>,
    /// `WHENMODIFIED` as sent.
    pub when_modified_raw: String,
    /// `WHENMODIFIED` read as UTC, when it could be read.
    pub when_modified: Option<DateTime<Utc>>,
}

impl SmartEvent {
    /// A stable identity of the event for dedupe and audit (`CUSTOMER:set:C-1@03/14/2025 …`).
    pub fn dedupe_key(&self) -> String {
        format!(
            "{}:{}:{}:{}@{}",
            self.object,
            self.event.as_str(),
            self.entity.as_ref().map(EntityId::as_str).unwrap_or(""),
            self.key,
            self.when_modified_raw
        )
    }
}

/// Why a post was refused. None of these is worth retrying by the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmartEventError {
    #[error("smart event body is {size} bytes, over the {MAX_BODY_BYTES} byte limit")]
    TooLarge { size: usize },
    #[error("smart event token is missing or wrong")]
    Unauthorized,
    #[error("smart event body is malformed: {reason}")]
    Malformed { reason: String },
}

impl SmartEventError {
    /// The HTTP status the webhook answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            SmartEventError::TooLarge { .. } => 413,
            SmartEventError::Unauthorized => 401,
            SmartEventError::Malformed { .. } => 400,
        }
    }

    fn malformed(reason: impl Into<String>) -> Self {
        SmartEventError::Malformed {
            reason: reason.into(),
        }
    }
}

impl Classify for SmartEventError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

/// Checks Smart Event posts against the shared token(s).
#[derive(Debug, Clone)]
pub struct SmartEventVerifier {
    /// The current token first; older ones stay accepted while a rotation is rolled out.
    tokens: Vec<SecretString>,
}

impl SmartEventVerifier {
    /// A verifier for one token. Empty tokens are refused: they would accept anything that
    /// sends an empty token.
    pub fn new(token: SecretString) -> Result<Self, SmartEventError> {
        Self::with_rotation(token, Vec::new())
    }

    /// A verifier that also accepts `previous` tokens during a rotation.
    pub fn with_rotation(
        current: SecretString,
        previous: Vec<SecretString>,
    ) -> Result<Self, SmartEventError> {
        let mut tokens = vec![current];
        tokens.extend(previous);
        if tokens.iter().any(|t| t.expose_secret().is_empty()) {
            return Err(SmartEventError::malformed(
                "a smart event token must not be empty",
            ));
        }
        Ok(Self { tokens })
    }

    fn token_matches(&self, given: &str) -> bool {
        // Check every configured token, without stopping early, so timing says nothing about
        // which one (if any) matched.
        self.tokens.iter().fold(0u8, |acc, t| {
            acc | t
                .expose_secret()
                .as_bytes()
                .ct_eq(given.as_bytes())
                .unwrap_u8()
        }) == 1
    }

    /// Verifies and parses a post body.
    pub fn verify(&self, body: &[u8]) -> Result<SmartEvent, SmartEventError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(SmartEventError::TooLarge { size: body.len() });
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| SmartEventError::malformed(format!("not JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(SmartEventError::malformed("not a JSON object"));
        };
        match map.get("token") {
            Some(Value::String(t)) if self.token_matches(t) => {}
            _ => return Err(SmartEventError::Unauthorized),
        }
        parse_fields(&map)
    }
}

fn string<'a>(map: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, SmartEventError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim())),
        Some(_) => Err(SmartEventError::malformed(format!(
            "{name} is not a string"
        ))),
    }
}

fn required<'a>(map: &'a Map<String, Value>, name: &str) -> Result<&'a str, SmartEventError> {
    string(map, name)?.ok_or_else(|| SmartEventError::malformed(format!("{name} is missing")))
}

fn non_empty<'a>(
    map: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, SmartEventError> {
    Ok(string(map, name)?.filter(|s| !s.is_empty()))
}

fn parse_fields(map: &Map<String, Value>) -> Result<SmartEvent, SmartEventError> {
    let version = match map.get("v") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        None => return Err(SmartEventError::malformed("v is missing")),
        _ => None,
    };
    if version != Some(PAYLOAD_VERSION) {
        return Err(SmartEventError::malformed(format!(
            "payload version {} is not {PAYLOAD_VERSION}",
            map.get("v").map(Value::to_string).unwrap_or_default()
        )));
    }
    let object = required(map, "object")?;
    if object.is_empty()
        || object.len() > 64
        || !object
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(SmartEventError::malformed(format!(
            "object {object:?} is not an Intacct object name"
        )));
    }
    let event = match required(map, "event")?.to_ascii_lowercase().as_str() {
        "add" => SmartEventKind::Add,
        "set" => SmartEventKind::Set,
        "delete" => SmartEventKind::Delete,
        other => {
            return Err(SmartEventError::malformed(format!(
                "event {other:?} is not add, set or delete"
            )));
        }
    };
    let key = IntacctKey::parse(required(map, "key")?)
        .map_err(|e| SmartEventError::malformed(format!("key: {e}")))?;
    let entity = non_empty(map, "entity")?
        .map(EntityId::parse)
        .transpose()
        .map_err(|e| SmartEventError::malformed(format!("entity: {e}")))?;
    let customer = non_empty(map, "customer")?
        .map(IntacctKey::parse)
        .transpose()
        .map_err(|e| SmartEventError::malformed(format!("customer: {e}")))?;
    let when_modified_raw = required(map, "WHENMODIFIED")?.to_owned();
    let when_modified = if when_modified_raw.is_empty() {
        None
    } else {
        // Intacct writes no offset: without a company offset configured it is read as UTC.
        let at = parse_datetime(&when_modified_raw)
            .map_err(|e| SmartEventError::malformed(format!("WHENMODIFIED: {e}")))?;
        Some(at.to_utc())
    };
    Ok(SmartEvent {
        topic: non_empty(map, "topic")?.map(str::to_owned),
        object: object.to_ascii_uppercase(),
        event,
        key,
        record_no: non_empty(map, "recordno")?.map(str::to_owned),
        entity,
        customer,
        when_modified_raw,
        when_modified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    const TOKEN: &str = "test-token-0123456789abcdef";

    fn verifier() -> SmartEventVerifier {
        SmartEventVerifier::new(SecretString::from(TOKEN)).unwrap()
    }

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn accepts_the_documented_payload() {
        let ev = verifier()
            .verify(&body(json!({
                "v": 1, "topic": "customer.changed", "object": "CUSTOMER", "event": "set",
                "key": "C-1001", "recordno": "42", "entity": "US",
                "WHENMODIFIED": "03/14/2025 16:05:09", "token": TOKEN
            })))
            .unwrap();
        assert_eq!(ev.object, "CUSTOMER");
        assert_eq!(ev.event, SmartEventKind::Set);
        assert_eq!(ev.key.as_str(), "C-1001");
        assert_eq!(ev.entity.as_ref().map(EntityId::as_str), Some("US"));
        assert_eq!(ev.record_no.as_deref(), Some("42"));
        assert_eq!(
            ev.when_modified,
            Some(Utc.with_ymd_and_hms(2025, 3, 14, 16, 5, 9).unwrap())
        );
        assert_eq!(
            ev.dedupe_key(),
            "CUSTOMER:set:US:C-1001@03/14/2025 16:05:09"
        );
    }

    #[test]
    fn empty_optionals_are_absent_and_case_is_forgiven() {
        let ev = verifier()
            .verify(&body(json!({
                "v": "1", "object": "arpymt", "event": "ADD", "key": "5120", "entity": "",
                "customer": "C-7", "recordno": "", "WHENMODIFIED": "", "token": TOKEN,
                "later_field": {"ignored": true}
            })))
            .unwrap();
        assert_eq!(ev.object, "ARPYMT");
        assert_eq!(ev.event, SmartEventKind::Add);
        assert_eq!(ev.entity, None);
        assert_eq!(ev.record_no, None);
        assert_eq!(ev.when_modified, None);
        assert_eq!(ev.customer.as_ref().map(IntacctKey::as_str), Some("C-7"));
    }

    #[test]
    fn wrong_or_missing_token_is_unauthorized_before_anything_else() {
        let v = verifier();
        for b in [
            json!({"token": "nope"}),
            json!({"token": ""}),
            json!({"token": 5}),
            json!({"v": 1, "object": "CUSTOMER"}),
            json!({"token": format!("{TOKEN}x")}),
            json!({"token": &TOKEN[..TOKEN.len() - 1]}),
        ] {
            assert_eq!(v.verify(&body(b)), Err(SmartEventError::Unauthorized));
        }
        assert_eq!(SmartEventError::Unauthorized.http_status(), 401);
        assert!(SmartEventVerifier::new(SecretString::from("")).is_err());
    }

    #[test]
    fn rotation_accepts_the_previous_token() {
        let v = SmartEventVerifier::with_rotation(
            SecretString::from("new-token-000000000000"),
            vec![SecretString::from(TOKEN)],
        )
        .unwrap();
        let ok = json!({"v": 1, "object": "CUSTOMER", "event": "add", "key": "C", "WHENMODIFIED": "", "token": TOKEN});
        assert!(v.verify(&body(ok)).is_ok());
    }

    #[test]
    fn malformed_bodies_are_refused_with_a_reason() {
        let v = verifier();
        let bad = |b: Value| match v.verify(&body(b)) {
            Err(SmartEventError::Malformed { reason }) => reason,
            other => panic!("expected malformed, got {other:?}"),
        };
        let base = json!({"v": 1, "object": "CUSTOMER", "event": "set", "key": "C-1", "WHENMODIFIED": "", "token": TOKEN});
        let with = |k: &str, val: Value| {
            let mut b = base.clone();
            b[k] = val;
            b
        };
        let without = |k: &str| {
            let mut b = base.clone();
            b.as_object_mut().unwrap().remove(k);
            b
        };
        assert!(bad(with("v", json!(2))).contains("version"));
        assert!(bad(without("v")).contains("v is missing"));
        assert!(bad(with("event", json!("update"))).contains("add, set or delete"));
        assert!(bad(without("key")).contains("key is missing"));
        assert!(bad(with("key", json!("  "))).contains("key"));
        assert!(bad(with("object", json!("CUS<TOMER"))).contains("object"));
        assert!(bad(with("WHENMODIFIED", json!("yesterday"))).contains("WHENMODIFIED"));
        assert!(bad(without("WHENMODIFIED")).contains("WHENMODIFIED is missing"));
        assert!(bad(with("entity", json!(7))).contains("entity is not a string"));
        assert!(matches!(
            v.verify(b"not json"),
            Err(SmartEventError::Malformed { .. })
        ));
        assert!(matches!(
            v.verify(b"[1,2]"),
            Err(SmartEventError::Malformed { .. })
        ));
        let huge = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            v.verify(&huge),
            Err(SmartEventError::TooLarge {
                size: MAX_BODY_BYTES + 1
            })
        );
    }

    #[test]
    fn every_shipped_definition_produces_a_valid_payload() {
        // The templates in infra/intacct with their injections filled in as Intacct would.
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../infra/intacct/smart-events"
        );
        // Every topic the payload schema names has exactly one definition, and nothing else.
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../infra/intacct/smart-event-payload.schema.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let mut topics: Vec<String> = schema["properties"]["topic"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect();
        topics.sort();
        let mut seen = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let template = text
                .lines()
                .skip_while(|l| !l.trim_start().starts_with("body:"))
                .nth(1)
                .unwrap()
                .trim()
                .to_owned();
            let filled = template
                .replace("${LEDGERFORCE_SMART_EVENT_TOKEN}", TOKEN)
                .replace("MEGAENTITYID!}", "X!}")
                .replace("WHENMODIFIED!}", "T!}");
            // Replace every remaining {!OBJECT.FIELD!} injection with a plain value.
            let mut out = String::new();
            let mut rest = filled.as_str();
            while let Some(start) = rest.find("{!") {
                out.push_str(&rest[..start]);
                let end = rest[start..].find("!}").unwrap() + start + 2;
                let inj = &rest[start..end];
                out.push_str(if inj.ends_with(".X!}") {
                    "US"
                } else if inj.ends_with(".T!}") {
                    "03/14/2025 16:05:09"
                } else {
                    "K-1"
                });
                rest = &rest[end..];
            }
            out.push_str(rest);
            let ev = verifier()
                .verify(out.as_bytes())
                .unwrap_or_else(|e| panic!("{}: {e}: {out}", path.display()));
            let topic = ev
                .topic
                .clone()
                .unwrap_or_else(|| panic!("{}: no topic", path.display()));
            // The file is named after its topic, and its owner object is the payload's object.
            assert_eq!(
                path.file_stem().unwrap().to_str().unwrap(),
                topic.replace('.', "-"),
                "{}",
                path.display()
            );
            let owner = text
                .lines()
                .find_map(|l| l.strip_prefix("owner_object:"))
                .unwrap()
                .trim();
            assert_eq!(ev.object, owner, "{}", path.display());
            assert_eq!(ev.entity.as_ref().map(EntityId::as_str), Some("US"));
            seen.push(topic);
        }
        seen.sort();
        assert_eq!(
            seen, topics,
            "one definition per topic of the payload schema"
        );
    }
}
