//! The data sets a company starts with. Everything is derived from the start time alone, so
//! the same clock gives the same company (record numbers, amounts, dates, states).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;

use crate::company::{Company, Ctx, Entity, format_date};
use crate::element::Element;
use crate::receivable::{self, NewInvoice, NewLine, NewPayment, Revrec};
use crate::sandbox::DataSet;

/// The user seeded records are stamped with.
const SEED_USER: &str = "Admin";

/// The second exchange rate type: the euro entity's.
const ECB_RATE_TYPE: &str = "ECB Reference";

/// How many months back the seeded rates reach (one entry a month, plus this month's).
const RATE_MONTHS: u32 = 12;

/// The entities and their base currencies; the top level reports in USD. `EDU` is a business
/// unit rather than a country: education customers of every region are booked there.
pub(crate) fn entities() -> Vec<Entity> {
    [
        ("US", "US Operations", "USD"),
        ("UK", "UK Ltd", "GBP"),
        ("DE", "DE GmbH", "EUR"),
        ("EDU", "Education", "USD"),
    ]
    .into_iter()
    .map(|(id, name, currency)| Entity {
        id: id.into(),
        name: name.into(),
        currency: currency.into(),
    })
    .collect()
}

fn record(object: &str, fields: &[(&str, &str)]) -> Element {
    let mut el = Element::new(object);
    for (k, v) in fields {
        el.children.push(Element::leaf(*k, *v));
    }
    el
}

fn at(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(9, 0, 0)
        .map_or_else(Utc::now, |t| t.and_utc())
}

fn ctx(entity: Option<&str>, now: DateTime<Utc>) -> Ctx {
    Ctx {
        entity: entity.map(str::to_owned),
        user: SEED_USER.into(),
        now,
    }
}

/// A new company with `data`, as of `now`.
pub(crate) fn company(data: DataSet, now: DateTime<Utc>) -> Company {
    let mut c = Company::new(entities(), "USD");
    structure(&mut c, now);
    if data == DataSet::Demo {
        demo(&mut c, now);
    }
    c
}

