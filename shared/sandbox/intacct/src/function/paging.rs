//! Reads that page: `readByQuery` + `readMore` (result ids, pages up to 1,000) and `query`
//! (offsets, pages up to 2,000), protocols.md B6.

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};

use rust_decimal::Decimal;

use super::generic::object_named;
use super::{Env, FnResult, Outcome};
use crate::company::{Company, Record};
use crate::element::Element;
use crate::envelope::ErrorEntry;
use crate::query::{self, Filter, FilterError, compare, parse_bool};
use crate::schema::{ObjectDef, Ty};
use crate::view::{self, Fields, Reader};

/// Open `readByQuery` result sets beyond this are dropped oldest first; their ids then fail
/// like expired ones (Intacct's resultId lifetime is not documented).
const MAX_OPEN_RESULTS: usize = 200;

/// The open result sets of `readByQuery`, continued by `readMore`.
#[derive(Debug, Default)]
pub(crate) struct Cursors {
    open: HashMap<String, Cursor>,
    order: VecDeque<String>,
    /// Latest open result per (caller, object), for `<readMore><object>`.
    latest: HashMap<(String, &'static str), String>,
    issued: u64,
}

#[derive(Debug)]
struct Cursor {
    def: &'static ObjectDef,
    fields: Fields,
    recordnos: Vec<u64>,
    next: usize,
    pagesize: usize,
}

impl Cursors {
    /// How many result sets are open (for tests).
    pub fn len(&self) -> usize {
        self.open.len()
    }

    fn open(&mut self, caller: &str, cursor: Cursor) -> String {
        self.issued += 1;
        let tail = crate::session::random_token(24);
        let id = format!("{:010}{tail}", self.issued);
        self.latest
            .insert((caller.to_owned(), cursor.def.name), id.clone());
        self.open.insert(id.clone(), cursor);
        self.order.push_back(id.clone());
        while self.order.len() > MAX_OPEN_RESULTS {
            if let Some(old) = self.order.pop_front() {
                self.open.remove(&old);
            }
        }
        id
    }

    fn close(&mut self, id: &str) {
        self.open.remove(id);
        self.order.retain(|x| x != id);
        self.latest.retain(|_, v| v != id);
    }
}

fn failed(e: FilterError) -> ErrorEntry {
    ErrorEntry::new("Query Failed", e.0)
}

fn page_size(text: Option<&str>, max: usize) -> Result<usize, ErrorEntry> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(100),
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ErrorEntry::new(
                    "Query Failed",
                    format!("pagesize '{t}' is not a number between 1 and {max}"),
                )
            }),
    }
}

fn check_return_format(text: Option<&str>) -> Result<(), ErrorEntry> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(()),
        Some(t) if t.eq_ignore_ascii_case("xml") => Ok(()),
        Some(t) => Err(ErrorEntry::new(
            "Query Failed",
            format!("returnFormat '{t}' is not supported by the ledgerforce sandbox (xml only)"),
        )),
    }
}

fn bind(def: &ObjectDef, filter: &mut Filter) -> Result<(), ErrorEntry> {
    filter
        .bind(&|name| view::resolve(def, name).map(|r| r.ty()))
        .map_err(failed)
}

/// Records of `def` the caller sees that pass `filter`, with their RECORDNOs, in that order.
fn select<'c>(
    reader: &Reader<'c>,
    entity: Option<&str>,
    show_private: bool,
    docparid: Option<&str>,
    filter: &Filter,
    case_insensitive: bool,
) -> Vec<(u64, &'c Record)> {
    // A text `=` / `IN` narrows the rows to those an index finds (in RECORDNO order, as the
    // scan gives them); the whole filter still decides.
    let narrowed = filter.key_alternatives().and_then(|alternatives| {
        let mut nos = Vec::new();
        for (field, values) in alternatives {
            let path = reader.own_path(&field.name)?;
            nos.extend(reader.company.recordnos_lowered(
                reader.def.name,
                &path,
                values.iter().map(String::as_str),
            ));
        }
        nos.sort_unstable();
        nos.dedup();
        Some(nos)
    });
    let rows: Box<dyn Iterator<Item = (u64, &'c Record)>> = match narrowed {
        Some(nos) => Box::new(
            nos.into_iter()
                .filter_map(|no| reader.company.get(reader.def.name, no).map(|r| (no, r))),
        ),
        None => Box::new(reader.company.rows(reader.def.name)),
    };
    rows.filter(|(_, r)| Company::visible(r, entity, show_private))
        .filter(|(_, r)| docparid.is_none_or(|d| r.value("DOCPARID") == d))
        .filter(|(_, r)| filter.matches(&reader.row(r), case_insensitive))
        .collect()
}

