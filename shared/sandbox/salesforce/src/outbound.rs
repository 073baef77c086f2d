//! Outbound Messages: rules that watch committed changes and send the SOAP `notifications`
//! envelope to a webhook, at least once, through [`lf_sandbox_core::Pusher`] (retries with
//! backoff until the receiver answers 200 with `<Ack>true</Ack>`, optional duplicates and
//! reordering).

use std::sync::Mutex;

use lf_sandbox_core::{Delivery, PushConfig, PushStats, Pusher};
use quick_xml::events::Event;
use serde_json::Value;

use crate::schema::{ObjectDef, Schema};
use crate::store::{Change, Record, Store, is_deleted, make_id};
use crate::value::to_soap_text;

/// When a rule sends a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Every create and every edit.
    CreatedOrEdited,
    /// Creates only.
    Created,
    /// A create or an edit after which `field` equals `value` (case-insensitive text), when
    /// it did not before: "created, and every time it's edited to subsequently meet criteria".
    Becomes { field: String, value: String },
}

/// An Outbound Message definition with the workflow rule that fires it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRule {
    /// The message's API name, e.g. `Opportunity_Closed_Won`.
    pub name: String,
    /// The sObject the rule watches.
    pub object: String,
    pub trigger: Trigger,
    /// Fields to send (`Id` always goes). Empty sends every field.
    pub fields: Vec<String>,
    /// "Send Session ID": include a fresh session id the receiver can call back with.
    pub send_session_id: bool,
}

impl OutboundRule {
    /// The rules the flows are built for: an Opportunity reaching Closed Won, any Account
    /// or Contact created or changed.
    pub fn standard() -> Vec<OutboundRule> {
        let fields = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        vec![
            OutboundRule {
                name: "Opportunity_Closed_Won".into(),
                object: "Opportunity".into(),
                trigger: Trigger::Becomes {
                    field: "IsWon".into(),
                    value: "true".into(),
                },
                fields: fields(&[
                    "Id",
                    "AccountId",
                    "Name",
                    "Amount",
                    "CurrencyIsoCode",
                    "CloseDate",
                    "StageName",
                    "IsClosed",
                    "IsWon",
                    "OwnerId",
                    "SBQQ__PrimaryQuote__c",
                    "LastModifiedById",
                    "LastModifiedDate",
                    "SystemModstamp",
                ]),
                send_session_id: false,
            },
            OutboundRule {
                name: "Account_Changed".into(),
                object: "Account".into(),
                trigger: Trigger::CreatedOrEdited,
                fields: fields(&[
                    "Id",
                    "Name",
                    "Type",
                    "CurrencyIsoCode",
                    "BillingCountry",
                    "Intacct_Customer_ID__c",
                    "OwnerId",
                    "LastModifiedById",
                    "LastModifiedDate",
                    "SystemModstamp",
                ]),
                send_session_id: false,
            },
            OutboundRule {
                name: "Contact_Changed".into(),
                object: "Contact".into(),
                trigger: Trigger::CreatedOrEdited,
                fields: fields(&[
                    "Id",
                    "AccountId",
                    "FirstName",
                    "LastName",
                    "Email",
                    "Intacct_Contact_Name__c",
                    "LastModifiedById",
                    "LastModifiedDate",
                    "SystemModstamp",
                ]),
                send_session_id: false,
            },
        ]
    }

    fn fires(&self, change: &Change, now: &Record) -> bool {
        if !self.object.eq_ignore_ascii_case(change.object) || is_deleted(now) {
            return false;
        }
        match &self.trigger {
            Trigger::CreatedOrEdited => true,
            Trigger::Created => change.before.is_none(),
            Trigger::Becomes { field, value } => {
                let matches = |r: &Record| {
                    r.get(field.as_str()).is_some_and(|v| match v {
                        Value::String(s) => s.eq_ignore_ascii_case(value),
                        other => other.to_string().eq_ignore_ascii_case(value),
                    })
                };
                matches(now) && change.before.as_ref().is_none_or(|b| !matches(b))
            }
        }
    }
}

/// Receiver acknowledgement: HTTP 200 and `<Ack>true</Ack>` in the body.
pub fn acknowledged(status: u16, body: &str) -> bool {
    if status != 200 {
        return false;
    }
    let mut reader = quick_xml::Reader::from_str(body);
    let mut in_ack = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => in_ack = AsRef::<str>::as_ref(&e.local_name()) == "Ack",
            Ok(Event::Text(t)) if in_ack => {
                let text = AsRef::<str>::as_ref(&t).trim().to_owned();
                if text.eq_ignore_ascii_case("true") {
                    return true;
                }
            }
            Ok(Event::End(_)) => in_ack = false,
            Ok(Event::Eof) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

/// The org's outbound messaging: rules plus the pusher that delivers.
#[derive(Debug)]
pub(crate) struct Outbound {
    rules: Vec<OutboundRule>,
    config: Mutex<Option<PushConfig>>,
    pusher: Mutex<Option<Pusher>>,
}

/// What a message needs to know about the org.
pub(crate) struct OrgInfo<'a> {
    pub org_id: &'a str,
    pub base_url: &'a str,
}

const MAX_PER_MESSAGE: usize = 100;

impl Outbound {
    pub fn new(rules: Vec<OutboundRule>, config: Option<PushConfig>) -> Self {
        let pusher = config.clone().map(|c| Pusher::start(c, acknowledged));
        Self {
            rules,
            config: Mutex::new(config),
            pusher: Mutex::new(pusher),
        }
    }

