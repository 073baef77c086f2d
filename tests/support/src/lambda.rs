//! A function binary under the Lambda Runtime API, on loopback.
//!
//! [`RuntimeApi`] serves the documented runtime interface (`/2018-06-01`): `GET
//! /runtime/invocation/next` long-polls for the next event and answers it with the
//! `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn` and `-Trace-Id`
//! headers; `POST /runtime/invocation/{id}/response` and `/error` answer an invocation (202, or
//! 400 for an id that is not in flight); `POST /runtime/init/error` reports a failed start.
//! [`FunctionProcess`] starts a real binary against it, as the Lambda service starts a
//! `provided.al2023` bootstrap, and measures what the footprint benchmarks need: the time from
//! spawn to the first `GET /next` (init) and the peak resident memory (`VmHWM`).

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lf_sandbox_core::serve::{Server, serve};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::sync::{Notify, mpsc, oneshot};

/// The API version every path starts with.
pub const API_PREFIX: &str = "/2018-06-01";

/// How an invocation was answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `POST /runtime/invocation/{id}/response`: the body (JSON, or a string when it is not).
    Response(Value),
    /// `POST /runtime/invocation/{id}/error`.
    Error {
        /// The `Lambda-Runtime-Function-Error-Type` header.
        error_type: Option<String>,
        body: Value,
    },
    /// `POST /runtime/init/error`: the function could not start.
    InitError {
        error_type: Option<String>,
        body: Value,
    },
}

struct Pending {
    request_id: String,
    event: Value,
    deadline_ms: u64,
    trace_id: String,
}

struct Shared {
    sender: mpsc::UnboundedSender<Pending>,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    first_next: OnceLock<Instant>,
    next_calls: AtomicU64,
    init_error: Mutex<Option<Answer>>,
    init_failed: Notify,
    function_arn: String,
    sequence: AtomicU64,
}

/// The Runtime API emulator. Events are handed out in the order they were invoked.
pub struct RuntimeApi {
    shared: Arc<Shared>,
    server: Server,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("address", &self.address())
            .finish()
    }
}

impl RuntimeApi {
    /// Serves the API on a free loopback port for the function `function_name`.
    pub async fn start(function_name: &str) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            sender,
            events: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            first_next: OnceLock::new(),
            next_calls: AtomicU64::new(0),
            init_error: Mutex::new(None),
            init_failed: Notify::new(),
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            sequence: AtomicU64::new(0),
        });
        let router = Router::new()
            .route(&format!("{API_PREFIX}/runtime/invocation/next"), get(next))
            .route(
                &format!("{API_PREFIX}/runtime/invocation/{{id}}/response"),
                post(response),
            )
            .route(
                &format!("{API_PREFIX}/runtime/invocation/{{id}}/error"),
                post(invocation_error),
            )
            .route(
                &format!("{API_PREFIX}/runtime/init/error"),
                post(init_error),
            )
            .with_state(Arc::clone(&shared));
        let server = serve(router, 0).await?;
        Ok(Self { shared, server })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.server.local_addr().to_string()
    }

    /// The ARN handed out as `Lambda-Runtime-Invoked-Function-Arn`.
    pub fn function_arn(&self) -> &str {
        &self.shared.function_arn
    }

    /// When the first `GET /next` arrived (the function finished its init).
    pub fn first_next(&self) -> Option<Instant> {
        self.shared.first_next.get().copied()
    }

    /// How many `GET /next` calls have arrived.
    pub fn next_calls(&self) -> u64 {
        self.shared.next_calls.load(Ordering::Relaxed)
    }

    /// The init error the function reported, if it did.
    pub fn init_error(&self) -> Option<Answer> {
        lock(&self.shared.init_error).clone()
    }

    /// Queues `event` with `timeout` as its deadline and waits for the function's answer. It
    /// waits no longer than the deadline plus a second (the service would stop the function
    /// then); `None` when no answer came.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Option<Answer> {
        if let Some(failed) = self.init_error() {
            return Some(failed);
        }
        let n = self.shared.sequence.fetch_add(1, Ordering::Relaxed);
        let request_id = format!("8f5e0c1a-0000-4000-8000-{n:012x}");
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.in_flight).insert(request_id.clone(), tx);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let pending = Pending {
            trace_id: format!(
                "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
                now_ms / 1000,
                n + 1,
                n + 1
            ),
            request_id,
            event,
            deadline_ms: now_ms + timeout.as_millis() as u64,
        };
        if self.shared.sender.send(pending).is_err() {
            return None;
        }
        let failed = self.shared.init_failed.notified();
        tokio::select! {
            answer = tokio::time::timeout(timeout + Duration::from_secs(1), rx) => {
                answer.ok().and_then(Result::ok)
            }
            () = failed => self.init_error(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn body_value(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let _ = shared.first_next.set(Instant::now());
    shared.next_calls.fetch_add(1, Ordering::Relaxed);
    let pending = shared.events.lock().await.recv().await;
    let Some(p) = pending else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the emulator stopped").into_response();
    };
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", header(&p.request_id));
    headers.insert(
        "lambda-runtime-deadline-ms",
        header(&p.deadline_ms.to_string()),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        header(&shared.function_arn),
    );
    headers.insert("lambda-runtime-trace-id", header(&p.trace_id));
    (StatusCode::OK, headers, axum::Json(p.event)).into_response()
}

fn answer(shared: &Shared, id: &str, answer: Answer) -> Response {
    match lock(&shared.in_flight).remove(id) {
        Some(waiting) => {
            let _ = waiting.send(answer);
            accepted()
        }
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "errorMessage": format!("Invalid request ID: {id}"),
                "errorType": "InvalidRequestID",
            })),
        )
            .into_response(),
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    answer(&shared, &id, Answer::Response(body_value(&body)))
}

