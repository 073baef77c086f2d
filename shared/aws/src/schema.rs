//! The tables and queues the adapters use: key schemas, TTL attributes, names, and the calls that
//! create them. `template.yaml` deploys the same definitions (a test holds the two together);
//! the moto tests and `ledgerforce local` create them with [`create_tables`] and
//! [`create_queue_with_dead_letter`].

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    SseSpecification, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use lf_domain::{Flow, PortError};

use crate::error::{build_failed, from_sdk};

/// Partition key of the xref, sync-state, audit, parked and leases tables.
pub(crate) const PARTITION_KEY: &str = "pk";
/// Sort key of the audit and parked tables.
pub(crate) const SORT_KEY: &str = "sk";
/// Partition key of the idempotency table (the AWS Powertools name).
pub(crate) const IDEMPOTENCY_KEY: &str = "id";
/// Epoch seconds after which DynamoDB's TTL sweeper may delete an idempotency record.
pub(crate) const EXPIRATION: &str = "expiration";

/// How many receives a message gets before SQS moves it to the dead-letter queue (the
/// template's `maxReceiveCount`; its test holds them equal). The flow functions park a change
/// still failing on its last delivery, with its error (`BatchContext::max_receives`).
pub const MAX_RECEIVES: u32 = 5;
/// How long a flow queue keeps a message (the SQS default, stated so the DLQ outlives it).
pub const QUEUE_RETENTION: Duration = Duration::from_secs(4 * 24 * 3600);
/// How long a dead-letter queue keeps a message: the SQS maximum, 14 days, so a failure found
/// after a long weekend can still be replayed.
pub const DEAD_LETTER_RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);

/// One of the adapters' tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// Salesforce ↔ Intacct links ([`crate::DynamoXrefStore`]).
    Xref,
    /// Idempotency records ([`crate::DynamoIdempotencyStore`]).
    Idempotency,
    /// Watermarks and fingerprints ([`crate::DynamoSyncState`]).
    SyncState,
    /// The audit log ([`crate::DynamoAuditLog`]).
    Audit,
    /// Parked permanent failures, flow × record ([`crate::DynamoParkedFailures`]).
    Parked,
    /// The slots of the company-wide concurrency limiters ([`crate::DynamoLimiter`]).
    Leases,
}

impl Table {
    /// Every table, in a fixed order.
    pub const ALL: [Table; 6] = [
        Table::Xref,
        Table::Idempotency,
        Table::SyncState,
        Table::Audit,
        Table::Parked,
        Table::Leases,
    ];

    /// The suffix of the table's name, after the stack prefix.
    pub fn suffix(&self) -> &'static str {
        match self {
            Table::Xref => "xref",
            Table::Idempotency => "idempotency",
            Table::SyncState => "sync-state",
            Table::Audit => "audit",
            Table::Parked => "parked",
            Table::Leases => "leases",
        }
    }

    /// The partition key attribute (a string).
    pub fn partition_key(&self) -> &'static str {
        match self {
            Table::Idempotency => IDEMPOTENCY_KEY,
            Table::Xref | Table::SyncState | Table::Audit | Table::Parked | Table::Leases => {
                PARTITION_KEY
            }
        }
    }

    /// The sort key attribute (a string), if the table has one.
    pub fn sort_key(&self) -> Option<&'static str> {
        match self {
            Table::Audit | Table::Parked => Some(SORT_KEY),
            Table::Xref | Table::Idempotency | Table::SyncState | Table::Leases => None,
        }
    }

    /// The attribute DynamoDB's TTL deletes expired items by, if the table keeps expiring items.
    pub fn ttl_attribute(&self) -> Option<&'static str> {
        match self {
            Table::Idempotency => Some(EXPIRATION),
            Table::Xref | Table::SyncState | Table::Audit | Table::Parked | Table::Leases => None,
        }
    }
}

/// The names of the tables of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub xref: String,
    pub idempotency: String,
    pub sync_state: String,
    pub audit: String,
    pub parked: String,
    pub leases: String,
}

