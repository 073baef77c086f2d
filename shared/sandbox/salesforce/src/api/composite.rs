//! The Composite resource: up to 25 subrequests in one call, `@{ref.path}` references to
//! earlier results, per-subrequest status, and `allOrNone` rollback.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method};
use serde_json::{Value, json};

use super::{ApiRequest, ApiResponse, Body, Call, dispatch, split_path};

/// Subrequests per composite call, and how many of them may be queries or collections.
const MAX_SUBREQUESTS: usize = 25;
const MAX_QUERY_OR_COLLECTION: usize = 5;

const ROLLED_BACK: &str =
    "The transaction was rolled back since another operation in the same transaction failed.";

pub(crate) fn composite(call: &mut Call<'_>, req: &ApiRequest) -> ApiResponse {
    if req.method != Method::POST {
        return ApiResponse::method_not_allowed(&req.method);
    }
    let body = match req.json() {
        Ok(b) => b,
        Err(e) => return e,
    };
    let all_or_none = body
        .get("allOrNone")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(subs) = body.get("compositeRequest").and_then(Value::as_array) else {
        return ApiResponse::error(400, "JSON_PARSER_ERROR", "compositeRequest is required");
    };
    if subs.is_empty() {
        return ApiResponse::error(400, "INVALID_INPUT", "compositeRequest must not be empty");
    }
    if subs.len() > MAX_SUBREQUESTS {
        return ApiResponse::error(
            400,
            "INVALID_INPUT",
            &format!("Composite requests can contain at most {MAX_SUBREQUESTS} subrequests"),
        );
    }
    let heavy = subs
        .iter()
        .filter(|s| {
            let url = s.get("url").and_then(Value::as_str).unwrap_or("");
            url.contains("/query")
                || url.contains("/queryAll")
                || url.contains("/composite/sobjects")
        })
        .count();
    if heavy > MAX_QUERY_OR_COLLECTION {
        return ApiResponse::error(
            400,
            "INVALID_INPUT",
            &format!(
                "Composite requests can contain at most {MAX_QUERY_OR_COLLECTION} query or sObject Collections subrequests"
            ),
        );
    }
    let mut seen_refs = Vec::new();
    for s in subs {
        let r = s.get("referenceId").and_then(Value::as_str).unwrap_or("");
        let valid = r.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid || seen_refs.contains(&r) {
            return ApiResponse::error(
                400,
                "INVALID_INPUT",
                &format!("Invalid or duplicate referenceId: {r:?}"),
            );
        }
        seen_refs.push(r);
    }

    // Only an all-or-none request can roll back, and a snapshot copies every table.
    let snapshot = all_or_none.then(|| call.world.store.snapshot());
    let mut results: Vec<Value> = Vec::new();
    let mut bodies: HashMap<String, Value> = HashMap::new();
    let mut failed_at: Option<usize> = None;
    for (i, sub) in subs.iter().enumerate() {
        let reference = sub
            .get("referenceId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let resp = match substitute(sub, &bodies) {
            Err(message) => ApiResponse::error(400, "PROCESSING_HALTED", &message),
            Ok((method, url, sub_body)) => run_sub(call, req, &method, &url, sub_body),
        };
        let ok = resp.status < 400;
        if ok {
            bodies.insert(reference.clone(), resp.body_json());
        }
        results.push(sub_result(&resp, &reference));
        if !ok && all_or_none {
            failed_at = Some(i);
            break;
        }
    }
    if let (Some(failed), Some(snapshot)) = (failed_at, snapshot) {
        call.world.store.restore(snapshot);
        for (i, sub) in subs.iter().enumerate() {
            let reference = sub.get("referenceId").and_then(Value::as_str).unwrap_or("");
            let replacement = if i < failed {
                Some("ALL_OR_NONE_OPERATION_ROLLED_BACK")
            } else if i > failed {
                Some("PROCESSING_HALTED")
            } else {
                None
            };
            if let Some(code) = replacement {
                let halted = json!({
                    "body": [{"errorCode": code, "message": ROLLED_BACK}],
                    "httpHeaders": {},
                    "httpStatusCode": 400,
                    "referenceId": reference,
                });
                if i < results.len() {
                    results[i] = halted;
                } else {
                    results.push(halted);
                }
            }
        }
    }
    ApiResponse::json(200, json!({"compositeResponse": results}))
}

