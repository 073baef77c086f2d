//! The company-wide concurrency limiter on DynamoDB: one item per slot (`<name>#<slot>`), taken
//! with a conditional put and given back with a conditional delete.
//!
//! Cost: an uncontended Intacct request costs two DynamoDB writes (one put, one delete); an
//! attempt while every slot is held costs one conditional put per slot before it backs off.
//!
//! Why leases rather than one SQS lane: SQS's `MaximumConcurrency` caps one event source
//! mapping, at no less than 2, and every flow that calls Intacct has its own queue and mapping,
//! so six flows would allow at least twelve concurrent requests against a company limit of two.
//! A lease table is one cap shared by every function, instance, the poller and the CLI.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use chrono::{DateTime, Utc};
use lf_domain::port::{
    BoxFuture, ConcurrencyLimiter, Lease, acquire_by_polling, check_capacity, lease_expiry,
};
use lf_domain::{Clock, Deadline, PortError};

use crate::attribute::{n, s};
use crate::error::{condition_failed, from_sdk};
use crate::key;
use crate::schema::PARTITION_KEY;

const TOKEN: &str = "token";
/// Epoch milliseconds after which the slot is free again.
const EXPIRES_AT: &str = "expires_at";

/// A limiter of `capacity` slots named `name` in one DynamoDB table (partition key `pk`), shared
/// by every process that uses the same table and name. Expiry is judged on the injected clock;
/// the clocks of the processes sharing a limiter should agree to well within a lease's hold.
#[derive(Debug, Clone)]
pub struct DynamoLimiter {
    client: Client,
    table: String,
    name: String,
    capacity: u32,
    clock: Arc<dyn Clock>,
}

impl DynamoLimiter {
    /// The limiter `name` with `capacity` slots over `table` (see
    /// [`crate::schema::Table::Leases`]). Fails with [`PortError::Invalid`] for capacity 0.
    pub fn new(
        client: Client,
        table: impl Into<String>,
        name: &str,
        capacity: u32,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, PortError> {
        check_capacity(name, capacity)?;
        Ok(Self {
            client,
            table: table.into(),
            name: name.to_owned(),
            capacity,
            clock,
        })
    }

    /// One pass over the slots, starting at a random one so that waiters of many instances do
    /// not all contend for slot 0.
    async fn try_once(&self, hold: Duration) -> Result<Option<Lease>, PortError> {
        let start = rand::random_range(0..self.capacity);
        for i in 0..self.capacity {
            let slot = (start + i) % self.capacity;
            let now = self.clock.now();
            let expires_at = expiry(now, hold);
            let token = uuid::Uuid::new_v4().to_string();
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(PARTITION_KEY, s(key::lease(&self.name, slot)))
                .item(TOKEN, s(&token))
                .item(EXPIRES_AT, n(expires_at.timestamp_millis()))
                .condition_expression("attribute_not_exists(#pk) OR #expires_at < :now")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#expires_at", EXPIRES_AT)
                .expression_attribute_values(":now", n(now.timestamp_millis()))
                .send()
                .await;
            match put {
                Ok(_) => {
                    return Ok(Some(Lease {
                        slot,
                        token,
                        expires_at,
                    }));
                }
                Err(e) if condition_failed(&e) => {}
                Err(e) => return Err(from_sdk(&format!("PutItem {}", self.table), e)),
            }
        }
        Ok(None)
    }
}

/// When a lease taken at `now` for `hold` frees itself, to the millisecond it is stored with.
fn expiry(now: DateTime<Utc>, hold: Duration) -> DateTime<Utc> {
    let at = lease_expiry(now, hold);
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

impl ConcurrencyLimiter for DynamoLimiter {
    fn acquire(
        &self,
        hold: Duration,
        deadline: Option<Deadline>,
    ) -> BoxFuture<'_, Result<Lease, PortError>> {
        Box::pin(acquire_by_polling(
            &self.name,
            self.capacity,
            deadline,
            move || self.try_once(hold),
        ))
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            let deleted = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key(PARTITION_KEY, s(key::lease(&self.name, lease.slot)))
                .condition_expression("#token = :token")
                .expression_attribute_names("#token", TOKEN)
                .expression_attribute_values(":token", s(&lease.token))
                .send()
                .await;
            match deleted {
                Ok(_) => Ok(()),
                // The slot expired and was taken by another holder (or is free): not ours.
                Err(e)
                    if matches!(
                        e.as_service_error(),
                        Some(DeleteItemError::ConditionalCheckFailedException(_))
                    ) =>
                {
                    Ok(())
                }
                Err(e) => Err(from_sdk(&format!("DeleteItem {}", self.table), e)),
            }
        })
    }

    fn capacity(&self) -> u32 {
        self.capacity
    }
}
