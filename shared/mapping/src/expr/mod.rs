//! Expressions (conditions and computed values) in CEL. The `cel` crate parses and evaluates;
//! it does not type-check, so this module infers a type for every node of the parsed AST from
//! the declared field types and rejects what cannot work (`record.Name > 5`, a misspelt field,
//! an unknown function) when the spec is loaded, not on the 4,000th record.
//!
//! At run time only the fields an expression reads are converted into CEL values, and an
//! expression that is nothing but a field access (`entity.terms`, `record.Owner.Email`) skips
//! the interpreter and reads the JSON directly.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use cel::common::ast::{
    CallExpr, ComprehensionExpr, EntryExpr, Expr as Ast, IdedExpr, LiteralValue,
};
use cel::objects::{Key, Map as CelMap};
use cel::{Context, Env, Program, Value as Cel};
use serde_json::{Map, Number, Value};

use crate::path::Reads;
use crate::reads::Step;
use crate::schema::{Catalog, FieldType, ObjectDef};
use crate::suggest::did_you_mean;

mod direct;

/// The static type of an expression node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ty {
    /// Unknown until run time; compatible with everything.
    Dyn,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    List(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
    /// A declared object (the record, a related record, a line).
    Object(Arc<str>),
    /// A Salesforce child relationship.
    Children(Arc<str>),
    /// The routed entity.
    Entity,
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Dyn => f.write_str("dyn"),
            Ty::Null => f.write_str("null"),
            Ty::Bool => f.write_str("bool"),
            Ty::Int => f.write_str("int"),
            Ty::Uint => f.write_str("uint"),
            Ty::Double => f.write_str("double"),
            Ty::String => f.write_str("string"),
            Ty::Bytes => f.write_str("bytes"),
            Ty::List(t) => write!(f, "list({t})"),
            Ty::Map(k, v) => write!(f, "map({k}, {v})"),
            Ty::Object(o) => write!(f, "{o}"),
            Ty::Children(o) => write!(f, "children({o})"),
            Ty::Entity => f.write_str("entity"),
        }
    }
}

impl Ty {
    fn of_field(t: &FieldType) -> Ty {
        match t {
            FieldType::String { .. } | FieldType::Id | FieldType::Date | FieldType::DateTime => {
                Ty::String
            }
            FieldType::Bool => Ty::Bool,
            FieldType::Int => Ty::Int,
            // CEL has no decimal: conditions compare amounts as doubles, which is fine for
            // `>` / `==` on two-decimal values; computing money in CEL is refused (see
            // `compile`), amounts are formatted and converted by transforms on rust_decimal.
            FieldType::Decimal => Ty::Double,
            FieldType::Any => Ty::Dyn,
            FieldType::Ref(o) => Ty::Object(o.clone()),
            FieldType::List(o) => Ty::List(Box::new(Ty::Object(o.clone()))),
            FieldType::Children(o) => Ty::Children(o.clone()),
        }
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double | Ty::Dyn)
    }

    fn is(&self, want: &Ty) -> bool {
        matches!(self, Ty::Dyn) || self == want
    }
}

/// The most precise type both may have, if they are compatible.
fn unify(a: &Ty, b: &Ty) -> Option<Ty> {
    match (a, b) {
        _ if a == b => Some(a.clone()),
        (Ty::Dyn, t) | (t, Ty::Dyn) => Some(t.clone()),
        (Ty::Null, t) | (t, Ty::Null) => Some(t.clone()),
        (Ty::List(x), Ty::List(y)) => unify(x, y).map(|t| Ty::List(Box::new(t))),
        (Ty::Map(k1, v1), Ty::Map(k2, v2)) => {
            Some(Ty::Map(Box::new(unify(k1, k2)?), Box::new(unify(v1, v2)?)))
        }
        _ => None,
    }
}

/// The variables an expression may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Var {
    /// The source record.
    Record,
    /// The current line (inside `lines`).
    Line,
    /// The routed entity.
    Entity,
}

impl Var {
    fn name(self) -> &'static str {
        match self {
            Var::Record => "record",
            Var::Line => "line",
            Var::Entity => "entity",
        }
    }

    fn parse(name: &str) -> Option<Var> {
        match name {
            "record" => Some(Var::Record),
            "line" => Some(Var::Line),
            "entity" => Some(Var::Entity),
            _ => None,
        }
    }
}

/// The fields of `entity` in expressions.
pub(crate) const ENTITY_FIELDS: [&str; 9] = [
    "id",
    "name",
    "base_currency",
    "exchange_rate_type",
    "tax_solution",
    "tax_code",
    "ar_account",
    "terms",
    "dimensions",
];

/// The index of an entity field in [`ENTITY_FIELDS`].
fn entity_field(name: &str) -> Option<usize> {
    ENTITY_FIELDS.iter().position(|f| *f == name)
}

/// The routed entity as expressions read it, built once per entity: each of
/// [`ENTITY_FIELDS`] as JSON at its index for direct reads (`entity.terms` is an index into a
/// slice rather than a hashed lookup for every record), and the whole as CEL for the
/// interpreter.
#[derive(Debug)]
pub(crate) struct EntityView {
    pub cel: Cel,
    /// The entity's value for each of `ENTITY_FIELDS`, `None` where it has none.
    fields: Box<[Option<Value>]>,
}

impl EntityView {
    /// The view of the entity `json` (an object with the fields of `ENTITY_FIELDS`).
    pub(crate) fn new(json: &Value) -> EntityView {
        EntityView::with_cel(json, json_to_cel(json))
    }

    fn with_cel(json: &Value, cel: Cel) -> EntityView {
        let fields = ENTITY_FIELDS
            .iter()
            .map(|f| json.get(*f).cloned())
            .collect();
        EntityView { cel, fields }
    }

    /// The value of `ENTITY_FIELDS[i]`, as the entity's JSON object has it.
    fn field(&self, i: usize) -> Option<&Value> {
        self.fields.get(i)?.as_ref()
    }
}

/// What is in scope where an expression is written.
#[derive(Debug, Clone)]
pub(crate) struct Scope<'c> {
    pub catalog: &'c Catalog,
    pub record: Arc<ObjectDef>,
    pub line: Option<Arc<ObjectDef>>,
    pub entity: bool,
}

impl Scope<'_> {
    fn var_ty(&self, v: Var) -> Option<Ty> {
        match v {
            Var::Record => Some(Ty::Object(self.record.name.clone())),
            Var::Line => self.line.as_ref().map(|l| Ty::Object(l.name.clone())),
            Var::Entity => self.entity.then_some(Ty::Entity),
        }
    }

    fn in_scope(&self) -> String {
        let mut v = vec!["record"];
        if self.line.is_some() {
            v.push("line");
        }
        if self.entity {
            v.push("entity");
        }
        v.join(", ")
    }
}

/// How a JSON field is turned into a CEL value, decided from its declared type.
#[derive(Debug, Clone)]
enum Conv {
    Text,
    Int,
    Double,
    Bool,
    Any,
    Object(Arc<[(Box<str>, Conv)]>),
    List(Box<Conv>),
    Children(Box<Conv>),
}

