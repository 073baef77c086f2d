//! AWS cost per 100,000 Closed Won events from what the deal run measured (webhook posts and
//! their time to answer, flow batches and their time in the handler, Intacct requests) ×
//! list prices in us-east-1, free tiers left out. Memory sizes are the template's.

use std::time::Duration;

use super::stages::{DealTimes, Run};

/// List prices, us-east-1, as AWS's pricing pages gave them on 2026-12-03.
pub(super) mod price {
    /// Lambda on arm64, per GB-second (first 7.5 billion GB-s a month).
    pub const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
    /// Lambda, per request.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// SQS standard queue, per request (64 KB chunk).
    pub const SQS_REQUEST: f64 = 0.40 / 1e6;
    /// DynamoDB on-demand, per write request unit.
    pub const DYNAMODB_WRITE_UNIT: f64 = 0.625 / 1e6;
    /// DynamoDB on-demand, per read request unit.
    pub const DYNAMODB_READ_UNIT: f64 = 0.125 / 1e6;
    /// API Gateway HTTP API, per request (first 300 million a month).
    pub const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
}

/// template.yaml: the webhook functions' and the flow functions' memory.
const WEBHOOK_MB: f64 = 256.0;
const FLOW_MB: f64 = 512.0;

/// DynamoDB writes per deal on a new Account, counted from the code (items under 1 KB):
/// the idempotency record taken and finished (2), the customer and document links, each a
/// two-item transaction at 2 units per item (8), the audit entry of the document (1).
const WRITE_UNITS_PER_DEAL: f64 = 11.0;
/// Reads per deal: the stored links of the Account and of the deal (eventually consistent
/// reads of small items, half a unit each, rounded up).
const READ_UNITS_PER_DEAL: f64 = 2.0;
/// The company-wide Intacct limiter: a lease put and deleted per Intacct request.
const WRITE_UNITS_PER_INTACCT_REQUEST: f64 = 2.0;

/// One line of the table.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct Line {
    pub item: String,
    pub quantity: f64,
    pub unit: &'static str,
    pub usd: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct Cost {
    pub events: u64,
    pub lines: Vec<Line>,
    pub total_usd: f64,
}

/// Billed Lambda time: each invocation rounded up to the millisecond.
fn billed_seconds(durations: impl Iterator<Item = Duration>) -> f64 {
    durations
        .map(|d| (d.as_secs_f64() * 1000.0).ceil() / 1000.0)
        .sum()
}

/// The cost of `events` events at the rates `run` and `times` measured.
pub(super) fn per_events(events: u64, run: &Run, times: &DealTimes) -> Cost {
    let measured = run.records.max(1) as f64;
    let scale = events as f64 / measured;
    let posts = times.posts.len() as f64 * scale;
    let webhook_seconds = billed_seconds(times.posts.iter().map(|(_, d)| *d)) * scale;
    let batches = times.batches.len() as f64 * scale;
    // SQS hands out and deletes at most 10 messages per request: a batch of n costs
    // ceil(n / 10) receives and as many batch deletes.
    let sqs_per_batches = times
        .batches
        .iter()
        .map(|(n, _)| 2.0 * n.div_ceil(10).max(1) as f64)
        .sum::<f64>()
        * scale;
    let flow_seconds = billed_seconds(times.batches.iter().map(|(_, d)| *d)) * scale;
    let intacct_requests = run.calls.intacct as f64 * scale;
    let events_f = events as f64;
    let mut lines = vec![
        Line {
            item: "API Gateway HTTP API requests (webhook posts)".into(),
            quantity: posts,
            unit: "requests",
            usd: posts * price::HTTP_API_REQUEST,
        },
        Line {
            item: "Lambda requests (webhook + flow batches)".into(),
            quantity: posts + batches,
            unit: "requests",
            usd: (posts + batches) * price::LAMBDA_REQUEST,
        },
        Line {
            item: format!("Lambda arm64 webhook, {WEBHOOK_MB} MB"),
            quantity: webhook_seconds * WEBHOOK_MB / 1024.0,
            unit: "GB-s",
            usd: webhook_seconds * WEBHOOK_MB / 1024.0 * price::LAMBDA_ARM_GB_SECOND,
        },
        Line {
            item: format!("Lambda arm64 opportunity-won, {FLOW_MB} MB"),
            quantity: flow_seconds * FLOW_MB / 1024.0,
            unit: "GB-s",
            usd: flow_seconds * FLOW_MB / 1024.0 * price::LAMBDA_ARM_GB_SECOND,
        },
        Line {
            // One send per post (a batch send of its notifications); per flow batch a
            // receive and a batch delete per 10 messages.
            item: "SQS requests (send per post, receive + delete per 10 of a batch)".into(),
            quantity: posts + sqs_per_batches,
            unit: "requests",
            usd: (posts + sqs_per_batches) * price::SQS_REQUEST,
        },
    ];
    let writes =
        events_f * WRITE_UNITS_PER_DEAL + intacct_requests * WRITE_UNITS_PER_INTACCT_REQUEST;
    lines.push(Line {
        item: "DynamoDB on-demand writes (idempotency, links, audit, Intacct leases)".into(),
        quantity: writes,
        unit: "WRU",
        usd: writes * price::DYNAMODB_WRITE_UNIT,
    });
    let reads = events_f * READ_UNITS_PER_DEAL;
    lines.push(Line {
        item: "DynamoDB on-demand reads (stored links)".into(),
        quantity: reads,
        unit: "RRU",
        usd: reads * price::DYNAMODB_READ_UNIT,
    });
    let total_usd = lines.iter().map(|l| l.usd).sum();
    Cost {
        events,
        lines,
        total_usd,
    }
}
