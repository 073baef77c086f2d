//! The chaos suite at CI size: the real `chaos` binary, its worker processes and both
//! sandboxes, with every fault kind drawn from a fixed seed. It must end with no duplicate,
//! nothing lost, no echo write, nothing left parked or dead-lettered, and every fault kind
//! must actually have happened (otherwise the zeros would prove nothing).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use serde_json::Value;

#[test]
fn every_flow_under_faults_and_kills_ends_with_no_duplicate_nothing_lost_and_no_echo() {
    let dir = tempfile::tempdir().unwrap();
    let figures = dir.path().join("figures.json");
    let out = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args([
            "run",
            "--seed",
            "7",
            "--events",
            "300",
            "--workers",
            "3",
            "--kills",
            "2",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("run"))
        .arg("--json")
        .arg(&figures)
        .output()
        .expect("the chaos binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chaos failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("chaos: all held (0 duplicates, 0 lost, 0 echo writes)"),
        "{stdout}"
    );
    let f: Value = serde_json::from_slice(&std::fs::read(&figures).unwrap()).unwrap();
    let n = |k: &str| f[k].as_u64().unwrap_or_else(|| panic!("figure {k}: {f}"));
    assert!(n("events") >= 300, "{f}");
    assert_eq!(n("duplicates"), 0, "{f}");
    assert_eq!(n("lost"), 0, "{f}");
    assert_eq!(n("echo_writes"), 0, "{f}");
    assert_eq!(n("parked_after_replay"), 0, "{f}");
    assert_eq!(n("dead_letters_after_replay"), 0, "{f}");
    assert!(n("retries") > 0, "faults cause retries: {f}");
    // Twice at once with the faults on, once more after the replay.
    assert!(n("reconciliation_runs") >= 3, "{f}");
    assert!(
        n("echoes_skipped") > 0,
        "our own writes come back and are dropped: {f}"
    );
    // 3 workers started, and each kill started one more.
    assert_eq!(n("worker_processes_started"), 5, "{f}");
    let faults = &f["faults_injected"];
    for kind in [
        "salesforce 503",
        "salesforce lock",
        "salesforce expire",
        "salesforce limit",
        "salesforce slow",
        "salesforce validation",
        "intacct 5xx",
        "intacct 429",
        "intacct session",
        "intacct lost",
        "webhook deliveries tripled",
        "webhook deliveries reordered",
        "webhook deliveries dropped",
        "poll streams held back by the low daily allowance",
    ] {
        assert!(
            faults[kind].as_u64().is_some_and(|n| n > 0),
            "{kind} was never injected: {faults}"
        );
    }
    assert_eq!(
        faults["workers killed (SIGKILL)"].as_u64(),
        Some(2),
        "{faults}"
    );
}
