//! The org's schema: which sObjects exist, their fields, and how they relate.
//!
//! Standard objects carry the standard fields the flows read; our own custom fields and
//! `Revenue_Reconciliation__c` match the SFDX metadata in `infra/salesforce` exactly (a test
//! compares them); the CPQ objects carry the `SBQQ__` fields the quote-to-cash flow reads.

use std::collections::HashMap;
use std::sync::OnceLock;

/// A field's data type, as `describe` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Id,
    String,
    TextArea,
    Email,
    Phone,
    Url,
    Picklist,
    Boolean,
    Currency,
    Double,
    Percent,
    Int,
    Date,
    DateTime,
    Reference,
}

impl FieldType {
    /// The `type` value in a describe result.
    pub fn api_name(self) -> &'static str {
        match self {
            FieldType::Id => "id",
            FieldType::String => "string",
            FieldType::TextArea => "textarea",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
            FieldType::Picklist => "picklist",
            FieldType::Boolean => "boolean",
            FieldType::Currency => "currency",
            FieldType::Double => "double",
            FieldType::Percent => "percent",
            FieldType::Int => "int",
            FieldType::Date => "date",
            FieldType::DateTime => "datetime",
            FieldType::Reference => "reference",
        }
    }

    pub(crate) fn soap_type(self) -> &'static str {
        match self {
            FieldType::Id | FieldType::Reference => "tns:ID",
            FieldType::Boolean => "xsd:boolean",
            FieldType::Currency | FieldType::Double | FieldType::Percent => "xsd:double",
            FieldType::Int => "xsd:int",
            FieldType::Date => "xsd:date",
            FieldType::DateTime => "xsd:dateTime",
            _ => "xsd:string",
        }
    }

    /// Text-like types compare case-insensitively in SOQL and carry a length.
    pub(crate) fn is_text(self) -> bool {
        matches!(
            self,
            FieldType::String
                | FieldType::TextArea
                | FieldType::Email
                | FieldType::Phone
                | FieldType::Url
                | FieldType::Picklist
        )
    }

    pub(crate) fn is_number(self) -> bool {
        matches!(
            self,
            FieldType::Currency | FieldType::Double | FieldType::Percent | FieldType::Int
        )
    }

    pub(crate) fn is_id(self) -> bool {
        matches!(self, FieldType::Id | FieldType::Reference)
    }
}

/// One field of an sObject.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub name: &'static str,
    pub label: String,
    pub kind: FieldType,
    /// Characters, for text types.
    pub length: u32,
    /// Total digits and digits after the point, for number types.
    pub precision: u32,
    pub scale: u32,
    pub nillable: bool,
    pub createable: bool,
    pub updateable: bool,
    pub external_id: bool,
    pub unique: bool,
    pub custom: bool,
    /// Picklist values; the first is the default when `defaulted` is set.
    pub picklist: Vec<&'static str>,
    /// A restricted picklist refuses values outside `picklist`.
    pub restricted: bool,
    /// Gets a value on create when none is given (owner, currency, picklist default...).
    pub defaulted: bool,
    pub reference_to: Vec<&'static str>,
    pub relationship_name: Option<&'static str>,
    /// The field of a child relationship (`OpportunityLineItem.OpportunityId`): the store
    /// indexes it, so a parent-to-child subquery finds each parent's children without a scan.
    pub child_key: bool,
    /// Computed by the org (formula, roll-up, system field): never writable.
    pub calculated: bool,
    pub auto_number: bool,
}

impl FieldDef {
    fn new(name: &'static str, kind: FieldType) -> Self {
        let (length, precision, scale) = match kind {
            FieldType::Id | FieldType::Reference => (18, 0, 0),
            FieldType::String | FieldType::Url | FieldType::Email => (255, 0, 0),
            FieldType::Phone => (40, 0, 0),
            FieldType::Picklist => (255, 0, 0),
            FieldType::TextArea => (32000, 0, 0),
            FieldType::Currency => (0, 18, 2),
            FieldType::Double => (0, 18, 2),
            FieldType::Percent => (0, 3, 0),
            FieldType::Int => (0, 9, 0),
            _ => (0, 0, 0),
        };
        Self {
            name,
            label: label_of(name),
            kind,
            length,
            precision,
            scale,
            nillable: kind != FieldType::Boolean,
            createable: true,
            updateable: true,
            external_id: false,
            unique: false,
            custom: name.ends_with("__c"),
            picklist: Vec::new(),
            restricted: false,
            defaulted: kind == FieldType::Boolean,
            reference_to: Vec::new(),
            relationship_name: None,
            child_key: false,
            calculated: false,
            auto_number: false,
        }
    }

