//! `/sobjects`: describe, CRUD, and upsert by external id.

use axum::http::Method;
use lf_domain::SalesforceId;
use serde_json::{Map, Value, json};

use super::replication::{self, Replication};
use super::{ApiRequest, ApiResponse, Call};
use crate::schema::{FieldDef, FieldType, ObjectDef, Schema};
use crate::store::{Record, UpsertOutcome, Writer};

pub(crate) fn route(call: &mut Call<'_>, req: &ApiRequest, segs: &[&str]) -> ApiResponse {
    let schema = Schema::get();
    let Some((first, rest)) = segs.split_first() else {
        return match req.method {
            Method::GET | Method::HEAD => describe_global(req),
            _ => ApiResponse::method_not_allowed(&req.method),
        };
    };
    let Some(object) = schema.object(first) else {
        return ApiResponse::not_found();
    };
    match (rest, &req.method) {
        ([], &Method::GET) => ApiResponse::json(
            200,
            json!({"objectDescribe": object_summary(object, req), "recentItems": []}),
        ),
        ([], &Method::POST) => create(call, req, object),
        ([], method) => ApiResponse::method_not_allowed(method),
        (["describe"], &Method::GET) => ApiResponse::json(200, describe(object, req)),
        ([id], &Method::POST) if id.eq_ignore_ascii_case("Id") => create(call, req, object),
        (["updated"], &Method::GET) => replication::get(call, req, object, Replication::Updated),
        (["deleted"], &Method::GET) => replication::get(call, req, object, Replication::Deleted),
        ([id], method) => match SalesforceId::parse(id) {
            Ok(parsed) if parsed.key_prefix() == object.key_prefix => {
                let id = parsed.as_str();
                match *method {
                    Method::GET | Method::HEAD => get(call, req, object, id),
                    Method::PATCH => update(call, req, object, id),
                    Method::DELETE => delete(call, id),
                    _ => ApiResponse::method_not_allowed(method),
                }
            }
            _ => ApiResponse::not_found(),
        },
        ([field, value], method) => {
            let Some(ext) = external_id_field(object, field) else {
                return ApiResponse::not_found();
            };
            match *method {
                Method::PATCH | Method::POST => upsert(call, req, object, ext, value),
                Method::GET | Method::HEAD => match find_by_ext(call, req, object, ext, value) {
                    Ok(id) => get(call, req, object, &id),
                    Err(resp) => resp,
                },
                Method::DELETE => match find_by_ext(call, req, object, ext, value) {
                    Ok(id) => delete(call, &id),
                    Err(resp) => resp,
                },
                _ => ApiResponse::method_not_allowed(method),
            }
        }
        _ => ApiResponse::not_found(),
    }
}

/// The field an upsert URL names, if it may be used as an external id.
pub(crate) fn external_id_field(
    object: &'static ObjectDef,
    name: &str,
) -> Option<&'static FieldDef> {
    object
        .field(name)
        .filter(|f| f.external_id || f.name == "Id")
}

fn find_by_ext(
    call: &Call<'_>,
    req: &ApiRequest,
    object: &'static ObjectDef,
    ext: &FieldDef,
    value: &str,
) -> Result<String, ApiResponse> {
    let ids = call.world.store.find_by_field(object, ext, value);
    match ids.as_slice() {
        [] => Err(ApiResponse::not_found()),
        [one] => Ok(one.clone()),
        many => Err(multiple_choices(req, object, many)),
    }
}

fn multiple_choices(req: &ApiRequest, object: &ObjectDef, ids: &[String]) -> ApiResponse {
    ApiResponse::json(
        300,
        Value::Array(
            ids.iter()
                .map(|id| json!(record_url(req, object.name, id)))
                .collect(),
        ),
    )
}

pub(crate) fn record_url(req: &ApiRequest, object: &str, id: &str) -> String {
    format!(
        "/services/data/v{}/sobjects/{object}/{id}",
        req.version_str()
    )
}

/// A record as GET returns it: `attributes` first, then every field (or the asked ones).
pub(crate) fn render_record(
    req: &ApiRequest,
    object: &ObjectDef,
    rec: &Record,
    only: Option<&[&FieldDef]>,
) -> Value {
    let id = rec.get("Id").and_then(Value::as_str).unwrap_or("");
    let mut out = Map::new();
    out.insert(
        "attributes".into(),
        json!({"type": object.name, "url": record_url(req, object.name, id)}),
    );
    let fields: Vec<&FieldDef> = match only {
        Some(list) => list.to_vec(),
        None => object.fields.iter().collect(),
    };
    for f in fields {
        out.insert(
            f.name.to_owned(),
            rec.get(f.name).cloned().unwrap_or(Value::Null),
        );
    }
    Value::Object(out)
}

