//! Field values: turning what a client sends into the stored form, and the wire formats of
//! dates and datetimes.
//!
//! Values are stored as they are returned: JSON numbers for numeric fields, `yyyy-MM-dd` for
//! dates and `yyyy-MM-ddTHH:mm:ss.SSS+0000` (UTC) for datetimes, so that stored strings of one
//! type also sort correctly.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use lf_domain::SalesforceId;
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde_json::Value;

use crate::schema::{FieldDef, FieldType};

/// Why a value does not fit a field, in Salesforce's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<String>,
}

impl FieldError {
    pub fn new(code: &'static str, message: impl Into<String>, fields: &[&str]) -> Self {
        Self {
            code,
            message: message.into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        }
    }
}

/// Formats a datetime the way the REST API returns it.
pub fn format_datetime(t: DateTime<Utc>) -> String {
    format!("{}+0000", t.format("%Y-%m-%dT%H:%M:%S%.3f"))
}

/// Parses the datetime forms Salesforce accepts: `...Z`, `...+hh:mm`, `...+hhmm`, with or
/// without fractional seconds.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.to_utc());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.to_utc());
        }
    }
    None
}

pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// RFC 3339 with milliseconds, for places that use `Z` (outbound messages, bulk job info).
pub fn format_datetime_z(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn type_error(field: &FieldDef, raw: &Value) -> FieldError {
    let shown = match raw {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let json_type = match raw {
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER",
        Value::Bool(_) => "VALUE_TRUE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
        Value::Null => "VALUE_NULL",
    };
    let target = match field.kind {
        FieldType::Boolean => "boolean",
        FieldType::Int => "int",
        k if k.is_number() => "double",
        FieldType::Date => "date",
        FieldType::DateTime => "datetime",
        _ => "string",
    };
    FieldError::new(
        "JSON_PARSER_ERROR",
        format!(
            "Cannot deserialize instance of {target} from {json_type} value {shown} or request may be missing a required field"
        ),
        &[field.name],
    )
}

fn number_of(raw: &Value) -> Option<Decimal> {
    match raw {
        Value::Number(n) => n
            .as_i64()
            .map(Decimal::from)
            .or_else(|| n.as_f64().and_then(Decimal::from_f64)),
        Value::String(s) => s
            .trim()
            .parse::<Decimal>()
            .ok()
            .or_else(|| s.trim().parse::<f64>().ok().and_then(Decimal::from_f64)),
        _ => None,
    }
}

/// Checks and converts `raw` for `field`. Reference existence is checked by the store, which
/// knows the records.
pub fn coerce(field: &FieldDef, raw: &Value) -> Result<Value, FieldError> {
    if raw.is_null() {
        // A boolean is never null: clearing it means false.
        return Ok(if field.kind == FieldType::Boolean {
            Value::Bool(false)
        } else {
            Value::Null
        });
    }
    match field.kind {
        FieldType::Boolean => match raw {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(type_error(field, raw)),
        },
        FieldType::Currency | FieldType::Double | FieldType::Percent | FieldType::Int => {
            let n = number_of(raw).ok_or_else(|| type_error(field, raw))?;
            let n = n.round_dp(field.scale);
            let whole_digits = field.precision.saturating_sub(field.scale);
            let bound = Decimal::from(10u64.saturating_pow(whole_digits.min(18)));
            if n.abs() >= bound {
                return Err(FieldError::new(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    format!(
                        "{}: value outside of valid range on numeric field: {n}",
                        field.label
                    ),
                    &[field.name],
                ));
            }
            if field.kind == FieldType::Int {
                return n
                    .to_i64()
                    .map(Value::from)
                    .ok_or_else(|| type_error(field, raw));
            }
            let f = n.to_f64().ok_or_else(|| type_error(field, raw))?;
            serde_json::Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| type_error(field, raw))
        }
        FieldType::Date => {
            let s = raw.as_str().ok_or_else(|| type_error(field, raw))?;
            let d = parse_date(s)
                .or_else(|| parse_datetime(s).map(|t| t.date_naive()))
                .ok_or_else(|| type_error(field, raw))?;
            Ok(Value::String(d.format("%Y-%m-%d").to_string()))
        }
        FieldType::DateTime => {
            let s = raw.as_str().ok_or_else(|| type_error(field, raw))?;
            let t = parse_datetime(s).ok_or_else(|| type_error(field, raw))?;
            Ok(Value::String(format_datetime(t)))
        }
        FieldType::Id | FieldType::Reference => {
            let s = raw.as_str().ok_or_else(|| type_error(field, raw))?;
            if s.is_empty() {
                return Ok(Value::Null);
            }
            let id = SalesforceId::parse(s).map_err(|_| malformed_id(field, s))?;
            if !field.reference_to.is_empty()
                && !field.reference_to.iter().any(|target| {
                    crate::schema::Schema::get()
                        .object(target)
                        .is_some_and(|o| o.key_prefix == id.key_prefix())
                })
            {
                return Err(malformed_id(field, s));
            }
            Ok(Value::String(id.as_str().to_owned()))
        }
        _ => {
            let s = match raw {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(type_error(field, raw)),
            };
            if s.is_empty() {
                return Ok(Value::Null);
            }
            let chars = s.chars().count();
            if field.length > 0 && chars > field.length as usize {
                return Err(FieldError::new(
                    "STRING_TOO_LONG",
                    format!(
                        "{}: data value too large: {} (max length={})",
                        field.label,
                        truncate_for_message(&s),
                        field.length
                    ),
                    &[field.name],
                ));
            }
            if field.kind == FieldType::Email && !looks_like_email(&s) {
                return Err(FieldError::new(
                    "INVALID_EMAIL_ADDRESS",
                    format!("{}: invalid email address: {s}", field.label),
                    &[field.name],
                ));
            }
            if field.kind == FieldType::Picklist && field.restricted {
                match field.picklist.iter().find(|v| v.eq_ignore_ascii_case(&s)) {
                    Some(v) => return Ok(Value::String((*v).to_owned())),
                    None => {
                        return Err(FieldError::new(
                            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                            format!(
                                "{}: bad value for restricted picklist field: {s}",
                                field.label
                            ),
                            &[field.name],
                        ));
                    }
                }
            }
            Ok(Value::String(s))
        }
    }
}

/// Parses a CSV cell (Bulk API) into the JSON a REST client would have sent.
pub fn from_csv_cell(field: &FieldDef, cell: &str) -> Value {
    if cell.is_empty() || cell == "#N/A" {
        return Value::Null;
    }
    match field.kind {
        FieldType::Boolean => match cell.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Value::Bool(true),
            "false" | "0" | "no" => Value::Bool(false),
            _ => Value::String(cell.to_owned()),
        },
        _ => Value::String(cell.to_owned()),
    }
}

