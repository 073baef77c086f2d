//! `template.yaml` against the code it deploys: one function per crate of `functions/` and one
//! crate per function, every flow queue with a dead-letter queue and room for its consumer's
//! timeout, the webhooks and the poller wired to the queues the routing table sends to, only
//! variables the functions read, no IAM statement on `*`, and an alarm on every dead-letter
//! queue, function and parking flow. (`shared/aws/src/schema.rs` checks the tables' and
//! queues' names and keys.) cfn-lint and `sam validate --lint` in `tests/run` check the rest.

// clippy.toml allows these in #[test] functions; the helpers here are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use lf_domain::port::Month;
use lf_domain::{Flow, System};
use lf_intake::RoutingTable;
use lf_runtime::config::{self, queue_url_var};
use saphyr::{LoadableYamlNode, Yaml};

const TEMPLATE: &str = include_str!("../../../template.yaml");

/// Every message of a flow queue is received this many times before SQS moves it to the DLQ.
const MIN_RECEIVES: i64 = 5;
/// The AWS guidance for Lambda consumers: visibility at least six times the function timeout.
const VISIBILITY_PER_TIMEOUT: i64 = 6;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The parsed template.
struct Template<'a> {
    root: Yaml<'a>,
}

impl<'a> Template<'a> {
    fn parse(text: &'a str) -> Self {
        let mut docs = Yaml::load_from_str(text).expect("template.yaml is YAML");
        assert_eq!(docs.len(), 1, "template.yaml is one document");
        Self {
            root: docs.remove(0),
        }
    }

    /// `(logical id, resource)` of every resource of `kind`.
    fn resources(&self, kind: &str) -> Vec<(String, &Yaml<'a>)> {
        self.root["Resources"]
            .as_mapping()
            .expect("Resources is a mapping")
            .iter()
            .filter(|(_, r)| r["Type"].as_str() == Some(kind))
            .map(|(id, r)| (id.as_str().expect("logical ids are strings").to_owned(), r))
            .collect()
    }

    fn resource(&self, id: &str) -> &Yaml<'a> {
        let r = &self.root["Resources"][id];
        assert!(r.as_mapping().is_some(), "no resource {id}");
        r
    }

    fn functions(&self) -> Vec<(String, &Yaml<'a>)> {
        self.resources("AWS::Serverless::Function")
    }

    /// A function property, or its value in `Globals.Function`.
    fn function_property<'t>(&'t self, function: &'t Yaml<'a>, name: &str) -> &'t Yaml<'a> {
        function["Properties"]
            .as_mapping_get(name)
            .unwrap_or(&self.root["Globals"]["Function"][name])
    }

    /// The environment of a function: the globals' variables, then its own.
    fn environment(&self, function: &Yaml<'a>) -> BTreeMap<String, String> {
        let mut vars = BTreeMap::new();
        for scope in [&self.root["Globals"]["Function"], &function["Properties"]] {
            let variables = get(scope, "Environment").and_then(|e| get(e, "Variables"));
            if let Some(map) = variables.and_then(Yaml::as_mapping) {
                for (k, v) in map {
                    vars.insert(k.as_str().unwrap().to_owned(), reference(v));
                }
            }
        }
        vars
    }

    /// Every IAM statement of the function's role and of the managed policies it attaches.
    fn role_statements(&self, function: &Yaml<'a>) -> Vec<&Yaml<'a>> {
        let role_id = get_att(&function["Properties"]["Role"]).0;
        let role = &self.resource(&role_id)["Properties"];
        let mut statements: Vec<&Yaml<'a>> = get(role, "Policies")
            .into_iter()
            .flat_map(list)
            .flat_map(|p| p["PolicyDocument"]["Statement"].as_vec().unwrap())
            .collect();
        for arn in get(role, "ManagedPolicyArns").into_iter().flat_map(list) {
            for policy in referenced_ids(arn) {
                let document = &self.resource(&policy)["Properties"]["PolicyDocument"];
                statements.extend(document["Statement"].as_vec().unwrap());
            }
        }
        statements.into_iter().flat_map(unconditional).collect()
    }
}

