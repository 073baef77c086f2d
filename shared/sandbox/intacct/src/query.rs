//! Record filters: the `readByQuery` query string (a tokenizer and a recursive-descent parser)
//! and the `query` function's XML `<filter>`, both compiled to one [`Filter`] tree.
//!
//! Comparison follows the database Intacct runs on: an empty value is NULL, a comparison with
//! NULL is false (use `IS NULL`), strings compare case-sensitively unless the `query` option
//! `caseinsensitive` is set, and numbers, dates and booleans compare by value.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::str::FromStr;

use chrono::NaiveDateTime;
use rust_decimal::Decimal;

use crate::element::Element;
use crate::schema::Ty;

/// The values of an `IN` list, with their sets for text comparisons (as given, and lowered
/// for case-insensitive queries), so a row costs one lookup rather than a pass over the list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InList {
    values: Vec<String>,
    exact: HashSet<String>,
    lowered: HashSet<String>,
}

impl From<Vec<String>> for InList {
    fn from(values: Vec<String>) -> Self {
        Self {
            exact: values.iter().cloned().collect(),
            lowered: values.iter().map(|v| v.to_lowercase()).collect(),
            values,
        }
    }
}

/// A filter over one object's records.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    All,
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare {
        field: FieldRef,
        op: CmpOp,
        value: String,
    },
    In {
        field: FieldRef,
        values: InList,
        negated: bool,
    },
    Like {
        field: FieldRef,
        pattern: String,
        negated: bool,
    },
    Null {
        field: FieldRef,
        negated: bool,
    },
    Between {
        field: FieldRef,
        low: String,
        high: String,
    },
}

/// A field named in a filter, with the type it resolved to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldRef {
    pub name: String,
    pub ty: Ty,
}

