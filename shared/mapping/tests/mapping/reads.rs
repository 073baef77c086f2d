//! `MappingPlan::reads`: what a compiled mapping says it reads is all it reads. Every shipped
//! test case maps the same from a record pruned to the declared reads as from the whole
//! record, and a read left out of the list is caught by that very comparison.

use std::collections::{BTreeMap, BTreeSet};

use lf_domain::{EntityId, Flow};
use lf_mapping::{MapContext, MappingPlan, SourceReads, SpecBundle};

use crate::specs::shipped;
use serde_json::{Map, Value, json};

/// What to keep of a record, built here from the public API (not from lf-mapping's own code,
/// so the test does not agree with the code it checks by construction), and editable.
#[derive(Debug, Clone, Default)]
pub(crate) struct Keep {
    pub fields: BTreeSet<String>,
    pub parents: BTreeMap<String, Keep>,
    pub collections: BTreeMap<String, Keep>,
}

impl Keep {
    pub(crate) fn of(reads: &SourceReads) -> Keep {
        Keep {
            fields: reads.fields().map(str::to_owned).collect(),
            parents: reads
                .parents()
                .map(|(n, r)| (n.to_owned(), Keep::of(r)))
                .collect(),
            collections: reads
                .collections()
                .map(|(n, r)| (n.to_owned(), Keep::of(r)))
                .collect(),
        }
    }

    /// Every leaf read, dotted (`Account.Name`, `OpportunityLineItems.TotalPrice`).
    fn leaves(&self) -> Vec<String> {
        let mut out: Vec<String> = self.fields.iter().cloned().collect();
        for (n, k) in self.parents.iter().chain(&self.collections) {
            out.extend(k.leaves().into_iter().map(|l| format!("{n}.{l}")));
        }
        out
    }

    /// The same, without the leaf `dotted`.
    fn without(&self, dotted: &str) -> Keep {
        let mut k = self.clone();
        match dotted.split_once('.') {
            None => {
                k.fields.remove(dotted);
            }
            Some((first, rest)) => {
                for m in [&mut k.parents, &mut k.collections] {
                    if let Some(inner) = m.get_mut(first) {
                        *inner = inner.without(rest);
                    }
                }
            }
        }
        k
    }

    /// `record` with only what is kept: fields, related records (pruned), collections as
    /// either API returns them (`{totalSize, done, records: [...]}` or a list), each line
    /// pruned.
    pub(crate) fn prune(&self, record: &Value) -> Value {
        let Value::Object(m) = record else {
            return record.clone();
        };
        let mut out = Map::new();
        for (k, v) in m {
            if self.fields.contains(k) {
                out.insert(k.clone(), v.clone());
            } else if let Some(p) = self.parents.get(k) {
                out.insert(k.clone(), p.prune(v));
            } else if let Some(c) = self.collections.get(k) {
                out.insert(k.clone(), c.prune_lines(v));
            }
        }
        Value::Object(out)
    }

