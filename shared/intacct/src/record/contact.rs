//! CONTACT, and the contact details a CUSTOMER carries as DISPLAYCONTACT.

use chrono::{DateTime, Utc};

use super::{ElementExt, Fields, FromRecord};
use crate::error::IntacctError;
use crate::xml::XmlElement;

/// A mailing address (`MAILADDRESS`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub address3: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub country: Option<String>,
    /// ISO country code; written as `COUNTRYCODE` (as the SDK does), read from `COUNTRYCODE`
    /// or `ISOCOUNTRYCODE` (as the docs name it).
    pub country_code: Option<String>,
}

impl Address {
    pub(crate) fn read(el: &XmlElement) -> Self {
        let f = Fields::new(el, "MAILADDRESS");
        Self {
            address1: f.text("ADDRESS1"),
            address2: f.text("ADDRESS2"),
            address3: f.text("ADDRESS3"),
            city: f.text("CITY"),
            state: f.text("STATE"),
            zip: f.text("ZIP"),
            country: f.text("COUNTRY"),
            country_code: f.text_any(&["COUNTRYCODE", "ISOCOUNTRYCODE"]),
        }
    }

    pub(crate) fn to_element(&self) -> XmlElement {
        XmlElement::new("MAILADDRESS")
            .opt_text("ADDRESS1", self.address1.as_deref())
            .opt_text("ADDRESS2", self.address2.as_deref())
            .opt_text("ADDRESS3", self.address3.as_deref())
            .opt_text("CITY", self.city.as_deref())
            .opt_text("STATE", self.state.as_deref())
            .opt_text("ZIP", self.zip.as_deref())
            .opt_text("COUNTRY", self.country.as_deref())
            .opt_text("COUNTRYCODE", self.country_code.as_deref())
    }
}

/// The person-and-address fields shared by CONTACT and a customer's DISPLAYCONTACT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactDetails {
    /// `PRINTAS`, required on create.
    pub print_as: Option<String>,
    pub company_name: Option<String>,
    pub taxable: Option<bool>,
    pub tax_group: Option<String>,
    pub prefix: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone1: Option<String>,
    pub phone2: Option<String>,
    pub cell_phone: Option<String>,
    pub fax: Option<String>,
    pub email1: Option<String>,
    pub email2: Option<String>,
    pub url1: Option<String>,
    pub url2: Option<String>,
    pub mail_address: Option<Address>,
}

impl ContactDetails {
    pub(crate) fn read(el: &XmlElement, object: &'static str) -> Result<Self, IntacctError> {
        let f = Fields::new(el, object);
        Ok(Self {
            print_as: f.text("PRINTAS"),
            company_name: f.text("COMPANYNAME"),
            taxable: f.boolean("TAXABLE")?,
            tax_group: f.text("TAXGROUP"),
            prefix: f.text("PREFIX"),
            first_name: f.text("FIRSTNAME"),
            last_name: f.text("LASTNAME"),
            phone1: f.text("PHONE1"),
            phone2: f.text("PHONE2"),
            cell_phone: f.text("CELLPHONE"),
            fax: f.text("FAX"),
            email1: f.text("EMAIL1"),
            email2: f.text("EMAIL2"),
            url1: f.text("URL1"),
            url2: f.text("URL2"),
            mail_address: el.find("MAILADDRESS").map(Address::read),
        })
    }

    /// Appends the fields in SDK order.
    pub(crate) fn write_into(&self, el: XmlElement) -> XmlElement {
        let el = el
            .opt_text("PRINTAS", self.print_as.as_deref())
            .opt_text("COMPANYNAME", self.company_name.as_deref())
            .opt_bool("TAXABLE", self.taxable)
            .opt_text("TAXGROUP", self.tax_group.as_deref())
            .opt_text("PREFIX", self.prefix.as_deref())
            .opt_text("FIRSTNAME", self.first_name.as_deref())
            .opt_text("LASTNAME", self.last_name.as_deref())
            .opt_text("PHONE1", self.phone1.as_deref())
            .opt_text("PHONE2", self.phone2.as_deref())
            .opt_text("CELLPHONE", self.cell_phone.as_deref())
            .opt_text("FAX", self.fax.as_deref())
            .opt_text("EMAIL1", self.email1.as_deref())
            .opt_text("EMAIL2", self.email2.as_deref())
            .opt_text("URL1", self.url1.as_deref())
            .opt_text("URL2", self.url2.as_deref());
        match &self.mail_address {
            Some(a) => el.child(a.to_element()),
            None => el,
        }
    }
}

