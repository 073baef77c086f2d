//! Outbound Messages: the SOAP `notifications` envelope Salesforce posts to our webhook, and
//! the `Ack` it expects back.
//!
//! The body is untrusted input, read with the workspace's one hardened XML reader
//! ([`lf_xml`]): it is size-capped before parsing; a DOCTYPE is refused outright, so no DTD,
//! internal entity or external entity is ever read; only the five predefined entities and
//! character references are resolved; nesting depth and the number of notifications are
//! capped while the body is read, so an oversized message stops the parse instead of being
//! built first. Elements are matched by namespace URI, never by prefix.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lf_domain::{
    ChangeEnvelope, Classify, CorrelationId, ErrorClass, EventOrigin, Flow, RecordRef, SalesforceId,
};
use lf_xml::{XmlElement, XmlError, XmlLimits, parse_document_with};
use secrecy::SecretString;

const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const OUTBOUND_NS: &str = "http://soap.sforce.com/2005/09/outbound";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
const ENTERPRISE_NS: &str = "urn:sobject.enterprise.soap.sforce.com";

/// Salesforce sends at most this many notifications per message.
pub const MAX_NOTIFICATIONS: usize = 100;
/// Deeper than any real envelope (Envelope/Body/notifications/Notification/sObject/field = 6).
const MAX_DEPTH: usize = 16;

/// The body of the response that tells Salesforce a message was received.
pub const ACK_RESPONSE: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">"#,
    r#"<soapenv:Body>"#,
    r#"<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">"#,
    r#"<Ack>true</Ack>"#,
    r#"</notificationsResponse>"#,
    r#"</soapenv:Body>"#,
    r#"</soapenv:Envelope>"#
);

/// The content type of [`ACK_RESPONSE`].
pub const ACK_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// The response body acknowledging a message (always `true`: refuse with an HTTP error
/// instead, and Salesforce retries).
pub fn ack_response() -> &'static str {
    ACK_RESPONSE
}

/// Limits on what the parser accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundLimits {
    pub max_body_bytes: usize,
    pub max_notifications: usize,
}

impl Default for OutboundLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_notifications: MAX_NOTIFICATIONS,
        }
    }
}

/// Why a body was refused. All are permanent: the same body fails the same way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("body is {size} bytes; the limit is {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("body is not UTF-8 text")]
    NotUtf8,
    #[error("a DOCTYPE is not accepted (no DTDs, no entity declarations)")]
    Doctype,
    #[error("entity reference &{0}; is not allowed; only the predefined XML entities are")]
    Entity(String),
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("elements nest deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("not an Outbound Message envelope: {0}")]
    NotAnEnvelope(String),
    #[error("more than {limit} notifications")]
    TooManyNotifications { limit: usize },
    #[error("the message carries no notification")]
    NoNotifications,
    #[error("{element} is missing")]
    Missing { element: String },
    #[error("{element} holds {value:?}, which is not valid: {reason}")]
    Invalid {
        element: String,
        value: String,
        reason: String,
    },
}

impl Classify for OutboundError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

/// A parsed Outbound Message.
#[derive(Debug, Clone)]
pub struct OutboundMessage {
    /// The sending org; check it against the allow-list.
    pub organization_id: SalesforceId,
    /// The outbound message definition that fired.
    pub action_id: String,
    /// Present only when "Send Session ID" is ticked; never logged.
    pub session_id: Option<SecretString>,
    pub enterprise_url: Option<String>,
    pub partner_url: Option<String>,
    pub notifications: Vec<Notification>,
}

impl OutboundMessage {
    /// Whether the message came from `org` (15- and 18-character forms compare equal).
    pub fn is_from_org(&self, org: &SalesforceId) -> bool {
        &self.organization_id == org
    }
}

/// One notification: a record and the values of the fields the definition selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The notification id: the dedupe key (deliveries are at least once).
    pub notification_id: String,
    /// The sObject type from `xsi:type` (`Opportunity`).
    pub object_type: String,
    pub record_id: SalesforceId,
    /// Field values as sent (SOAP text: `45000.0`, `2020-07-11`, `false`); `None` for
    /// `xsi:nil`. `Id` is included.
    pub fields: BTreeMap<String, Option<String>>,
}

