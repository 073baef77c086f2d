//! [`SalesforcePort`] over the REST client: reads as batched `IN (…)` queries built with
//! [`Select`], changes by a `(SystemModstamp, Id)` cursor, writes over the automatic
//! Collections/Bulk lane with each result matched back to its input record.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use lf_domain::port::sync_state::Watermark;
use lf_domain::port::{
    Applied, ChangeBatch, DatedRate, RecordFailure, RecordRead, SalesforcePort,
    SalesforcePortError, SfRecord, TASK_KEY_FIELD, WriteResult,
};
use lf_domain::{Classify, CurrencyCode, ErrorClass, SalesforceId};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::client::SalesforceClient;
use crate::error::{ApiError, SalesforceError};
use crate::query::{QueryPage, in_batches, next_page_request};
use crate::sobject::{Fields, Record};
use crate::soql::{Condition, Literal, Order, Select};
use crate::write::{Lane, RecordOutcome, RecordResult, WriteOp, WriteOptions};

fn port_error(operation: &str, err: SalesforceError) -> SalesforcePortError {
    let applied = if err.proves_not_applied() {
        Applied::No
    } else {
        Applied::Unknown
    };
    SalesforcePortError::new(operation, err.class(), applied, err)
}

/// The `SELECT` for a read, `Id` (and `extra`) added when missing.
pub fn select_for(read: &RecordRead, extra: &[&str]) -> Select {
    let mut fields: Vec<&str> = read.fields.iter().map(String::as_str).collect();
    for must in std::iter::once("Id").chain(extra.iter().copied()) {
        if !fields.iter().any(|f| f.eq_ignore_ascii_case(must)) {
            fields.push(must);
        }
    }
    read.children
        .iter()
        .fold(Select::new(&fields, &read.object), |select, child| {
            select.child(Select::new(&child.fields, &child.relationship))
        })
}

/// A field path's value in a record (`Account.Name` walks into the parent object).
fn value_at<'a>(record: &'a Fields, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let first = record.get(parts.next()?)?;
    parts.try_fold(first, |v, part| v.as_object()?.get(part))
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// How a value is compared when filing a record under the value it was found by: Salesforce
/// compares text case-insensitively and accepts an id in either length.
fn match_keys(value: &str) -> [Option<String>; 2] {
    [
        Some(format!("t:{}", value.to_lowercase())),
        SalesforceId::parse(value)
            .ok()
            .map(|id| format!("i:{}", id.as_str())),
    ]
}

/// SystemModstamp as Salesforce writes it (`2026-03-01T09:00:00.000+0000`) or RFC 3339.
fn parse_stamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.to_utc())
}

/// The condition "after this watermark" in `(SystemModstamp, Id)` order.
pub fn after_watermark(since: &Watermark) -> Condition {
    let at = Condition::eq("SystemModstamp", since.modified_at);
    if since.last_id.is_empty() {
        return Condition::ge("SystemModstamp", since.modified_at);
    }
    Condition::gt("SystemModstamp", since.modified_at)
        .or(at.and(Condition::gt("Id", since.last_id.as_str())))
}

/// The newest moment whose changes are settled at `now`: `settle` earlier, on a whole second
/// (Salesforce's stamp resolution), so `SystemModstamp < it` never splits a second.
pub fn settled_before(now: DateTime<Utc>, settle: std::time::Duration) -> DateTime<Utc> {
    let back = chrono::Duration::from_std(settle).unwrap_or(chrono::Duration::MAX);
    now.checked_sub_signed(back)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .trunc_subsecs(0)
}

/// The statement reading the dated conversion rates in force between `from` and `to`.
pub fn conversion_rates_select(from: NaiveDate, to: NaiveDate) -> Select {
    Select::new(
        &["IsoCode", "ConversionRate", "StartDate", "NextStartDate"],
        "DatedConversionRate",
    )
    .filter(Condition::le("StartDate", to))
    .filter(Condition::gt("NextStartDate", from))
    .order_by("IsoCode", Order::Asc)
    .order_by("StartDate", Order::Asc)
}

