//! The fuzz harness: what each fuzz target does with one input, and the properties it checks.
//!
//! The cargo-fuzz targets in `fuzz/` call these functions with the fuzzer's bytes; the corpus
//! test (`tests/corpus.rs`) calls them with every file of `corpus/<target>/` (seeds, and the
//! inputs that once failed, kept as regressions). A broken property is a panic, which is how
//! libFuzzer recognises a finding.
//!
//! The webhook targets go through [`Intake::handle`], the entry point of both webhook functions,
//! so they reach the parsers behind the same checks a real request meets: the callout target
//! signs each input with the intake's key, the Smart Event target puts the intake's token into
//! each JSON object, so that the parsers see the bytes rather than a signature refusal.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lf_domain::port::queue::{MAX_MESSAGE_BYTES, check_batch};
use lf_domain::port::{OutgoingMessage, Queue, QueueDepth, ReceiptHandle, ReceivedMessage};
use lf_domain::{ChangeEnvelope, Flow, ManualClock, PortError, SalesforceId};
use lf_intacct::SmartEventVerifier;
use lf_intake::{
    FlowQueues, Intake, IntakeConfig, RoutingTable, SIGNATURE_HEADER, SalesforceWebhookConfig,
    TIMESTAMP_HEADER, WebhookRequest, WebhookResponse, sign_callout,
};
use lf_mapping::SpecBundle;
use secrecy::SecretString;

/// The Outbound Message token of the harness (a fuzzing value, not any org's secret).
pub const SF_TOKEN: &str = "fuzz-outbound-token-6c1e";
/// The callout HMAC key of the harness.
pub const CALLOUT_KEY: &str = "fuzz-callout-key-9a4d";
/// The Smart Event token of the harness.
pub const IA_TOKEN: &str = "fuzz-smart-event-token-2f7b";
/// The one org the harness accepts.
pub const ORG_ID: &str = "00D000000000001";
/// The moment the harness's clock shows; callouts are signed at it.
pub const NOW: &str = "2026-03-01T09:00:00Z";

/// The folder of the shipped specs' shared definitions.
const LIBRARY: &str = "library/";

/// Where an input ended: the parsers' word, without the detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted: parsed (and for a webhook, answered 200 with its changes queued).
    Accepted,
    /// Refused with a clear error (for a webhook, a 4xx and nothing queued).
    Refused,
}

/// A fuzz target: its name (the folder of its corpus, the name of its cargo-fuzz binary) and
/// what it does with one input.
pub type Target = (&'static str, fn(&[u8]) -> Verdict);

/// Every target.
pub const TARGETS: [Target; 5] = [
    ("outbound_message", outbound_message),
    ("flow_callout", flow_callout),
    ("smart_event", smart_event),
    ("intacct_response", intacct_response),
    ("mapping_spec", mapping_spec),
];

/// An Outbound Message posted to `/salesforce/<token>`.
pub fn outbound_message(data: &[u8]) -> Verdict {
    let path = format!("/salesforce/{SF_TOKEN}");
    webhook(WebhookRequest::post(
        &path,
        "text/xml; charset=utf-8",
        data.to_vec(),
    ))
}

/// A Flow callout posted to `/salesforce`, signed with the harness's key at [`NOW`].
pub fn flow_callout(data: &[u8]) -> Verdict {
    let timestamp = now().timestamp().to_string();
    let signature = sign_callout(&SecretString::from(CALLOUT_KEY), &timestamp, data);
    let mut req = WebhookRequest::post("/salesforce", "application/json", data.to_vec());
    for (name, value) in [
        (TIMESTAMP_HEADER, timestamp),
        (SIGNATURE_HEADER, format!("sha256={signature}")),
    ] {
        if let Ok(v) = value.parse() {
            req.headers.insert(name, v);
        }
    }
    webhook(req)
}

/// A Smart Event posted to `/intacct`: a JSON object gets the harness's token (so the fields
/// are read), anything else is posted as it is (and must be refused).
pub fn smart_event(data: &[u8]) -> Verdict {
    let body = match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.insert("token".into(), IA_TOKEN.into());
            serde_json::Value::Object(map).to_string().into_bytes()
        }
        _ => data.to_vec(),
    };
    webhook(WebhookRequest::post("/intacct", "application/json", body))
}

/// An XML gateway response body.
pub fn intacct_response(data: &[u8]) -> Verdict {
    match lf_intacct::parse_response(data) {
        Ok(response) => {
            // Whatever parsed can be shown (the connector logs responses at debug).
            assert!(!format!("{response:?}").is_empty());
            Verdict::Accepted
        }
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an error without a message");
            Verdict::Refused
        }
    }
}

/// One file of the shipped mapping specs replaced, and compiled with the library files: the
/// first byte picks the file (in [`SpecBundle::files`] order, modulo their number), the rest is
/// its new text. So the fuzzer mutates a real spec with the definitions it refers to beside it
/// (the other flows' specs are left out: they only slow each run down).
pub fn mapping_spec(data: &[u8]) -> Verdict {
    let Some((&pick, text)) = data.split_first() else {
        return Verdict::Refused;
    };
    let shipped = SpecBundle::shipped();
    let replaced = usize::from(pick) % shipped.len().max(1);
    let mut bundle = SpecBundle::new();
    for (i, (name, original)) in shipped.files().enumerate() {
        if i == replaced {
            bundle.insert(name, String::from_utf8_lossy(text));
        } else if name.starts_with(LIBRARY) {
            bundle.insert(name, original);
        }
    }
    match bundle.compile() {
        Ok(_) => Verdict::Accepted,
        Err(e) => {
            assert!(
                !e.to_string().trim().is_empty(),
                "a refused spec without a message"
            );
            Verdict::Refused
        }
    }
}

