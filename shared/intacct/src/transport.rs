//! One HTTP exchange with the gateway, under the process's concurrency cap and, when one is
//! configured, a lease of the company-wide limit; with backoff on throttling and server errors
//! through the one retry executor ([`lf_domain::retry::run`]).

use std::sync::Arc;
use std::time::Duration;

use lf_domain::port::ConcurrencyLimiter;
use lf_domain::{Classify, Deadline, ErrorClass, RetryPolicy};
use reqwest::{StatusCode, Url, header};
use tokio::sync::Semaphore;

use crate::envelope::RequestBody;
use crate::error::IntacctError;
use crate::metrics::Counters;
use crate::response::{Response, parse_response};

const USER_AGENT: &str = concat!("ledgerforce-intacct/", env!("CARGO_PKG_VERSION"));

/// How much longer than the request timeout a company-wide lease is held: a lease must outlive
/// the exchange it covers, or another instance could start a request while ours still runs.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    permits: Semaphore,
    limiter: Option<Arc<dyn ConcurrencyLimiter>>,
    lease_hold: Duration,
    retry: RetryPolicy,
    max_response_bytes: usize,
    counters: Arc<Counters>,
}

/// What the transport is built from (the relevant part of the client configuration).
#[derive(Debug)]
pub(crate) struct TransportConfig {
    pub timeout: Duration,
    pub max_concurrent: usize,
    pub limiter: Option<Arc<dyn ConcurrencyLimiter>>,
    pub retry: RetryPolicy,
    pub max_response_bytes: usize,
}

