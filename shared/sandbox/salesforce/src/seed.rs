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
    fn put(&mut self, object: &str, fields: Value) -> Result<String, String> {
        let def = Schema::get()
            .object(object)
            .ok_or_else(|| format!("no object {object}"))?;
        self.tick += 1;
        self.store
            .freeze_time(Some(seed_epoch() + Duration::minutes(self.tick)));
        let map = fields.as_object().cloned().unwrap_or_default();
        let out = self
            .store
            .create(def, &map, Writer::System)
            .map_err(|e| format!("{object}: {e:?}"));
        self.store.freeze_time(None);
        out
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
        return Ok(());
    }
    demo(&mut s, &standard)
}

/// An account: name, city, state, country, currency, industry, owner index, Intacct
/// customer id.
type AccountRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    usize,
    &'static str,
);
const ACCOUNTS: &[AccountRow] = &[
    (
        "Northwind Traders Inc.",
        "San Francisco",
        "CA",
        "United States",
        "USD",
        "Retail",
        0,
        "C-1001",
    ),
    (
        "Blue Harbor Logistics LLC",
        "Boston",
        "MA",
        "United States",
        "USD",
        "Transportation",
        0,
        "",
    ),
    (
        "Cedar Peak Software Corp.",
        "Austin",
        "TX",
        "United States",
        "USD",
        "Technology",
        0,
        "",
    ),
    (
        "Summit Ridge Health",
        "Denver",
        "CO",
        "United States",
        "USD",
        "Healthcare",
        0,
        "",
    ),
    (
        "Rheinwerk Maschinenbau GmbH",
        "Stuttgart",
        "BW",
        "Germany",
        "EUR",
        "Manufacturing",
        1,
        "C-2001",
    ),
    (
        "Lumière Retail SA",
        "Lyon",
        "",
        "France",
        "EUR",
        "Retail",
        1,
        "",
    ),
    (
        "Nordlicht Energie AG",
        "Hamburg",
        "HH",
        "Germany",
        "EUR",
        "Energy",
        1,
        "",
    ),
    (
        "Costa Azul Turismo SL",
        "Valencia",
        "",
        "Spain",
        "EUR",
        "Transportation",
        1,
        "",
    ),
    (
        "Thames Analytics Ltd",
        "London",
        "",
        "United Kingdom",
        "GBP",
        "Consulting",
        2,
        "C-3001",
    ),
    (
        "Highland Distillers plc",
        "Edinburgh",
        "",
        "United Kingdom",
        "GBP",
        "Manufacturing",
        2,
        "",
    ),
    (
        "Maple Grove Foods Inc.",
        "Toronto",
        "ON",
        "Canada",
        "CAD",
        "Agriculture",
        0,
        "",
    ),
    (
        "Coral Coast Outfitters Pty Ltd",
        "Brisbane",
        "QLD",
        "Australia",
        "AUD",
        "Retail",
        2,
        "",
    ),
];

