//! Validated identifiers. Every id that crosses a boundary (webhook, queue, store, API) is parsed
//! into one of these types once, so the rest of the code never re-checks a string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} must not be empty")]
    Empty { kind: &'static str },
    #[error("{kind} is {len} characters long; {expected}")]
    Length {
        kind: &'static str,
        len: usize,
        expected: String,
    },
    #[error("{kind} {value:?} contains {found:?}, which is not allowed")]
    Character {
        kind: &'static str,
        value: String,
        found: char,
    },
    #[error(
        "Salesforce id {value:?} has checksum suffix {suffix:?}, which does not match its first 15 characters"
    )]
    Checksum { value: String, suffix: String },
}

const CHECKSUM_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// A Salesforce record id, always held in its 18-character, case-safe form.
///
/// Accepts the 15-character case-sensitive form (the checksum suffix is computed) and the
/// 18-character form. An 18-character id is accepted in any letter case: its suffix encodes the
/// case of the first 15 characters, so the original id is restored from it, and a suffix that
/// does not fit the id (a digit marked upper-case, a foreign character) is refused.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SalesforceId([u8; 18]);

impl SalesforceId {
    const KIND: &'static str = "Salesforce id";

    /// Parses a 15- or 18-character Salesforce id.
    pub fn parse(value: &str) -> Result<Self, IdError> {
        let bytes = value.as_bytes();
        if bytes.is_empty() {
            return Err(IdError::Empty { kind: Self::KIND });
        }
        if let Some(found) = value.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(IdError::Character {
                kind: Self::KIND,
                value: value.to_owned(),
                found,
            });
        }
        match bytes.len() {
            15 => {
                let mut out = [0u8; 18];
                out[..15].copy_from_slice(bytes);
                out[15..].copy_from_slice(&checksum(bytes));
                Ok(Self(out))
            }
            18 => {
                let suffix = bytes[15..].to_ascii_uppercase();
                let mut out = [0u8; 18];
                for (chunk, &code) in suffix.iter().enumerate() {
                    let bits = CHECKSUM_ALPHABET
                        .iter()
                        .position(|&a| a == code)
                        .ok_or_else(|| checksum_error(value))?;
                    for i in 0..5 {
                        let at = chunk * 5 + i;
                        let upper = bits & (1 << i) != 0;
                        let b = bytes[at];
                        out[at] = if b.is_ascii_alphabetic() {
                            if upper {
                                b.to_ascii_uppercase()
                            } else {
                                b.to_ascii_lowercase()
                            }
                        } else if upper {
                            return Err(checksum_error(value));
                        } else {
                            b
                        };
                    }
                }
                out[15..].copy_from_slice(&suffix);
                Ok(Self(out))
            }
            len => Err(IdError::Length {
                kind: Self::KIND,
                len,
                expected: "a Salesforce id has 15 or 18".to_owned(),
            }),
        }
    }

    /// The 18-character form.
    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics are ever stored, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The 15-character, case-sensitive form.
    pub fn to_15(&self) -> &str {
        &self.as_str()[..15]
    }

    /// The three-character key prefix that names the object type (`001` Account, `003` Contact,
    /// `006` Opportunity, ...).
    pub fn key_prefix(&self) -> &str {
        &self.as_str()[..3]
    }
}

fn checksum_error(value: &str) -> IdError {
    IdError::Checksum {
        value: value.to_owned(),
        suffix: value.get(15..).unwrap_or_default().to_owned(),
    }
}

fn checksum(first15: &[u8]) -> [u8; 3] {
    let mut out = [0u8; 3];
    for (chunk, slot) in out.iter_mut().enumerate() {
        let mut bits = 0usize;
        for i in 0..5 {
            if first15[chunk * 5 + i].is_ascii_uppercase() {
                bits |= 1 << i;
            }
        }
        *slot = CHECKSUM_ALPHABET[bits];
    }
    out
}

impl fmt::Display for SalesforceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SalesforceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SalesforceId({})", self.as_str())
    }
}

impl FromStr for SalesforceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Checks a free-form key: non-empty after trimming, within `max` characters, no control chars.
fn check_text(kind: &'static str, value: &str, max: usize) -> Result<String, IdError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(IdError::Empty { kind });
    }
    let len = trimmed.chars().count();
    if len > max {
        return Err(IdError::Length {
            kind,
            len,
            expected: format!("at most {max} are allowed"),
        });
    }
    if let Some(found) = trimmed.chars().find(|c| c.is_control()) {
        return Err(IdError::Character {
            kind,
            value: trimmed.to_owned(),
            found,
        });
    }
    Ok(trimmed.to_owned())
}

