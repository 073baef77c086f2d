//! [`IntacctClient`] as the flows' [`IntacctPort`]: domain requests turned into functions,
//! batched, and the results turned back into field trees.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use lf_domain::port::{
    AccountFields, CreateResult, CustomerAccounts, FieldTree, IdempotentWrite, IntacctObject,
    IntacctPort, IntacctRecord, Month, QueryFilter, RecognizedAmount, RecordQuery, RecordUpdate,
    RevenueBasis, WriteStatus,
};
use lf_domain::{Classify, EntityId, ErrorClass, SalesforceId};
use serde_json::{Map, Value};

use crate::batch::Batch;
use crate::client::IntacctClient;
use crate::error::{IntacctError, Reason};
use crate::fields::{legacy_element, record_to_map};
use crate::function::Function;
use crate::idempotent::{CreateOutcome, IdempotentCreate, Lookup};
use crate::lookup::KeyedQuery;
use crate::query::{Direction, Filter, Query};
use crate::record::{RevenuePeriod, RevenueSource};
use crate::xml::XmlElement;

/// The id field of an object the port knows, for filling [`IntacctRecord::id`].
fn id_field_of(object: &str) -> Option<&'static str> {
    [
        IntacctObject::Customer,
        IntacctObject::Contact,
        IntacctObject::ArInvoice,
        IntacctObject::SalesDocument {
            transaction_type: String::new(),
        },
    ]
    .iter()
    .find(|o| o.name().eq_ignore_ascii_case(object))
    .map(IntacctObject::id_field)
}

fn to_record(object: &str, el: &XmlElement) -> IntacctRecord {
    IntacctRecord {
        record_no: el.field("RECORDNO").map(str::to_owned),
        id: id_field_of(object).and_then(|f| el.field(f).map(str::to_owned)),
        fields: record_to_map(el),
    }
}

fn to_filter(f: &QueryFilter) -> Filter {
    match f {
        QueryFilter::Equals(field, v) => Filter::eq(field.as_str(), v.as_str()),
        QueryFilter::In(field, vs) => Filter::is_in(field.as_str(), vs.iter().cloned()),
        QueryFilter::GreaterThan(field, v) => Filter::gt(field.as_str(), v.as_str()),
        QueryFilter::AtLeast(field, v) => Filter::ge(field.as_str(), v.as_str()),
        QueryFilter::LessThan(field, v) => Filter::lt(field.as_str(), v.as_str()),
        QueryFilter::Between(field, a, b) => {
            Filter::between(field.as_str(), a.as_str(), b.as_str())
        }
        QueryFilter::IsNull(field) => Filter::is_null(field.as_str()),
        QueryFilter::IsNotNull(field) => Filter::is_not_null(field.as_str()),
        QueryFilter::Like(field, pattern) => Filter::like(field.as_str(), pattern.as_str()),
        QueryFilter::And(parts) => Filter::and(parts.iter().map(to_filter)),
        QueryFilter::Or(parts) => Filter::or(parts.iter().map(to_filter)),
    }
}

fn to_query(entity: Option<&EntityId>, q: &RecordQuery) -> Query {
    let mut query = Query::new(q.object.as_str(), q.fields.iter().cloned())
        // A top-level read sees entity-owned records too, as the port promises.
        .show_private(entity.is_none());
    if let Some(f) = &q.filter {
        query = query.filter(to_filter(f));
    }
    if let Some(t) = &q.transaction_type {
        query = query.docparid(t.as_str());
    }
    for field in &q.order_by {
        query = query.order_by(field.as_str(), Direction::Ascending);
    }
    query
}

/// Sets the link field in a field tree: a top-level field for the generic objects, a
/// `customfields/customfield` entry for the legacy document functions, placed before the line
/// container (`invoiceitems`, `sotransitems`) as those functions' element order has it.
fn with_link(object: &IntacctObject, fields: &FieldTree, link: &SalesforceId) -> FieldTree {
    let name = object.link_field();
    match object {
        IntacctObject::Customer | IntacctObject::Contact => {
            let mut out: FieldTree = fields
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case(name))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            out.insert(name.to_owned(), Value::String(link.as_str().to_owned()));
            out
        }
        IntacctObject::ArInvoice | IntacctObject::SalesDocument { .. } => {
            let entry =
                serde_json::json!({"customfieldname": name, "customfieldvalue": link.as_str()});
            let mut custom: Vec<Value> = match fields
                .get("customfields")
                .and_then(|c| c.get("customfield"))
            {
                Some(Value::Array(items)) => items.clone(),
                Some(one @ Value::Object(_)) => vec![one.clone()],
                _ => Vec::new(),
            };
            custom.retain(|c| {
                c.get("customfieldname")
                    .and_then(Value::as_str)
                    .is_none_or(|n| !n.eq_ignore_ascii_case(name))
            });
            custom.push(entry);
            let block = Value::Object(Map::from_iter([(
                "customfield".to_owned(),
                Value::Array(custom),
            )]));
            // `legacy_element` writes the block where the function's schema keeps it.
            let mut out = fields.clone();
            out.insert("customfields".to_owned(), block);
            out
        }
    }
}

