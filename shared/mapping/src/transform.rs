//! The closed registry of named transforms. Each is compiled once (arguments parsed, regexes
//! built, lookup tables resolved, input kinds checked) and applied per record on borrowed data
//! where it can: `trim` of a borrowed string is a sub-slice, not a copy.

use std::borrow::Cow;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use lf_domain::{CurrencyCode, Money};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Number, Value};

use crate::path::{Selected, SourcePath};
use crate::region;
use crate::routing::{Entity, Rates};
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
    Path(SourcePath),
    /// The routed entity's base currency.
    EntityBase,
}

/// A lookup table, compiled.
#[derive(Debug)]
pub(crate) struct LookupTable {
    pub name: String,
    pub values: HashMap<String, Value>,
    pub default: Option<Value>,
    pub case_insensitive: bool,
    pub passthrough: bool,
}

impl LookupTable {
    fn get<'v>(&'v self, input: &str) -> Option<&'v Value> {
        if self.case_insensitive {
            self.values.get(&input.trim().to_lowercase())
        } else {
            self.values.get(input)
        }
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
    },
    Truncate(usize),
    Country(CountryFormat),
    State {
        to: StateFormat,
        country: Option<SourcePath>,
    },
}

/// What transforms may read besides the value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cx<'a> {
    /// The record (or line) the field's JSONPaths start from.
    pub record: &'a Value,
    pub entity: Option<&'a Entity>,
    pub rates: Option<&'a Rates>,
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
                Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
            })),
            Transform::Upper => Ok(map_text(v, |s| {
                if s.chars().any(char::is_lowercase) {
                    Cow::Owned(s.to_uppercase())
                } else {
                    s
                }
            })),
            Transform::Lower => Ok(map_text(v, |s| {
                if s.chars().any(char::is_uppercase) {
                    Cow::Owned(s.to_lowercase())
                } else {
                    s
                }
            })),
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
            Transform::Convert { from, to } => {
                let amount = decimal(&v)?;
                let from = currency(from, cx)?;
                let to = currency(to, cx)?;
                let converted = convert(Money::new(amount, from), to, cx)?;
                Ok(Val::Text(Cow::Owned(
                    fixed(converted.amount, to.minor_units()).to_string(),
                )))
            }
            Transform::Lookup(table) => {
                let key = v
                    .text()
                    .ok_or("lookup needs a text, number or true/false value")?;
                match table.get(&key) {
                    Some(out) => Ok(Val::Owned(out.clone())),
                    None => match &table.default {
                        Some(d) => Ok(Val::Owned(d.clone())),
                        None if table.passthrough => Ok(v.clone()),
                        None => Err(format!(
                            "`{key}` is not in lookup table `{}` (and it has no default)",
                            table.name
                        )),
                    },
                }
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
                let part = if *index < 0 {
                    usize::try_from(-(index + 1))
                        .ok()
                        .and_then(|i| text.rsplit(sep).nth(i))
                } else {
                    usize::try_from(*index)
                        .ok()
                        .and_then(|i| text.split(sep).nth(i))
                };
                Ok(match part.map(str::trim) {
                    Some(p) if !p.is_empty() => Val::Text(Cow::Owned(p.to_owned())),
                    _ => Val::Null,
                })
            }
            Transform::Replace { pattern, with } => {
                let text = v.text().ok_or("replace needs text")?;
                Ok(Val::Text(Cow::Owned(
                    pattern.replace_all(&text, with.as_str()).into_owned(),
                )))
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
                    Some(p) => match p.select(cx.record) {
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
    let text = v.text().ok_or("not a number")?;
    let t = text.trim();
    Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .map_err(|_| format!("`{t}` is not a number"))
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
        CurrencySource::Path(p) => match p.select(cx.record) {
            Selected::One(Value::String(s)) => CurrencyCode::parse(s).map_err(|e| e.to_string()),
            _ => Err("the record has no currency code".to_owned()),
        },
    }
}

