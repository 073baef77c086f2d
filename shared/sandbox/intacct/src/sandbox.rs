//! The test- and CLI-facing handle: start a company on a loopback port, read its credentials
//! and counters, steer faults, limits and sessions, look at its records.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use lf_domain::{Clock, SystemClock};
use lf_sandbox_core::{FaultPlan, PushStats, Pusher, Server};

use crate::company::Entity;
pub use lf_sandbox_core::DataSet;

use crate::fault::IntacctFault;
use crate::function::Cursors;
use crate::gateway::{self, ApiUsage, Shared, State0};
use crate::seed;
use crate::session::Sessions;
use crate::smart_event::{self, SmartEventConfig};

/// The sign-in values of the emulated company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Web Services sender id and password (the `<control>` block).
    pub sender_id: String,
    pub sender_password: String,
    /// Company, user and password (the `<login>` block).
    pub company_id: String,
    pub user_id: String,
    pub user_password: String,
    /// The entities (LOCATIONIDs) a `<locationid>` may name.
    pub entity_ids: Vec<String>,
}

impl Credentials {
    /// The documented demo credentials (docs/sandbox-intacct.md). They only open this emulator.
    pub fn demo() -> Self {
        Self {
            sender_id: "ledgerforce-sandbox".into(),
            sender_password: "sandbox-sender-pw".into(),
            company_id: "LEDGERFORCE-DEMO".into(),
            user_id: "sandbox_api".into(),
            user_password: "sandbox-user-pw".into(),
            entity_ids: seed::entities().into_iter().map(|e| e.id).collect(),
        }
    }
}

impl Default for Credentials {
    fn default() -> Self {
        Self::demo()
    }
}

/// How to start a company.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Loopback port; 0 picks a free one.
    pub port: u16,
    pub seed: DataSet,
    /// Extra top-level customers `BULK-00001`… for paging tests.
    pub bulk_customers: usize,
    /// Seeds the random fault draws.
    pub fault_seed: u64,
    /// Fault rates, drawn per request.
    pub faults: Vec<(IntacctFault, f64)>,
    /// Delay a [`IntacctFault::Latency`] adds.
    pub latency: Duration,
    /// Concurrent requests allowed before 429 GW-0010; `None` = no limit.
    pub concurrency_limit: Option<usize>,
    pub smart_events: Option<SmartEventConfig>,
    /// Sliding session timeout.
    pub session_timeout: Duration,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Time as the company sees it (WHENMODIFIED, session expiry, overdue, revenue posting);
    /// the demo data is dated relative to it.
    pub clock: Arc<dyn Clock>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            port: 0,
            seed: DataSet::Empty,
            bulk_customers: 0,
            fault_seed: 0,
            faults: Vec::new(),
            latency: Duration::from_millis(1500),
            concurrency_limit: None,
            smart_events: None,
            session_timeout: Duration::from_secs(3600),
            max_body_bytes: 4 * 1024 * 1024,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Why a sandbox did not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot bind the Intacct sandbox to 127.0.0.1:{port}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

impl lf_domain::Classify for SandboxError {
    fn class(&self) -> lf_domain::ErrorClass {
        lf_domain::ErrorClass::Permanent
    }
}

/// A running Intacct company.
#[derive(Debug)]
pub struct Sandbox {
    shared: Arc<Shared>,
    server: Mutex<Option<Server>>,
}

