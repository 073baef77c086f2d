//! The spec engine end to end: the shipped specs, the errors a broken spec reports, snapshots
//! of every shipped mapping's payloads, and the routing / matching / ownership API the flows
//! call.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lf_domain::{Classify, ErrorClass, Flow, System};
use lf_mapping::{
    MapContext, MapError, Mapped, MappingError, MatchDecision, Owner, SpecBundle, SpecSet,
};
use serde_json::{Value, json};

pub(crate) fn shipped() -> SpecSet {
    match SpecBundle::shipped().compile() {
        Ok(s) => s,
        Err(e) => panic!("the shipped specs do not compile:\n{e}"),
    }
}

fn spec_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra/mappings")
}

fn mapped(specs: &SpecSet, flow: Flow, mapping: &str, input: &Value) -> Value {
    let plan = specs.mapping(flow, mapping).unwrap();
    match plan.map(input, &MapContext::default()).unwrap() {
        Mapped::Record(r) => Value::Object(r.fields),
        Mapped::Skipped => Value::String("(skipped)".into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Shipped specs.

#[test]
fn shipped_specs_cover_every_flow_and_their_tests_pass() {
    let specs = shipped();
    let flows: Vec<Flow> = specs.flows().map(|(f, _)| f).collect();
    assert_eq!(flows.len(), Flow::ALL.len(), "flows with a spec: {flows:?}");
    let report = specs.run_tests();
    assert!(
        report.outcomes.len() >= 30,
        "only {} test cases",
        report.outcomes.len()
    );
    assert_eq!(report.failed(), 0, "{report}");
}

#[test]
fn the_embedded_default_is_the_spec_directory() {
    let from_dir = SpecBundle::from_dir(&spec_dir()).unwrap();
    assert_eq!(from_dir, SpecBundle::shipped());
    assert!(from_dir.len() >= 11);
}

#[test]
fn the_shipped_json_schema_is_generated_from_the_types() {
    let text = std::fs::read_to_string(spec_dir().join("mapping-spec.schema.json")).unwrap();
    let shipped: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        shipped,
        lf_mapping::json_schema(),
        "regenerate it: ledgerforce mapping schema > infra/mappings/mapping-spec.schema.json"
    );
    // Unknown keys are refused by the schema too, so editors flag them.
    assert_eq!(shipped["additionalProperties"], json!(false));
}

#[test]
fn a_fetched_bundle_compiles_like_the_shipped_one() {
    // What the S3 / SSM loader hands over: names and texts.
    let files: Vec<(String, String)> = SpecBundle::shipped()
        .files()
        .map(|(n, t)| (n.to_owned(), t.to_owned()))
        .collect();
    let specs = SpecBundle::from_files(files).compile().unwrap();
    assert_eq!(specs.run_tests().failed(), 0);
}

#[test]
fn snapshots_of_every_shipped_mapping() {
    let specs = shipped();
    let mut by_flow: BTreeMap<Flow, BTreeMap<String, Value>> = BTreeMap::new();
    for (flow, name, mapping, input) in specs.test_cases() {
        let plan = specs.mapping(flow, mapping).unwrap();
        let out = match plan.map(input, &MapContext::default()) {
            Ok(Mapped::Record(r)) => {
                json!({"entity": r.entity.map(|e| e.to_string()), "rule": r.rule, "fields": r.fields})
            }
            Ok(Mapped::Skipped) => json!("skipped"),
            Err(e) => json!({"error": e.to_string()}),
        };
        by_flow
            .entry(flow)
            .or_default()
            .insert(format!("{mapping}: {name}"), out);
    }
    assert_eq!(by_flow.len(), Flow::ALL.len());
    for (flow, payloads) in by_flow {
        insta::assert_json_snapshot!(flow.as_str(), payloads);
    }
}

// ---------------------------------------------------------------------------------------------
// Errors in specs: each names file:line and the field; all are reported at once.

const OBJECTS: &str = r#"
library: objects
objects:
  Account:
    system: salesforce
    fields:
      Id: id
      Name: string(255)
      BillingCountry: string(80)
      AnnualRevenue: decimal
  CUSTOMER:
    system: intacct
    fields:
      NAME: string(100)
      CURRENCY: string(3)
      CUSTTYPE: string(40)
entities:
  US01: {base_currency: USD, exchange_rate_type: Intacct Daily Rate}
routings:
  by_country:
    object: Account
    rules:
      - {name: us, when: "record.BillingCountry == 'US'", entity: US01}
lookups:
  types: {values: {a: b}}
"#;

fn check(flow_yaml: &str) -> Vec<String> {
    let bundle = SpecBundle::from_files([
        ("library/objects.yaml", OBJECTS),
        ("account-onboarding.yaml", flow_yaml),
    ]);
    match bundle.compile() {
        Ok(_) => Vec::new(),
        Err(MappingError::Invalid(d)) => {
            assert_eq!(
                MappingError::Invalid(d.clone()).class(),
                ErrorClass::Permanent
            );
            d.iter().map(ToString::to_string).collect()
        }
        Err(other) => panic!("{other}"),
    }
}

const VALID: &str = r#"flow: account-onboarding
include: [objects]
mappings:
  customer:
    source: Account
    target: CUSTOMER
    routing: by_country
    fields:
      - target: NAME
        source: $.Name
        transforms: [trim, truncate]
      - target: CURRENCY
        value: entity.base_currency
      - target: CUSTTYPE
        source: $.Name
        transforms: [{lookup: types}]
"#;

#[test]
fn the_valid_base_spec_compiles() {
    assert_eq!(check(VALID), Vec::<String>::new());
}

fn one_error(yaml: &str) -> String {
    let errors = check(yaml);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().unwrap_or_default()
}

#[test]
fn an_unknown_key_is_reported_with_file_line_and_field() {
    let e = one_error(&VALID.replace(
        "        source: $.Name\n        transforms: [trim, truncate]",
        "        source: $.Name\n        transfrom: [trim]",
    ));
    assert_eq!(
        e,
        "account-onboarding.yaml:11:9: mappings.customer.fields[0].transfrom: unknown key `transfrom`; did you mean `transforms`?"
    );
}

#[test]
fn a_misspelt_transform_is_reported() {
    let e = one_error(&VALID.replace("[trim, truncate]", "[trim, truncat]"));
    assert!(e.starts_with("account-onboarding.yaml:11:28:"), "{e}");
    assert!(
        e.contains("mappings.customer.fields[0].transforms[1]"),
        "{e}"
    );
    assert!(
        e.contains("unknown name `truncat`; did you mean `truncate`?"),
        "{e}"
    );
}

#[test]
fn a_bad_jsonpath_is_reported() {
    let e = one_error(&VALID.replace(
        "source: $.Name\n        transforms: [trim",
        "source: $.Name[\n        transforms: [trim",
    ));
    assert!(e.starts_with("account-onboarding.yaml:10:9: mappings.customer.fields[0].source: bad JSONPath `$.Name[`"), "{e}");
    let e = one_error(&VALID.replace(
        "source: $.Name\n        transforms: [trim",
        "source: $.Nmae\n        transforms: [trim",
    ));
    assert!(
        e.contains("Account has no field `Nmae`; did you mean `Name`?"),
        "{e}"
    );
}

#[test]
fn a_type_incorrect_expression_is_reported() {
    let e = one_error(&VALID.replace("value: entity.base_currency", "value: \"record.Name + 1\""));
    assert!(
        e.starts_with("account-onboarding.yaml:13:9: mappings.customer.fields[1].value:"),
        "{e}"
    );
    assert!(e.contains("cannot add string and int"), "{e}");
    let e = one_error(&VALID.replace(
        "    routing: by_country\n",
        "    routing: by_country\n    when: record.AnnualRevenue > 'big'\n",
    ));
    assert!(e.contains("mappings.customer.when"), "{e}");
    assert!(e.contains("cannot order double and string"), "{e}");
}

#[test]
fn an_undefined_lookup_table_is_reported() {
    let e = one_error(&VALID.replace("{lookup: types}", "{lookup: tpyes}"));
    assert!(e.starts_with("account-onboarding.yaml:16:"), "{e}");
    assert!(e.contains("lookup table `tpyes` is not defined in this file or its includes; did you mean `types`?"), "{e}");
}

#[test]
fn an_undefined_entity_is_reported() {
    let bad = OBJECTS.replace("entity: US01}", "entity: US02}");
    let bundle = SpecBundle::from_files([
        ("library/objects.yaml", bad.as_str()),
        ("account-onboarding.yaml", VALID),
    ]);
    let Err(MappingError::Invalid(d)) = bundle.compile() else {
        panic!("compiled");
    };
    let errors: Vec<String> = d.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("library/objects.yaml:23:"),
        "{errors:#?}"
    );
    assert!(
        errors[0].contains("routings.by_country.rules[0].entity: entity `US02` is not defined"),
        "{errors:#?}"
    );
    assert!(errors[0].contains("did you mean `US01`?"), "{errors:#?}");
    // And one that is not even close to a defined one, in a mapping's routing.
    let e = one_error(&VALID.replace("routing: by_country", "routing: by_region"));
    assert!(
        e.contains("mappings.customer.routing: routing `by_region` is not defined"),
        "{e}"
    );
}

#[test]
fn a_name_defined_twice_in_what_a_file_sees_is_reported() {
    // In the flow file and in a library it includes: which table applied would depend on the
    // include order.
    let e = one_error(&format!("{VALID}lookups:\n  types: {{values: {{a: c}}}}\n"));
    assert_eq!(
        e,
        "account-onboarding.yaml:18:3: lookups.types: lookup table `types` is also defined in library/objects.yaml; a name is defined once in a file and its includes"
    );
    // In two libraries a flow includes.
    let flow = VALID.replace("include: [objects]", "include: [objects, more]");
    let bundle = SpecBundle::from_files([
        ("library/objects.yaml", OBJECTS),
        (
            "library/more.yaml",
            "library: more\nentities:\n  US01: {base_currency: EUR, exchange_rate_type: ECB}\n",
        ),
        ("account-onboarding.yaml", flow.as_str()),
    ]);
    let Err(MappingError::Invalid(d)) = bundle.compile() else {
        panic!("compiled");
    };
    let errors: Vec<String> = d.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "library/more.yaml:3:3: entities.US01: entity `US01` is also defined in library/objects.yaml; a name is defined once in a file and its includes"
        ],
    );
}

