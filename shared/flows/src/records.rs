//! Reading values out of the JSON records both connectors return.

use lf_domain::port::{FieldTree, IntacctRecord};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// The value at a dotted path (`Account.Intacct_Customer_ID__c`), `None` when absent or null.
pub(crate) fn at<'a>(record: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted
        .split('.')
        .try_fold(record, |v, k| v.get(k))
        .filter(|v| !v.is_null())
}

/// The text at a dotted path; empty text counts as absent.
pub(crate) fn text<'a>(record: &'a Value, dotted: &str) -> Option<&'a str> {
    at(record, dotted)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// A number at a dotted path, given as a JSON number or as text.
pub(crate) fn decimal(record: &Value, dotted: &str) -> Option<Decimal> {
    match at(record, dotted)? {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Sets `value` at a dotted path, creating the nested objects on the way.
pub(crate) fn set(record: &mut Value, dotted: &str, value: Value) {
    let mut at = record;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        let Value::Object(map) = at else { return };
        if parts.peek().is_none() {
            map.insert(part.to_owned(), value);
            return;
        }
        at = map
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// An Intacct record as the nested tree the mappings and matching rules address
/// (`DISPLAYCONTACT.MAILADDRESS.ZIP`): a query answer names related fields with dots, a read
/// nests them; both become the same tree here.
pub(crate) fn intacct_tree(record: &IntacctRecord) -> Value {
    nest(&record.fields)
}

fn nest(fields: &FieldTree) -> Value {
    let mut out = Value::Object(Map::new());
    for (k, v) in fields {
        let v = match v {
            Value::Object(inner) => nest(inner),
            other => other.clone(),
        };
        let mut one = Value::Object(Map::new());
        set(&mut one, k, v);
        merge(&mut out, one);
    }
    out
}

/// Merges `from` into `into`, objects key by key (a field given both nested and dotted keeps
/// both halves).
pub(crate) fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, other) => *slot = other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dotted_paths_read_and_write_nested_values() {
        let mut r = json!({"Account": {"Name": "Acme", "Empty": ""}, "Amount": 12.5});
        assert_eq!(text(&r, "Account.Name"), Some("Acme"));
        assert_eq!(text(&r, "Account.Empty"), None);
        assert_eq!(decimal(&r, "Amount"), Some(Decimal::new(125, 1)));
        set(&mut r, "Account.Intacct_Customer_ID__c", json!("C-1"));
        set(&mut r, "New.Deep.Field", json!(1));
        assert_eq!(text(&r, "Account.Intacct_Customer_ID__c"), Some("C-1"));
        assert_eq!(at(&r, "New.Deep.Field"), Some(&json!(1)));
    }

    #[test]
    fn dotted_query_fields_nest_like_read_fields() {
        let mut fields = FieldTree::new();
        fields.insert("NAME".into(), json!("Acme"));
        fields.insert("DISPLAYCONTACT.MAILADDRESS.ZIP".into(), json!("94105"));
        fields.insert("DISPLAYCONTACT".into(), json!({"URL1": "acme.com"}));
        let tree = intacct_tree(&IntacctRecord {
            fields,
            ..Default::default()
        });
        assert_eq!(text(&tree, "DISPLAYCONTACT.MAILADDRESS.ZIP"), Some("94105"));
        assert_eq!(text(&tree, "DISPLAYCONTACT.URL1"), Some("acme.com"));
    }
}