    /// Whether a create must name this field.
    pub fn required_on_create(&self) -> bool {
        !self.nillable && self.createable && !self.defaulted
    }

    fn required(mut self) -> Self {
        self.nillable = false;
        self
    }
    fn len(mut self, n: u32) -> Self {
        self.length = n;
        self
    }
    fn num(mut self, precision: u32, scale: u32) -> Self {
        self.precision = precision;
        self.scale = scale;
        self
    }
    /// Read-only: computed by the org.
    fn computed(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self.calculated = true;
        self
    }
    /// Set on create, fixed afterwards.
    fn create_only(mut self) -> Self {
        self.updateable = false;
        self
    }
    fn external_id(mut self) -> Self {
        self.external_id = true;
        self.unique = true;
        self
    }
    fn values(mut self, values: &[&'static str]) -> Self {
        self.picklist = values.to_vec();
        self
    }
    fn restricted(mut self) -> Self {
        self.restricted = true;
        self
    }
    fn defaulted(mut self) -> Self {
        self.defaulted = true;
        self
    }
    fn label(mut self, label: &str) -> Self {
        label.clone_into(&mut self.label);
        self
    }
}

fn text(name: &'static str, length: u32) -> FieldDef {
    FieldDef::new(name, FieldType::String).len(length)
}
fn textarea(name: &'static str, length: u32) -> FieldDef {
    FieldDef::new(name, FieldType::TextArea).len(length)
}
fn currency(name: &'static str, precision: u32, scale: u32) -> FieldDef {
    FieldDef::new(name, FieldType::Currency).num(precision, scale)
}
fn double(name: &'static str, precision: u32, scale: u32) -> FieldDef {
    FieldDef::new(name, FieldType::Double).num(precision, scale)
}
fn percent(name: &'static str, precision: u32, scale: u32) -> FieldDef {
    FieldDef::new(name, FieldType::Percent).num(precision, scale)
}
fn int(name: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::Int)
}
fn date(name: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::Date)
}
fn datetime(name: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::DateTime)
}
fn boolean(name: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::Boolean)
}
fn picklist(name: &'static str, values: &[&'static str]) -> FieldDef {
    FieldDef::new(name, FieldType::Picklist).values(values)
}
fn email(name: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::Email).len(80)
}
fn phone(name: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::Phone)
}
fn url(name: &'static str) -> FieldDef {
    FieldDef::new(name, FieldType::Url)
}
fn reference(name: &'static str, to: &[&'static str], relationship: &'static str) -> FieldDef {
    let mut f = FieldDef::new(name, FieldType::Reference);
    f.reference_to = to.to_vec();
    f.relationship_name = Some(relationship);
    f
}
fn auto_number(name: &'static str) -> FieldDef {
    let mut f = text(name, 80).computed();
    f.auto_number = true;
    f.nillable = false;
    f.label = "Name".to_owned();
    f
}

/// Turns `BillingPostalCode` / `Intacct_Customer_ID__c` into a readable label.
fn label_of(name: &str) -> String {
    let base = name.strip_suffix("__c").unwrap_or(name);
    let base = base.strip_prefix("SBQQ__").unwrap_or(base);
    let base = base
        .strip_suffix("Id")
        .filter(|b| !b.is_empty())
        .unwrap_or(base);
    let mut out = String::new();
    let chars: Vec<char> = base.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            out.push(' ');
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1);
        let boundary = c.is_ascii_uppercase()
            && prev.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        if boundary {
            out.push(' ');
        }
        out.push(c);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A child relationship: records of `child` whose `field` points at the parent.
#[derive(Debug, Clone)]
pub struct ChildRelationship {
    pub child: &'static str,
    pub field: &'static str,
    pub name: &'static str,
    pub cascade_delete: bool,
}

