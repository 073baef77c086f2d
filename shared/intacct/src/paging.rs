//! Reading past one page: `readByQuery` + `readMore` by result id, and `query` by offset.
//! Each page is its own request, so a session that lapses mid-run is renewed between pages.

use lf_domain::EntityId;

use crate::client::IntacctClient;
use crate::error::IntacctError;
use crate::function::Function;
use crate::query::{Query, ReadByQuery};
use crate::record::FromRecord;
use crate::response::ResultData;
use crate::xml::XmlElement;

/// Pages of a `readByQuery`, fetched one at a time.
#[derive(Debug)]
pub struct ReadByQueryPages<'a> {
    client: &'a IntacctClient,
    entity: Option<&'a EntityId>,
    query: &'a ReadByQuery,
    next: Next,
}

#[derive(Debug)]
enum Next {
    First,
    More(String),
    Done,
}

impl ReadByQueryPages<'_> {
    /// The next page's records; `None` when all were read.
    pub async fn next_page(&mut self) -> Result<Option<Vec<XmlElement>>, IntacctError> {
        let function = match &self.next {
            Next::Done => return Ok(None),
            Next::First => Function::read_by_query(self.query)?,
            Next::More(id) => Function::read_more(id),
        };
        let data = self.client.call(self.entity, function).await?;
        self.next = match (data.remaining(), data.result_id.clone()) {
            (0, _) => Next::Done,
            (_, Some(id)) if !data.records.is_empty() => Next::More(id),
            (left, id) => {
                return Err(IntacctError::protocol(format!(
                    "readByQuery on {} says {left} rows remain but gave {} rows and resultId {:?}",
                    self.query.object(),
                    data.records.len(),
                    id
                )));
            }
        };
        Ok(Some(data.records))
    }
}

/// Pages of a `query`, fetched one at a time by offset.
#[derive(Debug)]
pub struct QueryPages<'a> {
    client: &'a IntacctClient,
    entity: Option<&'a EntityId>,
    query: &'a Query,
    offset: u64,
    done: bool,
}

impl QueryPages<'_> {
    /// The next page's records; `None` when all were read.
    pub async fn next_page(&mut self) -> Result<Option<Vec<XmlElement>>, IntacctError> {
        if self.done {
            return Ok(None);
        }
        let data: ResultData = self
            .client
            .call(self.entity, Function::query(self.query, self.offset)?)
            .await?;
        let n = data.records.len() as u64;
        if data.remaining() == 0 {
            self.done = true;
        } else if n == 0 {
            return Err(IntacctError::protocol(format!(
                "query on {} says {} rows remain at offset {} but gave none",
                self.query.object(),
                data.remaining(),
                self.offset
            )));
        }
        self.offset += n;
        Ok(Some(data.records))
    }
}

impl IntacctClient {
    /// Reads a `readByQuery` page by page.
    pub fn read_by_query_pages<'a>(
        &'a self,
        entity: Option<&'a EntityId>,
        query: &'a ReadByQuery,
    ) -> ReadByQueryPages<'a> {
        ReadByQueryPages {
            client: self,
            entity,
            query,
            next: Next::First,
        }
    }

    /// Reads a `query` page by page. Give it an order (RECORDNO) so offsets stay stable while
    /// records are added.
    pub fn query_pages<'a>(
        &'a self,
        entity: Option<&'a EntityId>,
        query: &'a Query,
    ) -> QueryPages<'a> {
        self.query_pages_from(entity, query, 0)
    }

    /// The pages of a `query` after the first `offset` rows (a first page already read as
    /// part of a batch).
    pub(crate) fn query_pages_from<'a>(
        &'a self,
        entity: Option<&'a EntityId>,
        query: &'a Query,
        offset: u64,
    ) -> QueryPages<'a> {
        QueryPages {
            client: self,
            entity,
            query,
            offset,
            done: false,
        }
    }

    /// Every record of a `readByQuery`.
    pub async fn read_by_query_all(
        &self,
        entity: Option<&EntityId>,
        query: &ReadByQuery,
    ) -> Result<Vec<XmlElement>, IntacctError> {
        let mut pages = self.read_by_query_pages(entity, query);
        let mut all = Vec::new();
        while let Some(page) = pages.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }

    /// Every record of a `query`.
    pub async fn query_all(
        &self,
        entity: Option<&EntityId>,
        query: &Query,
    ) -> Result<Vec<XmlElement>, IntacctError> {
        let mut pages = self.query_pages(entity, query);
        let mut all = Vec::new();
        while let Some(page) = pages.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }

    /// Every record of a `query`, read into `T`.
    pub async fn query_records<T: FromRecord>(
        &self,
        entity: Option<&EntityId>,
        query: &Query,
    ) -> Result<Vec<T>, IntacctError> {
        self.query_all(entity, query)
            .await?
            .iter()
            .map(T::from_record)
            .collect()
    }

    /// `read` of records by RECORDNO, read into `T` (at most 100 keys).
    pub async fn read_records<T: FromRecord>(
        &self,
        entity: Option<&EntityId>,
        record_nos: &[&str],
    ) -> Result<Vec<T>, IntacctError> {
        let data = self
            .call(entity, Function::read(T::OBJECT, record_nos, &[], None)?)
            .await?;
        data.records.iter().map(T::from_record).collect()
    }

    /// `lookup` of an object: its fields, types and relationships, as returned.
    pub async fn lookup(
        &self,
        entity: Option<&EntityId>,
        object: &str,
    ) -> Result<Vec<XmlElement>, IntacctError> {
        Ok(self.call(entity, Function::lookup(object)).await?.records)
    }
}
