//! The Intacct fault wrapper: any [`IntacctPort`] (the real client on its sandbox, in the
//! tests) with a [`ConnectorFault`] drawn from a [`FaultPlan`] for every call.
//!
//! What each fault does to one call:
//! - `LostAfterCommit`: the call runs (and commits), its answer is dropped, and the caller gets
//!   a transient error — what a flow sees when its Lambda times out after Intacct applied it.
//! - `Throttle`, `Transient`, `Permanent`: the call is refused before it reaches Intacct.
//! - `Slow(d)`: the call waits `d`, then runs normally.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use lf_domain::port::{
    AccountFields, CreateResult, CustomerAccounts, IdempotentWrite, IntacctObject, IntacctPort,
    IntacctRecord, Month, RecognizedAmount, RecordQuery, RecordUpdate, RevenueBasis,
};
use lf_domain::{Classify, EntityId, ErrorClass, SalesforceId};

use super::{ConnectorFault, FaultPlan};

/// How long an injected throttle asks the caller to wait.
pub const INJECTED_RETRY_AFTER: Duration = Duration::from_millis(20);

/// An error of the wrapped port: one the wrapper injected, or the port's own.
#[derive(Debug)]
pub enum FaultError<E> {
    /// Injected by the wrapper (never `Slow`, which only delays).
    Injected(ConnectorFault),
    /// From the wrapped port.
    Inner(E),
}

impl<E: fmt::Display> fmt::Display for FaultError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultError::Injected(fault) => write!(f, "injected intacct fault: {fault:?}"),
            FaultError::Inner(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for FaultError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FaultError::Injected(_) => None,
            FaultError::Inner(e) => Some(e),
        }
    }
}

impl<E: Classify> Classify for FaultError<E> {
    fn class(&self) -> ErrorClass {
        match self {
            FaultError::Injected(ConnectorFault::LostAfterCommit | ConnectorFault::Transient) => {
                ErrorClass::Transient
            }
            FaultError::Injected(ConnectorFault::Throttle) => ErrorClass::Throttled {
                retry_after: Some(INJECTED_RETRY_AFTER),
            },
            FaultError::Injected(ConnectorFault::Permanent | ConnectorFault::Slow(_)) => {
                ErrorClass::Permanent
            }
            FaultError::Inner(e) => e.class(),
        }
    }
}

/// An [`IntacctPort`] that misbehaves as its plan says.
#[derive(Debug)]
pub struct FaultyIntacct<P> {
    inner: P,
    plan: FaultPlan<ConnectorFault>,
}

impl<P: IntacctPort> FaultyIntacct<P> {
    /// Wraps `inner`; faults come from `plan` (see [`super::plan`]).
    pub fn new(inner: P, plan: FaultPlan<ConnectorFault>) -> Self {
        Self { inner, plan }
    }

    /// The plan, to queue or rate faults.
    pub fn plan(&self) -> &FaultPlan<ConnectorFault> {
        &self.plan
    }

    /// The wrapped port, for calls that must not draw a fault.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Runs `call` under the fault drawn for it.
    async fn around<T, F>(&self, call: impl FnOnce() -> F) -> Result<T, FaultError<P::Error>>
    where
        F: Future<Output = Result<T, P::Error>>,
    {
        match self.plan.draw() {
            None => call().await.map_err(FaultError::Inner),
            Some(ConnectorFault::Slow(d)) => {
                tokio::time::sleep(d).await;
                call().await.map_err(FaultError::Inner)
            }
            Some(ConnectorFault::LostAfterCommit) => {
                // The work happens; only its answer is lost.
                let _lost = call().await;
                Err(FaultError::Injected(ConnectorFault::LostAfterCommit))
            }
            Some(refused) => Err(FaultError::Injected(refused)),
        }
    }
}

fn inner_items<T, E>(items: Vec<Result<T, E>>) -> Vec<Result<T, FaultError<E>>> {
    items
        .into_iter()
        .map(|r| r.map_err(FaultError::Inner))
        .collect()
}

impl<P: IntacctPort> IntacctPort for FaultyIntacct<P> {
    type Error = FaultError<P::Error>;

    async fn query(
        &self,
        entity: Option<&EntityId>,
        query: &RecordQuery,
    ) -> Result<Vec<IntacctRecord>, Self::Error> {
        self.around(|| self.inner.query(entity, query)).await
    }

    async fn find_linked(
        &self,
        entity: Option<&EntityId>,
        object: &IntacctObject,
        links: &[SalesforceId],
        fields: &[String],
    ) -> Result<Vec<IntacctRecord>, Self::Error> {
        self.around(|| self.inner.find_linked(entity, object, links, fields))
            .await
    }

    async fn create_idempotent(
        &self,
        entity: Option<&EntityId>,
        writes: &[IdempotentWrite],
    ) -> Result<Vec<Result<CreateResult, Self::Error>>, Self::Error> {
        self.around(|| self.inner.create_idempotent(entity, writes))
            .await
            .map(inner_items)
    }

    async fn query_many(
        &self,
        entity: Option<&EntityId>,
        queries: &[RecordQuery],
    ) -> Result<Vec<Result<Vec<IntacctRecord>, Self::Error>>, Self::Error> {
        self.around(|| self.inner.query_many(entity, queries))
            .await
            .map(inner_items)
    }

    async fn create_missing(
        &self,
        entity: Option<&EntityId>,
        writes: &[IdempotentWrite],
    ) -> Result<Vec<Result<CreateResult, Self::Error>>, Self::Error> {
        self.around(|| self.inner.create_missing(entity, writes))
            .await
            .map(inner_items)
    }

    async fn update(
        &self,
        entity: Option<&EntityId>,
        updates: &[RecordUpdate],
    ) -> Result<Vec<Result<(), Self::Error>>, Self::Error> {
        self.around(|| self.inner.update(entity, updates))
            .await
            .map(inner_items)
    }

    async fn read_accounts(
        &self,
        entity: Option<&EntityId>,
        customer_ids: &[String],
        fields: &AccountFields,
    ) -> Result<CustomerAccounts, Self::Error> {
        self.around(|| self.inner.read_accounts(entity, customer_ids, fields))
            .await
    }

    async fn recognized_revenue(
        &self,
        entity: Option<&EntityId>,
        month: Month,
        basis: &RevenueBasis,
    ) -> Result<Vec<RecognizedAmount>, Self::Error> {
        self.around(|| self.inner.recognized_revenue(entity, month, basis))
            .await
    }
}
