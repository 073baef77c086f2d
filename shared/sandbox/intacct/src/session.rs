//! API sessions (protocols.md B5): issued by `getAPISession`, tied to a user and an entity,
//! with a sliding timeout that each call moves forward.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// `len` random ASCII letters and digits, for opaque ids (sessions, result sets).
pub(crate) fn random_token(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| {
            let n = rng.random_range(0..62u8);
            char::from(match n {
                0..=9 => b'0' + n,
                10..=35 => b'a' + n - 10,
                _ => b'A' + n - 36,
            })
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub user_id: String,
    pub entity: Option<String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug)]
pub(crate) struct Sessions {
    map: HashMap<String, Session>,
    timeout: Duration,
}

impl Sessions {
    pub fn new(timeout: Duration) -> Self {
        Self {
            map: HashMap::new(),
            timeout,
        }
    }

    fn timeout(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.timeout).unwrap_or(chrono::Duration::hours(1))
    }

    /// A new session id for `user_id` in `entity`.
    pub fn open(
        &mut self,
        user_id: &str,
        entity: Option<String>,
        now: DateTime<Utc>,
    ) -> (String, Session) {
        // Session ids look like Intacct's: opaque, URL-safe, ending in "..".
        let token = random_token(32);
        let id = format!("{token}..");
        let session = Session {
            user_id: user_id.to_owned(),
            entity,
            expires_at: now + self.timeout(),
        };
        self.map.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The live session `id`, its timeout moved to now + duration; expired ones are removed.
    pub fn touch(&mut self, id: &str, now: DateTime<Utc>) -> Option<Session> {
        let timeout = self.timeout();
        let live = match self.map.get_mut(id) {
            Some(s) if s.expires_at > now => {
                s.expires_at = now + timeout;
                Some(s.clone())
            }
            Some(_) => None,
            None => return None,
        };
        if live.is_none() {
            self.map.remove(id);
        }
        live
    }

    pub fn remove(&mut self, id: &str) {
        self.map.remove(id);
    }

    /// Ends every session (what a test uses to force re-authentication).
    pub fn expire_all(&mut self) {
        self.map.clear();
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_timeout() {
        let t0 = DateTime::parse_from_rfc3339("2025-03-14T10:00:00Z")
            .unwrap()
            .to_utc();
        let mut s = Sessions::new(Duration::from_secs(600));
        let (id, _) = s.open("u", Some("US".into()), t0);
        assert!(id.ends_with(".."));
        let later = t0 + chrono::Duration::seconds(500);
        assert_eq!(
            s.touch(&id, later).unwrap().expires_at,
            later + chrono::Duration::seconds(600)
        );
        assert!(
            s.touch(&id, later + chrono::Duration::seconds(601))
                .is_none()
        );
        assert_eq!(s.len(), 0);
        assert!(s.touch("nope", t0).is_none());
    }
}
