//! Compiled mapping plans and how they run on a record. Everything that can be decided from
//! the spec was decided at compile time; this is the per-record path.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use lf_domain::{EntityId, System};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::error::MapError;
use crate::expr::{Bindings, Evaluated, Expr};
use crate::matching::{MatchPlan, target_value};
use crate::ownership::{self, Owner, Winner};
use crate::path::{Selected, SourcePath, TargetPath};
use crate::routing::{Entity, Rates, RouteFailure, RoutingPlan};
use crate::transform::{Cx, Transform, Val, parse_datetime};

/// Where a field's value comes from.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    Path(SourcePath),
    Paths(Vec<SourcePath>),
    Expr(Expr),
    Const(Value),
}

/// One compiled field mapping.
#[derive(Debug, Clone)]
pub(crate) struct FieldPlan {
    pub target: TargetPath,
    /// The dotted target, for messages and ownership.
    pub label: Arc<str>,
    pub input: Input,
    pub transforms: Vec<Transform>,
    pub when: Option<Expr>,
    pub required: bool,
    pub write_null: bool,
    /// The declared length of the target field: longer text is an error, not a silent cut.
    pub max_len: Option<usize>,
}

/// One compiled line collection.
#[derive(Debug)]
pub(crate) struct LinePlan {
    pub target: TargetPath,
    pub label: Arc<str>,
    pub source: SourcePath,
    pub when: Option<Expr>,
    pub required: bool,
    pub fields: Vec<FieldPlan>,
    pub shape: Shape,
}

/// Compiled ownership.
#[derive(Debug, Clone)]
pub(crate) struct OwnershipPlan {
    pub default: Owner,
    pub owners: HashMap<String, Owner>,
    pub source_modified: Option<SourcePath>,
    pub target_modified: Option<TargetPath>,
}

/// A compiled mapping: one source record → one target record.
#[derive(Debug)]
pub struct MappingPlan {
    pub(crate) name: String,
    pub(crate) source_object: String,
    pub(crate) target_object: String,
    pub(crate) source_system: System,
    pub(crate) target_system: System,
    pub(crate) when: Option<Expr>,
    pub(crate) routing: Option<Arc<RoutingPlan>>,
    pub(crate) matching: Option<Arc<MatchPlan>>,
    pub(crate) fields: Vec<FieldPlan>,
    pub(crate) shape: Shape,
    pub(crate) lines: Vec<LinePlan>,
    pub(crate) ownership: OwnershipPlan,
}

/// A routed entity and the name of the rule that picked it (`None`: the fallback).
pub type Routed = (Arc<Entity>, Option<String>);

/// What the caller knows that the spec does not.
#[derive(Debug, Clone, Copy, Default)]
pub struct MapContext<'a> {
    /// Use this entity instead of routing (e.g. the entity the customer already lives in).
    pub entity: Option<&'a Entity>,
    /// Today's rates of the entity's rate type; the spec's fallback rates fill the gaps.
    pub rates: Option<&'a Rates>,
}

/// The result of mapping one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    /// The mapping's `when` is false for this record: nothing to do (not an error).
    Skipped,
    Record(MappedRecord),
}

/// A mapped record.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedRecord {
    /// The routed (or given) entity.
    pub entity: Option<EntityId>,
    /// The routing rule that matched (`None` for the fallback or a given entity).
    pub rule: Option<String>,
    /// The target fields: nested maps for nested elements, arrays for line collections.
    pub fields: Map<String, Value>,
}

/// Names a record in messages: `Account 001...` / `CUSTOMER C-100`.
fn record_label(object: &str, record: &Value) -> String {
    let id = ["Id", "RECORDNO", "CUSTOMERID", "RECORDID"]
        .iter()
        .find_map(|k| match record.get(*k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "(no id)".to_owned());
    format!("{object} {id}")
}

/// Sets `value` at a dotted path, creating the nested maps on the way.
fn insert(out: &mut Map<String, Value>, path: &TargetPath, value: Value) {
    let Some((last, parents)) = path.segments.split_last() else {
        return;
    };
    let mut m = out;
    for p in parents {
        if !matches!(m.get(&**p), Some(Value::Object(_))) {
            m.insert(p.to_string(), Value::Object(Map::new()));
        }
        let Some(Value::Object(inner)) = m.get_mut(&**p) else {
            return;
        };
        m = inner;
    }
    m.insert(last.to_string(), value);
}

impl Input {
    fn read<'a>(&'a self, root: &'a Value, b: &Bindings<'a>) -> Result<Val<'a>, String> {
        Ok(match self {
            Input::Path(p) => Val::from_selected(p.select(root)),
            Input::Paths(ps) => Val::List(
                ps.iter()
                    .map(|p| Val::from_selected(p.select(root)))
                    .collect(),
            ),
            Input::Expr(e) => match e.eval(b)? {
                Evaluated::Borrowed(v) => Val::Json(v),
                Evaluated::Missing => Val::Null,
                Evaluated::Owned(v) => Val::Owned(v),
            },
            Input::Const(v) => Val::Json(v),
        })
    }
}

