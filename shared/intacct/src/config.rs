//! Typed configuration of one Intacct company connection. Read once by the binary that wires
//! the connector (from `INTACCT_ENDPOINT_URL` and the secret store); this crate never reads the
//! environment.

use std::sync::Arc;
use std::time::Duration;

use lf_domain::RetryPolicy;
use lf_domain::port::ConcurrencyLimiter;
use reqwest::Url;
use secrecy::SecretString;

use crate::error::IntacctError;

/// The production XML gateway.
pub const DEFAULT_ENDPOINT_URL: &str = "https://api.intacct.com/ia/xml/xmlgw.phtml";

/// Web Services sender and company user credentials. Passwords are secrets: their `Debug` is
/// redacted and they are exposed only while a request body is written.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Web Services sender id (case-sensitive).
    pub sender_id: String,
    pub sender_password: SecretString,
    pub company_id: String,
    pub user_id: String,
    pub user_password: SecretString,
}

/// Everything the client needs to talk to one company.
#[derive(Debug, Clone)]
pub struct IntacctConfig {
    /// Gateway endpoint (`INTACCT_ENDPOINT_URL`); a session may move calls to the endpoint
    /// `getAPISession` returns.
    pub endpoint_url: String,
    pub credentials: Credentials,
    /// Requests in flight at once from this process (Intacct allows 1–2 per company on
    /// standard tiers). The local cap, kept even with a `limiter`.
    pub max_concurrent_requests: usize,
    /// The company-wide limit shared by every function and instance: when set, each HTTP
    /// exchange holds one of its leases for its duration (hold = `request_timeout` + a margin),
    /// released as soon as the answer is read.
    pub limiter: Option<Arc<dyn ConcurrencyLimiter>>,
    /// Timeout of one HTTP exchange.
    pub request_timeout: Duration,
    /// Backoff on 429/GW-0010 and 5xx.
    pub retry: RetryPolicy,
    /// Responses larger than this are refused (a cap, not an expectation).
    pub max_response_bytes: usize,
    /// A session this close to its timeout is renewed before use.
    pub session_refresh_margin: Duration,
}

impl IntacctConfig {
    /// A configuration with the defaults: 2 concurrent requests, no company-wide limiter,
    /// 300 s timeout (the SDK's),
    /// the domain's retry policy, 64 MiB response cap, 60 s session margin.
    pub fn new(endpoint_url: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            endpoint_url: endpoint_url.into(),
            credentials,
            max_concurrent_requests: 2,
            limiter: None,
            request_timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            max_response_bytes: 64 * 1024 * 1024,
            session_refresh_margin: Duration::from_secs(60),
        }
    }

    /// Checks the settings and parses the endpoint.
    pub(crate) fn validate(&self) -> Result<Url, IntacctError> {
        let url = Url::parse(self.endpoint_url.trim()).map_err(|e| {
            IntacctError::config(format!(
                "endpoint URL {:?} is not a URL: {e}",
                self.endpoint_url
            ))
        })?;
        if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
            return Err(IntacctError::config(format!(
                "endpoint URL {:?} must be http(s) with a host",
                self.endpoint_url
            )));
        }
        if self.max_concurrent_requests == 0 {
            return Err(IntacctError::config(
                "max_concurrent_requests must be at least 1",
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(IntacctError::config("request_timeout must be positive"));
        }
        let c = &self.credentials;
        for (name, value) in [
            ("sender id", &c.sender_id),
            ("company id", &c.company_id),
            ("user id", &c.user_id),
        ] {
            if value.trim().is_empty() {
                return Err(IntacctError::config(format!("{name} is empty")));
            }
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            sender_id: "sender".into(),
            sender_password: SecretString::from("sender-pw"),
            company_id: "acme".into(),
            user_id: "api".into(),
            user_password: SecretString::from("user-pw"),
        }
    }

    #[test]
    fn validates_endpoint_and_limits() {
        assert!(
            IntacctConfig::new(DEFAULT_ENDPOINT_URL, creds())
                .validate()
                .is_ok()
        );
        assert!(IntacctConfig::new("ftp://x/y", creds()).validate().is_err());
        assert!(IntacctConfig::new("not a url", creds()).validate().is_err());
        let mut c = IntacctConfig::new("http://127.0.0.1:9/ia/xml/xmlgw.phtml", creds());
        assert!(c.validate().is_ok());
        c.max_concurrent_requests = 0;
        assert!(c.validate().is_err());
        c.max_concurrent_requests = 1;
        c.request_timeout = Duration::ZERO;
        assert!(c.validate().is_err());
    }

    #[test]
    fn debug_never_shows_passwords() {
        let c = IntacctConfig::new(DEFAULT_ENDPOINT_URL, creds());
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("sender-pw") && !shown.contains("user-pw"),
            "{shown}"
        );
        assert!(shown.contains("sender"));
    }
}
