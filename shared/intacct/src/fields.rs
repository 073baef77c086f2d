//! Field trees: the `serde_json` maps the mapping engine produces, turned into the elements of
//! a generic `create`/`update` or of a legacy document function, and result records turned
//! back into maps.
//!
//! Nested objects become nested elements (`DISPLAYCONTACT` → `MAILADDRESS` → `CITY`), arrays
//! become repeated elements of the same name, `null` becomes an empty element (which clears the
//! field on `update`), booleans become `true`/`false`, and numbers keep their JSON text.
//!
//! Generic objects take their fields in any order (the gateway's schema skips the content of
//! `<create>`/`<update>`), so [`object_element`] keeps the tree's order. The legacy functions
//! are schema-checked element by element, so [`legacy_element`] writes their children in the
//! order of [`LEGACY_ORDER`], whatever order the tree has.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::error::IntacctError;
use crate::xml::{XmlElement, is_valid_name};
use lf_domain::datetime::parse_date;

/// Builds `<OBJECT>…fields…</OBJECT>` from a field map.
pub fn object_element(
    object: &str,
    fields: &Map<String, Value>,
) -> Result<XmlElement, IntacctError> {
    check_name(object, object)?;
    let mut el = XmlElement::new(object);
    for (name, value) in fields {
        append_field(&mut el, name, value, object)?;
    }
    Ok(el)
}

fn check_name(name: &str, path: &str) -> Result<(), IntacctError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(IntacctError::invalid(format!(
            "field {path:?}: {name:?} is not a valid Intacct field name"
        )))
    }
}

fn append_field(
    parent: &mut XmlElement,
    name: &str,
    value: &Value,
    parent_path: &str,
) -> Result<(), IntacctError> {
    let path = format!("{parent_path}/{name}");
    check_name(name, &path)?;
    match value {
        // Each item repeats the element; an array item is refused by `element`.
        Value::Array(items) => {
            for item in items {
                parent.push(element(name, item, &path)?);
            }
            Ok(())
        }
        other => {
            parent.push(element(name, other, &path)?);
            Ok(())
        }
    }
}

fn element(name: &str, value: &Value, path: &str) -> Result<XmlElement, IntacctError> {
    Ok(match value {
        Value::Null => XmlElement::new(name),
        Value::Bool(b) => XmlElement::with_text(name, if *b { "true" } else { "false" }),
        Value::Number(n) => XmlElement::with_text(name, n.to_string()),
        Value::String(s) => XmlElement::with_text(name, s.as_str()),
        Value::Object(children) => {
            let mut el = XmlElement::new(name);
            for (k, v) in children {
                append_field(&mut el, k, v, path)?;
            }
            el
        }
        Value::Array(_) => {
            return Err(IntacctError::invalid(format!(
                "field {path:?}: an array inside an array has no XML form"
            )));
        }
    })
}

/// The children of each legacy element, in the order the gateway's schema sequences them
/// (intacct/intacct_dtd: `intacct_pr_functions.v2.1.dtd`, `intacct_icoe_functions.v2.1.dtd`,
/// `intacct_request_objects.v2.1.dtd`, and the same sequences in the 3.0 `api.xsd`), keyed by
/// element name: a name means the same content wherever it appears. Containers of one repeated
/// child (`invoiceitems`, `sotransitems`, `customfields`) are not listed: their items keep
/// the tree's order. The connector writes only what is listed; a lower-case name that is not
/// listed is refused rather than guessed at.
pub const LEGACY_ORDER: &[(&str, &str)] = &[
    (
        "create_invoice",
        "customerid datecreated dateposted datedue termname batchkey action invoiceno \
             ponumber description externalid billto shipto basecurr currency exchratedate \
             exchratetype exchrate nogl supdocid customfields taxsolutionid invoiceitems",
    ),
    (
        "lineitem",
        "accountlabel glaccountno offsetglaccountno amount allocationid memo locationid \
             departmentid item1099 form1099type form1099box key totalpaid totaldue \
             customfields revrectemplate defrevaccount revrecstartdate revrecenddate \
             projectid taskid costtypeid customerid vendorid employeeid itemid classid \
             contractid warehouseid billable totaltrxamount partialexempt paymenttaxcapture \
             taxentries",
    ),
    (
        "create_sotransaction",
        "transactiontype datecreated dateposted createdfrom customerid documentno \
             origdocdate referenceno termname datedue message shippingmethod shipto billto \
             supdocid externalid basecurr currency exchratedate exchratetype exchrate \
             vsoepricelist customfields state projectid changelognumber needbydate \
             shipbydate cancelafterdate donotshipbeforedate donotshipafterdate \
             servicedeliverydate trackingnumber shippeddate customerponumber taxsolutionid \
             sotransitems subtotals",
    ),
    (
        "sotransitem",
        "bundlenumber itemid itemaliasid itemdesc taxable warehouseid quantity unit \
             linelevelsimpletaxtype discountpercent price sourcelinekey discsurchargememo \
             locationid departmentid memo itemdetails customfields revrectemplate \
             revrecstartdate revrecenddate renewalmacro projectid taskid costtypeid \
             customerid vendorid employeeid classid contractid fulfillmentstatus taskno \
             billingtemplate",
    ),
    (
        "create_arpayment",
        "customerid paymentamount translatedamount batchkey bankaccountid \
             undepfundsacct refid overpaylocid overpaydeptid datereceived paymentmethod \
             basecurr currency exchratedate exchratetype exchrate cctype authcode \
             arpaymentitem",
    ),
    ("arpaymentitem", "invoicekey amount"),
    ("customfield", "customfieldname customfieldvalue"),
    ("billto", "contactname"),
    ("shipto", "contactname"),
    ("datecreated", DATE_PARTS),
    ("dateposted", DATE_PARTS),
    ("datedue", DATE_PARTS),
    ("datereceived", DATE_PARTS),
    ("exchratedate", DATE_PARTS),
    ("origdocdate", DATE_PARTS),
    ("revrecstartdate", DATE_PARTS),
    ("revrecenddate", DATE_PARTS),
];

