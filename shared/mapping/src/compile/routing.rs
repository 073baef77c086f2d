//! Entity routing rules.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::Compiler;
use crate::expr::Scope;
use crate::routing::{RoutingPlan, Rule};
use crate::spec::RoutingSpec;
use crate::yaml::child_path;

impl Compiler<'_, '_> {
    pub(super) fn routings(&mut self, f: usize) {
        let Some(spec) = self.spec(f) else { return };
        for (name, loc) in &spec.routings {
            let Some(r): Option<&RoutingSpec> = loc.value.as_ref() else {
                continue;
            };
            let Some(object) = self.object(f, &child_path(&loc.path, "object"), &r.object) else {
                self.d.broken.insert(format!("routings.{name}"));
                continue;
            };
            let catalog = std::mem::take(&mut self.catalogs[f]);
            let scope = Scope {
                catalog: &catalog,
                record: object,
                line: None,
                entity: false,
            };
            let mut rules = Vec::new();
            let mut seen = BTreeSet::new();
            for rl in &r.rules {
                let Some(rule) = &rl.value else { continue };
                if !seen.insert(rule.name.clone()) {
                    self.d.at(
                        f,
                        &child_path(&rl.path, "name"),
                        format!("rule name `{}` is used twice", rule.name),
                    );
                }
                let when = self.condition(f, &child_path(&rl.path, "when"), &rule.when, &scope);
                let entity = self.entity(f, &child_path(&rl.path, "entity"), &rule.entity);
                if let (Some(when), Some(entity)) = (when, entity) {
                    rules.push(Rule {
                        name: rule.name.clone(),
                        when,
                        entity,
                    });
                }
            }
            self.catalogs[f] = catalog;
            let fallback = match &r.fallback {
                Some(e) => self.entity(f, &child_path(&loc.path, "fallback"), e),
                None => None,
            };
            if r.rules.is_empty() && r.fallback.is_none() {
                self.d.at(
                    f,
                    &child_path(&loc.path, "rules"),
                    "a routing needs at least one rule or a fallback",
                );
            }
            self.pieces[f].routings.insert(
                name.clone(),
                Arc::new(RoutingPlan {
                    name: name.clone(),
                    rules,
                    fallback,
                }),
            );
        }
    }

    pub(super) fn routing_object(&self, f: usize, routing: &str) -> Option<String> {
        self.scopes[f].iter().find_map(|sf| {
            let spec = self.spec(*sf)?;
            let r = spec.routings.get(routing)?.value.as_ref()?;
            Some(r.object.clone())
        })
    }
}
