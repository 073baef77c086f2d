//! Requests as plain values. Every operation first builds an [`ApiRequest`] (method, path on
//! the instance, query, headers, body), which tests inspect without a network; the client then
//! sends it. The response side is [`ApiResponse`].

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::HeaderMap;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::SalesforceError;

/// The HTTP methods the REST API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Patch,
    Put,
    Delete,
}

impl HttpMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Put => "PUT",
            HttpMethod::Delete => "DELETE",
        }
    }

    pub(crate) fn to_reqwest(self) -> reqwest::Method {
        match self {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Delete => reqwest::Method::DELETE,
        }
    }
}

/// A request body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "content", rename_all = "lowercase")]
pub enum RequestBody {
    Empty,
    Json(Value),
    Csv(String),
}

/// One REST call, before it is sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiRequest {
    method: HttpMethod,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: RequestBody,
    /// Whether sending it twice has the same effect as once (GET, PUT, DELETE, PATCH by id or
    /// external id). A request that is not is only replayed when the failure proves it was
    /// never applied.
    idempotent: bool,
    /// A short description for errors and logs: `upsert Account.Ext__c`.
    what: String,
}

impl ApiRequest {
    /// A request to `path` (absolute on the instance, starting with `/services/`).
    pub fn new(method: HttpMethod, path: impl Into<String>, what: impl Into<String>) -> Self {
        Self {
            idempotent: !matches!(method, HttpMethod::Post),
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: RequestBody::Empty,
            what: what.into(),
        }
    }

    pub fn with_query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn with_json(mut self, body: Value) -> Self {
        self.body = RequestBody::Json(body);
        self
    }

    pub fn with_csv(mut self, body: String) -> Self {
        self.body = RequestBody::Csv(body);
        self
    }

    /// Overrides whether the request may be replayed after an ambiguous failure.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    pub fn method(&self) -> HttpMethod {
        self.method
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn query(&self) -> &[(String, String)] {
        &self.query
    }

    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    pub fn body(&self) -> &RequestBody {
        &self.body
    }

    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    pub fn what(&self) -> &str {
        &self.what
    }

    /// The path and query as sent (the request URI whose length Salesforce limits).
    pub fn uri(&self) -> String {
        let mut uri = self.path.clone();
        if !self.query.is_empty() {
            uri.push('?');
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &self.query {
                ser.append_pair(k, v);
            }
            uri.push_str(&ser.finish());
        }
        uri
    }
}

/// A response with a success (or 300) status, body read.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl ApiResponse {
    /// Decodes the JSON body.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, SalesforceError> {
        serde_json::from_slice(&self.body).map_err(|e| SalesforceError::UnexpectedResponse {
            what: what.to_owned(),
            detail: format!("HTTP {} body is not the expected JSON: {e}", self.status),
        })
    }

    /// A header as text, when present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What a path segment may hold unescaped: RFC 3986 unreserved characters only, so an external
/// id value such as `A/B?c` cannot change the path.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment.
pub fn encode_segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// Checks an API name (object or field): a letter, then letters, digits and single underscores,
/// with `__c`-style suffixes and `ns__` prefixes allowed. Returned unchanged when valid.
pub fn check_api_name<'a>(kind: &str, name: &'a str) -> Result<&'a str, SalesforceError> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.ends_with('_')
        && name.len() <= 120;
    if valid {
        Ok(name)
    } else {
        Err(SalesforceError::InvalidInput(format!(
            "{name:?} is not a valid {kind} API name"
        )))
    }
}

/// Checks a field path (`Account.Owner.Name`): API names joined by dots.
pub fn check_field_path(path: &str) -> Result<&str, SalesforceError> {
    for part in path.split('.') {
        check_api_name("field", part)?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_fully_encoded() {
        assert_eq!(encode_segment("A/B?c#d e%"), "A%2FB%3Fc%23d%20e%25");
        assert_eq!(encode_segment("C-100_x.y~z"), "C-100_x.y~z");
        assert_eq!(encode_segment("Zoë"), "Zo%C3%AB");
    }

    #[test]
    fn api_names_are_checked() {
        assert!(check_api_name("object", "Account").is_ok());
        assert!(check_api_name("field", "SBQQ__Quote__c").is_ok());
        for bad in ["", "1Account", "Acc ount", "Name'--", "A/B", "Trailing_"] {
            assert!(check_api_name("field", bad).is_err(), "{bad}");
        }
        assert!(check_field_path("Account.Owner.Name").is_ok());
        assert!(check_field_path("Account..Name").is_err());
    }

    #[test]
    fn requests_serialize_for_inspection() {
        let r = ApiRequest::new(HttpMethod::Get, "/services/data/v62.0/query", "query")
            .with_query("q", "SELECT Id FROM Account WHERE Name = 'A&B'");
        assert_eq!(
            r.uri(),
            "/services/data/v62.0/query?q=SELECT+Id+FROM+Account+WHERE+Name+%3D+%27A%26B%27"
        );
        assert!(r.is_idempotent());
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["method"], "GET");
        assert_eq!(json["body"]["kind"], "empty");
        assert!(!ApiRequest::new(HttpMethod::Post, "/x", "create").is_idempotent());
    }
}
