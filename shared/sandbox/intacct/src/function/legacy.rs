//! Legacy (2.1-style) functions still used for documents: `create_invoice`,
//! `create_sotransaction`, `create_arpayment`, `delete_customer` (protocols.md B7). Dates come
//! as `<year><month><day>`, custom fields as `<customfields><customfield>`, and a success
//! answers with `<key>`.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{Env, FnResult, Outcome, business};
use crate::company::{ChangeKind, Company, format_date};
use crate::element::Element;
use crate::envelope::ErrorEntry;
use crate::receivable::{self, NewInvoice, NewLine, NewPayment, Revrec, parse_amount};

/// Custom fields the company defines on documents (infra/intacct/custom-fields).
const DOCUMENT_CUSTOM_FIELDS: [&str; 1] = ["SFDC_OPPORTUNITY_ID"];

/// Order Entry transaction definitions the company has, with their numbering prefixes.
const SO_DEFINITIONS: [(&str, &str); 3] = [
    ("Sales Quote", "SQ"),
    ("Sales Order", "SO"),
    ("Sales Invoice", "SI"),
];

/// `<name><year/><month/><day/></name>`; `Ok(None)` when absent.
fn legacy_date(parent: &Element, name: &str) -> Result<Option<NaiveDate>, ErrorEntry> {
    let Some(el) = parent.child(name) else {
        return Ok(None);
    };
    if el.children.is_empty() && el.text.trim().is_empty() {
        return Ok(None);
    }
    let part = |p: &str| el.value(p).parse::<u32>().ok();
    match (
        el.value("year").parse::<i32>().ok(),
        part("month"),
        part("day"),
    ) {
        (Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y, m, d)
            .map(Some)
            .ok_or_else(|| business(format!("Invalid date in {name}"))),
        _ => Err(business(format!("{name} needs <year>, <month> and <day>"))),
    }
}

fn opt(parent: &Element, name: &str) -> Option<String> {
    parent.non_empty(name).map(str::to_owned)
}

fn opt_amount(parent: &Element, name: &str) -> Result<Option<Decimal>, ErrorEntry> {
    parent
        .non_empty(name)
        .map(|t| parse_amount(t, name))
        .transpose()
}

/// The SFDC_OPPORTUNITY_ID among `<customfields>`; other names fail like an unknown field.
fn opportunity_id(parent: &Element) -> Result<Option<String>, ErrorEntry> {
    let mut found = None;
    for cf in parent
        .child("customfields")
        .map(|c| c.children.as_slice())
        .unwrap_or(&[])
    {
        let name = cf.value("customfieldname").to_ascii_uppercase();
        if !DOCUMENT_CUSTOM_FIELDS.contains(&name.as_str()) {
            return Err(business(format!(
                "Invalid custom field '{}'",
                cf.value("customfieldname")
            ))
            .correction("Use a custom field the company defines (SFDC_OPPORTUNITY_ID)."));
        }
        found = Some(cf.value("customfieldvalue").to_owned()).filter(|v| !v.is_empty());
    }
    Ok(found)
}

fn revrec(line: &Element) -> Result<Option<Revrec>, ErrorEntry> {
    let Some(template) = opt(line, "revrectemplate") else {
        return Ok(None);
    };
    match (
        legacy_date(line, "revrecstartdate")?,
        legacy_date(line, "revrecenddate")?,
    ) {
        (Some(start), Some(end)) => Ok(Some(Revrec {
            template,
            start,
            end,
        })),
        _ => Err(business(
            "revrecstartdate and revrecenddate are required with revrectemplate",
        )),
    }
}

fn check_base(
    company: &Company,
    owner: Option<&str>,
    basecurr: Option<&str>,
) -> Result<(), ErrorEntry> {
    let base = company.currency_of(owner);
    match basecurr {
        Some(b) if b != base => Err(business(format!(
            "basecurr {b} does not match the base currency {base} of the entity"
        ))),
        _ => Ok(()),
    }
}

fn failed(errors: Vec<ErrorEntry>) -> super::Failure {
    errors.into()
}

