//! [`AuditLog`] on DynamoDB: partition key = the record, sort key = the entry's time (fixed
//! width, nanoseconds) and a random id, so a record's history is one query in time order and
//! equal times never overwrite each other.

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use lf_domain::port::{AuditEntry, AuditLog};
use lf_domain::{Clock, PortError, RecordRef};
use uuid::Uuid;

use crate::attribute::{self, Item, s, time};
use crate::error::from_sdk;
use crate::key;
use crate::schema::{PARTITION_KEY, SORT_KEY};

/// The whole entry as JSON: the domain type's own serialisation, so new fields need no change
/// here.
const ENTRY: &str = "entry";
/// Copies of a few fields as plain attributes, for reading the table in the console.
const FLOW: &str = "flow";
const ACTION: &str = "action";
/// When we wrote the entry, by our clock (the entry's own time is when it happened).
const RECORDED_AT: &str = "recorded_at";

/// A page of a history query never needs to be larger than this.
const PAGE: usize = 100;

/// The audit log in one DynamoDB table (partition key `pk`, sort key `sk`).
#[derive(Debug, Clone)]
pub struct DynamoAuditLog {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoAuditLog {
    /// The store over `table` (see [`crate::schema::Table::Audit`]).
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }
}

fn entry_of(item: &Item) -> Result<AuditEntry, PortError> {
    let json = attribute::string(item, ENTRY)?;
    serde_json::from_str(json)
        .map_err(|e| attribute::corrupt(item, format!("audit entry is not readable: {e}")))
}

fn name_of<T: serde::Serialize>(value: &T) -> Result<String, PortError> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => Ok(name),
        _ => Err(PortError::invalid(
            "audit field did not serialise to a name",
        )),
    }
}

impl AuditLog for DynamoAuditLog {
    async fn append(&self, entry: &AuditEntry) -> Result<(), PortError> {
        let json = serde_json::to_string(entry)
            .map_err(|e| PortError::invalid(format!("audit entry cannot be written: {e}")))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PARTITION_KEY, s(key::record(&entry.record)))
            .item(SORT_KEY, s(key::audit_entry(entry.at, Uuid::new_v4())?))
            .item(ENTRY, s(json))
            .item(FLOW, s(entry.flow.as_str()))
            .item(ACTION, s(name_of(&entry.action)?))
            .item(RECORDED_AT, time(self.clock.now()))
            // Append-only even if a random id ever repeated.
            .condition_expression("attribute_not_exists(#sk)")
            .expression_attribute_names("#sk", SORT_KEY)
            .send()
            .await
            .map_err(|e| from_sdk(&format!("PutItem {}", self.table), e))?;
        Ok(())
    }

    async fn history(
        &self,
        record: &RecordRef,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, PortError> {
        let mut entries = Vec::new();
        let mut start: Option<Item> = None;
        while entries.len() < limit {
            let page = (limit - entries.len()).min(PAGE);
            let got = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_values(":pk", AttributeValue::S(key::record(record)))
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(i32::try_from(page).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| from_sdk(&format!("Query {}", self.table), e))?;
            for item in got.items() {
                entries.push(entry_of(item)?);
            }
            match got.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => break,
            }
        }
        entries.truncate(limit);
        Ok(entries)
    }
}
