//! revenue-reconciliation in `ledgerforce local`: what the EventBridge schedule and the
//! function do in AWS, with the report written to the data folder instead of S3.
//!
//! - On demand: `POST /local/reconcile?period=YYYY-MM` (no period: the month before this one)
//!   runs it and answers the run's summary with the report's paths.
//! - On schedule: while `ledgerforce local` runs, the month's turn runs the month before, as the
//!   monthly schedule does. A store that has seen a month's turn remembers it (in the sync
//!   state), so a turn missed while stopped is run at the next start; a new data folder starts
//!   from the current month and runs nothing at start.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use chrono::{DateTime, NaiveTime, Utc};
use lf_domain::port::{Month, SyncState, Watermark};
use lf_flows::report::report_names;
use lf_flows::{RevenueReconciliation, RevenueReconciliationOptions};
use lf_mapping::SpecSet;
use serde_json::{Value, json};
use tokio::sync::{Mutex, watch};

use super::stack::LocalPorts;
use crate::CliError;
use crate::ops::reconcile::write_reports;

/// The sync-state stream that remembers the last month the schedule reconciled.
const SCHEDULE_STREAM: &str = "schedule/revenue-reconciliation";

/// How often the schedule looks at the calendar.
const SCHEDULE_TICK: Duration = Duration::from_secs(60);

/// Runs reconciliations one at a time and writes their reports under the data folder.
#[derive(Debug)]
pub(crate) struct LocalReconciler {
    flow: RevenueReconciliation<Arc<LocalPorts>>,
    ports: Arc<LocalPorts>,
    reports: PathBuf,
    running: Mutex<()>,
}

impl LocalReconciler {
    pub(crate) fn new(
        ports: Arc<LocalPorts>,
        specs: Arc<SpecSet>,
        data_dir: &Path,
    ) -> Result<Self, CliError> {
        let flow = RevenueReconciliation::new(
            ports.clone(),
            specs,
            RevenueReconciliationOptions::default(),
        )?;
        Ok(Self {
            flow,
            ports,
            reports: data_dir.join("reports"),
            running: Mutex::new(()),
        })
    }

    /// Reconciles `period`, writes `reports/revenue-reconciliation/<period>/report.html` and
    /// `accounts.csv`, and returns the summary.
    pub(crate) async fn run(&self, period: Month) -> Result<Value, String> {
        let _one_at_a_time = self.running.lock().await;
        let rec = self.flow.run(period).await.map_err(|e| e.to_string())?;
        let (html, csv) = report_names(period);
        write_reports(
            period,
            &rec,
            &self.reports.join(html),
            &self.reports.join(csv),
        )
    }

    /// One look at the calendar: reconciles the previous month if the store saw a month's turn
    /// since it last did. Returns the summary of a run.
    async fn tick(&self, now: DateTime<Utc>) -> Result<Option<Value>, String> {
        let state = &self.ports.state;
        let this_month = Month::of(now.date_naive());
        let mark = |m: Month| {
            m.first_day().map(|d| Watermark {
                modified_at: d.and_time(NaiveTime::MIN).and_utc(),
                last_id: String::new(),
            })
        };
        let Some(current) = mark(this_month) else {
            return Ok(None);
        };
        let seen = state
            .watermark(SCHEDULE_STREAM)
            .await
            .map_err(|e| e.to_string())?;
        match seen {
            None => {
                // A new store starts from this month: nothing was missed.
                state
                    .advance_watermark(SCHEDULE_STREAM, &current)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(None)
            }
            Some(seen) if seen < current => {
                let summary = self.run(this_month.previous()).await?;
                state
                    .advance_watermark(SCHEDULE_STREAM, &current)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Some(summary))
            }
            Some(_) => Ok(None),
        }
    }

    /// The monthly schedule, until `stop` turns true.
    pub(crate) async fn schedule(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            if let Err(error) = self.tick(Utc::now()).await {
                tracing::warn!(%error, "the scheduled reconciliation failed; trying again later");
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = tokio::time::sleep(SCHEDULE_TICK) => {}
            }
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct PeriodQuery {
    period: Option<String>,
}

/// The `/local/reconcile` route.
pub(crate) fn router(reconciler: Arc<LocalReconciler>) -> Router {
    Router::new()
        .route("/local/reconcile", post(reconcile))
        .with_state(reconciler)
}

async fn reconcile(
    State(reconciler): State<Arc<LocalReconciler>>,
    Query(query): Query<PeriodQuery>,
) -> (StatusCode, axum::Json<Value>) {
    let period = match query.period.as_deref() {
        None => Month::of(Utc::now().date_naive()).previous(),
        Some(text) => match Month::parse(text) {
            Some(month) => month,
            None => {
                let error = format!("period `{text}` is not a month (YYYY-MM)");
                return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": error})));
            }
        },
    };
    match reconciler.run(period).await {
        Ok(summary) => (StatusCode::OK, axum::Json(summary)),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"period": period.to_string(), "error": error})),
        ),
    }
}
