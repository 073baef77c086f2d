//! Binds a parsed query to the schema (every name checked before any row is read) and runs it
//! over the store.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use lf_domain::SalesforceId;
use serde_json::{Map, Value, json};

use super::SoqlError;
use super::parser::{AggFunc, CmpOp, Cond, InSource, Literal, OrderItem, Query, SelectItem};
use crate::schema::{FieldDef, FieldType, ObjectDef, Schema};
use crate::store::{Record, Store, is_deleted};
use crate::value::{parse_date, parse_datetime};

/// How to run a query.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// `queryAll`: include deleted records.
    pub include_deleted: bool,
    /// API version for record URLs, e.g. `62.0`.
    pub version: String,
    /// "Now", for relative date literals (the org's time zone is UTC).
    pub now: DateTime<Utc>,
}

/// A query's result before paging.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryOutput {
    Records(Vec<Value>),
    /// `SELECT COUNT() ...`: only a size.
    Count(usize),
}

/// Parses and runs `soql`.
pub fn execute(store: &Store, soql: &str, opts: &QueryOptions) -> Result<QueryOutput, SoqlError> {
    let q = super::parse(soql)?;
    let object = Schema::get()
        .object(&q.from)
        .ok_or_else(|| SoqlError::no_such_object(&q.from))?;
    let ctx = Ctx {
        store,
        opts,
        today: opts.now.date_naive(),
    };
    let include_deleted = opts.include_deleted || q.all_rows;
    if let Some(offset) = q.offset
        && offset > 2000
    {
        return Err(SoqlError::new(
            "NUMBER_OUTSIDE_VALID_RANGE",
            format!("Maximum SOQL offset allowed is 2000 (got {offset})"),
        ));
    }
    let bound = ctx.bind_query(object, &q, false)?;
    // `Id = …` or `Id IN (…)` among the filter's conjuncts: those rows are looked up rather
    // than the table scanned (in id order, as the scan gives them); the whole filter still
    // decides.
    let candidates: Box<dyn Iterator<Item = &Record>> =
        match bound.filter.as_ref().and_then(id_candidates) {
            Some(mut ids) => {
                ids.sort_unstable();
                ids.dedup();
                Box::new(ids.into_iter().filter_map(|id| store.row(object, id)))
            }
            None => Box::new(store.rows(object.name)),
        };
    let mut rows: Vec<&Record> = candidates
        .filter(|r| include_deleted || !is_deleted(r))
        .filter(|r| bound.filter.as_ref().is_none_or(|c| ctx.test(c, r)))
        .collect();
    if bound.count_only {
        let n = rows.len();
        let n = n.saturating_sub(q.offset.unwrap_or(0) as usize);
        let n = q.limit.map_or(n, |l| n.min(l as usize));
        return Ok(QueryOutput::Count(n));
    }
    if bound.aggregate {
        // Groups come out in the order their first row is met, so sorting the rows first
        // orders the groups by the grouped fields ORDER BY names.
        ctx.sort(&mut rows, &bound.order);
        let out = ctx.aggregate(&bound, &rows);
        return Ok(QueryOutput::Records(page(out, q.offset, q.limit)));
    }
    ctx.sort(&mut rows, &bound.order);
    let rows = page(rows, q.offset, q.limit);
    Ok(QueryOutput::Records(
        rows.into_iter()
            .map(|r| ctx.render(object, r, &bound.items))
            .collect(),
    ))
}