#[test]
fn several_errors_are_reported_at_once() {
    let broken = VALID
        .replace("[trim, truncate]", "[trim, truncat]")
        .replace("{lookup: types}", "{lookup: nope}")
        .replace(
            "value: entity.base_currency",
            "value: entity.base_curency\n        colour: red",
        );
    let errors = check(&broken);
    assert_eq!(errors.len(), 4, "{errors:#?}");
    // In file order, each with its line.
    let lines: Vec<&str> = errors
        .iter()
        .map(|e| e.split(':').nth(1).unwrap_or(""))
        .collect();
    assert_eq!(lines, ["11", "13", "14", "17"], "{errors:#?}");
    assert!(errors[0].contains("truncat"));
    assert!(errors[1].contains("did you mean `base_currency`"));
    assert!(errors[2].contains("unknown key `colour`"));
    assert!(errors[3].contains("lookup table `nope`"));
}

#[test]
fn yaml_syntax_errors_and_empty_files_are_reported() {
    let e = one_error("flow: account-onboarding\nmappings: [\n");
    assert!(e.starts_with("account-onboarding.yaml:"), "{e}");
    assert!(e.contains("YAML syntax"), "{e}");
    let e = one_error("");
    assert!(e.contains("the file is empty"), "{e}");
    let e = one_error("flow: acount-onboarding\n");
    assert!(e.contains("did you mean `account-onboarding`"), "{e}");
}

