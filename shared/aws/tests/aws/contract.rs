//! The port contract suite against DynamoDB and SQS as emulated by moto, plus checks of what
//! only the AWS adapters have (item layout, provisioning, error mapping).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use lf_aws::schema::{self, Table};
use lf_aws::{
    DynamoAuditLog, DynamoIdempotencyStore, DynamoLimiter, DynamoParkedFailures, DynamoSyncState,
    DynamoXrefStore, SqsQueue,
};
use lf_domain::ManualClock;
use lf_domain::port::IdempotencyConfig;
use lf_testkit::{Harness, epoch};

use crate::moto;

/// Visibility timeout of the queues the harness creates; the suite passes its own per receive.
const QUEUE_VISIBILITY: Duration = Duration::from_secs(30);

struct AwsHarness {
    config: aws_config::SdkConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    clock: Arc<ManualClock>,
    /// Unique per harness, so cases running in parallel never share a table or queue.
    prefix: String,
    created: AtomicU32,
}

impl AwsHarness {
    fn name(&self, what: &str) -> String {
        let n = self.created.fetch_add(1, Ordering::Relaxed);
        format!("{}-{what}-{n}", self.prefix)
    }

    async fn table(&self, table: Table) -> String {
        let name = self.name(table.suffix());
        schema::create_table(&self.dynamodb, table, &name)
            .await
            .unwrap_or_else(|e| panic!("creating table {name} in moto failed: {e}"));
        name
    }
}

impl Harness for AwsHarness {
    type Xref = DynamoXrefStore;
    type Idempotency = DynamoIdempotencyStore;
    type State = DynamoSyncState;
    type Audit = DynamoAuditLog;
    type Queue = SqsQueue;
    type Parked = DynamoParkedFailures;
    type Limiter = DynamoLimiter;

    async fn new() -> Self {
        let config = moto::sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let unique = uuid::Uuid::new_v4().simple().to_string();
        Self {
            sqs: aws_sdk_sqs::Client::new(&config),
            config,
            dynamodb,
            clock: Arc::new(ManualClock::new(epoch())),
            prefix: format!("lf-{}", &unique[..12]),
            created: AtomicU32::new(0),
        }
    }

    async fn xref(&self) -> DynamoXrefStore {
        let table = self.table(Table::Xref).await;
        DynamoXrefStore::new(self.dynamodb.clone(), table)
    }

    async fn idempotency(&self, config: IdempotencyConfig) -> DynamoIdempotencyStore {
        let table = self.table(Table::Idempotency).await;
        DynamoIdempotencyStore::new(self.dynamodb.clone(), table, self.clock.clone(), config)
    }

    async fn sync_state(&self) -> DynamoSyncState {
        let table = self.table(Table::SyncState).await;
        DynamoSyncState::new(self.dynamodb.clone(), table, self.clock.clone())
    }

    async fn audit(&self) -> DynamoAuditLog {
        let table = self.table(Table::Audit).await;
        DynamoAuditLog::new(self.dynamodb.clone(), table, self.clock.clone())
    }

    async fn parked(&self) -> DynamoParkedFailures {
        let table = self.table(Table::Parked).await;
        DynamoParkedFailures::new(self.dynamodb.clone(), table, self.clock.clone())
    }

    /// Each handle has its own client, as another process would.
    async fn limiters(&self, capacity: u32, handles: usize) -> Vec<DynamoLimiter> {
        let table = self.table(Table::Leases).await;
        (0..handles)
            .map(|_| {
                let client = aws_sdk_dynamodb::Client::new(&self.config);
                DynamoLimiter::new(
                    client,
                    table.clone(),
                    "intacct",
                    capacity,
                    self.clock.clone(),
                )
                .unwrap_or_else(|e| panic!("limiter: {e}"))
            })
            .collect()
    }

    async fn queue(&self) -> SqsQueue {
        let name = self.name("queue");
        let url = schema::create_queue(&self.sqs, &name, QUEUE_VISIBILITY)
            .await
            .unwrap_or_else(|e| panic!("creating queue {name} in moto failed: {e}"));
        SqsQueue::new(self.sqs.clone(), url)
    }

