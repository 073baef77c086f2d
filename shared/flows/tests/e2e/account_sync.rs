//! account-sync end to end: both sandboxes, the real clients, the embedded store.

use lf_domain::port::{AuditAction, AuditLog, IntacctObject, IntacctPort, RecordUpdate};
use lf_domain::{Flow, RecordRef, SalesforceId};
use serde_json::{Value, json};

use crate::support::{World, intacct_message, message, text};

const FLOW: Flow = Flow::AccountSync;

/// Demo Account 1 (Northwind Holdings) and its top-level customer.
fn northwind() -> (String, &'static str) {
    (lf_sandbox_intacct::demo_account_id(1), "C-0001")
}

/// Demo Account 2 (Acme Manufacturing) and its customer, owned by the US entity.
fn acme() -> (String, &'static str) {
    (lf_sandbox_intacct::demo_account_id(2), "C-1001")
}

/// An Intacct edit through the real XML API (the client's update).
async fn edit_intacct(w: &World, object: IntacctObject, key: &str, fields: Value) {
    let entity = w
        .company
        .find(object.name(), object.id_field(), key)
        .first()
        .and_then(|r| r.get("MEGAENTITYID").cloned())
        .filter(|e| !e.is_empty())
        .map(|e| lf_domain::EntityId::parse(&e).unwrap());
    let Value::Object(fields) = fields else {
        panic!("fields are an object")
    };
    let results = w
        .ports
        .intacct
        .update(
            entity.as_ref(),
            &[RecordUpdate {
                object,
                key: key.to_owned(),
                fields,
            }],
        )
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

async fn last_action(w: &World, record: RecordRef) -> AuditAction {
    w.ports.audit.history(&record, 1).await.unwrap()[0].action
}

fn sf_ref(object: &str, id: &str) -> RecordRef {
    RecordRef::salesforce(object, &SalesforceId::parse(id).unwrap())
}

fn ia_ref(object: &str, key: &str) -> RecordRef {
    RecordRef {
        system: lf_domain::System::Intacct,
        object: object.to_owned(),
        id: key.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_salesforce_phone_change_reaches_the_customer_once_and_its_echo_is_dropped() {
    let w = World::start().await;
    let handler = w.account_sync();
    for (account, customer) in [northwind(), acme()] {
        w.org
            .update(&account, json!({"Phone": "+1 415 555 0199"}))
            .unwrap();
        let sf_before = w.salesforce_stamps();
        let ia_before = w.intacct_writes();
        let report = w
            .run(&handler, &[message(FLOW, "Account", &account, 1)])
            .await;
        assert_eq!(report.counts.done, 1, "{report:?}");
        assert_eq!(w.intacct_writes() - ia_before, 1, "one Intacct write");
        assert_eq!(
            w.salesforce_writes_since(&sf_before),
            0,
            "no Salesforce write"
        );
        let c = w.intacct_one("CUSTOMER", "CUSTOMERID", customer);
        assert_eq!(c["DISPLAYCONTACT.PHONE1"], "+1 415 555 0199");
        let stamp = c["WHENMODIFIED"].clone();
        // The first sync of a pair found by its link field also stores the link.
        assert!(matches!(
            last_action(&w, ia_ref("CUSTOMER", customer)).await,
            AuditAction::Updated | AuditAction::Linked
        ));

        // The write's echo, as the Smart Event (or the poller) delivers it.
        let sf_before = w.salesforce_stamps();
        let ia_before = w.intacct_writes();
        let echo = w
            .run(&handler, &[intacct_message(FLOW, "CUSTOMER", customer, 2)])
            .await;
        assert_eq!(echo.counts.done, 1, "{echo:?}");
        assert_eq!(
            w.intacct_writes(),
            ia_before,
            "the echo writes nothing to Intacct"
        );
        assert_eq!(
            w.salesforce_writes_since(&sf_before),
            0,
            "nor to Salesforce"
        );
        assert_eq!(
            last_action(&w, ia_ref("CUSTOMER", customer)).await,
            AuditAction::SkippedEcho
        );
        assert_eq!(
            w.intacct_one("CUSTOMER", "CUSTOMERID", customer)["WHENMODIFIED"],
            stamp
        );
        // And the Account's own change replayed is an echo too.
        let again = w
            .run(&handler, &[message(FLOW, "Account", &account, 3)])
            .await;
        assert_eq!(again.counts.done, 1);
        assert_eq!(w.intacct_writes(), ia_before);
        assert_eq!(w.salesforce_writes_since(&sf_before), 0);
        assert_eq!(
            last_action(&w, sf_ref("Account", &account)).await,
            AuditAction::SkippedEcho
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intacct_address_change_reaches_the_account_once_and_its_echo_is_dropped() {
    let w = World::start().await;
    let handler = w.account_sync();
    let (account, customer) = acme();
    edit_intacct(
        &w,
        IntacctObject::Customer,
        customer,
        json!({"DISPLAYCONTACT": {"MAILADDRESS": {"ADDRESS1": "9 Lake Shore Drive", "CITY": "Evanston"}}}),
    )
    .await;
    let sf_before = w.salesforce_stamps();
    let ia_before = w.intacct_writes();
    let report = w
        .run(&handler, &[intacct_message(FLOW, "CUSTOMER", customer, 1)])
        .await;
    assert_eq!(report.counts.done, 1, "{report:?}");
    assert_eq!(
        w.salesforce_writes_since(&sf_before),
        1,
        "one Salesforce write"
    );
    assert_eq!(w.intacct_writes(), ia_before, "no Intacct write");
    let a = w.record(&account);
    assert_eq!(text(&a, "BillingCity"), "Evanston");
    assert_eq!(text(&a, "BillingStreet"), "9 Lake Shore Drive");
    let stamp = text(&a, "SystemModstamp");

    let sf_before = w.salesforce_stamps();
    let echo = w
        .run(&handler, &[message(FLOW, "Account", &account, 2)])
        .await;
    assert_eq!(echo.counts.done, 1, "{echo:?}");
    assert_eq!(w.salesforce_writes_since(&sf_before), 0);
    assert_eq!(w.intacct_writes(), ia_before);
    assert_eq!(text(&w.record(&account), "SystemModstamp"), stamp);
    assert_eq!(
        last_action(&w, sf_ref("Account", &account)).await,
        AuditAction::SkippedEcho
    );
}
