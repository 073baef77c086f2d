//! The change-poller binary under the Lambda Runtime API (the emulator of `lf-testkit`),
//! against its sync-state table and queue on moto and both Demo sandboxes: a scheduled event
//! polls every stream of the deployed flows and queues what changed; the next tick starts at
//! the stored watermark and queues nothing new.
//!
//! Needs `LEDGERFORCE_MOTO_ENDPOINT` (`tests/run` starts moto).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lf_domain::Flow;
use lf_domain::port::Queue;
use lf_sandbox_salesforce as sf;
use lf_testkit::deployment::{sandboxes_with, wired};
use lf_testkit::lambda::{Answer, events, run_function};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tick_polls_from_the_watermark_and_queues_the_changes() {
    let (salesforce, intacct) = sandboxes_with(sf::DataSet::Demo).await;
    let d = wired(&salesforce, &intacct).await;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let tick = events::scheduled(&now, "ledgerforce-change-poller");

    let run = run_function(
        env!("CARGO_BIN_EXE_change-poller"),
        "change-poller",
        d.process_env(),
        vec![tick.clone(), tick],
    )
    .await;

    let Answer::Response(first) = &run.answers[0] else {
        panic!(
            "expected a response, got {:?}\n{}",
            run.answers[0], run.stdout
        );
    };
    let streams = first["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "{first}");
    assert_eq!(streams[0]["stream"], "salesforce/Opportunity");
    assert_eq!(streams[0]["error"], json!(null));
    let queued = first["queued"].as_u64().unwrap();
    let Answer::Response(second) = &run.answers[1] else {
        panic!("expected a response, got {:?}", run.answers[1]);
    };
    assert_eq!(second["queued"], 0, "{second}");

    let queue = d.cold_start().await.queue(Flow::OpportunityWon).unwrap();
    assert_eq!(queue.depth().await.unwrap().visible, queued, "{first}");

    let poll = run
        .emf("change-poller", "Failed", None, 0)
        .expect("the run's EMF document");
    assert_eq!(poll["Failed"], 0);
    let calls = run
        .emf("change-poller", "ApiCalls", Some("salesforce"), 0)
        .expect("ApiCalls of the Salesforce side");
    assert!(calls["ApiCalls"].as_u64().unwrap() >= 1, "{calls}");
}