/// The node under a CloudFormation short-form tag (`!Ref`, `!Sub`, `!GetAtt`), or the node.
fn untagged<'n, 'a>(node: &'n Yaml<'a>) -> &'n Yaml<'a> {
    match node {
        Yaml::Tagged(_, inner) => inner,
        other => other,
    }
}

fn tag_of(node: &Yaml<'_>) -> Option<String> {
    match node {
        Yaml::Tagged(tag, _) => Some(tag.suffix.clone()),
        _ => None,
    }
}

/// `node[key]`, or `None` when `node` is not a mapping or has no such key (indexing panics).
fn get<'n, 'a>(node: &'n Yaml<'a>, key: &str) -> Option<&'n Yaml<'a>> {
    untagged(node).as_mapping_get(key)
}

/// A scalar as text (`!Ref X` is `Ref X`, `!GetAtt X.Arn` is `GetAtt X.Arn`, `!Sub s` is `s`).
fn reference(node: &Yaml<'_>) -> String {
    let inner = untagged(node);
    let text = inner
        .as_str()
        .map(str::to_owned)
        .or_else(|| inner.as_integer().map(|i| i.to_string()))
        .or_else(|| inner.as_bool().map(|b| b.to_string()))
        .unwrap_or_else(|| format!("{inner:?}"));
    match tag_of(node).as_deref() {
        Some("Ref") => format!("Ref {text}"),
        Some("GetAtt") => format!("GetAtt {text}"),
        _ => text,
    }
}

fn integer(node: &Yaml<'_>, what: &str) -> i64 {
    untagged(node)
        .as_integer()
        .unwrap_or_else(|| panic!("{what} is not a number: {node:?}"))
}

/// `(logical id, attribute)` of `!GetAtt Id.Attr`.
fn get_att(node: &Yaml<'_>) -> (String, String) {
    assert_eq!(tag_of(node).as_deref(), Some("GetAtt"), "{node:?}");
    let text = untagged(node).as_str().unwrap();
    let (id, attr) = text.split_once('.').unwrap();
    (id.to_owned(), attr.to_owned())
}

/// The logical ids a `!Ref` or `!GetAtt` names, also inside `!If [cond, a, b]`.
fn referenced_ids(node: &Yaml<'_>) -> Vec<String> {
    match tag_of(node).as_deref() {
        Some("Ref") => {
            let id = untagged(node).as_str().unwrap();
            if id.starts_with("AWS::") {
                vec![]
            } else {
                vec![id.to_owned()]
            }
        }
        Some("GetAtt") => vec![get_att(node).0],
        Some("If") => untagged(node).as_vec().unwrap()[1..]
            .iter()
            .flat_map(referenced_ids)
            .collect(),
        _ => vec![],
    }
}

/// A statement, or both branches of a statement under `!If`.
fn unconditional<'n, 'a>(statement: &'n Yaml<'a>) -> Vec<&'n Yaml<'a>> {
    if tag_of(statement).as_deref() == Some("If") {
        untagged(statement).as_vec().unwrap()[1..]
            .iter()
            .filter(|s| s.as_mapping().is_some())
            .collect()
    } else {
        vec![statement]
    }
}

fn list<'n, 'a>(node: &'n Yaml<'a>) -> Vec<&'n Yaml<'a>> {
    match node.as_vec() {
        Some(items) => items.iter().collect(),
        None if node.is_badvalue() => vec![],
        None => vec![node],
    }
}

/// The logical ids of the resources a statement allows `action` on.
fn allowed(statements: &[&Yaml<'_>], action: &str) -> BTreeSet<String> {
    statements
        .iter()
        .filter(|s| s["Effect"].as_str() == Some("Allow"))
        .filter(|s| {
            list(&s["Action"])
                .iter()
                .any(|a| a.as_str() == Some(action))
        })
        .flat_map(|s| list(&s["Resource"]))
        .flat_map(referenced_ids)
        .collect()
}

/// The crates of `functions/` (folders with a Cargo.toml), by folder name.
fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(repo_root().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|dir| dir.join("Cargo.toml").is_file())
        .map(|dir| dir.file_name().unwrap().to_str().unwrap().to_owned())
        .collect()
}

