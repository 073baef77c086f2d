//! Mappings and their line collections.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::paths::{compile_source, compile_target};
use super::{At, Compiler, FieldEnv, find, names};
use crate::expr::Scope;
use crate::matching::MatchPlan;
use crate::path::Reads;
use crate::plan::{LinePlan, MappingPlan, Shape};
use crate::reads::SourceReads;
use crate::routing::RoutingPlan;
use crate::schema::{Catalog, FieldType, ObjectDef};
use crate::spec::{LineSpec, MappingSpec};
use crate::yaml::child_path;

impl Compiler<'_, '_> {
    pub(super) fn mappings(&mut self, f: usize) -> BTreeMap<String, Arc<MappingPlan>> {
        let mut out = BTreeMap::new();
        let Some(spec) = self.spec(f) else { return out };
        for (name, loc) in &spec.mappings {
            let Some(m) = &loc.value else { continue };
            if let Some(plan) = self.mapping(f, name, &loc.path, m) {
                out.insert(name.clone(), Arc::new(plan));
            }
        }
        out
    }

    pub(super) fn mapping(
        &mut self,
        f: usize,
        name: &str,
        path: &str,
        m: &MappingSpec,
    ) -> Option<MappingPlan> {
        let source = self.object(f, &child_path(path, "source"), &m.source);
        let target = self.object(f, &child_path(path, "target"), &m.target);
        let routing = match &m.routing {
            None => None,
            Some(r) => match find(&self.pieces, &self.scopes[f], |p| &p.routings, r) {
                Some(plan) => Some(plan.clone()),
                None => {
                    let known = names(&self.pieces, &self.scopes[f], |p| &p.routings);
                    self.d.undefined(
                        f,
                        &child_path(path, "routing"),
                        "routings",
                        "routing",
                        r,
                        known,
                    );
                    None
                }
            },
        };
        if let (Some(r), Some(spec_name)) = (&routing, &m.routing) {
            let object = self.routing_object(f, spec_name);
            if object.as_deref().is_some_and(|o| o != m.source) {
                self.d.at(
                    f,
                    &child_path(path, "routing"),
                    format!(
                        "routing `{}` reads {}, but this mapping's source is {}",
                        r.name,
                        object.unwrap_or_default(),
                        m.source
                    ),
                );
            }
        }
        let matching = match &m.matching {
            None => None,
            Some(mn) => match find(&self.pieces, &self.scopes[f], |p| &p.matching, mn) {
                Some((plan, s, t)) => {
                    if *s != m.source || *t != m.target {
                        self.d.at(
                            f,
                            &child_path(path, "matching"),
                            format!("matching `{mn}` matches {s} against {t}, but this mapping maps {} to {}", m.source, m.target),
                        );
                    }
                    Some(plan.clone())
                }
                None => {
                    let known = names(&self.pieces, &self.scopes[f], |p| &p.matching);
                    self.d.undefined(
                        f,
                        &child_path(path, "matching"),
                        "matching",
                        "matching rules",
                        mn,
                        known,
                    );
                    None
                }
            },
        };
        let (source, target) = (source?, target?);
        let catalog = std::mem::take(&mut self.catalogs[f]);
        let result = self.mapping_body(
            f, name, path, m, &catalog, source, target, routing, matching,
        );
        self.catalogs[f] = catalog;
        result
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn mapping_body(
        &mut self,
        f: usize,
        name: &str,
        path: &str,
        m: &MappingSpec,
        catalog: &Catalog,
        source: Arc<ObjectDef>,
        target: Arc<ObjectDef>,
        routing: Option<Arc<RoutingPlan>>,
        matching: Option<Arc<MatchPlan>>,
    ) -> Option<MappingPlan> {
        let record_scope = Scope {
            catalog,
            record: source.clone(),
            line: None,
            entity: false,
        };
        let when = match &m.when {
            Some(w) => self.condition(f, &child_path(path, "when"), w, &record_scope),
            None => None,
        };
        let env = FieldEnv {
            scope_file: f,
            root: source.clone(),
            target: target.clone(),
            expr_scope: Scope {
                entity: m.routing.is_some(),
                ..record_scope.clone()
            },
            routed: m.routing.is_some(),
            write_nulls: m.write_nulls,
        };
        let mut owners = HashMap::new();
        let fields = self.field_list(
            &env,
            At {
                file: f,
                path: &child_path(path, "fields"),
            },
            &m.fields,
            &mut owners,
        );
        let mut lines = Vec::new();
        for ll in &m.lines {
            let Some(l) = &ll.value else { continue };
            if let Some(lp) = self.line(&env, catalog, f, &ll.path, l, &mut owners) {
                lines.push(lp);
            }
        }
        let mapped_targets: BTreeSet<String> = fields
            .iter()
            .map(|fp| fp.label.to_string())
            .chain(lines.iter().flat_map(|lp| {
                lp.fields
                    .iter()
                    .map(move |fp| format!("{}.{}", lp.label, fp.label))
            }))
            .collect();
        if m.fields.is_empty() && m.lines.is_empty() {
            self.d
                .at(f, path, format!("mapping `{name}` maps no fields"));
        }
        let ownership = self.ownership(
            f,
            path,
            m.ownership.as_ref(),
            catalog,
            (&source, &target),
            owners,
            &mapped_targets,
        );
        let mut plan = MappingPlan {
            name: name.to_owned(),
            source_object: source.name.to_string(),
            target_object: target.name.to_string(),
            source_system: source.system.into(),
            target_system: target.system.into(),
            when,
            routing,
            matching,
            shape: Shape::of(&fields),
            reads: Reads::default(),
            fields,
            lines,
            ownership,
            source_reads: SourceReads::default(),
            target_reads: SourceReads::default(),
        };
        // Collected while every path is still a path (interning turns them into slots).
        plan.source_reads = super::reads::source_reads(&plan, catalog, &source);
        plan.target_reads = super::reads::target_reads(&plan, catalog, &target);
        plan.intern_reads();
        Some(plan)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn line(
        &mut self,
        env: &FieldEnv<'_>,
        catalog: &Catalog,
        f: usize,
        path: &str,
        l: &LineSpec,
        owners: &mut HashMap<String, crate::spec::Owner>,
    ) -> Option<LinePlan> {
        let (target, target_ty) = compile_target(
            self.d,
            f,
            &child_path(path, "target"),
            &l.target,
            &env.target,
            catalog,
        )?;
        let Some(line_target_name) = (match &target_ty {
            FieldType::List(o) => Some(o.clone()),
            _ => None,
        }) else {
            self.d.at(
                f,
                &child_path(path, "target"),
                format!(
                    "lines go to a list field, but `{}` is {target_ty}",
                    l.target
                ),
            );
            return None;
        };
        let (source, ptype) = compile_source(
            self.d,
            f,
            &child_path(path, "source"),
            &l.source,
            &env.root,
            catalog,
        )?;
        let line_object = match &ptype.ty {
            FieldType::Ref(o) if ptype.many => Some(o.clone()),
            FieldType::List(o) => Some(o.clone()),
            _ => None,
        };
        let Some(line_object) = line_object else {
            self.d.at(
                f,
                &child_path(path, "source"),
                format!(
                    "lines come from a list of records (e.g. `$.OpportunityLineItems.records[*]`), but `{}` selects {}",
                    l.source, ptype.ty
                ),
            );
            return None;
        };
        let line_def = catalog.get(&line_object)?.clone();
        let line_target = catalog.get(&line_target_name)?.clone();
        let when_scope = Scope {
            line: Some(line_def.clone()),
            ..env.expr_scope.clone()
        };
        let when = match &l.when {
            Some(w) => self.condition(f, &child_path(path, "when"), w, &when_scope),
            None => None,
        };
        let line_env = FieldEnv {
            scope_file: env.scope_file,
            root: line_def,
            target: line_target,
            expr_scope: when_scope,
            routed: env.routed,
            write_nulls: env.write_nulls,
        };
        let label = target.as_dotted();
        let mut line_owners = HashMap::new();
        let fields = self.field_list(
            &line_env,
            At {
                file: f,
                path: &child_path(path, "fields"),
            },
            &l.fields,
            &mut line_owners,
        );
        for (k, v) in line_owners {
            owners.insert(format!("{label}.{k}"), v);
        }
        Some(LinePlan {
            object: line_env.root.clone(),
            label: Arc::from(label.as_str()),
            target,
            source,
            when,
            required: l.required,
            shape: Shape::of(&fields),
            reads: Reads::default(),
            fields,
        })
    }
}