async fn invocation_error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error = Answer::Error {
        error_type: error_type(&headers),
        body: body_value(&body),
    };
    answer(&shared, &id, error)
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    *lock(&shared.init_error) = Some(Answer::InitError {
        error_type: error_type(&headers),
        body: body_value(&body),
    });
    shared.init_failed.notify_waiters();
    accepted()
}

/// A function binary running against a [`RuntimeApi`], its stdout (logs and EMF lines)
/// collected.
#[derive(Debug)]
pub struct FunctionProcess {
    child: tokio::process::Child,
    pid: u32,
    spawned: Instant,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// Another target's build it runs (see [`BINARY_DIR_VAR`]), in words; `None` for the
    /// test's own binary.
    build: Option<String>,
}

/// The Lambda service's own variables, as it sets them for a function with `memory_mb`.
pub fn lambda_env(api: &RuntimeApi, function_name: &str, memory_mb: u32) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api.address()),
        ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function_name}"),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/12/03/[$LATEST]0123456789abcdef".to_owned(),
        ),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_rust".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Names a folder of function binaries built for another target (the arm64 build the template
/// deploys) to run instead of the test's own: the binary of the same file name from there.
pub const BINARY_DIR_VAR: &str = "LEDGERFORCE_FUNCTION_BINARY_DIR";

/// With [`BINARY_DIR_VAR`]: the program (and its arguments, split at spaces) that runs those
/// binaries, e.g. `qemu-aarch64-static -L /usr/aarch64-linux-gnu`.
pub const RUNNER_VAR: &str = "LEDGERFORCE_FUNCTION_RUNNER";

/// The command that starts `binary`: itself, or (with [`BINARY_DIR_VAR`]) its namesake of that
/// folder through [`RUNNER_VAR`], said in words for the footprint line. A missing namesake is
/// an error, not a fallback.
fn function_command(binary: &str) -> std::io::Result<(tokio::process::Command, Option<String>)> {
    let Some(dir) = std::env::var_os(BINARY_DIR_VAR).filter(|d| !d.is_empty()) else {
        return Ok((tokio::process::Command::new(binary), None));
    };
    let name = std::path::Path::new(binary)
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no binary name"))?;
    let other = std::path::Path::new(&dir).join(name);
    if !other.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{BINARY_DIR_VAR}: {} does not exist", other.display()),
        ));
    }
    let runner = std::env::var(RUNNER_VAR).unwrap_or_default();
    let mut build = format!("the build in {}", std::path::Path::new(&dir).display());
    let mut words = runner.split_whitespace();
    let command = match words.next() {
        Some(program) => {
            build = format!("{build}, run by {}", runner.trim());
            let mut command = tokio::process::Command::new(program);
            command.args(words).arg(other);
            command
        }
        None => tokio::process::Command::new(other),
    };
    Ok((command, Some(build)))
}

