//! The schema check of the legacy functions' bodies: the content models of Intacct's published
//! schema (intacct/intacct_dtd: `v2.1/*.dtd`, `v3.0/api.xsd`), checked the way the gateway's
//! validator does before anything runs, so an element out of order or unknown to the schema
//! fails the whole request with `XL03000003` (a control failure) in libxml2's words.
//!
//! Generic `create`/`update` take any content (`xs:any processContents="skip"` in the XSD), so
//! only the legacy functions are modelled. Where the official SDKs write something the
//! published schema does not allow, the model takes both (never stricter than what common
//! clients get through with); docs/sandbox-intacct.md lists those places.

/// A content model, as a regular expression over child element names.
#[derive(Debug, Clone, PartialEq)]
enum Re {
    /// Matches nothing (a dead end).
    Nothing,
    /// Matches the empty sequence.
    Empty,
    Name(&'static str),
    Seq(Box<Re>, Box<Re>),
    Alt(Box<Re>, Box<Re>),
    Star(Box<Re>),
    /// Each of these names at most once, in any order.
    AnyOrder(Vec<&'static str>),
}

fn seq(a: Re, b: Re) -> Re {
    match (a, b) {
        (Re::Nothing, _) | (_, Re::Nothing) => Re::Nothing,
        (Re::Empty, b) => b,
        (a, Re::Empty) => a,
        (a, b) => Re::Seq(Box::new(a), Box::new(b)),
    }
}

fn alt(a: Re, b: Re) -> Re {
    match (a, b) {
        (Re::Nothing, b) => b,
        (a, Re::Nothing) => a,
        (a, b) if a == b => a,
        (a, b) => Re::Alt(Box::new(a), Box::new(b)),
    }
}

fn opt(r: Re) -> Re {
    alt(r, Re::Empty)
}

impl Re {
    fn nullable(&self) -> bool {
        match self {
            Re::Nothing | Re::Name(_) => false,
            Re::Empty | Re::Star(_) | Re::AnyOrder(_) => true,
            Re::Seq(a, b) => a.nullable() && b.nullable(),
            Re::Alt(a, b) => a.nullable() || b.nullable(),
        }
    }

    /// What is left to match after `name`.
    fn derive(&self, name: &str) -> Re {
        match self {
            Re::Nothing | Re::Empty => Re::Nothing,
            Re::Name(n) if *n == name => Re::Empty,
            Re::Name(_) => Re::Nothing,
            Re::Seq(a, b) => {
                let first = seq(a.derive(name), (**b).clone());
                if a.nullable() {
                    alt(first, b.derive(name))
                } else {
                    first
                }
            }
            Re::Alt(a, b) => alt(a.derive(name), b.derive(name)),
            Re::Star(r) => seq(r.derive(name), self.clone()),
            Re::AnyOrder(names) if names.contains(&name) => {
                let rest: Vec<&'static str> =
                    names.iter().copied().filter(|n| *n != name).collect();
                if rest.is_empty() {
                    Re::Empty
                } else {
                    Re::AnyOrder(rest)
                }
            }
            Re::AnyOrder(_) => Re::Nothing,
        }
    }

    /// The names that may come next, in the model's order.
    fn expected(&self, out: &mut Vec<&'static str>) {
        let add = |n: &'static str, out: &mut Vec<&'static str>| {
            if !out.contains(&n) {
                out.push(n);
            }
        };
        match self {
            Re::Nothing | Re::Empty => {}
            Re::Name(n) => add(n, out),
            Re::Seq(a, b) => {
                a.expected(out);
                if a.nullable() {
                    b.expected(out);
                }
            }
            Re::Alt(a, b) => {
                a.expected(out);
                b.expected(out);
            }
            Re::Star(r) => r.expected(out),
            Re::AnyOrder(names) => names.iter().for_each(|n| add(n, out)),
        }
    }
}

/// One token of the notation below: `name` once, `name?` optional, `name*` any number,
/// `name+` at least one, `a|b` one of (suffixes apply to the choice), `a&b` each at most once
/// in any order, `CURRENCY?` the schema's currency block.
fn token(t: &'static str) -> Re {
    if t == "CURRENCY?" {
        // (basecurr?, currency, ((exchratedate?, exchratetype) | exchrate))?
        let rate = alt(
            seq(opt(Re::Name("exchratedate")), Re::Name("exchratetype")),
            Re::Name("exchrate"),
        );
        return opt(seq(
            opt(Re::Name("basecurr")),
            seq(Re::Name("currency"), rate),
        ));
    }
    let (body, suffix) = match t.as_bytes().last() {
        Some(b'?' | b'*' | b'+') => t.split_at(t.len() - 1),
        _ => (t, ""),
    };
    let base = if body.contains('&') {
        Re::AnyOrder(body.split('&').collect())
    } else {
        body.split('|')
            .map(Re::Name)
            .reduce(alt)
            .unwrap_or(Re::Nothing)
    };
    match suffix {
        "?" => opt(base),
        "*" => Re::Star(Box::new(base)),
        "+" => seq(base.clone(), Re::Star(Box::new(base))),
        _ => base,
    }
}

fn model(notation: &'static str) -> Re {
    notation
        .split_whitespace()
        .map(token)
        .rev()
        .fold(Re::Empty, |rest, r| seq(r, rest))
}

const DATE: &str = "year month day";

/// The content models, by element name (a name has the same content wherever it appears in a
/// legacy function). Elements not listed (`billto`, `taxentries`, `itemdetails`…) are not
/// checked inside.
///
/// Taken wider than the published schema where the official SDKs differ from it:
/// `create_invoice` takes `batchkey` and `action` in either order, an `onhold` after
/// `ponumber`, and `customfields`/`taxsolutionid` in either order (the PHP and JavaScript
/// SDKs write them so); `sotransitem` takes `itemaliasid` and `itemdesc` in either order (the
/// DTD and the XSD disagree).
const MODELS: &[(&str, &str)] = &[
    (
        "create_invoice",
        "customerid datecreated dateposted? datedue? termname? batchkey&action invoiceno? \
         ponumber? onhold? description? externalid? billto? shipto? CURRENCY? nogl? supdocid? \
         customfields&taxsolutionid invoiceitems",
    ),
    ("invoiceitems", "lineitem+"),
    (
        "lineitem",
        "accountlabel|glaccountno offsetglaccountno? amount allocationid? memo? locationid? \
         departmentid? item1099? form1099type? form1099box? key? totalpaid? totaldue? \
         customfields? revrectemplate? defrevaccount? revrecstartdate? revrecenddate? \
         projectid? taskid? costtypeid? customerid? vendorid? employeeid? itemid? classid? \
         contractid? warehouseid? billable? totaltrxamount? partialexempt? paymenttaxcapture? \
         taxentries?",
    ),
    (
        "create_sotransaction",
        "transactiontype datecreated dateposted? createdfrom? customerid documentno? \
         origdocdate? referenceno? termname? datedue? message? shippingmethod? shipto? billto? \
         supdocid? externalid? CURRENCY? vsoepricelist? customfields? state? projectid? \
         changelognumber? needbydate? shipbydate? cancelafterdate? donotshipbeforedate? \
         donotshipafterdate? servicedeliverydate? trackingnumber? shippeddate? \
         customerponumber? scope? inclusions? exclusions? terms? schedulestartdate? \
         actualstartdate? scheduledcompletiondate? revisedcompletiondate? \
         substantialcompletiondate? actualcompletiondate? noticetoproceed? responsedue? \
         executedon? scheduleimpact? internalrefno? internalinitiatedby? internalverbalby? \
         internalissuedby? internalissuedon? internalapprovedby? internalapprovedon? \
         internalsignedby? internalsignedon? internalsource? internalsourcerefno? \
         externalrefno? externalverbalby? externalapprovedby? externalapprovedon? \
         externalsignedby? externalsignedon? performancebondrequired? \
         performancebondreceived? performancebondamount? performancesuretycompany? \
         paymentbondrequired? paymentbondreceived? paymentbondamount? paymentsuretycompany? \
         taxsolutionid? projectcontractid? pcbexternalrefno? pcbdescription? pcbdate? \
         architect? billthroughdate? billapplicationno? orgcontractamt? retcompletedamt? \
         retstoredmaterials? lesspriorapplication? tcapmaddition? tcapmdeduction? \
         tcatmaddition? tcatmdeduction? previousretainagebalance? sotransitems subtotals?",
    ),
    ("sotransitems", "sotransitem+"),
    (
        "sotransitem",
        "bundlenumber? itemid itemaliasid&itemdesc taxable? warehouseid? quantity unit? \
         linelevelsimpletaxtype? discountpercent? price? sourcelinekey? discsurchargememo? \
         locationid? departmentid? memo? itemdetails? customfields? revrectemplate? \
         revrecstartdate? revrecenddate? renewalmacro? projectid? taskid? costtypeid? \
         customerid? vendorid? employeeid? classid? contractid? fulfillmentstatus? taskno? \
         billingtemplate? dropship? buytoorder? btoshiptocontactname? shipto? needbydate? \
         shipby? donotshipbeforedate? donotshipafterdate? datepickticketprinted? \
         cancelafterdate? shippeddate? relateddockey? relateddoclinekey? \
         retainagepercentage? amountretained? trx_amountretained? conversiontype? \
         projectcontractid? projectcontractlineid? pcblexternalrefno? pcbldescription? \
         contractlinevalue? priorapplicationamt? completedthisperiod? storedmaterials? \
         previousretainagebalance? isretainagerelease? retainagetobill? paymenttaxcapture? \
         reverseconversion? linesubtotals? taxscheduleid?",
    ),
    (
        "create_arpayment",
        "customerid paymentamount translatedamount? batchkey|bankaccountid|undepfundsacct? \
         refid? overpaylocid? overpaydeptid? datereceived? paymentmethod? CURRENCY? cctype? \
         authcode? arpaymentitem* onlinecardpayment|onlineachpayment*",
    ),
    ("arpaymentitem", "invoicekey amount"),
    ("customfields", "customfield*"),
    ("customfield", "customfieldname customfieldvalue"),
    ("datecreated", DATE),
    ("dateposted", DATE),
    ("datedue", DATE),
    ("datereceived", DATE),
    ("exchratedate", DATE),
    ("origdocdate", DATE),
    ("revrecstartdate", DATE),
    ("revrecenddate", DATE),
];

/// The legacy functions whose bodies the gateway validates element by element.
const CHECKED_FUNCTIONS: [&str; 3] = ["create_invoice", "create_sotransaction", "create_arpayment"];

fn model_of(name: &str) -> Option<Re> {
    MODELS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, notation)| model(notation))
}

