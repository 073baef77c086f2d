//! Accounts receivable: invoices with lines, due dates and states; payments applied to invoices
//! (TOTALDUE goes down, STATE moves to Partially Paid / Paid); customer balances; currencies
//! and exchange rates; revenue schedules posted per month.

use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use crate::company::{Change, ChangeKind, Company, Ctx, Record, format_date};
use crate::element::Element;
use crate::envelope::ErrorEntry;
use crate::function::business;
use crate::query::parse_datetime;

/// The rate type used when a document names none.
pub(crate) const DEFAULT_RATE_TYPE: &str = "Intacct Daily Rate";

/// Payment methods the legacy and generic payment functions accept.
const PAYMENT_METHODS: [&str; 6] = [
    "Printed Check",
    "Cash",
    "EFT",
    "Credit Card",
    "Online Charge Card",
    "Online ACH Debit",
];

fn money(d: Decimal) -> String {
    format!("{:.2}", d.round_dp(2))
}

fn amount(record: &Record, field: &str) -> Decimal {
    Decimal::from_str(record.value(field)).unwrap_or_default()
}

/// Reads `MM/DD/YYYY` (or ISO) as a date.
pub(crate) fn date(text: &str) -> Option<NaiveDate> {
    parse_datetime(text).map(|d| d.date())
}

/// The rate that converts `from` into `to` on `on` (latest entry on or before that date),
/// trying the inverse pair when only that is stored.
pub(crate) fn exchange_rate(
    company: &Company,
    from: &str,
    to: &str,
    rate_type: &str,
    on: NaiveDate,
) -> Option<Decimal> {
    if from == to {
        return Some(Decimal::ONE);
    }
    let latest = |f: &str, t: &str| -> Option<Decimal> {
        let (parent, _) = company.rows("EXCHANGERATE").find(|(_, r)| {
            r.value("FROM_CURRENCY") == f
                && r.value("TO_CURRENCY") == t
                && r.value("TYPENAME") == rate_type
        })?;
        let parent = parent.to_string();
        company
            .rows("EXCHANGERATEENTRY")
            .filter(|(_, e)| e.value("EXCHANGERATEID") == parent)
            .filter_map(|(_, e)| Some((date(e.value("EFFECTIVE_START_DATE"))?, amount(e, "RATE"))))
            .filter(|(d, _)| *d <= on)
            .max_by_key(|(d, _)| *d)
            .map(|(_, r)| r)
    };
    latest(from, to).or_else(|| {
        latest(to, from)
            .filter(|r| !r.is_zero())
            .map(|r| (Decimal::ONE / r).round_dp(10))
    })
}

