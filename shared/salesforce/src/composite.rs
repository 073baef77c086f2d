//! The Composite API: up to 25 subrequests in one call (at most 5 of them queries or sObject
//! Collections), later ones referring to earlier results as `@{referenceId.field}`.

use std::collections::BTreeMap;

use lf_domain::SalesforceId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::SalesforceClient;
use crate::config::ApiVersion;
use crate::error::{ApiError, SalesforceError, errors_in, unnamed_error};
use crate::request::{ApiRequest, HttpMethod, check_api_name, encode_segment};
use crate::sobject::{Fields, upsert_body, writable};
use crate::soql::Soql;

/// Subrequests per composite call.
pub const MAX_SUBREQUESTS: usize = 25;
/// Query and collections subrequests per composite call.
pub const MAX_QUERY_OR_COLLECTION_SUBREQUESTS: usize = 5;

/// A reference to a field of an earlier subrequest's result: `@{NewAccount.id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference(String);

impl Reference {
    /// `@{reference_id.field}`. Case matters: a create answers `id`, a GET answers `Id`.
    pub fn new(reference_id: &str, field: &str) -> Result<Self, SalesforceError> {
        check_reference_id(reference_id)?;
        let path_ok = !field.is_empty()
            && field
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'));
        if !path_ok {
            return Err(SalesforceError::InvalidInput(format!(
                "{field:?} is not a reference field path"
            )));
        }
        Ok(Self(format!("@{{{reference_id}.{field}}}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which record a subrequest addresses: a known id or an earlier result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Id(SalesforceId),
    Reference(Reference),
}

impl Target {
    fn segment(&self) -> String {
        match self {
            Target::Id(id) => id.as_str().to_owned(),
            Target::Reference(r) => r.as_str().to_owned(),
        }
    }
}

impl From<SalesforceId> for Target {
    fn from(id: SalesforceId) -> Self {
        Target::Id(id)
    }
}

impl From<Reference> for Target {
    fn from(r: Reference) -> Self {
        Target::Reference(r)
    }
}

fn check_reference_id(id: &str) -> Result<(), SalesforceError> {
    let mut chars = id.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && id.len() <= 80;
    if ok {
        Ok(())
    } else {
        Err(SalesforceError::InvalidInput(format!(
            "{id:?} is not a valid composite referenceId (a letter, then letters, digits, _)"
        )))
    }
}

/// One subrequest.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subrequest {
    pub method: HttpMethod,
    pub url: String,
    pub reference_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub http_headers: BTreeMap<String, String>,
    #[serde(skip)]
    counts_as_query_or_collection: bool,
}

/// A composite request under construction. Limits are checked as subrequests are added.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompositeRequest {
    all_or_none: bool,
    collate_subrequests: bool,
    composite_request: Vec<Subrequest>,
    #[serde(skip)]
    version: ApiVersion,
}

impl CompositeRequest {
    pub fn new(version: ApiVersion) -> Self {
        Self {
            all_or_none: false,
            collate_subrequests: false,
            composite_request: Vec::new(),
            version,
        }
    }

    /// Roll everything back if any subrequest fails.
    pub fn all_or_none(mut self, yes: bool) -> Self {
        self.all_or_none = yes;
        self
    }

    /// Let Salesforce group independent subrequests; leave off when order matters.
    pub fn collate_subrequests(mut self, yes: bool) -> Self {
        self.collate_subrequests = yes;
        self
    }

    pub fn subrequests(&self) -> &[Subrequest] {
        &self.composite_request
    }

    fn push(
        &mut self,
        method: HttpMethod,
        url: String,
        reference_id: &str,
        body: Option<Value>,
        counts: bool,
    ) -> Result<Reference, SalesforceError> {
        check_reference_id(reference_id)?;
        if self.composite_request.len() >= MAX_SUBREQUESTS {
            return Err(SalesforceError::InvalidInput(format!(
                "a composite request holds at most {MAX_SUBREQUESTS} subrequests"
            )));
        }
        if counts
            && self
                .composite_request
                .iter()
                .filter(|s| s.counts_as_query_or_collection)
                .count()
                >= MAX_QUERY_OR_COLLECTION_SUBREQUESTS
        {
            return Err(SalesforceError::InvalidInput(format!(
                "a composite request holds at most {MAX_QUERY_OR_COLLECTION_SUBREQUESTS} query or collections subrequests"
            )));
        }
        if self
            .composite_request
            .iter()
            .any(|s| s.reference_id == reference_id)
        {
            return Err(SalesforceError::InvalidInput(format!(
                "referenceId {reference_id} is used twice"
            )));
        }
        self.composite_request.push(Subrequest {
            method,
            url,
            reference_id: reference_id.to_owned(),
            body,
            http_headers: BTreeMap::new(),
            counts_as_query_or_collection: counts,
        });
        Reference::new(reference_id, "id")
    }

    fn sobjects(&self, object: &str) -> Result<String, SalesforceError> {
        Ok(format!(
            "{}/sobjects/{}",
            self.version.data_root(),
            check_api_name("object", object)?
        ))
    }

    /// Creates a record; returns the reference to its new `id`.
    pub fn create(
        &mut self,
        reference_id: &str,
        object: &str,
        fields: &Fields,
    ) -> Result<Reference, SalesforceError> {
        let url = self.sobjects(object)?;
        self.push(
            HttpMethod::Post,
            url,
            reference_id,
            Some(Value::Object(writable(fields))),
            false,
        )
    }

    /// Updates a record given by id or by an earlier result.
    pub fn update(
        &mut self,
        reference_id: &str,
        object: &str,
        target: impl Into<Target>,
        fields: &Fields,
    ) -> Result<Reference, SalesforceError> {
        let url = format!("{}/{}", self.sobjects(object)?, target.into().segment());
        self.push(
            HttpMethod::Patch,
            url,
            reference_id,
            Some(Value::Object(writable(fields))),
            false,
        )
    }

    /// Upserts a record by external id.
    pub fn upsert(
        &mut self,
        reference_id: &str,
        object: &str,
        external_id_field: &str,
        value: &str,
        fields: &Fields,
    ) -> Result<Reference, SalesforceError> {
        let field = check_api_name("external id field", external_id_field)?;
        let url = format!(
            "{}/{field}/{}",
            self.sobjects(object)?,
            encode_segment(value)
        );
        self.push(
            HttpMethod::Patch,
            url,
            reference_id,
            Some(Value::Object(upsert_body(fields, field))),
            false,
        )
    }

    /// Reads a record.
    pub fn get(
        &mut self,
        reference_id: &str,
        object: &str,
        target: impl Into<Target>,
    ) -> Result<Reference, SalesforceError> {
        let url = format!("{}/{}", self.sobjects(object)?, target.into().segment());
        self.push(HttpMethod::Get, url, reference_id, None, false)
    }

    /// Deletes a record.
    pub fn delete(
        &mut self,
        reference_id: &str,
        object: &str,
        target: impl Into<Target>,
    ) -> Result<Reference, SalesforceError> {
        let url = format!("{}/{}", self.sobjects(object)?, target.into().segment());
        self.push(HttpMethod::Delete, url, reference_id, None, false)
    }

    /// Runs a query (counts against the five query/collections subrequests).
    pub fn query(&mut self, reference_id: &str, soql: &Soql) -> Result<Reference, SalesforceError> {
        let url = format!(
            "{}/query?{}",
            self.version.data_root(),
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("q", soql.as_str())
                .finish()
        );
        self.push(HttpMethod::Get, url, reference_id, None, true)
    }

    /// The REST request that sends this composite.
    pub fn to_request(&self) -> Result<ApiRequest, SalesforceError> {
        if self.composite_request.is_empty() {
            return Err(SalesforceError::InvalidInput(
                "a composite request needs at least one subrequest".into(),
            ));
        }
        let body = serde_json::to_value(self).map_err(|e| {
            SalesforceError::InvalidInput(format!("composite body does not serialize: {e}"))
        })?;
        Ok(ApiRequest::new(
            HttpMethod::Post,
            format!("{}/composite", self.version.data_root()),
            "composite",
        )
        .with_json(body))
    }
}

/// The answer to a composite call (HTTP 200 even when subrequests failed).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompositeResponse {
    pub composite_response: Vec<SubResponse>,
}

/// One subrequest's result.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubResponse {
    #[serde(default)]
    pub body: Value,
    #[serde(default)]
    pub http_headers: BTreeMap<String, String>,
    pub http_status_code: u16,
    pub reference_id: String,
}

