//! ARINVOICE: read as a record; created with the legacy `create_invoice` (the generic
//! `<create><ARINVOICE>` is not documented, protocols.md B7).

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::{Fields, FromRecord, LegacyTree};
use crate::error::IntacctError;
use crate::xml::XmlElement;

/// An AR invoice as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArInvoice {
    pub record_no: Option<String>,
    /// `RECORDID`: the invoice number.
    pub record_id: Option<String>,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    /// `STATE`: Posted, Partially Paid, Paid, Draft…
    pub state: Option<String>,
    pub total_entered: Option<Decimal>,
    pub total_paid: Option<Decimal>,
    pub total_due: Option<Decimal>,
    pub when_created: Option<NaiveDate>,
    pub when_due: Option<NaiveDate>,
    pub when_paid: Option<NaiveDate>,
    pub when_modified: Option<DateTime<Utc>>,
    pub currency: Option<String>,
    pub base_currency: Option<String>,
    pub description: Option<String>,
    /// `SFDC_OPPORTUNITY_ID`: the Opportunity the invoice came from.
    pub sfdc_opportunity_id: Option<String>,
    pub entity: Option<String>,
    /// Lines (`ARINVOICEITEMS`), when the read returned them.
    pub lines: Vec<ArInvoiceLine>,
}

/// One line of an AR invoice as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArInvoiceLine {
    pub record_no: Option<String>,
    pub account_no: Option<String>,
    pub amount: Option<Decimal>,
    pub item_id: Option<String>,
    pub memo: Option<String>,
    pub location_id: Option<String>,
    pub department_id: Option<String>,
    pub rev_rec_template: Option<String>,
    pub rev_rec_start: Option<NaiveDate>,
    pub rev_rec_end: Option<NaiveDate>,
}

impl FromRecord for ArInvoice {
    const OBJECT: &'static str = "ARINVOICE";

    fn from_record(el: &XmlElement) -> Result<Self, IntacctError> {
        let f = Fields::new(el, Self::OBJECT);
        let lines = f
            .lines("ARINVOICEITEMS")
            .iter()
            .map(|l| {
                let f = Fields::new(l, "ARINVOICEITEM");
                Ok(ArInvoiceLine {
                    record_no: f.text("RECORDNO"),
                    account_no: f.text_any(&["ACCOUNTNO", "GLACCOUNTNO"]),
                    amount: f.any(&["TRX_AMOUNT", "AMOUNT"], Fields::decimal)?,
                    item_id: f.text("ITEMID"),
                    memo: f.text_any(&["ENTRYDESCRIPTION", "MEMO"]),
                    location_id: f.text_any(&["LOCATIONID", "LOCATION"]),
                    department_id: f.text_any(&["DEPARTMENTID", "DEPARTMENT"]),
                    rev_rec_template: f.text("REVRECTEMPLATE"),
                    rev_rec_start: f.date("REVRECSTARTDATE")?,
                    rev_rec_end: f.date("REVRECENDDATE")?,
                })
            })
            .collect::<Result<Vec<_>, IntacctError>>()?;
        Ok(Self {
            record_no: f.text("RECORDNO"),
            record_id: f.text("RECORDID"),
            customer_id: f.text("CUSTOMERID"),
            customer_name: f.text("CUSTOMERNAME"),
            state: f.text("STATE"),
            total_entered: f.decimal("TOTALENTERED")?,
            total_paid: f.decimal("TOTALPAID")?,
            total_due: f.decimal("TOTALDUE")?,
            when_created: f.date("WHENCREATED")?,
            when_due: f.date("WHENDUE")?,
            when_paid: f.date("WHENPAID")?,
            when_modified: f.datetime("WHENMODIFIED")?,
            currency: f.text("CURRENCY"),
            base_currency: f.text("BASECURR"),
            description: f.text("DESCRIPTION"),
            sfdc_opportunity_id: f.text("SFDC_OPPORTUNITY_ID"),
            entity: f.text("MEGAENTITYID"),
            lines,
        })
    }
}

