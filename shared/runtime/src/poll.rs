//! The change-poller function: one [`ChangePoller::poll_once`] per EventBridge scheduled
//! event, its report logged, and an error returned when a stream failed so the schedule's
//! retry and the function's error alarm see it. Each run emits its metrics (`Failed` counts
//! the failed streams).

use std::time::Instant;

use lambda_runtime::{LambdaEvent, service_fn};
use lf_domain::port::{IntacctPort, Queue, SalesforcePort, SyncState};
use lf_intake::{ChangePoller, PollReport};
use serde_json::{Value, json};

use crate::emf::{self, InvocationMetrics};

/// The `Flow` dimension of the poller's metrics.
pub const POLLER_FUNCTION: &str = "change-poller";

/// Streams failed in a poll run; the others were polled and their watermarks advanced.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} change streams failed: {streams}")]
pub struct PollFailed {
    pub failed: usize,
    pub total: usize,
    /// `name: reason` of each failed stream.
    pub streams: String,
}

impl From<PollFailed> for lambda_runtime::Diagnostic {
    fn from(e: PollFailed) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "PollFailed".to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// The invocation's answer: what each stream queued (also logged by the poller per stream).
pub fn poll_summary(report: &PollReport) -> Value {
    json!({
        "queued": report.queued(),
        "streams": report.streams.iter().map(|s| json!({
            "stream": s.stream,
            "changes": s.changes,
            "queued": s.queued,
            "more": s.more,
            "error": s.error,
        })).collect::<Vec<_>>(),
    })
}

/// One poll run: the summary, or [`PollFailed`] naming each failed stream.
pub async fn poll_invocation<S, I, T, Q>(
    poller: &ChangePoller<S, I, T, Q>,
) -> Result<Value, PollFailed>
where
    S: SalesforcePort,
    I: IntacctPort,
    T: SyncState,
    Q: Queue,
{
    let started = Instant::now();
    let calls_before = emf::api_calls();
    let report = poller.poll_once().await;
    let mut metrics = InvocationMetrics::new(POLLER_FUNCTION, started.elapsed());
    metrics.failed = report.streams.iter().filter(|s| s.error.is_some()).count() as u64;
    metrics.api_calls = Some(emf::api_calls().since(calls_before));
    metrics.emit();
    tracing::info!(
        queued = report.queued(),
        streams = report.streams.len(),
        failed = report.failed(),
        "poll run finished"
    );
    if report.failed() {
        let failed: Vec<String> = report
            .streams
            .iter()
            .filter_map(|s| s.error.as_ref().map(|e| format!("{}: {e}", s.stream)))
            .collect();
        return Err(PollFailed {
            failed: failed.len(),
            total: report.streams.len(),
            streams: failed.join("; "),
        });
    }
    Ok(poll_summary(&report))
}

/// The whole life of the change-poller function after cold start. The scheduled event's
/// content is not read: every run polls every stream from its stored watermark.
pub async fn run_poller_function<S, I, T, Q>(
    poller: &ChangePoller<S, I, T, Q>,
) -> Result<(), lambda_runtime::Error>
where
    S: SalesforcePort,
    I: IntacctPort,
    T: SyncState,
    Q: Queue,
{
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async move {
        poll_invocation(poller).await
    }))
    .await
}