impl TableNames {
    /// `<prefix>-xref`, `<prefix>-idempotency`, … — the names `template.yaml` gives the tables
    /// when `prefix` is `ledgerforce-<stage>`.
    pub fn with_prefix(prefix: &str) -> Self {
        let name = |t: Table| format!("{prefix}-{}", t.suffix());
        Self {
            xref: name(Table::Xref),
            idempotency: name(Table::Idempotency),
            sync_state: name(Table::SyncState),
            audit: name(Table::Audit),
            parked: name(Table::Parked),
            leases: name(Table::Leases),
        }
    }

    /// The name of `table`.
    pub fn get(&self, table: Table) -> &str {
        match table {
            Table::Xref => &self.xref,
            Table::Idempotency => &self.idempotency,
            Table::SyncState => &self.sync_state,
            Table::Audit => &self.audit,
            Table::Parked => &self.parked,
            Table::Leases => &self.leases,
        }
    }
}

/// The name of a flow's queue: `<prefix>-<flow>`, as in `template.yaml`.
pub fn queue_name(prefix: &str, flow: Flow) -> String {
    format!("{prefix}-{flow}")
}

/// The name of the dead-letter queue of `queue`.
pub fn dead_letter_queue_name(queue: &str) -> String {
    format!("{queue}-dlq")
}

/// Creates `table` under `name`: on-demand billing, server-side encryption, TTL where the table
/// has expiring items. Waits until the table is active. A table that already exists is left
/// as it is.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: Table,
    name: &str,
) -> Result<(), PortError> {
    let op = format!("CreateTable {name}");
    let key = |attribute: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(kind)
            .build()
            .map_err(|e| build_failed("a key schema", e))
    };
    let definition = |attribute: &str| {
        AttributeDefinition::builder()
            .attribute_name(attribute)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| build_failed("an attribute definition", e))
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .sse_specification(SseSpecification::builder().enabled(true).build())
        .key_schema(key(table.partition_key(), KeyType::Hash)?)
        .attribute_definitions(definition(table.partition_key())?);
    if let Some(sort) = table.sort_key() {
        request = request
            .key_schema(key(sort, KeyType::Range)?)
            .attribute_definitions(definition(sort)?);
    }
    match request.send().await {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(CreateTableError::ResourceInUseException(_))
            ) =>
        {
            return Ok(());
        }
        Err(e) => return Err(from_sdk(&op, e)),
    }
    client
        .wait_until_table_exists()
        .table_name(name)
        .wait(Duration::from_secs(300))
        .await
        .map_err(|e| PortError::unavailable(format!("{op}: table did not become active"), e))?;
    if let Some(attribute) = table.ttl_attribute() {
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(attribute)
            .enabled(true)
            .build()
            .map_err(|e| build_failed("a TTL specification", e))?;
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| from_sdk(&format!("UpdateTimeToLive {name}"), e))?;
    }
    Ok(())
}

/// Creates every table (see [`create_table`]).
pub async fn create_tables(
    client: &aws_sdk_dynamodb::Client,
    names: &TableNames,
) -> Result<(), PortError> {
    for table in Table::ALL {
        create_table(client, table, names.get(table)).await?;
    }
    Ok(())
}

/// A queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    /// The work queue.
    pub queue: String,
    /// Its dead-letter queue.
    pub dead_letter: String,
}

/// Creates a queue without a dead-letter queue (SQS-managed encryption on) and returns its URL.
/// Creating a queue that exists with the same attributes returns the existing one.
pub async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    visibility_timeout: Duration,
) -> Result<String, PortError> {
    create_with(
        client,
        name,
        &[(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout.as_secs().to_string(),
        )],
    )
    .await
}

