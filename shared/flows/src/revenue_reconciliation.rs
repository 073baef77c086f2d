//! **revenue-reconciliation** (DESIGN.md §1): for one month, the revenue Intacct recognized per
//! customer next to the deals Salesforce closed (Closed Won, `CloseDate` in the month), one
//! `Revenue_Reconciliation__c` per account and period with booked, recognized and variance,
//! and `Recognized_Revenue__c` / `Revenue_Variance__c` on each deal. Not a queue flow: it runs on
//! a schedule (the previous month) or on demand for a period, and returns a [`Reconciliation`]
//! that [`crate::report`] renders as HTML and CSV.
//!
//! Matching: revenue from a document carrying `SFDC_OPPORTUNITY_ID` of a deal closed in the
//! month is that deal's; other revenue goes to the account of its customer (the stored link,
//! else the customer's `SFDC_ACCOUNT_ID`) for the month; revenue of a customer linked to no
//! account is *unmatched revenue*, and a deal no revenue of the month reached (neither its own
//! nor its account's) an *unmatched booking*. Both are listed, never dropped.
//!
//! Money: amounts are compared in their documents' currency (an account whose amounts are all
//! in one currency is reconciled in it; an account with several, in the reporting currency).
//! Totals are in the reporting currency at the rates the source systems hold for the period:
//! bookings at Salesforce's dated conversion rate of their close date, Intacct revenue at the
//! Intacct rate of its entity's rate type in force on the last day of the month. No rate is
//! configured or guessed: a missing one fails the run and names the pair.
//!
//! Per run: Salesforce — one read of the won deals, one of the dated rates, one of the month's
//! reconciliation records, at most one of account names, one upsert and one update (each only
//! when something changed); Intacct — one or two requests per entity (revenue lines, then
//! their documents' opportunity ids), one for the customers and one for the exchange rates.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use lf_domain::datetime::{format_intacct_date, parse_date};
use lf_domain::port::{
    AuditAction, AuditEntry, AuditLog, IntacctPort, IntacctRecord, LinkKind, Month, QueryFilter,
    RecognizedAmount, RecordQuery, RecordRead, RevenueBasis, SalesforcePort, SfRecord, WriteResult,
    XrefStore,
};
use lf_domain::{
    Classify, CorrelationId, CurrencyCode, EntityId, ErrorClass, Flow, IntacctKey, Money,
    RecordRef, SalesforceId,
};
use lf_mapping::{Entity, MapContext, Mapped, Rates, SpecSet};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::ports::Ports;
use crate::records::{decimal, intacct_tree, text};
use crate::setup::{self, SetupError};
use crate::writeback::WriteBack;

const FLOW: Flow = Flow::RevenueReconciliation;
const MAPPING: &str = "reconciliation";
const SOURCE: &str = "REVENUE_PERIOD";
const TARGET: &str = "Revenue_Reconciliation__c";
const KEY_FIELD: &str = "Reconciliation_Key__c";
const PERIOD_FIELD: &str = "Period__c";
/// The stage a won deal is in.
const WON_STAGE: &str = "Closed Won";
const OPPORTUNITY_FIELDS: [&str; 10] = [
    "Name",
    "AccountId",
    "Account.Name",
    "Amount",
    "CurrencyIsoCode",
    "CloseDate",
    "StageName",
    "Recognized_Revenue__c",
    "Revenue_Variance__c",
    "Id",
];
/// How far back an Intacct rate entry may lie and still be in force on the period's last day.
const RATE_LOOKBACK_DAYS: i64 = 366;
/// Customer ids per CUSTOMER query (all of them go in one request).
const CUSTOMERS_PER_QUERY: usize = 100;

/// How the reconciliation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevenueReconciliationOptions {
    /// The currency of the totals and the chart.
    pub reporting_currency: CurrencyCode,
    /// Where Intacct's recognized revenue is read from.
    pub basis: RevenueBasis,
    /// The Salesforce org's corporate currency: `DatedConversionRate` rows are units of their
    /// currency per unit of it. A property of the org, not a rate.
    pub corporate_currency: CurrencyCode,
}

impl Default for RevenueReconciliationOptions {
    fn default() -> Self {
        let usd = CurrencyCode::parse("USD").unwrap_or_else(|_| unreachable!("USD is a currency"));
        Self {
            reporting_currency: usd,
            basis: RevenueBasis::ScheduleEntries,
            corporate_currency: usd,
        }
    }
}

/// Why a reconciliation could not run (nothing is written when it fails before the writes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("revenue reconciliation: {what}: {reason}")]
pub struct ReconciliationError {
    pub class: ErrorClass,
    pub what: String,
    pub reason: String,
}

impl ReconciliationError {
    fn new(class: ErrorClass, what: impl Into<String>, reason: impl ToString) -> Self {
        Self {
            class,
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

impl Classify for ReconciliationError {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

/// A deal closed won in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub opportunity: SalesforceId,
    pub name: String,
    pub account: SalesforceId,
    pub account_name: String,
    pub close_date: NaiveDate,
    pub amount: Money,
}

/// Revenue Intacct recognized in the period for one customer, currency and document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revenue {
    pub entity: EntityId,
    pub customer_id: String,
    pub document: Option<String>,
    pub opportunity: Option<String>,
    pub amount: Money,
    /// The entity's exchange rate type (what converts it to the reporting currency).
    pub rate_type: String,
}

/// How revenue found its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    /// The document carries the id of a deal closed in the period.
    Opportunity,
    /// The customer is linked to the account.
    Account,
}

/// One account's line of the reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub account: SalesforceId,
    pub account_name: String,
    /// The Intacct customers whose revenue is in the row.
    pub customers: Vec<String>,
    /// The currency the row compares in (its amounts' own, or the reporting currency when
    /// they have several).
    pub currency: CurrencyCode,
    pub booked: Decimal,
    pub recognized: Decimal,
    /// Booked minus recognized.
    pub variance: Decimal,
    /// Booked and recognized in the reporting currency.
    pub booked_reporting: Decimal,
    pub recognized_reporting: Decimal,
    /// How many deals closed in the period.
    pub deals: usize,
    /// Of `recognized`, what came from documents of those deals.
    pub recognized_by_opportunity: Decimal,
}

