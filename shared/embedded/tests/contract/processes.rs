//! The SQLite limiter's cap holds across processes, not only across connections.
//!
//! The test re-runs its own binary as several child "workers" (selected by an environment
//! variable) on one database file and a limiter of one slot. While a worker holds its lease it
//! owns a marker file, created with `create_new`: if another process ever held the slot at the
//! same time, one of the two creations fails and that worker reports the overlap. The check
//! needs no clock and no timing: an overlap either happened and was seen, or it did not.

use std::io::ErrorKind;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use lf_domain::port::ConcurrencyLimiter;
use lf_domain::{Deadline, SystemClock};
use lf_embedded::Database;

/// Set in a child: the database file (the marker file sits next to it).
const CHILD_DB: &str = "LF_EMBEDDED_LIMITER_CHILD_DB";
const TEST_NAME: &str = "processes::the_limiter_holds_across_processes";
const WORKERS: usize = 3;
const TURNS: u32 = 15;

#[test]
fn the_limiter_holds_across_processes() {
    if let Ok(path) = std::env::var(CHILD_DB) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(worker(Path::new(&path)));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("limiter.db");
    // Created once up front, so the children do not race to migrate a new file.
    drop(Database::open(&path, Arc::new(SystemClock)).unwrap());
    let children: Vec<_> = (0..WORKERS)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
                .env(CHILD_DB, &path)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "worker {i} failed:\n{stdout}");
        assert!(!stdout.contains("OVERLAP"), "worker {i}:\n{stdout}");
        assert!(
            stdout.contains(&format!("TURNS {TURNS}")),
            "worker {i} did not finish its turns:\n{stdout}"
        );
    }
}

async fn worker(path: &Path) {
    let db = Database::open(path, Arc::new(SystemClock)).unwrap();
    let limiter = db.limiter("intacct", 1).unwrap();
    let marker = path.with_extension("holder");
    let mut turns = 0;
    for _ in 0..TURNS {
        let lease = limiter
            .acquire(
                Duration::from_secs(60),
                Some(Deadline::after(Duration::from_secs(120))),
            )
            .await
            .unwrap();
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
        {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                println!("OVERLAP: another process held the slot with {lease:?}");
                return;
            }
            Err(e) => panic!("marker {}: {e}", marker.display()),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        std::fs::remove_file(&marker).unwrap();
        limiter.release(&lease).await.unwrap();
        turns += 1;
    }
    println!("TURNS {turns}");
}