#[test]
fn type_mismatches_between_transforms_and_targets_are_reported() {
    let e = one_error(&VALID.replace(
        "source: $.Name\n        transforms: [trim, truncate]",
        "source: $.AnnualRevenue\n        transforms: [upper]",
    ));
    assert!(
        e.contains("transform `upper` needs text, but gets a number"),
        "{e}"
    );
    let e = one_error(&VALID.replace(
        "value: entity.base_currency",
        "value: record.AnnualRevenue * 2.0\n        transforms: [{date: intacct}]",
    ));
    assert!(e.contains("transform `date` needs"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Routing, matching and ownership as the flows use them.

fn account(country: &str) -> Value {
    json!({"Id": "001000000000001AAA", "Name": "Acme Robotics Inc", "Type": "Customer - Direct",
           "BillingCountry": country, "BillingPostalCode": "94105", "Website": "https://acme-robotics.com"})
}

#[test]
fn routing_names_the_rule_and_fails_permanently_when_nothing_matches() {
    let specs = shipped();
    let plan = specs.mapping(Flow::AccountOnboarding, "customer").unwrap();
    let (entity, rule) = plan.route(&account("Germany")).unwrap().unwrap();
    assert_eq!(entity.id.as_str(), "DE");
    assert_eq!(entity.base_currency.as_str(), "EUR");
    assert_eq!(rule.as_deref(), Some("european-union"));
    let err = plan
        .map(&account("Japan"), &MapContext::default())
        .unwrap_err();
    assert!(matches!(err, MapError::NoRoute { .. }));
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(
        err.to_string().contains("Account 001000000000001AAA"),
        "{err}"
    );
}

#[test]
fn a_given_entity_overrides_routing() {
    let specs = shipped();
    let plan = specs.mapping(Flow::OpportunityWon, "customer").unwrap();
    let eu = plan
        .entity(&lf_domain::EntityId::parse("DE").unwrap())
        .unwrap();
    let cx = MapContext {
        entity: Some(eu),
        rates: None,
    };
    let Mapped::Record(r) = plan.map(&account("United States"), &cx).unwrap() else {
        panic!("skipped");
    };
    assert_eq!(r.entity.map(|e| e.to_string()).as_deref(), Some("DE"));
    assert_eq!(r.fields["CURRENCY"], "EUR");
}

#[test]
fn documents_carry_their_currency_and_rate_type_and_convert_nothing() {
    let specs = shipped();
    let plan = specs.mapping(Flow::OpportunityWon, "invoice").unwrap();
    let opp = json!({"Id": "006000000000001AAA", "IsWon": true, "CloseDate": "2026-01-15",
        "CurrencyIsoCode": "EUR",
        "Account": {"BillingCountry": "US", "Intacct_Customer_ID__c": "C-1"},
        "OpportunityLineItems": {"records": [{"TotalPrice": 100, "CurrencyIsoCode": "EUR"}]}});
    // Whatever rates the flow has, the invoice is in EUR with the entity's rate type: Intacct
    // converts it to USD at the invoice date.
    let mut rates = lf_mapping::Rates::new();
    rates
        .insert(
            code("EUR"),
            code("USD"),
            day("2026-01-01"),
            "1.2345".parse().unwrap(),
        )
        .unwrap();
    for given in [None, Some(&rates)] {
        let cx = MapContext {
            entity: None,
            rates: given,
        };
        let Mapped::Record(r) = plan.map(&opp, &cx).unwrap() else {
            panic!("skipped");
        };
        assert_eq!(r.fields["basecurr"], "USD");
        assert_eq!(r.fields["currency"], "EUR");
        assert_eq!(r.fields["exchratetype"], "Intacct Daily Rate");
        assert_eq!(r.fields["invoiceitems"]["lineitem"][0]["amount"], "100.00");
    }
    // The euro entity's documents carry its own rate type.
    let de = plan
        .entity(&lf_domain::EntityId::parse("DE").unwrap())
        .unwrap();
    assert_eq!(de.exchange_rate_type, "ECB Reference");
}

fn code(c: &str) -> lf_domain::CurrencyCode {
    lf_domain::CurrencyCode::parse(c).unwrap()
}

fn day(d: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap()
}

/// A reporting spec that converts with the rates given at map time.
const REPORT: &str = r#"flow: revenue-reconciliation
objects:
  TOTAL:
    system: intacct
    fields: {CUSTOMERID: string(20), AMOUNT: decimal, CURRENCY: string(3), PERIOD_END: date}
  Report__c:
    system: salesforce
    fields: {Amount_USD__c: decimal}
mappings:
  report:
    source: TOTAL
    target: Report__c
    fields:
      - target: Amount_USD__c
        source: $.AMOUNT
        transforms: [{currency: {from: $.CURRENCY, to: USD, date: $.PERIOD_END}}]
tests:
  - name: the rate of the period end converts
    mapping: report
    rates:
      - {from: EUR, to: USD, date: "2026-03-01", rate: "1.0800"}
      - {from: EUR, to: USD, date: "2026-04-01", rate: "1.1000"}
    input: {CUSTOMERID: C-1, AMOUNT: "1000.05", CURRENCY: EUR, PERIOD_END: "2026-04-30"}
    expect:
      output: {Amount_USD__c: "1100.06"}
  - name: a period without a rate is parked, never guessed
    mapping: report
    rates:
      - {from: EUR, to: USD, date: "2026-05-01", rate: "1.1000"}
    input: {CUSTOMERID: C-1, AMOUNT: "1000", CURRENCY: EUR, PERIOD_END: "2026-04-30"}
    expect:
      error: "no EUR→USD exchange rate on 2026-04-30 among the rates given at map time"
"#;

#[test]
fn conversions_use_the_rates_given_at_map_time_and_a_missing_one_is_permanent() {
    let specs = SpecBundle::from_files([("revenue-reconciliation.yaml", REPORT)])
        .compile()
        .unwrap();
    let report = specs.run_tests();
    assert_eq!((report.passed(), report.failed()), (2, 0), "{report}");
    let plan = specs
        .mapping(Flow::RevenueReconciliation, "report")
        .unwrap();
    let total = json!({"CUSTOMERID": "C-1", "AMOUNT": "250", "CURRENCY": "GBP", "PERIOD_END": "2026-04-30"});
    let mut rates = lf_mapping::Rates::new();
    rates
        .insert(
            code("GBP"),
            code("USD"),
            day("2026-04-01"),
            "1.25".parse().unwrap(),
        )
        .unwrap();
    let with = |rates: Option<&lf_mapping::Rates>| {
        plan.map(
            &total,
            &MapContext {
                entity: None,
                rates,
            },
        )
    };
    let Ok(Mapped::Record(r)) = with(Some(&rates)) else {
        panic!("not mapped");
    };
    assert_eq!(r.fields["Amount_USD__c"], "312.50");
    // No rates at all, or none for the pair: a permanent error naming the pair and the date.
    for given in [None, Some(&lf_mapping::Rates::new())] {
        let err = with(given).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Permanent);
        let text = err.to_string();
        assert!(
            text.contains("GBP→USD exchange rate on 2026-04-30"),
            "{text}"
        );
        assert!(
            text.starts_with("TOTAL C-1: field Amount_USD__c: currency: "),
            "{text}"
        );
    }
    // The reads include the date the rate is taken at.
    assert_eq!(
        plan.reads().paths(),
        ["AMOUNT", "CURRENCY", "CUSTOMERID", "PERIOD_END"]
    );
}

#[test]
fn an_entity_names_its_rate_type_and_holds_no_rates() {
    let errors = check(&format!(
        "{VALID}entities:\n  UK01: {{base_currency: GBP, exchange_rate_type: Intacct Daily Rate, rates: {{USD: \"0.79\"}}}}\n  EU01: {{base_currency: EUR}}\n"
    ));
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].starts_with("account-onboarding.yaml:18:")
            && errors[0].contains("entities.UK01.rates: unknown key `rates`"),
        "{errors:#?}"
    );
    assert!(
        errors[1].starts_with("account-onboarding.yaml:19:")
            && errors[1].contains("exchange_rate_type"),
        "{errors:#?}"
    );
}

