//! The revenue-reconciliation function: one [`RevenueReconciliation::run`] per invocation and
//! its report (HTML and CSV) written to S3.
//!
//! Which period: an on-demand invocation names it (`{"period": "2026-10"}`, also accepted in an
//! EventBridge event's `detail`); the monthly schedule (an EventBridge / CloudWatch scheduled
//! event, `detail-type: Scheduled Event`) reconciles the month before the event's time, so the
//! run at the start of November reconciles October. Any other event reconciles the month
//! before now.

use std::future::Future;
use std::time::Instant;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use lambda_runtime::{LambdaEvent, service_fn};
use lf_aws::{ReportStoreError, S3ReportStore};
use lf_domain::port::Month;
use lf_domain::{Classify, Flow};
pub use lf_flows::report::report_names;
use lf_flows::{Ports, RevenueReconciliation};
use serde_json::Value;

use crate::emf::{self, InvocationMetrics};

/// Where a report goes; [`S3ReportStore`] in a deployment.
pub trait ReportSink: Send + Sync {
    /// Writes `body` as `name`; returns where it went.
    fn put(
        &self,
        name: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<String, ReportStoreError>> + Send;
}

impl ReportSink for S3ReportStore {
    async fn put(
        &self,
        name: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<String, ReportStoreError> {
        S3ReportStore::put(self, name, body, content_type).await
    }
}

/// A reconciliation invocation that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ReconciliationFailed {
    #[error("the invocation names no month: {0}")]
    Period(String),
    #[error(transparent)]
    Run(#[from] lf_flows::ReconciliationError),
    #[error(transparent)]
    Report(#[from] ReportStoreError),
    /// The report was written; some Salesforce records were refused.
    #[error(
        "{count} Salesforce writes of the {period} reconciliation failed (report at {report}): {first}"
    )]
    Writes {
        period: Month,
        count: usize,
        first: String,
        report: String,
    },
}

impl From<ReconciliationFailed> for lambda_runtime::Diagnostic {
    fn from(e: ReconciliationFailed) -> Self {
        let kind = match &e {
            ReconciliationFailed::Period(_) => "InvalidPeriod".to_owned(),
            ReconciliationFailed::Run(r) => format!("ReconciliationFailed.{}", r.class().name()),
            ReconciliationFailed::Report(_) => "ReportNotWritten".to_owned(),
            ReconciliationFailed::Writes { .. } => "SalesforceWritesFailed".to_owned(),
        };
        lambda_runtime::Diagnostic {
            error_type: kind,
            error_message: e.to_string(),
        }
    }
}

/// The month an invocation reconciles (see the module documentation).
pub fn period_of(event: &Value, now: DateTime<Utc>) -> Result<Month, ReconciliationFailed> {
    let named = event
        .get("period")
        .or_else(|| event.get("detail").and_then(|d| d.get("period")));
    if let Some(p) = named {
        let text = p.as_str().unwrap_or_default();
        return Month::parse(text).ok_or_else(|| {
            ReconciliationFailed::Period(format!("`{p}` is not a month (YYYY-MM)"))
        });
    }
    let at = if event.get("detail-type").is_some() {
        serde_json::from_value::<EventBridgeEvent>(event.clone())
            .map_err(|e| ReconciliationFailed::Period(format!("not an EventBridge event: {e}")))?
            .time
            .unwrap_or(now)
    } else {
        now
    };
    Ok(Month::of(at.date_naive()).previous())
}

/// One invocation: the period from the event, the run, the report to `sink`, the summary.
/// Its metrics are emitted: `RecordsSynced` the Salesforce records written, `Failed` those
/// refused (or 1 when the run did not complete).
pub async fn reconciliation_invocation<P: Ports, R: ReportSink>(
    flow: &RevenueReconciliation<P>,
    sink: &R,
    event: &Value,
    now: DateTime<Utc>,
) -> Result<Value, ReconciliationFailed> {
    let started = Instant::now();
    let calls_before = emf::api_calls();
    let mut written = 0;
    let result = reconcile_and_report(flow, sink, event, now, &mut written).await;
    let mut metrics =
        InvocationMetrics::new(Flow::RevenueReconciliation.as_str(), started.elapsed());
    metrics.records_synced = Some(written as u64);
    metrics.failed = match &result {
        Ok(_) => 0,
        Err(ReconciliationFailed::Writes { count, .. }) => *count as u64,
        Err(_) => 1,
    };
    metrics.api_calls = Some(emf::api_calls().since(calls_before));
    metrics.emit();
    result
}

async fn reconcile_and_report<P: Ports, R: ReportSink>(
    flow: &RevenueReconciliation<P>,
    sink: &R,
    event: &Value,
    now: DateTime<Utc>,
    written: &mut usize,
) -> Result<Value, ReconciliationFailed> {
    let period = period_of(event, now)?;
    let rec = flow.run(period).await?;
    *written = rec.writes.reconciliations + rec.writes.opportunities;
    let (html_name, csv_name) = report_names(period);
    let html = sink
        .put(
            &html_name,
            rec.to_html().into_bytes(),
            "text/html; charset=utf-8",
        )
        .await?;
    let csv = sink
        .put(
            &csv_name,
            rec.to_csv().into_bytes(),
            "text/csv; charset=utf-8",
        )
        .await?;
    tracing::info!(%period, report = %html, "reconciliation report written");
    if let Some(first) = rec.failures.first() {
        return Err(ReconciliationFailed::Writes {
            period,
            count: rec.failures.len(),
            first: first.clone(),
            report: html,
        });
    }
    Ok(rec.summary(&html, &csv))
}

/// The whole life of the revenue-reconciliation function after cold start.
pub async fn run_reconciliation_function<P: Ports, R: ReportSink>(
    flow: &RevenueReconciliation<P>,
    sink: &R,
) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        reconciliation_invocation(flow, sink, &event.payload, Utc::now()).await
    }))
    .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_schedule_reconciles_the_month_before_its_time() {
        let scheduled = json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
            "time": "2026-11-01T06:00:00Z", "region": "eu-west-1",
            "resources": ["arn:aws:events:eu-west-1:123456789012:rule/monthly"], "detail": {}
        });
        let now = at("2026-12-15T10:00:00Z");
        assert_eq!(period_of(&scheduled, now).unwrap().to_string(), "2026-10");
        let january = json!({"detail-type": "Scheduled Event", "source": "aws.events",
                             "time": "2027-01-01T00:05:00Z", "detail": {}});
        assert_eq!(period_of(&january, now).unwrap().to_string(), "2026-12");
    }

    #[test]
    fn an_on_demand_run_names_its_month() {
        let now = at("2026-12-15T10:00:00Z");
        assert_eq!(
            period_of(&json!({"period": "2026-04"}), now)
                .unwrap()
                .to_string(),
            "2026-04"
        );
        let in_detail = json!({"detail-type": "Reconcile", "source": "finance",
                               "detail": {"period": "2025-12"}});
        assert_eq!(period_of(&in_detail, now).unwrap().to_string(), "2025-12");
        assert_eq!(period_of(&json!({}), now).unwrap().to_string(), "2026-11");
        for bad in [
            json!({"period": "2026-13"}),
            json!({"period": "April"}),
            json!({"period": 202604}),
        ] {
            assert!(
                matches!(period_of(&bad, now), Err(ReconciliationFailed::Period(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn reports_are_named_by_period() {
        let (html, csv) = report_names(Month {
            year: 2026,
            month: 3,
        });
        assert_eq!(html, "revenue-reconciliation/2026-03/report.html");
        assert_eq!(csv, "revenue-reconciliation/2026-03/accounts.csv");
    }
}