/// One sObject type.
#[derive(Debug, Clone)]
pub struct ObjectDef {
    pub name: &'static str,
    pub label: String,
    pub label_plural: String,
    pub key_prefix: &'static str,
    pub custom: bool,
    pub fields: Vec<FieldDef>,
    pub children: Vec<ChildRelationship>,
    /// Auto-number display format, e.g. `Q-{00000}`.
    pub auto_number_format: Option<&'static str>,
    index: HashMap<String, usize>,
}

impl ObjectDef {
    /// The field named `name`, case-insensitively.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.index
            .get(&name.to_ascii_lowercase())
            .map(|&i| &self.fields[i])
    }

    /// The reference field whose relationship name is `name`, case-insensitively.
    pub fn parent_relationship(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| {
            f.relationship_name
                .is_some_and(|r| r.eq_ignore_ascii_case(name))
        })
    }

    /// The child relationship named `name`, case-insensitively.
    pub fn child_relationship(&self, name: &str) -> Option<&ChildRelationship> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    pub fn has_field(&self, name: &str) -> bool {
        self.field(name).is_some()
    }
}

/// Every object of the org.
#[derive(Debug)]
pub struct Schema {
    objects: Vec<ObjectDef>,
    by_name: HashMap<String, usize>,
    by_prefix: HashMap<&'static str, usize>,
}

impl Schema {
    /// The one schema of the emulated org.
    pub fn get() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(build)
    }

    pub fn objects(&self) -> &[ObjectDef] {
        &self.objects
    }

    /// The object named `name`, case-insensitively.
    pub fn object(&self, name: &str) -> Option<&ObjectDef> {
        self.by_name
            .get(&name.to_ascii_lowercase())
            .map(|&i| &self.objects[i])
    }

    /// The object whose ids start with `prefix`.
    pub fn object_by_prefix(&self, prefix: &str) -> Option<&ObjectDef> {
        self.by_prefix.get(prefix).map(|&i| &self.objects[i])
    }
}

/// Currencies active in the org (the restricted `CurrencyIsoCode` picklist). USD is the
/// corporate currency.
pub const CURRENCIES: &[&str] = &["USD", "EUR", "GBP", "CAD", "AUD", "JPY", "CHF"];
/// The corporate currency, the default for records created without one.
pub const CORPORATE_CURRENCY: &str = "USD";

/// Opportunity stages: name, default probability, closed, won.
pub const STAGES: &[(&str, u32, bool, bool)] = &[
    ("Prospecting", 10, false, false),
    ("Qualification", 10, false, false),
    ("Needs Analysis", 20, false, false),
    ("Value Proposition", 50, false, false),
    ("Id. Decision Makers", 60, false, false),
    ("Perception Analysis", 70, false, false),
    ("Proposal/Price Quote", 75, false, false),
    ("Negotiation/Review", 90, false, false),
    ("Closed Won", 100, true, true),
    ("Closed Lost", 0, true, false),
];

struct ObjectSpec {
    name: &'static str,
    label: &'static str,
    plural: &'static str,
    prefix: &'static str,
    owned: bool,
    currency: bool,
    auto_number: Option<&'static str>,
    fields: Vec<FieldDef>,
}

fn system_fields(spec: &ObjectSpec) -> Vec<FieldDef> {
    let mut out = vec![
        FieldDef::new("Id", FieldType::Id)
            .computed()
            .required()
            .label(&format!("{} ID", spec.label)),
        boolean("IsDeleted").computed().label("Deleted"),
    ];
    if let Some(_format) = spec.auto_number {
        out.push(auto_number("Name"));
    }
    out.extend([
        datetime("CreatedDate").computed().required(),
        reference("CreatedById", &["User"], "CreatedBy")
            .computed()
            .required(),
        datetime("LastModifiedDate").computed().required(),
        reference("LastModifiedById", &["User"], "LastModifiedBy")
            .computed()
            .required(),
        datetime("SystemModstamp").computed().required(),
    ]);
    if spec.owned {
        out.push(
            reference("OwnerId", &["User"], "Owner")
                .required()
                .defaulted()
                .label("Owner ID"),
        );
    }
    if spec.currency {
        out.push(
            picklist("CurrencyIsoCode", CURRENCIES)
                .restricted()
                .required()
                .defaulted()
                .len(3)
                .label(&format!("{} Currency", spec.label)),
        );
    }
    out
}

