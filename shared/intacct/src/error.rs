//! Errors of the Intacct connector and the one table that classifies them.
//!
//! Intacct reports failures in three layers (control, authentication, function) and sometimes
//! as an HTTP status with an XML body. Error numbers are opaque strings — some are codes
//! (`BL34000061`), some are free text (`Query Failed`) — so classification looks at the number
//! first and at the descriptions second, and anything not in the table is permanent.

use std::fmt;
use std::time::Duration;

use lf_domain::{Classify, ErrorClass};

/// One `<error>` of an `<errormessage>`, with every text kept for the person who has to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorDetail {
    /// `<errorno>`: a code such as `BL34000061` or free text such as `Query Failed`.
    pub errorno: String,
    pub description: String,
    pub description2: String,
    pub correction: String,
}

impl ErrorDetail {
    /// The human-readable part: the non-empty descriptions and the correction, joined.
    pub fn message(&self) -> String {
        let mut parts: Vec<&str> = Vec::new();
        for p in [&self.description, &self.description2, &self.correction] {
            let p = p.trim();
            if !p.is_empty() && !parts.contains(&p) {
                parts.push(p);
            }
        }
        parts.join(" — ")
    }
}

impl fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = self.message();
        if msg.is_empty() {
            write!(f, "[{}]", self.errorno)
        } else {
            write!(f, "[{}] {}", self.errorno, msg)
        }
    }
}

/// Why a failure happened, when the table recognises it. Kept next to the class so flows can
/// react to a specific cause (an idempotent create treats `Duplicate` as "look it up").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The record (or its id) already exists.
    Duplicate,
    /// A function `controlid` sent with `uniqueid=true` was already executed.
    AlreadyExecuted,
    /// The transaction date falls in a closed accounting period.
    ClosedPeriod,
    /// A required field or dimension (location, department, class…) is missing.
    MissingRequired,
    /// The record or object named does not exist.
    NotFound,
    /// Rolled back because another function of the same transaction failed.
    TransactionRolledBack,
    /// The session id is no longer valid.
    InvalidSession,
    /// Sign-in or sender credentials were refused.
    BadCredentials,
    /// The gateway asked us to slow down (GW-0010).
    RateLimited,
    /// The request XML was refused by the gateway parser.
    InvalidRequest,
    /// The company cannot be used (expired demo company).
    CompanyUnavailable,
}

/// What the table says about a set of errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classification {
    pub class: ErrorClass,
    pub reason: Option<Reason>,
}

