//! The emulated company's records: one table per object, record numbers, ownership by entity,
//! audit fields. Everything here is plain data so a `transaction="true"` operation can work on
//! a clone and either keep it or throw it away.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};

use crate::element::Element;
use crate::schema::{self, ObjectDef};

/// `MM/DD/YYYY HH:MM:SS`, how read results carry timestamps.
pub(crate) fn format_timestamp(t: DateTime<Utc>) -> String {
    lf_domain::datetime::format_intacct_datetime(&t)
}

/// `MM/DD/YYYY`.
pub(crate) fn format_date(d: NaiveDate) -> String {
    lf_domain::datetime::format_intacct_date(d)
}

/// An entity of the multi-entity company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// LOCATIONID, what `<locationid>` names.
    pub id: String,
    pub name: String,
    /// Base currency of the entity's books.
    pub currency: String,
}

/// One stored record. `el` is named after its object and holds the fields in schema order.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// The owning entity; `None` = top level.
    pub owner: Option<String>,
    pub el: Element,
}

impl Record {
    pub fn value(&self, path: &str) -> &str {
        self.el.value(path)
    }
}

#[derive(Debug, Clone, Default)]
struct Table {
    rows: BTreeMap<u64, Record>,
    next: u64,
    /// Lookups by field value ([`Company::find`]): per field, each value's first RECORDNO.
    /// Built on first use, kept up to date by inserts, dropped when a record may have changed
    /// (`get_mut`, `remove`), so a key lookup does not scan the table.
    keys: RefCell<HashMap<String, HashMap<String, u64>>>,
    /// Lookups by lowered field value ([`Company::recordnos_lowered`]): per field path, the
    /// RECORDNOs of each lowered value in order. Kept like `keys`.
    lowered: RefCell<HashMap<String, HashMap<String, Vec<u64>>>>,
}

/// Who is acting, where, and when: stamped on what they write and used to decide what they see.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub entity: Option<String>,
    pub user: String,
    pub now: DateTime<Utc>,
}

impl Ctx {
    pub fn today(&self) -> NaiveDate {
        self.now.date_naive()
    }
}

/// A record change, captured when it happened (for Smart Events).
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub object: &'static str,
    pub kind: ChangeKind,
    pub record: Record,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    Add,
    Set,
    Delete,
}

#[derive(Debug, Clone)]
pub(crate) struct Company {
    pub entities: Vec<Entity>,
    /// Reporting currency of the top level.
    pub base_currency: String,
    tables: HashMap<&'static str, Table>,
    /// Function controlids completed under `uniqueid=true`.
    pub completed: HashSet<String>,
    /// `<update>`s that left a record as it was, per object: writes that changed nothing.
    pub unchanged_updates: BTreeMap<&'static str, u64>,
}

impl Company {
    pub fn new(entities: Vec<Entity>, base_currency: &str) -> Self {
        Self {
            entities,
            base_currency: base_currency.to_owned(),
            tables: HashMap::new(),
            completed: HashSet::new(),
            unchanged_updates: BTreeMap::new(),
        }
    }

