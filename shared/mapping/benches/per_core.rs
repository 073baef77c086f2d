//! Records per second per core, measured with the thread's CPU time (Linux
//! `/proc/thread-self/stat`) so that other work on a shared machine does not count against the
//! mapping. Same inputs as `benches/mapping.rs`.
//!
//! For a profiler: `PROBE=account` or `PROBE=opportunity` runs one case only, and
//! `PROBE_COUNT=n` maps exactly `n` records instead of timing (so instruction counts under
//! `valgrind --tool=callgrind` divide by a known number).

// Benchmark harness, not production code: a broken fixture should stop it loudly.
#![allow(clippy::unwrap_used, clippy::panic)]
use lf_domain::Flow;
use lf_mapping::{MapContext, Mapped};
use serde_json::Value;
use std::time::Instant;

mod fixtures;

fn cpu_seconds() -> f64 {
    // utime + stime of this thread, in clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn measure(name: &str, f: &dyn Fn() -> bool, input_count: &str) {
    if let Some(count) = std::env::var("PROBE_COUNT")
        .ok()
        .and_then(|c| c.parse::<u64>().ok())
    {
        for _ in 0..count {
            assert!(std::hint::black_box(f()));
        }
        println!("{name}: mapped {count} records of {input_count}");
        return;
    }
    for _ in 0..1000 {
        assert!(f());
    }
    let (c0, w0) = (cpu_seconds(), Instant::now());
    let mut n = 0u64;
    while cpu_seconds() - c0 < 3.0 {
        for _ in 0..1000 {
            std::hint::black_box(f());
        }
        n += 1000;
    }
    let (cpu, wall) = (cpu_seconds() - c0, w0.elapsed().as_secs_f64());
    println!(
        "{name}: {:.0} records/s per core (cpu {cpu:.2}s, wall {wall:.2}s, {n} records of {input_count})",
        n as f64 / cpu
    );
}

fn main() {
    let specs = fixtures::specs().unwrap().compile().unwrap();
    let cx = MapContext::default();
    let only = std::env::var("PROBE").unwrap_or_default();
    if only.is_empty() || only == "account" {
        let customer = specs.mapping(Flow::AccountOnboarding, "customer").unwrap();
        let acc: Value = fixtures::account();
        let Ok(Mapped::Record(sample)) = customer.map(&acc, &cx) else {
            panic!("the Account fixture does not map");
        };
        let leaves = fixtures::count_leaves(&Value::Object(sample.fields));
        measure(
            "account_to_customer",
            &|| customer.map(&acc, &cx).is_ok(),
            &format!("{leaves} fields"),
        );
    }
    if only.is_empty() || only == "opportunity" {
        let invoice = specs.mapping(Flow::OpportunityWon, "invoice").unwrap();
        let opp: Value = fixtures::opportunity();
        assert!(matches!(invoice.map(&opp, &cx), Ok(Mapped::Record(_))));
        measure(
            "opportunity_to_invoice_10_lines",
            &|| invoice.map(&opp, &cx).is_ok(),
            "10 lines",
        );
    }
}
