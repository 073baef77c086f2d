//! Exchange rates as the company holds them: an `EXCHANGERATE` names a currency pair and a rate
//! type, its `EXCHANGERATEENTRY` lines carry a rate from an effective start date on.
//!
//! Documents are converted by the company itself (they carry their currency and rate type);
//! these reads are for reports that total several currencies, which use the rates the company
//! holds for the period and never a rate of their own. Intacct hides its built-in "Intacct
//! Daily Rate" from these objects, so a report reads a custom rate type, or the base amounts
//! the documents store.

use chrono::NaiveDate;
use lf_domain::EntityId;
use rust_decimal::Decimal;

use super::{Fields, FromRecord};
use crate::IntacctClient;
use crate::error::IntacctError;
use crate::query::{Direction, Filter, Query};
use crate::xml::XmlElement;
use lf_domain::datetime::format_intacct_date as format_date;

/// A rate record: one pair and rate type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExchangeRate {
    pub record_no: Option<String>,
    pub from_currency: Option<String>,
    pub to_currency: Option<String>,
    /// `TYPENAME`: the rate type ("ECB Reference"…).
    pub type_name: Option<String>,
}

impl FromRecord for ExchangeRate {
    const OBJECT: &'static str = "EXCHANGERATE";

    fn from_record(el: &XmlElement) -> Result<Self, IntacctError> {
        let f = Fields::new(el, Self::OBJECT);
        Ok(Self {
            record_no: f.text("RECORDNO"),
            from_currency: f.text("FROM_CURRENCY"),
            to_currency: f.text("TO_CURRENCY"),
            type_name: f.text("TYPENAME"),
        })
    }
}

/// One entry of a rate: in force from its start date until the next entry's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExchangeRateEntry {
    /// `EXCHANGERATEID`: the RECORDNO of its [`ExchangeRate`].
    pub exchange_rate_id: Option<String>,
    pub effective_start: Option<NaiveDate>,
    pub rate: Option<Decimal>,
    pub reciprocal_rate: Option<Decimal>,
}

impl FromRecord for ExchangeRateEntry {
    const OBJECT: &'static str = "EXCHANGERATEENTRY";

    fn from_record(el: &XmlElement) -> Result<Self, IntacctError> {
        let f = Fields::new(el, Self::OBJECT);
        Ok(Self {
            exchange_rate_id: f.text("EXCHANGERATEID"),
            effective_start: f.date("EFFECTIVE_START_DATE")?,
            rate: f.decimal("RATE")?,
            reciprocal_rate: f.decimal("RECIP_RATE")?,
        })
    }
}

/// The rates from one currency into another of one rate type, as far as a span of dates
/// needs them, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateTable {
    pub from_currency: String,
    pub to_currency: String,
    pub rate_type: String,
    /// `(effective start, rate)`, oldest first.
    pub entries: Vec<(NaiveDate, Decimal)>,
}

impl RateTable {
    /// The rate in force on `day`: the latest entry on or before it. `None` before the first
    /// entry: there is no rate, and none is made up.
    pub fn on(&self, day: NaiveDate) -> Option<Decimal> {
        if self.from_currency == self.to_currency {
            return Some(Decimal::ONE);
        }
        self.entries
            .iter()
            .rev()
            .find(|(start, _)| *start <= day)
            .map(|(_, rate)| *rate)
    }

    /// Like [`RateTable::on`], with the reason as an error when there is no rate (for the
    /// record to be parked with).
    pub fn require(&self, day: NaiveDate) -> Result<Decimal, IntacctError> {
        self.on(day).ok_or_else(|| {
            IntacctError::record(
                ExchangeRate::OBJECT,
                format!(
                    "no {} rate from {} to {} on or before {}",
                    self.rate_type,
                    self.from_currency,
                    self.to_currency,
                    format_date(day)
                ),
            )
        })
    }

