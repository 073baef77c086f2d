//! The client against a scripted gateway on loopback: each test says what the next answers
//! are, and checks what the client sent. This pins the client's own rules (retries, session
//! renewal, what is never resent) independently of the sandbox. Every scripted answer is one
//! the real gateway gives (protocols.md part B); where a test feeds something the gateway is
//! not documented to do (results out of order, a result missing), it says so.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use lf_domain::{Classify, EntityId, ErrorClass, IdempotencyKey, RetryPolicy};
use lf_intacct::xml::parse_document;
use lf_intacct::{
    Batch, CreateOutcome, Credentials, Function, IdempotentCreate, IntacctClient, IntacctConfig,
    IntacctError, Lookup, Query, Reason, XmlElement,
};
use secrecy::SecretString;
use tokio::sync::watch;

/// What the fake saw in one request.
#[derive(Debug, Clone)]
struct Seen {
    body: String,
    control_ids: Vec<String>,
    functions: Vec<String>,
    session: Option<String>,
    login_entity: Option<Option<String>>,
    unique_id: bool,
    transaction: bool,
}

impl Seen {
    fn parse(body: String) -> Self {
        let root = parse_document(body.as_bytes()).expect("client sent well-formed XML");
        let op = root.find("operation").expect("operation");
        let content = op.find("content").expect("content");
        let auth = op.find("authentication").expect("authentication");
        Seen {
            control_ids: content
                .children()
                .iter()
                .map(|f| f.attribute("controlid").unwrap_or_default().to_owned())
                .collect(),
            functions: content
                .children()
                .iter()
                .map(|f| f.children()[0].name().to_owned())
                .collect(),
            session: auth.field("sessionid").map(str::to_owned),
            login_entity: auth
                .find("login")
                .map(|l| l.field("locationid").map(str::to_owned)),
            unique_id: root.path(&["control", "uniqueid"]).map(XmlElement::text) == Some("true"),
            transaction: op.attribute("transaction") == Some("true"),
            body,
        }
    }
}

struct Reply {
    status: u16,
    body: String,
    retry_after: Option<&'static str>,
}

type Responder = Box<dyn Fn(&Seen) -> Reply + Send + Sync>;

#[derive(Default)]
struct Gateway {
    script: Mutex<VecDeque<Responder>>,
    seen: Mutex<Vec<Seen>>,
    sessions: AtomicUsize,
    in_flight: AtomicUsize,
    /// The most calls seen in flight at once.
    peak: watch::Sender<usize>,
    /// When set, each call is held until this many calls have been in flight at once, so a
    /// test gets overlapping calls by signal rather than by sleeping.
    hold_until_peak: Mutex<Option<usize>>,
    /// Answer getAPISession's sign-in with HTTP 401 `XMLGW_JPP0002`.
    refuse_sign_in: AtomicBool,
    /// The endpoint getAPISession hands out; the fake's own URL when `None`.
    session_endpoint: Mutex<Option<String>>,
    url: Mutex<String>,
}

