//! Typed records of the objects the flows use, read from result elements (names compared
//! case-insensitively) and written as the elements of their create/update functions.

/// The [`LegacyCurrency`] of a document create: both document types name the block's fields
/// the same way (`base_currency`, `currency`, `exch_rate_date`, `exch_rate_type`, `exch_rate`).
macro_rules! document_currency {
    ($doc:expr) => {
        $crate::record::LegacyCurrency {
            base_currency: $doc.base_currency.as_deref(),
            currency: $doc.currency.as_deref(),
            rate_date: $doc.exch_rate_date,
            rate_type: $doc.exch_rate_type.as_deref(),
            rate: $doc.exch_rate,
        }
    };
}

mod contact;
mod customer;
mod invoice;
mod item;
mod payment;
mod rate;
mod revenue;
mod sales_document;

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use lf_domain::datetime::{format_intacct_date, parse_date, parse_datetime};
use serde_json::{Map, Value};

use crate::error::IntacctError;
use crate::fields;
use crate::xml::XmlElement;

pub use contact::{Address, Contact, ContactDetails};
pub use customer::Customer;
pub use invoice::{ArInvoice, ArInvoiceLine, InvoiceCreate, InvoiceLineCreate};
pub use item::Item;
pub use payment::{ArPayment, ArPaymentCreate, ArPaymentDetail, LegacyArPaymentCreate};
pub use rate::{ExchangeRate, ExchangeRateEntry, RateTable};
pub use revenue::{
    GlDetail, RecognizedRevenue, RevRecScheduleEntry, RevenueLine, RevenuePeriod, RevenueSource,
    recognized_revenue,
};
pub use sales_document::{
    SalesDocument, SalesDocumentEntry, SalesTransactionCreate, SalesTransactionLine,
};

/// A record type read from a result element.
pub trait FromRecord: Sized {
    /// The object name in `read`/`query` (`CUSTOMER`, `ARINVOICE`…).
    const OBJECT: &'static str;

    /// Reads the record from its result element.
    fn from_record(record: &XmlElement) -> Result<Self, IntacctError>;
}

/// Typed access to a record's fields, naming the object in errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields<'a> {
    el: &'a XmlElement,
    object: &'static str,
}

impl<'a> Fields<'a> {
    pub fn new(el: &'a XmlElement, object: &'static str) -> Self {
        Self { el, object }
    }

    pub fn text(&self, name: &str) -> Option<String> {
        self.el.field(name).map(str::to_owned)
    }

    /// The first of several names that is present (Intacct spells some fields two ways).
    pub fn text_any(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| self.text(n))
    }

    /// Like [`Fields::text_any`] for a typed reader (`Fields::decimal`, `Fields::date`…): the
    /// first name present decides, and a present value that does not read is an error.
    pub fn any<T>(
        &self,
        names: &[&str],
        read: impl Fn(&Self, &str) -> Result<Option<T>, IntacctError>,
    ) -> Result<Option<T>, IntacctError> {
        for name in names {
            if let Some(value) = read(self, name)? {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    pub fn decimal(&self, name: &str) -> Result<Option<Decimal>, IntacctError> {
        self.el
            .field(name)
            .map(|v| {
                Decimal::from_str(v)
                    .or_else(|_| Decimal::from_scientific(v))
                    .map_err(|_| {
                        IntacctError::record(self.object, format!("{name} {v:?} is not a number"))
                    })
            })
            .transpose()
    }

    pub fn date(&self, name: &str) -> Result<Option<NaiveDate>, IntacctError> {
        self.el
            .field(name)
            .map(|v| {
                parse_date(v).map_err(|e| IntacctError::record(self.object, format!("{name}: {e}")))
            })
            .transpose()
    }

    pub fn datetime(&self, name: &str) -> Result<Option<DateTime<Utc>>, IntacctError> {
        self.el
            .field(name)
            .map(|v| {
                // Intacct writes no offset: without a company offset configured it is
                // read as UTC.
                parse_datetime(v)
                    .map(|at| at.to_utc())
                    .map_err(|e| IntacctError::record(self.object, format!("{name}: {e}")))
            })
            .transpose()
    }

    pub fn boolean(&self, name: &str) -> Result<Option<bool>, IntacctError> {
        self.el
            .field(name)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "t" | "1" | "yes" => Ok(true),
                "false" | "f" | "0" | "no" => Ok(false),
                _ => Err(IntacctError::record(
                    self.object,
                    format!("{name} {v:?} is not true or false"),
                )),
            })
            .transpose()
    }

    /// Children of a line container (`ARINVOICEITEMS/arinvoiceitem`), whatever their names.
    pub fn lines(&self, container: &str) -> &'a [XmlElement] {
        self.el
            .find(container)
            .map(XmlElement::children)
            .unwrap_or(&[])
    }
}