fn structure(c: &mut Company, now: DateTime<Utc>) {
    let long_ago = now - Duration::days(400);
    let setup = ctx(None, long_ago);
    for e in entities() {
        c.insert(
            "LOCATIONENTITY",
            None,
            record(
                "LOCATIONENTITY",
                &[
                    ("LOCATIONID", &e.id),
                    ("NAME", &e.name),
                    ("CURRENCY", &e.currency),
                    (
                        "COUNTRY",
                        match e.id.as_str() {
                            "UK" => "United Kingdom",
                            "DE" => "Germany",
                            _ => "United States",
                        },
                    ),
                    ("STATUS", "active"),
                ],
            ),
            &setup,
        );
    }
    for (code, name, symbol) in [
        ("USD", "US Dollar", "$"),
        ("GBP", "Pound Sterling", "£"),
        ("EUR", "Euro", "€"),
        ("CAD", "Canadian Dollar", "C$"),
    ] {
        c.insert(
            "TRXCURRENCIES",
            None,
            record(
                "TRXCURRENCIES",
                &[("CODE", code), ("FULLNAME", name), ("SYMBOL", symbol)],
            ),
            &setup,
        );
    }
    for (name, default) in [
        (receivable::DEFAULT_RATE_TYPE, "true"),
        (ECB_RATE_TYPE, "false"),
    ] {
        c.insert(
            "EXCHANGERATETYPES",
            None,
            record(
                "EXCHANGERATETYPES",
                &[("NAME", name), ("ISDEFAULT", default)],
            ),
            &setup,
        );
    }
    // One entry on the first of each month for the last twelve months and this one, moving
    // evenly from the old rate to the recent one, so a document converts at its own month's
    // rate and one dated before the first entry has none.
    let this_month = now.date_naive().with_day(1).unwrap_or(now.date_naive());
    let months: Vec<NaiveDate> = (0..=RATE_MONTHS)
        .rev()
        .filter_map(|back| this_month.checked_sub_months(chrono::Months::new(back)))
        .collect();
    for (from, to, old, recent, rate_type) in [
        (
            "GBP",
            "USD",
            "1.2700",
            "1.2650",
            receivable::DEFAULT_RATE_TYPE,
        ),
        (
            "EUR",
            "USD",
            "1.0800",
            "1.0850",
            receivable::DEFAULT_RATE_TYPE,
        ),
        (
            "EUR",
            "GBP",
            "0.8500",
            "0.8580",
            receivable::DEFAULT_RATE_TYPE,
        ),
        (
            "CAD",
            "USD",
            "0.7400",
            "0.7350",
            receivable::DEFAULT_RATE_TYPE,
        ),
        // The euro entity converts at the ECB reference rates.
        ("EUR", "USD", "1.0790", "1.0840", ECB_RATE_TYPE),
        ("EUR", "GBP", "0.8490", "0.8570", ECB_RATE_TYPE),
    ] {
        let rate = c.insert(
            "EXCHANGERATE",
            None,
            record(
                "EXCHANGERATE",
                &[
                    ("FROM_CURRENCY", from),
                    ("TO_CURRENCY", to),
                    ("TYPENAME", rate_type),
                ],
            ),
            &setup,
        );
        let (old, recent) = (
            old.parse::<Decimal>().unwrap_or_default(),
            recent.parse::<Decimal>().unwrap_or_default(),
        );
        for (m, day) in months.iter().enumerate() {
            let r =
                (old + (recent - old) * Decimal::from(m) / Decimal::from(RATE_MONTHS)).round_dp(4);
            let recip = Some(r)
                .filter(|d| !d.is_zero())
                .map(|d| (Decimal::ONE / d).round_dp(6).to_string())
                .unwrap_or_default();
            let (date, r) = (format_date(*day), r.to_string());
            c.insert(
                "EXCHANGERATEENTRY",
                None,
                record(
                    "EXCHANGERATEENTRY",
                    &[
                        ("EXCHANGERATEID", &rate.to_string()),
                        ("EFFECTIVE_START_DATE", &date),
                        ("RATE", &r),
                        ("RECIP_RATE", &recip),
                    ],
                ),
                &setup,
            );
        }
    }
    for (name, days) in [
        ("Net 30", "30"),
        ("Net 15", "15"),
        ("Net 45", "45"),
        ("Net 60", "60"),
        ("Due on Receipt", "0"),
    ] {
        c.insert(
            "ARTERM",
            None,
            record(
                "ARTERM",
                &[
                    ("NAME", name),
                    ("DESCRIPTION", name),
                    ("STATUS", "active"),
                    ("DUEDATE", days),
                    ("DUEFROM", "from invoice date"),
                ],
            ),
            &setup,
        );
    }
    for (no, title, ty, normal) in [
        ("1000", "Cash", "balancesheet", "debit"),
        ("1100", "Accounts Receivable", "balancesheet", "debit"),
        ("2100", "Deferred Revenue", "balancesheet", "credit"),
        (
            "4000",
            "Revenue - Subscriptions",
            "incomestatement",
            "credit",
        ),
        ("4100", "Revenue - Services", "incomestatement", "credit"),
        ("4200", "Revenue - Hardware", "incomestatement", "credit"),
    ] {
        c.insert(
            "GLACCOUNT",
            None,
            record(
                "GLACCOUNT",
                &[
                    ("ACCOUNTNO", no),
                    ("TITLE", title),
                    ("ACCOUNTTYPE", ty),
                    ("NORMALBALANCE", normal),
                    (
                        "CLOSINGTYPE",
                        if ty == "balancesheet" {
                            "non-closing account"
                        } else {
                            "closing account"
                        },
                    ),
                    ("STATUS", "active"),
                ],
            ),
            &setup,
        );
    }
    reference_data(c, &setup);
}

