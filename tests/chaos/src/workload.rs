//! The mixed workload: what users do in both systems while the sync runs. Salesforce users
//! create Accounts with a Contact and an open deal, close deals, change phones and emails
//! (straight into the org, as the UI would: the org's own rules fire its Outbound Messages);
//! accountants change cities and contact phones, record payments and put customers on hold
//! through Intacct's API. Every change is one event; [`Unit`]s say what each should end as.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use lf_domain::EntityId;
use lf_domain::port::{IntacctObject, IntacctPort, RecordUpdate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::Error;
use crate::system::System;

/// What happens to a unit after it is created; the groups never edit the same record from both
/// sides, so every change has one expected end state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Its deal is closed won; then a partial payment is recorded in Intacct.
    Paid,
    /// The Account's phone and the Contact's email change in Salesforce.
    SalesforceEdits,
    /// The customer's city and the contact's phone change in Intacct.
    IntacctEdits,
    /// Its deal is closed won (every other one with a primary CPQ quote, which makes it a
    /// sales order); then the customer is put on hold in Intacct.
    Held,
}

/// One Account with its Contact and deal, and what was done to them.
#[derive(Debug, Clone)]
pub struct Unit {
    pub n: usize,
    pub group: Group,
    pub name: String,
    pub account: String,
    pub contact: String,
    pub opportunity: String,
    /// The deal has a primary CPQ quote: it becomes a sales order, not an invoice.
    pub quoted: bool,
    /// Salesforce edits.
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Intacct edits.
    pub city: Option<String>,
    pub contact_phone: Option<String>,
    pub paid: Option<Decimal>,
    pub held: bool,
}

/// The countries accounts are billed in (so customers land in three entities) and their deals'
/// currencies. Paid deals stay in the US, whose bank account takes the payments.
const PLACES: [(&str, &str); 3] = [
    ("United States", "USD"),
    ("Germany", "EUR"),
    ("United Kingdom", "GBP"),
];

