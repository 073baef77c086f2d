//! The Salesforce connector: OAuth 2.0 server-to-server authentication with one shared
//! session, REST CRUD and upsert by external id, describe, SOQL with a literal-escaping
//! builder (child subqueries, aggregates, `GROUP BY`, batched `IN` on any field) and
//! `nextRecordsUrl` paging, sObject Collections, Composite, Bulk API 2.0 ingest, daily-limit
//! pacing, one error classification table, and Outbound Message parsing. [`port`] implements
//! the domain's `SalesforcePort` over all of it, which is what the flows use.
//!
//! Every operation is first a plain [`ApiRequest`] value (built by the functions of each
//! module, testable without a network), then sent by [`SalesforceClient::execute`], which
//! applies the connector's rules: pace or refuse non-urgent work near the daily limit, refresh
//! an expired session once and replay once, and back off with full jitter on transient and
//! throttled failures within an optional deadline, through the domain's one retry executor.

pub mod auth;
pub mod bulk;
mod client;
pub mod collections;
pub mod composite;
mod config;
mod error;
pub mod limits;
pub mod outbound;
pub mod port;
pub mod query;
pub mod request;
pub mod sobject;
pub mod soql;
pub mod write;

pub use client::SalesforceClient;
pub use config::{ApiVersion, BulkPollPolicy, Credentials, SalesforceConfig};
pub use error::{ApiError, ApiFailure, SalesforceError, class_of_code, class_of_status};
pub use limits::{ApiUsage, LimitPolicy, Priority};
pub use outbound::{
    Notification, OutboundError, OutboundLimits, OutboundMessage, ack_response,
    parse_outbound_message,
};
pub use query::{QueryPage, QueryScope};
pub use request::{ApiRequest, ApiResponse, HttpMethod};
pub use sobject::{Fields, Record, SObjectDescribe, UpsertOutcome};
pub use soql::{
    Aggregate, Condition, DateFunction, Expr, LikePattern, Literal, Op, Order, Select, Soql,
};
pub use write::{
    Lane, LaneChoice, RecordOutcome, RecordResult, WriteOp, WriteOptions, WriteReport,
};

/// A JSON object literal as field values, for unit tests.
#[cfg(test)]
fn test_fields(v: serde_json::Value) -> Fields {
    match v {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("test fields must be a JSON object"),
    }
}
