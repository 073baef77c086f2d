//! The one POST endpoint: body cap, concurrency limit, faults, then control → authentication →
//! functions, in that order (protocols.md B4, part C).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lf_domain::Clock;
use lf_sandbox_core::{FaultPlan, Pusher};

use crate::company::{Change, Company, Ctx};
use crate::element::Element;
use crate::envelope::{
    self, Auth, AuthBlock, ErrorEntry, FunctionCall, FunctionResult, Request as GwRequest, Status,
};
use crate::fault::IntacctFault;
use crate::function::{self, Cursors, Env};
use crate::receivable;
use crate::sandbox::Credentials;
use crate::session::Sessions;
use crate::smart_event::{self, SmartEventConfig};

/// The path of the XML gateway.
pub(crate) const PATH: &str = "/ia/xml/xmlgw.phtml";

/// The error number of a rejected `uniqueid=true` replay. Intacct's real number is not public
/// (protocols.md B3, part D): this one is the emulator's own.
pub const UNIQUEID_REPLAY_ERRORNO: &str = "LF-SANDBOX-UNIQUEID";

/// API transactions counted the way Intacct bills them (protocols.md B9).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiUsage {
    /// `readByQuery`, `readMore`, `query`, `read`, `readByName` calls (one each, any rows).
    pub reads: u64,
    /// Records created, updated or deleted (a document with its lines is one).
    pub writes: u64,
    /// Smart Events fired.
    pub smart_events: u64,
    /// HTTP requests the gateway answered, billed or not (for diagnostics).
    pub requests: u64,
}

impl ApiUsage {
    /// What Intacct bills: reads + writes + smart events.
    pub fn billable(&self) -> u64 {
        self.reads + self.writes + self.smart_events
    }
}

#[derive(Debug)]
pub(crate) struct State0 {
    pub company: Company,
    pub sessions: Sessions,
    pub cursors: Cursors,
    pub usage: ApiUsage,
}

/// Everything the handler needs.
#[derive(Debug)]
pub(crate) struct Shared {
    pub credentials: Credentials,
    pub endpoint: OnceLock<String>,
    pub state: Mutex<State0>,
    pub faults: FaultPlan<IntacctFault>,
    pub latency: Duration,
    pub max_body_bytes: usize,
    pub in_flight: AtomicUsize,
    /// 0 = no limit.
    pub concurrency_limit: AtomicUsize,
    pub clock: Arc<dyn Clock>,
    pub smart_events: Option<(SmartEventConfig, Pusher)>,
}

impl Shared {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, State0> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn xml(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; encoding=\"UTF-8\""),
    );
    resp
}

fn too_many_requests() -> Response {
    xml(
        StatusCode::TOO_MANY_REQUESTS,
        envelope::gateway_failure(
            "GW-0010",
            "Too many requests in a short period of time. Please slow down and try again.",
        ),
    )
}

/// A response whose body never arrives: the headers go out, then the connection is cut.
fn lost() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("response lost (injected fault)"))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; encoding=\"UTF-8\""),
    );
    resp
}

pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let in_flight = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(&shared.in_flight);
    shared.lock().usage.requests += 1;
    let limit = shared.concurrency_limit.load(Ordering::SeqCst);
    if limit > 0 && in_flight > limit {
        return too_many_requests();
    }
    let endpoint = endpoint_for(&shared, request.headers().get(header::HOST));
    let fault = shared.faults.draw();
    match fault {
        Some(IntacctFault::Latency) => tokio::time::sleep(shared.latency).await,
        Some(IntacctFault::ServerError) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "503 Service Unavailable (injected fault)",
            )
                .into_response();
        }
        Some(IntacctFault::RateLimited) => return too_many_requests(),
        _ => {}
    }
    let body = match axum::body::to_bytes(request.into_body(), shared.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return xml(
                StatusCode::PAYLOAD_TOO_LARGE,
                envelope::control_failure(
                    None,
                    &[ErrorEntry::new(
                        "XL03000003",
                        format!(
                            "XML Parse error: the request is larger than {} bytes",
                            shared.max_body_bytes
                        ),
                    )],
                ),
            );
        }
    };
    let (text, changes) = respond(&shared, &body, fault, &endpoint);
    fire(&shared, &changes);
    if fault == Some(IntacctFault::LostResponse) {
        return lost();
    }
    xml(StatusCode::OK, text)
}

/// The endpoint `getAPISession` hands out: the gateway under the host name the client used
/// (so a client that reached it as `x.intacct.com:PORT` stays on that name, as with Intacct's
/// `naNN.intacct.com`), or the bound loopback URL.
fn endpoint_for(shared: &Shared, host: Option<&HeaderValue>) -> String {
    let host = host.and_then(|h| h.to_str().ok()).filter(|h| {
        !h.is_empty()
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    });
    match host {
        Some(h) => format!("http://{h}{PATH}"),
        None => shared.endpoint.get().cloned().unwrap_or_default(),
    }
}