/// One deal's recognized revenue and variance (in the deal's currency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpportunityRow {
    pub opportunity: SalesforceId,
    pub name: String,
    pub account: SalesforceId,
    pub currency: CurrencyCode,
    pub booked: Decimal,
    pub recognized: Decimal,
    pub variance: Decimal,
}

/// Totals in the reporting currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub currency: CurrencyCode,
    pub booked: Decimal,
    pub recognized: Decimal,
    pub variance: Decimal,
    pub unmatched_revenue: Decimal,
    pub unmatched_bookings: Decimal,
}

/// An exchange rate a conversion of the run used.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RateUsed {
    /// `Salesforce DatedConversionRate` or `Intacct <rate type>`.
    pub source: String,
    pub from: CurrencyCode,
    pub to: CurrencyCode,
    /// The date the conversion was made for.
    pub date: NaiveDate,
    /// Units of `to` per unit of `from`.
    pub rate: Decimal,
}

/// What the run wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Writes {
    pub reconciliations: usize,
    pub opportunities: usize,
}

/// The reconciliation of one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    pub period: Month,
    pub reporting_currency: CurrencyCode,
    /// One per account, by account name.
    pub rows: Vec<AccountRow>,
    pub opportunities: Vec<OpportunityRow>,
    pub unmatched_revenue: Vec<Revenue>,
    pub unmatched_bookings: Vec<Booking>,
    pub totals: Totals,
    pub rates: Vec<RateUsed>,
    pub writes: Writes,
    /// Records Salesforce refused (the rest were written).
    pub failures: Vec<String>,
}

/// The rates of both systems for the period.
#[derive(Debug, Clone)]
pub(crate) struct Conversions {
    pub reporting: CurrencyCode,
    pub corporate: CurrencyCode,
    /// Salesforce dated rates, `corporate → currency`.
    pub salesforce: Rates,
    /// Intacct rates per rate type.
    pub intacct: BTreeMap<String, Rates>,
    pub intacct_date: NaiveDate,
}

impl Conversions {
    /// A booking in the reporting currency at its close date (through the corporate
    /// currency, as Salesforce converts).
    fn booking(
        &self,
        amount: Money,
        date: NaiveDate,
        used: &mut BTreeSet<RateUsed>,
    ) -> Result<Decimal, ReconciliationError> {
        if amount.currency == self.reporting {
            return Ok(amount.rounded().amount);
        }
        let mut rate = Decimal::ONE;
        for (from, to) in [
            (amount.currency, self.corporate),
            (self.corporate, self.reporting),
        ] {
            if from == to {
                continue;
            }
            let r = self
                .salesforce
                .rate(from, to, date)
                .map_err(|e| rate_error("Salesforce", e))?;
            used.insert(RateUsed {
                source: "Salesforce DatedConversionRate".into(),
                from,
                to,
                date,
                rate: r,
            });
            rate *= r;
        }
        convert(amount, self.reporting, rate)
    }

    /// Intacct revenue in the reporting currency at its rate type's rate on the period's last day.
    fn revenue(
        &self,
        r: &Revenue,
        used: &mut BTreeSet<RateUsed>,
    ) -> Result<Decimal, ReconciliationError> {
        if r.amount.currency == self.reporting {
            return Ok(r.amount.rounded().amount);
        }
        let rate = self
            .intacct
            .get(&r.rate_type)
            .ok_or_else(|| {
                ReconciliationError::new(
                    ErrorClass::Permanent,
                    "converting Intacct revenue",
                    format!("Intacct has no rates of type {:?}", r.rate_type),
                )
            })?
            .rate(r.amount.currency, self.reporting, self.intacct_date)
            .map_err(|e| rate_error(&format!("Intacct ({})", r.rate_type), e))?;
        used.insert(RateUsed {
            source: format!("Intacct EXCHANGERATE ({})", r.rate_type),
            from: r.amount.currency,
            to: self.reporting,
            date: self.intacct_date,
            rate,
        });
        convert(r.amount, self.reporting, rate)
    }
}

fn rate_error(system: &str, e: lf_mapping::RateError) -> ReconciliationError {
    ReconciliationError::new(
        ErrorClass::Permanent,
        format!("converting at {system}'s rates"),
        e,
    )
}

fn convert(amount: Money, to: CurrencyCode, rate: Decimal) -> Result<Decimal, ReconciliationError> {
    amount
        .convert(to, rate)
        .map(|m| m.amount)
        .map_err(|e| ReconciliationError::new(ErrorClass::Permanent, "converting", e))
}

