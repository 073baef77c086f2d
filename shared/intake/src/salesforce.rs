//! salesforce-webhook: Outbound Messages and Flow HTTP callouts, verified and turned into
//! change envelopes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lf_domain::{ChangeEnvelope, CorrelationId, EventOrigin, RecordRef, SalesforceId, System};
use lf_salesforce::{OutboundLimits, parse_outbound_message};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::callout;
use crate::exchange::{WebhookRequest, WebhookResponse};
use crate::routing::RoutingTable;

/// The header that may carry the Outbound Message token instead of the path.
pub const TOKEN_HEADER: &str = "x-ledgerforce-token";

/// How the Salesforce webhook verifies what it receives.
#[derive(Debug, Clone)]
pub struct SalesforceWebhookConfig {
    /// Orgs whose messages are accepted (15- or 18-character ids compare equal).
    pub allowed_orgs: Vec<SalesforceId>,
    /// The shared token of Outbound Messages, in the path (`/salesforce/{token}`) or the
    /// [`TOKEN_HEADER`] header.
    pub token: SecretString,
    /// The HMAC key of JSON callouts; `None` refuses callouts.
    pub callout_key: Option<SecretString>,
    /// How far a callout's timestamp may be from now, either way.
    pub replay_window: Duration,
    /// Largest body accepted, checked before the body is parsed.
    pub max_body_bytes: usize,
}

impl SalesforceWebhookConfig {
    /// A config with a 5-minute replay window and a 1 MiB body cap (an Outbound Message of
    /// 100 notifications fits well within it).
    pub fn new(allowed_orgs: Vec<SalesforceId>, token: SecretString) -> Self {
        Self {
            allowed_orgs,
            token,
            callout_key: None,
            replay_window: Duration::from_secs(300),
            max_body_bytes: OutboundLimits::default().max_body_bytes,
        }
    }
}

/// The checked Salesforce webhook.
#[derive(Debug, Clone)]
pub struct SalesforceWebhook {
    config: SalesforceWebhookConfig,
}

/// A request that passed every check: the envelopes to queue and how to answer once queued.
pub(crate) struct Accepted {
    pub envelopes: Vec<ChangeEnvelope>,
    pub answer: WebhookResponse,
    pub kind: &'static str,
    pub notifications: usize,
}

/// A refusal: status, the reason for the sender, and the same for the log.
pub(crate) struct Refusal {
    pub status: u16,
    pub reason: String,
}

impl Refusal {
    fn new(status: u16, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }
}

fn secret_eq(expected: &SecretString, given: &str) -> bool {
    bool::from(expected.expose_secret().as_bytes().ct_eq(given.as_bytes()))
}

impl SalesforceWebhook {
    /// Refuses an empty token, an empty callout key, or no allowed org.
    pub fn new(config: SalesforceWebhookConfig) -> Result<Self, crate::ConfigError> {
        if config.token.expose_secret().is_empty() {
            return Err(crate::ConfigError::Invalid(
                "the Outbound Message token must not be empty".into(),
            ));
        }
        if config
            .callout_key
            .as_ref()
            .is_some_and(|k| k.expose_secret().is_empty())
        {
            return Err(crate::ConfigError::Invalid(
                "the callout HMAC key must not be empty".into(),
            ));
        }
        if config.allowed_orgs.is_empty() {
            return Err(crate::ConfigError::Invalid(
                "at least one Salesforce org id must be allowed".into(),
            ));
        }
        Ok(Self { config })
    }

    /// The body cap.
    pub fn max_body_bytes(&self) -> usize {
        self.config.max_body_bytes
    }

    fn org_allowed(&self, org: &SalesforceId) -> bool {
        self.config.allowed_orgs.iter().any(|o| o == org)
    }

