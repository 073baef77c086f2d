//! Per object, the flow a backfill hands its pages to, how that flow's outcomes count, and
//! its dry run (the flow's own preview: the same reads and decisions, no write).

use lf_domain::port::{AuditLog, IdempotencyStore, SyncState, XrefStore};
use lf_domain::{Flow, SalesforceId};
use lf_flows::{
    AccountOnboarding, AccountSync, AccountSyncOptions, CustomerPreview, FlowHandler,
    InvoiceStatus, Outcome, StatusPreview, SyncPreview, WorkItem, account_onboarding, account_sync,
    invoice_status,
};
use lf_mapping::SpecSet;
use std::sync::Arc;

use super::Ports;
use crate::CliError;

/// What one record came to, for the counts.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tally {
    Created,
    Linked,
    Updated,
    /// Nothing to do: not qualifying, deleted, linked and unchanged, already done.
    Skipped,
    /// Parked, or (a dry run) would be left, with the reason.
    Parked(String),
}

/// One line of a dry run and what it counts as.
#[derive(Debug)]
pub(super) struct Preview {
    pub tally: Tally,
    /// `would link`, `would create`, …
    pub action: &'static str,
    /// The record and what would happen to it.
    pub text: String,
}

/// An object a backfill loads, through the flow that owns it.
pub(super) trait Target {
    type Handler: FlowHandler;
    /// The command's object (`accounts`).
    fn object(&self) -> &'static str;
    fn handler(&self) -> &Self::Handler;
    fn flow(&self) -> Flow {
        self.handler().flow()
    }
    /// How a done (or echo) outcome of the flow counts.
    fn tally(&self, outcome: &Outcome) -> Tally;
    /// What the flow would do with `items`, one line each, writing nothing.
    async fn preview(&self, items: &[WorkItem]) -> Result<Vec<Preview>, CliError>;
}

fn preview(tally: Tally, action: &'static str, text: String) -> Preview {
    Preview {
        tally,
        action,
        text,
    }
}

/// `backfill accounts`: account-onboarding.
pub(super) struct Accounts<X, D, T, A>
where
    X: XrefStore + 'static,
    D: IdempotencyStore + 'static,
    T: SyncState + 'static,
    A: AuditLog + 'static,
{
    handler: AccountOnboarding<Ports<X, D, T, A>>,
}

impl<X, D, T, A> Accounts<X, D, T, A>
where
    X: XrefStore + 'static,
    D: IdempotencyStore + 'static,
    T: SyncState + 'static,
    A: AuditLog + 'static,
{
    pub(super) fn new(ports: Ports<X, D, T, A>, specs: Arc<SpecSet>) -> Result<Self, CliError> {
        Ok(Self {
            handler: AccountOnboarding::new(ports, specs, Default::default())?,
        })
    }
}

impl<X, D, T, A> Target for Accounts<X, D, T, A>
where
    X: XrefStore + 'static,
    D: IdempotencyStore + 'static,
    T: SyncState + 'static,
    A: AuditLog + 'static,
{
    type Handler = AccountOnboarding<Ports<X, D, T, A>>;

    fn object(&self) -> &'static str {
        "accounts"
    }

    fn handler(&self) -> &Self::Handler {
        &self.handler
    }

    fn tally(&self, outcome: &Outcome) -> Tally {
        match account_onboarding::customer_made(outcome) {
            Some(true) => Tally::Created,
            Some(false) => Tally::Linked,
            None => Tally::Skipped,
        }
    }

    async fn preview(&self, items: &[WorkItem]) -> Result<Vec<Preview>, CliError> {
        let ids = items
            .iter()
            .map(|i| SalesforceId::parse(&i.envelope.record.id))
            .collect::<Result<Vec<_>, _>>()?;
        let previews = self.handler.preview(&ids).await?;
        Ok(ids
            .iter()
            .zip(previews)
            .map(|(id, p)| match p {
                CustomerPreview::Linked { customer_id } => preview(
                    Tally::Skipped,
                    "linked already",
                    format!("Account {id} ⇄ customer {customer_id}"),
                ),
                CustomerPreview::Link { customer_id, how } => preview(
                    Tally::Linked,
                    "would link",
                    format!("Account {id} → customer {customer_id} ({how})"),
                ),
                CustomerPreview::Create { customer_id } => preview(
                    Tally::Created,
                    "would create",
                    format!(
                        "Account {id} → new customer {}",
                        customer_id.as_deref().unwrap_or("(id given by Intacct)")
                    ),
                ),
                CustomerPreview::Leave { reason } => preview(
                    Tally::Parked(reason.clone()),
                    "would leave",
                    format!("Account {id}: {reason}"),
                ),
            })
            .collect())
    }
}

/// `backfill contacts` (Contact → CONTACT) and `backfill customers` (CUSTOMER → Account):
/// account-sync, the flow that pairs both.
pub(super) struct Pairs<X, D, T, A>
where
    X: XrefStore + 'static,
    D: IdempotencyStore + 'static,
    T: SyncState + 'static,
    A: AuditLog + 'static,
{
    handler: AccountSync<Ports<X, D, T, A>>,
    object: &'static str,
    /// The records' names on the source and on the target side, for the dry run's lines.
    names: (&'static str, &'static str),
}