/// Dimensions, tax set-up and revenue recognition templates the shipped mapping specs name
/// (infra/mappings/library): department and class per entity, a contact tax group per entity,
/// the tax solutions, and the templates of the revenue lookup.
fn reference_data(c: &mut Company, setup: &Ctx) {
    let rows: [(&str, &[(&str, &str)]); 17] = [
        (
            "DEPARTMENT",
            &[
                ("DEPARTMENTID", "SALES-US"),
                ("TITLE", "Sales - United States"),
            ],
        ),
        (
            "DEPARTMENT",
            &[
                ("DEPARTMENTID", "SALES-UK"),
                ("TITLE", "Sales - United Kingdom"),
            ],
        ),
        (
            "DEPARTMENT",
            &[("DEPARTMENTID", "SALES-EU"), ("TITLE", "Sales - Europe")],
        ),
        (
            "DEPARTMENT",
            &[("DEPARTMENTID", "EDUCATION"), ("TITLE", "Education")],
        ),
        ("CLASS", &[("CLASSID", "NA"), ("NAME", "North America")]),
        (
            "CLASS",
            &[
                ("CLASSID", "EMEA"),
                ("NAME", "Europe, Middle East and Africa"),
            ],
        ),
        ("CLASS", &[("CLASSID", "EDU"), ("NAME", "Education")]),
        (
            "TAXGROUP",
            &[
                ("NAME", "US-STANDARD"),
                ("GROUPTYPE", "Contact"),
                ("DESCRIPTION", "US sales tax, calculated by AvaTax"),
            ],
        ),
        (
            "TAXGROUP",
            &[
                ("NAME", "US-EXEMPT-EDU"),
                ("GROUPTYPE", "Contact"),
                ("DESCRIPTION", "Tax-exempt educational institutions"),
            ],
        ),
        (
            "TAXGROUP",
            &[
                ("NAME", "UK-VAT-STD"),
                ("GROUPTYPE", "Contact"),
                ("DESCRIPTION", "UK VAT, standard rate"),
            ],
        ),
        (
            "TAXGROUP",
            &[
                ("NAME", "EU-VAT-STD"),
                ("GROUPTYPE", "Contact"),
                ("DESCRIPTION", "EU VAT, standard rate"),
            ],
        ),
        (
            "TAXSOLUTION",
            &[
                ("SOLUTIONID", "AvaTax"),
                ("DESCRIPTION", "Avalara AvaTax"),
                ("TYPE", "Sales tax"),
            ],
        ),
        (
            "TAXSOLUTION",
            &[
                ("SOLUTIONID", "UK VAT"),
                ("DESCRIPTION", "United Kingdom VAT"),
                ("TYPE", "VAT"),
            ],
        ),
        (
            "TAXSOLUTION",
            &[
                ("SOLUTIONID", "EU VAT"),
                ("DESCRIPTION", "European Union VAT"),
                ("TYPE", "VAT"),
            ],
        ),
        (
            "REVRECTEMPLATE",
            &[
                ("TEMPLATEID", "Monthly straight line"),
                ("DESCRIPTION", "Evenly over the service period, monthly"),
                ("RECMETHOD", "Straight line"),
            ],
        ),
        (
            "REVRECTEMPLATE",
            &[
                ("TEMPLATEID", "On delivery"),
                ("DESCRIPTION", "When the service is delivered"),
                ("RECMETHOD", "Straight line"),
            ],
        ),
        (
            "REVRECTEMPLATE",
            &[
                ("TEMPLATEID", "On invoice"),
                ("DESCRIPTION", "When invoiced"),
                ("RECMETHOD", "Straight line"),
            ],
        ),
    ];
    for (object, fields) in rows {
        let mut el = record(object, fields);
        el.children.push(Element::leaf("STATUS", "active"));
        c.insert(object, None, el, setup);
    }
}

/// An 18-character Salesforce Account id of the demo org, `001LF00000000nn` + checksum.
pub(crate) fn demo_account_id(n: u32) -> String {
    let short = format!("001LF{n:010}");
    lf_domain::SalesforceId::parse(&short)
        .map(|id| id.as_str().to_owned())
        .unwrap_or(short)
}

struct DemoCustomer {
    id: &'static str,
    name: &'static str,
    entity: Option<&'static str>,
    currency: &'static str,
    term: &'static str,
    credit_limit: &'static str,
    on_hold: bool,
    email: &'static str,
    city: &'static str,
    country: &'static str,
    sfdc: Option<u32>,
}

