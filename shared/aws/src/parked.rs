//! [`ParkedFailures`] on DynamoDB: partition key = the flow, sort key = the record
//! ([`crate::key::record`]). One flow's failures are one query; `status` counts them with
//! `Select=COUNT` queries, one per flow.
//!
//! Parked failures are few by design (each waits for a person), so `list` reads the failures of
//! the flows asked for and orders them by `last_seen` itself instead of keeping a time index.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select};
use lf_domain::port::{ParkRequest, ParkedFailure, ParkedFailures};
use lf_domain::{Clock, Flow, PortError, RecordRef, System};

use crate::attribute::{self, Item, n, s, time};
use crate::error::from_sdk;
use crate::key;
use crate::schema::{PARTITION_KEY, SORT_KEY};

const SYSTEM: &str = "system";
const OBJECT: &str = "object";
const RECORD_ID: &str = "record_id";
const REASON: &str = "reason";
const ERROR_CLASS: &str = "error_class";
const FIRST_SEEN: &str = "first_seen";
const LAST_SEEN: &str = "last_seen";
const ATTEMPTS: &str = "attempts";
const PAYLOAD: &str = "payload";

/// Parked failures in one DynamoDB table (partition key `pk` = flow, sort key `sk` = record).
#[derive(Debug, Clone)]
pub struct DynamoParkedFailures {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoParkedFailures {
    /// The store over `table` (see [`crate::schema::Table::Parked`]).
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    /// Every item of one flow's partition, or only their number.
    async fn query_flow(
        &self,
        flow: Flow,
        count_only: bool,
    ) -> Result<(Vec<Item>, u64), PortError> {
        let mut items = Vec::new();
        let mut count = 0u64;
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_values(":pk", s(flow.as_str()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            if count_only {
                query = query.select(Select::Count);
            }
            let got = query
                .send()
                .await
                .map_err(|e| from_sdk(&format!("Query {}", self.table), e))?;
            count += u64::try_from(got.count()).unwrap_or(0);
            items.extend(got.items().iter().cloned());
            match got.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok((items, count)),
            }
        }
    }
}

fn failure_of(item: &Item) -> Result<ParkedFailure, PortError> {
    let bad = |what: &str| attribute::corrupt(item, what);
    let flow_name = attribute::string(item, PARTITION_KEY)?;
    let flow = Flow::parse(flow_name).ok_or_else(|| bad("unknown flow"))?;
    let system = match attribute::string(item, SYSTEM)? {
        "salesforce" => System::Salesforce,
        "intacct" => System::Intacct,
        _ => return Err(bad("unknown system")),
    };
    let attempts = attribute::number(item, ATTEMPTS)?;
    let payload = serde_json::from_str(attribute::string(item, PAYLOAD)?)
        .map_err(|e| bad(&format!("payload is not JSON: {e}")))?;
    Ok(ParkedFailure {
        record: RecordRef {
            system,
            object: attribute::string(item, OBJECT)?.to_owned(),
            id: attribute::string(item, RECORD_ID)?.to_owned(),
        },
        flow,
        reason: attribute::string(item, REASON)?.to_owned(),
        error_class: attribute::string(item, ERROR_CLASS)?.to_owned(),
        first_seen: attribute::timestamp(item, FIRST_SEEN)?,
        last_seen: attribute::timestamp(item, LAST_SEEN)?,
        attempts: u32::try_from(attempts).map_err(|_| bad("attempts out of range"))?,
        payload,
    })
}

fn key_of(record: &RecordRef, flow: Flow) -> [(String, AttributeValue); 2] {
    [
        (PARTITION_KEY.to_owned(), s(flow.as_str())),
        (SORT_KEY.to_owned(), s(key::record(record))),
    ]
}

impl ParkedFailures for DynamoParkedFailures {
    async fn park(&self, request: &ParkRequest) -> Result<ParkedFailure, PortError> {
        let payload = request.encoded_payload()?;
        let record = &request.record;
        // One UpdateItem: first_seen only if absent, attempts added atomically, so concurrent
        // parks of one key each count.
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(record, request.flow).into()))
            .update_expression(
                "SET #system = :system, #object = :object, #record_id = :record_id, \
                 #reason = :reason, #error_class = :error_class, #payload = :payload, \
                 #last_seen = :now, #first_seen = if_not_exists(#first_seen, :now) \
                 ADD #attempts :one",
            )
            .expression_attribute_names("#system", SYSTEM)
            .expression_attribute_names("#object", OBJECT)
            .expression_attribute_names("#record_id", RECORD_ID)
            .expression_attribute_names("#reason", REASON)
            .expression_attribute_names("#error_class", ERROR_CLASS)
            .expression_attribute_names("#payload", PAYLOAD)
            .expression_attribute_names("#last_seen", LAST_SEEN)
            .expression_attribute_names("#first_seen", FIRST_SEEN)
            .expression_attribute_names("#attempts", ATTEMPTS)
            .expression_attribute_values(":system", s(record.system.as_str()))
            .expression_attribute_values(":object", s(&record.object))
            .expression_attribute_values(":record_id", s(&record.id))
            .expression_attribute_values(":reason", s(request.stored_reason()))
            .expression_attribute_values(":error_class", s(&request.error_class))
            .expression_attribute_values(":payload", s(payload))
            .expression_attribute_values(":now", time(self.clock.now()))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| from_sdk(&format!("UpdateItem {}", self.table), e))?;
        let item = updated.attributes.ok_or_else(|| {
            PortError::corrupt(format!(
                "UpdateItem {} returned no attributes for {record}",
                self.table
            ))
        })?;
        failure_of(&item)
    }

    async fn get(
        &self,
        record: &RecordRef,
        flow: Flow,
    ) -> Result<Option<ParkedFailure>, PortError> {
        let got = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_of(record, flow).into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| from_sdk(&format!("GetItem {}", self.table), e))?;
        got.item.as_ref().map(failure_of).transpose()
    }

    async fn list(
        &self,
        flow: Option<Flow>,
        limit: usize,
    ) -> Result<Vec<ParkedFailure>, PortError> {
        let flows = flow.map_or_else(|| Flow::ALL.to_vec(), |f| vec![f]);
        let mut failures = Vec::new();
        for flow in flows {
            let (items, _) = self.query_flow(flow, false).await?;
            for item in &items {
                failures.push(failure_of(item)?);
            }
        }
        failures.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then_with(|| a.flow.cmp(&b.flow))
                .then_with(|| a.record.cmp(&b.record))
        });
        failures.truncate(limit);
        Ok(failures)
    }

    async fn count_by_flow(&self) -> Result<BTreeMap<Flow, u64>, PortError> {
        let mut counts = BTreeMap::new();
        for flow in Flow::ALL {
            let (_, count) = self.query_flow(flow, true).await?;
            if count > 0 {
                counts.insert(flow, count);
            }
        }
        Ok(counts)
    }

    async fn remove(&self, record: &RecordRef, flow: Flow) -> Result<bool, PortError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_of(record, flow).into()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| from_sdk(&format!("DeleteItem {}", self.table), e))?;
        Ok(deleted.attributes.is_some_and(|a| !a.is_empty()))
    }
}