/// The pure part: bookings and revenue of one period, the customers' accounts and the rates
/// → the reconciliation (writes not yet made).
pub(crate) fn reconcile(
    period: Month,
    bookings: &[Booking],
    revenue: &[Revenue],
    accounts: &BTreeMap<String, SalesforceId>,
    account_names: &BTreeMap<SalesforceId, String>,
    rates: &Conversions,
) -> Result<Reconciliation, ReconciliationError> {
    let mut used = BTreeSet::new();
    let by_opportunity: BTreeMap<&str, usize> = bookings
        .iter()
        .enumerate()
        .map(|(i, b)| (b.opportunity.as_str(), i))
        .collect();

    #[derive(Default)]
    struct Acc<'a> {
        bookings: Vec<&'a Booking>,
        revenue: Vec<(&'a Revenue, MatchedBy)>,
    }
    let mut per_account: BTreeMap<SalesforceId, Acc<'_>> = BTreeMap::new();
    for b in bookings {
        per_account
            .entry(b.account.clone())
            .or_default()
            .bookings
            .push(b);
    }
    let mut opportunity_revenue: BTreeMap<usize, Vec<&Revenue>> = BTreeMap::new();
    let mut unmatched_revenue = Vec::new();
    for r in revenue {
        let deal = r
            .opportunity
            .as_deref()
            .and_then(|o| SalesforceId::parse(o).ok())
            .and_then(|o| by_opportunity.get(o.as_str()).copied());
        if let Some(i) = deal {
            opportunity_revenue.entry(i).or_default().push(r);
            per_account
                .entry(bookings[i].account.clone())
                .or_default()
                .revenue
                .push((r, MatchedBy::Opportunity));
        } else if let Some(account) = accounts.get(&r.customer_id) {
            per_account
                .entry(account.clone())
                .or_default()
                .revenue
                .push((r, MatchedBy::Account));
        } else {
            unmatched_revenue.push(r.clone());
        }
    }

    let mut rows = Vec::with_capacity(per_account.len());
    let mut unmatched_bookings = Vec::new();
    for (account, acc) in &per_account {
        let currencies: BTreeSet<CurrencyCode> = acc
            .bookings
            .iter()
            .map(|b| b.amount.currency)
            .chain(acc.revenue.iter().map(|(r, _)| r.amount.currency))
            .collect();
        let single = (currencies.len() == 1)
            .then(|| currencies.first().copied())
            .flatten();
        let mut row = AccountRow {
            account: account.clone(),
            account_name: acc
                .bookings
                .first()
                .map(|b| b.account_name.clone())
                .or_else(|| account_names.get(account).cloned())
                .unwrap_or_default(),
            customers: acc
                .revenue
                .iter()
                .map(|(r, _)| r.customer_id.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            currency: single.unwrap_or(rates.reporting),
            booked: Decimal::ZERO,
            recognized: Decimal::ZERO,
            variance: Decimal::ZERO,
            booked_reporting: Decimal::ZERO,
            recognized_reporting: Decimal::ZERO,
            deals: acc.bookings.len(),
            recognized_by_opportunity: Decimal::ZERO,
        };
        for b in &acc.bookings {
            let reporting = rates.booking(b.amount, b.close_date, &mut used)?;
            row.booked_reporting += reporting;
            row.booked += if single.is_some() {
                b.amount.rounded().amount
            } else {
                reporting
            };
        }
        for (r, by) in &acc.revenue {
            let reporting = rates.revenue(r, &mut used)?;
            row.recognized_reporting += reporting;
            let own = if single.is_some() {
                r.amount.rounded().amount
            } else {
                reporting
            };
            row.recognized += own;
            if *by == MatchedBy::Opportunity {
                row.recognized_by_opportunity += own;
            }
        }
        row.variance = row.booked - row.recognized;
        if acc.revenue.is_empty() {
            unmatched_bookings.extend(acc.bookings.iter().map(|b| (*b).clone()));
        }
        rows.push(row);
    }
    rows.sort_by(|a, b| {
        a.account_name
            .cmp(&b.account_name)
            .then(a.account.cmp(&b.account))
    });

    let mut opportunities = Vec::with_capacity(bookings.len());
    for (i, b) in bookings.iter().enumerate() {
        // A deal's own revenue, in its currency (a document in another currency counts for
        // the account, not the deal: the two amounts are not comparable without a rate).
        let recognized: Decimal = opportunity_revenue
            .get(&i)
            .into_iter()
            .flatten()
            .filter(|r| r.amount.currency == b.amount.currency)
            .map(|r| r.amount.rounded().amount)
            .sum();
        let booked = b.amount.rounded().amount;
        opportunities.push(OpportunityRow {
            opportunity: b.opportunity.clone(),
            name: b.name.clone(),
            account: b.account.clone(),
            currency: b.amount.currency,
            booked,
            recognized,
            variance: booked - recognized,
        });
    }

    let mut unmatched_revenue_total = Decimal::ZERO;
    for r in &unmatched_revenue {
        unmatched_revenue_total += rates.revenue(r, &mut used)?;
    }
    let mut unmatched_bookings_total = Decimal::ZERO;
    for b in &unmatched_bookings {
        unmatched_bookings_total += rates.booking(b.amount, b.close_date, &mut used)?;
    }
    let booked: Decimal = rows.iter().map(|r| r.booked_reporting).sum();
    let recognized: Decimal = rows.iter().map(|r| r.recognized_reporting).sum();
    Ok(Reconciliation {
        period,
        reporting_currency: rates.reporting,
        rows,
        opportunities,
        unmatched_revenue,
        unmatched_bookings,
        totals: Totals {
            currency: rates.reporting,
            booked,
            recognized,
            variance: booked - recognized,
            unmatched_revenue: unmatched_revenue_total,
            unmatched_bookings: unmatched_bookings_total,
        },
        rates: used.into_iter().collect(),
        writes: Writes::default(),
        failures: Vec::new(),
    })
}

/// The deals of `records` closed in `period`; deals without an account, amount, currency or
/// close date cannot be reconciled and are logged.
pub(crate) fn bookings_of(period: Month, records: &[SfRecord]) -> Vec<Booking> {
    let mut out = Vec::new();
    for r in records {
        let v = Value::Object(r.clone());
        let close = text(&v, "CloseDate").and_then(|d| parse_date(d).ok());
        let Some(close_date) = close.filter(|d| period.contains(*d)) else {
            continue;
        };
        let id = text(&v, "Id").and_then(|i| SalesforceId::parse(i).ok());
        let account = text(&v, "AccountId").and_then(|i| SalesforceId::parse(i).ok());
        let currency = text(&v, "CurrencyIsoCode").and_then(|c| CurrencyCode::parse(c).ok());
        let amount = decimal(&v, "Amount");
        match (id, account, currency, amount) {
            (Some(opportunity), Some(account), Some(currency), Some(amount)) => {
                out.push(Booking {
                    opportunity,
                    name: text(&v, "Name").unwrap_or_default().to_owned(),
                    account,
                    account_name: text(&v, "Account.Name").unwrap_or_default().to_owned(),
                    close_date,
                    amount: Money::new(amount, currency),
                });
            }
            _ => {
                tracing::warn!(flow = %FLOW, opportunity = text(&v, "Id").unwrap_or(""),
                    "a won deal without account, amount or currency is left out of the reconciliation");
            }
        }
    }
    out
}

/// The revenue the port returned for `entity`, in currencies (a line without one is in the
/// entity's base currency).
pub(crate) fn revenue_of(entity: &Entity, amounts: Vec<RecognizedAmount>) -> Vec<Revenue> {
    amounts
        .into_iter()
        .filter(|a| !a.amount.is_zero())
        .map(|a| Revenue {
            entity: entity.id.clone(),
            amount: Money::new(
                a.amount,
                a.currency
                    .as_deref()
                    .and_then(|c| CurrencyCode::parse(c).ok())
                    .unwrap_or(entity.base_currency),
            ),
            customer_id: a.customer_id,
            document: a.document,
            opportunity: a.opportunity_id.filter(|o| !o.trim().is_empty()),
            rate_type: entity.exchange_rate_type.clone(),
        })
        .collect()
}

/// Intacct's rates per rate type, from `EXCHANGERATE` headers (pair and type) and their
/// `EXCHANGERATEENTRY` rows (effective date and rate). Rows that do not read are skipped.
pub(crate) fn intacct_rates(
    headers: &[IntacctRecord],
    entries: &[IntacctRecord],
) -> BTreeMap<String, Rates> {
    let mut pairs: BTreeMap<String, (CurrencyCode, CurrencyCode, String)> = BTreeMap::new();
    for h in headers {
        let key = h.record_no.as_deref().or_else(|| h.field("RECORDNO"));
        let from = h
            .field("FROM_CURRENCY")
            .and_then(|c| CurrencyCode::parse(c).ok());
        let to = h
            .field("TO_CURRENCY")
            .and_then(|c| CurrencyCode::parse(c).ok());
        if let (Some(key), Some(from), Some(to), Some(kind)) = (key, from, to, h.field("TYPENAME"))
        {
            pairs.insert(key.to_owned(), (from, to, kind.to_owned()));
        }
    }
    let mut out: BTreeMap<String, Rates> = BTreeMap::new();
    for e in entries {
        let tree = intacct_tree(e);
        let pair = text(&tree, "EXCHANGERATEID").and_then(|k| pairs.get(k));
        let date = text(&tree, "EFFECTIVE_START_DATE").and_then(|d| parse_date(d).ok());
        let rate = decimal(&tree, "RATE");
        if let (Some((from, to, kind)), Some(date), Some(rate)) = (pair, date, rate)
            && let Err(error) = out
                .entry(kind.clone())
                .or_default()
                .insert(*from, *to, date, rate)
        {
            tracing::warn!(flow = %FLOW, %error, "an Intacct exchange rate entry is not usable");
        }
    }
    out
}

/// The `Revenue_Reconciliation__c` record of `row` as the mapping makes it.
fn mapped_row(
    plan: &lf_mapping::MappingPlan,
    period: Month,
    input: Value,
) -> Result<Map<String, Value>, ReconciliationError> {
    let what = format!("mapping the {period} reconciliation record");
    match plan.map(&input, &MapContext::default()) {
        Ok(Mapped::Record(r)) => Ok(r.fields),
        Ok(Mapped::Skipped) => Err(ReconciliationError::new(
            ErrorClass::Permanent,
            what,
            "the mapping skipped it",
        )),
        Err(e) => Err(ReconciliationError::new(ErrorClass::Permanent, what, e)),
    }
}

fn row_input(period: Month, row: &AccountRow) -> Value {
    json!({
        "SFDC_ACCOUNT_ID": row.account.as_str(),
        "CUSTOMERID": row.customers.first(),
        "PERIOD": period.to_string(),
        "CURRENCY": row.currency.as_str(),
        "BOOKED": row.booked.to_string(),
        "RECOGNIZED": row.recognized.to_string(),
        "VARIANCE": row.variance.to_string(),
    })
}

/// Whether Salesforce's `current` record already holds every field of `wanted` (numbers by
/// value, absent as null).
fn holds(current: Option<&SfRecord>, wanted: &Map<String, Value>) -> bool {
    let Some(current) = current else {
        return false;
    };
    wanted.iter().all(|(k, v)| {
        let c = current.get(k).unwrap_or(&Value::Null);
        match (c, v) {
            (a, b) if a == b => true,
            (Value::Number(_) | Value::String(_), Value::Number(_)) => {
                let (a, b) = (
                    decimal(&json!({"v": c}), "v"),
                    decimal(&json!({"v": v}), "v"),
                );
                a.is_some() && a == b
            }
            _ => false,
        }
    })
}

/// The reconciliation records to upsert: every row whose record differs from what Salesforce
/// holds, and a zeroed record for an account that had one for the period and has nothing now
/// (so a rerun after a deal moved out of the month does not leave a stale variance).
pub(crate) fn records_to_write(
    plan: &lf_mapping::MappingPlan,
    period: Month,
    rows: &[AccountRow],
    existing: &BTreeMap<String, SfRecord>,
) -> Result<Vec<SfRecord>, ReconciliationError> {
    let mut out = Vec::new();
    let mut keys = BTreeSet::new();
    for row in rows {
        let fields = mapped_row(plan, period, row_input(period, row))?;
        let key = fields.get(KEY_FIELD).and_then(Value::as_str).unwrap_or("");
        keys.insert(key.to_owned());
        if !holds(existing.get(key), &fields) {
            out.push(fields);
        }
    }
    for (key, current) in existing {
        if keys.contains(key) {
            continue;
        }
        let record = Value::Object(current.clone());
        let (Some(account), Some(currency)) = (
            text(&record, "Account__c"),
            text(&record, "CurrencyIsoCode"),
        ) else {
            continue;
        };
        let zero = json!({"SFDC_ACCOUNT_ID": account, "PERIOD": period.to_string(),
                          "CURRENCY": currency, "BOOKED": "0", "RECOGNIZED": "0", "VARIANCE": "0"});
        let fields = mapped_row(plan, period, zero)?;
        if !holds(Some(current), &fields) {
            out.push(fields);
        }
    }
    Ok(out)
}

/// What the audit log says of a written reconciliation record.
fn audit_detail(record: &SfRecord) -> String {
    let v = |f: &str| {
        record.get(f).map_or_else(String::new, |v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    format!(
        "{}: booked {}, recognized {}, variance {} {}",
        v(KEY_FIELD),
        v("Booked_Amount__c"),
        v("Recognized_Amount__c"),
        v("Variance__c"),
        v("CurrencyIsoCode")
    )
}

/// A decimal as the JSON number Salesforce's REST API takes.
fn number(d: Decimal) -> Value {
    serde_json::from_str(&d.normalize().to_string()).unwrap_or(Value::Null)
}

/// The revenue-reconciliation use case.
#[derive(Debug)]
pub struct RevenueReconciliation<P> {
    ports: P,
    specs: Arc<SpecSet>,
    options: RevenueReconciliationOptions,
    entities: Vec<Arc<Entity>>,
    opportunity_read: RecordRead,
    record_read: RecordRead,
}

impl<P: Ports> RevenueReconciliation<P> {
    /// Checks that `specs` has the flow's mapping and defines the entities to read.
    pub fn new(
        ports: P,
        specs: Arc<SpecSet>,
        options: RevenueReconciliationOptions,
    ) -> Result<Self, SetupError> {
        let plan = setup::mapping(&specs, FLOW, MAPPING, SOURCE, TARGET)?;
        let mut fields: Vec<String> = plan.target_reads().paths();
        for f in [
            "Id",
            KEY_FIELD,
            "Account__c",
            PERIOD_FIELD,
            "CurrencyIsoCode",
        ] {
            if !fields.iter().any(|p| p == f) {
                fields.push(f.to_owned());
            }
        }
        let record_read = RecordRead::new(TARGET, &fields);
        let entities = specs.entities().to_vec();
        if entities.is_empty() {
            return Err(SetupError::Mapping {
                flow: FLOW,
                name: MAPPING.to_owned(),
                reason: "the specs define no Intacct entities to read revenue from".into(),
            });
        }
        Ok(Self {
            ports,
            specs,
            options,
            entities,
            opportunity_read: RecordRead::new("Opportunity", &OPPORTUNITY_FIELDS),
            record_read,
        })
    }

    /// Reconciles `period`: reads both systems, writes what changed, returns the result.
    pub async fn run(&self, period: Month) -> Result<Reconciliation, ReconciliationError> {
        let bad_period = || {
            ReconciliationError::new(
                ErrorClass::Permanent,
                "the period",
                format!("{period} is not a month"),
            )
        };
        let first = period.first_day().ok_or_else(bad_period)?;
        let last = period.last_day().ok_or_else(bad_period)?;
        let plan = setup::mapping(&self.specs, FLOW, MAPPING, SOURCE, TARGET)
            .map_err(|e| ReconciliationError::new(ErrorClass::Permanent, "the mapping", e))?;
        let sf = self.ports.salesforce();
        let intacct = self.ports.intacct();
        let sf_error = |what: &'static str| {
            move |e: lf_domain::port::SalesforcePortError| {
                ReconciliationError::new(e.class(), what, e)
            }
        };

        // Capture: the won deals, the period's dated rates, the revenue entity by entity.
        let won = sf
            .read_by_field(&self.opportunity_read, "StageName", &[WON_STAGE.to_owned()])
            .await
            .map_err(sf_error("reading the won deals"))?;
        let mut deals: BTreeMap<String, SfRecord> = BTreeMap::new();
        for r in won.into_values().flatten() {
            if let Some(id) = r.get("Id").and_then(Value::as_str) {
                deals.insert(id.to_owned(), r);
            }
        }
        let deal_records: Vec<SfRecord> = deals.values().cloned().collect();
        let bookings = bookings_of(period, &deal_records);

        let mut salesforce_rates = Rates::new();
        let needs_sf_rates = bookings
            .iter()
            .any(|b| b.amount.currency != self.options.reporting_currency)
            || self.options.corporate_currency != self.options.reporting_currency;
        if needs_sf_rates {
            let dated = sf
                .conversion_rates(first, last)
                .await
                .map_err(sf_error("reading the dated conversion rates"))?;
            for r in dated {
                if let Err(error) = salesforce_rates.insert(
                    self.options.corporate_currency,
                    r.iso_code,
                    r.start_date,
                    r.rate,
                ) {
                    tracing::warn!(flow = %FLOW, %error, "a dated conversion rate is not usable");
                }
            }
        }

        let basis = &self.options.basis;
        let reads = futures::future::join_all(
            self.entities
                .iter()
                .map(|e| intacct.recognized_revenue(Some(&e.id), period, basis)),
        )
        .await;
        let mut revenue = Vec::new();
        for (entity, read) in self.entities.iter().zip(reads) {
            let amounts = read.map_err(|e| {
                ReconciliationError::new(
                    e.class(),
                    format!("reading revenue of entity {}", entity.id.as_str()),
                    e,
                )
            })?;
            revenue.extend(revenue_of(entity, amounts));
        }

        // Customers → accounts: the stored link first, then the customer's SFDC_ACCOUNT_ID.
        let customer_ids: BTreeSet<String> =
            revenue.iter().map(|r| r.customer_id.clone()).collect();
        let mut accounts: BTreeMap<String, SalesforceId> = BTreeMap::new();
        for c in &customer_ids {
            let Ok(key) = IntacctKey::parse(c) else {
                continue;
            };
            match self
                .ports
                .xref()
                .find_by_intacct(LinkKind::AccountCustomer, &key)
                .await
            {
                Ok(Some(link)) => {
                    accounts.insert(c.clone(), link.salesforce);
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(ReconciliationError::new(
                        e.class(),
                        "reading the customer links",
                        e,
                    ));
                }
            }
        }
        let unlinked: Vec<String> = customer_ids
            .iter()
            .filter(|c| !accounts.contains_key(*c))
            .cloned()
            .collect();
        let mut queries: Vec<RecordQuery> = unlinked
            .chunks(CUSTOMERS_PER_QUERY)
            .map(|ids| {
                RecordQuery::new("CUSTOMER", ["CUSTOMERID", "NAME", "SFDC_ACCOUNT_ID"])
                    .filter(QueryFilter::In("CUSTOMERID".into(), ids.to_vec()))
            })
            .collect();
        let customer_queries = queries.len();
        let reporting = self.options.reporting_currency;
        let needs_intacct_rates = revenue.iter().any(|r| r.amount.currency != reporting);
        if needs_intacct_rates {
            let from = last - chrono::Duration::days(RATE_LOOKBACK_DAYS);
            queries.push(RecordQuery::new(
                "EXCHANGERATE",
                ["RECORDNO", "FROM_CURRENCY", "TO_CURRENCY", "TYPENAME"],
            ));
            queries.push(
                RecordQuery::new(
                    "EXCHANGERATEENTRY",
                    ["EXCHANGERATEID", "EFFECTIVE_START_DATE", "RATE"],
                )
                .filter(QueryFilter::Between(
                    "EFFECTIVE_START_DATE".into(),
                    format_intacct_date(from),
                    format_intacct_date(last),
                )),
            );
        }
        let mut intacct_rate_sets = BTreeMap::new();
        if !queries.is_empty() {
            let intacct_error = |what: &'static str| {
                move |e: <P::Intacct as IntacctPort>::Error| {
                    ReconciliationError::new(e.class(), what, e)
                }
            };
            let results = intacct
                .query_many(None, &queries)
                .await
                .map_err(intacct_error("reading customers and rates"))?;
            let mut results = results.into_iter();
            for _ in 0..customer_queries {
                let customers = results
                    .next()
                    .unwrap_or_else(|| Ok(Vec::new()))
                    .map_err(intacct_error("reading the customers"))?;
                for c in customers {
                    let (Some(id), Some(account)) = (
                        c.field("CUSTOMERID"),
                        c.field("SFDC_ACCOUNT_ID")
                            .and_then(|a| SalesforceId::parse(a).ok()),
                    ) else {
                        continue;
                    };
                    accounts.insert(id.to_owned(), account);
                }
            }
            if needs_intacct_rates {
                let headers = results
                    .next()
                    .unwrap_or_else(|| Ok(Vec::new()))
                    .map_err(intacct_error("reading the exchange rates"))?;
                let entries = results
                    .next()
                    .unwrap_or_else(|| Ok(Vec::new()))
                    .map_err(intacct_error("reading the exchange rate entries"))?;
                intacct_rate_sets = intacct_rates(&headers, &entries);
            }
        }

        // Names of accounts that only have revenue (a deal brings its account's name).
        let booked_accounts: BTreeSet<&SalesforceId> =
            bookings.iter().map(|b| &b.account).collect();
        let nameless: Vec<SalesforceId> = accounts
            .values()
            .filter(|a| !booked_accounts.contains(a))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut account_names = BTreeMap::new();
        if !nameless.is_empty() {
            let read = sf
                .read_by_ids(&RecordRead::new("Account", &["Name"]), &nameless)
                .await
                .map_err(sf_error("reading account names"))?;
            for (id, r) in read {
                if let Some(name) = r.get("Name").and_then(Value::as_str) {
                    account_names.insert(id, name.to_owned());
                }
            }
        }

        let conversions = Conversions {
            reporting,
            corporate: self.options.corporate_currency,
            salesforce: salesforce_rates,
            intacct: intacct_rate_sets,
            intacct_date: last,
        };
        let mut rec = reconcile(
            period,
            &bookings,
            &revenue,
            &accounts,
            &account_names,
            &conversions,
        )?;

        // Apply: the reconciliation records that changed (one upsert), the deals' fields that
        // changed (one update).
        let existing = sf
            .read_by_field(&self.record_read, PERIOD_FIELD, &[period.to_string()])
            .await
            .map_err(sf_error("reading the period's reconciliation records"))?;
        let existing: BTreeMap<String, SfRecord> = existing
            .into_values()
            .flatten()
            .filter_map(|r| {
                let key = r.get(KEY_FIELD).and_then(Value::as_str)?.to_owned();
                Some((key, r))
            })
            .collect();
        let records = records_to_write(plan, period, &rec.rows, &existing)?;
        if !records.is_empty() {
            let labels: Vec<String> = records
                .iter()
                .map(|r| {
                    r.get(KEY_FIELD)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                })
                .collect();
            let details: Vec<String> = records.iter().map(audit_detail).collect();
            let results = sf
                .upsert(TARGET, KEY_FIELD, records)
                .await
                .map_err(sf_error("upserting the reconciliation records"))?;
            let correlation = CorrelationId::new_random();
            let now = self.ports.clock().now();
            for ((result, label), detail) in results.into_iter().zip(labels).zip(details) {
                match result {
                    WriteResult::Saved { id, created } => {
                        rec.writes.reconciliations += 1;
                        let entry = AuditEntry {
                            record: RecordRef::salesforce(TARGET, &id),
                            at: now,
                            flow: FLOW,
                            action: if created == Some(true) {
                                AuditAction::Created
                            } else {
                                AuditAction::Updated
                            },
                            correlation_id: correlation.clone(),
                            counterpart: None,
                            detail,
                        };
                        if let Err(error) = self.ports.audit().append(&entry).await {
                            tracing::warn!(%error, "audit entry not written");
                        }
                    }
                    WriteResult::Failed(f) => rec
                        .failures
                        .push(format!("{TARGET} {label}: {}: {}", f.code, f.message)),
                }
            }
        }
        let mut wb = WriteBack::default();
        for (i, o) in rec.opportunities.iter().enumerate() {
            let current = deals
                .get(o.opportunity.as_str())
                .map(|r| Value::Object(r.clone()))
                .unwrap_or(Value::Null);
            wb.set(
                "Opportunity",
                &o.opportunity,
                &current,
                i,
                vec![
                    ("Recognized_Revenue__c", number(o.recognized)),
                    ("Revenue_Variance__c", number(o.variance)),
                ],
            );
        }
        let to_update = wb.len();
        let failed = wb.apply(sf).await;
        rec.writes.opportunities = to_update - failed.len().min(to_update);
        rec.failures
            .extend(failed.into_iter().map(|(_, (_, reason))| reason));
        tracing::info!(
            flow = %FLOW,
            %period,
            accounts = rec.rows.len(),
            deals = rec.opportunities.len(),
            unmatched_revenue = rec.unmatched_revenue.len(),
            unmatched_bookings = rec.unmatched_bookings.len(),
            reconciliations_written = rec.writes.reconciliations,
            opportunities_written = rec.writes.opportunities,
            failures = rec.failures.len(),
            "revenue reconciled"
        );
        Ok(rec)
    }
}

#[cfg(test)]
mod tests {
    use lf_mapping::SpecBundle;

    use super::*;

    fn code(c: &str) -> CurrencyCode {
        CurrencyCode::parse(c).unwrap()
    }
    fn id(s: &str) -> SalesforceId {
        SalesforceId::parse(s).unwrap()
    }
    fn day(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }
    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }
    fn money(a: &str, c: &str) -> Money {
        Money::new(dec(a), code(c))
    }

    const ACME: &str = "001000000000001AAA";
    const RHEIN: &str = "001000000000002AAA";
    const NEW: &str = "001000000000003AAA";
    const O1: &str = "006000000000001AAA";
    const O2: &str = "006000000000002AAA";
    const O3: &str = "006000000000003AAA";
    const OCT: Month = Month {
        year: 2026,
        month: 10,
    };

    fn booking(opp: &str, account: &str, name: &str, amount: Money) -> Booking {
        Booking {
            opportunity: id(opp),
            name: format!("{name} deal"),
            account: id(account),
            account_name: name.into(),
            close_date: day("2026-10-15"),
            amount,
        }
    }

    fn revenue(entity: &str, customer: &str, opp: Option<&str>, amount: Money) -> Revenue {
        Revenue {
            entity: EntityId::parse(entity).unwrap(),
            customer_id: customer.into(),
            document: Some(format!("INV-{customer}")),
            opportunity: opp.map(str::to_owned),
            amount,
            rate_type: if entity == "DE" {
                "ECB Reference".into()
            } else {
                "Intacct Daily Rate".into()
            },
        }
    }

    fn conversions() -> Conversions {
        let mut salesforce = Rates::new();
        salesforce
            .insert(code("USD"), code("EUR"), day("2026-10-01"), dec("0.92"))
            .unwrap();
        salesforce
            .insert(code("USD"), code("EUR"), day("2026-11-01"), dec("0.50"))
            .unwrap();
        let mut ecb = Rates::new();
        ecb.insert(code("EUR"), code("USD"), day("2026-10-01"), dec("1.0836"))
            .unwrap();
        Conversions {
            reporting: code("USD"),
            corporate: code("USD"),
            salesforce,
            intacct: BTreeMap::from([("ECB Reference".to_owned(), ecb)]),
            intacct_date: day("2026-10-31"),
        }
    }

    fn sample() -> Reconciliation {
        let bookings = vec![
            booking(O1, ACME, "Acme", money("5000", "USD")),
            booking(O2, RHEIN, "Rhein", money("2400", "EUR")),
            booking(O3, NEW, "Newco", money("700", "USD")),
        ];
        let revenue = vec![
            revenue("US", "C-1", Some(O1), money("100", "USD")),
            revenue("US", "C-1", None, money("1000", "USD")),
            revenue("DE", "C-3", Some(O2), money("200", "EUR")),
            revenue("DE", "C-9", None, money("100", "EUR")),
        ];
        let accounts =
            BTreeMap::from([("C-1".to_owned(), id(ACME)), ("C-3".to_owned(), id(RHEIN))]);
        reconcile(
            OCT,
            &bookings,
            &revenue,
            &accounts,
            &BTreeMap::new(),
            &conversions(),
        )
        .unwrap()
    }

    #[test]
    fn revenue_matches_by_opportunity_then_account_and_the_rest_is_listed() {
        let rec = sample();
        let rows: Vec<_> = rec
            .rows
            .iter()
            .map(|r| {
                (
                    r.account_name.as_str(),
                    r.currency.as_str(),
                    r.booked,
                    r.recognized,
                    r.variance,
                    r.booked_reporting,
                    r.recognized_reporting,
                    r.recognized_by_opportunity,
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                (
                    "Acme",
                    "USD",
                    dec("5000"),
                    dec("1100"),
                    dec("3900"),
                    dec("5000"),
                    dec("1100"),
                    dec("100")
                ),
                (
                    "Newco",
                    "USD",
                    dec("700"),
                    dec("0"),
                    dec("700"),
                    dec("700"),
                    dec("0"),
                    dec("0")
                ),
                // 2400 / 0.92 = 2608.695… ; 200 × 1.0836 = 216.72
                (
                    "Rhein",
                    "EUR",
                    dec("2400"),
                    dec("200"),
                    dec("2200"),
                    dec("2608.70"),
                    dec("216.72"),
                    dec("200")
                ),
            ]
        );
        assert_eq!(rec.unmatched_revenue.len(), 1);
        assert_eq!(rec.unmatched_revenue[0].customer_id, "C-9");
        assert_eq!(rec.unmatched_bookings.len(), 1);
        assert_eq!(rec.unmatched_bookings[0].opportunity, id(O3));
        let deals: Vec<_> = rec
            .opportunities
            .iter()
            .map(|o| (o.opportunity.as_str(), o.recognized, o.variance))
            .collect();
        assert_eq!(
            deals,
            vec![
                (id(O1).as_str(), dec("100"), dec("4900")),
                (id(O2).as_str(), dec("200"), dec("2200")),
                (id(O3).as_str(), dec("0"), dec("700")),
            ]
        );
    }

    #[test]
    fn totals_are_in_the_reporting_currency_at_each_systems_rate() {
        let rec = sample();
        assert_eq!(rec.totals.booked, dec("8308.70"));
        assert_eq!(rec.totals.recognized, dec("1316.72"));
        assert_eq!(rec.totals.variance, dec("6991.98"));
        assert_eq!(
            rec.totals.unmatched_revenue,
            dec("108.36"),
            "100 EUR × 1.0836"
        );
        assert_eq!(rec.totals.unmatched_bookings, dec("700"));
        let sources: Vec<_> = rec
            .rates
            .iter()
            .map(|r| (r.source.as_str(), r.from.as_str(), r.rate))
            .collect();
        assert!(
            sources.contains(&("Intacct EXCHANGERATE (ECB Reference)", "EUR", dec("1.0836"))),
            "{sources:?}"
        );
        assert!(
            sources
                .iter()
                .any(|(s, f, _)| *s == "Salesforce DatedConversionRate" && *f == "EUR"),
            "the October rate, not November's: {sources:?}"
        );
    }

    #[test]
    fn an_account_with_two_currencies_reconciles_in_the_reporting_currency() {
        let bookings = vec![booking(O1, ACME, "Acme", money("920", "EUR"))];
        let revenue = vec![revenue("US", "C-1", None, money("300", "USD"))];
        let accounts = BTreeMap::from([("C-1".to_owned(), id(ACME))]);
        let rec = reconcile(
            OCT,
            &bookings,
            &revenue,
            &accounts,
            &BTreeMap::new(),
            &conversions(),
        )
        .unwrap();
        let r = &rec.rows[0];
        assert_eq!(r.currency.as_str(), "USD");
        assert_eq!(
            (r.booked, r.recognized, r.variance),
            (dec("1000"), dec("300"), dec("700"))
        );
        assert_eq!(rec.opportunities[0].recognized, Decimal::ZERO);
    }

    #[test]
    fn a_missing_rate_fails_and_names_the_pair() {
        let revenue = vec![revenue("UK", "C-2", None, money("10", "GBP"))];
        let accounts = BTreeMap::from([("C-2".to_owned(), id(ACME))]);
        let err = reconcile(
            OCT,
            &[],
            &revenue,
            &accounts,
            &BTreeMap::new(),
            &conversions(),
        )
        .unwrap_err();
        assert_eq!(err.class, ErrorClass::Permanent);
        assert!(err.to_string().contains("Intacct Daily Rate"), "{err}");
    }

    #[test]
    fn only_deals_closed_in_the_period_are_bookings() {
        let r = |id: &str, close: &str| {
            json!({"Id": id, "Name": "D", "AccountId": ACME, "Account": {"Name": "Acme"},
                   "Amount": 10.5, "CurrencyIsoCode": "USD", "CloseDate": close})
            .as_object()
            .cloned()
            .unwrap()
        };
        let got = bookings_of(
            OCT,
            &[
                r(O1, "2026-10-31"),
                r(O2, "2026-11-01"),
                r(O3, "2026-09-30"),
            ],
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].opportunity, id(O1));
        assert_eq!(got[0].amount, money("10.5", "USD"));
        assert_eq!(got[0].account_name, "Acme");
    }

    #[test]
    fn intacct_rates_join_headers_and_entries_per_rate_type() {
        let rec = |fields: Value| IntacctRecord {
            fields: fields.as_object().cloned().unwrap(),
            ..Default::default()
        };
        let headers = [
            rec(
                json!({"RECORDNO": "7", "FROM_CURRENCY": "GBP", "TO_CURRENCY": "USD", "TYPENAME": "Intacct Daily Rate"}),
            ),
            rec(
                json!({"RECORDNO": "8", "FROM_CURRENCY": "EUR", "TO_CURRENCY": "USD", "TYPENAME": "ECB Reference"}),
            ),
        ];
        let entries = [
            rec(
                json!({"EXCHANGERATEID": "7", "EFFECTIVE_START_DATE": "10/01/2026", "RATE": "1.2654"}),
            ),
            rec(
                json!({"EXCHANGERATEID": "7", "EFFECTIVE_START_DATE": "11/01/2026", "RATE": "1.3"}),
            ),
            rec(
                json!({"EXCHANGERATEID": "8", "EFFECTIVE_START_DATE": "10/01/2026", "RATE": "1.0836"}),
            ),
        ];
        let rates = intacct_rates(&headers, &entries);
        let daily = &rates["Intacct Daily Rate"];
        assert_eq!(
            daily
                .rate(code("GBP"), code("USD"), day("2026-10-31"))
                .unwrap(),
            dec("1.2654")
        );
        assert!(
            rates["ECB Reference"]
                .rate(code("GBP"), code("USD"), day("2026-10-31"))
                .is_err()
        );
    }

    #[test]
    fn records_are_written_only_when_they_differ_and_stale_ones_are_zeroed() {
        let specs = SpecBundle::shipped().compile().unwrap();
        let plan = specs.mapping(FLOW, MAPPING).unwrap();
        let rec = sample();
        let all = records_to_write(plan, OCT, &rec.rows, &BTreeMap::new()).unwrap();
        assert_eq!(all.len(), 3);
        let rhein = all
            .iter()
            .find(|r| r["Account__c"] == json!(id(RHEIN).as_str()))
            .unwrap();
        assert_eq!(rhein[KEY_FIELD], json!(format!("{}:2026-10", id(RHEIN))));
        assert_eq!(rhein["Period__c"], json!("2026-10"));
        assert_eq!(rhein["CurrencyIsoCode"], json!("EUR"));
        assert_eq!(rhein["Variance__c"], json!(2200.0));

        // What Salesforce holds after the first run: the same values (numbers as it returns them).
        let mut existing: BTreeMap<String, SfRecord> = all
            .iter()
            .map(|r| (r[KEY_FIELD].as_str().unwrap().to_owned(), r.clone()))
            .collect();
        assert!(
            records_to_write(plan, OCT, &rec.rows, &existing)
                .unwrap()
                .is_empty()
        );

        let stale_key = format!("{}:2026-10", id("001000000000009AAA"));
        let mut stale = existing.values().next().unwrap().clone();
        stale.insert(KEY_FIELD.into(), json!(stale_key));
        stale.insert(
            "Account__c".into(),
            json!(id("001000000000009AAA").as_str()),
        );
        existing.insert(stale_key.clone(), stale);
        let again = records_to_write(plan, OCT, &rec.rows, &existing).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0][KEY_FIELD], json!(stale_key));
        assert_eq!(again[0]["Booked_Amount__c"], json!(0.0));
    }
}
