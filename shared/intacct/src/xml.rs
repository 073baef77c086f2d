//! The XML the gateway exchanges: the workspace's one hardened tree reader and writer
//! ([`lf_xml`]), re-exported so requests and responses are built and read with it.
//!
//! Responses are read with [`lf_xml::XmlLimits::DEFAULT`], which is sized for gateway pages;
//! the transport caps the body at `max_response_bytes` before it gets here.

pub use lf_xml::{XmlElement, XmlError, is_valid_name, parse_document, write_document};
