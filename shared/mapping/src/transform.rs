//! The closed registry of named transforms. Each is compiled once (arguments parsed, regexes
//! built, lookup tables resolved, input kinds checked) and applied per record on borrowed data
//! where it can: `trim` of a borrowed string is a sub-slice, not a copy.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, FixedOffset, NaiveDate};
use lf_domain::datetime;
use lf_domain::{CurrencyCode, Money};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Number, Value};

use crate::path::{Read, Reads, Selected};
use crate::rates::Rates;
use crate::region;
use crate::routing::Entity;
use crate::spec::{CountryFormat, DateFormat, DateTimeFormat, StateFormat};

/// A value on its way through a field's transforms.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Null,
    /// Straight from the input record.
    Json(&'a Value),
    Text(Cow<'a, str>),
    Owned(Value),
    List(Vec<Val<'a>>),
}

impl<'a> Val<'a> {
    pub(crate) fn from_selected(s: Selected<'a>) -> Val<'a> {
        match s {
            Selected::None => Val::Null,
            Selected::One(v) => Val::Json(v),
            Selected::Many(v) => Val::List(v.into_iter().map(Val::Json).collect()),
        }
    }

    /// Null, or empty text. (Zero and false are values.)
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Val::Null | Val::Json(Value::Null) | Val::Owned(Value::Null) => true,
            Val::Json(Value::String(s)) | Val::Owned(Value::String(s)) => s.is_empty(),
            Val::Text(t) => t.is_empty(),
            Val::List(items) => items.iter().all(Val::is_empty),
            _ => false,
        }
    }

    /// The value as text, if it is a scalar.
    pub(crate) fn text(&self) -> Option<Cow<'_, str>> {
        let json = match self {
            Val::Null => return None,
            Val::Text(t) => return Some(Cow::Borrowed(t)),
            Val::Json(v) => *v,
            Val::Owned(v) => v,
            Val::List(_) => return None,
        };
        match json {
            Value::String(s) => Some(Cow::Borrowed(s)),
            Value::Number(n) => Some(Cow::Owned(n.to_string())),
            Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            _ => None,
        }
    }

    /// Whether the value is a scalar with a text form (what `text` would return, without
    /// building it).
    fn has_text(&self) -> bool {
        match self {
            Val::Null | Val::List(_) => false,
            Val::Text(_) => true,
            Val::Json(v) => matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)),
            Val::Owned(v) => matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)),
        }
    }

    /// Calls `f` with the value's text (as `text` gives it), formatting a number on the stack
    /// instead of into a new `String`.
    fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> Option<R> {
        let json = match self {
            Val::Json(v) => *v,
            Val::Owned(v) => v,
            other => return other.text().map(|t| f(&t)),
        };
        match json {
            Value::Number(n) => {
                let mut buf = StackText::default();
                match fmt::write(&mut buf, format_args!("{n}")) {
                    Ok(()) => Some(f(buf.as_str())),
                    Err(_) => Some(f(&n.to_string())),
                }
            }
            _ => self.text().map(|t| f(&t)),
        }
    }

    fn json(&self) -> Option<&Value> {
        match self {
            Val::Json(v) => Some(v),
            Val::Owned(v) => Some(v),
            _ => None,
        }
    }

    pub(crate) fn into_json(self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Json(v) => v.clone(),
            Val::Text(t) => Value::String(t.into_owned()),
            Val::Owned(v) => v,
            Val::List(items) => Value::Array(items.into_iter().map(Val::into_json).collect()),
        }
    }

    fn describe(&self) -> String {
        match self.text() {
            Some(t) => format!("`{t}`"),
            None => "a non-text value".to_owned(),
        }
    }
}

/// A short text written on the stack (a number's digits); `fmt::Error` when it does not fit.
#[derive(Debug)]
struct StackText {
    buf: [u8; 48],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            buf: [0; 48],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        // Only whole `str`s are ever copied in, so this is valid UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// What kind of value flows between transforms, for compile-time checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Number,
    Bool,
    Date,
    DateTime,
    List,
    Object,
    Any,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Number => "a number",
            Kind::Bool => "true/false",
            Kind::Date => "a date",
            Kind::DateTime => "a datetime",
            Kind::List => "a list",
            Kind::Object => "a nested record",
            Kind::Any => "any value",
        }
    }
}

/// Where a currency code comes from.
#[derive(Debug, Clone)]
pub(crate) enum CurrencySource {
    Code(CurrencyCode),
    Path(Read),
    /// The routed entity's base currency.
    EntityBase,
}

/// A regular expression that is one character class (`[^A-Za-z0-9]`, `\s`), as its
/// ranges. Such a pattern matches each character of the class on its own, so replacing every
/// match is replacing every such character; a scan does that for a fraction of the cost of the
/// regex engine's searches (the usual `replace` in specs cleans ids and tax numbers this way).
#[derive(Debug)]
pub(crate) struct CharClass {
    /// Bit `c` set: ASCII character `c` is in the class.
    ascii: u128,
    /// The class's ranges, sorted and apart (as `regex-syntax` gives them).
    ranges: Box<[(char, char)]>,
}

