//! The ports a Salesforce→Intacct flow works through, held together so a handler is generic
//! over one bundle instead of six parameters.

use std::sync::Arc;

use lf_domain::Clock;
use lf_domain::port::{
    AuditLog, IdempotencyStore, IntacctPort, SalesforcePort, SyncState, XrefStore,
};

/// The connectors and stores one flow handler uses. Built once (outside the Lambda handler,
/// or once per `ledgerforce local` process) and shared by every batch.
#[derive(Debug)]
pub struct FlowPorts<S, I, X, D, T, A> {
    pub salesforce: S,
    pub intacct: I,
    pub xref: X,
    pub idempotency: D,
    pub state: T,
    pub audit: A,
    /// Time for audit entries and links (the stores keep their own).
    pub clock: Arc<dyn Clock>,
}

/// The port bounds every flow handler states once.
pub trait Ports: Send + Sync {
    type Salesforce: SalesforcePort;
    type Intacct: IntacctPort;
    type Xref: XrefStore;
    type Idempotency: IdempotencyStore;
    type State: SyncState;
    type Audit: AuditLog;

    fn salesforce(&self) -> &Self::Salesforce;
    fn intacct(&self) -> &Self::Intacct;
    fn xref(&self) -> &Self::Xref;
    fn idempotency(&self) -> &Self::Idempotency;
    fn state(&self) -> &Self::State;
    fn audit(&self) -> &Self::Audit;
    fn clock(&self) -> &dyn Clock;
}

impl<S, I, X, D, T, A> Ports for FlowPorts<S, I, X, D, T, A>
where
    S: SalesforcePort,
    I: IntacctPort,
    X: XrefStore,
    D: IdempotencyStore,
    T: SyncState,
    A: AuditLog,
{
    type Salesforce = S;
    type Intacct = I;
    type Xref = X;
    type Idempotency = D;
    type State = T;
    type Audit = A;

    fn salesforce(&self) -> &S {
        &self.salesforce
    }
    fn intacct(&self) -> &I {
        &self.intacct
    }
    fn xref(&self) -> &X {
        &self.xref
    }
    fn idempotency(&self) -> &D {
        &self.idempotency
    }
    fn state(&self) -> &T {
        &self.state
    }
    fn audit(&self) -> &A {
        &self.audit
    }
    fn clock(&self) -> &dyn Clock {
        &*self.clock
    }
}

/// A shared bundle is a bundle: one `FlowPorts` behind an `Arc` serves several handlers of one
/// process (`ledgerforce local`, the demo).
impl<P: Ports> Ports for Arc<P> {
    type Salesforce = P::Salesforce;
    type Intacct = P::Intacct;
    type Xref = P::Xref;
    type Idempotency = P::Idempotency;
    type State = P::State;
    type Audit = P::Audit;

    fn salesforce(&self) -> &P::Salesforce {
        (**self).salesforce()
    }
    fn intacct(&self) -> &P::Intacct {
        (**self).intacct()
    }
    fn xref(&self) -> &P::Xref {
        (**self).xref()
    }
    fn idempotency(&self) -> &P::Idempotency {
        (**self).idempotency()
    }
    fn state(&self) -> &P::State {
        (**self).state()
    }
    fn audit(&self) -> &P::Audit {
        (**self).audit()
    }
    fn clock(&self) -> &dyn Clock {
        (**self).clock()
    }
}
