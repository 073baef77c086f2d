//! Which flows hear about which objects, the queue of each flow, and putting envelopes on them.

use std::collections::{BTreeMap, BTreeSet};

use lf_domain::port::{OutgoingMessage, Queue};
use lf_domain::{ChangeEnvelope, Flow, PortError, System};

/// Object → flows, per system. Object names compare case-insensitively (Salesforce API names
/// are case-insensitive; Intacct writes them upper case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutingTable {
    /// `(system, lower-case object)` → (object as configured, flows in order).
    routes: BTreeMap<(System, String), (String, Vec<Flow>)>,
}

impl RoutingTable {
    /// A table with no routes.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The routes of DESIGN.md §1 for every flow: Opportunity → opportunity-won; Account →
    /// account-onboarding and account-sync; Contact → account-sync; Intacct ARINVOICE and
    /// ARPYMT → invoice-status and credit-alerts; CUSTOMER → account-sync and credit-alerts;
    /// CONTACT → account-sync. Keep only the flows a deployment runs with [`Self::only`].
    pub fn standard() -> Self {
        use Flow::*;
        Self::empty()
            .route(System::Salesforce, "Opportunity", OpportunityWon)
            .route(System::Salesforce, "Account", AccountOnboarding)
            .route(System::Salesforce, "Account", AccountSync)
            .route(System::Salesforce, "Contact", AccountSync)
            .route(System::Intacct, "ARINVOICE", InvoiceStatus)
            .route(System::Intacct, "ARINVOICE", CreditAlerts)
            .route(System::Intacct, "ARPYMT", InvoiceStatus)
            .route(System::Intacct, "ARPYMT", CreditAlerts)
            .route(System::Intacct, "CUSTOMER", AccountSync)
            .route(System::Intacct, "CUSTOMER", CreditAlerts)
            .route(System::Intacct, "CONTACT", AccountSync)
    }

    /// Adds a route (a repeated one is kept once).
    pub fn route(mut self, system: System, object: &str, flow: Flow) -> Self {
        let entry = self
            .routes
            .entry((system, object.to_ascii_lowercase()))
            .or_insert_with(|| (object.to_owned(), Vec::new()));
        if !entry.1.contains(&flow) {
            entry.1.push(flow);
        }
        self
    }

    /// Keeps only routes to `flows`; an object left with no flow is dropped.
    pub fn only(mut self, flows: &[Flow]) -> Self {
        for (_, routed) in self.routes.values_mut() {
            routed.retain(|f| flows.contains(f));
        }
        self.routes.retain(|_, (_, routed)| !routed.is_empty());
        self
    }

    /// The flows an object's changes go to; empty when none.
    pub fn flows_for(&self, system: System, object: &str) -> &[Flow] {
        self.routes
            .get(&(system, object.to_ascii_lowercase()))
            .map(|(_, f)| f.as_slice())
            .unwrap_or_default()
    }

    /// A routed object's name as configured (`opportunity` → `Opportunity`), so every
    /// path names one record the same way whatever case its sender used; `None` when the
    /// object is not routed.
    pub fn object_name(&self, system: System, object: &str) -> Option<&str> {
        self.routes
            .get(&(system, object.to_ascii_lowercase()))
            .map(|(name, _)| name.as_str())
    }

    /// Every routed object of `system`, as configured, with its flows.
    pub fn objects(&self, system: System) -> impl Iterator<Item = (&str, &[Flow])> {
        self.routes
            .iter()
            .filter(move |((s, _), _)| *s == system)
            .map(|(_, (name, flows))| (name.as_str(), flows.as_slice()))
    }

    /// Every flow some route names.
    pub fn flows(&self) -> BTreeSet<Flow> {
        self.routes
            .values()
            .flat_map(|(_, f)| f.iter().copied())
            .collect()
    }
}

