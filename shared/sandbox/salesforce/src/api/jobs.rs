//! Bulk API 2.0 over HTTP: `/jobs/ingest` and `/jobs/query`.

use axum::http::Method;
use serde_json::{Value, json};

use super::{ApiRequest, ApiResponse, Body, Call};
use crate::bulk::{IngestJob, Operation, QueryJob, delimiter, flatten};
use crate::schema::Schema;
use crate::soql::{QueryOutput, parse};
use crate::value::format_datetime;

fn invalid_job(message: &str) -> ApiResponse {
    ApiResponse::error(400, "INVALIDJOB", message)
}

fn wrong_state(state: &str) -> ApiResponse {
    ApiResponse::error(
        409,
        "INVALIDJOBSTATE",
        &format!("The job is in state {state}, which does not allow this request"),
    )
}

fn csv(text: String) -> ApiResponse {
    ApiResponse {
        status: 200,
        headers: Vec::new(),
        body: Body::Csv(text),
    }
}

pub(crate) fn ingest(call: &mut Call<'_>, req: &ApiRequest, rest: &[&str]) -> ApiResponse {
    match (rest, &req.method) {
        ([], &Method::POST) => create_ingest(call, req),
        ([], &Method::GET) => {
            let records: Vec<Value> = call
                .world
                .jobs
                .ingest
                .values()
                .map(IngestJob::info)
                .collect();
            ApiResponse::json(
                200,
                json!({"done": true, "records": records, "nextRecordsUrl": null}),
            )
        }
        ([id], &Method::GET) => match call.world.jobs.ingest.get(*id) {
            Some(job) => ApiResponse::json(200, job.info()),
            None => ApiResponse::not_found(),
        },
        ([id], &Method::PATCH) => change_state(call, req, id),
        ([id], &Method::DELETE) => match call.world.jobs.ingest.get(*id).map(|j| j.state.clone()) {
            None => ApiResponse::not_found(),
            Some(s) if matches!(s.as_str(), "JobComplete" | "Failed" | "Aborted") => {
                call.world.jobs.ingest.remove(*id);
                ApiResponse::empty(204)
            }
            Some(s) => wrong_state(&s),
        },
        ([id, "batches"], &Method::PUT) => upload(call, req, id),
        ([id, result], &Method::GET) => {
            let Some(job) = call.world.jobs.ingest.get(*id) else {
                return ApiResponse::not_found();
            };
            match *result {
                "successfulResults" => csv(job.successful_results()),
                "failedResults" => csv(job.failed_results()),
                "unprocessedrecords" => csv(job.unprocessed_records()),
                _ => ApiResponse::not_found(),
            }
        }
        _ => ApiResponse::method_not_allowed(&req.method),
    }
}

fn create_ingest(call: &mut Call<'_>, req: &ApiRequest) -> ApiResponse {
    let body = match req.json() {
        Ok(b) => b,
        Err(e) => return e,
    };
    let text = |k: &str| body.get(k).and_then(Value::as_str);
    let Some(object) = text("object").and_then(|o| Schema::get().object(o)) else {
        return invalid_job(&format!(
            "Unable to find object: {}",
            text("object").unwrap_or("")
        ));
    };
    let Some(operation) = text("operation").and_then(Operation::parse) else {
        return invalid_job(&format!(
            "Invalid operation: {}",
            text("operation").unwrap_or("")
        ));
    };
    let external_id = match (operation, text("externalIdFieldName")) {
        (Operation::Upsert, None) => {
            return invalid_job(
                "External ID was blank for upsert: externalIdFieldName is required",
            );
        }
        (Operation::Upsert, Some(name)) => match object.field(name) {
            Some(f) if f.external_id || f.name == "Id" => Some(f.name),
            _ => {
                return invalid_job(&format!(
                    "Field {name} is not an external id field of {}",
                    object.name
                ));
            }
        },
        _ => None,
    };
    if text("contentType").is_some_and(|c| c != "CSV") {
        return invalid_job("contentType must be CSV");
    }
    let delimiter_name = text("columnDelimiter").unwrap_or("COMMA").to_owned();
    let Some(delim) = delimiter(&delimiter_name) else {
        return invalid_job(&format!("Invalid columnDelimiter: {delimiter_name}"));
    };
    let now = format_datetime(call.world.store.now());
    let id = call.world.store.new_id("750");
    let job = IngestJob {
        id: id.clone(),
        object,
        operation,
        external_id,
        delimiter: delim,
        delimiter_name,
        line_ending: text("lineEnding").unwrap_or("LF").to_owned(),
        state: "Open".into(),
        created: now.clone(),
        modstamp: now,
        api_version: req.version,
        data: Vec::new(),
        header: Vec::new(),
        successes: Vec::new(),
        failures: Vec::new(),
        unprocessed: Vec::new(),
        error_message: None,
    };
    let info = job.info();
    call.world.jobs.ingest.insert(id, job);
    ApiResponse::json(200, info)
}

fn upload(call: &mut Call<'_>, req: &ApiRequest, id: &str) -> ApiResponse {
    let Some(job) = call.world.jobs.ingest.get_mut(id) else {
        return ApiResponse::not_found();
    };
    if job.state != "Open" {
        return wrong_state(&job.state);
    }
    if !job.data.is_empty() {
        // Salesforce takes one upload per job and refuses the next one, so a replayed upload
        // can never insert its rows twice.
        return ApiResponse::error(
            409,
            "INVALIDJOBSTATE",
            &format!("Found multiple contents for job: {id}; upload the content only once per job"),
        );
    }
    job.data = req.body.to_vec();
    ApiResponse::empty(201)
}

