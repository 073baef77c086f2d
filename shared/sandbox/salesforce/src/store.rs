//! The org's records and every rule a write goes through: field-level access, type checks,
//! required fields, references, unique external ids, derived fields (Opportunity `IsWon`,
//! line-item prices, roll-ups) and system stamps.
//!
//! All of it is synchronous and runs under the org's one lock, so a request (a composite
//! request included) sees and changes a consistent state, and rolling back is restoring a
//! snapshot.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};
use lf_domain::{Clock, SalesforceId};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde_json::{Map, Value};

use crate::schema::{CORPORATE_CURRENCY, FieldDef, FieldType, ObjectDef, STAGES, Schema};
use crate::value::{FieldError, coerce, format_datetime};

/// A record: canonical field name → stored value.
pub type Record = Map<String, Value>;

/// One committed change, for Outbound Message rules.
#[derive(Debug, Clone)]
pub struct Change {
    pub object: &'static str,
    pub id: String,
    /// The record before the change; `None` for a create.
    pub before: Option<Record>,
}

/// Who is writing: a client through the API, or the org itself (seeding), which may set
/// read-only fields such as `CreatedDate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    Api,
    System,
}

/// What an upsert did.
#[derive(Debug, Clone, PartialEq)]
pub enum UpsertOutcome {
    Created(String),
    Updated(String),
    /// More than one record has the external id value: nothing was written.
    Multiple(Vec<String>),
}

/// Checked field values by field name, and the names the client gave.
type CheckedInput = (BTreeMap<&'static str, Value>, HashSet<&'static str>);

/// Live records by (object, external id, unique or child relationship field) and normalised
/// value, so that upserts, uniqueness checks and child subqueries do not scan a table.
type KeyIndex = HashMap<(&'static str, &'static str), HashMap<String, Vec<String>>>;

/// Rolling back a transaction restores this.
#[derive(Debug)]
pub struct Snapshot {
    tables: HashMap<&'static str, BTreeMap<String, Record>>,
    keys: KeyIndex,
    autonumbers: HashMap<&'static str, u64>,
    changes: usize,
}

