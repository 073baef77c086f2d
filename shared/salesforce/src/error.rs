//! The connector's error type and its one classification table.
//!
//! Salesforce reports failures as an `errorCode` (REST) or `statusCode` (collections, composite,
//! Bulk failed rows) plus a message and the fields involved. [`class_of_code`] maps a code to
//! an [`ErrorClass`]; codes it does not know fall back on the HTTP status, and anything still
//! unknown is permanent, so an unfamiliar failure is parked for a person instead of retried
//! forever.

use std::fmt;
use std::time::Duration;

use lf_domain::{Classify, ErrorClass};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One error object from a Salesforce response. REST bodies call the code `errorCode`;
/// collection and composite items call it `statusCode`; both land in [`ApiError::code`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// `errorCode` / `statusCode`, e.g. `REQUIRED_FIELD_MISSING`.
    #[serde(rename = "errorCode", alias = "statusCode", default)]
    pub code: String,
    /// The human-readable message, kept verbatim (a validation rule's own text, for example).
    #[serde(default)]
    pub message: String,
    /// The fields the error is about, when Salesforce names them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// The `duplicateResult` object of a `DUPLICATES_DETECTED` error (matching records and rule).
    #[serde(
        default,
        rename = "duplicateResult",
        skip_serializing_if = "Option::is_none"
    )]
    pub duplicate_result: Option<Value>,
}

impl ApiError {
    /// An error with a code and message and no fields.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            fields: Vec::new(),
            duplicate_result: None,
        }
    }

    /// The class of this error on its own (item-level results carry no HTTP status).
    pub fn class(&self) -> ErrorClass {
        class_of_code(&self.code).unwrap_or(ErrorClass::Permanent)
    }

    /// The ids of the records a duplicate rule matched, when the error carries a
    /// `duplicateResult`.
    pub fn duplicate_record_ids(&self) -> Vec<String> {
        let Some(dup) = &self.duplicate_result else {
            return Vec::new();
        };
        dup.get("matchResults")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("matchRecords").and_then(Value::as_array))
            .flatten()
            .filter_map(|r| r.pointer("/record/Id").and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if !self.fields.is_empty() {
            write!(f, " (fields: {})", self.fields.join(", "))?;
        }
        Ok(())
    }
}

/// The classification table. `None` means "not a code we know": the caller falls back on the
/// HTTP status, then on permanent.
pub fn class_of_code(code: &str) -> Option<ErrorClass> {
    let class = match code {
        // Lock contention and platform hiccups clear up on their own.
        "UNABLE_TO_LOCK_ROW" | "SERVER_UNAVAILABLE" | "QUERY_TIMEOUT" | "UNKNOWN_EXCEPTION" => {
            ErrorClass::Transient
        }
        // Daily allowance or concurrent long-running requests exhausted (HTTP 403).
        "REQUEST_LIMIT_EXCEEDED" | "TXN_SECURITY_METERING_ERROR" => {
            ErrorClass::Throttled { retry_after: None }
        }
        "INVALID_SESSION_ID" => ErrorClass::AuthExpired,
        // Data the record or request must change before a retry can succeed.
        "DUPLICATE_VALUE"
        | "DUPLICATES_DETECTED"
        | "REQUIRED_FIELD_MISSING"
        | "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        | "FIELD_INTEGRITY_EXCEPTION"
        | "INVALID_FIELD"
        | "INVALID_FIELD_FOR_INSERT_UPDATE"
        | "INVALID_CROSS_REFERENCE_KEY"
        | "INVALID_TYPE"
        | "INVALID_TYPE_ON_FIELD_IN_RECORD"
        | "STRING_TOO_LONG"
        | "NUMBER_OUTSIDE_VALID_RANGE"
        | "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
        | "MALFORMED_ID"
        | "MALFORMED_QUERY"
        | "JSON_PARSER_ERROR"
        | "ENTITY_IS_DELETED"
        | "NOT_FOUND"
        | "INSUFFICIENT_ACCESS_OR_READONLY"
        | "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY"
        | "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"
        | "API_DISABLED_FOR_ORG"
        // The item was fine but its batch was rolled back or halted by another item: replaying
        // the same batch fails the same way, so the batch as a whole is permanent.
        | "ALL_OR_NONE_OPERATION_ROLLED_BACK"
        | "PROCESSING_HALTED" => ErrorClass::Permanent,
        _ => return None,
    };
    Some(class)
}