/// A new AR invoice, from `create_invoice` or an Order Entry Sales Invoice.
#[derive(Debug, Clone, Default)]
pub(crate) struct NewInvoice {
    pub customer_id: String,
    pub date: Option<NaiveDate>,
    pub posted: Option<NaiveDate>,
    pub due: Option<NaiveDate>,
    pub term: Option<String>,
    pub invoice_no: Option<String>,
    pub po_number: Option<String>,
    pub description: Option<String>,
    pub external_id: Option<String>,
    pub currency: Option<String>,
    pub rate_date: Option<NaiveDate>,
    pub rate_type: Option<String>,
    pub rate: Option<Decimal>,
    pub draft: bool,
    pub on_hold: bool,
    pub opportunity_id: Option<String>,
    /// "4.AR" for AR invoices, "8.SO" for invoices Order Entry made.
    pub module_key: &'static str,
    pub so_document: Option<String>,
    pub lines: Vec<NewLine>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct NewLine {
    pub account: Option<String>,
    pub account_label: Option<String>,
    pub amount: Decimal,
    pub memo: Option<String>,
    pub location: Option<String>,
    pub department: Option<String>,
    pub item: Option<String>,
    pub revrec: Option<Revrec>,
}

#[derive(Debug, Clone)]
pub(crate) struct Revrec {
    pub template: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// The entity a document belongs to: the caller's, or at the top level the entity its lines'
/// `locationid` names (required there in a multi-entity company, as Intacct requires it).
pub(crate) fn document_owner(
    company: &Company,
    ctx: &Ctx,
    line_locations: &[Option<String>],
) -> Result<Option<String>, ErrorEntry> {
    for loc in line_locations.iter().flatten() {
        if company.entity(loc).is_none() {
            return Err(business(format!("Invalid location '{loc}'"))
                .correction("Use the LOCATIONID of an entity."));
        }
    }
    match &ctx.entity {
        Some(entity) => {
            if let Some(other) = line_locations.iter().flatten().find(|l| *l != entity) {
                return Err(business(format!(
                    "Location '{other}' is not in entity '{entity}'"
                )));
            }
            Ok(Some(entity.clone()))
        }
        None if company.entities.is_empty() => Ok(None),
        None => {
            let mut locs = line_locations.iter();
            let first = locs.next().and_then(|l| l.clone()).ok_or_else(|| {
                business("locationid is required on every line in a multi-entity company when working at the top level")
            })?;
            if locs.any(|l| l.as_deref() != Some(first.as_str())) {
                return Err(business(
                    "Every line must carry a locationid of the same entity (inter-entity documents are not emulated)",
                ));
            }
            Ok(Some(first))
        }
    }
}

/// The customer record `id` as seen by documents of `owner`.
pub(crate) fn customer_for(
    company: &Company,
    id: &str,
    owner: Option<&str>,
) -> Result<u64, ErrorEntry> {
    company
        .rows("CUSTOMER")
        .find(|(_, r)| r.value("CUSTOMERID") == id && Company::visible(r, owner, owner.is_none()))
        .map(|(no, _)| no)
        .ok_or_else(|| {
            business(format!("Invalid Customer '{id}' specified."))
                .correction("Use a customer that exists in this entity or at the top level.")
        })
}

/// The transaction currency and its rate into `base`.
pub(crate) fn currency_and_rate(
    company: &Company,
    currency: Option<&str>,
    customer: &Record,
    base: &str,
    rate_type: Option<&str>,
    rate: Option<Decimal>,
    on: NaiveDate,
) -> Result<(String, Decimal), ErrorEntry> {
    let currency = currency
        .filter(|c| !c.is_empty())
        .or(Some(customer.value("CURRENCY")).filter(|c| !c.is_empty()))
        .unwrap_or(base)
        .to_owned();
    if company.find("TRXCURRENCIES", "CODE", &currency).is_none() {
        return Err(business(format!("Invalid currency '{currency}'")));
    }
    let rate = match rate {
        Some(r) if r > Decimal::ZERO => r,
        Some(_) => return Err(business("exchrate must be greater than zero")),
        None => {
            let rate_type = rate_type
                .filter(|t| !t.is_empty())
                .unwrap_or(DEFAULT_RATE_TYPE);
            if company
                .find("EXCHANGERATETYPES", "NAME", rate_type)
                .is_none()
            {
                return Err(
                    business(format!("Invalid exchange rate type '{rate_type}'"))
                        .correction("Use an exchange rate type the company defines."),
                );
            }
            // Never a guess: no rate on or before the document date refuses the document.
            exchange_rate(company, &currency, base, rate_type, on).ok_or_else(|| {
                business(format!(
                    "No {rate_type} exchange rate from {currency} to {base} on or before {}",
                    format_date(on)
                ))
                .correction(
                    "Enter an exchange rate for that date, or send exchrate, and try again.",
                )
            })?
        }
    };
    Ok((currency, rate))
}

/// Creates an AR invoice and its lines (and revenue schedules for lines that carry a
/// template); returns its RECORDNO.
pub(crate) fn create_invoice(
    company: &mut Company,
    ctx: &Ctx,
    inv: NewInvoice,
) -> Result<u64, Vec<ErrorEntry>> {
    let one = |e: ErrorEntry| vec![e, business("Could not create Invoice record!")];
    if inv.lines.is_empty() {
        return Err(one(business("An invoice needs at least one line item")));
    }
    let locations: Vec<Option<String>> = inv.lines.iter().map(|l| l.location.clone()).collect();
    let owner = document_owner(company, ctx, &locations).map_err(one)?;
    let customer_no = customer_for(company, &inv.customer_id, owner.as_deref()).map_err(one)?;
    let customer = company
        .get("CUSTOMER", customer_no)
        .cloned()
        .ok_or_else(|| one(business("customer vanished")))?;
    let created = inv
        .date
        .ok_or_else(|| one(business("datecreated is required")))?;
    let due = match (inv.due, inv.term.as_deref().filter(|t| !t.is_empty())) {
        (Some(d), _) => d,
        (None, term) => {
            let term = term
                .or(Some(customer.value("TERMNAME")).filter(|t| !t.is_empty()))
                .ok_or_else(|| one(business("Provide datedue or termname")))?;
            due_by_term(company, term, created).map_err(one)?
        }
    };
    let base = company.currency_of(owner.as_deref());
    let (currency, rate) = currency_and_rate(
        company,
        inv.currency.as_deref(),
        &customer,
        &base,
        inv.rate_type.as_deref(),
        inv.rate,
        inv.rate_date.unwrap_or(created),
    )
    .map_err(one)?;
    for line in &inv.lines {
        match (&line.account, &line.account_label) {
            (Some(acct), _) if company.find("GLACCOUNT", "ACCOUNTNO", acct).is_none() => {
                return Err(one(business(format!("Invalid GL account '{acct}'"))));
            }
            (None, None) => {
                return Err(one(business("Each line needs glaccountno or accountlabel")));
            }
            _ => {}
        }
        if let Some(item) = &line.item
            && company.find("ITEM", "ITEMID", item).is_none()
        {
            return Err(one(business(format!("Invalid item '{item}'"))));
        }
        if line.revrec.as_ref().is_some_and(|rr| rr.end < rr.start) {
            return Err(one(business("revrecenddate is before revrecstartdate")));
        }
    }
    // Everything that can fail was checked above: from here on the invoice is written whole.
    let trx_total: Decimal = inv.lines.iter().map(|l| l.amount.round_dp(2)).sum();
    let total = (trx_total * rate).round_dp(2);
    let record_id = inv
        .invoice_no
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            let mut n = company.count("ARINVOICE") + 1;
            while company
                .find("ARINVOICE", "RECORDID", &format!("INV-{n:05}"))
                .is_some()
            {
                n += 1;
            }
            format!("INV-{n:05}")
        });
    let mut el = Element::new("ARINVOICE");
    let mut put = |k: &str, v: String| el.children.push(Element::leaf(k, v));
    put("RECORDID", record_id);
    put("RECORDTYPE", "ri".into());
    put("MODULEKEY", inv.module_key.into());
    put("STATE", if inv.draft { "Draft" } else { "Posted" }.into());
    put("CUSTOMERID", inv.customer_id.clone());
    put("CUSTOMERNAME", customer.value("NAME").into());
    put("DOCNUMBER", inv.po_number.clone().unwrap_or_default());
    put("DESCRIPTION", inv.description.clone().unwrap_or_default());
    put("TERMNAME", inv.term.clone().unwrap_or_default());
    put("WHENCREATED", format_date(created));
    put("WHENPOSTED", format_date(inv.posted.unwrap_or(created)));
    put("WHENDUE", format_date(due));
    put("WHENPAID", String::new());
    put("CURRENCY", currency.clone());
    put("BASECURR", base);
    put("EXCHANGE_RATE", rate.normalize().to_string());
    put("TOTALENTERED", money(total));
    put("TOTALPAID", money(Decimal::ZERO));
    put("TOTALDUE", money(total));
    put("TRX_TOTALENTERED", money(trx_total));
    put("TRX_TOTALPAID", money(Decimal::ZERO));
    put("TRX_TOTALDUE", money(trx_total));
    put("ONHOLD", inv.on_hold.to_string());
    put("EXTERNALID", inv.external_id.clone().unwrap_or_default());
    put("SODOCUMENTID", inv.so_document.clone().unwrap_or_default());
    put(
        "SFDC_OPPORTUNITY_ID",
        inv.opportunity_id.clone().unwrap_or_default(),
    );
    let recordno = company.insert("ARINVOICE", owner.clone(), el, ctx);
    for (i, line) in inv.lines.iter().enumerate() {
        let mut l = Element::new("ARINVOICEITEM");
        let mut put = |k: &str, v: String| l.children.push(Element::leaf(k, v));
        put("RECORDKEY", recordno.to_string());
        put("LINE_NO", (i + 1).to_string());
        put(
            "ACCOUNTNO",
            line.account.clone().unwrap_or_else(|| "4000".into()),
        );
        put("AMOUNT", money(line.amount * rate));
        put("TRX_AMOUNT", money(line.amount));
        put("CURRENCY", currency.clone());
        put("ITEMID", line.item.clone().unwrap_or_default());
        put("MEMO", line.memo.clone().unwrap_or_default());
        put(
            "LOCATIONID",
            line.location
                .clone()
                .or_else(|| owner.clone())
                .unwrap_or_default(),
        );
        put("DEPARTMENTID", line.department.clone().unwrap_or_default());
        put("CUSTOMERID", inv.customer_id.clone());
        put(
            "REVRECTEMPLATE",
            line.revrec
                .as_ref()
                .map(|r| r.template.clone())
                .unwrap_or_default(),
        );
        put(
            "REVRECSTARTDATE",
            line.revrec
                .as_ref()
                .map(|r| format_date(r.start))
                .unwrap_or_default(),
        );
        put(
            "REVRECENDDATE",
            line.revrec
                .as_ref()
                .map(|r| format_date(r.end))
                .unwrap_or_default(),
        );
        let line_no = company.insert("ARINVOICEITEM", owner.clone(), l, ctx);
        if let Some(rr) = &line.revrec {
            schedule_revenue(
                company,
                ctx,
                owner.clone(),
                RevenueSource {
                    object: "ARINVOICE",
                    key: recordno,
                    line: line_no,
                    doc_number: company
                        .get("ARINVOICE", recordno)
                        .map(|r| r.value("RECORDID").to_owned())
                        .unwrap_or_default(),
                    customer: inv.customer_id.clone(),
                    item: line.item.clone().unwrap_or_default(),
                    currency: currency.clone(),
                },
                rr,
                line.amount,
            );
        }
    }
    recompute_customer(company, &inv.customer_id);
    Ok(recordno)
}

