//! SOQL over HTTP: both URL forms, paging, batch size, queryAll, errors.

use lf_sandbox_salesforce::{DataSet, SandboxConfig};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{start, start_with, urlencode};

#[tokio::test]
async fn pages_with_next_records_url_and_batch_size() {
    let org = start_with(SandboxConfig {
        extra_accounts: 2500,
        ..Default::default()
    })
    .await;
    let first = org
        .query("SELECT Id, Name FROM Account ORDER BY Name")
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let body = first.json();
    assert_eq!(body["totalSize"], 2500);
    assert_eq!(body["done"], false);
    assert_eq!(body["records"].as_array().unwrap().len(), 2000);
    let next = body["nextRecordsUrl"].as_str().unwrap().to_owned();
    assert!(
        next.starts_with("/services/data/v62.0/query/01g") && next.ends_with("-2000"),
        "{next}"
    );
    let last = org.get(&next).await.json();
    assert_eq!(last["done"], true);
    assert!(last.get("nextRecordsUrl").is_none());
    let names: Vec<&str> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .chain(last["records"].as_array().unwrap())
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2500);
    assert_eq!(names[0], "Volume Account 00001");
    assert_eq!(names[2499], "Volume Account 02500");

    // Sforce-Query-Options: batchSize, and the `/query/?q=` form.
    let url = format!("/query/?q={}", urlencode("SELECT Id FROM Account"));
    let r = org
        .send_with(
            Method::GET,
            &url,
            None,
            &[("Sforce-Query-Options", "batchSize=500")],
        )
        .await;
    let b = r.json();
    assert_eq!(b["records"].as_array().unwrap().len(), 500);
    assert!(b["nextRecordsUrl"].as_str().unwrap().ends_with("-500"));
    // Below the minimum, the batch size is 200.
    let r = org
        .send_with(
            Method::GET,
            &url,
            None,
            &[("Sforce-Query-Options", "batchSize=5")],
        )
        .await;
    assert_eq!(r.json()["records"].as_array().unwrap().len(), 200);
    assert_eq!(org.sandbox.api_calls(), 4, "each page is one API call");

    let bad = org.get("/query/01gnope-2000").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.error_code(), "INVALID_QUERY_LOCATOR");
}

#[tokio::test]
async fn count_query_all_and_errors() {
    let org = start(DataSet::Demo).await;
    let n = org.query("SELECT COUNT() FROM Account").await.json();
    assert_eq!(n["totalSize"], 12);
    assert_eq!(n["records"], Value::Array(vec![]));
    let id = org.sandbox.records("Account")[0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        org.send(Method::DELETE, &format!("/sobjects/Account/{id}"), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        org.query("SELECT COUNT() FROM Account").await.json()["totalSize"],
        11
    );
    let all = org
        .get(&format!(
            "/queryAll?q={}",
            urlencode(&format!(
                "SELECT Id, IsDeleted FROM Account WHERE Id = '{id}'"
            ))
        ))
        .await
        .json();
    assert_eq!(all["totalSize"], 1);
    assert_eq!(all["records"][0]["IsDeleted"], true);

    let r = org
        .query("SELECT Id FROM Account WHERE Name = 'x' AND Type = 'y' OR Phone = 'z'")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "MALFORMED_QUERY");
    let r = org.query("SELECT Bogus__c FROM Account").await;
    assert_eq!(r.error_code(), "INVALID_FIELD");
    assert!(
        r.json()[0]["message"]
            .as_str()
            .unwrap()
            .contains("No such column 'Bogus__c' on entity 'Account'")
    );
    let r = org.query("SELECT Id FROM Bogus__c").await;
    assert_eq!(r.error_code(), "INVALID_TYPE");
    let r = org.get("/query").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn demo_data_answers_the_flow_queries() {
    let org = start(DataSet::Demo).await;
    let won = org
        .query("SELECT Id, Name, Amount, CurrencyIsoCode, Account.Name, Owner.Email, (SELECT Quantity, UnitPrice, TotalPrice, ServiceDate, PricebookEntry.Product2.ProductCode FROM OpportunityLineItems ORDER BY SortOrder) FROM Opportunity WHERE IsWon = true ORDER BY CloseDate")
        .await;
    assert_eq!(won.status, StatusCode::OK, "{}", won.text);
    let b = won.json();
    let records = b["records"].as_array().unwrap();
    assert_eq!(records.len(), 5);
    let currencies: std::collections::BTreeSet<&str> = records
        .iter()
        .map(|r| r["CurrencyIsoCode"].as_str().unwrap())
        .collect();
    assert!(currencies.is_superset(&["USD", "EUR", "GBP"].into_iter().collect()));
    for r in records {
        assert!(
            r["Owner"]["Email"]
                .as_str()
                .unwrap()
                .ends_with("@ledgerforce.sandbox")
        );
        let lines = r["OpportunityLineItems"]["records"].as_array().unwrap();
        let sum: f64 = lines
            .iter()
            .map(|l| l["TotalPrice"].as_f64().unwrap())
            .sum();
        assert!(
            (sum - r["Amount"].as_f64().unwrap()).abs() < 0.005,
            "amount is the sum of its lines"
        );
        assert!(lines[0]["PricebookEntry"]["Product2"]["ProductCode"].is_string());
    }
    let quote = org
        .query("SELECT Name, SBQQ__Primary__c, SBQQ__NetAmount__c, SBQQ__Opportunity2__r.Name, (SELECT SBQQ__Product__r.ProductCode, SBQQ__Quantity__c, SBQQ__NetTotal__c FROM SBQQ__LineItems__r) FROM SBQQ__Quote__c")
        .await
        .json();
    assert_eq!(quote["totalSize"], 1);
    let q = &quote["records"][0];
    assert_eq!(q["SBQQ__Primary__c"], true);
    assert_eq!(q["SBQQ__LineItems__r"]["totalSize"], 3);
    let net: f64 = q["SBQQ__LineItems__r"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["SBQQ__NetTotal__c"].as_f64().unwrap())
        .sum();
    assert!((net - q["SBQQ__NetAmount__c"].as_f64().unwrap()).abs() < 0.005);
}

#[tokio::test]
async fn demo_data_is_the_same_every_run() {
    let a = start(DataSet::Demo).await;
    let b = start(DataSet::Demo).await;
    let q = "SELECT Id, Name, SystemModstamp, Amount FROM Opportunity ORDER BY Id";
    assert_eq!(a.query(q).await.json(), b.query(q).await.json());
    let q = "SELECT Id, Name, CreatedDate FROM Account ORDER BY Id";
    assert_eq!(a.query(q).await.json(), b.query(q).await.json());
}