impl CharClass {
    /// The class `pattern` is, when it is nothing else. Parsed with the same syntax and
    /// defaults `regex::Regex::new` uses.
    pub(crate) fn of(pattern: &str) -> Option<CharClass> {
        use regex_syntax::hir::{Class, HirKind};
        let hir = regex_syntax::parse(pattern).ok()?;
        let HirKind::Class(Class::Unicode(class)) = hir.kind() else {
            return None;
        };
        let ranges: Box<[(char, char)]> = class
            .ranges()
            .iter()
            .map(|r| (r.start(), r.end()))
            .collect();
        let mut ascii = 0u128;
        for c in 0u8..128 {
            if ranges
                .iter()
                .any(|(lo, hi)| (*lo..=*hi).contains(&char::from(c)))
            {
                ascii |= 1 << c;
            }
        }
        Some(CharClass { ascii, ranges })
    }

    fn contains(&self, c: char) -> bool {
        if c.is_ascii() {
            return self.ascii & (1 << (c as u32)) != 0;
        }
        self.ranges
            .binary_search_by(|(lo, hi)| {
                if *hi < c {
                    std::cmp::Ordering::Less
                } else if *lo > c {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }

    /// Every character of the class replaced by `with` (taken literally); `None` when there
    /// is none (the text stays as it is), as `Regex::replace_all` borrows it then.
    fn replace_all(&self, text: &str, with: &str) -> Option<String> {
        let (first, _) = text.char_indices().find(|(_, c)| self.contains(*c))?;
        let mut out = String::with_capacity(text.len());
        out.push_str(&text[..first]);
        for c in text[first..].chars() {
            if self.contains(c) {
                out.push_str(with);
            } else {
                out.push(c);
            }
        }
        Some(out)
    }
}

/// A lookup table, compiled.
#[derive(Debug)]
pub(crate) struct LookupTable {
    pub name: String,
    /// Hashed with foldhash: the keys come from the spec, so there is no flooding to fear.
    pub values: foldhash::HashMap<String, Value>,
    pub default: Option<Value>,
    pub case_insensitive: bool,
    pub passthrough: bool,
}

impl LookupTable {
    fn get<'v>(&'v self, input: &str) -> Option<&'v Value> {
        if !self.case_insensitive {
            return self.values.get(input);
        }
        let t = input.trim();
        // ASCII text lower-cases byte by byte (what `to_lowercase` does to it), on the stack.
        let mut buf = [0u8; 64];
        if t.is_ascii()
            && let Some(b) = buf.get_mut(..t.len())
        {
            b.copy_from_slice(t.as_bytes());
            b.make_ascii_lowercase();
            if let Ok(lower) = std::str::from_utf8(b) {
                return self.values.get(lower);
            }
        }
        self.values.get(&t.to_lowercase())
    }
}

/// A compiled transform.
#[derive(Debug, Clone)]
pub(crate) enum Transform {
    Trim,
    Upper,
    Lower,
    Title,
    Date(DateFormat),
    DateTime(DateTimeFormat),
    Number {
        decimals: u32,
        as_number: bool,
    },
    Money(CurrencySource),
    Convert {
        from: CurrencySource,
        to: CurrencySource,
        /// The date whose rate converts (a path into the record).
        date: Read,
    },
    Lookup(Arc<LookupTable>),
    Default(Value),
    Concat(String),
    Split {
        separator: String,
        index: i64,
    },
    Replace {
        pattern: Arc<regex::Regex>,
        with: String,
        /// The pattern as a set of characters, when it is one character class and `with`
        /// has no `$` reference: replacing is then a scan of the characters.
        class: Option<Arc<CharClass>>,
    },
    Truncate(usize),
    Country(CountryFormat),
    State {
        to: StateFormat,
        country: Option<Read>,
    },
}

/// What transforms may read besides the value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cx<'a> {
    /// The record (or line) the field's JSONPaths start from.
    pub record: &'a Value,
    pub entity: Option<&'a Entity>,
    /// The exchange rates given at map time.
    pub rates: Option<&'a Rates>,
    /// The values of the field list's plain source paths in `record` (see `Reads`).
    pub slots: &'a [Option<&'a Value>],
}

