//! `GET /local/status` on the local webhook listener: what is queued, in flight and parked per
//! flow, what the sandboxes still have to deliver, what the consumers did, the watermarks and
//! the API calls used — the numbers an operator watches, and what a script waits on: `idle` is
//! true when nothing is queued, in flight or waiting to be delivered anywhere. The numbers are
//! the [`Overview`] that `ledgerforce status` and the console show, plus the sandboxes'.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use lf_flows::overview::{Overview, UsageLine};
use lf_sandbox_intacct as intacct_sandbox;
use lf_sandbox_salesforce as salesforce_sandbox;
use serde_json::{Map, Value, json};

use crate::operate::Store;

/// Everything the status page reads; cheap handles shared with the running stack.
#[derive(Debug, Clone)]
pub(crate) struct StatusSources {
    pub(crate) salesforce: Arc<salesforce_sandbox::Sandbox>,
    pub(crate) intacct: Arc<intacct_sandbox::Sandbox>,
    /// The store and queues, with the consumers' counters.
    pub(crate) store: Store,
}

impl StatusSources {
    /// The API counters of both sandboxes.
    pub(crate) fn usage(&self) -> Vec<UsageLine> {
        let outbound = self.salesforce.outbound_stats();
        let events = self.intacct.smart_event_stats().unwrap_or_default();
        let usage = self.intacct.usage();
        let line = |side: &str, name: &str, value: u64| UsageLine {
            side: side.into(),
            name: name.into(),
            value,
        };
        vec![
            line("salesforce", "api_calls", self.salesforce.api_calls()),
            line("salesforce", "outbound_delivered", outbound.delivered),
            line("salesforce", "outbound_pending", outbound.pending()),
            line("intacct", "requests", usage.requests),
            line("intacct", "reads", usage.reads),
            line("intacct", "writes", usage.writes),
            line("intacct", "smart_events_delivered", events.delivered),
            line("intacct", "smart_events_pending", events.pending()),
        ]
    }

    /// The overview, with the sandboxes' API counters.
    pub(crate) async fn overview(&self) -> Overview {
        let mut overview = self.store.overview().await;
        overview.usage = self.usage();
        overview
    }

    /// The status as JSON (see the module docs).
    pub(crate) async fn snapshot(&self) -> Value {
        let overview = self.overview().await;
        let mut flows = Map::new();
        for f in &overview.flows {
            let mut entry = Map::new();
            match (f.queued, f.in_flight) {
                (Some(queued), Some(in_flight)) => {
                    entry.insert("queued".into(), json!(queued));
                    entry.insert("in_flight".into(), json!(in_flight));
                }
                _ => {
                    entry.insert("error".into(), json!("the queue could not be read"));
                }
            }
            if let Some(d) = f.dead_letters {
                entry.insert("dead_letters".into(), json!(d));
            }
            let c = f.counts.unwrap_or_default();
            entry.insert("processed".into(), json!(c.processed));
            entry.insert("done".into(), json!(c.done));
            entry.insert("echoes".into(), json!(c.echoes));
            entry.insert("retried".into(), json!(c.retried));
            entry.insert("parked".into(), json!(c.parked));
            flows.insert(f.flow.as_str().into(), Value::Object(entry));
        }
        let usage = |side: &str, name: &str| {
            overview
                .usage
                .iter()
                .find(|u| u.side == side && u.name == name)
                .map_or(0, |u| u.value)
        };
        let pending =
            usage("salesforce", "outbound_pending") + usage("intacct", "smart_events_pending");
        // Parked failures wait for a person (replay or fix): they do not make the system busy.
        let parked: Map<String, Value> = overview
            .flows
            .iter()
            .filter(|f| f.parked > 0)
            .map(|f| (f.flow.as_str().to_owned(), json!(f.parked)))
            .collect();
        json!({
            "idle": !overview.busy() && pending == 0,
            "flows": flows,
            "parked": parked,
            "watermarks": overview.watermarks,
            "errors": overview.errors,
            "salesforce": {
                "api_calls": usage("salesforce", "api_calls"),
                "outbound_delivered": usage("salesforce", "outbound_delivered"),
                "outbound_pending": usage("salesforce", "outbound_pending"),
            },
            "intacct": {
                "requests": usage("intacct", "requests"),
                "reads": usage("intacct", "reads"),
                "writes": usage("intacct", "writes"),
                "smart_events_delivered": usage("intacct", "smart_events_delivered"),
                "smart_events_pending": usage("intacct", "smart_events_pending"),
            },
        })
    }
}

/// The `/local/status` route.
pub(crate) fn router(sources: Arc<StatusSources>) -> Router {
    Router::new()
        .route("/local/status", get(status))
        .with_state(sources)
}

async fn status(State(sources): State<Arc<StatusSources>>) -> axum::Json<Value> {
    axum::Json(sources.snapshot().await)
}