/// Creates `name` (kept [`QUEUE_RETENTION`]) and its dead-letter queue `name-dlq` (kept
/// [`DEAD_LETTER_RETENTION`]); SQS
/// moves a message there instead of delivering it a `max_receives + 1`-th time.
pub async fn create_queue_with_dead_letter(
    client: &aws_sdk_sqs::Client,
    name: &str,
    visibility_timeout: Duration,
    max_receives: u32,
) -> Result<QueueUrls, PortError> {
    let dlq_name = dead_letter_queue_name(name);
    let dead_letter = create_with(
        client,
        &dlq_name,
        &[(
            QueueAttributeName::MessageRetentionPeriod,
            DEAD_LETTER_RETENTION.as_secs().to_string(),
        )],
    )
    .await?;
    let attributes = client
        .get_queue_attributes()
        .queue_url(&dead_letter)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| from_sdk(&format!("GetQueueAttributes {dlq_name}"), e))?;
    let arn = attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .ok_or_else(|| PortError::corrupt(format!("queue {dlq_name} has no QueueArn")))?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": arn,
        "maxReceiveCount": max_receives.to_string(),
    });
    let queue = create_with(
        client,
        name,
        &[
            (
                QueueAttributeName::VisibilityTimeout,
                visibility_timeout.as_secs().to_string(),
            ),
            (
                QueueAttributeName::MessageRetentionPeriod,
                QUEUE_RETENTION.as_secs().to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ],
    )
    .await?;
    Ok(QueueUrls { queue, dead_letter })
}

