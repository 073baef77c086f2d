//! Replay end to end: a deal parked because Intacct does not know one of its product codes,
//! the item added in Intacct, `replay` → the deal syncs.

use std::time::Duration;

use lf_domain::Flow;
use lf_domain::port::{ParkedFailures, Queue};
use lf_embedded::DeadLetter;
use lf_flows::replay::{FlowQueue, ReplayFilter, ReplayOptions, ReplayResult, replay};
use serde_json::{Value, json};

use crate::support::{World, message, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deal_parked_for_a_missing_product_code_syncs_after_the_code_is_added_and_replayed() {
    let w = World::start().await;
    let account = w.new_account("Replayed Product Inc", "United States");
    let product = w
        .org
        .insert(
            "Product2",
            json!({"Name": "Added later", "ProductCode": "ADDED-LATER", "Family": "Services", "IsActive": true}),
        )
        .unwrap();
    let standard = w
        .org
        .records("Pricebook2")
        .into_iter()
        .find(|p| p.get("IsStandard") == Some(&Value::Bool(true)))
        .map(|p| text(&p, "Id"))
        .expect("a standard price book");
    let entry = w
        .org
        .insert(
            "PricebookEntry",
            json!({"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 100.0,
                   "CurrencyIsoCode": "USD", "IsActive": true}),
        )
        .unwrap();
    let deal = w
        .org
        .insert(
            "Opportunity",
            json!({"Name": "Deal replayed after the item exists", "AccountId": account,
                   "StageName": "Prospecting", "CloseDate": "2026-03-31", "CurrencyIsoCode": "USD",
                   "Pricebook2Id": standard}),
        )
        .unwrap();
    w.org
        .insert(
            "OpportunityLineItem",
            json!({"OpportunityId": deal, "PricebookEntryId": entry, "Quantity": 2, "UnitPrice": 100.0}),
        )
        .unwrap();
    w.close_won(&deal);

    let handler = w.opportunity_won();
    let report = w
        .run(
            &handler,
            &[message(Flow::OpportunityWon, "Opportunity", &deal, 0)],
        )
        .await;
    assert_eq!(report.counts.parked, 1, "{report:?}");
    assert_eq!(w.documents_of(&deal), 0);
    let parked = w.parked.list(Some(Flow::OpportunityWon), 10).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert!(
        parked[0].reason.contains("ADDED-LATER"),
        "{}",
        parked[0].reason
    );

    // The finance team adds the item in Intacct, through the API.
    let mut item = serde_json::Map::new();
    item.insert("ITEMID".into(), json!("ADDED-LATER"));
    item.insert("NAME".into(), json!("Added later"));
    item.insert("ITEMTYPE".into(), json!("Non-Inventory"));
    item.insert("STATUS".into(), json!("active"));
    item.insert("GLACCOUNTNO".into(), json!("4000"));
    w.ports
        .intacct
        .call(
            None,
            lf_intacct::Function::create_fields("ITEM", &item).unwrap(),
        )
        .await
        .unwrap();

    let queue = FlowQueue {
        flow: Flow::OpportunityWon,
        queue: w
            .db
            .queue_with_dead_letter(
                "opportunity-won",
                DeadLetter {
                    queue: "opportunity-won-dlq".into(),
                    max_receives: 5,
                },
            )
            .unwrap(),
        dead_letter: w.db.queue("opportunity-won-dlq").unwrap(),
    };
    let replayed = replay(
        &w.parked,
        std::slice::from_ref(&queue),
        &ReplayFilter {
            flow: None,
            record_id: Some(deal.clone()),
        },
        &ReplayOptions {
            delay: Duration::ZERO,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(replayed.items.len(), 1, "{replayed:?}");
    assert_eq!(replayed.items[0].result, ReplayResult::Requeued);
    assert!(
        replayed.items[0].last_error.contains("ADDED-LATER"),
        "the last error comes with it: {}",
        replayed.items[0].last_error
    );
    assert!(w.parked.list(None, 10).await.unwrap().is_empty());

    // The consumer takes the replayed change from the queue.
    let messages = queue
        .queue
        .receive(10, Duration::from_secs(30), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    let report = w.run(&handler, &messages).await;
    assert_eq!(report.counts.done, 1, "{report:?}");
    assert_eq!(report.counts.parked, 0, "{report:?}");
    assert_eq!(w.documents_of(&deal), 1, "the deal is invoiced once");
    let opp = w.record(&deal);
    assert_eq!(text(&opp, "Intacct_Sync_Status__c"), "Synced");
    assert!(w.parked.list(None, 10).await.unwrap().is_empty());
}
