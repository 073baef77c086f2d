//! How long from a deal closing to its Intacct document id on the Opportunity, through the
//! real paths at zero sandbox latency: the Salesforce sandbox's Outbound Message → the
//! webhook (lf-intake over loopback HTTP) → the durable embedded queue → the consumer →
//! opportunity-won → both sandboxes → the write-back.
//!
//! `cargo run --release -p lf-flows --example won_latency -- [DEALS]` (default 50), one deal
//! at a time so each latency is its own; prints min, median, p95 and max.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/e2e/support.rs"]
#[allow(dead_code)]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use lf_domain::{Flow, SalesforceId, SystemClock};
use lf_embedded::Database;
use lf_flows::{Consumer, ConsumerOptions};
use lf_intake::{FlowQueues, Intake, IntakeConfig, RoutingTable, SalesforceWebhookConfig};
use secrecy::SecretString;
use serde_json::Value;

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let deals: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let w = support::World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("queues.db"), Arc::new(SystemClock)).unwrap();
    let queue = db.queue("opportunity-won").unwrap();

    let token = "latency-example-token";
    let org = SalesforceId::parse(&w.org.credentials().org_id).unwrap();
    let intake = Intake::new(
        IntakeConfig {
            routes: RoutingTable::standard().only(&[Flow::OpportunityWon]),
            salesforce: Some(SalesforceWebhookConfig::new(
                vec![org],
                SecretString::from(token.to_owned()),
            )),
            intacct: None,
        },
        FlowQueues::new().with(Flow::OpportunityWon, queue.clone()),
        Arc::new(SystemClock),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, lf_intake::router(intake))
            .await
            .unwrap();
    });
    w.org
        .set_outbound_url(&format!("http://{addr}/salesforce/{token}"));

    let consumer = Consumer::new(
        queue,
        w.opportunity_won(),
        w.parked.clone(),
        ConsumerOptions {
            wait: Duration::from_millis(5),
            ..Default::default()
        },
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        consumer
            .run_until(async {
                let _ = stopped.await;
            })
            .await;
    });

    let mut latencies = Vec::with_capacity(deals);
    for n in 0..deals {
        let account = w.new_account(&format!("Latency Customer {n:04}"), "United States");
        let start = Instant::now();
        let deal = w.new_won_deal(&account, &format!("Latency deal {n:04}"), 1.0);
        loop {
            let written = w
                .record(&deal)
                .get("Intacct_Invoice_ID__c")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty());
            if written {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "deal {deal} not synced in 60 s"
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        latencies.push(start.elapsed());
    }
    let _ = stop.send(());
    let _ = running.await;
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "deal closed -> invoice id on the Opportunity, {deals} deals one at a time: min {:?}, median {:?}, p95 {:?}, max {:?}",
        latencies[0],
        at(0.5),
        at(0.95),
        latencies[latencies.len() - 1]
    );
}
