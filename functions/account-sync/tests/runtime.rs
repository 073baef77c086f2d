//! The account-sync binary under the Lambda Runtime API (the emulator of `lf-testkit`),
//! against DynamoDB and SQS on moto and both Demo sandboxes: an SQS batch of 10: every linked
//! customer's change, whose Accounts must be corrected, with a Salesforce row lock on the
//! first Account write (`UNABLE_TO_LOCK_ROW`, as a concurrent edit causes), two contact
//! changes, and a body that is no change envelope.
//!
//! Needs `LEDGERFORCE_MOTO_ENDPOINT` (`tests/run` starts moto).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lf_domain::port::ParkedFailures;
use lf_domain::{Flow, IntacctKey, IntacctRef, RecordRef};
use lf_sandbox_salesforce as sf;
use lf_testkit::deployment::{change_body, sandboxes_with, wired};
use lf_testkit::lambda::{Answer, FLOW_BATCH, events, run_function};
use serde_json::{Value, json};

const FLOW: Flow = Flow::AccountSync;

fn customer(id: &str) -> RecordRef {
    RecordRef::intacct(
        "CUSTOMER",
        &IntacctRef::new(None, IntacctKey::parse(id).unwrap()),
    )
}

fn contact(name: &str) -> RecordRef {
    RecordRef::intacct(
        "CONTACT",
        &IntacctRef::new(None, IntacctKey::parse(name).unwrap()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqs_batch_is_answered_with_exactly_the_message_to_redeliver() {
    let (salesforce, intacct) = sandboxes_with(sf::DataSet::Demo).await;
    let mut d = wired(&salesforce, &intacct).await;
    d.queue(FLOW).await;
    // Two linked customers whose Account shows a credit limit Intacct does not have; Intacct
    // owns the field, so the flow writes both Accounts back (one collection call).
    // Every linked Demo customer, and two contact changes make the batch of 10.
    let ids: Vec<String> = intacct
        .records("CUSTOMER")
        .into_iter()
        .filter(|c| c.get("SFDC_ACCOUNT_ID").is_some_and(|id| !id.is_empty()))
        .map(|c| c["CUSTOMERID"].clone())
        .collect();
    let contacts: Vec<String> = intacct
        .records("CONTACT")
        .into_iter()
        .map(|c| c["CONTACTNAME"].clone())
        .take(FLOW_BATCH - 1 - ids.len())
        .collect();
    assert_eq!(
        ids.len() + contacts.len() + 1,
        FLOW_BATCH,
        "{ids:?} {contacts:?}"
    );
    let accounts: Vec<String> = ids
        .iter()
        .map(|id| intacct.find("CUSTOMER", "CUSTOMERID", id)[0]["SFDC_ACCOUNT_ID"].clone())
        .collect();
    for account in &accounts {
        salesforce
            .update(account, json!({"Intacct_Credit_Limit__c": 1}))
            .unwrap();
    }
    let limit = |account: &str| {
        salesforce
            .record(account)
            .unwrap()
            .get("Intacct_Credit_Limit__c")
            .cloned()
            .unwrap_or(Value::Null)
    };
    salesforce
        .faults()
        .inject_next(sf::SalesforceFault::LockRow, 1);
    let queue = format!("{}-{}", d.prefix, FLOW.as_str());
    let mut records: Vec<Value> = ids
        .iter()
        .map(|id| {
            events::sqs_record(
                &queue,
                &format!("m-{id}"),
                &change_body(FLOW, customer(id)),
                1,
            )
        })
        .chain(contacts.iter().enumerate().map(|(i, name)| {
            events::sqs_record(
                &queue,
                &format!("m-contact-{i}"),
                &change_body(FLOW, contact(name)),
                1,
            )
        }))
        .collect();
    records.push(events::sqs_record(&queue, "m-unreadable", "[]", 1));
    let batch = events::sqs_batch(records);
    let run = run_function(
        env!("CARGO_BIN_EXE_account-sync"),
        FLOW.as_str(),
        d.process_env(),
        vec![batch],
    )
    .await;

    let Answer::Response(response) = &run.answers[0] else {
        panic!(
            "expected a response, got {:?}\n{}",
            run.answers[0], run.stdout
        );
    };
    // Exactly the message whose Account write met the lock is named, and only its Account
    // still shows the wrong limit.
    let failures = response["batchItemFailures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{response}\n{}", run.stdout);
    let named = failures[0]["itemIdentifier"].as_str().unwrap();
    let locked = ids
        .iter()
        .position(|id| named == format!("m-{id}"))
        .unwrap_or_else(|| panic!("{named} is not a customer message"));
    for (i, account) in accounts.iter().enumerate() {
        if i == locked {
            assert_eq!(
                limit(account).as_f64(),
                Some(1.0),
                "{account}: left for redelivery"
            );
        } else {
            assert_ne!(limit(account).as_f64(), Some(1.0), "{account}: corrected");
        }
    }
    let parked = d.cold_start().await.parked().count_by_flow().await.unwrap();
    assert_eq!(parked.get(&FLOW), Some(&1), "{parked:?}");

    let flow = run
        .emf(FLOW.as_str(), "RecordsSynced", None, 0)
        .expect("the batch's EMF document");
    assert_eq!(
        (&flow["RecordsSynced"], &flow["Parked"], &flow["Failed"]),
        (&json!(FLOW_BATCH - 2), &json!(1), &json!(1))
    );
}
