//! Exchange rates given at map time. Specs hold none: documents carry their currency and the
//! entity's exchange rate type and Intacct converts them at the document date; what converts
//! here (reporting-currency totals such as the revenue reconciliation's) uses the rates the
//! source system holds for the date, which the flow reads (Salesforce `DatedConversionRate`,
//! Intacct `EXCHANGERATE` entries of the rate type) and passes in [`crate::MapContext`].

use std::collections::BTreeMap;

use chrono::NaiveDate;
use lf_domain::{CurrencyCode, Money, MoneyError};
use rust_decimal::Decimal;

/// Dated exchange rates between pairs of currencies.
///
/// A rate holds from its effective date until the pair's next rate, the way Salesforce's
/// dated conversion rates (StartDate to NextStartDate) and Intacct's rate entries (effective
/// start date) hold. A conversion on a date before a pair's first rate, or of a pair given in
/// neither direction, has no rate: it fails and names the pair and the date; nothing is
/// guessed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rates {
    /// `(from, to)` → effective date → units of `to` per unit of `from`.
    pairs: BTreeMap<(CurrencyCode, CurrencyCode), BTreeMap<NaiveDate, Decimal>>,
}

/// A conversion that could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// No rate of the pair (in either direction) is effective on the date.
    #[error("no {from}→{to} exchange rate on {date} among the rates given at map time")]
    Missing {
        from: CurrencyCode,
        to: CurrencyCode,
        date: NaiveDate,
    },
    /// A rate that is zero or negative.
    #[error("the {from}→{to} rate {rate} is not positive")]
    NotPositive {
        from: CurrencyCode,
        to: CurrencyCode,
        rate: Decimal,
    },
    /// The converted amount does not fit.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl Rates {
    /// No rates.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether there is no rate at all.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Adds `rate` units of `to` per unit of `from`, effective from `effective` until the
    /// pair's next rate. A second rate for the same pair and date replaces the first.
    pub fn insert(
        &mut self,
        from: CurrencyCode,
        to: CurrencyCode,
        effective: NaiveDate,
        rate: Decimal,
    ) -> Result<(), RateError> {
        if rate <= Decimal::ZERO {
            return Err(RateError::NotPositive { from, to, rate });
        }
        self.pairs
            .entry((from, to))
            .or_default()
            .insert(effective, rate);
        Ok(())
    }

    /// The rate from `from` to `to` on `date`: the pair's latest rate effective on or before
    /// it, else the inverse of the reverse pair's. 1 for a currency to itself.
    pub fn rate(
        &self,
        from: CurrencyCode,
        to: CurrencyCode,
        date: NaiveDate,
    ) -> Result<Decimal, RateError> {
        if from == to {
            return Ok(Decimal::ONE);
        }
        let on = |pair: (CurrencyCode, CurrencyCode)| {
            self.pairs
                .get(&pair)
                .and_then(|by_date| by_date.range(..=date).next_back())
                .map(|(_, r)| *r)
        };
        if let Some(r) = on((from, to)) {
            return Ok(r);
        }
        on((to, from))
            .and_then(|r| Decimal::ONE.checked_div(r))
            .ok_or(RateError::Missing { from, to, date })
    }

    /// `amount` in `to` at the rate on `date`, rounded to `to`'s minor unit.
    pub fn convert(
        &self,
        amount: Money,
        to: CurrencyCode,
        date: NaiveDate,
    ) -> Result<Money, RateError> {
        if amount.currency == to {
            return Ok(amount.rounded());
        }
        let rate = self.rate(amount.currency, to, date)?;
        Ok(amount.convert(to, rate)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(c: &str) -> CurrencyCode {
        CurrencyCode::parse(c).unwrap()
    }

    fn day(d: &str) -> NaiveDate {
        NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap()
    }

    fn dec(d: &str) -> Decimal {
        d.parse().unwrap()
    }

    #[test]
    fn a_rate_holds_from_its_date_until_the_next_one() {
        let mut r = Rates::new();
        r.insert(code("EUR"), code("USD"), day("2026-01-01"), dec("1.08"))
            .unwrap();
        r.insert(code("EUR"), code("USD"), day("2026-02-01"), dec("1.10"))
            .unwrap();
        let at = |d| r.rate(code("EUR"), code("USD"), day(d));
        assert_eq!(at("2026-01-01"), Ok(dec("1.08")));
        assert_eq!(at("2026-01-31"), Ok(dec("1.08")));
        assert_eq!(at("2026-02-01"), Ok(dec("1.10")));
        assert_eq!(at("2027-06-30"), Ok(dec("1.10")));
        // Before the first rate there is none: no guess from a later one.
        let err = at("2025-12-31").unwrap_err();
        assert_eq!(
            err.to_string(),
            "no EUR→USD exchange rate on 2025-12-31 among the rates given at map time"
        );
    }

    #[test]
    fn the_reverse_pair_converts_the_other_way_and_unknown_pairs_fail() {
        let mut r = Rates::new();
        r.insert(code("USD"), code("EUR"), day("2026-01-01"), dec("0.8"))
            .unwrap();
        assert_eq!(
            r.rate(code("EUR"), code("USD"), day("2026-03-01")),
            Ok(dec("1.25"))
        );
        let m = r
            .convert(
                Money::new(dec("100.005"), code("EUR")),
                code("USD"),
                day("2026-03-01"),
            )
            .unwrap();
        assert_eq!((m.amount, m.currency), (dec("125.01"), code("USD")));
        assert!(matches!(
            r.rate(code("GBP"), code("USD"), day("2026-03-01")),
            Err(RateError::Missing { .. })
        ));
        // A currency to itself needs no rate.
        assert_eq!(
            r.rate(code("JPY"), code("JPY"), day("2026-03-01")),
            Ok(Decimal::ONE)
        );
        assert!(matches!(
            r.insert(code("GBP"), code("USD"), day("2026-01-01"), Decimal::ZERO),
            Err(RateError::NotPositive { .. })
        ));
        assert!(r.rate(code("GBP"), code("USD"), day("2026-03-01")).is_err());
    }
}
