//! SOQL: a tokenizer, a recursive-descent parser for the subset the flows and common clients
//! use, and an evaluator over the store.
//!
//! No maintained Rust SOQL crate exists; this is an emulator's parser, strict where Salesforce
//! is strict (unknown fields and objects, `AND`/`OR` mixed without parentheses, quoted dates,
//! a string compared with a number) so that a client bug shows up here and not in production.

mod eval;
mod lexer;
mod parser;

pub use eval::{QueryOptions, QueryOutput, execute};
pub use parser::{Query, SelectItem, parse};

/// A query Salesforce would refuse: `MALFORMED_QUERY`, `INVALID_FIELD`, `INVALID_TYPE`,
/// `INVALID_QUERY_FILTER_OPERATOR` or `NUMBER_OUTSIDE_VALID_RANGE`, with its message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SoqlError {
    pub code: &'static str,
    pub message: String,
}

impl SoqlError {
    pub(crate) fn new(code: &'static str, message: String) -> Self {
        Self { code, message }
    }

    pub(crate) fn malformed(col: usize, token: &str) -> Self {
        Self::new(
            "MALFORMED_QUERY",
            format!("ERROR at Row:1:Column:{col}\nunexpected token: '{token}'"),
        )
    }

    pub(crate) fn no_such_column(field: &str, object: &str) -> Self {
        Self::new(
            "INVALID_FIELD",
            format!(
                "No such column '{field}' on entity '{object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
            ),
        )
    }

    pub(crate) fn no_such_object(object: &str) -> Self {
        Self::new(
            "INVALID_TYPE",
            format!(
                "sObject type '{object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
            ),
        )
    }
}
