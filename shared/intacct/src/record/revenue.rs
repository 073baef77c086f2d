//! Recognized revenue per customer and period, for the revenue reconciliation: from revenue
//! recognition schedule entries (REVRECSCHEDULEENTRY, posted) or from GL detail on the revenue
//! accounts (GLDETAIL, credits minus debits).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use lf_domain::EntityId;
use lf_domain::datetime::format_intacct_date;
use rust_decimal::Decimal;

use super::{Fields, FromRecord};
use crate::client::IntacctClient;
use crate::error::IntacctError;
use crate::query::{Direction, Filter, Query};
use crate::xml::XmlElement;

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RevenuePeriod {
    year: i32,
    month: u32,
}

impl RevenuePeriod {
    /// A month; refused when it is not one.
    pub fn new(year: i32, month: u32) -> Result<Self, IntacctError> {
        if NaiveDate::from_ymd_opt(year, month, 1).is_none() {
            return Err(IntacctError::invalid(format!(
                "{year}-{month:02} is not a month"
            )));
        }
        Ok(Self { year, month })
    }

    /// The month containing `date`.
    pub fn of(date: NaiveDate) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The first day of the month.
    pub fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    /// The last day of the month.
    pub fn last_day(&self) -> NaiveDate {
        let (y, m) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        NaiveDate::from_ymd_opt(y, m, 1)
            .and_then(|d| d.pred_opt())
            .unwrap_or_default()
    }
}

impl fmt::Display for RevenuePeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for RevenuePeriod {
    type Err = IntacctError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || IntacctError::invalid(format!("period {s:?} is not YYYY-MM"));
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        Self::new(year, month)
    }
}

/// One revenue recognition schedule entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevRecScheduleEntry {
    pub record_no: Option<String>,
    pub schedule_key: Option<String>,
    pub customer_id: Option<String>,
    pub item_id: Option<String>,
    pub doc_number: Option<String>,
    pub posting_date: Option<NaiveDate>,
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    pub posted: Option<bool>,
}

impl FromRecord for RevRecScheduleEntry {
    const OBJECT: &'static str = "REVRECSCHEDULEENTRY";

    fn from_record(el: &XmlElement) -> Result<Self, IntacctError> {
        let f = Fields::new(el, Self::OBJECT);
        Ok(Self {
            record_no: f.text("RECORDNO"),
            schedule_key: f.text("REVRECSCHEDULEKEY"),
            customer_id: f.text("CUSTOMERID"),
            item_id: f.text("ITEMID"),
            doc_number: f.text("DOCNUMBER"),
            posting_date: f.date("POSTINGDATE")?,
            amount: f.decimal("AMOUNT")?,
            currency: f.text("CURRENCY"),
            posted: f.boolean("POSTED")?,
        })
    }
}

/// One GL detail line (GLDETAIL). Field names are the commonly reported ones (protocols.md
/// marks GL detail fields unverified): `TR_TYPE` is 1 for a debit and -1 for a credit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GlDetail {
    pub record_no: Option<String>,
    pub account_no: Option<String>,
    pub entry_date: Option<NaiveDate>,
    pub amount: Option<Decimal>,
    pub tr_type: Option<i8>,
    pub customer_id: Option<String>,
    pub currency: Option<String>,
}

impl FromRecord for GlDetail {
    const OBJECT: &'static str = "GLDETAIL";

    fn from_record(el: &XmlElement) -> Result<Self, IntacctError> {
        let f = Fields::new(el, Self::OBJECT);
        let tr_type = match f.text("TR_TYPE").as_deref() {
            None => None,
            Some("1") => Some(1),
            Some("-1") => Some(-1),
            Some(other) => {
                return Err(IntacctError::record(
                    Self::OBJECT,
                    format!("TR_TYPE {other:?} is neither 1 nor -1"),
                ));
            }
        };
        Ok(Self {
            record_no: f.text("RECORDNO"),
            account_no: f.text("ACCOUNTNO"),
            entry_date: f.date("ENTRY_DATE")?,
            amount: f.decimal("AMOUNT")?,
            tr_type,
            customer_id: f.text("CUSTOMERID"),
            currency: f.text_any(&["CURRENCY", "BASECURR"]),
        })
    }
}