/// Renders a stored value as a CSV cell (Bulk API query results).
pub fn to_csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// Renders a stored value as an Outbound Message (SOAP) text value: `45000.0`, `2020-07-11`,
/// `2020-05-09T03:04:32.000Z`, `false`.
pub fn to_soap_text(field: &FieldDef, v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if field.kind == FieldType::DateTime => {
            parse_datetime(s).map(format_datetime_z)
        }
        Value::Number(n) if field.kind != FieldType::Int => {
            let f = n.as_f64().unwrap_or_default();
            Some(if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{f:.1}")
            } else {
                f.to_string()
            })
        }
        other => Some(to_csv_cell(other)),
    }
}

fn malformed_id(field: &FieldDef, s: &str) -> FieldError {
    FieldError::new(
        "MALFORMED_ID",
        format!("{}: id value of incorrect type: {s}", field.label),
        &[field.name],
    )
}

fn truncate_for_message(s: &str) -> String {
    let short: String = s.chars().take(40).collect();
    if short.len() < s.len() {
        format!("{short}...")
    } else {
        short
    }
}

fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Schema;

    fn field(object: &str, name: &str) -> FieldDef {
        Schema::get()
            .object(object)
            .unwrap()
            .field(name)
            .unwrap()
            .clone()
    }

    #[test]
    fn numbers_round_to_scale_and_respect_precision() {
        let amount = field("Opportunity", "Amount");
        assert_eq!(
            coerce(&amount, &serde_json::json!("1234.567")).unwrap(),
            serde_json::json!(1234.57)
        );
        assert_eq!(
            coerce(&amount, &serde_json::json!(45000)).unwrap(),
            serde_json::json!(45000.0)
        );
        let err = coerce(&amount, &serde_json::json!("lots")).unwrap_err();
        assert_eq!(err.code, "JSON_PARSER_ERROR");
        let bal = field("Account", "Intacct_Balance__c");
        let err = coerce(&bal, &serde_json::json!(1e15)).unwrap_err();
        assert_eq!(err.code, "NUMBER_OUTSIDE_VALID_RANGE");
    }

    #[test]
    fn dates_and_datetimes_normalise() {
        let dt = field("Account", "Intacct_Last_Synced__c");
        assert_eq!(
            coerce(&dt, &serde_json::json!("2024-03-01T10:00:00+02:00")).unwrap(),
            serde_json::json!("2024-03-01T08:00:00.000+0000")
        );
        assert_eq!(
            coerce(&dt, &serde_json::json!("2024-03-01T08:00:00.000+0000")).unwrap(),
            serde_json::json!("2024-03-01T08:00:00.000+0000")
        );
        let d = field("Opportunity", "CloseDate");
        assert!(coerce(&d, &serde_json::json!("2024-13-01")).is_err());
    }

    #[test]
    fn strings_picklists_emails_and_ids_are_checked() {
        let name = field("Opportunity", "Name");
        let long = "x".repeat(121);
        assert_eq!(
            coerce(&name, &Value::String(long)).unwrap_err().code,
            "STRING_TOO_LONG"
        );
        let cur = field("Account", "CurrencyIsoCode");
        assert_eq!(
            coerce(&cur, &serde_json::json!("eur")).unwrap(),
            serde_json::json!("EUR")
        );
        assert_eq!(
            coerce(&cur, &serde_json::json!("XYZ")).unwrap_err().code,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
        );
        let email = field("Contact", "Email");
        assert!(coerce(&email, &serde_json::json!("not an email")).is_err());
        let acct = field("Contact", "AccountId");
        assert_eq!(
            coerce(&acct, &serde_json::json!("0065w000023STAmAAO"))
                .unwrap_err()
                .code,
            "MALFORMED_ID"
        );
        assert_eq!(
            coerce(&acct, &serde_json::json!("0015w00002BFDeL")).unwrap(),
            serde_json::json!("0015w00002BFDeLAAX")
        );
    }

    #[test]
    fn soap_text_matches_outbound_formats() {
        let amount = field("Opportunity", "Amount");
        assert_eq!(
            to_soap_text(&amount, &serde_json::json!(45000.0)).unwrap(),
            "45000.0"
        );
        let stamp = field("Opportunity", "SystemModstamp");
        assert_eq!(
            to_soap_text(&stamp, &serde_json::json!("2020-05-09T03:04:32.000+0000")).unwrap(),
            "2020-05-09T03:04:32.000Z"
        );
    }
}
