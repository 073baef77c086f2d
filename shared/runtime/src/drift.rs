//! The drift-check function: on the weekly schedule, or on demand, every linked Account ⇄
//! CUSTOMER and Contact ⇄ CONTACT pair compared through the mapping ([`lf_flows::drift`]),
//! with the report (text and JSON) written beside the reconciliation reports.
//!
//! The event may say what to do: `{"repair": true, "objects": ["Account"]}` (also in an
//! EventBridge event's `detail`); otherwise `repair` is the deployment's
//! `LEDGERFORCE_DRIFT_REPAIR` and every pairing is checked. The invocation fails — so the
//! function's error alarm fires — when pairs could not be checked or repairs failed; drift
//! found and not repaired is reported, not an error.

use chrono::{DateTime, Utc};
use lambda_runtime::{LambdaEvent, service_fn};
use lf_aws::ReportStoreError;
use lf_domain::PortError;
use lf_flows::{AccountSync, DriftOptions, DriftReport, Ports};
use serde_json::{Value, json};

use std::time::Instant;

use crate::emf::{self, InvocationMetrics};
use crate::reconcile::ReportSink;

/// A drift check that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum DriftFailed {
    #[error("the invocation is not a drift request: {0}")]
    Request(String),
    #[error("listing the links: {0}")]
    Links(#[from] PortError),
    #[error(transparent)]
    Report(#[from] ReportStoreError),
    /// The report was written; some pairs were not checked or not repaired.
    #[error(
        "drift check incomplete: {unchecked} pair(s) not checked, {failed} repair(s) failed (report at {report})"
    )]
    Incomplete {
        unchecked: usize,
        failed: usize,
        report: String,
    },
}

