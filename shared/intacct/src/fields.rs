//! Field trees: the `serde_json` maps the mapping engine produces, turned into the elements of
//! a generic `create`/`update`, and result records turned back into maps.
//!
//! Nested objects become nested elements (`DISPLAYCONTACT` → `MAILADDRESS` → `CITY`), arrays
//! become repeated elements of the same name, `null` becomes an empty element (which clears the
//! field on `update`), booleans become `true`/`false`, and numbers keep their JSON text.

use serde_json::{Map, Value};

use crate::error::IntacctError;
use crate::xml::{XmlElement, is_valid_name};

/// Builds `<OBJECT>…fields…</OBJECT>` from a field map.
pub fn object_element(
    object: &str,
    fields: &Map<String, Value>,
) -> Result<XmlElement, IntacctError> {
    check_name(object, object)?;
    let mut el = XmlElement::new(object);
    for (name, value) in fields {
        append_field(&mut el, name, value, object)?;
    }
    Ok(el)
}

fn check_name(name: &str, path: &str) -> Result<(), IntacctError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(IntacctError::invalid(format!(
            "field {path:?}: {name:?} is not a valid Intacct field name"
        )))
    }
}

fn append_field(
    parent: &mut XmlElement,
    name: &str,
    value: &Value,
    parent_path: &str,
) -> Result<(), IntacctError> {
    let path = format!("{parent_path}/{name}");
    check_name(name, &path)?;
    match value {
        // Each item repeats the element; an array item is refused by `element`.
        Value::Array(items) => {
            for item in items {
                parent.push(element(name, item, &path)?);
            }
            Ok(())
        }
        other => {
            parent.push(element(name, other, &path)?);
            Ok(())
        }
    }
}

fn element(name: &str, value: &Value, path: &str) -> Result<XmlElement, IntacctError> {
    Ok(match value {
        Value::Null => XmlElement::new(name),
        Value::Bool(b) => XmlElement::with_text(name, if *b { "true" } else { "false" }),
        Value::Number(n) => XmlElement::with_text(name, n.to_string()),
        Value::String(s) => XmlElement::with_text(name, s.as_str()),
        Value::Object(children) => {
            let mut el = XmlElement::new(name);
            for (k, v) in children {
                append_field(&mut el, k, v, path)?;
            }
            el
        }
        Value::Array(_) => {
            return Err(IntacctError::invalid(format!(
                "field {path:?}: an array inside an array has no XML form"
            )));
        }
    })
}

/// Turns a result record into a field map: leaves become strings (empty elements become
/// `""`), nested elements become objects, and repeated names become arrays. Names keep the
/// case Intacct used.
pub fn record_to_map(record: &XmlElement) -> Map<String, Value> {
    let mut map = Map::new();
    for child in record.children() {
        let value = if child.children().is_empty() {
            Value::String(child.text().trim().to_owned())
        } else {
            Value::Object(record_to_map(child))
        };
        match map.get_mut(child.name()) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                map.insert(child.name().to_owned(), value);
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_document;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn nested_maps_become_nested_elements() {
        let fields = map(json!({
            "CUSTOMERID": "C-1",
            "NAME": "Acme & Co",
            "DISPLAYCONTACT": {
                "PRINTAS": "Acme",
                "EMAIL2": null,
                "MAILADDRESS": {"CITY": "Paris", "ZIP": 75001}
            },
            "ONHOLD": false,
            "CREDITLIMIT": 1500.5,
            "SFDC_ACCOUNT_ID": "0011U00000V0tkDQAR"
        }));
        assert_eq!(
            object_element("CUSTOMER", &fields)
                .unwrap()
                .to_xml()
                .unwrap(),
            "<CUSTOMER><CUSTOMERID>C-1</CUSTOMERID><NAME>Acme &amp; Co</NAME>\
<DISPLAYCONTACT><PRINTAS>Acme</PRINTAS><EMAIL2/><MAILADDRESS><CITY>Paris</CITY><ZIP>75001</ZIP></MAILADDRESS></DISPLAYCONTACT>\
<ONHOLD>false</ONHOLD><CREDITLIMIT>1500.5</CREDITLIMIT><SFDC_ACCOUNT_ID>0011U00000V0tkDQAR</SFDC_ACCOUNT_ID></CUSTOMER>"
        );
    }

    #[test]
    fn arrays_become_repeated_elements() {
        let fields = map(json!({
            "ARPYMTDETAILS": {"ARPYMTDETAIL": [
                {"RECORDKEY": "101", "TRX_PAYMENTAMOUNT": "125.00"},
                {"RECORDKEY": "102", "TRX_PAYMENTAMOUNT": "5"}
            ]},
            "TAGS": ["a", "b"]
        }));
        assert_eq!(
            object_element("ARPYMT", &fields).unwrap().to_xml().unwrap(),
            "<ARPYMT><ARPYMTDETAILS><ARPYMTDETAIL><RECORDKEY>101</RECORDKEY><TRX_PAYMENTAMOUNT>125.00</TRX_PAYMENTAMOUNT></ARPYMTDETAIL>\
<ARPYMTDETAIL><RECORDKEY>102</RECORDKEY><TRX_PAYMENTAMOUNT>5</TRX_PAYMENTAMOUNT></ARPYMTDETAIL></ARPYMTDETAILS><TAGS>a</TAGS><TAGS>b</TAGS></ARPYMT>"
        );
    }

    #[test]
    fn bad_names_and_nested_arrays_are_refused_with_their_path() {
        let err = object_element("CUSTOMER", &map(json!({"DISPLAYCONTACT": {"BAD NAME": 1}})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("CUSTOMER/DISPLAYCONTACT/BAD NAME"), "{err}");
        let err = object_element("CUSTOMER", &map(json!({"X": [[1]]}))).unwrap_err();
        assert!(err.to_string().contains("array inside an array"), "{err}");
        assert!(object_element("<x>", &Map::new()).is_err());
    }

    #[test]
    fn records_turn_back_into_maps() {
        let rec = parse_document(
            b"<customer><CUSTOMERID>C1</CUSTOMERID><EMAIL1/><DISPLAYCONTACT><MAILADDRESS><CITY>Lyon</CITY></MAILADDRESS></DISPLAYCONTACT><LINE>1</LINE><LINE>2</LINE><LINE>3</LINE></customer>",
        )
        .unwrap();
        assert_eq!(
            Value::Object(record_to_map(&rec)),
            json!({
                "CUSTOMERID": "C1",
                "EMAIL1": "",
                "DISPLAYCONTACT": {"MAILADDRESS": {"CITY": "Lyon"}},
                "LINE": ["1", "2", "3"]
            })
        );
    }
}
