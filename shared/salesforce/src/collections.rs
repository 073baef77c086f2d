//! sObject Collections: up to 200 records per call, one result per record in request order.
//! Larger inputs are split into calls of 200; `allOrNone` then applies to each call, not to
//! the whole input.

use lf_domain::SalesforceId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::SalesforceClient;
use crate::config::ApiVersion;
use crate::error::{ApiError, SalesforceError};
use crate::request::{ApiRequest, HttpMethod, check_api_name};
use crate::sobject::Fields;

/// Records per collections call.
pub const MAX_RECORDS_PER_CALL: usize = 200;

/// The result of one record: Salesforce's SaveResult / UpsertResult / DeleteResult.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaveResult {
    #[serde(default)]
    pub id: Option<String>,
    pub success: bool,
    #[serde(default)]
    pub errors: Vec<ApiError>,
    /// Upserts only: whether the record was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
}

impl SaveResult {
    /// The record id when it parses.
    pub fn record_id(&self) -> Option<SalesforceId> {
        self.id.as_deref().and_then(|s| SalesforceId::parse(s).ok())
    }

    /// The first error, which says why the record failed.
    pub fn error(&self) -> Option<&ApiError> {
        self.errors.first()
    }
}

fn typed_records(object: &str, records: &[Fields], keep_id: bool) -> Vec<Value> {
    records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if !keep_id {
                r.remove("Id");
            }
            r.insert("attributes".into(), json!({ "type": object }));
            Value::Object(r)
        })
        .collect()
}

fn check_chunk(len: usize) -> Result<(), SalesforceError> {
    if len == 0 || len > MAX_RECORDS_PER_CALL {
        return Err(SalesforceError::InvalidInput(format!(
            "a collections call takes 1 to {MAX_RECORDS_PER_CALL} records, not {len}"
        )));
    }
    Ok(())
}

/// Refuses the call when a record lacks `key` (or holds a value `present` rejects).
fn require_key(
    what: &str,
    records: &[Fields],
    key: &str,
    present: impl Fn(&Value) -> bool,
) -> Result<(), SalesforceError> {
    match records
        .iter()
        .position(|r| !r.get(key).is_some_and(&present))
    {
        Some(i) => Err(SalesforceError::InvalidInput(format!(
            "{what}: record {i} has no {key}"
        ))),
        None => Ok(()),
    }
}

/// A `{"allOrNone": .., "records": [..]}` call carrying 1 to 200 records of `object`.
fn records_call(
    method: HttpMethod,
    path: String,
    what: String,
    object: &str,
    records: &[Fields],
    keep_id: bool,
    all_or_none: bool,
) -> Result<ApiRequest, SalesforceError> {
    check_chunk(records.len())?;
    Ok(ApiRequest::new(method, path, what).with_json(
        json!({ "allOrNone": all_or_none, "records": typed_records(object, records, keep_id) }),
    ))
}

/// `POST /composite/sobjects`: create up to 200 records of `object`.
pub fn create_request(
    version: ApiVersion,
    object: &str,
    records: &[Fields],
    all_or_none: bool,
) -> Result<ApiRequest, SalesforceError> {
    let object = check_api_name("object", object)?;
    records_call(
        HttpMethod::Post,
        format!("{}/composite/sobjects", version.data_root()),
        format!("collections create {object}"),
        object,
        records,
        false,
        all_or_none,
    )
}

/// `PATCH /composite/sobjects`: update up to 200 records; each needs an `Id`.
pub fn update_request(
    version: ApiVersion,
    object: &str,
    records: &[Fields],
    all_or_none: bool,
) -> Result<ApiRequest, SalesforceError> {
    let object = check_api_name("object", object)?;
    let what = format!("collections update {object}");
    require_key(&what, records, "Id", Value::is_string)?;
    records_call(
        HttpMethod::Patch,
        format!("{}/composite/sobjects", version.data_root()),
        what,
        object,
        records,
        true,
        all_or_none,
    )
}