/// Nested objects deeper than this are converted untyped (declarations may be cyclic).
const CONV_DEPTH: usize = 4;

fn conv_for(catalog: &Catalog, ty: &FieldType, depth: usize) -> Conv {
    let object = |o: &str| -> Conv {
        match catalog.get(o) {
            Some(def) if depth < CONV_DEPTH => Conv::Object(
                def.fields
                    .iter()
                    .map(|(n, t)| (Box::from(n.as_str()), conv_for(catalog, t, depth + 1)))
                    .collect(),
            ),
            _ => Conv::Any,
        }
    };
    match ty {
        FieldType::String { .. } | FieldType::Id | FieldType::Date | FieldType::DateTime => {
            Conv::Text
        }
        FieldType::Int => Conv::Int,
        FieldType::Decimal => Conv::Double,
        FieldType::Bool => Conv::Bool,
        FieldType::Any => Conv::Any,
        FieldType::Ref(o) => object(o),
        FieldType::List(o) => Conv::List(Box::new(object(o))),
        FieldType::Children(o) => Conv::Children(Box::new(object(o))),
    }
}

fn key(s: &str) -> Key {
    Key::String(Arc::new(s.to_owned()))
}

fn cel_map(m: HashMap<Key, Cel>) -> Cel {
    Cel::Map(CelMap { map: Arc::new(m) })
}

/// Converts JSON to CEL by declared type. Intacct returns every value as text, so numbers and
/// booleans are parsed; an empty text is null.
fn to_cel(v: &Value, conv: &Conv) -> Cel {
    match (conv, v) {
        (_, Value::Null) => Cel::Null,
        (Conv::Text, Value::String(s)) => Cel::String(Arc::new(s.clone())),
        (Conv::Text, other) => Cel::String(Arc::new(other.to_string())),
        (Conv::Int, Value::Number(n)) => n.as_i64().map_or(Cel::Null, Cel::Int),
        (Conv::Int, Value::String(s)) => s.trim().parse().map_or(Cel::Null, Cel::Int),
        (Conv::Double, Value::Number(n)) => n.as_f64().map_or(Cel::Null, Cel::Float),
        (Conv::Double, Value::String(s)) => s.trim().parse().map_or(Cel::Null, Cel::Float),
        (Conv::Bool, Value::Bool(b)) => Cel::Bool(*b),
        (Conv::Bool, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Cel::Bool(true),
            "false" => Cel::Bool(false),
            _ => Cel::Null,
        },
        (Conv::Object(fields), Value::Object(m)) => cel_map(
            fields
                .iter()
                .map(|(n, c)| (key(n), m.get(&**n).map_or(Cel::Null, |v| to_cel(v, c))))
                .collect(),
        ),
        (Conv::List(c), Value::Array(items)) => {
            Cel::List(Arc::new(items.iter().map(|i| to_cel(i, c)).collect()))
        }
        (Conv::Children(c), Value::Object(m)) => {
            let records = m
                .get("records")
                .and_then(Value::as_array)
                .map(|items| items.iter().map(|i| to_cel(i, c)).collect())
                .unwrap_or_default();
            let total = m.get("totalSize").and_then(Value::as_i64).unwrap_or(0);
            let mut out = HashMap::new();
            out.insert(key("records"), Cel::List(Arc::new(records)));
            out.insert(key("totalSize"), Cel::Int(total));
            out.insert(
                key("done"),
                Cel::Bool(m.get("done").and_then(Value::as_bool).unwrap_or(true)),
            );
            cel_map(out)
        }
        (_, other) => json_to_cel(other),
    }
}

fn json_to_cel(v: &Value) -> Cel {
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cel::Int(i),
            None => n.as_f64().map_or(Cel::Null, Cel::Float),
        },
        Value::String(s) => Cel::String(Arc::new(s.clone())),
        Value::Array(a) => Cel::List(Arc::new(a.iter().map(json_to_cel).collect())),
        Value::Object(m) => cel_map(m.iter().map(|(k, v)| (key(k), json_to_cel(v))).collect()),
    }
}

/// A CEL result as JSON.
pub(crate) fn cel_to_json(v: &Cel) -> Value {
    match v {
        Cel::Null => Value::Null,
        Cel::Bool(b) => Value::Bool(*b),
        Cel::Int(i) => Value::from(*i),
        Cel::UInt(u) => Value::from(*u),
        Cel::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Cel::String(s) => Value::String(s.to_string()),
        Cel::List(items) => Value::Array(items.iter().map(cel_to_json).collect()),
        Cel::Map(m) => Value::Object(
            m.map
                .iter()
                .map(|(k, v)| {
                    let k = match k {
                        Key::String(s) => s.to_string(),
                        other => other.to_string(),
                    };
                    (k, cel_to_json(v))
                })
                .collect::<Map<_, _>>(),
        ),
        other => Value::String(format!("{other:?}")),
    }
}

/// The part of a root variable an expression reads.
#[derive(Debug, Clone)]
enum Need {
    /// Only these top-level fields.
    Fields(Vec<(Box<str>, Conv)>),
    /// The whole value (passed to a function, iterated...).
    Whole(Conv),
}

/// A compiled expression.
#[derive(Debug, Clone)]
pub(crate) struct Expr {
    pub source: Arc<str>,
    pub ty: Ty,
    kind: ExprKind,
}

#[derive(Debug, Clone)]
enum ExprKind {
    /// `var.a.b`: read directly.
    Path {
        root: PathRoot,
        path: Arc<[Box<str>]>,
    },
    Cel {
        program: Arc<Program>,
        env: CelEnv,
        needs: Arc<[(Var, Need)]>,
        /// The same expression evaluated on the JSON directly, when it can be.
        direct: Option<Arc<direct::Node>>,
    },
}

/// What a plain read (`var.a.b`) starts from.
#[derive(Debug, Clone, Copy)]
enum PathRoot {
    /// The record; `a` is `Bindings::slots[slot]` when it has a slot.
    Record {
        slot: Option<usize>,
    },
    Line,
    /// The entity, `a` being `ENTITY_FIELDS[i]`.
    Entity(usize),
}

/// The CEL environment (standard library), shared by every expression of a spec set.
#[derive(Clone)]
pub(crate) struct CelEnv(pub Arc<Env>);

impl fmt::Debug for CelEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CelEnv(stdlib)")
    }
}

impl CelEnv {
    pub(crate) fn stdlib() -> CelEnv {
        CelEnv(Arc::new(Env::stdlib()))
    }
}

/// The values in scope when evaluating.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bindings<'a> {
    pub record: &'a Value,
    pub line: Option<&'a Value>,
    /// The routed entity.
    pub entity: Option<&'a EntityView>,
    /// The record's values for the plain paths its mapping reads (`Reads`), when read: a
    /// path an expression reads through a slot is then not looked up again.
    pub slots: &'a [Option<&'a Value>],
}

