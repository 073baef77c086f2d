//! What the company-wide Intacct limiter costs per request, measured against a DynamoDB
//! endpoint (a local moto server):
//!
//! ```text
//! moto_server -H 127.0.0.1 -p 5055 &
//! LEDGERFORCE_MOTO_ENDPOINT=http://127.0.0.1:5055 cargo run -p lf-aws --example limiter_cost
//! ```
//!
//! It counts the DynamoDB requests the SDK sends (an interceptor sees every attempt) and the
//! wall time, first for requests that never wait (one caller), then for 8 callers sharing the
//! default Intacct allowance of 2 slots, each holding its slot for a simulated 300 ms request.
//! Moto runs in-process Python on loopback, so its latencies are a lower bound on nothing:
//! read the call counts as the result and the times as orders of magnitude.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use lf_aws::schema::{self, Table};
use lf_aws::{AwsSettings, DynamoLimiter, load_sdk_config};
use lf_domain::port::ConcurrencyLimiter;
use lf_domain::{Deadline, SystemClock};

/// Counts every request the client transmits (retries included).
#[derive(Debug)]
struct CountRequests(Arc<AtomicU64>);

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn Error + Send + Sync>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

const HOLD: Duration = Duration::from_secs(30);
const SOLO_REQUESTS: u64 = 200;
const WORKERS: usize = 8;
const REQUESTS_PER_WORKER: u64 = 5;
/// Shorter than most Intacct requests, so the waiting overhead shows rather than hides.
const SIMULATED_REQUEST: Duration = Duration::from_millis(300);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let endpoint = std::env::var("LEDGERFORCE_MOTO_ENDPOINT").map_err(
        |_| "set LEDGERFORCE_MOTO_ENDPOINT to a moto server, e.g. http://127.0.0.1:5055",
    )?;
    let sdk = load_sdk_config(&AwsSettings::local(endpoint)).await;
    let calls = Arc::new(AtomicU64::new(0));
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(CountRequests(calls.clone()))
            .build(),
    );
    let table = format!(
        "lf-bench-leases-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    schema::create_table(&client, Table::Leases, &table).await?;
    let limiter = Arc::new(DynamoLimiter::new(
        client,
        table.clone(),
        "intacct",
        2,
        Arc::new(SystemClock),
    )?);

    // One caller: never waits.
    calls.store(0, Ordering::Relaxed);
    let started = Instant::now();
    for _ in 0..SOLO_REQUESTS {
        let lease = limiter.acquire(HOLD, Some(Deadline::after(HOLD))).await?;
        limiter.release(&lease).await?;
    }
    let solo = started.elapsed();
    let solo_calls = calls.load(Ordering::Relaxed);
    println!(
        "uncontended: {SOLO_REQUESTS} requests, {:.2} DynamoDB calls per request, {:.2} ms per acquire+release",
        solo_calls as f64 / SOLO_REQUESTS as f64,
        solo.as_secs_f64() * 1000.0 / SOLO_REQUESTS as f64
    );

    // Eight callers, two slots.
    calls.store(0, Ordering::Relaxed);
    let holding = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (limiter, holding, most) = (limiter.clone(), holding.clone(), most.clone());
            tokio::spawn(async move {
                for _ in 0..REQUESTS_PER_WORKER {
                    let lease = limiter
                        .acquire(HOLD, Some(Deadline::after(Duration::from_secs(120))))
                        .await?;
                    let now = holding.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(SIMULATED_REQUEST).await;
                    holding.fetch_sub(1, Ordering::SeqCst);
                    limiter.release(&lease).await?;
                }
                Ok::<_, lf_domain::PortError>(())
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    let contended = started.elapsed();
    let total = WORKERS as u64 * REQUESTS_PER_WORKER;
    let contended_calls = calls.load(Ordering::Relaxed);
    println!(
        "contended: {WORKERS} callers, 2 slots, {total} requests of {} ms: {:.2} DynamoDB calls per request, \
         at most {} held at once, {:.1} s in all ({:.1} s if the slots never idled)",
        SIMULATED_REQUEST.as_millis(),
        contended_calls as f64 / total as f64,
        most.load(Ordering::SeqCst),
        contended.as_secs_f64(),
        (total as f64 / 2.0) * SIMULATED_REQUEST.as_secs_f64()
    );
    Ok(())
}
