//! OAuth 2.0 server-to-server authentication (JWT bearer and client credentials) and the
//! session cache that every clone of a client shares.
//!
//! Token responses carry no expiry, so a session is used until it is older than the configured
//! maximum age or until Salesforce answers `401 INVALID_SESSION_ID`. Only one token request is
//! in flight at a time: tasks that find the session stale queue on one lock, and the first one
//! through refreshes it for all of them.

use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{Credentials, SalesforceConfig};
use crate::error::SalesforceError;

/// The JWT bearer grant type.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How long a signed assertion is valid (Salesforce allows at most 3 minutes).
const ASSERTION_LIFETIME_SECS: i64 = 180;

/// The claims of a JWT bearer assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtClaims {
    /// Consumer key of the connected app.
    pub iss: String,
    /// Username of the integration user.
    pub sub: String,
    /// The login server the token is for.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
}

impl JwtClaims {
    /// Claims for `credentials` at `now`, with the audience defaulting to the login URL's
    /// origin.
    pub fn new(
        consumer_key: &str,
        username: &str,
        audience: Option<&str>,
        login_url: &Url,
        now: DateTime<Utc>,
    ) -> Self {
        let aud = audience.map(str::to_owned).unwrap_or_else(|| {
            login_url
                .origin()
                .ascii_serialization()
                .trim_end_matches('/')
                .to_owned()
        });
        Self {
            iss: consumer_key.to_owned(),
            sub: username.to_owned(),
            aud,
            exp: now.timestamp() + ASSERTION_LIFETIME_SECS,
        }
    }

    /// Signs the claims with RS256.
    pub fn sign(&self, private_key_pem: &SecretString) -> Result<SecretString, SalesforceError> {
        let key =
            jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.expose_secret().as_bytes())
                .map_err(SalesforceError::Jwt)?;
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        jsonwebtoken::encode(&header, self, &key)
            .map(SecretString::from)
            .map_err(SalesforceError::Jwt)
    }
}

/// A token request, ready to send: the form and, for client credentials, Basic auth.
#[derive(Debug)]
pub struct TokenRequest {
    pub url: Url,
    /// Form fields; values may be credentials, so they stay secret.
    pub form: Vec<(&'static str, SecretString)>,
    /// `Authorization: Basic` user and password.
    pub basic_auth: Option<(String, SecretString)>,
}

impl TokenRequest {
    /// Builds the token request the configuration calls for.
    pub fn for_config(
        config: &SalesforceConfig,
        now: DateTime<Utc>,
    ) -> Result<Self, SalesforceError> {
        let url = config
            .login_url
            .join("/services/oauth2/token")
            .map_err(|e| SalesforceError::Config(format!("login_url: {e}")))?;
        match &config.credentials {
            Credentials::JwtBearer {
                consumer_key,
                username,
                private_key_pem,
                audience,
            } => {
                let claims = JwtClaims::new(
                    consumer_key,
                    username,
                    audience.as_deref(),
                    &config.login_url,
                    now,
                );
                let assertion = claims.sign(private_key_pem)?;
                Ok(Self {
                    url,
                    form: vec![
                        ("grant_type", SecretString::from(JWT_BEARER_GRANT)),
                        ("assertion", assertion),
                    ],
                    basic_auth: None,
                })
            }
            Credentials::ClientCredentials {
                consumer_key,
                consumer_secret,
            } => Ok(Self {
                url,
                form: vec![("grant_type", SecretString::from("client_credentials"))],
                basic_auth: Some((consumer_key.clone(), consumer_secret.clone())),
            }),
        }
    }

    /// Sends the request and reads the token.
    pub(crate) async fn send(
        &self,
        http: &reqwest::Client,
    ) -> Result<TokenResponse, SalesforceError> {
        let form: Vec<(&str, &str)> = self
            .form
            .iter()
            .map(|(k, v)| (*k, v.expose_secret()))
            .collect();
        let mut request = http.post(self.url.clone()).form(&form);
        if let Some((user, password)) = &self.basic_auth {
            request = request.basic_auth(user, Some(password.expose_secret()));
        }
        let transport = |source| SalesforceError::Transport {
            what: "token request".into(),
            source,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            let refusal: OAuthError =
                serde_json::from_slice(&body).unwrap_or_else(|_| OAuthError {
                    error: format!("http_{status}"),
                    error_description: String::from_utf8_lossy(&body).chars().take(200).collect(),
                });
            return Err(SalesforceError::Auth {
                status,
                error: refusal.error,
                description: refusal.error_description,
            });
        }
        serde_json::from_slice(&body).map_err(|e| SalesforceError::UnexpectedResponse {
            what: "token request".into(),
            detail: format!("token response is not the expected JSON: {e}"),
        })
    }
}

#[derive(Debug, Deserialize)]
struct OAuthError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// A successful token response. There is no refresh token and no expiry in either flow.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: SecretString,
    pub instance_url: String,
    /// Identity URL: `https://login.salesforce.com/id/<orgId>/<userId>`.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
}

