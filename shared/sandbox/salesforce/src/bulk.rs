//! Bulk API 2.0 jobs: ingest (CSV upload, processing, result CSVs) and query (CSV results
//! with a locator).
//!
//! A job is processed as soon as its upload is complete, in one step, so the first poll
//! already sees `JobComplete` (a client polling in a loop behaves the same).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::fault::WriteFault;
use crate::schema::{ObjectDef, Schema};
use crate::store::{Store, UpsertOutcome, Writer};
use crate::value::{FieldError, format_datetime, from_csv_cell};

/// Counts for `/limits`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct JobCounts {
    pub batches: u64,
    pub query_jobs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Insert,
    Update,
    Upsert,
    Delete,
    HardDelete,
}

impl Operation {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "insert" => Operation::Insert,
            "update" => Operation::Update,
            "upsert" => Operation::Upsert,
            "delete" => Operation::Delete,
            "hardDelete" => Operation::HardDelete,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Operation::Insert => "insert",
            Operation::Update => "update",
            Operation::Upsert => "upsert",
            Operation::Delete => "delete",
            Operation::HardDelete => "hardDelete",
        }
    }
}

/// An ingest job.
#[derive(Debug, Clone)]
pub(crate) struct IngestJob {
    pub id: String,
    pub object: &'static ObjectDef,
    pub operation: Operation,
    pub external_id: Option<&'static str>,
    pub delimiter: u8,
    pub delimiter_name: String,
    pub line_ending: String,
    pub state: String,
    pub created: String,
    pub modstamp: String,
    pub api_version: u32,
    pub data: Vec<u8>,
    pub header: Vec<String>,
    pub successes: Vec<(String, bool, Vec<String>)>,
    pub failures: Vec<(String, Vec<String>)>,
    pub unprocessed: Vec<Vec<String>>,
    pub error_message: Option<String>,
}

/// A query job and its result rows.
#[derive(Debug, Clone)]
pub(crate) struct QueryJob {
    pub id: String,
    pub object: String,
    pub operation: String,
    pub query: String,
    pub state: String,
    pub created: String,
    pub api_version: u32,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub error_message: Option<String>,
}

/// Every Bulk job of the org.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    pub ingest: BTreeMap<String, IngestJob>,
    pub query: BTreeMap<String, QueryJob>,
}

impl Jobs {
    pub fn counts(&self) -> JobCounts {
        JobCounts {
            batches: self
                .ingest
                .values()
                .filter(|j| !j.data.is_empty())
                .map(|j| {
                    (j.successes.len() + j.failures.len())
                        .div_ceil(10_000)
                        .max(1) as u64
                })
                .sum(),
            query_jobs: self.query.len() as u64,
        }
    }
}

pub(crate) fn delimiter(name: &str) -> Option<u8> {
    Some(match name {
        "COMMA" => b',',
        "TAB" => b'\t',
        "SEMICOLON" => b';',
        "PIPE" => b'|',
        "CARET" => b'^',
        "BACKQUOTE" => b'`',
        _ => return None,
    })
}

impl IngestJob {
    pub fn info(&self) -> Value {
        let processed = self.successes.len() + self.failures.len();
        let mut v = json!({
            "id": self.id,
            "operation": self.operation.name(),
            "object": self.object.name,
            "createdById": "",
            "createdDate": self.created,
            "systemModstamp": self.modstamp,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": f64::from(self.api_version),
            "jobType": "V2Ingest",
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter_name,
            "numberRecordsProcessed": processed,
            "numberRecordsFailed": self.failures.len(),
            "retries": 0,
            "totalProcessingTime": 0,
            "apiActiveProcessingTime": 0,
            "apexProcessingTime": 0,
        });
        if let Some(ext) = self.external_id {
            v["externalIdFieldName"] = json!(ext);
        }
        if let Some(m) = &self.error_message {
            v["errorMessage"] = json!(m);
        }
        v
    }

    /// A reader over the uploaded CSV (header row first, every row as wide as the header).
    fn reader(&self) -> csv::Reader<&[u8]> {
        csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .from_reader(self.data.as_slice())
    }

