//! intacct-webhook: Smart Event HTTP posts, verified by their token and turned into change
//! envelopes.

use chrono::{DateTime, Utc};
use lf_domain::{ChangeEnvelope, CorrelationId, EventOrigin, Flow, IntacctRef, RecordRef, System};
use lf_intacct::{SmartEvent, SmartEventVerifier};

use crate::exchange::{WebhookRequest, WebhookResponse};
use crate::routing::RoutingTable;
use crate::salesforce::{Accepted, Refusal};

/// The queue message for `flow` from a Smart Event: names the record by its entity and key,
/// the way the change poller names it, so both paths give one record one identity.
pub fn smart_event_envelope(
    event: &SmartEvent,
    flow: Flow,
    correlation_id: CorrelationId,
    received_at: DateTime<Utc>,
) -> ChangeEnvelope {
    ChangeEnvelope {
        v: ChangeEnvelope::VERSION,
        flow,
        record: RecordRef::intacct(
            &event.object,
            &IntacctRef::new(event.entity.clone(), event.key.clone()),
        ),
        origin: EventOrigin::SmartEvent {
            event: event.dedupe_key(),
        },
        modified_at: event.when_modified,
        correlation_id,
        received_at,
    }
}

/// The checked Intacct webhook.
#[derive(Debug, Clone)]
pub struct IntacctWebhook {
    verifier: SmartEventVerifier,
}

impl IntacctWebhook {
    pub fn new(verifier: SmartEventVerifier) -> Self {
        Self { verifier }
    }

    /// The body cap.
    pub fn max_body_bytes(&self) -> usize {
        lf_intacct::smart_event::MAX_BODY_BYTES
    }

    pub(crate) fn accept(
        &self,
        req: &WebhookRequest,
        routes: &RoutingTable,
        now: DateTime<Utc>,
        correlation_id: &CorrelationId,
    ) -> Result<Accepted, Refusal> {
        // Intacct's Content-Type for HTTP Post actions is not documented, so a missing one or
        // a plain-text one is accepted; anything naming another format is not our payload.
        match req.media_type().as_deref() {
            None | Some("" | "application/json" | "text/plain") => {}
            Some(_) => {
                return Err(Refusal {
                    status: 415,
                    reason: "Content-Type must be application/json".into(),
                });
            }
        }
        let event = self.verifier.verify(&req.body).map_err(|e| Refusal {
            status: e.http_status(),
            reason: e.to_string(),
        })?;
        let envelopes: Vec<ChangeEnvelope> = routes
            .flows_for(System::Intacct, &event.object)
            .iter()
            .map(|f| smart_event_envelope(&event, *f, correlation_id.clone(), now))
            .collect();
        let count = envelopes.len();
        Ok(Accepted {
            envelopes,
            answer: WebhookResponse::accepted(count),
            kind: "smart-event",
            notifications: 1,
        })
    }
}
