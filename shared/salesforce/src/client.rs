//! The client: one HTTP connection pool, one session cache and one usage tracker, shared by
//! every clone. [`SalesforceClient::execute`] sends an [`ApiRequest`] with the connector's
//! rules: limit pacing, refresh-once-and-retry-once on an expired session, and backoff with
//! full jitter for transient and throttled failures (the domain's one retry executor), bounded
//! by an optional [`Deadline`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use lf_domain::{Classify, Deadline, ErrorClass, retry};
use secrecy::ExposeSecret;
use url::Url;

use crate::auth::{Issued, Session, TokenCache, TokenRequest};
use crate::config::{ApiVersion, SalesforceConfig};
use crate::error::{ApiFailure, SalesforceError};
use crate::limits::{Admission, ApiUsage, Priority, UsageTracker};
use crate::request::{ApiRequest, ApiResponse, RequestBody};

/// A Salesforce REST client. Cheap to clone; clones share the session and the usage tracker.
#[derive(Debug, Clone)]
pub struct SalesforceClient {
    inner: Arc<Inner>,
    priority: Priority,
    deadline: Option<Deadline>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: SalesforceConfig,
    tokens: TokenCache,
    usage: UsageTracker,
    requests_sent: AtomicU64,
    token_requests: AtomicU64,
}

impl SalesforceClient {
    /// A client for `config`. Nothing is sent until the first request.
    pub fn new(config: SalesforceConfig) -> Result<Self, SalesforceError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .build()
            .map_err(|source| SalesforceError::Transport {
                what: "building the HTTP client".into(),
                source,
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                tokens: TokenCache::new(config.session_max_age),
                config,
                usage: UsageTracker::default(),
                requests_sent: AtomicU64::new(0),
                token_requests: AtomicU64::new(0),
            }),
            priority: Priority::Normal,
            deadline: None,
        })
    }

    /// The same client with requests ranked urgent: they are not held back by the reserve.
    pub fn urgent(&self) -> Self {
        Self {
            priority: Priority::Urgent,
            ..self.clone()
        }
    }

    /// The same client with every retry and wait bounded by `deadline` (a Lambda's end).
    pub fn with_deadline(&self, deadline: Deadline) -> Self {
        Self {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    pub fn config(&self) -> &SalesforceConfig {
        &self.inner.config
    }

    pub fn api_version(&self) -> ApiVersion {
        self.inner.config.api_version
    }

    /// The usage reported by the latest response's `Sforce-Limit-Info`.
    pub fn api_usage(&self) -> Option<ApiUsage> {
        self.inner.usage.latest()
    }

    /// REST requests this client (and its clones) put on the wire, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.inner.requests_sent.load(Ordering::Relaxed)
    }

    /// Token requests made so far.
    pub fn token_requests(&self) -> u64 {
        self.inner.token_requests.load(Ordering::Relaxed)
    }

    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.remaining())
    }

    /// Makes sure a session exists (authenticates now rather than on the first call).
    pub async fn connect(&self) -> Result<(), SalesforceError> {
        self.session().await.map(|_| ())
    }

    async fn session(&self) -> Result<Arc<Session>, SalesforceError> {
        self.inner.tokens.session(|| self.issue()).await
    }

    async fn issue(&self) -> Result<Issued, SalesforceError> {
        let config = &self.inner.config;
        let request = TokenRequest::for_config(config, Utc::now())?;
        self.inner.token_requests.fetch_add(1, Ordering::Relaxed);
        let token = request.send(&self.inner.http).await?;
        let instance_url = match &config.instance_url {
            Some(url) => url.clone(),
            None => Url::parse(&token.instance_url).map_err(|e| {
                SalesforceError::UnexpectedResponse {
                    what: "token request".into(),
                    detail: format!("instance_url {:?}: {e}", token.instance_url),
                }
            })?,
        };
        tracing::debug!(instance = %instance_url, "salesforce session issued");
        Ok(Issued {
            access_token: token.access_token,
            instance_url,
        })
    }

    /// Sends a request under the connector's rules and returns the response (2xx or 300).
    ///
    /// Retries go through the one executor, [`lf_domain::retry::run`]. An expired session is
    /// refreshed once and the request replayed once inside the attempt; a request that is not
    /// idempotent is retried only when the failure proves it was never applied; the limit
    /// reserve and the deadline end the call at once.
    pub async fn execute(&self, request: &ApiRequest) -> Result<ApiResponse, SalesforceError> {
        let refreshed = AtomicBool::new(false);
        let judge = |err: &SalesforceError, _attempt: u32| match err {
            SalesforceError::DailyReserve { .. } | SalesforceError::DeadlineExceeded { .. } => None,
            _ if err.class() == ErrorClass::AuthExpired => None,
            _ if !request.is_idempotent() && !err.proves_not_applied() => None,
            _ => Some(err.class()),
        };
        retry::run(
            &self.inner.config.retry,
            self.deadline,
            request.what(),
            judge,
            |_attempt| self.attempt(request, &refreshed),
        )
        .await
    }

    /// One attempt: the deadline and limit checks, then the request, with the one session
    /// refresh a call may use.
    async fn attempt(
        &self,
        request: &ApiRequest,
        refreshed: &AtomicBool,
    ) -> Result<ApiResponse, SalesforceError> {
        if self.deadline.is_some_and(|d| d.is_past()) {
            return Err(SalesforceError::DeadlineExceeded {
                what: request.what().to_owned(),
            });
        }
        self.admit().await?;
        let session = self.session().await?;
        match self.send_once(&session, request).await {
            Err(err)
                if err.class() == ErrorClass::AuthExpired
                    && !refreshed.swap(true, Ordering::Relaxed) =>
            {
                // Refresh once and replay once; a second 401 is reported.
                tracing::info!(
                    what = request.what(),
                    "salesforce session expired; refreshing"
                );
                let session = self
                    .inner
                    .tokens
                    .refresh_after(&session, || self.issue())
                    .await?;
                self.send_once(&session, request).await
            }
            other => other,
        }
    }

    /// Applies the limit policy before a request.
    async fn admit(&self) -> Result<(), SalesforceError> {
        let policy = &self.inner.config.limits;
        let usage = self
            .inner
            .usage
            .observed_within(Some(policy.refused_retry_after));
        match policy.admit(usage.as_ref(), self.priority) {
            Admission::Go => Ok(()),
            Admission::Pause(pause) => {
                if self.remaining().is_some_and(|left| pause >= left) {
                    return Err(SalesforceError::DailyReserve {
                        used: usage.as_ref().map_or(0, |u| u.used),
                        max: usage.as_ref().map_or(0, |u| u.max),
                        retry_after: pause,
                    });
                }
                tokio::time::sleep(pause).await;
                Ok(())
            }
            Admission::Refuse { used, max } => Err(SalesforceError::DailyReserve {
                used,
                max,
                retry_after: policy.refused_retry_after,
            }),
        }
    }

    async fn send_once(
        &self,
        session: &Session,
        request: &ApiRequest,
    ) -> Result<ApiResponse, SalesforceError> {
        let url = request_url(&session.instance_url, request)?;
        let mut builder = self
            .inner
            .http
            .request(request.method().to_reqwest(), url)
            .bearer_auth(session.access_token.expose_secret());
        if let Some(left) = self.remaining() {
            builder = builder.timeout(left.min(self.inner.config.request_timeout));
        }
        if let Some(size) = self.inner.config.query_batch_size {
            builder = builder.header("Sforce-Query-Options", format!("batchSize={size}"));
        }
        for (name, value) in request.headers() {
            builder = builder.header(name, value);
        }
        builder = match request.body() {
            RequestBody::Empty => builder,
            RequestBody::Json(value) => builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(value.to_string()),
            RequestBody::Csv(text) => builder
                .header(reqwest::header::CONTENT_TYPE, "text/csv")
                .body(text.clone()),
        };
        tracing::debug!(
            method = request.method().as_str(),
            path = request.path(),
            "salesforce request"
        );
        self.inner.requests_sent.fetch_add(1, Ordering::Relaxed);
        let transport = |source| SalesforceError::Transport {
            what: request.what().to_owned(),
            source,
        };
        let response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if let Some(usage) = headers
            .get("sforce-limit-info")
            .and_then(|v| v.to_str().ok())
            .and_then(ApiUsage::parse_header)
        {
            self.inner.usage.record(usage);
        }
        let body = response.bytes().await.map_err(transport)?;
        if status >= 400 {
            let retry_after = headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| lf_domain::retry_after(v, Utc::now()));
            return Err(SalesforceError::Api {
                what: request.what().to_owned(),
                failure: ApiFailure::from_body(status, &body, retry_after),
            });
        }
        Ok(ApiResponse {
            status,
            headers,
            body,
        })
    }
}

