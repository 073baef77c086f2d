//! [`IdempotencyStore`] on DynamoDB, the AWS Powertools algorithm and item layout: `id`,
//! `status`, `expiration` (epoch seconds, the table's TTL attribute), `in_progress_expiration`
//! (epoch milliseconds), `validation` (the payload hash) and `data` (the result as JSON), plus
//! `owner`, the [`OwnerToken`] of the caller that took the record (Powertools ignores it).

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::{DateTime, Utc};
use lf_domain::port::{BeginOutcome, IdempotencyConfig, IdempotencyStore, OwnerToken, PayloadHash};
use lf_domain::{Clock, IdempotencyKey, PortError};
use serde_json::Value;

use crate::attribute::{self, Item, n, s};
use crate::error::from_sdk;
use crate::schema::{EXPIRATION, IDEMPOTENCY_KEY};

const STATUS: &str = "status";
const IN_PROGRESS_EXPIRATION: &str = "in_progress_expiration";
const VALIDATION: &str = "validation";
const DATA: &str = "data";
const OWNER: &str = "owner";
const INPROGRESS: &str = "INPROGRESS";
const COMPLETED: &str = "COMPLETED";

/// The Powertools condition: no record, an expired record, or an INPROGRESS record whose owner
/// ran out of time. `:now` is epoch seconds, `:now_ms` epoch milliseconds, both from our clock.
const TAKE_CONDITION: &str = "attribute_not_exists(#id) OR #expiration < :now \
     OR (#status = :inprogress AND #in_progress_expiration < :now_ms)";

/// How often `begin` re-reads when the record it lost to vanished before it could be read.
const BEGIN_ATTEMPTS: u32 = 3;

/// Idempotency records in one DynamoDB table (partition key `id`, TTL on `expiration`).
#[derive(Debug, Clone)]
pub struct DynamoIdempotencyStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    config: IdempotencyConfig,
}

impl DynamoIdempotencyStore {
    /// The store over `table` (see [`crate::schema::Table::Idempotency`]), with the record
    /// lifetimes of `config`.
    pub fn new(
        client: Client,
        table: impl Into<String>,
        clock: Arc<dyn Clock>,
        config: IdempotencyConfig,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
            config,
        }
    }

    fn expiration(&self, now: DateTime<Utc>) -> i64 {
        self.config.expires_at(now).timestamp()
    }

    /// The record that made the conditional put fail. ALL_OLD returns it with the failure; a
    /// store that does not (older emulators) gets a consistent read instead.
    async fn existing(
        &self,
        key: &IdempotencyKey,
        returned: Option<Item>,
    ) -> Result<Option<Item>, PortError> {
        if returned.is_some() {
            return Ok(returned);
        }
        attribute::read(&self.client, &self.table, IDEMPOTENCY_KEY, key.as_str()).await
    }
}

/// What a record that could not be taken means for the caller.
fn outcome_of(
    key: &IdempotencyKey,
    payload: &PayloadHash,
    item: &Item,
) -> Result<BeginOutcome, PortError> {
    if attribute::string(item, VALIDATION)? != payload.as_str() {
        return Err(PortError::PayloadMismatch {
            key: key.to_string(),
        });
    }
    match attribute::string(item, STATUS)? {
        COMPLETED => {
            let data = attribute::string(item, DATA)?;
            serde_json::from_str(data)
                .map(BeginOutcome::Completed)
                .map_err(|e| attribute::corrupt(item, format!("stored result is not JSON: {e}")))
        }
        INPROGRESS => {
            let ms = attribute::number(item, IN_PROGRESS_EXPIRATION)?;
            let until = DateTime::from_timestamp_millis(ms).ok_or_else(|| {
                attribute::corrupt(item, format!("in-progress expiry {ms} is out of range"))
            })?;
            Ok(BeginOutcome::InProgress { until })
        }
        other => Err(attribute::corrupt(
            item,
            format!("unknown status {other:?}"),
        )),
    }
}