/// `functions/<crate>` of every function resource, by logical id.
fn code_uris(t: &Template<'_>) -> BTreeMap<String, String> {
    t.functions()
        .into_iter()
        .map(|(id, f)| {
            let uri = reference(&f["Properties"]["CodeUri"]);
            let krate = uri
                .strip_prefix("functions/")
                .unwrap_or_else(|| panic!("{id}: CodeUri {uri} is not functions/<crate>"));
            (id, krate.trim_end_matches('/').to_owned())
        })
        .collect()
}

/// The function resource built from `functions/<krate>`.
fn function_of<'t, 'a>(t: &'t Template<'a>, krate: &str) -> &'t Yaml<'a> {
    let (id, _) = code_uris(t)
        .into_iter()
        .find(|(_, k)| k == krate)
        .unwrap_or_else(|| panic!("no function is built from functions/{krate}"));
    t.resource(&id)
}

/// The flow whose queue resource is `queue_id` (`OpportunityWonQueue`).
fn flow_of_queue(queue_id: &str) -> Option<Flow> {
    Flow::ALL
        .into_iter()
        .find(|f| format!("{}Queue", camel(f.as_str())) == queue_id)
}

fn camel(name: &str) -> String {
    name.split('-')
        .map(|part| part[..1].to_ascii_uppercase() + &part[1..])
        .collect()
}

/// The crates whose function the test expects in the template but whose folder is not there
/// yet, and the reverse, as a message; empty when the two agree.
fn crate_mismatch(t: &Template<'_>, crates: &BTreeSet<String>) -> Vec<String> {
    let deployed: BTreeSet<String> = code_uris(t).into_values().collect();
    let mut problems = Vec::new();
    for missing in crates.difference(&deployed) {
        problems.push(format!(
            "functions/{missing} has no function in template.yaml"
        ));
    }
    for orphan in deployed.difference(crates) {
        problems.push(format!(
            "template.yaml builds functions/{orphan}, which is not a crate"
        ));
    }
    problems
}

#[test]
fn every_function_crate_has_its_function_and_every_function_a_crate() {
    let t = Template::parse(TEMPLATE);
    let crates = function_crates();
    assert!(crates.len() >= 9, "{crates:?}");
    let problems = crate_mismatch(&t, &crates);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The check fails both ways.
    let mut fewer = crates.clone();
    fewer.insert("no-such-function".to_owned());
    assert_eq!(crate_mismatch(&t, &fewer).len(), 1);
    let dropped = TEMPLATE.replacen(
        "CodeUri: functions/credit-alerts",
        "CodeUri: functions/credit-alert",
        1,
    );
    assert_eq!(crate_mismatch(&Template::parse(&dropped), &crates).len(), 2);
}

#[test]
fn every_function_is_a_cargo_lambda_arm64_binary_with_its_own_log_group() {
    let t = Template::parse(TEMPLATE);
    let functions = t.functions();
    assert!(!functions.is_empty());
    for (id, f) in functions {
        let krate = &code_uris(&t)[&id];
        assert_eq!(
            f["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{id}"
        );
        assert_eq!(
            reference(t.function_property(f, "Runtime")),
            "provided.al2023",
            "{id}"
        );
        assert_eq!(reference(t.function_property(f, "Handler")), "bootstrap");
        let arch: Vec<String> = list(t.function_property(f, "Architectures"))
            .into_iter()
            .map(reference)
            .collect();
        assert_eq!(arch, ["arm64"], "{id}");
        // SAM's builder takes the package's binary: the package is named like its folder.
        let manifest = repo_root().join("functions").join(krate).join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            assert!(
                text.contains(&format!("name = \"{krate}\"")),
                "{manifest:?} names its package {krate}"
            );
        }
        assert_eq!(
            reference(&f["Properties"]["FunctionName"]),
            format!("ledgerforce-${{Stage}}-{krate}")
        );
        let timeout = integer(&f["Properties"]["Timeout"], "Timeout");
        assert!((1..=900).contains(&timeout), "{id}: {timeout}");
        let memory = integer(&f["Properties"]["MemorySize"], "MemorySize");
        assert!((128..=10240).contains(&memory), "{id}: {memory}");
        // Its log group has a retention, and its role may write to that group only.
        let group_id = referenced_ids(&f["Properties"]["LoggingConfig"]["LogGroup"]);
        assert_eq!(group_id.len(), 1, "{id} names its log group");
        let group = &t.resource(&group_id[0])["Properties"];
        assert_eq!(
            reference(&group["LogGroupName"]),
            format!("/aws/lambda/ledgerforce-${{Stage}}-{krate}")
        );
        assert_eq!(reference(&group["RetentionInDays"]), "Ref LogRetentionDays");
        let statements = t.role_statements(f);
        assert_eq!(
            allowed(&statements, "logs:PutLogEvents"),
            BTreeSet::from([group_id[0].clone()]),
            "{id}"
        );
    }
}