impl SubResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.http_status_code)
    }

    /// The error objects of a failed subrequest (`PROCESSING_HALTED`,
    /// `ALL_OR_NONE_OPERATION_ROLLED_BACK`, or the operation's own error).
    pub fn errors(&self) -> Vec<ApiError> {
        if self.is_success() {
            return Vec::new();
        }
        errors_in(&self.body)
            .unwrap_or_else(|| vec![unnamed_error(self.http_status_code, &self.body.to_string())])
    }

    /// The `id` of a successful create or upsert.
    pub fn id(&self) -> Option<SalesforceId> {
        let raw = self
            .body
            .get("id")
            .or_else(|| self.body.get("Id"))?
            .as_str()?;
        SalesforceId::parse(raw).ok()
    }
}

impl CompositeResponse {
    /// The result of the subrequest with `reference_id`.
    pub fn get(&self, reference_id: &str) -> Option<&SubResponse> {
        self.composite_response
            .iter()
            .find(|r| r.reference_id == reference_id)
    }
}

impl SalesforceClient {
    /// Sends a composite request (one API call).
    pub async fn composite(
        &self,
        request: &CompositeRequest,
    ) -> Result<CompositeResponse, SalesforceError> {
        let api = request.to_request()?;
        self.execute(&api).await?.json(api.what())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fields as fields;
    use serde_json::json;

    #[test]
    fn references_chain_subrequests() {
        let mut c = CompositeRequest::new(ApiVersion::DEFAULT).all_or_none(true);
        let account = c
            .create("NewAccount", "Account", &fields(json!({"Name": "Acme"})))
            .unwrap();
        assert_eq!(account.as_str(), "@{NewAccount.id}");
        c.create(
            "NewContact",
            "Contact",
            &fields(json!({"LastName": "Lovelace", "AccountId": account.as_str()})),
        )
        .unwrap();
        c.update(
            "Touch",
            "Account",
            account.clone(),
            &fields(json!({"Phone": "1"})),
        )
        .unwrap();
        let body = serde_json::to_value(c.to_request().unwrap().body()).unwrap()["content"].clone();
        assert_eq!(body["allOrNone"], true);
        assert_eq!(body["collateSubrequests"], false);
        let subs = body["compositeRequest"].as_array().unwrap();
        assert_eq!(subs[0]["url"], "/services/data/v62.0/sobjects/Account");
        assert_eq!(subs[1]["body"]["AccountId"], "@{NewAccount.id}");
        assert_eq!(
            subs[2]["url"],
            "/services/data/v62.0/sobjects/Account/@{NewAccount.id}"
        );
        assert_eq!(subs[2]["method"], "PATCH");
        assert!(subs[0].get("httpHeaders").is_none());
    }

    #[test]
    fn bodies_follow_the_single_record_rules() {
        // A record copied from a query result: its attributes and Id are not sent back.
        let copied = fields(json!({
            "attributes": {"type": "Account", "url": "/services/data/v62.0/sobjects/Account/001000000000001AAA"},
            "Id": "001000000000001AAA", "Name": "Acme", "Ext__c": "A-1"
        }));
        let mut c = CompositeRequest::new(ApiVersion::DEFAULT);
        c.create("C", "Account", &copied).unwrap();
        let id = SalesforceId::parse("001000000000001").unwrap();
        c.update("U", "Account", id, &copied).unwrap();
        c.upsert("P", "Account", "Ext__c", "A-1", &copied).unwrap();
        let subs = c.subrequests();
        let body = |i: usize| subs[i].body.clone().unwrap();
        assert_eq!(body(0), json!({"Name": "Acme", "Ext__c": "A-1"}));
        assert_eq!(body(1), json!({"Name": "Acme", "Ext__c": "A-1"}));
        assert_eq!(body(2), json!({"Name": "Acme"}));
        assert_eq!(
            subs[2].url,
            "/services/data/v62.0/sobjects/Account/Ext__c/A-1"
        );
    }

    #[test]
    fn limits_and_reference_ids_are_enforced() {
        let mut c = CompositeRequest::new(ApiVersion::DEFAULT);
        for i in 0..5 {
            c.query(
                &format!("Q{i}"),
                &Soql::from_static("SELECT Id FROM Account"),
            )
            .unwrap();
        }
        assert!(
            c.query("Q5", &Soql::from_static("SELECT Id FROM Account"))
                .is_err()
        );
        for i in 5..25 {
            c.create(&format!("C{i}"), "Account", &Fields::new())
                .unwrap();
        }
        assert!(c.create("C25", "Account", &Fields::new()).is_err());

        let mut c = CompositeRequest::new(ApiVersion::DEFAULT);
        c.create("A", "Account", &Fields::new()).unwrap();
        assert!(c.create("A", "Account", &Fields::new()).is_err());
        assert!(c.create("1bad", "Account", &Fields::new()).is_err());
        assert!(c.create("bad-id", "Account", &Fields::new()).is_err());
        assert!(Reference::new("A", "id}").is_err());
        assert!(
            CompositeRequest::new(ApiVersion::DEFAULT)
                .to_request()
                .is_err()
        );
    }

    #[test]
    fn responses_expose_status_ids_and_errors() {
        let r: CompositeResponse = serde_json::from_value(json!({"compositeResponse": [
            {"body": {"id": "001000000000001AAA", "success": true, "errors": []}, "httpHeaders": {"Location": "/services/data/v62.0/sobjects/Account/001000000000001AAA"}, "httpStatusCode": 201, "referenceId": "NewAccount"},
            {"body": [{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed."}], "httpHeaders": {}, "httpStatusCode": 400, "referenceId": "NewContact"}
        ]}))
        .unwrap();
        let a = r.get("NewAccount").unwrap();
        assert!(a.is_success());
        assert_eq!(a.id().unwrap().as_str(), "001000000000001AAA");
        let c = r.get("NewContact").unwrap();
        assert!(!c.is_success());
        assert_eq!(c.errors()[0].code, "PROCESSING_HALTED");

        // The same reading as a REST failure body: one error object, or no error at all.
        let one: SubResponse = serde_json::from_value(json!({"body": {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}, "httpStatusCode": 404, "referenceId": "Gone"})).unwrap();
        assert_eq!(one.errors()[0].code, "NOT_FOUND");
        let empty: SubResponse = serde_json::from_value(
            json!({"body": [], "httpStatusCode": 500, "referenceId": "Odd"}),
        )
        .unwrap();
        assert_eq!(empty.errors()[0].code, "HTTP_500");
    }
}
