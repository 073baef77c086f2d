//! The client of one Intacct company: sessions per entity, the concurrency cap, and sending
//! functions. Batches, paging and idempotent writes build on [`IntacctClient::send`].

use std::sync::Arc;

use lf_domain::{Classify, Clock, Deadline, EntityId, ErrorClass, SystemClock};
use reqwest::Url;
use secrecy::SecretString;

use crate::config::{Credentials, IntacctConfig};
use crate::envelope::{Auth, Envelope};
use crate::error::IntacctError;
use crate::function::{Function, random_control_id};
use crate::metrics::{ClientStats, Counters};
use crate::response::FunctionResult;
use crate::session::{Session, SessionInfo, Sessions};
use crate::transport::{Transport, TransportConfig};

/// A connection to one Intacct company. Cheap to clone; clones share sessions, the
/// concurrency cap and the counters.
#[derive(Debug, Clone)]
pub struct IntacctClient {
    inner: Arc<Inner>,
    deadline: Option<Deadline>,
}

#[derive(Debug)]
struct Inner {
    credentials: Credentials,
    endpoint: Url,
    transport: Transport,
    sessions: Sessions,
    counters: Arc<Counters>,
    clock: Arc<dyn Clock>,
    refresh_margin: chrono::Duration,
}

/// How [`IntacctClient::send`] treats a request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SendOptions {
    /// All functions in one database transaction.
    pub transaction: bool,
}

/// HTTP 401 to a sign-in (`XMLGW_JPP0002` "Sign-in information is incorrect") refuses the
/// credentials themselves, not a session: reported as the failed login it is, which a new
/// session cannot heal (permanent), rather than as an expired session.
fn sign_in_refusal(e: IntacctError) -> IntacctError {
    match e {
        IntacctError::HttpStatus {
            status: 401,
            errors,
            ..
        } => IntacctError::Authentication {
            login: true,
            errors,
        },
        other => other,
    }
}

