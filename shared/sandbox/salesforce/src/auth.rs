//! The OAuth token endpoint and sessions.
//!
//! The demo connected app and user are fixed and documented (they are this sandbox's own, not
//! secrets). The JWT bearer flow is checked for real: the sandbox generates an RSA key pair at
//! start, verifies RS256 signatures with the public half, and hands the private half (PEM) to
//! whoever runs it so they can sign assertions.

use std::collections::HashSet;
use std::sync::OnceLock;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::Rng;
use serde_json::{Value, json};

/// The demo connected app's consumer key (`client_id`, the JWT `iss`).
pub const DEMO_CONSUMER_KEY: &str =
    "3MVG9LedgerforceSandboxDemoConnectedApp.ConsumerKey.NotASecret.0001";
/// The demo connected app's consumer secret.
pub const DEMO_CONSUMER_SECRET: &str = "ledgerforce-sandbox-demo-secret";
/// The integration user's username (the JWT `sub`).
pub const DEMO_USERNAME: &str = "integration@ledgerforce.sandbox";
/// The integration user's password, for the username-password flow.
pub const DEMO_PASSWORD: &str = "ledgerforce-sandbox-password";
/// The integration user's security token, which SOAP `login()` accepts appended to the
/// password (and, as from a trusted network, also does without).
pub const DEMO_SECURITY_TOKEN: &str = "LedgerforceSandboxToken";

/// Everything a client needs to log in to the sandbox.
#[derive(Clone)]
pub struct Credentials {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub username: String,
    pub password: String,
    /// 18-character org id.
    pub org_id: String,
    /// 18-character id of the integration user.
    pub user_id: String,
    /// PKCS#8 PEM of the private key that signs JWT bearer assertions.
    pub private_key_pem: String,
    /// SPKI PEM of the matching public key (what a connected app holds as its certificate).
    pub public_key_pem: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("consumer_key", &self.consumer_key)
            .field("username", &self.username)
            .field("org_id", &self.org_id)
            .field("user_id", &self.user_id)
            .field("private_key_pem", &"[PEM]")
            .finish_non_exhaustive()
    }
}

/// The key pair, generated once per process (RSA generation is the slow part of a start).
pub(crate) struct KeyMaterial {
    pub private_pem: String,
    pub public_pem: String,
    pub decoding: DecodingKey,
}

/// Why the key pair could not be made.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot generate the sandbox's RSA key pair: {0}")]
pub struct KeyError(String);

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub(crate) fn key_material() -> Result<&'static KeyMaterial, KeyError> {
    static KEYS: OnceLock<Result<KeyMaterial, KeyError>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| KeyError(e.to_string()))?;
        let private: Pkcs8V1Der<'static> = pair.as_der().map_err(|e| KeyError(e.to_string()))?;
        let public: PublicKeyX509Der<'static> = pair
            .public_key()
            .as_der()
            .map_err(|e| KeyError(e.to_string()))?;
        Ok(KeyMaterial {
            private_pem: pem("PRIVATE KEY", private.as_ref()),
            public_pem: pem("PUBLIC KEY", public.as_ref()),
            // The PKCS#1 form, which the verifier wants.
            decoding: DecodingKey::from_rsa_der(pair.public_key().as_ref()),
        })
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Issued access tokens.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    live: HashSet<String>,
    issued: u64,
}

impl Sessions {
    pub fn issue(&mut self, org_id: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
        let mut rng = rand::rng();
        let tail: String = (0..96)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        let token = format!("{}!AQ{tail}", &org_id[..15.min(org_id.len())]);
        self.live.insert(token.clone());
        self.issued += 1;
        token
    }

    pub fn is_valid(&self, token: &str) -> bool {
        self.live.contains(token)
    }

    pub fn expire_all(&mut self) {
        self.live.clear();
    }

    pub fn issued(&self) -> u64 {
        self.issued
    }
}

/// A token endpoint answer: status and JSON body.
pub(crate) struct TokenReply {
    pub status: u16,
    pub body: Value,
}

fn oauth_error(error: &str, description: &str) -> TokenReply {
    TokenReply {
        status: 400,
        body: json!({"error": error, "error_description": description}),
    }
}

