//! `ledgerforce bench` at a tiny size with zero sandbox latency: it runs to the end, and its
//! report is consistent — the calls it reports are what the sandboxes counted and what the
//! clients sent, every record was synced, the batched flows cost fewer calls than the naive
//! one-record-per-batch runs and no fewer than the floor, and the derived figures follow
//! from the counts. No figure is checked against a speed: speed is what the bench reports.

// clippy.toml allows these in #[test] functions; the helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use serde_json::Value;

fn number(v: &Value, path: &str) -> f64 {
    let mut at = v;
    for key in path.split('.') {
        at = at
            .get(key)
            .unwrap_or_else(|| panic!("the report has no {path}: {v}"));
    }
    at.as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number: {at}"))
}

fn check_workload(report: &Value, name: &str, records: f64, naive_records: f64) {
    let w = &report[name];
    let n = |p: &str| number(w, p);
    assert_eq!(n("records"), records, "{name}: records handed to the flow");
    assert_eq!(n("ours.records"), records, "{name}");
    assert_eq!(n("ours.synced"), records, "{name}: every record synced");
    assert_eq!(n("ours.failed"), 0.0, "{name}: nothing failed");
    assert_eq!(n("naive.records"), naive_records, "{name}: naive sample");
    assert_eq!(n("naive.synced"), naive_records, "{name}: naive synced all");
    assert_eq!(n("naive.failed"), 0.0, "{name}");
    for run in ["ours", "naive"] {
        assert_eq!(
            n(&format!("{run}.calls.salesforce")),
            n(&format!("{run}.client_calls.salesforce")),
            "{name} {run}: Salesforce calls counted by the org = sent by the client"
        );
        assert_eq!(
            n(&format!("{run}.calls.intacct")),
            n(&format!("{run}.client_calls.intacct")),
            "{name} {run}: Intacct requests counted by the company = sent by the client"
        );
        assert!(n(&format!("{run}.calls.salesforce")) > 0.0, "{name} {run}");
        assert!(n(&format!("{run}.calls.intacct")) > 0.0, "{name} {run}");
    }
    let ours = n("ours.calls.salesforce") + n("ours.calls.intacct");
    let naive = n("naive.calls.salesforce") + n("naive.calls.intacct");
    let ours_per = ours / records;
    let naive_per = naive / naive_records;
    assert!(
        ours_per <= naive_per,
        "{name}: batched {ours_per} calls per record, naive {naive_per}"
    );
    // The naive run makes at least one call per operation: a read and a write-back in
    // Salesforce, a lookup and a create in Intacct, per record.
    assert!(
        n("naive.calls.salesforce") >= 2.0 * naive_records,
        "{name}: naive Salesforce calls {}",
        n("naive.calls.salesforce")
    );
    assert!(
        n("naive.calls.intacct") >= 2.0 * naive_records,
        "{name}: naive Intacct requests {}",
        n("naive.calls.intacct")
    );
    let floor = n("floor.salesforce") + n("floor.intacct");
    assert!(
        floor > 0.0 && ours >= floor,
        "{name}: {ours} calls, floor {floor}"
    );
    assert!((n("ratio_to_floor") - ours / floor).abs() < 1e-9, "{name}");
    assert!(
        (n("fewer_than_naive") - naive_per / ours_per).abs() < 1e-9,
        "{name}"
    );
    assert!(
        (n("naive_calls_scaled") - naive_per * records).abs() < 1e-6,
        "{name}"
    );
    assert!(
        (n("records_per_intacct_request") - records / n("ours.calls.intacct")).abs() < 1e-9,
        "{name}"
    );
    assert!(
        w["bound_records_per_sec"].is_null(),
        "{name}: no cap bound at zero latency"
    );
    assert!(n("records_per_sec") > 0.0, "{name}");
}