fn due_by_term(company: &Company, term: &str, from: NaiveDate) -> Result<NaiveDate, ErrorEntry> {
    let (_, t) = company
        .rows("ARTERM")
        .find(|(_, r)| r.value("NAME") == term)
        .ok_or_else(|| business(format!("Invalid term '{term}'")))?;
    let days: i64 = t.value("DUEDATE").parse().unwrap_or(0);
    Ok(from + chrono::Duration::days(days))
}

/// Where a revenue schedule comes from.
struct RevenueSource {
    object: &'static str,
    key: u64,
    line: u64,
    doc_number: String,
    customer: String,
    item: String,
    currency: String,
}

/// A straight-line monthly schedule from the start month to the end month (the caller has
/// checked that the end is not before the start); each entry posts on the last day of its
/// month, the last one takes the rounding remainder.
fn schedule_revenue(
    company: &mut Company,
    ctx: &Ctx,
    owner: Option<String>,
    source: RevenueSource,
    rr: &Revrec,
    total: Decimal,
) {
    let months = (rr.end.year() - rr.start.year()) * 12 + rr.end.month() as i32
        - rr.start.month() as i32
        + 1;
    let months = u32::try_from(months).unwrap_or(1).max(1);
    let mut el = Element::new("REVRECSCHEDULE");
    let mut put = |k: &str, v: String| el.children.push(Element::leaf(k, v));
    put("REVRECTEMPLATE", rr.template.clone());
    put("SOURCEOBJECT", source.object.into());
    put("SOURCEKEY", source.key.to_string());
    put("SOURCELINEKEY", source.line.to_string());
    put("DOCNUMBER", source.doc_number.clone());
    put("CUSTOMERID", source.customer.clone());
    put("ITEMID", source.item.clone());
    put("STARTDATE", format_date(rr.start));
    put("ENDDATE", format_date(rr.end));
    put("CURRENCY", source.currency.clone());
    put("TOTALAMOUNT", money(total));
    let schedule = company.insert("REVRECSCHEDULE", owner.clone(), el, ctx);
    let each = (total / Decimal::from(months)).round_dp(2);
    let mut left = total.round_dp(2);
    let today = ctx.today();
    for m in 0..months {
        let first = rr
            .start
            .with_day(1)
            .and_then(|d| d.checked_add_months(chrono::Months::new(m)))
            .unwrap_or(rr.start);
        let last = first
            .checked_add_months(chrono::Months::new(1))
            .and_then(|d| d.pred_opt())
            .unwrap_or(first);
        let amt = if m + 1 == months { left } else { each };
        left -= amt;
        let mut e = Element::new("REVRECSCHEDULEENTRY");
        let mut put = |k: &str, v: String| e.children.push(Element::leaf(k, v));
        put("REVRECSCHEDULEKEY", schedule.to_string());
        put("CUSTOMERID", source.customer.clone());
        put("ITEMID", source.item.clone());
        put("DOCNUMBER", source.doc_number.clone());
        put("POSTINGDATE", format_date(last));
        put("PERIOD", format!("{:04}-{:02}", last.year(), last.month()));
        put("AMOUNT", money(amt));
        put("CURRENCY", source.currency.clone());
        put("POSTED", (last <= today).to_string());
        company.insert("REVRECSCHEDULEENTRY", owner.clone(), e, ctx);
    }
}

