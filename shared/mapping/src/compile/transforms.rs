//! Transform arguments.

use std::sync::Arc;

use lf_domain::CurrencyCode;

use super::paths::compile_source;
use super::{Compiler, FieldEnv, find, names};
use crate::path::Read;
use crate::schema::FieldType;
use crate::spec::TransformSpec;
use crate::transform::{CharClass, CurrencySource, Transform};
use crate::yaml::child_path;

impl Compiler<'_, '_> {
    pub(super) fn currency_source(
        &mut self,
        env: &FieldEnv<'_>,
        file: usize,
        path: &str,
        text: &str,
    ) -> Option<CurrencySource> {
        let t = text.trim();
        if t == "entity" || t == "base" {
            if !env.routed {
                self.d.at(file, path, format!("`{t}` means the routed entity's base currency, but this mapping has no `routing`"));
                return None;
            }
            return Some(CurrencySource::EntityBase);
        }
        if t.starts_with('$') {
            return compile_source(self.d, file, path, t, &env.root, env.expr_scope.catalog)
                .map(|(p, _)| CurrencySource::Path(Read::Path(p)));
        }
        match CurrencyCode::parse(t) {
            Ok(c) => Some(CurrencySource::Code(c)),
            Err(e) => {
                self.d.at(
                    file,
                    path,
                    format!("{e}; or give a JSONPath such as `$.CurrencyIsoCode`, or `entity`"),
                );
                None
            }
        }
    }

    /// The path of the date a conversion takes its rate of: a date (or text holding one).
    fn rate_date(
        &mut self,
        env: &FieldEnv<'_>,
        file: usize,
        path: &str,
        text: &str,
    ) -> Option<Read> {
        let (p, t) = compile_source(self.d, file, path, text, &env.root, env.expr_scope.catalog)?;
        match t.ty {
            FieldType::Date | FieldType::DateTime | FieldType::String { .. } | FieldType::Any
                if !t.many =>
            {
                Some(Read::Path(p))
            }
            other => {
                self.d.at(
                    file,
                    path,
                    format!(
                        "the rate date `{text}` selects {other}{}, not one date",
                        if t.many { " (several values)" } else { "" }
                    ),
                );
                None
            }
        }
    }

    pub(super) fn transform(
        &mut self,
        env: &FieldEnv<'_>,
        file: usize,
        path: &str,
        t: &TransformSpec,
        target_ty: &FieldType,
    ) -> Option<Transform> {
        Some(match t {
            TransformSpec::Trim => Transform::Trim,
            TransformSpec::Upper => Transform::Upper,
            TransformSpec::Lower => Transform::Lower,
            TransformSpec::Title => Transform::Title,
            TransformSpec::Date(f) => Transform::Date(*f),
            TransformSpec::Datetime(f) => Transform::DateTime(*f),
            TransformSpec::Number(n) => {
                if n.decimals > 20 {
                    self.d.at(file, path, "at most 20 decimals");
                    return None;
                }
                Transform::Number {
                    decimals: n.decimals,
                    as_number: n.as_number,
                }
            }
            TransformSpec::Money(c) => {
                Transform::Money(self.currency_source(env, file, &child_path(path, "money"), c)?)
            }
            TransformSpec::Currency(c) => {
                let p = child_path(path, "currency");
                let from = self.currency_source(env, file, &child_path(&p, "from"), &c.from);
                let to = self.currency_source(env, file, &child_path(&p, "to"), &c.to);
                let date = self.rate_date(env, file, &child_path(&p, "date"), &c.date);
                Transform::Convert {
                    from: from?,
                    to: to?,
                    date: date?,
                }
            }
            TransformSpec::Lookup(name) => {
                match find(
                    &self.pieces,
                    &self.scopes[env.scope_file],
                    |p| &p.lookups,
                    name,
                ) {
                    Some(t) => Transform::Lookup(t.clone()),
                    None => {
                        let known =
                            names(&self.pieces, &self.scopes[env.scope_file], |p| &p.lookups);
                        self.d.undefined(
                            file,
                            &child_path(path, "lookup"),
                            "lookups",
                            "lookup table",
                            name,
                            known,
                        );
                        return None;
                    }
                }
            }
            TransformSpec::Default(v) => Transform::Default(v.clone()),
            TransformSpec::Concat(sep) => Transform::Concat(sep.clone()),
            TransformSpec::Split(s) => {
                if s.separator.is_empty() {
                    self.d
                        .at(file, &child_path(path, "split"), "the separator is empty");
                    return None;
                }
                Transform::Split {
                    separator: s.separator.clone(),
                    index: s.index,
                }
            }
            TransformSpec::Replace(r) => match regex::Regex::new(&r.pattern) {
                Ok(re) => Transform::Replace {
                    pattern: Arc::new(re),
                    with: r.with.clone(),
                    // `$` in the replacement refers to groups: only the regex expands it.
                    class: if r.with.contains('$') {
                        None
                    } else {
                        CharClass::of(&r.pattern).map(Arc::new)
                    },
                },
                Err(e) => {
                    self.d.at(
                        file,
                        &child_path(&child_path(path, "replace"), "pattern"),
                        format!("bad regular expression: {e}"),
                    );
                    return None;
                }
            },
            TransformSpec::Truncate => match target_ty {
                FieldType::String { max: Some(n) } => Transform::Truncate(*n),
                other => {
                    self.d.at(file, path, format!("`truncate` cuts to the target's declared length, but the target is {other}; declare it as string(N) or use `truncate_to: N`"));
                    return None;
                }
            },
            TransformSpec::TruncateTo(n) => {
                if *n == 0 {
                    self.d.at(file, path, "truncate_to needs a length above 0");
                    return None;
                }
                Transform::Truncate(*n)
            }
            TransformSpec::Country(c) => Transform::Country(*c),
            TransformSpec::State(s) => {
                let country = match &s.country {
                    Some(c) => {
                        let p = child_path(&child_path(path, "state"), "country");
                        Some(Read::Path(
                            compile_source(self.d, file, &p, c, &env.root, env.expr_scope.catalog)?
                                .0,
                        ))
                    }
                    None => None,
                };
                Transform::State { to: s.to, country }
            }
        })
    }
}
