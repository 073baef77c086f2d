//! The one XML tree both connectors read and write: Intacct gateway requests and responses,
//! and the SOAP Outbound Messages Salesforce posts to the webhook.
//!
//! [`XmlElement`] is a small owned tree. [`write_document`] and [`XmlElement::to_xml`] write
//! it with checked names and escaped text; [`parse_document`] and [`parse_document_with`]
//! read untrusted bytes into it and guarantee, for every input:
//!
//! - no DTD is ever read: a `DOCTYPE` is refused, so no internal or external entity can be
//!   declared, expanded or fetched;
//! - only the five predefined entities and character references are resolved; any other
//!   reference is refused by name, in text and in attribute values;
//! - the body size, the nesting depth and the element count are capped ([`XmlLimits`]), and
//!   the caps stop the read where they are crossed, before the rest is built;
//! - only UTF-8 is read (a declaration naming another encoding is refused);
//! - every element and attribute carries its resolved namespace URI next to the name as
//!   written, so SOAP readers match on (namespace, local name), never on a prefix; an
//!   undeclared prefix is refused.
//!
//! Every refusal is an [`XmlError`] that says what was wrong; nothing panics.

mod element;
mod read;
mod write;

pub use element::{XmlAttribute, XmlElement, XmlName};
pub use read::{XmlLimits, parse_document, parse_document_with};
pub use write::{is_valid_name, write_document};

/// Why XML could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("document is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("document is not UTF-8")]
    NotUtf8,
    #[error("document declares the encoding {0:?}; only UTF-8 is read")]
    Encoding(String),
    #[error("document type declarations (DOCTYPE) are refused")]
    DocType,
    #[error("entity &{0}; is not one of the predefined XML entities; custom entities are refused")]
    UnknownEntity(String),
    #[error("elements nest deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("document has more than {limit} elements")]
    TooManyElements { limit: usize },
    #[error("namespace prefix {0:?} is used but never declared")]
    UndeclaredPrefix(String),
    #[error("document has no root element")]
    NoRoot,
    #[error("document has content after its root element")]
    TrailingContent,
    #[error("document ends inside element <{0}>")]
    Unterminated(String),
    #[error("not well-formed XML at byte {position}: {message}")]
    Syntax { position: u64, message: String },
    #[error("{0:?} is not a valid XML element or attribute name")]
    InvalidName(String),
    #[error("text contains the character U+{0:04X}, which XML 1.0 cannot carry")]
    InvalidChar(u32),
    #[error("writing XML failed: {0}")]
    Write(String),
}