impl Gateway {
    fn then(&self, r: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> &Self {
        self.script.lock().unwrap().push_back(Box::new(r));
        self
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Requests other than getAPISession.
    fn calls(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.functions != ["getAPISession"])
            .collect()
    }
}

const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?><response><control><status>success</status><senderid>t</senderid><controlid>r</controlid><uniqueid>false</uniqueid><dtdversion>3.0</dtdversion></control>"#;

fn auth_ok(entity: &str) -> String {
    format!(
        "<authentication><status>success</status><userid>u</userid><companyid>c</companyid><locationid>{entity}</locationid><sessiontimestamp>2025-01-01T00:00:00+00:00</sessiontimestamp><sessiontimeout>2099-01-01T00:00:00+00:00</sessiontimeout></authentication>"
    )
}

fn ok(results: &str) -> Reply {
    Reply {
        status: 200,
        body: format!(
            "{HEAD}<operation>{}{results}</operation></response>",
            auth_ok("")
        ),
        retry_after: None,
    }
}

fn success(function: &str, control_id: &str, data: &str) -> String {
    format!(
        "<result><status>success</status><function>{function}</function><controlid>{control_id}</controlid>{data}</result>"
    )
}

fn failure(function: &str, control_id: &str, errorno: &str, text: &str) -> String {
    format!(
        "<result><status>failure</status><function>{function}</function><controlid>{control_id}</controlid><errormessage><error><errorno>{errorno}</errorno><description>{text}</description><description2></description2><correction></correction></error></errormessage></result>"
    )
}

/// Success for every function of the request, with empty data.
fn all_ok(seen: &Seen) -> Reply {
    ok(&seen
        .functions
        .iter()
        .zip(&seen.control_ids)
        .map(|(f, id)| {
            success(
                f,
                id,
                r#"<data listtype="x" count="0" totalcount="0" numremaining="0"/>"#,
            )
        })
        .collect::<String>())
}

fn status(code: u16, body: &str) -> Reply {
    Reply {
        status: code,
        body: body.to_owned(),
        retry_after: None,
    }
}

fn invalid_session() -> Reply {
    Reply {
        status: 200,
        body: format!(
            "{HEAD}<operation><authentication><status>failure</status><userid></userid><companyid></companyid></authentication><errormessage><error><errorno>XL03000006</errorno><description></description><description2>Invalid session</description2><correction></correction></error></errormessage></operation></response>"
        ),
        retry_after: None,
    }
}

/// The gateway's HTTP 401 body (protocols.md B1).
const HTTP_401: &str = r#"<?xml version="1.0" encoding="UTF-8"?><response><control><status>failure</status></control><errormessage><error><errorno>XMLGW_JPP0002</errorno><description>Sign-in information is incorrect. Please check your request.</description></error></errormessage></response>"#;

const GW_0010: &str = r#"<?xml version="1.0" encoding="UTF-8"?><response><control><status>failure</status></control><errormessage><error><errorno>GW-0010</errorno><description>Too many requests</description></error></errormessage></response>"#;

async fn handle(State(gw): State<Arc<Gateway>>, body: String) -> Response {
    let seen = Seen::parse(body);
    let now = gw.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    gw.peak.send_if_modified(|peak| {
        let higher = now > *peak;
        if higher {
            *peak = now;
        }
        higher
    });
    let hold = *gw.hold_until_peak.lock().unwrap();
    if let Some(at_once) = hold {
        let mut peak = gw.peak.subscribe();
        peak.wait_for(|p| *p >= at_once).await.unwrap();
    }
    let reply = if seen.functions == ["getAPISession"] && gw.refuse_sign_in.load(Ordering::SeqCst) {
        status(401, HTTP_401)
    } else if seen.functions == ["getAPISession"] {
        let n = gw.sessions.fetch_add(1, Ordering::SeqCst) + 1;
        let endpoint = gw
            .session_endpoint
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| gw.url.lock().unwrap().clone());
        let entity = seen.login_entity.clone().flatten().unwrap_or_default();
        Reply {
            status: 200,
            body: format!(
                "{HEAD}<operation>{}{}</operation></response>",
                auth_ok(&entity),
                success(
                    "getAPISession",
                    &seen.control_ids[0],
                    &format!(
                        "<data><api><sessionid>sess-{n}</sessionid><endpoint>{endpoint}</endpoint><locationid>{entity}</locationid></api></data>"
                    )
                )
            ),
            retry_after: None,
        }
    } else {
        let next = gw.script.lock().unwrap().pop_front();
        match next {
            Some(r) => r(&seen),
            None => all_ok(&seen),
        }
    };
    gw.seen.lock().unwrap().push(seen);
    gw.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut resp = (
        StatusCode::from_u16(reply.status).unwrap(),
        [("content-type", "text/xml; encoding=\"UTF-8\"")],
        reply.body,
    )
        .into_response();
    if let Some(after) = reply.retry_after {
        resp.headers_mut()
            .insert("retry-after", after.parse().unwrap());
    }
    resp
}

