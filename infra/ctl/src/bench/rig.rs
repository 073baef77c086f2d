//! One measurement's world: both sandboxes (each call delayed by the configured latency, the
//! Intacct company refusing requests above its concurrency cap with 429 GW-0010), the real
//! clients on them, an embedded store, and — for the deal stages — the Salesforce webhook on
//! loopback feeding the opportunity-won queue. Every stage starts its own, so no stage's
//! records or counters leak into another's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use lf_domain::port::IdempotencyConfig;
use lf_domain::{Clock, CorrelationId, Flow, SalesforceId, SystemClock};
use lf_embedded::{Database, SqliteParkedFailures, SqliteQueue};
use lf_flows::{BatchContext, FlowHandler, FlowPorts, Outcome, WorkItem};
use lf_intacct::IntacctClient;
use lf_intake::{FlowQueues, Intake, IntakeConfig, RoutingTable, SalesforceWebhookConfig};
use lf_salesforce::SalesforceClient;
use lf_sandbox_intacct as intacct_sandbox;
use lf_sandbox_salesforce as salesforce_sandbox;
use secrecy::SecretString;
use serde_json::json;

use crate::CliError;
use crate::local::stack::{LocalPorts, intacct_config, salesforce_config};

/// The platforms' behaviour a stage runs against.
#[derive(Debug, Clone, Copy)]
pub(super) struct Platform {
    pub salesforce_latency: Duration,
    pub intacct_latency: Duration,
    pub intacct_cap: usize,
}

impl Platform {
    /// The same platform with no added latency.
    pub(super) fn without_latency(self) -> Platform {
        Platform {
            salesforce_latency: Duration::ZERO,
            intacct_latency: Duration::ZERO,
            ..self
        }
    }
}

/// API calls as both sandboxes count them, with what the clients say they sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub(super) struct Calls {
    /// Salesforce API calls (`Sforce-Limit-Info`: every authenticated data request).
    pub salesforce: u64,
    /// Intacct gateway requests (each carries one or more functions).
    pub intacct: u64,
}

impl Calls {
    pub(super) fn total(&self) -> u64 {
        self.salesforce + self.intacct
    }

    pub(super) fn since(self, before: Calls) -> Calls {
        Calls {
            salesforce: self.salesforce - before.salesforce,
            intacct: self.intacct - before.intacct,
        }
    }
}

/// What one flow handler spent per batch: (records, time in the handler).
pub(super) type BatchLog = Arc<Mutex<Vec<(usize, Duration)>>>;

/// What the webhook endpoint saw: (when a post arrived, how long it took to answer).
pub(super) type PostLog = Arc<Mutex<Vec<(Instant, Duration)>>>;

pub(super) struct Rig {
    pub salesforce: salesforce_sandbox::Sandbox,
    pub intacct: intacct_sandbox::Sandbox,
    pub database: Database,
    pub ports: Arc<LocalPorts>,
    pub parked: SqliteParkedFailures,
    dir: PathBuf,
}

impl std::fmt::Debug for Rig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rig").field("dir", &self.dir).finish()
    }
}