fn page_data(cursor: &Cursor, company: &Company, reader_ids: &[u64]) -> Element {
    let reader = Reader::new(company, cursor.def);
    let element = cursor.def.name.to_ascii_lowercase();
    let mut data = Element::new("data");
    for no in reader_ids {
        if let Some(r) = company.get(cursor.def.name, *no) {
            data.children
                .push(reader.render(r, &element, &cursor.fields));
        }
    }
    data
}

/// Renders the next page of `cursor` and says how many are left after it.
fn next_page(cursor: &mut Cursor, company: &Company) -> (Element, usize) {
    let end = (cursor.next + cursor.pagesize).min(cursor.recordnos.len());
    let ids = cursor.recordnos[cursor.next..end].to_vec();
    cursor.next = end;
    let data = page_data(cursor, company, &ids);
    (data, cursor.recordnos.len() - end)
}

fn finish(
    data: Element,
    def: &ObjectDef,
    total: usize,
    remaining: usize,
    result_id: &str,
) -> Element {
    let count = data.children.len();
    let mut out = Element::new("data")
        .with_attr("listtype", def.name.to_ascii_lowercase())
        .with_attr("count", count.to_string())
        .with_attr("totalcount", total.to_string())
        .with_attr("numremaining", remaining.to_string())
        .with_attr("resultId", result_id);
    out.children = data.children;
    out
}

/// `<readByQuery>`.
pub(super) fn read_by_query(env: &mut Env<'_>, body: &Element) -> FnResult {
    let def = object_named(body.text_of("object"))?;
    let fields = Fields::parse(def, body.text_of("fields")).map_err(failed)?;
    let pagesize = page_size(body.text_of("pagesize"), 1000)?;
    check_return_format(body.text_of("returnFormat"))?;
    let mut filter = query::parse_query_string(body.value("query")).map_err(failed)?;
    bind(def, &mut filter)?;
    let reader = Reader::new(env.company, def);
    let recordnos: Vec<u64> = select(
        &reader,
        env.ctx.entity.as_deref(),
        false,
        body.non_empty("docparid"),
        &filter,
        false,
    )
    .into_iter()
    .map(|(recordno, _)| recordno)
    .collect();
    let total = recordnos.len();
    let mut cursor = Cursor {
        def,
        fields,
        recordnos,
        next: 0,
        pagesize,
    };
    let (data, remaining) = next_page(&mut cursor, env.company);
    let result_id = if remaining > 0 {
        env.cursors.open(env.caller, cursor)
    } else {
        String::new()
    };
    Ok(Outcome {
        data: Some(finish(data, def, total, remaining, &result_id)),
        billable: 1,
        ..Outcome::default()
    })
}

