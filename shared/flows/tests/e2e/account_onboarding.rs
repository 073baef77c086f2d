//! account-onboarding end to end.

use lf_domain::Flow;
use serde_json::json;

use crate::support::{World, message, messages, text};

const FLOW: Flow = Flow::AccountOnboarding;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_customer_account_gets_one_customer_and_prospects_none() {
    let w = World::start().await;
    let uk = w.new_account("Thames Analytics Ltd", "United Kingdom");
    let us = w.new_account("Lakeshore Foods Inc", "United States");
    let prospect = w
        .org
        .insert(
            "Account",
            json!({"Name": "Maybe Later LLC", "Type": "Prospect", "BillingCountry": "United States"}),
        )
        .unwrap();
    let handler = w.account_onboarding();
    let ids = vec![uk.clone(), us.clone(), prospect.clone()];
    let calls = w.org.api_calls();
    let requests = w.company.usage().requests;
    let report = w.run(&handler, &messages(FLOW, "Account", &ids)).await;
    assert_eq!(report.counts.done, 3, "{report:?}");
    eprintln!(
        "3 accounts (2 qualify): {} Salesforce calls, {} Intacct requests",
        w.org.api_calls() - calls,
        w.company.usage().requests - requests
    );
    assert_eq!(w.customers_of(&uk), 1);
    assert_eq!(w.customers_of(&us), 1);
    assert_eq!(w.customers_of(&prospect), 0, "a prospect is not onboarded");
    assert_eq!(text(&w.record(&uk), "Intacct_Entity__c"), "UK");
    assert_eq!(text(&w.record(&us), "Intacct_Entity__c"), "US");
    assert!(!text(&w.record(&uk), "Intacct_Customer_ID__c").is_empty());
    assert!(text(&w.record(&prospect), "Intacct_Customer_ID__c").is_empty());

    // Becoming a customer later qualifies the prospect.
    w.org
        .update(&prospect, json!({"Type": "Customer - Direct"}))
        .unwrap();
    let later = w
        .run(&handler, &[message(FLOW, "Account", &prospect, 5)])
        .await;
    assert_eq!(later.counts.done, 1, "{later:?}");
    assert_eq!(w.customers_of(&prospect), 1);

    // Replays and edits never make a second customer.
    w.org
        .update(&uk, json!({"Phone": "+44 20 7946 0000"}))
        .unwrap();
    let again = w.run(&handler, &messages(FLOW, "Account", &ids)).await;
    assert_eq!(again.counts.done, 3, "{again:?}");
    for id in &ids {
        assert_eq!(w.customers_of(id), 1, "still one customer for {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_whose_customer_exists_in_intacct_is_linked_not_duplicated() {
    let w = World::start().await;
    // The demo accounts already onboarded carry their CUSTOMERID but have no link yet (a
    // first run of ledgerforce on an existing integration): matching links them.
    let onboarded: Vec<String> = w
        .org
        .records("Account")
        .into_iter()
        .filter(|a| !text(a, "Intacct_Customer_ID__c").is_empty())
        .map(|a| text(&a, "Id"))
        .collect();
    assert!(!onboarded.is_empty());
    let customers_before = w.company.record_count("CUSTOMER");
    let handler = w.account_onboarding();
    let report = w
        .run(&handler, &messages(FLOW, "Account", &onboarded))
        .await;
    assert_eq!(report.retry_ids().count(), 0, "{report:?}");
    assert_eq!(
        w.company.record_count("CUSTOMER"),
        customers_before,
        "no customer created for accounts that have one: {report:?}"
    );
}