/// Reads one `DatedConversionRate` row; a row missing a field or holding a bad value is an
/// error naming it (a rate is never guessed).
pub fn parse_dated_rate(record: &Fields) -> Result<DatedRate, SalesforceError> {
    let bad = |field: &str| SalesforceError::UnexpectedResponse {
        what: "DatedConversionRate".into(),
        detail: format!(
            "row has no valid {field}: {}",
            Value::Object(record.clone())
        ),
    };
    let date = |field: &str| {
        record
            .get(field)
            .and_then(Value::as_str)
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .ok_or_else(|| bad(field))
    };
    let iso_code = record
        .get("IsoCode")
        .and_then(Value::as_str)
        .and_then(|s| CurrencyCode::parse(s).ok())
        .ok_or_else(|| bad("IsoCode"))?;
    let rate = match record.get("ConversionRate") {
        Some(Value::Number(n)) => {
            let text = n.to_string();
            Decimal::from_str(&text)
                .or_else(|_| Decimal::from_scientific(&text))
                .ok()
        }
        Some(Value::String(s)) => Decimal::from_str(s).ok(),
        _ => None,
    }
    .filter(|r| r.is_sign_positive() && !r.is_zero())
    .ok_or_else(|| bad("ConversionRate"))?;
    Ok(DatedRate {
        iso_code,
        rate,
        start_date: date("StartDate")?,
        next_start_date: date("NextStartDate")?,
    })
}

fn failure(e: ApiError) -> RecordFailure {
    RecordFailure {
        class: e.class(),
        code: e.code,
        message: e.message,
        fields: e.fields,
    }
}

fn to_result(result: RecordResult) -> WriteResult {
    match result {
        RecordResult::Saved {
            id: Some(id),
            created,
        } => WriteResult::Saved { id, created },
        RecordResult::Saved { id: None, .. } => WriteResult::Failed(RecordFailure {
            code: "UNEXPECTED_RESPONSE".into(),
            message: "saved without an id in the response".into(),
            fields: Vec::new(),
            class: ErrorClass::Permanent,
        }),
        RecordResult::Failed(e) => WriteResult::Failed(failure(e)),
        RecordResult::Unprocessed => WriteResult::Failed(unprocessed()),
    }
}

fn unprocessed() -> RecordFailure {
    RecordFailure {
        code: "UNPROCESSED".into(),
        message: "the bulk job did not reach this record".into(),
        fields: Vec::new(),
        class: ErrorClass::Transient,
    }
}

/// One result per input record, in input order. Collections answer in order; Bulk answers
/// grouped by outcome, so its rows are matched back by `key` (the external id or `Id`).
fn align(
    records: &[Fields],
    key: &str,
    lane: Lane,
    outcomes: Vec<RecordOutcome>,
) -> Vec<WriteResult> {
    if lane == Lane::Collections {
        return outcomes.into_iter().map(|o| to_result(o.result)).collect();
    }
    let key_of = |r: &Fields| {
        let text = r.get(key).and_then(value_text)?;
        Some(if key == "Id" {
            SalesforceId::parse(&text).map_or(text, |id| id.as_str().to_owned())
        } else {
            text
        })
    };
    let mut by_key: HashMap<String, RecordResult> = HashMap::new();
    for o in outcomes {
        if let Some(k) = key_of(&o.record) {
            by_key.insert(k, o.result);
        }
    }
    records
        .iter()
        .map(|r| {
            key_of(r)
                .and_then(|k| by_key.get(&k).cloned())
                .map_or_else(|| WriteResult::Failed(unprocessed()), to_result)
        })
        .collect()
}

impl SalesforceClient {
    /// Every record of the batched statements, child subqueries followed to their last page.
    async fn read_batches(
        &self,
        read: &RecordRead,
        field: &str,
        values: &[Literal],
    ) -> Result<Vec<Record>, SalesforceError> {
        let batches = in_batches(
            self.api_version(),
            // The matched field is read too, so each record can be filed under its value.
            &select_for(read, &[field]),
            field,
            values,
            self.config().max_uri_bytes,
        )?;
        let mut records = Vec::new();
        for soql in &batches {
            for record in self.query(soql).await? {
                records.push(self.complete_children(record, read).await?);
            }
        }
        Ok(records)
    }