/// `<readMore>` by `<resultId>` (or by `<object>`: the caller's latest open result for it).
pub(super) fn read_more(env: &mut Env<'_>, body: &Element) -> FnResult {
    let id = match (body.non_empty("resultId"), body.non_empty("object")) {
        (Some(id), _) => id.to_owned(),
        (None, Some(object)) => {
            let def = object_named(Some(object))?;
            env.cursors
                .latest
                .get(&(env.caller.to_owned(), def.name))
                .cloned()
                .ok_or_else(|| {
                    ErrorEntry::new(
                        "Query Failed",
                        format!(
                            "There is no open readByQuery result for {} to read more of",
                            def.name
                        ),
                    )
                })?
        }
        (None, None) => {
            return Err(
                ErrorEntry::new("Query Failed", "readMore needs a resultId or an object").into(),
            );
        }
    };
    let Some(cursor) = env.cursors.open.get_mut(&id) else {
        return Err(ErrorEntry::new(
            "Query Failed",
            format!("Invalid or expired resultId '{id}'"),
        )
        .correction("Run the readByQuery again.")
        .into());
    };
    let def = cursor.def;
    let total = cursor.recordnos.len();
    let (data, remaining) = next_page(cursor, env.company);
    let result_id = if remaining > 0 {
        id.clone()
    } else {
        env.cursors.close(&id);
        String::new()
    };
    Ok(Outcome {
        data: Some(finish(data, def, total, remaining, &result_id)),
        billable: 1,
        ..Outcome::default()
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

impl Aggregate {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "count" => Aggregate::Count,
            "sum" => Aggregate::Sum,
            "avg" => Aggregate::Avg,
            "min" => Aggregate::Min,
            "max" => Aggregate::Max,
            _ => return None,
        })
    }

    fn prefix(self) -> &'static str {
        match self {
            Aggregate::Count => "COUNT",
            Aggregate::Sum => "SUM",
            Aggregate::Avg => "AVG",
            Aggregate::Min => "MIN",
            Aggregate::Max => "MAX",
        }
    }
}

#[derive(Debug, Clone)]
enum Column {
    Plain(String),
    Agg(Aggregate, String, Ty),
}

/// One output row of `query`: values by output name.
type Line = Vec<(String, String)>;

