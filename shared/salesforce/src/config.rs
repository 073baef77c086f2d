//! Typed configuration. The binary reads its environment (`SALESFORCE_LOGIN_URL`,
//! `SALESFORCE_INSTANCE_URL`, secrets from Secrets Manager) once and builds a
//! [`SalesforceConfig`]; this crate never reads the environment itself.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use lf_domain::RetryPolicy;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

use crate::error::SalesforceError;
use crate::limits::LimitPolicy;

/// A REST API version such as `v62.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    major: u16,
}

impl ApiVersion {
    /// The version this crate is written and tested against.
    pub const DEFAULT: ApiVersion = ApiVersion { major: 62 };
    /// The oldest version still served (21.0–30.0 were retired in Summer '25).
    pub const OLDEST_SUPPORTED: u16 = 31;

    /// A version from its major number (`62` for `v62.0`).
    pub fn new(major: u16) -> Result<Self, SalesforceError> {
        if major < Self::OLDEST_SUPPORTED {
            return Err(SalesforceError::Config(format!(
                "API version {major}.0 is retired; use {}.0 or later",
                Self::OLDEST_SUPPORTED
            )));
        }
        Ok(Self { major })
    }

    pub fn major(&self) -> u16 {
        self.major
    }

    /// The path of the REST root for this version: `/services/data/v62.0`.
    pub fn data_root(&self) -> String {
        format!("/services/data/{self}")
    }

    /// Whether an upsert that updates answers `200` with a body (v46.0 on) rather than `204`.
    pub fn upsert_reports_created(&self) -> bool {
        self.major >= 46
    }
}

impl Default for ApiVersion {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.0", self.major)
    }
}

impl FromStr for ApiVersion {
    type Err = SalesforceError;

    /// Accepts `62`, `62.0` and `v62.0`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim().trim_start_matches(['v', 'V']);
        let major = trimmed.strip_suffix(".0").unwrap_or(trimmed);
        let major = major
            .parse::<u16>()
            .map_err(|_| SalesforceError::Config(format!("{s:?} is not an API version")))?;
        Self::new(major)
    }
}

impl Serialize for ApiVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ApiVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How the connector proves who it is.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// OAuth 2.0 JWT bearer flow: an RS256 assertion signed with the private key whose
    /// certificate is uploaded to the connected app.
    JwtBearer {
        /// Connected-app consumer key (`iss`).
        consumer_key: String,
        /// The integration user's username (`sub`).
        username: String,
        /// PEM-encoded RSA private key.
        private_key_pem: SecretString,
        /// `aud`; defaults to the login URL's origin (`https://login.salesforce.com`,
        /// `https://test.salesforce.com`, or the My Domain / emulator origin).
        audience: Option<String>,
    },
    /// OAuth 2.0 client credentials flow against the org's My Domain (set `login_url` to it).
    ClientCredentials {
        consumer_key: String,
        consumer_secret: SecretString,
    },
}

/// How long and how patiently to wait for a Bulk API 2.0 job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkPollPolicy {
    /// First pause between status checks.
    pub initial: Duration,
    /// Largest pause between status checks (the pause doubles up to it).
    pub max: Duration,
    /// Give up (transient error) after waiting this long in total.
    pub timeout: Duration,
}

impl Default for BulkPollPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(10),
            timeout: Duration::from_secs(10 * 60),
        }
    }
}

/// Everything the client needs. Build it with [`SalesforceConfig::new`] and adjust the public
/// fields; every field has a production default.
#[derive(Debug, Clone)]
pub struct SalesforceConfig {
    /// Where tokens are requested: `https://login.salesforce.com`, `https://test.salesforce.com`,
    /// the org's My Domain, or an emulator (`SALESFORCE_LOGIN_URL`).
    pub login_url: Url,
    /// Where API calls go. `None` uses the `instance_url` of the token response
    /// (`SALESFORCE_INSTANCE_URL` overrides it, e.g. behind a proxy).
    pub instance_url: Option<Url>,
    pub api_version: ApiVersion,
    pub credentials: Credentials,
    /// Timeout of one HTTP request (shortened further by a caller's deadline).
    pub request_timeout: Duration,
    /// Backoff for transient and throttled failures.
    pub retry: RetryPolicy,
    /// When to slow down and stop non-urgent work as the daily allowance is used up.
    pub limits: LimitPolicy,
    /// Above this many records, [`crate::SalesforceClient::write`] uses a Bulk API 2.0 job
    /// instead of sObject Collections.
    pub bulk_threshold: usize,
    pub bulk_poll: BulkPollPolicy,
    /// Largest CSV upload per Bulk job; more data is split over several jobs.
    pub bulk_max_upload_bytes: usize,
    /// Longest request URI (path and query) the client sends; `WHERE Id IN (...)` reads are
    /// split to stay under it. Salesforce answers 414 above 16,384 bytes.
    pub max_uri_bytes: usize,
    /// `Sforce-Query-Options: batchSize=N` (200–2000); `None` leaves Salesforce's default.
    pub query_batch_size: Option<u16>,
    /// Re-authenticate after a session is this old, before Salesforce expires it. Token
    /// responses carry no expiry, so this is the org's session timeout minus a margin; a 401
    /// is still handled when it is shorter.
    pub session_max_age: Option<Duration>,
    /// How old a change must be before the change reader takes it. Salesforce stamps
    /// `SystemModstamp` in whole seconds when a transaction starts, so the current second (and
    /// a transaction still committing) can gain records below a cursor already read; changes
    /// younger than this wait for the next poll instead of being missed.
    pub change_settle: Duration,
}

