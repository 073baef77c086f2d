//! Reading and writing DynamoDB items and their attribute values. A stored item that lacks an
//! attribute or holds the wrong type is [`PortError::Corrupt`], naming the item and the attribute.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use lf_domain::PortError;

use crate::error::from_sdk;
use crate::schema::{IDEMPOTENCY_KEY, PARTITION_KEY};

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Reads one item by its (string) partition key, strongly consistent: the ports promise that a
/// read sees every write that completed before it.
pub(crate) async fn read(
    client: &Client,
    table: &str,
    key_attribute: &str,
    key: &str,
) -> Result<Option<Item>, PortError> {
    let got = client
        .get_item()
        .table_name(table)
        .key(key_attribute, s(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| from_sdk(&format!("GetItem {table}"), e))?;
    Ok(got.item)
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A timestamp as RFC 3339 with as many fraction digits as it has, so it reads back equal.
pub(crate) fn time(at: DateTime<Utc>) -> AttributeValue {
    s(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

pub(crate) fn string<'a>(item: &'a Item, name: &str) -> Result<&'a str, PortError> {
    optional_string(item, name)?.ok_or_else(|| missing(item, name))
}

pub(crate) fn optional_string<'a>(
    item: &'a Item,
    name: &str,
) -> Result<Option<&'a str>, PortError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v)),
        Some(_) => Err(wrong_type(item, name, "a string")),
    }
}

pub(crate) fn number(item: &Item, name: &str) -> Result<i64, PortError> {
    match item.get(name) {
        None => Err(missing(item, name)),
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| wrong_type(item, name, "an integer")),
        Some(_) => Err(wrong_type(item, name, "a number")),
    }
}

pub(crate) fn timestamp(item: &Item, name: &str) -> Result<DateTime<Utc>, PortError> {
    let text = string(item, name)?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .map_err(|e| {
            corrupt(
                item,
                format!("attribute {name} is not an RFC 3339 time: {e}"),
            )
        })
}

/// Builds the Corrupt error for `item`, naming it by whichever key attribute it has.
pub(crate) fn corrupt(item: &Item, what: impl std::fmt::Display) -> PortError {
    let name = [PARTITION_KEY, IDEMPOTENCY_KEY]
        .iter()
        .find_map(|k| match item.get(*k) {
            Some(AttributeValue::S(v)) => Some(v.as_str()),
            _ => None,
        })
        .unwrap_or("<no key>");
    PortError::corrupt(format!("item {name}: {what}"))
}

fn missing(item: &Item, name: &str) -> PortError {
    corrupt(item, format!("attribute {name} is missing"))
}

fn wrong_type(item: &Item, name: &str, expected: &str) -> PortError {
    corrupt(item, format!("attribute {name} is not {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_items_are_corrupt_and_named() {
        let item: Item = [
            ("pk".to_owned(), s("SF#x")),
            ("count".to_owned(), s("seven")),
            ("at".to_owned(), s("yesterday")),
        ]
        .into();
        let err = number(&item, "count").unwrap_err();
        assert!(matches!(err, PortError::Corrupt { .. }));
        assert!(err.to_string().contains("item SF#x"), "{err}");
        assert!(
            string(&item, "absent")
                .unwrap_err()
                .to_string()
                .contains("absent")
        );
        assert!(matches!(
            timestamp(&item, "at").unwrap_err(),
            PortError::Corrupt { .. }
        ));
    }

    #[test]
    fn times_read_back_exactly() {
        let at = DateTime::parse_from_rfc3339("2026-03-01T09:00:00.123456789Z")
            .unwrap()
            .to_utc();
        let item: Item = [("at".to_owned(), time(at))].into();
        assert_eq!(timestamp(&item, "at").unwrap(), at);
    }
}