fn expected_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => format!(" Expected is ( {one} )."),
        many => format!(" Expected is one of ( {} ).", many.join(", ")),
    }
}

/// Checks a function body against its content model; `Err` is libxml2's message for the first
/// problem ("Element 'x': This element is not expected. Expected is ( y ).").
pub(crate) fn check_function(body: &crate::element::Element) -> Result<(), String> {
    if CHECKED_FUNCTIONS.contains(&body.name.as_str()) {
        check(body)
    } else {
        Ok(())
    }
}

/// libxml2's error number for element content that does not match its model.
const ELEMENT_CONTENT: u32 = 1871;

fn check(el: &crate::element::Element) -> Result<(), String> {
    let Some(mut re) = model_of(&el.name) else {
        return Ok(());
    };
    for child in &el.children {
        let next = re.derive(&child.name);
        if next == Re::Nothing {
            let mut expected = Vec::new();
            re.expected(&mut expected);
            return Err(format!(
                "Error {ELEMENT_CONTENT}: Element '{}': This element is not expected.{}",
                child.name,
                expected_list(&expected)
            ));
        }
        re = next;
    }
    if !re.nullable() {
        let mut expected = Vec::new();
        re.expected(&mut expected);
        return Err(format!(
            "Error {ELEMENT_CONTENT}: Element '{}': Missing child element(s).{}",
            el.name,
            expected_list(&expected)
        ));
    }
    el.children.iter().try_for_each(check)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::element::parse;

    fn checked(xml: &str) -> Result<(), String> {
        check_function(&parse(xml).unwrap())
    }

    const DAY: &str = "<year>2025</year><month>03</month><day>01</day>";

    #[test]
    fn a_body_in_schema_order_passes() {
        let xml = format!(
            "<create_invoice><customerid>C</customerid><datecreated>{DAY}</datecreated>\
             <termname>Net 30</termname><currency>EUR</currency><exchratetype/>\
             <customfields><customfield><customfieldname>X</customfieldname><customfieldvalue>1</customfieldvalue></customfield></customfields>\
             <invoiceitems><lineitem><glaccountno>4000</glaccountno><amount>1</amount></lineitem></invoiceitems></create_invoice>"
        );
        assert_eq!(checked(&xml), Ok(()));
    }

    #[test]
    fn out_of_order_and_unknown_elements_name_what_was_expected() {
        let xml = format!(
            "<create_invoice><datecreated>{DAY}</datecreated><customerid>C</customerid></create_invoice>"
        );
        assert_eq!(
            checked(&xml),
            Err("Error 1871: Element 'datecreated': This element is not expected. Expected is ( customerid ).".into())
        );
        let xml = format!(
            "<create_invoice><customerid>C</customerid><datecreated>{DAY}</datecreated><termname>T</termname><datedue>{DAY}</datedue></create_invoice>"
        );
        let err = checked(&xml).unwrap_err();
        assert!(
            err.starts_with("Error 1871: Element 'datedue': This element is not expected. Expected is one of ( batchkey, action, invoiceno,"),
            "{err}"
        );
        let xml = "<create_sotransaction><transactiontype>Sales Order</transactiontype><colour/></create_sotransaction>";
        assert_eq!(
            checked(xml),
            Err("Error 1871: Element 'colour': This element is not expected. Expected is ( datecreated ).".into())
        );
    }

    #[test]
    fn missing_required_children_are_named_at_their_parent() {
        let xml = format!(
            "<create_invoice><customerid>C</customerid><datecreated>{DAY}</datecreated></create_invoice>"
        );
        let err = checked(&xml).unwrap_err();
        assert!(
            err.starts_with("Error 1871: Element 'create_invoice': Missing child element(s). Expected is one of ( dateposted,"),
            "{err}"
        );
        assert!(err.ends_with("invoiceitems )."), "{err}");
        let xml = "<create_arpayment><customerid>C</customerid><paymentamount>1</paymentamount>\
                   <datereceived><year>2025</year><day>01</day></datereceived></create_arpayment>";
        assert_eq!(
            checked(xml),
            Err(
                "Error 1871: Element 'day': This element is not expected. Expected is ( month )."
                    .into()
            )
        );
    }

    #[test]
    fn the_currency_block_is_a_choice() {
        let body = |currency: &str| {
            format!(
                "<create_sotransaction><transactiontype>Sales Order</transactiontype><datecreated>{DAY}</datecreated>\
                 <customerid>C</customerid>{currency}<sotransitems><sotransitem><itemid>I</itemid><quantity>1</quantity>\
                 </sotransitem></sotransitems></create_sotransaction>"
            )
        };
        assert_eq!(
            checked(&body("<currency>EUR</currency><exchrate>1.1</exchrate>")),
            Ok(())
        );
        assert_eq!(
            checked(&body("<basecurr>USD</basecurr><currency>EUR</currency><exchratedate>{DAY}</exchratedate><exchratetype>Intacct Daily Rate</exchratetype>").replace("{DAY}", DAY)),
            Ok(())
        );
        let err = checked(&body("<currency>EUR</currency><sotransitems/>")).unwrap_err();
        assert!(
            err.contains("Element 'sotransitems': This element is not expected. Expected is one of ( exchratedate, exchratetype, exchrate )."),
            "{err}"
        );
        let err = checked(&body(
            "<currency>EUR</currency><exchratetype>X</exchratetype><exchrate>1</exchrate>",
        ))
        .unwrap_err();
        assert!(err.contains("Element 'exchrate'"), "{err}");
        let err = checked(&body("<exchratetype>X</exchratetype>")).unwrap_err();
        assert!(err.contains("Element 'exchratetype'"), "{err}");
    }

    #[test]
    fn the_sdk_variants_pass_and_generic_functions_are_not_checked() {
        let xml = format!(
            "<create_invoice><customerid>C</customerid><datecreated>{DAY}</datecreated><action>Submit</action>\
             <batchkey>1</batchkey><ponumber>P</ponumber><onhold>true</onhold><taxsolutionid>T</taxsolutionid>\
             <customfields/><invoiceitems><lineitem><accountlabel>L</accountlabel><amount>1</amount></lineitem></invoiceitems></create_invoice>"
        );
        assert_eq!(checked(&xml), Ok(()));
        let twice = xml.replace("<batchkey>1</batchkey>", "<action>Draft</action>");
        assert!(checked(&twice).unwrap_err().contains("Element 'action'"));
        assert_eq!(
            checked("<create><CUSTOMER><NAME/><CUSTOMERID/></CUSTOMER></create>"),
            Ok(())
        );
    }
}
