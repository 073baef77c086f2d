//! The company-wide concurrency limiter on SQLite ([`SqliteLimiter`], shared by every process
//! using one database file) and in memory ([`LocalLimiter`], one process).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lf_domain::port::{
    BoxFuture, ConcurrencyLimiter, Lease, acquire_by_polling, check_capacity, lease_expiry,
};
use lf_domain::{Clock, Deadline, PortError};
use rusqlite::{TransactionBehavior, params};

use crate::database::Database;
use crate::error::OrPortError;
use crate::timestamp::{from_nanos, to_nanos_saturating};

/// A limiter of `capacity` slots named `name`, as rows of the `lease` table.
///
/// Each attempt reads the held slots and takes a free (or expired) one inside one `IMMEDIATE`
/// transaction, which holds SQLite's write lock, so processes sharing the file never hand out
/// one slot twice. Expiry is judged on the [`Database`]'s clock. Waiting polls with jitter
/// ([`acquire_by_polling`]).
#[derive(Debug, Clone)]
pub struct SqliteLimiter {
    db: Database,
    name: String,
    capacity: u32,
}

impl SqliteLimiter {
    pub(crate) fn new(db: Database, name: &str, capacity: u32) -> Result<Self, PortError> {
        check_capacity(name, capacity)?;
        Ok(Self {
            db,
            name: name.to_owned(),
            capacity,
        })
    }

    async fn try_once(&self, hold: Duration) -> Result<Option<Lease>, PortError> {
        let name = self.name.clone();
        let capacity = self.capacity;
        self.db
            .run("limiter acquire", move |conn, now| {
                let now_ns = to_nanos_saturating(now);
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .or_port("limiter acquire")?;
                let held: Vec<i64> = {
                    let mut stmt = tx
                        .prepare_cached(
                            "SELECT slot FROM lease WHERE name = ?1 AND expires_at >= ?2",
                        )
                        .or_port("limiter acquire")?;
                    let rows = stmt
                        .query_map(params![name, now_ns], |row| row.get(0))
                        .or_port("limiter acquire")?;
                    rows.collect::<Result<_, _>>().or_port("limiter acquire")?
                };
                let Some(slot) = (0..capacity).find(|s| !held.contains(&i64::from(*s))) else {
                    return Ok(None);
                };
                let token = uuid::Uuid::new_v4().to_string();
                let expires_at = to_nanos_saturating(lease_expiry(now, hold));
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO lease (name, slot, token, expires_at) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut stmt| stmt.execute(params![name, slot, token, expires_at]))
                .or_port("limiter acquire")?;
                tx.commit().or_port("limiter acquire")?;
                Ok(Some(Lease {
                    slot,
                    token,
                    expires_at: from_nanos(expires_at),
                }))
            })
            .await
    }
}

impl ConcurrencyLimiter for SqliteLimiter {
    fn acquire(
        &self,
        hold: Duration,
        deadline: Option<Deadline>,
    ) -> BoxFuture<'_, Result<Lease, PortError>> {
        Box::pin(acquire_by_polling(
            &self.name,
            self.capacity,
            deadline,
            move || self.try_once(hold),
        ))
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), PortError>> {
        let name = self.name.clone();
        let slot = lease.slot;
        let token = lease.token.clone();
        Box::pin(self.db.run("limiter release", move |conn, _| {
            // Only our own token: a stale release (the slot expired and was taken) matches no row.
            conn.prepare_cached("DELETE FROM lease WHERE name = ?1 AND slot = ?2 AND token = ?3")
                .and_then(|mut stmt| stmt.execute(params![name, slot, token]))
                .or_port("limiter release")?;
            Ok(())
        }))
    }

    fn capacity(&self) -> u32 {
        self.capacity
    }
}

/// Who holds a slot of a [`LocalLimiter`]: the lease's token, and when the lease expires.
type Holder = (String, DateTime<Utc>);

/// A limiter for one process (tests, `ledgerforce local` with one instance): the same slots
/// and expiring leases as the shared limiters, in memory.
///
/// Deliberately not a bare `tokio::sync::Semaphore`: a permit cannot expire, and the port
/// promises that a lease nobody releases frees itself at `expires_at`; keeping the rules
/// identical lets one contract suite hold every limiter to them.
#[derive(Debug)]
pub struct LocalLimiter {
    name: String,
    clock: Arc<dyn Clock>,
    /// Per slot: its holder, or `None` when free.
    slots: Mutex<Vec<Option<Holder>>>,
}

impl LocalLimiter {
    /// A limiter of `capacity` slots; times are read from `clock`. Fails with
    /// [`PortError::Invalid`] for a capacity of 0.
    pub fn new(name: &str, capacity: u32, clock: Arc<dyn Clock>) -> Result<Self, PortError> {
        check_capacity(name, capacity)?;
        Ok(Self {
            name: name.to_owned(),
            clock,
            slots: Mutex::new(vec![None; capacity as usize]),
        })
    }

    fn try_once(&self, hold: Duration) -> Result<Option<Lease>, PortError> {
        let now = self.clock.now();
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let free = slots
            .iter()
            .position(|s| s.as_ref().is_none_or(|(_, until)| *until < now));
        Ok(free.map(|i| {
            let token = uuid::Uuid::new_v4().to_string();
            let expires_at = lease_expiry(now, hold);
            slots[i] = Some((token.clone(), expires_at));
            Lease {
                slot: u32::try_from(i).unwrap_or(u32::MAX),
                token,
                expires_at,
            }
        }))
    }
}

impl ConcurrencyLimiter for LocalLimiter {
    fn acquire(
        &self,
        hold: Duration,
        deadline: Option<Deadline>,
    ) -> BoxFuture<'_, Result<Lease, PortError>> {
        Box::pin(acquire_by_polling(
            &self.name,
            self.capacity(),
            deadline,
            move || std::future::ready(self.try_once(hold)),
        ))
    }

    fn release<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), PortError>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get_mut(lease.slot as usize)
            && slot
                .as_ref()
                .is_some_and(|(token, _)| *token == lease.token)
        {
            *slot = None;
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn capacity(&self) -> u32 {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        u32::try_from(slots.len()).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lf_domain::ManualClock;

    #[tokio::test]
    async fn a_limiter_is_usable_as_a_shared_trait_object() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let shared: Arc<dyn ConcurrencyLimiter> =
            Arc::new(LocalLimiter::new("intacct", 1, clock).unwrap());
        let lease = shared.acquire(Duration::from_secs(5), None).await.unwrap();
        assert_eq!(shared.capacity(), 1);
        let busy = shared
            .acquire(
                Duration::from_secs(5),
                Some(Deadline::after(Duration::from_millis(50))),
            )
            .await;
        assert!(matches!(busy, Err(PortError::Throttled { .. })), "{busy:?}");
        shared.release(&lease).await.unwrap();
        shared.acquire(Duration::from_secs(5), None).await.unwrap();
    }

    #[test]
    fn capacity_zero_is_refused() {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        assert!(matches!(
            LocalLimiter::new("intacct", 0, clock),
            Err(PortError::Invalid { .. })
        ));
    }
}
