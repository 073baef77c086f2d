//! Bulk API 2.0 ingest jobs: create the job, upload CSV, mark it `UploadComplete`, poll with
//! backoff until it ends, then fetch the successful, failed and unprocessed rows.

use std::collections::BTreeMap;
use std::time::Instant;

use lf_domain::SalesforceId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::SalesforceClient;
use crate::config::ApiVersion;
use crate::error::{ApiError, SalesforceError};
use crate::request::{ApiRequest, HttpMethod, check_api_name};
use crate::sobject::Fields;

/// What an ingest job does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkOperation {
    Insert,
    Update,
    Upsert { external_id_field: String },
    Delete,
    HardDelete,
}

impl BulkOperation {
    fn name(&self) -> &'static str {
        match self {
            BulkOperation::Insert => "insert",
            BulkOperation::Update => "update",
            BulkOperation::Upsert { .. } => "upsert",
            BulkOperation::Delete => "delete",
            BulkOperation::HardDelete => "hardDelete",
        }
    }
}

/// Job states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    Open,
    UploadComplete,
    InProgress,
    JobComplete,
    Failed,
    Aborted,
    #[serde(other)]
    Unknown,
}

impl JobState {
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            JobState::JobComplete | JobState::Failed | JobState::Aborted
        )
    }

    fn as_str(&self) -> &'static str {
        match self {
            JobState::Open => "Open",
            JobState::UploadComplete => "UploadComplete",
            JobState::InProgress => "InProgress",
            JobState::JobComplete => "JobComplete",
            JobState::Failed => "Failed",
            JobState::Aborted => "Aborted",
            JobState::Unknown => "Unknown",
        }
    }
}

/// Job info as returned by create and status calls.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobInfo {
    pub id: String,
    pub state: JobState,
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub number_records_processed: Option<u64>,
    #[serde(default)]
    pub number_records_failed: Option<u64>,
    #[serde(default)]
    pub error_message: Option<String>,
}

/// A row Salesforce wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkSuccess {
    pub id: Option<SalesforceId>,
    pub created: bool,
    /// The row's original columns.
    pub fields: BTreeMap<String, String>,
}

/// A row Salesforce refused.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkFailure {
    pub id: Option<SalesforceId>,
    pub error: ApiError,
    pub fields: BTreeMap<String, String>,
}

/// What a finished ingest (one or more jobs) did with every row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BulkIngestResult {
    pub jobs: Vec<JobInfo>,
    pub successful: Vec<BulkSuccess>,
    pub failed: Vec<BulkFailure>,
    /// Rows the job never reached (e.g. it was aborted).
    pub unprocessed: Vec<BTreeMap<String, String>>,
}

/// `POST /jobs/ingest`.
pub fn create_job_request(
    version: ApiVersion,
    object: &str,
    operation: &BulkOperation,
) -> Result<ApiRequest, SalesforceError> {
    let object = check_api_name("object", object)?;
    let mut body = json!({
        "object": object,
        "operation": operation.name(),
        "contentType": "CSV",
        "columnDelimiter": "COMMA",
        "lineEnding": "LF",
    });
    if let BulkOperation::Upsert { external_id_field } = operation {
        body["externalIdFieldName"] =
            json!(check_api_name("external id field", external_id_field)?);
    }
    Ok(ApiRequest::new(
        HttpMethod::Post,
        format!("{}/jobs/ingest", version.data_root()),
        format!("bulk create job {object}"),
    )
    .with_json(body))
}

/// `PUT /jobs/ingest/{id}/batches` with the CSV.
pub fn upload_request(
    version: ApiVersion,
    job_id: &str,
    csv: String,
) -> Result<ApiRequest, SalesforceError> {
    Ok(ApiRequest::new(
        HttpMethod::Put,
        format!(
            "{}/jobs/ingest/{}/batches",
            version.data_root(),
            check_job_id(job_id)?
        ),
        "bulk upload",
    )
    .with_csv(csv))
}

