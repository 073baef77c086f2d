//! API sessions: one per entity (`None` = top level), opened with `getAPISession`, kept while
//! the gateway keeps sliding its timeout, dropped when the gateway calls it invalid.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use lf_domain::EntityId;
use reqwest::Url;
use secrecy::SecretString;

use crate::response::AuthenticationBlock;

/// An open session. The id is a secret: whoever holds it acts as the API user.
#[derive(Debug)]
pub(crate) struct Session {
    pub id: SecretString,
    pub endpoint: Url,
    pub entity: Option<EntityId>,
    generation: u64,
    /// How long the gateway keeps an idle session, learnt from the first answer.
    idle_timeout: Option<chrono::Duration>,
    expires_at: Mutex<Option<DateTime<Utc>>>,
}

/// What can be shown about a session (no id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// `None` for the top level.
    pub entity: Option<EntityId>,
    /// Where this session's calls go.
    pub endpoint: String,
    /// When the session lapses unless used again, if the gateway said.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Session {
    pub fn new(
        id: SecretString,
        endpoint: Url,
        entity: Option<EntityId>,
        auth: &AuthenticationBlock,
    ) -> Self {
        let idle_timeout = match (auth.session_timestamp, auth.session_timeout) {
            (Some(from), Some(to)) if to > from => Some(to - from),
            _ => None,
        };
        Self {
            id,
            endpoint,
            entity,
            generation: 0,
            idle_timeout,
            expires_at: Mutex::new(auth.session_timeout.map(|t| t.with_timezone(&Utc))),
        }
    }

    fn expires_at(&self) -> Option<DateTime<Utc>> {
        *self.expires_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the session can still be used at `now`, keeping `margin` in hand.
    fn usable(&self, now: DateTime<Utc>, margin: chrono::Duration) -> bool {
        self.expires_at().is_none_or(|t| now + margin < t)
    }

    /// Every answer on the session moves its timeout: take the gateway's new timeout when it
    /// gives one, otherwise assume it slid by the idle timeout learnt at opening.
    pub fn slide(&self, auth: &AuthenticationBlock, now: DateTime<Utc>) {
        let next = auth
            .session_timeout
            .map(|t| t.with_timezone(&Utc))
            .or_else(|| self.idle_timeout.map(|d| now + d));
        if let Some(next) = next {
            *self.expires_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(next);
        }
    }

    pub fn info(&self) -> SessionInfo {
        SessionInfo {
            entity: self.entity.clone(),
            endpoint: self.endpoint.to_string(),
            expires_at: self.expires_at(),
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Session>>>>;

/// The sessions of one company, one slot per entity. Opening holds the slot's lock, so
/// concurrent callers for the same entity wait for one `getAPISession` instead of each
/// opening their own.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    slots: Mutex<HashMap<Option<EntityId>, Slot>>,
    generations: AtomicU64,
}

impl Sessions {
    fn slot(&self, entity: Option<&EntityId>) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(entity.cloned()).or_default().clone()
    }

    /// The entity's usable session, or a new one from `open`.
    pub async fn get_or_open<F, Fut, E>(
        &self,
        entity: Option<&EntityId>,
        now: DateTime<Utc>,
        margin: chrono::Duration,
        open: F,
    ) -> Result<Arc<Session>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Session, E>>,
    {
        let slot = self.slot(entity);
        let mut current = slot.lock().await;
        if let Some(s) = current.as_ref().filter(|s| s.usable(now, margin)) {
            return Ok(s.clone());
        }
        let mut fresh = open().await?;
        fresh.generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let fresh = Arc::new(fresh);
        *current = Some(fresh.clone());
        Ok(fresh)
    }

    /// Forgets `session` if it is still the entity's current one (another caller may already
    /// have replaced it).
    pub async fn invalidate(&self, session: &Session) {
        let slot = self.slot(session.entity.as_ref());
        let mut current = slot.lock().await;
        if current
            .as_ref()
            .is_some_and(|s| s.generation == session.generation)
        {
            *current = None;
        }
    }

    /// The open sessions, top level first.
    pub async fn infos(&self) -> Vec<SessionInfo> {
        let slots: Vec<Slot> = {
            let map = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            map.values().cloned().collect()
        };
        let mut out = Vec::new();
        for slot in slots {
            if let Some(s) = slot.lock().await.as_ref() {
                out.push(s.info());
            }
        }
        out.sort_by(|a, b| a.entity.cmp(&b.entity));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn auth(ts: &str, timeout: Option<&str>) -> AuthenticationBlock {
        AuthenticationBlock {
            success: true,
            session_timestamp: DateTime::parse_from_rfc3339(ts).ok(),
            session_timeout: timeout.and_then(|t| DateTime::parse_from_rfc3339(t).ok()),
            ..Default::default()
        }
    }

    fn session(a: &AuthenticationBlock) -> Session {
        Session::new(
            SecretString::from("id"),
            Url::parse("http://127.0.0.1/").unwrap(),
            None,
            a,
        )
    }

    #[test]
    fn timeout_slides_with_use() {
        let opened = auth("2025-01-01T10:00:00Z", Some("2025-01-01T11:00:00Z"));
        let s = session(&opened);
        let margin = chrono::Duration::seconds(60);
        let at = |h, m| Utc.with_ymd_and_hms(2025, 1, 1, h, m, 0).unwrap();
        assert!(s.usable(at(10, 30), margin));
        assert!(!s.usable(at(10, 59,), margin), "inside the margin");
        // An answer without a timeout slides by the learnt idle time (one hour).
        s.slide(&auth("2025-01-01T10:50:00Z", None), at(10, 50));
        assert!(s.usable(at(11, 30), margin));
        assert!(!s.usable(at(11, 50), margin));
        // An answer with a timeout is taken as is.
        s.slide(
            &auth("2025-01-01T11:00:00Z", Some("2025-01-01T15:00:00Z")),
            at(11, 0),
        );
        assert!(s.usable(at(14, 0), margin));
    }

    #[tokio::test]
    async fn one_open_per_entity_and_invalidate_only_current() {
        let sessions = Sessions::default();
        let now = Utc::now();
        let margin = chrono::Duration::zero();
        let opened = auth("2025-01-01T10:00:00Z", None);
        let a = sessions
            .get_or_open(None, now, margin, || async {
                Ok::<_, ()>(session(&opened))
            })
            .await
            .unwrap();
        let again = sessions
            .get_or_open(None, now, margin, || async { Err(()) })
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&a, &again), "cached session reused");
        let us = EntityId::parse("US").unwrap();
        let b = sessions
            .get_or_open(Some(&us), now, margin, || async {
                let mut s = session(&opened);
                s.entity = Some(us.clone());
                Ok::<_, ()>(s)
            })
            .await
            .unwrap();
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(sessions.infos().await.len(), 2);
        sessions.invalidate(&a).await;
        let c = sessions
            .get_or_open(None, now, margin, || async {
                Ok::<_, ()>(session(&opened))
            })
            .await
            .unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        // A stale invalidation (of `a`) must not drop the replacement `c`.
        sessions.invalidate(&a).await;
        let d = sessions
            .get_or_open(None, now, margin, || async { Err(()) })
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&c, &d));
    }
}
