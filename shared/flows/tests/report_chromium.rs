//! The reconciliation report opens in a real browser: headless Chromium renders it to a PNG
//! (checked for the chart's bar colours in the chart area and for a page that is not blank)
//! and dumps its DOM (checked for the table rows, with the escaped text as text).
//!
//! Chromium is `LEDGERFORCE_CHROMIUM`, else `/usr/bin/chromium`. Without it this test fails:
//! it is a required part of the suite (`tests/run` installs it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Output;

use chrono::NaiveDate;
use lf_domain::port::Month;
use lf_domain::{CurrencyCode, EntityId, Money, SalesforceId};
use lf_flows::Reconciliation;
use lf_flows::report::{BOOKED_COLOUR, RECOGNIZED_COLOUR};
use lf_flows::revenue_reconciliation::{
    AccountRow, Booking, OpportunityRow, RateUsed, Revenue, Totals, Writes,
};
use rust_decimal::Decimal;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}
fn code(c: &str) -> CurrencyCode {
    CurrencyCode::parse(c).unwrap()
}
fn id(s: &str) -> SalesforceId {
    SalesforceId::parse(s).unwrap()
}

fn row(account: &str, name: &str, currency: &str, booked: &str, recognized: &str) -> AccountRow {
    AccountRow {
        account: id(account),
        account_name: name.into(),
        customers: vec!["C-1001".into()],
        currency: code(currency),
        booked: dec(booked),
        recognized: dec(recognized),
        variance: dec(booked) - dec(recognized),
        booked_reporting: dec(booked),
        recognized_reporting: dec(recognized),
        deals: 1,
        recognized_by_opportunity: Decimal::ZERO,
    }
}

const EVIL: &str = "Evil <script>alert(1)</script> & Co";

fn reconciliation() -> Reconciliation {
    let rows = vec![
        row(
            "001000000000001AAA",
            "Acme Manufacturing",
            "USD",
            "52000",
            "31000",
        ),
        row(
            "001000000000002AAA",
            "Rhein Digital GmbH",
            "EUR",
            "24000",
            "28000",
        ),
        row("001000000000003AAA", EVIL, "USD", "12000", "6000"),
    ];
    let booking = Booking {
        opportunity: id("006000000000009AAA"),
        name: "Newco - First order".into(),
        account: id("001000000000004AAA"),
        account_name: "Newco".into(),
        close_date: NaiveDate::from_ymd_opt(2026, 10, 15).unwrap(),
        amount: Money::new(dec("700"), code("USD")),
    };
    Reconciliation {
        period: Month {
            year: 2026,
            month: 10,
        },
        reporting_currency: code("USD"),
        opportunities: vec![OpportunityRow {
            opportunity: booking.opportunity.clone(),
            name: booking.name.clone(),
            account: booking.account.clone(),
            currency: code("USD"),
            booked: dec("700"),
            recognized: Decimal::ZERO,
            variance: dec("700"),
        }],
        totals: Totals {
            currency: code("USD"),
            booked: dec("88000"),
            recognized: dec("65000"),
            variance: dec("23000"),
            unmatched_revenue: dec("108.36"),
            unmatched_bookings: dec("700"),
        },
        rows,
        unmatched_revenue: vec![Revenue {
            entity: EntityId::parse("DE").unwrap(),
            customer_id: "C-3002".into(),
            document: Some("INV-00042".into()),
            opportunity: None,
            amount: Money::new(dec("100"), code("EUR")),
            rate_type: "ECB Reference".into(),
        }],
        unmatched_bookings: vec![booking],
        rates: vec![RateUsed {
            source: "Intacct ECB Reference".into(),
            from: code("EUR"),
            to: code("USD"),
            date: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
            rate: dec("1.0836"),
        }],
        writes: Writes::default(),
        failures: Vec::new(),
    }
}

/// Runs headless Chromium on the report file `page`.
fn run_chromium(profile: &Path, page: &Path, extra: &[String]) -> Output {
    lf_testkit::chromium::run(profile, &format!("file://{}", page.display()), extra)
}