/// A legacy `create_invoice`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvoiceCreate {
    pub customer_id: String,
    pub date_created: Option<NaiveDate>,
    pub date_posted: Option<NaiveDate>,
    /// `datedue` or `termname` is required.
    pub date_due: Option<NaiveDate>,
    pub term_name: Option<String>,
    /// `Draft` or `Submit` (the default).
    pub action: Option<String>,
    pub invoice_no: Option<String>,
    pub po_number: Option<String>,
    pub description: Option<String>,
    pub external_id: Option<String>,
    pub base_currency: Option<String>,
    pub currency: Option<String>,
    pub exch_rate_date: Option<NaiveDate>,
    pub exch_rate_type: Option<String>,
    pub exch_rate: Option<Decimal>,
    /// Custom fields by id, e.g. `("SFDC_OPPORTUNITY_ID", "006…")`.
    pub custom_fields: Vec<(String, String)>,
    pub lines: Vec<InvoiceLineCreate>,
}

/// A `lineitem` of `create_invoice`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvoiceLineCreate {
    /// `glaccountno` or `accountlabel` is required.
    pub gl_account_no: Option<String>,
    pub account_label: Option<String>,
    pub offset_gl_account_no: Option<String>,
    pub amount: Decimal,
    pub memo: Option<String>,
    /// Required in a multi-entity company.
    pub location_id: Option<String>,
    pub department_id: Option<String>,
    pub custom_fields: Vec<(String, String)>,
    pub rev_rec_template: Option<String>,
    pub def_rev_account: Option<String>,
    pub rev_rec_start: Option<NaiveDate>,
    pub rev_rec_end: Option<NaiveDate>,
    pub project_id: Option<String>,
    pub customer_id: Option<String>,
    pub item_id: Option<String>,
    pub class_id: Option<String>,
    pub contract_id: Option<String>,
}

impl InvoiceCreate {
    /// The `<create_invoice>` function body, elements in the gateway's schema order
    /// ([`crate::fields::LEGACY_ORDER`]).
    pub fn to_element(&self) -> Result<XmlElement, IntacctError> {
        if self.customer_id.trim().is_empty() {
            return Err(IntacctError::invalid("create_invoice needs a customerid"));
        }
        let Some(created) = self.date_created else {
            return Err(IntacctError::invalid("create_invoice needs datecreated"));
        };
        if self.date_due.is_none() && self.term_name.is_none() {
            return Err(IntacctError::invalid(
                "create_invoice needs datedue or termname",
            ));
        }
        if self.lines.is_empty() {
            return Err(IntacctError::invalid(
                "create_invoice needs at least one line",
            ));
        }
        let lines = self
            .lines
            .iter()
            .map(InvoiceLineCreate::tree)
            .collect::<Result<Vec<_>, _>>()?;
        LegacyTree::default()
            .text("customerid", Some(&self.customer_id))
            .date("datecreated", Some(created))
            .date("dateposted", self.date_posted)
            .date("datedue", self.date_due)
            .text("termname", self.term_name.as_deref())
            .text("action", self.action.as_deref())
            .text("invoiceno", self.invoice_no.as_deref())
            .text("ponumber", self.po_number.as_deref())
            .text("description", self.description.as_deref())
            .text("externalid", self.external_id.as_deref())
            .currency(document_currency!(self))
            .custom_fields(&self.custom_fields)
            .lines("invoiceitems", "lineitem", lines)
            .build("create_invoice")
    }
}

