//! ARPYMT (AR payments): read as a record; created with the generic `<create><ARPYMT>` or the
//! legacy `create_arpayment`.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::{ElementExt, Fields, FromRecord, LegacyCurrency, LegacyTree};
use crate::error::IntacctError;
use crate::xml::XmlElement;

/// An AR payment as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArPayment {
    pub record_no: Option<String>,
    pub customer_id: Option<String>,
    pub payment_method: Option<String>,
    pub doc_number: Option<String>,
    pub receipt_date: Option<NaiveDate>,
    pub payment_date: Option<NaiveDate>,
    /// `TOTALENTERED` (falling back to `TOTALPAID`): the amount received.
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    pub state: Option<String>,
    pub when_modified: Option<DateTime<Utc>>,
    pub entity: Option<String>,
}

impl FromRecord for ArPayment {
    const OBJECT: &'static str = "ARPYMT";

    fn from_record(el: &XmlElement) -> Result<Self, IntacctError> {
        let f = Fields::new(el, Self::OBJECT);
        Ok(Self {
            record_no: f.text("RECORDNO"),
            customer_id: f.text("CUSTOMERID"),
            payment_method: f.text("PAYMENTMETHOD"),
            doc_number: f.text("DOCNUMBER"),
            receipt_date: f.date("RECEIPTDATE")?,
            payment_date: f.any(&["PAYMENTDATE", "WHENPAID"], Fields::date)?,
            amount: f.any(&["TOTALENTERED", "TOTALPAID"], Fields::decimal)?,
            currency: f.text("CURRENCY"),
            state: f.text("STATE"),
            when_modified: f.datetime("WHENMODIFIED")?,
            entity: f.text("MEGAENTITYID"),
        })
    }
}

/// One invoice a payment is applied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArPaymentDetail {
    /// RECORDNO of the invoice.
    pub record_key: String,
    /// A line of the invoice, when the payment goes to one line.
    pub entry_key: Option<String>,
    pub amount: Decimal,
}

/// A generic `<create><ARPYMT>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArPaymentCreate {
    /// Bank or undeposited-funds account (`FINANCIALENTITY`).
    pub financial_entity: String,
    /// `Printed Check`, `Cash`, `EFT`, `Credit Card`…
    pub payment_method: String,
    pub customer_id: String,
    pub doc_number: Option<String>,
    pub receipt_date: Option<NaiveDate>,
    pub payment_date: Option<NaiveDate>,
    pub currency: Option<String>,
    pub details: Vec<ArPaymentDetail>,
}

impl ArPaymentCreate {
    /// The `<ARPYMT>` element for [`crate::Function::create`].
    pub fn to_element(&self) -> Result<XmlElement, IntacctError> {
        if self.customer_id.trim().is_empty() || self.payment_method.trim().is_empty() {
            return Err(IntacctError::invalid(
                "an ARPYMT create needs CUSTOMERID and PAYMENTMETHOD",
            ));
        }
        if self.receipt_date.is_none() {
            return Err(IntacctError::invalid("an ARPYMT create needs RECEIPTDATE"));
        }
        if self.details.is_empty() {
            return Err(IntacctError::invalid(
                "an ARPYMT create needs at least one ARPYMTDETAIL",
            ));
        }
        let mut details = XmlElement::new("ARPYMTDETAILS");
        for d in &self.details {
            details.push(
                XmlElement::new("ARPYMTDETAIL")
                    .child(XmlElement::with_text("RECORDKEY", d.record_key.as_str()))
                    .opt_text("ENTRYKEY", d.entry_key.as_deref())
                    .child(XmlElement::with_text(
                        "TRX_PAYMENTAMOUNT",
                        d.amount.to_string(),
                    )),
            );
        }
        Ok(XmlElement::new("ARPYMT")
            .child(XmlElement::with_text(
                "FINANCIALENTITY",
                self.financial_entity.as_str(),
            ))
            .child(XmlElement::with_text(
                "PAYMENTMETHOD",
                self.payment_method.as_str(),
            ))
            .child(XmlElement::with_text(
                "CUSTOMERID",
                self.customer_id.as_str(),
            ))
            .opt_text("DOCNUMBER", self.doc_number.as_deref())
            .opt_date("RECEIPTDATE", self.receipt_date)
            .opt_date("PAYMENTDATE", self.payment_date)
            .opt_text("CURRENCY", self.currency.as_deref())
            .child(details))
    }
}

/// A legacy `create_arpayment`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LegacyArPaymentCreate {
    pub customer_id: String,
    pub payment_amount: Decimal,
    /// Bank account, or else the undeposited funds account.
    pub bank_account_id: Option<String>,
    pub undeposited_funds_account: Option<String>,
    /// Check or reference number.
    pub reference_id: Option<String>,
    pub date_received: Option<NaiveDate>,
    pub payment_method: String,
    pub currency: Option<String>,
    /// `(invoice RECORDNO, amount)` pairs the payment applies to.
    pub applied: Vec<(String, Decimal)>,
}