/// The SQS event sources of the template: (function id, queue id, event properties).
fn sqs_sources<'t, 'a>(t: &'t Template<'a>) -> Vec<(String, String, &'t Yaml<'a>)> {
    let mut sources = Vec::new();
    for (id, f) in t.functions() {
        let Some(events) = get(&f["Properties"], "Events").and_then(Yaml::as_mapping) else {
            continue;
        };
        for event in events.values() {
            if event["Type"].as_str() == Some("SQS") {
                let (queue, attr) = get_att(&event["Properties"]["Queue"]);
                assert_eq!(attr, "Arn");
                sources.push((id.clone(), queue, &event["Properties"]));
            }
        }
    }
    sources
}

/// Every problem of the flow queues: redrive, visibility against the consumer's timeout,
/// partial batch responses, the consumer's concurrency cap and permissions.
fn queue_problems(t: &Template<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    let queues = t.resources("AWS::SQS::Queue");
    let dead_letter_targets: BTreeSet<String> = queues
        .iter()
        .filter_map(|(_, q)| q["Properties"].as_mapping_get("RedrivePolicy"))
        .map(|r| get_att(&r["deadLetterTargetArn"]).0)
        .collect();
    for (id, q) in &queues {
        if dead_letter_targets.contains(id) {
            continue;
        }
        let Some(redrive) = q["Properties"].as_mapping_get("RedrivePolicy") else {
            problems.push(format!("{id} has no dead-letter queue"));
            continue;
        };
        let receives = integer(&redrive["maxReceiveCount"], "maxReceiveCount");
        if receives < MIN_RECEIVES {
            problems.push(format!("{id}: maxReceiveCount {receives} < {MIN_RECEIVES}"));
        }
        // The functions park a change still failing on this last delivery (with its error)
        // rather than let it be dead-lettered without one.
        if receives != i64::from(lf_aws::schema::MAX_RECEIVES) {
            problems.push(format!(
                "{id}: maxReceiveCount {receives}, not lf_aws::schema::MAX_RECEIVES {}",
                lf_aws::schema::MAX_RECEIVES
            ));
        }
        let (dlq, _) = get_att(&redrive["deadLetterTargetArn"]);
        if t.resource(&dlq)["Type"].as_str() != Some("AWS::SQS::Queue") {
            problems.push(format!("{id}: dead-letter target {dlq} is not a queue"));
        }
        if flow_of_queue(id).is_none() {
            problems.push(format!("{id} is not the queue of a flow"));
        }
    }
    for (function, queue, event) in sqs_sources(t) {
        let f = t.resource(&function);
        let timeout = integer(&f["Properties"]["Timeout"], "Timeout");
        let visibility = integer(
            &t.resource(&queue)["Properties"]["VisibilityTimeout"],
            "VisibilityTimeout",
        );
        if visibility < VISIBILITY_PER_TIMEOUT * timeout {
            problems.push(format!(
                "{queue}: visibility {visibility} s < {VISIBILITY_PER_TIMEOUT} x {timeout} s of {function}"
            ));
        }
        let responses: Vec<String> = list(&event["FunctionResponseTypes"])
            .into_iter()
            .map(reference)
            .collect();
        if responses != ["ReportBatchItemFailures"] {
            problems.push(format!("{function}: FunctionResponseTypes {responses:?}"));
        }
        // The batch `ledgerforce local` assembles too; SQS takes more than 10 only with a
        // batching window.
        let size = integer(&event["BatchSize"], "BatchSize");
        let window = get(event, "MaximumBatchingWindowInSeconds")
            .map_or(0, |w| integer(w, "MaximumBatchingWindowInSeconds"));
        if size != i64::from(lf_flows::DEPLOYED_BATCH_SIZE)
            || window != lf_flows::DEPLOYED_BATCHING_WINDOW.as_secs() as i64
        {
            problems.push(format!(
                "{function}: BatchSize {size}, window {window} s, not lf_flows::DEPLOYED_BATCH_SIZE {} within {:?}",
                lf_flows::DEPLOYED_BATCH_SIZE,
                lf_flows::DEPLOYED_BATCHING_WINDOW
            ));
        }
        if size > 10 && window < 1 {
            problems.push(format!(
                "{function}: BatchSize {size} needs a batching window of at least 1 s"
            ));
        }
        if get(event, "ScalingConfig")
            .and_then(|c| get(c, "MaximumConcurrency"))
            .is_none()
        {
            problems.push(format!("{function}: no ScalingConfig.MaximumConcurrency"));
        }
        let statements = t.role_statements(f);
        for action in [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        ] {
            if allowed(&statements, action) != BTreeSet::from([queue.clone()]) {
                problems.push(format!("{function} may not {action} on {queue} alone"));
            }
        }
    }
    problems
}

