//! The SQS partial-batch handler: an SQS event through [`run_batch`], answered with
//! `batchItemFailures` naming exactly the messages to redeliver (the event source mapping must
//! have `FunctionResponseTypes: [ReportBatchItemFailures]`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::Utc;
use lambda_runtime::{LambdaEvent, service_fn};
use lf_domain::Deadline;
use lf_domain::port::{ParkedFailures, ReceiptHandle, ReceivedMessage};
use lf_flows::{BatchContext, FlowHandler, run_batch};

/// Runs one SQS event through `handler`. A record without a `messageId` cannot be named in
/// the response, so the whole event fails (Lambda then redelivers all of it).
pub async fn sqs_batch(
    handler: &impl FlowHandler,
    parked: &impl ParkedFailures,
    event: SqsEvent,
    deadline: Deadline,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
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
    };
    let report = run_batch(handler, parked, &messages, &context).await;
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
