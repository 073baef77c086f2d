//! The spec file format, as written in `infra/mappings/*.yaml`. These types are the single source
//! of truth: serde reads them (`deny_unknown_fields` everywhere) and schemars turns them into the
//! JSON Schema shipped for editors. Names, paths, types and expressions are kept as text here;
//! the compile step validates them and reports every problem with its position.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::yaml::Located;

/// One spec file: either the mapping of one flow (`flow:`), or a library of reusable pieces
/// (`library:`) that flow files `include`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    /// The flow this file configures: opportunity-won, invoice-status, account-sync,
    /// credit-alerts, account-onboarding or revenue-reconciliation.
    pub flow: Option<String>,
    /// The name other files use to `include` this library.
    pub library: Option<String>,
    /// What this file is for, in a sentence.
    pub description: Option<String>,
    /// Libraries whose objects, lookups, field groups, entities, routings and matching rules
    /// this file may use.
    #[serde(default)]
    pub include: Vec<Located<String>>,
    /// Object declarations: the fields of a Salesforce or Intacct object and their types.
    #[serde(default)]
    pub objects: BTreeMap<String, Located<ObjectSpec>>,
    /// Lookup tables: value → value, with an optional default.
    #[serde(default)]
    pub lookups: BTreeMap<String, Located<LookupSpec>>,
    /// Named lists of field mappings that several mappings reuse (`- group: name`).
    #[serde(default)]
    pub field_groups: BTreeMap<String, Located<Vec<Located<FieldSpec>>>>,
    /// Intacct entities (LOCATIONID) and their defaults.
    #[serde(default)]
    pub entities: BTreeMap<String, Located<EntitySpec>>,
    /// Entity routing: ordered rules that pick the entity for a record.
    #[serde(default)]
    pub routings: BTreeMap<String, Located<RoutingSpec>>,
    /// Matching (dedup) rules used before anything is created.
    #[serde(default)]
    pub matching: BTreeMap<String, Located<MatchingSpec>>,
    /// The mappings of this flow: source object → target object.
    #[serde(default)]
    pub mappings: BTreeMap<String, Located<MappingSpec>>,
    /// Test cases: an input record and what the mapping must produce.
    #[serde(default)]
    pub tests: Vec<Located<TestSpec>>,
}

/// Which system an object lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SystemName {
    Salesforce,
    Intacct,
}

impl From<SystemName> for lf_domain::System {
    fn from(s: SystemName) -> Self {
        match s {
            SystemName::Salesforce => lf_domain::System::Salesforce,
            SystemName::Intacct => lf_domain::System::Intacct,
        }
    }
}

/// The fields of one object. Types: `string`, `string(N)` (at most N characters), `id`, `bool`,
/// `int`, `decimal`, `date`, `datetime`, `any`, `ref(Object)` (a nested record or element),
/// `list(Object)` (repeated elements), `children(Object)` (a Salesforce child relationship:
/// `{records: [...]}`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectSpec {
    pub system: SystemName,
    pub description: Option<String>,
    /// Field name → type.
    pub fields: BTreeMap<String, String>,
}

/// A lookup table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupSpec {
    pub description: Option<String>,
    /// Input value → output value. Inputs are compared as text.
    pub values: BTreeMap<String, Value>,
    /// Output when the input is not in `values`. Without it, an unknown input is an error
    /// (unless `passthrough`).
    pub default: Option<Value>,
    /// Compare inputs ignoring case and surrounding spaces.
    #[serde(default)]
    pub case_insensitive: bool,
    /// Pass unknown inputs through unchanged instead of failing.
    #[serde(default)]
    pub passthrough: bool,
}

