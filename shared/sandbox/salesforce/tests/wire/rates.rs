//! `DatedConversionRate`: the period rates of advanced currency management, read with SOQL.

use lf_sandbox_salesforce::DataSet;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::start;

const ON_MARCH_15: &str = "SELECT IsoCode, ConversionRate, StartDate, NextStartDate FROM DatedConversionRate \
     WHERE IsoCode = 'EUR' AND StartDate <= 2026-03-15 AND NextStartDate > 2026-03-15";

#[tokio::test]
async fn seeded_rates_cover_each_period_once() {
    let org = start(DataSet::Demo).await;
    let all = org
        .query("SELECT IsoCode, COUNT(Id) n FROM DatedConversionRate GROUP BY IsoCode ORDER BY IsoCode")
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    let counts: Vec<(String, i64)> = all.json()["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["IsoCode"].as_str().unwrap().to_owned(),
                r["n"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        ["AUD", "CAD", "EUR", "GBP"]
            .map(|c| (c.to_owned(), 18))
            .to_vec(),
        "18 months for every non-corporate currency, none for USD"
    );
    let march = org.query(ON_MARCH_15).await.json();
    assert_eq!(march["totalSize"], 1, "{march}");
    let rate = &march["records"][0];
    assert_eq!(rate["StartDate"], "2026-03-01");
    assert_eq!(rate["NextStartDate"], "2026-04-01");
    let value = rate["ConversionRate"].as_f64().unwrap();
    assert!(
        (0.85..1.0).contains(&value),
        "EUR per USD near 0.92: {value}"
    );
    let last = org
        .query("SELECT NextStartDate FROM DatedConversionRate WHERE IsoCode = 'GBP' ORDER BY StartDate DESC LIMIT 1")
        .await
        .json();
    assert_eq!(last["records"][0]["NextStartDate"], "9999-12-31");
}

#[tokio::test]
async fn a_new_period_splits_the_one_it_falls_in() {
    let org = start(DataSet::Demo).await;
    let created = org
        .post(
            "/sobjects/DatedConversionRate",
            json!({"IsoCode": "EUR", "ConversionRate": 0.95, "StartDate": "2026-03-15"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let periods: Vec<(Value, Value)> = org
        .query(
            "SELECT StartDate, NextStartDate FROM DatedConversionRate WHERE IsoCode = 'EUR' \
             AND StartDate >= 2026-03-01 AND StartDate < 2026-04-01 ORDER BY StartDate",
        )
        .await
        .json()["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["StartDate"].clone(), r["NextStartDate"].clone()))
        .collect();
    assert_eq!(
        periods,
        vec![
            (json!("2026-03-01"), json!("2026-03-15")),
            (json!("2026-03-15"), json!("2026-04-01")),
        ]
    );
    let on_the_15th = org.query(ON_MARCH_15).await.json();
    assert_eq!(on_the_15th["records"][0]["ConversionRate"], 0.95);
    let computed = org
        .post(
            "/sobjects/DatedConversionRate",
            json!({"IsoCode": "EUR", "ConversionRate": 0.9, "StartDate": "2026-05-15", "NextStartDate": "2026-06-01"}),
        )
        .await;
    assert_eq!(
        computed.status,
        StatusCode::BAD_REQUEST,
        "NextStartDate is the org's to set"
    );
}
