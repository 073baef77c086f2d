//! The HTTP surface: OAuth, `/services/data`, identity.
//!
//! One axum fallback handler receives every request; it applies what every data call goes
//! through (Bearer session, daily allowance, injected faults, `Sforce-Limit-Info`) and hands
//! the call to [`dispatch`], a synchronous router over the org's state that Composite also
//! uses for its subrequests.

mod collections;
mod composite;
mod jobs;
mod query;
mod replication;
mod resources;
mod sobjects;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::auth::{self, TokenContext};
use crate::fault::{SalesforceFault, WriteFault};
use crate::login;
use crate::org::{Org, World};
use crate::value::FieldError;

/// The largest request body: Bulk API 2.0's upload limit (150 MB). Axum's default of 2 MB
/// would refuse an ordinary Bulk upload.
const MAX_BODY_BYTES: usize = 150 * 1024 * 1024;

pub(crate) fn router(org: Arc<Org>) -> Router {
    Router::new()
        .fallback(entry)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(org)
}

/// API versions the sandbox answers: v31.0 (the oldest the v62 guide supports) to this one.
pub(crate) const OLDEST_VERSION: u32 = 31;
pub(crate) const LATEST_VERSION: u32 = 64;
/// Versions below this were retired: `410 GONE`.
const RETIRED_FROM: u32 = 20;

/// A data call, after the path prefix and version are taken off.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub method: Method,
    /// Major API version (`62` for `v62.0`).
    pub version: u32,
    /// Decoded path segments after `/services/data/vXX.X/`.
    pub segments: Vec<String>,
    /// Decoded query parameters.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ApiRequest {
    pub fn version_str(&self) -> String {
        format!("{}.0", self.version)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON; `Err` is the 400 Salesforce sends for unparseable JSON.
    pub fn json(&self) -> Result<Value, ApiResponse> {
        if self.body.is_empty() {
            return Err(ApiResponse::error(
                400,
                "JSON_PARSER_ERROR",
                "The request body is empty",
            ));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            ApiResponse::error(
                400,
                "JSON_PARSER_ERROR",
                &format!("Unexpected character in the request body: {e}"),
            )
        })
    }
}

/// A response body.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Json(Value),
    Csv(String),
    Empty,
}

/// A response before it becomes HTTP.
#[derive(Debug, Clone)]
pub(crate) struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl ApiResponse {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::Json(body),
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    pub fn with_header(mut self, name: &str, value: String) -> Self {
        self.headers.push((name.to_owned(), value));
        self
    }

    /// `[{"message": ..., "errorCode": ...}]`.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        Self::json(status, json!([{"message": message, "errorCode": code}]))
    }

    /// Top-level REST errors for a refused record write.
    pub fn field_errors(status: u16, errors: &[FieldError]) -> Self {
        Self::json(
            status,
            Value::Array(errors.iter().map(rest_error).collect()),
        )
    }

    pub fn not_found() -> Self {
        Self::error(404, "NOT_FOUND", "The requested resource does not exist")
    }

    pub fn method_not_allowed(method: &Method) -> Self {
        Self::error(
            405,
            "METHOD_NOT_ALLOWED",
            &format!("HTTP Method '{method}' not allowed. Allowed are GET,HEAD,POST,PATCH,DELETE"),
        )
    }

    pub fn body_json(&self) -> Value {
        match &self.body {
            Body::Json(v) => v.clone(),
            Body::Csv(s) => Value::String(s.clone()),
            Body::Empty => Value::Null,
        }
    }
}

/// A REST error item: `errorCode`, `message`, `fields` when there are any.
pub(crate) fn rest_error(e: &FieldError) -> Value {
    let mut v = json!({"message": e.message, "errorCode": e.code});
    if !e.fields.is_empty() {
        v["fields"] = json!(e.fields);
    }
    v
}

/// A collections / composite item error: `statusCode`, `message`, `fields`.
pub(crate) fn item_error(e: &FieldError) -> Value {
    json!({"statusCode": e.code, "message": e.message, "fields": e.fields})
}

/// What a handler works with: the org's state and this call's pending write fault.
pub(crate) struct Call<'a> {
    pub world: &'a mut World,
    /// An injected write fault still to be placed on the first record write.
    pub write_fault: Option<WriteFault>,
}

impl Call<'_> {
    /// Takes the pending write fault, if any: the caller's next record write fails with it.
    pub fn take_write_fault(&mut self) -> Option<FieldError> {
        self.write_fault.take().map(WriteFault::error)
    }
}

