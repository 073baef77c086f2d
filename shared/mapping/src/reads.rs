//! What a compiled mapping reads from its source record: every field, related-record field and
//! line-collection field any part of the mapping looks at, so a flow selects exactly that (its
//! SOQL select list, its Intacct field list) from the mapping instead of from a hand-kept list.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json_path::PathElement;

use crate::path::SourcePath;
use crate::schema::{Catalog, FieldType, ObjectDef};

/// One step of a path read from a record, as the compiler collects them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// A field (or, below a child relationship, `records` / `totalSize` / `done`).
    Name(Box<str>),
    /// Every element of a list.
    Each,
    /// Everything at this point (a filter whose fields are not known, a value read whole).
    All,
}

/// The fields read from one record — a mapping's source record, or its target before a
/// write ([`crate::MappingPlan::target_reads`]): the record's own fields, its related (parent)
/// records' fields, and its line collections' fields.
///
/// Guarantees, for a mapping compiled from a spec:
/// - **Complete**: mapping a record pruned to these reads (each collection's lines pruned to
///   the collection's reads) gives exactly what mapping the whole record gives, output and
///   errors alike. Everything counts: field sources and `sources`, transform arguments read
///   from the record (`money` / `currency` codes and dates, `state` countries), conditions and
///   computed values (the CEL identifiers under `record` and `line`, `exists` / `all` over
///   lines included), line sources and their `when`, routing rules, matching keys and fuzzy
///   names, the ownership modification time, and the id fields error messages name a record
///   by (`Id`, `RECORDNO`, `CUSTOMERID`, `RECORDID`, those the object declares).
/// - **Deterministic and deduplicated**: fields are in name order, each once, whatever order
///   the spec uses them in; two uses of `Account.Name` are one read.
/// - A related record or line read whole (a JSONPath filter, `$`, an expression handing the
///   whole record to a function) reads every scalar field its object declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceReads {
    object: String,
    fields: BTreeSet<String>,
    parents: BTreeMap<String, SourceReads>,
    collections: BTreeMap<String, SourceReads>,
}

impl SourceReads {
    fn new(object: &str) -> SourceReads {
        SourceReads {
            object: object.to_owned(),
            ..SourceReads::default()
        }
    }

    /// The declared object these reads are of (`Opportunity`, `Account` for `Account.*`,
    /// `OpportunityLineItem` for the lines of `OpportunityLineItems`).
    pub fn object(&self) -> &str {
        &self.object
    }

    /// The record's own fields (not related records, not collections), by name.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(String::as_str)
    }

    /// The related records read, by relationship name (`Account`, `Owner`,
    /// `DISPLAYCONTACT`), each with what is read of it.
    pub fn parents(&self) -> impl Iterator<Item = (&str, &SourceReads)> {
        self.parents.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The line collections read, by name (`OpportunityLineItems`, `SBQQ__LineItems__r`: a
    /// child relationship or a repeated element), each with what is read of one line.
    pub fn collections(&self) -> impl Iterator<Item = (&str, &SourceReads)> {
        self.collections.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The dotted paths to select for this record, collections aside: its own fields, then
    /// each related record's paths prefixed with its name (`Account.Name`, `Owner.Email`,
    /// `Account.Owner.Email`), related records in name order. This is a SOQL select list
    /// (before the child subqueries) or an Intacct field list.
    pub fn paths(&self) -> Vec<String> {
        let mut out: Vec<String> = self.fields.iter().cloned().collect();
        for (name, parent) in &self.parents {
            out.extend(parent.paths().into_iter().map(|p| format!("{name}.{p}")));
        }
        out
    }

    /// Whether the dotted path (`Name`, `Account.BillingCountry`, `OpportunityLineItems.
    /// ProductCode` for a field of the lines) is read.
    pub fn contains(&self, dotted: &str) -> bool {
        let (first, rest) = match dotted.split_once('.') {
            Some((f, r)) => (f, Some(r)),
            None => (dotted, None),
        };
        match rest {
            None => {
                self.fields.contains(first)
                    || self.parents.contains_key(first)
                    || self.collections.contains_key(first)
            }
            Some(rest) => [self.parents.get(first), self.collections.get(first)]
                .into_iter()
                .flatten()
                .any(|r| r.contains(rest)),
        }
    }

    /// Adds what `other` reads (a flow that maps one source record with several mappings
    /// selects what any of them reads). The object stays this one's.
    pub fn merge(&mut self, other: &SourceReads) {
        self.fields.extend(other.fields.iter().cloned());
        for (name, p) in &other.parents {
            self.parents
                .entry(name.clone())
                .or_insert_with(|| SourceReads::new(&p.object))
                .merge(p);
        }
        for (name, c) in &other.collections {
            self.collections
                .entry(name.clone())
                .or_insert_with(|| SourceReads::new(&c.object))
                .merge(c);
        }
    }

    /// Whether nothing is read.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.parents.is_empty() && self.collections.is_empty()
    }

    /// Adds what a path from this record (of `object`) reads.
    fn add(&mut self, object: &ObjectDef, catalog: &Catalog, steps: &[Step]) {
        let Some((first, rest)) = steps.split_first() else {
            self.add_whole(object);
            return;
        };
        let name = match first {
            Step::All => {
                self.add_whole(object);
                return;
            }
            // A list step at a record (e.g. `[*]` over a record's values) reads all of it.
            Step::Each => {
                self.add_whole(object);
                return;
            }
            Step::Name(n) => n,
        };
        match object.fields.get(&**name) {
            Some(FieldType::Ref(o)) => {
                let Some(def) = catalog.get(o) else {
                    self.fields.insert(name.to_string());
                    return;
                };
                self.parents
                    .entry(name.to_string())
                    .or_insert_with(|| SourceReads::new(o))
                    .add(def, catalog, rest);
            }
            Some(FieldType::Children(o)) => {
                // `X.records[*].F` reads F of each line; `X`, `X.records`, `X.totalSize` read
                // the collection (and its lines whole when the list itself is the value).
                let lines = match rest {
                    [] => Some(&[Step::All][..]),
                    [Step::Name(r), Step::Each, more @ ..] if &**r == "records" => Some(more),
                    [Step::Name(r), more @ ..] if &**r == "records" => Some(if more.is_empty() {
                        &[Step::All][..]
                    } else {
                        more
                    }),
                    _ => None,
                };
                self.collection(name, o, catalog, lines.unwrap_or(&[]));
            }
            Some(FieldType::List(o)) => {
                let lines = match rest {
                    [Step::Each, more @ ..] => more,
                    more => more,
                };
                self.collection(name, o, catalog, lines);
            }
            // A scalar, an `any` (read whole, whatever is below it), or a name the object
            // does not declare (the compiler has refused those already).
            _ => {
                self.fields.insert(name.to_string());
            }
        }
    }

    fn collection(&mut self, name: &str, object: &str, catalog: &Catalog, steps: &[Step]) {
        let reads = self
            .collections
            .entry(name.to_owned())
            .or_insert_with(|| SourceReads::new(object));
        if let (Some(def), false) = (catalog.get(object), steps.is_empty()) {
            reads.add(def, catalog, steps);
        }
    }

    /// Every scalar field `object` declares.
    fn add_whole(&mut self, object: &ObjectDef) {
        for (name, ty) in &object.fields {
            if ty.is_scalar() {
                self.fields.insert(name.clone());
            }
        }
    }
}

/// Collects the paths a mapping reads, then builds its [`SourceReads`].
pub(crate) struct ReadSet<'c> {
    catalog: &'c Catalog,
    root: Arc<ObjectDef>,
    reads: SourceReads,
}

