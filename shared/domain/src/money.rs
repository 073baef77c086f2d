//! Money is a decimal amount with its ISO 4217 currency. Never a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency code {0:?} is not three upper-case letters (ISO 4217, e.g. USD)")]
    Currency(String),
    #[error("amount {0:?} is not a decimal number")]
    Amount(String),
    #[error("cannot combine {left} and {right}: convert one currency first")]
    CurrencyMismatch {
        left: CurrencyCode,
        right: CurrencyCode,
    },
    #[error("amount overflow")]
    Overflow,
}

/// An ISO 4217 alphabetic currency code such as `USD`, `EUR`, `GBP`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CurrencyCode([u8; 3]);

impl CurrencyCode {
    /// Accepts three ASCII letters in any case and stores them upper-case.
    pub fn parse(value: &str) -> Result<Self, MoneyError> {
        let v = value.trim();
        let b = v.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_alphabetic) {
            return Err(MoneyError::Currency(value.to_owned()));
        }
        Ok(Self([
            b[0].to_ascii_uppercase(),
            b[1].to_ascii_uppercase(),
            b[2].to_ascii_uppercase(),
        ]))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Decimal places of the currency's minor unit (ISO 4217); 2 unless listed.
    pub fn minor_units(&self) -> u32 {
        match self.as_str() {
            "JPY" | "KRW" | "CLP" | "ISK" | "VND" | "XAF" | "XOF" | "HUF" | "TWD" => 0,
            "BHD" | "KWD" | "OMR" | "JOD" | "TND" | "IQD" | "LYD" => 3,
            _ => 2,
        }
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CurrencyCode({})", self.as_str())
    }
}

impl FromStr for CurrencyCode {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for CurrencyCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CurrencyCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount in a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Serialized as a string so no JSON reader turns it into a float.
    pub amount: Decimal,
    pub currency: CurrencyCode,
}

impl Money {
    pub fn new(amount: Decimal, currency: CurrencyCode) -> Self {
        Self { amount, currency }
    }

    pub fn zero(currency: CurrencyCode) -> Self {
        Self::new(Decimal::ZERO, currency)
    }

    /// Parses an amount as both APIs write it (`45000.0`, `1234.50`, `-12`).
    pub fn parse(amount: &str, currency: CurrencyCode) -> Result<Self, MoneyError> {
        let a = Decimal::from_str(amount.trim())
            .or_else(|_| Decimal::from_scientific(amount.trim()))
            .map_err(|_| MoneyError::Amount(amount.to_owned()))?;
        Ok(Self::new(a, currency))
    }

    /// Adds two amounts of the same currency.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        self.amount
            .checked_add(other.amount)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// Subtracts an amount of the same currency.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        self.amount
            .checked_sub(other.amount)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// Converts at `rate` (units of `to` per unit of `self.currency`), rounded to the target
    /// currency's minor unit, half away from zero.
    pub fn convert(self, to: CurrencyCode, rate: Decimal) -> Result<Money, MoneyError> {
        let a = self.amount.checked_mul(rate).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(a, to).rounded())
    }

    /// Rounded to the currency's minor unit, half away from zero (how both systems store it).
    pub fn rounded(self) -> Money {
        Money::new(
            self.amount.round_dp_with_strategy(
                self.currency.minor_units(),
                RoundingStrategy::MidpointAwayFromZero,
            ),
            self.currency,
        )
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.rounded().amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd() -> CurrencyCode {
        CurrencyCode::parse("usd").unwrap()
    }

    #[test]
    fn currency_codes_are_validated_and_uppercased() {
        assert_eq!(usd().as_str(), "USD");
        assert!(CurrencyCode::parse("US").is_err());
        assert!(CurrencyCode::parse("U$D").is_err());
        assert_eq!(CurrencyCode::parse("JPY").unwrap().minor_units(), 0);
    }

    #[test]
    fn parses_api_amounts_exactly() {
        let m = Money::parse("45000.0", usd()).unwrap();
        assert_eq!(m.amount, Decimal::new(45000, 0));
        assert_eq!(
            Money::parse("0.1", usd())
                .unwrap()
                .checked_add(Money::parse("0.2", usd()).unwrap()),
            Ok(Money::parse("0.3", usd()).unwrap())
        );
        assert!(Money::parse("12,00", usd()).is_err());
    }

    #[test]
    fn mixing_currencies_is_an_error() {
        let eur = CurrencyCode::parse("EUR").unwrap();
        let err = Money::zero(usd())
            .checked_add(Money::zero(eur))
            .unwrap_err();
        assert!(err.to_string().contains("USD and EUR"));
    }

    #[test]
    fn conversion_rounds_half_away_from_zero() {
        let eur = CurrencyCode::parse("EUR").unwrap();
        let m = Money::parse("10.00", usd()).unwrap();
        let c = m.convert(eur, Decimal::new(92345, 5)).unwrap(); // 0.92345
        assert_eq!(c.amount, Decimal::new(923, 2));
        let half = Money::parse("0.125", usd()).unwrap().rounded();
        assert_eq!(half.amount, Decimal::new(13, 2));
    }

    #[test]
    fn serializes_amount_as_string() {
        let m = Money::parse("1234.50", usd()).unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"amount":"1234.50","currency":"USD"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
    }

    proptest! {
        #[test]
        fn add_then_sub_is_identity(a in -1_000_000_000i64..1_000_000_000, b in -1_000_000_000i64..1_000_000_000) {
            let x = Money::new(Decimal::new(a, 2), usd());
            let y = Money::new(Decimal::new(b, 2), usd());
            prop_assert_eq!(x.checked_add(y).unwrap().checked_sub(y).unwrap(), x);
        }
    }
}