/// Queues the Smart Events of committed changes.
fn fire(shared: &Shared, changes: &[Change]) {
    let Some((config, pusher)) = &shared.smart_events else {
        return;
    };
    let mut fired = 0;
    for change in changes {
        for delivery in smart_event::deliveries(change, config) {
            pusher.push(delivery);
            fired += 1;
        }
    }
    if fired > 0 {
        shared.lock().usage.smart_events += fired;
    }
}

fn respond(
    shared: &Shared,
    body: &[u8],
    fault: Option<IntacctFault>,
    endpoint: &str,
) -> (String, Vec<Change>) {
    let Ok(text) = std::str::from_utf8(body) else {
        return (
            envelope::control_failure(
                None,
                &[ErrorEntry::new(
                    "XL03000003",
                    "XML Parse error: the request is not valid UTF-8",
                )],
            ),
            Vec::new(),
        );
    };
    let request = match envelope::parse_request(text) {
        Ok(r) => r,
        Err(m) => {
            if fault == Some(IntacctFault::SessionExpired) {
                shared.faults.put_back(IntacctFault::SessionExpired);
            }
            return (
                envelope::control_failure(
                    m.control.as_deref(),
                    &[ErrorEntry::new("XL03000003", m.message)],
                ),
                Vec::new(),
            );
        }
    };
    let creds = &shared.credentials;
    if request.control.sender_id != creds.sender_id
        || request.control.password != creds.sender_password
    {
        if fault == Some(IntacctFault::SessionExpired) {
            shared.faults.put_back(IntacctFault::SessionExpired);
        }
        return (
            envelope::control_failure(
                Some(&request.control),
                &[ErrorEntry::new(
                    "XL03000006",
                    "Incorrect Intacct XML Partner ID or password.",
                )
                .correction("Check the Web Services sender ID and password.")],
            ),
            Vec::new(),
        );
    }
    let mut state = shared.lock();
    let now = shared.clock.now();
    receivable::post_due_revenue(&mut state.company, now.date_naive());
    if fault == Some(IntacctFault::SessionExpired) {
        match &request.operation.auth {
            Auth::Session(id) => state.sessions.remove(id),
            Auth::Login { .. } => shared.faults.put_back(IntacctFault::SessionExpired),
        }
    }
    let state = &mut *state;
    let (auth, entity, caller) = match authenticate(shared, state, &request, now) {
        Ok(ok) => ok,
        Err(text) => return (text, Vec::new()),
    };
    let ctx = Ctx {
        entity,
        user: auth.user_id.clone(),
        now,
    };
    let (results, changes) = run_functions(state, &request, &ctx, &caller, endpoint);
    (
        envelope::operation_response(&request.control, &auth, &results),
        changes,
    )
}

type Authenticated = (AuthBlock, Option<String>, String);

