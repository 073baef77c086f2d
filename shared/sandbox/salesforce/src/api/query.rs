//! `/query` and `/queryAll`: SOQL with `nextRecordsUrl` paging.

use axum::http::Method;
use serde_json::{Value, json};

use super::{ApiRequest, ApiResponse, Call};
use crate::soql::{QueryOptions, QueryOutput, execute};

/// Default and bounds of `Sforce-Query-Options: batchSize=N`.
const DEFAULT_BATCH: usize = 2000;
const MIN_BATCH: usize = 200;

pub(crate) fn route(
    call: &mut Call<'_>,
    req: &ApiRequest,
    rest: &[&str],
    all: bool,
) -> ApiResponse {
    if req.method != Method::GET {
        return ApiResponse::method_not_allowed(&req.method);
    }
    match rest {
        [] => match req.param("q") {
            Some(q) if !q.trim().is_empty() => run(call, req, q, all),
            _ => ApiResponse::error(400, "MALFORMED_QUERY", "A query string has to be specified"),
        },
        [cursor] => next_page(call, req, cursor, all),
        _ => ApiResponse::not_found(),
    }
}

fn batch_size(req: &ApiRequest) -> usize {
    req.header("sforce-query-options")
        .and_then(|h| {
            h.split(',').find_map(|part| {
                let (k, v) = part.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("batchSize")
                    .then(|| v.trim().parse::<usize>().ok())
                    .flatten()
            })
        })
        .map_or(DEFAULT_BATCH, |n| n.clamp(MIN_BATCH, DEFAULT_BATCH))
}

/// Runs `soql` and returns the whole result (for Composite, Bulk and the first page).
pub(crate) fn evaluate(
    call: &Call<'_>,
    req: &ApiRequest,
    soql: &str,
    all: bool,
) -> Result<QueryOutput, ApiResponse> {
    let opts = QueryOptions {
        include_deleted: all,
        version: req.version_str(),
        now: call.world.store.now(),
    };
    execute(&call.world.store, soql, &opts).map_err(|e| ApiResponse::error(400, e.code, &e.message))
}

fn run(call: &mut Call<'_>, req: &ApiRequest, soql: &str, all: bool) -> ApiResponse {
    match evaluate(call, req, soql, all) {
        Err(resp) => resp,
        Ok(QueryOutput::Count(n)) => {
            ApiResponse::json(200, json!({"totalSize": n, "done": true, "records": []}))
        }
        Ok(QueryOutput::Records(records)) => {
            let batch = batch_size(req);
            if records.len() <= batch {
                return ApiResponse::json(
                    200,
                    json!({"totalSize": records.len(), "done": true, "records": records}),
                );
            }
            let locator = call.world.store.new_id("01g");
            let first: Vec<Value> = records[..batch].to_vec();
            let total = records.len();
            call.world.cursors.save(locator.clone(), records);
            page_body(req, &locator, total, batch, first, all)
        }
    }
}

fn page_body(
    req: &ApiRequest,
    locator: &str,
    total: usize,
    next_offset: usize,
    records: Vec<Value>,
    all: bool,
) -> ApiResponse {
    let done = next_offset >= total;
    let mut body = json!({"totalSize": total, "done": done});
    if !done {
        let resource = if all { "queryAll" } else { "query" };
        body["nextRecordsUrl"] = json!(format!(
            "/services/data/v{}/{resource}/{locator}-{next_offset}",
            req.version_str()
        ));
    }
    body["records"] = Value::Array(records);
    ApiResponse::json(200, body)
}

fn next_page(call: &mut Call<'_>, req: &ApiRequest, cursor: &str, all: bool) -> ApiResponse {
    let invalid = || ApiResponse::error(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
    let Some((locator, offset)) = cursor.rsplit_once('-') else {
        return invalid();
    };
    let Ok(offset) = offset.parse::<usize>() else {
        return invalid();
    };
    let Some(records) = call.world.cursors.get(locator) else {
        return invalid();
    };
    if offset > records.len() {
        return invalid();
    }
    let end = (offset + batch_size(req)).min(records.len());
    let page = records[offset..end].to_vec();
    let total = records.len();
    page_body(req, locator, total, end, page, all)
}
