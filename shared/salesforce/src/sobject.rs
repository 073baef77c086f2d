//! Single-record REST operations (get, create, update, delete, upsert by external id) and
//! describe, which the mapping compiler uses to check field names against the org.

use lf_domain::SalesforceId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::SalesforceClient;
use crate::config::ApiVersion;
use crate::error::SalesforceError;
use crate::request::{ApiRequest, HttpMethod, check_api_name, check_field_path, encode_segment};

/// Field values of a record, by API name.
pub type Fields = Map<String, Value>;

/// A record as Salesforce returns it: field values plus `attributes` (`type`, `url`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Record(Fields);

impl Record {
    pub fn new(fields: Fields) -> Self {
        Self(fields)
    }

    /// The object type from `attributes.type`.
    pub fn object_type(&self) -> Option<&str> {
        self.0.get("attributes")?.get("type")?.as_str()
    }

    /// The record id: `Id` when selected, else the last segment of `attributes.url`.
    pub fn id(&self) -> Option<SalesforceId> {
        let from_url = || {
            self.0
                .get("attributes")?
                .get("url")?
                .as_str()?
                .rsplit('/')
                .next()
        };
        self.0
            .get("Id")
            .and_then(Value::as_str)
            .or_else(from_url)
            .and_then(|s| SalesforceId::parse(s).ok())
    }

    /// A field value; `Null` and absent both give `None`.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    /// A field value as text (numbers and booleans rendered as JSON would).
    pub fn text(&self, field: &str) -> Option<String> {
        match self.get(field)? {
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// The field values without `attributes`.
    pub fn fields(&self) -> Fields {
        let mut f = self.0.clone();
        f.remove("attributes");
        f
    }

    pub fn as_map(&self) -> &Fields {
        &self.0
    }

    pub fn into_map(self) -> Fields {
        self.0
    }
}

/// The result of an upsert by external id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// The record's id; `None` only for an update on API ≤ v45.0, which answers 204 without a
    /// body.
    pub id: Option<SalesforceId>,
    pub created: bool,
}

#[derive(Debug, Deserialize)]
struct SaveResponse {
    id: String,
    #[serde(default)]
    created: Option<bool>,
}

/// `GET /sobjects/{object}/{id}[?fields=a,b]`.
pub fn get_request(
    version: ApiVersion,
    object: &str,
    id: &SalesforceId,
    fields: &[&str],
) -> Result<ApiRequest, SalesforceError> {
    let object = check_api_name("object", object)?;
    let mut r = ApiRequest::new(
        HttpMethod::Get,
        format!("{}/sobjects/{object}/{id}", version.data_root()),
        format!("get {object}"),
    );
    if !fields.is_empty() {
        for f in fields {
            check_field_path(f)?;
        }
        r = r.with_query("fields", fields.join(","));
    }
    Ok(r)
}

/// `POST /sobjects/{object}` with the field values.
pub fn create_request(
    version: ApiVersion,
    object: &str,
    fields: &Fields,
) -> Result<ApiRequest, SalesforceError> {
    let object = check_api_name("object", object)?;
    Ok(ApiRequest::new(
        HttpMethod::Post,
        format!("{}/sobjects/{object}", version.data_root()),
        format!("create {object}"),
    )
    .with_json(Value::Object(writable(fields))))
}

/// `PATCH /sobjects/{object}/{id}` with the changed field values.
pub fn update_request(
    version: ApiVersion,
    object: &str,
    id: &SalesforceId,
    fields: &Fields,
) -> Result<ApiRequest, SalesforceError> {
    let object = check_api_name("object", object)?;
    Ok(ApiRequest::new(
        HttpMethod::Patch,
        format!("{}/sobjects/{object}/{id}", version.data_root()),
        format!("update {object}"),
    )
    .with_json(Value::Object(writable(fields))))
}

/// `DELETE /sobjects/{object}/{id}`.
pub fn delete_request(
    version: ApiVersion,
    object: &str,
    id: &SalesforceId,
) -> Result<ApiRequest, SalesforceError> {
    let object = check_api_name("object", object)?;
    Ok(ApiRequest::new(
        HttpMethod::Delete,
        format!("{}/sobjects/{object}/{id}", version.data_root()),
        format!("delete {object}"),
    ))
}

/// `PATCH /sobjects/{object}/{field}/{value}`: the value travels in the path, percent-encoded.
pub fn upsert_request(
    version: ApiVersion,
    object: &str,
    external_id_field: &str,
    value: &str,
    fields: &Fields,
) -> Result<ApiRequest, SalesforceError> {
    let object = check_api_name("object", object)?;
    let field = check_api_name("external id field", external_id_field)?;
    if value.is_empty() {
        return Err(SalesforceError::InvalidInput(format!(
            "upsert {object}.{field} needs a non-empty external id value"
        )));
    }
    let body = upsert_body(fields, field);
    Ok(ApiRequest::new(
        HttpMethod::Patch,
        format!(
            "{}/sobjects/{object}/{field}/{}",
            version.data_root(),
            encode_segment(value)
        ),
        format!("upsert {object}.{field}"),
    )
    .with_json(Value::Object(body)))
}

/// `GET /sobjects/{object}/describe`.
pub fn describe_request(version: ApiVersion, object: &str) -> Result<ApiRequest, SalesforceError> {
    let object = check_api_name("object", object)?;
    Ok(ApiRequest::new(
        HttpMethod::Get,
        format!("{}/sobjects/{object}/describe", version.data_root()),
        format!("describe {object}"),
    ))
}

/// Drops the read-only bits a caller may have copied from a query result.
pub(crate) fn writable(fields: &Fields) -> Fields {
    let mut f = fields.clone();
    f.remove("attributes");
    f.remove("Id");
    f
}

/// The body of an upsert by `external_id_field`: the external id is in the URL, and
/// Salesforce refuses it in the body too.
pub(crate) fn upsert_body(fields: &Fields, external_id_field: &str) -> Fields {
    let mut body = writable(fields);
    body.remove(external_id_field);
    body
}

fn parse_id(what: &str, raw: &str) -> Result<SalesforceId, SalesforceError> {
    SalesforceId::parse(raw).map_err(|e| SalesforceError::UnexpectedResponse {
        what: what.to_owned(),
        detail: format!("id {raw:?}: {e}"),
    })
}

/// The ids listed in a 300 Multiple Choices body: an array of record URLs (or of objects with
/// an `Id`/`url`).
fn multiple_choices(body: &[u8]) -> Vec<String> {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::String(url) => url.rsplit('/').next().map(str::to_owned),
            Value::Object(o) => o
                .get("Id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    o.get("attributes")?
                        .get("url")?
                        .as_str()?
                        .rsplit('/')
                        .next()
                        .map(str::to_owned)
                }),
            _ => None,
        })
        .collect()
}

