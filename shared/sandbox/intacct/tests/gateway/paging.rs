//! readByQuery/readMore past 1,000 rows, query offsets past 2,000, filters, order, aggregates.

use std::collections::HashSet;

use lf_sandbox_intacct::SandboxConfig;

use crate::support::*;

#[tokio::test]
async fn read_by_query_and_read_more_page_through_2500_customers() {
    let sb = start(SandboxConfig {
        bulk_customers: 2500,
        ..Default::default()
    })
    .await;
    let c = Client::new(&sb);
    let before = sb.api_transactions();
    let first = c
        .one("<readByQuery><object>CUSTOMER</object><fields>CUSTOMERID,NAME</fields><query></query><pagesize>1000</pagesize><returnFormat>xml</returnFormat></readByQuery>")
        .await;
    assert_eq!(first.attr("listtype"), Some("customer"));
    assert_eq!(first.attr("count"), Some("1000"));
    assert_eq!(first.attr("totalcount"), Some("2500"));
    assert_eq!(first.attr("numremaining"), Some("1500"));
    assert_eq!(first.children[0].name, "customer");
    assert_eq!(
        first.children[0].children.len(),
        2,
        "only the fields asked for"
    );
    let result_id = first.attr("resultId").unwrap().to_owned();
    assert!(!result_id.is_empty());
    let mut ids: Vec<String> = first
        .children
        .iter()
        .map(|r| r.value("CUSTOMERID").to_owned())
        .collect();

    let second = c
        .one(&format!(
            "<readMore><resultId>{result_id}</resultId></readMore>"
        ))
        .await;
    assert_eq!(second.attr("count"), Some("1000"));
    assert_eq!(second.attr("numremaining"), Some("500"));
    assert_eq!(second.attr("resultId"), Some(result_id.as_str()));
    ids.extend(
        second
            .children
            .iter()
            .map(|r| r.value("CUSTOMERID").to_owned()),
    );
    let third = c
        .one(&format!(
            "<readMore><resultId>{result_id}</resultId></readMore>"
        ))
        .await;
    assert_eq!(third.attr("count"), Some("500"));
    assert_eq!(third.attr("numremaining"), Some("0"));
    assert_eq!(third.attr("resultId"), Some(""));
    ids.extend(
        third
            .children
            .iter()
            .map(|r| r.value("CUSTOMERID").to_owned()),
    );
    assert_eq!(ids.len(), 2500);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        2500,
        "no row twice"
    );
    assert_eq!(ids.first().map(String::as_str), Some("BULK-00001"));
    assert_eq!(ids.last().map(String::as_str), Some("BULK-02500"));
    assert_eq!(
        sb.api_transactions() - before,
        3,
        "one per call, whatever the rows"
    );
    assert_eq!(sb.open_result_sets(), 0, "an exhausted result is closed");

    let a = c
        .call(&[(
            "m",
            &format!("<readMore><resultId>{result_id}</resultId></readMore>"),
        )])
        .await;
    assert_eq!(a.status(0), "failure");
    let a = c
        .call(&[(
            "p",
            "<readByQuery><object>CUSTOMER</object><pagesize>1001</pagesize></readByQuery>",
        )])
        .await;
    assert_eq!(a.status(0), "failure");

    // Default page size is 100; readMore by object continues the caller's latest result.
    let first = c.one("<readByQuery><object>CUSTOMER</object><query>CUSTOMERID LIKE 'BULK-000%'</query></readByQuery>").await;
    assert_eq!(
        (first.attr("count"), first.attr("totalcount")),
        (Some("99"), Some("99"))
    );
    let first = c
        .one("<readByQuery><object>CUSTOMER</object></readByQuery>")
        .await;
    assert_eq!(first.attr("count"), Some("100"));
    let more = c
        .one("<readMore><object>CUSTOMER</object></readMore>")
        .await;
    assert_eq!(more.children[0].value("CUSTOMERID"), "BULK-00101");
    sb.shutdown().await;
}

#[tokio::test]
async fn query_pages_by_offset_past_2000() {
    let sb = start(SandboxConfig {
        bulk_customers: 2500,
        ..Default::default()
    })
    .await;
    let c = Client::new(&sb);
    let page = |offset: usize| {
        format!(
            "<query><object>CUSTOMER</object><select><field>CUSTOMERID</field><field>RECORDNO</field></select>\
             <orderby><order><field>CUSTOMERID</field><descending/></order></orderby><pagesize>2000</pagesize><offset>{offset}</offset></query>"
        )
    };
    let first = c.one(&page(0)).await;
    assert_eq!(first.attr("listtype"), Some("CUSTOMER"));
    assert_eq!(first.attr("count"), Some("2000"));
    assert_eq!(first.attr("totalcount"), Some("2500"));
    assert_eq!(first.attr("numremaining"), Some("500"));
    assert_eq!(first.children[0].name, "CUSTOMER");
    assert_eq!(
        first.children[0].value("CUSTOMERID"),
        "BULK-02500",
        "descending"
    );
    let second = c.one(&page(2000)).await;
    assert_eq!(second.attr("offset"), Some("2000"));
    assert_eq!(second.attr("count"), Some("500"));
    assert_eq!(second.attr("numremaining"), Some("0"));
    assert_eq!(
        second.children.last().unwrap().value("CUSTOMERID"),
        "BULK-00001"
    );
    let beyond = c.one(&page(3000)).await;
    assert_eq!(beyond.attr("count"), Some("0"));
    let a = c
        .call(&[("q", &page(0).replace("<pagesize>2000", "<pagesize>2001"))])
        .await;
    assert_eq!(a.status(0), "failure");
    let a = c
        .call(&[("q", "<query><object>CUSTOMER</object></query>")])
        .await;
    assert_eq!(a.status(0), "failure", "select is required");
    sb.shutdown().await;
}