/// All records of the org.
#[derive(Debug)]
pub struct Store {
    tables: HashMap<&'static str, BTreeMap<String, Record>>,
    keys: KeyIndex,
    sequences: HashMap<String, u64>,
    autonumbers: HashMap<&'static str, u64>,
    changes: Vec<Change>,
    clock: Arc<dyn Clock>,
    /// While set, "now" is this instant (seeding writes fixed timestamps).
    frozen_now: Option<DateTime<Utc>>,
    /// The running user: owner and modifier of what the API writes.
    pub user_id: String,
    /// Deletions since this instant are listed by getDeleted: the org's start, or the last
    /// hard delete (which removes a record and its deletion for good).
    deletions_kept_since: DateTime<Utc>,
    /// API updates that set every field to the value it had: writes that changed nothing (a
    /// sync answering its own echo would make them).
    pub unchanged_updates: BTreeMap<&'static str, u64>,
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Builds an 18-character id from a key prefix and a sequence number: prefix, a fixed pod
/// part, and the number in base 62, so ids sort in creation order.
pub fn make_id(prefix: &str, seq: u64) -> String {
    let mut digits = [b'0'; 6];
    let mut n = seq;
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    let fifteen = format!(
        "{prefix}8d0000{}",
        std::str::from_utf8(&digits).unwrap_or("000000")
    );
    SalesforceId::parse(&fifteen)
        .map(|id| id.as_str().to_owned())
        .unwrap_or(fifteen)
}

fn not_found() -> FieldError {
    FieldError::new("NOT_FOUND", "The requested resource does not exist", &[])
}

fn as_decimal(v: Option<&Value>) -> Option<Decimal> {
    v.and_then(Value::as_f64).and_then(Decimal::from_f64)
}

fn number(d: Decimal, scale: u32) -> Value {
    d.round_dp(scale)
        .to_f64()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn text_key(field: &FieldDef, v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if field.kind.is_text() => Some(s.to_lowercase()),
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

impl Store {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let clock_start = clock.now();
        let tables = Schema::get()
            .objects()
            .iter()
            .map(|o| (o.name, BTreeMap::new()))
            .collect();
        Self {
            tables,
            keys: KeyIndex::new(),
            sequences: HashMap::new(),
            autonumbers: HashMap::new(),
            changes: Vec::new(),
            clock,
            frozen_now: None,
            user_id: make_id("005", 0),
            deletions_kept_since: clock_start,
            unchanged_updates: BTreeMap::new(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.frozen_now.unwrap_or_else(|| self.clock.now())
    }

    /// Fixes "now" (for deterministic seed data), or lets the clock run again.
    pub fn freeze_time(&mut self, at: Option<DateTime<Utc>>) {
        self.frozen_now = at;
    }

    /// A new id for `prefix`. Sequences never go back, even on rollback, as in Salesforce.
    pub fn new_id(&mut self, prefix: &str) -> String {
        let seq = self.sequences.entry(prefix.to_owned()).or_insert(10_000);
        *seq += 1;
        make_id(prefix, *seq)
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            tables: self.tables.clone(),
            keys: self.keys.clone(),
            autonumbers: self.autonumbers.clone(),
            changes: self.changes.len(),
        }
    }

    pub fn restore(&mut self, snap: Snapshot) {
        self.tables = snap.tables;
        self.keys = snap.keys;
        self.autonumbers = snap.autonumbers;
        self.changes.truncate(snap.changes);
    }

    /// The earliest instant whose deletions getDeleted still lists.
    pub fn earliest_deletion_kept(&self) -> DateTime<Utc> {
        self.deletions_kept_since
    }

    /// Committed changes since the last call.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// Every row of `object`, deleted ones included, in id (creation) order.
    pub fn rows(&self, object: &str) -> impl Iterator<Item = &Record> {
        self.tables.get(object).into_iter().flat_map(|t| t.values())
    }

    pub fn count(&self, object: &str) -> usize {
        self.rows(object).filter(|r| !is_deleted(r)).count()
    }

    /// The record with `id` (15 or 18 characters), with its object, deleted or not.
    pub fn find(&self, id: &str) -> Option<(&'static ObjectDef, &Record)> {
        let id = SalesforceId::parse(id).ok()?;
        let object = Schema::get().object_by_prefix(id.key_prefix())?;
        self.tables
            .get(object.name)?
            .get(id.as_str())
            .map(|r| (object, r))
    }

    /// The record of `object` stored under `id` as stored (18 characters), deleted or not.
    pub fn row(&self, object: &ObjectDef, id: &str) -> Option<&Record> {
        self.tables.get(object.name)?.get(id)
    }

    /// A live (not deleted) record of `object`.
    pub fn get(&self, object: &ObjectDef, id: &str) -> Option<&Record> {
        let id = SalesforceId::parse(id).ok()?;
        self.tables
            .get(object.name)?
            .get(id.as_str())
            .filter(|r| !is_deleted(r))
    }

    fn live_exists(&self, id: &str) -> bool {
        self.find(id).is_some_and(|(_, r)| !is_deleted(r))
    }

    /// Ids of live records whose `field` equals `value` (case-insensitively for text).
    pub fn find_by_field(&self, object: &ObjectDef, field: &FieldDef, value: &str) -> Vec<String> {
        let wanted = if field.kind.is_id() {
            SalesforceId::parse(value)
                .map(|i| i.as_str().to_owned())
                .unwrap_or_else(|_| value.to_owned())
        } else {
            value.to_lowercase()
        };
        if is_keyed(field) {
            return self
                .keys
                .get(&(object.name, field.name))
                .and_then(|m| m.get(&wanted))
                .cloned()
                .unwrap_or_default();
        }
        self.rows(object.name)
            .filter(|r| !is_deleted(r))
            .filter(|r| {
                r.get(field.name)
                    .and_then(|v| text_key(field, v))
                    .is_some_and(|k| k == wanted)
            })
            .filter_map(|r| r.get("Id").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    /// The live records of `child` whose `field` (a child relationship's) holds `parent_id`,
    /// in id order, as a scan of the table would give them.
    pub fn children(&self, child: &ObjectDef, field: &FieldDef, parent_id: &str) -> Vec<&Record> {
        let Some(table) = self.tables.get(child.name) else {
            return Vec::new();
        };
        let mut ids = self.find_by_field(child, field, parent_id);
        ids.sort();
        ids.iter()
            .filter_map(|id| table.get(id.as_str()))
            .filter(|r| !is_deleted(r))
            .collect()
    }

    /// Creates a record; returns its id.
    pub fn create(
        &mut self,
        object: &'static ObjectDef,
        input: &Map<String, Value>,
        writer: Writer,
    ) -> Result<String, Vec<FieldError>> {
        let (values, given) = self.read_input(object, input, writer, true)?;
        let mut rec = Record::new();
        for f in &object.fields {
            if let Some(v) = values.get(f.name) {
                rec.insert(f.name.to_owned(), v.clone());
            }
        }
        self.apply_defaults(object, &mut rec);
        self.derive(object, &mut rec, &given, None)
            .map_err(|e| vec![e])?;
        check_required(object, &rec)?;
        self.check_unique(object, &rec, None)?;
        let id = match rec.get("Id").and_then(Value::as_str) {
            Some(id) if writer == Writer::System => id.to_owned(),
            _ => self.new_id(object.key_prefix),
        };
        let now = Value::String(format_datetime(self.now()));
        let user = Value::String(self.user_id.clone());
        rec.insert("Id".into(), Value::String(id.clone()));
        rec.insert("IsDeleted".into(), Value::Bool(false));
        for (field, value) in [
            ("CreatedDate", &now),
            ("LastModifiedDate", &now),
            ("SystemModstamp", &now),
            ("CreatedById", &user),
            ("LastModifiedById", &user),
        ] {
            let keep = writer == Writer::System && rec.get(field).is_some_and(|v| !v.is_null());
            if !keep {
                rec.insert(field.into(), value.clone());
            }
        }
        if let Some(format) = object.auto_number_format {
            let n = self.autonumbers.entry(object.name).or_insert(0);
            *n += 1;
            rec.insert("Name".into(), Value::String(auto_number(format, *n)));
        }
        let ordered = order_fields(object, rec);
        self.reindex(object, &id, None, Some(&ordered));
        if let Some(t) = self.tables.get_mut(object.name) {
            t.insert(id.clone(), ordered);
        }
        self.changes.push(Change {
            object: object.name,
            id: id.clone(),
            before: None,
        });
        self.roll_up_from(object, &id);
        Ok(id)
    }

    /// Updates a live record of `object`.
    pub fn update(
        &mut self,
        object: &'static ObjectDef,
        id: &str,
        input: &Map<String, Value>,
        writer: Writer,
    ) -> Result<(), Vec<FieldError>> {
        let id = SalesforceId::parse(id)
            .map_err(|_| vec![malformed_id(object, id)])?
            .as_str()
            .to_owned();
        if !id.starts_with(object.key_prefix) {
            return Err(vec![malformed_id(object, &id)]);
        }
        let before = match self.tables.get(object.name).and_then(|t| t.get(&id)) {
            None => return Err(vec![not_found()]),
            Some(r) if is_deleted(r) => {
                return Err(vec![FieldError::new(
                    "ENTITY_IS_DELETED",
                    "entity is deleted",
                    &[],
                )]);
            }
            Some(r) => r.clone(),
        };
        let (values, given) = self.read_input(object, input, writer, false)?;
        let mut rec = before.clone();
        for (k, v) in values {
            rec.insert(k.to_owned(), v);
        }
        self.derive(object, &mut rec, &given, Some(&before))
            .map_err(|e| vec![e])?;
        check_required(object, &rec)?;
        self.check_unique(object, &rec, Some(&id))?;
        if writer == Writer::Api && rec == before {
            *self.unchanged_updates.entry(object.name).or_default() += 1;
        }
        let now = Value::String(format_datetime(self.now()));
        rec.insert("LastModifiedDate".into(), now.clone());
        rec.insert("SystemModstamp".into(), now);
        rec.insert(
            "LastModifiedById".into(),
            Value::String(self.user_id.clone()),
        );
        self.reindex(object, &id, Some(&before), Some(&rec));
        if let Some(t) = self.tables.get_mut(object.name) {
            t.insert(id.clone(), rec);
        }
        self.changes.push(Change {
            object: object.name,
            id: id.clone(),
            before: Some(before),
        });
        self.roll_up_from(object, &id);
        Ok(())
    }

    /// Upserts on `ext_field` (an external id field, or `Id`).
    pub fn upsert(
        &mut self,
        object: &'static ObjectDef,
        ext_field: &FieldDef,
        value: &str,
        input: &Map<String, Value>,
        writer: Writer,
    ) -> Result<UpsertOutcome, Vec<FieldError>> {
        let mut body = input.clone();
        body.retain(|k, _| !k.eq_ignore_ascii_case(ext_field.name));
        if ext_field.name == "Id" {
            if value.is_empty() {
                return self
                    .create(object, &body, writer)
                    .map(UpsertOutcome::Created);
            }
            self.update(object, value, &body, writer)?;
            let id = SalesforceId::parse(value)
                .map(|i| i.as_str().to_owned())
                .unwrap_or_else(|_| value.to_owned());
            return Ok(UpsertOutcome::Updated(id));
        }
        let matches = self.find_by_field(object, ext_field, value);
        match matches.as_slice() {
            [] => {
                body.insert(ext_field.name.to_owned(), Value::String(value.to_owned()));
                self.create(object, &body, writer)
                    .map(UpsertOutcome::Created)
            }
            [one] => {
                let one = one.clone();
                self.update(object, &one, &body, writer)?;
                Ok(UpsertOutcome::Updated(one))
            }
            _ => Ok(UpsertOutcome::Multiple(matches)),
        }
    }

    /// Deletes a record (it stays visible to `queryAll`), cascading to master-detail children
    /// and clearing lookups that pointed at it.
    pub fn delete(&mut self, id: &str) -> Result<&'static ObjectDef, FieldError> {
        let parsed = SalesforceId::parse(id)
            .map_err(|_| FieldError::new("MALFORMED_ID", format!("malformed id {id}"), &["Id"]))?;
        let id = parsed.as_str().to_owned();
        let Some((object, rec)) = self.find(&id) else {
            return Err(not_found());
        };
        if is_deleted(rec) {
            return Err(FieldError::new(
                "ENTITY_IS_DELETED",
                "entity is deleted",
                &[],
            ));
        }
        let before = rec.clone();
        let now = Value::String(format_datetime(self.now()));
        self.reindex(object, &id, Some(&before), None);
        if let Some(r) = self
            .tables
            .get_mut(object.name)
            .and_then(|t| t.get_mut(&id))
        {
            r.insert("IsDeleted".into(), Value::Bool(true));
            r.insert("SystemModstamp".into(), now.clone());
        }
        self.changes.push(Change {
            object: object.name,
            id: id.clone(),
            before: Some(before),
        });
        for child in &object.children {
            let ids: Vec<String> = self
                .rows(child.child)
                .filter(|r| !is_deleted(r))
                .filter(|r| r.get(child.field).and_then(Value::as_str) == Some(id.as_str()))
                .filter_map(|r| r.get("Id").and_then(Value::as_str).map(str::to_owned))
                .collect();
            for cid in ids {
                if child.cascade_delete {
                    let _ = self.delete(&cid);
                } else if let Some(r) = self
                    .tables
                    .get_mut(child.child)
                    .and_then(|t| t.get_mut(&cid))
                {
                    r.insert(child.field.to_owned(), Value::Null);
                    r.insert("SystemModstamp".into(), now.clone());
                }
            }
        }
        self.roll_up_from(object, &id);
        Ok(object)
    }

    /// Removes a record for good (Bulk `hardDelete`).
    pub fn hard_delete(&mut self, id: &str) -> Result<(), FieldError> {
        let object = self.delete(id)?;
        let id18 = SalesforceId::parse(id)
            .map(|i| i.as_str().to_owned())
            .unwrap_or_default();
        if let Some(t) = self.tables.get_mut(object.name) {
            t.remove(&id18);
        }
        self.deletions_kept_since = self.now();
        Ok(())
    }

    /// Reads a client's field map into checked values. Returns the values and the set of
    /// fields the client named.
    fn read_input(
        &self,
        object: &'static ObjectDef,
        input: &Map<String, Value>,
        writer: Writer,
        creating: bool,
    ) -> Result<CheckedInput, Vec<FieldError>> {
        let mut values = BTreeMap::new();
        let mut given = HashSet::new();
        let mut errors = Vec::new();
        let mut read_only = Vec::new();
        for (key, raw) in input {
            if key == "attributes" {
                continue;
            }
            let field = match object.field(key) {
                Some(f) => f,
                None => match object.parent_relationship(key) {
                    Some(f) if raw.is_object() => {
                        match self.resolve_parent_by_external_id(f, raw) {
                            Ok(id) => {
                                values.insert(f.name, Value::String(id));
                                given.insert(f.name);
                                continue;
                            }
                            Err(e) => {
                                errors.push(e);
                                continue;
                            }
                        }
                    }
                    _ => {
                        errors.push(FieldError::new(
                            "INVALID_FIELD",
                            format!("No such column '{key}' on sobject of type {}", object.name),
                            &[],
                        ));
                        continue;
                    }
                },
            };
            let writable = if creating {
                field.createable
            } else {
                field.updateable
            };
            if writer == Writer::Api && !writable {
                read_only.push(field.name);
                continue;
            }
            match coerce(field, raw) {
                Ok(v) => {
                    if field.kind == FieldType::Reference
                        && let Some(id) = v.as_str()
                        && writer == Writer::Api
                        && !self.live_exists(id)
                    {
                        errors.push(FieldError::new(
                            "INVALID_CROSS_REFERENCE_KEY",
                            format!("invalid cross reference id: {}", field.label),
                            &[field.name],
                        ));
                        continue;
                    }
                    values.insert(field.name, v);
                    given.insert(field.name);
                }
                Err(e) => errors.push(e),
            }
        }
        if !read_only.is_empty() {
            let verb = if creating { "create" } else { "update" };
            errors.insert(
                0,
                FieldError {
                    code: "INVALID_FIELD_FOR_INSERT_UPDATE",
                    message: format!(
                        "Unable to {verb} fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                        read_only.join(", ")
                    ),
                    fields: read_only.iter().map(|f| (*f).to_owned()).collect(),
                },
            );
        }
        if errors.is_empty() {
            Ok((values, given))
        } else {
            Err(errors)
        }
    }

    /// `"Account": {"Intacct_Customer_ID__c": "C-100"}` → the Account's id.
    fn resolve_parent_by_external_id(
        &self,
        field: &FieldDef,
        raw: &Value,
    ) -> Result<String, FieldError> {
        let schema = Schema::get();
        let target = field
            .reference_to
            .first()
            .and_then(|t| schema.object(t))
            .ok_or_else(not_found)?;
        let map = raw.as_object().ok_or_else(not_found)?;
        let mut keys = map.iter().filter(|(k, _)| *k != "attributes");
        let (Some((key, value)), None) = (keys.next(), keys.next()) else {
            return Err(FieldError::new(
                "INVALID_FIELD",
                format!(
                    "The foreign key reference {} must name exactly one external id field",
                    field.relationship_name.unwrap_or(field.name)
                ),
                &[],
            ));
        };
        let ext = target
            .field(key)
            .filter(|f| f.external_id || f.name == "Id")
            .ok_or_else(|| {
                FieldError::new(
                    "INVALID_FIELD",
                    format!(
                        "{key} is not an External ID or indexed field for {}",
                        target.name
                    ),
                    &[],
                )
            })?;
        let wanted = crate::value::to_csv_cell(value);
        let found = self.find_by_field(target, ext, &wanted);
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(FieldError::new(
                "INVALID_FIELD",
                format!(
                    "Foreign key external ID: {wanted} not found for field {} in entity {}",
                    ext.name, target.name
                ),
                &[],
            )),
            _ => Err(FieldError::new(
                "INVALID_FIELD",
                format!(
                    "Foreign key external ID: {wanted} matches more than one record for field {} in entity {}",
                    ext.name, target.name
                ),
                &[],
            )),
        }
    }

    fn apply_defaults(&self, object: &ObjectDef, rec: &mut Record) {
        for f in &object.fields {
            let missing = rec.get(f.name).is_none_or(Value::is_null);
            if !missing || !f.defaulted {
                continue;
            }
            let v = match (f.name, f.kind) {
                ("OwnerId", _) => Value::String(self.user_id.clone()),
                ("CurrencyIsoCode", _) => Value::String(CORPORATE_CURRENCY.to_owned()),
                ("IsActive", FieldType::Boolean) if object.name == "User" => Value::Bool(true),
                (_, FieldType::Boolean) => Value::Bool(false),
                (_, FieldType::Picklist) => match f.picklist.first() {
                    Some(v) => Value::String((*v).to_owned()),
                    None => continue,
                },
                _ => continue,
            };
            rec.insert(f.name.to_owned(), v);
        }
    }

    fn parent(&self, rec: &Record, field: &str) -> Option<&Record> {
        rec.get(field)
            .and_then(Value::as_str)
            .and_then(|id| self.find(id))
            .map(|(_, r)| r)
    }

    /// Fields the org computes, and the cross-field rules of the objects the flows use.
    fn derive(
        &self,
        object: &ObjectDef,
        rec: &mut Record,
        given: &HashSet<&'static str>,
        before: Option<&Record>,
    ) -> Result<(), FieldError> {
        match object.name {
            "Contact" | "User" => {
                let first = rec.get("FirstName").and_then(Value::as_str).unwrap_or("");
                let last = rec.get("LastName").and_then(Value::as_str).unwrap_or("");
                let name = format!("{first} {last}").trim().to_owned();
                rec.insert("Name".into(), Value::String(name));
            }
            "Opportunity" => {
                let stage = rec
                    .get("StageName")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let def = STAGES.iter().find(|s| s.0.eq_ignore_ascii_case(&stage));
                rec.insert("IsClosed".into(), Value::Bool(def.is_some_and(|d| d.2)));
                rec.insert("IsWon".into(), Value::Bool(def.is_some_and(|d| d.3)));
                let stage_changed = before
                    .is_none_or(|b| b.get("StageName").and_then(Value::as_str) != Some(&stage));
                let probability_missing = rec.get("Probability").is_none_or(Value::is_null);
                if let Some(d) = def
                    && !given.contains("Probability")
                    && (stage_changed || probability_missing)
                {
                    rec.insert("Probability".into(), Value::from(f64::from(d.1)));
                }
                let close = rec
                    .get("CloseDate")
                    .and_then(Value::as_str)
                    .and_then(crate::value::parse_date);
                let (year, quarter) = match close {
                    Some(d) => (Value::from(d.year()), Value::from(d.month0() / 3 + 1)),
                    None => (Value::Null, Value::Null),
                };
                rec.insert("FiscalYear".into(), year);
                rec.insert("FiscalQuarter".into(), quarter);
                if !rec.contains_key("HasOpportunityLineItem") {
                    rec.insert("HasOpportunityLineItem".into(), Value::Bool(false));
                }
            }
            "PricebookEntry" => {
                if let Some(p) = self.parent(rec, "Product2Id") {
                    let name = p.get("Name").cloned().unwrap_or(Value::Null);
                    let code = p.get("ProductCode").cloned().unwrap_or(Value::Null);
                    rec.insert("Name".into(), name);
                    rec.insert("ProductCode".into(), code);
                }
            }
            "OpportunityLineItem" => self.derive_line_item(rec, given, before.is_none())?,
            "Task" => {
                let closed = rec.get("Status").and_then(Value::as_str) == Some("Completed");
                let high = rec.get("Priority").and_then(Value::as_str) == Some("High");
                rec.insert("IsClosed".into(), Value::Bool(closed));
                rec.insert("IsHighPriority".into(), Value::Bool(high));
            }
            "SBQQ__QuoteLine__c" => {
                // The formula over the product.
                if let Some(p) = self.parent(rec, "SBQQ__Product__c") {
                    let code = p.get("ProductCode").cloned().unwrap_or(Value::Null);
                    rec.insert("SBQQ__ProductCode__c".into(), code);
                }
                let quote_currency = self
                    .parent(rec, "SBQQ__Quote__c")
                    .and_then(|q| q.get("CurrencyIsoCode").cloned())
                    .unwrap_or_else(|| Value::String(CORPORATE_CURRENCY.to_owned()));
                rec.insert("CurrencyIsoCode".into(), quote_currency);
                let qty = as_decimal(rec.get("SBQQ__Quantity__c")).unwrap_or(Decimal::ONE);
                let net = as_decimal(rec.get("SBQQ__NetPrice__c")).or_else(|| {
                    let list = as_decimal(rec.get("SBQQ__ListPrice__c"))?;
                    let disc = as_decimal(rec.get("SBQQ__Discount__c")).unwrap_or_default();
                    Some(list * (Decimal::ONE_HUNDRED - disc) / Decimal::ONE_HUNDRED)
                });
                if let Some(net) = net {
                    rec.insert("SBQQ__NetPrice__c".into(), number(net, 2));
                    rec.insert("SBQQ__NetTotal__c".into(), number(net * qty, 2));
                }
            }
            "SBQQ__Quote__c" if !rec.contains_key("SBQQ__NetAmount__c") => {
                rec.insert("SBQQ__NetAmount__c".into(), Value::from(0.0));
            }
            _ => {}
        }
        Ok(())
    }

    fn derive_line_item(
        &self,
        rec: &mut Record,
        given: &HashSet<&'static str>,
        creating: bool,
    ) -> Result<(), FieldError> {
        let integrity = |what: &str| {
            FieldError::new(
                "FIELD_INTEGRITY_EXCEPTION",
                format!("field integrity exception: {what}"),
                &[],
            )
        };
        let opp = self.parent(rec, "OpportunityId").cloned();
        let entry = self.parent(rec, "PricebookEntryId").cloned();
        if let (Some(opp), Some(entry)) = (&opp, &entry) {
            if opp.get("CurrencyIsoCode") != entry.get("CurrencyIsoCode") {
                return Err(integrity(
                    "PricebookEntryId (pricebook entry currency code does not match opportunity currency code)",
                ));
            }
            rec.insert(
                "CurrencyIsoCode".into(),
                opp.get("CurrencyIsoCode").cloned().unwrap_or(Value::Null),
            );
            rec.insert(
                "Product2Id".into(),
                entry.get("Product2Id").cloned().unwrap_or(Value::Null),
            );
            rec.insert(
                "ProductCode".into(),
                entry.get("ProductCode").cloned().unwrap_or(Value::Null),
            );
            rec.insert(
                "ListPrice".into(),
                entry.get("UnitPrice").cloned().unwrap_or(Value::Null),
            );
            let opp_name = opp.get("Name").and_then(Value::as_str).unwrap_or("");
            let product = entry.get("Name").and_then(Value::as_str).unwrap_or("");
            rec.insert(
                "Name".into(),
                Value::String(format!("{opp_name} {product}").trim().to_owned()),
            );
        }
        let unit_given = given.contains("UnitPrice");
        let total_given = given.contains("TotalPrice");
        if creating && unit_given && total_given {
            return Err(integrity(
                "TotalPrice (you cannot specify both UnitPrice and TotalPrice)",
            ));
        }
        if creating && !unit_given && !total_given {
            return Err(integrity(
                "unknown (must specify either UnitPrice or TotalPrice)",
            ));
        }
        let qty = as_decimal(rec.get("Quantity")).unwrap_or(Decimal::ONE);
        let disc = as_decimal(rec.get("Discount")).unwrap_or_default();
        let factor = (Decimal::ONE_HUNDRED - disc) / Decimal::ONE_HUNDRED;
        if total_given && !unit_given {
            let total = as_decimal(rec.get("TotalPrice")).unwrap_or_default();
            let denominator = qty * factor;
            if !denominator.is_zero() {
                rec.insert("UnitPrice".into(), number(total / denominator, 2));
            }
        }
        let unit = as_decimal(rec.get("UnitPrice")).unwrap_or_default();
        rec.insert("Subtotal".into(), number(unit * qty, 2));
        rec.insert("TotalPrice".into(), number(unit * qty * factor, 2));
        Ok(())
    }

    /// Sets `NextStartDate` on every live rate of the written rate's currency: the next
    /// period's `StartDate`, or 9999-12-31 for the last period, as Salesforce does.
    fn chain_dated_rates(&mut self, id: &str) {
        let table = "DatedConversionRate";
        let Some(iso) = self
            .tables
            .get(table)
            .and_then(|t| t.get(id))
            .and_then(|r| r.get("IsoCode"))
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return;
        };
        let mut periods: Vec<(String, String)> = self
            .rows(table)
            .filter(|r| !is_deleted(r))
            .filter(|r| r.get("IsoCode").and_then(Value::as_str) == Some(iso.as_str()))
            .filter_map(|r| {
                let start = r.get("StartDate").and_then(Value::as_str)?.to_owned();
                Some((start, r.get("Id").and_then(Value::as_str)?.to_owned()))
            })
            .collect();
        periods.sort();
        let nexts: Vec<String> = periods
            .iter()
            .skip(1)
            .map(|(start, _)| start.clone())
            .chain(std::iter::once("9999-12-31".to_owned()))
            .collect();
        if let Some(t) = self.tables.get_mut(table) {
            for ((_, rid), next) in periods.iter().zip(nexts) {
                if let Some(r) = t.get_mut(rid) {
                    r.insert("NextStartDate".into(), Value::String(next));
                }
            }
        }
    }

    /// Keeps roll-ups current after a write to `object`'s record `id`: an Opportunity's
    /// `Amount` and `HasOpportunityLineItem`, a quote's net amount.
    fn roll_up_from(&mut self, object: &ObjectDef, id: &str) {
        if object.name == "DatedConversionRate" {
            self.chain_dated_rates(id);
            return;
        }
        let (parent_field, parent_object) = match object.name {
            "OpportunityLineItem" => ("OpportunityId", "Opportunity"),
            "SBQQ__QuoteLine__c" => ("SBQQ__Quote__c", "SBQQ__Quote__c"),
            _ => return,
        };
        let Some(parent_id) = self
            .tables
            .get(object.name)
            .and_then(|t| t.get(id))
            .and_then(|r| r.get(parent_field))
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return;
        };
        let total_field = if object.name == "OpportunityLineItem" {
            "TotalPrice"
        } else {
            "SBQQ__NetTotal__c"
        };
        let lines: Vec<Decimal> = self
            .rows(object.name)
            .filter(|r| !is_deleted(r))
            .filter(|r| r.get(parent_field).and_then(Value::as_str) == Some(parent_id.as_str()))
            .map(|r| as_decimal(r.get(total_field)).unwrap_or_default())
            .collect();
        let sum: Decimal = lines.iter().copied().sum();
        let now = Value::String(format_datetime(self.now()));
        let Some(parent) = self
            .tables
            .get_mut(parent_object)
            .and_then(|t| t.get_mut(&parent_id))
        else {
            return;
        };
        if parent_object == "Opportunity" {
            parent.insert(
                "HasOpportunityLineItem".into(),
                Value::Bool(!lines.is_empty()),
            );
            if !lines.is_empty() {
                parent.insert("Amount".into(), number(sum, 2));
            }
        } else {
            parent.insert("SBQQ__NetAmount__c".into(), number(sum, 2));
        }
        parent.insert("SystemModstamp".into(), now.clone());
        parent.insert("LastModifiedDate".into(), now);
    }

    fn check_unique(
        &self,
        object: &ObjectDef,
        rec: &Record,
        self_id: Option<&str>,
    ) -> Result<(), Vec<FieldError>> {
        for f in object.fields.iter().filter(|f| f.unique) {
            let Some(key) = rec.get(f.name).and_then(|v| text_key(f, v)) else {
                continue;
            };
            let clash = self
                .keys
                .get(&(object.name, f.name))
                .and_then(|m| m.get(&key))
                .and_then(|ids| ids.iter().find(|id| Some(id.as_str()) != self_id));
            if let Some(other_id) = clash {
                return Err(vec![FieldError::new(
                    "DUPLICATE_VALUE",
                    format!(
                        "duplicate value found: {} duplicates value on record with id: {other_id}",
                        f.name
                    ),
                    &[f.name],
                )]);
            }
        }
        Ok(())
    }
}

/// Fields the key index covers: external ids, unique fields and child relationship fields.
fn is_keyed(field: &FieldDef) -> bool {
    field.external_id || field.unique || field.child_key
}

impl Store {
    /// Moves `id`'s index entries from `before` to `after` (either may be absent: a create,
    /// a delete).
    fn reindex(
        &mut self,
        object: &ObjectDef,
        id: &str,
        before: Option<&Record>,
        after: Option<&Record>,
    ) {
        for f in object.fields.iter().filter(|f| is_keyed(f)) {
            let old = before
                .and_then(|r| r.get(f.name))
                .and_then(|v| text_key(f, v));
            let new = after
                .and_then(|r| r.get(f.name))
                .and_then(|v| text_key(f, v));
            if old == new {
                continue;
            }
            let index = self.keys.entry((object.name, f.name)).or_default();
            if let Some(old) = old
                && let Some(ids) = index.get_mut(&old)
            {
                ids.retain(|i| i != id);
                if ids.is_empty() {
                    index.remove(&old);
                }
            }
            if let Some(new) = new {
                index.entry(new).or_default().push(id.to_owned());
            }
        }
    }
}

pub fn is_deleted(rec: &Record) -> bool {
    rec.get("IsDeleted")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn malformed_id(object: &ObjectDef, id: &str) -> FieldError {
    FieldError::new(
        "MALFORMED_ID",
        format!("{} ID: id value of incorrect type: {id}", object.label),
        &["Id"],
    )
}

fn check_required(object: &ObjectDef, rec: &Record) -> Result<(), Vec<FieldError>> {
    let missing: Vec<&str> = object
        .fields
        .iter()
        .filter(|f| !f.nillable && !f.calculated && f.createable)
        .filter(|f| rec.get(f.name).is_none_or(Value::is_null))
        .map(|f| f.name)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(vec![FieldError::new(
            "REQUIRED_FIELD_MISSING",
            format!("Required fields are missing: [{}]", missing.join(", ")),
            &missing,
        )])
    }
}

fn auto_number(format: &str, n: u64) -> String {
    let (Some(open), Some(close)) = (format.find('{'), format.find('}')) else {
        return format!("{format}{n}");
    };
    let width = close.saturating_sub(open + 1);
    format!("{}{n:0width$}{}", &format[..open], &format[close + 1..])
}

/// Keeps fields in schema order, as describe and GET return them.
fn order_fields(object: &ObjectDef, mut rec: Record) -> Record {
    let mut out = Record::new();
    for f in &object.fields {
        if let Some(v) = rec.remove(f.name) {
            out.insert(f.name.to_owned(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lf_domain::ManualClock;
    use serde_json::json;

    fn store() -> Store {
        let start = DateTime::parse_from_rfc3339("2026-01-15T09:30:00Z")
            .unwrap()
            .to_utc();
        Store::new(Arc::new(ManualClock::new(start)))
    }

    fn obj(name: &str) -> &'static ObjectDef {
        Schema::get().object(name).unwrap()
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn ids_are_valid_18_char_ids_with_the_object_prefix() {
        let mut s = store();
        let a = s.new_id("001");
        let b = s.new_id("001");
        assert_eq!(a.len(), 18);
        assert!(a.starts_with("001"));
        assert!(a < b, "ids sort in creation order");
        assert_eq!(SalesforceId::parse(&a).unwrap().as_str(), a);
        assert_eq!(make_id("005", 0).len(), 18);
    }

    #[test]
    fn create_stamps_system_fields_and_defaults() {
        let mut s = store();
        let id = s
            .create(obj("Account"), &map(json!({"Name": "Acme"})), Writer::Api)
            .unwrap();
        let rec = s.get(obj("Account"), &id).unwrap();
        assert_eq!(rec["CurrencyIsoCode"], "USD");
        assert_eq!(rec["OwnerId"], json!(s.user_id));
        assert_eq!(rec["CreatedDate"], "2026-01-15T09:30:00.000+0000");
        assert_eq!(rec["SystemModstamp"], rec["LastModifiedDate"]);
        assert_eq!(rec["IsDeleted"], false);
    }

    #[test]
    fn required_read_only_unknown_and_type_errors() {
        let mut s = store();
        let e = s
            .create(obj("Account"), &map(json!({"Phone": "1"})), Writer::Api)
            .unwrap_err();
        assert_eq!(e[0].code, "REQUIRED_FIELD_MISSING");
        assert_eq!(e[0].message, "Required fields are missing: [Name]");
        assert_eq!(e[0].fields, vec!["Name"]);
        let e = s
            .create(
                obj("Opportunity"),
                &map(json!({"Name": "x", "StageName": "Prospecting", "CloseDate": "2026-01-01", "IsWon": true})),
                Writer::Api,
            )
            .unwrap_err();
        assert_eq!(e[0].code, "INVALID_FIELD_FOR_INSERT_UPDATE");
        let e = s
            .create(
                obj("Account"),
                &map(json!({"Name": "x", "Foo__c": 1})),
                Writer::Api,
            )
            .unwrap_err();
        assert_eq!(e[0].code, "INVALID_FIELD");
        assert!(e[0].message.contains("Foo__c"));
        let e = s
            .create(
                obj("Contact"),
                &map(json!({"LastName": "x", "AccountId": make_id("001", 999)})),
                Writer::Api,
            )
            .unwrap_err();
        assert_eq!(e[0].code, "INVALID_CROSS_REFERENCE_KEY");
    }

    #[test]
    fn opportunity_stage_drives_is_won_and_probability() {
        let mut s = store();
        let opp = obj("Opportunity");
        let id = s
            .create(
                opp,
                &map(
                    json!({"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2026-05-20"}),
                ),
                Writer::Api,
            )
            .unwrap();
        let r = s.get(opp, &id).unwrap();
        assert_eq!(
            (r["IsWon"].clone(), r["IsClosed"].clone()),
            (json!(false), json!(false))
        );
        assert_eq!(r["Probability"], json!(10.0));
        assert_eq!(r["FiscalQuarter"], json!(2));
        s.update(
            opp,
            &id,
            &map(json!({"StageName": "Closed Won"})),
            Writer::Api,
        )
        .unwrap();
        let r = s.get(opp, &id).unwrap();
        assert_eq!(
            (r["IsWon"].clone(), r["IsClosed"].clone()),
            (json!(true), json!(true))
        );
        assert_eq!(r["Probability"], json!(100.0));
    }

    #[test]
    fn external_ids_are_unique_and_upsert_creates_then_updates() {
        let mut s = store();
        let acct = obj("Account");
        let ext = acct.field("Intacct_Customer_ID__c").unwrap();
        let first = s
            .upsert(acct, ext, "C-1", &map(json!({"Name": "One"})), Writer::Api)
            .unwrap();
        let UpsertOutcome::Created(id) = first else {
            panic!("{first:?}")
        };
        let second = s
            .upsert(
                acct,
                ext,
                "c-1",
                &map(json!({"Name": "One renamed"})),
                Writer::Api,
            )
            .unwrap();
        assert_eq!(second, UpsertOutcome::Updated(id.clone()));
        assert_eq!(s.get(acct, &id).unwrap()["Name"], "One renamed");
        let e = s
            .create(
                acct,
                &map(json!({"Name": "Two", "Intacct_Customer_ID__c": "C-1"})),
                Writer::Api,
            )
            .unwrap_err();
        assert_eq!(e[0].code, "DUPLICATE_VALUE");
        assert!(e[0].message.contains(&id));
    }

    #[test]
    fn line_items_price_themselves_and_roll_up() {
        let mut s = store();
        let product = s
            .create(
                obj("Product2"),
                &map(json!({"Name": "Widget", "ProductCode": "W-1"})),
                Writer::Api,
            )
            .unwrap();
        let book = s
            .create(
                obj("Pricebook2"),
                &map(json!({"Name": "Standard"})),
                Writer::Api,
            )
            .unwrap();
        let entry = s
            .create(
                obj("PricebookEntry"),
                &map(json!({"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 100, "CurrencyIsoCode": "EUR"})),
                Writer::Api,
            )
            .unwrap();
        let opp = s
            .create(
                obj("Opportunity"),
                &map(json!({"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2026-05-20", "CurrencyIsoCode": "EUR"})),
                Writer::Api,
            )
            .unwrap();
        let line = s
            .create(
                obj("OpportunityLineItem"),
                &map(json!({"OpportunityId": opp, "PricebookEntryId": entry, "Quantity": 3, "UnitPrice": 90, "Discount": 10})),
                Writer::Api,
            )
            .unwrap();
        let l = s.get(obj("OpportunityLineItem"), &line).unwrap();
        assert_eq!(l["TotalPrice"], json!(243.0));
        assert_eq!(l["ListPrice"], json!(100.0));
        assert_eq!(l["ProductCode"], "W-1");
        assert_eq!(l["CurrencyIsoCode"], "EUR");
        let o = s.get(obj("Opportunity"), &opp).unwrap();
        assert_eq!(o["Amount"], json!(243.0));
        assert_eq!(o["HasOpportunityLineItem"], true);
        let usd_opp = s
            .create(
                obj("Opportunity"),
                &map(json!({"Name": "USD deal", "StageName": "Prospecting", "CloseDate": "2026-05-20"})),
                Writer::Api,
            )
            .unwrap();
        let e = s
            .create(
                obj("OpportunityLineItem"),
                &map(json!({"OpportunityId": usd_opp, "PricebookEntryId": entry, "Quantity": 1, "UnitPrice": 1})),
                Writer::Api,
            )
            .unwrap_err();
        assert_eq!(e[0].code, "FIELD_INTEGRITY_EXCEPTION");
    }

    #[test]
    fn delete_is_soft_cascades_and_snapshots_roll_back() {
        let mut s = store();
        let acct = s
            .create(obj("Account"), &map(json!({"Name": "Gone"})), Writer::Api)
            .unwrap();
        let contact = s
            .create(
                obj("Contact"),
                &map(json!({"LastName": "X", "AccountId": acct})),
                Writer::Api,
            )
            .unwrap();
        let snap = s.snapshot();
        s.delete(&acct).unwrap();
        assert!(s.get(obj("Account"), &acct).is_none());
        assert_eq!(s.find(&acct).unwrap().1["IsDeleted"], true);
        assert_eq!(
            s.get(obj("Contact"), &contact).unwrap()["AccountId"],
            Value::Null
        );
        assert_eq!(s.delete(&acct).unwrap_err().code, "ENTITY_IS_DELETED");
        s.restore(snap);
        assert!(s.get(obj("Account"), &acct).is_some());
        assert_eq!(
            s.get(obj("Contact"), &contact).unwrap()["AccountId"],
            json!(acct)
        );
    }

    #[test]
    fn key_index_follows_updates_deletes_and_rollbacks() {
        let mut s = store();
        let acct = obj("Account");
        let ext = acct.field("Intacct_Customer_ID__c").unwrap();
        let id = s
            .create(
                acct,
                &map(json!({"Name": "K", "Intacct_Customer_ID__c": "K-1"})),
                Writer::Api,
            )
            .unwrap();
        let snap = s.snapshot();
        s.update(
            acct,
            &id,
            &map(json!({"Intacct_Customer_ID__c": "K-2"})),
            Writer::Api,
        )
        .unwrap();
        assert!(s.find_by_field(acct, ext, "k-1").is_empty());
        assert_eq!(s.find_by_field(acct, ext, "K-2"), vec![id.clone()]);
        // The old value is free again.
        let other = s
            .create(
                acct,
                &map(json!({"Name": "L", "Intacct_Customer_ID__c": "K-1"})),
                Writer::Api,
            )
            .unwrap();
        s.delete(&other).unwrap();
        assert!(s.find_by_field(acct, ext, "K-1").is_empty());
        s.restore(snap);
        assert_eq!(s.find_by_field(acct, ext, "K-1"), vec![id.clone()]);
        assert!(s.find_by_field(acct, ext, "K-2").is_empty());
    }

    #[test]
    fn children_are_found_by_the_indexed_relationship_field() {
        let mut s = store();
        let (acct, contact) = (obj("Account"), obj("Contact"));
        let field = contact.field("AccountId").unwrap();
        assert!(field.child_key);
        let a = s
            .create(acct, &map(json!({"Name": "A"})), Writer::Api)
            .unwrap();
        let b = s
            .create(acct, &map(json!({"Name": "B"})), Writer::Api)
            .unwrap();
        let new_contact = |s: &mut Store, name: &str, account: &str| {
            s.create(
                contact,
                &map(json!({"LastName": name, "AccountId": account})),
                Writer::Api,
            )
            .unwrap()
        };
        let c1 = new_contact(&mut s, "One", &a);
        let c2 = new_contact(&mut s, "Two", &a);
        let c3 = new_contact(&mut s, "Three", &b);
        let ids = |s: &Store, parent: &str| -> Vec<String> {
            s.children(contact, field, parent)
                .into_iter()
                .map(|r| r["Id"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(ids(&s, &a), vec![c1.clone(), c2.clone()]);
        // Moved to another parent, deleted: the index follows, and the order stays the ids'.
        s.update(contact, &c1, &map(json!({"AccountId": b})), Writer::Api)
            .unwrap();
        assert_eq!(ids(&s, &a), vec![c2.clone()]);
        assert_eq!(ids(&s, &b), vec![c1.clone(), c3.clone()]);
        s.delete(&c3).unwrap();
        assert_eq!(ids(&s, &b), vec![c1]);
        // The 15-character form of the parent's id finds the same children.
        assert_eq!(ids(&s, &a[..15]), vec![c2]);
    }

    #[test]
    fn parent_by_external_id_resolves() {
        let mut s = store();
        let acct = obj("Account");
        let id = s
            .create(
                acct,
                &map(json!({"Name": "P", "Intacct_Customer_ID__c": "C-9"})),
                Writer::Api,
            )
            .unwrap();
        let c = s
            .create(
                obj("Contact"),
                &map(json!({"LastName": "Kid", "Account": {"Intacct_Customer_ID__c": "C-9"}})),
                Writer::Api,
            )
            .unwrap();
        assert_eq!(s.get(obj("Contact"), &c).unwrap()["AccountId"], json!(id));
        let e = s
            .create(
                obj("Contact"),
                &map(json!({"LastName": "Kid", "Account": {"Intacct_Customer_ID__c": "nope"}})),
                Writer::Api,
            )
            .unwrap_err();
        assert!(e[0].message.contains("not found"));
    }
}
