//! SODOCUMENT (Order Entry: Sales Order, Sales Invoice…): read as a record; created with the
//! legacy `create_sotransaction`.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::{Fields, FromRecord, LegacyTree};
use crate::error::IntacctError;
use crate::xml::XmlElement;

/// An Order Entry document as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SalesDocument {
    pub record_no: Option<String>,
    /// `DOCID`: `Sales Order-SO0042`.
    pub doc_id: Option<String>,
    /// `DOCNO`: `SO0042`.
    pub doc_no: Option<String>,
    /// `DOCPARID`: the transaction definition (`Sales Order`).
    pub doc_par_id: Option<String>,
    /// `CUSTVENDID`: the customer.
    pub customer_id: Option<String>,
    pub state: Option<String>,
    pub when_created: Option<NaiveDate>,
    pub when_due: Option<NaiveDate>,
    pub when_modified: Option<DateTime<Utc>>,
    pub total: Option<Decimal>,
    pub currency: Option<String>,
    pub sfdc_opportunity_id: Option<String>,
    pub entity: Option<String>,
    /// Lines (`SODOCUMENTENTRIES`), when the read returned them.
    pub entries: Vec<SalesDocumentEntry>,
}

/// One line of an Order Entry document as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SalesDocumentEntry {
    pub item_id: Option<String>,
    pub quantity: Option<Decimal>,
    pub price: Option<Decimal>,
    pub total: Option<Decimal>,
    pub discount_percent: Option<Decimal>,
    pub location_id: Option<String>,
    pub department_id: Option<String>,
    pub rev_rec_start: Option<NaiveDate>,
    pub rev_rec_end: Option<NaiveDate>,
}

impl FromRecord for SalesDocument {
    const OBJECT: &'static str = "SODOCUMENT";

    fn from_record(el: &XmlElement) -> Result<Self, IntacctError> {
        let f = Fields::new(el, Self::OBJECT);
        let entries = f
            .lines("SODOCUMENTENTRIES")
            .iter()
            .map(|l| {
                let f = Fields::new(l, "SODOCUMENTENTRY");
                Ok(SalesDocumentEntry {
                    item_id: f.text("ITEMID"),
                    quantity: f.decimal("QUANTITY")?,
                    price: f.any(&["PRICE", "UIPRICE"], Fields::decimal)?,
                    total: f.decimal("TOTAL")?,
                    discount_percent: f.decimal("DISCOUNTPERCENT")?,
                    location_id: f.text_any(&["LOCATIONID", "LOCATION"]),
                    department_id: f.text_any(&["DEPARTMENTID", "DEPARTMENT"]),
                    rev_rec_start: f.date("REVRECSTARTDATE")?,
                    rev_rec_end: f.date("REVRECENDDATE")?,
                })
            })
            .collect::<Result<Vec<_>, IntacctError>>()?;
        Ok(Self {
            record_no: f.text("RECORDNO"),
            doc_id: f.text("DOCID"),
            doc_no: f.text("DOCNO"),
            doc_par_id: f.text("DOCPARID"),
            customer_id: f.text_any(&["CUSTVENDID", "CUSTOMERID"]),
            state: f.text("STATE"),
            when_created: f.date("WHENCREATED")?,
            when_due: f.date("WHENDUE")?,
            when_modified: f.datetime("WHENMODIFIED")?,
            total: f.decimal("TOTAL")?,
            currency: f.text("CURRENCY"),
            sfdc_opportunity_id: f.text("SFDC_OPPORTUNITY_ID"),
            entity: f.text("MEGAENTITYID"),
            entries,
        })
    }
}

/// A legacy `create_sotransaction`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SalesTransactionCreate {
    /// The transaction definition: `Sales Order`, `Sales Invoice`…
    pub transaction_type: String,
    pub date_created: Option<NaiveDate>,
    pub date_posted: Option<NaiveDate>,
    /// Conversion source, e.g. `Sales Quote-Q1002`.
    pub created_from: Option<String>,
    pub customer_id: String,
    pub document_no: Option<String>,
    pub reference_no: Option<String>,
    /// `termname` or `datedue` is required.
    pub term_name: Option<String>,
    pub date_due: Option<NaiveDate>,
    pub message: Option<String>,
    pub external_id: Option<String>,
    pub base_currency: Option<String>,
    pub currency: Option<String>,
    pub exch_rate_date: Option<NaiveDate>,
    pub exch_rate_type: Option<String>,
    pub exch_rate: Option<Decimal>,
    pub custom_fields: Vec<(String, String)>,
    /// `Draft`, `Pending` or `Closed`.
    pub state: Option<String>,
    pub project_id: Option<String>,
    pub lines: Vec<SalesTransactionLine>,
}

/// A `sotransitem`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SalesTransactionLine {
    pub item_id: String,
    pub item_desc: Option<String>,
    pub taxable: Option<bool>,
    pub warehouse_id: Option<String>,
    pub quantity: Decimal,
    pub unit: Option<String>,
    pub discount_percent: Option<Decimal>,
    pub price: Option<Decimal>,
    pub location_id: Option<String>,
    pub department_id: Option<String>,
    pub memo: Option<String>,
    pub custom_fields: Vec<(String, String)>,
    pub rev_rec_template: Option<String>,
    /// Service period start and end.
    pub rev_rec_start: Option<NaiveDate>,
    pub rev_rec_end: Option<NaiveDate>,
    pub project_id: Option<String>,
    pub customer_id: Option<String>,
    pub class_id: Option<String>,
    pub contract_id: Option<String>,
}