    async fn queue_with_dlq(&self, max_receives: u32) -> (SqsQueue, SqsQueue) {
        let name = self.name("queue");
        let urls =
            schema::create_queue_with_dead_letter(&self.sqs, &name, QUEUE_VISIBILITY, max_receives)
                .await
                .unwrap_or_else(|e| panic!("creating queue {name} in moto failed: {e}"));
        (
            SqsQueue::new(self.sqs.clone(), urls.queue),
            SqsQueue::new(self.sqs.clone(), urls.dead_letter),
        )
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// SQS (and moto) keep real time.
    async fn let_queue_time_pass(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

lf_testkit::port_contract_tests!(AwsHarness);

/// What only the AWS adapters have: the stored layout others rely on (TTL, Powertools
/// compatibility), provisioning, and how failures are reported.
mod aws {
    use super::*;
    use lf_domain::port::{
        BeginOutcome, IdempotencyStore, LinkKind, PayloadHash, Queue, SyncState, XrefStore,
    };
    use lf_domain::{Classify, ErrorClass, IdempotencyKey, PortError, SalesforceId};

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_owned())
    }

    #[tokio::test]
    async fn tables_are_created_with_the_schema_key_and_ttl() {
        let h = AwsHarness::new().await;
        for table in Table::ALL {
            let name = h.table(table).await;
            let described = h
                .dynamodb
                .describe_table()
                .table_name(&name)
                .send()
                .await
                .unwrap();
            let keys: Vec<(String, String)> = described
                .table()
                .unwrap()
                .key_schema()
                .iter()
                .map(|k| {
                    (
                        k.attribute_name().to_owned(),
                        k.key_type().as_str().to_owned(),
                    )
                })
                .collect();
            let mut expected = vec![(table.partition_key().to_owned(), "HASH".to_owned())];
            if let Some(sort) = table.sort_key() {
                expected.push((sort.to_owned(), "RANGE".to_owned()));
            }
            assert_eq!(keys, expected, "{table:?}");
            let ttl = h
                .dynamodb
                .describe_time_to_live()
                .table_name(&name)
                .send()
                .await
                .unwrap();
            let ttl_attribute = ttl
                .time_to_live_description()
                .filter(|d| d.time_to_live_status().map(|s| s.as_str()) == Some("ENABLED"))
                .and_then(|d| d.attribute_name())
                .map(str::to_owned);
            assert_eq!(ttl_attribute.as_deref(), table.ttl_attribute(), "{table:?}");
            // Creating an existing table again is not an error.
            schema::create_table(&h.dynamodb, table, &name)
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn idempotency_records_use_the_powertools_layout() {
        let h = AwsHarness::new().await;
        let table = h.table(Table::Idempotency).await;
        let store = DynamoIdempotencyStore::new(
            h.dynamodb.clone(),
            table.clone(),
            h.clock.clone(),
            IdempotencyConfig::default(),
        );
        let key = IdempotencyKey::parse("opportunity-won:k").unwrap();
        let payload = PayloadHash::of_bytes(b"p");
        let deadline = epoch() + chrono::Duration::milliseconds(42_500);
        let BeginOutcome::Started { owner } =
            store.begin(&key, &payload, Some(deadline)).await.unwrap()
        else {
            panic!("the key was not startable");
        };
        let item = h
            .dynamodb
            .get_item()
            .table_name(&table)
            .key("id", s(key.as_str()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert_eq!(item["status"], s("INPROGRESS"));
        assert_eq!(
            item["expiration"],
            AttributeValue::N((epoch().timestamp() + 3600).to_string()),
            "TTL attribute in epoch seconds"
        );
        assert_eq!(
            item["in_progress_expiration"],
            AttributeValue::N(deadline.timestamp_millis().to_string())
        );
        assert_eq!(item["validation"], s(payload.as_str()));
        assert_eq!(item["owner"], s(owner.as_str()));
        assert!(store.release(&key, &owner).await.unwrap());
    }

    #[tokio::test]
    async fn corrupt_items_are_reported_as_corrupt() {
        let h = AwsHarness::new().await;
        let table = h.table(Table::Xref).await;
        let store = DynamoXrefStore::new(h.dynamodb.clone(), table.clone());
        let id = SalesforceId::parse("001000000000001").unwrap();
        h.dynamodb
            .put_item()
            .table_name(&table)
            .item("pk", s("SF#account-customer#001000000000001AAA"))
            .item("kind", s("account-customer"))
            .item("salesforce_id", s("001000000000001AAA"))
            .item("linked_at", s("not a time"))
            .send()
            .await
            .unwrap();
        let err = store
            .find_by_salesforce(LinkKind::AccountCustomer, &id)
            .await
            .unwrap_err();
        assert!(matches!(err, PortError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("intacct_key"), "{err}");
    }

    #[tokio::test]
    async fn missing_table_is_unavailable_and_keeps_its_cause() {
        let h = AwsHarness::new().await;
        let state = DynamoSyncState::new(h.dynamodb.clone(), "lf-no-such-table", h.clock.clone());
        let err = state.watermark("salesforce/Account").await.unwrap_err();
        assert!(matches!(err, PortError::Unavailable { .. }), "{err:?}");
        assert_eq!(err.class(), ErrorClass::Transient);
        assert!(
            err.to_string().contains("ResourceNotFoundException"),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[tokio::test]
    async fn flow_queues_get_a_redrive_policy_and_a_long_lived_dlq() {
        let h = AwsHarness::new().await;
        let name = h.name("flow");
        let create = || {
            schema::create_queue_with_dead_letter(
                &h.sqs,
                &name,
                Duration::from_secs(180),
                schema::MAX_RECEIVES,
            )
        };
        let urls = create().await.unwrap();
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let attrs = |url: String| {
            let sqs = h.sqs.clone();
            async move {
                sqs.get_queue_attributes()
                    .queue_url(url)
                    .attribute_names(A::All)
                    .send()
                    .await
                    .unwrap()
                    .attributes()
                    .cloned()
                    .unwrap()
            }
        };
        let queue = attrs(urls.queue.clone()).await;
        let dlq = attrs(urls.dead_letter.clone()).await;
        assert_eq!(queue[&A::VisibilityTimeout], "180");
        let redrive: serde_json::Value = serde_json::from_str(&queue[&A::RedrivePolicy]).unwrap();
        assert_eq!(redrive["deadLetterTargetArn"], dlq[&A::QueueArn].as_str());
        assert_eq!(
            redrive["maxReceiveCount"].to_string().trim_matches('"'),
            "5"
        );
        assert_eq!(queue[&A::MessageRetentionPeriod], "345600");
        assert_eq!(dlq[&A::MessageRetentionPeriod], "1209600");
        assert!(urls.dead_letter.ends_with(&format!("{name}-dlq")));
        // Creating it again finds the same queues.
        assert_eq!(create().await.unwrap(), urls);
    }

    #[tokio::test]
    async fn a_flow_queue_leads_to_its_dead_letter_queue_and_a_plain_queue_to_none() {
        let h = AwsHarness::new().await;
        let (queue, dlq) = h.queue_with_dlq(schema::MAX_RECEIVES).await;
        let found = queue
            .dead_letter_queue()
            .await
            .unwrap()
            .expect("a redrive policy");
        assert_eq!(found.url(), dlq.url());
        // The found queue is the one SQS redrives to: what is sent there is in the DLQ.
        found
            .send_batch(&[lf_domain::port::OutgoingMessage::new("moved")])
            .await
            .unwrap();
        let got = dlq
            .receive(1, Duration::from_secs(30), Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, "moved");
        assert!(h.queue().await.dead_letter_queue().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn watermarks_survive_a_round_trip_with_nanoseconds() {
        let h = AwsHarness::new().await;
        let state = h.sync_state().await;
        let fine = lf_domain::port::Watermark {
            modified_at: epoch() + chrono::Duration::nanoseconds(123_456_789),
            last_id: String::new(),
        };
        assert!(state.advance_watermark("s", &fine).await.unwrap());
        assert_eq!(state.watermark("s").await.unwrap(), Some(fine.clone()));
        let coarser = lf_domain::port::Watermark {
            modified_at: epoch(),
            last_id: "zzz".into(),
        };
        assert!(!state.advance_watermark("s", &coarser).await.unwrap());
    }

    #[tokio::test]
    async fn messages_of_a_chunked_batch_keep_their_delays() {
        let h = AwsHarness::new().await;
        let q = h.queue().await;
        let mut msgs: Vec<_> = (0..12)
            .map(|i| lf_domain::port::OutgoingMessage::new(format!("m{i}")))
            .collect();
        // The last one lands in the second SQS batch.
        msgs[11].delay = Duration::from_secs(60);
        q.send_batch(&msgs).await.unwrap();
        let mut bodies = Vec::new();
        for _ in 0..5 {
            for m in q
                .receive(10, Duration::from_secs(30), Duration::ZERO)
                .await
                .unwrap()
            {
                bodies.push(m.body);
            }
        }
        bodies.sort();
        let mut expected: Vec<String> = (0..11).map(|i| format!("m{i}")).collect();
        expected.sort();
        assert_eq!(bodies, expected);
    }
}