macro_rules! text_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $max:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub struct $name(String);

        impl $name {
            /// Validates and trims the value.
            pub fn parse(value: &str) -> Result<Self, IdError> {
                check_text($kind, value, $max).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

text_id!(
    /// An Intacct record key: a CUSTOMERID, a document number, a RECORDNO. Opaque text,
    /// compared exactly (Intacct ids are case-sensitive in queries).
    IntacctKey,
    "Intacct key",
    128
);

text_id!(
    /// An Intacct entity (LOCATIONID of a LOCATIONENTITY) in a multi-entity company.
    EntityId,
    "Intacct entity id",
    40
);

text_id!(
    /// Ties together every log line, queue message and audit entry caused by one event.
    CorrelationId,
    "correlation id",
    128
);

impl CorrelationId {
    /// A fresh random correlation id.
    pub fn new_random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
}

/// Identifies one unit of work for the idempotency store and, derived from it, the Intacct
/// function `controlid`. At most 200 printable ASCII characters without whitespace, so it fits
/// a DynamoDB key and an Intacct controlid (1..256 characters) unchanged.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    const KIND: &'static str = "idempotency key";

    pub fn parse(value: &str) -> Result<Self, IdError> {
        let v = check_text(Self::KIND, value, 200)?;
        if let Some(found) = v.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(IdError::Character {
                kind: Self::KIND,
                value: v,
                found,
            });
        }
        Ok(Self(v))
    }

    /// A key from a namespace (for example a flow name) and the parts that identify the work.
    /// The parts are hashed, so any text may go in and the key stays short and stable.
    pub fn derive(namespace: &str, parts: &[&str]) -> Result<Self, IdError> {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p.as_bytes());
            h.update([0x1f]);
        }
        let digest = hex::encode(h.finalize());
        Self::parse(&format!("{namespace}:{}", &digest[..40]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record in Intacct: its company-unique key, and the entity it lives in (`None` = top level).
///
/// The key alone identifies the record (CUSTOMERID, CONTACTNAME and RECORDNO are unique across
/// a multi-entity company); the entity says which session reads or writes it. See
/// [`crate::port::xref`] for how links use the two.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct IntacctRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<EntityId>,
    pub key: IntacctKey,
}

impl IntacctRef {
    pub fn new(entity: Option<EntityId>, key: IntacctKey) -> Self {
        Self { entity, key }
    }

    pub fn top_level(key: IntacctKey) -> Self {
        Self { entity: None, key }
    }
}

impl fmt::Display for IntacctRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entity {
            Some(e) => write!(f, "{e}/{}", self.key),
            None => write!(f, "{}", self.key),
        }
    }
}

macro_rules! serde_as_str {
    ($($name:ident),*) => {$(
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    )*};
}

serde_as_str!(
    SalesforceId,
    IntacctKey,
    EntityId,
    CorrelationId,
    IdempotencyKey
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fifteen_char_id_gets_known_checksum() {
        // The documented example pair: 15-char id and its 18-char form.
        let id = SalesforceId::parse("0011U00000V0tkD").unwrap();
        assert_eq!(id.as_str(), "0011U00000V0tkDQAR");
        assert_eq!(id.to_15(), "0011U00000V0tkD");
        assert_eq!(id.key_prefix(), "001");
    }

    #[test]
    fn eighteen_char_id_restores_case_from_suffix() {
        let lowered = SalesforceId::parse("0011u00000v0tkdqar").unwrap();
        assert_eq!(lowered.as_str(), "0011U00000V0tkDQAR");
        assert_eq!(lowered, SalesforceId::parse("0011U00000V0tkD").unwrap());
    }

    #[test]
    fn bad_ids_are_refused_with_reason() {
        assert!(matches!(
            SalesforceId::parse(""),
            Err(IdError::Empty { .. })
        ));
        assert!(matches!(
            SalesforceId::parse("001"),
            Err(IdError::Length { len: 3, .. })
        ));
        assert!(matches!(
            SalesforceId::parse("0011U00000V0tk-"),
            Err(IdError::Character { found: '-', .. })
        ));
        // Suffix marks position 0 (a digit) as upper-case: impossible.
        assert!(matches!(
            SalesforceId::parse("0011U00000V0tkDBAR"),
            Err(IdError::Checksum { .. })
        ));
        // '9' is not in the checksum alphabet.
        assert!(matches!(
            SalesforceId::parse("0011U00000V0tkD9AR"),
            Err(IdError::Checksum { .. })
        ));
    }

    #[test]
    fn text_ids_trim_and_bound() {
        assert_eq!(IntacctKey::parse("  C-100 ").unwrap().as_str(), "C-100");
        assert!(IntacctKey::parse("   ").is_err());
        assert!(EntityId::parse(&"E".repeat(41)).is_err());
        assert!(EntityId::parse("US\u{7}").is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
    }

    #[test]
    fn derived_idempotency_keys_are_stable_and_distinct() {
        let a = IdempotencyKey::derive("opportunity-won", &["006A", "1"]).unwrap();
        let b = IdempotencyKey::derive("opportunity-won", &["006A", "1"]).unwrap();
        let c = IdempotencyKey::derive("opportunity-won", &["006A1", ""]).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c, "part boundaries must matter");
        assert!(a.as_str().starts_with("opportunity-won:"));
    }

    #[test]
    fn ids_round_trip_through_serde() {
        let id = SalesforceId::parse("0011U00000V0tkD").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"0011U00000V0tkDQAR\"");
        let back: SalesforceId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<SalesforceId>("\"nope\"").is_err());
    }

    proptest! {
        #[test]
        fn any_15_char_id_round_trips(s in "[0-9A-Za-z]{15}") {
            let id = SalesforceId::parse(&s).unwrap();
            prop_assert_eq!(id.to_15(), s.as_str());
            let again = SalesforceId::parse(id.as_str()).unwrap();
            prop_assert_eq!(&again, &id);
            let lower = SalesforceId::parse(&id.as_str().to_ascii_lowercase()).unwrap();
            prop_assert_eq!(lower, id);
        }
    }
}