/// The ids a filter limits its rows to, when one of its conjuncts is `Id = …` or `Id IN (…)`.
fn id_candidates(c: &BCond) -> Option<Vec<&str>> {
    let is_id = |fp: &FieldPath| fp.hops.is_empty() && fp.field.name == "Id";
    match c {
        BCond::In(fp, false, values, _) if is_id(fp) => Some(
            values
                .iter()
                .filter_map(|v| match v {
                    BValue::Id(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect(),
        ),
        BCond::Cmp(fp, CmpOp::Eq, BValue::Id(s)) if is_id(fp) => Some(vec![s.as_str()]),
        BCond::And(parts) => parts.iter().find_map(id_candidates),
        _ => None,
    }
}

fn page<T>(items: Vec<T>, offset: Option<u64>, limit: Option<u64>) -> Vec<T> {
    let skip = offset.unwrap_or(0) as usize;
    let take = limit.map_or(usize::MAX, |l| l as usize);
    items.into_iter().skip(skip).take(take).collect()
}

/// A field reached from the queried object, through zero or more parent relationships.
#[derive(Debug, Clone)]
struct FieldPath {
    hops: Vec<&'static FieldDef>,
    field: &'static FieldDef,
}

#[derive(Debug)]
enum Item {
    Field(FieldPath),
    Child {
        relationship: &'static str,
        child: &'static ObjectDef,
        parent_field: &'static str,
        query: Box<Bound>,
    },
    Aggregate {
        func: AggFunc,
        path: FieldPath,
        key: String,
    },
}

#[derive(Debug)]
struct Bound {
    items: Vec<Item>,
    filter: Option<BCond>,
    order: Vec<(FieldPath, bool, bool)>,
    group_by: Vec<FieldPath>,
    limit: Option<u64>,
    offset: Option<u64>,
    count_only: bool,
    aggregate: bool,
}

#[derive(Debug)]
enum BCond {
    And(Vec<BCond>),
    Or(Vec<BCond>),
    Not(Box<BCond>),
    Cmp(FieldPath, CmpOp, BValue),
    /// The values, and their text as a set when every value is text (a key lookup then).
    In(FieldPath, bool, Vec<BValue>, Option<HashSet<String>>),
    Like(FieldPath, bool, Vec<LikePart>),
}

/// A literal converted to the type of the field it is compared with.
#[derive(Debug, Clone, PartialEq)]
enum BValue {
    Null,
    Bool(bool),
    Num(f64),
    Text(String),
    Id(String),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    /// `[start, end)` in days, for relative date literals.
    Range(NaiveDate, NaiveDate),
}

#[derive(Debug, Clone, PartialEq)]
enum LikePart {
    Any,
    One,
    Char(char),
}

struct Ctx<'a> {
    store: &'a Store,
    opts: &'a QueryOptions,
    today: NaiveDate,
}

fn no_relationship(name: &str) -> SoqlError {
    SoqlError::new(
        "INVALID_FIELD",
        format!(
            "Didn't understand relationship '{name}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."
        ),
    )
}

impl Ctx<'_> {
    fn bind_path(
        &self,
        object: &'static ObjectDef,
        path: &[String],
    ) -> Result<FieldPath, SoqlError> {
        let schema = Schema::get();
        let mut parts: &[String] = path;
        if parts.len() > 1
            && parts[0].eq_ignore_ascii_case(object.name)
            && object.parent_relationship(&parts[0]).is_none()
        {
            parts = &parts[1..];
        }
        let Some((last, rels)) = parts.split_last() else {
            return Err(SoqlError::new("MALFORMED_QUERY", "empty field path".into()));
        };
        let mut current: Vec<&'static ObjectDef> = vec![object];
        let mut hops = Vec::new();
        for rel in rels {
            let hop = current
                .iter()
                .find_map(|o| o.parent_relationship(rel))
                .ok_or_else(|| no_relationship(rel))?;
            hops.push(hop);
            current = hop
                .reference_to
                .iter()
                .filter_map(|t| schema.object(t))
                .collect();
        }
        let field = current.iter().find_map(|o| o.field(last)).ok_or_else(|| {
            SoqlError::no_such_column(last, current.first().map_or(object.name, |o| o.name))
        })?;
        Ok(FieldPath { hops, field })
    }

    fn bind_query(
        &self,
        object: &'static ObjectDef,
        q: &Query,
        nested: bool,
    ) -> Result<Bound, SoqlError> {
        let mut items = Vec::new();
        let mut count_only = false;
        let mut aggregate = !q.group_by.is_empty();
        let mut expr = 0;
        for item in &q.select {
            match item {
                SelectItem::Field(path) => items.push(Item::Field(self.bind_path(object, path)?)),
                SelectItem::CountAll => count_only = true,
                SelectItem::Aggregate { func, path, alias } => {
                    aggregate = true;
                    let key = match alias {
                        Some(a) => a.clone(),
                        None => {
                            let k = format!("expr{expr}");
                            expr += 1;
                            k
                        }
                    };
                    items.push(Item::Aggregate {
                        func: *func,
                        path: self.bind_path(object, path)?,
                        key,
                    });
                }
                SelectItem::Subquery(sub) => {
                    if nested {
                        return Err(SoqlError::new(
                            "MALFORMED_QUERY",
                            "Nesting of semi join sub-selects is not supported".into(),
                        ));
                    }
                    let rel = object
                        .child_relationship(&sub.from)
                        .ok_or_else(|| no_relationship(&sub.from))?;
                    let child = Schema::get()
                        .object(rel.child)
                        .ok_or_else(|| SoqlError::no_such_object(rel.child))?;
                    items.push(Item::Child {
                        relationship: rel.name,
                        child,
                        parent_field: rel.field,
                        query: Box::new(self.bind_query(child, sub, true)?),
                    });
                }
            }
        }
        if count_only && !items.is_empty() {
            return Err(SoqlError::new(
                "MALFORMED_QUERY",
                "COUNT() cannot be combined with other fields".into(),
            ));
        }
        let group_by = q
            .group_by
            .iter()
            .map(|p| self.bind_path(object, p))
            .collect::<Result<Vec<_>, _>>()?;
        if aggregate {
            for item in &items {
                if let Item::Field(fp) = item
                    && !group_by.iter().any(|g| same_path(g, fp))
                {
                    return Err(SoqlError::new(
                        "MALFORMED_QUERY",
                        format!("Field must be grouped or aggregated: {}", fp.field.name),
                    ));
                }
            }
        }
        let filter = q
            .filter
            .as_ref()
            .map(|c| self.bind_cond(object, c))
            .transpose()?;
        let order = q
            .order_by
            .iter()
            .map(
                |OrderItem {
                     path,
                     descending,
                     nulls_last,
                 }| {
                    Ok((self.bind_path(object, path)?, *descending, *nulls_last))
                },
            )
            .collect::<Result<Vec<_>, SoqlError>>()?;
        Ok(Bound {
            items,
            filter,
            order,
            group_by,
            limit: q.limit,
            offset: q.offset,
            count_only,
            aggregate,
        })
    }

    fn bind_cond(&self, object: &'static ObjectDef, c: &Cond) -> Result<BCond, SoqlError> {
        Ok(match c {
            Cond::And(cs) => BCond::And(
                cs.iter()
                    .map(|c| self.bind_cond(object, c))
                    .collect::<Result<_, _>>()?,
            ),
            Cond::Or(cs) => BCond::Or(
                cs.iter()
                    .map(|c| self.bind_cond(object, c))
                    .collect::<Result<_, _>>()?,
            ),
            Cond::Not(c) => BCond::Not(Box::new(self.bind_cond(object, c)?)),
            Cond::Compare { path, op, value } => {
                let fp = self.bind_path(object, path)?;
                let v = self.bind_literal(fp.field, value)?;
                if matches!(v, BValue::Bool(_) | BValue::Null)
                    && !matches!(op, CmpOp::Eq | CmpOp::Ne)
                {
                    return Err(SoqlError::new(
                        "INVALID_QUERY_FILTER_OPERATOR",
                        format!("invalid operator on field: {}", fp.field.name),
                    ));
                }
                BCond::Cmp(fp, *op, v)
            }
            Cond::In {
                path,
                negated,
                values,
            } => {
                let fp = self.bind_path(object, path)?;
                let list = match values {
                    InSource::List(list) => list
                        .iter()
                        .map(|l| self.bind_literal(fp.field, l))
                        .collect::<Result<Vec<_>, _>>()?,
                    InSource::Query(sub) => self.semi_join(fp.field, sub)?,
                };
                let texts = list
                    .iter()
                    .map(|v| match v {
                        BValue::Text(s) | BValue::Id(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect::<Option<HashSet<String>>>();
                BCond::In(fp, *negated, list, texts)
            }
            Cond::Like {
                path,
                negated,
                pattern,
            } => {
                let fp = self.bind_path(object, path)?;
                if !fp.field.kind.is_text() && !fp.field.kind.is_id() {
                    return Err(SoqlError::new(
                        "INVALID_QUERY_FILTER_OPERATOR",
                        format!(
                            "invalid operator on {} field: {}",
                            fp.field.kind.api_name(),
                            fp.field.name
                        ),
                    ));
                }
                BCond::Like(fp, *negated, like_pattern(pattern))
            }
        })
    }

    /// `Id IN (SELECT AccountId FROM Opportunity WHERE ...)`.
    fn semi_join(&self, field: &FieldDef, sub: &Query) -> Result<Vec<BValue>, SoqlError> {
        let object = Schema::get()
            .object(&sub.from)
            .ok_or_else(|| SoqlError::no_such_object(&sub.from))?;
        let bound = self.bind_query(object, sub, true)?;
        let [Item::Field(fp)] = bound.items.as_slice() else {
            return Err(SoqlError::new(
                "MALFORMED_QUERY",
                "a semi-join sub-select must select exactly one field".into(),
            ));
        };
        if !fp.field.kind.is_id() || !field.kind.is_id() {
            return Err(SoqlError::new(
                "INVALID_FIELD",
                "semi-join sub-selects must select an Id or reference field and compare it with one"
                    .into(),
            ));
        }
        let mut out: Vec<BValue> = self
            .store
            .rows(object.name)
            .filter(|r| !is_deleted(r))
            .filter(|r| bound.filter.as_ref().is_none_or(|c| self.test(c, r)))
            .filter_map(|r| {
                self.value_at(fp, r)
                    .and_then(|v| v.as_str().map(str::to_owned))
            })
            .map(BValue::Id)
            .collect();
        out.dedup();
        Ok(out)
    }

    fn bind_literal(&self, field: &FieldDef, lit: &Literal) -> Result<BValue, SoqlError> {
        let mismatch = |expected: &str| {
            SoqlError::new(
                "INVALID_QUERY_FILTER_OPERATOR",
                format!(
                    "value of filter criterion for field '{}' must be of type {expected} and should not be enclosed in quotes",
                    field.name
                ),
            )
        };
        if *lit == Literal::Null {
            return Ok(BValue::Null);
        }
        Ok(match field.kind {
            FieldType::Id | FieldType::Reference => match lit {
                Literal::Str(s) => {
                    let id = SalesforceId::parse(s).map_err(|_| {
                        SoqlError::new(
                            "INVALID_QUERY_FILTER_OPERATOR",
                            format!("invalid ID field: {s}"),
                        )
                    })?;
                    BValue::Id(id.as_str().to_owned())
                }
                _ => return Err(mismatch("id")),
            },
            FieldType::Boolean => match lit {
                Literal::Bool(b) => BValue::Bool(*b),
                _ => return Err(mismatch("boolean")),
            },
            k if k.is_number() => match lit {
                Literal::Number(n) => BValue::Num(*n),
                _ => return Err(mismatch("double")),
            },
            FieldType::Date => match lit {
                Literal::Date(d) => BValue::Date(*d),
                Literal::Relative { name, n } => self.range(name, *n)?,
                _ => return Err(mismatch("date")),
            },
            FieldType::DateTime => match lit {
                Literal::DateTime(t) => BValue::DateTime(*t),
                Literal::Relative { name, n } => self.range(name, *n)?,
                _ => return Err(mismatch("dateTime")),
            },
            _ => match lit {
                Literal::Str(s) => BValue::Text(s.to_lowercase()),
                _ => {
                    return Err(SoqlError::new(
                        "INVALID_QUERY_FILTER_OPERATOR",
                        format!(
                            "value of filter criterion for field '{}' must be of type string and should be enclosed in quotes",
                            field.name
                        ),
                    ));
                }
            },
        })
    }

    /// The day range of a relative date literal, in the org's time zone (UTC).
    fn range(&self, name: &str, n: Option<i64>) -> Result<BValue, SoqlError> {
        let t = self.today;
        let n = n.unwrap_or(0);
        let day = Duration::days;
        let month_start = |d: NaiveDate| d.with_day(1).unwrap_or(d);
        let add_months = |d: NaiveDate, m: i32| {
            let total = d.year() * 12 + d.month0() as i32 + m;
            NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1)
                .unwrap_or(d)
        };
        let quarter_start = |d: NaiveDate| {
            NaiveDate::from_ymd_opt(d.year(), d.month0() / 3 * 3 + 1, 1).unwrap_or(d)
        };
        let year_start = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or(t);
        // Weeks start on Sunday (en_US locale).
        let week_start = t - day(i64::from(t.weekday().num_days_from_sunday()));
        let (start, end) = match name {
            "TODAY" => (t, t + day(1)),
            "YESTERDAY" => (t - day(1), t),
            "TOMORROW" => (t + day(1), t + day(2)),
            "THIS_WEEK" => (week_start, week_start + day(7)),
            "LAST_WEEK" => (week_start - day(7), week_start),
            "NEXT_WEEK" => (week_start + day(7), week_start + day(14)),
            "THIS_MONTH" => (month_start(t), add_months(t, 1)),
            "LAST_MONTH" => (add_months(t, -1), month_start(t)),
            "NEXT_MONTH" => (add_months(t, 1), add_months(t, 2)),
            "THIS_QUARTER" => {
                let q = quarter_start(t);
                (q, add_months(q, 3))
            }
            "LAST_QUARTER" => {
                let q = quarter_start(t);
                (add_months(q, -3), q)
            }
            "NEXT_QUARTER" => {
                let q = quarter_start(t);
                (add_months(q, 3), add_months(q, 6))
            }
            "THIS_YEAR" => (year_start(t.year()), year_start(t.year() + 1)),
            "LAST_YEAR" => (year_start(t.year() - 1), year_start(t.year())),
            "NEXT_YEAR" => (year_start(t.year() + 1), year_start(t.year() + 2)),
            "LAST_90_DAYS" => (t - day(90), t + day(1)),
            "NEXT_90_DAYS" => (t + day(1), t + day(91)),
            "LAST_N_DAYS" => (t - day(n), t + day(1)),
            "NEXT_N_DAYS" => (t + day(1), t + day(n + 1)),
            "N_DAYS_AGO" => (t - day(n), t - day(n - 1)),
            "LAST_N_WEEKS" => (week_start - day(7 * n), week_start),
            "NEXT_N_WEEKS" => (week_start + day(7), week_start + day(7 * (n + 1))),
            "LAST_N_MONTHS" => (add_months(t, -(n as i32)), month_start(t)),
            "NEXT_N_MONTHS" => (add_months(t, 1), add_months(t, n as i32 + 1)),
            other => {
                return Err(SoqlError::new(
                    "MALFORMED_QUERY",
                    format!("unsupported date literal {other}"),
                ));
            }
        };
        Ok(BValue::Range(start, end))
    }

    /// The value at `path` from `rec`; `None` when a parent on the way is missing.
    fn value_at<'r>(&'r self, path: &FieldPath, rec: &'r Record) -> Option<&'r Value> {
        let mut current = rec;
        for hop in &path.hops {
            let id = current.get(hop.name)?.as_str()?;
            current = self.store.find(id).map(|(_, r)| r)?;
        }
        current.get(path.field.name)
    }

    fn test(&self, c: &BCond, rec: &Record) -> bool {
        match c {
            BCond::And(cs) => cs.iter().all(|c| self.test(c, rec)),
            BCond::Or(cs) => cs.iter().any(|c| self.test(c, rec)),
            BCond::Not(c) => !self.test(c, rec),
            BCond::Cmp(fp, op, v) => {
                let stored = self.value_at(fp, rec).unwrap_or(&Value::Null);
                compare(fp.field, stored, *op, v)
            }
            BCond::In(fp, negated, values, texts) => {
                let stored = self.value_at(fp, rec).unwrap_or(&Value::Null);
                let key = sort_key(fp.field, Some(stored));
                let hit = match (texts, &key) {
                    // Text keys equal text values exactly ([`compare_key`]); nothing else does.
                    (Some(set), Key::Text(k)) => set.contains(k),
                    (Some(_), _) => false,
                    (None, _) => values.iter().any(|v| compare_key(&key, CmpOp::Eq, v)),
                };
                hit != *negated
            }
            BCond::Like(fp, negated, pattern) => {
                let stored = self.value_at(fp, rec).and_then(Value::as_str);
                let hit = stored.is_some_and(|s| like(pattern, &s.to_lowercase()));
                hit != *negated
            }
        }
    }

    fn sort(&self, rows: &mut [&Record], order: &[(FieldPath, bool, bool)]) {
        if order.is_empty() {
            return;
        }
        // Each row's keys made once, not once per comparison (a change read sorts the whole
        // table).
        let mut keyed: Vec<(Vec<Key>, &Record)> = rows
            .iter()
            .map(|r| {
                let keys = order
                    .iter()
                    .map(|(fp, _, _)| sort_key(fp.field, self.value_at(fp, r)))
                    .collect();
                (keys, *r)
            })
            .collect();
        keyed.sort_by(|(a, _), (b, _)| {
            for ((ka, kb), (_, desc, nulls_last)) in a.iter().zip(b).zip(order) {
                let ord = match (ka, kb) {
                    (Key::Null, Key::Null) => Ordering::Equal,
                    (Key::Null, _) => {
                        if *nulls_last {
                            Ordering::Greater
                        } else {
                            Ordering::Less
                        }
                    }
                    (_, Key::Null) => {
                        if *nulls_last {
                            Ordering::Less
                        } else {
                            Ordering::Greater
                        }
                    }
                    _ => {
                        let o = ka.cmp_same(kb);
                        if *desc { o.reverse() } else { o }
                    }
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
        for (slot, (_, r)) in rows.iter_mut().zip(keyed) {
            *slot = r;
        }
    }

    fn url(&self, object: &str, id: &str) -> String {
        format!(
            "/services/data/v{}/sobjects/{object}/{id}",
            self.opts.version
        )
    }

    fn attributes(&self, object: &str, rec: &Record) -> Value {
        let id = rec.get("Id").and_then(Value::as_str).unwrap_or("");
        json!({"type": object, "url": self.url(object, id)})
    }

    fn render(&self, object: &ObjectDef, rec: &Record, items: &[Item]) -> Value {
        let mut out = Map::new();
        out.insert("attributes".into(), self.attributes(object.name, rec));
        for item in items {
            match item {
                Item::Field(fp) => self.insert_path(&mut out, &fp.hops, fp.field, rec),
                Item::Child {
                    relationship,
                    child,
                    parent_field,
                    query,
                } => {
                    let parent_id = rec.get("Id").and_then(Value::as_str).unwrap_or("");
                    let mut kids: Vec<&Record> = match child.field(parent_field) {
                        Some(field) if field.child_key => {
                            self.store.children(child, field, parent_id)
                        }
                        _ => self
                            .store
                            .rows(child.name)
                            .filter(|r| !is_deleted(r))
                            .filter(|r| {
                                r.get(*parent_field).and_then(Value::as_str) == Some(parent_id)
                            })
                            .collect(),
                    };
                    kids.retain(|r| query.filter.as_ref().is_none_or(|c| self.test(c, r)));
                    self.sort(&mut kids, &query.order);
                    let kids = page(kids, query.offset, query.limit);
                    let value = if kids.is_empty() {
                        Value::Null
                    } else {
                        let records: Vec<Value> = kids
                            .iter()
                            .map(|k| self.render(child, k, &query.items))
                            .collect();
                        json!({"totalSize": records.len(), "done": true, "records": records})
                    };
                    out.insert((*relationship).to_owned(), value);
                }
                Item::Aggregate { .. } => {}
            }
        }
        Value::Object(out)
    }

    fn insert_path(
        &self,
        out: &mut Map<String, Value>,
        hops: &[&'static FieldDef],
        field: &FieldDef,
        rec: &Record,
    ) {
        let Some((hop, rest)) = hops.split_first() else {
            out.insert(
                field.name.to_owned(),
                rec.get(field.name).cloned().unwrap_or(Value::Null),
            );
            return;
        };
        let rel = hop.relationship_name.unwrap_or(hop.name).to_owned();
        let parent = rec
            .get(hop.name)
            .and_then(Value::as_str)
            .and_then(|id| self.store.find(id));
        let Some((parent_object, parent_rec)) = parent else {
            out.entry(rel).or_insert(Value::Null);
            return;
        };
        let slot = out.entry(rel).or_insert_with(|| {
            let mut m = Map::new();
            m.insert(
                "attributes".into(),
                self.attributes(parent_object.name, parent_rec),
            );
            Value::Object(m)
        });
        if let Value::Object(m) = slot {
            self.insert_path(m, rest, field, parent_rec);
        }
    }

    fn aggregate(&self, bound: &Bound, rows: &[&Record]) -> Vec<Value> {
        let mut groups: Vec<(Vec<Value>, Vec<&Record>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for r in rows {
            let key: Vec<Value> = bound
                .group_by
                .iter()
                .map(|g| self.value_at(g, r).cloned().unwrap_or(Value::Null))
                .collect();
            let k = serde_json::to_string(&key).unwrap_or_default();
            match index.get(&k) {
                Some(&i) => groups[i].1.push(r),
                None => {
                    index.insert(k, groups.len());
                    groups.push((key, vec![r]));
                }
            }
        }
        if bound.group_by.is_empty() && groups.is_empty() {
            groups.push((Vec::new(), Vec::new()));
        }
        groups
            .into_iter()
            .map(|(key, members)| {
                let mut out = Map::new();
                out.insert("attributes".into(), json!({"type": "AggregateResult"}));
                for item in &bound.items {
                    match item {
                        Item::Field(fp) => {
                            let pos = bound.group_by.iter().position(|g| same_path(g, fp));
                            let v = pos.and_then(|p| key.get(p).cloned()).unwrap_or(Value::Null);
                            out.insert(fp.field.name.to_owned(), v);
                        }
                        Item::Aggregate { func, path, key } => {
                            let values: Vec<&Value> = members
                                .iter()
                                .filter_map(|r| self.value_at(path, r))
                                .filter(|v| !v.is_null())
                                .collect();
                            out.insert(key.clone(), aggregate_value(*func, path.field, &values));
                        }
                        Item::Child { .. } => {}
                    }
                }
                Value::Object(out)
            })
            .collect()
    }
}

fn same_path(a: &FieldPath, b: &FieldPath) -> bool {
    a.field.name == b.field.name
        && a.hops.len() == b.hops.len()
        && a.hops.iter().zip(&b.hops).all(|(x, y)| x.name == y.name)
}

fn aggregate_value(func: AggFunc, field: &FieldDef, values: &[&Value]) -> Value {
    let nums = || values.iter().filter_map(|v| v.as_f64());
    match func {
        AggFunc::Count => json!(values.len()),
        AggFunc::CountDistinct => {
            let mut seen: Vec<String> = values
                .iter()
                .map(|v| v.to_string().to_lowercase())
                .collect();
            seen.sort();
            seen.dedup();
            json!(seen.len())
        }
        AggFunc::Sum => {
            if values.is_empty() {
                Value::Null
            } else {
                json!(round2(nums().sum::<f64>()))
            }
        }
        AggFunc::Avg => {
            let n: Vec<f64> = nums().collect();
            if n.is_empty() {
                Value::Null
            } else {
                json!(n.iter().sum::<f64>() / n.len() as f64)
            }
        }
        AggFunc::Min | AggFunc::Max => {
            let best = values.iter().copied().reduce(|a, b| {
                let o = sort_key(field, Some(a)).cmp_same(&sort_key(field, Some(b)));
                let keep_a = if func == AggFunc::Min {
                    o != Ordering::Greater
                } else {
                    o != Ordering::Less
                };
                if keep_a { a } else { b }
            });
            best.cloned().unwrap_or(Value::Null)
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Debug, PartialEq)]
enum Key {
    Null,
    Num(f64),
    Text(String),
    Bool(bool),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

impl Key {
    fn cmp_same(&self, other: &Key) -> Ordering {
        match (self, other) {
            (Key::Num(a), Key::Num(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            (Key::Text(a), Key::Text(b)) => a.cmp(b),
            (Key::Bool(a), Key::Bool(b)) => a.cmp(b),
            (Key::Date(a), Key::Date(b)) => a.cmp(b),
            (Key::DateTime(a), Key::DateTime(b)) => a.cmp(b),
            _ => Ordering::Equal,
        }
    }
}

fn sort_key(field: &FieldDef, v: Option<&Value>) -> Key {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Key::Null;
    };
    match field.kind {
        k if k.is_number() => v.as_f64().map_or(Key::Null, Key::Num),
        FieldType::Boolean => v.as_bool().map_or(Key::Null, Key::Bool),
        FieldType::Date => v.as_str().and_then(parse_date).map_or(Key::Null, Key::Date),
        FieldType::DateTime => v
            .as_str()
            .and_then(parse_datetime)
            .map_or(Key::Null, Key::DateTime),
        FieldType::Id | FieldType::Reference => {
            v.as_str().map_or(Key::Null, |s| Key::Text(s.to_owned()))
        }
        _ => v
            .as_str()
            .map_or(Key::Null, |s| Key::Text(s.to_lowercase())),
    }
}

fn compare(field: &FieldDef, stored: &Value, op: CmpOp, lit: &BValue) -> bool {
    compare_key(&sort_key(field, Some(stored)), op, lit)
}

/// [`compare`] with the stored value's key made once (an IN list compares it with each value).
fn compare_key(key: &Key, op: CmpOp, lit: &BValue) -> bool {
    if *lit == BValue::Null {
        return match op {
            CmpOp::Eq => *key == Key::Null,
            CmpOp::Ne => *key != Key::Null,
            _ => false,
        };
    }
    if *key == Key::Null {
        return op == CmpOp::Ne;
    }
    if let BValue::Range(start, end) = lit {
        let (lo, hi) = match key {
            Key::Date(d) => (d.cmp(start), d.cmp(end)),
            Key::DateTime(t) => {
                let s = start.and_hms_opt(0, 0, 0).map(|n| n.and_utc());
                let e = end.and_hms_opt(0, 0, 0).map(|n| n.and_utc());
                match (s, e) {
                    (Some(s), Some(e)) => (t.cmp(&s), t.cmp(&e)),
                    _ => return false,
                }
            }
            _ => return false,
        };
        let inside = lo != Ordering::Less && hi == Ordering::Less;
        return match op {
            CmpOp::Eq => inside,
            CmpOp::Ne => !inside,
            CmpOp::Lt => lo == Ordering::Less,
            CmpOp::Le => hi == Ordering::Less,
            CmpOp::Gt => hi != Ordering::Less,
            CmpOp::Ge => lo != Ordering::Less,
        };
    }
    // Text against text: compared in place, without a copy of the literal.
    if let (Key::Text(k), BValue::Text(s) | BValue::Id(s)) = (key, lit) {
        return cmp_result(op, k.as_str().cmp(s.as_str()));
    }
    let lit_key = match lit {
        BValue::Bool(b) => Key::Bool(*b),
        BValue::Num(n) => Key::Num(*n),
        BValue::Text(s) | BValue::Id(s) => Key::Text(s.clone()),
        BValue::Date(d) => Key::Date(*d),
        BValue::DateTime(t) => Key::DateTime(*t),
        BValue::Null | BValue::Range(..) => return false,
    };
    let ord = key.cmp_same(&lit_key);
    let same_kind = std::mem::discriminant(key) == std::mem::discriminant(&lit_key);
    if !same_kind {
        return op == CmpOp::Ne;
    }
    cmp_result(op, ord)
}

fn cmp_result(op: CmpOp, ord: Ordering) -> bool {
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    }
}

fn like_pattern(pattern: &str) -> Vec<LikePart> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.extend(n.to_lowercase().map(LikePart::Char));
                }
            }
            '%' => out.push(LikePart::Any),
            '_' => out.push(LikePart::One),
            c => out.extend(c.to_lowercase().map(LikePart::Char)),
        }
    }
    out
}

fn like(pattern: &[LikePart], s: &str) -> bool {
    let text: Vec<char> = s.chars().collect();
    // match[j] = pattern prefix matches text prefix of length j.
    let mut row = vec![false; text.len() + 1];
    row[0] = true;
    for part in pattern {
        let mut next = vec![false; text.len() + 1];
        match part {
            LikePart::Any => {
                let mut seen = false;
                for j in 0..=text.len() {
                    seen |= row[j];
                    next[j] = seen;
                }
            }
            LikePart::One => {
                next[1..].copy_from_slice(&row[..text.len()]);
            }
            LikePart::Char(c) => {
                for j in 1..=text.len() {
                    next[j] = row[j - 1] && text[j - 1] == *c;
                }
            }
        }
        row = next;
    }
    row[text.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Writer;
    use lf_domain::ManualClock;
    use std::sync::Arc;

    fn now() -> DateTime<Utc> {
        "2026-03-18T12:00:00Z".parse().unwrap()
    }

    fn opts() -> QueryOptions {
        QueryOptions {
            include_deleted: false,
            version: "62.0".into(),
            now: now(),
        }
    }

    fn create(s: &mut Store, object: &str, v: Value) -> String {
        s.create(
            Schema::get().object(object).unwrap(),
            v.as_object().unwrap(),
            Writer::Api,
        )
        .unwrap()
    }

    fn fixture() -> (Store, Vec<String>) {
        let mut s = Store::new(Arc::new(ManualClock::new(now())));
        let a1 = create(
            &mut s,
            "Account",
            json!({"Name": "Acme GmbH", "BillingCountry": "Germany", "CurrencyIsoCode": "EUR", "Intacct_Customer_ID__c": "C-1"}),
        );
        let a2 = create(
            &mut s,
            "Account",
            json!({"Name": "Beta Ltd", "BillingCountry": "United Kingdom", "CurrencyIsoCode": "GBP"}),
        );
        let a3 = create(
            &mut s,
            "Account",
            json!({"Name": "acme inc", "BillingCountry": "United States"}),
        );
        let o1 = create(
            &mut s,
            "Opportunity",
            json!({"Name": "Big", "AccountId": a1, "StageName": "Closed Won", "CloseDate": "2026-03-10", "Amount": 5000, "CurrencyIsoCode": "EUR"}),
        );
        let o2 = create(
            &mut s,
            "Opportunity",
            json!({"Name": "Small", "AccountId": a1, "StageName": "Prospecting", "CloseDate": "2026-06-01", "Amount": 100, "CurrencyIsoCode": "EUR"}),
        );
        let o3 = create(
            &mut s,
            "Opportunity",
            json!({"Name": "Orphan", "StageName": "Closed Lost", "CloseDate": "2025-12-01"}),
        );
        (s, vec![a1, a2, a3, o1, o2, o3])
    }

    fn records(s: &Store, q: &str) -> Vec<Value> {
        match execute(s, q, &opts()).unwrap() {
            QueryOutput::Records(r) => r,
            QueryOutput::Count(n) => panic!("count {n}"),
        }
    }

    fn names(s: &Store, q: &str) -> Vec<String> {
        records(s, q)
            .iter()
            .map(|r| r["Name"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn an_id_filter_looks_its_rows_up_and_keeps_the_scans_answer() {
        let (mut s, ids) = fixture();
        let (a1, a2, a3) = (&ids[0], &ids[1], &ids[2]);
        // Repeated, out of order, one in its 15-character form: each row once, in id order.
        let q = format!(
            "SELECT Name FROM Account WHERE Id IN ('{a3}', '{a1}', '{}', '{a3}')",
            &a1[..15]
        );
        assert_eq!(names(&s, &q), ["Acme GmbH", "acme inc"]);
        // The rest of the filter still applies, and a conjunct anywhere in it counts.
        let q = format!(
            "SELECT Name FROM Account WHERE BillingCountry = 'Germany' AND Id IN ('{a1}', '{a2}')"
        );
        assert_eq!(names(&s, &q), ["Acme GmbH"]);
        let q = format!("SELECT Name FROM Account WHERE Id = '{a2}'");
        assert_eq!(names(&s, &q), ["Beta Ltd"]);
        // An id of another object, or a deleted row, is not found.
        let q = format!(
            "SELECT Name FROM Account WHERE Id IN ('{}', '{a2}')",
            ids[3]
        );
        assert_eq!(names(&s, &q), ["Beta Ltd"]);
        s.delete(a2).unwrap();
        let q = format!("SELECT Name FROM Account WHERE Id = '{a2}'");
        assert!(names(&s, &q).is_empty());
        // Under OR the ids do not limit the rows.
        let q = format!("SELECT Name FROM Account WHERE Id = '{a1}' OR Name = 'acme inc'");
        assert_eq!(names(&s, &q), ["Acme GmbH", "acme inc"]);
    }

    #[test]
    fn filters_with_every_operator() {
        let (s, ids) = fixture();
        assert_eq!(
            names(&s, "SELECT Name FROM Account WHERE Name = 'ACME GMBH'"),
            ["Acme GmbH"]
        );
        assert_eq!(
            names(
                &s,
                "SELECT Name FROM Account WHERE Name LIKE 'acme%' ORDER BY Name"
            ),
            ["Acme GmbH", "acme inc"]
        );
        assert_eq!(
            names(&s, "SELECT Name FROM Account WHERE NOT Name LIKE 'acme%'"),
            ["Beta Ltd"]
        );
        assert_eq!(
            names(
                &s,
                "SELECT Name FROM Account WHERE CurrencyIsoCode IN ('GBP','USD') ORDER BY Name DESC"
            ),
            ["Beta Ltd", "acme inc"]
        );
        assert_eq!(
            names(
                &s,
                "SELECT Name FROM Account WHERE CurrencyIsoCode NOT IN ('GBP','USD')"
            ),
            ["Acme GmbH"]
        );
        assert_eq!(
            names(
                &s,
                "SELECT Name FROM Opportunity WHERE Amount >= 100 AND Amount < 5000"
            ),
            ["Small"]
        );
        assert_eq!(
            names(
                &s,
                "SELECT Name FROM Opportunity WHERE Amount > 100 OR Amount = null ORDER BY Name"
            ),
            ["Big", "Orphan"]
        );
        assert_eq!(
            names(
                &s,
                "SELECT Name FROM Opportunity WHERE Amount != 100 ORDER BY Name"
            ),
            ["Big", "Orphan"]
        );
        assert_eq!(
            names(
                &s,
                "SELECT Name FROM Opportunity WHERE (IsWon = true OR IsClosed = false) AND CloseDate <= 2026-06-01 ORDER BY CloseDate"
            ),
            ["Big", "Small"]
        );
        assert_eq!(
            names(
                &s,
                "SELECT Name FROM Opportunity WHERE CloseDate = THIS_MONTH"
            ),
            ["Big"]
        );
        assert_eq!(
            names(
                &s,
                "SELECT Name FROM Opportunity WHERE CloseDate = LAST_N_DAYS:30"
            ),
            ["Big"]
        );
        assert_eq!(names(&s, "SELECT Name FROM Opportunity WHERE CreatedDate = TODAY AND CreatedDate > 2026-03-18T11:00:00Z").len(), 3);
        assert_eq!(
            names(
                &s,
                &format!(
                    "SELECT Name FROM Opportunity WHERE AccountId = '{}'",
                    &ids[0][..15]
                )
            )
            .len(),
            2
        );
        assert_eq!(
            names(
                &s,
                "SELECT Name FROM Account WHERE Id IN (SELECT AccountId FROM Opportunity WHERE IsWon = true)"
            ),
            ["Acme GmbH"]
        );
        assert_eq!(
            names(
                &s,
                "SELECT Name FROM Opportunity WHERE Account.BillingCountry = 'Germany' ORDER BY Name"
            ),
            ["Big", "Small"]
        );
    }

    #[test]
    fn relationships_render_nested_and_children_as_sub_results() {
        let (s, ids) = fixture();
        let r = records(
            &s,
            "SELECT Name, Account.Name, Account.Owner.Alias FROM Opportunity ORDER BY Name",
        );
        assert_eq!(r[0]["Account"]["Name"], "Acme GmbH");
        assert_eq!(r[0]["Account"]["attributes"]["type"], "Account");
        assert_eq!(
            r[0]["Account"]["Owner"],
            Value::Null,
            "no such user in this store"
        );
        assert_eq!(r[1]["Account"], Value::Null);
        assert_eq!(
            r[0]["attributes"]["url"],
            format!("/services/data/v62.0/sobjects/Opportunity/{}", ids[3])
        );
        let r = records(
            &s,
            "SELECT Name, (SELECT Name FROM Opportunities WHERE IsClosed = false) FROM Account ORDER BY Name",
        );
        assert_eq!(r[0]["Opportunities"]["totalSize"], 1);
        assert_eq!(r[0]["Opportunities"]["records"][0]["Name"], "Small");
        assert_eq!(r[1]["Opportunities"], Value::Null);
        let keys: Vec<&String> = r[0].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["attributes", "Name", "Opportunities"]);
    }

    #[test]
    fn order_limit_offset_count_and_all_rows() {
        let (mut s, ids) = fixture();
        assert_eq!(
            names(
                &s,
                "SELECT Name FROM Opportunity ORDER BY Amount DESC NULLS LAST LIMIT 2"
            ),
            ["Big", "Small"]
        );
        assert_eq!(
            names(
                &s,
                "SELECT Name FROM Opportunity ORDER BY Amount LIMIT 1 OFFSET 1"
            ),
            ["Small"]
        );
        assert_eq!(
            execute(&s, "SELECT COUNT() FROM Account", &opts()).unwrap(),
            QueryOutput::Count(3)
        );
        s.delete(&ids[1]).unwrap();
        assert_eq!(
            execute(&s, "SELECT COUNT() FROM Account", &opts()).unwrap(),
            QueryOutput::Count(2)
        );
        let all = QueryOptions {
            include_deleted: true,
            ..opts()
        };
        assert_eq!(
            execute(&s, "SELECT COUNT() FROM Account", &all).unwrap(),
            QueryOutput::Count(3)
        );
        assert_eq!(
            names(
                &s,
                "SELECT Name FROM Account WHERE IsDeleted = true ALL ROWS"
            ),
            ["Beta Ltd"]
        );
    }

    #[test]
    fn aggregates_group_rows() {
        let (s, _) = fixture();
        let r = records(
            &s,
            "SELECT CurrencyIsoCode, SUM(Amount) total, COUNT(Id) FROM Opportunity GROUP BY CurrencyIsoCode",
        );
        assert_eq!(r.len(), 2);
        let eur = r.iter().find(|x| x["CurrencyIsoCode"] == "EUR").unwrap();
        assert_eq!(eur["total"], json!(5100.0));
        assert_eq!(eur["expr0"], json!(2));
        assert_eq!(eur["attributes"]["type"], "AggregateResult");
        let order = |dir: &str| -> Vec<Value> {
            records(
                &s,
                &format!("SELECT CurrencyIsoCode FROM Opportunity GROUP BY CurrencyIsoCode ORDER BY CurrencyIsoCode {dir}"),
            )
            .iter()
            .map(|x| x["CurrencyIsoCode"].clone())
            .collect()
        };
        let mut asc = order("ASC");
        assert_eq!(asc.len(), 2);
        asc.reverse();
        assert_eq!(order("DESC"), asc, "ORDER BY orders the groups");
    }

    #[test]
    fn binding_errors_match_salesforce_codes() {
        let (s, _) = fixture();
        let code = |q: &str| execute(&s, q, &opts()).unwrap_err().code;
        assert_eq!(code("SELECT Nope__c FROM Account"), "INVALID_FIELD");
        assert_eq!(code("SELECT Id FROM Nope__c"), "INVALID_TYPE");
        assert_eq!(code("SELECT Foo.Name FROM Account"), "INVALID_FIELD");
        assert_eq!(
            code("SELECT Id FROM Opportunity WHERE Amount = '5'"),
            "INVALID_QUERY_FILTER_OPERATOR"
        );
        assert_eq!(
            code("SELECT Id FROM Opportunity WHERE CloseDate = '2026-01-01'"),
            "INVALID_QUERY_FILTER_OPERATOR"
        );
        assert_eq!(
            code("SELECT Id FROM Account WHERE Name = 5"),
            "INVALID_QUERY_FILTER_OPERATOR"
        );
        assert_eq!(
            code("SELECT Id FROM Account WHERE Id = 'nope'"),
            "INVALID_QUERY_FILTER_OPERATOR"
        );
        assert_eq!(
            code("SELECT Id FROM Account OFFSET 2001"),
            "NUMBER_OUTSIDE_VALID_RANGE"
        );
        assert_eq!(code("SELECT Id, COUNT() FROM Account"), "MALFORMED_QUERY");
        assert_eq!(code("SELECT Id FROM Account WHERE"), "MALFORMED_QUERY");
        assert_eq!(
            code("SELECT Name, (SELECT Id FROM Nothing) FROM Account"),
            "INVALID_FIELD"
        );
    }

    #[test]
    fn like_matches_wildcards_and_escapes() {
        let p = like_pattern("a\\%b_c%");
        assert!(like(&p, "a%bxc"));
        assert!(like(&p, "a%bxcdef"));
        assert!(!like(&p, "aXbxc"));
        assert!(like(&like_pattern("%"), ""));
    }
}