    /// Follows `nextRecordsUrl` of every child subquery that came back partial.
    async fn complete_children(
        &self,
        record: Record,
        read: &RecordRead,
    ) -> Result<Record, SalesforceError> {
        let mut fields = record.into_map();
        for child in &read.children {
            let Some(nested) = fields.get(&child.relationship) else {
                continue;
            };
            if nested.is_null() {
                continue;
            }
            let mut page: QueryPage = serde_json::from_value(nested.clone()).map_err(|e| {
                SalesforceError::UnexpectedResponse {
                    what: format!("subquery {}", child.relationship),
                    detail: e.to_string(),
                }
            })?;
            if page.done {
                continue;
            }
            let mut all = std::mem::take(&mut page.records);
            while let Some(url) = page.next_records_url.clone().filter(|_| !page.done) {
                let request = next_page_request(&url)?;
                page = self.execute(&request).await?.json(request.what())?;
                all.append(&mut page.records);
            }
            let size = all.len();
            fields.insert(
                child.relationship.clone(),
                serde_json::json!({"totalSize": size, "done": true, "records": all}),
            );
        }
        Ok(Record::new(fields))
    }

    async fn port_write(
        &self,
        object: &str,
        op: WriteOp,
        key: &str,
        records: Vec<SfRecord>,
    ) -> Result<Vec<WriteResult>, SalesforceError> {
        let report = self
            .write(object, &op, records.clone(), WriteOptions::default())
            .await?;
        Ok(align(&records, key, report.lane, report.outcomes))
    }
}

impl SalesforcePort for SalesforceClient {
    async fn read_by_ids(
        &self,
        read: &RecordRead,
        ids: &[SalesforceId],
    ) -> Result<BTreeMap<SalesforceId, SfRecord>, SalesforcePortError> {
        let what = format!("read {} by Id", read.object);
        let values: Vec<Literal> = ids.iter().map(Literal::from).collect();
        let records = self
            .read_batches(read, "Id", &values)
            .await
            .map_err(|e| port_error(&what, e))?;
        Ok(records
            .into_iter()
            .filter_map(|r| Some((r.id()?, r.into_map())))
            .collect())
    }

    async fn read_by_field(
        &self,
        read: &RecordRead,
        field: &str,
        values: &[String],
    ) -> Result<BTreeMap<String, Vec<SfRecord>>, SalesforcePortError> {
        let what = format!("read {} by {field}", read.object);
        let mut wanted: HashMap<String, Vec<&String>> = HashMap::new();
        for v in values {
            for key in match_keys(v).into_iter().flatten() {
                let at = wanted.entry(key).or_default();
                if !at.contains(&v) {
                    at.push(v);
                }
            }
        }
        let literals: Vec<Literal> = values.iter().map(|v| Literal::text(v.as_str())).collect();
        let records = self
            .read_batches(read, field, &literals)
            .await
            .map_err(|e| port_error(&what, e))?;
        let mut out: BTreeMap<String, Vec<SfRecord>> = BTreeMap::new();
        for record in records {
            let fields = record.into_map();
            let Some(found) = value_at(&fields, field).and_then(value_text) else {
                continue;
            };
            let mut under: Vec<&String> = match_keys(&found)
                .into_iter()
                .flatten()
                .filter_map(|k| wanted.get(&k))
                .flatten()
                .copied()
                .collect();
            under.sort();
            under.dedup();
            for requested in under {
                out.entry(requested.clone())
                    .or_default()
                    .push(fields.clone());
            }
        }
        Ok(out)
    }

    async fn changes_since(
        &self,
        read: &RecordRead,
        since: Option<&Watermark>,
        max_records: usize,
    ) -> Result<ChangeBatch, SalesforcePortError> {
        let what = format!("changes of {}", read.object);
        let limit = u32::try_from(max_records.max(1)).unwrap_or(u32::MAX);
        // Deleting a record stamps it, so reading the recycle bin too (`queryAll`, with
        // `IsDeleted` to tell them apart) makes deletions part of the same exact stream.
        let mut select = select_for(read, &["SystemModstamp", "IsDeleted"])
            .order_by("SystemModstamp", Order::Asc)
            .order_by("Id", Order::Asc)
            .limit(limit);
        if let Some(since) = since {
            select = select.filter(after_watermark(since));
        }
        select = select.filter(Condition::lt(
            "SystemModstamp",
            settled_before(Utc::now(), self.config().change_settle),
        ));
        let read_all = async {
            let soql = select.build()?;
            let mut records = Vec::new();
            for record in self.query_all(&soql).await? {
                records.push(self.complete_children(record, read).await?);
            }
            Ok::<_, SalesforceError>(records)
        };
        let records = read_all.await.map_err(|e| port_error(&what, e))?;
        let watermark = match records.last() {
            None => since.cloned(),
            Some(last) => {
                let stamp = last.text("SystemModstamp").and_then(|s| parse_stamp(&s));
                match (stamp, last.id()) {
                    (Some(modified_at), Some(id)) => Some(Watermark {
                        modified_at,
                        last_id: id.as_str().to_owned(),
                    }),
                    _ => {
                        let err = SalesforceError::UnexpectedResponse {
                            what: what.clone(),
                            detail: "a changed record lacks a readable SystemModstamp or Id".into(),
                        };
                        return Err(port_error(&what, err));
                    }
                }
            }
        };
        Ok(ChangeBatch {
            more: records.len() >= max_records.max(1),
            records: records.into_iter().map(Record::into_map).collect(),
            watermark,
        })
    }