    /// Points delivery at `url`, keeping the other settings; pending deliveries to the old
    /// URL are abandoned.
    pub fn set_url(&self, url: &str) {
        let mut config = self.config.lock().unwrap_or_else(|p| p.into_inner());
        let next = match config.take() {
            Some(c) => PushConfig {
                url: url.to_owned(),
                ..c
            },
            None => PushConfig::new(url),
        };
        *self.pusher.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Pusher::start(next.clone(), acknowledged));
        *config = Some(next);
    }

    pub fn stats(&self) -> PushStats {
        self.pusher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(Pusher::stats)
            .unwrap_or_default()
    }

    pub fn pusher(&self) -> Option<Pusher> {
        self.pusher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn rules(&self) -> &[OutboundRule] {
        &self.rules
    }

    /// Turns committed changes into messages and queues them. Without a webhook URL,
    /// nothing is sent (as with an outbound message whose endpoint is unset).
    pub fn dispatch(
        &self,
        org: &OrgInfo<'_>,
        store: &mut Store,
        changes: &[Change],
        session: &mut dyn FnMut() -> String,
    ) {
        let Some(pusher) = self.pusher() else {
            return;
        };
        for (index, rule) in self.rules.iter().enumerate() {
            let Some(object) = Schema::get().object(&rule.object) else {
                continue;
            };
            let mut records: Vec<Record> = Vec::new();
            for change in changes {
                let Some(now) = store.get(object, &change.id) else {
                    continue;
                };
                // One notification per record per batch of changes: only the latest values
                // are ever sent.
                if rule.fires(change, now) && !records.iter().any(|r| r.get("Id") == now.get("Id"))
                {
                    records.push(now.clone());
                }
            }
            for chunk in records.chunks(MAX_PER_MESSAGE) {
                let ids: Vec<String> = chunk.iter().map(|_| store.new_id("04l")).collect();
                let session_id = rule.send_session_id.then(&mut *session);
                let body = envelope(org, object, rule, index, chunk, &ids, session_id.as_deref());
                pusher.push(Delivery {
                    content_type: "text/xml; charset=utf-8".into(),
                    headers: vec![("SOAPAction".into(), "\"\"".into())],
                    body,
                });
            }
        }
    }
}

fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

fn envelope(
    org: &OrgInfo<'_>,
    object: &ObjectDef,
    rule: &OutboundRule,
    rule_index: usize,
    records: &[Record],
    notification_ids: &[String],
    session_id: Option<&str>,
) -> String {
    let org15 = &org.org_id[..15.min(org.org_id.len())];
    let action_id = make_id("04k", rule_index as u64 + 1);
    let session = match session_id {
        Some(s) => format!("<SessionId>{}</SessionId>", escape(s)),
        None => "<SessionId xsi:nil=\"true\"/>".to_owned(),
    };
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n");
    out.push_str(" <soapenv:Body>\n");
    out.push_str("  <notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\">\n");
    out.push_str(&format!(
        "   <OrganizationId>{}</OrganizationId>\n",
        org.org_id
    ));
    out.push_str(&format!("   <ActionId>{action_id}</ActionId>\n"));
    out.push_str(&format!("   {session}\n"));
    out.push_str(&format!(
        "   <EnterpriseUrl>{}/services/Soap/c/62.0/{org15}</EnterpriseUrl>\n",
        escape(org.base_url)
    ));
    out.push_str(&format!(
        "   <PartnerUrl>{}/services/Soap/u/62.0/{org15}</PartnerUrl>\n",
        escape(org.base_url)
    ));
    for (rec, nid) in records.iter().zip(notification_ids) {
        out.push_str("   <Notification>\n");
        out.push_str(&format!("    <Id>{nid}</Id>\n"));
        out.push_str(&format!(
            "    <sObject xsi:type=\"sf:{}\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">\n",
            object.name
        ));
        for field in &object.fields {
            let wanted = field.name == "Id"
                || rule.fields.is_empty()
                || rule
                    .fields
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(field.name));
            if !wanted {
                continue;
            }
            let Some(text) = rec.get(field.name).and_then(|v| to_soap_text(field, v)) else {
                continue;
            };
            out.push_str(&format!(
                "     <sf:{0}>{1}</sf:{0}>\n",
                field.name,
                escape(&text)
            ));
        }
        out.push_str("    </sObject>\n");
        out.push_str("   </Notification>\n");
    }
    out.push_str("  </notifications>\n");
    out.push_str(" </soapenv:Body>\n");
    out.push_str("</soapenv:Envelope>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_need_status_200_and_ack_true() {
        let ok = r#"<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#;
        assert!(acknowledged(200, ok));
        assert!(!acknowledged(500, ok));
        assert!(!acknowledged(200, &ok.replace("true", "false")));
        assert!(!acknowledged(200, "OK"));
        assert!(acknowledged(200, "<x:Ack xmlns:x=\"urn:a\"> true </x:Ack>"));
    }

    #[test]
    fn becomes_fires_only_on_the_transition() {
        let rule = &OutboundRule::standard()[0];
        let mut won = Record::new();
        won.insert("IsWon".into(), Value::Bool(true));
        let mut open = Record::new();
        open.insert("IsWon".into(), Value::Bool(false));
        let change = |before: Option<Record>| Change {
            object: "Opportunity",
            id: String::new(),
            before,
        };
        assert!(rule.fires(&change(Some(open.clone())), &won));
        assert!(rule.fires(&change(None), &won));
        assert!(!rule.fires(&change(Some(won.clone())), &won));
        assert!(!rule.fires(&change(Some(open.clone())), &open));
    }
}
