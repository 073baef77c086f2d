//! A Salesforce org in a process.
//!
//! The sandbox speaks the wire formats of the real REST API closely enough that unmodified
//! clients (jsforce, simple-salesforce, our own `lf-salesforce`) work against it: the OAuth
//! token endpoint (JWT bearer with real RS256 verification, client credentials, password),
//! SOAP `login()`, sObject CRUD and upsert by external id, describe, getUpdated / getDeleted,
//! SOQL with paging, sObject Collections, Composite, Bulk API 2.0, `/limits`,
//! `Sforce-Limit-Info` with a daily allowance, Outbound Messages to a webhook, and seeded fault
//! injection. It serves plain HTTP, or HTTPS with a certificate made at start
//! ([`SandboxConfig::tls`]).
//!
//! State lives in memory and is lost when the sandbox stops.
//!
//! ```no_run
//! # async fn demo() -> Result<(), lf_sandbox_salesforce::SandboxError> {
//! use lf_sandbox_salesforce::{DataSet, Sandbox, SandboxConfig};
//! let org = Sandbox::start(SandboxConfig { seed: DataSet::Demo, ..Default::default() }).await?;
//! let token = org.issue_token();
//! println!("{} {token}", org.base_url());
//! org.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod auth;
mod bulk;
mod fault;
mod login;
mod org;
mod outbound;
pub mod schema;
mod seed;
pub mod soql;
mod store;
mod tls;
mod value;

use std::sync::Arc;
use std::time::Duration;

use lf_domain::{Classify, Clock, ErrorClass, SystemClock};
use lf_sandbox_core::Server;
use serde_json::{Map, Value};

pub use auth::{
    Credentials, DEMO_CONSUMER_KEY, DEMO_CONSUMER_SECRET, DEMO_PASSWORD, DEMO_SECURITY_TOKEN,
    DEMO_USERNAME,
};
pub use fault::SalesforceFault;
pub use lf_sandbox_core::{DataSet, FaultPlan, PushConfig, PushStats};
pub use outbound::{OutboundRule, Trigger, acknowledged};
pub use tls::TlsError;

use org::Org;

/// Reads a `--faults` value such as `503=0.05,lock=0.02` (names: latency, 503, lock,
/// validation, expire, limit, slow).
pub fn parse_faults(spec: &str) -> Result<Vec<(SalesforceFault, f64)>, String> {
    lf_sandbox_core::parse_fault_rates(spec)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(name, p)| {
            SalesforceFault::from_name(&name)
                .map(|f| (f, p))
                .ok_or_else(|| {
                    let known: Vec<&str> = SalesforceFault::ALL.iter().map(|(_, n)| *n).collect();
                    format!("unknown fault {name:?} (known: {})", known.join(", "))
                })
        })
        .collect()
}

/// How to start a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Loopback port; 0 picks a free one.
    pub port: u16,
    /// Records to start with.
    pub seed: DataSet,
    /// This many extra Accounts (`Volume Account 00001`...) for paging and volume tests.
    pub extra_accounts: usize,
    /// Seeds the fault plan (and outbound duplicates/reordering).
    pub fault_seed: u64,
    /// Fault rates to start with, e.g. from `--faults`.
    pub fault_rates: Vec<(SalesforceFault, f64)>,
    /// The daily API allowance (`DailyApiRequests.Max`).
    pub daily_limit: u64,
    /// Delay of [`SalesforceFault::Latency`].
    pub latency: Duration,
    /// How long [`SalesforceFault::SlowResponse`] holds a response back.
    pub slow_response: Duration,
    /// Where Outbound Messages go and how they are retried; `None` sends nothing until
    /// [`Sandbox::set_outbound_url`].
    pub outbound: Option<PushConfig>,
    /// Outbound Message rules; [`OutboundRule::standard`] by default.
    pub outbound_rules: Vec<OutboundRule>,
    /// The org's clock: timestamps, token `exp` checks, relative SOQL dates.
    pub clock: Arc<dyn Clock>,
    /// Serve HTTPS with a certificate made at start ([`Sandbox::tls_ca_pem`] is what a client
    /// trusts) instead of plain HTTP.
    pub tls: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            port: 0,
            seed: DataSet::Empty,
            extra_accounts: 0,
            fault_seed: 0,
            fault_rates: Vec::new(),
            daily_limit: 100_000,
            latency: Duration::from_millis(500),
            slow_response: Duration::from_secs(30),
            outbound: None,
            outbound_rules: OutboundRule::standard(),
            clock: Arc::new(SystemClock),
            tls: false,
        }
    }
}