const DATE_PARTS: &str = "year month day";

/// Where the legacy functions keep fields the company defines: `<customfields>`.
const CUSTOM_FIELDS: &str = "customfields";

/// The children of `name` in order (names separated by whitespace in [`LEGACY_ORDER`]).
fn legacy_order(name: &str) -> Option<Vec<&'static str>> {
    LEGACY_ORDER
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, order)| order.split_whitespace().collect())
}

fn is_date(name: &str) -> bool {
    LEGACY_ORDER
        .iter()
        .any(|(n, order)| *n == name && *order == DATE_PARTS)
}

/// A date as the legacy functions take it: `{"year": "2025", "month": "03", "day": "01"}`.
pub fn legacy_date_value(date: NaiveDate) -> Value {
    Value::Object(
        lf_domain::datetime::legacy_date_parts(date)
            .into_iter()
            .map(|(part, value)| (part.to_owned(), Value::String(value)))
            .collect(),
    )
}

/// Builds a legacy function body (`create_invoice`, `create_sotransaction`,
/// `create_arpayment`) from a field tree, every element's children in [`LEGACY_ORDER`].
///
/// - A date element may be given as a `{year, month, day}` object or as a date string
///   (`YYYY-MM-DD` or `MM/DD/YYYY`).
/// - A name with an upper-case letter is a custom field (`SFDC_OPPORTUNITY_ID`): it is written
///   as a `<customfield>` of the element's `<customfields>` (after the ones the tree lists
///   there itself), where the DTD keeps custom fields.
/// - The currency block follows the schema's choice: `currency` is required once any of
///   `basecurr`, `exchratedate`, `exchratetype`, `exchrate` is given, `exchratetype` and
///   `exchrate` exclude each other, and a `currency` with neither gets an empty
///   `<exchratetype/>` (the company's default rate type), as the official SDKs send it.
///
/// Errors name the path of the field at fault; nothing is dropped silently.
pub fn legacy_element(
    function: &str,
    fields: &Map<String, Value>,
) -> Result<XmlElement, IntacctError> {
    if legacy_order(function).is_none() {
        return Err(IntacctError::invalid(format!(
            "{function:?} is not a legacy function the connector writes"
        )));
    }
    legacy_node(function, fields, function)
}