fn change_state(call: &mut Call<'_>, req: &ApiRequest, id: &str) -> ApiResponse {
    let body = match req.json() {
        Ok(b) => b,
        Err(e) => return e,
    };
    let wanted = body.get("state").and_then(Value::as_str).unwrap_or("");
    let fault = call.write_fault.take();
    let crate::org::World { store, jobs, .. } = &mut *call.world;
    let Some(job) = jobs.ingest.get_mut(id) else {
        return ApiResponse::not_found();
    };
    match wanted {
        "UploadComplete" if job.state == "Open" => {
            job.state = "UploadComplete".into();
            let reply = job.info();
            job.process(store, fault);
            ApiResponse::json(200, reply)
        }
        "Aborted" if matches!(job.state.as_str(), "Open" | "UploadComplete") => {
            job.abort();
            ApiResponse::json(200, job.info())
        }
        "UploadComplete" | "Aborted" => wrong_state(&job.state),
        other => invalid_job(&format!("Invalid state: {other}")),
    }
}

pub(crate) fn query(call: &mut Call<'_>, req: &ApiRequest, rest: &[&str]) -> ApiResponse {
    match (rest, &req.method) {
        ([], &Method::POST) => create_query(call, req),
        ([], &Method::GET) => {
            let records: Vec<Value> = call.world.jobs.query.values().map(QueryJob::info).collect();
            ApiResponse::json(
                200,
                json!({"done": true, "records": records, "nextRecordsUrl": null}),
            )
        }
        ([id], &Method::GET) => match call.world.jobs.query.get(*id) {
            Some(job) => ApiResponse::json(200, job.info()),
            None => ApiResponse::not_found(),
        },
        ([id], &Method::PATCH) => {
            let Some(job) = call.world.jobs.query.get_mut(*id) else {
                return ApiResponse::not_found();
            };
            if job.state == "JobComplete" || job.state == "Failed" {
                return wrong_state(&job.state);
            }
            job.state = "Aborted".into();
            ApiResponse::json(200, job.info())
        }
        ([id], &Method::DELETE) => match call.world.jobs.query.remove(*id) {
            Some(_) => ApiResponse::empty(204),
            None => ApiResponse::not_found(),
        },
        ([id, "results"], &Method::GET) => results(call, req, id),
        _ => ApiResponse::method_not_allowed(&req.method),
    }
}

fn create_query(call: &mut Call<'_>, req: &ApiRequest) -> ApiResponse {
    let body = match req.json() {
        Ok(b) => b,
        Err(e) => return e,
    };
    let operation = body
        .get("operation")
        .and_then(Value::as_str)
        .unwrap_or("query")
        .to_owned();
    if operation != "query" && operation != "queryAll" {
        return invalid_job(&format!("Invalid operation: {operation}"));
    }
    let Some(soql) = body.get("query").and_then(Value::as_str) else {
        return invalid_job("query is required");
    };
    let parsed = match parse(soql) {
        Ok(q) => q,
        Err(e) => return ApiResponse::error(400, e.code, &e.message),
    };
    let mut columns = Vec::new();
    for item in &parsed.select {
        match item {
            crate::soql::SelectItem::Field(path) => columns.push(path.clone()),
            _ => {
                return ApiResponse::error(
                    400,
                    "API_ERROR",
                    "Bulk API query jobs do not support subqueries, COUNT() or aggregate functions",
                );
            }
        }
    }
    let output = match super::query::evaluate(call, req, soql, operation == "queryAll") {
        Ok(o) => o,
        Err(e) => return e,
    };
    let records = match output {
        QueryOutput::Records(r) => r,
        QueryOutput::Count(_) => Vec::new(),
    };
    let id = call.world.store.new_id("750");
    let job = QueryJob {
        id: id.clone(),
        object: Schema::get()
            .object(&parsed.from)
            .map_or(parsed.from.clone(), |o| o.name.to_owned()),
        operation,
        query: soql.to_owned(),
        state: "JobComplete".into(),
        created: format_datetime(call.world.store.now()),
        api_version: req.version,
        header: columns.iter().map(|p| p.join(".")).collect(),
        rows: flatten(&columns, &records),
        error_message: None,
    };
    let mut info = job.info();
    // The create call answers with the job as it was queued.
    info["state"] = json!("UploadComplete");
    info["query"] = json!(job.query);
    call.world.jobs.query.insert(id, job);
    ApiResponse::json(200, info)
}

fn results(call: &mut Call<'_>, req: &ApiRequest, id: &str) -> ApiResponse {
    let Some(job) = call.world.jobs.query.get(id) else {
        return ApiResponse::not_found();
    };
    if job.state != "JobComplete" {
        return wrong_state(&job.state);
    }
    let offset = req
        .param("locator")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    let max = req
        .param("maxRecords")
        .and_then(|m| m.parse::<usize>().ok())
        .filter(|m| *m > 0)
        .unwrap_or(50_000);
    let (text, count, next) = job.page(offset, max);
    csv(text)
        .with_header(
            "Sforce-Locator",
            next.map_or("null".to_owned(), |n| n.to_string()),
        )
        .with_header("Sforce-NumberOfRecords", count.to_string())
}