/// A usable session: the token and where to send requests.
#[derive(Debug)]
pub(crate) struct Session {
    pub access_token: SecretString,
    pub instance_url: Url,
    /// Counts sessions issued by this cache, so a task that saw a 401 can tell whether someone
    /// else already replaced the session it used.
    pub generation: u64,
    obtained: Instant,
}

/// The shared session with single-flight refresh.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    current: Mutex<Option<Arc<Session>>>,
    refresh: tokio::sync::Mutex<u64>,
    max_age: Option<Duration>,
}

/// What a refresh produces: the token and the instance URL to use with it.
pub(crate) struct Issued {
    pub access_token: SecretString,
    pub instance_url: Url,
}

impl TokenCache {
    pub(crate) fn new(max_age: Option<Duration>) -> Self {
        Self {
            current: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(0),
            max_age,
        }
    }

    fn usable(&self) -> Option<Arc<Session>> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current
            .as_ref()
            .filter(|s| self.max_age.is_none_or(|max| s.obtained.elapsed() < max))
            .cloned()
    }

    /// The current session, fetching one if there is none or it is too old.
    pub(crate) async fn session<F, Fut>(&self, fetch: F) -> Result<Arc<Session>, SalesforceError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Issued, SalesforceError>>,
    {
        if let Some(s) = self.usable() {
            return Ok(s);
        }
        let mut issued = self.refresh.lock().await;
        // Someone else may have refreshed while this task waited for the lock.
        if let Some(s) = self.usable() {
            return Ok(s);
        }
        self.install(&mut issued, fetch().await?)
    }

    /// Replaces `stale` after Salesforce refused it, unless another task already did.
    pub(crate) async fn refresh_after<F, Fut>(
        &self,
        stale: &Session,
        fetch: F,
    ) -> Result<Arc<Session>, SalesforceError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Issued, SalesforceError>>,
    {
        let mut issued = self.refresh.lock().await;
        if let Some(s) = self.usable()
            && s.generation != stale.generation
        {
            return Ok(s);
        }
        self.install(&mut issued, fetch().await?)
    }

    fn install(&self, counter: &mut u64, issued: Issued) -> Result<Arc<Session>, SalesforceError> {
        *counter += 1;
        let session = Arc::new(Session {
            access_token: issued.access_token,
            instance_url: issued.instance_url,
            generation: *counter,
            obtained: Instant::now(),
        });
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(session.clone());
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn issued(token: &str) -> Issued {
        Issued {
            access_token: SecretString::from(token),
            instance_url: Url::parse("https://example.my.salesforce.com").unwrap(),
        }
    }

    #[test]
    fn claims_default_the_audience_to_the_login_origin() {
        let now = DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let login = Url::parse("https://test.salesforce.com/").unwrap();
        let c = JwtClaims::new("key", "int@example.com", None, &login, now);
        assert_eq!(c.aud, "https://test.salesforce.com");
        assert_eq!(c.exp, now.timestamp() + 180);
        assert_eq!((c.iss.as_str(), c.sub.as_str()), ("key", "int@example.com"));
        let c = JwtClaims::new(
            "key",
            "u",
            Some("https://community.example.com"),
            &login,
            now,
        );
        assert_eq!(c.aud, "https://community.example.com");
    }

    #[test]
    fn client_credentials_use_basic_auth_and_secret_values() {
        let config = SalesforceConfig::new(
            Url::parse("https://acme.my.salesforce.com").unwrap(),
            Credentials::ClientCredentials {
                consumer_key: "ck".into(),
                consumer_secret: SecretString::from("cs-value"),
            },
        );
        let req = TokenRequest::for_config(&config, Utc::now()).unwrap();
        assert_eq!(
            req.url.as_str(),
            "https://acme.my.salesforce.com/services/oauth2/token"
        );
        assert_eq!(req.form[0].0, "grant_type");
        assert_eq!(req.form[0].1.expose_secret(), "client_credentials");
        let (user, pass) = req.basic_auth.as_ref().unwrap();
        assert_eq!((user.as_str(), pass.expose_secret()), ("ck", "cs-value"));
        assert!(!format!("{req:?}").contains("cs-value"));
    }

    /// A throwaway RSA key generated for this test run: no key material lives in the repo.
    fn test_key() -> (SecretString, Vec<u8>) {
        use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
        use aws_lc_rs::rsa::{KeyPair, KeySize};
        use aws_lc_rs::signature::KeyPair as _;
        use base64::Engine as _;
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let der: Pkcs8V1Der<'static> = pair.as_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let body: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            body.join("\n")
        );
        (SecretString::from(pem), pair.public_key().as_ref().to_vec())
    }

    #[test]
    fn jwt_bearer_assertions_are_rs256_signed_with_the_claims() {
        let (private_key_pem, public_der) = test_key();
        let config = SalesforceConfig::new(
            Url::parse("https://login.salesforce.com").unwrap(),
            Credentials::JwtBearer {
                consumer_key: "3MVG9-demo".into(),
                username: "integration@example.com".into(),
                private_key_pem,
                audience: None,
            },
        );
        let now = Utc::now();
        let req = TokenRequest::for_config(&config, now).unwrap();
        assert!(req.basic_auth.is_none());
        assert_eq!(req.form[0].1.expose_secret(), JWT_BEARER_GRANT);
        assert_eq!(req.form[1].0, "assertion");
        let assertion = req.form[1].1.expose_secret();

        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&["https://login.salesforce.com"]);
        let decoded = jsonwebtoken::decode::<JwtClaims>(
            assertion,
            &jsonwebtoken::DecodingKey::from_rsa_der(&public_der),
            &validation,
        )
        .unwrap();
        assert_eq!(decoded.header.alg, jsonwebtoken::Algorithm::RS256);
        assert_eq!(decoded.claims.iss, "3MVG9-demo");
        assert_eq!(decoded.claims.sub, "integration@example.com");
        assert_eq!(decoded.claims.exp, now.timestamp() + 180);

        // A different key does not verify it.
        let (_, other_public) = test_key();
        assert!(
            jsonwebtoken::decode::<JwtClaims>(
                assertion,
                &jsonwebtoken::DecodingKey::from_rsa_der(&other_public),
                &validation,
            )
            .is_err()
        );
    }

    #[test]
    fn an_unreadable_private_key_is_a_clear_error() {
        let config = SalesforceConfig::new(
            Url::parse("https://login.salesforce.com").unwrap(),
            Credentials::JwtBearer {
                consumer_key: "ck".into(),
                username: "u".into(),
                private_key_pem: SecretString::from("not a pem"),
                audience: None,
            },
        );
        let err = TokenRequest::for_config(&config, Utc::now()).unwrap_err();
        assert!(matches!(err, SalesforceError::Jwt(_)), "{err:?}");
    }

    #[test]
    fn token_responses_keep_the_token_secret() {
        let t: TokenResponse = serde_json::from_str(
            r#"{"access_token":"00Dxx!AQ-secret","scope":"api","instance_url":"https://x.my.salesforce.com","id":"https://login.salesforce.com/id/00Dxx/005xx","token_type":"Bearer"}"#,
        )
        .unwrap();
        assert_eq!(t.access_token.expose_secret(), "00Dxx!AQ-secret");
        assert!(!format!("{t:?}").contains("AQ-secret"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_tasks_share_one_refresh() {
        let cache = Arc::new(TokenCache::new(None));
        let fetches = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let cache = cache.clone();
            let fetches = fetches.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .session(|| async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok(issued("first"))
                    })
                    .await
                    .unwrap()
                    .generation
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 1);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);

        // Every task saw a 401 on generation 1: only the first refresh fetches.
        let stale = cache.session(|| async { unreachable!() }).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let cache = cache.clone();
            let fetches = fetches.clone();
            let stale = stale.clone();
            tasks.push(tokio::spawn(async move {
                cache
                    .refresh_after(&stale, || async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        Ok(issued("second"))
                    })
                    .await
                    .unwrap()
                    .generation
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 2);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn old_sessions_are_replaced_and_failures_leave_no_session() {
        let cache = TokenCache::new(Some(Duration::ZERO));
        let a = cache.session(|| async { Ok(issued("a")) }).await.unwrap();
        let b = cache.session(|| async { Ok(issued("b")) }).await.unwrap();
        assert_eq!((a.generation, b.generation), (1, 2));

        let cache = TokenCache::new(None);
        let err = cache
            .session(|| async { Err(SalesforceError::Config("down".into())) })
            .await;
        assert!(err.is_err());
        let ok = cache.session(|| async { Ok(issued("c")) }).await.unwrap();
        assert_eq!(ok.access_token.expose_secret(), "c");
    }
}
