//! The Flow path of `infra/salesforce` holds together: every metadata file parses as the type
//! its name says, at the project's API version; each record-triggered Flow calls the Apex
//! action that exists with inputs it declares, on the asynchronous path (the one that may make
//! callouts), for an object and fields the org has; the action posts through the Named
//! Credential that exists, whose principal the sender permission set grants; the signing key
//! lives in a custom setting with no value in source; and the connected app asks for exactly
//! `api` and `refresh_token`, admin approved, with no secret in it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lf_sandbox_salesforce::schema::Schema;
use quick_xml::Reader;
use quick_xml::events::Event;

use crate::metadata::{all, elements, is_custom_setting, metadata_root, one};

const NAMESPACE: &str = "http://soap.sforce.com/2006/04/metadata";

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn file_name(path: &Path) -> &str {
    path.file_name().unwrap().to_str().unwrap()
}

/// The root element of a well-formed XML file and its `xmlns`; any syntax error fails.
fn root(path: &Path) -> (String, Option<String>) {
    let xml = std::fs::read_to_string(path).unwrap();
    let mut reader = Reader::from_str(&xml);
    let mut root = None;
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Err(e) => panic!("{}: {e}", path.display()),
            Ok(Event::Start(e)) => {
                if depth == 0 {
                    assert!(root.is_none(), "{}: two root elements", path.display());
                    let xmlns = e
                        .try_get_attribute("xmlns")
                        .unwrap()
                        .map(|a| a.value.into_owned());
                    root = Some((AsRef::<str>::as_ref(&e.local_name()).to_owned(), xmlns));
                }
                depth += 1;
            }
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Eof) => break,
            Ok(_) => {}
        }
    }
    assert_eq!(depth, 0, "{}: unclosed element", path.display());
    root.unwrap_or_else(|| panic!("{}: no root element", path.display()))
}

/// The metadata type a source file's suffix names.
fn metadata_type(name: &str) -> Option<&'static str> {
    [
        (".field-meta.xml", "CustomField"),
        (".object-meta.xml", "CustomObject"),
        (".workflow-meta.xml", "Workflow"),
        (".permissionset-meta.xml", "PermissionSet"),
        (".flow-meta.xml", "Flow"),
        (".cls-meta.xml", "ApexClass"),
        (".namedCredential-meta.xml", "NamedCredential"),
        (".externalCredential-meta.xml", "ExternalCredential"),
        (".connectedApp-meta.xml", "ConnectedApp"),
    ]
    .into_iter()
    .find(|(suffix, _)| name.ends_with(suffix))
    .map(|(_, kind)| kind)
}

fn source_api_version() -> String {
    let project: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(metadata_root().join("../../../sfdx-project.json")).unwrap(),
    )
    .unwrap();
    project["sourceApiVersion"].as_str().unwrap().to_owned()
}

fn apex(name: &str) -> String {
    std::fs::read_to_string(metadata_root().join(format!("classes/{name}.cls")))
        .unwrap_or_else(|e| panic!("class {name}: {e}"))
}

/// `(name, required)` of each `@InvocableVariable` of an Apex class: the annotation, then the
/// `public <Type> <name>;` it annotates on the next line.
fn invocable_variables(source: &str) -> Vec<(String, bool)> {
    let lines: Vec<&str> = source.lines().map(str::trim).collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with("@InvocableVariable") {
            continue;
        }
        let declaration = lines[i + 1..]
            .iter()
            .find(|l| !l.is_empty())
            .unwrap_or_else(|| panic!("{line}: annotates nothing"));
        let words: Vec<&str> = declaration
            .trim_end_matches(';')
            .split_whitespace()
            .collect();
        assert!(
            words.len() == 3 && words[0] == "public",
            "not a public field: {declaration}"
        );
        out.push((words[2].to_owned(), line.contains("required=true")));
    }
    out
}

/// Every `Name__c` identifier in a text.
fn custom_names(source: &str) -> BTreeSet<String> {
    source
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.ends_with("__c") && w.len() > 3)
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_metadata_file_parses_as_its_type_at_the_project_api_version() {
    let version = source_api_version();
    let mut kinds = BTreeSet::new();
    for path in files_under(&metadata_root()) {
        let name = file_name(&path);
        if name.ends_with(".cls") {
            assert!(
                path.with_file_name(format!("{name}-meta.xml")).exists(),
                "{name} has no -meta.xml"
            );
            continue;
        }
        let kind =
            metadata_type(name).unwrap_or_else(|| panic!("{}: unknown file", path.display()));
        let (root, xmlns) = root(&path);
        assert_eq!(root, kind, "{}", path.display());
        assert_eq!(xmlns.as_deref(), Some(NAMESPACE), "{}", path.display());
        let els = elements(&path);
        for key in ["apiVersion", "outboundMessages/apiVersion"] {
            for v in all(&els, key) {
                assert_eq!(v, version, "{} {key}", path.display());
            }
        }
        if kind == "ApexClass" {
            assert_eq!(one(&els, "apiVersion"), Some(version.as_str()), "{name}");
            assert_eq!(one(&els, "status"), Some("Active"), "{name}");
            let class = metadata_root()
                .join("classes")
                .join(name.trim_end_matches("-meta.xml"));
            assert!(class.exists(), "{name} describes no class");
        }
        kinds.insert(kind);
    }
    // The Flow path is all there, next to the Outbound Messages.
    for kind in [
        "Flow",
        "ApexClass",
        "NamedCredential",
        "ExternalCredential",
        "ConnectedApp",
        "Workflow",
    ] {
        assert!(kinds.contains(kind), "no {kind} in force-app");
    }
}