/// The describe result: the object's fields and what may be done with them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SObjectDescribe {
    pub name: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub custom: bool,
    #[serde(default)]
    pub createable: bool,
    #[serde(default)]
    pub updateable: bool,
    #[serde(default)]
    pub queryable: bool,
    #[serde(default)]
    pub fields: Vec<FieldDescribe>,
}

/// One field of a describe result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldDescribe {
    pub name: String,
    #[serde(default)]
    pub label: String,
    /// `string`, `double`, `currency`, `date`, `reference`, `picklist`...
    #[serde(rename = "type", default)]
    pub field_type: String,
    #[serde(default)]
    pub length: Option<u32>,
    #[serde(default)]
    pub nillable: bool,
    #[serde(default)]
    pub createable: bool,
    #[serde(default)]
    pub updateable: bool,
    #[serde(default)]
    pub external_id: bool,
    #[serde(default)]
    pub unique: bool,
    #[serde(default)]
    pub reference_to: Vec<String>,
    #[serde(default)]
    pub relationship_name: Option<String>,
    #[serde(default)]
    pub picklist_values: Vec<PicklistValue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PicklistValue {
    pub value: String,
    #[serde(default)]
    pub active: bool,
}

/// What a mapping intends to do with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldUse {
    Read,
    Create,
    Update,
    /// Used as the key of an upsert.
    ExternalId,
}

/// A mapping's field that the org cannot serve as intended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