/// The result of an evaluation: borrowed from the input when the expression was a plain read.
#[derive(Debug)]
pub(crate) enum Evaluated<'a> {
    Borrowed(&'a Value),
    Missing,
    Owned(Value),
}

impl Expr {
    /// Parses with the `cel` crate and type-checks against `scope`.
    pub(crate) fn compile(text: &str, env: &CelEnv, scope: &Scope<'_>) -> Result<Expr, String> {
        let program = env.0.compile(text).map_err(|errs| {
            let parts: Vec<String> = errs
                .errors
                .iter()
                .map(|e| format!("syntax error at column {}: {}", e.pos.1, e.msg))
                .collect();
            format!("expression `{text}`: {}", parts.join("; "))
        })?;
        let checker = Checker {
            scope,
            text,
            program: &program,
        };
        let ty = checker
            .check(program.expression(), &mut Vec::new())
            .map_err(|e| {
                // Messages quote the part of the expression at fault; quote the whole only
                // when that part is smaller.
                if e.starts_with(&format!("`{text}`")) {
                    e
                } else {
                    format!("expression `{text}`: {e}")
                }
            })?;
        let source: Arc<str> = Arc::from(text);
        if let Some((var, path)) = plain_path(program.expression()) {
            let root = match var {
                Var::Record => Some(PathRoot::Record { slot: None }),
                Var::Line => Some(PathRoot::Line),
                // The checker let only entity fields through.
                Var::Entity => path
                    .first()
                    .and_then(|f| entity_field(f))
                    .map(PathRoot::Entity),
            };
            if let Some(root) = root {
                return Ok(Expr {
                    source,
                    ty,
                    kind: ExprKind::Path {
                        root,
                        path: path.into_iter().map(Box::from).collect(),
                    },
                });
            }
        }
        let mut needs: BTreeMap<Var, Option<Vec<String>>> = BTreeMap::new();
        collect_needs(program.expression(), &mut needs);
        let needs = needs
            .into_iter()
            .filter(|(v, _)| *v != Var::Entity)
            .filter_map(|(var, fields)| {
                let object = match var {
                    Var::Record => scope.record.clone(),
                    Var::Line => scope.line.clone()?,
                    Var::Entity => return None,
                };
                let need = match fields {
                    None => Need::Whole(conv_for(
                        scope.catalog,
                        &FieldType::Ref(object.name.clone()),
                        0,
                    )),
                    Some(fields) => Need::Fields(
                        fields
                            .iter()
                            .filter_map(|f| {
                                let t = object.fields.get(f)?;
                                Some((Box::from(f.as_str()), conv_for(scope.catalog, t, 1)))
                            })
                            .collect(),
                    ),
                };
                Some((var, need))
            })
            .collect::<Vec<_>>();
        let direct = direct::Tx::new(scope)
            .translate(program.expression())
            .map(Arc::new);
        let mut all_needs = needs;
        // The entity is bound whole (it is prebuilt once per entity, binding it is a clone).
        if scope.entity && mentions(program.expression(), "entity") {
            all_needs.push((Var::Entity, Need::Whole(Conv::Any)));
        }
        Ok(Expr {
            source,
            ty,
            kind: ExprKind::Cel {
                program: Arc::new(program),
                env: env.clone(),
                needs: all_needs.into(),
                direct,
            },
        })
    }

    /// Reads the first field of every record path through a slot of `reads` (the record's
    /// plain paths, read once per record).
    pub(crate) fn intern_reads(&mut self, reads: &mut Reads) {
        match &mut self.kind {
            ExprKind::Path {
                root: PathRoot::Record { slot },
                path,
            } => *slot = path.get(..1).and_then(|first| reads.slot(first)),
            ExprKind::Path { .. } => {}
            ExprKind::Cel { direct, .. } => {
                if let Some(d) = direct {
                    Arc::make_mut(d).intern_reads(reads);
                }
            }
        }
    }

    /// The paths of `record` and `line` this expression reads, each ending in
    /// [`Step::All`] (what is at the path is read, whole if it is a record or a list). Fields
    /// read through an `exists` / `all` / `map` variable are paths below the list's `Each`.
    pub(crate) fn reads(&self) -> Vec<(Var, Vec<Step>)> {
        let mut out = Vec::new();
        match &self.kind {
            ExprKind::Path { root, path } => {
                let var = match root {
                    PathRoot::Record { .. } => Var::Record,
                    PathRoot::Line => Var::Line,
                    PathRoot::Entity(_) => return out,
                };
                let mut steps: Vec<Step> = path.iter().map(|s| Step::Name(s.clone())).collect();
                steps.push(Step::All);
                out.push((var, steps));
            }
            ExprKind::Cel { program, .. } => {
                collect_reads(program.expression(), &mut Vec::new(), &mut out)
            }
        }
        out
    }

    /// Evaluates to a value.
    pub(crate) fn eval<'a>(&'a self, b: &Bindings<'a>) -> Result<Evaluated<'a>, String> {
        match &self.kind {
            ExprKind::Path { root, path } => {
                let mut segs = path.iter();
                let root = match root {
                    // The first name as read once for the record: what `get` would give.
                    PathRoot::Record { slot } => match slot.and_then(|s| b.slots.get(s)) {
                        Some(first) => {
                            segs.next();
                            *first
                        }
                        None => Some(b.record),
                    },
                    PathRoot::Line => b.line,
                    // The first name is read by its index (same value as the JSON has).
                    PathRoot::Entity(i) => b.entity.and_then(|e| {
                        segs.next();
                        e.field(*i)
                    }),
                };
                let mut v = match root {
                    Some(v) => v,
                    None => return Ok(Evaluated::Missing),
                };
                for seg in segs {
                    match v.get(&**seg) {
                        Some(next) => v = next,
                        None => return Ok(Evaluated::Missing),
                    }
                }
                Ok(Evaluated::Borrowed(v))
            }
            ExprKind::Cel { direct, .. } => {
                if let Some(v) = direct
                    .as_ref()
                    .and_then(|d| d.eval(b, &mut Vec::new()))
                    .and_then(direct::V::into_evaluated)
                {
                    return Ok(v);
                }
                self.run(b).map(|v| Evaluated::Owned(cel_to_json(&v)))
            }
        }
    }

    /// Evaluates a condition. Null (a missing field) counts as false.
    pub(crate) fn test(&self, b: &Bindings<'_>) -> Result<bool, String> {
        match &self.kind {
            ExprKind::Path { .. } => match self.eval(b)? {
                Evaluated::Borrowed(Value::Bool(x)) => Ok(*x),
                Evaluated::Owned(Value::Bool(x)) => Ok(x),
                Evaluated::Borrowed(Value::String(s)) => Ok(s.eq_ignore_ascii_case("true")),
                _ => Ok(false),
            },
            ExprKind::Cel { direct, .. } => {
                match direct.as_ref().and_then(|d| d.eval(b, &mut Vec::new())) {
                    Some(direct::V::Bool(x)) => Ok(x),
                    Some(direct::V::Null) => Ok(false),
                    _ => self.test_interpreted(b),
                }
            }
        }
    }

