//! sObject CRUD, upsert, describe and the versions list.

use lf_domain::SalesforceId;
use lf_sandbox_salesforce::DataSet;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::start;

#[tokio::test]
async fn create_read_update_delete() {
    let org = start(DataSet::Empty).await;
    let r = org
        .post(
            "/sobjects/Account",
            json!({"Name": "Wire Test", "CurrencyIsoCode": "GBP"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json(), json!({"id": id, "success": true, "errors": []}));
    assert_eq!(SalesforceId::parse(&id).unwrap().key_prefix(), "001");
    assert_eq!(
        r.header("location").unwrap(),
        format!("/services/data/v62.0/sobjects/Account/{id}")
    );
    assert!(
        r.header("sforce-limit-info")
            .unwrap()
            .starts_with("api-usage=1/")
    );

    let got = org.get(&format!("/sobjects/Account/{id}")).await.json();
    assert_eq!(got["Name"], "Wire Test");
    assert_eq!(got["attributes"]["type"], "Account");
    assert_eq!(got["CurrencyIsoCode"], "GBP");
    let stamp = got["SystemModstamp"].as_str().unwrap().to_owned();
    assert!(stamp.ends_with("+0000"), "{stamp}");

    let r = org
        .patch(
            &format!("/sobjects/Account/{id}"),
            json!({"Phone": "+44 20 7946 0000"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.text.is_empty());
    let got = org
        .get(&format!("/sobjects/Account/{id}?fields=Phone,Name"))
        .await
        .json();
    assert_eq!(got.as_object().unwrap().len(), 3);
    assert_eq!(got["Phone"], "+44 20 7946 0000");
    assert!(org.sandbox.unchanged_updates().is_empty());
    // The same value again is still a write, one that changed nothing: counted.
    let r = org
        .patch(
            &format!("/sobjects/Account/{id}"),
            json!({"Phone": "+44 20 7946 0000"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        org.sandbox.unchanged_updates(),
        [("Account", 1)].into_iter().collect()
    );

    let r = org
        .send(Method::DELETE, &format!("/sobjects/Account/{id}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = org.get(&format!("/sobjects/Account/{id}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.json(),
        json!([{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}])
    );
}

#[tokio::test]
async fn validation_errors_are_rest_error_arrays() {
    let org = start(DataSet::Empty).await;
    let r = org.post("/sobjects/Account", json!({"Phone": "1"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!([{"message": "Required fields are missing: [Name]", "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["Name"]}])
    );
    let r = org
        .post(
            "/sobjects/Account",
            json!({"Name": "x", "CurrencyIsoCode": "XXX"}),
        )
        .await;
    assert_eq!(r.error_code(), "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    let r = org
        .post(
            "/sobjects/Account",
            json!({"Name": "x", "NumberOfEmployees": "many"}),
        )
        .await;
    assert_eq!(r.error_code(), "JSON_PARSER_ERROR");
    let r = org.post("/sobjects/Nope__c", json!({"Name": "x"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = org.send(Method::POST, "/sobjects/Account", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn upsert_by_external_id_statuses() {
    let org = start(DataSet::Empty).await;
    let path = "/sobjects/Account/Intacct_Customer_ID__c/C-77";
    let r = org.patch(path, json!({"Name": "Upserted"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.json(),
        json!({"id": id, "success": true, "errors": [], "created": true})
    );
    let r = org.patch(path, json!({"Name": "Upserted again"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"id": id, "success": true, "errors": [], "created": false})
    );
    // API v45 and older answer an update with 204 and no body.
    let old = format!(
        "{}/services/data/v45.0/sobjects/Account/Intacct_Customer_ID__c/C-77",
        org.sandbox.base_url()
    );
    let resp = org
        .http
        .patch(&old)
        .bearer_auth(&org.token)
        .json(&json!({"Phone": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    // Not an external id field, or no such field: 404.
    let r = org
        .patch("/sobjects/Account/Name/Upserted", json!({"Phone": "2"}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "NOT_FOUND");
    let r = org
        .patch("/sobjects/Account/Nope__c/x", json!({"Phone": "2"}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // updateOnly refuses to create.
    let r = org
        .patch(
            "/sobjects/Account/Intacct_Customer_ID__c/C-78?updateOnly=true",
            json!({"Name": "n"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A value with a slash travels URL-encoded.
    let r = org
        .patch(
            "/sobjects/Account/Intacct_Customer_ID__c/C%2F79",
            json!({"Name": "Slash"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let sid = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        org.sandbox.record(&sid).unwrap()["Intacct_Customer_ID__c"],
        "C/79"
    );
}

#[tokio::test]
async fn upsert_by_id_creates_then_updates() {
    let org = start(DataSet::Empty).await;
    let r = org
        .send(
            Method::POST,
            "/sobjects/Account/Id",
            Some(json!({"Name": "By Id"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let r = org
        .patch(
            &format!("/sobjects/Account/Id/{id}"),
            json!({"Name": "By Id 2"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["created"], false);
    assert_eq!(org.sandbox.record(&id).unwrap()["Name"], "By Id 2");
}

#[tokio::test]
async fn upsert_with_several_matches_is_300_and_writes_nothing() {
    let org = start(DataSet::Empty).await;
    // Contact's Intacct_Contact_Name__c is an external id without a unique index.
    let a = org
        .sandbox
        .insert(
            "Contact",
            json!({"LastName": "One", "Intacct_Contact_Name__c": "CN-1"}),
        )
        .unwrap();
    let b = org
        .sandbox
        .insert(
            "Contact",
            json!({"LastName": "Two", "Intacct_Contact_Name__c": "cn-1"}),
        )
        .unwrap();
    let r = org
        .patch(
            "/sobjects/Contact/Intacct_Contact_Name__c/CN-1",
            json!({"LastName": "Three"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::MULTIPLE_CHOICES, "{}", r.text);
    assert_eq!(
        r.json(),
        json!([
            format!("/services/data/v62.0/sobjects/Contact/{a}"),
            format!("/services/data/v62.0/sobjects/Contact/{b}")
        ])
    );
    assert_eq!(org.sandbox.record(&a).unwrap()["LastName"], "One");
    assert_eq!(org.sandbox.record(&b).unwrap()["LastName"], "Two");
}

#[tokio::test]
async fn describe_and_versions() {
    let org = start(DataSet::Empty).await;
    let d = org.get("/sobjects/Account/describe").await.json();
    assert_eq!(d["name"], "Account");
    assert_eq!(d["keyPrefix"], "001");
    let ext = d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Intacct_Customer_ID__c")
        .unwrap();
    assert_eq!(ext["externalId"], true);
    assert_eq!(ext["unique"], true);
    assert_eq!(ext["type"], "string");
    assert_eq!(ext["length"], 80);
    let credit = d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Credit_Status__c")
        .unwrap();
    assert_eq!(credit["picklistValues"].as_array().unwrap().len(), 4);
    assert_eq!(credit["restrictedPicklist"], true);
    let name = d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Name")
        .unwrap();
    assert_eq!(
        (name["nillable"].clone(), name["createable"].clone()),
        (json!(false), json!(true))
    );
    let g = org.get("/sobjects").await.json();
    let names: Vec<&str> = g["sobjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    for n in [
        "Account",
        "Contact",
        "Opportunity",
        "OpportunityLineItem",
        "Product2",
        "PricebookEntry",
        "Task",
        "User",
        "SBQQ__Quote__c",
        "SBQQ__QuoteLine__c",
        "Revenue_Reconciliation__c",
    ] {
        assert!(names.contains(&n), "{n} missing");
    }
    let resp = org
        .http
        .get(format!("{}/services/data/", org.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let versions: serde_json::Value = resp.json().await.unwrap();
    assert!(
        versions
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["version"] == "62.0" && v["label"] == "Winter '25")
    );
    let resp = org
        .http
        .get(format!(
            "{}/services/data/v25.0/limits",
            org.sandbox.base_url()
        ))
        .bearer_auth(&org.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::GONE);
}

#[tokio::test]
async fn a_quote_line_takes_its_product_code_from_the_product() {
    let org = start(DataSet::Demo).await;
    let product = org
        .sandbox
        .records("Product2")
        .into_iter()
        .find(|p| p["ProductCode"] == "SVC-TRN")
        .unwrap();
    let opportunity = org.sandbox.records("Opportunity")[0]["Id"].clone();
    let quote = org
        .post(
            "/sobjects/SBQQ__Quote__c",
            json!({"SBQQ__Opportunity2__c": opportunity, "CurrencyIsoCode": "USD"}),
        )
        .await;
    assert_eq!(quote.status, StatusCode::CREATED, "{}", quote.text);
    let quote = quote.json()["id"].as_str().unwrap().to_owned();
    let line = org
        .post(
            "/sobjects/SBQQ__QuoteLine__c",
            json!({"SBQQ__Quote__c": quote, "SBQQ__Product__c": product["Id"], "SBQQ__Quantity__c": 2}),
        )
        .await;
    assert_eq!(line.status, StatusCode::CREATED, "{}", line.text);
    let id = line.json()["id"].as_str().unwrap().to_owned();
    let got = org
        .get(&format!("/sobjects/SBQQ__QuoteLine__c/{id}"))
        .await
        .json();
    assert_eq!(got["SBQQ__ProductCode__c"], "SVC-TRN");
    // Read-only, as the formula it is in CPQ.
    let r = org
        .post(
            "/sobjects/SBQQ__QuoteLine__c",
            json!({"SBQQ__Quote__c": quote, "SBQQ__Product__c": product["Id"], "SBQQ__Quantity__c": 1,
                   "SBQQ__ProductCode__c": "X"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}
