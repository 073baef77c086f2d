//! `ledgerforce demo` as a new user runs it: the real binary, its exit code and its summary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn the_demo_syncs_every_deal_and_account_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ledgerforce"))
        .args(["demo", "--records", "3", "--data-dir"])
        .arg(dir.path().join("demo"))
        .output()
        .expect("ledgerforce demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    // 6 deals × 7 checks, 5 accounts, the entity and currency spreads; then the payment (3),
    // the hold (2), the phone, the website whose Outbound Message was lost, and the city (1
    // each), the reconciliation (2).
    assert!(stdout.contains("all 61 expected outcomes held"), "{stdout}");
    assert!(
        stdout.contains("with its Outbound Message lost"),
        "the lost webhook round ran:\n{stdout}"
    );
    for line in [
        "opportunity-won: ",
        "account-onboarding: ",
        "invoice-status: ",
        "credit-alerts: ",
        "account-sync: ",
        "revenue reconciliation report",
        "/reports/revenue-reconciliation/",
        "report.html",
        "accounts.csv",
        "API calls used: Salesforce ",
        "created, ",
        "echoes of our own writes skipped",
    ] {
        assert!(stdout.contains(line), "summary line {line:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("parked "), "nothing parked:\n{stdout}");
}

#[test]
fn the_demo_refuses_a_data_folder_holding_an_earlier_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("used");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("ledgerforce.db"), b"").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ledgerforce"))
        .args(["demo", "--data-dir"])
        .arg(&data)
        .output()
        .expect("ledgerforce demo runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs a fresh data folder"), "{stderr}");
    assert_eq!(
        std::fs::read(data.join("ledgerforce.db")).unwrap(),
        b"",
        "left untouched"
    );
}
