//! [`Queue`] with SQS semantics, durable in the database's `queue_message` table.
//!
//! A message's life: sent (visible at `sent + delay`) → received (hidden until `now +
//! visibility`, receive count + 1, a fresh receipt) → deleted, or visible again when its
//! visibility runs out. With a dead-letter queue, the receive that would exceed
//! `max_receives` moves the message there instead of delivering it.

use std::sync::Arc;
use std::time::Duration;

use lf_domain::PortError;
use lf_domain::port::queue::{check_batch, check_receive, check_visibility};
use lf_domain::port::{OutgoingMessage, Queue, QueueDepth, ReceiptHandle, ReceivedMessage};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::database::Database;
use crate::error::{EmbeddedError, OrPortError};
use crate::timestamp::{duration_nanos, to_nanos_saturating};

/// SQS's range for a redrive policy's `maxReceiveCount`.
const MAX_RECEIVES_LIMIT: u32 = 1000;
/// A long poll re-reads the table at least this often, for what no in-process signal announces:
/// a send from another process, or a clock moved by hand.
const RECHECK: Duration = Duration::from_secs(1);
/// The shortest nap between two reads of a long poll, so a message due a few nanoseconds from
/// now on a clock that does not move cannot turn the poll into a busy loop.
const MIN_NAP: Duration = Duration::from_millis(10);

/// Where a queue's undeliverable messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The dead-letter queue's name, in the same database.
    pub queue: String,
    /// How many receives a message gets before it moves (1 to 1000, as in SQS).
    pub max_receives: u32,
}

/// A named queue with SQS semantics (standard queue: at-least-once, no ordering promise,
/// though messages come out roughly in send order).
///
/// Durable: once `send_batch`, `delete` or `change_visibility` returned `Ok`, its effect
/// survives SIGKILL and reopening (see [`Database`]); receives are committed before they
/// return, so a receive count never goes backwards.
///
/// Visibility timeouts and delays run on the [`Database`]'s clock. A long poll (`wait`) sleeps
/// on real time and is woken at once by a send to this queue from the same [`Database`]; it
/// re-reads the table at least every second to see sends from other processes.
///
/// Beyond the trait's contract, as in SQS:
/// - A receipt is the handle of one receive. After the message is received again (its
///   visibility ran out) or moved to the dead-letter queue, the old receipt deletes nothing (the
///   call still succeeds) and `change_visibility` with it fails with [`PortError::Conflict`],
///   as it does once the message is deleted.
/// - A message moved to the dead-letter queue keeps its id, body and receive count, and is
///   visible there at once.
/// - `depth` leaves out delayed messages not yet received, as SQS's
///   `ApproximateNumberOfMessages` and `ApproximateNumberOfMessagesNotVisible` do (SQS counts
///   them apart, as `ApproximateNumberOfMessagesDelayed`).
/// - Refused with [`PortError::Invalid`], before anything is sent or received: an empty body,
///   a body over [`MAX_MESSAGE_BYTES`] bytes or with characters SQS refuses, a delay over 15
///   minutes, a visibility over 12 hours, `max` outside 1..=10.
///
/// [`MAX_MESSAGE_BYTES`]: lf_domain::port::queue::MAX_MESSAGE_BYTES
/// - Messages are kept until deleted (there is no retention period).
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    db: Database,
    name: Arc<str>,
    dead_letter: Option<DeadLetter>,
    signal: Arc<Notify>,
    dead_letter_signal: Option<Arc<Notify>>,
}

