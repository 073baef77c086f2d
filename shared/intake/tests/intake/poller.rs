//! The change poller against both sandboxes: what a lost webhook would have said is queued,
//! the watermark moves only past what was queued, runs are bounded and resume.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use lf_domain::port::SyncState;
use lf_domain::{ChangeEnvelope, Clock, EventOrigin, Flow, ManualClock, SalesforceId, System};
use lf_embedded::SqliteSyncState;
use lf_intacct::{Function, IntacctClient};
use lf_intake::{ChangePoller, PollStream, PollerConfig};
use lf_salesforce::SalesforceClient;
use lf_sandbox_intacct::Sandbox as IaSandbox;
use lf_sandbox_salesforce::{Sandbox as SfSandbox, SandboxConfig as SfConfig};
use serde_json::json;

use crate::sf_client;
use crate::smart_events::{customer, ia_client};
use crate::support::{Store, SwitchQueue};

type Poller = ChangePoller<SalesforceClient, IntacctClient, SqliteSyncState, SwitchQueue>;

/// Both sandboxes, neither sending webhooks (the webhook is "down"), with clocks an hour
/// behind the poller's: every change they stamp is older than the settle windows, so no
/// test waits for a window to close. Their clocks move only when a test moves them.
struct World {
    store: Store,
    sf: SfSandbox,
    ia: IaSandbox,
    sf_clock: Arc<ManualClock>,
    ia_clock: Arc<ManualClock>,
}