impl Notification {
    /// The dedupe key of this delivery.
    pub fn dedupe_key(&self) -> &str {
        &self.notification_id
    }

    /// A field's value; `None` when absent or nil.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(|v| v.as_deref())
    }

    /// The record's modification time from `SystemModstamp`, else `LastModifiedDate`.
    pub fn modified_at(&self) -> Option<DateTime<Utc>> {
        ["SystemModstamp", "LastModifiedDate"]
            .iter()
            .filter_map(|f| self.field(f))
            .find_map(|v| lf_domain::datetime::parse_datetime(v).ok())
            .map(|t| t.to_utc())
    }

    /// The queue message for `flow`: a hint naming the record, deduplicated by notification id.
    pub fn to_change_envelope(
        &self,
        flow: Flow,
        correlation_id: CorrelationId,
        received_at: DateTime<Utc>,
    ) -> ChangeEnvelope {
        ChangeEnvelope {
            v: ChangeEnvelope::VERSION,
            flow,
            record: RecordRef::salesforce(&self.object_type, &self.record_id),
            origin: EventOrigin::OutboundMessage {
                notification_id: self.notification_id.clone(),
            },
            modified_at: self.modified_at(),
            correlation_id,
            received_at,
        }
    }
}

impl From<XmlError> for OutboundError {
    fn from(e: XmlError) -> Self {
        match e {
            XmlError::TooLarge { size, limit } => OutboundError::TooLarge { size, limit },
            XmlError::NotUtf8 => OutboundError::NotUtf8,
            XmlError::DocType => OutboundError::Doctype,
            XmlError::UnknownEntity(name) => OutboundError::Entity(name),
            XmlError::TooDeep { .. } => OutboundError::TooDeep,
            XmlError::NoRoot => OutboundError::NotAnEnvelope("the body is empty".into()),
            other => OutboundError::Malformed(other.to_string()),
        }
    }
}

/// A field's value: its trimmed text, `None` when `xsi:nil` says it has none.
fn value(el: &XmlElement) -> Option<String> {
    let nil = el
        .attribute_ns(XSI_NS, "nil")
        .is_some_and(|v| matches!(v.trim(), "true" | "1"));
    (!nil).then(|| el.text().trim().to_owned())
}

/// The local part of `xsi:type` (`sf:Opportunity` → `Opportunity`): the prefix belongs to
/// the QName, only the local part names the sObject type.
fn xsi_type(el: &XmlElement) -> Option<String> {
    el.attribute_ns(XSI_NS, "type")
        .map(|v| v.rsplit(':').next().unwrap_or_default().to_owned())
}

/// Reads the whole body into a tree with the shared hardened reader, capped at
/// `max_body_bytes` and [`MAX_DEPTH`], and stopping at the first notification past
/// `max_notifications` so the rest of an oversized message is never built.
fn read_envelope(
    body: &[u8],
    max_body_bytes: usize,
    max_notifications: usize,
) -> Result<XmlElement, OutboundError> {
    let limits = XmlLimits {
        max_bytes: max_body_bytes,
        max_depth: MAX_DEPTH,
        max_elements: XmlLimits::DEFAULT.max_elements,
    };
    let mut notifications = 0;
    parse_document_with(body, &limits, |parent, el| {
        if el.is(OUTBOUND_NS, "Notification")
            && parent.is_some_and(|p| p.is(OUTBOUND_NS, "notifications"))
        {
            notifications += 1;
            if notifications > max_notifications {
                return Err(OutboundError::TooManyNotifications {
                    limit: max_notifications,
                });
            }
        }
        Ok(())
    })
}

