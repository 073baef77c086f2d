//! A small client for the tests: a started org plus a token.

use lf_sandbox_salesforce::{DataSet, Sandbox, SandboxConfig};
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const V: &str = "v62.0";

pub struct Org {
    pub sandbox: Sandbox,
    pub token: String,
    pub http: reqwest::Client,
}

pub async fn start(seed: DataSet) -> Org {
    start_with(SandboxConfig {
        seed,
        ..Default::default()
    })
    .await
}

pub async fn start_with(config: SandboxConfig) -> Org {
    let sandbox = Sandbox::start(config).await.expect("sandbox starts");
    let token = sandbox.issue_token();
    Org {
        sandbox,
        token,
        http: reqwest::Client::new(),
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// The first errorCode of a REST error array.
    pub fn error_code(&self) -> String {
        self.json()[0]["errorCode"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

impl Org {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("/services") {
            format!("{}{path}", self.sandbox.base_url())
        } else {
            format!("{}/services/data/{V}{path}", self.sandbox.base_url())
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send_with(method, path, body, &[]).await
    }

    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request reaches the sandbox");
        Reply {
            status: resp.status(),
            headers: resp.headers().clone(),
            text: resp.text().await.unwrap(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn query(&self, soql: &str) -> Reply {
        let url = format!("/query?q={}", urlencode(soql));
        self.get(&url).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