impl LegacyArPaymentCreate {
    /// The `<create_arpayment>` function body.
    pub fn to_element(&self) -> Result<XmlElement, IntacctError> {
        let Some(received) = self.date_received else {
            return Err(IntacctError::invalid("create_arpayment needs datereceived"));
        };
        if self.customer_id.trim().is_empty() || self.payment_method.trim().is_empty() {
            return Err(IntacctError::invalid(
                "create_arpayment needs customerid and paymentmethod",
            ));
        }
        // The schema takes one of bankaccountid / undepfundsacct.
        if self.bank_account_id.is_some() && self.undeposited_funds_account.is_some() {
            return Err(IntacctError::invalid(
                "create_arpayment takes bankaccountid or undepfundsacct, not both",
            ));
        }
        let applied = self
            .applied
            .iter()
            .map(|(invoice, amount)| {
                LegacyTree::default()
                    .text("invoicekey", Some(invoice))
                    .decimal("amount", Some(*amount))
            })
            .collect();
        LegacyTree::default()
            .text("customerid", Some(&self.customer_id))
            .decimal("paymentamount", Some(self.payment_amount))
            .text("bankaccountid", self.bank_account_id.as_deref())
            .text("undepfundsacct", self.undeposited_funds_account.as_deref())
            .text("refid", self.reference_id.as_deref())
            .date("datereceived", Some(received))
            .text("paymentmethod", Some(&self.payment_method))
            .currency(LegacyCurrency {
                base_currency: None,
                currency: self.currency.as_deref(),
                rate_date: None,
                rate_type: None,
                rate: None,
            })
            .repeated("arpaymentitem", applied)
            .build("create_arpayment")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_document;

    #[test]
    fn generic_payment_create_matches_the_documented_shape() {
        let p = ArPaymentCreate {
            financial_entity: "BOA".into(),
            payment_method: "Cash".into(),
            customer_id: "C-7".into(),
            doc_number: Some("INV-9".into()),
            receipt_date: NaiveDate::from_ymd_opt(2025, 5, 15),
            payment_date: NaiveDate::from_ymd_opt(2025, 5, 16),
            currency: None,
            details: vec![ArPaymentDetail {
                record_key: "101".into(),
                entry_key: None,
                amount: Decimal::new(125, 0),
            }],
        };
        assert_eq!(
            p.to_element().unwrap().to_xml().unwrap(),
            "<ARPYMT><FINANCIALENTITY>BOA</FINANCIALENTITY><PAYMENTMETHOD>Cash</PAYMENTMETHOD><CUSTOMERID>C-7</CUSTOMERID>\
<DOCNUMBER>INV-9</DOCNUMBER><RECEIPTDATE>05/15/2025</RECEIPTDATE><PAYMENTDATE>05/16/2025</PAYMENTDATE>\
<ARPYMTDETAILS><ARPYMTDETAIL><RECORDKEY>101</RECORDKEY><TRX_PAYMENTAMOUNT>125</TRX_PAYMENTAMOUNT></ARPYMTDETAIL></ARPYMTDETAILS></ARPYMT>"
        );
        assert!(ArPaymentCreate::default().to_element().is_err());
    }

    #[test]
    fn legacy_payment_uses_legacy_date() {
        let p = LegacyArPaymentCreate {
            customer_id: "C-7".into(),
            payment_amount: Decimal::new(5000, 2),
            bank_account_id: Some("BOA".into()),
            date_received: NaiveDate::from_ymd_opt(2025, 1, 9),
            payment_method: "EFT".into(),
            applied: vec![("101".into(), Decimal::new(5000, 2))],
            ..Default::default()
        };
        assert_eq!(
            p.to_element().unwrap().to_xml().unwrap(),
            "<create_arpayment><customerid>C-7</customerid><paymentamount>50.00</paymentamount><bankaccountid>BOA</bankaccountid>\
<datereceived><year>2025</year><month>01</month><day>09</day></datereceived><paymentmethod>EFT</paymentmethod>\
<arpaymentitem><invoicekey>101</invoicekey><amount>50.00</amount></arpaymentitem></create_arpayment>"
        );
        // A currency takes the company's default rate type; one account, not two.
        let eur = LegacyArPaymentCreate {
            currency: Some("EUR".into()),
            ..p.clone()
        };
        let xml = eur.to_element().unwrap().to_xml().unwrap();
        assert!(
            xml.contains("<paymentmethod>EFT</paymentmethod><currency>EUR</currency><exchratetype/><arpaymentitem>"),
            "{xml}"
        );
        let both = LegacyArPaymentCreate {
            undeposited_funds_account: Some("1010".into()),
            ..p
        };
        assert!(
            both.to_element()
                .unwrap_err()
                .to_string()
                .contains("not both")
        );
    }

    #[test]
    fn payment_reads() {
        let el = parse_document(
            b"<arpymt><RECORDNO>5120</RECORDNO><CUSTOMERID>C-7</CUSTOMERID><PAYMENTMETHOD>EFT</PAYMENTMETHOD>\
<RECEIPTDATE>01/09/2025</RECEIPTDATE><TOTALENTERED>50.00</TOTALENTERED><STATE>C</STATE></arpymt>",
        )
        .unwrap();
        let p = ArPayment::from_record(&el).unwrap();
        assert_eq!(p.amount, Some(Decimal::new(5000, 2)));
        assert_eq!(p.receipt_date, NaiveDate::from_ymd_opt(2025, 1, 9));
    }
}
