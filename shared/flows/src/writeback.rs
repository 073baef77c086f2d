//! Writing results back to Salesforce: only the fields whose value differs from what the flow
//! just read, for every record of the batch in one multi-object update (an Opportunity and its
//! Account together). A record with nothing changed is not sent, and a batch with nothing to
//! write makes no call: a write that changes nothing would cost an API call and fire the org's
//! automation (and Outbound Messages) for nothing.

use lf_domain::port::{SalesforcePort, SfRecord, WriteResult};
use lf_domain::{Classify, SalesforceId};
use serde_json::Value;

use crate::customer::Failure;
use crate::records::at;

/// The sync status fields the flows keep on the Salesforce records they sync.
const STATUS_FIELD: &str = "Intacct_Sync_Status__c";
const ERROR_FIELD: &str = "Intacct_Sync_Error__c";
/// What of a reason is written to `Intacct_Sync_Error__c` (a 32,768-character text area).
const MAX_ERROR_CHARS: usize = 32_000;

/// The write-back of one batch, built up record by record.
#[derive(Debug, Default)]
pub(crate) struct WriteBack {
    /// (object, changed fields with `Id`, the batch records whose result depends on it).
    records: Vec<(String, SfRecord, Vec<usize>)>,
}

impl WriteBack {
    /// Sets `fields` on record `id` of `object` where they differ from `current` (the record
    /// as read), on behalf of batch record `owner`. Several owners may write one record (two
    /// deals of one Account); their fields merge.
    pub fn set(
        &mut self,
        object: &str,
        id: &SalesforceId,
        current: &Value,
        owner: usize,
        fields: Vec<(&str, Value)>,
    ) {
        let changed: Vec<(&str, Value)> = fields
            .into_iter()
            .filter(|(name, value)| differs(at(current, name), value))
            .collect();
        if changed.is_empty() {
            return;
        }
        let entry = match self.records.iter_mut().position(|(o, r, _)| {
            o == object && r.get("Id").and_then(Value::as_str) == Some(id.as_str())
        }) {
            Some(i) => &mut self.records[i],
            None => {
                let mut record = SfRecord::new();
                record.insert("Id".to_owned(), Value::String(id.as_str().to_owned()));
                self.records.push((object.to_owned(), record, Vec::new()));
                let last = self.records.len() - 1;
                &mut self.records[last]
            }
        };
        for (name, value) in changed {
            entry.1.insert(name.to_owned(), value);
        }
        if !entry.2.contains(&owner) {
            entry.2.push(owner);
        }
    }

    /// Marks `id` as synced (`Intacct_Sync_Status__c`, error cleared) together with `fields`.
    pub fn synced(
        &mut self,
        object: &str,
        id: &SalesforceId,
        current: &Value,
        owner: usize,
        mut fields: Vec<(&str, Value)>,
    ) {
        fields.push((STATUS_FIELD, Value::String("Synced".to_owned())));
        fields.push((ERROR_FIELD, Value::Null));
        self.set(object, id, current, owner, fields);
    }

    /// Marks `id` as failed with `reason` (cut to what the long text area holds), so the
    /// record itself says why it is not in Intacct.
    pub fn failed(
        &mut self,
        object: &str,
        id: &SalesforceId,
        current: &Value,
        owner: usize,
        reason: &str,
    ) {
        self.set(
            object,
            id,
            current,
            owner,
            vec![
                (STATUS_FIELD, Value::String("Error".to_owned())),
                (
                    ERROR_FIELD,
                    Value::String(reason.chars().take(MAX_ERROR_CHARS).collect()),
                ),
            ],
        );
    }

    /// How many records would be written.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Writes everything in one call (the connector splits at 200 records). Returns, per
    /// batch record that had something written, the first failure of its writes.
    pub async fn apply<S: SalesforcePort>(self, salesforce: &S) -> Vec<(usize, Failure)> {
        if self.records.is_empty() {
            return Vec::new();
        }
        let owners: Vec<Vec<usize>> = self.records.iter().map(|(_, _, o)| o.clone()).collect();
        let labels: Vec<String> = self
            .records
            .iter()
            .map(|(o, r, _)| format!("{o} {}", r.get("Id").and_then(Value::as_str).unwrap_or("")))
            .collect();
        let records: Vec<(String, SfRecord)> =
            self.records.into_iter().map(|(o, r, _)| (o, r)).collect();
        let mut failures = Vec::new();
        match salesforce.update_mixed(records).await {
            Ok(results) => {
                for ((result, owners), label) in results.into_iter().zip(owners).zip(labels) {
                    if let WriteResult::Failed(f) = result {
                        for owner in owners {
                            failures.push((
                                owner,
                                (
                                    f.class,
                                    format!("writing back to {label}: {}: {}", f.code, f.message),
                                ),
                            ));
                        }
                    }
                }
            }
            Err(e) => {
                let reason = format!("writing back to Salesforce: {e}");
                for owner in owners.into_iter().flatten() {
                    failures.push((owner, (e.class(), reason.clone())));
                }
            }
        }
        failures
    }
}

/// Whether writing `new` over `current` changes anything (absent and null are the same;
/// numbers compare by value).
fn differs(current: Option<&Value>, new: &Value) -> bool {
    match (current, new) {
        (None, Value::Null) => false,
        (None, _) => true,
        (Some(c), n) if c == n => false,
        (Some(Value::Number(a)), Value::Number(b)) => a.as_f64() != b.as_f64(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn id(s: &str) -> SalesforceId {
        SalesforceId::parse(s).unwrap()
    }

    #[test]
    fn only_changed_fields_are_written_and_records_merge() {
        let mut wb = WriteBack::default();
        let opp = json!({"Id": "006000000000001AAA", "Intacct_Invoice_ID__c": "INV-1", "Intacct_Sync_Error__c": null});
        wb.set(
            "Opportunity",
            &id("006000000000001AAA"),
            &opp,
            0,
            vec![
                ("Intacct_Invoice_ID__c", json!("INV-1")),
                ("Intacct_Sync_Error__c", Value::Null),
            ],
        );
        assert_eq!(wb.len(), 0, "nothing differs: nothing to write");
        let account = json!({"Id": "001000000000001AAA", "Intacct_Customer_ID__c": null});
        for owner in [0, 1] {
            wb.set(
                "Account",
                &id("001000000000001AAA"),
                &account,
                owner,
                vec![("Intacct_Customer_ID__c", json!("C-1"))],
            );
        }
        wb.set(
            "Account",
            &id("001000000000001AAA"),
            &account,
            1,
            vec![("Intacct_Entity__c", json!("US"))],
        );
        assert_eq!(wb.len(), 1);
        let (_, record, owners) = &wb.records[0];
        assert_eq!(record.len(), 3, "Id and the two changed fields: {record:?}");
        assert_eq!(owners, &vec![0, 1]);
    }
}