async fn start() -> (Arc<Gateway>, String) {
    let gw = Arc::new(Gateway::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/ia/xml/xmlgw.phtml",
        listener.local_addr().unwrap()
    );
    *gw.url.lock().unwrap() = url.clone();
    let app = axum::Router::new()
        .route("/ia/xml/xmlgw.phtml", post(handle))
        .with_state(gw.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (gw, url)
}

fn config(url: &str) -> IntacctConfig {
    let mut c = IntacctConfig::new(
        url,
        Credentials {
            sender_id: "lf-sender".into(),
            sender_password: SecretString::from("sender-secret"),
            company_id: "northwind-demo".into(),
            user_id: "lf_api".into(),
            user_password: SecretString::from("user-secret"),
        },
    );
    c.retry = RetryPolicy {
        base: Duration::from_millis(1),
        cap: Duration::from_millis(5),
        max_attempts: 5,
    };
    c.request_timeout = Duration::from_secs(10);
    c
}

async fn client() -> (Arc<Gateway>, IntacctClient) {
    let (gw, url) = start().await;
    (gw, IntacctClient::new(config(&url)).unwrap())
}

#[tokio::test]
async fn opens_a_session_by_login_then_uses_it() {
    let (gw, client) = client().await;
    client
        .call(None, Function::lookup("CUSTOMER"))
        .await
        .unwrap();
    client
        .call(None, Function::lookup("ARINVOICE"))
        .await
        .unwrap();
    let seen = gw.seen();
    assert_eq!(seen.len(), 3, "one getAPISession, two calls");
    assert_eq!(seen[0].functions, ["getAPISession"]);
    assert_eq!(seen[0].login_entity, Some(None), "login at the top level");
    assert!(seen[0].body.contains("<password>user-secret</password>"));
    assert_eq!(seen[1].session.as_deref(), Some("sess-1"));
    assert_eq!(seen[2].session.as_deref(), Some("sess-1"), "session reused");
    assert!(
        !seen[1].body.contains("user-secret"),
        "no user password with a session"
    );
    assert!(!seen[1].unique_id, "reads go with uniqueid=false");
    assert_eq!(client.stats().sessions_opened, 1);
}

#[tokio::test]
async fn invalid_session_signs_in_again_once() {
    let (gw, client) = client().await;
    gw.then(|_| invalid_session());
    client
        .call(None, Function::lookup("CUSTOMER"))
        .await
        .unwrap();
    let seen = gw.seen();
    let sessions: Vec<Option<&str>> = seen.iter().map(|s| s.session.as_deref()).collect();
    assert_eq!(sessions, [None, Some("sess-1"), None, Some("sess-2")]);
    assert_eq!(client.stats().reauthentications, 1);

    // Refused again right after signing in: reported, not looped.
    gw.then(|_| invalid_session()).then(|_| invalid_session());
    let err = client.call(None, Function::lookup("X")).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::AuthExpired);
    assert_eq!(client.stats().reauthentications, 2);
}

#[tokio::test]
async fn http_401_renews_the_session() {
    let (gw, client) = client().await;
    gw.then(|_| status(401, HTTP_401));
    client
        .call(None, Function::lookup("CUSTOMER"))
        .await
        .unwrap();
    assert_eq!(client.stats().sessions_opened, 2);
}

#[tokio::test]
async fn a_sign_in_refused_with_http_401_is_permanent_and_sent_once() {
    let (gw, client) = client().await;
    gw.refuse_sign_in.store(true, Ordering::SeqCst);
    let err = client
        .call(None, Function::lookup("CUSTOMER"))
        .await
        .unwrap_err();
    // A new session cannot heal wrong credentials: no caller should "refresh and retry".
    assert_eq!(err.class(), ErrorClass::Permanent, "{err}");
    assert_eq!(err.reason(), Some(Reason::BadCredentials), "{err}");
    assert!(err.to_string().contains("XMLGW_JPP0002"), "{err}");
    assert_eq!(gw.seen().len(), 1, "one sign-in, no call on a session");
}

#[tokio::test]
async fn throttling_is_retried_with_retry_after_and_gw_0010() {
    let (gw, client) = client().await;
    gw.then(|_| Reply {
        status: 429,
        body: GW_0010.into(),
        retry_after: Some("0"),
    })
    .then(|_| status(200, GW_0010))
    .then(|_| status(429, ""));
    client
        .call(None, Function::lookup("CUSTOMER"))
        .await
        .unwrap();
    assert_eq!(gw.calls().len(), 4);
    let stats = client.stats();
    assert_eq!(stats.throttled, 3);
    assert_eq!(stats.retries, 3);
}

#[tokio::test]
async fn throttling_gives_up_after_the_policy_attempts() {
    let (gw, client) = client().await;
    for _ in 0..5 {
        gw.then(|_| status(429, GW_0010));
    }
    let err = client.call(None, Function::lookup("X")).await.unwrap_err();
    assert!(matches!(err.class(), ErrorClass::Throttled { .. }), "{err}");
    assert_eq!(gw.calls().len(), 5, "max_attempts = 5");
}