#[test]
fn flows_call_the_apex_action_for_objects_and_fields_the_org_has() {
    let schema = Schema::get();
    let root = metadata_root();
    let mut flow_objects = BTreeSet::new();
    let flows: Vec<PathBuf> = files_under(&root.join("flows"));
    assert!(!flows.is_empty());
    for path in &flows {
        let at = file_name(path);
        let els = elements(path);
        // Record-triggered, after save, on create and update.
        assert_eq!(one(&els, "processType"), Some("AutoLaunchedFlow"), "{at}");
        assert_eq!(
            one(&els, "start/triggerType"),
            Some("RecordAfterSave"),
            "{at}"
        );
        assert_eq!(
            one(&els, "start/recordTriggerType"),
            Some("CreateAndUpdate"),
            "{at}"
        );
        let object = one(&els, "start/object").unwrap();
        let described = schema
            .object(object)
            .unwrap_or_else(|| panic!("{at}: no object {object} in the org"));
        assert!(
            flow_objects.insert(object.to_owned()),
            "{at}: a second Flow for {object}"
        );

        // The one action runs on the asynchronous path: callouts are refused on the others.
        let action_names = all(&els, "actionCalls/name");
        assert_eq!(action_names.len(), 1, "{at}: one action");
        assert_eq!(
            all(&els, "start/scheduledPaths/pathType"),
            vec!["AsyncAfterCommit"],
            "{at}"
        );
        assert_eq!(
            one(&els, "start/scheduledPaths/connector/targetReference"),
            Some(action_names[0]),
            "{at}"
        );
        assert_eq!(one(&els, "start/connector/targetReference"), None, "{at}");

        // The action is an invocable Apex method that exists, given what it declares.
        assert_eq!(one(&els, "actionCalls/actionType"), Some("apex"), "{at}");
        let class = one(&els, "actionCalls/actionName").unwrap();
        let source = apex(class);
        assert!(
            source.contains(&format!("class {class} ")),
            "{at}: {class}.cls declares another class"
        );
        assert_eq!(
            source.matches("@InvocableMethod(").count(),
            1,
            "{class}: one invocable method"
        );
        assert!(
            source.contains("callout=true"),
            "{class}: the invocable method must declare its callout"
        );
        let declared = invocable_variables(&source);
        let given = all(&els, "actionCalls/inputParameters/name");
        for name in &given {
            assert!(
                declared.iter().any(|(d, _)| d == name),
                "{at}: {class} has no input {name}"
            );
        }
        for (name, required) in &declared {
            assert!(
                !required || given.contains(&name.as_str()),
                "{at}: required input {name} of {class} is not given"
            );
        }
        // Every record field it reads or filters on exists on the object.
        let references = all(&els, "actionCalls/inputParameters/value/elementReference");
        assert_eq!(references.len(), given.len(), "{at}");
        for reference in references {
            let field = reference
                .strip_prefix("$Record.")
                .unwrap_or_else(|| panic!("{at}: {reference} is not a field of the record"));
            assert!(described.has_field(field), "{at}: no {object}.{field}");
        }
        let filters = all(&els, "start/filters/field");
        let values = all(&els, "start/filters/value/stringValue");
        assert_eq!(
            filters.len(),
            values.len(),
            "{at}: one string value per filter"
        );
        for (field, value) in filters.iter().zip(&values) {
            let def = described
                .field(field)
                .unwrap_or_else(|| panic!("{at}: no {object}.{field}"));
            if !def.picklist.is_empty() {
                assert!(
                    def.picklist.iter().any(|p| p == value),
                    "{at}: {value} is not a value of {object}.{field}"
                );
            }
        }
        if object == "Opportunity" {
            // Sent once, when the deal becomes Closed Won, not on every later edit.
            assert_eq!(filters, vec!["StageName"], "{at}");
            assert_eq!(values, vec!["Closed Won"], "{at}");
            assert_eq!(
                one(&els, "start/doesRequireRecordChangedToMeetCriteria"),
                Some("true"),
                "{at}"
            );
        }
        // Shipped inactive: an org turns on the Flow of an object when it turns off that
        // object's Outbound Message rule, so no change arrives twice.
        assert_eq!(one(&els, "status"), Some("Draft"), "{at}");
    }
    // Each object an Outbound Message reports has its Flow alternative, and no other.
    let outbound_objects: BTreeSet<String> = files_under(&root.join("workflows"))
        .iter()
        .map(|p| {
            file_name(p)
                .trim_end_matches(".workflow-meta.xml")
                .to_owned()
        })
        .collect();
    assert_eq!(flow_objects, outbound_objects);
}