impl SalesTransactionCreate {
    /// The `<create_sotransaction>` function body, elements in the gateway's schema order
    /// ([`crate::fields::LEGACY_ORDER`]).
    pub fn to_element(&self) -> Result<XmlElement, IntacctError> {
        if self.transaction_type.trim().is_empty() || self.customer_id.trim().is_empty() {
            return Err(IntacctError::invalid(
                "create_sotransaction needs transactiontype and customerid",
            ));
        }
        let Some(created) = self.date_created else {
            return Err(IntacctError::invalid(
                "create_sotransaction needs datecreated",
            ));
        };
        if self.lines.is_empty() {
            return Err(IntacctError::invalid(
                "create_sotransaction needs at least one sotransitem",
            ));
        }
        let lines = self
            .lines
            .iter()
            .map(SalesTransactionLine::tree)
            .collect::<Result<Vec<_>, _>>()?;
        LegacyTree::default()
            .text("transactiontype", Some(&self.transaction_type))
            .date("datecreated", Some(created))
            .date("dateposted", self.date_posted)
            .text("createdfrom", self.created_from.as_deref())
            .text("customerid", Some(&self.customer_id))
            .text("documentno", self.document_no.as_deref())
            .text("referenceno", self.reference_no.as_deref())
            .text("termname", self.term_name.as_deref())
            .date("datedue", self.date_due)
            .text("message", self.message.as_deref())
            .text("externalid", self.external_id.as_deref())
            .currency(document_currency!(self))
            .custom_fields(&self.custom_fields)
            .text("state", self.state.as_deref())
            .text("projectid", self.project_id.as_deref())
            .lines("sotransitems", "sotransitem", lines)
            .build("create_sotransaction")
    }
}

impl SalesTransactionLine {
    fn tree(&self) -> Result<LegacyTree, IntacctError> {
        if self.item_id.trim().is_empty() {
            return Err(IntacctError::invalid("a sotransitem needs an itemid"));
        }
        Ok(LegacyTree::default()
            .text("itemid", Some(&self.item_id))
            .text("itemdesc", self.item_desc.as_deref())
            .boolean("taxable", self.taxable)
            .text("warehouseid", self.warehouse_id.as_deref())
            .decimal("quantity", Some(self.quantity))
            .text("unit", self.unit.as_deref())
            .decimal("discountpercent", self.discount_percent)
            .decimal("price", self.price)
            .text("locationid", self.location_id.as_deref())
            .text("departmentid", self.department_id.as_deref())
            .text("memo", self.memo.as_deref())
            .custom_fields(&self.custom_fields)
            .text("revrectemplate", self.rev_rec_template.as_deref())
            .date("revrecstartdate", self.rev_rec_start)
            .date("revrecenddate", self.rev_rec_end)
            .text("projectid", self.project_id.as_deref())
            .text("customerid", self.customer_id.as_deref())
            .text("classid", self.class_id.as_deref())
            .text("contractid", self.contract_id.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_document;

    #[test]
    fn sotransaction_lines_carry_price_discount_period_and_dimensions() {
        let so = SalesTransactionCreate {
            transaction_type: "Sales Order".into(),
            date_created: NaiveDate::from_ymd_opt(2025, 6, 30),
            customer_id: "C-9".into(),
            term_name: Some("N30".into()),
            custom_fields: vec![("SFDC_OPPORTUNITY_ID".into(), "0061U00000AbCdEQAV".into())],
            lines: vec![SalesTransactionLine {
                item_id: "SUB-PRO".into(),
                quantity: Decimal::new(3, 0),
                discount_percent: Some(Decimal::new(10, 0)),
                price: Some(Decimal::new(9900, 2)),
                location_id: Some("US".into()),
                department_id: Some("SALES".into()),
                rev_rec_start: NaiveDate::from_ymd_opt(2025, 7, 1),
                rev_rec_end: NaiveDate::from_ymd_opt(2026, 6, 30),
                class_id: Some("SMB".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            so.to_element().unwrap().to_xml().unwrap(),
            "<create_sotransaction><transactiontype>Sales Order</transactiontype>\
<datecreated><year>2025</year><month>06</month><day>30</day></datecreated><customerid>C-9</customerid><termname>N30</termname>\
<customfields><customfield><customfieldname>SFDC_OPPORTUNITY_ID</customfieldname><customfieldvalue>0061U00000AbCdEQAV</customfieldvalue></customfield></customfields>\
<sotransitems><sotransitem><itemid>SUB-PRO</itemid><quantity>3</quantity><discountpercent>10</discountpercent><price>99.00</price>\
<locationid>US</locationid><departmentid>SALES</departmentid>\
<revrecstartdate><year>2025</year><month>07</month><day>01</day></revrecstartdate>\
<revrecenddate><year>2026</year><month>06</month><day>30</day></revrecenddate><classid>SMB</classid></sotransitem></sotransitems></create_sotransaction>"
        );
        assert!(SalesTransactionCreate::default().to_element().is_err());
    }

    #[test]
    fn sales_document_reads_entries() {
        let el = parse_document(
            b"<sodocument><RECORDNO>77</RECORDNO><DOCID>Sales Order-SO0042</DOCID><DOCPARID>Sales Order</DOCPARID>\
<CUSTVENDID>C-9</CUSTVENDID><STATE>Pending</STATE><TOTAL>267.30</TOTAL>\
<SODOCUMENTENTRIES><sodocumententry><ITEMID>SUB-PRO</ITEMID><QUANTITY>3</QUANTITY><PRICE>99</PRICE></sodocumententry></SODOCUMENTENTRIES></sodocument>",
        )
        .unwrap();
        let d = SalesDocument::from_record(&el).unwrap();
        assert_eq!(d.doc_id.as_deref(), Some("Sales Order-SO0042"));
        assert_eq!(d.customer_id.as_deref(), Some("C-9"));
        assert_eq!(d.entries[0].quantity, Some(Decimal::new(3, 0)));
    }
}