impl SalesforceConfig {
    /// A configuration with production defaults.
    pub fn new(login_url: Url, credentials: Credentials) -> Self {
        Self {
            login_url,
            instance_url: None,
            api_version: ApiVersion::DEFAULT,
            credentials,
            request_timeout: Duration::from_secs(120),
            retry: RetryPolicy::default(),
            limits: LimitPolicy::default(),
            bulk_threshold: 2_000,
            bulk_poll: BulkPollPolicy::default(),
            bulk_max_upload_bytes: 100 * 1024 * 1024,
            max_uri_bytes: 16_000,
            query_batch_size: None,
            session_max_age: Some(Duration::from_secs(100 * 60)),
            change_settle: Duration::from_secs(30),
        }
    }

    /// Checks the settings that could only fail later, at the first request.
    pub fn validate(&self) -> Result<(), SalesforceError> {
        for (name, url) in [
            ("login_url", Some(&self.login_url)),
            ("instance_url", self.instance_url.as_ref()),
        ] {
            if let Some(url) = url
                && (!matches!(url.scheme(), "https" | "http") || url.host_str().is_none())
            {
                return Err(SalesforceError::Config(format!(
                    "{name} {url} must be an http(s) URL with a host"
                )));
            }
        }
        if let Some(n) = self.query_batch_size
            && !(200..=2000).contains(&n)
        {
            return Err(SalesforceError::Config(format!(
                "query_batch_size {n} must be between 200 and 2000"
            )));
        }
        if self.max_uri_bytes < 1_024 {
            return Err(SalesforceError::Config(format!(
                "max_uri_bytes {} is too small to hold a query",
                self.max_uri_bytes
            )));
        }
        self.limits.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn api_versions_parse_and_print() {
        for s in ["62", "62.0", "v62.0"] {
            assert_eq!(s.parse::<ApiVersion>().unwrap(), ApiVersion::DEFAULT);
        }
        assert_eq!(ApiVersion::DEFAULT.data_root(), "/services/data/v62.0");
        assert!("25.0".parse::<ApiVersion>().is_err());
        assert!("abc".parse::<ApiVersion>().is_err());
        assert!(!ApiVersion::new(45).unwrap().upsert_reports_created());
        assert!(ApiVersion::new(46).unwrap().upsert_reports_created());
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let config = SalesforceConfig::new(
            Url::parse("https://login.salesforce.com").unwrap(),
            Credentials::ClientCredentials {
                consumer_key: "demo-key".into(),
                consumer_secret: SecretString::from("hunter2-consumer-secret"),
            },
        );
        let shown = format!("{config:?}");
        assert!(shown.contains("demo-key"));
        assert!(!shown.contains("hunter2"), "{shown}");
        if let Credentials::ClientCredentials {
            consumer_secret, ..
        } = &config.credentials
        {
            assert_eq!(consumer_secret.expose_secret(), "hunter2-consumer-secret");
        }
    }

    #[test]
    fn validation_rejects_impossible_settings() {
        let mut config = SalesforceConfig::new(
            Url::parse("https://login.salesforce.com").unwrap(),
            Credentials::ClientCredentials {
                consumer_key: "k".into(),
                consumer_secret: SecretString::from("s"),
            },
        );
        assert!(config.validate().is_ok());
        config.query_batch_size = Some(5000);
        assert!(config.validate().is_err());
        config.query_batch_size = None;
        config.login_url = Url::parse("ftp://example.com").unwrap();
        assert!(config.validate().is_err());
    }
}
