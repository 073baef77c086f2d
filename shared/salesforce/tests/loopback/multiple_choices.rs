//! An upsert whose external id matches several records: Salesforce answers
//! `300 Multiple Choices` with the URLs of the matching records and writes nothing.
//! `Contact.Intacct_Contact_Name__c` is an external id without a unique index (Intacct contact
//! names are unique per entity, not per company), so two contacts can share a value.

use std::collections::BTreeSet;

use lf_domain::{Classify, ErrorClass};
use lf_salesforce::SalesforceError;
use serde_json::{Value, json};

use crate::support::{client, fields, org};

#[tokio::test]
async fn an_upsert_matching_two_records_is_permanent_and_names_them() {
    let org = org().await;
    // Spaces and parentheses, as in the contact names the account-sync spec writes.
    let name = "Ada Lovelace (003000000000001AAA)";
    let first = org
        .insert(
            "Contact",
            json!({"LastName": "Lovelace", "Email": "ada@us.example", "Intacct_Contact_Name__c": name}),
        )
        .unwrap();
    let second = org
        .insert(
            "Contact",
            json!({"LastName": "Lovelace", "Email": "ada@uk.example", "Intacct_Contact_Name__c": name}),
        )
        .unwrap();

    // On the wire: 300 with the two record URLs.
    let raw = reqwest::Client::new()
        .patch(format!(
            "{}/services/data/v62.0/sobjects/Contact/Intacct_Contact_Name__c/{}",
            org.base_url(),
            name.replace(' ', "%20")
                .replace('(', "%28")
                .replace(')', "%29")
        ))
        .bearer_auth(org.issue_token())
        .json(&json!({"Email": "raw@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 300);
    let urls: BTreeSet<String> = raw
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = [&first, &second]
        .iter()
        .map(|id| format!("/services/data/v62.0/sobjects/Contact/{id}"))
        .collect();
    assert_eq!(urls, expected);

    // Through the connector: a permanent error that keeps which records matched, sent once.
    let sf = client(&org);
    sf.connect().await.unwrap();
    let calls = org.api_calls();
    let err = sf
        .upsert(
            "Contact",
            "Intacct_Contact_Name__c",
            name,
            &fields(json!({"LastName": "Lovelace", "Email": "changed@example.com"})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent, "{err}");
    assert_eq!(org.api_calls() - calls, 1, "a 300 is not retried");
    let SalesforceError::MultipleMatches {
        object,
        field,
        value,
        matches,
    } = &err
    else {
        panic!("not MultipleMatches: {err:?}");
    };
    assert_eq!(
        (object.as_str(), field.as_str(), value.as_str()),
        ("Contact", "Intacct_Contact_Name__c", name)
    );
    let matched: BTreeSet<&str> = matches.iter().map(String::as_str).collect();
    let ids: BTreeSet<&str> = [first.as_str(), second.as_str()].into();
    assert_eq!(matched, ids, "the ids of the record URLs");
    assert!(err.to_string().contains("matched 2 records"), "{err}");

    // Nothing was written to either contact.
    assert_eq!(org.record(&first).unwrap()["Email"], "ada@us.example");
    assert_eq!(org.record(&second).unwrap()["Email"], "ada@uk.example");
}