impl Rig {
    /// Starts both sandboxes with `platform`'s latency and cap; `demo` seeds the demo data
    /// (products and price books for deals) in Salesforce, else only the price book. Only
    /// the Closed Won Outbound Message rule is on, so the flows' own write-backs send nothing.
    pub(super) async fn start(platform: Platform, demo: bool) -> Result<Rig, CliError> {
        let dir =
            std::env::temp_dir().join(format!("ledgerforce-bench-{}", CorrelationId::new_random()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let salesforce = salesforce_sandbox::Sandbox::start(salesforce_sandbox::SandboxConfig {
            seed: if demo {
                salesforce_sandbox::DataSet::Demo
            } else {
                salesforce_sandbox::DataSet::Empty
            },
            daily_limit: u64::MAX / 2,
            latency: platform.salesforce_latency,
            outbound_rules: salesforce_sandbox::OutboundRule::standard()
                .into_iter()
                .filter(|r| r.object == "Opportunity")
                .collect(),
            ..Default::default()
        })
        .await?;
        let intacct = intacct_sandbox::Sandbox::start(intacct_sandbox::SandboxConfig {
            seed: intacct_sandbox::DataSet::Demo,
            latency: platform.intacct_latency,
            concurrency_limit: Some(platform.intacct_cap),
            ..Default::default()
        })
        .await?;
        set_latency(&salesforce, &intacct, platform);

        let mut sf = salesforce_config(&salesforce)?;
        // Every Account is read as soon as it exists: an org being backfilled has nothing
        // still settling.
        sf.change_settle = Duration::ZERO;
        let mut ia = intacct_config(&intacct);
        ia.max_concurrent_requests = platform.intacct_cap;
        let path = dir.join("bench.db");
        let database =
            tokio::task::spawn_blocking(move || Database::open(path, Arc::new(SystemClock)))
                .await??;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let ports = Arc::new(FlowPorts {
            salesforce: SalesforceClient::new(sf)?,
            intacct: IntacctClient::new(ia)?,
            xref: database.xref_store(),
            idempotency: database.idempotency_store(IdempotencyConfig::default()),
            state: database.sync_state(),
            audit: database.audit_log(),
            clock,
        });
        let parked = database.parked_failures();
        Ok(Rig {
            salesforce,
            intacct,
            database,
            ports,
            parked,
            dir,
        })
    }

    /// Both sandboxes' counters now.
    pub(super) fn calls(&self) -> Calls {
        Calls {
            salesforce: self.salesforce.api_calls(),
            intacct: self.intacct.usage().requests,
        }
    }

    /// What the clients of this rig sent, counted on their side.
    pub(super) fn client_calls(&self) -> Calls {
        Calls {
            salesforce: self.ports.salesforce.requests_sent(),
            intacct: self.ports.intacct.stats().requests,
        }
    }

    /// Turns the configured latency on or off in both sandboxes.
    pub(super) fn set_platform(&self, platform: Platform) {
        set_latency(&self.salesforce, &self.intacct, platform);
    }

    /// Serves the Salesforce webhook for the opportunity-won flow on loopback, points the
    /// org's Outbound Messages at it, and returns its queue and the log of its posts.
    pub(super) async fn webhook(&self) -> Result<(SqliteQueue, PostLog), CliError> {
        let queue = self.database.queue(Flow::OpportunityWon.as_str())?;
        let token = CorrelationId::new_random().to_string().replace('-', "");
        let org = SalesforceId::parse(&self.salesforce.credentials().org_id)?;
        let intake = Intake::new(
            IntakeConfig {
                routes: RoutingTable::standard().only(&[Flow::OpportunityWon]),
                salesforce: Some(SalesforceWebhookConfig::new(
                    vec![org],
                    SecretString::from(token.clone()),
                )),
                intacct: None,
            },
            FlowQueues::new().with(Flow::OpportunityWon, queue.clone()),
            Arc::new(SystemClock),
        )?;
        let posts: PostLog = Arc::default();
        let app = lf_intake::router(intake).layer(axum::middleware::from_fn_with_state(
            posts.clone(),
            time_post,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "the bench webhook stopped");
            }
        });
        self.salesforce
            .set_outbound_url(&format!("http://{addr}/salesforce/{token}"));
        Ok((queue, posts))
    }

    /// A new Account that qualifies for onboarding, routed by its US billing address.
    pub(super) fn new_account(&self, n: usize) -> Result<String, CliError> {
        Ok(self.salesforce.insert(
            "Account",
            json!({
                "Name": format!("Bench Account {n:06}"),
                "AccountNumber": format!("BN-{n:06}"),
                "Type": "Customer - Direct",
                "BillingCountry": "United States",
                "BillingCity": "Springfield",
                "BillingPostalCode": "10001",
                "CurrencyIsoCode": "USD",
            }),
        )?)
    }

