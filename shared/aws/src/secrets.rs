//! Secrets from AWS Secrets Manager, held in [`SecretString`] from the moment they arrive.
//!
//! A secret is either plain text (a webhook token) or a JSON object of named string fields
//! (`{"client_id": "…", "private_key": "…"}`), read with one `GetSecretValue` call. Errors name
//! the secret (its ARN or name, as given) and the field, never a value or a fragment of one:
//! JSON parse errors are reported without the parser's message, which can quote the input.

use aws_sdk_secretsmanager::Client;
use lf_domain::{Classify, ErrorClass, PortError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::error::from_sdk;

/// Why a secret could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The call failed: not found, access denied, throttled, unreachable (see the source).
    #[error("cannot read secret {secret} from Secrets Manager")]
    Read {
        secret: String,
        #[source]
        source: PortError,
    },
    /// The secret holds binary data (`SecretBinary`), not text.
    #[error("secret {secret} holds binary data; a text or JSON secret was expected")]
    NotText { secret: String },
    /// The secret's text is empty or only whitespace.
    #[error("secret {secret} is empty")]
    Empty { secret: String },
    /// Fields were asked for but the text is not a JSON object.
    #[error("secret {secret} is not a JSON object, so its field {field:?} cannot be read")]
    NotJson { secret: String, field: String },
    #[error("secret {secret} has no field {field:?}")]
    MissingField { secret: String, field: String },
    #[error("field {field:?} of secret {secret} is not a non-empty string")]
    NotAString { secret: String, field: String },
}

impl Classify for SecretError {
    /// Only a failed call may succeed on retry; a secret of the wrong shape stays wrong until
    /// someone edits it.
    fn class(&self) -> ErrorClass {
        match self {
            SecretError::Read { source, .. } => source.class(),
            _ => ErrorClass::Permanent,
        }
    }
}

/// Reads secrets from Secrets Manager.
#[derive(Debug, Clone)]
pub struct Secrets {
    client: Client,
}

impl Secrets {
    /// Build `client` from [`crate::load_sdk_config`]'s configuration.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The whole text of a plain-text secret.
    pub async fn text(&self, secret: &str) -> Result<SecretString, SecretError> {
        let text = self.fetch(secret).await?;
        if text.expose_secret().trim().is_empty() {
            return Err(SecretError::Empty {
                secret: secret.to_owned(),
            });
        }
        Ok(text)
    }

    /// Named fields of a JSON secret, in the order of `fields`, from one call. Every field must
    /// be a non-empty string.
    pub async fn fields(
        &self,
        secret: &str,
        fields: &[&str],
    ) -> Result<Vec<SecretString>, SecretError> {
        let text = self.fetch(secret).await?;
        let first = fields.first().copied().unwrap_or_default();
        let mut object: Map<String, Value> =
            serde_json::from_str(text.expose_secret()).map_err(|_| SecretError::NotJson {
                secret: secret.to_owned(),
                field: first.to_owned(),
            })?;
        fields
            .iter()
            .map(|&field| match object.remove(field) {
                None => Err(SecretError::MissingField {
                    secret: secret.to_owned(),
                    field: field.to_owned(),
                }),
                Some(Value::String(value)) if !value.trim().is_empty() => {
                    Ok(SecretString::from(value))
                }
                Some(_) => Err(SecretError::NotAString {
                    secret: secret.to_owned(),
                    field: field.to_owned(),
                }),
            })
            .collect()
    }

    /// One named field of a JSON secret.
    pub async fn field(&self, secret: &str, field: &str) -> Result<SecretString, SecretError> {
        let mut values = self.fields(secret, &[field]).await?;
        values.pop().ok_or_else(|| SecretError::MissingField {
            secret: secret.to_owned(),
            field: field.to_owned(),
        })
    }

    /// The secret's current text, moved straight into a [`SecretString`].
    async fn fetch(&self, secret: &str) -> Result<SecretString, SecretError> {
        let got = self
            .client
            .get_secret_value()
            .secret_id(secret)
            .send()
            .await
            .map_err(|e| SecretError::Read {
                secret: secret.to_owned(),
                source: from_sdk(&format!("GetSecretValue {secret}"), e),
            })?;
        if got.secret_binary.is_some() && got.secret_string.is_none() {
            return Err(SecretError::NotText {
                secret: secret.to_owned(),
            });
        }
        got.secret_string
            .map(SecretString::from)
            .ok_or_else(|| SecretError::Empty {
                secret: secret.to_owned(),
            })
    }
}