#[test]
fn matching_links_on_keys_and_only_flags_similar_names() {
    let specs = shipped();
    let m = specs
        .mapping(Flow::AccountOnboarding, "customer")
        .unwrap()
        .matching()
        .unwrap();
    let by_domain = json!({"CUSTOMERID": "C-9", "NAME": "ACME", "DISPLAYCONTACT": {"URL1": "www.acme-robotics.com"}});
    let similar = json!({"CUSTOMERID": "C-8", "NAME": "Acme Robotic"});
    assert_eq!(
        m.decide(&account("US"), &[similar.clone(), by_domain]),
        MatchDecision::Linked {
            candidate: 1,
            key: "website_domain".into()
        }
    );
    assert!(matches!(
        m.decide(&account("US"), &[similar]),
        MatchDecision::Review { candidate: 0, .. }
    ));
    assert_eq!(
        m.decide(&account("US"), &[json!({"NAME": "Globex"})]),
        MatchDecision::NoMatch
    );
}

#[test]
fn ownership_decides_which_fields_are_written() {
    let specs = shipped();
    let plan = specs
        .mapping(Flow::AccountSync, "account_to_customer")
        .unwrap();
    assert_eq!(plan.owner_of("NAME"), Owner::Salesforce);
    assert_eq!(plan.owner_of("CREDITLIMIT"), Owner::Intacct);
    assert_eq!(plan.owner_of("DISPLAYCONTACT.PHONE1"), Owner::LastModified);
    assert_eq!(plan.source_system(), System::Salesforce);
    let mut acc = account("US");
    acc["Phone"] = json!("555-0100");
    acc["Credit_Limit__c"] = json!(1000);
    let Mapped::Record(r) = plan.map(&acc, &MapContext::default()).unwrap() else {
        panic!("skipped");
    };
    let current = json!({"NAME": "Old name", "CREDITLIMIT": "5000", "CUSTTYPE": "Direct", "SFDC_ACCOUNT_ID": "001000000000001AAA",
        "DISPLAYCONTACT": {"PHONE1": "555-0199", "CONTACTNAME": "Acme Robotics Inc", "PRINTAS": "Acme Robotics Inc",
        "COMPANYNAME": "Acme Robotics Inc", "URL1": "https://acme-robotics.com",
        "MAILADDRESS": {"ZIP": "94105", "COUNTRY": "United States", "ISOCOUNTRYCODE": "US"}}});
    // Salesforce changed last: every changed field except those Intacct owns.
    acc["LastModifiedDate"] = json!("2026-05-02T10:00:00.000+0000");
    let mut target = current.clone();
    target["WHENMODIFIED"] = json!("05/01/2026 10:00:00");
    let write = plan.fields_to_write(&r.fields, &acc, &target);
    assert_eq!(
        write,
        json!({"NAME": "Acme Robotics Inc", "DISPLAYCONTACT": {"PHONE1": "555-0100"}})
            .as_object()
            .unwrap()
            .clone()
    );
    // Intacct changed last: only what Salesforce owns.
    target["WHENMODIFIED"] = json!("05/03/2026 10:00:00");
    let write = plan.fields_to_write(&r.fields, &acc, &target);
    assert_eq!(
        write,
        json!({"NAME": "Acme Robotics Inc"})
            .as_object()
            .unwrap()
            .clone()
    );
    // Nothing differs: nothing to write, so no echo.
    let Mapped::Record(same) = plan.map(&acc, &MapContext::default()).unwrap() else {
        panic!("skipped");
    };
    let mut echo = Value::Object(same.fields.clone());
    echo["WHENMODIFIED"] = json!("05/01/2026 10:00:00");
    assert!(plan.fields_to_write(&same.fields, &acc, &echo).is_empty());
}