impl FieldPlan {
    /// Maps one field: `None` when nothing is written.
    fn run<'a>(
        &'a self,
        root: &'a Value,
        b: &Bindings<'a>,
        cx: &Cx<'a>,
    ) -> Result<Option<Value>, String> {
        if let Some(w) = &self.when
            && !w.test(b)?
        {
            return Ok(None);
        }
        let mut v = self.input.read(root, b)?;
        for t in &self.transforms {
            v = t.apply(v, cx).map_err(|e| format!("{}: {e}", t.name()))?;
        }
        if v.is_empty() {
            if self.required {
                return Err("is required but the source value is empty".into());
            }
            return Ok(self.write_null.then_some(Value::Null));
        }
        if let Some(max) = self.max_len
            && let Some(text) = v.text()
            // Bytes bound characters: short text needs no count.
            && text.len() > max
        {
            let n = text.chars().count();
            if n > max {
                return Err(format!(
                    "`{text}` is {n} characters, the target takes at most {max} (add `truncate`)"
                ));
            }
        }
        Ok(Some(v.into_json()))
    }
}

/// The nesting of a field list's targets, worked out once: a record is built by walking it,
/// instead of looking up every parent element for every field.
#[derive(Debug, Default)]
pub(crate) struct Shape {
    entries: Vec<ShapeEntry>,
}

#[derive(Debug)]
enum ShapeEntry {
    /// A field, and the fields (by index) that write it: the last one that writes wins.
    Leaf {
        key: Box<str>,
        slots: Vec<usize>,
    },
    Node {
        key: Box<str>,
        shape: Shape,
    },
}

impl Shape {
    pub(crate) fn of(fields: &[FieldPlan]) -> Shape {
        let mut root = Shape::default();
        for (i, f) in fields.iter().enumerate() {
            root.add(&f.target.segments, i);
        }
        root
    }

    fn add(&mut self, segs: &[Box<str>], slot: usize) {
        let Some((first, rest)) = segs.split_first() else {
            return;
        };
        if rest.is_empty() {
            for e in &mut self.entries {
                if let ShapeEntry::Leaf { key, slots } = e
                    && key == first
                {
                    slots.push(slot);
                    return;
                }
            }
            self.entries.push(ShapeEntry::Leaf {
                key: first.clone(),
                slots: vec![slot],
            });
            return;
        }
        let found = self
            .entries
            .iter()
            .position(|e| matches!(e, ShapeEntry::Node { key, .. } if key == first));
        let idx = found.unwrap_or_else(|| {
            self.entries.push(ShapeEntry::Node {
                key: first.clone(),
                shape: Shape::default(),
            });
            self.entries.len() - 1
        });
        if let Some(ShapeEntry::Node { shape, .. }) = self.entries.get_mut(idx) {
            shape.add(rest, slot);
        }
    }

    fn build(&self, values: &mut [Option<Value>]) -> Map<String, Value> {
        let mut out = Map::with_capacity(self.entries.len());
        for e in &self.entries {
            match e {
                ShapeEntry::Leaf { key, slots } => {
                    if let Some(v) = slots
                        .iter()
                        .rev()
                        .find_map(|s| values.get_mut(*s).and_then(Option::take))
                    {
                        out.insert(key.to_string(), v);
                    }
                }
                ShapeEntry::Node { key, shape } => {
                    let m = shape.build(values);
                    if !m.is_empty() {
                        out.insert(key.to_string(), Value::Object(m));
                    }
                }
            }
        }
        out
    }
}