/// `<create_invoice>`.
pub(super) fn create_invoice(env: &mut Env<'_>, body: &Element) -> FnResult {
    let wrap = |e: ErrorEntry| vec![e, business("Could not create Invoice record!")];
    let mut lines = Vec::new();
    for li in body
        .child("invoiceitems")
        .map(|i| i.children.as_slice())
        .unwrap_or(&[])
    {
        let amount = li
            .non_empty("amount")
            .ok_or_else(|| wrap(business("amount is required on each lineitem")))
            .and_then(|t| parse_amount(t, "amount").map_err(wrap))?;
        lines.push(NewLine {
            account: opt(li, "glaccountno"),
            account_label: opt(li, "accountlabel"),
            amount,
            memo: opt(li, "memo"),
            location: opt(li, "locationid"),
            department: opt(li, "departmentid"),
            item: opt(li, "itemid"),
            revrec: revrec(li).map_err(wrap)?,
        });
    }
    let invoice = NewInvoice {
        customer_id: body
            .non_empty("customerid")
            .ok_or_else(|| wrap(business("customerid is required")))?
            .to_owned(),
        date: legacy_date(body, "datecreated").map_err(wrap)?,
        posted: legacy_date(body, "dateposted").map_err(wrap)?,
        due: legacy_date(body, "datedue").map_err(wrap)?,
        term: opt(body, "termname"),
        invoice_no: opt(body, "invoiceno"),
        po_number: opt(body, "ponumber"),
        description: opt(body, "description"),
        external_id: opt(body, "externalid"),
        currency: opt(body, "currency"),
        rate_date: legacy_date(body, "exchratedate").map_err(wrap)?,
        rate_type: opt(body, "exchratetype"),
        rate: opt_amount(body, "exchrate").map_err(wrap)?,
        draft: body.value("action").eq_ignore_ascii_case("draft"),
        on_hold: body.value("onhold") == "true",
        opportunity_id: opportunity_id(body).map_err(wrap)?,
        module_key: "4.AR",
        so_document: None,
        lines,
    };
    let locations: Vec<Option<String>> = invoice.lines.iter().map(|l| l.location.clone()).collect();
    if let Ok(owner) = receivable::document_owner(env.company, env.ctx, &locations) {
        check_base(env.company, owner.as_deref(), body.non_empty("basecurr")).map_err(wrap)?;
    }
    let recordno = receivable::create_invoice(env.company, env.ctx, invoice).map_err(failed)?;
    Ok(Outcome {
        key: Some(recordno.to_string()),
        changes: env
            .company
            .change("ARINVOICE", ChangeKind::Add, recordno)
            .into_iter()
            .collect(),
        billable: 1,
        ..Outcome::default()
    })
}

/// `<create_arpayment>`: a received payment, applied to the invoices in `<arpaymentitem>`s;
/// what is not applied stays unapplied on the payment.
pub(super) fn create_arpayment(env: &mut Env<'_>, body: &Element) -> FnResult {
    let wrap = |e: ErrorEntry| vec![e, business("Could not create Payment record!")];
    let mut applications = Vec::new();
    for item in body.children_named("arpaymentitem") {
        let key = item.value("invoicekey").parse::<u64>().map_err(|_| {
            wrap(business(format!(
                "Invalid invoicekey '{}'",
                item.value("invoicekey")
            )))
        })?;
        let amount = parse_amount(item.value("amount"), "amount").map_err(wrap)?;
        applications.push((key, None, amount));
    }
    let payment = NewPayment {
        customer_id: body
            .non_empty("customerid")
            .ok_or_else(|| wrap(business("customerid is required")))?
            .to_owned(),
        method: body.value("paymentmethod").to_owned(),
        financial_entity: opt(body, "bankaccountid").or_else(|| opt(body, "undepfundsacct")),
        doc_number: opt(body, "refid"),
        description: opt(body, "description"),
        receipt_date: legacy_date(body, "datereceived").map_err(wrap)?,
        payment_date: None,
        currency: opt(body, "currency"),
        amount: Some(
            body.non_empty("paymentamount")
                .ok_or_else(|| wrap(business("paymentamount is required")))
                .and_then(|t| parse_amount(t, "paymentamount").map_err(wrap))?,
        ),
        applications,
    };
    let (recordno, changes) =
        receivable::create_payment(env.company, env.ctx, payment).map_err(failed)?;
    Ok(Outcome {
        key: Some(recordno.to_string()),
        changes,
        billable: 1,
        ..Outcome::default()
    })
}

