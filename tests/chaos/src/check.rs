//! The comparison after a run: both sandboxes' whole state, through the links the mapping
//! defines (SFDC_* ids on the Intacct side, Intacct_* ids on the Salesforce side).
//!
//! - **duplicates**: records on one side that share the link to one record on the other
//!   (customers per Account, contacts per Contact, invoices and orders per deal, Accounts per
//!   customer, Contacts per Intacct contact, Tasks per alert key): every extra one counts;
//! - **lost**: a change the workload made whose result is not on the other side.

use std::collections::BTreeMap;

use lf_domain::port::Month;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::system::System;
use crate::workload::{Group, Unit};

/// What the comparison found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Extra records per kind ("customers per Account" → n).
    pub duplicates: BTreeMap<&'static str, u64>,
    /// One line per change whose result is missing.
    pub lost: Vec<String>,
}

impl Findings {
    pub fn duplicate_count(&self) -> u64 {
        self.duplicates.values().sum()
    }
}

fn text(record: &Map<String, Value>, field: &str) -> String {
    record
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn number(record: &Map<String, Value>, field: &str) -> Option<f64> {
    record.get(field).and_then(Value::as_f64)
}

/// Extra records when grouped by `key` (empty keys are not links).
fn extras(keys: impl Iterator<Item = String>) -> u64 {
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for k in keys.filter(|k| !k.is_empty()) {
        *seen.entry(k).or_default() += 1;
    }
    seen.values().map(|n| n - 1).sum()
}

pub fn compare(system: &System, units: &[Unit], period: Month) -> Findings {
    let org = &system.salesforce;
    let company = &system.intacct;
    let mut f = Findings::default();
    let intacct_by = |object: &str, field: &str| {
        extras(
            company
                .records(object)
                .into_iter()
                .map(|r| r.get(field).cloned().unwrap_or_default()),
        )
    };
    let salesforce_by =
        |object: &str, field: &str| extras(org.records(object).iter().map(|r| text(r, field)));
    f.duplicates.insert(
        "Intacct customers per Account",
        intacct_by("CUSTOMER", "SFDC_ACCOUNT_ID"),
    );
    f.duplicates.insert(
        "Intacct contacts per Contact",
        intacct_by("CONTACT", "SFDC_CONTACT_ID"),
    );
    f.duplicates.insert(
        "Intacct invoices and orders per deal",
        extras(
            company
                .records("ARINVOICE")
                .into_iter()
                .chain(company.records("SODOCUMENT"))
                .map(|r| r.get("SFDC_OPPORTUNITY_ID").cloned().unwrap_or_default()),
        ),
    );
    f.duplicates.insert(
        "Salesforce Accounts per customer",
        salesforce_by("Account", "Intacct_Customer_ID__c"),
    );
    f.duplicates.insert(
        "Salesforce Contacts per Intacct contact",
        salesforce_by("Contact", "Intacct_Contact_Name__c"),
    );
    f.duplicates.insert(
        "Salesforce reconciliations per key",
        salesforce_by("Revenue_Reconciliation__c", "Reconciliation_Key__c"),
    );
    let reconciliations = org.records("Revenue_Reconciliation__c");
    f.duplicates.insert(
        "Salesforce reconciliations per account and period",
        extras(
            reconciliations
                .iter()
                .map(|r| format!("{}|{}", text(r, "Account__c"), text(r, "Period__c"))),
        ),
    );
    f.duplicates.insert(
        "Salesforce Tasks per alert",
        salesforce_by("Task", "Ledgerforce_Key__c"),
    );

    for u in units {
        let account = org.record(&u.account).unwrap_or_default();
        let who = format!("unit {} ({})", u.n, u.name);
        let customers = company.find("CUSTOMER", "SFDC_ACCOUNT_ID", &u.account);
        let customer = customers.first();
        let linked = text(&account, "Intacct_Customer_ID__c");
        if customer.is_none() || customer.and_then(|c| c.get("CUSTOMERID")) != Some(&linked) {
            f.lost.push(format!(
                "{who}: the new Account has no linked Intacct customer (found {}, Account says {linked:?})",
                customers.len()
            ));
            continue;
        }
        let customer = customer.cloned().unwrap_or_default();
        let contact = company
            .find("CONTACT", "SFDC_CONTACT_ID", &u.contact)
            .into_iter()
            .next();
        if contact.is_none() {
            f.lost
                .push(format!("{who}: the new Contact has no Intacct contact"));
        }
        let contact = contact.unwrap_or_default();
        let sf_contact = org.record(&u.contact).unwrap_or_default();
        if matches!(u.group, Group::Paid | Group::Held) {
            let deal = org.record(&u.opportunity).unwrap_or_default();
            let (object, kind) = if u.quoted {
                ("SODOCUMENT", "sales orders")
            } else {
                ("ARINVOICE", "invoices")
            };
            let documents = company.count_where(object, "SFDC_OPPORTUNITY_ID", &u.opportunity);
            let field = crate::workload::document_field(u);
            if documents == 0
                || text(&deal, field).is_empty()
                || text(&deal, "Intacct_Sync_Status__c") != "Synced"
            {
                f.lost.push(format!(
                    "{who}: the closed deal has {documents} {kind}, {field} {:?}, status {:?}",
                    text(&deal, field),
                    text(&deal, "Intacct_Sync_Status__c")
                ));
            }
            let reconciled = reconciliations.iter().any(|r| {
                text(r, "Account__c") == u.account && text(r, "Period__c") == period.to_string()
            });
            if !reconciled {
                f.lost.push(format!(
                    "{who}: the won deal's account has no {period} reconciliation"
                ));
            }
        }
        if let Some(phone) = &u.phone {
            let found = customer
                .get("DISPLAYCONTACT.PHONE1")
                .cloned()
                .unwrap_or_default();
            if found != *phone {
                f.lost.push(format!(
                    "{who}: the Account's phone {phone} is {found:?} in Intacct"
                ));
            }
        }
        if let Some(email) = &u.email {
            let found = contact.get("EMAIL1").cloned().unwrap_or_default();
            if !found.eq_ignore_ascii_case(email) {
                f.lost.push(format!(
                    "{who}: the Contact's email {email} is {found:?} in Intacct"
                ));
            }
        }
        if let Some(city) = &u.city {
            let found = text(&account, "BillingCity");
            if found != *city {
                let now = customer
                    .get("DISPLAYCONTACT.MAILADDRESS.CITY")
                    .cloned()
                    .unwrap_or_default();
                f.lost.push(format!(
                    "{who}: the customer's city {city} is {found:?} in Salesforce (and {now:?} in Intacct)"
                ));
            }
        }
        if let Some(phone) = &u.contact_phone {
            let found = text(&sf_contact, "Phone");
            if found != *phone {
                f.lost.push(format!(
                    "{who}: the Intacct contact's phone {phone} is {found:?} in Salesforce"
                ));
            }
        }
        if let Some(paid) = u.paid {
            let paid = paid.to_string().parse::<f64>().unwrap_or(f64::NAN);
            let last = number(&account, "Intacct_Last_Payment_Amount__c");
            if last.is_none_or(|n| (n - paid).abs() >= 0.005) {
                f.lost.push(format!(
                    "{who}: the payment of {paid} shows as {last:?} on the Account"
                ));
            }
            let customer_id = customer.get("CUSTOMERID").cloned().unwrap_or_default();
            let due: Decimal = company
                .find("ARINVOICE", "CUSTOMERID", &customer_id)
                .iter()
                .filter(|i| i.get("STATE").is_some_and(|s| s != "Draft"))
                .filter_map(|i| i.get("TOTALDUE").and_then(|d| d.parse::<Decimal>().ok()))
                .sum();
            let due = due.to_string().parse::<f64>().unwrap_or(f64::NAN);
            let balance = number(&account, "Intacct_Balance__c");
            if balance.is_none_or(|n| (n - due).abs() >= 0.005) {
                f.lost.push(format!(
                    "{who}: the customer owes {due}, the Account's balance says {balance:?}"
                ));
            }
        }
        if u.held {
            let status = text(&account, "Credit_Status__c");
            if status != "On Hold" {
                f.lost.push(format!(
                    "{who}: the hold shows as Credit_Status__c {status:?}"
                ));
            }
            let customer_id = customer.get("CUSTOMERID").cloned().unwrap_or_default();
            let tasks = org
                .records("Task")
                .into_iter()
                .filter(|t| {
                    text(t, "Ledgerforce_Key__c")
                        .starts_with(&format!("credit-alert:{customer_id}:"))
                })
                .count();
            if tasks == 0 {
                f.lost
                    .push(format!("{who}: the hold raised no credit-alert Task"));
            }
        }
    }
    f
}