/// Posts the revenue entries whose posting date has come (what Intacct's scheduled revenue
/// posting does), so recognized revenue grows as the clock moves.
pub(crate) fn post_due_revenue(company: &mut Company, today: NaiveDate) {
    let due: Vec<u64> = company
        .rows("REVRECSCHEDULEENTRY")
        .filter(|(_, e)| {
            e.value("POSTED") == "false" && date(e.value("POSTINGDATE")).is_some_and(|d| d <= today)
        })
        .map(|(no, _)| no)
        .collect();
    for no in due {
        if let Some(e) = company.get_mut("REVRECSCHEDULEENTRY", no) {
            e.el.set("POSTED", "true");
        }
    }
}

/// Sets the customer's TOTALDUE to what its posted invoices still owe.
pub(crate) fn recompute_customer(company: &mut Company, customer_id: &str) {
    let due: Decimal = company
        .rows("ARINVOICE")
        .filter(|(_, r)| r.value("CUSTOMERID") == customer_id && r.value("STATE") != "Draft")
        .map(|(_, r)| amount(r, "TOTALDUE"))
        .sum();
    let nos: Vec<u64> = company
        .rows("CUSTOMER")
        .filter(|(_, r)| r.value("CUSTOMERID") == customer_id)
        .map(|(no, _)| no)
        .collect();
    for no in nos {
        if let Some(c) = company.get_mut("CUSTOMER", no) {
            c.el.set("TOTALDUE", money(due));
        }
    }
}