const SYNC_STATUSES: &[&str] = &["Pending", "Synced", "Error", "Needs Review", "Skipped"];
/// An Account's sync status can also say its Intacct customer is inactive.
const ACCOUNT_SYNC_STATUSES: &[&str] = &[
    "Pending",
    "Synced",
    "Error",
    "Needs Review",
    "Skipped",
    "Inactive in Intacct",
];
/// Payment terms as sales agree them; the mapping specs translate them to Intacct terms.
pub const PAYMENT_TERMS: &[&str] = &["Net 15", "Net 30", "Net 45", "Net 60", "Due on Receipt"];
/// Business units; `Education` routes to the Intacct education entity.
pub const BUSINESS_UNITS: &[&str] = &["Commercial", "Education"];

fn specs() -> Vec<ObjectSpec> {
    let stage_names: Vec<&'static str> = STAGES.iter().map(|s| s.0).collect();
    vec![
        ObjectSpec {
            name: "User",
            label: "User",
            plural: "Users",
            prefix: "005",
            owned: false,
            currency: false,
            auto_number: None,
            fields: vec![
                text("Username", 80).required(),
                text("FirstName", 40),
                text("LastName", 80).required(),
                text("Name", 121).computed().label("Full Name"),
                email("Email").len(128).required(),
                text("Alias", 8).required(),
                text("Title", 80),
                text("Department", 80),
                boolean("IsActive").label("Active"),
            ],
        },
        ObjectSpec {
            name: "Account",
            label: "Account",
            plural: "Accounts",
            prefix: "001",
            owned: true,
            currency: true,
            auto_number: None,
            fields: vec![
                text("Name", 255).required().label("Account Name"),
                picklist(
                    "Type",
                    &[
                        "Prospect",
                        "Customer - Direct",
                        "Customer - Channel",
                        "Channel Partner / Reseller",
                        "Installation Partner",
                        "Technology Partner",
                        "Other",
                    ],
                ),
                picklist(
                    "Industry",
                    &[
                        "Agriculture",
                        "Banking",
                        "Consulting",
                        "Education",
                        "Energy",
                        "Healthcare",
                        "Manufacturing",
                        "Media",
                        "Retail",
                        "Technology",
                        "Transportation",
                        "Other",
                    ],
                ),
                text("AccountNumber", 40),
                reference("ParentId", &["Account"], "Parent"),
                phone("Phone"),
                phone("Fax").label("Account Fax"),
                url("Website"),
                textarea("Description", 32000),
                textarea("BillingStreet", 255),
                text("BillingCity", 40),
                text("BillingState", 80),
                text("BillingPostalCode", 20),
                text("BillingCountry", 80),
                textarea("ShippingStreet", 255),
                text("ShippingCity", 40),
                text("ShippingState", 80),
                text("ShippingPostalCode", 20),
                text("ShippingCountry", 80),
                currency("AnnualRevenue", 18, 0),
                int("NumberOfEmployees").num(8, 0).label("Employees"),
                text("Tax_ID__c", 40),
                picklist("Payment_Terms__c", PAYMENT_TERMS).restricted(),
                picklist("Business_Unit__c", BUSINESS_UNITS).restricted(),
                currency("Credit_Limit__c", 16, 2),
                text("Intacct_Customer_ID__c", 80).external_id(),
                text("Intacct_Entity__c", 80),
                currency("Intacct_Balance__c", 16, 2),
                currency("Intacct_Overdue_Balance__c", 16, 2),
                date("Intacct_Last_Payment_Date__c"),
                currency("Intacct_Last_Payment_Amount__c", 16, 2),
                picklist(
                    "Intacct_Invoice_Status__c",
                    &[
                        "Current",
                        "Open",
                        "Partially Paid",
                        "Paid",
                        "Overdue",
                        "Draft",
                    ],
                ),
                currency("Intacct_Lifetime_Value__c", 16, 2),
                currency("Intacct_Credit_Limit__c", 16, 2),
                picklist(
                    "Credit_Status__c",
                    &["OK", "Overdue", "Over Limit", "On Hold"],
                )
                .restricted(),
                picklist("Intacct_Sync_Status__c", ACCOUNT_SYNC_STATUSES),
                textarea("Intacct_Sync_Error__c", 32768),
                datetime("Intacct_Last_Synced__c"),
            ],
        },
        ObjectSpec {
            name: "Contact",
            label: "Contact",
            plural: "Contacts",
            prefix: "003",
            owned: true,
            currency: true,
            auto_number: None,
            fields: vec![
                reference("AccountId", &["Account"], "Account"),
                text("FirstName", 40),
                text("LastName", 80).required(),
                text("Name", 121).computed().label("Full Name"),
                email("Email"),
                phone("Phone"),
                phone("MobilePhone"),
                text("Title", 128),
                text("Department", 80),
                textarea("MailingStreet", 255),
                text("MailingCity", 40),
                text("MailingState", 80),
                text("MailingPostalCode", 20),
                text("MailingCountry", 80),
                textarea("Description", 32000),
                {
                    // An external id without a unique index: Intacct contact names are
                    // unique per company, not across entities.
                    let mut f = text("Intacct_Contact_Name__c", 200).external_id();
                    f.unique = false;
                    f
                },
            ],
        },
        ObjectSpec {
            name: "Pricebook2",
            label: "Price Book",
            plural: "Price Books",
            prefix: "01s",
            owned: false,
            currency: false,
            auto_number: None,
            fields: vec![
                text("Name", 255).required().label("Price Book Name"),
                boolean("IsActive").label("Active"),
                boolean("IsStandard")
                    .computed()
                    .label("Is Standard Price Book"),
                text("Description", 255),
            ],
        },
        ObjectSpec {
            name: "Product2",
            label: "Product",
            plural: "Products",
            prefix: "01t",
            owned: false,
            currency: true,
            auto_number: None,
            fields: vec![
                text("Name", 255).required().label("Product Name"),
                text("ProductCode", 255),
                textarea("Description", 4000),
                picklist(
                    "Family",
                    &["Subscription", "Services", "Training", "Hardware"],
                ),
                boolean("IsActive").label("Active"),
                text("QuantityUnitOfMeasure", 255),
            ],
        },
        ObjectSpec {
            name: "PricebookEntry",
            label: "Price Book Entry",
            plural: "Price Book Entries",
            prefix: "01u",
            owned: false,
            currency: true,
            auto_number: None,
            fields: vec![
                text("Name", 255).computed().label("Product Name"),
                reference("Pricebook2Id", &["Pricebook2"], "Pricebook2")
                    .required()
                    .create_only(),
                reference("Product2Id", &["Product2"], "Product2")
                    .required()
                    .create_only(),
                currency("UnitPrice", 18, 2).required().label("List Price"),
                boolean("IsActive").label("Active"),
                boolean("UseStandardPrice"),
                text("ProductCode", 255).computed(),
            ],
        },
        ObjectSpec {
            name: "Opportunity",
            label: "Opportunity",
            plural: "Opportunities",
            prefix: "006",
            owned: true,
            currency: true,
            auto_number: None,
            fields: vec![
                text("Name", 120).required(),
                reference("AccountId", &["Account"], "Account"),
                reference("ContactId", &["Contact"], "Contact"),
                reference("Pricebook2Id", &["Pricebook2"], "Pricebook2"),
                currency("Amount", 18, 2),
                date("CloseDate").required(),
                picklist("StageName", &stage_names)
                    .required()
                    .label("Stage"),
                percent("Probability", 3, 0).defaulted(),
                picklist(
                    "Type",
                    &[
                        "Existing Customer - Upgrade",
                        "Existing Customer - Replacement",
                        "Existing Customer - Downgrade",
                        "New Customer",
                    ],
                ),
                picklist(
                    "LeadSource",
                    &[
                        "Web",
                        "Phone Inquiry",
                        "Partner Referral",
                        "Purchased List",
                        "External Referral",
                        "Other",
                    ],
                ),
                text("NextStep", 255),
                textarea("Description", 32000),
                boolean("IsClosed").computed().label("Closed"),
                boolean("IsWon").computed().label("Won"),
                int("FiscalYear").computed(),
                int("FiscalQuarter").computed(),
                boolean("HasOpportunityLineItem")
                    .computed()
                    .label("Has Line Item"),
                reference(
                    "SBQQ__PrimaryQuote__c",
                    &["SBQQ__Quote__c"],
                    "SBQQ__PrimaryQuote__r",
                ),
                text("PO_Number__c", 40),
                picklist("Payment_Terms__c", PAYMENT_TERMS).restricted(),
                picklist("Business_Unit__c", BUSINESS_UNITS).restricted(),
                text("Intacct_Invoice_ID__c", 80),
                text("Intacct_Sales_Order_ID__c", 80),
                picklist(
                    "Intacct_Invoice_Status__c",
                    &["Open", "Partially Paid", "Paid", "Overdue", "Draft"],
                ),
                picklist("Intacct_Sync_Status__c", SYNC_STATUSES),
                textarea("Intacct_Sync_Error__c", 32768),
                currency("Recognized_Revenue__c", 16, 2),
                currency("Revenue_Variance__c", 16, 2),
            ],
        },
        ObjectSpec {
            name: "OpportunityLineItem",
            label: "Opportunity Product",
            plural: "Opportunity Product",
            prefix: "00k",
            owned: false,
            currency: false,
            auto_number: None,
            fields: vec![
                reference("OpportunityId", &["Opportunity"], "Opportunity")
                    .required()
                    .create_only(),
                reference("PricebookEntryId", &["PricebookEntry"], "PricebookEntry")
                    .required()
                    .create_only(),
                reference("Product2Id", &["Product2"], "Product2").computed(),
                text("ProductCode", 255).computed(),
                text("Name", 376)
                    .computed()
                    .label("Opportunity Product Name"),
                double("Quantity", 12, 2).required(),
                currency("UnitPrice", 18, 2).label("Sales Price"),
                currency("ListPrice", 18, 2).computed(),
                currency("TotalPrice", 18, 2),
                currency("Subtotal", 18, 2).computed(),
                percent("Discount", 5, 2),
                date("ServiceDate").label("Date"),
                date("End_Date__c"),
                text("Description", 255).label("Line Description"),
                int("SortOrder").computed(),
                picklist("CurrencyIsoCode", CURRENCIES)
                    .len(3)
                    .computed()
                    .required()
                    .label("Currency ISO Code"),
            ],
        },
        ObjectSpec {
            name: "Task",
            label: "Task",
            plural: "Tasks",
            prefix: "00T",
            owned: true,
            currency: true,
            auto_number: None,
            fields: vec![
                text("Subject", 255),
                picklist(
                    "Status",
                    &[
                        "Not Started",
                        "In Progress",
                        "Completed",
                        "Waiting on someone else",
                        "Deferred",
                    ],
                )
                .required()
                .defaulted(),
                picklist("Priority", &["Normal", "High", "Low"])
                    .required()
                    .defaulted(),
                date("ActivityDate").label("Due Date Only"),
                reference(
                    "WhatId",
                    &["Account", "Opportunity", "SBQQ__Quote__c"],
                    "What",
                )
                .label("Related To ID"),
                reference("WhoId", &["Contact"], "Who").label("Name ID"),
                textarea("Description", 32000),
                boolean("IsClosed").computed().label("Closed"),
                boolean("IsHighPriority").computed().label("High Priority"),
                text("Ledgerforce_Key__c", 255).external_id(),
            ],
        },
        ObjectSpec {
            name: "SBQQ__Quote__c",
            label: "Quote",
            plural: "Quotes",
            prefix: "a1Q",
            owned: true,
            currency: true,
            auto_number: Some("Q-{00000}"),
            fields: vec![
                reference(
                    "SBQQ__Opportunity2__c",
                    &["Opportunity"],
                    "SBQQ__Opportunity2__r",
                ),
                reference("SBQQ__Account__c", &["Account"], "SBQQ__Account__r"),
                boolean("SBQQ__Primary__c"),
                picklist(
                    "SBQQ__Status__c",
                    &[
                        "Draft",
                        "In Review",
                        "Approved",
                        "Denied",
                        "Presented",
                        "Accepted",
                        "Rejected",
                    ],
                )
                .defaulted(),
                date("SBQQ__StartDate__c"),
                date("SBQQ__EndDate__c"),
                double("SBQQ__SubscriptionTerm__c", 5, 0),
                currency("SBQQ__NetAmount__c", 18, 2).computed(),
            ],
        },
        ObjectSpec {
            name: "SBQQ__QuoteLine__c",
            label: "Quote Line",
            plural: "Quote Lines",
            prefix: "a1R",
            owned: false,
            currency: false,
            auto_number: Some("QL-{0000000}"),
            fields: vec![
                reference("SBQQ__Quote__c", &["SBQQ__Quote__c"], "SBQQ__Quote__r")
                    .required()
                    .create_only(),
                reference("SBQQ__Product__c", &["Product2"], "SBQQ__Product__r").required(),
                // A formula over the product in CPQ: read-only through the API.
                text("SBQQ__ProductCode__c", 255).computed(),
                textarea("SBQQ__Description__c", 131072),
                double("SBQQ__Quantity__c", 14, 2).required(),
                currency("SBQQ__ListPrice__c", 18, 2),
                currency("SBQQ__NetPrice__c", 18, 2),
                percent("SBQQ__Discount__c", 5, 2).label("Additional Disc. (%)"),
                currency("SBQQ__NetTotal__c", 18, 2).computed(),
                date("SBQQ__StartDate__c"),
                date("SBQQ__EndDate__c"),
                int("SBQQ__Number__c"),
                picklist("CurrencyIsoCode", CURRENCIES)
                    .len(3)
                    .computed()
                    .required()
                    .label("Currency ISO Code"),
            ],
        },
        // Advanced currency management: one rate per currency and period, each period
        // running from StartDate up to the next period's (NextStartDate, kept by the org).
        ObjectSpec {
            name: "DatedConversionRate",
            label: "Dated Exchange Rate",
            plural: "Dated Exchange Rates",
            prefix: "04w",
            owned: false,
            currency: false,
            auto_number: None,
            fields: vec![
                picklist("IsoCode", CURRENCIES)
                    .restricted()
                    .required()
                    .len(3)
                    .label("Currency ISO Code"),
                double("ConversionRate", 18, 6)
                    .required()
                    .label("Conversion Rate"),
                date("StartDate").required().label("Start Date"),
                date("NextStartDate").computed().label("Next Start Date"),
            ],
        },
        ObjectSpec {
            name: "Revenue_Reconciliation__c",
            label: "Revenue Reconciliation",
            plural: "Revenue Reconciliations",
            prefix: "a2R",
            owned: true,
            currency: true,
            auto_number: Some("RR-{000000}"),
            fields: vec![
                reference("Account__c", &["Account"], "Account__r").label("Account"),
                text("Period__c", 7).required(),
                text("Reconciliation_Key__c", 64).external_id().required(),
                currency("Booked_Amount__c", 16, 2),
                currency("Recognized_Amount__c", 16, 2),
                currency("Variance__c", 16, 2),
            ],
        },
        // Setup objects `ledgerforce doctor` reads to check the Flow path: the Flows' active
        // state, where the Named Credential points, and whether the signing key is set. Setup
        // records are made by deploying metadata, not through the data API; tests and the
        // local stack insert them as that deployment would leave them.
        ObjectSpec {
            name: "FlowDefinitionView",
            label: "Flow Definition",
            plural: "Flow Definitions",
            prefix: "300",
            owned: false,
            currency: false,
            auto_number: None,
            fields: vec![
                text("ApiName", 80).required().label("API Name"),
                text("Label", 80).required(),
                boolean("IsActive").label("Is Active"),
                text("ProcessType", 40).label("Process Type"),
                text("TriggerType", 40).label("Trigger Type"),
            ],
        },
        ObjectSpec {
            name: "NamedCredential",
            label: "Named Credential",
            plural: "Named Credentials",
            prefix: "0XA",
            owned: false,
            currency: false,
            auto_number: None,
            fields: vec![
                text("DeveloperName", 80).required().label("Name"),
                text("MasterLabel", 80).required().label("Label"),
                textarea("Endpoint", 1000).label("URL"),
            ],
        },
        ObjectSpec {
            name: "Ledgerforce_Settings__c",
            label: "Ledgerforce Settings",
            plural: "Ledgerforce Settings",
            prefix: "a3L",
            owned: false,
            currency: false,
            auto_number: None,
            fields: vec![
                text("Name", 38),
                text("SetupOwnerId", 18).label("Location"),
                text("Signing_Key__c", 255),
            ],
        },
    ]
}

