//! The company-wide concurrency limit: with a limiter of capacity 2 and four concurrent
//! callers allowed by the local cap, the sandbox (limit 2, GW-0010 above it) never sees more
//! than two requests at once; and what the limiter costs per request.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use lf_domain::port::{BoxFuture, ConcurrencyLimiter, Lease};
use lf_domain::{Deadline, PortError};
use lf_intacct::Function;
use lf_sandbox_intacct::{IntacctFault, Sandbox, SandboxConfig};

use crate::contract::client_for;

/// An in-memory limiter that counts its calls and the most leases ever held at once.
#[derive(Debug)]
struct CountingLimiter {
    slots: Mutex<Vec<Option<String>>>,
    acquires: AtomicU64,
    releases: AtomicU64,
    held: AtomicUsize,
    peak: AtomicUsize,
}

impl CountingLimiter {
    fn new(capacity: usize) -> Self {
        Self {
            slots: Mutex::new(vec![None; capacity]),
            acquires: AtomicU64::new(0),
            releases: AtomicU64::new(0),
            held: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    fn try_take(&self) -> Option<(u32, String)> {
        let mut slots = self.slots.lock().unwrap();
        let free = slots.iter().position(Option::is_none)?;
        let token = format!("{:032x}", rand::random::<u128>());
        slots[free] = Some(token.clone());
        let held = self.held.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(held, Ordering::SeqCst);
        Some((u32::try_from(free).unwrap(), token))
    }
}

impl ConcurrencyLimiter for CountingLimiter {
    fn acquire(
        &self,
        hold: Duration,
        deadline: Option<Deadline>,
    ) -> BoxFuture<'_, Result<Lease, PortError>> {
        self.acquires.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            loop {
                if let Some((slot, token)) = self.try_take() {
                    return Ok(Lease {
                        slot,
                        token,
                        expires_at: Utc::now() + chrono::Duration::from_std(hold).unwrap(),
                    });
                }
                if deadline.is_some_and(|d| d.is_past()) {
                    return Err(PortError::Throttled {
                        message: "no slot before the deadline".into(),
                        retry_after: None,
                    });
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), PortError>> {
        self.releases.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let mut slots = self.slots.lock().unwrap();
            let slot = &mut slots[lease.slot as usize];
            if slot.as_deref() == Some(lease.token.as_str()) {
                *slot = None;
                self.held.fetch_sub(1, Ordering::SeqCst);
            }
            Ok(())
        })
    }

    fn capacity(&self) -> u32 {
        u32::try_from(self.slots.lock().unwrap().len()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_callers_share_two_company_slots_and_the_sandbox_never_sees_three() {
    let company = Sandbox::start(SandboxConfig {
        concurrency_limit: Some(2),
        latency: Duration::from_millis(100),
        ..Default::default()
    })
    .await
    .unwrap();
    // Every request holds its slot at the gateway a while, so callers really overlap.
    company.faults().set_rate(IntacctFault::Latency, 1.0);
    let limiter = Arc::new(CountingLimiter::new(2));
    // The local cap (4) would let all four through: only the shared limiter holds them to 2.
    let client = client_for(&company, 4, Some(limiter.clone()));
    let before = company.usage().requests;
    let calls: Vec<_> = (0..4)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..3 {
                    client
                        .call(
                            None,
                            Function::lookup(if i % 2 == 0 { "CUSTOMER" } else { "ITEM" }),
                        )
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for c in calls {
        c.await.unwrap();
    }
    let stats = client.stats();
    assert_eq!(
        stats.throttled, 0,
        "the sandbox answered GW-0010: more than 2 requests were in flight there ({stats:?})"
    );
    assert_eq!(
        limiter.peak.load(Ordering::SeqCst),
        2,
        "the limiter was contended"
    );
    assert_eq!(
        limiter.held.load(Ordering::SeqCst),
        0,
        "every lease was given back"
    );
    let served = company.usage().requests - before;
    assert_eq!(
        stats.requests, served,
        "every request went through the limiter"
    );
    // The cost: one acquire and one release per HTTP request (a session open included).
    assert_eq!(limiter.acquires.load(Ordering::SeqCst), served);
    assert_eq!(limiter.releases.load(Ordering::SeqCst), served);
    assert_eq!(stats.limiter_calls, 2 * served);
}

#[tokio::test]
async fn a_limiter_that_cannot_grant_a_lease_sends_nothing() {
    let company = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let limiter = Arc::new(CountingLimiter::new(1));
    let hog = limiter
        .acquire(Duration::from_secs(60), None)
        .await
        .unwrap();
    let client = client_for(&company, 2, Some(limiter.clone()))
        .with_deadline(Deadline::after(Duration::from_millis(200)));
    let err = client.session(None).await.unwrap_err();
    assert!(
        matches!(err, lf_intacct::IntacctError::Limiter { .. }),
        "{err}"
    );
    assert!(matches!(
        lf_domain::Classify::class(&err),
        lf_domain::ErrorClass::Throttled { .. }
    ));
    assert_eq!(company.usage().requests, 0, "nothing reached the gateway");
    limiter.release(&hog).await.unwrap();
}