impl World {
    async fn new() -> Self {
        let behind = Utc::now() - chrono::Duration::hours(1);
        let sf_clock = Arc::new(ManualClock::new(behind));
        let ia_clock = Arc::new(ManualClock::new(behind));
        let sf = SfSandbox::start(SfConfig {
            clock: sf_clock.clone(),
            ..SfConfig::default()
        })
        .await
        .unwrap();
        let ia = IaSandbox::start(lf_sandbox_intacct::SandboxConfig {
            clock: ia_clock.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
        Self {
            store: Store::new(),
            sf,
            ia,
            sf_clock,
            ia_clock,
        }
    }

    fn poller(&self, streams: Vec<PollStream>, config: PollerConfig) -> Poller {
        self.poller_at(streams, config, Arc::new(ManualClock::new(Utc::now())))
    }

    fn poller_at(
        &self,
        streams: Vec<PollStream>,
        config: PollerConfig,
        clock: Arc<ManualClock>,
    ) -> Poller {
        ChangePoller::new(
            sf_client(&self.sf, Duration::from_secs(30)),
            ia_client(&self.ia),
            self.store.db.sync_state(),
            self.store.flow_queues(),
            streams,
            config,
            clock,
        )
        .unwrap()
    }

    fn accounts(&self, n: usize, prefix: &str) -> Vec<String> {
        (0..n)
            .map(|i| {
                let id = self
                    .sf
                    .insert("Account", json!({"Name": format!("{prefix} {i}")}))
                    .unwrap();
                SalesforceId::parse(&id).unwrap().as_str().to_owned()
            })
            .collect()
    }
}

fn stream(system: System, object: &str, flow: Flow) -> PollStream {
    PollStream {
        system,
        object: object.into(),
        entity: None,
        flows: vec![flow],
    }
}

fn config(max_per_stream: usize, page_size: usize) -> PollerConfig {
    PollerConfig {
        max_per_stream,
        page_size,
        first_run_lookback: Duration::from_secs(24 * 3600),
        ..PollerConfig::default()
    }
}

fn ids(envelopes: &[ChangeEnvelope]) -> Vec<String> {
    envelopes.iter().map(|e| e.record.id.clone()).collect()
}

#[tokio::test]
async fn salesforce_changes_are_polled_in_bounded_runs_that_resume_and_never_repeat() {
    let w = World::new().await;
    let accounts = w.accounts(5, "Polled");
    let poller = w.poller(
        vec![
            stream(System::Salesforce, "Account", Flow::AccountOnboarding),
            stream(System::Salesforce, "Opportunity", Flow::OpportunityWon),
        ],
        config(3, 2),
    );

    // Run 1: three of five (pages of 2 and 1), the rest flagged for later.
    let calls = w.sf.api_calls();
    let r1 = poller.poll_once().await;
    assert!(!r1.failed(), "{r1:?}");
    let acc = r1.stream("salesforce/Account").unwrap();
    assert_eq!((acc.changes, acc.queued, acc.more), (3, 3, true), "{acc:?}");
    let opp = r1.stream("salesforce/Opportunity").unwrap();
    assert_eq!((opp.changes, opp.more), (0, false));
    // Two bounded Account reads and one Opportunity read.
    assert_eq!(w.sf.api_calls() - calls, 3);
    let first = w.store.take(Flow::AccountOnboarding).await;
    assert_eq!(ids(&first), accounts[..3].to_vec());
    for e in &first {
        assert_eq!(e.origin, EventOrigin::Poller);
        assert_eq!(e.record.object, "Account");
        assert!(e.modified_at.is_some());
    }
    let stored = w
        .store
        .db
        .sync_state()
        .watermark("salesforce/Account")
        .await
        .unwrap();
    assert_eq!(stored, acc.watermark_after);
    assert_eq!(stored.unwrap().last_id, accounts[2]);

    // Run 2 resumes after the third and ends.
    let r2 = poller.poll_once().await;
    let acc = r2.stream("salesforce/Account").unwrap();
    assert_eq!((acc.changes, acc.more), (2, false), "{acc:?}");
    assert_eq!(
        ids(&w.store.take(Flow::AccountOnboarding).await),
        accounts[3..].to_vec()
    );

    // Run 3: nothing changed, nothing queued, the watermark stays.
    let r3 = poller.poll_once().await;
    assert_eq!(r3.queued(), 0, "{r3:?}");
    let acc = r3.stream("salesforce/Account").unwrap();
    assert_eq!(acc.watermark_after, acc.watermark_before);
    assert_eq!(w.store.total_depth().await, 0);

    // A later edit (the webhook is down) comes with the next run, and only it.
    w.sf_clock.advance(Duration::from_secs(2));
    w.sf.update(&accounts[1], json!({"Phone": "555-0100"}))
        .unwrap();
    let opp =
        w.sf.insert(
            "Opportunity",
            json!({"Name": "Polled deal", "StageName": "Closed Won", "CloseDate": "2026-03-01"}),
        )
        .unwrap();
    let r4 = poller.poll_once().await;
    assert_eq!(r4.queued(), 2, "{r4:?}");
    assert_eq!(
        ids(&w.store.take(Flow::AccountOnboarding).await),
        vec![accounts[1].clone()]
    );
    assert_eq!(
        ids(&w.store.take(Flow::OpportunityWon).await),
        vec![SalesforceId::parse(&opp).unwrap().as_str().to_owned()]
    );
}

#[tokio::test]
async fn a_queue_failure_mid_run_leaves_the_watermark_so_the_next_run_sends_the_rest() {
    let w = World::new().await;
    let accounts = w.accounts(5, "Flaky");
    let poller = w.poller(
        vec![stream(
            System::Salesforce,
            "Account",
            Flow::AccountOnboarding,
        )],
        config(100, 2),
    );
    // The first page is queued, the second send fails.
    w.store.fail_after(1);
    let r1 = poller.poll_once().await;
    assert!(r1.failed(), "{r1:?}");
    let acc = r1.stream("salesforce/Account").unwrap();
    assert_eq!(acc.queued, 2);
    assert!(acc.error.as_deref().unwrap().contains("queue"), "{acc:?}");
    let mark = acc.watermark_after.clone().unwrap();
    assert_eq!(
        mark.last_id, accounts[1],
        "stops after the last queued page"
    );
    assert_eq!(
        w.store
            .db
            .sync_state()
            .watermark("salesforce/Account")
            .await
            .unwrap(),
        Some(mark)
    );
    assert_eq!(
        ids(&w.store.take(Flow::AccountOnboarding).await),
        accounts[..2].to_vec()
    );

    // Healed, the next run re-reads from there: the three not queued, none twice.
    w.store.heal();
    let r2 = poller.poll_once().await;
    assert!(!r2.failed(), "{r2:?}");
    assert_eq!(
        ids(&w.store.take(Flow::AccountOnboarding).await),
        accounts[2..].to_vec()
    );
    let r3 = poller.poll_once().await;
    assert_eq!(r3.queued(), 0);
}

#[tokio::test]
async fn intacct_changes_are_polled_after_the_watermark_ties_included() {
    let w = World::new().await;
    let client = ia_client(&w.ia);
    // Three customers in one call: one WHENMODIFIED second, told apart by RECORDNO.
    client
        .call(
            None,
            Function::create([
                customer("PL-1", "Polled One").to_create().unwrap(),
                customer("PL-2", "Polled Two").to_create().unwrap(),
                customer("PL-3", "Polled Three").to_create().unwrap(),
            ]),
        )
        .await
        .unwrap();
    let poller = w.poller(
        vec![stream(System::Intacct, "CUSTOMER", Flow::AccountSync)],
        config(2, 10),
    );
    let r1 = poller.poll_once().await;
    assert!(!r1.failed(), "{r1:?}");
    let cust = r1.stream("intacct/CUSTOMER").unwrap();
    assert_eq!((cust.changes, cust.more), (2, true), "{cust:?}");
    let r2 = poller.poll_once().await;
    assert_eq!(r2.stream("intacct/CUSTOMER").unwrap().changes, 1, "{r2:?}");
    let got = w.store.take(Flow::AccountSync).await;
    assert_eq!(ids(&got), vec!["PL-1", "PL-2", "PL-3"]);
    assert!(got.iter().all(|e| e.record.system == System::Intacct
        && e.record.object == "CUSTOMER"
        && e.origin == EventOrigin::Poller));

    // Nothing new: nothing queued, for one billed read.
    let before = w.ia.usage();
    let r3 = poller.poll_once().await;
    assert_eq!(r3.queued(), 0, "{r3:?}");
    let after = w.ia.usage();
    assert_eq!(after.reads - before.reads, 1, "{after:?}");
    assert_eq!(after.writes, before.writes);

    // A later change to one of them comes next, alone.
    w.ia_clock.advance(Duration::from_secs(2));
    let renamed = lf_intacct::record::Customer {
        customer_id: Some("PL-2".into()),
        name: Some("Polled Two Renamed".into()),
        ..Default::default()
    };
    client
        .call(None, Function::update([renamed.to_update().unwrap()]))
        .await
        .unwrap();
    let r4 = poller.poll_once().await;
    assert_eq!(r4.queued(), 1, "{r4:?}");
    assert_eq!(ids(&w.store.take(Flow::AccountSync).await), vec!["PL-2"]);
    let seen: BTreeSet<_> = got.iter().map(|e| e.record.id.clone()).collect();
    assert_eq!(seen.len(), 3);
}

#[tokio::test]
async fn salesforce_deletions_are_polled_like_changes() {
    let w = World::new().await;
    let accounts = w.accounts(2, "Doomed");
    let poller = w.poller(
        vec![stream(System::Salesforce, "Account", Flow::AccountSync)],
        config(100, 50),
    );
    assert_eq!(poller.poll_once().await.queued(), 2);
    w.store.take(Flow::AccountSync).await;

    // A user deletes one through the REST API while no webhook listens.
    w.sf_clock.advance(Duration::from_secs(2));
    let client = sf_client(&w.sf, Duration::from_secs(30));
    let doomed = SalesforceId::parse(&accounts[0]).unwrap();
    client.delete("Account", &doomed).await.unwrap();
    assert!(w.sf.record(doomed.as_str()).is_none(), "deleted in the org");

    let r = poller.poll_once().await;
    assert!(!r.failed(), "{r:?}");
    let got = w.store.take(Flow::AccountSync).await;
    assert_eq!(ids(&got), vec![accounts[0].clone()]);
    assert_eq!(got[0].origin, EventOrigin::Poller);
    // Polled once; the next run has nothing.
    assert_eq!(poller.poll_once().await.queued(), 0);
}

/// An invoice of `amount` USD to `customer` in entity US, due on `due`; returns its RECORDNO.
async fn invoice(client: &IntacctClient, customer: &str, amount: &str, due: NaiveDate) -> String {
    let create = lf_intacct::record::InvoiceCreate {
        customer_id: customer.to_owned(),
        date_created: Some(due - chrono::Duration::days(30)),
        date_due: Some(due),
        currency: Some("USD".into()),
        lines: vec![lf_intacct::record::InvoiceLineCreate {
            gl_account_no: Some("4000".into()),
            amount: amount.parse().unwrap(),
            location_id: Some("US".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let answer = client
        .call(
            Some(&lf_domain::EntityId::parse("US").unwrap()),
            Function::raw(create.to_element().unwrap(), true),
        )
        .await
        .unwrap();
    answer.key.expect("create_invoice answers with the key")
}

#[tokio::test]
async fn open_invoices_falling_due_are_swept_once_a_day() {
    let w = World::new().await;
    let client = ia_client(&w.ia);
    client
        .call(
            None,
            Function::create([customer("DUE-1", "Due Soon").to_create().unwrap()]),
        )
        .await
        .unwrap();
    let today = Utc::now().date_naive();
    let yesterday = invoice(
        &client,
        "DUE-1",
        "100.00",
        today - chrono::Duration::days(1),
    )
    .await;
    let due_today = invoice(&client, "DUE-1", "200.00", today).await;
    let _later = invoice(
        &client,
        "DUE-1",
        "300.00",
        today + chrono::Duration::days(5),
    )
    .await;
    let _long_ago = invoice(
        &client,
        "DUE-1",
        "400.00",
        today - chrono::Duration::days(9),
    )
    .await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let poller = w.poller_at(
        vec![stream(System::Intacct, "ARINVOICE", Flow::InvoiceStatus)],
        config(10, 10),
        clock.clone(),
    );

    // First run: the invoice stream sees four new invoices; the sweep, starting a day back
    // (the lookback), finds the one that fell due yesterday.
    let r1 = poller.poll_once().await;
    assert!(!r1.failed(), "{r1:?}");
    assert_eq!(r1.stream("intacct/ARINVOICE").unwrap().changes, 4, "{r1:?}");
    let due = r1.stream("intacct/ARINVOICE/due").unwrap();
    assert_eq!(
        (due.changes, due.queued, due.more),
        (1, 1, false),
        "{due:?}"
    );
    assert_eq!(
        due.watermark_after.as_ref().unwrap().modified_at,
        today.and_time(chrono::NaiveTime::MIN).and_utc()
    );
    let got = w.store.take(Flow::InvoiceStatus).await;
    let swept: Vec<_> = got.iter().filter(|e| e.record.id == yesterday).collect();
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(swept.len(), 2, "polled as new and swept as due: {got:?}");
    assert!(got.iter().all(|e| e.record.object == "ARINVOICE"
        && e.record.system == System::Intacct
        && e.origin == EventOrigin::Poller));

    // Later the same day: nothing new, nothing queued, and the sweep reads nothing (the one
    // billed read is the change stream's). Half the time left until midnight, at most an hour,
    // so a run late in the UTC day stays on the same day.
    let now = clock.now();
    let midnight = (now.date_naive() + chrono::Duration::days(1))
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let later = ((midnight - now) / 2).min(chrono::Duration::hours(1));
    clock.advance(later.to_std().unwrap());
    let before = w.ia.usage();
    let r2 = poller.poll_once().await;
    assert_eq!(r2.queued(), 0, "{r2:?}");
    assert_eq!(w.ia.usage().reads - before.reads, 1);
    assert!(w.store.take(Flow::InvoiceStatus).await.is_empty());

    // The next day: the invoice that was due today falls due, and only it.
    clock.advance(Duration::from_secs(24 * 3600));
    let before = w.ia.usage();
    let r3 = poller.poll_once().await;
    assert!(!r3.failed(), "{r3:?}");
    let swept = r3.stream("intacct/ARINVOICE/due").unwrap();
    assert_eq!(swept.changes, 1, "{r3:?}");
    assert_eq!(
        w.ia.usage().reads - before.reads,
        2,
        "the change stream's and one sweep read"
    );
    assert_eq!(
        ids(&w.store.take(Flow::InvoiceStatus).await),
        vec![due_today.clone()]
    );

    // A week on, the one due in five days has fallen due: swept once.
    clock.advance(Duration::from_secs(7 * 24 * 3600));
    let r4 = poller.poll_once().await;
    assert_eq!(
        r4.stream("intacct/ARINVOICE/due").unwrap().changes,
        1,
        "{r4:?}"
    );
    let r5 = poller.poll_once().await;
    assert_eq!(r5.queued(), 0, "{r5:?}");
}

#[tokio::test]
async fn a_bounded_sweep_resumes_where_it_stopped() {
    let w = World::new().await;
    let client = ia_client(&w.ia);
    client
        .call(
            None,
            Function::create([customer("DUE-2", "Due Many").to_create().unwrap()]),
        )
        .await
        .unwrap();
    let today = Utc::now().date_naive();
    let mut invoices = Vec::new();
    for _ in 0..3 {
        invoices.push(invoice(&client, "DUE-2", "50.00", today - chrono::Duration::days(1)).await);
    }
    let poller = w.poller(
        vec![stream(System::Intacct, "ARINVOICE", Flow::InvoiceStatus)],
        config(2, 1),
    );
    let r1 = poller.poll_once().await;
    let due = r1.stream("intacct/ARINVOICE/due").unwrap();
    assert_eq!((due.changes, due.more), (2, true), "{due:?}");
    assert!(
        due.watermark_after
            .as_ref()
            .unwrap()
            .modified_at
            .date_naive()
            < today
    );
    let r2 = poller.poll_once().await;
    let due = r2.stream("intacct/ARINVOICE/due").unwrap();
    assert_eq!((due.changes, due.more), (1, false), "{due:?}");
    let r3 = poller.poll_once().await;
    assert_eq!(r3.stream("intacct/ARINVOICE/due").unwrap().changes, 0);
    let r2_new = r2.stream("intacct/ARINVOICE").unwrap().changes;
    let got = w.store.take(Flow::InvoiceStatus).await;
    // Three from the invoice stream (2 + 1) and three from the sweep, each invoice twice.
    assert_eq!(r2_new, 1, "{r2:?}");
    assert_eq!(got.len(), 6, "{got:?}");
    let swept: BTreeSet<String> = got.into_iter().map(|e| e.record.id).collect();
    assert_eq!(swept, invoices.into_iter().collect::<BTreeSet<_>>());
}