/// The fields named in a `fields` parameter; `INVALID_FIELD` for one the object lacks.
pub(crate) fn pick_fields(
    object: &ObjectDef,
    names: impl IntoIterator<Item = impl AsRef<str>>,
) -> Result<Vec<&FieldDef>, ApiResponse> {
    let mut picked = Vec::new();
    for name in names {
        let name = name.as_ref().trim();
        if name.is_empty() {
            continue;
        }
        match object.field(name) {
            Some(f) => picked.push(f),
            None => {
                return Err(ApiResponse::error(
                    400,
                    "INVALID_FIELD",
                    &format!("No such column '{name}' on sobject of type {}", object.name),
                ));
            }
        }
    }
    Ok(picked)
}

fn get(call: &Call<'_>, req: &ApiRequest, object: &ObjectDef, id: &str) -> ApiResponse {
    let only = match req
        .param("fields")
        .map(|list| pick_fields(object, list.split(',')))
    {
        Some(Ok(picked)) => Some(picked),
        Some(Err(resp)) => return resp,
        None => None,
    };
    match call.world.store.get(object, id) {
        Some(rec) => ApiResponse::json(200, render_record(req, object, rec, only.as_deref())),
        None => ApiResponse::not_found(),
    }
}

fn body_map(req: &ApiRequest) -> Result<Map<String, Value>, ApiResponse> {
    match req.json()? {
        Value::Object(m) => Ok(m),
        _ => Err(ApiResponse::error(
            400,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of the sObject from a non-object value",
        )),
    }
}

fn create(call: &mut Call<'_>, req: &ApiRequest, object: &'static ObjectDef) -> ApiResponse {
    let body = match body_map(req) {
        Ok(b) => b,
        Err(e) => return e,
    };
    if let Some(e) = call.take_write_fault() {
        return ApiResponse::field_errors(400, &[e]);
    }
    match call.world.store.create(object, &body, Writer::Api) {
        Ok(id) => ApiResponse::json(201, json!({"id": id, "success": true, "errors": []}))
            .with_header("Location", record_url(req, object.name, &id)),
        Err(errors) => ApiResponse::field_errors(400, &errors),
    }
}

fn update(
    call: &mut Call<'_>,
    req: &ApiRequest,
    object: &'static ObjectDef,
    id: &str,
) -> ApiResponse {
    let body = match body_map(req) {
        Ok(b) => b,
        Err(e) => return e,
    };
    if let Some(e) = call.take_write_fault() {
        return ApiResponse::field_errors(400, &[e]);
    }
    match call.world.store.update(object, id, &body, Writer::Api) {
        Ok(()) => ApiResponse::empty(204),
        Err(errors) => status_for(&errors),
    }
}

/// 404 for a missing record, 400 for everything else.
fn status_for(errors: &[crate::value::FieldError]) -> ApiResponse {
    let code = if errors.first().is_some_and(|e| e.code == "NOT_FOUND") {
        404
    } else {
        400
    };
    ApiResponse::field_errors(code, errors)
}

fn delete(call: &mut Call<'_>, id: &str) -> ApiResponse {
    if let Some(e) = call.take_write_fault() {
        return ApiResponse::field_errors(400, &[e]);
    }
    match call.world.store.delete(id) {
        Ok(_) => ApiResponse::empty(204),
        Err(e) if e.code == "ENTITY_IS_DELETED" || e.code == "NOT_FOUND" => {
            ApiResponse::field_errors(404, &[e])
        }
        Err(e) => ApiResponse::field_errors(400, &[e]),
    }
}

fn upsert(
    call: &mut Call<'_>,
    req: &ApiRequest,
    object: &'static ObjectDef,
    ext: &'static FieldDef,
    value: &str,
) -> ApiResponse {
    let body = match body_map(req) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let update_only = req
        .param("updateOnly")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if update_only
        && call
            .world
            .store
            .find_by_field(object, ext, value)
            .is_empty()
    {
        return ApiResponse::not_found();
    }
    if let Some(e) = call.take_write_fault() {
        return ApiResponse::field_errors(400, &[e]);
    }
    let with_created = req.version >= 46;
    match call
        .world
        .store
        .upsert(object, ext, value, &body, Writer::Api)
    {
        Ok(UpsertOutcome::Created(id)) => {
            let mut body = json!({"id": id, "success": true, "errors": []});
            if with_created {
                body["created"] = json!(true);
            }
            ApiResponse::json(201, body).with_header("Location", record_url(req, object.name, &id))
        }
        Ok(UpsertOutcome::Updated(id)) if with_created => ApiResponse::json(
            200,
            json!({"id": id, "success": true, "errors": [], "created": false}),
        ),
        Ok(UpsertOutcome::Updated(_)) => ApiResponse::empty(204),
        Ok(UpsertOutcome::Multiple(ids)) => multiple_choices(req, object, &ids),
        Err(errors) => status_for(&errors),
    }
}