/// Child relationship names, by (child object, field): what a subquery's FROM names.
const CHILD_NAMES: &[(&str, &str, &str, bool)] = &[
    ("Contact", "AccountId", "Contacts", false),
    ("Opportunity", "AccountId", "Opportunities", false),
    ("Opportunity", "ContactId", "Opportunities", false),
    ("Account", "ParentId", "ChildAccounts", false),
    (
        "OpportunityLineItem",
        "OpportunityId",
        "OpportunityLineItems",
        true,
    ),
    ("PricebookEntry", "Product2Id", "PricebookEntries", true),
    ("PricebookEntry", "Pricebook2Id", "PricebookEntries", true),
    ("Task", "WhatId", "Tasks", true),
    ("Task", "WhoId", "Tasks", true),
    (
        "SBQQ__Quote__c",
        "SBQQ__Opportunity2__c",
        "SBQQ__Quotes2__r",
        false,
    ),
    (
        "SBQQ__Quote__c",
        "SBQQ__Account__c",
        "SBQQ__Quotes__r",
        false,
    ),
    (
        "SBQQ__QuoteLine__c",
        "SBQQ__Quote__c",
        "SBQQ__LineItems__r",
        true,
    ),
    (
        "Revenue_Reconciliation__c",
        "Account__c",
        "Revenue_Reconciliations__r",
        false,
    ),
];

