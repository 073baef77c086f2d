//! [`Queue`] on one SQS queue. The dead-letter queue is the queue's redrive policy: SQS moves a
//! message there itself after `maxReceiveCount` receives.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{
    Message, MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use lf_domain::PortError;
use lf_domain::port::queue::{
    MAX_BATCH, MAX_MESSAGE_BYTES, check_batch, check_receive, check_visibility,
};
use lf_domain::port::{OutgoingMessage, Queue, QueueDepth, ReceiptHandle, ReceivedMessage};

use crate::error::{build_failed, from_sdk};
use crate::retry::{Attempt, QUICK, quickly};

/// SQS's limits.
const MAX_WAIT: Duration = Duration::from_secs(20);

/// One SQS queue, by URL.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    /// The queue at `queue_url` (as CreateQueue or GetQueueUrl returns it).
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            url: queue_url.into(),
        }
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The dead-letter queue SQS moves this queue's messages to, found through the queue's
    /// `RedrivePolicy` (its `deadLetterTargetArn`, then `GetQueueUrl`); `None` when the queue
    /// has no redrive policy. One call each, made when asked.
    pub async fn dead_letter_queue(&self) -> Result<Option<SqsQueue>, PortError> {
        let got = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| from_sdk(&format!("GetQueueAttributes {}", self.url), e))?;
        let Some(policy) = got
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
            .filter(|p| !p.trim().is_empty())
        else {
            return Ok(None);
        };
        let (name, account) = dead_letter_target(policy).map_err(|why| {
            PortError::corrupt(format!(
                "the RedrivePolicy of {} is not readable: {why}",
                self.url
            ))
        })?;
        let found = self
            .client
            .get_queue_url()
            .queue_name(&name)
            .queue_owner_aws_account_id(account)
            .send()
            .await
            .map_err(|e| from_sdk(&format!("GetQueueUrl {name}"), e))?;
        let url = found.queue_url().ok_or_else(|| {
            PortError::corrupt(format!("GetQueueUrl {name} answered without a URL"))
        })?;
        Ok(Some(SqsQueue::new(self.client.clone(), url)))
    }

    /// Sends one batch, retrying the entries SQS failed on its side. `entries` are the indexes
    /// into `messages` of this batch.
    async fn send_chunk(
        &self,
        messages: &[OutgoingMessage],
        pending: Vec<usize>,
    ) -> Result<(), PortError> {
        // What is still unsent, and a summary of the last failures; kept across attempts.
        let state = &Mutex::new((pending, String::new()));
        let sent = quickly("SQS send batch", |attempt| async move {
            let entries = {
                let state = state.lock().unwrap_or_else(PoisonError::into_inner);
                state
                    .0
                    .iter()
                    .map(|&i| {
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(&messages[i].body)
                            .delay_seconds(whole_seconds(messages[i].delay))
                            .build()
                            .map_err(|e| build_failed("a batch entry", e))
                    })
                    .collect::<Result<Vec<_>, _>>()?
            };
            let sent = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| from_sdk(&format!("SendMessageBatch {}", self.url), e))?;
            let failed = sent.failed();
            if failed.is_empty() {
                return Ok(());
            }
            if let Some(refused) = failed.iter().find(|f| f.sender_fault()) {
                return Err(Attempt::Stop(PortError::invalid(format!(
                    "SendMessageBatch {}: message {} refused: {}: {}",
                    self.url,
                    refused.id(),
                    refused.code(),
                    refused.message().unwrap_or("no message")
                ))));
            }
            let summary = failed
                .iter()
                .map(|f| format!("{} ({})", f.id(), f.code()))
                .collect::<Vec<_>>()
                .join(", ");
            tracing::warn!(
                queue = %self.url,
                attempt,
                failed = %summary,
                "SQS failed some messages of a batch; resending them"
            );
            let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
            *state = (
                failed.iter().filter_map(|f| f.id().parse().ok()).collect(),
                summary,
            );
            Err(Attempt::Again)
        })
        .await;
        sent.map_err(|e| match e {
            Attempt::Stop(e) => e,
            Attempt::Again => {
                let state = state.lock().unwrap_or_else(PoisonError::into_inner);
                PortError::Unavailable {
                    message: format!(
                        "SendMessageBatch {}: {} message(s) still failed after {} attempts: {}",
                        self.url,
                        state.0.len(),
                        QUICK.max_attempts,
                        state.1
                    ),
                    source: None,
                }
            }
        })
    }
}

/// SQS counts in whole seconds; a fraction rounds up so a message is never visible early.
fn whole_seconds(d: Duration) -> i32 {
    let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    i32::try_from(secs).unwrap_or(i32::MAX)
}

