//! opportunity-won end to end.

use lf_domain::Flow;
use serde_json::Value;

use crate::support::{World, message, messages, text};

const FLOW: Flow = Flow::OpportunityWon;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_deals_become_one_document_each_across_entities_and_currencies() {
    let w = World::start().await;
    let won: Vec<String> = w
        .records_where("Opportunity", "StageName", "Closed Won")
        .iter()
        .map(|r| text(r, "Id"))
        .collect();
    assert!(won.len() >= 5, "the demo has five won deals: {won:?}");
    let handler = w.opportunity_won();
    let report = w.run(&handler, &messages(FLOW, "Opportunity", &won)).await;
    assert_eq!(report.retry_ids().count(), 0, "{report:?}");
    assert_eq!(report.counts.parked, 0, "{report:?}");

    let mut entities = std::collections::BTreeSet::new();
    let mut currencies = std::collections::BTreeSet::new();
    for id in &won {
        assert_eq!(w.documents_of(id), 1, "one document for {id}");
        let opp = w.record(id);
        [
            text(&opp, "Intacct_Invoice_ID__c"),
            text(&opp, "Intacct_Sales_Order_ID__c"),
        ]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("a document id written back to {id}: {opp:?}"));
        assert_eq!(text(&opp, "Intacct_Sync_Status__c"), "Synced");
        let account = w.record(&text(&opp, "AccountId"));
        let customer = text(&account, "Intacct_Customer_ID__c");
        assert!(!customer.is_empty(), "customer id on the account of {id}");
        let entity = text(&account, "Intacct_Entity__c");
        entities.insert(entity);
        currencies.insert(text(&opp, "CurrencyIsoCode"));
    }
    assert!(entities.len() >= 3, "three entities: {entities:?}");
    // The deal with a primary CPQ quote is a sales order built from the quote's lines.
    let quoted: Vec<&String> = won
        .iter()
        .filter(|id| !text(&w.record(id), "SBQQ__PrimaryQuote__c").is_empty())
        .collect();
    assert_eq!(
        quoted.len(),
        1,
        "the demo has one deal with a primary quote"
    );
    let order = text(&w.record(quoted[0]), "Intacct_Sales_Order_ID__c");
    assert!(!order.is_empty(), "the quoted deal became a sales order");
    assert_eq!(
        w.company
            .count_where("SODOCUMENT", "SFDC_OPPORTUNITY_ID", quoted[0]),
        1
    );
    assert!(currencies.len() >= 2, "two currencies: {currencies:?}");

    // The same notifications again: nothing new anywhere.
    let before = w.company.usage().writes;
    let again = w.run(&handler, &messages(FLOW, "Opportunity", &won)).await;
    assert_eq!(again.retry_ids().count(), 0, "{again:?}");
    for id in &won {
        assert_eq!(w.documents_of(id), 1, "still one document for {id}");
    }
    assert_eq!(
        w.company.usage().writes,
        before,
        "a replay writes nothing to Intacct"
    );
}

