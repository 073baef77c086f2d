//! account-sync end to end: both sandboxes, the real clients, the embedded store.

use lf_domain::port::{AuditAction, AuditLog, IntacctObject, IntacctPort, RecordUpdate};
use lf_domain::{Flow, RecordRef, SalesforceId};
use serde_json::{Value, json};

use crate::support::{World, intacct_message, message, text};

const FLOW: Flow = Flow::AccountSync;

/// Demo Account 1 (Northwind Holdings) and its top-level customer.
fn northwind() -> (String, &'static str) {
    (lf_sandbox_intacct::demo_account_id(1), "C-0001")
}

/// Demo Account 2 (Acme Manufacturing) and its customer, owned by the US entity.
fn acme() -> (String, &'static str) {
    (lf_sandbox_intacct::demo_account_id(2), "C-1001")
}

/// An Intacct edit through the real XML API (the client's update).
pub(crate) async fn edit_intacct(w: &World, object: IntacctObject, key: &str, fields: Value) {
    let entity = w
        .company
        .find(object.name(), object.id_field(), key)
        .first()
        .and_then(|r| r.get("MEGAENTITYID").cloned())
        .filter(|e| !e.is_empty())
        .map(|e| lf_domain::EntityId::parse(&e).unwrap());
    let Value::Object(fields) = fields else {
        panic!("fields are an object")
    };
    let results = w
        .ports
        .intacct
        .update(
            entity.as_ref(),
            &[RecordUpdate {
                object,
                key: key.to_owned(),
                fields,
            }],
        )
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

async fn last_action(w: &World, record: RecordRef) -> AuditAction {
    w.ports.audit.history(&record, 1).await.unwrap()[0].action
}

fn sf_ref(object: &str, id: &str) -> RecordRef {
    RecordRef::salesforce(object, &SalesforceId::parse(id).unwrap())
}

fn ia_ref(object: &str, key: &str) -> RecordRef {
    RecordRef {
        system: lf_domain::System::Intacct,
        object: object.to_owned(),
        id: key.to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_salesforce_phone_change_reaches_the_customer_once_and_its_echo_is_dropped() {
    let w = World::start().await;
    let handler = w.account_sync();
    for (account, customer) in [northwind(), acme()] {
        w.org
            .update(&account, json!({"Phone": "+1 415 555 0199"}))
            .unwrap();
        let sf_before = w.salesforce_stamps();
        let ia_before = w.intacct_writes();
        let report = w
            .run(&handler, &[message(FLOW, "Account", &account, 1)])
            .await;
        assert_eq!(report.counts.done, 1, "{report:?}");
        assert_eq!(w.intacct_writes() - ia_before, 1, "one Intacct write");
        assert_eq!(
            w.salesforce_writes_since(&sf_before),
            0,
            "no Salesforce write"
        );
        let c = w.intacct_one("CUSTOMER", "CUSTOMERID", customer);
        assert_eq!(c["DISPLAYCONTACT.PHONE1"], "+1 415 555 0199");
        let stamp = c["WHENMODIFIED"].clone();
        // The first sync of a pair found by its link field also stores the link.
        assert!(matches!(
            last_action(&w, ia_ref("CUSTOMER", customer)).await,
            AuditAction::Updated | AuditAction::Linked
        ));

        // The write's echo, as the Smart Event (or the poller) delivers it.
        let sf_before = w.salesforce_stamps();
        let ia_before = w.intacct_writes();
        let echo = w
            .run(&handler, &[intacct_message(FLOW, "CUSTOMER", customer, 2)])
            .await;
        assert_eq!((echo.counts.done, echo.counts.echoes), (1, 1), "{echo:?}");
        assert_eq!(
            w.intacct_writes(),
            ia_before,
            "the echo writes nothing to Intacct"
        );
        assert_eq!(
            w.salesforce_writes_since(&sf_before),
            0,
            "nor to Salesforce"
        );
        assert_eq!(
            last_action(&w, ia_ref("CUSTOMER", customer)).await,
            AuditAction::SkippedEcho
        );
        assert_eq!(
            w.intacct_one("CUSTOMER", "CUSTOMERID", customer)["WHENMODIFIED"],
            stamp
        );
        // And the Account's own change replayed is an echo too.
        let again = w
            .run(&handler, &[message(FLOW, "Account", &account, 3)])
            .await;
        assert_eq!(again.counts.done, 1);
        assert_eq!(w.intacct_writes(), ia_before);
        assert_eq!(w.salesforce_writes_since(&sf_before), 0);
        assert_eq!(
            last_action(&w, sf_ref("Account", &account)).await,
            AuditAction::SkippedEcho
        );

        // A second change is an update, audited field by field with its reason.
        w.org
            .update(&account, json!({"Phone": "+1 415 555 0200"}))
            .unwrap();
        let ia_before = w.intacct_writes();
        let report = w
            .run(&handler, &[message(FLOW, "Account", &account, 4)])
            .await;
        assert_eq!(report.counts.done, 1, "{report:?}");
        assert_eq!(w.intacct_writes() - ia_before, 1);
        let entry = &w
            .ports
            .audit
            .history(&ia_ref("CUSTOMER", customer), 1)
            .await
            .unwrap()[0];
        assert_eq!(entry.action, AuditAction::Updated);
        assert_eq!(entry.counterpart, Some(sf_ref("Account", &account)));
        assert_eq!(
            entry.detail,
            "from Salesforce: DISPLAYCONTACT.PHONE1: \"+1 415 555 0199\" → \"+1 415 555 0200\" \
             (last-modified: changed only in Salesforce)"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intacct_address_change_reaches_the_account_once_and_its_echo_is_dropped() {
    let w = World::start().await;
    let handler = w.account_sync();
    let (account, customer) = acme();
    edit_intacct(
        &w,
        IntacctObject::Customer,
        customer,
        json!({"DISPLAYCONTACT": {"MAILADDRESS": {"ADDRESS1": "9 Lake Shore Drive", "CITY": "Evanston"}}}),
    )
    .await;
    let sf_before = w.salesforce_stamps();
    let ia_before = w.intacct_writes();
    let report = w
        .run(&handler, &[intacct_message(FLOW, "CUSTOMER", customer, 1)])
        .await;
    assert_eq!(report.counts.done, 1, "{report:?}");
    assert_eq!(
        w.salesforce_writes_since(&sf_before),
        1,
        "one Salesforce write"
    );
    assert_eq!(w.intacct_writes(), ia_before, "no Intacct write");
    let a = w.record(&account);
    assert_eq!(text(&a, "BillingCity"), "Evanston");
    assert_eq!(text(&a, "BillingStreet"), "9 Lake Shore Drive");
    let stamp = text(&a, "SystemModstamp");

    let sf_before = w.salesforce_stamps();
    let echo = w
        .run(&handler, &[message(FLOW, "Account", &account, 2)])
        .await;
    assert_eq!((echo.counts.done, echo.counts.echoes), (1, 1), "{echo:?}");
    assert_eq!(w.salesforce_writes_since(&sf_before), 0);
    assert_eq!(w.intacct_writes(), ia_before);
    assert_eq!(text(&w.record(&account), "SystemModstamp"), stamp);
    assert_eq!(
        last_action(&w, sf_ref("Account", &account)).await,
        AuditAction::SkippedEcho
    );
}

/// Demo Contact Priya Natarajan (of Acme Manufacturing).
fn priya(w: &World) -> String {
    text(
        &w.records_where("Contact", "LastName", "Natarajan")[0],
        "Id",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_change_syncs_both_ways_without_echo_writes() {
    let w = World::start().await;
    let handler = w.account_sync();
    let contact = priya(&w);
    // Someone links the Intacct contact to the Salesforce one by its id.
    edit_intacct(
        &w,
        IntacctObject::Contact,
        "Ada Moreno",
        json!({"SFDC_CONTACT_ID": contact}),
    )
    .await;

    // Salesforce → Intacct: the Contact's values go to the CONTACT, and the first link is
    // written back to the Contact (the one write a sync makes on its source).
    w.org
        .update(&contact, json!({"Phone": "+1 312 555 0142"}))
        .unwrap();
    let sf_before = w.salesforce_stamps();
    let ia_before = w.intacct_writes();
    let report = w
        .run(&handler, &[message(FLOW, "Contact", &contact, 1)])
        .await;
    assert_eq!(report.counts.done, 1, "{report:?}");
    assert_eq!(w.intacct_writes() - ia_before, 1);
    assert_eq!(
        w.salesforce_writes_since(&sf_before),
        1,
        "the link write-back"
    );
    let c = w.intacct_one("CONTACT", "CONTACTNAME", "Ada Moreno");
    assert_eq!(c["PHONE1"], "+1 312 555 0142");
    assert_eq!(c["LASTNAME"], "Natarajan");
    assert_eq!(
        text(&w.record(&contact), "Intacct_Contact_Name__c"),
        "Ada Moreno"
    );
    // Both echoes are dropped.
    let sf_before = w.salesforce_stamps();
    let ia_before = w.intacct_writes();
    let echo = w
        .run(
            &handler,
            &[
                intacct_message(FLOW, "CONTACT", "Ada Moreno", 2),
                message(FLOW, "Contact", &contact, 3),
            ],
        )
        .await;
    assert_eq!((echo.counts.done, echo.counts.echoes), (2, 2), "{echo:?}");
    assert_eq!(w.intacct_writes(), ia_before);
    assert_eq!(w.salesforce_writes_since(&sf_before), 0);

    // Intacct → Salesforce.
    edit_intacct(
        &w,
        IntacctObject::Contact,
        "Ada Moreno",
        json!({"EMAIL1": "priya.n@acme.example", "CELLPHONE": "+1 312 555 0199"}),
    )
    .await;
    let sf_before = w.salesforce_stamps();
    let ia_before = w.intacct_writes();
    let report = w
        .run(
            &handler,
            &[intacct_message(FLOW, "CONTACT", "Ada Moreno", 4)],
        )
        .await;
    assert_eq!(report.counts.done, 1, "{report:?}");
    assert_eq!(w.salesforce_writes_since(&sf_before), 1);
    assert_eq!(w.intacct_writes(), ia_before, "nothing back to Intacct");
    let r = w.record(&contact);
    assert_eq!(text(&r, "Email"), "priya.n@acme.example");
    assert_eq!(text(&r, "MobilePhone"), "+1 312 555 0199");
    let sf_before = w.salesforce_stamps();
    let echo = w
        .run(&handler, &[message(FLOW, "Contact", &contact, 5)])
        .await;
    assert_eq!(echo.counts.done, 1);
    assert_eq!(w.salesforce_writes_since(&sf_before), 0);
    assert_eq!(w.intacct_writes(), ia_before);
    assert_eq!(
        last_action(&w, sf_ref("Contact", &contact)).await,
        AuditAction::SkippedEcho
    );
}

/// Edits both sides of Acme after a first sync, delivers the changes in `order`, and returns
/// the settled values: (Account Phone, CUSTOMER PHONE1, Account Name, CUSTOMER NAME, Account
/// Intacct_Credit_Limit__c).
async fn conflict_run(intacct_last: bool, order: usize) -> [String; 5] {
    let w = World::start().await;
    let handler = w.account_sync();
    let (account, customer) = acme();
    // A first sync, so both records carry a fingerprint.
    w.org
        .update(&account, json!({"Fax": "+1 312 555 0000"}))
        .unwrap();
    let first = w
        .run(&handler, &[message(FLOW, "Account", &account, 0)])
        .await;
    assert_eq!(first.counts.done, 1, "{first:?}");

    let edit_sf = || {
        w.org
            .update(
                &account,
                json!({"Phone": "+1 312 555 1111", "Name": "Acme Manufacturing Co"}),
            )
            .unwrap();
    };
    let edit_ia = || {
        edit_intacct(
            &w,
            IntacctObject::Customer,
            customer,
            json!({"NAME": "ACME MFG", "CREDITLIMIT": "65000", "DISPLAYCONTACT": {"PHONE1": "+1 312 555 2222"}}),
        )
    };
    if intacct_last {
        edit_sf();
        // Intacct stamps whole seconds: step past the Salesforce edit's second.
        let next = 1_000 - u64::from(chrono::Utc::now().timestamp_subsec_millis()) + 50;
        tokio::time::sleep(std::time::Duration::from_millis(next)).await;
        edit_ia().await;
    } else {
        edit_ia().await;
        edit_sf();
    }
    let sf = message(FLOW, "Account", &account, 1);
    let ia = intacct_message(FLOW, "CUSTOMER", customer, 2);
    let batches: Vec<Vec<_>> = match order {
        0 => vec![vec![sf.clone()], vec![ia.clone()]],
        1 => vec![vec![ia.clone()], vec![sf.clone()]],
        2 => vec![vec![sf.clone(), ia.clone()]],
        _ => vec![vec![ia.clone(), sf.clone()], vec![sf, ia]],
    };
    for batch in batches {
        let report = w.run(&handler, &batch).await;
        assert_eq!(report.counts.done, batch.len(), "{report:?}");
    }
    // Settled: the echoes of what was written change nothing.
    let ia_before = w.intacct_writes();
    let sf_before = w.salesforce_stamps();
    let echoes = w
        .run(
            &handler,
            &[
                message(FLOW, "Account", &account, 8),
                intacct_message(FLOW, "CUSTOMER", customer, 9),
            ],
        )
        .await;
    assert_eq!(echoes.counts.done, 2);
    assert_eq!(
        w.intacct_writes(),
        ia_before,
        "settled: no more Intacct writes"
    );
    assert_eq!(
        w.salesforce_writes_since(&sf_before),
        0,
        "nor Salesforce writes"
    );
    let a = w.record(&account);
    let c = w.intacct_one("CUSTOMER", "CUSTOMERID", customer);
    [
        text(&a, "Phone"),
        c["DISPLAYCONTACT.PHONE1"].clone(),
        text(&a, "Name"),
        c["NAME"].clone(),
        a.get("Intacct_Credit_Limit__c")
            .map(Value::to_string)
            .unwrap_or_default(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_edits_settle_the_same_way_every_run() {
    for intacct_last in [false, true] {
        let phone = if intacct_last {
            "+1 312 555 2222"
        } else {
            "+1 312 555 1111"
        };
        for order in 0..4 {
            let [sf_phone, ia_phone, sf_name, ia_name, limit] =
                conflict_run(intacct_last, order).await;
            let case = format!("intacct_last={intacct_last} order={order}");
            // Last modified wins the phone; both sides agree.
            assert_eq!(sf_phone, phone, "{case}");
            assert_eq!(ia_phone, phone, "{case}");
            // Salesforce owns the name, Intacct the credit limit, whoever was last.
            assert_eq!(sf_name, "Acme Manufacturing Co", "{case}");
            assert_eq!(ia_name, "Acme Manufacturing Co", "{case}");
            assert_eq!(
                limit.trim_matches('"').parse::<f64>().unwrap(),
                65000.0,
                "{case}"
            );
        }
    }
}

/// A flattened sandbox record (`DISPLAYCONTACT.PHONE1`) as the nested tree the mappings read.
fn unflatten(flat: &std::collections::BTreeMap<String, String>) -> Value {
    let mut out = json!({});
    for (path, value) in flat {
        let mut at = &mut out;
        let parts: Vec<&str> = path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                at[*part] = json!(value);
            } else {
                if !at[*part].is_object() {
                    at[*part] = json!({});
                }
                at = &mut at[*part];
            }
        }
    }
    out
}

/// One kind of pair: the Salesforce and Intacct objects, the Intacct key field, the two
/// mappings.
#[derive(Clone, Copy)]
struct Kind {
    salesforce: &'static str,
    intacct: &'static str,
    key: &'static str,
    to_intacct: &'static str,
    to_salesforce: &'static str,
}

const ACCOUNTS: Kind = Kind {
    salesforce: "Account",
    intacct: "CUSTOMER",
    key: "CUSTOMERID",
    to_intacct: "account_to_customer",
    to_salesforce: "customer_to_account",
};

const CONTACTS: Kind = Kind {
    salesforce: "Contact",
    intacct: "CONTACT",
    key: "CONTACTNAME",
    to_intacct: "contact_to_intacct",
    to_salesforce: "contact_to_salesforce",
};

/// Asserts that the Account and its customer agree through both mappings: neither direction
/// has a field to write (fields owned by the other side aside).
fn assert_agree(w: &World, account: &str, customer: &str) {
    assert_pair_agrees(w, ACCOUNTS, account, customer);
}

fn assert_pair_agrees(w: &World, kind: Kind, sf_id: &str, key: &str) {
    let to_i = w.specs.mapping(FLOW, kind.to_intacct).unwrap();
    let to_s = w.specs.mapping(FLOW, kind.to_salesforce).unwrap();
    let a = Value::Object(w.record(sf_id));
    let c = unflatten(&w.intacct_one(kind.intacct, kind.key, key));
    let cx = lf_mapping::MapContext::default();
    let (Ok(lf_mapping::Mapped::Record(from_a)), Ok(lf_mapping::Mapped::Record(from_c))) =
        (to_i.map(&a, &cx), to_s.map(&c, &cx))
    else {
        panic!("both records map")
    };
    let to_intacct = to_i.fields_to_write_as(&from_a.fields, &c, lf_mapping::Winner::Source);
    let to_salesforce = to_s.fields_to_write_as(&from_c.fields, &a, lf_mapping::Winner::Source);
    assert!(
        to_intacct.is_empty() && to_salesforce.is_empty(),
        "{sf_id} / {key} disagree: to Intacct {to_intacct:?}, to Salesforce {to_salesforce:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_random_edits_on_both_sides_converge_with_no_more_writes_than_changes() {
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    let seed: u64 = std::env::var("SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_202);
    eprintln!("soak seed {seed} (SOAK_SEED to replay)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let w = World::start().await;
    let handler = w.account_sync();
    let mut pairs: Vec<(Kind, String, String)> = w
        .org
        .records("Account")
        .iter()
        .filter(|a| !text(a, "Intacct_Customer_ID__c").is_empty())
        .map(|a| (ACCOUNTS, text(a, "Id"), text(a, "Intacct_Customer_ID__c")))
        .collect();
    assert_eq!(pairs.len(), 7, "the demo's linked pairs");
    // Two Contacts linked by hand to Intacct contacts.
    for (last, name) in [("Natarajan", "Ada Moreno"), ("Brooks", "Ben Okafor")] {
        let id = text(&w.records_where("Contact", "LastName", last)[0], "Id");
        edit_intacct(
            &w,
            IntacctObject::Contact,
            name,
            json!({"SFDC_CONTACT_ID": id}),
        )
        .await;
        pairs.push((CONTACTS, id, name.to_owned()));
    }
    let sf_event = |kind: Kind, id: &str, n: usize| message(FLOW, kind.salesforce, id, n);
    let ia_event = |kind: Kind, key: &str, n: usize| intacct_message(FLOW, kind.intacct, key, n);
    let event = |salesforce: bool, pair: &(Kind, String, String), n: usize| {
        if salesforce {
            sf_event(pair.0, &pair.1, n)
        } else {
            ia_event(pair.0, &pair.2, n)
        }
    };

    // Align the demo data once (the Salesforce records are the newer side), then count.
    let align: Vec<_> = pairs
        .iter()
        .enumerate()
        .map(|(n, (kind, a, _))| sf_event(*kind, a, n))
        .collect();
    assert_eq!(w.run(&handler, &align).await.counts.done, pairs.len());

    let mut n = 1_000usize;
    let mut genuine = 0usize;
    let mut writes = 0usize;
    let mut echo_writes = 0usize;
    let mut history: Vec<(bool, usize)> = Vec::new();
    let mut edits = 0usize;
    let mut round = 0usize;
    while edits < 1_000 {
        round += 1;
        // Edit some records on either side.
        let mut touched: Vec<(bool, usize)> = Vec::new();
        for _ in 0..rng.random_range(1..=12) {
            let p = rng.random_range(0..pairs.len());
            let salesforce = rng.random_bool(0.5);
            let value = format!("{}", 100_000 + edits);
            let (kind, sf_id, key) = &pairs[p];
            let contact = kind.salesforce == "Contact";
            let phone = rng.random_bool(0.5);
            if salesforce {
                let fields = match (phone, contact) {
                    (true, _) => json!({"Phone": format!("+1 555 {value}")}),
                    (false, false) => json!({"BillingCity": format!("City {value}")}),
                    (false, true) => json!({"MailingCity": format!("City {value}")}),
                };
                w.org.update(sf_id, fields).unwrap();
            } else {
                let (object, fields) = match (phone, contact) {
                    (true, false) => (
                        IntacctObject::Customer,
                        json!({"DISPLAYCONTACT": {"PHONE1": format!("+44 20 {value}")}}),
                    ),
                    (false, false) => (
                        IntacctObject::Customer,
                        json!({"DISPLAYCONTACT": {"MAILADDRESS": {"CITY": format!("Town {value}")}}}),
                    ),
                    (true, true) => (
                        IntacctObject::Contact,
                        json!({"PHONE1": format!("+44 20 {value}")}),
                    ),
                    (false, true) => (
                        IntacctObject::Contact,
                        json!({"MAILADDRESS": {"CITY": format!("Town {value}")}}),
                    ),
                };
                edit_intacct(&w, object, key, fields).await;
            }
            edits += 1;
            genuine += 1; // every value is new
            touched.push((salesforce, p));
            history.push((salesforce, p));
        }
        // Deliver the changes: sometimes duplicated, in any order, in one to three batches,
        // with now and then a stale event of an earlier round.
        let mut events = Vec::new();
        for (salesforce, p) in &touched {
            let copies = if rng.random_bool(0.25) { 2 } else { 1 };
            for _ in 0..copies {
                n += 1;
                events.push(event(*salesforce, &pairs[*p], n));
            }
        }
        if rng.random_bool(0.3) {
            let (salesforce, p) = history[rng.random_range(0..history.len())];
            n += 1;
            events.push(event(salesforce, &pairs[p], n));
        }
        events.shuffle(&mut rng);
        let split = rng.random_range(1..=3).min(events.len());
        let size = events.len().div_ceil(split);
        for batch in events.chunks(size) {
            let sf_before = w.salesforce_stamps();
            let ia_before = w.intacct_writes();
            let report = w.run(&handler, batch).await;
            assert_eq!(report.counts.done, batch.len(), "round {round}: {report:?}");
            writes += w.salesforce_writes_since(&sf_before)
                + usize::try_from(w.intacct_writes() - ia_before).unwrap();
        }
        // The echoes of this round's writes (both sides of every touched pair), sometimes.
        if rng.random_bool(0.7) {
            let mut echoes = Vec::new();
            for (_, p) in &touched {
                n += 2;
                echoes.push(event(true, &pairs[*p], n));
                echoes.push(event(false, &pairs[*p], n + 1));
            }
            echoes.shuffle(&mut rng);
            let sf_before = w.salesforce_stamps();
            let ia_before = w.intacct_writes();
            let report = w.run(&handler, &echoes).await;
            assert_eq!(
                report.counts.done,
                echoes.len(),
                "round {round}: {report:?}"
            );
            echo_writes += w.salesforce_writes_since(&sf_before)
                + usize::try_from(w.intacct_writes() - ia_before).unwrap();
        }
    }
    eprintln!(
        "soak: {round} rounds, {edits} edits ({genuine} genuine), {writes} sync writes, \
         {echo_writes} writes on echo deliveries"
    );
    assert_eq!(echo_writes, 0, "an echo never writes");
    assert!(writes <= genuine, "{writes} writes for {genuine} changes");

    // Both systems agree field by field through the mappings.
    for (kind, sf_id, key) in &pairs {
        assert_pair_agrees(&w, *kind, sf_id, key);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_without_an_account_gets_exactly_one_and_an_account_without_a_customer_is_left()
{
    let w = World::start().await;
    let handler = w.account_sync();
    // Umbrella Health (C-1004, US entity) has no Account.
    let batch = [
        intacct_message(FLOW, "CUSTOMER", "C-1004", 1),
        intacct_message(FLOW, "CUSTOMER", "C-1004", 2),
    ];
    let report = w.run(&handler, &batch).await;
    assert_eq!(report.counts.done, 2, "{report:?}");
    let made = w.records_where("Account", "Intacct_Customer_ID__c", "C-1004");
    assert_eq!(made.len(), 1, "one Account");
    let id = text(&made[0], "Id");
    assert_eq!(text(&made[0], "Name"), "Umbrella Health");
    assert_eq!(text(&made[0], "BillingCity"), "Boston");
    assert_eq!(
        w.intacct_one("CUSTOMER", "CUSTOMERID", "C-1004")["SFDC_ACCOUNT_ID"],
        id,
        "the new Account's id is written back"
    );
    // Replays (and the link write-back's echo) create nothing and write nothing.
    let sf_before = w.salesforce_stamps();
    let ia_before = w.intacct_writes();
    let again = w
        .run(
            &handler,
            &[
                intacct_message(FLOW, "CUSTOMER", "C-1004", 3),
                message(FLOW, "Account", &id, 4),
            ],
        )
        .await;
    assert_eq!(again.counts.done, 2, "{again:?}");
    assert_eq!(
        w.records_where("Account", "Intacct_Customer_ID__c", "C-1004")
            .len(),
        1
    );
    assert_eq!(w.salesforce_writes_since(&sf_before), 0);
    assert_eq!(w.intacct_writes(), ia_before);

    // Lumière Retail SA has no customer and none matches: account-sync only links.
    let lumiere = text(
        &w.records_where("Account", "Name", "Lumière Retail SA")[0],
        "Id",
    );
    let customers = w.company.record_count("CUSTOMER");
    let sf_before = w.salesforce_stamps();
    let report = w
        .run(&handler, &[message(FLOW, "Account", &lumiere, 5)])
        .await;
    assert_eq!(report.counts.done, 1, "{report:?}");
    assert_eq!(
        w.company.record_count("CUSTOMER"),
        customers,
        "no customer made"
    );
    assert_eq!(w.salesforce_writes_since(&sf_before), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_similar_name_is_parked_for_review_and_never_linked() {
    let w = World::start().await;
    let handler = w.account_sync();
    // An unlinked customer gets the name of an unlinked Account (no shared exact key).
    edit_intacct(
        &w,
        IntacctObject::Customer,
        "C-2002",
        json!({"NAME": "Highland Distillers plc"}),
    )
    .await;
    let highland = text(
        &w.records_where("Account", "Name", "Highland Distillers plc")[0],
        "Id",
    );
    let sf_before = w.salesforce_stamps();
    let ia_before = w.intacct_writes();
    let report = w
        .run(&handler, &[message(FLOW, "Account", &highland, 1)])
        .await;
    assert_eq!(report.counts.parked, 1, "{report:?}");
    assert_eq!(w.salesforce_writes_since(&sf_before), 0);
    assert_eq!(w.intacct_writes(), ia_before);
    let history = w
        .ports
        .audit
        .history(&sf_ref("Account", &highland), 5)
        .await
        .unwrap();
    assert_eq!(history[0].action, AuditAction::Parked);
    assert!(
        history[0].detail.contains("C-2002") && history[0].detail.contains("review"),
        "{}",
        history[0].detail
    );
    assert_eq!(
        w.intacct_one("CUSTOMER", "CUSTOMERID", "C-2002")["SFDC_ACCOUNT_ID"],
        "",
        "not linked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_costs_one_read_per_side_and_one_write_call_per_lane() {
    let w = World::start().await;
    let handler = w.account_sync();
    let accounts: Vec<String> = w
        .org
        .records("Account")
        .iter()
        .filter(|a| !text(a, "Intacct_Customer_ID__c").is_empty())
        .map(|a| text(a, "Id"))
        .collect();
    for (i, a) in accounts.iter().enumerate() {
        w.org
            .update(a, json!({"Phone": format!("+1 555 77{i:02}")}))
            .unwrap();
    }
    let batch: Vec<_> = accounts
        .iter()
        .enumerate()
        .map(|(n, a)| message(FLOW, "Account", a, n))
        .collect();
    let calls = w.org.api_calls();
    let usage = w.company.usage();
    let sessions = w.company.session_count();
    let report = w.run(&handler, &batch).await;
    assert_eq!(report.counts.done, accounts.len(), "{report:?}");
    let sf_calls = w.org.api_calls() - calls;
    let after = w.company.usage();
    let (reads, writes, requests) = (
        after.reads - usage.reads,
        after.writes - usage.writes,
        after.requests - usage.requests,
    );
    eprintln!(
        "{} Account changes: {sf_calls} Salesforce calls; Intacct {reads} reads, {writes} writes in {requests} requests",
        accounts.len()
    );
    assert_eq!(sf_calls, 1, "one Salesforce read, no Salesforce write");
    assert_eq!(reads, 1, "one Intacct query of the counterparts");
    assert_eq!(writes, accounts.len() as u64, "one update per customer");
    // One read request and one update request per owning entity (top level, US, UK, DE,
    // EDU), besides signing in to the entities the client had no session for yet.
    let logins = (w.company.session_count() - sessions) as u64;
    eprintln!("({logins} of the requests opened entity sessions)");
    assert!(requests - logins <= 6, "{requests} Intacct requests");
    // The demo data round-trips: what was written, mapped back, is what the Account has.
    for a in &accounts {
        assert_agree(&w, a, &text(&w.record(a), "Intacct_Customer_ID__c"));
    }

    // Their echoes: one Intacct read, nothing else.
    let echoes: Vec<_> = accounts
        .iter()
        .enumerate()
        .map(|(n, a)| {
            let key = text(&w.record(a), "Intacct_Customer_ID__c");
            intacct_message(FLOW, "CUSTOMER", &key, 100 + n)
        })
        .collect();
    let calls = w.org.api_calls();
    let usage = w.company.usage();
    let report = w.run(&handler, &echoes).await;
    assert_eq!(report.counts.done, accounts.len(), "{report:?}");
    let after = w.company.usage();
    eprintln!(
        "{} echoes: {} Salesforce calls; Intacct {} reads, {} writes",
        accounts.len(),
        w.org.api_calls() - calls,
        after.reads - usage.reads,
        after.writes - usage.writes
    );
    assert_eq!(w.org.api_calls(), calls, "an echo costs no Salesforce call");
    assert_eq!(after.reads - usage.reads, 1);
    assert_eq!(after.writes, usage.writes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_is_matched_by_email_and_a_match_linked_elsewhere_is_parked() {
    let w = World::start().await;
    let handler = w.account_sync();
    let ethan = text(&w.records_where("Contact", "LastName", "Brooks")[0], "Id");
    let email = text(&w.record(&ethan), "Email");
    // The Intacct contact Ben Okafor has Ethan's email: the same person.
    edit_intacct(
        &w,
        IntacctObject::Contact,
        "Ben Okafor",
        json!({"EMAIL1": email}),
    )
    .await;
    w.org
        .update(&ethan, json!({"Phone": "+1 512 555 0101"}))
        .unwrap();
    let report = w
        .run(&handler, &[message(FLOW, "Contact", &ethan, 1)])
        .await;
    assert_eq!(report.counts.done, 1, "{report:?}");
    let c = w.intacct_one("CONTACT", "CONTACTNAME", "Ben Okafor");
    assert_eq!(c["SFDC_CONTACT_ID"], ethan, "linked");
    assert_eq!(c["PHONE1"], "+1 512 555 0101");
    assert_eq!(
        text(&w.record(&ethan), "Intacct_Contact_Name__c"),
        "Ben Okafor"
    );

    // Another Contact with the same email matches a CONTACT that is someone else's.
    let grace = text(&w.records_where("Contact", "LastName", "Kim")[0], "Id");
    w.org.update(&grace, json!({"Email": email})).unwrap();
    let ia_before = w.intacct_writes();
    let report = w
        .run(&handler, &[message(FLOW, "Contact", &grace, 2)])
        .await;
    assert_eq!(report.counts.parked, 1, "{report:?}");
    assert_eq!(w.intacct_writes(), ia_before);
    assert_eq!(
        w.intacct_one("CONTACT", "CONTACTNAME", "Ben Okafor")["SFDC_CONTACT_ID"],
        ethan,
        "still Ethan's"
    );
    let history = w
        .ports
        .audit
        .history(&sf_ref("Contact", &grace), 1)
        .await
        .unwrap();
    assert!(
        history[0].detail.contains("Ben Okafor"),
        "{}",
        history[0].detail
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_field_pointing_at_a_record_linked_elsewhere_is_parked_before_any_write() {
    let w = World::start().await;
    let handler = w.account_sync();
    let (account, _) = acme();
    w.org
        .update(&account, json!({"Fax": "+1 312 555 0001"}))
        .unwrap();
    let first = w
        .run(&handler, &[message(FLOW, "Account", &account, 1)])
        .await;
    assert_eq!(first.counts.done, 1, "{first:?}");
    // Someone copies Acme's id onto another customer.
    edit_intacct(
        &w,
        IntacctObject::Customer,
        "C-1004",
        json!({"SFDC_ACCOUNT_ID": account}),
    )
    .await;
    let sf_before = w.salesforce_stamps();
    let ia_before = w.intacct_writes();
    let report = w
        .run(&handler, &[intacct_message(FLOW, "CUSTOMER", "C-1004", 2)])
        .await;
    assert_eq!(report.counts.parked, 1, "{report:?}");
    assert_eq!(w.salesforce_writes_since(&sf_before), 0);
    assert_eq!(w.intacct_writes(), ia_before);
    assert_eq!(text(&w.record(&account), "Name"), "Acme Manufacturing");
    let entry = &w
        .ports
        .audit
        .history(&ia_ref("CUSTOMER", "C-1004"), 1)
        .await
        .unwrap()[0];
    assert_eq!(entry.action, AuditAction::Parked);
    assert!(entry.detail.contains("C-1001"), "{}", entry.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_is_retried_and_the_change_is_not_mistaken_for_an_echo() {
    let w = World::start().await;
    let handler = w.account_sync();
    let (account, customer) = acme();
    w.org
        .update(&account, json!({"Phone": "+1 312 555 0303"}))
        .unwrap();
    // Intacct is down for longer than the client retries.
    w.company
        .faults()
        .inject_next(lf_sandbox_intacct::IntacctFault::ServerError, 100);
    let report = w
        .run(&handler, &[message(FLOW, "Account", &account, 1)])
        .await;
    assert_eq!(report.retry.len(), 1, "{report:?}");
    w.company.faults().clear();
    let ia_before = w.intacct_writes();
    let report = w
        .run(&handler, &[message(FLOW, "Account", &account, 2)])
        .await;
    assert_eq!(report.counts.done, 1, "{report:?}");
    assert_eq!(
        w.intacct_writes() - ia_before,
        1,
        "the change still goes through"
    );
    assert_eq!(
        w.intacct_one("CUSTOMER", "CUSTOMERID", customer)["DISPLAYCONTACT.PHONE1"],
        "+1 312 555 0303"
    );

    // A Salesforce row lock on the way back is retried too.
    edit_intacct(
        &w,
        IntacctObject::Customer,
        customer,
        json!({"DISPLAYCONTACT": {"PHONE1": "+1 312 555 0404"}}),
    )
    .await;
    w.org
        .faults()
        .inject_next(lf_sandbox_salesforce::SalesforceFault::LockRow, 1);
    let report = w
        .run(&handler, &[intacct_message(FLOW, "CUSTOMER", customer, 3)])
        .await;
    assert_eq!(report.retry.len(), 1, "a row lock is retried: {report:?}");
    assert_ne!(text(&w.record(&account), "Phone"), "+1 312 555 0404");
    let redo = w
        .run(&handler, &[intacct_message(FLOW, "CUSTOMER", customer, 4)])
        .await;
    assert_eq!(redo.counts.done, 1, "{redo:?}");
    assert_eq!(text(&w.record(&account), "Phone"), "+1 312 555 0404");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_onboarding_the_sync_links_settles_and_then_only_sees_echoes() {
    let w = World::start().await;
    let onboarding = w.account_onboarding();
    let handler = w.account_sync();
    let account = w.new_account("Lakeshore Foods Inc", "United States");
    w.org
        .update(
            &account,
            json!({"Phone": "+1 773 555 0100", "Credit_Limit__c": 25000}),
        )
        .unwrap();
    let onboarded = w
        .run(
            &onboarding,
            &[message(Flow::AccountOnboarding, "Account", &account, 1)],
        )
        .await;
    assert_eq!(onboarded.counts.done, 1, "{onboarded:?}");
    let customer = text(&w.record(&account), "Intacct_Customer_ID__c");
    assert!(!customer.is_empty());

    // account-sync hears of both: the Account (and its write-back) and the new CUSTOMER.
    let report = w
        .run(
            &handler,
            &[
                intacct_message(FLOW, "CUSTOMER", &customer, 2),
                message(FLOW, "Account", &account, 3),
            ],
        )
        .await;
    assert_eq!(report.counts.done, 2, "{report:?}");
    assert_eq!(w.customers_of(&account), 1);
    assert_agree(&w, &account, &customer);

    // From now on the same events are echoes.
    let sf_before = w.salesforce_stamps();
    let ia_before = w.intacct_writes();
    let report = w
        .run(
            &handler,
            &[
                message(FLOW, "Account", &account, 4),
                intacct_message(FLOW, "CUSTOMER", &customer, 5),
            ],
        )
        .await;
    assert_eq!(report.counts.done, 2, "{report:?}");
    assert_eq!(w.salesforce_writes_since(&sf_before), 0);
    assert_eq!(w.intacct_writes(), ia_before);
    assert_eq!(
        last_action(&w, ia_ref("CUSTOMER", &customer)).await,
        AuditAction::SkippedEcho
    );
}