impl InvoiceLineCreate {
    fn tree(&self) -> Result<LegacyTree, IntacctError> {
        let line = match (&self.gl_account_no, &self.account_label) {
            (Some(no), _) => LegacyTree::default().text("glaccountno", Some(no)),
            (None, Some(label)) => LegacyTree::default().text("accountlabel", Some(label)),
            (None, None) => {
                return Err(IntacctError::invalid(
                    "an invoice line needs glaccountno or accountlabel",
                ));
            }
        };
        Ok(line
            .text("offsetglaccountno", self.offset_gl_account_no.as_deref())
            .decimal("amount", Some(self.amount))
            .text("memo", self.memo.as_deref())
            .text("locationid", self.location_id.as_deref())
            .text("departmentid", self.department_id.as_deref())
            .custom_fields(&self.custom_fields)
            .text("revrectemplate", self.rev_rec_template.as_deref())
            .text("defrevaccount", self.def_rev_account.as_deref())
            .date("revrecstartdate", self.rev_rec_start)
            .date("revrecenddate", self.rev_rec_end)
            .text("projectid", self.project_id.as_deref())
            .text("customerid", self.customer_id.as_deref())
            .text("itemid", self.item_id.as_deref())
            .text("classid", self.class_id.as_deref())
            .text("contractid", self.contract_id.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_document;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn create_invoice_uses_legacy_dates_and_schema_order() {
        let inv = InvoiceCreate {
            customer_id: "C-1".into(),
            date_created: Some(d(2025, 3, 1)),
            term_name: Some("Net 30".into()),
            currency: Some("EUR".into()),
            exch_rate_type: Some("Intacct Daily Rate".into()),
            custom_fields: vec![("SFDC_OPPORTUNITY_ID".into(), "0061U00000AbCdEQAV".into())],
            lines: vec![InvoiceLineCreate {
                gl_account_no: Some("4000".into()),
                amount: Decimal::new(120000, 2),
                location_id: Some("EU".into()),
                rev_rec_start: Some(d(2025, 3, 1)),
                rev_rec_end: Some(d(2026, 2, 28)),
                item_id: Some("SUB-PRO".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            inv.to_element().unwrap().to_xml().unwrap(),
            "<create_invoice><customerid>C-1</customerid>\
<datecreated><year>2025</year><month>03</month><day>01</day></datecreated>\
<termname>Net 30</termname><currency>EUR</currency><exchratetype>Intacct Daily Rate</exchratetype>\
<customfields><customfield><customfieldname>SFDC_OPPORTUNITY_ID</customfieldname><customfieldvalue>0061U00000AbCdEQAV</customfieldvalue></customfield></customfields>\
<invoiceitems><lineitem><glaccountno>4000</glaccountno><amount>1200.00</amount><locationid>EU</locationid>\
<revrecstartdate><year>2025</year><month>03</month><day>01</day></revrecstartdate>\
<revrecenddate><year>2026</year><month>02</month><day>28</day></revrecenddate><itemid>SUB-PRO</itemid></lineitem></invoiceitems></create_invoice>"
        );
    }

    #[test]
    fn create_invoice_checks_required_fields() {
        let mut inv = InvoiceCreate {
            customer_id: "C-1".into(),
            date_created: Some(d(2025, 3, 1)),
            date_due: Some(d(2025, 3, 31)),
            lines: vec![InvoiceLineCreate::default()],
            ..Default::default()
        };
        assert!(
            inv.to_element()
                .unwrap_err()
                .to_string()
                .contains("glaccountno")
        );
        inv.lines.clear();
        assert!(inv.to_element().is_err());
        inv.date_due = None;
        assert!(inv.to_element().is_err());
    }

    #[test]
    fn invoice_reads_header_and_lines() {
        let el = parse_document(
            b"<ARINVOICE><RECORDNO>101</RECORDNO><RECORDID>INV-0042</RECORDID><CUSTOMERID>C-1</CUSTOMERID>\
<STATE>Partially Paid</STATE><TOTALENTERED>1200.00</TOTALENTERED><TOTALPAID>200</TOTALPAID><TOTALDUE>1000.00</TOTALDUE>\
<WHENCREATED>03/01/2025</WHENCREATED><WHENDUE>03/31/2025</WHENDUE><CURRENCY>EUR</CURRENCY>\
<SFDC_OPPORTUNITY_ID>0061U00000AbCdEQAV</SFDC_OPPORTUNITY_ID>\
<ARINVOICEITEMS><arinvoiceitem><ACCOUNTNO>4000</ACCOUNTNO><AMOUNT>1200.00</AMOUNT><LOCATIONID>EU</LOCATIONID></arinvoiceitem></ARINVOICEITEMS></ARINVOICE>",
        )
        .unwrap();
        let inv = ArInvoice::from_record(&el).unwrap();
        assert_eq!(inv.record_id.as_deref(), Some("INV-0042"));
        assert_eq!(inv.total_due, Some(Decimal::new(100000, 2)));
        assert_eq!(inv.when_due, Some(d(2025, 3, 31)));
        assert_eq!(inv.lines.len(), 1);
        assert_eq!(inv.lines[0].account_no.as_deref(), Some("4000"));
        assert_eq!(inv.lines[0].location_id.as_deref(), Some("EU"));
    }
}