const CUSTOMERS: [DemoCustomer; 10] = [
    DemoCustomer {
        id: "C-0001",
        name: "Northwind Holdings",
        entity: None,
        currency: "USD",
        term: "Net 30",
        credit_limit: "100000",
        on_hold: false,
        email: "ap@northwind.example",
        city: "Seattle",
        country: "United States",
        sfdc: Some(1),
    },
    DemoCustomer {
        id: "C-1001",
        name: "Acme Manufacturing",
        entity: Some("US"),
        currency: "USD",
        term: "Net 30",
        credit_limit: "50000",
        on_hold: false,
        email: "billing@acme.example",
        city: "Chicago",
        country: "United States",
        sfdc: Some(2),
    },
    DemoCustomer {
        id: "C-1002",
        name: "Globex Retail",
        entity: Some("US"),
        currency: "USD",
        term: "Net 30",
        credit_limit: "20000",
        on_hold: false,
        email: "finance@globex.example",
        city: "Austin",
        country: "United States",
        sfdc: Some(3),
    },
    DemoCustomer {
        id: "C-1003",
        name: "Initech Software",
        entity: Some("US"),
        currency: "USD",
        term: "Net 15",
        credit_limit: "10000",
        on_hold: true,
        email: "ar@initech.example",
        city: "Denver",
        country: "United States",
        sfdc: Some(4),
    },
    DemoCustomer {
        id: "C-1004",
        name: "Umbrella Health",
        entity: Some("US"),
        currency: "USD",
        term: "Net 60",
        credit_limit: "75000",
        on_hold: false,
        email: "payables@umbrella.example",
        city: "Boston",
        country: "United States",
        sfdc: None,
    },
    DemoCustomer {
        id: "C-2001",
        name: "Oakwood Analytics Ltd",
        entity: Some("UK"),
        currency: "GBP",
        term: "Net 30",
        credit_limit: "40000",
        on_hold: false,
        email: "accounts@oakwood.example",
        city: "London",
        country: "United Kingdom",
        sfdc: Some(5),
    },
    DemoCustomer {
        id: "C-2002",
        name: "Thames Logistics plc",
        entity: Some("UK"),
        currency: "GBP",
        term: "Net 30",
        credit_limit: "15000",
        on_hold: false,
        email: "ap@thames.example",
        city: "Reading",
        country: "United Kingdom",
        sfdc: None,
    },
    DemoCustomer {
        id: "C-3001",
        name: "Rhein Digital GmbH",
        entity: Some("DE"),
        currency: "EUR",
        term: "Net 30",
        credit_limit: "60000",
        on_hold: false,
        email: "buchhaltung@rhein.example",
        city: "Köln",
        country: "Germany",
        sfdc: Some(6),
    },
    DemoCustomer {
        id: "C-3002",
        name: "Bergmann Maschinenbau AG",
        entity: Some("DE"),
        currency: "EUR",
        term: "Net 30",
        credit_limit: "25000",
        on_hold: false,
        email: "rechnung@bergmann.example",
        city: "Stuttgart",
        country: "Germany",
        sfdc: None,
    },
    DemoCustomer {
        id: "C-4001",
        name: "Lakeside Academy",
        entity: Some("EDU"),
        currency: "USD",
        term: "Net 60",
        credit_limit: "30000",
        on_hold: false,
        email: "bursar@lakeside.example",
        city: "Manchester",
        country: "United Kingdom",
        sfdc: Some(7),
    },
];

fn customer_element(c: &DemoCustomer, sfdc: &str) -> Element {
    let contact = Element::new("DISPLAYCONTACT")
        .with_child(Element::leaf(
            "CONTACTNAME",
            format!("{}({})", c.name, c.id),
        ))
        .with_child(Element::leaf("PRINTAS", c.name))
        .with_child(Element::leaf("COMPANYNAME", c.name))
        .with_child(Element::leaf("EMAIL1", c.email))
        .with_child(
            Element::new("MAILADDRESS")
                .with_child(Element::leaf("CITY", c.city))
                .with_child(Element::leaf("COUNTRY", c.country)),
        );
    let mut el = record(
        "CUSTOMER",
        &[
            ("CUSTOMERID", c.id),
            ("NAME", c.name),
            ("STATUS", "active"),
            ("TERMNAME", c.term),
            ("CREDITLIMIT", c.credit_limit),
            ("TOTALDUE", "0.00"),
            ("ONHOLD", if c.on_hold { "true" } else { "false" }),
            ("CURRENCY", c.currency),
            ("SFDC_ACCOUNT_ID", sfdc),
        ],
    );
    el.children.insert(2, contact);
    el
}