impl FieldRef {
    fn new(name: &str) -> Self {
        Self {
            name: name.trim().to_ascii_uppercase(),
            ty: Ty::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A filter that could not be read or does not fit the object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct FilterError(pub String);

/// Gives field values of one record (dotted paths for nested blocks and related objects).
pub(crate) trait Row {
    /// The trimmed value; `None` or empty both mean NULL.
    fn get(&self, field: &str) -> Option<String>;
}

impl Filter {
    /// Resolves every field to its type with `resolve` (which fails for unknown fields) and
    /// checks that each literal fits its field's type.
    pub fn bind(
        &mut self,
        resolve: &dyn Fn(&str) -> Result<Ty, FilterError>,
    ) -> Result<(), FilterError> {
        match self {
            Filter::All => Ok(()),
            Filter::And(parts) | Filter::Or(parts) => {
                parts.iter_mut().try_for_each(|p| p.bind(resolve))
            }
            Filter::Not(inner) => inner.bind(resolve),
            Filter::Compare { field, value, .. } => {
                bind_field(field, resolve)?;
                check_literal(field, value)
            }
            Filter::In { field, values, .. } => {
                bind_field(field, resolve)?;
                values
                    .values
                    .iter()
                    .try_for_each(|v| check_literal(field, v))
            }
            Filter::Like { field, .. } | Filter::Null { field, .. } => bind_field(field, resolve),
            Filter::Between { field, low, high } => {
                bind_field(field, resolve)?;
                check_literal(field, low)?;
                check_literal(field, high)
            }
        }
    }

    /// Text values a row must hold for the filter to match it: alternatives of a field and
    /// its values (lowered), at least one of which a matching row has, however the query
    /// compares case. `None` when the filter does not narrow that way (then every row is
    /// tested). From a text `=` or `IN`, the first narrowing part of an `AND`, or every part
    /// of an `OR` when each narrows.
    pub fn key_alternatives(&self) -> Option<Vec<(&FieldRef, Vec<String>)>> {
        let text = |f: &FieldRef| matches!(f.ty, Ty::Text | Ty::Group);
        match self {
            Filter::In {
                field,
                values,
                negated: false,
            } if text(field) => Some(vec![(field, values.lowered.iter().cloned().collect())]),
            Filter::Compare {
                field,
                op: CmpOp::Eq,
                value,
            } if text(field) => Some(vec![(field, vec![value.to_lowercase()])]),
            Filter::And(parts) => parts.iter().find_map(Filter::key_alternatives),
            Filter::Or(parts) => parts
                .iter()
                .map(Filter::key_alternatives)
                .collect::<Option<Vec<_>>>()
                .map(|alts| alts.into_iter().flatten().collect()),
            _ => None,
        }
    }

    pub fn matches(&self, row: &dyn Row, case_insensitive: bool) -> bool {
        let get = |f: &FieldRef| row.get(&f.name).filter(|v| !v.is_empty());
        match self {
            Filter::All => true,
            Filter::And(parts) => parts.iter().all(|p| p.matches(row, case_insensitive)),
            Filter::Or(parts) => parts.iter().any(|p| p.matches(row, case_insensitive)),
            Filter::Not(inner) => !inner.matches(row, case_insensitive),
            Filter::Compare { field, op, value } => get(field).is_some_and(|v| {
                compare(field.ty, &v, value, case_insensitive).is_some_and(|ord| match op {
                    CmpOp::Eq => ord == Ordering::Equal,
                    CmpOp::Ne => ord != Ordering::Equal,
                    CmpOp::Lt => ord == Ordering::Less,
                    CmpOp::Le => ord != Ordering::Greater,
                    CmpOp::Gt => ord == Ordering::Greater,
                    CmpOp::Ge => ord != Ordering::Less,
                })
            }),
            Filter::In {
                field,
                values,
                negated,
            } => get(field).is_some_and(|v| {
                let found = match field.ty {
                    Ty::Text | Ty::Group if case_insensitive => {
                        values.lowered.contains(&v.to_lowercase())
                    }
                    Ty::Text | Ty::Group => values.exact.contains(&*v),
                    ty => values
                        .values
                        .iter()
                        .any(|x| compare(ty, &v, x, case_insensitive) == Some(Ordering::Equal)),
                };
                found != *negated
            }),
            Filter::Like {
                field,
                pattern,
                negated,
            } => get(field).is_some_and(|v| like(&v, pattern, case_insensitive) != *negated),
            Filter::Null { field, negated } => get(field).is_none() != *negated,
            Filter::Between { field, low, high } => get(field).is_some_and(|v| {
                compare(field.ty, &v, low, case_insensitive).is_some_and(|o| o != Ordering::Less)
                    && compare(field.ty, &v, high, case_insensitive)
                        .is_some_and(|o| o != Ordering::Greater)
            }),
        }
    }
}

fn bind_field(
    field: &mut FieldRef,
    resolve: &dyn Fn(&str) -> Result<Ty, FilterError>,
) -> Result<(), FilterError> {
    field.ty = resolve(&field.name)?;
    Ok(())
}

fn check_literal(field: &FieldRef, value: &str) -> Result<(), FilterError> {
    let ok = match field.ty {
        Ty::Integer | Ty::Decimal => Decimal::from_str(value.trim()).is_ok(),
        Ty::Date | Ty::DateTime => parse_datetime(value).is_some(),
        Ty::Boolean => parse_bool(value).is_some(),
        Ty::Text | Ty::Group => true,
    };
    if ok {
        Ok(())
    } else {
        Err(FilterError(format!(
            "Invalid value '{value}' for {} field {}",
            field.ty.lookup_name(),
            field.name
        )))
    }
}

/// Orders a stored value against a literal by the field's type; `None` when either side
/// does not parse (which then matches nothing).
pub(crate) fn compare(
    ty: Ty,
    stored: &str,
    literal: &str,
    case_insensitive: bool,
) -> Option<Ordering> {
    match ty {
        Ty::Integer | Ty::Decimal => {
            let a = Decimal::from_str(stored.trim()).ok()?;
            let b = Decimal::from_str(literal.trim()).ok()?;
            Some(a.cmp(&b))
        }
        Ty::Date | Ty::DateTime => Some(parse_datetime(stored)?.cmp(&parse_datetime(literal)?)),
        Ty::Boolean => Some(parse_bool(stored)?.cmp(&parse_bool(literal)?)),
        Ty::Text | Ty::Group if case_insensitive => {
            Some(stored.to_lowercase().cmp(&literal.to_lowercase()))
        }
        Ty::Text | Ty::Group => Some(stored.cmp(literal)),
    }
}

/// `MM/DD/YYYY`, `MM/DD/YYYY HH:MM:SS`, ISO `YYYY-MM-DD[THH:MM:SS]` or RFC 3339, as a UTC
/// wall clock (the emulated company runs on UTC): the workspace's one date reader.
pub(crate) fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    lf_domain::datetime::parse_datetime(s)
        .ok()
        .map(|d| d.naive_utc())
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" => Some(true),
        "false" | "f" => Some(false),
        _ => None,
    }
}

/// SQL LIKE: `%` any run, `_` one character.
fn like(value: &str, pattern: &str, case_insensitive: bool) -> bool {
    let (v, p): (Vec<char>, Vec<char>) = if case_insensitive {
        (
            value.to_lowercase().chars().collect(),
            pattern.to_lowercase().chars().collect(),
        )
    } else {
        (value.chars().collect(), pattern.chars().collect())
    };
    // Iterative wildcard match with backtracking to the last '%'.
    let (mut vi, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '_' || (p[pi] != '%' && p[pi] == v[vi])) {
            vi += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

// ---------------------------------------------------------------------------------------------
// readByQuery query strings

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Op(CmpOp),
    LParen,
    RParen,
    Comma,
    And,
    Or,
    Not,
    Like,
    In,
    Is,
    Null,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("field {s}"),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Num(s) => format!("number {s}"),
            Tok::Op(op) => format!("operator {}", op_text(*op)),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::And => "AND".into(),
            Tok::Or => "OR".into(),
            Tok::Not => "NOT".into(),
            Tok::Like => "LIKE".into(),
            Tok::In => "IN".into(),
            Tok::Is => "IS".into(),
            Tok::Null => "NULL".into(),
        }
    }
}

