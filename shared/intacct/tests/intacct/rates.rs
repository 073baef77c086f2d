//! Exchange rates read from the Intacct sandbox over loopback: the rates of a period, and the
//! same rate the company converted a document at.

use std::sync::Arc;

use chrono::NaiveDate;
use lf_domain::{EntityId, ManualClock};
use lf_intacct::Function;
use lf_intacct::record::{InvoiceCreate, InvoiceLineCreate};
use lf_sandbox_intacct::{DataSet, Sandbox, SandboxConfig};
use rust_decimal::Decimal;

use crate::loopback::{connector, sandbox};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// The demo company on 06/15/2026: monthly rates from 06/01/2025 on.
async fn company() -> Sandbox {
    let now = d(2026, 6, 15).and_hms_opt(9, 0, 0).unwrap().and_utc();
    sandbox(SandboxConfig {
        seed: DataSet::Demo,
        clock: Arc::new(ManualClock::new(now)),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn the_rates_of_a_period_are_the_ones_the_company_converts_at() {
    let company = company().await;
    let client = connector(&company);
    let us = EntityId::parse("US").unwrap();
    client.session(Some(&us)).await.unwrap();
    let billed = company.api_transactions();
    let span = (d(2026, 1, 15), d(2026, 3, 31));
    let eur = client
        .exchange_rates(Some(&us), "EUR", "USD", "Intacct Daily Rate", span)
        .await
        .unwrap();
    // Two queries: the rate record, then its entries.
    assert_eq!(company.api_transactions(), billed + 2);
    let starts: Vec<NaiveDate> = eur.entries.iter().map(|(s, _)| *s).collect();
    assert_eq!(starts, vec![d(2026, 1, 1), d(2026, 2, 1), d(2026, 3, 1)]);
    assert_eq!(eur.on(d(2026, 1, 20)), Some(Decimal::new(10829, 4)));

    // The company held EUR->USD: USD->EUR comes out inverted, from the stored reciprocal.
    let usd = client
        .exchange_rates(Some(&us), "USD", "EUR", "Intacct Daily Rate", span)
        .await
        .unwrap();
    assert_eq!(usd.on(d(2026, 1, 20)), Some(Decimal::new(923_446, 6)));
    // No JPY rate at all: an empty table that says so.
    let jpy = client
        .exchange_rates(Some(&us), "JPY", "USD", "Intacct Daily Rate", span)
        .await
        .unwrap();
    let err = jpy.require(d(2026, 2, 1)).unwrap_err().to_string();
    assert!(
        err.contains("no Intacct Daily Rate rate from JPY to USD"),
        "{err}"
    );

    // A EUR invoice on 02/10/2026 is converted by the company at the rate read for that day.
    let day = d(2026, 2, 10);
    let invoice = InvoiceCreate {
        customer_id: "C-1001".into(),
        date_created: Some(day),
        term_name: Some("Net 30".into()),
        currency: Some("EUR".into()),
        exch_rate_type: Some("Intacct Daily Rate".into()),
        lines: vec![InvoiceLineCreate {
            gl_account_no: Some("4000".into()),
            amount: Decimal::new(100_000, 2),
            ..Default::default()
        }],
        ..Default::default()
    };
    let created = client
        .call(
            Some(&us),
            Function::raw(invoice.to_element().unwrap(), true),
        )
        .await
        .unwrap();
    let key = created.key.unwrap();
    let stored = &company.find("ARINVOICE", "RECORDNO", &key)[0];
    let rate = eur.require(day).unwrap();
    assert_eq!(stored["EXCHANGE_RATE"], rate.to_string());
    assert_eq!(
        stored["TOTALENTERED"],
        format!("{:.2}", (Decimal::new(1000, 0) * rate).round_dp(2))
    );
    company.shutdown().await;
}
