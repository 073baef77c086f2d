//! `ledgerforce doctor [--json]`: before the first sync and after any change, checks what the
//! sync relies on and prints a checklist, each failure with its fix; exits non-zero if anything
//! failed.
//!
//! 1. The configuration (every key, every reference).
//! 2. The mapping specs compile.
//! 3. A real login on each side: the Salesforce token request, an Intacct session (and one per
//!    configured entity).
//! 4. Every object the mappings use, described in the org (`sobjects/X/describe`) and the
//!    company (`lookup`): it exists, the integration user can read it, and (Salesforce) create
//!    or update it where the flows write it.
//! 5. Every declared field of those objects exists, of a type that holds what the mapping
//!    declares and within its declared length: the specs compiled against the describes. Each
//!    object's mapped fields are listed with their live type and length.
//! 6. The Outbound Messages point at `webhooks.salesforce_url` (Tooling API
//!    `WorkflowOutboundMessage`, where the org serves it); once a Ledgerforce Flow is active,
//!    the Named Credential `Ledgerforce_Webhook` points there too and the signing key is set
//!    (`FlowDefinitionView`, `NamedCredential`, `Ledgerforce_Settings__c`); the Smart Events at
//!    `webhooks.intacct_url` (not readable through the Intacct Web Services API: reported as not
//!    checkable, with what to look at).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;

use lf_domain::{EntityId, System};
use lf_intacct::{Function, IntacctClient, Query};
use lf_mapping::{MappingError, ObjectDescribe, SourceReads, SpecBundle, SpecSet};
use lf_salesforce::{ApiRequest, HttpMethod, SalesforceClient, Soql};
use serde_json::{Value, json};

use super::config::{Config, ConfigError, env_var};
use super::systems::{self, Resolver};
use crate::CliError;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print the checklist as JSON (`{"ok": …, "checks": [...]}`).
    #[arg(long)]
    json: bool,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Fail,
    /// The systems offer no way to check it; what to look at instead is in `fix`.
    NotCheckable,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Fail => "FAIL",
            Status::NotCheckable => "n/a",
        }
    }

    fn json(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Fail => "fail",
            Status::NotCheckable => "not_checkable",
        }
    }
}

#[derive(Debug, Clone)]
struct Check {
    name: String,
    status: Status,
    detail: String,
    fix: Option<String>,
}

/// The checklist as it fills.
#[derive(Debug, Default)]
struct Checklist {
    checks: Vec<Check>,
}

impl Checklist {
    fn ok(&mut self, name: impl Into<String>, detail: impl Into<String>) {
        self.push(name, Status::Ok, detail, None::<String>);
    }

    fn fail(&mut self, name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) {
        self.push(name, Status::Fail, detail, Some(fix));
    }

    fn not_checkable(
        &mut self,
        name: impl Into<String>,
        detail: impl Into<String>,
        what_to_do: impl Into<String>,
    ) {
        self.push(name, Status::NotCheckable, detail, Some(what_to_do));
    }

    fn push(
        &mut self,
        name: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
        fix: Option<impl Into<String>>,
    ) {
        self.checks.push(Check {
            name: name.into(),
            status,
            detail: detail.into(),
            fix: fix.map(Into::into),
        });
    }

    fn failed(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .count()
    }

    fn print(&self) {
        for c in &self.checks {
            println!("{:<5} {:<42} {}", c.status.label(), c.name, c.detail);
            if let Some(fix) = &c.fix {
                let label = if c.status == Status::Fail {
                    "fix"
                } else {
                    "check"
                };
                println!("      {label}: {fix}");
            }
        }
        let count = |s: Status| self.checks.iter().filter(|c| c.status == s).count();
        println!(
            "{} checks: {} ok, {} failed, {} not checkable",
            self.checks.len(),
            count(Status::Ok),
            count(Status::Fail),
            count(Status::NotCheckable)
        );
    }

    fn to_json(&self) -> Value {
        json!({
            "ok": self.failed() == 0,
            "checks": self.checks.iter().map(|c| json!({
                "check": c.name,
                "status": c.status.json(),
                "detail": c.detail,
                "fix": c.fix,
            })).collect::<Vec<_>>(),
        })
    }
}

