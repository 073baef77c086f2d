//! Single-record REST: CRUD, upsert by external id, describe, and how failures classify.

use lf_domain::{Classify, ErrorClass};
use lf_salesforce::sobject::FieldUse;
use lf_salesforce::{ApiVersion, SalesforceError, UpsertOutcome};
use lf_sandbox_salesforce::SalesforceFault;
use serde_json::json;

use crate::support::{client, client_with, fields, org};

#[tokio::test]
async fn create_get_update_delete() {
    let org = org().await;
    let sf = client(&org);
    let id = sf
        .create(
            "Account",
            &fields(json!({"Name": "Acme Ltd", "BillingCity": "Lyon"})),
        )
        .await
        .unwrap();
    let rec = sf
        .get("Account", &id, &["Name", "BillingCity"])
        .await
        .unwrap();
    assert_eq!(rec.object_type(), Some("Account"));
    assert_eq!(rec.id(), Some(id.clone()));
    assert_eq!(rec.text("BillingCity").as_deref(), Some("Lyon"));

    sf.update("Account", &id, &fields(json!({"BillingCity": "Paris"})))
        .await
        .unwrap();
    assert_eq!(org.record(id.as_str()).unwrap()["BillingCity"], "Paris");

    sf.delete("Account", &id).await.unwrap();
    assert!(org.record(id.as_str()).is_none());
    let gone = sf.get("Account", &id, &[]).await.unwrap_err();
    assert_eq!(gone.class(), ErrorClass::Permanent);
    let code = gone.api_failure().and_then(|f| f.code()).unwrap();
    assert!(
        code == "NOT_FOUND" || code == "ENTITY_IS_DELETED",
        "unexpected code {code}"
    );
}