    fn test_interpreted(&self, b: &Bindings<'_>) -> Result<bool, String> {
        match self.run(b)? {
            Cel::Bool(x) => Ok(x),
            Cel::Null => Ok(false),
            other => Err(format!(
                "condition `{}` gave {other:?}, not true or false",
                self.source
            )),
        }
    }

    fn run(&self, b: &Bindings<'_>) -> Result<Cel, String> {
        let ExprKind::Cel {
            program,
            env,
            needs,
            ..
        } = &self.kind
        else {
            return Err("internal: not a CEL expression".into());
        };
        let mut ctx = Context::with_env(env.0.clone());
        for (var, need) in needs.iter() {
            let value = match var {
                Var::Entity => match b.entity {
                    Some(e) => e.cel.clone(),
                    None => Cel::Null,
                },
                Var::Record | Var::Line => {
                    let root = if *var == Var::Record {
                        Some(b.record)
                    } else {
                        b.line
                    };
                    match (root, need) {
                        (None, _) => Cel::Null,
                        (Some(r), Need::Whole(conv)) => to_cel(r, conv),
                        (Some(r), Need::Fields(fields)) => cel_map(
                            fields
                                .iter()
                                .map(|(n, c)| {
                                    (key(n), r.get(&**n).map_or(Cel::Null, |v| to_cel(v, c)))
                                })
                                .collect(),
                        ),
                    }
                }
            };
            ctx.add_variable_from_value(var.name(), value);
        }
        program
            .execute(&ctx)
            .map_err(|e| format!("expression `{}` failed: {e}", self.source))
    }
}

/// `a.b.c` → ("a", ["b", "c"]): an identifier and the fields selected from it, if that is
/// all the expression is.
fn select_chain(e: &IdedExpr) -> Option<(&str, Vec<&str>)> {
    let mut segs = Vec::new();
    let mut cur = e;
    loop {
        match &cur.expr {
            Ast::Select(s) if !s.test => {
                segs.push(s.field.as_str());
                cur = &s.operand;
            }
            Ast::Ident(name) => {
                segs.reverse();
                return Some((name.as_str(), segs));
            }
            _ => return None,
        }
    }
}

/// `record.a.b` → (Record, [a, b]).
fn plain_path(e: &IdedExpr) -> Option<(Var, Vec<String>)> {
    let (root, segs) = select_chain(e)?;
    let var = Var::parse(root)?;
    if segs.is_empty() {
        return None;
    }
    Some((var, segs.into_iter().map(str::to_owned).collect()))
}

fn mentions(e: &IdedExpr, name: &str) -> bool {
    let mut found = false;
    walk(e, &mut |x| {
        if matches!(&x.expr, Ast::Ident(n) if n == name) {
            found = true;
        }
    });
    found
}

fn walk(e: &IdedExpr, f: &mut dyn FnMut(&IdedExpr)) {
    f(e);
    match &e.expr {
        Ast::Call(c) => {
            if let Some(t) = &c.target {
                walk(t, f);
            }
            for a in &c.args {
                walk(a, f);
            }
        }
        Ast::Comprehension(c) => {
            for x in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                walk(x, f);
            }
        }
        Ast::List(l) => {
            for x in &l.elements {
                walk(x, f);
            }
        }
        Ast::Map(m) => {
            for en in &m.entries {
                if let EntryExpr::MapEntry(me) = &en.expr {
                    walk(&me.key, f);
                    walk(&me.value, f);
                }
            }
        }
        Ast::Select(s) => walk(&s.operand, f),
        Ast::Struct(s) => {
            for en in &s.entries {
                if let EntryExpr::StructField(sf) = &en.expr {
                    walk(&sf.value, f);
                }
            }
        }
        Ast::Ident(_) | Ast::Literal(_) | Ast::Unspecified => {}
    }
}

/// A comprehension variable in scope: its name and the path of what it holds (`None`: not a
/// part of `record` or `line`, e.g. the accumulator).
type Bound = (String, Option<(Var, Vec<Step>)>);

/// `e` as a path of `record` / `line` (or of a bound variable holding one), if it is one.
fn path_of(e: &IdedExpr, locals: &[Bound]) -> Option<(Var, Vec<Step>)> {
    match &e.expr {
        Ast::Ident(name) => match locals.iter().rev().find(|(n, _)| n == name) {
            Some((_, bound)) => bound.clone(),
            None => match Var::parse(name)? {
                Var::Entity => None,
                v => Some((v, Vec::new())),
            },
        },
        Ast::Select(s) => {
            let (var, mut steps) = path_of(&s.operand, locals)?;
            steps.push(Step::Name(Box::from(s.field.as_str())));
            Some((var, steps))
        }
        _ => None,
    }
}

/// Every path of `record` / `line` that `e` reads (see [`Expr::reads`]).
fn collect_reads(e: &IdedExpr, locals: &mut Vec<Bound>, out: &mut Vec<(Var, Vec<Step>)>) {
    if let Some((var, mut steps)) = path_of(e, locals) {
        steps.push(Step::All);
        out.push((var, steps));
        return;
    }
    match &e.expr {
        Ast::Select(s) => collect_reads(&s.operand, locals, out),
        Ast::Call(c) => {
            if let Some(t) = &c.target {
                collect_reads(t, locals, out);
            }
            for a in &c.args {
                collect_reads(a, locals, out);
            }
        }
        Ast::Comprehension(c) => {
            // The variable holds each element of the range: its fields are read below the
            // range's `Each`, not the range whole.
            let each = path_of(&c.iter_range, locals).map(|(var, mut steps)| {
                steps.push(Step::Each);
                (var, steps)
            });
            if each.is_none() {
                collect_reads(&c.iter_range, locals, out);
            }
            collect_reads(&c.accu_init, locals, out);
            let depth = locals.len();
            locals.push((c.accu_var.clone(), None));
            locals.push((c.iter_var.clone(), each));
            if let Some(v2) = &c.iter_var2 {
                locals.push((v2.clone(), None));
            }
            for x in [&c.loop_cond, &c.loop_step, &c.result] {
                collect_reads(x, locals, out);
            }
            locals.truncate(depth);
        }
        Ast::List(l) => {
            for x in &l.elements {
                collect_reads(x, locals, out);
            }
        }
        Ast::Map(m) => {
            for en in &m.entries {
                if let EntryExpr::MapEntry(me) = &en.expr {
                    collect_reads(&me.key, locals, out);
                    collect_reads(&me.value, locals, out);
                }
            }
        }
        Ast::Struct(st) => {
            for en in &st.entries {
                if let EntryExpr::StructField(sf) = &en.expr {
                    collect_reads(&sf.value, locals, out);
                }
            }
        }
        Ast::Ident(_) | Ast::Literal(_) | Ast::Unspecified => {}
    }
}