/// Routes one data call. Also the target of Composite subrequests.
pub(crate) fn dispatch(call: &mut Call<'_>, req: &ApiRequest) -> ApiResponse {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    match segs.as_slice() {
        [] => resources::resources(req),
        ["limits"] => resources::limits(call, req),
        ["sobjects", ..] => sobjects::route(call, req, &segs[1..]),
        ["query", rest @ ..] => query::route(call, req, rest, false),
        ["queryAll", rest @ ..] => query::route(call, req, rest, true),
        ["composite"] => composite::composite(call, req),
        ["composite", "sobjects", rest @ ..] => collections::route(call, req, rest),
        ["jobs", "ingest", rest @ ..] => jobs::ingest(call, req, rest),
        ["jobs", "query", rest @ ..] => jobs::query(call, req, rest),
        _ => ApiResponse::not_found(),
    }
}

fn split_path(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// `vNN.N` → NN.
fn parse_version(seg: &str) -> Option<u32> {
    let v = seg.strip_prefix('v')?;
    let (major, minor) = v.split_once('.')?;
    if minor != "0" {
        return None;
    }
    major.parse().ok()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim())
}

fn invalid_session() -> ApiResponse {
    ApiResponse::error(401, "INVALID_SESSION_ID", "Session expired or invalid")
}

/// The longest URI Salesforce accepts.
const MAX_URI: usize = 16_384;

async fn entry(
    State(org): State<Arc<Org>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.to_string().len() > MAX_URI {
        return into_http(ApiResponse::error(
            414,
            "URI_TOO_LONG",
            "The request URI is longer than 16,384 bytes",
        ));
    }
    let path = uri.path().to_owned();
    if path.trim_end_matches('/') == "/services/oauth2/token" {
        return token_endpoint(&org, &method, &headers, &body);
    }
    let segments = split_path(&path);
    if segments.first().map(String::as_str) == Some("id") {
        return identity(&org, &headers, &segments);
    }
    if let ["services", "Soap", "u", version, ..] = segments
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        return soap_login(&org, &method, version, &body);
    }
    if segments.len() < 2 || segments[0] != "services" || segments[1] != "data" {
        return into_http(ApiResponse::not_found());
    }
    if segments.len() == 2 {
        // The versions list needs no session and is not counted.
        let resp = if method == Method::GET || method == Method::HEAD {
            resources::versions()
        } else {
            ApiResponse::method_not_allowed(&method)
        };
        return with_usage(&org, resp);
    }
    let Some(version) = parse_version(&segments[2]) else {
        return with_usage(&org, ApiResponse::not_found());
    };
    if version < OLDEST_VERSION {
        let resp = if version >= RETIRED_FROM {
            ApiResponse::error(410, "GONE", "The requested version is retired")
        } else {
            ApiResponse::not_found()
        };
        return with_usage(&org, resp);
    }
    if version > LATEST_VERSION {
        return with_usage(&org, ApiResponse::not_found());
    }
    let req = ApiRequest {
        method,
        version,
        segments: segments[3..].to_vec(),
        query: query_pairs(&uri),
        headers,
        body,
    };
    let resp = data_call(&org, req).await;
    with_usage(&org, resp)
}

/// Session, allowance, faults, then the call itself.
async fn data_call(org: &Org, req: ApiRequest) -> ApiResponse {
    let token = bearer(&req.headers).map(str::to_owned);
    {
        let w = org.lock();
        if !token.as_deref().is_some_and(|t| w.sessions.is_valid(t)) {
            return invalid_session();
        }
        if w.usage.used >= w.usage.max {
            return limit_exceeded();
        }
    }
    let fault = org.faults.draw();
    let mut write_fault = None;
    let mut slow = false;
    match fault {
        None => {}
        Some(SalesforceFault::Latency) => tokio::time::sleep(org.latency).await,
        Some(SalesforceFault::Unavailable) => {
            return ApiResponse::error(
                503,
                "SERVER_UNAVAILABLE",
                "Server temporarily unavailable (injected fault)",
            );
        }
        Some(SalesforceFault::ExpireSessions) => {
            org.expire_sessions();
            return invalid_session();
        }
        Some(SalesforceFault::LimitExceeded) => return limit_exceeded(),
        Some(SalesforceFault::SlowResponse) => slow = true,
        Some(f @ (SalesforceFault::LockRow | SalesforceFault::ValidationRule)) => {
            if req.method == Method::GET || req.method == Method::HEAD {
                // Reads cannot fail this way: the fault waits for the next call.
                org.faults.put_back(f);
            } else {
                write_fault = f.write_fault();
            }
        }
    }
    let resp = {
        let mut w = org.lock();
        w.usage.used += 1;
        let mut call = Call {
            world: &mut w,
            write_fault,
        };
        let resp = dispatch(&mut call, &req);
        org.commit(&mut w);
        resp
    };
    if slow {
        tokio::time::sleep(org.slow_response).await;
    }
    resp
}