/// Converts through the entity's base currency: units of base per unit of each currency.
fn convert(m: Money, to: CurrencyCode, cx: &Cx<'_>) -> Result<Money, String> {
    if m.currency == to {
        return Ok(m.rounded());
    }
    let entity = cx
        .entity
        .ok_or("currency conversion needs a routed entity (its rates)")?;
    let rate = |c: CurrencyCode| -> Result<Decimal, String> {
        if c == entity.base_currency {
            return Ok(Decimal::ONE);
        }
        cx.rates
            .and_then(|r| r.get(&c))
            .or_else(|| entity.rates.get(&c))
            .copied()
            .ok_or_else(|| {
                format!(
                    "no {c}→{} rate for entity {} (rate type {})",
                    entity.base_currency,
                    entity.id,
                    entity.exchange_rate_type.as_deref().unwrap_or("default")
                )
            })
    };
    let from_rate = rate(m.currency)?;
    let to_rate = rate(to)?;
    let factor = from_rate
        .checked_div(to_rate)
        .ok_or_else(|| format!("the {to} rate is zero"))?;
    m.convert(to, factor).map_err(|e| e.to_string())
}

/// Reads a date written by either system: `2026-01-31`, `01/31/2026`, an ISO datetime, or
/// Intacct's legacy `{year, month, day}`.
pub(crate) fn parse_date(v: &Val<'_>) -> Option<NaiveDate> {
    if let Some(Value::Object(m)) = v.json() {
        let part = |k: &str| -> Option<i64> {
            match m.get(k)? {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
        };
        return NaiveDate::from_ymd_opt(
            i32::try_from(part("year")?).ok()?,
            u32::try_from(part("month")?).ok()?,
            u32::try_from(part("day")?).ok()?,
        );
    }
    let text = v.text()?;
    let t = text.trim();
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%m/%d/%Y"))
        .ok()
        .or_else(|| parse_datetime(t).map(|dt| dt.date_naive()))
}

/// Reads a datetime: RFC 3339, Salesforce (`2026-01-31T17:05:00.000+0000`) or Intacct
/// (`01/31/2026 17:05:00`, taken as UTC).
pub(crate) fn parse_datetime(t: &str) -> Option<DateTime<FixedOffset>> {
    let t = t.trim();
    DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(t, "%m/%d/%Y %H:%M:%S")
                .ok()
                .map(|n| n.and_utc().fixed_offset())
        })
}

fn format_date<'a>(d: NaiveDate, f: DateFormat) -> Val<'a> {
    match f {
        DateFormat::Salesforce => Val::Text(Cow::Owned(d.format("%Y-%m-%d").to_string())),
        DateFormat::Intacct => Val::Text(Cow::Owned(d.format("%m/%d/%Y").to_string())),
        DateFormat::IntacctLegacy => {
            let mut m = Map::new();
            m.insert("year".into(), Value::String(d.year().to_string()));
            m.insert("month".into(), Value::String(format!("{:02}", d.month())));
            m.insert("day".into(), Value::String(format!("{:02}", d.day())));
            Val::Owned(Value::Object(m))
        }
    }
}

fn format_datetime(dt: DateTime<FixedOffset>, f: DateTimeFormat) -> String {
    let utc = dt.with_timezone(&Utc);
    match f {
        DateTimeFormat::Salesforce => utc.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
        DateTimeFormat::Intacct => utc.format("%m/%d/%Y %H:%M:%S").to_string(),
        DateTimeFormat::Rfc3339 => utc.to_rfc3339_opts(SecondsFormat::Secs, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn cx(record: &Value) -> Cx<'_> {
        Cx {
            record,
            entity: None,
            rates: None,
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
        let re = Arc::new(regex::Regex::new(r"[^0-9+]").unwrap());
        assert_eq!(
            run(
                Transform::Replace {
                    pattern: re,
                    with: String::new()
                },
                json!("+1 (415) 555-0100")
            ),
            Ok(json!("+14155550100"))
        );
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
        let jpy_from_record = SourcePath::Direct(vec![Box::from("CurrencyIsoCode")].into());
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
            values: [("net 30".to_owned(), json!("N30"))].into(),
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
        let country = Some(SourcePath::Direct(vec![Box::from("Country")].into()));
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

    proptest! {
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
    }
}