/// Builder helpers for writing generic records.
pub(crate) trait ElementExt {
    fn opt_decimal(self, name: &str, value: Option<Decimal>) -> Self;
    fn opt_bool(self, name: &str, value: Option<bool>) -> Self;
    fn opt_date(self, name: &str, value: Option<NaiveDate>) -> Self;
}

impl ElementExt for XmlElement {
    fn opt_decimal(self, name: &str, value: Option<Decimal>) -> Self {
        self.opt_text(name, value.map(|d| d.to_string()))
    }

    fn opt_bool(self, name: &str, value: Option<bool>) -> Self {
        self.opt_text(name, value.map(|b| if b { "true" } else { "false" }))
    }

    fn opt_date(self, name: &str, value: Option<NaiveDate>) -> Self {
        self.opt_text(name, value.map(format_intacct_date))
    }
}

/// A legacy function body (or one of its lines) being filled in: names to values, in no
/// particular order. [`fields::legacy_element`] writes it in the gateway's schema order, so
/// the typed documents and the mapping's field trees go through the same table.
#[derive(Debug, Default)]
pub(crate) struct LegacyTree(Map<String, Value>);

impl LegacyTree {
    pub fn text(mut self, name: &str, value: Option<&str>) -> Self {
        if let Some(v) = value {
            self.0.insert(name.to_owned(), Value::String(v.to_owned()));
        }
        self
    }

    pub fn decimal(self, name: &str, value: Option<Decimal>) -> Self {
        self.text(name, value.map(|d| d.to_string()).as_deref())
    }

    pub fn boolean(mut self, name: &str, value: Option<bool>) -> Self {
        if let Some(b) = value {
            self.0.insert(name.to_owned(), Value::Bool(b));
        }
        self
    }

    pub fn date(mut self, name: &str, value: Option<NaiveDate>) -> Self {
        if let Some(d) = value {
            self.0.insert(name.to_owned(), fields::legacy_date_value(d));
        }
        self
    }

    /// The currency block shared by the document functions.
    pub fn currency(self, c: LegacyCurrency<'_>) -> Self {
        self.text("basecurr", c.base_currency)
            .text("currency", c.currency)
            .date("exchratedate", c.rate_date)
            .text("exchratetype", c.rate_type)
            .decimal("exchrate", c.rate)
    }

    /// `<customfields><customfield><customfieldname/><customfieldvalue/></customfield>…`,
    /// nothing when there are none.
    pub fn custom_fields(mut self, fields: &[(String, String)]) -> Self {
        if !fields.is_empty() {
            let entries = fields
                .iter()
                .map(|(name, value)| {
                    serde_json::json!({"customfieldname": name, "customfieldvalue": value})
                })
                .collect();
            self.0.insert(
                "customfields".into(),
                serde_json::json!({ "customfield": Value::Array(entries) }),
            );
        }
        self
    }

    /// `<container><item/>…</container>` from the lines' trees.
    pub fn lines(mut self, container: &str, item: &str, lines: Vec<LegacyTree>) -> Self {
        let inner = LegacyTree::default().repeated(item, lines);
        self.0.insert(container.to_owned(), Value::Object(inner.0));
        self
    }

    /// `<item/>` once per tree, nothing when there are none.
    pub fn repeated(mut self, item: &str, trees: Vec<LegacyTree>) -> Self {
        if !trees.is_empty() {
            let items = trees.into_iter().map(|t| Value::Object(t.0)).collect();
            self.0.insert(item.to_owned(), Value::Array(items));
        }
        self
    }

    /// The function body, in schema order.
    pub fn build(&self, function: &str) -> Result<XmlElement, IntacctError> {
        fields::legacy_element(function, &self.0)
    }
}

/// The currency block of the legacy document functions: `basecurr`, `currency`, then
/// `exchratedate` + `exchratetype` or `exchrate` (the schema's choice, checked when written).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LegacyCurrency<'a> {
    pub base_currency: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub rate_date: Option<NaiveDate>,
    pub rate_type: Option<&'a str>,
    pub rate: Option<Decimal>,
}
