//! Metrics of each invocation as CloudWatch Embedded Metric Format (EMF) lines on stdout:
//! CloudWatch Logs turns them into metrics in the `Ledgerforce` namespace with no API call and
//! no agent, which the dashboard and alarms read.
//!
//! Per invocation:
//! - one document with dimension `Flow` and the metrics the runner has: `RecordsSynced`,
//!   `EchoesSkipped`, `Parked`, `Failed` (counts) and `LatencyMs` (milliseconds);
//! - for a function with connectors, one document per side with dimensions `Flow`, `Side`
//!   (`salesforce` | `intacct`) and `ApiCalls`: the requests the clients put on the wire during
//!   the invocation. An EMF document gives each dimension one value, so the two sides cannot
//!   share one.
//!
//! The API calls are read from the clients the cold start built ([`count_calls_of`]): one Lambda
//! process runs one function, so the process's clients are the function's.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use lf_intacct::IntacctClient;
use lf_salesforce::SalesforceClient;
use serde_json::{Map, Value, json};

/// The CloudWatch namespace of every ledgerforce metric.
pub const NAMESPACE: &str = "Ledgerforce";

/// Requests put on the wire to each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApiCalls {
    pub salesforce: u64,
    pub intacct: u64,
}

impl ApiCalls {
    /// The calls made since `before` (a reading of the same counters).
    pub fn since(self, before: ApiCalls) -> ApiCalls {
        ApiCalls {
            salesforce: self.salesforce.saturating_sub(before.salesforce),
            intacct: self.intacct.saturating_sub(before.intacct),
        }
    }
}

/// A client whose requests count into [`api_calls`].
#[derive(Debug)]
pub enum Counted {
    Salesforce(SalesforceClient),
    Intacct(IntacctClient),
}

impl From<&SalesforceClient> for Counted {
    fn from(c: &SalesforceClient) -> Self {
        Counted::Salesforce(c.clone())
    }
}

impl From<&IntacctClient> for Counted {
    fn from(c: &IntacctClient) -> Self {
        Counted::Intacct(c.clone())
    }
}

// Clones share their original's counters, so holding one reads what every clone sent.
static CLIENTS: Mutex<Vec<Counted>> = Mutex::new(Vec::new());

/// Counts `client`'s requests (and its clones') in this process's [`api_calls`].
pub fn count_calls_of(client: impl Into<Counted>) {
    let mut clients = CLIENTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    clients.push(client.into());
}

/// The requests every counted client of this process has sent so far (retries included;
/// Salesforce token requests are not API calls and are left out).
pub fn api_calls() -> ApiCalls {
    let clients = CLIENTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    clients
        .iter()
        .fold(ApiCalls::default(), |mut total, client| {
            match client {
                Counted::Salesforce(c) => total.salesforce += c.requests_sent(),
                Counted::Intacct(c) => total.intacct += c.stats().requests,
            }
            total
        })
}

/// What one invocation did. A count left `None` is not a metric of this function (a webhook
/// syncs nothing itself) and is not emitted, so it does not show as a zero.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationMetrics {
    /// The `Flow` dimension: the flow, or the function for the webhooks and the poller.
    pub flow: String,
    pub records_synced: Option<u64>,
    pub echoes_skipped: Option<u64>,
    pub parked: Option<u64>,
    pub failed: u64,
    pub latency: Duration,
    /// `None` for a function without connectors.
    pub api_calls: Option<ApiCalls>,
}

impl InvocationMetrics {
    /// Metrics of `flow` with nothing counted yet.
    pub fn new(flow: impl Into<String>, latency: Duration) -> Self {
        Self {
            flow: flow.into(),
            records_synced: None,
            echoes_skipped: None,
            parked: None,
            failed: 0,
            latency,
            api_calls: None,
        }
    }

    /// The EMF documents, stamped `timestamp_ms` (milliseconds since the epoch).
    pub fn documents(&self, timestamp_ms: i64) -> Vec<Value> {
        let mut root = Map::new();
        let mut definitions = Vec::new();
        let counts = [
            ("RecordsSynced", self.records_synced),
            ("EchoesSkipped", self.echoes_skipped),
            ("Parked", self.parked),
            ("Failed", Some(self.failed)),
        ];
        for (name, value) in counts {
            if let Some(value) = value {
                definitions.push(json!({"Name": name, "Unit": "Count"}));
                root.insert(name.to_owned(), json!(value));
            }
        }
        definitions.push(json!({"Name": "LatencyMs", "Unit": "Milliseconds"}));
        // Whole milliseconds with a fraction: sub-millisecond webhooks still show.
        let millis = (self.latency.as_micros() as f64) / 1000.0;
        root.insert("LatencyMs".to_owned(), json!(millis));
        let mut documents = vec![document(
            timestamp_ms,
            &["Flow"],
            definitions,
            &self.flow,
            root,
        )];
        if let Some(calls) = self.api_calls {
            for (side, n) in [("salesforce", calls.salesforce), ("intacct", calls.intacct)] {
                let mut root = Map::new();
                root.insert("Side".to_owned(), json!(side));
                root.insert("ApiCalls".to_owned(), json!(n));
                documents.push(document(
                    timestamp_ms,
                    &["Flow", "Side"],
                    vec![json!({"Name": "ApiCalls", "Unit": "Count"})],
                    &self.flow,
                    root,
                ));
            }
        }
        documents
    }