/// A pronounceable word of `syllables` from the generator: names differ enough that the
/// fuzzy name match (Jaro-Winkler ≥ 0.92) never pairs two of them.
fn word(rng: &mut StdRng, syllables: usize) -> String {
    const C: &[u8] = b"bcdfghjklmnprstvwz";
    const V: &[u8] = b"aeiou";
    let mut w = String::new();
    for _ in 0..syllables {
        w.push(C[rng.random_range(0..C.len())] as char);
        w.push(V[rng.random_range(0..V.len())] as char);
    }
    let mut chars = w.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

fn fields(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn text(record: &Map<String, Value>, field: &str) -> String {
    record
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The Opportunity field the id of a deal's Intacct document is written to.
pub fn document_field(u: &Unit) -> &'static str {
    if u.quoted {
        "Intacct_Sales_Order_ID__c"
    } else {
        "Intacct_Invoice_ID__c"
    }
}

/// Waits until `done` holds or `limit` passed; whether it held.
pub async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A price book entry of a service product.
#[derive(Debug)]
struct Entry {
    id: String,
    pricebook: String,
    price: f64,
    product: String,
}

/// The workload driver.
#[derive(Debug)]
pub struct Driver<'a> {
    system: &'a System,
    rng: StdRng,
    /// Changes made so far.
    pub events: u64,
    /// The accountant's calls that failed and were tried again.
    pub accountant_retries: u64,
}

impl<'a> Driver<'a> {
    pub fn new(system: &'a System, seed: u64) -> Self {
        Self {
            system,
            rng: StdRng::seed_from_u64(seed),
            events: 0,
            accountant_retries: 0,
        }
    }

    /// The price book entry of one (non-education) product in `currency`.
    fn entry(&self, currency: &str) -> Result<Entry, Error> {
        let org = &self.system.salesforce;
        let codes: Vec<(String, String)> = org
            .records("Product2")
            .iter()
            .map(|p| (text(p, "Id"), text(p, "ProductCode")))
            .collect();
        org.records("PricebookEntry")
            .into_iter()
            .find(|e| {
                text(e, "CurrencyIsoCode") == currency
                    && codes
                        .iter()
                        .any(|(id, code)| *id == text(e, "Product2Id") && code.starts_with("SVC-"))
            })
            .map(|e| {
                let product = text(&e, "Product2Id");
                Entry {
                    id: text(&e, "Id"),
                    pricebook: text(&e, "Pricebook2Id"),
                    price: e.get("UnitPrice").and_then(Value::as_f64).unwrap_or(100.0),
                    product,
                }
            })
            .ok_or_else(|| format!("no service price book entry in {currency}").into())
    }

    /// Phase 1: `count` Accounts, each with a Contact and an open deal with one line; first,
    /// the accountant keys in the contact person in Intacct (same email: the sync links the
    /// pair by it).
    pub async fn create(&mut self, count: usize) -> Result<Vec<Unit>, Error> {
        let org = self.system.salesforce.clone();
        let today = chrono::Utc::now().date_naive().to_string();
        let mut names = HashSet::new();
        let mut units = Vec::with_capacity(count);
        for n in 0..count {
            let group = match n % 4 {
                0 => Group::Paid,
                1 => Group::SalesforceEdits,
                2 => Group::IntacctEdits,
                _ => Group::Held,
            };
            let (country, currency) = if group == Group::Paid {
                PLACES[0]
            } else {
                PLACES[n % PLACES.len()]
            };
            let name = loop {
                let candidate = format!("{} {}", word(&mut self.rng, 3), word(&mut self.rng, 4));
                if names.insert(candidate.clone()) {
                    break candidate;
                }
            };
            let (first, last) = (word(&mut self.rng, 2), word(&mut self.rng, 3));
            let email = format!(
                "{}.{}.{n}@example.com",
                first.to_lowercase(),
                last.to_lowercase()
            );
            self.create_contact(&format!("{first} {last} {n}"), &first, &last, &email)
                .await?;
            let account = org.insert(
                "Account",
                json!({"Name": name, "Type": "Customer - Direct", "BillingCountry": country,
                       "CurrencyIsoCode": currency, "BillingCity": "Springfield",
                       "BillingPostalCode": format!("{:05}", 10_000 + n)}),
            )?;
            let contact = org.insert(
                "Contact",
                json!({"AccountId": account, "FirstName": first, "LastName": last, "Email": email}),
            )?;
            let entry = self.entry(currency)?;
            let opportunity = org.insert(
                "Opportunity",
                json!({"Name": format!("{name} - subscription"), "AccountId": account,
                       "StageName": "Prospecting", "CloseDate": today,
                       "CurrencyIsoCode": currency, "Pricebook2Id": entry.pricebook}),
            )?;
            let quantity = 1 + (n % 5);
            org.insert(
                "OpportunityLineItem",
                json!({"OpportunityId": opportunity, "PricebookEntryId": entry.id,
                       "Quantity": quantity, "UnitPrice": entry.price}),
            )?;
            self.events += 4;
            let quoted = group == Group::Held && (n / 4) % 2 == 0;
            if quoted {
                let end = (chrono::Utc::now().date_naive() + chrono::Days::new(364)).to_string();
                let quote = org.insert(
                    "SBQQ__Quote__c",
                    json!({"SBQQ__Opportunity2__c": opportunity, "SBQQ__Account__c": account,
                           "SBQQ__Primary__c": true, "SBQQ__Status__c": "Accepted",
                           "SBQQ__StartDate__c": today, "SBQQ__EndDate__c": end,
                           "SBQQ__SubscriptionTerm__c": 12, "CurrencyIsoCode": currency}),
                )?;
                org.insert(
                    "SBQQ__QuoteLine__c",
                    json!({"SBQQ__Quote__c": quote, "SBQQ__Product__c": entry.product,
                           "SBQQ__Description__c": "Service",
                           "SBQQ__Quantity__c": quantity, "SBQQ__ListPrice__c": entry.price,
                           "SBQQ__NetPrice__c": entry.price, "SBQQ__Number__c": 1}),
                )?;
                org.update(&opportunity, json!({"SBQQ__PrimaryQuote__c": quote}))?;
                self.events += 1;
            }
            units.push(Unit {
                n,
                group,
                name,
                account,
                contact,
                opportunity,
                quoted,
                phone: None,
                email: None,
                city: None,
                contact_phone: None,
                paid: None,
                held: false,
            });
        }
        Ok(units)
    }

    /// Whether every unit's Account carries its customer and its Contact is linked.
    pub fn onboarded(&self, units: &[Unit]) -> bool {
        let org = &self.system.salesforce;
        let company = &self.system.intacct;
        units.iter().all(|u| {
            let linked = org
                .record(&u.account)
                .is_some_and(|a| !text(&a, "Intacct_Customer_ID__c").is_empty());
            linked && company.count_where("CONTACT", "SFDC_CONTACT_ID", &u.contact) > 0
        })
    }

    /// Phase 2: deals closed, edits on both sides.
    pub async fn edit(&mut self, units: &mut [Unit]) -> Result<(), Error> {
        let org = self.system.salesforce.clone();
        for u in units.iter_mut() {
            match u.group {
                Group::Paid | Group::Held => {
                    org.update(&u.opportunity, json!({"StageName": "Closed Won"}))?;
                    self.events += 1;
                }
                Group::SalesforceEdits => {
                    let phone = format!("+1 617 555 {:04}", u.n % 10_000);
                    org.update(&u.account, json!({"Phone": phone}))?;
                    let email = format!("moved.{}@example.org", u.n);
                    org.update(&u.contact, json!({"Email": email}))?;
                    u.phone = Some(phone);
                    u.email = Some(email);
                    self.events += 2;
                }
                Group::IntacctEdits => {
                    let customer = self.customer_of(u)?;
                    let city = format!("Fort {}", word(&mut self.rng, 3));
                    let entity = self.entity_of("CUSTOMER", "CUSTOMERID", &customer)?;
                    self.update(
                        entity.as_ref(),
                        RecordUpdate {
                            object: IntacctObject::Customer,
                            key: customer,
                            fields: fields(
                                json!({"DISPLAYCONTACT": {"MAILADDRESS": {"CITY": city}}}),
                            ),
                        },
                    )
                    .await?;
                    u.city = Some(city);
                    let contact = self
                        .system
                        .intacct
                        .find("CONTACT", "SFDC_CONTACT_ID", &u.contact)
                        .into_iter()
                        .next()
                        .ok_or_else(|| format!("unit {}: no Intacct contact", u.n))?;
                    let phone = format!("+44 20 7946 {:04}", u.n % 10_000);
                    self.update(
                        None,
                        RecordUpdate {
                            object: IntacctObject::Contact,
                            key: contact.get("CONTACTNAME").cloned().unwrap_or_default(),
                            fields: fields(json!({"PHONE1": phone})),
                        },
                    )
                    .await?;
                    u.contact_phone = Some(phone);
                    self.events += 2;
                }
            }
        }
        Ok(())
    }

    /// Whether every closed deal has its document's id written back.
    pub fn invoiced(&self, units: &[Unit]) -> bool {
        let org = &self.system.salesforce;
        units
            .iter()
            .filter(|u| matches!(u.group, Group::Paid | Group::Held))
            .all(|u| {
                org.record(&u.opportunity)
                    .is_some_and(|o| !text(&o, document_field(u)).is_empty())
            })
    }

    /// Phase 3: payments and holds in Intacct.
    pub async fn settle(&mut self, units: &mut [Unit]) -> Result<(), Error> {
        for u in units.iter_mut() {
            match u.group {
                Group::Paid => {
                    u.paid = Some(self.pay(u).await?);
                    self.events += 1;
                }
                Group::Held => {
                    let customer = self.customer_of(u)?;
                    let entity = self.entity_of("CUSTOMER", "CUSTOMERID", &customer)?;
                    let hold = fields(json!({"CUSTOMERID": customer, "ONHOLD": "true"}));
                    let mut tries = 0;
                    loop {
                        let call = self
                            .system
                            .accountant
                            .call(
                                entity.as_ref(),
                                lf_intacct::Function::update_fields("CUSTOMER", &hold)?,
                            )
                            .await;
                        match call {
                            Ok(_) => break,
                            Err(e) if tries < 40 => {
                                tracing::debug!(error = %e, "hold: trying again");
                                tries += 1;
                                self.accountant_retries += 1;
                                tokio::time::sleep(Duration::from_millis(200)).await;
                            }
                            Err(e) => return Err(format!("unit {}: hold: {e}", u.n).into()),
                        }
                    }
                    u.held = true;
                    self.events += 1;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A top-level CONTACT, created once: after a failed call it is looked for before it is
    /// tried again.
    async fn create_contact(
        &mut self,
        name: &str,
        first: &str,
        last: &str,
        email: &str,
    ) -> Result<(), Error> {
        let contact = fields(
            json!({"CONTACTNAME": name, "PRINTAS": format!("{first} {last}"),
                                    "FIRSTNAME": first, "LASTNAME": last, "EMAIL1": email}),
        );
        let mut tries = 0;
        loop {
            let call = self
                .system
                .accountant
                .call(
                    None,
                    lf_intacct::Function::create_fields("CONTACT", &contact)?,
                )
                .await;
            match call {
                Ok(_) => return Ok(()),
                Err(_)
                    if self
                        .system
                        .intacct
                        .count_where("CONTACT", "CONTACTNAME", name)
                        > 0 =>
                {
                    return Ok(());
                }
                Err(e) if tries < 40 => {
                    tracing::debug!(error = %e, "contact: trying again");
                    tries += 1;
                    self.accountant_retries += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(format!("creating the contact {name}: {e}").into()),
            }
        }
    }

    fn customer_of(&self, u: &Unit) -> Result<String, Error> {
        self.system
            .salesforce
            .record(&u.account)
            .map(|a| text(&a, "Intacct_Customer_ID__c"))
            .filter(|c| !c.is_empty())
            .ok_or_else(|| format!("unit {} ({}): the Account has no customer", u.n, u.name).into())
    }

    fn entity_of(&self, object: &str, field: &str, value: &str) -> Result<Option<EntityId>, Error> {
        let entity = self
            .system
            .intacct
            .find(object, field, value)
            .into_iter()
            .next()
            .and_then(|r| r.get("MEGAENTITYID").cloned())
            .filter(|e| !e.is_empty());
        Ok(entity.map(|e| EntityId::parse(&e)).transpose()?)
    }

    /// An idempotent update, tried again until it answers (a lost answer may hide a commit;
    /// writing the same values again changes nothing).
    async fn update(
        &mut self,
        entity: Option<&EntityId>,
        update: RecordUpdate,
    ) -> Result<(), Error> {
        let mut tries = 0;
        loop {
            let outcome = self
                .system
                .accountant
                .update(entity, std::slice::from_ref(&update))
                .await;
            let error = match outcome {
                Ok(results) => match results.into_iter().next() {
                    Some(Ok(())) => return Ok(()),
                    Some(Err(e)) => e.to_string(),
                    None => "no result".to_owned(),
                },
                Err(e) => e.to_string(),
            };
            if tries >= 40 {
                return Err(
                    format!("updating {} {}: {error}", update.object.name(), update.key).into(),
                );
            }
            tries += 1;
            self.accountant_retries += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Half of the deal's invoice, paid once: after a failed call the payment is looked for
    /// before it is tried again, so a lost answer does not pay twice.
    async fn pay(&mut self, u: &Unit) -> Result<Decimal, Error> {
        let customer = self.customer_of(u)?;
        let company = &self.system.intacct;
        let invoice = company
            .find("ARINVOICE", "SFDC_OPPORTUNITY_ID", &u.opportunity)
            .into_iter()
            .next()
            .ok_or_else(|| format!("unit {}: no invoice to pay", u.n))?;
        let field = |f: &str| invoice.get(f).cloned().unwrap_or_default();
        let total: Decimal = field("TRX_TOTALENTERED").parse().map_err(|e| {
            format!(
                "unit {}: invoice total {:?}: {e}",
                u.n,
                field("TRX_TOTALENTERED")
            )
        })?;
        let amount = (total / Decimal::TWO).round_dp(2);
        let payment = lf_intacct::record::LegacyArPaymentCreate {
            customer_id: customer.clone(),
            payment_amount: amount,
            bank_account_id: Some("BANK-OPS".into()),
            reference_id: Some(format!("CHAOS-{}", u.n)),
            date_received: Some(chrono::Utc::now().date_naive()),
            payment_method: "EFT".into(),
            currency: Some(field("CURRENCY")).filter(|c| !c.is_empty()),
            applied: vec![(field("RECORDNO"), amount)],
            ..Default::default()
        };
        let entity = Some(field("MEGAENTITYID"))
            .filter(|e| !e.is_empty())
            .map(|e| EntityId::parse(&e))
            .transpose()?;
        let mut tries = 0;
        loop {
            let call = self
                .system
                .accountant
                .call(
                    entity.as_ref(),
                    lf_intacct::Function::raw(payment.to_element()?, true),
                )
                .await;
            match call {
                Ok(_) => return Ok(amount),
                Err(_) if company.count_where("ARPYMT", "CUSTOMERID", &customer) > 0 => {
                    return Ok(amount);
                }
                Err(e) if tries < 40 => {
                    tracing::debug!(error = %e, "payment: trying again");
                    tries += 1;
                    self.accountant_retries += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(format!("unit {}: payment: {e}", u.n).into()),
            }
        }
    }
}