impl IdempotencyStore for DynamoIdempotencyStore {
    async fn begin(
        &self,
        key: &IdempotencyKey,
        payload: &PayloadHash,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<BeginOutcome, PortError> {
        for _ in 0..BEGIN_ATTEMPTS {
            let now = self.clock.now();
            let until = self.config.in_progress_until(now, deadline);
            let owner = OwnerToken::new_random();
            let result = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(IDEMPOTENCY_KEY, s(key.as_str()))
                .item(STATUS, s(INPROGRESS))
                .item(EXPIRATION, n(self.expiration(now)))
                .item(IN_PROGRESS_EXPIRATION, n(until.timestamp_millis()))
                .item(VALIDATION, s(payload.as_str()))
                .item(OWNER, s(owner.as_str()))
                .condition_expression(TAKE_CONDITION)
                .expression_attribute_names("#id", IDEMPOTENCY_KEY)
                .expression_attribute_names("#expiration", EXPIRATION)
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_names("#in_progress_expiration", IN_PROGRESS_EXPIRATION)
                .expression_attribute_values(":now", n(now.timestamp()))
                .expression_attribute_values(":now_ms", n(now.timestamp_millis()))
                .expression_attribute_values(":inprogress", s(INPROGRESS))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let returned = match result {
                Ok(_) => return Ok(BeginOutcome::Started { owner }),
                Err(e) => match e.as_service_error() {
                    Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                        failed.item().cloned()
                    }
                    _ => return Err(from_sdk(&format!("PutItem {}", self.table), e)),
                },
            };
            if let Some(item) = self.existing(key, returned).await? {
                return outcome_of(key, payload, &item);
            }
            // Released between our put and our read: try to take it again.
        }
        Err(PortError::Unavailable {
            message: format!(
                "idempotency key {key} kept changing while {} was read",
                self.table
            ),
            source: None,
        })
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        owner: &OwnerToken,
        payload: &PayloadHash,
        result: &Value,
    ) -> Result<(), PortError> {
        let now = self.clock.now();
        // The whole record is rewritten (not updated) so a record the TTL sweeper already
        // removed comes back complete. A record of another owner or payload is left alone.
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(IDEMPOTENCY_KEY, s(key.as_str()))
            .item(STATUS, s(COMPLETED))
            .item(EXPIRATION, n(self.expiration(now)))
            .item(VALIDATION, s(payload.as_str()))
            .item(DATA, s(result.to_string()))
            .item(OWNER, s(owner.as_str()))
            .condition_expression(
                "attribute_not_exists(#id) OR (#owner = :owner AND #validation = :validation)",
            )
            .expression_attribute_names("#id", IDEMPOTENCY_KEY)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#validation", VALIDATION)
            .expression_attribute_values(":owner", s(owner.as_str()))
            .expression_attribute_values(":validation", s(payload.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let returned = match put {
            Ok(_) => return Ok(()),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    failed.item().cloned()
                }
                _ => return Err(from_sdk(&format!("PutItem {}", self.table), e)),
            },
        };
        // Which of the two conditions failed decides the error; a store that returns no item
        // gets a read (if the record vanished since, it was released by its owner: still not
        // ours to write over).
        let held = self.existing(key, returned).await?;
        match held {
            Some(item) if attribute::string(&item, VALIDATION)? != payload.as_str() => {
                Err(PortError::PayloadMismatch {
                    key: key.to_string(),
                })
            }
            _ => Err(OwnerToken::stale(key)),
        }
    }

    async fn release(&self, key: &IdempotencyKey, owner: &OwnerToken) -> Result<bool, PortError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(IDEMPOTENCY_KEY, s(key.as_str()))
            .condition_expression("#status = :inprogress AND #owner = :owner")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":inprogress", s(INPROGRESS))
            .expression_attribute_values(":owner", s(owner.as_str()))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            // Nothing of ours in progress under this key: completed (by us, or by a caller that
            // took over), taken over, or gone. Either way there is nothing to release.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DeleteItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(from_sdk(&format!("DeleteItem {}", self.table), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> IdempotencyKey {
        IdempotencyKey::parse("opportunity-won:abc").unwrap()
    }

    fn record(status: &str, payload: &PayloadHash) -> Item {
        [
            (IDEMPOTENCY_KEY.to_owned(), s("opportunity-won:abc")),
            (STATUS.to_owned(), s(status)),
            (VALIDATION.to_owned(), s(payload.as_str())),
            (IN_PROGRESS_EXPIRATION.to_owned(), n(1_772_355_630_500)),
            (DATA.to_owned(), s(r#"{"invoice":"INV-1"}"#)),
        ]
        .into()
    }

    #[test]
    fn stored_records_decide_the_outcome() {
        let p = PayloadHash::of_bytes(b"p");
        assert_eq!(
            outcome_of(&key(), &p, &record(COMPLETED, &p)).unwrap(),
            BeginOutcome::Completed(json!({"invoice": "INV-1"}))
        );
        assert_eq!(
            outcome_of(&key(), &p, &record(INPROGRESS, &p)).unwrap(),
            BeginOutcome::InProgress {
                until: DateTime::from_timestamp_millis(1_772_355_630_500).unwrap()
            }
        );
        let other = PayloadHash::of_bytes(b"other");
        assert!(matches!(
            outcome_of(&key(), &other, &record(COMPLETED, &p)),
            Err(PortError::PayloadMismatch { .. })
        ));
        assert!(matches!(
            outcome_of(&key(), &p, &record("EXPIRED?", &p)),
            Err(PortError::Corrupt { .. })
        ));
        let mut bad = record(COMPLETED, &p);
        bad.insert(DATA.to_owned(), s("{not json"));
        assert!(matches!(
            outcome_of(&key(), &p, &bad),
            Err(PortError::Corrupt { .. })
        ));
    }
}
