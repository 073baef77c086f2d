//! The emulator's custom schema is exactly the SFDX metadata in `infra/salesforce`, and its
//! standard Outbound Message rules match the shipped workflow definitions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lf_sandbox_salesforce::OutboundRule;
use lf_sandbox_salesforce::schema::{FieldType, Schema};
use quick_xml::Reader;
use quick_xml::events::Event;

pub(crate) fn metadata_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../infra/salesforce/force-app/main/default")
}

/// Every element's text, keyed by its path below the root (`valueSet/valueSetDefinition/value/fullName`).
pub(crate) fn elements(path: &Path) -> Vec<(String, String)> {
    let xml = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = Reader::from_str(&xml);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => stack.push(AsRef::<str>::as_ref(&e.local_name()).to_owned()),
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                let text = AsRef::<str>::as_ref(&t).trim().to_owned();
                if !text.is_empty() && stack.len() > 1 {
                    out.push((stack[1..].join("/"), text));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

/// Whether the object folder holds a custom setting (`customSettingsType` in its object file).
pub(crate) fn is_custom_setting(object_dir: &Path) -> bool {
    let name = object_dir.file_name().unwrap().to_str().unwrap();
    let file = object_dir.join(format!("{name}.object-meta.xml"));
    file.exists() && one(&elements(&file), "customSettingsType").is_some()
}

pub(crate) fn one<'a>(els: &'a [(String, String)], key: &str) -> Option<&'a str> {
    els.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

pub(crate) fn all<'a>(els: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    els.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn custom_fields_match_the_sfdx_metadata() {
    let schema = Schema::get();
    let mut from_files: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
    for object_dir in std::fs::read_dir(metadata_root().join("objects")).unwrap() {
        let object_dir = object_dir.unwrap().path();
        let dir_name = object_dir.file_name().unwrap().to_str().unwrap().to_owned();
        // Task and Event custom fields are defined on Activity.
        let object = if dir_name == "Activity" {
            "Task".to_owned()
        } else {
            dir_name
        };
        for f in std::fs::read_dir(object_dir.join("fields")).unwrap() {
            let f = f.unwrap().path();
            let els = elements(&f);
            let name = one(&els, "fullName").unwrap().to_owned();
            assert_eq!(
                f.file_name().unwrap().to_str().unwrap(),
                format!("{name}.field-meta.xml")
            );
            from_files.insert((object.clone(), name), els);
        }
    }
    let ours: BTreeSet<(String, String)> = schema
        .objects()
        .iter()
        .flat_map(|o| o.fields.iter().map(move |f| (o, f)))
        .filter(|(_, f)| f.custom && !f.name.starts_with("SBQQ__"))
        .map(|(o, f)| (o.name.to_owned(), f.name.to_owned()))
        .collect();
    let files: BTreeSet<(String, String)> = from_files.keys().cloned().collect();
    assert_eq!(ours, files, "emulator custom fields vs infra/salesforce");

    for ((object, name), els) in &from_files {
        let field = schema.object(object).unwrap().field(name).unwrap();
        let kind = one(els, "type").unwrap();
        let expected = match kind {
            "Text" => FieldType::String,
            "LongTextArea" | "TextArea" => FieldType::TextArea,
            "Currency" => FieldType::Currency,
            "Number" => FieldType::Double,
            "Percent" => FieldType::Percent,
            "Date" => FieldType::Date,
            "DateTime" => FieldType::DateTime,
            "Picklist" => FieldType::Picklist,
            "Lookup" | "MasterDetail" => FieldType::Reference,
            "Checkbox" => FieldType::Boolean,
            "Email" => FieldType::Email,
            other => panic!("{object}.{name}: unmapped type {other}"),
        };
        let at = format!("{object}.{name}");
        assert_eq!(field.kind, expected, "{at}");
        assert_eq!(field.label, one(els, "label").unwrap(), "{at} label");
        if let Some(len) = one(els, "length") {
            assert_eq!(field.length.to_string(), len, "{at} length");
        }
        if let Some(p) = one(els, "precision") {
            assert_eq!(field.precision.to_string(), p, "{at} precision");
            assert_eq!(
                field.scale.to_string(),
                one(els, "scale").unwrap(),
                "{at} scale"
            );
        }
        assert_eq!(
            field.external_id,
            one(els, "externalId") == Some("true"),
            "{at} externalId"
        );
        assert_eq!(
            field.unique,
            one(els, "unique") == Some("true"),
            "{at} unique"
        );
        assert_eq!(
            !field.nillable,
            one(els, "required") == Some("true"),
            "{at} required"
        );
        if kind == "Picklist" {
            let values = all(els, "valueSet/valueSetDefinition/value/fullName");
            assert_eq!(field.picklist, values, "{at} picklist values");
            assert_eq!(
                field.restricted,
                one(els, "valueSet/restricted") == Some("true"),
                "{at} restricted"
            );
        }
        if kind == "Lookup" {
            assert_eq!(
                field.reference_to,
                vec![one(els, "referenceTo").unwrap()],
                "{at} referenceTo"
            );
            let rel = one(els, "relationshipName").unwrap();
            let parent = schema.object(one(els, "referenceTo").unwrap()).unwrap();
            assert!(
                parent.child_relationship(&format!("{rel}__r")).is_some(),
                "{at} child relationship"
            );
            assert_eq!(
                field.relationship_name,
                Some(format!("{}__r", name.trim_end_matches("__c")).as_str())
            );
        }
    }

    let object = elements(
        &metadata_root()
            .join("objects/Revenue_Reconciliation__c/Revenue_Reconciliation__c.object-meta.xml"),
    );
    let rr = schema.object("Revenue_Reconciliation__c").unwrap();
    assert_eq!(rr.label, one(&object, "label").unwrap());
    assert_eq!(rr.label_plural, one(&object, "pluralLabel").unwrap());
    assert_eq!(
        rr.auto_number_format,
        one(&object, "nameField/displayFormat")
    );
}

#[test]
fn standard_outbound_rules_match_the_shipped_workflows() {
    for rule in OutboundRule::standard() {
        let path = metadata_root().join(format!("workflows/{}.workflow-meta.xml", rule.object));
        let els = elements(&path);
        assert_eq!(
            one(&els, "outboundMessages/fullName"),
            Some(rule.name.as_str())
        );
        assert_eq!(
            all(&els, "outboundMessages/fields"),
            rule.fields.iter().map(String::as_str).collect::<Vec<_>>(),
            "{}",
            rule.name
        );
        assert_eq!(one(&els, "rules/actions/name"), Some(rule.name.as_str()));
        for field in &rule.fields {
            assert!(
                Schema::get().object(&rule.object).unwrap().has_field(field),
                "{}.{field} is sent but not in the schema",
                rule.object
            );
        }
    }
}
