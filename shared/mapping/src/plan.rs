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
use crate::path::{Read, Reads, Selected, SourcePath, TargetPath};
use crate::rates::Rates;
use crate::reads::SourceReads;
use crate::routing::{Entity, RouteFailure, RoutingPlan};
use crate::schema::ObjectDef;
use crate::transform::{Cx, Transform, Val, parse_datetime};

/// Where a field's value comes from.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    Path(Read),
    Paths(Vec<Read>),
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
    /// The declared object of one line.
    pub object: Arc<ObjectDef>,
    pub target: TargetPath,
    pub label: Arc<str>,
    pub source: SourcePath,
    pub when: Option<Expr>,
    pub required: bool,
    pub fields: Vec<FieldPlan>,
    pub shape: Shape,
    pub reads: Reads,
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
    pub(crate) reads: Reads,
    pub(crate) lines: Vec<LinePlan>,
    pub(crate) ownership: OwnershipPlan,
    /// Every source field the mapping reads (see [`MappingPlan::reads`]).
    pub(crate) source_reads: SourceReads,
    /// What a flow reads of the target (see [`MappingPlan::target_reads`]).
    pub(crate) target_reads: SourceReads,
}

/// A routed entity and the name of the rule that picked it (`None`: the fallback).
pub type Routed = (Arc<Entity>, Option<String>);

/// What the caller knows that the spec does not.
#[derive(Debug, Clone, Copy, Default)]
pub struct MapContext<'a> {
    /// Use this entity instead of routing (e.g. the entity the customer already lives in).
    pub entity: Option<&'a Entity>,
    /// The exchange rates for the dates being mapped, read by the flow from the source system
    /// (Salesforce dated conversion rates, Intacct's rates of the entity's rate type). Only
    /// `currency` conversions use them; one whose rate is not here fails the record.
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

/// The fields a record is named by in messages, the first it has.
pub(crate) const ID_FIELDS: [&str; 4] = ["Id", "RECORDNO", "CUSTOMERID", "RECORDID"];

/// Names a record in messages: `Account 001...` / `CUSTOMER C-100`.
fn record_label(object: &str, record: &Value) -> String {
    let id = ID_FIELDS
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
            m.insert(String::from(&**p), Value::Object(Map::new()));
        }
        let Some(Value::Object(inner)) = m.get_mut(&**p) else {
            return;
        };
        m = inner;
    }
    m.insert(String::from(&**last), value);
}