/// The create function of a write: generic `create` for customers and contacts; the legacy
/// functions for documents (the only create the gateway has for them).
fn create_function(w: &IdempotentWrite) -> Result<Function, IntacctError> {
    let fields = with_link(&w.object, &w.fields, &w.link);
    Ok(match &w.object {
        IntacctObject::Customer | IntacctObject::Contact => {
            Function::create_fields(w.object.name(), &fields)?
        }
        IntacctObject::ArInvoice => Function::raw(legacy_element("create_invoice", &fields)?, true),
        IntacctObject::SalesDocument { transaction_type } => {
            let mut fields = fields;
            if !fields.contains_key("transactiontype") {
                fields.shift_insert(
                    0,
                    "transactiontype".to_owned(),
                    Value::String(transaction_type.clone()),
                );
            }
            Function::raw(legacy_element("create_sotransaction", &fields)?, true)
        }
    })
}

fn write_result(w: &IdempotentWrite, outcome: CreateOutcome) -> CreateResult {
    let object = w.object.name();
    let (status, record) = match outcome {
        CreateOutcome::Created(data) => {
            let mut record = data
                .records
                .first()
                .map(|el| to_record(object, el))
                .unwrap_or_default();
            // Legacy creates answer with the new record's key beside the data.
            if let Some(key) = data.key {
                match w.object {
                    IntacctObject::SalesDocument { .. } => record.id = record.id.or(Some(key)),
                    _ => record.record_no = record.record_no.or(Some(key)),
                }
            }
            (WriteStatus::Created, record)
        }
        CreateOutcome::Recovered(el) => (WriteStatus::Recovered, to_record(object, &el)),
        CreateOutcome::AlreadyExisted(el) => (WriteStatus::AlreadyExisted, to_record(object, &el)),
    };
    CreateResult { status, record }
}

fn update_function(u: &RecordUpdate) -> Result<Function, IntacctError> {
    match u.object {
        IntacctObject::Customer | IntacctObject::Contact => {}
        IntacctObject::ArInvoice | IntacctObject::SalesDocument { .. } => {
            return Err(IntacctError::invalid(format!(
                "updating {} through the port is not supported: documents are created once and changed in Intacct",
                u.object.name()
            )));
        }
    }
    let key = u.key.trim();
    if key.is_empty() {
        return Err(IntacctError::invalid(format!(
            "an update of {} needs a key",
            u.object.name()
        )));
    }
    // A RECORDNO is all digits; anything else is the object's id.
    let key_field = if key.bytes().all(|b| b.is_ascii_digit()) {
        "RECORDNO"
    } else {
        u.object.id_field()
    };
    let mut fields = FieldTree::new();
    fields.insert(key_field.to_owned(), Value::String(key.to_owned()));
    for (k, v) in &u.fields {
        if !k.eq_ignore_ascii_case(key_field) {
            fields.insert(k.clone(), v.clone());
        }
    }
    Function::update_fields(u.object.name(), &fields)
}

impl IntacctClient {
    /// [`IntacctPort::update`]: one request; a lost answer is resent (same controlids), and
    /// a refusal of that replay means the first attempt applied.
    async fn update_batch(
        &self,
        entity: Option<&EntityId>,
        updates: &[RecordUpdate],
    ) -> Result<Vec<Result<(), IntacctError>>, IntacctError> {
        let mut out: Vec<Option<Result<(), IntacctError>>> = Vec::with_capacity(updates.len());
        let mut batch = Batch::new();
        let mut sent = Vec::new();
        for (i, u) in updates.iter().enumerate() {
            match update_function(u) {
                Ok(f) => {
                    batch.push(f);
                    sent.push(i);
                    out.push(None);
                }
                Err(e) => out.push(Some(Err(e))),
            }
        }
        if !batch.is_empty() {
            let answer_lost = AtomicBool::new(false);
            let outcome = lf_domain::retry::run(
                &self.retry_policy(),
                self.deadline(),
                "intacct update",
                |e: &IntacctError, _| {
                    let class = e.class();
                    (e.maybe_applied() && class != ErrorClass::Permanent).then_some(class)
                },
                |_| async {
                    let r = self.execute(entity, &batch).await;
                    if r.as_ref().is_err_and(IntacctError::maybe_applied) {
                        answer_lost.store(true, Ordering::Relaxed);
                    }
                    r
                },
            )
            .await?;
            for (&i, result) in sent.iter().zip(outcome.into_results()) {
                out[i] = Some(match result {
                    Ok(_) => Ok(()),
                    Err(e)
                        if answer_lost.load(Ordering::Relaxed)
                            && e.reason() == Some(Reason::AlreadyExecuted) =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(e),
                });
            }
        }
        Ok(out
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Err(IntacctError::protocol("update left unresolved"))))
            .collect())
    }
}