/// A CONTACT record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub record_no: Option<String>,
    /// `CONTACTNAME`, the contact's unique name (its id).
    pub contact_name: Option<String>,
    pub details: ContactDetails,
    pub status: Option<String>,
    /// `SFDC_CONTACT_ID`: the linked Salesforce Contact.
    pub sfdc_contact_id: Option<String>,
    pub when_modified: Option<DateTime<Utc>>,
    /// `MEGAENTITYID`: the owning entity, when not the top level.
    pub entity: Option<String>,
}

impl FromRecord for Contact {
    const OBJECT: &'static str = "CONTACT";

    fn from_record(el: &XmlElement) -> Result<Self, IntacctError> {
        let f = Fields::new(el, Self::OBJECT);
        Ok(Self {
            record_no: f.text("RECORDNO"),
            contact_name: f.text("CONTACTNAME"),
            details: ContactDetails::read(el, Self::OBJECT)?,
            status: f.text("STATUS"),
            sfdc_contact_id: f.text("SFDC_CONTACT_ID"),
            when_modified: f.datetime("WHENMODIFIED")?,
            entity: f.text("MEGAENTITYID"),
        })
    }
}

impl Contact {
    /// The `<CONTACT>` element of a `create` (CONTACTNAME and PRINTAS are required).
    pub fn to_create(&self) -> Result<XmlElement, IntacctError> {
        if self.contact_name.is_none() || self.details.print_as.is_none() {
            return Err(IntacctError::invalid(
                "a CONTACT create needs CONTACTNAME and PRINTAS",
            ));
        }
        Ok(self.element())
    }

    /// The `<CONTACT>` element of an `update`, keyed by RECORDNO or CONTACTNAME.
    pub fn to_update(&self) -> Result<XmlElement, IntacctError> {
        if self.record_no.is_none() && self.contact_name.is_none() {
            return Err(IntacctError::invalid(
                "a CONTACT update needs RECORDNO or CONTACTNAME",
            ));
        }
        Ok(self.element())
    }

    fn element(&self) -> XmlElement {
        let el = XmlElement::new("CONTACT")
            .opt_text("RECORDNO", self.record_no.as_deref())
            .opt_text("CONTACTNAME", self.contact_name.as_deref());
        self.details
            .write_into(el)
            .opt_text("STATUS", self.status.as_deref())
            .opt_text("SFDC_CONTACT_ID", self.sfdc_contact_id.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_document;

    #[test]
    fn contact_reads_and_writes() {
        let el = parse_document(
            b"<contact><RECORDNO>7</RECORDNO><CONTACTNAME>Doe, Jane</CONTACTNAME><PRINTAS>Jane Doe</PRINTAS>\
<EMAIL1>jane@example.test</EMAIL1><MAILADDRESS><CITY>Boston</CITY><ISOCOUNTRYCODE>US</ISOCOUNTRYCODE></MAILADDRESS>\
<SFDC_CONTACT_ID>0031U00000ABCDEQA1</SFDC_CONTACT_ID><WHENMODIFIED>03/14/2025 16:05:09</WHENMODIFIED></contact>",
        )
        .unwrap();
        let c = Contact::from_record(&el).unwrap();
        assert_eq!(c.contact_name.as_deref(), Some("Doe, Jane"));
        assert_eq!(c.details.email1.as_deref(), Some("jane@example.test"));
        let addr = c.details.mail_address.clone().unwrap();
        assert_eq!(addr.city.as_deref(), Some("Boston"));
        assert_eq!(addr.country_code.as_deref(), Some("US"));
        assert_eq!(c.sfdc_contact_id.as_deref(), Some("0031U00000ABCDEQA1"));
        assert!(c.when_modified.is_some());
        let xml = c.to_update().unwrap().to_xml().unwrap();
        assert!(xml.starts_with("<CONTACT><RECORDNO>7</RECORDNO><CONTACTNAME>Doe, Jane</CONTACTNAME><PRINTAS>Jane Doe</PRINTAS>"), "{xml}");
        assert!(
            xml.contains(
                "<MAILADDRESS><CITY>Boston</CITY><COUNTRYCODE>US</COUNTRYCODE></MAILADDRESS>"
            ),
            "{xml}"
        );
        assert!(Contact::default().to_create().is_err());
    }
}