    /// A new open deal on `account` with one product line at the USD list price (the demo
    /// price book); closing it sends the Outbound Message.
    pub(super) fn new_deal(&self, account: &str, n: usize) -> Result<String, CliError> {
        let entry = self
            .salesforce
            .records("PricebookEntry")
            .into_iter()
            .find(|e| e.get("CurrencyIsoCode").and_then(|v| v.as_str()) == Some("USD"))
            .ok_or("the demo org has no USD price book entry")?;
        let field = |name: &str| entry.get(name).cloned().unwrap_or_default();
        let opp = self.salesforce.insert(
            "Opportunity",
            json!({"Name": format!("Bench deal {n:06}"), "AccountId": account,
                   "StageName": "Prospecting", "CloseDate": "2026-03-31",
                   "CurrencyIsoCode": "USD", "Pricebook2Id": field("Pricebook2Id")}),
        )?;
        self.salesforce.insert(
            "OpportunityLineItem",
            json!({"OpportunityId": opp, "PricebookEntryId": field("Id"), "Quantity": 1.0,
                   "UnitPrice": field("UnitPrice")}),
        )?;
        Ok(opp)
    }

    /// Closes a deal as a sales user would; the org sends its Outbound Message.
    pub(super) fn close(&self, opportunity: &str) -> Result<(), CliError> {
        Ok(self
            .salesforce
            .update(opportunity, json!({"StageName": "Closed Won"}))?)
    }

    /// Whether the deal carries its Intacct document id.
    pub(super) fn synced(&self, opportunity: &str) -> bool {
        self.salesforce.record(opportunity).is_some_and(|r| {
            r.get("Intacct_Invoice_ID__c")
                .and_then(|v| v.as_str())
                .is_some_and(|s| !s.is_empty())
        })
    }

    /// Accounts carrying their Intacct customer id.
    pub(super) fn onboarded(&self) -> usize {
        self.salesforce
            .records("Account")
            .iter()
            .filter(|r| {
                r.get("Intacct_Customer_ID__c")
                    .and_then(|v| v.as_str())
                    .is_some_and(|s| !s.is_empty())
            })
            .count()
    }

    /// Stops both sandboxes and removes the store.
    pub(super) async fn shutdown(self) {
        self.salesforce.shutdown().await;
        self.intacct.shutdown().await;
        drop(self.database);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn set_latency(
    salesforce: &salesforce_sandbox::Sandbox,
    intacct: &intacct_sandbox::Sandbox,
    platform: Platform,
) {
    // A latency fault at rate 1 delays every call by the sandbox's configured latency.
    let rate = |d: Duration| if d.is_zero() { 0.0 } else { 1.0 };
    salesforce.faults().set_rate(
        salesforce_sandbox::SalesforceFault::Latency,
        rate(platform.salesforce_latency),
    );
    intacct.faults().set_rate(
        intacct_sandbox::IntacctFault::Latency,
        rate(platform.intacct_latency),
    );
}

async fn time_post(State(posts): State<PostLog>, request: Request, next: Next) -> Response {
    let at = Instant::now();
    let response = next.run(request).await;
    posts
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((at, at.elapsed()));
    response
}

/// A flow handler that logs each batch's size and time.
#[derive(Debug)]
pub(super) struct Timed<H> {
    pub inner: H,
    pub log: BatchLog,
}

impl<H: FlowHandler> FlowHandler for Timed<H> {
    fn flow(&self) -> Flow {
        self.inner.flow()
    }

    async fn handle_batch(&self, items: &[WorkItem], context: &BatchContext) -> Vec<Outcome> {
        let started = Instant::now();
        let outcomes = self.inner.handle_batch(items, context).await;
        let spent = started.elapsed();
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((items.len(), spent));
        outcomes
    }
}
