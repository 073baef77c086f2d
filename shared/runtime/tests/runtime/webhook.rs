//! The webhook function's invocation: API Gateway HTTP API events through the real intake onto
//! durable embedded queues.

use std::sync::Arc;

use aws_lambda_events::event::apigw::ApiGatewayV2httpRequest;
use base64::Engine;
use lf_domain::port::Queue;
use lf_domain::{Flow, SalesforceId, SystemClock};
use lf_embedded::{Database, SqliteQueue};
use lf_intake::{FlowQueues, Intake, IntakeConfig, RoutingTable, SalesforceWebhookConfig};
use lf_runtime::http_invocation;
use secrecy::SecretString;

const ORG: &str = "00D5g000004ZxYzEAK";
const TOKEN: &str = "outbound-token-7f3a";

/// One Outbound Message notification for an Opportunity, in the documented SOAP shape.
fn outbound_message(org: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org}</OrganizationId>
   <ActionId>04k5g000000XyZAAA0</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/62.0/00D5g000004ZxYz</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/62.0/00D5g000004ZxYz</PartnerUrl>
   <Notification>
    <Id>04l5g00000AbCdEAAV</Id>
    <sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>006Hs00001AbCdEIAV</sf:Id>
     <sf:StageName>Closed Won</sf:StageName>
     <sf:SystemModstamp>2026-03-01T10:00:00.000Z</sf:SystemModstamp>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#
    )
}

fn event(path: &str, body: &str, base64: bool) -> ApiGatewayV2httpRequest {
    let mut event: ApiGatewayV2httpRequest =
        serde_json::from_str(include_str!("fixtures/apigw-v2-event.json")).unwrap();
    event.raw_path = Some(path.to_owned());
    event.request_context.http.path = Some(path.to_owned());
    event.raw_query_string = None;
    event.headers.remove("content-length");
    event.body = Some(if base64 {
        base64::engine::general_purpose::STANDARD.encode(body)
    } else {
        body.to_owned()
    });
    event.is_base64_encoded = base64;
    event
}

struct Fixture {
    _dir: tempfile::TempDir,
    queue: SqliteQueue,
    intake: Intake<SqliteQueue>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("lf.db"), Arc::new(SystemClock)).unwrap();
    let queue = db.queue("opportunity-won").unwrap();
    let config = IntakeConfig {
        routes: RoutingTable::standard().only(&[Flow::OpportunityWon]),
        salesforce: Some(SalesforceWebhookConfig::new(
            vec![SalesforceId::parse(ORG).unwrap()],
            SecretString::from(TOKEN),
        )),
        intacct: None,
    };
    let intake = Intake::new(
        config,
        FlowQueues::new().with(Flow::OpportunityWon, queue.clone()),
        Arc::new(SystemClock),
    )
    .unwrap();
    Fixture {
        _dir: dir,
        queue,
        intake,
    }
}

async fn queued(queue: &SqliteQueue) -> u64 {
    queue.depth().await.unwrap().visible
}

#[tokio::test]
async fn an_outbound_message_event_is_queued_then_acknowledged() {
    let f = fixture();
    let path = format!("/salesforce/{TOKEN}");
    let answer = http_invocation(&f.intake, event(&path, &outbound_message(ORG), true)).await;
    assert_eq!(answer.status_code, 200, "{:?}", answer.body);
    let json = serde_json::to_value(&answer).unwrap();
    let body = json["body"].as_str().unwrap();
    assert!(body.contains("<Ack>true</Ack>"), "{body}");
    assert_eq!(queued(&f.queue).await, 1);

    // The same message as a text body (API Gateway does not always base64 XML) is queued too.
    let answer = http_invocation(&f.intake, event(&path, &outbound_message(ORG), false)).await;
    assert_eq!(answer.status_code, 200);
    assert_eq!(queued(&f.queue).await, 2);
}

#[tokio::test]
async fn refused_events_queue_nothing() {
    let f = fixture();
    let good = outbound_message(ORG);
    let cases = [
        (
            "wrong token",
            event("/salesforce/not-the-token", &good, true),
        ),
        (
            "wrong org",
            event(
                &format!("/salesforce/{TOKEN}"),
                &outbound_message("00D000000000001AAA"),
                true,
            ),
        ),
        ("hostile xml", {
            let bomb = good.replace(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]>",
            );
            event(&format!("/salesforce/{TOKEN}"), &bomb, true)
        }),
        ("unknown path", event("/elsewhere", &good, true)),
    ];
    for (case, e) in cases {
        let answer = http_invocation(&f.intake, e).await;
        assert!(
            (400..500).contains(&answer.status_code),
            "{case}: {}",
            answer.status_code
        );
    }
    let mut not_base64 = event(&format!("/salesforce/{TOKEN}"), &good, true);
    not_base64.body = Some("%%% not base64 %%%".into());
    let answer = http_invocation(&f.intake, not_base64).await;
    assert_eq!(answer.status_code, 400);
    let json = serde_json::to_value(&answer).unwrap();
    assert!(json["body"].as_str().unwrap().contains("base64"));
    assert_eq!(queued(&f.queue).await, 0);
}
