//! `GET /local/status` on the local webhook listener: what is queued, in flight and parked per
//! flow, what the sandboxes still have to deliver, what the consumers did and the API calls
//! used — the numbers an operator watches, and what a script waits on: `idle` is true when
//! nothing is queued, in flight or waiting to be delivered anywhere.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use lf_domain::Flow;
use lf_domain::port::{ParkedFailures, Queue};
use lf_embedded::{SqliteParkedFailures, SqliteQueue};
use lf_flows::Metrics;
use lf_sandbox_intacct as intacct_sandbox;
use lf_sandbox_salesforce as salesforce_sandbox;
use serde_json::{Map, Value, json};

/// Everything the status page reads; cheap handles shared with the running stack.
#[derive(Debug, Clone)]
pub(crate) struct StatusSources {
    pub(crate) salesforce: Arc<salesforce_sandbox::Sandbox>,
    pub(crate) intacct: Arc<intacct_sandbox::Sandbox>,
    /// Each flow's queue and its dead-letter queue.
    pub(crate) queues: Vec<(Flow, SqliteQueue, SqliteQueue)>,
    pub(crate) parked: SqliteParkedFailures,
    pub(crate) metrics: Metrics,
}

impl StatusSources {
    /// The status as JSON (see the module docs).
    pub(crate) async fn snapshot(&self) -> Value {
        let mut busy = false;
        let mut flows = Map::new();
        for (flow, queue, dead) in &self.queues {
            let mut entry = Map::new();
            match queue.depth().await {
                Ok(d) => {
                    busy |= d.visible + d.in_flight > 0;
                    entry.insert("queued".into(), json!(d.visible));
                    entry.insert("in_flight".into(), json!(d.in_flight));
                }
                Err(e) => {
                    busy = true;
                    entry.insert("error".into(), json!(e.to_string()));
                }
            }
            if let Ok(d) = dead.depth().await {
                entry.insert("dead_letters".into(), json!(d.visible + d.in_flight));
            }
            let c = self.metrics.flow(*flow);
            entry.insert("processed".into(), json!(c.processed));
            entry.insert("done".into(), json!(c.done));
            entry.insert("echoes".into(), json!(c.echoes));
            entry.insert("retried".into(), json!(c.retried));
            entry.insert("parked".into(), json!(c.parked));
            flows.insert(flow.as_str().into(), Value::Object(entry));
        }
        let outbound = self.salesforce.outbound_stats();
        let events = self.intacct.smart_event_stats().unwrap_or_default();
        busy |= outbound.pending() + events.pending() > 0;
        // Parked failures wait for a person (replay or fix): they do not make the system busy.
        let parked = match self.parked.count_by_flow().await {
            Ok(counts) => json!(
                counts
                    .iter()
                    .map(|(f, n)| (f.as_str().to_owned(), json!(n)))
                    .collect::<Map<_, _>>()
            ),
            Err(e) => json!({"error": e.to_string()}),
        };
        let usage = self.intacct.usage();
        json!({
            "idle": !busy,
            "flows": flows,
            "parked": parked,
            "salesforce": {
                "api_calls": self.salesforce.api_calls(),
                "outbound_delivered": outbound.delivered,
                "outbound_pending": outbound.pending(),
            },
            "intacct": {
                "requests": usage.requests,
                "reads": usage.reads,
                "writes": usage.writes,
                "smart_events_delivered": events.delivered,
                "smart_events_pending": events.pending(),
            },
        })
    }
}

/// The `/local/status` route.
pub(crate) fn router(sources: StatusSources) -> Router {
    Router::new()
        .route("/local/status", get(status))
        .with_state(Arc::new(sources))
}

async fn status(State(sources): State<Arc<StatusSources>>) -> axum::Json<Value> {
    axum::Json(sources.snapshot().await)
}