fn op_text(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

/// A token and the character position (1-based) it starts at.
type Spanned = (Tok, usize);

fn tokenize(query: &str) -> Result<Vec<Spanned>, FilterError> {
    let chars: Vec<char> = query.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |pos: usize, msg: String| FilterError(format!("{msg} at position {}", pos + 1));
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                out.push((Tok::LParen, start + 1));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, start + 1));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, start + 1));
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err(start, "Unterminated string literal".into())),
                        Some('\\') => {
                            match chars.get(i + 1) {
                                Some(next) => s.push(*next),
                                None => {
                                    return Err(err(start, "Unterminated string literal".into()));
                                }
                            }
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push((Tok::Str(s), start + 1));
            }
            '=' | '<' | '>' | '!' => {
                let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
                let (op, len) = match two.as_str() {
                    "<=" => (CmpOp::Le, 2),
                    ">=" => (CmpOp::Ge, 2),
                    "!=" | "<>" => (CmpOp::Ne, 2),
                    _ => match c {
                        '=' => (CmpOp::Eq, 1),
                        '<' => (CmpOp::Lt, 1),
                        '>' => (CmpOp::Gt, 1),
                        _ => return Err(err(start, "Unexpected character '!'".into())),
                    },
                };
                let before_ok = start == 0 || chars[start - 1].is_whitespace();
                let after_ok = chars.get(i + len).is_none_or(|ch| ch.is_whitespace());
                if !before_ok || !after_ok {
                    return Err(err(
                        start,
                        format!("Operator '{}' must have a space on each side", op_text(op)),
                    ));
                }
                out.push((Tok::Op(op), start + 1));
                i += len;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                i += 1;
                while chars
                    .get(i)
                    .is_some_and(|ch| ch.is_ascii_digit() || *ch == '.')
                {
                    i += 1;
                }
                out.push((Tok::Num(chars[start..i].iter().collect()), start + 1));
            }
            c if c.is_alphabetic() || c == '_' => {
                while chars
                    .get(i)
                    .is_some_and(|ch| ch.is_alphanumeric() || *ch == '_' || *ch == '.')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let tok = match word.to_ascii_uppercase().as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    "LIKE" => Tok::Like,
                    "IN" => Tok::In,
                    "IS" => Tok::Is,
                    "NULL" => Tok::Null,
                    upper => Tok::Ident(upper.to_owned()),
                };
                out.push((tok, start + 1));
            }
            other => return Err(err(start, format!("Unexpected character '{other}'"))),
        }
    }
    Ok(out)
}

/// How deeply parentheses and `NOT`s may nest: the same bound as XML elements, far beyond any
/// real condition, and shallow enough that the recursive parser cannot exhaust the stack.
const MAX_NESTING: usize = 64;