/// A record that contributes revenue to a customer on a date.
pub trait RevenueLine {
    /// `(customer, date, currency, signed amount)`, or `None` when the line has no customer,
    /// date or amount (it cannot be attributed).
    fn revenue(&self) -> Option<(String, NaiveDate, Option<String>, Decimal)>;

    /// The source document's number, when the line names one.
    fn document(&self) -> Option<String> {
        None
    }
}

impl RevenueLine for RevRecScheduleEntry {
    fn revenue(&self) -> Option<(String, NaiveDate, Option<String>, Decimal)> {
        if self.posted == Some(false) {
            return None;
        }
        Some((
            self.customer_id.clone()?,
            self.posting_date?,
            self.currency.clone(),
            self.amount?,
        ))
    }

    fn document(&self) -> Option<String> {
        self.doc_number.clone().filter(|d| !d.trim().is_empty())
    }
}

impl RevenueLine for GlDetail {
    fn revenue(&self) -> Option<(String, NaiveDate, Option<String>, Decimal)> {
        // Revenue accounts are credit-normal: a credit adds revenue, a debit takes it back.
        let amount = self.amount?;
        let signed = match self.tr_type {
            Some(1) => -amount,
            _ => amount,
        };
        Some((
            self.customer_id.clone()?,
            self.entry_date?,
            self.currency.clone(),
            signed,
        ))
    }
}

/// Revenue recognized for one customer in one period and currency, from one source document
/// (`None`: lines that name none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecognizedRevenue {
    pub customer_id: String,
    pub period: RevenuePeriod,
    pub currency: Option<String>,
    pub document: Option<String>,
    pub amount: Decimal,
}

type RevenueKey = (String, RevenuePeriod, Option<String>, Option<String>);

/// Sums revenue lines per customer, period, currency and source document (sorted by
/// customer, then period). Lines that cannot be attributed are skipped and counted in the
/// second value.
pub fn recognized_revenue<L: RevenueLine>(lines: &[L]) -> (Vec<RecognizedRevenue>, usize) {
    let mut sums: BTreeMap<RevenueKey, Decimal> = BTreeMap::new();
    let mut skipped = 0;
    for line in lines {
        match line.revenue() {
            Some((customer, date, currency, amount)) => {
                *sums
                    .entry((customer, RevenuePeriod::of(date), currency, line.document()))
                    .or_default() += amount;
            }
            None => skipped += 1,
        }
    }
    let out = sums
        .into_iter()
        .map(
            |((customer_id, period, currency, document), amount)| RecognizedRevenue {
                customer_id,
                period,
                currency,
                document,
                amount,
            },
        )
        .collect();
    (out, skipped)
}

/// Where recognized revenue is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevenueSource {
    /// Posted revenue recognition schedule entries.
    ScheduleEntries,
    /// GL detail on these revenue accounts.
    GlDetail { revenue_accounts: Vec<String> },
}

impl RevenueSource {
    /// The query that reads this source's lines dated within `period` (entity-owned lines
    /// included when read from the top level).
    pub fn query(&self, period: RevenuePeriod) -> Result<Query, IntacctError> {
        let (from, to) = (
            format_intacct_date(period.first_day()),
            format_intacct_date(period.last_day()),
        );
        Ok(match self {
            RevenueSource::ScheduleEntries => Query::new(
                RevRecScheduleEntry::OBJECT,
                [
                    "RECORDNO",
                    "REVRECSCHEDULEKEY",
                    "CUSTOMERID",
                    "ITEMID",
                    "DOCNUMBER",
                    "POSTINGDATE",
                    "AMOUNT",
                    "CURRENCY",
                    "POSTED",
                ],
            )
            .filter(Filter::and([
                Filter::between("POSTINGDATE", from, to),
                Filter::eq("POSTED", "true"),
            ]))
            .show_private(true)
            .order_by("RECORDNO", Direction::Ascending),
            RevenueSource::GlDetail { revenue_accounts } => {
                if revenue_accounts.is_empty() {
                    return Err(IntacctError::invalid(
                        "GL detail revenue needs at least one revenue account",
                    ));
                }
                Query::new(
                    GlDetail::OBJECT,
                    [
                        "RECORDNO",
                        "ACCOUNTNO",
                        "ENTRY_DATE",
                        "AMOUNT",
                        "TR_TYPE",
                        "CUSTOMERID",
                        "CURRENCY",
                    ],
                )
                .filter(Filter::and([
                    Filter::is_in("ACCOUNTNO", revenue_accounts.iter().cloned()),
                    Filter::between("ENTRY_DATE", from, to),
                ]))
                .show_private(true)
                .order_by("RECORDNO", Direction::Ascending)
            }
        })
    }
}

