//! sObject Collections (`/composite/sobjects`): up to 200 records per call, results in request
//! order, item errors with `statusCode`, and `allOrNone` rollback.

use axum::http::Method;
use lf_domain::SalesforceId;
use serde_json::{Map, Value, json};

use super::sobjects::{external_id_field, pick_fields, render_record};
use super::{ApiRequest, ApiResponse, Call, item_error};
use crate::schema::{ObjectDef, Schema};
use crate::store::{UpsertOutcome, Writer};
use crate::value::FieldError;

/// Records per collections call.
pub(crate) const MAX_RECORDS: usize = 200;

pub(crate) fn route(call: &mut Call<'_>, req: &ApiRequest, rest: &[&str]) -> ApiResponse {
    match (rest, &req.method) {
        ([], &Method::POST) => write(call, req, Op::Create),
        ([], &Method::PATCH) => write(call, req, Op::Update),
        ([], &Method::DELETE) => delete(call, req),
        ([object, field], &Method::PATCH) => {
            let Some(object) = Schema::get().object(object) else {
                return ApiResponse::not_found();
            };
            let Some(ext) = external_id_field(object, field) else {
                return ApiResponse::not_found();
            };
            write(call, req, Op::Upsert(object, ext.name))
        }
        ([object], &Method::GET) | ([object], &Method::POST) => retrieve(call, req, object),
        _ => ApiResponse::method_not_allowed(&req.method),
    }
}

#[derive(Clone, Copy)]
enum Op {
    Create,
    Update,
    Upsert(&'static ObjectDef, &'static str),
}

fn too_many() -> ApiResponse {
    ApiResponse::error(
        400,
        "EXCEEDED_ID_LIMIT",
        "record limit reached. cannot submit more than 200 records into this call",
    )
}

/// One record's outcome: its id when known, and either success (with `created` for upserts)
/// or its errors.
struct Outcome {
    id: Option<String>,
    created: Option<bool>,
    errors: Vec<FieldError>,
}

fn render(outcomes: &[Outcome], upsert: bool) -> Value {
    Value::Array(
        outcomes
            .iter()
            .map(|o| {
                let mut v = Map::new();
                if let Some(id) = &o.id {
                    v.insert("id".into(), json!(id));
                }
                v.insert("success".into(), json!(o.errors.is_empty()));
                v.insert(
                    "errors".into(),
                    Value::Array(o.errors.iter().map(item_error).collect()),
                );
                if upsert && o.errors.is_empty() {
                    v.insert("created".into(), json!(o.created.unwrap_or(false)));
                }
                Value::Object(v)
            })
            .collect(),
    )
}

fn rolled_back() -> FieldError {
    FieldError::new(
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "Record rolled back because not all records were valid and the request was using AllOrNone header",
        &[],
    )
}

/// The state to roll back to, taken only when the call is `allOrNone` (a snapshot copies
/// every table).
fn rollback_point(call: &Call<'_>, all_or_none: bool) -> Option<crate::store::Snapshot> {
    all_or_none.then(|| call.world.store.snapshot())
}

/// Applies `allOrNone`: when any record failed, undo everything and mark the others.
fn settle(call: &mut Call<'_>, rollback: Option<crate::store::Snapshot>, outcomes: &mut [Outcome]) {
    let Some(snapshot) = rollback else {
        return;
    };
    if outcomes.iter().all(|o| o.errors.is_empty()) {
        return;
    }
    call.world.store.restore(snapshot);
    for o in outcomes.iter_mut() {
        if o.errors.is_empty() {
            o.errors.push(rolled_back());
        }
    }
}

fn write(call: &mut Call<'_>, req: &ApiRequest, op: Op) -> ApiResponse {
    let body = match req.json() {
        Ok(b) => b,
        Err(e) => return e,
    };
    let all_or_none = body
        .get("allOrNone")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(records) = body.get("records").and_then(Value::as_array) else {
        return ApiResponse::error(400, "JSON_PARSER_ERROR", "records is required");
    };
    if records.len() > MAX_RECORDS {
        return too_many();
    }
    let rollback = rollback_point(call, all_or_none);
    let mut outcomes = Vec::with_capacity(records.len());
    for raw in records {
        outcomes.push(write_one(call, op, raw));
    }
    settle(call, rollback, &mut outcomes);
    ApiResponse::json(200, render(&outcomes, matches!(op, Op::Upsert(..))))
}

