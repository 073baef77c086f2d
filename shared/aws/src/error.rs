//! SDK errors → [`PortError`]: the one table that decides what a DynamoDB or SQS failure means.

use std::error::Error as StdError;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use lf_domain::PortError;

/// What a failed call means to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    Throttled,
    Unavailable,
    Conflict,
    Invalid,
}

/// Error codes that mean "slow down". DynamoDB and SQS each have their own spellings.
const THROTTLING: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "KmsThrottled",
    "AWS.SimpleQueueService.RequestThrottled",
];

/// Error codes worth retrying. Missing tables or queues and denied access are here too: they
/// are deployment mistakes, and retrying (then the DLQ) keeps the messages until the deployment
/// is fixed, where a permanent error would set them aside.
const TRANSIENT: &[&str] = &[
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "TransactionConflictException",
    "TransactionInProgressException",
    "ReplicatedWriteConflictException",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "ResourceNotFoundException",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
];

fn meaning_of(code: Option<&str>, status: Option<u16>) -> Meaning {
    match code {
        Some(c) if THROTTLING.contains(&c) => Meaning::Throttled,
        Some("ConditionalCheckFailedException") => Meaning::Conflict,
        Some(c) if TRANSIENT.contains(&c) => Meaning::Unavailable,
        _ => match status {
            Some(429) => Meaning::Throttled,
            Some(s) if s >= 500 => Meaning::Unavailable,
            // Anything else the service refused (validation, item too large, bad receipt) will
            // be refused again.
            _ => Meaning::Invalid,
        },
    }
}

/// Maps a failed SDK call. `operation` names the call and its target for the message, e.g.
/// `"PutItem ledgerforce-dev-xref"`. The SDK error stays attached as the source where the
/// error can be retried, so logs show the whole chain.
pub(crate) fn from_sdk<E>(operation: &str, err: SdkError<E>) -> PortError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let (meaning, detail) = match &err {
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code();
            let status = ctx.raw().status().as_u16();
            let detail = format!(
                "{} (HTTP {status}): {}",
                code.unwrap_or("unknown error"),
                ctx.err().message().unwrap_or("no message")
            );
            (meaning_of(code, Some(status)), detail)
        }
        // The request never got a service answer: connection refused, TLS, timeout, a reply
        // that could not be read. All worth retrying.
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            (Meaning::Unavailable, DisplayErrorContext(&err).to_string())
        }
        // The SDK could not build the request from what we gave it.
        _ => (Meaning::Invalid, DisplayErrorContext(&err).to_string()),
    };
    let message = format!("{operation}: {detail}");
    match meaning {
        Meaning::Throttled => PortError::Throttled {
            message,
            retry_after: None,
        },
        Meaning::Unavailable => PortError::unavailable(message, err),
        Meaning::Conflict => PortError::conflict(message),
        Meaning::Invalid => PortError::invalid(message),
    }
}

/// Whether a conditional PutItem lost its condition (as opposed to failing).
pub(crate) fn condition_failed(err: &SdkError<PutItemError>) -> bool {
    matches!(
        err.as_service_error(),
        Some(PutItemError::ConditionalCheckFailedException(_))
    )
}

/// A request we built was refused by the SDK's own validation (a required field missing):
/// a bug on our side, not something a retry fixes.
pub(crate) fn build_failed(what: &str, err: impl StdError) -> PortError {
    PortError::invalid(format!("could not build {what}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::error::ConnectorError;
    use aws_sdk_dynamodb::types::error::{
        ConditionalCheckFailedException, ProvisionedThroughputExceededException,
    };
    use lf_domain::{Classify, ErrorClass};

    fn service_error(err: PutItemError, status: u16) -> SdkError<PutItemError> {
        let raw = HttpResponse::new(status.try_into().unwrap(), "".into());
        SdkError::service_error(err, raw)
    }

    #[test]
    fn codes_and_statuses_have_one_meaning() {
        assert_eq!(
            meaning_of(Some("ProvisionedThroughputExceededException"), Some(400)),
            Meaning::Throttled
        );
        assert_eq!(
            meaning_of(Some("RequestLimitExceeded"), Some(400)),
            Meaning::Throttled
        );
        assert_eq!(meaning_of(Some("Whatever"), Some(429)), Meaning::Throttled);
        assert_eq!(
            meaning_of(Some("ConditionalCheckFailedException"), Some(400)),
            Meaning::Conflict
        );
        assert_eq!(
            meaning_of(Some("TransactionConflictException"), Some(400)),
            Meaning::Unavailable
        );
        assert_eq!(meaning_of(None, Some(503)), Meaning::Unavailable);
        assert_eq!(
            meaning_of(Some("ValidationException"), Some(400)),
            Meaning::Invalid
        );
        assert_eq!(meaning_of(None, None), Meaning::Invalid);
    }

    #[test]
    fn throttling_maps_to_throttled() {
        let err = service_error(
            PutItemError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder()
                    .message("slow down")
                    .meta(
                        aws_sdk_dynamodb::error::ErrorMetadata::builder()
                            .code("ProvisionedThroughputExceededException")
                            .message("slow down")
                            .build(),
                    )
                    .build(),
            ),
            400,
        );
        let mapped = from_sdk("PutItem t", err);
        assert!(matches!(mapped, PortError::Throttled { .. }), "{mapped:?}");
        assert!(matches!(mapped.class(), ErrorClass::Throttled { .. }));
        assert!(mapped.to_string().contains("PutItem t"), "{mapped}");
    }

    #[test]
    fn failed_condition_maps_to_conflict() {
        let err = service_error(
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .meta(
                        aws_sdk_dynamodb::error::ErrorMetadata::builder()
                            .code("ConditionalCheckFailedException")
                            .build(),
                    )
                    .build(),
            ),
            400,
        );
        assert!(matches!(
            from_sdk("PutItem t", err),
            PortError::Conflict { .. }
        ));
    }

    #[test]
    fn server_errors_and_dispatch_failures_are_transient_and_keep_their_source() {
        let err = service_error(PutItemError::unhandled(std::io::Error::other("boom")), 500);
        let mapped = from_sdk("PutItem t", err);
        assert_eq!(mapped.class(), ErrorClass::Transient);
        assert!(StdError::source(&mapped).is_some());

        let err: SdkError<PutItemError> = SdkError::dispatch_failure(ConnectorError::io(Box::new(
            std::io::Error::other("connection refused"),
        )));
        let mapped = from_sdk("PutItem t", err);
        assert!(
            matches!(mapped, PortError::Unavailable { .. }),
            "{mapped:?}"
        );
        assert!(
            mapped.to_string().contains("connection refused"),
            "{mapped}"
        );
    }
}