impl Sandbox {
    /// Seeds the company and serves the gateway on `127.0.0.1:port`.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let now = config.clock.now();
        let mut company = seed::company(config.seed, now);
        seed::bulk_customers(&mut company, config.bulk_customers, None, now);
        let faults = FaultPlan::new(config.fault_seed);
        for (kind, p) in &config.faults {
            faults.set_rate(*kind, *p);
        }
        let smart_events = config.smart_events.clone().map(|sec| {
            let pusher = Pusher::start(sec.delivery.clone(), smart_event::acknowledged);
            (sec, pusher)
        });
        let shared = Arc::new(Shared {
            credentials: Credentials::demo(),
            endpoint: OnceLock::new(),
            state: Mutex::new(State0 {
                company,
                sessions: Sessions::new(config.session_timeout),
                cursors: Cursors::default(),
                usage: ApiUsage::default(),
            }),
            faults,
            latency: config.latency,
            max_body_bytes: config.max_body_bytes,
            in_flight: Default::default(),
            concurrency_limit: config.concurrency_limit.unwrap_or(0).into(),
            clock: config.clock,
            smart_events,
        });
        let router = Router::new()
            .route(gateway::PATH, post(gateway::handle))
            .with_state(Arc::clone(&shared));
        let server = lf_sandbox_core::serve(router, config.port)
            .await
            .map_err(|source| SandboxError::Bind {
                port: config.port,
                source,
            })?;
        let _ = shared
            .endpoint
            .set(format!("{}{}", server.base_url(), gateway::PATH));
        Ok(Sandbox {
            shared,
            server: Mutex::new(Some(server)),
        })
    }

    /// `http://127.0.0.1:PORT/ia/xml/xmlgw.phtml`, what clients post to.
    pub fn endpoint_url(&self) -> String {
        self.shared.endpoint.get().cloned().unwrap_or_default()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map_or(0, |s| s.local_addr().port())
    }

    pub fn credentials(&self) -> &Credentials {
        &self.shared.credentials
    }

    /// The entities, with their base currencies.
    pub fn entities(&self) -> Vec<Entity> {
        self.shared.lock().company.entities.clone()
    }

    /// API transactions billed so far (reads + writes + Smart Events).
    pub fn api_transactions(&self) -> u64 {
        self.shared.lock().usage.billable()
    }

    /// The transaction count by kind.
    pub fn usage(&self) -> ApiUsage {
        self.shared.lock().usage
    }

    /// Ends every session: the next call with a session id fails authentication (XL03000006).
    pub fn expire_sessions(&self) {
        self.shared.lock().sessions.expire_all();
    }

    /// Live sessions.
    pub fn session_count(&self) -> usize {
        self.shared.lock().sessions.len()
    }

    /// The fault plan: set rates, queue one-shot faults, reseed.
    pub fn faults(&self) -> &FaultPlan<IntacctFault> {
        &self.shared.faults
    }

    /// Concurrent requests allowed before 429 GW-0010; 0 = no limit.
    pub fn set_concurrency_limit(&self, limit: usize) {
        self.shared.concurrency_limit.store(limit, Ordering::SeqCst);
    }

    /// Requests being handled right now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// Open `readByQuery` result sets.
    pub fn open_result_sets(&self) -> usize {
        self.shared.lock().cursors.len()
    }

    /// How many records `object` has (all entities).
    pub fn record_count(&self, object: &str) -> usize {
        let object = object.to_ascii_uppercase();
        self.shared.lock().company.count(&object)
    }

    /// How many records of `object` have `field` (dotted path for nested blocks) equal to
    /// `value`, in any entity: e.g. customers with a given SFDC_ACCOUNT_ID.
    pub fn count_where(&self, object: &str, field: &str, value: &str) -> usize {
        let object = object.to_ascii_uppercase();
        self.shared
            .lock()
            .company
            .rows(&object)
            .filter(|(_, r)| r.value(field) == value)
            .count()
    }

    /// The records of `object` whose `field` equals `value`, as flat field maps (nested blocks
    /// flattened to dotted names), in RECORDNO order; for asserting on state directly.
    pub fn find(&self, object: &str, field: &str, value: &str) -> Vec<BTreeMap<String, String>> {
        let object = object.to_ascii_uppercase();
        self.shared
            .lock()
            .company
            .rows(&object)
            .filter(|(_, r)| r.value(field) == value)
            .map(|(_, r)| flatten(&r.el))
            .collect()
    }

    /// `<update>`s so far, per object, that left their record as it was (they still count as
    /// writes and fire Smart Events). A sync that answers its own echoes makes them; so does
    /// a client resending an update whose answer was lost.
    pub fn unchanged_updates(&self) -> BTreeMap<&'static str, u64> {
        self.shared.lock().company.unchanged_updates.clone()
    }

    /// Every record of `object` (all entities), flattened as [`Sandbox::find`] does, in
    /// RECORDNO order: a whole-table view for comparing state after a run.
    pub fn records(&self, object: &str) -> Vec<BTreeMap<String, String>> {
        let object = object.to_ascii_uppercase();
        self.shared
            .lock()
            .company
            .rows(&object)
            .map(|(_, r)| flatten(&r.el))
            .collect()
    }

    /// Adds `count` customers `BULK-nnnnn` (in `entity`, or at the top level), returning their
    /// ids. Not billed and fires no Smart Event: it is test setup, not API traffic.
    pub fn seed_customers(&self, count: usize, entity: Option<&str>) -> Vec<String> {
        let now = self.shared.clock.now();
        let mut state = self.shared.lock();
        seed::bulk_customers(&mut state.company, count, entity, now)
    }

    /// Delivery counters of Smart Events, when they are configured.
    pub fn smart_event_stats(&self) -> Option<PushStats> {
        self.shared.smart_events.as_ref().map(|(_, p)| p.stats())
    }

    /// Waits until every queued Smart Event is delivered or dropped, at most `max`.
    pub async fn wait_smart_events_idle(&self, max: Duration) -> bool {
        match &self.shared.smart_events {
            Some((_, p)) => p.wait_idle(max).await,
            None => true,
        }
    }

    /// Stops serving; in-flight requests finish first.
    pub async fn shutdown(self) {
        let server = self.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(server) = server {
            server.shutdown().await;
        }
    }
}

fn flatten(el: &crate::element::Element) -> BTreeMap<String, String> {
    fn walk(prefix: &str, el: &crate::element::Element, out: &mut BTreeMap<String, String>) {
        for c in &el.children {
            let name = if prefix.is_empty() {
                c.name.clone()
            } else {
                format!("{prefix}.{}", c.name)
            };
            if c.children.is_empty() {
                out.insert(name, c.text.clone());
            } else {
                walk(&name, c, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", el, &mut out);
    out
}