    /// Builds the table from the entries of the pair as stored (`inverse` = the company holds
    /// the opposite pair: each rate is taken as 1 / rate, or its stored reciprocal), keeping
    /// the entry in force on `from` and every later one up to `to`.
    fn from_entries(
        mut table: RateTable,
        entries: &[ExchangeRateEntry],
        inverse: bool,
        from: NaiveDate,
        to: NaiveDate,
    ) -> RateTable {
        let mut rows: Vec<(NaiveDate, Decimal)> = entries
            .iter()
            .filter_map(|e| {
                let start = e.effective_start?;
                let rate = if inverse {
                    e.reciprocal_rate.filter(|r| !r.is_zero()).or_else(|| {
                        e.rate
                            .filter(|r| !r.is_zero())
                            .map(|r| (Decimal::ONE / r).round_dp(10))
                    })?
                } else {
                    e.rate?
                };
                Some((start, rate))
            })
            .filter(|(start, _)| *start <= to)
            .collect();
        rows.sort_by_key(|(start, _)| *start);
        let in_force = rows.iter().rposition(|(start, _)| *start <= from);
        table.entries = rows.split_off(in_force.unwrap_or(0));
        table
    }
}

impl IntacctClient {
    /// The `rate_type` rates from `from_currency` into `to_currency` that apply between `from`
    /// and `to` (the one in force on `from` and every later one), read from `EXCHANGERATE` and
    /// `EXCHANGERATEENTRY` in `entity` (or the top level). When the company holds only the
    /// opposite pair its rates are inverted. A pair the company has no rate for gives an
    /// empty table, whose [`RateTable::require`] names what is missing.
    pub async fn exchange_rates(
        &self,
        entity: Option<&EntityId>,
        from_currency: &str,
        to_currency: &str,
        rate_type: &str,
        (from, to): (NaiveDate, NaiveDate),
    ) -> Result<RateTable, IntacctError> {
        let table = RateTable {
            from_currency: from_currency.to_owned(),
            to_currency: to_currency.to_owned(),
            rate_type: rate_type.to_owned(),
            entries: Vec::new(),
        };
        if from_currency == to_currency {
            return Ok(table);
        }
        let rates: Vec<ExchangeRate> = self
            .query_records(entity, &rates_query(from_currency, to_currency, rate_type))
            .await?;
        let pick = |a: &str, b: &str| {
            rates
                .iter()
                .find(|r| {
                    r.from_currency.as_deref() == Some(a) && r.to_currency.as_deref() == Some(b)
                })
                .and_then(|r| r.record_no.clone())
        };
        let (record_no, inverse) = match (
            pick(from_currency, to_currency),
            pick(to_currency, from_currency),
        ) {
            (Some(no), _) => (no, false),
            (None, Some(no)) => (no, true),
            (None, None) => return Ok(table),
        };
        let entries: Vec<ExchangeRateEntry> = self
            .query_records(entity, &entries_query(&record_no, to))
            .await?;
        Ok(RateTable::from_entries(table, &entries, inverse, from, to))
    }
}

/// The rate records of the pair, either way round, of one type.
fn rates_query(a: &str, b: &str, rate_type: &str) -> Query {
    let pair = |x: &str, y: &str| {
        Filter::and([Filter::eq("FROM_CURRENCY", x), Filter::eq("TO_CURRENCY", y)])
    };
    Query::new(
        ExchangeRate::OBJECT,
        ["RECORDNO", "FROM_CURRENCY", "TO_CURRENCY", "TYPENAME"],
    )
    .filter(Filter::and([
        Filter::eq("TYPENAME", rate_type),
        Filter::or([pair(a, b), pair(b, a)]),
    ]))
}