struct Parser {
    toks: Vec<Spanned>,
    pos: usize,
    len: usize,
    /// Parentheses and `NOT`s open around the current position.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(t, _)| t.clone());
        self.pos += 1;
        t
    }

    fn here(&self) -> usize {
        self.toks.get(self.pos).map_or(self.len + 1, |(_, p)| *p)
    }

    fn fail<T>(&self, expected: &str) -> Result<T, FilterError> {
        let found = self
            .peek()
            .map_or_else(|| "end of query".to_owned(), Tok::describe);
        Err(FilterError(format!(
            "Expected {expected} but found {found} at position {}",
            self.here()
        )))
    }

    fn expr(&mut self) -> Result<Filter, FilterError> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut parts = vec![self.unary()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        match self.peek() {
            Some(Tok::Not) => {
                self.pos += 1;
                let inner = self.nested(Self::unary)?;
                Ok(Filter::Not(Box::new(inner)))
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                let inner = self.nested(Self::expr)?;
                if self.next() != Some(Tok::RParen) {
                    self.pos -= 1;
                    return self.fail("')'");
                }
                Ok(inner)
            }
            Some(Tok::Ident(_)) => self.predicate(),
            _ => self.fail("a field name, NOT or '('"),
        }
    }

    /// Parses one nesting level deeper with `inner`, refusing to go past [`MAX_NESTING`].
    fn nested(
        &mut self,
        inner: fn(&mut Self) -> Result<Filter, FilterError>,
    ) -> Result<Filter, FilterError> {
        if self.depth >= MAX_NESTING {
            return Err(FilterError(format!(
                "Conditions nested deeper than {MAX_NESTING} levels at position {}",
                self.here()
            )));
        }
        self.depth += 1;
        let parsed = inner(self);
        self.depth -= 1;
        parsed
    }

    fn predicate(&mut self) -> Result<Filter, FilterError> {
        let Some(Tok::Ident(name)) = self.next() else {
            self.pos -= 1;
            return self.fail("a field name");
        };
        let field = FieldRef::new(&name);
        match self.next() {
            Some(Tok::Op(op)) => {
                let value = self.value()?;
                Ok(Filter::Compare { field, op, value })
            }
            Some(Tok::Like) => Ok(Filter::Like {
                field,
                pattern: self.string()?,
                negated: false,
            }),
            Some(Tok::In) => Ok(Filter::In {
                field,
                values: self.list()?.into(),
                negated: false,
            }),
            Some(Tok::Not) => match self.next() {
                Some(Tok::Like) => Ok(Filter::Like {
                    field,
                    pattern: self.string()?,
                    negated: true,
                }),
                Some(Tok::In) => Ok(Filter::In {
                    field,
                    values: self.list()?.into(),
                    negated: true,
                }),
                _ => {
                    self.pos -= 1;
                    self.fail("LIKE or IN after NOT")
                }
            },
            Some(Tok::Is) => {
                let negated = if self.peek() == Some(&Tok::Not) {
                    self.pos += 1;
                    true
                } else {
                    false
                };
                if self.next() != Some(Tok::Null) {
                    self.pos -= 1;
                    return self.fail("NULL");
                }
                Ok(Filter::Null { field, negated })
            }
            _ => {
                self.pos -= 1;
                self.fail("an operator (=, !=, <, <=, >, >=, LIKE, IN, IS)")
            }
        }
    }

    fn value(&mut self) -> Result<String, FilterError> {
        match self.next() {
            Some(Tok::Str(s) | Tok::Num(s)) => Ok(s),
            _ => {
                self.pos -= 1;
                self.fail("a quoted string or a number")
            }
        }
    }

    fn string(&mut self) -> Result<String, FilterError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            _ => {
                self.pos -= 1;
                self.fail("a quoted pattern")
            }
        }
    }

    fn list(&mut self) -> Result<Vec<String>, FilterError> {
        if self.next() != Some(Tok::LParen) {
            self.pos -= 1;
            return self.fail("'(' to open the IN list");
        }
        let mut values = vec![self.value()?];
        loop {
            match self.next() {
                Some(Tok::Comma) => values.push(self.value()?),
                Some(Tok::RParen) => return Ok(values),
                _ => {
                    self.pos -= 1;
                    return self.fail("',' or ')' in the IN list");
                }
            }
        }
    }
}

