//! Counters of what the client did, for logs, metrics and tests.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the client's counters since it was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientStats {
    /// HTTP requests sent (every attempt counts).
    pub requests: u64,
    /// Attempts that were retries after a failure.
    pub retries: u64,
    /// Answers that said "slow down" (HTTP 429 or GW-0010).
    pub throttled: u64,
    /// HTTP 5xx answers.
    pub server_errors: u64,
    /// `getAPISession` calls that opened a session.
    pub sessions_opened: u64,
    /// Requests replayed after the session was found invalid.
    pub reauthentications: u64,
    /// Writes whose answer was lost and whose record was then found by lookup.
    pub writes_recovered: u64,
    /// Calls to the company-wide concurrency limiter (an acquire and a release per request
    /// when one is configured; 0 without).
    pub limiter_calls: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
    pub server_errors: AtomicU64,
    pub sessions_opened: AtomicU64,
    pub reauthentications: AtomicU64,
    pub writes_recovered: AtomicU64,
    pub limiter_calls: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ClientStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ClientStats {
            requests: get(&self.requests),
            retries: get(&self.retries),
            throttled: get(&self.throttled),
            server_errors: get(&self.server_errors),
            sessions_opened: get(&self.sessions_opened),
            reauthentications: get(&self.reauthentications),
            writes_recovered: get(&self.writes_recovered),
            limiter_calls: get(&self.limiter_calls),
        }
    }
}