pub(crate) async fn run(file: Option<&Path>, args: Args) -> Result<ExitCode, CliError> {
    crate::init_logging("error");
    let mut list = Checklist::default();
    match super::load_config(file) {
        Ok(config) => {
            let source = match &config.file {
                Some(f) => format!("{} and LEDGERFORCE_* variables", f.display()),
                None => "LEDGERFORCE_* variables (no config file)".into(),
            };
            list.ok("config", source);
            check_systems(&config, &mut list).await;
        }
        Err(e) => config_failures(&e, &mut list),
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list.to_json())?);
    } else {
        list.print();
    }
    Ok(if list.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn config_failures(e: &ConfigError, list: &mut Checklist) {
    for p in &e.problems {
        let fix = match (&p.origin, p.key.split_once('.')) {
            (Some(var), _) => format!("correct the variable {var}, or unset it to use the file"),
            (None, Some((section, key))) => format!(
                "{} `{key}` under [{section}] in the config file (or set {})",
                if p.message.starts_with("is required") {
                    "set"
                } else {
                    "correct"
                },
                env_var(section, key)
            ),
            (None, None) => format!("correct `{}` in the config file", p.key),
        };
        list.fail(format!("config {}", p.key), p.message.clone(), fix);
    }
}

/// How the flows use one object.
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    /// A mapping writes it (its target).
    written: bool,
}

/// The objects the mappings use, per system: mapping sources and targets, the related
/// records and line collections they read.
fn used_objects(specs: &SpecSet) -> BTreeMap<(SystemKey, String), Usage> {
    fn reads(
        out: &mut BTreeMap<(SystemKey, String), Usage>,
        system: System,
        r: &SourceReads,
        nested: bool,
    ) {
        // Intacct related records are nested elements of the object (DISPLAYCONTACT), not
        // objects of their own; Salesforce's are objects (Account.Owner → User).
        if !nested || system == System::Salesforce {
            out.entry((SystemKey::of(system), r.object().to_owned()))
                .or_default();
        }
        for (_, p) in r.parents() {
            reads(out, system, p, true);
        }
        for (_, c) in r.collections() {
            reads(out, system, c, true);
        }
    }
    let mut out = BTreeMap::new();
    for (flow, _) in specs.flows() {
        for (_, plan) in specs.mappings(flow) {
            reads(&mut out, plan.source_system(), plan.reads(), false);
            reads(&mut out, plan.target_system(), plan.target_reads(), false);
            out.entry((
                SystemKey::of(plan.target_system()),
                plan.target_object().to_owned(),
            ))
            .or_default()
            .written = true;
        }
    }
    out
}

/// [`System`] in a sortable key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SystemKey {
    Salesforce,
    Intacct,
}

impl SystemKey {
    fn of(system: System) -> Self {
        match system {
            System::Salesforce => SystemKey::Salesforce,
            _ => SystemKey::Intacct,
        }
    }
}

/// Salesforce objects the flows only update, never create: their records are made by users.
const UPDATED_ONLY: [&str; 2] = ["Account", "Opportunity"];

async fn check_systems(config: &Config, list: &mut Checklist) {
    // The specs first: without them there is nothing to check the systems against.
    let bundle = match systems::spec_bundle(config) {
        Ok(b) => b,
        Err(e) => {
            list.fail(
                "mappings",
                e.to_string(),
                "set mappings.dir to a folder of *.yaml specs, or remove it to use the shipped ones",
            );
            return;
        }
    };
    let where_from = match &config.mappings {
        Some(d) => d.display().to_string(),
        None => "the shipped specs".into(),
    };
    let specs = match bundle.compile() {
        Ok(s) => {
            let mappings: usize = s.flows().map(|(f, _)| s.mappings(f).count()).sum();
            list.ok(
                "mappings",
                format!(
                    "{} flows, {mappings} mappings compile ({where_from})",
                    s.flows().count()
                ),
            );
            s
        }
        Err(e) => {
            list.fail(
                "mappings",
                format!("the specs in {where_from} do not compile: {e}"),
                "run `ledgerforce mapping check` on the folder and correct each error it lists",
            );
            return;
        }
    };

    let resolver = Resolver::new(config);
    let salesforce = salesforce_login(config, &resolver, list).await;
    let intacct = intacct_login(config, &resolver, &specs, list).await;
    let used = used_objects(&specs);

    let mut describes = Vec::new();
    if let Some(client) = &salesforce {
        describes.extend(salesforce_objects(client, &used, list).await);
    }
    if let Some(client) = &intacct {
        describes.extend(intacct_objects(client, &bundle, &used, list).await);
    }
    if salesforce.is_some() || intacct.is_some() {
        fields(&bundle, &describes, &used, list);
    }
    webhooks(config, salesforce.as_ref(), list).await;
}