/// Which top-level fields of `record` / `line` an expression reads (`None` = all of it).
fn collect_needs(e: &IdedExpr, needs: &mut BTreeMap<Var, Option<Vec<String>>>) {
    match &e.expr {
        Ast::Select(s) => {
            if let Ast::Ident(name) = &s.operand.expr
                && let Some(var) = Var::parse(name)
            {
                let entry = needs.entry(var).or_insert_with(|| Some(Vec::new()));
                if let Some(fields) = entry
                    && !fields.contains(&s.field)
                {
                    fields.push(s.field.clone());
                }
                return;
            }
            collect_needs(&s.operand, needs);
        }
        Ast::Ident(name) => {
            if let Some(var) = Var::parse(name) {
                needs.insert(var, None);
            }
        }
        _ => {
            let mut children = Vec::new();
            match &e.expr {
                Ast::Call(c) => {
                    children.extend(c.target.as_deref());
                    children.extend(c.args.iter());
                }
                Ast::Comprehension(c) => children.extend([
                    &c.iter_range,
                    &c.accu_init,
                    &c.loop_cond,
                    &c.loop_step,
                    &c.result,
                ]),
                Ast::List(l) => children.extend(l.elements.iter()),
                Ast::Map(m) => {
                    for en in &m.entries {
                        if let EntryExpr::MapEntry(me) = &en.expr {
                            children.push(&me.key);
                            children.push(&me.value);
                        }
                    }
                }
                _ => {}
            }
            for c in children {
                collect_needs(c, needs);
            }
        }
    }
}

/// The type checker over the `cel` AST.
struct Checker<'s, 'c> {
    scope: &'s Scope<'c>,
    text: &'s str,
    program: &'s Program,
}

const FUNCTIONS: [&str; 11] = [
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "int",
    "double",
    "string",
    "exists",
    "all",
    "exists_one",
];

impl Checker<'_, '_> {
    /// The source text of a node, for messages.
    fn snippet(&self, e: &IdedExpr) -> String {
        match self.program.source_info().offset_for(e.id) {
            Some((start, stop)) if stop > start => self
                .text
                .chars()
                .skip(start as usize)
                .take((stop - start) as usize)
                .collect(),
            _ => self.text.to_owned(),
        }
    }

    fn check(&self, e: &IdedExpr, locals: &mut Vec<(String, Ty)>) -> Result<Ty, String> {
        match &e.expr {
            Ast::Literal(l) => Ok(match l {
                LiteralValue::Boolean(_) => Ty::Bool,
                LiteralValue::Bytes(_) => Ty::Bytes,
                LiteralValue::Double(_) => Ty::Double,
                LiteralValue::Int(_) => Ty::Int,
                LiteralValue::Null => Ty::Null,
                LiteralValue::String(_) => Ty::String,
                LiteralValue::UInt(_) => Ty::Uint,
            }),
            Ast::Ident(name) => {
                if let Some((_, t)) = locals.iter().rev().find(|(n, _)| n == name) {
                    return Ok(t.clone());
                }
                if let Some(t) = Var::parse(name).and_then(|v| self.scope.var_ty(v)) {
                    return Ok(t);
                }
                let mut m = format!(
                    "unknown variable `{name}` (in scope: {})",
                    self.scope.in_scope()
                );
                if let Some(s) = did_you_mean(name, ["record", "line", "entity"]) {
                    m.push_str(&format!("; did you mean `{s}`?"));
                }
                Err(m)
            }
            Ast::Select(s) => {
                let operand = self.check(&s.operand, locals)?;
                if s.test {
                    if matches!(operand, Ty::Object(_)) {
                        return Err(format!(
                            "`{}`: declared fields are always present (null when empty); write `{}.{} != null`",
                            self.snippet(e),
                            self.snippet(&s.operand),
                            s.field
                        ));
                    }
                    return Ok(Ty::Bool);
                }
                self.select(&operand, &s.field, e)
            }
            Ast::Call(c) => self.call(c, e, locals),
            Ast::Comprehension(c) => self.comprehension(c, locals),
            Ast::List(l) => {
                let mut elem = Ty::Dyn;
                for x in &l.elements {
                    let t = self.check(x, locals)?;
                    elem = unify(&elem, &t).ok_or_else(|| {
                        format!("`{}` mixes {elem} and {t} in one list", self.snippet(e))
                    })?;
                }
                Ok(Ty::List(Box::new(elem)))
            }
            Ast::Map(m) => {
                let (mut k, mut v) = (Ty::Dyn, Ty::Dyn);
                for en in &m.entries {
                    if let EntryExpr::MapEntry(me) = &en.expr {
                        let kt = self.check(&me.key, locals)?;
                        let vt = self.check(&me.value, locals)?;
                        k = unify(&k, &kt).unwrap_or(Ty::Dyn);
                        v = unify(&v, &vt).unwrap_or(Ty::Dyn);
                    }
                }
                Ok(Ty::Map(Box::new(k), Box::new(v)))
            }
            Ast::Struct(_) => Err(format!(
                "`{}`: message construction is not available here",
                self.snippet(e)
            )),
            Ast::Unspecified => Err("incomplete expression".into()),
        }
    }

    fn select(&self, operand: &Ty, field: &str, e: &IdedExpr) -> Result<Ty, String> {
        match operand {
            Ty::Dyn => Ok(Ty::Dyn),
            Ty::Object(o) => {
                let def = self
                    .scope
                    .catalog
                    .get(o)
                    .ok_or_else(|| self.scope.catalog.unknown_object(o))?;
                self.scope
                    .catalog
                    .field(def, field)
                    .map(|t| Ty::of_field(&t))
                    .map_err(|m| format!("`{}`: {m}", self.snippet(e)))
            }
            Ty::Children(o) => match field {
                "records" => Ok(Ty::List(Box::new(Ty::Object(o.clone())))),
                "totalSize" => Ok(Ty::Int),
                "done" => Ok(Ty::Bool),
                _ => Err(format!(
                    "`{}`: a child relationship has `records`, `totalSize` and `done`",
                    self.snippet(e)
                )),
            },
            Ty::Entity => match field {
                "dimensions" => Ok(Ty::Map(Box::new(Ty::String), Box::new(Ty::String))),
                f if ENTITY_FIELDS.contains(&f) => Ok(Ty::String),
                f => {
                    let mut m = format!("`{}`: an entity has no `{f}`", self.snippet(e));
                    match did_you_mean(f, ENTITY_FIELDS) {
                        Some(s) => m.push_str(&format!("; did you mean `{s}`?")),
                        None => m.push_str(&format!("; it has {}", ENTITY_FIELDS.join(", "))),
                    }
                    Err(m)
                }
            },
            Ty::Map(_, v) => Ok((**v).clone()),
            other => Err(format!(
                "`{}`: {other} has no fields (`.{field}`)",
                self.snippet(e)
            )),
        }
    }

