//! The neutral HTTP exchange the webhook handlers speak: what API Gateway and axum both give
//! (method, path, query, headers, raw body) and what both can send back.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::{Value, json};

/// One webhook request, as received.
#[derive(Clone)]
pub struct WebhookRequest {
    pub method: Method,
    /// The path (`/salesforce`, `/salesforce/{token}`, `/intacct`), without the query.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// The raw body: signatures are checked over these exact bytes.
    pub body: Bytes,
}

impl WebhookRequest {
    /// A POST of `body` to `path` with a `Content-Type`.
    pub fn post(path: &str, content_type: &str, body: impl Into<Bytes>) -> Self {
        let mut headers = HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_str(content_type) {
            headers.insert(http::header::CONTENT_TYPE, v);
        }
        Self {
            method: Method::POST,
            path: path.to_owned(),
            query: None,
            headers,
            body: body.into(),
        }
    }

    /// A header's value as text; `None` when absent or not visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The media type of `Content-Type`, lower case, without parameters (`text/xml`).
    pub fn media_type(&self) -> Option<String> {
        self.header(http::header::CONTENT_TYPE.as_str()).map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    }
}

/// Headers and body may carry secrets (a token header, a session id inside an Outbound
/// Message) and the path may carry the Salesforce token, so none of them is ever printed.
impl fmt::Debug for WebhookRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(|k| k.as_str()).collect();
        f.debug_struct("WebhookRequest")
            .field("method", &self.method)
            .field("path_segments", &self.path.split('/').count())
            .field("headers", &names)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// What a webhook answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl WebhookResponse {
    /// A JSON response.
    pub fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: body.to_string(),
        }
    }

    /// A refusal with a reason the sender can read (never a secret, never the body).
    pub fn refused(status: u16, reason: &str) -> Self {
        Self::json(status, &json!({ "error": reason }))
    }

    /// 200 with the number of envelopes queued.
    pub fn accepted(queued: usize) -> Self {
        Self::json(200, &json!({ "queued": queued }))
    }

    /// Whether the status is a success.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_ignores_parameters_and_case() {
        let req = WebhookRequest::post("/salesforce", "Text/XML; charset=UTF-8", "x");
        assert_eq!(req.media_type().as_deref(), Some("text/xml"));
        let mut none = req.clone();
        none.headers.clear();
        assert_eq!(none.media_type(), None);
    }

    #[test]
    fn debug_shows_neither_path_token_nor_header_values_nor_body() {
        let mut req =
            WebhookRequest::post("/salesforce/path-token-value", "text/xml", "body-secret");
        req.headers.insert(
            "x-ledgerforce-token",
            http::HeaderValue::from_static("header-token-value"),
        );
        let shown = format!("{req:?}");
        for hidden in ["path-token-value", "header-token-value", "body-secret"] {
            assert!(!shown.contains(hidden), "{shown}");
        }
        assert!(
            shown.contains("x-ledgerforce-token"),
            "header names are kept: {shown}"
        );
    }
}
