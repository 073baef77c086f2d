//! Typed records of the objects the flows use, read from result elements (names compared
//! case-insensitively) and written as the elements of their create/update functions.

mod contact;
mod customer;
mod invoice;
mod item;
mod payment;
mod revenue;
mod sales_document;

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use lf_domain::datetime::{format_intacct_date, parse_date, parse_datetime};

use crate::date::legacy_date;
use crate::error::IntacctError;
use crate::xml::XmlElement;

pub use contact::{Address, Contact, ContactDetails};
pub use customer::Customer;
pub use invoice::{ArInvoice, ArInvoiceLine, InvoiceCreate, InvoiceLineCreate};
pub use item::Item;
pub use payment::{ArPayment, ArPaymentCreate, ArPaymentDetail, LegacyArPaymentCreate};
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

/// Builder helpers for writing records.
pub(crate) trait ElementExt {
    fn opt_decimal(self, name: &str, value: Option<Decimal>) -> Self;
    fn opt_bool(self, name: &str, value: Option<bool>) -> Self;
    fn opt_date(self, name: &str, value: Option<NaiveDate>) -> Self;
    fn opt_legacy_date(self, name: &str, value: Option<NaiveDate>) -> Self;
    fn opt_child(self, child: Option<XmlElement>) -> Self;
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

    fn opt_legacy_date(self, name: &str, value: Option<NaiveDate>) -> Self {
        self.opt_child(value.map(|d| legacy_date(name, d)))
    }

    fn opt_child(mut self, child: Option<XmlElement>) -> Self {
        if let Some(c) = child {
            self.push(c);
        }
        self
    }
}

/// The currency block shared by the legacy document functions: `basecurr`, `currency`,
/// `exchratedate`, `exchratetype`, `exchrate`, in SDK order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LegacyCurrency<'a> {
    pub base_currency: Option<&'a str>,
    pub currency: Option<&'a str>,
    pub rate_date: Option<NaiveDate>,
    pub rate_type: Option<&'a str>,
    pub rate: Option<Decimal>,
}

impl LegacyCurrency<'_> {
    pub fn write_into(&self, el: XmlElement) -> XmlElement {
        el.opt_text("basecurr", self.base_currency)
            .opt_text("currency", self.currency)
            .opt_legacy_date("exchratedate", self.rate_date)
            .opt_text("exchratetype", self.rate_type)
            .opt_decimal("exchrate", self.rate)
    }
}

/// A line's revenue recognition (service period): `revrectemplate`, then — after `between`,
/// which differs per function — `revrecstartdate` and `revrecenddate`.
pub(crate) fn service_period(
    el: XmlElement,
    template: Option<&str>,
    between: impl FnOnce(XmlElement) -> XmlElement,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
) -> XmlElement {
    between(el.opt_text("revrectemplate", template))
        .opt_legacy_date("revrecstartdate", start)
        .opt_legacy_date("revrecenddate", end)
}

/// `<customfields><customfield><customfieldname/><customfieldvalue/></customfield>…` of the
/// legacy functions; `None` when there are none.
pub(crate) fn legacy_custom_fields(fields: &[(String, String)]) -> Option<XmlElement> {
    if fields.is_empty() {
        return None;
    }
    let mut el = XmlElement::new("customfields");
    for (name, value) in fields {
        el.push(
            XmlElement::new("customfield")
                .child(XmlElement::with_text("customfieldname", name.as_str()))
                .child(XmlElement::with_text("customfieldvalue", value.as_str())),
        );
    }
    Some(el)
}