fn build() -> Schema {
    let mut objects: Vec<ObjectDef> = specs()
        .into_iter()
        .map(|spec| {
            let mut fields = system_fields(&spec);
            fields.extend(spec.fields.iter().cloned());
            let index = fields
                .iter()
                .enumerate()
                .map(|(i, f)| (f.name.to_ascii_lowercase(), i))
                .collect();
            ObjectDef {
                name: spec.name,
                label: spec.label.to_owned(),
                label_plural: spec.plural.to_owned(),
                key_prefix: spec.prefix,
                custom: spec.name.ends_with("__c"),
                fields,
                children: Vec::new(),
                auto_number_format: spec.auto_number,
                index,
            }
        })
        .collect();
    for &(child, field, _, _) in CHILD_NAMES {
        if let Some(f) = objects
            .iter_mut()
            .find(|o| o.name == child)
            .and_then(|o| o.fields.iter_mut().find(|f| f.name == field))
        {
            f.child_key = true;
        }
    }
    for &(child, field, name, cascade) in CHILD_NAMES {
        let parents: Vec<&'static str> = objects
            .iter()
            .find(|o| o.name == child)
            .and_then(|o| o.field(field))
            .map(|f| f.reference_to.clone())
            .unwrap_or_default();
        for parent in parents {
            if let Some(p) = objects.iter_mut().find(|o| o.name == parent) {
                p.children.push(ChildRelationship {
                    child,
                    field,
                    name,
                    cascade_delete: cascade,
                });
            }
        }
    }
    let by_name = objects
        .iter()
        .enumerate()
        .map(|(i, o)| (o.name.to_ascii_lowercase(), i))
        .collect();
    let by_prefix = objects
        .iter()
        .enumerate()
        .map(|(i, o)| (o.key_prefix, i))
        .collect();
    Schema {
        objects,
        by_name,
        by_prefix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_case_insensitive_and_relationships_resolve() {
        let s = Schema::get();
        let opp = s.object("opportunity").unwrap();
        assert_eq!(opp.name, "Opportunity");
        assert_eq!(opp.field("stagename").unwrap().name, "StageName");
        assert_eq!(
            opp.parent_relationship("account").unwrap().name,
            "AccountId"
        );
        assert_eq!(
            opp.child_relationship("opportunitylineitems")
                .unwrap()
                .child,
            "OpportunityLineItem"
        );
        assert_eq!(s.object_by_prefix("001").unwrap().name, "Account");
        let acct = s.object("Account").unwrap();
        assert!(acct.field("Intacct_Customer_ID__c").unwrap().external_id);
        assert!(acct.field("Name").unwrap().required_on_create());
        assert!(!acct.field("OwnerId").unwrap().required_on_create());
        assert!(
            acct.child_relationship("Revenue_Reconciliations__r")
                .is_some()
        );
    }

    #[test]
    fn labels_read_like_salesforce_labels() {
        assert_eq!(label_of("BillingPostalCode"), "Billing Postal Code");
        assert_eq!(label_of("Intacct_Customer_ID__c"), "Intacct Customer ID");
        assert_eq!(label_of("AccountId"), "Account");
        assert_eq!(
            label_of("SBQQ__NetAmount__c"),
            "NetAmount".replace("tA", "t A")
        );
    }
}