/// Parses an Outbound Message body.
pub fn parse_outbound_message(
    body: &[u8],
    limits: &OutboundLimits,
) -> Result<OutboundMessage, OutboundError> {
    let root = read_envelope(
        body,
        limits.max_body_bytes,
        limits.max_notifications.min(MAX_NOTIFICATIONS),
    )?;
    if !root.is(SOAP_ENV_NS, "Envelope") {
        return Err(OutboundError::NotAnEnvelope(format!(
            "the root is {{{}}}{}, not a SOAP 1.1 Envelope",
            root.qualified_name().namespace().unwrap_or(""),
            root.qualified_name().local()
        )));
    }
    let body = root
        .find_ns(SOAP_ENV_NS, "Body")
        .ok_or_else(|| OutboundError::NotAnEnvelope("no SOAP Body".into()))?;
    let n = body.find_ns(OUTBOUND_NS, "notifications").ok_or_else(|| {
        OutboundError::NotAnEnvelope(format!("no {{{OUTBOUND_NS}}}notifications in the Body"))
    })?;

    let required = |name: &str| -> Result<String, OutboundError> {
        n.find_ns(OUTBOUND_NS, name)
            .and_then(value)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| OutboundError::Missing {
                element: name.to_owned(),
            })
    };
    let optional = |name: &str| {
        n.find_ns(OUTBOUND_NS, name)
            .and_then(value)
            .filter(|v| !v.is_empty())
    };
    let org = required("OrganizationId")?;
    let organization_id = SalesforceId::parse(&org).map_err(|e| OutboundError::Invalid {
        element: "OrganizationId".into(),
        value: org.clone(),
        reason: e.to_string(),
    })?;
    let action_id = required("ActionId")?;

    // The count was capped while reading.
    let notification_elements: Vec<&XmlElement> =
        n.find_all_ns(OUTBOUND_NS, "Notification").collect();
    if notification_elements.is_empty() {
        return Err(OutboundError::NoNotifications);
    }
    let notifications = notification_elements
        .into_iter()
        .enumerate()
        .map(|(i, el)| notification(i, el))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(OutboundMessage {
        organization_id,
        action_id,
        session_id: optional("SessionId").map(SecretString::from),
        enterprise_url: optional("EnterpriseUrl"),
        partner_url: optional("PartnerUrl"),
        notifications,
    })
}