    fn call(
        &self,
        c: &CallExpr,
        e: &IdedExpr,
        locals: &mut Vec<(String, Ty)>,
    ) -> Result<Ty, String> {
        let target = match &c.target {
            Some(t) => Some(self.check(t, locals)?),
            None => None,
        };
        let mut args = Vec::with_capacity(c.args.len());
        for a in &c.args {
            args.push(self.check(a, locals)?);
        }
        let here = || self.snippet(e);
        let want = |t: &Ty, w: &Ty, what: &str| -> Result<(), String> {
            if t.is(w) || *t == Ty::Null {
                Ok(())
            } else {
                Err(format!("`{}`: {what} must be {w}, not {t}", here()))
            }
        };
        let name = c.func_name.as_str();
        match (name, target.as_ref(), args.as_slice()) {
            ("_&&_" | "_||_", None, [a, b]) => {
                want(a, &Ty::Bool, "each side of && / ||")?;
                want(b, &Ty::Bool, "each side of && / ||")?;
                Ok(Ty::Bool)
            }
            ("!_" | "@not_strictly_false", None, [a]) => {
                want(a, &Ty::Bool, "the operand of !")?;
                Ok(Ty::Bool)
            }
            ("-_", None, [a]) if a.is_numeric() => Ok(a.clone()),
            ("_==_" | "_!=_", None, [a, b]) => {
                if unify(a, b).is_some() || (a.is_numeric() && b.is_numeric()) {
                    Ok(Ty::Bool)
                } else {
                    Err(format!("`{}`: cannot compare {a} with {b}", here()))
                }
            }
            ("_<_" | "_<=_" | "_>_" | "_>=_", None, [a, b]) => {
                let ok = (a.is_numeric() && b.is_numeric())
                    || (a.is(&Ty::String) && b.is(&Ty::String))
                    || (a.is(&Ty::Bool) && b.is(&Ty::Bool));
                if ok {
                    Ok(Ty::Bool)
                } else {
                    Err(format!("`{}`: cannot order {a} and {b}", here()))
                }
            }
            ("_+_", None, [a, b]) => match (a, b) {
                (Ty::List(_), Ty::List(_)) => {
                    unify(a, b).ok_or_else(|| format!("`{}`: cannot join {a} and {b}", here()))
                }
                _ if a == b && matches!(a, Ty::Int | Ty::Uint | Ty::Double | Ty::String) => {
                    Ok(a.clone())
                }
                (Ty::Dyn, t) | (t, Ty::Dyn) => Ok(t.clone()),
                _ => Err(format!(
                    "`{}`: cannot add {a} and {b} (convert one side, e.g. with string() or double())",
                    here()
                )),
            },
            ("_-_" | "_*_" | "_/_" | "_%_", None, [a, b]) => match (a, b) {
                _ if a == b && matches!(a, Ty::Int | Ty::Uint | Ty::Double) => Ok(a.clone()),
                (Ty::Dyn, t) | (t, Ty::Dyn) if t.is_numeric() => Ok(t.clone()),
                _ => Err(format!(
                    "`{}`: arithmetic needs two numbers of the same type, not {a} and {b}",
                    here()
                )),
            },
            ("_?_:_", None, [c0, a, b]) => {
                want(c0, &Ty::Bool, "the condition of ?:")?;
                unify(a, b).ok_or_else(|| format!("`{}`: the branches give {a} and {b}", here()))
            }
            ("_[_]", None, [a, i]) => match a {
                Ty::List(t) => {
                    want(i, &Ty::Int, "a list index")?;
                    Ok((**t).clone())
                }
                Ty::Map(_, v) => Ok((**v).clone()),
                Ty::Dyn => Ok(Ty::Dyn),
                Ty::Object(_) | Ty::Entity => Ok(Ty::Dyn),
                other => Err(format!("`{}`: {other} cannot be indexed", here())),
            },
            ("@in", None, [x, coll]) => match coll {
                Ty::List(t) => {
                    if unify(x, t).is_some() {
                        Ok(Ty::Bool)
                    } else {
                        Err(format!("`{}`: a {x} is never in a list of {t}", here()))
                    }
                }
                Ty::Map(..) | Ty::Dyn => Ok(Ty::Bool),
                other => Err(format!(
                    "`{}`: `in` needs a list or map, not {other}",
                    here()
                )),
            },
            ("size", None, [a]) | ("size", Some(a), []) => match a {
                Ty::String | Ty::Bytes | Ty::List(_) | Ty::Map(..) | Ty::Dyn => Ok(Ty::Int),
                other => Err(format!("`{}`: size() of {other}", here())),
            },
            ("contains" | "startsWith" | "endsWith" | "matches", Some(t), [a]) => {
                want(t, &Ty::String, &format!("the receiver of {name}()"))?;
                want(a, &Ty::String, &format!("the argument of {name}()"))?;
                if name == "matches"
                    && let Some(pattern) = c.args.first().and_then(|x| match &x.expr {
                        Ast::Literal(LiteralValue::String(s)) => Some(s.to_string()),
                        _ => None,
                    })
                    && let Err(err) = regex::Regex::new(&pattern)
                {
                    return Err(format!("`{}`: bad regular expression: {err}", here()));
                }
                Ok(Ty::Bool)
            }
            ("int", None, [Ty::Int | Ty::Uint | Ty::Double | Ty::String | Ty::Dyn]) => Ok(Ty::Int),
            ("double", None, [Ty::Int | Ty::Uint | Ty::Double | Ty::String | Ty::Dyn]) => {
                Ok(Ty::Double)
            }
            ("string", None, [a]) if a.is_scalar() => Ok(Ty::String),
            _ => {
                let known = FUNCTIONS.contains(&name)
                    || name.starts_with('_')
                    || name.starts_with('@')
                    || name.ends_with('_');
                if known {
                    let mut types: Vec<String> = target.iter().map(ToString::to_string).collect();
                    types.extend(args.iter().map(ToString::to_string));
                    Err(format!(
                        "`{}`: {} does not apply to ({})",
                        here(),
                        name.trim_matches('_'),
                        types.join(", ")
                    ))
                } else {
                    let mut m = format!("`{}`: unknown function `{name}`", here());
                    match did_you_mean(name, FUNCTIONS) {
                        Some(s) => m.push_str(&format!("; did you mean `{s}`?")),
                        None => m.push_str(&format!("; available: {}", FUNCTIONS.join(", "))),
                    }
                    Err(m)
                }
            }
        }
    }