    /// Writes the documents to stdout, one line each, now. A failed write is logged and
    /// otherwise ignored: metrics never fail an invocation.
    pub fn emit(&self) {
        let mut text = String::new();
        for doc in self.documents(Utc::now().timestamp_millis()) {
            text.push_str(&doc.to_string());
            text.push('\n');
        }
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "metrics not written to stdout");
        }
    }
}

fn document(
    timestamp_ms: i64,
    dimensions: &[&str],
    metrics: Vec<Value>,
    flow: &str,
    mut root: Map<String, Value>,
) -> Value {
    root.insert("Flow".to_owned(), json!(flow));
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions],
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `doc` against the EMF specification's structure and returns its one directive.
    fn directive(doc: &Value) -> &Value {
        let aws = &doc["_aws"];
        assert!(aws["Timestamp"].is_i64(), "{doc}");
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1, "{doc}");
        let d = &directives[0];
        assert_eq!(d["Namespace"], NAMESPACE);
        // Every dimension and every metric is a member of the root with the right type.
        for set in d["Dimensions"].as_array().unwrap() {
            let set = set.as_array().unwrap();
            assert!(!set.is_empty() && set.len() <= 30, "{doc}");
            for key in set {
                assert!(doc[key.as_str().unwrap()].is_string(), "{key} in {doc}");
            }
        }
        let metrics = d["Metrics"].as_array().unwrap();
        assert!(metrics.len() <= 100);
        for m in metrics {
            let name = m["Name"].as_str().unwrap();
            assert!(doc[name].is_number(), "{name} in {doc}");
            assert!(
                ["Count", "Milliseconds"].contains(&m["Unit"].as_str().unwrap()),
                "{m}"
            );
        }
        d
    }

    fn names(d: &Value) -> Vec<&str> {
        d["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn a_flow_invocation_is_one_document_per_flow_and_one_per_side() {
        let mut m = InvocationMetrics::new("opportunity-won", Duration::from_micros(12_345));
        m.records_synced = Some(7);
        m.echoes_skipped = Some(2);
        m.parked = Some(1);
        m.failed = 3;
        m.api_calls = Some(ApiCalls {
            salesforce: 4,
            intacct: 2,
        });
        let docs: Vec<Value> = m
            .documents(1_764_000_000_000)
            .iter()
            // Through text, as CloudWatch Logs reads them.
            .map(|d| serde_json::from_str(&d.to_string()).unwrap())
            .collect();
        assert_eq!(docs.len(), 3);

        let flow = directive(&docs[0]);
        assert_eq!(flow["Dimensions"], json!([["Flow"]]));
        assert_eq!(
            names(flow),
            [
                "RecordsSynced",
                "EchoesSkipped",
                "Parked",
                "Failed",
                "LatencyMs"
            ]
        );
        assert_eq!(docs[0]["_aws"]["Timestamp"], 1_764_000_000_000_i64);
        assert_eq!(docs[0]["Flow"], "opportunity-won");
        assert_eq!(docs[0]["RecordsSynced"], 7);
        assert_eq!(docs[0]["EchoesSkipped"], 2);
        assert_eq!(docs[0]["Parked"], 1);
        assert_eq!(docs[0]["Failed"], 3);
        assert_eq!(docs[0]["LatencyMs"], 12.345);

        for (doc, side, calls) in [(&docs[1], "salesforce", 4), (&docs[2], "intacct", 2)] {
            let d = directive(doc);
            assert_eq!(d["Dimensions"], json!([["Flow", "Side"]]));
            assert_eq!(names(d), ["ApiCalls"]);
            assert_eq!(doc["Flow"], "opportunity-won");
            assert_eq!(doc["Side"], side);
            assert_eq!(doc["ApiCalls"], calls);
        }
    }

    #[test]
    fn counts_a_function_does_not_have_are_left_out_not_zero() {
        let m = InvocationMetrics::new("salesforce-webhook", Duration::from_millis(3));
        let docs = m.documents(1);
        assert_eq!(docs.len(), 1, "no connectors, no ApiCalls documents");
        let d = directive(&docs[0]);
        assert_eq!(names(d), ["Failed", "LatencyMs"]);
        assert!(docs[0].get("RecordsSynced").is_none());
        assert_eq!(docs[0]["Failed"], 0);
    }

    #[test]
    fn calls_are_the_difference_of_two_readings() {
        let before = ApiCalls {
            salesforce: 10,
            intacct: 3,
        };
        let after = ApiCalls {
            salesforce: 14,
            intacct: 3,
        };
        assert_eq!(
            after.since(before),
            ApiCalls {
                salesforce: 4,
                intacct: 0
            }
        );
        // A reading never goes down; if one did, the difference is zero, not a wrap.
        assert_eq!(before.since(after).salesforce, 0);
    }
}