#[tokio::test]
async fn filters_order_and_aggregates() {
    let sb = start(SandboxConfig {
        seed: lf_sandbox_intacct::DataSet::Demo,
        ..Default::default()
    })
    .await;
    let us = Client::in_entity(&sb, "US");
    let ids = |data: &lf_sandbox_intacct::Element, f: &str| -> Vec<String> {
        data.children
            .iter()
            .map(|r| r.value(f).to_owned())
            .collect()
    };

    // readByQuery query strings.
    let d = us.one("<readByQuery><object>CUSTOMER</object><fields>CUSTOMERID</fields><query>ONHOLD = 'true' OR (CREDITLIMIT >= 50000 AND NOT CUSTOMERID IN ('C-1004'))</query></readByQuery>").await;
    assert_eq!(ids(&d, "CUSTOMERID"), vec!["C-0001", "C-1001", "C-1003"]);
    let d = us.one("<readByQuery><object>CUSTOMER</object><fields>CUSTOMERID</fields><query>SFDC_ACCOUNT_ID IS NULL</query></readByQuery>").await;
    assert_eq!(ids(&d, "CUSTOMERID"), vec!["C-1004"]);
    let d = us.one("<readByQuery><object>CUSTOMER</object><fields>CUSTOMERID,DISPLAYCONTACT.EMAIL1</fields><query>DISPLAYCONTACT.EMAIL1 LIKE '%globex%'</query></readByQuery>").await;
    assert_eq!(
        flat(&d.children[0], "DISPLAYCONTACT.EMAIL1"),
        "finance@globex.example"
    );
    let a = us
        .call(&[(
            "q",
            "<readByQuery><object>CUSTOMER</object><query>NAME='x'</query></readByQuery>",
        )])
        .await;
    assert_eq!(a.errornos(0), vec!["Query Failed"]);
    assert!(a.messages(0).contains("space on each side"), "{}", a.body);
    let a = us
        .call(&[(
            "q",
            "<readByQuery><object>CUSTOMER</object><query>NOSUCH = 'x'</query></readByQuery>",
        )])
        .await;
    assert!(a.messages(0).contains("Invalid field NOSUCH"), "{}", a.body);
    let a = us
        .call(&[(
            "q",
            "<readByQuery><object>CUSTOMER</object><fields>CUSTOMERID,BOGUS</fields></readByQuery>",
        )])
        .await;
    assert!(a.messages(0).contains("BOGUS"), "{}", a.body);

    // query filters, related fields, case-insensitivity, ordering.
    let d = us
        .one("<query><object>ARINVOICE</object><select><field>RECORDID</field><field>CUSTOMER.NAME</field><field>TOTALDUE</field></select>\
              <filter><and><greaterthan><field>TOTALDUE</field><value>0</value></greaterthan><like><field>CUSTOMER.NAME</field><value>g%</value></like></and></filter>\
              <orderby><order><field>TOTALDUE</field><ascending/></order></orderby><options><caseinsensitive>true</caseinsensitive></options></query>")
        .await;
    assert_eq!(ids(&d, "RECORDID"), vec!["INV-10004", "INV-10003"]);
    assert_eq!(flat(&d.children[0], "CUSTOMER.NAME"), "Globex Retail");
    let d = us
        .one("<query><object>ARINVOICE</object><select><field>RECORDID</field></select>\
              <filter><in><field>STATE</field><value>Paid</value><value>Partially Paid</value></in></filter></query>")
        .await;
    assert_eq!(ids(&d, "RECORDID"), vec!["INV-10002", "INV-10004"]);

    // Aggregates group by the plain fields.
    let d = us
        .one("<query><object>ARINVOICE</object><select><field>CUSTOMERID</field><count>RECORDNO</count><sum>TOTALDUE</sum></select>\
              <orderby><order><field>CUSTOMERID</field></order></orderby></query>")
        .await;
    let first = &d.children[0];
    assert_eq!(first.value("CUSTOMERID"), "C-0001");
    let acme = d
        .children
        .iter()
        .find(|r| r.value("CUSTOMERID") == "C-1001")
        .unwrap();
    assert_eq!(flat(acme, "COUNT.RECORDNO"), "2");
    assert_eq!(flat(acme, "SUM.TOTALDUE"), "17000.00");
    sb.shutdown().await;
}