fn notification(index: usize, el: &XmlElement) -> Result<Notification, OutboundError> {
    let at = |what: &str| format!("Notification[{index}]/{what}");
    let notification_id = el
        .find_ns(OUTBOUND_NS, "Id")
        .and_then(value)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OutboundError::Missing { element: at("Id") })?;
    let sobject = el
        .find_ns(OUTBOUND_NS, "sObject")
        .ok_or_else(|| OutboundError::Missing {
            element: at("sObject"),
        })?;
    let object_type =
        xsi_type(sobject)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OutboundError::Missing {
                element: at("sObject/@xsi:type"),
            })?;
    if crate::request::check_api_name("object", &object_type).is_err() {
        return Err(OutboundError::Invalid {
            element: at("sObject/@xsi:type"),
            value: object_type,
            reason: "not an sObject API name".into(),
        });
    }
    let mut fields = BTreeMap::new();
    for f in sobject.children() {
        let name = f.qualified_name();
        let field = at(&format!("sObject/{}", name.local()));
        if name.namespace() != Some(ENTERPRISE_NS) {
            return Err(OutboundError::Invalid {
                element: field,
                value: name.namespace().unwrap_or_default().to_owned(),
                reason: format!("sObject fields must be in namespace {ENTERPRISE_NS}"),
            });
        }
        if !f.children().is_empty() {
            return Err(OutboundError::Invalid {
                element: field,
                value: String::new(),
                reason: "a field value cannot contain elements".into(),
            });
        }
        if fields.insert(name.local().to_owned(), value(f)).is_some() {
            return Err(OutboundError::Invalid {
                element: field,
                value: String::new(),
                reason: "the field appears twice".into(),
            });
        }
    }
    let raw_id = fields
        .get("Id")
        .cloned()
        .flatten()
        .ok_or_else(|| OutboundError::Missing {
            element: at("sObject/Id"),
        })?;
    let record_id = SalesforceId::parse(&raw_id).map_err(|e| OutboundError::Invalid {
        element: at("sObject/Id"),
        value: raw_id.clone(),
        reason: e.to_string(),
    })?;
    Ok(Notification {
        notification_id,
        object_type,
        record_id,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    /// Our own fixture in the documented format: two notifications, one field nil, the `sf`
    /// namespace bound to an unusual prefix on the second.
    const TWO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D000000000001EAA</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://demo.my.salesforce.com/services/Soap/c/62.0/00D000000000001</EnterpriseUrl>
   <PartnerUrl>https://demo.my.salesforce.com/services/Soap/u/62.0/00D000000000001</PartnerUrl>
   <Notification>
    <Id>04l000000000001AAA</Id>
    <sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>006000000000001AAA</sf:Id>
     <sf:Amount>1250.0</sf:Amount>
     <sf:Name>Tom &amp; Jerry&#39;s &lt;deal&gt;</sf:Name>
     <sf:IsWon>true</sf:IsWon>
     <sf:CloseDate xsi:nil="true"/>
     <sf:Description></sf:Description>
     <sf:SystemModstamp>2026-02-03T04:05:06.000Z</sf:SystemModstamp>
    </sObject>
   </Notification>
   <Notification>
    <Id>04l000000000002AAA</Id>
    <sObject xmlns:q1="urn:sobject.enterprise.soap.sforce.com" xsi:type="q1:Account">
     <q1:Id>001000000000001</q1:Id>
     <q1:Name><![CDATA[Acme <EU>]]></q1:Name>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#;

    fn parse(body: &str) -> Result<OutboundMessage, OutboundError> {
        parse_outbound_message(body.as_bytes(), &OutboundLimits::default())
    }

    #[test]
    fn parses_a_well_formed_message() {
        let m = parse(TWO).unwrap();
        assert_eq!(m.organization_id.as_str(), "00D000000000001EAA");
        assert!(m.is_from_org(&SalesforceId::parse("00D000000000001").unwrap()));
        assert_eq!(m.action_id, "04k000000000001AAA");
        assert!(m.session_id.is_none());
        assert_eq!(m.notifications.len(), 2);

        let opp = &m.notifications[0];
        assert_eq!(opp.dedupe_key(), "04l000000000001AAA");
        assert_eq!(opp.object_type, "Opportunity");
        assert_eq!(opp.record_id.as_str(), "006000000000001AAA");
        assert_eq!(opp.field("Amount"), Some("1250.0"));
        assert_eq!(opp.field("Name"), Some("Tom & Jerry's <deal>"));
        assert_eq!(opp.fields.get("CloseDate"), Some(&None));
        assert_eq!(opp.fields.get("Description"), Some(&Some(String::new())));
        assert_eq!(
            opp.modified_at().unwrap().to_rfc3339(),
            "2026-02-03T04:05:06+00:00"
        );

        let acc = &m.notifications[1];
        assert_eq!(acc.object_type, "Account");
        assert_eq!(acc.record_id.as_str(), "001000000000001AAA");
        assert_eq!(acc.field("Name"), Some("Acme <EU>"));
    }

    #[test]
    fn modified_at_reads_every_salesforce_offset_style() {
        let with = |stamp: &str| {
            let body = TWO.replace("2026-02-03T04:05:06.000Z", stamp);
            parse(&body).unwrap().notifications[0].modified_at()
        };
        let want = DateTime::parse_from_rfc3339("2026-02-03T04:05:06Z")
            .unwrap()
            .to_utc();
        // REST writes `+0000` (no colon); SOAP writes `Z`; both are the same instant.
        for stamp in [
            "2026-02-03T04:05:06.000+0000",
            "2026-02-03T05:05:06+01:00",
            "2026-02-03T04:05:06Z",
        ] {
            assert_eq!(with(stamp), Some(want), "{stamp}");
        }
        assert_eq!(with("yesterday"), None);
    }

    #[test]
    fn prefixes_do_not_matter_namespaces_do() {
        let renamed = TWO
            .replace("soapenv:", "S:")
            .replace("xmlns:soapenv=", "xmlns:S=")
            .replace(
                r#"<notifications xmlns="http://soap.sforce.com/2005/09/outbound">"#,
                r#"<o:notifications xmlns:o="http://soap.sforce.com/2005/09/outbound">"#,
            )
            .replace("</notifications>", "</o:notifications>")
            .replace("<OrganizationId>", "<o:OrganizationId>")
            .replace("</OrganizationId>", "</o:OrganizationId>")
            .replace("<ActionId>", "<o:ActionId>")
            .replace("</ActionId>", "</o:ActionId>")
            .replace("<Notification>", "<o:Notification>")
            .replace("</Notification>", "</o:Notification>")
            .replace("<Id>04l", "<o:Id>04l")
            .replace("AAA</Id>\n    <sObject", "AAA</o:Id>\n    <o:sObject")
            .replace("</sObject>", "</o:sObject>");
        let m = parse(&renamed).unwrap();
        assert_eq!(m.notifications.len(), 2);
        assert_eq!(m.notifications[0].field("IsWon"), Some("true"));

        // The right local names in the wrong namespace are not an Outbound Message.
        let wrong = TWO.replace(
            "http://soap.sforce.com/2005/09/outbound",
            "http://example.com/other",
        );
        assert!(matches!(
            parse(&wrong),
            Err(OutboundError::NotAnEnvelope(_))
        ));
    }

    #[test]
    fn session_id_is_kept_secret() {
        let with_session = TWO.replace(
            r#"<SessionId xsi:nil="true"/>"#,
            "<SessionId>00D!session-value</SessionId>",
        );
        let m = parse(&with_session).unwrap();
        assert_eq!(
            m.session_id.as_ref().unwrap().expose_secret(),
            "00D!session-value"
        );
        assert!(!format!("{m:?}").contains("session-value"));
    }

    #[test]
    fn builds_a_change_envelope_and_the_ack() {
        let m = parse(TWO).unwrap();
        let received = DateTime::parse_from_rfc3339("2026-02-03T04:05:07Z")
            .unwrap()
            .to_utc();
        let env = m.notifications[0].to_change_envelope(
            Flow::OpportunityWon,
            CorrelationId::parse("corr-1").unwrap(),
            received,
        );
        assert_eq!(
            env.record.to_string(),
            "salesforce/Opportunity/006000000000001AAA"
        );
        assert_eq!(
            env.origin,
            EventOrigin::OutboundMessage {
                notification_id: "04l000000000001AAA".into()
            }
        );
        assert_eq!(env.modified_at, m.notifications[0].modified_at());
        assert!(ack_response().contains("<Ack>true</Ack>"));
        // The Ack is itself a valid envelope in the outbound namespace.
        let ack = read_envelope(ack_response().as_bytes(), 1 << 20, MAX_NOTIFICATIONS).unwrap();
        let resp = ack
            .find_ns(SOAP_ENV_NS, "Body")
            .unwrap()
            .find_ns(OUTBOUND_NS, "notificationsResponse")
            .unwrap();
        assert_eq!(resp.find_ns(OUTBOUND_NS, "Ack").unwrap().text(), "true");
    }

    #[test]
    fn refuses_doctypes_and_entities() {
        let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&lol2;</soapenv:Body></soapenv:Envelope>"#;
        assert_eq!(parse(billion_laughs).unwrap_err(), OutboundError::Doctype);

        let external = r#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"#;
        assert_eq!(parse(external).unwrap_err(), OutboundError::Doctype);

        let public_dtd =
            r#"<!DOCTYPE Envelope PUBLIC "-//x//y" "http://example.com/evil.dtd"><a/>"#;
        assert_eq!(parse(public_dtd).unwrap_err(), OutboundError::Doctype);

        // An undeclared entity used without a DOCTYPE is refused by name, not expanded.
        let undeclared = TWO.replace("Tom &amp; Jerry", "Tom &xxe; Jerry");
        assert_eq!(
            parse(&undeclared).unwrap_err(),
            OutboundError::Entity("xxe".into())
        );
    }

    #[test]
    fn refuses_oversized_bodies_before_parsing() {
        let limits = OutboundLimits {
            max_body_bytes: 512,
            max_notifications: 100,
        };
        let err = parse_outbound_message(TWO.as_bytes(), &limits).unwrap_err();
        assert_eq!(
            err,
            OutboundError::TooLarge {
                size: TWO.len(),
                limit: 512
            }
        );
        assert!(err.to_string().contains("limit is 512"));
    }

    fn with_notifications(n: usize) -> String {
        let one = r#"<Notification><Id>04l000000000001AAA</Id><sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>001000000000001AAA</sf:Id></sObject></Notification>"#;
        format!(
            r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D000000000001EAA</OrganizationId><ActionId>04k000000000001AAA</ActionId>{}</notifications></soapenv:Body></soapenv:Envelope>"#,
            one.repeat(n)
        )
    }

    #[test]
    fn caps_the_notification_count() {
        assert_eq!(
            parse(&with_notifications(100)).unwrap().notifications.len(),
            100
        );
        assert_eq!(
            parse(&with_notifications(101)).unwrap_err(),
            OutboundError::TooManyNotifications { limit: 100 }
        );
        // The cap stops the read at the first notification too many: what follows (here a
        // body cut short) is never parsed.
        let cut = with_notifications(150);
        let cut = &cut[..cut.len() - 40];
        assert_eq!(
            parse(cut).unwrap_err(),
            OutboundError::TooManyNotifications { limit: 100 }
        );
        assert_eq!(
            parse(&with_notifications(0)).unwrap_err(),
            OutboundError::NoNotifications
        );
        let tight = OutboundLimits {
            max_body_bytes: 1 << 20,
            max_notifications: 2,
        };
        assert_eq!(
            parse_outbound_message(with_notifications(3).as_bytes(), &tight).unwrap_err(),
            OutboundError::TooManyNotifications { limit: 2 }
        );
    }

    #[test]
    fn malformed_bodies_get_clear_errors() {
        let cases: Vec<(&str, String)> = vec![
            ("empty", String::new()),
            ("not xml", "hello".into()),
            ("truncated", TWO[..TWO.len() / 2].to_owned()),
            ("mismatched tags", TWO.replace("</sf:Amount>", "</sf:Amnt>")),
            ("json", r#"{"notifications": []}"#.into()),
            (
                "undeclared prefix",
                TWO.replace(r#" xmlns:sf="urn:sobject.enterprise.soap.sforce.com""#, ""),
            ),
            ("two roots", format!("{TWO}<extra/>")),
            ("wrong root", "<Envelope/>".into()),
            (
                "missing org",
                TWO.replace("<OrganizationId>00D000000000001EAA</OrganizationId>", ""),
            ),
            (
                "bad org id",
                TWO.replace("00D000000000001EAA</Org", "not-an-id</Org"),
            ),
            (
                "missing action",
                TWO.replace("<ActionId>04k000000000001AAA</ActionId>", ""),
            ),
            (
                "missing notification id",
                TWO.replace("<Id>04l000000000002AAA</Id>", ""),
            ),
            ("missing type", TWO.replace(r#" xsi:type="q1:Account""#, "")),
            (
                "missing record id",
                TWO.replace("<q1:Id>001000000000001</q1:Id>", ""),
            ),
            (
                "bad record id",
                TWO.replace("<q1:Id>001000000000001</q1:Id>", "<q1:Id>001'--</q1:Id>"),
            ),
            (
                "nested field",
                TWO.replace(
                    "<sf:IsWon>true</sf:IsWon>",
                    "<sf:IsWon><sf:x>1</sf:x></sf:IsWon>",
                ),
            ),
            (
                "duplicate field",
                TWO.replace(
                    "<sf:IsWon>true</sf:IsWon>",
                    "<sf:IsWon>true</sf:IsWon><sf:IsWon>false</sf:IsWon>",
                ),
            ),
            (
                "foreign field namespace",
                TWO.replace(
                    "urn:sobject.enterprise.soap.sforce.com\">\n     <sf:Id>",
                    "urn:evil\">\n     <sf:Id>",
                ),
            ),
            (
                "latin-1 declared",
                TWO.replace(r#"encoding="UTF-8""#, r#"encoding="ISO-8859-1""#),
            ),
        ];
        for (name, body) in cases {
            let err = parse(&body).expect_err(name);
            assert!(!err.to_string().is_empty(), "{name}");
            assert_eq!(err.class(), ErrorClass::Permanent, "{name}");
        }
        assert_eq!(
            parse_outbound_message(&[0xff, 0xfe, 0x00], &OutboundLimits::default()).unwrap_err(),
            OutboundError::NotUtf8
        );
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = format!("{}{}", "<a>".repeat(200), "</a>".repeat(200));
        assert_eq!(parse(&deep).unwrap_err(), OutboundError::TooDeep);
    }
}