impl Transform {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Transform::Trim => "trim",
            Transform::Upper => "upper",
            Transform::Lower => "lower",
            Transform::Title => "title",
            Transform::Date(_) => "date",
            Transform::DateTime(_) => "datetime",
            Transform::Number { .. } => "number",
            Transform::Money(_) => "money",
            Transform::Convert { .. } => "currency",
            Transform::Lookup(_) => "lookup",
            Transform::Default(_) => "default",
            Transform::Concat(_) => "concat",
            Transform::Split { .. } => "split",
            Transform::Replace { .. } => "replace",
            Transform::Truncate(_) => "truncate",
            Transform::Country(_) => "country",
            Transform::State { .. } => "state",
        }
    }

    /// Turns the plain source paths this transform reads into slots of `reads`.
    pub(crate) fn intern_reads(&mut self, reads: &mut Reads) {
        match self {
            Transform::State {
                country: Some(p), ..
            } => reads.intern(p),
            Transform::Money(CurrencySource::Path(p)) => reads.intern(p),
            Transform::Convert { from, to, date } => {
                for c in [from, to] {
                    if let CurrencySource::Path(p) = c {
                        reads.intern(p);
                    }
                }
                reads.intern(date);
            }
            _ => {}
        }
    }

    /// The kind this transform produces from `input`, or why it cannot take it.
    pub(crate) fn check(&self, input: Kind) -> Result<Kind, String> {
        let accepts = |ok: &[Kind], out: Kind| -> Result<Kind, String> {
            if input == Kind::Any || ok.contains(&input) {
                Ok(out)
            } else {
                Err(format!(
                    "transform `{}` needs {}, but gets {}",
                    self.name(),
                    ok.iter().map(|k| k.name()).collect::<Vec<_>>().join(" or "),
                    input.name()
                ))
            }
        };
        match self {
            Transform::Trim
            | Transform::Upper
            | Transform::Lower
            | Transform::Title
            | Transform::Split { .. }
            | Transform::Replace { .. }
            | Transform::Truncate(_)
            | Transform::Country(_)
            | Transform::State { .. } => accepts(&[Kind::Text], Kind::Text),
            Transform::Date(DateFormat::IntacctLegacy) => accepts(
                &[Kind::Date, Kind::DateTime, Kind::Text, Kind::Object],
                Kind::Object,
            ),
            Transform::Date(_) => accepts(
                &[Kind::Date, Kind::DateTime, Kind::Text, Kind::Object],
                Kind::Date,
            ),
            Transform::DateTime(_) => accepts(&[Kind::DateTime, Kind::Text], Kind::DateTime),
            Transform::Number { .. } | Transform::Money(_) | Transform::Convert { .. } => {
                accepts(&[Kind::Number, Kind::Text], Kind::Number)
            }
            Transform::Lookup(_) => accepts(&[Kind::Text, Kind::Number, Kind::Bool], Kind::Any),
            Transform::Default(v) => Ok(if input == Kind::Any {
                kind_of_json(v)
            } else {
                input
            }),
            Transform::Concat(_) => accepts(&[Kind::List], Kind::Text),
        }
    }

    /// Applies the transform. Empty values pass through untouched, except through `default`.
    pub(crate) fn apply<'a>(&self, v: Val<'a>, cx: &Cx<'a>) -> Result<Val<'a>, String> {
        if v.is_empty() && !matches!(self, Transform::Default(_) | Transform::Concat(_)) {
            return Ok(v);
        }
        match self {
            Transform::Trim => Ok(map_text(v, |s| match s {
                Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                Cow::Owned(o) if o.trim().len() == o.len() => Cow::Owned(o),
                Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
            })),
            Transform::Upper => Ok(map_text(v, |s| change_case(s, true))),
            Transform::Lower => Ok(map_text(v, |s| change_case(s, false))),
            Transform::Title => Ok(map_text(v, |s| Cow::Owned(title_case(&s)))),
            Transform::Date(f) => {
                let d = parse_date(&v).ok_or_else(|| format!("{} is not a date", v.describe()))?;
                Ok(format_date(d, *f))
            }
            Transform::DateTime(f) => {
                let text = v.text().ok_or("not a datetime")?;
                let dt =
                    parse_datetime(&text).ok_or_else(|| format!("`{text}` is not a datetime"))?;
                Ok(Val::Text(Cow::Owned(format_datetime(dt, *f))))
            }
            Transform::Number {
                decimals,
                as_number,
            } => {
                let d = decimal(&v)?;
                let d = fixed(d, *decimals);
                number_out(d, *as_number)
            }
            Transform::Money(cur) => {
                let amount = decimal(&v)?;
                let code = currency(cur, cx)?;
                let m = Money::new(amount, code).rounded();
                Ok(Val::Text(Cow::Owned(
                    fixed(m.amount, code.minor_units()).to_string(),
                )))
            }
            Transform::Convert { from, to, date } => {
                let amount = decimal(&v)?;
                let from = currency(from, cx)?;
                let to = currency(to, cx)?;
                let converted = convert(Money::new(amount, from), to, date, cx)?;
                Ok(Val::Text(Cow::Owned(
                    fixed(converted.amount, to.minor_units()).to_string(),
                )))
            }
            Transform::Lookup(table) => {
                let found = v
                    .with_text(|key| match table.get(key) {
                        Some(out) => Ok(Some(out)),
                        None => match &table.default {
                            Some(d) => Ok(Some(d)),
                            None if table.passthrough => Ok(None),
                            None => Err(format!(
                                "`{key}` is not in lookup table `{}` (and it has no default)",
                                table.name
                            )),
                        },
                    })
                    .ok_or("lookup needs a text, number or true/false value")??;
                Ok(match found {
                    Some(out) => Val::Owned(out.clone()),
                    None => v,
                })
            }
            Transform::Default(d) => Ok(if v.is_empty() {
                Val::Owned(d.clone())
            } else {
                v
            }),
            Transform::Concat(sep) => {
                let parts: Vec<Cow<'_, str>> = match &v {
                    Val::List(items) => items.iter().filter_map(Val::text).collect(),
                    Val::Json(Value::Array(items)) | Val::Owned(Value::Array(items)) => items
                        .iter()
                        .filter_map(|i| Val::Json(i).text().map(|t| Cow::Owned(t.into_owned())))
                        .collect(),
                    other => other.text().into_iter().collect(),
                };
                let joined = parts
                    .iter()
                    .map(|p| p.trim())
                    .filter(|p| !p.is_empty())
                    .collect::<Vec<_>>()
                    .join(sep);
                Ok(if joined.is_empty() {
                    Val::Null
                } else {
                    Val::Text(Cow::Owned(joined))
                })
            }
            Transform::Split { separator, index } => {
                let text = v.text().ok_or("split needs text")?;
                let sep = separator.as_str();
                // A one-character separator splits the same as that character, which is
                // searched for with memchr instead of a substring search.
                let mut chars = sep.chars();
                let one = match (chars.next(), chars.next()) {
                    (Some(c), None) => Some(c),
                    _ => None,
                };
                let part = if *index < 0 {
                    usize::try_from(-(index + 1)).ok().and_then(|i| match one {
                        Some(c) => text.rsplit(c).nth(i),
                        None => text.rsplit(sep).nth(i),
                    })
                } else {
                    usize::try_from(*index).ok().and_then(|i| match one {
                        Some(c) => text.split(c).nth(i),
                        None => text.split(sep).nth(i),
                    })
                };
                Ok(match part.map(str::trim) {
                    Some(p) if !p.is_empty() => Val::Text(Cow::Owned(p.to_owned())),
                    _ => Val::Null,
                })
            }
            Transform::Replace {
                pattern,
                with,
                class,
            } => {
                if !v.has_text() {
                    return Err("replace needs text".into());
                }
                // Text the pattern does not match stays as it is (borrowed, not copied).
                Ok(map_text(v, |s| {
                    let replaced = match class {
                        Some(c) => c.replace_all(&s, with),
                        None => match pattern.replace_all(&s, with.as_str()) {
                            Cow::Owned(o) => Some(o),
                            Cow::Borrowed(_) => None,
                        },
                    };
                    replaced.map_or(s, Cow::Owned)
                }))
            }
            Transform::Truncate(n) => Ok(map_text(v, |s| truncate(s, *n))),
            Transform::Country(f) => {
                let text = v.text().ok_or("country needs text")?;
                let c = region::country(&text)
                    .ok_or_else(|| format!("`{text}` is not a known country"))?;
                Ok(Val::Text(Cow::Borrowed(region::format_country(c, *f))))
            }
            Transform::State { to, country } => {
                let text = v.text().ok_or("state needs text")?;
                let cc = match country {
                    Some(p) => match p.select(cx.record, cx.slots) {
                        Selected::One(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
                        _ => None,
                    },
                    None => None,
                };
                let s = region::state(&text, cc)?;
                Ok(Val::Text(Cow::Borrowed(region::format_state(&s, *to))))
            }
        }
    }
}