/// A configuration that cannot serve: found when the intake or poller is built, never at
/// request time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{system} {object} is routed to {flow}, which has no queue")]
    NoQueue {
        system: System,
        object: String,
        flow: Flow,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The queue of each flow.
#[derive(Debug, Clone)]
pub struct FlowQueues<Q> {
    queues: BTreeMap<Flow, Q>,
}

impl<Q> Default for FlowQueues<Q> {
    fn default() -> Self {
        Self {
            queues: BTreeMap::new(),
        }
    }
}

impl<Q: Queue> FlowQueues<Q> {
    /// No queues yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the queue of `flow`.
    pub fn with(mut self, flow: Flow, queue: Q) -> Self {
        self.queues.insert(flow, queue);
        self
    }

    /// The queue of `flow`.
    pub fn get(&self, flow: Flow) -> Option<&Q> {
        self.queues.get(&flow)
    }

    /// Refuses a table that routes to a flow without a queue.
    pub fn check(&self, routes: &RoutingTable) -> Result<(), ConfigError> {
        for ((system, _), (object, flows)) in &routes.routes {
            if let Some(flow) = flows.iter().find(|f| !self.queues.contains_key(f)) {
                return Err(ConfigError::NoQueue {
                    system: *system,
                    object: object.clone(),
                    flow: *flow,
                });
            }
        }
        Ok(())
    }

    /// Sends every envelope to its flow's queue, one batched send per flow. `Ok` means all
    /// are durably queued; on `Err` some may be, and sending all again is safe (consumers
    /// tolerate duplicates).
    pub(crate) async fn enqueue(&self, envelopes: &[ChangeEnvelope]) -> Result<(), EnqueueError> {
        let mut by_flow: BTreeMap<Flow, Vec<OutgoingMessage>> = BTreeMap::new();
        for envelope in envelopes {
            let body = serde_json::to_string(envelope).map_err(|e| EnqueueError {
                flow: envelope.flow,
                source: PortError::invalid(format!("envelope does not serialize: {e}")),
            })?;
            by_flow
                .entry(envelope.flow)
                .or_default()
                .push(OutgoingMessage::new(body));
        }
        for (flow, messages) in by_flow {
            let queue = self.queues.get(&flow).ok_or_else(|| EnqueueError {
                flow,
                source: PortError::invalid(format!("no queue for {flow}")),
            })?;
            queue
                .send_batch(&messages)
                .await
                .map_err(|source| EnqueueError { flow, source })?;
        }
        Ok(())
    }
}

/// Envelopes could not be queued.
#[derive(Debug, thiserror::Error)]
#[error("queueing for {flow} failed: {source}")]
pub(crate) struct EnqueueError {
    pub flow: Flow,
    #[source]
    pub source: PortError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_routes_narrow_to_the_deployed_flows() {
        let t = RoutingTable::standard();
        assert_eq!(
            t.flows_for(System::Salesforce, "account"),
            &[Flow::AccountOnboarding, Flow::AccountSync]
        );
        assert_eq!(
            t.flows_for(System::Intacct, "arpymt"),
            &[Flow::InvoiceStatus, Flow::CreditAlerts]
        );
        let now = t.only(&[Flow::OpportunityWon, Flow::AccountOnboarding]);
        assert_eq!(
            now.flows_for(System::Salesforce, "Account"),
            &[Flow::AccountOnboarding]
        );
        assert!(now.flows_for(System::Salesforce, "Contact").is_empty());
        assert_eq!(now.objects(System::Intacct).count(), 0);
        assert_eq!(
            now.flows(),
            BTreeSet::from([Flow::OpportunityWon, Flow::AccountOnboarding])
        );
    }

    #[test]
    fn routes_repeat_once_and_keep_their_configured_spelling() {
        let t = RoutingTable::empty()
            .route(System::Salesforce, "Opportunity", Flow::OpportunityWon)
            .route(System::Salesforce, "OPPORTUNITY", Flow::OpportunityWon);
        assert_eq!(
            t.flows_for(System::Salesforce, "opportunity"),
            &[Flow::OpportunityWon]
        );
        // The same name on the other side is another route.
        assert!(t.flows_for(System::Intacct, "Opportunity").is_empty());
        assert_eq!(
            t.object_name(System::Salesforce, "opportunity"),
            Some("Opportunity")
        );
        assert_eq!(t.object_name(System::Salesforce, "Case"), None);
        let objects: Vec<_> = t.objects(System::Salesforce).collect();
        assert_eq!(objects, vec![("Opportunity", &[Flow::OpportunityWon][..])]);
    }

    #[derive(Debug, Clone)]
    struct NoQueue;

    impl Queue for NoQueue {
        async fn send_batch(&self, _: &[OutgoingMessage]) -> Result<(), PortError> {
            Err(PortError::invalid("not a real queue"))
        }
        async fn receive(
            &self,
            _: u32,
            _: std::time::Duration,
            _: std::time::Duration,
        ) -> Result<Vec<lf_domain::port::ReceivedMessage>, PortError> {
            Ok(Vec::new())
        }
        async fn delete(&self, _: &lf_domain::port::ReceiptHandle) -> Result<(), PortError> {
            Ok(())
        }
        async fn change_visibility(
            &self,
            _: &lf_domain::port::ReceiptHandle,
            _: std::time::Duration,
        ) -> Result<(), PortError> {
            Ok(())
        }
        async fn depth(&self) -> Result<lf_domain::port::QueueDepth, PortError> {
            Ok(Default::default())
        }
    }

    #[test]
    fn a_route_to_a_flow_without_a_queue_is_refused_at_build_time() {
        let routes = RoutingTable::standard().only(&[Flow::OpportunityWon, Flow::AccountSync]);
        let partial = FlowQueues::new().with(Flow::OpportunityWon, NoQueue);
        let err = partial.check(&routes).unwrap_err();
        assert_eq!(
            err,
            ConfigError::NoQueue {
                system: System::Salesforce,
                object: "Account".into(),
                flow: Flow::AccountSync,
            }
        );
        assert!(err.to_string().contains("no queue"), "{err}");
        let full = partial.with(Flow::AccountSync, NoQueue);
        assert_eq!(full.check(&routes), Ok(()));
    }
}