impl<'c> ReadSet<'c> {
    pub(crate) fn new(catalog: &'c Catalog, root: Arc<ObjectDef>) -> Self {
        let mut reads = SourceReads::new(&root.name);
        // Error messages name a record by the first of these it has.
        for id in crate::plan::ID_FIELDS {
            if root.fields.contains_key(id) {
                reads.fields.insert(id.to_owned());
            }
        }
        ReadSet {
            catalog,
            root,
            reads,
        }
    }

    /// Adds a path from the mapping's source record.
    pub(crate) fn add(&mut self, steps: &[Step]) {
        self.reads.add(&self.root, self.catalog, steps);
    }

    pub(crate) fn finish(self) -> SourceReads {
        self.reads
    }
}

/// The paths `path` reads, from the record of `object` it is evaluated on: a plain path is
/// its names; a query is every location it selects in the declared shape (a filter reads the
/// selected values whole, as its own fields are not known here).
pub(crate) fn steps_of(path: &SourcePath, object: &ObjectDef, catalog: &Catalog) -> Vec<Vec<Step>> {
    match path {
        SourcePath::Direct(segs) => vec![segs.iter().map(|s| Step::Name(s.clone())).collect()],
        SourcePath::Query(q) => {
            let filtered = q.to_string().contains('?');
            let shape = catalog.shape(object);
            let mut out: Vec<Vec<Step>> = q
                .query_located(&shape)
                .iter()
                .map(|node| {
                    let mut steps: Vec<Step> = node
                        .location()
                        .iter()
                        .map(|el| match el {
                            PathElement::Name(n) => Step::Name(Box::from(&**n)),
                            PathElement::Index(_) => Step::Each,
                        })
                        .collect();
                    if filtered {
                        steps.push(Step::All);
                    }
                    steps
                })
                .collect();
            out.dedup();
            // A filter on values the sample does not have selects nothing in it: read the
            // whole record rather than guess.
            if out.is_empty() {
                out.push(vec![Step::All]);
            }
            out
        }
    }
}

/// The line record of a collection read through `steps` (what `line.X` and a line field's
/// `$.X` start from): the steps without a filter's `All`, with `Each` at the end if the path
/// stops at the list.
pub(crate) fn line_prefix(mut steps: Vec<Step>) -> Vec<Step> {
    if steps.last() == Some(&Step::All) {
        steps.pop();
    }
    if steps.last() != Some(&Step::Each) {
        steps.push(Step::Each);
    }
    steps
}