    /// Processes the uploaded CSV row by row; each row stands alone (no all-or-none).
    pub fn process(&mut self, store: &mut Store, mut fault: Option<WriteFault>) {
        self.modstamp = format_datetime(store.now());
        // Not `self.reader()`: the loop below pushes results into `self` while reading.
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .from_reader(self.data.as_slice());
        let header: Vec<String> = match reader.headers() {
            Ok(h) => h
                .iter()
                .map(|s| s.trim_start_matches('\u{feff}').to_owned())
                .collect(),
            Err(e) => return self.fail(format!("InvalidBatch : Failed to parse CSV header: {e}")),
        };
        if let Some(bad) = header.iter().find(|h| !self.column_ok(h)) {
            return self.fail(format!("InvalidBatch : Field name not found : {bad}"));
        }
        self.header = header.clone();
        for row in reader.records() {
            let cells: Vec<String> = match row {
                Ok(r) => r.iter().map(str::to_owned).collect(),
                Err(e) => return self.fail(format!("InvalidBatch : Failed to parse CSV: {e}")),
            };
            if let Some(f) = fault.take() {
                self.failures.push((bulk_error(&f.error()), cells));
                continue;
            }
            match self.apply(store, &header, &cells) {
                Ok((id, created)) => self.successes.push((id, created, cells)),
                Err(e) => self.failures.push((bulk_error(&e), cells)),
            }
        }
        self.state = "JobComplete".into();
    }

    /// Aborts the job: every uploaded row becomes an unprocessed record.
    pub fn abort(&mut self) {
        self.state = "Aborted".into();
        self.unprocessed = self
            .reader()
            .records()
            .filter_map(Result::ok)
            .map(|r| r.iter().map(str::to_owned).collect())
            .collect();
    }

    fn fail(&mut self, message: String) {
        self.state = "Failed".into();
        self.error_message = Some(message);
    }

    /// A CSV column must name a field, or `Relationship.ExternalIdField`.
    fn column_ok(&self, column: &str) -> bool {
        match column.split_once('.') {
            None => self.object.has_field(column),
            Some((rel, field)) => self
                .object
                .parent_relationship(rel)
                .and_then(|f| f.reference_to.first())
                .and_then(|t| Schema::get().object(t))
                .and_then(|t| t.field(field))
                .is_some_and(|f| f.external_id || f.name == "Id"),
        }
    }

    fn apply(
        &self,
        store: &mut Store,
        header: &[String],
        cells: &[String],
    ) -> Result<(String, bool), FieldError> {
        let mut fields = Map::new();
        let mut id: Option<String> = None;
        for (column, cell) in header.iter().zip(cells) {
            if column.eq_ignore_ascii_case("Id") {
                id = Some(cell.clone()).filter(|s| !s.is_empty());
                continue;
            }
            match column.split_once('.') {
                Some((rel, ext)) => {
                    if !cell.is_empty() {
                        fields.insert(rel.to_owned(), json!({ ext: cell }));
                    }
                }
                None => {
                    let Some(f) = self.object.field(column) else {
                        continue;
                    };
                    fields.insert(f.name.to_owned(), from_csv_cell(f, cell));
                }
            }
        }
        let missing_id = || FieldError::new("MISSING_ARGUMENT", "Id not specified", &["Id"]);
        let first = |errors: Vec<FieldError>| {
            errors
                .into_iter()
                .next()
                .unwrap_or_else(|| FieldError::new("UNKNOWN_EXCEPTION", "unknown", &[]))
        };
        match self.operation {
            Operation::Insert => store
                .create(self.object, &fields, Writer::Api)
                .map(|id| (id, true))
                .map_err(first),
            Operation::Update => {
                let id = id.ok_or_else(missing_id)?;
                store
                    .update(self.object, &id, &fields, Writer::Api)
                    .map_err(first)?;
                Ok((id, false))
            }
            Operation::Upsert => {
                let ext_name = self.external_id.unwrap_or("Id");
                let ext = self
                    .object
                    .field(ext_name)
                    .ok_or_else(|| FieldError::new("INVALID_FIELD", "no external id", &[]))?;
                let value = if ext.name == "Id" {
                    id.unwrap_or_default()
                } else {
                    fields
                        .get(ext.name)
                        .map(crate::value::to_csv_cell)
                        .unwrap_or_default()
                };
                match store
                    .upsert(self.object, ext, &value, &fields, Writer::Api)
                    .map_err(first)?
                {
                    UpsertOutcome::Created(id) => Ok((id, true)),
                    UpsertOutcome::Updated(id) => Ok((id, false)),
                    UpsertOutcome::Multiple(ids) => Err(FieldError::new(
                        "DUPLICATE_EXTERNAL_ID",
                        format!(
                            "{ext_name}: more than one record found for external id field: {}",
                            ids.join(", ")
                        ),
                        &[ext.name],
                    )),
                }
            }
            Operation::Delete => {
                let id = id.ok_or_else(missing_id)?;
                store.delete(&id)?;
                Ok((id, false))
            }
            Operation::HardDelete => {
                let id = id.ok_or_else(missing_id)?;
                store.hard_delete(&id)?;
                Ok((id, false))
            }
        }
    }