/// `PATCH /composite/sobjects`: update up to 200 records of several objects (each given with
/// its object, each carrying its `Id`) in one call.
pub fn update_mixed_request(
    version: ApiVersion,
    records: &[(String, Fields)],
    all_or_none: bool,
) -> Result<ApiRequest, SalesforceError> {
    check_chunk(records.len())?;
    let mut typed = Vec::with_capacity(records.len());
    for (object, record) in records {
        let object = check_api_name("object", object)?;
        let fields = std::slice::from_ref(record);
        require_key(
            &format!("collections update {object}"),
            fields,
            "Id",
            Value::is_string,
        )?;
        typed.extend(typed_records(object, fields, true));
    }
    Ok(ApiRequest::new(
        HttpMethod::Patch,
        format!("{}/composite/sobjects", version.data_root()),
        "collections update (mixed objects)".to_owned(),
    )
    .with_json(json!({ "allOrNone": all_or_none, "records": typed })))
}

/// `PATCH /composite/sobjects/{object}/{field}`: upsert up to 200 records by external id.
pub fn upsert_request(
    version: ApiVersion,
    object: &str,
    external_id_field: &str,
    records: &[Fields],
    all_or_none: bool,
) -> Result<ApiRequest, SalesforceError> {
    let object = check_api_name("object", object)?;
    let field = check_api_name("external id field", external_id_field)?;
    let what = format!("collections upsert {object}.{field}");
    require_key(&what, records, field, |v| !v.is_null())?;
    records_call(
        HttpMethod::Patch,
        format!(
            "{}/composite/sobjects/{object}/{field}",
            version.data_root()
        ),
        what,
        object,
        records,
        false,
        all_or_none,
    )
}

/// `DELETE /composite/sobjects?ids=...&allOrNone=...`: delete up to 200 records.
pub fn delete_request(
    version: ApiVersion,
    ids: &[SalesforceId],
    all_or_none: bool,
) -> Result<ApiRequest, SalesforceError> {
    check_chunk(ids.len())?;
    let list: Vec<&str> = ids.iter().map(SalesforceId::as_str).collect();
    Ok(ApiRequest::new(
        HttpMethod::Delete,
        format!("{}/composite/sobjects", version.data_root()),
        "collections delete",
    )
    .with_query("ids", list.join(","))
    .with_query("allOrNone", all_or_none.to_string()))
}

impl SalesforceClient {
    /// Sends one collections call per chunk of 200 and joins the results in input order.
    async fn in_chunks<T>(
        &self,
        items: &[T],
        request: impl Fn(ApiVersion, &[T]) -> Result<ApiRequest, SalesforceError>,
    ) -> Result<Vec<SaveResult>, SalesforceError> {
        let v = self.api_version();
        let requests = items
            .chunks(MAX_RECORDS_PER_CALL)
            .map(|chunk| request(v, chunk))
            .collect::<Result<Vec<_>, _>>()?;
        let mut results = Vec::with_capacity(items.len());
        for request in requests {
            let mut chunk: Vec<SaveResult> = self.execute(&request).await?.json(request.what())?;
            results.append(&mut chunk);
        }
        if results.len() != items.len() {
            return Err(SalesforceError::UnexpectedResponse {
                what: "collections".into(),
                detail: format!("{} results for {} records", results.len(), items.len()),
            });
        }
        Ok(results)
    }

    /// Creates records, 200 per call; one result per record, in order.
    pub async fn create_many(
        &self,
        object: &str,
        records: &[Fields],
        all_or_none: bool,
    ) -> Result<Vec<SaveResult>, SalesforceError> {
        self.in_chunks(records, |v, c| create_request(v, object, c, all_or_none))
            .await
    }

    /// Updates records (each with an `Id`), 200 per call.
    pub async fn update_many(
        &self,
        object: &str,
        records: &[Fields],
        all_or_none: bool,
    ) -> Result<Vec<SaveResult>, SalesforceError> {
        self.in_chunks(records, |v, c| update_request(v, object, c, all_or_none))
            .await
    }

    /// Updates records of several objects (each with an `Id`), 200 per call.
    pub async fn update_many_mixed(
        &self,
        records: &[(String, Fields)],
        all_or_none: bool,
    ) -> Result<Vec<SaveResult>, SalesforceError> {
        self.in_chunks(records, |v, c| update_mixed_request(v, c, all_or_none))
            .await
    }

