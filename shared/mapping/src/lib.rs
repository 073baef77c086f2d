//! Mapping specs — field mappings, entity routing, matching rules and field ownership, written
//! as YAML data in `infra/mappings/` — compiled into validated, typed plans.
//!
//! ```no_run
//! use lf_domain::Flow;
//! use lf_mapping::{MapContext, SpecBundle};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // At cold start: a fetched bundle (S3 / SSM) if configured, else the shipped default.
//! let specs = SpecBundle::shipped().compile()?; // every error, with file:line, or a SpecSet
//! let plan = specs.mapping(Flow::AccountOnboarding, "customer")?;
//! let record = serde_json::json!({"Id": "001000000000001AAA", "Name": "Acme"});
//! let mapped = plan.map(&record, &MapContext::default())?;
//! # let _ = mapped;
//! # Ok(())
//! # }
//! ```
//!
//! Errors in a spec are found when it is compiled, all at once, each naming the file, line,
//! column and field; see [`MappingError::Invalid`]. Errors in a record ([`MapError`]) are
//! permanent and name the record and the rule or field.

mod compile;
mod describe;
mod error;
mod expr;
mod matching;
mod ownership;
mod path;
mod plan;
mod rates;
mod reads;
mod region;
mod routing;
mod schema;
pub mod spec;
mod suggest;
mod testcase;
mod transform;
mod yaml;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use lf_domain::Flow;

pub use describe::ObjectDescribe;
pub use error::{Diagnostic, Diagnostics, MapError, MappingError};
pub use matching::{
    MatchDecision, MatchPlan, alphanumeric_upper, email_domain, name_similarity, normalize,
    normalize_name,
};
pub use ownership::{Owner, Winner, decide as decide_owner};
pub use plan::{MapContext, Mapped, MappedRecord, MappingPlan, Routed};
pub use rates::{RateError, Rates};
pub use reads::SourceReads;
pub use routing::Entity;
pub use testcase::{TestOutcome, TestReport};
pub use yaml::Located;

/// The shipped specs, embedded at build time from `infra/mappings`.
const SHIPPED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/shipped.rs"));

/// A set of spec files by name (a path relative to the spec directory), as text. This is the
/// unit that is fetched (S3 object / SSM parameters), shipped, and compiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecBundle {
    files: BTreeMap<String, String>,
}

impl SpecBundle {
    /// An empty bundle.
    pub fn new() -> Self {
        Self::default()
    }

    /// A bundle from `(name, text)` pairs, e.g. objects fetched from S3.
    pub fn from_files<N: Into<String>, T: Into<String>>(
        files: impl IntoIterator<Item = (N, T)>,
    ) -> Self {
        SpecBundle {
            files: files
                .into_iter()
                .map(|(n, t)| (n.into(), t.into()))
                .collect(),
        }
    }

    /// Adds or replaces one file.
    pub fn insert(&mut self, name: impl Into<String>, text: impl Into<String>) {
        self.files.insert(name.into(), text.into());
    }

    /// The default specs compiled into the binary.
    pub fn shipped() -> Self {
        Self::from_files(SHIPPED.iter().copied())
    }

    /// Every `*.yaml` / `*.yml` file under `dir`, named by its path relative to `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self, MappingError> {
        let mut bundle = SpecBundle::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let entries = std::fs::read_dir(&d).map_err(|source| MappingError::Read {
                path: d.display().to_string(),
                source,
            })?;
            for entry in entries {
                let entry = entry.map_err(|source| MappingError::Read {
                    path: d.display().to_string(),
                    source,
                })?;
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                if !matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) {
                    continue;
                }
                let text = std::fs::read_to_string(&p).map_err(|source| MappingError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                let name = p
                    .strip_prefix(dir)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                bundle.insert(name, text);
            }
        }
        Ok(bundle)
    }

    /// The files, by name.
    pub fn files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(n, t)| (n.as_str(), t.as_str()))
    }

    /// The number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the bundle has no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Compiles every file. On failure, every problem is listed.
    pub fn compile(&self) -> Result<SpecSet, MappingError> {
        self.compile_against(&[])
    }

    /// Compiles, and checks the declared objects against what the org / company really has
    /// (Salesforce describes, Intacct object definitions): unknown fields and declared lengths
    /// above the real ones are errors too.
    pub fn compile_against(&self, describes: &[ObjectDescribe]) -> Result<SpecSet, MappingError> {
        let compiled = compile::compile(&self.files, describes).map_err(MappingError::Invalid)?;
        Ok(SpecSet {
            flows: compiled.flows,
            tests: Arc::new(compiled.tests),
            entities: compiled.entities.into_values().collect(),
        })
    }
}

/// A compiled spec set: the mappings of every flow.
#[derive(Debug, Clone)]
pub struct SpecSet {
    flows: BTreeMap<Flow, (String, BTreeMap<String, Arc<MappingPlan>>)>,
    tests: Arc<Vec<compile::CompiledTest>>,
    entities: Vec<Arc<Entity>>,
}

impl SpecSet {
    /// A flow's mapping by name.
    pub fn mapping(&self, flow: Flow, name: &str) -> Result<&MappingPlan, MappingError> {
        self.flows
            .get(&flow)
            .and_then(|(_, m)| m.get(name))
            .map(|m| &**m)
            .ok_or_else(|| MappingError::UnknownMapping {
                flow: flow.to_string(),
                mapping: name.to_owned(),
            })
    }

    /// The flows that have a spec file, with the file name.
    pub fn flows(&self) -> impl Iterator<Item = (Flow, &str)> {
        self.flows.iter().map(|(f, (file, _))| (*f, file.as_str()))
    }

    /// A flow's mappings by name.
    pub fn mappings(&self, flow: Flow) -> impl Iterator<Item = (&str, &MappingPlan)> {
        self.flows
            .get(&flow)
            .into_iter()
            .flat_map(|(_, m)| m.iter().map(|(n, p)| (n.as_str(), &**p)))
    }

    /// Every Intacct entity the specs define (the entities library), sorted by id: what a
    /// company-wide flow such as the revenue reconciliation reads entity by entity.
    pub fn entities(&self) -> &[Arc<Entity>] {
        &self.entities
    }

    /// The number of test cases in the specs.
    pub fn test_count(&self) -> usize {
        self.tests.len()
    }

    /// The test cases written in the specs: flow, test name, mapping name and input record
    /// (to replay them, e.g. for snapshots or a dry run).
    pub fn test_cases(&self) -> impl Iterator<Item = (Flow, &str, &str, &serde_json::Value)> {
        self.tests.iter().map(|t| {
            (
                t.flow,
                t.spec.name.as_str(),
                t.spec.mapping.as_str(),
                &t.spec.input,
            )
        })
    }

    /// Runs every test case of the specs.
    pub fn run_tests(&self) -> TestReport {
        testcase::run(self, &self.tests)
    }
}

/// The JSON Schema of a spec file, generated from the spec types (shipped as
/// `infra/mappings/mapping-spec.schema.json` so editors complete and check specs).
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(spec::SpecFile);
    serde_json::to_value(&schema).unwrap_or_default()
}
