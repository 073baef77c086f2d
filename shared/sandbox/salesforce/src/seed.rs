//! Seeded data sets. Every record is written with fixed timestamps, so a data set has the same
//! ids and values on every run.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::DataSet;
use crate::schema::Schema;
use crate::store::{Store, Writer};

/// Seed records carry this timestamp (plus one minute per record).
fn seed_epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-11-03T09:00:00Z")
        .map(|t| t.to_utc())
        .unwrap_or_default()
}

struct Seeder<'a> {
    store: &'a mut Store,
    tick: i64,
}

impl Seeder<'_> {
    /// Runs one write with "now" fixed at the next seed minute.
    fn at_next_tick<T>(&mut self, write: impl FnOnce(&mut Store) -> T) -> T {
        self.tick += 1;
        self.store
            .freeze_time(Some(seed_epoch() + Duration::minutes(self.tick)));
        let out = write(self.store);
        self.store.freeze_time(None);
        out
    }

    fn put(&mut self, object: &str, fields: Value) -> Result<String, String> {
        let def = Schema::get()
            .object(object)
            .ok_or_else(|| format!("no object {object}"))?;
        let map = fields.as_object().cloned().unwrap_or_default();
        self.at_next_tick(|store| store.create(def, &map, Writer::System))
            .map_err(|e| format!("{object}: {e:?}"))
    }
}

/// Loads `set` into an empty store.
pub fn load(store: &mut Store, set: DataSet) -> Result<(), String> {
    let mut s = Seeder { store, tick: 0 };
    let integration = s.store.user_id.clone();
    s.put(
        "User",
        json!({"Id": integration, "Username": crate::auth::DEMO_USERNAME, "FirstName": "Integration",
               "LastName": "User", "Email": "integration@ledgerforce.sandbox", "Alias": "integ",
               "Title": "API Integration"}),
    )?;
    let standard = s.put(
        "Pricebook2",
        json!({"Name": "Standard Price Book", "IsActive": true, "IsStandard": true}),
    )?;
    if set == DataSet::Empty {
        return dated_rates(&mut s);
    }
    demo(&mut s, &standard)
}

/// The 18-character id of demo Account number `n` (`001LF` + `n` in ten digits + checksum).
/// The Intacct sandbox's demo customers carry the same ids in `SFDC_ACCOUNT_ID`
/// (`lf_sandbox_intacct::demo_account_id`); a test in shared/mapping checks that both demo data
/// sets name each other.
fn demo_account_id(n: u32) -> String {
    let short = format!("001LF{n:010}");
    lf_domain::SalesforceId::parse(&short)
        .map(|id| id.as_str().to_owned())
        .unwrap_or(short)
}

