//! Multi-entity visibility and currencies.

use lf_sandbox_intacct::{DataSet, SandboxConfig};

use crate::support::*;

#[tokio::test]
async fn records_are_visible_per_entity() {
    let sb = start(SandboxConfig::default()).await;
    let top = Client::new(&sb);
    let us = Client::in_entity(&sb, "US");
    let uk = Client::in_entity(&sb, "UK");
    top.one(&customer("C-TOP", "Top", "")).await;
    us.one(&customer("C-US", "Us", "")).await;
    uk.one(&customer("C-UK", "Uk", "<CURRENCY>GBP</CURRENCY>"))
        .await;
    let ids = |d: lf_sandbox_intacct::Element| -> Vec<String> {
        d.children
            .iter()
            .map(|r| r.value("CUSTOMERID").to_owned())
            .collect()
    };
    let q = "<readByQuery><object>CUSTOMER</object><fields>CUSTOMERID,MEGAENTITYID</fields></readByQuery>";
    assert_eq!(ids(us.one(q).await), vec!["C-TOP", "C-US"]);
    assert_eq!(ids(uk.one(q).await), vec!["C-TOP", "C-UK"]);
    assert_eq!(ids(top.one(q).await), vec!["C-TOP"]);
    let private = "<query><object>CUSTOMER</object><select><field>CUSTOMERID</field><field>MEGAENTITYID</field></select><options><showprivate>true</showprivate></options></query>";
    let all = top.one(private).await;
    assert_eq!(ids(all.clone()), vec!["C-TOP", "C-US", "C-UK"]);
    assert_eq!(all.children[2].value("MEGAENTITYID"), "UK");
    // An entity cannot change another entity's record, nor reuse its id.
    let a = us
        .call(&[(
            "u",
            "<update><CUSTOMER><CUSTOMERID>C-UK</CUSTOMERID><NAME>x</NAME></CUSTOMER></update>",
        )])
        .await;
    assert_eq!(a.status(0), "failure");
    let a = us.call(&[("c", &customer("C-UK", "Clash", ""))]).await;
    assert_eq!(
        a.errornos(0)[0],
        "BL34000061",
        "ids are unique company-wide"
    );
    // An entity cannot invoice a customer it cannot see.
    let invoice = |cust: &str| {
        format!(
            "<create_invoice><customerid>{cust}</customerid><datecreated><year>2025</year><month>03</month><day>01</day></datecreated>\
             <termname>Net 30</termname><invoiceitems><lineitem><glaccountno>4000</glaccountno><amount>100</amount></lineitem></invoiceitems></create_invoice>"
        )
    };
    assert_eq!(
        us.call(&[("i", &invoice("C-UK"))]).await.status(0),
        "failure"
    );
    assert_eq!(
        us.call(&[("i", &invoice("C-TOP"))]).await.status(0),
        "success"
    );
    // At the top level a multi-entity invoice needs a locationid on its lines.
    let a = top.call(&[("i", &invoice("C-TOP"))]).await;
    assert!(a.messages(0).contains("locationid"), "{}", a.body);
    let with_loc = invoice("C-TOP").replace(
        "<amount>100</amount>",
        "<amount>100</amount><locationid>DE</locationid>",
    );
    let key = top
        .call(&[("i", &with_loc)])
        .await
        .result(0)
        .value("key")
        .to_owned();
    let inv = sb.find("ARINVOICE", "RECORDNO", &key);
    assert_eq!(inv[0]["MEGAENTITYID"], "DE");
    assert_eq!(inv[0]["BASECURR"], "EUR");
    sb.shutdown().await;
}

#[tokio::test]
async fn entity_base_currencies_and_exchange_rates() {
    let sb = start(SandboxConfig {
        seed: DataSet::Demo,
        ..Default::default()
    })
    .await;
    let uk = Client::in_entity(&sb, "UK");
    let ents = Client::new(&sb).one("<readByQuery><object>LOCATIONENTITY</object><fields>LOCATIONID,CURRENCY</fields></readByQuery>").await;
    let pairs: Vec<(String, String)> = ents
        .children
        .iter()
        .map(|e| (e.value("LOCATIONID").into(), e.value("CURRENCY").into()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("US".into(), "USD".into()),
            ("UK".into(), "GBP".into()),
            ("DE".into(), "EUR".into()),
            ("EDU".into(), "USD".into())
        ]
    );
    // A USD invoice in the GBP entity converts at the latest GBP/USD rate (1.2650), inverted.
    let body = "<create_invoice><customerid>C-2001</customerid><datecreated><year>2099</year><month>01</month><day>15</day></datecreated>\
                <datedue><year>2099</year><month>02</month><day>14</day></datedue><currency>USD</currency><exchratetype/>\
                <invoiceitems><lineitem><glaccountno>4100</glaccountno><amount>1265.00</amount></lineitem></invoiceitems></create_invoice>";
    let a = uk.call(&[("i", body)]).await;
    let key = a.ok(0).value("key").to_owned();
    let inv = &sb.find("ARINVOICE", "RECORDNO", &key)[0];
    assert_eq!(inv["CURRENCY"], "USD");
    assert_eq!(inv["BASECURR"], "GBP");
    assert_eq!(inv["TRX_TOTALENTERED"], "1265.00");
    assert_eq!(inv["TOTALENTERED"], "1000.00");
    // An explicit rate wins; an unknown currency fails.
    let a = uk
        .call(&[(
            "i",
            &body.replace(
                "<currency>USD</currency><exchratetype/>",
                "<currency>USD</currency><exchrate>0.5</exchrate>",
            ),
        )])
        .await;
    let key = a.ok(0).value("key").to_owned();
    assert_eq!(
        sb.find("ARINVOICE", "RECORDNO", &key)[0]["TOTALENTERED"],
        "632.50"
    );
    let a = uk.call(&[("i", &body.replace("USD", "JPY"))]).await;
    assert_eq!(a.status(0), "failure");
    sb.shutdown().await;
}