/// `PATCH /jobs/ingest/{id}` with a new state (`UploadComplete` or `Aborted`).
pub fn set_state_request(
    version: ApiVersion,
    job_id: &str,
    state: JobState,
) -> Result<ApiRequest, SalesforceError> {
    Ok(ApiRequest::new(
        HttpMethod::Patch,
        format!(
            "{}/jobs/ingest/{}",
            version.data_root(),
            check_job_id(job_id)?
        ),
        format!("bulk set state {}", state.as_str()),
    )
    .with_json(json!({ "state": state.as_str() })))
}

/// `GET /jobs/ingest/{id}` or one of its result sets.
pub fn job_request(
    version: ApiVersion,
    job_id: &str,
    part: Option<&str>,
) -> Result<ApiRequest, SalesforceError> {
    let mut path = format!(
        "{}/jobs/ingest/{}",
        version.data_root(),
        check_job_id(job_id)?
    );
    if let Some(part) = part {
        path.push('/');
        path.push_str(part);
    }
    Ok(ApiRequest::new(
        HttpMethod::Get,
        path,
        format!("bulk job {}", part.unwrap_or("status")),
    ))
}

fn check_job_id(id: &str) -> Result<&str, SalesforceError> {
    if !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(id)
    } else {
        Err(SalesforceError::UnexpectedResponse {
            what: "bulk job".into(),
            detail: format!("job id {id:?} is not a plain identifier"),
        })
    }
}

/// Bulk's value for "set this field to null".
const CSV_NULL: &str = "#N/A";

/// Renders records as CSV: the union of their columns (first-seen order), nested relationship
/// objects flattened to `Rel__r.Field`, nulls as `#N/A`.
pub fn records_to_csv(
    records: &[Fields],
) -> Result<(Vec<String>, Vec<Vec<String>>), SalesforceError> {
    let mut columns: Vec<String> = Vec::new();
    let mut rows = Vec::with_capacity(records.len());
    let mut flat_rows = Vec::with_capacity(records.len());
    for record in records {
        let mut flat = BTreeMap::new();
        flatten("", record, &mut flat)?;
        for key in record_keys(record) {
            if !columns.contains(&key) {
                columns.push(key);
            }
        }
        flat_rows.push(flat);
    }
    for flat in flat_rows {
        rows.push(
            columns
                .iter()
                .map(|c| flat.get(c).cloned().unwrap_or_default())
                .collect(),
        );
    }
    Ok((columns, rows))
}

fn record_keys(record: &Fields) -> Vec<String> {
    let mut keys = Vec::new();
    for (k, v) in record {
        if k == "attributes" {
            continue;
        }
        match v {
            Value::Object(inner) => {
                for ik in record_keys(inner) {
                    keys.push(format!("{k}.{ik}"));
                }
            }
            _ => keys.push(k.clone()),
        }
    }
    keys
}

fn flatten(
    prefix: &str,
    record: &Fields,
    out: &mut BTreeMap<String, String>,
) -> Result<(), SalesforceError> {
    for (k, v) in record {
        if k == "attributes" {
            continue;
        }
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let text = match v {
            Value::Null => CSV_NULL.to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            Value::Object(inner) => {
                flatten(&key, inner, out)?;
                continue;
            }
            Value::Array(_) => {
                return Err(SalesforceError::InvalidInput(format!(
                    "field {key} holds a list, which a Bulk CSV cannot carry"
                )));
            }
        };
        out.insert(key, text);
    }
    Ok(())
}

fn write_csv(columns: &[String], rows: &[Vec<String>]) -> Result<String, SalesforceError> {
    write_rows(Some(columns), rows)
}