impl FunctionProcess {
    /// Starts `binary` with exactly `env` (nothing inherited from the test process); see
    /// [`BINARY_DIR_VAR`] for running another target's build of it.
    pub fn spawn(binary: &str, env: &[(String, String)]) -> std::io::Result<Self> {
        let (mut command, build) = function_command(binary)?;
        command
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let spawned = Instant::now();
        let mut child = command.spawn()?;
        let pid = child.id().unwrap_or_default();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = child.stdout.take() {
            tokio::spawn(collect(pipe, Arc::clone(&stdout)));
        }
        if let Some(pipe) = child.stderr.take() {
            tokio::spawn(collect(pipe, Arc::clone(&stderr)));
        }
        Ok(Self {
            build,
            child,
            pid,
            spawned,
            stdout,
            stderr,
        })
    }

    /// Waits (up to `limit`) for the function's first `GET /next`, and returns the init time:
    /// spawn to that request. `None` if the process exited or did not get there in time.
    pub async fn wait_ready(&mut self, api: &RuntimeApi, limit: Duration) -> Option<Duration> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some(at) = api.first_next() {
                return Some(at.duration_since(self.spawned));
            }
            if api.init_error().is_some() || !self.running() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        None
    }

    /// Invokes `event` through `api` and waits for the answer, or fails as soon as the
    /// process exits without one.
    pub async fn invoke(
        &mut self,
        api: &RuntimeApi,
        event: Value,
        timeout: Duration,
    ) -> Result<Answer, String> {
        tokio::select! {
            answer = api.invoke(event, timeout) => {
                answer.ok_or_else(|| format!("no answer within {timeout:?}"))
            }
            status = self.child.wait() => {
                Err(format!("the function exited ({status:?}) before answering"))
            }
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Whether the process exits within `limit` (a function reports its init error to the
    /// Runtime API first and exits after); when it does, its output has been read.
    pub async fn exited_within(&mut self, limit: Duration) -> bool {
        if tokio::time::timeout(limit, self.child.wait())
            .await
            .is_err()
        {
            return false;
        }
        self.output_read().await;
        true
    }

    /// Waits (briefly) for the output readers to reach EOF once the process is gone.
    async fn output_read(&self) {
        for _ in 0..100 {
            if Arc::strong_count(&self.stdout) == 1 && Arc::strong_count(&self.stderr) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The process's peak resident set size in KiB (`VmHWM` of `/proc/<pid>/status`).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// What the process wrote to stdout so far.
    pub fn stdout(&self) -> String {
        lock(&self.stdout).clone()
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }

    /// The EMF documents (JSON lines with `_aws`) the process wrote so far.
    pub fn emf_documents(&self) -> Vec<Value> {
        emf_lines(&self.stdout())
    }

    /// Stops the process (SIGKILL: a Lambda sandbox is frozen and discarded, never asked) and
    /// waits for it and for its output to be read.
    pub async fn stop(mut self) -> String {
        let _ = self.child.kill().await;
        // The readers end at EOF, right after the process is gone.
        self.output_read().await;
        self.stdout()
    }
}

/// What a function run measured and answered.
#[derive(Debug)]
pub struct FunctionRun {
    /// One answer per event, in order.
    pub answers: Vec<Answer>,
    /// Spawn to the first `GET /next`.
    pub init: Duration,
    /// Spawn to the first event's answer (the init time when no event was sent).
    pub first_answer: Duration,
    /// `VmHWM` after the last answer.
    pub peak_rss_kib: u64,
    /// Everything the process wrote to stdout: JSON logs and EMF lines.
    pub stdout: String,
}

impl FunctionRun {
    /// The EMF documents the run wrote.
    pub fn emf_documents(&self) -> Vec<Value> {
        emf_lines(&self.stdout)
    }

    /// The EMF document of `flow` whose directive has the metric `metric` (and `side`, for
    /// `ApiCalls`), from the `n`th invocation (each invocation writes one of each).
    pub fn emf(&self, flow: &str, metric: &str, side: Option<&str>, n: usize) -> Option<Value> {
        self.emf_documents()
            .into_iter()
            .filter(|d| d["Flow"] == flow && d.get(metric).is_some())
            .filter(|d| side.is_none_or(|s| d["Side"] == s))
            .nth(n)
    }
}

fn emf_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect()
}

/// The memory size the footprint runs declare (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
pub const MEMORY_MB: u32 = 256;

/// Starts `binary` as the function `name` with `env` against a fresh [`RuntimeApi`], invokes
/// each of `events` in turn, reads the peak memory, stops it, and prints the footprint line
/// (`footprint NAME: init … ms, first event answered … ms, peak RSS … MiB`). Panics with the
/// process's output when it does not start or does not answer: the test then fails with the
/// reason.
pub async fn run_function(
    binary: &str,
    name: &str,
    env: Vec<(String, String)>,
    events: Vec<Value>,
) -> FunctionRun {
    let api = RuntimeApi::start(name)
        .await
        .expect("the Runtime API emulator");
    let mut all = lambda_env(&api, name, MEMORY_MB);
    all.extend(env);
    let mut process = FunctionProcess::spawn(binary, &all).expect("the function binary starts");
    let Some(init) = process.wait_ready(&api, Duration::from_secs(60)).await else {
        let init_error = api.init_error();
        let out = process.stop().await;
        panic!("{name} never asked for an event (init error: {init_error:?})\n{out}");
    };
    let mut answers = Vec::new();
    let mut first_answer = None;
    for event in events {
        match process.invoke(&api, event, Duration::from_secs(60)).await {
            Ok(answer) => {
                first_answer.get_or_insert_with(|| process.spawned.elapsed());
                answers.push(answer);
            }
            Err(why) => {
                let err = process.stderr();
                let out = process.stop().await;
                panic!("{name}: {why}\nstdout:\n{out}\nstderr:\n{err}");
            }
        }
    }
    let peak_rss_kib = process.peak_rss_kib().unwrap_or_default();
    let build = process
        .build
        .as_ref()
        .map(|b| format!(" ({b})"))
        .unwrap_or_default();
    let stdout = process.stop().await;
    let first_answer = first_answer.unwrap_or(init);
    eprintln!(
        "footprint {name}: init {:.1} ms, first event answered {:.1} ms, peak RSS {:.1} MiB{build}",
        init.as_secs_f64() * 1000.0,
        first_answer.as_secs_f64() * 1000.0,
        peak_rss_kib as f64 / 1024.0
    );
    FunctionRun {
        answers,
        init,
        first_answer,
        peak_rss_kib,
        stdout,
    }
}

async fn collect(mut pipe: impl tokio::io::AsyncRead + Unpin, into: Arc<Mutex<String>>) {
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => lock(&into).push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
}

/// Events in the shapes the Lambda service delivers them.
pub mod events {
    use serde_json::{Value, json};

    /// One SQS record of a batch: `message_id`, `body`, and how often it was received.
    pub fn sqs_record(queue: &str, message_id: &str, body: &str, receive_count: u32) -> Value {
        json!({
            "messageId": message_id,
            "receiptHandle": format!("AQEB{message_id}"),
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": receive_count.to_string(),
                "SentTimestamp": "1772359200120",
                "SenderId": "AROAEXAMPLE:ledgerforce-salesforce-webhook",
                "ApproximateFirstReceiveTimestamp": "1772359200150"
            },
            "messageAttributes": {},
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{queue}"),
            "awsRegion": "us-east-1"
        })
    }

    /// An SQS event source mapping's batch.
    pub fn sqs_batch(records: Vec<Value>) -> Value {
        json!({ "Records": records })
    }

    /// An API Gateway HTTP API (payload format 2.0) request with a text body.
    pub fn http_api(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Value {
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), json!(v)))
            .collect();
        json!({
            "version": "2.0",
            "routeKey": format!("{method} {path}"),
            "rawPath": path,
            "rawQueryString": "",
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "a1b2c3d4e5",
                "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "a1b2c3d4e5",
                "http": {
                    "method": method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "13.108.0.1",
                    "userAgent": "ledgerforce-test"
                },
                "requestId": "JKJaXmPLvHcESHA=",
                "routeKey": format!("{method} {path}"),
                "stage": "$default",
                "time": "03/Dec/2026:14:00:00 +0000",
                "timeEpoch": 1_796_306_400_000_i64
            },
            "body": body,
            "isBase64Encoded": false
        })
    }

    /// A scheduled event (`detail-type: Scheduled Event`) fired at `time` (RFC 3339) by the
    /// schedule `schedule`.
    pub fn scheduled(time: &str, schedule: &str) -> Value {
        json!({
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": time,
            "region": "us-east-1",
            "resources": [format!("arn:aws:scheduler:us-east-1:123456789012:schedule/default/{schedule}")],
            "detail": {}
        })
    }
}