/// The inputs a target starts from: the files of `corpus/<target>/` (by file name), and for
/// `mapping_spec` each shipped spec file unchanged, named `accept-<file>`.
///
/// A file named `accept-…` must be [`Verdict::Accepted`], `refuse-…` [`Verdict::Refused`];
/// any other (an input a fuzzer once failed on) must only pass the target's checks.
pub fn seeds(target: &str) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut out = Vec::new();
    if dir.is_dir() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_file() {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push((name, std::fs::read(&path)?));
            }
        }
    }
    if target == "mapping_spec" {
        for (i, (name, text)) in SpecBundle::shipped().files().enumerate() {
            let mut data = vec![u8::try_from(i).unwrap_or(u8::MAX)];
            data.extend_from_slice(text.as_bytes());
            out.push((format!("accept-{}", name.replace('/', "-")), data));
        }
    }
    out.sort();
    Ok(out)
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .map(|t| t.to_utc())
        .unwrap_or_default()
}

/// Serves one request with a fresh intake over counting queues and checks the answer: 200 with
/// well-formed envelopes queued, or a 4xx with nothing queued; no secret in the answer.
fn webhook(req: WebhookRequest) -> Verdict {
    let sink = Sink::default();
    let mut sf = SalesforceWebhookConfig::new(
        SalesforceId::parse(ORG_ID).into_iter().collect(),
        SecretString::from(SF_TOKEN),
    );
    sf.callout_key = Some(SecretString::from(CALLOUT_KEY));
    let Ok(verifier) = SmartEventVerifier::new(SecretString::from(IA_TOKEN)) else {
        unreachable!("the harness token is not empty")
    };
    let config = IntakeConfig {
        routes: RoutingTable::standard(),
        salesforce: Some(sf),
        intacct: Some(verifier),
    };
    let queues = Flow::ALL
        .iter()
        .fold(FlowQueues::new(), |q, flow| q.with(*flow, sink.clone()));
    let intake = match Intake::new(config, queues, Arc::new(ManualClock::new(now()))) {
        Ok(intake) => intake,
        Err(e) => unreachable!("the harness configuration is refused: {e}"),
    };
    let sent = req.body.clone();
    let answer = run(intake.handle(req));
    check(&answer, &sink, &sent)
}

/// `sent` is the request body: a refusal may quote the sender's own bytes (a parse error shows
/// where it stopped), so a secret the sender put there is no leak; any other is.
fn check(answer: &WebhookResponse, sink: &Sink, sent: &[u8]) -> Verdict {
    let sent = String::from_utf8_lossy(sent);
    for secret in [SF_TOKEN, CALLOUT_KEY, IA_TOKEN]
        .into_iter()
        .filter(|s| !sent.contains(s))
    {
        assert!(
            !answer.body.contains(secret),
            "the answer ({}) shows a secret: {}",
            answer.status,
            answer.body
        );
    }
    let queued = sink.sent.load(Ordering::SeqCst);
    match answer.status {
        200 => {
            for body in sink.bodies() {
                assert!(body.len() <= MAX_MESSAGE_BYTES, "an oversized message");
                if let Err(e) = serde_json::from_str::<ChangeEnvelope>(&body) {
                    unreachable!("a queued message is not a change envelope ({e}): {body}");
                }
            }
            Verdict::Accepted
        }
        400..=499 => {
            assert_eq!(queued, 0, "refused with {} yet queued", answer.status);
            assert!(!answer.body.trim().is_empty(), "a refusal without a reason");
            Verdict::Refused
        }
        other => unreachable!("bad input answered {other}: {}", answer.body),
    }
}

/// Drives a future that never waits on anything (the intake over [`Sink`] queues) to its end.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    unreachable!("the intake waited on something the harness does not provide")
}

/// A queue that keeps what is sent to it, for the checks; nothing is received from it.
#[derive(Debug, Clone, Default)]
struct Sink {
    sent: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    fn bodies(&self) -> Vec<String> {
        self.bodies
            .lock()
            .map(|b| b.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

impl Queue for Sink {
    async fn send_batch(&self, messages: &[OutgoingMessage]) -> Result<(), PortError> {
        check_batch(messages)?;
        self.sent.fetch_add(messages.len(), Ordering::SeqCst);
        if let Ok(mut b) = self.bodies.lock() {
            b.extend(messages.iter().map(|m| m.body.clone()));
        }
        Ok(())
    }

    async fn receive(
        &self,
        _max: u32,
        _visibility: Duration,
        _wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        Ok(Vec::new())
    }

    async fn delete(&self, _receipt: &ReceiptHandle) -> Result<(), PortError> {
        Ok(())
    }

    async fn change_visibility(
        &self,
        _receipt: &ReceiptHandle,
        _visibility: Duration,
    ) -> Result<(), PortError> {
        Ok(())
    }

    async fn depth(&self) -> Result<QueueDepth, PortError> {
        Ok(QueueDepth::default())
    }
}