impl IntacctClient {
    /// A client on the system clock.
    pub fn new(config: IntacctConfig) -> Result<Self, IntacctError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A client whose session timeouts are judged by `clock`.
    pub fn with_clock(config: IntacctConfig, clock: Arc<dyn Clock>) -> Result<Self, IntacctError> {
        let endpoint = config.validate()?;
        let counters = Arc::new(Counters::default());
        let transport = Transport::new(
            TransportConfig {
                timeout: config.request_timeout,
                max_concurrent: config.max_concurrent_requests,
                limiter: config.limiter.clone(),
                retry: config.retry,
                max_response_bytes: config.max_response_bytes,
            },
            counters.clone(),
        )?;
        let refresh_margin = chrono::Duration::from_std(config.session_refresh_margin)
            .map_err(|_| IntacctError::config("session_refresh_margin is too large"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                credentials: config.credentials,
                endpoint,
                transport,
                sessions: Sessions::default(),
                counters,
                clock,
                refresh_margin,
            }),
            deadline: None,
        })
    }

    /// The same client, giving up retries that would end after `deadline` (a Lambda's end).
    pub fn with_deadline(&self, deadline: Deadline) -> Self {
        Self {
            inner: self.inner.clone(),
            deadline: Some(deadline),
        }
    }

    /// What the client has done so far.
    pub fn stats(&self) -> ClientStats {
        self.inner.counters.snapshot()
    }

    /// The sessions currently held, without their ids.
    pub async fn sessions(&self) -> Vec<SessionInfo> {
        self.inner.sessions.infos().await
    }

    /// Opens (or reuses) the session of `entity` and describes it.
    pub async fn session(&self, entity: Option<&EntityId>) -> Result<SessionInfo, IntacctError> {
        Ok(self.current_session(entity).await?.info())
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    pub(crate) fn retry_policy(&self) -> lf_domain::RetryPolicy {
        self.inner.transport.retry_policy()
    }

    pub(crate) fn deadline(&self) -> Option<Deadline> {
        self.deadline
    }

    async fn current_session(
        &self,
        entity: Option<&EntityId>,
    ) -> Result<Arc<Session>, IntacctError> {
        let now = self.inner.clock.now();
        self.inner
            .sessions
            .get_or_open(entity, now, self.inner.refresh_margin, || {
                self.open_session(entity)
            })
            .await
    }

    /// `getAPISession`, alone in a request signed in with the user's credentials. For an
    /// entity, both the sign-in and `getAPISession` name it (`<locationid>`): users limited to
    /// one entity can only sign in there, and the session must be the entity's either way.
    async fn open_session(&self, entity: Option<&EntityId>) -> Result<Session, IntacctError> {
        let inner = &self.inner;
        let functions = [Function::get_api_session(entity)];
        let control_id = random_control_id();
        let body = Envelope {
            credentials: &inner.credentials,
            control_id: &control_id,
            unique_id: false,
            transaction: false,
            auth: Auth::Login {
                credentials: &inner.credentials,
                entity,
            },
            functions: &functions,
        }
        .write()?;
        let op = inner
            .transport
            .post(&inner.endpoint, &body, true, self.deadline)
            .await
            .map_err(sign_in_refusal)?
            .into_operation(true)?;
        let data = op
            .results
            .into_iter()
            .next()
            .ok_or_else(|| IntacctError::protocol("getAPISession returned no result"))?
            .into_data()?;
        let api = data
            .records
            .iter()
            .find(|r| r.name().eq_ignore_ascii_case("api"))
            .ok_or_else(|| IntacctError::protocol("getAPISession result has no <api>"))?;
        let id = api
            .field("sessionid")
            .ok_or_else(|| IntacctError::protocol("getAPISession result has no <sessionid>"))?;
        let endpoint = self.session_endpoint(api.field("endpoint"));
        Counters::bump(&inner.counters.sessions_opened);
        tracing::debug!(entity = ?entity.map(EntityId::as_str), %endpoint, "intacct session opened");
        Ok(Session::new(
            SecretString::from(id.to_owned()),
            endpoint,
            entity.cloned(),
            &op.authentication,
        ))
    }

    /// The endpoint a session is tied to. It arrives over the network, so it is used only when
    /// it is an Intacct host over HTTPS or the host we were configured with; otherwise calls
    /// stay on the configured endpoint.
    fn session_endpoint(&self, given: Option<&str>) -> Url {
        let configured = &self.inner.endpoint;
        let Some(given) = given else {
            return configured.clone();
        };
        match Url::parse(given) {
            Ok(url)
                if url.origin() == configured.origin()
                    || (url.scheme() == "https"
                        && url.host_str().is_some_and(|h| {
                            h == "intacct.com" || h.ends_with(".intacct.com")
                        })) =>
            {
                url
            }
            _ => {
                tracing::warn!(
                    endpoint = given,
                    "ignoring session endpoint outside intacct.com; using the configured one"
                );
                configured.clone()
            }
        }
    }

    /// Sends `functions` in one request on the entity's session and returns their results in
    /// the order the gateway gave them.
    ///
    /// `uniqueid` is `true` when any function writes, so a replayed write is refused by its
    /// controlid. A request refused because the session is invalid is replayed once on a new
    /// session (no function ran). Writes are not resent after a failure that may have
    /// applied them; the caller decides (see [`IntacctClient::create_idempotent`]).
    pub(crate) async fn send(
        &self,
        entity: Option<&EntityId>,
        functions: &[Function],
        options: SendOptions,
    ) -> Result<Vec<FunctionResult>, IntacctError> {
        let inner = &self.inner;
        let writes = functions.iter().any(Function::is_write);
        let mut reauthenticated = false;
        loop {
            let session = self.current_session(entity).await?;
            let control_id = random_control_id();
            let body = Envelope {
                credentials: &inner.credentials,
                control_id: &control_id,
                unique_id: writes,
                transaction: options.transaction,
                auth: Auth::Session(&session.id),
                functions,
            }
            .write()?;
            let outcome = inner
                .transport
                .post(&session.endpoint, &body, !writes, self.deadline)
                .await
                .and_then(|r| r.into_operation(false));
            match outcome {
                Ok(op) => {
                    session.slide(&op.authentication, inner.clock.now());
                    return Ok(op.results);
                }
                Err(e) if e.class() == ErrorClass::AuthExpired && !reauthenticated => {
                    tracing::info!(error = %e, "intacct session refused; signing in again");
                    inner.sessions.invalidate(&session).await;
                    Counters::bump(&inner.counters.reauthentications);
                    reauthenticated = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends one function and returns its data, or its error.
    pub async fn call(
        &self,
        entity: Option<&EntityId>,
        function: Function,
    ) -> Result<crate::response::ResultData, IntacctError> {
        let control_id = function.control_id().to_owned();
        let name = function.name().to_owned();
        let results = self
            .send(
                entity,
                std::slice::from_ref(&function),
                SendOptions::default(),
            )
            .await?;
        results
            .into_iter()
            .find(|r| r.control_id == control_id)
            .ok_or_else(|| {
                IntacctError::protocol(format!("no result for {name} (controlid {control_id})"))
            })?
            .into_data()
    }
}