    fn comprehension(
        &self,
        c: &ComprehensionExpr,
        locals: &mut Vec<(String, Ty)>,
    ) -> Result<Ty, String> {
        let range = self.check(&c.iter_range, locals)?;
        let (elem, elem2) = match &range {
            Ty::List(t) => (Ty::Int, (**t).clone()),
            Ty::Map(k, v) => ((**k).clone(), (**v).clone()),
            Ty::Dyn => (Ty::Dyn, Ty::Dyn),
            other => {
                return Err(format!(
                    "`{}` is {other}; only lists and maps can be iterated",
                    self.snippet(&c.iter_range)
                ));
            }
        };
        let depth = locals.len();
        // One variable: the element (list) or key (map). Two: index/key and value.
        match &c.iter_var2 {
            None => {
                let t = if matches!(range, Ty::List(_)) {
                    elem2
                } else {
                    elem
                };
                locals.push((c.iter_var.clone(), t));
            }
            Some(v2) => {
                locals.push((c.iter_var.clone(), elem));
                locals.push((v2.clone(), elem2));
            }
        }
        let mut accu = self.check(&c.accu_init, locals)?;
        locals.push((c.accu_var.clone(), accu.clone()));
        let step = self.check(&c.loop_step, locals)?;
        if let Some(t) = unify(&accu, &step) {
            accu = t;
        }
        if let Some(last) = locals.last_mut() {
            last.1 = accu;
        }
        self.check(&c.loop_cond, locals)?;
        let result = self.check(&c.result, locals);
        locals.truncate(depth);
        result
    }
}

