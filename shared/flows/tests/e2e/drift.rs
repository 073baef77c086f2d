//! Drift checks end to end: linked pairs edited out of band, found with their owners, and
//! repaired by the owner's values.

use lf_domain::port::IntacctObject;
use lf_domain::{Flow, System};
use lf_flows::DriftOptions;
use serde_json::json;

use crate::account_sync::edit_intacct;
use crate::support::{World, intacct_message, message, text};

const FLOW: Flow = Flow::AccountSync;

/// Demo Accounts 1 (top-level customer C-0001) and 2 (C-1001, in the US entity), linked and
/// synced once by account-sync.
async fn linked_pairs(w: &World) -> [(String, &'static str); 2] {
    let pairs = [
        (lf_sandbox_intacct::demo_account_id(1), "C-0001"),
        (lf_sandbox_intacct::demo_account_id(2), "C-1001"),
    ];
    let handler = w.account_sync();
    let ids: Vec<String> = pairs.iter().map(|(a, _)| a.clone()).collect();
    let report = w
        .run(&handler, &crate::support::messages(FLOW, "Account", &ids))
        .await;
    assert_eq!(report.counts.done, 2, "{report:?}");
    pairs
}

async fn check(w: &World, repair: bool) -> lf_flows::DriftReport {
    let handler = w.account_sync();
    let mut seen = Vec::new();
    let report = handler
        .check_drift(
            &DriftOptions {
                repair,
                page_size: 1,
                ..DriftOptions::default()
            },
            |n| seen.push(n),
        )
        .await
        .unwrap();
    assert_eq!(
        seen.last().copied(),
        Some(report.checked),
        "progress reaches the pairs checked"
    );
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_band_edits_are_found_with_their_owner_and_repaired_by_its_value() {
    let w = World::start().await;
    let [(northwind, c1), (acme, c2)] = linked_pairs(&w).await;
    let name = w.intacct_one("CUSTOMER", "CUSTOMERID", c1)["NAME"].clone();
    let limit = text(&w.record(&acme), "Intacct_Credit_Limit__c");

    let clean = check(&w, false).await;
    assert_eq!(
        (clean.checked, clean.agreeing),
        (2, 2),
        "{}",
        clean.render()
    );
    assert!(
        clean.drifted.is_empty() && clean.clean(),
        "{}",
        clean.render()
    );

    // Out of band: the customer renamed in Intacct (Salesforce owns NAME), the credit limit
    // edited on the Account (Intacct owns it). No event reaches the sync.
    edit_intacct(
        &w,
        IntacctObject::Customer,
        c1,
        json!({"NAME": "Northwind (renamed by hand)"}),
    )
    .await;
    w.org
        .update(&acme, json!({"Intacct_Credit_Limit__c": 1.0}))
        .unwrap();

    let sf_calls = w.org.api_calls();
    let ia_before = w.company.usage();
    let found = check(&w, false).await;
    assert_eq!(
        (found.checked, found.agreeing),
        (2, 0),
        "{}",
        found.render()
    );
    assert_eq!(found.drifted.len(), 2, "{}", found.render());
    assert_eq!(
        w.company.usage().writes,
        ia_before.writes,
        "a check writes nothing"
    );
    // Page size 1 over two pairs: per page one Salesforce read and one Intacct request.
    assert_eq!(w.org.api_calls() - sf_calls, 2);
    assert_eq!(w.company.usage().reads - ia_before.reads, 2);

    let renamed = found
        .drifted
        .iter()
        .find(|d| d.intacct.id == c1)
        .expect("the renamed customer drifted");
    assert_eq!(renamed.salesforce.id, northwind);
    assert_eq!(renamed.fields.len(), 1, "{:?}", renamed.fields);
    let f = &renamed.fields[0];
    assert_eq!(
        (f.target, f.field.as_str(), f.owner),
        (System::Intacct, "NAME", System::Salesforce)
    );
    assert_eq!(f.current, json!("Northwind (renamed by hand)"));
    assert_eq!(f.owner_value, json!(name));
    assert!(
        f.why.contains("Salesforce is its system of record"),
        "{}",
        f.why
    );

    let limited = found
        .drifted
        .iter()
        .find(|d| d.intacct.id == c2)
        .expect("the edited credit limit drifted");
    // The credit limit goes back to Intacct's value. The edit also made the Account the
    // record modified last, so its last-modified fields the customer lacks (the seeded
    // customer has no display-contact address) are owed to Intacct — what account-sync would
    // have written had it heard of the edit.
    let (owned, rest): (Vec<_>, Vec<_>) = limited
        .fields
        .iter()
        .partition(|f| f.field == "Intacct_Credit_Limit__c");
    assert_eq!(owned.len(), 1, "{:?}", limited.fields);
    let f = owned[0];
    assert_eq!((f.target, f.owner), (System::Salesforce, System::Intacct));
    assert_eq!(f.current, json!(1.0));
    assert!(
        f.why.contains("Intacct is its system of record"),
        "{}",
        f.why
    );
    assert!(
        rest.iter().all(|f| f.target == System::Intacct
            && f.owner == System::Salesforce
            && f.why == "last-modified: Salesforce was modified last"),
        "{rest:?}"
    );
    assert!(found.render().contains("NAME"), "{}", found.render());

    // Repair: each pair gets its owner's value, on the side that had it wrong.
    let repaired = check(&w, true).await;
    assert_eq!(
        (repaired.drifted.len(), repaired.repaired()),
        (2, 2),
        "{}",
        repaired.render()
    );
    assert!(repaired.clean(), "{}", repaired.render());
    assert_eq!(w.intacct_one("CUSTOMER", "CUSTOMERID", c1)["NAME"], name);
    assert_eq!(text(&w.record(&acme), "Intacct_Credit_Limit__c"), limit);

    // The pairs agree now, and the repair writes come back as echoes.
    let after = check(&w, false).await;
    assert_eq!(
        (after.checked, after.agreeing),
        (2, 2),
        "{}",
        after.render()
    );
    let handler = w.account_sync();
    let ia_writes = w.company.usage().writes;
    let echoes = w
        .run(
            &handler,
            &[
                intacct_message(FLOW, "CUSTOMER", c1, 7),
                message(FLOW, "Account", &acme, 8),
            ],
        )
        .await;
    assert_eq!(echoes.counts.echoes, 2, "{echoes:?}");
    assert_eq!(w.company.usage().writes, ia_writes);

    // Only the pairings asked for are checked.
    let handler = w.account_sync();
    let contacts = handler
        .check_drift(
            &DriftOptions {
                objects: vec!["contact".into()],
                ..DriftOptions::default()
            },
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(contacts.checked, 0, "{}", contacts.render());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_whose_record_is_gone_is_reported_dangling_not_repaired() {
    let w = World::start().await;
    let [(northwind, _), _] = linked_pairs(&w).await;
    w.org.delete(&northwind).unwrap();
    let report = check(&w, true).await;
    assert_eq!(report.checked, 1, "{}", report.render());
    assert_eq!(report.dangling.len(), 1, "{}", report.render());
    assert_eq!(report.dangling[0].id, northwind);
    assert!(report.render().contains("dangling"), "{}", report.render());
}
