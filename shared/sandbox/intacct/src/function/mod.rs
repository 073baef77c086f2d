//! The functions inside `<content>`: what each does to the company and what it answers.

mod generic;
mod legacy;
mod paging;

pub(crate) use paging::Cursors;

use crate::company::{Change, Company, Ctx};
use crate::element::Element;
use crate::envelope::ErrorEntry;

/// Where a function runs.
pub(crate) struct Env<'a> {
    pub company: &'a mut Company,
    pub cursors: &'a mut Cursors,
    pub ctx: &'a Ctx,
    /// Identifies the caller's session for `readMore` by object.
    pub caller: &'a str,
}

/// What a function produced.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// `<key>` of a legacy create.
    pub key: Option<String>,
    pub data: Option<Element>,
    pub changes: Vec<Change>,
    /// API transactions as Intacct bills them (protocols.md B9).
    pub billable: u64,
}

/// A failed function; `partial` holds what it did before failing (a multi-record create keeps
/// the records it already made, as Intacct does).
#[derive(Debug)]
pub(crate) struct Failure {
    pub errors: Vec<ErrorEntry>,
    pub partial: Box<Outcome>,
}

impl From<ErrorEntry> for Failure {
    fn from(e: ErrorEntry) -> Self {
        Failure {
            errors: vec![e],
            partial: Box::default(),
        }
    }
}

impl From<Vec<ErrorEntry>> for Failure {
    fn from(errors: Vec<ErrorEntry>) -> Self {
        Failure {
            errors,
            partial: Box::default(),
        }
    }
}

pub(crate) type FnResult = Result<Outcome, Failure>;

/// The generic business-logic error number.
pub(crate) fn business(description2: impl Into<String>) -> ErrorEntry {
    ErrorEntry::new("BL01001973", description2)
}

/// Runs one function body.
pub(crate) fn execute(env: &mut Env<'_>, body: &Element) -> FnResult {
    match body.name.as_str() {
        "create" => generic::create(env, body),
        "update" => generic::update(env, body),
        "delete" => generic::delete(env, body),
        "read" => generic::read(env, body, false),
        "readByName" => generic::read(env, body, true),
        "lookup" => generic::lookup(body),
        "readByQuery" => paging::read_by_query(env, body),
        "readMore" => paging::read_more(env, body),
        "query" => paging::query(env, body),
        "create_invoice" => legacy::create_invoice(env, body),
        "create_sotransaction" => legacy::create_sotransaction(env, body),
        "create_arpayment" => legacy::create_arpayment(env, body),
        "delete_customer" => legacy::delete_customer(env, body),
        other => Err(ErrorEntry::new(
            "XL03000003",
            format!("XML Parse schema error: unknown or unsupported function '{other}'"),
        )
        .into()),
    }
}