#[tokio::test]
async fn upsert_creates_then_updates_and_refuses_unknown_fields() {
    let org = org().await;
    let sf = client(&org);
    let body = fields(json!({"Name": "Upsert Co", "Intacct_Customer_ID__c": "C-100/EU"}));
    let first = sf
        .upsert("Account", "Intacct_Customer_ID__c", "C-100/EU", &body)
        .await
        .unwrap();
    assert!(first.created);
    let id = first.id.clone().unwrap();
    // The value with a slash travelled percent-encoded and was stored as given.
    assert_eq!(
        org.record(id.as_str()).unwrap()["Intacct_Customer_ID__c"],
        "C-100/EU"
    );

    let again = sf
        .upsert(
            "Account",
            "Intacct_Customer_ID__c",
            "C-100/EU",
            &fields(json!({"Name": "Upsert Co renamed"})),
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        UpsertOutcome {
            id: Some(id.clone()),
            created: false
        }
    );
    assert_eq!(
        org.record(id.as_str()).unwrap()["Name"],
        "Upsert Co renamed"
    );

    let err = sf
        .upsert(
            "Account",
            "No_Such_Field__c",
            "x",
            &fields(json!({"Name": "n"})),
        )
        .await
        .unwrap_err();
    let failure = err.api_failure().expect("a REST failure");
    assert_eq!(failure.status, 404);
    assert_eq!(failure.code(), Some("NOT_FOUND"));
    assert_eq!(err.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn upsert_update_on_v45_answers_204_without_a_body() {
    let org = org().await;
    let sf = client_with(&org, |c| c.api_version = ApiVersion::new(45).unwrap());
    let body = fields(json!({"Name": "Old API"}));
    let created = sf
        .upsert("Account", "Intacct_Customer_ID__c", "C-45", &body)
        .await
        .unwrap();
    assert!(created.created && created.id.is_some());
    let updated = sf
        .upsert("Account", "Intacct_Customer_ID__c", "C-45", &body)
        .await
        .unwrap();
    assert_eq!(
        updated,
        UpsertOutcome {
            id: None,
            created: false
        }
    );
}

#[tokio::test]
async fn describe_validates_mapping_fields() {
    let org = org().await;
    let sf = client(&org);
    let d = sf.describe("Account").await.unwrap();
    assert_eq!(d.name, "Account");
    assert!(d.field("intacct_customer_id__c").unwrap().external_id);
    d.check_fields(
        &[
            "Name",
            "BillingCity",
            "Intacct_Customer_ID__c",
            "Credit_Status__c",
        ],
        FieldUse::Update,
    )
    .unwrap();
    d.check_fields(&["Intacct_Customer_ID__c"], FieldUse::ExternalId)
        .unwrap();
    let problems = d
        .check_fields(&["Nmae", "CreatedDate"], FieldUse::Update)
        .unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
}

#[tokio::test]
async fn validation_failures_are_permanent_with_message_and_fields() {
    let org = org().await;
    let sf = client(&org);

    let missing = sf
        .create("Contact", &fields(json!({"FirstName": "Ada"})))
        .await
        .unwrap_err();
    let f = missing.api_failure().expect("REST failure");
    assert_eq!(f.status, 400);
    assert_eq!(f.code(), Some("REQUIRED_FIELD_MISSING"));
    assert_eq!(f.errors[0].fields, vec!["LastName"]);
    assert_eq!(missing.class(), ErrorClass::Permanent);

    sf.create(
        "Account",
        &fields(json!({"Name": "One", "Intacct_Customer_ID__c": "DUP-1"})),
    )
    .await
    .unwrap();
    let dup = sf
        .create(
            "Account",
            &fields(json!({"Name": "Two", "Intacct_Customer_ID__c": "DUP-1"})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        dup.api_failure().and_then(|f| f.code()),
        Some("DUPLICATE_VALUE")
    );
    assert_eq!(dup.class(), ErrorClass::Permanent);
    assert!(!dup.api_failure().unwrap().errors[0].message.is_empty());

    let bad_field = sf
        .create("Account", &fields(json!({"Name": "x", "Nope__c": 1})))
        .await
        .unwrap_err();
    assert_eq!(
        bad_field.api_failure().and_then(|f| f.code()),
        Some("INVALID_FIELD")
    );
    assert_eq!(bad_field.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn transient_faults_are_retried_with_backoff() {
    let org = org().await;
    let sf = client(&org);
    let id = sf
        .create("Account", &fields(json!({"Name": "Retry Co"})))
        .await
        .unwrap();

    // A lock error on an idempotent update: retried, then it lands.
    org.faults().inject_next(SalesforceFault::LockRow, 1);
    sf.update("Account", &id, &fields(json!({"Phone": "+33 1 23"})))
        .await
        .unwrap();
    assert_eq!(org.record(id.as_str()).unwrap()["Phone"], "+33 1 23");

    // Two 503s on a read: retried twice, then it succeeds.
    let sent = sf.requests_sent();
    org.faults().inject_next(SalesforceFault::Unavailable, 2);
    sf.get("Account", &id, &["Name"]).await.unwrap();
    assert_eq!(sf.requests_sent(), sent + 3);

    // More 503s than attempts allowed: the error surfaces as transient.
    org.faults().inject_next(SalesforceFault::Unavailable, 10);
    let err = sf.get("Account", &id, &["Name"]).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient);
    assert_eq!(err.api_failure().map(|f| f.status), Some(503));
    org.faults().clear();
}

#[tokio::test]
async fn a_create_is_not_replayed_after_an_ambiguous_failure() {
    let org = org().await;
    let sf = client(&org);
    sf.connect().await.unwrap();
    // A 503 on a POST: Salesforce may or may not have applied it, so the client does not
    // create twice; the caller's idempotent path (upsert) is the retry.
    org.faults().inject_next(SalesforceFault::Unavailable, 1);
    let sent = sf.requests_sent();
    let err = sf
        .create("Account", &fields(json!({"Name": "Once"})))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient);
    assert_eq!(sf.requests_sent(), sent + 1);

    // A lock error proves nothing was written: that POST is replayed.
    org.faults().inject_next(SalesforceFault::LockRow, 1);
    sf.create("Account", &fields(json!({"Name": "Locked once"})))
        .await
        .unwrap();
    let names: Vec<String> = org
        .records("Account")
        .iter()
        .filter_map(|r| r["Name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(names, vec!["Locked once"]);
}

#[tokio::test]
async fn validation_rule_fault_is_permanent() {
    let org = org().await;
    let sf = client(&org);
    org.faults().inject_next(SalesforceFault::ValidationRule, 1);
    let err = sf
        .create("Account", &fields(json!({"Name": "Rule"})))
        .await
        .unwrap_err();
    assert_eq!(
        err.api_failure().and_then(|f| f.code()),
        Some("FIELD_CUSTOM_VALIDATION_EXCEPTION")
    );
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(matches!(err, SalesforceError::Api { .. }));
}

#[tokio::test]
async fn timeouts_are_transient_and_only_idempotent_calls_are_replayed() {
    let org = crate::support::org_with(lf_sandbox_salesforce::SandboxConfig {
        slow_response: std::time::Duration::from_secs(3),
        ..Default::default()
    })
    .await;
    let sf = client_with(&org, |c| {
        c.request_timeout = std::time::Duration::from_millis(300)
    });
    let id = sf
        .create("Account", &fields(json!({"Name": "Slow Co"})))
        .await
        .unwrap();

    // A read whose response is held back past the timeout is retried and then answered.
    org.faults().inject_next(SalesforceFault::SlowResponse, 1);
    let sent = sf.requests_sent();
    let rec = sf.get("Account", &id, &["Name"]).await.unwrap();
    assert_eq!(rec.text("Name").as_deref(), Some("Slow Co"));
    assert_eq!(sf.requests_sent(), sent + 2);

    // A create that timed out may have been applied (here it was): it is not sent again.
    org.faults().inject_next(SalesforceFault::SlowResponse, 1);
    let sent = sf.requests_sent();
    let err = sf
        .create("Account", &fields(json!({"Name": "Maybe created"})))
        .await
        .unwrap_err();
    assert!(matches!(err, SalesforceError::Transport { .. }), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Transient);
    assert_eq!(sf.requests_sent(), sent + 1);
    let named = org
        .records("Account")
        .iter()
        .filter(|r| r["Name"] == "Maybe created")
        .count();
    assert_eq!(named, 1, "applied once, never twice");
}

#[tokio::test]
async fn retries_stop_at_the_deadline() {
    let org = org().await;
    let sf = client_with(&org, |c| {
        c.retry = lf_domain::RetryPolicy {
            base: std::time::Duration::from_millis(20),
            cap: std::time::Duration::from_millis(20),
            max_attempts: 1_000,
        }
    });
    let id = sf
        .create("Account", &fields(json!({"Name": "Deadline Co"})))
        .await
        .unwrap();

    // No time left: nothing is sent.
    let sent = sf.requests_sent();
    let err = sf
        .with_deadline(lf_domain::Deadline::after(std::time::Duration::ZERO))
        .get("Account", &id, &[])
        .await
        .unwrap_err();
    assert!(
        matches!(err, SalesforceError::DeadlineExceeded { .. }),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::Transient);
    assert_eq!(sf.requests_sent(), sent);

    // An outage longer than the deadline: the retries stop when time runs out, long before
    // the thousand attempts the policy would allow.
    org.faults()
        .inject_next(SalesforceFault::Unavailable, 5_000);
    let sent = sf.requests_sent();
    let err = sf
        .with_deadline(lf_domain::Deadline::after(
            std::time::Duration::from_millis(400),
        ))
        .get("Account", &id, &[])
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient);
    let attempts = sf.requests_sent() - sent;
    // At least the first attempt; how many more fit in 400 ms depends on the machine's load,
    // so only the bound that matters is asserted: far fewer than the policy would allow.
    assert!((1..1_000).contains(&attempts), "{attempts} attempts");
    org.faults().clear();

    // With time left the same failure is retried away.
    org.faults().inject_next(SalesforceFault::Unavailable, 1);
    sf.with_deadline(lf_domain::Deadline::after(std::time::Duration::from_secs(
        30,
    )))
    .get("Account", &id, &[])
    .await
    .unwrap();
}