impl SObjectDescribe {
    /// A field by name; Salesforce API names are case-insensitive.
    pub fn field(&self, name: &str) -> Option<&FieldDescribe> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Checks that every field exists and allows `usage`; lists every problem found.
    pub fn check_fields(&self, names: &[&str], usage: FieldUse) -> Result<(), Vec<FieldProblem>> {
        let problems: Vec<FieldProblem> = names
            .iter()
            .filter_map(|name| {
                let problem = match self.field(name) {
                    None => format!("no field {name} on {}", self.name),
                    Some(f) => match usage {
                        FieldUse::Read => return None,
                        FieldUse::Create if !f.createable => {
                            format!("{}.{} cannot be set on create", self.name, f.name)
                        }
                        FieldUse::Update if !f.updateable => {
                            format!("{}.{} cannot be updated", self.name, f.name)
                        }
                        FieldUse::ExternalId if !f.external_id && f.name != "Id" => {
                            format!("{}.{} is not an external id field", self.name, f.name)
                        }
                        _ => return None,
                    },
                };
                Some(FieldProblem {
                    field: (*name).to_owned(),
                    problem,
                })
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

impl SalesforceClient {
    /// Reads one record; `fields` empty reads every field.
    pub async fn get(
        &self,
        object: &str,
        id: &SalesforceId,
        fields: &[&str],
    ) -> Result<Record, SalesforceError> {
        let request = get_request(self.api_version(), object, id, fields)?;
        self.execute(&request).await?.json(request.what())
    }

    /// Creates a record and returns its id.
    pub async fn create(
        &self,
        object: &str,
        fields: &Fields,
    ) -> Result<SalesforceId, SalesforceError> {
        let request = create_request(self.api_version(), object, fields)?;
        let saved: SaveResponse = self.execute(&request).await?.json(request.what())?;
        parse_id(request.what(), &saved.id)
    }

    /// Updates the given fields of a record.
    pub async fn update(
        &self,
        object: &str,
        id: &SalesforceId,
        fields: &Fields,
    ) -> Result<(), SalesforceError> {
        let request = update_request(self.api_version(), object, id, fields)?;
        self.execute(&request).await.map(|_| ())
    }

    /// Deletes a record.
    pub async fn delete(&self, object: &str, id: &SalesforceId) -> Result<(), SalesforceError> {
        let request = delete_request(self.api_version(), object, id)?;
        self.execute(&request).await.map(|_| ())
    }

    /// Creates or updates the record whose `external_id_field` equals `value`.
    ///
    /// 201 → created; 200 (≥ v46.0) or 204 (≤ v45.0) → updated; 300 →
    /// [`SalesforceError::MultipleMatches`] (nothing written); an unknown field → 404
    /// `NOT_FOUND` as [`SalesforceError::Api`].
    pub async fn upsert(
        &self,
        object: &str,
        external_id_field: &str,
        value: &str,
        fields: &Fields,
    ) -> Result<UpsertOutcome, SalesforceError> {
        let request = upsert_request(self.api_version(), object, external_id_field, value, fields)?;
        let response = self.execute(&request).await?;
        match response.status {
            300 => Err(SalesforceError::MultipleMatches {
                object: object.to_owned(),
                field: external_id_field.to_owned(),
                value: value.to_owned(),
                matches: multiple_choices(&response.body),
            }),
            204 => Ok(UpsertOutcome {
                id: None,
                created: false,
            }),
            status @ (200 | 201) => {
                let saved: SaveResponse = response.json(request.what())?;
                Ok(UpsertOutcome {
                    id: Some(parse_id(request.what(), &saved.id)?),
                    created: saved.created.unwrap_or(status == 201),
                })
            }
            other => Err(SalesforceError::UnexpectedResponse {
                what: request.what().to_owned(),
                detail: format!("HTTP {other}"),
            }),
        }
    }

    /// Describes an object's fields.
    pub async fn describe(&self, object: &str) -> Result<SObjectDescribe, SalesforceError> {
        let request = describe_request(self.api_version(), object)?;
        self.execute(&request).await?.json(request.what())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fields as fields;
    use serde_json::json;

    fn id() -> SalesforceId {
        SalesforceId::parse("001000000000001").unwrap()
    }

    #[test]
    fn crud_requests() {
        let v = ApiVersion::DEFAULT;
        let get = get_request(v, "Account", &id(), &["Name", "Owner.Name"]).unwrap();
        assert_eq!(
            get.uri(),
            "/services/data/v62.0/sobjects/Account/001000000000001AAA?fields=Name%2COwner.Name"
        );
        assert!(get_request(v, "Account", &id(), &["Name,Id"]).is_err());

        let create = create_request(
            v,
            "Account",
            &fields(json!({"attributes": {"type": "Account"}, "Id": "x", "Name": "Acme"})),
        )
        .unwrap();
        assert_eq!(create.method(), HttpMethod::Post);
        assert!(!create.is_idempotent());
        assert_eq!(
            serde_json::to_value(create.body()).unwrap()["content"],
            json!({"Name": "Acme"})
        );

        let update = update_request(v, "Account", &id(), &fields(json!({"Phone": null}))).unwrap();
        assert_eq!(update.method(), HttpMethod::Patch);
        assert_eq!(
            update.path(),
            "/services/data/v62.0/sobjects/Account/001000000000001AAA"
        );
        assert!(update.is_idempotent());

        assert_eq!(
            delete_request(v, "Account", &id()).unwrap().method(),
            HttpMethod::Delete
        );
        assert!(delete_request(v, "Acc/ount", &id()).is_err());
    }

    #[test]
    fn upsert_puts_the_encoded_value_in_the_path_and_not_the_body() {
        let r = upsert_request(
            ApiVersion::DEFAULT,
            "Account",
            "Intacct_Customer_ID__c",
            "C-100/EU 2",
            &fields(json!({"Intacct_Customer_ID__c": "C-100/EU 2", "Name": "Acme"})),
        )
        .unwrap();
        assert_eq!(
            r.path(),
            "/services/data/v62.0/sobjects/Account/Intacct_Customer_ID__c/C-100%2FEU%202"
        );
        assert_eq!(
            serde_json::to_value(r.body()).unwrap()["content"],
            json!({"Name": "Acme"})
        );
        assert!(r.is_idempotent());
        assert!(
            upsert_request(ApiVersion::DEFAULT, "Account", "Ext__c", "", &Fields::new()).is_err()
        );
    }

    #[test]
    fn multiple_choices_bodies_list_the_ids() {
        let body = br#"["/services/data/v62.0/sobjects/Account/001000000000001AAA","/services/data/v62.0/sobjects/Account/001000000000002AAA"]"#;
        assert_eq!(
            multiple_choices(body),
            vec!["001000000000001AAA", "001000000000002AAA"]
        );
        assert!(multiple_choices(b"not json").is_empty());
    }

    #[test]
    fn records_expose_type_id_and_fields() {
        let r: Record = serde_json::from_value(json!({
            "attributes": {"type": "Opportunity", "url": "/services/data/v62.0/sobjects/Opportunity/006000000000001AAA"},
            "Id": "006000000000001AAA", "Amount": 1200.5, "Name": "Deal", "CloseDate": null
        }))
        .unwrap();
        assert_eq!(r.object_type(), Some("Opportunity"));
        assert_eq!(r.id().unwrap().as_str(), "006000000000001AAA");
        assert_eq!(r.text("Amount").as_deref(), Some("1200.5"));
        assert_eq!(r.get("CloseDate"), None);
        assert!(!r.fields().contains_key("attributes"));
        let no_id: Record = serde_json::from_value(json!({
            "attributes": {"type": "Account", "url": "/services/data/v62.0/sobjects/Account/001000000000001AAA"},
            "Name": "Acme"
        }))
        .unwrap();
        assert_eq!(no_id.id().unwrap().as_str(), "001000000000001AAA");
    }

    #[test]
    fn describe_checks_mapping_fields() {
        let d: SObjectDescribe = serde_json::from_value(json!({
            "name": "Account", "label": "Account", "createable": true, "updateable": true, "queryable": true,
            "fields": [
                {"name": "Id", "type": "id", "createable": false, "updateable": false},
                {"name": "Name", "type": "string", "length": 255, "createable": true, "updateable": true},
                {"name": "Intacct_Customer_ID__c", "type": "string", "createable": true, "updateable": true, "externalId": true, "unique": true},
                {"name": "IsDeleted", "type": "boolean", "createable": false, "updateable": false}
            ]
        }))
        .unwrap();
        assert!(
            d.check_fields(&["name", "Intacct_Customer_ID__c"], FieldUse::Update)
                .is_ok()
        );
        assert!(
            d.check_fields(&["Intacct_Customer_ID__c"], FieldUse::ExternalId)
                .is_ok()
        );
        let problems = d
            .check_fields(&["Nmae", "IsDeleted", "Name"], FieldUse::Create)
            .unwrap_err();
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].field, "Nmae");
        assert!(problems[1].problem.contains("cannot be set on create"));
        assert!(d.check_fields(&["Name"], FieldUse::ExternalId).is_err());
    }
}
