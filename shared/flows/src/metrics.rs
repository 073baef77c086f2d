//! Counters of what the flow consumers did, per flow, readable while they run: `ledgerforce
//! local` logs them, the demo prints them, and a Lambda function can emit them.
//!
//! [`Metrics`] is a cheap handle (clone it freely); every clone counts into the same counters,
//! so one registry can serve every consumer of a process.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use lf_domain::Flow;

use crate::runner::BatchReport;

/// What one flow's consumer has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct FlowCounts {
    /// Messages handled, whatever became of them (done + retried + parked).
    pub processed: u64,
    /// Acknowledged as done (created, updated, linked, or nothing to do).
    pub done: u64,
    /// Of the done: echoes of our own writes, dropped (loop prevention at work).
    pub echoes: u64,
    /// Reported for redrive.
    pub retried: u64,
    /// Acknowledged and parked with a reason (unreadable messages included).
    pub parked: u64,
    /// When the last batch of this flow was settled (`None`: none yet in this process).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_batch: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct Counters {
    processed: AtomicU64,
    done: AtomicU64,
    echoes: AtomicU64,
    retried: AtomicU64,
    parked: AtomicU64,
    /// Unix milliseconds of the last recorded batch; 0 for none.
    last_batch: AtomicI64,
}

impl Counters {
    fn read(&self) -> FlowCounts {
        FlowCounts {
            processed: self.processed.load(Ordering::Relaxed),
            done: self.done.load(Ordering::Relaxed),
            echoes: self.echoes.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            parked: self.parked.load(Ordering::Relaxed),
            last_batch: match self.last_batch.load(Ordering::Relaxed) {
                0 => None,
                ms => DateTime::from_timestamp_millis(ms),
            },
        }
    }
}

/// The counters of every flow. Each counter only grows; reads never block a consumer.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    // One slot per `Flow::ALL` entry: a fixed table, so counting takes no lock.
    flows: Arc<[Counters; Flow::ALL.len()]>,
}

impl Metrics {
    /// A new registry with every counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a batch's counts to its flow's counters.
    pub fn record(&self, report: &BatchReport) {
        let c = self.slot(report.flow);
        let add = |counter: &AtomicU64, n: usize| {
            counter.fetch_add(n as u64, Ordering::Relaxed);
        };
        add(&c.processed, report.processed());
        add(&c.done, report.counts.done);
        add(&c.echoes, report.counts.echoes);
        add(&c.retried, report.counts.retried);
        add(&c.parked, report.counts.parked);
        c.last_batch
            .fetch_max(Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    /// One flow's counts.
    pub fn flow(&self, flow: Flow) -> FlowCounts {
        self.slot(flow).read()
    }

    /// The counts of every flow that has processed at least one message.
    pub fn snapshot(&self) -> BTreeMap<Flow, FlowCounts> {
        Flow::ALL
            .into_iter()
            .map(|flow| (flow, self.flow(flow)))
            .filter(|(_, counts)| counts.processed > 0)
            .collect()
    }

    fn slot(&self, flow: Flow) -> &Counters {
        let index = Flow::ALL.iter().position(|f| *f == flow).unwrap_or(0);
        &self.flows[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{BatchCounts, RetryRequest};
    use lf_domain::ErrorClass;

    fn report(flow: Flow, done: usize, retried: usize, parked: usize) -> BatchReport {
        BatchReport {
            flow,
            acknowledge: (0..done + parked).map(|i| format!("a{i}")).collect(),
            retry: (0..retried)
                .map(|i| RetryRequest {
                    message_id: format!("r{i}"),
                    class: ErrorClass::Transient,
                    reason: "busy".into(),
                })
                .collect(),
            counts: BatchCounts {
                done,
                echoes: done.min(1),
                retried,
                parked,
                rejected: 0,
            },
        }
    }

    #[test]
    fn counts_add_up_per_flow_across_clones() {
        let metrics = Metrics::new();
        let other = metrics.clone();
        metrics.record(&report(Flow::OpportunityWon, 3, 1, 1));
        other.record(&report(Flow::OpportunityWon, 2, 0, 0));
        other.record(&report(Flow::AccountOnboarding, 0, 2, 0));
        assert_eq!(
            metrics.flow(Flow::OpportunityWon),
            FlowCounts {
                processed: 7,
                done: 5,
                echoes: 2,
                retried: 1,
                parked: 1,
                last_batch: metrics.flow(Flow::OpportunityWon).last_batch,
            }
        );
        assert!(metrics.flow(Flow::OpportunityWon).last_batch.is_some());
        assert_eq!(metrics.flow(Flow::InvoiceStatus).last_batch, None);
        let snapshot = other.snapshot();
        assert_eq!(snapshot.len(), 2);
        assert_eq!(snapshot[&Flow::AccountOnboarding].retried, 2);
        assert!(!snapshot.contains_key(&Flow::InvoiceStatus));
    }
}