#[tokio::test]
async fn retries_stop_at_the_deadline_and_honour_retry_after() {
    let (gw, client) = client().await;
    client.session(None).await.unwrap();
    // The gateway asks for 30 s; only 5 s are left: give up now rather than overrun.
    let bounded = client.with_deadline(lf_domain::Deadline::after(Duration::from_secs(5)));
    gw.then(|_| Reply {
        status: 429,
        body: GW_0010.into(),
        retry_after: Some("30"),
    });
    let err = bounded.call(None, Function::lookup("X")).await.unwrap_err();
    assert_eq!(
        err.class(),
        ErrorClass::Throttled {
            retry_after: Some(Duration::from_secs(30))
        }
    );
    assert_eq!(gw.calls().len(), 1, "no retry past the deadline");

    // A deadline already passed allows no retry even for a short backoff.
    let expired = client.with_deadline(lf_domain::Deadline::after(Duration::ZERO));
    gw.then(|_| status(503, ""));
    assert!(expired.call(None, Function::lookup("Y")).await.is_err());
    assert_eq!(gw.calls().len(), 2);
}

#[tokio::test]
async fn server_errors_resend_reads_but_not_writes_and_never_524() {
    let (gw, client) = client().await;
    gw.then(|_| status(502, "<html>bad gateway</html>"));
    client
        .call(None, Function::lookup("CUSTOMER"))
        .await
        .unwrap();
    assert_eq!(gw.calls().len(), 2, "a read is resent after 502");

    gw.then(|_| status(502, ""));
    let mut batch = Batch::new();
    batch.push(Function::delete("CLASS", ["5"]).unwrap());
    let err = client.execute(None, &batch).await.unwrap_err();
    assert!(err.maybe_applied());
    assert!(matches!(err, IntacctError::HttpStatus { status: 502, .. }));
    assert_eq!(gw.calls().len(), 3, "a write is not resent blindly");
    assert!(gw.calls()[2].unique_id, "writes go with uniqueid=true");

    gw.then(|_| status(524, ""));
    let err = client.call(None, Function::lookup("X")).await.unwrap_err();
    assert!(matches!(err, IntacctError::HttpStatus { status: 524, .. }));
    assert_eq!(gw.calls().len(), 4, "524 is never resent");
}

#[tokio::test]
async fn batch_results_are_matched_by_controlid_not_position() {
    let (gw, client) = client().await;
    gw.then(|seen| {
        // The gateway answers in request order (protocols.md B4); reversed here so that only
        // matching by controlid can pass. The second function fails on its own: no
        // transaction, so the others still run.
        let ids = &seen.control_ids;
        ok(&format!(
            "{}{}{}",
            success(
                "create",
                &ids[2],
                r#"<data listtype="objects" count="1"><class><RECORDNO>3</RECORDNO></class></data>"#
            ),
            failure(
                "create",
                &ids[1],
                "BL34000061",
                "Another Class with the given value(s) B already exists"
            ),
            success(
                "create",
                &ids[0],
                r#"<data listtype="objects" count="1"><class><RECORDNO>1</RECORDNO></class></data>"#
            ),
        ))
    });
    let mut batch = Batch::new();
    let class = |id: &str| XmlElement::new("CLASS").child(XmlElement::with_text("CLASSID", id));
    let a = batch.push(Function::create([class("A")]));
    let b = batch.push(Function::create([class("B")]));
    let c = batch.push(Function::create([class("C")]));
    let out = client.execute(None, &batch).await.unwrap();
    assert!(!gw.calls()[0].transaction);
    assert_eq!(out.succeeded(), 2);
    assert_eq!(
        out.get(&a).unwrap().as_ref().unwrap().records[0].field("RECORDNO"),
        Some("1")
    );
    assert!(out.get(&b).unwrap().is_err());
    assert_eq!(
        out.get(&c).unwrap().as_ref().unwrap().records[0].field("RECORDNO"),
        Some("3")
    );
}

#[tokio::test]
async fn missing_result_is_reported_per_function() {
    let (gw, client) = client().await;
    // Not documented gateway behaviour: a defence against a short answer.
    gw.then(|seen| ok(&success("lookup", &seen.control_ids[0], "")));
    let mut batch = Batch::new();
    batch.push(Function::lookup("A"));
    let second = batch.push(Function::lookup("B"));
    let out = client.execute(None, &batch).await.unwrap();
    assert!(matches!(
        out.get(&second),
        Some(Err(IntacctError::Protocol { .. }))
    ));
}

