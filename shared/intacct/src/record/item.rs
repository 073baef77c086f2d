//! ITEM.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{ElementExt, Fields, FromRecord};
use crate::error::IntacctError;
use crate::xml::XmlElement;

/// An ITEM record (products and services sold).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Item {
    pub record_no: Option<String>,
    pub item_id: Option<String>,
    pub name: Option<String>,
    /// `Inventory`, `Non-Inventory`, `Non-Inventory (Sales only)`, `Kit`…
    pub item_type: Option<String>,
    pub status: Option<String>,
    pub base_price: Option<Decimal>,
    pub product_line_id: Option<String>,
    pub gl_group: Option<String>,
    pub when_modified: Option<DateTime<Utc>>,
}

impl FromRecord for Item {
    const OBJECT: &'static str = "ITEM";

    fn from_record(el: &XmlElement) -> Result<Self, IntacctError> {
        let f = Fields::new(el, Self::OBJECT);
        Ok(Self {
            record_no: f.text("RECORDNO"),
            item_id: f.text("ITEMID"),
            name: f.text("NAME"),
            item_type: f.text("ITEMTYPE"),
            status: f.text("STATUS"),
            base_price: f.decimal("BASEPRICE")?,
            product_line_id: f.text("PRODUCTLINEID"),
            gl_group: f.text("GLGROUP"),
            when_modified: f.datetime("WHENMODIFIED")?,
        })
    }
}

impl Item {
    /// The `<ITEM>` element of a `create` (ITEMID, NAME and ITEMTYPE required).
    pub fn to_create(&self) -> Result<XmlElement, IntacctError> {
        if self.item_id.is_none() || self.name.is_none() || self.item_type.is_none() {
            return Err(IntacctError::invalid(
                "an ITEM create needs ITEMID, NAME and ITEMTYPE",
            ));
        }
        Ok(self.element())
    }

    /// The `<ITEM>` element of an `update`, keyed by ITEMID.
    pub fn to_update(&self) -> Result<XmlElement, IntacctError> {
        if self.item_id.is_none() {
            return Err(IntacctError::invalid("an ITEM update needs ITEMID"));
        }
        Ok(self.element())
    }

    fn element(&self) -> XmlElement {
        XmlElement::new("ITEM")
            .opt_text("ITEMID", self.item_id.as_deref())
            .opt_text("NAME", self.name.as_deref())
            .opt_text("STATUS", self.status.as_deref())
            .opt_text("ITEMTYPE", self.item_type.as_deref())
            .opt_text("PRODUCTLINEID", self.product_line_id.as_deref())
            .opt_decimal("BASEPRICE", self.base_price)
            .opt_text("GLGROUP", self.gl_group.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_document;

    #[test]
    fn item_round_trip() {
        let el = parse_document(
            b"<item><ITEMID>SUB-PRO</ITEMID><NAME>Pro plan</NAME><ITEMTYPE>Non-Inventory (Sales only)</ITEMTYPE><BASEPRICE>99.00</BASEPRICE></item>",
        )
        .unwrap();
        let item = Item::from_record(&el).unwrap();
        assert_eq!(item.base_price, Some(Decimal::new(9900, 2)));
        assert_eq!(
            item.to_create().unwrap().to_xml().unwrap(),
            "<ITEM><ITEMID>SUB-PRO</ITEMID><NAME>Pro plan</NAME><ITEMTYPE>Non-Inventory (Sales only)</ITEMTYPE><BASEPRICE>99.00</BASEPRICE></ITEM>"
        );
        assert!(Item::default().to_update().is_err());
    }
}
