//! Invoices, payments moving state and TOTALDUE, Order Entry, revenue.

use lf_sandbox_intacct::{DataSet, SandboxConfig};

use crate::support::*;

fn invoice_body(customer: &str, amount: &str, extra: &str) -> String {
    format!(
        "<create_invoice><customerid>{customer}</customerid><datecreated><year>2025</year><month>03</month><day>01</day></datecreated>\
         <termname>Net 30</termname>{extra}<invoiceitems><lineitem><glaccountno>4000</glaccountno><amount>{amount}</amount><itemid>SUB-SEAT</itemid></lineitem>\
         <lineitem><glaccountno>4100</glaccountno><amount>0.00</amount><memo>free setup</memo></lineitem></invoiceitems></create_invoice>"
    )
}

#[tokio::test]
async fn payments_move_invoice_state_and_totaldue() {
    let sb = start(SandboxConfig {
        seed: DataSet::Demo,
        ..Default::default()
    })
    .await;
    let us = Client::in_entity(&sb, "US");
    let extra = "<customfields><customfield><customfieldname>SFDC_OPPORTUNITY_ID</customfieldname><customfieldvalue>006LF0000000001AAA</customfieldvalue></customfield></customfields>";
    let a = us
        .call(&[("i", &invoice_body("C-1004", "1000.00", extra))])
        .await;
    assert_eq!(a.result(0).value("function"), "create_invoice");
    let inv = a.ok(0).value("key").to_owned();
    let row = &sb.find("ARINVOICE", "RECORDNO", &inv)[0];
    assert_eq!(row["STATE"], "Posted");
    assert_eq!(row["TOTALDUE"], "1000.00");
    assert_eq!(row["WHENDUE"], "03/31/2025", "Net 30 from 03/01/2025");
    assert_eq!(row["SFDC_OPPORTUNITY_ID"], "006LF0000000001AAA");
    assert_eq!(
        sb.find("CUSTOMER", "CUSTOMERID", "C-1004")[0]["TOTALDUE"],
        "1000.00"
    );
    let lines = us
        .one(&format!(
            "<read><object>ARINVOICE</object><keys>{inv}</keys></read>"
        ))
        .await;
    assert_eq!(
        lines.children[0]
            .path("ARINVOICEITEMS")
            .unwrap()
            .children
            .len(),
        2
    );

    // Legacy payment, partly applied.
    let pay = format!(
        "<create_arpayment><customerid>C-1004</customerid><paymentamount>400.00</paymentamount><bankaccountid>BANK-OPS</bankaccountid>\
         <refid>CHK-1</refid><datereceived><year>2025</year><month>03</month><day>10</day></datereceived><paymentmethod>Printed Check</paymentmethod>\
         <arpaymentitem><invoicekey>{inv}</invoicekey><amount>400.00</amount></arpaymentitem></create_arpayment>"
    );
    us.call(&[("p", &pay)]).await.ok(0);
    let row = &sb.find("ARINVOICE", "RECORDNO", &inv)[0];
    assert_eq!(row["STATE"], "Partially Paid");
    assert_eq!(
        (row["TOTALPAID"].as_str(), row["TOTALDUE"].as_str()),
        ("400.00", "600.00")
    );
    assert_eq!(
        sb.find("CUSTOMER", "CUSTOMERID", "C-1004")[0]["TOTALDUE"],
        "600.00"
    );

    // Overpaying an invoice fails and changes nothing.
    let over = format!(
        "<create><ARPYMT><PAYMENTMETHOD>EFT</PAYMENTMETHOD><CUSTOMERID>C-1004</CUSTOMERID><RECEIPTDATE>03/20/2025</RECEIPTDATE>\
         <ARPYMTDETAILS><ARPYMTDETAIL><RECORDKEY>{inv}</RECORDKEY><TRX_PAYMENTAMOUNT>600.01</TRX_PAYMENTAMOUNT></ARPYMTDETAIL></ARPYMTDETAILS></ARPYMT></create>"
    );
    let a = us.call(&[("p", &over)]).await;
    assert_eq!(a.status(0), "failure");
    assert!(a.messages(0).contains("exceeds"), "{}", a.body);

    // Generic ARPYMT pays the rest.
    let rest = over.replace("600.01", "600");
    let data = us.call(&[("p", &rest)]).await.ok(0).clone();
    assert_eq!(data.children[0].name, "arpymt");
    let row = &sb.find("ARINVOICE", "RECORDNO", &inv)[0];
    assert_eq!(row["STATE"], "Paid");
    assert_eq!(row["TOTALDUE"], "0.00");
    assert_eq!(row["TRX_TOTALDUE"], "0.00");
    assert_eq!(row["WHENPAID"], "03/20/2025");
    assert_eq!(
        sb.find("CUSTOMER", "CUSTOMERID", "C-1004")[0]["TOTALDUE"],
        "0.00"
    );
    let a = us.call(&[("p", &rest)]).await;
    assert_eq!(a.status(0), "failure", "a paid invoice takes no more");

    // Query by state the way invoice-status does.
    let d = us
        .one("<query><object>ARPYMT</object><select><field>RECORDNO</field><field>CUSTOMERID</field><field>TRX_TOTALENTERED</field></select>\
              <filter><equalto><field>CUSTOMERID</field><value>C-1004</value></equalto></filter></query>")
        .await;
    assert_eq!(d.attr("count"), Some("2"));
    // A customer with invoices cannot be deleted.
    let rec = sb.find("CUSTOMER", "CUSTOMERID", "C-1004")[0]["RECORDNO"].clone();
    let a = us
        .call(&[(
            "d",
            &format!("<delete><object>CUSTOMER</object><keys>{rec}</keys></delete>"),
        )])
        .await;
    assert_eq!(a.status(0), "failure");
    sb.shutdown().await;
}