/// How a rule recognises an error.
enum Matcher {
    /// `errorno` equals this (ASCII case-insensitive).
    Errorno(&'static str),
    /// `errorno` equals the first and one of the descriptions contains the second
    /// (case-insensitive).
    ErrornoAndText(&'static str, &'static str),
    /// One of the descriptions contains this (case-insensitive), whatever the number.
    Text(&'static str),
}

struct Rule {
    matcher: Matcher,
    class: ErrorClass,
    reason: Option<Reason>,
}

const fn rule(matcher: Matcher, class: ErrorClass, reason: Reason) -> Rule {
    Rule {
        matcher,
        class,
        reason: Some(reason),
    }
}

const THROTTLED: ErrorClass = ErrorClass::Throttled { retry_after: None };

/// The classification table. First match wins, so the specific rules come before the broad
/// text rules. Sources: protocols.md B4/B8 (the numbers seen in practice) and the SDK tests.
static RULES: &[Rule] = &[
    // Session invalid or expired ("Invalid session …"): refresh the session once and replay.
    rule(
        Matcher::ErrornoAndText("XL03000006", "session"),
        ErrorClass::AuthExpired,
        Reason::InvalidSession,
    ),
    // Wrong user password, sender not authorised for the company, bad transport policy:
    // retrying cannot help until someone fixes the configuration.
    rule(
        Matcher::Errorno("XL03000006"),
        ErrorClass::Permanent,
        Reason::BadCredentials,
    ),
    // HTTP 401 from the gateway. With a session it means the session is gone; the client
    // refreshes once, and reports a 401 to a sign-in as a failed login (permanent).
    rule(
        Matcher::Errorno("XMLGW_JPP0002"),
        ErrorClass::AuthExpired,
        Reason::InvalidSession,
    ),
    rule(Matcher::Errorno("GW-0010"), THROTTLED, Reason::RateLimited),
    rule(
        Matcher::Errorno("XL03000009"),
        ErrorClass::Transient,
        Reason::TransactionRolledBack,
    ),
    rule(
        Matcher::Errorno("XL03000003"),
        ErrorClass::Permanent,
        Reason::InvalidRequest,
    ),
    rule(
        Matcher::Errorno("GW-0011"),
        ErrorClass::Permanent,
        Reason::InvalidRequest,
    ),
    rule(
        Matcher::Errorno("PL04000055"),
        ErrorClass::Permanent,
        Reason::CompanyUnavailable,
    ),
    rule(
        Matcher::Errorno("BL34000061"),
        ErrorClass::Permanent,
        Reason::Duplicate,
    ),
    // Treated as "already exists" by other integrations (protocols.md B8, [2nd]).
    rule(
        Matcher::Errorno("PL05000104"),
        ErrorClass::Permanent,
        Reason::Duplicate,
    ),
    rule(
        Matcher::Errorno("BL03002185"),
        ErrorClass::Permanent,
        Reason::Duplicate,
    ),
    // A repeated function controlid under uniqueid=true. The vendor's number for this is not
    // documented (protocols.md B3/D), so it is recognised by its wording.
    rule(
        Matcher::Text("already executed"),
        ErrorClass::Permanent,
        Reason::AlreadyExecuted,
    ),
    rule(
        Matcher::Text("already been executed"),
        ErrorClass::Permanent,
        Reason::AlreadyExecuted,
    ),
    rule(
        Matcher::Text("previously executed"),
        ErrorClass::Permanent,
        Reason::AlreadyExecuted,
    ),
    rule(
        Matcher::Text("already exists"),
        ErrorClass::Permanent,
        Reason::Duplicate,
    ),
    rule(
        Matcher::Text("duplicate"),
        ErrorClass::Permanent,
        Reason::Duplicate,
    ),
    rule(
        Matcher::Text("period is closed"),
        ErrorClass::Permanent,
        Reason::ClosedPeriod,
    ),
    rule(
        Matcher::Text("closed period"),
        ErrorClass::Permanent,
        Reason::ClosedPeriod,
    ),
    rule(
        Matcher::Text("is required"),
        ErrorClass::Permanent,
        Reason::MissingRequired,
    ),
    rule(
        Matcher::Text("required field"),
        ErrorClass::Permanent,
        Reason::MissingRequired,
    ),
    rule(
        Matcher::Text("missing"),
        ErrorClass::Permanent,
        Reason::MissingRequired,
    ),
    rule(
        Matcher::Text("not found"),
        ErrorClass::Permanent,
        Reason::NotFound,
    ),
    rule(
        Matcher::Text("non-existing"),
        ErrorClass::Permanent,
        Reason::NotFound,
    ),
    rule(
        Matcher::Text("cannot find"),
        ErrorClass::Permanent,
        Reason::NotFound,
    ),
    rule(
        Matcher::Text("too many requests"),
        THROTTLED,
        Reason::RateLimited,
    ),
    // Lock contention and maintenance windows clear up on their own.
    Rule {
        matcher: Matcher::Text("try again later"),
        class: ErrorClass::Transient,
        reason: None,
    },
    Rule {
        matcher: Matcher::Text("temporarily unavailable"),
        class: ErrorClass::Transient,
        reason: None,
    },
    Rule {
        matcher: Matcher::Text("deadlock"),
        class: ErrorClass::Transient,
        reason: None,
    },
];

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_ascii_lowercase().contains(needle)
}

impl Matcher {
    fn matches(&self, e: &ErrorDetail) -> bool {
        let text = |needle: &str| {
            contains_ci(&e.description, needle)
                || contains_ci(&e.description2, needle)
                || contains_ci(&e.correction, needle)
                // Free-text error numbers carry meaning too ("Cannot update non-existing …").
                || contains_ci(&e.errorno, needle)
        };
        match self {
            Matcher::Errorno(no) => e.errorno.trim().eq_ignore_ascii_case(no),
            Matcher::ErrornoAndText(no, needle) => {
                e.errorno.trim().eq_ignore_ascii_case(no) && text(needle)
            }
            Matcher::Text(needle) => text(needle),
        }
    }
}

/// Classifies one error by the table; unknown errors are permanent.
pub fn classify_error(e: &ErrorDetail) -> Classification {
    RULES
        .iter()
        .find(|r| r.matcher.matches(e))
        .map(|r| Classification {
            class: r.class,
            reason: r.reason,
        })
        .unwrap_or(Classification {
            class: ErrorClass::Permanent,
            reason: None,
        })
}

/// Classifies an `<errormessage>` with several errors. Intacct lists the cause first and its
/// generic wrappers after it (`BL34000061` then `BL01001973 "Could not create … record!"`), and a
/// failing function of an aborted transaction carries `XL03000009` last, so the first error
/// the table recognises decides; an empty list is permanent.
pub fn classify_errors(errors: &[ErrorDetail]) -> Classification {
    errors
        .iter()
        .map(classify_error)
        .find(|c| c.reason.is_some() || c.class != ErrorClass::Permanent)
        .unwrap_or(Classification {
            class: ErrorClass::Permanent,
            reason: None,
        })
}

/// The status of one function result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultStatus {
    Success,
    Failure,
    /// Not applied because another function of the same `transaction="true"` operation failed.
    Aborted,
}

