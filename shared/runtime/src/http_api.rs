//! The webhook functions behind API Gateway HTTP API (payload format 2.0): the event becomes
//! the intake's neutral [`WebhookRequest`], [`Intake::handle`] answers, and its
//! [`WebhookResponse`] becomes the HTTP API response. Each request emits its metrics (`Flow`
//! is the endpoint's function; `Failed` counts 5xx answers, when queueing failed).

use std::convert::Infallible;
use std::time::Instant;

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use base64::Engine;
use bytes::Bytes;
use http::HeaderValue;
use http::header::CONTENT_TYPE;
use lambda_runtime::{LambdaEvent, service_fn};
use lf_domain::port::Queue;
use lf_intake::{Intake, WebhookRequest, WebhookResponse};

use crate::emf::InvocationMetrics;

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
        query: event.raw_query_string.filter(|q| !q.is_empty()),
        headers: event.headers,
        body,
    })
}

/// The HTTP API response of a webhook answer (the intake's bodies are always text).
pub fn to_api_gateway(response: WebhookResponse) -> ApiGatewayV2httpResponse {
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(response.status);
    out.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(response.content_type),
    );
    out.body = Some(Body::Text(response.body));
    out
}

/// One HTTP API event through `intake`. A body API Gateway marked base64 but that does not
/// decode is answered 400 with nothing queued.
pub async fn http_invocation<Q: Queue>(
    intake: &Intake<Q>,
    event: ApiGatewayV2httpRequest,
) -> ApiGatewayV2httpResponse {
    let started = Instant::now();
    let (function, answer) = match from_api_gateway(event) {
        Ok(request) => (
            endpoint_function(&request.path),
            intake.handle(request).await,
        ),
        Err(_) => {
            tracing::warn!(status = 400, "webhook refused: body is not valid base64");
            (
                "webhook",
                WebhookResponse::refused(400, "the body is not valid base64"),
            )
        }
    };
    let mut metrics = InvocationMetrics::new(function, started.elapsed());
    metrics.failed = u64::from(answer.status >= 500);
    metrics.emit();
    to_api_gateway(answer)
}

/// The function serving `path`, the `Flow` dimension of a webhook's metrics.
fn endpoint_function(path: &str) -> &'static str {
    if path.starts_with("/salesforce") {
        "salesforce-webhook"
    } else if path.starts_with("/intacct") {
        "intacct-webhook"
    } else {
        "webhook"
    }
}

/// The whole life of a webhook function after cold start: serve HTTP API events until the
/// runtime stops. Every request gets an HTTP answer (4xx/5xx included), so an invocation never
/// fails; API Gateway passes the status through to the sender.
pub async fn run_http_function<Q: Queue>(intake: &Intake<Q>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
            Ok::<_, Infallible>(http_invocation(intake, event.payload).await)
        },
    ))
    .await
}
