//! Field ownership: which side is the system of record for each target field.

use std::collections::{BTreeSet, HashMap};

use super::Compiler;
use super::paths::{compile_source, compile_target};
use crate::plan::OwnershipPlan;
use crate::schema::{Catalog, ObjectDef};
use crate::spec::OwnershipSpec;
use crate::yaml::child_path;

impl Compiler<'_, '_> {
    /// The ownership of a mapping: `owners` are those its field mappings name; `mapped` every
    /// target the mapping writes (an ownership entry for anything else is an error).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn ownership(
        &mut self,
        f: usize,
        path: &str,
        spec: Option<&OwnershipSpec>,
        catalog: &Catalog,
        (source, target): (&ObjectDef, &ObjectDef),
        owners: HashMap<String, crate::spec::Owner>,
        mapped_targets: &BTreeSet<String>,
    ) -> OwnershipPlan {
        match spec {
            None => OwnershipPlan {
                default: crate::spec::Owner::LastModified,
                owners,
                source_modified: None,
                target_modified: None,
            },
            Some(o) => {
                let op = child_path(path, "ownership");
                let sm = o.source_modified.as_ref().and_then(|s| {
                    compile_source(
                        self.d,
                        f,
                        &child_path(&op, "source_modified"),
                        s,
                        source,
                        catalog,
                    )
                    .map(|x| x.0)
                });
                let tm = o.target_modified.as_ref().and_then(|t| {
                    compile_target(
                        self.d,
                        f,
                        &child_path(&op, "target_modified"),
                        t,
                        target,
                        catalog,
                    )
                    .map(|x| x.0)
                });
                let mut owners = owners;
                for (field, owner) in &o.fields {
                    if !mapped_targets.contains(field) {
                        self.d.at(
                            f,
                            &child_path(&child_path(&op, "fields"), field),
                            format!("`{field}` is not a target of this mapping"),
                        );
                        continue;
                    }
                    owners.insert(field.clone(), *owner);
                }
                OwnershipPlan {
                    default: o.default,
                    owners,
                    source_modified: sm,
                    target_modified: tm,
                }
            }
        }
    }
}
