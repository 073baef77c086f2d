//! SOAP `login()` at `/services/Soap/u/{version}`, as jsforce and simple-salesforce send it,
//! and HTTPS with the certificate the sandbox makes.

use lf_sandbox_salesforce::{DEMO_SECURITY_TOKEN, DataSet, Sandbox, SandboxConfig};
use reqwest::StatusCode;

use crate::support::start;

/// The envelope jsforce's `loginBySoap` sends (default namespace, `se:` prefix).
fn jsforce_login(username: &str, password: &str) -> String {
    format!(
        concat!(
            r#"<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/">"#,
            "<se:Header/><se:Body>",
            r#"<login xmlns="urn:partner.soap.sforce.com">"#,
            "<username>{}</username><password>{}</password>",
            "</login></se:Body></se:Envelope>"
        ),
        username, password
    )
}

fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..start + len])
}

async fn login(
    http: &reqwest::Client,
    base: &str,
    version: &str,
    body: String,
) -> (StatusCode, String) {
    let resp = http
        .post(format!("{base}/services/Soap/u/{version}"))
        .header("content-type", "text/xml")
        .header("SOAPAction", "login")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

#[tokio::test]
async fn login_returns_a_session_that_works_on_rest() {
    let org = start(DataSet::Empty).await;
    let base = org.sandbox.base_url();
    let creds = org.sandbox.credentials().clone();
    for password in [
        creds.password.clone(),
        format!("{}{DEMO_SECURITY_TOKEN}", creds.password),
    ] {
        let (status, xml) = login(
            &org.http,
            &base,
            "62.0",
            jsforce_login(&creds.username, &password),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{xml}");
        assert!(xml.contains("<loginResponse><result>"), "{xml}");
        let org15 = &creds.org_id[..15];
        assert_eq!(
            element(&xml, "serverUrl"),
            Some(format!("{base}/services/Soap/u/62.0/{org15}").as_str())
        );
        assert_eq!(element(&xml, "organizationId"), Some(creds.org_id.as_str()));
        assert_eq!(element(&xml, "userId"), Some(creds.user_id.as_str()));
        assert_eq!(element(&xml, "userName"), Some(creds.username.as_str()));
        let session = element(&xml, "sessionId").unwrap();
        let resp = org
            .http
            .get(format!(
                "{base}/services/data/v62.0/sobjects/Account/describe"
            ))
            .bearer_auth(session)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "the session id is a Bearer token"
        );
    }
}

#[tokio::test]
async fn bad_credentials_get_the_invalid_login_fault() {
    let org = start(DataSet::Empty).await;
    let base = org.sandbox.base_url();
    let creds = org.sandbox.credentials().clone();
    let before = org.sandbox.tokens_issued();
    for (user, password) in [
        (creds.username.as_str(), "wrong"),
        ("someone@else.example", creds.password.as_str()),
        (
            creds.username.as_str(),
            &*format!("{}WRONGTOKEN", creds.password),
        ),
    ] {
        let (status, xml) = login(&org.http, &base, "62.0", jsforce_login(user, password)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(element(&xml, "faultcode"), Some("sf:INVALID_LOGIN"));
        assert_eq!(
            element(&xml, "faultstring"),
            Some("INVALID_LOGIN: Invalid username, password, security token; or user locked out.")
        );
        assert_eq!(element(&xml, "sf:exceptionCode"), Some("INVALID_LOGIN"));
    }
    assert_eq!(
        org.sandbox.tokens_issued(),
        before,
        "no session for a refused login"
    );
    let (status, _) = login(
        &org.http,
        &base,
        "12.0",
        jsforce_login(&creds.username, &creds.password),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "versions the REST API does not answer"
    );
    let (status, xml) = login(&org.http, &base, "62.0", "<not-xml".to_owned()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(element(&xml, "faultcode"), Some("soapenv:Client"), "{xml}");
}

#[tokio::test]
async fn https_with_the_printed_ca_and_only_with_it() {
    let sandbox = Sandbox::start(SandboxConfig {
        tls: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let base = sandbox.base_url();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let ca = reqwest::Certificate::from_pem(sandbox.tls_ca_pem().unwrap().as_bytes()).unwrap();
    let trusting = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let creds = sandbox.credentials().clone();
    let (status, xml) = login(
        &trusting,
        &base,
        "62.0",
        jsforce_login(&creds.username, &creds.password),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    assert!(
        element(&xml, "serverUrl")
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    let resp = trusting
        .get(format!("{base}/services/data/v62.0/limits"))
        .bearer_auth(sandbox.issue_token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // A client that does not trust the sandbox's CA is refused at the handshake...
    let stranger = reqwest::Client::new();
    assert!(
        stranger
            .get(format!("{base}/services/data"))
            .send()
            .await
            .is_err()
    );
    // ...and plain HTTP on the HTTPS port gets no answer, while the server keeps serving.
    let plain = base.replace("https://", "http://");
    assert!(
        stranger
            .get(format!("{plain}/services/data"))
            .send()
            .await
            .is_err()
    );
    let again = trusting
        .get(format!("{base}/services/data"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    sandbox.shutdown().await;
}
