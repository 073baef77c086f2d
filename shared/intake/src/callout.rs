//! JSON posts from Salesforce Flow HTTP callouts (or Apex): our own payload, signed with
//! HMAC-SHA256.
//!
//! ```text
//! POST /salesforce
//! Content-Type: application/json
//! X-Ledgerforce-Timestamp: 1767225600
//! X-Ledgerforce-Signature: sha256=<hex or base64 of HMAC-SHA256(key, "<timestamp>.<raw body>")>
//!
//! {"v":1,"org_id":"00D…","events":[{"event_id":"…","object":"Opportunity","id":"006…",
//!   "modified_at":"2026-03-01T09:00:00.000+0000"}]}
//! ```
//!
//! The timestamp is inside the signed bytes, so a captured post cannot be replayed outside the
//! replay window with a fresh timestamp. Signatures are compared in constant time
//! (`Mac::verify_slice`) before the body is parsed.

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use lf_domain::{SalesforceId, datetime::parse_datetime};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-ledgerforce-signature";
/// The header carrying the signing time, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-ledgerforce-timestamp";
/// The payload version this code reads.
pub const CALLOUT_VERSION: u64 = 1;
/// Most events one post may carry (as many as an Outbound Message).
const MAX_EVENTS: usize = 100;

type HmacSha256 = Hmac<Sha256>;

/// The bytes a signature covers: `"<timestamp>.<raw body>"`.
pub fn signed_payload(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(timestamp.len() + 1 + body.len());
    out.extend_from_slice(timestamp.as_bytes());
    out.push(b'.');
    out.extend_from_slice(body);
    out
}

/// The hex signature a sender puts in [`SIGNATURE_HEADER`] (after `sha256=`).
pub fn sign_callout(key: &SecretString, timestamp: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    match HmacSha256::new_from_slice(key.expose_secret().as_bytes()) {
        Ok(mut mac) => {
            mac.update(&signed_payload(timestamp, body));
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Why a callout was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CalloutError {
    #[error("the {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header is missing")]
    Unsigned,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the timestamp is not Unix seconds")]
    BadTimestamp,
    #[error("the timestamp is outside the replay window")]
    Stale,
    #[error("malformed callout: {0}")]
    Malformed(String),
}

impl CalloutError {
    pub fn http_status(&self) -> u16 {
        match self {
            CalloutError::Malformed(_) | CalloutError::BadTimestamp => 400,
            _ => 401,
        }
    }
}

/// Checks the signature over the raw body, then the timestamp against the window.
pub(crate) fn verify(
    key: &SecretString,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
    window: std::time::Duration,
) -> Result<(), CalloutError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(CalloutError::Unsigned);
    };
    let sig = signature.trim();
    let sig = sig.strip_prefix("sha256=").unwrap_or(sig);
    let given = decode_signature(sig).ok_or(CalloutError::BadSignature)?;
    let mut mac = HmacSha256::new_from_slice(key.expose_secret().as_bytes())
        .map_err(|_| CalloutError::BadSignature)?;
    mac.update(&signed_payload(timestamp, body));
    mac.verify_slice(&given)
        .map_err(|_| CalloutError::BadSignature)?;
    // Only a signed timestamp is worth reading.
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| CalloutError::BadTimestamp)?;
    let age = now.timestamp().saturating_sub(at).unsigned_abs();
    if age > window.as_secs() {
        return Err(CalloutError::Stale);
    }
    Ok(())
}

/// Hex (64 digits) or standard / URL-safe base64 of the 32-byte MAC.
fn decode_signature(sig: &str) -> Option<Vec<u8>> {
    if sig.len() == 64
        && let Ok(bytes) = hex::decode(sig)
    {
        return Some(bytes);
    }
    base64::engine::general_purpose::STANDARD
        .decode(sig)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(sig))
        .ok()
        .filter(|b| b.len() == 32)
}

#[derive(Deserialize)]
struct Payload {
    v: serde_json::Value,
    org_id: String,
    events: Vec<RawEvent>,
}

#[derive(Deserialize)]
struct RawEvent {
    event_id: String,
    object: String,
    id: String,
    #[serde(default)]
    modified_at: Option<String>,
}

/// One record change a callout reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CalloutEvent {
    pub event_id: String,
    pub object: String,
    pub id: SalesforceId,
    pub modified_at: Option<DateTime<Utc>>,
}

/// A parsed callout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Callout {
    pub org_id: SalesforceId,
    pub events: Vec<CalloutEvent>,
}

fn malformed(reason: impl Into<String>) -> CalloutError {
    CalloutError::Malformed(reason.into())
}