    /// Result files quote every value.
    fn csv(header: Vec<String>, rows: impl Iterator<Item = Vec<String>>) -> String {
        csv_text(&header, rows, csv::QuoteStyle::Always)
    }

    pub fn successful_results(&self) -> String {
        let mut header = vec!["sf__Id".to_owned(), "sf__Created".to_owned()];
        header.extend(self.header.iter().cloned());
        Self::csv(
            header,
            self.successes.iter().map(|(id, created, cells)| {
                let mut row = vec![id.clone(), created.to_string()];
                row.extend(cells.iter().cloned());
                row
            }),
        )
    }

    pub fn failed_results(&self) -> String {
        let mut header = vec!["sf__Id".to_owned(), "sf__Error".to_owned()];
        header.extend(self.header.iter().cloned());
        Self::csv(
            header,
            self.failures.iter().map(|(error, cells)| {
                let mut row = vec![String::new(), error.clone()];
                row.extend(cells.iter().cloned());
                row
            }),
        )
    }

    pub fn unprocessed_records(&self) -> String {
        let header = if self.header.is_empty() {
            self.reader()
                .headers()
                .map(|h| h.iter().map(str::to_owned).collect())
                .unwrap_or_default()
        } else {
            self.header.clone()
        };
        Self::csv(header, self.unprocessed.iter().cloned())
    }
}

/// A CSV file: the header row, then `rows`. Writing to memory cannot fail, and every value
/// is a Rust string, so the text is always UTF-8.
fn csv_text<R: AsRef<[String]>>(
    header: &[String],
    rows: impl IntoIterator<Item = R>,
    quote: csv::QuoteStyle,
) -> String {
    let mut w = csv::WriterBuilder::new()
        .quote_style(quote)
        .from_writer(Vec::new());
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(r.as_ref());
    }
    w.into_inner()
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default()
}

/// The failed-results error cell: `CODE:message:--`, or `CODE:message:Field1,Field2 --` when
/// the error names fields (Salesforce puts a space before the `--` then).
fn bulk_error(e: &FieldError) -> String {
    if e.fields.is_empty() {
        format!("{}:{}:--", e.code, e.message)
    } else {
        format!("{}:{}:{} --", e.code, e.message, e.fields.join(","))
    }
}

impl QueryJob {
    pub fn info(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": "",
            "createdDate": self.created,
            "systemModstamp": self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": f64::from(self.api_version),
            "jobType": "V2Query",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
            "numberRecordsProcessed": self.rows.len(),
            "retries": 0,
            "totalProcessingTime": 0,
        });
        if let Some(m) = &self.error_message {
            v["errorMessage"] = json!(m);
        }
        v
    }

    /// Up to `max` rows from `offset`, as CSV, and the next locator (`None` when done).
    pub fn page(&self, offset: usize, max: usize) -> (String, usize, Option<usize>) {
        let end = offset.saturating_add(max).min(self.rows.len());
        let rows = self.rows.get(offset..end).unwrap_or_default();
        let text = csv_text(&self.header, rows, csv::QuoteStyle::Necessary);
        let next = (end < self.rows.len()).then_some(end);
        (text, rows.len(), next)
    }
}

/// Turns query records into CSV columns named as in the SELECT list (`Account.Name`).
pub(crate) fn flatten(columns: &[Vec<String>], records: &[Value]) -> Vec<Vec<String>> {
    records
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|path| {
                    let mut current = r;
                    for part in path {
                        let next = current.as_object().and_then(|m| {
                            m.iter()
                                .find(|(k, _)| k.eq_ignore_ascii_case(part))
                                .map(|(_, v)| v)
                        });
                        match next {
                            Some(v) => current = v,
                            None => return String::new(),
                        }
                    }
                    crate::value::to_csv_cell(current)
                })
                .collect()
        })
        .collect()
}
