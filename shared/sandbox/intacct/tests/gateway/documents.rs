//! Legacy document functions as the gateway's schema sees them: element order, and what the
//! official SDKs write.

use lf_sandbox_intacct::{DataSet, SandboxConfig};

use crate::support::{Client, start};

const DAY: &str = "<year>2025</year><month>03</month><day>01</day>";

fn demo() -> SandboxConfig {
    SandboxConfig {
        seed: DataSet::Demo,
        ..Default::default()
    }
}

fn invoice(header: &str) -> String {
    format!(
        "<create_invoice><customerid>C-1001</customerid><datecreated>{DAY}</datecreated>{header}\
         <invoiceitems><lineitem><glaccountno>4000</glaccountno><amount>100</amount></lineitem></invoiceitems></create_invoice>"
    )
}

#[tokio::test]
async fn an_element_out_of_schema_order_fails_the_whole_request() {
    let sb = start(demo()).await;
    let us = Client::in_entity(&sb, "US");
    let before = sb.record_count("ARINVOICE");
    // datedue belongs before termname; the read in the same request does not run either.
    let a = us
        .call(&[
            ("r", "<readByQuery><object>CUSTOMER</object></readByQuery>"),
            (
                "i",
                &invoice(&format!(
                    "<termname>Net 30</termname><datedue>{DAY}</datedue>"
                )),
            ),
        ])
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.control_status(), "failure", "{}", a.body);
    assert_eq!(a.control_errorno(), "XL03000003");
    assert_eq!(a.root.value("errormessage.error.description"), "");
    let message = a.root.value("errormessage.error.description2");
    assert!(
        message.starts_with(
            "XML Parse schema error: Error 1871: Element 'datedue': This element is not expected. \
             Expected is one of ( batchkey, action, invoiceno, ponumber,"
        ),
        "{message}"
    );
    assert!(a.results().is_empty(), "{}", a.body);
    assert_eq!(sb.record_count("ARINVOICE"), before);
    // A line with its amount before the account, and a custom field outside customfields.
    let swapped = invoice("<termname>Net 30</termname>").replace(
        "<glaccountno>4000</glaccountno><amount>100</amount>",
        "<amount>100</amount><glaccountno>4000</glaccountno>",
    );
    let a = us.call(&[("i", &swapped)]).await;
    assert!(
        a.root
            .value("errormessage.error.description2")
            .contains("Element 'amount': This element is not expected. Expected is one of ( accountlabel, glaccountno )."),
        "{}",
        a.body
    );
    let a = us
        .call(&[(
            "i",
            &invoice("<termname>Net 30</termname><SFDC_OPPORTUNITY_ID>006x</SFDC_OPPORTUNITY_ID>"),
        )])
        .await;
    assert!(
        a.root
            .value("errormessage.error.description2")
            .contains("Element 'SFDC_OPPORTUNITY_ID': This element is not expected."),
        "{}",
        a.body
    );
    // The same invoice in order is created.
    let a = us
        .call(&[(
            "i",
            &invoice(&format!(
                "<datedue>{DAY}</datedue><termname>Net 30</termname>"
            )),
        )])
        .await;
    a.ok(0);
    assert_eq!(sb.record_count("ARINVOICE"), before + 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn the_official_sdks_full_document_requests_pass_the_schema() {
    // What the PHP and JavaScript SDKs write with every field set: action before batchkey,
    // an onhold, taxsolutionid before customfields (all outside the published schema, which
    // the SDKs' users get through with), and every optional sotransaction element.
    let sb = start(demo()).await;
    let us = Client::in_entity(&sb, "US");
    let full_invoice = format!(
        "<create_invoice><customerid>NOBODY</customerid><datecreated>{DAY}</datecreated><dateposted>{DAY}</dateposted>\
         <datedue>{DAY}</datedue><termname>Net 30</termname><action>Submit</action><batchkey>1</batchkey>\
         <invoiceno>X-1</invoiceno><ponumber>P-1</ponumber><onhold>false</onhold><description>d</description>\
         <externalid>e</externalid><billto><contactname>c</contactname></billto><shipto><contactname>c</contactname></shipto>\
         <basecurr>USD</basecurr><currency>USD</currency><exchratedate>{DAY}</exchratedate><exchratetype>Intacct Daily Rate</exchratetype>\
         <nogl>false</nogl><supdocid>s</supdocid><taxsolutionid>t</taxsolutionid>\
         <customfields><customfield><customfieldname>SFDC_OPPORTUNITY_ID</customfieldname><customfieldvalue>v</customfieldvalue></customfield></customfields>\
         <invoiceitems><lineitem><glaccountno/><amount>1</amount><memo>m</memo><locationid>US</locationid><departmentid>d</departmentid>\
         <key>k</key><totalpaid>0</totalpaid><totaldue>1</totaldue><revrectemplate>t</revrectemplate><defrevaccount>a</defrevaccount>\
         <revrecstartdate>{DAY}</revrecstartdate><revrecenddate>{DAY}</revrecenddate><projectid>p</projectid><customerid>c</customerid>\
         <vendorid>v</vendorid><employeeid>e</employeeid><itemid>i</itemid><classid>c</classid><warehouseid>w</warehouseid>\
         <taxentries><taxentry><detailid>T</detailid><trx_tax>1</trx_tax></taxentry></taxentries></lineitem></invoiceitems></create_invoice>"
    );
    let full_order = format!(
        "<create_sotransaction><transactiontype>Sales Order</transactiontype><datecreated>{DAY}</datecreated>\
         <dateposted>{DAY}</dateposted><createdfrom>Sales Quote-Q1</createdfrom><customerid>NOBODY</customerid>\
         <documentno>D</documentno><origdocdate>{DAY}</origdocdate><referenceno>R</referenceno><termname>Net 30</termname>\
         <datedue>{DAY}</datedue><message>m</message><shippingmethod>s</shippingmethod><shipto><contactname>c</contactname></shipto>\
         <billto><contactname>c</contactname></billto><supdocid>s</supdocid><externalid>e</externalid><basecurr>USD</basecurr>\
         <currency>USD</currency><exchratedate>{DAY}</exchratedate><exchratetype>Intacct Daily Rate</exchratetype>\
         <vsoepricelist>v</vsoepricelist><customfields/><state>Pending</state><projectid>p</projectid>\
         <sotransitems><sotransitem><bundlenumber>b</bundlenumber><itemid>i</itemid><itemdesc>d</itemdesc><taxable>true</taxable>\
         <warehouseid>w</warehouseid><quantity>1</quantity><unit>u</unit><discountpercent>0</discountpercent><price>1</price>\
         <discsurchargememo>m</discsurchargememo><locationid>US</locationid><departmentid>d</departmentid><memo>m</memo>\
         <itemdetails><itemdetail><quantity>1</quantity></itemdetail></itemdetails><customfields/><revrectemplate>t</revrectemplate>\
         <revrecstartdate>{DAY}</revrecstartdate><revrecenddate>{DAY}</revrecenddate><renewalmacro>r</renewalmacro>\
         <projectid>p</projectid><customerid>c</customerid><vendorid>v</vendorid><employeeid>e</employeeid><classid>c</classid>\
         <contractid>c</contractid><fulfillmentstatus><deliverystatus>d</deliverystatus></fulfillmentstatus><taskno>t</taskno>\
         <billingtemplate>b</billingtemplate></sotransitem></sotransitems>\
         <subtotals><subtotal><description>Tax</description><total>1</total></subtotal></subtotals></create_sotransaction>"
    );
    let a = us.call(&[("i", &full_invoice), ("o", &full_order)]).await;
    // Past the schema: the company refuses them for their (made-up) values, per function.
    assert_eq!(a.control_status(), "success", "{}", a.body);
    for i in 0..2 {
        assert_eq!(a.status(i), "failure", "{}", a.body);
        assert_eq!(a.errornos(i)[0], "BL01001973", "{}", a.body);
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn what_the_sdks_send_by_default_is_taken_as_the_real_company_takes_it() {
    let sb = start(demo()).await;
    let us = Client::in_entity(&sb, "US");
    // CustomerCreate without a print-as name writes an empty PRINTAS: the NAME is used.
    us.one(
        "<create><CUSTOMER><CUSTOMERID>D-1</CUSTOMERID><NAME>Default Print</NAME>\
         <DISPLAYCONTACT><PRINTAS/><EMAIL1>a@d.example</EMAIL1></DISPLAYCONTACT></CUSTOMER></create>",
    )
    .await;
    let c = &sb.find("CUSTOMER", "CUSTOMERID", "D-1")[0];
    assert_eq!(c["DISPLAYCONTACT.PRINTAS"], "Default Print");
    assert_eq!(c["DISPLAYCONTACT.CONTACTNAME"], "Default Print(D-1)");
    // No DISPLAYCONTACT at all: the same.
    us.one("<create><CUSTOMER><CUSTOMERID>D-2</CUSTOMERID><NAME>Bare</NAME></CUSTOMER></create>")
        .await;
    assert_eq!(
        sb.find("CUSTOMER", "CUSTOMERID", "D-2")[0]["DISPLAYCONTACT.PRINTAS"],
        "Bare"
    );
    // CustomerUpdate always writes DISPLAYCONTACT, empty when no contact field changes: the
    // stored contact stays.
    us.one(
        "<update><CUSTOMER><CUSTOMERID>D-1</CUSTOMERID><DISPLAYCONTACT/><COMMENTS>vip</COMMENTS></CUSTOMER></update>",
    )
    .await;
    let c = &sb.find("CUSTOMER", "CUSTOMERID", "D-1")[0];
    assert_eq!(c["COMMENTS"], "vip");
    assert_eq!(c["DISPLAYCONTACT.PRINTAS"], "Default Print");
    assert_eq!(c["DISPLAYCONTACT.EMAIL1"], "a@d.example");
    assert!(sb.unchanged_updates().is_empty());
    // The same update again changes nothing, and is counted as such.
    us.one(
        "<update><CUSTOMER><CUSTOMERID>D-1</CUSTOMERID><DISPLAYCONTACT/><COMMENTS>vip</COMMENTS></CUSTOMER></update>",
    )
    .await;
    assert_eq!(
        sb.unchanged_updates(),
        [("CUSTOMER", 1)].into_iter().collect()
    );
    // A NAME is still required.
    let a = us
        .call(&[(
            "c",
            "<create><CUSTOMER><CUSTOMERID>D-3</CUSTOMERID><NAME/></CUSTOMER></create>",
        )])
        .await;
    assert!(a.messages(0).contains("Required field NAME"), "{}", a.body);
    // ContactCreate writes TAXID when it is set.
    us.one(
        "<create><CONTACT><CONTACTNAME>Tax Person</CONTACTNAME><PRINTAS>Tax Person</PRINTAS>\
         <TAXID>12-345</TAXID></CONTACT></create>",
    )
    .await;
    // OrderEntryTransactionCreate writes neither term nor due date unless set: the
    // customer's term (C-1001: Net 30) gives the due date.
    let order = format!(
        "<create_sotransaction><transactiontype>Sales Order</transactiontype><datecreated>{DAY}</datecreated>\
         <customerid>C-1001</customerid><sotransitems><sotransitem><itemid>SUB-PLAT</itemid><quantity>1</quantity>\
         </sotransitem></sotransitems></create_sotransaction>"
    );
    let a = us.call(&[("o", &order)]).await;
    let docid = a.ok(0).value("key").to_owned();
    let doc = &sb.find("SODOCUMENT", "DOCID", &docid)[0];
    assert_eq!(doc["TERMNAME"], "Net 30");
    assert_eq!(doc["WHENDUE"], "03/31/2025");
    sb.shutdown().await;
}

/// A company whose clock stands at 06/15/2026: its rates run monthly from 06/01/2025.
async fn june_2026() -> lf_sandbox_intacct::Sandbox {
    let t = chrono::NaiveDate::from_ymd_opt(2026, 6, 15)
        .and_then(|d| d.and_hms_opt(9, 0, 0))
        .unwrap()
        .and_utc();
    start(SandboxConfig {
        seed: DataSet::Demo,
        clock: std::sync::Arc::new(lf_domain::ManualClock::new(t)),
        ..Default::default()
    })
    .await
}

fn eur_invoice(y: i32, m: u32, d: u32, rate_type: &str) -> String {
    format!(
        "<create_invoice><customerid>C-1001</customerid><datecreated><year>{y}</year><month>{m:02}</month><day>{d:02}</day></datecreated>\
         <termname>Net 30</termname><currency>EUR</currency><exchratetype>{rate_type}</exchratetype>\
         <invoiceitems><lineitem><glaccountno>4000</glaccountno><amount>1000.00</amount></lineitem></invoiceitems></create_invoice>"
    )
}

#[tokio::test]
async fn documents_convert_at_the_rate_of_their_date_and_refuse_a_missing_one() {
    let sb = june_2026().await;
    let us = Client::in_entity(&sb, "US");
    // The rates of a period, read the way a reconciliation reads them: the rate record of the
    // pair and type, then its entries in the period.
    let rates = us
        .one(
            "<readByQuery><object>EXCHANGERATE</object><fields>RECORDNO,FROM_CURRENCY,TO_CURRENCY,TYPENAME</fields>\
             <query>FROM_CURRENCY = 'EUR' AND TO_CURRENCY = 'USD' AND TYPENAME = 'Intacct Daily Rate'</query></readByQuery>",
        )
        .await;
    assert_eq!(rates.children.len(), 1, "{rates:?}");
    let id = rates.children[0].value("RECORDNO").to_owned();
    let january = us
        .one(&format!(
            "<readByQuery><object>EXCHANGERATEENTRY</object><fields>EFFECTIVE_START_DATE,RATE,RECIP_RATE</fields>\
             <query>EXCHANGERATEID = '{id}' AND EFFECTIVE_START_DATE &gt;= '01/01/2026' AND EFFECTIVE_START_DATE &lt;= '01/31/2026'</query></readByQuery>"
        ))
        .await;
    assert_eq!(january.children.len(), 1, "{january:?}");
    let entry = &january.children[0];
    assert_eq!(entry.value("EFFECTIVE_START_DATE"), "01/01/2026");
    // 1.0800 a year before 06/2026 moving to 1.0850: seven twelfths of the way in January.
    assert_eq!(entry.value("RATE"), "1.0829");
    let all = us
        .one(&format!(
            "<readByQuery><object>EXCHANGERATEENTRY</object><fields>RATE</fields><query>EXCHANGERATEID = '{id}'</query></readByQuery>"
        ))
        .await;
    assert_eq!(all.children.len(), 13, "06/2025 through 06/2026");

    // A EUR invoice in the USD entity stores base amounts at its date's rate.
    let a = us
        .call(&[("i", &eur_invoice(2026, 1, 20, "Intacct Daily Rate"))])
        .await;
    let key = a.ok(0).value("key").to_owned();
    let inv = &sb.find("ARINVOICE", "RECORDNO", &key)[0];
    assert_eq!(
        (
            inv["CURRENCY"].as_str(),
            inv["BASECURR"].as_str(),
            inv["EXCHANGE_RATE"].as_str()
        ),
        ("EUR", "USD", "1.0829")
    );
    assert_eq!(inv["TRX_TOTALENTERED"], "1000.00");
    assert_eq!(inv["TOTALENTERED"], "1082.90");
    // Three months later, that month's rate; the empty rate type the SDKs send is the default.
    let a = us
        .call(&[(
            "i",
            &eur_invoice(2026, 4, 2, "Intacct Daily Rate").replace(
                "<exchratetype>Intacct Daily Rate</exchratetype>",
                "<exchratetype/>",
            ),
        )])
        .await;
    let key = a.ok(0).value("key").to_owned();
    assert_eq!(
        sb.find("ARINVOICE", "RECORDNO", &key)[0]["TOTALENTERED"],
        "1084.20"
    );
    // An Order Entry document converts the same way.
    let order = "<create_sotransaction><transactiontype>Sales Order</transactiontype>\
         <datecreated><year>2026</year><month>01</month><day>20</day></datecreated><customerid>C-1001</customerid>\
         <currency>EUR</currency><exchratetype>Intacct Daily Rate</exchratetype><sotransitems><sotransitem>\
         <itemid>SUB-PLAT</itemid><quantity>1</quantity><price>100</price></sotransitem></sotransitems></create_sotransaction>";
    let a = us.call(&[("o", order)]).await;
    let docid = a.ok(0).value("key").to_owned();
    let doc = &sb.find("SODOCUMENT", "DOCID", &docid)[0];
    assert_eq!(
        (doc["TRX_TOTAL"].as_str(), doc["TOTAL"].as_str()),
        ("100.00", "108.29")
    );

    // Before the first rate there is none: refused, nothing kept.
    let before = sb.record_count("ARINVOICE");
    let a = us
        .call(&[("i", &eur_invoice(2025, 5, 10, "Intacct Daily Rate"))])
        .await;
    assert_eq!(a.status(0), "failure");
    assert!(
        a.messages(0).contains(
            "No Intacct Daily Rate exchange rate from EUR to USD on or before 05/10/2025"
        ),
        "{}",
        a.body
    );
    let a = us
        .call(&[("i", &eur_invoice(2026, 1, 20, "Bogus Rate"))])
        .await;
    assert!(
        a.messages(0)
            .contains("Invalid exchange rate type 'Bogus Rate'"),
        "{}",
        a.body
    );
    assert_eq!(sb.record_count("ARINVOICE"), before);
    sb.shutdown().await;
}