fn limit_exceeded() -> ApiResponse {
    ApiResponse::error(
        403,
        "REQUEST_LIMIT_EXCEEDED",
        "TotalRequests Limit exceeded.",
    )
}

fn with_usage(org: &Org, resp: ApiResponse) -> Response {
    let (used, max) = org.api_usage();
    into_http(resp.with_header("Sforce-Limit-Info", format!("api-usage={used}/{max}")))
}

fn into_http(resp: ApiResponse) -> Response {
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = match resp.body {
        Body::Json(v) => (
            status,
            [("content-type", "application/json;charset=UTF-8")],
            serde_json::to_string(&v).unwrap_or_default(),
        )
            .into_response(),
        Body::Csv(s) => (status, [("content-type", "text/csv")], s).into_response(),
        Body::Empty => status.into_response(),
    };
    for (name, value) in resp.headers {
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::try_from(name),
            HeaderValue::try_from(value),
        ) {
            out.headers_mut().insert(n, v);
        }
    }
    out
}

fn token_endpoint(org: &Org, method: &Method, headers: &HeaderMap, body: &Bytes) -> Response {
    if *method != Method::POST {
        return into_http(ApiResponse::json(
            405,
            json!({"error": "invalid_request", "error_description": "must use HTTP POST"}),
        ));
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let now = org.clock.now();
    let ctx = TokenContext {
        credentials: &org.credentials,
        base_url: org.base_url(),
        now_epoch: now.timestamp(),
        issued_at_ms: now.timestamp_millis(),
    };
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    let reply = {
        let mut w = org.lock();
        auth::token(&ctx, &mut w.sessions, authorization, &form)
    };
    into_http(ApiResponse::json(reply.status, reply.body))
}

/// `POST /services/Soap/u/{version}`: SOAP `login()`, neither counted nor limited (logins do
/// not count against the daily allowance).
fn soap_login(org: &Org, method: &Method, version: &str, body: &Bytes) -> Response {
    let supported = version
        .split_once('.')
        .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor)))
        .is_some_and(|(major, minor)| {
            minor == "0" && (OLDEST_VERSION..=LATEST_VERSION).contains(&major)
        });
    if !supported {
        return into_http(ApiResponse::not_found());
    }
    if *method != Method::POST {
        return into_http(ApiResponse::method_not_allowed(method));
    }
    let ctx = login::LoginContext {
        credentials: &org.credentials,
        base_url: org.base_url(),
        version,
    };
    let reply = login::answer(&ctx, body, || org.issue_token());
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [("content-type", "text/xml;charset=UTF-8")],
        reply.body,
    )
        .into_response()
}

/// `GET /id/{orgId}/{userId}`: the identity URL a token response points at.
fn identity(org: &Org, headers: &HeaderMap, segments: &[String]) -> Response {
    let valid = bearer(headers).is_some_and(|t| org.lock().sessions.is_valid(t));
    if !valid {
        return into_http(ApiResponse::json(401, json!("Bad_OAuth_Token")));
    }
    let creds = &org.credentials;
    if segments.len() != 3 || segments[1] != creds.org_id || segments[2] != creds.user_id {
        return into_http(ApiResponse::json(404, json!("Not_Found")));
    }
    let base = org.base_url();
    let v = LATEST_VERSION;
    into_http(ApiResponse::json(
        200,
        json!({
            "id": format!("{base}/id/{}/{}", creds.org_id, creds.user_id),
            "asserted_user": true,
            "user_id": creds.user_id,
            "organization_id": creds.org_id,
            "username": creds.username,
            "nick_name": "integration",
            "display_name": "Integration User",
            "email": creds.username,
            "active": true,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": 0,
            "urls": {
                "rest": format!("{base}/services/data/v{v}.0/"),
                "sobjects": format!("{base}/services/data/v{v}.0/sobjects/"),
                "query": format!("{base}/services/data/v{v}.0/query/"),
                "limits": format!("{base}/services/data/v{v}.0/limits/"),
            },
        }),
    ))
}
