//! Bad input and bad authentication: each answered 4xx, nothing queued, no secret logged.
//!
//! Its own test binary: the log capture is a thread-scoped tracing subscriber, and another
//! test of the same binary hitting the same log call sites at the same moment can leave them
//! cached as uninteresting, so the capture would miss lines.

// A failed setup step should stop the test loudly; the helpers are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../intake/support.rs"]
mod support;

use lf_domain::{Flow, System};
use lf_intake::{SIGNATURE_HEADER, TIMESTAMP_HEADER, TOKEN_HEADER, sign_callout};
use secrecy::SecretString;

use crate::support::{CALLOUT_KEY, IA_TOKEN, SF_TOKEN, Store, capture_logs, intake, serve};

const ORG: &str = "00D000000000001EAA";

/// An Outbound Message of one Opportunity notification from `org`, in the documented format.
fn outbound(org: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.invalid/services/Soap/c/62.0/{org}</EnterpriseUrl>
   <PartnerUrl>https://example.invalid/services/Soap/u/62.0/{org}</PartnerUrl>
   <Notification>
    <Id>04l000000000001AAA</Id>
    <sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>006000000000001AAA</sf:Id>
     <sf:SystemModstamp>2026-02-03T04:05:06.000Z</sf:SystemModstamp>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#
    )
}

const CALLOUT: &str = r#"{"v":1,"org_id":"00D000000000001","events":[{"event_id":"ev-1","object":"Opportunity","id":"006000000000001AAA","modified_at":"2026-03-01T09:00:00.000+0000"}]}"#;

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&lol2;</soapenv:Body></soapenv:Envelope>"#;

const EXTERNAL_ENTITY: &str = r#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&xxe;</soapenv:Body></soapenv:Envelope>"#;

/// A Smart Event with the right token whose key (and what follows it) is `key_fields`.
fn smart_event(key_fields: &str) -> String {
    format!(
        r#"{{"v":1,"topic":"customer.changed","object":"CUSTOMER","event":"set",{key_fields},"entity":"","WHENMODIFIED":"03/14/2026 10:00:00","token":"{IA_TOKEN}"}}"#
    )
}

struct Post {
    what: &'static str,
    method: reqwest::Method,
    path: String,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn post(what: &'static str, path: &str, content_type: &'static str, body: String) -> Post {
    Post {
        what,
        method: reqwest::Method::POST,
        path: path.to_owned(),
        content_type: Some(content_type),
        headers: Vec::new(),
        body: body.into_bytes(),
    }
}

/// Bytes that are not UTF-8: `text` with its first `@` replaced by 0xFF 0xFE.
fn not_utf8(text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    if let Some(at) = bytes.iter().position(|b| *b == b'@') {
        bytes.splice(at..=at, [0xFF, 0xFE]);
    }
    bytes
}

fn signed(what: &'static str, body: &str, at: i64, key: &str) -> Post {
    signed_bytes(what, body.as_bytes(), at, key)
}

fn signed_bytes(what: &'static str, body: &[u8], at: i64, key: &str) -> Post {
    let ts = at.to_string();
    let sig = sign_callout(&SecretString::from(key), &ts, body);
    let mut p = post(what, "/salesforce", "application/json", String::new());
    p.body = body.to_vec();
    p.headers = vec![
        (TIMESTAMP_HEADER, ts),
        (SIGNATURE_HEADER, format!("sha256={sig}")),
    ];
    p
}

async fn send(http: &reqwest::Client, base: &str, p: &Post) -> (u16, String) {
    let mut req = http
        .request(p.method.clone(), format!("{base}{}", p.path))
        .body(p.body.clone());
    if let Some(ct) = p.content_type {
        req = req.header("content-type", ct);
    }
    for (k, v) in &p.headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

#[tokio::test]
async fn bad_input_and_bad_auth_are_refused_with_nothing_queued_and_no_secret_logged() {
    let (logs, _guard) = capture_logs();
    let store = Store::new();
    let base = serve(intake(&store, ORG)).await;
    let http = reqwest::Client::new();
    let now = chrono::Utc::now().timestamp();
    let token_path = format!("/salesforce/{SF_TOKEN}");
    // Far past serde_json's recursion limit: refused, not a stack overflow.
    let nested = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));