impl IntacctClient {
    /// Recognized revenue per customer for `period`, read from `source` in `entity` (or the
    /// top level). Reads every page.
    pub async fn recognized_revenue(
        &self,
        entity: Option<&EntityId>,
        period: RevenuePeriod,
        source: &RevenueSource,
    ) -> Result<Vec<RecognizedRevenue>, IntacctError> {
        let query = source.query(period)?;
        let (sums, skipped) = match source {
            RevenueSource::ScheduleEntries => {
                let lines: Vec<RevRecScheduleEntry> = self.query_records(entity, &query).await?;
                recognized_revenue(&lines)
            }
            RevenueSource::GlDetail { .. } => {
                let lines: Vec<GlDetail> = self.query_records(entity, &query).await?;
                recognized_revenue(&lines)
            }
        };
        if skipped > 0 {
            tracing::warn!(skipped, %period, "revenue lines without customer, date or amount were skipped");
        }
        Ok(sums)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        customer: &str,
        date: (i32, u32, u32),
        amount: i64,
        posted: bool,
    ) -> RevRecScheduleEntry {
        RevRecScheduleEntry {
            customer_id: Some(customer.into()),
            posting_date: NaiveDate::from_ymd_opt(date.0, date.1, date.2),
            amount: Some(Decimal::new(amount, 2)),
            currency: Some("USD".into()),
            posted: Some(posted),
            ..Default::default()
        }
    }

    #[test]
    fn periods_parse_and_bound() {
        let p: RevenuePeriod = "2024-02".parse().unwrap();
        assert_eq!(p.to_string(), "2024-02");
        assert_eq!(p.last_day(), NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        let dec: RevenuePeriod = "2024-12".parse().unwrap();
        assert_eq!(
            dec.last_day(),
            NaiveDate::from_ymd_opt(2024, 12, 31).unwrap()
        );
        assert!("2024-13".parse::<RevenuePeriod>().is_err());
        assert!("2024/01".parse::<RevenuePeriod>().is_err());
    }

    #[test]
    fn schedule_entries_sum_per_customer_and_period() {
        let lines = vec![
            entry("C-1", (2025, 1, 31), 10000, true),
            entry("C-1", (2025, 1, 31), 5050, true),
            entry("C-1", (2025, 2, 28), 10000, true),
            entry("C-2", (2025, 1, 31), 700, true),
            entry("C-2", (2025, 1, 31), 99999, false),
            RevRecScheduleEntry::default(),
        ];
        let (sums, skipped) = recognized_revenue(&lines);
        assert_eq!(skipped, 2);
        let jan: RevenuePeriod = "2025-01".parse().unwrap();
        assert_eq!(sums.len(), 3);
        assert_eq!(sums[0].customer_id, "C-1");
        assert_eq!(sums[0].period, jan);
        assert_eq!(sums[0].amount, Decimal::new(15050, 2));
        assert_eq!(sums[2].customer_id, "C-2");
        assert_eq!(sums[2].amount, Decimal::new(700, 2));
    }

    #[test]
    fn gl_detail_credits_add_and_debits_subtract() {
        let line = |tr: i8, amount: i64| GlDetail {
            customer_id: Some("C-1".into()),
            entry_date: NaiveDate::from_ymd_opt(2025, 3, 10),
            amount: Some(Decimal::new(amount, 0)),
            tr_type: Some(tr),
            ..Default::default()
        };
        let (sums, _) = recognized_revenue(&[line(-1, 500), line(1, 120)]);
        assert_eq!(sums[0].amount, Decimal::new(380, 0));
    }

    #[test]
    fn source_queries_filter_the_period() {
        let p: RevenuePeriod = "2025-01".parse().unwrap();
        let q = RevenueSource::ScheduleEntries.query(p).unwrap();
        let xml = q.to_element(0).unwrap().to_xml().unwrap();
        assert!(xml.contains("<between><field>POSTINGDATE</field><value>01/01/2025</value><value>01/31/2025</value></between>"), "{xml}");
        assert!(
            RevenueSource::GlDetail {
                revenue_accounts: vec![]
            }
            .query(p)
            .is_err()
        );
    }
}