#[test]
fn field_errors_name_the_record_and_the_field() {
    let specs = shipped();
    let plan = specs.mapping(Flow::AccountOnboarding, "customer").unwrap();
    let mut acc = account("US");
    acc["BillingState"] = json!("Atlantis");
    let err = plan.map(&acc, &MapContext::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Account 001000000000001AAA: field DISPLAYCONTACT.MAILADDRESS.STATE: state: `Atlantis` is not a state or province of US"
    );
    // A value longer than the target takes, without a truncate, is refused, not cut silently.
    let plan = specs.mapping(Flow::OpportunityWon, "sales_order").unwrap();
    let opp = json!({"Id": "006000000000001AAA", "IsWon": true, "CloseDate": "2026-01-15", "CurrencyIsoCode": "euro",
        "Account": {"BillingCountry": "US", "Intacct_Customer_ID__c": "C-1"},
        "OpportunityLineItems": {"records": [{"ProductCode": "X", "Quantity": 1, "UnitPrice": 1, "CurrencyIsoCode": "USD"}]}});
    let err = plan.map(&opp, &MapContext::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("field currency: `EURO` is 4 characters, the target takes at most 3"),
        "{err}"
    );
    // With a truncate it is cut to the declared length.
    let out = mapped(
        &specs,
        Flow::AccountOnboarding,
        "customer",
        &json!({"Id": "001000000000001AAA", "Name": "x".repeat(300), "Type": "Customer - Direct", "BillingCountry": "US"}),
    );
    assert_eq!(out["NAME"].as_str().map(str::len), Some(100));
}

#[test]
fn declared_objects_are_checked_against_a_describe() {
    let describe = lf_mapping::ObjectDescribe::from_json(&json!({"name": "Account", "fields": [
        {"name": "Id", "length": 18}, {"name": "Name", "length": 80},
        {"name": "BillingCountry", "length": 80}]}))
    .unwrap();
    let bundle = SpecBundle::from_files([
        ("library/objects.yaml", OBJECTS),
        ("account-onboarding.yaml", VALID),
    ]);
    let Err(MappingError::Invalid(d)) = bundle.compile_against(&[describe]) else {
        panic!("compiled");
    };
    let errors: Vec<String> = d.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].starts_with("library/objects.yaml:8:7: objects.Account.fields.Name: declared as string(255), but Account.Name holds at most 80"), "{errors:#?}");
    assert!(errors[1].contains("objects.Account.fields.AnnualRevenue: Account has no field `AnnualRevenue` in its describe"), "{errors:#?}");
}