/// What the token endpoint needs to know about the org.
pub(crate) struct TokenContext<'a> {
    pub credentials: &'a Credentials,
    pub base_url: &'a str,
    pub now_epoch: i64,
    pub issued_at_ms: i64,
}

/// Answers `POST /services/oauth2/token`.
pub(crate) fn token(
    ctx: &TokenContext<'_>,
    sessions: &mut Sessions,
    authorization: Option<&str>,
    form: &[(String, String)],
) -> TokenReply {
    let get = |k: &str| {
        form.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
    };
    let creds = ctx.credentials;
    let outcome = match get("grant_type") {
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => match get("assertion") {
            Some(assertion) => check_assertion(ctx, assertion),
            None => Err(oauth_error("invalid_grant", "assertion is missing")),
        },
        Some("client_credentials") => {
            let (id, secret) = basic_credentials(authorization)
                .or_else(|| {
                    Some((
                        get("client_id")?.to_owned(),
                        get("client_secret")?.to_owned(),
                    ))
                })
                .unwrap_or_default();
            if id != creds.consumer_key {
                Err(oauth_error(
                    "invalid_client_id",
                    "client identifier invalid",
                ))
            } else if secret != creds.consumer_secret {
                Err(oauth_error("invalid_client", "invalid client credentials"))
            } else {
                Ok(())
            }
        }
        Some("password") => {
            if get("client_id") != Some(creds.consumer_key.as_str()) {
                Err(oauth_error(
                    "invalid_client_id",
                    "client identifier invalid",
                ))
            } else if get("client_secret") != Some(creds.consumer_secret.as_str()) {
                Err(oauth_error("invalid_client", "invalid client credentials"))
            } else if get("username") != Some(creds.username.as_str())
                || get("password") != Some(creds.password.as_str())
            {
                Err(oauth_error("invalid_grant", "authentication failure"))
            } else {
                Ok(())
            }
        }
        Some(_) | None => Err(oauth_error(
            "unsupported_grant_type",
            "grant type not supported",
        )),
    };
    match outcome {
        Err(reply) => reply,
        Ok(()) => {
            let access_token = sessions.issue(&creds.org_id);
            TokenReply {
                status: 200,
                body: json!({
                    "access_token": access_token,
                    "scope": "api",
                    "instance_url": ctx.base_url,
                    "id": format!("{}/id/{}/{}", ctx.base_url, creds.org_id, creds.user_id),
                    "token_type": "Bearer",
                    "issued_at": ctx.issued_at_ms.to_string(),
                }),
            }
        }
    }
}

