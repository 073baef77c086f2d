//! The Salesforce connector contract (lf-testkit) against the real client and the sandbox.

use std::sync::Arc;
use std::time::Duration;

use lf_domain::port::SfRecord;
use lf_domain::{ManualClock, SalesforceId};
use lf_salesforce::SalesforceClient;
use lf_sandbox_salesforce::{Sandbox, SandboxConfig};
use lf_testkit::connector::salesforce::SalesforceHarness;
use serde_json::Value;

use crate::support::{client_with, org_with};

/// A small URI budget, so the 450-id read of the contract needs several calls.
const URI_BUDGET: usize = 4_000;

pub struct SandboxHarness {
    org: Sandbox,
    client: SalesforceClient,
    clock: Arc<ManualClock>,
}

impl SalesforceHarness for SandboxHarness {
    type Port = SalesforceClient;

    async fn new() -> Self {
        // The org's clock stands still unless a case lets time pass, so records written
        // together share one SystemModstamp exactly, as records written within one second do
        // in a real org: the change cursor must page through ties. It runs an hour behind the
        // client's, so the default settle time admits every change the org stamps.
        let clock = Arc::new(ManualClock::new(
            chrono::Utc::now() - chrono::Duration::hours(1),
        ));
        let org = org_with(SandboxConfig {
            clock: clock.clone(),
            ..SandboxConfig::default()
        })
        .await;
        let client = client_with(&org, |c| c.max_uri_bytes = URI_BUDGET);
        // The session is made up front so token requests do not count as calls of a case.
        client.connect().await.expect("sandbox session");
        Self { org, client, clock }
    }

    fn port(&self) -> SalesforceClient {
        self.client.clone()
    }

    fn api_calls(&self) -> u64 {
        self.org.api_calls()
    }

    fn max_uri_bytes(&self) -> usize {
        URI_BUDGET
    }

    fn seed(&self, object: &str, fields: Value) -> SalesforceId {
        let id = self
            .org
            .insert(object, fields)
            .unwrap_or_else(|e| panic!("seeding {object}: {e}"));
        SalesforceId::parse(&id).expect("the sandbox answers valid ids")
    }

    fn stored(&self, object: &str) -> Vec<SfRecord> {
        self.org.records(object)
    }

    async fn let_time_pass(&self, by: Duration) {
        self.clock.advance(by);
    }
}

lf_testkit::salesforce_contract_tests!(SandboxHarness);