fn legacy_node(
    name: &str,
    fields: &Map<String, Value>,
    path: &str,
) -> Result<XmlElement, IntacctError> {
    check_name(name, path)?;
    let Some(order) = legacy_order(name) else {
        // A container of repeated items: the items keep their order, each is ordered itself.
        let mut el = XmlElement::new(name);
        for (child, value) in fields {
            for item in items(value) {
                el.push(legacy_value(child, item, &format!("{path}/{child}"))?);
            }
        }
        return Ok(el);
    };
    let mut slots: Vec<(usize, XmlElement)> = Vec::new();
    let mut custom: Vec<XmlElement> = Vec::new();
    for (child, value) in fields {
        let at = format!("{path}/{child}");
        check_name(child, &at)?;
        if let Some(slot) = order.iter().position(|n| n == child) {
            for item in items(value) {
                slots.push((slot, legacy_value(child, item, &at)?));
            }
        } else if child.chars().any(|c| c.is_ascii_uppercase()) && order.contains(&CUSTOM_FIELDS) {
            custom.push(custom_field(child, value, &at)?);
        } else {
            return Err(IntacctError::invalid(format!(
                "field {at:?}: {child} is not an element of {name} in the gateway's schema"
            )));
        }
    }
    if !custom.is_empty() {
        match slots.iter_mut().find(|(_, el)| el.name() == CUSTOM_FIELDS) {
            Some((_, existing)) => custom.into_iter().for_each(|c| existing.push(c)),
            None => {
                let mut el = XmlElement::new(CUSTOM_FIELDS);
                custom.into_iter().for_each(|c| el.push(c));
                let slot = order.iter().position(|n| *n == CUSTOM_FIELDS).unwrap_or(0);
                slots.push((slot, el));
            }
        }
    }
    if order.contains(&"currency") {
        currency_choice(&mut slots, &order, path)?;
    }
    // Stable: repeated elements keep the tree's order within their slot.
    slots.sort_by_key(|(slot, _)| *slot);
    let mut el = XmlElement::new(name);
    slots.into_iter().for_each(|(_, child)| el.push(child));
    Ok(el)
}

/// An array stands for repeated elements; anything else for one.
fn items(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

fn legacy_value(name: &str, value: &Value, path: &str) -> Result<XmlElement, IntacctError> {
    match value {
        Value::Object(children) => legacy_node(name, children, path),
        Value::String(text) if is_date(name) => {
            let date = parse_date(text).map_err(|e| {
                IntacctError::invalid(format!("field {path:?}: {text:?} is not a date ({e})"))
            })?;
            match legacy_date_value(date) {
                Value::Object(parts) => legacy_node(name, &parts, path),
                _ => element(name, value, path),
            }
        }
        other => element(name, other, path),
    }
}

fn custom_field(name: &str, value: &Value, path: &str) -> Result<XmlElement, IntacctError> {
    let text = match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(_) | Value::Object(_) => {
            return Err(IntacctError::invalid(format!(
                "field {path:?}: a custom field takes one value, not a list or a block"
            )));
        }
    };
    Ok(XmlElement::new("customfield")
        .child(XmlElement::with_text("customfieldname", name))
        .child(XmlElement::with_text("customfieldvalue", text)))
}