/// An Intacct entity and the defaults every record routed to it gets.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntitySpec {
    /// Display name.
    pub name: Option<String>,
    /// The entity's base (functional) currency, ISO 4217.
    pub base_currency: String,
    /// The Intacct exchange rate type (EXCHRATETYPE, e.g. `Intacct Daily Rate`) the entity's
    /// documents carry: Intacct converts them at the document date with the rates of this type.
    /// Specs hold no exchange rates.
    pub exchange_rate_type: String,
    /// Tax solution id (Avalara, VAT solution...).
    pub tax_solution: Option<String>,
    /// Default tax code / schedule.
    pub tax_code: Option<String>,
    /// AR control account number.
    pub ar_account: Option<String>,
    /// Default payment terms (TERMNAME).
    pub terms: Option<String>,
    /// Dimension defaults, e.g. `department: SALES`, `class: ENT`.
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
}

/// A decimal written as a number or as text; kept as text so no digit is lost.
#[derive(Debug, JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
enum DecimalText {
    Number(f64),
    Text(String),
}

/// Ordered routing rules: the first whose `when` is true picks the entity.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutingSpec {
    pub description: Option<String>,
    /// The object the rules read (the mapping's source object).
    pub object: String,
    pub rules: Vec<Located<RouteRule>>,
    /// Entity used when no rule matches. Without it, an unmatched record is a permanent error
    /// that names the rules tried.
    pub fallback: Option<String>,
}

/// One routing rule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// Shown in errors and audit ("routed by rule emea-by-country").
    pub name: String,
    /// CEL condition over `record` (and its related records).
    pub when: String,
    /// Entity id.
    pub entity: String,
}

/// Matching (dedup) rules: exact keys tried in order, then an optional fuzzy name score.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchingSpec {
    pub description: Option<String>,
    /// The object being matched (e.g. Account).
    pub source: String,
    /// The object searched for a match (e.g. CUSTOMER).
    pub target: String,
    /// Exact keys, strongest first. A key links when every part is present and equal after
    /// normalization.
    pub keys: Vec<Located<MatchKeySpec>>,
    /// Fuzzy name similarity. A score at or above `threshold` flags the pair for review; it
    /// never links on its own.
    pub fuzzy: Option<FuzzySpec>,
}

/// One exact match key.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchKeySpec {
    pub name: String,
    pub parts: Vec<Located<MatchPartSpec>>,
}

/// One part of a match key: a source value and a target field, compared after normalization.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchPartSpec {
    /// JSONPath into the source record.
    pub source: String,
    /// Dotted field path in the target record.
    pub target: String,
    #[serde(default)]
    pub normalize: Normalize,
}

/// How match values are normalized before comparing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Normalize {
    /// Compared as is (trimmed).
    #[default]
    Exact,
    /// Trimmed, case-insensitive.
    Text,
    /// The domain of an email address or website, lower-case, without `www.`.
    Domain,
    /// Letters and digits only, upper-case (VAT / EIN / ABN written any way).
    TaxId,
    /// Company name: case, punctuation and legal suffixes (Inc, Ltd, GmbH...) removed.
    Name,
    /// Postal code: letters and digits only, upper-case.
    PostalCode,
}

/// Fuzzy name matching.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FuzzySpec {
    /// JSONPath of the source name.
    pub source: String,
    /// Target name field.
    pub target: String,
    /// Jaro-Winkler similarity of normalized names, 0 to 1, at or above which a pair is
    /// flagged for review.
    pub threshold: f64,
}

/// Which side wins a conflicting field in the bi-directional sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// Salesforce is the system of record for the field.
    Salesforce,
    /// Intacct is the system of record for the field.
    Intacct,
    /// The side modified last wins.
    LastModified,
}

/// Field ownership defaults of a mapping.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnershipSpec {
    /// Owner of fields that do not name one.
    pub default: Owner,
    /// JSONPath of the source record's modification time (for last_modified).
    pub source_modified: Option<String>,
    /// Dotted path of the target record's modification time (for last_modified).
    pub target_modified: Option<String>,
    /// Owner per target field (dotted path), overriding `default`. A field mapping's own
    /// `owner` does the same where the field is written.
    #[serde(default)]
    pub fields: BTreeMap<String, Owner>,
}