/// Sessions made up front, so request counts are the flow's own.
async fn warm(w: &World) {
    for e in [None, Some("US"), Some("UK"), Some("DE"), Some("EDU")] {
        let entity = e.map(|e| lf_domain::EntityId::parse(e).unwrap());
        w.ports.intacct.session(entity.as_ref()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_deals_for_ten_new_accounts_cost_three_calls_on_each_side() {
    let w = World::start().await;
    let mut deals = Vec::new();
    let mut accounts = Vec::new();
    for n in 0..10 {
        let account = w.new_account(&format!("Batch Customer {n:02}"), "United States");
        deals.push(w.new_won_deal(&account, &format!("Batch deal {n:02}"), 1.0 + n as f64));
        accounts.push(account);
    }
    warm(&w).await;
    let handler = w.opportunity_won();
    let calls = w.org.api_calls();
    let requests = w.company.usage().requests;
    let report = w
        .run(&handler, &messages(FLOW, "Opportunity", &deals))
        .await;
    let sf_calls = w.org.api_calls() - calls;
    let ia_requests = w.company.usage().requests - requests;
    assert_eq!(report.counts.done, 10, "{report:?}");
    assert!(sf_calls <= 3, "Salesforce calls for the batch: {sf_calls}");
    assert!(
        ia_requests <= 3,
        "Intacct requests for the batch: {ia_requests}"
    );
    eprintln!(
        "10 deals, 10 new accounts: {sf_calls} Salesforce calls, {ia_requests} Intacct requests"
    );
    for (deal, account) in deals.iter().zip(&accounts) {
        assert_eq!(w.customers_of(account), 1, "one customer for {account}");
        assert_eq!(w.documents_of(deal), 1, "one invoice for {deal}");
        let opp = w.record(deal);
        assert!(!text(&opp, "Intacct_Invoice_ID__c").is_empty(), "{opp:?}");
        let acc = w.record(account);
        assert!(!text(&acc, "Intacct_Customer_ID__c").is_empty(), "{acc:?}");
        assert_eq!(text(&acc, "Intacct_Entity__c"), "US");
    }

    // Our own write-back comes back as a change: one read, nothing else.
    let calls = w.org.api_calls();
    let requests = w.company.usage().requests;
    let echo = w
        .run(&handler, &messages(FLOW, "Opportunity", &deals))
        .await;
    assert_eq!(echo.counts.done, 10, "{echo:?}");
    assert_eq!(w.org.api_calls() - calls, 1, "a synced deal costs one read");
    assert_eq!(
        w.company.usage().requests - requests,
        0,
        "and no Intacct request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_reordered_notifications_make_one_document() {
    let w = World::start().await;
    let account = w.new_account("Duplicate Delivery Ltd", "United States");
    let deal = w.new_won_deal(&account, "Duplicated deal", 2.0);
    let other = w.new_won_deal(&account, "Second deal, same account", 1.0);
    let handler = w.opportunity_won();
    // One batch naming the deal three times and the other once, out of order.
    let batch = vec![
        message(FLOW, "Opportunity", &other, 0),
        message(FLOW, "Opportunity", &deal, 1),
        message(FLOW, "Opportunity", &deal, 2),
        message(FLOW, "Opportunity", &deal, 3),
    ];
    let report = w.run(&handler, &batch).await;
    assert_eq!(report.counts.done, 4, "{report:?}");
    assert_eq!(w.documents_of(&deal), 1);
    assert_eq!(w.documents_of(&other), 1);
    assert_eq!(
        w.customers_of(&account),
        1,
        "two deals of one account: one customer"
    );
    // A delayed copy of the first notification, after the record has changed since.
    w.org
        .update(
            &deal,
            serde_json::json!({"Description": "edited after closing"}),
        )
        .unwrap();
    let late = w
        .run(&handler, &[message(FLOW, "Opportunity", &deal, 9)])
        .await;
    assert_eq!(late.counts.done, 1, "{late:?}");
    assert_eq!(
        w.documents_of(&deal),
        1,
        "an edit after closing creates nothing new"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_intacct_create_makes_no_duplicate_on_redelivery() {
    let w = World::start().await;
    let deal = w.new_won_deal(
        &w.new_account("Crash Test GmbH", "United States"),
        "Crash deal",
        3.0,
    );
    warm(&w).await;
    let handler = w.opportunity_won();
    // The read request and the customer's create pass; from the document's create on, every answer is lost after the gateway
    // committed it, until the client gives up: the process "dies" between the create and the
    // link, with nothing written back.
    w.company
        .faults()
        .inject_next(lf_sandbox_intacct::IntacctFault::Latency, 2);
    w.company
        .faults()
        .inject_next(lf_sandbox_intacct::IntacctFault::LostResponse, 200);
    let first = w
        .run(&handler, &[message(FLOW, "Opportunity", &deal, 0)])
        .await;
    assert_eq!(
        first.retry_ids().count(),
        1,
        "the lost create is retried: {first:?}"
    );
    assert_eq!(w.documents_of(&deal), 1, "the create was committed");
    assert!(text(&w.record(&deal), "Intacct_Invoice_ID__c").is_empty());
    w.company.faults().clear();
    let again = w
        .run(&handler, &[message(FLOW, "Opportunity", &deal, 1)])
        .await;
    assert_eq!(again.counts.done, 1, "{again:?}");
    assert_eq!(
        w.documents_of(&deal),
        1,
        "redelivery finds the document, creates none"
    );
    assert!(!text(&w.record(&deal), "Intacct_Invoice_ID__c").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_the_concurrency_cap_delay_but_never_duplicate() {
    let w = World::start_with(|c| c.max_concurrent_requests = 1).await;
    w.company.set_concurrency_limit(1);
    w.company
        .faults()
        .set_rate(lf_sandbox_intacct::IntacctFault::RateLimited, 0.3);
    let won: Vec<String> = w
        .records_where("Opportunity", "StageName", "Closed Won")
        .iter()
        .map(|r| text(r, "Id"))
        .collect();
    let handler = w.opportunity_won();
    let mut pending = won.clone();
    for _round in 0..20 {
        if pending.is_empty() {
            break;
        }
        let report = w
            .run(&handler, &messages(FLOW, "Opportunity", &pending))
            .await;
        assert_eq!(report.counts.parked, 0, "{report:?}");
        let retry: Vec<String> = report.retry_ids().map(str::to_owned).collect();
        pending.retain(|id| retry.iter().any(|m| m.ends_with(id.as_str())));
    }
    assert!(
        pending.is_empty(),
        "every deal synced within 20 deliveries: {pending:?}"
    );
    for id in &won {
        assert_eq!(w.documents_of(id), 1, "one document for {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_product_code_parks_the_deal_with_a_readable_reason() {
    let w = World::start().await;
    let account = w.new_account("Unknown Product Inc", "United States");
    let product = w
        .org
        .insert(
            "Product2",
            serde_json::json!({"Name": "Not in Intacct", "ProductCode": "NO-SUCH-ITEM", "Family": "Services", "IsActive": true}),
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
            serde_json::json!({"Pricebook2Id": standard, "Product2Id": product, "UnitPrice": 100.0, "CurrencyIsoCode": "USD", "IsActive": true}),
        )
        .unwrap();
    let deal = w
        .org
        .insert(
            "Opportunity",
            serde_json::json!({"Name": "Deal with a product Intacct does not know", "AccountId": account,
                   "StageName": "Prospecting", "CloseDate": "2026-03-31", "CurrencyIsoCode": "USD",
                   "Pricebook2Id": standard}),
        )
        .unwrap();
    w.org
        .insert(
            "OpportunityLineItem",
            serde_json::json!({"OpportunityId": deal, "PricebookEntryId": entry, "Quantity": 1, "UnitPrice": 100.0}),
        )
        .unwrap();
    w.close_won(&deal);
    let handler = w.opportunity_won();
    let report = w
        .run(&handler, &[message(FLOW, "Opportunity", &deal, 0)])
        .await;
    assert_eq!(report.counts.parked, 1, "{report:?}");
    assert_eq!(w.documents_of(&deal), 0);
    let opp = w.record(&deal);
    assert_eq!(text(&opp, "Intacct_Sync_Status__c"), "Error");
    let reason = text(&opp, "Intacct_Sync_Error__c");
    assert!(
        reason.contains("NO-SUCH-ITEM"),
        "the reason names the product: {reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_that_do_not_add_up_to_the_amount_park_the_deal_with_the_difference() {
    let mut w = World::start().await;
    // A mapping that leaves out single-quantity lines: the invoice would not carry the whole
    // deal, which the flow refuses.
    let mut bundle = lf_mapping::SpecBundle::shipped();
    let (name, spec) = bundle
        .files()
        .find(|(n, _)| n.starts_with("opportunity-won"))
        .map(|(n, t)| (n.to_owned(), t.to_owned()))
        .unwrap();
    let filtered = spec.replacen(
        "        source: $.OpportunityLineItems.records[*]\n        required: true\n",
        "        source: $.OpportunityLineItems.records[*]\n        required: true\n        when: line.Quantity > 1.0\n",
        1,
    );
    assert_ne!(filtered, spec, "the invoice lines were found in the spec");
    bundle.insert(name, filtered);
    w.specs = std::sync::Arc::new(bundle.compile().unwrap());
    let account = w.new_account("Partial Lines Co", "United States");
    let deal = w.new_won_deal(&account, "Two-line deal", 2.0);
    let entry = w
        .org
        .records("PricebookEntry")
        .into_iter()
        .filter(|e| e.get("CurrencyIsoCode").and_then(Value::as_str) == Some("USD"))
        .nth(1)
        .unwrap();
    w.org
        .insert(
            "OpportunityLineItem",
            serde_json::json!({"OpportunityId": deal, "PricebookEntryId": entry["Id"], "Quantity": 1, "UnitPrice": 250.0}),
        )
        .unwrap();
    let handler = w.opportunity_won();
    let report = w
        .run(&handler, &[message(FLOW, "Opportunity", &deal, 0)])
        .await;
    assert_eq!(report.counts.parked, 1, "{report:?}");
    assert_eq!(w.documents_of(&deal), 0);
    let reason = text(&w.record(&deal), "Intacct_Sync_Error__c");
    assert!(
        reason.contains("difference -250"),
        "the difference is shown: {reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_webhook_is_caught_by_the_poller() {
    use lf_flows::{Consumer, ConsumerOptions};
    use lf_intake::{ChangePoller, FlowQueues, PollStream, PollerConfig, RoutingTable};

    let w = World::start().await;
    // The org sends no Outbound Message (none is configured): the close is "lost".
    let account = w.new_account("Lost Webhook Ltd", "United States");
    let deal = w.new_won_deal(&account, "Deal whose notification was lost", 2.0);
    let dir = tempfile::tempdir().unwrap();
    let db = lf_embedded::Database::open(
        dir.path().join("poller.db"),
        std::sync::Arc::new(lf_domain::SystemClock),
    )
    .unwrap();
    let queue = db.queue("opportunity-won").unwrap();
    let routes = RoutingTable::standard().only(&[FLOW]);
    let poller = ChangePoller::new(
        w.ports.salesforce.clone(),
        w.ports.intacct.clone(),
        db.sync_state(),
        FlowQueues::new().with(FLOW, queue.clone()),
        PollStream::from_routes(&routes),
        PollerConfig::default(),
        std::sync::Arc::new(lf_domain::SystemClock),
    )
    .unwrap();
    // A change is read once its whole second has passed (the poller's cursor is exclusive
    // at second precision, as SystemModstamp filters are): let this one pass.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let polled = poller.poll_once().await;
    assert!(!polled.failed(), "{polled:?}");
    assert!(
        polled.queued() >= 1,
        "the poller queued the change: {polled:?}"
    );

    let consumer = Consumer::new(
        queue,
        w.opportunity_won(),
        w.parked.clone(),
        ConsumerOptions {
            wait: std::time::Duration::from_millis(10),
            ..Default::default()
        },
    );
    let mut done = 0;
    while let Ok(report) = consumer.run_once().await {
        if report.processed() == 0 {
            break;
        }
        done += report.counts.done;
    }
    assert!(done >= 1, "the consumer handled the polled change");
    assert_eq!(w.documents_of(&deal), 1);
    assert!(!text(&w.record(&deal), "Intacct_Invoice_ID__c").is_empty());
    // The next run finds nothing new to queue for this deal beyond our own write-back.
    assert!(!poller.poll_once().await.failed());
    assert_eq!(w.documents_of(&deal), 1);
}