    let mut header_token = post(
        "wrong token header",
        "/salesforce",
        "text/xml",
        outbound(ORG),
    );
    header_token.headers = vec![(TOKEN_HEADER, format!("{SF_TOKEN}x"))];
    let mut unsigned = post(
        "unsigned callout",
        "/salesforce",
        "application/json",
        CALLOUT.into(),
    );
    unsigned.headers = vec![(TIMESTAMP_HEADER, now.to_string())];
    let mut bad_sig = signed("wrong HMAC", CALLOUT, now, "another-key-entirely");
    bad_sig.what = "wrong HMAC";
    let mut get = post("GET", &token_path, "text/xml", String::new());
    get.method = reqwest::Method::GET;
    let mut put = post("PUT", &token_path, "text/xml", outbound(ORG));
    put.method = reqwest::Method::PUT;
    let mut no_type = post("no content type", &token_path, "text/xml", outbound(ORG));
    no_type.content_type = None;
    let mut intacct_bad = post(
        "Smart Event with a wrong token",
        "/intacct",
        "application/json",
        format!(
            r#"{{"v":1,"topic":"customer.changed","object":"CUSTOMER","event":"set","key":"C-1","recordno":"1","entity":"","WHENMODIFIED":"03/14/2026 10:00:00","token":"{IA_TOKEN}-wrong"}}"#
        ),
    );
    intacct_bad.what = "Smart Event with a wrong token";