impl From<DriftFailed> for lambda_runtime::Diagnostic {
    fn from(e: DriftFailed) -> Self {
        let kind = match &e {
            DriftFailed::Request(_) => "InvalidRequest",
            DriftFailed::Links(_) => "LinksUnreadable",
            DriftFailed::Report(_) => "ReportNotWritten",
            DriftFailed::Incomplete { .. } => "DriftCheckIncomplete",
        };
        lambda_runtime::Diagnostic {
            error_type: kind.to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// What an invocation asks for (see the module documentation).
pub fn drift_options(event: &Value, default_repair: bool) -> Result<DriftOptions, DriftFailed> {
    // An EventBridge event (a schedule's, or one sent on demand) carries the request in its
    // `detail`; a direct invocation is the request.
    let request = match event.get("detail-type") {
        Some(_) => event.get("detail").cloned().unwrap_or(Value::Null),
        None => event.clone(),
    };
    let mut options = DriftOptions {
        repair: default_repair,
        ..DriftOptions::default()
    };
    let Some(fields) = request.as_object() else {
        return Ok(options);
    };
    if let Some(repair) = fields.get("repair") {
        options.repair = repair
            .as_bool()
            .ok_or_else(|| DriftFailed::Request(format!("`repair` is {repair}, not a boolean")))?;
    }
    if let Some(objects) = fields.get("objects") {
        let names = objects
            .as_array()
            .and_then(|a| a.iter().map(|o| o.as_str().map(str::to_owned)).collect())
            .ok_or_else(|| {
                DriftFailed::Request(format!("`objects` is {objects}, not a list of names"))
            })?;
        options.objects = names;
    }
    Ok(options)
}

/// The report's names: `drift/<UTC time>.txt` and `.json`.
pub fn drift_report_names(now: DateTime<Utc>) -> (String, String) {
    let stamp = now.format("%Y-%m-%dT%H%M%SZ");
    (format!("drift/{stamp}.txt"), format!("drift/{stamp}.json"))
}

/// The summary an invocation answers with.
pub fn drift_summary(report: &DriftReport, text: &str, json: &str) -> Value {
    json!({
        "checked": report.checked,
        "agreeing": report.agreeing,
        "drifted": report.drifted.len(),
        "repaired": report.repaired(),
        "repair_failed": report.repair_failures(),
        "dangling": report.dangling.len(),
        "unchecked": report.unchecked.len(),
        "report": {"text": text, "json": json},
    })
}

/// One invocation: the check, the report to `sink`, the summary. Its metrics are emitted
/// under the `Flow` dimension `drift-check`: `RecordsSynced` the pairs repaired, `Failed` the
/// pairs not checked or not repaired (1 when the check did not complete).
pub async fn drift_invocation<P: Ports, R: ReportSink>(
    flow: &AccountSync<P>,
    sink: &R,
    event: &Value,
    default_repair: bool,
    now: DateTime<Utc>,
) -> Result<Value, DriftFailed> {
    let started = Instant::now();
    let calls_before = emf::api_calls();
    let mut repaired = 0;
    let result = check_and_report(flow, sink, event, default_repair, now, &mut repaired).await;
    let mut metrics = InvocationMetrics::new(DRIFT_CHECK, started.elapsed());
    metrics.records_synced = Some(repaired as u64);
    metrics.failed = match &result {
        Ok(_) => 0,
        Err(DriftFailed::Incomplete {
            unchecked, failed, ..
        }) => (unchecked + failed) as u64,
        Err(_) => 1,
    };
    metrics.api_calls = Some(emf::api_calls().since(calls_before));
    metrics.emit();
    result
}

/// The `Flow` dimension of the drift check's metrics.
pub const DRIFT_CHECK: &str = "drift-check";

async fn check_and_report<P: Ports, R: ReportSink>(
    flow: &AccountSync<P>,
    sink: &R,
    event: &Value,
    default_repair: bool,
    now: DateTime<Utc>,
    repaired: &mut usize,
) -> Result<Value, DriftFailed> {
    let options = drift_options(event, default_repair)?;
    let report = flow
        .check_drift(&options, |checked| {
            tracing::debug!(checked, "drift check progress");
        })
        .await?;
    *repaired = report.repaired();
    let (text_name, json_name) = drift_report_names(now);
    let body = serde_json::to_vec_pretty(&report).unwrap_or_default();
    let text = sink
        .put(
            &text_name,
            report.render().into_bytes(),
            "text/plain; charset=utf-8",
        )
        .await?;
    let json = sink.put(&json_name, body, "application/json").await?;
    tracing::info!(
        checked = report.checked,
        drifted = report.drifted.len() as u64,
        repaired = report.repaired() as u64,
        report = %text,
        "drift check done"
    );
    if !report.unchecked.is_empty() || report.repair_failures() > 0 {
        return Err(DriftFailed::Incomplete {
            unchecked: report.unchecked.len(),
            failed: report.repair_failures(),
            report: text,
        });
    }
    Ok(drift_summary(&report, &text, &json))
}

/// The whole life of the drift-check function after cold start.
pub async fn run_drift_function<P: Ports, R: ReportSink>(
    flow: &AccountSync<P>,
    sink: &R,
    default_repair: bool,
) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        drift_invocation(flow, sink, &event.payload, default_repair, Utc::now()).await
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheduled_event_checks_everything_with_the_deployment_default() {
        let scheduled = json!({
            "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
            "detail-type": "Scheduled Event", "source": "aws.scheduler",
            "account": "123456789012", "time": "2026-12-07T03:00:00Z",
            "region": "eu-west-1", "resources": [], "detail": {}
        });
        let o = drift_options(&scheduled, true).unwrap();
        assert!(o.repair && o.objects.is_empty());
        let o = drift_options(&json!({}), false).unwrap();
        assert!(!o.repair);
    }

    #[test]
    fn an_on_demand_request_names_what_to_do_and_bad_ones_are_refused() {
        let o = drift_options(&json!({"repair": true, "objects": ["Account"]}), false).unwrap();
        assert!(o.repair);
        assert_eq!(o.objects, vec!["Account".to_owned()]);
        let in_detail =
            json!({"detail-type": "drift", "source": "ops", "detail": {"repair": false}});
        assert!(!drift_options(&in_detail, true).unwrap().repair);
        let e = drift_options(&json!({"repair": "yes"}), false).unwrap_err();
        assert!(e.to_string().contains("`repair` is \"yes\""), "{e}");
        let e = drift_options(&json!({"objects": "Account"}), false).unwrap_err();
        assert!(e.to_string().contains("not a list"), "{e}");
    }

    #[test]
    fn reports_are_named_by_the_time_of_the_check() {
        let at = DateTime::parse_from_rfc3339("2026-12-07T03:00:05Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            drift_report_names(at),
            (
                "drift/2026-12-07T030005Z.txt".to_owned(),
                "drift/2026-12-07T030005Z.json".to_owned()
            )
        );
    }
}