/// A mapping: how one source record becomes one target record.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingSpec {
    pub description: Option<String>,
    /// Source object (declared in `objects`).
    pub source: String,
    /// Target object (declared in `objects`).
    pub target: String,
    /// Routing that picks the entity (makes `entity` available to expressions and transforms).
    pub routing: Option<String>,
    /// Matching rules used before creating the target.
    pub matching: Option<String>,
    /// CEL condition over `record`: when false, the record is skipped (not an error).
    pub when: Option<String>,
    /// Write null for empty source values (clears the target field) instead of leaving the
    /// field out.
    #[serde(default)]
    pub write_nulls: bool,
    pub ownership: Option<OwnershipSpec>,
    #[serde(default)]
    pub fields: Vec<Located<FieldSpec>>,
    /// Line collections (opportunity line items → invoice lines...).
    #[serde(default)]
    pub lines: Vec<Located<LineSpec>>,
}

/// A line collection.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineSpec {
    /// Where the lines go: a dotted path to a list field (e.g. `invoiceitems.lineitem`).
    pub target: String,
    /// JSONPath selecting the source lines (e.g. `$.OpportunityLineItems.records[*]`).
    pub source: String,
    /// CEL condition over `line` (and `record`): lines where it is false are left out.
    pub when: Option<String>,
    /// At least one line must come out, or the record fails.
    #[serde(default)]
    pub required: bool,
    /// Field mappings of one line: `source` paths start at the line.
    pub fields: Vec<Located<FieldSpec>>,
}

/// One field mapping. Give `target` and exactly one of `source`, `sources`, `value` or `const`;
/// or only `group` to insert a field group.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Target field, dotted for nested elements (`DISPLAYCONTACT.MAILADDRESS.CITY`).
    pub target: Option<String>,
    /// Insert the field mappings of this field group here.
    pub group: Option<String>,
    /// JSONPath (RFC 9535) into the source record, e.g. `$.BillingCity`, `$.Owner.Email`.
    pub source: Option<String>,
    /// Several JSONPaths: the value is the list of their values (for `concat`).
    pub sources: Option<Vec<String>>,
    /// CEL expression over `record` (and `line`, `entity`).
    pub value: Option<String>,
    /// A fixed value.
    #[serde(rename = "const")]
    pub constant: Option<Value>,
    /// Transforms applied in order.
    #[serde(default)]
    pub transforms: Vec<Located<TransformSpec>>,
    /// CEL condition: the field is written only when true.
    pub when: Option<String>,
    /// An empty value is an error for this record.
    #[serde(default)]
    pub required: bool,
    /// System of record for this field (default: the mapping's ownership default).
    pub owner: Option<Owner>,
    /// Override the mapping's `write_nulls` for this field.
    pub write_null: Option<bool>,
}

/// A named transform. Written as a bare name (`trim`) or as `name: argument`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TransformSpec {
    /// Remove surrounding whitespace.
    Trim,
    /// Upper-case.
    Upper,
    /// Lower-case.
    Lower,
    /// Title Case Each Word.
    Title,
    /// Format a date (input: yyyy-MM-dd, MM/DD/YYYY, ISO datetime or {year,month,day}).
    Date(DateFormat),
    /// Format a datetime (input: ISO 8601 / Salesforce, or Intacct MM/DD/YYYY HH:MM:SS as UTC).
    Datetime(DateTimeFormat),
    /// Format a number with a fixed number of decimals.
    Number(NumberFormat),
    /// Format an amount rounded to its currency's minor unit. Argument: the currency, as a
    /// code (`USD`), a JSONPath (`$.CurrencyIsoCode`) or `entity` (the routed entity's base
    /// currency).
    Money(String),
    /// Convert an amount into another currency at the rate of a date, from the rates the flow
    /// gives at map time (a missing rate fails the record; specs hold no rates).
    Currency(CurrencyConversion),
    /// Replace the value through a lookup table.
    Lookup(String),
    /// Use this value when the value is empty.
    Default(Value),
    /// Join a list (from `sources`) with this separator, skipping empty parts.
    Concat(String),
    /// Split text and keep one part.
    Split(SplitSpec),
    /// Regular-expression replace.
    Replace(ReplaceSpec),
    /// Truncate to the declared length of the target field.
    Truncate,
    /// Truncate to this many characters.
    TruncateTo(usize),
    /// Normalize a country name or code.
    Country(CountryFormat),
    /// Normalize a US / Canadian / Australian state or province to its code.
    State(StateSpec),
}

