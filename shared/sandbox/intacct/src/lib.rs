//! A Sage Intacct company in a process: one POST endpoint speaking the XML gateway format
//! (protocols.md part B), so the official SDKs and our connector talk to it unchanged.
//!
//! ```no_run
//! # async fn demo() -> Result<(), lf_sandbox_intacct::SandboxError> {
//! use lf_sandbox_intacct::{DataSet, Sandbox, SandboxConfig};
//! let company = Sandbox::start(SandboxConfig { seed: DataSet::Demo, ..Default::default() }).await?;
//! println!("{}", company.endpoint_url()); // http://127.0.0.1:PORT/ia/xml/xmlgw.phtml
//! company.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! - Requests are checked in Intacct's order: control (sender id and password; malformed XML is
//!   a control failure `XL03000003`, and so is a legacy function body whose elements break the
//!   published schema's order), authentication (login or session, `XL03000006`), then the
//!   functions in order; `transaction="true"` rolls back on the first failure and marks the
//!   other results aborted (`XL03000009`); `uniqueid=true` rejects a repeated function
//!   controlid with [`UNIQUEID_REPLAY_ERRORNO`].
//! - A multi-entity company (top level in USD; entities US/USD, UK/GBP, DE/EUR, EDU/USD) with
//!   currencies and rates, terms, GL accounts, departments, classes, tax groups and solutions,
//!   revenue templates, items, customers, contacts, AR invoices, payments, Order Entry
//!   documents and revenue schedules ([`DataSet`]).
//! - API transactions are counted as Intacct bills them ([`ApiUsage`]); a concurrency limit
//!   answers 429 `GW-0010`; faults come from a seeded plan ([`IntacctFault`]); Smart Events are
//!   posted at least once ([`SmartEventConfig`]).
//! - State lives in memory and ends with the process.
//!
//! Behaviour the public material does not pin down is the emulator's own choice; the list is
//! in docs/sandbox-intacct.md.

mod company;
mod content;
pub mod element;
mod envelope;
mod fault;
mod function;
mod gateway;
mod query;
mod receivable;
mod sandbox;
mod schema;
mod seed;
mod session;
mod smart_event;
mod view;

pub use company::Entity;
pub use element::{Element, ParseError};
pub use fault::{FaultsError, IntacctFault, UnknownFault, parse_faults};
pub use gateway::{ApiUsage, UNIQUEID_REPLAY_ERRORNO};
pub use lf_sandbox_core::{FaultPlan, PushConfig, PushStats};
pub use sandbox::{Credentials, DataSet, Sandbox, SandboxConfig, SandboxError};
pub use smart_event::{ALL_TOPICS, SmartEventConfig};

/// The 18-character Salesforce Account id stored on demo customer number `n` (1–7): lets a
/// Salesforce demo org seed Accounts that link to the demo company.
pub fn demo_account_id(n: u32) -> String {
    seed::demo_account_id(n)
}
