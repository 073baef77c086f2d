//! How records are seen by reads: field names resolved against the schema (nested blocks and
//! related objects by dotted path), field lists, and records rendered into result elements.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::company::{Company, Record};
use crate::element::Element;
use crate::query::{FilterError, Row};
use crate::schema::{self, ObjectDef, Relation, Ty};

/// What a field name refers to.
#[derive(Debug, Clone)]
pub(crate) enum Resolved {
    /// A field of the record itself, possibly inside a nested block (`DISPLAYCONTACT.EMAIL1`).
    Own { path: String, ty: Ty },
    /// A field of a related record (`CUSTOMER.NAME` on ARINVOICE).
    Related {
        relation: &'static Relation,
        path: String,
        ty: Ty,
    },
}

impl Resolved {
    pub fn ty(&self) -> Ty {
        match self {
            Resolved::Own { ty, .. } | Resolved::Related { ty, .. } => *ty,
        }
    }
}

/// Resolves `name` (upper-cased) on `def`.
pub(crate) fn resolve(def: &ObjectDef, name: &str) -> Result<Resolved, FilterError> {
    resolve_in(def, name, true)
}

fn resolve_in(
    def: &ObjectDef,
    name: &str,
    follow_relations: bool,
) -> Result<Resolved, FilterError> {
    let invalid = || FilterError(format!("Invalid field {name} for object {}", def.name));
    let upper = name.trim().to_ascii_uppercase();
    let (head, rest) = match upper.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (upper.as_str(), None),
    };
    if let Some(field) = def.field(head) {
        return match (field.ty, rest) {
            (Ty::Group, Some(_)) => Ok(Resolved::Own {
                path: upper.clone(),
                ty: Ty::Text,
            }),
            (Ty::Group, None) => Err(FilterError(format!(
                "Field {head} of {} is a block; name one of its fields ({head}.FIELD)",
                def.name
            ))),
            (ty, None) => Ok(Resolved::Own {
                path: upper.clone(),
                ty,
            }),
            (_, Some(_)) => Err(invalid()),
        };
    }
    if follow_relations
        && let Some(rest) = rest
        && let Some(relation) = def.relations.iter().find(|r| r.prefix == head)
    {
        let target = schema::object(relation.object).ok_or_else(invalid)?;
        let inner = resolve_in(target, rest, false).map_err(|_| invalid())?;
        return Ok(Resolved::Related {
            relation,
            path: rest.to_owned(),
            ty: inner.ty(),
        });
    }
    Err(invalid())
}

/// Which fields a read returns.
#[derive(Debug, Clone)]
pub(crate) enum Fields {
    All,
    List(Vec<String>),
}

impl Fields {
    /// Reads a comma-separated `<fields>` value (`*` or empty = all), checking each name.
    pub fn parse(def: &ObjectDef, text: Option<&str>) -> Result<Fields, FilterError> {
        let text = text.map(str::trim).unwrap_or("");
        if text.is_empty() || text == "*" {
            return Ok(Fields::All);
        }
        let mut names = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let upper = name.to_ascii_uppercase();
            if resolve(def, &upper).is_err() && def.field(&upper).is_none() {
                return Err(FilterError(format!("Invalid fields list: {name}")));
            }
            names.push(upper);
        }
        Ok(Fields::List(names))
    }
}

/// RECORDNO by key value, for one related object and key field.
type KeyIndex = HashMap<String, u64>;

/// Field lookups for one read: related records are found through per-read indexes.
pub(crate) struct Reader<'a> {
    pub company: &'a Company,
    pub def: &'static ObjectDef,
    indexes: RefCell<HashMap<(&'static str, &'static str), KeyIndex>>,
    /// Field names resolved once per read: a filter asks for the same few fields of every
    /// record it scans.
    resolved: RefCell<HashMap<String, Option<Resolved>>>,
}

impl<'a> Reader<'a> {
    pub fn new(company: &'a Company, def: &'static ObjectDef) -> Self {
        Self {
            company,
            def,
            indexes: RefCell::new(HashMap::new()),
            resolved: RefCell::new(HashMap::new()),
        }
    }

    fn resolved(&self, name: &str) -> Option<Resolved> {
        if let Some(r) = self.resolved.borrow().get(name) {
            return r.clone();
        }
        let r = resolve(self.def, name).ok();
        self.resolved
            .borrow_mut()
            .insert(name.to_owned(), r.clone());
        r
    }

    /// The value of `name` for `record`; empty when unset.
    /// Where `name` is read on the record itself (its path, `name` when unresolved, as
    /// [`Reader::value`] reads it); `None` for a field of a related record.
    pub fn own_path(&self, name: &str) -> Option<String> {
        match self.resolved(name) {
            Some(Resolved::Own { path, .. }) => Some(path),
            Some(Resolved::Related { .. }) => None,
            None => Some(name.to_owned()),
        }
    }

    pub fn value(&self, record: &Record, name: &str) -> String {
        match self.resolved(name) {
            Some(Resolved::Own { path, .. }) => record.value(&path).to_owned(),
            Some(Resolved::Related { relation, path, .. }) => {
                let key = record.value(relation.local);
                if key.is_empty() {
                    return String::new();
                }
                let mut indexes = self.indexes.borrow_mut();
                let index = indexes
                    .entry((relation.object, relation.remote))
                    .or_insert_with(|| {
                        self.company
                            .rows(relation.object)
                            .map(|(no, r)| (r.value(relation.remote).to_owned(), no))
                            .collect()
                    });
                index
                    .get(key)
                    .and_then(|no| self.company.get(relation.object, *no))
                    .map(|r| r.value(&path).to_owned())
                    .unwrap_or_default()
            }
            None => record.value(name).to_owned(),
        }
    }

    pub fn row<'r>(&'r self, record: &'r Record) -> RecordRow<'r, 'a> {
        RecordRow {
            reader: self,
            record,
        }
    }

    /// The record as a result element named `element`, with `fields`.
    pub fn render(&self, record: &Record, element: &str, fields: &Fields) -> Element {
        let mut out = Element::new(element);
        match fields {
            Fields::All => out.children = record.el.children.clone(),
            Fields::List(names) => {
                for name in names {
                    match record.el.child(name) {
                        // A whole block asked for by name keeps its structure.
                        Some(block) if !block.children.is_empty() => {
                            out.children.push(block.clone())
                        }
                        _ => out
                            .children
                            .push(Element::leaf(name, self.value(record, name))),
                    }
                }
            }
        }
        out
    }

    /// Like [`Reader::render`] with `*`, plus the document's lines nested as `read` returns them.
    pub fn render_with_lines(&self, record: &Record, element: &str) -> Element {
        let mut out = self.render(record, element, &Fields::All);
        if let Some((container, line_object, link)) = self.def.lines {
            let recordno = record.value("RECORDNO");
            let mut block = Element::new(container);
            for (_, line) in self.company.rows(line_object) {
                if line.value(link) == recordno {
                    let mut el = line.el.clone();
                    el.name = line_object.to_ascii_lowercase();
                    block.children.push(el);
                }
            }
            out.replace_child(block);
        }
        out
    }
}

/// One record seen through a [`Reader`], for filters.
pub(crate) struct RecordRow<'r, 'a> {
    reader: &'r Reader<'a>,
    record: &'r Record,
}

impl Row for RecordRow<'_, '_> {
    fn get(&self, field: &str) -> Option<String> {
        Some(self.reader.value(self.record, field))
    }
}