/// The full URL of a request on the instance.
fn request_url(instance: &Url, request: &ApiRequest) -> Result<Url, SalesforceError> {
    let base = instance.as_str().trim_end_matches('/');
    let full = format!("{base}{}", request.uri());
    Url::parse(&full)
        .map_err(|e| SalesforceError::InvalidInput(format!("request URL {full:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::HttpMethod;

    #[test]
    fn urls_join_the_instance_and_the_encoded_uri() {
        let instance = Url::parse("https://acme.my.salesforce.com/").unwrap();
        let r = ApiRequest::new(
            HttpMethod::Patch,
            "/services/data/v62.0/sobjects/Account/Ext__c/A%2FB",
            "upsert",
        )
        .with_query("updateOnly", "true");
        assert_eq!(
            request_url(&instance, &r).unwrap().as_str(),
            "https://acme.my.salesforce.com/services/data/v62.0/sobjects/Account/Ext__c/A%2FB?updateOnly=true"
        );
        // An emulator on loopback with a path prefix keeps it.
        let instance = Url::parse("http://127.0.0.1:9000/org1").unwrap();
        assert_eq!(
            request_url(&instance, &r).unwrap().as_str(),
            "http://127.0.0.1:9000/org1/services/data/v62.0/sobjects/Account/Ext__c/A%2FB?updateOnly=true"
        );
    }
}