#[test]
fn every_flow_queue_has_a_dead_letter_queue_and_room_for_its_consumer() {
    let t = Template::parse(TEMPLATE);
    let problems = queue_problems(&t);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Every flow queue, and only those, has a consumer, except the reconciliation's, which
    // runs on its schedule.
    let consumed: BTreeSet<Flow> = sqs_sources(&t)
        .into_iter()
        .map(|(_, queue, _)| flow_of_queue(&queue).unwrap())
        .collect();
    let expected: BTreeSet<Flow> = Flow::ALL
        .into_iter()
        .filter(|f| *f != Flow::RevenueReconciliation)
        .collect();
    assert_eq!(consumed, expected);

    // Each rule fails on a template that breaks it.
    for (from, to) in [
        ("maxReceiveCount: 5", "maxReceiveCount: 4"),
        ("maxReceiveCount: 5", "maxReceiveCount: 6"),
        ("VisibilityTimeout: 720", "VisibilityTimeout: 700"),
        (
            "FunctionResponseTypes: [ReportBatchItemFailures]",
            "FunctionResponseTypes: []",
        ),
        ("- sqs:ChangeMessageVisibility", "- sqs:ListQueues"),
        ("Timeout: 60\n", "Timeout: 61\n"),
        ("BatchSize: 50\n", "BatchSize: 10\n"),
        (
            "MaximumBatchingWindowInSeconds: 1\n",
            "MaximumBatchingWindowInSeconds: 0\n",
        ),
    ] {
        assert!(
            TEMPLATE.contains(from),
            "the template no longer has {from:?}"
        );
        let drifted = TEMPLATE.replacen(from, to, 1);
        assert!(
            !queue_problems(&Template::parse(&drifted)).is_empty(),
            "{from:?} -> {to:?} went unnoticed"
        );
    }
}

#[test]
fn the_intacct_writers_are_capped_by_the_writer_concurrency() {
    let t = Template::parse(TEMPLATE);
    for writer in ["opportunity-won", "account-onboarding", "account-sync"] {
        let f = function_of(&t, writer);
        let events = f["Properties"]["Events"].as_mapping().unwrap();
        let sqs: Vec<_> = events
            .values()
            .filter(|e| e["Type"].as_str() == Some("SQS"))
            .collect();
        assert_eq!(sqs.len(), 1, "{writer}");
        assert_eq!(
            reference(&sqs[0]["Properties"]["ScalingConfig"]["MaximumConcurrency"]),
            "Ref IntacctWriterConcurrency",
            "{writer}"
        );
    }
    let parameter = &t.root["Parameters"]["IntacctWriterConcurrency"];
    // SQS refuses a MaximumConcurrency under 2.
    assert_eq!(integer(&parameter["MinValue"], "MinValue"), 2);
}

