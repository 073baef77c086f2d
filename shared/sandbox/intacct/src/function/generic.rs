//! Generic object functions: create, update, delete, read, readByName, lookup (protocols.md B6).

use std::str::FromStr;

use rust_decimal::Decimal;

use super::{Env, Failure, FnResult, Outcome, business};
use crate::company::{Change, ChangeKind, Company, format_date};
use crate::element::Element;
use crate::envelope::ErrorEntry;
use crate::query::{parse_bool, parse_datetime};
use crate::receivable;
use crate::schema::{self, Access, ObjectDef, Ty};
use crate::view::{Fields, Reader};

/// The object named by a function's `<object>` element, or the "not found" failure readers see.
pub(super) fn object_named(name: Option<&str>) -> Result<&'static ObjectDef, ErrorEntry> {
    let name = name.unwrap_or("").trim();
    if name.is_empty() {
        return Err(ErrorEntry::new(
            "Query Failed",
            "The object element is required",
        ));
    }
    schema::object(name).ok_or_else(|| {
        ErrorEntry::new(
            "Query Failed",
            format!("Object definition {} not found", name.to_ascii_uppercase()),
        )
    })
}

/// Title case of an object for messages ("Customer").
pub(crate) fn label(def: &ObjectDef) -> String {
    let lower = def.name.to_ascii_lowercase();
    let mut chars = lower.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Trims leaf text and drops the whitespace between child elements.
fn normalize(el: &Element) -> Element {
    let mut out = Element::new(el.name.clone());
    out.attrs = el.attrs.clone();
    if el.children.is_empty() {
        out.text = el.text.trim().to_owned();
    } else {
        out.children = el.children.iter().map(normalize).collect();
    }
    out
}

/// Checks a record sent to create/update against the schema and returns it normalized
/// (booleans lower-case, amounts rounded to 2 places, dates as MM/DD/YYYY).
pub(crate) fn check_fields(
    def: &ObjectDef,
    el: &Element,
    creating: bool,
) -> Result<Element, ErrorEntry> {
    let mut out = normalize(el);
    for child in &mut out.children {
        let Some(field) = def.field(&child.name) else {
            return Err(business(format!(
                "Invalid field {} for object {}",
                child.name, def.name
            ))
            .correction("Use a field the object defines (lookup lists them)."));
        };
        // RECORDNO may name the record to update; everything else read-only is refused.
        if field.access == Access::ReadOnly && (creating || field.name != "RECORDNO") {
            return Err(business(format!(
                "Field {} of {} is read-only",
                field.name, def.name
            )));
        }
        if field.ty == Ty::Group || child.text.is_empty() {
            continue;
        }
        let bad = || {
            business(format!(
                "Invalid value '{}' for {} field {}",
                child.text,
                field.ty.lookup_name(),
                field.name
            ))
        };
        child.text = match field.ty {
            Ty::Decimal => Decimal::from_str(&child.text)
                .map_err(|_| bad())?
                .round_dp(2)
                .to_string(),
            Ty::Integer => child.text.parse::<i64>().map_err(|_| bad())?.to_string(),
            Ty::Boolean => parse_bool(&child.text).ok_or_else(bad)?.to_string(),
            Ty::Date => format_date(parse_datetime(&child.text).ok_or_else(bad)?.date()),
            Ty::DateTime | Ty::Text | Ty::Group => std::mem::take(&mut child.text),
        };
    }
    if creating {
        for field in def.fields.iter().filter(|f| f.access == Access::Required) {
            if out.non_empty(field.name).is_none() {
                return Err(
                    business(format!("Required field {} is missing", field.name))
                        .correction(format!("Provide a value for {}.", field.name)),
                );
            }
        }
    }
    Ok(out)
}

fn duplicate(def: &ObjectDef, id: &str) -> Vec<ErrorEntry> {
    vec![
        ErrorEntry::new(
            "BL34000061",
            format!(
                "Another {} with the given value(s) {id} already exists",
                label(def)
            ),
        )
        .correction("Use a unique value instead."),
        business(format!("Could not create {} record!", label(def))),
    ]
}

/// `<create>`: every child element is one record, possibly of different objects.
pub(super) fn create(env: &mut Env<'_>, body: &Element) -> FnResult {
    write_each(env, body, create_one)
}

/// Runs `write` on each record of a `<create>` or `<update>` and answers with the key fields of
/// every record written (`<data listtype="objects">`). A failure stops there and keeps what
/// the records before it did, as Intacct does.
fn write_each(
    env: &mut Env<'_>,
    body: &Element,
    write: fn(&mut Env<'_>, &Element) -> Result<Written, Vec<ErrorEntry>>,
) -> FnResult {
    let mut done = Outcome::default();
    let mut keys = Element::new("data").with_attr("listtype", "objects");
    let mut failure = None;
    for record in &body.children {
        match write(env, record) {
            Ok((def, recordno, changes)) => {
                done.billable += 1;
                let mut key = Element::new(def.name.to_ascii_lowercase())
                    .with_child(Element::leaf("RECORDNO", recordno.to_string()));
                if let Some(id) = def.id_field
                    && let Some(r) = env.company.get(def.name, recordno)
                {
                    key.children.push(Element::leaf(id, r.value(id)));
                }
                keys.children.push(key);
                done.changes.extend(changes);
            }
            Err(errors) => {
                failure = Some(errors);
                break;
            }
        }
    }
    let count = keys.children.len();
    done.data = Some(keys.with_attr("count", count.to_string()));
    match failure {
        None => Ok(done),
        Some(errors) => Err(Failure {
            errors,
            partial: Box::new(done),
        }),
    }
}

/// A record written: its object, RECORDNO and the change to announce.
type Written = (&'static ObjectDef, u64, Vec<Change>);

fn create_one(env: &mut Env<'_>, record: &Element) -> Result<Written, Vec<ErrorEntry>> {
    let def = schema::object(&record.name).ok_or_else(|| {
        vec![business(format!(
            "Could not create {} record: object definition not found",
            record.name
        ))]
    })?;
    if !def.writes.create {
        let hint = match def.name {
            "ARINVOICE" => "; use create_invoice",
            "SODOCUMENT" => "; use create_sotransaction",
            _ => "",
        };
        return Err(vec![business(format!(
            "create is not supported for {}{hint}",
            def.name
        ))]);
    }
    let mut el = check_fields(def, record, true).map_err(|e| vec![e])?;
    let owner = if def.entity_owned {
        env.ctx.entity.clone()
    } else {
        None
    };
    match def.name {
        "ARPYMT" => {
            let payment = payment_from_record(&el).map_err(|e| vec![e])?;
            return receivable::create_payment(env.company, env.ctx, payment)
                .map(|(no, changes)| (def, no, changes));
        }
        "CUSTOMER" => prepare_customer(env.company, def, &mut el)?,
        "GLACCOUNT" => {
            let no = el.value("ACCOUNTNO").to_owned();
            if env.company.find("GLACCOUNT", "ACCOUNTNO", &no).is_some() {
                return Err(vec![
                    business("Duplicate account number")
                        .correction("Enter unique account number")
                        .described(""),
                    business("Could not create GL Account record."),
                ]);
            }
        }
        _ => {
            if let Some(id) = def.id_field {
                let value = el.value(id).to_owned();
                if env.company.find(def.name, id, &value).is_some() {
                    return Err(duplicate(def, &value));
                }
            }
        }
    }
    if def.field("STATUS").is_some() && el.non_empty("STATUS").is_none() {
        el.set("STATUS", "active");
    }
    let recordno = env.company.insert(def.name, owner, el, env.ctx);
    let changes = env
        .company
        .change(def.name, ChangeKind::Add, recordno)
        .into_iter()
        .collect();
    Ok((def, recordno, changes))
}

/// A generic `<ARPYMT>` as a payment: ARPYMTDETAILS/ARPYMTDETAIL name the invoices
/// (RECORDKEY), optionally their lines (ENTRYKEY), and the amounts (TRX_PAYMENTAMOUNT).
fn payment_from_record(el: &Element) -> Result<receivable::NewPayment, ErrorEntry> {
    let mut applications = Vec::new();
    for d in el
        .child("ARPYMTDETAILS")
        .map(|d| d.children.as_slice())
        .unwrap_or(&[])
    {
        let key = d.value("RECORDKEY").parse::<u64>().map_err(|_| {
            business(format!(
                "Invalid RECORDKEY '{}' in ARPYMTDETAIL",
                d.value("RECORDKEY")
            ))
        })?;
        let entry = match d.non_empty("ENTRYKEY") {
            Some(e) => Some(
                e.parse::<u64>()
                    .map_err(|_| business(format!("Invalid ENTRYKEY '{e}' in ARPYMTDETAIL")))?,
            ),
            None => None,
        };
        let amount = receivable::parse_amount(d.value("TRX_PAYMENTAMOUNT"), "TRX_PAYMENTAMOUNT")?;
        applications.push((key, entry, amount));
    }
    let text = |f: &str| el.non_empty(f).map(str::to_owned);
    Ok(receivable::NewPayment {
        customer_id: el.value("CUSTOMERID").to_owned(),
        method: el.value("PAYMENTMETHOD").to_owned(),
        financial_entity: text("FINANCIALENTITY"),
        doc_number: text("DOCNUMBER"),
        description: text("DESCRIPTION"),
        receipt_date: receivable::date(el.value("RECEIPTDATE")),
        payment_date: receivable::date(el.value("PAYMENTDATE")),
        currency: text("CURRENCY"),
        amount: None,
        applications,
    })
}

fn prepare_customer(
    company: &Company,
    def: &ObjectDef,
    el: &mut Element,
) -> Result<(), Vec<ErrorEntry>> {
    let id = match el.non_empty("CUSTOMERID") {
        Some(id) => id.to_owned(),
        None => {
            // Document sequencing: the next free CUST-nnnnn.
            let mut n = company.count("CUSTOMER") + 1;
            while company
                .find("CUSTOMER", "CUSTOMERID", &format!("CUST-{n:05}"))
                .is_some()
            {
                n += 1;
            }
            let id = format!("CUST-{n:05}");
            el.set("CUSTOMERID", &id);
            id
        }
    };
    if company.find("CUSTOMER", "CUSTOMERID", &id).is_some() {
        return Err(duplicate(def, &id));
    }
    // The company prints a customer under its NAME when no print-as name is given: the
    // official SDKs send an empty <PRINTAS/> (or no DISPLAYCONTACT at all) in that case.
    let name = el.value("NAME").trim().to_owned();
    match el.child_mut("DISPLAYCONTACT") {
        Some(dc) if dc.non_empty("PRINTAS").is_none() => dc.set("PRINTAS", name),
        Some(_) => {}
        None => el
            .children
            .push(Element::new("DISPLAYCONTACT").with_child(Element::leaf("PRINTAS", name))),
    }
    if let Some(dc) = el.child_mut("DISPLAYCONTACT")
        && dc.non_empty("CONTACTNAME").is_none()
    {
        let name = format!("{}({id})", dc.value("PRINTAS"));
        dc.children.insert(0, Element::leaf("CONTACTNAME", name));
    }
    check_reference(company, el, "TERMNAME", "ARTERM", "NAME")?;
    check_reference(company, el, "CURRENCY", "TRXCURRENCIES", "CODE")?;
    for (field, default) in [("ONHOLD", "false"), ("TOTALDUE", "0.00")] {
        if el.non_empty(field).is_none() {
            el.set(field, default);
        }
    }
    Ok(())
}

fn check_reference(
    company: &Company,
    el: &Element,
    field: &str,
    object: &str,
    key: &str,
) -> Result<(), Vec<ErrorEntry>> {
    match el.non_empty(field) {
        Some(v) if company.find(object, key, v).is_none() => Err(vec![business(format!(
            "Invalid {field} '{v}': no {object} with {key} {v}"
        ))]),
        _ => Ok(()),
    }
}

/// Merges `incoming` into `stored`: sent leaves replace (empty clears), blocks merge.
/// A block sent empty (`<DISPLAYCONTACT/>`, which the SDKs' updates always write) changes
/// nothing in a stored block.
fn merge(stored: &mut Element, incoming: &Element) {
    for child in &incoming.children {
        match stored.child_mut(&child.name) {
            Some(existing) if !existing.children.is_empty() && !child.children.is_empty() => {
                merge(existing, child)
            }
            Some(existing) if !existing.children.is_empty() && child.text.trim().is_empty() => {}
            _ => stored.replace_child(child.clone()),
        }
    }
}

/// `<update>`: each child names a record by RECORDNO or its id field.
pub(super) fn update(env: &mut Env<'_>, body: &Element) -> FnResult {
    write_each(env, body, update_one)
}

fn update_one(env: &mut Env<'_>, record: &Element) -> Result<Written, Vec<ErrorEntry>> {
    let def = schema::object(&record.name).ok_or_else(|| {
        vec![business(format!(
            "Object definition {} not found",
            record.name
        ))]
    })?;
    if !def.writes.update {
        return Err(vec![business(format!(
            "update is not supported for {}",
            def.name
        ))]);
    }
    let el = check_fields(def, record, false).map_err(|e| vec![e])?;
    let entity = env.ctx.entity.as_deref();
    let (key_field, key) = match (
        el.non_empty("RECORDNO"),
        def.id_field.and_then(|f| el.non_empty(f).map(|v| (f, v))),
    ) {
        (Some(no), _) => ("RECORDNO", no.to_owned()),
        (None, Some((f, v))) => (f, v.to_owned()),
        (None, None) => {
            return Err(vec![business(format!(
                "Cannot update {}: send RECORDNO{}",
                def.name,
                def.id_field.map(|f| format!(" or {f}")).unwrap_or_default()
            ))]);
        }
    };
    let recordno = env
        .company
        .rows(def.name)
        .find(|(_, r)| r.value(key_field) == key && Company::visible(r, entity, false))
        .map(|(no, _)| no)
        .ok_or_else(|| {
            vec![business(format!(
                "Cannot update non-existing {} with {key_field}={key}.",
                def.name
            ))]
        })?;
    if key_field == "RECORDNO"
        && let Some(id_field) = def.id_field
        && let Some(new_id) = el.non_empty(id_field)
        && env
            .company
            .get(def.name, recordno)
            .is_some_and(|r| r.value(id_field) != new_id)
    {
        return Err(vec![business(format!("{id_field} cannot be changed"))]);
    }
    if def.name == "CUSTOMER" {
        check_reference(env.company, &el, "TERMNAME", "ARTERM", "NAME")?;
        check_reference(env.company, &el, "CURRENCY", "TRXCURRENCIES", "CODE")?;
    }
    let mut changes = el;
    changes.remove("RECORDNO");
    let mut unchanged = false;
    if let Some(stored) = env.company.get_mut(def.name, recordno) {
        let before = stored.el.clone();
        merge(&mut stored.el, &changes);
        unchanged = stored.el == before;
    }
    if unchanged {
        *env.company.unchanged_updates.entry(def.name).or_default() += 1;
    }
    env.company.touch(def.name, recordno, env.ctx);
    let changes = env
        .company
        .change(def.name, ChangeKind::Set, recordno)
        .into_iter()
        .collect();
    Ok((def, recordno, changes))
}

/// `<delete><object>…</object><keys>RECORDNO,…</keys></delete>`.
pub(super) fn delete(env: &mut Env<'_>, body: &Element) -> FnResult {
    let def = schema::object(body.value("object")).ok_or_else(|| {
        business(format!(
            "Object definition {} not found",
            body.value("object")
        ))
    })?;
    if !def.writes.delete {
        return Err(business(format!("delete is not supported for {}", def.name)).into());
    }
    let mut done = Outcome::default();
    for key in body
        .value("keys")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        let found = key.parse::<u64>().ok().filter(|no| {
            env.company
                .get(def.name, *no)
                .is_some_and(|r| Company::visible(r, env.ctx.entity.as_deref(), false))
        });
        let Some(recordno) = found else {
            return Err(Failure {
                errors: vec![business(format!(
                    "Cannot find {} with key '{key}' to delete.",
                    def.name.to_ascii_lowercase()
                ))],
                partial: Box::new(done),
            });
        };
        let removed = match def.name {
            "CUSTOMER" => receivable::delete_customer(env.company, recordno),
            "ARINVOICE" => receivable::delete_invoice(env.company, recordno),
            _ => env
                .company
                .remove(def.name, recordno)
                .ok_or_else(|| business("vanished")),
        };
        match removed {
            Ok(record) => {
                done.billable += 1;
                done.changes.push(Change {
                    object: def.name,
                    kind: ChangeKind::Delete,
                    record,
                });
            }
            Err(e) => {
                return Err(Failure {
                    errors: vec![e],
                    partial: Box::new(done),
                });
            }
        }
    }
    Ok(done)
}

/// `<read>` by RECORDNO, or `<readByName>` by the id field; `*` includes document lines.
pub(super) fn read(env: &mut Env<'_>, body: &Element, by_name: bool) -> FnResult {
    let def = object_named(body.text_of("object"))?;
    let fields = Fields::parse(def, body.text_of("fields"))
        .map_err(|e| ErrorEntry::new("Query Failed", e.0))?;
    let key_field = if by_name {
        def.id_field.ok_or_else(|| {
            business(format!(
                "readByName is not supported for {}: it has no name field",
                def.name
            ))
        })?
    } else {
        "RECORDNO"
    };
    let docpar = body.non_empty("docparid");
    let keys: Vec<&str> = body
        .value("keys")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    if keys.len() > 100 {
        return Err(business("read accepts at most 100 keys").into());
    }
    let entity = env.ctx.entity.as_deref();
    let reader = Reader::new(env.company, def);
    let mut data = Element::new("data").with_attr("listtype", def.name);
    let visible = |r: &crate::company::Record| {
        Company::visible(r, entity, false) && docpar.is_none_or(|d| r.value("DOCPARID") == d)
    };
    let mut push = |r: &crate::company::Record| {
        let el = match fields {
            Fields::All => reader.render_with_lines(r, def.name),
            Fields::List(_) => reader.render(r, def.name, &fields),
        };
        data.children.push(el);
    };
    if keys.is_empty() {
        for (_, r) in env
            .company
            .rows(def.name)
            .filter(|(_, r)| visible(r))
            .take(100)
        {
            push(r);
        }
    } else {
        for key in keys {
            if let Some((_, r)) = env
                .company
                .rows(def.name)
                .find(|(_, r)| r.value(key_field) == key && visible(r))
            {
                push(r);
            }
        }
    }
    let count = data.children.len();
    Ok(Outcome {
        data: Some(data.with_attr("count", count.to_string())),
        billable: 1,
        ..Outcome::default()
    })
}

/// `<lookup>`: the object's fields, types and relationships.
pub(super) fn lookup(body: &Element) -> FnResult {
    let def = object_named(body.text_of("object"))?;
    let mut fields = Element::new("Fields");
    for f in def.fields {
        fields.children.push(
            Element::new("Field")
                .with_child(Element::leaf("ID", f.name))
                .with_child(Element::leaf("LABEL", f.name))
                .with_child(Element::leaf("DESCRIPTION", ""))
                .with_child(Element::leaf(
                    "REQUIRED",
                    (f.access == Access::Required).to_string(),
                ))
                .with_child(Element::leaf(
                    "READONLY",
                    (f.access == Access::ReadOnly).to_string(),
                ))
                .with_child(Element::leaf("DATATYPE", f.ty.lookup_name()))
                .with_child(Element::leaf("ISCUSTOM", f.custom.to_string())),
        );
    }
    let mut relationships = Element::new("Relationships");
    for r in def.relations {
        relationships.children.push(
            Element::new("Relationship")
                .with_child(Element::leaf("OBJECTPATH", r.prefix))
                .with_child(Element::leaf("OBJECTNAME", r.object))
                .with_child(Element::leaf("RELATIONSHIPTYPE", "MANY2ONE"))
                .with_child(Element::leaf("RELATEDBY", r.local)),
        );
    }
    let ty = Element::new("Type")
        .with_attr("Name", def.name)
        .with_attr("DocumentType", "")
        .with_child(fields)
        .with_child(relationships);
    Ok(Outcome {
        data: Some(
            Element::new("data")
                .with_attr("listtype", "All")
                .with_attr("count", "1")
                .with_child(ty),
        ),
        ..Outcome::default()
    })
}