/// A demo Account. `intacct` links it to a customer of the Intacct demo company, whose
/// `SFDC_ACCOUNT_ID` is `demo_account_id(link)`.
struct DemoAccount {
    name: &'static str,
    city: &'static str,
    state: &'static str,
    country: &'static str,
    currency: &'static str,
    industry: &'static str,
    kind: &'static str,
    owner: usize,
    business_unit: &'static str,
    terms: &'static str,
    tax_id: &'static str,
    credit_limit: Option<f64>,
    intacct: Option<(&'static str, u32)>,
}

const fn account(
    name: &'static str,
    city: &'static str,
    state: &'static str,
    country: &'static str,
    currency: &'static str,
    industry: &'static str,
    owner: usize,
) -> DemoAccount {
    DemoAccount {
        name,
        city,
        state,
        country,
        currency,
        industry,
        kind: "Customer - Direct",
        owner,
        business_unit: "Commercial",
        terms: "",
        tax_id: "",
        credit_limit: None,
        intacct: None,
    }
}

/// Six linked to Intacct customers (the same names, terms and credit limits as there), six
/// not yet: what account-onboarding and opportunity-won start from.
const ACCOUNTS: [DemoAccount; 12] = [
    DemoAccount {
        terms: "Net 30",
        tax_id: "91-4000001",
        credit_limit: Some(100_000.0),
        intacct: Some(("C-0001", 1)),
        ..account(
            "Northwind Holdings",
            "Seattle",
            "WA",
            "United States",
            "USD",
            "Retail",
            0,
        )
    },
    DemoAccount {
        terms: "Net 30",
        tax_id: "36-4000002",
        credit_limit: Some(50_000.0),
        intacct: Some(("C-1001", 2)),
        ..account(
            "Acme Manufacturing",
            "Chicago",
            "IL",
            "United States",
            "USD",
            "Manufacturing",
            0,
        )
    },
    DemoAccount {
        terms: "Net 30",
        tax_id: "74-4000003",
        credit_limit: Some(20_000.0),
        intacct: Some(("C-1002", 3)),
        ..account(
            "Globex Retail",
            "Austin",
            "TX",
            "United States",
            "USD",
            "Retail",
            0,
        )
    },
    DemoAccount {
        terms: "Net 15",
        tax_id: "84-4000004",
        credit_limit: Some(10_000.0),
        intacct: Some(("C-1003", 4)),
        ..account(
            "Initech Software",
            "Denver",
            "CO",
            "United States",
            "USD",
            "Technology",
            0,
        )
    },
    DemoAccount {
        terms: "Net 30",
        tax_id: "DE 812 345 678",
        credit_limit: Some(60_000.0),
        intacct: Some(("C-3001", 6)),
        ..account(
            "Rhein Digital GmbH",
            "Köln",
            "NW",
            "Germany",
            "EUR",
            "Technology",
            1,
        )
    },
    DemoAccount {
        tax_id: "FR 40 123456789",
        ..account(
            "Lumière Retail SA",
            "Lyon",
            "",
            "France",
            "EUR",
            "Retail",
            1,
        )
    },
    DemoAccount {
        terms: "Net 45",
        kind: "Customer - Channel",
        tax_id: "DE 298 765 432",
        ..account(
            "Nordlicht Energie AG",
            "Hamburg",
            "HH",
            "Germany",
            "EUR",
            "Energy",
            1,
        )
    },
    DemoAccount {
        kind: "Prospect",
        ..account(
            "Costa Azul Turismo SL",
            "Valencia",
            "",
            "Spain",
            "EUR",
            "Transportation",
            1,
        )
    },
    DemoAccount {
        terms: "Net 30",
        tax_id: "GB 123 4567 89",
        credit_limit: Some(40_000.0),
        intacct: Some(("C-2001", 5)),
        ..account(
            "Oakwood Analytics Ltd",
            "London",
            "",
            "United Kingdom",
            "GBP",
            "Consulting",
            2,
        )
    },
    DemoAccount {
        terms: "Net 30",
        ..account(
            "Highland Distillers plc",
            "Edinburgh",
            "",
            "United Kingdom",
            "GBP",
            "Manufacturing",
            2,
        )
    },
    DemoAccount {
        terms: "Net 60",
        tax_id: "123456789RT0001",
        ..account(
            "Maple Grove Foods Inc.",
            "Toronto",
            "ON",
            "Canada",
            "CAD",
            "Agriculture",
            0,
        )
    },
    // A school in the UK, billed by the education entity in USD.
    DemoAccount {
        business_unit: "Education",
        terms: "Net 60",
        credit_limit: Some(30_000.0),
        intacct: Some(("C-4001", 7)),
        ..account(
            "Lakeside Academy",
            "Manchester",
            "",
            "United Kingdom",
            "USD",
            "Education",
            2,
        )
    },
];

/// Products: name, code (the Intacct ITEMID), family, USD list price.
const PRODUCTS: &[(&str, &str, &str, f64)] = &[
    (
        "Platform subscription (annual)",
        "SUB-PLAT",
        "Subscription",
        12000.0,
    ),
    (
        "Additional seat (annual)",
        "SUB-SEAT",
        "Subscription",
        240.0,
    ),
    ("Onboarding services", "SVC-ONB", "Services", 5000.0),
    ("Training day", "SVC-TRN", "Training", 1500.0),
    ("Gateway appliance", "HW-GW", "Hardware", 899.0),
    ("Student seat (annual)", "EDU-SEAT", "Subscription", 48.0),
];

/// Price of one USD in each currency, for the demo price book.
const RATES: &[(&str, f64)] = &[
    ("USD", 1.0),
    ("EUR", 0.92),
    ("GBP", 0.79),
    ("CAD", 1.36),
    ("AUD", 1.52),
];

/// Opportunities: account index, name suffix, stage, close date, lines (product index,
/// quantity, discount %), service date, PO number.
type Line = (usize, f64, f64);
type OpportunityRow = (
    usize,
    &'static str,
    &'static str,
    &'static str,
    &'static [Line],
    &'static str,
    &'static str,
);
const OPPORTUNITIES: &[OpportunityRow] = &[
    (
        0,
        "Platform rollout",
        "Closed Won",
        "2026-01-15",
        &[(0, 1.0, 0.0), (1, 25.0, 0.0), (2, 1.0, 0.0)],
        "2026-02-01",
        "PO-NW-1042",
    ),
    (
        0,
        "Analytics expansion",
        "Negotiation/Review",
        "2026-04-30",
        &[(1, 25.0, 10.0)],
        "2026-05-01",
        "",
    ),
    (
        1,
        "Seat expansion",
        "Proposal/Price Quote",
        "2026-05-15",
        &[(1, 10.0, 5.0)],
        "2026-06-01",
        "",
    ),
    (
        2,
        "Globex renewal",
        "Negotiation/Review",
        "2026-06-20",
        &[(0, 1.0, 15.0), (4, 1.0, 0.0)],
        "2026-07-01",
        "",
    ),
    (
        3,
        "Initech pilot",
        "Qualification",
        "2026-06-30",
        &[],
        "",
        "",
    ),
    (
        4,
        "Köln ERP link",
        "Closed Won",
        "2026-02-10",
        &[(0, 1.0, 0.0), (2, 1.0, 0.0), (3, 3.0, 0.0)],
        "2026-03-01",
        "BE-2026-0117",
    ),
    (
        5,
        "Boutiques finance sync",
        "Closed Lost",
        "2025-12-05",
        &[(0, 1.0, 0.0)],
        "2026-01-01",
        "",
    ),
    (
        6,
        "Grid billing integration",
        "Value Proposition",
        "2026-07-31",
        &[(0, 1.0, 0.0)],
        "2026-08-01",
        "",
    ),
    (
        7,
        "Reservations ledger",
        "Prospecting",
        "2026-09-15",
        &[],
        "",
        "",
    ),
    (
        8,
        "Oakwood analytics suite",
        "Closed Won",
        "2026-02-27",
        &[(0, 1.0, 0.0), (1, 15.0, 0.0), (4, 1.0, 0.0)],
        "2026-03-01",
        "OAK-7781",
    ),
    (
        9,
        "Distillery operations",
        "Id. Decision Makers",
        "2026-05-29",
        &[(2, 1.0, 0.0)],
        "2026-06-01",
        "",
    ),
    (
        10,
        "Maple Grove onboarding",
        "Closed Won",
        "2026-03-02",
        &[(0, 1.0, 0.0), (3, 2.0, 0.0)],
        "2026-03-15",
        "",
    ),
    (
        11,
        "Campus licences",
        "Closed Won",
        "2026-02-20",
        &[(5, 250.0, 10.0), (3, 2.0, 0.0)],
        "2026-03-01",
        "LA-2026-03",
    ),
];

const CONTACTS: &[(usize, &str, &str, &str)] = &[
    (0, "Maria", "Lopez", "Controller"),
    (0, "James", "Carter", "CFO"),
    (1, "Priya", "Natarajan", "Finance Manager"),
    (2, "Ethan", "Brooks", "VP Finance"),
    (3, "Grace", "Kim", "Accounts Payable Lead"),
    (4, "Jonas", "Schmidt", "Leiter Finanzen"),
    (4, "Anna", "Weber", "Buchhaltung"),
    (5, "Camille", "Durand", "Directrice financière"),
    (6, "Felix", "Hoffmann", "Controller"),
    (7, "Lucía", "García", "Responsable de contabilidad"),
    (8, "Oliver", "Bennett", "Finance Director"),
    (8, "Amelia", "Clarke", "Billing Specialist"),
    (9, "Callum", "MacLeod", "Financial Controller"),
    (10, "Chloé", "Tremblay", "Comptroller"),
    (11, "Jack", "Wilson", "Bursar"),
];

fn slug(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

fn price(usd: f64, rate: f64) -> f64 {
    (usd * rate).round()
}

/// The last day of a year of service starting on `start` (`YYYY-MM-DD`).
fn year_end(start: &str) -> Option<String> {
    let d = chrono::NaiveDate::parse_from_str(start, "%Y-%m-%d").ok()?;
    let end = d.checked_add_months(chrono::Months::new(12))?.pred_opt()?;
    Some(end.format("%Y-%m-%d").to_string())
}

fn demo(s: &mut Seeder<'_>, standard: &str) -> Result<(), String> {
    let reps = [
        ("Ava", "Thompson", "Account Executive, North America"),
        (
            "Lukas",
            "Becker",
            "Account Executive, DACH & Southern Europe",
        ),
        ("Olivia", "Hughes", "Account Executive, UK & Education"),
    ];
    let mut owners = Vec::new();
    for (first, last, title) in reps {
        let email = format!("{}.{}@ledgerforce.sandbox", slug(first), slug(last));
        owners.push(s.put(
            "User",
            json!({"Username": email, "FirstName": first, "LastName": last, "Email": email,
                   "Alias": format!("{}{}", &slug(first)[..1], &slug(last)[..4.min(last.len())]),
                   "Title": title, "Department": "Sales"}),
        )?);
    }

    let mut accounts = Vec::new();
    for (i, a) in ACCOUNTS.iter().enumerate() {
        let mut fields = json!({
            "Name": a.name, "BillingStreet": format!("{} Market Street", 100 + i * 7),
            "BillingCity": a.city, "BillingCountry": a.country, "BillingPostalCode": format!("{:05}", 10_000 + i * 1_111),
            "CurrencyIsoCode": a.currency, "Industry": a.industry, "Type": a.kind,
            "Business_Unit__c": a.business_unit,
            "Phone": format!("+1 555 01{i:02}"), "Website": format!("https://www.{}.example", slug(a.name)),
            "OwnerId": owners[a.owner], "NumberOfEmployees": 50 + i * 35,
        });
        for (field, value) in [
            ("BillingState", a.state),
            ("Payment_Terms__c", a.terms),
            ("Tax_ID__c", a.tax_id),
        ] {
            if !value.is_empty() {
                fields[field] = json!(value);
            }
        }
        if let Some(limit) = a.credit_limit {
            fields["Credit_Limit__c"] = json!(limit);
        }
        if let Some((customer, n)) = a.intacct {
            fields["Id"] = json!(demo_account_id(n));
            fields["Intacct_Customer_ID__c"] = json!(customer);
            fields["Intacct_Sync_Status__c"] = json!("Synced");
            fields["Credit_Status__c"] = json!("OK");
            if let Some(limit) = a.credit_limit {
                fields["Intacct_Credit_Limit__c"] = json!(limit);
            }
        }
        accounts.push(s.put("Account", fields)?);
    }

    let mut contacts = Vec::new();
    for (account, first, last, title) in CONTACTS {
        let domain = ACCOUNTS
            .get(*account)
            .map(|a| slug(a.name))
            .unwrap_or_default();
        contacts.push(s.put(
            "Contact",
            json!({"AccountId": accounts[*account], "FirstName": first, "LastName": last, "Title": title,
                   "Email": format!("{}.{}@{domain}.example", slug(first), slug(last)),
                   "CurrencyIsoCode": ACCOUNTS[*account].currency}),
        )?);
    }

    let mut products = Vec::new();
    for (name, code, family, _) in PRODUCTS {
        products.push(s.put(
            "Product2",
            json!({"Name": name, "ProductCode": code, "Family": family, "IsActive": true}),
        )?);
    }
    // entries[product][currency index]
    let mut entries: Vec<Vec<String>> = Vec::new();
    for (p, (_, _, _, usd)) in PRODUCTS.iter().enumerate() {
        let mut row = Vec::new();
        for (currency, rate) in RATES {
            row.push(s.put(
                "PricebookEntry",
                json!({"Pricebook2Id": standard, "Product2Id": products[p], "UnitPrice": price(*usd, *rate),
                       "CurrencyIsoCode": currency, "IsActive": true}),
            )?);
        }
        entries.push(row);
    }

    let mut opportunities = Vec::new();
    for (account, suffix, stage, close, lines, service, po) in OPPORTUNITIES {
        let a = &ACCOUNTS[*account];
        let short = a.name.split_whitespace().next().unwrap_or(a.name);
        let contact = CONTACTS
            .iter()
            .position(|c| c.0 == *account)
            .map(|i| contacts[i].clone());
        let mut fields = json!({"Name": format!("{short} - {suffix}"), "AccountId": accounts[*account], "StageName": stage,
                   "CloseDate": close, "CurrencyIsoCode": a.currency, "OwnerId": owners[a.owner],
                   "Pricebook2Id": standard, "ContactId": contact, "LeadSource": "Partner Referral",
                   "Type": "New Customer", "Business_Unit__c": a.business_unit});
        if !po.is_empty() {
            fields["PO_Number__c"] = json!(po);
        }
        if !a.terms.is_empty() {
            fields["Payment_Terms__c"] = json!(a.terms);
        }
        let opp = s.put("Opportunity", fields)?;
        let currency_index = RATES.iter().position(|r| r.0 == a.currency).unwrap_or(0);
        for (product, quantity, discount) in lines.iter() {
            let rate = RATES[currency_index].1;
            let (_, _, family, usd) = PRODUCTS[*product];
            // Subscriptions run for a year from the service date; the rest is delivered once.
            let end = if family == "Subscription" {
                year_end(service).map_or(Value::Null, Value::String)
            } else {
                Value::Null
            };
            s.put(
                "OpportunityLineItem",
                json!({"OpportunityId": opp, "PricebookEntryId": entries[*product][currency_index],
                       "Quantity": quantity, "UnitPrice": price(usd, rate),
                       "Discount": if *discount > 0.0 { json!(discount) } else { Value::Null },
                       "ServiceDate": service, "End_Date__c": end}),
            )?;
        }
        opportunities.push(opp);
    }

    // A primary CPQ quote for the Köln deal (index 5 in OPPORTUNITIES).
    let (account, _, _, _, lines, service, _) = OPPORTUNITIES[5];
    let quote_end = year_end(service).ok_or("bad service date")?;
    let quote = s.put(
        "SBQQ__Quote__c",
        json!({"SBQQ__Opportunity2__c": opportunities[5], "SBQQ__Account__c": accounts[account],
               "SBQQ__Primary__c": true, "SBQQ__Status__c": "Accepted", "SBQQ__StartDate__c": service,
               "SBQQ__EndDate__c": quote_end, "SBQQ__SubscriptionTerm__c": 12, "CurrencyIsoCode": "EUR"}),
    )?;
    for (n, (product, quantity, _)) in lines.iter().enumerate() {
        let (name, code, family, usd) = PRODUCTS[*product];
        let list = price(usd, 0.92);
        let mut line = json!({"SBQQ__Quote__c": quote, "SBQQ__Product__c": products[*product],
               "SBQQ__ProductCode__c": code, "SBQQ__Description__c": name, "SBQQ__Quantity__c": quantity,
               "SBQQ__ListPrice__c": list, "SBQQ__NetPrice__c": list, "SBQQ__Number__c": n + 1});
        if family == "Subscription" {
            line["SBQQ__StartDate__c"] = json!(service);
            line["SBQQ__EndDate__c"] = json!(quote_end);
        }
        s.put("SBQQ__QuoteLine__c", line)?;
    }
    let opp_def = Schema::get()
        .object("Opportunity")
        .ok_or("no Opportunity object")?;
    let primary = json!({"SBQQ__PrimaryQuote__c": quote})
        .as_object()
        .cloned()
        .unwrap_or_default();
    s.at_next_tick(|store| store.update(opp_def, &opportunities[5], &primary, Writer::System))
        .map_err(|e| format!("linking the primary quote: {e:?}"))?;

    s.put(
        "Task",
        json!({"Subject": "Confirm billing contact", "WhatId": opportunities[1], "WhoId": contacts[0],
               "ActivityDate": "2026-04-01", "Priority": "Normal", "OwnerId": owners[0]}),
    )?;
    s.put(
        "Task",
        json!({"Subject": "Send order form", "WhatId": opportunities[10], "Priority": "High", "OwnerId": owners[2],
               "ActivityDate": "2026-05-20"}),
    )?;
    dated_rates(s)
}

/// Months of dated exchange rates, from July 2025 (before the first seeded close date) to
/// December 2026 (after the last).
const RATE_MONTHS: u32 = 18;
/// Month-on-month movement of a rate, in hundredths of a percent: a fixed, plausible wobble
/// so the periods differ and a conversion at the wrong period's rate shows.
const RATE_WOBBLE: [i64; RATE_MONTHS as usize] = [
    0, 12, -8, 25, 31, 18, -5, -22, -14, 3, 9, 27, 40, 33, 15, -6, -19, -11,
];

/// `DatedConversionRate` for every non-corporate currency of the demo price book, one per
/// month: what an org with advanced currency management holds and reconciliation reads.
fn dated_rates(s: &mut Seeder<'_>) -> Result<(), String> {
    let foreign = RATES
        .iter()
        .filter(|(c, _)| *c != crate::schema::CORPORATE_CURRENCY);
    for (ci, (currency, base)) in foreign.enumerate() {
        for month in 0..RATE_MONTHS {
            let (year, m) = (2025 + (6 + month) / 12, (6 + month) % 12 + 1);
            let wobble = RATE_WOBBLE[(month as usize + 3 * ci) % RATE_WOBBLE.len()];
            let rate = (base * (1.0 + wobble as f64 / 10_000.0) * 1e6).round() / 1e6;
            s.put(
                "DatedConversionRate",
                json!({"IsoCode": currency, "ConversionRate": rate,
                       "StartDate": format!("{year}-{m:02}-01")}),
            )?;
        }
    }
    Ok(())
}

/// Adds `count` Accounts for volume tests, after whatever is already there.
pub fn volume_accounts(store: &mut Store, count: usize) -> Result<(), String> {
    let countries = [
        ("United States", "USD"),
        ("Germany", "EUR"),
        ("United Kingdom", "GBP"),
        ("France", "EUR"),
        ("Canada", "CAD"),
    ];
    let start = store.count("Account");
    let mut s = Seeder {
        store,
        tick: 10_000,
    };
    for i in 0..count {
        let n = start + i + 1;
        let (country, currency) = countries[n % countries.len()];
        s.put(
            "Account",
            json!({"Name": format!("Volume Account {n:05}"), "BillingCountry": country,
                   "CurrencyIsoCode": currency, "Type": "Prospect"}),
        )?;
    }
    Ok(())
}
