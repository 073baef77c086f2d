//! [`ConcurrencyLimiter`] contract. Lease expiry is on the harness's manual clock; waiting for a
//! slot is on real time (short deadlines), as it is in production.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use lf_domain::port::ConcurrencyLimiter;
use lf_domain::{Deadline, PortError};

use crate::Harness;

const HOLD: Duration = Duration::from_secs(10);

fn soon() -> Option<Deadline> {
    Some(Deadline::after(Duration::from_millis(300)))
}

fn patient() -> Option<Deadline> {
    Some(Deadline::after(Duration::from_secs(60)))
}

fn assert_throttled(result: Result<lf_domain::port::Lease, PortError>) {
    match result {
        Err(PortError::Throttled { .. }) => {}
        other => panic!("expected Throttled, got {other:?}"),
    }
}

pub async fn never_more_than_capacity_leases_are_held<H: Harness>(h: &H) {
    // 8 workers on 4 handles (as 4 processes would hold them) share 2 slots.
    let handles = Arc::new(h.limiters(2, 4).await);
    assert!(handles.iter().all(|l| l.capacity() == 2));
    let holding = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let workers = (0..8).map(|i| {
        let (handles, holding, most) = (handles.clone(), holding.clone(), most.clone());
        tokio::spawn(async move {
            let limiter = &handles[i % handles.len()];
            for _ in 0..2 {
                let lease = limiter.acquire(HOLD, patient()).await.unwrap();
                assert!(lease.slot < 2, "{lease:?}");
                let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(15)).await;
                holding.fetch_sub(1, Ordering::SeqCst);
                limiter.release(&lease).await.unwrap();
            }
        })
    });
    for w in join_all(workers).await {
        w.unwrap();
    }
    let most = most.load(Ordering::SeqCst);
    assert!((1..=2).contains(&most), "{most} leases were held at once");
    assert_eq!(holding.load(Ordering::SeqCst), 0);
}

pub async fn an_expired_lease_is_reclaimed<H: Harness>(h: &H) {
    let handles = h.limiters(1, 2).await;
    let (crashed, other) = (&handles[0], &handles[1]);
    let first = crashed.acquire(HOLD, patient()).await.unwrap();
    assert_throttled(other.acquire(HOLD, soon()).await);
    // The holder died without releasing; its lease frees itself once it expires.
    h.advance(HOLD + Duration::from_secs(1));
    let second = other.acquire(HOLD, soon()).await.unwrap();
    assert_eq!(second.slot, first.slot);
    assert_ne!(second.token, first.token);
    assert!(second.expires_at > first.expires_at);
}

pub async fn a_stale_release_changes_nothing<H: Harness>(h: &H) {
    let handles = h.limiters(1, 2).await;
    let (stale, current) = (&handles[0], &handles[1]);
    let old = stale.acquire(HOLD, patient()).await.unwrap();
    h.advance(HOLD + Duration::from_secs(1));
    let new = current.acquire(HOLD, soon()).await.unwrap();
    // The first holder wakes up and releases the lease it no longer has.
    stale.release(&old).await.unwrap();
    assert_throttled(stale.acquire(HOLD, soon()).await);
    // The rightful holder's release frees the slot.
    current.release(&new).await.unwrap();
    let again = stale.acquire(HOLD, soon()).await.unwrap();
    stale.release(&again).await.unwrap();
}

pub async fn acquire_at_a_passed_deadline_is_throttled<H: Harness>(h: &H) {
    let handles = h.limiters(2, 1).await;
    let limiter = &handles[0];
    // Even with every slot free: work past its deadline must not start a request.
    assert_throttled(
        limiter
            .acquire(HOLD, Some(Deadline::after(Duration::ZERO)))
            .await,
    );
    let a = limiter.acquire(HOLD, soon()).await.unwrap();
    let b = limiter.acquire(HOLD, soon()).await.unwrap();
    assert_ne!(a.slot, b.slot);
    assert_throttled(limiter.acquire(HOLD, soon()).await);
    limiter.release(&a).await.unwrap();
    let c = limiter.acquire(HOLD, soon()).await.unwrap();
    assert_eq!(c.slot, a.slot);
}