#[tokio::test]
async fn concurrency_cap_holds_under_parallel_calls() {
    let (gw, client) = client().await;
    // Open the session first so only the calls themselves overlap.
    client.session(None).await.unwrap();
    // Each call is held until two are in flight at once: the cap must let two through, and
    // with it, the calls finish only because the cap is used.
    *gw.hold_until_peak.lock().unwrap() = Some(2);
    let calls: Vec<_> = (0..8)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.call(None, Function::lookup(&format!("O{i}"))).await })
        })
        .collect();
    let all = async {
        for c in calls {
            c.await.unwrap().unwrap();
        }
    };
    // A guard against a cap of one holding every call forever, not a timing assertion.
    tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("two calls were let through at once");
    assert_eq!(gw.calls().len(), 8);
    assert_eq!(*gw.peak.borrow(), 2, "the default cap is 2, and it is used");
}

#[tokio::test]
async fn entity_sessions_are_separate_and_sign_in_to_the_entity() {
    let (gw, client) = client().await;
    let us = EntityId::parse("US").unwrap();
    let eu = EntityId::parse("EU").unwrap();
    client.call(Some(&us), Function::lookup("A")).await.unwrap();
    client.call(Some(&eu), Function::lookup("A")).await.unwrap();
    client.call(Some(&us), Function::lookup("B")).await.unwrap();
    client.call(None, Function::lookup("C")).await.unwrap();
    let logins: Vec<Option<String>> = gw
        .seen()
        .iter()
        .filter_map(|s| s.login_entity.clone())
        .collect();
    assert_eq!(logins, [Some("US".into()), Some("EU".into()), None]);
    let opened = gw.seen();
    assert!(
        opened[0]
            .body
            .contains("<getAPISession><locationid>US</locationid></getAPISession>")
    );
    let sessions = client.sessions().await;
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions[0].entity, None);
    let calls = gw.calls();
    assert_eq!(calls[0].session, calls[2].session, "US reuses its session");
    assert_ne!(calls[0].session, calls[1].session);
}

#[tokio::test]
async fn a_foreign_session_endpoint_is_not_followed() {
    let (gw, client) = client().await;
    // Same host, other port: if followed, the call would hit a closed port and fail.
    *gw.session_endpoint.lock().unwrap() = Some("http://127.0.0.1:1/ia/xml/xmlgw.phtml".into());
    client
        .call(None, Function::lookup("CUSTOMER"))
        .await
        .unwrap();
    let info = client.session(None).await.unwrap();
    assert!(!info.endpoint.contains(":1/"), "{}", info.endpoint);
}

#[tokio::test]
async fn paging_follows_offsets_until_nothing_remains() {
    let (gw, client) = client().await;
    let page = |offset: usize, n: usize, remaining: usize| {
        move |seen: &Seen| {
            assert!(
                seen.body.contains(&format!("<offset>{offset}</offset>")),
                "{}",
                seen.body
            );
            let rows: String = (offset..offset + n)
                .map(|i| format!("<CUSTOMER><RECORDNO>{i}</RECORDNO></CUSTOMER>"))
                .collect();
            ok(&success(
                "query",
                &seen.control_ids[0],
                &format!(
                    r#"<data listtype="CUSTOMER" count="{n}" totalcount="5" offset="{offset}" numremaining="{remaining}">{rows}</data>"#
                ),
            ))
        }
    };
    gw.then(page(0, 2, 3))
        .then(page(2, 2, 1))
        .then(page(4, 1, 0));
    let q = Query::new("CUSTOMER", ["RECORDNO"]).page_size(2);
    let all = client.query_all(None, &q).await.unwrap();
    let nos: Vec<&str> = all.iter().filter_map(|r| r.field("RECORDNO")).collect();
    assert_eq!(nos, ["0", "1", "2", "3", "4"]);
}

#[tokio::test]
async fn a_page_that_promises_more_but_gives_nothing_is_an_error() {
    let (gw, client) = client().await;
    gw.then(|seen| {
        ok(&success(
            "query",
            &seen.control_ids[0],
            r#"<data listtype="CUSTOMER" count="0" totalcount="5" offset="0" numremaining="5"/>"#,
        ))
    });
    let q = Query::new("CUSTOMER", ["RECORDNO"]);
    let err = client.query_all(None, &q).await.unwrap_err();
    assert!(matches!(err, IntacctError::Protocol { .. }), "{err}");
}