/// The kind of a literal value (a `const`, a `default`).
pub(crate) fn kind_of_json(v: &Value) -> Kind {
    match v {
        Value::String(_) => Kind::Text,
        Value::Number(_) => Kind::Number,
        Value::Bool(_) => Kind::Bool,
        Value::Array(_) => Kind::List,
        Value::Object(_) => Kind::Object,
        Value::Null => Kind::Any,
    }
}

fn map_text<'a>(v: Val<'a>, f: impl FnOnce(Cow<'a, str>) -> Cow<'a, str>) -> Val<'a> {
    let cow: Cow<'a, str> = match v {
        Val::Json(Value::String(s)) => Cow::Borrowed(s.as_str()),
        Val::Text(t) => t,
        Val::Owned(Value::String(s)) => Cow::Owned(s),
        other => match other.text() {
            Some(t) => Cow::Owned(t.into_owned()),
            None => return other,
        },
    };
    Val::Text(f(cow))
}

/// `to_uppercase` / `to_lowercase`, without a copy when nothing changes. ASCII text changes
/// byte by byte (as those functions change it), in place when it is already owned.
fn change_case(s: Cow<'_, str>, upper: bool) -> Cow<'_, str> {
    if s.is_ascii() {
        let changes = |b: &u8| {
            if upper {
                b.is_ascii_lowercase()
            } else {
                b.is_ascii_uppercase()
            }
        };
        if !s.as_bytes().iter().any(changes) {
            return s;
        }
        let mut o = s.into_owned();
        if upper {
            o.make_ascii_uppercase();
        } else {
            o.make_ascii_lowercase();
        }
        return Cow::Owned(o);
    }
    // Outside ASCII no cheap test is exact (titlecase letters such as 'ᾈ' are neither upper
    // nor lower case, yet both conversions change them), so convert and compare.
    let changed = if upper {
        s.to_uppercase()
    } else {
        s.to_lowercase()
    };
    if changed == *s {
        s
    } else {
        Cow::Owned(changed)
    }
}

fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = c.is_whitespace() || c == '-';
        }
    }
    out
}