/// The flows the routing table sends `system`'s objects to (all of them for `None`).
fn routed(system: Option<System>) -> BTreeSet<Flow> {
    let routes = RoutingTable::standard();
    match system {
        Some(s) => routes
            .objects(s)
            .flat_map(|(_, flows)| flows.iter().copied())
            .collect(),
        None => routes.flows(),
    }
}

#[test]
fn the_webhooks_and_the_poller_feed_every_flow_they_route_to_and_no_other() {
    let t = Template::parse(TEMPLATE);
    for (krate, system) in [
        ("salesforce-webhook", Some(System::Salesforce)),
        ("intacct-webhook", Some(System::Intacct)),
        ("change-poller", None),
    ] {
        let f = function_of(&t, krate);
        let flows = routed(system);
        assert!(!flows.is_empty());
        let env = t.environment(f);
        let queue_vars: BTreeMap<&str, &str> = env
            .iter()
            .filter(|(k, _)| k.starts_with("LEDGERFORCE_QUEUE_URL_"))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let expected: BTreeMap<String, String> = flows
            .iter()
            .map(|flow| {
                (
                    queue_url_var(*flow),
                    format!("Ref {}Queue", camel(flow.as_str())),
                )
            })
            .collect();
        let expected: BTreeMap<&str, &str> = expected
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(queue_vars, expected, "{krate}");
        let sends = allowed(&t.role_statements(f), "sqs:SendMessage");
        let queues: BTreeSet<String> = flows
            .iter()
            .map(|flow| format!("{}Queue", camel(flow.as_str())))
            .collect();
        assert_eq!(sends, queues, "{krate}");
    }
}

#[test]
fn the_http_api_serves_the_webhook_paths_the_intake_answers() {
    let t = Template::parse(TEMPLATE);
    let mut routes = BTreeMap::new();
    for (id, f) in t.functions() {
        for event in get(&f["Properties"], "Events")
            .and_then(Yaml::as_mapping)
            .into_iter()
            .flat_map(|e| e.values())
        {
            if event["Type"].as_str() == Some("HttpApi") {
                let p = &event["Properties"];
                assert_eq!(reference(&p["ApiId"]), "Ref WebhookApi");
                assert!(get(p, "Auth").is_none(), "{id}: the functions verify");
                routes.insert(
                    format!("{} {}", reference(&p["Method"]), reference(&p["Path"])),
                    id.clone(),
                );
            }
        }
    }
    let expected = BTreeMap::from([
        (
            "POST /salesforce".to_owned(),
            "SalesforceWebhookFunction".to_owned(),
        ),
        (
            "POST /salesforce/{token}".to_owned(),
            "SalesforceWebhookFunction".to_owned(),
        ),
        (
            "POST /intacct".to_owned(),
            "IntacctWebhookFunction".to_owned(),
        ),
    ]);
    assert_eq!(routes, expected);
    let api = &t.resource("WebhookApi")["Properties"];
    // No named stage: its name would prefix the raw path the intake routes on.
    assert!(get(api, "StageName").is_none_or(|s| reference(s) == "$default"));
    for limit in ["ThrottlingRateLimit", "ThrottlingBurstLimit"] {
        assert!(
            !api["DefaultRouteSettings"][limit].is_badvalue(),
            "{limit} is set"
        );
    }
}