    async fn upsert(
        &self,
        object: &str,
        external_id_field: &str,
        records: Vec<SfRecord>,
    ) -> Result<Vec<WriteResult>, SalesforcePortError> {
        let op = WriteOp::Upsert {
            external_id_field: external_id_field.to_owned(),
        };
        self.port_write(object, op, external_id_field, records)
            .await
            .map_err(|e| port_error(&format!("upsert {object}.{external_id_field}"), e))
    }

    async fn update(
        &self,
        object: &str,
        records: Vec<SfRecord>,
    ) -> Result<Vec<WriteResult>, SalesforcePortError> {
        self.port_write(object, WriteOp::Update, "Id", records)
            .await
            .map_err(|e| port_error(&format!("update {object}"), e))
    }

    async fn update_mixed(
        &self,
        records: Vec<(String, SfRecord)>,
    ) -> Result<Vec<WriteResult>, SalesforcePortError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let what = "update (mixed objects)";
        let fields: Vec<(String, Fields)> = records;
        let saved = self
            .update_many_mixed(&fields, false)
            .await
            .map_err(|e| port_error(what, e))?;
        Ok(saved
            .into_iter()
            .zip(fields)
            .map(|(r, (_, record))| to_result(crate::write::from_save(record, r).result))
            .collect())
    }

    async fn upsert_tasks(
        &self,
        tasks: Vec<SfRecord>,
    ) -> Result<Vec<WriteResult>, SalesforcePortError> {
        SalesforcePort::upsert(self, "Task", TASK_KEY_FIELD, tasks).await
    }

    async fn conversion_rates(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DatedRate>, SalesforcePortError> {
        let what = "read DatedConversionRate";
        let read = async {
            let soql = conversion_rates_select(from, to).build()?;
            self.query(&soql)
                .await?
                .iter()
                .map(|r| parse_dated_rate(r.as_map()))
                .collect::<Result<Vec<_>, _>>()
        };
        read.await.map_err(|e| port_error(what, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fields as rec;
    use serde_json::json;

    #[test]
    fn reads_add_id_and_render_children() {
        let read = RecordRead::new("Opportunity", &["Name", "Account.Name"])
            .with_child("OpportunityLineItems", &["Id", "Quantity"]);
        let soql = select_for(&read, &["SystemModstamp"]).build().unwrap();
        assert_eq!(
            soql.as_str(),
            "SELECT Name, Account.Name, Id, SystemModstamp, (SELECT Id, Quantity FROM \
             OpportunityLineItems) FROM Opportunity"
        );
        let hostile = RecordRead::new("Account", &["Name FROM User --"]);
        assert!(select_for(&hostile, &[]).build().is_err());
    }

    #[test]
    fn the_watermark_condition_is_strictly_after_the_cursor() {
        let at = DateTime::parse_from_rfc3339("2026-03-01T09:00:00.250Z")
            .unwrap()
            .to_utc();
        let w = Watermark {
            modified_at: at,
            last_id: "001000000000005AAA".into(),
        };
        assert_eq!(
            after_watermark(&w).render().unwrap(),
            "SystemModstamp > 2026-03-01T09:00:00.250Z OR (SystemModstamp = \
             2026-03-01T09:00:00.250Z AND Id > '001000000000005AAA')"
        );
        let start = Watermark {
            modified_at: at,
            last_id: String::new(),
        };
        assert_eq!(
            after_watermark(&start).render().unwrap(),
            "SystemModstamp >= 2026-03-01T09:00:00.250Z"
        );
        assert_eq!(parse_stamp("2026-03-01T09:00:00.250+0000"), Some(at),);
        assert_eq!(parse_stamp("2026-03-01T09:00:00.250Z"), Some(at));
        assert_eq!(parse_stamp("yesterday"), None);
        let now = DateTime::parse_from_rfc3339("2026-03-01T09:00:30.900Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            settled_before(now, std::time::Duration::from_secs(30)),
            DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z")
                .unwrap()
                .to_utc()
        );
        assert_eq!(
            settled_before(now, std::time::Duration::MAX),
            DateTime::<Utc>::MIN_UTC
        );
    }

    #[test]
    fn field_values_match_like_salesforce_compares_them() {
        let r = rec(
            json!({"Email": "A@X.com", "Account": {"Name": "Acme", "Id": "001000000000001AAA"}}),
        );
        assert_eq!(value_at(&r, "Account.Name"), Some(&json!("Acme")));
        assert_eq!(value_at(&r, "Account.Missing"), None);
        assert_eq!(match_keys("a@x.com")[0], match_keys("A@X.COM")[0]);
        // A 15-character id matches its 18-character form.
        assert_eq!(
            match_keys("001000000000001")[1],
            match_keys("001000000000001AAA")[1]
        );
        assert_eq!(match_keys("a@x.com")[1], None);
    }

    #[test]
    fn dated_rates_parse_and_bad_rows_are_named() {
        let soql = conversion_rates_select(
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
        )
        .build()
        .unwrap();
        assert_eq!(
            soql.as_str(),
            "SELECT IsoCode, ConversionRate, StartDate, NextStartDate FROM DatedConversionRate \
             WHERE StartDate <= 2026-01-31 AND NextStartDate > 2026-01-01 \
             ORDER BY IsoCode ASC, StartDate ASC"
        );
        let row = rec(
            json!({"attributes": {"type": "DatedConversionRate"}, "IsoCode": "EUR",
            "ConversionRate": 0.912345, "StartDate": "2026-01-01", "NextStartDate": "9999-12-31"}),
        );
        let rate = parse_dated_rate(&row).unwrap();
        assert_eq!(rate.iso_code.as_str(), "EUR");
        assert_eq!(rate.rate, Decimal::from_str("0.912345").unwrap());
        assert_eq!(
            rate.next_start_date,
            NaiveDate::from_ymd_opt(9999, 12, 31).unwrap()
        );
        for (field, value) in [
            ("IsoCode", json!("euro")),
            ("ConversionRate", json!(0)),
            ("ConversionRate", Value::Null),
            ("StartDate", json!("01/01/2026")),
        ] {
            let mut bad = row.clone();
            bad.insert(field.into(), value);
            let err = parse_dated_rate(&bad).unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
    }

    #[test]
    fn bulk_outcomes_are_matched_back_to_their_records() {
        let records = vec![
            rec(json!({"Ext__c": "A", "Name": "a"})),
            rec(json!({"Ext__c": "B", "Name": "b"})),
            rec(json!({"Ext__c": "C", "Name": "c"})),
        ];
        let outcomes = vec![
            RecordOutcome {
                record: rec(json!({"Ext__c": "C", "Name": "c"})),
                result: RecordResult::Saved {
                    id: SalesforceId::parse("001000000000003").ok(),
                    created: Some(true),
                },
            },
            RecordOutcome {
                record: rec(json!({"Ext__c": "A", "Name": "a"})),
                result: RecordResult::Failed(ApiError::new("UNABLE_TO_LOCK_ROW", "locked")),
            },
        ];
        let aligned = align(&records, "Ext__c", Lane::Bulk, outcomes);
        match &aligned[0] {
            WriteResult::Failed(f) => {
                assert_eq!(f.code, "UNABLE_TO_LOCK_ROW");
                assert_eq!(f.class, ErrorClass::Transient);
            }
            other => panic!("{other:?}"),
        }
        match &aligned[1] {
            WriteResult::Failed(f) => assert_eq!(f.code, "UNPROCESSED"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            aligned[2].id().map(SalesforceId::as_str),
            Some("001000000000003AAA")
        );
    }
}
