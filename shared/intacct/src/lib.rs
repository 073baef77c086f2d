//! Sage Intacct XML gateway client and Smart Event parsing.
//!
//! - [`IntacctClient`]: one company — sessions per entity (`getAPISession`, sliding timeout,
//!   one re-sign-in on an invalid session), a concurrency cap, backoff on 429/GW-0010 and 5xx.
//! - [`Function`], [`Batch`]: the generic and legacy functions, many per request, each result
//!   mapped back to its function; optional all-or-nothing transactions.
//! - [`Query`]/[`ReadByQuery`] with paging past one page ([`IntacctClient::query_all`],
//!   [`IntacctClient::read_by_query_all`]).
//! - [`IntacctClient::create_idempotent_batch`] (and its batch of one,
//!   [`IntacctClient::create_idempotent`]): creates keyed by an [`lf_domain::IdempotencyKey`]
//!   that resolve a replay by one batched lookup instead of creating twice.
//! - `IntacctClient` implements [`lf_domain::port::IntacctPort`], the flows' view of Intacct.
//! - An optional company-wide [`lf_domain::port::ConcurrencyLimiter`]
//!   ([`IntacctConfig::limiter`]): every HTTP exchange holds one lease.
//! - [`record`]: typed CUSTOMER, CONTACT, ARINVOICE, ARPYMT, SODOCUMENT, ITEM and revenue data;
//!   [`fields`]: the field trees the mapping engine produces.
//! - [`smart_event`]: the Smart Event payload of `infra/intacct` and its token check.
//! - [`IntacctError`] with one classification table ([`error::classify_error`]).
//!
//! The wire format follows `reference/protocols.md` part B. Secrets (sender and user
//! passwords, session ids) are `secrecy` types and never logged.

mod batch;
mod client;
mod config;
mod envelope;
pub mod error;
pub mod fields;
mod function;
mod idempotent;
mod lookup;
mod metrics;
mod paging;
mod port;
pub mod query;
pub mod record;
mod response;
mod session;
pub mod smart_event;
mod transport;
pub mod xml;

pub use batch::{Batch, BatchOutcome};
pub use client::IntacctClient;
pub use config::{Credentials, DEFAULT_ENDPOINT_URL, IntacctConfig};
pub use error::{Classification, ErrorDetail, IntacctError, Reason, ResultStatus};
pub use function::{Function, READ_MAX_KEYS};
pub use idempotent::{CreateOutcome, IdempotentCreate, Lookup};
pub use metrics::ClientStats;
pub use paging::{QueryPages, ReadByQueryPages};
pub use query::{Direction, Filter, Query, ReadByQuery};
pub use response::{
    AuthenticationBlock, ControlBlock, FunctionResult, Operation, Response, ResultData,
    parse_response,
};
pub use session::SessionInfo;
pub use smart_event::{SmartEvent, SmartEventError, SmartEventKind, SmartEventVerifier};
pub use xml::{XmlElement, XmlError};