impl Input {
    fn read<'a>(
        &'a self,
        root: &'a Value,
        b: &Bindings<'a>,
        slots: &[Option<&'a Value>],
    ) -> Result<Val<'a>, String> {
        Ok(match self {
            Input::Path(p) => Val::from_selected(p.select(root, slots)),
            Input::Paths(ps) => Val::List(
                ps.iter()
                    .map(|p| Val::from_selected(p.select(root, slots)))
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
        let mut v = self.input.read(root, b, cx.slots)?;
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
    /// The record with every target present (leaves null), built once. A record starts as a
    /// clone of it, so no key is hashed or formatted per record (cloning the map copies its
    /// hash table), then drops what was not written.
    template: Map<String, Value>,
    /// The template's entries in its iteration order, as indexes into `entries` (the same
    /// order with serde_json's `preserve_order`, sorted by key without it).
    order: Vec<usize>,
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

impl ShapeEntry {
    fn key(&self) -> &str {
        match self {
            ShapeEntry::Leaf { key, .. } | ShapeEntry::Node { key, .. } => key,
        }
    }
}

impl Shape {
    pub(crate) fn of(fields: &[FieldPlan]) -> Shape {
        let mut root = Shape::default();
        for (i, f) in fields.iter().enumerate() {
            root.add(&f.target.segments, i);
        }
        root.seal();
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

    /// Builds the templates, innermost first, once every field was added.
    fn seal(&mut self) {
        let mut template = Map::with_capacity(self.entries.len());
        for e in &mut self.entries {
            let value = match e {
                ShapeEntry::Leaf { .. } => Value::Null,
                ShapeEntry::Node { shape, .. } => {
                    shape.seal();
                    Value::Object(shape.template.clone())
                }
            };
            template.insert(e.key().to_owned(), value);
        }
        // A leaf and a node never share a key (a target is a scalar field and a scalar has no
        // fields: `Catalog::resolve` refuses `A.B` below a scalar `A`), so every template key
        // names exactly one entry.
        self.order = template
            .keys()
            .filter_map(|k| self.entries.iter().position(|e| e.key() == k))
            .collect();
        self.template = template;
    }

    fn build(&self, values: &mut [Option<Value>]) -> Map<String, Value> {
        let mut out = self.template.clone();
        self.fill(&mut out, values);
        out
    }

    /// The record built key by key, in the shape's order (what `build` does with a template).
    #[cfg(test)]
    fn build_by_insert(&self, values: &mut [Option<Value>]) -> Map<String, Value> {
        let mut out = Map::new();
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
                    let m = shape.build_by_insert(values);
                    if !m.is_empty() {
                        out.insert(key.to_string(), Value::Object(m));
                    }
                }
            }
        }
        out
    }

    /// Puts the written values into a clone of the template; drops the fields nothing wrote
    /// and the elements left empty, keeping the order of the others.
    fn fill(&self, out: &mut Map<String, Value>, values: &mut [Option<Value>]) {
        if self.order.len() > 64 {
            let mut order = self.order.iter();
            out.retain(|_, v| order.next().is_some_and(|i| self.put(*i, v, values)));
            return;
        }
        // Usually every target is written: one pass over the values puts them in place, and
        // only when some are not does a second pass remove those, by position (a field may
        // be written as null, so the null placeholder cannot tell).
        let mut unwritten: u64 = 0;
        for (pos, (v, i)) in out.values_mut().zip(&self.order).enumerate() {
            if !self.put(*i, v, values) {
                unwritten |= 1 << pos;
            }
        }
        if unwritten != 0 {
            let mut pos = 0;
            out.retain(|_, _| {
                let keep = unwritten & (1 << pos) == 0;
                pos += 1;
                keep
            });
        }
    }

    /// Puts entry `i`'s value in `v`: the last value written to a field, or a filled element.
    /// `false` when there is nothing to keep (nothing written, or an element left empty).
    fn put(&self, i: usize, v: &mut Value, values: &mut [Option<Value>]) -> bool {
        match self.entries.get(i) {
            Some(ShapeEntry::Leaf { slots, .. }) => match slots
                .iter()
                .rev()
                .find_map(|s| values.get_mut(*s).and_then(Option::take))
            {
                Some(x) => {
                    *v = x;
                    true
                }
                None => false,
            },
            Some(ShapeEntry::Node { shape, .. }) => match v {
                Value::Object(m) => {
                    shape.fill(m, values);
                    !m.is_empty()
                }
                _ => false,
            },
            None => false,
        }
    }
}

/// Turns the plain source paths of a field list (inputs, `state` countries, `currency`
/// codes) into slots of `reads`, read once per record (or line).
fn intern_paths(fields: &mut [FieldPlan], reads: &mut Reads) {
    for f in fields {
        match &mut f.input {
            Input::Path(p) => reads.intern(p),
            Input::Paths(ps) => ps.iter_mut().for_each(|p| reads.intern(p)),
            Input::Expr(_) | Input::Const(_) => {}
        }
        for t in &mut f.transforms {
            t.intern_reads(&mut *reads);
        }
    }
}

/// Makes the expressions of a field list (conditions, computed values) read the record's
/// fields through slots of the mapping's `reads`.
fn intern_exprs(fields: &mut [FieldPlan], reads: &mut Reads) {
    for f in fields {
        if let Some(w) = &mut f.when {
            w.intern_reads(reads);
        }
        if let Input::Expr(e) = &mut f.input {
            e.intern_reads(reads);
        }
    }
}

/// Room on the stack for a field list's values and source reads (a list is rarely longer).
const ON_STACK: usize = 48;

/// Reads the values of `reads` from `record` (on the stack, unless the list is very long)
/// and calls `f` with them. `PLAIN` (tests only) looks each path up on its own instead.
fn with_slots<'a, const PLAIN: bool, R>(
    reads: &Reads,
    record: &'a Value,
    f: impl FnOnce(&[Option<&'a Value>]) -> R,
) -> R {
    let mut firsts_stack: [Option<&'a Value>; ON_STACK] = [None; ON_STACK];
    let mut slots_stack: [Option<&'a Value>; ON_STACK] = [None; ON_STACK];
    let (mut firsts_heap, mut slots_heap);
    let firsts = match firsts_stack.get_mut(..reads.firsts()) {
        Some(f) => f,
        None => {
            firsts_heap = vec![None; reads.firsts()];
            &mut firsts_heap[..]
        }
    };
    let slots = match slots_stack.get_mut(..reads.len()) {
        Some(s) => s,
        None => {
            slots_heap = vec![None; reads.len()];
            &mut slots_heap[..]
        }
    };
    #[cfg(test)]
    if PLAIN {
        reads.read_each(record, slots);
        return f(slots);
    }
    reads.read(record, firsts, slots);
    f(slots)
}

/// Runs a field list on `root` and builds the record. `cx.slots` are `root`'s values for the
/// list's `Reads`. `PLAIN` (tests only) builds the record key by key instead of from the
/// shape's template.
fn run_fields<'a, const PLAIN: bool>(
    fields: &'a [FieldPlan],
    shape: &Shape,
    root: &'a Value,
    b: &Bindings<'a>,
    cx: &Cx<'a>,
    on_error: impl Fn(&FieldPlan, String) -> MapError,
) -> Result<Map<String, Value>, MapError> {
    let mut stack: [Option<Value>; ON_STACK] = [const { None }; ON_STACK];
    let mut heap: Vec<Option<Value>>;
    let values: &mut [Option<Value>] = match stack.get_mut(..fields.len()) {
        Some(v) => v,
        None => {
            heap = vec![None; fields.len()];
            &mut heap
        }
    };
    for (f, slot) in fields.iter().zip(values.iter_mut()) {
        *slot = f.run(root, b, cx).map_err(|m| on_error(f, m))?;
    }
    #[cfg(test)]
    if PLAIN {
        return Ok(shape.build_by_insert(values));
    }
    Ok(shape.build(values))
}

impl MappingPlan {
    /// The mapping's name in its spec file.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The declared object this mapping reads (`Account`).
    pub fn source_object(&self) -> &str {
        &self.source_object
    }

    /// The declared object this mapping writes (`CUSTOMER`).
    pub fn target_object(&self) -> &str {
        &self.target_object
    }

    /// The system the source object lives in.
    pub fn source_system(&self) -> System {
        self.source_system
    }

    /// The system the target object lives in.
    pub fn target_system(&self) -> System {
        self.target_system
    }

    /// Every field of the source record this mapping reads — its own, its related records'
    /// (`Account.Name`, `Owner.Email`) and its line collections' (`OpportunityLineItems`,
    /// `SBQQ__LineItems__r`) — from field sources, transforms, conditions and expressions,
    /// routing, matching and ownership. A flow selects exactly these (its SOQL select list and
    /// child subqueries, its Intacct field list); mapping a record that has only these fields
    /// gives what mapping the whole record gives. See [`SourceReads`] for the guarantees.
    pub fn reads(&self) -> &SourceReads {
        &self.source_reads
    }

    /// The fields of the target record a flow reads before writing it: every field the
    /// mapping writes outside line collections (what [`MappingPlan::fields_to_write`] diffs
    /// against), the fields matching compares candidates on, the target's modification time
    /// (ownership), and the id fields the object declares. A target record (or candidate)
    /// that has only these gives the same `fields_to_write` and the same match decisions.
    pub fn target_reads(&self) -> &SourceReads {
        &self.target_reads
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
        self.route_read(record, &[])
    }

    /// Routes a record whose values for `self.reads` are `slots` (empty: not read).
    fn route_read<'a>(
        &'a self,
        record: &'a Value,
        slots: &'a [Option<&'a Value>],
    ) -> Result<Option<Routed>, MapError> {
        let Some(routing) = &self.routing else {
            return Ok(None);
        };
        match routing.route(record, slots) {
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

    /// Decides, once the plan is complete, which record fields are read once per record
    /// (and line) instead of once per use: every plain source path, and the first field of
    /// every record path the mapping's expressions (conditions, routing) read.
    pub(crate) fn intern_reads(&mut self) {
        let mut reads = Reads::default();
        intern_paths(&mut self.fields, &mut reads);
        intern_exprs(&mut self.fields, &mut reads);
        if let Some(w) = &mut self.when {
            w.intern_reads(&mut reads);
        }
        if let Some(r) = &mut self.routing {
            Arc::make_mut(r).intern_reads(&mut reads);
        }
        for lp in &mut self.lines {
            let mut line_reads = Reads::default();
            intern_paths(&mut lp.fields, &mut line_reads);
            lp.reads = line_reads;
            if let Some(w) = &mut lp.when {
                w.intern_reads(&mut reads);
            }
            intern_exprs(&mut lp.fields, &mut reads);
        }
        self.reads = reads;
    }

    /// Maps one record.
    pub fn map(&self, record: &Value, cx: &MapContext<'_>) -> Result<Mapped, MapError> {
        with_slots::<false, _>(&self.reads, record, |slots| {
            self.map_read::<false>(record, slots, cx)
        })
    }

    /// Maps one record the plain way: every path looked up where it is used, every key
    /// inserted. Only for tests, to check `map` against.
    #[cfg(test)]
    fn map_plain(&self, record: &Value, cx: &MapContext<'_>) -> Result<Mapped, MapError> {
        with_slots::<true, _>(&self.reads, record, |slots| {
            self.map_read::<true>(record, slots, cx)
        })
    }

    /// Maps one record whose values for `self.reads` are `slots`. `PLAIN` (tests only): the
    /// expressions and the routing read the record themselves, and records are built key
    /// by key.
    fn map_read<'a, const PLAIN: bool>(
        &'a self,
        record: &'a Value,
        slots: &'a [Option<&'a Value>],
        cx: &MapContext<'a>,
    ) -> Result<Mapped, MapError> {
        let label = || record_label(&self.source_object, record);
        // What expressions read through (see `Bindings::slots`).
        let expr_slots = if PLAIN { &[] } else { slots };
        if let Some(w) = &self.when {
            let b = Bindings {
                record,
                line: None,
                entity: None,
                slots: expr_slots,
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
            None => match self.route_read(record, expr_slots)? {
                Some((e, rule)) => (Some(e), rule),
                None => (None, None),
            },
        };
        let entity_ref: Option<&Entity> = cx.entity.or(entity.as_deref());
        let b = Bindings {
            record,
            line: None,
            entity: entity_ref.map(|e| &e.view),
            slots: expr_slots,
        };
        let tcx = Cx {
            record,
            entity: entity_ref,
            rates: cx.rates,
            slots,
        };
        let mut out =
            run_fields::<PLAIN>(&self.fields, &self.shape, record, &b, &tcx, |f, message| {
                MapError::Field {
                    record: label(),
                    field: f.label.to_string(),
                    message,
                }
            })?;
        for lp in &self.lines {
            let selected = lp.source.select_all(record);
            let mut lines = Vec::with_capacity(selected.len());
            for (i, line) in selected.into_iter().enumerate() {
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
                let lo = with_slots::<PLAIN, _>(&lp.reads, line, |line_slots| {
                    let lcx = Cx {
                        record: line,
                        slots: line_slots,
                        ..tcx
                    };
                    run_fields::<PLAIN>(&lp.fields, &lp.shape, line, &lb, &lcx, |f, message| {
                        MapError::Field {
                            record: label(),
                            field: format!("{}[{i}].{}", lp.label, f.label),
                            message,
                        }
                    })
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
        let last_modified = ownership::decide(
            Owner::LastModified,
            self.source_system,
            self.source_modified(source),
            self.target_modified(target),
        );
        self.fields_to_write_as(mapped, target, last_modified)
    }

    /// The source record's modification time, read where the ownership spec says
    /// (`source_modified`); `None` when not configured or not readable.
    pub fn source_modified(&self, source: &Value) -> Option<DateTime<Utc>> {
        self.ownership
            .source_modified
            .as_ref()
            .and_then(|p| match p.select(source) {
                Selected::One(Value::String(s)) => parse_datetime(s).map(|d| d.to_utc()),
                _ => None,
            })
    }

    /// The target record's modification time (`target_modified` of the ownership spec).
    pub fn target_modified(&self, target: &Value) -> Option<DateTime<Utc>> {
        self.ownership
            .target_modified
            .as_ref()
            .and_then(|p| target_value(target, p))
            .and_then(Value::as_str)
            .and_then(parse_datetime)
            .map(|d| d.to_utc())
    }

    /// Like [`MappingPlan::fields_to_write`], with the side that keeps `last_modified` fields
    /// decided by the caller (the bi-directional sync decides it once per record pair, from
    /// which sides changed since the last sync); fields with a system of record still go to
    /// their owner.
    pub fn fields_to_write_as(
        &self,
        mapped: &Map<String, Value>,
        target: &Value,
        last_modified: Winner,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        self.filter_fields(mapped, target, "", last_modified, &mut out);
        out
    }

    fn filter_fields(
        &self,
        mapped: &Map<String, Value>,
        target: &Value,
        prefix: &str,
        last_modified: Winner,
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
                self.filter_fields(inner, current, &path, last_modified, &mut sub);
                if !sub.is_empty() {
                    out.insert(k.clone(), Value::Object(sub));
                }
                continue;
            }
            let winner = match self.owner_of(&path) {
                Owner::LastModified => last_modified,
                owner => ownership::decide(owner, self.source_system, None, None),
            };
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

    /// Values that exercise the transforms, conditions and routing: text with spaces and
    /// non-ASCII letters, numbers, dates in several forms, codes routing rules look for, and
    /// values of the wrong kind.
    fn odd_values() -> Vec<Value> {
        vec![
            Value::Null,
            json!(""),
            json!("   "),
            json!("  Zürich  Straße 5 \n Floor 2 \n x "),
            json!(12345),
            json!(-12.505),
            json!(true),
            json!("ÉCOLE d'été — un nom bien plus long que quarante caractères, et encore plus"),
            json!("net 30"),
            json!("Customer - Channel"),
            json!("Education"),
            json!("United Kingdom"),
            json!("Deutschland"),
            json!("CA"),
            json!("New Zealand"),
            json!("EUR"),
            json!("2026-02-30"),
            json!("2026-03-05T23:10:00.000+0000"),
            json!("01/31/2026"),
            json!({"year": "2026", "month": "3", "day": "5"}),
            json!([1, "a", null]),
            json!({"Name": "Nested", "BillingCountry": "France"}),
            json!("EDU-77"),
        ]
    }

    /// `record` with each field (and each field of a related record or of the first line)
    /// in turn removed or replaced by each of `odd_values`.
    fn variants(record: &Value) -> Vec<Value> {
        let mut out = vec![record.clone()];
        let Value::Object(m) = record else {
            return out;
        };
        let fills = odd_values();
        for (k, inner) in m {
            let mut r = m.clone();
            r.shift_remove(k);
            out.push(Value::Object(r));
            for f in &fills {
                let mut r = m.clone();
                r.insert(k.clone(), f.clone());
                out.push(Value::Object(r));
            }
            let Value::Object(im) = inner else { continue };
            for ik in im.keys() {
                for f in fills.iter().take(8) {
                    let mut i2 = im.clone();
                    i2.insert(ik.clone(), f.clone());
                    let mut r = m.clone();
                    r.insert(k.clone(), Value::Object(i2));
                    out.push(Value::Object(r));
                }
            }
            if let Some(Value::Array(lines)) = im.get("records")
                && let Some(Value::Object(first)) = lines.first()
            {
                for lk in first.keys() {
                    for f in &fills {
                        let mut l2 = first.clone();
                        l2.insert(lk.clone(), f.clone());
                        let mut lines2 = lines.clone();
                        lines2[0] = Value::Object(l2);
                        let mut i2 = im.clone();
                        i2.insert("records".into(), Value::Array(lines2));
                        let mut r = m.clone();
                        r.insert(k.clone(), Value::Object(i2));
                        out.push(Value::Object(r));
                    }
                }
            }
        }
        out
    }

    /// The differential check of the per-record path: every shipped mapping, on the records
    /// of its spec's test cases and thousands of variants of them, gives the same result
    /// (fields in the same order, same errors) through `map` (each field list's paths read
    /// once, expressions and routing reading through those reads, records cloned from their
    /// shape's template) as through `map_plain` (every path looked up where it is used,
    /// every key inserted), with routing and with a given entity and rates.
    #[test]
    fn map_gives_what_the_plain_path_gives() {
        let specs = match crate::SpecBundle::shipped().compile() {
            Ok(s) => s,
            Err(e) => panic!("the shipped specs do not compile:\n{e}"),
        };
        let mut rates = Rates::new();
        for base in ["USD", "EUR", "GBP"] {
            for (c, r) in [
                ("EUR", "1.1"),
                ("JPY", "0.0067"),
                ("GBP", "1.27"),
                ("USD", "0.9"),
            ] {
                let (from, to) = (
                    lf_domain::CurrencyCode::parse(c).unwrap(),
                    lf_domain::CurrencyCode::parse(base).unwrap(),
                );
                if from != to {
                    let day = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
                    rates
                        .insert(from, to, day, Decimal::from_str(r).unwrap())
                        .unwrap();
                }
            }
        }
        let (mut compared, mut mapped) = (0, 0);
        for (flow, _, mapping, input) in specs.test_cases() {
            let plan = specs.mapping(flow, mapping).unwrap();
            let given = plan
                .routing
                .as_deref()
                .and_then(|r| r.rules.first())
                .map(|rule| &*rule.entity);
            let contexts = [
                MapContext::default(),
                MapContext {
                    entity: given,
                    rates: Some(&rates),
                },
            ];
            for record in variants(input) {
                for cx in &contexts {
                    let fast = plan.map(&record, cx);
                    let plain = plan.map_plain(&record, cx);
                    // Debug shows every field in order, and every error's text.
                    assert_eq!(
                        format!("{fast:?}"),
                        format!("{plain:?}"),
                        "{flow} {mapping} on {record}"
                    );
                    compared += 1;
                    mapped += usize::from(matches!(fast, Ok(Mapped::Record(_))));
                }
            }
        }
        // Enough of them, and enough that map to a record rather than fail or skip.
        assert!(compared > 10_000, "only {compared} comparisons");
        assert!(mapped > compared / 3, "only {mapped} of {compared} mapped");
    }

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
    fn records_from_the_template_are_records_built_key_by_key() {
        // Narrow and wide (more than 64 entries: the other way of dropping unwritten ones),
        // nested, a target written twice, some targets not written, an element left empty.
        for width in [3, 40, 70] {
            let mut targets: Vec<String> = (0..width).map(|i| format!("F{i}")).collect();
            targets.extend(
                ["A.X", "A.B.Y", "F1", "A.B.Z", "C.Q", "Last"]
                    .iter()
                    .map(|t| t.to_string()),
            );
            let mut shape = Shape::default();
            for (i, t) in targets.iter().enumerate() {
                let p = TargetPath::parse(t).unwrap();
                shape.add(&p.segments, i);
            }
            shape.seal();
            for written in [0, 1, 2, 3, 5, 7] {
                let values: Vec<Option<Value>> = (0..targets.len())
                    .map(|i| match i % written.max(1) {
                        0 if written != 0 => None,
                        1 => Some(Value::Null),
                        _ => Some(json!(i)),
                    })
                    .collect();
                let built = shape.build(&mut values.clone());
                let inserted = shape.build_by_insert(&mut values.clone());
                assert_eq!(
                    serde_json::to_string(&built).unwrap(),
                    serde_json::to_string(&inserted).unwrap(),
                    "{width} fields, every {written}th unwritten"
                );
            }
        }
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