/// Runs a field list and builds the record.
fn run_fields<'a>(
    fields: &'a [FieldPlan],
    shape: &Shape,
    root: &'a Value,
    b: &Bindings<'a>,
    cx: &Cx<'a>,
    on_error: impl Fn(&FieldPlan, String) -> MapError,
) -> Result<Map<String, Value>, MapError> {
    let mut values: Vec<Option<Value>> = Vec::with_capacity(fields.len());
    for f in fields {
        values.push(f.run(root, b, cx).map_err(|m| on_error(f, m))?);
    }
    Ok(shape.build(&mut values))
}

impl MappingPlan {
    /// The mapping's name in its spec file.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn source_object(&self) -> &str {
        &self.source_object
    }

    pub fn target_object(&self) -> &str {
        &self.target_object
    }

    pub fn source_system(&self) -> System {
        self.source_system
    }

    pub fn target_system(&self) -> System {
        self.target_system
    }

    /// The matching rules to run before creating a target record.
    pub fn matching(&self) -> Option<&MatchPlan> {
        self.matching.as_deref()
    }

    /// An entity this mapping's routing can pick, by id.
    pub fn entity(&self, id: &EntityId) -> Option<&Entity> {
        let r = self.routing.as_deref()?;
        r.rules
            .iter()
            .map(|rule| &rule.entity)
            .chain(r.fallback.iter())
            .find(|e| &e.id == id)
            .map(|e| &**e)
    }

    /// Routes a record: the entity and the rule that picked it. `Ok(None)` when the mapping has
    /// no routing.
    pub fn route(&self, record: &Value) -> Result<Option<Routed>, MapError> {
        let Some(routing) = &self.routing else {
            return Ok(None);
        };
        match routing.route(record) {
            Ok((e, rule)) => Ok(Some((e, rule.map(str::to_owned)))),
            Err(RouteFailure::NoMatch { tried }) => Err(MapError::NoRoute {
                record: record_label(&self.source_object, record),
                routing: routing.name.clone(),
                tried,
            }),
            Err(RouteFailure::Rule { rule, message }) => Err(MapError::Routing {
                record: record_label(&self.source_object, record),
                routing: routing.name.clone(),
                rule,
                message,
            }),
        }
    }

    /// Maps one record.
    pub fn map(&self, record: &Value, cx: &MapContext<'_>) -> Result<Mapped, MapError> {
        let label = || record_label(&self.source_object, record);
        if let Some(w) = &self.when {
            let b = Bindings {
                record,
                line: None,
                entity: None,
            };
            let go = w.test(&b).map_err(|message| MapError::Record {
                record: label(),
                message,
            })?;
            if !go {
                return Ok(Mapped::Skipped);
            }
        }
        let (entity, rule): (Option<Arc<Entity>>, Option<String>) = match cx.entity {
            Some(_) => (None, None),
            None => match self.route(record)? {
                Some((e, rule)) => (Some(e), rule),
                None => (None, None),
            },
        };
        let entity_ref: Option<&Entity> = cx.entity.or(entity.as_deref());
        let b = Bindings {
            record,
            line: None,
            entity: entity_ref.map(|e| (&e.json, &e.cel)),
        };
        let tcx = Cx {
            record,
            entity: entity_ref,
            rates: cx.rates,
        };
        let mut out = run_fields(&self.fields, &self.shape, record, &b, &tcx, |f, message| {
            MapError::Field {
                record: label(),
                field: f.label.to_string(),
                message,
            }
        })?;
        for lp in &self.lines {
            let mut lines = Vec::new();
            for (i, line) in lp.source.select_all(record).into_iter().enumerate() {
                let lb = Bindings {
                    line: Some(line),
                    ..b
                };
                if let Some(w) = &lp.when {
                    let keep = w.test(&lb).map_err(|message| MapError::Field {
                        record: label(),
                        field: format!("{}[{i}]", lp.label),
                        message,
                    })?;
                    if !keep {
                        continue;
                    }
                }
                let lcx = Cx {
                    record: line,
                    ..tcx
                };
                let lo = run_fields(&lp.fields, &lp.shape, line, &lb, &lcx, |f, message| {
                    MapError::Field {
                        record: label(),
                        field: format!("{}[{i}].{}", lp.label, f.label),
                        message,
                    }
                })?;
                lines.push(Value::Object(lo));
            }
            if lines.is_empty() && lp.required {
                return Err(MapError::Record {
                    record: label(),
                    message: format!("{} needs at least one line and none came out", lp.label),
                });
            }
            if !lines.is_empty() {
                insert(&mut out, &lp.target, Value::Array(lines));
            }
        }
        Ok(Mapped::Record(MappedRecord {
            entity: entity_ref.map(|e| e.id.clone()),
            rule,
            fields: out,
        }))
    }

    /// The system of record for a target field (dotted path).
    pub fn owner_of(&self, target: &str) -> Owner {
        self.ownership
            .owners
            .get(target)
            .copied()
            .unwrap_or(self.ownership.default)
    }

    /// The mapped fields that should be written to `target`: those the source side owns (or
    /// wins by modification time) and whose value differs from what the target has. Nothing
    /// left means no write, and so no echo.
    pub fn fields_to_write(
        &self,
        mapped: &Map<String, Value>,
        source: &Value,
        target: &Value,
    ) -> Map<String, Value> {
        let source_modified =
            self.ownership
                .source_modified
                .as_ref()
                .and_then(|p| match p.select(source) {
                    Selected::One(Value::String(s)) => parse_datetime(s).map(|d| d.to_utc()),
                    _ => None,
                });
        let target_modified: Option<DateTime<Utc>> = self
            .ownership
            .target_modified
            .as_ref()
            .and_then(|p| target_value(target, p))
            .and_then(Value::as_str)
            .and_then(parse_datetime)
            .map(|d| d.to_utc());
        let mut out = Map::new();
        self.filter_fields(
            mapped,
            target,
            "",
            source_modified,
            target_modified,
            &mut out,
        );
        out
    }

    fn filter_fields(
        &self,
        mapped: &Map<String, Value>,
        target: &Value,
        prefix: &str,
        source_modified: Option<DateTime<Utc>>,
        target_modified: Option<DateTime<Utc>>,
        out: &mut Map<String, Value>,
    ) {
        for (k, v) in mapped {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            let current = target.get(k).unwrap_or(&Value::Null);
            if let Value::Object(inner) = v {
                let mut sub = Map::new();
                self.filter_fields(
                    inner,
                    current,
                    &path,
                    source_modified,
                    target_modified,
                    &mut sub,
                );
                if !sub.is_empty() {
                    out.insert(k.clone(), Value::Object(sub));
                }
                continue;
            }
            let winner = ownership::decide(
                self.owner_of(&path),
                self.source_system,
                source_modified,
                target_modified,
            );
            if winner == Winner::Source && !same_value(v, current) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Equal as the target stores it: `"1234.50"` and `1234.5` are the same amount, `""` and null
/// are both empty.
fn same_value(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    let text = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(x) => Some(x.to_string()),
            Value::Null => Some(String::new()),
            _ => None,
        }
    };
    match (text(a), text(b)) {
        (Some(x), Some(y)) if x == y => true,
        (Some(x), Some(y)) => match (Decimal::from_str(&x), Decimal::from_str(&y)) {
            (Ok(p), Ok(q)) => p == q,
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn insert_builds_nested_maps() {
        let mut m = Map::new();
        insert(
            &mut m,
            &TargetPath::parse("DISPLAYCONTACT.MAILADDRESS.CITY").unwrap(),
            json!("Lyon"),
        );
        insert(
            &mut m,
            &TargetPath::parse("DISPLAYCONTACT.PRINTAS").unwrap(),
            json!("Acme"),
        );
        insert(&mut m, &TargetPath::parse("NAME").unwrap(), json!("Acme"));
        assert_eq!(
            Value::Object(m),
            json!({"DISPLAYCONTACT": {"MAILADDRESS": {"CITY": "Lyon"}, "PRINTAS": "Acme"}, "NAME": "Acme"})
        );
    }

    #[test]
    fn values_compare_as_stored() {
        assert!(same_value(&json!("1234.50"), &json!(1234.5)));
        assert!(same_value(&json!(""), &json!(null)));
        assert!(!same_value(&json!("Acme"), &json!("ACME")));
        assert!(!same_value(&json!("1"), &json!("2")));
    }

    #[test]
    fn records_are_named_by_id() {
        assert_eq!(
            record_label("Account", &json!({"Id": "001X"})),
            "Account 001X"
        );
        assert_eq!(
            record_label("CUSTOMER", &json!({"RECORDNO": 12})),
            "CUSTOMER 12"
        );
        assert_eq!(record_label("Account", &json!({})), "Account (no id)");
    }
}