#[allow(clippy::too_many_lines)]
fn demo(c: &mut Company, now: DateTime<Utc>) {
    let today = now.date_naive();
    let setup = ctx(None, now - Duration::days(380));
    for (id, name, ty, price, gl) in [
        (
            "SUB-PLAT",
            "Platform subscription (annual)",
            "Non-Inventory",
            "12000.00",
            "4000",
        ),
        (
            "SUB-SEAT",
            "Additional seat (annual)",
            "Non-Inventory",
            "240.00",
            "4000",
        ),
        (
            "SVC-ONB",
            "Onboarding services",
            "Non-Inventory (Sales only)",
            "5000.00",
            "4100",
        ),
        (
            "SVC-TRN",
            "Training day",
            "Non-Inventory (Sales only)",
            "1500.00",
            "4100",
        ),
        ("HW-GW", "Gateway appliance", "Inventory", "899.00", "4200"),
        (
            "EDU-SEAT",
            "Student seat (annual)",
            "Non-Inventory",
            "48.00",
            "4000",
        ),
    ] {
        c.insert(
            "ITEM",
            None,
            record(
                "ITEM",
                &[
                    ("ITEMID", id),
                    ("NAME", name),
                    ("ITEMTYPE", ty),
                    ("STATUS", "active"),
                    ("BASEPRICE", price),
                    ("TAXABLE", "false"),
                    ("GLACCOUNTNO", gl),
                ],
            ),
            &setup,
        );
    }
    for cust in &CUSTOMERS {
        let sfdc = cust.sfdc.map(demo_account_id).unwrap_or_default();
        let owner = cust.entity.map(str::to_owned);
        c.insert(
            "CUSTOMER",
            owner,
            customer_element(cust, &sfdc),
            &ctx(cust.entity, now - Duration::days(370)),
        );
    }
    for (name, first, last, email, entity) in [
        (
            "Ada Moreno",
            "Ada",
            "Moreno",
            "ada.moreno@acme.example",
            Some("US"),
        ),
        (
            "Ben Okafor",
            "Ben",
            "Okafor",
            "ben.okafor@globex.example",
            Some("US"),
        ),
        (
            "Clara Hughes",
            "Clara",
            "Hughes",
            "clara.hughes@oakwood.example",
            Some("UK"),
        ),
        (
            "Dieter Wolf",
            "Dieter",
            "Wolf",
            "dieter.wolf@rhein.example",
            Some("DE"),
        ),
    ] {
        let el = record(
            "CONTACT",
            &[
                ("CONTACTNAME", name),
                ("PRINTAS", name),
                ("FIRSTNAME", first),
                ("LASTNAME", last),
                ("EMAIL1", email),
                ("STATUS", "active"),
                ("SFDC_CONTACT_ID", ""),
            ],
        );
        c.insert(
            "CONTACT",
            entity.map(str::to_owned),
            el,
            &ctx(entity, now - Duration::days(360)),
        );
    }

    let month_start = today.with_day(1).unwrap_or(today);
    let months_back = |n: u32| {
        month_start
            .checked_sub_months(chrono::Months::new(n))
            .unwrap_or(month_start)
    };
    let year_from = |d: NaiveDate| {
        d.checked_add_months(chrono::Months::new(12))
            .and_then(|e| e.pred_opt())
            .unwrap_or(d)
    };
    struct Inv {
        no: &'static str,
        customer: &'static str,
        entity: &'static str,
        days_ago: i64,
        term: &'static str,
        lines: Vec<(&'static str, &'static str, &'static str, Option<NaiveDate>)>,
        paid: Option<(&'static str, i64)>,
    }
    let invoices = vec![
        // A year's subscription recognized monthly from three months back: three periods posted.
        Inv {
            no: "INV-10001",
            customer: "C-1001",
            entity: "US",
            days_ago: 20,
            term: "Net 30",
            lines: vec![
                ("SUB-PLAT", "4000", "12000.00", Some(months_back(3))),
                ("SVC-ONB", "4100", "5000.00", None),
            ],
            paid: None,
        },
        Inv {
            no: "INV-10002",
            customer: "C-1001",
            entity: "US",
            days_ago: 75,
            term: "Net 30",
            lines: vec![("SVC-TRN", "4100", "3000.00", None)],
            paid: Some(("3000.00", 50)),
        },
        Inv {
            no: "INV-10003",
            customer: "C-1002",
            entity: "US",
            days_ago: 60,
            term: "Net 30",
            lines: vec![("HW-GW", "4200", "4500.00", None)],
            paid: None,
        },
        Inv {
            no: "INV-10004",
            customer: "C-1002",
            entity: "US",
            days_ago: 40,
            term: "Net 30",
            lines: vec![("SVC-ONB", "4100", "6000.00", None)],
            paid: Some(("2000.00", 12)),
        },
        Inv {
            no: "INV-10005",
            customer: "C-1003",
            entity: "US",
            days_ago: 120,
            term: "Net 15",
            lines: vec![("SUB-PLAT", "4000", "9800.00", None)],
            paid: None,
        },
        Inv {
            no: "INV-10006",
            customer: "C-0001",
            entity: "US",
            days_ago: 15,
            term: "Net 30",
            lines: vec![("SVC-TRN", "4100", "1800.00", None)],
            paid: None,
        },
        Inv {
            no: "INV-20001",
            customer: "C-2001",
            entity: "UK",
            days_ago: 10,
            term: "Net 30",
            lines: vec![("SUB-PLAT", "4000", "3600.00", Some(months_back(1)))],
            paid: None,
        },
        Inv {
            no: "INV-20002",
            customer: "C-2002",
            entity: "UK",
            days_ago: 45,
            term: "Net 30",
            lines: vec![("SVC-TRN", "4100", "1200.00", None)],
            paid: Some(("1200.00", 20)),
        },
        Inv {
            no: "INV-30001",
            customer: "C-3001",
            entity: "DE",
            days_ago: 5,
            term: "Net 30",
            lines: vec![("SUB-PLAT", "4000", "7200.00", Some(months_back(2)))],
            paid: None,
        },
        Inv {
            no: "INV-30002",
            customer: "C-3002",
            entity: "DE",
            days_ago: 50,
            term: "Net 30",
            lines: vec![("HW-GW", "4200", "2500.00", None)],
            paid: None,
        },
    ];
    for inv in invoices {
        let date = today - Duration::days(inv.days_ago);
        let doc_ctx = ctx(Some(inv.entity), at(date));
        let new = NewInvoice {
            customer_id: inv.customer.into(),
            date: Some(date),
            term: Some(inv.term.into()),
            invoice_no: Some(inv.no.into()),
            description: Some(format!("Demo invoice {}", inv.no)),
            module_key: "4.AR",
            lines: inv
                .lines
                .iter()
                .map(|(item, gl, amount, revrec)| NewLine {
                    account: Some((*gl).into()),
                    amount: amount.parse().unwrap_or_default(),
                    item: Some((*item).into()),
                    revrec: revrec.map(|start| Revrec {
                        template: "Monthly straight line".into(),
                        start,
                        end: year_from(start),
                    }),
                    ..NewLine::default()
                })
                .collect(),
            ..NewInvoice::default()
        };
        let recordno = match receivable::create_invoice(c, &doc_ctx, new) {
            Ok(no) => no,
            Err(e) => {
                tracing::error!(invoice = inv.no, errors = ?e, "demo invoice not seeded");
                continue;
            }
        };
        if let Some((amount, paid_days_ago)) = inv.paid {
            let on = today - Duration::days(paid_days_ago);
            let payment = NewPayment {
                customer_id: inv.customer.into(),
                method: "EFT".into(),
                financial_entity: Some("BANK-OPS".into()),
                doc_number: Some(format!("PAY-{}", inv.no)),
                receipt_date: Some(on),
                applications: vec![(recordno, None, amount.parse().unwrap_or_default())],
                ..NewPayment::default()
            };
            if let Err(e) = receivable::create_payment(c, &ctx(Some(inv.entity), at(on)), payment) {
                tracing::error!(invoice = inv.no, errors = ?e, "demo payment not seeded");
            }
        }
    }
    // A Sales Order waiting to be invoiced.
    let so_day = today - Duration::days(3);
    let mut so = record(
        "SODOCUMENT",
        &[
            ("DOCID", "Sales Order-SO-00001"),
            ("DOCNO", "SO-00001"),
            ("DOCPARID", "Sales Order"),
            ("STATE", "Pending"),
            ("CUSTVENDID", "C-1004"),
            ("CUSTVENDNAME", "Umbrella Health"),
            ("WHENDUE", &format_date(so_day + Duration::days(60))),
            ("TERMNAME", "Net 60"),
            ("CURRENCY", "USD"),
            ("BASECURR", "USD"),
            ("EXCHRATE", "1"),
            ("SUBTOTAL", "17000.00"),
            ("TOTAL", "17000.00"),
            ("TRX_SUBTOTAL", "17000.00"),
            ("TRX_TOTAL", "17000.00"),
            ("SFDC_OPPORTUNITY_ID", ""),
        ],
    );
    so.set("WHENCREATED", format_date(so_day));
    let so_ctx = ctx(Some("US"), at(so_day));
    let so_no = c.insert("SODOCUMENT", Some("US".into()), so, &so_ctx);
    for (i, (item, name, price, gl_total)) in [
        (
            "SUB-PLAT",
            "Platform subscription (annual)",
            "12000.00",
            "12000.00",
        ),
        ("SVC-ONB", "Onboarding services", "5000.00", "5000.00"),
    ]
    .into_iter()
    .enumerate()
    {
        let line = record(
            "SODOCUMENTENTRY",
            &[
                ("DOCHDRNO", &so_no.to_string()),
                ("DOCHDRID", "Sales Order-SO-00001"),
                ("LINE_NO", &(i + 1).to_string()),
                ("ITEMID", item),
                ("ITEMNAME", name),
                ("QUANTITY", "1"),
                ("UNIT", "Each"),
                ("PRICE", price),
                ("DISCOUNTPERCENT", "0"),
                ("TOTAL", gl_total),
                ("TRX_PRICE", price),
                ("TRX_TOTAL", gl_total),
                ("LOCATIONID", "US"),
            ],
        );
        c.insert("SODOCUMENTENTRY", Some("US".into()), line, &so_ctx);
    }
}

/// Adds `count` customers `BULK-nnnnn` after the highest existing one; returns their ids.
pub(crate) fn bulk_customers(
    c: &mut Company,
    count: usize,
    entity: Option<&str>,
    now: DateTime<Utc>,
) -> Vec<String> {
    let start = c
        .rows("CUSTOMER")
        .filter_map(|(_, r)| {
            r.value("CUSTOMERID")
                .strip_prefix("BULK-")?
                .parse::<usize>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    let setup = ctx(entity, now - Duration::days(1));
    (start + 1..=start + count)
        .map(|n| {
            let id = format!("BULK-{n:05}");
            let name = format!("Bulk Customer {n:05}");
            let mut el = record(
                "CUSTOMER",
                &[
                    ("CUSTOMERID", &id),
                    ("NAME", &name),
                    ("STATUS", "active"),
                    ("TOTALDUE", "0.00"),
                    ("ONHOLD", "false"),
                ],
            );
            el.children.insert(
                2,
                Element::new("DISPLAYCONTACT")
                    .with_child(Element::leaf("CONTACTNAME", format!("{name}({id})")))
                    .with_child(Element::leaf("PRINTAS", name.clone())),
            );
            c.insert("CUSTOMER", entity.map(str::to_owned), el, &setup);
            id
        })
        .collect()
}
