//! The records both benchmarks map: a realistic Account and a 10-line Opportunity.

use lf_mapping::SpecBundle;
use serde_json::{Value, json};

/// The shipped specs, or the spec directory `LF_MAPPING_SPECS` names (to compare two builds of
/// the engine on the same specs while the shipped ones are being edited).
pub fn specs() -> Result<SpecBundle, lf_mapping::MappingError> {
    match std::env::var_os("LF_MAPPING_SPECS") {
        Some(dir) => SpecBundle::from_dir(std::path::Path::new(&dir)),
        None => Ok(SpecBundle::shipped()),
    }
}

pub fn account() -> Value {
    json!({
        "attributes": {"type": "Account", "url": "/services/data/v62.0/sobjects/Account/001000000000001AAA"},
        "Id": "001000000000001AAA",
        "Name": "  Acme Robotics, Inc. ",
        "AccountNumber": "acme-001",
        "Type": "Customer - Channel",
        "Industry": "Manufacturing",
        "Description": "Robotics customer since 2019; renews every March.",
        "Phone": "+1 415 555 0100",
        "Fax": "+1 415 555 0101",
        "Website": "WWW.ACME-ROBOTICS.COM",
        "BillingStreet": "100 Market Street\nSuite 300",
        "BillingCity": "San Francisco",
        "BillingState": "California",
        "BillingPostalCode": "94105",
        "BillingCountry": "United States",
        "CurrencyIsoCode": "USD",
        "AnnualRevenue": 25000000,
        "NumberOfEmployees": 420,
        "Tax_ID__c": "94-1234567",
        "Payment_Terms__c": "Net 45",
        "Credit_Limit__c": 50000,
        "Business_Unit__c": "Commercial",
        "Owner": {"Name": "Dana Sales", "Email": "dana@example.com", "Intacct_Employee_ID__c": "E-104"},
        "Parent": {"Intacct_Customer_ID__c": "C-0900"},
        "LastModifiedDate": "2026-05-02T10:00:00.000+0000"
    })
}

pub fn opportunity() -> Value {
    let families = ["Subscription", "Services", "Hardware", "Training"];
    let lines: Vec<Value> = (0..10)
        .map(|i| {
            json!({
                "Id": format!("00k00000000000{i}AAA"),
                "ProductCode": format!("SKU-{i:03}"),
                "Name": format!("Product {i}"),
                "Description": "Annual term",
                "Quantity": 2,
                "UnitPrice": 1250.5,
                "TotalPrice": 2501.0,
                "CurrencyIsoCode": if i % 2 == 0 { "USD" } else { "EUR" },
                "ServiceDate": "2026-04-01",
                "End_Date__c": "2027-03-31",
                "Product2": {"Family": families[i % 4]}
            })
        })
        .collect();
    json!({
        "attributes": {"type": "Opportunity"},
        "Id": "006000000000101AAA",
        "Name": "Acme - Robotics platform 2026",
        "IsWon": true,
        "CloseDate": "2026-03-31",
        "CurrencyIsoCode": "USD",
        "PO_Number__c": "PO-7781",
        "Payment_Terms__c": "Net 30",
        "Business_Unit__c": "Commercial",
        "Account": {"Name": "Acme Robotics", "BillingCountry": "United States", "Intacct_Customer_ID__c": "C-1001"},
        "OpportunityLineItems": {"totalSize": 10, "done": true, "records": lines}
    })
}

/// The number of scalar values in a mapped record (nested elements and lines included).
pub fn count_leaves(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.values().map(count_leaves).sum(),
        Value::Array(a) => a.iter().map(count_leaves).sum(),
        _ => 1,
    }
}
