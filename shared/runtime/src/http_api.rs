//! API Gateway HTTP API (payload format 2.0) events to and from the webhooks' neutral request
//! and response. `WebhookRequest` / `WebhookResponse` are a local copy of the shape the intake
//! crate defines (`lf_intake`), until both branches meet.

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

/// An HTTP request as the webhook handlers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRequest {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    /// The raw query string, without `?` (empty when none).
    pub query: String,
    pub body: Bytes,
}

/// What a webhook handler answers.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The neutral request of an HTTP API event; a base64 body (API Gateway encodes non-text
/// bodies) is decoded, and a body that is not valid base64 is an error.
pub fn from_api_gateway(
    event: ApiGatewayV2httpRequest,
) -> Result<WebhookRequest, base64::DecodeError> {
    let body = match event.body {
        None => Bytes::new(),
        Some(text) if event.is_base64_encoded => {
            Bytes::from(base64::engine::general_purpose::STANDARD.decode(text)?)
        }
        Some(text) => Bytes::from(text),
    };
    Ok(WebhookRequest {
        method: event.request_context.http.method,
        path: event
            .raw_path
            .or(event.request_context.http.path)
            .unwrap_or_else(|| "/".to_owned()),
        headers: event.headers,
        query: event.raw_query_string.unwrap_or_default(),
        body,
    })
}

/// The HTTP API response of a neutral response (text bodies as text, others base64).
pub fn to_api_gateway(response: WebhookResponse) -> ApiGatewayV2httpResponse {
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(response.status.as_u16());
    out.headers = response.headers;
    match std::str::from_utf8(&response.body) {
        Ok(text) => out.body = Some(Body::Text(text.to_owned())),
        Err(_) => {
            out.body = Some(Body::Text(
                base64::engine::general_purpose::STANDARD.encode(&response.body),
            ));
            out.is_base64_encoded = true;
        }
    }
    out
}