impl IntacctClient {
    /// [`IntacctPort::create_idempotent`] (`look_first`) or [`IntacctPort::create_missing`].
    async fn create_writes(
        &self,
        entity: Option<&EntityId>,
        writes: &[IdempotentWrite],
        look_first: bool,
    ) -> Result<Vec<Result<CreateResult, IntacctError>>, IntacctError> {
        let mut requests = Vec::with_capacity(writes.len());
        let mut out: Vec<Option<Result<CreateResult, IntacctError>>> =
            Vec::with_capacity(writes.len());
        let mut sent = Vec::new();
        for (i, w) in writes.iter().enumerate() {
            match create_function(w) {
                Ok(function) => {
                    requests.push(IdempotentCreate {
                        key: w.key.clone(),
                        function,
                        lookup: Lookup::linked(&w.object, w.link.as_str()),
                    });
                    sent.push(i);
                    out.push(None);
                }
                Err(e) => out.push(Some(Err(e))),
            }
        }
        if !requests.is_empty() {
            let outcomes = if look_first {
                self.create_idempotent_batch(entity, &requests).await?
            } else {
                self.create_looked_up_batch(entity, &requests).await?
            };
            for (&i, outcome) in sent.iter().zip(outcomes) {
                out[i] = Some(outcome.map(|o| write_result(&writes[i], o)));
            }
        }
        Ok(out
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Err(IntacctError::protocol("create left unresolved"))))
            .collect())
    }
}

impl IntacctClient {
    /// The records of one keyed lookup (split to the gateway's limits, one request).
    async fn read_keyed_one(
        &self,
        entity: Option<&EntityId>,
        query: &KeyedQuery,
    ) -> Result<Vec<XmlElement>, IntacctError> {
        self.read_keyed(entity, std::slice::from_ref(query))
            .await?
            .pop()
            .unwrap_or_else(|| Err(IntacctError::protocol("the lookup gave no outcome")))
    }
}

impl IntacctPort for IntacctClient {
    type Error = IntacctError;

    async fn query(
        &self,
        entity: Option<&EntityId>,
        query: &RecordQuery,
    ) -> Result<Vec<IntacctRecord>, IntacctError> {
        let q = to_query(entity, query);
        Ok(self
            .query_all(entity, &q)
            .await?
            .iter()
            .map(|el| to_record(&query.object, el))
            .collect())
    }

    async fn find_linked(
        &self,
        entity: Option<&EntityId>,
        object: &IntacctObject,
        links: &[SalesforceId],
        fields: &[String],
    ) -> Result<Vec<IntacctRecord>, IntacctError> {
        if links.is_empty() {
            return Ok(Vec::new());
        }
        let mut select: Vec<String> = ["RECORDNO", object.id_field(), object.link_field()]
            .into_iter()
            .map(str::to_owned)
            .collect();
        for f in fields {
            if !select.iter().any(|s| s.eq_ignore_ascii_case(f)) {
                select.push(f.clone());
            }
        }
        let query = KeyedQuery {
            object: object.name().to_owned(),
            field: object.link_field().to_owned(),
            values: links.iter().map(|l| l.as_str().to_owned()).collect(),
            select,
            docparid: object.transaction_type().map(str::to_owned),
        };
        Ok(self
            .read_keyed_one(entity, &query)
            .await?
            .iter()
            .map(|el| to_record(object.name(), el))
            .collect())
    }

    async fn create_idempotent(
        &self,
        entity: Option<&EntityId>,
        writes: &[IdempotentWrite],
    ) -> Result<Vec<Result<CreateResult, IntacctError>>, IntacctError> {
        self.create_writes(entity, writes, true).await
    }