fn urls(req: &ApiRequest, object: &ObjectDef) -> Value {
    let base = format!(
        "/services/data/v{}/sobjects/{}",
        req.version_str(),
        object.name
    );
    json!({
        "sobject": base,
        "describe": format!("{base}/describe"),
        "rowTemplate": format!("{base}/{{ID}}"),
    })
}

fn object_summary(object: &ObjectDef, req: &ApiRequest) -> Value {
    let system = matches!(object.name, "User");
    json!({
        "activateable": false,
        "createable": true,
        "custom": object.custom,
        "customSetting": false,
        "deletable": !system,
        "deprecatedAndHidden": false,
        "feedEnabled": false,
        "keyPrefix": object.key_prefix,
        "label": object.label,
        "labelPlural": object.label_plural,
        "layoutable": true,
        "mergeable": matches!(object.name, "Account" | "Contact"),
        "mruEnabled": true,
        "name": object.name,
        "queryable": true,
        "replicateable": true,
        "retrieveable": true,
        "searchable": true,
        "triggerable": true,
        "undeletable": !system,
        "updateable": true,
        "urls": urls(req, object),
    })
}

fn describe_global(req: &ApiRequest) -> ApiResponse {
    let list: Vec<Value> = Schema::get()
        .objects()
        .iter()
        .map(|o| object_summary(o, req))
        .collect();
    ApiResponse::json(
        200,
        json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": list}),
    )
}

fn describe_field(f: &FieldDef) -> Value {
    let picklist: Vec<Value> = f
        .picklist
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({"active": true, "defaultValue": f.defaulted && i == 0, "label": v, "validFor": null, "value": v})
        })
        .collect();
    let is_text = f.kind.is_text();
    json!({
        "aggregatable": f.kind != FieldType::TextArea,
        "autoNumber": f.auto_number,
        "byteLength": if is_text || f.kind.is_id() { f.length * 3 } else { 0 },
        "calculated": f.calculated && !matches!(f.name, "Id" | "IsDeleted" | "CreatedDate" | "CreatedById" | "LastModifiedDate" | "LastModifiedById" | "SystemModstamp"),
        "caseSensitive": false,
        "createable": f.createable,
        "custom": f.custom,
        "defaultValue": null,
        "defaultedOnCreate": f.defaulted || f.calculated,
        "dependentPicklist": false,
        "digits": if f.kind == FieldType::Int { f.precision } else { 0 },
        "externalId": f.external_id,
        "filterable": f.kind != FieldType::TextArea || f.length <= 255,
        "groupable": !matches!(f.kind, FieldType::TextArea | FieldType::Double | FieldType::Currency | FieldType::Percent | FieldType::DateTime),
        "idLookup": f.name == "Id" || f.external_id,
        "label": f.label,
        "length": if is_text || f.kind.is_id() { f.length } else { 0 },
        "name": f.name,
        "nameField": f.name == "Name",
        "nillable": f.nillable,
        "picklistValues": picklist,
        "precision": if f.kind.is_number() && f.kind != FieldType::Int { f.precision } else { 0 },
        "referenceTo": f.reference_to,
        "relationshipName": f.relationship_name,
        "restrictedPicklist": f.restricted,
        "scale": if f.kind.is_number() && f.kind != FieldType::Int { f.scale } else { 0 },
        "soapType": f.kind.soap_type(),
        "sortable": f.kind != FieldType::TextArea,
        "type": f.kind.api_name(),
        "unique": f.unique,
        "updateable": f.updateable,
    })
}

fn describe(object: &ObjectDef, req: &ApiRequest) -> Value {
    let mut v = object_summary(object, req);
    v["fields"] = Value::Array(object.fields.iter().map(describe_field).collect());
    v["childRelationships"] = Value::Array(
        object
            .children
            .iter()
            .map(|c| {
                json!({"cascadeDelete": c.cascade_delete, "childSObject": c.child, "deprecatedAndHidden": false,
                       "field": c.field, "relationshipName": c.name, "restrictedDelete": false})
            })
            .collect(),
    );
    v["recordTypeInfos"] = json!([]);
    v
}