impl Transport {
    pub fn new(config: TransportConfig, counters: Arc<Counters>) -> Result<Self, IntacctError> {
        let timeout = config.timeout;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(30)))
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| IntacctError::config(format!("HTTP client could not be built: {e}")))?;
        Ok(Self {
            http,
            permits: Semaphore::new(config.max_concurrent),
            limiter: config.limiter,
            lease_hold: timeout.saturating_add(LEASE_MARGIN),
            retry: config.retry,
            max_response_bytes: config.max_response_bytes,
            counters,
        })
    }

    /// The backoff this transport retries with (also what idempotent creates use).
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Posts `body` until it gets an answer worth returning.
    ///
    /// Throttling (429, GW-0010) and failures that happened before the request was sent are
    /// always retried: nothing ran. Failures after sending (timeouts, 5xx, a cut-off body) are
    /// retried only when `replay_safe` — a read, or a write the caller protects otherwise —
    /// and never on 524, where the gateway may still be applying the request.
    pub async fn post(
        &self,
        url: &Url,
        body: &RequestBody,
        replay_safe: bool,
        deadline: Option<Deadline>,
    ) -> Result<Response, IntacctError> {
        let judge = |err: &IntacctError, _attempt: u32| {
            let class = err.class();
            if matches!(class, ErrorClass::Throttled { .. }) {
                Counters::bump(&self.counters.throttled);
            }
            worth_retrying(err, replay_safe).then_some(class)
        };
        lf_domain::retry::run(&self.retry, deadline, "intacct request", judge, |attempt| {
            async move {
                if attempt > 1 {
                    Counters::bump(&self.counters.retries);
                }
                let resp = self.exchange(url, body, deadline).await?;
                match resp.control_error() {
                    // A control-layer refusal means nothing ran; only throttling and
                    // transient refusals are worth another try.
                    Some(e) if e.class().is_retryable() && e.class() != ErrorClass::AuthExpired => {
                        Err(e)
                    }
                    _ => Ok(resp),
                }
            }
        })
        .await
    }

    /// One attempt: a local permit, then a company-wide lease, held for the exchange only.
    /// The local permit comes first so a process never holds a shared lease while it waits
    /// for itself. A caller dropped mid-exchange leaves its lease to expire after `lease_hold`.
    async fn exchange(
        &self,
        url: &Url,
        body: &RequestBody,
        deadline: Option<Deadline>,
    ) -> Result<Response, IntacctError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| IntacctError::config("the client was shut down"))?;
        let lease = match &self.limiter {
            None => None,
            Some(limiter) => {
                Counters::bump(&self.counters.limiter_calls);
                // Waiting for a lease is bounded like the request itself would be.
                let wait_until = Deadline::after(self.lease_hold).min_with(deadline);
                let lease = limiter
                    .acquire(self.lease_hold, Some(wait_until))
                    .await
                    .map_err(|source| IntacctError::Limiter { source })?;
                Some((limiter, lease))
            }
        };
        Counters::bump(&self.counters.requests);
        let outcome = self.post_once(url, body).await;
        if let Some((limiter, lease)) = lease {
            Counters::bump(&self.counters.limiter_calls);
            if let Err(e) = limiter.release(&lease).await {
                // The lease frees itself at its expiry; the answer we have is still good.
                tracing::warn!(slot = lease.slot, error = %e, "intacct lease release failed");
            }
        }
        outcome
    }

    async fn post_once(&self, url: &Url, body: &RequestBody) -> Result<Response, IntacctError> {
        let sent = self
            .http
            .post(url.clone())
            .header(header::CONTENT_TYPE, "application/xml")
            .body(body.bytes().to_vec())
            .send()
            .await
            .map_err(|e| transport_error("sending the request", e))?;
        let status = sent.status();
        let retry_after = sent
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| lf_domain::retry_after(v, chrono::Utc::now()));
        let bytes = self.read_body(sent).await?;
        if status == StatusCode::OK {
            return parse_response(&bytes);
        }
        if status.is_server_error() {
            Counters::bump(&self.counters.server_errors);
        }
        // The gateway sends XML errors with some statuses (401 XMLGW_JPP0002, 429 GW-0010);
        // other bodies (HTML from a proxy) carry nothing we can use.
        let errors = parse_response(&bytes)
            .map(|r| {
                let mut errors = r.control_errors;
                errors.extend(r.authentication_errors);
                errors
            })
            .unwrap_or_default();
        Err(IntacctError::HttpStatus {
            status: status.as_u16(),
            retry_after,
            errors,
        })
    }

    async fn read_body(&self, mut resp: reqwest::Response) -> Result<Vec<u8>, IntacctError> {
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| transport_error("reading the response", e))?
        {
            if body.len() + chunk.len() > self.max_response_bytes {
                return Err(IntacctError::protocol(format!(
                    "response is larger than the {} byte cap",
                    self.max_response_bytes
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn transport_error(context: &str, e: reqwest::Error) -> IntacctError {
    // A refused connection never reached the gateway; anything later may have.
    let maybe_applied = !e.is_connect();
    let context = if e.is_timeout() {
        format!("{context}: timed out")
    } else {
        context.to_owned()
    };
    IntacctError::Transport {
        context,
        maybe_applied,
        source: Box::new(e),
    }
}

fn worth_retrying(err: &IntacctError, replay_safe: bool) -> bool {
    match err.class() {
        ErrorClass::Throttled { .. } => true,
        ErrorClass::Permanent | ErrorClass::AuthExpired => false,
        ErrorClass::Transient => match err {
            // "CDN cut connection but system still processing request": never resend.
            IntacctError::HttpStatus { status: 524, .. } => false,
            IntacctError::Control { .. } => true,
            e if e.maybe_applied() => replay_safe,
            _ => true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> IntacctError {
        IntacctError::HttpStatus {
            status: code,
            retry_after: None,
            errors: vec![],
        }
    }

    #[test]
    fn retry_rules() {
        assert!(worth_retrying(&status(429), false));
        assert!(worth_retrying(&status(502), true));
        assert!(!worth_retrying(&status(502), false), "a write may have run");
        assert!(!worth_retrying(&status(524), true), "524 is never resent");
        assert!(!worth_retrying(&status(400), true));
        assert!(
            !worth_retrying(&status(401), true),
            "auth is the session's job"
        );
        let refused = IntacctError::Transport {
            context: "x".into(),
            maybe_applied: false,
            source: Box::new(std::io::Error::other("refused")),
        };
        assert!(worth_retrying(&refused, false));
        let gw = IntacctError::Control {
            errors: vec![crate::error::ErrorDetail {
                errorno: "GW-0010".into(),
                ..Default::default()
            }],
        };
        assert!(worth_retrying(&gw, false));
    }
}