#[test]
fn a_tiny_bench_at_zero_latency_reports_consistent_counts() {
    let out = Command::new(env!("CARGO_BIN_EXE_ledgerforce"))
        .args([
            "bench",
            "--accounts",
            "45",
            "--deals",
            "23",
            "--naive-sample",
            "7",
            "--latency-samples",
            "3",
            "--batch",
            "20",
            "--workers",
            "2",
            "--sf-latency-ms",
            "0",
            "--intacct-latency-ms",
            "0",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bench failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    check_workload(&report, "accounts", 45.0, 7.0);
    check_workload(&report, "deals", 23.0, 7.0);

    // 45 Accounts in pages of 20: 3 pages, so at most 3 flow batches.
    assert_eq!(number(&report, "accounts.ours.batches"), 3.0);
    assert_eq!(number(&report, "accounts.batch"), 20.0);
    // Floor at batch 20: one read and one write per page in Salesforce, one read and one
    // create per page in Intacct.
    assert_eq!(number(&report, "accounts.floor.salesforce"), 6.0);
    assert_eq!(number(&report, "accounts.floor.intacct"), 6.0);
    // Deals at the template's batch of 50: one batch's worth of floor.
    assert_eq!(number(&report, "deals.batch"), 50.0);
    assert_eq!(number(&report, "deals.floor.salesforce"), 2.0);
    assert_eq!(number(&report, "deals.floor.intacct"), 3.0);
    let deal_batches = number(&report, "deals.ours.batches");
    assert!(
        (1.0..=23.0).contains(&deal_batches),
        "23 deals in batches of up to 50: {deal_batches} batches"
    );
    assert_eq!(number(&report, "deals.naive.batches"), 7.0);

    for phase in ["latency_zero", "latency_configured", "latency_batched"] {
        let p = &report[phase];
        assert_eq!(number(p, "samples"), 3.0, "{phase}");
        let (p50, p99, max) = (
            number(p, "p50_ms"),
            number(p, "p99_ms"),
            number(p, "max_ms"),
        );
        assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{phase}: {p}");
    }

    let cost = &report["cost"];
    assert_eq!(number(cost, "events"), 100_000.0);
    let lines = cost["lines"].as_array().unwrap();
    assert!(lines.len() >= 5, "{cost}");
    let sum: f64 = lines.iter().map(|l| l["usd"].as_f64().unwrap()).sum();
    assert!((sum - number(cost, "total_usd")).abs() < 1e-9, "{cost}");
    assert!(
        lines.iter().all(|l| l["usd"].as_f64().unwrap() > 0.0),
        "{cost}"
    );
}

#[test]
fn a_cap_of_zero_is_refused_with_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_ledgerforce"))
        .args(["bench", "--intacct-cap", "0", "--json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--intacct-cap"), "{stderr}");
}

#[test]
fn the_configured_latency_is_in_every_synced_deal() {
    // Per deal at least 2 Salesforce calls (read, write-back) and 3 Intacct requests (read,
    // create the customer, create the invoice) one after the other: the delays are a floor
    // under the measured time, whatever the machine's speed.
    let (sf, intacct) = (5.0, 20.0);
    let out = Command::new(env!("CARGO_BIN_EXE_ledgerforce"))
        .args([
            "bench",
            "--accounts",
            "10",
            "--deals",
            "5",
            "--naive-sample",
            "2",
            "--latency-samples",
            "3",
            "--batch",
            "10",
            "--workers",
            "2",
            "--sf-latency-ms",
            "5",
            "--intacct-latency-ms",
            "20",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let floor = 2.0 * sf + 3.0 * intacct;
    let p50 = number(&report, "latency_configured.p50_ms");
    assert!(
        p50 >= floor,
        "p50 {p50} ms with {sf} ms per Salesforce call and {intacct} ms per Intacct request"
    );
    // With the template's batching a lone deal also waits out the window.
    let window_ms = 1000.0 * number(&report, "batching_window_secs");
    assert!(window_ms >= 1000.0, "{report}");
    let batched = number(&report, "latency_batched.p50_ms");
    assert!(
        batched >= floor + window_ms,
        "p50 {batched} ms with the batching window of {window_ms} ms"
    );
    for name in ["accounts", "deals"] {
        let w = &report[name];
        let bound = number(w, "bound_records_per_sec");
        let expected = 2.0 * number(w, "records_per_intacct_request") / (intacct / 1000.0);
        assert!(
            (bound - expected).abs() < 1e-6,
            "{name}: cap bound {bound}, expected {expected}"
        );
    }
}