impl Ty {
    fn is_scalar(&self) -> bool {
        matches!(
            self,
            Ty::Dyn | Ty::Null | Ty::Bool | Ty::Int | Ty::Uint | Ty::Double | Ty::String
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::SystemName;
    use serde_json::json;

    fn catalog() -> Catalog {
        let mut c = Catalog::default();
        c.insert(Arc::new(ObjectDef {
            name: "OpportunityLineItem".into(),
            system: SystemName::Salesforce,
            fields: [
                ("ProductCode".to_owned(), FieldType::String { max: None }),
                ("TotalPrice".to_owned(), FieldType::Decimal),
                ("Account".to_owned(), FieldType::Ref("Account".into())),
            ]
            .into(),
        }));
        c.insert(Arc::new(ObjectDef {
            name: "Account".into(),
            system: SystemName::Salesforce,
            fields: [
                ("Name".to_owned(), FieldType::String { max: None }),
                ("BillingCountry".to_owned(), FieldType::String { max: None }),
                ("AnnualRevenue".to_owned(), FieldType::Decimal),
                ("NumberOfEmployees".to_owned(), FieldType::Int),
                (
                    "OpportunityLineItems".to_owned(),
                    FieldType::Children("OpportunityLineItem".into()),
                ),
                ("Parent".to_owned(), FieldType::Ref("Account".into())),
            ]
            .into(),
        }));
        c
    }

    fn compile(text: &str) -> Result<Expr, String> {
        let c = catalog();
        let record = c.get("Account").unwrap().clone();
        let scope = Scope {
            catalog: &c,
            record,
            line: None,
            entity: true,
        };
        Expr::compile(text, &CelEnv::stdlib(), &scope)
    }

    fn bindings<'a>(record: &'a Value, entity: &'a EntityView) -> Bindings<'a> {
        Bindings {
            record,
            line: None,
            entity: Some(entity),
            slots: &[],
        }
    }

    #[test]
    fn well_typed_expressions_compile_and_run() {
        let rec = json!({"Name": "Acme", "BillingCountry": "FR", "AnnualRevenue": "2500000.00",
            "NumberOfEmployees": 40, "Parent": {"Name": "Acme Group"},
            "OpportunityLineItems": {"totalSize": 2, "done": true, "records": [
                {"ProductCode": "SVC-1", "TotalPrice": 10}, {"ProductCode": "LIC-1", "TotalPrice": 5}]}});
        let ent_json = json!({"id": "FR01", "terms": "N30", "dimensions": {"department": "SALES"}});
        let ent = EntityView::new(&ent_json);
        let b = bindings(&rec, &ent);
        let e =
            compile("record.BillingCountry in ['FR', 'DE'] && record.AnnualRevenue > 1000000.0")
                .unwrap();
        assert_eq!(e.ty, Ty::Bool);
        assert!(e.test(&b).unwrap());
        let e = compile(
            "record.OpportunityLineItems.records.exists(l, l.ProductCode.startsWith('SVC'))",
        )
        .unwrap();
        assert!(e.test(&b).unwrap());
        let e = compile("record.NumberOfEmployees * 2").unwrap();
        assert!(matches!(e.eval(&b).unwrap(), Evaluated::Owned(v) if v == json!(80)));
        let e = compile("record.Name + ' (' + record.Parent.Name + ')'").unwrap();
        assert!(
            matches!(e.eval(&b).unwrap(), Evaluated::Owned(v) if v == json!("Acme (Acme Group)"))
        );
        let e = compile("entity.dimensions.department").unwrap();
        assert!(matches!(e.eval(&b).unwrap(), Evaluated::Borrowed(v) if v == "SALES"));
        let e = compile("record.OpportunityLineItems.records.map(l, l.ProductCode)").unwrap();
        assert_eq!(e.ty, Ty::List(Box::new(Ty::String)));
    }

    #[test]
    fn type_errors_are_caught_at_compile_time() {
        let cases = [
            ("record.Name > 5", "cannot order string and int"),
            ("record.Nmae == 'x'", "did you mean `Name`"),
            ("record.Name + 1", "cannot add string and int"),
            (
                "record.AnnualRevenue == 'big'",
                "cannot compare double with string",
            ),
            ("recrd.Name == 'x'", "unknown variable `recrd`"),
            (
                "record.Name.lowerAscii() == 'x'",
                "unknown function `lowerAscii`",
            ),
            ("entity.term == 'N30'", "did you mean `terms`"),
            ("record.Name.matches('[')", "bad regular expression"),
            ("record.NumberOfEmployees && true", "must be bool"),
            ("has(record.Name)", "!= null"),
            ("record.Name ==", "syntax error"),
        ];
        for (text, want) in cases {
            let err = compile(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn plain_reads_skip_the_interpreter() {
        let e = compile("record.Parent.Name").unwrap();
        assert!(matches!(e.kind, ExprKind::Path { .. }));
        let rec = json!({"Parent": null});
        let ent = EntityView::with_cel(&json!({}), Cel::Null);
        assert!(matches!(
            e.eval(&bindings(&rec, &ent)).unwrap(),
            Evaluated::Missing
        ));
    }

    #[test]
    fn direct_evaluation_agrees_with_the_interpreter() {
        let exprs = [
            "record.BillingCountry == 'US'",
            "record.BillingCountry != 'US'",
            "record.BillingCountry in ['US', 'FR']",
            "record.Name != null && record.Name.startsWith('Ac')",
            "record.Name.endsWith('me') || record.Name.contains('x')",
            "record.AnnualRevenue > 1000.0",
            "record.AnnualRevenue == null",
            "record.NumberOfEmployees >= 10 || record.Name == 'x'",
            "!(record.NumberOfEmployees < 5)",
            "record.NumberOfEmployees == 40",
            "record.NumberOfEmployees + 1",
            "record.NumberOfEmployees > 10 ? 'big' : 'small'",
            "record.Name + '-' + record.BillingCountry",
            "size(record.Name) > 3",
            "record.OpportunityLineItems.records.exists(l, l.ProductCode.startsWith('SVC'))",
            "record.OpportunityLineItems.records.all(l, l.TotalPrice > 1.0)",
            "record.Parent.Name == 'Group'",
            "entity.terms == 'N30'",
            "entity.dimensions.department == 'SALES'",
        ];
        // Expressions whose direct form, where there is one, may decline: when it answers, it
        // must still answer what the interpreter does. A record or list as the result (the
        // interpreter gives the declared fields only, converted), and records nested deeper
        // than the interpreter converts them typed.
        let edges = [
            "record.NumberOfEmployees > 10 ? record.Parent : null",
            "record.NumberOfEmployees > 10 ? record.OpportunityLineItems.records : []",
            "record.Parent.OpportunityLineItems.records.exists(l, l.Account.Parent.NumberOfEmployees > 10)",
            "record.OpportunityLineItems.records.exists(l, l.Account.OpportunityLineItems.records.exists(m, m.Account.Parent.NumberOfEmployees > 10))",
        ];
        let deep = json!({"OpportunityLineItems": {"records": [{"ProductCode": "A",
            "Account": {"Parent": {"NumberOfEmployees": "12"}}}]}});
        let records = [
            json!({"Name": "Acme", "BillingCountry": "US", "AnnualRevenue": 2500.5, "NumberOfEmployees": 40,
                   "Parent": {"Name": "Group"}, "OpportunityLineItems": {"records": [
                       {"ProductCode": "SVC-1", "TotalPrice": 10}, {"ProductCode": "LIC", "TotalPrice": 0.5}]}}),
            json!({"Name": "Deep", "NumberOfEmployees": 20, "Parent": deep,
                   "OpportunityLineItems": {"records": [{"ProductCode": "B", "Account": deep}]}}),
            json!({"Name": "Globex", "BillingCountry": "FR", "AnnualRevenue": "12.5", "NumberOfEmployees": "3",
                   "Parent": null, "OpportunityLineItems": {"records": [{"ProductCode": null, "TotalPrice": "2"}]}}),
            json!({"Name": null, "BillingCountry": null, "AnnualRevenue": "", "NumberOfEmployees": "",
                   "OpportunityLineItems": {"records": []}}),
            json!({"Name": "", "BillingCountry": "", "NumberOfEmployees": 7, "AnnualRevenue": 0}),
        ];
        let entities = [
            json!({"id": "US01", "terms": "N30", "dimensions": {"department": "SALES"}}),
            json!({"id": "EU01", "terms": null, "dimensions": {}}),
        ];
        let mut answered = 0;
        for (text, edge) in exprs
            .iter()
            .map(|t| (t, false))
            .chain(edges.iter().map(|t| (t, true)))
        {
            let e = compile(text).unwrap();
            let ExprKind::Cel { direct, .. } = &e.kind else {
                continue;
            };
            let Some(d) = direct else {
                assert!(edge, "`{text}` has no direct form");
                continue;
            };
            for rec in &records {
                for ent in &entities {
                    let view = EntityView::new(ent);
                    let b = Bindings {
                        record: rec,
                        line: None,
                        entity: Some(&view),
                        slots: &[],
                    };
                    // What `Expr::eval` takes from the direct form; the rest goes to the
                    // interpreter, so there is nothing to compare.
                    let Some(v) = d
                        .eval(&b, &mut Vec::new())
                        .and_then(direct::V::into_evaluated)
                    else {
                        continue;
                    };
                    answered += 1;
                    let interpreted = e.run(&b);
                    let direct_json = match v {
                        Evaluated::Borrowed(x) => x.clone(),
                        Evaluated::Owned(x) => x,
                        Evaluated::Missing => Value::Null,
                    };
                    assert_eq!(
                        Some(direct_json),
                        interpreted.as_ref().ok().map(cel_to_json),
                        "`{text}` on {rec} / {ent}: interpreter gave {interpreted:?}"
                    );
                }
            }
        }
        assert!(
            answered > 100,
            "direct evaluation answered only {answered} times"
        );
    }

    #[test]
    fn reads_through_slots_give_what_the_record_gives() {
        let exprs = [
            "record.Name",
            "record.Parent.Name",
            "entity.terms",
            "entity.dimensions.department",
            "record.BillingCountry in ['US', 'FR']",
            "record.Name != null && record.Name.startsWith('Ac')",
            "record.AnnualRevenue == null",
            "record.Parent.Name == 'Group'",
            "record.OpportunityLineItems.records.exists(l, l.ProductCode.startsWith('SVC'))",
            "size(record.Name) > 3 || entity.terms == 'N30'",
        ];
        let records = [
            json!({"Name": "Acme", "BillingCountry": "US", "AnnualRevenue": 2500.5,
                   "Parent": {"Name": "Group"}, "OpportunityLineItems": {"records": [
                       {"ProductCode": "SVC-1"}, {"ProductCode": "LIC"}]}}),
            json!({"Name": null, "BillingCountry": "", "Parent": null, "AnnualRevenue": ""}),
            json!({"Parent": "not a record", "OpportunityLineItems": {"records": []}}),
            json!({}),
            json!(null),
            json!(["Name"]),
        ];
        let view = EntityView::new(&json!({"id": "US01", "terms": "N30", "dimensions": {}}));
        for text in exprs {
            let plain = compile(text).unwrap();
            let mut slotted = plain.clone();
            let mut reads = Reads::default();
            slotted.intern_reads(&mut reads);
            // Every expression reading the record reads it through a slot.
            assert_eq!(reads.len() > 0, text.contains("record."), "`{text}`");
            for rec in &records {
                let mut firsts = vec![None; reads.firsts()];
                let mut slots = vec![None; reads.len()];
                reads.read(rec, &mut firsts, &mut slots);
                let b = Bindings {
                    record: rec,
                    line: None,
                    entity: Some(&view),
                    slots: &[],
                };
                let bs = Bindings { slots: &slots, ..b };
                assert_eq!(
                    format!("{:?}", plain.eval(&b)),
                    format!("{:?}", slotted.eval(&bs)),
                    "`{text}` on {rec}"
                );
                assert_eq!(plain.test(&b), slotted.test(&bs), "`{text}` on {rec}");
            }
        }
    }

    #[test]
    fn intacct_text_values_are_typed_for_cel() {
        let e = compile("record.NumberOfEmployees > 10 && record.AnnualRevenue < 10.5").unwrap();
        let rec = json!({"NumberOfEmployees": "12", "AnnualRevenue": "10.25"});
        let ent = EntityView::with_cel(&json!({}), Cel::Null);
        assert!(e.test(&bindings(&rec, &ent)).unwrap());
        // Empty text is null: the comparison errors at run time, reported with the expression.
        let rec = json!({"NumberOfEmployees": "", "AnnualRevenue": "1"});
        let err = e.test(&bindings(&rec, &ent)).unwrap_err();
        assert!(err.contains("record.NumberOfEmployees > 10"), "{err}");
    }
}