/// Parses a verified body.
pub(crate) fn parse(body: &[u8]) -> Result<Callout, CalloutError> {
    let p: Payload =
        serde_json::from_slice(body).map_err(|e| malformed(format!("not the payload: {e}")))?;
    let version = match &p.v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    if version != Some(CALLOUT_VERSION) {
        return Err(malformed(format!("payload version {} is not 1", p.v)));
    }
    let org_id = SalesforceId::parse(&p.org_id).map_err(|e| malformed(format!("org_id: {e}")))?;
    if p.events.is_empty() {
        return Err(malformed("events is empty"));
    }
    if p.events.len() > MAX_EVENTS {
        return Err(malformed(format!("more than {MAX_EVENTS} events")));
    }
    let events = p
        .events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let event_id = e.event_id.trim().to_owned();
            if event_id.is_empty()
                || event_id.len() > 128
                || !event_id.chars().all(|c| c.is_ascii_graphic())
            {
                return Err(malformed(format!(
                    "events[{i}].event_id must be 1 to 128 visible ASCII characters"
                )));
            }
            let object = e.object.trim().to_owned();
            if object.is_empty()
                || object.len() > 80
                || !object
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(malformed(format!(
                    "events[{i}].object is not an sObject API name"
                )));
            }
            let id = SalesforceId::parse(e.id.trim())
                .map_err(|err| malformed(format!("events[{i}].id: {err}")))?;
            let modified_at = match e.modified_at.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(t) => Some(
                    parse_datetime(t)
                        .map_err(|err| malformed(format!("events[{i}].modified_at: {err}")))?
                        .to_utc(),
                ),
            };
            Ok(CalloutEvent {
                event_id,
                object,
                id,
                modified_at,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Callout { org_id, events })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use std::time::Duration;

    fn key() -> SecretString {
        SecretString::from("callout-key-for-unit-tests")
    }

    #[test]
    fn hex_and_base64_signatures_verify_and_tampering_does_not() {
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        let body = br#"{"v":1}"#;
        let hex_sig = sign_callout(&key(), &ts, body);
        let w = Duration::from_secs(300);
        assert_eq!(
            verify(&key(), Some(&ts), Some(&hex_sig), body, now, w),
            Ok(())
        );
        let with_prefix = format!("sha256={hex_sig}");
        assert_eq!(
            verify(&key(), Some(&ts), Some(&with_prefix), body, now, w),
            Ok(())
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(hex::decode(&hex_sig).unwrap());
        assert_eq!(verify(&key(), Some(&ts), Some(&b64), body, now, w), Ok(()));
        assert_eq!(
            verify(&key(), Some(&ts), Some(&hex_sig), br#"{"v":2}"#, now, w),
            Err(CalloutError::BadSignature)
        );
        let later = (now.timestamp() + 1).to_string();
        assert_eq!(
            verify(&key(), Some(&later), Some(&hex_sig), body, now, w),
            Err(CalloutError::BadSignature)
        );
        let old = (now.timestamp() - 301).to_string();
        let old_sig = sign_callout(&key(), &old, body);
        assert_eq!(
            verify(&key(), Some(&old), Some(&old_sig), body, now, w),
            Err(CalloutError::Stale)
        );
        assert_eq!(
            verify(&key(), None, Some(&hex_sig), body, now, w),
            Err(CalloutError::Unsigned)
        );
    }

    #[test]
    fn malformed_signatures_and_unsigned_garbage_timestamps_are_refused() {
        let now = Utc::now();
        let w = Duration::from_secs(300);
        let body = br#"{"v":1}"#;
        let ts = now.timestamp().to_string();
        let sig = sign_callout(&key(), &ts, body);
        for bad in [
            "",
            "sha256=",
            "zz",
            &sig[..40],
            &format!("{sig}00"),
            "not base64!",
        ] {
            assert_eq!(
                verify(&key(), Some(&ts), Some(bad), body, now, w),
                Err(CalloutError::BadSignature),
                "{bad:?}"
            );
        }
        // A timestamp that is not a number is only reported once it is signed; unsigned, it
        // is just a bad signature and says nothing about the parser.
        let garbage = "yesterday";
        assert_eq!(
            verify(&key(), Some(garbage), Some(&sig), body, now, w),
            Err(CalloutError::BadSignature)
        );
        let signed_garbage = sign_callout(&key(), garbage, body);
        assert_eq!(
            verify(&key(), Some(garbage), Some(&signed_garbage), body, now, w),
            Err(CalloutError::BadTimestamp)
        );
        assert_eq!(CalloutError::BadTimestamp.http_status(), 400);
        assert_eq!(CalloutError::BadSignature.http_status(), 401);
        assert_eq!(CalloutError::Stale.http_status(), 401);
        // The signed bytes are the timestamp, a dot, and the raw body.
        assert_eq!(signed_payload("17", b"{}"), b"17.{}".to_vec());
    }

    #[test]
    fn payloads_parse_and_bad_ones_say_why() {
        let ok = parse(
            br#"{"v":1,"org_id":"00D000000000001","events":[{"event_id":"e1","object":"Opportunity","id":"006000000000001AAA","modified_at":"2026-03-01T09:00:00.000+0000"}]}"#,
        )
        .unwrap();
        assert_eq!(ok.org_id.as_str(), "00D000000000001EAA");
        assert_eq!(ok.events[0].object, "Opportunity");
        assert!(ok.events[0].modified_at.is_some());
        for (body, want) in [
            (&br#"{"v":2,"org_id":"00D000000000001","events":[]}"#[..], "version"),
            (br#"{"v":1,"org_id":"x","events":[]}"#, "org_id"),
            (br#"{"v":1,"org_id":"00D000000000001","events":[]}"#, "empty"),
            (
                br#"{"v":1,"org_id":"00D000000000001","events":[{"event_id":"e","object":"Opp'ty","id":"006000000000001"}]}"#,
                "object",
            ),
            (br#"[1]"#, "not the payload"),
        ] {
            let err = parse(body).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }
}
