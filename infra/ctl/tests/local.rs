//! `ledgerforce local` as a user runs it: the real binary on free loopback ports.

// clippy.toml allows these in #[test] functions; the helpers here are test code too, and a
// failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A started `ledgerforce local` and the lines it printed up to "Press Ctrl-C".
struct Local {
    child: Child,
    banner: Vec<String>,
    /// Kept open so the lines printed at stop have somewhere to go.
    stdout: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

fn start(data_dir: &Path) -> Local {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ledgerforce"))
        .args(["local", "--salesforce-port", "0", "--intacct-port", "0"])
        .args(["--webhook-port", "0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("ledgerforce starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut banner = Vec::new();
    let mut lines = BufReader::new(stdout).lines();
    // Reading blocks until the line comes or the process ends (then the loop ends): no timing.
    for line in lines.by_ref() {
        let line = line.expect("stdout is text");
        let done = line.starts_with("Press Ctrl-C");
        banner.push(line);
        if done {
            break;
        }
    }
    Local {
        child,
        banner,
        stdout: lines,
    }
}

impl Local {
    /// The value of the first line starting with `label`.
    fn value(&self, label: &str) -> String {
        self.banner
            .iter()
            .find_map(|l| l.trim_start().strip_prefix(label))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {label:?} line in {:#?}", self.banner))
    }

    /// SIGTERM, as a script or a service manager stops it; returns whether it exited 0 and
    /// what it printed after the banner.
    fn stop(mut self) -> (bool, Vec<String>) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let rest: Vec<String> = self.stdout.by_ref().map_while(Result::ok).collect();
        (self.child.wait().is_ok_and(|s| s.success()), rest)
    }
}

#[tokio::test]
async fn local_serves_both_sandboxes_and_keeps_its_store_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let local = start(&data);
    let instance = local.value("instance URL:");
    let key = local.value("consumer key:");
    let secret = local.value("consumer secret:");
    let intacct = local.value("endpoint:");
    assert!(intacct.starts_with("http://127.0.0.1:"), "{intacct}");
    assert!(
        local
            .value("JWT private key:")
            .starts_with(data.to_str().unwrap())
    );

    // The printed credentials open the printed org, as they would for curl or jsforce.
    let http = reqwest::Client::new();
    let token = http
        .post(format!("{instance}/services/oauth2/token"))
        .basic_auth(&key, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    let token: serde_json::Value = token.json().await.unwrap();
    let accounts: serde_json::Value = http
        .get(format!("{instance}/services/data/v62.0/query"))
        .query(&[("q", "SELECT Id FROM Account")])
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(accounts["totalSize"], 12, "the demo org: {accounts}");

    let (ok, rest) = local.stop();
    assert!(ok, "a SIGTERM stop exits 0: {rest:?}");
    assert!(
        rest.iter().any(|l| l.starts_with("stopped: Salesforce ")),
        "the counters are printed at stop: {rest:?}"
    );
    assert!(data.join("ledgerforce.db").exists(), "the store stays");
    assert!(
        !data.join("salesforce-jwt-key.pem").exists(),
        "the key goes"
    );

    // The same folder opens again (schema already there, queues kept).
    let again = start(&data);
    assert!(again.value("store and queues:").ends_with("ledgerforce.db"));
    assert!(again.stop().0);
}