fn rgb(hex: &str) -> [u8; 3] {
    let v = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
    [v(1), v(3), v(5)]
}

struct Image {
    width: usize,
    height: usize,
    /// RGB triples, row by row.
    pixels: Vec<[u8; 3]>,
}

impl Image {
    fn decode(path: &Path) -> Image {
        let bytes = std::fs::read(path).expect("the screenshot exists");
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size().expect("a frame size")];
        let info = reader.next_frame(&mut buf).expect("a frame");
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected colour type {other:?}"),
        };
        let pixels = buf[..info.buffer_size()]
            .chunks(channels)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Image {
            width: info.width as usize,
            height: info.height as usize,
            pixels,
        }
    }

    /// Pixels within 12 of `colour` on every channel, and their bounding rows.
    fn find(&self, colour: [u8; 3]) -> (usize, usize, usize) {
        let (mut n, mut top, mut bottom) = (0, usize::MAX, 0);
        for (i, p) in self.pixels.iter().enumerate() {
            if p.iter().zip(colour).all(|(a, b)| a.abs_diff(b) <= 12) {
                n += 1;
                top = top.min(i / self.width);
                bottom = bottom.max(i / self.width);
            }
        }
        (n, top, bottom)
    }
}

#[test]
fn the_report_renders_in_headless_chromium_with_its_table_and_chart() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("reconciliation-2026-10.html");
    let rec = reconciliation();
    std::fs::write(&page, rec.to_html()).unwrap();
    let shot = dir.path().join("report.png");
    run_chromium(
        &dir.path().join("profile-shot"),
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1200,900".into(),
        ],
    );
    if let Some(keep) = std::env::var_os("LEDGERFORCE_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
    let image = Image::decode(&shot);
    assert_eq!((image.width, image.height), (1200, 900));

    // Not blank: a good share of the page is ink, in many colours.
    let white = image
        .pixels
        .iter()
        .filter(|p| p.iter().all(|c| *c >= 245))
        .count();
    let total = image.pixels.len();
    assert!(white < total * 97 / 100, "the page is (almost) blank");
    let colours: std::collections::BTreeSet<[u8; 3]> = image.pixels.iter().copied().collect();
    assert!(colours.len() > 20, "only {} colours", colours.len());

    // The chart: both bar colours, in bars of some size, below the heading and the totals.
    for (what, colour) in [("booked", BOOKED_COLOUR), ("recognized", RECOGNIZED_COLOUR)] {
        let (n, top, bottom) = image.find(rgb(colour));
        assert!(n > 2_000, "{what} bars: {n} pixels of {colour}");
        assert!(top > 100, "{what} bars start below the header (row {top})");
        assert!(
            bottom - top > 100,
            "{what} bars are tall (rows {top}..{bottom})"
        );
    }

    // The DOM: the table has one row per account, the hostile name is text, not markup.
    let dom = run_chromium(
        &dir.path().join("profile-dom"),
        &page,
        &["--dump-dom".into()],
    );
    let dom = String::from_utf8(dom.stdout).unwrap();
    assert_eq!(dom.matches("<tr class=\"account\"").count(), 3, "{dom}");
    for r in &rec.rows {
        assert!(
            dom.contains(&format!("data-account=\"{}\"", r.account)),
            "{}",
            r.account
        );
    }
    assert!(dom.contains("Rhein Digital GmbH"));
    assert!(dom.contains("Evil &lt;script&gt;alert(1)&lt;/script&gt; &amp; Co"));
    assert!(!dom.contains("<script>alert(1)"), "the name stayed text");
    assert!(dom.contains("<svg id=\"chart\""));
    assert_eq!(dom.matches("class=\"booked\"").count(), 3);
    assert_eq!(dom.matches("class=\"recognized\"").count(), 3);
    assert!(dom.contains("C-3002") && dom.contains("Newco - First order"));
}