async fn create_with(
    client: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<String, PortError> {
    let mut request = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "true");
    for (attribute, value) in attributes {
        request = request.attributes(attribute.clone(), value);
    }
    let created = request
        .send()
        .await
        .map_err(|e| from_sdk(&format!("CreateQueue {name}"), e))?;
    created
        .queue_url()
        .map(str::to_owned)
        .ok_or_else(|| PortError::corrupt(format!("CreateQueue {name} returned no URL")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use saphyr::{LoadableYamlNode, Yaml};

    const TEMPLATE: &str = include_str!("../../../template.yaml");

    /// The node under a CloudFormation short-form tag (`!Sub`, `!GetAtt`), or the node itself.
    fn untagged<'a, 'b>(node: &'a Yaml<'b>) -> &'a Yaml<'b> {
        match node {
            Yaml::Tagged(_, inner) => inner,
            other => other,
        }
    }

    fn text(node: &Yaml<'_>) -> String {
        let node = untagged(node);
        node.as_str()
            .map(str::to_owned)
            .or_else(|| node.as_integer().map(|i| i.to_string()))
            .or_else(|| node.as_bool().map(|b| b.to_string()))
            .unwrap_or_else(|| panic!("expected a scalar, got {node:?}"))
    }

    fn logical_id(name: &str) -> String {
        name.split('-')
            .map(|part| {
                let mut chars = part.chars();
                chars
                    .next()
                    .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Panics at the first table of `template` that differs from what [`create_table`] makes.
    fn check_tables(template: &str) {
        let docs = Yaml::load_from_str(template).unwrap();
        let resources = &docs[0]["Resources"];
        for table in Table::ALL {
            let id = format!("{}Table", logical_id(table.suffix()));
            let props = &resources[id.as_str()]["Properties"];
            assert_eq!(
                text(&props["TableName"]),
                format!("ledgerforce-${{Stage}}-{}", table.suffix()),
                "{id}"
            );
            let keys: Vec<(String, String)> = props["KeySchema"]
                .as_vec()
                .unwrap_or_else(|| panic!("{id} has no KeySchema"))
                .iter()
                .map(|k| (text(&k["AttributeName"]), text(&k["KeyType"])))
                .collect();
            let mut expected = vec![(table.partition_key().to_owned(), "HASH".to_owned())];
            if let Some(sort) = table.sort_key() {
                expected.push((sort.to_owned(), "RANGE".to_owned()));
            }
            assert_eq!(keys, expected, "{id}");
            let definitions: Vec<(String, String)> = props["AttributeDefinitions"]
                .as_vec()
                .unwrap_or_else(|| panic!("{id} has no AttributeDefinitions"))
                .iter()
                .map(|d| (text(&d["AttributeName"]), text(&d["AttributeType"])))
                .collect();
            let strings: Vec<(String, String)> = expected
                .into_iter()
                .map(|(name, _)| (name, "S".to_owned()))
                .collect();
            assert_eq!(definitions, strings, "{id}");
            let ttl = props
                .as_mapping_get("TimeToLiveSpecification")
                .map(|spec| (text(&spec["AttributeName"]), text(&spec["Enabled"])));
            assert_eq!(
                ttl,
                table
                    .ttl_attribute()
                    .map(|a| (a.to_owned(), "true".to_owned())),
                "{id}"
            );
            assert_eq!(text(&props["BillingMode"]), "PAY_PER_REQUEST", "{id}");
            assert_eq!(
                text(&props["SSESpecification"]["SSEEnabled"]),
                "true",
                "{id}"
            );
        }
    }

    /// Panics at the first flow queue of `template` that differs from what
    /// [`create_queue_with_dead_letter`] makes.
    fn check_queues(template: &str) {
        let docs = Yaml::load_from_str(template).unwrap();
        let resources = &docs[0]["Resources"];
        for flow in Flow::ALL {
            let id = format!("{}Queue", logical_id(flow.as_str()));
            let dlq_id = format!("{}DeadLetterQueue", logical_id(flow.as_str()));
            let queue = &resources[id.as_str()]["Properties"];
            let dlq = &resources[dlq_id.as_str()]["Properties"];
            let name = queue_name("ledgerforce-${Stage}", flow);
            assert_eq!(text(&queue["QueueName"]), name, "{id}");
            assert_eq!(
                text(&dlq["QueueName"]),
                dead_letter_queue_name(&name),
                "{dlq_id}"
            );
            assert_eq!(
                text(&queue["RedrivePolicy"]["maxReceiveCount"]),
                MAX_RECEIVES.to_string()
            );
            assert_eq!(
                text(&queue["RedrivePolicy"]["deadLetterTargetArn"]),
                format!("{dlq_id}.Arn")
            );
            assert_eq!(
                text(&queue["MessageRetentionPeriod"]),
                QUEUE_RETENTION.as_secs().to_string()
            );
            assert_eq!(
                text(&dlq["MessageRetentionPeriod"]),
                DEAD_LETTER_RETENTION.as_secs().to_string()
            );
            for props in [queue, dlq] {
                assert_eq!(text(&props["SqsManagedSseEnabled"]), "true", "{id}");
            }
        }
    }

    #[test]
    fn template_tables_match_the_schema() {
        check_tables(TEMPLATE);
    }

    #[test]
    fn template_has_a_queue_and_dlq_per_flow() {
        check_queues(TEMPLATE);
    }

    /// A template check: panics where the template differs from the schema.
    type TemplateCheck = fn(&str);

    /// The two checks above must fail when the template drifts from the schema.
    #[test]
    fn template_checks_catch_drift() {
        let drifts: [(&str, &str, TemplateCheck); 10] = [
            ("-sync-state", "-syncstate", check_tables),
            (
                "-${Stage}-parked",
                "-${Stage}-parked-failures",
                check_tables,
            ),
            (
                "AttributeName: expiration",
                "AttributeName: expires",
                check_tables,
            ),
            (
                "expiration\n        Enabled: true",
                "expiration\n        Enabled: false",
                check_tables,
            ),
            ("KeyType: RANGE", "KeyType: HASH", check_tables),
            ("AttributeType: S", "AttributeType: N", check_tables),
            ("SSEEnabled: true", "SSEEnabled: false", check_tables),
            ("maxReceiveCount: 5", "maxReceiveCount: 3", check_queues),
            (
                "MessageRetentionPeriod: 1209600",
                "MessageRetentionPeriod: 345600",
                check_queues,
            ),
            ("-credit-alerts-dlq", "-credit-alert-dlq", check_queues),
        ];
        for (from, to, check) in drifts {
            assert!(
                TEMPLATE.contains(from),
                "the template no longer has {from:?}"
            );
            let drifted = TEMPLATE.replacen(from, to, 1);
            assert!(
                std::panic::catch_unwind(|| check(&drifted)).is_err(),
                "{from:?} -> {to:?} went unnoticed"
            );
        }
    }

    #[test]
    fn names_follow_the_stack_prefix() {
        let names = TableNames::with_prefix("ledgerforce-dev");
        assert_eq!(names.xref, "ledgerforce-dev-xref");
        assert_eq!(names.get(Table::SyncState), "ledgerforce-dev-sync-state");
        assert_eq!(
            queue_name("ledgerforce-dev", Flow::OpportunityWon),
            "ledgerforce-dev-opportunity-won"
        );
        assert_eq!(
            dead_letter_queue_name("ledgerforce-dev-credit-alerts"),
            "ledgerforce-dev-credit-alerts-dlq"
        );
    }
}