/// `<delete_customer customerid="…"/>`.
pub(super) fn delete_customer(env: &mut Env<'_>, body: &Element) -> FnResult {
    let id = body.attr("customerid").unwrap_or("").trim();
    let recordno = env
        .company
        .rows("CUSTOMER")
        .find(|(_, r)| {
            r.value("CUSTOMERID") == id && Company::visible(r, env.ctx.entity.as_deref(), false)
        })
        .map(|(no, _)| no)
        .ok_or_else(|| business(format!("Cannot find customer with key '{id}' to delete.")))?;
    let record = receivable::delete_customer(env.company, recordno)?;
    Ok(Outcome {
        changes: vec![crate::company::Change {
            object: "CUSTOMER",
            kind: ChangeKind::Delete,
            record,
        }],
        billable: 1,
        ..Outcome::default()
    })
}

/// `<create_sotransaction>`: an Order Entry document. A Sales Invoice that is not a draft
/// also posts an AR invoice (MODULEKEY 8.SO), which carries the revenue schedules.
pub(super) fn create_sotransaction(env: &mut Env<'_>, body: &Element) -> FnResult {
    let wrap = |e: ErrorEntry| vec![e, business("Could not create Document record!")];
    let doc_type = body.value("transactiontype").to_owned();
    let Some((_, prefix)) = SO_DEFINITIONS.iter().find(|(name, _)| *name == doc_type) else {
        return Err(failed(wrap(business(format!(
            "Invalid transactiontype '{doc_type}'; this company defines {}",
            SO_DEFINITIONS.map(|(n, _)| n).join(", ")
        )))));
    };
    let customer_id = body
        .non_empty("customerid")
        .ok_or_else(|| wrap(business("customerid is required")))?
        .to_owned();
    let created = legacy_date(body, "datecreated")
        .map_err(wrap)?
        .ok_or_else(|| wrap(business("datecreated is required")))?;
    let items: Vec<&Element> = body
        .child("sotransitems")
        .map(|i| i.children.iter().collect())
        .unwrap_or_default();
    if items.is_empty() {
        return Err(failed(wrap(business(
            "A transaction needs at least one sotransitem",
        ))));
    }
    let locations: Vec<Option<String>> = items.iter().map(|i| opt(i, "locationid")).collect();
    let company = &*env.company;
    let owner = receivable::document_owner(company, env.ctx, &locations).map_err(wrap)?;
    check_base(company, owner.as_deref(), body.non_empty("basecurr")).map_err(wrap)?;
    let customer_no =
        receivable::customer_for(company, &customer_id, owner.as_deref()).map_err(wrap)?;
    let customer = company
        .get("CUSTOMER", customer_no)
        .cloned()
        .ok_or_else(|| wrap(business("customer vanished")))?;
    let base = company.currency_of(owner.as_deref());
    let (currency, rate) = receivable::currency_and_rate(
        company,
        body.non_empty("currency"),
        &customer,
        &base,
        body.non_empty("exchratetype"),
        opt_amount(body, "exchrate").map_err(wrap)?,
        legacy_date(body, "exchratedate")
            .map_err(wrap)?
            .unwrap_or(created),
    )
    .map_err(wrap)?;
    // Without a term or due date the document takes the customer's term, as invoices do.
    let term = opt(body, "termname").or_else(|| opt(&customer.el, "TERMNAME"));
    let due = legacy_date(body, "datedue").map_err(wrap)?;
    if due.is_none() && term.is_none() {
        return Err(failed(wrap(business(
            "Provide datedue or termname (the customer has no term)",
        ))));
    }
    let state = match body.value("state") {
        "" | "Pending" => "Pending",
        "Draft" => "Draft",
        "Closed" => "Closed",
        other => {
            return Err(failed(wrap(business(format!(
                "Invalid state '{other}' (Draft, Pending or Closed)"
            )))));
        }
    };
    struct Line {
        item: String,
        name: String,
        qty: Decimal,
        price: Decimal,
        discount: Decimal,
        total: Decimal,
        account: Option<String>,
        source: Element,
        revrec: Option<Revrec>,
    }
    let mut lines = Vec::new();
    for it in &items {
        let item_id = it.value("itemid").to_owned();
        let (_, item) = company
            .rows("ITEM")
            .find(|(_, r)| r.value("ITEMID") == item_id)
            .ok_or_else(|| wrap(business(format!("Invalid item '{item_id}'"))))?;
        let qty = parse_amount(it.value("quantity"), "quantity").map_err(wrap)?;
        let price = match opt_amount(it, "price").map_err(wrap)? {
            Some(p) => p,
            None => parse_amount(item.value("BASEPRICE"), "item base price").map_err(wrap)?,
        };
        let discount = opt_amount(it, "discountpercent")
            .map_err(wrap)?
            .unwrap_or_default();
        let total =
            (qty * price * (Decimal::ONE_HUNDRED - discount) / Decimal::ONE_HUNDRED).round_dp(2);
        lines.push(Line {
            item: item_id,
            name: item.value("NAME").to_owned(),
            qty,
            price,
            discount,
            total,
            account: Some(item.value("GLACCOUNTNO").to_owned()).filter(|a| !a.is_empty()),
            source: (*it).clone(),
            revrec: revrec(it).map_err(wrap)?,
        });
    }
    let docno = match opt(body, "documentno") {
        Some(no) => no,
        None => {
            let mut n = company
                .rows("SODOCUMENT")
                .filter(|(_, r)| r.value("DOCPARID") == doc_type)
                .count()
                + 1;
            while company
                .find(
                    "SODOCUMENT",
                    "DOCID",
                    &format!("{doc_type}-{prefix}-{n:05}"),
                )
                .is_some()
            {
                n += 1;
            }
            format!("{prefix}-{n:05}")
        }
    };
    let docid = format!("{doc_type}-{docno}");
    if company.find("SODOCUMENT", "DOCID", &docid).is_some() {
        return Err(failed(vec![
            ErrorEntry::new(
                "BL34000061",
                format!("Another {doc_type} with the given value(s) {docno} already exists"),
            )
            .correction("Use a unique value instead."),
            business("Could not create Document record!"),
        ]));
    }
    let created_from = opt(body, "createdfrom");
    let source_no = match &created_from {
        Some(from) => Some(
            company
                .find_visible("SODOCUMENT", "DOCID", from, owner.as_deref())
                .ok_or_else(|| wrap(business(format!("Invalid createdfrom '{from}'"))))?,
        ),
        None => None,
    };
    let opportunity = opportunity_id(body).map_err(wrap)?;
    let trx_total: Decimal = lines.iter().map(|l| l.total).sum();
    let due_date = match due {
        Some(d) => d,
        None => {
            let term_name = term.clone().unwrap_or_default();
            let (_, t) = company
                .rows("ARTERM")
                .find(|(_, r)| r.value("NAME") == term_name)
                .ok_or_else(|| wrap(business(format!("Invalid term '{term_name}'"))))?;
            created + chrono::Duration::days(t.value("DUEDATE").parse().unwrap_or(0))
        }
    };

    // A Sales Invoice that is not a draft posts its AR invoice. That is the last step that can
    // fail, so it runs before anything is written: a refused invoice leaves no document behind
    // and its source unconverted, as one function of the gateway should.
    let posted_invoice = if doc_type == "Sales Invoice" && state != "Draft" {
        let invoice = NewInvoice {
            customer_id: customer_id.clone(),
            date: Some(created),
            due: Some(due_date),
            term: term.clone(),
            invoice_no: Some(docno.clone()),
            po_number: opt(body, "referenceno"),
            currency: Some(currency.clone()),
            rate: Some(rate),
            opportunity_id: opportunity.clone(),
            module_key: "8.SO",
            so_document: Some(docid.clone()),
            lines: lines
                .iter()
                .map(|l| NewLine {
                    account: Some(l.account.clone().unwrap_or_else(|| "4000".into())),
                    amount: l.total,
                    memo: opt(&l.source, "memo"),
                    location: opt(&l.source, "locationid").or_else(|| owner.clone()),
                    department: opt(&l.source, "departmentid"),
                    item: Some(l.item.clone()),
                    revrec: l.revrec.clone(),
                    ..NewLine::default()
                })
                .collect(),
            ..NewInvoice::default()
        };
        Some(receivable::create_invoice(env.company, env.ctx, invoice).map_err(failed)?)
    } else {
        None
    };

    let mut el = Element::new("SODOCUMENT");
    let mut put = |k: &str, v: String| el.children.push(Element::leaf(k, v));
    put("DOCID", docid.clone());
    put("DOCNO", docno.clone());
    put("DOCPARID", doc_type.clone());
    put("STATE", state.into());
    put("CUSTVENDID", customer_id.clone());
    put("CUSTVENDNAME", customer.value("NAME").into());
    put("WHENCREATED", format_date(created));
    put("WHENDUE", format_date(due_date));
    put("TERMNAME", term.clone().unwrap_or_default());
    put("PONUMBER", opt(body, "referenceno").unwrap_or_default());
    put("CREATEDFROM", created_from.clone().unwrap_or_default());
    put("MESSAGE", opt(body, "message").unwrap_or_default());
    put("CURRENCY", currency.clone());
    put("BASECURR", base.clone());
    put("EXCHRATE", rate.normalize().to_string());
    put("SUBTOTAL", format!("{:.2}", (trx_total * rate).round_dp(2)));
    put("TOTAL", format!("{:.2}", (trx_total * rate).round_dp(2)));
    put("TRX_SUBTOTAL", format!("{trx_total:.2}"));
    put("TRX_TOTAL", format!("{trx_total:.2}"));
    put("EXTERNALID", opt(body, "externalid").unwrap_or_default());
    put(
        "SFDC_OPPORTUNITY_ID",
        opportunity.clone().unwrap_or_default(),
    );
    if let Some(invoice_no) = posted_invoice {
        put("PRRECORDKEY", invoice_no.to_string());
    }
    let recordno = env.company.insert("SODOCUMENT", owner.clone(), el, env.ctx);
    for (i, l) in lines.iter().enumerate() {
        let mut e = Element::new("SODOCUMENTENTRY");
        let mut put = |k: &str, v: String| e.children.push(Element::leaf(k, v));
        put("DOCHDRNO", recordno.to_string());
        put("DOCHDRID", docid.clone());
        put("LINE_NO", (i + 1).to_string());
        put("ITEMID", l.item.clone());
        put("ITEMNAME", l.name.clone());
        put("ITEMDESC", opt(&l.source, "itemdesc").unwrap_or_default());
        put("QUANTITY", l.qty.normalize().to_string());
        put(
            "UNIT",
            opt(&l.source, "unit").unwrap_or_else(|| "Each".into()),
        );
        put("PRICE", format!("{:.2}", (l.price * rate).round_dp(2)));
        put("DISCOUNTPERCENT", l.discount.normalize().to_string());
        put("TOTAL", format!("{:.2}", (l.total * rate).round_dp(2)));
        put("TRX_PRICE", format!("{:.2}", l.price.round_dp(2)));
        put("TRX_TOTAL", format!("{:.2}", l.total));
        put(
            "LOCATIONID",
            opt(&l.source, "locationid")
                .or_else(|| owner.clone())
                .unwrap_or_default(),
        );
        put(
            "DEPARTMENTID",
            opt(&l.source, "departmentid").unwrap_or_default(),
        );
        put("MEMO", opt(&l.source, "memo").unwrap_or_default());
        put(
            "REVRECTEMPLATE",
            l.revrec
                .as_ref()
                .map(|r| r.template.clone())
                .unwrap_or_default(),
        );
        put(
            "REVRECSTARTDATE",
            l.revrec
                .as_ref()
                .map(|r| format_date(r.start))
                .unwrap_or_default(),
        );
        put(
            "REVRECENDDATE",
            l.revrec
                .as_ref()
                .map(|r| format_date(r.end))
                .unwrap_or_default(),
        );
        env.company
            .insert("SODOCUMENTENTRY", owner.clone(), e, env.ctx);
    }
    let mut changes: Vec<_> = Vec::new();
    if let Some(source) = source_no {
        if let Some(r) = env.company.get_mut("SODOCUMENT", source) {
            r.el.set("STATE", "Converted");
        }
        env.company.touch("SODOCUMENT", source, env.ctx);
        changes.extend(env.company.change("SODOCUMENT", ChangeKind::Set, source));
    }
    if let Some(invoice_no) = posted_invoice {
        changes.extend(env.company.change("ARINVOICE", ChangeKind::Add, invoice_no));
    }
    changes.extend(env.company.change("SODOCUMENT", ChangeKind::Add, recordno));
    Ok(Outcome {
        key: Some(docid),
        changes,
        billable: 1,
        ..Outcome::default()
    })
}