/// Every variable `shared/runtime/src/config.rs` reads (and the log filter).
fn known_variables() -> BTreeSet<String> {
    let mut vars: BTreeSet<String> = [
        config::TABLE_PREFIX_VAR,
        config::INTACCT_CONCURRENCY_VAR,
        config::SALESFORCE_SECRET_VAR,
        config::INTACCT_SECRET_VAR,
        config::WEBHOOK_SECRET_VAR,
        config::SALESFORCE_LOGIN_URL_VAR,
        config::SALESFORCE_INSTANCE_URL_VAR,
        config::SALESFORCE_AUTH_VAR,
        config::SALESFORCE_ORG_IDS_VAR,
        config::INTACCT_ENDPOINT_URL_VAR,
        config::REPORT_BUCKET_VAR,
        config::REPORT_PREFIX_VAR,
        config::REPORTING_CURRENCY_VAR,
        config::CORPORATE_CURRENCY_VAR,
        config::REVENUE_BASIS_VAR,
        config::DRIFT_REPAIR_VAR,
        "LEDGERFORCE_MAPPING_SOURCE",
        "RUST_LOG",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    vars.extend(Flow::ALL.into_iter().map(queue_url_var));
    vars
}

#[test]
fn functions_set_only_variables_the_runtime_reads_and_have_the_secrets_they_need() {
    let t = Template::parse(TEMPLATE);
    let known = known_variables();
    for (id, f) in t.functions() {
        let env = t.environment(f);
        for var in env.keys() {
            assert!(known.contains(var), "{id} sets {var}, which nothing reads");
        }
        assert_eq!(
            env[config::TABLE_PREFIX_VAR],
            "ledgerforce-${Stage}",
            "{id}"
        );
        let krate = code_uris(&t)[&id].clone();
        let secrets: &[&str] = match krate.as_str() {
            "salesforce-webhook" | "intacct-webhook" => &[config::WEBHOOK_SECRET_VAR],
            _ => &[config::SALESFORCE_SECRET_VAR, config::INTACCT_SECRET_VAR],
        };
        // Secrets are parameters (ARNs made outside the stack): compare the references.
        let granted: BTreeSet<String> = t
            .role_statements(f)
            .into_iter()
            .filter(|s| {
                list(&s["Action"])
                    .iter()
                    .any(|a| a.as_str() == Some("secretsmanager:GetSecretValue"))
            })
            .flat_map(|s| list(&s["Resource"]))
            .map(reference)
            .collect();
        let wanted: BTreeSet<String> = secrets
            .iter()
            .map(|var| {
                env.get(*var)
                    .cloned()
                    .unwrap_or_else(|| panic!("{id} lacks {var}"))
            })
            .collect();
        assert_eq!(granted, wanted, "{id} may read exactly its secrets");
    }
    let recon = t.environment(function_of(&t, "revenue-reconciliation"));
    assert_eq!(recon[config::REPORT_BUCKET_VAR], "Ref ReportBucket");
    let webhook = t.environment(function_of(&t, "salesforce-webhook"));
    assert_eq!(
        webhook[config::SALESFORCE_ORG_IDS_VAR],
        "Ref SalesforceOrgIds"
    );
}

/// Every `Resource: "*"` of an IAM statement in the template (roles, managed policies).
fn wildcard_statements(t: &Template<'_>) -> Vec<String> {
    let mut found = Vec::new();
    let documents = t
        .resources("AWS::IAM::Role")
        .into_iter()
        .flat_map(|(id, r)| {
            list(&r["Properties"]["Policies"])
                .into_iter()
                .map(move |p| (id.clone(), &p["PolicyDocument"]))
        })
        .chain(
            t.resources("AWS::IAM::ManagedPolicy")
                .into_iter()
                .map(|(id, r)| (id, &r["Properties"]["PolicyDocument"])),
        );
    for (id, document) in documents {
        for statement in list(&document["Statement"])
            .into_iter()
            .flat_map(unconditional)
        {
            for resource in list(&statement["Resource"]) {
                let text = reference(resource);
                if text == "*" || text.ends_with(":*") {
                    found.push(format!("{id}: {text}"));
                }
            }
        }
    }
    found
}

#[test]
fn no_iam_statement_allows_every_resource() {
    let t = Template::parse(TEMPLATE);
    assert_eq!(wildcard_statements(&t), Vec::<String>::new());
    let loose = TEMPLATE.replacen("Resource: !GetAtt SyncStateTable.Arn", "Resource: \"*\"", 1);
    assert_eq!(wildcard_statements(&Template::parse(&loose)).len(), 1);
}

#[test]
fn every_dead_letter_queue_function_and_parking_flow_has_an_alarm() {
    let t = Template::parse(TEMPLATE);
    let mut watched: BTreeSet<(String, String)> = BTreeSet::new();
    for (_, alarm) in t.resources("AWS::CloudWatch::Alarm") {
        let p = &alarm["Properties"];
        assert_eq!(reference(&p["ComparisonOperator"]), "GreaterThanThreshold");
        assert_eq!(integer(&p["Threshold"], "Threshold"), 0);
        assert!(!p["AlarmActions"].is_badvalue(), "{p:?} notifies");
        let metric = reference(&p["MetricName"]);
        for d in list(&p["Dimensions"]) {
            let value = reference(&d["Value"]);
            let target = match value.strip_prefix("GetAtt ") {
                Some(att) => att.split('.').next().unwrap().to_owned(),
                None => value.strip_prefix("Ref ").unwrap_or(&value).to_owned(),
            };
            watched.insert((metric.clone(), target));
        }
    }
    let queues = t.resources("AWS::SQS::Queue");
    for (id, q) in &queues {
        if let Some(r) = q["Properties"].as_mapping_get("RedrivePolicy") {
            let dlq = get_att(&r["deadLetterTargetArn"]).0;
            assert!(
                watched.contains(&("ApproximateNumberOfMessagesVisible".into(), dlq.clone())),
                "no alarm on {dlq} (the DLQ of {id})"
            );
        }
    }
    for (id, _) in t.functions() {
        for metric in ["Errors", "Throttles"] {
            assert!(
                watched.contains(&(metric.to_owned(), id.clone())),
                "no {metric} alarm on {id}"
            );
        }
    }
    for (_, queue, _) in sqs_sources(&t) {
        let flow = flow_of_queue(&queue).unwrap();
        assert!(
            watched.contains(&("Parked".to_owned(), flow.as_str().to_owned())),
            "no Parked alarm for {flow:?}"
        );
    }
}

#[test]
fn the_monthly_schedule_reconciles_the_month_before_in_every_time_zone() {
    let t = Template::parse(TEMPLATE);
    let schedule = &t.resource("RevenueReconciliationSchedule")["Properties"];
    assert_eq!(
        reference(&schedule["ScheduleExpressionTimezone"]),
        "Ref ScheduleTimezone"
    );
    // 06:00 on the 2nd local time is between 16:00 on the 1st (UTC+14) and 18:00 on the 2nd
    // (UTC-12) in UTC: always in the new month.
    assert_eq!(
        reference(&schedule["ScheduleExpression"]),
        "cron(0 6 2 * ? *)"
    );
    let input = reference(&schedule["Target"]["Input"]);
    for (scheduled, utc) in [
        (
            "2026-11-01T16:00:00Z",
            Utc.with_ymd_and_hms(2026, 11, 1, 16, 0, 0),
        ),
        (
            "2026-11-02T18:00:00Z",
            Utc.with_ymd_and_hms(2026, 11, 2, 18, 0, 0),
        ),
    ] {
        let event: serde_json::Value =
            serde_json::from_str(&input.replace("<aws.scheduler.scheduled-time>", scheduled))
                .expect("the schedule's input is JSON");
        // Delivered a day late, it still names October.
        let late = utc.unwrap() + chrono::Duration::days(1);
        let period = lf_runtime::period_of(&event, late).unwrap();
        assert_eq!(period, Month::parse("2026-10").unwrap(), "{scheduled}");
    }
    // Every schedule hands its function JSON (an empty payload does not deserialize).
    for (id, s) in t.resources("AWS::Scheduler::Schedule") {
        let input = reference(&s["Properties"]["Target"]["Input"]);
        let json = input.replace("<aws.scheduler.scheduled-time>", "2026-11-02T06:00:00Z");
        assert!(
            serde_json::from_str::<serde_json::Value>(&json).is_ok(),
            "{id}: {input}"
        );
        let (target, _) = get_att(&s["Properties"]["Target"]["Arn"]);
        let role = get_att(&s["Properties"]["Target"]["RoleArn"]).0;
        let invokes: BTreeSet<String> = list(&t.resource(&role)["Properties"]["Policies"])
            .into_iter()
            .flat_map(|p| list(&p["PolicyDocument"]["Statement"]))
            .flat_map(|s| list(&s["Resource"]))
            .flat_map(referenced_ids)
            .collect();
        assert!(invokes.contains(&target), "{role} may invoke {target}");
    }
}
