//! The Salesforce fault wrapper: any [`SalesforcePort`] with [`ConnectorFault`]s drawn from a
//! [`FaultPlan`], one draw per call.
//!
//! - `LostAfterCommit`: the call is delegated (and commits), then the caller gets a transient
//!   error whose outcome is unknown — what a timeout after the write looks like.
//! - `Throttle`, `Transient`, `Permanent`: refused before delegating; nothing is applied.
//! - `Slow(d)`: delegated after `d`.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use chrono::NaiveDate;
use lf_domain::port::sync_state::Watermark;
use lf_domain::port::{
    Applied, ChangeBatch, DatedRate, RecordRead, SalesforcePort, SalesforcePortError, SfRecord,
    WriteResult,
};
use lf_domain::{ErrorClass, SalesforceId};

use super::{ConnectorFault, FaultPlan};

/// The error a wrapper reports for an injected fault (the source of its port error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InjectedFault(pub ConnectorFault);

impl fmt::Display for InjectedFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "injected fault: {:?}", self.0)
    }
}

impl std::error::Error for InjectedFault {}

/// A [`SalesforcePort`] that misbehaves as its plan says.
#[derive(Debug)]
pub struct FaultySalesforce<P> {
    inner: P,
    plan: FaultPlan<ConnectorFault>,
    /// When set, only calls of this operation draw from the plan.
    only: Option<&'static str>,
}

impl<P: SalesforcePort> FaultySalesforce<P> {
    /// Wraps `inner`; nothing is injected until the plan is told to.
    pub fn new(inner: P, seed: u64) -> Self {
        Self {
            inner,
            plan: super::plan(seed),
            only: None,
        }
    }

    /// Draws faults only for calls of `operation` (`upsert_tasks`, `update mixed`, as the
    /// wrapper names them); every other call passes straight through, so a test can fail one
    /// step of a flow and let the steps before it succeed.
    pub fn only(mut self, operation: &'static str) -> Self {
        self.only = Some(operation);
        self
    }

    /// The plan, to queue faults (`inject_next`) or set rates.
    pub fn plan(&self) -> &FaultPlan<ConnectorFault> {
        &self.plan
    }

    /// The wrapped port.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    async fn call<T, Fut>(
        &self,
        operation: &str,
        delegate: impl FnOnce() -> Fut,
    ) -> Result<T, SalesforcePortError>
    where
        Fut: Future<Output = Result<T, SalesforcePortError>>,
    {
        let refuse = |fault: ConnectorFault, class: ErrorClass, applied: Applied| {
            Err(SalesforcePortError::new(
                operation,
                class,
                applied,
                InjectedFault(fault),
            ))
        };
        if self.only.is_some_and(|only| only != operation) {
            return delegate().await;
        }
        match self.plan.draw() {
            None => delegate().await,
            Some(ConnectorFault::Slow(by)) => {
                tokio::time::sleep(by).await;
                delegate().await
            }
            Some(fault @ ConnectorFault::LostAfterCommit) => {
                // The outcome is what the caller never learns; the write happened or failed
                // on its own terms.
                let _ = delegate().await;
                refuse(fault, ErrorClass::Transient, Applied::Unknown)
            }
            Some(fault @ ConnectorFault::Throttle) => refuse(
                fault,
                ErrorClass::Throttled {
                    retry_after: Some(Duration::from_millis(5)),
                },
                Applied::No,
            ),
            Some(fault @ ConnectorFault::Transient) => {
                refuse(fault, ErrorClass::Transient, Applied::No)
            }
            Some(fault @ ConnectorFault::Permanent) => {
                refuse(fault, ErrorClass::Permanent, Applied::No)
            }
        }
    }
}

impl<P: SalesforcePort> SalesforcePort for FaultySalesforce<P> {
    async fn read_by_ids(
        &self,
        read: &RecordRead,
        ids: &[SalesforceId],
    ) -> Result<BTreeMap<SalesforceId, SfRecord>, SalesforcePortError> {
        self.call("read_by_ids", || self.inner.read_by_ids(read, ids))
            .await
    }

    async fn read_by_field(
        &self,
        read: &RecordRead,
        field: &str,
        values: &[String],
    ) -> Result<BTreeMap<String, Vec<SfRecord>>, SalesforcePortError> {
        self.call("read_by_field", || {
            self.inner.read_by_field(read, field, values)
        })
        .await
    }

    async fn changes_since(
        &self,
        read: &RecordRead,
        since: Option<&Watermark>,
        max_records: usize,
    ) -> Result<ChangeBatch, SalesforcePortError> {
        self.call("changes_since", || {
            self.inner.changes_since(read, since, max_records)
        })
        .await
    }

    async fn upsert(
        &self,
        object: &str,
        external_id_field: &str,
        records: Vec<SfRecord>,
    ) -> Result<Vec<WriteResult>, SalesforcePortError> {
        self.call("upsert", || {
            self.inner.upsert(object, external_id_field, records)
        })
        .await
    }

    async fn update(
        &self,
        object: &str,
        records: Vec<SfRecord>,
    ) -> Result<Vec<WriteResult>, SalesforcePortError> {
        self.call("update", || self.inner.update(object, records))
            .await
    }

    async fn update_mixed(
        &self,
        records: Vec<(String, SfRecord)>,
    ) -> Result<Vec<WriteResult>, SalesforcePortError> {
        self.call("update mixed", || self.inner.update_mixed(records))
            .await
    }

    async fn upsert_tasks(
        &self,
        tasks: Vec<SfRecord>,
    ) -> Result<Vec<WriteResult>, SalesforcePortError> {
        self.call("upsert_tasks", || self.inner.upsert_tasks(tasks))
            .await
    }

    async fn conversion_rates(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DatedRate>, SalesforcePortError> {
        self.call("conversion_rates", || self.inner.conversion_rates(from, to))
            .await
    }
}
