//! Authentication: both OAuth flows, the shared session, and expiry mid-run.

use std::sync::Arc;

use lf_domain::{Classify, ErrorClass};
use lf_salesforce::{Credentials, SalesforceClient, SalesforceError, Select};
use lf_sandbox_salesforce::SalesforceFault;
use secrecy::SecretString;
use serde_json::json;

use crate::support::{client, client_with, fields, jwt_config, org};

#[tokio::test]
async fn jwt_bearer_flow_authenticates_and_calls_the_api() {
    let org = org().await;
    let sf = client(&org);
    let id = sf
        .create("Account", &fields(json!({"Name": "JWT Co"})))
        .await
        .unwrap();
    assert_eq!(sf.token_requests(), 1);
    assert_eq!(org.tokens_issued(), 1);
    let rec = sf.get("Account", &id, &["Name"]).await.unwrap();
    assert_eq!(rec.text("Name").as_deref(), Some("JWT Co"));
    // One session served both calls.
    assert_eq!(sf.token_requests(), 1);
}

#[tokio::test]
async fn client_credentials_flow_authenticates() {
    let org = org().await;
    let c = org.credentials();
    let mut config = jwt_config(&org);
    config.credentials = Credentials::ClientCredentials {
        consumer_key: c.consumer_key.clone(),
        consumer_secret: SecretString::from(c.consumer_secret.clone()),
    };
    let sf = SalesforceClient::new(config).unwrap();
    sf.connect().await.unwrap();
    let q = Select::new(&["Id"], "Account").limit(1).build().unwrap();
    sf.query(&q).await.unwrap();
    assert_eq!(org.tokens_issued(), 1);
}

#[tokio::test]
async fn refused_credentials_are_a_permanent_auth_error() {
    let org = org().await;
    let sf = client_with(&org, |config| {
        if let Credentials::JwtBearer { audience, .. } = &mut config.credentials {
            *audience = Some("https://evil.example".into());
        }
    });
    let err = sf.connect().await.unwrap_err();
    match &err {
        SalesforceError::Auth {
            status,
            error,
            description,
        } => {
            assert_eq!(*status, 400);
            assert_eq!(error, "invalid_grant");
            assert_eq!(description, "audience is invalid");
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert_eq!(err.class(), ErrorClass::Permanent);

    let c = org.credentials();
    let mut config = jwt_config(&org);
    config.credentials = Credentials::ClientCredentials {
        consumer_key: c.consumer_key.clone(),
        consumer_secret: SecretString::from("wrong-secret"),
    };
    let err = SalesforceClient::new(config)
        .unwrap()
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, SalesforceError::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn token_expiry_mid_run_refreshes_once_and_retries_once() {
    let org = org().await;
    let sf = client(&org);
    let id = sf
        .create("Account", &fields(json!({"Name": "Before expiry"})))
        .await
        .unwrap();
    let calls_before = org.api_calls();

    org.expire_sessions();
    // The update gets 401 INVALID_SESSION_ID, re-authenticates, and is replayed once.
    sf.update("Account", &id, &fields(json!({"Name": "After expiry"})))
        .await
        .unwrap();
    assert_eq!(sf.token_requests(), 2);
    assert_eq!(org.tokens_issued(), 2);
    // The refused call does not count; the replay does.
    assert_eq!(org.api_calls(), calls_before + 1);
    assert_eq!(org.record(id.as_str()).unwrap()["Name"], "After expiry");
}

#[tokio::test]
async fn concurrent_tasks_share_one_refresh_after_expiry() {
    let org = org().await;
    let sf = client(&org);
    let id = sf
        .create("Account", &fields(json!({"Name": "Shared"})))
        .await
        .unwrap();
    org.expire_sessions();
    let id = Arc::new(id);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let sf = sf.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            sf.get("Account", &id, &["Name"])
                .await
                .map(|r| r.text("Name"))
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().as_deref(), Some("Shared"));
    }
    // Twelve tasks saw the 401; one token request replaced the session for all of them.
    assert_eq!(sf.token_requests(), 2);
    assert_eq!(org.tokens_issued(), 2);
}

#[tokio::test]
async fn a_second_401_after_the_refresh_is_reported_not_looped() {
    let org = org().await;
    let sf = client(&org);
    sf.connect().await.unwrap();
    // Two expiries in a row: the first call and its one replay are both refused.
    org.faults().inject_next(SalesforceFault::ExpireSessions, 2);
    let q = Select::new(&["Id"], "Account").build().unwrap();
    let err = sf.query(&q).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::AuthExpired);
    assert_eq!(
        err.api_failure().and_then(|f| f.code()),
        Some("INVALID_SESSION_ID")
    );
    assert_eq!(sf.token_requests(), 2);
    // The next call works with a fresh session.
    sf.query(&q).await.unwrap();
}