fn authenticate(
    shared: &Shared,
    state: &mut State0,
    request: &GwRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Authenticated, String> {
    let creds = &shared.credentials;
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    match &request.operation.auth {
        Auth::Login {
            user_id,
            company_id,
            password,
            location_id,
        } => {
            let mut block = AuthBlock {
                success: false,
                user_id: user_id.clone(),
                company_id: company_id.clone(),
                location_id: location_id.clone().unwrap_or_default(),
                session_timestamp: None,
                session_timeout: None,
            };
            let ok = user_id.eq_ignore_ascii_case(&creds.user_id)
                && company_id.eq_ignore_ascii_case(&creds.company_id)
                && *password == creds.user_password;
            if !ok {
                return Err(envelope::auth_failure(
                    &request.control,
                    &block,
                    &[ErrorEntry::new(
                        "XL03000006",
                        "Sign-in information is incorrect",
                    )],
                ));
            }
            if let Some(loc) = location_id
                && state.company.entity(loc).is_none()
            {
                return Err(envelope::auth_failure(
                    &request.control,
                    &block,
                    &[ErrorEntry::new(
                        "XL03000006",
                        format!("Sign-in information is incorrect: unknown entity '{loc}'"),
                    )],
                ));
            }
            block.success = true;
            block.user_id = creds.user_id.clone();
            block.company_id = creds.company_id.clone();
            block.session_timestamp = Some(stamp);
            let caller = format!("login:{}", location_id.clone().unwrap_or_default());
            Ok((block, location_id.clone(), caller))
        }
        Auth::Session(id) => match state.sessions.touch(id, now) {
            Some(session) => Ok((
                AuthBlock {
                    success: true,
                    user_id: session.user_id.clone(),
                    company_id: creds.company_id.clone(),
                    location_id: session.entity.clone().unwrap_or_default(),
                    session_timestamp: Some(stamp),
                    session_timeout: Some(
                        session
                            .expires_at
                            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                    ),
                },
                session.entity,
                format!("session:{id}"),
            )),
            None => Err(envelope::auth_failure(
                &request.control,
                &AuthBlock {
                    success: false,
                    user_id: String::new(),
                    company_id: String::new(),
                    location_id: String::new(),
                    session_timestamp: None,
                    session_timeout: None,
                },
                &[
                    ErrorEntry::new("XL03000006", "Invalid session ID. Please log in again.")
                        .correction("Get a new session with getAPISession or log in."),
                ],
            )),
        },
    }
}

fn rollback_error() -> ErrorEntry {
    ErrorEntry::new(
        "XL03000009",
        "The entire transaction in this operation has been rolled back due to an error.",
    )
}

fn result(call: &FunctionCall, status: Status) -> FunctionResult {
    FunctionResult {
        status,
        function: call.body.name.clone(),
        control_id: call.control_id.clone(),
        key: None,
        data: None,
        errors: Vec::new(),
    }
}

/// Runs the functions; with `transaction="true"` on a copy of the company that replaces it
/// only if every function succeeded.
fn run_functions(
    state: &mut State0,
    request: &GwRequest,
    ctx: &Ctx,
    caller: &str,
    endpoint: &str,
) -> (Vec<FunctionResult>, Vec<Change>) {
    let op = &request.operation;
    let unique = request.control.unique_id;
    let mut results = Vec::new();
    let mut changes = Vec::new();
    let mut usage = ApiUsage::default();
    let mut working = if op.transaction {
        Some(state.company.clone())
    } else {
        None
    };
    let mut failed_at = None;
    for (i, call) in op.functions.iter().enumerate() {
        if failed_at.is_some() {
            break;
        }
        let company = working.as_mut().unwrap_or(&mut state.company);
        let outcome = if call.body.name == "getAPISession" {
            api_session(
                endpoint,
                &mut state.sessions,
                company,
                op.functions.len(),
                call,
                ctx,
            )
        } else if unique && company.completed.contains(&call.control_id) {
            Err(ErrorEntry::new(
                UNIQUEID_REPLAY_ERRORNO,
                format!(
                    "The function with controlid '{}' was already executed (uniqueid=true); it was not run again",
                    call.control_id
                ),
            )
            .described("Duplicate function controlid")
            .correction("Use a new controlid for a new operation, or read the result of the earlier one.")
            .into())
        } else {
            let mut env = Env {
                company,
                cursors: &mut state.cursors,
                ctx,
                caller,
            };
            function::execute(&mut env, &call.body)
        };
        let (outcome, status, errors) = match outcome {
            Ok(o) => {
                if unique {
                    company.completed.insert(call.control_id.clone());
                }
                (o, Status::Success, Vec::new())
            }
            Err(f) => {
                if op.transaction {
                    failed_at = Some(i);
                }
                (*f.partial, Status::Failure, f.errors)
            }
        };
        tally(&mut usage, &call.body, outcome.billable);
        changes.extend(outcome.changes);
        results.push(FunctionResult {
            key: outcome.key,
            data: outcome.data,
            errors,
            ..result(call, status)
        });
    }
    match (working, failed_at) {
        (Some(_), Some(at)) => {
            // Rolled back: nothing happened, nothing is billed, no event fires.
            let results = op
                .functions
                .iter()
                .enumerate()
                .map(|(i, call)| {
                    if i == at {
                        let mut r = results[i].clone();
                        r.data = None;
                        r.key = None;
                        r.errors.push(rollback_error());
                        r
                    } else {
                        FunctionResult {
                            errors: vec![rollback_error()],
                            ..result(call, Status::Aborted)
                        }
                    }
                })
                .collect();
            (results, Vec::new())
        }
        (working, _) => {
            if let Some(committed) = working {
                state.company = committed;
            }
            state.usage.reads += usage.reads;
            state.usage.writes += usage.writes;
            (results, changes)
        }
    }
}

fn tally(usage: &mut ApiUsage, body: &Element, billable: u64) {
    match body.name.as_str() {
        "readByQuery" | "readMore" | "query" | "read" | "readByName" => usage.reads += billable,
        _ => usage.writes += billable,
    }
}

/// `getAPISession`: alone in its request; `<locationid>` picks the entity (empty = top level,
/// absent = the caller's).
fn api_session(
    endpoint: &str,
    sessions: &mut Sessions,
    company: &Company,
    functions: usize,
    call: &FunctionCall,
    ctx: &Ctx,
) -> function::FnResult {
    if functions != 1 {
        return Err(ErrorEntry::new(
            "Get API Session Failed",
            "getAPISession must be the only function in its request",
        )
        .into());
    }
    let entity = match call.body.child("locationid") {
        None => ctx.entity.clone(),
        Some(loc) if loc.text.trim().is_empty() => None,
        Some(loc) => {
            let id = loc.text.trim();
            if company.entity(id).is_none() {
                return Err(ErrorEntry::new(
                    "Get API Session Failed",
                    format!("Invalid location ID '{id}': no such entity"),
                )
                .into());
            }
            Some(id.to_owned())
        }
    };
    let (id, _) = sessions.open(&ctx.user, entity.clone(), ctx.now);
    let api = Element::new("api")
        .with_child(Element::leaf("sessionid", id))
        .with_child(Element::leaf("endpoint", endpoint))
        .with_child(Element::leaf("locationid", entity.unwrap_or_default()));
    Ok(function::Outcome {
        data: Some(Element::new("data").with_child(api)),
        ..function::Outcome::default()
    })
}