fn write_one(call: &mut Call<'_>, op: Op, raw: &Value) -> Outcome {
    let fail = |id: Option<String>, e: FieldError| Outcome {
        id,
        created: None,
        errors: vec![e],
    };
    let Some(map) = raw.as_object() else {
        return fail(
            None,
            FieldError::new("JSON_PARSER_ERROR", "a record must be a JSON object", &[]),
        );
    };
    let declared = map
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str);
    let object = match (op, declared) {
        (Op::Upsert(o, _), _) => Some(o),
        (_, Some(t)) => Schema::get().object(t),
        (_, None) => None,
    };
    let Some(object) = object else {
        return fail(
            None,
            FieldError::new(
                "INVALID_TYPE",
                "Must send a concrete entity type in attributes.type",
                &[],
            ),
        );
    };
    let mut fields = map.clone();
    fields.remove("attributes");
    let id = fields
        .remove("id")
        .or_else(|| fields.remove("Id"))
        .and_then(|v| v.as_str().map(str::to_owned));
    if let Some(e) = call.take_write_fault() {
        return fail(id, e);
    }
    let store = &mut call.world.store;
    match op {
        Op::Create => {
            if id.is_some() {
                return fail(
                    None,
                    FieldError::new(
                        "INVALID_FIELD",
                        "cannot specify Id in an insert call",
                        &["Id"],
                    ),
                );
            }
            match store.create(object, &fields, Writer::Api) {
                Ok(id) => Outcome {
                    id: Some(id),
                    created: Some(true),
                    errors: vec![],
                },
                Err(errors) => Outcome {
                    id: None,
                    created: None,
                    errors,
                },
            }
        }
        Op::Update => {
            let Some(id) = id else {
                return fail(
                    None,
                    FieldError::new(
                        "MISSING_ARGUMENT",
                        "Id not specified in an update call",
                        &["Id"],
                    ),
                );
            };
            match store.update(object, &id, &fields, Writer::Api) {
                Ok(()) => Outcome {
                    id: Some(normalise(&id)),
                    created: None,
                    errors: vec![],
                },
                Err(errors) => Outcome {
                    id: Some(id),
                    created: None,
                    errors: errors.into_iter().map(missing_as_deleted).collect(),
                },
            }
        }
        Op::Upsert(object, ext_name) => {
            let Some(ext) = object.field(ext_name) else {
                return fail(None, FieldError::new("NOT_FOUND", "no such field", &[]));
            };
            let value = fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(ext.name))
                .map(|(_, v)| crate::value::to_csv_cell(v))
                .or(id.clone().filter(|_| ext.name == "Id"));
            let Some(value) = value else {
                return fail(
                    None,
                    FieldError::new(
                        "MISSING_ARGUMENT",
                        format!("{} not specified", ext.name),
                        &[ext.name],
                    ),
                );
            };
            match store.upsert(object, ext, &value, &fields, Writer::Api) {
                Ok(UpsertOutcome::Created(id)) => Outcome {
                    id: Some(id),
                    created: Some(true),
                    errors: vec![],
                },
                Ok(UpsertOutcome::Updated(id)) => Outcome {
                    id: Some(id),
                    created: Some(false),
                    errors: vec![],
                },
                Ok(UpsertOutcome::Multiple(ids)) => fail(
                    None,
                    FieldError::new(
                        "DUPLICATE_EXTERNAL_ID",
                        format!(
                            "{}: more than one record found for external id field: {}",
                            ext.name,
                            ids.join(", ")
                        ),
                        &[ext.name],
                    ),
                ),
                Err(errors) => Outcome {
                    id: None,
                    created: None,
                    errors,
                },
            }
        }
    }
}

/// A collections item naming a record that does not exist fails with `ENTITY_IS_DELETED`,
/// not the REST `NOT_FOUND`.
fn missing_as_deleted(e: FieldError) -> FieldError {
    if e.code == "NOT_FOUND" {
        FieldError::new("ENTITY_IS_DELETED", "entity is deleted", &[])
    } else {
        e
    }
}

fn normalise(id: &str) -> String {
    SalesforceId::parse(id)
        .map(|i| i.as_str().to_owned())
        .unwrap_or_else(|_| id.to_owned())
}

fn delete(call: &mut Call<'_>, req: &ApiRequest) -> ApiResponse {
    let ids: Vec<String> = req
        .param("ids")
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return ApiResponse::error(400, "MISSING_ARGUMENT", "ids is required");
    }
    if ids.len() > MAX_RECORDS {
        return too_many();
    }
    let all_or_none = req
        .param("allOrNone")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let rollback = rollback_point(call, all_or_none);
    let mut outcomes = Vec::new();
    for id in ids {
        if let Some(e) = call.take_write_fault() {
            outcomes.push(Outcome {
                id: Some(id),
                created: None,
                errors: vec![e],
            });
            continue;
        }
        let result = call.world.store.delete(&id);
        outcomes.push(match result {
            Ok(_) => Outcome {
                id: Some(normalise(&id)),
                created: None,
                errors: vec![],
            },
            Err(e) => Outcome {
                id: Some(id),
                created: None,
                errors: vec![missing_as_deleted(e)],
            },
        });
    }
    settle(call, rollback, &mut outcomes);
    ApiResponse::json(200, render(&outcomes, false))
}

/// `GET /composite/sobjects/{SObject}?ids=...&fields=...`: records in the order asked,
/// `null` where none exists.
fn retrieve(call: &mut Call<'_>, req: &ApiRequest, object: &str) -> ApiResponse {
    let Some(object) = Schema::get().object(object) else {
        return ApiResponse::not_found();
    };
    let (ids, fields): (Vec<String>, Vec<String>) = if req.method == Method::POST {
        let body = match req.json() {
            Ok(b) => b,
            Err(e) => return e,
        };
        let list = |k: &str| {
            body.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        (list("ids"), list("fields"))
    } else {
        let split = |k: &str| {
            req.param(k)
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        (split("ids"), split("fields"))
    };
    if ids.len() > 2000 {
        return too_many();
    }
    let picked = match pick_fields(object, &fields) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let only = (!picked.is_empty()).then_some(picked.as_slice());
    let out: Vec<Value> = ids
        .iter()
        .map(|id| match call.world.store.get(object, id) {
            Some(rec) => render_record(req, object, rec, only),
            None => Value::Null,
        })
        .collect();
    ApiResponse::json(200, Value::Array(out))
}