/// Products: name, code, family, USD list price.
const PRODUCTS: &[(&str, &str, &str, f64)] = &[
    ("Ledger Cloud Subscription", "LC-SUB", "Software", 1200.0),
    ("Analytics Add-on", "AN-ADD", "Software", 400.0),
    ("Implementation Services", "IMPL-SVC", "Services", 150.0),
    ("Data Migration", "DM-SVC", "Services", 5000.0),
    ("Premium Support", "SUP-PREM", "Support", 2400.0),
    ("Training Day", "TRN-DAY", "Services", 900.0),
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
/// quantity, discount %), service date.
type Line = (usize, f64, f64);
type OpportunityRow = (
    usize,
    &'static str,
    &'static str,
    &'static str,
    &'static [Line],
    &'static str,
);
const OPPORTUNITIES: &[OpportunityRow] = &[
    (
        0,
        "Platform rollout",
        "Closed Won",
        "2026-01-15",
        &[(0, 25.0, 0.0), (2, 40.0, 0.0)],
        "2026-02-01",
    ),
    (
        0,
        "Analytics expansion",
        "Negotiation/Review",
        "2026-04-30",
        &[(1, 25.0, 10.0)],
        "2026-05-01",
    ),
    (
        1,
        "Logistics ledger",
        "Proposal/Price Quote",
        "2026-05-15",
        &[(0, 10.0, 5.0)],
        "2026-06-01",
    ),
    (
        2,
        "Cedar Peak renewal",
        "Closed Won",
        "2025-12-20",
        &[(0, 60.0, 15.0), (4, 1.0, 0.0)],
        "2026-01-01",
    ),
    (
        3,
        "Clinic network pilot",
        "Qualification",
        "2026-06-30",
        &[],
        "",
    ),
    (
        4,
        "Werk Stuttgart ERP link",
        "Closed Won",
        "2026-02-10",
        &[(0, 40.0, 0.0), (3, 1.0, 0.0), (5, 3.0, 0.0)],
        "2026-03-01",
    ),
    (
        5,
        "Boutiques finance sync",
        "Closed Lost",
        "2025-12-05",
        &[(0, 8.0, 0.0)],
        "2026-01-01",
    ),
    (
        6,
        "Grid billing integration",
        "Value Proposition",
        "2026-07-31",
        &[(0, 30.0, 0.0)],
        "2026-08-01",
    ),
    (
        7,
        "Reservations ledger",
        "Prospecting",
        "2026-09-15",
        &[],
        "",
    ),
    (
        8,
        "Thames analytics suite",
        "Closed Won",
        "2026-02-27",
        &[(0, 15.0, 0.0), (1, 15.0, 0.0), (4, 1.0, 0.0)],
        "2026-03-01",
    ),
    (
        9,
        "Distillery operations",
        "Id. Decision Makers",
        "2026-05-29",
        &[(2, 80.0, 0.0)],
        "2026-06-01",
    ),
    (
        10,
        "Maple Grove onboarding",
        "Closed Won",
        "2026-03-02",
        &[(0, 12.0, 0.0), (5, 2.0, 0.0)],
        "2026-03-15",
    ),
    (
        11,
        "Outfitters pilot",
        "Needs Analysis",
        "2026-08-14",
        &[(0, 5.0, 0.0)],
        "2026-09-01",
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
    (11, "Jack", "Wilson", "Finance Manager"),
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

fn demo(s: &mut Seeder<'_>, standard: &str) -> Result<(), String> {
    let reps = [
        ("Ava", "Thompson", "Account Executive, North America"),
        (
            "Lukas",
            "Becker",
            "Account Executive, DACH & Southern Europe",
        ),
        ("Olivia", "Hughes", "Account Executive, UK & APAC"),
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
    for (i, (name, city, state, country, currency, industry, owner, intacct)) in
        ACCOUNTS.iter().enumerate()
    {
        let mut fields = json!({
            "Name": name, "BillingStreet": format!("{} Market Street", 100 + i * 7),
            "BillingCity": city, "BillingCountry": country, "BillingPostalCode": format!("{:05}", 10_000 + i * 1_111),
            "CurrencyIsoCode": currency, "Industry": industry, "Type": "Customer - Direct",
            "Phone": format!("+1 555 01{i:02}"), "Website": format!("https://www.{}.example", slug(name)),
            "OwnerId": owners[*owner], "NumberOfEmployees": 50 + i * 35,
        });
        if !state.is_empty() {
            fields["BillingState"] = json!(state);
        }
        if !intacct.is_empty() {
            fields["Intacct_Customer_ID__c"] = json!(intacct);
            fields["Intacct_Sync_Status__c"] = json!("Synced");
            fields["Credit_Status__c"] = json!("OK");
        }
        accounts.push(s.put("Account", fields)?);
    }

    let mut contacts = Vec::new();
    for (account, first, last, title) in CONTACTS {
        let domain = ACCOUNTS
            .get(*account)
            .map(|a| slug(a.0))
            .unwrap_or_default();
        contacts.push(s.put(
            "Contact",
            json!({"AccountId": accounts[*account], "FirstName": first, "LastName": last, "Title": title,
                   "Email": format!("{}.{}@{domain}.example", slug(first), slug(last)),
                   "CurrencyIsoCode": ACCOUNTS[*account].4}),
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
    for (account, suffix, stage, close, lines, service) in OPPORTUNITIES {
        let (name, _, _, _, currency, _, owner, _) = ACCOUNTS[*account];
        let short = name.split_whitespace().next().unwrap_or(name);
        let contact = CONTACTS
            .iter()
            .position(|c| c.0 == *account)
            .map(|i| contacts[i].clone());
        let opp = s.put(
            "Opportunity",
            json!({"Name": format!("{short} - {suffix}"), "AccountId": accounts[*account], "StageName": stage,
                   "CloseDate": close, "CurrencyIsoCode": currency, "OwnerId": owners[owner],
                   "Pricebook2Id": standard, "ContactId": contact, "LeadSource": "Partner Referral",
                   "Type": "New Customer"}),
        )?;
        let currency_index = RATES.iter().position(|r| r.0 == currency).unwrap_or(0);
        for (product, quantity, discount) in lines.iter() {
            let rate = RATES[currency_index].1;
            s.put(
                "OpportunityLineItem",
                json!({"OpportunityId": opp, "PricebookEntryId": entries[*product][currency_index],
                       "Quantity": quantity, "UnitPrice": price(PRODUCTS[*product].3, rate),
                       "Discount": if *discount > 0.0 { json!(discount) } else { Value::Null },
                       "ServiceDate": service}),
            )?;
        }
        opportunities.push(opp);
    }

    // A primary CPQ quote for the Stuttgart deal (index 5 in OPPORTUNITIES).
    let (account, _, _, _, lines, service) = OPPORTUNITIES[5];
    let quote = s.put(
        "SBQQ__Quote__c",
        json!({"SBQQ__Opportunity2__c": opportunities[5], "SBQQ__Account__c": accounts[account],
               "SBQQ__Primary__c": true, "SBQQ__Status__c": "Accepted", "SBQQ__StartDate__c": service,
               "SBQQ__EndDate__c": "2027-02-28", "SBQQ__SubscriptionTerm__c": 12, "CurrencyIsoCode": "EUR"}),
    )?;
    for (n, (product, quantity, _)) in lines.iter().enumerate() {
        let list = price(PRODUCTS[*product].3, 0.92);
        s.put(
            "SBQQ__QuoteLine__c",
            json!({"SBQQ__Quote__c": quote, "SBQQ__Product__c": products[*product], "SBQQ__Quantity__c": quantity,
                   "SBQQ__ListPrice__c": list, "SBQQ__NetPrice__c": list, "SBQQ__Number__c": n + 1,
                   "SBQQ__StartDate__c": service, "SBQQ__EndDate__c": "2027-02-28"}),
        )?;
    }
    let opp_def = Schema::get()
        .object("Opportunity")
        .ok_or("no Opportunity object")?;
    s.tick += 1;
    s.store
        .freeze_time(Some(seed_epoch() + Duration::minutes(s.tick)));
    let linked = s.store.update(
        opp_def,
        &opportunities[5],
        &json!({"SBQQ__PrimaryQuote__c": quote})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        Writer::System,
    );
    s.store.freeze_time(None);
    linked.map_err(|e| format!("linking the primary quote: {e:?}"))?;

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
