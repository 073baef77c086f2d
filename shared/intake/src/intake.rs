//! The webhook endpoints behind one handler: pick the endpoint by path, check the request,
//! queue its envelopes, answer.

use std::sync::Arc;

use http::Method;
use lf_domain::port::Queue;
use lf_domain::{Clock, CorrelationId};
use lf_intacct::SmartEventVerifier;

use crate::exchange::{WebhookRequest, WebhookResponse};
use crate::intacct::IntacctWebhook;
use crate::routing::{ConfigError, FlowQueues, RoutingTable};
use crate::salesforce::{Accepted, Refusal, SalesforceWebhook, SalesforceWebhookConfig};

/// What the intake serves.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    pub routes: RoutingTable,
    /// `None` answers 404 on `/salesforce`.
    pub salesforce: Option<SalesforceWebhookConfig>,
    /// `None` answers 404 on `/intacct`.
    pub intacct: Option<SmartEventVerifier>,
}

/// The webhook handler. Cheap to clone (shared state).
#[derive(Debug)]
pub struct Intake<Q> {
    inner: Arc<Inner<Q>>,
}

impl<Q> Clone for Intake<Q> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

#[derive(Debug)]
struct Inner<Q> {
    routes: RoutingTable,
    queues: FlowQueues<Q>,
    salesforce: Option<SalesforceWebhook>,
    intacct: Option<IntacctWebhook>,
    clock: Arc<dyn Clock>,
}

enum Endpoint<'a> {
    Salesforce { token: Option<&'a str> },
    Intacct,
}

impl<Q: Queue> Intake<Q> {
    /// Checks the configuration whole: every route has a queue, secrets are not empty.
    pub fn new(
        config: IntakeConfig,
        queues: FlowQueues<Q>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        queues.check(&config.routes)?;
        let salesforce = config.salesforce.map(SalesforceWebhook::new).transpose()?;
        Ok(Self {
            inner: Arc::new(Inner {
                routes: config.routes,
                queues,
                salesforce,
                intacct: config.intacct.map(IntacctWebhook::new),
                clock,
            }),
        })
    }

    /// The largest body any endpoint accepts: a server reads no more than this.
    pub fn max_body_bytes(&self) -> usize {
        let sf = self
            .inner
            .salesforce
            .as_ref()
            .map_or(0, |s| s.max_body_bytes());
        let ia = self
            .inner
            .intacct
            .as_ref()
            .map_or(0, |i| i.max_body_bytes());
        sf.max(ia)
    }

    /// Serves `POST /salesforce`, `POST /salesforce/{token}` and `POST /intacct`.
    pub async fn handle(&self, req: WebhookRequest) -> WebhookResponse {
        let path = req.path.trim_end_matches('/').to_owned();
        let endpoint = match path.strip_prefix("/salesforce") {
            Some("") => Some(Endpoint::Salesforce { token: None }),
            Some(rest) => rest
                .strip_prefix('/')
                .filter(|t| !t.is_empty() && !t.contains('/'))
                .map(|t| Endpoint::Salesforce { token: Some(t) }),
            None if path == "/intacct" => Some(Endpoint::Intacct),
            None => None,
        };
        match endpoint {
            Some(Endpoint::Salesforce { token }) => self.salesforce(&req, token).await,
            Some(Endpoint::Intacct) => self.intacct(&req).await,
            None => WebhookResponse::refused(404, "no such endpoint"),
        }
    }

    /// The salesforce-webhook function: `path_token` is the token segment of the path, if any.
    pub async fn salesforce(
        &self,
        req: &WebhookRequest,
        path_token: Option<&str>,
    ) -> WebhookResponse {
        let Some(sf) = &self.inner.salesforce else {
            return WebhookResponse::refused(404, "the Salesforce webhook is not configured");
        };
        self.serve("salesforce-webhook", req, |now, corr| {
            sf.accept(req, path_token, &self.inner.routes, now, corr)
        })
        .await
    }

    /// The intacct-webhook function.
    pub async fn intacct(&self, req: &WebhookRequest) -> WebhookResponse {
        let Some(ia) = &self.inner.intacct else {
            return WebhookResponse::refused(404, "the Intacct webhook is not configured");
        };
        self.serve("intacct-webhook", req, |now, corr| {
            ia.accept(req, &self.inner.routes, now, corr)
        })
        .await
    }

    async fn serve(
        &self,
        endpoint: &'static str,
        req: &WebhookRequest,
        check: impl FnOnce(chrono::DateTime<chrono::Utc>, &CorrelationId) -> Result<Accepted, Refusal>,
    ) -> WebhookResponse {
        if req.method != Method::POST {
            tracing::warn!(endpoint, method = %req.method, status = 405, "webhook refused: not a POST");
            return WebhookResponse::refused(405, "only POST is accepted");
        }
        let correlation_id = CorrelationId::new_random();
        let now = self.inner.clock.now();
        let accepted = match check(now, &correlation_id) {
            Ok(a) => a,
            Err(r) => {
                // The reason names what was wrong, never a secret or the body.
                tracing::warn!(
                    endpoint,
                    correlation_id = %correlation_id,
                    status = r.status,
                    reason = %r.reason,
                    "webhook refused"
                );
                return WebhookResponse::refused(r.status, &r.reason);
            }
        };
        if let Err(e) = self.inner.queues.enqueue(&accepted.envelopes).await {
            tracing::error!(
                endpoint,
                correlation_id = %correlation_id,
                flow = %e.flow,
                error = %e.source,
                "webhook could not queue; the sender will retry"
            );
            return WebhookResponse::refused(503, "the change could not be queued; retry later");
        }
        tracing::info!(
            endpoint,
            kind = accepted.kind,
            correlation_id = %correlation_id,
            notifications = accepted.notifications,
            queued = accepted.envelopes.len(),
            "webhook accepted"
        );
        accepted.answer
    }
}