/// Parses a `readByQuery` `<query>` string. Empty means every record.
pub(crate) fn parse_query_string(query: &str) -> Result<Filter, FilterError> {
    let toks = tokenize(query)?;
    if toks.is_empty() {
        return Ok(Filter::All);
    }
    let mut parser = Parser {
        toks,
        pos: 0,
        len: query.chars().count(),
        depth: 0,
    };
    let filter = parser.expr()?;
    if parser.peek().is_some() {
        return parser.fail("AND, OR or the end of the query");
    }
    Ok(filter)
}

// ---------------------------------------------------------------------------------------------
// query function <filter>

/// Parses the one expression inside a `query` `<filter>` element.
pub(crate) fn parse_filter_element(filter: &Element) -> Result<Filter, FilterError> {
    match filter.children.as_slice() {
        [] => Ok(Filter::All),
        [one] => parse_filter_node(one),
        _ => Err(FilterError(
            "<filter> takes one expression; combine several with <and> or <or>".into(),
        )),
    }
}

fn parse_filter_node(el: &Element) -> Result<Filter, FilterError> {
    let field = || {
        el.non_empty("field")
            .map(FieldRef::new)
            .ok_or_else(|| FilterError(format!("<{}> needs a <field>", el.name)))
    };
    let values = || -> Vec<String> {
        el.children_named("value")
            .map(|v| v.text.trim().to_owned())
            .collect()
    };
    let one_value = || -> Result<String, FilterError> {
        match values().as_slice() {
            [v] => Ok(v.clone()),
            _ => Err(FilterError(format!(
                "<{}> needs exactly one <value>",
                el.name
            ))),
        }
    };
    let cmp = |op| -> Result<Filter, FilterError> {
        Ok(Filter::Compare {
            field: field()?,
            op,
            value: one_value()?,
        })
    };
    match el.name.as_str() {
        "and" | "or" => {
            let parts = el
                .children
                .iter()
                .map(parse_filter_node)
                .collect::<Result<Vec<_>, _>>()?;
            if parts.is_empty() {
                return Err(FilterError(format!(
                    "<{}> needs at least one expression",
                    el.name
                )));
            }
            Ok(if el.name == "and" {
                Filter::And(parts)
            } else {
                Filter::Or(parts)
            })
        }
        "equalto" => cmp(CmpOp::Eq),
        "notequalto" => cmp(CmpOp::Ne),
        "lessthan" => cmp(CmpOp::Lt),
        "lessthanorequalto" => cmp(CmpOp::Le),
        "greaterthan" => cmp(CmpOp::Gt),
        "greaterthanorequalto" => cmp(CmpOp::Ge),
        "between" => match values().as_slice() {
            [low, high] => Ok(Filter::Between {
                field: field()?,
                low: low.clone(),
                high: high.clone(),
            }),
            _ => Err(FilterError("<between> needs exactly two <value>s".into())),
        },
        "in" | "notin" => {
            let values = values();
            if values.is_empty() {
                return Err(FilterError(format!(
                    "<{}> needs at least one <value>",
                    el.name
                )));
            }
            Ok(Filter::In {
                field: field()?,
                values: values.into(),
                negated: el.name == "notin",
            })
        }
        "like" | "notlike" => Ok(Filter::Like {
            field: field()?,
            pattern: one_value()?,
            negated: el.name == "notlike",
        }),
        "isnull" | "isnotnull" => Ok(Filter::Null {
            field: field()?,
            negated: el.name == "isnotnull",
        }),
        other => Err(FilterError(format!("Unknown filter element <{other}>"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapRow(HashMap<&'static str, &'static str>);
    impl Row for MapRow {
        fn get(&self, field: &str) -> Option<String> {
            self.0.get(field).map(|v| (*v).to_owned())
        }
    }

    fn typed(name: &str) -> Result<Ty, FilterError> {
        match name {
            "RECORDNO" | "TOTALDUE" => Ok(Ty::Decimal),
            "WHENMODIFIED" => Ok(Ty::DateTime),
            "ONHOLD" => Ok(Ty::Boolean),
            "NAME" | "CUSTOMERID" | "SFDC_ACCOUNT_ID" | "DISPLAYCONTACT.EMAIL1" => Ok(Ty::Text),
            other => Err(FilterError(format!("Invalid field {other}"))),
        }
    }

    fn parse(q: &str) -> Result<Filter, FilterError> {
        let mut f = parse_query_string(q)?;
        f.bind(&typed)?;
        Ok(f)
    }

    fn row() -> MapRow {
        MapRow(HashMap::from([
            ("RECORDNO", "12"),
            ("TOTALDUE", "1500.50"),
            ("NAME", "Jane's Deli"),
            ("CUSTOMERID", "C-1001"),
            ("WHENMODIFIED", "03/14/2025 16:05:09"),
            ("ONHOLD", "false"),
            ("SFDC_ACCOUNT_ID", ""),
        ]))
    }

    #[test]
    fn precedence_and_grouping() {
        let f = parse("RECORDNO = 1 OR RECORDNO = 12 AND NAME LIKE 'Jane%'").unwrap();
        assert!(matches!(f, Filter::Or(ref p) if p.len() == 2));
        assert!(f.matches(&row(), false));
        let f = parse("(RECORDNO = 1 OR RECORDNO = 12) AND NOT NAME LIKE 'Jane%'").unwrap();
        assert!(!f.matches(&row(), false));
    }

    #[test]
    fn typed_comparisons_and_nulls() {
        assert!(parse("TOTALDUE > 999.99").unwrap().matches(&row(), false));
        assert!(!parse("TOTALDUE > 10000").unwrap().matches(&row(), false));
        assert!(
            parse("RECORDNO >= 9").unwrap().matches(&row(), false),
            "numeric, not text order"
        );
        assert!(
            parse("WHENMODIFIED > '03/14/2025 00:00:00'")
                .unwrap()
                .matches(&row(), false)
        );
        assert!(
            parse("WHENMODIFIED < '03/15/2025'")
                .unwrap()
                .matches(&row(), false)
        );
        assert!(parse("ONHOLD = 'false'").unwrap().matches(&row(), false));
        assert!(
            parse("SFDC_ACCOUNT_ID IS NULL")
                .unwrap()
                .matches(&row(), false)
        );
        assert!(
            !parse("SFDC_ACCOUNT_ID = ''")
                .unwrap()
                .matches(&row(), false)
        );
        assert!(
            !parse("SFDC_ACCOUNT_ID != 'x'")
                .unwrap()
                .matches(&row(), false)
        );
        assert!(
            parse("CUSTOMERID IS NOT NULL")
                .unwrap()
                .matches(&row(), false)
        );
    }

    #[test]
    fn text_keys_narrow_only_where_every_match_must_hold_one() {
        let alternatives = |q: &str| {
            parse(q).unwrap().key_alternatives().map(|alts| {
                alts.into_iter()
                    .map(|(f, mut v)| {
                        v.sort();
                        (f.name.clone(), v)
                    })
                    .collect::<Vec<_>>()
            })
        };
        let one = |f: &str, v: &[&str]| (f.to_owned(), v.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            alternatives("NAME IN ('Acme','beta')"),
            Some(vec![one("NAME", &["acme", "beta"])])
        );
        assert_eq!(
            alternatives("RECORDNO > 3 AND CUSTOMERID = 'C-1'"),
            Some(vec![one("CUSTOMERID", &["c-1"])])
        );
        assert_eq!(
            alternatives("NAME IN ('A') OR SFDC_ACCOUNT_ID = '001X'"),
            Some(vec![one("NAME", &["a"]), one("SFDC_ACCOUNT_ID", &["001x"])])
        );
        for scans in [
            "NAME IN ('A') OR RECORDNO > 3",
            "NAME NOT IN ('A')",
            "RECORDNO IN (1, 2)",
            "NAME LIKE 'A%'",
        ] {
            assert_eq!(alternatives(scans), None, "{scans}");
        }
    }

    #[test]
    fn in_lists_compare_text_by_case_only_when_asked() {
        let listed = |q: &str, ci: bool| parse(q).unwrap().matches(&row(), ci);
        assert!(!listed("CUSTOMERID IN ('c-1000','c-1001')", false));
        assert!(listed("CUSTOMERID IN ('c-1000','c-1001')", true));
        assert!(listed("NAME IN ('JANE\\'S DELI')", true));
        assert!(!listed("NAME IN ('Jane')", true));
        assert!(!listed("CUSTOMERID NOT IN ('c-1001')", true));
        assert!(listed("CUSTOMERID NOT IN ('c-1001')", false));
        let list = InList::from(vec!["ÄRGER".to_owned(), "Straße".to_owned()]);
        assert!(list.lowered.contains("ärger") && list.lowered.contains("straße"));
        assert!(!list.lowered.contains("arger") && !list.exact.contains("ärger"));
    }

    #[test]
    fn strings_escapes_in_and_case() {
        assert!(
            parse(r"NAME = 'Jane\'s Deli'")
                .unwrap()
                .matches(&row(), false)
        );
        assert!(
            !parse(r"NAME = 'jane\'s deli'")
                .unwrap()
                .matches(&row(), false)
        );
        assert!(
            parse(r"NAME = 'jane\'s deli'")
                .unwrap()
                .matches(&row(), true)
        );
        assert!(
            parse("CUSTOMERID IN ('C-1000','C-1001')")
                .unwrap()
                .matches(&row(), false)
        );
        assert!(
            parse("CUSTOMERID NOT IN ('C-1000')")
                .unwrap()
                .matches(&row(), false)
        );
        assert!(
            parse("CUSTOMERID like 'C-10_1'")
                .unwrap()
                .matches(&row(), false)
        );
        assert!(
            parse("CUSTOMERID NOT LIKE '%2'")
                .unwrap()
                .matches(&row(), false)
        );
        assert_eq!(parse("").unwrap(), Filter::All);
    }

    #[test]
    fn errors_name_the_position_and_problem() {
        let e = parse("RECORDNO=1").unwrap_err().0;
        assert!(
            e.contains("space on each side") && e.contains("position 9"),
            "{e}"
        );
        let e = parse("NAME = 'open").unwrap_err().0;
        assert!(e.contains("Unterminated"), "{e}");
        let e = parse("NAME = ").unwrap_err().0;
        assert!(e.contains("end of query"), "{e}");
        let e = parse("NAME = 'a' 'b'").unwrap_err().0;
        assert!(e.contains("Expected AND, OR"), "{e}");
        let e = parse("BOGUS = 'a'").unwrap_err().0;
        assert_eq!(e, "Invalid field BOGUS");
        let e = parse("TOTALDUE > 'lots'").unwrap_err().0;
        assert!(e.contains("Invalid value 'lots'"), "{e}");
        let e = parse("NAME IN ('a' 'b')").unwrap_err().0;
        assert!(e.contains("IN list"), "{e}");
        let e = parse("(NAME = 'a'").unwrap_err().0;
        assert!(e.contains("')'"), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused_not_recursed_into() {
        // A hostile query string must not exhaust the stack (the body cap allows megabytes).
        for deep in ["(".repeat(200_000), "NOT ".repeat(200_000)] {
            let e = parse_query_string(&deep).unwrap_err().0;
            assert!(e.contains("nested deeper than"), "{e}");
        }
        let ok = format!("{}CUSTOMERID = 'C-1001'{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&ok).unwrap().matches(&row(), false));
    }

    #[test]
    fn xml_filters() {
        let xml = crate::element::parse(
            "<filter><and><greaterthanorequalto><field>RECORDNO</field><value>1</value></greaterthanorequalto>\
             <or><like><field>NAME</field><value>Jane%</value></like><isnull><field>CUSTOMERID</field></isnull></or>\
             <between><field>TOTALDUE</field><value>1000</value><value>2000</value></between>\
             <in><field>CUSTOMERID</field><value>C-1001</value><value>C-9</value></in></and></filter>",
        )
        .unwrap();
        let mut f = parse_filter_element(&xml).unwrap();
        f.bind(&typed).unwrap();
        assert!(f.matches(&row(), false));
        let bad =
            crate::element::parse("<filter><equals><field>A</field></equals></filter>").unwrap();
        assert!(
            parse_filter_element(&bad)
                .unwrap_err()
                .0
                .contains("<equals>")
        );
        let two = crate::element::parse(
            "<filter><isnull><field>A</field></isnull><isnull><field>B</field></isnull></filter>",
        )
        .unwrap();
        assert!(parse_filter_element(&two).is_err());
    }
}