/// The queue name and owning account of a redrive policy's `deadLetterTargetArn`
/// (`arn:aws:sqs:REGION:ACCOUNT:NAME`).
fn dead_letter_target(policy: &str) -> Result<(String, String), String> {
    let value: serde_json::Value =
        serde_json::from_str(policy).map_err(|e| format!("not JSON: {e}"))?;
    let arn = value
        .get("deadLetterTargetArn")
        .and_then(serde_json::Value::as_str)
        .ok_or("no deadLetterTargetArn")?;
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _, "sqs", _, account, name] if !account.is_empty() && !name.is_empty() => {
            Ok(((*name).to_owned(), (*account).to_owned()))
        }
        _ => Err(format!(
            "deadLetterTargetArn {arn:?} is not an SQS queue ARN"
        )),
    }
}

/// Splits into batches SQS accepts: at most 10 entries and at most [`MAX_MESSAGE_BYTES`] of
/// bodies in all.
fn batches(messages: &[OutgoingMessage]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for (i, m) in messages.iter().enumerate() {
        let size = m.body.len();
        match out.last_mut() {
            Some(batch)
                if batch.len() < MAX_BATCH as usize && bytes + size <= MAX_MESSAGE_BYTES =>
            {
                batch.push(i);
                bytes += size;
            }
            _ => {
                out.push(vec![i]);
                bytes = size;
            }
        }
    }
    out
}

fn received(m: &Message) -> Result<ReceivedMessage, PortError> {
    let missing = |what: &str| PortError::corrupt(format!("received SQS message without {what}"));
    let count = m
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .ok_or_else(|| missing("ApproximateReceiveCount"))?;
    Ok(ReceivedMessage {
        message_id: m
            .message_id()
            .ok_or_else(|| missing("MessageId"))?
            .to_owned(),
        body: m.body().unwrap_or_default().to_owned(),
        receipt: ReceiptHandle(
            m.receipt_handle()
                .ok_or_else(|| missing("ReceiptHandle"))?
                .to_owned(),
        ),
        receive_count: count
            .parse()
            .map_err(|_| PortError::corrupt(format!("ApproximateReceiveCount {count:?}")))?,
    })
}

/// Whether SQS refused a receipt because it no longer holds its message: deleted, received
/// again, moved to the dead-letter queue, or expired. SQS says so with `ReceiptHandleIsInvalid`,
/// `MessageNotInflight`, or `InvalidParameterValue` naming the ReceiptHandle parameter ("Reason:
/// The receipt handle has expired" / "Message does not exist or is not available for visibility
/// timeout change"); moto with `ReceiptHandleIsInvalid`.
fn holds_nothing(err: &impl ProvideErrorMetadata) -> bool {
    match err.code() {
        Some("ReceiptHandleIsInvalid" | "MessageNotInflight") => true,
        Some("InvalidParameterValue") => err
            .message()
            .is_some_and(|m| m.contains("parameter ReceiptHandle")),
        _ => false,
    }
}

fn count(
    attributes: Option<&std::collections::HashMap<QueueAttributeName, String>>,
    name: QueueAttributeName,
) -> Result<u64, PortError> {
    let value = attributes
        .and_then(|a| a.get(&name))
        .ok_or_else(|| PortError::corrupt(format!("queue attributes lack {name}")))?;
    value
        .parse()
        .map_err(|_| PortError::corrupt(format!("queue attribute {name} is {value:?}")))
}

