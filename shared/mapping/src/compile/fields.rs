//! Field mappings: inputs, field groups, conditions and what a value may be written to.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::paths::{compile_source, compile_target};
use super::{At, Compiler, FieldEnv};
use crate::expr::{Expr, Ty};
use crate::path::Read;
use crate::plan::{FieldPlan, Input};
use crate::schema::FieldType;
use crate::spec::FieldSpec;
use crate::transform::{Kind, kind_of_json};
use crate::yaml::{Located, child_path, index_path};

impl Compiler<'_, '_> {
    /// Compiles a list of field mappings, expanding groups, rejecting duplicate targets.
    pub(super) fn field_list(
        &mut self,
        env: &FieldEnv<'_>,
        at: At<'_>,
        items: &[Located<FieldSpec>],
        owners: &mut HashMap<String, crate::spec::Owner>,
    ) -> Vec<FieldPlan> {
        let mut flat: Vec<(usize, String, FieldSpec)> = Vec::new();
        self.expand(env.scope_file, at, items, &mut Vec::new(), &mut flat);
        let mut out = Vec::new();
        // target → (path, has a condition). A target may be mapped again only by a
        // conditional entry (`when`), which then overrides when its condition holds.
        let mut targets: HashMap<String, (String, bool)> = HashMap::new();
        for (file, path, spec) in flat {
            let Some(plan) = self.field(env, file, &path, &spec) else {
                continue;
            };
            let label = plan.label.to_string();
            let conditional = plan.when.is_some();
            if let Some((prev, _)) = targets.get(&label)
                && !conditional
            {
                self.d.at(
                    file,
                    &child_path(&path, "target"),
                    format!("target `{label}` is already mapped (at {prev}); a second mapping of a target needs a `when`"),
                );
                continue;
            }
            targets.insert(label.clone(), (path.clone(), conditional));
            if let Some(o) = spec.owner {
                owners.insert(label, o);
            }
            out.push(plan);
        }
        out
    }

    /// Replaces `- group: name` items by the group's fields (recursively, without cycles).
    pub(super) fn expand(
        &mut self,
        scope_file: usize,
        at: At<'_>,
        items: &[Located<FieldSpec>],
        stack: &mut Vec<String>,
        out: &mut Vec<(usize, String, FieldSpec)>,
    ) {
        for (i, item) in items.iter().enumerate() {
            let Some(spec) = &item.value else { continue };
            let path = if item.path.is_empty() {
                index_path(at.path, i)
            } else {
                item.path.clone()
            };
            let Some(group) = &spec.group else {
                out.push((at.file, path, spec.clone()));
                continue;
            };
            let others = spec.target.is_some()
                || spec.source.is_some()
                || spec.sources.is_some()
                || spec.value.is_some()
                || spec.constant.is_some()
                || !spec.transforms.is_empty()
                || spec.when.is_some();
            if others {
                self.d.at(
                    at.file,
                    &path,
                    "a `group` item only names the group; put other keys in the group's fields",
                );
            }
            if stack.contains(group) {
                self.d.at(
                    at.file,
                    &child_path(&path, "group"),
                    format!("field group `{group}` includes itself"),
                );
                continue;
            }
            let found = self.scopes[scope_file].iter().find_map(|sf| {
                let spec = self.spec(*sf)?;
                let g = spec.field_groups.get(group)?;
                Some((*sf, g))
            });
            match found {
                Some((gf, g)) => {
                    let Some(fields) = &g.value else { continue };
                    stack.push(group.clone());
                    self.expand(
                        scope_file,
                        At {
                            file: gf,
                            path: &g.path,
                        },
                        fields,
                        stack,
                        out,
                    );
                    stack.pop();
                }
                None => {
                    let known: Vec<&str> = self.scopes[scope_file]
                        .iter()
                        .filter_map(|sf| self.spec(*sf))
                        .flat_map(|s| s.field_groups.keys().map(String::as_str))
                        .collect();
                    self.d.undefined(
                        at.file,
                        &child_path(&path, "group"),
                        "field_groups",
                        "field group",
                        group,
                        known,
                    );
                }
            }
        }
    }

