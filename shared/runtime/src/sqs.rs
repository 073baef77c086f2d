//! The SQS partial-batch handler: an SQS event through [`run_batch`], answered with
//! `batchItemFailures` naming exactly the messages to redeliver (the event source mapping must
//! have `FunctionResponseTypes: [ReportBatchItemFailures]`). Each batch emits its metrics
//! ([`batch_metrics`]).

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use lambda_runtime::{LambdaEvent, service_fn};
use lf_domain::Deadline;
use lf_domain::port::{ParkedFailures, ReceiptHandle, ReceivedMessage};
use lf_flows::{BatchContext, BatchReport, FlowHandler, run_batch};

use crate::emf::{self, ApiCalls, InvocationMetrics};

/// The metrics of a batch: done without the echoes is synced, retried is failed.
pub fn batch_metrics(
    report: &BatchReport,
    latency: Duration,
    calls: ApiCalls,
) -> InvocationMetrics {
    let c = report.counts;
    let mut m = InvocationMetrics::new(report.flow.as_str(), latency);
    m.records_synced = Some((c.done - c.echoes.min(c.done)) as u64);
    m.echoes_skipped = Some(c.echoes as u64);
    m.parked = Some(c.parked as u64);
    m.failed = c.retried as u64;
    m.api_calls = Some(calls);
    m
}

/// Runs one SQS event through `handler`. A record without a `messageId` cannot be named in
/// the response, so the whole event fails (Lambda then redelivers all of it).
pub async fn sqs_batch(
    handler: &impl FlowHandler,
    parked: &impl ParkedFailures,
    event: SqsEvent,
    deadline: Deadline,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let started = Instant::now();
    let calls_before = emf::api_calls();
    let mut messages = Vec::with_capacity(event.records.len());
    for record in event.records {
        let Some(message_id) = record.message_id else {
            return Err("an SQS record has no messageId".into());
        };
        let receive_count = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        messages.push(ReceivedMessage {
            message_id,
            body: record.body.unwrap_or_default(),
            receipt: ReceiptHandle(record.receipt_handle.unwrap_or_default()),
            receive_count,
        });
    }
    let context = BatchContext {
        deadline: Some(deadline),
        max_receives: Some(lf_aws::schema::MAX_RECEIVES),
    };
    let report = run_batch(handler, parked, &messages, &context).await;
    batch_metrics(
        &report,
        started.elapsed(),
        emf::api_calls().since(calls_before),
    )
    .emit();
    let mut response = SqsBatchResponse::default();
    for id in report.retry_ids() {
        response.add_failure(id);
    }
    Ok(response)
}

/// The whole life of an SQS-triggered function after cold start: serve invocations until the
/// runtime stops. Build `handler` and `parked` (adapters, specs) before calling it.
pub async fn run_sqs_function(
    handler: &impl FlowHandler,
    parked: &impl ParkedFailures,
) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| async move {
        let deadline = Deadline::from_epoch_millis(event.context.deadline, Utc::now());
        sqs_batch(handler, parked, event.payload, deadline).await
    }))
    .await
}

#[cfg(test)]
mod tests {
    use lf_domain::Flow;
    use lf_flows::BatchCounts;

    use super::*;

    #[test]
    fn a_batch_report_becomes_its_flow_metrics() {
        let report = BatchReport {
            flow: Flow::AccountSync,
            acknowledge: vec![],
            retry: vec![],
            counts: BatchCounts {
                done: 6,
                echoes: 2,
                retried: 1,
                parked: 3,
                rejected: 1,
            },
        };
        let calls = ApiCalls {
            salesforce: 2,
            intacct: 1,
        };
        let m = batch_metrics(&report, Duration::from_millis(40), calls);
        assert_eq!(m.flow, "account-sync");
        assert_eq!(m.records_synced, Some(4));
        assert_eq!(m.echoes_skipped, Some(2));
        assert_eq!(m.parked, Some(3));
        assert_eq!(m.failed, 1);
        assert_eq!(m.api_calls, Some(calls));
        let docs = m.documents(0);
        assert_eq!(docs[0]["RecordsSynced"], 4);
        assert_eq!(docs[1]["ApiCalls"], 2);
        assert_eq!(docs[2]["ApiCalls"], 1);
    }
}