impl Queue for SqsQueue {
    async fn send_batch(&self, messages: &[OutgoingMessage]) -> Result<(), PortError> {
        check_batch(messages)?;
        for batch in batches(messages) {
            self.send_chunk(messages, batch).await?;
        }
        Ok(())
    }

    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        check_receive(max, visibility)?;
        let got = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(i32::try_from(max).unwrap_or(10))
            .visibility_timeout(whole_seconds(visibility))
            .wait_time_seconds(whole_seconds(wait.min(MAX_WAIT)))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| from_sdk(&format!("ReceiveMessage {}", self.url), e))?;
        got.messages().iter().map(received).collect()
    }

    /// A receipt that no longer holds its message (deleted, received again, moved to the
    /// dead-letter queue, expired) succeeds, as the port asks; SQS refuses some of those.
    async fn delete(&self, receipt: &ReceiptHandle) -> Result<(), PortError> {
        let deleted = self
            .client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&receipt.0)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e) if holds_nothing(&e) => {
                tracing::debug!(queue = %self.url, "delete with a stale receipt; nothing deleted");
                Ok(())
            }
            Err(e) => Err(from_sdk(&format!("DeleteMessage {}", self.url), e)),
        }
    }

    /// A receipt that no longer holds its message fails with [`PortError::Conflict`], as the
    /// port asks, whichever way SQS refused it.
    async fn change_visibility(
        &self,
        receipt: &ReceiptHandle,
        visibility: Duration,
    ) -> Result<(), PortError> {
        check_visibility(visibility)?;
        let changed = self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(&receipt.0)
            .visibility_timeout(whole_seconds(visibility))
            .send()
            .await;
        match changed {
            Ok(_) => Ok(()),
            Err(e) if holds_nothing(&e) => Err(PortError::conflict(format!(
                "ChangeMessageVisibility {}: the receipt no longer holds its message \
                 (deleted, received again or moved to the dead-letter queue)",
                self.url
            ))),
            Err(e) => Err(from_sdk(
                &format!("ChangeMessageVisibility {}", self.url),
                e,
            )),
        }
    }

    async fn depth(&self) -> Result<QueueDepth, PortError> {
        let got = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| from_sdk(&format!("GetQueueAttributes {}", self.url), e))?;
        Ok(QueueDepth {
            visible: count(
                got.attributes(),
                QueueAttributeName::ApproximateNumberOfMessages,
            )?,
            in_flight: count(
                got.attributes(),
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(body: &str) -> OutgoingMessage {
        OutgoingMessage::new(body)
    }

    #[test]
    fn batches_respect_entry_count_and_total_size() {
        let small: Vec<_> = (0..25).map(|i| msg(&format!("m{i}"))).collect();
        let sizes: Vec<usize> = batches(&small).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10, 10, 5]);

        let half = "x".repeat(MAX_MESSAGE_BYTES / 2);
        let big = vec![
            msg(&half),
            msg(&half),
            msg("tail"),
            msg(&"y".repeat(MAX_MESSAGE_BYTES)),
        ];
        assert_eq!(batches(&big), vec![vec![0, 1], vec![2], vec![3]]);
        assert!(batches(&[]).is_empty());
    }

    #[tokio::test]
    async fn unreachable_endpoint_is_unavailable() {
        // A loopback port nothing listens on: the connection is refused at once.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let settings = crate::AwsSettings::local(format!("http://127.0.0.1:{port}"));
        let config = crate::load_sdk_config(&settings).await;
        let queue = SqsQueue::new(Client::new(&config), format!("http://127.0.0.1:{port}/q"));
        let err = queue.depth().await.unwrap_err();
        assert!(matches!(err, PortError::Unavailable { .. }), "{err:?}");
        assert!(std::error::Error::source(&err).is_some());
        assert!(err.to_string().contains("GetQueueAttributes"), "{err}");
    }

    #[test]
    fn refusals_of_a_stale_receipt_are_told_apart_from_other_refusals() {
        let refusal = |code: &str, message: &str| {
            aws_sdk_sqs::error::ErrorMetadata::builder()
                .code(code)
                .message(message)
                .build()
        };
        let stale = [
            refusal(
                "ReceiptHandleIsInvalid",
                "The input receipt handle is invalid.",
            ),
            refusal("MessageNotInflight", "The message is not in flight."),
            refusal(
                "InvalidParameterValue",
                "Value AQEB for parameter ReceiptHandle is invalid. Reason: The receipt handle \
                 has expired.",
            ),
        ];
        for e in &stale {
            assert!(holds_nothing(e), "{e:?}");
        }
        let other = [
            refusal(
                "InvalidParameterValue",
                "Value 50000 for parameter VisibilityTimeout is invalid. Reason: Total \
                 VisibilityTimeout for the message is beyond the limit [43200 seconds]",
            ),
            refusal("QueueDoesNotExist", "The specified queue does not exist."),
            refusal("AccessDenied", "Access to the resource is denied."),
        ];
        for e in &other {
            assert!(!holds_nothing(e), "{e:?}");
        }
    }

    #[test]
    fn a_redrive_policy_names_its_dead_letter_queue_and_account() {
        let policy = r#"{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:123456789012:lf-prod-account-sync-dlq","maxReceiveCount":"5"}"#;
        assert_eq!(
            dead_letter_target(policy).unwrap(),
            (
                "lf-prod-account-sync-dlq".to_owned(),
                "123456789012".to_owned()
            )
        );
        for bad in [
            "not json",
            r#"{"maxReceiveCount":"5"}"#,
            r#"{"deadLetterTargetArn":"arn:aws:sns:eu-west-1:123456789012:topic"}"#,
            r#"{"deadLetterTargetArn":"arn:aws:sqs:eu-west-1::q"}"#,
        ] {
            assert!(dead_letter_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fractions_of_a_second_round_up() {
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(30)), 30);
        assert_eq!(whole_seconds(Duration::MAX), i32::MAX);
    }
}