fn lookup_reply(found: Option<&'static str>) -> impl Fn(&Seen) -> Reply {
    move |seen| {
        assert_eq!(seen.functions, ["query"]);
        let rows = found
            .map(|no| format!("<CUSTOMER><RECORDNO>{no}</RECORDNO><SFDC_ACCOUNT_ID>0011U00000V0tkDQAR</SFDC_ACCOUNT_ID></CUSTOMER>"))
            .unwrap_or_default();
        let n = usize::from(found.is_some());
        ok(&success(
            "query",
            &seen.control_ids[0],
            &format!(
                r#"<data listtype="CUSTOMER" count="{n}" totalcount="{n}" offset="0" numremaining="0">{rows}</data>"#
            ),
        ))
    }
}

fn customer_create(key: &IdempotencyKey) -> IdempotentCreate {
    IdempotentCreate {
        key: key.clone(),
        function: Function::create([XmlElement::new("CUSTOMER")
            .child(XmlElement::with_text("NAME", "Acme"))
            .child(XmlElement::with_text(
                "SFDC_ACCOUNT_ID",
                "0011U00000V0tkDQAR",
            ))]),
        lookup: Lookup::new("CUSTOMER", "SFDC_ACCOUNT_ID", "0011U00000V0tkDQAR"),
    }
}

#[tokio::test]
async fn idempotent_create_lost_answer_is_resolved_by_lookup() {
    let (gw, client) = client().await;
    let key = IdempotencyKey::derive("account-onboarding", &["0011U00000V0tkDQAR"]).unwrap();
    gw.then(lookup_reply(None))
        .then(|_| status(502, ""))
        .then(lookup_reply(Some("77")));
    let out = client
        .create_idempotent(None, customer_create(&key))
        .await
        .unwrap();
    assert!(matches!(out, CreateOutcome::Recovered(_)), "{out:?}");
    assert_eq!(out.record_no(), Some("77"));
    let creates: Vec<Seen> = gw
        .calls()
        .into_iter()
        .filter(|s| s.functions == ["create"])
        .collect();
    assert_eq!(creates.len(), 1, "the create was sent once");
    assert_eq!(creates[0].control_ids, [key.as_str()]);
    assert!(creates[0].unique_id);
    assert_eq!(client.stats().writes_recovered, 1);
}

#[tokio::test]
async fn idempotent_create_resends_the_same_controlid_when_nothing_was_made() {
    let (gw, client) = client().await;
    let key = IdempotencyKey::derive("account-onboarding", &["x"]).unwrap();
    gw.then(lookup_reply(None))
        .then(|_| status(503, ""))
        .then(lookup_reply(None))
        .then(|seen| {
            ok(&success(
                "create",
                &seen.control_ids[0],
                r#"<data listtype="objects" count="1"><customer><RECORDNO>78</RECORDNO></customer></data>"#,
            ))
        });
    let out = client
        .create_idempotent(None, customer_create(&key))
        .await
        .unwrap();
    assert_eq!(out.record_no(), Some("78"));
    assert!(matches!(out, CreateOutcome::Created(_)));
    let creates: Vec<Vec<String>> = gw
        .calls()
        .into_iter()
        .filter(|s| s.functions == ["create"])
        .map(|s| s.control_ids)
        .collect();
    assert_eq!(creates, [vec![key.to_string()], vec![key.to_string()]]);
}

#[tokio::test]
async fn idempotent_create_finds_what_exists_and_resolves_duplicates() {
    let (gw, client) = client().await;
    let key = IdempotencyKey::derive("account-onboarding", &["y"]).unwrap();
    gw.then(lookup_reply(Some("5")));
    let out = client
        .create_idempotent(None, customer_create(&key))
        .await
        .unwrap();
    assert!(matches!(out, CreateOutcome::AlreadyExisted(_)));
    assert!(gw.calls().iter().all(|s| s.functions != ["create"]));

    // Not visible to the first lookup, then refused as a duplicate: found by the second.
    gw.then(lookup_reply(None))
        .then(|seen| {
            ok(&failure(
                "create",
                &seen.control_ids[0],
                "BL34000061",
                "Another Customer with the given value(s) C-1 already exists",
            ))
        })
        .then(lookup_reply(Some("6")));
    let out = client
        .create_idempotent(None, customer_create(&key))
        .await
        .unwrap();
    assert_eq!(out.record_no(), Some("6"));

    // A plain validation failure is reported as is, without a second lookup.
    gw.then(lookup_reply(None)).then(|seen| {
        ok(&failure(
            "create",
            &seen.control_ids[0],
            "BL01001973",
            "Name is required",
        ))
    });
    let before = gw.calls().len();
    let err = client
        .create_idempotent(None, customer_create(&key))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(gw.calls().len(), before + 2);
}