/// A new payment, from `create_arpayment` or `<create><ARPYMT>`.
#[derive(Debug, Clone, Default)]
pub(crate) struct NewPayment {
    pub customer_id: String,
    pub method: String,
    pub financial_entity: Option<String>,
    pub doc_number: Option<String>,
    pub description: Option<String>,
    pub receipt_date: Option<NaiveDate>,
    pub payment_date: Option<NaiveDate>,
    pub currency: Option<String>,
    /// The amount received; `None` = the sum of what is applied.
    pub amount: Option<Decimal>,
    /// (invoice RECORDNO, invoice line RECORDNO, amount in the transaction currency).
    pub applications: Vec<(u64, Option<u64>, Decimal)>,
}

/// Records a payment, applies it to invoices and returns its RECORDNO with the changes made
/// (the payment added, each invoice it paid set).
pub(crate) fn create_payment(
    company: &mut Company,
    ctx: &Ctx,
    p: NewPayment,
) -> Result<(u64, Vec<Change>), Vec<ErrorEntry>> {
    let one = |e: ErrorEntry| vec![e, business("Could not create Payment record!")];
    let owner = ctx.entity.clone();
    if !PAYMENT_METHODS.contains(&p.method.as_str()) {
        return Err(one(business(format!(
            "Invalid payment method '{}'; use one of {}",
            p.method,
            PAYMENT_METHODS.join(", ")
        ))));
    }
    let customer_no = customer_for(company, &p.customer_id, owner.as_deref()).map_err(one)?;
    let customer_name = company
        .get("CUSTOMER", customer_no)
        .map(|c| c.value("NAME").to_owned())
        .unwrap_or_default();
    let received = p
        .receipt_date
        .ok_or_else(|| one(business("The receipt date is required")))?;
    let mut invoices = Vec::new();
    for (invoice_no, line, amt) in &p.applications {
        let inv = company
            .get("ARINVOICE", *invoice_no)
            .filter(|r| Company::visible(r, owner.as_deref(), false))
            .ok_or_else(|| one(business(format!("Invalid invoice key {invoice_no}"))))?;
        if inv.value("CUSTOMERID") != p.customer_id {
            return Err(one(business(format!(
                "Invoice {invoice_no} belongs to customer {}, not {}",
                inv.value("CUSTOMERID"),
                p.customer_id
            ))));
        }
        if !matches!(inv.value("STATE"), "Posted" | "Partially Paid") {
            return Err(one(business(format!(
                "Invoice {invoice_no} is {} and cannot take a payment",
                inv.value("STATE")
            ))));
        }
        if let Some(line) = line
            && company
                .get("ARINVOICEITEM", *line)
                .is_none_or(|l| l.value("RECORDKEY") != invoice_no.to_string())
        {
            return Err(one(business(format!(
                "Invalid line {line} of invoice {invoice_no}"
            ))));
        }
        if *amt <= Decimal::ZERO {
            return Err(one(business("A payment amount must be greater than zero")));
        }
        invoices.push(inv.clone());
    }
    let currency = p
        .currency
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| invoices.first().map(|i| i.value("CURRENCY").to_owned()))
        .unwrap_or_else(|| company.currency_of(owner.as_deref()));
    // The same invoice may appear on several lines: check the running total it still owes.
    let mut owed: Vec<(u64, Decimal)> = Vec::new();
    for ((invoice_no, _, amt), inv) in p.applications.iter().zip(&invoices) {
        if inv.value("CURRENCY") != currency {
            return Err(one(business(format!(
                "Invoice {invoice_no} is in {}, the payment in {currency}",
                inv.value("CURRENCY")
            ))));
        }
        let left = match owed.iter_mut().find(|(n, _)| n == invoice_no) {
            Some((_, left)) => left,
            None => {
                owed.push((*invoice_no, amount(inv, "TRX_TOTALDUE")));
                let last = owed.len() - 1;
                &mut owed[last].1
            }
        };
        if *amt > *left {
            return Err(one(business(format!(
                "The amount {} exceeds the {} still due on invoice {invoice_no}",
                money(*amt),
                money(*left)
            ))));
        }
        *left -= *amt;
    }
    let applied: Decimal = p.applications.iter().map(|(_, _, a)| *a).sum();
    let total = p.amount.unwrap_or(applied);
    if total <= Decimal::ZERO {
        return Err(one(business("A payment amount must be greater than zero")));
    }
    if applied > total {
        return Err(one(business(format!(
            "The amounts applied ({}) exceed the payment amount ({})",
            money(applied),
            money(total)
        ))));
    }
    let base = company.currency_of(owner.as_deref());
    let rate = match invoices.first() {
        Some(inv) => Decimal::from_str(inv.value("EXCHANGE_RATE")).unwrap_or(Decimal::ONE),
        None => exchange_rate(company, &currency, &base, DEFAULT_RATE_TYPE, received).ok_or_else(
            || {
                one(business(format!(
                    "No exchange rate from {currency} to {base}"
                )))
            },
        )?,
    };
    let paid_on = p.payment_date.unwrap_or(received);
    let mut el = Element::new("ARPYMT");
    let mut put = |k: &str, v: String| el.children.push(Element::leaf(k, v));
    put("CUSTOMERID", p.customer_id.clone());
    put("CUSTOMERNAME", customer_name);
    put("PAYMENTMETHOD", p.method.clone());
    put(
        "FINANCIALENTITY",
        p.financial_entity.clone().unwrap_or_default(),
    );
    put("DOCNUMBER", p.doc_number.clone().unwrap_or_default());
    put("DESCRIPTION", p.description.clone().unwrap_or_default());
    put("WHENCREATED", format_date(received));
    put("RECEIPTDATE", format_date(received));
    put("PAYMENTDATE", format_date(paid_on));
    put("STATE", "Complete".into());
    put("CURRENCY", currency.clone());
    put("BASECURR", base);
    put("EXCHANGE_RATE", rate.normalize().to_string());
    put("TOTALENTERED", money(total * rate));
    put("TRX_TOTALENTERED", money(total));
    put("TOTALAPPLIED", money(applied * rate));
    put("TRX_TOTALAPPLIED", money(applied));
    let payment_no = company.insert("ARPYMT", owner.clone(), el, ctx);
    let mut changes: Vec<Change> = company
        .change("ARPYMT", ChangeKind::Add, payment_no)
        .into_iter()
        .collect();
    let mut touched: Vec<u64> = Vec::new();
    for (invoice_no, line, amt) in &p.applications {
        let mut d = Element::new("ARPYMTDETAIL");
        let mut put = |k: &str, v: String| d.children.push(Element::leaf(k, v));
        put("PAYMENTKEY", payment_no.to_string());
        put("RECORDKEY", invoice_no.to_string());
        put("ENTRYKEY", line.map(|l| l.to_string()).unwrap_or_default());
        put("TRX_PAYMENTAMOUNT", money(*amt));
        put("PAYMENTAMOUNT", money(*amt * rate));
        put("CURRENCY", currency.clone());
        company.insert("ARPYMTDETAIL", owner.clone(), d, ctx);
        apply(company, *invoice_no, *amt, paid_on);
        if !touched.contains(invoice_no) {
            touched.push(*invoice_no);
        }
    }
    for invoice_no in touched {
        company.touch("ARINVOICE", invoice_no, ctx);
        changes.extend(company.change("ARINVOICE", ChangeKind::Set, invoice_no));
    }
    recompute_customer(company, &p.customer_id);
    Ok((payment_no, changes))
}