    let cases: Vec<(Post, u16)> = vec![
        (
            post(
                "wrong org",
                &token_path,
                "text/xml",
                outbound("00D000000000002"),
            ),
            403,
        ),
        (
            post(
                "wrong path token",
                &format!("/salesforce/{SF_TOKEN}x"),
                "text/xml",
                outbound(ORG),
            ),
            401,
        ),
        (
            post("missing token", "/salesforce", "text/xml", outbound(ORG)),
            401,
        ),
        (header_token, 401),
        (
            post(
                "malformed XML",
                &token_path,
                "text/xml",
                "<soapenv:Envelope><notifications>".into(),
            ),
            400,
        ),
        (
            post(
                "not XML at all",
                &token_path,
                "text/xml",
                "{\"v\":1}".into(),
            ),
            400,
        ),
        (
            post(
                "entity expansion",
                &token_path,
                "text/xml",
                BILLION_LAUGHS.into(),
            ),
            400,
        ),
        (
            post(
                "external entity",
                &token_path,
                "text/xml",
                EXTERNAL_ENTITY.into(),
            ),
            400,
        ),
        (unsigned, 401),
        (bad_sig, 401),
        (
            signed(
                "signed with the wrong timestamp",
                CALLOUT,
                now - 3600,
                CALLOUT_KEY,
            ),
            401,
        ),
        (
            signed("stale timestamp", CALLOUT, now - 301, CALLOUT_KEY),
            401,
        ),
        (
            signed("future timestamp", CALLOUT, now + 301, CALLOUT_KEY),
            401,
        ),
        (
            signed("malformed JSON", "{\"v\":1,\"org_id\":", now, CALLOUT_KEY),
            400,
        ),
        (signed("deeply nested JSON", &nested, now, CALLOUT_KEY), 400),
        (
            signed("JSON of another shape", "[1,2,3]", now, CALLOUT_KEY),
            400,
        ),
        (
            signed(
                "callout from a wrong org",
                &CALLOUT.replace("00D000000000001", "00D000000000002"),
                now,
                CALLOUT_KEY,
            ),
            403,
        ),
        (
            post(
                "oversized XML",
                &token_path,
                "text/xml",
                format!("{}{}", outbound(ORG), " ".repeat(70 * 1024)),
            ),
            413,
        ),
        (get, 405),
        (put, 405),
        (
            post(
                "wrong content type",
                &token_path,
                "text/plain",
                outbound(ORG),
            ),
            415,
        ),
        (no_type, 415),
        (
            post("unknown path", "/elsewhere", "text/xml", outbound(ORG)),
            404,
        ),
        (intacct_bad, 401),
        (
            post("Smart Event as XML", "/intacct", "text/xml", "<x/>".into()),
            415,
        ),
        (
            Post {
                body: not_utf8(&outbound(ORG).replace("<sf:Id>", "<sf:Id>@")),
                ..post(
                    "Outbound Message not UTF-8",
                    &token_path,
                    "text/xml",
                    String::new(),
                )
            },
            400,
        ),
        (
            signed_bytes(
                "callout not UTF-8",
                &not_utf8(&CALLOUT.replace("ev-1", "ev-@")),
                now,
                CALLOUT_KEY,
            ),
            400,
        ),
        (
            signed(
                "callout with a huge number",
                &CALLOUT.replace(r#""2026-03-01T09:00:00.000+0000""#, "1e999999"),
                now,
                CALLOUT_KEY,
            ),
            400,
        ),
        (
            signed(
                "callout with a number for an id",
                &CALLOUT.replace(r#""006000000000001AAA""#, "6000000000001"),
                now,
                CALLOUT_KEY,
            ),
            400,
        ),
        (
            signed(
                "callout replayed with its old signature",
                CALLOUT,
                now - 3_600,
                CALLOUT_KEY,
            ),
            401,
        ),
        (
            post(
                "Smart Event with an object for its key",
                "/intacct",
                "application/json",
                smart_event(r#""key":{"id":"C-1"},"recordno":"1""#),
            ),
            400,
        ),
        (
            post(
                "Smart Event with a huge number",
                "/intacct",
                "application/json",
                smart_event(r#""key":"C-1","recordno":1e999999"#),
            ),
            400,
        ),
        (
            Post {
                body: not_utf8(&smart_event(r#""key":"C-@","recordno":"1""#)),
                ..post(
                    "Smart Event not UTF-8",
                    "/intacct",
                    "application/json",
                    String::new(),
                )
            },
            400,
        ),
        (
            post(
                "Smart Event oversized",
                "/intacct",
                "application/json",
                "x".repeat(80 * 1024),
            ),
            413,
        ),
    ];
    for (case, want) in &cases {
        let (status, body) = send(&http, &base, case).await;
        assert_eq!(status, *want, "{}: {body}", case.what);
        assert!(
            !body.contains(SF_TOKEN) && !body.contains(IA_TOKEN),
            "{}",
            case.what
        );
        assert_eq!(
            store.total_depth().await,
            0,
            "{} queued something",
            case.what
        );
    }

    // The same requests done right are accepted: the refusals above were for the defect each
    // case names, not for the fixture.
    let ok = [
        post(
            "good Outbound Message",
            &token_path,
            "text/xml; charset=utf-8",
            outbound(ORG),
        ),
        signed("good callout", CALLOUT, now, CALLOUT_KEY),
        post(
            "good Smart Event",
            "/intacct",
            "application/json",
            smart_event(r#""key":"C-1","recordno":"1""#),
        ),
    ];
    for case in &ok {
        let (status, body) = send(&http, &base, case).await;
        assert_eq!(status, 200, "{}: {body}", case.what);
    }
    let (_, ack) = send(&http, &base, &ok[0]).await;
    assert!(ack.contains("<Ack>true</Ack>"), "{ack}");
    // Two Outbound Message posts and one callout, one Opportunity each.
    let won = store.take(Flow::OpportunityWon).await;
    assert_eq!(won.len(), 3, "{won:?}");
    // The Smart Event, on the flows an Intacct customer change goes to.
    let customer = store.take_all().await;
    assert!(
        !customer.is_empty() && customer.iter().all(|e| e.record.system == System::Intacct),
        "the good Smart Event was queued: {customer:?}"
    );
    assert_eq!(store.total_depth().await, 0);

    let text = logs.text();
    assert!(
        text.contains("webhook refused"),
        "the capture sees the handlers: {text}"
    );
    assert!(text.contains("webhook accepted"), "{text}");
    for secret in [SF_TOKEN, CALLOUT_KEY, IA_TOKEN] {
        assert!(
            !text.contains(secret),
            "{secret} appears in the log:\n{text}"
        );
    }
}