    pub(super) fn field(
        &mut self,
        env: &FieldEnv<'_>,
        file: usize,
        path: &str,
        spec: &FieldSpec,
    ) -> Option<FieldPlan> {
        let Some(target_text) = &spec.target else {
            self.d.at(file, path, "a field mapping needs a `target`");
            return None;
        };
        let tpath = child_path(path, "target");
        let catalog = env.expr_scope.catalog;
        let (target, target_ty) =
            compile_target(self.d, file, &tpath, target_text, &env.target, catalog)?;
        if !target_ty.is_scalar() {
            self.d.at(
                file,
                &tpath,
                format!("`{target_text}` is {target_ty}: map its fields (`{target_text}.FIELD`) or use `lines`"),
            );
            return None;
        }
        let given = [
            spec.source.is_some(),
            spec.sources.is_some(),
            spec.value.is_some(),
            spec.constant.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if given != 1 {
            let m = if given == 0 {
                "give the value: one of `source`, `sources`, `value` or `const`"
            } else {
                "give only one of `source`, `sources`, `value` or `const`"
            };
            self.d.at(file, path, format!("{target_text}: {m}"));
            return None;
        }
        let (input, mut kind) = if let Some(s) = &spec.source {
            let (p, t) = compile_source(
                self.d,
                file,
                &child_path(path, "source"),
                s,
                &env.root,
                catalog,
            )?;
            let k = if t.many {
                Kind::List
            } else {
                kind_of_field(&t.ty)
            };
            (Input::Path(Read::Path(p)), k)
        } else if let Some(list) = &spec.sources {
            let mut ps = Vec::new();
            for (i, s) in list.iter().enumerate() {
                let (p, _) = compile_source(
                    self.d,
                    file,
                    &index_path(&child_path(path, "sources"), i),
                    s,
                    &env.root,
                    catalog,
                )?;
                ps.push(Read::Path(p));
            }
            (Input::Paths(ps), Kind::List)
        } else if let Some(v) = &spec.value {
            match Expr::compile(v, &self.env, &env.expr_scope) {
                Ok(e) => {
                    if e.ty == Ty::Double && matches!(target_ty, FieldType::Decimal) {
                        self.d.at(
                            file,
                            &child_path(path, "value"),
                            format!("`{v}` computes a float; map amounts with `source:` and the number / money / currency transforms, which keep them exact"),
                        );
                        return None;
                    }
                    let k = kind_of_ty(&e.ty);
                    (Input::Expr(e), k)
                }
                Err(m) => {
                    self.d.at(file, &child_path(path, "value"), m);
                    return None;
                }
            }
        } else {
            let c = spec.constant.clone().unwrap_or(Value::Null);
            let k = kind_of_json(&c);
            (Input::Const(c), k)
        };
        let mut transforms = Vec::new();
        let mut ok = true;
        for tl in &spec.transforms {
            let Some(ts) = &tl.value else {
                ok = false;
                continue;
            };
            match self.transform(env, file, &tl.path, ts, &target_ty) {
                Some(t) => {
                    match t.check(kind) {
                        Ok(k) => kind = k,
                        Err(m) => {
                            self.d.at(file, &tl.path, format!("{target_text}: {m}"));
                            ok = false;
                        }
                    }
                    transforms.push(t);
                }
                None => ok = false,
            }
        }
        if ok && let Err(m) = fits(kind, &target_ty) {
            self.d
                .at(file, path, format!("{target_text} is {target_ty}, but {m}"));
        }
        let when = match &spec.when {
            Some(w) => {
                let scope = env.expr_scope.clone();
                self.condition(file, &child_path(path, "when"), w, &scope)
            }
            None => None,
        };
        let max_len = match target_ty {
            FieldType::String { max } => max,
            _ => None,
        };
        Some(FieldPlan {
            label: Arc::from(target.as_dotted().as_str()),
            target,
            input,
            transforms,
            when,
            required: spec.required,
            write_null: spec.write_null.unwrap_or(env.write_nulls),
            max_len,
        })
    }
}

pub(super) fn kind_of_field(t: &FieldType) -> Kind {
    match t {
        FieldType::String { .. } | FieldType::Id => Kind::Text,
        FieldType::Bool => Kind::Bool,
        FieldType::Int | FieldType::Decimal => Kind::Number,
        FieldType::Date => Kind::Date,
        FieldType::DateTime => Kind::DateTime,
        FieldType::Any => Kind::Any,
        FieldType::Ref(_) => Kind::Object,
        FieldType::List(_) | FieldType::Children(_) => Kind::List,
    }
}

pub(super) fn kind_of_ty(t: &Ty) -> Kind {
    match t {
        Ty::String => Kind::Text,
        Ty::Int | Ty::Uint | Ty::Double => Kind::Number,
        Ty::Bool => Kind::Bool,
        Ty::List(_) => Kind::List,
        Ty::Map(..) | Ty::Object(_) | Ty::Children(_) | Ty::Entity => Kind::Object,
        Ty::Dyn | Ty::Null | Ty::Bytes => Kind::Any,
    }
}

/// Whether a value of `kind` can be written to a field of type `ty`. Text goes anywhere (both
/// APIs read numbers, dates and booleans from text); the rest must agree.
pub(super) fn fits(kind: Kind, ty: &FieldType) -> Result<(), String> {
    let ok = match (kind, ty) {
        (Kind::Any | Kind::Text, _) => true,
        (_, FieldType::Any) => true,
        (
            Kind::Number,
            FieldType::Int | FieldType::Decimal | FieldType::String { .. } | FieldType::Id,
        ) => true,
        (Kind::Bool, FieldType::Bool | FieldType::String { .. }) => true,
        (Kind::Date, FieldType::Date | FieldType::String { .. }) => true,
        (Kind::DateTime, FieldType::DateTime | FieldType::String { .. }) => true,
        // Intacct legacy dates are {year, month, day}.
        (Kind::Object, FieldType::Date) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the value is {}{}",
            kind.name(),
            if kind == Kind::List {
                " (join it with `concat`)"
            } else {
                ""
            }
        ))
    }
}
