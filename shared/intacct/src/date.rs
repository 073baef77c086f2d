//! Dates as the gateway writes and reads them. Reading and the text formats are
//! [`lf_domain::datetime`]'s (`MM/DD/YYYY`, `MM/DD/YYYY HH:MM:SS`, the ISO forms); what is
//! Intacct's own is the legacy date *element* that `create_invoice`, `create_sotransaction`
//! and `create_arpayment` take (protocols.md B6).

use chrono::NaiveDate;
use lf_domain::datetime::legacy_date_parts;

use crate::xml::XmlElement;

/// A legacy date element: `<name><year>2015</year><month>06</month><day>30</day></name>`.
pub fn legacy_date(name: &str, date: NaiveDate) -> XmlElement {
    legacy_date_parts(date)
        .into_iter()
        .fold(XmlElement::new(name), |el, (part, value)| {
            el.child(XmlElement::with_text(part, value))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_legacy_element() {
        let d = NaiveDate::from_ymd_opt(2015, 6, 3).unwrap();
        assert_eq!(
            legacy_date("datecreated", d).to_xml().unwrap(),
            "<datecreated><year>2015</year><month>06</month><day>03</day></datecreated>"
        );
    }
}
