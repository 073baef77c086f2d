//! Records per second per core for the shipped specs: a 30-field Account → CUSTOMER (routing,
//! lookups, country/state normalization, entity defaults) and a 10-line Opportunity → AR
//! invoice (currency conversion, legacy dates, lookups per line).
//!
//! `cargo bench -p lf-mapping` (criterion prints the rate as elem/s: one element is one record).

// Benchmark harness, not production code: a broken fixture should stop it loudly.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lf_domain::Flow;
use lf_mapping::{MapContext, Mapped};
use serde_json::Value;

mod fixtures;
use fixtures::{account, opportunity};

fn bench(c: &mut Criterion) {
    let specs = match fixtures::specs().unwrap().compile() {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let cx = MapContext::default();

    let customer = specs.mapping(Flow::AccountOnboarding, "customer").unwrap();
    let acc = account();
    let Mapped::Record(sample) = customer.map(&acc, &cx).unwrap() else {
        panic!("skipped");
    };
    let leaves = fixtures::count_leaves(&Value::Object(sample.fields));
    assert!(leaves >= 30, "the Account benchmark maps {leaves} fields");
    let mut g = c.benchmark_group("mapping");
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("account_to_customer_{leaves}_fields"), |b| {
        b.iter(|| black_box(customer.map(black_box(&acc), &cx)))
    });

    let invoice = specs.mapping(Flow::OpportunityWon, "invoice").unwrap();
    let opp = opportunity();
    assert!(matches!(invoice.map(&opp, &cx), Ok(Mapped::Record(_))));
    g.bench_function("opportunity_to_invoice_10_lines", |b| {
        b.iter(|| black_box(invoice.map(black_box(&opp), &cx)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(30);
    targets = bench
}
criterion_main!(benches);