/// The class of an HTTP failure whose body named no known code.
pub fn class_of_status(status: u16, retry_after: Option<Duration>) -> ErrorClass {
    match status {
        401 => ErrorClass::AuthExpired,
        // Not documented for core REST, but proxies and some edges send it.
        429 => ErrorClass::Throttled { retry_after },
        408 | 500..=599 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

/// A non-2xx REST response: the status, the error objects of its body, and the server's
/// Retry-After when it sent one.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiFailure {
    pub status: u16,
    pub errors: Vec<ApiError>,
    pub retry_after: Option<Duration>,
}

/// The error objects of a failed call's JSON body: Salesforce's array of error objects, or a
/// single error object. `None` when the body holds neither (a proxy's page, an empty array).
/// REST failures and failed composite subrequests are both read with it.
pub(crate) fn errors_in(body: &Value) -> Option<Vec<ApiError>> {
    match body {
        Value::Array(_) => Vec::<ApiError>::deserialize(body)
            .ok()
            .filter(|errors| !errors.is_empty()),
        Value::Object(_) => ApiError::deserialize(body)
            .ok()
            .filter(|one| !one.code.is_empty())
            .map(|one| vec![one]),
        _ => None,
    }
}

/// The stand-in for a failure body that named no error: `HTTP_<status>` and the body's start.
pub(crate) fn unnamed_error(status: u16, body: &str) -> ApiError {
    ApiError::new(
        format!("HTTP_{status}"),
        body.chars().take(300).collect::<String>(),
    )
}

impl ApiFailure {
    /// Reads a failure body. Salesforce sends a JSON array of error objects; an edge or proxy
    /// may send anything, which is kept (truncated) as the message of a synthetic error.
    pub fn from_body(status: u16, body: &[u8], retry_after: Option<Duration>) -> Self {
        let errors = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| errors_in(&v))
            .unwrap_or_else(|| vec![unnamed_error(status, &String::from_utf8_lossy(body))]);
        Self {
            status,
            errors,
            retry_after,
        }
    }

    /// The first error's code, which decides the class.
    pub fn code(&self) -> Option<&str> {
        self.errors.first().map(|e| e.code.as_str())
    }

    pub fn class(&self) -> ErrorClass {
        let by_code = self.code().and_then(class_of_code);
        match by_code {
            Some(ErrorClass::Throttled { .. }) => ErrorClass::Throttled {
                retry_after: self.retry_after,
            },
            Some(class) => class,
            None => class_of_status(self.status, self.retry_after),
        }
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        for e in &self.errors {
            write!(f, "; {e}")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong talking to Salesforce.
#[derive(Debug, thiserror::Error)]
pub enum SalesforceError {
    /// The configuration cannot work (bad URL, unreadable private key).
    #[error("invalid Salesforce configuration: {0}")]
    Config(String),
    /// The caller passed something that cannot be sent (bad API name, too many subrequests).
    #[error("invalid request: {0}")]
    InvalidInput(String),
    /// The JWT assertion could not be signed.
    #[error("could not sign the JWT bearer assertion")]
    Jwt(#[source] jsonwebtoken::errors::Error),
    /// The token endpoint refused to issue a token.
    #[error("token request refused (HTTP {status}): {error}: {description}")]
    Auth {
        status: u16,
        error: String,
        description: String,
    },
    /// The request did not complete (connection, timeout, body read).
    #[error("HTTP transport error during {what}")]
    Transport {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    /// Salesforce answered with an error status.
    #[error("Salesforce {what} failed: {failure}")]
    Api { what: String, failure: ApiFailure },
    /// An upsert by external id matched several records (HTTP 300); nothing was written.
    #[error("upsert {object}.{field} = {value:?} matched {} records; nothing was written", matches.len())]
    MultipleMatches {
        object: String,
        field: String,
        value: String,
        matches: Vec<String>,
    },
    /// The caller's deadline passed before the request could be sent.
    #[error("no time left before the deadline to send {what}")]
    DeadlineExceeded { what: String },
    /// A 2xx response whose body was not what the API documents.
    #[error("unexpected response to {what}: {detail}")]
    UnexpectedResponse { what: String, detail: String },
    /// Non-urgent work refused because the daily API allowance is inside the reserve.
    #[error("daily API allowance reserve reached ({used}/{max} used); non-urgent requests wait")]
    DailyReserve {
        used: u64,
        max: u64,
        retry_after: Duration,
    },
    /// A Bulk API 2.0 job ended in `Failed` or `Aborted`.
    #[error("bulk job {job_id} ended in state {state}: {message}")]
    BulkJob {
        job_id: String,
        state: String,
        message: String,
    },
    /// A Bulk API 2.0 job did not finish before the polling budget or the deadline ran out.
    #[error("bulk job {job_id} still {state} after {waited:?}")]
    BulkTimeout {
        job_id: String,
        state: String,
        waited: Duration,
    },
    /// A CSV body could not be written or read.
    #[error("CSV error in {what}")]
    Csv {
        what: String,
        #[source]
        source: csv::Error,
    },
}

impl SalesforceError {
    /// The REST failure behind this error, if Salesforce answered with one.
    pub fn api_failure(&self) -> Option<&ApiFailure> {
        match self {
            SalesforceError::Api { failure, .. } => Some(failure),
            _ => None,
        }
    }

    /// True when replaying the request cannot apply it twice because it was never applied: the
    /// connection was not made, or Salesforce refused it before doing anything.
    pub(crate) fn proves_not_applied(&self) -> bool {
        match self {
            SalesforceError::Transport { source, .. } => source.is_connect(),
            SalesforceError::Api { failure, .. } => matches!(
                failure.code(),
                Some("REQUEST_LIMIT_EXCEEDED" | "UNABLE_TO_LOCK_ROW" | "INVALID_SESSION_ID")
            ),
            SalesforceError::DailyReserve { .. } | SalesforceError::DeadlineExceeded { .. } => true,
            _ => false,
        }
    }
}

impl Classify for SalesforceError {
    fn class(&self) -> ErrorClass {
        match self {
            SalesforceError::Transport { source, .. } => {
                if source.is_builder() || source.is_redirect() {
                    ErrorClass::Permanent
                } else {
                    ErrorClass::Transient
                }
            }
            SalesforceError::Api { failure, .. } => failure.class(),
            SalesforceError::Auth { status, .. } if *status >= 500 => ErrorClass::Transient,
            SalesforceError::Auth { status: 429, .. } => {
                ErrorClass::Throttled { retry_after: None }
            }
            SalesforceError::DailyReserve { retry_after, .. } => ErrorClass::Throttled {
                retry_after: Some(*retry_after),
            },
            SalesforceError::BulkTimeout { .. } | SalesforceError::DeadlineExceeded { .. } => {
                ErrorClass::Transient
            }
            SalesforceError::Config(_)
            | SalesforceError::InvalidInput(_)
            | SalesforceError::Jwt(_)
            | SalesforceError::Auth { .. }
            | SalesforceError::MultipleMatches { .. }
            | SalesforceError::UnexpectedResponse { .. }
            | SalesforceError::BulkJob { .. }
            | SalesforceError::Csv { .. } => ErrorClass::Permanent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, body: &str) -> ApiFailure {
        ApiFailure::from_body(status, body.as_bytes(), None)
    }

    #[test]
    fn table_classifies_the_documented_codes() {
        let transient = ["UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"];
        for code in transient {
            assert_eq!(class_of_code(code), Some(ErrorClass::Transient), "{code}");
        }
        assert_eq!(
            class_of_code("REQUEST_LIMIT_EXCEEDED"),
            Some(ErrorClass::Throttled { retry_after: None })
        );
        assert_eq!(
            class_of_code("INVALID_SESSION_ID"),
            Some(ErrorClass::AuthExpired)
        );
        for code in [
            "DUPLICATE_VALUE",
            "DUPLICATES_DETECTED",
            "REQUIRED_FIELD_MISSING",
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "INVALID_FIELD",
            "ENTITY_IS_DELETED",
        ] {
            assert_eq!(class_of_code(code), Some(ErrorClass::Permanent), "{code}");
        }
        assert_eq!(class_of_code("SOMETHING_NEW"), None);
    }

    #[test]
    fn unknown_codes_fall_back_on_status_then_permanent() {
        assert_eq!(
            failure(503, "<html>maintenance</html>").class(),
            ErrorClass::Transient
        );
        assert_eq!(
            failure(500, r#"[{"errorCode":"WEIRD","message":"x"}]"#).class(),
            ErrorClass::Transient
        );
        assert_eq!(
            failure(400, r#"[{"errorCode":"WEIRD","message":"x"}]"#).class(),
            ErrorClass::Permanent
        );
        assert_eq!(failure(418, "").class(), ErrorClass::Permanent);
        assert_eq!(
            ApiFailure::from_body(429, b"", Some(Duration::from_secs(7))).class(),
            ErrorClass::Throttled {
                retry_after: Some(Duration::from_secs(7))
            }
        );
    }

    #[test]
    fn limit_exceeded_403_is_throttled_and_keeps_retry_after() {
        let f = ApiFailure::from_body(
            403,
            br#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
            Some(Duration::from_secs(60)),
        );
        assert_eq!(
            f.class(),
            ErrorClass::Throttled {
                retry_after: Some(Duration::from_secs(60))
            }
        );
        assert_eq!(f.code(), Some("REQUEST_LIMIT_EXCEEDED"));
    }

    #[test]
    fn expired_session_is_auth() {
        let f = failure(
            401,
            r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
        );
        assert_eq!(f.class(), ErrorClass::AuthExpired);
        let e = SalesforceError::Api {
            what: "GET Account".into(),
            failure: f,
        };
        assert_eq!(e.class(), ErrorClass::AuthExpired);
        assert!(e.proves_not_applied());
    }

    #[test]
    fn validation_errors_keep_message_and_fields() {
        let f = failure(
            400,
            r#"[{"fields":["Name"],"message":"Required fields are missing: [Name]","errorCode":"REQUIRED_FIELD_MISSING"}]"#,
        );
        assert_eq!(f.class(), ErrorClass::Permanent);
        assert_eq!(f.errors[0].fields, vec!["Name"]);
        assert_eq!(f.errors[0].message, "Required fields are missing: [Name]");
        let shown = SalesforceError::Api {
            what: "POST Account".into(),
            failure: f,
        }
        .to_string();
        assert!(shown.contains("REQUIRED_FIELD_MISSING"), "{shown}");
        assert!(shown.contains("fields: Name"), "{shown}");
    }

    #[test]
    fn item_errors_use_status_code() {
        let e: ApiError = serde_json::from_str(
            r#"{"statusCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access to this record","fields":[]}"#,
        )
        .unwrap();
        assert_eq!(e.code, "UNABLE_TO_LOCK_ROW");
        assert_eq!(e.class(), ErrorClass::Transient);
    }

    #[test]
    fn duplicate_result_names_matching_records() {
        let f = failure(
            400,
            r#"[{"duplicateResult":{"allowSave":false,"duplicateRule":"Our_Rule","matchResults":[{"entityType":"Account","matchRecords":[{"matchConfidence":100.0,"record":{"attributes":{"type":"Account"},"Id":"001000000000001AAA"}}]}]},"errorCode":"DUPLICATES_DETECTED","message":"Use one of these records?"}]"#,
        );
        assert_eq!(f.class(), ErrorClass::Permanent);
        assert_eq!(
            f.errors[0].duplicate_record_ids(),
            vec!["001000000000001AAA"]
        );
    }

    #[test]
    fn non_json_bodies_become_a_synthetic_error() {
        let f = failure(502, "Bad gateway from the edge");
        assert_eq!(f.code(), Some("HTTP_502"));
        assert_eq!(f.errors[0].message, "Bad gateway from the edge");
    }

    #[test]
    fn reserve_and_bulk_timeouts_are_retryable() {
        let reserve = SalesforceError::DailyReserve {
            used: 91,
            max: 100,
            retry_after: Duration::from_secs(900),
        };
        assert_eq!(
            reserve.class(),
            ErrorClass::Throttled {
                retry_after: Some(Duration::from_secs(900))
            }
        );
        let timeout = SalesforceError::BulkTimeout {
            job_id: "750x".into(),
            state: "InProgress".into(),
            waited: Duration::from_secs(1),
        };
        assert_eq!(timeout.class(), ErrorClass::Transient);
        let auth = SalesforceError::Auth {
            status: 400,
            error: "invalid_grant".into(),
            description: "audience is invalid".into(),
        };
        assert_eq!(auth.class(), ErrorClass::Permanent);
    }
}