/// The schema's `(basecurr?, currency, ((exchratedate?, exchratetype) | exchrate))?`.
fn currency_choice(
    slots: &mut Vec<(usize, XmlElement)>,
    order: &[&str],
    path: &str,
) -> Result<(), IntacctError> {
    let has = |slots: &[(usize, XmlElement)], n: &str| slots.iter().any(|(_, e)| e.name() == n);
    let currency = has(slots, "currency");
    for dependent in ["basecurr", "exchratedate", "exchratetype", "exchrate"] {
        if has(slots, dependent) && !currency {
            return Err(IntacctError::invalid(format!(
                "{path}: {dependent} needs currency (the schema's currency block)"
            )));
        }
    }
    match (has(slots, "exchratetype"), has(slots, "exchrate")) {
        (true, true) => Err(IntacctError::invalid(format!(
            "{path}: give exchratetype or exchrate, not both"
        ))),
        (false, true) if has(slots, "exchratedate") => Err(IntacctError::invalid(format!(
            "{path}: exchratedate goes with exchratetype, not with exchrate"
        ))),
        (false, false) if currency => {
            let slot = order.iter().position(|n| *n == "exchratetype").unwrap_or(0);
            slots.push((slot, XmlElement::new("exchratetype")));
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Turns a result record into a field map: leaves become strings (empty elements become
/// `""`), nested elements become objects, and repeated names become arrays. Names keep the
/// case Intacct used.
pub fn record_to_map(record: &XmlElement) -> Map<String, Value> {
    let mut map = Map::new();
    for child in record.children() {
        let value = if child.children().is_empty() {
            Value::String(child.text().trim().to_owned())
        } else {
            Value::Object(record_to_map(child))
        };
        match map.get_mut(child.name()) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                map.insert(child.name().to_owned(), value);
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse_document;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn nested_maps_become_nested_elements() {
        let fields = map(json!({
            "CUSTOMERID": "C-1",
            "NAME": "Acme & Co",
            "DISPLAYCONTACT": {
                "PRINTAS": "Acme",
                "EMAIL2": null,
                "MAILADDRESS": {"CITY": "Paris", "ZIP": 75001}
            },
            "ONHOLD": false,
            "CREDITLIMIT": 1500.5,
            "SFDC_ACCOUNT_ID": "0011U00000V0tkDQAR"
        }));
        assert_eq!(
            object_element("CUSTOMER", &fields)
                .unwrap()
                .to_xml()
                .unwrap(),
            "<CUSTOMER><CUSTOMERID>C-1</CUSTOMERID><NAME>Acme &amp; Co</NAME>\
<DISPLAYCONTACT><PRINTAS>Acme</PRINTAS><EMAIL2/><MAILADDRESS><CITY>Paris</CITY><ZIP>75001</ZIP></MAILADDRESS></DISPLAYCONTACT>\
<ONHOLD>false</ONHOLD><CREDITLIMIT>1500.5</CREDITLIMIT><SFDC_ACCOUNT_ID>0011U00000V0tkDQAR</SFDC_ACCOUNT_ID></CUSTOMER>"
        );
    }

    #[test]
    fn arrays_become_repeated_elements() {
        let fields = map(json!({
            "ARPYMTDETAILS": {"ARPYMTDETAIL": [
                {"RECORDKEY": "101", "TRX_PAYMENTAMOUNT": "125.00"},
                {"RECORDKEY": "102", "TRX_PAYMENTAMOUNT": "5"}
            ]},
            "TAGS": ["a", "b"]
        }));
        assert_eq!(
            object_element("ARPYMT", &fields).unwrap().to_xml().unwrap(),
            "<ARPYMT><ARPYMTDETAILS><ARPYMTDETAIL><RECORDKEY>101</RECORDKEY><TRX_PAYMENTAMOUNT>125.00</TRX_PAYMENTAMOUNT></ARPYMTDETAIL>\
<ARPYMTDETAIL><RECORDKEY>102</RECORDKEY><TRX_PAYMENTAMOUNT>5</TRX_PAYMENTAMOUNT></ARPYMTDETAIL></ARPYMTDETAILS><TAGS>a</TAGS><TAGS>b</TAGS></ARPYMT>"
        );
    }

    #[test]
    fn bad_names_and_nested_arrays_are_refused_with_their_path() {
        let err = object_element("CUSTOMER", &map(json!({"DISPLAYCONTACT": {"BAD NAME": 1}})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("CUSTOMER/DISPLAYCONTACT/BAD NAME"), "{err}");
        let err = object_element("CUSTOMER", &map(json!({"X": [[1]]}))).unwrap_err();
        assert!(err.to_string().contains("array inside an array"), "{err}");
        assert!(object_element("<x>", &Map::new()).is_err());
    }

    #[test]
    fn records_turn_back_into_maps() {
        let rec = parse_document(
            b"<customer><CUSTOMERID>C1</CUSTOMERID><EMAIL1/><DISPLAYCONTACT><MAILADDRESS><CITY>Lyon</CITY></MAILADDRESS></DISPLAYCONTACT><LINE>1</LINE><LINE>2</LINE><LINE>3</LINE></customer>",
        )
        .unwrap();
        assert_eq!(
            Value::Object(record_to_map(&rec)),
            json!({
                "CUSTOMERID": "C1",
                "EMAIL1": "",
                "DISPLAYCONTACT": {"MAILADDRESS": {"CITY": "Lyon"}},
                "LINE": ["1", "2", "3"]
            })
        );
    }

    #[test]
    fn legacy_functions_come_out_in_schema_order_whatever_the_tree_order() {
        // Written backwards on purpose: the table decides, not the tree.
        let fields = map(json!({
            "invoiceitems": {"lineitem": [
                {"itemid": "SUB-PRO", "revrecenddate": "2026-02-28", "amount": "1200.00",
                 "glaccountno": "4000", "revrecstartdate": {"day": "01", "month": "03", "year": "2025"}},
                {"amount": 5, "glaccountno": "4100"}
            ]},
            "exchratetype": "Intacct Daily Rate",
            "currency": "EUR",
            "termname": "Net 30",
            "datecreated": "03/01/2025",
            "customerid": "C-1"
        }));
        assert_eq!(
            legacy_element("create_invoice", &fields)
                .unwrap()
                .to_xml()
                .unwrap(),
            "<create_invoice><customerid>C-1</customerid>\
<datecreated><year>2025</year><month>03</month><day>01</day></datecreated><termname>Net 30</termname>\
<currency>EUR</currency><exchratetype>Intacct Daily Rate</exchratetype>\
<invoiceitems><lineitem><glaccountno>4000</glaccountno><amount>1200.00</amount>\
<revrecstartdate><year>2025</year><month>03</month><day>01</day></revrecstartdate>\
<revrecenddate><year>2026</year><month>02</month><day>28</day></revrecenddate><itemid>SUB-PRO</itemid></lineitem>\
<lineitem><glaccountno>4100</glaccountno><amount>5</amount></lineitem></invoiceitems></create_invoice>"
        );
    }

    #[test]
    fn every_ordered_element_lists_each_child_once() {
        for (parent, order) in LEGACY_ORDER {
            let names: Vec<&str> = order.split_whitespace().collect();
            for (i, n) in names.iter().enumerate() {
                assert!(!names[..i].contains(n), "{parent} lists {n} twice");
            }
        }
    }

    #[test]
    fn custom_fields_go_into_customfields_after_the_listed_ones() {
        let fields = map(json!({
            "sotransitems": {"sotransitem": {"quantity": 2, "SFDC_LINE_ID": "00k1", "itemid": "SUB"}},
            "SFDC_OPPORTUNITY_ID": "0061U00000AbCdEQAV",
            "customfields": {"customfield": {"customfieldvalue": "x", "customfieldname": "REGION"}},
            "state": "Pending",
            "customerid": "C-9",
            "datecreated": "2025-06-30",
            "transactiontype": "Sales Order"
        }));
        assert_eq!(
            legacy_element("create_sotransaction", &fields)
                .unwrap()
                .to_xml()
                .unwrap(),
            "<create_sotransaction><transactiontype>Sales Order</transactiontype>\
<datecreated><year>2025</year><month>06</month><day>30</day></datecreated><customerid>C-9</customerid>\
<customfields><customfield><customfieldname>REGION</customfieldname><customfieldvalue>x</customfieldvalue></customfield>\
<customfield><customfieldname>SFDC_OPPORTUNITY_ID</customfieldname><customfieldvalue>0061U00000AbCdEQAV</customfieldvalue></customfield></customfields>\
<state>Pending</state><sotransitems><sotransitem><itemid>SUB</itemid><quantity>2</quantity>\
<customfields><customfield><customfieldname>SFDC_LINE_ID</customfieldname><customfieldvalue>00k1</customfieldvalue></customfield></customfields>\
</sotransitem></sotransitems></create_sotransaction>"
        );
    }

    #[test]
    fn the_currency_block_follows_the_schema_choice() {
        let base = json!({"customerid": "C-1", "datecreated": "2025-03-01", "termname": "Net 30",
                          "invoiceitems": {"lineitem": {"glaccountno": "4000", "amount": 1}}});
        let with = |extra: Value| {
            let mut f = map(base.clone());
            f.extend(map(extra));
            legacy_element("create_invoice", &f).map(|e| e.to_xml().unwrap())
        };
        // A currency alone gets the company's default rate type, as the SDKs send it.
        let xml = with(json!({"currency": "EUR"})).unwrap();
        assert!(
            xml.contains("<currency>EUR</currency><exchratetype/>"),
            "{xml}"
        );
        let xml = with(json!({"exchrate": "1.08", "currency": "EUR", "basecurr": "USD"})).unwrap();
        assert!(
            xml.contains(
                "<basecurr>USD</basecurr><currency>EUR</currency><exchrate>1.08</exchrate>"
            ),
            "{xml}"
        );
        let both = with(
            json!({"currency": "EUR", "exchrate": "1.08", "exchratetype": "Intacct Daily Rate"}),
        );
        assert!(both.unwrap_err().to_string().contains("not both"));
        let orphan = with(json!({"exchratetype": "Intacct Daily Rate"}));
        assert!(orphan.unwrap_err().to_string().contains("needs currency"));
        let dated =
            with(json!({"currency": "EUR", "exchrate": "1.08", "exchratedate": "2025-03-01"}));
        assert!(dated.unwrap_err().to_string().contains("exchratedate"));
    }

    #[test]
    fn unknown_legacy_elements_and_bad_dates_are_refused_with_their_path() {
        let err = legacy_element(
            "create_invoice",
            &map(json!({"customerid": "C-1", "colour": "red"})),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("create_invoice/colour"), "{err}");
        let err = legacy_element("create_invoice", &map(json!({"datecreated": "yesterday"})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("create_invoice/datecreated"), "{err}");
        let err = legacy_element("create_invoice", &map(json!({"X_LIST": [["a"]]})))
            .unwrap_err()
            .to_string();
        assert!(err.contains("X_LIST"), "{err}");
        assert!(legacy_element("create_bill", &Map::new()).is_err());
    }
}