    /// Upserts records by external id, 200 per call.
    pub async fn upsert_many(
        &self,
        object: &str,
        external_id_field: &str,
        records: &[Fields],
        all_or_none: bool,
    ) -> Result<Vec<SaveResult>, SalesforceError> {
        self.in_chunks(records, |v, c| {
            upsert_request(v, object, external_id_field, c, all_or_none)
        })
        .await
    }

    /// Deletes records, 200 per call.
    pub async fn delete_many(
        &self,
        ids: &[SalesforceId],
        all_or_none: bool,
    ) -> Result<Vec<SaveResult>, SalesforceError> {
        self.in_chunks(ids, |v, c| delete_request(v, c, all_or_none))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fields as rec;
    use lf_domain::ErrorClass;

    #[test]
    fn create_adds_types_and_drops_ids() {
        let r = create_request(
            ApiVersion::DEFAULT,
            "Contact",
            &[rec(
                json!({"Id": "003000000000001AAA", "LastName": "Lovelace"}),
            )],
            true,
        )
        .unwrap();
        assert_eq!(r.path(), "/services/data/v62.0/composite/sobjects");
        assert_eq!(
            serde_json::to_value(r.body()).unwrap()["content"],
            json!({"allOrNone": true, "records": [{"LastName": "Lovelace", "attributes": {"type": "Contact"}}]})
        );
    }

    #[test]
    fn chunk_limits_and_required_keys_are_checked() {
        let many: Vec<Fields> = (0..201)
            .map(|i| rec(json!({"Name": i.to_string()})))
            .collect();
        assert!(create_request(ApiVersion::DEFAULT, "Account", &many, false).is_err());
        assert!(create_request(ApiVersion::DEFAULT, "Account", &[], false).is_err());
        assert!(update_request(ApiVersion::DEFAULT, "Account", &many[..1], false).is_err());
        assert!(
            upsert_request(ApiVersion::DEFAULT, "Account", "Ext__c", &many[..1], false).is_err()
        );
        let ok = upsert_request(
            ApiVersion::DEFAULT,
            "Account",
            "Ext__c",
            &[rec(json!({"Ext__c": "A-1", "Name": "x"}))],
            false,
        )
        .unwrap();
        assert_eq!(
            ok.path(),
            "/services/data/v62.0/composite/sobjects/Account/Ext__c"
        );
        assert_eq!(ok.method(), HttpMethod::Patch);
    }

    #[test]
    fn delete_lists_ids_in_the_query() {
        let ids = [
            SalesforceId::parse("001000000000001").unwrap(),
            SalesforceId::parse("001000000000002").unwrap(),
        ];
        let r = delete_request(ApiVersion::DEFAULT, &ids, false).unwrap();
        assert_eq!(
            r.uri(),
            "/services/data/v62.0/composite/sobjects?ids=001000000000001AAA%2C001000000000002AAA&allOrNone=false"
        );
    }

    #[test]
    fn per_item_results_parse_with_status_codes() {
        let results: Vec<SaveResult> = serde_json::from_str(
            r#"[{"id":"001000000000001AAA","success":false,"errors":[{"statusCode":"ALL_OR_NONE_OPERATION_ROLLED_BACK","message":"Record rolled back because not all records were valid and the request was using AllOrNone header","fields":[]}]},
                {"success":false,"errors":[{"statusCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [LastName]","fields":["LastName"]}]},
                {"id":"001000000000003AAA","success":true,"errors":[],"created":true}]"#,
        )
        .unwrap();
        assert_eq!(
            results[0].error().unwrap().code,
            "ALL_OR_NONE_OPERATION_ROLLED_BACK"
        );
        assert_eq!(results[1].error().unwrap().fields, vec!["LastName"]);
        assert_eq!(results[1].error().unwrap().class(), ErrorClass::Permanent);
        assert_eq!(results[1].record_id(), None);
        assert_eq!(results[2].created, Some(true));
        assert!(results[2].record_id().is_some());
    }
}