/// Moves `amt` (transaction currency) of an invoice from due to paid.
fn apply(company: &mut Company, invoice_no: u64, amt: Decimal, paid_on: NaiveDate) {
    let Some(inv) = company.get_mut("ARINVOICE", invoice_no) else {
        return;
    };
    let rate = Decimal::from_str(inv.value("EXCHANGE_RATE")).unwrap_or(Decimal::ONE);
    let trx_paid = amount(inv, "TRX_TOTALPAID") + amt;
    let trx_due = (amount(inv, "TRX_TOTALENTERED") - trx_paid).max(Decimal::ZERO);
    let total = amount(inv, "TOTALENTERED");
    // Base amounts follow the transaction amounts; a fully paid invoice owes exactly zero.
    let (paid, due) = if trx_due.is_zero() {
        (total, Decimal::ZERO)
    } else {
        let paid = (trx_paid * rate).round_dp(2);
        (paid, total - paid)
    };
    inv.el.set("TRX_TOTALPAID", money(trx_paid));
    inv.el.set("TRX_TOTALDUE", money(trx_due));
    inv.el.set("TOTALPAID", money(paid));
    inv.el.set("TOTALDUE", money(due));
    if trx_due.is_zero() {
        inv.el.set("STATE", "Paid");
        inv.el.set("WHENPAID", format_date(paid_on));
    } else {
        inv.el.set("STATE", "Partially Paid");
    }
}

