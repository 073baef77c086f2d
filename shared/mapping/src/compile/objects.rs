//! Declarations: objects, lookup tables and entities.

use std::collections::BTreeMap;
use std::sync::Arc;

use lf_domain::{CurrencyCode, EntityId};

use super::Compiler;
use crate::routing::Entity;
use crate::schema::{Catalog, FieldType, ObjectDef};
use crate::spec::{EntitySpec, LookupSpec};
use crate::transform::LookupTable;
use crate::yaml::child_path;

impl Compiler<'_, '_> {
    pub(super) fn objects(&mut self) {
        for f in 0..self.files.len() {
            let Some(spec) = self.spec(f) else { continue };
            for (name, loc) in &spec.objects {
                let Some(o) = &loc.value else { continue };
                let mut fields = BTreeMap::new();
                for (field, ty) in &o.fields {
                    match FieldType::parse(ty) {
                        Ok(t) => {
                            fields.insert(field.clone(), t);
                        }
                        Err(m) => {
                            let p = child_path(&child_path(&loc.path, "fields"), field);
                            self.d.at(f, &p, m);
                            self.d.broken.insert(format!("objects.{name}"));
                        }
                    }
                }
                if let Some(desc) = self.describes.iter().find(|x| x.object == *name) {
                    for (field, ty) in &fields {
                        let p = child_path(&child_path(&loc.path, "fields"), field);
                        if let Err(m) = desc.check(field, ty) {
                            self.d.at(f, &p, m);
                        }
                    }
                }
                let def = Arc::new(ObjectDef {
                    name: Arc::from(name.as_str()),
                    system: o.system,
                    fields,
                });
                self.pieces[f].objects.insert(name.clone(), def);
            }
        }
        for f in 0..self.files.len() {
            let mut catalog = Catalog::default();
            for &sf in self.scopes[f].iter().rev() {
                // Inserted last to first: the first in scope order wins (`unique_names`
                // reports a second one).
                for def in self.pieces[sf].objects.values() {
                    catalog.insert(def.clone());
                }
            }
            self.catalogs[f] = catalog;
        }
        // `ref(X)` must name a declared object.
        for f in 0..self.files.len() {
            let Some(spec) = self.spec(f) else { continue };
            for (name, loc) in &spec.objects {
                let Some(def) = self.pieces[f].objects.get(name).cloned() else {
                    continue;
                };
                for (field, ty) in &def.fields {
                    if let Some(o) = ty.object()
                        && self.catalogs[f].get(o).is_none()
                    {
                        let p = child_path(&child_path(&loc.path, "fields"), field);
                        let known: Vec<&str> = self.catalogs[f].names().collect();
                        self.d.undefined(f, &p, "objects", "object", o, known);
                    }
                }
            }
        }
    }

    pub(super) fn lookups(&mut self, f: usize) {
        let Some(spec) = self.spec(f) else { return };
        for (name, loc) in &spec.lookups {
            let Some(l): Option<&LookupSpec> = loc.value.as_ref() else {
                continue;
            };
            let values = l
                .values
                .iter()
                .map(|(k, v)| {
                    let k = if l.case_insensitive {
                        k.trim().to_lowercase()
                    } else {
                        k.clone()
                    };
                    (k, v.clone())
                })
                .collect();
            if l.default.is_some() && l.passthrough {
                self.d.at(
                    f,
                    &child_path(&loc.path, "passthrough"),
                    "give either `default` or `passthrough`, not both",
                );
            }
            self.pieces[f].lookups.insert(
                name.clone(),
                Arc::new(LookupTable {
                    name: name.clone(),
                    values,
                    default: l.default.clone(),
                    case_insensitive: l.case_insensitive,
                    passthrough: l.passthrough,
                }),
            );
        }
    }

    pub(super) fn entities(&mut self, f: usize) {
        let Some(spec) = self.spec(f) else { return };
        for (name, loc) in &spec.entities {
            let Some(e): Option<&EntitySpec> = loc.value.as_ref() else {
                continue;
            };
            let id = match EntityId::parse(name) {
                Ok(id) => id,
                Err(err) => {
                    self.d.at(f, &loc.path, err.to_string());
                    self.d.broken.insert(format!("entities.{name}"));
                    continue;
                }
            };
            let base = match CurrencyCode::parse(&e.base_currency) {
                Ok(c) => c,
                Err(err) => {
                    self.d
                        .at(f, &child_path(&loc.path, "base_currency"), err.to_string());
                    self.d.broken.insert(format!("entities.{name}"));
                    continue;
                }
            };
            let entity = Entity::new(
                id,
                e.name.clone(),
                base,
                e.exchange_rate_type.clone(),
                e.tax_solution.clone(),
                e.tax_code.clone(),
                e.ar_account.clone(),
                e.terms.clone(),
                e.dimensions.clone(),
            );
            self.pieces[f]
                .entities
                .insert(name.clone(), Arc::new(entity));
        }
    }
}