/// SQS's rule for queue names.
fn check_name(name: &str) -> Result<(), EmbeddedError> {
    let bad = |reason: &str| EmbeddedError::QueueConfig {
        queue: name.to_owned(),
        reason: reason.to_owned(),
    };
    if name.is_empty() || name.len() > 80 {
        return Err(bad("a queue name has 1 to 80 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(bad("a queue name has only letters, digits, '-' and '_'"));
    }
    Ok(())
}

/// One pass over the table, without waiting.
#[derive(Debug)]
struct Pass {
    messages: Vec<ReceivedMessage>,
    moved_to_dead_letter: usize,
    /// How long until the next hidden message becomes visible, on the database's clock.
    next_visible_in: Option<Duration>,
}

struct Candidate {
    seq: i64,
    message_id: String,
    body: String,
    receive_count: i64,
}

fn visible_candidates(
    tx: &Transaction<'_>,
    queue: &str,
    now: i64,
    after_seq: i64,
    limit: usize,
) -> rusqlite::Result<Vec<Candidate>> {
    let mut stmt = tx.prepare_cached(
        "SELECT seq, message_id, body, receive_count FROM queue_message \
         WHERE queue = ?1 AND visible_at <= ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
    )?;
    let rows = stmt.query_map(
        params![
            queue,
            now,
            after_seq,
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        |row| {
            Ok(Candidate {
                seq: row.get(0)?,
                message_id: row.get(1)?,
                body: row.get(2)?,
                receive_count: row.get(3)?,
            })
        },
    )?;
    rows.collect()
}

/// Receives up to `max` messages of `queue` as of `now`, moving those that used up their
/// receives to the dead-letter queue on the way. One transaction.
fn receive_pass(
    conn: &mut Connection,
    now: i64,
    queue: &str,
    dead_letter: Option<&DeadLetter>,
    max: usize,
    visibility: Duration,
) -> Result<Pass, PortError> {
    const WHAT: &str = "queue receive";
    let hidden_until = now.saturating_add(duration_nanos(visibility));
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .or_port(WHAT)?;
    let mut messages = Vec::new();
    let mut moved_to_dead_letter = 0;
    // Walk forward by sequence number so a message received in this pass (still visible with
    // a zero visibility) or moved away is never looked at twice.
    let mut after_seq = 0;
    while messages.len() < max {
        let candidates =
            visible_candidates(&tx, queue, now, after_seq, max - messages.len()).or_port(WHAT)?;
        if candidates.is_empty() {
            break;
        }
        for c in candidates {
            after_seq = c.seq;
            let received_before = u32::try_from(c.receive_count).map_err(|_| {
                PortError::corrupt(format!(
                    "queue {queue}: message {} has receive count {}",
                    c.message_id, c.receive_count
                ))
            })?;
            match dead_letter {
                Some(dl) if received_before >= dl.max_receives => {
                    tx.prepare_cached(
                        "UPDATE queue_message SET queue = ?2, receipt = NULL, visible_at = ?3 \
                         WHERE seq = ?1",
                    )
                    .and_then(|mut stmt| stmt.execute(params![c.seq, dl.queue, now]))
                    .or_port(WHAT)?;
                    moved_to_dead_letter += 1;
                }
                _ => {
                    let receipt = Uuid::new_v4().to_string();
                    tx.prepare_cached(
                        "UPDATE queue_message \
                         SET receive_count = receive_count + 1, receipt = ?2, visible_at = ?3 \
                         WHERE seq = ?1",
                    )
                    .and_then(|mut stmt| stmt.execute(params![c.seq, receipt, hidden_until]))
                    .or_port(WHAT)?;
                    messages.push(ReceivedMessage {
                        message_id: c.message_id,
                        body: c.body,
                        receipt: ReceiptHandle(receipt),
                        receive_count: received_before.saturating_add(1),
                    });
                }
            }
        }
    }
    let next_visible: Option<i64> = tx
        .prepare_cached(
            "SELECT MIN(visible_at) FROM queue_message WHERE queue = ?1 AND visible_at > ?2",
        )
        .and_then(|mut stmt| stmt.query_row(params![queue, now], |row| row.get(0)))
        .or_port(WHAT)?;
    tx.commit().or_port(WHAT)?;
    Ok(Pass {
        messages,
        moved_to_dead_letter,
        next_visible_in: next_visible
            .map(|at| Duration::from_nanos(u64::try_from(at.saturating_sub(now)).unwrap_or(0))),
    })
}

impl SqliteQueue {
    pub(crate) fn new(
        db: Database,
        name: &str,
        dead_letter: Option<DeadLetter>,
    ) -> Result<Self, EmbeddedError> {
        check_name(name)?;
        if let Some(dl) = &dead_letter {
            check_name(&dl.queue)?;
            let bad = |reason: String| EmbeddedError::QueueConfig {
                queue: name.to_owned(),
                reason,
            };
            if dl.queue == name {
                return Err(bad("a queue cannot be its own dead-letter queue".into()));
            }
            if !(1..=MAX_RECEIVES_LIMIT).contains(&dl.max_receives) {
                return Err(bad(format!(
                    "max_receives is {}; it must be 1 to {MAX_RECEIVES_LIMIT}",
                    dl.max_receives
                )));
            }
        }
        Ok(Self {
            signal: db.queue_signal(name),
            dead_letter_signal: dead_letter.as_ref().map(|dl| db.queue_signal(&dl.queue)),
            db,
            name: Arc::from(name),
            dead_letter,
        })
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where this queue's undeliverable messages go, if anywhere.
    pub fn dead_letter(&self) -> Option<&DeadLetter> {
        self.dead_letter.as_ref()
    }

    async fn receive_once(&self, max: u32, visibility: Duration) -> Result<Pass, PortError> {
        let queue = Arc::clone(&self.name);
        let dead_letter = self.dead_letter.clone();
        let max = usize::try_from(max).unwrap_or(1);
        let pass = self
            .db
            .run("queue receive", move |conn, now| {
                receive_pass(
                    conn,
                    to_nanos_saturating(now),
                    &queue,
                    dead_letter.as_ref(),
                    max,
                    visibility,
                )
            })
            .await?;
        if pass.moved_to_dead_letter > 0
            && let (Some(signal), Some(dl)) = (&self.dead_letter_signal, &self.dead_letter)
        {
            tracing::warn!(
                queue = %self.name,
                dead_letter_queue = %dl.queue,
                moved = pass.moved_to_dead_letter,
                max_receives = dl.max_receives,
                "messages moved to the dead-letter queue"
            );
            signal.notify_waiters();
        }
        Ok(pass)
    }
}

impl Queue for SqliteQueue {
    /// All messages are validated first, then written in one transaction: on `Err`, none was
    /// sent.
    async fn send_batch(&self, messages: &[OutgoingMessage]) -> Result<(), PortError> {
        check_batch(messages)?;
        if messages.is_empty() {
            return Ok(());
        }
        let queue = Arc::clone(&self.name);
        let rows: Vec<(String, i64)> = messages
            .iter()
            .map(|m| (m.body.clone(), duration_nanos(m.delay)))
            .collect();
        self.db
            .run("queue send", move |conn, now| {
                const WHAT: &str = "queue send";
                let now = to_nanos_saturating(now);
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .or_port(WHAT)?;
                {
                    let mut stmt = tx
                        .prepare_cached(
                            "INSERT INTO queue_message \
                             (queue, message_id, body, sent_at, visible_at) \
                             VALUES (?1, ?2, ?3, ?4, ?5)",
                        )
                        .or_port(WHAT)?;
                    for (body, delay) in rows {
                        stmt.execute(params![
                            queue.as_ref(),
                            Uuid::new_v4().to_string(),
                            body,
                            now,
                            now.saturating_add(delay)
                        ])
                        .or_port(WHAT)?;
                    }
                }
                tx.commit().or_port(WHAT)
            })
            .await?;
        self.signal.notify_waiters();
        Ok(())
    }

    async fn receive(
        &self,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Result<Vec<ReceivedMessage>, PortError> {
        check_receive(max, visibility)?;
        let started = tokio::time::Instant::now();
        loop {
            // Registered before the table is read, so a send landing between the read and the
            // nap still wakes this poll.
            let sent = self.signal.notified();
            tokio::pin!(sent);
            sent.as_mut().enable();

            let pass = self.receive_once(max, visibility).await?;
            if !pass.messages.is_empty() {
                return Ok(pass.messages);
            }
            let left = wait.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Ok(Vec::new());
            }
            let due = pass.next_visible_in.map_or(RECHECK, |d| d.max(MIN_NAP));
            let nap = left.min(RECHECK).min(due);
            tokio::select! {
                _ = sent.as_mut() => {}
                _ = tokio::time::sleep(nap) => {}
            }
        }
    }

    /// Deletes the message this receipt holds. A receipt that holds nothing (deleted already,
    /// superseded by a later receive, moved to the dead-letter queue) deletes nothing and still
    /// succeeds.
    async fn delete(&self, receipt: &ReceiptHandle) -> Result<(), PortError> {
        let queue = Arc::clone(&self.name);
        let receipt = receipt.0.clone();
        self.db
            .run("queue delete", move |conn, _| {
                conn.prepare_cached("DELETE FROM queue_message WHERE queue = ?1 AND receipt = ?2")
                    .and_then(|mut stmt| stmt.execute(params![queue.as_ref(), receipt]))
                    .or_port("queue delete")?;
                Ok(())
            })
            .await
    }

    /// Fails with [`PortError::Conflict`] when the receipt no longer holds its message
    /// (deleted, received again, moved to the dead-letter queue).
    async fn change_visibility(
        &self,
        receipt: &ReceiptHandle,
        visibility: Duration,
    ) -> Result<(), PortError> {
        check_visibility(visibility)?;
        let queue = Arc::clone(&self.name);
        let handle = receipt.0.clone();
        let changed = self
            .db
            .run("queue change visibility", move |conn, now| {
                let visible_at =
                    to_nanos_saturating(now).saturating_add(duration_nanos(visibility));
                conn.prepare_cached(
                    "UPDATE queue_message SET visible_at = ?3 WHERE queue = ?1 AND receipt = ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![queue.as_ref(), handle, visible_at]))
                .or_port("queue change visibility")
            })
            .await?;
        if changed == 0 {
            return Err(PortError::conflict(format!(
                "queue {}: receipt {} no longer holds a message (deleted, received again, or \
                 moved to the dead-letter queue)",
                self.name, receipt.0
            )));
        }
        if visibility.is_zero() {
            self.signal.notify_waiters();
        }
        Ok(())
    }

    async fn depth(&self) -> Result<QueueDepth, PortError> {
        let queue = Arc::clone(&self.name);
        self.db
            .run("queue depth", move |conn, now| {
                let now = to_nanos_saturating(now);
                let (visible, in_flight): (i64, i64) = conn
                    .prepare_cached(
                        "SELECT COALESCE(SUM(visible_at <= ?2), 0), \
                                COALESCE(SUM(visible_at > ?2 AND receive_count > 0), 0) \
                         FROM queue_message WHERE queue = ?1",
                    )
                    .and_then(|mut stmt| {
                        stmt.query_row(params![queue.as_ref(), now], |row| {
                            Ok((row.get(0)?, row.get(1)?))
                        })
                    })
                    .or_port("queue depth")?;
                Ok(QueueDepth {
                    visible: u64::try_from(visible).unwrap_or(0),
                    in_flight: u64::try_from(in_flight).unwrap_or(0),
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use lf_domain::ManualClock;
    use lf_domain::port::queue::{MAX_DELAY, MAX_VISIBILITY};
    use std::collections::BTreeSet;

    const VIS: Duration = Duration::from_secs(30);

    struct Fixture {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        clock: Arc<ManualClock>,
        db: Database,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("queues.db");
            let clock = Arc::new(ManualClock::new(Utc::now()));
            let db = Database::open(&path, clock.clone()).unwrap();
            Self {
                _dir: dir,
                path,
                clock,
                db,
            }
        }

        fn with_dlq(&self, max_receives: u32) -> (SqliteQueue, SqliteQueue) {
            let q = self
                .db
                .queue_with_dead_letter(
                    "work",
                    DeadLetter {
                        queue: "work-dlq".into(),
                        max_receives,
                    },
                )
                .unwrap();
            (q, self.db.queue("work-dlq").unwrap())
        }
    }

    async fn recv(q: &SqliteQueue, visibility: Duration) -> Vec<ReceivedMessage> {
        q.receive(10, visibility, Duration::ZERO).await.unwrap()
    }

    fn depth(visible: u64, in_flight: u64) -> QueueDepth {
        QueueDepth { visible, in_flight }
    }

    #[tokio::test]
    async fn receive_counts_up_then_the_message_moves_to_the_dead_letter_queue() {
        let f = Fixture::new();
        let (q, dlq) = f.with_dlq(3);
        q.send_batch(&[OutgoingMessage::new("poison"), OutgoingMessage::new("fine")])
            .await
            .unwrap();
        let first = recv(&q, VIS).await;
        assert_eq!(first.len(), 2);
        let fine = first.iter().find(|m| m.body == "fine").unwrap();
        q.delete(&fine.receipt).await.unwrap();
        let poison_id = first
            .iter()
            .find(|m| m.body == "poison")
            .unwrap()
            .message_id
            .clone();

        let mut last_receipt = None;
        for expected in 2..=3u32 {
            assert!(
                recv(&q, VIS).await.is_empty(),
                "hidden during its visibility"
            );
            f.clock.advance(VIS + Duration::from_secs(1));
            let got = recv(&q, VIS).await;
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].receive_count, expected);
            last_receipt = Some(got[0].receipt.clone());
        }
        assert_eq!(q.depth().await.unwrap(), depth(0, 1));
        f.clock.advance(VIS + Duration::from_secs(1));
        // The fourth receive would exceed max_receives = 3: moved, not delivered.
        assert!(recv(&q, VIS).await.is_empty());
        assert_eq!(q.depth().await.unwrap(), depth(0, 0));
        assert_eq!(dlq.depth().await.unwrap(), depth(1, 0));

        // The last receipt from the source queue holds nothing any more.
        let stale = last_receipt.unwrap();
        q.delete(&stale).await.unwrap();
        dlq.delete(&stale).await.unwrap();
        let err = q.change_visibility(&stale, VIS).await.unwrap_err();
        assert!(matches!(err, PortError::Conflict { .. }), "{err:?}");

        let dead = recv(&dlq, VIS).await;
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].body, "poison");
        assert_eq!(dead[0].message_id, poison_id, "the id survives the move");
        assert_eq!(
            dead[0].receive_count, 4,
            "the count carries over, as in SQS"
        );
        dlq.delete(&dead[0].receipt).await.unwrap();
        assert_eq!(dlq.depth().await.unwrap(), depth(0, 0));
    }

    #[tokio::test]
    async fn a_move_to_the_dead_letter_queue_does_not_use_up_the_batch() {
        let f = Fixture::new();
        let (q, dlq) = f.with_dlq(1);
        let bodies: Vec<OutgoingMessage> = (0..5)
            .map(|i| OutgoingMessage::new(format!("old{i}")))
            .collect();
        q.send_batch(&bodies).await.unwrap();
        assert_eq!(recv(&q, VIS).await.len(), 5);
        f.clock.advance(VIS + Duration::from_secs(1));
        q.send_batch(&[OutgoingMessage::new("new")]).await.unwrap();
        // The five used their single receive and move; the fresh one is still delivered.
        let got = recv(&q, VIS).await;
        assert_eq!(
            got.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["new"]
        );
        assert_eq!(dlq.depth().await.unwrap(), depth(5, 0));
    }

    #[tokio::test]
    async fn a_superseded_receipt_neither_deletes_nor_extends() {
        let f = Fixture::new();
        let q = f.db.queue("work").unwrap();
        q.send_batch(&[OutgoingMessage::new("job")]).await.unwrap();
        let old = recv(&q, VIS).await.remove(0);
        f.clock.advance(VIS + Duration::from_secs(1));
        let new = recv(&q, VIS).await.remove(0);
        assert_ne!(old.receipt, new.receipt);
        assert_eq!(new.message_id, old.message_id);

        q.delete(&old.receipt).await.unwrap();
        assert_eq!(
            q.depth().await.unwrap(),
            depth(0, 1),
            "still held by the new receipt"
        );
        let err = q
            .change_visibility(&old.receipt, Duration::ZERO)
            .await
            .unwrap_err();
        assert!(matches!(err, PortError::Conflict { .. }), "{err:?}");

        q.delete(&new.receipt).await.unwrap();
        assert_eq!(q.depth().await.unwrap(), depth(0, 0));
        let err = q.change_visibility(&new.receipt, VIS).await.unwrap_err();
        assert!(
            matches!(err, PortError::Conflict { .. }),
            "deleted: {err:?}"
        );
    }

    #[tokio::test]
    async fn zero_visibility_returns_each_message_once_per_receive() {
        let f = Fixture::new();
        let q = f.db.queue("work").unwrap();
        q.send_batch(&[OutgoingMessage::new("a"), OutgoingMessage::new("b")])
            .await
            .unwrap();
        let got = recv(&q, Duration::ZERO).await;
        assert_eq!(got.len(), 2, "no message twice in one batch: {got:?}");
        let again = recv(&q, Duration::ZERO).await;
        assert_eq!(again.len(), 2);
        assert!(again.iter().all(|m| m.receive_count == 2));
    }

    #[tokio::test]
    async fn invalid_requests_are_refused_before_anything_happens() {
        let f = Fixture::new();
        let q = f.db.queue("work").unwrap();
        let mut late = OutgoingMessage::new("late");
        late.delay = MAX_DELAY + Duration::from_secs(1);
        for batch in [
            vec![OutgoingMessage::new("ok"), OutgoingMessage::new("")],
            vec![
                OutgoingMessage::new("ok"),
                OutgoingMessage::new("bell\u{7}"),
            ],
            vec![
                OutgoingMessage::new("ok"),
                OutgoingMessage::new("nonchar\u{FFFE}"),
            ],
            vec![OutgoingMessage::new("ok"), late],
        ] {
            let err = q.send_batch(&batch).await.unwrap_err();
            assert!(matches!(err, PortError::Invalid { .. }), "{err:?}");
        }
        assert_eq!(q.depth().await.unwrap(), depth(0, 0));
        // Tabs, newlines and characters beyond the BMP are fine.
        q.send_batch(&[OutgoingMessage::new("a\tb\r\nc 🧾")])
            .await
            .unwrap();

        for max in [0, 11] {
            let err = q.receive(max, VIS, Duration::ZERO).await.unwrap_err();
            assert!(matches!(err, PortError::Invalid { .. }), "{err:?}");
        }
        let too_long = MAX_VISIBILITY + Duration::from_secs(1);
        let err = q.receive(1, too_long, Duration::ZERO).await.unwrap_err();
        assert!(matches!(err, PortError::Invalid { .. }), "{err:?}");
        assert_eq!(
            q.depth().await.unwrap(),
            depth(1, 0),
            "nothing was received"
        );
        let m = recv(&q, VIS).await.remove(0);
        assert_eq!(m.body, "a\tb\r\nc 🧾");
        let err = q.change_visibility(&m.receipt, too_long).await.unwrap_err();
        assert!(matches!(err, PortError::Invalid { .. }), "{err:?}");
    }

    #[test]
    fn queue_configuration_is_checked() {
        let f = Fixture::new();
        for name in ["", "has space", "dot.ted", &"x".repeat(81)] {
            assert!(
                matches!(f.db.queue(name), Err(EmbeddedError::QueueConfig { .. })),
                "{name:?}"
            );
        }
        assert!(f.db.queue(&"x".repeat(80)).is_ok());
        let dl = |queue: &str, max_receives| DeadLetter {
            queue: queue.into(),
            max_receives,
        };
        for (dead_letter, why) in [
            (dl("work", 3), "itself"),
            (dl("work-dlq", 0), "zero receives"),
            (dl("work-dlq", 1001), "over SQS's limit"),
            (dl("bad name", 3), "bad name"),
        ] {
            assert!(
                matches!(
                    f.db.queue_with_dead_letter("work", dead_letter),
                    Err(EmbeddedError::QueueConfig { .. })
                ),
                "{why}"
            );
        }
    }

    #[tokio::test]
    async fn named_queues_are_separate_and_handles_on_one_name_share() {
        let f = Fixture::new();
        let a = f.db.queue("a").unwrap();
        let b = f.db.queue("b").unwrap();
        a.send_batch(&[OutgoingMessage::new("for a")])
            .await
            .unwrap();
        assert!(recv(&b, VIS).await.is_empty());
        let a_again = f.db.queue("a").unwrap();
        let got = recv(&a_again, VIS).await;
        assert_eq!(got.len(), 1);
        // A receipt of queue a does nothing on queue b.
        b.delete(&got[0].receipt).await.unwrap();
        assert_eq!(a.depth().await.unwrap(), depth(0, 1));
        a.delete(&got[0].receipt).await.unwrap();
        assert_eq!(a.depth().await.unwrap(), depth(0, 0));
    }

    #[tokio::test]
    async fn delayed_messages_count_nowhere_until_due() {
        let f = Fixture::new();
        let q = f.db.queue("work").unwrap();
        let mut m = OutgoingMessage::new("later");
        m.delay = Duration::from_secs(60);
        q.send_batch(&[m]).await.unwrap();
        assert_eq!(q.depth().await.unwrap(), depth(0, 0));
        f.clock.advance(Duration::from_secs(60));
        assert_eq!(
            q.depth().await.unwrap(),
            depth(1, 0),
            "due at exactly its delay"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_poll_is_woken_by_a_send() {
        let f = Fixture::new();
        let q = f.db.queue("work").unwrap();
        let waiting = tokio::spawn({
            let q = q.clone();
            async move { q.receive(10, VIS, Duration::from_secs(600)).await }
        });
        // A send from another handle on the same database.
        let sender = f.db.queue("work").unwrap();
        sender
            .send_batch(&[OutgoingMessage::new("ping")])
            .await
            .unwrap();
        let got = waiting.await.unwrap().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, "ping");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_poll_sees_messages_due_on_a_moved_clock_and_moves_to_dead_letter_wake_it() {
        let f = Fixture::new();
        let (q, dlq) = f.with_dlq(1);
        let mut m = OutgoingMessage::new("delayed");
        m.delay = Duration::from_secs(120);
        q.send_batch(&[m]).await.unwrap();
        let waiting = tokio::spawn({
            let q = q.clone();
            async move { q.receive(10, VIS, Duration::from_secs(600)).await }
        });
        f.clock.advance(Duration::from_secs(120));
        let got = waiting.await.unwrap().unwrap();
        assert_eq!(got[0].body, "delayed");

        let dead = tokio::spawn({
            let dlq = dlq.clone();
            async move { dlq.receive(10, VIS, Duration::from_secs(600)).await }
        });
        f.clock.advance(VIS + Duration::from_secs(1));
        assert!(recv(&q, VIS).await.is_empty(), "moved instead");
        let got = dead.await.unwrap().unwrap();
        assert_eq!(got[0].body, "delayed");
    }

    #[tokio::test]
    async fn a_long_poll_on_an_empty_queue_returns_nothing_when_its_wait_ends() {
        let f = Fixture::new();
        let q = f.db.queue("work").unwrap();
        let got = q.receive(10, VIS, Duration::from_millis(30)).await.unwrap();
        assert!(got.is_empty());
    }

    #[tokio::test]
    async fn queue_state_survives_reopening() {
        let f = Fixture::new();
        let q = f.db.queue("work").unwrap();
        q.send_batch(&[OutgoingMessage::new("one"), OutgoingMessage::new("two")])
            .await
            .unwrap();
        let held = recv(&q, VIS).await;
        assert_eq!(held.len(), 2);
        q.delete(&held[0].receipt).await.unwrap();
        drop(q);
        let Fixture {
            _dir,
            path,
            clock,
            db,
        } = f;
        drop(db);

        let db = Database::open(&path, clock.clone()).unwrap();
        let q = db.queue("work").unwrap();
        assert_eq!(q.depth().await.unwrap(), depth(0, 1), "still in flight");
        // The receipt from before the reopen still holds its message.
        q.change_visibility(&held[1].receipt, Duration::ZERO)
            .await
            .unwrap();
        let back = recv(&q, VIS).await;
        let bodies: BTreeSet<&str> = back.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(bodies, BTreeSet::from([held[1].body.as_str()]));
        assert_eq!(back[0].receive_count, 2);
    }
}