    /// Checks and parses a request; `path_token` is the segment after `/salesforce/`.
    pub(crate) fn accept(
        &self,
        req: &WebhookRequest,
        path_token: Option<&str>,
        routes: &RoutingTable,
        now: DateTime<Utc>,
        correlation_id: &CorrelationId,
    ) -> Result<Accepted, Refusal> {
        if req.body.len() > self.config.max_body_bytes {
            return Err(Refusal::new(
                413,
                format!(
                    "body is {} bytes; the limit is {}",
                    req.body.len(),
                    self.config.max_body_bytes
                ),
            ));
        }
        match req.media_type().as_deref() {
            Some("text/xml" | "application/soap+xml") => {
                self.outbound(req, path_token, routes, now, correlation_id)
            }
            Some("application/json") => self.callout(req, routes, now, correlation_id),
            _ => Err(Refusal::new(
                415,
                "Content-Type must be text/xml (Outbound Message) or application/json (callout)",
            )),
        }
    }

    fn outbound(
        &self,
        req: &WebhookRequest,
        path_token: Option<&str>,
        routes: &RoutingTable,
        now: DateTime<Utc>,
        correlation_id: &CorrelationId,
    ) -> Result<Accepted, Refusal> {
        // The token is checked before the body is parsed: an unauthenticated sender gets no
        // parser behaviour to probe.
        let given = path_token.or_else(|| req.header(TOKEN_HEADER));
        if !given.is_some_and(|t| secret_eq(&self.config.token, t)) {
            return Err(Refusal::new(401, "the webhook token is missing or wrong"));
        }
        let limits = OutboundLimits {
            max_body_bytes: self.config.max_body_bytes,
            ..OutboundLimits::default()
        };
        let message = parse_outbound_message(&req.body, &limits)
            .map_err(|e| Refusal::new(400, e.to_string()))?;
        if !self.org_allowed(&message.organization_id) {
            return Err(Refusal::new(403, "the organization is not allowed"));
        }
        let mut envelopes = Vec::new();
        for n in &message.notifications {
            for flow in routes.flows_for(System::Salesforce, &n.object_type) {
                envelopes.push(n.to_change_envelope(*flow, correlation_id.clone(), now));
            }
        }
        Ok(Accepted {
            envelopes,
            answer: WebhookResponse {
                status: 200,
                content_type: lf_salesforce::outbound::ACK_CONTENT_TYPE,
                body: lf_salesforce::ack_response().to_owned(),
            },
            kind: "outbound-message",
            notifications: message.notifications.len(),
        })
    }

    fn callout(
        &self,
        req: &WebhookRequest,
        routes: &RoutingTable,
        now: DateTime<Utc>,
        correlation_id: &CorrelationId,
    ) -> Result<Accepted, Refusal> {
        let Some(key) = &self.config.callout_key else {
            return Err(Refusal::new(401, "JSON callouts are not enabled"));
        };
        callout::verify(
            key,
            req.header(callout::TIMESTAMP_HEADER),
            req.header(callout::SIGNATURE_HEADER),
            &req.body,
            now,
            self.config.replay_window,
        )
        .map_err(|e| Refusal::new(e.http_status(), e.to_string()))?;
        let parsed = callout::parse(&req.body).map_err(|e| Refusal::new(400, e.to_string()))?;
        if !self.org_allowed(&parsed.org_id) {
            return Err(Refusal::new(403, "the organization is not allowed"));
        }
        let mut envelopes = Vec::new();
        for e in &parsed.events {
            let object = routes
                .object_name(System::Salesforce, &e.object)
                .unwrap_or(&e.object);
            for flow in routes.flows_for(System::Salesforce, &e.object) {
                envelopes.push(ChangeEnvelope {
                    v: ChangeEnvelope::VERSION,
                    flow: *flow,
                    record: RecordRef::salesforce(object, &e.id),
                    origin: EventOrigin::FlowCallout {
                        event_id: e.event_id.clone(),
                    },
                    modified_at: e.modified_at,
                    correlation_id: correlation_id.clone(),
                    received_at: now,
                });
            }
        }
        let count = envelopes.len();
        Ok(Accepted {
            envelopes,
            answer: WebhookResponse::accepted(count),
            kind: "flow-callout",
            notifications: parsed.events.len(),
        })
    }
}
