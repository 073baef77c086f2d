//! Token endpoint and sessions over HTTP.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use lf_sandbox_salesforce::DataSet;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{start, urlencode};

#[tokio::test]
async fn jwt_bearer_token_then_data_call() {
    let org = start(DataSet::Empty).await;
    let creds = org.sandbox.credentials();
    let exp = chrono::Utc::now().timestamp() + 180;
    let claims = json!({"iss": creds.consumer_key, "sub": creds.username, "aud": org.sandbox.base_url(), "exp": exp});
    let key = EncodingKey::from_rsa_pem(creds.private_key_pem.as_bytes()).unwrap();
    let assertion = encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap();
    let resp = org
        .http
        .post(format!("{}/services/oauth2/token", org.sandbox.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type={}&assertion={assertion}",
            urlencode("urn:ietf:params:oauth:grant-type:jwt-bearer")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["instance_url"], org.sandbox.base_url());
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap();
    let resp = org
        .http
        .get(format!(
            "{}/services/data/v62.0/limits",
            org.sandbox.base_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["sforce-limit-info"].to_str().unwrap(),
        "api-usage=1/100000"
    );
}

#[tokio::test]
async fn bad_audience_is_invalid_grant() {
    let org = start(DataSet::Empty).await;
    let creds = org.sandbox.credentials();
    let claims = json!({"iss": creds.consumer_key, "sub": creds.username, "aud": "https://elsewhere.example", "exp": chrono::Utc::now().timestamp() + 60});
    let key = EncodingKey::from_rsa_pem(creds.private_key_pem.as_bytes()).unwrap();
    let assertion = encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap();
    let resp = org
        .http
        .post(format!("{}/services/oauth2/token", org.sandbox.base_url()))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "audience is invalid"})
    );
}

#[tokio::test]
async fn client_credentials_with_basic_auth() {
    let org = start(DataSet::Empty).await;
    let creds = org.sandbox.credentials();
    let resp = org
        .http
        .post(format!("{}/services/oauth2/token", org.sandbox.base_url()))
        .basic_auth(&creds.consumer_key, Some(&creds.consumer_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["access_token"].as_str().unwrap().len() > 20);
    assert_eq!(
        org.sandbox.tokens_issued(),
        2,
        "one by issue_token, one here"
    );
}

#[tokio::test]
async fn missing_wrong_and_expired_sessions_get_401() {
    let org = start(DataSet::Empty).await;
    let url = format!("{}/services/data/v62.0/sobjects", org.sandbox.base_url());
    let resp = org.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
    let resp = org
        .http
        .get(&url)
        .bearer_auth("00Dnope!AQxyz")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(org.get("/sobjects").await.status, StatusCode::OK);
    org.sandbox.expire_sessions();
    let r = org.get("/sobjects").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), "INVALID_SESSION_ID");
    assert_eq!(org.sandbox.api_calls(), 1, "refused calls are not counted");
    let fresh = org.sandbox.issue_token();
    let resp = org.http.get(&url).bearer_auth(fresh).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_org_clock_decides_jwt_expiry_and_stamps() {
    use std::sync::Arc;
    let later = chrono::DateTime::parse_from_rfc3339("2031-06-01T12:00:00Z")
        .unwrap()
        .to_utc();
    let org = crate::support::start_with(lf_sandbox_salesforce::SandboxConfig {
        clock: Arc::new(lf_domain::ManualClock::new(later)),
        ..Default::default()
    })
    .await;
    let creds = org.sandbox.credentials();
    let key = EncodingKey::from_rsa_pem(creds.private_key_pem.as_bytes()).unwrap();
    let sign = |exp: i64| {
        encode(
            &Header::new(Algorithm::RS256),
            &json!({"iss": creds.consumer_key, "sub": creds.username, "aud": "https://test.salesforce.com", "exp": exp}),
            &key,
        )
        .unwrap()
    };
    let post = |assertion: String| {
        org.http
            .post(format!("{}/services/oauth2/token", org.sandbox.base_url()))
            .form(&[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
                ),
                ("assertion", assertion),
            ])
            .send()
    };
    // Valid by the wall clock, expired by the org's.
    let r = post(sign(chrono::Utc::now().timestamp() + 180))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error_description"], "expired authorization code");
    let r = post(sign(later.timestamp() + 180)).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let id = org
        .post("/sobjects/Account", json!({"Name": "Future"}))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        org.sandbox.record(&id).unwrap()["CreatedDate"],
        "2031-06-01T12:00:00.000+0000"
    );
    let today = org
        .query("SELECT COUNT() FROM Account WHERE CreatedDate = TODAY")
        .await
        .json();
    assert_eq!(today["totalSize"], 1);
}

#[tokio::test]
async fn identity_url_answers_with_the_user() {
    let org = start(DataSet::Empty).await;
    let creds = org.sandbox.credentials();
    let url = format!(
        "{}/id/{}/{}",
        org.sandbox.base_url(),
        creds.org_id,
        creds.user_id
    );
    let r = org
        .http
        .get(&url)
        .bearer_auth(&org.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["username"], creds.username.as_str());
    assert_eq!(
        org.http.get(&url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}
