//! Direct evaluation, on the JSON record, of the expressions specs write most: comparisons,
//! `in` lists, `&&` / `||` / `!` / `?:`, string tests, `+`, `size`, and `exists` / `all` over
//! lines. It walks the AST the `cel` crate parsed (no second parser) and answers only when the
//! answer is certain under CEL's rules; anything else (a type it does not handle, an operation
//! CEL would reject) returns `None` and the `cel` interpreter evaluates the expression, so the
//! result and the errors are CEL's. Converting a record to CEL values costs more than mapping
//! the record, which is why this exists.

use std::borrow::Cow;
use std::sync::Arc;

use cel::common::ast::{CallExpr, ComprehensionExpr, Expr as Ast, IdedExpr, LiteralValue};
use serde_json::{Number, Value};

use super::{
    Bindings, CONV_DEPTH, Conv, ENTITY_FIELDS, Evaluated, Scope, Var, conv_for, entity_field,
    select_chain,
};
use crate::path::Reads;
use crate::schema::{FieldType, ObjectDef};

/// Longest field path evaluated directly (deeper ones go to the interpreter, which converts
/// nested records to a fixed depth).
const MAX_PATH: usize = 3;

#[derive(Debug, Clone)]
pub(super) enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(Box<str>),
    List(Vec<Node>),
    Path {
        root: Root,
        path: Box<[Box<str>]>,
        conv: Conv,
        /// A declared field that is absent reads as null (as the interpreter's conversion
        /// does); a map key that is absent is an error, left to the interpreter.
        missing_is_null: bool,
    },
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Cmp(Cmp, Box<Node>, Box<Node>),
    In(Box<Node>, Box<Node>),
    /// `x in ['a', 'b', ...]` with only text in the list: one hash lookup.
    InText(Box<Node>, foldhash::HashSet<Box<str>>),
    Add(Box<Node>, Box<Node>),
    StrTest(StrTest, Box<Node>, Box<Node>),
    Size(Box<Node>),
    /// `exists` (all = false) or `all` (all = true) over a list of records.
    Quantifier {
        range: Box<Node>,
        slot: usize,
        pred: Box<Node>,
        all: bool,
    },
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Root {
    Record,
    Line,
    /// The entity, whose first field (the first name of the path) is `ENTITY_FIELDS[i]`.
    Entity(usize),
    /// The record, whose first field is read from `Bindings::slots[i]` when they are bound
    /// (see `Reads`).
    RecordSlot(usize),
    Local(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum StrTest {
    StartsWith,
    EndsWith,
    Contains,
}

/// A value during direct evaluation.
#[derive(Debug, Clone)]
pub(super) enum V<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(Cow<'a, str>),
    /// A record or list, borrowed from the input.
    Json(&'a Value),
    List(Vec<V<'a>>),
}

/// A comprehension variable: its name, the object it holds, and the depth at which the
/// interpreter converts that object's fields (see [`conv_for`]).
type Local = (String, Arc<ObjectDef>, usize);

/// The depth at which the interpreter converts the fields of `record` and `line` (bound as
/// their top-level fields, or whole: the same depth).
const ROOT_DEPTH: usize = 1;

/// Translation state: what is in scope, and the comprehension variables bound so far.
pub(super) struct Tx<'s, 'c> {
    pub scope: &'s Scope<'c>,
    locals: Vec<Local>,
}

impl<'s, 'c> Tx<'s, 'c> {
    pub(super) fn new(scope: &'s Scope<'c>) -> Self {
        Tx {
            scope,
            locals: Vec::new(),
        }
    }

    /// The direct form of `e`, if every part of it has one.
    pub(super) fn translate(&mut self, e: &IdedExpr) -> Option<Node> {
        match &e.expr {
            Ast::Literal(l) => match l {
                LiteralValue::Null => Some(Node::Null),
                LiteralValue::Boolean(b) => Some(Node::Bool(**b)),
                LiteralValue::Int(i) => Some(Node::Int(**i)),
                LiteralValue::Double(d) => Some(Node::Double(**d)),
                LiteralValue::String(s) => Some(Node::Str(Box::from(s.as_ref()))),
                _ => None,
            },
            Ast::List(l) if l.optional_indices.is_empty() => Some(Node::List(
                l.elements
                    .iter()
                    .map(|x| self.translate(x))
                    .collect::<Option<_>>()?,
            )),
            Ast::Select(s) if !s.test => self.path(e),
            Ast::Call(c) => self.call(c),
            Ast::Comprehension(c) => self.quantifier(c),
            _ => None,
        }
    }

    fn path(&self, e: &IdedExpr) -> Option<Node> {
        let (root_name, segs) = select_chain(e)?;
        if segs.is_empty() || segs.len() > MAX_PATH {
            return None;
        }
        let path: Box<[Box<str>]> = segs.iter().map(|s| Box::from(*s)).collect();
        if let Some(slot) = self.locals.iter().rposition(|(n, ..)| n == root_name) {
            let (_, object, depth) = &self.locals[slot];
            let (ty, depth) = self.resolve(object, &segs, *depth)?;
            return Some(Node::Path {
                root: Root::Local(slot),
                path,
                conv: conv_for(self.scope.catalog, &ty, depth),
                missing_is_null: true,
            });
        }
        let (root, ty, depth, missing_is_null) = match Var::parse(root_name)? {
            Var::Record => {
                let (ty, depth) = self.resolve(&self.scope.record, &segs, ROOT_DEPTH)?;
                (Root::Record, ty, depth, true)
            }
            Var::Line => {
                let (ty, depth) = self.resolve(self.scope.line.as_ref()?, &segs, ROOT_DEPTH)?;
                (Root::Line, ty, depth, true)
            }
            Var::Entity => {
                let missing_is_null = match segs.as_slice() {
                    ["dimensions", _] => false,
                    [f] if ENTITY_FIELDS.contains(f) && *f != "dimensions" => true,
                    _ => return None,
                };
                let root = Root::Entity(entity_field(segs.first()?)?);
                let text = FieldType::String { max: None };
                (root, text, ROOT_DEPTH, missing_is_null)
            }
        };
        Some(Node::Path {
            root,
            path,
            conv: conv_for(self.scope.catalog, &ty, depth),
            missing_is_null,
        })
    }

    /// The declared type at `segs` below `object`, through nested records only, and the depth
    /// at which the interpreter converts it; `depth` is that of `object`'s fields. `None` past
    /// a record the interpreter converts untyped (deeper than [`CONV_DEPTH`]): its fields
    /// read differently there (text not parsed, an absent field an error).
    fn resolve(
        &self,
        object: &ObjectDef,
        segs: &[&str],
        depth: usize,
    ) -> Option<(FieldType, usize)> {
        let mut def = object;
        let mut owned;
        let mut depth = depth;
        let mut ty = None;
        for (i, s) in segs.iter().enumerate() {
            let t = match ty.take() {
                None => def.fields.get(*s)?.clone(),
                // The records of a child relationship are converted at its depth.
                Some(FieldType::Children(o)) if *s == "records" => FieldType::List(o),
                Some(FieldType::Ref(o)) if depth < CONV_DEPTH => {
                    owned = self.scope.catalog.get(&o)?.clone();
                    def = &owned;
                    depth += 1;
                    def.fields.get(*s)?.clone()
                }
                Some(_) => return None,
            };
            // Children other than `.records` (totalSize, done) are left to the interpreter.
            if matches!(t, FieldType::Children(_)) && i + 1 == segs.len() {
                return None;
            }
            ty = Some(t);
        }
        ty.map(|t| (t, depth))
    }

    fn call(&mut self, c: &CallExpr) -> Option<Node> {
        let b = |n: Node| Box::new(n);
        let mut args: Vec<Node> = Vec::with_capacity(c.args.len());
        for a in &c.args {
            args.push(self.translate(a)?);
        }
        let target = match &c.target {
            Some(t) => Some(self.translate(t)?),
            None => None,
        };
        let cmp = |op| -> Option<Cmp> { Some(op) };
        let node = match (c.func_name.as_str(), target, args.len()) {
            ("_&&_", None, 2) => {
                let r = args.pop()?;
                Node::And(b(args.pop()?), b(r))
            }
            ("_||_", None, 2) => {
                let r = args.pop()?;
                Node::Or(b(args.pop()?), b(r))
            }
            ("!_", None, 1) => Node::Not(b(args.pop()?)),
            ("_?_:_", None, 3) => {
                let no = args.pop()?;
                let yes = args.pop()?;
                Node::Cond(b(args.pop()?), b(yes), b(no))
            }
            (op @ ("_==_" | "_!=_" | "_<_" | "_<=_" | "_>_" | "_>=_"), None, 2) => {
                let which = match op {
                    "_==_" => cmp(Cmp::Eq),
                    "_!=_" => cmp(Cmp::Ne),
                    "_<_" => cmp(Cmp::Lt),
                    "_<=_" => cmp(Cmp::Le),
                    "_>_" => cmp(Cmp::Gt),
                    _ => cmp(Cmp::Ge),
                }?;
                let r = args.pop()?;
                Node::Cmp(which, b(args.pop()?), b(r))
            }
            ("@in", None, 2) => {
                let list = args.pop()?;
                let Node::List(items) = &list else {
                    return None;
                };
                let texts: Option<foldhash::HashSet<Box<str>>> = items
                    .iter()
                    .map(|i| match i {
                        Node::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                match texts {
                    Some(set) if !set.is_empty() => Node::InText(b(args.pop()?), set),
                    _ => Node::In(b(args.pop()?), b(list)),
                }
            }
            ("_+_", None, 2) => {
                let r = args.pop()?;
                Node::Add(b(args.pop()?), b(r))
            }
            (m @ ("startsWith" | "endsWith" | "contains"), Some(t), 1) => {
                let test = match m {
                    "startsWith" => StrTest::StartsWith,
                    "endsWith" => StrTest::EndsWith,
                    _ => StrTest::Contains,
                };
                Node::StrTest(test, b(t), b(args.pop()?))
            }
            ("size", None, 1) => Node::Size(b(args.pop()?)),
            ("size", Some(t), 0) => Node::Size(b(t)),
            _ => return None,
        };
        Some(node)
    }

    /// `list.exists(x, p)` and `list.all(x, p)`, as the parser expands them.
    fn quantifier(&mut self, c: &ComprehensionExpr) -> Option<Node> {
        if c.iter_var2.is_some() {
            return None;
        }
        let all = match &c.accu_init.expr {
            Ast::Literal(LiteralValue::Boolean(b)) => **b,
            _ => return None,
        };
        let Ast::Call(step) = &c.loop_step.expr else {
            return None;
        };
        let expected = if all { "_&&_" } else { "_||_" };
        let is_accu = |x: &IdedExpr| matches!(&x.expr, Ast::Ident(n) if *n == c.accu_var);
        if step.func_name != expected
            || step.args.len() != 2
            || !is_accu(&step.args[0])
            || !is_accu(&c.result)
        {
            return None;
        }
        let range = self.translate(&c.iter_range)?;
        let Node::Path {
            conv: Conv::List(_),
            ..
        } = &range
        else {
            return None;
        };
        let (element, depth) = self.element_object(&c.iter_range)?;
        self.locals.push((c.iter_var.clone(), element, depth));
        let pred = self.translate(&step.args[1]);
        let slot = self.locals.len() - 1;
        self.locals.pop();
        Some(Node::Quantifier {
            range: Box::new(range),
            slot,
            pred: Box::new(pred?),
            all,
        })
    }

    /// The object a list path holds, and the depth at which its fields are converted.
    fn element_object(&self, range: &IdedExpr) -> Option<(Arc<ObjectDef>, usize)> {
        let (root_name, segs) = select_chain(range)?;
        let (root, depth) = match self.locals.iter().rposition(|(n, ..)| n == root_name) {
            Some(slot) => (self.locals[slot].1.clone(), self.locals[slot].2),
            None => match Var::parse(root_name)? {
                Var::Record => (self.scope.record.clone(), ROOT_DEPTH),
                Var::Line => (self.scope.line.clone()?, ROOT_DEPTH),
                Var::Entity => return None,
            },
        };
        match self.resolve(&root, &segs, depth)? {
            // The interpreter converts the elements typed only this shallow.
            (FieldType::List(o), depth) if depth < CONV_DEPTH => {
                Some((self.scope.catalog.get(&o).cloned()?, depth + 1))
            }
            _ => None,
        }
    }
}

fn text_of<'a>(v: &'a Value) -> Option<Cow<'a, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// The value of a declared field, typed as the interpreter's conversion types it.
fn typed<'a>(v: &'a Value, conv: &Conv) -> Option<V<'a>> {
    Some(match (conv, v) {
        (_, Value::Null) => V::Null,
        (Conv::Text, other) => V::Str(text_of(other)?),
        (Conv::Int, Value::Number(n)) => n.as_i64().map_or(V::Null, V::Int),
        (Conv::Int, Value::String(s)) => s.trim().parse().map_or(V::Null, V::Int),
        (Conv::Double, Value::Number(n)) => n.as_f64().map_or(V::Null, V::Double),
        (Conv::Double, Value::String(s)) => s.trim().parse().map_or(V::Null, V::Double),
        (Conv::Bool, Value::Bool(b)) => V::Bool(*b),
        (Conv::Bool, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => V::Bool(true),
            "false" => V::Bool(false),
            _ => V::Null,
        },
        (Conv::List(_), Value::Array(_)) | (Conv::Object(_), Value::Object(_)) => V::Json(v),
        (Conv::Any, Value::Bool(b)) => V::Bool(*b),
        (Conv::Any, Value::String(s)) => V::Str(Cow::Borrowed(s)),
        (Conv::Any, Value::Number(n)) => match n.as_i64() {
            Some(i) => V::Int(i),
            None => V::Double(n.as_f64()?),
        },
        _ => return None,
    })
}

/// CEL equality where it is certain: same types, or null against a scalar.
fn equal(a: &V<'_>, b: &V<'_>) -> Option<bool> {
    Some(match (a, b) {
        (V::Null, V::Null) => true,
        (V::Null, V::Bool(_) | V::Int(_) | V::Double(_) | V::Str(_))
        | (V::Bool(_) | V::Int(_) | V::Double(_) | V::Str(_), V::Null) => false,
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Int(x), V::Int(y)) => x == y,
        (V::Double(x), V::Double(y)) => x == y,
        (V::Str(x), V::Str(y)) => x == y,
        _ => return None,
    })
}

fn order(a: &V<'_>, b: &V<'_>) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (V::Int(x), V::Int(y)) => Some(x.cmp(y)),
        (V::Double(x), V::Double(y)) => x.partial_cmp(y),
        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

impl Node {
    /// Reads the first field of every record path through a slot of `reads`.
    pub(super) fn intern_reads(&mut self, reads: &mut Reads) {
        match self {
            Node::Path { root, path, .. } => {
                if let Root::Record = root
                    && let Some(slot) = path.get(..1).and_then(|first| reads.slot(first))
                {
                    *root = Root::RecordSlot(slot);
                }
            }
            Node::List(items) => items.iter_mut().for_each(|i| i.intern_reads(reads)),
            Node::Not(x) | Node::Size(x) | Node::InText(x, _) => x.intern_reads(reads),
            Node::And(l, r)
            | Node::Or(l, r)
            | Node::Cmp(_, l, r)
            | Node::In(l, r)
            | Node::Add(l, r)
            | Node::StrTest(_, l, r) => {
                l.intern_reads(reads);
                r.intern_reads(reads);
            }
            Node::Cond(c, yes, no) => {
                c.intern_reads(reads);
                yes.intern_reads(reads);
                no.intern_reads(reads);
            }
            Node::Quantifier { range, pred, .. } => {
                range.intern_reads(reads);
                pred.intern_reads(reads);
            }
            Node::Null | Node::Bool(_) | Node::Int(_) | Node::Double(_) | Node::Str(_) => {}
        }
    }

    pub(super) fn eval<'a>(
        &'a self,
        b: &Bindings<'a>,
        locals: &mut Vec<&'a Value>,
    ) -> Option<V<'a>> {
        Some(match self {
            Node::Null => V::Null,
            Node::Bool(x) => V::Bool(*x),
            Node::Int(x) => V::Int(*x),
            Node::Double(x) => V::Double(*x),
            Node::Str(s) => V::Str(Cow::Borrowed(s)),
            Node::List(items) => V::List(
                items
                    .iter()
                    .map(|i| i.eval(b, locals))
                    .collect::<Option<_>>()?,
            ),
            Node::Path {
                root,
                path,
                conv,
                missing_is_null,
            } => {
                let (mut v, start): (&'a Value, usize) = match root {
                    Root::Record => (b.record, 0),
                    Root::Line => (b.line?, 0),
                    // The first name read by its index: the same value, and the same
                    // absence, as reading it from the entity's JSON object.
                    Root::Entity(f) => match b.entity?.field(*f) {
                        Some(x) => (x, 1),
                        None if *missing_is_null && path.len() == 1 => return Some(V::Null),
                        None => return None,
                    },
                    Root::RecordSlot(s) => match b.slots.get(*s) {
                        // Read once for the record: the same value, and the same absence, as
                        // the first step of the walk below (which needs an object).
                        Some(first) if b.record.is_object() => match first {
                            Some(x) => (*x, 1),
                            None if *missing_is_null && path.len() == 1 => return Some(V::Null),
                            None => return None,
                        },
                        Some(_) => return None,
                        None => (b.record, 0),
                    },
                    Root::Local(i) => (locals.get(*i).copied()?, 0),
                };
                for (i, seg) in path.iter().enumerate().skip(start) {
                    match v {
                        Value::Object(m) => match m.get(&**seg) {
                            Some(next) => v = next,
                            None if *missing_is_null && i + 1 == path.len() => {
                                return Some(V::Null);
                            }
                            None => return None,
                        },
                        _ => return None,
                    }
                }
                typed(v, conv)?
            }
            Node::Not(x) => match x.eval(b, locals)? {
                V::Bool(v) => V::Bool(!v),
                _ => return None,
            },
            // CEL's && and || are commutative over errors: `false && error` is false either
            // way round, so the right side decides when the left cannot.
            Node::And(l, r) => {
                let left = l.eval(b, locals);
                if matches!(left, Some(V::Bool(false))) {
                    return Some(V::Bool(false));
                }
                match (left, r.eval(b, locals)) {
                    (_, Some(V::Bool(false))) => V::Bool(false),
                    (Some(V::Bool(true)), Some(V::Bool(true))) => V::Bool(true),
                    _ => return None,
                }
            }
            Node::Or(l, r) => {
                let left = l.eval(b, locals);
                if matches!(left, Some(V::Bool(true))) {
                    return Some(V::Bool(true));
                }
                match (left, r.eval(b, locals)) {
                    (_, Some(V::Bool(true))) => V::Bool(true),
                    (Some(V::Bool(false)), Some(V::Bool(false))) => V::Bool(false),
                    _ => return None,
                }
            }
            Node::Cond(c, yes, no) => match c.eval(b, locals)? {
                V::Bool(true) => yes.eval(b, locals)?,
                V::Bool(false) => no.eval(b, locals)?,
                _ => return None,
            },
            Node::Cmp(op, l, r) => {
                let (x, y) = (l.eval(b, locals)?, r.eval(b, locals)?);
                V::Bool(match op {
                    Cmp::Eq => equal(&x, &y)?,
                    Cmp::Ne => !equal(&x, &y)?,
                    Cmp::Lt => order(&x, &y)?.is_lt(),
                    Cmp::Le => order(&x, &y)?.is_le(),
                    Cmp::Gt => order(&x, &y)?.is_gt(),
                    Cmp::Ge => order(&x, &y)?.is_ge(),
                })
            }
            Node::In(x, list) => {
                let x = x.eval(b, locals)?;
                // Element by element: no list is built per record.
                let Node::List(items) = &**list else {
                    return None;
                };
                let mut found = false;
                for i in items {
                    found |= equal(&x, &i.eval(b, locals)?)?;
                }
                V::Bool(found)
            }
            Node::InText(x, set) => match x.eval(b, locals)? {
                V::Str(s) => V::Bool(set.contains(&*s)),
                // null is in no list of text (CEL equality of null and text is false).
                V::Null => V::Bool(false),
                _ => return None,
            },
            Node::Add(l, r) => match (l.eval(b, locals)?, r.eval(b, locals)?) {
                (V::Str(x), V::Str(y)) => {
                    let mut s = x.into_owned();
                    s.push_str(&y);
                    V::Str(Cow::Owned(s))
                }
                (V::Int(x), V::Int(y)) => V::Int(x.checked_add(y)?),
                (V::Double(x), V::Double(y)) => V::Double(x + y),
                _ => return None,
            },
            Node::StrTest(t, recv, arg) => match (recv.eval(b, locals)?, arg.eval(b, locals)?) {
                (V::Str(s), V::Str(p)) => V::Bool(match t {
                    StrTest::StartsWith => s.starts_with(&*p),
                    StrTest::EndsWith => s.ends_with(&*p),
                    StrTest::Contains => s.contains(&*p),
                }),
                _ => return None,
            },
            Node::Size(x) => match x.eval(b, locals)? {
                V::Str(s) => V::Int(i64::try_from(s.chars().count()).ok()?),
                V::List(items) => V::Int(i64::try_from(items.len()).ok()?),
                V::Json(Value::Array(a)) => V::Int(i64::try_from(a.len()).ok()?),
                _ => return None,
            },
            Node::Quantifier {
                range,
                slot,
                pred,
                all,
            } => {
                let V::Json(Value::Array(items)) = range.eval(b, locals)? else {
                    return None;
                };
                // CEL: `exists` is true as soon as one element is, whatever errors others
                // give; false only when every element gave false. `all` mirrors it.
                let mut unknown = false;
                for item in items {
                    locals.truncate(*slot);
                    locals.push(item);
                    match pred.eval(b, locals) {
                        Some(V::Bool(v)) if v != *all => {
                            locals.truncate(*slot);
                            return Some(V::Bool(v));
                        }
                        Some(V::Bool(_)) => {}
                        _ => unknown = true,
                    }
                }
                locals.truncate(*slot);
                if unknown {
                    return None;
                }
                V::Bool(*all)
            }
        })
    }
}

impl<'a> V<'a> {
    /// The value as a mapping result. `None` for a record or list read from the input: the
    /// interpreter gives it converted (declared fields only, typed), so it answers that.
    pub(super) fn into_evaluated(self) -> Option<Evaluated<'a>> {
        self.into_json().map(Evaluated::Owned)
    }

    fn into_json(self) -> Option<Value> {
        Some(match self {
            V::Null => Value::Null,
            V::Bool(b) => Value::Bool(b),
            V::Int(i) => Value::from(i),
            V::Double(d) => Value::Number(Number::from_f64(d)?),
            V::Str(s) => Value::String(s.into_owned()),
            V::Json(_) => return None,
            V::List(items) => {
                Value::Array(items.into_iter().map(V::into_json).collect::<Option<_>>()?)
            }
        })
    }
}