/// At most `n` characters (not bytes: names are often not ASCII).
pub(crate) fn truncate(s: Cow<'_, str>, n: usize) -> Cow<'_, str> {
    // No more bytes than the limit: no more characters either, nothing to count.
    if s.len() <= n {
        return s;
    }
    match s.char_indices().nth(n) {
        None => s,
        Some((cut, _)) => match s {
            Cow::Borrowed(b) => Cow::Borrowed(&b[..cut]),
            Cow::Owned(mut o) => {
                o.truncate(cut);
                Cow::Owned(o)
            }
        },
    }
}

/// Parses an amount exactly: JSON numbers through their text, never through a float.
pub(crate) fn decimal(v: &Val<'_>) -> Result<Decimal, String> {
    v.with_text(|text| {
        let t = text.trim();
        Decimal::from_str(t)
            .or_else(|_| Decimal::from_scientific(t))
            .map_err(|_| format!("`{t}` is not a number"))
    })
    .ok_or("not a number")?
}

/// Rounded half away from zero to exactly `dp` places (`12.5` → `12.50`).
fn fixed(d: Decimal, dp: u32) -> Decimal {
    let mut r = d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(dp);
    r
}

fn number_out<'a>(d: Decimal, as_number: bool) -> Result<Val<'a>, String> {
    let text = d.to_string();
    if !as_number {
        return Ok(Val::Text(Cow::Owned(text)));
    }
    // A JSON number is read as a double by most parsers: refuse amounts a double would change.
    let n: Number = serde_json::from_str(&text).map_err(|e| format!("`{text}`: {e}"))?;
    let back = Decimal::from_str(&n.to_string())
        .or_else(|_| Decimal::from_scientific(&n.to_string()))
        .map_err(|_| format!("`{text}` cannot be written as a JSON number"))?;
    if back != d {
        return Err(format!(
            "`{text}` has too many digits for a JSON number; keep it as text"
        ));
    }
    Ok(Val::Owned(Value::Number(n)))
}

fn currency(src: &CurrencySource, cx: &Cx<'_>) -> Result<CurrencyCode, String> {
    match src {
        CurrencySource::Code(c) => Ok(*c),
        CurrencySource::EntityBase => cx
            .entity
            .map(|e| e.base_currency)
            .ok_or_else(|| "no entity was routed, so there is no base currency".to_owned()),
        CurrencySource::Path(p) => match p.select(cx.record, cx.slots) {
            Selected::One(Value::String(s)) => CurrencyCode::parse(s).map_err(|e| e.to_string()),
            _ => Err("the record has no currency code".to_owned()),
        },
    }
}

/// Converts at the rate given at map time for the record's date. No rate, no conversion: the
/// error names the pair and the date, and the record is parked until the rate exists.
fn convert(m: Money, to: CurrencyCode, date: &Read, cx: &Cx<'_>) -> Result<Money, String> {
    if m.currency == to {
        return Ok(m.rounded());
    }
    let day = match date.select(cx.record, cx.slots) {
        Selected::One(v) => parse_date(&Val::Json(v)),
        _ => None,
    }
    .ok_or("the record has no date to take the exchange rate of")?;
    cx.rates
        .ok_or_else(|| {
            format!(
                "no {}→{to} exchange rate on {day}: no rates were given at map time",
                m.currency
            )
        })?
        .convert(m, to, day)
        .map_err(|e| e.to_string())
}

/// Reads a date written by either system ([`datetime::parse_date`]'s forms) or Intacct's
/// legacy `{year, month, day}`, whose parts may be numbers or text.
pub(crate) fn parse_date(v: &Val<'_>) -> Option<NaiveDate> {
    if let Some(Value::Object(m)) = v.json() {
        let part = |k: &str| -> Option<i64> {
            match m.get(k)? {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
        };
        return datetime::legacy_date_from_parts(part("year")?, part("month")?, part("day")?);
    }
    datetime::parse_date(&v.text()?).ok()
}

/// Intacct's legacy date element, keys in place and in element order: a record clones it
/// instead of hashing `year`, `month` and `day` each time.
static LEGACY_DATE: LazyLock<Map<String, Value>> = LazyLock::new(|| {
    let mut m = Map::new();
    for (k, _) in datetime::legacy_date_parts(NaiveDate::MIN) {
        m.insert(k.to_owned(), Value::Null);
    }
    m
});

/// Reads a datetime in any form either system writes ([`datetime::parse_datetime`]);
/// Intacct's offset-less forms are taken as UTC.
pub(crate) fn parse_datetime(t: &str) -> Option<DateTime<FixedOffset>> {
    datetime::parse_datetime(t).ok()
}

fn format_date<'a>(d: NaiveDate, f: DateFormat) -> Val<'a> {
    match f {
        DateFormat::Salesforce => Val::Text(Cow::Owned(datetime::format_salesforce_date(d))),
        DateFormat::Intacct => Val::Text(Cow::Owned(datetime::format_intacct_date(d))),
        DateFormat::IntacctLegacy => {
            let mut m = LEGACY_DATE.clone();
            for ((_, slot), (_, part)) in m.iter_mut().zip(datetime::legacy_date_parts(d)) {
                *slot = Value::String(part);
            }
            Val::Owned(Value::Object(m))
        }
    }
}

fn format_datetime(dt: DateTime<FixedOffset>, f: DateTimeFormat) -> String {
    let utc = dt.to_utc();
    match f {
        DateTimeFormat::Salesforce => datetime::format_salesforce_datetime(utc),
        DateTimeFormat::Intacct => datetime::format_intacct_datetime(&utc),
        DateTimeFormat::Rfc3339 => datetime::format_rfc3339(utc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::SourcePath;
    use chrono::Datelike;
    use proptest::prelude::*;
    use serde_json::json;

    fn cx(record: &Value) -> Cx<'_> {
        Cx {
            record,
            entity: None,
            rates: None,
            slots: &[],
        }
    }

    fn run(t: Transform, v: Value) -> Result<Value, String> {
        let rec = json!({"CurrencyIsoCode": "JPY"});
        t.apply(Val::Owned(v), &cx(&rec)).map(Val::into_json)
    }

    #[test]
    fn text_transforms() {
        assert_eq!(run(Transform::Trim, json!("  Acme  ")), Ok(json!("Acme")));
        assert_eq!(run(Transform::Upper, json!("acme")), Ok(json!("ACME")));
        assert_eq!(run(Transform::Lower, json!("ÉCOLE")), Ok(json!("école")));
        assert_eq!(
            run(Transform::Title, json!("mary-jane o'neil")),
            Ok(json!("Mary-Jane O'neil"))
        );
        assert_eq!(
            run(Transform::Truncate(3), json!("Zürich")),
            Ok(json!("Zür"))
        );
        assert_eq!(
            run(
                Transform::Split {
                    separator: "\n".into(),
                    index: -1
                },
                json!("1 Main St\nSuite 4")
            ),
            Ok(json!("Suite 4"))
        );
        let pattern = Arc::new(regex::Regex::new(r"[^0-9+]").unwrap());
        for class in [None, CharClass::of(r"[^0-9+]").map(Arc::new)] {
            assert_eq!(
                run(
                    Transform::Replace {
                        pattern: pattern.clone(),
                        with: String::new(),
                        class,
                    },
                    json!("+1 (415) 555-0100")
                ),
                Ok(json!("+14155550100"))
            );
        }
        assert_eq!(
            run(
                Transform::Concat(" ".into()),
                json!(["Ada", null, " Lovelace "])
            ),
            Ok(json!("Ada Lovelace"))
        );
    }

    #[test]
    fn borrowed_text_is_not_copied_by_trim() {
        let v = json!("  Acme ");
        let rec = json!({});
        let out = Transform::Trim.apply(Val::Json(&v), &cx(&rec)).unwrap();
        assert!(matches!(out, Val::Text(Cow::Borrowed("Acme"))));
    }

    #[test]
    fn dates_in_both_systems_formats() {
        let d = |f, v| run(Transform::Date(f), v);
        assert_eq!(
            d(DateFormat::Intacct, json!("2026-01-31")),
            Ok(json!("01/31/2026"))
        );
        assert_eq!(
            d(DateFormat::Salesforce, json!("01/31/2026")),
            Ok(json!("2026-01-31"))
        );
        assert_eq!(
            d(
                DateFormat::IntacctLegacy,
                json!("2026-03-05T23:10:00.000+0000")
            ),
            Ok(json!({"year": "2026", "month": "03", "day": "05"}))
        );
        assert_eq!(
            d(
                DateFormat::Salesforce,
                json!({"year": "2026", "month": "3", "day": "5"})
            ),
            Ok(json!("2026-03-05"))
        );
        assert!(d(DateFormat::Intacct, json!("31/01/2026")).is_err());
        let t = |f, v| run(Transform::DateTime(f), v);
        assert_eq!(
            t(
                DateTimeFormat::Intacct,
                json!("2026-01-31T17:05:00.000+0100")
            ),
            Ok(json!("01/31/2026 16:05:00"))
        );
        assert_eq!(
            t(DateTimeFormat::Salesforce, json!("01/31/2026 16:05:00")),
            Ok(json!("2026-01-31T16:05:00.000+0000"))
        );
    }

    #[test]
    fn numbers_and_money_never_go_through_floats() {
        let n = |decimals, as_number, v| {
            run(
                Transform::Number {
                    decimals,
                    as_number,
                },
                v,
            )
        };
        assert_eq!(n(2, false, json!("1234.5")), Ok(json!("1234.50")));
        assert_eq!(n(0, false, json!(2.5)), Ok(json!("3")));
        assert_eq!(n(2, true, json!("0.125")), Ok(json!(0.13)));
        assert!(n(2, true, json!("12345678901234567890.12")).is_err());
        let usd = CurrencyCode::parse("USD").unwrap();
        assert_eq!(
            run(Transform::Money(CurrencySource::Code(usd)), json!(45000)),
            Ok(json!("45000.00"))
        );
        let jpy_from_record = Read::Path(SourcePath::Direct(
            vec![Box::from("CurrencyIsoCode")].into(),
        ));
        assert_eq!(
            run(
                Transform::Money(CurrencySource::Path(jpy_from_record)),
                json!("1234.5")
            ),
            Ok(json!("1235"))
        );
        assert!(run(Transform::Money(CurrencySource::EntityBase), json!("1")).is_err());
    }

    #[test]
    fn lookup_tables_with_default_and_passthrough() {
        let mut table = LookupTable {
            name: "terms".into(),
            values: [("net 30".to_owned(), json!("N30"))].into_iter().collect(),
            default: None,
            case_insensitive: true,
            passthrough: false,
        };
        let t = |table: &LookupTable, v| {
            run(
                Transform::Lookup(Arc::new(LookupTable {
                    name: table.name.clone(),
                    values: table.values.clone(),
                    default: table.default.clone(),
                    case_insensitive: table.case_insensitive,
                    passthrough: table.passthrough,
                })),
                v,
            )
        };
        assert_eq!(t(&table, json!(" NET 30 ")), Ok(json!("N30")));
        assert!(
            t(&table, json!("Net 45"))
                .unwrap_err()
                .contains("not in lookup table `terms`")
        );
        table.passthrough = true;
        assert_eq!(t(&table, json!("Net 45")), Ok(json!("Net 45")));
        table.default = Some(json!("N60"));
        assert_eq!(t(&table, json!("Net 45")), Ok(json!("N60")));
        assert_eq!(
            run(Transform::Default(json!("n/a")), json!(null)),
            Ok(json!("n/a"))
        );
        assert_eq!(
            run(Transform::Default(json!("n/a")), json!("x")),
            Ok(json!("x"))
        );
    }

    #[test]
    fn countries_and_states() {
        assert_eq!(
            run(
                Transform::Country(CountryFormat::Iso2),
                json!("United States")
            ),
            Ok(json!("US"))
        );
        assert_eq!(
            run(Transform::Country(CountryFormat::Iso3), json!("fr")),
            Ok(json!("FRA"))
        );
        assert!(run(Transform::Country(CountryFormat::Iso2), json!("Narnia")).is_err());
        assert_eq!(
            run(
                Transform::State {
                    to: StateFormat::Code,
                    country: None
                },
                json!("Ontario")
            ),
            Ok(json!("ON"))
        );
        let rec = json!({"Country": "Australia"});
        let country = Some(Read::Path(SourcePath::Direct(
            vec![Box::from("Country")].into(),
        )));
        let out = Transform::State {
            to: StateFormat::Name,
            country,
        }
        .apply(Val::Owned(json!("WA")), &cx(&rec))
        .map(Val::into_json);
        assert_eq!(out, Ok(json!("Western Australia")));
    }

    #[test]
    fn kinds_are_checked() {
        assert!(
            Transform::Upper
                .check(Kind::Number)
                .unwrap_err()
                .contains("needs text")
        );
        assert_eq!(
            Transform::Date(DateFormat::Intacct).check(Kind::DateTime),
            Ok(Kind::Date)
        );
        assert_eq!(
            Transform::Concat(",".into()).check(Kind::List),
            Ok(Kind::Text)
        );
        assert!(Transform::Concat(",".into()).check(Kind::Text).is_err());
        assert_eq!(Transform::Trim.check(Kind::Any), Ok(Kind::Text));
    }

    #[test]
    fn only_single_classes_are_scanned() {
        for p in [
            r"[^A-Za-z0-9]",
            r"\s",
            r"[[:punct:]]",
            r"(?i)[a-z]",
            r".",
            r"\p{Greek}",
        ] {
            assert!(CharClass::of(p).is_some(), "{p}");
        }
        for p in [
            r"[a-z]+",
            r"-",
            r"ab",
            r"^x",
            r"[a-z]|x",
            r"(?-u)[\x80-\xFF]",
            r"\bx",
        ] {
            assert!(CharClass::of(p).is_none(), "{p}");
        }
    }

    proptest! {
        /// The character scan replaces exactly what the regex engine replaces.
        #[test]
        fn class_scans_replace_as_the_regex_does(
            text in "\\PC{0,40}|[ -~]{0,40}|[a-zA-Z0-9 ._-]{0,20}",
            which in 0usize..8,
            with in "|-|[ab]{1,3}|é",
        ) {
            let patterns = [
                r"[^A-Za-z0-9]",
                r"[^A-Z0-9-]",
                r"[^0-9+]",
                r"\s",
                r"(?i)[k-s]",
                r"[\p{L}&&[^a-z]]",
                r".",
                r"[éÉ\u{1F600}-\u{1F64F}]",
            ];
            let re = regex::Regex::new(patterns[which]).unwrap();
            let class = CharClass::of(patterns[which]).unwrap();
            let want = match re.replace_all(&text, with.as_str()) {
                Cow::Owned(o) => Some(o),
                Cow::Borrowed(_) => None,
            };
            prop_assert_eq!(class.replace_all(&text, &with), want);
        }


        #[test]
        fn truncation_never_exceeds_the_limit(s in "\\PC{0,60}", n in 0usize..40) {
            let out = truncate(Cow::Borrowed(&s), n);
            prop_assert!(out.chars().count() <= n);
            prop_assert!(s.starts_with(&*out));
            if s.chars().count() <= n {
                prop_assert_eq!(&*out, s.as_str());
            }
        }

        #[test]
        fn money_formatting_round_trips(units in -10_000_000_000i64..10_000_000_000, scale in 0u32..6) {
            let amount = Decimal::new(units, scale);
            let usd = CurrencyCode::parse("USD").unwrap();
            let out = run(Transform::Money(CurrencySource::Code(usd)), json!(amount.to_string())).unwrap();
            let text = out.as_str().unwrap().to_owned();
            // Exactly two decimals, and reading it back gives the rounded amount.
            prop_assert_eq!(text.split('.').nth(1).map(str::len), Some(2));
            let back = Decimal::from_str(&text).unwrap();
            prop_assert_eq!(back, Money::new(amount, usd).rounded().amount);
            // Formatting the formatted text again changes nothing.
            let again = run(Transform::Money(CurrencySource::Code(usd)), json!(text.clone())).unwrap();
            prop_assert_eq!(again.as_str().unwrap(), text.as_str());
        }

        #[test]
        fn intacct_dates_round_trip(days in 0i64..60_000) {
            let d = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap() + chrono::Duration::days(days);
            let sf = d.format("%Y-%m-%d").to_string();
            let intacct = run(Transform::Date(DateFormat::Intacct), json!(sf.clone())).unwrap();
            let back = run(Transform::Date(DateFormat::Salesforce), intacct).unwrap();
            prop_assert_eq!(back, json!(sf));
        }

        #[test]
        fn legacy_dates_are_written_as_before(days in -800_000i64..800_000) {
            let d = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Duration::days(days);
            let Val::Owned(out) = format_date(d, DateFormat::IntacctLegacy) else {
                panic!("not a legacy date");
            };
            let mut want = Map::new();
            want.insert("year".into(), Value::String(d.year().to_string()));
            want.insert("month".into(), Value::String(format!("{:02}", d.month())));
            want.insert("day".into(), Value::String(format!("{:02}", d.day())));
            // Text, so that the order of the keys counts too.
            prop_assert_eq!(
                serde_json::to_string(&out).unwrap(),
                serde_json::to_string(&Value::Object(want)).unwrap()
            );
        }

        #[test]
        fn case_changes_as_the_standard_library_does(t in "\\PC{0,20}|[ -~]{0,20}") {
            let (upper, lower) = (t.to_uppercase(), t.to_lowercase());
            prop_assert_eq!(&*change_case(Cow::Borrowed(&t), true), upper.as_str());
            prop_assert_eq!(&*change_case(Cow::Borrowed(&t), false), lower.as_str());
            prop_assert_eq!(&*change_case(Cow::Owned(t.clone()), true), upper.as_str());
        }

        #[test]
        fn case_insensitive_lookups_find_what_lowercasing_finds(
            t in "\\PC{0,12}|[ -~]{0,70}|[ nNeEtT0-9]{0,8}",
        ) {
            let table = LookupTable {
                name: "t".into(),
                values: ["net 30", "ärger", "x", "", "ǆ"]
                    .into_iter()
                    .map(|k| (k.to_owned(), json!(k)))
                    .collect(),
                default: None,
                case_insensitive: true,
                passthrough: false,
            };
            prop_assert_eq!(table.get(&t), table.values.get(&t.trim().to_lowercase()));
        }

        #[test]
        fn numbers_are_read_as_their_text(
            i in any::<i64>(),
            u in any::<u64>(),
            f in any::<f64>(),
        ) {
            let mut numbers = vec![json!(i), json!(u)];
            numbers.extend(Number::from_f64(f).map(Value::Number));
            for n in &numbers {
                let v = Val::Json(n);
                prop_assert_eq!(v.with_text(str::to_owned), v.text().map(Cow::into_owned));
            }
        }

        #[test]
        fn one_character_separators_split_as_text_ones(
            t in "[a-c,;\\n ]{0,20}",
            sep in ",|;|\\n|ab|, ",
            index in -4i64..4,
        ) {
            let got = run(
                Transform::Split { separator: sep.clone(), index },
                json!(t.clone()),
            );
            let part = if index < 0 {
                t.rsplit(sep.as_str()).nth(usize::try_from(-(index + 1)).unwrap())
            } else {
                t.split(sep.as_str()).nth(usize::try_from(index).unwrap())
            };
            let want = match part.map(str::trim) {
                Some(p) if !p.is_empty() => json!(p),
                _ => Value::Null,
            };
            if t.is_empty() {
                prop_assert_eq!(got, Ok(json!(t)));
            } else {
                prop_assert_eq!(got, Ok(want));
            }
        }
    }
}
