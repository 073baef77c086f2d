//! revenue-reconciliation end to end: the last month reconciled across three Intacct entities
//! (US, UK, DE) and three currencies against the deals the test closes in Salesforce, with the
//! Demo seed's own recognized revenue in that month, then rerun.

use lf_domain::port::{AuditAction, AuditLog, Month};
use lf_domain::{RecordRef, SalesforceId};
use lf_flows::Reconciliation;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::support::*;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[tokio::test]
async fn a_month_across_three_entities_matches_the_hand_computed_table_and_reruns_write_nothing() {
    let world = World::start().await;
    let period = last_month();
    let p = period.to_string();
    let setup = ReconciliationSetup::new(&world, period).await;

    let flow = world.revenue_reconciliation();
    let (sf_start, intacct_start) = (world.org.api_calls(), world.company.api_transactions());
    let rec = flow.run(period).await.expect("the reconciliation runs");
    let first_sf = world.org.api_calls() - sf_start;
    eprintln!(
        "first run: {first_sf} Salesforce calls, {} Intacct transactions",
        world.company.api_transactions() - intacct_start
    );
    assert_eq!(
        first_sf, 5,
        "three reads, one upsert of every record, one update of every deal"
    );
    assert!(rec.failures.is_empty(), "{:?}", rec.failures);

    // Hand-computed from what the test set up and the Demo seed's schedules (see
    // ReconciliationSetup): Salesforce rates for the month EUR 0.92 and GBP 0.80 per USD;
    // Intacct's rates in force on the month's last day 1.0836 (EUR→USD, ECB Reference, the DE
    // entity's type) and 1.2654 (GBP→USD, Intacct Daily Rate, the UK entity's).
    let table: Vec<(String, &str, Decimal, Decimal, Decimal, Decimal, Decimal)> = rec
        .rows
        .iter()
        .map(|r| {
            (
                r.account.as_str().to_owned(),
                r.currency.as_str(),
                r.booked,
                r.recognized,
                r.variance,
                r.booked_reporting,
                r.recognized_reporting,
            )
        })
        .collect();
    let row = |a: &SalesforceId, c, b, r, v, br, rr| {
        (
            a.as_str().to_owned(),
            c,
            dec(b),
            dec(r),
            dec(v),
            dec(br),
            dec(rr),
        )
    };
    let mut expected = vec![
        // 5000 booked; 1000 (Demo INV-10001, month 3 of 12000/12) + 100 (this deal's 1200/12).
        row(&setup.acme, "USD", "5000", "1100", "3900", "5000", "1100"),
        // 2400 booked = 2608.70 USD; 600 (Demo INV-30001) + 200 (2400/12) = 800 × 1.0836.
        row(
            &setup.rhein,
            "EUR",
            "2400",
            "800",
            "1600",
            "2608.70",
            "866.88",
        ),
        // 1000 booked = 1250 USD; 300 (Demo INV-20001, 3600/12) × 1.2654 = 379.62.
        row(
            &setup.oakwood,
            "GBP",
            "1000",
            "300",
            "700",
            "1250",
            "379.62",
        ),
        // A new customer with a deal and no revenue yet.
        row(&setup.newco, "USD", "700", "0", "700", "700", "0"),
    ];
    let mut table_sorted = table.clone();
    table_sorted.sort();
    expected.sort();
    assert_eq!(table_sorted, expected);

    assert_eq!(rec.totals.booked, dec("9558.70"));
    assert_eq!(rec.totals.recognized, dec("2346.50"));
    assert_eq!(rec.totals.variance, dec("7212.20"));
    assert_eq!(
        rec.totals.unmatched_revenue,
        dec("108.36"),
        "100 EUR × 1.0836"
    );
    assert_eq!(rec.totals.unmatched_bookings, dec("700"));
    assert_eq!(rec.unmatched_revenue.len(), 1);
    assert_eq!(rec.unmatched_revenue[0].customer_id, "C-3002");
    assert_eq!(rec.unmatched_revenue[0].amount.amount, dec("100"));
    assert_eq!(rec.unmatched_bookings.len(), 1);
    assert_eq!(rec.unmatched_bookings[0].opportunity, setup.newco_deal);
    let rhein_row = rec.rows.iter().find(|r| r.account == setup.rhein).unwrap();
    assert_eq!(rhein_row.customers, vec!["C-3001".to_owned()]);
    assert_eq!(rhein_row.recognized_by_opportunity, dec("200"));

    // Salesforce holds one record per account and period with the same numbers.
    assert_eq!(rec.writes.reconciliations, 4);
    assert_eq!(rec.writes.opportunities, 4);
    let records = world.records_where("Revenue_Reconciliation__c", "Period__c", &p);
    assert_eq!(records.len(), 4, "{records:?}");
    let rhein = records
        .iter()
        .find(|r| text(r, "Account__c") == setup.rhein.as_str())
        .expect("Rhein's record");
    assert_eq!(
        text(rhein, "Reconciliation_Key__c"),
        format!("{}:{p}", setup.rhein)
    );
    assert_eq!(text(rhein, "CurrencyIsoCode"), "EUR");
    assert_eq!(number(rhein, "Booked_Amount__c"), dec("2400"));
    assert_eq!(number(rhein, "Recognized_Amount__c"), dec("800"));
    assert_eq!(number(rhein, "Variance__c"), dec("1600"));
    let rhein_id = SalesforceId::parse(&text(rhein, "Id")).unwrap();
    let audit = world
        .ports
        .audit
        .history(
            &RecordRef::salesforce("Revenue_Reconciliation__c", &rhein_id),
            10,
        )
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].action, AuditAction::Created);
    assert!(
        audit[0].detail.contains("variance 1600"),
        "{}",
        audit[0].detail
    );
    // Each deal: the revenue of its own documents.
    for (deal, recognized, variance) in [
        (&setup.acme_deal, "100", "4900"),
        (&setup.rhein_deal, "200", "2200"),
        (&setup.oakwood_deal, "0", "1000"),
        (&setup.newco_deal, "0", "700"),
    ] {
        let o = world.record(deal.as_str());
        assert_eq!(
            number(&o, "Recognized_Revenue__c"),
            dec(recognized),
            "{deal}"
        );
        assert_eq!(number(&o, "Revenue_Variance__c"), dec(variance), "{deal}");
    }

    // The rerun: the same result, no write, the same records.
    let sf_before = world.org.api_calls();
    let intacct_before = world.company.api_transactions();
    let again = flow.run(period).await.expect("the rerun runs");
    let sf_calls = world.org.api_calls() - sf_before;
    let intacct_calls = world.company.api_transactions() - intacct_before;
    assert_eq!(
        again.writes,
        Default::default(),
        "nothing changed: nothing written"
    );
    assert_eq!(again.rows, rec.rows);
    assert_eq!(again.totals, rec.totals);
    assert_eq!(
        sf_calls, 3,
        "reads only: won deals, dated rates, the period's records"
    );
    eprintln!("rerun: {sf_calls} Salesforce calls, {intacct_calls} Intacct transactions");
    let after = world.records_where("Revenue_Reconciliation__c", "Period__c", &p);
    assert_eq!(after.len(), 4, "a rerun updates, never duplicates");

    // A deal changed in Salesforce: the rerun writes that account's record and that deal only.
    world
        .org
        .update(setup.oakwood_deal.as_str(), json!({"Amount": 1500}))
        .unwrap();
    let changed: Reconciliation = flow.run(period).await.expect("the third run");
    assert_eq!(changed.writes.reconciliations, 1);
    assert_eq!(changed.writes.opportunities, 1);
    let oakwood = world
        .records_where(
            "Revenue_Reconciliation__c",
            "Account__c",
            setup.oakwood.as_str(),
        )
        .into_iter()
        .find(|r| text(r, "Period__c") == p)
        .unwrap();
    assert_eq!(number(&oakwood, "Variance__c"), dec("1200"));
    assert_eq!(
        world
            .records_where("Revenue_Reconciliation__c", "Period__c", &p)
            .len(),
        4
    );
}

