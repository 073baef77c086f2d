//! SOQL queries over REST: paging through `nextRecordsUrl`, `queryAll`, and reading many
//! records by id in `WHERE Id IN (...)` batches that stay under the URI length limit.

use std::collections::HashSet;

use lf_domain::SalesforceId;
use serde::Deserialize;

use crate::client::SalesforceClient;
use crate::config::ApiVersion;
use crate::error::SalesforceError;
use crate::request::{ApiRequest, HttpMethod};
use crate::sobject::Record;
use crate::soql::{Literal, Select, Soql};

/// Whether deleted and archived rows are included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryScope {
    /// `/query`: live rows only.
    #[default]
    Live,
    /// `/queryAll`: also rows in the recycle bin and archived activities.
    IncludeDeleted,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPage {
    pub total_size: u64,
    pub done: bool,
    /// Present only while `done` is false.
    #[serde(default)]
    pub next_records_url: Option<String>,
    #[serde(default)]
    pub records: Vec<Record>,
}

/// `GET /query?q=...` or `/queryAll?q=...`.
pub fn query_request(version: ApiVersion, soql: &Soql, scope: QueryScope) -> ApiRequest {
    let (endpoint, what) = match scope {
        QueryScope::Live => ("query", "query"),
        QueryScope::IncludeDeleted => ("queryAll", "queryAll"),
    };
    ApiRequest::new(
        HttpMethod::Get,
        format!("{}/{endpoint}", version.data_root()),
        what,
    )
    .with_query("q", soql.as_str())
}

/// `GET <nextRecordsUrl>` on the instance. Only a path under `/services/data/` is accepted, so
/// a response cannot send the client's token elsewhere.
pub fn next_page_request(next_records_url: &str) -> Result<ApiRequest, SalesforceError> {
    let ok = next_records_url.starts_with("/services/data/")
        && !next_records_url.contains("..")
        && !next_records_url.contains("://")
        && !next_records_url.contains(['?', '#', '\\']);
    if !ok {
        return Err(SalesforceError::UnexpectedResponse {
            what: "query".into(),
            detail: format!("nextRecordsUrl {next_records_url:?} is not a data API path"),
        });
    }
    Ok(ApiRequest::new(
        HttpMethod::Get,
        next_records_url,
        "query next page",
    ))
}

/// Splits `ids` into `SELECT ... WHERE Id IN (...)` statements whose request URI (path plus
/// encoded query) stays within `max_uri_bytes`. Duplicate ids are read once.
pub fn ids_in_batches(
    version: ApiVersion,
    object: &str,
    fields: &[&str],
    ids: &[SalesforceId],
    max_uri_bytes: usize,
) -> Result<Vec<Soql>, SalesforceError> {
    let literals: Vec<Literal> = ids.iter().map(Literal::from).collect();
    in_batches(
        version,
        &Select::new(fields, object),
        "Id",
        &literals,
        max_uri_bytes,
    )
}

/// Splits `values` into statements `select` with `AND field IN (...)` added, each request URI
/// (path plus encoded query) within `max_uri_bytes`. Values rendering the same are sent once.
pub fn in_batches(
    version: ApiVersion,
    select: &Select,
    field: &str,
    values: &[Literal],
    max_uri_bytes: usize,
) -> Result<Vec<Soql>, SalesforceError> {
    let (head, tail) = select.render_around(Some(field))?;
    // The fixed part of every URI: path, `?q=`, the statement around the list.
    let base = query_request(version, &Soql::checked(String::new()), QueryScope::Live)
        .uri()
        .len()
        + encoded_len(&head)
        + encoded_len(&tail);
    let comma = encoded_len(",");
    let mut seen = HashSet::new();
    let mut batches = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut len = base;
    for value in values {
        let lit = value.render();
        if !seen.insert(lit.clone()) {
            continue;
        }
        let add = encoded_len(&lit) + if current.is_empty() { 0 } else { comma };
        if !current.is_empty() && len + add > max_uri_bytes {
            batches.push(close(&head, &current, &tail));
            current.clear();
            len = base;
        }
        let add = encoded_len(&lit) + if current.is_empty() { 0 } else { comma };
        if len + add > max_uri_bytes {
            return Err(SalesforceError::InvalidInput(format!(
                "max_uri_bytes {max_uri_bytes} cannot hold even one {field} value in a query"
            )));
        }
        len += add;
        current.push(lit);
    }
    if !current.is_empty() {
        batches.push(close(&head, &current, &tail));
    }
    Ok(batches)
}

fn close(head: &str, literals: &[String], tail: &str) -> Soql {
    Soql::checked(format!("{head}{}{tail}", literals.join(",")))
}

/// Length of `s` once form-urlencoded into a query string.
fn encoded_len(s: &str) -> usize {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .map(str::len)
        .sum()
}

impl SalesforceClient {
    /// The first page of a query.
    pub async fn query_page(
        &self,
        soql: &Soql,
        scope: QueryScope,
    ) -> Result<QueryPage, SalesforceError> {
        let request = query_request(self.api_version(), soql, scope);
        self.execute(&request).await?.json(request.what())
    }

    /// The page after `page`, or `None` when `page` was the last.
    pub async fn next_page(&self, page: &QueryPage) -> Result<Option<QueryPage>, SalesforceError> {
        let Some(next) = page.next_records_url.as_deref().filter(|_| !page.done) else {
            return Ok(None);
        };
        let request = next_page_request(next)?;
        self.execute(&request).await?.json(request.what()).map(Some)
    }