#[tokio::test]
async fn order_entry_documents_and_revenue() {
    let sb = start(SandboxConfig {
        seed: DataSet::Demo,
        ..Default::default()
    })
    .await;
    let us = Client::in_entity(&sb, "US");
    let so = |doc_type: &str, extra: &str| {
        format!(
            "<create_sotransaction><transactiontype>{doc_type}</transactiontype><datecreated><year>2025</year><month>01</month><day>01</day></datecreated>\
             {extra}<customerid>C-1004</customerid><termname>Net 30</termname>\
             <customfields><customfield><customfieldname>SFDC_OPPORTUNITY_ID</customfieldname><customfieldvalue>006LF0000000002AAA</customfieldvalue></customfield></customfields>\
             <sotransitems><sotransitem><itemid>SUB-PLAT</itemid><quantity>1</quantity><price>1200</price>\
             <revrectemplate>Monthly straight line</revrectemplate><revrecstartdate><year>2025</year><month>01</month><day>01</day></revrecstartdate>\
             <revrecenddate><year>2025</year><month>12</month><day>31</day></revrecenddate></sotransitem>\
             <sotransitem><itemid>SVC-TRN</itemid><quantity>2</quantity><discountpercent>10</discountpercent></sotransitem></sotransitems></create_sotransaction>"
        )
    };
    let a = us.call(&[("o", &so("Sales Order", ""))]).await;
    let order = a.ok(0).value("key").to_owned();
    assert!(order.starts_with("Sales Order-SO-"), "{order}");
    let doc = &sb.find("SODOCUMENT", "DOCID", &order)[0];
    assert_eq!(doc["TRX_TOTAL"], "3900.00", "1200 + 2 x 1500 less 10%");
    assert_eq!(doc["STATE"], "Pending");
    let a = us
        .call(&[(
            "i",
            &so(
                "Sales Invoice",
                &format!("<createdfrom>{order}</createdfrom>"),
            ),
        )])
        .await;
    let invoice_doc = a.ok(0).value("key").to_owned();
    assert_eq!(
        sb.find("SODOCUMENT", "DOCID", &order)[0]["STATE"],
        "Converted"
    );
    let ar = sb.find("ARINVOICE", "SODOCUMENTID", &invoice_doc);
    assert_eq!(ar.len(), 1, "a Sales Invoice posts an AR invoice");
    assert_eq!(ar[0]["MODULEKEY"], "8.SO");
    assert_eq!(ar[0]["TOTALDUE"], "3900.00");
    assert_eq!(ar[0]["SFDC_OPPORTUNITY_ID"], "006LF0000000002AAA");
    let d = us
        .one("<query><object>SODOCUMENT</object><select><field>DOCID</field></select><docparid>Sales Invoice</docparid></query>")
        .await;
    assert_eq!(d.attr("count"), Some("1"));

    // Revenue: twelve monthly entries of 100.00, posted up to today (2025 is in the past).
    let d = us
        .one("<query><object>REVRECSCHEDULEENTRY</object><select><field>PERIOD</field><field>AMOUNT</field><field>POSTED</field></select>\
              <filter><equalto><field>DOCNUMBER</field><value>SI-00001</value></equalto></filter><orderby><order><field>POSTINGDATE</field></order></orderby></query>")
        .await;
    assert_eq!(d.attr("count"), Some("12"));
    assert_eq!(d.children[0].value("PERIOD"), "2025-01");
    assert_eq!(d.children[0].value("AMOUNT"), "100.00");
    assert_eq!(d.children[0].value("POSTED"), "true");
    let a = us.call(&[("o", &so("Purchase Order", ""))]).await;
    assert_eq!(a.status(0), "failure");
    sb.shutdown().await;
}