#[test]
fn the_action_posts_through_the_named_credential_with_a_key_kept_out_of_source() {
    let root = metadata_root();
    let source = apex("LedgerforceCallout");

    // callout:<Named Credential>, which exists and authenticates through an External
    // Credential whose principal the sender permission set grants.
    let (_, rest) = source.split_once("'callout:").unwrap();
    let named = rest.split(['\'', '/']).next().unwrap();
    let nc = elements(&root.join(format!("namedCredentials/{named}.namedCredential-meta.xml")));
    assert_eq!(one(&nc, "namedCredentialType"), Some("SecuredEndpoint"));
    assert_eq!(one(&nc, "calloutStatus"), Some("Enabled"));
    // The signature is the authentication: nothing is merged into the request.
    assert_eq!(one(&nc, "allowMergeFieldsInBody"), Some("false"));
    assert_eq!(one(&nc, "allowMergeFieldsInHeader"), Some("false"));
    let params: Vec<&str> = all(&nc, "namedCredentialParameters/parameterType");
    assert!(params.contains(&"Url") && params.contains(&"Authentication"));
    let url = one(&nc, "namedCredentialParameters/parameterValue").unwrap();
    assert!(
        url.starts_with("https://") && url.ends_with("/salesforce"),
        "{url}"
    );
    let external = one(&nc, "namedCredentialParameters/externalCredential").unwrap();
    let ec = elements(&root.join(format!(
        "externalCredentials/{external}.externalCredential-meta.xml"
    )));
    assert_eq!(
        one(&ec, "externalCredentialParameters/parameterType"),
        Some("NamedPrincipal")
    );
    let principal = one(&ec, "externalCredentialParameters/parameterName").unwrap();
    let sender =
        elements(&root.join("permissionsets/Ledgerforce_Webhook_Sender.permissionset-meta.xml"));
    assert_eq!(
        one(
            &sender,
            "externalCredentialPrincipalAccesses/externalCredentialPrincipal"
        ),
        Some(format!("{external}-{principal}").as_str())
    );
    assert_eq!(
        one(&sender, "externalCredentialPrincipalAccesses/enabled"),
        Some("true")
    );

    // Every custom object or field the class names is in force-app, and the key is read from
    // a custom setting that source gives no value.
    let names = custom_names(&source);
    assert!(!names.is_empty());
    for name in &names {
        let as_object = root.join("objects").join(name);
        let as_field = files_under(&root.join("objects"))
            .into_iter()
            .any(|p| file_name(&p) == format!("{name}.field-meta.xml"));
        assert!(
            as_object.is_dir() || as_field,
            "LedgerforceCallout names {name}, which force-app does not define"
        );
    }
    let setting = root.join("objects/Ledgerforce_Settings__c");
    assert!(names.contains("Ledgerforce_Settings__c") && names.contains("Signing_Key__c"));
    assert!(is_custom_setting(&setting));
    let object = elements(&setting.join("Ledgerforce_Settings__c.object-meta.xml"));
    assert_eq!(one(&object, "customSettingsType"), Some("Hierarchy"));
    assert_eq!(one(&object, "visibility"), Some("Protected"));
    let key = elements(&setting.join("fields/Signing_Key__c.field-meta.xml"));
    assert_eq!(
        one(&key, "defaultValue"),
        None,
        "the key has no value in source"
    );
    assert_eq!(one(&key, "type"), Some("Text"));

    // Salesforce deploys Apex to production only with tests: there is one for the action,
    // with a callout mock.
    let test = apex("LedgerforceCalloutTest");
    assert!(test.contains("@IsTest") && test.contains("implements HttpCalloutMock"));
    assert!(test.contains("LedgerforceCallout.send("));
}

#[test]
fn the_connected_app_asks_for_api_and_refresh_token_admin_approved_with_no_secret() {
    let root = metadata_root();
    let apps = files_under(&root.join("connectedApps"));
    assert_eq!(apps.len(), 1);
    let app = elements(&apps[0]);
    assert_eq!(
        all(&app, "oauthConfig/scopes"),
        vec!["Api", "RefreshToken"],
        "the scopes api and refresh_token, no more"
    );
    assert_eq!(one(&app, "oauthConfig/isAdminApproved"), Some("true"));
    assert!(
        one(&app, "oauthConfig/certificate").is_some(),
        "the JWT bearer flow needs the certificate"
    );
    assert_eq!(one(&app, "oauthConfig/consumerSecret"), None);
    assert_eq!(
        one(&app, "oauthConfig/consumerKey"),
        None,
        "Salesforce makes it"
    );
    assert!(one(&app, "contactEmail").is_some() && one(&app, "label").is_some());

    // No file in force-app holds a private key, a consumer secret or a password.
    for path in files_under(&root) {
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in ["PRIVATE KEY", "<consumerSecret>", "<password>"] {
            assert!(!text.contains(secret), "{}: {secret}", path.display());
        }
    }
}