#[tokio::test]
async fn the_report_of_a_run_lists_accounts_unmatched_items_and_rates() {
    let world = World::start().await;
    let period = last_month();
    let setup = ReconciliationSetup::new(&world, period).await;
    let rec = world.revenue_reconciliation().run(period).await.unwrap();
    let html = rec.to_html();
    assert!(html.contains(&format!(
        "Revenue reconciliation <span class=\"period\">{period}"
    )));
    assert!(html.contains(&format!("data-account=\"{}\"", setup.rhein)));
    assert!(html.contains("9,558.70 USD"), "the booked total");
    assert!(html.contains("C-3002"), "the unmatched revenue");
    assert_eq!(
        html.matches("<tr class=\"deal\">").count(),
        4,
        "the four deals"
    );
    assert!(html.contains(setup.newco_deal.as_str()));
    assert!(
        html.contains("Intacct EXCHANGERATE (ECB Reference)"),
        "the rates used"
    );
    assert!(html.contains("Salesforce DatedConversionRate"));
    assert!(!html.contains("<script"), "no script");
    for external in ["src=", "href=", "<link", "url(", "@import"] {
        assert!(!html.contains(external), "no external asset ({external})");
    }
    let csv = rec.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "header and four accounts: {csv}");
    assert!(lines[0].starts_with("period,account_id,account_name"));
    assert!(
        lines
            .iter()
            .any(|l| l.contains(setup.rhein.as_str()) && l.contains(",EUR,2400.00,800.00,1600.00,")),
        "{csv}"
    );
}

fn last_month() -> Month {
    Month::of(chrono::Utc::now().date_naive()).previous()
}

fn number(record: &serde_json::Map<String, Value>, field: &str) -> Decimal {
    match record.get(field) {
        Some(Value::Number(n)) => n.to_string().parse().unwrap(),
        Some(Value::String(s)) => s.parse().unwrap(),
        other => panic!("{field} is {other:?}"),
    }
}
