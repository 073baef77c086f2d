//! The Intacct connector contract (lf-testkit) against the real client on the Intacct sandbox
//! over loopback: the sandbox counts the requests and holds the records the cases check.

use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use lf_domain::port::{IntacctObject, Month};
use lf_domain::{EntityId, SalesforceId};
use lf_intacct::IntacctClient;
use lf_sandbox_intacct::{DataSet, IntacctFault, Sandbox, SandboxConfig};
use lf_testkit::connector::intacct::{DocumentRefs, IntacctHarness, ServiceUsage};
use rust_decimal::Decimal;

pub struct SandboxHarness {
    company: Sandbox,
    client: IntacctClient,
}

/// A client on `company` with quick retries and the given local cap and limiter.
pub fn client_for(
    company: &Sandbox,
    cap: usize,
    limiter: Option<std::sync::Arc<dyn lf_domain::port::ConcurrencyLimiter>>,
) -> IntacctClient {
    let mut config = crate::loopback::config_for(company);
    config.max_concurrent_requests = cap;
    config.limiter = limiter;
    config.request_timeout = Duration::from_secs(30);
    config.retry = lf_domain::RetryPolicy {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(200),
        max_attempts: 12,
    };
    IntacctClient::new(config).unwrap()
}

impl IntacctHarness for SandboxHarness {
    type Port = IntacctClient;

    async fn new() -> Self {
        let company = Sandbox::start(SandboxConfig {
            seed: DataSet::Demo,
            latency: Duration::from_millis(50),
            ..Default::default()
        })
        .await
        .expect("the Intacct sandbox starts on loopback");
        company.faults().clear();
        let client = client_for(&company, 2, None);
        Self { company, client }
    }

    fn port(&self) -> IntacctClient {
        self.client.clone()
    }

    fn routed_entity(&self) -> EntityId {
        EntityId::parse("US").unwrap()
    }

    async fn warm(&self, port: &IntacctClient) {
        port.session(None).await.unwrap();
        port.session(Some(&self.routed_entity())).await.unwrap();
    }

    fn usage(&self) -> ServiceUsage {
        let u = self.company.usage();
        ServiceUsage {
            requests: u.requests,
            reads: u.reads,
            writes: u.writes,
        }
    }

    fn count_linked(&self, object: &IntacctObject, link: &SalesforceId) -> usize {
        self.company
            .count_where(object.name(), object.link_field(), link.as_str())
    }

    fn lose_answer_after(&self, passing: u32) {
        if passing > 0 {
            // A latency fault answers normally: it only takes the passing requests' draws.
            self.company
                .faults()
                .inject_next(IntacctFault::Latency, passing);
        }
        self.company
            .faults()
            .inject_next(IntacctFault::LostResponse, 1);
    }

    fn document_refs(&self) -> DocumentRefs {
        DocumentRefs {
            customer_id: "C-1001".into(),
            gl_account: "4000".into(),
            item_id: "SUB-PLAT".into(),
            location_id: "US".into(),
            transaction_type: "Sales Order".into(),
        }
    }

    fn posted_revenue(&self) -> Vec<(String, Month, Decimal)> {
        self.company
            .find("REVRECSCHEDULEENTRY", "POSTED", "true")
            .into_iter()
            .map(|e| {
                let date = NaiveDate::parse_from_str(&e["POSTINGDATE"], "%m/%d/%Y").unwrap();
                (
                    e["CUSTOMERID"].clone(),
                    Month {
                        year: date.year(),
                        month: date.month(),
                    },
                    e["AMOUNT"].parse().unwrap(),
                )
            })
            .collect()
    }
}

lf_testkit::intacct_connector_tests!(SandboxHarness);