#[tokio::test]
async fn secrets_never_appear_in_errors_or_debug() {
    let (gw, client) = client().await;
    for _ in 0..5 {
        gw.then(|_| status(500, ""));
    }
    let err = client.call(None, Function::lookup("X")).await.unwrap_err();
    let shown = format!("{err} {err:?} {client:?} {:?}", client.sessions().await);
    for secret in ["sender-secret", "user-secret", "sess-1"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
}

fn linked_create(link: &str) -> IdempotentCreate {
    IdempotentCreate {
        key: IdempotencyKey::derive("account-onboarding", &[link]).unwrap(),
        function: Function::create([XmlElement::new("CUSTOMER")
            .child(XmlElement::with_text("NAME", link))
            .child(XmlElement::with_text("SFDC_ACCOUNT_ID", link))]),
        lookup: Lookup::new("CUSTOMER", "SFDC_ACCOUNT_ID", link),
    }
}

/// A lookup answer holding one CUSTOMER per `(RECORDNO, SFDC_ACCOUNT_ID)`.
fn linked_rows(rows: &'static [(&'static str, &'static str)]) -> impl Fn(&Seen) -> Reply {
    move |seen| {
        assert_eq!(seen.functions, ["query"], "one batched lookup query");
        let body: String = rows
            .iter()
            .map(|(no, link)| {
                format!("<CUSTOMER><RECORDNO>{no}</RECORDNO><SFDC_ACCOUNT_ID>{link}</SFDC_ACCOUNT_ID></CUSTOMER>")
            })
            .collect();
        let n = rows.len();
        ok(&success(
            "query",
            &seen.control_ids[0],
            &format!(
                r#"<data listtype="CUSTOMER" count="{n}" totalcount="{n}" offset="0" numremaining="0">{body}</data>"#
            ),
        ))
    }
}

#[tokio::test]
async fn a_lost_batch_answer_resends_only_the_creates_that_are_missing() {
    let (gw, client) = client().await;
    let requests = [
        linked_create("A1"),
        linked_create("B2"),
        linked_create("C3"),
    ];
    gw.then(linked_rows(&[]))
        .then(|_| status(502, ""))
        // Two of the three committed before the answer was lost.
        .then(linked_rows(&[("11", "A1"), ("12", "B2")]))
        .then(|seen| {
            ok(&success(
                "create",
                &seen.control_ids[0],
                r#"<data listtype="objects" count="1"><customer><RECORDNO>13</RECORDNO></customer></data>"#,
            ))
        });
    let out = client
        .create_idempotent_batch(None, &requests)
        .await
        .unwrap();
    let got: Vec<(bool, Option<&str>)> = out
        .iter()
        .map(|o| {
            let o = o.as_ref().unwrap();
            (matches!(o, CreateOutcome::Recovered(_)), o.record_no())
        })
        .collect();
    assert_eq!(
        got,
        [(true, Some("11")), (true, Some("12")), (false, Some("13"))],
        "each caller gets its own record"
    );
    let calls = gw.calls();
    assert_eq!(calls.len(), 4, "lookup, create, lookup, create");
    let keys = |i: usize| requests[i].key.to_string();
    assert_eq!(calls[1].control_ids, [keys(0), keys(1), keys(2)]);
    assert!(calls[1].unique_id);
    assert_eq!(
        calls[3].control_ids,
        [keys(2)],
        "only the missing one again"
    );
    assert!(
        calls[2].body.contains("<in><field>SFDC_ACCOUNT_ID</field><value>A1</value><value>B2</value><value>C3</value></in>"),
        "{}",
        calls[2].body
    );
    assert_eq!(client.stats().writes_recovered, 2);
}