fn write_rows(columns: Option<&[String]>, rows: &[Vec<String>]) -> Result<String, SalesforceError> {
    let csv_err = |source| SalesforceError::Csv {
        what: "bulk upload".into(),
        source,
    };
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    if let Some(columns) = columns {
        w.write_record(columns).map_err(csv_err)?;
    }
    for row in rows {
        w.write_record(row).map_err(csv_err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| SalesforceError::InvalidInput(format!("CSV buffer: {e}")))?;
    String::from_utf8(bytes)
        .map_err(|e| SalesforceError::InvalidInput(format!("CSV is not UTF-8: {e}")))
}

/// Rows of a results CSV, each as column → value.
pub fn parse_result_csv(text: &str) -> Result<Vec<BTreeMap<String, String>>, SalesforceError> {
    let csv_err = |source| SalesforceError::Csv {
        what: "bulk results".into(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(csv_err)?.clone();
    let mut rows = Vec::new();
    for row in reader.records() {
        let row = row.map_err(csv_err)?;
        rows.push(
            headers
                .iter()
                .zip(row.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect(),
        );
    }
    Ok(rows)
}

/// Reads an `sf__Error` value: `CODE:message:fields --`, where `fields` (comma-separated) may
/// be empty (`UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record:--`) and the
/// message may itself contain colons.
pub fn parse_bulk_error(raw: &str) -> ApiError {
    let (body, fields) = match raw.trim_end().strip_suffix("--") {
        Some(rest) => match rest.trim_end().rsplit_once(':') {
            Some((body, fields)) => (body, fields),
            None => (rest, ""),
        },
        None => (raw, ""),
    };
    let mut error = match body.split_once(':') {
        Some((code, message))
            if !code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_') =>
        {
            ApiError::new(code, message)
        }
        _ => ApiError::new("BULK_ROW_ERROR", body),
    };
    error.fields = fields
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    error
}

fn split_system_columns(
    mut row: BTreeMap<String, String>,
) -> (
    Option<SalesforceId>,
    BTreeMap<String, String>,
    BTreeMap<String, String>,
) {
    let id = row
        .remove("sf__Id")
        .filter(|s| !s.is_empty())
        .and_then(|s| SalesforceId::parse(&s).ok());
    let system: BTreeMap<String, String> = row
        .iter()
        .filter(|(k, _)| k.starts_with("sf__"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    row.retain(|k, _| !k.starts_with("sf__"));
    (id, system, row)
}

impl SalesforceClient {
    /// Runs `records` through Bulk API 2.0 ingest jobs (several when the CSV exceeds the upload
    /// limit) and returns every row's outcome.
    pub async fn bulk_ingest(
        &self,
        object: &str,
        operation: &BulkOperation,
        records: &[Fields],
    ) -> Result<BulkIngestResult, SalesforceError> {
        let (columns, rows) = records_to_csv(records)?;
        let header_len = write_csv(&columns, &[])?.len();
        let limit = self.config().bulk_max_upload_bytes;
        let mut result = BulkIngestResult::default();
        let mut start = 0;
        while start < rows.len() {
            // Grow the chunk until the next row would pass the upload limit.
            let mut end = start;
            let mut size = header_len;
            while end < rows.len() {
                let row_len = write_rows(None, &rows[end..=end])?.len();
                if end > start && size + row_len > limit {
                    break;
                }
                size += row_len;
                end += 1;
            }
            let csv = write_csv(&columns, &rows[start..end])?;
            let job = self.run_job(object, operation, csv).await?;
            self.collect_results(&job, &mut result).await?;
            result.jobs.push(job);
            start = end;
        }
        Ok(result)
    }

    async fn run_job(
        &self,
        object: &str,
        operation: &BulkOperation,
        csv: String,
    ) -> Result<JobInfo, SalesforceError> {
        let v = self.api_version();
        let create = create_job_request(v, object, operation)?;
        let job: JobInfo = self.execute(&create).await?.json(create.what())?;
        tracing::info!(job_id = %job.id, object, operation = operation.name(), "bulk ingest job created");
        let uploaded = self.execute(&upload_request(v, &job.id, csv)?).await;
        if let Err(e) = uploaded {
            // Leave no open job behind; the upload error is what the caller needs to see.
            let _ = self
                .execute(&set_state_request(v, &job.id, JobState::Aborted)?)
                .await;
            return Err(e);
        }
        self.execute(&set_state_request(v, &job.id, JobState::UploadComplete)?)
            .await?;
        let job = self.wait_for_job(&job.id).await?;
        match job.state {
            JobState::JobComplete => Ok(job),
            _ => Err(SalesforceError::BulkJob {
                job_id: job.id.clone(),
                state: job.state.as_str().to_owned(),
                message: job.error_message.clone().unwrap_or_default(),
            }),
        }
    }

    /// Polls a job until it reaches a terminal state, doubling the pause up to the policy's
    /// maximum and giving up at its timeout or the client's deadline.
    pub async fn wait_for_job(&self, job_id: &str) -> Result<JobInfo, SalesforceError> {
        let policy = self.config().bulk_poll;
        let started = Instant::now();
        let mut pause = policy.initial;
        loop {
            let status = job_request(self.api_version(), job_id, None)?;
            let job: JobInfo = self.execute(&status).await?.json(status.what())?;
            if job.state.is_terminal() {
                return Ok(job);
            }
            let waited = started.elapsed();
            let out_of_time = waited + pause > policy.timeout
                || self.remaining().is_some_and(|left| pause >= left);
            if out_of_time {
                return Err(SalesforceError::BulkTimeout {
                    job_id: job.id,
                    state: job.state.as_str().to_owned(),
                    waited,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(policy.max);
        }
    }

    async fn collect_results(
        &self,
        job: &JobInfo,
        into: &mut BulkIngestResult,
    ) -> Result<(), SalesforceError> {
        let v = self.api_version();
        let fetch = |part: &'static str| async move {
            let r = job_request(v, &job.id, Some(part))?;
            let text = self.execute(&r).await?.text();
            parse_result_csv(&text)
        };
        for row in fetch("successfulResults").await? {
            let (id, system, fields) = split_system_columns(row);
            into.successful.push(BulkSuccess {
                id,
                created: system
                    .get("sf__Created")
                    .is_some_and(|c| c.eq_ignore_ascii_case("true")),
                fields,
            });
        }
        for row in fetch("failedResults").await? {
            let (id, system, fields) = split_system_columns(row);
            into.failed.push(BulkFailure {
                id,
                error: parse_bulk_error(system.get("sf__Error").map_or("", String::as_str)),
                fields,
            });
        }
        into.unprocessed.extend(fetch("unprocessedrecords").await?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fields as rec;
    use lf_domain::ErrorClass;

    #[test]
    fn job_requests() {
        let create = create_job_request(
            ApiVersion::DEFAULT,
            "Contact",
            &BulkOperation::Upsert {
                external_id_field: "Ext__c".into(),
            },
        )
        .unwrap();
        assert_eq!(create.path(), "/services/data/v62.0/jobs/ingest");
        let body = serde_json::to_value(create.body()).unwrap()["content"].clone();
        assert_eq!(body["operation"], "upsert");
        assert_eq!(body["externalIdFieldName"], "Ext__c");
        assert_eq!(body["contentType"], "CSV");
        assert_eq!(body["lineEnding"], "LF");

        let close = set_state_request(
            ApiVersion::DEFAULT,
            "750xx0000000001",
            JobState::UploadComplete,
        )
        .unwrap();
        assert_eq!(close.method(), HttpMethod::Patch);
        assert_eq!(
            serde_json::to_value(close.body()).unwrap()["content"],
            json!({"state": "UploadComplete"})
        );
        let upload = upload_request(ApiVersion::DEFAULT, "750xx0000000001", "a\n".into()).unwrap();
        assert_eq!(
            upload.path(),
            "/services/data/v62.0/jobs/ingest/750xx0000000001/batches"
        );
        assert_eq!(upload.method(), HttpMethod::Put);
        assert!(job_request(ApiVersion::DEFAULT, "../oauth2", None).is_err());
    }

    #[test]
    fn records_become_csv_with_nulls_and_relationships() {
        let (cols, rows) = records_to_csv(&[
            rec(json!({"attributes": {"type": "Contact"}, "LastName": "O'Hara, \"Scarlett\"", "Email": null})),
            rec(json!({"LastName": "Lovelace", "Account": {"Ext__c": "A-1"}, "Count__c": 3})),
        ])
        .unwrap();
        assert_eq!(
            cols,
            vec!["LastName", "Email", "Account.Ext__c", "Count__c"]
        );
        let csv = write_csv(&cols, &rows).unwrap();
        assert_eq!(
            csv,
            "LastName,Email,Account.Ext__c,Count__c\n\"O'Hara, \"\"Scarlett\"\"\",#N/A,,\nLovelace,,A-1,3\n"
        );
        assert!(records_to_csv(&[rec(json!({"Tags": ["a"]}))]).is_err());
    }

    #[test]
    fn results_csv_and_row_errors_parse() {
        let failed = parse_result_csv(
            "\"sf__Id\",\"sf__Error\",LastName\n\"\",\"UNABLE_TO_LOCK_ROW:unable to obtain exclusive access to this record or 200 records: 003a,003b:--\",\"Lovelace\"\n\"\",\"REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:--\",\"\"\n",
        )
        .unwrap();
        assert_eq!(failed.len(), 2);
        let (id, system, fields) = split_system_columns(failed[0].clone());
        assert_eq!(id, None);
        assert_eq!(fields.get("LastName").map(String::as_str), Some("Lovelace"));
        let e = parse_bulk_error(&system["sf__Error"]);
        assert_eq!(e.code, "UNABLE_TO_LOCK_ROW");
        assert_eq!(
            e.message,
            "unable to obtain exclusive access to this record or 200 records: 003a,003b"
        );
        assert_eq!(e.class(), ErrorClass::Transient);
        let e = parse_bulk_error(&failed[1]["sf__Error"]);
        assert_eq!(e.code, "REQUIRED_FIELD_MISSING");
        assert_eq!(e.message, "Required fields are missing: [LastName]");
        assert_eq!(parse_bulk_error("something odd").code, "BULK_ROW_ERROR");

        // Salesforce names the fields between the message and the closing `--`.
        let e = parse_bulk_error(
            "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
        );
        assert_eq!(e.code, "REQUIRED_FIELD_MISSING");
        assert_eq!(e.message, "Required fields are missing: [LastName]");
        assert_eq!(e.fields, vec!["LastName"]);
        let e = parse_bulk_error("FIELD_INTEGRITY_EXCEPTION:bad pair:Quantity,UnitPrice--");
        assert_eq!(e.message, "bad pair");
        assert_eq!(e.fields, vec!["Quantity", "UnitPrice"]);

        let ok = parse_result_csv(
            "\"sf__Id\",\"sf__Created\",LastName\n\"003000000000001AAA\",\"true\",\"Lovelace\"\n",
        )
        .unwrap();
        let (id, system, _) = split_system_columns(ok[0].clone());
        assert_eq!(id.unwrap().as_str(), "003000000000001AAA");
        assert_eq!(system["sf__Created"], "true");
        assert!(parse_result_csv("").unwrap().is_empty());
    }

    #[test]
    fn job_info_parses_unknown_states() {
        let j: JobInfo = serde_json::from_str(
            r#"{"id":"750xx0000000001","state":"Open","object":"Contact","operation":"insert","apiVersion":62.0,"jobType":"V2Ingest","concurrencyMode":"Parallel"}"#,
        )
        .unwrap();
        assert_eq!(j.state, JobState::Open);
        assert!(!j.state.is_terminal());
        let j: JobInfo = serde_json::from_str(r#"{"id":"7","state":"Weird"}"#).unwrap();
        assert_eq!(j.state, JobState::Unknown);
    }
}
