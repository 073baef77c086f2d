//! Reads keyed by many values: `field IN (…)` split to the query size limit, every resulting
//! query sent in as few requests as possible, and each query's pages followed to the end.
//! Lookups before creates, linked-record reads and account reads all go through here.

use lf_domain::EntityId;

use crate::batch::Batch;
use crate::client::IntacctClient;
use crate::error::IntacctError;
use crate::function::Function;
use crate::query::{Direction, Filter, Query};
use crate::xml::XmlElement;

/// Values in one `in` filter. The gateway documents no limit; this keeps every query the size
/// of the SDK's `read` key cap, well inside what the gateway parses quickly.
pub(crate) const IN_MAX_VALUES: usize = 100;

/// Queries in one request: a request of 50 queries of 100 values each stays far below the
/// request size where a synchronous call risks the gateway's timeout.
pub(crate) const QUERIES_PER_REQUEST: usize = 50;

/// Records of `object` whose `field` is one of `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyedQuery {
    pub object: String,
    pub field: String,
    pub values: Vec<String>,
    pub select: Vec<String>,
    pub docparid: Option<String>,
}

impl KeyedQuery {
    fn chunks(&self) -> Vec<Query> {
        let mut values: Vec<&str> = Vec::with_capacity(self.values.len());
        for v in &self.values {
            if !values.contains(&v.as_str()) {
                values.push(v);
            }
        }
        values
            .chunks(IN_MAX_VALUES)
            .map(|part| {
                let filter = match part {
                    [one] => Filter::eq(self.field.as_str(), *one),
                    many => Filter::is_in(self.field.as_str(), many.iter().copied()),
                };
                let mut q = Query::new(self.object.as_str(), self.select.iter().cloned())
                    .filter(filter)
                    // From the top level, records owned by entities are private; a lookup must
                    // find a record wherever it was made.
                    .show_private(true)
                    .order_by("RECORDNO", Direction::Ascending);
                if let Some(d) = &self.docparid {
                    q = q.docparid(d.as_str());
                }
                q
            })
            .collect()
    }
}

impl IntacctClient {
    /// The records of each keyed query, in the order given: `Ok(records)` or the error of that
    /// query. The outer error means a whole request failed.
    pub(crate) async fn read_keyed(
        &self,
        entity: Option<&EntityId>,
        queries: &[KeyedQuery],
    ) -> Result<Vec<Result<Vec<XmlElement>, IntacctError>>, IntacctError> {
        let chunks: Vec<(usize, Query)> = queries
            .iter()
            .enumerate()
            .flat_map(|(i, q)| q.chunks().into_iter().map(move |c| (i, c)))
            .collect();
        let mut out: Vec<Result<Vec<XmlElement>, IntacctError>> =
            queries.iter().map(|_| Ok(Vec::new())).collect();
        for group in chunks.chunks(QUERIES_PER_REQUEST) {
            let mut batch = Batch::new();
            for (_, q) in group {
                batch.push(Function::query(q, 0)?);
            }
            let results = self.execute(entity, &batch).await?.into_results();
            for ((i, q), result) in group.iter().zip(results) {
                let data = match result {
                    Ok(data) => data,
                    Err(e) => {
                        out[*i] = Err(e);
                        continue;
                    }
                };
                let more = data.remaining() > 0;
                let read = data.records.len() as u64;
                let mut records = data.records;
                let mut failure = None;
                if more {
                    // Rare (a key matching thousands of rows): the rest page by page.
                    let mut pages = self.query_pages_from(entity, q, read);
                    loop {
                        match pages.next_page().await {
                            Ok(Some(page)) => records.extend(page),
                            Ok(None) => break,
                            Err(e) => {
                                failure = Some(e);
                                break;
                            }
                        }
                    }
                }
                match (failure, &mut out[*i]) {
                    (Some(e), slot) => *slot = Err(e),
                    (None, Ok(all)) => all.extend(records),
                    (None, Err(_)) => {}
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_deduplicated_and_split_to_the_in_limit() {
        let q = KeyedQuery {
            object: "CUSTOMER".into(),
            field: "SFDC_ACCOUNT_ID".into(),
            values: (0..250)
                .map(|i| format!("v{i}"))
                .chain(["v0".to_owned()])
                .collect(),
            select: vec!["RECORDNO".into()],
            docparid: None,
        };
        let chunks = q.chunks();
        assert_eq!(chunks.len(), 3, "100 + 100 + 50 distinct values");
        let xml = chunks[2].to_element(0).unwrap().to_xml().unwrap();
        assert_eq!(xml.matches("<value>").count(), 50, "{xml}");
        assert!(xml.contains("<showprivate>true</showprivate>"), "{xml}");
        let one = KeyedQuery {
            values: vec!["x".into()],
            ..q
        };
        let xml = one.chunks()[0].to_element(0).unwrap().to_xml().unwrap();
        assert!(xml.contains("<equalto>"), "one value needs no `in`: {xml}");
    }
}