impl<X, D, T, A> Pairs<X, D, T, A>
where
    X: XrefStore + 'static,
    D: IdempotencyStore + 'static,
    T: SyncState + 'static,
    A: AuditLog + 'static,
{
    /// Contacts of linked Accounts: linked to an existing CONTACT, else one is made.
    pub(super) fn contacts(
        ports: Ports<X, D, T, A>,
        specs: Arc<SpecSet>,
    ) -> Result<Self, CliError> {
        let options = AccountSyncOptions {
            create_contacts: true,
            ..AccountSyncOptions::default()
        };
        Ok(Self {
            handler: AccountSync::new(ports, specs, options)?,
            object: "contacts",
            names: ("Contact", "CONTACT"),
        })
    }

    /// Customers: linked to the Account that carries or is named by their link field, else
    /// an Account is made (the flow's `create_accounts`, on by default).
    pub(super) fn customers(
        ports: Ports<X, D, T, A>,
        specs: Arc<SpecSet>,
    ) -> Result<Self, CliError> {
        Ok(Self {
            handler: AccountSync::new(ports, specs, AccountSyncOptions::default())?,
            object: "customers",
            names: ("customer", "Account"),
        })
    }
}

impl<X, D, T, A> Target for Pairs<X, D, T, A>
where
    X: XrefStore + 'static,
    D: IdempotencyStore + 'static,
    T: SyncState + 'static,
    A: AuditLog + 'static,
{
    type Handler = AccountSync<Ports<X, D, T, A>>;

    fn object(&self) -> &'static str {
        self.object
    }

    fn handler(&self) -> &Self::Handler {
        &self.handler
    }

    fn tally(&self, outcome: &Outcome) -> Tally {
        match account_sync::new_link(outcome) {
            Some("created") => Tally::Created,
            Some(_) => Tally::Linked,
            None if account_sync::wrote_fields(outcome) => Tally::Updated,
            None => Tally::Skipped,
        }
    }

    async fn preview(&self, items: &[WorkItem]) -> Result<Vec<Preview>, CliError> {
        let (from, to) = self.names;
        let previews = self.handler.preview(items).await;
        Ok(items
            .iter()
            .zip(previews)
            .map(|(item, p)| {
                let id = &item.envelope.record.id;
                match p {
                    SyncPreview::Linked { counterpart } => preview(
                        Tally::Skipped,
                        "linked already",
                        format!("{from} {id} ⇄ {to} {counterpart}"),
                    ),
                    SyncPreview::Link { counterpart, how } => preview(
                        Tally::Linked,
                        "would link",
                        format!("{from} {id} → {to} {counterpart} ({how})"),
                    ),
                    SyncPreview::Create => preview(
                        Tally::Created,
                        "would create",
                        format!("{from} {id} → new {to}"),
                    ),
                    SyncPreview::Skip { reason } => preview(
                        Tally::Skipped,
                        "would skip",
                        format!("{from} {id}: {reason}"),
                    ),
                    SyncPreview::Leave { reason } => preview(
                        Tally::Parked(reason.clone()),
                        "would leave",
                        format!("{from} {id}: {reason}"),
                    ),
                }
            })
            .collect())
    }
}

/// `backfill invoices`: invoice-status, which writes each customer's receivables to its
/// Account. Counted per invoice: `updated` when handling it wrote its Account (or an
/// Opportunity), `skipped` when the Account showed that already.
pub(super) struct Invoices<X, D, T, A>
where
    X: XrefStore + 'static,
    D: IdempotencyStore + 'static,
    T: SyncState + 'static,
    A: AuditLog + 'static,
{
    handler: InvoiceStatus<Ports<X, D, T, A>>,
}

impl<X, D, T, A> Invoices<X, D, T, A>
where
    X: XrefStore + 'static,
    D: IdempotencyStore + 'static,
    T: SyncState + 'static,
    A: AuditLog + 'static,
{
    pub(super) fn new(ports: Ports<X, D, T, A>, specs: Arc<SpecSet>) -> Result<Self, CliError> {
        Ok(Self {
            handler: InvoiceStatus::new(ports, specs, Default::default())?,
        })
    }
}

impl<X, D, T, A> Target for Invoices<X, D, T, A>
where
    X: XrefStore + 'static,
    D: IdempotencyStore + 'static,
    T: SyncState + 'static,
    A: AuditLog + 'static,
{
    type Handler = InvoiceStatus<Ports<X, D, T, A>>;

    fn object(&self) -> &'static str {
        "invoices"
    }

    fn handler(&self) -> &Self::Handler {
        &self.handler
    }

    fn tally(&self, outcome: &Outcome) -> Tally {
        if invoice_status::wrote(outcome) {
            Tally::Updated
        } else {
            Tally::Skipped
        }
    }

    async fn preview(&self, items: &[WorkItem]) -> Result<Vec<Preview>, CliError> {
        let previews = self.handler.preview(items).await;
        Ok(items
            .iter()
            .zip(previews)
            .map(|(item, p)| {
                let id = &item.envelope.record.id;
                match p {
                    StatusPreview::Update { account, fields } => preview(
                        Tally::Updated,
                        "would update",
                        format!("invoice {id} → Account {account}: {}", fields.join(", ")),
                    ),
                    StatusPreview::Unchanged { account } => preview(
                        Tally::Skipped,
                        "unchanged",
                        format!("invoice {id} → Account {account}"),
                    ),
                    StatusPreview::Skip { reason } => preview(
                        Tally::Skipped,
                        "would skip",
                        format!("invoice {id}: {reason}"),
                    ),
                    StatusPreview::Leave { reason } => preview(
                        Tally::Parked(reason.clone()),
                        "would leave",
                        format!("invoice {id}: {reason}"),
                    ),
                }
            })
            .collect())
    }
}
