//! Cross-references: which Salesforce record is which Intacct record.
//!
//! # Intacct identity and entities
//!
//! The Intacct side of a link is identified by its **company-unique key** alone: CUSTOMERID,
//! CONTACTNAME, or the RECORDNO of a document (a DOCID is unique only within its transaction
//! definition, so documents are linked by RECORDNO). The entity ([`IntacctRef::entity`]) is an
//! attribute of the link saying where the record lives, not part of its identity. So an event
//! about a record seen from any entity context, or from the top level, finds its link with
//! [`XrefStore::find_by_intacct`] and learns from the link which session to use.
//!
//! Multi-entity default: customers (and their contacts) are created at the top level, visible
//! to every entity, and stored with `entity: None`; documents (AR invoices, Order Entry
//! transactions) are created in the routed entity's session and stored with that entity.
//! Per-entity customers are a mapping option; their links carry the entity they were created
//! in. Both fit one model because the key, not the entity, identifies the record.

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::PortError;
use crate::id::{IntacctKey, IntacctRef, SalesforceId};

/// What kind of pair a link joins. A record has at most one link of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// Salesforce Account ↔ Intacct CUSTOMER.
    AccountCustomer,
    /// Salesforce Contact ↔ Intacct CONTACT.
    ContactContact,
    /// Salesforce Opportunity ↔ Intacct AR invoice.
    OpportunityInvoice,
    /// Salesforce Opportunity ↔ Intacct Order Entry document (Sales Order / Sales Invoice).
    OpportunityOrder,
}

impl LinkKind {
    pub const ALL: [LinkKind; 4] = [
        LinkKind::AccountCustomer,
        LinkKind::ContactContact,
        LinkKind::OpportunityInvoice,
        LinkKind::OpportunityOrder,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            LinkKind::AccountCustomer => "account-customer",
            LinkKind::ContactContact => "contact-contact",
            LinkKind::OpportunityInvoice => "opportunity-invoice",
            LinkKind::OpportunityOrder => "opportunity-order",
        }
    }

    pub fn parse(name: &str) -> Option<LinkKind> {
        LinkKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// A link between one Salesforce record and one Intacct record. `intacct.entity` is where the
/// Intacct record lives (`None`: the top level).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XrefLink {
    pub kind: LinkKind,
    pub salesforce: SalesforceId,
    pub intacct: IntacctRef,
    pub linked_at: DateTime<Utc>,
}

/// What [`XrefStore::link`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOutcome {
    /// Both directions were written.
    Created,
    /// This exact pair was already linked; nothing changed (the stored `linked_at` is kept).
    AlreadyLinked,
}

/// One page of [`XrefStore::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XrefPage {
    pub links: Vec<XrefLink>,
    /// Where the next page starts (pass it as `after`); `None` when this page was the last.
    pub next: Option<String>,
}

/// Links between Salesforce ids and Intacct records, readable from both sides.
///
/// Guarantees:
/// - `link` writes both directions atomically: a reader never sees one direction without the
///   other, even if the caller dies half-way.
/// - A record is linked to at most one counterpart per [`LinkKind`]. Linking either side of a
///   pair to a different counterpart fails with [`PortError::Conflict`] and changes nothing.
///   The Intacct side is its company-unique key: the same key in two entities is one record.
/// - `link` is idempotent for the same pair, so a retried flow may call it again. Relinking the
///   pair with another entity is a [`PortError::Conflict`] (the stored entity is kept): the
///   record cannot live in two places.
/// - Lookups are strongly consistent with a completed `link`/`unlink`.
/// - [`XrefStore::list`], paged from `after: None` until `next` is `None`, yields every link of
///   the kind stored before the listing began exactly once (links made or removed meanwhile may
///   or may not appear). A page may hold fewer than `limit` links, even none, while more follow.
pub trait XrefStore: Send + Sync {
    /// Links the pair, both directions at once.
    fn link(&self, link: &XrefLink) -> impl Future<Output = Result<LinkOutcome, PortError>> + Send;

    /// The link of this kind for a Salesforce record.
    fn find_by_salesforce(
        &self,
        kind: LinkKind,
        id: &SalesforceId,
    ) -> impl Future<Output = Result<Option<XrefLink>, PortError>> + Send;

    /// The link of this kind for the Intacct record with company-unique `key`, whichever entity
    /// it lives in (the returned link says which).
    fn find_by_intacct(
        &self,
        kind: LinkKind,
        key: &IntacctKey,
    ) -> impl Future<Output = Result<Option<XrefLink>, PortError>> + Send;

    /// Removes the pair, both directions at once. Returns `false` (and changes nothing) when this
    /// exact pair is not linked.
    fn unlink(
        &self,
        kind: LinkKind,
        salesforce: &SalesforceId,
        intacct: &IntacctKey,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// The links of `kind`, at most `limit` per page, starting after the cursor a previous page
    /// returned (`None`: from the beginning). For whole-table work (drift checks, backfills).
    fn list(
        &self,
        kind: LinkKind,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<XrefPage, PortError>> + Send;
}