/// Deletes a customer that has no documents.
pub(crate) fn delete_customer(company: &mut Company, recordno: u64) -> Result<Record, ErrorEntry> {
    let id = company
        .get("CUSTOMER", recordno)
        .map(|r| r.value("CUSTOMERID").to_owned())
        .ok_or_else(|| {
            business(format!(
                "Cannot find customer with key '{recordno}' to delete."
            ))
        })?;
    let used = company
        .rows("ARINVOICE")
        .any(|(_, r)| r.value("CUSTOMERID") == id)
        || company
            .rows("ARPYMT")
            .any(|(_, r)| r.value("CUSTOMERID") == id)
        || company
            .rows("SODOCUMENT")
            .any(|(_, r)| r.value("CUSTVENDID") == id);
    if used {
        return Err(business(format!(
            "Customer {id} has transactions and cannot be deleted"
        ))
        .correction("Make the customer inactive instead."));
    }
    company
        .remove("CUSTOMER", recordno)
        .ok_or_else(|| business("customer vanished"))
}

/// Deletes an invoice with no payments, with its lines and revenue schedules.
pub(crate) fn delete_invoice(company: &mut Company, recordno: u64) -> Result<Record, ErrorEntry> {
    let inv = company.get("ARINVOICE", recordno).cloned().ok_or_else(|| {
        business(format!(
            "Cannot find arinvoice with key '{recordno}' to delete."
        ))
    })?;
    if amount(&inv, "TRX_TOTALPAID") > Decimal::ZERO {
        return Err(business(format!(
            "Invoice {} has payments applied and cannot be deleted",
            inv.value("RECORDID")
        )));
    }
    let key = recordno.to_string();
    let lines: Vec<u64> = company
        .rows("ARINVOICEITEM")
        .filter(|(_, l)| l.value("RECORDKEY") == key)
        .map(|(n, _)| n)
        .collect();
    for l in lines {
        company.remove("ARINVOICEITEM", l);
    }
    remove_schedules(company, "ARINVOICE", &key);
    let removed = company
        .remove("ARINVOICE", recordno)
        .ok_or_else(|| business("invoice vanished"))?;
    recompute_customer(company, inv.value("CUSTOMERID"));
    Ok(removed)
}

fn remove_schedules(company: &mut Company, object: &str, key: &str) {
    let schedules: Vec<u64> = company
        .rows("REVRECSCHEDULE")
        .filter(|(_, s)| s.value("SOURCEOBJECT") == object && s.value("SOURCEKEY") == key)
        .map(|(n, _)| n)
        .collect();
    for s in schedules {
        let sk = s.to_string();
        let entries: Vec<u64> = company
            .rows("REVRECSCHEDULEENTRY")
            .filter(|(_, e)| e.value("REVRECSCHEDULEKEY") == sk)
            .map(|(n, _)| n)
            .collect();
        for e in entries {
            company.remove("REVRECSCHEDULEENTRY", e);
        }
        company.remove("REVRECSCHEDULE", s);
    }
}

/// Reads a decimal amount from request text.
pub(crate) fn parse_amount(text: &str, what: &str) -> Result<Decimal, ErrorEntry> {
    Decimal::from_str(text.trim()).map_err(|_| business(format!("Invalid {what} '{text}'")))
}
