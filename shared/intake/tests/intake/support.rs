//! What every intake test needs: durable embedded queues per flow (with a switch that makes
//! sends fail), the webhook router served on loopback, and captured log lines.

// Two test binaries share this module, and each uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lf_domain::port::{OutgoingMessage, Queue, QueueDepth, ReceiptHandle, ReceivedMessage};
use lf_domain::{ChangeEnvelope, Flow, PortError, SalesforceId, SystemClock};
use lf_embedded::{Database, SqliteQueue};
use lf_intacct::SmartEventVerifier;
use lf_intake::{FlowQueues, Intake, IntakeConfig, RoutingTable, SalesforceWebhookConfig, router};
use secrecy::SecretString;

/// The Outbound Message token of these tests (a test value, not a secret of any org).
pub const SF_TOKEN: &str = "sf-token-3f9a1c7e55d24b0c";
/// The callout HMAC key of these tests.
pub const CALLOUT_KEY: &str = "callout-key-8d21e6b4a0f94c3a";
/// The Smart Event token of these tests.
pub const IA_TOKEN: &str = "ia-token-5b7e0d9c2a6f4e18";

/// The intake of the standard routes over `store`'s queues, accepting `org_id`.
pub fn intake(store: &Store, org_id: &str) -> Intake<SwitchQueue> {
    let mut sf = SalesforceWebhookConfig::new(
        vec![SalesforceId::parse(org_id).unwrap()],
        SecretString::from(SF_TOKEN),
    );
    sf.callout_key = Some(SecretString::from(CALLOUT_KEY));
    sf.max_body_bytes = 64 * 1024;
    let config = IntakeConfig {
        routes: RoutingTable::standard(),
        salesforce: Some(sf),
        intacct: Some(SmartEventVerifier::new(SecretString::from(IA_TOKEN)).unwrap()),
    };
    Intake::new(config, store.flow_queues(), Arc::new(SystemClock)).unwrap()
}

/// The flows of [`lf_intake::RoutingTable::standard`].
pub const FLOWS: [Flow; 5] = [
    Flow::OpportunityWon,
    Flow::AccountOnboarding,
    Flow::AccountSync,
    Flow::InvoiceStatus,
    Flow::CreditAlerts,
];

/// An embedded queue whose sends can be made to fail: after `budget` more successful
/// `send_batch` calls every send fails with a transient error (a negative budget never fails).
#[derive(Debug, Clone)]
pub struct SwitchQueue {
    inner: SqliteQueue,
    budget: Arc<AtomicI64>,
}

impl Queue for SwitchQueue {
    async fn send_batch(&self, messages: &[OutgoingMessage]) -> Result<(), PortError> {
        let left = self.budget.load(Ordering::SeqCst);
        if left == 0 {
            return Err(PortError::Unavailable {
                message: "the queue is down for this test".into(),
                source: None,
            });
        }
        if left > 0 {
            self.budget.fetch_sub(1, Ordering::SeqCst);
        }
        self.inner.send_batch(messages).await
    }

    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        self.inner.receive(max, visibility, wait).await
    }

    async fn delete(&self, receipt: &ReceiptHandle) -> Result<(), PortError> {
        self.inner.delete(receipt).await
    }

    async fn change_visibility(
        &self,
        receipt: &ReceiptHandle,
        visibility: Duration,
    ) -> Result<(), PortError> {
        self.inner.change_visibility(receipt, visibility).await
    }

    async fn depth(&self) -> Result<QueueDepth, PortError> {
        self.inner.depth().await
    }
}

/// One SQLite file holding a queue per flow, and the shared send budget of all of them.
#[derive(Debug)]
pub struct Store {
    _dir: tempfile::TempDir,
    pub db: Database,
    queues: BTreeMap<Flow, SwitchQueue>,
    budget: Arc<AtomicI64>,
}

impl Store {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path().join("intake.db"), Arc::new(SystemClock)).unwrap();
        let budget = Arc::new(AtomicI64::new(-1));
        let queues = FLOWS
            .iter()
            .map(|f| {
                let q = SwitchQueue {
                    inner: db.queue(f.as_str()).unwrap(),
                    budget: budget.clone(),
                };
                (*f, q)
            })
            .collect();
        Self {
            _dir: dir,
            db,
            queues,
            budget,
        }
    }

    pub fn flow_queues(&self) -> FlowQueues<SwitchQueue> {
        self.queues
            .iter()
            .fold(FlowQueues::new(), |acc, (f, q)| acc.with(*f, q.clone()))
    }

    /// Every send from now on fails.
    pub fn fail_sends(&self) {
        self.budget.store(0, Ordering::SeqCst);
    }

    /// `n` more sends succeed, then every send fails.
    pub fn fail_after(&self, n: i64) {
        self.budget.store(n, Ordering::SeqCst);
    }

    /// Sends succeed again.
    pub fn heal(&self) {
        self.budget.store(-1, Ordering::SeqCst);
    }

    /// Takes (and deletes) every envelope waiting on `flow`'s queue, in queue order.
    pub async fn take(&self, flow: Flow) -> Vec<ChangeEnvelope> {
        let q = &self.queues[&flow];
        let mut out = Vec::new();
        loop {
            let got = q
                .receive(10, Duration::from_secs(600), Duration::ZERO)
                .await
                .unwrap();
            if got.is_empty() {
                return out;
            }
            for m in got {
                out.push(serde_json::from_str(&m.body).unwrap());
                q.delete(&m.receipt).await.unwrap();
            }
        }
    }

    /// Takes (and deletes) every envelope waiting on any queue.
    pub async fn take_all(&self) -> Vec<ChangeEnvelope> {
        let mut out = Vec::new();
        for flow in self.queues.keys() {
            out.extend(self.take(*flow).await);
        }
        out
    }

    /// Messages waiting over all queues.
    pub async fn total_depth(&self) -> u64 {
        let mut n = 0;
        for q in self.queues.values() {
            let d = q.depth().await.unwrap();
            n += d.visible + d.in_flight;
        }
        n
    }
}

/// Serves the intake's router on a free loopback port; returns `http://127.0.0.1:PORT`.
pub async fn serve(intake: Intake<SwitchQueue>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router(intake)).await.unwrap();
    });
    base
}

/// Log lines written while a capture is installed.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Captures every event at every level on this thread (the tests run on a current-thread
/// runtime, so the served handlers log here too) until the guard drops.
pub fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}