/// Why a sandbox did not start or a direct write failed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot bind the sandbox port: {0}")]
    Bind(#[source] std::io::Error),
    #[error(transparent)]
    Keys(#[from] auth::KeyError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("no sObject named {0}")]
    UnknownObject(String),
    #[error("{code}: {message}")]
    Rejected { code: String, message: String },
    #[error("seed data was refused: {0}")]
    Seed(String),
}

impl Classify for SandboxError {
    fn class(&self) -> ErrorClass {
        match self {
            SandboxError::Bind(_) => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        }
    }
}

/// A running org. Dropping it stops the server; [`Sandbox::shutdown`] waits for it.
#[derive(Debug)]
pub struct Sandbox {
    server: Endpoint,
    org: Arc<Org>,
    /// PEM of the CA behind the HTTPS certificate, when serving HTTPS.
    tls_ca_pem: Option<String>,
}

/// Where the org listens: plain HTTP or HTTPS.
#[derive(Debug)]
enum Endpoint {
    Http(Server),
    Https(tls::TlsServer),
}

impl Endpoint {
    fn base_url(&self) -> String {
        match self {
            Endpoint::Http(s) => s.base_url(),
            Endpoint::Https(s) => s.base_url(),
        }
    }

    fn port(&self) -> u16 {
        match self {
            Endpoint::Http(s) => s.local_addr().port(),
            Endpoint::Https(s) => s.local_addr().port(),
        }
    }

    async fn shutdown(self) {
        match self {
            Endpoint::Http(s) => s.shutdown().await,
            Endpoint::Https(s) => s.shutdown().await,
        }
    }
}

impl Sandbox {
    /// Generates (once per process) the JWT key pair, seeds the data set and starts serving.
    pub async fn start(config: SandboxConfig) -> Result<Self, SandboxError> {
        let org = Arc::new(Org::new(&config)?);
        let router = api::router(Arc::clone(&org));
        let (server, tls_ca_pem) = if config.tls {
            let material = tls::material()?;
            let server = tls::serve(router, config.port, material.config)
                .await
                .map_err(SandboxError::Bind)?;
            (Endpoint::Https(server), Some(material.ca_pem))
        } else {
            let server = lf_sandbox_core::serve(router, config.port)
                .await
                .map_err(SandboxError::Bind)?;
            (Endpoint::Http(server), None)
        };
        org.set_base_url(server.base_url());
        Ok(Self {
            server,
            org,
            tls_ca_pem,
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` with [`SandboxConfig::tls`]): the instance URL
    /// and the login URL.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// PEM of the certificate authority that signed the HTTPS certificate (made fresh at
    /// every start), for clients to trust; `None` when serving plain HTTP.
    pub fn tls_ca_pem(&self) -> Option<&str> {
        self.tls_ca_pem.as_deref()
    }

    /// The demo connected app, user, org id and JWT signing key.
    pub fn credentials(&self) -> &Credentials {
        &self.org.credentials
    }

    /// Mints an access token without the token endpoint.
    pub fn issue_token(&self) -> String {
        self.org.issue_token()
    }

    /// API calls counted so far, as `Sforce-Limit-Info` reports them: every authenticated
    /// `/services/data/vXX.X/...` request, a composite request counting once. Token requests,
    /// the versions list and refused requests (401, 403, injected 503) do not count.
    pub fn api_calls(&self) -> u64 {
        self.org.api_usage().0
    }

    /// API updates so far, per object, that set every field to the value it already had
    /// (they still count as writes: the record's `SystemModstamp` moves and its Outbound
    /// Messages fire). A sync that answers its own echoes makes them; so does a client
    /// resending a write whose answer it never got, or one that writes without comparing.
    pub fn unchanged_updates(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.org.unchanged_updates()
    }

    /// Sets the daily allowance; once usage reaches it, calls get `403 REQUEST_LIMIT_EXCEEDED`.
    pub fn set_daily_limit(&self, max: u64) {
        self.org.set_limit(None, Some(max));
    }

    /// Sets the usage counter (e.g. 0 for a new day, or near the limit).
    pub fn set_api_usage(&self, used: u64) {
        self.org.set_limit(Some(used), None);
    }

    /// Every issued token becomes invalid: the next call with one gets
    /// `401 INVALID_SESSION_ID`.
    pub fn expire_sessions(&self) {
        self.org.expire_sessions();
    }

    /// Tokens issued so far (token endpoint and [`Sandbox::issue_token`]).
    pub fn tokens_issued(&self) -> u64 {
        self.org.tokens_issued()
    }

    /// The fault plan: set rates, queue one-shot faults, read how many were injected.
    pub fn faults(&self) -> &FaultPlan<SalesforceFault> {
        &self.org.faults
    }

    /// Sends Outbound Messages to `url` from now on.
    pub fn set_outbound_url(&self, url: &str) {
        self.org.outbound.set_url(url);
    }

    /// Delivery counters of Outbound Messages.
    pub fn outbound_stats(&self) -> PushStats {
        self.org.outbound.stats()
    }

    /// Loses the next `n` Outbound Messages (no attempt is made): a delivery the webhook
    /// never sees, for showing that the change poller catches what a lost message carried.
    pub fn lose_next_outbound(&self, n: u64) {
        if let Some(p) = self.org.outbound.pusher() {
            p.lose_next(n);
        }
    }

    /// The Outbound Message rules in force.
    pub fn outbound_rules(&self) -> &[OutboundRule] {
        self.org.outbound.rules()
    }

    /// Waits until every queued Outbound Message is acknowledged or dropped, or `max` has
    /// passed. Returns whether nothing is pending.
    pub async fn outbound_wait_idle(&self, max: Duration) -> bool {
        match self.org.outbound.pusher() {
            Some(p) => p.wait_idle(max).await,
            None => true,
        }
    }

    /// A live record by id (15 or 18 characters), as stored.
    pub fn record(&self, id: &str) -> Option<Map<String, Value>> {
        self.org.record(id)
    }

    /// Live records of `object`, in creation order.
    pub fn records(&self, object: &str) -> Vec<Map<String, Value>> {
        self.org.records(object)
    }

    /// Creates a record as the API would (same validation, outbound rules fire); returns
    /// its id.
    pub fn insert(&self, object: &str, fields: Value) -> Result<String, SandboxError> {
        self.org.insert(object, fields)
    }

    /// Updates a record as the API would.
    pub fn update(&self, id: &str, fields: Value) -> Result<(), SandboxError> {
        self.org.update(id, fields)
    }

    /// Deletes a record as the API would.
    pub fn delete(&self, id: &str) -> Result<(), SandboxError> {
        self.org.delete(id)
    }

    /// Stops serving and waits for in-flight requests.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}