fn basic_credentials(authorization: Option<&str>) -> Option<(String, String)> {
    let value = authorization?.trim();
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

fn check_assertion(ctx: &TokenContext<'_>, assertion: &str) -> Result<(), TokenReply> {
    let invalid = || oauth_error("invalid_grant", "invalid assertion");
    let keys = key_material().map_err(|_| invalid())?;
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| invalid())?;
    if header.alg != Algorithm::RS256 {
        return Err(oauth_error(
            "invalid_grant",
            "invalid assertion: algorithm must be RS256",
        ));
    }
    // Claims are checked below with Salesforce's own error texts; `exp` may arrive as a
    // string (simple-salesforce sends one), which the library's own check would refuse.
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let data =
        jsonwebtoken::decode::<Value>(assertion, &keys.decoding, &validation).map_err(|_| {
            oauth_error(
                "invalid_grant",
                "invalid assertion: signature does not verify",
            )
        })?;
    let claims = data.claims;
    let text = |k: &str| claims.get(k).and_then(Value::as_str).unwrap_or("");
    if text("iss") != ctx.credentials.consumer_key {
        return Err(oauth_error(
            "invalid_client_id",
            "client identifier invalid",
        ));
    }
    if text("sub") != ctx.credentials.username {
        return Err(oauth_error(
            "invalid_grant",
            "user hasn't approved this consumer",
        ));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let base = ctx.base_url.trim_end_matches('/');
    let accepted = |a: &str| {
        let a = a.trim_end_matches('/');
        a == base || a == "https://login.salesforce.com" || a == "https://test.salesforce.com"
    };
    if !audiences.iter().any(|a| accepted(a)) {
        return Err(oauth_error("invalid_grant", "audience is invalid"));
    }
    let exp = match claims.get("exp") {
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match exp {
        None => Err(oauth_error(
            "invalid_grant",
            "invalid assertion: exp is missing",
        )),
        Some(exp) if exp <= ctx.now_epoch => {
            Err(oauth_error("invalid_grant", "expired authorization code"))
        }
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};

    fn creds() -> Credentials {
        let keys = key_material().unwrap();
        Credentials {
            consumer_key: DEMO_CONSUMER_KEY.into(),
            consumer_secret: DEMO_CONSUMER_SECRET.into(),
            username: DEMO_USERNAME.into(),
            password: DEMO_PASSWORD.into(),
            org_id: "00D8d0000000001AAA".into(),
            user_id: "0058d0000000001AAA".into(),
            private_key_pem: keys.private_pem.clone(),
            public_key_pem: keys.public_pem.clone(),
        }
    }

    fn sign(claims: Value) -> String {
        let key =
            EncodingKey::from_rsa_pem(key_material().unwrap().private_pem.as_bytes()).unwrap();
        encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap()
    }

    fn run(form: &[(&str, &str)], auth: Option<&str>) -> TokenReply {
        let c = creds();
        let ctx = TokenContext {
            credentials: &c,
            base_url: "http://127.0.0.1:9999",
            now_epoch: 1_800_000_000,
            issued_at_ms: 1_800_000_000_000,
        };
        let form: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        token(&ctx, &mut Sessions::default(), auth, &form)
    }

    const JWT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

    #[test]
    fn jwt_bearer_checks_every_claim() {
        let good = json!({"iss": DEMO_CONSUMER_KEY, "sub": DEMO_USERNAME, "aud": "https://login.salesforce.com", "exp": 1_800_000_180});
        let r = run(
            &[("grant_type", JWT), ("assertion", &sign(good.clone()))],
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["instance_url"], "http://127.0.0.1:9999");
        assert_eq!(r.body["token_type"], "Bearer");
        assert!(
            r.body["access_token"]
                .as_str()
                .unwrap()
                .starts_with("00D8d0000000001!AQ")
        );

        let mut string_exp = good.clone();
        string_exp["exp"] = json!("1800000180");
        string_exp["aud"] = json!("http://127.0.0.1:9999/");
        assert_eq!(
            run(
                &[("grant_type", JWT), ("assertion", &sign(string_exp))],
                None
            )
            .status,
            200
        );

        for (field, value, description) in [
            ("aud", json!("https://evil.example"), "audience is invalid"),
            (
                "sub",
                json!("someone@else"),
                "user hasn't approved this consumer",
            ),
            ("exp", json!(1_799_999_000), "expired authorization code"),
            ("iss", json!("wrong"), "client identifier invalid"),
        ] {
            let mut claims = good.clone();
            claims[field] = value;
            let r = run(&[("grant_type", JWT), ("assertion", &sign(claims))], None);
            assert_eq!(r.status, 400);
            assert_eq!(r.body["error_description"], description);
        }
        let mut tampered = sign(good);
        tampered.pop();
        let r = run(&[("grant_type", JWT), ("assertion", &tampered)], None);
        assert_eq!(r.body["error"], "invalid_grant");
    }

    #[test]
    fn client_credentials_by_basic_auth_or_form() {
        let basic = format!(
            "Basic {}",
            STANDARD.encode(format!("{DEMO_CONSUMER_KEY}:{DEMO_CONSUMER_SECRET}"))
        );
        assert_eq!(
            run(&[("grant_type", "client_credentials")], Some(&basic)).status,
            200
        );
        assert_eq!(
            run(
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", DEMO_CONSUMER_KEY),
                    ("client_secret", DEMO_CONSUMER_SECRET)
                ],
                None
            )
            .status,
            200
        );
        let r = run(
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEMO_CONSUMER_KEY),
                ("client_secret", "nope"),
            ],
            None,
        );
        assert_eq!(
            (r.status, r.body["error"].clone()),
            (400, json!("invalid_client"))
        );
        assert_eq!(
            run(&[("grant_type", "magic")], None).body["error"],
            "unsupported_grant_type"
        );
    }

    #[test]
    fn sessions_expire_together() {
        let mut s = Sessions::default();
        let a = s.issue("00D8d0000000001AAA");
        assert!(s.is_valid(&a));
        s.expire_all();
        assert!(!s.is_valid(&a));
        assert_eq!(s.issued(), 1);
    }
}
