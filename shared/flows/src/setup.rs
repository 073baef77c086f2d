//! What can stop a flow handler from being built: its mappings are missing from the compiled
//! specs, or do not read and write the objects the flow works on. Found at cold start, before
//! any message is taken, so a bad deployment fails loudly instead of parking every record.

use lf_domain::Flow;
use lf_mapping::{MappingPlan, SpecSet};

/// A flow handler cannot be built from these specs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("the {flow} flow needs mapping `{name}`: {reason}")]
    Mapping {
        flow: Flow,
        name: String,
        reason: String,
    },
}

/// The compiled mapping `name` of `flow`, checked to map `source` records to `target`.
pub(crate) fn mapping<'a>(
    specs: &'a SpecSet,
    flow: Flow,
    name: &str,
    source: &str,
    target: &str,
) -> Result<&'a MappingPlan, SetupError> {
    let error = |reason: String| SetupError::Mapping {
        flow,
        name: name.to_owned(),
        reason,
    };
    let plan = specs
        .mapping(flow, name)
        .map_err(|e| error(e.to_string()))?;
    if plan.source_object() != source || plan.target_object() != target {
        return Err(error(format!(
            "it maps {} to {}, the flow needs {source} to {target}",
            plan.source_object(),
            plan.target_object()
        )));
    }
    Ok(plan)
}