    /// Every record of a query, following `nextRecordsUrl` to the end.
    pub async fn query(&self, soql: &Soql) -> Result<Vec<Record>, SalesforceError> {
        self.query_scoped(soql, QueryScope::Live).await
    }

    /// Every record of a query including deleted and archived rows (`queryAll`).
    pub async fn query_all(&self, soql: &Soql) -> Result<Vec<Record>, SalesforceError> {
        self.query_scoped(soql, QueryScope::IncludeDeleted).await
    }

    async fn query_scoped(
        &self,
        soql: &Soql,
        scope: QueryScope,
    ) -> Result<Vec<Record>, SalesforceError> {
        let mut page = self.query_page(soql, scope).await?;
        let mut records = std::mem::take(&mut page.records);
        while let Some(mut next) = self.next_page(&page).await? {
            records.append(&mut next.records);
            page = next;
        }
        Ok(records)
    }

    /// Reads many records by id with batched `WHERE Id IN (...)` queries kept under the
    /// configured URI length. Ids not found (or not visible) are simply absent from the result.
    pub async fn read_by_ids(
        &self,
        object: &str,
        fields: &[&str],
        ids: &[SalesforceId],
    ) -> Result<Vec<Record>, SalesforceError> {
        let batches = ids_in_batches(
            self.api_version(),
            object,
            fields,
            ids,
            self.config().max_uri_bytes,
        )?;
        let mut records = Vec::with_capacity(ids.len());
        for soql in &batches {
            records.append(&mut self.query(soql).await?);
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<SalesforceId> {
        (0..n)
            .map(|i| SalesforceId::parse(&format!("001{:012}", i)).unwrap())
            .collect()
    }

    #[test]
    fn pages_parse_with_and_without_next_url() {
        let first: QueryPage = serde_json::from_str(
            r#"{"totalSize":2500,"done":false,"nextRecordsUrl":"/services/data/v62.0/query/01gXX0000000001-2000",
                "records":[{"attributes":{"type":"Account","url":"/services/data/v62.0/sobjects/Account/001000000000001AAA"},"Id":"001000000000001AAA"}]}"#,
        )
        .unwrap();
        assert!(!first.done);
        assert_eq!(first.records[0].object_type(), Some("Account"));
        let next = next_page_request(first.next_records_url.as_deref().unwrap()).unwrap();
        assert_eq!(
            next.uri(),
            "/services/data/v62.0/query/01gXX0000000001-2000"
        );
        let last: QueryPage =
            serde_json::from_str(r#"{"totalSize":2500,"done":true,"records":[]}"#).unwrap();
        assert_eq!(last.next_records_url, None);
    }

    #[test]
    fn next_urls_must_stay_on_the_data_api() {
        for bad in [
            "https://evil.example.com/services/data/v62.0/query/x",
            "/services/data/../../oauth2/token",
            "/other/path",
            "//evil.example.com/services/data/",
        ] {
            assert!(next_page_request(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn query_and_query_all_use_their_endpoints() {
        let soql = Soql::from_static("SELECT Id FROM Account");
        let live = query_request(ApiVersion::DEFAULT, &soql, QueryScope::Live);
        assert_eq!(
            live.uri(),
            "/services/data/v62.0/query?q=SELECT+Id+FROM+Account"
        );
        let all = query_request(ApiVersion::DEFAULT, &soql, QueryScope::IncludeDeleted);
        assert_eq!(all.path(), "/services/data/v62.0/queryAll");
    }

    #[test]
    fn id_batches_stay_under_the_uri_limit_and_cover_every_id() {
        let all = ids(3000);
        let mut with_dupes = all.clone();
        with_dupes.extend(all[..10].iter().cloned());
        let max = 16_000;
        let batches = ids_in_batches(
            ApiVersion::DEFAULT,
            "Account",
            &["Id", "Name"],
            &with_dupes,
            max,
        )
        .unwrap();
        assert!(batches.len() > 1);
        let mut total = 0;
        for soql in &batches {
            let uri = query_request(ApiVersion::DEFAULT, soql, QueryScope::Live).uri();
            assert!(uri.len() <= max, "{} > {max}", uri.len());
            assert!(
                soql.as_str()
                    .starts_with("SELECT Id, Name FROM Account WHERE Id IN ('")
            );
            total += soql.as_str().matches("'001").count();
        }
        assert_eq!(total, 3000);
        // The batches are full: the next id would not have fitted.
        let first = query_request(ApiVersion::DEFAULT, &batches[0], QueryScope::Live).uri();
        assert!(first.len() + 27 > max);
    }

    #[test]
    fn id_batches_refuse_impossible_limits_and_bad_names() {
        assert!(ids_in_batches(ApiVersion::DEFAULT, "Account", &["Id"], &ids(1), 60).is_err());
        assert!(
            ids_in_batches(
                ApiVersion::DEFAULT,
                "Account",
                &["Id,Name"],
                &ids(1),
                16_000
            )
            .is_err()
        );
        assert!(
            ids_in_batches(ApiVersion::DEFAULT, "Account", &["Id"], &[], 16_000)
                .unwrap()
                .is_empty()
        );
    }
}
