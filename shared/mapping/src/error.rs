//! Errors: a spec set that does not compile (every problem, placed in its file), and a record
//! that cannot be mapped (permanent: retrying the same data cannot help).

use std::fmt;

use lf_domain::{Classify, ErrorClass};

/// One problem in a spec, placed in its file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// Where in the file, as a path of keys and list indexes (`mappings.customer.fields[3].source`).
    pub field: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a spec set, in file and line order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// The number of problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no problem.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems, in file and line order.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Loading or compiling a spec set failed.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The specs do not compile; every problem is listed.
    #[error("the mapping specs have {count} error(s):\n{0}", count = .0.len())]
    Invalid(Diagnostics),
    /// A spec directory or file could not be read.
    #[error("cannot read mapping specs at {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A flow asked for a mapping the specs do not define.
    #[error("the specs define no mapping `{mapping}` for flow {flow}")]
    UnknownMapping { flow: String, mapping: String },
}

impl Classify for MappingError {
    /// A bad or missing spec is configuration: retrying cannot fix it.
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

/// One record could not be mapped. The message names the record, and the rule or field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// No routing rule matched and the routing has no fallback.
    #[error("{record}: no rule of routing `{routing}` matched (tried: {})", .tried.join(", "))]
    NoRoute {
        record: String,
        routing: String,
        tried: Vec<String>,
    },
    /// A routing rule could not be evaluated on this record.
    #[error("{record}: routing `{routing}` rule `{rule}`: {message}")]
    Routing {
        record: String,
        routing: String,
        rule: String,
        message: String,
    },
    /// A field could not be mapped (missing required value, unknown lookup value, bad date...).
    #[error("{record}: field {field}: {message}")]
    Field {
        record: String,
        field: String,
        message: String,
    },
    /// The record as a whole (its condition, a required line collection).
    #[error("{record}: {message}")]
    Record { record: String, message: String },
}

impl Classify for MapError {
    /// The data is wrong for the mapping: park it with this message until someone fixes it.
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}