/// The fix for a credential reference that does not resolve.
const REFERENCE_FIX: &str = "make the reference resolve: set the variable, fix the file path, or grant secretsmanager:GetSecretValue on the ARN";

async fn salesforce_login(
    config: &Config,
    resolver: &Resolver,
    list: &mut Checklist,
) -> Option<SalesforceClient> {
    let name = "salesforce login";
    let c = match systems::salesforce_config(config, resolver).await {
        Ok(c) => c,
        Err(e) => {
            list.fail(name, e, REFERENCE_FIX);
            return None;
        }
    };
    let login_url = c.login_url.clone();
    let client = match SalesforceClient::new(c) {
        Ok(client) => client,
        Err(e) => {
            list.fail(name, e.to_string(), "correct the [salesforce] keys");
            return None;
        }
    };
    match client.connect().await {
        Ok(()) => {
            list.ok(name, format!("token issued by {login_url}"));
            Some(client)
        }
        Err(e) => {
            let fix = match config.salesforce.auth {
                lf_runtime::SalesforceAuth::JwtBearer => {
                    "check salesforce.consumer_key is the connected app's, the certificate of salesforce.private_key is uploaded to it, salesforce.username is pre-authorized (Admin approved users + the permission set), and salesforce.login_url is the org's login host"
                }
                lf_runtime::SalesforceAuth::ClientCredentials => {
                    "check the connected app has the client credentials flow enabled with a run-as user, and salesforce.login_url is the org's My Domain"
                }
            };
            list.fail(name, format!("login at {login_url} failed: {e}"), fix);
            None
        }
    }
}

async fn intacct_login(
    config: &Config,
    resolver: &Resolver,
    specs: &SpecSet,
    list: &mut Checklist,
) -> Option<IntacctClient> {
    let name = "intacct login";
    let c = match systems::intacct_config(config, resolver).await {
        Ok(c) => c,
        Err(e) => {
            list.fail(name, e, REFERENCE_FIX);
            return None;
        }
    };
    let (endpoint, company) = (c.endpoint_url.clone(), c.credentials.company_id.clone());
    let client = match IntacctClient::new(c) {
        Ok(client) => client,
        Err(e) => {
            list.fail(name, e.to_string(), "correct the [intacct] keys");
            return None;
        }
    };
    if let Err(e) = client.session(None).await {
        list.fail(
            name,
            format!("no session for company {company} at {endpoint}: {e}"),
            "check intacct.sender_id/sender_password (Web Services sender, authorized in Company > Security > Web Services authorizations) and intacct.company_id/user_id/user_password (a Web Services user)",
        );
        return None;
    }
    list.ok(name, format!("session for company {company} at {endpoint}"));

    // Each entity the sync writes in: the user must be allowed into it.
    let entities: Vec<String> = if config.intacct.entities.is_empty() {
        specs
            .entities()
            .iter()
            .map(|e| e.id.as_str().to_owned())
            .collect()
    } else {
        config.intacct.entities.clone()
    };
    for id in entities {
        let name = format!("intacct entity {id}");
        let entity = match EntityId::parse(&id) {
            Ok(e) => e,
            Err(e) => {
                list.fail(name, e.to_string(), "correct intacct.entities");
                continue;
            }
        };
        match client.session(Some(&entity)).await {
            Ok(_) => list.ok(name, "the user can open a session in it"),
            Err(e) => list.fail(
                name,
                e.to_string(),
                format!(
                    "give the Web Services user access to entity {id} (its user restrictions), or correct the entity id in the specs / intacct.entities"
                ),
            ),
        }
    }
    Some(client)
}