    async fn create_missing(
        &self,
        entity: Option<&EntityId>,
        writes: &[IdempotentWrite],
    ) -> Result<Vec<Result<CreateResult, IntacctError>>, IntacctError> {
        self.create_writes(entity, writes, false).await
    }

    async fn query_many(
        &self,
        entity: Option<&EntityId>,
        queries: &[RecordQuery],
    ) -> Result<Vec<Result<Vec<IntacctRecord>, IntacctError>>, IntacctError> {
        let mut out: Vec<Result<Vec<IntacctRecord>, IntacctError>> =
            Vec::with_capacity(queries.len());
        for group in queries.chunks(crate::lookup::QUERIES_PER_REQUEST) {
            let built: Vec<Query> = group.iter().map(|q| to_query(entity, q)).collect();
            let mut batch = Batch::new();
            for q in &built {
                batch.push(Function::query(q, 0)?);
            }
            let results = self.execute(entity, &batch).await?.into_results();
            for ((rq, q), result) in group.iter().zip(&built).zip(results) {
                let data = match result {
                    Ok(data) => data,
                    Err(e) => {
                        out.push(Err(e));
                        continue;
                    }
                };
                let more = data.remaining() > 0;
                let mut records = data.records;
                let mut failure = None;
                if more {
                    let mut pages = self.query_pages_from(entity, q, records.len() as u64);
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
                out.push(match failure {
                    Some(e) => Err(e),
                    None => Ok(records.iter().map(|el| to_record(&rq.object, el)).collect()),
                });
            }
        }
        Ok(out)
    }

    async fn update(
        &self,
        entity: Option<&EntityId>,
        updates: &[RecordUpdate],
    ) -> Result<Vec<Result<(), IntacctError>>, IntacctError> {
        self.update_batch(entity, updates).await
    }

    async fn read_accounts(
        &self,
        entity: Option<&EntityId>,
        customer_ids: &[String],
        fields: &AccountFields,
    ) -> Result<CustomerAccounts, IntacctError> {
        if customer_ids.is_empty() {
            return Ok(CustomerAccounts::default());
        }
        let keyed = |object: &str, select: &[String]| KeyedQuery {
            object: object.to_owned(),
            field: "CUSTOMERID".to_owned(),
            values: customer_ids.to_vec(),
            select: select.to_vec(),
            docparid: None,
        };
        let queries = [
            keyed("CUSTOMER", &fields.customer),
            keyed("ARINVOICE", &fields.invoice),
            keyed("ARPYMT", &fields.payment),
        ];
        let mut parts = Vec::with_capacity(3);
        for (q, records) in queries.iter().zip(self.read_keyed(entity, &queries).await?) {
            parts.push(
                records?
                    .iter()
                    .map(|el| to_record(&q.object, el))
                    .collect::<Vec<_>>(),
            );
        }
        let mut parts = parts.into_iter();
        Ok(CustomerAccounts {
            customers: parts.next().unwrap_or_default(),
            invoices: parts.next().unwrap_or_default(),
            payments: parts.next().unwrap_or_default(),
        })
    }

    async fn recognized_revenue(
        &self,
        entity: Option<&EntityId>,
        month: Month,
        basis: &RevenueBasis,
    ) -> Result<Vec<RecognizedAmount>, IntacctError> {
        let period = RevenuePeriod::new(month.year, month.month)?;
        let source = match basis {
            RevenueBasis::ScheduleEntries => RevenueSource::ScheduleEntries,
            RevenueBasis::GlAccounts(accounts) => RevenueSource::GlDetail {
                revenue_accounts: accounts.clone(),
            },
        };
        let sums = IntacctClient::recognized_revenue(self, entity, period, &source).await?;
        // The documents' opportunity ids, one batched lookup: that is what lets the flow match
        // revenue to the deal it came from rather than only to the customer.
        let documents: Vec<String> = sums.iter().filter_map(|r| r.document.clone()).collect();
        let mut opportunities: BTreeMap<String, String> = BTreeMap::new();
        if !documents.is_empty() {
            let object = IntacctObject::ArInvoice;
            let query = KeyedQuery {
                object: object.name().to_owned(),
                field: object.id_field().to_owned(),
                values: documents,
                select: vec![object.id_field().to_owned(), object.link_field().to_owned()],
                docparid: None,
            };
            for el in &self.read_keyed_one(entity, &query).await? {
                let r = to_record(object.name(), el);
                if let (Some(doc), Some(opp)) = (
                    r.field(object.id_field()),
                    r.field(object.link_field())
                        .filter(|o| !o.trim().is_empty()),
                ) {
                    opportunities.insert(doc.to_owned(), opp.to_owned());
                }
            }
        }
        Ok(sums
            .into_iter()
            .map(|r| RecognizedAmount {
                opportunity_id: r
                    .document
                    .as_ref()
                    .and_then(|d| opportunities.get(d).cloned()),
                customer_id: r.customer_id,
                month,
                currency: r.currency,
                amount: r.amount,
                document: r.document,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lf_domain::IdempotencyKey;
    use serde_json::json;

    fn tree(v: Value) -> FieldTree {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn link() -> SalesforceId {
        SalesforceId::parse("006LF0000000042").unwrap()
    }

    #[test]
    fn document_link_goes_into_customfields_before_the_lines() {
        let fields = tree(json!({
            "customerid": "C-1",
            "customfields": {"customfield": {"customfieldname": "SFDC_OPPORTUNITY_ID", "customfieldvalue": "old"}},
            "invoiceitems": {"lineitem": [{"amount": "10"}]}
        }));
        let out = with_link(&IntacctObject::ArInvoice, &fields, &link());
        let keys: Vec<&str> = out.keys().map(String::as_str).collect();
        assert_eq!(keys, ["customerid", "customfields", "invoiceitems"]);
        assert_eq!(
            out["customfields"]["customfield"],
            json!([{"customfieldname": "SFDC_OPPORTUNITY_ID", "customfieldvalue": link().as_str()}]),
            "the stale value is replaced, not repeated"
        );
        let customer = with_link(
            &IntacctObject::Customer,
            &tree(json!({"NAME": "Acme", "sfdc_account_id": "x"})),
            &link(),
        );
        assert_eq!(customer.len(), 2);
        assert_eq!(customer["SFDC_ACCOUNT_ID"], link().as_str());
    }

    #[test]
    fn sales_documents_carry_their_transaction_type_first() {
        let w = IdempotentWrite {
            key: IdempotencyKey::derive("t", &["1"]).unwrap(),
            object: IntacctObject::SalesDocument {
                transaction_type: "Sales Order".into(),
            },
            link: link(),
            fields: tree(json!({"customerid": "C-1", "sotransitems": {"sotransitem": []}})),
        };
        let xml = create_function(&w).unwrap().body().to_xml().unwrap();
        assert!(
            xml.starts_with("<create_sotransaction><transactiontype>Sales Order</transactiontype><customerid>C-1</customerid><customfields>"),
            "{xml}"
        );
    }

    #[test]
    fn updates_key_by_record_number_or_id_and_refuse_documents() {
        let u = |key: &str| RecordUpdate {
            object: IntacctObject::Customer,
            key: key.into(),
            fields: tree(json!({"ONHOLD": true})),
        };
        let xml = update_function(&u("12")).unwrap().body().to_xml().unwrap();
        assert_eq!(
            xml,
            "<update><CUSTOMER><RECORDNO>12</RECORDNO><ONHOLD>true</ONHOLD></CUSTOMER></update>"
        );
        let xml = update_function(&u("C-1")).unwrap().body().to_xml().unwrap();
        assert!(xml.contains("<CUSTOMERID>C-1</CUSTOMERID>"), "{xml}");
        assert!(update_function(&u(" ")).is_err());
        let doc = RecordUpdate {
            object: IntacctObject::ArInvoice,
            ..u("5")
        };
        assert_eq!(
            update_function(&doc).unwrap_err().class(),
            ErrorClass::Permanent
        );
    }

    #[test]
    fn query_filters_translate_one_to_one() {
        let q = RecordQuery::new("CUSTOMER", ["RECORDNO", "CUSTOMERID"])
            .filter(QueryFilter::And(vec![
                QueryFilter::GreaterThan("WHENMODIFIED".into(), "03/01/2026 09:00:00".into()),
                QueryFilter::In("STATUS".into(), vec!["active".into(), "inactive".into()]),
            ]))
            .order_by("RECORDNO");
        let xml = to_query(None, &q).to_element(0).unwrap().to_xml().unwrap();
        assert!(
            xml.contains("<and><greaterthan><field>WHENMODIFIED</field>"),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<in><field>STATUS</field><value>active</value><value>inactive</value></in>"
            ),
            "{xml}"
        );
        assert!(xml.contains("<showprivate>true</showprivate>"), "{xml}");
        let us = EntityId::parse("US").unwrap();
        let xml = to_query(Some(&us), &q)
            .to_element(0)
            .unwrap()
            .to_xml()
            .unwrap();
        assert!(!xml.contains("showprivate"), "{xml}");
    }
}