/// Date output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DateFormat {
    /// yyyy-MM-dd
    Salesforce,
    /// MM/DD/YYYY (Intacct generic objects)
    Intacct,
    /// {year, month, day} (Intacct legacy functions such as create_invoice)
    IntacctLegacy,
}

/// Datetime output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DateTimeFormat {
    /// 2026-01-31T17:05:00.000+0000
    Salesforce,
    /// 01/31/2026 17:05:00 (UTC)
    Intacct,
    /// 2026-01-31T17:05:00Z
    Rfc3339,
}

/// Number formatting.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberFormat {
    /// Decimal places (rounded half away from zero).
    pub decimals: u32,
    /// Emit a JSON number instead of text (for Salesforce number fields).
    #[serde(default)]
    pub as_number: bool,
}

/// Currency conversion.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CurrencyConversion {
    /// The amount's currency: a code or a JSONPath (`$.CurrencyIsoCode`).
    pub from: String,
    /// A code, a JSONPath, or `base` (the routed entity's base currency).
    pub to: String,
    /// JSONPath of the date whose rate converts (`$.CloseDate`, `$.PERIOD_END`).
    pub date: String,
}

/// Split text and keep one part.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitSpec {
    pub separator: String,
    /// Part to keep, from 0; negative counts from the end.
    pub index: i64,
}

/// Regular-expression replace.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceSpec {
    /// Regular expression (Rust `regex` syntax).
    pub pattern: String,
    /// Replacement; `$1` refers to a group.
    pub with: String,
}

/// Country representations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CountryFormat {
    /// ISO 3166-1 alpha-2 (US)
    Iso2,
    /// ISO 3166-1 alpha-3 (USA)
    Iso3,
    /// English short name (United States)
    Name,
}

/// State / province normalization.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    pub to: StateFormat,
    /// JSONPath of the record's country, to tell apart names shared by two countries.
    pub country: Option<String>,
}

/// State representations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateFormat {
    /// Postal code (CA, ON, NSW).
    Code,
    /// Full name (California, Ontario, New South Wales).
    Name,
}

/// A test case: map `input` with `mapping` and compare.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    pub name: String,
    /// Mapping name in this file.
    pub mapping: String,
    /// The source record, as the API returns it.
    pub input: Value,
    /// The exchange rates the flow would give at map time, for `currency` conversions.
    #[serde(default)]
    pub rates: Vec<RateSpec>,
    pub expect: ExpectSpec,
}

/// One exchange rate of a test case: `rate` units of `to` per unit of `from`, from `date`
/// until the pair's next rate.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateSpec {
    pub from: String,
    pub to: String,
    /// The first day the rate holds, yyyy-MM-dd.
    pub date: String,
    #[schemars(with = "DecimalText")]
    pub rate: String,
}

/// What a test case expects. Give `output` (and optionally `entity`), `skipped`, or `error`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// The routed entity id.
    pub entity: Option<String>,
    /// The exact mapped record.
    pub output: Option<Value>,
    /// The mapping's `when` is false for this input.
    #[serde(default)]
    pub skipped: bool,
    /// The record fails with an error containing this text.
    pub error: Option<String>,
    /// Match keys computed from the input: key name → normalized value.
    pub match_keys: Option<BTreeMap<String, String>>,
}