/// Describes each Salesforce object the mappings use; returns the describes for the field
/// checks.
async fn salesforce_objects(
    client: &SalesforceClient,
    used: &BTreeMap<(SystemKey, String), Usage>,
    list: &mut Checklist,
) -> Vec<ObjectDescribe> {
    let mut out = Vec::new();
    for ((system, object), usage) in used {
        if *system != SystemKey::Salesforce {
            continue;
        }
        let name = format!("salesforce object {object}");
        let d = match client.describe(object).await {
            Ok(d) => d,
            Err(e) => {
                list.fail(
                    name,
                    format!("describe failed: {e}"),
                    format!(
                        "deploy the object (infra/salesforce: `sf project deploy start`) and give the integration user's permission set read access to {object}"
                    ),
                );
                continue;
            }
        };
        let mut missing = Vec::new();
        if !d.queryable {
            missing.push("read");
        }
        if usage.written {
            if !d.updateable {
                missing.push("edit");
            }
            if !d.createable && !UPDATED_ONLY.contains(&object.as_str()) {
                missing.push("create");
            }
        }
        if missing.is_empty() {
            let what = if usage.written {
                if UPDATED_ONLY.contains(&object.as_str()) {
                    "read, edit"
                } else {
                    "read, create, edit"
                }
            } else {
                "read"
            };
            list.ok(
                name,
                format!("{} fields; the integration user can {what}", d.fields.len()),
            );
        } else {
            list.fail(
                name,
                format!(
                    "the integration user cannot {} {object}",
                    missing.join(", ")
                ),
                format!(
                    "grant {} on {object} in the integration user's permission set",
                    missing.join(" and ")
                ),
            );
        }
        match serde_json::to_value(&d)
            .ok()
            .as_ref()
            .and_then(ObjectDescribe::from_json)
        {
            Some(describe) => out.push(describe),
            None => list.fail(
                format!("salesforce object {object} fields"),
                "the describe could not be read",
                "report this: the describe's shape is not the documented one",
            ),
        }
    }
    out
}

