//! The webhook endpoints as an axum router, for `ledgerforce local` and loopback tests.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use lf_domain::port::Queue;

use crate::exchange::{WebhookRequest, WebhookResponse};
use crate::intake::Intake;

/// Every path goes to [`Intake::handle`], which answers 404 for unknown ones; nested under a
/// prefix, the paths are relative to it.
pub fn router<Q: Queue + 'static>(intake: Intake<Q>) -> Router {
    Router::new().fallback(serve::<Q>).with_state(intake)
}

async fn serve<Q: Queue + 'static>(State(intake): State<Intake<Q>>, req: Request) -> Response {
    let limit = intake.max_body_bytes();
    let (parts, body) = req.into_parts();
    // A declared length over the cap is refused before any of the body is read.
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return into_response(WebhookResponse::refused(413, "body is over the size limit"));
    }
    // Without a declared length, reading stops at the cap.
    let body = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return into_response(WebhookResponse::refused(
                413,
                "body is over the size limit or could not be read",
            ));
        }
    };
    let request = WebhookRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    into_response(intake.handle(request).await)
}

fn into_response(r: WebhookResponse) -> Response {
    let mut response = Response::new(Body::from(r.body));
    *response.status_mut() =
        http::StatusCode::from_u16(r.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, http::HeaderValue::from_static(r.content_type));
    response
}