/// Messages in the batch of [`run_idempotent_flow_batch`]: the footprint benchmark's batch of
/// 10, and SQS's most per receive.
pub const FLOW_BATCH: usize = 10;

/// The runtime test every idempotent SQS flow shares: `binary` gets one batch of
/// [`FLOW_BATCH`] messages, the changes of `good` (`m-good-0` …, `FLOW_BATCH - 2` of them),
/// the change of `busy` (`m-busy`, whose idempotency key another delivery holds: call
/// [`crate::deployment::Deployment::hold_change`] first) and a body that is no change
/// envelope (`m-unreadable`). Checks what every such flow answers: exactly `m-busy` to
/// redeliver; the unreadable body parked, so acknowledged; the batch's EMF document in the
/// `Ledgerforce` namespace with every good change synced, 1 parked, 1 failed, no echo, and
/// API calls on both sides. Returns the run for the flow's own checks.
pub async fn run_idempotent_flow_batch(
    d: &crate::deployment::Deployment,
    binary: &str,
    flow: lf_domain::Flow,
    good: Vec<lf_domain::RecordRef>,
    busy: lf_domain::RecordRef,
) -> FunctionRun {
    use crate::deployment::change_body;
    use lf_domain::port::ParkedFailures;
    assert_eq!(
        good.len() + 2,
        FLOW_BATCH,
        "a flow batch of {FLOW_BATCH} needs {} good changes",
        FLOW_BATCH - 2
    );
    let queue = format!("{}-{}", d.prefix, flow.as_str());
    let synced = good.len();
    let mut records: Vec<Value> = good
        .into_iter()
        .enumerate()
        .map(|(i, r)| events::sqs_record(&queue, &format!("m-good-{i}"), &change_body(flow, r), 1))
        .collect();
    records.push(events::sqs_record(
        &queue,
        "m-busy",
        &change_body(flow, busy),
        1,
    ));
    records.push(events::sqs_record(&queue, "m-unreadable", "{\"v\":1,", 1));
    let batch = events::sqs_batch(records);
    let run = run_function(binary, flow.as_str(), d.process_env(), vec![batch]).await;
    let Answer::Response(response) = &run.answers[0] else {
        panic!(
            "expected a response, got {:?}\n{}",
            run.answers[0], run.stdout
        );
    };
    assert_eq!(
        response,
        &json!({"batchItemFailures": [{"itemIdentifier": "m-busy"}]}),
        "{}",
        run.stdout
    );
    let parked = d.cold_start().await.parked().count_by_flow().await.unwrap();
    assert_eq!(parked.get(&flow), Some(&1), "{parked:?}");
    let metrics = run
        .emf(flow.as_str(), "RecordsSynced", None, 0)
        .expect("the batch's EMF document");
    assert_eq!(
        metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Ledgerforce"
    );
    assert_eq!(
        (
            &metrics["RecordsSynced"],
            &metrics["Parked"],
            &metrics["Failed"],
            &metrics["EchoesSkipped"]
        ),
        (&json!(synced), &json!(1), &json!(1), &json!(0)),
        "{metrics}"
    );
    for side in ["salesforce", "intacct"] {
        let calls = run
            .emf(flow.as_str(), "ApiCalls", Some(side), 0)
            .expect("ApiCalls per side");
        assert!(calls["ApiCalls"].as_u64().unwrap() >= 1, "{calls}");
    }
    run
}