/// `<query>`.
pub(super) fn query(env: &mut Env<'_>, body: &Element) -> FnResult {
    let def = object_named(body.text_of("object"))?;
    let resolve_ty = |name: &str| view::resolve(def, name).map(|r| r.ty()).map_err(failed);
    let mut columns = Vec::new();
    for el in body
        .child("select")
        .map(|s| s.children.as_slice())
        .unwrap_or(&[])
    {
        let name = el.text.trim().to_ascii_uppercase();
        let ty = resolve_ty(&name)?;
        columns.push(match (el.name.as_str(), Aggregate::parse(&el.name)) {
            ("field", _) => Column::Plain(name),
            (_, Some(agg)) => Column::Agg(agg, name, ty),
            (other, None) => {
                return Err(ErrorEntry::new(
                    "Query Failed",
                    format!("Unknown select element <{other}>"),
                )
                .into());
            }
        });
    }
    if columns.is_empty() {
        return Err(ErrorEntry::new(
            "Query Failed",
            "select is required: name at least one field (returning all fields is not supported)",
        )
        .into());
    }
    let options = body.child("options");
    let option = |name: &str| {
        options
            .and_then(|o| o.non_empty(name))
            .and_then(parse_bool)
            .unwrap_or(false)
    };
    let case_insensitive = option("caseinsensitive");
    let show_private = option("showprivate");
    check_return_format(options.and_then(|o| o.text_of("returnformat")))?;
    let pagesize = page_size(body.text_of("pagesize"), 2000)?;
    let offset = match body.non_empty("offset") {
        None => 0,
        Some(t) => t.parse::<usize>().map_err(|_| {
            ErrorEntry::new(
                "Query Failed",
                format!("offset '{t}' is not a non-negative number"),
            )
        })?,
    };
    let mut filter = match body.child("filter") {
        Some(f) => query::parse_filter_element(f).map_err(failed)?,
        None => Filter::All,
    };
    bind(def, &mut filter)?;
    let mut order = Vec::new();
    for o in body
        .child("orderby")
        .map(|o| o.children.as_slice())
        .unwrap_or(&[])
    {
        let name = o.value("field").to_ascii_uppercase();
        let ty = resolve_ty(&name)?;
        order.push((name, ty, o.child("descending").is_some()));
    }

    let reader = Reader::new(env.company, def);
    let records: Vec<&Record> = select(
        &reader,
        env.ctx.entity.as_deref(),
        show_private,
        body.non_empty("docparid"),
        &filter,
        case_insensitive,
    )
    .into_iter()
    .map(|(_, r)| r)
    .collect();
    let grouped = columns.iter().any(|c| matches!(c, Column::Agg(..)));
    let mut lines: Vec<(Line, Vec<String>)> = if grouped {
        aggregate(&reader, &records, &columns, &order)
    } else {
        records
            .iter()
            .map(|r| {
                let line = columns
                    .iter()
                    .map(|c| match c {
                        Column::Plain(name) | Column::Agg(_, name, _) => {
                            (name.clone(), reader.value(r, name))
                        }
                    })
                    .collect();
                let keys = order.iter().map(|(n, _, _)| reader.value(r, n)).collect();
                (line, keys)
            })
            .collect()
    };
    if !order.is_empty() {
        lines.sort_by(|(_, a), (_, b)| {
            order
                .iter()
                .enumerate()
                .map(|(i, (_, ty, desc))| order_values(*ty, &a[i], &b[i], case_insensitive, *desc))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
    }
    let total = lines.len();
    let start = offset.min(total);
    let end = (start + pagesize).min(total);
    let mut data = Element::new("data")
        .with_attr("listtype", def.name)
        .with_attr("totalcount", total.to_string())
        .with_attr("offset", offset.to_string())
        .with_attr("count", (end - start).to_string())
        .with_attr("numremaining", (total - end).to_string());
    for (line, _) in &lines[start..end] {
        let mut el = Element::new(def.name);
        el.children = line.iter().map(|(k, v)| Element::leaf(k, v)).collect();
        data.children.push(el);
    }
    Ok(Outcome {
        data: Some(data),
        billable: 1,
        ..Outcome::default()
    })
}

/// Nulls sort last ascending and first descending, as Oracle does.
fn order_values(ty: Ty, a: &str, b: &str, ci: bool, desc: bool) -> Ordering {
    let ord = match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => compare(ty, a, b, ci).unwrap_or_else(|| a.cmp(b)),
    };
    if desc { ord.reverse() } else { ord }
}

fn aggregate(
    reader: &Reader<'_>,
    records: &[&Record],
    columns: &[Column],
    order: &[(String, Ty, bool)],
) -> Vec<(Line, Vec<String>)> {
    let plain: Vec<&String> = columns
        .iter()
        .filter_map(|c| match c {
            Column::Plain(n) => Some(n),
            Column::Agg(..) => None,
        })
        .collect();
    let mut groups: Vec<(Vec<String>, Vec<&Record>)> = Vec::new();
    for r in records {
        let key: Vec<String> = plain.iter().map(|n| reader.value(r, n)).collect();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    if groups.is_empty() && plain.is_empty() {
        groups.push((Vec::new(), Vec::new()));
    }
    groups
        .into_iter()
        .map(|(key, members)| {
            let mut plain_values = key.into_iter();
            let line: Line = columns
                .iter()
                .map(|c| match c {
                    Column::Plain(n) => (n.clone(), plain_values.next().unwrap_or_default()),
                    Column::Agg(agg, n, ty) => {
                        let values: Vec<String> = members
                            .iter()
                            .map(|r| reader.value(r, n))
                            .filter(|v| !v.is_empty())
                            .collect();
                        (format!("{}.{n}", agg.prefix()), fold(*agg, *ty, &values))
                    }
                })
                .collect();
            let keys = order
                .iter()
                .map(|(n, _, _)| {
                    line.iter()
                        .find(|(k, _)| k == n)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                })
                .collect();
            (line, keys)
        })
        .collect()
}

fn fold(agg: Aggregate, ty: Ty, values: &[String]) -> String {
    let numbers = || values.iter().filter_map(|v| v.parse::<Decimal>().ok());
    match agg {
        Aggregate::Count => values.len().to_string(),
        Aggregate::Sum => numbers().sum::<Decimal>().to_string(),
        Aggregate::Avg => {
            let n: Vec<Decimal> = numbers().collect();
            if n.is_empty() {
                String::new()
            } else {
                (n.iter().sum::<Decimal>() / Decimal::from(n.len()))
                    .round_dp(2)
                    .to_string()
            }
        }
        Aggregate::Min | Aggregate::Max => {
            let best = values.iter().reduce(|a, b| {
                let ord = compare(ty, a, b, false).unwrap_or_else(|| a.cmp(b));
                match (agg, ord) {
                    (Aggregate::Min, Ordering::Greater) | (Aggregate::Max, Ordering::Less) => b,
                    _ => a,
                }
            });
            best.cloned().unwrap_or_default()
        }
    }
}
