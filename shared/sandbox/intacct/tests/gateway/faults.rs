//! Each injected fault kind, and seeded fault sequences.

use std::time::Duration;

use lf_sandbox_intacct::{IntacctFault, SandboxConfig};

use crate::support::*;

#[tokio::test]
async fn each_fault_kind() {
    let sb = start(SandboxConfig {
        latency: Duration::from_millis(50),
        ..Default::default()
    })
    .await;
    let us = Client::in_entity(&sb, "US");
    let read = "<readByQuery><object>LOCATIONENTITY</object></readByQuery>";

    sb.faults().inject_next(IntacctFault::Latency, 1);
    assert_eq!(
        us.call(&[("f", read)]).await.status(0),
        "success",
        "slow but answered"
    );

    sb.faults().inject_next(IntacctFault::ServerError, 1);
    let before = sb.record_count("CUSTOMER");
    let a = us.call(&[("f", &customer("F-1", "F", ""))]).await;
    assert_eq!(a.status, 503);
    assert_eq!(sb.record_count("CUSTOMER"), before, "nothing ran");

    sb.faults().inject_next(IntacctFault::RateLimited, 1);
    let a = us.call(&[("f", read)]).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.control_errorno(), "GW-0010");

    // Expired session: a login request is unaffected and leaves the fault for the next
    // session request, whose session is then gone for good.
    let session = us.with_session(&us.session(None).await);
    sb.faults().inject_next(IntacctFault::SessionExpired, 1);
    assert_eq!(us.call(&[("f", read)]).await.status(0), "success");
    let a = session.call(&[("f", read)]).await;
    assert_eq!(a.auth_errorno(), "XL03000006");
    let a = session.call(&[("f", read)]).await;
    assert_eq!(a.auth_errorno(), "XL03000006", "the session stays expired");

    // Lost response: the write commits, the client sees a broken response.
    sb.faults().inject_next(IntacctFault::LostResponse, 1);
    let outcome = us
        .try_post(us.envelope(Opts::default(), &[("f", &customer("F-LOST", "Lost", ""))]))
        .await;
    assert!(outcome.is_err(), "the response must not arrive intact");
    assert_eq!(
        sb.count_where("CUSTOMER", "CUSTOMERID", "F-LOST"),
        1,
        "but the write happened"
    );
    // A retry of the same create meets the duplicate, the way the connector's lookup-first
    // design expects.
    let a = us.call(&[("f", &customer("F-LOST", "Lost", ""))]).await;
    assert_eq!(a.errornos(0)[0], "BL34000061");
    assert_eq!(sb.faults().injected(), 5);
    let by_kind = sb.faults().injected_by_kind();
    assert_eq!(by_kind.len(), 5, "{by_kind:?}");
    assert!(
        by_kind.iter().all(|(_, n)| *n == 1),
        "each kind once, the deferred session fault counted once: {by_kind:?}"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn seeded_fault_rates_repeat_exactly() {
    async fn run(seed: u64) -> Vec<u16> {
        let sb = start(SandboxConfig {
            fault_seed: seed,
            faults: vec![
                (IntacctFault::ServerError, 0.2),
                (IntacctFault::RateLimited, 0.2),
            ],
            ..Default::default()
        })
        .await;
        let c = Client::new(&sb);
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(
                c.call(&[("f", "<lookup><object>CUSTOMER</object></lookup>")])
                    .await
                    .status,
            );
        }
        sb.shutdown().await;
        statuses
    }
    let a = run(7).await;
    assert_eq!(a, run(7).await);
    assert_ne!(a, run(8).await);
    assert!(
        a.contains(&503) && a.contains(&429) && a.contains(&200),
        "{a:?}"
    );
}