    fn prune_lines(&self, v: &Value) -> Value {
        match v {
            Value::Array(items) => Value::Array(items.iter().map(|i| self.prune(i)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| match (k.as_str(), x) {
                        ("records", Value::Array(_)) => (k.clone(), self.prune_lines(x)),
                        _ => (k.clone(), x.clone()),
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// The contexts a flow maps in: routed by the mapping, and with an entity given.
fn contexts(plan: &MappingPlan) -> Vec<MapContext<'_>> {
    let mut out = vec![MapContext::default()];
    if let Some(e) = ["US", "DE", "UK", "EDU"]
        .iter()
        .find_map(|id| plan.entity(&EntityId::parse(id).unwrap()))
    {
        out.push(MapContext {
            entity: Some(e),
            rates: None,
        });
    }
    out
}

/// Whether mapping `record` pruned by `keep` gives what mapping it whole gives (Debug shows
/// every field in order and every error's text), in every context.
fn same_pruned(plan: &MappingPlan, keep: &Keep, record: &Value) -> Result<(), String> {
    let pruned = keep.prune(record);
    for cx in contexts(plan) {
        let (full, less) = (plan.map(record, &cx), plan.map(&pruned, &cx));
        if format!("{full:?}") != format!("{less:?}") {
            return Err(format!(
                "{}: whole {record} → {full:?}\npruned {pruned} → {less:?}",
                plan.name()
            ));
        }
    }
    Ok(())
}

#[test]
fn every_shipped_test_case_maps_the_same_from_only_what_its_mapping_reads() {
    let specs = shipped();
    let (mut cases, mut pruned_away) = (0, 0);
    let mut problems = Vec::new();
    for (flow, name, mapping, input) in specs.test_cases() {
        let plan = specs.mapping(flow, mapping).unwrap();
        let keep = Keep::of(plan.reads());
        if let Err(p) = same_pruned(plan, &keep, input) {
            problems.push(format!("{flow} / {name}: {p}"));
        }
        cases += 1;
        pruned_away += usize::from(keep.prune(input) != *input);
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(cases >= 30, "only {cases} test cases");
    // Not vacuous: inputs that carry what the mappings do not read (Salesforce's
    // `attributes`, unused values) really lost it. The demo records (sandboxes) carry far more.
    assert!(pruned_away > 0, "no input lost a field");
}

#[test]
fn a_read_left_out_is_caught_by_the_comparison() {
    let specs = shipped();
    let plan = specs.mapping(Flow::OpportunityWon, "invoice").unwrap();
    let keep = Keep::of(plan.reads());
    let input = specs
        .test_cases()
        .find(|(_, name, _, _)| name.starts_with("a US deal"))
        .map(|(_, _, _, input)| input.clone())
        .unwrap();
    assert_eq!(same_pruned(plan, &keep, &input), Ok(()));
    // What the country routing reads, a line amount, a plain field, what the revenue
    // schedule's condition reads, and what the mapping's own condition reads: each, left
    // out, changes the result.
    for left_out in [
        "Account.BillingCountry",
        "OpportunityLineItems.TotalPrice",
        "PO_Number__c",
        "OpportunityLineItems.End_Date__c",
        "IsWon",
    ] {
        assert!(
            keep.leaves().contains(&left_out.to_owned()),
            "{left_out} is not declared"
        );
        assert!(
            same_pruned(plan, &keep.without(left_out), &input).is_err(),
            "leaving out {left_out} went unnoticed"
        );
    }
    // Across every shipped mapping, leaving out a read is noticed by at least one of its
    // test cases for most reads (the others are read only on paths no test case takes, such
    // as ids that name a record in errors).
    let (mut declared, mut caught) = (0, 0);
    for (flow, _) in specs.flows() {
        for (name, plan) in specs.mappings(flow) {
            let keep = Keep::of(plan.reads());
            let inputs: Vec<&Value> = specs
                .test_cases()
                .filter(|(f, _, m, _)| *f == flow && *m == name)
                .map(|(_, _, _, i)| i)
                .collect();
            for leaf in keep.leaves() {
                declared += 1;
                let less = keep.without(&leaf);
                caught += usize::from(inputs.iter().any(|i| same_pruned(plan, &less, i).is_err()));
            }
        }
    }
    assert!(
        caught * 2 > declared,
        "only {caught} of {declared} reads are needed by a test case"
    );
}

#[test]
fn reads_list_fields_parents_and_lines_in_a_fixed_order() {
    let specs = shipped();
    let invoice = specs
        .mapping(Flow::OpportunityWon, "invoice")
        .unwrap()
        .reads();
    assert_eq!(invoice.object(), "Opportunity");
    // Own fields by name, then the related records' (the routing's Account.BillingCountry,
    // the customer id).
    assert_eq!(
        invoice.paths(),
        [
            "Business_Unit__c",
            "CloseDate",
            "CurrencyIsoCode",
            "Id",
            "IsWon",
            "Name",
            "PO_Number__c",
            "Payment_Terms__c",
            "Account.BillingCountry",
            "Account.Intacct_Customer_ID__c",
        ]
    );
    let lines: Vec<(&str, &SourceReads)> = invoice.collections().collect();
    assert_eq!(lines.len(), 1);
    let (name, line) = lines[0];
    assert_eq!(
        (name, line.object()),
        ("OpportunityLineItems", "OpportunityLineItem")
    );
    // The routing's `exists` over the lines reads ProductCode too.
    assert_eq!(
        line.paths(),
        [
            "CurrencyIsoCode",
            "Description",
            "End_Date__c",
            "Name",
            "ProductCode",
            "ServiceDate",
            "TotalPrice",
            "Product2.Family",
        ]
    );
    assert!(invoice.contains("Account.BillingCountry"));
    assert!(invoice.contains("OpportunityLineItems.Product2.Family"));
    assert!(!invoice.contains("Account.Name"));

    // The same mapping compiled twice, from files in another order, lists the same reads.
    let mut files: Vec<(String, String)> = SpecBundle::shipped()
        .files()
        .map(|(n, t)| (n.to_owned(), t.to_owned()))
        .collect();
    files.reverse();
    let again = SpecBundle::from_files(files).compile().unwrap();
    assert_eq!(
        again
            .mapping(Flow::OpportunityWon, "invoice")
            .unwrap()
            .reads(),
        invoice
    );

    // Matching keys, the fuzzy name and the ownership time are reads too.
    let sync = specs
        .mapping(Flow::AccountSync, "account_to_customer")
        .unwrap()
        .reads();
    for path in [
        "Website",
        "Tax_ID__c",
        "BillingPostalCode",
        "LastModifiedDate",
    ] {
        assert!(sync.contains(path), "{path}: {:?}", sync.paths());
    }
}

#[test]
fn reads_of_several_mappings_merge_into_one_select_list() {
    let specs = shipped();
    let mut both = specs
        .mapping(Flow::OpportunityWon, "invoice")
        .unwrap()
        .reads()
        .clone();
    let order = specs
        .mapping(Flow::OpportunityWon, "sales_order")
        .unwrap()
        .reads();
    both.merge(order);
    for p in order.paths().iter().chain(&["PO_Number__c".to_owned()]) {
        assert!(both.contains(p), "{p}");
    }
    // The sales order's line fields join the invoice's.
    assert!(both.contains("OpportunityLineItems.UnitPrice"));
    assert!(both.contains("OpportunityLineItems.TotalPrice"));
    let record = json!({"Id": "006000000000001AAA"});
    assert_eq!(Keep::of(&both).prune(&record), record);
}

/// Every place a spec reads from, in one small spec.
const EVERY_KIND: &str = r#"flow: opportunity-won
objects:
  User: {system: salesforce, fields: {Id: id, Email: string(80), Name: string}}
  Account: {system: salesforce, fields: {Id: id, Name: string, Country: string, Owner: ref(User)}}
  Product: {system: salesforce, fields: {Family: string, Name: string}}
  Line: {system: salesforce, fields: {Id: id, Code: string, Qty: decimal, Start: date, Product: ref(Product)}}
  Opp:
    system: salesforce
    fields: {Id: id, Name: string, Stage: string, Amount: decimal, Close: date, Currency: string(3),
             Notes: any, Unused: string, Account: ref(Account), Lines: children(Line)}
  DOC: {system: intacct, fields: {A: string, C: string, D: decimal, items: ref(ITEMS)}}
  ITEMS: {system: intacct, fields: {item: list(ITEM)}}
  ITEM: {system: intacct, fields: {code: string, product: string}}
mappings:
  doc:
    source: Opp
    target: DOC
    when: record.Stage == 'Won'
    fields:
      - target: A
        value: "record.Lines.records.exists(l, l.Product.Family == 'X') ? record.Account.Owner.Email : ''"
      - target: C
        value: "has(record.Notes.flag) ? 'y' : 'n'"
      - target: D
        source: $.Amount
        transforms: [{currency: {from: $.Currency, to: USD, date: $.Close}}]
    lines:
      - target: items.item
        source: "$.Lines.records[?@.Qty >= 0]"
        when: line.Start != null && record.Name != ''
        fields:
          - {target: code, source: $.Code}
          - {target: product, source: $.Product.Name}
  counted:
    source: Opp
    target: DOC
    fields:
      - target: C
        value: "record.Lines.totalSize > 0 ? 'some' : 'none'"
"#;

#[test]
fn expressions_filters_transforms_and_lines_are_all_reads() {
    let specs = SpecBundle::from_files([("opportunity-won.yaml", EVERY_KIND)])
        .compile()
        .unwrap();
    let doc = specs.mapping(Flow::OpportunityWon, "doc").unwrap().reads();
    // The mapping's condition, `has` on an `any` field, the currency, the date of its rate,
    // the amount, the line condition's `record.Name`, a parent of a parent in a CEL value.
    assert_eq!(
        doc.paths(),
        [
            "Amount",
            "Close",
            "Currency",
            "Id",
            "Name",
            "Notes",
            "Stage",
            "Account.Owner.Email"
        ]
    );
    let (name, lines) = doc.collections().next().unwrap();
    assert_eq!((name, lines.object()), ("Lines", "Line"));
    // The filter reads the lines whole (every scalar field), `exists` reads Product.Family
    // through its variable, the line field Product.Name.
    assert_eq!(
        lines.paths(),
        [
            "Code",
            "Id",
            "Qty",
            "Start",
            "Product.Family",
            "Product.Name"
        ]
    );
    assert!(!doc.contains("Unused"));
    // Counting the lines reads the collection, none of its fields.
    let counted = specs
        .mapping(Flow::OpportunityWon, "counted")
        .unwrap()
        .reads();
    let collections: Vec<(&str, Vec<String>)> =
        counted.collections().map(|(n, r)| (n, r.paths())).collect();
    assert_eq!(collections, [("Lines", Vec::<String>::new())]);

    // And what they read is what they need: a record pruned to it maps the same.
    let plan = specs.mapping(Flow::OpportunityWon, "doc").unwrap();
    let opp = json!({"Id": "006X", "Name": "Deal", "Stage": "Won", "Amount": "10", "Close": "2026-01-31",
        "Currency": "USD", "Notes": {"flag": true}, "Unused": "x",
        "Account": {"Name": "Acme", "Owner": {"Email": "o@acme.test", "Name": "O"}},
        "Lines": {"totalSize": 2, "done": true, "records": [
            {"Id": "L1", "Code": "A", "Qty": 1, "Start": "2026-02-01", "Product": {"Family": "X", "Name": "Pa"}},
            {"Id": "L2", "Code": "B", "Qty": -1, "Start": null, "Product": {"Family": "Y", "Name": "Pb"}}]}});
    let keep = Keep::of(plan.reads());
    assert_eq!(same_pruned(plan, &keep, &opp), Ok(()));
    assert_ne!(keep.prune(&opp), opp);
    let Ok(lf_mapping::Mapped::Record(r)) = plan.map(&opp, &MapContext::default()) else {
        panic!("not mapped");
    };
    assert_eq!(
        Value::Object(r.fields),
        json!({"A": "o@acme.test", "C": "y", "D": "10.00", "items": {"item": [{"code": "A", "product": "Pa"}]}})
    );
}

#[test]
fn the_target_reads_are_what_the_diff_and_the_match_compare() {
    let specs = shipped();
    let plan = specs
        .mapping(Flow::AccountSync, "account_to_customer")
        .unwrap();
    let target = plan.target_reads();
    assert_eq!(target.object(), "CUSTOMER");
    // What is written, what matching compares, the modification time, the ids.
    for path in [
        "NAME",
        "CREDITLIMIT",
        "DISPLAYCONTACT.PHONE1",
        "DISPLAYCONTACT.URL1",
        "DISPLAYCONTACT.MAILADDRESS.ZIP",
        "TAXID",
        "WHENMODIFIED",
        "CUSTOMERID",
        "RECORDNO",
    ] {
        assert!(target.contains(path), "{path}: {:?}", target.paths());
    }
    let account = json!({"Id": "001000000000001AAA", "Name": "Acme Robotics Inc", "Type": "Customer - Direct",
        "BillingCountry": "US", "BillingPostalCode": "94105", "Website": "https://acme-robotics.com",
        "Phone": "555-0100", "Credit_Limit__c": 1000, "LastModifiedDate": "2026-05-02T10:00:00.000+0000"});
    let lf_mapping::Mapped::Record(r) = plan.map(&account, &MapContext::default()).unwrap() else {
        panic!("skipped");
    };
    // The customer as Intacct returns it, with much the flow need not read.
    let current = json!({"RECORDNO": 42, "CUSTOMERID": "C-9", "NAME": "Old name", "CREDITLIMIT": "5000",
        "TOTALDUE": "120.00", "PARENTID": null, "ONHOLD": "false", "WHENCREATED": "01/01/2026 00:00:00",
        "WHENMODIFIED": "05/01/2026 10:00:00",
        "DISPLAYCONTACT": {"PHONE1": "555-0199", "EMAIL1": "ap@acme.test", "URL1": "www.acme-robotics.com",
            "MAILADDRESS": {"ZIP": "94105", "COUNTRY": "United States", "ISOCOUNTRYCODE": "US", "ADDRESS3": "x"}}});
    let keep = Keep::of(target);
    let pruned = keep.prune(&current);
    assert_ne!(pruned, current);
    let write = plan.fields_to_write(&r.fields, &account, &current);
    assert!(!write.is_empty());
    assert_eq!(plan.fields_to_write(&r.fields, &account, &pruned), write);
    let m = plan.matching().unwrap();
    let similar = json!({"CUSTOMERID": "C-8", "NAME": "Acme Robotic", "STATUS": "active"});
    let candidates = [similar, current];
    let pruned: Vec<Value> = candidates.iter().map(|c| keep.prune(c)).collect();
    assert_eq!(m.decide(&account, &pruned), m.decide(&account, &candidates));
    // Leaving out what the match compares on changes the decision.
    let blind = keep
        .without("DISPLAYCONTACT.URL1")
        .without("DISPLAYCONTACT.MAILADDRESS.ZIP");
    let pruned: Vec<Value> = candidates.iter().map(|c| blind.prune(c)).collect();
    assert_ne!(m.decide(&account, &pruned), m.decide(&account, &candidates));
}