/// Every entry of one rate that starts on or before `to` (the one in force at the start of a
/// span is older than the span).
fn entries_query(record_no: &str, to: NaiveDate) -> Query {
    Query::new(
        ExchangeRateEntry::OBJECT,
        [
            "EXCHANGERATEID",
            "EFFECTIVE_START_DATE",
            "RATE",
            "RECIP_RATE",
        ],
    )
    .filter(Filter::and([
        Filter::eq("EXCHANGERATEID", record_no),
        Filter::le("EFFECTIVE_START_DATE", format_date(to)),
    ]))
    .order_by("EFFECTIVE_START_DATE", Direction::Ascending)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_document;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn entry(start: NaiveDate, rate: i64, recip: Option<i64>) -> ExchangeRateEntry {
        ExchangeRateEntry {
            exchange_rate_id: Some("7".into()),
            effective_start: Some(start),
            rate: Some(Decimal::new(rate, 4)),
            reciprocal_rate: recip.map(|r| Decimal::new(r, 6)),
        }
    }

    fn table() -> RateTable {
        RateTable {
            from_currency: "EUR".into(),
            to_currency: "USD".into(),
            rate_type: "ECB Reference".into(),
            entries: Vec::new(),
        }
    }

    #[test]
    fn the_rate_in_force_is_the_latest_on_or_before_the_day() {
        let entries = [
            entry(d(2026, 3, 1), 10840, None),
            entry(d(2026, 1, 1), 10800, None),
            entry(d(2026, 2, 1), 10820, None),
            entry(d(2026, 5, 1), 10900, None),
        ];
        let t = RateTable::from_entries(table(), &entries, false, d(2026, 2, 10), d(2026, 3, 31));
        // February's entry is in force on the 10th; May's is past the span.
        assert_eq!(
            t.entries,
            vec![
                (d(2026, 2, 1), Decimal::new(10820, 4)),
                (d(2026, 3, 1), Decimal::new(10840, 4))
            ]
        );
        assert_eq!(t.on(d(2026, 2, 28)), Some(Decimal::new(10820, 4)));
        assert_eq!(t.on(d(2026, 3, 1)), Some(Decimal::new(10840, 4)));
        assert_eq!(t.on(d(2026, 1, 31)), None);
        let err = t.require(d(2026, 1, 31)).unwrap_err().to_string();
        assert!(
            err.contains("no ECB Reference rate from EUR to USD on or before 01/31/2026"),
            "{err}"
        );
    }

    #[test]
    fn the_opposite_pair_is_inverted_preferring_its_stored_reciprocal() {
        let entries = [
            entry(d(2026, 1, 1), 12500, Some(800_000)),
            entry(d(2026, 2, 1), 20000, None),
        ];
        let t = RateTable::from_entries(table(), &entries, true, d(2026, 1, 15), d(2026, 2, 15));
        assert_eq!(t.on(d(2026, 1, 20)), Some(Decimal::new(8, 1)));
        assert_eq!(t.on(d(2026, 2, 2)), Some(Decimal::new(5, 1)));
        let same = RateTable {
            to_currency: "EUR".into(),
            ..table()
        };
        assert_eq!(same.on(d(1999, 1, 1)), Some(Decimal::ONE));
    }

    #[test]
    fn rates_and_entries_read_from_records() {
        let rate = parse_document(
            b"<EXCHANGERATE><RECORDNO>7</RECORDNO><FROM_CURRENCY>EUR</FROM_CURRENCY><TO_CURRENCY>USD</TO_CURRENCY><TYPENAME>ECB Reference</TYPENAME></EXCHANGERATE>",
        )
        .unwrap();
        let rate = ExchangeRate::from_record(&rate).unwrap();
        assert_eq!(rate.record_no.as_deref(), Some("7"));
        assert_eq!(rate.type_name.as_deref(), Some("ECB Reference"));
        let e = parse_document(
            b"<exchangerateentry><EXCHANGERATEID>7</EXCHANGERATEID><EFFECTIVE_START_DATE>01/01/2026</EFFECTIVE_START_DATE><RATE>1.0829</RATE><RECIP_RATE>0.923446</RECIP_RATE></exchangerateentry>",
        )
        .unwrap();
        let e = ExchangeRateEntry::from_record(&e).unwrap();
        assert_eq!(e.effective_start, Some(d(2026, 1, 1)));
        assert_eq!(e.rate, Some(Decimal::new(10829, 4)));
        let bad =
            parse_document(b"<EXCHANGERATEENTRY><RATE>lots</RATE></EXCHANGERATEENTRY>").unwrap();
        assert!(ExchangeRateEntry::from_record(&bad).is_err());
    }

    #[test]
    fn the_queries_ask_for_the_pair_both_ways_and_entries_up_to_the_end() {
        let xml = rates_query("EUR", "USD", "ECB Reference")
            .to_element(0)
            .unwrap()
            .to_xml()
            .unwrap();
        assert!(
            xml.contains("<equalto><field>TYPENAME</field><value>ECB Reference</value></equalto>"),
            "{xml}"
        );
        assert!(xml.contains("<or>"), "{xml}");
        let xml = entries_query("7", d(2026, 3, 31))
            .to_element(0)
            .unwrap()
            .to_xml()
            .unwrap();
        assert!(
            xml.contains("<lessthanorequalto><field>EFFECTIVE_START_DATE</field><value>03/31/2026</value></lessthanorequalto>"),
            "{xml}"
        );
    }
}
