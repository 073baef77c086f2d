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