    pub fn entity(&self, id: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.id == id)
    }

    /// Base currency of `entity` (the top level's when `None`).
    pub fn currency_of(&self, entity: Option<&str>) -> String {
        entity
            .and_then(|id| self.entity(id))
            .map_or_else(|| self.base_currency.clone(), |e| e.currency.clone())
    }

    /// Whether a reader in `entity` sees `record`: an entity sees its own records and the top
    /// level's; the top level sees its own, and entities' records only with `show_private`.
    pub fn visible(record: &Record, entity: Option<&str>, show_private: bool) -> bool {
        match (&record.owner, entity) {
            (None, _) => true,
            (Some(owner), Some(reader)) => owner == reader,
            (Some(_), None) => show_private,
        }
    }

    pub fn get(&self, object: &str, recordno: u64) -> Option<&Record> {
        self.tables.get(object)?.rows.get(&recordno)
    }

    pub fn get_mut(&mut self, object: &str, recordno: u64) -> Option<&mut Record> {
        let table = self.tables.get_mut(object)?;
        table.keys.get_mut().clear();
        table.lowered.get_mut().clear();
        table.rows.get_mut(&recordno)
    }

    /// Records of `object` in RECORDNO order.
    pub fn rows(&self, object: &str) -> impl Iterator<Item = (u64, &Record)> {
        self.tables
            .get(object)
            .into_iter()
            .flat_map(|t| t.rows.iter().map(|(k, v)| (*k, v)))
    }

    pub fn count(&self, object: &str) -> usize {
        self.tables.get(object).map_or(0, |t| t.rows.len())
    }

    /// The first record (any owner) whose `field` equals `value` exactly.
    pub fn find(&self, object: &str, field: &str, value: &str) -> Option<u64> {
        let table = self.tables.get(object)?;
        let mut keys = table.keys.borrow_mut();
        let index = keys.entry(field.to_owned()).or_insert_with(|| {
            let mut index = HashMap::new();
            for (no, r) in &table.rows {
                index.entry(r.value(field).to_owned()).or_insert(*no);
            }
            index
        });
        index.get(value).copied()
    }

    /// The RECORDNOs (any owner, in order) of the records whose value at `path` lowered is one
    /// of `lowered`: the candidates of a text `=` or `IN` filter, which still decides.
    pub fn recordnos_lowered<'v>(
        &self,
        object: &str,
        path: &str,
        lowered: impl IntoIterator<Item = &'v str>,
    ) -> Vec<u64> {
        let Some(table) = self.tables.get(object) else {
            return Vec::new();
        };
        let mut indexes = table.lowered.borrow_mut();
        let index = indexes.entry(path.to_owned()).or_insert_with(|| {
            let mut index: HashMap<String, Vec<u64>> = HashMap::new();
            for (no, r) in &table.rows {
                index
                    .entry(r.value(path).to_lowercase())
                    .or_default()
                    .push(*no);
            }
            index
        });
        let mut out: Vec<u64> = lowered
            .into_iter()
            .filter_map(|v| index.get(v))
            .flatten()
            .copied()
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Like [`Company::find`], among records `entity` can see (private records included for
    /// the top level, as writes from the top level may name them).
    pub fn find_visible(
        &self,
        object: &str,
        field: &str,
        value: &str,
        entity: Option<&str>,
    ) -> Option<u64> {
        self.rows(object)
            .find(|(_, r)| r.value(field) == value && Self::visible(r, entity, entity.is_none()))
            .map(|(k, _)| k)
    }

    /// Stores a new record: assigns RECORDNO (first field), stamps the audit fields and the
    /// owner, and returns the record number.
    pub fn insert(
        &mut self,
        object: &'static str,
        owner: Option<String>,
        mut el: Element,
        ctx: &Ctx,
    ) -> u64 {
        let table = self.tables.entry(object).or_default();
        table.next += 1;
        let recordno = table.next;
        el.name = object.to_owned();
        el.remove("RECORDNO");
        el.children
            .insert(0, Element::leaf("RECORDNO", recordno.to_string()));
        let stamp = format_timestamp(ctx.now);
        let def = schema::object(object);
        let is_document = def.is_some_and(|d| d.field("AUWHENCREATED").is_some());
        if is_document {
            el.set("AUWHENCREATED", &stamp);
        } else {
            el.set("WHENCREATED", &stamp);
        }
        el.set("WHENMODIFIED", &stamp);
        el.set("CREATEDBY", &ctx.user);
        el.set("MODIFIEDBY", &ctx.user);
        let entity_name = owner
            .as_deref()
            .and_then(|id| self.entity(id))
            .map(|e| e.name.clone())
            .unwrap_or_default();
        el.set("MEGAENTITYID", owner.clone().unwrap_or_default());
        el.set("MEGAENTITYNAME", entity_name);
        if let Some(def) = def {
            order_fields(&mut el, def);
        }
        let table = self.tables.entry(object).or_default();
        for (field, index) in table.keys.get_mut().iter_mut() {
            index.entry(el.value(field).to_owned()).or_insert(recordno);
        }
        for (path, index) in table.lowered.get_mut().iter_mut() {
            index
                .entry(el.value(path).to_lowercase())
                .or_default()
                .push(recordno);
        }
        table.rows.insert(recordno, Record { owner, el });
        recordno
    }

    /// Moves WHENMODIFIED/MODIFIEDBY to now.
    pub fn touch(&mut self, object: &str, recordno: u64, ctx: &Ctx) {
        if let Some(r) = self.get_mut(object, recordno) {
            r.el.set("WHENMODIFIED", format_timestamp(ctx.now));
            r.el.set("MODIFIEDBY", &ctx.user);
        }
    }

    pub fn remove(&mut self, object: &str, recordno: u64) -> Option<Record> {
        let table = self.tables.get_mut(object)?;
        table.keys.get_mut().clear();
        table.lowered.get_mut().clear();
        table.rows.remove(&recordno)
    }

    /// A change of the record as it is now, for Smart Events.
    pub fn change(&self, object: &'static str, kind: ChangeKind, recordno: u64) -> Option<Change> {
        self.get(object, recordno).map(|r| Change {
            object,
            kind,
            record: r.clone(),
        })
    }
}

/// Puts known fields in schema order, extra fields after them.
fn order_fields(el: &mut Element, def: &ObjectDef) {
    let mut children = std::mem::take(&mut el.children);
    let mut ordered = Vec::with_capacity(children.len());
    for field in def.fields {
        if let Some(pos) = children.iter().position(|c| c.name == field.name) {
            ordered.push(children.remove(pos));
        }
    }
    ordered.extend(children);
    el.children = ordered;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx {
            entity: None,
            user: "test".to_owned(),
            now: Utc::now(),
        }
    }

    fn customer(id: &str, name: &str) -> Element {
        Element::new("CUSTOMER")
            .with_child(Element::leaf("CUSTOMERID", id))
            .with_child(Element::leaf("NAME", name))
    }

    #[test]
    fn find_by_field_follows_inserts_changes_and_removals() {
        let mut c = Company::new(Vec::new(), "USD");
        assert_eq!(c.find("CUSTOMER", "CUSTOMERID", "C-1"), None);
        let one = c.insert("CUSTOMER", None, customer("C-1", "Same"), &ctx());
        assert_eq!(c.find("CUSTOMER", "CUSTOMERID", "C-1"), Some(one));
        // The index is built now; later inserts must show in it.
        let two = c.insert("CUSTOMER", None, customer("C-2", "Same"), &ctx());
        assert_eq!(c.find("CUSTOMER", "CUSTOMERID", "C-2"), Some(two));
        assert_eq!(
            c.find("CUSTOMER", "NAME", "Same"),
            Some(one),
            "the first record"
        );
        assert_eq!(c.find("CUSTOMER", "NAME", "same"), None, "exact match only");
        // A record changed in place: the old value is gone, the new one found.
        c.get_mut("CUSTOMER", one)
            .unwrap()
            .el
            .set("CUSTOMERID", "C-9");
        assert_eq!(c.find("CUSTOMER", "CUSTOMERID", "C-1"), None);
        assert_eq!(c.find("CUSTOMER", "CUSTOMERID", "C-9"), Some(one));
        c.remove("CUSTOMER", one);
        assert_eq!(c.find("CUSTOMER", "CUSTOMERID", "C-9"), None);
        assert_eq!(c.find("CUSTOMER", "NAME", "Same"), Some(two));
    }

    #[test]
    fn lowered_lookups_follow_inserts_changes_and_removals() {
        let mut c = Company::new(Vec::new(), "USD");
        let names = |c: &Company, wanted: &[&str]| {
            c.recordnos_lowered("CUSTOMER", "NAME", wanted.iter().copied())
        };
        let one = c.insert("CUSTOMER", None, customer("C-1", "Acme GmbH"), &ctx());
        assert_eq!(names(&c, &["acme gmbh"]), vec![one]);
        // Built now; later inserts show, every record with the value, in RECORDNO order.
        let two = c.insert("CUSTOMER", None, customer("C-2", "ACME GMBH"), &ctx());
        let three = c.insert("CUSTOMER", None, customer("C-3", "Beta"), &ctx());
        assert_eq!(
            names(&c, &["beta", "acme gmbh", "beta"]),
            vec![one, two, three]
        );
        assert!(
            names(&c, &["Acme GmbH"]).is_empty(),
            "the values given lowered"
        );
        c.get_mut("CUSTOMER", one).unwrap().el.set("NAME", "Gamma");
        assert_eq!(names(&c, &["acme gmbh"]), vec![two]);
        assert_eq!(names(&c, &["gamma"]), vec![one]);
        c.remove("CUSTOMER", two);
        assert!(names(&c, &["acme gmbh"]).is_empty());
        assert!(c.recordnos_lowered("NOSUCH", "NAME", ["x"]).is_empty());
    }
}
