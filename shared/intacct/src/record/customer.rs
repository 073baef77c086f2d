//! CUSTOMER.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{ContactDetails, ElementExt, Fields, FromRecord};
use crate::error::IntacctError;
use crate::xml::XmlElement;

/// A CUSTOMER record: what the flows read and write. Fields left `None` are not sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Customer {
    /// Read-only key.
    pub record_no: Option<String>,
    /// `CUSTOMERID`; optional on create when document sequencing numbers customers.
    pub customer_id: Option<String>,
    /// `NAME`, required on create.
    pub name: Option<String>,
    /// `DISPLAYCONTACT`; its `PRINTAS` defaults to NAME on create.
    pub display_contact: Option<ContactDetails>,
    /// `active` or `inactive`.
    pub status: Option<String>,
    pub customer_type: Option<String>,
    pub parent_id: Option<String>,
    pub term_name: Option<String>,
    pub tax_id: Option<String>,
    pub credit_limit: Option<Decimal>,
    pub on_hold: Option<bool>,
    pub currency: Option<String>,
    pub comments: Option<String>,
    /// `SFDC_ACCOUNT_ID`: the linked Salesforce Account.
    pub sfdc_account_id: Option<String>,
    /// Read-only: open balance.
    pub total_due: Option<Decimal>,
    pub when_modified: Option<DateTime<Utc>>,
    /// `MEGAENTITYID`: owning entity, when not the top level.
    pub entity: Option<String>,
}

impl FromRecord for Customer {
    const OBJECT: &'static str = "CUSTOMER";

    fn from_record(el: &XmlElement) -> Result<Self, IntacctError> {
        let f = Fields::new(el, Self::OBJECT);
        Ok(Self {
            record_no: f.text("RECORDNO"),
            customer_id: f.text("CUSTOMERID"),
            name: f.text("NAME"),
            display_contact: el
                .find("DISPLAYCONTACT")
                .map(|d| ContactDetails::read(d, Self::OBJECT))
                .transpose()?,
            status: f.text("STATUS"),
            customer_type: f.text("CUSTTYPE"),
            parent_id: f.text("PARENTID"),
            term_name: f.text("TERMNAME"),
            tax_id: f.text("TAXID"),
            credit_limit: f.decimal("CREDITLIMIT")?,
            on_hold: f.boolean("ONHOLD")?,
            currency: f.text("CURRENCY"),
            comments: f.text("COMMENTS"),
            sfdc_account_id: f.text("SFDC_ACCOUNT_ID"),
            total_due: f.decimal("TOTALDUE")?,
            when_modified: f.datetime("WHENMODIFIED")?,
            entity: f.text("MEGAENTITYID"),
        })
    }
}

impl Customer {
    /// The `<CUSTOMER>` element of a `create` (NAME is required; without a PRINTAS the
    /// company prints the customer under its NAME).
    pub fn to_create(&self) -> Result<XmlElement, IntacctError> {
        if self.name.is_none() {
            return Err(IntacctError::invalid("a CUSTOMER create needs NAME"));
        }
        Ok(self.element(false))
    }

    /// The `<CUSTOMER>` element of an `update`, keyed by RECORDNO or CUSTOMERID.
    pub fn to_update(&self) -> Result<XmlElement, IntacctError> {
        if self.record_no.is_none() && self.customer_id.is_none() {
            return Err(IntacctError::invalid(
                "a CUSTOMER update needs RECORDNO or CUSTOMERID",
            ));
        }
        Ok(self.element(true))
    }

    fn element(&self, with_record_no: bool) -> XmlElement {
        let mut el = XmlElement::new("CUSTOMER");
        if with_record_no {
            el = el.opt_text("RECORDNO", self.record_no.as_deref());
        }
        el = el
            .opt_text("CUSTOMERID", self.customer_id.as_deref())
            .opt_text("NAME", self.name.as_deref());
        if let Some(d) = &self.display_contact {
            el = el.child(d.write_into(XmlElement::new("DISPLAYCONTACT")));
        }
        el.opt_text("STATUS", self.status.as_deref())
            .opt_text("CUSTTYPE", self.customer_type.as_deref())
            .opt_text("PARENTID", self.parent_id.as_deref())
            .opt_text("TERMNAME", self.term_name.as_deref())
            .opt_text("TAXID", self.tax_id.as_deref())
            .opt_decimal("CREDITLIMIT", self.credit_limit)
            .opt_bool("ONHOLD", self.on_hold)
            .opt_text("COMMENTS", self.comments.as_deref())
            .opt_text("CURRENCY", self.currency.as_deref())
            .opt_text("SFDC_ACCOUNT_ID", self.sfdc_account_id.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Address;
    use crate::xml::parse_document;

    #[test]
    fn customer_create_is_written_in_sdk_order() {
        let c = Customer {
            customer_id: Some("C-1".into()),
            name: Some("Acme".into()),
            display_contact: Some(ContactDetails {
                print_as: Some("Acme Inc".into()),
                email1: Some("ap@acme.test".into()),
                mail_address: Some(Address {
                    city: Some("Paris".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            credit_limit: Some(Decimal::new(150050, 2)),
            on_hold: Some(false),
            sfdc_account_id: Some("0011U00000V0tkDQAR".into()),
            ..Default::default()
        };
        assert_eq!(
            c.to_create().unwrap().to_xml().unwrap(),
            "<CUSTOMER><CUSTOMERID>C-1</CUSTOMERID><NAME>Acme</NAME><DISPLAYCONTACT><PRINTAS>Acme Inc</PRINTAS>\
<EMAIL1>ap@acme.test</EMAIL1><MAILADDRESS><CITY>Paris</CITY></MAILADDRESS></DISPLAYCONTACT>\
<CREDITLIMIT>1500.50</CREDITLIMIT><ONHOLD>false</ONHOLD><SFDC_ACCOUNT_ID>0011U00000V0tkDQAR</SFDC_ACCOUNT_ID></CUSTOMER>"
        );
        assert!(Customer::default().to_create().is_err());
        assert!(Customer::default().to_update().is_err());
    }

    #[test]
    fn customer_reads_lower_and_upper_case_results() {
        let el = parse_document(
            b"<customer><RECORDNO>12</RECORDNO><CUSTOMERID>C0001</CUSTOMERID><NAME>Big Co</NAME>\
<displaycontact><PRINTAS>Big</PRINTAS></displaycontact><ONHOLD>true</ONHOLD><CREDITLIMIT>2500</CREDITLIMIT>\
<TOTALDUE>99.95</TOTALDUE><MEGAENTITYID>US</MEGAENTITYID><WHENMODIFIED>01/02/2025 03:04:05</WHENMODIFIED></customer>",
        )
        .unwrap();
        let c = Customer::from_record(&el).unwrap();
        assert_eq!(c.customer_id.as_deref(), Some("C0001"));
        assert_eq!(c.on_hold, Some(true));
        assert_eq!(c.total_due, Some(Decimal::new(9995, 2)));
        assert_eq!(
            c.display_contact.and_then(|d| d.print_as).as_deref(),
            Some("Big")
        );
        assert_eq!(c.entity.as_deref(), Some("US"));
        let bad = parse_document(b"<customer><ONHOLD>maybe</ONHOLD></customer>").unwrap();
        assert!(Customer::from_record(&bad).is_err());
    }
}
