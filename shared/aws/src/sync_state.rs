//! [`SyncState`] on DynamoDB: one item per stream watermark (`WM#<stream>`) and one per record
//! fingerprint per record and flow (`FP#<flow>#<record>`), in one table (partition key `pk`).

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use lf_domain::port::{SyncState, Watermark};
use lf_domain::{Clock, Fingerprint, Flow, PortError, RecordRef};

use crate::attribute::{self, Item, s, time};
use crate::error::{condition_failed, from_sdk};
use crate::key;
use crate::schema::PARTITION_KEY;

const MODIFIED_AT: &str = "modified_at";
const LAST_ID: &str = "last_id";
/// The watermark in a form whose string order is watermark order (see
/// [`key::watermark_position`]), so the forward-only rule is a DynamoDB condition.
const POSITION: &str = "position";
const FINGERPRINT: &str = "fingerprint";
/// When we wrote the item, by our clock: tells an operator when a poller last moved.
const UPDATED_AT: &str = "updated_at";

/// Watermarks and fingerprints in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoSyncState {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoSyncState {
    /// The store over `table` (see [`crate::schema::Table::SyncState`]).
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
        }
    }

    async fn get(&self, pk: &str) -> Result<Option<Item>, PortError> {
        attribute::read(&self.client, &self.table, PARTITION_KEY, pk).await
    }
}

impl SyncState for DynamoSyncState {
    async fn watermark(&self, stream: &str) -> Result<Option<Watermark>, PortError> {
        let Some(item) = self.get(&key::watermark(stream)).await? else {
            return Ok(None);
        };
        Ok(Some(Watermark {
            modified_at: attribute::timestamp(&item, MODIFIED_AT)?,
            last_id: attribute::optional_string(&item, LAST_ID)?
                .unwrap_or_default()
                .to_owned(),
        }))
    }

    async fn advance_watermark(&self, stream: &str, to: &Watermark) -> Result<bool, PortError> {
        let position = key::watermark_position(to)?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PARTITION_KEY, s(key::watermark(stream)))
            .item(MODIFIED_AT, time(to.modified_at))
            .item(LAST_ID, s(&to.last_id))
            .item(POSITION, s(&position))
            .item(UPDATED_AT, time(self.clock.now()))
            .condition_expression("attribute_not_exists(#pk) OR #position < :position")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#position", POSITION)
            .expression_attribute_values(":position", s(position))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(from_sdk(&format!("PutItem {}", self.table), e)),
        }
    }

    async fn fingerprint(
        &self,
        record: &RecordRef,
        flow: Flow,
    ) -> Result<Option<Fingerprint>, PortError> {
        let Some(item) = self.get(&key::fingerprint(record, flow)).await? else {
            return Ok(None);
        };
        let hex = attribute::string(&item, FINGERPRINT)?;
        Fingerprint::from_hex(hex)
            .map(Some)
            .ok_or_else(|| attribute::corrupt(&item, "fingerprint is not 64 hex digits"))
    }

    async fn record_fingerprint(
        &self,
        record: &RecordRef,
        flow: Flow,
        fingerprint: &Fingerprint,
    ) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PARTITION_KEY, s(key::fingerprint(record, flow)))
            .item(FINGERPRINT, s(fingerprint.as_hex()))
            .item(UPDATED_AT, time(self.clock.now()))
            .send()
            .await
            .map_err(|e| from_sdk(&format!("PutItem {}", self.table), e))?;
        Ok(())
    }
}
