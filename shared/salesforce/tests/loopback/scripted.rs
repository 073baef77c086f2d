//! Responses the sandbox does not produce, from a scripted loopback server: a Retry-After
//! given as an HTTP date, and a child subquery that comes back in two pages.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lf_domain::port::{RecordRead, SalesforcePort};
use lf_domain::{Classify, Deadline, ErrorClass, SalesforceId};
use lf_salesforce::{Credentials, SalesforceClient, SalesforceConfig, Select};
use secrecy::SecretString;
use serde_json::json;
use url::Url;

const OPP: &str = "006000000000001AAA";

#[derive(Clone)]
struct Script {
    base: String,
    queries: Arc<AtomicU32>,
    throttle: bool,
}

async fn token(State(s): State<Script>) -> Response {
    axum::Json(json!({"access_token": "scripted", "instance_url": s.base, "token_type": "Bearer"}))
        .into_response()
}

fn line(n: u32) -> serde_json::Value {
    json!({"attributes": {"type": "OpportunityLineItem"}, "Id": format!("00k00000000000{n}AAA"), "Quantity": n})
}

async fn query(State(s): State<Script>) -> Response {
    s.queries.fetch_add(1, Ordering::SeqCst);
    if s.throttle {
        let at = chrono::Utc::now() + chrono::Duration::seconds(120);
        let mut headers = HeaderMap::new();
        let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        headers.insert("retry-after", HeaderValue::from_str(&date).unwrap());
        let body = json!([{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"}]);
        return (StatusCode::TOO_MANY_REQUESTS, headers, axum::Json(body)).into_response();
    }
    axum::Json(json!({"totalSize": 1, "done": true, "records": [{
        "attributes": {"type": "Opportunity"}, "Id": OPP, "Name": "Paged",
        "OpportunityLineItems": {"totalSize": 3, "done": false,
            "nextRecordsUrl": "/services/data/v62.0/query/01gCHILD-2",
            "records": [line(1), line(2)]}}]}))
    .into_response()
}

async fn next(State(s): State<Script>) -> Response {
    s.queries.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({"totalSize": 3, "done": true, "records": [line(3)]})).into_response()
}

async fn serve(throttle: bool) -> (SalesforceClient, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let queries = Arc::new(AtomicU32::new(0));
    let script = Script {
        base: base.clone(),
        queries: queries.clone(),
        throttle,
    };
    let app = Router::new()
        .route("/services/oauth2/token", post(token))
        .route("/services/data/v62.0/query", get(query))
        .route("/services/data/v62.0/query/{cursor}", get(next))
        .with_state(script);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = SalesforceConfig::new(
        Url::parse(&base).unwrap(),
        Credentials::ClientCredentials {
            consumer_key: "scripted".into(),
            consumer_secret: SecretString::from("not-a-secret".to_owned()),
        },
    );
    (SalesforceClient::new(config).unwrap(), queries)
}

#[tokio::test]
async fn a_retry_after_date_beyond_the_deadline_ends_the_call_at_once() {
    let (sf, queries) = serve(true).await;
    let q = Select::new(&["Id"], "Account").build().unwrap();
    let err = sf
        .with_deadline(Deadline::after(Duration::from_secs(30)))
        .query(&q)
        .await
        .unwrap_err();
    // The HTTP date two minutes ahead is read as a wait of about two minutes, which does not
    // fit the 30 s left: no second request.
    match err.class() {
        ErrorClass::Throttled {
            retry_after: Some(wait),
        } => assert!(
            wait > Duration::from_secs(60) && wait <= Duration::from_secs(120),
            "{wait:?}"
        ),
        other => panic!("{other:?}: {err}"),
    }
    assert_eq!(queries.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_child_subquery_in_pages_is_read_to_the_end() {
    let (sf, queries) = serve(false).await;
    let read =
        RecordRead::new("Opportunity", &["Name"]).with_child("OpportunityLineItems", &["Quantity"]);
    let id = SalesforceId::parse(OPP).unwrap();
    let got = SalesforcePort::read_by_ids(&sf, &read, std::slice::from_ref(&id))
        .await
        .unwrap();
    let children = &got[&id]["OpportunityLineItems"];
    assert_eq!(children["done"], json!(true));
    let quantities: Vec<i64> = children["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["Quantity"].as_i64())
        .collect();
    assert_eq!(quantities, vec![1, 2, 3]);
    assert_eq!(queries.load(Ordering::SeqCst), 2);
}