/// The scalar fields the specs declare for `object`: what compiling against a describe of
/// no fields reports as missing.
fn declared_fields(bundle: &SpecBundle, object: &str) -> Vec<String> {
    let empty = ObjectDescribe {
        object: object.to_owned(),
        fields: BTreeMap::new(),
        types: BTreeMap::new(),
    };
    let prefix = format!("objects.{object}.fields.");
    match bundle.compile_against(&[empty]) {
        Err(MappingError::Invalid(diags)) => diags
            .iter()
            .filter_map(|d| d.field.strip_prefix(&prefix).map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether a declared Intacct object is one the gateway's `lookup` describes: one declared
/// with a generic object's UPPER-CASE fields. The legacy functions' parameter shapes
/// (create_invoice, create_sotransaction) use lower-case names and are not gateway objects.
fn is_generic_object(bundle: &SpecBundle, object: &str) -> bool {
    let names = declared_fields(bundle, object);
    names.is_empty()
        || names
            .iter()
            .any(|n| !n.chars().any(|c| c.is_ascii_lowercase()))
}

/// Looks up each Intacct object the mappings use (and reads one record of it, which is where
/// a missing permission shows); returns the describes for the field checks.
async fn intacct_objects(
    client: &IntacctClient,
    bundle: &SpecBundle,
    used: &BTreeMap<(SystemKey, String), Usage>,
    list: &mut Checklist,
) -> Vec<ObjectDescribe> {
    let mut out = Vec::new();
    for (system, object) in used.keys() {
        if *system != SystemKey::Intacct {
            continue;
        }
        let name = format!("intacct object {object}");
        if !is_generic_object(bundle, object) {
            list.not_checkable(
                name,
                "declared with a legacy function's lower-case parameters, which `lookup` does not describe",
                "the function's own validation checks these on the first write; run a test sync in a sandbox company",
            );
            continue;
        }
        let found = match client.lookup(None, object).await {
            Ok(records) => records,
            Err(e) if e.to_string().contains("not found") => {
                list.not_checkable(
                    name,
                    format!("not an object of the company (`lookup`: {e})"),
                    "a record the flow computes from other objects' queries; nothing to look up",
                );
                continue;
            }
            Err(e) => {
                list.fail(
                    name,
                    format!("lookup failed: {e}"),
                    format!(
                        "give the Web Services user's role read permission on {object} (or enable the module it belongs to)"
                    ),
                );
                continue;
            }
        };
        // `lookup` gives each field's DATATYPE but no length.
        let mut fields: BTreeMap<String, Option<usize>> = BTreeMap::new();
        let mut types: BTreeMap<String, String> = BTreeMap::new();
        for f in found
            .iter()
            .flat_map(|t| t.find_all("Fields").flat_map(|f| f.find_all("Field")))
        {
            let Some(id) = f.field("ID") else { continue };
            fields.insert(id.to_owned(), None);
            if let Some(ty) = f.field("DATATYPE").filter(|t| !t.is_empty()) {
                types.insert(id.to_owned(), ty.to_owned());
            }
        }
        // A read of one record: a role without the object's list permission fails here.
        let query = Query::new(object.as_str(), ["RECORDNO"])
            .page_size(1)
            .show_private(true);
        let read = match Function::query(&query, 0) {
            Ok(f) => client.call(None, f).await.map(|_| ()),
            Err(e) => Err(e),
        };
        match read {
            Ok(()) => list.ok(
                name,
                format!("{} fields; the user can query it", fields.len()),
            ),
            Err(e) => list.fail(
                name,
                format!("lookup answered, but a query of it failed: {e}"),
                format!("give the Web Services user's role list/view permission on {object}"),
            ),
        }
        out.push(ObjectDescribe {
            object: object.clone(),
            fields,
            types,
        });
    }
    out
}

/// Compiles the specs against the describes: each declared field must exist, of a type that
/// holds the declared one, within its declared length. Then lists, per described object, its
/// declared fields as the system has them (type and length).
fn fields(
    bundle: &SpecBundle,
    describes: &[ObjectDescribe],
    used: &BTreeMap<(SystemKey, String), Usage>,
    list: &mut Checklist,
) {
    let failed = compiled_fields(bundle, describes, used, list);
    for d in describes {
        let live: Vec<String> = declared_fields(bundle, &d.object)
            .iter()
            .filter(|f| !failed.contains(&(d.object.clone(), (*f).clone())))
            .filter_map(|f| d.live_field(f).map(|live| format!("{f} {live}")))
            .collect();
        if !live.is_empty() {
            list.ok(format!("mapped fields of {}", d.object), live.join(", "));
        }
    }
}

/// The compile against the describes, one check per failed field; returns the fields that
/// failed (object, field).
fn compiled_fields(
    bundle: &SpecBundle,
    describes: &[ObjectDescribe],
    used: &BTreeMap<(SystemKey, String), Usage>,
    list: &mut Checklist,
) -> BTreeSet<(String, String)> {
    let mut failed = BTreeSet::new();
    let system_of = |object: &str| used.keys().find(|(_, o)| o == object).map(|(s, _)| *s);
    let checked: Vec<&str> = describes.iter().map(|d| d.object.as_str()).collect();
    match bundle.compile_against(describes) {
        Ok(_) => list.ok(
            "mapped fields",
            format!(
                "every declared field of {} objects exists, of a compatible type, within its declared length",
                checked.len()
            ),
        ),
        Err(MappingError::Invalid(diags)) => {
            for d in diags.iter() {
                // `objects.Account.fields.Name`
                let parts: Vec<&str> = d.field.split('.').collect();
                let (object, field) = match parts.as_slice() {
                    ["objects", object, "fields", field, ..] => (*object, *field),
                    _ => ("", ""),
                };
                let at = format!("{}:{}", d.file, d.line);
                let too_long = d.message.contains("holds at most");
                let live = describes
                    .iter()
                    .find(|x| x.object == object)
                    .and_then(|x| x.live_field(field));
                let wrong_type = !too_long && d.message.starts_with("declared as ");
                failed.insert((object.to_owned(), field.to_owned()));
                let fix = match (system_of(object), too_long) {
                    (_, true) => format!(
                        "lower the declared length of {object}.{field} in {at} to what the system holds, or widen the field there"
                    ),
                    (_, false) if wrong_type => format!(
                        "declare {object}.{field} in {at} with the type the system has ({}), or change the field's type there",
                        live.as_deref().unwrap_or("see its describe")
                    ),
                    (Some(SystemKey::Salesforce), false) => format!(
                        "create the field {field} on {object} in the org (add it to infra/salesforce and `sf project deploy start`) and give the integration user's permission set access to it, or remove it from {at}"
                    ),
                    (Some(SystemKey::Intacct), false) => format!(
                        "create the custom field {field} on {object} in the company (see infra/intacct), or remove it from {at}"
                    ),
                    (None, false) => format!("correct {at}"),
                };
                let name = if object.is_empty() {
                    format!("mapped field ({at})")
                } else {
                    format!("mapped field {object}.{field}")
                };
                list.fail(name, d.message.clone(), fix);
            }
        }
        Err(e) => list.fail(
            "mapped fields",
            e.to_string(),
            "run `ledgerforce mapping check` on the folder",
        ),
    }
    failed
}

/// Where the platforms deliver their notifications.
async fn webhooks(config: &Config, salesforce: Option<&SalesforceClient>, list: &mut Checklist) {
    let name = "salesforce outbound messages";
    match (&config.salesforce_webhook, salesforce) {
        (None, _) => list.fail(
            name,
            "webhooks.salesforce_url is not set, so the Outbound Messages' endpoint cannot be compared",
            "set webhooks.salesforce_url to the deployed SalesforceWebhook URL (the stack's output)",
        ),
        (Some(_), None) => list.fail(
            name,
            "not checked: no Salesforce login",
            "fix the Salesforce login first",
        ),
        (Some(url), Some(client)) => {
            outbound_messages(client, url.as_str(), list).await;
            flow_callouts(client, url.as_str(), list).await;
        }
    }
    let name = "intacct smart events";
    match &config.intacct_webhook {
        None => list.fail(
            name,
            "webhooks.intacct_url is not set",
            "set webhooks.intacct_url to the deployed IntacctWebhook URL (the stack's output)",
        ),
        Some(url) => list.not_checkable(
            name,
            "the Intacct Web Services API offers no function that reads Smart Event definitions",
            format!(
                "in the company, open Customization Services > Smart Events and check each ledgerforce event (infra/intacct) posts to {url}"
            ),
        ),
    }
}

/// The Flow path (infra/salesforce/flows): which Ledgerforce Flows are active and, when any
/// is, that the Named Credential they post through points at the webhook and the signing key
/// is set. Three queries of setup objects (the integration user needs View Setup and
/// Configuration); the key's value is never read into the report.
async fn flow_callouts(client: &SalesforceClient, url: &str, list: &mut Checklist) {
    let name = "salesforce flow callouts";
    let flows = Soql::from_static(
        "SELECT ApiName, IsActive FROM FlowDefinitionView WHERE ApiName LIKE 'Ledgerforce%'",
    );
    let flows = match client.query(&flows).await {
        Ok(records) => records,
        Err(e) => {
            list.fail(
                name,
                format!("the Flows could not be read: {e}"),
                "give the integration user View Setup and Configuration, or check Setup > Flows by hand",
            );
            return;
        }
    };
    let active: Vec<String> = flows
        .iter()
        .filter(|r| r.get("IsActive").and_then(Value::as_bool) == Some(true))
        .filter_map(|r| r.text("ApiName"))
        .collect();
    if active.is_empty() {
        list.ok(
            name,
            format!(
                "no Ledgerforce Flow is active ({} deployed): changes come by Outbound Messages",
                flows.len()
            ),
        );
        return;
    }
    let credential = Soql::from_static(
        "SELECT DeveloperName, Endpoint FROM NamedCredential WHERE DeveloperName = 'Ledgerforce_Webhook'",
    );
    let endpoint = match client.query(&credential).await {
        Ok(records) => records
            .first()
            .map(|r| r.text("Endpoint").unwrap_or_default()),
        Err(e) => {
            list.fail(
                name,
                format!("the Named Credential could not be read: {e}"),
                "give the integration user View Setup and Configuration, or check Setup > Named Credentials by hand",
            );
            return;
        }
    };
    let Some(endpoint) = endpoint else {
        list.fail(
            name,
            format!("{} active, but the org has no Named Credential Ledgerforce_Webhook", active.join(", ")),
            "deploy infra/salesforce (`sf project deploy start`): it defines the Named Credential the Flows post through",
        );
        return;
    };
    let trimmed = |u: &str| u.trim().trim_end_matches('/').to_owned();
    if trimmed(&endpoint) != trimmed(url) {
        list.fail(
            name,
            format!("the Named Credential Ledgerforce_Webhook posts to {endpoint}, not {url}"),
            format!(
                "set its URL to {url} (the stack output SalesforceCalloutUrl; Setup > Named Credentials, or its Url parameter in infra/salesforce and deploy again)"
            ),
        );
        return;
    }
    let key = Soql::from_static("SELECT Signing_Key__c FROM Ledgerforce_Settings__c");
    let key_set = match client.query(&key).await {
        Ok(records) => records.iter().any(|r| {
            r.text("Signing_Key__c")
                .is_some_and(|k| !k.trim().is_empty())
        }),
        Err(e) => {
            list.fail(
                name,
                format!("the Ledgerforce Settings could not be read: {e}"),
                "deploy infra/salesforce: it defines the Ledgerforce_Settings__c custom setting",
            );
            return;
        }
    };
    if key_set {
        list.ok(
            name,
            format!(
                "{} active, posting through Ledgerforce_Webhook to {url}, the signing key set",
                active.join(", ")
            ),
        );
    } else {
        list.fail(
            name,
            format!("{} active, but no signing key is set: every callout is refused", active.join(", ")),
            "Setup > Custom Settings > Ledgerforce Settings > Manage > New (org default): Signing Key = the callout_key of the webhook secret",
        );
    }
}

/// The Outbound Messages' endpoints, read with the Tooling API.
async fn outbound_messages(client: &SalesforceClient, url: &str, list: &mut Checklist) {
    let name = "salesforce outbound messages";
    let request = ApiRequest::new(
        HttpMethod::Get,
        format!("{}/tooling/query", client.api_version().data_root()),
        "Tooling API query of WorkflowOutboundMessage",
    )
    .with_query("q", "SELECT Name, EndpointUrl FROM WorkflowOutboundMessage");
    let response = match client.execute(&request).await {
        Ok(r) => r,
        Err(e) => {
            let not_served = e.to_string().contains("404") || e.to_string().contains("NOT_FOUND");
            if not_served {
                list.not_checkable(
                    name,
                    format!("the org does not serve the Tooling API ({e})"),
                    format!(
                        "in Setup > Outbound Messages, check each ledgerforce message's Endpoint URL starts with {url}"
                    ),
                );
            } else {
                list.fail(
                    name,
                    format!("the Tooling API query failed: {e}"),
                    "give the integration user View Setup and Configuration, or check the endpoints in Setup > Outbound Messages",
                );
            }
            return;
        }
    };
    let body: Value = match response.json(request.what()) {
        Ok(v) => v,
        Err(e) => {
            list.fail(
                name,
                e.to_string(),
                "report this: the Tooling API answer is not the documented one",
            );
            return;
        }
    };
    let records = body
        .get("records")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if records.is_empty() {
        list.fail(
            name,
            "the org has no Outbound Message",
            "deploy infra/salesforce (`sf project deploy start`): it defines the Outbound Messages and the Flows that send them",
        );
        return;
    }
    let wrong: Vec<String> = records
        .iter()
        .filter_map(|r| {
            let endpoint = r.get("EndpointUrl").and_then(Value::as_str).unwrap_or("");
            (!endpoint.starts_with(url)).then(|| {
                format!(
                    "{} → {endpoint}",
                    r.get("Name").and_then(Value::as_str).unwrap_or("?")
                )
            })
        })
        .collect();
    if wrong.is_empty() {
        list.ok(
            name,
            format!("{} Outbound Messages post to {url}", records.len()),
        );
    } else {
        list.fail(
            name,
            format!("not pointing at {url}: {}", wrong.join(", ")),
            format!("set each one's Endpoint URL to {url}/<token> (Setup > Outbound Messages)"),
        );
    }
}
