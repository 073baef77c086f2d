//! Headless Chromium for the tests that check a page in a real browser (the reconciliation
//! report, the operator console). Chromium is `LEDGERFORCE_CHROMIUM`, else `/usr/bin/chromium`;
//! without it those tests fail: they are a required part of the suite (`tests/run` installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The Chromium binary; panics (failing the test) with how to install it when it is missing.
pub fn chromium() -> PathBuf {
    let path = std::env::var_os("LEDGERFORCE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "Chromium is required for the browser tests and is not at {} \
         (install it: apt-get install -y chromium, or set LEDGERFORCE_CHROMIUM)",
        path.display()
    );
    path
}

/// Runs headless Chromium on `url` with the profile folder `profile` and `extra` arguments
/// (`--dump-dom`, `--screenshot=…`); panics when it fails. A run that does not end within two
/// minutes is killed and fails the test (a guard against a hung browser, not a timing
/// assertion).
pub fn run(profile: &Path, url: &str, extra: &[String]) -> Output {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd.spawn().expect("chromium starts");
    // Both pipes are read while it runs (--dump-dom writes the whole page to stdout, more than
    // a pipe holds); a watchdog kills a chromium that hangs, so the test fails instead.
    let pid = child.id().to_string();
    let (finished, watch) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if watch.recv_timeout(Duration::from_secs(120)).is_err() {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    });
    let out = child.wait_with_output().expect("chromium output");
    let _ = finished.send(());
    let _ = watchdog.join();
    assert!(
        out.status.success(),
        "chromium failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