#[tokio::test]
async fn a_failing_document_function_leaves_nothing_behind() {
    let sb = start(SandboxConfig {
        seed: DataSet::Demo,
        ..Default::default()
    })
    .await;
    let us = Client::in_entity(&sb, "US");
    let invoices = sb.record_count("ARINVOICE");
    let due = sb.find("CUSTOMER", "CUSTOMERID", "C-1004")[0]["TOTALDUE"].clone();

    // A service period that ends before it starts is refused, and no invoice is left half made.
    let backwards = "<create_invoice><customerid>C-1004</customerid><datecreated><year>2025</year><month>03</month><day>01</day></datecreated>\
         <termname>Net 30</termname><invoiceitems><lineitem><glaccountno>4000</glaccountno><amount>100</amount>\
         <revrectemplate>Monthly straight line</revrectemplate><revrecstartdate><year>2025</year><month>06</month><day>01</day></revrecstartdate>\
         <revrecenddate><year>2025</year><month>01</month><day>31</day></revrecenddate></lineitem></invoiceitems></create_invoice>";
    let a = us.call(&[("i", backwards)]).await;
    assert_eq!(a.status(0), "failure");
    assert!(a.messages(0).contains("revrecenddate"), "{}", a.body);
    assert_eq!(sb.record_count("ARINVOICE"), invoices);
    assert_eq!(
        sb.find("CUSTOMER", "CUSTOMERID", "C-1004")[0]["TOTALDUE"],
        due
    );

    // A Sales Invoice whose AR invoice cannot be posted (the item names no GL account the
    // company has) creates no document and does not convert its source.
    us.one("<create><ITEM><ITEMID>ODD-GL</ITEMID><NAME>Odd</NAME><GLACCOUNTNO>9999</GLACCOUNTNO></ITEM></create>")
        .await;
    let documents = sb.record_count("SODOCUMENT");
    let entries = sb.record_count("SODOCUMENTENTRY");
    let source = "Sales Order-SO-00001";
    let invoice = format!(
        "<create_sotransaction><transactiontype>Sales Invoice</transactiontype><datecreated><year>2025</year><month>03</month><day>01</day></datecreated>\
         <createdfrom>{source}</createdfrom><customerid>C-1004</customerid><termname>Net 30</termname>\
         <sotransitems><sotransitem><itemid>ODD-GL</itemid><quantity>1</quantity><price>10</price></sotransitem></sotransitems></create_sotransaction>"
    );
    let a = us.call(&[("s", &invoice)]).await;
    assert_eq!(a.status(0), "failure");
    assert!(a.messages(0).contains("9999"), "{}", a.body);
    assert_eq!(sb.record_count("SODOCUMENT"), documents);
    assert_eq!(sb.record_count("SODOCUMENTENTRY"), entries);
    assert_eq!(sb.record_count("ARINVOICE"), invoices);
    assert_eq!(
        sb.find("SODOCUMENT", "DOCID", source)[0]["STATE"],
        "Pending"
    );
    sb.shutdown().await;
}