fn sub_result(resp: &ApiResponse, reference: &str) -> Value {
    let headers: serde_json::Map<String, Value> = resp
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Location"))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    json!({
        "body": match &resp.body { Body::Empty => Value::Null, _ => resp.body_json() },
        "httpHeaders": headers,
        "httpStatusCode": resp.status,
        "referenceId": reference,
    })
}

/// Runs one subrequest through the same router as a top-level call.
fn run_sub(
    call: &mut Call<'_>,
    parent: &ApiRequest,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> ApiResponse {
    let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
        return ApiResponse::error(400, "INVALID_INPUT", &format!("bad method {method}"));
    };
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let segments = split_path(path);
    let version = match segments.as_slice() {
        [s, d, v, ..] if s == "services" && d == "data" => super::parse_version(v),
        _ => None,
    };
    let Some(version) = version else {
        return ApiResponse::error(
            400,
            "INVALID_INPUT",
            &format!("The subrequest URL must start with /services/data/vXX.X: {url}"),
        );
    };
    if segments.get(3).map(String::as_str) == Some("composite") && segments.len() == 4 {
        return ApiResponse::error(400, "INVALID_INPUT", "Composite requests cannot be nested");
    }
    let req = ApiRequest {
        method,
        version,
        segments: segments[3..].to_vec(),
        query: url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
        headers: HeaderMap::clone(&parent.headers),
        body: body
            .map(|b| Bytes::from(serde_json::to_vec(&b).unwrap_or_default()))
            .unwrap_or_default(),
    };
    dispatch(call, &req)
}

/// Replaces `@{ref.path}` in the URL and body with values from earlier results.
fn substitute(
    sub: &Value,
    bodies: &HashMap<String, Value>,
) -> Result<(String, String, Option<Value>), String> {
    let method = sub
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_owned();
    let url = sub.get("url").and_then(Value::as_str).unwrap_or("");
    let url = replace_in_text(url, bodies)?;
    let body = match sub.get("body") {
        Some(b) => Some(replace_in_value(b, bodies)?),
        None => None,
    };
    Ok((method, url, body))
}

fn lookup(expr: &str, bodies: &HashMap<String, Value>) -> Result<Value, String> {
    let mut parts = expr.split('.');
    let reference = parts.next().unwrap_or("");
    let mut current = bodies.get(reference).ok_or_else(|| {
        format!("Invalid reference specified. No value for {expr} found in {reference}. Provided referenceId ({reference}) has not been processed or its request failed.")
    })?;
    for part in parts {
        // `records[0]` style steps.
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        if !name.is_empty() {
            current = current.get(name).ok_or_else(|| {
                format!("Invalid reference specified. No value for {expr} found in {reference}.")
            })?;
        }
        if let Some(i) = index {
            current = current.get(i).ok_or_else(|| {
                format!("Invalid reference specified. No value for {expr} found in {reference}.")
            })?;
        }
    }
    Ok(current.clone())
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn replace_in_text(s: &str, bodies: &HashMap<String, Value>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("@{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        out.push_str(&as_text(&lookup(&after[..end], bodies)?));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn replace_in_value(v: &Value, bodies: &HashMap<String, Value>) -> Result<Value, String> {
    Ok(match v {
        Value::String(s) => {
            let whole = s.strip_prefix("@{").and_then(|r| r.strip_suffix('}'));
            match whole {
                // The whole string is one reference: keep the referenced value's type.
                Some(expr) if !expr.contains('}') => lookup(expr, bodies)?,
                _ => Value::String(replace_in_text(s, bodies)?),
            }
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| replace_in_value(x, bodies))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), replace_in_value(x, bodies)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_paths_and_keep_types() {
        let mut bodies = HashMap::new();
        bodies.insert(
            "NewAccount".to_owned(),
            json!({"id": "001A", "success": true}),
        );
        bodies.insert(
            "Q".to_owned(),
            json!({"records": [{"Id": "003B", "Account": {"Name": "Acme"}, "Amount": 5.5}]}),
        );
        assert_eq!(
            replace_in_text("/sobjects/Account/@{NewAccount.id}", &bodies).unwrap(),
            "/sobjects/Account/001A"
        );
        let v = replace_in_value(
            &json!({"AccountId": "@{NewAccount.id}", "Amount": "@{Q.records[0].Amount}", "Name": "x @{Q.records[0].Account.Name}"}),
            &bodies,
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"AccountId": "001A", "Amount": 5.5, "Name": "x Acme"})
        );
        assert!(replace_in_text("@{Missing.id}", &bodies).is_err());
        assert!(replace_in_text("@{NewAccount.nope}", &bodies).is_err());
    }
}