impl fmt::Display for ResultStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResultStatus::Success => "success",
            ResultStatus::Failure => "failure",
            ResultStatus::Aborted => "aborted",
        })
    }
}

fn list(errors: &[ErrorDetail]) -> String {
    if errors.is_empty() {
        return "no error details given".to_owned();
    }
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong talking to Intacct.
#[derive(Debug, thiserror::Error)]
pub enum IntacctError {
    /// The connector configuration is unusable (bad endpoint URL, zero concurrency…).
    #[error("intacct configuration: {message}")]
    Config { message: String },

    /// The caller asked for something the gateway cannot express (bad field name, page size
    /// out of range, duplicate controlids in one request…). Nothing was sent.
    #[error("invalid intacct request: {message}")]
    InvalidRequest { message: String },

    /// The HTTP exchange failed. `maybe_applied` says whether the request may have reached
    /// the gateway (a timeout or a reset after sending), which matters for writes.
    #[error("intacct HTTP transport failed ({context})")]
    Transport {
        context: String,
        maybe_applied: bool,
        #[source]
        source: Source,
    },

    /// The gateway answered with a non-200 status. `errors` holds the XML errors when the body
    /// had them (401 `XMLGW_JPP0002`, 429 `GW-0010`).
    #[error("intacct gateway answered HTTP {status}: {}", list(.errors))]
    HttpStatus {
        status: u16,
        retry_after: Option<Duration>,
        errors: Vec<ErrorDetail>,
    },

    /// The response could not be read as an Intacct response.
    #[error("intacct response is malformed: {0}")]
    Malformed(#[from] crate::xml::XmlError),

    /// The response is well-formed XML but not what the protocol says.
    #[error("intacct response is not valid: {message}")]
    Protocol { message: String },

    /// `<control><status>failure</status>`: nothing was executed.
    #[error("intacct refused the request (control): {}", list(.errors))]
    Control { errors: Vec<ErrorDetail> },

    /// `<authentication><status>failure</status>`: no function ran. `login` is true when the
    /// request signed in with user credentials (a refusal then will not heal by retrying).
    #[error("intacct authentication failed: {}", list(.errors))]
    Authentication {
        login: bool,
        errors: Vec<ErrorDetail>,
    },

    /// One function failed or was aborted; the others of its request are reported separately.
    #[error("intacct {function} (controlid {control_id}) {status}: {}", list(.errors))]
    Function {
        function: String,
        control_id: String,
        status: ResultStatus,
        errors: Vec<ErrorDetail>,
    },

    /// A record in a successful result could not be read into its typed form.
    #[error("intacct {object} record could not be read: {message}")]
    Record { object: String, message: String },

    /// No lease of the company-wide concurrency limit could be had (or its store failed);
    /// nothing was sent.
    #[error("intacct concurrency lease: {source}")]
    Limiter {
        #[source]
        source: lf_domain::PortError,
    },
}

impl IntacctError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        IntacctError::InvalidRequest {
            message: message.into(),
        }
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        IntacctError::Protocol {
            message: message.into(),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        IntacctError::Config {
            message: message.into(),
        }
    }

    pub(crate) fn record(object: &str, message: impl Into<String>) -> Self {
        IntacctError::Record {
            object: object.to_owned(),
            message: message.into(),
        }
    }

    /// The Intacct error entries this error carries (empty for transport and local errors).
    pub fn details(&self) -> &[ErrorDetail] {
        match self {
            IntacctError::HttpStatus { errors, .. }
            | IntacctError::Control { errors }
            | IntacctError::Authentication { errors, .. }
            | IntacctError::Function { errors, .. } => errors,
            _ => &[],
        }
    }

    /// The full classification: class plus the recognised cause.
    pub fn classification(&self) -> Classification {
        let permanent = Classification {
            class: ErrorClass::Permanent,
            reason: None,
        };
        match self {
            IntacctError::Config { .. }
            | IntacctError::InvalidRequest { .. }
            | IntacctError::Record { .. } => permanent,
            IntacctError::Limiter { source } => Classification {
                class: source.class(),
                reason: None,
            },
            IntacctError::Transport { .. } => Classification {
                class: ErrorClass::Transient,
                reason: None,
            },
            // A half-read or garbled response usually means a proxy or the gateway cut it off.
            IntacctError::Malformed(_) | IntacctError::Protocol { .. } => Classification {
                class: ErrorClass::Transient,
                reason: None,
            },
            IntacctError::HttpStatus {
                status,
                retry_after,
                errors,
            } => match *status {
                429 => Classification {
                    class: ErrorClass::Throttled {
                        retry_after: *retry_after,
                    },
                    reason: Some(Reason::RateLimited),
                },
                401 => {
                    let c = classify_errors(errors);
                    if c.class == ErrorClass::Permanent && c.reason.is_none() {
                        Classification {
                            class: ErrorClass::AuthExpired,
                            reason: Some(Reason::InvalidSession),
                        }
                    } else {
                        c
                    }
                }
                500..=599 => Classification {
                    class: ErrorClass::Transient,
                    reason: None,
                },
                _ => classify_errors(errors),
            },
            IntacctError::Control { errors } => classify_errors(errors),
            IntacctError::Function { status, errors, .. } => match status {
                ResultStatus::Aborted => Classification {
                    class: ErrorClass::Transient,
                    reason: Some(Reason::TransactionRolledBack),
                },
                // The failing function of an aborted transaction also carries XL03000009;
                // its own errors are the cause.
                _ => {
                    let own: Vec<ErrorDetail> = errors
                        .iter()
                        .filter(|e| !e.errorno.trim().eq_ignore_ascii_case("XL03000009"))
                        .cloned()
                        .collect();
                    classify_errors(&own)
                }
            },
            IntacctError::Authentication { login, errors } => {
                let c = classify_errors(errors);
                if *login && c.class == ErrorClass::AuthExpired {
                    // Signing in with credentials was refused: a fresh session cannot help.
                    Classification {
                        class: ErrorClass::Permanent,
                        reason: Some(Reason::BadCredentials),
                    }
                } else {
                    c
                }
            }
        }
    }

    /// The recognised cause, if any.
    pub fn reason(&self) -> Option<Reason> {
        self.classification().reason
    }

    /// True when a write may have been applied although no success was seen: the request was
    /// sent and the answer was lost (timeout, reset, 5xx such as 524 "still processing").
    pub fn maybe_applied(&self) -> bool {
        match self {
            IntacctError::Transport { maybe_applied, .. } => *maybe_applied,
            IntacctError::HttpStatus { status, .. } => (500..=599).contains(status),
            IntacctError::Malformed(_) | IntacctError::Protocol { .. } => true,
            _ => false,
        }
    }
}

impl IntacctError {
    /// An equal error for a second holder: one failed request answers for every function it
    /// carried, and each caller of a batch gets its own error. Sources that cannot be cloned
    /// keep their message.
    pub(crate) fn replicate(&self) -> IntacctError {
        let text = |s: &dyn std::error::Error| -> Source {
            Box::new(std::io::Error::other(s.to_string()))
        };
        match self {
            IntacctError::Config { message } => IntacctError::Config {
                message: message.clone(),
            },
            IntacctError::InvalidRequest { message } => IntacctError::InvalidRequest {
                message: message.clone(),
            },
            IntacctError::Transport {
                context,
                maybe_applied,
                source,
            } => IntacctError::Transport {
                context: context.clone(),
                maybe_applied: *maybe_applied,
                source: text(source.as_ref()),
            },
            IntacctError::HttpStatus {
                status,
                retry_after,
                errors,
            } => IntacctError::HttpStatus {
                status: *status,
                retry_after: *retry_after,
                errors: errors.clone(),
            },
            IntacctError::Malformed(e) => IntacctError::Malformed(e.clone()),
            IntacctError::Protocol { message } => IntacctError::Protocol {
                message: message.clone(),
            },
            IntacctError::Control { errors } => IntacctError::Control {
                errors: errors.clone(),
            },
            IntacctError::Authentication { login, errors } => IntacctError::Authentication {
                login: *login,
                errors: errors.clone(),
            },
            IntacctError::Function {
                function,
                control_id,
                status,
                errors,
            } => IntacctError::Function {
                function: function.clone(),
                control_id: control_id.clone(),
                status: *status,
                errors: errors.clone(),
            },
            IntacctError::Record { object, message } => IntacctError::Record {
                object: object.clone(),
                message: message.clone(),
            },
            IntacctError::Limiter { source } => IntacctError::Limiter {
                source: match source.class() {
                    ErrorClass::Throttled { retry_after } => lf_domain::PortError::Throttled {
                        message: source.to_string(),
                        retry_after,
                    },
                    ErrorClass::Transient => lf_domain::PortError::Unavailable {
                        message: source.to_string(),
                        source: None,
                    },
                    _ => lf_domain::PortError::invalid(source.to_string()),
                },
            },
        }
    }
}

impl Classify for IntacctError {
    fn class(&self) -> ErrorClass {
        self.classification().class
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(no: &str, d1: &str, d2: &str) -> ErrorDetail {
        ErrorDetail {
            errorno: no.to_owned(),
            description: d1.to_owned(),
            description2: d2.to_owned(),
            correction: String::new(),
        }
    }

    #[test]
    fn table_recognises_the_documented_numbers() {
        let cases = [
            (
                e("XL03000006", "", "Invalid session"),
                ErrorClass::AuthExpired,
                Some(Reason::InvalidSession),
            ),
            (
                e("XL03000006", "", "Sign-in information is incorrect"),
                ErrorClass::Permanent,
                Some(Reason::BadCredentials),
            ),
            (
                e("GW-0010", "Too many requests", ""),
                THROTTLED,
                Some(Reason::RateLimited),
            ),
            (
                e(
                    "BL34000061",
                    "Another Customer with the given value(s) C1 already exists",
                    "",
                ),
                ErrorClass::Permanent,
                Some(Reason::Duplicate),
            ),
            (
                e("XL03000009", "", "The entire transaction … rolled back"),
                ErrorClass::Transient,
                Some(Reason::TransactionRolledBack),
            ),
            (
                e(
                    "BL03000XYZ",
                    "",
                    "The accounting period is closed for 01/31/2024",
                ),
                ErrorClass::Permanent,
                Some(Reason::ClosedPeriod),
            ),
            (
                e("BL01001973", "Location is required", ""),
                ErrorClass::Permanent,
                Some(Reason::MissingRequired),
            ),
            (
                e("Query Failed", "", "Object definition BADOBJECT not found"),
                ErrorClass::Permanent,
                Some(Reason::NotFound),
            ),
            (
                e(
                    "Cannot update non-existing CLASS with CLASSID=UT99.",
                    "",
                    "",
                ),
                ErrorClass::Permanent,
                Some(Reason::NotFound),
            ),
            (
                e(
                    "LF-SANDBOX-UNIQUEID",
                    "Duplicate function controlid",
                    "The function with controlid 'k' was already executed (uniqueid=true)",
                ),
                ErrorClass::Permanent,
                Some(Reason::AlreadyExecuted),
            ),
            (e("ZZ999", "Something odd", ""), ErrorClass::Permanent, None),
        ];
        for (err, class, reason) in cases {
            let c = classify_error(&err);
            assert_eq!(c.class, class, "class of {err}");
            assert_eq!(c.reason, reason, "reason of {err}");
        }
    }

    #[test]
    fn first_recognised_error_of_a_list_decides() {
        let errors = vec![
            e(
                "BL34000061",
                "Another Project with the given value(s) P1 already exists",
                "",
            ),
            e("BL01001973", "Could not create Project record!", ""),
        ];
        assert_eq!(classify_errors(&errors).reason, Some(Reason::Duplicate));
        // An unknown wrapper first does not hide the recognised cause behind it.
        let errors = vec![
            e("BL01001973", "", "Could not create GL Account record."),
            e("Get API Session Failed", "", "Something went wrong"),
            e("XL03000009", "", "rolled back"),
        ];
        assert_eq!(
            classify_errors(&errors).reason,
            Some(Reason::TransactionRolledBack)
        );
        assert_eq!(classify_errors(&[]).class, ErrorClass::Permanent);
    }

    #[test]
    fn http_statuses_classify() {
        let throttled = IntacctError::HttpStatus {
            status: 429,
            retry_after: Some(Duration::from_secs(2)),
            errors: vec![],
        };
        assert_eq!(
            throttled.class(),
            ErrorClass::Throttled {
                retry_after: Some(Duration::from_secs(2))
            }
        );
        let unauthorized = IntacctError::HttpStatus {
            status: 401,
            retry_after: None,
            errors: vec![e("XMLGW_JPP0002", "Sign-in information is incorrect.", "")],
        };
        assert_eq!(unauthorized.class(), ErrorClass::AuthExpired);
        let bad_gateway = IntacctError::HttpStatus {
            status: 502,
            retry_after: None,
            errors: vec![],
        };
        assert_eq!(bad_gateway.class(), ErrorClass::Transient);
        assert!(bad_gateway.maybe_applied());
        let login_refused = IntacctError::Authentication {
            login: true,
            errors: vec![e("XL03000006", "", "Invalid session")],
        };
        assert_eq!(login_refused.class(), ErrorClass::Permanent);
    }

    #[test]
    fn failing_function_of_a_transaction_is_classified_by_its_own_errors() {
        let failing = IntacctError::Function {
            function: "create".into(),
            control_id: "f2".into(),
            status: ResultStatus::Failure,
            errors: vec![
                e(
                    "BL34000061",
                    "Another Customer with the given value(s) C1 already exists",
                    "",
                ),
                e("XL03000009", "", "rolled back"),
            ],
        };
        assert_eq!(failing.reason(), Some(Reason::Duplicate));
        assert_eq!(failing.class(), ErrorClass::Permanent);
        let only_rollback = IntacctError::Function {
            function: "create".into(),
            control_id: "f2".into(),
            status: ResultStatus::Failure,
            errors: vec![e("Odd", "", ""), e("XL03000009", "", "rolled back")],
        };
        assert_eq!(only_rollback.class(), ErrorClass::Permanent);
        let aborted = IntacctError::Function {
            function: "create".into(),
            control_id: "f1".into(),
            status: ResultStatus::Aborted,
            errors: vec![e("XL03000009", "", "rolled back")],
        };
        assert_eq!(aborted.class(), ErrorClass::Transient);
        assert_eq!(aborted.reason(), Some(Reason::TransactionRolledBack));
    }

    #[test]
    fn detail_message_keeps_every_text_once() {
        let d = ErrorDetail {
            errorno: "BL01001973".into(),
            description: "Duplicate account number".into(),
            description2: "The account number '5000.11' already exists".into(),
            correction: "Enter unique account number".into(),
        };
        assert_eq!(
            d.to_string(),
            "[BL01001973] Duplicate account number — The account number '5000.11' already exists — Enter unique account number"
        );
    }
}
