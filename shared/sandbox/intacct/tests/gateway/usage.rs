//! API transactions counted as Intacct bills them; the concurrency limit.

use std::time::Duration;

use lf_sandbox_intacct::{IntacctFault, SandboxConfig};

use crate::support::*;

#[tokio::test]
async fn transactions_are_counted_per_record_written_and_per_read_call() {
    let sb = start(SandboxConfig {
        seed: lf_sandbox_intacct::DataSet::Demo,
        ..Default::default()
    })
    .await;
    let us = Client::in_entity(&sb, "US");
    let step = |before: u64| sb.api_transactions() - before;

    let b = sb.api_transactions();
    let three = "<create>\
        <CUSTOMER><CUSTOMERID>N-1</CUSTOMERID><NAME>a</NAME><DISPLAYCONTACT><PRINTAS>a</PRINTAS></DISPLAYCONTACT></CUSTOMER>\
        <CUSTOMER><CUSTOMERID>N-2</CUSTOMERID><NAME>b</NAME><DISPLAYCONTACT><PRINTAS>b</PRINTAS></DISPLAYCONTACT></CUSTOMER>\
        <CONTACT><CONTACTNAME>N-C</CONTACTNAME><PRINTAS>c</PRINTAS></CONTACT></create>";
    us.one(three).await;
    assert_eq!(step(b), 3, "one per record in a create");

    let b = sb.api_transactions();
    us.one("<readByQuery><object>CUSTOMER</object></readByQuery>")
        .await;
    us.one("<query><object>CUSTOMER</object><select><field>RECORDNO</field></select></query>")
        .await;
    assert_eq!(step(b), 2, "one per query call");

    let b = sb.api_transactions();
    us.one("<create_invoice><customerid>N-1</customerid><datecreated><year>2025</year><month>01</month><day>01</day></datecreated><termname>Net 30</termname>\
            <invoiceitems><lineitem><glaccountno>4000</glaccountno><amount>1</amount></lineitem><lineitem><glaccountno>4000</glaccountno><amount>2</amount></lineitem>\
            <lineitem><glaccountno>4000</glaccountno><amount>3</amount></lineitem></invoiceitems></create_invoice>").await;
    assert_eq!(step(b), 1, "a document with its lines is one");

    let b = sb.api_transactions();
    us.one("<update><CUSTOMER><CUSTOMERID>N-2</CUSTOMERID><NAME>B</NAME></CUSTOMER><CUSTOMER><CUSTOMERID>N-1</CUSTOMERID><NAME>A</NAME></CUSTOMER></update>").await;
    assert_eq!(step(b), 2);

    let b = sb.api_transactions();
    us.session(None).await;
    us.one("<lookup><object>ARINVOICE</object></lookup>").await;
    let a = us.call(&[("x", &customer("N-1", "dup", ""))]).await;
    assert_eq!(a.status(0), "failure");
    assert_eq!(step(b), 0, "sessions, lookups and failures are free");
    let u = sb.usage();
    assert_eq!(u.billable(), sb.api_transactions());
    assert!(u.reads >= 2 && u.writes >= 6, "{u:?}");
    sb.shutdown().await;
}

#[tokio::test]
async fn concurrency_limit_answers_429_gw_0010() {
    let sb = start(SandboxConfig {
        latency: Duration::from_secs(5),
        ..Default::default()
    })
    .await;
    sb.set_concurrency_limit(1);
    let c = Client::new(&sb);
    let body = c.envelope(
        Opts::default(),
        &[(
            "f",
            "<readByQuery><object>LOCATIONENTITY</object></readByQuery>",
        )],
    );
    // The first request is held by a latency fault while the second arrives.
    sb.faults().inject_next(IntacctFault::Latency, 1);
    let slow = {
        let c = Client::new(&sb);
        let body = body.clone();
        tokio::spawn(async move { c.post(body).await })
    };
    while sb.in_flight() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let refused = c.post(body.clone()).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.control_status(), "failure");
    assert_eq!(refused.control_errorno(), "GW-0010");
    let slow = slow.await.unwrap();
    assert_eq!(slow.status, 200);
    assert_eq!(slow.status(0), "success");
    // Back under the limit, and with no limit, requests pass.
    assert_eq!(c.post(body.clone()).await.status, 200);
    sb.set_concurrency_limit(0);
    assert_eq!(c.post(body).await.status, 200);
    sb.shutdown().await;
}
